"""Blob codec: GicState <-> .gicmig bytes (envelope + schema v1 protobuf payload)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gicmig.core.model import (
    SCHEMA_REVISION,
    SOURCE_NAMES,
    GicState,
    Provenance,
    _empty_submessages,
    canonicalize,
)
from gicmig.core.pb import is_repeated, pb
from gicmig.core.rules import validate
from gicmig.errors import DecodeError, GicmigError
from gicmig.files import Source, read_source
from gicmig.formats import envelope

__all__ = ["SCHEMA_REVISION", "BlobInfo", "decode", "encode", "info", "unknown_fields"]


def encode(state: GicState) -> bytes:
    """The canonical blob of a valid state (raises `ValidationError` otherwise).

    >>> blob = encode(GicState.reset(GicConfig.qemu_virt()))
    >>> blob[:8]
    b'\\x89GICMIG\\n'
    """
    canonicalize(state._pb)
    validate(state)
    if state.schema_revision < SCHEMA_REVISION:
        from gicmig.formats.revisions import check_revision

        # written as an older revision only while it holds nothing that revision lacks
        check_revision(state, state.schema_revision)  # also refuses revision 0
    elif state.schema_revision > 0xFFFF_FFFF:
        raise GicmigError("SCHEMA-REVISION-UNKNOWN",
                          f"schema revision {state.schema_revision} does not fit the header")
    payload: bytes = state._pb.SerializeToString(deterministic=True)
    return envelope.pack(payload, state.schema_revision)


def decode(blob: Source, *, validate_state: bool = True, allow_unknown: bool = False) -> GicState:
    """A state from a .gicmig blob: integrity, canonical form and every rule checked.

    `blob` is the blob's bytes, a path (a str is always a path) or a binary file object.
    Raises `DecodeError` (bad bytes; `.offset` says where), `ValidationError`, or
    `FileError` for a path or file that cannot be read.

    >>> with open("fixtures/v1/busy.gicmig", "rb") as f:
    ...     state = gicmig.decode(f)
    >>> gicmig.decode(gicmig.encode(state)) == state == gicmig.decode("fixtures/v1/busy.gicmig")
    True

    `allow_unknown` accepts fields from a newer schema revision (they are kept, and
    re-encoded unchanged); `validate_state=False` stops after the integrity checks.
    """
    if not isinstance(blob, bytes):
        blob = read_source(blob, "decode")
    header = envelope.read_header(blob)
    payload = envelope.payload_of(blob, header)
    if header.schema_revision == 0:
        raise DecodeError("BLOB-SCHEMA-NEWER", "schema revision 0 does not exist", offset=12)
    if header.schema_revision > SCHEMA_REVISION and not allow_unknown:
        raise DecodeError("BLOB-SCHEMA-NEWER",
                          f"written with schema revision {header.schema_revision}, this gicmig "
                          f"knows up to {SCHEMA_REVISION} (use --allow-unknown to read it anyway)",
                          offset=12)
    msg = _parse(payload, header.header_length)
    if not validate_state:
        return GicState(msg, header.schema_revision)
    _check_canonical(msg, payload, header.header_length, allow_unknown)
    if not allow_unknown and msg.provenance.source not in SOURCE_NAMES:
        raise DecodeError("PAYLOAD-UNKNOWN-FIELDS",
                          f"provenance.source value {msg.provenance.source} is not defined by "
                          "this schema", offset=header.header_length)
    if header.schema_revision < SCHEMA_REVISION:
        from gicmig.formats.revisions import check_written_revision

        check_written_revision(msg, header.schema_revision, header.header_length)
    state = GicState(msg, header.schema_revision)
    validate(state)
    return state


def _check_canonical(msg: Any, payload: bytes, offset: int, allow_unknown: bool) -> list[str]:
    """Refuse unknown fields (unless allowed) and any non-canonical encoding.

    Fast path: one deterministic re-serialization equals the payload exactly when there
    are no unknown fields and the encoding is canonical; only a mismatch pays for the
    recursive walk that names the unknown fields.
    """
    if _empty_submessages(msg):
        raise DecodeError("PAYLOAD-NOT-CANONICAL",
                          "an empty submessage is stored (canonical form omits it)", offset=offset)
    if msg.SerializeToString(deterministic=True) == payload:
        # unknown fields re-serialize too (at the end, where a deterministic writer puts
        # them): discarding them is the cheap test for their presence, naming them is not
        if allow_unknown or not _had_unknown(msg, len(payload)):
            return []
        msg = _parse(payload, offset)
    unknown = list(unknown_fields(msg))
    if unknown and not allow_unknown:
        raise DecodeError("PAYLOAD-UNKNOWN-FIELDS",
                          "fields this schema does not define: " + ", ".join(unknown),
                          offset=offset)
    if not unknown:
        raise DecodeError("PAYLOAD-NOT-CANONICAL",
                          "the payload is valid protobuf but not the canonical encoding "
                          "(field order, duplicates or packing differ)", offset=offset)
    return unknown


def _had_unknown(msg: Any, size: int) -> bool:
    """Whether `msg` (parsed from `size` bytes) held unknown fields; drops them."""
    msg.DiscardUnknownFields()
    return bool(msg.ByteSize() != size)


def _parse(payload: bytes, offset: int) -> Any:
    msg = pb.Snapshot()
    try:
        msg.ParseFromString(payload)
    except Exception:  # upb raises DecodeError; anything else is malformed input too
        # in gicmig's words: protobuf's own differ between runtime versions (5.x names no type)
        raise DecodeError("PAYLOAD-MALFORMED",
                          "protobuf parse failed: the wire format of gicmig.v1.Snapshot "
                          "is corrupt", offset=offset) from None
    return msg


def unknown_fields(msg: Any, path: str = "") -> Iterator[str]:
    """`path#number` for every field `msg` (recursively) holds that the schema lacks."""
    from google.protobuf.unknown_fields import UnknownFieldSet

    found = UnknownFieldSet(msg)
    for i in range(len(found)):
        yield f"{path or '(top)'}#{found[i].field_number}"
    for desc, value in msg.ListFields():
        if desc.message_type is None:
            continue
        name = f"{path}.{desc.name}" if path else desc.name
        if is_repeated(desc):
            for i, item in enumerate(value):
                yield from unknown_fields(item, f"{name}[{i}]")
        else:
            yield from unknown_fields(value, name)


@dataclass(frozen=True)
class BlobInfo:
    header: envelope.Header
    provenance: Provenance
    num_cpus: int
    num_irqs: int
    unknown_fields: tuple[str, ...]
    payload_length: int


def info(blob: bytes) -> BlobInfo:
    """Header and provenance of a blob, also of one written by a newer schema revision.

    >>> i = gicmig.info(gicmig.encode(gicmig.GicState.reset(gicmig.GicConfig.qemu_virt())))
    >>> i.header.schema_revision, i.num_cpus, i.num_irqs
    (3, 2, 288)
    """
    header = envelope.read_header(blob)
    msg = _parse(envelope.payload_of(blob, header), header.header_length)
    return BlobInfo(header, Provenance(msg.provenance), msg.config.num_cpus,
                    msg.config.num_irqs, tuple(unknown_fields(msg)), header.payload_length)
