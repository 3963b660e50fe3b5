"""A schema to compare: compiled from a proto folder, or read from a descriptor set or lock.

Proto folders are compiled with `grpc_tools.protoc` (the protoc that grpcio-tools ships,
so no system compiler is needed) into a `FileDescriptorSet` with source info, which is
what the rules read line and column numbers from.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gicmig.errors import GicmigError
from gicmig.files import read_bytes, regular_below
from gicmig.limits import MAX_COUNT
from gicmig.schemacheck import child, layout, spans

PROTOC_SECONDS = 60  # protoc compiles gicmig's schema in 0.1 s; a FIFO would block forever
PROTOC_MEMORY = 512 << 20  # address space protoc may add to the fork's


@dataclass(frozen=True)
class Schema:
    """A set of .proto files as descriptors: `files` are the ones being checked (not
    their imports); `label` says where the schema came from, for messages."""

    fds: Any  # google.protobuf.descriptor_pb2.FileDescriptorSet
    files: frozenset[str]
    label: str
    revision: int | None = None
    root: str | None = None  # the proto folder it was compiled from, for clickable paths
    # file name in the set -> where it is on disk (its root's folder joined to the name)
    shown: Mapping[str, str] = field(default_factory=dict)

    def display_path(self, name: str) -> str:
        if name in self.shown:
            return self.shown[name]
        return f"{self.root.rstrip('/')}/{name}" if self.root else name

    def own_files(self) -> list[Any]:
        return [f for f in self.fds.file if f.name in self.files]


def compile_dir(root: str | os.PathLike[str], label: str | None = None) -> Schema:
    """Compile every .proto of the folder `root`, laid out by its buf.work.yaml or buf.yaml
    (see `layout`): import roots, and file names relative to their root, as buf has them.
    `label` names the folder in messages and paths (default: the folder's path)."""
    base = Path(root)
    shown_base = str(root) if label is None else label
    if not base.is_dir():
        raise GicmigError("SCHEMA-INPUT", f"{shown_base} is not a folder of .proto files")
    roots = layout.roots(base)
    where: dict[str, str] = {}  # file name -> path inside the folder
    for r in roots:
        top = base / r.rel
        for p in sorted(top.rglob("*.proto")):
            inside = p.relative_to(base).as_posix()
            if not r.keeps(inside):
                continue
            if not regular_below(base, p):  # protoc would follow it, or block on a FIFO
                raise GicmigError("SCHEMA-INPUT", f"{shown_base}: {inside} is not a regular "
                                  "file inside the folder (a symlink out of it, a FIFO or a "
                                  "device)")
            name = p.relative_to(top).as_posix()
            if name in where:
                raise GicmigError("SCHEMA-LAYOUT",
                                  f"{shown_base}: {name} is both {where[name]} and {inside} "
                                  "(two roots hold the same file name)")
            where[name] = inside
    if not where:
        raise GicmigError("SCHEMA-INPUT", f"{shown_base} holds no .proto files")
    protos = sorted(where)
    fds = parse_fds(_protoc(base, [r.rel for r in roots], protos, shown_base), shown_base,
                    verify=False)
    spans.as_buf(fds, {n: base / p for n, p in where.items()})
    shown = {n: posixpath.join(shown_base.rstrip("/") or "/", p) for n, p in where.items()}
    return Schema(fds, frozenset(protos), shown_base, root=shown_base, shown=shown)


def _protoc(base: Path, roots: list[str], protos: list[str], shown: str) -> bytes:
    """protoc (the one grpcio-tools ships) in a forked child (`child.run`): a time and a
    memory limit, its descriptor set read from a pipe, nothing written to disk. A fork,
    not `python -m grpc_tools.protoc`: a second Python cost more than the whole check."""
    try:
        import grpc_tools
        from grpc_tools import _protoc_compiler
    except ImportError:
        raise GicmigError("SCHEMA-COMPILER-MISSING",
                          "compiling .proto files needs grpcio-tools: "
                          "pip install 'gicmig[schema]' (or pass a descriptor set)") from None
    include = Path(grpc_tools.__file__).parent / "_proto"
    _check_imports(base, roots, protos, shown)
    args = ["protoc", *(f"-I{base / r}" for r in roots), f"-I{include}",
            "--include_imports", "--include_source_info",
            "--descriptor_set_out=/dev/stdout", *protos]
    done = child.run(lambda: int(_protoc_compiler.run_main([a.encode() for a in args])),
                     seconds=PROTOC_SECONDS, memory=PROTOC_MEMORY)
    if done.why:
        raise GicmigError("SCHEMA-COMPILE", f"{shown}: protoc {done.why} (limits: "
                          f"{PROTOC_SECONDS} s, {PROTOC_MEMORY >> 20} MiB)")
    if done.status != 0 or not done.stdout:
        text = done.stderr.decode(errors="replace").replace(str(base), shown)
        raise GicmigError("SCHEMA-COMPILE", f"{shown}: {first_error(text)}")
    return done.stdout


def first_error(messages: str) -> str:
    """protoc's first error line: its warnings (unused imports...) come first but are
    not why it failed."""
    lines = [line for line in messages.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "warning:" not in line.lower()]
    return (errors or lines or ["protoc failed"])[0]


# protobuf's string literals, and its comments (blanked before imports are looked for)
_STRING = r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
_TOKENS = re.compile(rf"//[^\n]*|/\*.*?\*/|{_STRING}", re.DOTALL)
# an import statement: its file name is one or more adjacent string literals
_IMPORT = re.compile(rf"\bimport\s+(?:(?:public|weak)\s+)?((?:(?:{_STRING})\s*)+);")


def _check_imports(base: Path, roots: list[str], protos: list[str], shown: str) -> None:
    """Every file protoc will open, found as protoc finds it (each import against the
    roots in order), must be a regular file whose real path lies in the folder: protoc
    would follow a symlinked folder of a root out of it, read a device, block on a FIFO.
    SCHEMA-INPUT naming the import otherwise. (An import no root holds is a well-known
    type from grpcio-tools, or missing: protoc says which.)"""
    dirs = [base / r for r in roots]
    todo = [next(d / n for d in dirs if os.path.lexists(d / n)) for n in protos]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if len(seen) > MAX_COUNT:
            raise GicmigError("SCHEMA-INPUT", f"{shown}: more than {MAX_COUNT} .proto files")
        text = read_bytes(path).decode("utf-8", errors="replace")
        code = _TOKENS.sub(lambda m: m.group() if m.group()[0] in "\"'" else " ", text)
        for m in _IMPORT.finditer(code):
            name = _literal(m.group(1))
            found = None if name is None else \
                next((d / name for d in dirs if os.path.lexists(d / name)), None)
            if name is not None and found is None:
                continue
            if found is None or not regular_below(base, found):
                raise GicmigError("SCHEMA-INPUT", f"{shown}: import {m.group(1).strip()} is not "
                                  "a regular file inside the folder (a symlink out of it, a "
                                  "FIFO or a device)")
            todo.append(found)


def _literal(text: str) -> str | None:
    """The file name adjacent string literals spell (None: not one a file can have)."""
    import ast

    try:
        name = "".join(str(ast.literal_eval(p)) for p in re.findall(_STRING, text))
    except (ValueError, SyntaxError):
        return None
    return None if "\0" in name or not name else name


# protobuf's C parser takes up to ~80x a descriptor set's size (measured: 64 MiB of empty
# `file` entries, 5 GiB): a set larger than this is parsed in a child with the memory
# gicmig promises for any input (64 MiB + 4x its size) first, then here if it fitted
_PARSED_HERE = 256 << 10


def _fits(data: bytes, label: str) -> None:
    """SCHEMA-INPUT unless `data` parses within 64 MiB + 4x its size (docs/security.md)."""
    from google.protobuf import descriptor_pb2

    def parse() -> int:
        try:
            descriptor_pb2.FileDescriptorSet().ParseFromString(data)
        except Exception:  # malformed, or the allocation failed at the limit
            return 2
        return 0

    budget = (64 << 20) + 4 * len(data)
    done = child.run(parse, seconds=PROTOC_SECONDS, memory=budget)
    if done.status != 0:
        raise GicmigError("SCHEMA-INPUT", f"{label} is not a FileDescriptorSet gicmig can read "
                          f"in the {budget >> 20} MiB it allows {len(data)} bytes of input")


def parse_fds(data: bytes, label: str, *, verify: bool = True) -> Any:
    """A FileDescriptorSet from bytes; with `verify`, refused unless it is consistent
    (protoc's own output needs no second opinion: pass verify=False)."""
    from google.protobuf import descriptor_pb2

    if len(data) > _PARSED_HERE:
        _fits(data, label)
    fds = descriptor_pb2.FileDescriptorSet()
    try:
        fds.ParseFromString(data)
    except Exception as exc:  # upb's DecodeError, or anything a corrupt file provokes
        raise GicmigError("SCHEMA-INPUT",
                          f"{label} is not a FileDescriptorSet: {exc}") from None
    if not fds.file or any(not f.name for f in fds.file):
        raise GicmigError("SCHEMA-INPUT", f"{label} is not a FileDescriptorSet (no named files)")
    if verify:
        _check_consistent(fds, label)
    return fds


def _check_consistent(fds: Any, label: str) -> None:
    # the rules index descriptors by number and name; a set that protobuf itself cannot
    # load (dangling type names, oneof indexes out of range, ...) is refused up front
    error = _pool_error(fds)
    if error is not None and _oneof_json_names(fds):
        # upb refuses a proto3 field whose json_name is the name of a oneof of its
        # message; protoc and buf accept it, and JSON names are the rules' business, not
        # loadability's: judge the set without those json_names
        from google.protobuf import descriptor_pb2

        relaxed = descriptor_pb2.FileDescriptorSet()
        relaxed.CopyFrom(fds)
        for f in _oneof_json_names(relaxed):
            f.ClearField("json_name")
        error = _pool_error(relaxed)
    if error is not None:
        raise GicmigError("SCHEMA-INPUT", f"{label}: inconsistent descriptor set ({error})")


def _pool_error(fds: Any) -> str | None:
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.DescriptorPool()
    try:
        for f in fds.file:
            pool.Add(f)
        for f in fds.file:
            pool.FindFileByName(f.name)
    except Exception as exc:  # TypeError/KeyError from upb: all mean "not loadable"
        return str(exc)
    return None


def _oneof_json_names(fds: Any) -> list[Any]:
    """Fields whose explicit json_name is the name of a oneof of their message."""
    out: list[Any] = []

    def walk(msgs: Any) -> None:
        for m in msgs:
            oneofs = {o.name for o in m.oneof_decl}
            out.extend(f for f in m.field if f.HasField("json_name") and f.json_name in oneofs)
            walk(m.nested_type)

    for file in fds.file:
        walk(file.message_type)
    return out


def read_descriptor_set(path: str | os.PathLike[str]) -> Schema:
    """A binary FileDescriptorSet (`protoc --descriptor_set_out`, `buf build -o x.binpb`).
    Files that other files of the set import, and that are well-known types, are
    treated as imports and not checked."""
    data = read_bytes(path)  # bounded: /dev/zero is refused, not read until MemoryError
    fds = parse_fds(data, str(path))
    imported = {dep for f in fds.file for dep in f.dependency}
    own = {f.name for f in fds.file
           if not (f.name in imported and f.name.startswith("google/protobuf/"))}
    return Schema(fds, frozenset(own), str(path))
