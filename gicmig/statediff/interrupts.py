"""The interrupts part of the semantic diff: each attribute per ID and CPU, folded into
runs of IDs that changed alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise

from gicmig.arch import labels
from gicmig.arch.bitmaps import nonzero_positions, runs, set_bits
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import (
    DIST_BANKS,
    GICD_ICFGR_FIELD,
    SGI_BANKS,
    Bank,
)
from gicmig.core.irqtable import PrivateBank, SharedBank
from gicmig.core.model import UNKNOWN_CPU, BankedInterrupts, GicState
from gicmig.statediff.change import (
    ABSENT,
    PRESENT,
    Change,
    IgnoreMask,
    Missing,
    RegRef,
    Value,
    span,
)

# --- interrupts ---------------------------------------------------------------------------
# Each side of a range is a bank of core's interrupt table (`gicmig.core.irqtable`): the SPIs
# (`SharedBank`) or IDs 0-31 of one CPU (`PrivateBank`), read only for the banks that differ;
# element k of every bitmap and vector is interrupt `base + k`. Past a side's element count
# nothing exists (a CPU or SPIs on one side only); a missing CPU's bank is the other side's
# reset CPU, standing in for what is absent.
Row = PrivateBank | SharedBank

_BITS = ("enabled", "group", "edge", "pending_latch", "line_level", "active",
         "latch_maybe_stale")  # schema revision 3: the latch may be KVM's stale one
# the diff's names of the byte vectors that the table names otherwise
_FIELD = {"sources": "sgi_sources", "active_source": "sgi_active_source"}
_ORDER = {name: i for i, name in enumerate((
    "enabled", "group", "edge", "priority", "pending_latch", "line_level", "active",
    "latch_maybe_stale",
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
        where = f"{r0} {span(p0, hi)}" if r0 == r1 else f"{r0} bit {p0} .. {r1} bit {hi}"
    return f"{where}, banked" if first < NUM_PRIVATE else where


def irq_reg_ref(attr: str, intid: int) -> RegRef | None:
    """The register word, offset and bits that show `attr` of interrupt `intid`."""
    bank = _REGS.get(attr)
    if bank is None:
        return None
    name, pos = bank.locate(intid)
    width = 1 if attr == "edge" else bank.bits
    lo = pos + _EDGE_BIT.shift if attr == "edge" else pos
    offset = bank.offset + 4 * (intid // bank.per_word)
    return RegRef(name, offset, ((1 << width) - 1) << lo)


def irq_register(attr: str, intid: int) -> str | None:
    """The register and bit(s) that show `attr` of interrupt `intid`, as `--registers`
    names them (`GICD_ISENABLER1 bit 8`), or None where no register shows it."""
    return _irq_register(attr, intid, intid)


def _changed_bytes(va: bytes, vb: bytes, n: int) -> list[int]:
    """Indices where two byte vectors differ: one XOR, then a C-level scan."""
    x = int.from_bytes(va, "little") ^ int.from_bytes(vb, "little")
    if not x:
        return []
    return nonzero_positions(x.to_bytes(n, "little"))


class Section:
    """The changes of one interrupt range, before folding into lines."""

    def __init__(self, a: Row, b: Row, counts: tuple[int, int], base: int, cpu: int | None,
                 splits: tuple[int, ...]) -> None:
        self.a, self.b, self.base, self.cpu = a, b, base, cpu
        self.count_a, self.count_b = counts
        n = max(counts)
        cuts = sorted({0, n, min(counts), *(s for s in splits if s < n)})
        self.segments = [(lo, hi, ((1 << hi) - 1) ^ ((1 << lo) - 1))
                         for lo, hi in pairwise(cuts)]
        self.cuts = frozenset(cuts)
        self.n = n
        # (first, attribute order, last, attribute, old, new): typed values
        self.found: list[tuple[int, int, int, str, Value, Value]] = []

    def absent(self, k: int) -> tuple[bool, bool]:
        return k >= self.count_a, k >= self.count_b

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
                        self.found.append((first, order, last, attr,
                                           Missing.ABSENT if oa else da,
                                           Missing.ABSENT if ob else db))

    def vector(self, attr: str, show: Callable[[Row, int], Value], extra: int = 0) -> None:
        """A byte-vector attribute; `extra` adds elements that changed elsewhere (active)."""
        name = _FIELD.get(attr, attr)
        idx = _changed_bytes(getattr(self.a, name), getattr(self.b, name), self.n)
        if extra:
            idx = sorted({*idx, *(k for f, la in runs(extra) for k in range(f, la + 1))})
        a, b, order, found, cuts = self.a, self.b, _ORDER[attr], self.found, self.cuts
        na, nb = self.count_a, self.count_b
        first = last = -2
        cur: tuple[Value, Value] | None = None
        for k in idx:
            old = Missing.ABSENT if k >= na else show(a, k)
            new = Missing.ABSENT if k >= nb else show(b, k)
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
                self.found.append((lo, -1, hi - 1, "", not oa, not ob))

    def changes(self, mask: IgnoreMask) -> Iterator[Change]:
        base, cpu = self.base, self.cpu  # cpu is None for SPIs
        # (first, order, last) is unique in `found`, so the values are never compared
        for first, _, last, attr, old, new in sorted(self.found):
            spans = (_unmasked(self, first, last, attr, mask) if mask.active and first != last
                     else ((first, last),))
            text = _TEXT.get(attr, _BIT_TEXT)
            for f, la in spans:
                ids = labels.irq_range(base + f, base + la, cpu)
                path = f"{ids} {attr}" if attr else ids
                where = ("interrupt", attr or "present", cpu, (base + f, base + la), None, None,
                         None, attr or None)  # an At, as a plain tuple (see At)
                yield Change(path, text[old], text[new], _irq_register(attr, base + f, base + la),
                             where, (old, new))


# How each attribute's typed values read in the text form (tables: one lookup per value).
_MISSING_TEXT: dict[Value, str] = {m: m.value for m in Missing}
_BIT_TEXT: dict[Value, str] = {False: "0", True: "1", **_MISSING_TEXT}
_CPU_SETS: tuple[tuple[int, ...], ...] = tuple(tuple(set_bits(m)) for m in range(256))
_CPU_SET_TEXT: dict[Value, str] = {**{_CPU_SETS[m]: labels.cpus(m) for m in range(256)},
                                   **_MISSING_TEXT}
_WHO_TEXT: dict[Value, str] = {None: "none", **{n: str(n) for n in range(256)},
                               **_MISSING_TEXT}
_TEXT: dict[str, dict[Value, str]] = {
    "": {True: PRESENT, False: ABSENT},
    "priority": {**{p: f"{p:#04x}" for p in range(256)}, **_MISSING_TEXT},
    "targets": _CPU_SET_TEXT, "sources": _CPU_SET_TEXT,
    "active_cpu": _WHO_TEXT, "active_source": _WHO_TEXT,
}


def _unmasked(sec: Section, first: int, last: int, attr: str,
              mask: IgnoreMask) -> Iterator[tuple[int, int]]:
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


def _classes(side: Row, attr: str, full: int) -> list[tuple[Value, int]]:
    v = getattr(side, attr)
    if attr in ("pending_latch", "line_level"):
        u = side.pending_split_unknown
        return [(Missing.UNKNOWN, u), (False, full & ~v & ~u), (True, v & ~u)]
    return [(False, full & ~v), (True, v)]


def _prio(side: Row, k: int) -> Value:
    return side.priority[k]


def _cpus(attr: str) -> Callable[[Row, int], Value]:
    name = _FIELD.get(attr, attr)
    return lambda side, k: _CPU_SETS[getattr(side, name)[k]]


def _who(attr: str) -> Callable[[Row, int], Value]:
    name = _FIELD.get(attr, attr)

    def typed(side: Row, k: int) -> Value:
        who = getattr(side, name)[k]
        if not side.active >> k & 1 and not who:
            return None
        return Missing.UNKNOWN if who == UNKNOWN_CPU else who
    return typed


def spi_changes(a: GicState, b: GicState, mask: IgnoreMask) -> Iterator[Change]:
    na, nb = a.config.num_spis, b.config.num_spis
    if na == nb and a._pb.state.shared == b._pb.state.shared:
        return
    sec = Section(SharedBank.of(a.shared), SharedBank.of(b.shared), (na, nb), NUM_PRIVATE,
                  None, ())
    sec.existence()
    interrupt_changes(sec, ("active_cpu", "targets"))
    yield from sec.changes(mask)


def banked_changes(a: BankedInterrupts, b: BankedInterrupts, c: int, has: tuple[bool, bool],
                   mask: IgnoreMask) -> Iterator[Change]:
    """IDs 0-31 of CPU `c`; a side without the CPU (`has`) holds the other's reset bank."""
    sec = Section(PrivateBank.of(a), PrivateBank.of(b),
                  (NUM_PRIVATE if has[0] else 0, NUM_PRIVATE if has[1] else 0), 0, c,
                  (NUM_SGIS,))
    interrupt_changes(sec, ("sources", "active_source"))
    yield from sec.changes(mask)


def interrupt_changes(sec: Section, vectors: tuple[str, ...]) -> None:
    for attr in _BITS:
        sec.classes(attr)
    sec.vector("priority", _prio)
    active = sec.a.active ^ sec.b.active
    for attr in vectors:
        if attr in ("active_cpu", "active_source"):
            limit = (1 << sec.n if attr == "active_cpu" else 1 << NUM_SGIS) - 1
            sec.vector(attr, _who(attr), active & limit)
        else:
            sec.vector(attr, _cpus(attr))
