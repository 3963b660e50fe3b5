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
