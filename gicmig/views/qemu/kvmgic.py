"""kvm-arm-gic's `arm_gic` section (what `kvm_arm_gic_get` saved from KVM's device ABI)
-> canonical state."""

from __future__ import annotations

from gicmig.abi.kvm import maybe_stale_latch, never_run_binary_points
from gicmig.abi.kvm.layout import apr0_levels, pmr_of_kvm
from gicmig.arch import bitmaps, labels
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import (
    KVM_GICD_CTLR,
)
from gicmig.core.model import UNKNOWN_CPU
from gicmig.views.qemu.decode import Converter, bank_mask

_ENABLED = KVM_GICD_CTLR.field("enabled")


# --- kvm-arm-gic ------------------------------------------------------------------------------
class KvmArmGic(Converter):
    """kvm-arm-gic: the section is the KVM device ABI's view (gic-domain §5.5): pending is
    latch OR line with `level` 0, SPI masks 0x00/0xff, PMR is VMPriMask, APR0 is the
    GICH_APR image, one distributor enable. What that view cannot say is UNKNOWN. The marks
    of the TCG GIC that kvm-arm-gic never writes are refused before (`accel.check_accel`)."""

    def distributor(self) -> None:
        st = self.state
        st.enable_grp0 = bool(_ENABLED.get(self.raw.ctlr))
        st.enable_grp1, st.enable_grp1_unknown = False, True

    def spis(self) -> None:
        r, n_irq, sh = self.raw, self.num_irqs, self.state.shared
        self.spi_priorities()
        pending = bitmaps.nonzero(r.pending[NUM_PRIVATE:n_irq])
        level = ~bitmaps.nonzero(r.edge[NUM_PRIVATE:n_irq])
        sh.pending_latch = pending
        sh.pending_split_unknown = pending & level
        active = r.active[NUM_PRIVATE:n_irq]
        sh.active = bitmaps.nonzero(active)
        sh.latch_maybe_stale = maybe_stale_latch(pending, sh.active, ~level)
        sh.active_cpu = active.translate(b"\x00" + bytes([UNKNOWN_CPU]) * 255)
        target = r.target[NUM_PRIVATE:n_irq]
        sh.targets = b"" if self.n == 1 else target

    def banked(self, c: int) -> None:
        r = self.raw
        _, _, _, edge = self.banked_common(c)
        latch = bank_mask(r.pending, c, NUM_SGIS)
        b = self.state.banked[c]
        b.pending_latch = latch
        b.pending_split_unknown = latch & ~edge
        b.latch_maybe_stale = maybe_stale_latch(latch, b.active, edge)
        self.sgi_sources(c)

    def cpu(self, c: int) -> None:
        r, ci = self.raw, self.state.cpu[c]
        ci.ctlr, ci.pmr = self.ctlr(c), pmr_of_kvm(r.pmr[c])
        # QEMU's reset values (BPR 0 / ABPR 1) pushed into a KVM vCPU that never ran: the
        # guest observes the minima (gicmig.abi.kvm); reported in strict mode too
        ci.bpr, ci.abpr, norm = never_run_binary_points(r.bpr[c], r.abpr[c],
                                                        labels.cpu_reg(c, "gicc"))
        if norm is not None:
            self.report.items.append(norm)
        apr0 = r.apr[c]  # GICH_APR image: bit n = group priority n << 3 = level 4n
        ci.active_group_unknown = apr0_levels(apr0)
