"""Run every benchmark: python benchmarks/run.py [NAME ...]  (NAME: codec, gich, qemu, ...)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    status = 0
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        status |= subprocess.run([sys.executable, str(script)], cwd=HERE.parent,
                                 check=False).returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
