"""Run Debian's `qemu-system-aarch64` (QEMU 7.2, TCG) on migration streams, over QMP.

What the real-QEMU tests need, and nothing else:

* `remigrate(stream, out, machine)`: load a stream (`-incoming "exec:cat FILE"`), then
  migrate it out again (`migrate {"uri": "exec:cat > OUT"}`) without running the guest.
  A stream QEMU refuses raises `QemuRefused` with QEMU's own message.
* `make_template(out, machine, program)`: boot the read-back guest (harness/qemu/guest),
  let it run its program table, stop it and migrate it to a file. The file is a stream of
  a VM of that shape whose guest keeps running after `cont`: a template for
  `gicmig export qemu`.
* `readback(stream, machine)`: load a stream made from such a template, `cont`, and
  return the first complete register report the guest prints on its UART, and the first
  one after the guest made QEMU recompute its caches (a destination tells the guest
  through a fw_cfg file, which the source VM does not have).
* `load_migrate_read(stream, out, machine)`: both with one QEMU (migrate out, then `cont`).
* `run_parallel(jobs)`: run jobs on at most `PARALLEL` QEMU instances at a time.

Every QEMU runs with timeouts and is killed on every path (`Qemu` is a context manager).
QMP is a few lines of JSON over a unix socket: no dependency.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shlex
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

QEMU = "qemu-system-aarch64"
CROSS_CC = "aarch64-linux-gnu-gcc"
GUEST_DIR = Path(__file__).resolve().parent / "guest"
GUEST_SOURCES = ("start.S", "guest.c", "guest.ld")
GUEST_CFLAGS = ("-O2", "-Wall", "-Wextra", "-Werror", "-nostdlib", "-ffreestanding", "-static",
                "-mgeneral-regs-only", "-mstrict-align", "-fno-stack-protector", "-fno-pie",
                "-no-pie", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments")
PROGRAM_ADDR = 0x4080_0000  # where the guest looks for its program table (guest.c PROGRAM)
PARALLEL = 2  # QEMU instances at a time (CI has 2 cores)
START_TIMEOUT = 20.0  # seconds for QEMU to open its QMP socket
MIGRATE_TIMEOUT = 60.0  # seconds for an incoming or outgoing migration
REPORT_TIMEOUT = 60.0  # seconds for the guest to print a complete report

T = TypeVar("T")


class QemuError(RuntimeError):
    """QEMU did not do what the harness asked (timeout, QMP error, early exit)."""


class QemuRefused(QemuError):
    """QEMU refused to load a stream: the message is QEMU's own (its stderr)."""


# --- the machine ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Machine:
    """The options that fix a VM's shape: what a stream and its destination must share."""

    machine: str = "virt,gic-version=2,virtualization=on"
    cpu: str = "cortex-a57"
    smp: int = 2
    memory: str = "16M"

    @classmethod
    def parse(cls, qemu_args: str) -> Machine:
        """The shape from a QEMU command line (e.g. the `machine.qemu_args` of
        shared/qemu/expected/*.json); options other than -M/-cpu/-smp/-m are ignored."""
        words = shlex.split(qemu_args)
        opts = dict(itertools.pairwise(words))
        default = cls()
        return cls(opts.get("-M", opts.get("-machine", default.machine)),
                   opts.get("-cpu", default.cpu), int(opts.get("-smp", default.smp)),
                   opts.get("-m", default.memory))

    @property
    def virtualization(self) -> bool:
        return "virtualization=on" in self.machine.split(",")

    def args(self) -> list[str]:
        return ["-M", self.machine, "-cpu", self.cpu, "-smp", str(self.smp), "-m", self.memory]

    def __str__(self) -> str:
        return " ".join(self.args())


SHARED = Machine()  # the shape of every stream in shared/qemu/streams


def available() -> str | None:
    """None if real QEMU and the cross compiler are installed, else what is missing."""
    missing = [tool for tool in (QEMU, CROSS_CC) if shutil.which(tool) is None]
    return ", ".join(missing) + " not installed" if missing else None


# --- the guest --------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Where built guests go: $GICMIG_CACHE, else $XDG_CACHE_HOME/gicmig, else ~/.cache/gicmig."""
    root = os.environ.get("GICMIG_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "gicmig"


def guest_elf() -> Path:
    """The read-back guest, built once per source version into the cache (outside the repo)."""
    digest = hashlib.sha256(" ".join(GUEST_CFLAGS).encode())
    for name in GUEST_SOURCES:
        digest.update((GUEST_DIR / name).read_bytes())
    out = cache_dir() / "guest" / digest.hexdigest()[:16] / "guest.elf"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    cmd = [CROSS_CC, *GUEST_CFLAGS, "-T", str(GUEST_DIR / "guest.ld"),
           str(GUEST_DIR / "start.S"), str(GUEST_DIR / "guest.c"), "-o", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode:
        raise QemuError(f"building the guest failed: {' '.join(cmd)}\n{done.stderr}")
    os.replace(tmp, out)
    return out


@dataclass(frozen=True)
class Write:
    """One register write of a guest program, made by CPU `cpu`."""

    cpu: int
    addr: int
    value: int
    width: int = 32  # 32 or 8

    def pack(self) -> bytes:
        kind = {32: 2, 8: 3}[self.width]  # guest.c: CMD_WRITE32 = 2, CMD_WRITE8 = 3
        return struct.pack("<4I", kind, self.cpu, self.addr, self.value)


def program_table(writes: Iterable[Write]) -> bytes:
    return b"".join(w.pack() for w in writes) + bytes(16)


# --- one QEMU ---------------------------------------------------------------------------------
class Qemu:
    """One `qemu-system-aarch64`, killed when the `with` block ends, whatever happened."""

    def __init__(self, machine: Machine, *, incoming: Path | None = None,
                 kernel: Path | None = None, program: bytes | None = None) -> None:
        self.machine = machine
        self.dir = Path(tempfile.mkdtemp(prefix="gicmig-qemu-"))
        self.sock_path = self.dir / "qmp.sock"
        self.serial = self.dir / "serial.log"
        self.stderr_path = self.dir / "stderr.log"
        args = [QEMU, *machine.args(), "-accel", "tcg", "-nographic", "-nodefaults",
                "-monitor", "none", "-net", "none", "-serial", f"file:{self.serial}",
                "-qmp", f"unix:{self.sock_path},server=on,wait=off"]
        if incoming is not None:  # a destination: the guest may refresh QEMU's caches
            args += ["-S", "-incoming", f"exec:cat {shlex.quote(str(incoming))}",
                     "-fw_cfg", "name=opt/gicmig/refresh,string=y"]
        if kernel is not None:
            args += ["-kernel", str(kernel)]
        if program is not None:
            table = self.dir / "program.bin"
            table.write_bytes(program)
            args += ["-device", f"loader,file={table},addr={PROGRAM_ADDR:#x},force-raw=on"]
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.reader: Any = None

    def __enter__(self) -> Qemu:
        try:
            with open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=err)
            self._connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- QMP ---------------------------------------------------------------------------------
    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace").strip()
        except OSError:
            return ""

    def _died(self, what: str) -> QemuError:
        assert self.proc is not None
        self.proc.wait(timeout=10)
        message = self.stderr() or f"exit status {self.proc.returncode}"
        return QemuRefused(f"QEMU exited while {what}: {message}")

    def _connect(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        assert self.proc is not None
        while True:
            if self.proc.poll() is not None:
                raise self._died("starting")
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(MIGRATE_TIMEOUT)
                sock.connect(str(self.sock_path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() > deadline:
                    raise QemuError(f"QEMU did not open its QMP socket in {START_TIMEOUT} s: "
                                    f"{self.stderr()}") from None
                time.sleep(0.02)
        self.sock, self.reader = sock, sock.makefile("rb")
        self._receive()  # the greeting
        self.command("qmp_capabilities")

    def _receive(self) -> dict[str, Any]:
        while True:
            try:
                line = self.reader.readline()
            except OSError as e:
                raise QemuError(f"QMP: {e}") from e
            if not line:
                raise self._died("talking QMP")
            msg: dict[str, Any] = json.loads(line)
            if "event" not in msg:
                return msg

    def command(self, name: str, **arguments: Any) -> Any:
        """Run a QMP command; its `return` value, or QemuError with QMP's error."""
        assert self.sock is not None
        msg: dict[str, Any] = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        try:
            self.sock.sendall(json.dumps(msg).encode() + b"\n")
        except OSError as e:
            raise self._died(f"sending {name}") from e
        reply = self._receive()
        if "error" in reply:
            raise QemuError(f"QMP {name}: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    # --- steps -------------------------------------------------------------------------------
    def wait_loaded(self, timeout: float = MIGRATE_TIMEOUT) -> None:
        """Wait until the incoming migration has finished (QEMU exits if it refuses it)."""
        deadline = time.monotonic() + timeout
        while self.command("query-status")["status"] == "inmigrate":
            if time.monotonic() > deadline:
                raise QemuError(f"the incoming migration did not finish in {timeout} s")
            time.sleep(0.02)

    def migrate_to(self, out: Path, timeout: float = MIGRATE_TIMEOUT) -> None:
        """Migrate the (stopped or running) VM into the file `out`."""
        self.command("migrate", uri=f"exec:cat > {shlex.quote(str(out))}")
        deadline = time.monotonic() + timeout
        while True:
            info = self.command("query-migrate")
            status = info.get("status")
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                raise QemuError(f"migration {status}: {info.get('error-desc', '')}")
            if time.monotonic() > deadline:
                raise QemuError(f"migration did not complete in {timeout} s")
            time.sleep(0.02)

    def wait_reports(self, done: Callable[[list[Report]], bool],
                     timeout: float = REPORT_TIMEOUT) -> list[Report]:
        """The complete reports in the UART log, once `done` says they are enough."""
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while True:
            text = self.serial.read_text(errors="replace") if self.serial.exists() else ""
            reports = parse_reports(text)
            if reports and done(reports):
                return reports
            if self.proc.poll() is not None:
                raise self._died("waiting for the guest's report")
            if time.monotonic() > deadline:
                raise QemuError(f"the guest did not print the reports expected in {timeout} s;"
                                f" UART: {text[-300:]!r}")
            time.sleep(0.05)


# --- the guest's report -------------------------------------------------------------------------
FRAMES = {"D": "GICD", "C": "GICC", "H": "GICH"}
Key = tuple[str, "int | None", int]  # (frame, CPU or None for shared registers, byte offset)


@dataclass(frozen=True)
class Report:
    """One read-back: register values by (frame, CPU or None, offset). `refreshed`: the
    guest had made QEMU recompute its caches before it (guest.c, step 3)."""

    seq: int
    refreshed: bool
    registers: dict[Key, int]


@dataclass(frozen=True)
class Readback:
    """What the guest read on a destination: `loaded`, the first complete report (the
    state as QEMU loaded it: nothing but reads happened before), and `refreshed`, the
    first one after the guest made QEMU recompute its caches from that state."""

    loaded: Report
    refreshed: Report


def parse_reports(text: str) -> list[Report]:
    """The complete BEGIN..END reports of a UART log, in order.

    Lines before the first BEGIN (the end of a report the source VM was printing when it
    was migrated) are skipped, and so is a report still being printed."""
    lines = text.split("\n")[:-1]  # the last piece may be a line still being printed
    if "PROGRAM-FAILED" in lines:
        raise QemuError("the guest could not run its program (a CPU did not answer)")
    out: list[Report] = []
    current: tuple[str, bool, dict[Key, int]] | None = None  # (seq, refreshed, registers)
    for ln in lines:
        if ln.startswith("BEGIN "):
            _, seq, refreshed = ln.split()
            current = (seq, refreshed == "1", {})
        elif current is None:
            continue  # the tail of a report begun before the migration
        elif ln == f"END {current[0]}":
            out.append(Report(int(current[0], 16), current[1], current[2]))
            current = None
        elif ln.startswith("MISSING "):
            raise QemuError(f"guest report {current[0]}: CPU {ln.split()[1]} did not answer")
        else:
            frame, off, value = ln.split()
            who = frame[1]
            key = (FRAMES[frame[0]], None if who == "*" else int(who), int(off, 16))
            current[2][key] = int(value, 16)
    return out


# --- what the tests call ------------------------------------------------------------------------
def remigrate(stream: Path, out: Path, machine: Machine = SHARED) -> None:
    """Load `stream` into a paused VM of shape `machine` and migrate it to `out`."""
    with Qemu(machine, incoming=stream) as q:
        q.wait_loaded()
        q.migrate_to(out)


def make_template(out: Path, machine: Machine = SHARED,
                  program: Iterable[Write] = ()) -> Report:
    """Boot the guest, run `program`, stop after its first report, migrate into `out`.

    Returns that first report (the state the guest saw before the migration)."""
    with Qemu(machine, kernel=guest_elf(), program=program_table(program)) as q:
        report = q.wait_reports(lambda r: True)[0]
        q.command("stop")
        q.migrate_to(out)
        return report


def _read_back(q: Qemu) -> Readback:
    q.command("cont")
    reports = q.wait_reports(lambda rs: any(r.refreshed for r in rs))
    if reports[0].refreshed:
        raise QemuError("the guest refreshed QEMU's caches before its first report")
    return Readback(reports[0], next(r for r in reports if r.refreshed))


def readback(stream: Path, machine: Machine = SHARED) -> Readback:
    """Load `stream` (the guest's RAM inside), `cont`, and return what the guest read."""
    with Qemu(machine, incoming=stream) as q:
        q.wait_loaded()
        return _read_back(q)


def load_migrate_read(stream: Path, out: Path, machine: Machine = SHARED) -> Readback:
    """`remigrate` and `readback` with one QEMU: load `stream`, migrate it to `out` (the VM
    stays paused: nothing has run yet), then `cont` and return what the guest read."""
    with Qemu(machine, incoming=stream) as q:
        q.wait_loaded()
        q.migrate_to(out)
        return _read_back(q)


def run_parallel(jobs: Iterable[Callable[[], T]], workers: int = PARALLEL) -> list[T]:
    """Run `jobs` (each starting its own QEMUs) at most `workers` at a time, in order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: job(), jobs))
