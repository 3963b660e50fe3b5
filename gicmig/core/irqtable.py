"""One immutable interrupt table: every per-interrupt field of a GicState, read out of the
protobuf once, as plain ints (bitmaps) and bytes (byte vectors).

Views read it instead of keeping private copies of the interrupt state: `IrqTable.of(state)`
builds it (`PrivateBank.of` / `SharedBank.of` read one bank, for a reader that needs only
a few, as the diff), a `TableBuilder` makes a changed table (the one mutable thing, clearly
apart), and `IrqTable.write_to(state)` is the one place a table goes back into a GicState.

IDs 0-31 are banked: `private[c]` is what CPU c sees (bit i / byte i = interrupt ID i).
The SPIs are `shared` (bit k / byte k = interrupt ID 32 + k). Field names are the state's
(`gicmig.core.model.BankedInterrupts` / `SharedInterrupts`), so the register banks of
`gicmig.arch.registers` (`Bank.state`) name table fields directly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

from gicmig.arch import bitmaps
from gicmig.arch.ids import NUM_PRIVATE
from gicmig.core.model import BankedInterrupts, GicState, SharedInterrupts


@dataclass(frozen=True, slots=True)
class _Bank:
    """What every interrupt has, one bit (or byte) per ID of the bank."""

    enabled: int
    group: int
    edge: int
    pending_latch: int
    line_level: int
    active: int
    pending_split_unknown: int
    latch_maybe_stale: int
    priority: bytes


@dataclass(frozen=True, slots=True)
class PrivateBank(_Bank):
    """IDs 0-31 as one CPU sees them (priority: 32 bytes)."""

    sgi_sources: bytes  # 16 bytes: byte s = SGI s, bit k = source CPU k
    sgi_active_source: bytes  # 16 bytes: the source CPU of an active SGI

    @classmethod
    def of(cls, bank: BankedInterrupts) -> PrivateBank:
        """One CPU's IDs 0-31 of a state (`state.banked[c]`), read once."""
        return cls(*_PRIVATE_GET(bank))

    @property
    def pending(self) -> int:
        """What GICD_ISPENDR0 shows: an SGI with a source, a latch, a high level line."""
        sgi = bitmaps.nonzero(self.sgi_sources)  # an SGI with any source is pending
        return sgi | self.pending_latch | (self.line_level & ~self.edge)


@dataclass(frozen=True, slots=True)
class SharedBank(_Bank):
    """The SPIs (element k = interrupt ID 32 + k)."""

    targets: bytes
    active_cpu: bytes

    @classmethod
    def of(cls, shared: SharedInterrupts) -> SharedBank:
        """The SPIs of a state (`state.shared`), read once."""
        return cls(*_SHARED_GET(shared))

    @property
    def pending(self) -> int:
        """What GICD_ISPENDRn (n > 0) show: a latch or a high level line."""
        return self.pending_latch | (self.line_level & ~self.edge)


_PRIVATE_FIELDS = tuple(f.name for f in fields(PrivateBank))
_SHARED_FIELDS = tuple(f.name for f in fields(SharedBank))
# every field of a bank (of the table, or of the state's façade) as one tuple, in field order
_PRIVATE_GET, _SHARED_GET = attrgetter(*_PRIVATE_FIELDS), attrgetter(*_SHARED_FIELDS)


@dataclass(frozen=True, slots=True)
class IrqTable:
    private: tuple[PrivateBank, ...]  # one per CPU
    shared: SharedBank

    @classmethod
    def of(cls, state: GicState) -> IrqTable:
        """The table of `state` (read once; later changes to `state` do not show)."""
        return cls(tuple(PrivateBank.of(b) for b in state.banked), SharedBank.of(state.shared))

    def bit(self, name: str, v: int, c: int) -> int:
        """Bit `name` (a bitmap field) of interrupt `v` as CPU `c` sees it."""
        if v < NUM_PRIVATE:
            return int(getattr(self.private[c], name)) >> v & 1
        return int(getattr(self.shared, name)) >> (v - NUM_PRIVATE) & 1

    def group(self, v: int, c: int) -> int:
        return self.bit("group", v, c)

    def edge(self, v: int, c: int) -> int:
        return self.bit("edge", v, c)

    def priority(self, v: int, c: int) -> int:
        return self.private[c].priority[v] if v < NUM_PRIVATE else \
            self.shared.priority[v - NUM_PRIVATE]

    def builder(self) -> TableBuilder:
        return TableBuilder(self)

    def write_to(self, state: GicState, since: IrqTable | None = None) -> None:
        """Store this table's fields in `state` (only those that differ from `since`, the
        table `state` already holds, when given)."""
        banks = state.banked
        for c, bank in enumerate(self.private):
            old = since.private[c] if since else None
            if bank is not old:
                _write(banks[c], _PRIVATE_GET(bank), _PRIVATE_GET(old) if old else None,
                       _PRIVATE_FIELDS)
        old_sh = since.shared if since else None
        if self.shared is not old_sh:
            _write(state.shared, _SHARED_GET(self.shared),
                   _SHARED_GET(old_sh) if old_sh else None, _SHARED_FIELDS)


def _write(target: Any, values: tuple[Any, ...], old: tuple[Any, ...] | None,
           names: tuple[str, ...]) -> None:
    for i, value in enumerate(values):
        if old is None or value != old[i]:
            setattr(target, names[i], value)


class TableBuilder:
    """The mutable side: the fields the converters change, worked on in place, then frozen
    into a new table by `build()` (the table it started from is unchanged)."""

    def __init__(self, table: IrqTable) -> None:
        self.base = table
        p, sh = table.private, table.shared
        self.b_active = [b.active for b in p]
        self.b_latch = [b.pending_latch for b in p]
        self.b_line = [b.line_level for b in p]
        self.srcs = [bytearray(b.sgi_sources) for b in p]
        self.asrc = [bytearray(b.sgi_active_source) for b in p]
        self.s_active, self.s_latch, self.s_line = sh.active, sh.pending_latch, sh.line_level
        self.s_cpu = bytearray(sh.active_cpu)

    def set_line(self, v: int, c: int) -> None:
        if v < NUM_PRIVATE:
            self.b_line[c] |= 1 << v
        else:
            self.s_line |= 1 << (v - NUM_PRIVATE)

    def clear_latch(self, v: int, c: int) -> None:
        if v < NUM_PRIVATE:
            self.b_latch[c] &= ~(1 << v)
        else:
            self.s_latch &= ~(1 << (v - NUM_PRIVATE))

    def build(self) -> IrqTable:
        """The table with this builder's changes (a bank without any is the base's own)."""
        base = self.base
        private = []
        for c, b in enumerate(base.private):
            now = (self.b_active[c], self.b_latch[c], self.b_line[c], bytes(self.srcs[c]),
                   bytes(self.asrc[c]))
            if now == (b.active, b.pending_latch, b.line_level, b.sgi_sources,
                       b.sgi_active_source):
                private.append(b)
                continue
            private.append(PrivateBank(b.enabled, b.group, b.edge, now[1], now[2], now[0],
                                       b.pending_split_unknown, b.latch_maybe_stale,
                                       b.priority, now[3], now[4]))
        sh = base.shared
        cpu = bytes(self.s_cpu)
        if (self.s_active, self.s_latch, self.s_line, cpu) != (
                sh.active, sh.pending_latch, sh.line_level, sh.active_cpu):
            sh = SharedBank(sh.enabled, sh.group, sh.edge, self.s_latch, self.s_line,
                            self.s_active, sh.pending_split_unknown, sh.latch_maybe_stale,
                            sh.priority, sh.targets, cpu)
        return IrqTable(tuple(private), sh)


__all__ = ["IrqTable", "PrivateBank", "SharedBank", "TableBuilder"]
