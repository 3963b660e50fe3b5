"""Named validation rules of schema v1, each with a stable reason code.

`check(state)` returns every violation (not just the first); `validate(state)` raises
`ValidationError` holding them all. Rules run as bulk bitwise operations over whole
bitmaps and byte vectors; only when a rule fails does a slow path name each offender.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from functools import lru_cache, reduce
from operator import or_
from typing import Any

from gicmig.arch import bitmaps, labels, priority
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import GICC_CTLR, GICH_HCR, GICH_LR, GICH_LR_HW, GICH_VMCR, lr_layout
from gicmig.core.model import UNKNOWN_CPU, GicConfig, GicState
from gicmig.errors import ValidationError, Violation

_SGI_BITS = (1 << NUM_SGIS) - 1
_SPLIT_UNKNOWN_HELP = "allowed only on a level-triggered interrupt whose latch holds the OR"


def validate(state: GicState) -> None:
    """Raise `ValidationError` listing every rule `state` breaks.

    >>> validate(GicState.reset(GicConfig.qemu_virt()))  # a reset GIC is valid
    """
    violations = check(state)
    if violations:
        raise ValidationError(violations)


def check_config(config: GicConfig) -> list[Violation]:
    """The parameter rules alone (run before anything is sized by the parameters)."""
    return list(_config(config._pb))


def check(state: GicState) -> list[Violation]:
    """Every rule `state` breaks, in a stable order (parameters, shape, then state)."""
    msg = state._pb
    out = list(_config(msg.config))
    if out:
        return out  # the other rules are defined in terms of valid parameters
    ctx = _context(msg.config.SerializeToString(deterministic=True))
    if _fast_ok(ctx, msg):
        return []
    return _detailed(ctx, msg)


def _detailed(ctx: _Ctx, msg: Any) -> list[Violation]:
    """Every violation, named: the slow path, run only when the fast path found one."""
    out = list(_shape(msg))
    if out:
        return out
    out.extend(_distributor(msg.state))
    for c in range(ctx.num_cpus):
        out.extend(_banked(ctx, c, msg.state.banked[c]))
    out.extend(_shared(ctx, msg.state.shared))
    for c in range(ctx.num_cpus):
        out.extend(_cpu(ctx, c, msg.state.cpu[c]))
    for c, v in enumerate(msg.state.virtual):
        out.extend(_virtual(ctx, c, v))
    if msg.HasField("hypervisor"):
        out.extend(_hypervisor(ctx, msg.hypervisor))
        out.extend(_hw_spis(ctx, msg))
    return out


@lru_cache(maxsize=32)
def _context(config: bytes) -> _Ctx:
    from gicmig.core.pb import pb

    return _Ctx(pb.GicConfig.FromString(config))


class _Ctx:
    """Values derived once from valid parameters (cached per parameter set)."""

    def __init__(self, config: Any) -> None:
        self.num_cpus: int = config.num_cpus
        self.num_irqs: int = config.num_irqs
        self.num_spis = self.num_irqs - NUM_PRIVATE
        self.priority_bits: int = config.priority_bits
        self.prio_mask = priority.priority_mask(self.priority_bits)
        self.cpu_mask = (1 << self.num_cpus) - 1
        # a uniprocessor GIC's ITARGETSR is RAZ/WI: the only canonical target mask is 0
        self.target_mask = self.cpu_mask if self.num_cpus > 1 else 0
        self.rao = bool(config.sgi_enables_rao_wi)
        self.min_bpr: int = config.min_bpr
        self.apr_levels = priority.representable_levels(self.priority_bits, self.min_bpr)
        self.bad_prio = _outside(self.prio_mask)
        self.bad_target = _outside(self.target_mask)
        self.bad_source = _outside(self.cpu_mask)
        self.cpu_ids = _cpu_ids(self.num_cpus)
        self.virt = config.virtualization if config.HasField("virtualization") else None
        self.num_lrs = self.virt.num_lrs if self.virt else 0
        self.min_vmbp = priority.min_binary_point(self.virt.preemption_bits) if self.virt else 0
        self.apr_bits = 1 << self.virt.preemption_bits if self.virt else 0
        self.vmbp, self.vmabp = GICH_VMCR.field("vmbp"), GICH_VMCR.field("vmabp")
        self.lr_hw_mask = GICH_LR.field("hw").mask
        self.lr_res_sw, self.lr_res_hw = GICH_LR.reserved_mask, GICH_LR_HW.reserved_mask
        self.ctlr_reserved = GICC_CTLR.reserved_mask
        self.sgi_lanes = sum(_SGI_BITS << 32 * c for c in range(self.num_cpus))
        # representable active-priority levels, repeated in 128-bit lanes per CPU count
        self.apr_lanes = [sum(self.apr_levels << 128 * c for c in range(k)) for k in range(9)]
        self.hcr_reserved, self.vmcr_reserved = GICH_HCR.reserved_mask, GICH_VMCR.reserved_mask


@lru_cache(maxsize=64)
def _outside(mask: int) -> bytes:
    """The byte values inside `mask`: `data.translate(None, that)` keeps the others."""
    return bytes(v for v in range(256) if not v & ~mask)


@lru_cache(maxsize=16)
def _cpu_ids(num_cpus: int) -> bytes:
    """The valid CPU bytes (0..num_cpus-1 and the UNKNOWN marker)."""
    return bytes([*range(num_cpus), UNKNOWN_CPU])


def _stray_or_bad(values: bytes, active: int, valid: bytes) -> bool:
    """Whether a per-element CPU byte is set where the element is not active, or is not
    one of `valid` (bytes and bitmap operations; no loop per interrupt)."""
    return bool(values.translate(None, valid) or bitmaps.nonzero(values) & ~active)


def _v(code: str, path: str, message: str) -> Violation:
    return Violation(code, path, message)


# --- parameters ------------------------------------------------------------------------
def _config(c: Any) -> Iterator[Violation]:
    if c.revision != 2:
        name = {0: "unspecified", 1: "GICv1"}.get(c.revision, str(c.revision))
        yield _v("CONFIG-REVISION", "config.revision", f"{name}; schema v1 holds GICv2 only")
    if not 1 <= c.num_cpus <= 8:
        yield _v("CONFIG-NUM-CPUS", "config.num_cpus", f"{c.num_cpus} is not in 1..8")
    n = c.num_irqs
    if not (n == 1020 or (32 <= n <= 992 and n % 32 == 0)):
        yield _v("CONFIG-NUM-IRQS", "config.num_irqs",
                 f"{n} is not a multiple of 32 in 32..992, nor 1020")
    if not 4 <= c.priority_bits <= 8:
        yield _v("CONFIG-PRIORITY-BITS", "config.priority_bits",
                 f"{c.priority_bits} is not in 4..8")
    if not 0 <= c.min_bpr <= 3:
        yield _v("CONFIG-MIN-BPR", "config.min_bpr", f"{c.min_bpr} is not in 0..3")
    if c.security_extensions:
        yield _v("CONFIG-SECURITY-EXTENSIONS", "config.security_extensions",
                 "security extensions are not modelled by schema v1")
    if c.HasField("virtualization"):
        yield from _config_virt(c.virtualization)


def _config_virt(v: Any) -> Iterator[Violation]:
    if not 1 <= v.num_lrs <= 64:
        yield _v("CONFIG-VIRTUALIZATION", "config.virtualization.num_lrs",
                 f"{v.num_lrs} is not in 1..64")
    if not 1 <= v.preemption_bits <= v.priority_bits <= 5:
        yield _v("CONFIG-VIRTUALIZATION", "config.virtualization",
                 f"preemption_bits {v.preemption_bits} / priority_bits {v.priority_bits} "
                 "break 1 <= preemption <= priority <= 5 (GICH_LR holds 5 priority bits)")


# --- distributor ---------------------------------------------------------------------------
def _distributor(st: Any) -> Iterator[Violation]:
    # schema revision 2: an unknown EnableGrp1 is stored as false, so that a state whose
    # source had a single enable has one canonical form
    if st.enable_grp1_unknown and st.enable_grp1:
        yield _v("DIST-GRP1-UNKNOWN-SET", "state.enable_grp1",
                 "gicd.ctlr EnableGrp1 is 1 although enable_grp1_unknown marks it UNKNOWN "
                 "(an unknown bit is stored as 0)")


# --- shape -------------------------------------------------------------------------------
def _shape(msg: Any) -> Iterator[Violation]:
    c, st = msg.config, msg.state
    n = c.num_cpus
    for name in ("banked", "cpu"):
        got = len(getattr(st, name))
        if got != n:
            yield _v("STATE-CPU-COUNT", f"state.{name}", f"{got} entries for {n} CPUs")
    want_virt = n if c.HasField("virtualization") else 0
    if len(st.virtual) != want_virt:
        yield _v("VIRT-PRESENCE", "state.virtual",
                 f"{len(st.virtual)} virtual interfaces, expected {want_virt} "
                 f"({'with' if want_virt else 'without'} virtualization extensions)")
    if msg.HasField("hypervisor") and len(msg.hypervisor.vcpu) != n:
        yield _v("HYP-VCPU-COUNT", "hypervisor.vcpu",
                 f"{len(msg.hypervisor.vcpu)} entries for {n} vCPUs")
    yield from _trimmed(msg)


def _trimmed(msg: Any) -> Iterator[Violation]:
    """Canonical form: no stored vector ends in a zero byte (or a zero list register)."""
    for path, data in _vectors(msg):
        if data[-1:] == b"\0":
            yield _v("PAYLOAD-NOT-CANONICAL", path,
                     "a stored vector ends in a zero byte (trailing zeros must be removed)")
    for c, v in enumerate(msg.state.virtual):
        if len(v.lr) and v.lr[-1] == 0:
            yield _v("PAYLOAD-NOT-CANONICAL", labels.cpu_reg(c, "gich.lr"),
                     "the stored list registers end in a zero LR (trailing ones must be removed)")


_BANKED_VECTORS = ("priority", "sgi_sources", "sgi_active_source")
_SHARED_VECTORS = ("enabled", "group", "edge", "pending_latch", "line_level", "active",
                   "pending_split_unknown", "priority", "targets", "active_cpu",
                   "latch_maybe_stale")
_CPU_VECTORS = ("active_group0", "active_group1", "active_group_unknown")


def _vectors(msg: Any) -> Iterator[tuple[str, bytes]]:
    st = msg.state
    for c, b in enumerate(st.banked):
        for f in _BANKED_VECTORS:
            yield f"state.banked[{c}].{f}", getattr(b, f)
    for f in _SHARED_VECTORS:
        yield f"state.shared.{f}", getattr(st.shared, f)
    for c, ci in enumerate(st.cpu):
        for f in _CPU_VECTORS:
            yield f"state.cpu[{c}].{f}", getattr(ci, f)
    if msg.HasField("hypervisor"):
        for c, h in enumerate(msg.hypervisor.vcpu):
            yield f"hypervisor.vcpu[{c}].eoi_maintenance", h.eoi_maintenance


# --- interrupts ----------------------------------------------------------------------------
def _banked(ctx: _Ctx, c: int, b: Any) -> Iterator[Violation]:
    for name, length in (("priority", 32), ("sgi_sources", 16), ("sgi_active_source", 16)):
        if len(getattr(b, name)) > length:
            yield _v("STATE-IRQ-OUT-OF-RANGE", f"state.banked[{c}].{name}",
                     f"{len(getattr(b, name))} entries, at most {length}")
            return
    if b.edge & _SGI_BITS != _SGI_BITS:
        for s in bitmaps.set_bits(~b.edge & _SGI_BITS):
            yield _v("SGI-NOT-EDGE", labels.irq(s, c), "level-triggered; SGIs are always edge")
    if ctx.rao and b.enabled & _SGI_BITS != _SGI_BITS:
        for s in bitmaps.set_bits(~b.enabled & _SGI_BITS):
            yield _v("SGI-DISABLED-RAO", labels.irq(s, c),
                     "disabled, but this GIC's SGI enables are RAO/WI")
    for name in ("pending_latch", "line_level"):
        for s in bitmaps.set_bits(getattr(b, name) & _SGI_BITS):
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


def _priorities(ctx: _Ctx, prio: bytes, cpu: int | None, base: int) -> Iterator[Violation]:
    if not prio.translate(None, ctx.bad_prio):
        return
    for k, p in enumerate(prio):
        if p & ~ctx.prio_mask:
            yield _v("IRQ-PRIORITY-UNIMPLEMENTED-BITS", labels.irq(base + k, cpu),
                     f"priority {p:#04x} sets bits below the {ctx.priority_bits} implemented "
                     f"(mask {ctx.prio_mask:#04x})")


def _sgi_sources(ctx: _Ctx, c: int, b: Any) -> Iterator[Violation]:
    if b.sgi_sources.translate(None, ctx.bad_source):
        for s, src in enumerate(b.sgi_sources):
            if src & ~ctx.cpu_mask:
                yield _v("SGI-SOURCE-ABSENT-CPU", labels.irq(s, c),
                         f"pending from CPUs {labels.cpus(src)}, but only "
                         f"{ctx.num_cpus} CPUs exist")
    if not _stray_or_bad(b.sgi_active_source, b.active, ctx.cpu_ids):
        return
    for s, src in enumerate(b.sgi_active_source):
        active = b.active >> s & 1
        if not active and src:
            yield _v("SGI-ACTIVE-SOURCE-NOT-ACTIVE", labels.irq(s, c),
                     f"active source {src:#04x} recorded, but the SGI is not active")
        elif active and src != UNKNOWN_CPU and src >= ctx.num_cpus:
            yield _v("SGI-ACTIVE-SOURCE-ABSENT-CPU", labels.irq(s, c),
                     f"active from CPU {src}, but only {ctx.num_cpus} CPUs exist")


def _shared(ctx: _Ctx, sh: Any) -> Iterator[Violation]:
    n = ctx.num_spis
    for name in _SHARED_VECTORS:
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


def _active_cpu(ctx: _Ctx, active_cpu: bytes, active: int) -> Iterator[Violation]:
    if not _stray_or_bad(active_cpu, active, ctx.cpu_ids):
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


# --- CPU interface -----------------------------------------------------------------------------
def _cpu(ctx: _Ctx, c: int, ci: Any) -> Iterator[Violation]:
    if ci.ctlr & GICC_CTLR.reserved_mask:
        yield _v("CPU-CTLR-RESERVED", labels.cpu_reg(c, "gicc.ctlr"),
                 f"{ci.ctlr:#x} sets reserved bits {ci.ctlr & GICC_CTLR.reserved_mask:#x}")
    if ci.pmr > 0xFF or ci.pmr & ~ctx.prio_mask:
        yield _v("CPU-PMR-UNIMPLEMENTED-BITS", labels.cpu_reg(c, "gicc.pmr"),
                 f"{ci.pmr:#04x} sets bits outside the {ctx.priority_bits} implemented "
                 f"(mask {ctx.prio_mask:#04x})")
    for name, low in (("bpr", ctx.min_bpr), ("abpr", priority.min_abpr(ctx.min_bpr))):
        value = getattr(ci, name)
        if not low <= value <= 7:
            yield _v("CPU-BPR-RANGE", labels.cpu_reg(c, f"gicc.{name}"),
                     f"{value} is not in {low}..7 (minimum from config.min_bpr {ctx.min_bpr})")
    g0, g1, unk = (int.from_bytes(x, "little") for x in
                   (ci.active_group0, ci.active_group1, ci.active_group_unknown))
    for name, levels in (("active_group0", g0), ("active_group1", g1),
                         ("active_group_unknown", unk)):
        for lv in bitmaps.set_bits(levels & ~ctx.apr_levels):
            yield _v("CPU-ACTIVE-PRIORITY-UNREPRESENTABLE", labels.cpu_reg(c, f"gicc.{name}"),
                     f"group priority {2 * lv:#04x} is active, but with {ctx.priority_bits} "
                     f"priority bits and min BPR {ctx.min_bpr} no such preemption level exists")
    for lv in bitmaps.set_bits(unk & (g0 | g1)):
        yield _v("CPU-ACTIVE-GROUP-OVERLAP", labels.cpu_reg(c, "gicc.active_group_unknown"),
                 f"group priority {2 * lv:#04x} is marked group-unknown and also in a known group")


# --- virtual interface of a GIC with virtualization extensions ------------------------------------
def _virtual(ctx: _Ctx, c: int, v: Any) -> Iterator[Violation]:
    virt: Any = ctx.virt  # present: _shape checked that virtual interfaces imply it
    if len(v.lr) > virt.num_lrs:
        yield _v("VIRT-LR-COUNT", labels.cpu_reg(c, "gich.lr"),
                 f"{len(v.lr)} list registers stored, GICH_VTR implements {virt.num_lrs}")
    for reg, name, value in ((GICH_HCR, "hcr", v.hcr), (GICH_VMCR, "vmcr", v.vmcr)):
        if value & reg.reserved_mask:
            yield _v("VIRT-RESERVED-BITS", labels.cpu_reg(c, f"gich.{name}"),
                     f"{value:#010x} sets reserved bits {value & reg.reserved_mask:#010x}")
    min_bp = 7 - virt.preemption_bits
    vmbp, vmabp = GICH_VMCR.field("vmbp").get(v.vmcr), GICH_VMCR.field("vmabp").get(v.vmcr)
    if vmbp < min_bp or vmabp < min_bp + 1:
        yield _v("VIRT-VMCR-BINARY-POINT", labels.cpu_reg(c, "gich.vmcr"),
                 f"VMBP {vmbp} / VMABP {vmabp} below the minima {min_bp} / {min_bp + 1}")
    if v.apr >> (1 << virt.preemption_bits):
        yield _v("VIRT-APR-UNREPRESENTABLE", labels.cpu_reg(c, "gich.apr"),
                 f"{v.apr:#010x} sets levels beyond the {1 << virt.preemption_bits} that "
                 f"{virt.preemption_bits} preemption bits give")
    for n, lr in enumerate(v.lr):
        reserved = lr & lr_layout(lr).reserved_mask
        if reserved:
            yield _v("VIRT-RESERVED-BITS", labels.cpu_reg(c, f"gich.lr{n}"),
                     f"{lr:#010x} sets reserved bits {reserved:#010x}")


# --- hypervisor context --------------------------------------------------------------------------
def _hypervisor(ctx: _Ctx, hyp: Any) -> Iterator[Violation]:
    for c, h in enumerate(hyp.vcpu):
        where = f"hypervisor.vcpu[{c}]"
        if h.hcr & GICH_HCR.reserved_mask:
            yield _v("HYP-RESERVED-BITS", f"{where}.hcr",
                     f"{h.hcr:#010x} sets reserved bits {h.hcr & GICH_HCR.reserved_mask:#010x}")
        if int.from_bytes(h.eoi_maintenance, "little") >> ctx.num_irqs:
            yield _v("STATE-IRQ-OUT-OF-RANGE", f"{where}.eoi_maintenance",
                     f"names interrupt IDs >= num_irqs {ctx.num_irqs}")
        yield from _hw_mappings(ctx, where, [(m.virtual_id, m.physical_id)
                                             for m in h.hw_mapping])


def _hw_spis(ctx: _Ctx, msg: Any) -> Iterator[Violation]:
    """An SPI has one active state and one owner: it can be HW-mapped on one vCPU only,
    and only on the vCPU it is active on."""
    owner: dict[int, int] = {}
    active = int.from_bytes(msg.state.shared.active, "little")
    who = msg.state.shared.active_cpu
    for c, h in enumerate(msg.hypervisor.vcpu):
        for m in h.hw_mapping:
            v, k = m.virtual_id, m.virtual_id - NUM_PRIVATE
            if k < 0 or v >= ctx.num_irqs:
                continue
            where = f"hypervisor.vcpu[{c}].hw_mapping"
            if v in owner:
                yield _v("HYP-HW-MAPPING", where, f"{labels.irq(v)} is HW-mapped on vCPU "
                         f"{owner[v]} and vCPU {c}; an SPI has one owner")
            owner.setdefault(v, c)
            cpu = who[k] if k < len(who) else 0
            if active >> k & 1 and cpu not in (c, UNKNOWN_CPU):
                yield _v("HYP-HW-MAPPING", where, f"{labels.irq(v)} is HW-mapped on vCPU {c} "
                         f"but active on CPU {cpu}")


def _hw_mappings(ctx: _Ctx, where: str, maps: list[tuple[int, int]]) -> Iterator[Violation]:
    virtual = [v for v, _ in maps]
    if virtual != sorted(set(virtual)):
        yield _v("PAYLOAD-NOT-CANONICAL", f"{where}.hw_mapping",
                 "HW mappings must be stored once each, in ascending virtual ID order")
    physical = [p for _, p in maps]
    for p in sorted({p for p in physical if physical.count(p) > 1}):
        yield _v("HYP-HW-MAPPING", f"{where}.hw_mapping",
                 f"physical ID {p} is mapped from several virtual IDs")
    for v, p in maps:
        if v < NUM_SGIS:
            yield _v("HYP-HW-MAPPING", f"{where}.hw_mapping",
                     f"virtual ID {v} is an SGI; only PPIs and SPIs can be HW-mapped")
        if v >= ctx.num_irqs:
            yield _v("HYP-HW-MAPPING", f"{where}.hw_mapping",
                     f"virtual ID {v} is >= num_irqs {ctx.num_irqs}")
        if not 16 <= p <= 1019:
            yield _v("HYP-HW-MAPPING", f"{where}.hw_mapping",
                     f"virtual ID {v} maps to physical ID {p}, which is not a PPI or SPI "
                     "(16..1019)")


# --- fast path -------------------------------------------------------------------------------
# The same rules as the generators above, written as a handful of big-integer and bytes
# operations over all CPUs at once (each CPU's bank is a 32-bit lane of one int): a valid
# state, the common case, pays only this. tests/test_rules.py checks on random and
# mutated states that the fast path and the named rules always agree.


def _fast_ok(ctx: _Ctx, msg: Any) -> bool:
    st = msg.state
    n = ctx.num_cpus
    banked, cpus, virtual = st.banked, st.cpu, st.virtual
    if len(banked) != n or len(cpus) != n or len(virtual) != (n if ctx.virt else 0):
        return False
    if msg.HasField("hypervisor") or (st.enable_grp1_unknown and st.enable_grp1):
        return False  # hypervisor context is rare: the named rules check it
    return (_banked_ok(ctx, banked) and _shared_ok(ctx, st.shared) and _cpus_ok(ctx, cpus)
            and (not virtual or _virtual_ok(ctx, virtual)))


def _lanes(values: tuple[int, ...], fmt: str) -> int:
    return int.from_bytes(struct.pack(f"<{len(values)}{fmt}", *values), "little")


def _padded(vectors: tuple[bytes, ...], width: int) -> bytes | None:
    """The vectors, each zero-padded to `width`, joined; None if one is too long or is
    not trimmed (ends in a zero byte)."""
    if max(map(len, vectors)) > width or b"\0" in {v[-1:] for v in vectors}:
        return None
    return b"".join(v.ljust(width, b"\0") for v in vectors)


def _banked_ok(ctx: _Ctx, banked: Any) -> bool:
    rows = [(b.enabled, b.edge, b.pending_latch, b.line_level, b.active,
             b.pending_split_unknown, b.priority, b.sgi_sources, b.sgi_active_source,
             b.latch_maybe_stale) for b in banked]
    (en, edge_l, latch_l, line_l, act_l, unk_l, prio_l, src_l, who_l,
     stale_l) = zip(*rows, strict=True)
    sgi = ctx.sgi_lanes
    edge, latch, line = _lanes(edge_l, "I"), _lanes(latch_l, "I"), _lanes(line_l, "I")
    if (edge & sgi != sgi or (ctx.rao and _lanes(en, "I") & sgi != sgi)
            or (latch | line) & sgi or _lanes(unk_l, "I") & ~(~edge & latch & ~line)
            or _lanes(stale_l, "I") & ~(~edge & latch & _lanes(act_l, "I"))):
        return False
    prio, src, who = _padded(prio_l, 32), _padded(src_l, 16), _padded(who_l, 16)
    if prio is None or src is None or who is None:
        return False
    active = _lanes(tuple(a & _SGI_BITS for a in act_l), "H")
    return (not prio.translate(None, ctx.bad_prio) and not src.translate(None, ctx.bad_source)
            and not _stray_or_bad(who, active, ctx.cpu_ids))


def _shared_ok(ctx: _Ctx, sh: Any) -> bool:
    n = ctx.num_spis
    raw = (sh.enabled, sh.group, sh.edge, sh.pending_latch, sh.line_level, sh.active,
           sh.pending_split_unknown, sh.latch_maybe_stale)
    prio, targets, who = sh.priority, sh.targets, sh.active_cpu
    if b"\0" in {v[-1:] for v in (*raw, prio, targets, who)}:
        return False
    bitmaps = [int.from_bytes(x, "little") for x in raw]
    if any(b >> n for b in bitmaps):
        return False
    _, _, edge, latch, line, active, unk, stale = bitmaps
    return (len(prio) <= n and len(targets) <= n and len(who) <= n
            and not unk & ~(~edge & latch & ~line)
            and not stale & ~(~edge & latch & active)
            and not prio.translate(None, ctx.bad_prio)
            and not targets.translate(None, ctx.bad_target)
            and not _stray_or_bad(who, active, ctx.cpu_ids))


def _cpus_ok(ctx: _Ctx, cpus: Any) -> bool:
    rows = [(c.ctlr, c.pmr, c.bpr, c.abpr, c.active_group0, c.active_group1,
             c.active_group_unknown) for c in cpus]
    ctlr, pmr, bpr, abpr, g0_l, g1_l, unk_l = zip(*rows, strict=True)
    g0, g1, unk = _padded(g0_l, 16), _padded(g1_l, 16), _padded(unk_l, 16)
    if g0 is None or g1 is None or unk is None:
        return False
    a0, a1, au = (int.from_bytes(x, "little") for x in (g0, g1, unk))
    return (not reduce(or_, ctlr) & ctx.ctlr_reserved
            and max(pmr) <= 0xFF and not reduce(or_, pmr) & ~ctx.prio_mask
            and ctx.min_bpr <= min(bpr) and max(bpr) <= 7
            and ctx.min_bpr + 1 <= min(abpr) and max(abpr) <= 7
            and not (a0 | a1 | au) & ~ctx.apr_lanes[len(rows)] and not au & (a0 | a1))


def _virtual_ok(ctx: _Ctx, virtual: Any) -> bool:
    rows = [(v.hcr, v.vmcr, v.apr, v.lr) for v in virtual]
    hcr, vmcr, apr, lrs = zip(*rows, strict=True)
    if max(map(len, lrs)) > ctx.num_lrs or any(len(x) and not x[-1] for x in lrs):
        return False
    every = [lr for x in lrs for lr in x]
    if any(lr & (ctx.lr_res_hw if lr & ctx.lr_hw_mask else ctx.lr_res_sw) for lr in every):
        return False
    return (not reduce(or_, hcr) & ctx.hcr_reserved and not reduce(or_, vmcr) & ctx.vmcr_reserved
            and min(map(ctx.vmbp.get, vmcr)) >= ctx.min_vmbp
            and min(map(ctx.vmabp.get, vmcr)) >= ctx.min_vmbp + 1
            and not reduce(or_, apr) >> ctx.apr_bits)
