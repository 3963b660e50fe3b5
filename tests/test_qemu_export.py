"""`export qemu`: states written into QEMU 7.2 streams, checked by importing them again.

Round trips on the real streams of ../shared/qemu (byte-identical into their own
template, the same state through another), the values of both encodings field by field,
QEMU's caches, every refusal with its code and place and what lenient mode writes
instead, the backend marks, the streaming copy and the command line.
"""

from __future__ import annotations

import filecmp
import io
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import states
from test_qemu_support import GicImage, stream, stream_parts

import gicmig
from gicmig.arch.registers import GICH_HCR, GICH_LR, GICH_VMCR
from gicmig.core.config import GicConfig
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.errors import REASONS, GicmigError, ValidationError
from gicmig.formats.io import load
from gicmig.views.kvm import import_kvm
from gicmig.views.kvm.dump import parse_dump
from gicmig.views.qemu.convert import import_qemu
from gicmig.views.qemu.raw import RawImage
from gicmig.views.qemu.stream import read_arm_gic
from gicmig.views.qemu.vmstate import NCPU
from gicmig.views.qemu.write import QemuExport, export_qemu

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "qemu"
# named, not globbed: an absent folder must not turn the tests into an empty parameter set
STREAMS = [SHARED / "streams" / f"{name}.mig" for name in ("cpuif", "dist", "reset", "virt")]
TEMPLATE = ROOT / "examples" / "qemu-7.2-virt-template.mig"  # real, 2 CPUs, no GICH
TWO_VCPU = ROOT / "fixtures" / "kvm" / "two-vcpu.json"

needs_shared = pytest.mark.usefixtures("shared_qemu")  # skips, or fails under CI=true


def raw_of(path: Path) -> RawImage:
    img = RawImage.__new__(RawImage)
    img.decode(read_arm_gic(path))
    return img


def write(tmp_path: Path, data: bytes, name: str = "t.mig") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def tcg_template(tmp_path: Path, n: int = 2, virt: bool = True, **kw: object) -> Path:
    return write(tmp_path, stream(GicImage(n, virt=virt).section(), **kw), f"tcg{n}{virt}.mig")


def kvm_template(tmp_path: Path, n: int = 2) -> Path:
    return write(tmp_path, stream(GicImage.kvm(n).section()), f"kvm{n}.mig")


def reset(n: int = 2, virt: bool = True) -> GicState:
    return GicState.reset(GicConfig.qemu_virt(n, virtualization=virt))


def export(state: GicState, template: Path, tmp_path: Path, **kw: object) -> QemuExport:
    return export_qemu(state, template, tmp_path / "out.mig", **kw)  # type: ignore[arg-type]


def reimport(tmp_path: Path, **kw: object) -> GicState:
    return import_qemu(tmp_path / "out.mig", machine="virt", **kw)  # type: ignore[arg-type]


def refused(state: GicState, template: Path, tmp_path: Path, code: str, place: str | None = None,
            **kw: object) -> GicmigError:
    with pytest.raises(GicmigError) as info:
        export(state, template, tmp_path, **kw)
    err = info.value
    assert err.code == code, str(err)
    assert code in REASONS
    if place is not None:
        assert isinstance(err, ValidationError)
        assert next(v.path for v in err.violations if v.code == code) == place, err.violations
    assert not (tmp_path / "out.mig").exists(), "a refused export left an output"
    return err


# --- round trips on the real streams --------------------------------------------------------------
@needs_shared
@pytest.mark.parametrize("path", STREAMS, ids=lambda p: p.stem)
def test_real_stream_into_itself_is_byte_identical(path: Path, tmp_path: Path) -> None:
    state = import_qemu(path, accel="tcg", machine="virt")
    rep = export(state, path, tmp_path)
    assert rep.losses == () and rep.accel == "tcg"
    assert filecmp.cmp(path, tmp_path / "out.mig", shallow=False)


@needs_shared
@pytest.mark.parametrize("path", STREAMS, ids=lambda p: p.stem)
def test_real_stream_through_every_other_template(path: Path, tmp_path: Path) -> None:
    state = import_qemu(path, machine="virt")
    for other in STREAMS:
        rep = export(state, other, tmp_path)
        back = reimport(tmp_path)
        assert back == state == rep.state
        out, tpl = (tmp_path / "out.mig").read_bytes(), other.read_bytes()
        assert len(out) == len(tpl)
        sec = read_arm_gic(other)
        # every byte outside the arm_gic record is the template's, vmdesc included
        end = sec.offset + 21 + len(sec.main) + 24 + len(sec.virt or b"") + 5
        assert out[:sec.offset + 21] == tpl[:sec.offset + 21]
        assert out[end:] == tpl[end:]


@needs_shared
def test_each_real_state_is_written_only_where_it_differs(tmp_path: Path) -> None:
    # dist's state into the reset stream: only arm_gic field bytes change
    dist = import_qemu(SHARED / "streams" / "dist.mig", machine="virt")
    template = SHARED / "streams" / "reset.mig"
    export(dist, template, tmp_path)
    a, b = template.read_bytes(), (tmp_path / "out.mig").read_bytes()
    sec = read_arm_gic(template)
    changed = [i for i in range(len(a)) if a[i] != b[i]]
    assert changed and sec.offset + 21 <= changed[0]
    assert changed[-1] < sec.offset + 21 + 9888 + 24 + 2240


# --- the TCG encoding, field by field -------------------------------------------------------------
def _busy_tcg() -> GicState:
    s = reset(2, virt=True)
    s.enable_grp0 = s.enable_grp1 = True
    sh = s.shared
    sh.enabled = 0b1111
    sh.group = 0b0100
    sh.edge = 0b0001
    sh.pending_latch = 0b0011  # SPI 32, 33
    sh.line_level = 0b1000  # SPI 35, level-triggered
    sh.active = 0b0110
    sh.active_cpu = bytes([0, 1, UNKNOWN_CPU])
    sh.targets = bytes([0x03, 0x02, 0x01, 0x01])
    sh.priority = bytes([0x40, 0x30, 0x20, 0x30])
    for c in range(2):
        b = s.banked[c]
        b.priority = bytes([0x10 * (c + 1)] * 32)
        b.enabled = 0xFFFF | (1 << 27)
        b.line_level = (1 << 27) if c == 1 else 0
        b.edge = 0xFFFF  # PPIs level on both
    s.banked[0].sgi_sources = bytes([0, 0, 0b10])  # SGI 2 on CPU0 from CPU1
    s.banked[1].active = 1 << 5
    s.banked[1].sgi_active_source = bytes([0] * 5 + [UNKNOWN_CPU])
    ci0, ci1 = s.cpu
    ci0.ctlr, ci0.pmr, ci0.bpr, ci0.abpr = 0x203, 0xF0, 2, 3
    ci0.active_group1 = 1 << 0x18  # group priority 0x30
    ci1.ctlr, ci1.pmr = 0x3, 0x28
    ci1.active_group0 = (1 << 0x10) | (1 << 0x40)  # 0x20 and 0x80
    v = s.virtual[0]
    v.hcr = GICH_HCR.pack(en=1, npie=1, eoicount=2)
    v.vmcr = GICH_VMCR.pack(vmgrp0en=1, vmgrp1en=1, vem=1, vmabp=4, vmbp=3, vmprimask=0x1E)
    v.apr = 0b1000
    v.lr = [GICH_LR.pack(virtual_id=45, priority=0xA, state=1, grp1=1),
            GICH_LR.pack(virtual_id=46, priority=0xA, state=1),
            GICH_LR.pack(virtual_id=47, priority=0x2, state=3),
            GICH_LR.pack(virtual_id=77, eoi=1)]
    # maintenance: En and MISR.EOI (LR3) -> PPI 25 high on CPU0
    s.banked[0].line_level |= 1 << 25
    return s


def test_tcg_values_field_by_field(tmp_path: Path) -> None:
    state = _busy_tcg()
    rep = export(state, tcg_template(tmp_path), tmp_path)
    assert rep.losses == () and reimport(tmp_path) == state
    r = raw_of(tmp_path / "out.mig")
    assert r.ctlr == 3
    assert r.enabled[:16] == b"\xff" * 16  # SGI enables of all 8 slots, as QEMU resets them
    assert r.enabled[27] == 0x03 and r.enabled[32:37] == b"\xff\xff\xff\xff\x00"
    assert r.pending[32:36] == b"\x03\x02\x00\x00"  # the target masks; SPI 35 by its line
    assert r.level[32:36] == b"\x00\x00\x00\xff" and r.level[27] == 0x02 and r.level[25] == 1
    assert r.active[32:36] == b"\x00\x02\xff\x00" and r.active[5] == 0x02
    assert r.edge[:16] == b"\x01" * 16 and r.edge[16:32] == bytes(16)
    assert r.edge[32:36] == b"\x01\x00\x00\x00" and r.group[32:36] == b"\x00\x00\xff\x00"
    assert r.pending[2] == 0x01 and r.sgi_pending[2 * NCPU + 0] == 0b10
    assert r.target[:32] == bytes(32) and r.target[32:36] == b"\x03\x02\x01\x01"
    assert r.priority1[27 * NCPU:27 * NCPU + 3] == b"\x10\x20\x00"
    assert r.priority2[:4] == b"\x40\x30\x20\x30"
    assert r.cpu_ctlr[:3] == (0x203, 3, 0) and r.pmr[:3] == (0xF0, 0x28, 0)
    assert r.bpr[:3] == b"\x02\x00\x00" and r.abpr[:3] == b"\x03\x01\x00"
    assert r.nsapr[0] == 1 << 0x18 and r.apr[1] == 1 << 0x10 and r.apr[2 * NCPU + 1] == 1
    assert r.running[:3] == (0x30, 0x20, 0)
    # CPU0: SPI 32 (prio 0x40), 35 (line, 0x30, target CPU0), SGI 2 (0x10), PPI 27 not
    # pending on CPU0: SGI 2 wins; CPU1: SPI 33 is active, PPI 27 (0x20) beats PMR 0x28
    assert r.current[:3] == (2, 27, 0)
    assert r.h_hcr[0] == state.virtual[0].hcr and r.h_apr[0] == 0b1000
    assert [r.h_lr[n * NCPU] for n in range(5)] == [*state.virtual[0].lr, 0]
    assert r.v_ctlr[0] == 0x203 and r.v_pmr[0] == 0xF0 and r.v_bpr[0] == 3 and r.v_abpr[0] == 4
    assert r.h_misr[0] == 0x1  # EOI (LR3); NP not: LR0/LR1 pending
    assert r.v_running[0] == 0x18  # ctz(0b1000) << 3
    assert r.v_current[0] == 45  # LR2 is pending+active: only state "pending" counts; LR0 first
    # CPU1's vCPU: reset (VMBP 2, VMABP 3), nothing pending
    assert (r.v_bpr[1], r.v_abpr[1], r.v_running[1], r.v_current[1]) == (2, 3, 0x100, 1023)
    assert (r.v_bpr[2], r.v_running[2], r.v_current[2]) == (0, 0, 0)  # absent slot


@pytest.mark.parametrize(("change", "want"), [
    (lambda s: None, (2, 27)),
    (lambda s: setattr(s.cpu[0], "pmr", 0x10), (1023, 27)),  # SGI 2 at 0x10 does not beat 0x10
    (lambda s: setattr(s.cpu[1], "ctlr", 0), (2, 1023)),  # CPU interface disabled
    (lambda s: setattr(s, "enable_grp0", False) or setattr(s, "enable_grp1", False), (1023, 1023)),
    # equal priorities: the lowest ID wins (SPI 35 and PPI 27 at 0x20 on CPU1)
    (lambda s: setattr(s.shared, "targets", bytes([0x03, 0x02, 0x01, 0x02])) or
     setattr(s.shared, "priority", bytes([0x40, 0x30, 0x20, 0x20])), (2, 27)),
    (lambda s: setattr(s.banked[1], "priority", bytes([0x30] * 32)) or
     setattr(s.shared, "targets", bytes([0x03, 0x02, 0x01, 0x02])) or
     setattr(s.shared, "priority", bytes([0x40, 0x30, 0x20, 0x20])), (2, 35)),
])
def test_current_pending_follows_gic_update(change: object, want: tuple[int, int],
                                            tmp_path: Path) -> None:
    state = _busy_tcg()
    change(state)  # type: ignore[operator]
    export(state, tcg_template(tmp_path), tmp_path)
    assert raw_of(tmp_path / "out.mig").current[:2] == want


def test_uniprocessor_and_eight_cpu_templates(tmp_path: Path) -> None:
    for n in (1, 8):
        state = reset(n, virt=False)
        state.shared.pending_latch = 1
        if n > 1:
            state.shared.targets = b"\x80"
        rep = export(state, tcg_template(tmp_path, n, virt=False), tmp_path)
        assert rep.losses == () and reimport(tmp_path) == state
        r = raw_of(tmp_path / "out.mig")
        if n == 1:
            assert r.target == b"\x01" * 1020 and r.pending[32] == 0x01
        else:
            assert r.target[:32] == bytes(32) and r.pending[32] == 0x80
        assert r.abpr == bytes([1] * n + [0] * (8 - n))


# --- refusals and what lenient mode writes --------------------------------------------------------
def _case(name: str) -> tuple[GicState, str, str]:
    s = reset(2, virt=True)
    if name == "sgi-disabled":
        s.banked[1].enabled = 0xFFFF & ~(1 << 3)
        return s, "QEMU-EXPORT-SGI-DISABLED", "cpu1 irq 3 (SGI 3)"
    if name == "ppi-banked":
        s.banked[1].edge = 0xFFFF | 1 << 20
        return s, "QEMU-EXPORT-PPI-TRIGGER-BANKED", "cpu1 irq 20 (PPI 4)"
    if name == "sgi-source":
        s.banked[0].active = 1 << 7
        s.banked[0].sgi_active_source = bytes([0] * 7 + [1])
        return s, "QEMU-EXPORT-ACTIVE-SGI-SOURCE", "cpu0 irq 7 (SGI 7)"
    if name == "no-target":
        s.shared.pending_latch = 1 << 9
        return s, "QEMU-EXPORT-SPI-PENDING-NO-TARGET", "irq 41 (SPI 9)"
    if name == "ctlr":
        s.cpu[1].ctlr = 0x1E3
        return s, "QEMU-EXPORT-CTLR-BITS", "cpu1 gicc.ctlr"
    if name == "maintenance":
        s.virtual[1].hcr = GICH_HCR.pack(en=1, npie=1)  # NP: no pending LR -> line high
        return s, "QEMU-EXPORT-MAINTENANCE-LEVEL", "cpu1 irq 25 (PPI 9)"
    if name == "grp1-unknown":
        s.enable_grp0, s.enable_grp1_unknown = True, True
        return s, "QEMU-EXPORT-UNKNOWN", "gicd.ctlr"
    if name == "split-unknown":
        s.shared.pending_latch = s.shared.pending_split_unknown = 1 << 2
        s.shared.targets = b"\x00\x00\x01"
        return s, "QEMU-EXPORT-UNKNOWN", "irq 34 (SPI 2)"
    if name == "apr-unknown":
        s.cpu[0].active_group_unknown = 1 << 8
        return s, "QEMU-EXPORT-UNKNOWN", "cpu0 gicc.active_priorities"
    if name == "split-ppi":  # pending, latch and line not told apart (a KVM source)
        s.banked[0].pending_latch = s.banked[0].pending_split_unknown = 1 << 27
        return s, "QEMU-EXPORT-UNKNOWN", "cpu0 irq 27 (PPI 11)"
    if name == "stale-ppi":  # an active level PPI with its latch, which a KVM source marked
        s.banked[1].active = s.banked[1].pending_latch = s.banked[1].latch_maybe_stale = 1 << 20
        return s, "QEMU-EXPORT-UNKNOWN", "cpu1 irq 20 (PPI 4)"
    if name == "stale-spi":
        sh = s.shared
        sh.active = sh.pending_latch = sh.latch_maybe_stale = 1 << 3
        sh.targets = b"\x00\x00\x00\x02"
        return s, "QEMU-EXPORT-UNKNOWN", "irq 35 (SPI 3)"
    assert name == "hypervisor"
    s.keep_hypervisor_context()
    return s, "QEMU-EXPORT-HYPERVISOR-CONTEXT", "hypervisor"


CASES = ("sgi-disabled", "ppi-banked", "sgi-source", "no-target", "ctlr", "maintenance",
         "grp1-unknown", "split-unknown", "apr-unknown", "split-ppi", "stale-ppi", "stale-spi",
         "hypervisor")


@pytest.mark.parametrize("name", CASES)
def test_refused_strict_and_nearest_state_lenient(name: str, tmp_path: Path) -> None:
    state, code, place = _case(name)
    if name == "sgi-disabled":  # a state of a GIC with writable SGI enables (KVM)
        state._pb.config.sgi_enables_rao_wi = False
    gicmig.validate(state)
    template = tcg_template(tmp_path)
    refused(state, template, tmp_path, code, place)
    rep = export(state, template, tmp_path, lenient=True)
    assert [(v.code, v.path) for v in rep.losses] == [(code, place)]
    back = reimport(tmp_path)
    assert back == rep.state
    near = {
        "sgi-disabled": lambda b: b.banked[1].enabled == 0xFFFF,
        "ppi-banked": lambda b: b.banked[1].edge == 0xFFFF,
        "sgi-source": lambda b: b.irq(7, 0).sgi_active_source is None and b.irq(7, 0).active,
        "no-target": lambda b: b.shared.pending_latch == 0,
        "ctlr": lambda b: b.cpu[1].ctlr == 0x3,
        "maintenance": lambda b: b.irq(25, 1).line_level and not b.irq(25, 0).line_level,
        "grp1-unknown": lambda b: b.enable_grp0 and b.enable_grp1 and not b.enable_grp1_unknown,
        "split-unknown": lambda b: b.irq(34).pending_latch and not b.irq(34).line_level,
        "apr-unknown": lambda b: b.cpu[0].active_group0 == 1 << 8,
        "split-ppi": lambda b: b.irq(27, 0).pending_latch and not b.irq(27, 0).line_level,
        "stale-ppi": lambda b: b.irq(20, 1).pending_latch and b.irq(20, 1).active
        and not b.banked[1].latch_maybe_stale,
        "stale-spi": lambda b: b.irq(35).pending_latch and b.irq(35).active
        and not b.shared.latch_maybe_stale,
        "hypervisor": lambda b: b.hypervisor is None,
    }[name]
    assert near(back)


def test_every_loss_is_listed_in_one_refusal(tmp_path: Path) -> None:
    s = reset(2, virt=True)
    s.cpu[1].ctlr = 0x1E3
    s.shared.pending_latch = 1 << 9
    s.enable_grp1_unknown = True
    with pytest.raises(ValidationError) as info:
        export(s, tcg_template(tmp_path), tmp_path)
    assert [v.code for v in info.value.violations] == [
        "QEMU-EXPORT-UNKNOWN", "QEMU-EXPORT-CTLR-BITS", "QEMU-EXPORT-SPI-PENDING-NO-TARGET"]


@pytest.mark.parametrize(("state", "tpl", "code"), [
    (reset(3, virt=True), (2, True), "QEMU-TEMPLATE-NUM-CPUS"),
    (reset(2, virt=False), (2, True), "QEMU-TEMPLATE-VIRTUALIZATION"),
    (reset(2, virt=True), (2, False), "QEMU-TEMPLATE-VIRTUALIZATION"),
    (GicState.reset(GicConfig(2, 320, num_lrs=4)), (2, True), "QEMU-TEMPLATE-NUM-IRQS"),
    (GicState.reset(GicConfig(2, 288, num_lrs=8)), (2, True), "QEMU-TEMPLATE-VIRTUALIZATION"),
])
def test_template_of_another_machine(state: GicState, tpl: tuple[int, bool], code: str,
                                     tmp_path: Path) -> None:
    err = refused(state, tcg_template(tmp_path, *tpl), tmp_path, code)
    assert err.category == "usage"  # the wrong template: exit 2


def test_template_of_a_machine_without_preset_needs_num_irqs(tmp_path: Path) -> None:
    template = tcg_template(tmp_path, machine="sbsa-ref")
    state = GicState.reset(GicConfig(2, 320, num_lrs=4))
    refused(state, template, tmp_path, "QEMU-PARAMETER-MISSING")
    export(state, template, tmp_path, num_irqs=320)
    assert import_qemu(tmp_path / "out.mig", num_irqs=320) == state


@pytest.mark.parametrize("lenient", [False, True])
def test_an_invalid_state_is_refused_by_its_rule_and_nothing_is_written(
        tmp_path: Path, lenient: bool) -> None:
    """The state is validated first: a BPR of 9 is CPU-BPR-RANGE, lenient or not (a
    lenient export fits what QEMU cannot hold, never what no GIC can)."""
    s = reset(2)
    s.cpu[0].bpr = 9
    with pytest.raises(ValidationError) as info:
        export(s, tcg_template(tmp_path), tmp_path, lenient=lenient)
    assert str(info.value) == "CPU-BPR-RANGE cpu0 gicc.bpr: 9 is not in 0..7 (minimum from " \
        "config.min_bpr 0)"
    assert not (tmp_path / "out.mig").exists()


def test_an_invalid_state_the_fit_would_mend_is_still_refused(tmp_path: Path) -> None:
    """Disabled SGIs on a GIC whose SGI enables are RAO/WI break a rule; a lenient fit
    would enable them (QEMU-EXPORT-SGI-DISABLED), but the input is refused first."""
    s = reset(2)
    s.banked[0].enabled = 0
    with pytest.raises(ValidationError) as info:
        export(s, tcg_template(tmp_path), tmp_path, lenient=True)
    assert info.value.code == "SGI-DISABLED-RAO"
    assert not (tmp_path / "out.mig").exists()


def test_num_irqs_given_overrides_the_template_machines_preset(tmp_path: Path) -> None:
    """A `virt` template presets 288 IDs; `num_irqs=320` says the VM was built with 320
    (as `import qemu --num-irqs` does), and the export follows it."""
    state = GicState.reset(GicConfig(2, 320, num_lrs=4))
    export(state, tcg_template(tmp_path), tmp_path, num_irqs=320)
    assert import_qemu(tmp_path / "out.mig", num_irqs=320) == state


def test_template_the_framing_walk_cannot_reach_is_refused(tmp_path: Path) -> None:
    # no vmdesc: the devices before arm_gic cannot be skipped, the importer searches
    template = write(tmp_path, stream(GicImage().section(), vmdesc=False))
    assert read_arm_gic(template).located_by == "search"
    refused(reset(), template, tmp_path, "QEMU-TEMPLATE-UNWALKABLE")


def test_section_version_is_checked(tmp_path: Path) -> None:
    refused(reset(), write(tmp_path, stream(GicImage().section(version=11))), tmp_path,
            "QEMU-GIC-VERSION")


def test_output_is_never_the_template_and_an_old_output_survives_a_refusal(
        tmp_path: Path) -> None:
    template = tcg_template(tmp_path)
    with pytest.raises(GicmigError) as info:
        export_qemu(reset(), template, template)
    assert info.value.code == "USAGE"
    out = tmp_path / "out.mig"
    out.write_bytes(b"keep me")
    state, _, _ = _case("ctlr")
    with pytest.raises(GicmigError):
        export(state, template, tmp_path)
    assert out.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mig", template.name]


# --- the backend: marks and --accel ---------------------------------------------------------------
def test_accel_comes_from_the_template_marks(tmp_path: Path) -> None:
    assert export(reset(), tcg_template(tmp_path), tmp_path).accel == "tcg"
    kvm = GicState.reset(GicConfig(2, 288, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False,
                                   ppi_trigger_programmable=False))
    assert export(kvm, kvm_template(tmp_path), tmp_path).accel == "kvm"


def test_wrong_accel_is_refused_naming_the_mark(tmp_path: Path) -> None:
    err = refused(reset(2, False), kvm_template(tmp_path), tmp_path, "QEMU-ACCEL-MISMATCH",
                  accel="tcg")
    assert "ITARGETSR byte 0x02" in err.message or "enabled mask 0x03" in err.message
    err = refused(reset(2, True), tcg_template(tmp_path), tmp_path, "QEMU-ACCEL-MISMATCH",
                  accel="kvm")
    assert "arm_gic_virt_state" in err.message


def test_ambiguous_marks(tmp_path: Path) -> None:
    img = GicImage(2, virt=False)
    img.set("irq_target", 0, 0x02)  # a kvm-arm-gic mark on a TCG image
    template = write(tmp_path, stream(img.section()))
    err = refused(reset(2, False), template, tmp_path, "QEMU-ACCEL-CONFLICT")
    assert "both" in err.message and err.category == "invalid"  # corrupt: exit 1
    with pytest.raises(GicmigError) as info:
        import_qemu(template, machine="virt")
    assert info.value.code == "QEMU-ACCEL-CONFLICT"


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_marks_decide_for_every_cpu_count(n: int) -> None:
    for img, want in ((GicImage(n, virt=False), "tcg"), (GicImage.kvm(n), "kvm")):
        got = import_qemu(io.BytesIO(stream(img.section())), machine="virt")
        assert got.provenance.source == f"qemu-{want}"
        other = "kvm" if want == "tcg" else "tcg"
        with pytest.raises(GicmigError) as info:
            import_qemu(io.BytesIO(stream(img.section())), machine="virt", accel=other)
        assert info.value.code == "QEMU-ACCEL-MISMATCH", str(info.value)


# --- kvm-arm-gic --------------------------------------------------------------------------------
def test_kvm_dump_into_a_kvm_template(tmp_path: Path) -> None:
    state = import_kvm(parse_dump(TWO_VCPU.read_bytes()))
    rep = export(state, kvm_template(tmp_path), tmp_path)
    assert rep.accel == "kvm" and rep.losses == ()
    back = reimport(tmp_path)
    assert back == rep.state
    assert back.config.priority_bits == 5 and back.provenance.source == "qemu-kvm"
    r = raw_of(tmp_path / "out.mig")
    assert r.enabled[:16] == b"\x03" * 16 and r.target[:32] == b"\x02" * 32
    assert r.level == bytes(1020) and r.nsapr == (0,) * 32
    assert r.running[:3] == (0x100, 0x100, 0) and r.current[:3] == (1023, 1023, 0)
    assert all(p <= 31 for p in r.pmr)
    for c in range(2):  # PMR is VMPriMask, APR0 the GICH_APR image
        assert r.pmr[c] << 3 == state.cpu[c].pmr
    for k in range(state.config.num_spis):
        assert r.pending[32 + k] in (0, 0xFF) and r.active[32 + k] in (0, 0xFF)


def test_kvm_image_into_itself_is_byte_identical(tmp_path: Path) -> None:
    img = GicImage.kvm(2)
    img.set("ctlr", 0, 1).set("priority_mask", 0, 0x1E).set("apr", 0, 1 << 4)
    img.irq(40, enabled=0xFF, pending=0xFF, active=0xFF)
    img.irq(41, enabled=0xFF, pending=0xFF, edge=1)
    img.irq(27, enabled=0x03, pending=0x02)
    img.irq(1, active=0x01)
    img.set("irq_target", 40, 0x01).set("irq_target", 41, 0x03)
    img.set("sgi_pending", 3 * NCPU + 1, 0x01).irq(3, pending=0x02)
    template = write(tmp_path, stream(img.section()))
    state = import_qemu(template, machine="virt")
    export(state, template, tmp_path)
    assert filecmp.cmp(template, tmp_path / "out.mig", shallow=False)


def test_kvm_losses_are_kvms(tmp_path: Path) -> None:
    s = GicState.reset(GicConfig(2, 288, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False,
                                 ppi_trigger_programmable=False))
    s.shared.group = 1  # QEMU never writes GICD_IIDR: KVM ignores IGROUPR
    refused(s, kvm_template(tmp_path), tmp_path, "KVM-EXPORT-GROUPS-IGNORED", "shared group")
    rep = export(s, kvm_template(tmp_path), tmp_path, lenient=True)
    assert [v.code for v in rep.losses] == ["KVM-EXPORT-GROUPS-IGNORED"]
    assert reimport(tmp_path).shared.group == 0


# --- random states ------------------------------------------------------------------------------
def _tcg_holdable(s: GicState) -> GicState:
    """What the TCG GIC holds, said independently of the exporter: SGIs enabled, one PPI
    trigger per ID, no UNKNOWN or maybe-stale markers, no active-SGI source, pending SPIs targeted,
    GICC_CTLR without bypass bits, PPI 25 driven by the GICH maintenance state."""
    cfg = s.config
    s.enable_grp1_unknown = False
    ppi_edge = s.banked[0].edge
    for c in s.cpus():
        b = s.banked[c]
        b.enabled |= 0xFFFF
        b.edge = ppi_edge
        b.pending_split_unknown = b.latch_maybe_stale = 0
        b.sgi_active_source = bytes(UNKNOWN_CPU if b.active >> i & 1 else 0 for i in range(16))
        ci = s.cpu[c]
        ci.ctlr &= 0x21F
        ci.active_group0 |= ci.active_group_unknown
        ci.active_group_unknown = 0
        if cfg.virtualization is not None:
            v = s.virtual[c]
            hcr, g0, g1 = v.hcr, v.vmcr & 1, v.vmcr >> 1 & 1
            lr_states = [lr >> 28 & 3 for lr in v.lr]
            eoi = any(lr >> 28 & 3 == 0 and not lr >> 31 and lr >> 19 & 1 for lr in v.lr)
            np = hcr >> 3 & 1 and 1 not in lr_states  # QEMU counts state "pending" only
            vgrp = ((hcr >> 4 & 1) and g0) or ((hcr >> 5 & 1) and not g0) or \
                ((hcr >> 6 & 1) and g1) or ((hcr >> 7 & 1) and not g1)
            u = hcr >> 1 & 1 and sum(x != 0 for x in lr_states) < 2
            lrenp = hcr >> 2 & 1 and hcr >> 27
            line = bool(hcr & 1) and bool(eoi or np or vgrp or u or lrenp)
            b.line_level = b.line_level & ~(1 << 25) | int(line) << 25
    sh = s.shared
    sh.pending_split_unknown = sh.latch_maybe_stale = 0
    if cfg.num_cpus > 1:
        targeted = sum(1 << k for k, t in enumerate(sh.targets) if t)
        sh.pending_latch &= targeted
    return s


def _qemu_config(n: int, nirq: int, virt: bool) -> GicConfig:
    return GicConfig(n, nirq, num_lrs=4 if virt else None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(st.data())
def test_random_tcg_states_round_trip(data: st.DataObject) -> None:
    n = data.draw(st.sampled_from((1, 2, 3, 8)))
    virt = data.draw(st.booleans())
    nirq = data.draw(st.sampled_from((32, 288, 992)))
    s = _tcg_holdable(data.draw(states(_qemu_config(n, nirq, virt))))
    gicmig.validate(s)
    machine = "virt-7.2" if nirq == 288 else "other"
    template = stream(GicImage(n, virt=virt).section(), machine=machine, zero_pages=2,
                      data_pages=1)
    section = read_arm_gic(io.BytesIO(template))
    from gicmig.views.qemu.write import plan_qemu

    plan = plan_qemu(s, section, num_irqs=None if nirq == 288 else nirq)
    assert plan.losses == () and plan.accel == "tcg"
    out = _splice(template, section, plan.main, plan.virt)
    back = import_qemu(io.BytesIO(out), machine="virt" if nirq == 288 else None,
                       num_irqs=None if nirq == 288 else nirq)
    assert back == s


def _splice(template: bytes, section: object, main: bytes, virt: bytes | None) -> bytes:
    at = section.offset + 21  # type: ignore[attr-defined]
    out = template[:at] + main + template[at + len(main):]
    if virt is not None:
        vat = at + len(main) + 24
        out = out[:vat] + virt + out[vat + len(virt):]
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(st.data())
def test_random_states_lenient_then_strict_is_lossless(data: st.DataObject) -> None:
    """Any valid state of a QEMU-sized GIC: lenient writes the nearest one, which exports
    again without loss and imports back as itself (both encodings)."""
    from gicmig.views.qemu.write import plan_qemu

    accel = data.draw(st.sampled_from(("tcg", "kvm")))
    n = data.draw(st.sampled_from((1, 2, 5)))
    virt = accel == "tcg" and data.draw(st.booleans())
    cfg = GicConfig(n, 288, priority_bits=data.draw(st.integers(4, 8)),
                    min_bpr=data.draw(st.integers(0, 3)),
                    sgi_enables_rao_wi=data.draw(st.booleans()),
                    ppi_trigger_programmable=data.draw(st.booleans()),
                    num_lrs=4 if virt else None)
    s = data.draw(states(cfg))
    img = GicImage(n, virt=virt) if accel == "tcg" else GicImage.kvm(n)
    template = stream(img.section(), zero_pages=2, data_pages=1)
    section = read_arm_gic(io.BytesIO(template))
    first = plan_qemu(s, section, lenient=True)
    again = plan_qemu(first.state, section, lenient=True)
    assert again.main == first.main and again.virt == first.virt and again.state == first.state
    # KVM's view refuses an active SPI whose CPU the attribution rule derives as another
    # than its first target (KVM-EXPORT-ACTIVE-SPI-CPU), though its import derives it so
    assert {v.code for v in again.losses} <= ({"KVM-EXPORT-ACTIVE-SPI-CPU"} if accel == "kvm"
                                              else set())
    back = import_qemu(io.BytesIO(_splice(template, section, first.main, first.virt)),
                       machine="virt")
    assert back == first.state


# --- streaming, atomic output and the command line ---------------------------------------------
def test_large_template_is_copied_in_bounded_memory(tmp_path: Path) -> None:
    template = tmp_path / "big.mig"
    with template.open("wb") as f:
        for part in stream_parts(GicImage().section(), zero_pages=1000, data_pages=16000):
            f.write(part)
    tracemalloc.start()
    try:
        rep = export(reset(), template, tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rep.size == template.stat().st_size > 60 << 20
    assert peak < 8 << 20, f"peak {peak} bytes"
    assert reimport(tmp_path) == reset()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gicmig", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_cli_worked_example(tmp_path: Path) -> None:
    """docs/qemu.md "Worked example": a KVM dump into a real QEMU 7.2 template."""
    state = tmp_path / "kvm.gicmig"
    out = tmp_path / "vm.mig"
    assert cli("import", "kvm", str(TWO_VCPU), "-o", str(state)).returncode == 0
    strict = cli("export", "qemu", str(state), "--template", str(TEMPLATE), "-o", str(out))
    assert strict.returncode == 1 and not out.exists()
    lines = strict.stderr.splitlines()
    assert len(lines) == 3 and all(" QEMU-EXPORT-UNKNOWN " in x for x in lines)
    assert "irq 33 (SPI 1)" in strict.stderr
    done = cli("export", "qemu", str(state), "--template", str(TEMPLATE), "-o", str(out),
               "--lenient", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["accel"] == "tcg" and len(report["losses"]) == 3
    assert report["size"] == TEMPLATE.stat().st_size
    back = import_qemu(out, machine="virt")
    kvm = load(state)
    assert back.irq(33).pending_latch and back.enable_grp1 == kvm.enable_grp0
    assert back.cpu[0].active_group0 == kvm.cpu[0].active_group0 != 0
    assert back.irq(48).active_cpu == kvm.irq(48).active_cpu == 1


def test_cli_errors(tmp_path: Path) -> None:
    state = tmp_path / "s.gicmig"
    gicmig.formats.io.dump(reset(2, virt=False), state)
    r = cli("export", "qemu", str(state), "--template", str(TEMPLATE), "-o", str(TEMPLATE))
    assert r.returncode == 2 and "USAGE" in r.stderr
    r = cli("export", "qemu", str(state), "--template", str(TEMPLATE), "-o",
            str(tmp_path / "o.mig"), "--accel", "kvm")
    assert r.returncode == 2 and "QEMU-ACCEL-MISMATCH" in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = cli("export", "qemu", str(state), "--template", str(tmp_path / "none.mig"), "-o",
            str(tmp_path / "o.mig"))
    assert r.returncode == 2 and "IO-READ" in r.stderr
    r = cli("import", "qemu", str(TEMPLATE), "-o", str(tmp_path / "t.json"), "--machine", "virt")
    assert r.returncode == 0, r.stderr


def test_template_on_disk_is_never_modified(tmp_path: Path) -> None:
    before = TEMPLATE.read_bytes()
    export(reset(2, virt=False), TEMPLATE, tmp_path)
    assert TEMPLATE.read_bytes() == before


def test_readme_export_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    import re

    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(state = gicmig.import_kvm.*?)```", text, re.S)
    assert code, "README has no export example"
    src = code.group(1).replace('"fixtures/', f'"{ROOT}/fixtures/')
    src = src.replace('"examples/', f'"{ROOT}/examples/')
    monkeypatch.chdir(tmp_path)
    exec(compile("import gicmig\n" + src, "README.md", "exec"), {})
    assert capsys.readouterr().out.split()[0] == "tcg"
    assert (tmp_path / "vm.mig").stat().st_size == TEMPLATE.stat().st_size


@needs_shared
def test_cli_writes_the_stream_to_stdout_and_reports_on_stderr(tmp_path: Path) -> None:
    stream_path = SHARED / "streams" / "dist.mig"
    state = tmp_path / "d.gicmig"
    assert cli("import", "qemu", str(stream_path), "-o", str(state)).returncode == 0
    r = subprocess.run([sys.executable, "-m", "gicmig", "export", "qemu", str(state),
                        "--template", str(stream_path), "-o", "-"], capture_output=True,
                       timeout=120, check=False)
    assert r.returncode == 0 and r.stdout == stream_path.read_bytes()
    assert b"wrote - (432488 bytes)" in r.stderr


def test_copy_without_copy_file_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the kernel cannot copy (another file system, an old kernel), plain positional
    reads and writes give the same file."""
    def refuse(*args: object) -> int:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr("os.copy_file_range", refuse, raising=False)
    template = write(tmp_path, b"".join(stream_parts(GicImage().section(), zero_pages=10,
                                                     data_pages=3000)))
    state = import_qemu(template)
    export(state, template, tmp_path)
    assert filecmp.cmp(template, tmp_path / "out.mig", shallow=False)
