"""Pinned edges of the QEMU view that the large mutation sample found unpinned
(docs/testing.md). Field layouts: gic-domain.md §5.2 and §5.5 (arm_gic vmstate, 8 CPU
slots, kvm-arm-gic setting SGI enables of the existing vCPUs only).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_pinned_qemu import _pending_spi, _target, refused, run
from test_qemu_support import PAGE, GicImage, be32, be64, stream, stream_parts

from gicmig.core.config import GicConfig
from gicmig.core.model import GicState
from gicmig.errors import GicmigError
from gicmig.views.qemu import source, vmdesc
from gicmig.views.qemu.accel import evidence, slots_in_use
from gicmig.views.qemu.encode_tcg import QemuUnrepresentable, fit_tcg
from gicmig.views.qemu.raw import RawImage
from gicmig.views.qemu.stream import read_arm_gic
from gicmig.views.qemu.vmstate import NCPU, ArmGicSection


def raw(gic: GicImage) -> RawImage:
    img = RawImage.blank(gic.virt is not None)
    img.decode(ArmGicSection(bytes(gic.main), None if gic.virt is None else bytes(gic.virt),
                             10, 0, 0, None, "framing"))
    return img


def test_cpu_slots_in_use_count_from_zero() -> None:
    """No CPU slot holds state: 0 slots in use, and no "0xff with N slots" evidence."""
    empty = raw(GicImage(0, virt=False))
    assert slots_in_use(empty) == 0
    assert not any("CPU slot" in e for e in evidence(empty)["tcg"])
    assert [slots_in_use(raw(GicImage(n, virt=False))) for n in (1, 2, 8)] == [1, 2, 8]
    one = GicImage(0, virt=False).set("priority_mask", 5, 0xF0)  # only slot 5: six slots in use
    assert slots_in_use(raw(one)) == 6


def test_a_partial_spi_cpu_mask_is_tcg_evidence() -> None:
    """kvm-arm-gic writes SPI pending/active masks 0x00 or 0xff (§5.5); TCG's are CPU masks."""
    base = evidence(raw(GicImage.kvm(2)))["tcg"]
    for name in ("pending", "active"):
        gic = GicImage.kvm(2).irq(40, **{name: 0x01}).irq(41, **{name: 0xFF})
        assert evidence(raw(gic))["tcg"] == [*base, f"irq 40 (SPI 8) {name} mask 0x01 "
                                                    "(not 0x00/0xff)"]
        gic = GicImage.kvm(2).irq(41, **{name: 0xFF})
        assert evidence(raw(gic))["tcg"] == base


@pytest.mark.parametrize("given", [0, 9])
def test_num_cpus_outside_1_to_8_is_refused_as_such(given: int) -> None:
    msg = refused(GicImage(), "QEMU-NUM-CPUS-MISMATCH", num_cpus=given)
    assert msg == f"QEMU-NUM-CPUS-MISMATCH --num-cpus {given} is not in 1..8"


@pytest.mark.parametrize(("machine_irqs", "intid"), [(64, 64), (64, 100), (288, 288)])
def test_a_priority_beyond_num_irqs_is_refused_by_its_id(machine_irqs: int, intid: int) -> None:
    """priority2 holds IDs 32..1019: the first ID past num_irqs is already refused, named
    even when an SPI below it has a priority too."""
    gic = GicImage().set("priority2", 0, 0x40).set("priority2", intid - 32, 0x80)
    msg = refused(gic, "QEMU-IRQ-BEYOND-NUM-IRQS", machine=None, num_irqs=machine_irqs)
    assert msg.startswith(f"QEMU-IRQ-BEYOND-NUM-IRQS irq {intid} (SPI {intid - 32}): priority set")


def test_a_priority_on_the_last_id_is_taken() -> None:
    gic = GicImage().set("priority2", 63 - 32, 0x80)
    st = run(gic, machine=None, num_irqs=64)
    assert st.shared.priority[31] == 0x80


@pytest.mark.parametrize("name", ["enabled", "group"])
def test_a_partial_spi_mask_is_named_alone(name: str) -> None:
    """SPI enabled/group masks are 0x00 or 0xff in both devices (§5.2, §5.5); only the SPI
    with another value is named, not the SPIs at 0x00 or 0xff around it."""
    gic = GicImage().irq(40, **{name: 0x01}).irq(41, **{name: 0xFF})
    msg = refused(gic, "QEMU-VALUE-IMPOSSIBLE")
    assert msg.startswith(f"QEMU-VALUE-IMPOSSIBLE irq 40 (SPI 8): the SPI {name} mask is "
                          "neither 0x00 nor 0xff")


# --- export: what the TCG GIC holds -------------------------------------------------------------
def _tcg_virt(num_cpus: int = 1) -> tuple[GicState, GicConfig]:
    cfg = GicConfig(num_cpus, 288, priority_bits=8, min_bpr=0, sgi_enables_rao_wi=True,
                    ppi_trigger_programmable=True, num_lrs=4, virtual_priority_bits=5,
                    virtual_preemption_bits=5)  # QEMU 7.2 virt, TCG, virtualization=on
    return GicState.reset(cfg), cfg


@pytest.mark.parametrize(("hcr", "line"), [(0x0, 0), (0x3, 1)])
def test_maintenance_line_follows_the_gich_and_spares_the_other_ppis(hcr: int,
                                                                      line: int) -> None:
    """The virt board wires GICH maintenance to PPI 25 (ID 25): its line level is what HCR
    and MISR drive (HCR 0x3 = En + UIE with no valid LR: MISR.U, line high). A wrong level
    is a loss (strict export refuses it); lenient export sets it, other PPI lines kept."""
    st, cfg = _tcg_virt()
    st.virtual[0].hcr = hcr
    b = st.banked[0]
    b.line_level = (1 - line) << 25 | 1 << 27 | 1 << 30
    with pytest.raises(QemuUnrepresentable) as info:
        fit_tcg(st, cfg)
    assert [v.code for v in info.value.violations] == ["QEMU-EXPORT-MAINTENANCE-LEVEL"]
    fitted, losses = fit_tcg(st, cfg, lenient=True)
    assert [(v.code, v.path) for v in losses] == [
        ("QEMU-EXPORT-MAINTENANCE-LEVEL", "cpu0 irq 25 (PPI 9)")]
    assert fitted.banked[0].line_level == line << 25 | 1 << 27 | 1 << 30
    b.line_level = line << 25 | 1 << 27
    assert fit_tcg(st, cfg)[1] == []


@pytest.mark.parametrize(("bits", "ok"), [(9, False), (10, True), (16, True), (17, False)])
def test_target_page_bits_are_armv7_and_armv8_page_sizes(bits: int, ok: bool) -> None:
    """ARM's TARGET_PAGE_BITS: 10 (1 KiB, TARGET_PAGE_BITS_MIN) up to 16 (64 KiB) (literal
    edges; test_hostile_memory.py holds the allocation side)."""
    from test_hostile_memory import _with_page_bits

    from gicmig.views.qemu.stream import read_arm_gic

    data = io.BytesIO(_with_page_bits(bits))
    if not ok:
        with pytest.raises(GicmigError) as info:
            read_arm_gic(data)
        assert (info.value.code, f"target-page-bits is {bits}" in info.value.message) == (
            "QEMU-FRAMING", True)
        return
    try:
        read_arm_gic(data)
    except GicmigError as exc:  # 1 KiB pages contradict the synthetic stream's 4 KiB records
        assert "target-page-bits" not in exc.message


def test_kvm_last_spi_edge_is_read() -> None:
    """kvm-arm-gic: a latched SPI is split (latch OR line unknown) only if it is level; the
    last SPI of virt (ID 287) edge-triggered and pending is a plain latch."""
    gic = GicImage.kvm(2).irq(287, pending=0xFF, edge=1).irq(286, pending=0xFF)
    gic.main[_target(287)] = gic.main[_target(286)] = 0x01
    sh = run(gic, accel="kvm").shared
    assert sh.pending_latch == 0b11 << 254
    assert sh.pending_split_unknown == 1 << 254
    assert sh.edge == 1 << 255


# --- what a guest reads from QEMU's TCG GIC (views/qemu/registers.py) ---------------------------
def test_read_back_id_registers_are_qemus() -> None:
    """gic_dist_readb / gic_cpu_read: ARM (0x43b) as implementer; GICC_IIDR architecture
    version 2 in [19:16]."""
    from gicmig.views.qemu.registers import QEMU_GICC_IIDR, QEMU_GICD_IIDR, tcg_registers

    assert (QEMU_GICD_IIDR, QEMU_GICC_IIDR) == (0x0000_043B, 0x0002_043B)
    regs = tcg_registers(GicState.reset(GicConfig.qemu_virt(1)))
    assert (regs[("GICD", None, 0x008)], regs[("GICC", 0, 0xFC)]) == (0x43B, 0x0002_043B)


def test_read_back_apr_words_of_every_level() -> None:
    """GICC_APRn / GICC_NSAPRn: level L is bit L mod 32 of word L / 32 (levels 0, 31, 32,
    127: words 0, 0, 1, 3)."""
    from gicmig.views.qemu.registers import tcg_registers

    st = GicState.reset(GicConfig.qemu_virt(1))
    st.cpu[0].active_group0 = 1 << 0 | 1 << 31 | 1 << 32
    st.cpu[0].active_group1 = 1 << 127
    regs = tcg_registers(st)
    assert [regs[("GICC", 0, 0xD0 + 4 * n)] for n in range(4)] == [0x8000_0001, 1, 0, 0]
    assert [regs[("GICC", 0, 0xE0 + 4 * n)] for n in range(4)] == [0, 0, 0, 0x8000_0000]


@pytest.mark.parametrize(("group", "hppir"), [(0, 27), (1, 1022)])
def test_read_back_hppir_of_a_ppi_by_its_group(group: int, hppir: int) -> None:
    """GICC_HPPIR without AckCtl: the ID of a group 0 interrupt, 1022 for group 1."""
    from gicmig.views.qemu.registers import tcg_registers

    st = GicState.reset(GicConfig.qemu_virt(1))
    st.enable_grp0 = st.enable_grp1 = True
    b = st.banked[0]
    b.enabled, b.pending_latch, b.group = 0xFFFF | 1 << 27, 1 << 27, group << 27 | 1 << 26
    b.priority = bytes(27) + b"\x40"
    st.cpu[0].ctlr, st.cpu[0].pmr = 0x3, 0xF0
    assert tcg_registers(st)[("GICC", 0, 0x18)] == hppir


@pytest.mark.parametrize(("cpus", "slots"), [(1, 2), (3, 2)])
def test_template_of_another_cpu_count_names_both_counts(cpus: int, slots: int,
                                                         tmp_path: Path) -> None:
    from test_qemu_export import reset, tcg_template

    from gicmig.views.qemu.write import export_qemu

    with pytest.raises(GicmigError) as info:
        export_qemu(reset(cpus, virt=True), tcg_template(tmp_path, slots, True),
                    tmp_path / "out.mig")
    assert info.value.code == "QEMU-TEMPLATE-NUM-CPUS"
    assert info.value.message == (
        f"the state's GIC has {cpus} CPU interfaces, the template's has {slots} (its CPU "
        f"slots in use): use a template of a VM with -smp {cpus}")


def test_template_with_an_empty_cpu_slot_between_used_ones(tmp_path: Path) -> None:
    """Slots 0 and 2 in use, slot 1 empty: three slots in use, but no 3-CPU GIC."""
    from test_qemu_export import reset, write

    from gicmig.views.qemu.write import export_qemu

    gic = GicImage(3, virt=True)
    for name in ("running_priority", "current_pending", "abpr"):
        gic.set(name, 1, 0)
    for name in ("running_priority", "current_pending", "bpr", "abpr"):
        gic.vset(name, 1, 0)
    template = write(tmp_path, stream(gic.section()), "gap.mig")
    with pytest.raises(GicmigError) as info:
        export_qemu(reset(3, virt=True), template, tmp_path / "out.mig")
    assert info.value.code == "QEMU-TEMPLATE-NUM-CPUS"
    assert info.value.message.startswith("the template does not hold a 3-CPU GIC: ")


@pytest.mark.parametrize(("intid", "stale_ok"), [(15, False), (16, True)])
def test_a_stale_current_pending_behind_a_ppi_but_not_an_sgi(intid: int,
                                                             stale_ok: bool) -> None:
    """Deviation 19 (a HW=1 LR's virtual EOI deactivates without gic_update): a cached
    current_pending (SPI 40) behind a better pending interrupt is accepted when that one is
    a PPI (ID 16 up), never when it is an SGI (ID 15 down), which no HW=1 LR can carry."""
    gic = GicImage().set("ctlr", 0, 1).set("cpu_ctlr", 0, 1).set("priority_mask", 0, 0xF0)
    _pending_spi(gic, 40, 0x20)
    gic.irq(intid, enabled=0xFF, pending=0x01).set("priority1", intid * NCPU, 0x10)
    if intid < 16:
        gic.set("sgi_pending", intid * NCPU, 0x02)  # from CPU 1
    assert run(gic.set("current_pending", 0, intid)).import_report.normalized == ()
    gic.set("current_pending", 0, 40)
    if stale_ok:
        assert run(gic).import_report.normalized == ()
    else:
        assert refused(gic, "QEMU-CACHE-MISMATCH") == (
            "QEMU-CACHE-MISMATCH cpu0 current_pending: QEMU's cached value is 40, its own "
            "rules give 15 (--lenient: ignored: gicmig does not store QEMU's caches and "
            "recomputes them)")


def _with_device(fields: list[dict[str, object]], body: bytes) -> bytes:
    """A stream whose only device section before arm_gic is "dev" (section 3, version 1),
    `body` long and described in the vmdesc by `fields`."""
    parts = list(stream_parts(GicImage().section(), devices=False, vmdesc=False))
    dev = b"\x04" + be32(3) + b"\x03dev" + be32(0) + be32(1) + body + b"\x7e" + be32(3)
    doc = json.dumps({"page_size": 4096, "devices": [
        {"name": "dev", "instance_id": 0, "vmsd_name": "dev", "version": 1,
         "fields": fields}]}).encode()
    return b"".join([*parts[:-2], dev, *parts[-2:], b"\x06" + be32(len(doc)) + doc])


@pytest.mark.parametrize("empty", [{"name": "none", "array_len": 0, "type": "uint32", "size": 4},
                                   {"name": "none", "type": "buffer", "size": 0}])
def test_a_vmdesc_field_of_array_len_0_takes_no_bytes(empty: dict[str, object]) -> None:
    """A VMS_ARRAY of length 0 (a uint32 array, 4 bytes an element) or a field of size 0
    (an empty buffer) puts nothing on the wire: the walk skips the device's 8 bytes of the
    uint64 after it, and arm_gic is found through the vmdesc, right behind the device's
    footer."""
    plain = _with_device([{"name": "x", "type": "uint64", "size": 8}], bytes(8))
    data = _with_device([empty, {"name": "x", "type": "uint64", "size": 8}], bytes(8))
    found = read_arm_gic(io.BytesIO(data))
    assert (found.located_by, found.search_reason) == ("vmdesc", None)
    assert found.offset == read_arm_gic(io.BytesIO(plain)).offset == data.index(b"\x07arm_gic") - 5


class _ShortFirstRead(io.RawIOBase):
    """A pipe whose first read() gives only `first` bytes (as a pipe may), then the rest."""

    def __init__(self, data: bytes, first: int) -> None:
        self.data, self.first = data, first

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray) -> int:  # type: ignore[override]
        n = min(len(buf), len(self.data), self.first or len(buf))
        self.first = 0
        buf[:n], self.data = self.data[:n], self.data[n:]
        return n


def test_the_stream_header_is_8_bytes() -> None:
    """The header is the magic 'QEVM' and a be32 format version (QEMU_VM_FILE_MAGIC,
    QEMU_VM_FILE_VERSION 3): all 8 bytes are awaited however a pipe splits them, and a
    stream that ends inside them is truncated in the header, named as such."""
    data = stream(GicImage().section(), devices=False, vmdesc=False)
    for first in (4, 7, 8):
        assert read_arm_gic(_ShortFirstRead(data, first)).offset == \
            read_arm_gic(io.BytesIO(data)).offset
    with pytest.raises(GicmigError) as info:
        read_arm_gic(io.BytesIO(data[:7]))
    assert info.value.code == "QEMU-TRUNCATED"
    assert info.value.message == ("the stream ends at byte 7 inside the stream header "
                                  "(8 bytes needed from byte 0)")


@pytest.mark.parametrize(("bit", "flags"), [(0x100, "0x122"), (0x800, "0x822"),
                                            (0x1000, None)])
def test_a_zero_page_run_stops_at_a_flag_bit_above_the_low_byte(bit: int,
                                                                 flags: str | None) -> None:
    """A RAM record header is the page's offset OR'd with its flags: every bit below the
    target page size (4 KiB here) is a flag (ram_load: flags = addr & ~TARGET_PAGE_MASK).
    A zero-page record of a run carrying flag 0x100 (RAM_SAVE_FLAG_COMPRESS_PAGE) or 0x800
    is no plain zero page: the framing walk stops at it (and the header search finds the
    GIC); bit 12 is the page address, so that record is still a zero page of the run."""
    parts = list(stream_parts(GicImage().section(), devices=False, vmdesc=False))
    k = parts.index(be64(0x02) + b"\x0dmach-virt.ram\x00") + 5  # the 6th zero page
    assert parts[k] == be64(5 * PAGE | 0x22) + b"\x00"
    parts[k] = be64(5 * PAGE | 0x22 | bit) + b"\x00"
    data = b"".join(parts)
    found = read_arm_gic(io.BytesIO(data))
    assert found.offset == data.index(b"\x07arm_gic") - 5
    if flags is None:
        assert (found.located_by, found.search_reason) == ("framing", None)
    else:
        at = data.index(parts[k])
        assert (found.located_by, found.search_reason) == (
            "search", f"RAM record flags {flags} at byte {at} are not ones gicmig can walk")


# --- the stream window's refill boundary (gicmig.views.qemu.source, CHUNK 16 here) ----------
_DATA = bytes(range(256)) * 4


def _inputs(data: bytes) -> dict[str, io.RawIOBase | io.BytesIO]:
    """The same bytes as a seekable file (skip seeks) and as a pipe (skip reads)."""
    return {"file": io.BytesIO(data), "pipe": _ShortFirstRead(data, 0)}


@pytest.mark.parametrize("kind", ["file", "pipe"])
@pytest.mark.parametrize("step", [12, 13, 14, 16 + 13, 3 * 16 + 14])
def test_take_and_skip_ending_around_the_refill_boundary(monkeypatch: pytest.MonkeyPatch,
                                                         kind: str, step: int) -> None:
    """After take(3) the window holds bytes 3..15: a take or skip of 12, 13 or 14 bytes ends
    one before, exactly at or one after its end, longer ones chunks later; each lands on
    the right offset and the next bytes are the stream's own."""
    monkeypatch.setattr(source, "CHUNK", 16)
    for how in ("take", "skip"):
        inp = source.StreamInput(_inputs(_DATA)[kind])
        assert inp.take(3) == _DATA[:3] and len(inp.buf) == 16
        got = getattr(inp, how)(step)
        assert got == (_DATA[3:3 + step] if how == "take" else None)
        assert inp.offset == 3 + step
        assert inp.take(5) == _DATA[3 + step:8 + step]


@pytest.mark.parametrize("kind", ["file", "pipe"])
def test_skip_to_the_very_end_and_one_past_it(monkeypatch: pytest.MonkeyPatch,
                                              kind: str) -> None:
    monkeypatch.setattr(source, "CHUNK", 16)
    data = _DATA[:40]
    inp = source.StreamInput(_inputs(data)[kind])
    inp.take(3)
    inp.skip(37)  # ends exactly at the end of the stream
    assert (inp.offset, inp.peek()) == (40, None)
    inp = source.StreamInput(_inputs(data)[kind])
    inp.take(3)
    inp.skip(36)
    assert (inp.peek(), inp.offset) == (data[39], 39)  # the last byte is still there
    inp = source.StreamInput(_inputs(data)[kind])
    inp.take(3)
    inp.where = "a device section"
    with pytest.raises(GicmigError) as info:
        inp.skip(38)
    assert info.value.code == "QEMU-TRUNCATED"
    # the whole skip from where it started, as a take names its read: a file (which seeks
    # past the window) and a pipe (which reads on) alike
    assert info.value.message == ("the stream ends at byte 40 inside a device section "
                                  "(38 bytes needed from byte 3)")
    assert (info.value.offset, inp.offset) == (40, 40)


def test_a_seekable_input_is_read_from_where_it_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file object already at byte 5: offsets count from there, and a skip's seek too."""
    monkeypatch.setattr(source, "CHUNK", 16)
    f = io.BytesIO(_DATA)
    f.seek(5)
    inp = source.StreamInput(f)
    assert (inp.size, inp.take(2)) == (len(_DATA) - 5, _DATA[5:7])
    inp.skip(30)
    assert (inp.offset, inp.take(3)) == (32, _DATA[37:40])


def _records(count: int, odd: int | None, byte6: int = 0, flag: int = 0x22) -> bytes:
    """`count` 9-byte zero-page records (header, then the fill byte); the one at index
    `odd` gets byte 6 = `byte6` and byte 7 = `flag`."""
    out = bytearray()
    for k in range(count):
        head = bytearray(be64(k * PAGE | 0x22))
        if k == odd:
            head[6], head[7] = byte6, flag
        out += head + b"\x00"
    return bytes(out)


@pytest.mark.parametrize("odd", [0, 1, 15, 16, 17, 79, 80, 81, 199])
@pytest.mark.parametrize(("byte6", "flag"), [(0, 0x2A), (0x01, 0x22), (0x08, 0x22)])
def test_a_record_run_stops_exactly_at_the_first_other_record(odd: int, byte6: int,
                                                               flag: int) -> None:
    """run() takes records 16, then 64, then 2048 at a time: a record with another flag
    byte, or a flag bit of `mask6` in byte 6, ends the run on its own index, whichever
    window it falls in, first or last of it."""
    inp = source.StreamInput(io.BytesIO(_records(200, odd, byte6, flag)))
    inp.peek()
    assert inp.run(0x22, 9, 0x0F) == odd
    assert inp.offset == 9 * odd


def test_a_record_run_ignores_byte6_bits_outside_the_mask() -> None:
    inp = source.StreamInput(io.BytesIO(_records(200, 50, 0x10)))
    inp.peek()
    assert (inp.run(0x22, 9, 0x0F), inp.offset) == (200, 1800)
    inp = source.StreamInput(io.BytesIO(_records(200, 50, 0x01)))
    inp.peek()
    assert (inp.run(0x22, 9, 0), inp.offset) == (200, 1800)  # no mask: byte 6 unread


@pytest.mark.parametrize("tail", [0, 1, 8])
def test_a_record_run_ends_at_the_last_whole_record_in_the_window(
        monkeypatch: pytest.MonkeyPatch, tail: int) -> None:
    """The window holds 20 records and `tail` bytes of the next: the run counts the 20
    whole ones, leaves the partial one, and the next run after a refill goes on from it."""
    monkeypatch.setattr(source, "CHUNK", 9 * 20 + tail)
    inp = source.StreamInput(_ShortFirstRead(_records(50, None), 0))
    inp.peek()
    assert (inp.run(0x22, 9, 0x0F), inp.offset) == (20, 180)
    assert inp.run(0x22, 9, 0x0F) == 0
    inp.peek()
    assert inp.take(9) == _records(50, None)[180:189]


_HEAD = re.compile(rb"\x00\x06(.{4})\{", re.DOTALL)


@given(st.lists(st.sampled_from([b"\x00", b"\x06", b"{", b"\x00\x06", b"\x00\x06\x00\x06",
                                 b"\x00\x00\x00\x06{", b"x"]), max_size=40).map(b"".join))
def test_vmdesc_heads_are_the_regex_matches(data: bytes) -> None:
    """The vmdesc header scan (bytes.find of 0x06) finds exactly the non-overlapping
    matches of `\\x00\\x06 len(4) {` that re.finditer finds, in order: the first one whose
    length ends the stream is still the one used."""
    assert list(vmdesc._heads(data)) == [m.start() for m in _HEAD.finditer(data)]


def test_vmdesc_heads_overlapping_look_alikes() -> None:
    # a header inside another header's length bytes is skipped, as finditer skips it
    data = b"\x00\x06\x00\x06\x00\x00{\x00\x06abcd{"
    assert list(vmdesc._heads(data)) == [0, 7]
    assert list(vmdesc._heads(b"\x06\x00\x06\x00\x00\x00\x01{")) == [1]
    assert list(vmdesc._heads(b"\x00\x06\x00\x00\x00\x01")) == []  # no '{': no header
