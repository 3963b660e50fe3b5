"""`gicmig validate` for CI: folders, -q, the summary, every violation of a fixture in
gicmig's words at its line and column, and the text/GitHub/SARIF emitters."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import gicmig
from gicmig.cli import main
from gicmig.cli.report import Finding, github_line, sarif, text_line
from gicmig.errors import DecodeError
from gicmig.formats.fixture_errors import FixtureShapeError

ROOT = Path(__file__).resolve().parents[1]
BUSY = ROOT / "fixtures" / "v1" / "busy.json"
BUSY_BLOB = ROOT / "fixtures" / "v1" / "busy.gicmig"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def broken_fixture(tmp_path: Path) -> Path:
    """busy.json with five shape errors, three of them strict-integer ones."""
    doc = json.loads(BUSY.read_text())
    doc["config"]["num_cpus"] = "2"  # a string where an integer is wanted
    doc["config"]["num_irqs"] = 288.0  # a float
    doc["config"]["sgi_enables_rao_wi"] = 1  # a number where true/false is wanted
    doc["spis"]["40"]["active_cpu"] = 9
    doc["spis"]["40"]["colour"] = "red"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


# --- every violation, in gicmig's words ------------------------------------------------------
def test_every_shape_error_is_reported_in_gicmigs_words(tmp_path: Path) -> None:
    with pytest.raises(FixtureShapeError) as exc:
        gicmig.load(broken_fixture(tmp_path))
    assert isinstance(exc.value, DecodeError) and exc.value.code == "JSON-SCHEMA"
    got = [(v.code, v.path, v.message) for v in exc.value.violations]
    assert got == [
        ("JSON-SCHEMA", "config.num_cpus", 'must be an integer, not the string "2"'),
        ("JSON-SCHEMA", "config.num_irqs", "must be an integer, not the number 288.0"),
        ("JSON-SCHEMA", "config.sgi_enables_rao_wi", "must be true or false, not 1"),
        ("JSON-SCHEMA", "spis.40.active_cpu", 'must be an integer up to 7 or "unknown", not 9'),
        ("JSON-SCHEMA", "spis.40.colour", "unknown key (allowed here: enabled, group, edge, "
         "priority, pending_latch, line_level, pending_split_unknown, active, "
         "latch_maybe_stale, active_cpu, targets, sources, active_source)"),
    ]
    assert str(exc.value) == ('JSON-SCHEMA config.num_cpus: must be an integer, not the string '
                              '"2" (+4 more)')
    assert "Input should be" not in str([v.message for v in exc.value.violations])


@pytest.mark.parametrize(("key", "value", "message"), [
    ("min_bpr", "3", 'must be an integer, not the string "3"'),
    ("min_bpr", 3.0, "must be an integer, not the number 3.0"),
    ("min_bpr", True, "must be an integer, not true"),
    ("min_bpr", -1, "-1 is below the minimum 0"),
    ("revision", "GICv3", 'must be "GICv1" or "GICv2", not the string "GICv3"'),
    ("ppi_trigger_programmable", "yes", 'must be true or false, not the string "yes"'),
])
def test_strict_values(tmp_path: Path, key: str, value: Any, message: str) -> None:
    doc = json.loads(BUSY.read_text())
    doc["config"][key] = value
    with pytest.raises(FixtureShapeError) as exc:
        gicmig.from_json(json.dumps(doc))
    assert [(v.path, v.message) for v in exc.value.violations] == [(f"config.{key}", message)]


def test_missing_keys_and_building_errors_are_all_reported(tmp_path: Path) -> None:
    doc = json.loads(BUSY.read_text())
    del doc["schema_revision"], doc["config"]["min_bpr"]
    with pytest.raises(FixtureShapeError) as exc:
        gicmig.from_json(json.dumps(doc))
    assert [(v.path, v.message) for v in exc.value.violations] == [
        ("schema_revision", "required, but missing"), ("config.min_bpr", "required, but missing")]
    doc = json.loads(BUSY.read_text())  # past the shape: each interrupt's problem, not the first
    doc["spis"]["40"]["sources"] = [0]
    doc["spis"]["41"] = {"priority": "0x1ff"}
    doc["cpus"][1]["irqs"]["99"] = {}
    with pytest.raises(FixtureShapeError) as exc:
        gicmig.from_json(json.dumps(doc))
    assert [(v.path, v.message) for v in exc.value.violations] == [
        ("spis.40", "sources/active_source apply to SGIs only"),
        ("spis.41.priority", "0x1ff is wider than 8 bits"),
        ("cpus.1.irqs.99", "interrupt ID '99' is not a decimal ID in 0..31")]


def test_validate_points_at_each_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = broken_fixture(tmp_path)
    status, out, _ = cli(capsys, "validate", str(path))
    lines = out.splitlines()
    assert status == 1 and len(lines) == 6 and lines[-1] == "1 file: 0 ok, 1 invalid"
    text = path.read_text().splitlines()
    for line in lines[:-1]:
        where, rest = line.split(": JSON-SCHEMA ", 1)
        _, row, col = where.rsplit(":", 2)
        key = rest.split(":", 1)[0].rsplit(".", 1)[-1]
        assert text[int(row) - 1][int(col) - 1:].startswith(f'"{key}"'), line


# --- folders, -q, summary ---------------------------------------------------------------------
@pytest.fixture
def folder(tmp_path: Path) -> Path:
    top = tmp_path / "states"
    (top / "sub").mkdir(parents=True)
    (top / ".hidden").mkdir()
    shutil.copy(BUSY, top / "b.json")
    shutil.copy(BUSY_BLOB, top / "sub" / "a.gicmig")
    shutil.copy(ROOT / "fixtures" / "v1" / "invalid" / "SGI-NOT-EDGE.json", top / "sub" / "c.json")
    shutil.copy(BUSY, top / ".hidden" / "x.json")  # hidden: skipped
    (top / "notes.txt").write_text("not a state")  # other extensions: skipped
    outside = tmp_path / "outside.json"
    shutil.copy(BUSY, outside)
    (top / "link-out.json").symlink_to(outside)  # out of the folder: skipped
    (top / "link-in.json").symlink_to(top / "b.json")  # inside: validated
    (top / "dirlink").symlink_to(tmp_path)  # a folder symlink: never followed
    os.mkfifo(top / "fifo.json")  # not a regular file: skipped (and never opened)
    return top


def test_a_folder_is_walked_in_order(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = cli(capsys, "validate", str(folder))
    assert status == 1
    lines = [ln.replace(str(folder), "D") for ln in out.splitlines()]
    assert lines[0] == "D/b.json: ok"
    assert lines[1] == "D/link-in.json: ok"
    assert lines[2] == "D/sub/a.gicmig: ok"
    assert lines[3].startswith("D/sub/c.json:111:9: SGI-NOT-EDGE cpu0 irq 2 (SGI 2): ")
    assert lines[4:] == ["4 files: 3 ok, 1 invalid"]
    skipped = sorted(ln.replace(str(folder), "D") for ln in err.splitlines())
    assert skipped == [f"D/{n}: skipped (not a regular file inside the folder)"
                       for n in ("dirlink", "fifo.json", "link-out.json")]


def test_quiet_prints_problems_only(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = cli(capsys, "validate", "-q", str(folder), str(BUSY))
    assert status == 1 and err == ""
    assert [ln.split(": ")[1] for ln in out.splitlines()] == ["SGI-NOT-EDGE cpu0 irq 2 (SGI 2)"]
    assert cli(capsys, "validate", "-q", str(BUSY)) == (0, "", "")


def test_json_document_of_a_folder(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "validate", "--format", "json", str(folder),
                         str(folder / "nothing.json"))
    doc = json.loads(out)
    assert (status, doc["exit"], doc["ok"]) == (2, 2, False)  # unreadable beats invalid
    assert doc["summary"] == {"files": 5, "ok": 3, "invalid": 1, "unreadable": 1}
    assert [Path(f["path"]).name for f in doc["files"]] == [
        "b.json", "link-in.json", "a.gicmig", "c.json", "nothing.json"]
    assert doc["files"][4]["findings"][0]["code"] == "IO-READ"
    assert sorted(Path(p).name for p in doc["skipped"]) == ["dirlink", "fifo.json",
                                                            "link-out.json"]


def test_github_and_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = broken_fixture(tmp_path)
    status, out, _ = cli(capsys, "validate", "--format", "github", str(path), str(BUSY))
    lines = out.splitlines()
    assert status == 1 and lines[-1] == "2 files: 1 ok, 1 invalid"
    assert lines[0] == (f"::error file={path},line=10,col=5,title=JSON-SCHEMA::config.num_cpus"
                        ': must be an integer, not the string "2"')
    status, out, _ = cli(capsys, "validate", "--format", "sarif", str(path), str(BUSY_BLOB),
                         str(ROOT / "fixtures" / "v1" / "invalid" / "BLOB-TRUNCATED.gicmig"))
    log = json.loads(out)
    assert status == 1 and log["version"] == "2.1.0"
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["BLOB-TRUNCATED", "JSON-SCHEMA"]
    results = run["results"]
    assert len(results) == 6 and {r["level"] for r in results} == {"error"}
    first = results[0]
    assert first["ruleId"] == "JSON-SCHEMA" and first["ruleIndex"] == 1
    loc = first["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == str(path)
    assert loc["physicalLocation"]["region"] == {"startLine": 10, "startColumn": 5}
    assert loc["logicalLocations"] == [{"fullyQualifiedName": "config.num_cpus"}]
    blob = results[-1]["locations"][0]["physicalLocation"]
    assert blob["region"] == {"byteOffset": 856}


def test_an_error_before_the_report_in_each_format(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["schema", "check", "--against", "99"]
    status, out, err = cli(capsys, *argv, "--format", "github")
    assert status == 2 and out.startswith("::error file=99,title=SCHEMA-REVISION-UNKNOWN::")
    assert err.startswith("99: SCHEMA-REVISION-UNKNOWN")
    status, out, _ = cli(capsys, *argv, "--format", "sarif")
    log = json.loads(out)
    assert status == 2 and log["runs"][0]["invocations"] == [{"executionSuccessful": False}]
    status, out, _ = cli(capsys, *argv, "--format", "json")
    doc = json.loads(out)
    assert doc == {"format": "gicmig/error", "version": 1, "ok": False, "exit": 2, "error": {
        "code": "SCHEMA-REVISION-UNKNOWN", "message": doc["error"]["message"], "path": "99",
        "offset": None, "line": None, "column": None}}


# --- the emitters -------------------------------------------------------------------------
def test_emitters_of_one_finding() -> None:
    f = Finding("GICH-LR-HW", "HW=1, refused", file="a,b:c.json", line=3, column=7,
                place="cpu1 gich.lr0")
    assert text_line(f) == "a,b:c.json:3:7: GICH-LR-HW cpu1 gich.lr0: HW=1, refused"
    assert github_line(f) == ("::error file=a%2Cb%3Ac.json,line=3,col=7,title=GICH-LR-HW::"
                              "cpu1 gich.lr0: HW=1, refused")
    note = Finding("FIELD_SAME_NAME", "50%\nwaived", "note", file="x.proto")
    assert github_line(note) == "::notice file=x.proto,title=FIELD_SAME_NAME::50%25%0Awaived"
    assert text_line(Finding("IO-READ", "cannot read", offset=4)) == \
        "gicmig: IO-READ cannot read (at byte 4)"
    log = sarif([f, note])
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["FIELD_SAME_NAME", "GICH-LR-HW"]
    assert rules[1]["shortDescription"]["text"].startswith("a HW=1 list register")
    assert [r["level"] for r in log["runs"][0]["results"]] == ["error", "note"]


def test_another_kind_of_document_is_named_not_picked_apart(
        capsys: pytest.CaptureFixture[str]) -> None:
    dump = ROOT / "fixtures" / "kvm" / "two-vcpu.json"
    status, out, _ = cli(capsys, "validate", "-q", str(dump))
    assert status == 1 and out == (
        f'{dump}: INPUT-FORMAT-UNKNOWN format "gicmig.kvm-dump/1" is not a JSON fixture '
        "(gicmig-fixture/1): a view is read by `gicmig import`\n")
    doc = json.loads(BUSY.read_text())
    doc["format"] = "gicmig-fixture/2"
    with pytest.raises(DecodeError) as exc:
        gicmig.from_json(json.dumps(doc))
    assert exc.value.code == "INPUT-FORMAT-UNKNOWN"
    doc["format"] = 1  # not a string: a shape error like any other
    with pytest.raises(FixtureShapeError) as shape:
        gicmig.from_json(json.dumps(doc))
    assert [(v.path, v.message) for v in shape.value.violations] == [
        ("format", 'must be "gicmig-fixture/1", not 1')]
