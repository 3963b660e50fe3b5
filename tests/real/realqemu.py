"""What the `realqemu` tests share: real QEMU 7.2 (Debian's qemu-system-arm) and the
read-back guest (harness/qemu), the shared streams, and the comparisons.

Without `qemu-system-aarch64` or the aarch64 cross compiler these tests skip with the
reason, except under CI (`CI=true`), where they fail: CI installs both (.ci/run).
`pytest -m realqemu` runs only them.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # for `harness`

import gicmig  # noqa: E402
from gicmig.core.model import GicState  # noqa: E402
from gicmig.views.qemu.registers import label, tcg_registers  # noqa: E402
from harness.qemu import driver  # noqa: E402

SHARED = ROOT.parent / "shared" / "qemu"
STREAMS = ("reset", "dist", "cpuif", "virt")  # shared/qemu/streams/<name>.mig


def require_qemu() -> None:
    """Skip (fail under CI) unless real QEMU, the cross compiler and the shared streams
    are there."""
    missing = driver.available()
    if missing is None and not all((SHARED / "streams" / f"{n}.mig").is_file() for n in STREAMS):
        missing = f"the shared QEMU streams are not at {SHARED}/streams"
    if missing is None:
        return
    message = f"real-QEMU test: {missing} (Debian: apt-get install qemu-system-arm " \
              "gcc-aarch64-linux-gnu)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must run it", pytrace=False)
    pytest.skip(message)


@functools.cache
def shared_machine() -> driver.Machine:
    """The VM shape of the shared streams, from their own ground truth."""
    require_qemu()
    doc = json.loads((SHARED / "expected" / "reset.json").read_text())
    return driver.Machine.parse(doc["machine"]["qemu_args"])


def import_tcg(path: Path) -> GicState:
    """A stream of the shared machine, imported strictly."""
    return gicmig.import_qemu(path, accel="tcg", machine="virt")


def assert_same_state(got: GicState, want: GicState, what: str) -> None:
    """Same canonical state; where it came from (provenance) aside."""
    changes = gicmig.diff(want, got, ignore=["provenance.*"])
    assert not changes, f"{what}: {len(changes)} differences:\n" + "\n".join(
        str(c) for c in changes[:30])


def assert_readback(report: driver.Report, state: GicState) -> None:
    """The guest's read-back equals the prediction, register by register."""
    predicted = tcg_registers(state)
    keys = sorted(set(predicted) | set(report.registers), key=lambda k: (k[1] is None, k))
    wrong = [f"{label(k)}: read {report.registers.get(k, -1):#010x}, predicted "
             f"{predicted.get(k, -1):#010x}" for k in keys
             if predicted.get(k) != report.registers.get(k)]
    assert not wrong, f"{len(wrong)} registers differ:\n" + "\n".join(wrong[:40])
