"""`gicmig import qemu --nested`: the GICH registers a guest hypervisor programmed, folded
into its own guest's CPU interface through the GICH converter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_qemu_support import GicImage, stream

import gicmig
from gicmig.arch.registers import GICH_HCR, GICH_LR, GICH_LR_HW
from gicmig.cli import main
from gicmig.errors import GicmigError
from gicmig.views.gich.nested import fold_nested

ROOT = Path(__file__).resolve().parents[1]
VIRT = ROOT / "examples" / "qemu-7.2-virt.mig"


def _quiescent(hw: bool = False) -> bytes:
    img = GicImage()
    img.vset("h_hcr", 0, GICH_HCR.pack(en=1))
    img.vset("cpu_ctlr", 0, 0b11)  # VMGrp0En, VMGrp1En of CPU 0's vCPU interface
    img.vset("priority_mask", 0, 0xF8)
    img.lr(0, 0, GICH_LR.pack(state=1, virtual_id=45, priority=10, grp1=1))
    img.vset("current_pending", 0, 45)  # QEMU's cache: the vCPU's highest pending LR
    if hw:
        img.lr(0, 1, GICH_LR_HW.pack(hw=1, state=2, virtual_id=27, physical_id=27, priority=4))
        img.vset("h_apr", 0, 1 << 4)
        img.vset("running_priority", 0, 4 << 3)  # QEMU's cache of the vCPU's RPR
    return stream(img.section())


def _import(tmp_path: Path, data: bytes, *extra: str) -> tuple[int, Path]:
    src, out = tmp_path / "in.mig", tmp_path / "out.gicmig"
    src.write_bytes(data)
    status = main(["import", "qemu", str(src), "--accel", "tcg", "--machine", "virt",
                   "--nested", "-o", str(out), *extra])
    return status, out


def test_the_real_virt_stream_is_not_quiescent(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _import(tmp_path, VIRT.read_bytes(), "--format", "json")
    assert status == 1 and not out.exists()  # refused: nothing written
    report = json.loads(capsys.readouterr().out)["nested"]
    assert [r["ok"] for r in report] == [False, False]
    codes = [{e["code"] for e in r["errors"]} for r in report]
    assert {"GICH-HCR-EOICOUNT", "GICH-LR-HW", "GICH-LR-EOI-PENDING"} <= codes[0]
    assert {"GICH-HCR-EOICOUNT", "GICH-LR-HW"} <= codes[1]


def test_a_quiescent_view_folds_into_the_nested_cpu_interface(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _import(tmp_path, _quiescent(), "--format", "json")
    assert status == 0 and out.exists()
    text = capsys.readouterr().out
    doc = json.loads(text)  # one gicmig/import-report document
    assert (doc["format"], doc["ok"], doc["exit"]) == ("gicmig/import-report", True, 0)
    nested = doc["nested"]
    cpu0 = nested[0]
    assert cpu0["ok"] and cpu0["interface"]["pmr"] == 0xf8
    assert cpu0["interface"]["ctlr"] == ["enable_grp0", "enable_grp1"]
    assert cpu0["lrs"] == [{"lr": 0, "irq": 45, "state": "pending", "group": 1,
                            "priority": 0x50}]


def test_hypervisor_context_only_when_asked(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    status, _ = _import(tmp_path, _quiescent(hw=True))
    assert status == 1 and "GICH-LR-HW" in capsys.readouterr().err
    status, out = _import(tmp_path, _quiescent(hw=True), "--keep-hypervisor-context")
    assert status == 0 and out.exists()
    assert "lr1: irq 27 (PPI 11) active" in capsys.readouterr().out


def test_nested_needs_virtualization_extensions() -> None:
    state = gicmig.GicState.reset(gicmig.GicConfig.qemu_virt())
    with pytest.raises(GicmigError) as info:
        fold_nested(state)
    assert info.value.code == "GICH-NESTED-NO-VIRTUALIZATION"
