"""The examples in the docstrings of gicmig's public names run and print what they say
(README: "one example per public name"). Run from the repository root, as the examples'
paths are."""

from __future__ import annotations

import doctest
import inspect
from pathlib import Path

import pytest

import gicmig
import gicmig.errors

ROOT = Path(__file__).resolve().parents[1]
NAMES = [n for n in gicmig.__all__ if n not in ("__version__", "REASONS")]
# the module docstrings whose examples are the ones for gicmig itself and its errors
MODULES = [gicmig, gicmig.errors, inspect.getmodule(gicmig.ImportedState)]


def run(obj: object, name: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.chdir(ROOT)
    globs = {"gicmig": gicmig, **{n: getattr(gicmig, n) for n in NAMES}}
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    out: list[str] = []
    tried = 0
    for test in finder.find(obj, name, globs=globs):
        result = runner.run(test, out=out.append)
        tried += result.attempted
    assert runner.failures == 0, "".join(out)
    return tried


@pytest.mark.parametrize("name", NAMES)
def test_each_public_name_has_an_example_that_runs(name: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(getattr(gicmig, name), name, monkeypatch) > 0, f"{name} has no example"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_module_examples_run(module: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(module, getattr(module, "__name__", "?"), monkeypatch) > 0
