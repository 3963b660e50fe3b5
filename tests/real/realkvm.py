"""Helpers shared by the real-KVM tests (the fixture `realkvm` is in conftest.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "harness") not in sys.path:
    sys.path.insert(0, str(ROOT / "harness"))  # for `kvm` (harness/kvm/)

from kvm.build import Artifacts, HarnessUnavailable, build  # noqa: E402
from kvm.driver import BootResult, Case, run_cases  # noqa: E402

BOOTS: list[tuple[str, int, float]] = []  # (who, cases, seconds), for the session summary
FIGURES: dict[str, int] = {}  # counts for the session summary


def artifacts() -> Artifacts:
    """The kernel and /init; skips (fails with CI=true) when they cannot be had."""
    try:
        return build()
    except HarnessUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"real KVM is required in CI (CI=true), but: {exc}")
        pytest.skip(f"real KVM harness unavailable: {exc}; set it up with "
                    "`python harness/kvm/build.py --install` (root)")


def boot(art: Artifacts, cases: list[Case], who: str) -> BootResult:
    """One boot running every case; recorded for the session summary."""
    result = run_cases(cases, artifacts=art)
    BOOTS.append((who, len(cases), result.seconds))
    return result


def count(name: str, n: int = 1) -> None:
    FIGURES[name] = FIGURES.get(name, 0) + n
