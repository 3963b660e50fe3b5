"""Implementation parameters (schema `GicConfig`): the GIC a state belongs to. CPUs,
interrupt IDs, implemented priority bits, binary-point minimum, SGI enable and PPI trigger
behaviour, and the virtualization extensions of the emulated GIC itself."""

from __future__ import annotations

from typing import Any

from gicmig.arch import priority
from gicmig.arch.ids import NUM_PRIVATE
from gicmig.core.facade import Facade, Scalar, check_u32
from gicmig.core.pb import pb

REVISIONS: dict[str, int] = {"GICv1": pb.REVISION_GICV1, "GICv2": pb.REVISION_GICV2}
REVISION_NAMES = {v: k for k, v in REVISIONS.items()}

# QEMU's `virt` board, the preset `GicConfig.qemu_virt` builds; the QEMU view reads them here
QEMU_VIRT_IRQS = 288  # hw/arm/virt.c: 256 SPIs + 32
QEMU_NUM_LRS = 4  # hard-coded at realize when virtualization extensions are on


class VirtualizationExtensions(Facade):
    """Parameters of an emulated GIC that has the virtualization extensions itself."""

    __slots__ = ()
    num_lrs = Scalar[int]()
    priority_bits = Scalar[int]()
    preemption_bits = Scalar[int]()

    @property
    def min_vmbp(self) -> int:
        return priority.min_binary_point(self.preemption_bits)

    @property
    def vtr(self) -> int:
        """GICH_VTR as this implementation reads it."""
        from gicmig.arch.registers import GICH_VTR

        return GICH_VTR.pack(
            list_regs=self.num_lrs - 1,
            pre_bits=self.preemption_bits - 1,
            pri_bits=self.priority_bits - 1,
        )


class GicConfig(Facade):
    """Implementation parameters (schema v1 `GicConfig`).

    >>> cfg = GicConfig(num_cpus=2, num_irqs=288)
    >>> cfg.priority_bits, cfg.min_bpr
    (8, 0)
    """

    __slots__ = ()
    num_cpus = Scalar[int]("CONFIG-NUM-CPUS")
    num_irqs = Scalar[int]("CONFIG-NUM-IRQS")
    priority_bits = Scalar[int]("CONFIG-PRIORITY-BITS")
    min_bpr = Scalar[int]("CONFIG-MIN-BPR")
    sgi_enables_rao_wi = Scalar[bool]()
    ppi_trigger_programmable = Scalar[bool]()
    security_extensions = Scalar[bool]()

    def __init__(
        self,
        num_cpus: int = 1,
        num_irqs: int = 64,
        *,
        priority_bits: int = 8,
        min_bpr: int = 0,
        sgi_enables_rao_wi: bool = True,
        ppi_trigger_programmable: bool = True,
        num_lrs: int | None = None,
        virtual_priority_bits: int = 5,
        virtual_preemption_bits: int = 5,
        _msg: Any = None,
    ) -> None:
        if _msg is not None:
            super().__init__(_msg)
            return
        for name, value, code in (
                ("num_cpus", num_cpus, "CONFIG-NUM-CPUS"),
                ("num_irqs", num_irqs, "CONFIG-NUM-IRQS"),
                ("priority_bits", priority_bits, "CONFIG-PRIORITY-BITS"),
                ("min_bpr", min_bpr, "CONFIG-MIN-BPR"),
                ("num_lrs", 0 if num_lrs is None else num_lrs, "CONFIG-VIRTUALIZATION"),
                ("virtual_priority_bits", virtual_priority_bits, "CONFIG-VIRTUALIZATION"),
                ("virtual_preemption_bits", virtual_preemption_bits, "CONFIG-VIRTUALIZATION")):
            check_u32(name, value, code)
        super().__init__(pb.GicConfig(
            revision=pb.REVISION_GICV2, num_cpus=num_cpus, num_irqs=num_irqs,
            priority_bits=priority_bits, min_bpr=min_bpr,
            sgi_enables_rao_wi=sgi_enables_rao_wi,
            ppi_trigger_programmable=ppi_trigger_programmable,
        ))
        if num_lrs is not None:
            self._pb.virtualization.CopyFrom(pb.VirtualizationExtensions(
                num_lrs=num_lrs, priority_bits=virtual_priority_bits,
                preemption_bits=virtual_preemption_bits,
            ))

    @classmethod
    def qemu_virt(cls, num_cpus: int = 2, *, virtualization: bool = False) -> GicConfig:
        """QEMU's `virt` board GICv2: 288 IDs, 8 priority bits, RAO/WI SGI enables."""
        return cls(num_cpus, QEMU_VIRT_IRQS, num_lrs=QEMU_NUM_LRS if virtualization else None)

    @property
    def revision(self) -> str:
        return REVISION_NAMES.get(self._pb.revision, f"unknown({self._pb.revision})")

    @property
    def virtualization(self) -> VirtualizationExtensions | None:
        if not self._pb.HasField("virtualization"):
            return None
        return VirtualizationExtensions(self._pb.virtualization)

    @property
    def min_abpr(self) -> int:
        return priority.min_abpr(self.min_bpr)

    @property
    def num_spis(self) -> int:
        return max(self.num_irqs - NUM_PRIVATE, 0)

    @property
    def cpu_mask(self) -> int:
        return (1 << self.num_cpus) - 1

    @property
    def priority_mask(self) -> int:
        """The implemented bits of an 8-bit priority (and of GICC_PMR)."""
        return priority.priority_mask(self.priority_bits)

    @property
    def preemption_bits(self) -> int:
        """Group-priority bits that can preempt: limited by priority bits and min BPR."""
        return priority.preemption_bits(self.priority_bits, self.min_bpr)
