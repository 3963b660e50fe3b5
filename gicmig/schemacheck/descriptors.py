"""An index over a descriptor set: every message, field, enum and RPC by full name, with
its source location and the protobuf semantics the breaking rules need (cardinality,
field kind, resolved `json_format` feature, defaults).

Source paths follow descriptor.proto's field numbers (FileDescriptorProto.message_type
is 4, DescriptorProto.field is 2, ...): `Location.of(path)` turns one into line/column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# descriptor.proto field numbers used as source-path components
F_PACKAGE, F_MESSAGE, F_ENUM, F_SERVICE, F_EXTENSION, F_SYNTAX = 2, 4, 5, 6, 7, 12
M_FIELD, M_NESTED, M_ENUM, M_EXTENSION = 2, 3, 4, 6
FLD_NAME, FLD_TYPE, FLD_TYPE_NAME, FLD_DEFAULT, FLD_OPTIONS, FLD_JSON_NAME = 1, 5, 6, 7, 8, 10
E_VALUE, EV_NUMBER = 2, 2
S_METHOD, RPC_INPUT, RPC_OUTPUT, RPC_OPTIONS, RPC_IDEMPOTENCY = 2, 2, 3, 4, 34
# options -> features -> json_format, for a message and for an enum
MESSAGE_JSON_FORMAT, ENUM_JSON_FORMAT = (7, 12, 6), (3, 7, 6)

# FieldDescriptorProto.Type
T_DOUBLE, T_FLOAT, T_INT64, T_UINT64, T_INT32, T_FIXED64, T_FIXED32, T_BOOL = 1, 2, 3, 4, 5, 6, 7, 8
T_STRING, T_GROUP, T_MESSAGE, T_BYTES, T_UINT32, T_ENUM = 9, 10, 11, 12, 13, 14
T_SFIXED32, T_SFIXED64, T_SINT32, T_SINT64 = 15, 16, 17, 18
TYPE_NAMES = {T_DOUBLE: "double", T_FLOAT: "float", T_INT64: "int64", T_UINT64: "uint64",
              T_INT32: "int32", T_FIXED64: "fixed64", T_FIXED32: "fixed32", T_BOOL: "bool",
              T_STRING: "string", T_GROUP: "group", T_MESSAGE: "message", T_BYTES: "bytes",
              T_UINT32: "uint32", T_ENUM: "enum", T_SFIXED32: "sfixed32",
              T_SFIXED64: "sfixed64", T_SINT32: "sint32", T_SINT64: "sint64"}
LABEL_REQUIRED, LABEL_REPEATED = 2, 3
JSON_ALLOW, JSON_LEGACY_BEST_EFFORT = 1, 2  # FeatureSet.JsonFormat
PRESENCE_EXPLICIT, PRESENCE_LEGACY_REQUIRED = 1, 3  # FeatureSet.FieldPresence
ENCODING_DELIMITED = 2  # FeatureSet.MessageEncoding


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based; 0 when the descriptor set has no source info for the element
    column: int

    @staticmethod
    def of(file: Any, path: tuple[int, ...], spans: dict[tuple[int, ...], Any]) -> Location:
        # an element without its own span (e.g. an implicit json_name) falls back to the
        # nearest enclosing element that has one
        while path and path not in spans:
            path = path[:-1]
        loc = spans.get(path)
        if loc is None or len(loc.span) < 3:  # a span is [line, col, (end line,) end col]
            return Location(file.name, 0, 0)
        return Location(file.name, loc.span[0] + 1, loc.span[1] + 1)


@dataclass
class Features:
    """The editions features a rule needs, resolved down the element tree."""

    json_format: int
    field_presence: int
    message_encoding: int

    def child(self, options: Any) -> Features:
        f = options.features if options.HasField("features") else None
        if f is None:
            return self
        return Features(f.json_format or self.json_format,
                        f.field_presence or self.field_presence,
                        f.message_encoding or self.message_encoding)


def file_features(file: Any) -> Features:
    if file.syntax == "proto3":
        base = Features(JSON_ALLOW, 2, 1)  # implicit presence, length-prefixed
    elif file.syntax == "editions":
        base = Features(JSON_ALLOW, PRESENCE_EXPLICIT, 1)  # edition 2023 defaults
    else:
        base = Features(JSON_LEGACY_BEST_EFFORT, PRESENCE_EXPLICIT, 1)
    return base.child(file.options) if file.HasField("options") else base


@dataclass
class Field:
    proto: Any
    message: Message | None  # None for a top-level extension
    full_name: str
    path: tuple[int, ...]
    file: Any
    features: Features
    is_extension: bool = False

    @property
    def number(self) -> int:
        return int(self.proto.number)

    @property
    def name(self) -> str:
        return str(self.proto.name)

    @property
    def json_name(self) -> str:
        return str(self.proto.json_name) if self.proto.HasField("json_name") \
            else default_json_name(self.name)

    def oneof(self) -> str | None:
        """The real (not proto3-`optional` synthetic) oneof the field belongs to."""
        if not self.proto.HasField("oneof_index") or self.proto.proto3_optional \
                or self.message is None:
            return None
        return str(self.message.proto.oneof_decl[self.proto.oneof_index].name)


@dataclass
class Message:
    proto: Any
    full_name: str
    path: tuple[int, ...]
    file: Any
    features: Features
    fields: dict[int, Field] = field(default_factory=dict)


@dataclass
class Enum:
    proto: Any
    full_name: str
    path: tuple[int, ...]
    file: Any
    features: Features


@dataclass
class Method:
    proto: Any
    service: str
    path: tuple[int, ...]
    file: Any


def default_json_name(name: str) -> str:
    """protoc's lowerCamelCase JSON name: drop each '_' and capitalise what follows."""
    out: list[str] = []
    upper = False
    for ch in name:
        if ch == "_":
            upper = True
        elif upper:
            out.append(ch.upper())
            upper = False
        else:
            out.append(ch)
    return "".join(out)


class Index:
    """Every element of a schema's own files by full name (imports only for lookups)."""

    def __init__(self, fds: Any, own: frozenset[str]) -> None:
        self.messages: dict[str, Message] = {}
        self.enums: dict[str, Enum] = {}
        self.methods: dict[tuple[str, str], Method] = {}
        self.extensions: dict[tuple[str, int], Field] = {}
        self.files: dict[str, Any] = {}
        self._spans: dict[str, dict[tuple[int, ...], Any]] = {}
        # (file, path of a synthetic map-entry message) -> path of the map field declaring it
        self._map_fields: dict[tuple[str, tuple[int, ...]], tuple[int, ...]] = {}
        self._all_messages: dict[str, Any] = {}
        self._all_enums: dict[str, Any] = {}
        for file in fds.file:
            self._collect_types(file)
        for file in fds.file:
            if file.name in own:
                self._add_file(file)

    # --- lookups -------------------------------------------------------------------
    def location(self, file: Any, path: tuple[int, ...]) -> Location:
        # a map's entry message is synthetic (no source of its own): what is found in it
        # is located at the map field that declares it, as buf does
        for n in range(len(path), 1, -1):
            declared = self._map_fields.get((file.name, path[:n]))
            if declared is not None:
                path = declared
                break
        return Location.of(file, path, self._spans[file.name])

    def is_map(self, f: Field) -> bool:
        msg = self._all_messages.get(f.proto.type_name.lstrip("."))
        return bool(f.proto.label == LABEL_REPEATED and msg is not None
                    and msg.options.map_entry)

    def enum_proto(self, type_name: str) -> Any:
        return self._all_enums.get(type_name.lstrip("."))

    # --- building ------------------------------------------------------------------
    def _collect_types(self, file: Any) -> None:
        prefix = f"{file.package}." if file.package else ""

        def walk(msgs: Any, scope: str) -> None:
            for m in msgs:
                name = scope + m.name
                self._all_messages[name] = m
                for e in m.enum_type:
                    self._all_enums[f"{name}.{e.name}"] = e
                walk(m.nested_type, name + ".")

        walk(file.message_type, prefix)
        for e in file.enum_type:
            self._all_enums[prefix + e.name] = e

    def _add_file(self, file: Any) -> None:
        self.files[file.name] = file
        spans: dict[tuple[int, ...], Any] = {}
        for loc in file.source_code_info.location:
            # protoc may record a path twice (an option, then its value): the first
            # span is the whole element, which is where a finding should point
            spans.setdefault(tuple(loc.path), loc)
        self._spans[file.name] = spans
        feats = file_features(file)
        prefix = f"{file.package}." if file.package else ""
        for i, m in enumerate(file.message_type):
            self._add_message(file, m, prefix + m.name, (F_MESSAGE, i), feats)
        for i, e in enumerate(file.enum_type):
            self._add_enum(file, e, prefix + e.name, (F_ENUM, i), feats)
        for i, x in enumerate(file.extension):
            self._add_extension(file, x, prefix, (F_EXTENSION, i), feats)
        for i, s in enumerate(file.service):
            for j, rpc in enumerate(s.method):
                self.methods[(prefix + s.name, rpc.name)] = Method(
                    rpc, s.name, (F_SERVICE, i, S_METHOD, j), file)

    def _add_message(self, file: Any, m: Any, name: str, path: tuple[int, ...],
                     parent: Features) -> None:
        feats = parent.child(m.options) if m.HasField("options") else parent
        msg = Message(m, name, path, file, feats)
        self.messages[name] = msg
        entries = {f".{name}.{n.name}": i for i, n in enumerate(m.nested_type)
                   if n.options.map_entry}
        for i, f in enumerate(m.field):
            if f.type_name in entries:
                self._map_fields[(file.name, (*path, M_NESTED, entries[f.type_name]))] = \
                    (*path, M_FIELD, i)
        for i, f in enumerate(m.field):
            ff = feats.child(f.options) if f.HasField("options") else feats
            msg.fields[f.number] = Field(f, msg, f"{name}.{f.name}", (*path, M_FIELD, i),
                                         file, ff)
        for i, n in enumerate(m.nested_type):
            self._add_message(file, n, f"{name}.{n.name}", (*path, M_NESTED, i), feats)
        for i, e in enumerate(m.enum_type):
            self._add_enum(file, e, f"{name}.{e.name}", (*path, M_ENUM, i), feats)
        for i, x in enumerate(m.extension):
            self._add_extension(file, x, name + ".", (*path, M_EXTENSION, i), feats)

    def _add_enum(self, file: Any, e: Any, name: str, path: tuple[int, ...],
                  parent: Features) -> None:
        feats = parent.child(e.options) if e.HasField("options") else parent
        self.enums[name] = Enum(e, name, path, file, feats)

    def _add_extension(self, file: Any, x: Any, scope: str, path: tuple[int, ...],
                       parent: Features) -> None:
        feats = parent.child(x.options) if x.HasField("options") else parent
        self.extensions[(x.extendee.lstrip("."), x.number)] = Field(
            x, None, scope + x.name, path, file, feats, is_extension=True)

    def fields(self) -> Iterator[Field]:
        for msg in self.messages.values():
            yield from msg.fields.values()
        yield from self.extensions.values()
