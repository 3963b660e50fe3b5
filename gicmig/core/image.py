"""The distributor registers (GICD_*) a canonical state reads as: the architecture's view
of the state, which every view that writes or predicts registers shares."""

from __future__ import annotations

from gicmig.arch import bitmaps
from gicmig.arch.registers import GICD_ICFGR_FIELD
from gicmig.core.model import GicState

ICFGR_EDGE = GICD_ICFGR_FIELD.field("int_config")  # Int_config[1] of each 2-bit field
_WORD = 0xFFFF_FFFF


def edge_word(edge: int) -> int:
    """The GICD_ICFGR word of 16 interrupts from their edge bits."""
    return bitmaps.stretch(edge & 0xFFFF, 2) << ICFGR_EDGE.shift


class DistributorImage:
    """The distributor registers a state reads as, by bank (name without GICD_) and word
    index: what KVM returns for a state it holds (views.kvm.writes), and what QEMU's GIC
    holding the state shows its guest (views.qemu.registers)."""

    def __init__(self, st: GicState) -> None:
        self.st = st
        self.words = st.config.num_irqs // 32
        sh = st.shared
        self.shared_bits = {"IGROUPR": sh.group, "ISENABLER": sh.enabled,
                            "ISPENDR": sh.pending_latch | (sh.line_level & ~sh.edge),
                            "ISACTIVER": sh.active}

    def banked_bits(self, bank: str, c: int) -> int:
        b = self.st.banked[c]
        sgi_pending = sum(1 << s for s, v in enumerate(b.sgi_sources) if v)
        return {"IGROUPR": b.group, "ISENABLER": b.enabled, "ISACTIVER": b.active,
                "ISPENDR": sgi_pending | b.pending_latch | (b.line_level & ~b.edge)}[bank]

    def bit_word(self, bank: str, i: int, c: int) -> int:
        if i == 0:
            return self.banked_bits(bank, c)
        return self.shared_bits[bank] >> 32 * (i - 1) & _WORD

    def byte_word(self, bank: str, i: int, c: int) -> int:
        st = self.st
        if bank == "ITARGETSR" and i < 8:
            return (1 << c) * 0x0101_0101
        if i < 8:
            data = st.banked[c].priority
        else:
            sh = st.shared
            data = sh.priority if bank == "IPRIORITYR" else sh.targets
            i -= 8
        return int.from_bytes(data[4 * i:4 * i + 4], "little")

    def cfg_word(self, i: int, c: int) -> int:
        if i < 2:
            return edge_word(self.st.banked[c].edge >> 16 * i & 0xFFFF)
        return edge_word(self.st.shared.edge >> 16 * (i - 2) & 0xFFFF)

    def sgi_word(self, r: int, c: int) -> int:
        return int.from_bytes(self.st.banked[c].sgi_sources[4 * r:4 * r + 4], "little")
