"""`assert a == b` on two GicStates explains itself with the semantic diff (issue 14)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gicmig
from gicmig.pytest_plugin import MAX_LINES, pytest_assertrepr_compare

BUSY = Path(__file__).resolve().parents[1] / "fixtures" / "v1" / "busy.json"


def explain(op: str, left: object, right: object) -> list[str] | None:
    return pytest_assertrepr_compare(None, op, left, right)  # type: ignore[arg-type]


def test_two_states_show_the_semantic_diff() -> None:
    a = gicmig.load(BUSY)
    b = a.copy()
    b.cpu[1].pmr = 0x80
    b.shared.enabled ^= 0b11 << 8  # SPIs 40-41
    b.provenance.tool_version = "9.9"  # not compared by ==: not shown
    assert explain("==", a, b) == [
        "<GicState 2 CPUs, 288 IDs, source fixture> == <GicState 2 CPUs, 288 IDs, source fixture>",
        "gicmig semantic diff, left -> right (2 changes; provenance not compared):",
        "  irq 40-41 (SPI 8-9) enabled: 1 -> 0 [GICD_ISENABLER1 bits 9:8]",
        "  cpu1 gicc.pmr: 0xf8 -> 0x80 [GICC_PMR bits 7:0]"]
    assert explain("==", b, a)[2:] == [  # type: ignore[index]
        "  irq 40-41 (SPI 8-9) enabled: 0 -> 1 [GICD_ISENABLER1 bits 9:8]",
        "  cpu1 gicc.pmr: 0x80 -> 0xf8 [GICC_PMR bits 7:0]"]


def test_an_imported_state_compares_like_any_state() -> None:
    a = gicmig.load(BUSY)
    b = gicmig.import_gich(gicmig.export_gich(a))
    b.cpu[0].bpr = 3
    lines = explain("==", a, b)
    assert lines is not None and lines[2:] == ["  cpu0 gicc.bpr: 2 -> 3 [GICC_BPR bits 2:0]"]


def test_other_comparisons_are_left_to_pytest() -> None:
    a = gicmig.load(BUSY)
    assert explain("!=", a, a.copy()) is None
    assert explain("==", a, "busy.json") is None
    assert explain("==", 1, 2) is None


def test_long_diffs_are_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gicmig.pytest_plugin.MAX_LINES", 1)
    a = gicmig.load(BUSY)
    b = a.copy()
    b.cpu[0].pmr, b.cpu[1].pmr = 0x10, 0x20
    assert explain("==", a, b)[1:] == [  # type: ignore[index]
        "gicmig semantic diff, left -> right (2 changes; provenance not compared):",
        "  cpu0 gicc.pmr: 0xf0 -> 0x10 [GICC_PMR bits 7:0]", "  ... and 1 more"]
    assert MAX_LINES == 200


def test_pytest_prints_it(tmp_path: Path) -> None:
    (tmp_path / "test_eq.py").write_text(textwrap.dedent(f"""
        import gicmig

        def test_restore():
            a = gicmig.load({str(BUSY)!r})
            b = a.copy()
            b.cpu[1].pmr = 0x80
            assert a == b
    """))
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "gicmig.pytest_plugin",
                          "-p", "no:cacheprovider", "-q", str(tmp_path)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 1, out.stdout
    lines = out.stdout.splitlines()
    start = lines.index("E       assert <GicState 2 CPUs, 288 IDs, source fixture> == "
                        "<GicState 2 CPUs, 288 IDs, source fixture>")
    assert lines[start + 1:start + 3] == [
        "E         gicmig semantic diff, left -> right (1 change; provenance not compared):",
        "E           cpu1 gicc.pmr: 0xf8 -> 0x80 [GICC_PMR bits 7:0]"]
    assert "_pb" not in out.stdout
