"""Pinned edges of the GICH view that the large mutation sample found unpinned
(docs/testing.md). Layouts from gic-domain.md §3.2: GICH_LR VirtualID [9:0], CPUID [12:10],
Priority [27:23], State [29:28], HW [31]; every register is a 32-bit value.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_pinned_gich import regs

from gicmig.core.model import UNKNOWN_CPU, GicConfig, GicState, HwMapping
from gicmig.errors import GicmigError, ValidationError
from gicmig.views.gich import export_gich, fold_nested, fold_vcpu, import_gich, vtr_params
from gicmig.views.gich.viewfile import GichView, VcpuRegs


def _codes(r: VcpuRegs, **kw: object) -> list[str]:
    with pytest.raises(ValidationError) as info:
        fold_vcpu(r, 0, **kw)  # type: ignore[arg-type]
    return [v.code for v in info.value.violations]


@pytest.mark.parametrize("field", ["vtr", "hcr", "vmcr", "apr", "lr"])
@pytest.mark.parametrize("value", [-1, -2, 1 << 32])
def test_fold_refuses_a_register_outside_32_bits(field: str, value: int) -> None:
    r = regs(0x1000_0020)
    kw = {"vtr": r.vtr, "hcr": r.hcr, "vmcr": r.vmcr, "apr": r.apr, "lr": r.lr}
    kw[field] = (value, *r.lr[1:]) if field == "lr" else value
    assert _codes(VcpuRegs(**kw)) == ["GICH-VIEW-SCHEMA"]  # type: ignore[arg-type]


def test_fold_takes_the_32_bit_edges() -> None:
    f = fold_vcpu(regs(0x1000_0020, 0, 0, 0), 0)  # 0 is a register value like any other
    assert [x.intid for x in f.lrs] == [32]
    with pytest.raises(ValidationError) as info:  # 0xffffffff: refused by content, not size
        fold_vcpu(regs(0x1000_0020, hcr=0xFFFF_FFFF), 0)
    assert "GICH-VIEW-SCHEMA" not in [v.code for v in info.value.violations]


@pytest.mark.parametrize(("cpuid", "codes"), [(1, []), (2, ["GICH-LR-CPUID-ABSENT"])])
def test_an_sgi_source_is_one_of_the_cpus(cpuid: int, codes: list[str]) -> None:
    """CPUID of a pending SGI 5 at the edge: CPU 1 exists in a 2-CPU GIC, CPU 2 does not."""
    r = regs(0x1000_0005 | cpuid << 10)
    if codes:
        assert _codes(r, num_cpus=2) == codes
    else:
        assert [(x.intid, x.source) for x in fold_vcpu(r, 0, num_cpus=2).lrs] == [(5, cpuid)]


def test_fold_refuses_no_list_register() -> None:
    assert _codes(VcpuRegs(0x9000_0003, 1, 0x004C_0000, 0, ())) == ["GICH-VIEW-SCHEMA"]


@pytest.mark.parametrize(("vid", "ok"), [(0, True), (15, True), (16, False), (32, False)])
def test_lr_cpuid_only_on_an_sgi(vid: int, ok: bool) -> None:
    """§3.2: CPUID [12:10] names the source of a virtual SGI (IDs 0..15) only."""
    lr = 0x1000_0400 | vid  # pending, CPUID 1
    if ok:
        f = fold_vcpu(regs(lr), 0, num_cpus=2, num_irqs=64)
        assert [(x.intid, x.source) for x in f.lrs] == [(vid, 1)]
    else:
        assert _codes(regs(lr), num_cpus=2, num_irqs=64) == ["GICH-LR-CPUID-NOT-SGI"]


# --- merge with the distributor image ------------------------------------------------------------
def _image(num_cpus: int = 2) -> GicState:
    st = GicState.reset(GicConfig(num_cpus, 64, priority_bits=5, min_bpr=2,
                                  sgi_enables_rao_wi=False))
    st.enable_grp0 = st.enable_grp1 = True
    return st


def _refused(view: GichView, **kw: object) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        import_gich(view, **kw)  # type: ignore[arg-type]
    return [(v.code, v.path) for v in info.value.violations]


def test_vtr_inconsistency_names_the_vcpu_and_cpu0s_value() -> None:
    other = regs(vtr=0x9000_0001)  # 2 LRs where cpu0 has 4
    with pytest.raises(GicmigError) as info:
        import_gich(GichView((regs(), other), _image()))
    assert info.value.code == "GICH-VTR-INCONSISTENT"
    assert info.value.message == "cpu1 gich.vtr: 0x90000001, cpu0 reads 0x90000003"


def test_one_violation_per_level_lr_pending_without_latch_or_line() -> None:
    """A level SPI pending + active in cpu0's LR, the image: neither latched nor high, active
    on cpu1. The LR is refused for its pending state only; nothing more is read from it."""
    img = _image()
    sh = img.shared
    sh.enabled, sh.priority, sh.targets = 1 << 8, bytes(8) + b"\x40", bytes(8) + b"\x03"
    sh.active, sh.active_cpu = 1 << 8, bytes(8) + b"\x01"
    lr = 0x3400_0028  # pending + active, priority 0x40, vID 40
    assert _refused(GichView((regs(lr), regs()), img)) == [
        ("GICH-LR-LEVEL-PENDING-MISMATCH", "cpu0 gich.lr0")]


@pytest.mark.parametrize("holder", [0, 1])
def test_a_free_lr_naming_an_idle_spi_is_not_ambiguous(holder: int) -> None:
    """An idle SPI (not active, not latched; its active-CPU byte 0 at reset) named by a free
    LR of cpu0 or cpu1: nothing the guest may have finished there."""
    img = _image()
    free = (regs(0x0000_0028), regs())[::1 if holder == 0 else -1]  # names SPI 40
    st = import_gich(GichView(free, img))
    assert st.shared.active == st.shared.pending_latch == 0
    img.shared.active = 1 << 8  # active on cpu0: it may have been finished in cpu0's LR
    if holder == 0:
        assert _refused(GichView(free, img)) == [
            ("GICH-LR-INVALID-AMBIGUOUS", "cpu0 gich.lr0")]
    else:
        import_gich(GichView(free, img))


def test_a_valid_lr_decides_the_stale_latch_mark_of_its_ppi() -> None:
    """gicmig.abi.kvm.maybe_stale_latch: an active-only LR with EOI marks an active level
    PPI's latch maybe stale; a pending + active LR is an explicit re-pend and clears it. The
    mark of the PPI next to it (no LR) is the image's and stays."""
    img = _image(1)
    b = img.banked[0]
    b.enabled, b.priority = 0b11 << 20, bytes(20) + b"\x40\x40"
    b.active = b.pending_latch = b.latch_maybe_stale = 0b11 << 20
    repend = 0x3400_0014  # pending + active, priority 0x40, vID 20
    st = import_gich(GichView((regs(repend),), img))
    assert st.banked[0].latch_maybe_stale == 1 << 21
    kvm = 0x2408_0014  # active + EOI: KVM's way to queue an active level PPI
    st = import_gich(GichView((regs(kvm),), img))
    assert st.banked[0].latch_maybe_stale == 0b11 << 20
    no_eoi = 0x2400_0014  # active only, without EOI: decides "not stale"
    assert import_gich(GichView((regs(no_eoi),), img)).banked[0].latch_maybe_stale == 1 << 21
    img.banked[0].latch_maybe_stale = 0
    st = import_gich(GichView((regs(kvm),), img))
    assert st.banked[0].latch_maybe_stale == 1 << 20


def test_a_valid_lr_decides_the_stale_latch_mark_of_its_spi() -> None:
    """The same for SPIs 40 and 41 (active on cpu0, level, latched, both marked): a
    pending + active LR clears SPI 40's mark, KVM's active-only LR with EOI keeps or sets
    it, an active-only LR without EOI (not how KVM queues it) clears it; SPI 41 has no LR
    and keeps the image's mark."""
    img = _image(1)
    sh = img.shared
    sh.enabled = sh.active = sh.pending_latch = sh.latch_maybe_stale = 0b11 << 8
    sh.priority = bytes(8) + b"\x40\x40"  # one CPU: no targets (ITARGETSR RAZ/WI)
    repend, kvm, no_eoi = 0x3400_0028, 0x2408_0028, 0x2400_0028  # vID 40, priority 0x40
    assert import_gich(GichView((regs(repend),), img)).shared.latch_maybe_stale == 1 << 9
    assert import_gich(GichView((regs(kvm),), img)).shared.latch_maybe_stale == 0b11 << 8
    assert import_gich(GichView((regs(no_eoi),), img)).shared.latch_maybe_stale == 1 << 9
    sh.latch_maybe_stale = 0
    assert import_gich(GichView((regs(kvm),), img)).shared.latch_maybe_stale == 1 << 8
    assert import_gich(GichView((regs(no_eoi),), img)).shared.latch_maybe_stale == 0


def test_the_exported_image_has_its_cpu_interfaces_at_reset() -> None:
    """The view's GICH_VMCR/GICH_APR hold the CPU interfaces; the image keeps them at reset
    (the import accepts the reset state or exactly what GICH_VMCR/GICH_APR give)."""
    from gicmig.formats.io import load

    state = load(Path(__file__).parent.parent / "fixtures" / "v1" / "busy.json")
    cfg = state.config
    reset = (0, 0, cfg.min_bpr, cfg.min_abpr, 0, 0, 0)

    def cpu(ci: object) -> tuple[int, ...]:
        return tuple(getattr(ci, n) for n in ("ctlr", "pmr", "bpr", "abpr", "active_group0",
                                               "active_group1", "active_group_unknown"))

    assert all(cpu(ci) != reset for ci in state.cpu)  # so the test can fail
    assert [cpu(ci) for ci in export_gich(state).distributor.cpu] == [reset] * cfg.num_cpus


# --- the nested fold --------------------------------------------------------------------------
def test_nested_fold_is_strict_and_drops_the_hypervisor_context_by_default() -> None:
    st = GicState.reset(GicConfig(1, 64, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False,
                                  num_lrs=4))  # GICH_VTR 0x90000003
    v = st.virtual[0]
    v.hcr, v.vmcr, v.lr = 1, 0x0000_0000, (0x1000_0020, 0, 0, 0)  # VMBP 0, VMABP 0: too low
    [cpu] = fold_nested(st)
    assert cpu.fold is None
    assert [x.code for x in cpu.problems] == ["GICH-VMCR-BINARY-POINT"]
    [cpu] = fold_nested(st, lenient=True)
    assert cpu.fold is not None and (cpu.fold.bpr, cpu.fold.abpr) == (2, 3)
    v.vmcr, v.lr = 0x004C_0000, (0x9000_6C1B, 0, 0, 0)  # HW-mapped PPI 27
    [cpu] = fold_nested(st)
    assert [x.code for x in cpu.problems] == ["GICH-LR-HW"]
    [cpu] = fold_nested(st, keep_hypervisor_context=True)
    assert cpu.fold is not None and cpu.fold.hw_mappings == (HwMapping(27, 27),)


def test_nested_report_gives_the_source_of_an_sgi_only() -> None:
    from gicmig.views.gich.nested_report import nested_records

    st = GicState.reset(GicConfig(2, 64, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False,
                                  num_lrs=4))
    for v in st.virtual:
        v.hcr, v.vmcr = 1, 0x004C_0000
    # SGI 15 from CPU 1, SGI 0 from CPU 0 (EOI), PPI 16: all pending, priority 0
    st.virtual[0].lr = (0x1000_040F, 0x1008_0000, 0x1000_0010, 0)
    [rec, _] = nested_records(fold_nested(st))
    assert rec["lrs"] == [
        {"lr": 0, "irq": 15, "state": "pending", "group": 0, "priority": "0x00", "source": 1},
        {"lr": 1, "irq": 0, "state": "pending", "group": 0, "priority": "0x00", "source": 0,
         "eoi": True},
        {"lr": 2, "irq": 16, "state": "pending", "group": 0, "priority": "0x00"}]


# --- export: the LR planner ---------------------------------------------------------------------
def test_export_refuses_an_active_spi_of_unknown_cpu_by_its_id() -> None:
    st = _image()
    sh = st.shared
    sh.enabled, sh.priority = 1 << 8, bytes(8) + b"\x40"
    sh.active, sh.active_cpu = 1 << 8, bytes(8) + bytes([UNKNOWN_CPU])
    with pytest.raises(ValidationError) as info:
        export_gich(st)
    assert [(v.code, v.path) for v in info.value.violations] == [
        ("GICH-EXPORT-UNKNOWN", "irq 40 (SPI 8)")]


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_pending_spis_fill_every_free_lr(count: int) -> None:
    """Four LRs, `count` pending edge SPIs targeted to cpu0: each gets an LR, best priority
    first (lower value first, then lower ID)."""
    st = _image(1)
    sh = st.shared
    ids = range(count)
    sh.enabled = sh.edge = sh.pending_latch = (1 << count) - 1
    sh.priority = bytes([0x80 - 8 * k for k in ids])  # SPI 32 worst
    lrs = export_gich(st).vcpus[0].lr
    # pending 01, priority (0x80 - 8k) >> 3 in [27:23], vID 32 + k
    want = [0x1000_0000 | (0x80 - 8 * k) >> 3 << 23 | 32 + k for k in reversed(ids)]
    assert list(lrs) == want + [0] * (4 - count)


def test_distributor_path_is_joined_to_the_views_folder() -> None:
    from gicmig.views.gich.viewfile import distributor_path

    text = '{"distributor": {"path": "img.gicmig"}}'
    assert distributor_path(text, "/views") == "/views/img.gicmig"
    assert distributor_path(text, None) == "./img.gicmig"
    assert distributor_path(text, "") == "./img.gicmig"
    assert distributor_path('{"distributor": {"path": ""}}', "/views") is None
    assert distributor_path('{"distributor": {"fixture": {}}}', "/views") is None


def test_export_apr_group_split_names_the_level_and_both_groups() -> None:
    """GICH_APR has one bit per level for both groups (§3.2): a group 0 active priority with
    no active interrupt to explain it would come back group-unknown."""
    st = GicState.reset(GicConfig(1, 64, priority_bits=8, min_bpr=0))
    st.cpu[0].bpr, st.cpu[0].abpr = 2, 3
    st.cpu[0].active_group0 = 1 << 4  # level 4: group priority 0x08
    with pytest.raises(ValidationError) as info:
        export_gich(st)
    assert [(v.code, v.path, v.message) for v in info.value.violations] == [(
        "GICH-EXPORT-APR-GROUP-SPLIT", "cpu0 gicc.active_priorities",
        "group priority 0x08 is group 0; GICH_APR holds one set for both groups, and the "
        "active interrupts make it group-unknown on import")]


def test_gich_apr_bits_beyond_the_preemption_levels_are_not_levels() -> None:
    """GICH_VTR 0x6c000003: PREbits 4 -> 16 GICH_APR bits, bit n = level n << 3 (group
    priority n << 4); bits 16..31 name no level."""
    from gicmig.views.gich import apr_to_levels

    p = vtr_params(0x6C00_0003)
    assert p.preemption_bits == 4
    assert apr_to_levels(0xFFFF_0003, p) == 1 | 1 << 8
    assert apr_to_levels(0x0000_8000, p) == 1 << 120


def test_an_unknown_cpu_spi_is_placed_by_its_own_groups_binary_point() -> None:
    """Group 0 priority 0xa8 with BPR 2 is level 0xa8 (bits 7:3), in Group 1 (ABPR 4, no
    CBPR: bits 7:4) it would be 0xa0: cpu1 holds 0xa8, so the group 0 SPI is active there."""
    from gicmig.abi.kvm import kvm_config
    from gicmig.core.attribution import attribute

    st = GicState.reset(kvm_config(2, 64))
    st.enable_grp1_unknown = True
    sh = st.shared
    sh.active, sh.priority, sh.active_cpu = 1 << 16, bytes(16) + b"\xa8", bytes(16) + b"\xff"
    for c in (0, 1):
        st.cpu[c].bpr, st.cpu[c].abpr = 2, 4
    st.cpu[0].active_group_unknown = 1 << 0xA0 // 2
    st.cpu[1].active_group_unknown = 1 << 0xA8 // 2
    attribute(st)
    assert st.shared.active_cpu[16] == 1
    assert st.cpu[1].active_group0 == 1 << 0xA8 // 2


def test_a_free_lr_naming_a_latched_spi_is_ambiguous() -> None:
    """A latched (not active) SPI named by a free LR: the guest may have taken it there."""
    img = _image()
    img.shared.pending_latch, img.shared.edge = 1 << 8, 1 << 8
    img.shared.targets = bytes(8) + b"\x01"
    assert _refused(GichView((regs(0x0000_0028), regs()), img)) == [
        ("GICH-LR-INVALID-AMBIGUOUS", "cpu0 gich.lr0")]


def test_read_back_icfgr_banks_two_words_per_cpu() -> None:
    """GICD_ICFGR0/1 (0xc00, 0xc04) are banked per CPU, ICFGR2.. (SPIs) shared."""
    from gicmig.views.qemu.registers import tcg_registers

    regs_ = tcg_registers(GicState.reset(GicConfig.qemu_virt(1)))
    banked = sorted(k[2] for k in regs_ if k[0] == "GICD" and k[1] == 0 and 0xC00 <= k[2] < 0xD00)
    shared = sorted(k[2] for k in regs_ if k[0] == "GICD" and k[1] is None
                    and 0xC00 <= k[2] < 0xD00)
    assert banked == [0xC00, 0xC04]
    assert shared == [0xC00 + 4 * i for i in range(2, 18)]  # 288 IDs: ICFGR2..17


@pytest.mark.parametrize(("lr", "problem"), [
    (0x1080_0020, "priority 0x08 sets bits below the 4 GICH_VTR.PRIbits implements"),
    (0x1100_0020, None),
    (0x1180_0020, "priority 0x18 sets bits below the 4 GICH_VTR.PRIbits implements"),
    (0x1780_0020, "priority 0x78 sets bits below the 4 GICH_VTR.PRIbits implements"),
    (0x1F00_0020, None)])
def test_an_lr_priority_below_4_pribits_is_refused(lr: int, problem: str | None) -> None:
    """§3.2: GICH_VTR 0x6c000003 = PRIbits 4, PREbits 4, 4 LRs: priorities keep bits [7:4];
    GICH_LR.Priority holds bits [7:3] (field [27:23]), so bit 3 (0x08) is unimplemented.
    VMCR holds the minimum binary points of 4 preemption bits (VMBP 3, VMABP 4)."""
    r = regs(lr, vtr=0x6C00_0003, vmcr=3 << 21 | 4 << 18)
    if problem is None:
        assert [(x.intid, x.priority) for x in fold_vcpu(r, 0).lrs] == [
            (32, (lr >> 23 & 0x1F) << 3)]
        return
    with pytest.raises(ValidationError) as info:
        fold_vcpu(r, 0)
    assert [str(v) for v in info.value.violations] == [
        f"GICH-LR-PRIORITY-UNIMPLEMENTED cpu0 gich.lr0: {problem}"]


@pytest.mark.parametrize(("pending", "last_lr"), [
    (0b01, 0x1800_0020),   # SPI 32 (priority 0x80) alone
    (0b11, 0x1400_0021)])  # SPI 33 (priority 0x40) beats SPI 32 for the one free LR
def test_one_free_lr_takes_the_best_pending_spi(pending: int, last_lr: int) -> None:
    """Four LRs, three held by active level PPIs 27-29 (state 10, EOI 1 to resample the
    line, priorities 0x10/0x18/0x20 in [27:23] as 2/3/4): the one LR left holds the best
    pending SPI (state 01)."""
    st = _image(1)
    b = st.banked[0]
    b.active = 1 << 27 | 1 << 28 | 1 << 29
    b.priority = bytes(27) + bytes([0x10, 0x18, 0x20])
    st.cpu[0].active_group0 = 1 << 0x10 // 2 | 1 << 0x18 // 2 | 1 << 0x20 // 2
    sh = st.shared
    sh.enabled = sh.edge = sh.pending_latch = pending
    sh.priority = bytes([0x80, 0x40])
    assert list(export_gich(st).vcpus[0].lr) == [0x2108_001B, 0x2188_001C, 0x2208_001D, last_lr]


@pytest.mark.parametrize(("grp0", "grp1", "lrs"), [
    (False, False, [0, 0, 0, 0]),
    (True, False, [0x1800_0020, 0, 0, 0]),
    (False, True, [0x5400_0021, 0, 0, 0]),
    (True, True, [0x5400_0021, 0x1800_0020, 0, 0])])
def test_pending_spis_reach_an_lr_only_in_an_enabled_group(grp0: bool, grp1: bool,
                                                           lrs: list[int]) -> None:
    """GICD_CTLR.EnableGrp0/EnableGrp1 (bits 0/1, §1.2) gate forwarding: SPI 32 (Group 0, priority
    0x80) and SPI 33 (Group 1, priority 0x40, LR bit 30) are pending; an LR holds each
    only when its group is enabled, the better priority first."""
    st = _image(1)
    st.enable_grp0, st.enable_grp1 = grp0, grp1
    sh = st.shared
    sh.enabled = sh.edge = sh.pending_latch = 0b11
    sh.group = 0b10
    sh.priority = bytes([0x80, 0x40])
    assert list(export_gich(st).vcpus[0].lr) == lrs


def test_export_names_each_banks_first_unrepresentable_priority() -> None:
    """A GICH_LR holds priority bits [7:3] (5 bits, mask 0xf8): each bank's first priority
    with lower bits set is named with that CPU's own value, then how many more it has."""
    st = GicState.reset(GicConfig(2, 64))  # 8 priority bits, minimum BPR 0
    for c, value in ((0, 0x11), (1, 0x22)):
        st.banked[c].priority = bytes(27) + bytes([value, 0x33])
    st.shared.priority = bytes([0x00, 0x44])
    with pytest.raises(ValidationError) as info:
        export_gich(st)
    mask = "has bits below the 5 a GICH_LR holds (mask 0xf8)"
    assert [str(v) for v in info.value.violations][:3] == [
        f"GICH-EXPORT-PRIORITY cpu0 irq 27 (PPI 11): priority 0x11 {mask}; 1 more on this bank",
        f"GICH-EXPORT-PRIORITY cpu1 irq 27 (PPI 11): priority 0x22 {mask}; 1 more on this bank",
        f"GICH-EXPORT-PRIORITY irq 33 (SPI 1): priority 0x44 {mask}"]


def test_nested_text_names_a_refused_vcpu_and_its_problems() -> None:
    """GICH_VTR 0x90000003 (5 preemption bits): VMCR 0 holds VMBP 0 / VMABP 0, below the
    minima 7 - 5 = 2 and 3 (§3.2), so cpu0 is refused; cpu1 (VMCR 0x004c0000: VMBP 2,
    VMABP 3) folds, with SPI 32 pending in LR0."""
    from gicmig.views.gich.nested_report import nested_text

    st = GicState.reset(GicConfig(2, 64, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False,
                                  num_lrs=4))
    for v in st.virtual:
        v.hcr, v.vmcr = 1, 0x004C_0000
    st.virtual[0].vmcr = 0
    st.virtual[1].lr = (0x1000_0020, 0, 0, 0)
    assert nested_text(fold_nested(st)) == [
        "refused nested cpu0: 1 problem(s)",
        "cpu0 gich.vmcr: GICH-VMCR-BINARY-POINT VMBP 0 / VMABP 0 below the minima 2 / 3",
        "nested cpu1 gicc: ctlr [] pmr 0x00 bpr 2 abpr 3 active []",
        "nested cpu1 lr0: irq 32 (SPI 0) pending group 0 priority 0x00"]


def test_a_lenient_fold_drops_only_the_unimplemented_lrs() -> None:
    """GICH_VTR 0x90000003 says 4 LRs; a fifth, zero (RAZ/WI), is dropped when lenient,
    and LR3 (SPI 32 pending) is kept."""
    from test_pinned_gich import VTR

    r = regs(0, 0, 0, 0x1000_0020)
    r = VcpuRegs(r.vtr, r.hcr, r.vmcr, r.apr, (*r.lr, 0))
    f = fold_vcpu(r, 0, lenient=True)
    assert VTR == 0x9000_0003
    assert [(x.lr_index, x.intid) for x in f.lrs] == [(3, 32)]
    assert [(v.code, v.message) for v in f.normalizations] == [(
        "GICH-LR-COUNT", "5 list registers given, GICH_VTR.ListRegs says 4; LR4.. are "
        "unimplemented (RAZ/WI), all zero, and were dropped")]


def test_nested_records_give_group_priorities_typed_and_as_text() -> None:
    """GICH_APR bits 1 and 4 with 5 preemption bits (GICH_VTR 0x90000003) are group
    priorities 0x08 and 0x20 (bit n = n << 3, §3.2); the active LR0 (priority 0x20,
    Group 0) explains 0x20, 0x08 stays of unknown group."""
    from gicmig.views.gich.nested_report import nested_records

    st = GicState.reset(GicConfig(1, 64, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False,
                                  num_lrs=4))
    v = st.virtual[0]
    v.hcr, v.vmcr, v.apr, v.lr = 1, 0x004C_0000, 1 << 4 | 1 << 1, (0x2200_0020, 0, 0, 0)
    [typed] = nested_records(fold_nested(st, lenient=True), typed=True)
    assert typed["interface"]["active_priorities"] == [0x08, 0x20]
    assert typed["interface"]["active_groups"] == {"group0": [0x20], "group1": [],
                                                   "unknown": [0x08]}
    [text] = nested_records(fold_nested(st, lenient=True))
    assert text["interface"]["active_priorities"] == ["0x08", "0x20"]
