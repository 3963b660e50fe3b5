"""KVM's register accesses (KVM_{GET,SET}_DEVICE_ATTR on the vgic-v2 device): one access,
a dump of them, and the names of KVM's register offsets."""

from __future__ import annotations

from dataclasses import dataclass

from gicmig.arch.registers import (
    DIST_BANKS,
    GICC_ABPR,
    GICC_APR,
    GICC_APR_REGS,
    GICC_BPR,
    GICC_IIDR,
    GICC_NO_STATE,
    GICD_IIDR,
    GICD_SGIR,
    GICD_TYPER,
    KVM_ATTR_OFFSET,
    KVM_ATTR_VCPU,
    KVM_CPU_FRAME,
    KVM_DIST_FRAME,
    KVM_GICC_CTLR,
    KVM_GICC_PMR,
    KVM_GICD_CTLR,
    SGI_BANK_REGS,
    SGI_BANKS,
    Bank,
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
_DIST_FIXED = {r.offset: r.name for r in (KVM_GICD_CTLR, GICD_TYPER, GICD_IIDR, GICD_SGIR)}
_CPU_FIXED = {r.offset: r.name for r in (KVM_GICC_CTLR, KVM_GICC_PMR, GICC_BPR, GICC_ABPR,
                                         GICC_IIDR)}
_CPU_FIXED.update({off: name for name, off in GICC_NO_STATE.items()})


def bank_span(bank: Bank, count: int | None = None) -> int:
    """Bytes a bank occupies: 1024 interrupt IDs, or `count` registers."""
    return 4 * count if count is not None else 1024 * bank.bits // 8


def register_name(group: str, offset: int) -> str:
    """`GICD_ISENABLER1`, `GICC_APR0`, or `GICD+0xe00` for an offset KVM does not name."""
    if group == "dist":
        if offset in _DIST_FIXED:
            return _DIST_FIXED[offset]
        for bank in (*DIST_BANKS, *SGI_BANKS):
            span = bank_span(bank, SGI_BANK_REGS if bank in SGI_BANKS else None)
            if bank.offset <= offset < bank.offset + span:
                return f"{bank.name}{(offset - bank.offset) // 4}"
        return f"GICD+{offset:#x}"
    if offset in _CPU_FIXED:
        return _CPU_FIXED[offset]
    if GICC_APR.offset <= offset < GICC_APR.offset + 4 * GICC_APR_REGS:
        return f"GICC_APR{(offset - GICC_APR.offset) // 4}"
    return f"GICC+{offset:#x}"
