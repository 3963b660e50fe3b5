"""Pinned values of the bitmap and byte-vector primitives (bit k = element k, little-endian
bytes with trailing zeros removed on the wire; APR stretch/squeeze by a level step)."""

from __future__ import annotations

from gicmig.arch import bitmaps


def test_to_and_from_bytes() -> None:
    assert bitmaps.to_bytes(0) == b""
    assert bitmaps.to_bytes(1) == b"\x01"
    assert bitmaps.to_bytes(0xFF) == b"\xff"
    assert bitmaps.to_bytes(0x100) == b"\x00\x01"
    assert bitmaps.to_bytes(1 << 1019) == bytes(127) + b"\x08"
    assert bitmaps.from_bytes(b"\x00\x01") == 0x100
    assert bitmaps.from_bytes(b"\x01\x00") == 1


def test_lowest() -> None:
    values = (0, 1, 0b1010_0000, 1 << 1019 | 1 << 1000)
    assert [bitmaps.lowest(v) for v in values] == [-1, 0, 5, 1000]


def test_set_bits_runs_indices() -> None:
    assert list(bitmaps.set_bits(0)) == []
    assert list(bitmaps.set_bits(0b1011_0001)) == [0, 4, 5, 7]
    assert list(bitmaps.set_bits(1 << 1019 | 1 << 32)) == [32, 1019]
    assert list(bitmaps.runs(0)) == []
    assert list(bitmaps.runs(0b111_0110_0001)) == [(0, 0), (5, 6), (8, 10)]
    assert list(bitmaps.runs(1 << 100 | 1 << 101)) == [(100, 101)]
    assert list(bitmaps.runs(0xFFFF_FFFF)) == [(0, 31)]
    assert bitmaps.from_indices([3, 0, 3]) == 0b1001
    assert bitmaps.from_indices([]) == 0


def test_byte_vectors() -> None:
    assert bitmaps.nonzero(b"") == 0
    assert bitmaps.nonzero(b"\x00\x05\x00\xff") == 0b1010
    assert bitmaps.nonzero(b"\x80" + bytes(40) + b"\x01") == 1 | 1 << 41
    assert bitmaps.nonzero_positions(b"") == []
    assert bitmaps.nonzero_positions(b"\x00\x05\x00\xff") == [1, 3]
    assert bitmaps.nonzero_positions(b"\x01\x00\x01") == [0, 2]
    assert bitmaps.spread(0b101, 4) == b"\x01\x00\x01\x00"
    assert bitmaps.spread(0b101, 4, 0xFF) == b"\xff\x00\xff\x00"
    assert bitmaps.spread(0b11111, 3) == b"\x01\x01\x01"
    assert bitmaps.spread(0, 2) == b"\x00\x00"
    assert bitmaps.spread(1 << 7, 8, 7) == bytes(7) + b"\x07"


def test_stretch_and_squeeze() -> None:
    """GICH_APR bit n <-> canonical level 4n (step 4), KVM the same; step 8 for 4 bits."""
    assert bitmaps.stretch(0, 4) == 0
    assert bitmaps.stretch(1, 4) == 1
    assert bitmaps.stretch(0b11, 4) == 0b1_0001
    assert bitmaps.stretch(1 << 31, 4) == 1 << 124
    assert bitmaps.stretch(0b101, 2) == 0b1_0001
    assert bitmaps.stretch(0b110, 1) == 0b110
    assert bitmaps.squeeze(0, 4) == 0
    assert bitmaps.squeeze(0b1_0001, 4) == 0b11
    assert bitmaps.squeeze(0b1_0011, 4) == 0b11  # bits between the steps are ignored
    assert bitmaps.squeeze(0b1110, 4) == 0
    assert bitmaps.squeeze(1 << 124, 4) == 1 << 31
    assert bitmaps.squeeze(1 << 120 | 1 << 8, 8) == 1 << 15 | 1 << 1
