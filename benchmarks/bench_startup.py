"""Issue 14 start-up targets: `gicmig --help` at most 5x a bare `python -c pass`, and
`import gicmig` below 20 ms. Each is a fresh interpreter (a subprocess), so the figures
are what a user or a CI step pays. The three commands are run in turn, RUNS times, and
the median of each is reported (interleaving keeps a load change on this shared machine
from landing on one of them only).

`import gicmig` is reported twice: the median wall time of `python -c "import gicmig"`
minus that of `python -c pass` (what the import adds to a process), and the median of
`-X importtime`'s own figure for the `gicmig` package (the import alone, without process
noise). Run: python benchmarks/bench_startup.py [RUNS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import fmt, report

ROOT = Path(__file__).resolve().parents[1]
RUNS = 41
IMPORT_TARGET = 20e-3  # seconds


# what pip writes as the `gicmig` console script (its launcher template)
SCRIPT = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from gicmig.cli import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""


def plain_install(where: Path) -> Path:
    """A throwaway venv that sees this source tree through a plain .pth line and has the
    console script pip would write: what a wheel install costs at start-up. (An editable
    install's import hook loads pathlib, urllib and more into every interpreter of its
    venv, `python -c pass` included, which would flatter the ratio.)"""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = subprocess.run([str(python), "-c", purelib], check=True, capture_output=True,
                          text=True).stdout.strip()
    Path(site, "gicmig-source.pth").write_text(f"{ROOT}\n")
    script = where / "bin" / "gicmig"
    script.write_text(SCRIPT.format(python=python))
    script.chmod(0o755)
    return python


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def import_time(python: Path, env: dict[str, str]) -> float:
    """-X importtime's cumulative microseconds for the `gicmig` package, in seconds."""
    out = subprocess.run([str(python), "-X", "importtime", "-c", "import gicmig"],
                         check=True, capture_output=True, text=True, env=env).stderr
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == "gicmig":
            return int(parts[1]) * 1e-6
    raise RuntimeError("-X importtime printed no line for gicmig")


def main(runs: int) -> int:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the warm-up writes the .pyc files, as pip does
    for name in ("PYTHONSTARTUP", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="gicmig-startup-") as tmp:
        python = plain_install(Path(tmp) / "venv")
        bare_cmd = [str(python), "-c", "pass"]
        import_cmd = [str(python), "-c", "import gicmig"]
        help_cmd = [str(python), str(python.parent / "gicmig"), "--help"]
        for cmd in (bare_cmd, import_cmd, help_cmd):
            wall(cmd, env)  # warm the page cache and the .pyc files
        bare, imp, helps, own = [], [], [], []
        for _ in range(runs):
            bare.append(wall(bare_cmd, env))
            imp.append(wall(import_cmd, env))
            helps.append(wall(help_cmd, env))
            own.append(import_time(python, env))
    ref = statistics.median(bare)
    ref_name = "python -c pass"
    print(f"{runs} runs each, interleaved, in a venv of {sys.executable} that sees {ROOT}")
    report([("python -c pass (reference)", ref, ref, ref_name, None),
            ("python -c 'import gicmig'", statistics.median(imp), ref, ref_name, None),
            ("gicmig --help (pip's console script)", statistics.median(helps), ref, ref_name,
             5)])
    added = statistics.median(imp) - ref
    alone = statistics.median(own)
    ok = max(added, alone) < IMPORT_TARGET
    print(f"\nimport gicmig: adds {fmt(added).strip()} to a process (median wall difference), "
          f"{fmt(alone).strip()} by -X importtime (target < {IMPORT_TARGET * 1e3:g} ms: "
          f"{'ok' if ok else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else RUNS))
