"""Blob codec: round trips, canonical form, and every way a blob can be damaged."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import states

import gicmig
from gicmig.errors import DecodeError, GicmigError
from gicmig.formats import envelope

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "v1"
BUSY = (V1 / "busy.gicmig").read_bytes()
MAX = (V1 / "max.gicmig").read_bytes()
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(states())
def test_any_valid_state_round_trips_through_a_blob(state: gicmig.GicState) -> None:
    blob = gicmig.encode(state)
    back = gicmig.decode(blob)
    assert back == state
    assert gicmig.encode(back) == blob  # canonical: one state, one encoding


@pytest.mark.parametrize("blob", [BUSY, MAX], ids=["busy", "max"])
def test_every_truncation_is_refused(blob: bytes) -> None:
    for n in range(len(blob)):
        with pytest.raises(DecodeError) as info:
            gicmig.decode(blob[:n])
        assert info.value.code in {"BLOB-TRUNCATED", "BLOB-BAD-MAGIC"}, n


@pytest.mark.parametrize("blob", [BUSY, MAX], ids=["busy", "max"])
def test_every_single_bit_flip_is_detected(blob: bytes) -> None:
    damaged = bytearray(blob)
    for i in range(len(blob)):
        for bit in range(8):
            damaged[i] ^= 1 << bit
            with pytest.raises(GicmigError):
                gicmig.decode(bytes(damaged))
            damaged[i] ^= 1 << bit


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_give_only_gicmig_errors(data: bytes) -> None:
    with pytest.raises(GicmigError):
        gicmig.decode(data)


@SETTINGS
@given(st.binary(max_size=600))
def test_random_payloads_behind_a_valid_envelope_give_only_gicmig_errors(payload: bytes) -> None:
    try:
        state = gicmig.decode(envelope.pack(payload, 1))
    except GicmigError:
        return
    assert gicmig.encode(state)[32:] == payload  # accepted => it was canonical


def test_a_huge_length_is_refused_before_reading_it() -> None:
    head = bytearray(BUSY[:32])
    struct.pack_into("<I", head, 20, 0xFFFF_FFF0)
    struct.pack_into("<I", head, 28, envelope.crc32c(bytes(head[:28])))
    with pytest.raises(DecodeError) as info:
        gicmig.decode(bytes(head))  # only the header: the payload was never there
    assert (info.value.code, info.value.offset) == ("BLOB-TOO-LARGE", 20)


def _with_unknown_field(revision: int = 1) -> bytes:
    payload = BUSY[32:] + bytes([0xF8, 0x01, 0x07])  # field 31, varint 7
    return envelope.pack(payload, revision)


def test_unknown_fields_are_refused_by_number() -> None:
    with pytest.raises(DecodeError) as info:
        gicmig.decode(_with_unknown_field())
    assert info.value.code == "PAYLOAD-UNKNOWN-FIELDS"
    assert "#31" in info.value.message


def test_allow_unknown_keeps_the_unknown_fields_of_a_newer_revision() -> None:
    blob = _with_unknown_field(revision=99)
    state = gicmig.decode(blob, allow_unknown=True)
    assert gicmig.encode(state) == blob  # nothing dropped


def test_two_encodings_of_one_state_are_impossible() -> None:
    state = gicmig.decode(BUSY)
    msg = state._pb
    prov = msg.provenance.SerializeToString()
    rest = type(msg)()
    rest.CopyFrom(msg)
    rest.ClearField("provenance")
    moved = rest.SerializeToString(deterministic=True) + b"\x0a" + bytes([len(prov)]) + prov
    with pytest.raises(DecodeError) as info:
        gicmig.decode(envelope.pack(moved, 1))
    assert info.value.code == "PAYLOAD-NOT-CANONICAL"


def test_decode_reports_offsets() -> None:
    bad = bytearray(BUSY)
    bad[-1] ^= 0xFF
    with pytest.raises(DecodeError) as info:
        gicmig.decode(bytes(bad))
    assert info.value.code == "BLOB-PAYLOAD-CHECKSUM" and info.value.offset == 24


def test_info_reads_a_newer_revision() -> None:
    payload = BUSY[32:] + bytes([0xF8, 0x01, 0x07])
    blob = envelope.pack(payload, 99)
    with pytest.raises(DecodeError) as info:
        gicmig.decode(blob)
    assert info.value.code == "BLOB-SCHEMA-NEWER"
    i = gicmig.info(blob)
    assert i.header.schema_revision == 99
    assert i.provenance.source == "fixture" and i.unknown_fields == ("(top)#31",)
