"""`gicmig import kvm` and `gicmig export kvm` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_kvm_replay import KvmModel

from gicmig.cli import main
from gicmig.core.model import GicState
from gicmig.formats.io import dump, load
from gicmig.views.kvm.dump import parse_dump, parse_writes
from gicmig.views.kvm.reader import import_kvm

ROOT = Path(__file__).resolve().parents[1]
KVM = ROOT / "fixtures" / "kvm"
TWO_VCPU, FIRECRACKER = KVM / "two-vcpu.json", KVM / "firecracker-gicv2.json"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "gicmig.cli", *args], input=stdin,
                          capture_output=True, cwd=ROOT, timeout=60, check=False)


def test_import_then_export_restores_the_state(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    blob, writes = tmp_path / "state.gicmig", tmp_path / "writes.json"
    assert main(["import", "kvm", str(TWO_VCPU), "-o", str(blob)]) == 0
    report = capsys.readouterr().out
    assert "2 vCPUs, 288 interrupt IDs, GICD_IIDR 0x4b00343b" in report
    assert "unknown: GICD_CTLR.EnableGrp1" in report
    assert "cpu1 irq 27 (PPI 11), irq 33 (SPI 1)" in report
    assert "unknown: CPU of active SPI" not in report and "unknown: group" not in report
    assert ("derived: irq 48 (SPI 16): active on cpu1: the only active interrupt that sits at "
            "cpu1's active group priority 0xa0") in report
    assert ("derived: cpu0 gicc.active_priorities: group priorities 0xa0 are Group 0") in report
    assert ("derived: cpu1 gicc.active_priorities: group priorities 0xa0 are Group 0") in report
    state = load(str(blob))
    assert state.shared.active_cpu[16] == 1
    assert [ci.active_group0 for ci in state.cpu] == [1 << 80, 1 << 80]
    assert state.provenance.source == "kvm-abi"
    assert main(["export", "kvm", str(blob), "-o", str(writes)]) == 0
    nr_irqs, accesses = parse_writes(writes.read_bytes())
    model = KvmModel(2, nr_irqs)
    for w in accesses:
        model.set_attr(w)
    assert import_kvm(model.save()) == state
    assert accesses[0].value == 0x4B00343B  # the source's IIDR revision


@pytest.mark.parametrize("suffix", [".gicmig", ".json"])
def test_export_dump_reproduces_the_example(tmp_path: Path, suffix: str) -> None:
    state, again = tmp_path / f"state{suffix}", tmp_path / "dump.json"
    assert main(["import", "kvm", str(TWO_VCPU), "-o", str(state)]) == 0
    assert main(["export", "kvm", str(state), "--dump", "-o", str(again)]) == 0
    assert again.read_bytes() == TWO_VCPU.read_bytes()


def test_incomplete_dump_exits_1_listing_what_is_missing(tmp_path: Path) -> None:
    out = tmp_path / "state.gicmig"
    res = run("import", "kvm", str(FIRECRACKER), "--num-cpus", "2", "-o", str(out))
    assert res.returncode == 1 and not out.exists()
    err = res.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"{FIRECRACKER}: KVM-DUMP-INCOMPLETE")
    assert "GICD_ITARGETSR8-39" in err and "GICD_IIDR" in err
    res = run("import", "kvm", str(FIRECRACKER), "-o", str(out), "--format", "json")
    assert res.returncode == 1
    report = json.loads(res.stdout)
    assert (report["format"], report["exit"]) == ("gicmig/error", 1)
    assert report["error"]["code"] == "KVM-DUMP-INCOMPLETE"
    assert report["error"]["missing"][0] == "GICD_TYPER (or the vCPU count: --num-cpus)"


def test_json_report(tmp_path: Path) -> None:
    res = run("import", "kvm", str(TWO_VCPU), "-o", str(tmp_path / "s.gicmig"),
              "--format", "json")
    report = json.loads(res.stdout)
    assert res.returncode == 0 and report["ok"] and report["gicd_iidr"] == 0x4b00343b
    assert report["format"] == "gicmig/import-report" and report["view"] == "kvm"
    assert report["unknown"]["spi_active_cpu"] == []
    assert report["unknown"]["active_priority_group"] == {}
    assert report["normalized"] == []
    assert [d["place"] for d in report["derived"]] == [
        "irq 48 (SPI 16)", "cpu0 gicc.active_priorities", "cpu1 gicc.active_priorities"]


def test_stdin_to_stdout() -> None:
    res = run("import", "kvm", "-", "-o", "-", stdin=TWO_VCPU.read_bytes())
    assert res.returncode == 0
    assert json.loads(res.stdout)  # the JSON fixture; the report went to stderr
    assert "unknown:" in res.stderr.decode()


def test_strict_export_refuses_and_lenient_reports(tmp_path: Path) -> None:
    src, out = tmp_path / "tcg.json", tmp_path / "writes.json"
    state = import_kvm_fixture()
    state.enable_grp1_unknown = False
    state.enable_grp1 = False  # EnableGrp0 = 1, EnableGrp1 = 0: KVM has one enable
    state.shared.line_level = 1 << 1
    state.shared.pending_split_unknown = 0
    state.shared.pending_latch = 0
    dump(state, str(src))
    res = run("export", "kvm", str(src), "-o", str(out))
    assert res.returncode == 1 and not out.exists()
    err = res.stderr.decode()
    assert "KVM-EXPORT-ENABLE-GROUPS-DIFFER" in err and "KVM-EXPORT-LINE-LEVEL" in err
    res = run("export", "kvm", str(src), "-o", str(out), "--lenient")
    assert res.returncode == 0 and out.exists()
    assert "(accepted with --lenient)" in res.stderr.decode()
    res = run("export", "kvm", str(src), "-o", "-", "--lenient", "--format", "json")
    assert json.loads(res.stdout)["format"] == "gicmig.kvm-writes/1"


def import_kvm_fixture() -> GicState:
    return import_kvm(parse_dump(TWO_VCPU.read_bytes()))


@pytest.mark.parametrize(("args", "code", "status"), [
    (["import", "kvm", "missing.json", "-o", "x.gicmig"], "IO-READ", 2),
    (["import", "kvm", str(TWO_VCPU), "-o", str(TWO_VCPU)], "USAGE", 2),
    (["import", "kvm", str(TWO_VCPU), "--num-cpus", "3", "-o", "-"],
     "KVM-DUMP-TYPER-MISMATCH", 1),
    (["export", "kvm", str(TWO_VCPU), "-o", "-"], "INPUT-FORMAT-UNKNOWN", 1),  # not a state
])
def test_errors(args: list[str], code: str, status: int) -> None:
    res = run(*args)
    assert res.returncode == status
    err = res.stderr.decode()
    assert code in err and "Traceback" not in err


def test_bad_dump_is_one_line() -> None:
    res = run("import", "kvm", "-", "-o", "-", stdin=b'{"format": "gicmig.kvm-dump/1", '
              b'"nr_irqs": 64, "registers": [{"group": "dist", "vcpu": 0, "offset": 3, '
              b'"value": 0}]}')
    assert res.returncode == 1
    assert res.stderr.decode() == ("-: KVM-DUMP-RANGE registers[0]: dist offset 0x3 is not a "
                                   "32-bit aligned offset below 0x1000 (the ABI accesses whole "
                                   "registers only)\n")
