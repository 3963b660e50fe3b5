"""A schema to compare: compiled from a proto folder, or read from a descriptor set or lock.

Proto folders are compiled with `grpc_tools.protoc` (the protoc that grpcio-tools ships,
so no system compiler is needed) into a `FileDescriptorSet` with source info, which is
what the rules read line and column numbers from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gicmig.errors import GicmigError


@dataclass(frozen=True)
class Schema:
    """A set of .proto files as descriptors: `files` are the ones being checked (not
    their imports); `label` says where the schema came from, for messages."""

    fds: Any  # google.protobuf.descriptor_pb2.FileDescriptorSet
    files: frozenset[str]
    label: str
    revision: int | None = None
    root: str | None = None  # the proto folder it was compiled from, for clickable paths

    def display_path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}" if self.root else name

    def own_files(self) -> list[Any]:
        return [f for f in self.fds.file if f.name in self.files]


def compile_dir(root: str | os.PathLike[str]) -> Schema:
    """Compile every .proto under `root` (import paths relative to `root`)."""
    base = Path(root)
    if not base.is_dir():
        raise GicmigError("SCHEMA-INPUT", f"{root} is not a folder of .proto files")
    protos = sorted(p.relative_to(base).as_posix() for p in base.rglob("*.proto"))
    if not protos:
        raise GicmigError("SCHEMA-INPUT", f"{root} holds no .proto files")
    data = _protoc(base, protos)
    return Schema(parse_fds(data, str(root)), frozenset(protos), str(root), root=str(root))


def _protoc(base: Path, protos: list[str]) -> bytes:
    try:
        from grpc_tools import protoc
    except ImportError:
        raise GicmigError("SCHEMA-COMPILER-MISSING",
                          "compiling .proto files needs grpcio-tools "
                          "(pip install grpcio-tools), or pass a descriptor set") from None
    include = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory(prefix="gicmig-schema-") as tmp:
        out = Path(tmp) / "set.binpb"
        cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{base}", f"-I{include}",
               "--include_imports", "--include_source_info",
               f"--descriptor_set_out={out}", *protos]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            first = (proc.stderr.strip().splitlines() or ["protoc failed"])[0]
            raise GicmigError("SCHEMA-COMPILE", f"{base}: {first}")
        return out.read_bytes()


def parse_fds(data: bytes, label: str) -> Any:
    from google.protobuf import descriptor_pb2

    fds = descriptor_pb2.FileDescriptorSet()
    try:
        fds.ParseFromString(data)
    except Exception as exc:  # upb's DecodeError, or anything a corrupt file provokes
        raise GicmigError("SCHEMA-INPUT",
                          f"{label} is not a FileDescriptorSet: {exc}") from None
    if not fds.file or any(not f.name for f in fds.file):
        raise GicmigError("SCHEMA-INPUT", f"{label} is not a FileDescriptorSet (no named files)")
    _check_consistent(fds, label)
    return fds


def _check_consistent(fds: Any, label: str) -> None:
    # the rules index descriptors by number and name; a set that protobuf itself cannot
    # load (dangling type names, oneof indexes out of range, ...) is refused up front
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.DescriptorPool()
    try:
        for f in fds.file:
            pool.Add(f)
        for f in fds.file:
            pool.FindFileByName(f.name)
    except Exception as exc:  # TypeError/KeyError from upb: all mean "not loadable"
        raise GicmigError("SCHEMA-INPUT",
                          f"{label}: inconsistent descriptor set ({exc})") from None


def read_descriptor_set(path: str | os.PathLike[str]) -> Schema:
    """A binary FileDescriptorSet (`protoc --descriptor_set_out`, `buf build -o x.binpb`).
    Files that other files of the set import, and that are well-known types, are
    treated as imports and not checked."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise GicmigError("IO-READ", f"cannot read {path}: {exc.strerror or exc}") from None
    fds = parse_fds(data, str(path))
    imported = {dep for f in fds.file for dep in f.dependency}
    own = {f.name for f in fds.file
           if not (f.name in imported and f.name.startswith("google/protobuf/"))}
    return Schema(fds, frozenset(own), str(path))


def load(path: str | os.PathLike[str]) -> Schema:
    """A proto folder or a descriptor set file (a lock's `.binpb` is one)."""
    if Path(path).is_dir():
        return compile_dir(path)
    from gicmig.schemacheck import locks

    lock = locks.lock_for_file(Path(path))
    return lock.schema() if lock is not None else read_descriptor_set(path)
