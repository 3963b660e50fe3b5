"""The immutable interrupt table of gicmig.core.irqtable: read once from a state, changed
only through a builder, written back in one place."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import gicmig
from gicmig.core.irqtable import IrqTable, PrivateBank, SharedBank

BUSY = Path(__file__).resolve().parents[1] / "fixtures/v1/busy.json"


def test_the_table_holds_every_per_interrupt_field_of_the_state() -> None:
    st = gicmig.load(BUSY)
    t = IrqTable.of(st)
    assert len(t.private) == st.config.num_cpus
    for c, bank in enumerate(t.private):
        for f in dataclasses.fields(bank):
            assert getattr(bank, f.name) == getattr(st.banked[c], f.name), (c, f.name)
    for f in dataclasses.fields(t.shared):
        assert getattr(t.shared, f.name) == getattr(st.shared, f.name), f.name
    for v in (0, 5, 27, 31, 32, 40, st.config.num_irqs - 1):
        for c in range(st.config.num_cpus):
            irq = st.irq(v, c)
            assert (t.group(v, c), t.edge(v, c), t.priority(v, c)) == (
                irq.group, int(irq.edge), irq.priority)
            assert t.bit("active", v, c) == int(irq.active)


def test_the_table_is_immutable_and_a_builder_leaves_it_unchanged() -> None:
    st = gicmig.load(BUSY)
    t = IrqTable.of(st)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.shared.active = 0  # type: ignore[misc]
    b = t.builder()
    b.set_line(40, 0)
    b.set_line(20, 1)
    b.clear_latch(33, 0)
    b.srcs[0][3] = 0b101
    b.s_cpu[0] = 1
    new = b.build()
    assert new.shared.line_level == t.shared.line_level | 1 << 8
    assert new.private[1].line_level == t.private[1].line_level | 1 << 20
    assert new.shared.pending_latch == t.shared.pending_latch & ~0b10
    assert new.private[0].sgi_sources[3] == 0b101 and new.shared.active_cpu[0] == 1
    assert new.private[0].priority is t.private[0].priority  # unchanged parts are shared
    assert IrqTable.of(st) == t  # the table it was built from, and the state, unchanged


def test_write_to_is_the_one_way_back_into_a_state() -> None:
    st = gicmig.load(BUSY)
    t = IrqTable.of(st)
    b = t.builder()
    b.set_line(45, 0)
    new = b.build()
    full, delta = st.copy(), st.copy()
    new.write_to(full)
    new.write_to(delta, since=t)
    assert full == delta and IrqTable.of(full) == new
    assert full.shared.line_level == st.shared.line_level | 1 << 13
    t.write_to(full)
    assert full == st


def test_one_bank_reads_as_the_table_has_it() -> None:
    """`PrivateBank.of` / `SharedBank.of` read one bank (the diff reads only the banks that
    differ): the same rows as the whole table's."""
    st = gicmig.load(BUSY)
    t = IrqTable.of(st)
    for c in range(st.config.num_cpus):
        assert PrivateBank.of(st.banked[c]) == t.private[c]
    assert SharedBank.of(st.shared) == t.shared
    assert len(t.shared.priority) == st.config.num_spis  # vectors padded to their length
    assert t.shared.active or t.shared.pending_latch  # busy: something to read
