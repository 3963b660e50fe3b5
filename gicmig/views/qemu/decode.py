"""The `arm_gic` section as both encodings read it: the raw fields decoded once (`Raw`),
the report of deviations, and the conversion steps the TCG model and kvm-arm-gic share."""

from __future__ import annotations

from gicmig.arch import bitmaps, labels
from gicmig.arch.gich import VCPU_CTLR_MASK
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.errors import DecodeError, Violation
from gicmig.views.qemu.model import IDLE_PRIORITY
from gicmig.views.qemu.raw import RawImage, apr_levels
from gicmig.views.qemu.vmstate import NCPU, ArmGicSection


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
        return apr_levels(words, c)

    def slot_zero(self, c: int) -> bool:
        """Whether every per-CPU field of slot c is zero (how QEMU leaves absent CPUs)."""
        if (self.cpu_ctlr[c] or self.pmr[c] or self.running[c] or self.current[c]
                or self.bpr[c] or self.abpr[c] or any(self.apr[c::NCPU])
                or any(self.nsapr[c::NCPU])):
            return False
        if not self.virt:
            return True
        return not (self.h_hcr[c] or self.h_misr[c] or self.h_apr[c] or self.v_ctlr[c]
                    or self.v_pmr[c] or self.v_running[c] or self.v_current[c]
                    or self.v_bpr[c] or self.v_abpr[c] or any(self.h_lr[c::NCPU]))

    def present(self, c: int, accel: str) -> bool:
        """The mark of a CPU the GIC has: TCG clamps ABPR to >= 1 from reset on; with KVM,
        running_priority keeps QEMU's reset value 0x100 (it is never transferred)."""
        return self.abpr[c] != 0 if accel == "tcg" else self.running[c] == IDLE_PRIORITY


# --- reporting deviations ---------------------------------------------------------------------
class Report:
    """Strict mode raises at the first deviation; lenient mode fixes the benign ones."""

    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.items: list[Violation] = []

    def deviation(self, code: str, places: list[str], what: str, fix: str | None) -> None:
        """`places` show the deviation (at least one); `fix` is what lenient mode does, or
        None when the deviation cannot be normalized."""
        more = f" (and {len(places) - 1} more)" if len(places) > 1 else ""
        message = f"{places[0]}{more}: {what}"
        if fix is not None and self.lenient:
            self.items.append(Violation(code, f"{places[0]}{more}", f"{what}; {fix}"))
            return
        hint = f" (--lenient: {fix})" if fix is not None else ""
        raise DecodeError(code, message + hint)


_ONE_IS_ZERO = b"\x00\x00" + bytes(range(2, 256))


def bank_mask(masks: bytes, c: int, first: int = 0) -> int:
    """Bit c of the CPU masks of IDs first..31, as a bank (bit i = ID i)."""
    return bitmaps.nonzero(masks[first:NUM_PRIVATE].translate(CPU_BIT[c])) << first


CPU_BIT = [bytes(b >> c & 1 for b in range(256)) for c in range(NCPU)]
CPU_MASKED = [bytes(b & m for b in range(256)) for m in range(256)]  # byte -> byte & m
PRIVATE_ONES = int.from_bytes(b"\x01" * NUM_PRIVATE, "little")  # private IDs: always targeted


def cpu_bit(mask: int, c: int) -> int:
    return (mask >> c) & 1


# --- shared by both encodings -----------------------------------------------------------------
class Converter:
    def __init__(self, raw: Raw, state: GicState, report: Report) -> None:
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
        en, grp, act = (bank_mask(getattr(r, m), c) for m in ("enabled", "group", "active"))
        edge = bank_mask(r.edge, 0)
        b = self.state.banked[c]
        b.enabled, b.group, b.active, b.edge = en, grp, act, edge
        b.priority = r.priority1[c::NCPU][:NUM_PRIVATE]
        b.sgi_active_source = bytes(UNKNOWN_CPU if cpu_bit(act, s) else 0 for s in range(NUM_SGIS))
        return en, grp, act, edge

    def sgi_sources(self, c: int) -> None:
        """SGI s pending on CPU c from the source set sgi_pending[s][c] (README "SGI
        sources"); irq_state[s].pending bit c must agree with it."""
        r, sources = self.raw, bytearray(NUM_SGIS)
        for s in range(NUM_SGIS):
            src = r.sgi_pending[s * NCPU + c]
            flag = cpu_bit(r.pending[s], c)
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
