"""Data-aware compatibility: can schema revision N hold *this* state without loss?

A schema check says whether revision N can parse every blob; this says whether it can
parse this one without dropping anything. The answer comes from the locked descriptor
set of revision N: every field the state holds (with a non-default value, since proto3
does not write defaults) whose message in revision N has no field of that number is
lost, as is every field the running gicmig itself does not know (read from a newer
revision). Like QEMU's subsection `needed` test, an older revision is written only when
nothing is lost. The codec asks this before writing an older revision and after reading one;
the schema-check tooling (`gicmig compat`) reports the same answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gicmig.core.model import SCHEMA_REVISION, GicState
from gicmig.core.pb import is_repeated
from gicmig.errors import DecodeError, GicmigError
from gicmig.formats.locked import field_numbers


@dataclass(frozen=True)
class LostField:
    path: str  # e.g. "state.enable_grp1_unknown" or "state#9" for an unknown field
    number: int
    value: str  # a short rendering of what would be lost

    def __str__(self) -> str:
        return f"{self.path} (field {self.number}) = {self.value}"


def lost_fields(state: GicState, revision: int) -> list[LostField]:
    """What writing `state` as schema revision `revision` would lose (empty: nothing)."""
    msg = state._pb
    if not _has_unknown(msg):
        if revision == SCHEMA_REVISION:
            return []
        # only the message types that can hold a field `revision` lacks need a look
        if not _holds_added(revision)(msg):
            return []
        added, relevant = _added_since(revision)
        return list(_walk_added(msg, added, relevant, ""))
    return list(_walk(msg, field_numbers(revision), ""))


def _has_unknown(msg: Any) -> bool:
    """Whether `msg` holds fields this gicmig does not know, without walking it: dropping
    them changes the encoded size exactly when there are some."""
    bare = type(msg)()
    bare.CopyFrom(msg)
    bare.DiscardUnknownFields()
    return bool(bare.ByteSize() != msg.ByteSize())


def _walk(msg: Any, known: dict[str, frozenset[int]], path: str) -> Iterator[LostField]:
    from google.protobuf.unknown_fields import UnknownFieldSet

    have = known.get(msg.DESCRIPTOR.full_name, frozenset())
    for f in UnknownFieldSet(msg):  # type: ignore[attr-defined]
        yield LostField(f"{path or '(top)'}#{f.field_number}", f.field_number,
                        "(unknown to this gicmig)")
    for desc, value in msg.ListFields():
        name = f"{path}.{desc.name}" if path else desc.name
        if desc.number not in have:
            yield LostField(name, desc.number, _show(desc, value))
        elif desc.message_type is not None:
            items = value if is_repeated(desc) else [value]
            for i, item in enumerate(items):
                yield from _walk(item, known, f"{name}[{i}]" if is_repeated(desc) else name)


def _show(desc: Any, value: Any) -> str:
    if is_repeated(desc):
        return f"{len(value)} entries"
    if desc.message_type is not None:
        return "(set)"
    if isinstance(value, bytes):
        return value.hex() if len(value) <= 8 else f"{len(value)} bytes"
    return str(value).lower() if isinstance(value, bool) else str(value)


def as_revision(state: GicState, revision: int) -> GicState:
    """A copy of `state` that encodes as schema revision `revision`, or
    `BLOB-REVISION-LOSSY` naming every field that revision lacks."""
    check_revision(state, revision)
    out = state.copy()
    out.schema_revision = revision
    return out


def check_revision(state: GicState, revision: int) -> None:
    """Refuse unless schema revision `revision` holds `state` without loss."""
    if not 1 <= revision <= SCHEMA_REVISION:
        raise GicmigError("SCHEMA-REVISION-UNKNOWN",
                          f"schema revision {revision} is not one of this gicmig's "
                          f"1..{SCHEMA_REVISION}")
    lost = lost_fields(state, revision)
    if lost:
        raise GicmigError("BLOB-REVISION-LOSSY",
                          f"schema revision {revision} cannot hold "
                          + ", ".join(str(x) for x in lost))


@functools.cache
def _added_since(revision: int) -> tuple[dict[str, frozenset[int]], frozenset[str]]:
    """(message -> field numbers added after `revision`, the message types that hold
    such a field somewhere below them): the only places a decode needs to look."""
    from gicmig.core.pb import pb

    known = field_numbers(revision)
    added: dict[str, frozenset[int]] = {}
    children: dict[str, set[str]] = {}
    todo, seen = [pb.Snapshot.DESCRIPTOR], set()
    while todo:
        desc = todo.pop()
        if desc.full_name in seen:
            continue
        seen.add(desc.full_name)
        new = frozenset(f.number for f in desc.fields
                        if f.number not in known.get(desc.full_name, frozenset()))
        if new:
            added[desc.full_name] = new
        subs = [f.message_type for f in desc.fields if f.message_type is not None]
        children[desc.full_name] = {m.full_name for m in subs}
        todo.extend(subs)
    relevant = set(added)
    while True:
        more = {name for name, kids in children.items() if kids & relevant} - relevant
        if not more:
            return added, frozenset(relevant)
        relevant |= more


def _walk_added(msg: Any, added: dict[str, frozenset[int]], relevant: frozenset[str],
                path: str) -> Iterator[LostField]:
    new = added.get(msg.DESCRIPTOR.full_name, frozenset())
    for desc, value in msg.ListFields():
        name = f"{path}.{desc.name}" if path else desc.name
        if desc.number in new:
            yield LostField(name, desc.number, _show(desc, value))
        elif desc.message_type is not None and desc.message_type.full_name in relevant:
            items = value if is_repeated(desc) else [value]
            for i, item in enumerate(items):
                yield from _walk_added(item, added, relevant,
                                       f"{name}[{i}]" if is_repeated(desc) else name)


Probe = Callable[[Any], bool]


@functools.cache
def _holds_added(revision: int) -> Probe:
    """A test, built once per revision from the descriptors, of whether a message holds
    a field added after `revision`: a few attribute reads where the walk that names such
    fields reads every field (every decode of an older blob pays this; few fail it)."""
    from gicmig.core.pb import pb

    added, relevant = _added_since(revision)

    def probe(desc: Any) -> Probe:
        checks: list[Probe] = []
        new = added.get(desc.full_name, frozenset())
        for f in desc.fields:
            name = f.name
            if f.number in new:
                checks.append(_present(f))
            elif f.message_type is not None and f.message_type.full_name in relevant:
                checks.append(_below(name, is_repeated(f), probe(f.message_type)))
        return lambda m: any(c(m) for c in checks)

    return probe(pb.Snapshot.DESCRIPTOR)


def _below(name: str, repeated: bool, sub: Probe) -> Probe:
    if repeated:
        return lambda m: any(sub(x) for x in getattr(m, name))
    return lambda m: bool(m.HasField(name)) and sub(getattr(m, name))


def _present(f: Any) -> Probe:
    """Whether field `f` would be written (what ListFields reports)."""
    name = f.name
    if is_repeated(f):
        return lambda m: len(getattr(m, name)) > 0
    if f.message_type is not None or getattr(f, "has_presence", False):
        return lambda m: bool(m.HasField(name))
    return lambda m: bool(getattr(m, name))  # implicit presence: written unless default


def check_written_revision(msg: Any, revision: int, offset: int) -> None:
    """A blob whose payload uses fields its header's (older) revision lacks was not
    written by that revision: refuse it rather than guess which one is right.
    (Fields unknown to this gicmig are the unknown-field check's business.)"""
    if revision >= SCHEMA_REVISION or not _holds_added(revision)(msg):
        return
    added, relevant = _added_since(revision)
    lost = list(_walk_added(msg, added, relevant, ""))
    if lost:
        raise DecodeError("BLOB-REVISION-MISMATCH",
                          f"the header says schema revision {revision}, but the payload "
                          "holds fields it lacks: " + ", ".join(str(x) for x in lost),
                          offset=offset)
