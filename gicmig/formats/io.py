"""gicmig states as files: telling blob from fixture, loading, rendering and dumping."""

from __future__ import annotations

import os

from gicmig.core.model import GicState
from gicmig.errors import DecodeError
from gicmig.files import Source, read_source, write_atomic

QEMU_MAGIC = b"QEVM"


def sniff(data: bytes) -> str:
    """`blob`, `json`, `qemu` or `unknown`, from the first bytes."""
    from gicmig.formats.envelope import MAGIC
    from gicmig.limits import BOM

    if data.startswith(MAGIC[:4]):
        return "blob"
    if data.startswith(QEMU_MAGIC):
        return "qemu"
    if data.removeprefix(BOM).lstrip()[:1] == b"{":  # a BOM: loads_json refuses it
        return "json"
    return "unknown"


def load(source: Source, *, allow_unknown: bool = False) -> GicState:
    """A validated state from a .gicmig blob or a JSON fixture, told apart by content.

    `source` is a path (a str is always a path; `-` is stdin), the file's bytes, or a
    binary file object (read up to MAX_INPUT bytes from where it stands).

    >>> state = gicmig.load("fixtures/v1/busy.json")
    >>> with open("fixtures/v1/busy.gicmig", "rb") as f:
    ...     gicmig.load(f) == state
    True
    """
    data = read_source(source, "load")
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


def dump(state: GicState, path: str | os.PathLike[str], fmt: str | None = None) -> None:
    """Write `state` atomically (`-`: stdout); the format follows the extension unless
    `fmt` is given."""
    write_atomic(path, render(state, format_for(str(path)) if fmt is None else fmt))
