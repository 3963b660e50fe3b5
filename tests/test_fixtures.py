"""The committed fixtures: golden round trips, and one invalid case per reason code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import gicmig
from gicmig.errors import REASONS, GicmigError, ValidationError
from gicmig.formats.fixture import from_json, to_json

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "fixtures" / "v1"
GOLDEN = ["reset-virt-2cpu", "busy", "hyp-context", "max"]
INVALID = sorted((V1 / "invalid").iterdir())


@pytest.mark.parametrize("name", GOLDEN)
def test_blob_to_json_is_the_committed_text(name: str) -> None:
    state = gicmig.decode((V1 / f"{name}.gicmig").read_bytes())
    assert to_json(state) == (V1 / f"{name}.json").read_text()


@pytest.mark.parametrize("name", GOLDEN)
def test_json_to_blob_is_the_committed_bytes(name: str) -> None:
    state = from_json((V1 / f"{name}.json").read_text())
    assert gicmig.encode(state) == (V1 / f"{name}.gicmig").read_bytes()


@pytest.mark.parametrize("name", GOLDEN)
def test_v1_fixtures_stay_revision_1(name: str) -> None:
    assert gicmig.info((V1 / f"{name}.gicmig").read_bytes()).header.schema_revision == 1


def test_sizes_are_compact() -> None:
    assert (V1 / "reset-virt-2cpu.gicmig").stat().st_size <= 512
    assert (V1 / "max.gicmig").stat().st_size <= 6 * 1024


def test_reset_fixture_fits_on_a_screen() -> None:
    assert len((V1 / "reset-virt-2cpu.json").read_text().splitlines()) <= 25


def test_busy_holds_what_it_promises() -> None:
    s = gicmig.load(V1 / "busy.json")
    assert s.irq(32).pending and not s.irq(32).pending_latch and s.irq(32).line_level
    assert s.irq(33).pending_latch and not s.irq(33).line_level
    assert s.irq(2, cpu=0).sgi_sources == 0b11                      # several sources
    assert s.irq(1, cpu=0).active and s.irq(1, cpu=0).sgi_active_source == 1
    assert s.cpu[1].active_group0 and s.cpu[1].active_group1        # both groups
    drop = s.irq(40)                                                # EOImode=1 priority drop
    assert drop.active and drop.active_cpu == 1
    assert not s.cpu[1].active_group1 >> (drop.priority >> 1) & 1
    assert s.cpu[1].ctlr >> 9 & 1


def test_max_has_every_interrupt_non_default() -> None:
    doc = (V1 / "max.json").read_text()
    s = gicmig.load(V1 / "max.gicmig")
    assert s.config.num_cpus == 8 and s.config.num_irqs == 1020
    spis = re.findall(r'^    "(\d+)": ', doc, re.M)
    assert len(spis) == 1020 - 32
    assert len(re.findall(r'^        "(\d+)": \{', doc, re.M)) == 8 * 32


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_case_reports_exactly_its_code(path: Path) -> None:
    code = path.stem
    with pytest.raises(GicmigError) as info:
        gicmig.load(path)
    err = info.value
    codes = {v.code for v in err.violations} if isinstance(err, ValidationError) else {err.code}
    assert codes == {code}, str(err)


def test_every_reason_code_is_triggered_by_a_test() -> None:
    """A code no test triggers is a promise nobody checks."""
    triggered = {p.stem for p in INVALID}
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))
    missing = [c for c in REASONS if c not in triggered and f'"{c}"' not in sources]
    assert not missing, f"reason codes no test triggers: {missing}"
