"""Locked schema revisions: each released revision of a proto set, frozen.

A lock is two files in a locks folder:

    schema-revision-N.binpb  FileDescriptorSet (imports and source info included) of the
                             .proto files as they were when revision N was locked
    schema-revision-N.json   {"revision": N, "files": [the checked files], "sha256": of the
                             .binpb, "locked": ISO date}

gicmig's own locks ship inside the package (`gicmig/data/`), so that `gicmig compat`
knows what every older revision can hold, also when installed from a wheel. A lock is
never rewritten: `lock_next` only appends revision max+1.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gicmig.errors import GicmigError
from gicmig.schemacheck.sources import Schema, compile_dir, parse_fds, read_descriptor_set

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "data"
_NAME = re.compile(r"^schema-revision-([1-9][0-9]{0,5})\.json$")


@dataclass(frozen=True)
class Lock:
    revision: int
    descriptor_path: Path
    files: tuple[str, ...]
    sha256: str
    locked: str

    def schema(self) -> Schema:
        from gicmig.files import read_below

        data = read_below(str(self.descriptor_path.parent), self.descriptor_path.name,
                          "locked descriptor set")
        got = hashlib.sha256(data).hexdigest()
        if got != self.sha256:
            raise GicmigError("SCHEMA-LOCK-CORRUPT",
                              f"{self.descriptor_path}: sha256 {got[:16]}…, the lock records "
                              f"{self.sha256[:16]}… (a lock is never edited)")
        fds = parse_fds(data, str(self.descriptor_path))
        return Schema(fds, frozenset(self.files), f"revision {self.revision}", self.revision)


def _manifest_path(directory: Path, revision: int) -> Path:
    return directory / f"schema-revision-{revision}.json"


def read_lock(manifest: Path) -> Lock:
    from gicmig.files import read_below
    from gicmig.limits import loads_json

    # bounded, and only a regular file inside the locks folder (never a FIFO or a symlink
    # out of it): a locks folder is an input like any other
    data = read_below(str(manifest.parent), manifest.name, "lock manifest")
    try:
        record = loads_json(data)
        revision = int(record["revision"])
        files = tuple(str(f) for f in record["files"])
        digest = str(record["sha256"])
        locked = str(record.get("locked", ""))
    except (ValueError, KeyError, TypeError) as exc:
        raise GicmigError("SCHEMA-LOCK-CORRUPT", f"{manifest}: not a lock manifest ({exc})"
                          ) from None
    m = _NAME.match(manifest.name)
    if m is None or int(m.group(1)) != revision:
        raise GicmigError("SCHEMA-LOCK-CORRUPT",
                          f"{manifest}: records revision {revision}, its name says otherwise")
    return Lock(revision, manifest.with_suffix(".binpb"), files, digest, locked)


def list_locks(directory: str | os.PathLike[str] = DEFAULT_DIR, *,
               missing_ok: bool = False) -> list[Lock]:
    """Every lock in `directory`, oldest first (revisions must be 1..N without gaps)."""
    base = Path(directory)
    if missing_ok and not base.exists():
        return []
    if not base.is_dir():
        raise GicmigError("IO-READ", f"locks folder {base} does not exist")
    locks = sorted((read_lock(p) for p in base.iterdir() if _NAME.match(p.name)),
                   key=lambda lk: lk.revision)
    for want, lk in enumerate(locks, start=1):
        if lk.revision != want:
            raise GicmigError("SCHEMA-LOCK-CORRUPT",
                              f"{base}: revision {want} is missing (found {lk.revision})")
    return locks


def get_lock(revision: int, directory: str | os.PathLike[str] = DEFAULT_DIR) -> Lock:
    locks = list_locks(directory)
    if not 1 <= revision <= len(locks):
        raise GicmigError("SCHEMA-REVISION-UNKNOWN",
                          f"schema revision {revision} is not locked (locked: 1..{len(locks)})")
    return locks[revision - 1]


def lock_for_file(path: Path) -> Lock | None:
    """The lock whose descriptor set `path` is, if it sits next to its manifest."""
    m = re.match(r"^schema-revision-([1-9][0-9]*)\.binpb$", path.name)
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
    write_atomic(_manifest_path(base, revision), (json.dumps(record, indent=2) + "\n").encode())
    return lock


def load_schema(path: str | os.PathLike[str]) -> Schema:
    """A proto folder, a lock's descriptor set (checked against its manifest) or any other
    descriptor set file."""
    if Path(path).is_dir():
        return compile_dir(path)
    lock = lock_for_file(Path(path))
    return lock.schema() if lock is not None else read_descriptor_set(path)
