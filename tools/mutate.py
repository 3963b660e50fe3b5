"""Mutation testing of gicmig: can the tests catch a one-token slip? (docs/testing.md)

    python tools/mutate.py gicmig/rules.py gicmig/views/gich.py --sample 40 --seed 1

Mutants come from the AST of the modules given by path: comparison, arithmetic and bitwise
operator swaps, integer constants +1/-1, and/or swap, `not`/`~`/`-` removal, True/False
flip, `return x` -> `return None`, deletion of call/yield/raise/augmented-assignment/
break/continue statements, slice and index bounds off by one. One traced run of the tests
says which test runs which line; a mutant in a function runs only the tests that ran its
statement, a module-level one those that run code using the names it binds (plus the
test files naming them). Runs happen in a scratch copy (removed on exit, Ctrl-C, SIGTERM)
with `-x -q -p no:cacheprovider`, fastest test first, hypothesis derandomized, a time budget
per test (over budget = timeout = killed). Reviewed equivalent mutants
(tools/mutants-equivalent.json) are reported but not scored.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from select import select as readable
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = ROOT / "tools" / "mutants-equivalent.json"
IGNORE = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".hypothesis", ".pytest_cache",
                                ".mypy_cache", ".ruff_cache", "*.egg-info", "build", "dist")
CMP: dict[type, type] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
                         ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn,
                         ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
BIN: dict[type, type] = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add,
                         ast.FloorDiv: ast.Mult, ast.Div: ast.Mult, ast.Mod: ast.FloorDiv,
                         ast.Pow: ast.Mult, ast.LShift: ast.RShift, ast.RShift: ast.LShift,
                         ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr, ast.BitXor: ast.BitOr}
COLD = 99  # the warm runner's answer: run this mutant in a fresh interpreter
DELETABLE = (ast.Expr, ast.AugAssign, ast.Raise, ast.Break, ast.Continue)


@dataclass
class Mutant:
    file: str  # repository-relative path
    line: int
    scope: str  # qualified name of the enclosing function or class ("" = module)
    original: str
    mutant: str
    start: int = field(repr=False)  # byte span replaced in the source
    end: int = field(repr=False)
    text: str = field(repr=False)  # replacement
    lines: tuple[int, int] = (0, 0)  # statement lines whose execution selects tests
    module_level: bool = False
    names: tuple[str, ...] = ()  # what the enclosing module-level statement binds
    nth: int = 0  # how many earlier mutants of the module have the same scope/original/mutant
    status: str = "pending"  # killed / survived / timeout / not-covered / equivalent
    seconds: float = 0.0

    def key(self) -> tuple[str, str, str, int]:
        return self.scope, self.original, self.mutant, self.nth


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 90 else text[:87] + "..."


class _Maker:
    """Walks one module's AST and lists every mutant as a byte-span replacement."""

    def __init__(self, rel: str, source: str) -> None:
        self.rel, self.source = rel, source
        self.data = source.encode()
        starts = [0]
        for line in self.data.splitlines(keepends=True):
            starts.append(starts[-1] + len(line))
        self.starts = starts
        self.out: list[Mutant] = []
        self.top: set[str] = set()  # names bound by the module-level statement being walked

    def span(self, node: ast.AST) -> tuple[int, int]:
        n: Any = node
        return (self.starts[n.lineno - 1] + n.col_offset,
                self.starts[n.end_lineno - 1] + n.end_col_offset)

    def add(self, node: ast.AST, new: str, stmt: ast.stmt, scope: str, in_body: bool,
            paren: bool = True) -> None:
        start, end = self.span(node)
        old = self.data[start:end].decode()
        pad = "\n" * old.count("\n")
        text = f"({new}{pad})" if paren else new + pad
        n: Any = node
        last = stmt.end_lineno if not hasattr(stmt, "body") else n.end_lineno
        names = tuple(sorted(self.top if in_body else _bound(stmt) | self.top))
        self.out.append(Mutant(self.rel, n.lineno, scope, _short(old), _short(new), start, end,
                               text, (stmt.lineno, last or n.end_lineno), not in_body, names))

    def expr(self, node: ast.expr, stmt: ast.stmt, scope: str, body: bool) -> None:
        def alt(new: ast.expr) -> None:
            self.add(node, ast.unparse(new), stmt, scope, body)

        if isinstance(node, ast.JoinedStr):
            return  # f-strings: messages, not logic
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                cmp = copy.deepcopy(node)
                cmp.ops[i] = CMP[type(op)]()
                alt(cmp)
        elif isinstance(node, ast.BinOp) and type(node.op) in BIN and not any(
                isinstance(x, ast.Constant) and isinstance(x.value, str | bytes)
                for x in (node.left, node.right)):
            bin_ = copy.deepcopy(node)
            bin_.op = BIN[type(node.op)]()
            alt(bin_)
        elif isinstance(node, ast.BoolOp):
            bool_ = copy.deepcopy(node)
            bool_.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            alt(bool_)
        elif isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.UAdd) and not (
                isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)):
            alt(node.operand)
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            self.add(node, str(not node.value), stmt, scope, body, paren=False)
        elif isinstance(node, ast.Constant) and isinstance(node.value, int):
            for d in (1, -1):
                self.add(node, str(node.value + d), stmt, scope, body)
        elif isinstance(node, ast.Slice):
            for bound in (node.lower, node.upper):
                if bound is not None and not isinstance(bound, ast.Constant):
                    for sign in ("+", "-"):
                        self.add(bound, f"{ast.unparse(bound)} {sign} 1", stmt, scope, body)
        elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
              and isinstance(node.slice, ast.BinOp)):
            self.add(node.slice, f"{ast.unparse(node.slice)} + 1", stmt, scope, body)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr) and not isinstance(
                    getattr(child, "ctx", None), ast.Store | ast.Del):
                self.expr(child, stmt, scope, body)
            elif isinstance(child, ast.keyword):
                self.expr(child.value, stmt, scope, body)
            elif isinstance(child, ast.comprehension):
                for e in (child.iter, *child.ifs):
                    self.expr(e, stmt, scope, body)

    def stmts(self, body: list[ast.stmt], scope: str, in_body: bool) -> None:
        for s in body:
            if not scope:
                self.top = _bound(s)
            if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
                continue  # docstrings
            if isinstance(s, ast.Assert | ast.Import | ast.ImportFrom | ast.Global):
                continue
            if isinstance(s, ast.If) and "TYPE_CHECKING" in ast.unparse(s.test):
                continue
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef):
                for d in (*s.args.defaults, *[k for k in s.args.kw_defaults if k]):
                    self.expr(d, s, scope, in_body)
                self.stmts(s.body, f"{scope}.{s.name}".lstrip("."), True)
                continue
            if isinstance(s, ast.ClassDef):
                self.stmts(s.body, f"{scope}.{s.name}".lstrip("."), in_body)
                continue
            if isinstance(s, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "__all__" for t in s.targets):
                continue
            if isinstance(s, DELETABLE) and in_body:
                self.add(s, "pass", s, scope, in_body, paren=False)
            if (isinstance(s, ast.Return) and s.value is not None
                    and not (isinstance(s.value, ast.Constant) and s.value.value is None)):
                self.add(s.value, "None", s, scope, in_body)
            for name, value in ast.iter_fields(s):
                if name in ("annotation", "returns", "type_comment", "targets", "target"):
                    continue
                vals = value if isinstance(value, list) else [value]
                for v in vals:
                    if isinstance(v, ast.expr):
                        self.expr(v, s, scope, in_body)
                    elif isinstance(v, ast.withitem):
                        self.expr(v.context_expr, s, scope, in_body)
                    elif isinstance(v, ast.ExceptHandler | ast.match_case):
                        self.stmts(v.body, scope, in_body)
                if name in ("body", "orelse", "finalbody") and isinstance(value, list):
                    self.stmts(value, scope, in_body)

    def mutants(self, n: int | None, seed: int) -> list[Mutant]:
        """Every mutant, or `n` of them drawn with `seed` (the same ones on every run)."""
        tree = ast.parse(self.source)
        self.stmts(tree.body, "", False)
        seen: dict[tuple[str, str, str], int] = {}
        for m in self.out:
            m.nth = seen.get(m.key()[:3], 0)
            seen[m.key()[:3]] = m.nth + 1
        base = ast.dump(tree)
        order = list(range(len(self.out)))
        if n is not None:
            random.Random(f"{seed}:{self.rel}").shuffle(order)
        good: list[int] = []
        for i in order:
            if n is not None and len(good) == n:
                break
            m = self.out[i]
            new = self.data[:m.start] + m.text.encode() + self.data[m.end:]
            try:
                if ast.dump(ast.parse(new)) != base:  # not a no-op, and it compiles
                    compile(new, m.file, "exec")
                    good.append(i)
            except SyntaxError:
                pass
        return [self.out[i] for i in sorted(good)]


def _bound(s: ast.stmt) -> set[str]:
    """The names a statement binds (what other code refers to it by)."""
    if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {s.name}
    if isinstance(s, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in s.names}
    targets = s.targets if isinstance(s, ast.Assign) else [getattr(s, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t)
            if isinstance(n, ast.Name)}


def _refs(nodes: Sequence[ast.AST]) -> set[str]:
    out: set[str] = set()
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                out.add(n.id)
            elif isinstance(n, ast.Attribute):
                out.add(n.attr)
            elif isinstance(n, ast.alias):
                out.add(n.name.split(".")[-1])
            elif isinstance(n, ast.Constant) and str(n.value).isidentifier():
                out.add(str(n.value))  # getattr(module, "NAME"), tables of names
    return out


class Index:
    """Who refers to a module-level name: the package's functions (file, lines, names
    used), its module-level statements (names bound, names used) and the test files."""

    def __init__(self, package: Path, tests: Path) -> None:
        self.functions: list[tuple[str, int, int, set[str]]] = []
        self.statements: list[tuple[set[str], set[str]]] = []
        for path in sorted(package.rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    self.functions.append((rel, node.lineno, node.end_lineno or node.lineno,
                                           _refs(node.body)))
            for s in ast.parse(path.read_text()).body:
                if isinstance(s, ast.Import | ast.ImportFrom):  # one name at a time
                    self.statements += [({(a.asname or a.name).split(".")[0]},
                                         {a.name.split(".")[-1]}) for a in s.names]
                    continue
                body = [x for x in getattr(s, "body", [s]) if not isinstance(
                    x, ast.FunctionDef | ast.AsyncFunctionDef)] if isinstance(
                        s, ast.ClassDef) else [s]
                extra = [*getattr(s, "decorator_list", []), *getattr(s, "bases", [])]
                if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef):
                    body = [*s.args.defaults, *[k for k in s.args.kw_defaults if k]]
                self.statements.append((_bound(s), _refs([*body, *extra])))
        self.tests = {str(p.relative_to(ROOT)): _refs([ast.parse(p.read_text())])
                      for p in sorted(tests.rglob("test_*.py"))}

    def users(self, names: set[str]) -> tuple[list[tuple[str, int, int]], list[str]]:
        """Functions and test files that use `names`, or a module-level name built from
        them (to a fixed point)."""
        names = set(names)
        grown = True
        while grown:
            grown = False
            for bound, used in self.statements:
                if used & names and not bound <= names:
                    names |= bound
                    grown = True
        funcs = [(f, a, b) for f, a, b, used in self.functions if used & names]
        return funcs, [t for t, used in self.tests.items() if used & names]


def sample_size(rel: str, sample: int | None, density: list[str]) -> int | None:
    """How many mutants to draw from module `rel`: --sample, or --density (N per 100 lines
    for the longest PREFIX=N that matches, at least 1)."""
    best: tuple[int, float] | None = None
    for spec in density:
        prefix, _, n = spec.partition("=")
        prefix = prefix.rstrip("/")
        if (rel == prefix or rel.startswith(prefix + "/")) and (
                best is None or len(prefix) > best[0]):
            best = (len(prefix), float(n))
    if best is None:
        return sample
    lines = len((ROOT / rel).read_text().splitlines())
    return max(1, round(best[1] * lines / 100))


def make_mutants(rel: str, n: int | None = None, seed: int = 1) -> list[Mutant]:
    return _Maker(rel, (ROOT / rel).read_text()).mutants(n, seed)


# --- the driver ---------------------------------------------------------------------------
class Scratch:
    """A copy of the repository that the mutants are written into."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="gicmig-mutate-"))
        self.repo = self.tmp / "repo"
        shutil.copytree(ROOT, self.repo, ignore=IGNORE, symlinks=True)
        shared = ROOT.parent / "shared"  # ../shared (real QEMU streams), as tests find it
        if shared.is_dir():
            (self.tmp / "shared").symlink_to(shared)
        self.proc: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[str] | None = None

    def pytest(self, args: list[str], env: dict[str, str], timeout: float | None) -> int | None:
        full = self.env(env)
        cmd = [sys.executable, "-m", "pytest", "-p", "mutate_plugin", "-p", "no:cacheprovider",
               *args]
        self.proc = subprocess.Popen(cmd, cwd=self.repo, env=full, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            self.stop()

    def warm(self, m: Mutant, source: bytes, args: list[str], env: dict[str, str],
             timeout: float, collect: list[str]) -> int | None:
        """Run `m` in a fork of the warm runner (tools/mutate_warm.py); COLD if it cannot
        be applied there, None on timeout."""
        if self.worker is None:
            self.worker = subprocess.Popen(
                [sys.executable, str(ROOT / "tools" / "mutate_warm.py")], cwd=self.repo,
                env=self.env({}), start_new_session=True, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.ask({"collect": collect})
            if self.answer(None) != "ready":
                sys.exit("the warm runner did not start")
        self.ask({"file": str(self.repo / m.file), "source": source.decode(), "args": args,
                  "env": env, "package": Path(m.file).parts[0]})
        pid = int((self.answer(60) or "pid 0").split()[1])
        rc = self.answer(timeout)
        if rc is None:
            os.kill(pid, signal.SIGKILL)
            self.answer(None)
            return None
        return int(rc.split()[1])

    def ask(self, req: dict[str, Any]) -> None:
        assert self.worker and self.worker.stdin
        self.worker.stdin.write(json.dumps(req) + "\n")
        self.worker.stdin.flush()

    def answer(self, timeout: float | None) -> str | None:
        assert self.worker and self.worker.stdout
        ready, _, _ = readable([self.worker.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.worker.stdout.readline()
        if not line:
            sys.exit("the warm runner died")
        return line.strip()

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        return {**os.environ, **extra, "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": os.pathsep.join([str(self.repo), str(self.repo / "tools")])}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        if self.worker is not None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait()
            self.worker = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def trace(scratch: Scratch, package: str, tests: list[str], saved: Path | None
          ) -> dict[str, Any]:
    """Run the tests once, recording which test executes which line of the package (or
    read such a record, `saved`, kept from an earlier run of the same code and tests)."""
    out = scratch.tmp / "trace.jsonl"
    files = [str(p) for p in sorted((scratch.repo / package).rglob("*.py"))]
    if saved is not None and saved.exists():
        out = saved
    else:
        env = {"MUTATE_TRACE": str(out), "MUTATE_FILES": json.dumps(files),
               "MUTATE_PACKAGE": package}
        rc = scratch.pytest(["-q", *tests], env, None)
        if rc != 0:
            sys.exit(f"the unmutated tests fail (pytest exit {rc}): fix them first")
        rows = [json.loads(r) for r in out.read_text().splitlines()]
        out.write_text("".join(json.dumps([n, s, {str(Path(f).relative_to(scratch.repo)): v
                                                  for f, v in lines.items()}]) + "\n"
                               for n, s, lines in rows))
        if saved is not None:
            shutil.copyfile(out, saved)
    per: dict[str, Any] = {str(Path(f).relative_to(scratch.repo)): {} for f in files}
    seconds: dict[str, float] = {}
    for row in out.read_text().splitlines():
        node, secs, lines = json.loads(row)
        seconds[node] = secs
        for name, nums in lines.items():
            by_line = per[name]
            for n in nums:
                by_line.setdefault(n, set()).add(node)
    return {"lines": per, "seconds": seconds}


def select(m: Mutant, cov: dict[str, Any], index: Index) -> list[str]:
    """The tests that can see mutant `m` (module level: those running code that uses the
    names its statement binds, and the test files naming them)."""
    lines: dict[str, dict[int, set[str]]] = cov["lines"]

    def tests(spans: list[tuple[str, int, int]], files: list[str]) -> set[str]:
        nodes = {n for n in cov["seconds"] if n.split("::")[0] in files}
        for f, a, b in spans:
            by_line = lines.get(f, {})
            for k in range(a, b + 1):
                nodes |= by_line.get(k, set())
        return nodes

    nodes = set() if m.module_level else tests([(m.file, *m.lines)], [])
    if not nodes:  # module level, or code only run at import time (or never)
        nodes = tests(*index.users(set(m.names)))
    return sorted(nodes, key=lambda n: (cov["seconds"][n], n))


def run(m: Mutant, scratch: Scratch, cov: dict[str, Any], index: Index,
        args: argparse.Namespace) -> None:
    nodes = select(m, cov, index)
    if not nodes:
        m.status = "not-covered"
        return
    target = scratch.repo / m.file
    original = target.read_bytes()
    budget = {n: args.timeout_min + args.timeout_factor * cov["seconds"][n] for n in nodes}
    (scratch.tmp / "select.json").write_text(json.dumps(budget))
    files = sorted({n.split("::")[0] for n in nodes})
    marker = scratch.tmp / "timed-out"
    marker.unlink(missing_ok=True)
    t0 = time.perf_counter()
    mutated = original[:m.start] + m.text.encode() + original[m.end:]
    env = {"MUTATE_SELECT": str(scratch.tmp / "select.json"), "MUTATE_TIMEOUT": str(marker),
           "MUTATE_MAX_EXAMPLES": str(args.max_examples)}
    pytest_args = ["-x", "-q", "-p", "mutate_plugin", "-p", "no:cacheprovider", *files]
    rc: int | None = COLD
    if args.warm and not m.module_level:
        collect = sorted({n.split("::")[0] for n in cov["seconds"]})
        rc = scratch.warm(m, mutated, pytest_args, env, 60 + sum(budget.values()), collect)
        if rc == 0 and not marker.exists() and args.confirm:
            rc = COLD  # a warm survivor: confirm it in a fresh interpreter
    if rc == COLD:
        try:
            target.write_bytes(mutated)
            rc = scratch.pytest(["-x", "-q", *files], env, 60 + sum(budget.values()))
        finally:
            target.write_bytes(original)
    if marker.exists():
        rc = None
    m.seconds = round(time.perf_counter() - t0, 2)
    if rc in (4, 5):  # usage error / nothing collected: the selection is broken, not the code
        sys.exit(f"pytest exit {rc} for {m.file}:{m.line}: the test selection is broken")
    m.status = "timeout" if rc is None else "survived" if rc == 0 else "killed"


def summary(rel: str, ms: list[Mutant]) -> dict[str, Any]:
    count = {s: sum(m.status == s for m in ms) for s in
             ("killed", "timeout", "survived", "not-covered", "equivalent", "pending")}
    scored = len(ms) - count["equivalent"] - count["pending"]
    dead = count["killed"] + count["timeout"]
    return {"module": rel, "mutants": len(ms), **count,
            "score": round(100 * dead / scored, 1) if scored else 100.0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("modules", nargs="+", help="module paths, e.g. gicmig/rules.py")
    p.add_argument("--sample", type=int, help="mutants per module (default: all)")
    p.add_argument("--density", action="append", default=[], metavar="PREFIX=N",
                   help="instead of --sample: N mutants per 100 source lines for modules "
                        "under PREFIX (repeatable, the longest matching prefix wins; at "
                        "least one per module), e.g. gicmig=9 gicmig/views=12")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tests", default="tests",
                   help="pytest arguments of the traced run, one string (default: tests)")
    p.add_argument("--report", type=Path, default=Path("mutation-report.json"))
    p.add_argument("--equivalent", type=Path, default=EQUIVALENT)
    p.add_argument("--timeout-min", type=float, default=10.0,
                   help="per test: seconds on top of --timeout-factor x its traced time")
    p.add_argument("--timeout-factor", type=float, default=5.0)
    p.add_argument("--trace", type=Path,
                   help="keep the traced run here and reuse it while it exists (same code "
                        "and tests only)")
    p.add_argument("--max-examples", type=int, default=30,
                   help="cap on hypothesis examples per test in mutant runs (0: no cap)")
    p.add_argument("--rerun", type=Path, metavar="REPORT",
                   help="run only the survivors of this earlier report of the same sample "
                        "(the others stay killed: tests were only added)")
    p.add_argument("--cold", dest="warm", action="store_false",
                   help="run every mutant in a fresh interpreter (default: in a fork of a "
                        "warm one where the mutant is inside a function; survivors are "
                        "confirmed cold)")
    p.add_argument("--no-confirm", dest="confirm", action="store_false",
                   help="keep warm survivors without confirming them cold (a first pass; "
                        "confirm with --rerun of its report)")
    p.add_argument("--budget", type=float, metavar="SECONDS",
                   help="start no mutant after this many seconds; the rest are reported "
                        "as not run (a sample cut short says so)")
    p.add_argument("--progress", type=Path, metavar="FILE",
                   help="append each verdict to FILE and take verdicts already in it "
                        "(resume an interrupted run of the same code and tests)")
    p.add_argument("--trace-only", action="store_true", help="trace, save --trace, stop")
    p.add_argument("--list", action="store_true", help="list the sampled mutants and stop")
    args = p.parse_args(argv)
    rels = [str(f.relative_to(ROOT)) for m in args.modules for f in (
        sorted(Path(m).resolve().rglob("*.py")) if Path(m).is_dir() else [Path(m).resolve()])]
    chosen = {r: make_mutants(r, sample_size(r, args.sample, args.density), args.seed)
              for r in rels}
    if args.list:
        for ms in chosen.values():
            for m in ms:
                print(f"{m.file}:{m.line} [{m.scope}] {m.original} -> {m.mutant}")
        return 0
    known = {(e["file"], e["scope"], e["original"], e["mutant"], e.get("nth", 0)): e["reason"]
             for e in
             (json.loads(args.equivalent.read_text()) if args.equivalent.exists() else [])}
    alive = None
    not_run: set[tuple[Any, ...]] = set()
    if args.rerun:
        earlier = json.loads(args.rerun.read_text())
        alive = {(m["file"], m["line"], m["scope"], m["original"], m["mutant"])
                 for m in earlier["survivors"] + earlier["equivalent"]}
        not_run = {(m["file"], m["line"], m["scope"], m["original"], m["mutant"])
                   for m in earlier.get("not_run", [])}
    done: dict[tuple[Any, ...], tuple[str, float]] = {}
    if args.progress and args.progress.exists():
        for r in args.progress.read_text().splitlines():
            *k, status, secs = json.loads(r)
            done[tuple(k)] = (status, secs)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.perf_counter()
    scratch = Scratch()
    try:
        package = Path(rels[0]).parts[0]
        index = Index(ROOT / package, ROOT / "tests")
        cov = trace(scratch, package, shlex.split(args.tests), args.trace)
        print(f"traced {len(cov['seconds'])} tests in {time.perf_counter() - t0:.0f} s",
              flush=True)
        if args.trace_only:
            return 0
        queue = [(i, len(ms), m) for ms in chosen.values() for i, m in enumerate(ms, 1)]
        if args.budget is not None:  # a sample cut short is then a uniform subsample
            random.Random(args.seed).shuffle(queue)
        for i, n, m in queue:
            if (m.file, m.line, *m.key()[:3]) in not_run:
                continue  # not run in the earlier report either
            if alive is not None and (m.file, m.line, *m.key()[:3]) not in alive:
                m.status = "killed"  # by the earlier run
                continue
            if (m.file, m.line, *m.key()) not in done and args.budget is not None \
                    and time.perf_counter() - t0 > args.budget:
                continue  # stays "pending": not run
            if (m.file, m.line, *m.key()) in done:
                m.status, m.seconds = done[(m.file, m.line, *m.key())]
            else:
                run(m, scratch, cov, index, args)
                if args.progress:
                    with args.progress.open("a") as f:
                        f.write(json.dumps([m.file, m.line, *m.key(), m.status,
                                            m.seconds]) + "\n")
            if m.status in ("survived", "not-covered") and (m.file, *m.key()) in known:
                m.status = "equivalent"
            print(f"[{i}/{n}] {m.status:11} {m.file}:{m.line} "
                  f"{m.original} -> {m.mutant} ({m.seconds} s)", flush=True)
    finally:
        scratch.close()
    rows = [summary(r, ms) for r, ms in chosen.items()]
    print(f"\n{'module':34} {'total':>5} {'killed':>6} {'t/o':>4} {'surv':>4} {'eqv':>4} "
          f"{'n/r':>4} score")
    for r in rows:
        print(f"{r['module']:34} {r['mutants']:5} {r['killed']:6} {r['timeout']:4} "
              f"{r['survived'] + r['not-covered']:4} {r['equivalent']:4} {r['pending']:4} "
                  f"{r['score']:5}%")
    every = [m for ms in chosen.values() for m in ms]
    packages: dict[str, list[Mutant]] = {}
    for r, ms in chosen.items():
        packages.setdefault(str(Path(r).parent), []).extend(ms)
    by_package = [summary(k, v) for k, v in packages.items()]
    if len(by_package) > 1:
        print()
        for r in by_package:
            print(f"{r['module']:34} {r['mutants']:5} {r['killed']:6} {r['timeout']:4} "
                  f"{r['survived'] + r['not-covered']:4} {r['equivalent']:4} {r['pending']:4} "
                  f"{r['score']:5}%")
    total = summary("all", every)
    print(f"{'all':34} {total['mutants']:5} {total['killed']:6} {total['timeout']:4} "
          f"{total['survived'] + total['not-covered']:4} {total['equivalent']:4} "
          f"{total['pending']:4} {total['score']:5}%   ({time.perf_counter() - t0:.0f} s)")

    def row(m: Mutant) -> dict[str, Any]:
        keep = ("file", "line", "scope", "original", "mutant", "nth", "status", "seconds")
        return {k: v for k, v in asdict(m).items() if k in keep} | (
            {"reason": known[(m.file, *m.key())]} if (m.file, *m.key()) in known else {})

    report = {"seed": args.seed, "sample": args.sample, "seconds": round(time.perf_counter() - t0),
              "density": args.density, "modules": rows, "packages": by_package,
              "total": total,
              "survivors": [row(m) for m in every if m.status in ("survived", "not-covered")],
              "equivalent": [row(m) for m in every if m.status == "equivalent"],
              "not_run": [row(m) for m in every if m.status == "pending"]}
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
