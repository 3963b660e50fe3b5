"""Validation rules: the fast path and the named rules agree on every state, valid or not;
every rule reports every offender."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import states

import gicmig
from gicmig.core.rules import check, context_for, explain, fast_ok

SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_BANKED_INTS = ("enabled", "group", "edge", "pending_latch", "line_level", "active",
                "pending_split_unknown")
_VECTORS = ("priority", "sgi_sources", "sgi_active_source")
_SHARED = (*_BANKED_INTS, "priority", "targets", "active_cpu")
_CPU = ("ctlr", "pmr", "bpr", "abpr", "active_group0", "active_group1", "active_group_unknown")
_VIRT = ("hcr", "vmcr", "apr")


def _mutate(data: st.DataObject, state: gicmig.GicState) -> None:
    """Overwrite one raw protobuf field with an arbitrary value of its wire type."""
    st_ = state._pb.state
    cpu = data.draw(st.integers(0, state.config.num_cpus - 1))
    part = data.draw(st.sampled_from(["banked", "shared", "cpu", "virtual", "dist"]))
    if part == "banked":
        msg: Any = st_.banked[cpu]
        name = data.draw(st.sampled_from(_BANKED_INTS + _VECTORS))
    elif part == "shared":
        msg, name = st_.shared, data.draw(st.sampled_from(_SHARED))
    elif part == "cpu":
        msg, name = st_.cpu[cpu], data.draw(st.sampled_from(_CPU))
    elif part == "virtual" and len(st_.virtual):
        msg, name = st_.virtual[cpu], data.draw(st.sampled_from((*_VIRT, "lr")))
    else:
        st_.enable_grp1 = True
        st_.enable_grp1_unknown = data.draw(st.booleans())
        return
    if name == "lr":
        del msg.lr[:]
        msg.lr.extend(data.draw(st.lists(st.integers(0, 2**32 - 1), max_size=70)))
    elif isinstance(getattr(msg, name), bytes):
        msg.ClearField(name)
        setattr(msg, name, data.draw(st.binary(max_size=1100)))
    else:
        setattr(msg, name, data.draw(st.integers(0, 2**32 - 1)))


@SETTINGS
@given(states(), st.data())
def test_fast_path_and_named_rules_agree(state: gicmig.GicState, data: st.DataObject) -> None:
    for _ in range(data.draw(st.integers(0, 3))):
        _mutate(data, state)
    msg = state._pb
    ctx = context_for(msg.config.SerializeToString(deterministic=True))
    named = explain(ctx, msg)
    assert fast_ok(ctx, msg) == (not named), named
    assert check(state) == named


@SETTINGS
@given(states())
def test_generated_states_are_valid(state: gicmig.GicState) -> None:
    assert check(state) == []


def test_every_offender_is_named() -> None:
    state = gicmig.load("fixtures/v1/busy.json")
    b = state.banked[0]
    b.edge &= ~0b1010  # SGIs 1 and 3 level-triggered
    state.shared.targets = bytes([0x04] * 3)  # three SPIs target absent CPU 2
    codes = [(v.code, v.path) for v in check(state)]
    assert ("SGI-NOT-EDGE", "cpu0 irq 1 (SGI 1)") in codes
    assert ("SGI-NOT-EDGE", "cpu0 irq 3 (SGI 3)") in codes
    assert [p for c, p in codes if c == "SPI-TARGET-ABSENT-CPU"] == [
        "irq 32 (SPI 0)", "irq 33 (SPI 1)", "irq 34 (SPI 2)"]


def test_uniprocessor_targets_must_be_zero() -> None:
    state = gicmig.GicState.reset(gicmig.GicConfig(1, 64))
    state.shared.targets = b"\x01"
    [v] = check(state)
    assert v.code == "SPI-TARGET-ABSENT-CPU" and "RAZ/WI" in v.message
