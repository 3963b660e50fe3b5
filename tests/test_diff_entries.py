"""The structural form of the diff: one typed entry per fact (`Diff.entries()`), and the
`gicmig/diff` JSON document."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import states

import gicmig
from gicmig.arch.registers import GICH_HCR, GICH_LR_HW
from gicmig.core.config import GicConfig
from gicmig.core.model import UNKNOWN_CPU, GicState, HwMapping
from gicmig.statediff.change import Missing, RegRef
from gicmig.statediff.entries import Entry, dumps
from gicmig.statediff.semantic import diff

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "v1"


def base() -> GicState:
    return GicState.reset(GicConfig.qemu_virt(2, virtualization=True))


def entries(edit: Callable[[GicState], object], start: GicState | None = None) -> list[Entry]:
    a = start if start is not None else base()
    b = a.copy()
    edit(b)
    return diff(a, b).entries()


def set_byte(data: bytes, k: int, value: int) -> bytes:
    out = bytearray(data)
    out[k] = value
    return bytes(out)


def test_a_folded_run_is_one_entry_per_interrupt_with_its_own_register() -> None:
    def edit(s: GicState) -> None:
        s.shared.enabled |= 0xFF << 16  # irq 48-55
    got = entries(edit)
    assert [str(c) for c in diff(base(), base().copy())] == []
    assert [(e.kind, e.cpu, e.intid, e.field, e.old, e.new) for e in got] == [
        ("interrupt", None, i, "enabled", False, True) for i in range(48, 56)]
    assert got[0].register == RegRef("GICD_ISENABLER1", 0x104, 1 << 16)
    assert got[7].register == RegRef("GICD_ISENABLER1", 0x104, 1 << 23)


def test_an_entry_does_not_change_when_its_neighbour_does() -> None:
    def one(s: GicState) -> None:
        s.shared.priority = set_byte(s.shared.priority, 10, 0xA0)  # irq 42

    def two(s: GicState) -> None:
        one(s)
        s.shared.priority = set_byte(s.shared.priority, 11, 0xA0)  # irq 43 as well
    alone, folded = entries(one), entries(two)
    assert alone == folded[:1]
    assert alone[0] == Entry("interrupt", "priority", 0, 0xA0, intid=42,
                             register=RegRef("GICD_IPRIORITYR10", 0x428, 0xFF << 16))
    assert folded[1].intid == 43 and folded[1].register == RegRef("GICD_IPRIORITYR10", 0x428,
                                                                   0xFF << 24)


def test_typed_interrupt_values() -> None:
    def edit(s: GicState) -> None:
        sh = s.shared
        sh.targets = set_byte(sh.targets, 8, 0b11)
        sh.active |= 1 << 8 | 1 << 9
        sh.active_cpu = set_byte(set_byte(sh.active_cpu, 8, 1), 9, UNKNOWN_CPU)
        sh.edge |= 1 << 10
        b = s.banked[1]
        b.pending_latch |= 1 << 24
        b.pending_split_unknown |= 1 << 24
        b.sgi_sources = set_byte(b.sgi_sources, 5, 0b01)
    got = {(e.cpu, e.intid, e.field): e for e in entries(edit)}
    assert got[None, 40, "targets"].old == () and got[None, 40, "targets"].new == (0, 1)
    assert got[None, 40, "active"].new is True
    assert (got[None, 40, "active_cpu"].old, got[None, 40, "active_cpu"].new) == (None, 1)
    assert got[None, 41, "active_cpu"].new is Missing.UNKNOWN
    assert got[None, 40, "active_cpu"].register is None  # no register shows it
    assert got[None, 42, "edge"].register == RegRef("GICD_ICFGR2", 0xC08, 1 << 21)
    assert got[1, 24, "pending_latch"].new is Missing.UNKNOWN
    assert got[1, 24, "pending_latch"].register == RegRef("GICD_ISPENDR0", 0x200, 1 << 24)
    assert got[1, 5, "sources"].new == (0,)
    assert got[1, 5, "sources"].register == RegRef("GICD_SPENDSGIR1", 0xF24, 0xFF << 8)
    d = got[1, 24, "pending_latch"].as_dict()
    assert (d["old"], d["new"], d["old_missing"], d["new_missing"]) == (False, None, None,
                                                                          "unknown")
    assert got[None, 40, "targets"].as_dict()["new"] == [0, 1]


def test_registers_lrs_and_active_priorities() -> None:
    def edit(s: GicState) -> None:
        s.cpu[1].ctlr |= 1 << 9
        s.cpu[1].active_group1 |= 1 << 8  # group priority 0x10
        v = s.virtual[0]
        v.lr = (v.lr[0], GICH_LR_HW.pack(virtual_id=40, physical_id=72, hw=1, state=3))
    got = entries(edit)
    by = {(e.kind, e.cpu, e.lr, e.priority, e.field): e for e in got}
    ctlr = by["gicc", 1, None, None, "ctlr.eoi_mode"]
    assert (ctlr.old, ctlr.new, ctlr.register) == (False, True, RegRef("GICC_CTLR", 0, 1 << 9))
    level = by["gicc", 1, None, 0x10, "active_priority"]
    assert (level.old, level.new) == (None, 1)
    state = by["gich", 0, 1, None, "lr.state"]
    assert (state.old, state.new) == (0, 3)  # the schema stores LR words: no enum name
    assert state.register == RegRef("GICH_LR1", 0x104, 0b11 << 28)
    cpuid = by["gich", 0, 1, None, "lr.cpuid"]
    assert (cpuid.old, cpuid.new) == (0, Missing.ABSENT)  # the HW layout has no CPUID
    assert by["gich", 0, 1, None, "lr.physical_id"].new == 72


def test_hypervisor_config_provenance_and_existence() -> None:
    a = base()
    for ctx in a.keep_hypervisor_context():
        ctx.hcr = 0

    def edit(s: GicState) -> None:
        assert s.hypervisor is not None
        s.hypervisor[0].hcr = GICH_HCR.pack(en=1)
        s.hypervisor[0].hw_mappings = [HwMapping(40, 72)]
        s.hypervisor[1].eoi_maintenance = 1 << 33
        s.provenance.gicd_iidr = 0x0100143B
        s.provenance.vmm = "qemu"
    got = {(e.kind, e.cpu, e.intid, e.field): e for e in entries(edit, a)}
    assert got["hyp", 0, None, "hcr.en"].new is True
    assert (got["hyp", 0, 40, "hw_mapping"].old, got["hyp", 0, 40, "hw_mapping"].new) == ((),
                                                                                         (72,))
    assert got["hyp", 1, 33, "eoi_maintenance"].new is True
    iidr = got["provenance", None, None, "gicd_iidr"]
    assert (iidr.old, iidr.new, iidr.register) == (Missing.ABSENT, 0x0100143B,
                                                   RegRef("GICD_IIDR", 8, 0xFFFF_FFFF))
    assert got["provenance", None, None, "vmm"].new == "qemu"
    small = GicState.reset(GicConfig(1, 288))
    big = GicState.reset(GicConfig(2, 320))
    grown = {(e.kind, e.cpu, e.intid, e.field): e for e in diff(small, big).entries()}
    assert (grown["config", None, None, "num_cpus"].old,
            grown["config", None, None, "num_cpus"].new) == (1, 2)
    assert grown["cpu", 1, None, "present"].new is True
    present = [e.intid for e in grown.values() if e.field == "present" and e.kind == "interrupt"]
    assert present == list(range(288, 320))


def test_the_document() -> None:
    a, b = base(), base()
    b.cpu[0].pmr = 0x80
    doc = diff(a, b).document(old="a.json", new="b.json")
    assert list(doc)[:4] == ["format", "version", "ok", "exit"]
    assert doc["format"] == "gicmig/diff" and doc["version"] == 1
    assert (doc["ok"], doc["exit"], doc["count"]) == (False, 1, 1)
    assert json.loads(dumps(doc)) == doc
    same = diff(a, a.copy()).document()
    assert json.loads(dumps(same)) == same and same["changes"] == [] and same["ok"] is True


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_entries_swap_with_the_sides(data: st.DataObject) -> None:
    a = data.draw(states())
    b = data.draw(states())
    ab, ba = diff(a, b).entries(), diff(b, a).entries()
    assert sorted(repr(e) for e in ab) == sorted(
        repr(Entry(e.kind, e.field, e.new, e.old, e.cpu, e.intid, e.lr, e.priority, e.register))
        for e in ba)
    changes = diff(a, b)
    assert all(c.at is not None for c in changes)  # every line has its structural form
    assert len(ab) >= len(changes) and bool(ab) == bool(changes)


def _golden_diff_json_runs() -> list[list[str]]:
    golden = json.loads((Path(__file__).parent / "golden" / "cli.json").read_text())
    return [r["argv"] for r in golden if r["argv"][0] == "diff" and "json" in r["argv"]]


def test_every_golden_diff_json_output_follows_its_schema(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema

    from gicmig.cli import main

    schema = json.loads((Path(gicmig.__file__).parent / "schemas" / "diff.v1.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    runs = _golden_diff_json_runs()
    assert len(runs) >= 10
    kinds = set()
    for argv in runs:
        status = main(argv)
        doc = json.loads(capsys.readouterr().out)
        if doc["format"] == "gicmig/error":
            continue
        validator.validate(doc)
        assert doc["exit"] == status and doc["count"] == len(doc["changes"])
        kinds |= {c["kind"] for c in doc["changes"]}
    assert {"config", "interrupt", "cpu", "gicc", "gich", "provenance"} <= kinds


def test_ignore_leaves_out_the_entries_of_what_it_names() -> None:
    a = base()
    b = a.copy()
    b.shared.enabled |= 0xFF << 8  # irq 40-47
    b.cpu[0].pmr = 0x80
    got = diff(a, b, ignore=["*irq 42 (SPI 10) *", "cpu0 gicc.*"]).entries()
    assert [e.intid for e in got] == [40, 41, 43, 44, 45, 46, 47]
