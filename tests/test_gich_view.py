"""The gicmig.gich-view/1 format: strict decoding, fuzzing, the JSON Schema, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gicmig
from gicmig.cli import main
from gicmig.errors import REASONS, DecodeError, GicmigError
from gicmig.views.gich.merge import import_gich
from gicmig.views.gich.plan import export_gich
from gicmig.views.gich.viewfile import FORMAT, json_schema, parse_view

ROOT = Path(__file__).resolve().parents[1]
BUSY = ROOT / "fixtures" / "v1" / "busy.json"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def busy_view() -> str:
    return export_gich(gicmig.load(BUSY)).to_json()


def _doc(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    return doc


# --- strict decoding --------------------------------------------------------------------------
def test_round_trip_through_text_is_exact(busy_view: str) -> None:
    view = parse_view(busy_view)
    assert view.to_json() == busy_view
    assert import_gich(busy_view.encode()) == gicmig.load(BUSY)


def test_integers_as_numbers_or_hex_strings(busy_view: str) -> None:
    doc = _doc(busy_view)
    v = doc["vcpus"][0]
    v["vmcr"] = int(v["vmcr"], 16)
    v["lr"] = [int(x, 16) for x in v["lr"]]
    assert parse_view(json.dumps(doc)).vcpus == parse_view(busy_view).vcpus


@pytest.mark.parametrize(("edit", "where"), [
    (lambda d: d.update(format="gicmig.gich-view/2"), "format"),
    (lambda d: d.update(extra=1), "unknown key"),
    (lambda d: d["vcpus"][1].update(hcr="0x1g"), "vcpus[1].hcr"),
    (lambda d: d["vcpus"][0].update(apr=-1), "vcpus[0].apr"),
    (lambda d: d["vcpus"][0].update(apr=True), "vcpus[0].apr"),
    (lambda d: d["vcpus"][0].update(vmcr=1 << 32), "vcpus[0].vmcr"),
    (lambda d: d["vcpus"][0]["lr"].__setitem__(2, "0x123456789"), "vcpus[0].lr[2]"),
    (lambda d: d["vcpus"][0].pop("vtr"), "missing vtr"),
    (lambda d: d["vcpus"][0].update(lr=[]), "vcpus[0].lr"),
    (lambda d: d.update(vcpus=[]), "vcpus"),
    (lambda d: d.update(distributor={"path": "a", "blob_base64": "b"}), "distributor"),
    (lambda d: d.update(distributor={"blob_base64": "!!"}), "distributor.blob_base64"),
])
def test_schema_errors_name_the_place(busy_view: str, edit: Any, where: str) -> None:
    doc = _doc(busy_view)
    edit(doc)
    with pytest.raises(DecodeError) as info:
        parse_view(json.dumps(doc))
    assert info.value.code == "GICH-VIEW-SCHEMA" and where in info.value.message


def test_syntax_error_has_an_offset() -> None:
    with pytest.raises(DecodeError) as info:
        parse_view(b'{"format": ')
    assert info.value.code == "GICH-VIEW-SYNTAX" and info.value.offset == 11


def test_bad_distributor_image_keeps_its_own_code(busy_view: str) -> None:
    doc = _doc(busy_view)
    doc["distributor"]["config"]["num_cpus"] = 9
    with pytest.raises(GicmigError) as info:
        parse_view(json.dumps(doc))
    assert info.value.message.startswith("distributor image:")
    assert info.value.code in REASONS and not info.value.code.startswith("GICH-")


def test_distributor_by_path(tmp_path: Path, busy_view: str) -> None:
    doc = _doc(busy_view)
    (tmp_path / "img.json").write_text(BUSY.read_text())
    doc["distributor"] = {"path": "img.json"}
    text = json.dumps(doc)
    assert import_gich(parse_view(text, base_dir=str(tmp_path))) == gicmig.load(BUSY)
    with pytest.raises(GicmigError) as info:
        parse_view(text, base_dir=str(tmp_path / "nowhere"))
    assert info.value.code == "IO-READ"


# --- fuzzing: only gicmig's own errors come out ------------------------------------------------
def _only_gicmig_errors(data: str | bytes) -> None:
    try:
        import_gich(parse_view(data))
    except GicmigError as exc:
        assert exc.code in REASONS


@FUZZ
@given(st.data())
def test_fuzz_truncation_and_bit_flips(busy_view: str, data: st.DataObject) -> None:
    raw = bytearray(busy_view.encode())
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
    _only_gicmig_errors(bytes(raw))


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 1 << 33) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=5),
    max_leaves=20)


@FUZZ
@given(_json, st.sampled_from(["vtr", "hcr", "vmcr", "apr", "lr", "misr", "elrsr1", "x"]),
       st.integers(0, 1))
def test_fuzz_structured_values(busy_view: str, value: Any, key: str, cpu: int) -> None:
    doc = _doc(busy_view)
    doc["vcpus"][cpu][key] = value
    _only_gicmig_errors(json.dumps(doc))


@FUZZ
@given(_json)
def test_fuzz_whole_documents(value: Any) -> None:
    _only_gicmig_errors(json.dumps({"format": FORMAT, "vcpus": value, "distributor": value}))
    _only_gicmig_errors(json.dumps(value))


# --- JSON Schema ---------------------------------------------------------------------------------
def test_published_schema_is_current() -> None:
    published = json.loads((ROOT / "schemas" / "gich-view-1.schema.json").read_text())
    assert published == json_schema()


def test_schema_accepts_exported_views(busy_view: str) -> None:
    import jsonschema  # the test extra has it
    jsonschema.validate(_doc(busy_view), json_schema())
    doc = _doc(busy_view)
    doc["vcpus"][0]["lr"] = []
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json_schema())


# --- CLI -----------------------------------------------------------------------------------------
def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "gicmig.cli", *args], input=stdin,
                          capture_output=True, cwd=ROOT, timeout=60, check=False)


def test_cli_round_trip_on_busy(tmp_path: Path) -> None:
    view, back = tmp_path / "view.json", tmp_path / "back.gicmig"
    assert main(["export", "gich", str(BUSY), "-o", str(view)]) == 0
    assert main(["import", "gich", str(view), "-o", str(back)]) == 0
    assert gicmig.load(back) == gicmig.load(BUSY)
    assert gicmig.load(back).provenance.source == "gich"
    blob_view = tmp_path / "v2.json"
    assert main(["export", "gich", str(back), "--eoi-policy", "none", "--distributor", "blob",
                 "--vtr", "0x9000003f", "-o", str(blob_view)]) == 0
    assert len(_doc(blob_view.read_text())["vcpus"][0]["lr"]) == 64
    assert main(["import", "gich", str(blob_view), "-o", str(tmp_path / "b.json")]) == 0
    assert gicmig.load(tmp_path / "b.json") == gicmig.load(BUSY)


def test_cli_refusal_is_one_line_per_reason_and_exit_1(tmp_path: Path, busy_view: str) -> None:
    doc = _doc(busy_view)
    doc["vcpus"][0]["hcr"] = "0x08000001"  # EOICount 1
    doc["vcpus"][1]["lr"][0] = "0x00100000"  # reserved bit 20
    for key in ("misr", "eisr0", "eisr1", "elrsr0", "elrsr1"):
        del doc["vcpus"][1][key]  # else GICH-ELRSR-MISMATCH too: LR0 is free now
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(doc))
    out = tmp_path / "out.gicmig"
    r = run("import", "gich", str(src), "-o", str(out))
    assert r.returncode == 1 and not out.exists()
    lines = r.stderr.decode().splitlines()
    assert [ln.split()[1] for ln in lines] == ["GICH-HCR-EOICOUNT", "GICH-LR-RESERVED-BITS"]
    assert "cpu1 gich.lr0" in lines[1]
    r = run("import", "gich", str(src), "-o", str(out), "--keep-hypervisor-context",
            "--format", "json")
    rec = json.loads(r.stdout)
    assert r.returncode == 1 and [e["code"] for e in rec["errors"]] == ["GICH-LR-RESERVED-BITS"]
    assert rec["format"] == "gicmig/import-report" and rec["exit"] == 1
    assert rec["errors"][0]["place"] == "cpu1 gich.lr0"


def test_cli_lenient_reports_normalizations(tmp_path: Path, busy_view: str) -> None:
    doc = _doc(busy_view)
    doc["vcpus"][0]["vmcr"] = "0xf000000f"  # VMBP/VMABP 0: below the minima
    src = tmp_path / "v.json"
    src.write_text(json.dumps(doc))
    assert run("import", "gich", str(src), "-o", str(tmp_path / "x.json")).returncode == 1
    r = run("import", "gich", str(src), "-o", str(tmp_path / "x.json"), "--lenient")
    assert r.returncode == 0
    assert "GICH-VMCR-BINARY-POINT cpu0 gich.vmcr" in r.stdout.decode()


def test_cli_export_refusal_and_usage(tmp_path: Path) -> None:
    r = run("export", "gich", str(BUSY), "--vtr", "0x90000000", "-o", str(tmp_path / "v.json"))
    assert r.returncode == 1 and b"GICH-EXPORT-LR-OVERFLOW cpu1 gich.lr" in r.stderr
    assert not (tmp_path / "v.json").exists()
    r = run("export", "gich", str(BUSY), "--vtr", "0xfc000003", "-o", str(tmp_path / "v.json"))
    assert r.returncode == 1 and b"GICH-VTR-INVALID" in r.stderr
    r = run("export", "gich", str(BUSY), "--vtr", "banana", "-o", "-")
    assert r.returncode == 2


def test_cli_stdin_stdout(busy_view: str) -> None:
    r = run("import", "gich", "-", "-o", "-", stdin=busy_view.encode())
    assert r.returncode == 0
    assert gicmig.from_json(r.stdout) == gicmig.load(BUSY)
    r = run("export", "gich", "-", "-o", "-", stdin=r.stdout)
    assert r.returncode == 0 and import_gich(r.stdout) == gicmig.load(BUSY)
    assert parse_view(r.stdout).vcpus == parse_view(busy_view).vcpus


def test_cli_schema_command(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    assert main(["schema", "gich-view", "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == json_schema()
