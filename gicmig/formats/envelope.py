"""The .gicmig envelope: a fixed little-endian header that every future version reads.

    offset size field
    0      8    magic            89 47 49 43 4D 49 47 0A  ("\\x89GICMIG\\n")
    8      2    envelope_version 1
    10     2    header_length    32 (a later envelope may append fields; readers skip them)
    12     4    schema_revision  the proto revision the payload was written with
    16     4    flags            bits 0-15 required (unknown ones refuse), 16-31 optional
    20     4    payload_length   at most MAX_PAYLOAD
    24     4    payload_crc32c   CRC32C of the exact stored payload bytes
    28     4    header_crc32c    CRC32C of bytes 0-27 and 32..header_length

Integrity is checked on the stored bytes, never on a re-serialization (protobuf
serialization is not canonical across libraries). Lengths are bounded before use. Optional
flags and header extensions are hints a reader may ignore; an encoder writes its own header,
so re-encoding does not carry them over (required flags and payload fields are never dropped:
unknown ones are refused).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import google_crc32c

from gicmig.errors import DecodeError
from gicmig.limits import MAX_PAYLOAD

MAGIC = b"\x89GICMIG\n"
ENVELOPE_VERSION = 1
HEADER_LENGTH = 32
REQUIRED_FLAGS = 0x0000_FFFF
_LAYOUT = struct.Struct("<8sHHIIIII")
_CRC_AT = 28


@dataclass(frozen=True)
class Header:
    envelope_version: int
    header_length: int
    schema_revision: int
    flags: int
    payload_length: int
    payload_crc32c: int


def crc32c(data: bytes | memoryview) -> int:
    return int(google_crc32c.value(bytes(data)))


def pack(payload: bytes, schema_revision: int, flags: int = 0) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    head = _LAYOUT.pack(MAGIC, ENVELOPE_VERSION, HEADER_LENGTH, schema_revision, flags,
                        len(payload), crc32c(payload), 0)
    return head[:_CRC_AT] + struct.pack("<I", crc32c(head[:_CRC_AT])) + payload


def read_header(blob: bytes) -> Header:
    """Check and return the header; raise DecodeError naming the byte offset."""
    _check_magic(blob)
    if len(blob) < 12:
        raise DecodeError("BLOB-TRUNCATED", f"{len(blob)} bytes, the header needs 32",
                          offset=len(blob))
    version, hlen = struct.unpack_from("<HH", blob, 8)
    if version != ENVELOPE_VERSION:
        raise DecodeError("BLOB-ENVELOPE-VERSION",
                          f"envelope version {version}, this gicmig reads {ENVELOPE_VERSION}",
                          offset=8)
    if hlen < HEADER_LENGTH:
        raise DecodeError("BLOB-ENVELOPE-VERSION",
                          f"header length {hlen} is shorter than {HEADER_LENGTH}", offset=10)
    if len(blob) < hlen:
        raise DecodeError("BLOB-TRUNCATED", f"{len(blob)} bytes, the header needs {hlen}",
                          offset=len(blob))
    _, _, _, revision, flags, plen, pcrc, hcrc = _LAYOUT.unpack_from(blob, 0)
    want = crc32c(blob[:_CRC_AT] + blob[HEADER_LENGTH:hlen])
    if hcrc != want:
        raise DecodeError("BLOB-HEADER-CHECKSUM",
                          f"header CRC32C {hcrc:#010x}, computed {want:#010x}", offset=_CRC_AT)
    return Header(version, hlen, revision, flags, plen, pcrc)


def _check_magic(blob: bytes) -> None:
    head = blob[: len(MAGIC)]
    if head != MAGIC[: len(head)]:
        at = next(i for i, (a, b) in enumerate(zip(head, MAGIC, strict=False)) if a != b)
        raise DecodeError("BLOB-BAD-MAGIC",
                          f"not a .gicmig blob (starts {bytes(head)!r}, expected {MAGIC!r})",
                          offset=at)
    if len(head) < len(MAGIC):
        raise DecodeError("BLOB-TRUNCATED", f"{len(blob)} bytes, the header needs 32",
                          offset=len(blob))


def payload_of(blob: bytes, header: Header) -> bytes:
    """The payload bytes, after the length bound, exact-length and CRC checks."""
    if header.flags & REQUIRED_FLAGS:
        raise DecodeError("BLOB-UNKNOWN-FLAGS",
                          f"required flags {header.flags & REQUIRED_FLAGS:#06x} are not known",
                          offset=16)
    if header.payload_length > MAX_PAYLOAD:
        raise DecodeError("BLOB-TOO-LARGE",
                          f"payload length {header.payload_length} exceeds {MAX_PAYLOAD}",
                          offset=20)
    end = header.header_length + header.payload_length
    if len(blob) < end:
        raise DecodeError("BLOB-TRUNCATED",
                          f"{len(blob)} bytes, header and payload need {end}", offset=len(blob))
    if len(blob) > end:
        raise DecodeError("BLOB-TRAILING-DATA", f"{len(blob) - end} bytes follow the payload",
                          offset=end)
    payload = blob[header.header_length:end]
    got = crc32c(payload)
    if got != header.payload_crc32c:
        raise DecodeError("BLOB-PAYLOAD-CHECKSUM",
                          f"payload CRC32C {header.payload_crc32c:#010x}, computed {got:#010x}",
                          offset=24)
    return bytes(payload)
