"""Colour: on a terminal only, never under NO_COLOR (https://no-color.org), --color wins."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gicmig.cli import main

ROOT = Path(__file__).resolve().parents[1]
V1 = "fixtures/v1"
ESC = "\x1b["


@pytest.fixture(autouse=True)
def plain_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.chdir(ROOT)
    yield
    from gicmig.cli._color import configure

    configure("auto")  # main() sets the policy per run; leave the default behind


def on_a_terminal(*args: str, env: dict[str, str] | None = None) -> str:
    """Run gicmig with stdout and stderr on a pseudo-terminal; what it printed there."""
    leader, follower = pty.openpty()
    full = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    proc = subprocess.Popen([sys.executable, "-m", "gicmig", *args], cwd=ROOT, stdin=None,
                            stdout=follower, stderr=follower,
                            env={**full, "TERM": "xterm", **(env or {})})
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


def test_a_terminal_gets_colour_unless_no_color_is_set() -> None:
    out = on_a_terminal("validate", f"{V1}/busy.json", f"{V1}/invalid/SGI-NOT-EDGE.json")
    assert f"busy.json: {ESC}32mok{ESC}0m" in out
    assert f"{ESC}1;31mSGI-NOT-EDGE{ESC}0m cpu0 irq 2 (SGI 2)" in out
    plain = on_a_terminal("validate", f"{V1}/busy.json", env={"NO_COLOR": "1"})
    assert ESC not in plain and "busy.json: ok" in plain
    assert ESC not in on_a_terminal("validate", f"{V1}/busy.json", env={"TERM": "dumb"})
    assert ESC not in on_a_terminal("--color", "never", "validate", f"{V1}/busy.json")
    # an empty NO_COLOR does not count (no-color.org)
    assert ESC in on_a_terminal("validate", f"{V1}/busy.json", env={"NO_COLOR": ""})


def test_a_pipe_gets_none_unless_asked(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["validate", f"{V1}/busy.json"]) == 0
    assert capsys.readouterr().out == f"{V1}/busy.json: ok\n1 file: 1 ok, 0 invalid\n"
    assert main(["validate", "--color", "always", f"{V1}/busy.json"]) == 0
    assert capsys.readouterr().out.startswith(f"{V1}/busy.json: {ESC}32mok{ESC}0m\n")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert main(["validate", f"{V1}/busy.json"]) == 0
    assert ESC in capsys.readouterr().out
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["validate", f"{V1}/busy.json"]) == 0
    assert ESC not in capsys.readouterr().out
    # an explicit flag is this run's choice and wins over NO_COLOR (no-color.org)
    assert main(["--color", "always", "validate", f"{V1}/busy.json"]) == 0
    assert ESC in capsys.readouterr().out


def test_diff_text_is_coloured_and_json_never(capsys: pytest.CaptureFixture[str]) -> None:
    args = [f"{V1}/busy.json", f"{V1}/hyp-context.json"]
    assert main(["diff", "--color", "always", "--registers", *args]) == 1
    coloured = capsys.readouterr().out
    assert main(["diff", "--registers", *args]) == 1
    plain = capsys.readouterr().out
    assert f"cpu0 hyp.hcr.en: {ESC}31mabsent{ESC}0m -> {ESC}32m1{ESC}0m {ESC}2m[GICH_HCR bit 0]" \
        f"{ESC}0m\n" in coloured
    assert "cpu0 hyp.hcr.en: absent -> 1 [GICH_HCR bit 0]\n" in plain
    stripped = coloured
    for code in (f"{ESC}31m", f"{ESC}32m", f"{ESC}2m", f"{ESC}0m"):
        stripped = stripped.replace(code, "")
    assert stripped == plain
    assert main(["diff", "--color", "always", "--format", "json", *args]) == 1
    assert ESC not in capsys.readouterr().out


def test_errors_colour_the_reason_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--color", "always", "info", "nope.gicmig"]) == 2
    assert capsys.readouterr().err.startswith(f"nope.gicmig: {ESC}1;31mIO-READ{ESC}0m cannot read")
    assert main(["info", "nope.gicmig"]) == 2
    assert capsys.readouterr().err.startswith("nope.gicmig: IO-READ cannot read")


def test_color_after_the_command_does_not_undo_one_before_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--color", "always", "validate", f"{V1}/busy.json"]) == 0
    assert ESC in capsys.readouterr().out
    assert main(["--color", "always", "validate", "--color", "never", f"{V1}/busy.json"]) == 0
    assert ESC not in capsys.readouterr().out
