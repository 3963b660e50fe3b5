"""Issue 13, the broken promises: duplicate JSON keys, integers given as strings or
floats, a byte order mark, input text forging lines in a message, the exit status of
every reason code. Each case through the library (a typed error, the value it carries)
and the CLI (one line on stderr, the documented exit code, no traceback), inputs hashed
before and after."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_support import digest, gicmig, refused

from gicmig.cli._run import EXIT_STATUS, exit_status
from gicmig.errors import CATEGORIES, REASONS, GicmigError, Violation, one_line
from gicmig.formats.fixture import from_json
from gicmig.formats.io import load
from gicmig.limits import loads_json
from gicmig.schemacheck import waivers
from gicmig.views.gich.viewfile import parse_view
from gicmig.views.kvm.dump import parse_dump

ROOT = Path(__file__).resolve().parents[1]
BUSY = ROOT / "fixtures/v1/busy.json"
DUMP = ROOT / "fixtures/kvm/two-vcpu.json"


def _gich_view(folder: Path) -> Path:
    out = folder / "view.json"
    done = gicmig("export", "gich", str(BUSY), "--distributor", "fixture", "-o", str(out))
    assert done.status == 0, done.stderr
    return out


# every JSON reader: (name, syntax code, library call on the text, CLI arguments for a file)
def _readers(tmp: Path) -> list[tuple[str, str, Path, Callable[[bytes], Any], list[str]]]:
    view = _gich_view(tmp)
    wv = tmp / "waivers.json"
    wv.write_text('{"waivers": []}')
    return [
        ("fixture", "JSON-SYNTAX", BUSY, from_json, ["validate", "-q"]),
        ("kvm dump", "KVM-DUMP-SYNTAX", DUMP, parse_dump,
         ["import", "kvm", "-o", str(tmp / "o.gicmig")]),
        ("gich view", "GICH-VIEW-SYNTAX", view, lambda b: parse_view(b, base_dir=str(tmp)),
         ["import", "gich", "-o", str(tmp / "o.gicmig")]),
        ("waivers", "SCHEMA-WAIVER-INVALID", wv, None,  # type: ignore[list-item]
         ["schema", "check", str(ROOT / "proto"), "--waivers"]),
    ]


def _through_both(tmp: Path, name: str, code: str, text: bytes,
                  call: Callable[[bytes], Any] | None, argv: list[str]) -> tuple[str, str]:
    """The refusal's message from the library and its line from the CLI."""
    path = tmp / f"hostile-{name.replace(' ', '-')}.json"
    path.write_bytes(text)
    with pytest.raises(GicmigError) as info:
        if call is None:
            waivers.load(path)
        else:
            call(text)
    assert info.value.code == code, info.value
    before = digest(path)
    line = refused(gicmig(*argv, str(path), cwd=ROOT), code)
    assert digest(path) == before
    return str(info.value), line


def _duplicate_first_key(text: str) -> str:
    """The text with its first key given twice (the second, later value kept by json)."""
    m = re.search(r'\{\s*("[^"]+")\s*:', text)
    assert m
    return text[:m.end()] + f' "x", {m.group(1)}:' + text[m.end():]


# --- 1. duplicate keys ----------------------------------------------------------------------
def test_loads_json_refuses_a_duplicate_key_naming_it_and_its_place() -> None:
    with pytest.raises(ValueError, match=r'duplicate key "b" in the object at a\[1\]$'):
        loads_json('{"a": [{"b": 1}, {"c": 0, "b": 1, "b": 2}]}')
    with pytest.raises(ValueError, match=r'duplicate key "k" in the object at \(top\)$'):
        loads_json(b'{"k": 1, "k": 1}')  # even with the same value
    assert loads_json('{"a": {"b": 1}, "b": {"a": 2}}') == {"a": {"b": 1}, "b": {"a": 2}}


def test_every_json_reader_refuses_a_duplicate_key(tmp_path: Path) -> None:
    for name, code, sample, call, argv in _readers(tmp_path):
        text = _duplicate_first_key(sample.read_text()).encode()
        lib, line = _through_both(tmp_path, name, code, text, call, argv)
        assert "duplicate key" in lib and "duplicate key" in line, name


def test_fixture_update_refuses_a_duplicate_key_instead_of_dropping_one(
        tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    text = BUSY.read_text().replace('"num_cpus": 2,', '"num_cpus": 2, "num_cpus": 3,', 1)
    assert text != BUSY.read_text()
    path.write_text(text)
    before = digest(path)
    line = refused(gicmig("fixture", "update", str(path)), "JSON-SYNTAX")
    assert 'duplicate key "num_cpus" in the object at config' in line
    assert digest(path) == before


# --- 3. a byte order mark ---------------------------------------------------------------------
def test_a_bom_is_refused_alike_by_the_library_and_the_cli(tmp_path: Path) -> None:
    for name, code, sample, call, argv in _readers(tmp_path):
        text = b"\xef\xbb\xbf" + sample.read_bytes()
        lib, line = _through_both(tmp_path, name, code, text, call, argv)
        assert "byte order mark" in lib and "byte order mark" in line, name
    with pytest.raises(GicmigError) as info:  # as text (json.loads has its own words)
        from_json("\ufeff" + BUSY.read_text())
    assert info.value.code == "JSON-SYNTAX" and info.value.offset == 0
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + BUSY.read_bytes())
    with pytest.raises(GicmigError) as info:  # a path: the same code, not "unknown format"
        load(bom)
    assert info.value.code == "JSON-SYNTAX"
    for argv in (["validate", "-q"], ["encode", "-o", str(tmp_path / "o")]):
        refused(gicmig(*argv, str(bom)), "JSON-SYNTAX")
    out = gicmig("diff", str(bom), str(BUSY))  # diff: 1 means "different", trouble is 2
    assert out.status == 2 and "JSON-SYNTAX a UTF-8 byte order mark" in out.stderr


# --- 5. one line, whatever the input text -------------------------------------------------------
FORGED = "x\n/etc/important.json: OK\r\x1b[2K\u2028"


def test_one_line_escapes_every_line_break_and_control() -> None:
    out = one_line(FORGED)
    assert out.splitlines() == [out] and out.isprintable()
    assert out == "x\\n/etc/important.json: OK\\r\\x1b[2K\\u2028"
    assert one_line("plain, é ü") == "plain, é ü"
    err = GicmigError("USAGE", FORGED)
    assert str(err).splitlines() == [str(err)] and err.message == out
    err.message = "again " + FORGED  # a reader prefixing the place keeps it one line
    assert "\n" not in err.message
    v = Violation("USAGE", FORGED, FORGED)
    assert "\n" not in str(v)


def test_a_forged_key_prints_one_line_in_every_reader(tmp_path: Path) -> None:
    key = json.dumps(FORGED)
    for name, _code, sample, _call, argv in _readers(tmp_path):
        text = sample.read_text()
        for hostile in (text.replace("{", "{" + key + ": 1, ", 1),  # an unknown key
                        text.replace("{", "{" + key + ": 1, " + key + ": 2, ", 1)):
            path = tmp_path / "forged.json"
            path.write_text(hostile)
            out = gicmig(*argv, str(path), cwd=ROOT)
            lines = (out.stderr or out.stdout.decode()).splitlines()
            assert len(lines) == 1 and out.status == 1 + (name == "waivers"), (name, lines)
            assert "/etc/important.json: OK" not in lines[0].split(": ", 1)[0]
            assert "Traceback" not in out.stderr


def test_a_forged_file_name_prints_one_line(tmp_path: Path) -> None:
    path = tmp_path / "a\nb: OK.json"
    path.write_text("{")
    out = gicmig("validate", "-q", str(path))
    assert len((out.stderr + out.stdout.decode()).splitlines()) == 1 and out.status == 1


# --- 6. exit statuses: a category per code, the CLI's map ------------------------------------
def test_every_code_has_a_category_and_the_cli_an_exit_for_it() -> None:
    assert set(EXIT_STATUS) == set(CATEGORIES)
    for r in REASONS.values():
        assert r.category in CATEGORIES, r
        assert exit_status(GicmigError(r.code, "m")) in (1, 2)
    assert not hasattr(REASONS["USAGE"], "exit_status")  # errors.py has no exit codes


# corrupt or impossible input is exit 1 whatever its format; 2 is for a command line or
# a pair of inputs that do not fit, a file that cannot be read or written, schema tooling
USAGE_2 = {"QEMU-ACCEL", "QEMU-ACCEL-MISMATCH", "QEMU-ACCEL-AMBIGUOUS", "QEMU-MACHINE-UNKNOWN",
           "QEMU-MACHINE-MISMATCH", "QEMU-PARAMETER-MISSING", "QEMU-NUM-CPUS-AMBIGUOUS",
           "QEMU-NUM-CPUS-MISMATCH", "QEMU-TEMPLATE-NUM-CPUS", "QEMU-TEMPLATE-NUM-IRQS",
           "QEMU-TEMPLATE-VIRTUALIZATION"}


@pytest.mark.parametrize("code", sorted(c for c in REASONS if c.startswith("QEMU-")))
def test_qemu_codes_exit_1_unless_the_command_line_is_wrong(code: str) -> None:
    expected = 2 if code in USAGE_2 else 1
    assert EXIT_STATUS[REASONS[code].category] == expected


# --- 2. an integer is an integer: not "2", not 2.0, not true ------------------------------------
def _set_first(doc: Any, key: str, value: Any) -> bool:
    """Set the first `key` found walking `doc` (depth first) to `value`."""
    if isinstance(doc, dict):
        if key in doc:
            doc[key] = value
            return True
        return any(_set_first(v, key, value) for v in doc.values())
    if isinstance(doc, list):
        return any(_set_first(v, key, value) for v in doc)
    return False


@pytest.mark.parametrize("bad", ["288", 288.0, "288.0", True])
def test_kvm_dump_integers_are_integers(bad: Any, tmp_path: Path) -> None:
    doc = json.loads(DUMP.read_text())
    doc["nr_irqs"] = bad
    lib, line = _through_both(tmp_path, "dump", "KVM-DUMP-FIELD", json.dumps(doc).encode(),
                              parse_dump, ["import", "kvm", "-o", str(tmp_path / "o")])
    assert "nr_irqs" in lib and "nr_irqs" in line


@pytest.mark.parametrize(("key", "bad"), [("vcpu", "0"), ("vcpu", 0.0), ("vcpu", False),
                                          ("value", 0.0), ("value", "0"), ("offset", 0.0)])
def test_kvm_dump_register_integers_are_integers(key: str, bad: Any, tmp_path: Path) -> None:
    doc = json.loads(DUMP.read_text())
    doc["registers"][0][key] = bad
    lib, _ = _through_both(tmp_path, "dump", "KVM-DUMP-FIELD", json.dumps(doc).encode(),
                           parse_dump, ["import", "kvm", "-o", str(tmp_path / "o")])
    assert f"registers[0].{key}" in lib


@pytest.mark.parametrize(("key", "bad"), [("nr_irqs", "288"), ("nr_irqs", 288.0),
                                          ("value", 1.0), ("value", "1")])
def test_kvm_writes_integers_are_integers(key: str, bad: Any, tmp_path: Path) -> None:
    from gicmig.views.kvm.dump import parse_writes_document

    writes = tmp_path / "w.json"
    assert gicmig("export", "kvm", str(BUSY), "--lenient", "-o", str(writes)).status == 0
    doc = json.loads(writes.read_text())
    assert _set_first(doc, key, bad)
    with pytest.raises(GicmigError) as info:
        parse_writes_document(json.dumps(doc))
    assert info.value.code == "KVM-DUMP-FIELD" and key in str(info.value)


@pytest.mark.parametrize(("key", "bad"), [("vtr", 2415919107.0), ("vtr", "2415919107"),
                                          ("hcr", True), ("lr", ["1", "2", "3", "4"])])
def test_gich_view_integers_are_integers(key: str, bad: Any, tmp_path: Path) -> None:
    view = _gich_view(tmp_path)
    doc = json.loads(view.read_text())
    doc["vcpus"][0][key] = bad
    lib, _ = _through_both(tmp_path, "view", "GICH-VIEW-SCHEMA", json.dumps(doc).encode(),
                              lambda b: parse_view(b, base_dir=str(tmp_path)),
                              ["import", "gich", "-o", str(tmp_path / "o")])
    assert f"vcpus[0].{key}" in lib


@pytest.mark.parametrize("bad", [20990101, 2099.0101, "20990101", True, "2099-1-01"])
def test_a_waiver_expiry_is_a_yyyy_mm_dd_string(bad: Any, tmp_path: Path) -> None:
    doc = {"waivers": [{"rule": sorted(_wire_rules())[0], "element": "x", "reason": "r",
                        "expires": bad}]}
    lib, line = _through_both(tmp_path, "waivers", "SCHEMA-WAIVER-INVALID",
                              json.dumps(doc).encode(), None,
                              ["schema", "check", str(ROOT / "proto"), "--waivers"])
    assert "YYYY-MM-DD" in lib and "YYYY-MM-DD" in line
    doc["waivers"][0]["expires"] = "2099-01-01"
    (tmp_path / "ok.json").write_text(json.dumps(doc))
    assert waivers.load(tmp_path / "ok.json")[0].expires is not None


def _wire_rules() -> set[str]:
    from gicmig.schemacheck.rules import WIRE_JSON_RULES

    return set(WIRE_JSON_RULES)


@pytest.mark.parametrize(("where", "bad"), [("instance_id", 0.0), ("instance_id", False),
                                            ("instance_id", "0"), ("array_len", True),
                                            ("size", 8.0)])
def test_vmdesc_integers_are_integers(where: str, bad: Any, tmp_path: Path) -> None:
    """A vmdesc with a non-integer where QEMU writes an integer is not used: the walk
    does not follow it (the section is then found by the search), from a file and a pipe."""
    from test_qemu_support import CPU, TIMER, GicImage, be32, stream

    from gicmig.views.qemu.stream import read_arm_gic

    def with_vmdesc(devices: list[dict[str, Any]]) -> Path:
        doc = json.dumps({"page_size": 4096, "devices": devices}).encode()
        path = tmp_path / "s.mig"
        path.write_bytes(stream(GicImage().section(), vmdesc=False) + b"\x06" +
                         be32(len(doc)) + doc)
        return path

    assert read_arm_gic(with_vmdesc([TIMER, CPU])).located_by == "vmdesc"
    timer = json.loads(json.dumps(TIMER))
    target = timer if where == "instance_id" else timer["fields"][0]
    target[where] = bad
    assert read_arm_gic(with_vmdesc([timer, CPU])).located_by == "search"


def test_a_vmdesc_may_repeat_a_key_the_last_wins(tmp_path: Path) -> None:
    """QEMU's vmdesc is a hint no other program reads back, so a repeated key is not worth
    a Python call per object (13 % of a QEMU import): the last one counts, as it would if the
    earlier one were not there. A lying first "name" does not stop the vmdesc walk."""
    from test_qemu_support import CPU, TIMER, GicImage, be32, stream

    from gicmig.views.qemu.stream import read_arm_gic

    timer = json.dumps(TIMER)
    assert timer.startswith("{")
    doc = ('{"page_size": 4096, "devices": [{"name": "lie", ' + timer[1:] + ", " +
           json.dumps(CPU) + "]}").encode()
    path = tmp_path / "s.mig"
    path.write_bytes(stream(GicImage().section(), vmdesc=False) + b"\x06" + be32(len(doc)) + doc)
    assert read_arm_gic(path).located_by == "vmdesc"
    from gicmig.limits import LimitExceeded, loads_json

    with pytest.raises(LimitExceeded, match='duplicate key "name"'):
        loads_json(doc)  # every other reader refuses it


# --- 4. an arm_gic look-alike in guest-controlled bytes: a file and a pipe agree ---------------
def _planted(plant: bytes, zero_pages: int = 64, data_pages: int = 4) -> list[bytes]:
    """A stream whose CPU registers (guest-controlled) end with `plant`."""
    from test_qemu_support import GicImage, be32, stream_parts

    cpu = b"\x04" + be32(5) + b"\x03cpu"
    out = []
    for p in stream_parts(GicImage().section(), zero_pages=zero_pages, data_pages=data_pages):
        if p.startswith(cpu):
            i = p.index(bytes(64))
            p = p[:i] + bytes(64 - len(plant)) + plant + p[i + 64:]
        out.append(p)
    return out


def _head(version: int, kind: int = 4) -> bytes:
    from test_qemu_support import be32

    return bytes([kind]) + be32(9) + b"\x07arm_gic" + be32(0) + be32(version)


def _straddling() -> list[bytes]:
    """A v12 look-alike whose would-be section spans the real header and a 1 MiB read
    boundary (the reader's chunk): going back after it needs the bytes before the boundary."""
    from gicmig.views.qemu.source import CHUNK

    plant = _head(12)
    for zero in range(0, 2000):
        parts = _planted(plant, zero_pages=zero, data_pages=255)
        at = b"".join(parts).index(plant)
        if CHUNK - 200 < at < CHUNK - len(plant):
            return parts
    raise AssertionError("no layout puts the look-alike before the boundary")


@pytest.mark.parametrize("case", ["version 11", "iterative", "straddling"])
def test_a_look_alike_header_does_not_abort_a_pipe_or_a_file(case: str,
                                                               tmp_path: Path) -> None:
    import io
    import subprocess
    import sys

    from test_qemu_support import LazyStream

    from gicmig.views.qemu.convert import import_qemu

    parts = {"version 11": lambda: _planted(_head(11)),
             "iterative": lambda: _planted(_head(12, kind=1)),
             "straddling": _straddling}[case]()
    path = tmp_path / "s.mig"
    path.write_bytes(b"".join(parts))
    before = digest(path)
    from_file = import_qemu(path, machine="virt")
    pipe = io.BufferedReader(LazyStream(iter(parts)))  # type: ignore[arg-type]
    assert import_qemu(pipe, machine="virt") == from_file
    plain = import_qemu(io.BufferedReader(LazyStream(iter(_planted(b"")))),  # type: ignore[arg-type]
                        machine="virt")
    assert from_file == plain  # the look-alike changed nothing
    outs = []
    for name in ("file", "pipe"):  # the CLI, with stdin a real pipe (not seekable)
        out = tmp_path / f"{name}.json"
        args = [sys.executable, "-m", "gicmig", "import", "qemu",
                str(path) if name == "file" else "-", "--machine", "virt", "-o", str(out)]
        proc = subprocess.run(args, input=path.read_bytes() if name == "pipe" else None,
                              capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert digest(path) == before


def test_a_look_alike_alone_still_reports_its_own_fault(tmp_path: Path) -> None:
    """Without a real section after it, the first look-alike's fault is the refusal."""
    from gicmig.views.qemu.stream import read_arm_gic

    data = b"".join(_planted(_head(11)))
    real = data.rindex(b"\x07arm_gic") - 5
    path = tmp_path / "s.mig"
    path.write_bytes(data[:real] + b"\x00")  # the real section removed
    with pytest.raises(GicmigError) as info:
        read_arm_gic(path)
    assert info.value.code == "QEMU-GIC-VERSION" and "version 11" in info.value.message


# --- 7. atomic writes: SIGKILL leaves nothing; /dev/shm is a folder like any other ----------
_WRITER = """
import sys, time
from gicmig.files import open_atomic
with open_atomic(sys.argv[1]) as f:
    f.write(b"partial " * 4096)
    print("writing", flush=True)
    time.sleep(120)
"""


def _killed_mid_write(path: Path) -> None:
    import signal
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "writing\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("folder", ["tmp", "/dev/shm"])
def test_sigkill_during_a_write_leaves_the_old_file_and_nothing_else(
        folder: str, tmp_path: Path) -> None:
    import tempfile

    if folder != "tmp" and not Path(folder).is_dir():
        pytest.skip(f"{folder} does not exist here")
    base = Path(tempfile.mkdtemp(dir=None if folder == "tmp" else folder))
    try:
        old = base / "out.gicmig"
        old.write_bytes(b"the old output")
        _killed_mid_write(old)
        assert sorted(p.name for p in base.iterdir()) == ["out.gicmig"]
        assert old.read_bytes() == b"the old output"
        _killed_mid_write(base / "new.gicmig")  # a new output: not even its name appears
        assert sorted(p.name for p in base.iterdir()) == ["out.gicmig"]
    finally:
        for p in base.iterdir():
            p.unlink()
        base.rmdir()


def test_a_regular_file_under_dev_is_replaced_not_rewritten_in_place() -> None:
    import tempfile

    from gicmig.files import write_atomic

    if not Path("/dev/shm").is_dir():
        pytest.skip("/dev/shm does not exist here")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
        path = Path(d) / "state.gicmig"
        path.write_bytes(b"old")
        reader = open(path, "rb")  # noqa: SIM115 - a reader holding the old file
        write_atomic(path, b"new contents")
        assert path.read_bytes() == b"new contents"
        assert reader.read() == b"old"  # replaced by rename: the open file is intact
        reader.close()
        assert sorted(p.name for p in Path(d).iterdir()) == ["state.gicmig"]
        assert oct(path.stat().st_mode & 0o777) != "0o600"  # the umask's mode, as open()


def test_devices_and_fifos_are_written_in_place_directories_refused(tmp_path: Path) -> None:
    import os
    import threading

    from gicmig.files import write_atomic, written_in_place

    assert written_in_place(Path("/dev/null"))
    write_atomic("/dev/null", b"x")  # not replaced by a regular file
    assert Path("/dev/null").is_char_device()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, b"through the fifo")
    reader.join(timeout=60)
    assert got == [b"through the fifo"] and fifo.is_fifo()
    with pytest.raises(GicmigError) as info:
        write_atomic(tmp_path, b"x")
    assert info.value.code == "IO-WRITE" and "directory" in info.value.message
    assert not written_in_place(tmp_path / "new") and not written_in_place(fifo.parent / "x")


def test_without_o_tmpfile_a_named_temporary_is_used_and_removed_on_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from gicmig import files

    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    out = tmp_path / "out.json"
    files.write_atomic(out, b"one")
    assert out.read_bytes() == b"one"
    with pytest.raises(RuntimeError), files.open_atomic(out) as f:
        f.write(b"two")
        assert len(list(tmp_path.iterdir())) == 2  # the named temporary, beside it
        raise RuntimeError
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"] and out.read_bytes() == b"one"


# --- 8, 9. schema folders: protoc's error, bounded layout files, imports, limits, no temp -------
def _protos(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (folder / name.replace("__", "/")).write_text(f'syntax = "proto3";\n{text}\n')
    return folder


def _schema_refused(folder: Path, code: str) -> tuple[str, str]:
    from gicmig.schemacheck.sources import compile_dir

    with pytest.raises(GicmigError) as info:
        compile_dir(folder)
    assert info.value.code == code, info.value
    return str(info.value), refused(gicmig("schema", "check", str(folder)), code)


def test_schema_compile_shows_protocs_error_not_its_warning(tmp_path: Path) -> None:
    folder = _protos(tmp_path / "p", a_proto='import "b.proto";\nmessage A { int32 x = 1; }',
                     b_proto="message B { int32 y = 1; }",
                     c_proto="message C { Missing z = 1; }")
    for name in ("a_proto", "b_proto", "c_proto"):
        (folder / name).rename(folder / name.replace("_", "."))
    lib, line = _schema_refused(folder, "SCHEMA-COMPILE")
    assert '"Missing" is not defined' in lib and '"Missing" is not defined' in line
    assert "warning" not in lib and "unused" not in line


def test_first_error_skips_warnings() -> None:
    from gicmig.schemacheck.sources import first_error

    assert first_error("a.proto:2:1: warning: Import b.proto is unused.\n"
                       'c.proto:2:13: "M" is not defined.\n') == \
        'c.proto:2:13: "M" is not defined.'
    assert first_error("a.proto:1:1: warning: only this\n") == "a.proto:1:1: warning: only this"
    assert first_error("") == "protoc failed"


def _outside(tmp_path: Path) -> Path:
    return _protos(tmp_path / "outside", secret_proto="message Secret { int32 s = 1; }")


@pytest.mark.parametrize("how", ["symlinked folder", "symlinked file", "fifo", "dev zero"])
def test_protoc_never_imports_what_is_not_a_regular_file_in_the_folder(
        how: str, tmp_path: Path) -> None:
    import os

    outside = _outside(tmp_path)
    (outside / "secret_proto").rename(outside / "secret.proto")
    name = {"symlinked folder": "ext/secret.proto", "symlinked file": "s.txt",
            "fifo": "pipe", "dev zero": "zero"}[how]
    folder = _protos(tmp_path / "p")
    (folder / "a.proto").write_text(f'syntax = "proto3";\nimport /* c */ "{name[:2]}" '
                                    f'"{name[2:]}";\nmessage A {{ int32 x = 1; }}\n')
    if how == "symlinked folder":
        os.symlink(outside, folder / "ext")
    elif how == "symlinked file":
        os.symlink(outside / "secret.proto", folder / "s.txt")
    elif how == "fifo":
        os.mkfifo(folder / "pipe")
    else:
        os.symlink("/dev/zero", folder / "zero")
    lib, line = _schema_refused(folder, "SCHEMA-INPUT")
    assert f'import "{name[:2]}" "{name[2:]}"' in lib and "not a regular file" in line


def test_an_import_inside_the_folder_and_a_comment_are_fine(tmp_path: Path) -> None:
    from gicmig.schemacheck.sources import compile_dir

    folder = _protos(tmp_path / "p", b_proto="message B { int32 y = 1; }")
    (folder / "b_proto").rename(folder / "b.proto")
    (folder / "a.proto").write_text('syntax = "proto3";\n// import "../../etc/passwd";\n'
                                    'import "b.proto";\nmessage A { B b = 1; }\n')
    assert compile_dir(folder).files == {"a.proto", "b.proto"}


@pytest.mark.parametrize("how", ["fifo", "symlink out", "too large", "root out"])
def test_buf_yaml_is_read_bounded_and_never_through_a_symlink_or_fifo(
        how: str, tmp_path: Path) -> None:
    import os

    folder = _protos(tmp_path / "p", a_proto="message A { int32 x = 1; }")
    (folder / "a_proto").rename(folder / "a.proto")
    outside = tmp_path / "buf.yaml"
    outside.write_text("version: v2\n")
    code = "IO-READ"
    if how == "fifo":
        os.mkfifo(folder / "buf.yaml")  # not ignored, not waited on
    elif how == "symlink out":
        os.symlink(outside, folder / "buf.yaml")
    elif how == "too large":
        (folder / "buf.yaml").write_text("version: v2\n" + "# padding\n" * 7000)
        code = "SCHEMA-LAYOUT"
    else:
        os.symlink(_outside(tmp_path), folder / "mod")
        (folder / "buf.yaml").write_text("version: v2\nmodules:\n  - path: mod\n")
        code = "SCHEMA-LAYOUT"
    _schema_refused(folder, code)


def test_the_child_has_a_time_a_memory_and_an_output_limit() -> None:
    import time

    from gicmig.schemacheck import child

    start = time.monotonic()
    done = child.run(lambda: time.sleep(60) or 0, seconds=0.5, memory=64 << 20)
    assert done.status is None and done.why == "took too long"
    assert time.monotonic() - start < 30
    done = child.run(lambda: len(bytearray(1 << 30)), seconds=30, memory=64 << 20)
    assert done.status != 0  # MemoryError in the child: it cannot map 1 GiB
    import os

    def flood() -> int:
        while True:
            os.write(1, bytes(1 << 20))

    done = child.run(flood, seconds=30, memory=256 << 20)
    assert done.why == "wrote too much" and len(done.stdout) <= (64 << 20) + (1 << 20)
    done = child.run(lambda: os.write(1, b"fine") and 3, seconds=30, memory=64 << 20)
    assert (done.status, done.stdout, done.why) == (3, b"fine", "")


_SCRATCH = """
import sys, time
from gicmig.files import scratch_folder
with scratch_folder("gicmig-test-") as tmp:
    open(tmp + "/f", "w").write("x")
    print(tmp, flush=True)
    time.sleep(120)
"""


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_a_killed_check_leaves_no_temporary_folder(sig: str, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", _SCRATCH], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None
    folder = Path(proc.stdout.readline().strip())
    assert folder.parent == tmp_path and (folder / "f").exists()
    proc.send_signal(getattr(signal, sig))
    proc.wait(timeout=60)
    for _ in range(600):
        if not folder.exists():
            break
        time.sleep(0.05)
    assert not folder.exists() and list(tmp_path.iterdir()) == []


def test_schema_check_writes_no_temporary_files(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "gicmig", "schema", "check",
                           str(ROOT / "proto")], env=env, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert list(tmp_path.iterdir()) == []


# --- 10. --format json on a full stdout: one line on stderr, exit 2 -----------------------------
@pytest.mark.parametrize("argv", [
    ["validate", "BAD"], ["validate", str(BUSY)], ["info", "MISSING"],
    ["import", "kvm", "-o", "OUT", "BAD"], ["import", "gich", "-o", "OUT", "BAD"],
    ["import", "qemu", "-o", "OUT", "BAD"], ["export", "kvm", "-o", "OUT", "MISSING"],
    ["diff", str(BUSY), "BAD"], ["schema", "check", "MISSING"],
])
def test_json_reports_on_a_full_stdout(argv: list[str], tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1, "a": 2}')
    subst = {"BAD": str(bad), "MISSING": str(tmp_path / "missing"),
             "OUT": str(tmp_path / "out.gicmig")}
    args = [subst.get(a, a) for a in argv] + ["--format", "json"]
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-m", "gicmig", *args], stdout=full,
                              stderr=subprocess.PIPE, timeout=60, text=True)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "IO-WRITE" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "out.gicmig").exists()


# --- 11. memory: at most 64 MiB plus 4x the input, measured as the process's peak RSS -----------
_PEAK = """
import gc, resource, sys
from pathlib import Path
import gicmig.formats.codec, gicmig.schemacheck.layout, gicmig.schemacheck.sources
from gicmig.errors import GicmigError
kind, path = sys.argv[1], sys.argv[2]
gc.collect()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    if kind == "blob":
        gicmig.formats.codec.decode(open(path, "rb").read())
    elif kind == "fds":
        gicmig.schemacheck.sources.read_descriptor_set(path)
    else:
        gicmig.schemacheck.layout.roots(Path(path).parent)
    code = "accepted"
except GicmigError as exc:
    code = exc.code
print(code, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024)
"""


def _varint(n: int) -> bytes:
    out = b""
    while n > 0x7F:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def _peak(kind: str, path: Path) -> tuple[str, int]:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _PEAK, kind, str(path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    code, grown = proc.stdout.split()
    return code, int(grown)


@pytest.mark.parametrize("shape", ["banked", "cpu", "hypervisor vcpus"])
def test_a_protobuf_payload_at_the_limit_stays_in_the_memory_promise(
        shape: str, tmp_path: Path) -> None:
    """Empty submessages, 2 bytes each on the wire, are the costliest protobuf shape."""
    from gicmig.formats.envelope import MAX_PAYLOAD, pack

    outer, item = {"banked": (0x1A, 0x1A), "cpu": (0x1A, 0x2A),
                   "hypervisor vcpus": (0x22, 0x0A)}[shape]
    inner = bytes([item, 0]) * ((MAX_PAYLOAD - 8) // 2)
    path = tmp_path / "worst.gicmig"
    path.write_bytes(pack(bytes([outer]) + _varint(len(inner)) + inner, 1))
    code, grown = _peak("blob", path)
    assert code != "accepted" and grown < (64 << 20) + 4 * path.stat().st_size, grown


@pytest.mark.parametrize("shape", ["files", "messages"])
def test_a_descriptor_set_of_max_input_stays_in_the_memory_promise(
        shape: str, tmp_path: Path) -> None:
    """64 MiB of empty descriptors took protobuf's parser 4-5 GiB; now a child parses it
    first within the promise, and the refusal costs the reading of the file."""
    from gicmig.limits import MAX_INPUT

    if shape == "files":
        data = b"\x0a\x00" * (MAX_INPUT // 2)
    else:
        inner = b"\x22\x00" * ((MAX_INPUT - 16) // 2)
        data = b"\x0a" + _varint(len(inner)) + inner
    path = tmp_path / "worst.binpb"
    path.write_bytes(data)
    code, grown = _peak("fds", path)
    assert code == "SCHEMA-INPUT" and grown < (64 << 20) + 4 * len(data), grown


def test_a_real_descriptor_set_is_still_read(tmp_path: Path) -> None:
    from gicmig.schemacheck import sources

    lock = ROOT / "gicmig/data/schema-revision-3.binpb"
    assert sources.read_descriptor_set(lock).files == {"gicmig/v1/gicmig.proto"}
    size = sources._PARSED_HERE + 1  # parsed in a child first: the same result
    big = tmp_path / "padded.binpb"
    big.write_bytes(lock.read_bytes() + b"\xfa\x07" + _varint(size) + bytes(size))
    assert sources.read_descriptor_set(big).files == {"gicmig/v1/gicmig.proto"}


def test_yaml_at_its_limit_stays_in_the_memory_promise(tmp_path: Path) -> None:
    from gicmig.limits import MAX_YAML

    folder = tmp_path / "p"
    folder.mkdir()
    text = ("[" + "{}," * (MAX_YAML // 3) + "{}]")[:MAX_YAML - 1] + "]"
    (folder / "buf.yaml").write_text(text)
    code, grown = _peak("yaml", folder / "buf.yaml")
    assert code == "SCHEMA-LAYOUT" and grown < (64 << 20) + 4 * MAX_YAML, grown


def _corrupt_stream(kind: str) -> bytes:
    from test_qemu_support import GicImage, stream

    if kind == "QEMU-IRQ-BEYOND-NUM-IRQS":  # virt-7.2 has 288 IDs; state for ID 300
        return stream(GicImage().irq(300, enabled=0xFF).section())
    img = GicImage(2, virt=False)
    img.set("irq_target", 0, 0x02)  # a kvm-arm-gic mark on a TCG image
    return stream(img.section())


@pytest.mark.parametrize("code", ["QEMU-IRQ-BEYOND-NUM-IRQS", "QEMU-ACCEL-CONFLICT"])
def test_a_corrupt_stream_exits_1_from_a_file_and_a_pipe(code: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "corrupt.mig"
    path.write_bytes(_corrupt_stream(code))
    before = digest(path)
    refused(gicmig("import", "qemu", str(path), "-o", str(tmp_path / "o.json")), code)
    proc = subprocess.run([sys.executable, "-m", "gicmig", "import", "qemu", "-", "-o",
                           str(tmp_path / "o.json")], input=path.read_bytes(),
                          capture_output=True, timeout=60)
    assert proc.returncode == 1 and f": {code} " in proc.stderr.decode()
    assert len(proc.stderr.splitlines()) == 1 and digest(path) == before
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("where", ["new", "fifo", "stdout"])
def test_an_error_raised_inside_open_atomic_keeps_its_code(where: str, tmp_path: Path,
                                                           capfdbinary: Any) -> None:
    """A FileError (IO-READ, e.g. a template that changed while copied) is an OSError too:
    the writer must not turn it into IO-WRITE."""
    import os
    import threading

    from gicmig.files import open_atomic

    path = {"new": str(tmp_path / "out.mig"), "fifo": str(tmp_path / "fifo"),
            "stdout": "-"}[where]
    drain = None
    if where == "fifo":
        os.mkfifo(path)
        drain = threading.Thread(target=lambda: Path(path).read_bytes())
        drain.start()
    with pytest.raises(GicmigError) as info, open_atomic(path) as f:
        f.write(b"x")
        raise GicmigError("IO-READ", "the template changed while gicmig read it")
    if drain is not None:
        drain.join(timeout=60)
    assert info.value.code == "IO-READ" and "template changed" in info.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == (["fifo"] if where == "fifo" else [])
