"""Files on gicmig's terms: bounded reads, and writes that never leave a partial file."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, Protocol, TypeAlias

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
    return _read_chunks(f)


def _read_chunks(f: Readable) -> bytes | None:
    """`_read_bounded` without the size check (a file object is read from where it stands)."""
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
            probe = source.read(0)  # the type of what it reads, without reading any
            if not isinstance(probe, (bytes, bytearray)):
                raise TypeError(f"{who}() reads binary files: {name} returned "
                                f"{type(probe).__name__}, open it with 'rb'")
            chunks = _read_chunks(source)  # never one MAX_INPUT allocation for a small input
        except OSError as exc:
            raise GicmigError("IO-READ", f"cannot read {name}: {exc.strerror or exc}") from None
        if chunks is None:
            raise GicmigError("IO-READ", f"{name} is larger than {MAX_INPUT} bytes")
        data = bytes(chunks)
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

    A regular file (or a new one), wherever it is (also under /dev/shm), is replaced
    atomically: written to an unnamed file in its folder (O_TMPFILE), synced, and given
    its name only when complete, so that neither an error nor a SIGKILL can leave a
    partial output or a temporary file behind (through a symlink, its target is
    replaced). Where the filesystem has no O_TMPFILE, a named `.NAME.XXXXXXXX` file beside
    it is used instead and removed on any error (a SIGKILL can leave that one behind).
    Only a character device (/dev/null), a FIFO, an open descriptor (/dev/fd/N,
    /dev/stdout) and `-` (stdout) are written in place: renaming over them would replace
    them. A directory, a block device or a socket is refused (IO-WRITE).
    """
    if str(path) == "-":
        sys.stdout.flush()
        try:
            with os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0) as out:
                yield out
        except (BrokenPipeError, GicmigError):  # a FileError is an OSError too: keep its code
            raise
        except OSError as exc:
            raise GicmigError("IO-WRITE",
                              f"cannot write to stdout: {exc.strerror or exc}") from None
        return
    target = Path(path)
    try:
        in_place = written_in_place(target)
        if not in_place:
            target = target.resolve() if target.is_symlink() else target  # a link stays one
            repl = _Replacement(target)
    except OSError as exc:
        raise GicmigError("IO-WRITE", f"cannot write {path}: {exc.strerror or exc}") from None
    if in_place:
        try:
            with open(target, "wb", buffering=0) as f:
                yield f
        except GicmigError:  # raised by the block (a FileError is an OSError too)
            raise
        except OSError as exc:
            raise GicmigError("IO-WRITE",
                              f"cannot write {path}: {exc.strerror or exc}") from None
        return
    try:
        with repl.file as f:
            yield f
            os.fsync(f.fileno())
            repl.commit()
    except BaseException as exc:
        repl.discard()
        if isinstance(exc, OSError) and not isinstance(exc, GicmigError):
            raise GicmigError("IO-WRITE",
                              f"cannot write {path}: {exc.strerror or exc}") from None
        raise  # the block's own error (also a FileError: IO-READ stays IO-READ)
    finally:
        os.close(repl.folder)


class _Replacement:
    """The file that will replace `target`: unnamed until `commit` (O_TMPFILE), or, where
    the filesystem lacks O_TMPFILE, a hidden named file beside it."""

    def __init__(self, target: Path) -> None:
        self.name = target.name
        self.folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        self.temp: str | None = None
        try:
            fd = self._unnamed()
            if fd is None:
                self.temp = f".{self.name}.{secrets.token_hex(4)}"
                fd = os.open(self.temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                             0o666, dir_fd=self.folder)  # the umask applies, as to any file
        except BaseException:
            os.close(self.folder)
            raise
        self.file = os.fdopen(fd, "wb", buffering=0)

    def _unnamed(self) -> int | None:
        flag = getattr(os, "O_TMPFILE", 0)
        if not flag or not os.path.isdir(_PROC_FD):
            return None
        try:
            return os.open(".", flag | os.O_RDWR, 0o666, dir_fd=self.folder)
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                return None  # a filesystem (or kernel) without O_TMPFILE: a named file
            raise

    def commit(self) -> None:
        """Give the complete, synced file its name, replacing what had it."""
        if self.temp is None:
            source = f"{_PROC_FD}/{self.file.fileno()}"
            try:  # a new output appears whole, in one step
                os.link(source, self.name, dst_dir_fd=self.folder, follow_symlinks=True)
                return
            except FileExistsError:
                pass
            # linkat cannot replace: link under a hidden name and rename it over (only a
            # SIGKILL between these two calls could leave the hidden name behind)
            self.temp = f".{self.name}.{secrets.token_hex(4)}"
            os.link(source, self.temp, dst_dir_fd=self.folder, follow_symlinks=True)
        os.replace(self.temp, self.name, src_dir_fd=self.folder, dst_dir_fd=self.folder)
        self.temp = None

    def discard(self) -> None:
        self.file.close()
        if self.temp is not None:
            with suppress(OSError):
                os.unlink(self.temp, dir_fd=self.folder)


_PROC_FD = "/proc/self/fd"
# paths that name an open descriptor, not a file: written in place, never replaced
_DESCRIPTORS = ("/dev/fd/", "/dev/stdout", "/dev/stderr", "/proc/self/fd/", "/proc/thread-self/")


def written_in_place(target: Path) -> bool:
    """Whether `open_atomic` writes `target` in place (a character device, a FIFO, an
    open descriptor); OSError for what cannot be an output (a directory, a block device,
    a socket). False for a regular file or a new one: those are replaced atomically."""
    if str(target).startswith(_DESCRIPTORS):
        return True
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISREG(mode):
        return False
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return True
    kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file, device or FIFO"
    raise OSError(errno.EINVAL, f"{target} is {kind}")


@contextmanager
def scratch_folder(prefix: str) -> Iterator[str]:
    """A private temporary folder that is removed however this process ends: on leaving
    the block, and also when it is killed (SIGKILL, SIGTERM), by a watcher process forked
    for it, which waits for this process's end of a pipe to close (`git archive` output
    must be extracted somewhere for protoc to read)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the watcher: tests/test_hostile_promises.py kills)
        try:
            os.setsid()  # not killed with its parent's process group
            os.close(w)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.closerange(3, r)
            os.closerange(r + 1, 1 << 16)  # its parent's other pipes: let them close
            os.read(r, 1)  # b"" once every copy of w is closed: the parent is done or dead
            shutil.rmtree(tmp, ignore_errors=True)
        finally:
            os._exit(0)
    os.close(r)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(w)
        os.waitpid(pid, 0)
