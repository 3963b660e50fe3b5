"""The distributor registers (GICD_*) a canonical state reads as: the architecture's view
of the state, which every view that writes or predicts registers shares."""

from __future__ import annotations

from gicmig.arch import bitmaps
from gicmig.arch.ids import NUM_PRIVATE
from gicmig.arch.registers import (
    GICD_ICFGR,
    GICD_ICFGR_FIELD,
    GICD_IPRIORITYR,
    GICD_ITARGETSR,
    Bank,
)
from gicmig.core.irqtable import IrqTable
from gicmig.core.model import GicState

ICFGR_EDGE = GICD_ICFGR_FIELD.field("int_config")  # Int_config[1] of each 2-bit field
_WORD = 0xFFFF_FFFF
_CFG_IDS = GICD_ICFGR.per_word  # 16 interrupts per GICD_ICFGR word
_CFG_ALL = (1 << _CFG_IDS) - 1
_CFG_PRIVATE = NUM_PRIVATE // _CFG_IDS  # words 0-1 are banked
_BYTE_PRIVATE = NUM_PRIVATE // GICD_IPRIORITYR.per_word  # words 0-7 of a byte bank are banked


def edge_word(edge: int) -> int:
    """The GICD_ICFGR word of 16 interrupts from their edge bits."""
    return bitmaps.stretch(edge & _CFG_ALL, GICD_ICFGR.bits) << ICFGR_EDGE.shift


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
        if i < _BYTE_PRIVATE:
            if bank is GICD_ITARGETSR:
                return (1 << c) * 0x0101_0101  # IDs 0-31 target the reading CPU
            data: bytes = getattr(self.table.private[c], str(bank.state))
        else:
            data = getattr(self.table.shared, str(bank.state))
            i -= _BYTE_PRIVATE
        return int.from_bytes(data[4 * i:4 * i + 4], "little")

    def cfg_word(self, i: int, c: int) -> int:
        if i < _CFG_PRIVATE:
            return edge_word(self.table.private[c].edge >> _CFG_IDS * i)
        return edge_word(self.table.shared.edge >> _CFG_IDS * (i - _CFG_PRIVATE))

    def sgi_word(self, r: int, c: int) -> int:
        return int.from_bytes(self.table.private[c].sgi_sources[4 * r:4 * r + 4], "little")
