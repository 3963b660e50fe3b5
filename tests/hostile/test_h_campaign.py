"""The long fuzzing campaign (hours), off by default: `pytest tests/hostile
--hostile-seconds=N` (or GICMIG_HOSTILE_SECONDS=N). The seeded tests of the other files then
draw fresh seeds for N seconds each; these hypothesis tests drive the same mutators with
`st.randoms()`, so a failure shrinks to a small mutation, for N seconds each."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_engine import ROOT, Case, campaign_seconds, check_case, known_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutators import map_stream, mutate_blob, mutate_json, mutate_stream

GOOD = ROOT / "fixtures/v1/busy.json"


def _source(kind: str) -> tuple[list[bytes], Callable[[random.Random, bytes], bytes], str,
                                Callable[[Path, Path], list[str]]]:
    if kind == "fixture":
        texts = [p.read_bytes() for p in sorted((ROOT / "fixtures/v1").glob("*.json"))]
        return texts, mutate_json, "in.json", lambda f, o: ["encode", str(f), "-o", str(o)]
    if kind == "kvm":
        texts = [p.read_bytes() for p in sorted((ROOT / "fixtures/kvm").glob("*.json"))]
        return texts, mutate_json, "in.json", lambda f, o: ["import", "kvm", str(f), "-o",
                                                            str(o)]
    if kind == "blob":
        blobs = [p.read_bytes() for p in sorted((ROOT / "fixtures/v1").glob("*.gicmig"))]
        return blobs, mutate_blob, "in.gicmig", lambda f, o: ["decode", str(f), "-o", str(o)]
    data = (ROOT / "examples/qemu-7.2-virt.mig").read_bytes()
    smap = map_stream(data)
    return [data], lambda r, d: mutate_stream(r, d, smap), "in.mig", \
        lambda f, o: ["import", "qemu", str(f), "-o", str(o)]


@pytest.mark.parametrize("kind", ["fixture", "kvm", "blob", "qemu"])
def test_hypothesis_campaign(request: pytest.FixtureRequest, tmp_path: Path,
                             kind: str) -> None:
    seconds = campaign_seconds(request.config)
    if seconds is None:
        pytest.skip("the long campaign runs with --hostile-seconds=N "
                    "(or GICMIG_HOSTILE_SECONDS=N)")
    sources, mutate, name, command = _source(kind)
    path, out = tmp_path / name, tmp_path / "out"

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(rng=st.randoms(use_true_random=False), which=st.integers(0, len(sources) - 1),
           rounds=st.integers(1, 3))
    def one(rng: Any, which: int, rounds: int) -> None:
        data = sources[which]
        for _ in range(rounds):
            data = mutate(rng, data)
        path.write_bytes(data)
        found = check_case(f"hypothesis: {kind}", Case(f"{kind} ({len(data)} bytes)",
                                                       command(path, out), [path],
                                                       outputs=[out], size=len(data)))
        unknown = [f for f in found if not known_class(f)]
        assert not unknown, unknown

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        one()
