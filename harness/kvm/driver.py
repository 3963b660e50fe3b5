"""Run many cases against a real Linux KVM vgic-v2 in one boot.

A `Case` is a list of steps for ``init.c`` (see its header for the commands): create a
vgic-v2 VM, apply writes (a `gicmig.kvm-writes/1` file or a list of `Access`), drive lines,
run a vCPU with a small guest program, read registers, dump. `run_cases` writes the
cases into an initramfs, boots ``qemu-system-aarch64 -M virt,gic-version=2,
virtualization=on`` (the kernel runs at EL2 and hosts KVM), and parses the serial log
back into a `CaseResult` per case: the refused writes, the register reads, the guest's
reports and each dump as a `gicmig.views.kvm.dump.KvmDump`.

    sys.path.insert(0, "harness")   # harness/kvm/ is the package `kvm`
    from kvm.driver import Case, run_cases
    case = Case("reset-2").vm(2, 128).dump()
    result = run_cases([case]).results["reset-2"]
    state = gicmig.import_kvm(result.dumps[0])
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gicmig.abi.kvm.access import Access, KvmDump
from gicmig.views.kvm.dump import parse_writes

from .build import Artifacts, build, write_cpio

# guest physical addresses the guest sees (init.c places the vGIC there)
GICD = 0x0800_0000
GICC = 0x0801_0000
GICC_CTLR, GICC_PMR, GICC_BPR = GICC + 0x0, GICC + 0x4, GICC + 0x8
GICC_IAR, GICC_EOIR, GICC_AIAR, GICC_AEOIR = GICC + 0xC, GICC + 0x10, GICC + 0x20, GICC + 0x24
GICC_DIR = GICC + 0x1000
GICD_SGIR = GICD + 0xF00
# guest program ops (init.c)
OP_DONE, OP_LOAD_REPORT, OP_STORE, OP_STORE_LAST, OP_LOAD = 0, 1, 2, 3, 4
SPURIOUS = 1023
# KVM_IRQ_LINE types
IRQ_SPI, IRQ_PPI = 1, 2
BOOT_TIMEOUT = float(os.environ.get("GICMIG_REALKVM_TIMEOUT", "900"))


class HarnessError(RuntimeError):
    """The boot went wrong (no KVM, a crash, a truncated log)."""


@dataclass
class Case:
    """Steps for one case; the builder methods return self so that they chain."""

    name: str
    steps: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.:+-]{1,150}", self.name):
            raise ValueError(f"case name {self.name!r}: letters, digits and _.:+- only")

    def vm(self, num_cpus: int, nr_irqs: int) -> Case:
        self.steps.append(f"V {num_cpus:x} {nr_irqs:x}")
        return self

    def write(self, group: str, vcpu: int, offset: int, value: int) -> Case:
        self.steps.append(f"W {group[0]} {vcpu:x} {offset:x} {value:x}")
        return self

    def writes(self, accesses: Iterable[Access]) -> Case:
        for a in accesses:
            self.write(a.group, a.vcpu, a.offset, a.value)
        return self

    def writes_file(self, text: str | bytes) -> Case:
        """Apply a `gicmig.kvm-writes/1` document (what `gicmig export kvm` writes)."""
        _, accesses = parse_writes(text)
        return self.writes(accesses)

    def read(self, group: str, vcpu: int, offset: int) -> Case:
        self.steps.append(f"G {group[0]} {vcpu:x} {offset:x}")
        return self

    def line(self, kind: int, vcpu: int, intid: int, level: int) -> Case:
        """KVM_IRQ_LINE: `kind` IRQ_SPI (vcpu ignored, 0) or IRQ_PPI."""
        self.steps.append(f"L {kind:x} {vcpu:x} {intid:x} {level:x}")
        return self

    def run(self, vcpu: int, program: Iterable[tuple[int, int, int]]) -> Case:
        """KVM_RUN `vcpu` with a guest program of (op, address, value) until it is done."""
        ops = list(program)
        self.steps.append(f"P {vcpu:x} {len(ops):x}")
        self.steps += [f"{op:x} {addr:x} {val:x}" for op, addr, val in ops]
        return self

    def dump(self, full: bool = False) -> Case:
        self.steps.append("D f" if full else "D s")
        return self


@dataclass
class CaseResult:
    name: str
    vm_created: bool = False
    errors: list[str] = field(default_factory=list)  # "@E ..." lines, without "@E "
    reads: list[tuple[str, int, int, int]] = field(default_factory=list)
    reports: list[tuple[int, int]] = field(default_factory=list)  # (vcpu, value)
    done: list[int] = field(default_factory=list)  # vCPUs whose program finished
    dumps: list[KvmDump] = field(default_factory=list)
    nr_irqs: int = 0
    finished: bool = False

    def read_value(self, group: str, vcpu: int, offset: int) -> int:
        """The last `read` of that register."""
        for g, c, o, v in reversed(self.reads):
            if (g, c, o) == (group, vcpu, offset):
                return v
        raise KeyError(f"{group} vcpu{vcpu} {offset:#x} was not read")


@dataclass
class BootResult:
    results: dict[str, CaseResult]
    seconds: float
    log: str
    kernel: str


class _DumpBuilder:
    def __init__(self, nr_irqs: int) -> None:
        self.nr_irqs = nr_irqs
        self.values: dict[tuple[str, int, int], int] = {}

    def sweep(self, group: str, vcpu: int, lo: int, hi: int) -> None:
        for off in range(lo, hi, 4):
            self.values[(group, vcpu, off)] = 0

    def finish(self, host_kernel: str) -> KvmDump:
        accesses = tuple(Access(g, c, o, v) for (g, c, o), v in sorted(
            self.values.items(), key=lambda kv: (kv[0][0] != "dist", kv[0][2], kv[0][1])))
        return KvmDump(self.nr_irqs, accesses, vmm="gicmig real-KVM harness",
                       host_kernel=host_kernel)


def parse_log(log: str, names: list[str], host_kernel: str = "") -> dict[str, CaseResult]:
    """The results of every case in a serial log (lines not starting with '@' are ignored)."""
    results: dict[str, CaseResult] = {}
    cur: CaseResult | None = None
    dump: _DumpBuilder | None = None
    group = {"d": "dist", "c": "cpu"}

    def close_dump() -> None:
        nonlocal dump
        if cur is not None and dump is not None:
            cur.dumps.append(dump.finish(host_kernel))
        dump = None

    for raw in log.splitlines():
        line = raw.strip()
        at = line.find("@")
        if at < 0:
            continue
        line = line[at:]
        tag, _, rest = line.partition(" ")
        f = rest.split()
        if tag == "@C":
            close_dump()
            cur = results.setdefault(rest, CaseResult(rest))
            continue
        if cur is None:
            continue
        if tag not in ("@S", "@v"):
            close_dump()
        if tag == "@V":
            cur.vm_created, cur.nr_irqs = True, int(f[1], 16)
        elif tag == "@E":
            cur.errors.append(rest)
        elif tag == "@G":
            cur.reads.append((group[f[0]], int(f[1], 16), int(f[2], 16), int(f[3], 16)))
        elif tag == "@R":
            cur.reports.append((int(f[0], 16), int(f[1], 16)))
        elif tag == "@D":
            cur.done.append(int(f[0], 16))
        elif tag == "@S":
            if dump is None:
                dump = _DumpBuilder(cur.nr_irqs)
            dump.sweep(group[f[0]], int(f[1], 16), int(f[2], 16), int(f[3], 16))
        elif tag == "@v" and dump is not None:
            dump.values[(group[f[0]], int(f[1], 16), int(f[2], 16))] = int(f[3], 16)
        elif tag == "@X":
            cur.finished = True
            cur = None
    close_dump()
    missing = [n for n in names if n not in results or not results[n].finished]
    if missing:
        tail = "\n".join(log.splitlines()[-30:])
        raise HarnessError(f"{len(missing)} case(s) did not finish (first: {missing[0]}); "
                           f"log tail:\n{tail}")
    return results


def run_cases(cases: list[Case], *, artifacts: Artifacts | None = None,
              smp: int = 1) -> BootResult:
    """Boot once, run every case, return the parsed results by case name."""
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise ValueError("case names must be unique")
    art = artifacts or build()
    script = "".join(f"C {c.name}\n" + "".join(s + "\n" for s in c.steps) + "X\n"
                     for c in cases)
    with tempfile.TemporaryDirectory(prefix="gicmig-realkvm-") as tmp:
        initrd, log_path = Path(tmp) / "initrd.cpio", Path(tmp) / "serial.log"
        write_cpio(initrd, {"init": art.init.read_bytes(), "cases.txt": script.encode()})
        cmd = ["qemu-system-aarch64", "-M", "virt,gic-version=2,virtualization=on",
               "-cpu", "cortex-a57", "-smp", str(smp), "-m", "512M", "-nographic",
               "-nodefaults", "-serial", f"file:{log_path}", "-monitor", "none",
               "-net", "none", "-kernel", str(art.kernel), "-initrd", str(initrd),
               "-append", "console=ttyAMA0 panic=-1 rdinit=/init quiet loglevel=1",
               "-no-reboot"]
        start = time.monotonic()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BOOT_TIMEOUT,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"the boot did not finish in {BOOT_TIMEOUT:.0f} s") from None
        seconds = time.monotonic() - start
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
    if proc.returncode != 0:
        raise HarnessError(f"qemu-system-aarch64 exited {proc.returncode}: {proc.stderr[-2000:]}")
    if "@BYE" not in log:
        tail = "\n".join(log.splitlines()[-30:])
        raise HarnessError(f"/init did not finish; log tail:\n{tail}")
    m = re.search(r"@KERNEL (\S+)", log)
    kernel = m.group(1) if m else art.kernel_package
    return BootResult(parse_log(log, names, f"Linux {kernel}"), seconds, log, kernel)
