"""Issues 4 and 15 benchmarks: `gicmig schema check` on the repo's own proto/, per
comparison as a command (cold start, protoc included) against `buf breaking` (WIRE_JSON)
on the same input measured in the same run: wall-clock and CPU (user + system of the
child) medians; baselines a lock (descriptor set), a proto folder and a git ref; gicmig's
modules compiled to bytecode first, as a wheel install has them. Then the library parts
and `gicmig compat` on a revision-2 blob.  Run: python benchmarks/bench_schema.py

buf is found like tests/test_schema_buf.py finds it ($GICMIG_BUF, PATH, or the cache of
tools/install-buf.sh); without it the command is measured against a bare interpreter
start instead."""

from __future__ import annotations

import compileall
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from timing import median_seconds, report

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_schema_buf import find_buf  # noqa: E402

from gicmig.schemacheck import blobcompat, locks  # noqa: E402
from gicmig.schemacheck.check import check_schema  # noqa: E402
from gicmig.schemacheck.sources import compile_dir  # noqa: E402

CONFIG = json.dumps({"version": "v2", "breaking": {"use": ["WIRE_JSON"]}})


def _run(cmd: list[str], cwd: Path = ROOT) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}): {proc.stderr[:300]!r}")


def wall_and_cpu(cmd: list[str], cwd: Path, runs: int = 21) -> tuple[float, float]:
    """Median wall-clock and median CPU (user + system) seconds of one run of `cmd`."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        _run(cmd, cwd)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def per_comparison(buf: str) -> None:
    """One baseline per run, the same input for both tools, interleaved per input."""
    lock = str(locks.get_lock(len(locks.list_locks())).descriptor_path)
    gicmig = [sys.executable, "-m", "gicmig", "schema", "check"]
    inputs: list[tuple[str, list[str], list[str]]] = [
        ("lock (descriptor set)", [*gicmig, "--against", lock, "proto"],
         [buf, "breaking", ".", "--against", lock, "--config", CONFIG]),
        ("proto folder", [*gicmig, "--against", "proto", "proto"],
         [buf, "breaking", ".", "--against", ".", "--config", CONFIG]),
        ("git ref .git#ref=HEAD", [*gicmig, "--against", ".git#ref=HEAD", "proto"],
         [buf, "breaking", ".", "--against", "../.git#ref=HEAD,subdir=proto",
          "--config", CONFIG]),
    ]
    print(f"{'one comparison, baseline =':32} {'gicmig wall/cpu':>18} {'buf wall/cpu':>18}"
          f" {'ratio wall':>10} {'ratio cpu':>9}")
    for name, ours, theirs in inputs:
        runs = 9 if "git" in name else 21
        g = wall_and_cpu(ours, ROOT, runs)
        b = wall_and_cpu(theirs, ROOT / "proto", runs)
        print(f"{name:32} {g[0] * 1e3:8.0f}/{g[1] * 1e3:3.0f} ms {b[0] * 1e3:8.0f}/"
              f"{b[1] * 1e3:3.0f} ms {g[0] / b[0]:9.2f}x {g[1] / b[1]:8.2f}x  (target <= 1x)")
    print()


def main() -> None:
    # gicmig's own modules as an installed wheel has them: compiled to bytecode. (An
    # editable install under PYTHONDONTWRITEBYTECODE=1, as on the project's machines,
    # compiles every gicmig module from source on each run: ~30 ms more CPU per command.)
    compileall.compile_dir(str(ROOT / "gicmig"), quiet=1)
    buf0 = find_buf()
    if buf0 is not None:
        per_comparison(buf0)
    all_locks = locks.list_locks()
    print(f"input: proto/ against {len(all_locks)} locked revisions")
    gicmig_cli = [sys.executable, "-m", "gicmig", "schema", "check"]
    cli = median_seconds(lambda: _run(gicmig_cli), runs=15, inner=1)
    buf = find_buf()
    if buf is not None:
        # buf takes one baseline per run: one run per lock is the same work
        def buf_all() -> None:
            for lk in all_locks:
                _run([buf, "breaking", ".", "--against", str(lk.descriptor_path),
                      "--config", CONFIG], cwd=ROOT / "proto")

        ref, ref_name = median_seconds(buf_all, runs=15, inner=1), \
            f"buf breaking (WIRE_JSON), {len(all_locks)} runs"
    else:
        print("buf not found (tools/install-buf.sh): reference is a bare interpreter start")
        ref = median_seconds(lambda: _run([sys.executable, "-c", "pass"]), runs=15, inner=1)
        ref_name = "python -c pass"
    current = compile_dir(ROOT / "proto")
    baselines = [lk.schema() for lk in all_locks]
    blob = (ROOT / "fixtures" / "v2" / "kvm-grp1-unknown.gicmig").read_bytes()
    import gicmig

    state = gicmig.decode(blob)
    report([
        ("gicmig schema check (command)", cli, ref, ref_name, None),
        ("  compile proto/ (grpc_tools.protoc)",
         median_seconds(lambda: compile_dir(ROOT / "proto"), runs=15, inner=1), ref, ref_name,
         None),
        ("  load and verify every lock",
         median_seconds(lambda: [lk.schema() for lk in locks.list_locks()], runs=30), ref,
         ref_name, None),
        ("  WIRE_JSON rules against every lock",
         median_seconds(lambda: check_schema(current, baselines), runs=30), ref, ref_name,
         None),
        ("compat --revision 1 (library, one blob)",
         median_seconds(lambda: blobcompat.lost_fields(state, 1), runs=30), ref, ref_name,
         None),
    ])


if __name__ == "__main__":
    main()
