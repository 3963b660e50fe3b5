"""The WIRE_JSON rule engine on the change-pair corpus (tests/schema_corpus/*.case).

Each case file holds a `before` and an `after` proto file, the rule it exercises and the
expected set of rule IDs (`-` = compatible). Every one of the 22 rules has at least one
breaking and one compatible case; tests/test_schema_buf.py runs the same corpus through
`buf breaking`.
"""

from __future__ import annotations

import functools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from gicmig.cli import main
from gicmig.errors import GicmigError
from gicmig.schemacheck.check import Report, check_schema
from gicmig.schemacheck.rules import WIRE_JSON_RULES
from gicmig.schemacheck.sources import Schema, compile_dir

CORPUS = Path(__file__).resolve().parent / "schema_corpus"


@dataclass(frozen=True)
class Case:
    """`--- before` / `--- after` hold one file, case.proto; `--- before PATH` / `--- after
    PATH` sections lay out a folder (a buf.yaml, buf.work.yaml, files under roots). `at`
    lists where buf reports each finding, as `PATH:LINE:COLUMN RULE` inside the `after`
    folder (`-` for none); a case where gicmig deliberately differs says why (`differs`)
    and where gicmig reports instead (`gicmig`)."""

    name: str
    rule: str
    expect: frozenset[str]
    files: tuple[tuple[str, str, str], ...]  # (side, path inside the side's folder, text)
    at: frozenset[tuple[str, int, int, str]] | None = None
    differs: str | None = None  # a deliberate difference from buf (docs/schema-compat.md)
    ours: frozenset[tuple[str, int, int, str]] | None = None  # gicmig's, where it differs

    def text(self, side: str, path: str = "case.proto") -> str:
        return next(t for s, p, t in self.files if (s, p) == (side, path))

    @property
    def has_layout(self) -> bool:
        return any(p.rsplit("/", 1)[-1] in ("buf.yaml", "buf.work.yaml")
                   for _, p, _ in self.files)

    def write(self, root: Path) -> tuple[Path, Path]:
        for side, path, text in self.files:
            (root / side / path).parent.mkdir(parents=True, exist_ok=True)
            (root / side / path).write_text(text)
        return root / "before", root / "after"


def _at(spec: str) -> frozenset[tuple[str, int, int, str]]:
    out = set()
    for item in filter(None, (x.strip() for x in spec.split(";"))):
        if item == "-":
            continue
        where, rule = item.split(" ")
        path, line, col = where.rsplit(":", 2)
        out.add((path, int(line), int(col), rule))
    return frozenset(out)


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.case")):
        text = path.read_text()
        head, _, rest = text.partition("\n--- ")
        meta: dict[str, str] = {}
        for line in head.splitlines():
            if ": " in line:
                key, value = line[2:].split(": ", 1)
                meta[key] = f"{meta[key]}; {value}" if key in meta else value
        files = []
        for section in ("--- " + rest).split("\n--- ")[0:]:
            title, _, body = section.removeprefix("--- ").partition("\n")
            side, _, name = title.partition(" ")
            files.append((side, name or "case.proto", body if body.endswith("\n") or not body
                          else body + "\n"))
        expect = frozenset() if meta["expect"] == "-" else \
            frozenset(x.strip() for x in meta["expect"].split(","))
        cases.append(Case(path.stem, meta["rule"], expect, tuple(files),
                          _at(meta["at"]) if "at" in meta else None, meta.get("differs"),
                          _at(meta["gicmig"]) if "gicmig" in meta else None))
    return cases


CASES = load_cases()


@functools.cache
def compiled(case: Case) -> tuple[Schema, Schema]:
    """(before, after) compiled once per session (tests/test_schema_buf.py reuses them)."""
    with tempfile.TemporaryDirectory(prefix="gicmig-corpus-") as tmp:
        before, after = case.write(Path(tmp))
        return compile_dir(before, label="before"), compile_dir(after, label="after")


def locations(report: Report) -> frozenset[tuple[str, int, int, str]]:
    """(path inside the `after` folder, line, column, rule) of every finding."""
    return frozenset((r.path.removeprefix("after/"), r.line, r.column, r.rule)
                     for r in report.results)


def test_corpus_covers_every_rule_both_ways() -> None:
    assert len(CASES) >= 30
    assert len(WIRE_JSON_RULES) == 22
    for rule in WIRE_JSON_RULES:
        breaking = [c for c in CASES if c.rule == rule and rule in c.expect]
        compatible = [c for c in CASES if c.rule == rule and rule not in c.expect]
        assert breaking and compatible, rule
    assert {r for c in CASES for r in c.expect} <= set(WIRE_JSON_RULES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_verdict(case: Case) -> None:
    before, after = compiled(case)
    report = check_schema(after, [before])
    assert {r.rule for r in report.results} == case.expect
    assert report.ok == (not case.expect)
    for r in report.results:
        assert r.line > 0 and r.column > 0  # every finding points into the file
    assert case.at is not None, "every case records where buf reports its findings"
    if case.differs:
        assert case.ours is not None and case.ours != case.at
        assert locations(report) == case.ours
    else:
        assert locations(report) == case.at
        assert {rule for *_, rule in case.at} == case.expect


def test_reversed_compatible_cases_that_only_add_stay_compatible(tmp_path: Path) -> None:
    # a pure addition read the other way round is a deletion: the engine is directional
    case = next(c for c in CASES if c.name.endswith("gicmig_revision_2_addition"))
    before, after = case.write(tmp_path)
    report = check_schema(compile_dir(before), [compile_dir(after)])
    assert {r.rule for r in report.results} == {"FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
                                               "FIELD_NO_DELETE_UNLESS_NAME_RESERVED"}


def test_text_output_is_path_line_col_rule(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    case = next(c for c in CASES if c.name.endswith("type_uint32_to_uint64"))
    before, after = case.write(tmp_path)
    assert main(["schema", "check", "--against", str(before), str(after)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"{after}/case.proto:4:3: FIELD_WIRE_JSON_COMPATIBLE_TYPE "
                   'Field "1" with name "pmr" on message "Cpu" changed type from "uint32" to '
                   '"uint64": not both wire- and JSON-compatible. '
                   f"(element corpus.v1.Cpu.pmr; against {before})"]


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = next(c for c in CASES if c.name.endswith("enum_value_rename"))
    before, after = case.write(tmp_path)
    assert main(["schema", "check", "--format", "json", "--against", str(before),
                 str(after)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["breaking"] == 1
    (f,) = doc["findings"]
    assert (f["rule"], f["line"], f["element"]) == ("ENUM_VALUE_SAME_NAME", 5,
                                                    "corpus.v1.View.VIEW_KVM")
    assert f["waived"] is False


def test_compatible_change_exits_0(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name.endswith("enum_value_added"))
    before, after = case.write(tmp_path)
    assert main(["schema", "check", "--against", str(before), str(after)]) == 0


def test_any_proto_set_with_imports_and_several_files(tmp_path: Path) -> None:
    old, new = tmp_path / "old" / "acme", tmp_path / "new" / "acme"
    for root, ts_type in ((old, "google.protobuf.Timestamp"), (new, "google.protobuf.Duration")):
        root.mkdir(parents=True)
        (root / "a.proto").write_text(
            'syntax = "proto3";\npackage acme;\nimport "google/protobuf/timestamp.proto";\n'
            'import "google/protobuf/duration.proto";\nimport "acme/b.proto";\n'
            f"message A {{\n  {ts_type} at = 1;\n  B b = 2;\n}}\n")
        (root / "b.proto").write_text('syntax = "proto3";\npackage acme;\nmessage B {}\n')
    report = check_schema(compile_dir(tmp_path / "new"), [compile_dir(tmp_path / "old")])
    (r,) = report.results
    assert r.rule == "FIELD_WIRE_JSON_COMPATIBLE_TYPE" and r.path.endswith("acme/a.proto")
    assert r.line == 7  # imports (well-known types) are looked up, never checked


def test_compile_error_is_exit_2_with_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.proto").write_text('syntax = "proto3";\nmessage {\n')
    assert main(["schema", "check", "--against", "1", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SCHEMA-COMPILE" in err[0] and "x.proto" in err[0]


@pytest.mark.parametrize("bad", ["missing-dir", "empty-dir"])
def test_bad_schema_inputs(tmp_path: Path, bad: str) -> None:
    path = tmp_path / bad
    if bad == "empty-dir":
        path.mkdir()
    with pytest.raises(GicmigError) as exc:
        from gicmig.schemacheck.locks import load_schema as load

        load(path)
    assert exc.value.code in ("SCHEMA-INPUT", "IO-READ")
