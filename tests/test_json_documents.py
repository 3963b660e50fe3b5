"""Every `--format json` output is one versioned document that its JSON Schema accepts.

The golden CLI corpus (tests/golden_cli.py) is re-run with whole outputs, and each run asked
for JSON is checked: exactly one document, on stdout (on stderr when stdout carries the
state, `-o -`), whose `format`/`version` name a schema in gicmig/schemas/ that accepts it,
and whose `exit` is the process's exit status.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import golden_cli
import jsonschema
import pytest

from gicmig.cli.jsondoc import KINDS, document, schema_path

ROOT = Path(__file__).resolve().parents[1]
NOT_HERE: set[str] = set()  # every kind, diff included (its schema is written by hand)


def _schema(kind: str, version: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(schema_path(kind, version)).read_text())
    return data


def _documents(text: str) -> list[Any]:
    dec, docs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        rest = text[i:].lstrip()
        if not rest:
            break
        doc, n = dec.raw_decode(rest)
        docs.append(doc)
        i = len(text) - len(rest) + n
    return docs


@pytest.fixture(scope="module")
def json_runs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if not golden_cli.STREAMS.is_dir():
        pytest.skip(f"{golden_cli.STREAMS} is missing (the golden corpus needs it)")
    runs = golden_cli.record(tmp_path_factory.mktemp("golden"), full=True)
    return [r for r in runs if "json" in r["argv"] and "--format" in r["argv"]
            and r["argv"][0] not in NOT_HERE]


def test_the_corpus_asks_for_every_kind(json_runs: list[dict[str, Any]]) -> None:
    kinds = set()
    for r in json_runs:
        for stream in ("stdout", "stderr"):
            kinds |= {d["format"] for d in _documents(r[stream]) if isinstance(d, dict)
                      and str(d.get("format", "")).startswith("gicmig/")}
    assert kinds == {f"gicmig/{k}" for k in KINDS if k not in NOT_HERE}
    assert len(json_runs) > 60


def test_every_json_output_is_one_valid_document(json_runs: list[dict[str, Any]]) -> None:
    envelope = _schema("envelope", 1)
    for r in json_runs:
        where = " ".join(r["argv"])
        found = []
        for stream in ("stdout", "stderr"):
            text = r[stream]
            docs = _documents(text) if text.lstrip().startswith("{") else []
            mine = [d for d in docs if str(d.get("format", "")).startswith("gicmig/")]
            assert len(mine) == len(docs) or (stream == "stdout" and "-o" in r["argv"]), where
            found += [(stream, d) for d in mine]
        assert len(found) == 1, f"{where}: {len(found)} documents"
        stream, doc = found[0]
        if stream == "stderr":  # stdout carries the state itself (-o -)
            assert r["argv"][r["argv"].index("-o") + 1] == "-", where
        assert list(doc)[:4] == ["format", "version", "ok", "exit"], where
        assert doc["exit"] == r["status"], where
        assert doc["ok"] == (r["status"] == 0), where
        jsonschema.validate(doc, envelope)
        kind = doc["format"].removeprefix("gicmig/")
        assert doc["version"] == KINDS[kind]
        jsonschema.validate(doc, _schema(kind, doc["version"]))


def test_schemas_are_current_and_valid() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "json_schemas.py"), "--check"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    for kind, version in [("envelope", 1), *KINDS.items()]:
        if kind in NOT_HERE:
            continue
        schema = _schema(kind, version)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith(f"/{kind}.v{version}.json")


def test_schemas_refuse_what_they_do_not_describe() -> None:
    schema = _schema("validate", 1)
    good = document("validate", ok=True, exit=0, summary={
        "files": 0, "ok": 0, "invalid": 0, "unreadable": 0}, files=[], skipped=[])
    jsonschema.validate(good, schema)
    for bad in ({**good, "version": 2}, {**good, "format": "gicmig/info"},
                {**good, "exit": "0"}, {**good, "extra": 1},
                {k: v for k, v in good.items() if k != "ok"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    finding = {"code": "CPU-BPR-RANGE", "severity": "error", "message": "m", "place": None,
               "file": "x.json", "line": "1", "column": None, "offset": None}
    bad_file = {"path": "x.json", "ok": False, "exit": 1, "findings": [finding]}
    with pytest.raises(jsonschema.ValidationError):  # a line is an integer
        jsonschema.validate({**good, "files": [bad_file]}, schema)
    finding["line"] = 1
    jsonschema.validate({**good, "files": [bad_file]}, schema)


def test_an_unknown_kind_is_a_bug() -> None:
    with pytest.raises(KeyError):
        document("nonsense", ok=True, exit=0)


def test_schemas_ship_in_the_package() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert '"schemas/*.json"' in text
    assert Path(schema_path("error")).is_file()
