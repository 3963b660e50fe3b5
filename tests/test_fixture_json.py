"""The JSON fixture: lossless both ways, deterministic, strict, and fuzzed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import states

import gicmig
from gicmig.errors import DecodeError, GicmigError
from gicmig.formats.fixture import from_json, json_schema, to_json

ROOT = Path(__file__).resolve().parents[1]
BUSY = (ROOT / "fixtures" / "v1" / "busy.json").read_text()
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(states())
def test_json_round_trip_is_lossless_both_ways(state: gicmig.GicState) -> None:
    text = to_json(state)
    back = from_json(text)
    assert back == state
    assert to_json(back) == text
    assert gicmig.encode(back) == gicmig.encode(state)


def test_one_interrupt_changes_one_line() -> None:
    state = from_json(BUSY)
    state.shared.pending_latch |= 1 << (287 - 32)
    before, after = BUSY.splitlines(), to_json(state).splitlines()
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and '"287"' in changed[0][1]


def test_unknown_markers_are_explicit() -> None:
    doc = json.loads(BUSY)
    doc["spis"]["40"]["active_cpu"] = "unknown"
    state = from_json(json.dumps(doc))
    assert state.irq(40).active_cpu is None
    assert '"active_cpu": "unknown"' in to_json(state)


def test_an_active_interrupt_must_say_where() -> None:
    doc = json.loads(BUSY)
    del doc["spis"]["40"]["active_cpu"]
    with pytest.raises(DecodeError) as info:
        from_json(json.dumps(doc))
    assert info.value.code == "JSON-SCHEMA" and "spis.40.active_cpu" in info.value.message


@pytest.mark.parametrize("edit, where", [
    (lambda d: d["spis"].update({"7": {"enabled": True}}), "spis.7"),
    (lambda d: d["cpus"][0]["irqs"].update({"40": {}}), "cpus.0.irqs.40"),
    (lambda d: d["cpus"][0]["interface"].update(ctlr=["bogus"]), "cpus.0.interface.ctlr"),
    (lambda d: d["spis"]["40"].update(priority="0x1ff"), "spis.40.priority"),
    (lambda d: d["spis"]["40"].update(priority="ten"), "spis.40.priority"),
    (lambda d: d["cpus"].reverse(), "cpus.0.cpu"),
])
def test_shape_errors_name_the_place(edit: Any, where: str) -> None:
    doc = json.loads(BUSY)
    edit(doc)
    with pytest.raises(DecodeError) as info:
        from_json(json.dumps(doc))
    assert info.value.code == "JSON-SCHEMA" and where in info.value.message


def test_syntax_errors_carry_line_and_column() -> None:
    with pytest.raises(DecodeError) as info:
        from_json('{\n  "format": ,\n}')
    err = info.value
    assert err.code == "JSON-SYNTAX" and (err.line, err.column) == (2, 13)  # type: ignore[attr-defined]


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                               max_size=4),
    max_leaves=20)


@SETTINGS
@given(_json)
def test_random_json_gives_only_gicmig_errors(value: Any) -> None:
    with pytest.raises(GicmigError):
        from_json(json.dumps(value))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@SETTINGS
@given(st.data(), _json)
def test_mutated_fixtures_give_only_gicmig_errors(data: st.DataObject, value: Any) -> None:
    doc = json.loads(BUSY)
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        state = from_json(json.dumps(doc))
    except GicmigError:
        return
    gicmig.validate(state)  # whatever was accepted is a valid state


def test_published_schema_is_current() -> None:
    committed = json.loads((ROOT / "schemas" / "fixture-1.schema.json").read_text())
    assert committed == json_schema()


def test_schema_accepts_the_golden_fixtures() -> None:
    import jsonschema  # the test extra has it
    schema = json_schema()
    for path in sorted((ROOT / "fixtures" / "v1").glob("*.json")):
        jsonschema.validate(json.loads(path.read_text()), schema)


def test_json_refuses_fields_of_a_newer_revision() -> None:
    from gicmig.formats import envelope

    blob = (ROOT / "fixtures" / "v1" / "busy.gicmig").read_bytes()
    state = gicmig.decode(envelope.pack(blob[32:] + b"\xf8\x01\x07", 99), allow_unknown=True)
    with pytest.raises(DecodeError) as info:
        to_json(state)
    assert info.value.code == "PAYLOAD-UNKNOWN-FIELDS" and "#31" in info.value.message
