"""Files on gicmig's terms: bounded reads, and writes that never leave a partial file."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from gicmig.errors import GicmigError
from gicmig.limits import MAX_INPUT


def read_bytes(source: str | os.PathLike[str]) -> bytes:
    """The bytes of a file, or of stdin for `-`, at most MAX_INPUT of them."""
    try:
        if str(source) == "-":
            data = _read_bounded(sys.stdin.buffer)
        else:
            with open(source, "rb") as f:
                data = _read_bounded(f)
    except OSError as exc:
        raise GicmigError("IO-READ", f"cannot read {source}: {exc.strerror or exc}") from None
    if data is None:
        raise GicmigError("IO-READ", f"{source} is larger than {MAX_INPUT} bytes")
    return data


_CHUNK = 1 << 20


def _read_bounded(f: IO[bytes]) -> bytes | None:
    """At most MAX_INPUT + 1 bytes of `f`, read in chunks: `f.read(MAX_INPUT + 1)` would
    allocate 64 MiB for any input, however small (a pipe or a FIFO has no size to ask). A
    regular file larger than MAX_INPUT is not read at all; from a device or a pipe, reading
    stops at MAX_INPUT + 1 bytes, never joined into a second copy. None: over the limit."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        info = os.fstat(f.fileno())
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_INPUT:
            return None
    parts: list[bytes] = []
    total = 0
    while total <= MAX_INPUT:
        part = f.read(min(_CHUNK, MAX_INPUT + 1 - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    if total > MAX_INPUT:
        return None
    return parts[0] if len(parts) == 1 else b"".join(parts)



def read_below(base_dir: str | None, name: str, what: str) -> bytes:
    """The bytes of the file `name` that another input (a GICH view) names: only a
    regular file below `base_dir` (default: the current directory), reached by a
    relative path that stays inside it, never through a symlink out of it, never a FIFO
    or device (opened without blocking, so a FIFO cannot hang the read). IO-READ if not.
    """
    base = os.path.realpath(base_dir or ".")
    if os.path.isabs(name) or "\0" in name:
        raise GicmigError("IO-READ", f"{what} {name!r}: not a path relative to the folder of "
                          "the file that names it")
    path = os.path.join(base, name)
    real = os.path.realpath(path)
    if os.path.commonpath([base, real]) != base:
        raise GicmigError("IO-READ", f"{what} {name!r} is outside the folder of the file "
                          "that names it (only files below it are read)")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError as exc:
        raise GicmigError("IO-READ", f"cannot read {what} {name!r}: "
                          f"{exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise GicmigError("IO-READ", f"{what} {name!r} is not a regular file")
    with os.fdopen(fd, "rb") as f:
        try:
            data = _read_bounded(f)
        except OSError as exc:
            raise GicmigError("IO-READ", f"cannot read {what} {name!r}: "
                              f"{exc.strerror or exc}") from None
    if data is None:
        raise GicmigError("IO-READ", f"{what} {name!r} is larger than {MAX_INPUT} bytes")
    return data


def regular_below(base: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a regular file whose real path lies below the folder `base`
    (a file found by walking a folder: never follow a symlink out of it)."""
    root = os.path.realpath(base)
    real = os.path.realpath(path)
    try:
        return os.path.commonpath([root, real]) == root and \
            stat.S_ISREG(os.stat(real).st_mode)
    except (OSError, ValueError):
        return False


def write_stdout(data: bytes) -> None:
    """`data` on stdout; IO-WRITE (not an OSError) when stdout cannot take it (disk full)."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise GicmigError("IO-WRITE", f"cannot write to stdout: {exc.strerror or exc}") from None


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` (`-`: stdout) so that a failure leaves no partial file.

    A regular file is replaced atomically (through a symlink, its target is); a device,
    FIFO or /dev/fd/N is written in place, since renaming over it would replace it.
    """
    if str(path) == "-":
        write_stdout(data)
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
        try:
            with os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0) as out:
                yield out
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise GicmigError("IO-WRITE",
                              f"cannot write to stdout: {exc.strerror or exc}") from None
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
