"""The distributor registers (GICD_*) a canonical state reads as: the architecture's view
of the state, which every view that writes or predicts registers shares."""

from __future__ import annotations

from gicmig.arch import bitmaps
from gicmig.arch.registers import GICD_ICFGR_FIELD, GICD_ITARGETSR, Bank
from gicmig.core.irqtable import IrqTable
from gicmig.core.model import GicState

ICFGR_EDGE = GICD_ICFGR_FIELD.field("int_config")  # Int_config[1] of each 2-bit field
_WORD = 0xFFFF_FFFF


def edge_word(edge: int) -> int:
    """The GICD_ICFGR word of 16 interrupts from their edge bits."""
    return bitmaps.stretch(edge & 0xFFFF, 2) << ICFGR_EDGE.shift


class DistributorImage:
    """The distributor registers a state reads as, by register bank and word index: what
    KVM returns for a state it holds (abi.kvm.image), and what QEMU's GIC holding the state
    shows its guest (views.qemu.registers). A bank names the table field it shows
    (`Bank.state`): the banks map to the interrupt table through the register tables."""

    def __init__(self, st: GicState) -> None:
        self.st = st
        self.table = IrqTable.of(st)
        self.words = st.config.num_irqs // 32

    def bit_word(self, bank: Bank, i: int, c: int) -> int:
        """Word `i` of a one-bit bank (GICD_IGROUPR, GICD_IS/ICENABLER, ...) on CPU `c`."""
        name = str(bank.state)
        if i == 0:
            return int(getattr(self.table.private[c], name))
        return int(getattr(self.table.shared, name)) >> 32 * (i - 1) & _WORD

    def byte_word(self, bank: Bank, i: int, c: int) -> int:
        """Word `i` of GICD_IPRIORITYR or GICD_ITARGETSR on CPU `c`."""
        if i < 8:
            if bank is GICD_ITARGETSR:
                return (1 << c) * 0x0101_0101  # IDs 0-31 target the reading CPU
            data: bytes = getattr(self.table.private[c], str(bank.state))
        else:
            data = getattr(self.table.shared, str(bank.state))
            i -= 8
        return int.from_bytes(data[4 * i:4 * i + 4], "little")

    def cfg_word(self, i: int, c: int) -> int:
        if i < 2:
            return edge_word(self.table.private[c].edge >> 16 * i & 0xFFFF)
        return edge_word(self.table.shared.edge >> 16 * (i - 2) & 0xFFFF)

    def sgi_word(self, r: int, c: int) -> int:
        return int.from_bytes(self.table.private[c].sgi_sources[4 * r:4 * r + 4], "little")
