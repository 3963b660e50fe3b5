"""The hostile-input suite's budget (fixed seeded cases in CI, a timed campaign behind
--hostile-seconds) and its report: per input class, cases tried, failures, the worst case's
peak memory (printed at the end of the run; --hostile-report FILE writes it as JSON)."""

from __future__ import annotations

import json
import os
import random
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_engine import MIB, STATS, campaign_seconds, memory_bound


class Seeds:
    """The seeds of one input class: `n` fixed ones (CI: the same cases every run), or,
    in a campaign, fresh ones until the class's time is up (each failure names its seed:
    `GICMIG_HOSTILE_SEED=S` replays one)."""

    def __init__(self, config: pytest.Config, name: str) -> None:
        self.seconds = campaign_seconds(config)
        self.name = name
        self.base = zlib.crc32(name.encode())

    def __call__(self, n: int) -> Iterator[int]:
        replay = os.environ.get("GICMIG_HOSTILE_SEED")
        if replay:
            yield int(replay)
            return
        if self.seconds is None:
            yield from (self.base * 100_003 + i for i in range(n))
            return
        end = time.monotonic() + self.seconds
        pick = random.SystemRandom()
        while time.monotonic() < end:
            yield pick.randrange(2 ** 63)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.hostile)


@pytest.fixture
def seeds(request: pytest.FixtureRequest) -> Seeds:
    return Seeds(request.config, request.node.name)


def report() -> dict[str, dict[str, object]]:
    return {cls: {"cases": st.cases, "failures": len(st.failures),
                  "known_h1_failures": len(st.known),
                  "worst_peak_mib": round(st.worst_peak / MIB, 2),
                  "worst_case": st.worst_case,
                  "bound_mib": round(memory_bound(st.worst_input) / MIB, 2),
                  "outcomes": dict(st.outcomes.most_common()),
                  "examples": st.failures[:200] + st.known[:50]}
            for cls, st in sorted(STATS.items())}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not STATS:
        return
    tr = terminalreporter
    tr.section("hostile inputs (docs/security.md)")
    tr.write_line(f"{'input class':<28} {'cases':>6} {'fail':>5} {'H1':>4} "
                  f"{'worst peak':>11}  worst case")
    for cls, row in report().items():
        tr.write_line(f"{cls:<28} {row['cases']:>6} {row['failures']:>5} "
                      f"{row['known_h1_failures']:>4} {row['worst_peak_mib']:>7.1f} MiB  "
                      f"{str(row['worst_case'])[:60]}")
    target = tr.config.getoption("--hostile-report")
    if target:
        Path(target).write_text(json.dumps(report(), indent=1) + "\n")
