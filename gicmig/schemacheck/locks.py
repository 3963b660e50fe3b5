"""Locked schema revisions: each released revision of a proto set, frozen.

What a lock is, and reading one, belong to the format layer (`gicmig.formats.locked`: the
codec needs the older revisions too); this module adds what the schema-check tooling does
with locks: read one as a `Schema`, find the lock of a descriptor set file, and append the
next revision (`lock_next`; a lock is never rewritten).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from gicmig.formats import locked
from gicmig.formats.locked import DEFAULT_DIR, LockRecord
from gicmig.schemacheck.sources import Schema, compile_dir, parse_fds, read_descriptor_set

__all__ = ["DEFAULT_DIR", "Lock", "get_lock", "list_locks", "load_schema", "lock_for_file",
           "lock_next", "read_lock", "same_schema"]


class Lock(LockRecord):
    """A lock, readable as a `Schema` (the reading itself is the format layer's:
    `gicmig.formats.locked`)."""

    def schema(self) -> Schema:
        data = self.descriptor_bytes()
        fds = parse_fds(data, str(self.descriptor_path))
        return Schema(fds, frozenset(self.files), f"revision {self.revision}", self.revision)


def read_lock(manifest: Path) -> Lock:
    return locked.read_lock(manifest, Lock)


def list_locks(directory: str | os.PathLike[str] = DEFAULT_DIR, *,
               missing_ok: bool = False) -> list[Lock]:
    """Every lock in `directory`, oldest first (revisions must be 1..N without gaps)."""
    return locked.list_locks(directory, Lock, missing_ok=missing_ok)


def get_lock(revision: int, directory: str | os.PathLike[str] = DEFAULT_DIR) -> Lock:
    return locked.get_lock(revision, directory, Lock)


def lock_for_file(path: Path) -> Lock | None:
    """The lock whose descriptor set `path` is, if it sits next to its manifest."""
    m = locked.DESCRIPTOR_NAME.match(path.name)
    manifest = path.with_suffix(".json")
    if m is None or not manifest.is_file():
        return None
    return read_lock(manifest)


def same_schema(a: Any, b: Any) -> bool:
    """Equal descriptor sets once source info (comments, positions) is ignored."""
    return _stripped(a) == _stripped(b)


def _stripped(fds: Any) -> bytes:
    from google.protobuf import descriptor_pb2

    copy = descriptor_pb2.FileDescriptorSet()
    copy.CopyFrom(fds)
    for f in copy.file:
        f.ClearField("source_code_info")
    data: bytes = copy.SerializeToString(deterministic=True)
    return data


def lock_next(proto_dir: str | os.PathLike[str],
              directory: str | os.PathLike[str] = DEFAULT_DIR,
              today: datetime.date | None = None) -> Lock | None:
    """Record `proto_dir` as revision max+1; None when it equals the newest lock."""
    from gicmig.files import write_atomic

    schema = compile_dir(proto_dir)
    existing = list_locks(directory, missing_ok=True)
    if existing and same_schema(existing[-1].schema().fds, schema.fds):
        return None
    revision = len(existing) + 1
    data: bytes = schema.fds.SerializeToString(deterministic=True)
    base = Path(directory)
    base.mkdir(parents=True, exist_ok=True)
    lock = Lock(revision, base / f"schema-revision-{revision}.binpb", tuple(sorted(schema.files)),
                hashlib.sha256(data).hexdigest(),
                (today or datetime.datetime.now(datetime.timezone.utc).date()).isoformat())
    write_atomic(lock.descriptor_path, data)
    record = {"revision": lock.revision, "files": list(lock.files), "sha256": lock.sha256,
              "locked": lock.locked}
    manifest = (json.dumps(record, indent=2) + "\n").encode()
    write_atomic(locked.manifest_path(base, revision), manifest)
    return lock


def load_schema(path: str | os.PathLike[str]) -> Schema:
    """A proto folder, a lock's descriptor set (checked against its manifest) or any other
    descriptor set file."""
    if Path(path).is_dir():
        return compile_dir(path)
    lock = lock_for_file(Path(path))
    return lock.schema() if lock is not None else read_descriptor_set(path)
