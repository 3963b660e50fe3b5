"""The bitmap primitives agree with their obvious per-element definitions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gicmig.arch import bitmaps

BITS = st.integers(0, 2**1100 - 1)


def _elements(value: int) -> list[int]:
    return [k for k in range(value.bit_length()) if value >> k & 1]


@settings(max_examples=300, deadline=None)
@given(BITS)
def test_bits_and_runs(value: int) -> None:
    assert list(bitmaps.set_bits(value)) == _elements(value)
    assert bitmaps.from_indices(bitmaps.set_bits(value)) == value
    assert [k for a, b in bitmaps.runs(value) for k in range(a, b + 1)] == _elements(value)
    assert bitmaps.from_bytes(bitmaps.to_bytes(value)) == value
    assert bitmaps.to_bytes(value)[-1:] != b"\0"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1100))
def test_byte_vectors(vector: bytes) -> None:
    positions = [k for k, b in enumerate(vector) if b]
    assert bitmaps.nonzero_positions(vector) == positions
    assert bitmaps.nonzero(vector) == sum(1 << k for k in positions)


@settings(max_examples=300, deadline=None)
@given(BITS, st.integers(0, 1100), st.integers(1, 255))
def test_spread(value: int, n: int, fill: int) -> None:
    assert bitmaps.spread(value, n, fill) == bytes(fill if value >> k & 1 else 0
                                                   for k in range(n))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(1, 8))
def test_stretch_and_squeeze(value: int, step: int) -> None:
    stretched = bitmaps.stretch(value, step)
    assert _elements(stretched) == [k * step for k in _elements(value)]
    assert bitmaps.squeeze(stretched, step) == value
    assert bitmaps.squeeze(stretched | (stretched << 1 if step > 1 else 0), step) == value
