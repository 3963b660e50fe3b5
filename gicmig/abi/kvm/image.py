"""The register image of a state KVM can hold, and the ordered writes that restore it
through KVM_DEV_ARM_VGIC_GRP_DIST_REGS / CPU_REGS."""

from __future__ import annotations

from collections.abc import Iterator

from gicmig.abi.kvm import (
    KVM_GICC_IIDR,
    kvm_iidr,
)
from gicmig.abi.kvm.access import Access
from gicmig.abi.kvm.layout import ALL_ONES, APR_MASK, BANK, LEVEL_STEP, edge_word
from gicmig.arch import bitmaps
from gicmig.arch.ids import SGI_MASK
from gicmig.arch.registers import (
    GICC_ABPR,
    GICC_APR,
    GICC_APR_REGS,
    GICC_BPR,
    GICC_IIDR,
    GICD_IIDR,
    GICD_TYPER,
    KVM_GICC_CTLR,
    KVM_GICC_PMR,
    KVM_GICD_CTLR,
    KVM_IIDR_GROUPS_WRITABLE,
    KVM_PMR_SHIFT,
    SGI_BANK_REGS,
    Bank,
)
from gicmig.core.model import GicState


# --- the register image and the writes ---------------------------------------------------
def apr_word(st: GicState, c: int) -> int:
    """GICC_APR0 in KVM's (GICH_APR) format, from a fitted state (both groups: one set)."""
    ci = st.cpu[c]
    levels = ci.active_group0 | ci.active_group1 | ci.active_group_unknown
    return bitmaps.squeeze(levels, LEVEL_STEP) & APR_MASK


class _Image:
    """The registers KVM returns for a (fitted) state, by bank and word."""

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
        return self.shared_bits[bank] >> 32 * (i - 1) & ALL_ONES

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


def _acc(bank: Bank, i: int, c: int, value: int) -> Access:
    return Access("dist", c, bank.offset + 4 * i, value)


def _bit_words(img: _Image, vcpus: range) -> Iterator[tuple[int, int]]:
    """(vcpu, word): word 0 per vCPU, the SPI words through vCPU 0."""
    for c in vcpus:
        yield c, 0
    for i in range(1, img.words):
        yield 0, i


def register_image(st: GicState, iidr_revision: int) -> Iterator[Access]:
    img, cpus = _Image(st), range(st.config.num_cpus)
    yield Access("dist", 0, KVM_GICD_CTLR.offset, KVM_GICD_CTLR.pack(enabled=st.enable_grp0))
    yield Access("dist", 0, GICD_TYPER.offset, GICD_TYPER.pack(
        it_lines_number=img.words - 1, cpu_number=st.config.num_cpus - 1))
    yield Access("dist", 0, GICD_IIDR.offset, kvm_iidr(iidr_revision))
    for name in ("IGROUPR", "ISENABLER", "ICENABLER", "ISPENDR", "ICPENDR", "ISACTIVER",
                 "ICACTIVER"):
        source = name.replace("IC", "IS")
        for c, i in _bit_words(img, cpus):
            yield _acc(BANK[name], i, c, img.bit_word(source, i, c))
    for name in ("IPRIORITYR", "ITARGETSR"):
        for c in cpus:
            yield from (_acc(BANK[name], i, c, img.byte_word(name, i, c)) for i in range(8))
        yield from (_acc(BANK[name], i, 0, img.byte_word(name, i, 0))
                    for i in range(8, 8 * img.words))
    for c in cpus:
        yield from (_acc(BANK["ICFGR"], i, c, img.cfg_word(i, c)) for i in range(2))
    yield from (_acc(BANK["ICFGR"], i, 0, img.cfg_word(i, 0)) for i in range(2, 2 * img.words))
    for name in ("CPENDSGIR", "SPENDSGIR"):
        for c in cpus:
            yield from (_acc(BANK[name], r, c, img.sgi_word(r, c)) for r in range(SGI_BANK_REGS))
    for c in cpus:
        yield from _cpu_regs(st, c)
        yield from (Access("cpu", c, GICC_APR.offset + 4 * n, 0) for n in range(1, GICC_APR_REGS))
        yield Access("cpu", c, GICC_IIDR.offset, KVM_GICC_IIDR)


def _cpu_regs(st: GicState, c: int) -> Iterator[Access]:
    ci = st.cpu[c]
    yield Access("cpu", c, KVM_GICC_CTLR.offset, ci.ctlr)
    yield Access("cpu", c, KVM_GICC_PMR.offset, KVM_GICC_PMR.pack(
        vmprimask=ci.pmr >> KVM_PMR_SHIFT))
    yield Access("cpu", c, GICC_BPR.offset, ci.bpr)
    yield Access("cpu", c, GICC_ABPR.offset, ci.abpr)
    yield Access("cpu", c, GICC_APR.offset, apr_word(st, c))


def _clear_set(img: _Image, set_name: str, clear_name: str, cpus: range) -> Iterator[Access]:
    """All-ones to the W1C register, then the state bits to the W1S one."""
    words = list(_bit_words(img, cpus))
    yield from (_acc(BANK[clear_name], i, c, ALL_ONES) for c, i in words)
    for c, i in words:
        value = img.bit_word(set_name, i, c)
        if set_name == "ISPENDR" and i == 0:
            value &= ~SGI_MASK  # an ISPENDR0 write would make the writing vCPU a source
        yield _acc(BANK[set_name], i, c, value)


def ordered_writes(st: GicState, iidr_revision: int) -> Iterator[Access]:
    """The restore sequence; the order matters (docs/kvm.md explains each step)."""
    img, cpus = _Image(st), range(st.config.num_cpus)
    if iidr_revision >= KVM_IIDR_GROUPS_WRITABLE:
        yield Access("dist", 0, GICD_IIDR.offset, kvm_iidr(iidr_revision))  # ungates IGROUPR
    yield Access("dist", 0, KVM_GICD_CTLR.offset, KVM_GICD_CTLR.pack(enabled=st.enable_grp0))
    for c, i in _bit_words(img, cpus):
        yield _acc(BANK["IGROUPR"], i, c, img.bit_word("IGROUPR", i, c))
    # trigger and targets before pending: KVM queues a pending SPI to its target then
    yield from (_acc(BANK["ICFGR"], i, 0, img.cfg_word(i, 0)) for i in range(2, 2 * img.words))
    yield from (_acc(BANK["ITARGETSR"], i, 0, img.byte_word("ITARGETSR", i, 0))
                for i in range(8, 8 * img.words))
    for c in cpus:
        yield from (_acc(BANK["IPRIORITYR"], i, c, img.byte_word("IPRIORITYR", i, c))
                    for i in range(8))
    yield from (_acc(BANK["IPRIORITYR"], i, 0, img.byte_word("IPRIORITYR", i, 0))
                for i in range(8, 8 * img.words))
    yield from _clear_set(img, "ISENABLER", "ICENABLER", cpus)
    yield from _clear_set(img, "ISPENDR", "ICPENDR", cpus)
    yield from _clear_set(img, "ISACTIVER", "ICACTIVER", cpus)
    for c in cpus:
        yield from (_acc(BANK["CPENDSGIR"], r, c, ALL_ONES) for r in range(SGI_BANK_REGS))
    for c in cpus:
        yield from (_acc(BANK["SPENDSGIR"], r, c, img.sgi_word(r, c))
                    for r in range(SGI_BANK_REGS))
    for c in cpus:
        yield from _cpu_regs(st, c)
