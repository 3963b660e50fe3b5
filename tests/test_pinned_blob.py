"""Pinned bytes of the .gicmig envelope and the codec's refusals at their edges.

The header layout is the one docs and `gicmig/envelope.py` publish (magic 89 47 49 43 4D 49
47 0A, u16 version 1, u16 header length 32, u32 schema revision, u32 flags with bits 0-15
required, u32 payload length <= 1 MiB, u32 CRC32C of the payload, u32 CRC32C of header bytes
0-27 and 32..). CRC32C is computed here bit by bit (Castagnoli, reflected polynomial
0x82F63B78; check value of "123456789" is 0xE3069283), independently of the library.
"""

from __future__ import annotations

import struct

import pytest

from gicmig import GicConfig, GicState
from gicmig.core.model import SCHEMA_REVISION
from gicmig.errors import DecodeError, GicmigError, ValidationError
from gicmig.formats import envelope
from gicmig.formats.codec import decode, encode


def crc32c(data: bytes) -> int:
    crc = 0xFFFF_FFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F6_3B78 if crc & 1 else 0)
    return crc ^ 0xFFFF_FFFF


def header(payload: bytes, *, version: int = 1, hlen: int = 32,
           revision: int = SCHEMA_REVISION,
           flags: int = 0, length: int | None = None, extension: bytes = b"") -> bytes:
    head = (b"\x89GICMIG\n" + struct.pack("<HHIII", version, hlen, revision, flags,
                                          len(payload) if length is None else length)
            + struct.pack("<I", crc32c(payload)))
    return head + struct.pack("<I", crc32c(head + extension)) + extension


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE306_9283
    assert envelope.crc32c(b"123456789") == 0xE306_9283


def test_header_bytes() -> None:
    blob = envelope.pack(b"abc", 2)
    assert blob[:24] == bytes.fromhex("894749434d49470a" "0100" "2000" "02000000" "00000000"
                                      "03000000")
    assert blob[24:28] == struct.pack("<I", crc32c(b"abc"))
    assert blob == header(b"abc", revision=2) + b"abc"
    assert envelope.pack(b"abc", 7, flags=1 << 16) == header(b"abc", revision=7,
                                                             flags=1 << 16) + b"abc"


def test_encode_writes_the_header_and_the_deterministic_payload() -> None:
    st = GicState.reset(GicConfig.qemu_virt())
    blob = encode(st)
    payload = st._pb.SerializeToString(deterministic=True)
    assert blob == header(payload) + payload
    assert decode(blob) == st


def test_payload_length_bound() -> None:
    assert envelope.MAX_PAYLOAD == 1 << 20
    envelope.pack(bytes(1 << 20), 2)
    with pytest.raises(ValueError, match="exceeds"):
        envelope.pack(bytes((1 << 20) + 1), 2)
    h = envelope.read_header(header(b"", length=(1 << 20) + 1))
    with pytest.raises(DecodeError) as info:
        envelope.payload_of(header(b"", length=(1 << 20) + 1), h)
    assert (info.value.code, info.value.offset) == ("BLOB-TOO-LARGE", 20)
    h = envelope.read_header(header(b"", length=1 << 20))
    with pytest.raises(DecodeError) as info:
        envelope.payload_of(header(b"", length=1 << 20), h)
    assert (info.value.code, info.value.offset) == ("BLOB-TRUNCATED", 32)


@pytest.mark.parametrize(("flags", "ok"), [(0, True), (1, False), (1 << 15, False),
                                            (1 << 16, True), (1 << 31, True),
                                            (0xFFFF_0000, True), (0x0001_0001, False)])
def test_required_and_optional_flags(flags: int, ok: bool) -> None:
    blob = header(b"xy", flags=flags) + b"xy"
    h = envelope.read_header(blob)
    assert h.flags == flags
    if ok:
        assert envelope.payload_of(blob, h) == b"xy"
        return
    with pytest.raises(DecodeError) as info:
        envelope.payload_of(blob, h)
    assert (info.value.code, info.value.offset) == ("BLOB-UNKNOWN-FLAGS", 16)


def _refused(blob: bytes) -> tuple[str, int | None]:
    with pytest.raises(DecodeError) as info:
        envelope.payload_of(blob, envelope.read_header(blob))
    return info.value.code, info.value.offset


def test_header_edges() -> None:
    good = header(b"xy") + b"xy"
    assert envelope.payload_of(good, envelope.read_header(good)) == b"xy"
    assert _refused(good[:7]) == ("BLOB-TRUNCATED", 7)
    assert _refused(good[:8]) == ("BLOB-TRUNCATED", 8)
    assert _refused(good[:11]) == ("BLOB-TRUNCATED", 11)
    assert _refused(good[:12]) == ("BLOB-TRUNCATED", 12)
    assert _refused(good[:31]) == ("BLOB-TRUNCATED", 31)
    assert _refused(good[:33]) == ("BLOB-TRUNCATED", 33)
    assert _refused(good + b"\0") == ("BLOB-TRAILING-DATA", 34)
    assert _refused(b"\x89GICMIx") == ("BLOB-BAD-MAGIC", 6)
    assert _refused(b"GICMIG") == ("BLOB-BAD-MAGIC", 0)
    assert _refused(header(b"xy", version=2) + b"xy") == ("BLOB-ENVELOPE-VERSION", 8)
    assert _refused((header(b"xy", version=2) + b"xy")[:12]) == ("BLOB-ENVELOPE-VERSION", 8)
    assert _refused(good[:12]) == ("BLOB-TRUNCATED", 12)
    assert _refused(header(b"xy", version=0) + b"xy") == ("BLOB-ENVELOPE-VERSION", 8)
    assert _refused(header(b"xy", hlen=31) + b"xy") == ("BLOB-ENVELOPE-VERSION", 10)
    # a longer header (a later envelope's fields) is covered by the header CRC and skipped
    longer = header(b"xy", hlen=36, extension=b"\1\2\3\4") + b"xy"
    assert envelope.payload_of(longer, envelope.read_header(longer)) == b"xy"
    assert _refused(longer[:35]) == ("BLOB-TRUNCATED", 35)
    bad = bytearray(longer)
    bad[33] ^= 1
    assert _refused(bytes(bad)) == ("BLOB-HEADER-CHECKSUM", 28)
    bad = bytearray(good)
    bad[32] ^= 1
    assert _refused(bytes(bad)) == ("BLOB-PAYLOAD-CHECKSUM", 24)
    for at in range(28):
        bad = bytearray(good)
        bad[at] ^= 0x80
        code, _ = _refused(bytes(bad))
        assert code in ("BLOB-BAD-MAGIC", "BLOB-ENVELOPE-VERSION", "BLOB-HEADER-CHECKSUM",
                        "BLOB-TRUNCATED"), at


def test_encode_validates() -> None:
    """encode() never writes a blob of an invalid state."""
    st = GicState.reset(GicConfig.qemu_virt())
    st.cpu[0].bpr = 8
    with pytest.raises(ValidationError) as info:
        encode(st)
    assert [v.code for v in info.value.violations] == ["CPU-BPR-RANGE"]
    st = GicState.reset(GicConfig(9, 64))
    with pytest.raises(ValidationError):
        encode(st)


def test_encode_canonicalizes() -> None:
    """An empty `shared {}` and no `shared` are one state, so one blob."""
    st = GicState.reset(GicConfig.qemu_virt())
    plain = encode(st)
    st._pb.state.shared.SetInParent()
    assert st._pb.state.HasField("shared")
    assert encode(st) == plain
    assert not st._pb.state.HasField("shared")
    st._pb.state.shared.priority = b"\x10\x00"  # trailing zeros are the caller's to trim
    with pytest.raises(ValidationError) as info:
        encode(st)
    assert [v.code for v in info.value.violations] == ["PAYLOAD-NOT-CANONICAL"]


@pytest.mark.parametrize(("revision", "code"), [(0, "BLOB-SCHEMA-NEWER"),
                                                 (SCHEMA_REVISION + 1, "BLOB-SCHEMA-NEWER")])
def test_decode_schema_revision_edges(revision: int, code: str) -> None:
    st = GicState.reset(GicConfig.qemu_virt())
    payload = st._pb.SerializeToString(deterministic=True)
    with pytest.raises(DecodeError) as info:
        decode(header(payload, revision=revision) + payload)
    assert (info.value.code, info.value.offset) == (code, 12)
    for ok in range(1, SCHEMA_REVISION + 1):
        assert decode(header(payload, revision=ok) + payload) == st


def test_encode_revision_edges() -> None:
    st = GicState.reset(GicConfig.qemu_virt())
    st.schema_revision = 0xFFFF_FFFF + 1
    with pytest.raises(GicmigError) as info:
        encode(st)
    assert info.value.code == "SCHEMA-REVISION-UNKNOWN"
    st.schema_revision = 0xFFFF_FFFF  # the largest the u32 header field holds
    assert encode(st)[12:16] == b"\xff\xff\xff\xff"
    st.schema_revision = 1  # revision 1 lacks enable_grp1_unknown: fine while it is unset
    assert encode(st)[12:16] == b"\x01\x00\x00\x00"
    st.enable_grp1_unknown = True
    with pytest.raises(GicmigError):
        encode(st)
