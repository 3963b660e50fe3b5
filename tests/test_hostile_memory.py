"""Issue 13, memory without bound: every reader stops at a limit of gicmig.limits, with a
typed error, before it allocates (a page-size shift, a capability count, /dev/zero, JSON)."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest
from hostile_support import gicmig, refused
from test_qemu_support import GicImage, be32, stream

from gicmig.errors import GicmigError
from gicmig.formats.fixture import from_json
from gicmig.limits import MAX_COUNT, MAX_INT_DIGITS, MAX_JSON, LimitExceeded, loads_json
from gicmig.views.qemu.framing import MAX_PAGE_BITS
from gicmig.views.qemu.stream import read_arm_gic

ROOT = Path(__file__).resolve().parents[1]
PAGE_BITS = b"\x05\x1econfiguration/target-page-bits" + be32(1)


def _with_page_bits(bits: int) -> bytes:
    data = stream(GicImage().section())
    at = data.index(PAGE_BITS) + len(PAGE_BITS)
    return data[:at] + be32(bits) + data[at + 4:]


@pytest.mark.parametrize("bits", [0, 9, MAX_PAGE_BITS + 1, 40, 0xFFFF_FFFF])
def test_a_page_size_shift_beyond_arm_pages_is_refused_before_it_allocates(bits: int) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(GicmigError) as exc:
            read_arm_gic(io.BytesIO(_with_page_bits(bits)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert exc.value.code == "QEMU-FRAMING"
    assert f"target-page-bits is {bits}" in exc.value.message
    assert peak < 8 << 20  # before the fix: 1 << 0xFFFFFFFF, a 512 MiB integer


@pytest.mark.parametrize("bits", [12, MAX_PAGE_BITS])
def test_arm_page_sizes_are_still_read(bits: int) -> None:
    """The bound refuses no real stream: 12 is QEMU virt's, 16 ARM's largest (the
    synthetic stream's pages are 4 KiB, so 16 sends the walk to the header search: the
    same section is found either way)."""
    want = read_arm_gic(io.BytesIO(stream(GicImage().section())))
    got = read_arm_gic(io.BytesIO(_with_page_bits(bits)))
    assert (got.main, got.virt, got.offset, got.machine) == \
        (want.main, want.virt, want.offset, "virt-7.2")
    assert (got.located_by == want.located_by) == (bits == 12)


def test_the_smallest_arm_page_size_passes_the_bound() -> None:
    try:  # 1 KiB pages contradict this stream's 4 KiB records: any refusal is elsewhere
        read_arm_gic(io.BytesIO(_with_page_bits(10)))
    except GicmigError as exc:
        assert "target-page-bits" not in exc.message


class EndlessPipe(io.RawIOBase):
    """A pipe that never ends: a configuration record claiming 2**32-1 capabilities,
    then zero bytes forever (each an empty capability name). Counts what was read."""

    def __init__(self) -> None:
        head = stream(GicImage().section())
        head = head[:head.index(PAGE_BITS)]
        name = b"configuration/capabilities"
        self.head = head + b"\x05" + bytes([len(name)]) + name + be32(1) + be32(0xFFFF_FFFF)
        self.read_total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray) -> int:  # type: ignore[override]
        n = len(buf)
        if self.read_total < len(self.head):
            chunk = self.head[self.read_total:self.read_total + n]
        else:
            chunk = bytes(n)
        buf[:len(chunk)] = chunk
        self.read_total += len(chunk)
        if self.read_total > 256 << 20:  # the unfixed reader would go on for 4 GiB
            raise AssertionError("the capability list was read without a bound")
        return len(chunk)


def test_an_unbounded_capability_count_on_a_pipe_is_refused_at_the_count() -> None:
    pipe = EndlessPipe()
    with pytest.raises(GicmigError) as exc:
        read_arm_gic(io.BufferedReader(pipe))
    assert exc.value.code == "QEMU-FRAMING"
    assert f"{0xFFFF_FFFF} migration capabilities (at most {MAX_COUNT})" in exc.value.message
    assert pipe.read_total <= len(pipe.head) + (4 << 20)  # one read chunk, not the list


def test_schema_check_against_dev_zero_stops_at_the_input_limit() -> None:
    line = refused(gicmig("schema", "check", str(ROOT / "proto"), "--against", "/dev/zero"),
                   "IO-READ")
    assert "/dev/zero is larger than 67108864 bytes" in line


def test_json_beyond_the_limit_is_refused_by_every_json_reader(tmp_path: Path) -> None:
    text = (ROOT / "fixtures/v1/busy.json").read_text()
    padded = text[:-2] + " " * MAX_JSON + text[-2:]
    with pytest.raises(GicmigError) as exc:
        from_json(padded)
    assert exc.value.code == "JSON-SYNTAX" and f"more than the {MAX_JSON}" in exc.value.message
    for view, code in (("kvm", "KVM-DUMP-SYNTAX"), ("gich", "GICH-VIEW-SYNTAX")):
        path = tmp_path / f"{view}.json"
        path.write_text('{"format": "x", "pad": "' + "a" * MAX_JSON + '"}')
        assert code in refused(gicmig("import", view, str(path), "-o", str(tmp_path / "o")),
                               code)


def test_the_worst_json_within_the_limit_stays_within_64_mib() -> None:
    """The shape that costs Python the most per byte: empty objects in a list (24x; empty
    lists 21x, distinct keys 10x, small ints 4x). MAX_JSON is chosen so that even that
    stays below the 64 MiB every input may use."""
    worst = "[" + ",".join(["{}"] * ((MAX_JSON - 2) // 3)) + "]"
    assert len(worst) <= MAX_JSON
    tracemalloc.start()
    try:
        doc = loads_json(worst)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(doc) == (MAX_JSON - 2) // 3
    assert peak < 64 << 20, peak


@pytest.mark.parametrize("digits", [MAX_INT_DIGITS + 1, 4301, 100_000])
def test_long_integers_are_refused_before_python_converts_them(digits: int) -> None:
    with pytest.raises(LimitExceeded, match=f"integer of {digits} digits"):
        loads_json('{"n": ' + "9" * digits + "}")
    assert loads_json('{"n": -' + "9" * MAX_INT_DIGITS + "}")["n"] == -int("9" * MAX_INT_DIGITS)
    assert json.loads(json.dumps(loads_json('[1, 2.5, "x"]'))) == [1, 2.5, "x"]
