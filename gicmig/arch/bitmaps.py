"""Bitmaps and byte vectors, the two shapes of per-interrupt state.

A bitmap is a Python int, bit k = element k; a byte vector has one byte per element. Every
conversion here runs in C (int, bytes and str methods), so no caller needs a Python loop
per interrupt.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

_ASCII_NONZERO = bytes(0x31 if b else 0x30 for b in range(256))  # byte -> "0"/"1"
_FLAG = bytes([0] + [1] * 255)  # byte -> 0/1


def to_bytes(value: int) -> bytes:
    """A bitmap as little-endian bytes with trailing zero bytes removed (the wire form)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "little")


def from_bytes(data: bytes) -> int:
    return int.from_bytes(data, "little")


def lowest(value: int) -> int:
    """The index of the lowest set bit; -1 for 0."""
    return (value & -value).bit_length() - 1


def set_bits(value: int) -> Iterator[int]:
    """The indices of the set bits, lowest first."""
    while value:
        low = value & -value
        yield low.bit_length() - 1
        value ^= low


def runs(value: int) -> Iterator[tuple[int, int]]:
    """(first, last) of each run of consecutive set bits, lowest first."""
    while value:
        low = value & -value
        start = low.bit_length() - 1
        carry = value + low  # clears the run and sets the bit just above it
        end = (carry & -carry).bit_length() - 1
        yield start, end - 1
        value &= -(1 << end)


def from_indices(indices: Iterable[int]) -> int:
    """The bitmap with exactly these bits set."""
    value = 0
    for i in indices:
        value |= 1 << i
    return value


def nonzero(vector: bytes | bytearray) -> int:
    """Bit k set where byte k of `vector` is non-zero."""
    digits = vector.translate(_ASCII_NONZERO)[::-1]
    return int(digits, 2) if digits else 0


def nonzero_positions(vector: bytes | bytearray) -> list[int]:
    """The indices of the non-zero bytes, lowest first (the scan runs in C)."""
    flags = vector.translate(_FLAG)
    out, i = [], flags.find(1)
    while i >= 0:
        out.append(i)
        i = flags.find(1, i + 1)
    return out


def spread(value: int, n: int, fill: int = 1) -> bytes:
    """The n-element byte vector holding `fill` where bit k is set and 0 elsewhere."""
    value &= (1 << n) - 1
    digits = bin(value | 1 << n)[:2:-1].encode()  # n digits, element 0 first
    return digits.translate(bytes.maketrans(b"01", bytes([0, fill])))


def stretch(value: int, step: int) -> int:
    """Bit n moved to bit n * step (e.g. a 32-level GICH_APR onto 128 levels, step 4)."""
    return int(("0" * (step - 1)).join(bin(value)[2:]), 2) if value else 0


def squeeze(value: int, step: int) -> int:
    """Bit n * step moved to bit n; bits between the multiples of `step` are ignored."""
    digits = bin(value)[:1:-1][::step][::-1]  # every step-th bit, from bit 0 up
    return int(digits, 2) if value else 0
