"""The real QEMU 7.2 streams and their ground truth (../shared/qemu beside the repository,
shared by every checkout rather than copied into each). Tests that need them skip where
they are absent, except under CI=true, where they fail: CI always has them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_QEMU = Path(__file__).resolve().parents[2] / "shared" / "qemu"


def require_shared_qemu() -> Path:
    """SHARED_QEMU, or skip (fail under CI=true) saying where it was looked for."""
    if (SHARED_QEMU / "streams").is_dir() and (SHARED_QEMU / "expected").is_dir():
        return SHARED_QEMU
    why = f"the shared QEMU streams are not at {SHARED_QEMU}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI=true: required)", pytrace=False)
    pytest.skip(why)
