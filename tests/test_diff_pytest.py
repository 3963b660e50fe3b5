"""The pytest plugin: assert_gic_state fails with the semantic diff, and
--update-gic-fixtures rewrites the expected files (run in a separate pytest process)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gicmig.formats.fixture import to_json
from gicmig.formats.io import load

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "v1"

TESTS = textwrap.dedent(f"""
    from gicmig.formats.io import load
    from gicmig.pytest_plugin import assert_gic_state

    BUSY = {str(V1 / "busy.gicmig")!r}

    def changed():
        st = load(BUSY)
        st.cpu[1].pmr = 0x80
        st.provenance.tool_version = "9.9"
        return st

    def test_same():
        assert_gic_state(BUSY, "expected/busy.json")

    def test_changed():
        assert_gic_state(changed(), "expected/changed.json")

    def test_missing():
        assert_gic_state(changed(), "expected/new/missing.gicmig")

    def test_masked():
        assert_gic_state(changed(), "expected/busy.json", ignore=["cpu1 gicc.*"])

    def test_fixture_form(assert_gic_state):
        assert_gic_state(BUSY, "expected/busy.json")
""")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "expected").mkdir()
    for name in ("busy.json", "changed.json"):
        shutil.copy(V1 / "busy.json", tmp_path / "expected" / name)
    (tmp_path / "test_gic.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\ngic_fixture_ignore = provenance.tool_version\n")
    return tmp_path


def run_pytest(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # load only this plugin
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "gicmig.pytest_plugin",
                           "-p", "no:cacheprovider", "-q", *args], cwd=where, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_mismatch_fails_with_the_semantic_diff(project: Path) -> None:
    out = run_pytest(project)
    assert out.returncode == 1, out.stdout
    assert "2 failed, 3 passed" in out.stdout
    changed = project / "expected" / "changed.json"
    assert f"GIC state differs from fixture {changed} (1 change, expected -> actual):" in out.stdout
    assert "  cpu1 gicc.pmr: 0xf8 -> 0x80 [GICC_PMR bits 7:0]" in out.stdout
    assert "run pytest --update-gic-fixtures to accept the actual state" in out.stdout
    missing = project / "expected" / "new" / "missing.gicmig"
    assert f"GIC fixture {missing} does not exist" in out.stdout
    assert changed.read_text() == (V1 / "busy.json").read_text()  # nothing written


def test_update_rewrites_only_what_differs_deterministically(project: Path) -> None:
    busy = project / "expected" / "busy.json"
    before = busy.stat().st_mtime_ns
    out = run_pytest(project, "--update-gic-fixtures")
    assert out.returncode == 0, out.stdout
    assert "gicmig: 2 GIC fixture(s) written" in out.stdout
    changed = project / "expected" / "changed.json"
    missing = project / "expected" / "new" / "missing.gicmig"
    assert f"{changed}: updated (1 change)" in out.stdout
    assert f"{missing}: created" in out.stdout
    assert busy.stat().st_mtime_ns == before  # equal fixtures are not touched
    state = load(changed)
    assert state.cpu[1].pmr == 0x80 and state.provenance.tool_version == "9.9"
    assert changed.read_text() == to_json(state)
    assert load(missing) == state
    first = changed.read_bytes(), missing.read_bytes()
    again = run_pytest(project, "--update-gic-fixtures")
    assert again.returncode == 0 and "fixture(s) written" not in again.stdout
    assert (changed.read_bytes(), missing.read_bytes()) == first
    assert run_pytest(project).returncode == 0


def test_outside_pytest_it_is_a_plain_assertion(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from gicmig import pytest_plugin
    from gicmig.pytest_plugin import assert_gic_state

    monkeypatch.setattr(pytest_plugin._session, "update", False)  # even under --update-...
    fixture = tmp_path / "busy.json"
    shutil.copy(V1 / "busy.json", fixture)
    st = load(V1 / "busy.gicmig")
    assert_gic_state(st, fixture)
    st.shared.enabled |= 1 << 10
    with pytest.raises(AssertionError, match=r"irq 42 \(SPI 10\) enabled: 0 -> 1 "):
        assert_gic_state(st, fixture)
