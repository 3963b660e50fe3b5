"""The limits gicmig reads untrusted input with, declared once (docs/security.md).

Every reader applies these, whatever its format: no input, however crafted, makes gicmig
hold more than about 64 MiB plus a small multiple of the input, or read forever.
"""

from __future__ import annotations

import json
from typing import Any

MAX_INPUT = 64 << 20  # any input read whole (blobs are ~6 KiB, fixtures ~200 KiB)
# JSON text read whole: Python's objects take up to ~24x the text (measured: a list of
# empty objects; tests/test_hostile_memory.py), so 2 MiB of JSON stays below 64 MiB (the
# largest real JSON input, a two-vCPU KVM dump, is 35 KiB)
MAX_JSON = 2 << 20
MAX_INT_DIGITS = 40  # digits of a JSON integer (a u64 has 20); Python refuses > 4300
MAX_COUNT = 4096  # items of any list whose length a binary input declares


class LimitExceeded(ValueError):
    """An input beyond one of gicmig's limits (readers map it to their reason code)."""


def loads_json(text: str | bytes, **hooks: Any) -> Any:
    """`json.loads` within the limits: at most MAX_JSON bytes, integers of at most
    MAX_INT_DIGITS digits, no lone surrogate in any string, no nesting deeper than Python's
    recursion limit (about 1000 levels). Every refusal is a ValueError
    (LimitExceeded or json.JSONDecodeError), as json.loads' own are."""
    if len(text) > MAX_JSON:
        raise LimitExceeded(f"{len(text)} bytes of JSON, more than the {MAX_JSON} gicmig reads")
    try:
        doc = json.loads(text, parse_int=_int, **hooks)
    except RecursionError:  # `[[[[...` deeper than the interpreter's recursion limit
        raise LimitExceeded("arrays or objects nested too deeply") from None
    _no_lone_surrogate(doc)
    return doc


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise LimitExceeded(f"an integer of {len(digits.lstrip('-'))} digits "
                            f"(at most {MAX_INT_DIGITS})")
    return int(digits)


def _no_lone_surrogate(doc: Any) -> None:
    """Refuse `"\\ud800"`-style escapes: valid JSON, but no UTF-8 can hold them."""
    todo = [doc]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item)
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise LimitExceeded(f"a string holds a lone surrogate "
                                    f"{item[exc.start]!r} (not Unicode text)") from None
