"""A canonical state as kvm-arm-gic's `arm_gic` arrays: what `kvm_arm_gic_get` (QEMU 7.2)
saves from a KVM that holds the state (gicmig.abi.kvm says what that is)."""

from __future__ import annotations

from collections.abc import Iterator

from gicmig.arch import bitmaps
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import (
    GICC_ABPR,
    GICC_APR,
    GICC_APR_REGS,
    GICC_BPR,
    GICC_CTLR,
    GICC_PMR,
    GICD_CPENDSGIR,
    GICD_CTLR,
    GICD_ICFGR,
    GICD_IGROUPR,
    GICD_IPRIORITYR,
    GICD_ISACTIVER,
    GICD_ISENABLER,
    GICD_ISPENDR,
    GICD_ITARGETSR,
    Bank,
)
from gicmig.core.config import GicConfig
from gicmig.core.model import GicState
from gicmig.core.rules import validate
from gicmig.errors import Violation
from gicmig.views.qemu.encode_tcg import _rebased, _slots
from gicmig.views.qemu.model import (
    IDLE_PRIORITY,
    SPURIOUS,
)
from gicmig.views.qemu.raw import RawImage
from gicmig.views.qemu.vmstate import (
    MAXIRQ,
    NCPU,
)


# --- kvm-arm-gic ------------------------------------------------------------------------------
def _fit_kvm(state: GicState, config: GicConfig, *,
             lenient: bool) -> tuple[GicState, list[Violation]]:
    """KVM's losses (gicmig.abi.kvm.fit.fit_kvm), for a KVM whose IIDR QEMU never writes."""
    from gicmig.abi.kvm.fit import fit_kvm

    fitted, losses = fit_kvm(state, lenient=lenient, iidr_revision=KVM_IIDR_UNWRITTEN)
    fitted = _rebased(fitted, config)
    validate(fitted)
    return fitted, losses


_PMR, _BPR = GICC_PMR.field("priority").mask, GICC_BPR.field("binary_point").mask
KVM_IIDR_UNWRITTEN = 1  # kvm_arm_gic_put never writes GICD_IIDR: IGROUPR writes are ignored


def kvm_image(st: GicState) -> RawImage:
    """What kvm_arm_gic_get (QEMU 7.2) saves from a KVM holding the fitted state `st`:
    QEMU's reset arrays, overwritten register by register from KVM's image."""
    from gicmig.abi.kvm.image import register_image

    cfg = st.config
    n, nirq = cfg.num_cpus, cfg.num_irqs
    # `st` is fitted already (_fit_kvm): KVM holds it as it is, and reads it back as its
    # register image
    regs = {a.key: a.value for a in register_image(st, KVM_IIDR_UNWRITTEN)}
    img = RawImage.blank(False)
    # arm_gic_common_reset: what kvm_arm_gic_get leaves alone keeps these values
    img.running = _slots([IDLE_PRIORITY] * n)
    img.current = _slots([SPURIOUS] * n)
    target = bytearray(b"\x01" * MAXIRQ if n == 1 else bytes(MAXIRQ))
    members = {m: bytearray(MAXIRQ) for m in ("enabled", "pending", "active", "edge", "group")}
    priority1, priority2 = bytearray(NUM_PRIVATE * NCPU), bytearray(MAXIRQ - NUM_PRIVATE)
    sgi_pending = bytearray(NUM_SGIS * NCPU)
    img.ctlr = regs[("dist", 0, GICD_CTLR.offset)]

    def words(reg: Bank, maxirq: int) -> Iterator[tuple[int, int, int]]:
        """kvm_dist_get: (first ID, vCPU, value) of each register read."""
        per = reg.per_word
        for i in range(maxirq // per):
            irq = i * per
            for cpu in range(n if irq < NUM_PRIVATE else 1):
                yield irq, cpu, regs[("dist", cpu, reg.offset + 4 * i)]

    for bank, member in ((GICD_IGROUPR, "group"), (GICD_ISENABLER, "enabled"),
                         (GICD_ISPENDR, "pending"), (GICD_ISACTIVER, "active")):
        vec = members[member]
        for irq, cpu, value in words(bank, nirq):
            cm = 1 << cpu if irq < NUM_PRIVATE else 0xFF
            for j in bitmaps.set_bits(value):
                vec[irq + j] |= cm
    for irq, _, value in words(GICD_ICFGR, nirq):
        for j in range(16):
            if value >> (2 * j) & 2:
                members["edge"][irq + j] = 1
    for irq, cpu, value in words(GICD_IPRIORITYR, nirq):
        for j in range(4):
            byte = value >> (8 * j) & 0xFF
            if irq + j < NUM_PRIVATE:
                priority1[(irq + j) * NCPU + cpu] = byte
            else:
                priority2[irq + j - NUM_PRIVATE] = byte
    for irq, _, value in words(GICD_ITARGETSR, nirq):
        target[irq:irq + 4] = value.to_bytes(4, "little")
    for irq, cpu, value in words(GICD_CPENDSGIR, NUM_SGIS):
        for j in range(4):
            sgi_pending[(irq + j) * NCPU + cpu] = value >> (8 * j) & 0xFF
    for name, vec in members.items():
        setattr(img, name, bytes(vec))
    img.target, img.priority1, img.priority2 = bytes(target), bytes(priority1), bytes(priority2)
    img.sgi_pending = bytes(sgi_pending)
    regs_of = {name: [regs[("cpu", c, off)] for c in range(n)]
               for name, off in (("ctlr", GICC_CTLR.offset), ("pmr", GICC_PMR.offset),
                                 ("bpr", GICC_BPR.offset), ("abpr", GICC_ABPR.offset))}
    img.cpu_ctlr = _slots(regs_of["ctlr"])
    # kvm_arm_gic_get keeps PMR's low byte and BPR's / ABPR's three bits
    img.pmr = _slots([v & _PMR for v in regs_of["pmr"]])
    img.bpr = bytes(_slots([v & _BPR for v in regs_of["bpr"]]))
    img.abpr = bytes(_slots([v & _BPR for v in regs_of["abpr"]]))
    apr = [0] * (GICC_APR_REGS * NCPU)
    for c in range(n):
        for k in range(GICC_APR_REGS):
            apr[k * NCPU + c] = regs[("cpu", c, GICC_APR.offset + 4 * k)]
    img.apr = tuple(apr)
    return img
