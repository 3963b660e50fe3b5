"""Nested: the GICH registers a guest hypervisor programmed, folded into its guest's CPU
interface (`import qemu --nested`)."""

from __future__ import annotations

from dataclasses import dataclass

from gicmig.core.attribution import split_active_levels
from gicmig.core.model import GicState
from gicmig.errors import GicmigError, ValidationError, Violation
from gicmig.views.gich.fold import VcpuFold, fold_vcpu
from gicmig.views.gich.viewfile import VcpuRegs


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
