"""Real KVM at reset, never-run vCPUs, and every fact of real-implementations.md §2 that
the KVM view depends on: each is observed on a real Linux KVM vgic-v2 (one boot) and
checked against what the view reads, writes or predicts."""

from __future__ import annotations

import pytest
from kvm.driver import (
    GICC,
    IRQ_SPI,
    OP_DONE,
    OP_LOAD_REPORT,
    OP_STORE,
    SPURIOUS,
    BootResult,
    Case,
    CaseResult,
)
from realkvm import boot, count

from gicmig.abi.kvm import kvm_config, kvm_iidr
from gicmig.abi.kvm.access import Access, KvmDump
from gicmig.arch.registers import (
    GICD_IIDR,
    KVM_GICC_CTLR,
    KVM_IIDR_GROUPS_WRITABLE,
    KVM_MIN_BPR,
    KVM_PRIORITY_BITS,
)
from gicmig.core.model import GicState
from gicmig.errors import GicmigError
from gicmig.views.kvm import dump_kvm, export_kvm, import_kvm

pytestmark = pytest.mark.realkvm

SHAPES = [(n, m) for n in (1, 2, 4, 8) for m in (64, 128, 288, 992)]
GICD_CTLR, GICD_IIDR_OFF, GICD_SGIR = 0x000, GICD_IIDR.offset, 0xF00
IGROUPR, ISENABLER, ICENABLER, ISPENDR, ICPENDR, ISACTIVER = (
    0x080, 0x100, 0x180, 0x200, 0x280, 0x300)
IPRIORITYR, ITARGETSR, ICFGR, SPENDSGIR = 0x400, 0x800, 0xC00, 0xF20
GICC_CTLR, GICC_PMR, GICC_BPR, GICC_ABPR, GICC_APR0, GICC_NSAPR0 = (
    0x00, 0x04, 0x08, 0x1C, 0xD0, 0xE0)
FOREIGN_IIDR = 0x0100143B  # ARM's GIC-400, not KVM's
BAD_REVISIONS = (0, 1, 4)
NEVER_RUN = [(2, 0b01), (4, 0b0101), (8, 0b0000_0001), (8, 0b1010_1010)]  # (vCPUs, ran)


def _cases() -> list[Case]:
    cases = [Case(f"reset-{n}-{m}").vm(n, m).dump(full=True) for n, m in SHAPES]
    for n, ran in NEVER_RUN:
        case = Case(f"never-run-{n}-{ran:x}").vm(n, 96)
        for c in range(n):
            if ran >> c & 1:
                case.run(c, [(OP_DONE, 0, 0)])
        cases.append(case.dump())
    for rev in (2, 3):
        cases.append(Case(f"iidr-{rev}").vm(2, 64).write("dist", 0, GICD_IIDR_OFF, kvm_iidr(rev))
                     .read("dist", 0, GICD_IIDR_OFF).read("dist", 1, GICD_IIDR_OFF)
                     .write("dist", 1, IGROUPR + 4, 0xF0F0_F0F0).read("dist", 0, IGROUPR + 4))
    for rev in BAD_REVISIONS:
        cases.append(Case(f"iidr-bad-{rev}").vm(2, 64)
                     .write("dist", 0, GICD_IIDR_OFF, kvm_iidr(rev))
                     .read("dist", 0, GICD_IIDR_OFF))
    cases.append(Case("iidr-foreign").vm(1, 64).write("dist", 0, GICD_IIDR_OFF, FOREIGN_IIDR)
                 .read("dist", 0, GICD_IIDR_OFF))
    cases.append(Case("iidr-per-vm").vm(1, 64).write("dist", 0, GICD_IIDR_OFF, kvm_iidr(2))
                 .vm(1, 64).read("dist", 0, GICD_IIDR_OFF))
    # IGROUPR before and after IIDR, banked and shared
    cases.append(Case("igroupr").vm(2, 64)
                 .write("dist", 0, IGROUPR + 4, 0xFFFF_FFFF).write("dist", 1, IGROUPR, 0xFFFF_FFFF)
                 .read("dist", 0, IGROUPR + 4).read("dist", 1, IGROUPR)
                 .write("dist", 0, GICD_IIDR_OFF, kvm_iidr(2))
                 .write("dist", 0, IGROUPR + 4, 0xFFFF_FFFF).write("dist", 1, IGROUPR, 0xFFFF_FFFF)
                 .read("dist", 0, IGROUPR + 4).read("dist", 1, IGROUPR).read("dist", 0, IGROUPR))
    cases.append(Case("spendsgir-absent").vm(2, 64)
                 .write("dist", 0, SPENDSGIR, 0xFFFF_FFFF).read("dist", 0, SPENDSGIR)
                 .read("dist", 0, ISPENDR)
                 .run(0, [(OP_DONE, 0, 0)]).run(1, [(OP_DONE, 0, 0)]).dump())
    # GICD_SGIR from userspace: vcpu1 and vcpu2 send SGI 3 to vcpu0, vcpu3 SGI 5 to itself
    cases.append(Case("sgir").vm(4, 64)
                 .write("dist", 1, GICD_SGIR, 1 << 16 | 3).write("dist", 2, GICD_SGIR, 1 << 16 | 3)
                 .write("dist", 3, GICD_SGIR, 2 << 24 | 5)
                 .read("dist", 0, SPENDSGIR).read("dist", 3, SPENDSGIR + 4)
                 .read("dist", 0, ISPENDR).read("dist", 0, GICD_SGIR))
    cases.append(Case("ispendr-sgi").vm(2, 64).write("dist", 1, ISPENDR, 1 << 4)
                 .read("dist", 1, SPENDSGIR + 4).read("dist", 0, SPENDSGIR + 4))
    pmr = Case("pmr").vm(1, 64)
    for value in (0xF0, 0x1F, 0x10, 0xFFFF_FFFF):
        pmr.write("cpu", 0, GICC_PMR, value).read("cpu", 0, GICC_PMR)
    cases.append(pmr)
    cases.append(Case("icfgr").vm(2, 64)
                 .write("dist", 0, ICFGR + 8, 0xFFFF_FFFF).read("dist", 0, ICFGR + 8)
                 .write("dist", 0, ICFGR + 12, 0x5555_5555).read("dist", 0, ICFGR + 12)
                 .write("dist", 0, ICFGR + 4, 0xAAAA_AAAA).read("dist", 0, ICFGR + 4)
                 .write("dist", 0, ICFGR, 0).read("dist", 0, ICFGR))
    ctlr = Case("ctlr").vm(2, 64)
    for value in (2, 3, 0xFFFF_FFFF):
        ctlr.write("dist", 0, GICD_CTLR, value).read("dist", 0, GICD_CTLR)
    ctlr.write("cpu", 1, GICC_CTLR, 0xFFFF_FFFF).read("cpu", 1, GICC_CTLR)
    cases.append(ctlr)
    apr = Case("apr").vm(1, 64)
    for off in (GICC_APR0, GICC_APR0 + 4, GICC_APR0 + 12, GICC_NSAPR0):
        apr.write("cpu", 0, off, 0xFFFF_FFFF).read("cpu", 0, off)
    cases.append(apr)
    cases.append(Case("bpr").vm(2, 64).write("cpu", 1, GICC_BPR, 0).write("cpu", 1, GICC_ABPR, 0)
                 .read("cpu", 1, GICC_BPR).read("cpu", 1, GICC_ABPR)
                 .write("cpu", 0, GICC_BPR, 1).write("cpu", 0, GICC_ABPR, 2)
                 .run(0, [(OP_DONE, 0, 0)]).read("cpu", 0, GICC_BPR).read("cpu", 0, GICC_ABPR))
    cases.append(Case("priority-targets").vm(2, 64)
                 .write("dist", 0, IPRIORITYR + 32, 0xFFFF_FFFF).read("dist", 0, IPRIORITYR + 32)
                 .write("dist", 0, ITARGETSR + 32, 0xFFFF_FFFF).read("dist", 0, ITARGETSR + 32)
                 .write("dist", 1, ITARGETSR, 0xFFFF_FFFF).read("dist", 1, ITARGETSR))
    cases.append(Case("sgi-enables").vm(1, 64).write("dist", 0, ICENABLER, 0xFFFF_FFFF)
                 .read("dist", 0, ISENABLER))
    # level SPIs 36 and 37: line high vs ICPENDR; a latch outliving its line
    cases.append(Case("levels").vm(1, 64).write("dist", 0, ICFGR + 8, 0)
                 .line(IRQ_SPI, 0, 36, 1).write("dist", 0, ICPENDR + 4, 1 << 4)
                 .read("dist", 0, ISPENDR + 4)
                 .write("dist", 0, ISPENDR + 4, 1 << 5).line(IRQ_SPI, 0, 37, 1)
                 .line(IRQ_SPI, 0, 37, 0).line(IRQ_SPI, 0, 36, 0).read("dist", 0, ISPENDR + 4)
                 .write("dist", 0, ICPENDR + 4, 1 << 5).read("dist", 0, ISPENDR + 4)
                 .run(0, [(OP_DONE, 0, 0)]).line(IRQ_SPI, 0, 36, 1).dump())
    # five active SPIs and a pending one on a vCPU with 4 list registers
    lrs = Case("lr-overflow").vm(1, 64).write("dist", 0, GICD_CTLR, 1)
    lrs.write("dist", 0, ISENABLER + 4, 0xFFFF_FFFF).write("dist", 0, ISACTIVER + 4, 0x1F)
    lrs.write("dist", 0, IPRIORITYR + 40, 0x8080_8080).write("dist", 0, ISPENDR + 4, 1 << 8)
    cases.append(lrs.run(0, [(OP_STORE, GICC + GICC_CTLR, 1), (OP_STORE, GICC + GICC_PMR, 0xF8),
                             (OP_LOAD_REPORT, GICC + 0x0C, 0)]))
    return cases


@pytest.fixture(scope="module")
def facts(kvm_artifacts) -> BootResult:  # type: ignore[no-untyped-def]
    return boot(kvm_artifacts, _cases(), "reset and facts")


def _ok(facts: BootResult, name: str) -> CaseResult:
    res = facts.results[name]
    assert res.vm_created, res.errors
    return res


def _reads(res: CaseResult) -> list[int]:
    return [v for _, _, _, v in res.reads]


def _kvm_reset(n: int, m: int) -> GicState:
    """KVM's reset as the view models it: SPIs edge, IIDR revision 3 (BPR aside)."""
    st = GicState.reset(kvm_config(n, m))
    st.enable_grp1_unknown = True
    st.shared.edge = (1 << st.config.num_spis) - 1
    return st


# --- reset and never-run vCPUs ------------------------------------------------------------
@pytest.mark.parametrize(("n", "m"), SHAPES)
def test_reset_every_offset_reads_and_only_bpr_differs(facts: BootResult, n: int, m: int) -> None:
    """Every 4-byte offset of both frames of every vCPU reads without error; the registers
    equal the view's prediction for KVM's reset (SPIs edge), except GICC_BPR/ABPR: 0 on
    a vCPU that never ran (the view's minima are 2 / 3)."""
    res = _ok(facts, f"reset-{n}-{m}")
    assert res.errors == []
    (dump,) = res.dumps
    got = dump.registers()
    assert len(got) == n * (0x1000 + 0x2000) // 4
    want = dump_kvm(_kvm_reset(n, m), iidr_revision=3).registers()
    differ = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
    bpr = {("cpu", c, GICC_BPR): (KVM_MIN_BPR, 0) for c in range(n)}
    bpr |= {("cpu", c, GICC_ABPR): (KVM_MIN_BPR + 1, 0) for c in range(n)}
    assert differ == bpr
    others = {k: v for k, v in got.items()
              if k not in want and v != want.get((k[0], 0, k[2]), 0)}
    assert others == {}
    count("reset: registers read (every offset, every vCPU)", len(got))


@pytest.mark.parametrize(("n", "m"), SHAPES)
def test_reset_imports(facts: BootResult, n: int, m: int) -> None:
    """KVM's own state right after VM creation imports, with the binary points the guest
    will observe, and the import names each normalization."""
    (dump,) = _ok(facts, f"reset-{n}-{m}").dumps
    state = import_kvm(dump)
    assert [(c.bpr, c.abpr) for c in state.cpu] == [(KVM_MIN_BPR, KVM_MIN_BPR + 1)] * n
    assert state == import_kvm(_with_bpr(dump, range(n))) == _kvm_reset(n, m)
    assert len(state.normalizations) == n
    assert all(f"vcpu{c}" in str(v) and "GICC_BPR 0 -> 2" in str(v)
               for c, v in enumerate(state.normalizations))


def _with_bpr(dump: KvmDump, vcpus: range | list[int]) -> KvmDump:
    """The dump with the binary points the guest would observe (the clamp of the first run)."""
    fixed = {("cpu", c, GICC_BPR): KVM_MIN_BPR for c in vcpus}
    fixed |= {("cpu", c, GICC_ABPR): KVM_MIN_BPR + 1 for c in vcpus}
    return KvmDump(dump.nr_irqs, tuple(
        Access(a.group, a.vcpu, a.offset, fixed.get(a.key, a.value)) for a in dump.accesses))


@pytest.mark.parametrize(("n", "ran"), NEVER_RUN)
def test_never_run_vcpus_read_bpr_zero(facts: BootResult, n: int, ran: int) -> None:
    """A vCPU that ran reads the clamped minima; one that never ran reads 0 / 0."""
    res = _ok(facts, f"never-run-{n}-{ran:x}")
    assert res.errors == [] and res.done == [c for c in range(n) if ran >> c & 1]
    regs = res.dumps[0].registers()
    for c in range(n):
        want = (KVM_MIN_BPR, KVM_MIN_BPR + 1) if ran >> c & 1 else (0, 0)
        assert (regs[("cpu", c, GICC_BPR)], regs[("cpu", c, GICC_ABPR)]) == want
    # with the never-run vCPUs' binary points as the guest will see them, it imports
    never = [c for c in range(n) if not ran >> c & 1]
    assert import_kvm(_with_bpr(res.dumps[0], never)) == _kvm_reset(n, 96)


@pytest.mark.parametrize(("n", "ran"), NEVER_RUN)
def test_never_run_vcpus_import(facts: BootResult, n: int, ran: int) -> None:
    res = _ok(facts, f"never-run-{n}-{ran:x}")
    never = [c for c in range(n) if not ran >> c & 1]
    state = import_kvm(res.dumps[0])
    assert state == import_kvm(_with_bpr(res.dumps[0], never))
    assert [next(c for c in never if f"vcpu{c}" in str(v)) for v in state.normalizations] == never


# --- §2 facts ---------------------------------------------------------------------------------
@pytest.mark.parametrize("rev", [2, 3])
def test_iidr_revisions_2_and_3_are_kept_per_vm(facts: BootResult, rev: int) -> None:
    res = _ok(facts, f"iidr-{rev}")
    assert res.errors == []
    assert _reads(res) == [kvm_iidr(rev), kvm_iidr(rev), 0xF0F0_F0F0]  # groups now writable
    # the view: the revision leads the writes, is read back, and is re-selected on export
    state = GicState.reset(kvm_config(2, 64))
    state.provenance.gicd_iidr = kvm_iidr(rev)
    assert export_kvm(state)[0] == Access("dist", 0, GICD_IIDR_OFF, kvm_iidr(rev))
    assert rev >= KVM_IIDR_GROUPS_WRITABLE


@pytest.mark.parametrize("rev", BAD_REVISIONS)
def test_iidr_other_revisions_are_refused(facts: BootResult, rev: int) -> None:
    res = _ok(facts, f"iidr-bad-{rev}")
    assert res.errors == [f"W d 0 8 {kvm_iidr(rev):x} EINVAL"]
    assert _reads(res) == [kvm_iidr(3)]
    # the view never writes those: revision 1 export writes no IIDR at all
    state = GicState.reset(kvm_config(2, 64))
    if rev == 1:
        assert all(w.offset != GICD_IIDR_OFF or w.group != "dist"
                   for w in export_kvm(state, iidr_revision=1))


def test_iidr_foreign_value_is_refused_and_revision_is_per_vm(facts: BootResult) -> None:
    res = _ok(facts, "iidr-foreign")
    assert res.errors == [f"W d 0 8 {FOREIGN_IIDR:x} EINVAL"]
    assert _reads(res) == [kvm_iidr(3)]
    assert _reads(_ok(facts, "iidr-per-vm")) == [kvm_iidr(3)]  # a new VM starts at 3
    with pytest.raises(GicmigError) as info:  # and the view refuses such an IIDR in a dump
        import_kvm(_patched(_ok(facts, "reset-1-64").dumps[0], ("dist", 0, 8), FOREIGN_IIDR))
    assert info.value.code == "KVM-DUMP-IIDR"


def _patched(dump: KvmDump, key: tuple[str, int, int], value: int) -> KvmDump:
    return KvmDump(dump.nr_irqs, tuple(Access(a.group, a.vcpu, a.offset, value)
                                       if a.key == key else a for a in dump.accesses))


def test_igroupr_writes_are_ignored_until_iidr_is_written(facts: BootResult) -> None:
    res = _ok(facts, "igroupr")
    assert res.errors == []
    assert _reads(res) == [0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF, 0]
    # the view writes IIDR before any IGROUPR
    state = GicState.reset(kvm_config(2, 64))
    state.shared.group = 1
    writes = export_kvm(state)
    first_group = next(i for i, w in enumerate(writes) if IGROUPR <= w.offset < IGROUPR + 0x80)
    assert writes[0].offset == GICD_IIDR_OFF and first_group > 0


def test_spendsgir_keeps_source_bits_of_absent_vcpus(facts: BootResult) -> None:
    res = _ok(facts, "spendsgir-absent")
    assert res.errors == []
    assert _reads(res) == [0xFFFF_FFFF, 0xF]  # 0xff sources on a 2-vCPU VM; SGIs 0-3 pending
    # the view never writes a source beyond the vCPUs, and refuses a dump that shows one
    with pytest.raises(GicmigError) as info:
        import_kvm(res.dumps[0])
    assert info.value.code == "SGI-SOURCE-ABSENT-CPU"
    assert "cpu0 irq 0 (SGI 0): pending from CPUs {0,1,2,3,4,5,6,7}" in str(info.value)


def test_gicd_sgir_writes_send_sgis_with_the_attr_vcpu_as_source(facts: BootResult) -> None:
    res = _ok(facts, "sgir")
    assert res.errors == []
    spendsgir0_vcpu0, spendsgir1_vcpu3, ispendr0_vcpu0, sgir = _reads(res)
    assert spendsgir0_vcpu0 == 0b0110 << 24  # SGI 3 on vcpu0, from vcpu1 and vcpu2
    assert spendsgir1_vcpu3 == 0b1000 << 8  # SGI 5 on vcpu3, from itself
    assert ispendr0_vcpu0 == 1 << 3 and sgir == 0
    # so the view's writes never touch GICD_SGIR
    state = GicState.reset(kvm_config(4, 64))
    state.banked[0].sgi_sources = bytes([0, 0, 0, 0b0110])
    assert all(w.offset != GICD_SGIR for w in export_kvm(state))


def test_ispendr0_makes_the_written_vcpu_the_sgi_source(facts: BootResult) -> None:
    res = _ok(facts, "ispendr-sgi")
    assert _reads(res) == [0b10, 0]
    state = GicState.reset(kvm_config(2, 64))
    state.banked[1].sgi_sources = bytes([0, 0, 0, 0, 0b01])
    ispendr0 = [w for w in export_kvm(state) if w.offset == ISPENDR and w.vcpu == 1]
    assert ispendr0 and all(w.value & 0xFFFF == 0 for w in ispendr0)


def test_pmr_is_the_five_bit_vmprimask(facts: BootResult) -> None:
    res = _ok(facts, "pmr")
    assert res.errors == []
    assert _reads(res) == [0x10, 0x1F, 0x10, 0x1F]
    state = GicState.reset(kvm_config(1, 64))
    state.cpu[0].pmr = 0x80
    pmr = [w.value for w in export_kvm(state) if w.group == "cpu" and w.offset == GICC_PMR]
    assert pmr == [0x10]
    assert import_kvm(_patched(_with_bpr(_ok(facts, "reset-1-64").dumps[0], [0]),
                               ("cpu", 0, GICC_PMR), 0x10)).cpu[0].pmr == 0x80


def test_icfgr_ignores_bit_0_and_private_words(facts: BootResult) -> None:
    res = _ok(facts, "icfgr")
    assert res.errors == []
    assert _reads(res) == [0xAAAA_AAAA, 0, 0, 0xAAAA_AAAA]
    # the view refuses a bit 0 KVM never returns, and never writes one
    with pytest.raises(GicmigError) as info:
        import_kvm(_patched(_ok(facts, "reset-1-64").dumps[0], ("dist", 0, ICFGR + 8),
                            0xFFFF_FFFF))
    assert info.value.code == "KVM-DUMP-RESERVED-BITS"
    state = GicState.reset(kvm_config(1, 64))
    state.shared.edge = (1 << 32) - 1
    cfg = [w.value for w in export_kvm(state) if ICFGR <= w.offset < ICFGR + 0x100]
    assert cfg and all(v & 0x5555_5555 == 0 for v in cfg)


@pytest.mark.parametrize(("n", "m"), SHAPES)
def test_spis_reset_edge_triggered_and_the_view_writes_every_icfgr(
        facts: BootResult, n: int, m: int) -> None:
    regs = _ok(facts, f"reset-{n}-{m}").dumps[0].registers()
    assert [regs[("dist", 0, ICFGR + 4 * i)] for i in range(2, m // 16)] == \
        [0xAAAA_AAAA] * (m // 16 - 2)
    assert regs[("dist", 0, ICFGR + 4)] == 0  # PPIs level
    # a restore cannot rely on the destination's trigger: every SPI ICFGR word is written
    written = {w.offset for w in export_kvm(GicState.reset(kvm_config(n, m)))
               if ICFGR + 8 <= w.offset < ICFGR + 0x100}
    assert written == {ICFGR + 4 * i for i in range(2, m // 16)}


def test_distributor_and_cpu_ctlr(facts: BootResult) -> None:
    res = _ok(facts, "ctlr")
    assert res.errors == []
    assert _reads(res) == [0, 1, 1, 0x21F]
    assert KVM_GICC_CTLR.defined_mask == 0x21F


def test_apr0_keeps_32_bits_and_the_others_read_zero(facts: BootResult) -> None:
    res = _ok(facts, "apr")
    assert res.errors == []
    assert _reads(res) == [0xFFFF_FFFF, 0, 0, 0]


def test_userspace_binary_points_are_kept_until_the_first_run(facts: BootResult) -> None:
    res = _ok(facts, "bpr")
    assert res.errors == []
    # 0 / 0 written to a never-run vCPU is kept; 1 / 2 are clamped by the first run
    assert _reads(res) == [0, 0, KVM_MIN_BPR, KVM_MIN_BPR + 1]


def test_priorities_keep_five_bits_and_targets_are_masked(facts: BootResult) -> None:
    res = _ok(facts, "priority-targets")
    assert res.errors == []
    prio, targets, private = _reads(res)
    assert prio == 0xF8F8_F8F8 == int.from_bytes(bytes([0xFF << (8 - KVM_PRIORITY_BITS) & 0xFF])
                                                 * 4, "little")
    assert targets == 0x0303_0303  # the two vCPUs that exist
    assert private == 0x0202_0202  # read-only: the reading vCPU's own bit


def test_sgi_enables_are_writable(facts: BootResult) -> None:
    res = _ok(facts, "sgi-enables")
    assert _reads(res) == [0]
    assert not kvm_config(1, 64).sgi_enables_rao_wi


def test_level_lines_and_latches(facts: BootResult) -> None:
    """A level interrupt with its line high reads pending and ICPENDR cannot clear it; a
    latch set by ISPENDR survives its line's fall and is cleared by ICPENDR."""
    res = _ok(facts, "levels")
    assert res.errors == []
    assert _reads(res) == [1 << 4, 1 << 5, 0]
    # the view reads line OR latch as a latch whose split is unknown
    state = import_kvm(res.dumps[0])
    assert state.shared.pending_latch == state.shared.pending_split_unknown == 1 << 4
    assert state.shared.line_level == 0


def test_active_interrupts_fill_the_list_registers_first(facts: BootResult) -> None:
    """Five active SPIs on a vCPU with 4 LRs: the pending SPI never reaches an LR."""
    res = _ok(facts, "lr-overflow")
    assert res.errors == []
    assert res.reports == [(0, SPURIOUS)]
