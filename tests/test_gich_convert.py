"""GICH view <-> canonical state: hand-written cases for every reason code and encoding."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import gicmig
from gicmig.arch.registers import GICH_HCR, GICH_LR, GICH_LR_HW, GICH_VMCR, LR_STATES
from gicmig.core.attribution import split_active_levels
from gicmig.core.config import GicConfig
from gicmig.core.model import UNKNOWN_CPU, GicState, HwMapping
from gicmig.errors import REASONS, GicmigError, ValidationError
from gicmig.views.gich.fold import fold_vcpu
from gicmig.views.gich.merge import import_gich
from gicmig.views.gich.params import GichTarget, status_registers
from gicmig.views.gich.plan import export_gich
from gicmig.views.gich.viewfile import GichView, VcpuRegs

ROOT = Path(__file__).resolve().parents[1]
VTR4 = 0x9000_0003
VMCR_RESET = GICH_VMCR.reset  # VMABP 3, VMBP 2
VTR_4BITS = 0x6C00_0003  # 4 LRs, 4 priority and 4 preemption bits: 16 levels, VMBP >= 3
VMCR_4BITS = GICH_VMCR.pack(vmbp=3, vmabp=4)


def config(num_cpus: int = 2, num_irqs: int = 64) -> GicConfig:
    return GicConfig(num_cpus, num_irqs, priority_bits=5, min_bpr=2)


def image(num_cpus: int = 2, num_irqs: int = 64) -> GicState:
    """A reset distributor: every interrupt enabled, priority 0x80, group 0, SPIs to CPU 0."""
    s = GicState.reset(config(num_cpus, num_irqs))
    s.enable_grp0 = s.enable_grp1 = True
    for b in s.banked:
        b.enabled, b.priority = 0xFFFF_FFFF, bytes([0x80] * 32)
    s.shared.enabled = (1 << (num_irqs - 32)) - 1
    s.shared.priority = bytes([0x80] * (num_irqs - 32))
    s.shared.targets = bytes([1] * (num_irqs - 32))  # CPU 0
    return s


def lr(vid: int, state: str = "pending", *, prio: int = 0x80, grp1: int = 0, cpuid: int = 0,
       eoi: int = 0) -> int:
    return GICH_LR.pack(virtual_id=vid, state=LR_STATES.index(state), priority=prio >> 3,
                        grp1=grp1, cpuid=cpuid, eoi=eoi)


def regs(*lrs: int, hcr: int = 1, vmcr: int = VMCR_RESET, apr: int = 0, vtr: int = VTR4,
         **status: int) -> VcpuRegs:
    n = GICH_VMCR.field("vmbp").width and (vtr & 0x3F) + 1
    return VcpuRegs(vtr, hcr, vmcr, apr, tuple(lrs) + (0,) * (n - len(lrs)), **status)


def view(img: GicState, *vcpus: VcpuRegs) -> GichView:
    vtr = vcpus[0].vtr if vcpus else VTR4
    vmcr = vcpus[0].vmcr if vcpus else VMCR_RESET
    full = list(vcpus) + [regs(vtr=vtr, vmcr=vmcr)
                          for _ in range(img.config.num_cpus - len(vcpus))]
    return GichView(tuple(full), img)


def codes(fn: Callable[[], object]) -> set[str]:
    with pytest.raises(GicmigError) as info:
        fn()
    exc = info.value
    found = {v.code for v in exc.violations} if isinstance(exc, ValidationError) else {exc.code}
    assert found <= set(REASONS)
    return found


# --- folding: what each LR means ---------------------------------------------------------------
def test_edge_spi_pending_in_lr_becomes_the_latch() -> None:
    img = image()
    img.shared.edge = 1 << 8  # irq 40
    st = import_gich(view(img, regs(lr(40))))
    assert st.irq(40).pending_latch and not st.irq(40).active
    assert st.provenance.source == "gich"


def test_active_spi_records_the_vcpu_that_holds_it() -> None:
    img = image()
    img.shared.edge = 1 << 8
    st = import_gich(view(img, regs(), regs(lr(40, "pending_active"))))
    irq = st.irq(40)
    assert irq.active and irq.pending_latch and irq.active_cpu == 1


def test_lr_is_authoritative_for_active_state_before_the_fold() -> None:
    """Active in the image, pending-only in the LR: the guest deactivated it, then it
    re-pended; the LR wins, as KVM's fold does."""
    img = image()
    img.shared.edge = 1 << 8
    img.shared.active, img.shared.active_cpu = 1 << 8, bytes(8) + b"\x00"
    st = import_gich(view(img, regs(lr(40))))
    assert not st.irq(40).active and st.irq(40).pending_latch


def test_kvm_level_irq_pending_with_eoi() -> None:
    img = image()
    img.shared.line_level = 1 << 0  # irq 32, level, line high
    st = import_gich(view(img, regs(lr(32, eoi=1))))
    assert st.irq(32).line_level and not st.irq(32).pending_latch
    back = export_gich(st)
    assert back.vcpus[0].lr[0] == lr(32, eoi=1)


def test_kvm_level_irq_active_and_pending_stays_in_image_with_eoi() -> None:
    img = image()
    img.shared.line_level = 1
    st = import_gich(view(img, regs(lr(32, "active", eoi=1))))
    assert st.irq(32).active and st.irq(32).line_level and st.irq(32).active_cpu == 0
    kvm = export_gich(st).vcpus[0].lr[0]
    none = export_gich(st, GichTarget(eoi_policy="none")).vcpus[0].lr[0]
    assert kvm == lr(32, "active", eoi=1)
    assert none == lr(32, "pending_active")
    assert import_gich(export_gich(st, GichTarget(eoi_policy="none"))) == st


def test_level_lr_pending_without_line_or_latch_is_refused() -> None:
    assert codes(lambda: import_gich(view(image(), regs(lr(32))))) == {
        "GICH-LR-LEVEL-PENDING-MISMATCH"}


def test_multi_source_sgi_pending_with_eoi() -> None:
    img = image()
    img.banked[0].sgi_sources = bytes([0, 0, 0b10])  # SGI 2: CPU 1 left in the distributor
    st = import_gich(view(img, regs(lr(2, cpuid=0, eoi=1))))
    assert st.banked[0].sgi_sources[2] == 0b11
    out = export_gich(st)
    assert out.vcpus[0].lr[0] == lr(2, cpuid=0, eoi=1)
    assert out.distributor.banked[0].sgi_sources[2] == 0b10


def test_active_sgi_with_cpuid_is_its_active_source() -> None:
    img = image()
    st = import_gich(view(img, regs(), regs(lr(3, "active", cpuid=0))))
    assert st.banked[1].active == 1 << 3 and st.banked[1].sgi_active_source[3] == 0
    img.banked[1].sgi_sources = bytes([0, 0, 0, 0b01])
    st = import_gich(view(img, regs(), regs(lr(3, "active", cpuid=1, eoi=1))))
    assert st.banked[1].sgi_active_source[3] == 1 and st.banked[1].sgi_sources[3] == 1
    assert export_gich(st).vcpus[1].lr[0] == lr(3, "active", cpuid=1, eoi=1)


def test_sgi_pending_and_active_from_one_source() -> None:
    st = import_gich(view(image(), regs(lr(1, "pending_active", cpuid=1))))
    assert st.banked[0].sgi_sources[1] == 0b10 and st.banked[0].sgi_active_source[1] == 1
    assert export_gich(st, GichTarget(eoi_policy="none")).vcpus[0].lr[0] == lr(
        1, "pending_active", cpuid=1)
    assert import_gich(export_gich(st)) == st  # kvm: A + EOI, source kept in the image


def test_vmcr_becomes_the_cpu_interface() -> None:
    vmcr = GICH_VMCR.pack(vmgrp0en=1, vmgrp1en=1, vmcbpr=1, vem=1, vmbp=3, vmabp=4,
                          vmprimask=0x1E)
    st = import_gich(view(image(), regs(vmcr=vmcr)))
    ci = st.cpu[0]
    assert (ci.ctlr, ci.pmr, ci.bpr, ci.abpr) == (0x213, 0xF0, 3, 4)


def test_apr_group_known_only_when_explained() -> None:
    img = image()
    img.banked[0].group = 1 << 20  # PPI 4 group 1
    img.banked[0].priority = bytes([0x80] * 20 + [0x40] + [0x80] * 11)
    img.banked[0].edge = 0xFFFF | 1 << 20
    apr = 1 << (0x40 >> 3) | 1 << (0x10 >> 3)  # 0x40 explained (group 1), 0x10 not
    st = import_gich(view(img, regs(lr(20, "active", grp1=1, prio=0x40), apr=apr)))
    ci = st.cpu[0]
    assert ci.active_group1 == 1 << (0x40 >> 1)
    assert ci.active_group_unknown == 1 << (0x10 >> 1) and ci.active_group0 == 0


def test_split_active_levels_both_groups_at_one_level_is_unknown() -> None:
    g0, g1, unk = split_active_levels(1 << 16, [(0x20, 0), (0x20, 1)], 0, 2, 3)
    assert (g0, g1, unk) == (0, 0, 1 << 16)


def test_image_cpu_interface_must_be_reset_or_agree() -> None:
    img = image()
    img.cpu[0].pmr = 0x40
    assert codes(lambda: import_gich(view(img))) == {"GICH-IMAGE-CPU-CONFLICT"}


def test_status_registers_are_derived_and_checked() -> None:
    r = regs(lr(40), hcr=GICH_HCR.pack(en=1, uie=1))
    derived = status_registers(r)
    assert derived["elrsr0"] == 0b1110 and derived["eisr0"] == 0 and derived["misr"] == 0b10
    img = image()
    img.shared.edge = 1 << 8
    good = regs(lr(40), elrsr0=0b1110, eisr0=0, misr=0)
    assert import_gich(view(img, good)).irq(40).pending_latch
    for name, code in (("misr", "GICH-MISR-MISMATCH"), ("eisr1", "GICH-EISR-MISMATCH"),
                       ("elrsr0", "GICH-ELRSR-MISMATCH")):
        bad = regs(lr(40), **{name: 0xF0})
        assert codes(lambda b=bad: import_gich(view(img, b))) == {code}


# --- refusals, one per reason code ------------------------------------------------------------
def _spi_edge() -> GicState:
    img = image()
    img.shared.edge = 0xFFFF_FFFF
    return img


def _prio88() -> GicState:
    img = _spi_edge()
    img.shared.priority = bytes([0x80] * 8 + [0x88])
    return img


REFUSALS: list[tuple[str, Callable[[], GichView]]] = [
    ("GICH-LR-RESERVED-BITS", lambda: view(_spi_edge(), regs(lr(40) | 1 << 20))),
    ("GICH-LR-DUPLICATE-VIRTUALID", lambda: view(_spi_edge(), regs(lr(40), lr(40, "active")))),
    ("GICH-LR-VIRTUALID-RANGE", lambda: view(_spi_edge(), regs(lr(64)))),
    ("GICH-LR-VIRTUALID-SPECIAL", lambda: view(_spi_edge(), regs(lr(1022)))),
    ("GICH-LR-HW", lambda: view(_spi_edge(), regs(GICH_LR_HW.pack(
        virtual_id=40, physical_id=40, state=1, priority=0x10, hw=1)))),
    ("GICH-LR-HW-PHYSICALID-RANGE", lambda: view(_spi_edge(), regs(GICH_LR_HW.pack(
        virtual_id=40, physical_id=1021, state=1, priority=0x10, hw=1)))),
    ("GICH-LR-EOI-PENDING", lambda: view(_spi_edge(), regs(lr(40, "invalid", eoi=1)))),
    ("GICH-HCR-EOICOUNT", lambda: view(_spi_edge(), regs(hcr=GICH_HCR.pack(en=1, eoicount=2)))),
    ("GICH-HCR-CONTROL", lambda: view(_spi_edge(), regs(hcr=GICH_HCR.pack(en=1, npie=1)))),
    ("GICH-HCR-RESERVED-BITS", lambda: view(_spi_edge(), regs(hcr=1 | 1 << 12))),
    ("GICH-HCR-DISABLED", lambda: view(_spi_edge(), regs(lr(40), hcr=0))),
    ("GICH-LR-PRIORITY-STALE", lambda: view(_spi_edge(), regs(lr(40, prio=0x40)))),
    ("GICH-LR-GROUP-MISMATCH", lambda: view(_spi_edge(), regs(lr(40, grp1=1)))),
    ("GICH-LR-CPUID-ABSENT", lambda: view(_spi_edge(), regs(lr(2, cpuid=5)))),
    ("GICH-LR-CPUID-NOT-SGI", lambda: view(_spi_edge(), regs(lr(40, cpuid=1)))),
    ("GICH-VMCR-RESERVED-BITS", lambda: view(_spi_edge(), regs(vmcr=VMCR_RESET | 1 << 6))),
    ("GICH-VMCR-BINARY-POINT", lambda: view(_spi_edge(), regs(vmcr=0))),
    ("GICH-APR-UNIMPLEMENTED", lambda: view(_spi_edge(), regs(
        apr=1 << 20, vtr=VTR_4BITS, vmcr=VMCR_4BITS))),
    ("GICH-LR-PRIORITY-UNIMPLEMENTED", lambda: view(_prio88(), regs(
        lr(40, prio=0x88), vtr=VTR_4BITS, vmcr=VMCR_4BITS))),
    ("GICH-VMCR-PRIMASK-UNIMPLEMENTED", lambda: view(_spi_edge(), regs(
        vmcr=GICH_VMCR.pack(vmbp=3, vmabp=4, vmprimask=1), vtr=VTR_4BITS))),
    ("GICH-LR-COUNT", lambda: view(_spi_edge(), VcpuRegs(VTR4, 1, VMCR_RESET, 0, (0, 0, 0)))),
    ("GICH-LR-SPI-MULTIPLE-VCPUS", lambda: view(_spi_edge(), regs(lr(40)), regs(lr(40)))),
    ("GICH-VTR-INVALID", lambda: view(_spi_edge(), regs(vtr=0xB000_0003))),
    ("GICH-VTR-INCONSISTENT", lambda: view(_spi_edge(), regs(), regs(
        *(0,) * 8, vtr=0x9000_0007))),
    ("GICH-VIEW-VCPU-COUNT", lambda: GichView((regs(),), _spi_edge())),
]


@pytest.mark.parametrize(("code", "make"), REFUSALS, ids=[c for c, _ in REFUSALS])
def test_each_refusal_has_its_reason_code(code: str, make: Callable[[], GichView]) -> None:
    v = make()
    assert codes(lambda: import_gich(v)) == {code}


def test_active_spi_elsewhere_conflicts() -> None:
    img = _spi_edge()
    img.shared.active, img.shared.active_cpu = 1 << 8, bytes(8) + b"\x01"
    assert codes(lambda: import_gich(view(img, regs(lr(40, "active"))))) == {
        "GICH-LR-ACTIVE-CPU-CONFLICT"}


def test_active_spi_on_unknown_cpu_is_resolved_only_by_an_active_lr() -> None:
    img = _spi_edge()
    img.shared.active, img.shared.active_cpu = 1 << 8, bytes(8) + bytes([UNKNOWN_CPU])
    st = import_gich(view(img, regs(), regs(lr(40, "active"))))
    assert st.irq(40).active_cpu == 1
    assert codes(lambda: import_gich(view(img, regs(lr(40))))) == {
        "GICH-LR-ACTIVE-CPU-CONFLICT"}


def test_free_lr_naming_a_live_interrupt_is_ambiguous() -> None:
    img = _spi_edge()
    img.shared.active, img.shared.active_cpu = 1 << 8, bytes(9)
    free = lr(40, "invalid")
    assert codes(lambda: import_gich(view(img, regs(free)))) == {"GICH-LR-INVALID-AMBIGUOUS"}
    assert import_gich(view(img, regs())).irq(40).active  # no LR names it: simply active


def test_image_with_virtualization_or_context_is_unsuitable() -> None:
    nested = GicState.reset(GicConfig(2, 64, priority_bits=5, min_bpr=2, num_lrs=4))
    assert codes(lambda: import_gich(view(nested))) == {"GICH-IMAGE-UNSUITABLE"}
    img = _spi_edge()
    img.keep_hypervisor_context()
    assert codes(lambda: import_gich(view(img))) == {"GICH-IMAGE-UNSUITABLE"}


def test_every_problem_is_listed_not_just_the_first() -> None:
    v = view(_spi_edge(), regs(lr(40) | 1 << 20, hcr=GICH_HCR.pack(en=1, eoicount=1)),
             regs(lr(1022)))
    with pytest.raises(ValidationError) as info:
        import_gich(v)
    places = [x.path for x in info.value.violations]
    assert places == ["cpu0 gich.lr0", "cpu0 gich.hcr", "cpu1 gich.lr0"]


# --- lenient -------------------------------------------------------------------------------------
def test_lenient_normalizes_only_benign_cases_and_reports_them() -> None:
    img = _spi_edge()
    v = view(img, regs(lr(40, prio=0x40), lr(41, grp1=1), vmcr=0),
             VcpuRegs(VTR4, 1, VMCR_RESET, 0, (0,) * 6))
    st = import_gich(v, lenient=True)
    got = sorted((n.code, n.path) for n in st.normalizations)
    assert got == [("GICH-LR-COUNT", "cpu1 gich.lr"), ("GICH-LR-GROUP-MISMATCH", "cpu0 gich.lr1"),
                   ("GICH-LR-PRIORITY-STALE", "cpu0 gich.lr0"),
                   ("GICH-VMCR-BINARY-POINT", "cpu0 gich.vmcr")]
    assert st.irq(40).priority == 0x80 and st.irq(41).group == 0
    assert (st.cpu[0].bpr, st.cpu[0].abpr) == (2, 3)
    # not benign: still refused in lenient mode
    assert codes(lambda: import_gich(view(img, regs(lr(40), lr(40))), lenient=True)) == {
        "GICH-LR-DUPLICATE-VIRTUALID"}
    assert import_gich(view(img, regs())).normalizations == ()


# --- hypervisor context ------------------------------------------------------------------------
def test_hypervisor_context_is_kept_when_asked_and_round_trips() -> None:
    img = _spi_edge()
    img.shared.edge = 0xFFFF_FFFE  # irq 32 level: a HW-mapped level interrupt
    hw = GICH_LR_HW.pack(virtual_id=32, physical_id=59, state=1, priority=0x10, hw=1)
    hcr = GICH_HCR.pack(en=1, uie=1, eoicount=3)
    v = view(img, regs(hw, lr(41, "invalid", eoi=1), hcr=hcr))
    st = import_gich(v, keep_hypervisor_context=True)
    ctx = st.hypervisor
    assert ctx is not None
    assert ctx[0].hw_mappings == (HwMapping(32, 59),) and ctx[0].hcr == hcr
    assert ctx[0].eoi_maintenance == 1 << 41 and ctx[1].hcr == 1
    assert st.irq(32).line_level  # pending by its physical line
    again = import_gich(export_gich(st), keep_hypervisor_context=True)
    assert again == st


def test_kept_eoi_maintenance_must_fit_the_context() -> None:
    """The context holds one request per interrupt ID and no CPUID: anything more is
    refused even when the caller keeps the hypervisor context, never dropped."""
    img = _spi_edge()
    for lrs in ((lr(2, "invalid", eoi=1, cpuid=1),),
                (lr(41, "invalid", eoi=1), lr(41, "invalid", eoi=1, prio=0x40))):
        assert codes(lambda lrs=lrs: import_gich(view(img, regs(*lrs)),
                                                 keep_hypervisor_context=True)) == {
            "GICH-LR-EOI-PENDING"}
    st = import_gich(view(img, regs(lr(2, "invalid", eoi=1))), keep_hypervisor_context=True)
    assert st.hypervisor is not None and st.hypervisor[0].eoi_maintenance == 1 << 2


def test_export_refuses_hw_mapping_of_idle_interrupt() -> None:
    st = _spi_edge()
    ctx = st.keep_hypervisor_context()
    ctx[0].hw_mappings, ctx[0].hcr, ctx[1].hcr = [HwMapping(40, 70)], 1, 1
    assert codes(lambda: export_gich(st)) == {"GICH-EXPORT-HW-IDLE"}


# --- fold_vcpu without a distributor ----------------------------------------------------------
def test_fold_vcpu_alone_gives_cpu_interface_and_lr_facts() -> None:
    r = regs(lr(5, "active", cpuid=3, prio=0x20), lr(700, prio=0x40, grp1=1),
             vmcr=GICH_VMCR.pack(vmgrp1en=1, vmbp=2, vmabp=3, vmprimask=0x1F), apr=1 << 4)
    f = fold_vcpu(r, 0)
    assert (f.ctlr, f.pmr, f.bpr, f.abpr) == (0b10, 0xF8, 2, 3)
    assert f.active_levels == 1 << 16
    assert [(x.intid, x.active, x.pending, x.source, x.priority, x.group) for x in f.lrs] == [
        (5, True, False, 3, 0x20, 0), (700, False, True, 0, 0x40, 1)]
    with pytest.raises(ValidationError) as info:
        fold_vcpu(regs(lr(5, cpuid=3)), 0, num_cpus=2)
    assert info.value.code == "GICH-LR-CPUID-ABSENT"
    with pytest.raises(ValidationError) as info:
        fold_vcpu(regs(hcr=GICH_HCR.pack(en=1, eoicount=1)), 1)
    assert info.value.violations[0].path == "cpu1 gich.hcr"


# --- export refusals ----------------------------------------------------------------------------
def _state() -> GicState:
    s = _spi_edge()
    s.cpu[0].bpr, s.cpu[0].abpr = 2, 3
    return s


def _mut(fn: Callable[[GicState], None]) -> GicState:
    s = _state()
    fn(s)
    return s


def _mut8(fn: Callable[[GicState], None]) -> GicState:
    """A state of an 8-bit-priority GIC whose binary points the target can hold."""
    s = GicState.reset(GicConfig(2, 64, priority_bits=8, min_bpr=0))
    for ci in s.cpu:
        ci.bpr, ci.abpr = 2, 3
    fn(s)
    return s


def _bp(s: GicState, bpr: int, pmr: int) -> None:
    for ci in s.cpu:
        ci.bpr, ci.abpr, ci.pmr = bpr, bpr + 1, pmr


def _unknown_spi_cpu(s: GicState) -> None:
    _active_spis(s, 1)
    s.shared.active_cpu = bytes([UNKNOWN_CPU])


def _active_spis(s: GicState, n: int) -> None:
    s.shared.active = (1 << n) - 1
    s.shared.active_cpu = bytes(n)


EXPORT_REFUSALS: list[tuple[str, Callable[[], GicState], GichTarget]] = [
    ("GICH-EXPORT-PRIORITY", lambda: _mut8(lambda s: setattr(s.shared, "priority", b"\x84")),
     GichTarget()),
    ("GICH-EXPORT-PMR", lambda: _mut(lambda s: _bp(s, 3, 0xF8)), GichTarget(vtr=VTR_4BITS)),
    ("GICH-EXPORT-CTLR-BITS", lambda: _mut(lambda s: setattr(s.cpu[1], "ctlr", 1 << 6)),
     GichTarget()),
    ("GICH-EXPORT-BINARY-POINT", lambda: _mut(lambda s: setattr(s.cpu[0], "bpr", 2)),
     GichTarget(vtr=VTR_4BITS)),
    ("GICH-EXPORT-APR-LEVEL", lambda: _mut8(lambda s: setattr(s.cpu[0], "active_group_unknown",
                                                             1 << 2)), GichTarget()),
    ("GICH-EXPORT-APR-GROUP-SPLIT", lambda: _mut(lambda s: setattr(s.cpu[0], "active_group0",
                                                                   1 << 8)), GichTarget()),
    ("GICH-EXPORT-LR-OVERFLOW", lambda: _mut(lambda s: _active_spis(s, 5)), GichTarget()),
    ("GICH-EXPORT-UNKNOWN", lambda: _mut(_unknown_spi_cpu), GichTarget()),
]


@pytest.mark.parametrize(("code", "make", "target"), EXPORT_REFUSALS,
                         ids=[c for c, _, _ in EXPORT_REFUSALS])
def test_each_export_refusal_has_its_reason_code(code: str, make: Callable[[], GicState],
                                                 target: GichTarget) -> None:
    s = make()
    gicmig.validate(s)
    assert codes(lambda: export_gich(s, target)) == {code}


def test_export_of_unknown_active_sgi_source_is_refused() -> None:
    s = _state()
    s.banked[1].active, s.banked[1].sgi_active_source = 1 << 4, bytes([0] * 4 + [UNKNOWN_CPU])
    assert codes(lambda: export_gich(s)) == {"GICH-EXPORT-UNKNOWN"}


def test_export_of_nested_state_and_bad_policy() -> None:
    nested = GicState.reset(GicConfig(1, 64, priority_bits=5, min_bpr=2, num_lrs=4))
    assert codes(lambda: export_gich(nested)) == {"GICH-EXPORT-NESTED"}
    assert codes(lambda: export_gich(_state(), GichTarget(eoi_policy="xen"))) == {"USAGE"}
    assert codes(lambda: export_gich(_state(), GichTarget(vtr=0xFC00_0003))) == {
        "GICH-VTR-INVALID"}


def test_export_places_active_first_then_pending_by_priority_and_id() -> None:
    s = _state()
    s.shared.pending_latch = 0b11110  # irqs 33-36 pending
    s.shared.priority = bytes([0x80, 0x90, 0x10, 0x10, 0x20])
    s.shared.active, s.shared.active_cpu = 1, b"\x00"  # irq 32 active, lowest priority
    s.shared.targets = bytes([1] * 5)
    v = export_gich(s)
    ids = [GICH_LR.field("virtual_id").get(x) for x in v.vcpus[0].lr]
    assert ids == [32, 34, 35, 36]  # 33 (0x90) does not fit: stays pending in the image
    assert v.distributor.shared.pending_latch == 0b00010
    assert import_gich(v) == s
    assert export_gich(s).to_json() == v.to_json()  # deterministic


def test_disabled_or_untargeted_pending_interrupts_stay_in_the_image() -> None:
    s = _state()
    s.shared.pending_latch = 0b111
    s.shared.enabled = 0b110
    s.shared.targets = bytes([1, 0, 2])
    v = export_gich(s)
    assert [x for x in v.vcpus[0].lr if x] == [] and v.vcpus[1].lr[0] == lr(34)
    assert import_gich(v) == s


def test_busy_fixture_round_trips_with_both_policies() -> None:
    busy = gicmig.load(ROOT / "fixtures" / "v1" / "busy.json")
    for policy in ("kvm", "none"):
        for vtr in (VTR4, 0x9000_003F):
            v = export_gich(busy, GichTarget(vtr=vtr, eoi_policy=policy))
            assert import_gich(v) == busy
