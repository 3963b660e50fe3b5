"""Predicting what a real KVM vgic-v2 reads back after a `gicmig.kvm-writes/1` restore, and
comparing a readback with the prediction register by register (no tests here).

For the real-KVM harness (issue 11): restore the writes of `gicmig export kvm [--lenient]`
into a fresh VM, dump every register (`gicmig.kvm-dump/1`), then

    problems = readback_differences(predict_readback(state, lenient=True), real_dump)
    assert problems == []

`predict_readback` is `gicmig.views.kvm.dump_kvm`: the registers KVM returns for the state
it will hold (`fit_kvm`). Every register the prediction names must read the predicted
value (a shared register, predicted through vCPU 0, through every vCPU); every other
register of the real dump must read 0 (KVM holds no state there).
"""

from __future__ import annotations

from gicmig.abi.kvm.access import KvmDump, register_name
from gicmig.abi.kvm.fit import dump_kvm
from gicmig.core.model import GicState


def predict_readback(state: GicState, *, lenient: bool = False,
                     iidr_revision: int | None = None) -> KvmDump:
    """The dump a KVM returns after the restore of `export kvm` of `state`."""
    return dump_kvm(state, lenient=lenient, iidr_revision=iidr_revision)


def readback_differences(predicted: KvmDump, actual: KvmDump) -> list[str]:
    """One line per register that differs: `vcpu1 GICC_BPR: predicted 0x2, read 0x0`."""
    want, got = predicted.registers(), actual.registers()
    out = []
    if predicted.nr_irqs != actual.nr_irqs:
        out.append(f"nr_irqs: predicted {predicted.nr_irqs}, read {actual.nr_irqs}")
    for key in sorted(set(want) | set(got)):
        group, vcpu, offset = key
        # a register the prediction reads through vCPU 0 only is shared: every vCPU reads it
        w, g = want.get(key, want.get((group, 0, offset), 0)), got.get(key)
        if key in want and g is None:
            out.append(f"vcpu{vcpu} {register_name(group, offset)}: predicted {w:#x}, not read")
        elif g is not None and g != w:
            out.append(f"vcpu{vcpu} {register_name(group, offset)}: predicted {w:#x}, "
                       f"read {g:#x}")
    return out
