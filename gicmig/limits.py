"""The limits gicmig reads untrusted input with, declared once (docs/security.md).

Every reader applies these, whatever its format: no input, however crafted, makes gicmig
hold more than about 64 MiB plus a small multiple of the input, or read forever.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_INPUT = 64 << 20  # any input read whole (blobs are ~6 KiB, fixtures ~200 KiB)
# JSON text read whole: Python's objects take up to ~24x the text (measured: a list of
# empty objects; tests/test_hostile_memory.py), so 2 MiB of JSON stays below 64 MiB (the
# largest real JSON input, a two-vCPU KVM dump, is 35 KiB)
MAX_JSON = 2 << 20
# YAML (buf.yaml, buf.work.yaml: a few hundred bytes) costs Python up to ~230x its text
# (measured: a flow list of empty mappings, libyaml's loader), so 64 KiB stays below 16 MiB
MAX_YAML = 64 << 10
MAX_INT_DIGITS = 40  # digits of a JSON integer (a u64 has 20); Python refuses > 4300
BOM = b"\xef\xbb\xbf"  # refused at the start of any JSON input (docs/security.md)
MAX_PAYLOAD = 1 << 20  # a blob's payload: a full GICv2 state is ~6 KiB; near 1 MiB is not one
MAX_COUNT = 4096  # items of any list whose length a binary input declares


def is_int(value: Any) -> bool:
    """Whether a JSON value is an integer where a format says integer: not `true`
    (Python's bool is an int), not `2.0`, not `"2"`."""
    return isinstance(value, int) and not isinstance(value, bool)


class LimitExceeded(ValueError):
    """An input beyond one of gicmig's limits (readers map it to their reason code)."""


def loads_json(text: str | bytes, *, unique_keys: bool = True, **hooks: Any) -> Any:
    """`json.loads` within the limits: at most MAX_JSON bytes, integers of at most
    MAX_INT_DIGITS digits, no lone surrogate in any string, no key twice in one object
    (JSON leaves that undefined; Python would keep the last silently), no nesting deeper
    than Python's recursion limit (about 1000 levels). Every refusal is a
    ValueError (LimitExceeded or json.JSONDecodeError), as json.loads' own are.

    `unique_keys=False` lets a key repeat (the last wins), for a document only a hint to
    gicmig that no other program reads (QEMU's vmdesc): refusing them protects readers
    that two programs could read differently, and costs a Python call per object.
    """
    if len(text) > MAX_JSON:
        raise LimitExceeded(f"{len(text)} bytes of JSON, more than the {MAX_JSON} gicmig reads")
    if text[:1] == "\ufeff" or text[:3] == BOM:  # bytes and text alike (json.loads differs)
        raise json.JSONDecodeError("a UTF-8 byte order mark starts the text: JSON must not "
                                   "have one (RFC 8259 8.1), remove it", "", 0)
    duplicated = False

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicated
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        duplicated = True
        return _Duplicated(obj, pairs)

    if _may_hold_long_int(text):  # else the per-integer hook cannot find anything: skip it
        hooks.setdefault("parse_int", _int)
    try:
        doc = json.loads(text, object_pairs_hook=unique, **hooks) if unique_keys else \
            json.loads(text, **hooks)
    except RecursionError:  # `[[[[...` deeper than the interpreter's recursion limit
        raise LimitExceeded("arrays or objects nested too deeply") from None
    if duplicated or _may_hold_surrogate(text):
        _locate(doc)  # a second walk, only then, names the place
    return doc


class _Duplicated(dict[str, Any]):
    """An object that held a key twice (`_locate` refuses it, naming its place)."""

    def __init__(self, obj: dict[str, Any], pairs: list[tuple[str, Any]]) -> None:
        super().__init__(obj)
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                break
            seen.add(key)
        self.key = key


# a surrogate code point: escaped (valid pairs too, sorted out by the walk) or, in bytes,
# encoded (json.loads decodes bytes with surrogatepass). Each pattern is searched only
# when its first byte occurs (a one-byte `in` is memchr; an alternation makes `re` try
# every position of the text: 0.96 M instructions on QEMU's 17 KB vmdesc, which has no
# backslash and no 0xed byte at all)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_ENCODED_BYTES = re.compile(rb"\xed[\xa0-\xbf]")  # UTF-8 of U+D800..U+DFFF


def _may_hold_surrogate(text: str | bytes) -> bool:
    if isinstance(text, bytes):  # UTF-16/32: the escape's bytes are not adjacent, so walk
        if json.detect_encoding(text) != "utf-8":
            return True
        return ((b"\\" in text and _ESCAPE_BYTES.search(text) is not None)
                or (b"\xed" in text and _ENCODED_BYTES.search(text) is not None))
    if text.isascii():  # nothing that cannot be encoded: only an escape can be one
        return "\\" in text and _SURROGATE_ESCAPE.search(text) is not None
    if _SURROGATE_ESCAPE.search(text):
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# An integer of more than MAX_INT_DIGITS digits needs such a run of ASCII digits (the only
# digits json reads): a cheap scan of the text says whether the exact hook can find one
_DIGITS_AS_ZERO = str.maketrans("123456789", "0" * 9)
_BYTE_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"0" * 9)
_LONG_RUN = "0" * (MAX_INT_DIGITS + 1)


def _may_hold_long_int(text: str | bytes) -> bool:
    if isinstance(text, str):
        return _LONG_RUN in text.translate(_DIGITS_AS_ZERO)
    if json.detect_encoding(text) != "utf-8":  # UTF-16/32: digits are not adjacent bytes
        return True
    return _LONG_RUN.encode() in text.translate(_BYTE_DIGITS_AS_ZERO)


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise LimitExceeded(f"an integer of {len(digits.lstrip('-'))} digits "
                            f"(at most {MAX_INT_DIGITS})")
    return int(digits)


def _locate(doc: Any) -> None:
    """Raise the refusal `loads_json` found, naming the place (`vcpus[0].lrs`)."""
    todo: list[tuple[Any, str]] = [(doc, "")]
    while todo:
        item, where = todo.pop()
        if isinstance(item, dict):
            if isinstance(item, _Duplicated):
                raise LimitExceeded(f"duplicate key {json.dumps(item.key)} in the object at "
                                    f"{where or '(top)'}")
            for key, value in item.items():
                _refuse_surrogate(key, f"a key at {where or '(top)'}")
                todo.append((value, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            todo.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, str):
            _refuse_surrogate(item, f"the string at {where or '(top)'}")


def _refuse_surrogate(text: str, what: str) -> None:
    if not _unicode(text):
        bad = next(c for c in text if 0xD800 <= ord(c) < 0xE000)
        raise LimitExceeded(f"{what} holds a lone surrogate {bad!r} (not Unicode text)")


def _unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
