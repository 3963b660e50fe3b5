"""One-loss changes of a state for `export kvm`'s refusals, shared by the library tests
(tests/test_kvm_export.py) and the real-KVM replay (tests/real/test_real_kvm_lenient.py):
each applies exactly one thing KVM's device ABI cannot hold. The changes whose values must
fit a test's own background state stay in that test."""

from __future__ import annotations

from gicmig.abi.kvm import kvm_config
from gicmig.core.model import GicState


def ppi_edge(st: GicState) -> None:
    st.banked[1].edge |= 1 << 20  # KVM's PPIs are level-triggered


def ppi_line(st: GicState) -> None:
    st.banked[0].line_level = 1 << 27  # the ABI can set only the latch


def sgi_source(st: GicState) -> None:
    st.banked[0].active = 1 << 5  # active SGI 5 from CPU 1: a restore makes vCPU 0 its source
    st.banked[0].sgi_active_source = bytes([0, 0, 0, 0, 0, 1])


def ctlr(st: GicState) -> None:
    st.cpu[0].ctlr = 0x1 | 1 << 5  # FIQBypDisGrp0: not in KVM's vgic_vmcr


def pmr(st: GicState) -> None:
    st.cpu[1].pmr = 0xF1  # bits below KVM's 5 priority bits


def bpr(st: GicState) -> None:
    st.cpu[0].bpr = 0  # below KVM's minimum 2


def apr(st: GicState) -> None:
    st.cpu[0].active_group0 = 1 << 1  # group priority 0x02: between GICH_APR's 32 levels


def hyp(st: GicState) -> None:
    st.keep_hypervisor_context()  # no place in the device ABI


def as_kvm(st: GicState) -> GicState:
    """`st`'s state bits (and hypervisor context) with KVM's parameters: what an import of
    KVM's readback sets; the state bits are what a comparison counts."""
    cfg = st.config
    out = GicState.reset(kvm_config(cfg.num_cpus, cfg.num_irqs, cfg.priority_bits))
    out._pb.state.CopyFrom(st._pb.state)
    if st.hypervisor is not None:
        out.keep_hypervisor_context()
        out._pb.hypervisor.CopyFrom(st._pb.hypervisor)
    return out
