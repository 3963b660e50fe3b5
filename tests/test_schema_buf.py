"""gicmig's WIRE_JSON verdicts against `buf breaking` itself, on the whole corpus.

buf is found through $GICMIG_BUF, then PATH, then the cache folder tools/install-buf.sh
installs into. On the corpus each tool compiles the case's folders itself (gicmig with
protoc, buf with its own compiler, both reading the case's buf.yaml / buf.work.yaml), and
they must agree on every rule ID, path, line and column, which must also be the locations
the case file records (`# at:`). The cases where gicmig deliberately differs say so
(`# differs:`, argued in docs/schema-compat.md), and there the test requires that buf
still gives what the case records and gicmig what it records for gicmig (`# gicmig:`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_schema_rules import CASES, Case, compiled, locations

from gicmig.schemacheck import locks
from gicmig.schemacheck.check import check_schema
from gicmig.schemacheck.sources import Schema, compile_dir

ROOT = Path(__file__).resolve().parents[1]
CONFIG = json.dumps({"version": "v2", "breaking": {"use": ["WIRE_JSON"]}})


def find_buf() -> str | None:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    for candidate in (os.environ.get("GICMIG_BUF"), shutil.which("buf"),
                      str(cache / "gicmig-buf" / "node_modules" / ".bin" / "buf")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


BUF = find_buf()
_MISSING = "buf is not installed: run tools/install-buf.sh (or set GICMIG_BUF) to compare " \
    "gicmig's verdicts with buf breaking"


@pytest.fixture(autouse=True)
def _need_buf() -> None:
    # skipped where buf is not installed, but a failure in CI, which installs it
    if BUF is None:
        if os.environ.get("CI") == "true":
            pytest.fail(_MISSING + " (CI=true: required)")
        pytest.skip(_MISSING)


def buf_findings(current: Schema, against: Schema, tmp: Path) -> set[tuple[str, int, int, str]]:
    assert BUF is not None
    (tmp / "current.binpb").write_bytes(current.fds.SerializeToString())
    (tmp / "against.binpb").write_bytes(against.fds.SerializeToString())
    proc = subprocess.run([BUF, "breaking", "current.binpb", "--against", "against.binpb",
                           "--config", CONFIG, "--error-format", "json"],
                          cwd=tmp, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode in (0, 100), proc.stderr
    found = {(j["path"], j.get("start_line", 0), j.get("start_column", 0), j["type"])
             for j in map(json.loads, proc.stdout.splitlines())}
    assert (proc.returncode == 100) == bool(found)
    return found


def gicmig_findings(current: Schema, against: Schema) -> set[tuple[str, int, int, str]]:
    report = check_schema(current, [against])
    # buf names files by their path inside the descriptor set
    return {(r.path.rsplit("/", 1)[-1] if current.root else r.path, r.line, r.column, r.rule)
            for r in report.results}


def test_buf_has_the_same_22_rules() -> None:
    from gicmig.schemacheck.rules import WIRE_JSON_RULES

    assert BUF is not None
    proc = subprocess.run([BUF, "config", "ls-breaking-rules", "--version", "v2",
                           "--format", "json"], capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    theirs = sorted(r["id"] for r in rows if "WIRE_JSON" in r.get("categories", []))
    assert theirs == sorted(WIRE_JSON_RULES)


def buf_on_folders(case: Case, tmp: Path) -> frozenset[tuple[str, int, int, str]]:
    """buf breaking after --against before, buf compiling the case's folders itself; a
    case without a buf.yaml of its own gets the WIRE_JSON rules through --config."""
    assert BUF is not None
    case.write(tmp)
    config = [] if case.has_layout else ["--config", CONFIG]
    proc = subprocess.run([BUF, "breaking", ".", "--against", "../before", *config,
                           "--error-format", "json"],
                          cwd=tmp / "after", capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode in (0, 100), proc.stderr
    found = frozenset((j["path"], j.get("start_line", 0),
                       j.get("start_column", 0), j["type"])
                      for j in map(json.loads, proc.stdout.splitlines()))
    assert (proc.returncode == 100) == bool(found)
    return found


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_agrees_with_buf(case: Case, tmp_path: Path) -> None:
    before, after = compiled(case)
    ours, theirs = locations(check_schema(after, [before])), buf_on_folders(case, tmp_path)
    assert theirs == case.at  # the corpus records what buf says
    if case.differs:
        assert ours == case.ours and ours != theirs, case.differs
    else:
        assert ours == theirs


def test_agrees_with_buf_on_gicmig_schema_and_a_break_in_it(tmp_path: Path) -> None:
    current = compile_dir(ROOT / "proto")
    for lock in locks.list_locks():
        assert buf_findings(current, lock.schema(), tmp_path) == set()
    broken = tmp_path / "proto" / "gicmig" / "v1"
    broken.mkdir(parents=True)
    text = (ROOT / "proto" / "gicmig" / "v1" / "gicmig.proto").read_text()
    text = text.replace("uint32 pmr = 2;", "uint64 pmr = 2;").replace(
        "bool enable_grp1 = 2;", "bool enable_group1 = 2;")
    (broken / "gicmig.proto").write_text(text)
    mutated = compile_dir(tmp_path / "proto")
    ours = {(f"gicmig/v1/{p}", line, col, rule) for p, line, col, rule in
            gicmig_findings(mutated, locks.get_lock(1).schema())}
    theirs = buf_findings(mutated, locks.get_lock(1).schema(), tmp_path)
    assert ours == theirs
    assert {r for *_, r in ours} == {"FIELD_WIRE_JSON_COMPATIBLE_TYPE", "FIELD_SAME_NAME",
                                     "FIELD_SAME_JSON_NAME"}
