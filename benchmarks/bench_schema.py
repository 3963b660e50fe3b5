"""Issue 4 benchmarks: `gicmig schema check` on the repo's own proto/ against every locked
revision, as a command (cold start, protoc included) and as library calls, against
`buf breaking` (WIRE_JSON) on the same input measured in the same run; and
`gicmig compat` on a revision-2 blob.  Run: python benchmarks/bench_schema.py

buf is found like tests/test_schema_buf.py finds it ($GICMIG_BUF, PATH, or the cache of
tools/install-buf.sh); without it the command is measured against a bare interpreter
start instead."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness import median_seconds, report

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


def main() -> None:
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
