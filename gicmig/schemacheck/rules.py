"""buf's WIRE_JSON breaking-change category, rule for rule, over two descriptor sets.

Elements are paired the way buf pairs them: messages, enums and services by full name,
fields by number within their message, extensions by (extendee, number), enum values by
number, RPCs by name within their service, files by path. An element that exists only
in the previous schema is not itself a WIRE_JSON finding (deleting a whole message is a
FILE-category rule), but fields and enum values deleted from a surviving message or enum
are. Each finding names the rule, a place in the current schema (line/column from the
descriptor set's source info) and the element of the previous schema it concerns, which
is what a waiver matches on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gicmig.schemacheck import descriptors as d
from gicmig.schemacheck.descriptors import Enum, Field, Index, Location, Message, Method

WIRE_JSON_RULES = (
    "ENUM_SAME_JSON_FORMAT",
    "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
    "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "ENUM_VALUE_SAME_NAME",
    "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
    "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "FIELD_SAME_DEFAULT",
    "FIELD_SAME_JSON_NAME",
    "FIELD_SAME_NAME",
    "FIELD_SAME_ONEOF",
    "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
    "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
    "FILE_SAME_PACKAGE",
    "MESSAGE_SAME_JSON_FORMAT",
    "MESSAGE_SAME_REQUIRED_FIELDS",
    "RESERVED_ENUM_NO_DELETE",
    "RESERVED_MESSAGE_NO_DELETE",
    "RPC_SAME_CLIENT_STREAMING",
    "RPC_SAME_IDEMPOTENCY_LEVEL",
    "RPC_SAME_REQUEST_TYPE",
    "RPC_SAME_RESPONSE_TYPE",
    "RPC_SAME_SERVER_STREAMING",
)


@dataclass(frozen=True)
class Finding:
    rule: str
    location: Location
    element: str  # full name of the element of the previous schema
    message: str


def compare(current: Index, previous: Index) -> list[Finding]:
    """Every WIRE_JSON finding for `current` against `previous`, in source order."""
    out: list[Finding] = []
    for name, prev in previous.files.items():
        cur = current.files.get(name)
        if cur is not None and cur.package != prev.package:
            out.append(Finding("FILE_SAME_PACKAGE", current.location(cur, (d.F_PACKAGE,)), name,
                               f'File package changed from "{prev.package}" to '
                               f'"{cur.package}".'))
    for name, pm in previous.messages.items():
        cm = current.messages.get(name)
        if cm is not None:
            out.extend(_message_rules(current, cm, pm))
            for number, pf in pm.fields.items():
                cf = cm.fields.get(number)
                if cf is not None:
                    out.extend(_field_rules(current, previous, cf, pf))
    for ext_key, px in previous.extensions.items():
        cx = current.extensions.get(ext_key)
        if cx is not None:
            out.extend(_field_rules(current, previous, cx, px))
    for name, pe in previous.enums.items():
        ce = current.enums.get(name)
        if ce is not None:
            out.extend(_enum_rules(current, ce, pe))
    for key, pr in previous.methods.items():
        cr = current.methods.get(key)
        if cr is not None:
            out.extend(_rpc_rules(current, cr, pr, f"{key[0]}.{key[1]}"))
    return sorted(out, key=lambda f: (f.location.file, f.location.line, f.location.column,
                                      f.rule, f.message))


# --- messages ---------------------------------------------------------------------------
def _message_rules(idx: Index, cm: Message, pm: Message) -> Iterator[Finding]:
    where = idx.location(cm.file, cm.path)
    reserved = _ranges(cm.proto.reserved_range, exclusive_end=True)
    names = set(cm.proto.reserved_name)
    for number, pf in sorted(pm.fields.items()):
        if number in cm.fields:
            continue
        what = f'Previously present field "{number}" with name "{pf.name}" on message ' \
               f'"{pm.proto.name}" was deleted'
        if not _in_ranges(number, reserved):
            yield Finding("FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED", where, pf.full_name,
                          f'{what} without reserving the number "{number}".')
        if pf.name not in names:
            yield Finding("FIELD_NO_DELETE_UNLESS_NAME_RESERVED", where, pf.full_name,
                          f'{what} without reserving the name "{pf.name}".')
    yield from _required(idx, cm, pm)
    yield from _reserved("message", where, cm.full_name, cm.proto.name,
                         _ranges(pm.proto.reserved_range, exclusive_end=True), reserved,
                         set(pm.proto.reserved_name), names)
    if pm.features.json_format == d.JSON_ALLOW and cm.features.json_format != d.JSON_ALLOW:
        where = idx.location(cm.file, (*cm.path, *d.MESSAGE_JSON_FORMAT))
        yield Finding("MESSAGE_SAME_JSON_FORMAT", where, pm.full_name,
                      f'Message "{cm.proto.name}" JSON format support changed from ALLOW '
                      f'to LEGACY_BEST_EFFORT.')


def _is_required(f: Field) -> bool:
    return bool(f.proto.label == d.LABEL_REQUIRED
                or f.features.field_presence == d.PRESENCE_LEGACY_REQUIRED)


def _required(idx: Index, cm: Message, pm: Message) -> Iterator[Finding]:
    before = {n for n, f in pm.fields.items() if _is_required(f)}
    after = {n for n, f in cm.fields.items() if _is_required(f)}
    for n in sorted(before - after):
        yield Finding("MESSAGE_SAME_REQUIRED_FIELDS", idx.location(cm.file, cm.path),
                      pm.full_name, f'Message "{pm.proto.name}" had required field "{n}" '
                      "deleted: one side will miss a field the other must send.")
    for n in sorted(after - before):
        f = cm.fields[n]
        yield Finding("MESSAGE_SAME_REQUIRED_FIELDS", idx.location(cm.file, f.path),
                      pm.full_name, f'Message "{cm.proto.name}" had required field "{n}" '
                      "added: one side will miss a field the other must send.")


def _ranges(ranges: Any, *, exclusive_end: bool) -> list[tuple[int, int]]:
    """Inclusive (start, end) pairs, merged where they overlap or touch."""
    pairs = sorted((r.start, r.end - 1 if exclusive_end else r.end) for r in ranges)
    merged: list[tuple[int, int]] = []
    for start, end in pairs:
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _in_ranges(n: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a <= n <= b for a, b in ranges)


def _missing(start: int, end: int, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    at = start
    for a, b in ranges:
        if b < at or a > end:
            continue
        if a > at:
            out.append((at, a - 1))
        at = max(at, b + 1)
    if at <= end:
        out.append((at, end))
    return out


def _reserved(kind: str, where: Location, full_name: str, short: str,
              before: list[tuple[int, int]], after: list[tuple[int, int]],
              names_before: set[str], names_after: set[str]) -> Iterator[Finding]:
    rule = "RESERVED_MESSAGE_NO_DELETE" if kind == "message" else "RESERVED_ENUM_NO_DELETE"
    for start, end in before:
        gone = _missing(start, end, after)
        if gone:
            span = f"[{start},{end}]" if start != end else f"[{start}]"
            lost = ", ".join(f"[{a}]" if a == b else f"[{a},{b}]" for a, b in gone)
            yield Finding(rule, where, full_name, f'Previously present reserved range '
                          f'"{span}" on {kind} "{short}" is missing values: {lost} were removed.')
    for name in sorted(names_before - names_after):
        yield Finding(rule, where, full_name,
                      f'Previously present reserved name "{name}" on {kind} "{short}" was '
                      "deleted.")


# --- fields -------------------------------------------------------------------------------
def _describe(f: Field, with_name: bool = True) -> str:
    if f.is_extension:
        name = f' with name "{f.full_name}"' if with_name else ""
        return f'Extension "{f.number}"{name} on message "{f.proto.extendee}"'
    name = f' with name "{f.name}"' if with_name else ""
    assert f.message is not None
    return f'Field "{f.number}"{name} on message "{f.message.proto.name}"'


def _field_rules(cur: Index, prev: Index, cf: Field, pf: Field) -> Iterator[Finding]:
    at = cur.location
    if (pf.full_name if pf.is_extension else pf.name) != \
            (cf.full_name if cf.is_extension else cf.name):
        old, new = (pf.full_name, cf.full_name) if cf.is_extension else (pf.name, cf.name)
        yield Finding("FIELD_SAME_NAME", at(cf.file, (*cf.path, d.FLD_NAME)), pf.full_name,
                      f'{_describe(cf, False)} changed name from "{old}" to "{new}".')
    if not cf.is_extension and pf.json_name != cf.json_name:
        yield Finding("FIELD_SAME_JSON_NAME", at(cf.file, (*cf.path, d.FLD_JSON_NAME)),
                      pf.full_name, f'{_describe(cf)} changed option "json_name" from '
                      f'"{pf.json_name}" to "{cf.json_name}".')
    yield from _oneof(cur, cf, pf)
    yield from _default(cur, prev, cf, pf)
    yield from _type(cur, prev, cf, pf)
    yield from _cardinality(cur, prev, cf, pf)


def _oneof(cur: Index, cf: Field, pf: Field) -> Iterator[Finding]:
    before, after = pf.oneof(), cf.oneof()
    if before == after:
        return
    where = cur.location(cf.file, cf.path)
    if before is not None and after is not None:
        text = f'moved from oneof "{before}" to oneof "{after}"'
    else:
        text = "moved from outside to inside a oneof" if after else \
            "moved from inside to outside a oneof"
    yield Finding("FIELD_SAME_ONEOF", where, pf.full_name, f"{_describe(cf)} {text}.")


def _kind(f: Field) -> int:
    if f.proto.type == d.T_MESSAGE and f.features.message_encoding == d.ENCODING_DELIMITED:
        return d.T_GROUP
    return int(f.proto.type)


# wire- and JSON-compatible kinds share a group (buf's fieldKindToWireJSONCompatibilityGroup)
_WIRE_JSON_GROUP = {d.T_INT32: 1, d.T_UINT32: 1, d.T_INT64: 2, d.T_UINT64: 2,
                    d.T_FIXED32: 3, d.T_SFIXED32: 3, d.T_FIXED64: 4, d.T_SFIXED64: 4,
                    d.T_BOOL: 5, d.T_SINT32: 6, d.T_SINT64: 7, d.T_STRING: 8, d.T_BYTES: 9,
                    d.T_DOUBLE: 10, d.T_FLOAT: 11, d.T_GROUP: 12, d.T_MESSAGE: 13,
                    d.T_ENUM: 14}


def _type_location(idx: Index, f: Field) -> Location:
    named = _kind(f) in (d.T_MESSAGE, d.T_GROUP, d.T_ENUM)
    return idx.location(f.file, (*f.path, d.FLD_TYPE_NAME if named else d.FLD_TYPE))


def _type(cur: Index, prev: Index, cf: Field, pf: Field) -> Iterator[Finding]:
    ck, pk = _kind(cf), _kind(pf)
    if _WIRE_JSON_GROUP[ck] != _WIRE_JSON_GROUP[pk]:
        yield Finding("FIELD_WIRE_JSON_COMPATIBLE_TYPE", _type_location(cur, cf), pf.full_name,
                      f'{_describe(cf)} changed type from "{d.TYPE_NAMES[pk]}" to '
                      f'"{d.TYPE_NAMES[ck]}": not both wire- and JSON-compatible.')
        return
    if ck not in (d.T_MESSAGE, d.T_GROUP, d.T_ENUM) or cf.proto.type_name == pf.proto.type_name:
        return
    if ck == d.T_ENUM and _enum_superset(cur.enum_proto(cf.proto.type_name),
                                         prev.enum_proto(pf.proto.type_name)):
        return
    yield Finding("FIELD_WIRE_JSON_COMPATIBLE_TYPE", _type_location(cur, cf), pf.full_name,
                  f'{_describe(cf)} changed type from "{pf.proto.type_name.lstrip(".")}" to '
                  f'"{cf.proto.type_name.lstrip(".")}".')


def _enum_superset(new: Any, old: Any) -> bool:
    """Another enum type that reads the same: same short name, every old value kept."""
    if new is None or old is None or new.name != old.name:
        return False
    have = {(v.name, v.number) for v in new.value}
    return all((v.name, v.number) in have for v in old.value)


def _cardinality_of(idx: Index, f: Field) -> str:
    if idx.is_map(f):
        return "map"
    if f.proto.label == d.LABEL_REPEATED:
        return "repeated"
    if _is_required(f):
        return "required"
    explicit = (_kind(f) in (d.T_MESSAGE, d.T_GROUP) or f.proto.HasField("oneof_index")
                or f.features.field_presence == d.PRESENCE_EXPLICIT)
    return f"optional with {'explicit' if explicit else 'implicit'} presence"


def _cardinality(cur: Index, prev: Index, cf: Field, pf: Field) -> Iterator[Finding]:
    if _is_map_entry(cf) and _is_map_entry(pf):
        return  # generated map-entry fields carry no cardinality of their own
    before, after = _cardinality_of(prev, pf), _cardinality_of(cur, cf)
    if before.split(" ")[0] != after.split(" ")[0]:  # explicit/implicit presence may differ
        yield Finding("FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY", cur.location(cf.file, cf.path),
                      pf.full_name, f'{_describe(cf)} changed cardinality from "{before}" '
                      f'to "{after}".')


def _is_map_entry(f: Field) -> bool:
    return f.message is not None and bool(f.message.proto.options.map_entry)


def _default_value(idx: Index, f: Field) -> str | float | int:
    raw, kind = f.proto.default_value, _kind(f)
    has = f.proto.HasField("default_value")
    if kind in (d.T_STRING, d.T_BYTES):
        return str(raw)
    if kind == d.T_ENUM:
        enum = idx.enum_proto(f.proto.type_name)
        values = list(enum.value) if enum is not None else []
        by_name = {v.name: v.number for v in values}
        if has and raw in by_name:
            return int(by_name[raw])
        return int(values[0].number) if values else 0
    if kind == d.T_BOOL:
        return 1 if raw == "true" else 0
    if kind in (d.T_FLOAT, d.T_DOUBLE):
        return float(raw) if has else 0.0
    return int(raw) if has else 0


def _same_default(a: str | float | int, b: str | float | int, float32: bool) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    nan_a = isinstance(a, float) and math.isnan(a)
    nan_b = isinstance(b, float) and math.isnan(b)
    if nan_a or nan_b:
        return nan_a and nan_b
    if float32:
        import struct

        def f32(x: float) -> float:
            return float(struct.unpack("<f", struct.pack("<f", x))[0])

        return f32(float(a)) == f32(float(b))
    return a == b


def _default(cur: Index, prev: Index, cf: Field, pf: Field) -> Iterator[Finding]:
    def can_have(idx: Index, f: Field) -> bool:
        return f.proto.label != d.LABEL_REPEATED and _kind(f) not in (d.T_MESSAGE, d.T_GROUP)

    if not (can_have(prev, pf) and can_have(cur, cf)):
        return
    before, after = _default_value(prev, pf), _default_value(cur, cf)
    if not before and not after:
        return  # both are the zero value: nothing a reader could see differ
    kinds = {_kind(cf), _kind(pf)}
    if not _same_default(before, after, float32=kinds == {d.T_FLOAT, d.T_DOUBLE}):
        where = cur.location(cf.file, (*cf.path, d.FLD_DEFAULT))
        yield Finding("FIELD_SAME_DEFAULT", where, pf.full_name,
                      f"{_describe(cf)} changed default value from {before!r} to {after!r}.")


# --- enums --------------------------------------------------------------------------------
def _enum_rules(idx: Index, ce: Enum, pe: Enum) -> Iterator[Finding]:
    where = idx.location(ce.file, ce.path)
    names_now: dict[int, list[str]] = {}
    for v in ce.proto.value:
        names_now.setdefault(v.number, []).append(v.name)
    names_then: dict[int, list[str]] = {}
    for v in pe.proto.value:
        names_then.setdefault(v.number, []).append(v.name)
    reserved = _ranges(ce.proto.reserved_range, exclusive_end=False)
    reserved_names = set(ce.proto.reserved_name)
    short = ce.proto.name
    for number, old in sorted(names_then.items()):
        element = f"{pe.full_name}.{sorted(old)[0]}"
        if number not in names_now:
            what = f'Previously present enum value "{number}" on enum "{short}" was deleted'
            if not _in_ranges(number, reserved):
                yield Finding("ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED", where, element,
                              f'{what} without reserving the number "{number}".')
            if not set(old) <= reserved_names:
                quoted = ", ".join(f'"{n}"' for n in sorted(old))
                yield Finding("ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED", where, element,
                              f"{what} without reserving the name{'s' * (len(old) > 1)} "
                              f"{quoted}.")
            continue
        yield from _enum_value_names(idx, ce, number, old, names_now[number], element)
    yield from _reserved("enum", where, ce.full_name, short,
                         _ranges(pe.proto.reserved_range, exclusive_end=False), reserved,
                         set(pe.proto.reserved_name), reserved_names)
    if pe.features.json_format == d.JSON_ALLOW and ce.features.json_format != d.JSON_ALLOW:
        where = idx.location(ce.file, (*ce.path, *d.ENUM_JSON_FORMAT))
        yield Finding("ENUM_SAME_JSON_FORMAT", where, pe.full_name,
                      f'Enum "{short}" JSON format support changed from ALLOW to '
                      "LEGACY_BEST_EFFORT.")


def _enum_value_names(idx: Index, ce: Enum, number: int, old: list[str], new: list[str],
                      element: str) -> Iterator[Finding]:
    if set(old) <= set(new):
        return  # every name a reader may have written still parses (aliases may be added)
    before = ", ".join(f'"{n}"' for n in sorted(old))
    after = ", ".join(f'"{n}"' for n in sorted(new))
    plural = "s" if len(old) > 1 and len(new) > 1 else ""
    for i, v in enumerate(ce.proto.value):
        if v.number == number:
            where = idx.location(ce.file, (*ce.path, d.E_VALUE, i, d.EV_NUMBER))
            yield Finding("ENUM_VALUE_SAME_NAME", where, element,
                          f'Enum value "{number}" on enum "{ce.proto.name}" changed '
                          f"name{plural} from {before} to {after}.")


# --- RPCs ---------------------------------------------------------------------------------
def _rpc_rules(idx: Index, cr: Method, pr: Method, element: str) -> Iterator[Finding]:
    c, p = cr.proto, pr.proto
    where = idx.location(cr.file, cr.path)
    head = f'RPC "{c.name}" on service "{cr.service}"'
    for rule, side, before, after in (
            ("RPC_SAME_CLIENT_STREAMING", "client", p.client_streaming, c.client_streaming),
            ("RPC_SAME_SERVER_STREAMING", "server", p.server_streaming, c.server_streaming)):
        if before != after:
            old, new = ("streaming", "unary") if before else ("unary", "streaming")
            yield Finding(rule, where, element, f"{head} changed from {side} {old} to "
                          f"{side} {new}.")
    for rule, what, sub, before, after in (
            ("RPC_SAME_REQUEST_TYPE", "request", d.RPC_INPUT, p.input_type, c.input_type),
            ("RPC_SAME_RESPONSE_TYPE", "response", d.RPC_OUTPUT, p.output_type,
             c.output_type)):
        if before != after:
            yield Finding(rule, idx.location(cr.file, (*cr.path, sub)), element,
                          f'{head} changed {what} type from "{before.lstrip(".")}" to '
                          f'"{after.lstrip(".")}".')
    levels = ("IDEMPOTENCY_UNKNOWN", "NO_SIDE_EFFECTS", "IDEMPOTENT")
    before, after = p.options.idempotency_level, c.options.idempotency_level
    if before != after:
        yield Finding("RPC_SAME_IDEMPOTENCY_LEVEL",
                      idx.location(cr.file, (*cr.path, d.RPC_OPTIONS, d.RPC_IDEMPOTENCY)),
                      element, f'{head} changed option "idempotency_level" from '
                      f'"{levels[before]}" to "{levels[after]}".')
