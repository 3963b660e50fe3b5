"""Issue 13's promise: what `validate` accepts, `encode` writes. The provenance strings are
the unbounded part of a state, so a payload over the 1 MiB a blob holds is a rule
(PAYLOAD-TOO-LARGE) that `validate`, `check`, `encode` and the CLI all report alike."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import gicmig
from gicmig.errors import ValidationError
from gicmig.limits import MAX_PAYLOAD

ROOT = Path(__file__).resolve().parents[1]


def state_of_size(size: int) -> gicmig.GicState:
    """A valid reset state whose payload is exactly `size` bytes (by its tool string)."""
    state = gicmig.GicState.reset(gicmig.GicConfig.qemu_virt())
    tool = state._pb.provenance
    for _ in range(3):  # the string's length prefix grows with it
        tool.tool = "x" * (len(tool.tool) + size - state._pb.ByteSize())
    assert state._pb.ByteSize() == size
    return state


def test_the_largest_payload_validates_and_encodes() -> None:
    state = state_of_size(MAX_PAYLOAD)
    assert gicmig.check(state) == []
    blob = gicmig.encode(state)
    assert len(blob) == 32 + MAX_PAYLOAD  # header + payload
    assert gicmig.decode(blob).provenance.tool == state.provenance.tool


def test_one_byte_more_is_refused_by_validate_and_encode_alike() -> None:
    state = state_of_size(MAX_PAYLOAD + 1)
    tool_len = len(state.provenance.tool)
    (found,) = gicmig.check(state)
    assert (found.code, found.path) == ("PAYLOAD-TOO-LARGE", "payload")
    assert found.message == (f"{MAX_PAYLOAD + 1} bytes serialized, more than the {MAX_PAYLOAD} "
                             f"a blob holds (the provenance strings take {tool_len} characters)")
    with pytest.raises(ValidationError) as by_validate:
        gicmig.validate(state)
    with pytest.raises(ValidationError) as by_encode:
        gicmig.encode(state)
    assert list(by_validate.value.violations) == list(by_encode.value.violations) == [found]


def test_reported_with_the_other_violations() -> None:
    state = state_of_size(MAX_PAYLOAD + 10)
    state.cpu[0].bpr = 8  # also out of range
    assert [v.code for v in gicmig.check(state)] == ["PAYLOAD-TOO-LARGE", "CPU-BPR-RANGE"]


def test_cli_validate_refuses_the_fixture_encode_would_fail(tmp_path: Path) -> None:
    state = state_of_size(MAX_PAYLOAD + 1)
    doc = json.loads(gicmig.to_json(state))
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "big.gicmig"
    for args in (["validate", str(path)], ["encode", str(path), "-o", str(out)]):
        run = subprocess.run([sys.executable, "-m", "gicmig", *args], capture_output=True,
                             text=True, cwd=ROOT, check=False)
        assert run.returncode == 1, (args, run.stdout, run.stderr)
        assert "PAYLOAD-TOO-LARGE payload: " in run.stdout + run.stderr
        assert "Traceback" not in run.stderr
    assert not out.exists()
