"""How KVM's GICv2 registers lay the canonical state out: the ICFGR reserved bits,
GICC_PMR in GICH_VMCR's VMPriMask format and GICC_APR0's 32 levels (the register banks
and their set/clear pairs are data in gicmig.arch.registers; the ICFGR edge bit is in
gicmig.core.image)."""

from __future__ import annotations

from gicmig.arch import bitmaps
from gicmig.arch.ids import APR_LEVELS
from gicmig.arch.registers import (
    GICD_ICFGR_FIELD,
    KVM_APR_LEVELS,
    KVM_GICC_PMR,
    VIRTUAL_PRIORITY,
)

ALL_ONES = 0xFFFF_FFFF
LEVEL_STEP = APR_LEVELS // KVM_APR_LEVELS  # canonical level of KVM APR bit n is 4n
APR_MASK = (1 << KVM_APR_LEVELS) - 1
ICFGR_FIELD_RESERVED = GICD_ICFGR_FIELD.reserved_mask & 0b11  # within one 2-bit field
ICFGR_RESERVED = sum(ICFGR_FIELD_RESERVED << 2 * i for i in range(16))
_VMPRIMASK = KVM_GICC_PMR.field("vmprimask")


def pmr_of_kvm(word: int) -> int:
    """The GICC_PMR a guest sees, from KVM's GICC_PMR attribute (VMPriMask: PMR[7:3])."""
    return _VMPRIMASK.get(word) << VIRTUAL_PRIORITY.shift


def kvm_pmr(pmr: int) -> int:
    """KVM's GICC_PMR attribute for a guest's GICC_PMR (the bits below VMPriMask dropped)."""
    return KVM_GICC_PMR.pack(vmprimask=VIRTUAL_PRIORITY.get(pmr))


def apr0_levels(word: int) -> int:
    """The canonical active levels of KVM's GICC_APR0 (the GICH_APR image: bit n is level
    4n, of one group or the other: the ABI does not say which)."""
    return bitmaps.stretch(word & APR_MASK, LEVEL_STEP)
