"""Pinned values for the validation rules: every range rule at min-1 / min / max / max+1,
and one in-test state per rule holding only that defect.

The limits come from the architecture and the schema's design, not from the code:
gic-domain.md §1.2 (ITLinesNumber: 32 x (N+1) IDs, at most 1020), §7 (QEMU/KVM accept at
most 992 IDs, 8 CPU interfaces, 64 LRs), §1.7 (4..8 priority bits), §2.3 (minimum BPR 0..3,
ABPR minimum one more, BPR field [2:0] so at most 7), §2.4 (2^P active-priority levels, level
of group priority g is g >> (8 - P)), §3.2 (GICH_VTR, VMCR, LR layouts; VMBP/VMABP minima
7 - PREbits / one more), §3.3 (PhysicalID names a PPI or SPI, 16..1019).

Every verdict is also checked against the whole-state fast path of `gicmig.rules`: the two
must agree on exactly these edge values, which random states rarely hit.
"""

from __future__ import annotations

from typing import Any

import pytest

from gicmig import GicConfig, GicState
from gicmig.core.model import UNKNOWN_CPU, HwMapping
from gicmig.core.rules import check, check_config, validate
from gicmig.core.rules import context_for as _context
from gicmig.core.rules import explain as _detailed
from gicmig.core.rules import fast_ok as _fast_ok
from gicmig.core.rules.params import config_violations as _config
from gicmig.errors import ValidationError


def codes(state: GicState) -> list[str]:
    """The reason codes `state` breaks; asserts the fast path and the named rules agree and
    that validate() raises exactly when a rule is broken."""
    found = [v.code for v in check(state)]
    msg = state._pb
    if not list(_config(msg.config)):
        ctx = _context(msg.config.SerializeToString(deterministic=True))
        st = msg.state
        # the fast path leaves hypervisor context (and a set EnableGrp1 marked UNKNOWN) to
        # the named rules; everything else it decides itself
        decides = not msg.HasField("hypervisor") and not (st.enable_grp1_unknown
                                                          and st.enable_grp1)
        assert bool(_fast_ok(ctx, msg)) == (decides and not _detailed(ctx, msg)), found
    if found:
        with pytest.raises(ValidationError) as info:
            validate(state)
        assert [v.code for v in info.value.violations] == found
    else:
        validate(state)
    return found


def config_codes(config: GicConfig) -> list[str]:
    return [v.code for v in check_config(config)]


def kvm_like(num_cpus: int = 2, num_irqs: int = 96, **kw: Any) -> GicConfig:
    """5 priority bits and minimum BPR 2, as KVM's vgic-v2 (gic-domain §1.7, §2.3)."""
    return GicConfig(num_cpus, num_irqs, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False,
                     **kw)


# --- parameters: every range at its edges -----------------------------------------------------
@pytest.mark.parametrize(("num_cpus", "ok"), [(0, False), (1, True), (2, True), (8, True),
                                               (9, False)])
def test_num_cpus_edges(num_cpus: int, ok: bool) -> None:
    assert config_codes(GicConfig(num_cpus, 64)) == ([] if ok else ["CONFIG-NUM-CPUS"])


@pytest.mark.parametrize(("num_irqs", "ok"), [
    (0, False), (31, False), (32, True), (33, False), (48, False), (63, False), (64, True),
    (960, True), (991, False), (992, True), (993, False), (1019, False), (1020, True),
    (1021, False), (1024, False)])
def test_num_irqs_edges(num_irqs: int, ok: bool) -> None:
    assert config_codes(GicConfig(1, num_irqs)) == ([] if ok else ["CONFIG-NUM-IRQS"])


@pytest.mark.parametrize(("bits", "ok"), [(3, False), (4, True), (5, True), (8, True),
                                           (9, False)])
def test_priority_bits_edges(bits: int, ok: bool) -> None:
    assert config_codes(GicConfig(1, 64, priority_bits=bits)) == (
        [] if ok else ["CONFIG-PRIORITY-BITS"])


@pytest.mark.parametrize(("min_bpr", "ok"), [(0, True), (1, True), (3, True), (4, False)])
def test_min_bpr_edges(min_bpr: int, ok: bool) -> None:
    assert config_codes(GicConfig(1, 64, min_bpr=min_bpr)) == ([] if ok else ["CONFIG-MIN-BPR"])


@pytest.mark.parametrize(("num_lrs", "ok"), [(0, False), (1, True), (4, True), (64, True),
                                              (65, False)])
def test_num_lrs_edges(num_lrs: int, ok: bool) -> None:
    cfg = GicConfig(1, 64, num_lrs=num_lrs)
    assert config_codes(cfg) == ([] if ok else ["CONFIG-VIRTUALIZATION"])


@pytest.mark.parametrize(("pre", "pri", "ok"), [
    (0, 5, False), (1, 1, True), (1, 5, True), (5, 5, True), (4, 5, True), (5, 4, False),
    (5, 6, False), (6, 6, False), (2, 1, False)])
def test_virtual_bits_edges(pre: int, pri: int, ok: bool) -> None:
    cfg = GicConfig(1, 64, num_lrs=4, virtual_priority_bits=pri, virtual_preemption_bits=pre)
    assert config_codes(cfg) == ([] if ok else ["CONFIG-VIRTUALIZATION"])


@pytest.mark.parametrize(("revision", "ok"), [(0, False), (1, False), (2, True), (3, False)])
def test_revision(revision: int, ok: bool) -> None:
    cfg = GicConfig(1, 64)
    cfg._pb.revision = revision
    assert config_codes(cfg) == ([] if ok else ["CONFIG-REVISION"])


def test_security_extensions_refused() -> None:
    cfg = GicConfig(1, 64)
    cfg._pb.security_extensions = True
    assert config_codes(cfg) == ["CONFIG-SECURITY-EXTENSIONS"]


def test_a_bad_config_reports_only_config_rules() -> None:
    st = GicState.reset(GicConfig(9, 64))
    st.cpu[0].bpr = 9  # would break a state rule: never reached with bad parameters
    assert codes(st) == ["CONFIG-NUM-CPUS"]


# --- CPU interface ----------------------------------------------------------------------------
@pytest.mark.parametrize("min_bpr", [0, 1, 2, 3])
def test_bpr_and_abpr_edges(min_bpr: int) -> None:
    """GICC_BPR in min_bpr..7, GICC_ABPR in min_bpr+1..7 (gic-domain §2.3)."""
    cfg = GicConfig(2, 64, min_bpr=min_bpr)
    for reg, low in (("bpr", min_bpr), ("abpr", min_bpr + 1)):
        for value, ok in ((low - 1, False), (low, True), (7, True), (8, False)):
            if value < 0:
                continue
            for cpu in (0, 1):
                st = GicState.reset(cfg)
                setattr(st.cpu[cpu], reg, value)
                assert codes(st) == ([] if ok else ["CPU-BPR-RANGE"]), (reg, value, cpu)


@pytest.mark.parametrize(("bits", "good", "bad"), [
    (8, [0x00, 0x01, 0xFF], [0x100]),
    (5, [0x00, 0x08, 0xF8], [0x04, 0xFC, 0x01, 0x100]),
    (4, [0x10, 0xF0], [0x08, 0xF8]),
])
def test_pmr_implemented_bits(bits: int, good: list[int], bad: list[int]) -> None:
    cfg = GicConfig(2, 64, priority_bits=bits, min_bpr=max(0, 7 - bits))
    for value, ok in [(v, True) for v in good] + [(v, False) for v in bad]:
        st = GicState.reset(cfg)
        st.cpu[1].pmr = value
        assert codes(st) == ([] if ok else ["CPU-PMR-UNIMPLEMENTED-BITS"]), hex(value)


def test_ctlr_reserved_bits() -> None:
    for bit, ok in ((0, True), (4, True), (5, True), (8, True), (9, True), (10, False),
                    (31, False)):
        st = GicState.reset(GicConfig(2, 64))
        st.cpu[1].ctlr = 1 << bit
        assert codes(st) == ([] if ok else ["CPU-CTLR-RESERVED"]), bit


@pytest.mark.parametrize(("bits", "min_bpr", "step"), [(8, 0, 1), (8, 1, 2), (5, 2, 4),
                                                        (4, 3, 8), (8, 3, 8), (5, 0, 4)])
def test_active_priority_levels(bits: int, min_bpr: int, step: int) -> None:
    """P = min(priority bits, 7 - min BPR) preemption bits give 2^P levels: canonical level
    l (group priority 2l) exists when l is a multiple of 2^(7-P) (gic-domain §2.4)."""
    cfg = GicConfig(2, 64, priority_bits=bits, min_bpr=min_bpr)
    cases = [(0, True), (step, True), (128 - step, True), (127, step == 1)]
    if step > 1:
        cases += [(1, False), (step - 1, False), (step + 1, False), (128 - step + 1, False)]
    for name in ("active_group0", "active_group1", "active_group_unknown"):
        for level, ok in cases:
            st = GicState.reset(cfg)
            setattr(st.cpu[1], name, 1 << level)
            assert codes(st) == ([] if ok else ["CPU-ACTIVE-PRIORITY-UNREPRESENTABLE"]), (
                name, level)
    st = GicState.reset(cfg)
    st.cpu[0].active_group0 = 1 << 128  # beyond the 128 levels
    assert codes(st) == ["CPU-ACTIVE-PRIORITY-UNREPRESENTABLE"]


def test_active_group_overlap() -> None:
    for known in ("active_group0", "active_group1"):
        st = GicState.reset(GicConfig(2, 64))
        setattr(st.cpu[1], known, 1 << 40 | 1 << 2)
        st.cpu[1].active_group_unknown = 1 << 41
        assert codes(st) == []
        st.cpu[1].active_group_unknown = 1 << 40
        assert codes(st) == ["CPU-ACTIVE-GROUP-OVERLAP"]


# --- interrupts -------------------------------------------------------------------------------
@pytest.mark.parametrize(("bits", "good", "bad"), [
    (8, [0x01, 0xFF], []), (5, [0x08, 0xF8], [0x04, 0x01, 0xFC]), (4, [0xF0], [0x08])])
def test_priority_implemented_bits(bits: int, good: list[int], bad: list[int]) -> None:
    cfg = GicConfig(2, 96, priority_bits=bits, min_bpr=max(0, 7 - bits))
    for value, ok in [(v, True) for v in good] + [(v, False) for v in bad]:
        for where in ("banked0", "banked31", "spi32", "spi95"):
            st = GicState.reset(cfg)
            if where.startswith("banked"):
                k = int(where[6:])
                st.banked[1].priority = bytes(k) + bytes([value])
            else:
                k = int(where[3:]) - 32
                st.shared.priority = bytes(k) + bytes([value])
            assert codes(st) == ([] if ok else ["IRQ-PRIORITY-UNIMPLEMENTED-BITS"]), (
                hex(value), where)


def test_shared_vectors_end_at_num_irqs() -> None:
    """SPI state exists for IDs 32..num_irqs-1 only (num_irqs 96: 64 SPIs)."""
    for name in ("enabled", "group", "edge", "pending_latch", "line_level"):
        st = GicState.reset(GicConfig(2, 96))
        setattr(st.shared, name, 1 << 63)
        assert codes(st) == [], name
        st._pb.state.shared.__setattr__(name, (1 << 64).to_bytes(9, "little"))
        assert codes(st) == ["STATE-IRQ-OUT-OF-RANGE"], name
    for name in ("priority", "targets"):
        st = GicState.reset(GicConfig(2, 96))
        setattr(st._pb.state.shared, name, bytes(63) + b"\x01")
        assert codes(st) == [], name
        setattr(st._pb.state.shared, name, bytes(64) + b"\x01")
        assert codes(st) == ["STATE-IRQ-OUT-OF-RANGE"], name


def test_banked_vectors_have_fixed_lengths() -> None:
    for name, length in (("priority", 32), ("sgi_sources", 16)):
        st = GicState.reset(GicConfig(2, 64))
        setattr(st._pb.state.banked[1], name, bytes(length - 1) + b"\x01")
        assert codes(st) == [], name
        setattr(st._pb.state.banked[1], name, bytes(length) + b"\x01")
        assert codes(st) == ["STATE-IRQ-OUT-OF-RANGE"], name


def test_sgi_active_sources_end_at_sgi_15() -> None:
    """sgi_active_source has one entry per SGI (16): a 17th entry, even on an active PPI
    16 and naming a present CPU, is out of range for the fast path and the named rules."""
    st = GicState.reset(GicConfig(2, 64))
    st._pb.state.banked[1].active = 1 << 16
    assert codes(st) == []
    st._pb.state.banked[1].sgi_active_source = bytes(16) + b"\x01"
    assert codes(st) == ["STATE-IRQ-OUT-OF-RANGE"]


@pytest.mark.parametrize(("num_cpus", "good", "bad"), [
    (1, [0x00], [0x01, 0x80]), (2, [0x01, 0x02, 0x03], [0x04, 0x80, 0x05]),
    (3, [0x07], [0x08]), (8, [0xFF, 0x80], [])])
def test_spi_targets(num_cpus: int, good: list[int], bad: list[int]) -> None:
    for value, ok in [(v, True) for v in good] + [(v, False) for v in bad]:
        st = GicState.reset(GicConfig(num_cpus, 64))
        st.shared.targets = bytes(31) + bytes([value])
        assert codes(st) == ([] if ok else ["SPI-TARGET-ABSENT-CPU"]), (num_cpus, hex(value))


def test_sgi_sources() -> None:
    for value, ok in ((0x01, True), (0x02, True), (0x03, True), (0x04, False), (0x80, False)):
        st = GicState.reset(GicConfig(2, 64))
        st.banked[1].sgi_sources = bytes(15) + bytes([value])
        assert codes(st) == ([] if ok else ["SGI-SOURCE-ABSENT-CPU"]), hex(value)


@pytest.mark.parametrize("num_cpus", [1, 2, 8])
def test_active_sgi_source(num_cpus: int) -> None:
    cases = [(0, True), (num_cpus - 1, True), (UNKNOWN_CPU, True)]
    if num_cpus < 8:
        cases += [(num_cpus, False), (7, False)]
    for src, ok in cases:
        st = GicState.reset(GicConfig(num_cpus, 64))
        b = st.banked[num_cpus - 1]
        b.active = 1 << 15
        b.sgi_active_source = bytes(15) + bytes([src])
        assert codes(st) == ([] if ok else ["SGI-ACTIVE-SOURCE-ABSENT-CPU"]), src
    st = GicState.reset(GicConfig(num_cpus, 64))
    st.banked[0].active = 1 << 3  # SGI 3 active, the source recorded on SGI 4
    st.banked[0].sgi_active_source = bytes(4) + b"\x00"
    assert codes(st) == []
    st.banked[0].sgi_active_source = bytes(4) + bytes([num_cpus - 1 or UNKNOWN_CPU])
    assert codes(st) == ["SGI-ACTIVE-SOURCE-NOT-ACTIVE"]


@pytest.mark.parametrize("num_cpus", [1, 2, 8])
def test_active_spi_cpu(num_cpus: int) -> None:
    cases = [(0, True), (num_cpus - 1, True), (UNKNOWN_CPU, True)]
    if num_cpus < 8:
        cases += [(num_cpus, False), (7, False)]
    for cpu, ok in cases:
        st = GicState.reset(GicConfig(num_cpus, 96))
        st.shared.active = 1 << 63
        st.shared.active_cpu = bytes(63) + bytes([cpu])
        assert codes(st) == ([] if ok else ["SPI-ACTIVE-CPU-ABSENT"]), cpu
    for cpu in (1, UNKNOWN_CPU):
        st = GicState.reset(GicConfig(num_cpus, 96))
        st.shared.active = 1 << 62  # SPI 94 active; the CPU recorded on SPI 95
        st.shared.active_cpu = bytes(63) + bytes([cpu])
        assert codes(st) == ["SPI-ACTIVE-CPU-NOT-ACTIVE"], cpu


def test_sgis_are_edge_and_rao_enabled() -> None:
    for s in (0, 15):
        st = GicState.reset(GicConfig(2, 64))
        st.banked[1].edge &= ~(1 << s)
        assert codes(st) == ["SGI-NOT-EDGE"]
        st = GicState.reset(GicConfig(2, 64))  # RAO/WI SGI enables (QEMU)
        st.banked[1].enabled &= ~(1 << s)
        assert codes(st) == ["SGI-DISABLED-RAO"]
        st = GicState.reset(kvm_like())  # writable (KVM)
        st.banked[1].enabled &= ~(1 << s)
        assert codes(st) == []
    st = GicState.reset(GicConfig(2, 64))
    st.banked[1].edge |= 1 << 16  # a PPI may be edge
    st.banked[1].enabled &= ~(1 << 16)
    assert codes(st) == []


def test_sgi_latch_and_line() -> None:
    for name in ("pending_latch", "line_level"):
        for s, ok in ((15, False), (0, False), (16, True)):
            st = GicState.reset(GicConfig(2, 64))
            setattr(st.banked[1], name, 1 << s)
            assert codes(st) == ([] if ok else ["SGI-LATCH-OR-LINE"]), (name, s)


def test_split_unknown_marker() -> None:
    """Allowed only on a level interrupt whose latch holds the OR and whose line is 0."""
    for edge, latch, line, ok in ((0, 1, 0, True), (1, 1, 0, False), (0, 0, 0, False),
                                  (0, 1, 1, False), (0, 0, 1, False)):
        st = GicState.reset(GicConfig(2, 96))
        b = st.banked[1]
        b.edge, b.pending_latch, b.line_level = (
            b.edge | edge << 20, latch << 20, line << 20)
        b.pending_split_unknown = 1 << 20
        assert codes(st) == ([] if ok else ["IRQ-SPLIT-UNKNOWN-INVALID"]), (edge, latch, line)
        st = GicState.reset(GicConfig(2, 96))
        sh = st.shared
        sh.edge, sh.pending_latch, sh.line_level = edge << 63, latch << 63, line << 63
        sh.pending_split_unknown = 1 << 63
        assert codes(st) == ([] if ok else ["IRQ-SPLIT-UNKNOWN-INVALID"]), (edge, latch, line)


def test_grp1_unknown_must_be_stored_as_zero() -> None:
    st = GicState.reset(kvm_like())
    st.enable_grp1_unknown = True
    assert codes(st) == []
    st._pb.state.enable_grp1 = True
    assert codes(st) == ["DIST-GRP1-UNKNOWN-SET"]


# --- shape and canonical form -----------------------------------------------------------------
def test_shape_rules() -> None:
    st = GicState.reset(GicConfig(2, 64))
    del st._pb.state.cpu[1]
    assert codes(st) == ["STATE-CPU-COUNT"]
    st = GicState.reset(GicConfig(2, 64))
    st._pb.state.banked.add()
    assert codes(st) == ["STATE-CPU-COUNT"]
    st = GicState.reset(GicConfig(2, 64))
    st._pb.state.virtual.add()
    assert codes(st) == ["VIRT-PRESENCE"]
    st = GicState.reset(GicConfig(2, 64, num_lrs=4))
    del st._pb.state.virtual[1]
    assert codes(st) == ["VIRT-PRESENCE"]
    st = GicState.reset(GicConfig(2, 64))
    st.keep_hypervisor_context()
    assert codes(st) == []
    st._pb.hypervisor.vcpu.add()
    assert codes(st) == ["HYP-VCPU-COUNT"]


def test_trailing_zeros_are_not_canonical() -> None:
    st = GicState.reset(GicConfig(2, 64))
    st._pb.state.shared.priority = b"\x10\x00"
    assert codes(st) == ["PAYLOAD-NOT-CANONICAL"]
    st = GicState.reset(GicConfig(2, 64))
    st._pb.state.banked[1].sgi_sources = b"\x01\x00"
    assert codes(st) == ["PAYLOAD-NOT-CANONICAL"]
    st = GicState.reset(GicConfig(2, 64))
    st._pb.state.cpu[1].active_group1 = b"\x01\x00"
    assert codes(st) == ["PAYLOAD-NOT-CANONICAL"]
    st = GicState.reset(GicConfig(2, 64, num_lrs=4))
    st._pb.state.virtual[1].lr.extend([0x1000_0020, 0])
    assert codes(st) == ["PAYLOAD-NOT-CANONICAL"]
    st = GicState.reset(GicConfig(2, 64))
    st.keep_hypervisor_context()[1]._pb.eoi_maintenance = b"\x01\x00"
    assert codes(st) == ["PAYLOAD-NOT-CANONICAL"]


# --- virtual interface of a GIC with the virtualization extensions ----------------------------
def virt_state(pre: int = 5, num_lrs: int = 4) -> GicState:
    return GicState.reset(GicConfig(2, 64, num_lrs=num_lrs, virtual_preemption_bits=pre))


def test_reset_vmcr_is_valid_and_at_the_minima() -> None:
    st = virt_state()
    assert st.virtual[1].vmcr == 0x004C_0000  # GIC-400 reset: VMABP 3, VMBP 2 (§3.2)
    assert codes(st) == []


def test_lr_count() -> None:
    for n, ok in ((1, True), (4, True), (5, False)):
        st = virt_state()
        st._pb.state.virtual[1].lr.extend([0x1000_0020] * n)
        assert codes(st) == ([] if ok else ["VIRT-LR-COUNT"]), n


@pytest.mark.parametrize(("pre", "vmbp", "vmabp", "ok"), [
    (5, 2, 3, True), (5, 1, 3, False), (5, 2, 2, False), (5, 7, 7, True), (5, 3, 4, True),
    (4, 3, 4, True), (4, 2, 4, False), (4, 3, 3, False), (1, 6, 7, True), (1, 5, 7, False)])
def test_vmcr_binary_points(pre: int, vmbp: int, vmabp: int, ok: bool) -> None:
    """VMBP minimum 7 - PREbits, VMABP one more (gic-domain §3.2, §3.4)."""
    st = virt_state(pre)
    st.virtual[1].vmcr = vmbp << 21 | vmabp << 18
    assert codes(st) == ([] if ok else ["VIRT-VMCR-BINARY-POINT"])


@pytest.mark.parametrize(("pre", "bit", "ok"), [(5, 0, True), (5, 31, True), (4, 15, True),
                                                 (4, 16, False), (1, 1, True), (1, 2, False)])
def test_virtual_apr_levels(pre: int, bit: int, ok: bool) -> None:
    st = virt_state(pre)
    st.virtual[1].vmcr = 7 << 21 | 7 << 18
    st.virtual[1].apr = 1 << bit
    assert codes(st) == ([] if ok else ["VIRT-APR-UNREPRESENTABLE"])


@pytest.mark.parametrize(("reg", "value", "ok"), [
    ("hcr", 1 << 7, True), ("hcr", 1 << 8, False), ("hcr", 1 << 26, False),
    ("hcr", 31 << 27, True),
    ("vmcr", 1 << 9 | 2 << 21 | 3 << 18, True), ("vmcr", 1 << 5 | 2 << 21 | 3 << 18, False),
    ("vmcr", 1 << 8 | 2 << 21 | 3 << 18, False), ("vmcr", 1 << 24 | 2 << 21 | 3 << 18, False),
    ("vmcr", 31 << 27 | 2 << 21 | 3 << 18, True), ("vmcr", 1 << 17 | 2 << 21 | 3 << 18, False),
])
def test_virtual_reserved_bits(reg: str, value: int, ok: bool) -> None:
    st = virt_state()
    setattr(st.virtual[1], reg, value)
    assert codes(st) == ([] if ok else ["VIRT-RESERVED-BITS"]), hex(value)


@pytest.mark.parametrize(("lr", "ok"), [
    (0x1000_0020, True),  # pending, vID 32
    (0x1008_0020, True),  # HW=0, EOI (bit 19)
    (0x1000_1C00, True),  # HW=0, CPUID 7 (bits 12:10)
    (0x1000_2000, False),  # HW=0, bit 13: PhysicalID's, reserved without HW
    (0x1004_0000, False),  # HW=0, bit 18
    (0x1010_0000, False),  # bit 20 reserved in both layouts
    (0x1040_0000, False),  # bit 22
    (0x900F_FC20, True),  # HW=1, PhysicalID 1023 in bits 19:10
    (0x9010_0020, False),  # HW=1, bit 20
])
def test_virtual_lr_reserved_bits(lr: int, ok: bool) -> None:
    st = virt_state()
    st.virtual[1].lr = (lr,)
    assert codes(st) == ([] if ok else ["VIRT-RESERVED-BITS"]), hex(lr)


# --- hypervisor context -----------------------------------------------------------------------
def hyp_state(maps: list[HwMapping], cpu: int = 1, num_irqs: int = 96) -> GicState:
    st = GicState.reset(GicConfig(2, num_irqs))
    st.keep_hypervisor_context()[cpu].hw_mappings = maps
    return st


@pytest.mark.parametrize(("virtual", "physical", "ok"), [
    (16, 16, True), (27, 1019, True), (15, 27, False), (0, 27, False), (27, 15, False),
    (27, 1020, False), (95, 95, True), (96, 96, False)])
def test_hw_mapping_ranges(virtual: int, physical: int, ok: bool) -> None:
    assert codes(hyp_state([HwMapping(virtual, physical)])) == ([] if ok else ["HYP-HW-MAPPING"])


def test_hw_mapping_physical_used_twice() -> None:
    assert codes(hyp_state([HwMapping(27, 30), HwMapping(28, 31)])) == []
    assert codes(hyp_state([HwMapping(27, 30), HwMapping(28, 30)])) == ["HYP-HW-MAPPING"]


def test_hw_mapping_order_is_canonical() -> None:
    st = hyp_state([])
    h = st._pb.hypervisor.vcpu[0]
    h.hw_mapping.add(virtual_id=28, physical_id=31)
    h.hw_mapping.add(virtual_id=27, physical_id=30)
    assert codes(st) == ["PAYLOAD-NOT-CANONICAL"]


def test_an_spi_has_one_hw_owner_and_it_is_where_it_is_active() -> None:
    st = GicState.reset(GicConfig(2, 96))
    ctx = st.keep_hypervisor_context()
    ctx[0].hw_mappings = [HwMapping(40, 40)]
    assert codes(st) == []
    ctx[1].hw_mappings = [HwMapping(40, 41)]
    assert codes(st) == ["HYP-HW-MAPPING"]
    for cpu, ok in ((0, True), (UNKNOWN_CPU, True), (1, False)):
        st = hyp_state([HwMapping(40, 40)], cpu=0)
        st.shared.active = 1 << 8
        st.shared.active_cpu = bytes(8) + bytes([cpu])
        assert codes(st) == ([] if ok else ["HYP-HW-MAPPING"]), cpu
    for spi in (32, 95):  # the first and the last SPI
        st = GicState.reset(GicConfig(2, 96))
        ctx = st.keep_hypervisor_context()
        ctx[0].hw_mappings, ctx[1].hw_mappings = [HwMapping(spi, 40)], [HwMapping(spi, 41)]
        assert codes(st) == ["HYP-HW-MAPPING"], spi
    st = GicState.reset(GicConfig(2, 96))
    ctx = st.keep_hypervisor_context()  # a PPI is per CPU: mapped on both is fine
    ctx[0].hw_mappings, ctx[1].hw_mappings = [HwMapping(31, 40)], [HwMapping(31, 41)]
    assert codes(st) == []
    st = hyp_state([HwMapping(40, 40)], cpu=0)  # not active: any CPU may own it
    st.shared.active_cpu = b""
    assert codes(st) == []


def test_hypervisor_hcr_and_eoi_maintenance() -> None:
    st = hyp_state([])
    st.hypervisor[1].hcr = 0xF800_00FF  # type: ignore[index]
    assert codes(st) == []
    st.hypervisor[1].hcr = 1 << 8  # type: ignore[index]
    assert codes(st) == ["HYP-RESERVED-BITS"]
    st = hyp_state([])
    st.hypervisor[1].eoi_maintenance = 1 << 95  # type: ignore[index]
    assert codes(st) == []
    st.hypervisor[1].eoi_maintenance = 1 << 96  # type: ignore[index]
    assert codes(st) == ["STATE-IRQ-OUT-OF-RANGE"]


# --- every rule reports every offender, with its place ----------------------------------------
def test_every_offender_is_named() -> None:
    st = GicState.reset(GicConfig(2, 96, priority_bits=5, min_bpr=2))
    st.banked[0].priority = b"\x01" + bytes(30) + b"\x04"
    st.shared.priority = bytes(10) + b"\x02"
    found = check(st)
    assert [(v.code, v.path) for v in found] == [
        ("IRQ-PRIORITY-UNIMPLEMENTED-BITS", "cpu0 irq 0 (SGI 0)"),
        ("IRQ-PRIORITY-UNIMPLEMENTED-BITS", "cpu0 irq 31 (PPI 15)"),
        ("IRQ-PRIORITY-UNIMPLEMENTED-BITS", "irq 42 (SPI 10)"),
    ]
    assert "0x04" in found[1].message and "mask 0xf8" in found[1].message




def test_revision_messages() -> None:
    for revision, name in ((0, "unspecified"), (1, "GICv1"), (3, "3")):
        cfg = GicConfig(1, 64)
        cfg._pb.revision = revision
        assert [v.message for v in check_config(cfg)] == [
            f"{name}; schema v1 holds GICv2 only"]


@pytest.mark.parametrize(("edge", "latch", "active", "ok"), [
    (0, 1, 1, True), (0, 0, 1, False), (1, 1, 1, False), (0, 1, 0, False), (1, 0, 1, False)])
def test_an_spi_latch_maybe_stale_mark_needs_an_active_level_spi_with_its_latch(
        edge: int, latch: int, active: int, ok: bool) -> None:
    """The maybe-stale-latch mark (revision 3) is defined only for an active
    level-triggered interrupt whose pending latch is set: SPI 40 with each alone off."""
    st = GicState.reset(GicConfig(2, 64))
    sh = st.shared
    sh.edge, sh.pending_latch, sh.active = edge << 8, latch << 8, active << 8
    if active:
        sh.active_cpu = bytes(8) + b"\x00"  # active on cpu0
        st.cpu[0].active_group0 = 1  # its group priority 0x00 is active there
    sh.latch_maybe_stale = 1 << 8
    assert codes(st) == ([] if ok else ["IRQ-LATCH-STALE-INVALID"])


@pytest.mark.parametrize(("edge", "latch", "active", "ok"), [
    (0, 1, 1, True), (0, 0, 1, False), (1, 1, 1, False), (0, 1, 0, False)])
def test_a_ppi_latch_maybe_stale_mark_needs_an_active_level_ppi_with_its_latch(
        edge: int, latch: int, active: int, ok: bool) -> None:
    """The same rule for a PPI (27 on cpu1), which the banked fast path checks per lane."""
    st = GicState.reset(GicConfig(2, 64))
    b = st.banked[1]
    b.edge = 0xFFFF | edge << 27
    b.pending_latch, b.active = latch << 27, active << 27
    if active:
        st.cpu[1].active_group0 = 1  # its group priority 0x00 is active there
    b.latch_maybe_stale = 1 << 27
    assert codes(st) == ([] if ok else ["IRQ-LATCH-STALE-INVALID"])
