"""pytest plugin: compare GIC states with fixture files, accept changes with one option.

    from gicmig.pytest_plugin import assert_gic_state

    def test_boot_state():
        state = capture_gic_after_boot()          # a GicState, or a path/bytes gicmig reads
        assert_gic_state(state, "fixtures/boot.json")

A mismatch fails the test with the semantic diff (expected -> actual, one change per
line, with the registers that show each change). `pytest --update-gic-fixtures` instead
rewrites each fixture that differs (or is missing) with the actual state, as a JSON
fixture or a .gicmig blob by extension, deterministically and atomically, and lists the
files it wrote at the end of the run. Relative fixture paths are taken from pytest's
rootdir. The ini option `gic_fixture_ignore` (lines of fnmatch globs over diff paths,
e.g. `provenance.tool_version`) masks volatile paths for every assertion.

`assert actual == expected` on two GicStates also fails with the semantic diff
(`pytest_assertrepr_compare`): left -> right, provenance left out as `==` leaves it out.

    def test_restore():
        assert restore(state) == state   # E  cpu1 gicc.pmr: 0xf0 -> 0x80 [GICC_PMR bits 7:0]

Registered through the `pytest11` entry point `gicmig`; this module imports only pytest
at load time, so it costs nothing in test runs that do not use it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from gicmig.core.model import GicState

UPDATE_OPTION = "--update-gic-fixtures"
MAX_LINES = 200  # a failure shows at most this many changes


@dataclass
class _Session:
    update: bool = False
    root: Path | None = None
    ignore: tuple[str, ...] = ()
    written: list[tuple[Path, str]] = field(default_factory=list)


_session = _Session()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gicmig", "GIC state fixtures (gicmig)")
    group.addoption(UPDATE_OPTION, action="store_true", default=False,
                    help="rewrite the fixtures given to assert_gic_state with the actual "
                         "states where they differ or are missing")
    parser.addini("gic_fixture_ignore", type="linelist", default=[],
                  help="fnmatch globs of gicmig diff paths that assert_gic_state does not "
                       "compare, e.g. provenance.tool_version")


def pytest_configure(config: pytest.Config) -> None:
    _session.update = bool(config.getoption(UPDATE_OPTION))
    _session.root = config.rootpath
    _session.ignore = tuple(config.getini("gic_fixture_ignore"))
    _session.written.clear()


def pytest_unconfigure(config: pytest.Config) -> None:
    _session.update, _session.root, _session.ignore = False, None, ()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _session.written:
        return
    terminalreporter.write_sep("=", f"gicmig: {len(_session.written)} GIC fixture(s) written")
    for path, why in _session.written:
        terminalreporter.write_line(f"{path}: {why}")


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object,
                              right: object) -> list[str] | None:
    """`assert a == b` on two GicStates explains itself with the semantic diff (left ->
    right, one change per line with its register), not with two protobuf reprs.

    Provenance is left out, as `==` leaves it out; at most MAX_LINES changes are shown.
    """
    model = sys.modules.get("gicmig.core.model")  # no GicState exists before it is loaded
    if op != "==" or model is None or not isinstance(left, model.GicState) \
            or not isinstance(right, model.GicState):
        return None
    from gicmig.statediff.semantic import diff

    lines = [c.render(registers=True) for c in diff(left, right, ignore=("provenance.*",))]
    n = len(lines)
    head = [f"{left!r} == {right!r}",
            f"gicmig semantic diff, left -> right ({n} change{'s' * (n != 1)}; provenance "
            "not compared):"]
    shown = [f"  {line}" for line in lines[:MAX_LINES]]
    if n > MAX_LINES:
        shown.append(f"  ... and {n - MAX_LINES} more")
    return [*head, *shown]


def assert_gic_state(actual: GicState | str | os.PathLike[str] | bytes,
                     expected: str | os.PathLike[str], *, ignore: Sequence[str] = ()) -> None:
    """Fail unless `actual` holds the state of the fixture `expected` (see module doc).

    `ignore` adds fnmatch globs over diff paths to the ini option's, for this call.
    """
    __tracebackhide__ = True
    from gicmig.core.model import GicState
    from gicmig.errors import GicmigError
    from gicmig.formats.io import load
    from gicmig.statediff.semantic import diff

    state = actual if isinstance(actual, GicState) else load(actual)
    path = _resolve(expected)
    try:
        want = load(path)
    except GicmigError as exc:
        if _session.update:
            _write(path, state, "created" if not path.exists() else f"replaced ({exc.code})")
            return
        if not path.exists():
            raise AssertionError(f"GIC fixture {path} does not exist: run pytest "
                                 f"{UPDATE_OPTION} to create it from the actual state") from None
        raise AssertionError(f"GIC fixture {path} cannot be read: {exc}") from None
    changes = diff(want, state, ignore=(*_session.ignore, *ignore))
    if not changes:
        return
    if _session.update:
        _write(path, state, f"updated ({len(changes)} change{'s' * (len(changes) != 1)})")
        return
    raise AssertionError(failure_message(path, [c.render(registers=True) for c in changes]))


def failure_message(path: Path, lines: list[str]) -> str:
    n = len(lines)
    head = (f"GIC state differs from fixture {path} "
            f"({n} change{'s' * (n != 1)}, expected -> actual):")
    shown = [f"  {line}" for line in lines[:MAX_LINES]]
    if n > MAX_LINES:
        shown.append(f"  ... and {n - MAX_LINES} more")
    return "\n".join([head, *shown, f"run pytest {UPDATE_OPTION} to accept the actual state"])


@pytest.fixture(name="assert_gic_state")
def assert_gic_state_fixture() -> Callable[..., None]:
    """`assert_gic_state` as a fixture, for tests that prefer not to import it."""
    return assert_gic_state


def _resolve(expected: str | os.PathLike[str]) -> Path:
    path = Path(expected)
    if path.is_absolute():
        return path
    return (_session.root or Path.cwd()) / path


def _write(path: Path, state: GicState, why: str) -> None:
    from gicmig.files import write_atomic
    from gicmig.formats.io import format_for, render

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, render(state, format_for(str(path))))
    _session.written.append((path, why))
