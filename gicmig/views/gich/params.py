"""What the GICH view's converters share: GICH_VTR parameters, the export target, the list
register fields the hot loops decode, and the status and APR registers the architecture
derives.

GICH_APR bit n is group priority n << (8 - P), canonical level n << (7 - P), with P the
preemption bits GICH_VTR gives (5 on GIC-400: level 4n).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from gicmig.arch import bitmaps, priority
from gicmig.arch import gich as arch_gich
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
)
from gicmig.errors import GicmigError
from gicmig.views.gich.viewfile import VcpuRegs

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

    @cached_property  # derived once: the converters read these per LR and per priority
    def priority_mask(self) -> int:
        """The bits of an 8-bit priority (or GICC_PMR) the LRs and VMCR can hold."""
        return priority.priority_mask(self.priority_bits)

    @cached_property
    def min_bpr(self) -> int:
        return priority.min_binary_point(self.preemption_bits)

    @cached_property
    def min_abpr(self) -> int:
        return priority.min_abpr(self.min_bpr)

    @cached_property
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


def apr_to_levels(apr: int, params: VtrParams) -> int:
    """GICH_APR as a canonical 128-level bitmap (bit n -> level n << level_shift)."""
    implemented = apr & ((1 << (1 << params.preemption_bits)) - 1)
    return bitmaps.stretch(implemented, 1 << params.level_shift)


def levels_to_apr(levels: int, params: VtrParams) -> int:
    """The GICH_APR of canonical levels (levels GICH_APR cannot hold are ignored: export
    refuses them first)."""
    return bitmaps.squeeze(levels, 1 << params.level_shift)
