"""GICH import: every vCPU's LR facts meet the distributor image (shared/reference/
gic-domain.md §6; docs/gich.md has the row-by-row table), refusing every view whose
conversion would lose or invent guest-visible state."""

from __future__ import annotations

from gicmig.abi.kvm import maybe_stale_latch
from gicmig.arch import labels
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import (
    VIRTUAL_PRIORITY,
)
from gicmig.core.attribution import attribute
from gicmig.core.imported import ImportedState, ImportReport
from gicmig.core.irqtable import IrqTable, TableBuilder
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.core.rules import validate
from gicmig.errors import GicmigError, ValidationError, Violation
from gicmig.files import Source, read_source, source_dir
from gicmig.views.gich.fold import LrFact, VcpuFold, _v, fold_vcpu
from gicmig.views.gich.viewfile import GichView, parse_view


# --- import --------------------------------------------------------------------------------
def import_gich(source: GichView | Source, *, lenient: bool = False,
                keep_hypervisor_context: bool = False) -> ImportedState:
    """Canonical state from a GICH view (`gicmig.gich-view/1` JSON); raise
    `ValidationError` listing every problem.

    `source` is the view's path (a str is always a path; `-` is stdin), its bytes, a
    binary file object, or a `GichView` already parsed. A `distributor.path` in the view
    is read relative to the view's folder (the current directory for bytes, stdin, or a
    file object without a path name).
    `lenient` normalizes only what gic-domain §6 marks benign (stale LR priority or group:
    the distributor's wins; binary points below the minimum: clamped; list registers
    beyond GICH_VTR: dropped) and lists each in `.import_report.normalized`.
    `keep_hypervisor_context` carries HW=1 LRs, unserviced EOI maintenance and GICH_HCR
    into `state.hypervisor` instead of refusing them.

    >>> text = gicmig.export_gich(gicmig.load("fixtures/v1/busy.json")).to_json()
    >>> state = gicmig.import_gich(text.encode())  # or the view's path, or a binary file
    >>> state.import_report.normalized, state.irq(27, cpu=0).line_level
    ((), True)
    """
    view = source if isinstance(source, GichView) else \
        parse_view(read_source(source, "import_gich"), base_dir=source_dir(source))
    image = view.distributor
    _check_image(view, image)
    cfg = image.config
    out: list[Violation] = []
    folds: list[VcpuFold] = []
    for c, regs in enumerate(view.vcpus):
        try:
            folds.append(fold_vcpu(regs, c, num_cpus=cfg.num_cpus, num_irqs=cfg.num_irqs,
                                   lenient=lenient,
                                   keep_hypervisor_context=keep_hypervisor_context))
        except ValidationError as exc:
            out.extend(exc.violations)
    if out:
        raise ValidationError(out)
    norm: list[Violation] = [n for f in folds for n in f.normalizations]
    state = _fold_into_image(image, folds, lenient, norm)
    if keep_hypervisor_context:
        for ctx, f in zip(state.keep_hypervisor_context(), folds, strict=True):
            ctx.hcr, ctx.hw_mappings, ctx.eoi_maintenance = f.hcr, f.hw_mappings, f.eoi_maintenance
    state.provenance.source = "gich"
    validate(state)
    return ImportedState(state, ImportReport("gich", tuple(norm)))


def _check_image(view: GichView, image: GicState) -> None:
    cfg = image.config
    if cfg.virtualization is not None:
        raise GicmigError("GICH-IMAGE-UNSUITABLE",
                          "distributor image: a GIC with virtualization extensions (its GICH "
                          "registers are guest state, not a GICH view's)")
    if image.hypervisor is not None:
        raise GicmigError("GICH-IMAGE-UNSUITABLE",
                          "distributor image: carries hypervisor context; in a GICH view that "
                          "lives in the GICH registers")
    if len(view.vcpus) != cfg.num_cpus:
        raise GicmigError("GICH-VIEW-VCPU-COUNT",
                          f"{len(view.vcpus)} vCPUs in the view, the distributor image has "
                          f"{cfg.num_cpus} CPUs")
    first = view.vcpus[0].vtr
    for c, regs in enumerate(view.vcpus):
        if regs.vtr != first:
            raise GicmigError("GICH-VTR-INCONSISTENT",
                              f"{labels.cpu_reg(c, 'gich.vtr')}: {regs.vtr:#010x}, cpu0 reads "
                              f"{first:#010x}")


def _fold_into_image(image: GicState, folds: list[VcpuFold], lenient: bool,
                     norm: list[Violation]) -> GicState:
    st = image.copy()
    before = IrqTable.of(st)  # the image as dumped: what every LR is judged against
    irqs = before.builder()  # the image with the LRs folded in
    out: list[Violation] = []
    holder: dict[int, int] = {}  # SPI ID -> the vCPU whose valid LR holds it
    marks = _SpiMarks(image.config.num_spis, len(folds))
    for f in folds:
        _fold_lrs(irqs, before, f, holder, marks, lenient, out, norm)
    marks.apply(irqs)
    for f in folds:
        _ambiguous(before, f, holder, image.config.num_irqs, out)
    if out:
        raise ValidationError(out)
    after = irqs.build()
    after.write_to(st, since=before)
    _stale_latches(st, after, marks)
    _interfaces(st, image, folds, out)
    if out:
        raise ValidationError(out)
    return st


def _stale_latches(st: GicState, table: IrqTable, marks: _SpiMarks) -> None:
    """KVM's stale latch in a GICH view (gicmig.abi.kvm.maybe_stale_latch): an active-only
    list register with EOI (how KVM queues an active level interrupt) next to an image
    whose latch is set is marked latch_maybe_stale. A valid LR decides for its interrupt
    (pending + active in the LR is an explicit re-pend); elsewhere the image's mark stays.
    `marks` holds what the valid LRs decided (`_fold_lrs`)."""
    sh, banks = table.shared, table.private  # `st`'s interrupts
    for c, b in enumerate(banks):
        decided, kvm_active = marks.private_stale[c]
        mark = maybe_stale_latch(b.pending_latch, b.active, b.edge) & (
            b.latch_maybe_stale & ~decided | kvm_active)
        if mark != b.latch_maybe_stale:
            st.banked[c].latch_maybe_stale = mark
    s_mark = sh.latch_maybe_stale
    if any(marks.stale):
        s_mark = s_mark & ~_bitmap(marks.stale, marks.CLEAR) | _bitmap(marks.stale, marks.SET)
    mark = maybe_stale_latch(sh.pending_latch, sh.active, sh.edge) & s_mark
    if mark != sh.latch_maybe_stale:
        st.shared.latch_maybe_stale = mark


def _fold_lrs(irqs: TableBuilder, before: IrqTable, f: VcpuFold, holder: dict[int, int],
              marks: _SpiMarks, lenient: bool, out: list[Violation],
              norm: list[Violation]) -> None:
    """Fold one vCPU's valid LRs (hot: written for speed; messages built only on failure)."""
    c = f.cpu
    b, sh = before.private[c], before.shared
    b_prio, b_group, b_edge = b.priority, b.group, b.edge
    b_pend = b.pending_latch | b.line_level
    s_prio, s_group, s_edge = sh.priority, sh.group, sh.edge
    s_pend = sh.pending_latch | sh.line_level
    srcs, asrc = irqs.srcs[c], irqs.asrc[c]
    b_active, b_latch = irqs.b_active, irqs.b_latch
    decided = kvm_active = 0  # IDs 0-31 in a valid LR; those in KVM's active-only LR (EOI)
    for fact in f.lrs:
        _, v, pending, active, group, priority, source, physical, eoi = fact  # one unpack
        if v < NUM_PRIVATE:
            prio, grp, edge, pend = b_prio[v], b_group >> v & 1, b_edge >> v & 1, b_pend >> v & 1
        else:
            k = v - NUM_PRIVATE
            prio, grp, edge, pend = s_prio[k], s_group >> k & 1, s_edge >> k & 1, s_pend >> k & 1
            if holder.setdefault(v, c) != c:
                out.append(_v("GICH-LR-SPI-MULTIPLE-VCPUS", c, f"gich.lr{fact.lr_index}",
                              f"{labels.irq(v)} is also in a valid list register of "
                              f"cpu{holder[v]}"))
        if (prio ^ priority) >> _VP_S or grp != group:
            _disagree(fact, c, prio, grp, lenient, out, norm)
        if pending and not edge and not pend:
            if physical is None:
                out.append(_v("GICH-LR-LEVEL-PENDING-MISMATCH", c, f"gich.lr{fact.lr_index}",
                              f"level-triggered {labels.irq(v, c)} is pending in the LR, but "
                              "neither its latch nor its line is set in the distributor image"))
                continue
            irqs.set_line(v, c)  # a HW-mapped level interrupt is pending by its physical line
        if v < NUM_SGIS:
            if pending:
                srcs[v] |= 1 << source
            asrc[v] = source if active else 0
        if v < NUM_PRIVATE:
            bit = 1 << v
            if pending and edge and v >= NUM_SGIS:
                b_latch[c] |= bit
            b_active[c] = b_active[c] | bit if active else b_active[c] & ~bit
            decided |= bit
            if active and eoi and not pending and physical is None:
                kvm_active |= bit
        else:
            _fold_spi(irqs, before, marks, fact, c, edge, out)
    marks.private_stale[c] = (decided, kvm_active)


_VP_S = VIRTUAL_PRIORITY.shift  # GICH_LR.Priority holds bits [7:3]: compared per LR


def _disagree(fact: LrFact, c: int, prio: int, grp: int, lenient: bool, out: list[Violation],
              norm: list[Violation]) -> None:
    v, where = fact.intid, f"gich.lr{fact.lr_index}"
    kept = "; the distributor's kept" if lenient else ""
    if VIRTUAL_PRIORITY.get(prio) != VIRTUAL_PRIORITY.get(fact.priority):
        (norm if lenient else out).append(_v(
            "GICH-LR-PRIORITY-STALE", c, where,
            f"{labels.irq(v, c)} has LR priority {fact.priority:#04x}, the distributor "
            f"{prio:#04x} (stale: the guest rewrote GICD_IPRIORITYR while it was queued){kept}"))
    if grp != fact.group:
        (norm if lenient else out).append(_v(
            "GICH-LR-GROUP-MISMATCH", c, where,
            f"{labels.irq(v, c)} has LR Grp1 {fact.group}, the distributor group {grp}{kept}"))


# byte value v -> ASCII '1' where a mark byte equals v, else '0'
_ASCII_BIT = {v: bytes(0x31 if b == v else 0x30 for b in range(256)) for v in (1, 2)}


class _SpiMarks:
    """SPI bits to set or clear, one byte per SPI: bitmaps are rebuilt once, not per LR.

    `stale`: SET where a valid LR is KVM's active-only one (EOI set), CLEAR where another
    valid LR decides (`_stale_latches`); `private_stale[c]`: the same for CPU c's IDs 0-31,
    as (IDs in a valid LR, IDs in KVM's active-only LR)."""

    SET, CLEAR = 1, 2

    def __init__(self, num_spis: int, num_cpus: int) -> None:
        self.active = bytearray(num_spis)
        self.latch = bytearray(num_spis)
        self.stale = bytearray(num_spis)
        self.private_stale = [(0, 0)] * num_cpus

    def apply(self, irqs: TableBuilder) -> None:
        if any(self.active):
            irqs.s_active = ((irqs.s_active | _bitmap(self.active, self.SET))
                             & ~_bitmap(self.active, self.CLEAR))
        if any(self.latch):
            irqs.s_latch |= _bitmap(self.latch, self.SET)


def _bitmap(marks: bytearray, value: int) -> int:
    """The SPIs whose mark byte is `value`, as a bitmap."""
    digits = marks.translate(_ASCII_BIT[value])[::-1]  # ASCII '0'/'1', highest SPI first
    return int(digits, 2) if digits else 0


def _fold_spi(irqs: TableBuilder, before: IrqTable, marks: _SpiMarks, fact: LrFact, c: int,
              edge: int, out: list[Violation]) -> None:
    k = fact.intid - NUM_PRIVATE
    was = before.shared.active_cpu[k] if before.shared.active >> k & 1 else None
    # active elsewhere, or on an UNKNOWN CPU while this LR does not hold it active (then it
    # may be active on another vCPU, or deactivated here: no way to tell)
    if was is not None and (was not in (c, UNKNOWN_CPU) or (
            was == UNKNOWN_CPU and not fact.active)):
        where = "an UNKNOWN CPU" if was == UNKNOWN_CPU else f"cpu{was}"
        out.append(_v("GICH-LR-ACTIVE-CPU-CONFLICT", c, f"gich.lr{fact.lr_index}",
                      f"{labels.irq(fact.intid)} is held here, but the distributor image has "
                      f"it active on {where}"))
        return
    if fact.pending and edge:
        marks.latch[k] = marks.SET
    marks.active[k] = marks.SET if fact.active else marks.CLEAR
    marks.stale[k] = marks.SET if (fact.active and fact.eoi and not fact.pending
                                   and fact.physical_id is None) else marks.CLEAR
    irqs.s_cpu[k] = c if fact.active else 0


def _ambiguous(img: IrqTable, f: VcpuFold, holder: dict[int, int], num_irqs: int,
               out: list[Violation]) -> None:
    """A free LR naming an interrupt the image holds live: did the guest finish it there?"""
    held = {x.intid for x in f.lrs}
    c = f.cpu
    b, sh = img.private[c], img.shared
    for fact in f.named:
        v = fact.intid
        if v >= num_irqs or v in held or v in holder:
            continue
        if v < NUM_SGIS:
            live = b.active >> v & 1 or b.sgi_sources[v] >> fact.source & 1
        elif v < NUM_PRIVATE:
            live = (b.active | b.pending_latch) >> v & 1
        else:
            k = v - NUM_PRIVATE
            live = (sh.pending_latch >> k & 1) or (
                sh.active >> k & 1 and sh.active_cpu[k] in (c, UNKNOWN_CPU))
        if live:
            out.append(_v("GICH-LR-INVALID-AMBIGUOUS", c, f"gich.lr{fact.lr_index}",
                          f"this free LR names {labels.irq(v, c)}, which the distributor image "
                          "holds active or latched: the guest may have finished it in this LR. "
                          "Fold the LRs into the image before dumping"))


def _interfaces(st: GicState, image: GicState, folds: list[VcpuFold],
                out: list[Violation]) -> None:
    """The CPU interfaces from GICH_VMCR/GICH_APR; the group of each active level (and
    the CPU of an image's active SPI of unknown CPU) by the one attribution rule."""
    cfg = st.config
    cpus = st.cpu
    was = {}
    for f in folds:
        ci = cpus[f.cpu]
        was[f.cpu] = (ci.ctlr, ci.pmr, ci.bpr, ci.abpr, ci.active_group0, ci.active_group1,
                      ci.active_group_unknown)
        ci.ctlr, ci.pmr, ci.bpr, ci.abpr = f.ctlr, f.pmr, f.bpr, f.abpr
        ci.active_group0, ci.active_group1, ci.active_group_unknown = 0, 0, f.active_levels
    attribute(st)
    reset = (0, 0, cfg.min_bpr, cfg.min_abpr, 0, 0, 0)
    for f in folds:
        ci = cpus[f.cpu]
        new = (ci.ctlr, ci.pmr, ci.bpr, ci.abpr, ci.active_group0, ci.active_group1,
               ci.active_group_unknown)
        if was[f.cpu] not in (new, reset):
            out.append(_v("GICH-IMAGE-CPU-CONFLICT", f.cpu, "gicc",
                          "the distributor image's CPU interface is neither the reset state nor "
                          "what GICH_VMCR/GICH_APR give (ctlr/pmr/bpr/abpr/levels "
                          f"{_show(was[f.cpu])} vs {_show(new)})"))


def _show(values: tuple[int, ...]) -> str:
    return "/".join(f"{v:#x}" for v in values)
