"""The warm runner of tools/mutate.py: one process that has imported pytest, the package and
the test modules once, and forks a child per mutant (docs/testing.md).

Protocol (one JSON object a line on stdin; answers on stdout): {"collect": [test files]}
imports them (answer "ready"); {"file": path, "source": mutated text, "args": [pytest args],
"env": {...}} forks a child that swaps the code of every function of `file` whose compiled
code changed (function objects are shared by every `from x import f`, so the swap reaches all
of them), clears the package's caches and runs pytest in-process; answers "pid N" then
"rc R". R is 99 when the mutant cannot be applied warm (it is outside any function: a
constant, a table, a default argument; or a function cannot be matched): the driver then runs
it cold, in a fresh interpreter. A module-level value computed at import time by a mutated
function keeps its original value here, so a warm survivor is re-run cold by the driver.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import types
from typing import Any

import pytest

COLD = 99


def _codes(code: types.CodeType, out: dict[str, list[types.CodeType]]) -> None:
    out.setdefault(code.co_qualname, []).append(code)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _codes(c, out)


def _swap(path: str, source: str) -> bool:
    """Give every function of `path` the code of the mutated source; False if one cannot be
    matched (the mutant is then run cold)."""
    new: dict[str, list[types.CodeType]] = {}
    _codes(compile(source, path, "exec"), new)
    funcs: dict[str, list[types.FunctionType]] = {}
    for o in gc.get_objects():
        if isinstance(o, types.FunctionType) and o.__code__.co_filename == path:
            funcs.setdefault(o.__code__.co_qualname, []).append(o)
    changed = False
    for name, fs in funcs.items():
        cands = new.get(name, [])
        olds = sorted({f.__code__ for f in fs}, key=lambda c: c.co_firstlineno)
        if len(olds) != len(cands):
            return False
        pair = dict(zip(olds, sorted(cands, key=lambda c: c.co_firstlineno), strict=True))
        for f in fs:
            code = pair[f.__code__]
            if code != f.__code__:
                if len(code.co_freevars) != len(f.__code__.co_freevars):
                    return False
                f.__code__ = code
                changed = True
    return changed


def _child(req: dict[str, Any]) -> int:
    if not _swap(req["file"], req["source"]):
        return COLD
    from mutate_plugin import _clear_caches

    _clear_caches(req["package"])
    os.environ.update(req["env"])
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    with open(os.devnull, "w") as text, contextlib.redirect_stdout(text), \
            contextlib.redirect_stderr(text):
        return int(pytest.main(req["args"]))


def main() -> None:
    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        if "collect" in req:
            with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
                pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider",
                             "-p", "mutate_plugin", *req["collect"]])
            print("ready", file=out, flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            rc = COLD
            try:
                rc = _child(req)
            finally:
                os._exit(rc)
        print(f"pid {pid}", file=out, flush=True)
        _, status = os.waitpid(pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        print(f"rc {rc}", file=out, flush=True)


if __name__ == "__main__":
    main()
