"""Running gicmig as an attacker's victim: the CLI in a subprocess with a time limit, its
one-line error, its exit code, and the inputs' hashes before and after."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gicmig.cli._run import EXIT_STATUS
from gicmig.errors import REASONS

TIMEOUT = 60  # seconds: a hang fails the test instead of stalling the suite


@dataclass
class Outcome:
    status: int
    stdout: bytes
    stderr: str


def gicmig(*args: str, stdout: int | None = subprocess.PIPE, cwd: Path | None = None) -> Outcome:
    proc = subprocess.run([sys.executable, "-m", "gicmig", *args], stdout=stdout,
                          stderr=subprocess.PIPE, timeout=TIMEOUT, cwd=cwd)
    return Outcome(proc.returncode, proc.stdout or b"", proc.stderr.decode(errors="replace"))


def refused(out: Outcome, code: str) -> str:
    """The one error line of a refusal with `code` and its documented exit status (on
    stderr, or on stdout for `validate`, whose report is its output)."""
    lines = out.stderr.splitlines() or out.stdout.decode(errors="replace").splitlines()
    assert len(lines) == 1, (out.stderr, out.stdout[:500])
    assert f": {code} " in lines[0], lines[0]
    assert "Traceback" not in out.stderr and "INTERNAL-ERROR" not in out.stderr
    assert out.status == EXIT_STATUS[REASONS[code].category], (out.status, lines[0])
    return lines[0]


def digest(*paths: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
