"""Semantic diff of two GIC states, in the terms engineers use for a GICv2.

`diff(a, b)` lists what changed from `a` to `b`, one `Change` per line of a report:

    config.num_irqs: 288 -> 320
    irq 40-47 (SPI 8-15) enabled: 0 -> 1            [GICD_ISENABLER1 bits 15:8]
    cpu1 irq 27 (PPI 11) pending_latch: 0 -> 1      [GICD_ISPENDR0 bit 27, banked]
    cpu0 gicc.pmr: 0xf0 -> 0x80                     [GICC_PMR bits 7:0]

Order is fixed: config, distributor, SPIs by ID, then per CPU its banked interrupts,
GICC and GICH virtual interface, then hypervisor context, then provenance. Consecutive
interrupts with the same change fold into one line. Values are display strings: hex for
priorities, PMR and register words, `{0,1}` for CPU sets, `unknown` for an UNKNOWN
marker, `absent` for what exists on one side only (a CPU, an interrupt ID, an LR).
Schema revision and file format are not state: a blob and its JSON fixture are equal.

Speed: each bitmap is compared whole (XOR of two ints), each byte vector through one
C-level XOR and a scan of the non-zero bytes, so the cost grows with the number of
changes, not with the number of interrupts.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

from gicmig.arch import labels
from gicmig.arch.bitmaps import nonzero_positions, runs
from gicmig.arch.registers import (
    DIST_BANKS,
    GICC_ABPR,
    GICC_BPR,
    GICC_CTLR,
    GICC_PMR,
    GICD_CTLR,
    GICD_ICFGR_FIELD,
    GICD_IIDR,
    GICD_TYPER,
    GICH_APR,
    GICH_HCR,
    GICH_VMCR,
    GICH_VTR,
    LR_STATES,
    SGI_BANKS,
    Bank,
    Field,
    Register,
    lr_layout,
)
from gicmig.core.model import (
    NUM_PRIVATE,
    NUM_SGIS,
    UNKNOWN_CPU,
    BankedInterrupts,
    CpuInterface,
    GicConfig,
    GicState,
    VcpuContext,
    VirtualInterface,
)

ABSENT = "absent"
PRESENT = "present"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: a stable `path`, the `old` and `new` values as display strings,
    and the register (and bits) that shows it, where one does."""

    path: str
    old: str
    new: str
    register: str | None = None

    def render(self, registers: bool = False) -> str:
        """`path: old -> new`, with ` [register]` appended when asked and known."""
        line = f"{self.path}: {self.old} -> {self.new}"
        if registers and self.register:
            line = f"{line} [{self.register}]"
        return line

    def as_dict(self, registers: bool = False) -> dict[str, str | None]:
        d: dict[str, str | None] = {"path": self.path, "old": self.old, "new": self.new}
        if registers:
            d["register"] = self.register
        return d

    def __str__(self) -> str:
        return self.render()


class _Mask:
    """The `ignore` globs (fnmatch syntax, case-sensitive), matched against a path."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self._re = (re.compile("|".join(fnmatch.translate(p) for p in patterns))
                    if patterns else None)

    @property
    def active(self) -> bool:
        return self._re is not None

    def __call__(self, path: str) -> bool:
        return self._re is not None and self._re.match(path) is not None


def diff(a: GicState, b: GicState, *, ignore: Sequence[str] = ()) -> list[Change]:
    """What changed from `a` to `b`, in report order; empty when they are the same.

    `ignore` holds fnmatch globs over the path (`provenance.*`, `cpu? gicc.pmr`,
    `*irq 42 (SPI 10) *`); a glob that names one interrupt also splits a folded run.

    >>> a = GicState.reset(GicConfig.qemu_virt())
    >>> b = a.copy(); b.cpu[0].pmr = 0x80
    >>> [str(c) for c in diff(a, b)]
    ['cpu0 gicc.pmr: 0x00 -> 0x80']
    """
    if a._pb == b._pb:
        return []
    mask = _Mask(ignore)
    return [c for c in _changes(a, b, mask) if not mask(c.path)]


def _changes(a: GicState, b: GicState, mask: _Mask) -> Iterator[Change]:
    yield from _config(a.config, b.config)
    yield from _distributor(a, b)
    yield from _spis(a, b, mask)
    resets = _Resets(a, b)
    for c in range(max(a.config.num_cpus, b.config.num_cpus)):
        yield from _cpu(a, b, c, mask, resets)
    yield from _hypervisor(a, b)
    yield from _provenance(a, b)


# --- display and register references ------------------------------------------------------
def _bit(value: int) -> str:
    return "1" if value else "0"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _span(lo: int, hi: int) -> str:
    return f"bit {lo}" if lo == hi else f"bits {hi}:{lo}"


def _field_ref(reg: Register, name: str) -> str:
    f = reg.field(name)
    return f"{reg.name} {_span(f.shift, f.shift + f.width - 1)}"


def _pair(path: str, old: str, new: str, absent: tuple[bool, bool] = (False, False),
          register: str | None = None) -> Iterator[Change]:
    """A change when the values differ; `absent` replaces a side that does not exist."""
    if old != new:
        yield Change(path, ABSENT if absent[0] else old, ABSENT if absent[1] else new, register)


# Multi-bit fields engineers read in hex (priorities); the rest print in decimal.
_HEX_FIELDS = frozenset({"priority", "vmprimask"})


def _show_field(f: Field | None, value: int) -> str:
    if f is None:
        return "-"  # the field does not exist in this side's layout (GICH_LR HW=0 vs 1)
    if f.name == "state" and f.width == 2:
        return LR_STATES[value]
    if f.width == 1:
        return _bit(value)
    return f"{value:#04x}" if f.name in _HEX_FIELDS else str(value)


def _fields(path: str, regs: tuple[Register, Register], values: tuple[int, int],
            absent: tuple[bool, bool] = (False, False),
            instance: str | None = None) -> Iterator[Change]:
    """One change per differing field of a register (two layouts for GICH_LR)."""
    va, vb = values
    if va == vb:
        return
    ra, rb = regs
    if absent[0] or absent[1]:  # a stand-in's layout is the present side's
        ra = rb = rb if absent[0] else ra
    names = {f.name: f for f in (*rb.fields, *ra.fields)}
    by_a, by_b = {f.name: f for f in ra.fields}, {f.name: f for f in rb.fields}
    for f in sorted(names.values(), key=lambda f: (f.shift, f.name)):
        fa, fb = by_a.get(f.name), by_b.get(f.name)
        old = _show_field(fa, fa.get(va) if fa else 0)
        new = _show_field(fb, fb.get(vb) if fb else 0)
        where = f"{instance or ra.name} {_span(f.shift, f.shift + f.width - 1)}"
        yield from _pair(f"{path}.{f.name}", old, new, absent, where)
    resa, resb = va & ra.reserved_mask, vb & rb.reserved_mask
    yield from _pair(f"{path}.reserved", f"{resa:#x}", f"{resb:#x}", absent,
                     f"{instance or ra.name} reserved bits")


# --- parameters, distributor, provenance ---------------------------------------------------
def _config(ca: GicConfig, cb: GicConfig) -> Iterator[Change]:
    yield from _pair("config.revision", ca.revision, cb.revision)
    yield from _pair("config.num_cpus", str(ca.num_cpus), str(cb.num_cpus),
                     register=_field_ref(GICD_TYPER, "cpu_number"))
    yield from _pair("config.num_irqs", str(ca.num_irqs), str(cb.num_irqs),
                     register=_field_ref(GICD_TYPER, "it_lines_number"))
    yield from _pair("config.priority_bits", str(ca.priority_bits), str(cb.priority_bits))
    yield from _pair("config.min_bpr", str(ca.min_bpr), str(cb.min_bpr))
    for name in ("sgi_enables_rao_wi", "ppi_trigger_programmable"):
        yield from _pair(f"config.{name}", _bool(getattr(ca, name)), _bool(getattr(cb, name)))
    yield from _pair("config.security_extensions", _bool(ca.security_extensions),
                     _bool(cb.security_extensions),
                     register=_field_ref(GICD_TYPER, "security_extn"))
    va, vb = ca.virtualization, cb.virtualization
    if va is None and vb is None:
        return
    yield from _pair("config.virtualization", ABSENT if va is None else PRESENT,
                     ABSENT if vb is None else PRESENT)
    for name, field in (("num_lrs", "list_regs"), ("priority_bits", "pri_bits"),
                        ("preemption_bits", "pre_bits")):
        old = ABSENT if va is None else str(getattr(va, name))
        new = ABSENT if vb is None else str(getattr(vb, name))
        yield from _pair(f"config.virtualization.{name}", old, new,
                         register=_field_ref(GICH_VTR, field))


def _distributor(a: GicState, b: GicState) -> Iterator[Change]:
    yield from _pair("distributor.enable_grp0", _bit(a.enable_grp0), _bit(b.enable_grp0),
                     register=_field_ref(GICD_CTLR, "enable_grp0"))

    def grp1(st: GicState) -> str:
        return UNKNOWN if st.enable_grp1_unknown else _bit(st.enable_grp1)

    yield from _pair("distributor.enable_grp1", grp1(a), grp1(b),
                     register=_field_ref(GICD_CTLR, "enable_grp1"))


def _provenance(a: GicState, b: GicState) -> Iterator[Change]:
    pa, pb = a.provenance, b.provenance
    for name in ("tool", "tool_version", "source", "vmm", "vmm_version", "gicd_iidr",
                 "host_kernel"):
        va, vb = getattr(pa, name), getattr(pb, name)
        yield from _pair(f"provenance.{name}", _prov(name, va), _prov(name, vb),
                         register=GICD_IIDR.name if name == "gicd_iidr" else None)


def _prov(name: str, value: str | int | None) -> str:
    if name == "gicd_iidr":
        return ABSENT if value is None else f"{value:#010x}"
    if name == "source":
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- interrupts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Side:
    """One side's interrupts of a range (SPIs, or IDs 0-31 of one CPU); element k of
    every bitmap and vector is interrupt `base + k`. `count` elements exist on this
    side; past them the values are reset values standing in for what is absent."""

    count: int
    bits: dict[str, int]
    vecs: dict[str, bytes]


_BITS = ("enabled", "group", "edge", "pending_latch", "line_level", "active")
_ORDER = {name: i for i, name in enumerate((
    "enabled", "group", "edge", "priority", "pending_latch", "line_level", "active",
    "active_cpu", "targets", "sources", "active_source"))}


def _bank_for(state: str) -> Bank:
    return next(b for b in DIST_BANKS if b.state == state)


_REGS: dict[str, Bank] = {
    "enabled": _bank_for("enabled"), "group": _bank_for("group"), "edge": _bank_for("edge"),
    "priority": _bank_for("priority"), "pending_latch": _bank_for("pending"),
    "line_level": _bank_for("pending"), "active": _bank_for("active"),
    "targets": _bank_for("targets"),
    "sources": next(b for b in SGI_BANKS if b.name == "GICD_SPENDSGIR"),
}
_EDGE_BIT = GICD_ICFGR_FIELD.field("int_config")


def _irq_register(attr: str, first: int, last: int) -> str | None:
    bank = _REGS.get(attr)
    if bank is None:
        return None
    r0, p0 = bank.locate(first)
    if first == last:
        lo = p0 + _EDGE_BIT.shift if attr == "edge" else p0
        hi = lo if attr == "edge" else p0 + bank.bits - 1
        where = f"{r0} bit {lo}" if lo == hi else f"{r0} bits {hi}:{lo}"
    else:
        r1, p1 = bank.locate(last)
        hi = p1 + bank.bits - 1
        where = f"{r0} {_span(p0, hi)}" if r0 == r1 else f"{r0} bit {p0} .. {r1} bit {hi}"
    return f"{where}, banked" if first < NUM_PRIVATE else where


def _changed_bytes(va: bytes, vb: bytes, n: int) -> list[int]:
    """Indices where two byte vectors differ: one XOR, then a C-level scan."""
    x = int.from_bytes(va, "little") ^ int.from_bytes(vb, "little")
    if not x:
        return []
    return nonzero_positions(x.to_bytes(n, "little"))


class _Section:
    """The changes of one interrupt range, before folding into lines."""

    def __init__(self, a: _Side, b: _Side, base: int, cpu: int | None,
                 splits: tuple[int, ...]) -> None:
        self.a, self.b, self.base, self.cpu = a, b, base, cpu
        n = max(a.count, b.count)
        cuts = sorted({0, n, min(a.count, b.count), *(s for s in splits if s < n)})
        self.segments = [(lo, hi, ((1 << hi) - 1) ^ ((1 << lo) - 1))
                         for lo, hi in pairwise(cuts)]
        self.cuts = frozenset(cuts)
        self.n = n
        # (first, attribute order, last, attribute, old, new)
        self.found: list[tuple[int, int, int, str, str, str]] = []

    def absent(self, k: int) -> tuple[bool, bool]:
        return k >= self.a.count, k >= self.b.count

    def classes(self, attr: str) -> None:
        """A bitmap attribute: values 0/1, or `unknown` where the latch/line split is."""
        full = (1 << self.n) - 1
        ca, cb = (_classes(s, attr, full) for s in (self.a, self.b))
        order = _ORDER[attr]
        for da, ma in ca:
            for db, mb in cb:
                m = ma & mb
                if da == db or not m:
                    continue
                for lo, _, seg in self.segments:
                    oa, ob = self.absent(lo)
                    for first, last in runs(m & seg):
                        self.found.append((first, order, last, attr, ABSENT if oa else da,
                                           ABSENT if ob else db))

    def vector(self, attr: str, show: Callable[[_Side, int], str], extra: int = 0) -> None:
        """A byte-vector attribute; `extra` adds elements that changed elsewhere (active)."""
        idx = _changed_bytes(self.a.vecs[attr], self.b.vecs[attr], self.n)
        if extra:
            idx = sorted({*idx, *(k for f, la in runs(extra) for k in range(f, la + 1))})
        a, b, order, found, cuts = self.a, self.b, _ORDER[attr], self.found, self.cuts
        first = last = -2
        cur: tuple[str, str] | None = None
        for k in idx:
            old = ABSENT if k >= a.count else show(a, k)
            new = ABSENT if k >= b.count else show(b, k)
            if old == new:
                continue
            if k == last + 1 and (old, new) == cur and k not in cuts:
                last = k
                continue
            if cur is not None:
                found.append((first, order, last, attr, *cur))
            first, last, cur = k, k, (old, new)
        if cur is not None:
            found.append((first, order, last, attr, *cur))

    def existence(self) -> None:
        """One line per range of IDs that exist on one side only (SPIs)."""
        for lo, hi, _ in self.segments:
            oa, ob = self.absent(lo)
            if oa != ob:
                self.found.append((lo, -1, hi - 1, "", ABSENT if oa else PRESENT,
                                   ABSENT if ob else PRESENT))

    def changes(self, mask: _Mask) -> Iterator[Change]:
        base, cpu = self.base, self.cpu
        for first, _, last, attr, old, new in sorted(self.found):
            spans = (_unmasked(self, first, last, attr, mask) if mask.active and first != last
                     else ((first, last),))
            for f, la in spans:
                ids = labels.irq_range(base + f, base + la, cpu)
                path = f"{ids} {attr}" if attr else ids
                yield Change(path, old, new, _irq_register(attr, base + f, base + la))


def _unmasked(sec: _Section, first: int, last: int, attr: str,
              mask: _Mask) -> Iterator[tuple[int, int]]:
    """The sub-runs of a folded run that no ignore glob names one by one."""
    if not mask.active or first == last:
        yield first, last
        return
    keep = 0
    for k in range(first, last + 1):
        ids = labels.irq(sec.base + k, sec.cpu)
        if not mask(f"{ids} {attr}" if attr else ids):
            keep |= 1 << k
    yield from runs(keep)


def _classes(side: _Side, attr: str, full: int) -> list[tuple[str, int]]:
    v = side.bits[attr]
    if attr in ("pending_latch", "line_level"):
        u = side.bits["pending_split_unknown"]
        return [(UNKNOWN, u), ("0", full & ~v & ~u), ("1", v & ~u)]
    return [("0", full & ~v), ("1", v)]


def _show_prio(side: _Side, k: int) -> str:
    return f"{side.vecs['priority'][k]:#04x}"


def _show_cpus(attr: str) -> Callable[[_Side, int], str]:
    return lambda side, k: labels.cpus(side.vecs[attr][k])


def _show_who(attr: str) -> Callable[[_Side, int], str]:
    def show(side: _Side, k: int) -> str:
        who = side.vecs[attr][k]
        if not side.bits["active"] >> k & 1 and not who:
            return "none"
        return UNKNOWN if who == UNKNOWN_CPU else str(who)
    return show


def _spis(a: GicState, b: GicState, mask: _Mask) -> Iterator[Change]:
    na, nb = a.config.num_spis, b.config.num_spis
    if na == nb and a._pb.state.shared == b._pb.state.shared:
        return
    n = max(na, nb)
    sec = _Section(_spi_side(a, n), _spi_side(b, n), NUM_PRIVATE, None, ())
    sec.existence()
    _interrupts(sec, ("active_cpu", "targets"))
    yield from sec.changes(mask)


def _spi_side(st: GicState, n: int) -> _Side:
    sh = st.shared
    bits = {name: getattr(sh, name) for name in (*_BITS, "pending_split_unknown")}
    vecs = {name: getattr(sh, name).ljust(n, b"\0")
            for name in ("priority", "targets", "active_cpu")}
    return _Side(st.config.num_spis, bits, vecs)


def _interrupts(sec: _Section, vectors: tuple[str, ...]) -> None:
    for attr in _BITS:
        sec.classes(attr)
    sec.vector("priority", _show_prio)
    active = sec.a.bits["active"] ^ sec.b.bits["active"]
    for attr in vectors:
        if attr in ("active_cpu", "active_source"):
            limit = (1 << len(sec.a.vecs[attr])) - 1
            sec.vector(attr, _show_who(attr), active & limit)
        else:
            sec.vector(attr, _show_cpus(attr))


def _banked_side(bk: BankedInterrupts, present: bool) -> _Side:
    bits = {name: getattr(bk, name) for name in (*_BITS, "pending_split_unknown")}
    vecs = {"priority": bk.priority, "sources": bk.sgi_sources,
            "active_source": bk.sgi_active_source}
    return _Side(NUM_PRIVATE if present else 0, bits, vecs)


# --- per CPU ------------------------------------------------------------------------------
class _Resets:
    """Reset states of each side's parameters: stand-ins for a CPU, a virtual interface
    or an LR that exists on the other side only (built on first use)."""

    def __init__(self, a: GicState, b: GicState) -> None:
        self._states = (a, b)
        self._reset: dict[int, GicState] = {}

    def of(self, side: int) -> GicState:
        if side not in self._reset:
            self._reset[side] = GicState.reset(self._states[side].config)
        return self._reset[side]


def _cpu(a: GicState, b: GicState, c: int, mask: _Mask, resets: _Resets) -> Iterator[Change]:
    has = (c < a._pb.config.num_cpus, c < b._pb.config.num_cpus)
    absent = (not has[0], not has[1])
    if has[0] != has[1]:
        yield Change(f"cpu{c}", ABSENT if absent[0] else PRESENT, ABSENT if absent[1] else PRESENT)
    # a side without this CPU compares as the other side's reset CPU, shown `absent`
    sa = a if has[0] else resets.of(1)
    sb = b if has[1] else resets.of(0)
    pa, pb = sa._pb.state, sb._pb.state
    if pa.banked[c] != pb.banked[c]:
        sec = _Section(_banked_side(sa.banked[c], has[0]), _banked_side(sb.banked[c], has[1]),
                       0, c, (NUM_SGIS,))
        _interrupts(sec, ("sources", "active_source"))
        yield from sec.changes(mask)
    if pa.cpu[c] != pb.cpu[c]:
        yield from _gicc(c, sa.cpu[c], sb.cpu[c], absent)
    yield from _gich(c, sa, sb, absent, resets)


def _gicc(c: int, ia: CpuInterface, ib: CpuInterface,
          absent: tuple[bool, bool]) -> Iterator[Change]:
    yield from _fields(labels.cpu_reg(c, "gicc.ctlr"), (GICC_CTLR, GICC_CTLR),
                       (ia.ctlr, ib.ctlr), absent)
    yield from _pair(labels.cpu_reg(c, "gicc.pmr"), f"{ia.pmr:#04x}", f"{ib.pmr:#04x}", absent,
                     _field_ref(GICC_PMR, "priority"))
    yield from _pair(labels.cpu_reg(c, "gicc.bpr"), str(ia.bpr), str(ib.bpr), absent,
                     _field_ref(GICC_BPR, "binary_point"))
    yield from _pair(labels.cpu_reg(c, "gicc.abpr"), str(ia.abpr), str(ib.abpr), absent,
                     _field_ref(GICC_ABPR, "binary_point"))
    ga = (ia.active_group0, ia.active_group1, ia.active_group_unknown)
    gb = (ib.active_group0, ib.active_group1, ib.active_group_unknown)
    changed = (ga[0] ^ gb[0]) | (ga[1] ^ gb[1]) | (ga[2] ^ gb[2])
    for first, last in runs(changed):
        for level in range(first, last + 1):
            path = labels.cpu_reg(c, f"gicc.active_priority {2 * level:#04x}")
            yield from _pair(path, _level(ga, level), _level(gb, level), absent)


def _level(groups: tuple[int, int, int], level: int) -> str:
    """Which group an active priority level belongs to (`inactive` when none)."""
    names = [n for n, m in zip(("group0", "group1", UNKNOWN), groups, strict=True)
             if m >> level & 1]
    return "+".join(names) or "inactive"


def _gich(c: int, a: GicState, b: GicState, absent: tuple[bool, bool],
          resets: _Resets) -> Iterator[Change]:
    ma, mb = a._pb.state.virtual, b._pb.state.virtual
    has = (bool(ma) and not absent[0], bool(mb) and not absent[1])
    if not (has[0] or has[1]) or (has[0] and has[1] and ma[c] == mb[c]):
        return
    if has[0] != has[1] and not absent[0] and not absent[1]:
        yield Change(labels.cpu_reg(c, "gich"), PRESENT if has[0] else ABSENT,
                     PRESENT if has[1] else ABSENT)
    # a side without this virtual interface compares as the other side's reset one
    ia = a.virtual[c] if has[0] else resets.of(1).virtual[c]
    ib = b.virtual[c] if has[1] else resets.of(0).virtual[c]
    gone = (not has[0], not has[1])
    yield from _fields(labels.cpu_reg(c, "gich.hcr"), (GICH_HCR, GICH_HCR), (ia.hcr, ib.hcr), gone)
    yield from _fields(labels.cpu_reg(c, "gich.vmcr"), (GICH_VMCR, GICH_VMCR),
                       (ia.vmcr, ib.vmcr), gone)
    yield from _pair(labels.cpu_reg(c, "gich.apr"), f"{ia.apr:#010x}", f"{ib.apr:#010x}", gone,
                     GICH_APR.name)
    yield from _lrs(c, ia, ib, gone)


def _lrs(c: int, ia: VirtualInterface, ib: VirtualInterface,
         gone: tuple[bool, bool]) -> Iterator[Change]:
    la, lb = ia.lr, ib.lr
    for n in range(max(len(la), len(lb))):
        va = la[n] if n < len(la) else 0
        vb = lb[n] if n < len(lb) else 0
        absent = (gone[0] or n >= len(la), gone[1] or n >= len(lb))
        yield from _fields(labels.cpu_reg(c, f"gich.lr{n}"), (lr_layout(va), lr_layout(vb)),
                           (va, vb), absent, f"GICH_LR{n}")


# --- hypervisor context ---------------------------------------------------------------------
def _hypervisor(a: GicState, b: GicState) -> Iterator[Change]:
    ha, hb = a.hypervisor, b.hypervisor
    if ha is None and hb is None:
        return
    yield from _pair("hypervisor", ABSENT if ha is None else PRESENT,
                     ABSENT if hb is None else PRESENT)
    ca, cb = ha or [], hb or []
    for c in range(max(len(ca), len(cb))):
        xa = ca[c] if c < len(ca) else None
        xb = cb[c] if c < len(cb) else None
        if xa is not None and xb is not None and xa._pb == xb._pb:
            continue
        yield from _vcpu_context(c, xa, xb)


def _vcpu_context(c: int, xa: VcpuContext | None, xb: VcpuContext | None) -> Iterator[Change]:
    absent = (xa is None, xb is None)
    yield from _fields(labels.cpu_reg(c, "hyp.hcr"), (GICH_HCR, GICH_HCR),
                       (xa.hcr if xa else 0, xb.hcr if xb else 0), absent)
    maps_a, maps_b = _hw_maps(xa), _hw_maps(xb)
    for v in sorted(maps_a.keys() | maps_b.keys()):
        path = labels.cpu_reg(c, f"hyp.hw_mapping {labels.irq(v)}")
        yield from _pair(path, maps_a.get(v, "none"), maps_b.get(v, "none"), absent)
    ea = xa.eoi_maintenance if xa else 0
    eb = xb.eoi_maintenance if xb else 0
    flips = sorted([(f, la, "0", "1") for f, la in runs(eb & ~ea)]
                   + [(f, la, "1", "0") for f, la in runs(ea & ~eb)])
    for first, last, old, new in flips:
        for lo, hi in _kind_spans(first, last):
            path = labels.cpu_reg(c, f"hyp.eoi_maintenance {labels.irq_range(lo, hi)}")
            yield from _pair(path, old, new, absent)


def _hw_maps(ctx: VcpuContext | None) -> dict[int, str]:
    maps: dict[int, list[int]] = {}
    for m in ctx.hw_mappings if ctx else ():
        maps.setdefault(m.virtual_id, []).append(m.physical_id)
    return {v: ",".join(str(p) for p in sorted(ps)) for v, ps in maps.items()}


def _kind_spans(first: int, last: int) -> Iterator[tuple[int, int]]:
    """Split an ID range where SGIs end and PPIs end, so each part has one kind."""
    lo = first
    for cut in (NUM_SGIS, NUM_PRIVATE):
        if lo < cut <= last:
            yield lo, cut - 1
            lo = cut
    yield lo, last
