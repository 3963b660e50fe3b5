"""Issue 2 benchmarks: blob sizes; encode, decode, decode+validate and the JSON round
trip of `max`, each against a raw protobuf parse of the same payload; `gicmig --help`
against a bare interpreter start.  Run: python benchmarks/bench_codec.py"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from timing import median_seconds, report

import gicmig
from gicmig.core.pb import pb
from gicmig.formats.fixture import from_json, to_json

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "v1"


def main() -> None:
    blob = (V1 / "max.gicmig").read_bytes()
    payload = blob[32:]
    print("blob sizes:")
    for name, limit in (("max", 6 * 1024), ("reset-virt-2cpu", 512)):
        size = (V1 / f"{name}.gicmig").stat().st_size
        print(f"  {name:20} {size:6d} bytes  (target <= {limit}: "
              f"{'ok' if size <= limit else 'MISSED'})")
    state = gicmig.decode(blob)
    text = to_json(state)
    raw = median_seconds(lambda: pb.Snapshot.FromString(payload), runs=50)
    ref = "raw protobuf parse of the payload"
    rows = [
        ("raw protobuf parse (reference)", raw, raw, ref, None),
        ("decode (envelope + CRC32C + parse)",
         median_seconds(lambda: gicmig.decode(blob, validate_state=False), runs=50), raw, ref, 3),
        ("decode + validate", median_seconds(lambda: gicmig.decode(blob), runs=50), raw, ref, 20),
        ("encode (validate + serialize + envelope)",
         median_seconds(lambda: gicmig.encode(state), runs=50), raw, ref, None),
        ("JSON round trip (to_json + from_json)",
         median_seconds(lambda: from_json(to_json(state)), runs=10), raw, ref, None),
        ("  to_json", median_seconds(lambda: to_json(state), runs=10), raw, ref, None),
        ("  from_json", median_seconds(lambda: from_json(text), runs=10), raw, ref, None),
    ]
    print(f"\nmax: {state.config.num_cpus} CPUs, {state.config.num_irqs} IDs, "
          f"payload {len(payload)} bytes")
    report(rows)
    startup = median_seconds(lambda: _run([sys.executable, "-c", "pass"]), runs=15, inner=1)
    helps = median_seconds(lambda: _run([sys.executable, "-m", "gicmig", "--help"]),
                           runs=15, inner=1)
    print()
    report([("python -c pass (reference)", startup, startup, "bare interpreter", None),
            ("gicmig --help", helps, startup, "bare interpreter", 5)])


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
