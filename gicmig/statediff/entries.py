"""The structural form of the semantic diff: one typed entry per fact, and the
`gicmig/diff` JSON document (docs/json-output.md, schema gicmig/schemas/diff.v1.json).

The text report folds runs of interrupts that changed alike into one line; here every
interrupt ID is its own entry, addressed by CPU (IDs 0-31), ID and field, so an entry
does not change when a neighbouring interrupt does. Values are typed (bools for one
bit, ints, CPU lists, enum names of the schema as strings); a value that does not
exist on one side, or that the source did not record, is null with `old_missing` /
`new_missing` saying which.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gicmig.statediff.change import Change, Missing, RegRef, Value
from gicmig.statediff.interrupts import irq_reg_ref

FORMAT = "gicmig/diff"
VERSION = 1


@dataclass(frozen=True, slots=True)
class Entry:
    """One fact that differs: where (`kind`, `field`, and the CPU, interrupt ID, LR
    number or group priority that address it), the typed `old` and `new` values, and the
    register word that shows it (None where no register does)."""

    kind: str
    field: str
    old: Value
    new: Value
    cpu: int | None = None
    intid: int | None = None
    lr: int | None = None
    priority: int | None = None
    register: RegRef | None = None

    def as_dict(self) -> dict[str, Any]:
        """The entry as the JSON document has it (a fixed set of keys, null where unused)."""
        reg = self.register
        return {
            "kind": self.kind, "cpu": self.cpu, "intid": self.intid, "lr": self.lr,
            "priority": self.priority, "field": self.field,
            "old": _json(self.old), "new": _json(self.new),
            "old_missing": _missing(self.old), "new_missing": _missing(self.new),
            "register": None if reg is None else {
                "name": reg.name, "frame": reg.frame, "offset": reg.offset, "bit": reg.bit,
                "mask": reg.mask},
        }


def _json(v: Value) -> bool | int | str | list[int] | None:
    if isinstance(v, Missing):
        return None
    if isinstance(v, tuple):
        return list(v)
    return v


def _missing(v: Value) -> str | None:
    return v.value if isinstance(v, Missing) else None


def entries_of(change: Change) -> Iterator[Entry]:
    """The facts of one change: one per interrupt ID of a folded run, else one."""
    at, values = change.at, change.values
    if at is None or values is None:  # not built by the diff (no structural form)
        return
    old, new = values
    if at.ids is None:
        yield Entry(at.kind, at.field, old, new, at.cpu, None, at.lr, at.priority, at.reg)
        return
    first, last = at.ids
    for intid in range(first, last + 1):
        reg = irq_reg_ref(at.bank, intid) if at.bank else at.reg
        yield Entry(at.kind, at.field, old, new, at.cpu, intid, at.lr, at.priority, reg)


class Diff(list[Change]):
    """The result of `diff()`: the changes in report order (a list of `Change`, one text
    line each), with their structural form."""

    def entries(self) -> list[Entry]:
        """One typed entry per fact, in report order."""
        return [e for c in self for e in entries_of(c)]

    def document(self, **inputs: str) -> dict[str, Any]:
        """The `gicmig/diff` JSON document (version 1); `inputs` names A and B
        (`old=`, `new=`) where known."""
        entries = [e.as_dict() for e in self.entries()]
        return {"format": FORMAT, "version": VERSION, "ok": not self, "exit": 1 if self else 0,
                "same": not self, "inputs": {"old": inputs.get("old"), "new": inputs.get("new")},
                "count": len(entries), "changes": entries}


def dumps(doc: dict[str, Any]) -> str:
    """The document as text: one change per line (greppable, diffable), ending in a newline."""
    import json

    changes = doc["changes"]
    head = json.dumps({k: v for k, v in doc.items() if k != "changes"})
    if not changes:
        return head[:-1] + ', "changes": []}\n'
    body = ",\n".join("  " + json.dumps(c) for c in changes)
    return f'{head[:-1]}, "changes": [\n{body}\n]}}\n'
