"""What QEMU 7.2's two GICv2 device models are: their parameters (the `virt` board, TCG's
8 priority bits, the virtual interface's 4 LRs and 5 priority bits) and the idle values
of their caches."""

from __future__ import annotations

from gicmig.arch.priority import min_abpr, min_binary_point
from gicmig.arch.registers import (
    GICH_HCR,
    GICH_LR,
    GICH_LR_HW,
    VIRTUAL_PRIORITY,
)
from gicmig.core.config import QEMU_NUM_LRS as QEMU_NUM_LRS  # the view reads it from here
from gicmig.core.config import QEMU_VIRT_IRQS
from gicmig.errors import GicmigError

ACCELS = ("tcg", "kvm")


def check_accel_name(accel: str | None) -> None:
    """Refuse (QEMU-ACCEL) an accelerator name other than None or one of ACCELS: the one
    home of that check for import_qemu, export_qemu/plan_qemu and check_accel."""
    if accel is not None and accel not in ACCELS:
        raise GicmigError("QEMU-ACCEL", f"accelerator {accel!r}: say tcg or kvm")

# --machine presets: what the board gives the GIC
MACHINES: dict[str, int] = {"virt": QEMU_VIRT_IRQS}
TCG_PRIORITY_BITS = 8  # arm_gic's num-priority-bits default
TCG_MIN_BPR = 0  # GIC_MIN_BPR
VIRT_PRIORITY_BITS = 5  # GIC_VIRT_MAX_GROUP_PRIO_BITS
IDLE_PRIORITY = 0x100  # running_priority when nothing is active
SPURIOUS = 1023
LR_HW = GICH_LR.field("hw")

# QEMU stores an LR masked to VirtualID|PhysicalID|CPUID|EOI|Priority|State|Grp1|HW, so
# an HW=0 LR keeps the PhysicalID bits that CPUID does not cover: RES0 architecturally
LR_KEPT_RESERVED = GICH_LR.reserved_mask & GICH_LR_HW.field("physical_id").mask
VMPRI_SHIFT = VIRTUAL_PRIORITY.shift  # GICH_VMCR.VMPriMask holds PMR bits [7:3]
VMCR_MIN_ABP = min_abpr(min_binary_point(VIRT_PRIORITY_BITS))  # GIC_VIRT_MIN_ABPR: 3
HCR_EN = GICH_HCR.field("en")
