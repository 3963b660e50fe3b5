from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `strategies`


@pytest.fixture
def fixtures_v1() -> Path:
    return ROOT / "fixtures" / "v1"


# --- the message gate of a refactor --------------------------------------------------------
# `pytest --record-messages FILE` writes every error message (and every violation) raised
# during each deterministic test to FILE; two recordings, before and after a move, must be
# equal (compare them with `python tests/golden_cli.py --compare-messages A B`).
_recorded: dict[str, list[str]] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-messages", metavar="FILE",
                     help="record every gicmig error message raised per test (refactor gate)")
    # issue 13's hostile-input suite (tests/hostile/, docs/security.md)
    parser.addoption("--hostile-seconds", type=float, metavar="N", default=None,
                     help="hostile suite: a fuzzing campaign of about N seconds per input "
                     "class instead of the fixed CI cases (also GICMIG_HOSTILE_SECONDS)")
    parser.addoption("--hostile-report", metavar="FILE",
                     help="hostile suite: write the per-class report (JSON) to FILE")


@pytest.fixture(autouse=True)
def _record_messages(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if not request.config.getoption("--record-messages"):
        return
    if getattr(getattr(request, "function", None), "is_hypothesis_test", False):
        return
    from gicmig import errors

    seen = _recorded.setdefault(request.node.nodeid, [])
    original = errors.GicmigError.__init__

    def init(self: errors.GicmigError, code: str, message: str, **kw: object) -> None:
        original(self, code, message, **kw)  # type: ignore[arg-type]
        seen.append(str(self))
        seen.extend(str(v) for v in getattr(self, "violations", ()))

    monkeypatch.setattr(errors.GicmigError, "__init__", init)


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = session.config.getoption("--record-messages")
    if target:
        import json

        Path(target).write_text(json.dumps(_recorded, indent=0, sort_keys=True))


@pytest.fixture
def shared_qemu() -> Path:
    """../shared/qemu (real QEMU 7.2 streams, ground truth): skips without it, except
    under CI=true, where it fails (tests/shared_data.py)."""
    from shared_data import require_shared_qemu

    return require_shared_qemu()
