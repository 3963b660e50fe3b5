"""Files on gicmig's terms: bounded reads, and writes that never leave a partial file."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from gicmig.errors import GicmigError

MAX_INPUT = 64 << 20  # blobs are ~6 KiB, fixtures ~200 KiB; refuse anything absurd


def read_bytes(source: str | os.PathLike[str]) -> bytes:
    """The bytes of a file, or of stdin for `-`, at most MAX_INPUT of them."""
    try:
        if str(source) == "-":
            data: bytes = sys.stdin.buffer.read(MAX_INPUT + 1)
        else:
            with open(source, "rb") as f:
                data = f.read(MAX_INPUT + 1)
    except OSError as exc:
        raise GicmigError("IO-READ", f"cannot read {source}: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT:
        raise GicmigError("IO-READ", f"{source} is larger than {MAX_INPUT} bytes")
    return data


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` (`-`: stdout) so that a failure leaves no partial file.

    A regular file is replaced atomically (through a symlink, its target is); a device,
    FIFO or /dev/fd/N is written in place, since renaming over it would replace it.
    """
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with open_atomic(path) as f:
        f.write(data)


@contextmanager
def open_atomic(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """An unbuffered binary file that becomes `path` when the block ends without an
    error (`write_atomic` for outputs written piece by piece, e.g. gigabyte streams).

    A regular file is written to a temporary file beside it, synced and renamed over it
    (through a symlink, its target is); a device, FIFO or /dev/fd/N is written in place;
    `-` is stdout. On an error the temporary file is removed and `path` is unchanged.
    """
    if str(path) == "-":
        sys.stdout.flush()
        with os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0) as out:
            yield out
        return
    target = Path(path)
    try:
        if _not_a_regular_file(target):
            with open(target, "wb", buffering=0) as f:
                yield f
            return
        target = target.resolve() if target.is_symlink() else target  # keep the link a link
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    except OSError as exc:
        raise GicmigError("IO-WRITE", f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb", buffering=0) as f:
            yield f
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 is not what users expect
        os.replace(tmp, target)
    except OSError as exc:
        os.unlink(tmp)
        raise GicmigError("IO-WRITE", f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        os.unlink(tmp)
        raise


def _not_a_regular_file(target: Path) -> bool:
    """Devices, FIFOs, sockets and /dev/fd/N: a rename would replace them, not write to
    them (for /dev/null as root, for good)."""
    if str(target).startswith(("/dev/", "/proc/")):
        return True
    return target.exists() and not target.is_file()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
