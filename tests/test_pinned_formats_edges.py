"""Pinned edges of the schema-revision writer that the large mutation sample found
unpinned (docs/testing.md): revisions are numbered 1..SCHEMA_REVISION (3 today)."""

from __future__ import annotations

import pytest

from gicmig.core.model import GicConfig, GicState
from gicmig.errors import GicmigError
from gicmig.formats.revisions import check_revision, lost_fields


@pytest.mark.parametrize(("revision", "ok"), [(0, False), (1, True), (3, True), (4, False)])
def test_schema_revisions_are_1_to_3(revision: int, ok: bool) -> None:
    st = GicState.reset(GicConfig(1, 64))
    if ok:
        check_revision(st, revision)
        assert lost_fields(st, revision) == []
        return
    with pytest.raises(GicmigError) as info:
        check_revision(st, revision)
    assert info.value.code == "SCHEMA-REVISION-UNKNOWN"
    assert info.value.message == (f"schema revision {revision} is not one of this gicmig's "
                                  "1..3")


def test_a_revision_3_field_is_lost_in_revision_2_only() -> None:
    st = GicState.reset(GicConfig(1, 64))
    st.shared.latch_maybe_stale = 0  # revision 3's field, unset: nothing lost
    assert lost_fields(st, 2) == [] and lost_fields(st, 1) == []


def test_lock_manifest_path() -> None:
    from pathlib import Path

    from gicmig.formats.locked import MANIFEST_NAME, manifest_path

    assert manifest_path(Path("/locks"), 3) == Path("/locks/schema-revision-3.json")
    assert MANIFEST_NAME.match(manifest_path(Path("."), 12).name)


def test_diff_of_an_lr_that_changes_layout() -> None:
    """GICH_LR HW=0 (CPUID, EOI) vs HW=1 (PhysicalID): a field one side lacks shows as '-'."""
    import gicmig

    a = GicState.reset(GicConfig(1, 64, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False,
                                 num_lrs=4))
    b = a.copy()
    a.virtual[0].lr = (0x1008_0420, 0, 0, 0)  # pending, EOI, CPUID 1, vID 32
    b.virtual[0].lr = (0x9000_6C1B, 0, 0, 0)  # pending, HW, PhysicalID 27, vID 27
    assert [str(c) for c in gicmig.diff(a, b)] == [
        "cpu0 gich.lr0.virtual_id: 32 -> 27", "cpu0 gich.lr0.cpuid: 1 -> -",
        "cpu0 gich.lr0.physical_id: - -> 27", "cpu0 gich.lr0.eoi: 1 -> -",
        "cpu0 gich.lr0.hw: 0 -> 1"]


def test_fixture_ctlr_flags_pack_to_the_gicc_ctlr_bits() -> None:
    """fixtures/v1/busy.json cpu0: EnableGrp0 [0], EnableGrp1 [1], AckCtl [2], FIQEn [3] =
    0x0f, as GICC_CTLR names them."""
    from pathlib import Path

    from gicmig.formats.fixture import from_json

    st = from_json((Path(__file__).resolve().parents[1] / "fixtures" / "v1"
                    / "busy.json").read_bytes())
    assert st.cpu[0].ctlr == 0x0F


def test_proto_digest_covers_file_names(tmp_path: object) -> None:
    from pathlib import Path

    from gicmig.core.pb import proto_digest

    root = Path(str(tmp_path))
    (root / "a").mkdir()
    (root / "b").mkdir()
    (root / "a" / "x.proto").write_text("syntax = 'proto3';")
    (root / "b" / "y.proto").write_text("syntax = 'proto3';")
    assert proto_digest(root / "a") != proto_digest(root / "b")


def test_no_locks_folder_is_no_locks_when_allowed(tmp_path: object) -> None:
    from pathlib import Path

    from gicmig.formats.locked import LockRecord, list_locks

    missing = Path(str(tmp_path)) / "none"
    assert list_locks(missing, LockRecord, missing_ok=True) == []
    with pytest.raises(GicmigError) as info:
        list_locks(missing, LockRecord)
    assert info.value.code == "IO-READ"


def _virtual_doc(**hcr: object) -> bytes:
    import json

    from gicmig.formats.fixture_write import state_to_doc

    st = GicState.reset(GicConfig(1, 64, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False,
                                  num_lrs=4))
    doc = state_to_doc(st)
    doc["cpus"][0]["virtual"]["hcr"] = hcr
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("hcr", "value"), [
    ({"en": 1}, 0x1), ({"eoicount": 31}, 0xF800_0000), ({"eoicount": "0x1f"}, 0xF800_0000),
    ({"en": 1, "uie": 1, "npie": 1}, 0x0000_000B)])
def test_fixture_hcr_fields_pack_to_the_gich_hcr_bits(hcr: dict[str, object],
                                                      value: int) -> None:
    """GICH_HCR (gic-domain.md §3.2): En [0], UIE [1], NPIE [3], EOICount [31:27]."""
    from gicmig.formats.fixture import from_json

    assert from_json(_virtual_doc(**hcr)).virtual[0].hcr == value


@pytest.mark.parametrize(("hcr", "text"), [
    ({"bogus": 1}, "cpus.0.virtual.hcr.bogus: GICH_HCR has no field 'bogus'"),
    ({"en": 2}, "cpus.0.virtual.hcr.en: En holds 1 bits, not 0x2"),
    ({"eoicount": 32}, "cpus.0.virtual.hcr.eoicount: EOICount holds 5 bits, not 0x20"),
    ({"eoicount": "0x1G"}, "cpus.0.virtual.hcr.eoicount: '0x1G' is not a 0x... hex number"),
    ({"eoicount": "0x"}, "cpus.0.virtual.hcr.eoicount: '0x' is not a 0x... hex number")])
def test_fixture_hcr_refuses_what_gich_hcr_cannot_hold(hcr: dict[str, object],
                                                       text: str) -> None:
    """An unknown field name, a value wider than its field or a malformed hex string is
    refused at its key, never dropped."""
    from gicmig.formats.fixture import from_json

    with pytest.raises(GicmigError) as info:
        from_json(_virtual_doc(**hcr))
    assert info.value.code == "JSON-SCHEMA"
    assert info.value.message.startswith(text)


@pytest.mark.parametrize("register", ["hcr", "vmcr"])
def test_an_unknown_gich_field_name_is_quoted_whole(register: str) -> None:
    """The name keeps both quotes: a KeyError's str() is its quoted repr, and stripping
    quotes from that once ate the closing one ("GICH_HCR has no field 'Bogus")."""
    import json

    from gicmig.formats.fixture import from_json

    doc = json.loads(_virtual_doc())
    doc["cpus"][0]["virtual"][register]["Bogus"] = 1
    with pytest.raises(GicmigError) as info:
        from_json(json.dumps(doc).encode())
    assert (info.value.code, info.value.message) == (
        "JSON-SCHEMA",
        f"cpus.0.virtual.{register}.Bogus: GICH_{register.upper()} has no field 'Bogus'")


@pytest.mark.parametrize(("given", "shown"), [
    ("0123456789" * 4, "0123456789" * 4),
    ("0123456789" * 4 + "X", "0123456789" * 3 + "0123456..."),
])
def test_a_fixture_message_shows_a_string_of_at_most_40_characters(given: str,
                                                                   shown: str) -> None:
    import json

    from gicmig.formats.fixture import from_json
    from gicmig.formats.fixture_write import state_to_doc

    doc = state_to_doc(GicState.reset(GicConfig(1, 64)))
    doc["config"]["num_cpus"] = given
    with pytest.raises(GicmigError) as info:
        from_json(json.dumps(doc).encode())
    assert info.value.message == (f'config.num_cpus: must be an integer, not the string '
                                  f'"{shown}"')


def test_decode_without_validation_returns_the_state_as_written() -> None:
    """validate_state=False stops after the integrity checks: a state that breaks a rule
    (SGI 0 of cpu1 level-triggered, SGI-NOT-EDGE) comes back as written, revision kept."""
    from gicmig.formats import envelope
    from gicmig.formats.codec import decode

    st = GicState.reset(GicConfig(2, 64))
    st.banked[1].edge = 0xFFFE
    blob = envelope.pack(st._pb.SerializeToString(deterministic=True), 2)
    back = decode(blob, validate_state=False)
    assert isinstance(back, GicState) and back.schema_revision == 2
    assert back.banked[1].edge == 0xFFFE and back == st
    with pytest.raises(GicmigError) as info:
        decode(blob)
    assert info.value.code == "SGI-NOT-EDGE"


@pytest.mark.parametrize(("keys", "more"), [
    (["num_cpus"], ""), (["num_cpus", "num_irqs"], " (+1 more)"),
    (["num_cpus", "num_irqs", "min_bpr"], " (+2 more)")])
def test_a_fixture_shape_error_counts_the_others(keys: list[str], more: str) -> None:
    import json

    from gicmig.formats.fixture import from_json
    from gicmig.formats.fixture_write import state_to_doc

    doc = state_to_doc(GicState.reset(GicConfig(1, 64)))
    for key in keys:
        doc["config"][key] = "x"
    with pytest.raises(GicmigError) as info:
        from_json(json.dumps(doc).encode())
    assert info.value.message == ('config.num_cpus: must be an integer, not the string "x"'
                                  + more)
    assert [v.path for v in info.value.violations] == [  # type: ignore[attr-defined]
        f"config.{k}" for k in keys]


@pytest.mark.parametrize(("value", "shown"), [
    (b"\x01", "01"), (bytes(7) + b"\x01", "0000000000000001"), (bytes(8) + b"\x01", "9 bytes")])
def test_a_lost_bytes_field_shows_up_to_8_bytes_in_hex(value: bytes, shown: str) -> None:
    """latch_maybe_stale (state.shared field 11) arrived in revision 3: writing revision 2
    loses it, and the message shows its bytes in hex up to 8 bytes, else their count."""
    st = GicState.reset(GicConfig(1, 64))
    st._pb.state.shared.latch_maybe_stale = value
    assert [str(x) for x in lost_fields(st, 2)] == [
        f"state.shared.latch_maybe_stale (field 11) = {shown}"]


@pytest.mark.parametrize("good", [3, 4, 5, 7])
def test_a_blob_is_sniffed_by_its_first_4_magic_bytes(good: int) -> None:
    """Any input starting with the magic's first 4 bytes (0x89 'GIC') is read as a blob,
    so a damaged magic is named as such (BLOB-BAD-MAGIC at its first wrong byte), not as
    an unknown format."""
    import gicmig
    from gicmig.formats.envelope import MAGIC
    from gicmig.formats.io import sniff

    data = MAGIC[:good] + b"X" * 60
    if good < 4:  # 0x89 'GI' and then another byte: not a blob
        assert sniff(data) == "unknown"
        return
    assert sniff(data) == "blob"
    with pytest.raises(GicmigError) as info:
        gicmig.load(data)
    assert (info.value.code, info.value.offset) == ("BLOB-BAD-MAGIC", good)  # type: ignore[attr-defined]


def test_proto_digest_covers_file_contents(tmp_path: object) -> None:
    from pathlib import Path

    from gicmig.core.pb import proto_digest

    root = Path(str(tmp_path))
    for name, text in (("a", "syntax = 'proto3';"), ("b", "syntax = 'proto2';")):
        (root / name).mkdir()
        (root / name / "x.proto").write_text(text)
    assert proto_digest(root / "a") != proto_digest(root / "b")


@pytest.mark.parametrize("place", ["cpus.0.interface.pmr", "cpus[0].interface.pmr",
                                   "cpu0 gicc.pmr"])
def test_a_shape_error_place_under_cpus_n_is_located_in_that_cpus_entry(place: str) -> None:
    """pydantic names cpus.0 by list index, the rules by `cpu0`: both lead to the entry
    whose "cpu" is 0 in fixtures/v1/busy.json (pmr 0xf0; cpu1's is 0xf8), never to a key
    "0" further on (cpu1's SGI 0)."""
    from pathlib import Path

    from gicmig.formats.fixture_locate import locate

    text = (Path(__file__).resolve().parents[1] / "fixtures" / "v1" / "busy.json").read_text()
    where = locate(text, place)
    assert where is not None
    line, col = where
    assert text.splitlines()[line - 1][col - 1:].startswith('"pmr": "0xf0"')


# three cpus entries; cpus[1] says "cpu": 0 (the JSON-SCHEMA "cpus.1.cpu" error) and holds
# a string with a comma and brackets, which must not count as a list separator
_CPUS_TEXT = """{
  "cpus": [
    {"cpu": 0, "interface": {"pmr": "0xf0"}},
    {"note": "a, b]}", "cpu": 0,
     "interface": {"pmr": "0xf8"}},
    {"cpu": 2, "interface": {"pmr": "0xf4"}}
  ]
}"""


@pytest.mark.parametrize(("place", "where"), [
    ("cpus.1.cpu", (4, 24)), ("cpus[1].cpu", (4, 24)), ("cpus.0.cpu", (3, 6)),
    ("cpus.2.cpu", (6, 6)), ("cpus.1", (4, 5)), ("cpus.1.interface.pmr", (5, 20)),
    ("cpu2 gicc.pmr", (6, 30)), ("cpus.3.cpu", (2, 3))])
def test_a_place_under_cpus_n_is_located_in_the_nth_cpus_entry(
        place: str, where: tuple[int, int]) -> None:
    """cpus.N is the N-th entry of the list, whatever its "cpu" says, and a key under it
    is searched from that entry's start: "cpus.1.cpu" is cpus[1]'s own "cpu" key, not the
    next entry's (nor cpus[0]'s "cpu": 0). A missing entry falls back to "cpus"."""
    from gicmig.formats.fixture_locate import locate

    assert locate(_CPUS_TEXT, place) == where


def test_cpus_1_cpu_in_an_ordered_list_is_not_the_next_entrys_cpu_key() -> None:
    """With the entries in order, "cpus.1.cpu" once found `"cpu": 1` and then searched on
    for a "cpu" key, landing on cpus[2]'s (line 6)."""
    from gicmig.formats.fixture_locate import locate

    text = _CPUS_TEXT.replace('"a, b]}", "cpu": 0', '"a, b]}", "cpu": 1')
    assert locate(text, "cpus.1.cpu") == (4, 24)


@pytest.mark.parametrize("cpu", [0, 1])
def test_a_shape_error_in_the_first_list_entry_is_named_by_its_index(cpu: int) -> None:
    import json

    from gicmig.formats.fixture import from_json
    from gicmig.formats.fixture_write import state_to_doc

    doc = state_to_doc(GicState.reset(GicConfig(2, 64)))
    doc["cpus"][cpu]["interface"] = {"pmr": "x"}
    with pytest.raises(GicmigError) as info:
        from_json(json.dumps(doc).encode())
    assert info.value.message == f"cpus.{cpu}.interface.pmr: 'x' is not a 0x... hex number"


@pytest.mark.parametrize(("named", "recorded", "ok"), [(3, 3, True), (3, 2, False),
                                                       (2, 3, False)])
def test_a_lock_manifest_records_the_revision_its_name_says(tmp_path: object, named: int,
                                                            recorded: int, ok: bool) -> None:
    import json
    from pathlib import Path

    from gicmig.formats.locked import LockRecord, manifest_path, read_lock

    path = manifest_path(Path(str(tmp_path)), named)
    path.write_text(json.dumps({"revision": recorded, "files": ["gicmig.proto"],
                                "sha256": "0" * 64}))
    if ok:
        lock = read_lock(path, LockRecord)
        assert (lock.revision, lock.files) == (recorded, ("gicmig.proto",))
        return
    with pytest.raises(GicmigError) as info:
        read_lock(path, LockRecord)
    assert (info.value.code, info.value.message) == (
        "SCHEMA-LOCK-CORRUPT", f"{path}: records revision {recorded}, its name says otherwise")


def test_an_unknown_ctlr_flag_lists_the_gicc_ctlr_bits() -> None:
    """GICC_CTLR's one-bit fields, in bit order (gic-domain.md §2.2): bits 0-9."""
    import json

    from gicmig.formats.fixture import from_json
    from gicmig.formats.fixture_write import state_to_doc

    doc = state_to_doc(GicState.reset(GicConfig(1, 64)))
    doc["cpus"][0]["interface"] = {"ctlr": ["bogus"]}
    with pytest.raises(GicmigError) as info:
        from_json(json.dumps(doc).encode())
    assert info.value.message == (
        "cpus.0.interface.ctlr: 'bogus' is not a GICC_CTLR bit (enable_grp0, enable_grp1, "
        "ack_ctl, fiq_en, cbpr, fiq_byp_dis_grp0, irq_byp_dis_grp0, fiq_byp_dis_grp1, "
        "irq_byp_dis_grp1, eoi_mode)")


def test_fixture_lrs_may_start_empty_but_not_end_empty() -> None:
    import json

    from gicmig.formats.fixture import from_json
    from gicmig.formats.fixture_write import state_to_doc

    st = GicState.reset(GicConfig(1, 64, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False,
                                  num_lrs=4))
    st.virtual[0].hcr, st.virtual[0].lr = 1, (0, 0x1000_0020, 0, 0)  # LR1: SPI 32 pending
    doc = state_to_doc(st)
    assert doc["cpus"][0]["virtual"]["lr"] == [
        {"state": "invalid"}, {"state": "pending", "virtual_id": 32}]
    assert from_json(json.dumps(doc).encode()).virtual[0].lr == (0, 0x1000_0020, 0, 0)
    doc["cpus"][0]["virtual"]["lr"].append({})
    with pytest.raises(GicmigError) as info:
        from_json(json.dumps(doc).encode())
    assert info.value.message == ("cpus.0.virtual.lr: ends in an empty LR {}: trailing empty "
                                  "LRs are omitted")


@pytest.mark.parametrize(("priority", "problem"), [("0xff", None),
                                                   ("0x100", "0x100 is wider than 8 bits")])
def test_a_fixture_priority_is_one_byte(priority: str, problem: str | None) -> None:
    import json

    from gicmig.formats.fixture import from_json
    from gicmig.formats.fixture_write import state_to_doc

    doc = state_to_doc(GicState.reset(GicConfig(1, 64)))
    doc["cpus"][0]["irqs"] = {"27": {"priority": priority}}
    if problem is None:
        assert from_json(json.dumps(doc).encode()).banked[0].priority[27] == 0xFF
        return
    with pytest.raises(GicmigError) as info:
        from_json(json.dumps(doc).encode())
    assert info.value.message == f"cpus.0.irqs.27.priority: {problem}"


@pytest.mark.parametrize(("head", "kind"), [
    (b"QEVM\x00\x00\x00\x03", "qemu"), (b"QEV", "unknown"), (b"  {", "json"),
    (b"\xef\xbb\xbf{", "json"), (b"[", "unknown"), (b"", "unknown")])
def test_sniff_names_each_input_kind_by_its_first_bytes(head: bytes, kind: str) -> None:
    """QEMU's stream magic 'QEVM'; a JSON object, after whitespace or a BOM (refused later
    by the JSON reader, with its own message)."""
    from gicmig.formats.io import sniff

    assert sniff(head) == kind
