"""Files on gicmig's terms: bounded reads, and writes that never leave a partial file."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol, TypeAlias

from gicmig.errors import GicmigError
from gicmig.limits import MAX_INPUT


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


class Readable(Protocol):
    """A binary file object: anything whose `read(n)` returns bytes."""

    def read(self, n: int = -1, /) -> bytes: ...


# what every library reader takes: a path (a str is always a path; `-` is stdin), the
# input's bytes, or a binary file object (read from where it stands, up to MAX_INPUT)
Source: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | memoryview | Readable"


def read_source(source: Any, who: str) -> bytes:
    """The bytes of a library input (`Source`), at most MAX_INPUT of them.

    IO-READ when it cannot be read or is larger (with a hint when a str that names no
    file holds JSON text: gicmig before 0.2 read such a str as text); TypeError, naming
    `who` (the function called), for anything that is no `Source`."""
    if isinstance(source, str) and source.lstrip()[:1] in ("{", "[") and \
            not os.path.exists(source):
        raise GicmigError("IO-READ", f"{who}(): no file named {source[:20]!r}...: a str is "
                          "a path; pass JSON text as bytes (text.encode())")
    if isinstance(source, (str, os.PathLike)):
        return read_bytes(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = "the input"
    elif callable(getattr(source, "read", None)):
        name = str(getattr(source, "name", "the file"))
        try:
            data = source.read(MAX_INPUT + 1)
        except OSError as exc:
            raise GicmigError("IO-READ", f"cannot read {name}: {exc.strerror or exc}") from None
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"{who}() reads binary files: {name} returned "
                            f"{type(data).__name__}, open it with 'rb'")
        data = bytes(data)
    else:
        raise TypeError(f"{who}() takes a path (str or os.PathLike), bytes or a binary "
                        f"file, not {type(source).__name__}")
    if len(data) > MAX_INPUT:
        raise GicmigError("IO-READ", f"{name} is larger than {MAX_INPUT} bytes")
    return data


def source_dir(source: Any) -> str | None:
    """The folder of a path `Source` (or of a file object's path name), for the files
    an input names relative to itself; None (the current directory) otherwise."""
    if isinstance(source, (str, os.PathLike)):
        return None if str(source) == "-" else os.path.dirname(os.path.abspath(source))
    name = getattr(source, "name", None)
    if isinstance(name, str) and os.path.isfile(name):
        return os.path.dirname(os.path.abspath(name))
    return None


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
            data = f.read(MAX_INPUT + 1)
        except OSError as exc:
            raise GicmigError("IO-READ", f"cannot read {what} {name!r}: "
                              f"{exc.strerror or exc}") from None
    if len(data) > MAX_INPUT:
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
