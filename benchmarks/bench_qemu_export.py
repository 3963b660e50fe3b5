"""Issue 12 benchmark: `export_qemu` into a 1 GiB template, against copying that file
once, measured in the same run, and the peak memory of the export.

The template is synthetic: the framing of a QEMU 7.2 stream (tests/test_qemu_support.py)
around the real `arm_gic` section of the shared `virt.mig`, with 1 GiB of RAM page
records (what QEMU writes for a guest whose RAM is in use), in a temporary directory.
The state exported is the shared `dist.mig`'s. The export walks the template's framing,
then copies it with the section's bytes replaced and syncs the output to disk, so the
fair reference is a copy that is also synced; the plain copy is shown too.
Run: python benchmarks/bench_qemu_export.py [SIZE_MIB]   (default 1024; BENCH_RUNS rounds,
default 7; BENCH_TMP: the directory for the ~3 GiB of temporary files)
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import fmt, report

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "qemu" / "streams"
sys.path.insert(0, str(ROOT / "tests"))

CHILD = """
import resource, sys
from gicmig.formats.io import load
from gicmig.views.qemu.write import export_qemu
state = load(sys.argv[1])
export_qemu(state, sys.argv[2], sys.argv[3])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
BASELINE = """
import resource
from gicmig.formats.io import load
from gicmig.views.qemu.write import export_qemu
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def build_template(path: Path, mib: int) -> None:
    from test_qemu_support import PAGE, be32, stream_parts

    from gicmig.views.qemu.stream import read_arm_gic
    from gicmig.views.qemu.vmstate import GIC_IDSTR, VIRT_SUBSECTION

    sec = read_arm_gic(SHARED / "virt.mig")
    assert sec.virt is not None
    gic = (b"\x04" + be32(10) + bytes([len(GIC_IDSTR)]) + GIC_IDSTR.encode() + be32(0)
           + be32(12) + sec.main + b"\x05" + bytes([len(VIRT_SUBSECTION)])
           + VIRT_SUBSECTION.encode() + be32(1) + sec.virt + b"\x7e" + be32(10))
    pages = (mib << 20) // PAGE
    with path.open("wb", buffering=8 << 20) as f:
        for part in stream_parts(gic, zero_pages=0, data_pages=pages):
            f.write(part)


def copy_synced(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    with dst.open("rb") as f:
        os.fsync(f.fileno())


def main() -> None:
    if not (SHARED / "dist.mig").exists():
        print(f"skipped: the shared streams are not at {SHARED}")
        return
    from gicmig.formats.io import dump
    from gicmig.views.qemu.convert import import_qemu
    from gicmig.views.qemu.write import export_qemu

    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        t = Path(tmp)
        template, out, copy = t / "template.mig", t / "out.mig", t / "copy.mig"
        start = time.perf_counter()
        build_template(template, mib)
        size = template.stat().st_size
        print(f"template: {size / (1 << 20):.0f} MiB, built in "
              f"{time.perf_counter() - start:.1f} s")
        state = import_qemu(SHARED / "dist.mig", machine="virt")
        dump(state, t / "dist.gicmig")
        # interleaved samples: the disk's speed drifts over a run more than between
        # neighbouring operations, so each round measures all three back to back
        samples: dict[str, list[float]] = {"plain": [], "synced": [], "export": []}
        for _ in range(int(os.environ.get("BENCH_RUNS", "7"))):
            for name, fn in (("plain", lambda: shutil.copyfile(template, copy)),
                             ("synced", lambda: copy_synced(template, copy)),
                             ("export", lambda: export_qemu(state, template, out))):
                start = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - start)
        plain, synced, exp = (statistics.median(samples[k]) for k in ("plain", "synced",
                                                                       "export"))
        ratios = sorted(e / s for e, s in zip(samples["export"], samples["synced"],
                                               strict=True))
        assert out.stat().st_size == size
        assert import_qemu(out, machine="virt") == state
        ref = "copy + fsync of the template"
        report([
            ("shutil.copyfile of the template", plain, synced, ref, None),
            ("copy + fsync (reference)", synced, synced, ref, None),
            (f"export_qemu into the {mib} MiB template", exp, synced, ref, 2),
        ])
        print(f"export_qemu / plain copy (no fsync): {exp / plain:.2f}x ({fmt(exp)} vs "
              f"{fmt(plain)})")
        print(f"per-round ratios export / copy+fsync: min {ratios[0]:.2f}x, median "
              f"{statistics.median(ratios):.2f}x, max {ratios[-1]:.2f}x")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        peak = int(subprocess.run([sys.executable, "-c", CHILD, str(t / "dist.gicmig"),
                                   str(template), str(out)], capture_output=True, text=True,
                                  env=env, check=True).stdout)
        base = int(subprocess.run([sys.executable, "-c", BASELINE], capture_output=True,
                                  text=True, env=env, check=True).stdout)
        print(f"peak RSS of a process exporting into the {mib} MiB template: {peak / 1024:.1f} "
              f"MiB (the same process without the export: {base / 1024:.1f} MiB)")
        print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} "
              "MiB, including building the template)")


if __name__ == "__main__":
    main()
