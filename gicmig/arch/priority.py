"""Priority arithmetic of GICv2: implemented bits, binary points, active-priority levels.

A GIC implements the top `bits` of each 8-bit priority; with P preemption bits the
binary point cannot go below 7 - P, and the aliased (Group 1) binary point sits one above
it. gicmig keeps active priorities as 128 levels (group priority >> 1), of which a GIC
with P preemption bits can set every 2**(7 - P)-th.
"""

from gicmig.arch.ids import APR_LEVELS


def priority_mask(bits: int) -> int:
    """The implemented bits of an 8-bit priority (and of GICC_PMR)."""
    return (0xFF << (8 - bits)) & 0xFF


def min_binary_point(preemption_bits: int) -> int:
    """The smallest BPR (VMBP) that `preemption_bits` allow."""
    return 7 - preemption_bits


def min_abpr(min_bpr: int) -> int:
    """The smallest ABPR (VMABP): one above the smallest BPR."""
    return min_bpr + 1


def preemption_bits(priority_bits: int, min_bpr: int) -> int:
    """Group-priority bits that can preempt: limited by the implemented priority bits and
    by the smallest binary point (the inverse of `min_binary_point`)."""
    return min(priority_bits, 7 - min_bpr)


def group_levels(preemption_bits: int) -> int:
    """How many preemption levels `preemption_bits` give: the bits of a GICH_APR-format
    register that can be set (2**P)."""
    return 1 << preemption_bits


def level_shift(preemption_bits: int) -> int:
    """Bit n of a GICH_APR-format register is canonical level n << level_shift."""
    return 7 - preemption_bits


def representable_levels(priority_bits: int, min_bpr: int) -> int:
    """The canonical levels an implementation can mark active, as a 128-bit bitmap."""
    step = 1 << level_shift(preemption_bits(priority_bits, min_bpr))
    return sum(1 << lv for lv in range(0, APR_LEVELS, step))
