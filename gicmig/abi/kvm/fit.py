"""What KVM's vgic-v2 can hold, and the writes that restore a state into it.

Strict mode refuses the rest with reason codes; lenient mode brings the state to the
nearest one KVM holds and names every loss. Used by the KVM view's export and by QEMU's
kvm-arm-gic encoding (which saves what KVM holds)."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from functools import reduce
from operator import or_
from typing import TypeVar

from gicmig.abi.kvm import (
    kvm_iidr,
    lowest_target,
    maybe_stale_latch,
)
from gicmig.abi.kvm.access import Access, KvmDump
from gicmig.abi.kvm.image import ordered_writes, register_image
from gicmig.abi.kvm.layout import APR_MASK, LEVEL_STEP, kvm_pmr, pmr_of_kvm
from gicmig.arch import bitmaps, labels
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS, SGI_MASK
from gicmig.arch.priority import priority_mask
from gicmig.arch.registers import (
    GICC_CTLR,
    GICD_IIDR,
    KVM_GICC_CTLR,
    KVM_IIDR_GROUPS_WRITABLE,
    KVM_IIDR_REVISIONS,
    KVM_MIN_BPR,
    KVM_NR_IRQS_MAX,
    KVM_NR_IRQS_MIN,
    KVM_PRIORITY_BITS,
)
from gicmig.core.attribution import attribute
from gicmig.core.irqtable import IrqTable, PrivateBank, SharedBank
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.core.rules import validate
from gicmig.errors import GicmigError, ValidationError, Violation

_T = TypeVar("_T")
_KEPT = priority_mask(KVM_PRIORITY_BITS)  # the priority bits KVM keeps (VGIC_PRI_BITS)
# a fitting step: yields the losses, returns the part of the interrupt table KVM holds
Fitting = Generator[Violation, None, _T]


class KvmUnrepresentable(ValidationError):
    """A state KVM's device ABI cannot hold (strict export); `.violations` lists why."""


# =========================================================================================
# export
# =========================================================================================
@dataclass(frozen=True)
class KvmExport:
    """The ordered writes, and what lenient mode let go (empty in strict mode)."""

    writes: tuple[Access, ...]
    losses: tuple[Violation, ...]


def export_kvm(state: GicState, *, lenient: bool = False,
               iidr_revision: int | None = None) -> list[Access]:
    """The writes (KVM_SET_DEVICE_ATTR, in order) that restore `state` into a KVM GICv2.

    `iidr_revision` is the KVM implementation revision to select in the destination
    (1-3; below 2 KVM ignores IGROUPR writes). By default it is the source's, when the
    state came from a KVM with revision 2 or 3, else 2. Strict mode raises
    `KvmUnrepresentable` listing everything KVM cannot hold; lenient mode writes the
    nearest state KVM can hold.

    >>> writes = gicmig.export_kvm(gicmig.import_kvm("fixtures/kvm/two-vcpu.json"))
    >>> writes[0].group, writes[0].offset  # GICD_IIDR first: it selects the revision
    ('dist', 8)
    """
    return list(plan_kvm(state, lenient=lenient, iidr_revision=iidr_revision).writes)


def plan_kvm(state: GicState, *, lenient: bool = False,
             iidr_revision: int | None = None) -> KvmExport:
    rev = _revision(state, iidr_revision)
    fitted, losses = fit_kvm(state, lenient=lenient, iidr_revision=rev)
    return KvmExport(tuple(ordered_writes(fitted, rev)), tuple(losses))


def _revision(state: GicState, given: int | None) -> int:
    if given is not None:
        return given
    iidr = state.provenance.gicd_iidr
    if iidr is not None and (iidr & ~GICD_IIDR.field("revision").mask) == kvm_iidr(0):
        rev = GICD_IIDR.field("revision").get(iidr)
        if rev >= KVM_IIDR_GROUPS_WRITABLE:
            return rev
    return KVM_IIDR_GROUPS_WRITABLE


def dump_kvm(state: GicState, *, lenient: bool = False,
             iidr_revision: int | None = None) -> KvmDump:
    """The complete register dump KVM would return after `state` was restored into it."""
    rev = _revision(state, iidr_revision)
    fitted, _ = fit_kvm(state, lenient=lenient, iidr_revision=rev)
    p = fitted.provenance
    image = register_image(fitted, rev)
    return KvmDump(fitted.config.num_irqs, tuple(image), p.vmm, p.vmm_version, p.host_kernel)


def fit_kvm(state: GicState, *, lenient: bool = False,
            iidr_revision: int | None = None) -> tuple[GicState, list[Violation]]:
    """A copy of `state` as KVM will hold it, and the losses on the way.

    Strict mode raises `KvmUnrepresentable` if there is any loss.
    """
    validate(state)
    iidr_revision = _revision(state, iidr_revision)
    if iidr_revision not in KVM_IIDR_REVISIONS:
        raise GicmigError("USAGE", f"KVM IIDR revision {iidr_revision} is not one of "
                          f"{', '.join(map(str, KVM_IIDR_REVISIONS))}")
    hard = list(_hard_limits(state))
    if hard:
        raise KvmUnrepresentable(hard)
    fitted = state.copy()
    losses = list(_fit(fitted, iidr_revision))
    # what an import of KVM's readback derives again (the ABI carries neither fact)
    attribute(fitted)
    if losses and not lenient:
        raise KvmUnrepresentable(losses)
    return fitted, losses


def _v(code: str, where: str, message: str) -> Violation:
    return Violation(code, where, message)


def _hard_limits(state: GicState) -> Iterator[Violation]:
    """What no mode can write: the device itself differs."""
    cfg = state.config
    if not (KVM_NR_IRQS_MIN <= cfg.num_irqs <= KVM_NR_IRQS_MAX):
        yield _v("KVM-EXPORT-NUM-IRQS", "config.num_irqs",
                 f"{cfg.num_irqs} interrupt IDs; KVM's NR_IRQS takes "
                 f"{KVM_NR_IRQS_MIN}..{KVM_NR_IRQS_MAX}")


def _fit(st: GicState, iidr_revision: int) -> Iterator[Violation]:
    """Turn `st` into what KVM holds, yielding one violation per kind of loss."""
    yield from _fit_virtualization(st)
    yield from _fit_distributor(st)
    table = IrqTable.of(st)  # every interrupt read once; the fitted banks go back in one write
    private, shared = yield from _fit_groups(table, iidr_revision)
    for c in st.cpus():
        private[c] = yield from _fit_banked(private[c], c)
        yield from _fit_cpu(st, c)
    shared = yield from _fit_shared(shared)
    IrqTable(tuple(private), shared).write_to(st, since=table)
    if st.hypervisor is not None:
        st.drop_hypervisor_context()
        yield _v("KVM-EXPORT-HYPERVISOR-CONTEXT", "hypervisor",
                 "hypervisor context (HW mappings, GICH_HCR, EOI maintenance) has no place "
                 "in the device ABI; dropped")


def _fit_virtualization(st: GicState) -> Iterator[Violation]:
    """A GIC with virtualization extensions (QEMU TCG, virtualization=on): its guest is a
    hypervisor whose GICH registers are guest state KVM's GICv2 device cannot hold."""
    virt = st.config.virtualization
    if virt is None:
        return
    yield _v("KVM-EXPORT-VIRTUALIZATION", "config.virtualization",
             f"the GIC has virtualization extensions ({virt.num_lrs} list registers); KVM's "
             "GICv2 device has none (lenient: a GIC without them)")
    for c, v in enumerate(st.virtual):
        held = [(n, lr) for n, lr in enumerate(v.lr) if lr]
        lrs = ", ".join(f"LR{n} {lr:#010x}" for n, lr in held) or "no list register in use"
        yield _v("KVM-EXPORT-VIRTUALIZATION", labels.cpu_reg(c, "gich"),
                 f"the guest hypervisor's GICH registers: HCR {v.hcr:#010x}, VMCR "
                 f"{v.vmcr:#010x}, APR {v.apr:#010x}, {lrs} (lenient: dropped; the nested "
                 "guest's interrupts they hold are lost)")
    st._pb.config.ClearField("virtualization")
    del st._pb.state.virtual[:]


def _fit_distributor(st: GicState) -> Iterator[Violation]:
    if not st.enable_grp1_unknown and st.enable_grp0 != st.enable_grp1:
        yield _v("KVM-EXPORT-ENABLE-GROUPS-DIFFER", "gicd.ctlr",
                 f"EnableGrp0 {int(st.enable_grp0)} != EnableGrp1 {int(st.enable_grp1)}; "
                 "KVM has one enable for both groups (lenient: enabled if either is)")
        st.enable_grp0 = st.enable_grp0 or st.enable_grp1
    st.enable_grp1, st.enable_grp1_unknown = False, True


def _fit_groups(table: IrqTable, iidr_revision: int) -> Fitting[
        tuple[list[PrivateBank], SharedBank]]:
    private, shared = list(table.private), table.shared
    if iidr_revision < KVM_IIDR_GROUPS_WRITABLE:
        groups = [c for c, b in enumerate(private) if b.group]
        if groups or shared.group:
            where = f"cpu{groups[0]} banked" if groups else "shared"
            yield _v("KVM-EXPORT-GROUPS-IGNORED", f"{where} group",
                     f"Group 1 interrupts, but KVM IIDR revision {iidr_revision} ignores "
                     "IGROUPR writes (revision 2 or later makes them take effect)")
            private = [replace(b, group=0) for b in private]
            shared = replace(shared, group=0)
    return private, shared


def _low_bits(prio: bytes) -> list[int]:
    return [k for k, p in enumerate(prio) if p & ~_KEPT]


def _priority_list(prio: bytes, bad: list[int], base: int) -> str:
    """`irq 17 0x34 -> 0x30, ...`: every priority a lenient export masks."""
    return ", ".join(f"irq {base + k} {prio[k]:#04x} -> {prio[k] & _KEPT:#04x}" for k in bad)


def _lines(line: int, base: int) -> str:
    """`irq 25, irq 27`: every input line a lenient export turns into a latch."""
    return ", ".join(f"irq {base + k}" for k in bitmaps.set_bits(line))


def _masked(prio: bytes) -> bytes:
    return bytes(p & _KEPT for p in prio)


def _fit_banked(b: PrivateBank, c: int) -> Fitting[PrivateBank]:
    prio, edge, latch, line = b.priority, b.edge, b.pending_latch, b.line_level
    bad = _low_bits(prio)
    if bad:
        k = bad[0]
        yield _v("KVM-EXPORT-PRIORITY-BITS", labels.irq(k, c),
                 f"priority {prio[k]:#04x} sets bits below the 5 KVM implements "
                 f"(interrupts of this CPU so affected: {len(bad)}: "
                 f"{_priority_list(prio, bad, 0)}; lenient: masked)")
        prio = _masked(prio)
    ppi_edge = edge & ~SGI_MASK
    if ppi_edge:
        k = bitmaps.lowest(ppi_edge)
        yield _v("KVM-EXPORT-PPI-EDGE", labels.irq(k, c),
                 "edge-triggered PPI; KVM's PPIs are level-triggered and read-only "
                 "(lenient: level)")
        edge &= SGI_MASK
    yield from _fit_active_latch(latch, b.active, edge, b.latch_maybe_stale, c, 0)
    if line:
        k = bitmaps.lowest(line)
        yield _v("KVM-EXPORT-LINE-LEVEL", labels.irq(k, c),
                 "input line level 1; the ABI can only set the pending latch, which would "
                 f"outlive the line (lines high on this CPU: {_lines(line, 0)}; "
                 "lenient: restored as pending latch)")
        latch |= line & ~edge
        line = 0
    sources = yield from _fit_active_sgis(b, c)
    # KVM holds the latch exactly, but reads back only latch OR line; that of an active
    # level interrupt may be the stale one (kept: KVM clears it at the deactivation)
    return replace(b, priority=prio, edge=edge, pending_latch=latch, line_level=line,
                   pending_split_unknown=latch & ~edge,
                   latch_maybe_stale=maybe_stale_latch(latch, b.active, edge),
                   sgi_active_source=sources)


def _fit_active_sgis(b: PrivateBank, c: int) -> Fitting[bytes]:
    src = bytearray(b.sgi_active_source)
    for s in range(NUM_SGIS):
        if src[s] not in (0, UNKNOWN_CPU):
            yield _v("KVM-EXPORT-ACTIVE-SGI-SOURCE", labels.irq(s, c),
                     f"active from CPU {src[s]}; a restore through ISACTIVER makes vCPU 0 its "
                     "source (lenient: source unknown)")
        if b.active >> s & 1:
            src[s] = UNKNOWN_CPU
    return bytes(src)


def _fit_shared(sh: SharedBank) -> Fitting[SharedBank]:
    prio, latch, line = sh.priority, sh.pending_latch, sh.line_level
    bad = _low_bits(prio)
    if bad:
        k = bad[0]
        yield _v("KVM-EXPORT-PRIORITY-BITS", labels.irq(NUM_PRIVATE + k),
                 f"priority {prio[k]:#04x} sets bits below the 5 KVM implements "
                 f"(SPIs so affected: {len(bad)}: "
                 f"{_priority_list(prio, bad, NUM_PRIVATE)}; lenient: masked)")
        prio = _masked(prio)
    yield from _fit_active_latch(latch, sh.active, sh.edge, sh.latch_maybe_stale,
                                 None, NUM_PRIVATE)
    if line:
        k = bitmaps.lowest(line)
        yield _v("KVM-EXPORT-LINE-LEVEL", labels.irq(NUM_PRIVATE + k),
                 "input line level 1; the ABI can only set the pending latch, which would "
                 f"outlive the line (SPI lines high: {_lines(line, NUM_PRIVATE)}; lenient: "
                 "restored as pending latch)")
        latch |= line & ~sh.edge
        line = 0
    cpus = yield from _fit_active_spis(sh)
    return replace(sh, priority=prio, pending_latch=latch, line_level=line,
                   pending_split_unknown=latch & ~sh.edge,
                   latch_maybe_stale=maybe_stale_latch(latch, sh.active, sh.edge),
                   active_cpu=cpus)


def _fit_active_latch(latch: int, active: int, edge: int, marked: int, cpu: int | None,
                      base: int) -> Iterator[Violation]:
    """A known (unmarked) pending latch of an active level interrupt: KVM clears it when
    the guest deactivates the interrupt (gicmig.abi.kvm.maybe_stale_latch), so a genuine
    re-pend is not delivered again."""
    known = maybe_stale_latch(latch, active, edge) & ~marked
    if known:
        k = bitmaps.lowest(known)
        yield _v("KVM-EXPORT-LATCH-ACTIVE-LEVEL", labels.irq(base + k, cpu),
                 "pending latch of an active level-triggered interrupt; KVM clears it at the "
                 f"deactivation, so it is not delivered again (interrupts so affected: "
                 f"{bin(known).count('1')}; lenient: restored, marked maybe stale)")


def _fit_active_spis(sh: SharedBank) -> Fitting[bytes]:
    cpus, targets = bytearray(sh.active_cpu), sh.targets
    for k, cpu in enumerate(cpus):
        if not sh.active >> k & 1:
            continue
        t = targets[k]
        kvm_cpu = lowest_target(t) if t else 0
        if cpu not in (kvm_cpu, UNKNOWN_CPU):
            yield _v("KVM-EXPORT-ACTIVE-SPI-CPU", labels.irq(NUM_PRIVATE + k),
                     f"active on CPU {cpu}; restored through ISACTIVER, KVM treats it as active "
                     f"on its first target, CPU {kvm_cpu} (lenient: CPU unknown)")
        cpus[k] = UNKNOWN_CPU
    return bytes(cpus)


def _fit_cpu(st: GicState, c: int) -> Iterator[Violation]:
    ci = st.cpu[c]
    extra = ci.ctlr & ~KVM_GICC_CTLR.defined_mask
    if extra:
        yield _v("KVM-EXPORT-CTLR-BITS", labels.cpu_reg(c, "gicc.ctlr"),
                 f"{ci.ctlr:#x} sets {', '.join(GICC_CTLR.flags(extra))}, which KVM's vgic_vmcr "
                 "does not hold (lenient: dropped)")
        ci.ctlr &= KVM_GICC_CTLR.defined_mask
    if pmr_of_kvm(kvm_pmr(ci.pmr)) != ci.pmr:
        yield _v("KVM-EXPORT-PMR-BITS", labels.cpu_reg(c, "gicc.pmr"),
                 f"{ci.pmr:#04x} sets bits below the 5 KVM implements (lenient: masked)")
        ci.pmr = pmr_of_kvm(kvm_pmr(ci.pmr))
    if ci.bpr < KVM_MIN_BPR or ci.abpr < KVM_MIN_BPR + 1:
        yield _v("KVM-EXPORT-BINARY-POINT", labels.cpu_reg(c, "gicc.bpr"),
                 f"BPR {ci.bpr} / ABPR {ci.abpr} below KVM's minima {KVM_MIN_BPR} / "
                 f"{KVM_MIN_BPR + 1} (lenient: raised to the minima, as the hardware does)")
        ci.bpr, ci.abpr = max(ci.bpr, KVM_MIN_BPR), max(ci.abpr, KVM_MIN_BPR + 1)
    yield from _fit_apr(st, c)


def _fit_apr(st: GicState, c: int) -> Iterator[Violation]:
    ci = st.cpu[c]
    # GICH_APR is one set for both groups: a known group is merged (gic-domain §6 row 32)
    levels = ci.active_group0 | ci.active_group1 | ci.active_group_unknown
    # a level between KVM's counts towards the KVM level at or below it
    coarse = bitmaps.squeeze(reduce(or_, (levels >> j for j in range(LEVEL_STEP))), LEVEL_STEP)
    fine = levels & ~bitmaps.stretch(APR_MASK, LEVEL_STEP)
    if fine:
        lv = bitmaps.lowest(fine)
        yield _v("KVM-EXPORT-APR-GRANULARITY", labels.cpu_reg(c, "gicc.active_priorities"),
                 f"group priority {2 * lv:#04x} is active; KVM's APR has 32 levels (group "
                 "priorities that are multiples of 8) (lenient: folded into the level above)")
    ci.active_group0 = ci.active_group1 = 0
    ci.active_group_unknown = bitmaps.stretch(coarse, LEVEL_STEP)
