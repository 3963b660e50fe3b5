"""Import of KVM register dumps: markers, completeness and every refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_kvm_replay import KvmModel

from gicmig.abi.kvm.access import Access, KvmDump
from gicmig.core.model import UNKNOWN_CPU
from gicmig.errors import REASONS, GicmigError, ValidationError
from gicmig.views.kvm.dump import parse_dump
from gicmig.views.kvm.reader import KvmDumpIncomplete, import_kvm

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kvm"
TWO_VCPU = json.loads((FIXTURES / "two-vcpu.json").read_text())
FIRECRACKER = (FIXTURES / "firecracker-gicv2.json").read_bytes()


def edited(*changes: tuple[str, int, int, int | None], nr_irqs: int = 288) -> bytes:
    """The complete example with (group, vcpu, offset) set to a value (None: removed)."""
    value: dict[str, Any] = json.loads(json.dumps(TWO_VCPU))
    regs = value["registers"]
    for group, vcpu, offset, new in changes:
        hit = [i for i, r in enumerate(regs) if (r["group"], r["vcpu"], int(r["offset"], 16))
               == (group, vcpu, offset)]
        for i in reversed(hit):
            del regs[i]
        if new is not None:
            regs.append({"group": group, "vcpu": vcpu, "offset": f"{offset:#x}", "value": new})
    value["nr_irqs"] = nr_irqs
    return json.dumps(value).encode()


def reg(group: str, vcpu: int, offset: int) -> int:
    return next(int(r["value"], 16) for r in TWO_VCPU["registers"]
                if (r["group"], r["vcpu"], int(r["offset"], 16)) == (group, vcpu, offset))


def refused(data: bytes, **kw: Any) -> GicmigError:
    with pytest.raises(GicmigError) as info:
        import_kvm(parse_dump(data), **kw)
    assert info.value.code in REASONS
    return info.value


# --- what a complete dump gives ------------------------------------------------------------
def test_complete_dump_imports_with_unknown_markers() -> None:
    state = import_kvm(parse_dump(edited()))
    cfg = state.config
    assert (cfg.num_cpus, cfg.num_irqs, cfg.priority_bits, cfg.min_bpr) == (2, 288, 5, 2)
    assert not cfg.sgi_enables_rao_wi and not cfg.ppi_trigger_programmable
    assert state.provenance.source == "kvm-abi"
    assert state.enable_grp0 and state.enable_grp1_unknown and not state.enable_grp1
    # PMR: VMPriMask 0x1e << 3
    assert reg("cpu", 0, 0x04) == 0x1E and state.cpu[0].pmr == 0xF0
    # APR0 bit 20 (priority 0xa0) -> canonical level 80; its group is the group of the one
    # active interrupt at 0xa0 on each vCPU: PPI 27 on cpu0, SPI 48 on cpu1 (both Group 0)
    assert reg("cpu", 0, 0xD0) == reg("cpu", 1, 0xD0) == 1 << 20
    assert [(ci.active_group0, ci.active_group1, ci.active_group_unknown)
            for ci in state.cpu] == [(1 << 80, 0, 0)] * 2
    assert state.irq(27, cpu=0).active and state.irq(27, cpu=0).group == 0
    # a pending level PPI and SPI: latch OR line, split unknown
    assert state.irq(27, cpu=1).pending_split_unknown and state.irq(27, cpu=1).pending_latch
    assert state.irq(33).pending_split_unknown and not state.irq(33).line_level
    # the active SPI 48: on cpu1, the only vCPU whose level 0xa0 nothing else explains
    assert state.shared.active_cpu[16] == 1
    assert state.derivations[0].place == "irq 48 (SPI 16)" and state.normalizations == ()
    # SGI 1 pending on cpu1 from cpu0 (per source)
    assert state.banked[1].sgi_sources[1] == 0b01
    assert state.shared.targets[0] == 0x01


def test_active_sgi_source_is_unknown() -> None:
    data = edited(("dist", 1, 0x300, 1 << 3), ("dist", 1, 0x380, 1 << 3))
    state = import_kvm(parse_dump(data))
    assert state.banked[1].sgi_active_source[3] == UNKNOWN_CPU
    assert state.irq(3, cpu=1).sgi_active_source is None


def test_pending_edge_spi_is_a_known_latch() -> None:
    data = edited(("dist", 0, 0x204, 1 << 20), ("dist", 0, 0x284, 1 << 20))  # ID 52, edge
    state = import_kvm(parse_dump(data))
    irq = state.irq(52)
    assert irq.edge and irq.pending_latch and not irq.pending_split_unknown


def test_one_of_each_pair_is_enough() -> None:
    """QEMU's save reads only the set registers; the state is still known."""
    drop = [("dist", c, off, None) for c in range(2)
            for off in list(range(0x180, 0x1A4, 4)) + list(range(0x280, 0x2A4, 4))
            + list(range(0x380, 0x3A4, 4)) + list(range(0xF10, 0xF20, 4))]
    assert import_kvm(parse_dump(edited(*drop))) == import_kvm(parse_dump(edited()))


def test_vcpu_count_from_the_caller() -> None:
    state = import_kvm(parse_dump(edited(("dist", 0, 4, None), ("dist", 1, 4, None))),
                       num_cpus=2)
    assert state.config.num_cpus == 2


def test_priority_bits_parameter() -> None:
    state = import_kvm(parse_dump(edited()), priority_bits=8)
    assert state.config.priority_bits == 8


def test_a_single_vcpu_vm_has_no_spi_targets() -> None:
    """KVM keeps a written target bit 0 on a 1-vCPU VM; canonically it is RAZ/WI."""
    model = KvmModel(1, 64)
    model.set_attr(Access("dist", 0, 0x820, 0x0101_0101))  # as a 1-vCPU Linux guest does
    model.set_attr(Access("cpu", 0, 0x08, 2))
    state = import_kvm(model.save())
    assert state.config.num_cpus == 1 and state.shared.targets == bytes(32)
    bad = KvmDump(64, tuple(a if a.offset != 0x820 or a.group != "dist"
                            else Access("dist", 0, 0x820, 2) for a in model.save().accesses))
    with pytest.raises(GicmigError, match="1-vCPU"):
        import_kvm(bad)


# --- completeness -----------------------------------------------------------------------------
def test_firecracker_shaped_dump_lists_everything_missing() -> None:
    exc = refused(FIRECRACKER, num_cpus=2)
    assert isinstance(exc, KvmDumpIncomplete)
    assert exc.code == "KVM-DUMP-INCOMPLETE"
    missing = exc.missing
    for item in ("GICD_IIDR", "GICD_ITARGETSR8-39", "vcpu1 GICD_IGROUPR0",
                 "vcpu0 GICD_IPRIORITYR0-7", "vcpu1 GICD_SPENDSGIR0-3 (or GICD_CPENDSGIR0-3)",
                 "GICD_ISENABLER4 (or GICD_ICENABLER4)", "GICD_IPRIORITYR32-39",
                 "GICD_ICFGR8-9", "vcpu0 GICD_ICFGR1"):
        assert item in missing
    assert "GICD_TYPER (or the vCPU count: --num-cpus)" not in missing
    assert "vcpu0 GICD_SPENDSGIR0-3 (or GICD_CPENDSGIR0-3)" not in missing  # it has those
    assert all(m in exc.message for m in missing)


def test_missing_vcpu_count_is_listed_with_the_rest() -> None:
    exc = refused(FIRECRACKER)
    assert isinstance(exc, KvmDumpIncomplete)
    assert exc.missing[0] == "GICD_TYPER (or the vCPU count: --num-cpus)"
    assert "GICD_IIDR" in exc.missing


def test_a_vcpu_without_cpu_registers() -> None:
    drop = [("cpu", 1, off, None) for off in (0x00, 0x04, 0x08, 0x1C, 0xD0)]
    exc = refused(edited(*drop))
    assert isinstance(exc, KvmDumpIncomplete)
    assert exc.missing == ("vcpu1 GICC_CTLR", "vcpu1 GICC_PMR", "vcpu1 GICC_BPR",
                           "vcpu1 GICC_ABPR", "vcpu1 GICC_APR0")


# --- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "code", "words"), [
    ([("dist", 0, 0x184, 0)], "KVM-DUMP-INCONSISTENT", ["GICD_ISENABLER1", "GICD_ICENABLER1"]),
    ([("dist", 0, 0x380, 0)], "KVM-DUMP-INCONSISTENT", ["vcpu0", "GICD_ISACTIVER0"]),
    ([("dist", 1, 0x104, 0)], "KVM-DUMP-INCONSISTENT", ["not banked", "vcpu1"]),
    ([("dist", 1, 0x200, 0x0800_0000), ("dist", 1, 0x280, 0x0800_0000)],
     "KVM-DUMP-INCONSISTENT", ["SPENDSGIR"]),
    ([("dist", 0, 0x000, 3)], "KVM-DUMP-RESERVED-BITS", ["GICD_CTLR"]),
    ([("cpu", 1, 0x04, 0x3E)], "KVM-DUMP-RESERVED-BITS", ["vcpu1 GICC_PMR"]),
    ([("cpu", 0, 0x00, 0x21)], "KVM-DUMP-RESERVED-BITS", ["vcpu0 GICC_CTLR"]),
    ([("cpu", 0, 0x08, 0x8)], "KVM-DUMP-RESERVED-BITS", ["GICC_BPR"]),
    ([("dist", 0, 0xC08, 1)], "KVM-DUMP-RESERVED-BITS", ["GICD_ICFGR2"]),
    ([("dist", 0, 0xC00, 0)], "KVM-DUMP-RESERVED-BITS", ["SGIs"]),
    ([("dist", 0, 0x004, 0x28 | 0x400)], "KVM-DUMP-TYPER-MISMATCH", ["GICD_TYPER"]),
    ([("dist", 0, 0x008, 0x0200143B)], "KVM-DUMP-IIDR", ["not KVM's"]),
    ([("dist", 0, 0x008, 0x4B00043B)], "KVM-DUMP-IIDR", ["revision 0"]),
    ([("cpu", 1, 0xFC, 0x0202043B)], "KVM-DUMP-IIDR", ["GICC_IIDR"]),
    ([("cpu", 2, 0x04, 0)], "KVM-DUMP-VCPU-OUT-OF-RANGE", ["vcpu2"]),
    ([("dist", 1, 0x800, 0x01010101)], "KVM-DUMP-PRIVATE-TARGETS", ["vcpu1 GICD_ITARGETSR0"]),
    ([("cpu", 0, 0xD4, 1)], "KVM-DUMP-APR-FORMAT", ["APR1"]),
    ([("dist", 0, 0x124, 1)], "KVM-DUMP-IRQ-OUT-OF-RANGE", ["GICD_ISENABLER9", "288"]),
    ([("dist", 0, 0xE00, 5)], "KVM-DUMP-UNKNOWN-REGISTER", ["GICD+0xe00"]),
    ([("dist", 0, 0xF00, 5)], "KVM-DUMP-UNKNOWN-REGISTER", ["GICD_SGIR"]),
    ([("cpu", 0, 0x0C, 27)], "KVM-DUMP-UNKNOWN-REGISTER", ["GICC_IAR"]),
    ([("dist", 1, 0x800 + 4 * 8, 0x04)], "KVM-DUMP-INCONSISTENT", ["GICD_ITARGETSR8"]),
])
def test_refusals(changes: list[tuple[str, int, int, int | None]], code: str,
                  words: list[str]) -> None:
    exc = refused(edited(*changes))
    assert exc.code == code, exc
    for w in words:
        assert w in exc.message


def test_inconsistency_names_the_differing_bits() -> None:
    exc = refused(edited(("dist", 0, 0x184, reg("dist", 0, 0x104) ^ 0x40)))
    assert "bits 0x00000040 differ" in exc.message


def test_caller_vcpu_count_must_match_typer() -> None:
    assert refused(edited(), num_cpus=3).code == "KVM-DUMP-TYPER-MISMATCH"


def test_targets_of_absent_vcpus_fail_validation() -> None:
    with pytest.raises(ValidationError) as info:
        import_kvm(parse_dump(edited(("dist", 0, 0x820, 0x0404_0401))))
    assert info.value.code == "SPI-TARGET-ABSENT-CPU"


def test_priority_low_bits_fail_validation() -> None:
    with pytest.raises(ValidationError) as info:
        import_kvm(parse_dump(edited(("dist", 0, 0x420, 0xA1A0A0A0))))
    assert info.value.code == "IRQ-PRIORITY-UNIMPLEMENTED-BITS"
    assert "irq 35 (SPI 3)" in str(info.value)


def test_never_run_vcpu_reads_the_binary_points_the_guest_observes() -> None:
    """KVM resets its software VMCR to 0; a vCPU that never ran reads BPR 0 / ABPR 0, and
    the first run clamps them to 2 / 3 (real-implementations.md §2)."""
    state = import_kvm(parse_dump(edited(("cpu", 1, 0x08, 0), ("cpu", 1, 0x1C, 0))))
    assert [(ci.bpr, ci.abpr) for ci in state.cpu] == [(2, 3), (2, 3)]
    (norm,) = state.normalizations
    assert (norm.code, norm.path) == ("KVM-NEVER-RUN-BINARY-POINT", "vcpu1")
    assert norm.message.startswith("GICC_BPR 0 -> 2, GICC_ABPR 0 -> 3: ")
    # only what is below a minimum changes, each to its own minimum
    state = import_kvm(parse_dump(edited(("cpu", 0, 0x08, 1), ("cpu", 0, 0x1C, 5))))
    assert (state.cpu[0].bpr, state.cpu[0].abpr) == (2, 5)
    assert state.normalizations[0].message.startswith("GICC_BPR 1 -> 2: ")
    state = import_kvm(parse_dump(edited(("cpu", 0, 0x08, 4), ("cpu", 0, 0x1C, 2))))
    assert (state.cpu[0].bpr, state.cpu[0].abpr) == (4, 3)
    assert state.normalizations[0].message.startswith("GICC_ABPR 2 -> 3: ")
    # the minima themselves are no normalization
    assert import_kvm(parse_dump(edited())).normalizations == ()


def test_fresh_kvm_vms_import() -> None:
    """Right after CTRL_INIT every vCPU has never run: each shape imports, normalized."""
    for n, nr_irqs in ((1, 64), (2, 96), (4, 288), (8, 992)):
        model = KvmModel(n, nr_irqs)
        state = import_kvm(model.save())
        assert [(ci.bpr, ci.abpr) for ci in state.cpu] == [(2, 3)] * n
        assert [v.path for v in state.normalizations] == [f"vcpu{c}" for c in range(n)]
