"""The gicmig command line: exit codes, one-line errors, atomic writes, untouched inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gicmig.cli import main

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "fixtures" / "v1"
GICMIG = [sys.executable, "-m", "gicmig.cli"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*GICMIG, *args], input=stdin, capture_output=True, cwd=ROOT,
                          timeout=60, check=False)


def test_encode_decode_round_trip_through_files(tmp_path: Path) -> None:
    blob, text = tmp_path / "busy.gicmig", tmp_path / "busy.json"
    assert main(["encode", str(V1 / "busy.json"), "-o", str(blob)]) == 0
    assert blob.read_bytes() == (V1 / "busy.gicmig").read_bytes()
    assert main(["decode", str(blob), "-o", str(text)]) == 0
    assert text.read_text() == (V1 / "busy.json").read_text()


def test_stdin_and_stdout() -> None:
    out = run("decode", "-", stdin=(V1 / "busy.gicmig").read_bytes())
    assert out.returncode == 0 and out.stdout.decode() == (V1 / "busy.json").read_text()
    out = run("encode", "-", "-o", "-", stdin=(V1 / "busy.json").read_bytes())
    assert out.returncode == 0 and out.stdout == (V1 / "busy.gicmig").read_bytes()


def test_invalid_input_exits_1_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.gicmig"
    out = run("encode", str(V1 / "invalid" / "SGI-NOT-EDGE.json"), "-o", str(target))
    assert out.returncode == 1
    lines = out.stderr.decode().splitlines()
    assert len(lines) == 1 and "SGI-NOT-EDGE" in lines[0] and "Traceback" not in lines[0]
    assert lines[0].startswith(str(V1 / "invalid" / "SGI-NOT-EDGE.json"))
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_failed_write_leaves_the_old_output(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous")
    assert run("decode", str(V1 / "invalid" / "BLOB-PAYLOAD-CHECKSUM.gicmig"), "-o",
               str(target)).returncode == 1
    assert target.read_text() == "previous"


def test_output_onto_the_input_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "busy.json"
    src.write_bytes((V1 / "busy.json").read_bytes())
    out = run("encode", str(src), "-o", str(src))
    assert out.returncode == 2 and b"USAGE" in out.stderr
    assert src.read_bytes() == (V1 / "busy.json").read_bytes()


def test_missing_input_is_an_io_error() -> None:
    out = run("decode", "/nonexistent/x.gicmig")
    assert out.returncode == 2 and b"IO-READ" in out.stderr and b"Traceback" not in out.stderr


def test_unwritable_output_is_an_io_error(tmp_path: Path) -> None:
    out = run("encode", str(V1 / "busy.json"), "-o", str(tmp_path / "no" / "such" / "dir.gicmig"))
    assert out.returncode == 2 and b"IO-WRITE" in out.stderr


def test_bad_arguments_exit_2() -> None:
    assert run("decode").returncode == 2
    assert run("frobnicate").returncode == 2


def test_validate_reports_every_file_and_every_violation() -> None:
    files = [str(V1 / "busy.gicmig"), str(V1 / "invalid" / "CPU-BPR-RANGE.json"),
             str(V1 / "invalid" / "BLOB-TRUNCATED.gicmig")]
    out = run("validate", "--format", "json", *files)
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert [f["ok"] for f in report["files"]] == [True, False, False]
    assert [e["code"] for e in report["files"][1]["findings"]] == ["CPU-BPR-RANGE"] * 2
    assert [e["line"] for e in report["files"][1]["findings"]] == [99, 100]
    assert report["files"][2]["findings"][0]["offset"] == 856
    assert report["summary"] == {"files": 3, "ok": 1, "invalid": 2, "unreadable": 0}
    assert (report["format"], report["version"], report["ok"], report["exit"]) == (
        "gicmig/validate", 1, False, 1)
    text = run("validate", *files).stdout.decode().splitlines()
    assert text[0].endswith("busy.gicmig: ok") and len(text) == 5
    assert text[-1] == "3 files: 1 ok, 2 invalid"


def test_validate_exit_2_beats_1() -> None:
    out = run("validate", str(V1 / "invalid" / "CPU-BPR-RANGE.json"), "/nonexistent.json")
    assert out.returncode == 2


def test_info_on_a_newer_revision(tmp_path: Path) -> None:
    from gicmig.formats import envelope

    blob = tmp_path / "new.gicmig"
    blob.write_bytes(envelope.pack((V1 / "busy.gicmig").read_bytes()[32:] + b"\xf8\x01\x07", 7))
    out = run("info", "--format", "json", str(blob))
    assert out.returncode == 0
    record = json.loads(out.stdout)
    assert record["schema_revision"] == 7 and record["readable_by_this_gicmig"] is False
    assert record["unknown_fields"] == ["(top)#31"] and record["provenance"]["source"] == "fixture"


def test_inputs_are_never_modified(tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in V1.glob("busy.*")}
    for args in (["encode", str(V1 / "busy.json"), "-o", str(tmp_path / "a")],
                 ["decode", str(V1 / "busy.gicmig"), "-o", str(tmp_path / "b.json")],
                 ["validate", *map(str, before)], ["info", str(V1 / "busy.gicmig")]):
        main(args)
    assert {p: p.read_bytes() for p in before} == before


def test_help_does_not_import_protobuf_or_pydantic() -> None:
    code = ("import sys; from gicmig.cli import build_parser; build_parser().format_help();"
            "heavy = [m for m in ('google.protobuf', 'pydantic') if m in sys.modules];"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert out.stdout.strip() == b"[]"


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "gicmig"
    # `pip install .` and `pip install -e .` both put it there: its absence is a broken install
    assert exe.exists(), f"no gicmig console script beside {sys.executable}"
    out = subprocess.run([str(exe), "--help"], capture_output=True, check=False,
                         env={**os.environ, "COLUMNS": "100"})
    assert out.returncode == 0 and b"encode" in out.stdout and b"exit codes" in out.stdout


def test_violations_in_a_fixture_point_at_their_line() -> None:
    path = V1 / "invalid" / "SGI-NOT-EDGE.json"
    out = run("validate", str(path)).stdout.decode().strip()
    line = int(out.split(":")[1])
    text = path.read_text().splitlines()
    assert text[line - 1].strip() == '"2": {'  # cpu0's SGI 2
    before = "\n".join(text[:line])
    assert before.count('"cpu": 0') == 1 and '"cpu": 1' not in before


def test_locate_places() -> None:
    from gicmig.formats.fixture_locate import locate

    text = (V1 / "busy.json").read_text()
    lines = text.splitlines()

    def at(place: str) -> str:
        where = locate(text, place)
        assert where is not None, place
        return lines[where[0] - 1][where[1] - 1:]

    assert at("irq 64 (SPI 32)").startswith('"64": {"enabled"')
    assert at("cpu1 irq 30 (PPI 14)").startswith('"30": {')
    assert at("cpu1 gicc.pmr").startswith('"pmr": "0xf8"')
    assert at("config.num_irqs").startswith('"num_irqs"')
    assert locate(text, "irq 999 (SPI 967)") is not None  # falls back to the nearest key


def test_outputs_get_ordinary_permissions(tmp_path: Path) -> None:
    out = tmp_path / "busy.gicmig"
    assert main(["encode", str(V1 / "busy.json"), "-o", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_state_on_stdout_is_the_json_fixture() -> None:
    out = run("import", "qemu", "examples/qemu-7.2-virt.mig", "--accel", "tcg", "--machine",
              "virt", "-o", "-")
    assert out.returncode == 0 and json.loads(out.stdout)["provenance"]["source"] == "qemu-tcg"


def test_a_blob_is_never_written_to_a_terminal(tmp_path: Path) -> None:
    import pty

    primary, secondary = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "gicmig", "encode",
                               str(ROOT / "fixtures/v1/busy.json")],
                              stdout=secondary, stderr=subprocess.PIPE, check=False)
    finally:
        os.close(secondary)
        os.close(primary)
    assert done.returncode == 2
    assert b"USAGE refusing to write a binary blob to a terminal" in done.stderr
    # the library writes what it is asked to: the policy is the command line's
    from gicmig.formats.io import dump, load

    dump(load(ROOT / "fixtures/v1/busy.json"), tmp_path / "x", "blob")
    assert (tmp_path / "x").read_bytes()[:4] == b"\x89GIC"


def test_decode_of_a_newer_revision_to_json_names_what_json_cannot_hold() -> None:
    done = run("decode", "--allow-unknown",
               str(ROOT / "fixtures/v1/invalid/PAYLOAD-UNKNOWN-FIELDS.gicmig"))
    assert done.returncode == 1 and done.stdout == b""
    assert b"PAYLOAD-UNKNOWN-FIELDS a JSON fixture cannot hold schema revision" in done.stderr
