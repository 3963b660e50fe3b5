"""Every documented example and every bundled input, run through the CLI, byte for byte.

The golden file pins exit statuses, messages and written bytes, so that a refactor which
changes one of them fails here; `python tests/golden_cli.py --update` records an intended
change (review the diff of tests/golden/cli.json).
"""

from __future__ import annotations

import json
from pathlib import Path

import golden_cli
import pytest


@pytest.mark.usefixtures("shared_qemu")  # skips, or fails under CI=true
def test_cli_outputs_match_the_golden_file(tmp_path: Path) -> None:
    expected = json.loads(golden_cli.GOLDEN.read_text())
    actual = golden_cli.record(tmp_path)
    assert [r["argv"] for r in actual] == [r["argv"] for r in expected], "corpus changed"
    for got, want in zip(actual, expected, strict=True):
        assert got == want, " ".join(want["argv"])


def test_the_corpus_reaches_every_exit_status() -> None:
    statuses = {r["status"] for r in json.loads(golden_cli.GOLDEN.read_text())}
    assert statuses == {0, 1, 2}
