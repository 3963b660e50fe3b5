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
