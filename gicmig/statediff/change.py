"""A change of the semantic diff, and how values and register references are shown.

A `Change` is one line of the text report (display strings, interrupt runs folded); its
`at` and `values` carry the same change structurally, with typed values, from which
`gicmig.statediff.entries` expands one entry per fact for the JSON document.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from gicmig.arch import bitmaps
from gicmig.arch.registers import (
    LR_STATES,
    Field,
    Register,
)

ABSENT = "absent"
PRESENT = "present"
UNKNOWN = "unknown"


class Missing(Enum):
    """Why a side has no value: the thing does not exist there, or the source did not
    record it (an UNKNOWN marker)."""

    ABSENT = ABSENT
    UNKNOWN = UNKNOWN


# A typed value: bool for one bit, int for numbers and fields, str for an enum name of
# the schema (revision, provenance source) or a provenance string, a tuple of CPU numbers
# for a CPU set, None for "none" (not active, not mapped), Missing where there is no value.
Value = bool | int | str | tuple[int, ...] | None | Missing


@dataclass(frozen=True, slots=True)
class RegRef:
    """The register word that shows a fact: instance name, byte offset in its frame, and
    the mask of the bits that hold it."""

    name: str
    offset: int
    mask: int

    @property
    def frame(self) -> str:
        return self.name.partition("_")[0]

    @property
    def bit(self) -> int:
        return bitmaps.lowest(self.mask)


class At(NamedTuple):
    """Where a change is, structurally: `kind` (config, distributor, interrupt, cpu, gicc,
    gich, hypervisor, hyp, provenance), the `field`, the CPU where the fact is per CPU,
    interrupt IDs `ids` (first, last: one fact per ID), the LR number, the group priority
    of an active-priority level, and the register (`reg`, or `bank`: the attribute whose
    distributor bank locates each ID's register). A plain tuple of these eight values is
    as good (the diff's hot paths build those: a tuple costs far less than a class)."""

    kind: str
    field: str
    cpu: int | None = None
    ids: tuple[int, int] | None = None
    lr: int | None = None
    priority: int | None = None
    reg: RegRef | None = None
    bank: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: a stable `path`, the `old` and `new` values as display strings,
    and the register (and bits) that shows it, where one does. `at` and `values` hold
    the same change structurally (not compared: two changes are equal by what they say).

    >>> a = gicmig.GicState.reset(gicmig.GicConfig.qemu_virt(num_cpus=2))
    >>> b = a.copy()
    >>> b.cpu[1].pmr = 0x80
    >>> gicmig.diff(a, b)[0].render(registers=True)
    'cpu1 gicc.pmr: 0x00 -> 0x80 [GICC_PMR bits 7:0]'
    """

    path: str
    old: str
    new: str
    register: str | None = None
    where: At | tuple[Any, ...] | None = field(default=None, compare=False, repr=False)
    values: tuple[Value, Value] | None = field(default=None, compare=False, repr=False)

    @property
    def at(self) -> At | None:
        """Where the change is, structurally (None for a change the diff did not build)."""
        w = self.where
        return w if w is None or isinstance(w, At) else At._make(w)

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


class IgnoreMask:
    """The `ignore` globs (fnmatch syntax, case-sensitive), matched against a path."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self._re = (re.compile("|".join(fnmatch.translate(p) for p in patterns))
                    if patterns else None)

    @property
    def active(self) -> bool:
        return self._re is not None

    def __call__(self, path: str) -> bool:
        return self._re is not None and self._re.match(path) is not None


# --- display and register references ------------------------------------------------------
def show_bit(value: int) -> str:
    return "1" if value else "0"


def show_bool(value: bool) -> str:
    return "true" if value else "false"


def span(lo: int, hi: int) -> str:
    return f"bit {lo}" if lo == hi else f"bits {hi}:{lo}"


def field_ref(reg: Register, name: str, instance: str | None = None) -> str:
    """`GICC_CTLR bit 0`, `GICH_LR2 bits 9:0` (`instance` names the register instance)."""
    f = reg.field(name)
    return f"{instance or reg.name} {span(f.shift, f.shift + f.width - 1)}"


def reg_ref(reg: Register, name: str | None = None, instance: str | None = None,
            offset: int | None = None) -> RegRef:
    """Register `reg` (field `name`, or the whole word), instance `instance` at `offset`."""
    mask = reg.field(name).mask if name else 0xFFFF_FFFF
    return RegRef(instance or reg.name, reg.offset if offset is None else offset, mask)


def pair(path: str, old: str, new: str, absent: tuple[bool, bool] = (False, False),
         register: str | None = None, at: At | tuple[Any, ...] | None = None,
         values: tuple[Value, Value] | None = None) -> Iterator[Change]:
    """A change when the values differ; `absent` replaces a side that does not exist."""
    if old != new:
        if values is not None and (absent[0] or absent[1]):
            values = (Missing.ABSENT if absent[0] else values[0],
                      Missing.ABSENT if absent[1] else values[1])
        yield Change(path, ABSENT if absent[0] else old, ABSENT if absent[1] else new, register,
                     at, values)


# Multi-bit fields engineers read in hex (priorities); the rest print in decimal.
_HEX_FIELDS = frozenset({"priority", "vmprimask"})


def _show_field(f: Field | None, value: int) -> str:
    if f is None:
        return "-"  # the field does not exist in this side's layout (GICH_LR HW=0 vs 1)
    if f.name == "state" and f.width == 2:
        return LR_STATES[value]
    if f.width == 1:
        return show_bit(value)
    return f"{value:#04x}" if f.name in _HEX_FIELDS else str(value)


def field_value(f: Field, word: int) -> str:
    """Field `f` of register word `word`, displayed as the diff displays it."""
    return _show_field(f, f.get(word))


def _typed_field(f: Field | None, value: int) -> Value:
    if f is None:
        return Missing.ABSENT  # the field does not exist in this side's layout
    return bool(value) if f.width == 1 else value


def field_changes(path: str, regs: tuple[Register, Register], values: tuple[int, int],
                  absent: tuple[bool, bool] = (False, False),
                  instance: str | None = None, at: At | None = None,
                  offset: int | None = None) -> Iterator[Change]:
    """One change per differing field of a register (two layouts for GICH_LR); `at`
    addresses the register (its `field` is the prefix of the fields' names), `offset`
    is the instance's byte offset (default: the register's)."""
    va, vb = values
    if va == vb:
        return
    ra, rb = regs
    if absent[0] or absent[1]:  # a stand-in's layout is the present side's
        ra = rb = rb if absent[0] else ra
    names = {f.name: f for f in (*rb.fields, *ra.fields)}
    by_a, by_b = {f.name: f for f in ra.fields}, {f.name: f for f in rb.fields}
    name = instance or ra.name
    where_at = ra.offset if offset is None else offset
    for f in sorted(names.values(), key=lambda f: (f.shift, f.name)):
        fa, fb = by_a.get(f.name), by_b.get(f.name)
        old = _show_field(fa, fa.get(va) if fa else 0)
        new = _show_field(fb, fb.get(vb) if fb else 0)
        if old == new:
            continue
        where = f"{name} {span(f.shift, f.shift + f.width - 1)}"
        fat = None if at is None else _field_at(at, f.name, RegRef(name, where_at, f.mask))
        typed = (_typed_field(fa, fa.get(va) if fa else 0),
                 _typed_field(fb, fb.get(vb) if fb else 0))
        yield from pair(f"{path}.{f.name}", old, new, absent, where, fat, typed)
    resa, resb = va & ra.reserved_mask, vb & rb.reserved_mask
    if resa != resb:
        rat = None if at is None else _field_at(at, "reserved",
                                                RegRef(name, where_at, ra.reserved_mask))
        yield from pair(f"{path}.reserved", f"{resa:#x}", f"{resb:#x}", absent,
                        f"{name} reserved bits", rat, (resa, resb))


def _field_at(at: At, name: str, reg: RegRef) -> At:
    """`at` (a register) narrowed to its field `name`."""
    return At(at.kind, f"{at.field}.{name}", at.cpu, at.ids, at.lr, at.priority, reg)
