"""The semantic diff library: every field of the canonical model, folding, order, masks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import configs, states

from gicmig.arch.registers import GICC_CTLR, GICH_HCR, GICH_LR, GICH_LR_HW, GICH_VMCR
from gicmig.core.config import GicConfig
from gicmig.core.model import UNKNOWN_CPU, GicState, HwMapping
from gicmig.formats.codec import decode, encode
from gicmig.formats.io import load
from gicmig.statediff.change import Change
from gicmig.statediff.semantic import diff

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "v1"
GOLDEN = ("reset-virt-2cpu", "busy", "hyp-context", "max")


def base() -> GicState:
    """A 2-CPU, 288-ID GIC with virtualization extensions, at reset."""
    return GicState.reset(GicConfig.qemu_virt(2, virtualization=True))


def lines(a: GicState, b: GicState, **kw: object) -> list[str]:
    return [c.render(registers=True) for c in diff(a, b, **kw)]  # type: ignore[arg-type]


def changed(edit: Callable[[GicState], object], start: GicState | None = None) -> list[str]:
    a = start if start is not None else base()
    b = a.copy()
    edit(b)
    return lines(a, b)


def set_spi(st: GicState, attr: str, intid: int, value: int = 1) -> None:
    sh = st.shared
    setattr(sh, attr, getattr(sh, attr) | value << (intid - 32))


def set_byte(data: bytes, k: int, value: int) -> bytes:
    out = bytearray(data)
    out[k] = value
    return bytes(out)


# --- parameters and distributor ------------------------------------------------------------------
@pytest.mark.parametrize(("edit", "expected"), [
    (lambda s: setattr(s.config._pb, "revision", 1), "config.revision: GICv2 -> GICv1"),
    (lambda s: setattr(s.config, "priority_bits", 5), "config.priority_bits: 8 -> 5"),
    (lambda s: setattr(s.config, "min_bpr", 2), "config.min_bpr: 0 -> 2"),
    (lambda s: setattr(s.config, "sgi_enables_rao_wi", False),
     "config.sgi_enables_rao_wi: true -> false"),
    (lambda s: setattr(s.config, "ppi_trigger_programmable", False),
     "config.ppi_trigger_programmable: true -> false"),
    (lambda s: setattr(s.config, "security_extensions", True),
     "config.security_extensions: false -> true [GICD_TYPER bit 10]"),
    (lambda s: setattr(s.config.virtualization, "num_lrs", 8),
     "config.virtualization.num_lrs: 4 -> 8 [GICH_VTR bits 5:0]"),
    (lambda s: setattr(s.config.virtualization, "priority_bits", 4),
     "config.virtualization.priority_bits: 5 -> 4 [GICH_VTR bits 31:29]"),
    (lambda s: setattr(s.config.virtualization, "preemption_bits", 4),
     "config.virtualization.preemption_bits: 5 -> 4 [GICH_VTR bits 28:26]"),
    (lambda s: setattr(s, "enable_grp0", True),
     "distributor.enable_grp0: 0 -> 1 [GICD_CTLR bit 0]"),
    (lambda s: setattr(s, "enable_grp1", True),
     "distributor.enable_grp1: 0 -> 1 [GICD_CTLR bit 1]"),
    (lambda s: setattr(s, "enable_grp1_unknown", True),
     "distributor.enable_grp1: 0 -> unknown [GICD_CTLR bit 1]"),
])
def test_parameters_and_distributor(edit: Callable[[GicState], None], expected: str) -> None:
    assert changed(edit) == [expected]


def test_num_irqs_change_lists_the_interrupts_on_one_side_only() -> None:
    a = base()
    b = GicState.reset(GicConfig(2, 320, num_lrs=4))
    set_spi(b, "enabled", 300)
    assert lines(a, b) == [
        "config.num_irqs: 288 -> 320 [GICD_TYPER bits 4:0]",
        "irq 288-319 (SPI 256-287): absent -> present",
        "irq 300 (SPI 268) enabled: absent -> 1 [GICD_ISENABLER9 bit 12]",
    ]
    assert lines(b, a)[1:] == ["irq 288-319 (SPI 256-287): present -> absent",
                               "irq 300 (SPI 268) enabled: 1 -> absent [GICD_ISENABLER9 bit 12]"]


def test_num_cpus_change_lists_the_cpu_on_one_side_only() -> None:
    a = GicState.reset(GicConfig.qemu_virt(1))
    b = GicState.reset(GicConfig.qemu_virt(2))
    b.cpu[1].pmr = 0xF0
    b.banked[1].enabled |= 1 << 27
    b.shared.targets = b"\x02"
    assert lines(a, b) == [
        "config.num_cpus: 1 -> 2 [GICD_TYPER bits 7:5]",
        "irq 32 (SPI 0) targets: {} -> {1} [GICD_ITARGETSR8 bits 7:0]",
        "cpu1: absent -> present",
        "cpu1 irq 27 (PPI 11) enabled: absent -> 1 [GICD_ISENABLER0 bit 27, banked]",
        "cpu1 gicc.pmr: absent -> 0xf0 [GICC_PMR bits 7:0]",
    ]


def test_virtualization_present_on_one_side_only() -> None:
    a = GicState.reset(GicConfig.qemu_virt(1))
    b = GicState.reset(GicConfig.qemu_virt(1, virtualization=True))
    b.virtual[0].apr = 1
    assert lines(a, b) == [
        "config.virtualization: absent -> present",
        "config.virtualization.num_lrs: absent -> 4 [GICH_VTR bits 5:0]",
        "config.virtualization.priority_bits: absent -> 5 [GICH_VTR bits 31:29]",
        "config.virtualization.preemption_bits: absent -> 5 [GICH_VTR bits 28:26]",
        "cpu0 gich: absent -> present",
        "cpu0 gich.apr: absent -> 0x00000001 [GICH_APR]",
    ]


# --- interrupts ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("attr", "register"), [
    ("enabled", "GICD_ISENABLER1 bit 8"), ("group", "GICD_IGROUPR1 bit 8"),
    ("edge", "GICD_ICFGR2 bit 17"), ("pending_latch", "GICD_ISPENDR1 bit 8"),
    ("line_level", "GICD_ISPENDR1 bit 8"), ("active", None),
])
def test_spi_bits(attr: str, register: str | None) -> None:
    got = diff(base(), _with(lambda s: set_spi(s, attr, 40)))
    assert got[0] == Change(f"irq 40 (SPI 8) {attr}", "0", "1",
                            register or "GICD_ISACTIVER1 bit 8")


def _with(edit: Callable[[GicState], object], start: GicState | None = None) -> GicState:
    st = (start or base()).copy()
    edit(st)
    return st


def test_spi_priority_targets_and_active_cpu() -> None:
    def edit(s: GicState) -> None:
        sh = s.shared
        sh.priority = set_byte(sh.priority, 8, 0xA0)
        sh.targets = set_byte(sh.targets, 8, 0b11)
        set_spi(s, "active", 40)
        sh.active_cpu = set_byte(sh.active_cpu, 8, 1)
        set_spi(s, "active", 41)
        sh.active_cpu = set_byte(sh.active_cpu, 9, UNKNOWN_CPU)
    assert changed(edit) == [
        "irq 40 (SPI 8) priority: 0x00 -> 0xa0 [GICD_IPRIORITYR10 bits 7:0]",
        "irq 40-41 (SPI 8-9) active: 0 -> 1 [GICD_ISACTIVER1 bits 9:8]",
        "irq 40 (SPI 8) active_cpu: none -> 1",
        "irq 40 (SPI 8) targets: {} -> {0,1} [GICD_ITARGETSR10 bits 7:0]",
        "irq 41 (SPI 9) active_cpu: none -> unknown",
    ]


def test_latch_line_split_unknown_shows_as_unknown() -> None:
    known = base()
    set_spi(known, "line_level", 40)  # what QEMU TCG knows: line high, latch clear
    kvm = base()  # what KVM's ABI gives: pending = latch OR line, split unknown
    set_spi(kvm, "pending_latch", 40)
    set_spi(kvm, "pending_split_unknown", 40)
    assert lines(known, kvm) == [
        "irq 40 (SPI 8) pending_latch: 0 -> unknown [GICD_ISPENDR1 bit 8]",
        "irq 40 (SPI 8) line_level: 1 -> unknown [GICD_ISPENDR1 bit 8]",
    ]


def test_ppi_attributes_including_unknown_split() -> None:
    def edit(s: GicState) -> None:
        b = s.banked[1]
        b.enabled |= 1 << 27
        b.group |= 1 << 27
        b.edge |= 1 << 26
        b.pending_latch |= 1 << 25 | 1 << 24
        b.pending_split_unknown |= 1 << 24
        b.line_level |= 1 << 23
        b.active |= 1 << 22
        b.priority = set_byte(b.priority, 27, 0xF8)
    assert changed(edit) == [
        "cpu1 irq 22 (PPI 6) active: 0 -> 1 [GICD_ISACTIVER0 bit 22, banked]",
        "cpu1 irq 23 (PPI 7) line_level: 0 -> 1 [GICD_ISPENDR0 bit 23, banked]",
        "cpu1 irq 24 (PPI 8) pending_latch: 0 -> unknown [GICD_ISPENDR0 bit 24, banked]",
        "cpu1 irq 24 (PPI 8) line_level: 0 -> unknown [GICD_ISPENDR0 bit 24, banked]",
        "cpu1 irq 25 (PPI 9) pending_latch: 0 -> 1 [GICD_ISPENDR0 bit 25, banked]",
        "cpu1 irq 26 (PPI 10) edge: 0 -> 1 [GICD_ICFGR1 bit 21, banked]",
        "cpu1 irq 27 (PPI 11) enabled: 0 -> 1 [GICD_ISENABLER0 bit 27, banked]",
        "cpu1 irq 27 (PPI 11) group: 0 -> 1 [GICD_IGROUPR0 bit 27, banked]",
        "cpu1 irq 27 (PPI 11) priority: 0x00 -> 0xf8 [GICD_IPRIORITYR6 bits 31:24, banked]",
    ]


def test_sgi_attributes() -> None:
    start = GicState.reset(GicConfig(2, 64, sgi_enables_rao_wi=False))
    start.banked[0].enabled = 0  # writable SGI enables (KVM), all disabled

    def edit(s: GicState) -> None:
        b = s.banked[0]
        b.enabled |= 1 << 1
        b.group |= 1 << 2
        b.edge &= ~(1 << 3)  # invalid for an SGI, but a diff still shows it
        b.priority = set_byte(b.priority, 4, 0x10)
        b.sgi_sources = set_byte(b.sgi_sources, 5, 0b10)
        b.active |= 1 << 6 | 1 << 7
        b.sgi_active_source = set_byte(set_byte(b.sgi_active_source, 6, 1), 7, UNKNOWN_CPU)
    assert changed(edit, start) == [
        "cpu0 irq 1 (SGI 1) enabled: 0 -> 1 [GICD_ISENABLER0 bit 1, banked]",
        "cpu0 irq 2 (SGI 2) group: 0 -> 1 [GICD_IGROUPR0 bit 2, banked]",
        "cpu0 irq 3 (SGI 3) edge: 1 -> 0 [GICD_ICFGR0 bit 7, banked]",
        "cpu0 irq 4 (SGI 4) priority: 0x00 -> 0x10 [GICD_IPRIORITYR1 bits 7:0, banked]",
        "cpu0 irq 5 (SGI 5) sources: {} -> {1} [GICD_SPENDSGIR1 bits 15:8, banked]",
        "cpu0 irq 6-7 (SGI 6-7) active: 0 -> 1 [GICD_ISACTIVER0 bits 7:6, banked]",
        "cpu0 irq 6 (SGI 6) active_source: none -> 1",
        "cpu0 irq 7 (SGI 7) active_source: none -> unknown",
    ]


# --- folding -------------------------------------------------------------------------------------
def test_runs_of_the_same_change_fold() -> None:
    got = changed(lambda s: set_spi(s, "enabled", 40, 0xFF))
    assert got == ["irq 40-47 (SPI 8-15) enabled: 0 -> 1 [GICD_ISENABLER1 bits 15:8]"]


def test_runs_break_on_direction_value_and_kind() -> None:
    a = base()
    set_spi(a, "enabled", 42)
    b = a.copy()
    b.shared.enabled ^= 0xFF << 8  # 40-47 flip: 42 goes 1 -> 0, the others 0 -> 1
    b.shared.priority = b"\0" * 8 + b"\x10\x10\x20"
    b.banked[0].group = 0xFFFF_FFFF
    assert lines(a, b) == [
        "irq 40-41 (SPI 8-9) enabled: 0 -> 1 [GICD_ISENABLER1 bits 9:8]",
        "irq 40-41 (SPI 8-9) priority: 0x00 -> 0x10 [GICD_IPRIORITYR10 bits 15:0]",
        "irq 42 (SPI 10) enabled: 1 -> 0 [GICD_ISENABLER1 bit 10]",
        "irq 42 (SPI 10) priority: 0x00 -> 0x20 [GICD_IPRIORITYR10 bits 23:16]",
        "irq 43-47 (SPI 11-15) enabled: 0 -> 1 [GICD_ISENABLER1 bits 15:11]",
        "cpu0 irq 0-15 (SGI 0-15) group: 0 -> 1 [GICD_IGROUPR0 bits 15:0, banked]",
        "cpu0 irq 16-31 (PPI 0-15) group: 0 -> 1 [GICD_IGROUPR0 bits 31:16, banked]",
    ]


def test_a_run_across_registers_names_both_ends() -> None:
    got = diff(base(), _with(lambda s: set_spi(s, "enabled", 60, 0xFF)))
    assert [(c.path, c.register) for c in got] == [
        ("irq 60-67 (SPI 28-35) enabled", "GICD_ISENABLER1 bit 28 .. GICD_ISENABLER2 bit 3")]


# --- CPU interface, virtual interface, hypervisor context, provenance ----------------------------
@pytest.mark.parametrize("field", [f.name for f in GICC_CTLR.fields])
def test_every_gicc_ctlr_bit(field: str) -> None:
    f = GICC_CTLR.field(field)
    got = diff(base(), _with(lambda s: setattr(s.cpu[1], "ctlr", f.put(0, 1))))
    assert got == [Change(f"cpu1 gicc.ctlr.{field}", "0", "1", f"GICC_CTLR bit {f.shift}")]


def test_gicc_registers_and_active_priorities() -> None:
    a = base()
    a.cpu[0].active_group0 = 1 << 8  # priority 0x10 active in group 0
    a.cpu[0].active_group1 = 1 << 16  # 0x20 in group 1

    def edit(s: GicState) -> None:
        c = s.cpu[0]
        c.pmr, c.bpr, c.abpr = 0xF0, 3, 4
        c.ctlr = 1 << 12  # reserved
        c.active_group0 = 0
        c.active_group_unknown = 1 << 8
        c.active_group1 = 1 << 16 | 1 << 64
    assert changed(edit, a) == [
        "cpu0 gicc.ctlr.reserved: 0x0 -> 0x1000 [GICC_CTLR reserved bits]",
        "cpu0 gicc.pmr: 0x00 -> 0xf0 [GICC_PMR bits 7:0]",
        "cpu0 gicc.bpr: 0 -> 3 [GICC_BPR bits 2:0]",
        "cpu0 gicc.abpr: 1 -> 4 [GICC_ABPR bits 2:0]",
        "cpu0 gicc.active_priority 0x10: group0 -> unknown",
        "cpu0 gicc.active_priority 0x80: inactive -> group1",
    ]


@pytest.mark.parametrize(("reg", "attr", "field"),
                         [(GICH_HCR, "hcr", f.name) for f in GICH_HCR.fields]
                         + [(GICH_VMCR, "vmcr", f.name) for f in GICH_VMCR.fields])
def test_every_gich_hcr_and_vmcr_field(reg: object, attr: str, field: str) -> None:
    f = reg.field(field)  # type: ignore[attr-defined]
    a = base()
    b = a.copy()
    v = b.virtual[1]
    old = getattr(v, attr)
    new_value = f.get(old) ^ 1
    setattr(v, attr, f.put(old, new_value))
    (c,) = diff(a, b)
    assert c.path == f"cpu1 gich.{attr}.{field}"
    assert c.new == (f"{new_value:#04x}" if field == "vmprimask" else str(new_value))
    assert c.register == f"GICH_{attr.upper()} " + (
        f"bit {f.shift}" if f.width == 1 else f"bits {f.shift + f.width - 1}:{f.shift}")


def test_gich_apr_and_list_registers() -> None:
    a = base()
    a.virtual[0].lr = (GICH_LR.pack(virtual_id=27, priority=0x10, state=1),)

    def edit(s: GicState) -> None:
        v = s.virtual[0]
        v.apr = 0x8000_0001
        v.lr = (GICH_LR.pack(virtual_id=27, priority=0x10, state=2, cpuid=1, eoi=1, grp1=1),
                GICH_LR_HW.pack(virtual_id=40, physical_id=72, hw=1, state=1))
    assert changed(edit, a) == [
        "cpu0 gich.apr: 0x00000000 -> 0x80000001 [GICH_APR]",
        "cpu0 gich.lr0.cpuid: 0 -> 1 [GICH_LR0 bits 12:10]",
        "cpu0 gich.lr0.eoi: 0 -> 1 [GICH_LR0 bit 19]",
        "cpu0 gich.lr0.state: pending -> active [GICH_LR0 bits 29:28]",
        "cpu0 gich.lr0.grp1: 0 -> 1 [GICH_LR0 bit 30]",
        "cpu0 gich.lr1.virtual_id: 0 -> 40 [GICH_LR1 bits 9:0]",
        "cpu0 gich.lr1.cpuid: 0 -> - [GICH_LR1 bits 12:10]",
        "cpu0 gich.lr1.physical_id: - -> 72 [GICH_LR1 bits 19:10]",
        "cpu0 gich.lr1.eoi: 0 -> - [GICH_LR1 bit 19]",
        "cpu0 gich.lr1.state: invalid -> pending [GICH_LR1 bits 29:28]",
        "cpu0 gich.lr1.hw: 0 -> 1 [GICH_LR1 bit 31]",
    ]


def test_hypervisor_context() -> None:
    a = base()
    for ctx in a.keep_hypervisor_context():
        ctx.hcr = 0  # the interface disabled, so that enabling it shows as a change
    a.hypervisor[1].eoi_maintenance = 1 << 40  # type: ignore[index]

    def edit(s: GicState) -> None:
        ctx = s.hypervisor
        assert ctx is not None
        ctx[0].hcr = GICH_HCR.pack(en=1, eoicount=3)
        ctx[0].hw_mappings = [HwMapping(27, 27), HwMapping(40, 72)]
        ctx[1].eoi_maintenance = 0b1111 << 14
    assert changed(edit, a) == [
        "cpu0 hyp.hcr.en: 0 -> 1 [GICH_HCR bit 0]",
        "cpu0 hyp.hcr.eoicount: 0 -> 3 [GICH_HCR bits 31:27]",
        "cpu0 hyp.hw_mapping irq 27 (PPI 11): none -> 27",
        "cpu0 hyp.hw_mapping irq 40 (SPI 8): none -> 72",
        "cpu1 hyp.eoi_maintenance irq 14-15 (SGI 14-15): 0 -> 1",
        "cpu1 hyp.eoi_maintenance irq 16-17 (PPI 0-1): 0 -> 1",
        "cpu1 hyp.eoi_maintenance irq 40 (SPI 8): 1 -> 0",
    ]
    assert lines(base(), a) == ["hypervisor: absent -> present",
                                "cpu1 hyp.eoi_maintenance irq 40 (SPI 8): absent -> 1"]


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("tool", "qemu-dump", 'provenance.tool: "gicmig" -> "qemu-dump"'),
    ("tool_version", "9.9", 'provenance.tool_version: "" -> "9.9"'),
    ("source", "kvm-abi", "provenance.source: unspecified -> kvm-abi"),
    ("vmm", "qemu", 'provenance.vmm: "" -> "qemu"'),
    ("vmm_version", "7.2.22", 'provenance.vmm_version: "" -> "7.2.22"'),
    ("gicd_iidr", 0x0100143B, "provenance.gicd_iidr: absent -> 0x0100143b [GICD_IIDR]"),
    ("host_kernel", "6.1.0", 'provenance.host_kernel: "" -> "6.1.0"'),
])
def test_provenance(field: str, value: object, expected: str) -> None:
    assert changed(lambda s: setattr(s.provenance, field, value)) == [expected]


# --- order, masks, formats -----------------------------------------------------------------------
def test_sections_come_in_a_fixed_order() -> None:
    def edit(s: GicState) -> None:
        s.provenance.vmm = "qemu"
        s.keep_hypervisor_context()[0].hcr = 1
        s.virtual[1].apr = 1
        s.cpu[1].pmr = 0x80
        s.banked[1].active = 1 << 20
        s.cpu[0].bpr = 2
        s.banked[0].group = 1 << 17
        set_spi(s, "group", 100)
        set_spi(s, "group", 33)
        s.enable_grp0 = True
        s.config.min_bpr = 1
    paths = [c.path for c in diff(base(), _with(edit))]
    assert paths == [
        "config.min_bpr", "distributor.enable_grp0", "irq 33 (SPI 1) group",
        "irq 100 (SPI 68) group", "cpu0 irq 17 (PPI 1) group", "cpu0 gicc.bpr",
        "cpu1 irq 20 (PPI 4) active", "cpu1 gicc.pmr", "cpu1 gich.apr", "hypervisor",
        "cpu0 hyp.hcr.en", "cpu1 hyp.hcr.en", "provenance.vmm"]


def test_ignore_masks_paths_and_splits_folded_runs() -> None:
    def edit(s: GicState) -> None:
        set_spi(s, "enabled", 40, 0xFF)
        s.provenance.vmm_version = "8.0"
        s.cpu[0].pmr = s.cpu[1].pmr = 0x80
    b = _with(edit)
    assert [c.path for c in diff(base(), b, ignore=["provenance.*", "cpu? gicc.pmr"])] == [
        "irq 40-47 (SPI 8-15) enabled"]
    assert [c.path for c in diff(base(), b, ignore=["*irq 42 (SPI 10) *", "provenance.*",
                                                    "cpu1 *"])] == [
        "irq 40-41 (SPI 8-9) enabled", "irq 43-47 (SPI 11-15) enabled", "cpu0 gicc.pmr"]
    assert diff(base(), b, ignore=["*"]) == []


def test_change_renders_as_text_and_json() -> None:
    c = Change("cpu0 gicc.pmr", "0xf0", "0x80", "GICC_PMR bits 7:0")
    assert str(c) == "cpu0 gicc.pmr: 0xf0 -> 0x80"
    assert c.render(registers=True) == "cpu0 gicc.pmr: 0xf0 -> 0x80 [GICC_PMR bits 7:0]"
    assert c.as_dict() == {"path": "cpu0 gicc.pmr", "old": "0xf0", "new": "0x80"}
    assert c.as_dict(registers=True)["register"] == "GICC_PMR bits 7:0"


@pytest.mark.parametrize("name", GOLDEN)
def test_a_blob_and_its_json_fixture_are_the_same(name: str) -> None:
    assert diff(load(V1 / f"{name}.gicmig"), load(V1 / f"{name}.json")) == []


def test_schema_revision_is_not_state() -> None:
    a = load(V1 / "busy.gicmig")
    b = a.copy()
    b.schema_revision = 2
    assert diff(a, b) == []


# --- properties ----------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_no_changes_exactly_when_states_are_equal(data: st.DataObject) -> None:
    cfg = data.draw(configs())
    a, b = data.draw(states(cfg)), data.draw(states(cfg))
    b.provenance.tool = a.provenance.tool
    assert (diff(a, b) == []) == (a == b)
    assert diff(a, decode(encode(a))) == []


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_swapping_the_sides_swaps_old_and_new(data: st.DataObject) -> None:
    cfg = data.draw(configs())
    a, b = data.draw(states(cfg)), data.draw(states(cfg))
    forward = diff(a, b)
    assert diff(b, a) == [Change(c.path, c.new, c.old, c.register) for c in forward]
    assert all(c.old != c.new for c in forward)
    assert len({c.path for c in forward}) == len(forward)  # one line per place and attribute


def test_list_registers_on_one_side_only() -> None:
    a = GicState.reset(GicConfig(1, 64, num_lrs=2))
    b = GicState.reset(GicConfig(1, 64, num_lrs=4))
    b.virtual[0].lr = (0, 0, GICH_LR.pack(virtual_id=33, state=1))
    assert lines(a, b) == [
        "config.virtualization.num_lrs: 2 -> 4 [GICH_VTR bits 5:0]",
        "cpu0 gich.lr2.virtual_id: absent -> 33 [GICH_LR2 bits 9:0]",
        "cpu0 gich.lr2.state: absent -> pending [GICH_LR2 bits 29:28]",
    ]
