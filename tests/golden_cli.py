"""The CLI golden corpus: every documented example and every bundled input, run through the CLI.

`tests/test_golden_cli.py` re-runs the corpus and compares exit status, stdout, stderr and the
bytes of every file written with `tests/golden/cli.json`, so that a move or a refactor that
changes one byte of a message or an output fails. After an intended change of output:
`python tests/golden_cli.py --update` and review the diff of the golden file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "cli.json"
STREAMS = ROOT.parent / "shared" / "qemu" / "streams"
TEXT_LIMIT = 6000  # longer outputs are kept as a hash and their first lines


def _fixtures() -> list[str]:
    found = []
    for rev in ("v1", "v2", "v3"):
        for p in sorted((ROOT / "fixtures" / rev).glob("*")):
            if p.suffix in (".json", ".gicmig"):
                found.append(f"fixtures/{rev}/{p.name}")
    return found


def _invalid() -> list[str]:
    return [str(p.relative_to(ROOT)) for p in sorted((ROOT / "fixtures").glob("v*/invalid/*"))]


def corpus() -> Iterator[list[str]]:
    """Argument vectors; OUT/ names a fresh output folder, STREAMS/ the shared QEMU streams."""
    for f in _fixtures():
        yield ["validate", f]
        yield ["validate", "--format", "json", f]
        yield ["decode" if f.endswith(".gicmig") else "encode", f, "-o", "OUT/x"]
        yield ["info", f]
        yield ["info", "--format", "json", f]
        yield ["export", "gich", f, "-o", "OUT/view.json"]
        yield ["export", "gich", f, "--eoi-policy", "none", "--distributor", "blob", "-o", "-"]
        yield ["export", "gich", f, "--vtr", "0x90000000", "-o", "OUT/v.json", "--format", "json"]
        yield ["export", "kvm", f, "-o", "OUT/writes.json"]
        yield ["export", "kvm", f, "--lenient", "-o", "OUT/writes.json", "--format", "json"]
        yield ["export", "kvm", f, "--dump", "-o", "OUT/dump.json"]
        yield ["compat", f, "--revision", "1"]
        yield ["diff", f, "fixtures/v1/busy.json"]
        yield ["diff", "--registers", f, "fixtures/v1/max.json"]
        yield ["diff", "--format", "json", f, "fixtures/v1/reset-virt-2cpu.json"]
    for f in _invalid():
        yield ["validate", f]
        yield ["validate", "--format", "json", f]
        yield ["decode", f]
    yield ["import", "kvm", "fixtures/kvm/firecracker-gicv2.json", "--num-cpus", "2", "-o", "OUT/s"]
    yield ["import", "kvm", "fixtures/kvm/firecracker-gicv2.json", "-o", "OUT/s"]
    yield ["import", "kvm", "fixtures/kvm/two-vcpu.json", "-o", "OUT/s.gicmig"]
    yield ["import", "kvm", "fixtures/kvm/two-vcpu.json", "-o", "-", "--format", "json"]
    for name in ("reset", "dist", "cpuif", "virt"):
        s = f"STREAMS/{name}.mig"
        yield ["import", "qemu", s, "--accel", "tcg", "--machine", "virt", "-o", "OUT/q.gicmig"]
        yield ["import", "qemu", s, "--accel", "tcg", "--num-irqs", "288", "-o", "-",
               "--format", "json"]
        yield ["import", "qemu", s, "--accel", "tcg", "--machine", "virt", "--nested",
               "-o", "OUT/n.json"]
        yield ["import", "qemu", s, "--accel", "kvm", "--machine", "virt", "-o", "OUT/k.gicmig"]
        yield ["import", "qemu", s, "--accel", "tcg", "-o", "OUT/inferred.json"]
        yield ["diff", "--registers", "fixtures/v1/reset-virt-2cpu.json", f"qemu:tcg:{s}"]
    yield ["import", "qemu", "examples/qemu-7.2-virt.mig", "--accel", "tcg", "--machine",
           "virt", "--nested", "-o", "OUT/virt.gicmig"]
    yield ["diff", "fixtures/v1/max.json", "fixtures/v1/busy.gicmig", "--ignore", "cpu1*"]
    yield ["diff", "-q", "fixtures/v1/max.json", "fixtures/v1/max.gicmig"]
    yield ["schema", "json"]
    yield ["schema", "gich-view"]
    # issue 14: folders, -q, the CI formats, and a JSON document of every kind
    yield ["validate", "fixtures/v1/invalid"]
    yield ["validate", "-q", "fixtures/v1", "fixtures/v2/busy-rev1-content.json"]
    yield ["validate", "--format", "json", "fixtures/v1/invalid"]
    yield ["validate", "--format", "github", "fixtures/v1/invalid", "fixtures/v1/busy.json"]
    yield ["validate", "--format", "sarif", "fixtures/v1/invalid/CPU-BPR-RANGE.json",
           "fixtures/v1/invalid/BLOB-TRUNCATED.gicmig", "fixtures/v1/busy.json"]
    yield ["validate", "--format", "json", "fixtures/v1/busy.json", "OUT/missing.json"]
    yield ["info", "--format", "json", "fixtures/v1/invalid/BLOB-TRUNCATED.gicmig"]
    yield ["import", "kvm", "fixtures/kvm/firecracker-gicv2.json", "-o", "OUT/s",
           "--format", "json"]
    yield ["import", "kvm", "OUT/missing.json", "-o", "OUT/s", "--format", "json"]
    yield ["show", "--format", "json", "fixtures/v1/busy.json"]
    yield ["compat", "--format", "json", "fixtures/v3/kvm-stale-latch.gicmig", "--revision", "2"]
    yield ["compat", "--format", "json", "fixtures/v1/busy.gicmig", "--revision", "1"]
    lossy = ["schema", "check", "--against", "3", "gicmig/data/schema-revision-1.binpb"]
    for fmt in ("text", "json", "github", "sarif"):
        yield [*lossy, "--format", fmt]
    yield ["schema", "check", "--against", "2", "--format", "json",
           "gicmig/data/schema-revision-3.binpb"]


def _chain() -> Iterator[list[list[str]]]:
    """Multi-step examples (from the docs): each step sees the previous steps' outputs."""
    yield [["export", "gich", "fixtures/v1/busy.json", "-o", "OUT/busy-view.json"],
           ["import", "gich", "OUT/busy-view.json", "-o", "OUT/back.gicmig"],
           ["diff", "OUT/back.gicmig", "fixtures/v1/busy.json"]]
    yield [["export", "gich", "fixtures/v1/hyp-context.json", "-o", "OUT/hv.json"],
           ["import", "gich", "OUT/hv.json", "-o", "OUT/x.gicmig"],
           ["import", "gich", "OUT/hv.json", "-o", "OUT/x.gicmig", "--keep-hypervisor-context",
            "--format", "json"],
           ["import", "gich", "OUT/hv.json", "-o", "OUT/y.json", "--lenient"]]
    yield [["import", "kvm", "fixtures/kvm/two-vcpu.json", "-o", "OUT/k.gicmig"],
           ["export", "kvm", "OUT/k.gicmig", "-o", "OUT/w.json"],
           ["export", "gich", "OUT/k.gicmig", "-o", "OUT/g.json"]]
    # docs/qemu.md "Worked example": a KVM dump into a real QEMU 7.2 template
    template = "examples/qemu-7.2-virt-template.mig"
    yield [["import", "kvm", "fixtures/kvm/two-vcpu.json", "-o", "OUT/kvm.gicmig"],
           ["export", "qemu", "OUT/kvm.gicmig", "--template", template, "-o", "OUT/vm.mig"],
           ["export", "qemu", "OUT/kvm.gicmig", "--template", template, "-o", "OUT/vm.mig",
            "--lenient"],
           ["export", "qemu", "OUT/kvm.gicmig", "--template", template, "-o", "OUT/k.mig",
            "--accel", "kvm"],
           ["import", "qemu", "OUT/vm.mig", "-o", "OUT/vm.json"]]
    for name in ("dist", "virt"):  # a real stream, imported and exported into itself
        yield [["import", "qemu", f"STREAMS/{name}.mig", "-o", "OUT/q.gicmig"],
               ["export", "qemu", "OUT/q.gicmig", "--template", f"STREAMS/{name}.mig",
                "-o", "OUT/same.mig", "--format", "json"]]


def _run(argv: list[str], out: Path, full: bool = False) -> dict[str, object]:
    from gicmig.cli import main

    real = [a.replace("OUT/", f"{out}/").replace("STREAMS/", f"{STREAMS}/") for a in argv]
    # text streams over bytes, as a process has: `-o -` writes bytes to sys.stdout.buffer
    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out_bytes, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err_bytes, encoding="utf-8", write_through=True)
    before = {p: p.read_bytes() for p in out.iterdir()}
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            status = main(real)
        except SystemExit as exc:  # argparse usage errors
            status = exc.code if isinstance(exc.code, int) else 2
    files = {p.name: _text(p.read_bytes()) for p in sorted(out.iterdir())
             if before.get(p) != p.read_bytes()}
    return {"argv": argv, "status": status,
            "stdout": _clean(out_bytes.getvalue().decode(errors="replace"), out, full),
            "stderr": _clean(err_bytes.getvalue().decode(errors="replace"), out, full),
            "files": files}


def _clean(text: str, out: Path, full: bool = False) -> str:
    text = text.replace(str(out), "OUT").replace(str(STREAMS), "STREAMS")
    return text if full else _text(text.encode())


def _text(data: bytes) -> str:
    if len(data) <= TEXT_LIMIT:
        try:
            return data.decode()
        except UnicodeDecodeError:
            pass
    head = data[:300].decode(errors="replace")
    return f"sha256:{hashlib.sha256(data).hexdigest()} {len(data)} bytes: {head!r}"


def record(tmp: Path, full: bool = False) -> list[dict[str, object]]:
    """Run the corpus in ROOT (inputs are relative paths); outputs go below `tmp`.
    `full`: stdout and stderr whole (the golden file keeps long ones as a hash)."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    results = []
    try:
        for i, argv in enumerate(corpus()):
            out = tmp / f"c{i}"
            out.mkdir()
            results.append(_run(argv, out, full))
        for i, steps in enumerate(_chain()):
            out = tmp / f"chain{i}"
            out.mkdir()
            results.extend(_run(argv, out, full) for argv in steps)
    finally:
        os.chdir(cwd)
    return results


def compare_messages(before: Path, after: Path) -> int:
    """Compare two `pytest --record-messages` files: the refactor gate on every message."""
    tmp = re.compile(r"pytest-\d+")  # pytest's numbered temporary folders
    a, b = (json.loads(tmp.sub("pytest-N", p.read_text())) for p in (before, after))
    differ = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
    for k in differ:
        pairs = [(x, y) for x, y in zip(a[k], b[k], strict=False) if x != y]
        first = pairs[0] if pairs else (a[k][len(b[k]):][:1], b[k][len(a[k]):][:1])
        print(f"{k}: {len(a[k])} messages before, {len(b[k])} after; first difference:")
        print("  -", first[0])
        print("  +", first[1])
    only = sorted(a.keys() ^ b.keys())
    print(f"{len(a.keys() & b.keys())} tests compared, {len(differ)} differ, "
          f"{len(only)} in one recording only")
    return 1 if differ else 0


def main() -> int:
    import tempfile

    if not STREAMS.is_dir():
        print(f"golden_cli: {STREAMS} is missing", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp())
    try:
        results = record(tmp)
    finally:
        shutil.rmtree(tmp)
    if sys.argv[1:2] == ["--compare-messages"]:
        return compare_messages(Path(sys.argv[2]), Path(sys.argv[3]))
    if "--update" in sys.argv:
        GOLDEN.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {len(results)} runs to {GOLDEN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
