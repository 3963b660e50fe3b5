"""Post-run states: a guest in a real KVM acknowledges, priority-drops and deactivates
interrupts (EOImode 0 and 1), sends SGIs from several vCPUs, and level lines are high
and low. The dump goes `import kvm` -> `export kvm` -> replay into a fresh real KVM (a
second boot): the registers read back the same, and the guest, continued in both VMs,
sees the same interrupts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from kvm.driver import (
    GICC_CTLR,
    GICC_DIR,
    GICC_EOIR,
    GICC_IAR,
    GICC_PMR,
    GICD_SGIR,
    IRQ_PPI,
    IRQ_SPI,
    OP_DONE,
    OP_LOAD_REPORT,
    OP_STORE,
    BootResult,
    Case,
    CaseResult,
)
from realkvm import boot, count

from gicmig.core.model import UNKNOWN_CPU
from gicmig.views.kvm import export_kvm, import_kvm
from gicmig.views.kvm.dump import dump_to_json, parse_dump, writes_to_json

pytestmark = pytest.mark.realkvm

Program = list[tuple[int, int, int]]
EOIMODE = 1 << 9


def _cpu_on(eoimode: bool = False) -> Program:
    return [(OP_STORE, GICC_CTLR, 1 | (EOIMODE if eoimode else 0)), (OP_STORE, GICC_PMR, 0xF8)]


def ack() -> tuple[int, int, int]:
    return (OP_LOAD_REPORT, GICC_IAR, 0)


def eoi(value: int) -> tuple[int, int, int]:
    return (OP_STORE, GICC_EOIR, value)


def deactivate(value: int) -> tuple[int, int, int]:
    return (OP_STORE, GICC_DIR, value)


def sgi(targets: int, intid: int) -> tuple[int, int, int]:
    return (OP_STORE, GICD_SGIR, targets << 16 | intid)


@dataclass
class Scenario:
    name: str
    cpus: int
    nr_irqs: int
    setup: Callable[[Case], object]
    first: list[tuple[int, Program]]  # (vcpu, program) in order
    reports: list[tuple[int, int]]  # what the first programs report (vcpu, IAR value)
    lines: list[tuple[int, int, int]] = field(default_factory=list)  # held high: re-driven
    then: list[tuple[int, Program]] = field(default_factory=list)  # continued after the dump


def _dist_on(case: Case, words: int, cpus: int) -> None:
    """Distributor enabled, every interrupt enabled (priorities 0, SPI targets vCPU 0)."""
    case.write("dist", 0, 0x000, 1)
    for c in range(cpus):
        case.write("dist", c, 0x100, 0xFFFF_FFFF)
    for i in range(1, words):
        case.write("dist", 0, 0x100 + 4 * i, 0xFFFF_FFFF)


def _spis(case: Case) -> None:
    """SPIs 40, 41 on vCPU 0, 42 on vCPU 1, by priority 41 > 42 > 40; all edge."""
    _dist_on(case, 3, 2)
    case.write("dist", 0, 0x428, 0x0060_4080)  # IPRIORITYR10: 40=0x80 41=0x40 42=0x60
    case.write("dist", 0, 0x828, 0x0002_0101)  # ITARGETSR10
    for intid in (40, 41, 42):
        case.line(IRQ_SPI, 0, intid, 1).line(IRQ_SPI, 0, intid, 0)


def _sgis(case: Case) -> None:
    _dist_on(case, 2, 4)


def _levels(case: Case) -> None:
    """Level SPIs 36 (line high), 37 (line pulsed), 38 (latched by ISPENDR, then its line
    pulsed); PPI 23 of vCPU 1 held high."""
    _dist_on(case, 2, 2)
    case.write("dist", 0, 0xC08, 0xAAAA_AAAA & ~(0b10_1010 << 8))  # ICFGR2: 36-38 level
    case.line(IRQ_SPI, 0, 36, 1)
    case.line(IRQ_SPI, 0, 37, 1).line(IRQ_SPI, 0, 37, 0)
    case.write("dist", 0, 0x204, 1 << 6).line(IRQ_SPI, 0, 38, 1).line(IRQ_SPI, 0, 38, 0)
    case.line(IRQ_PPI, 1, 23, 1)


def _latched_ppi(case: Case) -> None:
    """A level PPI latched by ISPENDR (its line low), to be acknowledged."""
    _dist_on(case, 2, 1)
    case.write("dist", 0, 0x200, 1 << 20)


SCENARIOS = [
    Scenario("spis-eoimode", 2, 96, _spis,
             first=[(0, [*_cpu_on(), ack(), eoi(41), ack()]),  # 41 done, 40 left active
                    (1, [*_cpu_on(eoimode=True), ack(), eoi(42)])],  # 42 dropped, active
             reports=[(0, 41), (0, 40), (1, 42)],
             then=[(0, [eoi(40), ack()]), (1, [deactivate(42), ack()])]),
    Scenario("sgi-sources", 4, 64, _sgis,
             first=[(1, [*_cpu_on(), sgi(0b0001, 2)]), (2, [*_cpu_on(), sgi(0b0001, 2)]),
                    (3, [*_cpu_on(), sgi(0b0001, 7), sgi(0b0011, 2)]),
                    (0, [*_cpu_on(), ack()])],  # SGI 2 from vCPU 1: active; the rest pend
             reports=[(0, 1 << 10 | 2)],
             then=[(0, [eoi(1 << 10 | 2), ack(), eoi(2 << 10 | 2), ack(), eoi(3 << 10 | 2),
                        ack(), eoi(3 << 10 | 7), ack()]),
                   (1, [ack(), eoi(3 << 10 | 2), ack()])]),
    Scenario("levels", 2, 64, _levels,
             first=[(1, _cpu_on()), (0, [*_cpu_on(), ack()])],  # 36 active, line still high
             reports=[(0, 36)],
             lines=[(IRQ_SPI, 0, 36), (IRQ_PPI, 1, 23)],
             then=[(0, [eoi(36), ack(), eoi(36), ack(), eoi(38), ack()]),
                   (1, [ack(), eoi(23), ack()])]),
    Scenario("latched-ppi", 1, 64, _latched_ppi,
             first=[(0, [*_cpu_on(), ack()])], reports=[(0, 20)],
             then=[(0, [eoi(20), ack()])]),
]
BY_NAME = {s.name: s for s in SCENARIOS}


def _continue(case: Case, sc: Scenario) -> None:
    for vcpu, prog in sc.then:
        case.run(vcpu, [*prog, (OP_DONE, 0, 0)])
    case.dump()


@pytest.fixture(scope="module")
def first_boot(kvm_artifacts) -> BootResult:  # type: ignore[no-untyped-def]
    cases = []
    for sc in SCENARIOS:
        case = Case(sc.name).vm(sc.cpus, sc.nr_irqs)
        case.write("dist", 0, 0x008, 0x4B00_243B)
        sc.setup(case)
        for vcpu, prog in sc.first:
            case.run(vcpu, [*prog, (OP_DONE, 0, 0)])
        case.dump()
        _continue(case, sc)
        cases.append(case)
    return boot(kvm_artifacts, cases, "guest runs")


@pytest.fixture(scope="module")
def second_boot(kvm_artifacts, first_boot: BootResult) -> BootResult:  # type: ignore[no-untyped-def]
    cases = []
    for sc in SCENARIOS:
        dump = first_boot.results[sc.name].dumps[0]
        state = import_kvm(parse_dump(dump_to_json(dump)))
        case = Case(sc.name).vm(sc.cpus, sc.nr_irqs)
        case.writes_file(writes_to_json(sc.nr_irqs, export_kvm(state)))
        for kind, vcpu, intid in sc.lines:  # the VMM re-drives its device lines
            case.line(kind, vcpu, intid, 1)
        case.dump()
        _continue(case, sc)
        cases.append(case)
    return boot(kvm_artifacts, cases, "replays of guest runs")


def _ok(boot_result: BootResult, name: str) -> CaseResult:
    res = boot_result.results[name]
    assert res.vm_created and res.errors == [], res.errors
    return res


@pytest.mark.parametrize("name", BY_NAME)
def test_the_guest_took_the_interrupts(first_boot: BootResult, name: str) -> None:
    sc = BY_NAME[name]
    res = _ok(first_boot, name)
    assert res.reports[:len(sc.reports)] == sc.reports
    assert res.done[:len(sc.first)] == [v for v, _ in sc.first]


@pytest.mark.parametrize("name", BY_NAME)
def test_post_run_state_survives_import_export_replay(first_boot: BootResult,
                                                      second_boot: BootResult,
                                                      name: str) -> None:
    before = _ok(first_boot, name).dumps[0]
    after = _ok(second_boot, name).dumps[0]
    assert import_kvm(after) == import_kvm(before)
    a, b = before.registers(), after.registers()
    assert a.keys() == b.keys()
    assert {k: (a[k], b[k]) for k in a if a[k] != b[k]} == {}
    count("post-run: registers compared after dump -> import -> export -> replay", len(a))


def test_post_run_states_hold_what_was_done(first_boot: BootResult) -> None:
    """Values: what the guest left is what import kvm reads."""
    spis = import_kvm(_ok(first_boot, "spis-eoimode").dumps[0])
    assert spis.shared.active == 1 << 8 | 1 << 10  # 40 (not EOId) and 42 (dropped only)
    assert spis.shared.pending_latch == 0
    # 40 (0x80) is still running on vCPU 0: its CPU and the level's group are derived
    assert spis.cpu[0].active_group0 == 1 << 64 and spis.cpu[0].active_group_unknown == 0
    assert spis.shared.active_cpu[8] == 0
    assert [d.place for d in spis.derivations] == ["irq 40 (SPI 8)",
                                                   "cpu0 gicc.active_priorities"]
    # 42's priority was dropped (EOImode 1): nothing says where it is active
    assert spis.cpu[1].active_group0 == spis.cpu[1].active_group_unknown == 0
    assert spis.shared.active_cpu[10] == UNKNOWN_CPU
    assert spis.cpu[1].ctlr & EOIMODE
    sgis = import_kvm(_ok(first_boot, "sgi-sources").dumps[0])
    b0 = sgis.banked[0]
    assert b0.active == 1 << 2 and b0.sgi_sources[2] == 0b1100 and b0.sgi_sources[7] == 0b1000
    assert sgis.banked[1].sgi_sources[2] == 0b1000
    levels = import_kvm(_ok(first_boot, "levels").dumps[0])
    sh = levels.shared
    assert sh.active == 1 << 4 and sh.pending_latch == 1 << 4 | 1 << 6  # 36 and 38
    assert sh.pending_split_unknown == 1 << 4 | 1 << 6
    assert levels.banked[1].pending_latch == 1 << 23


@pytest.mark.parametrize("name", BY_NAME)
def test_the_guest_continues_alike_after_the_replay(first_boot: BootResult,
                                                    second_boot: BootResult,
                                                    name: str) -> None:
    sc = BY_NAME[name]
    original = _ok(first_boot, name).reports[len(sc.reports):]
    replayed = _ok(second_boot, name).reports
    assert original and replayed == original
    assert _ok(first_boot, name).dumps[1].registers() == _ok(second_boot, name).dumps[1].registers()


def test_latched_ppi_reads_pending_and_active_after_the_ack(first_boot: BootResult) -> None:
    """KVM clears a level interrupt's latch only when its LR goes invalid: acknowledged,
    the latched PPI reads pending and active; deactivated, neither."""
    res = _ok(first_boot, "latched-ppi")
    acked, done = (d.registers() for d in res.dumps)
    assert (acked[("dist", 0, 0x200)], acked[("dist", 0, 0x300)]) == (1 << 20, 1 << 20)
    assert (done[("dist", 0, 0x200)], done[("dist", 0, 0x300)]) == (0, 0)
    assert res.reports == [(0, 20), (0, 1023)]


def test_latched_ppi_replayed_into_kvm_is_not_taken_again(first_boot: BootResult,
                                                         second_boot: BootResult) -> None:
    """Its stale latch, restored through the ABI as pending + active, is cleared by KVM at
    the deactivation just as in the original VM: the guest does not take it again."""
    assert _ok(second_boot, "latched-ppi").reports == [(0, 1023)]
    state = import_kvm(_ok(first_boot, "latched-ppi").dumps[0])
    assert state.banked[0].active == state.banked[0].pending_latch == 1 << 20
    assert state.banked[0].latch_maybe_stale == 1 << 20  # schema revision 3's marker
