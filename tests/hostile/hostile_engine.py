"""Running one hostile case and judging it: the CLI in-process (fast) or in a real
subprocess, and the library; the oracle every case must satisfy; the per-class tally the
report prints (tests/hostile/conftest.py).

The oracle (docs/security.md, "Hostile-input suite"):
* the library raises nothing but gicmig's own errors (GicmigError subclasses);
* the CLI exits 0, 1 or 2; a refusal prints one line `PLACE: CODE message` (validate: one
  such line per finding, on stdout) with a registered code, never INTERNAL-ERROR, never a
  traceback, and exits with the status REASONS documents for that code;
* no input changes (sha256 before and after), no output is left behind by a refusal;
* peak memory stays within 64 MiB + 4x the input (tracemalloc in-process; VmHWM above an idle
  run's for subprocesses); every case ends within TIME_LIMIT seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gicmig.errors import REASONS, GicmigError

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20
BASE_BOUND = 64 * MIB  # docs/security.md: at most 64 MiB plus 4x the input
TIME_LIMIT = 30  # seconds per case: a hang is a failure, not a stalled suite


def campaign_seconds(config: Any) -> float | None:
    """--hostile-seconds=N (or GICMIG_HOSTILE_SECONDS=N): the length of a fuzzing campaign
    per input class; None for the fixed seeded cases of CI."""
    value = config.getoption("--hostile-seconds")
    if value is None and os.environ.get("GICMIG_HOSTILE_SECONDS"):
        value = float(os.environ["GICMIG_HOSTILE_SECONDS"])
    return float(value) if value is not None else None


def memory_bound(input_size: int) -> int:
    return BASE_BOUND + 4 * input_size


class Hang(BaseException):
    """Raised by the alarm when a case runs past TIME_LIMIT (BaseException: no reader
    may swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: int = TIME_LIMIT) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# --- the tally per input class -------------------------------------------------------------
@dataclass
class ClassStats:
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)  # failures of classes H1 is fixing
    worst_peak: int = 0
    worst_case: str = ""
    worst_input: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # "ok" or the first reason code

    def record(self, name: str, peak: int, size: int) -> None:
        self.cases += 1
        if peak > self.worst_peak:
            self.worst_peak, self.worst_case, self.worst_input = peak, name, size


STATS: dict[str, ClassStats] = {}


def stats(cls: str) -> ClassStats:
    return STATS.setdefault(cls, ClassStats())


# --- known failure classes --------------------------------------------------------------
# (label, predicate over the failure text): a failure matching one would be tallied as known
# and turn its test into an xfail. Empty: the classes the suite found while issue 13's
# "broken promises" were being fixed in parallel (unescaped input in messages, exit statuses
# of corrupt-stream codes) are fixed, so every failure fails its test again.
KNOWN_H1: list[tuple[str, Callable[[str], bool]]] = []


def known_class(failure: str) -> str | None:
    for label, match in KNOWN_H1:
        if match(failure):
            return label
    return None


# --- one CLI run, in-process ---------------------------------------------------------------
@dataclass
class Outcome:
    status: int
    stdout: bytes
    stderr: str
    peak: int  # bytes: tracemalloc peak (in-process) or VmHWM (subprocess)
    seconds: float
    crash: str = ""  # an exception that escaped cli.main (a bug in the CLI layer)


class _Pipe(io.RawIOBase):
    """stdin as a pipe: readable, not seekable (the QEMU reader then cannot look back)."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: Any) -> int:
        n = min(len(b), len(self._data) - self._at, 65536)
        b[:n] = self._data[self._at:self._at + n]
        self._at += n
        return n


class _Sink(io.BytesIO):
    def close(self) -> None:  # the wrapper's close (at exit or collection) keeps the bytes
        pass


def run_cli(argv: Sequence[str], stdin: bytes | None = None) -> Outcome:
    """`gicmig ARGV` in this process with captured streams, measured by tracemalloc."""
    from gicmig.cli import main

    out, err = _Sink(), _Sink()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace",
                                  write_through=True)
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BufferedReader(_Pipe(stdin)), encoding="utf-8")
    status = -1
    try:
        with _measured() as m:
            try:
                status = main(list(argv))
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 2
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        sys.stdin, sys.stdout, sys.stderr = saved
    return Outcome(status, out.getvalue(), err.getvalue().decode("utf-8", "replace"), m.peak,
                   m.seconds, m.crash)


@dataclass
class _Measure:
    peak: int = 0
    seconds: float = 0.0
    crash: str = ""


@contextlib.contextmanager
def _measured() -> Iterator[_Measure]:
    """Run the block under the time limit and tracemalloc; an exception it lets escape (a
    hang included) is recorded as `crash`, not raised: the caller judges it."""
    m = _Measure()
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    try:
        with time_limit():
            yield m
    except Hang as exc:
        m.crash = f"hang: {exc}"
    except BaseException as exc:
        m.crash = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        m.seconds = time.perf_counter() - start
        m.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


# --- one library call ------------------------------------------------------------------------
def run_library(call: Callable[[], Any]) -> Outcome:
    """`call()` measured like a CLI run; `crash` names any non-gicmig exception."""
    with _measured() as m, contextlib.suppress(GicmigError):
        call()
    return Outcome(0, b"", "", m.peak, m.seconds, m.crash)


# --- one CLI run in a real subprocess --------------------------------------------------------
def run_subprocess(argv: Sequence[str], stdin: bytes | Path | None = None,
                   cwd: Path | None = None, timeout: float = TIME_LIMIT) -> Outcome:
    """`gicmig ARGV` in a child Python; peak = the child's VmHWM (bytes; peak_runner.py).
    stdin: bytes go through a real pipe, a Path is opened (a file or a FIFO)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(prefix="hostile-peak-") as peak_file:
        feed: Any = subprocess.PIPE if isinstance(stdin, bytes) else \
            open(stdin, "rb") if isinstance(stdin, Path) else subprocess.DEVNULL  # noqa: SIM115 - closed below
        start = time.perf_counter()
        env = {**os.environ, "HOSTILE_PEAK": peak_file.name}
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("peak_runner.py")),
                                 *argv], stdin=feed, stdout=out, stderr=err, cwd=cwd, env=env)
        if isinstance(stdin, bytes):
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(stdin)
            proc.stdin.close()
        elif isinstance(stdin, Path):
            feed.close()
        crash, status, rss = "", -1, 0
        while True:
            pid, wstatus, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(wstatus)
                proc.returncode = status
                with contextlib.suppress(ValueError, OSError):
                    rss = int(Path(peak_file.name).read_text() or 0)
                break
            if time.perf_counter() - start > timeout:
                proc.kill()
                proc.wait()
                crash = f"hang: still running after {timeout} s"
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return Outcome(status, out.read(), err.read().decode("utf-8", "replace"), rss,
                       seconds, crash)


_IDLE_RSS: dict[tuple[str, ...], int] = {}


def idle_rss(argv: Sequence[str] = ("info", str(ROOT / "fixtures/v1/busy.gicmig"))) -> int:
    """VmHWM of a command on a valid input (default `gicmig info` of a blob): the
    interpreter with what that command loads (protoc for `schema check`), the baseline a
    hostile subprocess's peak is measured above."""
    key = tuple(argv)
    if key not in _IDLE_RSS:
        out = run_subprocess(argv)
        assert out.status == 0, out.stderr
        _IDLE_RSS[key] = out.peak
    return _IDLE_RSS[key]


# --- the oracle -----------------------------------------------------------------------------
_LINE = re.compile(r"^(?P<place>.+?): (?P<code>[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+) \S", re.M)
# `schema check`'s closing summary (its findings are answers, printed before it)
_SUMMARY = re.compile(r"^\S.*: \d+ breaking, \d+ waived, \d+ expired waivers against "
                      r"|^\d+ files?: \d+ ok, \d+ invalid(, \d+ unreadable)?$")  # validate
# codes whose exit status 2 is right for a crafted input's content: the input could not
# (or may not) be read, or the command line was refused
IO_CODES = {"IO-READ", "IO-WRITE", "USAGE", "SCHEMA-INPUT"}


# commands whose exit 1 may be an answer, not an error: "different", "lossy", "would change"
ANSWERS = ("diff", "compat", "fixture", "schema")


def documented_exit(code: str) -> int:
    """The exit status the CLI documents for `code` (by its category: docs/security.md)."""
    from gicmig.cli._run import EXIT_STATUS

    return EXIT_STATUS[REASONS[code].category]


def judge_cli(out: Outcome, *, report_on_stdout: bool = False, answers: bool = False,
              trouble_is_2: bool = False) -> list[str]:
    """What is wrong with one CLI run (empty: nothing). A refusal is one line per finding
    (a single error: one line; validate and the exporters list every finding), each
    `PLACE: CODE message` with a registered code whose documented exit status is the one
    the run exits with (`diff`: 2 for any trouble, as diff(1))."""
    bad: list[str] = []
    if out.crash:
        return [f"escaped cli.main: {out.crash}"]
    if "Traceback" in out.stderr:
        bad.append("a traceback on stderr")
    if out.status not in (0, 1, 2):
        bad.append(f"exit status {out.status}")
    if out.status == 0 or (answers and out.status == 1 and not out.stderr):
        return bad
    text = out.stderr or (out.stdout.decode("utf-8", "replace") if report_on_stdout else "")
    lines = [ln for ln in text.splitlines() if not (report_on_stdout and ln.endswith(": ok"))
             and not _SUMMARY.match(ln)]
    if not lines and answers:
        return bad
    if not lines:
        return [*bad, f"exit {out.status} without an error line"]
    for line in lines:
        m = _LINE.match(line)
        if not m:
            bad.append(f"{len(lines)} lines of error output, one not of the form "
                       f"'PLACE: CODE message': {line[:200]!r}")
            continue
        code = m.group("code")
        if code == "INTERNAL-ERROR":
            bad.append(f"INTERNAL-ERROR: {line[:300]}")
        elif code not in REASONS:
            bad.append(f"unregistered reason code {code}: {line[:200]}")
        elif trouble_is_2:
            if out.status != 2:
                bad.append(f"exit {out.status} for trouble ({code}); diff exits 2")
        elif documented_exit(code) != out.status:
            bad.append(f"exit {out.status}, but {code} is documented as exit "
                       f"{documented_exit(code)}")
        elif out.status == 2 and code.startswith("QEMU-") and \
                not code.startswith(("QEMU-TEMPLATE", "QEMU-PARAMETER")):
            bad.append(f"exit 2 for corrupt content ({code}): {line[:200]}")
    return bad


def judge_memory(out: Outcome, input_size: int, *, above: int = 0) -> list[str]:
    bound = memory_bound(input_size)
    if out.peak - above > bound:
        return [f"peak memory {(out.peak - above) / MIB:.1f} MiB over the bound "
                f"{bound / MIB:.1f} MiB (64 MiB + 4 x {input_size} bytes)"]
    return []


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "-"


@dataclass
class Case:
    """One hostile case: a CLI command line over files (each hashed before and after),
    an optional library call, stdin bytes, and the outputs a refusal must not leave."""

    name: str
    argv: list[str]
    inputs: list[Path]
    library: Callable[[], Any] | None = None
    stdin: bytes | None = None
    outputs: list[Path] = field(default_factory=list)
    report_on_stdout: bool = False
    size: int = -1  # input bytes for the memory bound (default: the inputs' total)

    def input_size(self) -> int:
        if self.size >= 0:
            return self.size
        total = len(self.stdin or b"")
        for p in self.inputs:
            with contextlib.suppress(OSError):
                total += p.stat().st_size if p.is_file() else 0
        return total


def check_case(cls: str, case: Case, *, cli: bool = True) -> list[str]:
    """Run `case` through the library and the CLI (in-process); tally and return the
    failures, each prefixed with the case's name."""
    for p in case.outputs:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    before = [sha(p) for p in case.inputs]
    size = case.input_size()
    bad: list[str] = []
    peak = 0
    if case.library is not None:
        lib = run_library(case.library)
        if lib.crash:
            bad.append(f"library: {lib.crash}")
        bad += [f"library: {m}" for m in judge_memory(lib, size)]
        peak = lib.peak
    if cli:
        out = run_cli(case.argv, case.stdin)
        bad += judge_cli(out, report_on_stdout=case.report_on_stdout,
                         answers=case.argv[0] in ANSWERS, trouble_is_2=case.argv[0] == "diff")
        bad += judge_memory(out, size)
        peak = max(peak, out.peak)
        first = _LINE.search(out.stderr or out.stdout.decode("utf-8", "replace"))
        stats(cls).outcomes["ok" if out.status == 0 else
                            first.group("code") if first else f"exit {out.status}"] += 1
        if out.status != 0:
            left = [p.name for p in case.outputs if p.exists()]
            if left:
                bad.append(f"a refusal left output behind: {left}")
    after = [sha(p) for p in case.inputs]
    if before != after:
        bad.append("an input was modified")
    st = stats(cls)
    st.record(case.name, peak, size)
    found = [f"{case.name}: {m}" for m in bad]
    for f in found:
        (st.known if known_class(f) else st.failures).append(f)
    return found


def conclude(found: list[str]) -> None:
    """Fail on unknown failures; xfail (strict=False) when only H1's known classes remain."""
    import pytest

    unknown = [f for f in found if not known_class(f)]
    assert not unknown, f"{len(unknown)} hostile cases failed:\n" + "\n".join(unknown[:25])
    if found:
        labels = sorted({known_class(f) or "" for f in found})
        pytest.xfail("; ".join(labels) + f" ({len(found)} cases, e.g. {found[0][:200]})")


def cpu_seconds() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime
