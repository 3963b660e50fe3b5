"""Reading and writing gicmig files: format sniffing, bounded reads, atomic writes."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from gicmig.core.model import GicState
from gicmig.errors import DecodeError, GicmigError

MAX_INPUT = 64 << 20  # blobs are ~6 KiB, fixtures ~200 KiB; refuse anything absurd
QEMU_MAGIC = b"QEVM"


def sniff(data: bytes) -> str:
    """`blob`, `json`, `qemu` or `unknown`, from the first bytes."""
    from gicmig.formats.envelope import MAGIC

    if data.startswith(MAGIC[:4]):
        return "blob"
    if data.startswith(QEMU_MAGIC):
        return "qemu"
    if data.lstrip()[:1] == b"{":
        return "json"
    return "unknown"


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


def load(source: str | os.PathLike[str] | bytes, *, allow_unknown: bool = False) -> GicState:
    """A validated state from a .gicmig blob or a JSON fixture (path, `-` or bytes).

    >>> state = gicmig.load("fixtures/v1/busy.json")
    """
    data = source if isinstance(source, bytes) else read_bytes(source)
    kind = sniff(data)
    if kind == "blob":
        from gicmig.formats.codec import decode

        return decode(data, allow_unknown=allow_unknown)
    if kind == "json":
        from gicmig.formats.fixture import from_json

        return from_json(data)
    hint = " (a QEMU migration stream: use `gicmig import qemu`)" if kind == "qemu" else ""
    raise DecodeError("INPUT-FORMAT-UNKNOWN",
                      f"neither a .gicmig blob nor a JSON fixture{hint}", offset=0)


def render(state: GicState, fmt: str) -> bytes:
    """The bytes of `state` as a `blob` or a `json` fixture."""
    if fmt == "json":
        from gicmig.formats.fixture import to_json

        return to_json(state).encode()
    from gicmig.formats.codec import encode

    return encode(state)


def format_for(path: str) -> str:
    """`json` for *.json and for `-` (stdout: readable, and every reader takes it), else
    `blob`."""
    return "json" if path == "-" or path.endswith(".json") else "blob"


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


def dump(state: GicState, path: str | os.PathLike[str], fmt: str | None = None) -> None:
    """Write `state` atomically; the format follows the extension unless `fmt` is given.

    `-` is stdout: a blob there is for a pipe, so it is refused on a terminal.
    """
    fmt = fmt or format_for(str(path))
    if str(path) == "-" and fmt == "blob" and sys.stdout.isatty():
        raise GicmigError("USAGE", "refusing to write a binary blob to a terminal: "
                                   "use -o FILE (or -o FILE.json), or a pipe")
    write_atomic(path, render(state, fmt))
