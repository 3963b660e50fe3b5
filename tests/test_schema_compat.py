"""Blob-level compatibility between schema revisions: old fixtures decode forever, a
revision-2 blob downgrades exactly when revision 1 loses nothing, newer blobs keep (and
name) the fields this gicmig does not know."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import states

import gicmig
from gicmig.cli import main
from gicmig.core.config import GicConfig
from gicmig.core.model import SCHEMA_REVISION, GicState
from gicmig.core.pb import pb
from gicmig.errors import GicmigError
from gicmig.formats import envelope
from gicmig.schemacheck import blobcompat

ROOT = Path(__file__).resolve().parents[1]
V1, V2 = ROOT / "fixtures" / "v1", ROOT / "fixtures" / "v2"
V1_BLOBS = sorted(V1.glob("*.gicmig"))


# --- revision-1 fixtures decode forever ---------------------------------------------------
@pytest.mark.parametrize("path", V1_BLOBS, ids=[p.stem for p in V1_BLOBS])
def test_v1_fixtures_decode_forever_and_stay_revision_1(path: Path) -> None:
    blob = path.read_bytes()
    state = gicmig.decode(blob)
    assert state.schema_revision == 1 and not state.enable_grp1_unknown
    assert gicmig.encode(state) == blob  # re-encoded as revision 1, byte for byte
    assert blobcompat.lost_fields(state, 1) == []


def test_there_are_v1_fixtures() -> None:
    assert len(V1_BLOBS) >= 3


# --- revision-2 fixtures -------------------------------------------------------------------
def test_v2_fixture_with_revision_1_content_downgrades_to_the_v1_bytes(tmp_path: Path) -> None:
    blob = (V2 / "busy-rev1-content.gicmig").read_bytes()
    assert gicmig.info(blob).header.schema_revision == 2
    out = tmp_path / "down.gicmig"
    assert main(["encode", "--revision", "1", str(V2 / "busy-rev1-content.gicmig"),
                 "-o", str(out)]) == 0
    assert out.read_bytes() == (V1 / "busy.gicmig").read_bytes()
    assert main(["compat", str(V2 / "busy-rev1-content.gicmig"), "--revision", "1"]) == 0


def test_v2_fixture_json_round_trips() -> None:
    state = gicmig.load(V2 / "busy-rev1-content.json")
    assert state.schema_revision == 2
    assert gicmig.encode(state) == (V2 / "busy-rev1-content.gicmig").read_bytes()


def test_v2_fixture_with_the_new_field_is_refused_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = V2 / "kvm-grp1-unknown.gicmig"
    state = gicmig.decode(src.read_bytes())
    assert state.enable_grp1_unknown and state.enable_grp0 and not state.enable_grp1
    out = tmp_path / "down.gicmig"
    assert main(["encode", "--revision", "1", str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "BLOB-REVISION-LOSSY" in err and "state.enable_grp1_unknown (field 7)" in err
    assert not out.exists()
    assert main(["compat", "--format", "json", str(src), "--revision", "1"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["lossless"] is False
    assert doc["lost"] == [{"path": "state.enable_grp1_unknown", "number": 7, "value": "true"}]
    assert main(["compat", str(src), "--revision", "2"]) == 0


def test_new_field_survives_the_json_fixture() -> None:
    state = gicmig.decode((V2 / "kvm-grp1-unknown.gicmig").read_bytes())
    assert gicmig.from_json(gicmig.to_json(state)).enable_grp1_unknown


# --- the rule of revision 2 ------------------------------------------------------------------
def test_unknown_grp1_must_be_stored_as_zero() -> None:
    s = GicState.reset(GicConfig.qemu_virt())
    s.enable_grp1_unknown = s.enable_grp1 = True
    assert [v.code for v in gicmig.check(s)] == ["DIST-GRP1-UNKNOWN-SET"]
    s.enable_grp1 = False
    assert gicmig.check(s) == []


def test_new_states_are_the_newest_revision() -> None:
    assert GicState.reset(GicConfig.qemu_virt()).schema_revision == SCHEMA_REVISION == 3


@settings(max_examples=60, deadline=None)
@given(states(), st.booleans())
def test_downgrade_is_lossless_iff_nothing_new_is_set(state: GicState, unknown: bool) -> None:
    for b in state.banked:  # revision 3's marker: tests/test_stale_latch.py
        b.latch_maybe_stale = 0
    state.shared.latch_maybe_stale = 0
    state.enable_grp1_unknown = unknown
    if unknown:
        state.enable_grp1 = False
    blob = gicmig.encode(state)
    if unknown:
        with pytest.raises(GicmigError) as exc:
            blobcompat.as_revision(state, 1)
        assert exc.value.code == "BLOB-REVISION-LOSSY"
        return
    old = blobcompat.as_revision(state, 1)
    old_blob = gicmig.encode(old)
    assert old_blob[32:] == blob[32:]  # same payload, only the header revision differs
    back = gicmig.decode(old_blob)
    assert back == state and back.schema_revision == 1


# --- a blob whose header and payload disagree ------------------------------------------------
def test_revision_1_header_with_a_revision_2_field_is_refused() -> None:
    blob = (V2 / "kvm-grp1-unknown.gicmig").read_bytes()
    header = envelope.read_header(blob)
    forged = envelope.pack(envelope.payload_of(blob, header), 1)
    with pytest.raises(GicmigError) as exc:
        gicmig.decode(forged)
    assert exc.value.code == "BLOB-REVISION-MISMATCH" and exc.value.offset == 32
    assert "enable_grp1_unknown" in exc.value.message


# --- blobs from a newer revision -----------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def newer_blob() -> bytes:
    """A revision-4 blob: GicState gained field 9 and Snapshot field 20."""
    base = gicmig.decode((V2 / "kvm-grp1-unknown.gicmig").read_bytes())._pb
    head = pb.Snapshot()
    head.provenance.CopyFrom(base.provenance)
    head.config.CopyFrom(base.config)
    state = base.state.SerializeToString(deterministic=True) + b"\x48\x01"  # field 9 = 1
    payload = (head.SerializeToString(deterministic=True) + b"\x1a" + _varint(len(state))
               + state + b"\xa0\x01\x01")  # field 20 = 1
    return envelope.pack(payload, 4)


def test_newer_blob_is_refused_by_default_and_names_fields_when_allowed() -> None:
    blob = newer_blob()
    with pytest.raises(GicmigError) as exc:
        gicmig.decode(blob)
    assert exc.value.code == "BLOB-SCHEMA-NEWER"
    state = gicmig.decode(blob, allow_unknown=True)
    assert state.schema_revision == 4
    assert sorted(gicmig.info(blob).unknown_fields) == ["(top)#20", "state#9"]
    assert gicmig.encode(state) == blob  # kept, re-encoded unchanged


def test_newer_blob_compat_and_downgrade_name_the_unknown_fields(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "newer.gicmig"
    src.write_bytes(newer_blob())
    assert main(["compat", str(src), "--revision", "2"]) == 1
    out = capsys.readouterr().out
    assert "state#9 (field 9)" in out and "(top)#20 (field 20)" in out
    state = gicmig.decode(src.read_bytes(), allow_unknown=True)
    with pytest.raises(GicmigError) as exc:
        blobcompat.as_revision(state, 2)
    assert exc.value.code == "BLOB-REVISION-LOSSY" and "state#9" in exc.value.message


def test_newer_blob_is_not_silently_dropped_by_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "newer.gicmig"
    src.write_bytes(newer_blob())
    out = tmp_path / "newer.json"
    assert main(["decode", "--allow-unknown", str(src), "-o", str(out)]) == 1
    assert "state#9" in capsys.readouterr().err and not out.exists()


# --- usage errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("revision", ["0", "4"])
def test_unknown_revision_is_a_usage_error(revision: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    src = str(V2 / "busy-rev1-content.gicmig")
    assert main(["compat", src, "--revision", revision]) == 2
    assert "SCHEMA-REVISION-UNKNOWN" in capsys.readouterr().err


def test_encode_to_a_revision_newer_than_gicmig_is_refused(tmp_path: Path) -> None:
    assert main(["encode", "--revision", "4", str(V1 / "busy.gicmig"),
                 "-o", str(tmp_path / "x.gicmig")]) == 2
    assert not (tmp_path / "x.gicmig").exists()


INVALID_V2 = sorted((V2 / "invalid").iterdir())


@pytest.mark.parametrize("path", INVALID_V2, ids=[p.stem for p in INVALID_V2])
def test_invalid_v2_fixture_reports_exactly_its_code(path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(GicmigError) as exc:
        gicmig.decode(path.read_bytes())
    assert exc.value.code == path.stem
    assert main(["validate", str(path)]) == 1
    assert path.stem in capsys.readouterr().out


KVM_BLOB = (V2 / "kvm-grp1-unknown.gicmig").read_bytes()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(KVM_BLOB) * 8 - 1), st.integers(0, len(KVM_BLOB)),
       st.sampled_from([1, 2]))
def test_revision_paths_fuzz_bit_flips_and_truncation(bit: int, cut: int, rev: int) -> None:
    flipped = bytearray(KVM_BLOB)
    flipped[bit // 8] ^= 1 << (bit % 8)
    # also past the checksums: the flipped payload under a valid header of either revision
    repacked = envelope.pack(bytes(flipped[32:]) if bit >= 256 else KVM_BLOB[32:cut], rev)
    for data in (bytes(flipped), KVM_BLOB[:cut], repacked):
        for allow in (False, True):
            try:
                state = gicmig.decode(data, allow_unknown=allow)
            except GicmigError:
                continue
            try:
                blobcompat.as_revision(state, rev)
            except GicmigError as exc:
                assert exc.code in ("BLOB-REVISION-LOSSY", "SCHEMA-REVISION-UNKNOWN")
