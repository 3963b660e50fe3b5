"""The `arm_gic` vmstate of QEMU 7.2 (section version 12, `arm_gic_virt_state` subsection
version 1): its fields in stream order, their sizes, and the section as read."""

from __future__ import annotations

import struct
from dataclasses import dataclass

GIC_IDSTR = "arm_gic"
GIC_VERSION = 12
VIRT_SUBSECTION = "arm_gic_virt_state"
VIRT_VERSION = 1
NCPU = 8  # GIC_NCPU: every per-CPU array of the vmstate has 8 slots
MAXIRQ = 1020  # GIC_MAXIRQ
MAX_LR = 64  # GIC_MAX_LR


@dataclass(frozen=True)
class VmField:
    """One field of a vmstate description as the stream holds it: `count` big-endian
    elements of `size` bytes at `offset` of its (sub)section."""

    name: str
    offset: int
    size: int
    count: int

    @property
    def end(self) -> int:
        return self.offset + self.size * self.count


def _layout(*fields: tuple[str, int, int]) -> dict[str, VmField]:
    out: dict[str, VmField] = {}
    offset = 0
    for name, size, count in fields:
        out[name] = VmField(name, offset, size, count)
        offset += size * count
    return out


# `arm_gic` v12 (hw/intc/arm_gic_common.c, vmstate_gic); README "arm_gic vmstate".
# irq_state is 1020 x 7 bytes: enabled, pending, active, level, model, edge_trigger, group.
GIC_FIELDS = _layout(
    ("ctlr", 4, 1), ("cpu_ctlr", 4, NCPU), ("irq_state", 7, MAXIRQ), ("irq_target", 1, MAXIRQ),
    ("priority1", 1, 32 * NCPU), ("priority2", 1, MAXIRQ - 32), ("sgi_pending", 1, 16 * NCPU),
    ("priority_mask", 2, NCPU), ("running_priority", 2, NCPU), ("current_pending", 2, NCPU),
    ("bpr", 1, NCPU), ("abpr", 1, NCPU), ("apr", 4, 4 * NCPU), ("nsapr", 4, 4 * NCPU),
)
IRQ_STATE_MEMBERS = ("enabled", "pending", "active", "level", "model", "edge_trigger", "group")

# `arm_gic_virt_state` v1: element c of the per-CPU arrays is vCPU c (QEMU's index c + 8)
VIRT_FIELDS = _layout(
    ("h_hcr", 4, NCPU), ("h_misr", 4, NCPU), ("h_lr", 4, MAX_LR * NCPU), ("h_apr", 4, NCPU),
    ("cpu_ctlr", 4, NCPU), ("priority_mask", 2, NCPU), ("running_priority", 2, NCPU),
    ("current_pending", 2, NCPU), ("bpr", 1, NCPU), ("abpr", 1, NCPU),
)
GIC_SIZE = GIC_FIELDS["nsapr"].end  # 9888
VIRT_SIZE = VIRT_FIELDS["abpr"].end  # 2240
_INT = {1: "B", 2: "H", 4: "I"}


def unpack(data: bytes, f: VmField) -> tuple[int, ...]:
    """The elements of field `f` in `data` (its section's bytes), as integers."""
    return struct.unpack_from(f">{f.count}{_INT[f.size]}", data, f.offset)


@dataclass(frozen=True)
class ArmGicSection:
    """The `arm_gic` section of a stream: its raw field bytes and where it was found."""

    main: bytes  # the 9888 bytes of the section's own fields
    virt: bytes | None  # the 2240 bytes of `arm_gic_virt_state`, if the stream has it
    section_id: int
    instance_id: int
    offset: int  # byte offset of the section's record in the stream
    machine: str | None  # the machine type the configuration record names, e.g. "virt-7.2"
    located_by: str  # "framing", "vmdesc" or "search"
    search_reason: str | None = None  # why the framing walk stopped, when located_by is search

    def field(self, name: str) -> tuple[int, ...]:
        return unpack(self.main, GIC_FIELDS[name])

    def raw(self, name: str) -> bytes:
        f = GIC_FIELDS[name]
        return self.main[f.offset:f.end]

    def virt_field(self, name: str) -> tuple[int, ...]:
        if self.virt is None:
            raise KeyError(f"{name}: the stream has no {VIRT_SUBSECTION} subsection")
        return unpack(self.virt, VIRT_FIELDS[name])

    def virt_raw(self, name: str) -> bytes:
        if self.virt is None:
            raise KeyError(f"{name}: the stream has no {VIRT_SUBSECTION} subsection")
        f = VIRT_FIELDS[name]
        return self.virt[f.offset:f.end]
