"""Issue 7 benchmarks: importing the shared `virt.mig` QEMU stream (strict, TCG), against
reading the same file once, measured in the same run; peak memory of the import; and the
walk of a synthetic stream with 64 MiB of RAM pages.  Run: python benchmarks/bench_qemu.py"""

from __future__ import annotations

import io
import sys
import tracemalloc
from pathlib import Path

from timing import fmt, median_seconds, report

from gicmig.views.qemu.convert import import_qemu
from gicmig.views.qemu.source import CHUNK
from gicmig.views.qemu.stream import read_arm_gic

ROOT = Path(__file__).resolve().parents[1]
STREAM = ROOT.parent / "shared" / "qemu" / "streams" / "virt.mig"
sys.path.insert(0, str(ROOT / "tests"))


def read_once(path: Path) -> None:
    path.read_bytes()


def read_chunked(path: Path) -> None:
    with path.open("rb") as f:
        while f.read(CHUNK):
            pass


def peak_bytes(fn: object) -> int:
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    if not STREAM.exists():
        print(f"skipped: {STREAM} is absent")
        return
    size = STREAM.stat().st_size
    once = median_seconds(lambda: read_once(STREAM), runs=50)
    chunked = median_seconds(lambda: read_chunked(STREAM), runs=50)
    ref = "Path.read_bytes of the stream"
    imp = median_seconds(lambda: import_qemu(STREAM, accel="tcg", machine="virt"), runs=30)
    find = median_seconds(lambda: read_arm_gic(STREAM), runs=30)
    print(f"virt.mig: {size} bytes")
    report([
        ("Path.read_bytes (reference)", once, once, ref, None),
        ("chunked read (1 MiB reads)", chunked, once, ref, None),
        ("find arm_gic (framing + vmdesc walk)", find, once, ref, None),
        ("import_qemu virt.mig (strict, tcg)", imp, once, ref, 5),
    ])
    peak = peak_bytes(lambda: import_qemu(STREAM, accel="tcg", machine="virt"))
    print(f"peak traced memory of the import: {peak / 1024:.0f} KiB "
          f"({peak / size:.2f}x the stream size)")

    from test_qemu_support import GicImage, stream_parts

    data = b"".join(stream_parts(GicImage().section(), zero_pages=8192, data_pages=16384,
                                 devices=False))
    walk = median_seconds(lambda: read_arm_gic(io.BytesIO(data)), runs=5)
    copy = median_seconds(lambda: bytes(memoryview(data)[:]), runs=5)
    print(f"synthetic stream with {len(data) >> 20} MiB of RAM records: walk {fmt(walk)} "
          f"({walk / copy:.1f}x one copy of it, {fmt(copy)})")


if __name__ == "__main__":
    main()
