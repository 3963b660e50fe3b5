"""Defects found in review: each test reproduces one and fails without its fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gicmig
from gicmig.cli import main
from gicmig.core.config import GicConfig
from gicmig.core.model import GicState, HwMapping
from gicmig.errors import DecodeError, GicmigError
from gicmig.formats import envelope
from gicmig.formats.fixture import from_json, to_json

ROOT = Path(__file__).resolve().parents[1]
BUSY = ROOT / "fixtures" / "v1" / "busy.json"


def _hyp(*maps: HwMapping) -> GicState:
    s = GicState.reset(GicConfig(2, 64))
    s.keep_hypervisor_context()[0].hw_mappings = list(maps)
    return s


def test_hw_mappings_have_one_order() -> None:
    a = _hyp(HwMapping(40, 100), HwMapping(41, 101))
    b = _hyp(HwMapping(41, 101), HwMapping(40, 100))
    assert a == b and gicmig.encode(a) == gicmig.encode(b)


def test_hw_mappings_stored_out_of_order_are_not_canonical() -> None:
    s = _hyp(HwMapping(40, 100), HwMapping(41, 101))
    maps = s._pb.hypervisor.vcpu[0].hw_mapping
    maps[0].virtual_id, maps[1].virtual_id = 41, 40
    payload = s._pb.SerializeToString(deterministic=True)
    with pytest.raises(gicmig.ValidationError) as info:
        gicmig.decode(envelope.pack(payload, 2))
    assert info.value.code == "PAYLOAD-NOT-CANONICAL"


def test_one_physical_id_is_mapped_once() -> None:
    s = _hyp(HwMapping(40, 100), HwMapping(41, 100))
    assert [v.code for v in gicmig.check(s)] == ["HYP-HW-MAPPING"]


@pytest.mark.parametrize("revision", [4, 10**20, 0])
def test_a_fixture_names_only_known_revisions(revision: int) -> None:
    doc = json.loads(BUSY.read_text())
    doc["schema_revision"] = revision
    with pytest.raises(DecodeError) as info:
        from_json(json.dumps(doc))
    assert info.value.code == "JSON-SCHEMA" and "schema_revision" in info.value.message


@pytest.mark.parametrize("revision", [0, 2**32])
def test_encode_refuses_a_revision_it_cannot_write(revision: int) -> None:
    s = gicmig.load(BUSY)
    s.schema_revision = revision
    with pytest.raises(GicmigError) as info:
        gicmig.encode(s)
    assert info.value.code == "SCHEMA-REVISION-UNKNOWN"


def test_writing_to_a_fifo_writes_into_it(tmp_path: Path) -> None:
    fifo = tmp_path / "ff"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    assert main(["decode", str(ROOT / "fixtures" / "v1" / "busy.gicmig"), "-o", str(fifo)]) == 0
    out, _ = reader.communicate(timeout=30)
    assert out.decode() == BUSY.read_text() and fifo.is_fifo()


def test_writing_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("old")
    link.symlink_to(real)
    assert main(["decode", str(ROOT / "fixtures" / "v1" / "busy.gicmig"), "-o", str(link)]) == 0
    assert link.is_symlink() and real.read_text() == BUSY.read_text()


def test_an_unknown_source_value_is_unknown_content() -> None:
    s = GicState.reset(GicConfig(2, 64))
    s._pb.provenance.source = 77
    blob = envelope.pack(s._pb.SerializeToString(deterministic=True), 2)
    with pytest.raises(DecodeError) as info:
        gicmig.decode(blob)
    assert info.value.code == "PAYLOAD-UNKNOWN-FIELDS"
    with pytest.raises(DecodeError):
        to_json(gicmig.decode(blob, allow_unknown=True))


@pytest.mark.parametrize("key", ["²", "٣", "03", "+3", " 3"])
def test_interrupt_keys_are_plain_decimal(key: str) -> None:
    doc = json.loads(BUSY.read_text())
    doc["cpus"][0]["irqs"][key] = {"priority": "0x10"}
    with pytest.raises(DecodeError) as info:
        from_json(json.dumps(doc))
    assert info.value.code == "JSON-SCHEMA" and "decimal ID" in info.value.message


def test_deep_nesting_is_a_json_error() -> None:
    with pytest.raises(DecodeError) as info:
        from_json('{"a":' * 50000 + "1" + "}" * 50000)
    assert info.value.code == "JSON-SYNTAX"


def _cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "gicmig", *args], capture_output=True,
                          cwd=ROOT, timeout=60, check=False)


def test_diff_options_are_checked() -> None:
    for spec in ("kvm,num_cpus=²:fixtures/kvm/two-vcpu.json",
                 "qemu:tcg,lenient=maybe:examples/qemu-7.2-virt.mig"):
        out = _cli("diff", spec, str(BUSY))
        assert out.returncode == 2 and b"USAGE" in out.stderr and b"Traceback" not in out.stderr


def test_diff_streams_a_large_qemu_stream(tmp_path: Path) -> None:
    big = tmp_path / "big.mig"
    big.write_bytes((ROOT / "examples" / "qemu-7.2-virt.mig").read_bytes())
    with open(big, "r+b") as f:
        f.truncate(70 << 20)  # beyond io.MAX_INPUT; the vmdesc is gone, the framing remains
    ref = tmp_path / "ref.gicmig"
    assert main(["import", "qemu", str(big), "--accel", "tcg", "--machine", "virt",
                 "-o", str(ref)]) == 0
    assert main(["diff", f"qemu:tcg:{big}", str(ref)]) == 0


def test_a_bug_is_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import gicmig.cli.codec_cmds as cmds

    def boom(*_: object, **__: object) -> None:
        raise ZeroDivisionError("synthetic")

    monkeypatch.setattr(cmds, "refuse_overwriting_input", boom)
    assert main(["decode", str(ROOT / "fixtures" / "v1" / "busy.gicmig")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ZeroDivisionError: synthetic" in err[0]
    assert err[0].split(": ")[1].split()[0] == "INTERNAL-ERROR"


# --- second review: the converters against gic-domain §6 -----------------------------------
def _spi40(**maps: int) -> GicState:
    s = GicState.reset(GicConfig(2, 64))
    s.shared.edge = 1 << 8
    ctx = s.keep_hypervisor_context()
    for cpu, phys in maps.items():
        ctx[int(cpu[3:])].hw_mappings = [HwMapping(40, phys)]
    return s


def test_an_spi_is_hw_mapped_on_one_vcpu_only() -> None:
    s = _spi40(cpu0=40, cpu1=41)
    s.shared.pending_latch = 1 << 8
    assert [v.code for v in gicmig.check(s)] == ["HYP-HW-MAPPING"]


def test_an_active_spi_is_hw_mapped_where_it_is_active() -> None:
    s = _spi40(cpu0=40)
    s.shared.active = 1 << 8
    s.shared.active_cpu = bytes(8) + b"\x01"
    [v] = gicmig.check(s)
    assert v.code == "HYP-HW-MAPPING" and "active on CPU 1" in v.message


def test_sgis_cannot_be_hw_mapped() -> None:
    s = GicState.reset(GicConfig(2, 64))
    s.keep_hypervisor_context()[0].hw_mappings = [HwMapping(3, 40)]
    [v] = gicmig.check(s)
    assert v.code == "HYP-HW-MAPPING" and "SGI" in v.message


def test_qemu_bypass_bits_are_impossible() -> None:
    import io
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from test_qemu_support import GicImage, stream

    for accel in ("tcg", "kvm"):  # kvm-arm-gic streams have no virtualization subsection
        img = GicImage() if accel == "tcg" else GicImage.kvm()
        data = stream(img.set("cpu_ctlr", 0, 0x1E0).section())
        with pytest.raises(GicmigError) as info:
            gicmig.import_qemu(io.BytesIO(data), accel=accel, machine="virt")
        assert "QEMU-VALUE-IMPOSSIBLE" in str(info.value) and "gicc.ctlr" in str(info.value)


def test_lenient_drops_only_empty_list_registers_beyond_listregs() -> None:
    from gicmig.arch.registers import GICH_LR
    from gicmig.views.gich.merge import import_gich
    from gicmig.views.gich.viewfile import GichView, VcpuRegs

    image = GicState.reset(GicConfig.qemu_virt())
    reset_vmcr = 0x004C0000

    def view(extra: int) -> GichView:
        regs = VcpuRegs(vtr=0x90000003, hcr=0, vmcr=reset_vmcr, apr=0, lr=(0, 0, 0, 0, extra))
        return GichView((regs, regs), image)

    import_gich(view(0), lenient=True)  # an empty LR4: QEMU's off-by-one, benign
    with pytest.raises(gicmig.ValidationError) as info:
        import_gich(view(GICH_LR.pack(state=2, virtual_id=41, priority=4)), lenient=True)
    assert info.value.code == "GICH-LR-COUNT" and "LR4 0x" in info.value.message


def test_a_distributor_path_stays_beside_the_view() -> None:
    from gicmig.views.gich.viewfile import parse_view

    doc = {"format": "gicmig.gich-view/1", "distributor": {"path": "/etc/passwd"},
           "vcpus": [{"vtr": 0x90000003, "hcr": 0, "vmcr": 0x004C0000, "apr": 0,
                      "lr": [0, 0, 0, 0]}]}
    with pytest.raises(GicmigError) as info:
        parse_view(json.dumps(doc).encode())
    assert "relative" in info.value.message


def test_strict_refuses_list_registers_beyond_listregs() -> None:
    from gicmig.views.gich.merge import import_gich
    from gicmig.views.gich.viewfile import GichView, VcpuRegs

    regs = VcpuRegs(vtr=0x90000003, hcr=0, vmcr=0x004C0000, apr=0, lr=(0, 0, 0, 0, 0))
    with pytest.raises(gicmig.ValidationError) as info:
        import_gich(GichView((regs, regs), GicState.reset(GicConfig.qemu_virt())))
    assert info.value.code == "GICH-LR-COUNT" and "5 list registers" in info.value.message


def test_a_low_abpr_is_named_as_abpr() -> None:
    from gicmig.views.gich.plan import export_gich

    s = GicState.reset(GicConfig.qemu_virt())
    s.cpu[0].bpr, s.cpu[0].abpr = 2, 1  # BPR fits the target's minimum 2, ABPR not its 3
    s.cpu[1].bpr, s.cpu[1].abpr = 2, 3
    with pytest.raises(gicmig.ValidationError) as info:
        export_gich(s)
    assert [(v.code, v.path) for v in info.value.violations] == [
        ("GICH-EXPORT-BINARY-POINT", "cpu0 gicc.abpr")]
