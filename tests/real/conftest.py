"""Fixtures for the tests against a real Linux KVM vgic-v2 (harness/kvm/).

They need qemu-system-aarch64, aarch64-linux-gnu-gcc and Debian's arm64 kernel package
(`python harness/kvm/build.py --install` sets them up). Without them the tests skip and
say why, except where the environment variable CI is "true": there they fail.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `realkvm`, `realqemu`
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for `harness.qemu`

import realkvm
from kvm.build import Artifacts


@pytest.fixture(scope="session")
def kvm_artifacts() -> Artifacts:
    return realkvm.artifacts()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for who, n, seconds in realkvm.BOOTS:
        terminalreporter.write_line(f"real KVM boot ({who}): {n} cases in {seconds:.1f} s")
    for name, n in sorted(realkvm.FIGURES.items()):
        terminalreporter.write_line(f"real KVM: {name}: {n}")
