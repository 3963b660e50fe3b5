"""The register image of a state KVM can hold, and the ordered writes that restore it
through KVM_DEV_ARM_VGIC_GRP_DIST_REGS / CPU_REGS."""

from __future__ import annotations

from collections.abc import Iterator

from gicmig.abi.kvm import (
    KVM_GICC_IIDR,
    kvm_iidr,
)
from gicmig.abi.kvm.access import Access
from gicmig.abi.kvm.layout import ALL_ONES, APR_MASK, LEVEL_STEP, kvm_pmr
from gicmig.arch import bitmaps
from gicmig.arch.ids import SGI_MASK
from gicmig.arch.registers import (
    BIT_BANKS,
    GICC_ABPR,
    GICC_APR,
    GICC_APR_REGS,
    GICC_BPR,
    GICC_IIDR,
    GICD_CPENDSGIR,
    GICD_ICFGR,
    GICD_IGROUPR,
    GICD_IIDR,
    GICD_IPRIORITYR,
    GICD_ISPENDR,
    GICD_ITARGETSR,
    GICD_SPENDSGIR,
    GICD_TYPER,
    KVM_GICC_CTLR,
    KVM_GICC_PMR,
    KVM_GICD_CTLR,
    KVM_IIDR_GROUPS_WRITABLE,
    SET_CLEAR,
    SGI_BANK_REGS,
    SGI_BANKS,
    Bank,
)
from gicmig.core.image import DistributorImage
from gicmig.core.model import GicState


# --- the register image and the writes ---------------------------------------------------
def apr_word(st: GicState, c: int) -> int:
    """GICC_APR0 in KVM's (GICH_APR) format, from a fitted state (both groups: one set)."""
    ci = st.cpu[c]
    levels = ci.active_group0 | ci.active_group1 | ci.active_group_unknown
    return bitmaps.squeeze(levels, LEVEL_STEP) & APR_MASK


def _acc(bank: Bank, i: int, c: int, value: int) -> Access:
    return Access("dist", c, bank.offset + 4 * i, value)


def _bit_words(img: DistributorImage, vcpus: range) -> Iterator[tuple[int, int]]:
    """(vcpu, word): word 0 per vCPU, the SPI words through vCPU 0."""
    for c in vcpus:
        yield c, 0
    for i in range(1, img.words):
        yield 0, i


def register_image(st: GicState, iidr_revision: int) -> Iterator[Access]:
    img, cpus = DistributorImage(st), range(st.config.num_cpus)
    yield Access("dist", 0, KVM_GICD_CTLR.offset, KVM_GICD_CTLR.pack(enabled=st.enable_grp0))
    yield Access("dist", 0, GICD_TYPER.offset, GICD_TYPER.pack(
        it_lines_number=img.words - 1, cpu_number=st.config.num_cpus - 1))
    yield Access("dist", 0, GICD_IIDR.offset, kvm_iidr(iidr_revision))
    for bank in BIT_BANKS:
        for c, i in _bit_words(img, cpus):
            yield _acc(bank, i, c, img.bit_word(bank, i, c))
    for bank in (GICD_IPRIORITYR, GICD_ITARGETSR):
        for c in cpus:
            yield from (_acc(bank, i, c, img.byte_word(bank, i, c)) for i in range(8))
        yield from (_acc(bank, i, 0, img.byte_word(bank, i, 0)) for i in range(8, 8 * img.words))
    for c in cpus:
        yield from (_acc(GICD_ICFGR, i, c, img.cfg_word(i, c)) for i in range(2))
    yield from (_acc(GICD_ICFGR, i, 0, img.cfg_word(i, 0)) for i in range(2, 2 * img.words))
    for bank in SGI_BANKS:
        for c in cpus:
            yield from (_acc(bank, r, c, img.sgi_word(r, c)) for r in range(SGI_BANK_REGS))
    for c in cpus:
        yield from _cpu_regs(st, c)
        yield from (Access("cpu", c, GICC_APR.offset + 4 * n, 0) for n in range(1, GICC_APR_REGS))
        yield Access("cpu", c, GICC_IIDR.offset, KVM_GICC_IIDR)


def _cpu_regs(st: GicState, c: int) -> Iterator[Access]:
    ci = st.cpu[c]
    yield Access("cpu", c, KVM_GICC_CTLR.offset, ci.ctlr)
    yield Access("cpu", c, KVM_GICC_PMR.offset, kvm_pmr(ci.pmr))
    yield Access("cpu", c, GICC_BPR.offset, ci.bpr)
    yield Access("cpu", c, GICC_ABPR.offset, ci.abpr)
    yield Access("cpu", c, GICC_APR.offset, apr_word(st, c))


def _clear_set(img: DistributorImage, set_bank: Bank, clear_bank: Bank,
               cpus: range) -> Iterator[Access]:
    """All-ones to the W1C register, then the state bits to the W1S one."""
    words = list(_bit_words(img, cpus))
    yield from (_acc(clear_bank, i, c, ALL_ONES) for c, i in words)
    for c, i in words:
        value = img.bit_word(set_bank, i, c)
        if set_bank is GICD_ISPENDR and i == 0:
            value &= ~SGI_MASK  # an ISPENDR0 write would make the writing vCPU a source
        yield _acc(set_bank, i, c, value)


def ordered_writes(st: GicState, iidr_revision: int) -> Iterator[Access]:
    """The restore sequence; the order matters (docs/kvm.md explains each step)."""
    img, cpus = DistributorImage(st), range(st.config.num_cpus)
    if iidr_revision >= KVM_IIDR_GROUPS_WRITABLE:
        yield Access("dist", 0, GICD_IIDR.offset, kvm_iidr(iidr_revision))  # ungates IGROUPR
    yield Access("dist", 0, KVM_GICD_CTLR.offset, KVM_GICD_CTLR.pack(enabled=st.enable_grp0))
    for c, i in _bit_words(img, cpus):
        yield _acc(GICD_IGROUPR, i, c, img.bit_word(GICD_IGROUPR, i, c))
    # trigger and targets before pending: KVM queues a pending SPI to its target then
    yield from (_acc(GICD_ICFGR, i, 0, img.cfg_word(i, 0)) for i in range(2, 2 * img.words))
    yield from (_acc(GICD_ITARGETSR, i, 0, img.byte_word(GICD_ITARGETSR, i, 0))
                for i in range(8, 8 * img.words))
    for c in cpus:
        yield from (_acc(GICD_IPRIORITYR, i, c, img.byte_word(GICD_IPRIORITYR, i, c))
                    for i in range(8))
    yield from (_acc(GICD_IPRIORITYR, i, 0, img.byte_word(GICD_IPRIORITYR, i, 0))
                for i in range(8, 8 * img.words))
    for set_bank, clear_bank in SET_CLEAR[:3]:  # enable, pending, active
        yield from _clear_set(img, set_bank, clear_bank, cpus)
    for c in cpus:
        yield from (_acc(GICD_CPENDSGIR, r, c, ALL_ONES) for r in range(SGI_BANK_REGS))
    for c in cpus:
        yield from (_acc(GICD_SPENDSGIR, r, c, img.sgi_word(r, c))
                    for r in range(SGI_BANK_REGS))
    for c in cpus:
        yield from _cpu_regs(st, c)
