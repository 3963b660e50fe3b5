"""Pinned values of the model façade: derived parameters (gic-domain §1.7, §2.3, §2.4,
§3.2), reset state (SGIs enabled and edge, BPR/ABPR at their minima, VMCR at the GIC-400
reset), what GICD_ISPENDR shows (§1.4: latch OR (level AND line); SGIs: any source), and
equality as equality of canonical bytes."""

from __future__ import annotations

import pytest

from gicmig import GicConfig, GicState
from gicmig.arch import priority


@pytest.mark.parametrize(("bits", "min_bpr", "mask", "pre"), [
    (8, 0, 0xFF, 7), (8, 1, 0xFF, 6), (8, 3, 0xFF, 4), (5, 2, 0xF8, 5), (5, 0, 0xF8, 5),
    (4, 0, 0xF0, 4), (4, 3, 0xF0, 4), (6, 2, 0xFC, 5)])
def test_derived_parameters(bits: int, min_bpr: int, mask: int, pre: int) -> None:
    cfg = GicConfig(3, 96, priority_bits=bits, min_bpr=min_bpr)
    assert cfg.priority_mask == mask
    assert cfg.preemption_bits == pre == priority.preemption_bits(bits, min_bpr)
    assert priority.group_levels(pre) == 2 ** pre  # GICH_APR-format bits that can be set
    assert cfg.min_abpr == min_bpr + 1
    assert cfg.cpu_mask == 0b111
    assert cfg.num_spis == 64
    assert GicConfig(8, 32).cpu_mask == 0xFF and GicConfig(1, 32).num_spis == 0


def test_config_defaults() -> None:
    cfg = GicConfig()
    assert (cfg.num_cpus, cfg.num_irqs, cfg.priority_bits, cfg.min_bpr) == (1, 64, 8, 0)
    assert (cfg.sgi_enables_rao_wi, cfg.ppi_trigger_programmable) == (True, True)
    assert cfg.virtualization is None and cfg.revision == "GICv2"
    v = GicConfig(2, 64, num_lrs=4).virtualization
    assert v is not None and (v.num_lrs, v.priority_bits, v.preemption_bits) == (4, 5, 5)
    assert (v.min_vmbp, v.vtr) == (2, 0x9000_0003)
    v = GicConfig(2, 64, num_lrs=64, virtual_priority_bits=5,
                  virtual_preemption_bits=4).virtualization
    assert v is not None and (v.min_vmbp, v.vtr) == (3, 0x8C00_003F)
    q = GicConfig.qemu_virt()
    assert (q.num_cpus, q.num_irqs, q.virtualization) == (2, 288, None)
    assert GicConfig.qemu_virt(1, virtualization=True).virtualization is not None


def test_reset_state() -> None:
    st = GicState.reset(GicConfig(2, 64, priority_bits=5, min_bpr=2, num_lrs=4))
    for b in st.banked:
        assert (b.enabled, b.edge) == (0xFFFF, 0xFFFF)
        assert b.priority == bytes(32) and b.sgi_sources == bytes(16)
    for ci in st.cpu:
        assert (ci.ctlr, ci.pmr, ci.bpr, ci.abpr) == (0, 0, 2, 3)
    for v in st.virtual:
        assert (v.hcr, v.vmcr, v.apr, v.lr) == (0, 0x004C_0000, 0, (0, 0, 0, 0))
    assert (st.enable_grp0, st.enable_grp1, st.enable_grp1_unknown) == (False, False, False)
    assert st.hypervisor is None and st.provenance.tool == "gicmig"


def test_pending_as_ispendr_shows_it() -> None:
    st = GicState.reset(GicConfig(2, 96))
    sh = st.shared
    sh.edge = 1 << 1 | 1 << 3
    sh.line_level = 1 << 0 | 1 << 1  # 32 level + line, 33 edge + line
    sh.pending_latch = 1 << 2 | 1 << 3  # 34 level latched, 35 edge latched
    assert [st.irq(i).pending for i in (32, 33, 34, 35, 36)] == [True, False, True, True, False]
    b = st.banked[1]
    b.line_level = 1 << 27
    b.sgi_sources = bytes(5) + b"\x02"
    assert st.irq(27, cpu=1).pending and not st.irq(27).pending and not st.irq(27, 0).pending
    assert st.irq(5, cpu=1).pending and st.irq(5, cpu=1).sgi_sources == 2
    assert not st.irq(5).pending


def test_irq_view_per_cpu() -> None:
    st = GicState.reset(GicConfig(2, 96))
    st.banked[0].priority = bytes(27) + b"\x10"
    st.banked[1].priority = bytes(27) + b"\x20"
    assert st.irq(27).priority == 0x10  # CPU 0 by default
    assert st.irq(27, 1).priority == 0x20
    st.shared.targets = b"\x00\x02"
    st.shared.active, st.shared.active_cpu = 1 << 1, b"\x00\xff"
    spi = st.irq(33, cpu=1)
    assert (spi.targets, spi.active, spi.active_cpu) == (2, True, None)
    assert (spi.sgi_sources, spi.sgi_active_source) == (0, 0)  # no SGI fields on an SPI
    ppi = st.irq(27)
    assert (ppi.targets, ppi.active_cpu, ppi.sgi_sources, ppi.sgi_active_source) == (0, 0, 0, 0)
    st.banked[0].active, st.banked[0].sgi_active_source = 1 << 2, b"\x00\x00\x01"
    assert st.irq(2).sgi_active_source == 1


def test_bitmaps_and_vectors_refuse_what_cannot_be_stored() -> None:
    st = GicState.reset(GicConfig(2, 96))
    with pytest.raises(ValueError, match="negative"):
        st.shared.enabled = -1
    with pytest.raises(ValueError, match="at most 64"):
        st.shared.priority = bytes(65)
    st.shared.priority = b"\x10" + bytes(63)
    assert st._pb.state.shared.priority == b"\x10"  # stored trimmed
    assert st.shared.priority == b"\x10" + bytes(63)  # read padded


def test_equality_is_canonical_bytes() -> None:
    a = GicState.reset(GicConfig.qemu_virt())
    b = a.copy()
    b._pb.state.shared.SetInParent()  # an empty `shared {}` is no `shared`
    assert a == b and a.canonical_bytes() == b.canonical_bytes()
    b.provenance.source = "qemu-tcg"  # provenance is not compared
    assert a == b
    b.cpu[1].pmr = 0x80
    assert a != b
    for other in (GicConfig(2, 288, priority_bits=5), GicConfig(2, 288, min_bpr=1),
                  GicConfig(2, 288, sgi_enables_rao_wi=False)):
        d = GicState.reset(other)
        d._pb.state.CopyFrom(a._pb.state)  # the same state under other parameters
        assert a != d
    c = a.copy()
    c.keep_hypervisor_context()
    assert a != c
    c.drop_hypervisor_context()
    assert a == c
