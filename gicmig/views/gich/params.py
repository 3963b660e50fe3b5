"""What the GICH view's converters share: GICH_VTR parameters, the export target, and the
status and APR registers the architecture derives (list registers: `gicmig.arch.lr`).

GICH_APR bit n is group priority n << (8 - P), canonical level n << (7 - P), with P the
preemption bits GICH_VTR gives (5 on GIC-400: level 4n).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from gicmig.arch import bitmaps, priority
from gicmig.arch import gich as arch_gich
from gicmig.arch.registers import GICH_HCR, GICH_VTR
from gicmig.errors import GicmigError
from gicmig.views.gich.viewfile import VcpuRegs

EOI_POLICIES = ("kvm", "none")
_U32 = 0xFFFF_FFFF
MAX_PHYSICAL_ID = 1019
MIN_PHYSICAL_ID = 16

_EN, _EOICOUNT = GICH_HCR.field("en"), GICH_HCR.field("eoicount")
_HCR_CONTROL = GICH_HCR.defined_mask & ~_EN.mask & ~_EOICOUNT.mask


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
    def held_priorities(self) -> bytes:
        """The 8-bit priorities the LRs can hold, as a `bytes.translate` delete set: a
        priority vector `v` has one they cannot iff `v.translate(None, held_priorities)`."""
        return bytes(v for v in range(256) if not v & ~self.priority_mask)

    @cached_property
    def min_bpr(self) -> int:
        return priority.min_binary_point(self.preemption_bits)

    @cached_property
    def min_abpr(self) -> int:
        return priority.min_abpr(self.min_bpr)

    @cached_property
    def group_levels(self) -> int:
        """The GICH_APR bits that can be set: one per preemption level (2**P)."""
        return priority.group_levels(self.preemption_bits)

    @cached_property
    def level_shift(self) -> int:
        """GICH_APR bit n <-> canonical active-priority level n << level_shift."""
        return priority.level_shift(self.preemption_bits)

    @cached_property
    def apr_levels(self) -> int:
        """The canonical active-priority levels GICH_APR can hold (a 128-level bitmap)."""
        return priority.representable_levels(self.priority_bits, self.min_bpr)


def vtr_params(vtr: int, where: str = "gich.vtr") -> VtrParams:
    """Decode GICH_VTR; raise GICH-VTR-INVALID for a value no GICv2 can report."""
    params = _vtr_params(vtr)
    if isinstance(params, str):
        raise GicmigError("GICH-VTR-INVALID", f"{where}: {vtr:#010x}: {params}")
    return params


@lru_cache(maxsize=64)
def _vtr_params(vtr: int) -> VtrParams | str:
    """The parameters GICH_VTR `vtr` gives, or what is wrong with it: derived once per
    value (a view's vCPUs and every export to one target share it)."""
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
        return "; ".join(problems)
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
    implemented = apr & ((1 << params.group_levels) - 1)
    return bitmaps.stretch(implemented, 1 << params.level_shift)


def levels_to_apr(levels: int, params: VtrParams) -> int:
    """The GICH_APR of canonical levels (levels GICH_APR cannot hold are ignored: export
    refuses them first)."""
    return bitmaps.squeeze(levels, 1 << params.level_shift)
