"""The README's library example runs as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_library_example(capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "README.md").read_text()
    code = re.search(r"## Library\n\n```python\n(.*?)```", text, re.S)
    assert code, "README has no library example"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(code.group(1), "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out.splitlines() == [
        "True False True", "BLOB-TRUNCATED 862", "288",
        "distributor.enable_grp0: 0 -> 1 [GICD_CTLR bit 0]", "SGI-NOT-EDGE",
        "1 an SGI is not edge-triggered", "irq 48 (SPI 16)", "IO-READ"]


def test_readme_commands_are_the_ci_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"```sh\n(python3 -m venv .*?)\n```", readme)
    assert len(commands) == 2
    assert commands[1] in ci  # CI runs the README's test command verbatim
