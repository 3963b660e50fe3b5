"""Files on gicmig's terms: bounded reads, and writes that never leave a partial file."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

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
    target = Path(path)
    if _not_a_regular_file(target):
        _write_in_place(target, data)
        return
    target = target.resolve() if target.is_symlink() else target  # keep the link a link
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 is not what users expect
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise GicmigError("IO-WRITE", f"cannot write {path}: {exc.strerror or exc}") from None


def _not_a_regular_file(target: Path) -> bool:
    """Devices, FIFOs, sockets and /dev/fd/N: a rename would replace them, not write to
    them (for /dev/null as root, for good)."""
    if str(target).startswith(("/dev/", "/proc/")):
        return True
    return target.exists() and not target.is_file()


def _write_in_place(target: Path, data: bytes) -> None:
    try:
        with open(target, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise GicmigError("IO-WRITE", f"cannot write {target}: {exc.strerror or exc}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
