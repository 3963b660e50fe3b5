"""`gicmig diff` and `gicmig fixture update` through the command line."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gicmig.cli import main
from gicmig.errors import GicmigError
from gicmig.formats.io import dump, load
from gicmig.inputs import VIEW_LOADERS, _parse_spec, load_input

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "fixtures" / "v1"
KVM = ROOT / "fixtures" / "kvm"
GOLDEN = ("reset-virt-2cpu", "busy", "hyp-context", "max")


class Result:
    def __init__(self, done: subprocess.CompletedProcess[bytes]) -> None:
        self.returncode = done.returncode
        self.stdout, self.stderr = done.stdout.decode(), done.stderr.decode()


def gicmig(*args: str, stdin: bytes | None = None) -> Result:
    return Result(subprocess.run([sys.executable, "-m", "gicmig.cli", *args], cwd=ROOT,
                                 timeout=60, input=stdin, capture_output=True, check=False))


@pytest.fixture
def after(tmp_path: Path) -> Path:
    """busy with three changes, as a blob."""
    st = load(V1 / "busy.gicmig")
    st.cpu[1].pmr = 0x80
    st.banked[1].pending_latch |= 1 << 27
    st.shared.enabled |= 0xFF << 16  # irq 48-55
    out = tmp_path / "after.gicmig"
    dump(st, out)
    return out


EXPECTED = [
    "irq 48-55 (SPI 16-23) enabled: 0 -> 1",
    "cpu1 irq 27 (PPI 11) pending_latch: 0 -> 1",
    "cpu1 gicc.pmr: 0xf8 -> 0x80",
]


@pytest.mark.parametrize("name", GOLDEN)
def test_blob_and_json_of_the_same_state_exit_0(name: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(V1 / f"{name}.gicmig"), str(V1 / f"{name}.json")]) == 0
    assert capsys.readouterr().out == ""


def test_differences_exit_1_one_per_line(after: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(V1 / "busy.json"), str(after)]) == 1
    assert capsys.readouterr().out.splitlines() == EXPECTED


def test_registers(after: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--registers", str(V1 / "busy.json"), str(after)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "irq 48-55 (SPI 16-23) enabled: 0 -> 1 [GICD_ISENABLER1 bits 23:16]",
        "cpu1 irq 27 (PPI 11) pending_latch: 0 -> 1 [GICD_ISPENDR0 bit 27, banked]",
        "cpu1 gicc.pmr: 0xf8 -> 0x80 [GICC_PMR bits 7:0]",
    ]


def test_json_format(after: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--format", "json", str(V1 / "busy.json"), str(after)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert {k: doc[k] for k in ("format", "version", "ok", "exit", "same", "count")} == {
        "format": "gicmig/diff", "version": 1, "ok": False, "exit": 1, "same": False,
        "count": 10}
    assert doc["inputs"] == {"old": str(V1 / "busy.json"), "new": str(after)}
    got = doc["changes"]
    # the folded run irq 48-55 is eight entries, one per ID
    assert [c["intid"] for c in got[:8]] == list(range(48, 56))
    assert got[0] == {"kind": "interrupt", "cpu": None, "intid": 48, "lr": None,
                      "priority": None, "field": "enabled", "old": False, "new": True,
                      "old_missing": None, "new_missing": None,
                      "register": {"name": "GICD_ISENABLER1", "frame": "GICD", "offset": 0x104,
                                   "bit": 16, "mask": 1 << 16}}
    assert got[8] == {"kind": "interrupt", "cpu": 1, "intid": 27, "lr": None, "priority": None,
                      "field": "pending_latch", "old": False, "new": True, "old_missing": None,
                      "new_missing": None,
                      "register": {"name": "GICD_ISPENDR0", "frame": "GICD", "offset": 0x200,
                                   "bit": 27, "mask": 1 << 27}}
    assert got[9] == {"kind": "gicc", "cpu": 1, "intid": None, "lr": None, "priority": None,
                      "field": "pmr", "old": 0xF8, "new": 0x80, "old_missing": None,
                      "new_missing": None,
                      "register": {"name": "GICC_PMR", "frame": "GICC", "offset": 4, "bit": 0,
                                   "mask": 0xFF}}
    # --registers changes the text form only: the JSON always carries the register
    assert main(["diff", "--format", "json", "--registers", str(V1 / "busy.json"),
                 str(after)]) == 1
    assert json.loads(capsys.readouterr().out) == doc
    assert main(["diff", "--format", "json", str(V1 / "busy.json"), str(V1 / "busy.gicmig")]) == 0
    same = json.loads(capsys.readouterr().out)
    assert (same["ok"], same["exit"], same["same"], same["count"], same["changes"]) == (
        True, 0, True, 0, [])


def test_json_error_is_one_error_document(tmp_path: Path) -> None:
    missing = gicmig("diff", "--format", "json", "fixtures/v1/busy.json",
                     str(tmp_path / "nope.gicmig"))
    assert missing.returncode == 2 and missing.stderr == ""
    doc = json.loads(missing.stdout)
    assert doc["format"] == "gicmig/error" and (doc["ok"], doc["exit"]) == (False, 2)
    assert doc["error"]["code"] == "IO-READ"
    assert doc["error"]["path"] == str(tmp_path / "nope.gicmig")


def test_ignore_and_quiet(after: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--ignore", "cpu1 *", str(V1 / "busy.json"), str(after)]) == 1
    assert capsys.readouterr().out.splitlines() == EXPECTED[:1]
    assert main(["diff", "--ignore", "cpu1 *", "--ignore", "irq *", str(V1 / "busy.json"),
                 str(after)]) == 0
    assert main(["diff", "-q", str(V1 / "busy.json"), str(after)]) == 1
    assert main(["diff", "--quiet", str(V1 / "busy.json"), str(V1 / "busy.gicmig")]) == 0
    assert capsys.readouterr().out == ""


def test_provenance_is_compared_unless_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(V1 / "busy.json"), str(V1 / "hyp-context.json")]
    assert main(["diff", "--ignore", "hyp*", "--ignore", "cpu? hyp.*", *args]) == 1
    assert capsys.readouterr().out == "provenance.source: fixture -> gich\n"
    assert main(["diff", "--ignore", "hyp*", "--ignore", "cpu? hyp.*", "--ignore",
                 "provenance.*", *args]) == 0


def test_trouble_exits_2_with_one_line(tmp_path: Path) -> None:
    missing = gicmig("diff", "fixtures/v1/busy.json", str(tmp_path / "nope.gicmig"))
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "IO-READ" in missing.stderr
    invalid = gicmig("diff", "fixtures/v1/busy.json", "fixtures/v1/invalid/SGI-NOT-EDGE.json")
    assert invalid.returncode == 2  # invalid input is trouble, not "different"
    assert invalid.stderr.startswith("fixtures/v1/invalid/SGI-NOT-EDGE.json: SGI-NOT-EDGE ")
    garbage = gicmig("diff", "fixtures/v1/invalid/BLOB-TRUNCATED.gicmig", "fixtures/v1/busy.json")
    assert garbage.returncode == 2 and "BLOB-TRUNCATED" in garbage.stderr
    both = gicmig("diff", "-", "-", stdin=b"")
    assert both.returncode == 2 and "USAGE" in both.stderr
    usage = gicmig("diff", "fixtures/v1/busy.json")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_stdin_and_exit_status_of_the_real_process(after: Path) -> None:
    out = gicmig("diff", "-", str(after), stdin=(V1 / "busy.gicmig").read_bytes())
    assert out.returncode == 1 and out.stdout.splitlines() == EXPECTED
    same = gicmig("diff", "fixtures/v1/max.json", "-", stdin=(V1 / "max.gicmig").read_bytes())
    assert same.returncode == 0 and same.stdout == ""


def test_kvm_view_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blob = tmp_path / "kvm.gicmig"
    assert main(["import", "kvm", str(KVM / "two-vcpu.json"), "-o", str(blob)]) == 0
    capsys.readouterr()
    assert main(["diff", f"kvm:{KVM / 'two-vcpu.json'}", str(blob)]) == 0
    assert main(["diff", "--ignore", "provenance.*", str(V1 / "busy.json"),
                 f"kvm:{KVM / 'two-vcpu.json'}"]) == 1
    assert "config.priority_bits: 8 -> 5" in capsys.readouterr().out.splitlines()


# --- gicmig fixture update -----------------------------------------------------------------------
def test_update_rewrites_a_hand_written_fixture_in_canonical_form(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads((V1 / "busy.json").read_text())
    hand = tmp_path / "busy.json"
    hand.write_text(json.dumps(doc, indent=4, sort_keys=True))
    before = hand.read_text()
    assert main(["fixture", "update", "--check", str(hand)]) == 1
    assert hand.read_text() == before  # --check writes nothing
    assert "would be rewritten (format only)" in capsys.readouterr().out
    assert main(["fixture", "update", str(hand)]) == 0
    assert hand.read_text() == (V1 / "busy.json").read_text()
    assert main(["fixture", "update", "--check", str(hand)]) == 0
    assert capsys.readouterr().out.endswith(f"{hand}: unchanged\n")


def test_update_from_another_input_shows_what_changed(
        tmp_path: Path, after: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixture = tmp_path / "state.json"
    fixture.write_text((V1 / "busy.json").read_text())
    assert main(["fixture", "update", str(fixture), "--from", str(after)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{fixture}: rewritten (3 changes)"
    assert out[1:] == [f"  {line}" for line in EXPECTED]
    assert main(["diff", str(fixture), str(after)]) == 0
    new = tmp_path / "new" / "created.gicmig"
    new.parent.mkdir()
    assert main(["fixture", "update", str(new), "--from", str(V1 / "busy.json")]) == 0
    assert new.read_bytes() == (V1 / "busy.gicmig").read_bytes()


def test_update_errors(tmp_path: Path) -> None:
    bad = gicmig("fixture", "update", "fixtures/v1/invalid/SGI-NOT-EDGE.json", "--check")
    assert bad.returncode == 1 and "SGI-NOT-EDGE" in bad.stderr
    two = gicmig("fixture", "update", "a.json", "b.json", "--from", "fixtures/v1/busy.json")
    assert two.returncode == 2 and "USAGE" in two.stderr


def test_kvm_dump_is_detected_by_content(capsys: pytest.CaptureFixture[str]) -> None:
    dump_file = str(KVM / "two-vcpu.json")
    assert main(["diff", dump_file, f"kvm:{dump_file}"]) == 0
    assert main(["diff", f"kvm,num_cpus=2:{dump_file}", dump_file]) == 0
    assert main(["diff", f"kvm,bogus=1:{dump_file}", dump_file]) == 2
    assert "USAGE unknown view option 'bogus'" in capsys.readouterr().err


def test_qemu_stream_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            shared_qemu: Path) -> None:
    QEMU_STREAMS = shared_qemu / "streams"
    reset, dist = str(QEMU_STREAMS / "reset.mig"), str(QEMU_STREAMS / "dist.mig")
    assert main(["diff", reset, dist]) == 1  # the sections' marks name the TCG GIC
    assert "irq 40-41 (SPI 8-9) pending_latch: 0 -> 1" in capsys.readouterr().out
    assert main(["diff", f"qemu:tcg:{reset}", f"qemu-tcg,machine=virt:{dist}"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "irq 40-41 (SPI 8-9) pending_latch: 0 -> 1" in out
    assert not any(line.startswith(("config.", "provenance.")) for line in out)
    blob = tmp_path / "dist.gicmig"
    assert main(["fixture", "update", str(blob), "--from", f"qemu:tcg:{dist}"]) == 0
    assert main(["diff", str(blob), f"qemu:tcg:{dist}"]) == 0


@settings(max_examples=150, deadline=None)
@given(spec=st.text(max_size=40), data=st.binary(max_size=200))
def test_any_input_gives_a_state_or_a_gicmig_error(spec: str, data: bytes) -> None:
    parsed = _parse_spec(spec)
    assert parsed is None or parsed[0] in VIEW_LOADERS
    for head in (b"", b"QEVM", b'{"format": "gicmig.kvm-dump/1"',
                 b'{"format": "gicmig.gich-view/1"', b"GICM", b"{"):
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(head + data)
            f.flush()
            for name in (f.name, f"kvm:{f.name}", f"gich:{f.name}", f"qemu:tcg:{f.name}",
                         f"qemu:kvm:{f.name}"):
                with contextlib.suppress(GicmigError):  # anything else fails the test
                    load_input(name)


def test_gich_view_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gicmig.views.gich as gich
    import gicmig.views.gich.viewfile as gich_view
    state = load(V1 / "busy.json")
    view = tmp_path / "busy.gich.json"
    view.write_text(gich_view.to_json(gich.export_gich(state)))
    assert main(["diff", "--ignore", "provenance.*", str(V1 / "busy.json"), str(view)]) == 0
    assert main(["diff", "--ignore", "provenance.*", f"gich:{view}", str(V1 / "busy.gicmig")]) == 0
    assert main(["diff", f"gich,lenient=1:{view}", str(view)]) == 0


def test_update_from_replaces_an_unreadable_fixture(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    source = str(V1 / "busy.gicmig")
    assert main(["fixture", "update", str(broken), "--check", "--from", source]) == 1
    assert broken.read_text() == "{ not json"
    assert main(["fixture", "update", str(broken), "--from", str(V1 / "busy.gicmig")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{broken}: rewritten (replacing an unreadable fixture: JSON-SYNTAX)")
    assert broken.read_text() == (V1 / "busy.json").read_text()


def _validator(name: str) -> object:
    import jsonschema
    from referencing import Registry, Resource

    import gicmig

    folder = Path(gicmig.__file__).parent / "schemas"
    schemas = {p.name: json.loads(p.read_text()) for p in folder.glob("*.v*.json")}
    registry: Registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values())
    return jsonschema.Draft202012Validator(schemas[name], registry=registry)


def test_fixture_update_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    validator = _validator("fixture-update.v1.json")
    fixture = tmp_path / "f.json"
    fixture.write_bytes((V1 / "busy.json").read_bytes())
    st = load(V1 / "busy.gicmig")
    st.cpu[1].pmr = 0x80
    source = tmp_path / "new.gicmig"
    dump(st, source)
    argv = ["fixture", "update", "--format", "json", str(fixture), "--from", str(source)]
    assert main([*argv[:2], "--check", *argv[2:]]) == 1
    doc = json.loads(capsys.readouterr().out)
    validator.validate(doc)  # type: ignore[attr-defined]
    assert (doc["ok"], doc["exit"], doc["check"]) == (False, 1, True)
    assert fixture.read_bytes() == (V1 / "busy.json").read_bytes()  # --check wrote nothing
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    validator.validate(doc)  # type: ignore[attr-defined]
    (rec,) = doc["files"]
    assert (rec["result"], rec["cause"], rec["count"]) == ("rewritten", "changes", 1)
    assert rec["changes"][0]["kind"] == "gicc" and rec["changes"][0]["cpu"] == 1
    assert (rec["changes"][0]["field"], rec["changes"][0]["old"], rec["changes"][0]["new"]) == (
        "pmr", 0xF8, 0x80)
    assert main(argv) == 0
    (rec,) = json.loads(capsys.readouterr().out)["files"]
    assert (rec["result"], rec["cause"], rec["changes"]) == ("unchanged", None, [])
    fresh = tmp_path / "new.json"
    assert main(["fixture", "update", "--format", "json", str(fresh), "--from", str(source)]) == 0
    (rec,) = json.loads(capsys.readouterr().out)["files"]
    assert (rec["result"], rec["cause"]) == ("rewritten", "new_file")
    fixture.write_text("{")
    assert main(argv) == 0
    (rec,) = json.loads(capsys.readouterr().out)["files"]
    assert (rec["cause"], rec["unreadable_code"]) == ("unreadable", "JSON-SYNTAX")
    assert main(["fixture", "update", "--format", "json", str(tmp_path / "nope.json")]) == 2
    err = json.loads(capsys.readouterr().out)
    assert (err["format"], err["exit"], err["error"]["code"]) == ("gicmig/error", 2, "IO-READ")
