"""The TCG GIC model's `arm_gic` section -> canonical state, and QEMU 7.2's own rules for
the caches it stores (`gic_update_internal`, `gic_get_prio_from_apr_bits`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from gicmig.arch import bitmaps, labels
from gicmig.arch.gich import status_registers, vmcr_holds, vmcr_of
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.lr import decode as decode_lr
from gicmig.arch.registers import GICC_CTLR, GICD_CTLR
from gicmig.core.model import UNKNOWN_CPU
from gicmig.views.qemu.decode import (
    CPU_BIT,
    CPU_MASKED,
    PRIVATE_ONES,
    Converter,
    bank_mask,
    cpu_bit,
)
from gicmig.views.qemu.model import (
    HCR_EN,
    IDLE_PRIORITY,
    LR_HW,
    LR_KEPT_RESERVED,
    QEMU_NUM_LRS,
    SPURIOUS,
    VMCR_MIN_ABP,
)
from gicmig.views.qemu.raw import RawImage
from gicmig.views.qemu.vmstate import NCPU

_ENABLE_GRP0, _ENABLE_GRP1 = GICD_CTLR.field("enable_grp0"), GICD_CTLR.field("enable_grp1")
# a distributor / CPU interface signals interrupts when either group is enabled
_DIST_GROUPS = _ENABLE_GRP0.mask | _ENABLE_GRP1.mask
_CPU_GROUPS = GICC_CTLR.field("enable_grp0").mask | GICC_CTLR.field("enable_grp1").mask


# --- the TCG GIC model ------------------------------------------------------------------------
class TcgModel(Converter):
    """TCG's arm_gic: latch and line apart, per-CPU masks, 8-bit PMR, 128-level APRs."""

    def run(self) -> None:
        self.vmcrs: dict[int, int] = {}  # GICH_VMCR per vCPU, for the MISR check
        super().run()
        self.absent_cpus()
        if self.raw.virt:
            for c in range(self.n):
                self.virtual(c)
        self.caches()

    def distributor(self) -> None:
        if self.raw.ctlr & GICD_CTLR.reserved_mask:
            self.impossible([f"gicd.ctlr {self.raw.ctlr:#x}"], "reserved bits are set")
        self.state.enable_grp0 = bool(_ENABLE_GRP0.get(self.raw.ctlr))
        self.state.enable_grp1 = bool(_ENABLE_GRP1.get(self.raw.ctlr))

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
        bad = [k for k in bitmaps.nonzero_positions(target.translate(CPU_MASKED[0xFF & ~allowed]))]
        if bad:
            t = target[bad[0]]
            self.report.deviation(
                "QEMU-SPI-TARGET-ABSENT-CPU", [labels.irq(NUM_PRIVATE + k) for k in bad],
                f"ITARGETSR {t:#04x} names CPUs {labels.cpus(t & ~allowed)} that do not exist "
                "(architecturally RAZ/WI; QEMU 7.2 deviation 5)", "those bits are dropped")
        if self.n == 1:
            return b""
        return target.translate(CPU_MASKED[self.cm])

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
        latch, line = bank_mask(r.pending, c, NUM_SGIS), bank_mask(r.level, c, NUM_SGIS)
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
        if r.pending[:NUM_SGIS].translate(CPU_MASKED[absent]).strip(b"\0") or any(
                r.sgi_pending[c::NCPU].strip(b"\0") for c in range(self.n, NCPU)):
            sgis = [labels.irq(s, c) for s in range(NUM_SGIS) for c in range(self.n, NCPU)
                    if cpu_bit(r.pending[s], c) or r.sgi_pending[s * NCPU + c]]
        if sgis:
            self.report.deviation(
                "QEMU-SGI-PENDING-ABSENT-CPU", sgis,
                "an SGI is pending on a CPU that does not exist (target lists or the "
                "'all but self' filter name absent CPUs; QEMU 7.2 deviation 5)", "dropped")
        ppis = [labels.irq(i, c) for i in bitmaps.nonzero_positions(
            r.pending[:NUM_PRIVATE].translate(CPU_MASKED[absent])) if i >= NUM_SGIS
                for c in range(self.n, NCPU) if cpu_bit(r.pending[i], c)]
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
        lrs = list(r.h_lr[c:QEMU_NUM_LRS * NCPU:NCPU])  # LR n of vCPU c is [n * NCPU + c]
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
            if not LR_HW.get(lr) and lr & LR_KEPT_RESERVED:
                self.report.deviation(
                    "QEMU-LR-RESERVED-BITS", [labels.cpu_reg(c, f"gich.lr{n}")],
                    f"{lr:#010x} keeps reserved bits {lr & LR_KEPT_RESERVED:#x} of an HW=0 "
                    "LR (QEMU 7.2 masks LRs with the HW=1 layout)", "those bits are cleared")
                lrs[n] = lr & ~LR_KEPT_RESERVED
        v.hcr, v.apr, v.lr = r.h_hcr[c], r.h_apr[c], tuple(lrs)
        v.vmcr = self.vmcrs[c] = self.vmcr(c)

    def vmcr(self, c: int) -> int:
        """GICH_VMCR as QEMU reads it back, from the vCPU slot (README "Virtual interface")."""
        r = self.raw
        ctlr, pmr, bpr, abpr = r.v_ctlr[c], r.v_pmr[c], r.v_bpr[c], r.v_abpr[c]
        place = [labels.cpu_reg(c, "gicv")]
        if not vmcr_holds(ctlr, pmr, bpr, abpr):
            self.impossible(place, f"vCPU CTLR {ctlr:#x} / PMR {pmr:#x} / BPR {bpr} / ABPR "
                            f"{abpr} do not fit GICH_VMCR")
        if abpr < VMCR_MIN_ABP:
            self.report.deviation(
                "QEMU-VCPU-ABPR-BELOW-MIN", place,
                f"GICV_ABPR is {abpr}, below the minimum {VMCR_MIN_ABP} (a GICV_ABPR write "
                "clamps to 1 in QEMU 7.2, deviation 11)",
                f"raised to {VMCR_MIN_ABP}, as a GICH_VMCR write does")
            abpr = VMCR_MIN_ABP
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
        yield "running_priority", r.running[c], running_priority(g0 | g1, 1)
        yield "current_pending", r.current[c], self.current_pending(c)
        if not r.virt:
            return
        if r.v_abpr[c] >= VMCR_MIN_ABP:  # deviation 11 lets QEMU keep finer priorities
            yield "vcpu running_priority", r.v_running[c], running_priority(r.h_apr[c], 3)
        lrs = r.h_lr[c:QEMU_NUM_LRS * NCPU:NCPU]  # as stored (before any lenient fix)
        yield "vcpu current_pending", r.v_current[c], best_virq(r, c, lrs)
        # the VMCR `virtual` made: MISR reads only its group enables, which are GICV_CTLR's
        misr = status_registers(r.h_hcr[c], self.vmcrs[c], lrs)["misr"]
        yield "gich.misr", r.h_misr[c], misr

    def current_pending(self, c: int) -> int:
        """gic_update's choice for CPU c. On a GIC with virtualization extensions a virtual
        EOI of a HW=1 LR deactivates the physical interrupt without updating this cache
        (deviation 19): then the stored ID may be the choice made while such interrupts
        were still active, which is accepted."""
        r = self.raw
        stored = r.current[c]
        derived = best_pending(r, c, self.num_irqs)
        if stored != derived and r.virt and r.ctlr & _DIST_GROUPS and r.cpu_ctlr[c] & _CPU_GROUPS:
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
    if not (r.ctlr & _DIST_GROUPS and r.cpu_ctlr[c] & _CPU_GROUPS):
        return SPURIOUS
    best = min(eligible(r, c, num_irqs), default=(IDLE_PRIORITY, SPURIOUS))
    return best[1] if best[0] < r.pmr[c] else SPURIOUS


def eligible(r: RawImage, c: int, n: int) -> list[tuple[int, int]]:
    """(priority, ID) of every interrupt gic_get_best_irq considers for CPU c."""
    table = CPU_BIT[c]

    def bits(masks: bytes) -> int:  # byte i = bit c of ID i's mask
        return int.from_bytes(masks[:n].translate(table), "little")

    edge = int.from_bytes(r.edge[:n], "little")
    targeted = bits(r.target) | PRIVATE_ONES
    pending = bits(r.pending) | (bits(r.level) & ~edge)
    found = (bits(r.enabled) & ~bits(r.active) & pending & targeted).to_bytes(n, "little")
    out = []
    i = found.find(1)
    while i >= 0:
        prio = r.priority1[i * NCPU + c] if i < NUM_PRIVATE else r.priority2[i - NUM_PRIVATE]
        out.append((prio, i))
        i = found.find(1, i + 1)
    return out


def running_priority(levels: int, shift: int) -> int:
    """gic_get_prio_from_apr_bits: the lowest active level, shifted to a priority."""
    if not levels:
        return IDLE_PRIORITY
    return bitmaps.lowest(levels) << shift


def best_virq(r: RawImage, c: int, lrs: Sequence[int]) -> int:
    """gic_update_internal(virt): the first pending LR of the lowest priority below PMR."""
    if not (HCR_EN.get(r.h_hcr[c]) and r.v_ctlr[c] & _CPU_GROUPS):
        return SPURIOUS
    best = (IDLE_PRIORITY, SPURIOUS)
    for lr in map(decode_lr, filter(None, lrs)):  # a zero LR is invalid: never pending
        if lr.pending and not lr.active and lr.priority < best[0]:
            best = (lr.priority, lr.virtual_id)
    return best[1] if best[0] < r.v_pmr[c] else SPURIOUS
