"""KVM's register accesses (KVM_{GET,SET}_DEVICE_ATTR on the vgic-v2 device): one access,
a dump of them, and the names of KVM's register offsets."""

from __future__ import annotations

from dataclasses import dataclass

from gicmig.arch.names import register_name as frame_register_name
from gicmig.arch.registers import (
    KVM_ATTR_OFFSET,
    KVM_ATTR_VCPU,
    KVM_CPU_FRAME,
    KVM_DIST_FRAME,
)
from gicmig.errors import DecodeError

GROUPS = ("dist", "cpu")
FRAME_SIZE = {"dist": KVM_DIST_FRAME, "cpu": KVM_CPU_FRAME}


@dataclass(frozen=True)
class Access:
    """One register access through KVM_{GET,SET}_DEVICE_ATTR."""

    group: str  # "dist" (KVM_DEV_ARM_VGIC_GRP_DIST_REGS) or "cpu" (GRP_CPU_REGS)
    vcpu: int
    offset: int
    value: int

    @property
    def attr(self) -> int:
        """The kvm_device_attr.attr that addresses this register."""
        return KVM_ATTR_VCPU.put(KVM_ATTR_OFFSET.put(0, self.offset), self.vcpu)

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.group, self.vcpu, self.offset)

    @property
    def register(self) -> str:
        return register_name(self.group, self.offset)


@dataclass(frozen=True)
class KvmDump:
    """A parsed dump: NR_IRQS and the register reads, in file order."""

    nr_irqs: int
    accesses: tuple[Access, ...]
    vmm: str = ""
    vmm_version: str = ""
    host_kernel: str = ""

    def registers(self) -> dict[tuple[str, int, int], int]:
        """Value by (group, vcpu, offset); a repeated read must repeat the value."""
        out: dict[tuple[str, int, int], int] = {}
        for i, a in enumerate(self.accesses):
            old = out.setdefault(a.key, a.value)
            if old != a.value:
                raise DecodeError("KVM-DUMP-DUPLICATE",
                                  f"registers[{i}]: vcpu{a.vcpu} {a.register} read "
                                  f"{a.value:#010x}, an earlier read gave {old:#010x}")
        return out


# --- register names ------------------------------------------------------------------
_FRAME = {"dist": "GICD", "cpu": "GICC"}


def register_name(group: str, offset: int) -> str:
    """`GICD_ISENABLER1`, `GICC_APR0`, or `GICD+0xe00` for an offset KVM does not name."""
    return frame_register_name(_FRAME[group], offset)
