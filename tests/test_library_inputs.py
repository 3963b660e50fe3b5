"""Every library reader takes a path, bytes or a binary file, and every importer returns a
`GicState` with its report beside it (issue 14, item 3)."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from shared_data import require_shared_qemu

import gicmig
from gicmig.core.imported import ImportedState, ImportReport
from gicmig.errors import FileError, GicmigError, InputError
from gicmig.views.gich import export_gich
from gicmig.views.kvm.dump import parse_dump
from gicmig.views.qemu import QemuImportReport

ROOT = Path(__file__).resolve().parents[1]
KVM_DUMP = ROOT / "fixtures" / "kvm" / "two-vcpu.json"
BUSY = ROOT / "fixtures" / "v1" / "busy.json"
BUSY_BLOB = ROOT / "fixtures" / "v1" / "busy.gicmig"
# sha256 of the canonical bytes (parameters + state) each import gives: a one-token slip in
# a converter changes them
KVM_DIGEST = "9f80d39c103ca29aeae3519095a93ebe11b33072edac5adc4b7c2cadf0884e80"
QEMU_VIRT_DIGEST = "b44d1c49137cf725a604e59e2657aa23bf9cd113b59950b4f8e9fb16e81e144a"


def forms(path: Path) -> list[tuple[str, Callable[[], Any]]]:
    """The same input as every kind of `Source` (a callable: a file object is read once)."""
    data = path.read_bytes()
    return [("str path", lambda: str(path)), ("Path", lambda: path),
            ("bytes", lambda: data), ("bytearray", lambda: bytearray(data)),
            ("memoryview", lambda: memoryview(data)), ("BytesIO", lambda: io.BytesIO(data)),
            ("open file", lambda: open(path, "rb"))]


def digest(state: gicmig.GicState) -> str:
    return hashlib.sha256(state.canonical_bytes()).hexdigest()


# --- import_kvm ---------------------------------------------------------------------------------
def test_import_kvm_takes_every_source_and_gives_one_state() -> None:
    old_way = gicmig.import_kvm(parse_dump(KVM_DUMP.read_bytes()))
    for what, make in forms(KVM_DUMP):
        state = gicmig.import_kvm(make())
        assert type(state) is ImportedState and isinstance(state, gicmig.GicState), what
        assert state == old_way and digest(state) == KVM_DIGEST, what
        report = state.import_report
        assert report.view == "kvm" and report.normalized == (), what
        assert [d.place for d in report.derived] == [
            "irq 48 (SPI 16)", "cpu0 gicc.active_priorities", "cpu1 gicc.active_priorities"]
        assert state.derivations == report.derived and state.normalizations == ()
    state = gicmig.import_kvm(KVM_DUMP)
    assert (state.config.num_cpus, state.config.num_irqs, state.provenance.gicd_iidr) == (
        2, 288, 0x4B00343B)
    assert state.shared.active_cpu[16] == 1  # derived: SPI 48 is active on cpu1
    assert gicmig.decode(gicmig.encode(state)) == state


def test_import_kvm_never_run_normalization_is_in_the_report() -> None:
    doc = json.loads(KVM_DUMP.read_text())
    for r in doc["registers"]:
        if (r["group"], r["vcpu"], int(r["offset"], 16)) in (("cpu", 1, 0x08), ("cpu", 1, 0x1C)):
            r["value"] = 0  # a never-run vCPU reads BPR/ABPR 0
    state = gicmig.import_kvm(json.dumps(doc).encode())
    got = [(v.code, v.path) for v in state.import_report.normalized]
    assert got == [("KVM-NEVER-RUN-BINARY-POINT", "vcpu1")]
    assert (state.cpu[1].bpr, state.cpu[1].abpr) == (2, 3)


# --- load and decode ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", [BUSY, BUSY_BLOB], ids=["fixture", "blob"])
def test_load_takes_every_source(path: Path) -> None:
    want = gicmig.from_json(BUSY.read_text())
    for what, make in forms(path):
        assert gicmig.load(make()) == want, what


def test_decode_takes_every_source() -> None:
    want = gicmig.load(BUSY)
    for what, make in forms(BUSY_BLOB):
        state = gicmig.decode(make())
        assert state == want and state.irq(27, cpu=0).line_level, what


def test_a_file_object_is_read_from_where_it_stands() -> None:
    data = BUSY_BLOB.read_bytes()
    f = io.BytesIO(b"JUNK" + data)
    f.seek(4)
    assert gicmig.load(f) == gicmig.load(BUSY)


# --- import_gich --------------------------------------------------------------------------------
def test_import_gich_takes_every_source(tmp_path: Path) -> None:
    busy = gicmig.load(BUSY)
    view = tmp_path / "view.json"
    view.write_text(export_gich(busy).to_json())
    for what, make in forms(view):
        state = gicmig.import_gich(make())
        assert type(state) is ImportedState and state == busy, what
        assert state.import_report == ImportReport("gich"), what


def test_import_gich_reads_the_distributor_beside_a_view_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    busy = gicmig.load(BUSY)
    doc = json.loads(export_gich(busy).to_json())
    doc["distributor"] = {"path": "image.gicmig"}
    (tmp_path / "image.gicmig").write_bytes(BUSY_BLOB.read_bytes())
    view = tmp_path / "view.json"
    view.write_text(json.dumps(doc))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert gicmig.import_gich(view) == busy
    assert gicmig.import_gich(str(view)) == busy
    with open(view, "rb") as f:
        assert gicmig.import_gich(f) == busy  # a named file: beside its path too
    with pytest.raises(FileError) as info:  # bytes have no folder: the current one
        gicmig.import_gich(view.read_bytes())
    assert info.value.code == "IO-READ" and "'image.gicmig'" in info.value.message


# --- import_qemu --------------------------------------------------------------------------------
def test_import_qemu_takes_every_source_and_gives_one_state() -> None:
    stream = require_shared_qemu() / "streams" / "virt.mig"
    for what, make in forms(stream):
        state = gicmig.import_qemu(make(), accel="tcg", machine="virt")
        assert type(state) is ImportedState, what
        assert digest(state) == QEMU_VIRT_DIGEST, what
        assert state.virtual[0].hcr == 0x1000_0049, what
        report = state.import_report
        assert isinstance(report, QemuImportReport) and report.view == "qemu"
        assert report.normalized == () and report.derived == ()
        assert report.section is not None and report.section.offset == 402217
        assert report.facts() == {
            "machine": "virt-7.2", "section": "arm_gic id 10 instance 0 at byte 402217",
            "virtualization_extensions": "yes", "located_by": "vmdesc"}
    blob = gicmig.encode(gicmig.import_qemu(stream, machine="virt"))  # the example
    assert digest(gicmig.decode(blob)) == QEMU_VIRT_DIGEST


# --- wrong arguments ----------------------------------------------------------------------------
READERS: list[tuple[str, Callable[[Any], object]]] = [
    ("import_kvm", gicmig.import_kvm), ("import_gich", gicmig.import_gich),
    ("import_qemu", gicmig.import_qemu), ("load", gicmig.load), ("decode", gicmig.decode)]


@pytest.mark.parametrize(("name", "reader"), READERS, ids=[n for n, _ in READERS])
def test_a_wrong_argument_type_is_a_type_error(name: str, reader: Callable[[Any], object]
                                               ) -> None:
    with pytest.raises(TypeError) as info:
        reader(42)
    assert str(info.value) == (f"{name}() takes a path (str or os.PathLike), bytes or a "
                               "binary file, not int")
    with open(KVM_DUMP) as text_file, pytest.raises(TypeError) as info:
        reader(text_file)
    assert "binary" in str(info.value) and "'rb'" in str(info.value)


@pytest.mark.parametrize(("name", "reader"), READERS, ids=[n for n, _ in READERS])
def test_a_missing_file_is_an_os_error(name: str, reader: Callable[[Any], object],
                                       tmp_path: Path) -> None:
    with pytest.raises(OSError) as info:
        reader(tmp_path / "absent")
    assert isinstance(info.value, GicmigError) and info.value.code == "IO-READ"
    assert str(info.value).startswith(f"IO-READ cannot read {tmp_path / 'absent'}: ")


@pytest.mark.parametrize(("name", "reader"), READERS[:2], ids=[n for n, _ in READERS[:2]])
def test_json_text_given_as_str_says_a_str_is_a_path(name: str,
                                                     reader: Callable[[Any], object]) -> None:
    with pytest.raises(FileError) as info:
        reader(KVM_DUMP.read_text())
    assert info.value.message == (f"{name}(): no file named '{{\\n  \"format\": \"gicmi'...: "
                                  "a str is a path; pass JSON text as bytes (text.encode())")


def test_bad_bytes_are_a_value_error() -> None:
    for reader in (gicmig.import_kvm, gicmig.import_gich, gicmig.load, gicmig.decode,
                   gicmig.import_qemu):
        with pytest.raises(ValueError) as info:
            reader(b"\x00 not an input")
        assert isinstance(info.value, InputError)


def test_a_file_object_is_read_with_the_input_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    import gicmig.files

    class Recording(io.BytesIO):
        asked: ClassVar[list[int]] = []

        def read(self, n: int | None = -1, /) -> bytes:
            self.asked.append(-1 if n is None else n)
            return super().read(n)

    f = Recording(BUSY_BLOB.read_bytes())
    assert gicmig.load(f) == gicmig.load(BUSY)
    # a type probe, then bounded chunks: never an unbounded read(), and never one read of
    # MAX_INPUT + 1 (that allocates 64 MiB for any input, however small)
    assert Recording.asked[0] == 0
    assert Recording.asked[1:] and all(0 < n <= 1 << 20 for n in Recording.asked[1:])
    monkeypatch.setattr(gicmig.files, "MAX_INPUT", 100)
    for source in (io.BytesIO(BUSY_BLOB.read_bytes()), BUSY_BLOB.read_bytes(), BUSY_BLOB):
        with pytest.raises(FileError) as info:
            gicmig.load(source)
        assert info.value.message.endswith("is larger than 100 bytes")


# --- what an import assumed ---------------------------------------------------------------------
def test_import_kvm_reports_the_parameters_it_assumed() -> None:
    report = gicmig.import_kvm(KVM_DUMP).import_report
    assert [(a.name, a.value, a.why) for a in report.assumed] == [
        ("num_cpus", 2, "GICD_TYPER.CPUNumber + 1"),
        ("priority_bits", 5, "KVM's GICv2 implements 5")]
    assert gicmig.import_kvm(KVM_DUMP, num_cpus=2, priority_bits=5).import_report.assumed == ()
    state = gicmig.import_kvm(KVM_DUMP, priority_bits=8)
    assert [a.name for a in state.import_report.assumed] == ["num_cpus"]
    assert state.config.priority_bits == 8


def test_import_qemu_reports_the_parameters_it_assumed() -> None:
    stream = require_shared_qemu() / "streams" / "virt.mig"

    def assumed(**kw: Any) -> list[str]:
        return [str(a) for a in gicmig.import_qemu(stream, **kw).import_report.assumed]

    assert assumed() == [
        "accel=tcg (the section's marks of the QEMU device that wrote it)",
        "machine=virt (the stream's machine type 'virt-7.2')",
        "num_irqs=288 (the virt board)", "num_cpus=2 (the per-CPU slots in use)",
        "priority_bits=8 (QEMU's tcg GIC)"]
    assert assumed(accel="tcg", machine="virt") == [
        "num_cpus=2 (the per-CPU slots in use)", "priority_bits=8 (QEMU's tcg GIC)"]
    assert assumed(num_irqs=288, num_cpus=2, priority_bits=8) == [
        "accel=tcg (the section's marks of the QEMU device that wrote it)"]
    assert assumed(accel="tcg", machine="virt", num_cpus=2, priority_bits=8) == []
