"""Issue 16 benchmarks: the HTML pages of `max`.

Measured in one run: the size of the state page of `max` and of two diff pages; the time
to build them in Python, as a ratio to decode+validate of `max`; and the time a real
browser (headless Chromium) takes to load and render them, as a median over many loads
and as a ratio to an empty page loaded by the same browser.

Targets: the `max` page < 1 MiB; rendered by the browser in < 1 s (navigation start to
two painted frames after `load`).
Run: python benchmarks/bench_html.py   (chromium from Debian; skips the browser without)"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from timing import fmt, median_seconds, report

import gicmig
from gicmig.html import diff_page, state_page
from gicmig.statediff.semantic import diff

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from bench_diff import every_interrupt_changed  # noqa: E402
from headless import Browser, find_chromium  # noqa: E402

MIB = 1 << 20


def main() -> int:
    blob = (ROOT / "fixtures" / "v1" / "max.gicmig").read_bytes()
    mx = gicmig.decode(blob)
    busy = gicmig.load(ROOT / "fixtures" / "v1" / "busy.gicmig")
    allc = every_interrupt_changed(mx)
    pages = {
        "state page of max": state_page(mx, "max"),
        "diff page busy -> max": diff_page(busy, mx),
        "diff page max -> all-changed max": diff_page(mx, allc),
    }
    print(f"{'page':44} {'bytes':>10} {'lines':>7}  (target)")
    for name, html in pages.items():
        size = len(html.encode())
        goal = f"  (< 1 MiB {'ok' if size < MIB else 'MISSED'})" if name.startswith("state") else ""
        lines = len(diff(mx, allc)) if "all-changed" in name else ""
        print(f"{name:44} {size:10d} {lines!s:>7}{goal}")
    print()
    t_dec = median_seconds(lambda: gicmig.decode(blob), runs=20)
    t_state = median_seconds(lambda: state_page(mx, "max"), runs=10, inner=1)
    t_diff = median_seconds(lambda: diff_page(mx, allc), runs=10, inner=1)
    report([("decode + validate of max (reference)", t_dec, t_dec, "decode+validate", None),
            ("build the state page of max", t_state, t_dec, "decode+validate", None),
            ("build the all-changed diff page of max", t_diff, t_dec, "decode+validate", None)])
    exe = find_chromium()
    if exe is None:
        print("\nchromium is not installed: browser render times not measured")
        return 0
    print()
    loads = 15
    with tempfile.TemporaryDirectory() as tmp, Browser(exe) as browser:
        files = {"empty page (reference)": Path(tmp, "empty.html")}
        files["empty page (reference)"].write_text("<!DOCTYPE html><title>x</title><p>x")
        for name, html in pages.items():
            files[name] = Path(tmp, f"{len(files)}.html")
            files[name].write_text(html, encoding="utf-8")
        results = {}
        for name, path in files.items():
            browser.load(path)  # warm the browser's caches of fonts and code
            runs = [browser.load(path) for _ in range(loads)]
            assert all(not r.errors for r in runs), runs[0].errors
            results[name] = (statistics.median(r.load_ms for r in runs),
                             statistics.median(r.rendered_ms for r in runs))
    ref = results["empty page (reference)"][1]
    print(f"{'browser (median of ' + str(loads) + ' loads)':44} {'load':>10} {'rendered':>10} "
          f"{'ratio':>8}  (target)")
    status = 0
    for name, (load_ms, rendered_ms) in results.items():
        goal = ""
        if name == "state page of max":
            ok = rendered_ms < 1000
            status |= not ok
            goal = f"  (< 1000 ms {'ok' if ok else 'MISSED'})"
        print(f"{name:44} {fmt(load_ms / 1e3):>10} {fmt(rendered_ms / 1e3):>10} "
              f"{rendered_ms / ref:7.2f}x{goal}")
    return status


if __name__ == "__main__":
    sys.exit(main())
