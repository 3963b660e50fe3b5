"""Export to the KVM device ABI: every refusal, lenient mode, and the IIDR revision."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import kvm_losses as loss
import pytest
import strategies
from hypothesis import HealthCheck, given, settings
from test_kvm_replay import KvmModel

from gicmig.abi.kvm.fit import KvmUnrepresentable, export_kvm, fit_kvm, plan_kvm
from gicmig.core.config import GicConfig
from gicmig.core.model import GicState
from gicmig.core.rules import validate
from gicmig.errors import REASONS, GicmigError, ValidationError
from gicmig.views.kvm.reader import import_kvm


def qemu_tcg(num_cpus: int = 2) -> GicState:
    """A QEMU TCG GIC: 8 priority bits, BPR minimum 0, programmable PPIs."""
    st = GicState.reset(GicConfig(num_cpus, 96, priority_bits=8, min_bpr=0,
                                  sgi_enables_rao_wi=True, ppi_trigger_programmable=True))
    for ci in st.cpu:
        ci.bpr, ci.abpr = 2, 3  # values KVM can hold
    st.provenance.source = "qemu-tcg"
    return st


def _enables(st: GicState) -> None:
    st.enable_grp0 = True


def _priority(st: GicState) -> None:
    st.shared.priority = bytes([0xA0, 0xA1])


def _spi_line(st: GicState) -> None:
    st.shared.line_level = 1 << 1


def _spi_cpu(st: GicState) -> None:
    st.shared.targets = bytes([0x01])
    st.shared.active = 1
    st.shared.active_cpu = bytes([1])


def _active_latch(st: GicState) -> None:
    """A level SPI latched again after its acknowledge (QEMU TCG keeps that latch)."""
    st.shared.active = st.shared.pending_latch = 1 << 2
    st.shared.active_cpu = bytes(3)


CASES: list[tuple[str, Callable[[GicState], None], str]] = [
    ("KVM-EXPORT-ENABLE-GROUPS-DIFFER", _enables, "gicd.ctlr"),
    ("KVM-EXPORT-PRIORITY-BITS", _priority, "irq 33 (SPI 1)"),
    ("KVM-EXPORT-PPI-EDGE", loss.ppi_edge, "cpu1 irq 20 (PPI 4)"),
    ("KVM-EXPORT-LINE-LEVEL", loss.ppi_line, "cpu0 irq 27 (PPI 11)"),
    ("KVM-EXPORT-LINE-LEVEL", _spi_line, "irq 33 (SPI 1)"),
    ("KVM-EXPORT-ACTIVE-SGI-SOURCE", loss.sgi_source, "cpu0 irq 5 (SGI 5)"),
    ("KVM-EXPORT-ACTIVE-SPI-CPU", _spi_cpu, "irq 32 (SPI 0)"),
    ("KVM-EXPORT-LATCH-ACTIVE-LEVEL", _active_latch, "irq 34 (SPI 2)"),
    ("KVM-EXPORT-CTLR-BITS", loss.ctlr, "cpu0 gicc.ctlr"),
    ("KVM-EXPORT-PMR-BITS", loss.pmr, "cpu1 gicc.pmr"),
    ("KVM-EXPORT-BINARY-POINT", loss.bpr, "cpu0 gicc.bpr"),
    ("KVM-EXPORT-APR-GRANULARITY", loss.apr, "cpu0"),
    ("KVM-EXPORT-HYPERVISOR-CONTEXT", loss.hyp, "hypervisor"),
]


@pytest.mark.parametrize(("code", "make", "place"), CASES, ids=[c[0] + c[2] for c in CASES])
def test_strict_refuses_and_lenient_reports(code: str, make: Callable[[GicState], None],
                                            place: str) -> None:
    st = qemu_tcg()
    make(st)
    validate(st)
    assert code in REASONS
    with pytest.raises(KvmUnrepresentable) as info:
        export_kvm(st)
    assert [v.code for v in info.value.violations] == [code]
    assert place in info.value.violations[0].path
    assert info.value.category == "lossy"
    plan = plan_kvm(st, lenient=True)
    assert [v.code for v in plan.losses] == [code]
    # lenient writes restore exactly the fitted state, which strict export then accepts
    fitted, _ = fit_kvm(st, lenient=True)
    model = KvmModel(2, 96)
    for w in plan.writes:
        model.set_attr(w)
    assert import_kvm(model.save(), priority_bits=8) == loss.as_kvm(fitted)
    export_kvm(fitted)


def test_every_loss_is_listed_at_once() -> None:
    st = qemu_tcg()
    for make in (_enables, _priority, loss.ppi_line, loss.pmr, loss.apr):
        make(st)
    with pytest.raises(KvmUnrepresentable) as info:
        export_kvm(st)
    assert {v.code for v in info.value.violations} == {
        "KVM-EXPORT-ENABLE-GROUPS-DIFFER", "KVM-EXPORT-PRIORITY-BITS", "KVM-EXPORT-LINE-LEVEL",
        "KVM-EXPORT-PMR-BITS", "KVM-EXPORT-APR-GRANULARITY"}


def test_lenient_values() -> None:
    st = qemu_tcg()
    for make in (_enables, _priority, loss.ppi_line, loss.pmr, loss.apr, loss.bpr, loss.ctlr):
        make(st)
    fitted, losses = fit_kvm(st, lenient=True)
    assert len(losses) == 7
    assert fitted.enable_grp0 and fitted.enable_grp1_unknown  # enabled if either was
    assert fitted.shared.priority[1] == 0xA0  # masked to five bits
    b = fitted.banked[0]
    assert b.line_level == 0 and b.pending_latch == b.pending_split_unknown == 1 << 27
    assert fitted.cpu[1].pmr == 0xF0
    assert fitted.cpu[0].active_group_unknown == 1  # level 1 folded into level 0
    assert (fitted.cpu[0].bpr, fitted.cpu[0].ctlr) == (2, 0x1)


def test_what_kvm_holds_is_not_refused() -> None:
    """Unknown markers from a KVM import, known-group active priorities (merged as GICH_APR
    does) and a known latch all export in strict mode."""
    st = qemu_tcg()
    st.enable_grp0 = st.enable_grp1 = True
    st.banked[1].pending_latch = 1 << 30  # level PPI, latch known
    st.banked[0].active = 1 << 2
    st.banked[0].sgi_active_source = bytes([0, 0, 0])  # source 0 is what KVM assigns
    st.shared.targets = bytes([0b10])
    st.shared.active = 1
    st.shared.active_cpu = bytes([1])  # KVM's choice: the first target
    st.cpu[0].active_group1 = 1 << 40
    validate(st)
    assert export_kvm(st)


@pytest.mark.parametrize(("config", "code"), [
    (GicConfig(1, 32, priority_bits=5, min_bpr=2), "KVM-EXPORT-NUM-IRQS"),
    (GicConfig(1, 1020, priority_bits=5, min_bpr=2), "KVM-EXPORT-NUM-IRQS"),
])
def test_hard_limits_refuse_even_when_lenient(config: GicConfig, code: str) -> None:
    st = GicState.reset(config)
    with pytest.raises(KvmUnrepresentable) as info:
        export_kvm(st, lenient=True)
    assert info.value.code == code


def test_virtualization_is_refused_strict_and_dropped_lenient() -> None:
    """The guest hypervisor's GICH registers: tests/test_qemu_to_kvm.py for real streams."""
    st = GicState.reset(GicConfig.qemu_virt(2, virtualization=True))
    with pytest.raises(KvmUnrepresentable) as info:
        export_kvm(st)
    assert {v.code for v in info.value.violations} >= {"KVM-EXPORT-VIRTUALIZATION"}
    fitted, losses = fit_kvm(st, lenient=True)
    assert [v.path for v in losses if v.code == "KVM-EXPORT-VIRTUALIZATION"] == [
        "config.virtualization", "cpu0 gich", "cpu1 gich"]
    assert fitted.config.virtualization is None and fitted.virtual == []


def test_invalid_state_is_refused_before_anything() -> None:
    st = qemu_tcg()
    st.cpu[0].ctlr = 1 << 20
    with pytest.raises(ValidationError) as info:
        export_kvm(st, lenient=True)
    assert info.value.code == "CPU-CTLR-RESERVED"


def test_groups_need_iidr_revision_2() -> None:
    st = qemu_tcg()
    st.shared.group = 1 << 5
    writes = export_kvm(st, iidr_revision=2)
    assert writes[0].register == "GICD_IIDR" and writes[0].value == 0x4B00243B
    with pytest.raises(KvmUnrepresentable) as info:
        export_kvm(st, iidr_revision=1)
    assert info.value.code == "KVM-EXPORT-GROUPS-IGNORED"
    lenient = export_kvm(st, iidr_revision=1, lenient=True)
    assert "GICD_IIDR" not in [w.register for w in lenient]
    assert export_kvm(qemu_tcg(), iidr_revision=1)  # no group 1: nothing is lost


def test_iidr_revision_defaults_to_the_sources() -> None:
    st = qemu_tcg()
    st.provenance.gicd_iidr = 0x4B00343B
    assert export_kvm(st)[0].value == 0x4B00343B
    st.provenance.gicd_iidr = 0x4B00143B  # revision 1 cannot be selected with groups
    assert export_kvm(st)[0].value == 0x4B00243B
    st.provenance.gicd_iidr = 0x0000043B  # QEMU TCG's IIDR
    assert export_kvm(st)[0].value == 0x4B00243B
    with pytest.raises(GicmigError) as info:
        export_kvm(st, iidr_revision=4)
    assert info.value.code == "USAGE"


def test_inputs_are_not_modified() -> None:
    st = qemu_tcg()
    loss.ppi_line(st)
    before = st.copy()
    fit_kvm(st, lenient=True)
    assert st == before and st.banked[0].line_level == 1 << 27


def test_every_kvm_reason_code_is_exercised() -> None:
    """Each KVM-* reason code is raised by some test of this view."""
    here = Path(__file__).parent
    text = "".join(p.read_text() for p in here.glob("test_kvm*.py"))
    codes = [c for c in REASONS if c.startswith("KVM-")]
    assert len(codes) == 32
    assert [c for c in codes if f'"{c}"' not in text] == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.configs(virtualization=False).filter(
    lambda c: 64 <= c.num_irqs <= 992 and c.num_cpus <= 4).flatmap(strategies.states))
def test_any_state_lenient_restore_is_the_fitted_state(state: GicState) -> None:
    """For any valid state: the lenient writes, replayed on KVM, give exactly `fit_kvm`'s
    state, and strict export refuses exactly when lenient mode reports a loss."""
    plan = plan_kvm(state, lenient=True)
    fitted, losses = fit_kvm(state, lenient=True)
    assert list(plan.losses) == losses
    model = KvmModel(state.config.num_cpus, state.config.num_irqs)
    for w in plan.writes:
        model.set_attr(w)
    assert import_kvm(model.save(), priority_bits=state.config.priority_bits) == loss.as_kvm(fitted)
    if losses:
        with pytest.raises(KvmUnrepresentable):
            export_kvm(state)
    else:
        assert export_kvm(state) == list(plan.writes)
