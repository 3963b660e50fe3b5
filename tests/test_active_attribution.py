"""The one rule for what active interrupts explain (gicmig.core.attribution), and every
view that uses it: the KVM import, the GICH import and export, QEMU's kvm-arm-gic stream
and the nested GICH fold. Each ambiguity case that stays UNKNOWN is pinned here."""

from __future__ import annotations

import io
import json
from pathlib import Path

from test_qemu_support import GicImage, stream

from gicmig.abi.kvm import kvm_config
from gicmig.arch.registers import GICH_HCR, GICH_LR, GICH_VMCR
from gicmig.cli import main
from gicmig.core.attribution import attribute, group_priority_level, split_active_levels
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.views.gich.fold import fold_vcpu
from gicmig.views.gich.merge import import_gich
from gicmig.views.gich.nested import fold_groups
from gicmig.views.gich.plan import export_gich
from gicmig.views.gich.viewfile import GichView, VcpuRegs
from gicmig.views.kvm.reader import import_kvm
from gicmig.views.qemu.convert import import_qemu

ROOT = Path(__file__).resolve().parents[1]
TWO_VCPU = ROOT / "fixtures" / "kvm" / "two-vcpu.json"
LV = 0xA0 // 2  # the canonical level of group priority 0xa0


def kvm_state(n: int = 2) -> GicState:
    """A KVM-shaped state as an import leaves it: combined levels, SPI CPUs unknown."""
    st = GicState.reset(kvm_config(n, 64))
    st.enable_grp1_unknown = True
    return st


def active_spi(st: GicState, k: int, prio: int, group: int = 0) -> None:
    sh = st.shared
    sh.active |= 1 << k
    sh.group |= group << k
    p, cpu = bytearray(sh.priority.ljust(32, b"\0")), bytearray(sh.active_cpu.ljust(32, b"\0"))
    p[k], cpu[k] = prio, UNKNOWN_CPU
    sh.priority, sh.active_cpu = bytes(p), bytes(cpu)


def active_private(st: GicState, c: int, v: int, prio: int, group: int = 0) -> None:
    b = st.banked[c]
    b.active |= 1 << v
    b.group |= group << v
    p = bytearray(b.priority.ljust(32, b"\0"))
    p[v] = prio
    b.priority = bytes(p)
    if v < 16:
        src = bytearray(b.sgi_active_source.ljust(16, b"\0"))
        src[v] = UNKNOWN_CPU
        b.sgi_active_source = bytes(src)


def levels(st: GicState, c: int, *prios: int) -> None:
    st.cpu[c].active_group_unknown = sum(1 << p // 2 for p in prios)


def split(st: GicState, c: int) -> tuple[int, int, int]:
    ci = st.cpu[c]
    return ci.active_group0, ci.active_group1, ci.active_group_unknown


# --- the rule -------------------------------------------------------------------------------
def test_group_priority_uses_the_binary_point_of_the_group() -> None:
    # Group 0: BPR 2 keeps bits 7:3; Group 1 without CBPR: ABPR 4 acts as BPR 3 (bits 7:4)
    assert group_priority_level(0xA8, 0, 0, 2, 4) == 0xA8 >> 1
    assert group_priority_level(0xA8, 1, 0, 2, 4) == 0xA0 >> 1
    assert group_priority_level(0xA8, 1, 1 << 4, 2, 4) == 0xA8 >> 1  # CBPR: BPR for both


def test_split_one_group_both_groups_none() -> None:
    lv = 1 << LV | 1 << 0x40 // 2 | 1 << 0x20 // 2
    active = [(0xA0, 1), (0x40, 0), (0x40, 1)]
    assert split_active_levels(lv, active, 0, 2, 3) == (0, 1 << LV, 1 << 0x40 // 2 | 1 << 0x10)
    # a possibly-active interrupt (SPI of unknown CPU) of the other group makes it ambiguous
    assert split_active_levels(1 << LV, [(0xA0, 1)], 0, 2, 3, maybe=[(0xA0, 0)]) == (
        0, 0, 1 << LV)
    # possibly-active interrupts of one group alone decide it
    assert split_active_levels(1 << LV, [], 0, 2, 3, maybe=[(0xA0, 1), (0xA0, 1)]) == (
        0, 1 << LV, 0)
    assert split_active_levels(1 << LV, [(0xA0, 1)], 0, 2, 3, complete=False) == (0, 0, 1 << LV)


def test_spi_goes_to_the_only_cpu_whose_level_it_explains() -> None:
    st = kvm_state()
    active_private(st, 0, 27, 0xA0)       # explains cpu0's 0xa0
    active_spi(st, 16, 0xA0, group=1)     # only candidate for cpu1's 0xa0
    levels(st, 0, 0xA0)
    levels(st, 1, 0xA0)
    derived = attribute(st)
    assert st.shared.active_cpu[16] == 1
    assert split(st, 0) == (1 << LV, 0, 0) and split(st, 1) == (0, 1 << LV, 0)
    assert [d.place for d in derived] == ["irq 48 (SPI 16)", "cpu0 gicc.active_priorities",
                                          "cpu1 gicc.active_priorities"]


def test_explained_level_places_no_spi() -> None:
    """cpu0's 0xa0 is explained by its PPI: the SPI may share it, or be active on cpu1
    after a priority drop (EOImode 1). UNKNOWN; the level's group too when they differ."""
    st = kvm_state()
    active_private(st, 0, 27, 0xA0, group=0)
    active_spi(st, 16, 0xA0, group=1)
    levels(st, 0, 0xA0)
    assert attribute(st) == []
    assert st.shared.active_cpu[16] == UNKNOWN_CPU and split(st, 0) == (0, 0, 1 << LV)


def test_no_level_anywhere_keeps_the_spi_unknown() -> None:
    """EOImode 1 after the priority drop: active, but no APR bit on any CPU."""
    st = kvm_state()
    active_spi(st, 3, 0x80)
    assert attribute(st) == [] and st.shared.active_cpu[3] == UNKNOWN_CPU


def test_two_candidates_for_one_level_stay_unknown() -> None:
    st = kvm_state()
    active_spi(st, 3, 0xA0, group=1)
    active_spi(st, 4, 0xA0, group=1)
    levels(st, 1, 0xA0)
    attribute(st)
    assert st.shared.active_cpu[3] == st.shared.active_cpu[4] == UNKNOWN_CPU
    assert split(st, 1) == (0, 1 << LV, 0)  # whichever it is, the level is Group 1
    st = kvm_state()
    active_spi(st, 3, 0xA0, group=1)
    active_spi(st, 4, 0xA0, group=0)
    levels(st, 1, 0xA0)
    attribute(st)
    assert split(st, 1) == (0, 0, 1 << LV)


def test_sole_candidate_on_two_cpus_is_a_contradiction() -> None:
    st = kvm_state()
    active_spi(st, 3, 0xA0)
    levels(st, 0, 0xA0)
    levels(st, 1, 0xA0)
    attribute(st)
    assert st.shared.active_cpu[3] == UNKNOWN_CPU


def test_placement_runs_to_a_fixed_point() -> None:
    """cpu1's 0xa8 has one candidate (SPI b); once b is on cpu1, cpu0's 0xa0 (where the
    coarser BPR 4 puts both) has one left (SPI a)."""
    st = kvm_state()
    st.cpu[0].bpr = 4
    active_spi(st, 3, 0xA0)  # a
    active_spi(st, 4, 0xA8)  # b
    levels(st, 0, 0xA0)
    levels(st, 1, 0xA8)
    attribute(st)
    assert (st.shared.active_cpu[3], st.shared.active_cpu[4]) == (0, 1)


def test_unexplained_level_stays_unknown() -> None:
    """An APR bit no active interrupt sits at (APR written directly, ICACTIVER without EOI,
    a binary point changed since the acknowledge)."""
    st = kvm_state()
    active_private(st, 0, 27, 0x40)
    levels(st, 0, 0xA0)
    assert attribute(st) == [] and split(st, 0) == (0, 0, 1 << LV)


# --- every view -------------------------------------------------------------------------------
def test_kvm_import_then_export_gich_loses_nothing(tmp_path: Path) -> None:
    state, view = tmp_path / "s.gicmig", tmp_path / "view.json"
    assert main(["import", "kvm", str(TWO_VCPU), "-o", str(state)]) == 0
    assert main(["export", "gich", str(state), "-o", str(view)]) == 0
    back = import_gich(view)
    kvm = import_kvm(TWO_VCPU)
    assert back == kvm
    regs = json.loads(view.read_text())["vcpus"]
    # SPI 48 (edge) sits in vCPU 1's LRs as active, no EOI request
    lr48 = [int(x, 16) for x in regs[1]["lr"] if int(x, 16) & 0x3FF == 48]
    assert lr48 == [GICH_LR.pack(virtual_id=48, priority=0xA0 >> 3, state=2)]


def test_gich_export_still_refuses_a_split_the_import_would_not_rebuild() -> None:
    st = import_kvm(TWO_VCPU)
    st.cpu[0].active_group0, st.cpu[0].active_group1 = 0, 1 << LV  # PPI 27 is Group 0
    try:
        export_gich(st)
    except Exception as exc:
        assert getattr(exc, "code", None) == "GICH-EXPORT-APR-GROUP-SPLIT"
    else:
        raise AssertionError("exported a split the import would not rebuild")


def test_gich_import_places_an_image_spi_of_unknown_cpu() -> None:
    """An active SPI that sits in no LR keeps the image's CPU; UNKNOWN there, the one rule
    places it, as in the KVM import."""
    kvm = import_kvm(TWO_VCPU)
    view = export_gich(kvm)
    image = view.distributor.copy()
    cpu = bytearray(image.shared.active_cpu)
    cpu[16] = UNKNOWN_CPU
    image.shared.active_cpu = bytes(cpu)
    v1 = view.vcpus[1]
    lrs = tuple(0 if lr & 0x3FF == 48 else lr for lr in v1.lr)
    vcpus = (view.vcpus[0], VcpuRegs(v1.vtr, v1.hcr, v1.vmcr, v1.apr, lrs))
    got = import_gich(GichView(vcpus, image))
    assert got.shared.active_cpu[16] == 1 and split(got, 1) == (1 << LV, 0, 0)
    assert got == kvm


def test_qemu_kvm_stream_derives_and_normalizes_a_never_run_vcpu() -> None:
    img = GicImage.kvm()  # with QEMU's reset values in both vCPUs: BPR 0, ABPR 1
    for c in (0, 1):
        img.set("bpr", c, 0).set("abpr", c, 1)
    img.set("ctlr", 0, 1).set("apr", 1, 1 << 20).set("current_pending", 0, 1023)
    img.irq(48, enabled=0xFF, active=0xFF, group=0xFF)
    img.set("priority2", 48 - 32, 0xA0)
    for lenient in (False, True):
        imp = import_qemu(io.BytesIO(stream(img.section())), accel="kvm", machine="virt",
                          lenient=lenient)
        assert [(ci.bpr, ci.abpr) for ci in imp.cpu] == [(2, 3), (2, 3)]
        report = imp.import_report
        assert [(v.code, v.path) for v in report.normalized] == [
            ("KVM-NEVER-RUN-BINARY-POINT", "cpu0 gicc"),
            ("KVM-NEVER-RUN-BINARY-POINT", "cpu1 gicc")]
        assert report.normalized[0].message.startswith("GICC_BPR 0 -> 2, GICC_ABPR 1 -> 3: ")
        assert imp.shared.active_cpu[16] == 1
        assert split(imp, 1) == (0, 1 << LV, 0)
        assert report.derived[0].place == "irq 48 (SPI 16)"


def test_nested_fold_attributes_from_the_active_lrs() -> None:
    vmcr = GICH_VMCR.pack(vmbp=2, vmabp=3, vmgrp1en=1)
    lr_a = GICH_LR.pack(virtual_id=40, priority=0xA0 >> 3, state=2, grp1=1)
    lr_p = GICH_LR.pack(virtual_id=41, priority=0x10 >> 3, state=1)
    regs = VcpuRegs(0x9000_0003, GICH_HCR.pack(en=1), vmcr, 1 << 20, (lr_a, lr_p, 0, 0))
    assert fold_groups(fold_vcpu(regs, 0)) == (0, 1 << LV, 0)
    # every LR active: more active interrupts may wait outside them; nothing attributed
    full = tuple(GICH_LR.pack(virtual_id=40 + i, priority=0xA0 >> 3, state=2, grp1=1)
                 for i in range(4))
    regs = VcpuRegs(0x9000_0003, GICH_HCR.pack(en=1), vmcr, 1 << 20, full)
    assert fold_groups(fold_vcpu(regs, 0)) == (0, 0, 1 << LV)


def test_nested_fold_of_the_real_virt_stream(capsys: object) -> None:
    """QEMU 7.2's `virt` stream (examples/): the guest hypervisor's GICH_APR levels are
    explained by the active LRs (vSGI 3 at 0x20 on CPU 0, vPPI 27 at 0x30 on CPU 1)."""
    from gicmig.views.gich.nested import fold_nested

    state = import_qemu(ROOT / "examples" / "qemu-7.2-virt.mig", accel="tcg",
                        machine="virt")
    folds = fold_nested(state, lenient=True, keep_hypervisor_context=True)
    assert [fold_groups(r.fold) for r in folds if r.fold] == [
        (1 << 0x20 // 2, 0, 0), (1 << 0x30 // 2, 0, 0)]
