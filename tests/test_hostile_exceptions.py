"""Issue 13, foreign exceptions: inputs and options that made gicmig raise something other
than its own errors (an INTERNAL-ERROR at the CLI) now get a reason code and one line."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hostile_support import digest, gicmig, refused
from test_qemu_support import CPU, TIMER, GicImage, be32, stream

from gicmig.core.config import GicConfig
from gicmig.errors import GicmigError
from gicmig.formats.fixture import from_json
from gicmig.views.qemu.stream import read_arm_gic

ROOT = Path(__file__).resolve().parents[1]
BUSY = ROOT / "fixtures/v1/busy.json"
KVM_DUMP = ROOT / "fixtures/kvm/two-vcpu.json"
QEMU = ROOT / "examples/qemu-7.2-virt.mig"


def _long_int(text: str, key: str) -> str:
    """`text` with the first integer value of `key` replaced by one of 5000 digits."""
    at = text.index(f'"{key}":') + len(key) + 3
    end = at + len(text[at:]) - len(text[at:].lstrip(" 0123456789"))
    return text[:at] + " " + "9" * 5000 + text[end:]


@pytest.mark.parametrize("reader, source, key, code", [
    ("fixture", BUSY, "num_irqs", "JSON-SYNTAX"),
    ("kvm", KVM_DUMP, "nr_irqs", "KVM-DUMP-SYNTAX"),
])
def test_integers_over_4300_digits_are_refused(tmp_path: Path, reader: str, source: Path,
                                               key: str, code: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(_long_int(source.read_text(), key))
    before = digest(bad)
    args = (["validate", "-q", str(bad)] if reader == "fixture"
            else ["import", "kvm", str(bad), "-o", str(tmp_path / "o")])
    line = refused(gicmig(*args), code)
    assert "integer of 5000 digits" in line
    assert digest(bad) == before


def test_integers_over_4300_digits_in_a_gich_view_and_a_waiver_file(tmp_path: Path) -> None:
    view = tmp_path / "view.json"
    assert gicmig("export", "gich", str(BUSY), "-o", str(view)).status == 0
    view.write_text(_long_int(view.read_text(), "vtr"))
    refused(gicmig("import", "gich", str(view), "-o", str(tmp_path / "o")), "GICH-VIEW-SYNTAX")
    waivers = tmp_path / "waivers.json"
    waivers.write_text('{"waivers": [' + "9" * 5000 + "]}")
    import grpc_tools  # noqa: F401  # the test extra has it (gicmig[schema]): no silent skip
    refused(gicmig("schema", "check", str(ROOT / "proto"), "--waivers", str(waivers)),
            "SCHEMA-WAIVER-INVALID")


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "x\\ud83d"])
def test_a_lone_surrogate_in_a_provenance_string_is_refused(tmp_path: Path,
                                                            escape: str) -> None:
    text = BUSY.read_text().replace('"tool": "gicmig"', f'"tool": "{escape}"')
    with pytest.raises(GicmigError) as exc:
        from_json(text)
    assert exc.value.code == "JSON-SYNTAX" and "lone surrogate" in exc.value.message
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    for cmd in (["validate", "-q", str(bad)], ["encode", str(bad), "-o", str(tmp_path / "o")]):
        assert "lone surrogate" in refused(gicmig(*cmd), "JSON-SYNTAX")
    # a surrogate pair is one character, and fine
    pair = from_json(BUSY.read_text().replace('"tool": "gicmig"', '"tool": "\\ud83d\\ude00"'))
    assert pair.provenance.tool == "\U0001F600"


def _with_vmdesc(devices: Any, **extra: Any) -> bytes:
    doc = json.dumps({"page_size": 4096, "devices": devices, **extra}).encode()
    return stream(GicImage().section(), vmdesc=False) + b"\x06" + be32(len(doc)) + doc


def _mutated(field: str, value: Any) -> list[Any]:
    timer, cpu = copy.deepcopy(TIMER), copy.deepcopy(CPU)
    if field.startswith("sub."):
        cpu["subsections"][0][field[4:]] = value
    else:
        cpu[field] = value
    return [timer, cpu]


MALFORMED = [
    ("fields", 5), ("fields", "abc"), ("fields", [1, 2]), ("fields", {"a": 1}),
    ("fields", [None]), ("fields", [{"size": "8"}]), ("fields", [{"size": 2 ** 70}]),
    ("fields", [{"size": 4, "array_len": -1}]), ("subsections", 7), ("subsections", [3]),
    ("subsections", "cpu/vfp"), ("subsections", [{"vmsd_name": 5}]),
    ("sub.fields", [[]]), ("sub.fields", {"x": {}}), ("sub.subsections", [None]),
]


@pytest.mark.parametrize("field, value", MALFORMED)
def test_vmdesc_fields_and_subsections_that_are_not_objects(field: str, value: Any) -> None:
    """The walk falls back to the header search: the same section, or a typed error."""
    want = read_arm_gic(io.BytesIO(_with_vmdesc([TIMER, CPU])))
    assert want.located_by == "vmdesc"
    try:
        got = read_arm_gic(io.BytesIO(_with_vmdesc(_mutated(field, value))))
    except GicmigError:
        return
    assert (got.main, got.virt, got.offset) == (want.main, want.virt, want.offset)
    assert got.located_by == "search"


@pytest.mark.parametrize("devices, extra", [
    ([1, "x", None], {}), ("devices", {}), ([TIMER, CPU], {"page_size": [4096]}),
    ([TIMER, CPU], {"page_size": 2 ** 70}), ([TIMER, CPU], {"page_size": 4095}),
])
def test_vmdesc_documents_of_other_shapes(devices: Any, extra: dict[str, Any]) -> None:
    try:
        got = read_arm_gic(io.BytesIO(_with_vmdesc(devices, **extra)))
    except GicmigError:
        return
    assert got.main == read_arm_gic(io.BytesIO(_with_vmdesc([TIMER, CPU]))).main


@pytest.mark.parametrize("bits", ["-1", str(2 ** 70), str(2 ** 32)])
def test_priority_bits_no_field_can_hold(tmp_path: Path, bits: str) -> None:
    for cmd in (["import", "kvm", "--priority-bits", bits, str(KVM_DUMP)],
                ["import", "qemu", "--accel", "tcg", "--priority-bits", bits, str(QEMU)]):
        line = refused(gicmig(*cmd, "-o", str(tmp_path / "o.gicmig")), "CONFIG-PRIORITY-BITS")
        assert f"priority_bits = {bits} is not a number in 0..4294967295" in line
        assert not (tmp_path / "o.gicmig").exists()
    with pytest.raises(GicmigError) as exc:
        GicConfig(2, 288, priority_bits=int(bits))
    assert exc.value.code == "CONFIG-PRIORITY-BITS"
    cfg = GicConfig(2, 288)
    with pytest.raises(GicmigError) as exc:
        cfg.num_cpus = int(bits)
    assert exc.value.code == "CONFIG-NUM-CPUS" and cfg.num_cpus == 2


def test_an_in_range_but_wrong_priority_bits_is_still_the_rules_business(
        tmp_path: Path) -> None:
    refused(gicmig("import", "kvm", "--priority-bits", "9", str(KVM_DUMP), "-o",
                   str(tmp_path / "o")), "CONFIG-PRIORITY-BITS")


@pytest.mark.parametrize("cmd", [
    ["decode", str(ROOT / "fixtures/v1/busy.gicmig")],
    ["decode", str(ROOT / "fixtures/v1/busy.gicmig"), "-o", "-"],
    ["validate", "--format", "text", str(BUSY)],
    ["show", str(BUSY)],
    ["export", "gich", str(BUSY), "-o", "-"],
])
def test_a_full_disk_on_stdout_is_an_io_write_error(cmd: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        out = gicmig(*cmd, stdout=full.fileno())
    line = refused(out, "IO-WRITE")
    assert "cannot write to stdout: No space left on device" in line
