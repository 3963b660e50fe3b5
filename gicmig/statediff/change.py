"""A change of the semantic diff, and how values and register references are shown."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from gicmig.arch.registers import (
    LR_STATES,
    Field,
    Register,
)

ABSENT = "absent"
PRESENT = "present"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: a stable `path`, the `old` and `new` values as display strings,
    and the register (and bits) that shows it, where one does.

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


def pair(path: str, old: str, new: str, absent: tuple[bool, bool] = (False, False),
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
        return show_bit(value)
    return f"{value:#04x}" if f.name in _HEX_FIELDS else str(value)


def field_value(f: Field, word: int) -> str:
    """Field `f` of register word `word`, displayed as the diff displays it."""
    return _show_field(f, f.get(word))


def field_changes(path: str, regs: tuple[Register, Register], values: tuple[int, int],
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
        where = f"{instance or ra.name} {span(f.shift, f.shift + f.width - 1)}"
        yield from pair(f"{path}.{f.name}", old, new, absent, where)
    resa, resb = va & ra.reserved_mask, vb & rb.reserved_mask
    yield from pair(f"{path}.reserved", f"{resa:#x}", f"{resb:#x}", absent,
                    f"{instance or ra.name} reserved bits")
