"""Locked schema revisions, `gicmig schema lock|check` on gicmig's own schema, waivers,
and the readers of locks, descriptor sets and waiver files under fuzzing."""

from __future__ import annotations

import contextlib
import datetime
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gicmig.cli import main
from gicmig.core.model import SCHEMA_REVISION
from gicmig.errors import GicmigError
from gicmig.schemacheck import locks, sources, waivers
from gicmig.schemacheck.check import check_schema

ROOT = Path(__file__).resolve().parents[1]
PROTO = ROOT / "proto"
GICMIG_PROTO = "gicmig/v1/gicmig.proto"


def copy_proto(tmp: Path) -> Path:
    shutil.copytree(PROTO, tmp / "proto")
    return tmp / "proto" / GICMIG_PROTO


# --- the locks gicmig ships -------------------------------------------------------------
def test_revisions_1_and_2_are_locked_and_newest_is_what_gicmig_writes() -> None:
    found = locks.list_locks()
    assert [lk.revision for lk in found] == list(range(1, SCHEMA_REVISION + 1))
    assert SCHEMA_REVISION >= 2
    for lk in found:
        assert lk.files == (GICMIG_PROTO,)
        assert lk.schema().fds.file[0].source_code_info.location  # line/col available


def test_proto_dir_is_the_newest_lock() -> None:
    # a change to proto/ must come with a new lock and a SCHEMA_REVISION bump
    newest = locks.list_locks()[-1].schema()
    assert locks.same_schema(sources.compile_dir(PROTO).fds, newest.fds)


def test_revision_2_only_adds_enable_grp1_unknown() -> None:
    old, new = (locks.get_lock(r).schema().fds.file[0] for r in (1, 2))
    fields = {m.name: {f.number: f.name for f in m.field} for m in old.message_type}
    added = [(m.name, f.number, f.name) for m in new.message_type for f in m.field
             if f.number not in fields[m.name]]
    assert added == [("GicState", 7, "enable_grp1_unknown")]


def test_revision_3_only_adds_the_maybe_stale_latch_markers() -> None:
    old, new = (locks.get_lock(r).schema().fds.file[0] for r in (2, 3))
    fields = {m.name: {f.number: f.name for f in m.field} for m in old.message_type}
    added = [(m.name, f.number, f.name) for m in new.message_type for f in m.field
             if f.number not in fields[m.name]]
    assert added == [("BankedInterrupts", 11, "latch_maybe_stale"),
                     ("SharedInterrupts", 11, "latch_maybe_stale")]


def test_repo_schema_checks_clean_against_every_lock(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["schema", "check"]) == 0
    err = capsys.readouterr().err
    assert "0 breaking" in err and "revision 1, revision 2, revision 3" in err


def test_lock_is_noop_when_unchanged(tmp_path: Path) -> None:
    d = tmp_path / "locks"
    shutil.copytree(locks.DEFAULT_DIR, d)
    assert locks.lock_next(PROTO, d) is None
    assert sorted(p.name for p in d.iterdir()) == sorted(p.name for p in
                                                         locks.DEFAULT_DIR.iterdir())


def test_lock_appends_a_compatible_revision(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "locks"
    shutil.copytree(locks.DEFAULT_DIR, d)
    proto = copy_proto(tmp_path)
    proto.write_text(proto.read_text().replace(
        "bool enable_grp1_unknown = 7;", "bool enable_grp1_unknown = 7;\n  uint32 spare = 8;"))
    assert main(["schema", "lock", "--locks", str(d), str(tmp_path / "proto")]) == 0
    assert "locked schema revision 4" in capsys.readouterr().out
    assert [lk.revision for lk in locks.list_locks(d)] == [1, 2, 3, 4]
    assert locks.get_lock(4, d).schema().fds.file[0].name == GICMIG_PROTO


def test_lock_refuses_a_breaking_change(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "locks"
    shutil.copytree(locks.DEFAULT_DIR, d)
    proto = copy_proto(tmp_path)
    proto.write_text(proto.read_text().replace("uint32 pmr = 2;", "uint64 pmr = 2;"))
    assert main(["schema", "lock", "--locks", str(d), str(tmp_path / "proto")]) == 1
    out = capsys.readouterr()
    assert "FIELD_WIRE_JSON_COMPATIBLE_TYPE" in out.out and "SCHEMA-BREAKING" in out.err
    assert len(locks.list_locks(d)) == 3


def test_first_lock_of_a_new_proto_set(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.proto").write_text('syntax = "proto3";\nmessage A { int32 x = 1; }\n')
    lk = locks.lock_next(tmp_path / "p", tmp_path / "l", datetime.date(2026, 1, 2))
    assert lk is not None and lk.revision == 1 and lk.locked == "2026-01-02"
    assert locks.load_schema(lk.descriptor_path).revision == 1  # a lock file loads as its lock


# --- corrupt locks ----------------------------------------------------------------------
def test_edited_lock_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "locks"
    shutil.copytree(locks.DEFAULT_DIR, d)
    blob = d / "schema-revision-1.binpb"
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    with pytest.raises(GicmigError) as exc:
        locks.get_lock(1, d).schema()
    assert exc.value.code == "SCHEMA-LOCK-CORRUPT"


def test_missing_revision_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "locks"
    shutil.copytree(locks.DEFAULT_DIR, d)
    (d / "schema-revision-1.json").unlink()
    with pytest.raises(GicmigError) as exc:
        locks.list_locks(d)
    assert exc.value.code == "SCHEMA-LOCK-CORRUPT" and "revision 1 is missing" in str(exc.value)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_manifest_reader_fuzz(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "schema-revision-1.json"
        path.write_bytes(data)
        with contextlib.suppress(GicmigError):
            locks.read_lock(path)


# --- descriptor-set reader ---------------------------------------------------------------
LOCK1 = (locks.DEFAULT_DIR / "schema-revision-1.binpb").read_bytes()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_descriptor_set_reader_fuzz_random(data: bytes) -> None:
    try:
        sources.parse_fds(data, "fuzz")
    except GicmigError as exc:
        assert exc.code == "SCHEMA-INPUT"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(LOCK1) * 8 - 1), st.integers(0, len(LOCK1)))
def test_descriptor_set_reader_fuzz_bit_flips_and_truncation(bit: int, cut: int) -> None:
    flipped = bytearray(LOCK1)
    flipped[bit // 8] ^= 1 << (bit % 8)
    for data in (bytes(flipped), LOCK1[:cut]):
        try:
            schema = sources.Schema(sources.parse_fds(data, "fuzz"), frozenset(), "fuzz")
        except GicmigError as exc:
            assert exc.code == "SCHEMA-INPUT"
            continue
        own = frozenset(f.name for f in schema.fds.file)
        # whatever still loads must also be checkable
        check_schema(sources.Schema(schema.fds, own, "fuzz"),
                     [locks.get_lock(1).schema()])


# --- waivers ----------------------------------------------------------------------------
def write_waivers(path: Path, *items: dict[str, str]) -> Path:
    path.write_text(json.dumps({"waivers": list(items)}))
    return path


def broken_schema(tmp_path: Path) -> Path:
    proto = copy_proto(tmp_path)
    proto.write_text(proto.read_text().replace("bool enable_grp1 = 2;",
                                               "bool enable_group1 = 2;"))
    return tmp_path / "proto"


def test_waived_findings_are_shown_and_do_not_fail(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    w = write_waivers(tmp_path / "w.json",
                      {"rule": "FIELD_SAME_NAME", "element": "gicmig.v1.GicState.enable_grp1",
                       "reason": "rename approved in review"},
                      {"rule": "FIELD_SAME_JSON_NAME",
                       "element": "gicmig.v1.GicState.enable_grp1",
                       "reason": "rename approved in review", "expires": "2999-12-31"})
    assert main(["schema", "check", "--waivers", str(w), str(broken_schema(tmp_path))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all("[waived" in line for line in out)
    assert "waived until 2999-12-31: rename approved in review" in out[1] + out[0]


def test_partial_waiver_still_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = write_waivers(tmp_path / "w.json",
                      {"rule": "FIELD_SAME_NAME", "element": "gicmig.v1.GicState.enable_grp1",
                       "reason": "only the name"})
    assert main(["schema", "check", "--format", "json", "--waivers", str(w),
                 str(broken_schema(tmp_path))]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert (doc["breaking"], doc["waived"]) == (1, 1)


def test_expired_waiver_fails_and_waives_nothing(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    w = write_waivers(tmp_path / "w.json",
                      {"rule": "FIELD_SAME_NAME", "element": "gicmig.v1.GicState.enable_grp1",
                       "reason": "temporary", "expires": "2020-01-01"})
    assert main(["schema", "check", "--waivers", str(w), str(PROTO)]) == 1  # clean schema
    out = capsys.readouterr().out
    assert "SCHEMA-WAIVER-EXPIRED waiver 1 (FIELD_SAME_NAME" in out and "2020-01-01" in out
    assert main(["schema", "check", "--format", "json", "--waivers", str(w), str(PROTO)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["expired_waivers"][0]["code"] == "SCHEMA-WAIVER-EXPIRED"
    report = check_schema(sources.compile_dir(broken_schema(tmp_path)),
                          [locks.get_lock(2).schema()], waivers.load(w))
    assert {r.rule for r in report.breaking} == {"FIELD_SAME_NAME", "FIELD_SAME_JSON_NAME"}


def test_waiver_expiring_today_is_still_valid() -> None:
    today = datetime.date(2026, 3, 1)
    w = waivers.Waiver(1, "FIELD_SAME_NAME", "x", "r", today)
    assert not w.expired(today) and w.expired(today + datetime.timedelta(days=1))


@pytest.mark.parametrize("doc", [
    "[]", '{"waivers": {}}', '{"waivers": [], "x": 1}', '{"waivers": [1]}',
    '{"waivers": [{"rule": "NOT_A_RULE", "element": "a", "reason": "b"}]}',
    '{"waivers": [{"rule": "FIELD_SAME_NAME", "element": "", "reason": "b"}]}',
    '{"waivers": [{"rule": "FIELD_SAME_NAME", "element": "a", "reason": "b", "why": 1}]}',
    '{"waivers": [{"rule": "FIELD_SAME_NAME", "element": "a", "reason": "b", '
    '"expires": "next week"}]}',
    "{not json",
])
def test_bad_waiver_files_exit_2(tmp_path: Path, doc: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "w.json").write_text(doc)
    assert main(["schema", "check", "--waivers", str(tmp_path / "w.json"), str(PROTO)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SCHEMA-WAIVER-INVALID" in err[0]


def test_repo_waiver_file_is_valid() -> None:
    assert waivers.load(ROOT / "schema" / "waivers.json") == []


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                    lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.sampled_from(["waivers", "rule", "element", "reason",
                                                       "expires", "x"]), kids, max_size=5),
                    max_leaves=12))
def test_waiver_reader_fuzz(doc: object) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.json"
        path.write_text(json.dumps(doc))
        try:
            waivers.load(path)
        except GicmigError as exc:
            assert exc.code == "SCHEMA-WAIVER-INVALID"


def test_compiling_without_grpcio_tools_is_a_typed_error(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    monkeypatch.setitem(__import__("sys").modules, "grpc_tools", None)  # import fails
    assert main(["schema", "check", str(PROTO)]) == 2
    err = capsys.readouterr().err
    assert "SCHEMA-COMPILER-MISSING" in err and "descriptor set" in err
    assert "pip install 'gicmig[schema]'" in err and len(err.splitlines()) == 1
    # a descriptor set needs no compiler
    assert main(["schema", "check", str(locks.DEFAULT_DIR / "schema-revision-3.binpb")]) == 0
