"""The gicmig.kvm-dump/1 format: parsing, its JSON Schema, and fuzzing of the decoder."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gicmig.abi.kvm.access import Access, register_name
from gicmig.errors import REASONS, GicmigError
from gicmig.views.kvm.dump import dump_to_json, parse_dump, parse_writes, writes_to_json
from gicmig.views.kvm.reader import import_kvm

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "kvm"
SCHEMA = json.loads((ROOT / "schemas" / "kvm-dump-1.schema.json").read_text())
TWO_VCPU = (FIXTURES / "two-vcpu.json").read_bytes()


def doc(*entries: dict[str, Any], nr_irqs: Any = 64, **extra: Any) -> str:
    return json.dumps({"format": "gicmig.kvm-dump/1", "nr_irqs": nr_irqs,
                       "registers": list(entries), **extra})


def code_of(text: str | bytes) -> str:
    with pytest.raises(GicmigError) as info:
        parse_dump(text)
    return info.value.code


# --- parsing -------------------------------------------------------------------------------
def test_attr_and_vcpu_offset_forms_are_the_same_access() -> None:
    a = parse_dump(doc({"group": "cpu", "attr": "0x100000004", "value": 30}))
    b = parse_dump(doc({"group": "cpu", "vcpu": 1, "offset": 4, "value": "0x1e"}))
    c = parse_dump(doc({"group": "cpu", "vcpu": 1, "offset": "0x4", "attr": 0x100000004,
                        "value": 30, "name": "GICC_PMR"}))
    assert a.accesses == b.accesses == c.accesses == (Access("cpu", 1, 4, 30),)
    assert a.accesses[0].attr == 0x1_0000_0004
    assert a.accesses[0].register == "GICC_PMR"


def test_written_dump_reads_back_identically() -> None:
    dump = parse_dump(TWO_VCPU)
    assert dump_to_json(dump).encode() == TWO_VCPU
    assert len(dump.accesses) == 287


def test_metadata_travels_into_provenance() -> None:
    text = json.loads(TWO_VCPU)
    text.update(vmm="qemu", vmm_version="9.2.0", host_kernel="6.12.0")
    state = import_kvm(parse_dump(json.dumps(text)))
    p = state.provenance
    assert (p.source, p.vmm, p.vmm_version, p.host_kernel) == ("kvm-abi", "qemu", "9.2.0",
                                                               "6.12.0")
    assert p.gicd_iidr == 0x4B00343B


def test_writes_document_round_trips() -> None:
    writes = (Access("dist", 0, 8, 0x4B00243B), Access("cpu", 1, 0xD0, 1 << 20))
    assert parse_writes(writes_to_json(96, writes)) == (96, writes)
    with pytest.raises(GicmigError) as info:
        parse_writes(TWO_VCPU)  # a dump is not a write list
    assert info.value.code == "KVM-DUMP-FORMAT"


@pytest.mark.parametrize(("text", "code"), [
    (b"{", "KVM-DUMP-SYNTAX"),
    (b"\xff\xfe", "KVM-DUMP-SYNTAX"),
    ('{"format": "gicmig.kvm-dump/1", "format": "x", "nr_irqs": 64, "registers": []}',
     "KVM-DUMP-SYNTAX"),  # duplicate key
    ('{"format": "gicmig.kvm-dump/1", "nr_irqs": NaN, "registers": []}', "KVM-DUMP-SYNTAX"),
    (b"[]", "KVM-DUMP-FIELD"),
    (json.dumps({"format": "gicmig.kvm-dump/2", "nr_irqs": 64, "registers": []}),
     "KVM-DUMP-FORMAT"),
    (json.dumps({"format": "gicmig.kvm-dump/1", "nr_irqs": 64}), "KVM-DUMP-FIELD"),
    (doc(extra_key=1), "KVM-DUMP-FIELD"),
    (doc(vmm=3), "KVM-DUMP-FIELD"),
    (doc(nr_irqs=80), "KVM-DUMP-NR-IRQS"),
    (doc(nr_irqs=32), "KVM-DUMP-NR-IRQS"),
    (doc(nr_irqs=1024), "KVM-DUMP-NR-IRQS"),
    (doc(nr_irqs=True), "KVM-DUMP-FIELD"),
    (doc(nr_irqs=64.0), "KVM-DUMP-FIELD"),
    (doc(nr_irqs="64"), "KVM-DUMP-FIELD"),
    (doc({"group": "gich", "vcpu": 0, "offset": 0, "value": 0}), "KVM-DUMP-FIELD"),
    (doc({"group": "dist", "vcpu": 0, "value": 0}), "KVM-DUMP-FIELD"),
    (doc({"group": "dist", "vcpu": 0, "offset": 0}), "KVM-DUMP-FIELD"),
    (doc({"group": "dist", "vcpu": 0, "offset": 0, "value": 0, "width": 4}), "KVM-DUMP-FIELD"),
    (doc({"group": "dist", "vcpu": 0, "offset": 0, "value": -1}), "KVM-DUMP-RANGE"),
    (doc({"group": "dist", "vcpu": 0, "offset": 0, "value": "0x100000000"}), "KVM-DUMP-RANGE"),
    (doc({"group": "dist", "vcpu": 256, "offset": 0, "value": 0}), "KVM-DUMP-RANGE"),
    (doc({"group": "dist", "vcpu": 0, "offset": 2, "value": 0}), "KVM-DUMP-RANGE"),
    (doc({"group": "dist", "vcpu": 0, "offset": 0x1000, "value": 0}), "KVM-DUMP-RANGE"),
    (doc({"group": "cpu", "vcpu": 0, "offset": 0x2000, "value": 0}), "KVM-DUMP-RANGE"),
    (doc({"group": "cpu", "attr": 1 << 40, "value": 0}), "KVM-DUMP-RANGE"),
    (doc({"group": "cpu", "attr": "0x4", "vcpu": 1, "offset": 4, "value": 0}), "KVM-DUMP-FIELD"),
    (doc({"group": "cpu", "attr": "4", "value": 0}), "KVM-DUMP-FIELD"),
    (doc({"group": "cpu", "vcpu": 0, "offset": 4, "value": 1},
         {"group": "cpu", "attr": 4, "value": 2}), "KVM-DUMP-DUPLICATE"),
])
def test_parse_errors(text: str | bytes, code: str) -> None:
    assert code in REASONS
    assert code_of(text) == code


def test_errors_name_the_entry() -> None:
    text = doc({"group": "cpu", "vcpu": 0, "offset": 0, "value": 0},
               {"group": "cpu", "vcpu": 0, "offset": 4, "value": "0xzz"})
    with pytest.raises(GicmigError, match=r"registers\[1\]\.value"):
        parse_dump(text)


def test_identical_repeats_are_accepted() -> None:
    entry = {"group": "cpu", "vcpu": 0, "offset": 4, "value": 1}
    assert len(parse_dump(doc(entry, entry)).accesses) == 2


def test_register_names() -> None:
    assert [register_name("dist", o) for o in (0x104, 0x7F8, 0xC04, 0xF2C, 0xE00)] == [
        "GICD_ISENABLER1", "GICD_IPRIORITYR254", "GICD_ICFGR1", "GICD_SPENDSGIR3", "GICD+0xe00"]
    assert [register_name("cpu", o) for o in (0x1C, 0xDC, 0x0C, 0x40)] == [
        "GICC_ABPR", "GICC_APR3", "GICC_IAR", "GICC+0x40"]


# --- the JSON Schema (checked by a small validator of the keywords it uses) ------------------
def _check(schema: dict[str, Any], value: Any, root: dict[str, Any]) -> bool:
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        if not _check(root["$defs"][name], value, root):
            return False
    if "const" in schema and value != schema["const"]:
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "anyOf" in schema and not any(_check(s, value, root) for s in schema["anyOf"]):
        return False
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str}
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        if not schema.get("minimum", value) <= value <= schema.get("maximum", value):
            return False
        if value % schema.get("multipleOf", 1):
            return False
    elif kind is not None and not isinstance(value, types[kind]):
        return False
    if kind == "string" and "pattern" in schema and not re.search(schema["pattern"], value):
        return False
    if isinstance(value, dict):
        props = schema.get("properties", {})
        if any(k not in value for k in schema.get("required", ())):
            return False
        if schema.get("additionalProperties") is False and set(value) - set(props):
            return False
        for k, deps in schema.get("dependentRequired", {}).items():
            if k in value and any(d not in value for d in deps):
                return False
        if not all(_check(props[k], v, root) for k, v in value.items() if k in props):
            return False
    if isinstance(value, list) and "items" in schema:
        return all(_check(schema["items"], v, root) for v in value)
    return True


def schema_ok(value: Any) -> bool:
    return _check(SCHEMA, value, SCHEMA)


KNOWN_KEYWORDS = {"$schema", "$id", "title", "description", "type", "required", "properties",
                  "additionalProperties", "items", "$defs", "$ref", "const", "enum", "anyOf",
                  "minimum", "maximum", "multipleOf", "pattern", "dependentRequired"}


def _keywords(schema: Any) -> set[str]:
    if isinstance(schema, list):
        return set().union(*(_keywords(s) for s in schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    out = set(schema)
    for k, v in schema.items():
        if k in ("properties", "$defs", "dependentRequired"):
            out |= set().union(*(_keywords(s) for s in v.values())) if v else set()
        elif k not in ("enum", "const", "required"):
            out |= _keywords(v)
    return out


def test_schema_uses_only_keywords_the_checker_knows() -> None:
    assert _keywords(SCHEMA) <= KNOWN_KEYWORDS


@pytest.mark.parametrize("name", ["two-vcpu.json", "firecracker-gicv2.json"])
def test_example_dumps_follow_the_schema(name: str) -> None:
    value = json.loads((FIXTURES / name).read_text())
    assert schema_ok(value)
    parse_dump((FIXTURES / name).read_bytes())


@pytest.mark.parametrize("bad", [
    {"format": "gicmig.kvm-dump/1", "nr_irqs": 64},
    {"format": "gicmig.kvm-dump/1", "nr_irqs": 64, "registers": [{"group": "dist", "value": 0}]},
    {"format": "gicmig.kvm-dump/1", "nr_irqs": 80, "registers": []},
    {"format": "gicmig.kvm-dump/1", "nr_irqs": 64,
     "registers": [{"group": "dist", "vcpu": 0, "offset": 0, "value": "12"}]},
    {"format": "gicmig.kvm-dump/1", "nr_irqs": 64,
     "registers": [{"group": "dist", "vcpu": 0, "value": 0, "attr": 0}]},
    {"format": "gicmig.kvm-dump/1", "nr_irqs": 64, "registers": [], "extra": 1},
])
def test_schema_and_parser_agree_on_invalid_dumps(bad: dict[str, Any]) -> None:
    assert not schema_ok(bad)
    with pytest.raises(GicmigError):
        parse_dump(json.dumps(bad))


# --- fuzzing: only gicmig errors come out ------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["0x1", "0xffffffff", "dist", "cpu"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["format", "nr_irqs", "registers", "group", "vcpu", "offset", "attr",
                         "value", "name", "vmm"]), inner, max_size=6),
    max_leaves=25)


def _attempt(data: str | bytes) -> None:
    with contextlib.suppress(GicmigError):  # anything else fails the test
        import_kvm(parse_dump(data), num_cpus=None)
    with contextlib.suppress(GicmigError):
        parse_writes(data)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_fuzz_random_json(value: Any) -> None:
    _attempt(json.dumps(value))
    if isinstance(value, dict):
        _attempt(json.dumps({"format": "gicmig.kvm-dump/1", "nr_irqs": 64, **value}))


entries = st.fixed_dictionaries(
    {"group": st.sampled_from(["dist", "cpu"]),
     "vcpu": st.integers(0, 3),
     "offset": st.integers(0, 0x1FFF).map(lambda o: o & ~3),
     "value": st.integers(0, 2**32 - 1)})


@settings(max_examples=150, deadline=None)
@given(st.lists(entries, max_size=30), st.sampled_from([64, 96, 288]))
def test_fuzz_random_register_sets(regs: list[dict[str, Any]], nr_irqs: int) -> None:
    _attempt(doc(*regs, nr_irqs=nr_irqs))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_fuzz_mutated_complete_dump(data: st.DataObject) -> None:
    value = json.loads(TWO_VCPU)
    regs = value["registers"]
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(regs) - 1))
        action = data.draw(st.sampled_from(["value", "drop", "offset", "vcpu", "dup"]))
        if action == "drop":
            del regs[i]
        elif action == "dup":
            regs.append(dict(regs[i], value=data.draw(st.integers(0, 2**32 - 1))))
        elif action == "vcpu":
            regs[i] = dict(regs[i], vcpu=data.draw(st.integers(0, 9)))
            regs[i].pop("attr", None)
        else:
            regs[i] = {k: v for k, v in regs[i].items() if k != "attr"}
            key = "value" if action == "value" else "offset"
            regs[i][key] = data.draw(st.integers(0, 2**32 - 1)) & (~3 if key == "offset" else -1)
    _attempt(json.dumps(value))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(TWO_VCPU) * 8 - 1))
def test_bit_flips(bit: int) -> None:
    data = bytearray(TWO_VCPU)
    data[bit // 8] ^= 1 << bit % 8
    _attempt(bytes(data))


def test_truncation() -> None:
    for cut in range(0, len(TWO_VCPU) - 1, 97):
        with pytest.raises(GicmigError):
            import_kvm(parse_dump(TWO_VCPU[:cut]))
