"""Pinned edges of the semantic diff that the full mutation run found unpinned
(docs/testing.md): hypervisor context present on one side only, in both directions."""

from __future__ import annotations

import pytest

import gicmig
from gicmig.core.model import GicConfig, GicState


def _pair() -> tuple[GicState, GicState]:
    a = GicState.reset(GicConfig(1, 64, priority_bits=5, min_bpr=2, sgi_enables_rao_wi=False,
                                 num_lrs=4))
    b = a.copy()
    (ctx,) = a.keep_hypervisor_context()  # GICH_HCR.En = 1, as a running hypervisor leaves it
    ctx.eoi_maintenance = 1 << 40 | 1 << 41
    return a, b


@pytest.mark.parametrize("forward", [True, False])
def test_hypervisor_context_on_one_side_only(forward: bool) -> None:
    with_ctx, without = _pair()
    old, new = ("1", "absent") if forward else ("absent", "1")
    present = ["present", "absent"] if forward else ["absent", "present"]
    got = gicmig.diff(with_ctx, without) if forward else gicmig.diff(without, with_ctx)
    assert [str(c) for c in got] == [
        f"hypervisor: {present[0]} -> {present[1]}",
        f"cpu0 hyp.hcr.en: {old} -> {new}",
        f"cpu0 hyp.eoi_maintenance irq 40-41 (SPI 8-9): {old} -> {new}"]


@pytest.mark.parametrize(("bits", "lines"), [
    (0b11 << 16, ["cpu0 hyp.eoi_maintenance irq 16-17 (PPI 0-1): 0 -> 1"]),
    (0b11 << 32, ["cpu0 hyp.eoi_maintenance irq 32-33 (SPI 0-1): 0 -> 1"]),
    (0b1111 << 14, ["cpu0 hyp.eoi_maintenance irq 14-15 (SGI 14-15): 0 -> 1",
                    "cpu0 hyp.eoi_maintenance irq 16-17 (PPI 0-1): 0 -> 1"]),
    (0b11 << 31, ["cpu0 hyp.eoi_maintenance irq 31 (PPI 15): 0 -> 1",
                  "cpu0 hyp.eoi_maintenance irq 32 (SPI 0): 0 -> 1"])])
def test_eoi_maintenance_runs_split_where_a_kind_ends(bits: int, lines: list[str]) -> None:
    """SGIs are IDs 0-15, PPIs 16-31, SPIs from 32: a run starting exactly at 16 or 32 is
    one line, a run across 15/16 or 31/32 splits there."""
    a, _ = _pair()
    b = a.copy()
    (ctx,) = b.hypervisor or []
    ctx.eoi_maintenance = a.hypervisor[0].eoi_maintenance | bits  # type: ignore[index]
    assert [str(c) for c in gicmig.diff(a, b)] == lines


@pytest.mark.parametrize("which", ["no values", "no place"])
def test_a_change_without_its_structural_form_has_no_entries(which: str) -> None:
    """A Change the diff did not build (no `where` or no `values`) is shown as text but
    gives no JSON entry; one with both gives exactly one."""
    from gicmig.statediff.change import At, Change
    from gicmig.statediff.entries import entries_of

    at = At("gicc", "pmr", 0)
    made = Change("cpu0 gicc.pmr", "0x00", "0x80", where=at, values=(0, 0x80))
    assert [(e.kind, e.field, e.old, e.new, e.cpu) for e in entries_of(made)] == [
        ("gicc", "pmr", 0, 0x80, 0)]
    partial = (Change("cpu0 gicc.pmr", "0x00", "0x80", where=at) if which == "no values"
               else Change("cpu0 gicc.pmr", "0x00", "0x80", values=(0, 0x80)))
    assert list(entries_of(partial)) == []


def test_active_priority_entries_carry_the_level_group() -> None:
    """gicc.active_priority entries: the group of the level (0 or 1), None when inactive."""
    from gicmig.core.model import GicConfig

    a = GicState.reset(GicConfig(1, 64))
    b = a.copy()
    b.cpu[0].active_group0 = 1 << 0x40 // 2
    b.cpu[0].active_group1 = 1 << 0x60 // 2
    d = gicmig.diff(a, b)
    assert [str(c) for c in d] == ["cpu0 gicc.active_priority 0x40: inactive -> group0",
                                   "cpu0 gicc.active_priority 0x60: inactive -> group1"]
    assert [(e.kind, e.field, e.priority, e.old, e.new) for e in d.entries()] == [
        ("gicc", "active_priority", 0x40, None, 0), ("gicc", "active_priority", 0x60, None, 1)]
    back = gicmig.diff(b, a)
    assert [(e.old, e.new) for e in back.entries()] == [(0, None), (1, None)]


def test_an_lr_past_the_other_sides_list_registers_is_absent_there() -> None:
    """8 LRs against 4 (GICH_VTR.ListRegs differs): LR4, holding SPI 32 pending on one side
    only, is absent on the other, not an empty register."""
    from gicmig.core.model import GicConfig

    kw: dict[str, object] = {"priority_bits": 5, "min_bpr": 2, "sgi_enables_rao_wi": False}
    a = GicState.reset(GicConfig(1, 64, num_lrs=8, **kw))  # type: ignore[arg-type]
    b = GicState.reset(GicConfig(1, 64, num_lrs=4, **kw))  # type: ignore[arg-type]
    a.virtual[0].lr = (0, 0, 0, 0, 0x1000_0020, 0, 0, 0)
    assert [str(c) for c in gicmig.diff(a, b)] == [
        "config.virtualization.num_lrs: 8 -> 4", "cpu0 gich.lr4.virtual_id: 32 -> absent",
        "cpu0 gich.lr4.state: pending -> absent"]
