"""How KVM's GICv2 registers lay the canonical state out: the ICFGR reserved bits and
GICC_APR0's 32 levels (the register banks and their set/clear pairs are data in
gicmig.arch.registers; the ICFGR edge bit is in gicmig.core.image)."""

from __future__ import annotations

from gicmig.arch import bitmaps
from gicmig.arch.ids import APR_LEVELS
from gicmig.arch.registers import (
    GICD_ICFGR_FIELD,
    KVM_APR_LEVELS,
)

ALL_ONES = 0xFFFF_FFFF
LEVEL_STEP = APR_LEVELS // KVM_APR_LEVELS  # canonical level of KVM APR bit n is 4n
APR_MASK = (1 << KVM_APR_LEVELS) - 1
ICFGR_FIELD_RESERVED = GICD_ICFGR_FIELD.reserved_mask & 0b11  # within one 2-bit field
ICFGR_RESERVED = sum(ICFGR_FIELD_RESERVED << 2 * i for i in range(16))


def apr0_levels(word: int) -> int:
    """The canonical active levels of KVM's GICC_APR0 (the GICH_APR image: bit n is level
    4n, of one group or the other: the ABI does not say which)."""
    return bitmaps.stretch(word & APR_MASK, LEVEL_STEP)
