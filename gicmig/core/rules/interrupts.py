"""Rules of the interrupts: the distributor enables, the per-CPU banks of IDs 0-31 (SGIs
and PPIs) and the SPIs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gicmig.arch import bitmaps, labels
from gicmig.arch.ids import NUM_PRIVATE, SGI_MASK
from gicmig.core.model import UNKNOWN_CPU, BankedInterrupts
from gicmig.core.rules.context import (
    Context,
    Section,
    stray_or_bad,
)
from gicmig.core.rules.context import violation as _v
from gicmig.core.rules.shape import SHARED_VECTORS
from gicmig.errors import Violation

# the longest banked vectors (IDs 0-31, SGIs 0-15): the model's lengths
_PRIO_LEN = BankedInterrupts.LENGTHS["priority"]
_SGI_LEN = BankedInterrupts.LENGTHS["sgi_sources"]

_SPLIT_UNKNOWN_HELP = "allowed only on a level-triggered interrupt whose latch holds the OR"


# --- distributor ------------------------------------------------------------------------------
def _distributor(st: Any) -> Iterator[Violation]:
    # schema revision 2: an unknown EnableGrp1 is stored as false, so that a state whose
    # source had a single enable has one canonical form
    if st.enable_grp1_unknown and st.enable_grp1:
        yield _v("DIST-GRP1-UNKNOWN-SET", "state.enable_grp1",
                 "gicd.ctlr EnableGrp1 is 1 although enable_grp1_unknown marks it UNKNOWN "
                 "(an unknown bit is stored as 0)")


def _distributor_ok(ctx: Context, msg: Any) -> bool:
    st = msg.state
    return not (st.enable_grp1_unknown and st.enable_grp1)


DISTRIBUTOR = Section("distributor", _distributor_ok, lambda ctx, msg: _distributor(msg.state))


# --- the banks of IDs 0-31, per CPU -------------------------------------------------------------
def _banked_ok(ctx: Context, msg: Any) -> bool:
    rows = [(b.enabled, b.edge, b.pending_latch, b.line_level, b.active,
             b.pending_split_unknown, b.priority, b.sgi_sources, b.sgi_active_source,
             b.latch_maybe_stale) for b in msg.state.banked]
    (en, edge_l, latch_l, line_l, act_l, unk_l, prio_l, src_l, who_l,
     stale_l) = zip(*rows, strict=True)
    sgi, u32 = ctx.sgi_lanes, ctx.u32  # a 32-bit lane per CPU
    edge = int.from_bytes(u32.pack(*edge_l), "little")
    latch = int.from_bytes(u32.pack(*latch_l), "little")
    line = int.from_bytes(u32.pack(*line_l), "little")
    if (edge & sgi != sgi or (latch | line) & sgi
            or (ctx.rao and int.from_bytes(u32.pack(*en), "little") & sgi != sgi)):
        return False
    active = int.from_bytes(u32.pack(*act_l), "little")
    if ((any(unk_l) and int.from_bytes(u32.pack(*unk_l), "little") & ~(~edge & latch & ~line))
            or (any(stale_l)
                and int.from_bytes(u32.pack(*stale_l), "little") & ~(~edge & latch & active))):
        return False
    if (max(map(len, prio_l)) > _PRIO_LEN or max(map(len, src_l)) > _SGI_LEN
            or max(map(len, who_l)) > _SGI_LEN
            or b"\0" in {v[-1:] for v in (*prio_l, *src_l, *who_l)}):
        return False
    # values alone matter for priorities and sources; SGI active sources by position, in
    # 32-byte lanes against the 32-bit active words (bytes 16-31 are padding zeros)
    return ((ctx.any_prio or not b"".join(prio_l).translate(None, ctx.bad_prio))
            and (ctx.any_source or not b"".join(src_l).translate(None, ctx.bad_source))
            and not stray_or_bad(ctx.s32.pack(*who_l), active, ctx.cpu_ids))


def _banked(ctx: Context, c: int, b: Any) -> Iterator[Violation]:
    for name, length in BankedInterrupts.LENGTHS.items():
        if len(getattr(b, name)) > length:
            yield _v("STATE-IRQ-OUT-OF-RANGE", f"state.banked[{c}].{name}",
                     f"{len(getattr(b, name))} entries, at most {length}")
            return
    if b.edge & SGI_MASK != SGI_MASK:
        for s in bitmaps.set_bits(~b.edge & SGI_MASK):
            yield _v("SGI-NOT-EDGE", labels.irq(s, c), "level-triggered; SGIs are always edge")
    if ctx.rao and b.enabled & SGI_MASK != SGI_MASK:
        for s in bitmaps.set_bits(~b.enabled & SGI_MASK):
            yield _v("SGI-DISABLED-RAO", labels.irq(s, c),
                     "disabled, but this GIC's SGI enables are RAO/WI")
    for name in ("pending_latch", "line_level"):
        for s in bitmaps.set_bits(getattr(b, name) & SGI_MASK):
            yield _v("SGI-LATCH-OR-LINE", labels.irq(s, c),
                     f"{name} is set; SGI pending state is its set of sources")
    yield from _split_unknown(b.pending_split_unknown, b.edge, b.pending_latch, b.line_level, c, 0)
    yield from _maybe_stale(b.latch_maybe_stale, b.edge, b.pending_latch, b.active, c, 0)
    yield from _priorities(ctx, b.priority, c, 0)
    yield from _sgi_sources(ctx, c, b)


def _split_unknown(unk: int, edge: int, latch: int, line: int, cpu: int | None,
                   base: int) -> Iterator[Violation]:
    bad = unk & ~(~edge & latch & ~line)
    for k in bitmaps.set_bits(bad):
        yield _v("IRQ-SPLIT-UNKNOWN-INVALID", labels.irq(base + k, cpu),
                 f"latch/line-unknown marker {_SPLIT_UNKNOWN_HELP}, with line_level 0")


def _maybe_stale(marks: int, edge: int, latch: int, active: int, cpu: int | None,
                 base: int) -> Iterator[Violation]:
    for k in bitmaps.set_bits(marks & ~(~edge & latch & active)):
        yield _v("IRQ-LATCH-STALE-INVALID", labels.irq(base + k, cpu),
                 "maybe-stale-latch marker on an interrupt that is not an active "
                 "level-triggered one with its pending latch set")


def _priorities(ctx: Context, prio: bytes, cpu: int | None, base: int) -> Iterator[Violation]:
    if not prio.translate(None, ctx.bad_prio):
        return
    for k, p in enumerate(prio):
        if p & ~ctx.prio_mask:
            yield _v("IRQ-PRIORITY-UNIMPLEMENTED-BITS", labels.irq(base + k, cpu),
                     f"priority {p:#04x} sets bits below the {ctx.priority_bits} implemented "
                     f"(mask {ctx.prio_mask:#04x})")


def _sgi_sources(ctx: Context, c: int, b: Any) -> Iterator[Violation]:
    if b.sgi_sources.translate(None, ctx.bad_source):
        for s, src in enumerate(b.sgi_sources):
            if src & ~ctx.cpu_mask:
                yield _v("SGI-SOURCE-ABSENT-CPU", labels.irq(s, c),
                         f"pending from CPUs {labels.cpus(src)}, but only "
                         f"{ctx.num_cpus} CPUs exist")
    if not stray_or_bad(b.sgi_active_source, b.active, ctx.cpu_ids):
        return
    for s, src in enumerate(b.sgi_active_source):
        active = b.active >> s & 1
        if not active and src:
            yield _v("SGI-ACTIVE-SOURCE-NOT-ACTIVE", labels.irq(s, c),
                     f"active source {src:#04x} recorded, but the SGI is not active")
        elif active and src != UNKNOWN_CPU and src >= ctx.num_cpus:
            yield _v("SGI-ACTIVE-SOURCE-ABSENT-CPU", labels.irq(s, c),
                     f"active from CPU {src}, but only {ctx.num_cpus} CPUs exist")


def _every_bank(ctx: Context, msg: Any) -> Iterator[Violation]:
    for c in range(ctx.num_cpus):
        yield from _banked(ctx, c, msg.state.banked[c])


BANKED = Section("banked interrupts", _banked_ok, _every_bank)


# --- SPIs -------------------------------------------------------------------------------------
def _shared_ok(ctx: Context, msg: Any) -> bool:
    sh = msg.state.shared
    n = ctx.num_spis
    raw = (sh.edge, sh.pending_latch, sh.line_level, sh.active, sh.pending_split_unknown,
           sh.latch_maybe_stale, sh.enabled, sh.group)
    prio, targets, who = sh.priority, sh.targets, sh.active_cpu
    if b"\0" in {v[-1:] for v in (*raw, prio, targets, who)}:
        return False
    edge, latch, line, active, unk, stale, enabled, group = (
        int.from_bytes(x, "little") for x in raw)
    return (not (edge | latch | line | active | unk | stale | enabled | group) >> n
            and len(prio) <= n and len(targets) <= n and len(who) <= n
            and not unk & ~(~edge & latch & ~line)
            and not stale & ~(~edge & latch & active)
            and (ctx.any_prio or not prio.translate(None, ctx.bad_prio))
            and (ctx.any_target or not targets.translate(None, ctx.bad_target))
            and not stray_or_bad(who, active, ctx.cpu_ids))


def _shared(ctx: Context, sh: Any) -> Iterator[Violation]:
    n = ctx.num_spis
    for name in SHARED_VECTORS:
        data = getattr(sh, name)
        is_bitmap = name not in ("priority", "targets", "active_cpu")
        too_long = (int.from_bytes(data, "little") >> n) if is_bitmap else len(data) > n
        if too_long:
            yield _v("STATE-IRQ-OUT-OF-RANGE", f"state.shared.{name}",
                     f"holds state for interrupt IDs >= num_irqs {ctx.num_irqs}")
    edge, latch, line = (int.from_bytes(x, "little") for x in (sh.edge, sh.pending_latch,
                                                               sh.line_level))
    unk = int.from_bytes(sh.pending_split_unknown, "little")
    yield from _split_unknown(unk, edge, latch, line, None, NUM_PRIVATE)
    stale, active = (int.from_bytes(x, "little") for x in (sh.latch_maybe_stale, sh.active))
    yield from _maybe_stale(stale, edge, latch, active, None, NUM_PRIVATE)
    yield from _priorities(ctx, sh.priority, None, NUM_PRIVATE)
    if sh.targets.translate(None, ctx.bad_target):
        for k, t in enumerate(sh.targets):
            if t & ~ctx.target_mask:
                why = ("a uniprocessor GIC's ITARGETSR is RAZ/WI" if ctx.num_cpus == 1
                       else f"only {ctx.num_cpus} CPUs exist")
                yield _v("SPI-TARGET-ABSENT-CPU", labels.irq(NUM_PRIVATE + k),
                         f"targets {t:#04x} = CPUs {labels.cpus(t)}; {why}")
    yield from _active_cpu(ctx, sh.active_cpu, int.from_bytes(sh.active, "little"))


def _active_cpu(ctx: Context, active_cpu: bytes, active: int) -> Iterator[Violation]:
    if not stray_or_bad(active_cpu, active, ctx.cpu_ids):
        return
    for k, cpu in enumerate(active_cpu):
        if not cpu and not (active >> k & 1):
            continue
        if not active >> k & 1:
            yield _v("SPI-ACTIVE-CPU-NOT-ACTIVE", labels.irq(NUM_PRIVATE + k),
                     f"active CPU {cpu:#04x} recorded, but the SPI is not active")
        elif cpu != UNKNOWN_CPU and cpu >= ctx.num_cpus:
            yield _v("SPI-ACTIVE-CPU-ABSENT", labels.irq(NUM_PRIVATE + k),
                     f"active on CPU {cpu}, but only {ctx.num_cpus} CPUs exist")


SHARED = Section("SPIs", _shared_ok, lambda ctx, msg: _shared(ctx, msg.state.shared))
