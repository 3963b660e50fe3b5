"""GICH view <-> canonical state: fold list registers in, place interrupts out, losslessly.

Import (`import_gich`) folds every list register of every vCPU into canonical state and
refuses every view whose conversion would lose or invent guest-visible state
(shared/reference/gic-domain.md §6; docs/gich.md has the row-by-row table). Export
(`export_gich`) places interrupts into list registers deterministically and refuses states
the target cannot hold. `fold_vcpu` is the per-vCPU half of the import, usable without a
distributor image (e.g. for an L1 hypervisor's GICH registers in a nested QEMU stream).

Facts the whole module relies on:
* a valid LR is authoritative for its interrupt's active state and adds its pending
  state (edge latch, one SGI source) to the image's; level pending comes from the image;
* GICH_APR bit n is group priority n << (8 - P), canonical level n << (7 - P), with P the
  preemption bits GICH_VTR gives (5 on GIC-400: level 4n).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import NamedTuple

from gicmig.active_attribution import attribute, group_priority_level, split_active_levels
from gicmig.arch import bitmaps, labels, priority
from gicmig.arch import gich as arch_gich
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS, SPECIAL_IDS
from gicmig.arch.registers import (
    GICC_CTLR,
    GICH_HCR,
    GICH_LR,
    GICH_LR_HW,
    GICH_LR_STATE,
    GICH_VMCR,
    GICH_VTR,
    VIRTUAL_PRIORITY,
    Field,
    lr_layout,
)
from gicmig.core.model import UNKNOWN_CPU, GicState, HwMapping
from gicmig.core.rules import validate
from gicmig.errors import GicmigError, ValidationError, Violation
from gicmig.kvm_abi import maybe_stale_latch
from gicmig.views.gich.viewfile import GichView, VcpuRegs, parse_view

__all__ = [
    "EOI_POLICIES", "GichTarget", "ImportedState", "LrFact", "VcpuFold", "VtrParams",
    "apr_to_levels", "export_gich", "fold_groups", "fold_vcpu", "group_priority_level",
    "import_gich", "levels_to_apr", "plan_gich", "split_active_levels", "status_registers",
    "vtr_params",
]

EOI_POLICIES = ("kvm", "none")
_U32 = 0xFFFF_FFFF
MAX_PHYSICAL_ID = 1019
MIN_PHYSICAL_ID = 16

# Fields looked up once: the hot loops run per list register.
_VID, _CPUID, _EOI = (GICH_LR.field(n) for n in ("virtual_id", "cpuid", "eoi"))
_PRIO, _STATE, _GRP1, _HW = (GICH_LR.field(n) for n in ("priority", "state", "grp1", "hw"))
_PHYS = GICH_LR_HW.field("physical_id")
_PENDING, _ACTIVE = GICH_LR_STATE.field("pending"), GICH_LR_STATE.field("active")


def _sm(f: Field) -> tuple[int, int]:
    """(shift, unshifted mask): the hot loops decode list registers with these."""
    return f.shift, (1 << f.width) - 1


(_VID_S, _VID_M), (_CPUID_S, _CPUID_M), (_EOI_S, _) = _sm(_VID), _sm(_CPUID), _sm(_EOI)
(_PRIO_S, _PRIO_M), (_STATE_S, _STATE_M), (_GRP1_S, _) = _sm(_PRIO), _sm(_STATE), _sm(_GRP1)
(_HW_S, _), (_PHYS_S, _PHYS_M), (_VP_S, _VP_M) = _sm(_HW), _sm(GICH_LR_HW.field(
    "physical_id")), _sm(VIRTUAL_PRIORITY)
_PEND_BIT, _ACT_BIT = _PENDING.mask, _ACTIVE.mask  # within the 2-bit State value
_RES_SW, _RES_HW = GICH_LR.reserved_mask, GICH_LR_HW.reserved_mask
_UNUSUAL = _RES_SW | _HW.mask  # an LR the fast path leaves to the careful one
_EN, _EOICOUNT = GICH_HCR.field("en"), GICH_HCR.field("eoicount")
_HCR_CONTROL = GICH_HCR.defined_mask & ~_EN.mask & ~_EOICOUNT.mask
_VMBP, _VMABP, _VMPRI = (GICH_VMCR.field(n) for n in ("vmbp", "vmabp", "vmprimask"))
_CBPR = GICC_CTLR.field("cbpr")


# --- parameters ------------------------------------------------------------------------------
@dataclass(frozen=True)
class VtrParams:
    """What GICH_VTR says about the virtual interface."""

    num_lrs: int
    priority_bits: int
    preemption_bits: int

    @property
    def priority_mask(self) -> int:
        """The bits of an 8-bit priority (or GICC_PMR) the LRs and VMCR can hold."""
        return priority.priority_mask(self.priority_bits)

    @property
    def min_bpr(self) -> int:
        return priority.min_binary_point(self.preemption_bits)

    @property
    def min_abpr(self) -> int:
        return priority.min_abpr(self.min_bpr)

    @property
    def level_shift(self) -> int:
        """GICH_APR bit n <-> canonical active-priority level n << level_shift."""
        return priority.level_shift(self.preemption_bits)


def vtr_params(vtr: int, where: str = "gich.vtr") -> VtrParams:
    """Decode GICH_VTR; raise GICH-VTR-INVALID for a value no GICv2 can report."""
    f = GICH_VTR.unpack(vtr)
    pri, pre = f["pri_bits"] + 1, f["pre_bits"] + 1
    problems = []
    if vtr & GICH_VTR.reserved_mask:
        problems.append(f"reserved bits {vtr & GICH_VTR.reserved_mask:#010x}")
    if pri > 5:
        problems.append(f"{pri} priority bits (GICH_LR.Priority holds 5)")
    if pre > pri:
        problems.append(f"{pre} preemption bits exceed {pri} priority bits")
    if problems:
        raise GicmigError("GICH-VTR-INVALID", f"{where}: {vtr:#010x}: " + "; ".join(problems))
    return VtrParams(f["list_regs"] + 1, pri, pre)


@dataclass(frozen=True)
class GichTarget:
    """The destination of an export: its GICH_VTR and how EOI bits are set.

    `eoi_policy`: `kvm` sets GICH_LR.EOI where Linux KVM does (every software level
    interrupt; an SGI with sources left over); `none` never sets it.
    `status_registers`: also write the MISR/EISRn/ELRSRn the LRs imply.
    """

    vtr: int = 0x9000_0003
    eoi_policy: str = "kvm"
    status_registers: bool = True


# --- status registers ------------------------------------------------------------------------
def status_registers(regs: VcpuRegs) -> dict[str, int]:
    """GICH_MISR, EISR0/1 and ELRSR0/1 that the registers of `regs` imply."""
    return arch_gich.status_registers(regs.hcr, regs.vmcr, regs.lr)


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
        # fast path: a valid HW=0 LR with nothing to report (everything else: _lr_fact)
        state, vid = lr >> _STATE_S & _STATE_M, lr >> _VID_S & _VID_M
        if state and not lr & _UNUSUAL and vid < limit and vid not in seen:
            source, prio = lr >> _CPUID_S & _CPUID_M, (lr >> _PRIO_S & _PRIO_M) << _VP_S
            if not (prio & unimplemented or (source and (vid >= NUM_SGIS or source >= ncpu))):
                seen[vid] = n
                facts.append(LrFact(n, vid, bool(state & _PEND_BIT), bool(state & _ACT_BIT),
                                    lr >> _GRP1_S & 1, prio, source, None,
                                    bool(lr >> _EOI_S & 1)))
                continue
        fact = _lr_fact(lr, n, cpu, num_cpus, num_irqs, out)
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


def _lr_fact(lr: int, n: int, cpu: int, num_cpus: int | None, num_irqs: int | None,
             out: list[Violation]) -> LrFact | None:
    hw = lr >> _HW_S & 1
    reserved = lr & (_RES_HW if hw else _RES_SW)
    vid, state = lr >> _VID_S & _VID_M, lr >> _STATE_S & _STATE_M
    eoi = 0 if hw else lr >> _EOI_S & 1
    source = 0 if hw else lr >> _CPUID_S & _CPUID_M
    if not (state or eoi or reserved):
        # a free LR (ELRSR set): its contents are not state; it only names an interrupt
        return LrFact(n, vid, False, False, 0, 0, source, None, False)
    phys = lr >> _PHYS_S & _PHYS_M if hw else None
    bad_source = source and (vid >= NUM_SGIS or (
        state and num_cpus is not None and source >= num_cpus))
    bad_hw = phys is not None and (vid < NUM_SGIS or not
                                   MIN_PHYSICAL_ID <= phys <= MAX_PHYSICAL_ID)
    # without a distributor (num_irqs None) only the special IDs 1020-1023 are out of range
    if reserved or vid >= (num_irqs or SPECIAL_IDS.start) or bad_source or bad_hw:
        out.append(_lr_problem(lr, n, cpu, num_cpus, num_irqs))
        return None
    prio = (lr >> _PRIO_S & _PRIO_M) << _VP_S
    return LrFact(n, vid, bool(state & _PEND_BIT), bool(state & _ACT_BIT), lr >> _GRP1_S & 1,
                  prio, source, phys, bool(eoi))


def _lr_problem(lr: int, n: int, cpu: int, num_cpus: int | None,
                num_irqs: int | None) -> Violation:
    """The first thing wrong with list register `lr` (only called when something is)."""
    where, layout = f"gich.lr{n}", lr_layout(lr)
    vid, state, hw = _VID.get(lr), _STATE.get(lr), _HW.get(lr)
    phys = _PHYS.get(lr) if hw else None
    source = 0 if hw else _CPUID.get(lr)
    if lr & layout.reserved_mask:
        return _v("GICH-LR-RESERVED-BITS", cpu, where,
                  f"{lr:#010x} sets reserved bits {lr & layout.reserved_mask:#010x}")
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
    assert state and num_cpus is not None
    return _v("GICH-LR-CPUID-ABSENT", cpu, where,
              f"{lr:#010x}: {labels.irq(vid, cpu)} from CPU {source}, but only "
              f"{num_cpus} CPUs exist")


def _hcr(hcr: int, cpu: int, any_valid: bool, keep: bool, out: list[Violation]) -> None:
    if hcr & GICH_HCR.reserved_mask:
        out.append(_v("GICH-HCR-RESERVED-BITS", cpu, "gich.hcr",
                      f"{hcr:#010x} sets reserved bits {hcr & GICH_HCR.reserved_mask:#010x}"))
    if any_valid and not _EN.get(hcr):
        out.append(_v("GICH-HCR-DISABLED", cpu, "gich.hcr",
                      f"{hcr:#010x}: En = 0 hides the valid list registers from the guest"))
    if keep:
        return
    if _EOICOUNT.get(hcr):
        out.append(_v("GICH-HCR-EOICOUNT", cpu, "gich.hcr",
                      f"{hcr:#010x}: EOICount {_EOICOUNT.get(hcr)}: EOIs of interrupts outside "
                      "the LRs not yet accounted (non-quiescent)"))
    if hcr & _HCR_CONTROL:
        names = ", ".join(GICH_HCR.flags(hcr & _HCR_CONTROL))
        out.append(_v("GICH-HCR-CONTROL", cpu, "gich.hcr",
                      f"{hcr:#010x}: maintenance enables {names} are hypervisor context "
                      "(keep it to carry them)"))


def _vmcr(vmcr: int, cpu: int, params: VtrParams, lenient: bool, out: list[Violation],
          norm: list[Violation]) -> tuple[int, int, int, int]:
    if vmcr & GICH_VMCR.reserved_mask:
        out.append(_v("GICH-VMCR-RESERVED-BITS", cpu, "gich.vmcr",
                      f"{vmcr:#010x} sets reserved bits {vmcr & GICH_VMCR.reserved_mask:#010x}"))
    f = GICH_VMCR.unpack(vmcr)
    ctlr = arch_gich.ctlr_of_vmcr(vmcr)
    pmr = VIRTUAL_PRIORITY.put(0, f["vmprimask"])
    if pmr & ~params.priority_mask:
        out.append(_v("GICH-VMCR-PRIMASK-UNIMPLEMENTED", cpu, "gich.vmcr",
                      f"VMPriMask gives GICC_PMR {pmr:#04x}, with bits below the "
                      f"{params.priority_bits} GICH_VTR.PRIbits implements"))
    bpr, abpr = f["vmbp"], f["vmabp"]
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
    beyond = apr >> (1 << params.preemption_bits)
    if beyond:
        out.append(_v("GICH-APR-UNIMPLEMENTED", cpu, "gich.apr",
                      f"{apr:#010x} sets levels beyond the {1 << params.preemption_bits} that "
                      f"{params.preemption_bits} preemption bits give"))
    return apr_to_levels(apr, params)


def apr_to_levels(apr: int, params: VtrParams) -> int:
    """GICH_APR as a canonical 128-level bitmap (bit n -> level n << level_shift)."""
    implemented = apr & ((1 << (1 << params.preemption_bits)) - 1)
    return bitmaps.stretch(implemented, 1 << params.level_shift)


def levels_to_apr(levels: int, params: VtrParams) -> int:
    """The GICH_APR of canonical levels (levels GICH_APR cannot hold are ignored: export
    refuses them first)."""
    return bitmaps.squeeze(levels, 1 << params.level_shift)


def _status(regs: VcpuRegs, lrs: tuple[int, ...], cpu: int, out: list[Violation]) -> None:
    given = {k: getattr(regs, k) for k in ("misr", "eisr0", "eisr1", "elrsr0", "elrsr1")}
    if all(v is None for v in given.values()):
        return
    derived = status_registers(VcpuRegs(regs.vtr, regs.hcr, regs.vmcr, regs.apr, lrs))
    for name, value in given.items():
        if value is not None and value != derived[name]:
            code = f"GICH-{name.rstrip('01').upper()}-MISMATCH"
            out.append(_v(code, cpu, f"gich.{name}",
                          f"supplied {value:#010x}, the registers imply {derived[name]:#010x}"))


# --- import --------------------------------------------------------------------------------
class ImportedState(GicState):
    """A `GicState` from `import_gich`, with what `lenient` normalized (empty otherwise)."""

    __slots__ = ("normalizations",)

    def __init__(self, state: GicState, normalizations: tuple[Violation, ...]) -> None:
        super().__init__(state._pb, state.schema_revision)
        self.normalizations = normalizations


def import_gich(view: GichView | str | bytes, *, lenient: bool = False,
                keep_hypervisor_context: bool = False) -> ImportedState:
    """Canonical state from a GICH view; raise `ValidationError` listing every problem.

    `lenient` normalizes only what gic-domain §6 marks benign (stale LR priority or group:
    the distributor's wins; binary points below the minimum: clamped; list registers
    beyond GICH_VTR: dropped) and reports each in `.normalizations`.
    `keep_hypervisor_context` carries HW=1 LRs, unserviced EOI maintenance and GICH_HCR
    into `state.hypervisor` instead of refusing them.
    """
    if not isinstance(view, GichView):
        view = parse_view(view)
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
    return ImportedState(state, tuple(norm))


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


def export_gich(state: GicState, target: GichTarget | None = None, *,
                lenient: bool = False) -> GichView:
    """A GICH view of `state` for `target` (default: GICH_VTR 0x90000003, EOI policy kvm).

    Raises `ValidationError` listing everything the target cannot hold. `lenient` drops
    what `plan_gich` lists as losses instead of refusing it.
    """
    return plan_gich(state, target, lenient=lenient)[0]


def plan_gich(state: GicState, target: GichTarget | None = None, *,
              lenient: bool = False) -> tuple[GichView, tuple[Violation, ...]]:
    """`export_gich`, and what `lenient` let go (empty in strict mode).

    The one lenient loss: with `--eoi-policy none` a latch marked latch_maybe_stale would
    be delivered again after the deactivation (the LR is pending + active, with no EOI
    maintenance to drop it); strict mode refuses it (GICH-EXPORT-LATCH-MAYBE-STALE),
    lenient mode drops the latch, as KVM would at the deactivation.
    """
    target = target or GichTarget()
    losses: list[Violation] = []
    if target.eoi_policy == "none":
        state = _drop_stale_latches(state, lenient, losses)
    return _place(state, target), tuple(losses)


def _drop_stale_latches(state: GicState, lenient: bool, losses: list[Violation]) -> GicState:
    sh = state.shared
    marked = [(c, b.latch_maybe_stale) for c, b in enumerate(state.banked) if b.latch_maybe_stale]
    if not marked and not sh.latch_maybe_stale:
        return state
    places = [labels.irq(v, c) for c, m in marked for v in bitmaps.set_bits(m)]
    places += [labels.irq(NUM_PRIVATE + k) for k in bitmaps.set_bits(sh.latch_maybe_stale)]
    how = "dropped, as KVM drops it at the deactivation" if lenient else "refused"
    found = [Violation("GICH-EXPORT-LATCH-MAYBE-STALE", p,
                       "the pending latch of this active level interrupt may be KVM's stale "
                       "one (latch_maybe_stale); a pending + active LR without EOI "
                       f"maintenance delivers it again after the deactivation ({how}; "
                       "--eoi-policy kvm keeps it as KVM does)") for p in places]
    if not lenient:
        raise ValidationError(found)
    losses.extend(found)
    st = state.copy()
    for b in st.banked:
        m = b.latch_maybe_stale
        if m:
            b.pending_latch &= ~m
            b.pending_split_unknown &= ~m
            b.latch_maybe_stale = 0
    m = sh.latch_maybe_stale
    st.shared.pending_latch &= ~m
    st.shared.pending_split_unknown &= ~m
    st.shared.latch_maybe_stale = 0
    return st


# --- import: the LR facts meet the distributor image -------------------------------------------
class _Irqs:
    """The interrupt state of a GicState as plain ints and bytearrays, written back once."""

    def __init__(self, st: GicState) -> None:
        sh = st.shared
        self.s_active, self.s_latch, self.s_line = sh.active, sh.pending_latch, sh.line_level
        self.s_edge, self.s_group, self.s_enabled = sh.edge, sh.group, sh.enabled
        self.s_prio, self.s_targets = sh.priority, sh.targets
        self.s_cpu = bytearray(sh.active_cpu)
        self.banks = st.banked
        b = self.banks
        self.b_active = [x.active for x in b]
        self.b_latch = [x.pending_latch for x in b]
        self.b_line = [x.line_level for x in b]
        self.b_edge = [x.edge for x in b]
        self.b_group = [x.group for x in b]
        self.b_enabled = [x.enabled for x in b]
        self.b_prio = [x.priority for x in b]
        self.srcs = [bytearray(x.sgi_sources) for x in b]
        self.asrc = [bytearray(x.sgi_active_source) for x in b]
        self.b_stale = [x.latch_maybe_stale for x in b]
        self.s_stale = sh.latch_maybe_stale

    def clone(self) -> _Irqs:
        """A copy whose mutable parts are not shared with this one."""
        twin = copy.copy(self)
        for name in ("b_active", "b_latch", "b_line"):
            setattr(twin, name, list(getattr(self, name)))
        twin.s_cpu = bytearray(self.s_cpu)
        twin.srcs = [bytearray(x) for x in self.srcs]
        twin.asrc = [bytearray(x) for x in self.asrc]
        return twin

    def group(self, v: int, c: int) -> int:
        return (self.b_group[c] >> v if v < NUM_PRIVATE else self.s_group >> (v - NUM_PRIVATE)) & 1

    def priority(self, v: int, c: int) -> int:
        return self.b_prio[c][v] if v < NUM_PRIVATE else self.s_prio[v - NUM_PRIVATE]

    def edge(self, v: int, c: int) -> int:
        return (self.b_edge[c] >> v if v < NUM_PRIVATE else self.s_edge >> (v - NUM_PRIVATE)) & 1

    def level_pending(self, v: int, c: int) -> int:
        if v < NUM_PRIVATE:
            return (self.b_latch[c] | self.b_line[c]) >> v & 1
        return (self.s_latch | self.s_line) >> (v - NUM_PRIVATE) & 1

    def write_back(self, st: GicState) -> None:
        sh = st.shared
        sh.active, sh.pending_latch, sh.line_level = self.s_active, self.s_latch, self.s_line
        sh.active_cpu = bytes(self.s_cpu)
        for c, b in enumerate(self.banks):
            b.active, b.pending_latch, b.line_level = (
                self.b_active[c], self.b_latch[c], self.b_line[c])
            b.sgi_sources, b.sgi_active_source = bytes(self.srcs[c]), bytes(self.asrc[c])


def _fold_into_image(image: GicState, folds: list[VcpuFold], lenient: bool,
                     norm: list[Violation]) -> GicState:
    st = image.copy()
    irqs = _Irqs(st)
    before = irqs.clone()
    out: list[Violation] = []
    holder: dict[int, int] = {}  # SPI ID -> the vCPU whose valid LR holds it
    marks = _SpiMarks(image.config.num_spis)
    for f in folds:
        _fold_lrs(irqs, before, f, holder, marks, lenient, out, norm)
    marks.apply(irqs)
    for f in folds:
        _ambiguous(before, f, holder, image.config.num_irqs, out)
    if out:
        raise ValidationError(out)
    irqs.write_back(st)
    _stale_latches(st, folds)
    _interfaces(st, image, folds, out)
    if out:
        raise ValidationError(out)
    return st


def _stale_latches(st: GicState, folds: list[VcpuFold]) -> None:
    """KVM's stale latch in a GICH view (gicmig.kvm_abi.maybe_stale_latch): an active-only
    list register with EOI (how KVM queues an active level interrupt) next to an image
    whose latch is set is marked latch_maybe_stale. A valid LR decides for its interrupt
    (pending + active in the LR is an explicit re-pend); elsewhere the image's mark stays."""
    sh, banks = st.shared, st.banked
    s_mark, b_mark = sh.latch_maybe_stale, [b.latch_maybe_stale for b in banks]
    for f in folds:
        c = f.cpu
        for fact in f.lrs:
            v = fact.intid
            kvm_active = int(fact.active and not fact.pending and fact.eoi
                             and fact.physical_id is None)
            if v < NUM_PRIVATE:
                b_mark[c] = b_mark[c] & ~(1 << v) | kvm_active << v
            else:
                k = v - NUM_PRIVATE
                s_mark = s_mark & ~(1 << k) | kvm_active << k
    for c, b in enumerate(banks):
        mark = maybe_stale_latch(b.pending_latch, b.active, b.edge) & b_mark[c]
        if mark != b.latch_maybe_stale:
            b.latch_maybe_stale = mark
    mark = maybe_stale_latch(sh.pending_latch, sh.active, sh.edge) & s_mark
    if mark != sh.latch_maybe_stale:
        sh.latch_maybe_stale = mark


def _fold_lrs(irqs: _Irqs, before: _Irqs, f: VcpuFold, holder: dict[int, int],
              marks: _SpiMarks, lenient: bool, out: list[Violation],
              norm: list[Violation]) -> None:
    """Fold one vCPU's valid LRs (hot: written for speed; messages built only on failure)."""
    c = f.cpu
    b_prio, b_group, b_edge = before.b_prio[c], before.b_group[c], before.b_edge[c]
    b_pend = before.b_latch[c] | before.b_line[c]
    s_prio, s_group, s_edge = before.s_prio, before.s_group, before.s_edge
    s_pend = before.s_latch | before.s_line
    srcs, asrc = irqs.srcs[c], irqs.asrc[c]
    for fact in f.lrs:
        v = fact.intid
        if v < NUM_PRIVATE:
            prio, grp, edge, pend = b_prio[v], b_group >> v & 1, b_edge >> v & 1, b_pend >> v & 1
        else:
            k = v - NUM_PRIVATE
            prio, grp, edge, pend = s_prio[k], s_group >> k & 1, s_edge >> k & 1, s_pend >> k & 1
            if holder.setdefault(v, c) != c:
                out.append(_v("GICH-LR-SPI-MULTIPLE-VCPUS", c, f"gich.lr{fact.lr_index}",
                              f"{labels.irq(v)} is also in a valid list register of "
                              f"cpu{holder[v]}"))
        if (prio ^ fact.priority) >> _VP_S or grp != fact.group:
            _disagree(fact, c, prio, grp, lenient, out, norm)
        if fact.pending and not edge and not pend:
            if fact.physical_id is None:
                out.append(_v("GICH-LR-LEVEL-PENDING-MISMATCH", c, f"gich.lr{fact.lr_index}",
                              f"level-triggered {labels.irq(v, c)} is pending in the LR, but "
                              "neither its latch nor its line is set in the distributor image"))
                continue
            _set_line(irqs, v, c)  # a HW-mapped level interrupt is pending by its physical line
        if v < NUM_SGIS:
            if fact.pending:
                srcs[v] |= 1 << fact.source
            asrc[v] = fact.source if fact.active else 0
        if v < NUM_PRIVATE:
            bit = 1 << v
            if fact.pending and edge and v >= NUM_SGIS:
                irqs.b_latch[c] |= bit
            irqs.b_active[c] = irqs.b_active[c] | bit if fact.active else irqs.b_active[c] & ~bit
        else:
            _fold_spi(irqs, before, marks, fact, c, edge, out)


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
    """SPI bits to set or clear, one byte per SPI: bitmaps are rebuilt once, not per LR."""

    SET, CLEAR = 1, 2

    def __init__(self, num_spis: int) -> None:
        self.active = bytearray(num_spis)
        self.latch = bytearray(num_spis)

    def _bitmap(self, marks: bytearray, value: int) -> int:
        digits = marks.translate(_ASCII_BIT[value])[::-1]  # ASCII '0'/'1', highest SPI first
        return int(digits, 2) if digits else 0

    def apply(self, irqs: _Irqs) -> None:
        if any(self.active):
            irqs.s_active = ((irqs.s_active | self._bitmap(self.active, self.SET))
                             & ~self._bitmap(self.active, self.CLEAR))
        if any(self.latch):
            irqs.s_latch |= self._bitmap(self.latch, self.SET)


def _fold_spi(irqs: _Irqs, before: _Irqs, marks: _SpiMarks, fact: LrFact, c: int, edge: int,
              out: list[Violation]) -> None:
    k = fact.intid - NUM_PRIVATE
    was = before.s_cpu[k] if before.s_active >> k & 1 else None
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
    irqs.s_cpu[k] = c if fact.active else 0


def _set_line(irqs: _Irqs, v: int, c: int) -> None:
    if v < NUM_PRIVATE:
        irqs.b_line[c] |= 1 << v
    else:
        irqs.s_line |= 1 << (v - NUM_PRIVATE)


def _ambiguous(img: _Irqs, f: VcpuFold, holder: dict[int, int], num_irqs: int,
               out: list[Violation]) -> None:
    """A free LR naming an interrupt the image holds live: did the guest finish it there?"""
    held = {x.intid for x in f.lrs}
    c = f.cpu
    for fact in f.named:
        v = fact.intid
        if v >= num_irqs or v in held or v in holder:
            continue
        if v < NUM_SGIS:
            live = img.b_active[c] >> v & 1 or img.srcs[c][v] >> fact.source & 1
        elif v < NUM_PRIVATE:
            live = (img.b_active[c] | img.b_latch[c]) >> v & 1
        else:
            k = v - NUM_PRIVATE
            live = (img.s_latch >> k & 1) or (
                img.s_active >> k & 1 and img.s_cpu[k] in (c, UNKNOWN_CPU))
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


# --- export ------------------------------------------------------------------------------------
class _Slot(NamedTuple):
    """An interrupt that gets a list register on one vCPU (sorts by priority, then ID)."""

    priority: int
    intid: int
    kind: str  # "active" (incl. HW-mapped), "eoi" (maintenance request), "pending"


def _place(state: GicState, target: GichTarget) -> GichView:
    if target.eoi_policy not in EOI_POLICIES:
        raise GicmigError("USAGE", f"EOI policy {target.eoi_policy!r} is not one of "
                          f"{', '.join(EOI_POLICIES)}")
    params = vtr_params(target.vtr, "target GICH_VTR")
    validate(state)
    if state.config.virtualization is not None:
        raise GicmigError("GICH-EXPORT-NESTED",
                          "the state's GIC has virtualization extensions; its GICH registers "
                          "are guest state, not a GICH view of it")
    irqs = _Irqs(state)
    out: list[Violation] = []
    _fit_priorities(state, irqs, params, out)
    _fit_interfaces(state, params, out)
    plans = _plan(state, irqs, params, out)
    if out:
        raise ValidationError(out)
    image = state.copy()
    image.drop_hypervisor_context()
    work = _Irqs(image)
    cfg = state.config
    hyp = state.hypervisor
    vcpus = []
    for c, slots in enumerate(plans):
        maps = {m.virtual_id: m.physical_id for m in hyp[c].hw_mappings} if hyp else {}
        lrs = [_encode(work, irqs, s, c, maps, target.eoi_policy) for s in slots]
        lrs += [0] * (params.num_lrs - len(lrs))
        ci = state.cpu[c]
        regs = VcpuRegs(target.vtr, hyp[c].hcr if hyp else _EN.put(0, 1),
                        arch_gich.vmcr_of(ci.ctlr, ci.pmr, ci.bpr, ci.abpr),
                        levels_to_apr(ci.active_group0 | ci.active_group1
                                      | ci.active_group_unknown, params), tuple(lrs))
        if target.status_registers:
            regs = VcpuRegs(regs.vtr, regs.hcr, regs.vmcr, regs.apr, regs.lr,
                            **status_registers(regs))
        vcpus.append(regs)
    work.write_back(image)
    for ci in image.cpu:
        ci.ctlr, ci.pmr, ci.bpr, ci.abpr = 0, 0, cfg.min_bpr, cfg.min_abpr
        ci.active_group0 = ci.active_group1 = ci.active_group_unknown = 0
    return GichView(tuple(vcpus), image)


def _fit_priorities(state: GicState, irqs: _Irqs, params: VtrParams,
                    out: list[Violation]) -> None:
    good = bytes(v for v in range(256) if not v & ~params.priority_mask)
    vectors = [(c, 0, p) for c, p in enumerate(irqs.b_prio)] + [(None, NUM_PRIVATE, irqs.s_prio)]
    for cpu, base, prio in vectors:
        if not prio.translate(None, good):
            continue
        bad = [base + k for k, p in enumerate(prio) if p & ~params.priority_mask]
        first = bad[0]
        p = irqs.priority(first, cpu or 0)
        out.append(Violation("GICH-EXPORT-PRIORITY", labels.irq(first, cpu),
                             f"priority {p:#04x} has bits below the {params.priority_bits} a "
                             f"GICH_LR holds (mask {params.priority_mask:#04x})"
                             + (f"; {len(bad) - 1} more on this bank" if len(bad) > 1 else "")))


def _fit_interfaces(state: GicState, params: VtrParams, out: list[Violation]) -> None:
    step = (1 << params.level_shift) - 1
    for c, ci in enumerate(state.cpu):
        if ci.pmr & ~params.priority_mask:
            out.append(_v("GICH-EXPORT-PMR", c, "gicc.pmr",
                          f"{ci.pmr:#04x}: GICH_VMCR.VMPriMask holds mask "
                          f"{params.priority_mask:#04x} only"))
        if ci.ctlr & ~arch_gich.VCPU_CTLR_MASK:
            names = ", ".join(GICC_CTLR.flags(ci.ctlr & ~arch_gich.VCPU_CTLR_MASK))
            out.append(_v("GICH-EXPORT-CTLR-BITS", c, "gicc.ctlr",
                          f"{ci.ctlr:#x}: {names} have no GICH_VMCR field"))
        if ci.bpr < params.min_bpr or ci.abpr < params.min_abpr:
            reg = "gicc.bpr" if ci.bpr < params.min_bpr else "gicc.abpr"
            out.append(_v("GICH-EXPORT-BINARY-POINT", c, reg,
                          f"BPR {ci.bpr} / ABPR {ci.abpr}: the target's VMBP/VMABP minima are "
                          f"{params.min_bpr} / {params.min_abpr}"))
        levels = ci.active_group0 | ci.active_group1 | ci.active_group_unknown
        for lv in bitmaps.set_bits(levels):
            if lv & step or lv >> params.level_shift >= 1 << params.preemption_bits:
                out.append(_v("GICH-EXPORT-APR-LEVEL", c, "gicc.active_priorities",
                              f"group priority {2 * lv:#04x} is active; the target's GICH_APR "
                              f"has {1 << params.preemption_bits} levels"))
    _fit_groups(state, out)


def _fit_groups(state: GicState, out: list[Violation]) -> None:
    """GICH_APR holds one set for both groups: the import of the view rebuilds the split by
    the attribution rule, so the state's split must be the one the rule gives."""
    if not any(ci.active_group0 | ci.active_group1 | ci.active_group_unknown
               for ci in state.cpu):
        return
    merged = state.copy()
    for ci in merged.cpu:
        ci.active_group_unknown |= ci.active_group0 | ci.active_group1
        ci.active_group0 = ci.active_group1 = 0
    attribute(merged)
    for c, (ci, re) in enumerate(zip(state.cpu, merged.cpu, strict=True)):
        have_all = (ci.active_group0, ci.active_group1, ci.active_group_unknown)
        want_all = (re.active_group0, re.active_group1, re.active_group_unknown)
        if have_all == want_all:
            continue
        for lv in bitmaps.set_bits(ci.active_group0 | ci.active_group1
                                   | ci.active_group_unknown):
            have = tuple(x >> lv & 1 for x in have_all)
            want = tuple(x >> lv & 1 for x in want_all)
            if have != want:
                out.append(_v("GICH-EXPORT-APR-GROUP-SPLIT", c, "gicc.active_priorities",
                              f"group priority {2 * lv:#04x} is {_groups(have)}; GICH_APR holds "
                              f"one set for both groups, and the active interrupts make it "
                              f"{_groups(want)} on import"))


def _groups(bits: tuple[int, ...]) -> str:
    names = [n for n, b in zip(("group 0", "group 1", "group-unknown"), bits, strict=True) if b]
    return " and ".join(names)


def _plan(state: GicState, irqs: _Irqs, params: VtrParams,
          out: list[Violation]) -> list[list[_Slot]]:
    cfg = state.config
    n = cfg.num_cpus
    must: list[list[_Slot]] = [[] for _ in range(n)]
    pending: list[list[_Slot]] = [[] for _ in range(n)]
    eoi: list[list[_Slot]] = [[] for _ in range(n)]
    grp_on = (state.enable_grp0, state.enable_grp1)
    hyp = state.hypervisor
    for c in range(n):
        _plan_private(irqs, c, grp_on, must[c], pending[c], out)
        if hyp:
            _plan_hyp(irqs, hyp[c].hw_mappings, hyp[c].eoi_maintenance, c, must[c], eoi[c], out)
    _plan_active_spis(irqs, must, out)
    rooms = [params.num_lrs - len(set(must[c])) - len(eoi[c]) for c in range(n)]
    _plan_pending_spis(irqs, n, grp_on, rooms, must, pending)
    plans = []
    for c in range(n):
        fixed = sorted(set(must[c]))
        disabled = bool(hyp) and not _EN.get(hyp[c].hcr)  # type: ignore[index]
        if disabled:
            # the kept GICH_HCR disables the interface: as in the source, nothing is queued
            # (with En = 0 a valid LR would hold state the guest cannot see)
            _disabled_interface(hyp[c].hw_mappings, c, out)  # type: ignore[index]
            fixed, pending[c] = [], []
        if len(fixed) + len(eoi[c]) > params.num_lrs:
            out.append(_v("GICH-EXPORT-LR-OVERFLOW", c, "gich.lr",
                          f"{len(fixed)} active or HW-mapped interrupts and {len(eoi[c])} EOI "
                          f"maintenance requests need list registers; the target has "
                          f"{params.num_lrs}"))
        room = params.num_lrs - len(fixed) - len(eoi[c])
        taken = {s.intid for s in fixed}
        queued = sorted(s for s in pending[c] if s.intid not in taken)[:max(room, 0)]
        plans.append(fixed + eoi[c] + queued)
    return plans


def _disabled_interface(maps: tuple[HwMapping, ...], c: int, out: list[Violation]) -> None:
    for m in maps:
        out.append(Violation("GICH-HCR-DISABLED", labels.irq(m.virtual_id, c),
                             f"HW-mapped to {m.physical_id}, but the kept GICH_HCR has En = 0: "
                             "no valid list register may carry the mapping"))


def _plan_private(irqs: _Irqs, c: int, grp_on: tuple[bool, bool], must: list[_Slot],
                  pending: list[_Slot], out: list[Violation]) -> None:
    act, prio = irqs.b_active[c], irqs.b_prio[c]
    for v in bitmaps.set_bits(act):
        if v < NUM_SGIS and irqs.asrc[c][v] == UNKNOWN_CPU:
            out.append(Violation("GICH-EXPORT-UNKNOWN", labels.irq(v, c),
                                 "active with an UNKNOWN source; its LR needs the CPUID"))
        must.append(_Slot(prio[v], v, "active"))
    sgi_pending = bitmaps.nonzero(irqs.srcs[c])
    ppi_pending = irqs.b_latch[c] | (~irqs.b_edge[c] & irqs.b_line[c])
    groups = irqs.b_group[c]
    ready = (sgi_pending | ppi_pending) & irqs.b_enabled[c] & ~act
    for v in bitmaps.set_bits(ready):
        if grp_on[groups >> v & 1]:
            pending.append(_Slot(prio[v], v, "pending"))


def _plan_hyp(irqs: _Irqs, maps: tuple[HwMapping, ...], eoi_ids: int, c: int,
              must: list[_Slot], eoi: list[_Slot], out: list[Violation]) -> None:
    for m in maps:
        v = m.virtual_id
        live = (irqs.b_active[c] | irqs.b_latch[c] | irqs.b_line[c]) >> v & 1 if v < NUM_PRIVATE \
            else (irqs.s_active | irqs.s_latch | irqs.s_line) >> (v - NUM_PRIVATE) & 1
        if not live:
            out.append(Violation("GICH-EXPORT-HW-IDLE", labels.irq(v, c),
                                 f"HW-mapped to physical ID {m.physical_id} but neither pending "
                                 "nor active: no list register would carry the mapping"))
        must.append(_Slot(irqs.priority(v, c), v, "active"))
    for v in bitmaps.set_bits(eoi_ids):
        eoi.append(_Slot(irqs.priority(v, c), v, "eoi"))


def _plan_active_spis(irqs: _Irqs, must: list[list[_Slot]], out: list[Violation]) -> None:
    for k in bitmaps.set_bits(irqs.s_active):
        c = irqs.s_cpu[k]
        if c == UNKNOWN_CPU:
            out.append(Violation("GICH-EXPORT-UNKNOWN", labels.irq(NUM_PRIVATE + k),
                                 "active on an UNKNOWN CPU; only that vCPU's LR may hold it"))
            continue
        must[c].append(_Slot(irqs.s_prio[k], NUM_PRIVATE + k, "active"))


# the lowest CPU in a target mask (KVM queues an SPI there); 8 = no target
_LOWEST_TARGET = bytes((t & -t).bit_length() - 1 if t else 8 for t in range(256))


def _plan_pending_spis(irqs: _Irqs, n: int, grp_on: tuple[bool, bool], rooms: list[int],
                       must: list[list[_Slot]], pending: list[list[_Slot]]) -> None:
    """Per CPU, the `rooms[c]` best pending SPIs queued there (no more can get an LR)."""
    group = irqs.s_group if grp_on == (False, True) else ~irqs.s_group if grp_on == (
        True, False) else -1 if grp_on == (True, True) else 0
    ready = ((irqs.s_latch | (~irqs.s_edge & irqs.s_line)) & irqs.s_enabled & ~irqs.s_active
             & group)
    if not ready or max(rooms) <= 0:
        return
    flags = bin(ready)[:1:-1]
    order = [k for k, bit in enumerate(flags) if bit == "1"]
    prio = irqs.s_prio
    order.sort(key=prio.__getitem__)  # stable: equal priorities stay in ID order
    where = irqs.s_targets.translate(_LOWEST_TARGET) if n > 1 else bytes(len(prio))
    left = [max(r, 0) for r in rooms] + [0] * (9 - n)  # index 8: untargeted
    taken = {s.intid for c in range(n) for s in must[c]}
    wanted = sum(left)
    for k in order:
        c = where[k]
        if left[c] and NUM_PRIVATE + k not in taken:
            pending[c].append(_Slot(prio[k], NUM_PRIVATE + k, "pending"))
            left[c] -= 1
            wanted -= 1
            if not wanted:
                break


def _encode(work: _Irqs, irqs: _Irqs, slot: _Slot, c: int, maps: dict[int, int],
            policy: str) -> int:
    """The LR for `slot`; moves the LR-held pending state out of the image `work`."""
    v = slot.intid
    private = v < NUM_PRIVATE
    k = v if private else v - NUM_PRIVATE
    grp = (irqs.b_group[c] if private else irqs.s_group) >> k & 1
    common = v << _VID_S | (slot.priority >> _VP_S & _VP_M) << _PRIO_S | grp << _GRP1_S
    if slot.kind == "eoi":
        return common | 1 << _EOI_S
    active = (irqs.b_active[c] if private else irqs.s_active) >> k & 1
    if v < NUM_SGIS:
        return _encode_sgi(work, irqs, v, c, bool(active), policy, common)
    edge = (irqs.b_edge[c] if private else irqs.s_edge) >> k & 1
    latch = (irqs.b_latch[c] if private else irqs.s_latch) >> k & 1
    pend = latch if edge else latch | (irqs.b_line[c] if private else irqs.s_line) >> k & 1
    if edge and pend:
        _clear_latch(work, v, c)
    if v in maps:
        state = GICH_LR_STATE.pack(pending=pend, active=active)
        return GICH_LR_HW.pack(virtual_id=v, priority=slot.priority >> _VP_S, grp1=grp, hw=1,
                               physical_id=maps[v], state=state)
    stale = (irqs.b_stale[c] if private else irqs.s_stale) >> k & 1
    if not edge and active and policy == "kvm" and (stale or not latch):
        # KVM keeps a level interrupt's pending state back while it is active: the line
        # (resampled at the deactivation) and a latch that may be its stale one stay in
        # the image. A known latch (a re-pend after the acknowledge) goes into the LR as
        # pending + active, so that the guest takes it again after the deactivation.
        pend = 0
    eoi = int(not edge and policy == "kvm")
    state = (_PEND_BIT if pend else 0) | (_ACT_BIT if active else 0)
    return common | eoi << _EOI_S | state << _STATE_S


def _clear_latch(work: _Irqs, v: int, c: int) -> None:
    if v < NUM_PRIVATE:
        work.b_latch[c] &= ~(1 << v)
    else:
        work.s_latch &= ~(1 << (v - NUM_PRIVATE))


def _encode_sgi(work: _Irqs, irqs: _Irqs, v: int, c: int, active: bool, policy: str,
                common: int) -> int:
    sources = irqs.srcs[c][v]
    if active:
        src = irqs.asrc[c][v]
        pend = int(policy == "none" and bool(sources >> src & 1))
        eoi = int(policy == "kvm" and sources != 0)
    else:
        src = (sources & -sources).bit_length() - 1
        pend, eoi = 1, int(policy == "kvm" and sources != 1 << src)
    if pend:
        work.srcs[c][v] &= ~(1 << src)
    state = (_PEND_BIT if pend else 0) | (_ACT_BIT if active else 0)
    return common | src << _CPUID_S | eoi << _EOI_S | state << _STATE_S


# --- nested: the GICH registers a guest hypervisor programmed ----------------------------------
@dataclass(frozen=True)
class NestedCpu:
    """One CPU's GICH registers, as programmed by a guest that is itself a hypervisor,
    folded into its own guest's CPU interface; `problems` is empty when that worked."""

    cpu: int
    fold: VcpuFold | None
    problems: tuple[Violation, ...]


def fold_groups(fold: VcpuFold) -> tuple[int, int, int]:
    """(group 0, group 1, unknown) of a folded vCPU's active levels when its LRs are all a
    converter sees (the nested fold: the guest hypervisor's distributor is in its memory).

    The attribution rule runs on the active LRs. A hypervisor keeps an active interrupt
    out of the LRs only when they are all taken (the guest's EOI of an interrupt outside
    them reaches only GICH_HCR.EOICount; KVM fills LRs with active interrupts first,
    real-implementations.md §2), so with every LR active there may be active interrupts
    we cannot see and no level is attributed.
    """
    active = [(f.priority, f.group) for f in fold.lrs if f.active]
    complete = len(active) < fold.params.num_lrs
    return split_active_levels(fold.active_levels, active, fold.ctlr, fold.bpr, fold.abpr,
                               complete=complete)


def fold_nested(state: GicState, *, lenient: bool = False,
                keep_hypervisor_context: bool = False) -> list[NestedCpu]:
    """Fold every CPU's virtual interface of a GIC that has the virtualization extensions
    (e.g. a QEMU TCG stream with virtualization=on). The nested guest's distributor lives
    in the guest hypervisor's memory, so only the quiescence checks and the CPU-interface
    fold run; a view that is not quiescent is refused with the converter's reason codes."""
    virt = state.config.virtualization
    if virt is None:
        raise GicmigError("GICH-NESTED-NO-VIRTUALIZATION",
                          "the GIC has no virtualization extensions: there is no nested guest")
    out = []
    for c, v in enumerate(state.virtual):
        regs = VcpuRegs(vtr=virt.vtr, hcr=v.hcr, vmcr=v.vmcr, apr=v.apr, lr=v.lr)
        try:
            fold = fold_vcpu(regs, c, lenient=lenient,
                             keep_hypervisor_context=keep_hypervisor_context)
            out.append(NestedCpu(c, fold, ()))
        except ValidationError as exc:
            out.append(NestedCpu(c, None, exc.violations))
    return out
