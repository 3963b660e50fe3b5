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


@pytest.mark.parametrize("name", ["apr", "nsapr"])
def test_an_apr_word_alone_puts_its_cpu_slot_in_use(name: str) -> None:
    """QEMU's apr/nsapr are [GIC_NR_APRS = 4][GIC_NCPU = 8], word-major: word 2 of CPU 5
    is element 2 * 8 + 5. That word alone makes six slots in use."""
    assert slots_in_use(raw(GicImage(0, virt=False).set(name, 2 * NCPU + 5, 1))) == 6
    assert slots_in_use(raw(GicImage(0, virt=False).set(name, 3 * NCPU + 7, 1))) == 8


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


def test_a_partial_spi_line_level_is_named_alone() -> None:
    """The TCG GIC's SPI line level is 0x00 or 0xff: only the SPI with another value is named."""
    gic = GicImage().irq(40, level=0xFF).irq(41, level=0x01).irq(42, level=0xFF)
    msg = refused(gic, "QEMU-VALUE-IMPOSSIBLE")
    assert msg.startswith("QEMU-VALUE-IMPOSSIBLE irq 41 (SPI 9): the SPI line level is "
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


def test_a_cached_current_pending_at_the_pmr_is_not_taken_as_stale() -> None:
    """Deviation 19 accepts a cached ID only among interrupts that beat GICC_PMR: SPI 40 at
    priority 0x20 with PMR 0x20 is masked (priority must be below PMR), so a cached 40 is
    a cache mismatch (gic_update gives 1023); with PMR 0x21 it is the choice itself."""
    gic = GicImage().set("ctlr", 0, 1).set("cpu_ctlr", 0, 1).set("priority_mask", 0, 0x20)
    _pending_spi(gic, 40, 0x20)
    assert refused(gic.set("current_pending", 0, 40), "QEMU-CACHE-MISMATCH").startswith(
        "QEMU-CACHE-MISMATCH cpu0 current_pending: QEMU's cached value is 40, its own rules "
        "give 1023")
    assert run(gic.set("priority_mask", 0, 0x21)).import_report.normalized == ()


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


@pytest.mark.parametrize(("page", "flags"), [(5, 0x22), (66, 0x28)])
def test_a_record_run_stops_at_a_record_without_flags(page: int, flags: int) -> None:
    """A record whose flag bits are all 0 (no RAM_SAVE_FLAG_*) right after a zero page
    (0x22 = ZERO | CONTINUE, 9 bytes) or a data page (0x28 = PAGE | CONTINUE, 8 + 4 KiB
    bytes) is no record of that run: the framing walk stops at it and the header search
    finds the GIC. The stream has 64 zero pages, then 4 data pages."""
    parts = list(stream_parts(GicImage().section(), devices=False, vmdesc=False))
    k = parts.index(be64(0x02) + b"\x0dmach-virt.ram\x00") + page
    assert parts[k][:8] == be64(page * PAGE | flags)
    parts[k] = be64(page * PAGE) + parts[k][8:]  # the page address kept, no flags
    data = b"".join(parts)
    found = read_arm_gic(io.BytesIO(data))
    assert found.offset == data.index(b"\x07arm_gic") - 5
    assert (found.located_by, found.search_reason) == (
        "search", f"RAM record flags 0x0 at byte {data.index(parts[k])} are not ones gicmig "
        "can walk")


def test_a_device_sent_as_an_iterative_section_is_not_walked_by_its_vmdesc() -> None:
    """QEMU_VM_SECTION_START (0x01) begins an iterative section (RAM, block): its parts have
    no vmdesc layout, even when the vmdesc describes a device of that name and instance
    (here 'timer', sent as 0x01 instead of QEMU_VM_SECTION_FULL 0x04). The framing walk
    stops there and the header search finds the GIC."""
    parts = list(stream_parts(GicImage().section()))
    (k,) = [i for i, p in enumerate(parts) if p.startswith(b"\x04" + be32(3) + b"\x05timer")]
    parts[k] = b"\x01" + parts[k][1:]
    data = b"".join(parts)
    found = read_arm_gic(io.BytesIO(data))
    assert found.offset == data.index(b"\x07arm_gic") - 5
    assert (found.located_by, found.search_reason) == (
        "search", "iterative section 'timer' has no layout gicmig knows")


@pytest.mark.parametrize("version", [2, 4])
def test_a_stream_version_other_than_3_is_refused_at_byte_4(version: int) -> None:
    """QEMU_VM_FILE_VERSION (3) is the big-endian word after the magic 'QEVM', bytes 4-7."""
    with pytest.raises(GicmigError) as info:
        read_arm_gic(io.BytesIO(stream(GicImage().section(), version=version)))
    assert (info.value.code, info.value.offset) == ("QEMU-STREAM-VERSION", 4)
    assert str(info.value) == (f"QEMU-STREAM-VERSION stream format version {version}; "
                               "gicmig reads version 3 (at byte 4)")


def test_the_vmdesc_page_size_frames_ram_when_the_configuration_has_none() -> None:
    """Without configuration/target-page-bits the walk takes the page size from the vmdesc
    ("page_size": 4096, a power of two in ARM's 2^10..2^16): the 4 KiB data pages are then
    skipped whole and the GIC is reached by framing, with the vmdesc's device layouts."""
    parts = list(stream_parts(GicImage().section()))
    assert parts[2].startswith(b"\x05\x1econfiguration/target-page-bits")
    del parts[2]
    data = b"".join(parts)
    found = read_arm_gic(io.BytesIO(data))
    assert found.offset == data.index(b"\x07arm_gic") - 5
    assert (found.located_by, found.search_reason) == ("vmdesc", None)


@pytest.mark.parametrize("pad", [0, 70_000, 600_000])
def test_a_vmdesc_larger_than_the_first_tail_read_is_found(pad: int) -> None:
    """The vmdesc is looked for in the last 64 KiB, then 512 KiB, 4 MiB...: a vmdesc of
    70 or 600 KB (a long unknown key) still describes the devices the walk skips."""
    parts = list(stream_parts(GicImage().section()))
    assert parts[-1][:1] == b"\x06"
    doc = json.loads(parts[-1][5:])
    doc["x-pad"] = "p" * pad
    text = json.dumps(doc).encode()
    parts[-1] = b"\x06" + be32(len(text)) + text
    data = b"".join(parts)
    found = read_arm_gic(io.BytesIO(data))
    assert found.offset == data.index(b"\x07arm_gic") - 5
    assert (found.located_by, found.search_reason) == ("vmdesc", None)


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


@pytest.mark.parametrize("num_irqs", [64, 96])
def test_read_back_shared_distributor_registers_end_at_num_irqs(num_irqs: int) -> None:
    """gic-domain.md §1 (GICD map): the shared words of the bit banks (IGROUPR 0x080 ..
    ICACTIVER 0x380, one bit per ID), of IPRIORITYR (0x400) and ITARGETSR (0x800, a byte per
    ID) and of ICFGR (0xC00, 2 bits per ID) run from the first SPI to num_irqs - 1."""
    from gicmig.views.qemu.registers import tcg_registers

    words = num_irqs // 32
    banks = (0x080, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380)
    expected = {0x000, 0x004, 0x008}
    expected |= {b + 4 * i for b in banks for i in range(1, words)}
    expected |= {b + 4 * i for b in (0x400, 0x800) for i in range(8, num_irqs // 4)}
    expected |= {0xC00 + 4 * i for i in range(2, num_irqs // 16)}
    regs = tcg_registers(GicState.reset(GicConfig(1, num_irqs)))
    assert {off for kind, cpu, off in regs if kind == "GICD" and cpu is None} == expected


@pytest.mark.parametrize("member", ["enabled", "group"])
def test_the_last_irq_state_slot_is_read_to_its_last_member(member: str) -> None:
    """irq_state is GIC_MAXIRQ (1020) records of 7 bytes, `group` the last member (§5.2):
    a bit of ID 1019, far past virt's 288 IDs, is read and refused by its ID."""
    message = refused(GicImage().irq(1019, **{member: 1}), "QEMU-IRQ-BEYOND-NUM-IRQS")
    assert message == (f"QEMU-IRQ-BEYOND-NUM-IRQS irq 1019 (SPI 987): {member} is 0x01, but "
                       "the GIC has 288 interrupt IDs (check --num-irqs or --machine)")


@pytest.mark.parametrize("slip", ["state", "normalized"])
def test_the_written_section_must_import_as_exactly_the_fitted_state(
        monkeypatch: pytest.MonkeyPatch, slip: str) -> None:
    """The writer's safety net: re-importing the new section bytes must give back the fitted
    state with nothing normalized. An encoder slip (simulated by altering the re-import)
    is an INTERNAL-ERROR, never a silently different stream."""
    from dataclasses import replace

    from gicmig.core.imported import ImportedState
    from gicmig.errors import Violation
    from gicmig.views.qemu import write

    section = read_arm_gic(io.BytesIO(stream(GicImage().section())))
    state = run(GicImage())
    real = write.convert

    def slipped(*args: object, **kw: object) -> ImportedState:
        back = real(*args, **kw)  # type: ignore[arg-type]
        if slip == "state":
            back.enable_grp0 = not back.enable_grp0
            return back
        note = Violation("QEMU-X", "cpu0", "changed")
        return ImportedState(back, replace(back.import_report, normalized=(note,)))

    assert write.plan_qemu(state, section).state == state  # unaltered: it passes
    monkeypatch.setattr(write, "convert", slipped)
    with pytest.raises(GicmigError) as info:
        write.plan_qemu(state, section)
    assert info.value.code == "INTERNAL-ERROR"
    assert "the written section imports as another state" in info.value.message


def test_a_written_section_that_does_not_import_again_is_an_internal_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from gicmig.views.qemu import write

    def refused(*args: object, **kw: object) -> None:
        raise GicmigError("QEMU-FRAMING", "no")

    section = read_arm_gic(io.BytesIO(stream(GicImage().section())))
    state = run(GicImage())
    monkeypatch.setattr(write, "convert", refused)
    with pytest.raises(GicmigError) as info:
        write.plan_qemu(state, section)
    assert (info.value.code, info.value.message) == (
        "INTERNAL-ERROR", "the written section does not import again (QEMU-FRAMING no): a gicmig "
        "bug, please report it")


@pytest.mark.parametrize("kernel_bytes", [None, 0, 5])
def test_copy_falls_back_to_reading_from_where_the_kernel_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_bytes: int | None) -> None:
    """splice._copy: the kernel calls absent (None), copying nothing, or stopping after 5
    bytes: the chunked copy goes on from exactly offset + what was copied."""
    import os

    from gicmig.views.qemu.splice import _copy

    data = bytes(range(256)) * 3
    (tmp_path / "src").write_bytes(data)
    monkeypatch.delattr(os, "sendfile", raising=False)
    if kernel_bytes is None:
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    else:
        budget = [kernel_bytes]

        def partial(sfd: int, dfd: int, count: int, offset: int) -> int:
            k = min(count, budget[0])
            budget[0] -= k
            return os.write(dfd, os.pread(sfd, k, offset)) if k else 0

        monkeypatch.setattr(os, "copy_file_range", partial)
    with (tmp_path / "src").open("rb") as src, (tmp_path / "dst").open("wb", buffering=0) as dst:
        dst.write(b"head")
        _copy(src, dst, 100, 300)
    assert (tmp_path / "dst").read_bytes() == b"head" + data[100:400]


def test_the_search_goes_back_after_a_look_alike_that_fails_at_its_footer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A look-alike arm_gic header (version 12, FULL) 40 bytes before the real section:
    read as a section, its fields run into the real one, whose GIC bytes 9848.. hold a
    look-alike 'arm_gic_virt_state' subsection header, so it fails only at its footer,
    21 + 9888 + 24 + VIRT_SIZE bytes on. Even when the stream is read 16 bytes at a time,
    the search holds that whole candidate and resumes at the byte after its header."""
    from gicmig.views.qemu.vmstate import VIRT_SIZE

    monkeypatch.setattr(source, "CHUNK", 16)
    img = GicImage()
    img.main[9848:9872] = b"\x05\x12arm_gic_virt_state" + be32(1)  # nsapr words of cpus 6-7
    real = img.section()
    look = b"\x04" + be32(99) + b"\x07arm_gic" + be32(0) + be32(12) + b"\xaa" * 19
    data = b"QEVM" + be32(3) + b"\x99" + look + real + b"\x00"
    found = read_arm_gic(io.BytesIO(data))
    assert (found.offset, found.section_id, found.located_by) == (49, 10, "search")
    assert found.search_reason == "record type 0x99 at byte 8 is not one gicmig knows"
    assert found.virt is not None and len(found.virt) == VIRT_SIZE


def test_a_refused_export_stops_the_template_copy(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """export qemu copies the template in a thread while it plans; when planning refuses
    (here an invalid state), the copy is stopped before the error is raised and nothing is
    left behind. The kernel copy is slowed to 64 bytes a call so that it is still running."""
    import os
    import threading
    import time

    from gicmig.errors import ValidationError
    from gicmig.views.qemu.write import export_qemu

    template = tmp_path / "virt.mig"
    template.write_bytes(stream(GicImage().section()))
    state = run(GicImage())
    state.banked[0].edge = 0xFFFE  # SGI 0 level-triggered: SGI-NOT-EDGE
    real = os.copy_file_range

    def slow(src: int, dst: int, count: int, off_src: int, off_dst: int) -> int:
        time.sleep(0.05)
        return real(src, dst, min(count, 64), off_src, off_dst)

    monkeypatch.setattr(os, "copy_file_range", slow)
    try:
        with pytest.raises(ValidationError):
            export_qemu(state, template, tmp_path / "out.mig")
        assert [t.name for t in threading.enumerate() if t.name == "gicmig-copy"] == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["virt.mig"]
    finally:
        for t in threading.enumerate():
            if t.name == "gicmig-copy":
                t.stop.set()  # type: ignore[attr-defined]
                t.join()


def test_plan_qemu_is_strict_unless_asked() -> None:
    """plan_qemu (public) refuses a lossy fit by default: an UNKNOWN EnableGrp1 cannot be
    held by the TCG GIC, which keeps both enables; lenient=True sets it to EnableGrp0."""
    from gicmig.views.qemu import plan_qemu

    section = read_arm_gic(io.BytesIO(stream(GicImage().section())))
    state = run(GicImage())
    state.enable_grp1_unknown = True
    with pytest.raises(QemuUnrepresentable) as info:
        plan_qemu(state, section)
    assert info.value.code == "QEMU-EXPORT-UNKNOWN"
    plan = plan_qemu(state, section, lenient=True)
    assert [v.code for v in plan.losses] == ["QEMU-EXPORT-UNKNOWN"]
    assert (plan.state.enable_grp1, plan.state.enable_grp1_unknown) == (False, False)



def test_copy_writes_every_byte_through_short_writes(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe may take fewer bytes than offered: the chunked copy writes the rest, from
    exactly where the short write stopped (here at most 7 bytes a call)."""
    import os

    from gicmig.views.qemu.splice import _copy

    class ShortWrites(io.RawIOBase):
        def __init__(self) -> None:
            self.got = bytearray()

        def writable(self) -> bool:
            return True

        def fileno(self) -> int:
            return -1  # unused: no kernel copy here

        def write(self, data: object) -> int:
            view = memoryview(data)  # type: ignore[arg-type]
            self.got += view[:7]
            return min(7, len(view))

    data = bytes(range(256)) * 3
    (tmp_path / "src").write_bytes(data)
    monkeypatch.delattr(os, "sendfile", raising=False)
    monkeypatch.delattr(os, "copy_file_range", raising=False)
    dst = ShortWrites()
    with (tmp_path / "src").open("rb") as src:
        _copy(src, dst, 100, 300)  # type: ignore[arg-type]
    assert bytes(dst.got) == data[100:400]


@pytest.mark.parametrize("accel", ["arm", "TCG", ""])
def test_an_unknown_accelerator_name_is_refused_by_the_library(accel: str) -> None:
    """import_qemu, export_qemu and plan_qemu (public, reached without export_qemu) alike."""
    from gicmig.views.qemu import plan_qemu

    section = read_arm_gic(io.BytesIO(stream(GicImage().section())))
    for call in (lambda: run(GicImage(), accel),
                 lambda: plan_qemu(run(GicImage()), section, accel=accel)):
        with pytest.raises(GicmigError) as info:
            call()
        assert (info.value.code, info.value.message) == (
            "QEMU-ACCEL", f"accelerator {accel!r}: say tcg or kvm")


@pytest.mark.parametrize("accel", ["arm", "TCG", "", "xen"])
def test_check_accel_refuses_an_unknown_name_through_the_one_check(accel: str) -> None:
    """check_accel (the evidence path) refuses a bad name with the same code and message as
    import_qemu/export_qemu, because all three call model.check_accel_name."""
    from gicmig.views.qemu.accel import check_accel
    from gicmig.views.qemu.model import check_accel_name

    for call in (lambda: check_accel(raw(GicImage()), accel), lambda: check_accel_name(accel)):
        with pytest.raises(GicmigError) as info:
            call()
        assert (info.value.code, info.value.message) == (
            "QEMU-ACCEL", f"accelerator {accel!r}: say tcg or kvm")


@pytest.mark.parametrize("accel", [None, "tcg", "kvm"])
def test_check_accel_name_accepts_none_and_the_two_accelerators(accel: str | None) -> None:
    from gicmig.views.qemu.model import check_accel_name

    assert check_accel_name(accel) is None


def test_the_unknown_accelerator_message_has_one_home() -> None:
    """The QEMU-ACCEL refusal is written once, in views/qemu/model.py."""
    root = Path(__file__).resolve().parents[1] / "gicmig"
    homes = [p.relative_to(root).as_posix() for p in root.rglob("*.py")
             if "say tcg or kvm\")" in p.read_text()]
    assert homes == ["views/qemu/model.py"]


def test_convert_is_strict_unless_asked() -> None:
    """convert (public: import_qemu on a section already read) refuses QEMU 7.2's benign
    deviations by default, like import_qemu: ITARGETSR 0x04 on a 2-CPU GIC (deviation 5)."""
    from gicmig.views.qemu import convert

    section = read_arm_gic(io.BytesIO(stream(GicImage().set("irq_target", 32, 0x04).section())))
    with pytest.raises(GicmigError) as info:
        convert(section, machine="virt")
    assert info.value.code == "QEMU-SPI-TARGET-ABSENT-CPU"
    state = convert(section, machine="virt", lenient=True)
    assert [v.code for v in state.import_report.normalized] == ["QEMU-SPI-TARGET-ABSENT-CPU"]
    assert state.shared.targets[0] == 0x00


def test_export_refuses_an_unknown_accelerator_before_opening_anything(tmp_path: Path) -> None:
    from gicmig.views.qemu import export_qemu

    with pytest.raises(GicmigError) as info:
        export_qemu(run(GicImage()), tmp_path / "missing.mig", tmp_path / "out.mig", accel="arm")
    assert (info.value.code, info.value.message) == (
        "QEMU-ACCEL", "accelerator 'arm': say tcg or kvm")
    assert list(tmp_path.iterdir()) == []


def test_a_stale_current_pending_sgi_behind_a_better_ppi_is_accepted() -> None:
    """Deviation 19: the cached current_pending may be an SGI (5, priority 0x20) when the
    only better pending interrupt is a PPI (20, priority 0x10), which a HW=1 LR's EOI can
    have made pending again without gic_update; only the interrupts before the cached one
    must be PPIs or SPIs, not the cached one itself."""
    gic = GicImage().set("ctlr", 0, 1).set("cpu_ctlr", 0, 1).set("priority_mask", 0, 0xF0)
    gic.irq(5, enabled=0xFF, pending=0x01).set("priority1", 5 * NCPU, 0x20)
    gic.set("sgi_pending", 5 * NCPU, 0x02)  # from CPU 1
    gic.irq(20, enabled=0xFF, pending=0x01).set("priority1", 20 * NCPU, 0x10)
    for cached in (20, 5):
        assert run(gic.set("current_pending", 0, cached)).import_report.normalized == ()


def test_an_export_written_in_place_replaces_the_virtualization_fields(tmp_path: Path) -> None:
    """Into a pipe (/dev/fd/N: written in place, not through a temporary file) the new
    arm_gic_virt_state bytes replace the template's too: the written stream imports as the
    exported state, GICH_HCR and an LR included."""
    import os
    import threading

    from gicmig.views.qemu import export_qemu, import_qemu

    template = tmp_path / "virt.mig"
    template.write_bytes(stream(GicImage().section()))
    state = run(GicImage())
    state.virtual[0].hcr = 1
    state.virtual[0].lr = (0x1000_0020, 0, 0, 0)  # SPI 32 pending in LR0
    r, w = os.pipe()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(os.fdopen(r, "rb").read()))
    reader.start()
    try:
        export_qemu(state, template, f"/dev/fd/{w}")
    finally:
        os.close(w)
        reader.join()
    back = read_arm_gic(io.BytesIO(got[0]))
    assert back.virt is not None and back.virt != read_arm_gic(io.BytesIO(
        template.read_bytes())).virt
    again = import_qemu(io.BytesIO(got[0]), machine="virt")
    assert (again.virtual[0].hcr, again.virtual[0].lr) == (1, (0x1000_0020, 0, 0, 0))


# --- tcg.py survivors of the s19 mutation run (session 19, Q1) ---------------------------------
@pytest.mark.parametrize("where", ["pending", "sgi_pending"])
def test_an_sgi_on_an_absent_cpu_is_seen_by_either_record(where: str) -> None:
    """Deviation 5: an SGI pending on absent CPU 5 of a 2-CPU GIC shows in its pending CPU
    mask (bit 5) or in its sources (sgi_pending[3][5]); either alone is the deviation."""
    gic = GicImage()
    if where == "pending":
        gic.irq(3, pending=0x20)
    else:
        gic.set("sgi_pending", 3 * NCPU + 5, 0x01)
    assert refused(gic, "QEMU-SGI-PENDING-ABSENT-CPU").startswith(
        "QEMU-SGI-PENDING-ABSENT-CPU cpu5 irq 3 (SGI 3): an SGI is pending on a CPU")


def test_written_private_targets_are_named_by_the_bytes_that_differ_from_reset() -> None:
    """ITARGETSR0-7 reset to 0 on a multiprocessor GIC: 0xff written to IDs 0 and 20 names
    those two, not the 30 still at reset."""
    gic = GicImage().set("irq_target", 0, 0xFF).set("irq_target", 20, 0xFF)
    (v,) = run(gic, lenient=True).import_report.normalized
    assert (v.code, v.path) == ("QEMU-PPI-TARGETS-WRITTEN", "irq 0 (SGI 0) (and 1 more)")
    assert v.message.startswith("QEMU stored 0xff from a write to the read-only ITARGETSR0-7")


def test_lr4_is_its_own_deviation_not_one_beyond() -> None:
    """QEMU 7.2 has 4 LRs (deviation 12: LR4 may hold a stored write); LR5 up is impossible,
    and the impossible list starts at LR5."""
    gic = GicImage().lr(0, 4, 0x10000001).lr(0, 5, 0x10000002)
    assert refused(gic, "QEMU-VALUE-IMPOSSIBLE", lenient=True).startswith(
        "QEMU-VALUE-IMPOSSIBLE cpu0 gich.lr5: a list register beyond LR4 holds data")


def test_a_stale_current_pending_needs_the_distributor_enabled() -> None:
    """gic_update with GICD_CTLR 0 signals nothing: current_pending is 1023, and deviation 19's
    stale choice is not accepted then (SPI 40 pending, eligible but for the distributor)."""
    gic = GicImage().set("ctlr", 0, 0).set("cpu_ctlr", 0, 1).set("priority_mask", 0, 0xF0)
    _pending_spi(gic, 40, 0x20)
    assert refused(gic.set("current_pending", 0, 40), "QEMU-CACHE-MISMATCH") == (
        "QEMU-CACHE-MISMATCH cpu0 current_pending: QEMU's cached value is 40, its own "
        "rules give 1023 (--lenient: ignored: gicmig does not store QEMU's caches and "
        "recomputes them)")


def test_sgi_0_can_be_the_current_pending() -> None:
    """ID 0 is an interrupt like any other: SGI 0 pending on CPU 0 (from CPU 1), enabled,
    priority 0x10 < PMR 0xf0, is gic_update's choice 0."""
    gic = GicImage().set("ctlr", 0, 1).set("cpu_ctlr", 0, 1).set("priority_mask", 0, 0xF0)
    gic.irq(0, pending=0x01).set("priority1", 0, 0x10).set("sgi_pending", 0, 0x02)
    assert run(gic.set("current_pending", 0, 0)).import_report.normalized == ()
    assert refused(gic.set("current_pending", 0, 1023), "QEMU-CACHE-MISMATCH").startswith(
        "QEMU-CACHE-MISMATCH cpu0 current_pending: QEMU's cached value is 1023, its own "
        "rules give 0 ")


@pytest.mark.parametrize(("vpmr", "expected"), [(0x50, 100), (0x18, 100), (0x10, 1023)])
def test_vcpu_current_pending_compares_the_lr_priority_with_pmr(vpmr: int, expected: int) -> None:
    """gic_update_internal(virt): a pending LR (vID 100, priority field 2 = 0x10) is chosen
    when its priority is below GICV_PMR, whatever its ID."""
    lr = 1 << 28 | 2 << 23 | 100  # pending, priority 2 << 3, vID 100
    gic = GicImage().vset("h_hcr", 0, 1).vset("cpu_ctlr", 0, 1).lr(0, 0, lr)
    gic.vset("priority_mask", 0, vpmr).vset("current_pending", 0, expected)
    assert run(gic).import_report.normalized == ()


@pytest.mark.parametrize(("vctlr", "expected"), [(0, 1023), (1, 100)])
def test_vcpu_current_pending_needs_a_gicv_group_enabled(vctlr: int, expected: int) -> None:
    """gic_update_internal(virt): with GICV_CTLR's EnableGrp0/EnableGrp1 both clear, no LR
    is chosen (1023), however pending and high-priority it is."""
    lr = 1 << 28 | 2 << 23 | 100  # pending, priority 2 << 3, vID 100
    gic = GicImage().vset("h_hcr", 0, 1).vset("cpu_ctlr", 0, vctlr).lr(0, 0, lr)
    gic.vset("priority_mask", 0, 0xF8).vset("current_pending", 0, expected)
    assert run(gic).import_report.normalized == ()


# --- session 19, Q2: survivors of decode/raw/splice/__init__ ---------------------------------
@pytest.mark.parametrize("ids", [[40], [40, 41], [40, 41, 45]])
def test_a_deviation_names_its_first_place_and_counts_the_others(ids: list[int]) -> None:
    """The 11MPCore 'model' member (QEMU 7.2 never sets it for the GICv2) on one, two or
    three SPIs: the message names the first and says how many more (none for one)."""
    gic = GicImage()
    for i in ids:
        gic.irq(i, model=1)
    more = f" (and {len(ids) - 1} more)" if len(ids) > 1 else ""
    assert refused(gic, "QEMU-VALUE-IMPOSSIBLE").startswith(
        f"QEMU-VALUE-IMPOSSIBLE irq 40 (SPI 8){more}: the 11MPCore 'model' bit is set")


@pytest.mark.parametrize("name", ["QemuExport", "QemuPlan", "QemuUnrepresentable",
                                  "export_qemu", "plan_qemu"])
def test_the_writing_names_are_the_real_ones_on_first_use(name: str) -> None:
    """gicmig.views.qemu loads its writing side on first use (module __getattr__): the
    first access, as well as later ones, gives the object of its home module."""
    import importlib

    import gicmig.views.qemu as view

    home = {"QemuExport": "write", "QemuPlan": "splice", "QemuUnrepresentable": "encode_tcg",
            "export_qemu": "write", "plan_qemu": "write"}[name]
    real = getattr(importlib.import_module(f"gicmig.views.qemu.{home}"), name)
    view.__dict__.pop(name, None)  # as before its first use
    assert getattr(view, name) is real
    assert view.__dict__[name] is real and getattr(view, name) is real


@pytest.mark.parametrize("virt", [False, True])
def test_a_blank_raw_image_is_all_zero_bytes(virt: bool) -> None:
    """RawImage.blank is what QEMU leaves in every slot nothing wrote: every field 0, the
    section and the subsection (with virt) all zero bytes, of the vmstate's sizes."""
    from gicmig.views.qemu.vmstate import GIC_SIZE, VIRT_SIZE

    img = RawImage.blank(virt)
    assert (img.ctlr, img.virt) == (0, virt)
    assert img.encode() == (bytes(GIC_SIZE), bytes(VIRT_SIZE) if virt else None)


@pytest.mark.parametrize(("attr", "delta"), [("priority1", -1), ("target", 1), ("edge", -1),
                                               ("pmr", 1), ("v_bpr", -1)])
def test_a_raw_field_of_the_wrong_length_is_not_encoded(attr: str, delta: int) -> None:
    """Slice assignment would resize the section (moving every later field): a byte
    vector, irq_state member or int array of another length than its vmstate field is an
    error naming the field and both lengths."""
    img = RawImage.blank(True)
    value = getattr(img, attr)
    n = len(value)
    setattr(img, attr, value[:n + delta] if delta < 0 else value + value[:delta])
    with pytest.raises(ValueError) as info:
        img.encode()
    assert str(info.value) == f"{attr}: {n + delta} elements, the field holds {n}"


def test_pwrite_all_goes_on_from_where_a_short_write_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """splice._pwrite_all (the section bytes and the chunked template copy): a pwrite that
    takes at most 5 bytes a call; the rest is written from exactly where it stopped."""
    import os

    from gicmig.views.qemu import splice

    real = os.pwrite
    monkeypatch.setattr(os, "pwrite", lambda fd, data, pos: real(fd, bytes(data)[:5], pos))
    path = tmp_path / "out"
    path.write_bytes(b"." * 40)
    data = bytes(range(1, 24))
    with path.open("r+b", buffering=0) as f:
        splice._pwrite_all(f.fileno(), data, 10)
    assert path.read_bytes() == b"." * 10 + data + b"." * 7


@pytest.mark.parametrize("accel", ["tcg", "kvm"])
@pytest.mark.parametrize("member", ["enabled", "edge", "group"])
def test_a_bit_on_the_first_id_past_num_irqs_is_refused(accel: str, member: str) -> None:
    """ID 288, the first past virt's 288 IDs, is refused by both models before any SPI
    bank is read: so the SPI edge/enable/group banks (IDs 32..287) never meet it."""
    gic = GicImage() if accel == "tcg" else GicImage.kvm(2)
    message = refused(gic.irq(288, **{member: 1}), "QEMU-IRQ-BEYOND-NUM-IRQS", accel)
    assert message == (f"QEMU-IRQ-BEYOND-NUM-IRQS irq 288 (SPI 256): {member} is 0x01, but "
                       "the GIC has 288 interrupt IDs (check --num-irqs or --machine)")


@pytest.mark.parametrize("distance", [20_000, 70_000, 100_000])
def test_a_vmdesc_look_alike_in_ram_data_does_not_hide_the_vmdesc(distance: int) -> None:
    """RAM page bytes `00 06 len(4) {` whose length reaches the end of the stream look like
    the vmdesc head; read as JSON they run into the real head's raw 0x00 and fail. Inside
    the first 64 KiB tail read (20 000) as beyond it (70 000, 100 000), the real vmdesc
    after them is still found and used."""
    data = bytearray(stream(GicImage().section(), data_pages=24))
    at = len(data) - distance
    assert len(set(data[at:at + 7])) == 1  # inside one data page's payload
    data[at:at + 7] = b"\x00\x06" + be32(len(data) - at - 6) + b"{"
    found = read_arm_gic(io.BytesIO(bytes(data)))
    assert found.offset == data.index(b"\x07arm_gic") - 5
    assert (found.located_by, found.search_reason) == ("vmdesc", None)
