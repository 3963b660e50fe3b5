"""Hypothesis strategies for gicmig states: any valid schema-v1 state, and bytes near blobs."""

from __future__ import annotations

from hypothesis import strategies as st

from gicmig.arch.registers import GICH_HCR, GICH_LR, GICH_LR_HW, GICH_VMCR
from gicmig.core.config import GicConfig
from gicmig.core.model import UNKNOWN_CPU, GicState

NUM_IRQS = (32, 64, 96, 288, 992, 1020)


@st.composite
def configs(draw: st.DrawFn, *, virtualization: bool | None = None) -> GicConfig:
    virt = draw(st.booleans()) if virtualization is None else virtualization
    return GicConfig(
        draw(st.integers(1, 8)), draw(st.sampled_from(NUM_IRQS)),
        priority_bits=draw(st.integers(4, 8)), min_bpr=draw(st.integers(0, 3)),
        sgi_enables_rao_wi=draw(st.booleans()), ppi_trigger_programmable=draw(st.booleans()),
        num_lrs=draw(st.integers(1, 64)) if virt else None,
    )


def _bits(draw: st.DrawFn, n: int, density: st.SearchStrategy[int]) -> int:
    """An n-bit mask; `density` picks how many random words get OR-ed in (0 = sparse)."""
    value = 0
    for _ in range(draw(density)):
        value |= draw(st.integers(0, (1 << n) - 1))
    return value & draw(st.integers(0, (1 << n) - 1)) if draw(st.booleans()) else value


def _bytes(draw: st.DrawFn, n: int, mask: int) -> bytes:
    data = draw(st.binary(min_size=0, max_size=n))
    return bytes(b & mask for b in data)


def _who(draw: st.DrawFn, active: int, n: int, num_cpus: int) -> bytes:
    raw = draw(st.binary(min_size=n, max_size=n))
    return bytes(
        ((UNKNOWN_CPU if b % (num_cpus + 1) == num_cpus else b % (num_cpus + 1))
         if active >> k & 1 else 0) for k, b in enumerate(raw))


@st.composite
def states(draw: st.DrawFn, config: GicConfig | None = None) -> GicState:
    """Any state that validates, over any valid parameters."""
    cfg = config if config is not None else draw(configs())
    s = GicState.reset(cfg)
    s.enable_grp0, s.enable_grp1 = draw(st.booleans()), draw(st.booleans())
    density = st.integers(0, 2)
    pm, cpus = cfg.priority_mask, cfg.cpu_mask
    n = cfg.num_spis
    sh = s.shared
    edge, latch, line = (_bits(draw, n, density) for _ in range(3))
    active = _bits(draw, n, density)
    sh.enabled, sh.group = _bits(draw, n, density), _bits(draw, n, density)
    sh.edge, sh.pending_latch, sh.line_level, sh.active = edge, latch, line, active
    sh.pending_split_unknown = ~edge & latch & ~line & _bits(draw, n, density)
    sh.latch_maybe_stale = ~edge & latch & active & _bits(draw, n, density)  # revision 3
    sh.priority = _bytes(draw, n, pm)
    sh.targets = _bytes(draw, n, cpus if cfg.num_cpus > 1 else 0)
    sh.active_cpu = _who(draw, active, n, cfg.num_cpus)
    for c in range(cfg.num_cpus):
        _banked(draw, s, c, density)
        _cpu(draw, s, c)
    return s


def _banked(draw: st.DrawFn, s: GicState, c: int, density: st.SearchStrategy[int]) -> None:
    cfg, b = s.config, s.banked[c]
    sgi = 0xFFFF
    edge = _bits(draw, 32, density) | sgi
    latch, line = _bits(draw, 32, density) & ~sgi, _bits(draw, 32, density) & ~sgi
    active = _bits(draw, 32, density)
    b.enabled = _bits(draw, 32, density) | (sgi if cfg.sgi_enables_rao_wi else 0)
    b.group, b.edge, b.pending_latch, b.line_level, b.active = (
        _bits(draw, 32, density), edge, latch, line, active)
    b.pending_split_unknown = ~edge & latch & ~line & _bits(draw, 32, density) & 0xFFFF_FFFF
    b.latch_maybe_stale = ~edge & latch & active & _bits(draw, 32, density) & 0xFFFF_FFFF
    b.priority = _bytes(draw, 32, cfg.priority_mask)
    b.sgi_sources = _bytes(draw, 16, cfg.cpu_mask)
    b.sgi_active_source = _who(draw, active, 16, cfg.num_cpus)


def _cpu(draw: st.DrawFn, s: GicState, c: int) -> None:
    cfg, ci = s.config, s.cpu[c]
    ci.ctlr = draw(st.integers(0, 0x3FF))
    ci.pmr = draw(st.integers(0, 255)) & cfg.priority_mask
    ci.bpr = draw(st.integers(cfg.min_bpr, 7))
    ci.abpr = draw(st.integers(cfg.min_abpr, 7))
    step = 1 << (7 - cfg.preemption_bits)
    levels = sum(1 << lv for lv in range(0, 128, step))
    g0, g1 = (draw(st.integers(0, (1 << 128) - 1)) & levels for _ in range(2))
    ci.active_group0, ci.active_group1 = g0, g1
    ci.active_group_unknown = draw(st.integers(0, (1 << 128) - 1)) & levels & ~(g0 | g1)
    virt = cfg.virtualization
    if virt is None:
        return
    v = s.virtual[c]
    v.hcr = GICH_HCR.pack(en=draw(st.integers(0, 1)), npie=draw(st.integers(0, 1)),
                          eoicount=draw(st.integers(0, 31)))
    v.vmcr = GICH_VMCR.pack(vmgrp0en=draw(st.integers(0, 1)), vmabp=draw(st.integers(3, 7)),
                            vmbp=draw(st.integers(2, 7)), vmprimask=draw(st.integers(0, 31)))
    v.apr = draw(st.integers(0, 0xFFFF_FFFF))
    v.lr = draw(st.lists(_lrs(), max_size=virt.num_lrs))


def _lrs() -> st.SearchStrategy[int]:
    common = st.fixed_dictionaries({
        "virtual_id": st.integers(0, 1023), "priority": st.integers(0, 31),
        "state": st.integers(0, 3), "grp1": st.integers(0, 1)})
    sw = st.tuples(common, st.integers(0, 7), st.integers(0, 1)).map(
        lambda t: GICH_LR.pack(cpuid=t[1], eoi=t[2], **t[0]))
    hw = st.tuples(common, st.integers(0, 1023)).map(
        lambda t: GICH_LR_HW.pack(hw=1, physical_id=t[1], **t[0]))
    return st.one_of(sw, hw)
