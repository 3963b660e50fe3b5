"""loads_json skips its exact integer and surrogate checks when a scan of the text shows
they cannot find anything (a speed-up for every JSON reader): the scans must never miss."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gicmig.limits import MAX_INT_DIGITS, LimitExceeded, _int, _locate, loads_json


def exact(text: str | bytes) -> Any:
    """The checks without the scans: every integer through _int, every string walked."""
    doc = json.loads(text, parse_int=_int)
    _locate(doc)
    return doc


def duplicated_keys(text: str | bytes) -> bool:
    """Whether an object of `text` holds a key twice (loads_json refuses those, the exact
    checks above do not look for them: such documents say nothing about the scans)."""
    seen = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal seen
        seen |= len({k for k, _ in pairs}) < len(pairs)
        return dict(pairs)

    with contextlib.suppress(ValueError):
        json.loads(text, object_pairs_hook=hook)
    return seen


def outcome(fn: Any, text: str | bytes) -> tuple[str, str]:
    try:
        return "ok", repr(fn(text))
    except ValueError as exc:
        return type(exc).__name__, str(exc)


PIECES = ["\\ud800", "\\uDBFF", "\\udc00", "\\uDFFF", "\\ud83d\\ude00", "\\\\ud800", "\\u00e9",
          "\\uD7FF", "\\uE000", "\ud800", "\udfff", "x", "é", "\U0001F600"]
strings = st.lists(st.sampled_from(PIECES), max_size=4).map("".join)
ints = st.integers(-(10 ** (MAX_INT_DIGITS + 2)), 10 ** (MAX_INT_DIGITS + 2))
leaves = st.one_of(ints.map(str), strings.map(lambda s: '"' + s + '"'),
                   st.sampled_from(["1.5e3", "null", "1" * (MAX_INT_DIGITS + 1)]))


def arrays(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]")


def objects(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pairs = st.tuples(strings, inner).map(lambda kv: '"' + kv[0] + '": ' + kv[1])
    return st.lists(pairs, max_size=3).map(lambda xs: "{" + ", ".join(xs) + "}")


documents = st.recursive(leaves, lambda inner: st.one_of(arrays(inner), objects(inner)),
                         max_leaves=12)


@given(documents)
def test_scans_agree_with_the_exact_checks_on_text(text: str) -> None:
    assume(not duplicated_keys(text))
    assert outcome(loads_json, text) == outcome(exact, text)


@given(documents, st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "utf-32"]))
def test_scans_agree_with_the_exact_checks_on_bytes(text: str, encoding: str) -> None:
    data = text.encode(encoding, "surrogatepass")
    assume(not duplicated_keys(data))
    assert outcome(loads_json, data) == outcome(exact, data)


@pytest.mark.parametrize(("text", "message"), [
    ('{"n": ' + "1" * (MAX_INT_DIGITS + 1) + "}", f"an integer of {MAX_INT_DIGITS + 1} digits"),
    ('["ok", {"k": "a\\uDC00"}]', "a lone surrogate '\\udc00'"),
    ('"\ud800"'.encode("utf-8", "surrogatepass"), "a lone surrogate '\\ud800'"),
])
def test_refusals_still_name_the_value(text: str | bytes, message: str) -> None:
    with pytest.raises(LimitExceeded, match=message.replace("\\", "\\\\")):
        loads_json(text)


def test_values_unchanged() -> None:
    text = '{"a": [1, -' + "9" * MAX_INT_DIGITS + ', 2.5, "\\ud83d\\ude00", "\\\\ud800"]}'
    assert loads_json(text) == {"a": [1, -int("9" * MAX_INT_DIGITS), 2.5, "\U0001F600",
                                      "\\ud800"]}
