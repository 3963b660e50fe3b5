"""The pytest side of tools/mutate.py, loaded in its child runs with `-p mutate_plugin`.

MUTATE_TRACE: record, per test, its duration and the lines of the package files it runs
(lru_caches and cached_properties of the package cleared first, so cached work is seen by
every test that needs it). MUTATE_SELECT: run only these tests, in this order, each within
its time budget (a test over budget touches MUTATE_TIMEOUT and fails). Both: hypothesis
derandomized, no database, no deadline, no health checks; MUTATE_MAX_EXAMPLES caps examples.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _clear_caches(package: str) -> None:
    for name, mod in list(sys.modules.items()):
        if name != package and not name.startswith(package + "."):
            continue
        for obj in list(vars(mod).values()):
            holders = [obj, *vars(obj).values()] if isinstance(obj, type) else [obj]
            for h in holders:
                if callable(getattr(h, "cache_clear", None)) and hasattr(h, "cache_info"):
                    h.cache_clear()
            inst = getattr(obj, "__dict__", None)
            if isinstance(inst, dict) and not isinstance(obj, type):
                for klass in type(obj).__mro__:
                    for k, v in vars(klass).items():
                        if isinstance(v, functools.cached_property):
                            inst.pop(k, None)


def pytest_configure(config: Any) -> None:
    from hypothesis import HealthCheck, settings

    settings.register_profile("gicmig-mutate", derandomize=True, database=None, deadline=None,
                              print_blob=False, suppress_health_check=list(HealthCheck))
    settings.load_profile("gicmig-mutate")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    cap = int(os.environ.get("MUTATE_MAX_EXAMPLES", "0"))
    if cap:  # explicit @settings(max_examples=...) too: the run is repeated per mutant
        from hypothesis import settings

        for item in items:
            test: Any = getattr(item, "obj", None)
            old = getattr(test, "_hypothesis_internal_use_settings", None)
            if hasattr(test, "hypothesis") and old is not None and old.max_examples > cap:
                test._hypothesis_internal_use_settings = settings(old, max_examples=cap)
    select = os.environ.get("MUTATE_SELECT")
    if not select:
        return
    order = {n: i for i, n in enumerate(json.loads(Path(select).read_text()))}  # ordered
    config.hook.pytest_deselected(items=[i for i in items if i.nodeid not in order])
    items[:] = sorted((i for i in items if i.nodeid in order), key=lambda i: order[i.nodeid])


def _tracing(item: Any, files: set[str], package: str) -> Iterator[Any]:
    lines: dict[str, set[int]] = {}

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            lines[frame.f_code.co_filename].add(frame.f_lineno)
        return local

    def call(frame: Any, event: str, arg: Any) -> Any:
        name = frame.f_code.co_filename
        if name in files:
            lines.setdefault(name, set())
            return local
        return None

    _clear_caches(package)
    t0 = time.perf_counter()
    sys.settrace(call)
    threading.settrace(call)  # code a test runs in a thread (the QEMU writer's copy) too
    try:
        result = yield
    finally:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
    out = Path(os.environ["MUTATE_TRACE"])
    with out.open("a") as f:
        f.write(json.dumps([item.nodeid, time.perf_counter() - t0,
                            {k: sorted(v) for k, v in lines.items()}]) + "\n")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Iterator[Any]:
    if "MUTATE_SELECT" in os.environ:  # one mutant: each test gets a time budget
        budget = json.loads(Path(os.environ["MUTATE_SELECT"]).read_text())[item.nodeid]
        marker = Path(os.environ["MUTATE_TIMEOUT"])

        def expire(*_: Any) -> None:
            marker.touch()
            raise TimeoutError(f"mutant: {item.nodeid} over its {budget:.0f} s budget")

        signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, budget)
        try:
            return (yield)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    if "MUTATE_TRACE" not in os.environ:
        return (yield)
    files = set(json.loads(os.environ["MUTATE_FILES"]))
    return (yield from _tracing(item, files, os.environ["MUTATE_PACKAGE"]))
