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
        ("fixture", "JSON-SYNTAX", BUSY, from_json, ["validate"]),
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
    for argv in (["validate"], ["encode", "-o", str(tmp_path / "o")]):
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
    out = gicmig("validate", str(path))
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
