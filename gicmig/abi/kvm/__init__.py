"""Semantics of Linux KVM's vgic-v2 that more than one view needs (the KVM device-ABI
view and QEMU's kvm-arm-gic stream, which is that ABI's view written by QEMU): its
implementation parameters, the IIDR values it reports, and what it does to state that
the architecture would keep (never-run binary points, stale latches, the CPU an SPI is
queued to). `fit` says what KVM holds, `image` how a state is written into it, `layout`
how its registers map onto the state, `access` what one register access is.
"""

from __future__ import annotations

from gicmig.arch import bitmaps
from gicmig.arch.priority import min_abpr
from gicmig.arch.registers import (
    ARM_IMPLEMENTER,
    GICC_IIDR,
    GICD_IIDR,
    KVM_MIN_BPR,
    KVM_PRIORITY_BITS,
    KVM_PRODUCT_ID,
)
from gicmig.core.config import GicConfig
from gicmig.errors import Violation

__all__ = ["KVM_GICC_IIDR", "NEVER_RUN", "kvm_config", "kvm_iidr", "lowest_target",
           "maybe_stale_latch", "never_run_binary_points"]

NEVER_RUN = "KVM-NEVER-RUN-BINARY-POINT"
KVM_MIN_ABPR = min_abpr(KVM_MIN_BPR)


def kvm_iidr(revision: int) -> int:
    """GICD_IIDR as KVM reports it for an implementation revision."""
    return GICD_IIDR.pack(implementer=ARM_IMPLEMENTER, revision=revision,
                          product_id=KVM_PRODUCT_ID)


KVM_GICC_IIDR = GICC_IIDR.pack(implementer=ARM_IMPLEMENTER, arch_version=2,
                               product_id=KVM_PRODUCT_ID)


def kvm_config(num_cpus: int, nr_irqs: int, priority_bits: int = KVM_PRIORITY_BITS) -> GicConfig:
    """The implementation parameters of KVM's emulated GICv2."""
    return GicConfig(num_cpus, nr_irqs, priority_bits=priority_bits, min_bpr=KVM_MIN_BPR,
                     sgi_enables_rao_wi=False, ppi_trigger_programmable=False)


def lowest_target(targets: int) -> int:
    """The CPU KVM queues an SPI to: the lowest CPU of its target mask (8: no target)."""
    return bitmaps.lowest(targets) if targets else 8


def never_run_binary_points(bpr: int, abpr: int, where: str) -> tuple[int, int, Violation | None]:
    """The GICC_BPR / GICC_ABPR the guest observes, and the normalization if they differ.

    KVM keeps a vCPU's VMCR in software and resets it to 0 (`vgic_v2_enable`), and keeps
    what userspace writes to GICC_BPR/ABPR, also values below the minima; the binary
    points are clamped to the minima (2 / 3 with 5 preemption bits, gic-domain §2.3, §4.4,
    §6 row 10) only when that VMCR first goes through GICH_VMCR, at the vCPU's first run.
    Measured on Linux 6.1 (real-implementations.md §2): a never-run vCPU reads BPR 0 and
    ABPR 0. After a run the values read back are the clamped ones, so a value below the
    minimum means the vCPU has not run since it was set, and the guest can only ever
    observe the minimum. Only values below the minima change, each to its minimum.
    """
    new_bpr, new_abpr = max(bpr, KVM_MIN_BPR), max(abpr, KVM_MIN_ABPR)
    if (new_bpr, new_abpr) == (bpr, abpr):
        return bpr, abpr, None
    changed = []
    if new_bpr != bpr:
        changed.append(f"GICC_BPR {bpr} -> {new_bpr}")
    if new_abpr != abpr:
        changed.append(f"GICC_ABPR {abpr} -> {new_abpr}")
    return new_bpr, new_abpr, Violation(
        NEVER_RUN, where,
        f"{', '.join(changed)}: a vCPU that has not run since reset keeps KVM's software VMCR "
        f"(binary points below the minima {KVM_MIN_BPR} / {KVM_MIN_ABPR}); its first run "
        "clamps them, and the guest only ever observes the clamped values")


def maybe_stale_latch(pending: int, active: int, edge: int) -> int:
    """The interrupts (bitmap) whose pending state, as KVM's ISPENDR shows it, may be a
    stale latch: level-triggered, active and pending.

    KVM clears a level interrupt's pending latch only when its list register goes
    invalid (`vgic_v2_fold_lr_state`: at the deactivation), while the architecture clears
    it at the acknowledge; so a level interrupt latched (GICD_ISPENDR) and then
    acknowledged reads pending + active until it is deactivated (seen on a real nested
    KVM, issue 11). The ABI cannot tell that latch from a re-pend after the acknowledge,
    nor from a line held high (gic-domain §4.5, §4.7), so the marker goes with every such
    interrupt; a KVM target clears the latch at the deactivation either way.
    """
    return pending & active & ~edge
