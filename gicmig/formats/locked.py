"""Locked schema revisions, as a reader of blobs needs them: where the locks are, what a
lock manifest says, and the descriptor set bytes it guards (digest checked).

A lock is two files in a locks folder:

    schema-revision-N.binpb  FileDescriptorSet (imports and source info included) of the
                             .proto files as they were when revision N was locked
    schema-revision-N.json   {"revision": N, "files": [the checked files], "sha256": of the
                             .binpb, "locked": ISO date}

gicmig's own locks ship inside the package (`gicmig/data/`), so that the codec knows what
every older revision can hold, also when installed from a wheel. The schema-check tooling
(`gicmig.schemacheck.locks`) builds on this module: it writes locks and compares them;
the format layer only reads them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from gicmig.errors import GicmigError
from gicmig.files import read_below
from gicmig.limits import loads_json

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "data"
MANIFEST_NAME = re.compile(r"^schema-revision-([1-9][0-9]{0,5})\.json$")
DESCRIPTOR_NAME = re.compile(r"^schema-revision-([1-9][0-9]*)\.binpb$")


def manifest_path(directory: Path, revision: int) -> Path:
    return directory / f"schema-revision-{revision}.json"


@dataclass(frozen=True)
class LockRecord:
    """What one lock manifest records (the descriptor set is read on demand)."""

    revision: int
    descriptor_path: Path
    files: tuple[str, ...]
    sha256: str
    locked: str

    def descriptor_bytes(self) -> bytes:
        """The locked FileDescriptorSet's bytes, refused unless their digest is the lock's."""
        # bounded, and only a regular file inside the locks folder (never a FIFO, a device
        # or a symlink out of it): a locks folder given with --locks is an input
        data = read_below(str(self.descriptor_path.parent), self.descriptor_path.name,
                          "locked descriptor set")
        got = hashlib.sha256(data).hexdigest()
        if got != self.sha256:
            raise GicmigError("SCHEMA-LOCK-CORRUPT",
                              f"{self.descriptor_path}: sha256 {got[:16]}…, the lock records "
                              f"{self.sha256[:16]}… (a lock is never edited)")
        return data


R = TypeVar("R", bound=LockRecord)


def read_lock(manifest: Path, cls: type[R]) -> R:
    """The lock `manifest` describes, as a `cls` (LockRecord or a subclass)."""
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
    m = MANIFEST_NAME.match(manifest.name)
    if m is None or int(m.group(1)) != revision:
        raise GicmigError("SCHEMA-LOCK-CORRUPT",
                          f"{manifest}: records revision {revision}, its name says otherwise")
    return cls(revision, manifest.with_suffix(".binpb"), files, digest, locked)


def list_locks(directory: str | os.PathLike[str], cls: type[R], *,
               missing_ok: bool = False) -> list[R]:
    """Every lock in `directory`, oldest first (revisions must be 1..N without gaps)."""
    base = Path(directory)
    if missing_ok and not base.exists():
        return []
    if not base.is_dir():
        raise GicmigError("IO-READ", f"locks folder {base} does not exist")
    locks = sorted((read_lock(p, cls) for p in base.iterdir() if MANIFEST_NAME.match(p.name)),
                   key=lambda lk: lk.revision)
    for want, lk in enumerate(locks, start=1):
        if lk.revision != want:
            raise GicmigError("SCHEMA-LOCK-CORRUPT",
                              f"{base}: revision {want} is missing (found {lk.revision})")
    return locks


def get_lock(revision: int, directory: str | os.PathLike[str], cls: type[R]) -> R:
    locks = list_locks(directory, cls)
    if not 1 <= revision <= len(locks):
        raise GicmigError("SCHEMA-REVISION-UNKNOWN",
                          f"schema revision {revision} is not locked (locked: 1..{len(locks)})")
    return locks[revision - 1]


@functools.cache
def field_numbers(revision: int) -> dict[str, frozenset[int]]:
    """Message full name -> the field numbers gicmig's locked revision `revision` defines."""
    from google.protobuf import descriptor_pb2

    lock = get_lock(revision, DEFAULT_DIR, LockRecord)
    fds = descriptor_pb2.FileDescriptorSet()
    try:
        fds.ParseFromString(lock.descriptor_bytes())  # digest checked: the bytes are the lock's
    except Exception as exc:  # upb's DecodeError
        raise GicmigError("SCHEMA-LOCK-CORRUPT",
                          f"{lock.descriptor_path} is not a FileDescriptorSet: {exc}") from None
    out: dict[str, frozenset[int]] = {}

    def walk(msgs: Any, scope: str) -> None:
        for m in msgs:
            name = scope + m.name
            out[name] = frozenset(f.number for f in m.field)
            walk(m.nested_type, name + ".")

    for file in fds.file:
        walk(file.message_type, f"{file.package}." if file.package else "")
    return out
