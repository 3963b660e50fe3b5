"""Pinned values for the QEMU view: what each arm_gic field carries into canonical state.

Sources: gic-domain.md §5.2 (TCG: per-CPU masks, `level` is the input line, 0xff for a
high SPI line), §5.5 (kvm-arm-gic: pending = latch OR line with level 0, SPI masks
0x00/0xff, targets as KVM holds them, PMR is VMPriMask, APR0 is the GICH_APR image), §2.4
(TCG APR: level X is bit X mod 32 of word X / 32; KVM APR0 bit n is group priority n << 3),
§2.3 (RPR is the lowest active group priority; HPPIR the best pending under PMR, lowest ID
first), §3.2 (MISR). The synthetic sections are built field by field; no value below is
read back from the converter.
"""

from __future__ import annotations

import io

import pytest
from test_qemu_support import GicImage, stream

from gicmig.core.imported import ImportedState
from gicmig.core.model import UNKNOWN_CPU
from gicmig.errors import GicmigError
from gicmig.views.qemu.convert import import_qemu
from gicmig.views.qemu.vmstate import NCPU


def run(gic: GicImage, accel: str | None = "tcg", **kw: object) -> ImportedState:
    kw.setdefault("machine", "virt")
    return import_qemu(io.BytesIO(stream(gic.section())), accel=accel, **kw)  # type: ignore[arg-type]


def refused(gic: GicImage, code: str, accel: str | None = "tcg", **kw: object) -> str:
    with pytest.raises(GicmigError) as info:
        run(gic, accel, **kw)
    assert info.value.code == code, str(info.value)
    return str(info.value)


def kvm_image(num_cpus: int = 2) -> GicImage:
    """A kvm-arm-gic section at reset, as kvm_arm_gic_get writes it (test_qemu_support)."""
    return GicImage.kvm(num_cpus)


# --- TCG: the SPI line is its own state (§1.4, §5.2) -------------------------------------------
def test_tcg_spi_line_levels_and_latches() -> None:
    gic = GicImage()
    gic.irq(40, level=0xFF)  # level SPI, line high, latch clear
    gic.irq(41, pending=0x01).main[_target(41)] = 0x01  # latch set, line low
    gic.irq(42, pending=0x03, level=0xFF).main[_target(42)] = 0x03  # both
    gic.irq(287, level=0xFF)  # the last SPI of virt
    gic.irq(43, pending=0x02, edge=1).main[_target(43)] = 0x02  # edge, latched
    sh = run(gic).shared
    assert sh.line_level == 1 << 8 | 1 << 10 | 1 << 255
    assert sh.pending_latch == 1 << 9 | 1 << 10 | 1 << 11
    assert sh.edge == 1 << 11
    assert sh.pending_split_unknown == 0
    assert sh.targets[9:12] == b"\x01\x03\x02"


def _target(intid: int) -> int:
    from gicmig.views.qemu.vmstate import GIC_FIELDS

    return GIC_FIELDS["irq_target"].offset + intid


def test_tcg_private_latch_and_line_per_cpu() -> None:
    gic = GicImage()
    gic.irq(27, level=0x02, enabled=0x03)  # PPI 27: line high on CPU 1 only
    gic.irq(30, pending=0x01)  # PPI 30: latch on CPU 0
    st = run(gic)
    assert [b.line_level for b in st.banked] == [0, 1 << 27]
    assert [b.pending_latch for b in st.banked] == [1 << 30, 0]
    assert [b.enabled >> 16 for b in st.banked] == [1 << 11, 1 << 11]


def test_tcg_spi_active_cpu() -> None:
    gic = GicImage()
    gic.irq(50, active=0x02)  # acknowledged by CPU 1
    gic.irq(51, active=0xFF)  # GICD_ISACTIVER: CPU unknown
    gic.irq(52, active=0x01)
    sh = run(gic).shared
    assert sh.active == 1 << 18 | 1 << 19 | 1 << 20
    assert sh.active_cpu[18:21] == bytes([1, UNKNOWN_CPU, 0])


# --- APR words -> levels (§2.4) -----------------------------------------------------------------
@pytest.mark.parametrize(("word", "bit"), [(0, 0), (0, 31), (1, 0), (1, 5), (2, 0), (2, 17),
                                            (3, 0), (3, 31)])
@pytest.mark.parametrize("cpu", [0, 1])
def test_tcg_apr_word_bit_is_level(word: int, bit: int, cpu: int) -> None:
    level = 32 * word + bit  # group priority 2 * level
    for name, group in (("apr", 0), ("nsapr", 1)):
        gic = GicImage()
        gic.set(name, word * NCPU + cpu, 1 << bit)
        gic.set("running_priority", cpu, 2 * level)  # RPR: the lowest active group priority
        ci = run(gic).cpu[cpu]
        assert (ci.active_group0, ci.active_group1) == (
            (1 << level, 0) if group == 0 else (0, 1 << level)), name
        assert ci.active_group_unknown == 0


def test_tcg_running_priority_cache_is_the_lowest_level() -> None:
    gic = GicImage()
    gic.set("apr", 2 * NCPU, 1 << 3).set("nsapr", 1 * NCPU, 1 << 9)  # levels 67 and 41
    gic.set("running_priority", 0, 0x52)  # 2 * 41
    run(gic)
    gic.set("running_priority", 0, 0x86)  # 2 * 67: not the lowest
    assert "running_priority" in refused(gic, "QEMU-CACHE-MISMATCH")
    gic.set("running_priority", 0, 0x100)
    refused(gic, "QEMU-CACHE-MISMATCH")


@pytest.mark.parametrize(("apr0", "level"), [(0x1, 0), (0x10, 16), (0x8000_0000, 124),
                                              (0x100, 32)])
def test_kvm_apr0_is_the_gich_apr_image(apr0: int, level: int) -> None:
    gic = kvm_image()
    gic.set("apr", 1, apr0)  # APR0 of CPU 1
    ci = run(gic, "kvm").cpu[1]
    assert ci.active_group_unknown == 1 << level
    assert (ci.active_group0, ci.active_group1) == (0, 0)


@pytest.mark.parametrize(("word", "cpu"), [(1, 0), (2, 1), (3, 1), (1, 5)])
def test_apr1_to_3_holding_bits_is_a_tcg_mark(word: int, cpu: int) -> None:
    """kvm-arm-gic copies KVM's GICC_APRn, and KVM's GICv2 APR is the GICH_APR image in
    APR0 (APR1-3 read as zero): bits in APR1-3, in any slot, are the TCG GIC's (its levels
    32-127). One mark among the others (`accel.evidence`), refused before any other check."""
    mark = f"cpu{cpu} gicc.apr{word} is 0x10 (KVM's GICv2 APR is the GICH_APR image, in APR0 only)"
    gic = kvm_image().set("apr", word * NCPU + cpu, 0x10)
    assert refused(gic, "QEMU-ACCEL-MISMATCH", "kvm") == (
        "QEMU-ACCEL-MISMATCH --accel kvm, but the stream was written by the TCG GIC: "
        f"{mark}; use --accel tcg or leave --accel out")
    # left to the marks: kvm-arm-gic's (SGI enables of the 2 vCPUs only) and this one
    assert refused(gic, "QEMU-ACCEL-CONFLICT", None) == (
        "QEMU-ACCEL-CONFLICT the stream shows marks of both QEMU GIC devices (TCG: "
        f"{mark}; kvm-arm-gic: irq 0 (SGI 0) enabled mask 0x03 (the TCG GIC keeps SGI "
        "enables at 0xff))")


def test_tcg_apr1_to_3_inferred_and_carried() -> None:
    """The same bits in a TCG section: the marks say TCG, and the levels arrive."""
    gic = GicImage().set("apr", 2 * NCPU + 1, 0x10)  # CPU 1, level 2 * 32 + 4 = 68
    gic.set("running_priority", 1, 68 << 1)  # the lowest active level, as a priority
    st = import_qemu(io.BytesIO(stream(gic.section())), machine="virt")
    assert st.import_report.assumed[0].value == "tcg"
    assert st.provenance.source == "qemu-tcg"
    assert (st.cpu[1].active_group0, st.cpu[1].active_group1) == (1 << 68, 0)
    assert (st.cpu[0].active_group0, st.cpu[1].active_group_unknown) == (0, 0)


# --- kvm-arm-gic: what the KVM ABI view carries (§5.5) -----------------------------------------
def test_kvm_spi_targets_on_two_vcpus() -> None:
    gic = kvm_image(2)
    for intid, t in ((32, 0x01), (33, 0x02), (34, 0x03), (287, 0x02)):
        gic.main[_target(intid)] = t
    sh = run(gic, "kvm").shared
    assert sh.targets[:3] == b"\x01\x02\x03"
    assert sh.targets[255] == 0x02
    assert len(sh.targets) == 256


def test_kvm_uniprocessor_has_no_targets() -> None:
    gic = kvm_image(1)
    sh = run(gic, "kvm").shared
    assert sh.targets == bytes(256)


def test_kvm_pending_is_latch_or_line_with_the_split_unknown() -> None:
    gic = kvm_image()
    gic.irq(40, pending=0xFF)  # level: the OR, split unknown
    gic.irq(41, pending=0xFF, edge=1)  # edge: the latch
    gic.irq(42, active=0xFF)
    gic.irq(27, pending=0x02)  # PPI 27 level, pending on CPU 1
    gic.irq(28, pending=0x01, edge=1)
    st = run(gic, "kvm")
    sh = st.shared
    assert sh.pending_latch == 1 << 8 | 1 << 9
    assert sh.pending_split_unknown == 1 << 8
    assert sh.line_level == 0
    assert sh.active == 1 << 10 and sh.active_cpu[10] == UNKNOWN_CPU
    assert [b.pending_latch for b in st.banked] == [1 << 28, 1 << 27]
    assert [b.pending_split_unknown for b in st.banked] == [0, 1 << 27]


@pytest.mark.parametrize(("vmprimask", "pmr"), [(0x00, 0x00), (0x01, 0x08), (0x1E, 0xF0),
                                                 (0x1F, 0xF8)])
def test_kvm_pmr_is_vmprimask(vmprimask: int, pmr: int) -> None:
    gic = kvm_image()
    gic.set("priority_mask", 1, vmprimask)
    assert run(gic, "kvm").cpu[1].pmr == pmr


def test_kvm_pmr_wider_than_vmprimask_is_tcg_evidence() -> None:
    gic = kvm_image()
    gic.set("priority_mask", 0, 0x20)
    refused(gic, "QEMU-ACCEL-MISMATCH", "kvm")


def test_kvm_single_distributor_enable() -> None:
    gic = kvm_image()
    gic.set("ctlr", 0, 1)
    st = run(gic, "kvm")
    assert (st.enable_grp0, st.enable_grp1, st.enable_grp1_unknown) == (True, False, True)
    gic.set("ctlr", 0, 3)
    refused(gic, "QEMU-ACCEL-MISMATCH", "kvm")


def test_tcg_distributor_enables() -> None:
    for ctlr, enables in ((0, (False, False)), (1, (True, False)), (2, (False, True)),
                          (3, (True, True))):
        gic = GicImage()
        gic.set("ctlr", 0, ctlr)
        st = run(gic)
        assert (st.enable_grp0, st.enable_grp1, st.enable_grp1_unknown) == (*enables, False)


# --- caches QEMU migrates: checked against QEMU's own rules (§2.3, §3.2, §5.4) -------------------
def _pending_spi(gic: GicImage, intid: int, prio: int, target: int = 0x01) -> None:
    from gicmig.views.qemu.vmstate import GIC_FIELDS

    gic.irq(intid, enabled=0xFF, pending=target)
    gic.main[_target(intid)] = target
    gic.main[GIC_FIELDS["priority2"].offset + intid - 32] = prio


@pytest.mark.parametrize(("pmr", "expected"), [(0x80, 40), (0x41, 40), (0x40, 1023),
                                                (0x00, 1023)])
def test_current_pending_is_the_best_below_pmr(pmr: int, expected: int) -> None:
    gic = GicImage(virt=False)  # (with virtualization, deviation 19 allows a stale choice)
    gic.set("ctlr", 0, 1).set("cpu_ctlr", 0, 1).set("priority_mask", 0, pmr)
    _pending_spi(gic, 41, 0x40)
    _pending_spi(gic, 40, 0x40)  # same priority, lower ID wins
    _pending_spi(gic, 60, 0x50)
    _pending_spi(gic, 39, 0x20, target=0x02)  # better, but targets CPU 1 only
    gic.set("current_pending", 0, expected)
    run(gic)
    gic.set("current_pending", 0, 41 if expected == 40 else 40)
    assert "current_pending" in refused(gic, "QEMU-CACHE-MISMATCH")


def test_current_pending_needs_both_enables() -> None:
    for ctlr, cpu_ctlr in ((0, 1), (1, 0)):
        gic = GicImage(virt=False)
        gic.set("ctlr", 0, ctlr).set("cpu_ctlr", 0, cpu_ctlr).set("priority_mask", 0, 0xFF)
        _pending_spi(gic, 40, 0x40)
        run(gic)  # current_pending stays 1023


# (HCR, vCPU CTLR, LRs, MISR) as QEMU 7.2's gic_compute_misr gives it
QEMU_MISR = [
    (0x01, 0x0, (0, 0, 0, 0), 0x00),
    (0x03, 0x0, (0, 0, 0, 0), 0x02),  # UIE: fewer than 2 valid LRs
    (0x03, 0x0, (0x1000_0020, 0, 0, 0), 0x02),
    (0x03, 0x0, (0x1000_0020, 0x2000_0021, 0, 0), 0x00),
    (0x05 | 1 << 27, 0x0, (0, 0, 0, 0), 0x04),  # LRENPIE, EOICount 1
    (0x05, 0x0, (0, 0, 0, 0), 0x00),
    (0x09, 0x0, (0x3000_0020, 0, 0, 0), 0x08),  # NPIE: pending+active is not "pending"
    (0x09, 0x0, (0x1000_0020, 0, 0, 0), 0x00),
    (0x11, 0x1, (0, 0, 0, 0), 0x10),
    (0x21, 0x0, (0, 0, 0, 0), 0x20),
    (0x41, 0x2, (0, 0, 0, 0), 0x40),
    (0x81, 0x0, (0, 0, 0, 0), 0x80),
    (0x81, 0x2, (0, 0, 0, 0), 0x00),
    (0x01, 0x0, (0x0008_0020, 0, 0, 0), 0x01),  # EOI: invalid, HW 0, EOI 1
    (0x01, 0x0, (0x8008_6C3B, 0, 0, 0), 0x00),  # HW: bit 19 is PhysicalID
]


@pytest.mark.parametrize(("hcr", "vctlr", "lrs", "misr"), QEMU_MISR)
def test_tcg_misr_cache(hcr: int, vctlr: int, lrs: tuple[int, ...], misr: int) -> None:
    gic = GicImage()
    gic.vset("h_hcr", 1, hcr).vset("cpu_ctlr", 1, vctlr).vset("h_misr", 1, misr)
    for n, lr in enumerate(lrs):
        gic.lr(1, n, lr)
    st = run(gic)  # (vCPU PMR 0: current_pending stays 1023)
    assert st.virtual[1].hcr == hcr and st.virtual[1].lr == lrs
    for bit in range(8):
        gic.vset("h_misr", 1, misr ^ 1 << bit)
        assert "gich.misr" in refused(gic, "QEMU-CACHE-MISMATCH")


def test_parameters_each_device_implies() -> None:
    """TCG arm_gic: 8 priority bits, BPR minimum 0, SGI enables RAO/WI, PPI trigger
    programmable, 4 LRs with 5/5 virtual bits; kvm-arm-gic: KVM's 5 bits, minimum 2,
    writable SGI enables, read-only PPI trigger (§1.7, §2.3, §5.1, §1.4)."""
    cfg = run(GicImage()).config
    assert (cfg.num_cpus, cfg.num_irqs, cfg.priority_bits, cfg.min_bpr) == (2, 288, 8, 0)
    assert (cfg.sgi_enables_rao_wi, cfg.ppi_trigger_programmable) == (True, True)
    v = cfg.virtualization
    assert v is not None and (v.num_lrs, v.priority_bits, v.preemption_bits) == (4, 5, 5)
    assert v.vtr == 0x9000_0003
    cfg = run(kvm_image(), "kvm").config
    assert (cfg.num_cpus, cfg.num_irqs, cfg.priority_bits, cfg.min_bpr) == (2, 288, 5, 2)
    assert (cfg.sgi_enables_rao_wi, cfg.ppi_trigger_programmable) == (False, False)
    assert cfg.virtualization is None
    assert run(GicImage(virt=False)).config.virtualization is None


def test_kvm_spi_masks_are_all_or_nothing() -> None:
    gic = kvm_image()
    gic.irq(40, pending=0xFF).irq(41, pending=0x01).irq(42, pending=0x02)
    msg = refused(gic, "QEMU-ACCEL-MISMATCH", "kvm")
    assert "irq 41 (SPI 9)" in msg and "0x01" in msg
    gic = kvm_image()
    gic.irq(50, active=0xFF).irq(51, active=0x03)
    msg = refused(gic, "QEMU-ACCEL-MISMATCH", "kvm")
    assert "irq 51 (SPI 19)" in msg and "0x03" in msg


# --- the stream layout (§5.3: main fields 9888 bytes, virtualization subsection 2240) -----------
def test_vmstate_layout() -> None:
    from gicmig.views.qemu.vmstate import GIC_FIELDS, GIC_SIZE, VIRT_FIELDS, VIRT_SIZE

    assert {n: (f.offset, f.size, f.count) for n, f in GIC_FIELDS.items()} == {
        "ctlr": (0, 4, 1), "cpu_ctlr": (4, 4, 8), "irq_state": (36, 7, 1020),
        "irq_target": (7176, 1, 1020), "priority1": (8196, 1, 256), "priority2": (8452, 1, 988),
        "sgi_pending": (9440, 1, 128), "priority_mask": (9568, 2, 8),
        "running_priority": (9584, 2, 8), "current_pending": (9600, 2, 8), "bpr": (9616, 1, 8),
        "abpr": (9624, 1, 8), "apr": (9632, 4, 32), "nsapr": (9760, 4, 32)}
    assert {n: (f.offset, f.size, f.count) for n, f in VIRT_FIELDS.items()} == {
        "h_hcr": (0, 4, 8), "h_misr": (32, 4, 8), "h_lr": (64, 4, 512), "h_apr": (2112, 4, 8),
        "cpu_ctlr": (2144, 4, 8), "priority_mask": (2176, 2, 8), "running_priority": (2192, 2, 8),
        "current_pending": (2208, 2, 8), "bpr": (2224, 1, 8), "abpr": (2232, 1, 8)}
    assert (GIC_SIZE, VIRT_SIZE) == (9888, 2240)


def test_section_fields_are_big_endian() -> None:
    from gicmig.views.qemu.stream import read_arm_gic

    gic = GicImage(virt=False)
    gic.set("priority_mask", 1, 0x0102).set("apr", 3 * NCPU + 7, 0x0A0B_0C0D)
    sec = read_arm_gic(io.BytesIO(stream(gic.section())))
    assert sec.field("priority_mask")[1] == 0x0102
    assert sec.field("apr")[3 * NCPU + 7] == 0x0A0B_0C0D
    assert sec.raw("priority_mask")[2:4] == b"\x01\x02"
    with pytest.raises(KeyError):
        sec.virt_field("h_hcr")
    with pytest.raises(KeyError):
        sec.virt_raw("bpr")
    virt = read_arm_gic(io.BytesIO(stream(GicImage().vset("h_hcr", 1, 0x0102_0304).section())))
    assert virt.virt_field("h_hcr")[:2] == (0, 0x0102_0304)
    assert virt.virt_raw("h_hcr")[4:8] == b"\x01\x02\x03\x04"


def test_input_run_counts_records() -> None:
    """`StreamInput.run` skips the records whose flag byte (byte 7 of the big-endian address
    word) is the flag and returns how many: zero pages are 9 bytes, address | flags + fill."""
    from gicmig.views.qemu.stream import StreamInput

    def zero_page(k: int, flags: int = 0x22) -> bytes:
        return (k * 4096 | flags).to_bytes(8, "big") + b"\0"

    for count in (1, 3, 17, 100):
        data = b"".join(zero_page(k + 1) for k in range(count)) + zero_page(0, 0x28)
        inp = StreamInput(io.BytesIO(data))
        inp.take(0)
        inp._fill(len(data))
        assert inp.run(0x22, 9, 0) == count
        assert inp.offset == 9 * count
        assert inp.take(8) == (0x28).to_bytes(8, "big")
    # a record whose byte 6 has a bit of mask6 ends the run
    data = zero_page(1) + (0x1000 | 0x100 | 0x22).to_bytes(8, "big") + b"\0"
    inp = StreamInput(io.BytesIO(data))
    inp._fill(len(data))
    assert inp.run(0x22, 9, 0x01) == 1
    assert inp.offset == 9
    for clean in (2, 3, 20):  # the first record with a mask6 bit ends the run, wherever it is
        data = b"".join(zero_page(k + 1) for k in range(clean))
        data += (0x9000 | 0x100 | 0x22).to_bytes(8, "big") + b"\0" + zero_page(40)
        inp = StreamInput(io.BytesIO(data))
        inp._fill(len(data))
        assert inp.run(0x22, 9, 0x01) == clean
        assert inp.offset == 9 * clean


def test_machine_name_length_limit() -> None:
    """The configuration record names the machine; gicmig reads names up to 4096 bytes."""
    from gicmig.views.qemu.stream import read_arm_gic

    gic = GicImage(virt=False).section()
    sec = read_arm_gic(io.BytesIO(stream(gic, machine="v" * 4096)))
    assert sec.machine == "v" * 4096 and sec.located_by != "search"
    with pytest.raises(GicmigError) as info:
        read_arm_gic(io.BytesIO(stream(gic, machine="v" * 4097)))
    assert info.value.code == "QEMU-FRAMING" and "4097 bytes" in str(info.value)


def test_an_spi_line_level_is_all_or_nothing() -> None:
    gic = GicImage()
    gic.irq(45, level=0x01)
    msg = refused(gic, "QEMU-VALUE-IMPOSSIBLE")
    assert msg.startswith("QEMU-VALUE-IMPOSSIBLE irq 45 (SPI 13): the SPI line level is neither")
