"""The QEMU view: the `arm_gic` vmstate of a migration stream -> canonical state.

QEMU keeps per-interrupt state as 8-bit CPU masks sized for 8 CPUs and 1020 IDs, and two
devices write the same `arm_gic` v12 section with different encodings (gic-domain.md
§5.3, §5.5): the TCG GIC model (`--accel tcg`) and kvm-arm-gic (`--accel kvm`). The stream
does not say which, nor how many CPUs and IDs the GIC has: the caller does.

Strict by default: every QEMU 7.2 deviation from the architecture that the stream shows
(shared/qemu/README.md, "QEMU 7.2 deviations") is refused with its own reason code. With
`lenient=True` the benign ones are normalized and each normalization is reported; the
others are refused either way. QEMU's caches (running_priority, current_pending, h_misr)
are not stored; they are checked against QEMU's own rules where those are reliable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from gicmig import __version__
from gicmig.abi.kvm import maybe_stale_latch, never_run_binary_points
from gicmig.arch import bitmaps, labels
from gicmig.arch.gich import VCPU_CTLR_MASK, status_registers, vmcr_of
from gicmig.arch.ids import APR_LEVELS, NUM_PRIVATE, NUM_SGIS
from gicmig.arch.priority import min_abpr, min_binary_point
from gicmig.arch.registers import (
    GICD_CTLR,
    GICH_HCR,
    GICH_LR,
    GICH_LR_HW,
    GICH_VMCR,
    KVM_APR_LEVELS,
    KVM_GICD_CTLR,
    KVM_MIN_BPR,
    KVM_PMR_SHIFT,
    KVM_PRIORITY_BITS,
    LR_STATES,
)
from gicmig.core.attribution import Derivation, attribute
from gicmig.core.config import GicConfig
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.core.rules import validate
from gicmig.errors import DecodeError, GicmigError
from gicmig.views.qemu.accel import check_accel
from gicmig.views.qemu.raw import RawImage
from gicmig.views.qemu.stream import NCPU, ArmGicSection, read_arm_gic

ACCELS = ("tcg", "kvm")
# --machine presets: what the board gives the GIC (hw/arm/virt.c: 256 SPIs + 32)
MACHINES: dict[str, int] = {"virt": 288}
TCG_PRIORITY_BITS = 8  # arm_gic's num-priority-bits default
TCG_MIN_BPR = 0  # GIC_MIN_BPR
QEMU_NUM_LRS = 4  # hard-coded at realize when virtualization extensions are on
VIRT_PRIORITY_BITS = 5  # GIC_VIRT_MAX_GROUP_PRIO_BITS
IDLE_PRIORITY = 0x100  # running_priority when nothing is active
SPURIOUS = 1023

_LR_STATE = GICH_LR.field("state")
_LR_PRIORITY = GICH_LR.field("priority")
_LR_VID = GICH_LR.field("virtual_id")
_LR_HW = GICH_LR.field("hw")
_LR_EOI = GICH_LR.field("eoi")
# QEMU stores an LR masked to VirtualID|PhysicalID|CPUID|EOI|Priority|State|Grp1|HW, so
# an HW=0 LR keeps the PhysicalID bits that CPUID does not cover: RES0 architecturally
_LR_KEPT_RESERVED = GICH_LR.reserved_mask & GICH_LR_HW.field("physical_id").mask
_VMPRI_SHIFT = 8 - GICH_VMCR.field("vmprimask").width
_VMCR_MIN_ABP = min_abpr(min_binary_point(VIRT_PRIORITY_BITS))  # GIC_VIRT_MIN_ABPR: 3
_EN = GICH_HCR.field("en")


@dataclass(frozen=True)
class QemuImport:
    """The result of an import: the canonical state and what lenient mode normalized."""

    state: GicState
    normalized: list[tuple[str, str]] = field(default_factory=list)  # (reason code, message)
    section: ArmGicSection | None = None
    derived: tuple[Derivation, ...] = ()  # what the active interrupts explain (accel kvm)


def import_qemu(source: str | os.PathLike[str] | IO[bytes], *, accel: str | None = None,
                num_cpus: int | None = None, num_irqs: int | None = None,
                priority_bits: int | None = None, machine: str | None = None,
                lenient: bool = False) -> QemuImport:
    """The canonical state held by the `arm_gic` section of a QEMU migration stream.

    `accel` ("tcg" or "kvm") says which QEMU device wrote the section. The section's
    marks of either device are checked first (QEMU-ACCEL-MISMATCH names one); without
    `accel` they decide, and QEMU-ACCEL-AMBIGUOUS says when they cannot.
    `machine="virt"` presets 288 IDs (the default when the stream names that board);
    `num_cpus` defaults to what the per-CPU slots
    show when that is unambiguous. Raises `GicmigError` with a QEMU-* reason code.

    >>> imp = import_qemu("virt.mig", accel="tcg", machine="virt")  # doctest: +SKIP
    >>> imp.state.virtual[0].hcr  # doctest: +SKIP
    268435529
    """
    if accel is not None and accel not in ACCELS:
        raise GicmigError("QEMU-ACCEL", f"accelerator {accel!r}: say tcg or kvm")
    return convert(read_arm_gic(source), accel=accel, num_cpus=num_cpus, num_irqs=num_irqs,
                   priority_bits=priority_bits, machine=machine, lenient=lenient)


def convert(section: ArmGicSection, *, accel: str | None = None, num_cpus: int | None = None,
            num_irqs: int | None = None, priority_bits: int | None = None,
            machine: str | None = None, lenient: bool = False) -> QemuImport:
    """`import_qemu` on a section already read from a stream."""
    raw = Raw(section)
    accel = check_accel(raw, accel)
    config = _config(raw, section, accel, num_cpus, num_irqs, priority_bits, machine)
    report = _Report(lenient)
    state = GicState.reset(config)
    conv = _Tcg(raw, state, report) if accel == "tcg" else _Kvm(raw, state, report)
    conv.run()
    # kvm-arm-gic holds KVM's combined APR and no SPI CPU: the one attribution rule
    derived = attribute(state) if accel == "kvm" else []
    prov = state.provenance
    prov.tool, prov.tool_version, prov.vmm = "gicmig", __version__, "qemu"
    prov.source = f"qemu-{accel}"
    validate(state)
    return QemuImport(state, report.items, section, tuple(derived))


# --- the raw section --------------------------------------------------------------------------
class Raw(RawImage):
    """The arm_gic fields, decoded once by the one table both directions use
    (`gicmig.views.qemu_raw.RAW_FIELDS`). Per-interrupt members are 1020-byte vectors
    of CPU masks (bit c = CPU c); per-CPU arrays have 8 slots."""

    def __init__(self, s: ArmGicSection) -> None:
        self.decode(s)

    def lr(self, n: int, c: int) -> int:
        return self.h_lr[n * NCPU + c]

    def apr_levels(self, c: int, words: tuple[int, ...]) -> int:
        """GICC_APR0-3 (or NSAPR0-3) of CPU c as one 128-level bitmap."""
        w = words[c::NCPU]
        return w[0] | w[1] << 32 | w[2] << 64 | w[3] << 96

    def slot_zero(self, c: int) -> bool:
        """Whether every per-CPU field of slot c is zero (how QEMU leaves absent CPUs)."""
        phys = (self.cpu_ctlr[c], self.pmr[c], self.running[c], self.current[c], self.bpr[c],
                self.abpr[c], self.apr_levels(c, self.apr), self.apr_levels(c, self.nsapr))
        if any(phys):
            return False
        if not self.virt:
            return True
        return not any((self.h_hcr[c], self.h_misr[c], self.h_apr[c], self.v_ctlr[c],
                        self.v_pmr[c], self.v_running[c], self.v_current[c], self.v_bpr[c],
                        self.v_abpr[c], any(self.h_lr[c::NCPU])))

    def present(self, c: int, accel: str) -> bool:
        """The mark of a CPU the GIC has: TCG clamps ABPR to >= 1 from reset on; with KVM,
        running_priority keeps QEMU's reset value 0x100 (it is never transferred)."""
        return self.abpr[c] != 0 if accel == "tcg" else self.running[c] == IDLE_PRIORITY


# --- parameters -------------------------------------------------------------------------------
def _config(raw: Raw, section: ArmGicSection, accel: str, num_cpus: int | None,
            num_irqs: int | None, priority_bits: int | None, machine: str | None) -> GicConfig:
    board = section.machine or ""
    if machine is None and num_irqs is None and board.split("-")[0] in MACHINES:
        machine = board.split("-")[0]  # the stream names its board, and the board fixes the IDs
    if machine is not None:
        if machine not in MACHINES:
            raise GicmigError("QEMU-MACHINE-UNKNOWN",
                              f"machine {machine!r}: gicmig knows {', '.join(MACHINES)}")
        written = section.machine
        if written and written != machine and not written.startswith(machine + "-"):
            raise GicmigError("QEMU-MACHINE-MISMATCH",
                              f"--machine {machine}, but the stream was written by machine "
                              f"type {written!r}")
        num_irqs = MACHINES[machine] if num_irqs is None else num_irqs
    if num_irqs is None:
        hint = f" (the stream names machine type {section.machine!r})" if section.machine else ""
        raise GicmigError("QEMU-PARAMETER-MISSING",
                          "the stream does not record the number of interrupt IDs: give "
                          f"--num-irqs N or --machine virt{hint}")
    if not 32 <= num_irqs <= 992 or num_irqs % 32:
        raise GicmigError("QEMU-PARAMETER-MISSING",
                          f"--num-irqs {num_irqs}: QEMU's GIC takes a multiple of 32 in 32..992")
    if accel == "kvm" and raw.virt:
        raise DecodeError("QEMU-ACCEL-MISMATCH",
                          "the section has the arm_gic_virt_state subsection, which kvm-arm-gic "
                          "never writes (KVM's GICv2 has no virtualization extensions): was the "
                          "stream written by the TCG GIC (--accel tcg)?")
    n = _num_cpus(raw, accel, num_cpus)
    virt = QEMU_NUM_LRS if raw.virt else None
    if accel == "tcg":
        bits = TCG_PRIORITY_BITS if priority_bits is None else priority_bits
        return GicConfig(n, num_irqs, priority_bits=bits, min_bpr=TCG_MIN_BPR,
                         sgi_enables_rao_wi=True, ppi_trigger_programmable=True, num_lrs=virt,
                         virtual_priority_bits=VIRT_PRIORITY_BITS,
                         virtual_preemption_bits=VIRT_PRIORITY_BITS)
    bits = KVM_PRIORITY_BITS if priority_bits is None else priority_bits
    return GicConfig(n, num_irqs, priority_bits=bits, min_bpr=KVM_MIN_BPR,
                     sgi_enables_rao_wi=False, ppi_trigger_programmable=False, num_lrs=virt)


def _num_cpus(raw: Raw, accel: str, given: int | None) -> int:
    present = [raw.present(c, accel) for c in range(NCPU)]
    if given is None:
        n = present.index(False) if False in present else NCPU
        if n and not any(present[n:]) and all(raw.slot_zero(c) for c in range(n, NCPU)):
            return n
        raise GicmigError("QEMU-NUM-CPUS-AMBIGUOUS",
                          "the per-CPU slots do not show how many CPUs the GIC has (slots "
                          f"{labels.cpus(sum(1 << c for c in range(NCPU) if present[c]))} "
                          f"look in use with --accel {accel}): give --num-cpus N, or check "
                          "--accel")
    if not 1 <= given <= NCPU:
        raise GicmigError("QEMU-NUM-CPUS-MISMATCH", f"--num-cpus {given} is not in 1..{NCPU}")
    extra = [c for c in range(given, NCPU) if present[c]]
    missing = [c for c in range(given) if not present[c]]
    if extra or missing:
        what = (f"CPU {extra[0]} has CPU interface state" if extra
                else f"CPU {missing[0]} has none of the state an existing CPU has")
        raise GicmigError("QEMU-NUM-CPUS-MISMATCH",
                          f"--num-cpus {given}, but in the stream {what} "
                          f"(accelerator {accel})")
    return given


# --- reporting deviations ---------------------------------------------------------------------
class _Report:
    """Strict mode raises at the first deviation; lenient mode fixes the benign ones."""

    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.items: list[tuple[str, str]] = []

    def deviation(self, code: str, places: list[str], what: str, fix: str | None) -> None:
        """`places` show the deviation (at least one); `fix` is what lenient mode does, or
        None when the deviation cannot be normalized."""
        more = f" (and {len(places) - 1} more)" if len(places) > 1 else ""
        message = f"{places[0]}{more}: {what}"
        if fix is not None and self.lenient:
            self.items.append((code, f"{message}; {fix}"))
            return
        hint = f" (--lenient: {fix})" if fix is not None else ""
        raise DecodeError(code, message + hint)


_ONE_IS_ZERO = b"\x00\x00" + bytes(range(2, 256))




def _bank(masks: bytes, c: int, first: int = 0) -> int:
    """Bit c of the CPU masks of IDs first..31, as a bank (bit i = ID i)."""
    return bitmaps.nonzero(masks[first:NUM_PRIVATE].translate(_CPU_BIT[c])) << first


_CPU_BIT = [bytes(b >> c & 1 for b in range(256)) for c in range(NCPU)]
_CPU_MASKED = [bytes(b & m for b in range(256)) for m in range(256)]  # byte -> byte & m
_PRIVATE_ONES = int.from_bytes(b"\x01" * NUM_PRIVATE, "little")  # private IDs: always targeted


def _bit(mask: int, c: int) -> int:
    return (mask >> c) & 1


def _ids(indices: Iterator[int] | list[int], base: int = 0) -> list[int]:
    return [base + k for k in indices]


# --- shared by both encodings -----------------------------------------------------------------
class _Converter:
    def __init__(self, raw: Raw, state: GicState, report: _Report) -> None:
        self.raw, self.state, self.report = raw, state, report
        cfg = state.config
        self.n = cfg.num_cpus
        self.num_irqs = cfg.num_irqs
        self.cm = cfg.cpu_mask

    def run(self) -> None:
        self.common_checks()
        self.distributor()
        self.spis()
        for c in range(self.n):
            self.banked(c)
            self.cpu(c)

    def impossible(self, places: list[str], what: str) -> None:
        self.report.deviation("QEMU-VALUE-IMPOSSIBLE", places,
                              f"{what}, which QEMU 7.2 never writes (corrupt stream, or not "
                              "the GICv2 arm_gic device)", None)

    def common_checks(self) -> None:
        r, n_irq = self.raw, self.num_irqs
        for name in ("enabled", "pending", "active", "level", "edge", "group", "target"):
            vec = getattr(r, name)[n_irq:]
            if name == "target" and self.n == 1:  # a uniprocessor GIC resets every byte to 1
                vec = vec.translate(_ONE_IS_ZERO)
            if vec.strip(b"\0"):
                ids = [n_irq + k for k in bitmaps.nonzero_positions(vec)]
                raise DecodeError("QEMU-IRQ-BEYOND-NUM-IRQS",
                                  f"{labels.irq(ids[0])}: {name} is {vec[ids[0] - n_irq]:#04x}, "
                                  f"but the GIC has {n_irq} interrupt IDs (check --num-irqs "
                                  "or --machine)")
        if r.priority2[n_irq - NUM_PRIVATE:].strip(b"\0"):
            k = next(k for k, v in enumerate(r.priority2) if v and k >= n_irq - NUM_PRIVATE)
            raise DecodeError("QEMU-IRQ-BEYOND-NUM-IRQS",
                              f"{labels.irq(NUM_PRIVATE + k)}: priority set, but the GIC has "
                              f"{n_irq} interrupt IDs (check --num-irqs or --machine)")
        if r.model.strip(b"\0"):
            self.impossible([labels.irq(k) for k in bitmaps.nonzero_positions(r.model)],
                            "the 11MPCore 'model' bit is set")
        if r.edge.translate(None, b"\x00\x01"):
            self.impossible([labels.irq(k) for k, v in enumerate(r.edge) if v > 1],
                            "edge_trigger is a bool but holds a value above 1")
        for name in ("enabled", "group"):
            vec = getattr(r, name)[NUM_PRIVATE:n_irq]
            if vec.translate(None, b"\x00\xff"):
                self.impossible([labels.irq(NUM_PRIVATE + k) for k, v in enumerate(vec)
                                 if v not in (0, 0xFF)],
                                f"the SPI {name} mask is neither 0x00 nor 0xff")
        for k in range(NUM_SGIS):
            if r.level[k]:
                self.impossible([labels.irq(k)], "an SGI has an input line level")

    def spi_priorities(self) -> None:
        sh = self.state.shared
        sh.priority = self.raw.priority2[:self.num_irqs - NUM_PRIVATE]
        sh.edge = bitmaps.nonzero(self.raw.edge[NUM_PRIVATE:self.num_irqs])
        sh.enabled = bitmaps.nonzero(self.raw.enabled[NUM_PRIVATE:self.num_irqs])
        sh.group = bitmaps.nonzero(self.raw.group[NUM_PRIVATE:self.num_irqs])

    def banked_common(self, c: int) -> tuple[int, int, int, int]:
        """(enabled, group, active, edge) banks of CPU c, and its priorities."""
        r = self.raw
        en, grp, act = (_bank(getattr(r, m), c) for m in ("enabled", "group", "active"))
        edge = _bank(r.edge, 0)
        b = self.state.banked[c]
        b.enabled, b.group, b.active, b.edge = en, grp, act, edge
        b.priority = r.priority1[c::NCPU][:NUM_PRIVATE]
        b.sgi_active_source = bytes(UNKNOWN_CPU if _bit(act, s) else 0 for s in range(NUM_SGIS))
        return en, grp, act, edge

    def sgi_sources(self, c: int) -> None:
        """SGI s pending on CPU c from the source set sgi_pending[s][c] (README "SGI
        sources"); irq_state[s].pending bit c must agree with it."""
        r, sources = self.raw, bytearray(NUM_SGIS)
        for s in range(NUM_SGIS):
            src = r.sgi_pending[s * NCPU + c]
            flag = _bit(r.pending[s], c)
            if src & ~self.cm:
                self.report.deviation(
                    "QEMU-SGI-SOURCE-ABSENT-CPU", [labels.irq(s, c)],
                    f"pending from sources {labels.cpus(src)}, but only CPUs "
                    f"{labels.cpus(self.cm)} exist (QEMU 7.2 deviation 5)",
                    "the sources of absent CPUs are dropped")
                src &= self.cm
                flag = flag and bool(src)
            if flag and not src:
                self.report.deviation(
                    "QEMU-SGI-PENDING-NO-SOURCE", [labels.irq(s, c)],
                    "marked pending with no source CPU (GICD_SPENDSGIR wrote a zero byte; "
                    "QEMU 7.2 deviation 16)", "not pending, as the architecture has it")
            elif src and not flag:
                self.impossible([labels.irq(s, c)],
                                f"sources {labels.cpus(src)} without the pending bit")
            sources[s] = src
        self.state.banked[c].sgi_sources = bytes(sources)

    def apr_levels(self, c: int) -> tuple[int, int]:
        return self.raw.apr_levels(c, self.raw.apr), self.raw.apr_levels(c, self.raw.nsapr)

    def distributor(self) -> None:
        raise NotImplementedError

    def spis(self) -> None:
        raise NotImplementedError

    def banked(self, c: int) -> None:
        raise NotImplementedError

    def cpu(self, c: int) -> None:
        raise NotImplementedError

    def ctlr(self, c: int) -> int:
        """GICC_CTLR of CPU c: QEMU 7.2's GICv2 keeps only bits 0x21f (deviation 10: the
        bypass disables read as zero), for the TCG model and through the KVM ABI alike."""
        ctlr: int = self.raw.cpu_ctlr[c]
        if ctlr & ~VCPU_CTLR_MASK:
            self.impossible([labels.cpu_reg(c, "gicc.ctlr")],
                            f"GICC_CTLR {ctlr:#x} sets bits outside {VCPU_CTLR_MASK:#x} "
                            "(bypass disables or reserved bits)")
        return ctlr


# --- the TCG GIC model ------------------------------------------------------------------------
class _Tcg(_Converter):
    """TCG's arm_gic: latch and line apart, per-CPU masks, 8-bit PMR, 128-level APRs."""

    def run(self) -> None:
        super().run()
        self.absent_cpus()
        if self.raw.virt:
            for c in range(self.n):
                self.virtual(c)
        self.caches()

    def distributor(self) -> None:
        if self.raw.ctlr & GICD_CTLR.reserved_mask:
            self.impossible([f"gicd.ctlr {self.raw.ctlr:#x}"], "reserved bits are set")
        self.state.enable_grp0 = bool(GICD_CTLR.field("enable_grp0").get(self.raw.ctlr))
        self.state.enable_grp1 = bool(GICD_CTLR.field("enable_grp1").get(self.raw.ctlr))

    def spis(self) -> None:
        r, n_irq, sh = self.raw, self.num_irqs, self.state.shared
        self.spi_priorities()
        level = r.level[NUM_PRIVATE:n_irq]
        if level.translate(None, b"\x00\xff"):
            self.impossible([labels.irq(NUM_PRIVATE + k) for k, v in enumerate(level)
                             if v not in (0, 0xFF)], "the SPI line level is neither 0x00 nor 0xff")
        sh.line_level = bitmaps.nonzero(level)
        sh.targets = self.spi_targets()
        pending = r.pending[NUM_PRIVATE:n_irq]
        target = r.target[NUM_PRIVATE:n_irq]
        partial = [NUM_PRIVATE + k for k in bitmaps.nonzero_positions(pending)
                   if pending[k] != target[k]]
        if partial:
            k = partial[0] - NUM_PRIVATE
            self.report.deviation(
                "QEMU-SPI-PENDING-PARTIAL", [labels.irq(i) for i in partial],
                f"pending on CPUs {labels.cpus(pending[k])} but targeting "
                f"{labels.cpus(target[k])}: QEMU 7.2 keeps SPI pending per target CPU "
                "(deviations 1 and 2); the architecture has one pending state",
                "pending (the OR of the per-CPU bits)")
        sh.pending_latch = bitmaps.nonzero(pending)
        self.spi_active(r.active[NUM_PRIVATE:n_irq])

    def spi_targets(self) -> bytes:
        target = self.raw.target[NUM_PRIVATE:self.num_irqs]
        allowed = self.cm if self.n > 1 else 1  # a uniprocessor GIC stores 1 (RAZ/WI)
        bad = [k for k in bitmaps.nonzero_positions(target.translate(_CPU_MASKED[0xFF & ~allowed]))]
        if bad:
            t = target[bad[0]]
            self.report.deviation(
                "QEMU-SPI-TARGET-ABSENT-CPU", [labels.irq(NUM_PRIVATE + k) for k in bad],
                f"ITARGETSR {t:#04x} names CPUs {labels.cpus(t & ~allowed)} that do not exist "
                "(architecturally RAZ/WI; QEMU 7.2 deviation 5)", "those bits are dropped")
        if self.n == 1:
            return b""
        return target.translate(_CPU_MASKED[self.cm])

    def spi_active(self, active: bytes) -> None:
        """ISACTIVER sets all 8 bits (CPU unknown), an acknowledge sets the CPU's own bit;
        any other set is a 7.2 artefact the architecture cannot express."""
        cpu = bytearray(len(active))
        absent = 0xFF & ~self.cm
        for k in bitmaps.nonzero_positions(active):
            a = active[k]
            place = [labels.irq(NUM_PRIVATE + k)]
            if a == 0xFF:
                cpu[k] = UNKNOWN_CPU
            elif a & (a - 1) == 0 and a & self.cm:
                cpu[k] = a.bit_length() - 1
            elif absent and a & absent == absent:
                self.report.deviation(
                    "QEMU-SPI-ACTIVE-PARTIAL", place,
                    f"active mask {a:#04x}: made active through GICD_ISACTIVER (all 8 "
                    f"bits) and then deactivated by CPU(s) {labels.cpus(~a & 0xFF)} (QEMU "
                    "7.2 deviation 17): still active for QEMU, inactive for the "
                    "architecture",
                    None)
            else:
                self.report.deviation(
                    "QEMU-SPI-ACTIVE-CPU-SET", place,
                    f"active mask {a:#04x} (CPUs {labels.cpus(a)}"
                    f"{', none of which exist' if not a & self.cm else ''}): an SPI is "
                    "active on one existing CPU, or, through GICD_ISACTIVER, on all 8 bits",
                    None)
        sh = self.state.shared
        sh.active = bitmaps.nonzero(active)
        sh.active_cpu = bytes(cpu)

    def banked(self, c: int) -> None:
        r = self.raw
        self.banked_common(c)
        latch, line = _bank(r.pending, c, NUM_SGIS), _bank(r.level, c, NUM_SGIS)
        b = self.state.banked[c]
        b.pending_latch, b.line_level = latch, line
        self.sgi_sources(c)

    def cpu(self, c: int) -> None:
        r, ci = self.raw, self.state.cpu[c]
        ci.ctlr, ci.pmr, ci.bpr, ci.abpr = self.ctlr(c), r.pmr[c], r.bpr[c], r.abpr[c]
        ci.active_group0, ci.active_group1 = self.apr_levels(c)

    def absent_cpus(self) -> None:
        """State that QEMU 7.2 deviations put into the slots of CPUs that do not exist."""
        r, absent = self.raw, 0xFF & ~self.cm
        sgis = []
        if r.pending[:NUM_SGIS].translate(_CPU_MASKED[absent]).strip(b"\0") or any(
                r.sgi_pending[c::NCPU].strip(b"\0") for c in range(self.n, NCPU)):
            sgis = [labels.irq(s, c) for s in range(NUM_SGIS) for c in range(self.n, NCPU)
                    if _bit(r.pending[s], c) or r.sgi_pending[s * NCPU + c]]
        if sgis:
            self.report.deviation(
                "QEMU-SGI-PENDING-ABSENT-CPU", sgis,
                "an SGI is pending on a CPU that does not exist (target lists or the "
                "'all but self' filter name absent CPUs; QEMU 7.2 deviation 5)", "dropped")
        ppis = [labels.irq(i, c) for i in bitmaps.nonzero_positions(
            r.pending[:NUM_PRIVATE].translate(_CPU_MASKED[absent])) if i >= NUM_SGIS
            for c in range(self.n, NCPU) if _bit(r.pending[i], c)]
        if ppis:
            self.report.deviation(
                "QEMU-PPI-PENDING-ABSENT-CPU", ppis,
                "a PPI is pending on a CPU that does not exist (GICD_ISPENDR is not banked "
                "for PPIs in QEMU 7.2, deviation 3)", "dropped")
        reset = 1 if self.n == 1 else 0
        written = [] if r.target[:NUM_PRIVATE] == bytes([reset]) * NUM_PRIVATE else [
            labels.irq(i) for i in range(NUM_PRIVATE) if r.target[i] != reset]
        if written:
            i = next(i for i in range(NUM_PRIVATE) if r.target[i] != reset)
            self.report.deviation(
                "QEMU-PPI-TARGETS-WRITTEN", written,
                f"QEMU stored {r.target[i]:#04x} from a write to the read-only ITARGETSR0-7; "
                "for a PPI, GICD_ISPENDR then pends it on those CPUs (deviation 3); for an "
                "SGI the byte is unused",
                "ignored (not architectural state)")

    # --- the virtual interface (arm_gic_virt_state) -------------------------------------------
    def virtual(self, c: int) -> None:
        r, v = self.raw, self.state.virtual[c]
        lrs = [r.lr(n, c) for n in range(QEMU_NUM_LRS)]
        if r.lr(QEMU_NUM_LRS, c):
            self.report.deviation(
                "QEMU-LR4-WRITTEN", [labels.cpu_reg(c, f"gich.lr{QEMU_NUM_LRS}")],
                f"{r.lr(QEMU_NUM_LRS, c):#010x} stored in the list register one past the "
                f"{QEMU_NUM_LRS} implemented (QEMU 7.2 deviation 12)", "dropped")
        beyond = [] if not any(r.h_lr[(QEMU_NUM_LRS + 1) * NCPU + c::NCPU]) else [
            n for n in range(QEMU_NUM_LRS + 1, 64) if r.lr(n, c)]
        if beyond:
            self.impossible([labels.cpu_reg(c, f"gich.lr{n}") for n in beyond],
                            "a list register beyond LR4 holds data")
        for n, lr in enumerate(lrs):
            if not _LR_HW.get(lr) and lr & _LR_KEPT_RESERVED:
                self.report.deviation(
                    "QEMU-LR-RESERVED-BITS", [labels.cpu_reg(c, f"gich.lr{n}")],
                    f"{lr:#010x} keeps reserved bits {lr & _LR_KEPT_RESERVED:#x} of an HW=0 "
                    "LR (QEMU 7.2 masks LRs with the HW=1 layout)", "those bits are cleared")
                lrs[n] = lr & ~_LR_KEPT_RESERVED
        v.hcr, v.apr, v.lr = r.h_hcr[c], r.h_apr[c], tuple(lrs)
        v.vmcr = self.vmcr(c)

    def vmcr(self, c: int) -> int:
        """GICH_VMCR as QEMU reads it back, from the vCPU slot (README "Virtual interface")."""
        r = self.raw
        ctlr, pmr, bpr, abpr = r.v_ctlr[c], r.v_pmr[c], r.v_bpr[c], r.v_abpr[c]
        place = [labels.cpu_reg(c, "gicv")]
        if ctlr & ~VCPU_CTLR_MASK or pmr > 0xFF or pmr & ((1 << _VMPRI_SHIFT) - 1) \
                or bpr > 7 or abpr > 7:
            self.impossible(place, f"vCPU CTLR {ctlr:#x} / PMR {pmr:#x} / BPR {bpr} / ABPR "
                                   f"{abpr} do not fit GICH_VMCR")
        if abpr < _VMCR_MIN_ABP:
            self.report.deviation(
                "QEMU-VCPU-ABPR-BELOW-MIN", place,
                f"GICV_ABPR is {abpr}, below the minimum {_VMCR_MIN_ABP} (a GICV_ABPR write "
                "clamps to 1 in QEMU 7.2, deviation 11)",
                f"raised to {_VMCR_MIN_ABP}, as a GICH_VMCR write does")
            abpr = _VMCR_MIN_ABP
        return vmcr_of(ctlr, pmr, bpr, abpr)

    # --- QEMU's caches --------------------------------------------------------------------------
    def caches(self) -> None:
        for c in range(self.n):
            for name, stored, derived in self.cache_values(c):
                if stored != derived:
                    self.report.deviation(
                        "QEMU-CACHE-MISMATCH", [labels.cpu_reg(c, name)],
                        f"QEMU's cached value is {stored}, its own rules give {derived}",
                        "ignored: gicmig does not store QEMU's caches and recomputes them")

    def cache_values(self, c: int) -> Iterator[tuple[str, int, int]]:
        r = self.raw
        g0, g1 = self.apr_levels(c)
        yield "running_priority", r.running[c], _running(g0 | g1, 1)
        yield "current_pending", r.current[c], self.current_pending(c)
        if not r.virt:
            return
        if r.v_abpr[c] >= _VMCR_MIN_ABP:  # deviation 11 lets QEMU keep finer priorities
            yield "vcpu running_priority", r.v_running[c], _running(r.h_apr[c], 3)
        lrs = [r.lr(n, c) for n in range(QEMU_NUM_LRS)]
        yield "vcpu current_pending", r.v_current[c], _best_virq(r, c, lrs)
        vmcr = vmcr_of(r.v_ctlr[c] & VCPU_CTLR_MASK, 0, 0, 0)  # MISR reads its enables
        yield "gich.misr", r.h_misr[c], status_registers(r.h_hcr[c], vmcr, lrs)["misr"]

    def current_pending(self, c: int) -> int:
        """gic_update's choice for CPU c. On a GIC with virtualization extensions a virtual
        EOI of a HW=1 LR deactivates the physical interrupt without updating this cache
        (deviation 19): then the stored ID may be the choice made while such interrupts
        were still active, which is accepted."""
        r = self.raw
        stored = r.current[c]
        derived = best_pending(r, c, self.num_irqs)
        if stored != derived and r.virt and r.ctlr & 3 and r.cpu_ctlr[c] & 3:
            eligible = self.eligible(c)
            stale_ok = [e for e in eligible if e[0] < r.pmr[c]]
            rank = next((e for e in stale_ok if e[1] == stored), None)
            if (rank is not None or stored == SPURIOUS) and all(
                    e[1] >= NUM_SGIS for e in stale_ok if rank is None or e < rank):
                return stored
        return derived

    def eligible(self, c: int) -> list[tuple[int, int]]:
        return eligible(self.raw, c, self.num_irqs)


def best_pending(r: RawImage, c: int, num_irqs: int) -> int:
    """gic_update's choice for CPU c (QEMU 7.2 gic_update_internal, physical interface):
    the lowest-priority-value eligible interrupt, the lowest ID among equals, if the
    distributor and the CPU interface signal a group and it beats PMR; else 1023."""
    if not (r.ctlr & 3 and r.cpu_ctlr[c] & 3):
        return SPURIOUS
    best = min(eligible(r, c, num_irqs), default=(0x100, SPURIOUS))
    return best[1] if best[0] < r.pmr[c] else SPURIOUS


def eligible(r: RawImage, c: int, n: int) -> list[tuple[int, int]]:
    """(priority, ID) of every interrupt gic_get_best_irq considers for CPU c."""
    table = _CPU_BIT[c]

    def bits(masks: bytes) -> int:  # byte i = bit c of ID i's mask
        return int.from_bytes(masks[:n].translate(table), "little")

    edge = int.from_bytes(r.edge[:n], "little")
    targeted = bits(r.target) | _PRIVATE_ONES
    pending = bits(r.pending) | (bits(r.level) & ~edge)
    found = (bits(r.enabled) & ~bits(r.active) & pending & targeted).to_bytes(n, "little")
    out = []
    i = found.find(1)
    while i >= 0:
        prio = r.priority1[i * NCPU + c] if i < NUM_PRIVATE else r.priority2[i - NUM_PRIVATE]
        out.append((prio, i))
        i = found.find(1, i + 1)
    return out


def _running(levels: int, shift: int) -> int:
    """gic_get_prio_from_apr_bits: the lowest active level, shifted to a priority."""
    if not levels:
        return IDLE_PRIORITY
    return ((levels & -levels).bit_length() - 1) << shift


def _best_virq(r: RawImage, c: int, lrs: list[int]) -> int:
    """gic_update_internal(virt): the first pending LR of the lowest priority below PMR."""
    if not (_EN.get(r.h_hcr[c]) and r.v_ctlr[c] & 3):
        return SPURIOUS
    best = (0x100, SPURIOUS)
    for lr in lrs:
        if LR_STATES[_LR_STATE.get(lr)] == "pending":
            prio = _LR_PRIORITY.get(lr) << _VMPRI_SHIFT
            if prio < best[0]:
                best = (prio, _LR_VID.get(lr))
    return best[1] if best[0] < r.v_pmr[c] else SPURIOUS


# --- kvm-arm-gic ------------------------------------------------------------------------------
class _Kvm(_Converter):
    """kvm-arm-gic: the section is the KVM device ABI's view (gic-domain §5.5): pending is
    latch OR line with `level` 0, SPI masks 0x00/0xff, PMR is VMPriMask, APR0 is the
    GICH_APR image, one distributor enable. What that view cannot say is UNKNOWN."""

    def run(self) -> None:
        self.evidence()
        super().run()

    def mismatch(self, places: list[str], what: str) -> None:
        self.report.deviation("QEMU-ACCEL-MISMATCH", places,
                              f"{what}, which kvm-arm-gic never writes: was the stream written "
                              "by the TCG GIC (--accel tcg)?", None)

    def evidence(self) -> None:
        r, n_irq = self.raw, self.num_irqs
        if r.virt:
            self.mismatch(["arm_gic_virt_state"], "the virtualization subsection is present")
        if r.ctlr & ~KVM_GICD_CTLR.defined_mask:
            self.mismatch([f"gicd.ctlr {r.ctlr:#x}"], "bits beyond Enable are set")
        if any(r.level):
            self.mismatch([labels.irq(next(k for k, v in enumerate(r.level) if v))],
                          "an input line level is recorded")
        for name in ("pending", "active"):
            vec = getattr(r, name)[NUM_PRIVATE:n_irq]
            if vec.translate(None, b"\x00\xff"):
                k = next(k for k, v in enumerate(vec) if v not in (0, 0xFF))
                self.mismatch([labels.irq(NUM_PRIVATE + k)],
                              f"the SPI {name} mask is {vec[k]:#04x}, not 0x00/0xff")
        for c in range(self.n):
            if r.pmr[c] >> (8 - KVM_PMR_SHIFT):
                self.mismatch([labels.cpu_reg(c, "gicc.pmr")],
                              f"priority_mask {r.pmr[c]:#x} is wider than VMPriMask's 5 bits")
            upper = r.apr_levels(c, r.apr) >> 32
            if upper or r.apr_levels(c, r.nsapr):
                self.mismatch([labels.cpu_reg(c, "gicc.apr")],
                              "GICC_APR1-3 or NSAPR hold bits (KVM's APR is GICH_APR in APR0)")

    def distributor(self) -> None:
        st = self.state
        st.enable_grp0 = bool(KVM_GICD_CTLR.field("enabled").get(self.raw.ctlr))
        st.enable_grp1, st.enable_grp1_unknown = False, True

    def spis(self) -> None:
        r, n_irq, sh = self.raw, self.num_irqs, self.state.shared
        self.spi_priorities()
        pending = bitmaps.nonzero(r.pending[NUM_PRIVATE:n_irq])
        level = ~bitmaps.nonzero(r.edge[NUM_PRIVATE:n_irq])
        sh.pending_latch = pending
        sh.pending_split_unknown = pending & level
        active = r.active[NUM_PRIVATE:n_irq]
        sh.active = bitmaps.nonzero(active)
        sh.latch_maybe_stale = maybe_stale_latch(pending, sh.active, ~level)
        sh.active_cpu = active.translate(b"\x00" + bytes([UNKNOWN_CPU]) * 255)
        target = r.target[NUM_PRIVATE:n_irq]
        sh.targets = b"" if self.n == 1 else target

    def banked(self, c: int) -> None:
        r = self.raw
        _, _, _, edge = self.banked_common(c)
        latch = _bank(r.pending, c, NUM_SGIS)
        b = self.state.banked[c]
        b.pending_latch = latch
        b.pending_split_unknown = latch & ~edge
        b.latch_maybe_stale = maybe_stale_latch(latch, b.active, edge)
        self.sgi_sources(c)

    def cpu(self, c: int) -> None:
        r, ci = self.raw, self.state.cpu[c]
        ci.ctlr, ci.pmr = self.ctlr(c), r.pmr[c] << KVM_PMR_SHIFT
        # QEMU's reset values (BPR 0 / ABPR 1) pushed into a KVM vCPU that never ran: the
        # guest observes the minima (gicmig.abi.kvm); reported in strict mode too
        ci.bpr, ci.abpr, norm = never_run_binary_points(r.bpr[c], r.abpr[c],
                                                        labels.cpu_reg(c, "gicc"))
        if norm is not None:
            self.report.items.append((norm.code, f"{norm.path}: {norm.message}"))
        apr0 = r.apr[c]  # GICH_APR image: bit n = group priority n << 3 = level 4n
        ci.active_group_unknown = bitmaps.stretch(apr0 & (1 << KVM_APR_LEVELS) - 1,
                                                  APR_LEVELS // KVM_APR_LEVELS)
