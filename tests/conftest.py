from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `strategies`


@pytest.fixture
def fixtures_v1() -> Path:
    return ROOT / "fixtures" / "v1"
