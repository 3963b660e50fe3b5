"""A canonical state as the TCG GIC model's `arm_gic` arrays: what that model can hold
(`fit_tcg`), and its image, including the caches QEMU 7.2 stores, computed by its own
rules."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import replace

from gicmig.arch import bitmaps, labels
from gicmig.arch.gich import VCPU_CTLR_MASK, ctlr_of_vmcr, status_registers
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS, SGI_MASK
from gicmig.arch.registers import (
    GICC_CTLR,
    GICD_CTLR,
    GICH_HCR,
    GICH_VMCR,
)
from gicmig.core.config import GicConfig
from gicmig.core.irqtable import IrqTable, PrivateBank, SharedBank
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.core.rules import validate
from gicmig.errors import ValidationError, Violation
from gicmig.views.qemu.model import (
    QEMU_NUM_LRS,
    VIRT_PRIORITY_BITS,
    VMPRI_SHIFT,
)
from gicmig.views.qemu.raw import RawImage, apr_words
from gicmig.views.qemu.tcg import best_pending, best_virq, running_priority
from gicmig.views.qemu.vmstate import (
    MAXIRQ,
    NCPU,
)

MAINTENANCE_PPI = 25  # virt board: GICH maintenance interrupt -> PPI 25 of each CPU
_PRIVATE = (1 << NUM_PRIVATE) - 1


class QemuUnrepresentable(ValidationError):
    """A state the destination QEMU cannot hold (strict export); `.violations` lists why."""


def _rebased(state: GicState, config: GicConfig) -> GicState:
    """A copy of `state` with the destination's parameters."""
    out = state.copy()
    out._pb.config.CopyFrom(config._pb)
    return out


# --- what the TCG GIC can hold ----------------------------------------------------------------
def fit_tcg(state: GicState, config: GicConfig, *,
            lenient: bool = False) -> tuple[GicState, list[Violation]]:
    """A copy of `state` as QEMU's TCG GIC (`config`) holds it, and the losses on the way.
    Strict mode raises `QemuUnrepresentable` if there is any loss."""
    fitted = _rebased(state, config)
    losses = list(_fit_tcg(fitted))
    if losses and not lenient:
        raise QemuUnrepresentable(losses)
    validate(fitted)
    return fitted, losses


def _v(code: str, where: str, message: str) -> Violation:
    return Violation(code, where, message)


def _fit_tcg(st: GicState) -> Iterator[Violation]:
    if st.hypervisor is not None:
        st.drop_hypervisor_context()
        yield _v("QEMU-EXPORT-HYPERVISOR-CONTEXT", "hypervisor",
                 "hypervisor context (HW mappings, GICH_HCR, EOI maintenance) has no place "
                 "in a QEMU stream (lenient: dropped)")
    if st.enable_grp1_unknown:
        yield _v("QEMU-EXPORT-UNKNOWN", "gicd.ctlr",
                 "EnableGrp1 is UNKNOWN (the source had one distributor enable); the TCG GIC "
                 f"keeps both (lenient: EnableGrp1 = EnableGrp0 = {int(st.enable_grp0)})")
        st.enable_grp1, st.enable_grp1_unknown = st.enable_grp0, False
    table = IrqTable.of(st)  # every interrupt read once; the fitted banks go back in one write
    private = list(table.private)
    ppi_edge = private[0].edge & ~SGI_MASK
    for c in st.cpus():
        private[c] = yield from _fit_banked(st, private[c], c, ppi_edge)
        yield from _fit_cpu(st, c)
    shared = yield from _fit_shared(table.shared, st.config.num_cpus)
    IrqTable(tuple(private), shared).write_to(st, since=table)


def _fit_banked(st: GicState, b: PrivateBank, c: int,
                ppi_edge: int) -> Generator[Violation, None, PrivateBank]:
    enabled, edge, split, stale = b.enabled, b.edge, b.pending_split_unknown, b.latch_maybe_stale
    src, line = b.sgi_active_source, b.line_level
    off = SGI_MASK & ~enabled
    if off:
        yield _v("QEMU-EXPORT-SGI-DISABLED", labels.irq(bitmaps.lowest(off), c),
                 f"disabled ({bin(off).count('1')} SGIs of this CPU); the TCG GIC's SGI "
                 "enables are RAO/WI (lenient: enabled)")
        enabled |= SGI_MASK
    diff = (edge ^ ppi_edge) & ~SGI_MASK & _PRIVATE
    if diff:
        k = bitmaps.lowest(diff)
        yield _v("QEMU-EXPORT-PPI-TRIGGER-BANKED", labels.irq(k, c),
                 f"{'edge' if edge >> k & 1 else 'level'}-triggered here but not on CPU 0; "
                 "QEMU 7.2 keeps one trigger per PPI for all CPUs (deviation 4) "
                 "(lenient: CPU 0's)")
        edge = (edge & SGI_MASK) | ppi_edge
    if split:
        k = bitmaps.lowest(split)
        yield _v("QEMU-EXPORT-UNKNOWN", labels.irq(k, c),
                 "pending with the latch/line split UNKNOWN; the TCG GIC keeps them apart "
                 "(lenient: pending latch, as kvm-arm-gic restores it)")
        split = 0
    if stale:
        yield _stale(labels.irq(bitmaps.lowest(stale), c))
        stale = 0
    known = [s for s in range(NUM_SGIS) if b.active >> s & 1 and src[s] != UNKNOWN_CPU]
    if known:
        yield _v("QEMU-EXPORT-ACTIVE-SGI-SOURCE", labels.irq(known[0], c),
                 f"active from CPU {src[known[0]]}; QEMU does not store the source of an "
                 "active SGI (lenient: source UNKNOWN)")
        unknown = bytearray(src)
        for s in known:
            unknown[s] = UNKNOWN_CPU
        src = bytes(unknown)
    virt = st.config.virtualization
    if virt is not None:
        level = _maintenance_line(st, c)
        if (line >> MAINTENANCE_PPI & 1) != level:
            yield _v("QEMU-EXPORT-MAINTENANCE-LEVEL", labels.irq(MAINTENANCE_PPI, c),
                     f"line level {1 - level}, but the CPU's GICH (HCR.En and MISR) drives "
                     f"the maintenance interrupt to {level} (lenient: {level})")
            line = line & ~(1 << MAINTENANCE_PPI) | level << MAINTENANCE_PPI
    return replace(b, enabled=enabled, edge=edge, pending_split_unknown=split,
                   latch_maybe_stale=stale, sgi_active_source=src, line_level=line)


def _stale(place: str) -> Violation:
    return _v("QEMU-EXPORT-UNKNOWN", place,
              "active and latched with the latch marked maybe-stale (a KVM source cannot "
              "tell its stale latch from a new one); the TCG GIC holds a latch exactly "
              "(lenient: a latch)")


def _maintenance_line(st: GicState, c: int) -> int:
    """gic_update_maintenance: HCR.En && MISR != 0, MISR by QEMU's gic_compute_misr."""
    v = st.virtual[c]
    misr = _misr(v.hcr, v.vmcr, v.lr)
    return int(bool(GICH_HCR.field("en").get(v.hcr)) and misr != 0)


def _fit_cpu(st: GicState, c: int) -> Iterator[Violation]:
    ci = st.cpu[c]
    extra = ci.ctlr & ~VCPU_CTLR_MASK
    if extra:
        yield _v("QEMU-EXPORT-CTLR-BITS", labels.cpu_reg(c, "gicc.ctlr"),
                 f"{ci.ctlr:#x} sets {', '.join(GICC_CTLR.flags(extra))}, which QEMU 7.2's GICv2 "
                 "reads as zero (deviation 10) (lenient: dropped)")
        ci.ctlr &= VCPU_CTLR_MASK
    if ci.active_group_unknown:
        levels = labels.group_priorities(ci.active_group_unknown)
        yield _v("QEMU-EXPORT-UNKNOWN", labels.cpu_reg(c, "gicc.active_priorities"),
                 f"active priorities {', '.join(levels)} of UNKNOWN group; the TCG GIC keeps "
                 "GICC_APRn (group 0) and GICC_NSAPRn (group 1) apart (lenient: group 0)")
        ci.active_group0 |= ci.active_group_unknown
        ci.active_group_unknown = 0


def _fit_shared(sh: SharedBank, n: int) -> Generator[Violation, None, SharedBank]:
    split, stale, latch = sh.pending_split_unknown, sh.latch_maybe_stale, sh.pending_latch
    if split:
        k = bitmaps.lowest(split)
        yield _v("QEMU-EXPORT-UNKNOWN", labels.irq(NUM_PRIVATE + k),
                 "pending with the latch/line split UNKNOWN; the TCG GIC keeps them apart "
                 "(lenient: pending latch, as kvm-arm-gic restores it)")
        split = 0
    if stale:
        yield _stale(labels.irq(NUM_PRIVATE + bitmaps.lowest(stale)))
        stale = 0
    if n > 1 and latch:
        untargeted = latch & ~bitmaps.nonzero(sh.targets)
        if untargeted:
            k = bitmaps.lowest(untargeted)
            yield _v("QEMU-EXPORT-SPI-PENDING-NO-TARGET", labels.irq(NUM_PRIVATE + k),
                     f"pending (latch) with no target CPU ({bin(untargeted).count('1')} SPIs); "
                     "QEMU 7.2 keeps SPI pending state per target CPU, so it cannot hold it "
                     "(deviation 2) (lenient: not pending)")
            latch &= ~untargeted
    return replace(sh, pending_split_unknown=split, latch_maybe_stale=stale,
                   pending_latch=latch)


# --- the TCG encoding -------------------------------------------------------------------------
def _misr(hcr: int, vmcr: int, lrs: tuple[int, ...]) -> int:
    """gic_compute_misr over QEMU's 4 list registers (NP counts LRs exactly pending)."""
    return status_registers(hcr, vmcr, lrs[:QEMU_NUM_LRS])["misr"]


def _masks(value: int, c: int) -> int:
    """Bits of a 32-bit bank as per-ID CPU-mask bytes (bit c), as a little-endian int."""
    return int.from_bytes(bitmaps.spread(value, NUM_PRIVATE, 1 << c), "little")


def tcg_image(st: GicState) -> RawImage:
    """The TCG GIC's arrays for a fitted state (fit_tcg), caches included."""
    cfg, table = st.config, IrqTable.of(st)
    sh = table.shared
    n, nirq, nspi = cfg.num_cpus, cfg.num_irqs, cfg.num_spis
    img = RawImage.blank(cfg.virtualization is not None)
    img.ctlr = GICD_CTLR.pack(enable_grp0=int(st.enable_grp0), enable_grp1=int(st.enable_grp1))
    members = {m: bytearray(MAXIRQ) for m in ("enabled", "pending", "active", "level", "edge",
                                              "group")}
    private = dict.fromkeys(("enabled", "pending", "active", "level", "group"), 0)
    priority1, sgi_pending = bytearray(NUM_PRIVATE * NCPU), bytearray(NUM_SGIS * NCPU)
    for c, b in enumerate(table.private):
        sgi_pend = bitmaps.nonzero(b.sgi_sources)
        for name, bits in (("enabled", b.enabled), ("active", b.active), ("group", b.group),
                           ("level", b.line_level),
                           ("pending", sgi_pend | (b.pending_latch & ~SGI_MASK))):
            private[name] |= _masks(bits, c)
        priority1[c::NCPU] = b.priority
        sgi_pending[c::NCPU] = b.sgi_sources
    for name, value in private.items():
        members[name][:NUM_PRIVATE] = value.to_bytes(NUM_PRIVATE, "little")
    members["enabled"][:NUM_SGIS] = b"\xff" * NUM_SGIS  # reset to all 8 slots, RAO/WI
    members["edge"][:NUM_PRIVATE] = bitmaps.spread(table.private[0].edge, NUM_PRIVATE)
    targets = b"\x01" * nspi if n == 1 else sh.targets  # a uniprocessor GIC stores 1
    for name, bits in (("enabled", sh.enabled), ("group", sh.group),
                       ("level", sh.line_level)):
        members[name][NUM_PRIVATE:nirq] = bitmaps.spread(bits, nspi, 0xFF)
    members["edge"][NUM_PRIVATE:nirq] = bitmaps.spread(sh.edge, nspi)
    latch = bitmaps.spread(sh.pending_latch, nspi, 0xFF)
    members["pending"][NUM_PRIVATE:nirq] = bytes(a & t for a, t in zip(latch, targets,
                                                                         strict=True))
    members["active"][NUM_PRIVATE:nirq] = bytes(
        0 if not sh.active >> k & 1 else 0xFF if cpu == UNKNOWN_CPU else 1 << cpu
        for k, cpu in enumerate(sh.active_cpu))
    for name, vec in members.items():
        setattr(img, name, bytes(vec))
    img.target = (b"\x01" * MAXIRQ if n == 1 else
                  bytes(NUM_PRIVATE) + targets + bytes(MAXIRQ - nirq))
    img.priority1, img.sgi_pending = bytes(priority1), bytes(sgi_pending)
    img.priority2 = sh.priority + bytes(MAXIRQ - NUM_PRIVATE - nspi)
    _tcg_cpus(st, img)
    if cfg.virtualization is not None:
        _tcg_virtual(st, img)
    return img


def _slots(values: list[int]) -> tuple[int, ...]:
    return tuple(values) + (0,) * (NCPU - len(values))


def _tcg_cpus(st: GicState, img: RawImage) -> None:
    cpus, n = st.cpu, st.config.num_cpus
    img.cpu_ctlr = _slots([ci.ctlr for ci in cpus])
    img.pmr = _slots([ci.pmr for ci in cpus])
    img.bpr = bytes(_slots([ci.bpr for ci in cpus]))
    img.abpr = bytes(_slots([ci.abpr for ci in cpus]))
    img.apr = apr_words([ci.active_group0 for ci in cpus])
    img.nsapr = apr_words([ci.active_group1 for ci in cpus])
    img.running = _slots([running_priority(ci.active_group0 | ci.active_group1, 1) for ci in cpus])
    img.current = _slots([best_pending(img, c, st.config.num_irqs) for c in range(n)])


def _tcg_virtual(st: GicState, img: RawImage) -> None:
    vs, n = st.virtual, st.config.num_cpus
    vmcr = [GICH_VMCR.unpack(v.vmcr) for v in vs]
    img.h_hcr = _slots([v.hcr for v in vs])
    img.h_apr = _slots([v.apr for v in vs])
    lrs = [0] * (64 * NCPU)
    for c, v in enumerate(vs):
        lrs[c:QEMU_NUM_LRS * NCPU:NCPU] = v.lr[:QEMU_NUM_LRS]
    img.h_lr = tuple(lrs)
    img.v_ctlr = _slots([ctlr_of_vmcr(v.vmcr) for v in vs])
    img.v_pmr = _slots([f["vmprimask"] << VMPRI_SHIFT for f in vmcr])
    img.v_bpr = bytes(_slots([f["vmbp"] for f in vmcr]))
    img.v_abpr = bytes(_slots([f["vmabp"] for f in vmcr]))
    img.h_misr = _slots([_misr(v.hcr, v.vmcr, v.lr) for v in vs])
    img.v_running = _slots([running_priority(v.apr, 8 - VIRT_PRIORITY_BITS) for v in vs])
    img.v_current = _slots([best_virq(img, c, list(vs[c].lr[:QEMU_NUM_LRS]))
                            for c in range(n)])
