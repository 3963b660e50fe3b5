"""Schema revision 3's latch_maybe_stale marker: KVM clears a level interrupt's pending
latch only when its list register goes invalid, so an acknowledged level interrupt whose
latch was set reads pending + active (KVM ABI) or active-only LR + EOI next to a latched
image (GICH view). Set by both imports, kept by KVM targets, refused (or, --lenient,
dropped) by targets that would deliver it again; older revisions name it as lost."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from test_kvm_import import edited
from test_kvm_replay import KvmModel
from test_qemu_support import GicImage, stream

import gicmig
from gicmig.abi.kvm.fit import KvmUnrepresentable, export_kvm, fit_kvm
from gicmig.arch.registers import GICH_LR
from gicmig.cli import main
from gicmig.core.config import GicConfig
from gicmig.core.model import GicState
from gicmig.errors import GicmigError, ValidationError
from gicmig.schemacheck import blobcompat
from gicmig.views.gich.merge import import_gich
from gicmig.views.gich.params import GichTarget
from gicmig.views.gich.plan import export_gich, plan_gich
from gicmig.views.kvm.dump import parse_dump
from gicmig.views.kvm.reader import import_kvm
from gicmig.views.qemu.convert import import_qemu

ROOT = Path(__file__).resolve().parents[1]
V3 = ROOT / "fixtures" / "v3"
PPI = 27  # the timer PPI, level-triggered, Group 0, priority 0xa0 in the example


def stale_dump() -> bytes:
    """The two-vCPU example after vCPU 0 acknowledged its timer PPI whose latch was set
    (GICD_ISPENDR): KVM reads it pending + active until the deactivation."""
    return edited(("dist", 0, 0x200, 1 << PPI), ("dist", 0, 0x280, 1 << PPI))


def stale_state() -> GicState:
    return import_kvm(parse_dump(stale_dump()))


def test_kvm_import_marks_pending_active_level_interrupts() -> None:
    st = stale_state()
    irq = st.irq(PPI, 0)
    assert irq.active and irq.pending_latch and irq.pending_split_unknown
    assert irq.latch_maybe_stale and st.banked[0].latch_maybe_stale == 1 << PPI
    # pending but not active (vCPU 1's timer: its line may be high): no marker
    assert not st.irq(PPI, 1).latch_maybe_stale and st.banked[1].latch_maybe_stale == 0
    assert st.shared.latch_maybe_stale == 0
    # the example itself has no such interrupt
    assert import_kvm(parse_dump(edited())).banked[0].latch_maybe_stale == 0


def test_kvm_import_marks_an_spi_too() -> None:
    # SPI 33 (level, pending in the example) made active on vCPU 0
    st = import_kvm(parse_dump(edited(("dist", 0, 0x304, 0x0001_0002),
                                      ("dist", 0, 0x384, 0x0001_0002))))
    assert st.shared.latch_maybe_stale == 1 << 1 and st.irq(33).latch_maybe_stale


def test_kvm_target_keeps_it() -> None:
    st = stale_state()
    model = KvmModel(2, 288)
    for w in export_kvm(st):  # strict: nothing refused
        model.set_attr(w)
    back = import_kvm(model.save())
    assert back == st and back.banked[0].latch_maybe_stale == 1 << PPI


def test_kvm_target_refuses_a_known_latch_of_an_active_level_interrupt() -> None:
    """A re-pend known to follow the acknowledge (QEMU TCG keeps it): KVM would drop it."""
    st = GicState.reset(GicConfig.qemu_virt(num_cpus=1))
    st.enable_grp0 = st.enable_grp1 = True
    for c in st.cpus():
        st.cpu[c].bpr, st.cpu[c].abpr = 2, 3
    sh = st.shared
    sh.enabled, sh.active, sh.pending_latch, sh.active_cpu = 1 << 8, 1 << 8, 1 << 8, bytes(9)
    with pytest.raises(KvmUnrepresentable) as info:
        fit_kvm(st)
    assert [v.code for v in info.value.violations] == ["KVM-EXPORT-LATCH-ACTIVE-LEVEL"]
    assert info.value.violations[0].path == "irq 40 (SPI 8)"
    fitted, losses = fit_kvm(st, lenient=True)
    assert [v.code for v in losses] == ["KVM-EXPORT-LATCH-ACTIVE-LEVEL"]
    assert fitted.shared.latch_maybe_stale == 1 << 8 and fitted.shared.pending_latch == 1 << 8


def test_gich_kvm_policy_keeps_it_and_its_import_sets_it() -> None:
    st = stale_state()
    view = export_gich(st)
    lrs = [lr for lr in view.vcpus[0].lr if lr & 0x3FF == PPI]
    # KVM's encoding: active only, EOI, the latch left in the image
    assert lrs == [GICH_LR.pack(virtual_id=PPI, priority=0xA0 >> 3, state=2, eoi=1)]
    assert view.distributor.banked[0].pending_latch >> PPI & 1
    assert import_gich(view) == st


def test_gich_import_marks_an_active_only_eoi_lr_next_to_a_latched_image() -> None:
    st = stale_state()
    view = export_gich(st)
    image = view.distributor.copy()
    image.banked[0].latch_maybe_stale = 0  # the image alone does not say it
    got = import_gich(type(view)(view.vcpus, image))
    assert got.banked[0].latch_maybe_stale == 1 << PPI


def test_line_held_case_stays_mapped() -> None:
    """An active-only LR + EOI next to an image whose *line* is high (no latch): the
    pending state is the line's, no marker."""
    st = GicState.reset(GicConfig.qemu_virt(num_cpus=1))
    for ci in st.cpu:
        ci.bpr, ci.abpr = 2, 3
    b = st.banked[0]
    b.active, b.line_level = 1 << PPI, 1 << PPI
    view = export_gich(st)
    assert [lr for lr in view.vcpus[0].lr if lr] == [
        GICH_LR.pack(virtual_id=PPI, state=2, eoi=1)]
    back = import_gich(view)
    assert back == st and back.banked[0].latch_maybe_stale == 0


def test_gich_kvm_policy_puts_a_known_latch_in_the_lr() -> None:
    """Without the marker the latch is a re-pend after the acknowledge: pending + active
    in the LR, so the guest takes it again after the deactivation."""
    st = GicState.reset(GicConfig.qemu_virt(num_cpus=1))
    for ci in st.cpu:
        ci.bpr, ci.abpr = 2, 3
    b = st.banked[0]
    b.active, b.pending_latch = 1 << PPI, 1 << PPI
    view = export_gich(st)
    assert [lr for lr in view.vcpus[0].lr if lr] == [
        GICH_LR.pack(virtual_id=PPI, state=3, eoi=1)]
    back = import_gich(view)
    assert back == st and back.banked[0].latch_maybe_stale == 0


def test_gich_eoi_policy_none_refuses_it_and_lenient_drops_the_latch() -> None:
    st = stale_state()
    target = GichTarget(eoi_policy="none")
    with pytest.raises(ValidationError) as info:
        export_gich(st, target)
    assert [(v.code, v.path) for v in info.value.violations] == [
        ("GICH-EXPORT-LATCH-MAYBE-STALE", f"cpu0 irq {PPI} (PPI 11)")]
    view, losses = plan_gich(st, target, lenient=True)
    assert [v.code for v in losses] == ["GICH-EXPORT-LATCH-MAYBE-STALE"]
    assert "dropped, as KVM drops it at the deactivation" in losses[0].message
    assert [lr for lr in view.vcpus[0].lr if lr & 0x3FF == PPI] == [
        GICH_LR.pack(virtual_id=PPI, priority=0xA0 >> 3, state=2)]
    back = import_gich(view)
    irq = back.irq(PPI, 0)
    assert irq.active and not irq.pending_latch and not irq.latch_maybe_stale
    # everything else is as before
    expect = st.copy()
    b = expect.banked[0]
    b.pending_latch &= ~(1 << PPI)
    b.pending_split_unknown &= ~(1 << PPI)
    b.latch_maybe_stale = 0
    assert back == expect


def test_cli_export_gich_lenient_reports_the_drop(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "s.json", tmp_path / "view.json"
    src.write_text(gicmig.to_json(stale_state()))
    assert main(["export", "gich", str(src), "--eoi-policy", "none", "-o", str(out)]) == 1
    assert "GICH-EXPORT-LATCH-MAYBE-STALE" in capsys.readouterr().err and not out.exists()
    assert main(["export", "gich", str(src), "--eoi-policy", "none", "--lenient",
                 "-o", str(out)]) == 0
    assert "GICH-EXPORT-LATCH-MAYBE-STALE cpu0 irq 27 (PPI 11)" in capsys.readouterr().out
    assert out.exists()


def test_qemu_kvm_stream_marks_it() -> None:
    img = GicImage.kvm()  # what kvm_arm_gic_get writes (KVM's binary points 2/3)
    img.irq(40, enabled=0xFF, pending=0xFF, active=0xFF)  # level SPI, pending + active
    st = import_qemu(io.BytesIO(stream(img.section())), accel="kvm", machine="virt")
    assert st.shared.latch_maybe_stale == 1 << 8 and st.irq(40).latch_maybe_stale


def test_rule_refuses_the_marker_elsewhere() -> None:
    st = stale_state()
    st.banked[1].latch_maybe_stale = 1 << PPI  # pending on vCPU 1, but not active
    assert [v.code for v in gicmig.check(st)] == ["IRQ-LATCH-STALE-INVALID"]
    st = stale_state()
    st.shared.latch_maybe_stale = 1 << 16  # SPI 48: active, edge-triggered
    assert [v.code for v in gicmig.check(st)] == ["IRQ-LATCH-STALE-INVALID"]


def test_json_fixture_carries_it() -> None:
    st = stale_state()
    text = gicmig.to_json(st)
    doc = json.loads(text)
    assert doc["schema_revision"] == 3
    assert doc["cpus"][0]["irqs"][str(PPI)]["latch_maybe_stale"] is True
    assert gicmig.from_json(text) == st


# --- revision 3 and older revisions ------------------------------------------------------------
def test_v3_golden_fixtures() -> None:
    blob = (V3 / "kvm-stale-latch.gicmig").read_bytes()
    st = gicmig.decode(blob)
    assert st.schema_revision == 3 and st == stale_state()
    assert gicmig.encode(gicmig.load(V3 / "kvm-stale-latch.json")) == blob
    assert gicmig.to_json(st) == (V3 / "kvm-stale-latch.json").read_text()


def test_revision_2_names_the_marker_as_lost(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    src = V3 / "kvm-stale-latch.gicmig"
    out = tmp_path / "down.gicmig"
    assert main(["encode", "--revision", "2", str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "BLOB-REVISION-LOSSY" in err and "state.banked[0].latch_maybe_stale (field 11)" in err
    assert not out.exists()
    assert main(["compat", "--format", "json", str(src), "--revision", "2"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["lossless"] is False
    assert [x["path"] for x in doc["lost"]] == ["state.banked[0].latch_maybe_stale"]
    with pytest.raises(GicmigError) as exc:
        blobcompat.as_revision(gicmig.decode(src.read_bytes()), 1)
    assert exc.value.code == "BLOB-REVISION-LOSSY"


def test_revision_3_state_without_the_marker_downgrades() -> None:
    st = import_kvm(parse_dump(edited()))
    old = blobcompat.as_revision(st, 2)
    assert gicmig.encode(old)[32:] == gicmig.encode(st)[32:]
    assert gicmig.decode(gicmig.encode(old)).schema_revision == 2


INVALID_V3 = sorted((V3 / "invalid").iterdir())


@pytest.mark.parametrize("path", INVALID_V3, ids=[p.stem for p in INVALID_V3])
def test_invalid_v3_fixture_reports_exactly_its_code(path: Path) -> None:
    with pytest.raises(GicmigError) as exc:
        gicmig.load(path)
    assert exc.value.code == path.stem
