"""The per-vCPU half of the GICH import: one vCPU's LRs, HCR, VMCR and APR as facts, usable
without a distributor image (e.g. for a guest hypervisor's registers in a nested stream).

A valid LR is authoritative for its interrupt's active state and adds its pending state
(edge latch, one SGI source) to the image's; level pending comes from the image."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from gicmig.arch import gich as arch_gich
from gicmig.arch import labels
from gicmig.arch.ids import NUM_SGIS, SPECIAL_IDS
from gicmig.arch.lr import Lr
from gicmig.arch.lr import decode as decode_lr
from gicmig.arch.registers import GICH_HCR, GICH_VMCR, VIRTUAL_PRIORITY
from gicmig.core.model import HwMapping
from gicmig.errors import GicmigError, ValidationError, Violation
from gicmig.views.gich.params import (
    _EN,
    _EOICOUNT,
    _HCR_CONTROL,
    _U32,
    MAX_PHYSICAL_ID,
    MIN_PHYSICAL_ID,
    VtrParams,
    apr_to_levels,
    vtr_params,
)
from gicmig.views.gich.viewfile import VcpuRegs

_new = tuple.__new__  # a NamedTuple without its keyword-handling __new__ (per LR)


# --- per-vCPU fold ----------------------------------------------------------------------------
class LrFact(NamedTuple):
    """What one list register says about its interrupt (priority as an 8-bit value)."""

    lr_index: int
    intid: int
    pending: bool
    active: bool
    group: int
    priority: int
    source: int  # CPUID of an SGI (HW=0), else 0
    physical_id: int | None  # HW=1 only
    eoi: bool


@dataclass
class VcpuFold:
    """One vCPU's GICH registers folded: the canonical CPU interface and the LR facts.

    `active_levels` is the 128-level bitmap GICH_APR gives, group not yet known.
    `named` holds invalid, non-zero LRs without an EOI request (they name an interrupt
    the guest may have finished in them). `normalizations` lists what `lenient` changed.
    """

    cpu: int
    params: VtrParams
    ctlr: int
    pmr: int
    bpr: int
    abpr: int
    active_levels: int
    lrs: tuple[LrFact, ...]
    named: tuple[LrFact, ...]
    hcr: int
    hw_mappings: tuple[HwMapping, ...]
    eoi_maintenance: int
    normalizations: list[Violation] = field(default_factory=list)


def _v(code: str, cpu: int, reg: str, message: str) -> Violation:
    return Violation(code, labels.cpu_reg(cpu, reg), message)


def fold_vcpu(regs: VcpuRegs, cpu: int, *, num_cpus: int | None = None,
              num_irqs: int | None = None, lenient: bool = False,
              keep_hypervisor_context: bool = False) -> VcpuFold:
    """Fold one vCPU's GICH registers; raise `ValidationError` listing every problem.

    Without a distributor image (`num_irqs`/`num_cpus` None) the checks that need one
    (ID range, SGI source CPUs) are skipped; every quiescence check still runs.
    """
    out: list[Violation] = []
    norm: list[Violation] = []
    values = (regs.vtr, regs.hcr, regs.vmcr, regs.apr, *regs.lr)
    if not regs.lr or min(values) < 0 or max(values) > _U32:
        raise ValidationError([_v("GICH-VIEW-SCHEMA", cpu, "gich",
                                  "registers must be 32-bit values, with at least one LR")])
    try:
        params = vtr_params(regs.vtr, labels.cpu_reg(cpu, "gich.vtr"))
    except GicmigError as exc:
        raise ValidationError([Violation(exc.code, labels.cpu_reg(cpu, "gich.vtr"),
                                         exc.message)]) from None
    lrs = _lr_count(regs, cpu, params, lenient, out, norm)
    facts, named, hw, eoi_ids = _lrs(lrs, cpu, params, num_cpus, num_irqs,
                                     keep_hypervisor_context, out)
    _hcr(regs.hcr, cpu, bool(facts), keep_hypervisor_context, out)
    ctlr, pmr, bpr, abpr = _vmcr(regs.vmcr, cpu, params, lenient, out, norm)
    levels = _apr(regs.apr, cpu, params, out)
    _status(regs, lrs, cpu, out)
    if out:
        raise ValidationError(out)
    return VcpuFold(cpu, params, ctlr, pmr, bpr, abpr, levels, tuple(facts), tuple(named),
                    regs.hcr, tuple(sorted(hw, key=lambda m: m.virtual_id)), eoi_ids, norm)


def _lr_count(regs: VcpuRegs, cpu: int, params: VtrParams, lenient: bool,
              out: list[Violation], norm: list[Violation]) -> tuple[int, ...]:
    n = len(regs.lr)
    if n == params.num_lrs:
        return regs.lr
    msg = f"{n} list registers given, GICH_VTR.ListRegs says {params.num_lrs}"
    extra = regs.lr[params.num_lrs:]
    if n > params.num_lrs and lenient and not any(extra):
        norm.append(_v("GICH-LR-COUNT", cpu, "gich.lr",
                       f"{msg}; LR{params.num_lrs}.. are unimplemented (RAZ/WI), all zero, "
                       "and were dropped"))
        return regs.lr[:params.num_lrs]
    held = ", ".join(f"LR{params.num_lrs + i} {lr:#010x}" for i, lr in enumerate(extra) if lr)
    out.append(_v("GICH-LR-COUNT", cpu, "gich.lr",
                  f"{msg} (holding {held}: a wrong VTR?)" if held else msg))
    return regs.lr[:params.num_lrs]


def _lrs(lrs: tuple[int, ...], cpu: int, params: VtrParams, num_cpus: int | None,
         num_irqs: int | None, keep: bool, out: list[Violation],
         ) -> tuple[list[LrFact], list[LrFact], list[HwMapping], int]:
    facts: list[LrFact] = []
    named: list[LrFact] = []
    hw: list[HwMapping] = []
    eoi_ids = 0
    seen: dict[int, int] = {}
    unimplemented = ~params.priority_mask & 0xFF
    limit, ncpu = num_irqs or SPECIAL_IDS.start, num_cpus or 8
    for n, lr in enumerate(lrs):
        if not lr:
            continue  # an empty LR names nothing
        d = decode_lr(lr)
        vid, pend, act, grp, prio, is_hw, src, eoi, _, res = d  # one unpack: hot, per LR
        # fast path: a valid HW=0 LR with nothing to report (everything else: _lr_fact)
        if (pend or act) and not (is_hw or res) and vid < limit and vid not in seen and not (
                prio & unimplemented or (src and (vid >= NUM_SGIS or src >= ncpu))):
            seen[vid] = n
            facts.append(_new(LrFact, (n, vid, pend, act, grp, prio, src, None, eoi)))
            continue
        fact = _lr_fact(d, lr, n, cpu, num_cpus, num_irqs, out)
        if fact is None:
            continue
        if not (fact.pending or fact.active):
            eoi_ids = _invalid_lr(fact, lr, cpu, keep, eoi_ids, named, out)
            continue
        if fact.intid in seen or fact.priority & unimplemented or fact.physical_id is not None:
            _valid_lr_problems(fact, seen, cpu, params, keep, hw, out)
        seen[fact.intid] = n
        facts.append(fact)
    return facts, named, hw, eoi_ids


def _invalid_lr(fact: LrFact, lr: int, cpu: int, keep: bool, eoi_ids: int,
                named: list[LrFact], out: list[Violation]) -> int:
    """An invalid LR: an EOI maintenance request (returned in `eoi_ids`) or a free LR."""
    if not fact.eoi:
        named.append(fact)
        return eoi_ids
    where = f"gich.lr{fact.lr_index}"
    if not keep:
        out.append(_v("GICH-LR-EOI-PENDING", cpu, where,
                      f"{lr:#010x}: invalid with EOI=1 for {labels.irq(fact.intid, cpu)}: an "
                      "EOI maintenance request not yet serviced (non-quiescent; keep the "
                      "hypervisor context to carry it)"))
    elif fact.source or eoi_ids >> fact.intid & 1:
        # VcpuContext.eoi_maintenance is a set of IDs: no CPUID, no second request
        out.append(_v("GICH-LR-EOI-PENDING", cpu, where,
                      f"{lr:#010x}: EOI maintenance request for {labels.irq(fact.intid, cpu)} "
                      f"with CPUID {fact.source} or a second one for that ID: the hypervisor "
                      "context holds one request per interrupt ID and no source CPU"))
    return eoi_ids | 1 << fact.intid


def _valid_lr_problems(fact: LrFact, seen: dict[int, int], cpu: int, params: VtrParams,
                       keep: bool, hw: list[HwMapping], out: list[Violation]) -> None:
    where = f"gich.lr{fact.lr_index}"
    if fact.intid in seen:
        out.append(_v("GICH-LR-DUPLICATE-VIRTUALID", cpu, where,
                      f"{labels.irq(fact.intid, cpu)} is also in valid LR{seen[fact.intid]}"
                      " (UNPREDICTABLE)"))
    if fact.priority & ~params.priority_mask:
        out.append(_v("GICH-LR-PRIORITY-UNIMPLEMENTED", cpu, where,
                      f"priority {fact.priority:#04x} sets bits below the "
                      f"{params.priority_bits} GICH_VTR.PRIbits implements"))
    if fact.physical_id is not None:
        hw.append(HwMapping(fact.intid, fact.physical_id))
        if not keep:
            out.append(_v("GICH-LR-HW", cpu, where,
                          f"{labels.irq(fact.intid, cpu)} is HW-mapped to physical ID "
                          f"{fact.physical_id}: hypervisor context (keep it to carry it)"))


def _lr_fact(d: Lr, lr: int, n: int, cpu: int, num_cpus: int | None, num_irqs: int | None,
             out: list[Violation]) -> LrFact | None:
    vid, source, phys = d.virtual_id, d.cpuid, d.physical_id
    if not (d.valid or d.eoi or d.reserved):
        # a free LR (ELRSR set): its contents are not state; it only names an interrupt
        return LrFact(n, vid, False, False, 0, 0, source, None, False)
    bad_source = source and (vid >= NUM_SGIS or (
        d.valid and num_cpus is not None and source >= num_cpus))
    bad_hw = phys is not None and (vid < NUM_SGIS or not
                                   MIN_PHYSICAL_ID <= phys <= MAX_PHYSICAL_ID)
    # without a distributor (num_irqs None) only the special IDs 1020-1023 are out of range
    if d.reserved or vid >= (num_irqs or SPECIAL_IDS.start) or bad_source or bad_hw:
        out.append(_lr_problem(d, lr, n, cpu, num_cpus, num_irqs))
        return None
    return LrFact(n, vid, d.pending, d.active, d.group, d.priority, source, phys, d.eoi)


def _lr_problem(d: Lr, lr: int, n: int, cpu: int, num_cpus: int | None,
                num_irqs: int | None) -> Violation:
    """The first thing wrong with list register `lr` (only called when something is)."""
    where = f"gich.lr{n}"
    vid, phys, source = d.virtual_id, d.physical_id, d.cpuid
    if d.reserved:
        return _v("GICH-LR-RESERVED-BITS", cpu, where,
                  f"{lr:#010x} sets reserved bits {d.reserved:#010x}")
    if vid in SPECIAL_IDS:
        return _v("GICH-LR-VIRTUALID-SPECIAL", cpu, where,
                  f"{lr:#010x}: VirtualID {vid} is a special interrupt ID")
    if num_irqs is not None and vid >= num_irqs:
        return _v("GICH-LR-VIRTUALID-RANGE", cpu, where,
                  f"{lr:#010x}: VirtualID {vid}, but the distributor has IDs 0..{num_irqs - 1}")
    if phys is not None and vid < NUM_SGIS:
        return _v("GICH-LR-HW", cpu, where,
                  f"{lr:#010x}: {labels.irq(vid, cpu)} is HW-mapped, but an SGI cannot be")
    if phys is not None:
        return _v("GICH-LR-HW-PHYSICALID-RANGE", cpu, where,
                  f"{lr:#010x}: {labels.irq(vid, cpu)} maps to physical ID {phys}, "
                  f"not a PPI or SPI ({MIN_PHYSICAL_ID}..{MAX_PHYSICAL_ID})")
    if source and vid >= NUM_SGIS:
        return _v("GICH-LR-CPUID-NOT-SGI", cpu, where,
                  f"{lr:#010x}: CPUID {source} on {labels.irq(vid, cpu)}, which is no SGI")
    assert d.valid and num_cpus is not None
    return _v("GICH-LR-CPUID-ABSENT", cpu, where,
              f"{lr:#010x}: {labels.irq(vid, cpu)} from CPU {source}, but only "
              f"{num_cpus} CPUs exist")


_EN_BIT, _EOICOUNT_BITS, _HCR_RESERVED = _EN.mask, _EOICOUNT.mask, GICH_HCR.reserved_mask


def _hcr(hcr: int, cpu: int, any_valid: bool, keep: bool, out: list[Violation]) -> None:
    if hcr & _HCR_RESERVED:
        out.append(_v("GICH-HCR-RESERVED-BITS", cpu, "gich.hcr",
                      f"{hcr:#010x} sets reserved bits {hcr & _HCR_RESERVED:#010x}"))
    if any_valid and not hcr & _EN_BIT:
        out.append(_v("GICH-HCR-DISABLED", cpu, "gich.hcr",
                      f"{hcr:#010x}: En = 0 hides the valid list registers from the guest"))
    if keep:
        return
    if hcr & _EOICOUNT_BITS:
        out.append(_v("GICH-HCR-EOICOUNT", cpu, "gich.hcr",
                      f"{hcr:#010x}: EOICount {_EOICOUNT.get(hcr)}: EOIs of interrupts outside "
                      "the LRs not yet accounted (non-quiescent)"))
    if hcr & _HCR_CONTROL:
        names = ", ".join(GICH_HCR.flags(hcr & _HCR_CONTROL))
        out.append(_v("GICH-HCR-CONTROL", cpu, "gich.hcr",
                      f"{hcr:#010x}: maintenance enables {names} are hypervisor context "
                      "(keep it to carry them)"))


# GICH_VMCR's priority fields as (shift, mask), read per vCPU
(_VMPRIMASK_S, _VMPRIMASK_M), (_VMBP_S, _VMBP_M), (_VMABP_S, _VMABP_M) = (
    (f.shift, (1 << f.width) - 1) for f in map(GICH_VMCR.field, ("vmprimask", "vmbp", "vmabp")))
_VMCR_RESERVED = GICH_VMCR.reserved_mask


def _vmcr(vmcr: int, cpu: int, params: VtrParams, lenient: bool, out: list[Violation],
          norm: list[Violation]) -> tuple[int, int, int, int]:
    if vmcr & _VMCR_RESERVED:
        out.append(_v("GICH-VMCR-RESERVED-BITS", cpu, "gich.vmcr",
                      f"{vmcr:#010x} sets reserved bits {vmcr & _VMCR_RESERVED:#010x}"))
    ctlr = arch_gich.ctlr_of_vmcr(vmcr)
    pmr = (vmcr >> _VMPRIMASK_S & _VMPRIMASK_M) << VIRTUAL_PRIORITY.shift
    if pmr & ~params.priority_mask:
        out.append(_v("GICH-VMCR-PRIMASK-UNIMPLEMENTED", cpu, "gich.vmcr",
                      f"VMPriMask gives GICC_PMR {pmr:#04x}, with bits below the "
                      f"{params.priority_bits} GICH_VTR.PRIbits implements"))
    bpr, abpr = vmcr >> _VMBP_S & _VMBP_M, vmcr >> _VMABP_S & _VMABP_M
    low, alow = params.min_bpr, params.min_abpr
    if bpr < low or abpr < alow:
        msg = f"VMBP {bpr} / VMABP {abpr} below the minima {low} / {alow}"
        if lenient:
            norm.append(_v("GICH-VMCR-BINARY-POINT", cpu, "gich.vmcr",
                           f"{msg}; clamped as the hardware does"))
            bpr, abpr = max(bpr, low), max(abpr, alow)
        else:
            out.append(_v("GICH-VMCR-BINARY-POINT", cpu, "gich.vmcr", msg))
    return ctlr, pmr, bpr, abpr


def _apr(apr: int, cpu: int, params: VtrParams, out: list[Violation]) -> int:
    beyond = apr >> params.group_levels
    if beyond:
        out.append(_v("GICH-APR-UNIMPLEMENTED", cpu, "gich.apr",
                      f"{apr:#010x} sets levels beyond the {params.group_levels} that "
                      f"{params.preemption_bits} preemption bits give"))
    return apr_to_levels(apr, params)


def _status(regs: VcpuRegs, lrs: tuple[int, ...], cpu: int, out: list[Violation]) -> None:
    given = {k: getattr(regs, k) for k in ("misr", "eisr0", "eisr1", "elrsr0", "elrsr1")}
    if all(v is None for v in given.values()):
        return
    derived = arch_gich.status_registers(regs.hcr, regs.vmcr, lrs)
    for name, value in given.items():
        if value is not None and value != derived[name]:
            code = f"GICH-{name.rstrip('01').upper()}-MISMATCH"
            out.append(_v(code, cpu, f"gich.{name}",
                          f"supplied {value:#010x}, the registers imply {derived[name]:#010x}"))
