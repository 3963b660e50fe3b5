"""GICH export: place a state's interrupts into list registers deterministically, and
refuse the states the target cannot hold."""

from __future__ import annotations

from operator import attrgetter
from typing import NamedTuple

from gicmig.abi.kvm import lowest_target
from gicmig.arch import bitmaps, labels
from gicmig.arch import gich as arch_gich
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.lr import encode as encode_lr
from gicmig.arch.registers import GICC_CTLR
from gicmig.core.attribution import split_active_levels
from gicmig.core.irqtable import IrqTable, PrivateBank, SharedBank, TableBuilder
from gicmig.core.model import UNKNOWN_CPU, GicState, HwMapping
from gicmig.core.rules import validate
from gicmig.errors import GicmigError, ValidationError, Violation
from gicmig.views.gich.fold import _v
from gicmig.views.gich.params import (
    _EN,
    EOI_POLICIES,
    GichTarget,
    VtrParams,
    levels_to_apr,
    vtr_params,
)
from gicmig.views.gich.viewfile import GichView, VcpuRegs


def export_gich(state: GicState, target: GichTarget | None = None, *,
                lenient: bool = False) -> GichView:
    """A GICH view of `state` for `target` (default: GICH_VTR 0x90000003, EOI policy kvm).

    Raises `ValidationError` listing everything the target cannot hold. `lenient` drops
    what `plan_gich` lists as losses instead of refusing it.

    >>> view = gicmig.export_gich(gicmig.load("fixtures/v1/busy.json"))
    >>> len(view.vcpus), hex(view.vcpus[0].vtr)
    (2, '0x90000003')
    >>> gicmig.import_gich(view.to_json().encode()) == gicmig.load("fixtures/v1/busy.json")
    True
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
    irqs = IrqTable.of(state)
    out: list[Violation] = []
    _fit_priorities(state, irqs, params, out)
    cpus = _fit_interfaces(state, irqs, params, out)
    plans = _plan(state, irqs, params, out)
    if out:
        raise ValidationError(out)
    image = state.copy()
    image.drop_hypervisor_context()
    work = irqs.builder()  # the image's interrupts are the state's: the LRs take theirs out
    cfg = state.config
    hyp = state.hypervisor
    vcpus = []
    for c, slots in enumerate(plans):
        maps = {m.virtual_id: m.physical_id for m in hyp[c].hw_mappings} if hyp else {}
        lrs = [_encode(work, irqs, s, c, maps, target.eoi_policy) for s in slots]
        lrs += [0] * (params.num_lrs - len(lrs))
        ctlr, pmr, bpr, abpr, g0, g1, unk = cpus[c]
        hcr = hyp[c].hcr if hyp else _HCR_EN
        vmcr = arch_gich.vmcr_of(ctlr, pmr, bpr, abpr)
        apr = levels_to_apr(g0 | g1 | unk, params)
        status = arch_gich.status_registers(hcr, vmcr, lrs) if target.status_registers else {}
        regs = VcpuRegs(target.vtr, hcr, vmcr, apr, tuple(lrs), **status)
        vcpus.append(regs)
    work.build().write_to(image, since=irqs)
    # the image's CPU interfaces are at reset: the view's VMCR/APR hold them
    reset = (0, 0, cfg.min_bpr, cfg.min_abpr, 0, 0, 0)
    for ci, was in zip(image.cpu, cpus, strict=True):
        for name, value, old in zip(_CPU_FIELDS, reset, was, strict=True):
            if value != old:
                setattr(ci, name, value)
    return GichView(tuple(vcpus), image)


_HCR_EN = _EN.mask  # GICH_HCR with only En set: what a hypervisor runs a vCPU with


def _fit_priorities(state: GicState, irqs: IrqTable, params: VtrParams,
                    out: list[Violation]) -> None:
    good = params.held_priorities
    vectors = [(c, 0, b.priority) for c, b in enumerate(irqs.private)] + [
        (None, NUM_PRIVATE, irqs.shared.priority)]
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


def _fit_interfaces(state: GicState, irqs: IrqTable, params: VtrParams,
                    out: list[Violation]) -> list[_Cpu]:
    """Refuse the CPU interfaces the target's VMCR/APR cannot hold; return each as read
    (its `_CPU_FIELDS`)."""
    cpus: list[_Cpu] = [_CPU_GET(ci) for ci in state.cpu]  # each CPU interface read once
    for c, (ctlr, pmr, bpr, abpr, g0, g1, unk) in enumerate(cpus):
        if pmr & ~params.priority_mask:
            out.append(_v("GICH-EXPORT-PMR", c, "gicc.pmr",
                          f"{pmr:#04x}: GICH_VMCR.VMPriMask holds mask "
                          f"{params.priority_mask:#04x} only"))
        if ctlr & ~arch_gich.VCPU_CTLR_MASK:
            names = ", ".join(GICC_CTLR.flags(ctlr & ~arch_gich.VCPU_CTLR_MASK))
            out.append(_v("GICH-EXPORT-CTLR-BITS", c, "gicc.ctlr",
                          f"{ctlr:#x}: {names} have no GICH_VMCR field"))
        if bpr < params.min_bpr or abpr < params.min_abpr:
            reg = "gicc.bpr" if bpr < params.min_bpr else "gicc.abpr"
            out.append(_v("GICH-EXPORT-BINARY-POINT", c, reg,
                          f"BPR {bpr} / ABPR {abpr}: the target's VMBP/VMABP minima are "
                          f"{params.min_bpr} / {params.min_abpr}"))
        # levels stop at 127: only the granularity can be wrong
        for lv in bitmaps.set_bits((g0 | g1 | unk) & ~params.apr_levels):
            out.append(_v("GICH-EXPORT-APR-LEVEL", c, "gicc.active_priorities",
                          f"group priority {2 * lv:#04x} is active; the target's GICH_APR "
                          f"has {params.group_levels} levels"))
    _fit_groups(cpus, irqs, out)
    return cpus


# a CPU interface's fields that the export reads, in one call
_CPU_FIELDS = ("ctlr", "pmr", "bpr", "abpr", "active_group0", "active_group1",
               "active_group_unknown")
_CPU_GET = attrgetter(*_CPU_FIELDS)
_Cpu = tuple[int, int, int, int, int, int, int]


def _fit_groups(cpus: list[_Cpu], irqs: IrqTable, out: list[Violation]) -> None:
    """GICH_APR holds one set for both groups: the import of the view rebuilds the split by
    the attribution rule (gicmig.core.attribution), so the state's split must be the one
    the rule gives. Every active SPI the view can hold sits in the LRs of its CPU; one of
    UNKNOWN CPU (refused anyway: GICH-EXPORT-UNKNOWN) counts as possibly active anywhere."""
    splits = [(g0, g1, unk) for _, _, _, _, g0, g1, unk in cpus]
    if not any(g0 | g1 | unk for g0, g1, unk in splits):
        return
    n = len(cpus)
    known: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    maybe: list[tuple[int, int]] = []
    for k in bitmaps.set_bits(irqs.shared.active):
        on, entry = irqs.shared.active_cpu[k], (irqs.shared.priority[k], irqs.shared.group >> k & 1)
        (known[on] if on < n else maybe).append(entry)
    for c, (ctlr, _, bpr, abpr, *_) in enumerate(cpus):
        have_all = splits[c]
        levels = have_all[0] | have_all[1] | have_all[2]
        if not levels:
            continue
        prio, grp = irqs.private[c].priority, irqs.private[c].group
        active = [(prio[v], grp >> v & 1) for v in bitmaps.set_bits(irqs.private[c].active)]
        want_all = split_active_levels(levels, active + known[c], ctlr, bpr, abpr, maybe=maybe)
        if have_all == want_all:
            continue
        for lv in bitmaps.set_bits(levels):
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


def _plan(state: GicState, irqs: IrqTable, params: VtrParams,
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


def _plan_private(irqs: IrqTable, c: int, grp_on: tuple[bool, bool], must: list[_Slot],
                  pending: list[_Slot], out: list[Violation]) -> None:
    b = irqs.private[c]
    act, prio = b.active, b.priority
    for v in bitmaps.set_bits(act):
        if v < NUM_SGIS and b.sgi_active_source[v] == UNKNOWN_CPU:
            out.append(Violation("GICH-EXPORT-UNKNOWN", labels.irq(v, c),
                                 "active with an UNKNOWN source; its LR needs the CPUID"))
        must.append(_Slot(prio[v], v, "active"))
    sgi_pending = bitmaps.nonzero(b.sgi_sources)
    ppi_pending = b.pending_latch | (~b.edge & b.line_level)
    groups = b.group
    ready = (sgi_pending | ppi_pending) & b.enabled & ~act
    for v in bitmaps.set_bits(ready):
        if grp_on[groups >> v & 1]:
            pending.append(_Slot(prio[v], v, "pending"))


def _plan_hyp(irqs: IrqTable, maps: tuple[HwMapping, ...], eoi_ids: int, c: int,
              must: list[_Slot], eoi: list[_Slot], out: list[Violation]) -> None:
    for m in maps:
        v = m.virtual_id
        bank: PrivateBank | SharedBank = irqs.private[c] if v < NUM_PRIVATE else irqs.shared
        k = v if v < NUM_PRIVATE else v - NUM_PRIVATE
        live = (bank.active | bank.pending_latch | bank.line_level) >> k & 1
        if not live:
            out.append(Violation("GICH-EXPORT-HW-IDLE", labels.irq(v, c),
                                 f"HW-mapped to physical ID {m.physical_id} but neither pending "
                                 "nor active: no list register would carry the mapping"))
        must.append(_Slot(irqs.priority(v, c), v, "active"))
    for v in bitmaps.set_bits(eoi_ids):
        eoi.append(_Slot(irqs.priority(v, c), v, "eoi"))


def _plan_active_spis(irqs: IrqTable, must: list[list[_Slot]], out: list[Violation]) -> None:
    for k in bitmaps.set_bits(irqs.shared.active):
        c = irqs.shared.active_cpu[k]
        if c == UNKNOWN_CPU:
            out.append(Violation("GICH-EXPORT-UNKNOWN", labels.irq(NUM_PRIVATE + k),
                                 "active on an UNKNOWN CPU; only that vCPU's LR may hold it"))
            continue
        must[c].append(_Slot(irqs.shared.priority[k], NUM_PRIVATE + k, "active"))


# target mask -> the CPU KVM queues the SPI to (8: no target), as a translate() table
_LOWEST_TARGET = bytes(map(lowest_target, range(256)))


def _plan_pending_spis(irqs: IrqTable, n: int, grp_on: tuple[bool, bool], rooms: list[int],
                       must: list[list[_Slot]], pending: list[list[_Slot]]) -> None:
    """Per CPU, the `rooms[c]` best pending SPIs queued there (no more can get an LR)."""
    sh = irqs.shared
    group = sh.group if grp_on == (False, True) else ~sh.group if grp_on == (
        True, False) else -1 if grp_on == (True, True) else 0
    ready = (sh.pending_latch | (~sh.edge & sh.line_level)) & sh.enabled & ~sh.active & group
    if not ready or max(rooms) <= 0:
        return
    flags = bin(ready)[:1:-1]
    order = [k for k, bit in enumerate(flags) if bit == "1"]
    prio = irqs.shared.priority
    order.sort(key=prio.__getitem__)  # stable: equal priorities stay in ID order
    where = irqs.shared.targets.translate(_LOWEST_TARGET) if n > 1 else bytes(len(prio))
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


def _encode(work: TableBuilder, irqs: IrqTable, slot: _Slot, c: int, maps: dict[int, int],
            policy: str) -> int:
    """The LR for `slot`; moves the LR-held pending state out of the image `work`."""
    v = slot.intid
    private = v < NUM_PRIVATE
    k = v if private else v - NUM_PRIVATE
    bank: PrivateBank | SharedBank = irqs.private[c] if private else irqs.shared
    grp = bank.group >> k & 1
    if slot.kind == "eoi":
        return encode_lr(v, group=grp, priority=slot.priority, eoi=True)
    active = bank.active >> k & 1
    if v < NUM_SGIS:
        return _encode_sgi(work, irqs, slot, c, grp, bool(active), policy)
    edge = bank.edge >> k & 1
    latch = bank.pending_latch >> k & 1
    pend = latch if edge else latch | bank.line_level >> k & 1
    if edge and pend:
        work.clear_latch(v, c)
    if v in maps:
        return encode_lr(v, pending=bool(pend), active=bool(active), group=grp,
                         priority=slot.priority, physical_id=maps[v])
    stale = bank.latch_maybe_stale >> k & 1
    if not edge and active and policy == "kvm" and (stale or not latch):
        # KVM keeps a level interrupt's pending state back while it is active: the line
        # (resampled at the deactivation) and a latch that may be its stale one stay in
        # the image. A known latch (a re-pend after the acknowledge) goes into the LR as
        # pending + active, so that the guest takes it again after the deactivation.
        pend = 0
    return encode_lr(v, pending=bool(pend), active=bool(active), group=grp,
                     priority=slot.priority, eoi=not edge and policy == "kvm")


def _encode_sgi(work: TableBuilder, irqs: IrqTable, slot: _Slot, c: int, grp: int, active: bool,
                policy: str) -> int:
    v = slot.intid
    sources = irqs.private[c].sgi_sources[v]
    if active:
        src = irqs.private[c].sgi_active_source[v]
        pend = policy == "none" and bool(sources >> src & 1)
        eoi = policy == "kvm" and sources != 0
    else:
        src = bitmaps.lowest(sources)
        pend, eoi = True, policy == "kvm" and sources != 1 << src
    if pend:
        work.srcs[c][v] &= ~(1 << src)
    return encode_lr(v, pending=pend, active=active, group=grp, priority=slot.priority,
                     cpuid=src, eoi=eoi)
