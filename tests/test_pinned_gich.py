"""Pinned values for the GICH view, as literal tables from the architecture.

Every list register below is written in hex from the GICH_LR layout of gic-domain.md §3.2
(VirtualID [9:0], CPUID [12:10] or PhysicalID [19:10] with HW, EOI [19], Priority [27:23],
State [29:28] 00 invalid / 01 pending / 10 active / 11 both, Grp1 [30], HW [31]), never
built with the code's own register tables. Status registers follow §3.2 (EISR: invalid,
HW = 0, EOI = 1; ELRSR: invalid and (HW = 1 or EOI = 0); MISR per HCR enable), GICH_APR
bit n is group priority n << 3 with 5 preemption bits (§3.2, §2.4), binary points §2.3,
and the KVM flush policy §4.2. Two vCPUs of the real QEMU 7.2 stream `virt` (shared/qemu/
expected/virt.json, computed from the guest's register accesses) close the loop.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gicmig.core.attribution import group_priority_level, split_active_levels
from gicmig.core.model import GicConfig, GicState, HwMapping
from gicmig.errors import GicmigError, ValidationError
from gicmig.views.gich import (
    GichTarget,
    VtrParams,
    apr_to_levels,
    export_gich,
    fold_vcpu,
    import_gich,
    levels_to_apr,
    status_registers,
    vtr_params,
)
from gicmig.views.gich.viewfile import GichView, VcpuRegs

VTR = 0x9000_0003  # GIC-400: 4 LRs, 5 preemption and 5 priority bits (§3.2)
VMCR_MIN = 0x004C_0000  # VMABP 3, VMBP 2
SHARED = Path(__file__).resolve().parents[2] / "shared" / "qemu" / "expected"


def regs(*lrs: int, hcr: int = 1, vmcr: int = VMCR_MIN, apr: int = 0, vtr: int = VTR,
         **status: int) -> VcpuRegs:
    n = (vtr & 0x3F) + 1
    return VcpuRegs(vtr, hcr, vmcr, apr, tuple(lrs) + (0,) * (n - len(lrs)), **status)


# --- EISR / ELRSR: one LR at a time ---------------------------------------------------------
# (LR, EISR bit, ELRSR bit)
LR_STATUS = [
    (0x0000_0000, 0, 1),  # empty
    (0x0000_0020, 0, 1),  # invalid, names ID 32, no EOI request: free
    (0x0008_0020, 1, 0),  # invalid, EOI = 1: maintenance request not serviced, not free
    (0x1000_0020, 0, 0),  # pending
    (0x1008_0020, 0, 0),  # pending, EOI
    (0x2000_0020, 0, 0),  # active
    (0x2008_0020, 0, 0),  # active, EOI
    (0x3000_0020, 0, 0),  # pending and active
    (0x3008_0020, 0, 0),
    (0x8000_6C1B, 0, 1),  # HW = 1, invalid
    (0x8008_6C1B, 0, 1),  # HW = 1, invalid, bit 19 = PhysicalID[9], not EOI
    (0x9000_6C1B, 0, 0),  # HW = 1, pending
    (0xA008_6C1B, 0, 0),  # HW = 1, active
    (0x4008_0020, 1, 0),  # Grp1 does not matter
    (0x0F88_1C03, 1, 0),  # priority and CPUID do not matter
]


@pytest.mark.parametrize(("lr", "eisr", "elrsr"), LR_STATUS)
@pytest.mark.parametrize("index", [0, 3])
def test_eisr_elrsr_of_one_lr(lr: int, eisr: int, elrsr: int, index: int) -> None:
    lrs = [0x2000_0040 + k for k in range(4)]  # the other LRs: active, never free
    lrs[index] = lr
    got = status_registers(regs(*lrs))
    assert got["eisr0"] == eisr << index
    assert got["elrsr0"] == elrsr << index
    assert got["eisr1"] == got["elrsr1"] == 0
    assert got["misr"] & 1 == eisr  # MISR.EOI: any EISR bit


def test_eisr_elrsr_second_register() -> None:
    """Bit n of EISR1/ELRSR1 is LR 32 + n (64 LRs: ListRegs 63)."""
    lrs = [0x1000_0020] * 64
    lrs[32] = 0x0008_0021  # invalid + EOI
    lrs[33] = 0x0000_0022  # free
    lrs[63] = 0x0000_0000  # free
    lrs[1] = 0x0000_0023  # free, low register
    lrs[31] = 0x0008_0024  # EOI, low register
    got = status_registers(regs(*lrs, vtr=0x9000_003F))
    assert got == {"misr": 0x01, "eisr0": 0x8000_0000, "eisr1": 0x0000_0001,
                   "elrsr0": 0x0000_0002, "elrsr1": 0x8000_0002}


# --- MISR: each enable with and without its condition (§3.2 table) ---------------------------
P, A, PA, FREE = 0x1000_0020, 0x2000_0021, 0x3000_0022, 0
MISR = [
    # (HCR, VMCR, LRs, MISR)
    (0x01, VMCR_MIN, (P, A, PA, FREE), 0x00),
    (0x03, VMCR_MIN, (FREE, FREE, FREE, FREE), 0x02),  # UIE, 0 valid LRs
    (0x03, VMCR_MIN, (FREE, A, FREE, FREE), 0x02),  # UIE, 1 valid
    (0x03, VMCR_MIN, (0x0008_0020, A, FREE, FREE), 0x03),  # invalid+EOI is not valid
    (0x03, VMCR_MIN, (P, A, FREE, FREE), 0x00),  # 2 valid
    (0x05, VMCR_MIN, (P,), 0x00),  # LRENPIE, EOICount 0
    (0x05 | 1 << 27, VMCR_MIN, (P,), 0x04),  # LRENPIE, EOICount 1
    (0x01 | 31 << 27, VMCR_MIN, (P,), 0x00),  # EOICount without LRENPIE
    (0x09, VMCR_MIN, (A, PA, FREE, FREE), 0x08),  # NPIE: no LR exactly pending (QEMU)
    (0x09, VMCR_MIN, (A, P, FREE, FREE), 0x00),
    (0x11, VMCR_MIN | 1, (P,), 0x10),  # VGrp0EIE, VMGrp0En 1
    (0x11, VMCR_MIN, (P,), 0x00),
    (0x21, VMCR_MIN, (P,), 0x20),  # VGrp0DIE, VMGrp0En 0
    (0x21, VMCR_MIN | 1, (P,), 0x00),
    (0x41, VMCR_MIN | 2, (P,), 0x40),  # VGrp1EIE, VMGrp1En 1
    (0x41, VMCR_MIN | 1, (P,), 0x00),
    (0x81, VMCR_MIN | 1, (P,), 0x80),  # VGrp1DIE, VMGrp1En 0
    (0x81, VMCR_MIN | 2, (P,), 0x00),
    (0xF1, VMCR_MIN | 3, (P,), 0x50),
    (0xF1, VMCR_MIN, (P,), 0xA0),
    (0x00, VMCR_MIN, (0x0008_0020,), 0x01),  # EOI needs no enable
    (0xFF | 3 << 27, VMCR_MIN | 2, (0x0008_0020, FREE, FREE, FREE), 0x07 | 0x08 | 0x20 | 0x40),
]


@pytest.mark.parametrize(("hcr", "vmcr", "lrs", "misr"), MISR)
def test_misr(hcr: int, vmcr: int, lrs: tuple[int, ...], misr: int) -> None:
    assert status_registers(regs(*lrs, hcr=hcr, vmcr=vmcr))["misr"] == misr


def _expected(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((SHARED / f"{name}.json").read_text())
    return data


@pytest.mark.usefixtures("shared_qemu")  # skips, or fails under CI=true
def test_status_registers_of_the_real_qemu_virt_stream() -> None:
    """QEMU 7.2 CPU0: MISR 0x41 (EOI, VGrp1E), EISR 0x8 (LR3); CPU1: ELRSR 0x4 (LR2)."""
    data = _expected("virt")
    cpus = data["state"]["cpus"]  # type: ignore[index]
    assert len(cpus) == 2
    for cpu in cpus:
        v = cpu["virtual_interface"]
        got = status_registers(regs(*(lr["raw"] for lr in v["lr"]), hcr=v["hcr"], vmcr=v["vmcr"],
                                    apr=v["apr"]))
        assert (got["misr"], got["eisr0"], got["elrsr0"]) == (v["misr"], v["eisr"], v["elrsr"])
        assert got["eisr1"] == got["elrsr1"] == 0
    assert [c["virtual_interface"]["misr"] for c in cpus] == [0x41, 0]


def test_supplied_status_registers_are_checked() -> None:
    base = (0x0008_0020, 0x1000_0021)  # LR0 EOI request, LR1 pending
    ok = dict(misr=0x01, eisr0=0x1, eisr1=0, elrsr0=0xC, elrsr1=0)
    for name, bad, code in (("misr", 0x00, "GICH-MISR-MISMATCH"),
                            ("eisr0", 0x0, "GICH-EISR-MISMATCH"),
                            ("eisr1", 0x1, "GICH-EISR-MISMATCH"),
                            ("elrsr0", 0xE, "GICH-ELRSR-MISMATCH"),
                            ("elrsr1", 0x1, "GICH-ELRSR-MISMATCH")):
        with pytest.raises(ValidationError) as info:
            fold_vcpu(regs(*base, **{**ok, name: bad}), 0, keep_hypervisor_context=True)
        assert [(v.code, v.path) for v in info.value.violations] == [(code, f"cpu0 gich.{name}")]
    fold_vcpu(regs(*base, **ok), 0, keep_hypervisor_context=True)


# --- GICH_VTR ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("vtr", "params"), [
    (0x9000_0003, (4, 5, 5)),
    (0x9000_003F, (64, 5, 5)),
    (0x8C00_0000, (1, 5, 4)),
    (0x0000_0000, (1, 1, 1)),
    (0x6C00_0003, (4, 4, 4)),
    (0x7000_0003, None),  # 5 preemption bits > 4 priority bits
    (0xB000_0003, None),  # 6 priority bits: GICH_LR.Priority holds 5
    (0x9000_0043, None),  # bit 6 reserved
    (0x9200_0003, None),  # bit 25 reserved
])
def test_vtr(vtr: int, params: tuple[int, int, int] | None) -> None:
    if params is None:
        with pytest.raises(GicmigError) as info:
            vtr_params(vtr)
        assert info.value.code == "GICH-VTR-INVALID"
        return
    p = vtr_params(vtr)
    assert (p.num_lrs, p.priority_bits, p.preemption_bits) == params
    assert p.min_bpr == 7 - params[2]
    assert p.priority_mask == (0xFF << (8 - params[1])) & 0xFF


# --- APR <-> levels ---------------------------------------------------------------------------
P5, P4 = VtrParams(4, 5, 5), VtrParams(4, 4, 4)


@pytest.mark.parametrize(("params", "apr", "levels"), [
    (P5, 0x0000_0001, 1 << 0),  # group priority 0x00
    (P5, 0x0000_0010, 1 << 16),  # 0x20
    (P5, 0x0000_0040, 1 << 24),  # 0x30
    (P5, 0x8000_0000, 1 << 124),  # 0xf8
    (P5, 0x8000_0011, 1 << 124 | 1 << 16 | 1 << 0),
    (P4, 0x0000_0002, 1 << 8),  # 4 preemption bits: bit n = group priority n << 4
    (P4, 0x0000_8000, 1 << 120),
])
def test_apr_levels(params: VtrParams, apr: int, levels: int) -> None:
    assert apr_to_levels(apr, params) == levels
    assert levels_to_apr(levels, params) == apr


def test_unimplemented_apr_levels_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        fold_vcpu(regs(0x1000_0020, vtr=0x6C00_0003, vmcr=3 << 21 | 4 << 18, apr=1 << 16), 0)
    assert [v.code for v in info.value.violations] == ["GICH-APR-UNIMPLEMENTED"]
    fold_vcpu(regs(0x1000_0020, vtr=0x6C00_0003, vmcr=3 << 21 | 4 << 18, apr=1 << 15), 0)


# --- binary points and the group of an active priority (§2.3) ---------------------------------
@pytest.mark.parametrize(("prio", "group", "ctlr", "bpr", "abpr", "level"), [
    (0xFF, 0, 0x00, 0, 1, 0x7F),  # BPR 0: group bits [7:1] -> 0xfe
    (0xFF, 0, 0x00, 2, 3, 0x7C),  # BPR 2: [7:3] -> 0xf8
    (0xFF, 0, 0x00, 7, 7, 0x00),  # BPR 7: no group bits
    (0x98, 0, 0x00, 3, 3, 0x48),  # [7:4] -> 0x90
    (0x98, 1, 0x00, 3, 3, 0x4C),  # group 1, ABPR 3 acts as BPR 2 -> 0x98
    (0x98, 1, 0x10, 3, 3, 0x48),  # CBPR: group 1 uses BPR
    (0xFF, 1, 0x00, 0, 1, 0x7F),  # ABPR 1 acts as BPR 0
    (0xFF, 1, 0x00, 0, 4, 0x78),  # ABPR 4 acts as BPR 3 -> 0xf0
    (0xFF, 1, 0x00, 2, 7, 0x40),  # ABPR 7 acts as BPR 6 -> 0x80
    (0x50, 1, 0x207, 2, 4, 0x28),  # QEMU virt CPU0: VEM, AckCtl, both groups; ABPR 4 -> 0x50
])
def test_group_priority_level(prio: int, group: int, ctlr: int, bpr: int, abpr: int,
                              level: int) -> None:
    assert group_priority_level(prio, group, ctlr, bpr, abpr) == level


def test_split_active_levels_by_binary_point() -> None:
    """A level belongs to the group whose active interrupts, and only theirs, sit at it."""
    g1 = 1 << 0x4C
    assert split_active_levels(g1, [(0x98, 1)], 0x00, 3, 3) == (0, g1, 0)
    g0 = 1 << 0x48
    assert split_active_levels(g0, [(0x98, 0)], 0x00, 3, 3) == (g0, 0, 0)
    # the group-1 interrupt's level is 0x4c, not 0x48: 0x48 is not explained by it
    assert split_active_levels(g0, [(0x98, 1)], 0x00, 3, 3) == (0, 0, g0)
    assert split_active_levels(g0, [(0x98, 1)], 0x10, 3, 3) == (0, g0, 0)  # CBPR
    # both groups at one level: unknown
    assert split_active_levels(g0, [(0x98, 0), (0x90, 1)], 0x00, 3, 3) == (0, 0, g0)
    assert split_active_levels(g0 | g1, [(0x98, 0), (0x98, 1)], 0, 3, 3) == (g0, g1, 0)
    assert split_active_levels(1 << 8, [], 0, 2, 3) == (0, 0, 1 << 8)
    assert split_active_levels(0, [(0x98, 0)], 0, 2, 3) == (0, 0, 0)


# --- VMCR <-> GICC (§3.2, §3.4) ---------------------------------------------------------------
@pytest.mark.parametrize(("vmcr", "ctlr", "pmr", "bpr", "abpr"), [
    (0xF050_0207, 0x207, 0xF0, 2, 4),  # QEMU virt CPU0
    (0xF86C_0013, 0x013, 0xF8, 3, 3),  # QEMU virt CPU1 (VMABP clamped to 3)
    (0x004C_0000, 0x000, 0x00, 2, 3),  # GIC-400 reset
    (0x08FC_021F, 0x21F, 0x08, 7, 7),
])
def test_vmcr_fold_and_export(vmcr: int, ctlr: int, pmr: int, bpr: int, abpr: int) -> None:
    f = fold_vcpu(regs(0x1000_0020, vmcr=vmcr), 0)
    assert (f.ctlr, f.pmr, f.bpr, f.abpr) == (ctlr, pmr, bpr, abpr)
    st = GicState.reset(GicConfig(1, 64, priority_bits=5, min_bpr=2))
    ci = st.cpu[0]
    ci.ctlr, ci.pmr, ci.bpr, ci.abpr = ctlr, pmr, bpr, abpr
    assert export_gich(st).vcpus[0].vmcr == vmcr


@pytest.mark.parametrize(("vmcr", "code"), [
    (0x0044_0000, "GICH-VMCR-BINARY-POINT"),  # VMBP 2, VMABP 1
    (0x0028_0000, "GICH-VMCR-BINARY-POINT"),  # VMBP 1, VMABP 2
    (0x004C_0020, "GICH-VMCR-RESERVED-BITS"),  # bit 5
    (0x014C_0000, "GICH-VMCR-RESERVED-BITS"),  # bit 24
])
def test_vmcr_refusals(vmcr: int, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        fold_vcpu(regs(0x1000_0020, vmcr=vmcr), 0)
    assert [v.code for v in info.value.violations] == [code]


def test_lenient_clamps_binary_points_to_the_minima() -> None:
    f = fold_vcpu(regs(0x1000_0020, vmcr=0x0000_0000), 0, lenient=True)
    assert (f.bpr, f.abpr) == (2, 3)
    f = fold_vcpu(regs(0x1000_0020, vmcr=0x00A0_0000), 0, lenient=True)  # VMBP 5, VMABP 0
    assert (f.bpr, f.abpr) == (5, 3)
    assert [v.code for v in f.normalizations] == ["GICH-VMCR-BINARY-POINT"]


# --- the real QEMU virt stream's CPU0, folded with its hypervisor context ---------------------
def test_fold_of_qemu_virt_cpu0() -> None:
    lrs = (0x5500_002D,  # pending, Grp1, priority 0x50, vID 45
           0x2208_0403,  # active, priority 0x20, vSGI 3 from CPU 1, EOI
           0xF881_0064,  # pending+active, Grp1, HW, priority 0x88, vID 100 -> physical 64
           0x0008_004D)  # invalid, EOI, vID 77
    f = fold_vcpu(regs(*lrs, hcr=0x1000_0049, vmcr=0xF050_0207, apr=0x10), 0,
                  keep_hypervisor_context=True)
    assert [(x.intid, x.pending, x.active, x.group, x.priority, x.source, x.physical_id)
            for x in f.lrs] == [(45, True, False, 1, 0x50, 0, None),
                                (3, False, True, 0, 0x20, 1, None),
                                (100, True, True, 1, 0x88, 0, 64)]
    assert f.hw_mappings == (HwMapping(100, 64),)
    assert f.eoi_maintenance == 1 << 77
    assert f.active_levels == 1 << 16  # GICH_APR 0x10: group priority 0x20
    assert (f.ctlr, f.pmr, f.bpr, f.abpr) == (0x207, 0xF0, 2, 4)
    with pytest.raises(ValidationError) as info:
        fold_vcpu(regs(*lrs, hcr=0x1000_0049, vmcr=0xF050_0207, apr=0x10), 0)
    assert sorted({v.code for v in info.value.violations}) == [
        "GICH-HCR-CONTROL", "GICH-HCR-EOICOUNT", "GICH-LR-EOI-PENDING", "GICH-LR-HW"]


# --- export: literal list registers -----------------------------------------------------------
def kvm_state(num_cpus: int = 2) -> GicState:
    st = GicState.reset(GicConfig(num_cpus, 64, priority_bits=5, min_bpr=2,
                                  sgi_enables_rao_wi=False))
    st.enable_grp0 = st.enable_grp1 = True
    return st


def test_hw_mapped_ppi_exports_only_when_live() -> None:
    """A HW mapping lives in a valid LR only (§6 row 3): an idle one must be refused,
    never exported into a free LR where the mapping is lost."""
    def export(line: int, active: int) -> GichView:
        st = kvm_state()
        b = st.banked[0]
        b.enabled |= 1 << 27
        b.priority = bytes(27) + b"\xa0"
        b.line_level, b.active = line << 27, active << 27
        st.keep_hypervisor_context()[0].hw_mappings = [HwMapping(27, 27)]
        return export_gich(st)

    with pytest.raises(ValidationError) as info:
        export(0, 0)
    assert [(v.code, v.path) for v in info.value.violations] == [
        ("GICH-EXPORT-HW-IDLE", "cpu0 irq 27 (PPI 11)")]
    # HW 1, pending 01, priority 0xa0 >> 3 = 0x14, PhysicalID 27, VirtualID 27
    pending = export(1, 0).vcpus[0]
    assert pending.lr == (0x9A00_6C1B, 0, 0, 0)
    assert (pending.elrsr0, pending.eisr0, pending.misr) == (0xE, 0, 0)
    assert export(0, 1).vcpus[0].lr == (0xAA00_6C1B, 0, 0, 0)
    assert export(1, 1).vcpus[0].lr == (0xBA00_6C1B, 0, 0, 0)


def test_export_lrs_follow_kvm_flush() -> None:
    """§4.2: level interrupts get EOI; an SGI gives its lowest source and asks for EOI while
    sources remain; an active SPI goes to the CPU it is active on."""
    st = kvm_state()
    b0 = st.banked[0]
    b0.priority = bytes([0x10, 0x20]) + bytes(14) + bytes([0x30] * 16)
    b0.sgi_sources = b"\x00\x03"  # SGI 1 pending from CPUs 0 and 1
    b0.enabled |= 1 << 20
    b0.line_level = 1 << 20  # PPI 20, level, line high
    b0.group = 1 << 20
    sh = st.shared
    sh.enabled = 1 << 0 | 1 << 1
    sh.edge = 1 << 1
    sh.priority = b"\x40\x48"
    sh.targets = b"\x02\x01"
    sh.pending_latch = 1 << 0  # SPI 32, level, latched, to CPU 1
    sh.active, sh.active_cpu = 1 << 1, b"\x00\x00"  # SPI 33 active on CPU 0
    view = export_gich(st)
    # CPU0: active SPI 33 first, then pending SGI 1 and PPI 20 by priority
    assert view.vcpus[0].lr == (
        0x2000_0000 | 0x48 >> 3 << 23 | 33,  # active, priority 0x48
        0x1000_0000 | 0x20 >> 3 << 23 | 1 << 19 | 0 << 10 | 1,  # SGI 1 from CPU 0, EOI
        0x5000_0000 | 0x30 >> 3 << 23 | 1 << 19 | 20,  # Grp1, level PPI: EOI
        0)
    assert view.vcpus[1].lr == (0x1000_0000 | 0x40 >> 3 << 23 | 1 << 19 | 32, 0, 0, 0)
    # what left for the LRs is gone from the image: SGI 1 keeps source 1, SPI 32's latch
    img = view.distributor
    assert img.banked[0].sgi_sources[1] == 0x02
    assert img.shared.pending_latch == 1 << 0  # a level latch stays in the image (EOI resample)
    assert img.shared.active == 1 << 1
    back = import_gich(view)
    assert back == st


def test_export_policy_none_sets_no_eoi() -> None:
    st = kvm_state(1)
    st.shared.enabled, st.shared.pending_latch = 1, 1
    st.shared.priority = b"\x40"
    view = export_gich(st, GichTarget(eoi_policy="none"))
    assert view.vcpus[0].lr == (0x1000_0000 | 0x40 >> 3 << 23 | 32, 0, 0, 0)
    view = export_gich(st, GichTarget(status_registers=False))
    assert view.vcpus[0].misr is None and view.vcpus[0].elrsr0 is None


def test_export_refuses_what_gich_cannot_hold() -> None:
    st = GicState.reset(GicConfig(1, 64, priority_bits=8, min_bpr=0))
    st.cpu[0].bpr, st.cpu[0].abpr = 2, 3
    export_gich(st)
    st.cpu[0].pmr = 0xF8
    assert export_gich(st).vcpus[0].vmcr == 0xF84C_0000
    st.cpu[0].pmr = 0xFC  # VMPriMask holds PMR[7:3]
    with pytest.raises(ValidationError) as info:
        export_gich(st)
    assert [v.code for v in info.value.violations] == ["GICH-EXPORT-PMR"]
    st.cpu[0].pmr = 0
    for bpr, abpr, reg in ((1, 3, "gicc.bpr"), (2, 2, "gicc.abpr")):
        st.cpu[0].bpr, st.cpu[0].abpr = bpr, abpr
        with pytest.raises(ValidationError) as info:
            export_gich(st)
        assert [(v.code, v.path) for v in info.value.violations] == [
            ("GICH-EXPORT-BINARY-POINT", f"cpu0 {reg}")]
    st.cpu[0].bpr, st.cpu[0].abpr = 2, 3
    # no active interrupt explains a level: its group is unknown, as GICH_APR has it
    st.cpu[0].active_group_unknown = 1 << 2  # group priority 0x04: not a GICH_APR level
    with pytest.raises(ValidationError) as info:
        export_gich(st)
    assert [v.code for v in info.value.violations] == ["GICH-EXPORT-APR-LEVEL"]
    st.cpu[0].active_group_unknown = 1 << 4  # 0x08: GICH_APR bit 1
    assert export_gich(st).vcpus[0].apr == 0x2
    st.cpu[0].active_group_unknown, st.cpu[0].active_group0 = 0, 1 << 4
    with pytest.raises(ValidationError) as info:
        export_gich(st)
    assert [v.code for v in info.value.violations] == ["GICH-EXPORT-APR-GROUP-SPLIT"]


def test_a_free_lr_only_names_its_interrupt() -> None:
    """An invalid LR without an EOI request is free (ELRSR set): its priority and group are
    not state; only the interrupt (and an SGI's source) it names is kept, to check that the
    image does not hold that interrupt live."""
    f = fold_vcpu(regs(0x4A80_0020, 0x0000_0C05, 0x1000_0021), 0)
    assert [tuple(x) for x in f.named] == [(0, 32, False, False, 0, 0, 0, None, False),
                                           (1, 5, False, False, 0, 0, 3, None, False)]
    assert [x.intid for x in f.lrs] == [33]


def test_export_refuses_an_invalid_state() -> None:
    st = kvm_state(1)
    st.cpu[0].bpr = 8
    with pytest.raises(ValidationError) as info:
        export_gich(st)
    assert [v.code for v in info.value.violations] == ["CPU-BPR-RANGE"]


def test_stale_latch_dropped_only_in_lenient_export_without_eoi() -> None:
    """A maybe-stale latch of an active level SPI: with EOI policy none the LR would be
    pending + active and deliver it again; lenient export drops the latch (active LR)."""
    st = kvm_state(1)
    sh = st.shared
    sh.enabled, sh.priority = 1, b"\x40"
    sh.active, sh.active_cpu = 1, b"\x00"
    sh.pending_latch = sh.latch_maybe_stale = 1
    assert export_gich(st).vcpus[0].lr[0] == 0x2408_0020  # kvm policy: active + EOI, priority 0x40
    with pytest.raises(ValidationError) as info:
        export_gich(st, GichTarget(eoi_policy="none"))
    assert [v.code for v in info.value.violations] == ["GICH-EXPORT-LATCH-MAYBE-STALE"]
    view = export_gich(st, GichTarget(eoi_policy="none"), lenient=True)
    assert view.vcpus[0].lr[0] == 0x2400_0020  # active only
    assert view.distributor.shared.pending_latch == 0
    st = kvm_state(1)  # the same for a PPI
    b = st.banked[0]
    b.enabled, b.priority = b.enabled | 1 << 20, bytes(20) + b"\x40"
    b.active = b.pending_latch = b.latch_maybe_stale = 1 << 20
    view = export_gich(st, GichTarget(eoi_policy="none"), lenient=True)
    assert view.vcpus[0].lr[0] == 0x2400_0014
    assert view.distributor.banked[0].pending_latch == 0


def test_hw_mapped_level_ppi_pending_by_its_line() -> None:
    """A HW=1 LR pending for a level interrupt: pending by the physical line (§6 row 3)."""
    img = kvm_state(1)
    img.banked[0].enabled |= 1 << 27
    img.banked[0].priority = bytes(27) + b"\xa0"
    st = import_gich(GichView((regs(0x9A00_6C1B),), img), keep_hypervisor_context=True)
    assert st.banked[0].line_level == 1 << 27
    assert st.banked[0].pending_latch == 0
    assert st.hypervisor is not None and st.hypervisor[0].hw_mappings == (HwMapping(27, 27),)


def test_free_lr_naming_a_live_sgi_is_ambiguous_per_source() -> None:
    img = GicState.reset(GicConfig(4, 64, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False))
    free = regs(0x0000_0C05)  # free, names SGI 5 from CPU 3
    idle = [regs() for _ in range(3)]
    import_gich(GichView((free, *idle), img))
    img.banked[0].sgi_sources = bytes(5) + b"\x04"  # pending from CPU 2: another instance
    import_gich(GichView((free, *idle), img))
    img.banked[0].sgi_sources = bytes(5) + b"\x08"  # pending from CPU 3: maybe finished here
    with pytest.raises(ValidationError) as info:
        import_gich(GichView((free, *idle), img))
    assert [v.code for v in info.value.violations] == ["GICH-LR-INVALID-AMBIGUOUS"]
    img.banked[0].sgi_sources = b""
    img.banked[0].active, img.banked[0].sgi_active_source = 1 << 5, bytes(5) + b"\x03"
    with pytest.raises(ValidationError) as info:
        import_gich(GichView((free, *idle), img))
    assert [v.code for v in info.value.violations] == ["GICH-LR-INVALID-AMBIGUOUS"]


@pytest.mark.parametrize(("physical", "ok"), [(15, False), (16, True), (1019, True),
                                               (1020, False)])
def test_hw_lr_physical_id_names_a_ppi_or_spi(physical: int, ok: bool) -> None:
    """§3.3: PhysicalID must name a PPI or SPI (16..1019)."""
    lr = 0x9A00_001B | physical << 10  # pending, HW, priority 0xa0, vID 27
    if ok:
        f = fold_vcpu(regs(lr), 0, keep_hypervisor_context=True)
        assert f.hw_mappings == (HwMapping(27, physical),)
        return
    with pytest.raises(ValidationError) as info:
        fold_vcpu(regs(lr), 0, keep_hypervisor_context=True)
    assert [v.code for v in info.value.violations] == ["GICH-LR-HW-PHYSICALID-RANGE"]


def test_an_untargeted_spi_is_queued_nowhere() -> None:
    """KVM queues a pending SPI to the lowest CPU of its targets (gic-domain §1.6); with no
    target it is queued to none, even on an 8-vCPU VM."""
    from gicmig.abi.kvm import lowest_target

    assert [lowest_target(t) for t in (0x01, 0x06, 0x80, 0xFF, 0x00)] == [0, 1, 7, 0, 8]
    st = GicState.reset(GicConfig(8, 64, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False))
    st.enable_grp0 = True
    sh = st.shared
    sh.enabled, sh.pending_latch, sh.edge, sh.priority = 0b11, 0b11, 0b11, b"\x40\x40"
    sh.targets = b"\x00\x80"  # SPI 32 untargeted, SPI 33 to CPU 7
    view = export_gich(st)
    assert [v.lr[0] & 0x3FF for v in view.vcpus] == [0] * 7 + [33]
    assert view.distributor.shared.pending_latch == 0b01
