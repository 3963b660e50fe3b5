"""Benchmark timing helpers: medians over many runs, reported as ratios to a reference
measured in the same run (these machines are noisy; absolute times are not comparable)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], *, runs: int = 30, inner: int = 0,
                   budget: float = 0.2) -> float:
    """Median seconds per call over `runs` samples of `inner` calls each."""
    if inner <= 0:  # pick an inner count so that one sample takes ~budget/runs
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
        inner = max(1, int(budget / runs / once))
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:9.3f} ms"
    return f"{seconds * 1e6:9.2f} µs"


def report(rows: list[tuple[str, float, float, str, float | None]]) -> None:
    """Rows of (operation, median, reference median, reference name, target ratio)."""
    print(f"{'operation':44} {'median':>12} {'ratio':>9}  reference (target)")
    for name, value, ref, ref_name, target in rows:
        ratio = value / ref
        verdict = "" if target is None else (" ok" if ratio <= target else " MISSED")
        goal = "" if target is None else f" (<= {target:g}x{verdict})"
        print(f"{name:44} {fmt(value):>12} {ratio:8.2f}x  {ref_name}{goal}")
