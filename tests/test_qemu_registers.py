"""The read-back prediction (gicmig.views.qemu.registers) against the ground truth of the
shared QEMU 7.2 streams: every register value that shared/qemu/expected/*.json gives
(read back by the scenario programs themselves), from the state the stream imports to.
tests/real/ checks the same function against a live guest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import gicmig
from gicmig.core.model import GicConfig, GicState
from gicmig.views.qemu.encode_tcg import QemuUnrepresentable
from gicmig.views.qemu.registers import QEMU_GICD_IIDR, label, register_name, tcg_registers

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "qemu"
NAMES = ("reset", "dist", "cpuif", "virt")
pytestmark = pytest.mark.usefixtures("shared_qemu")  # skips, or fails under CI=true


def _expected(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SHARED / "expected" / f"{name}.json").read_text())
    return doc


def _registers(name: str) -> dict[tuple[str, int | None, int], int]:
    state = gicmig.import_qemu(SHARED / "streams" / f"{name}.mig", accel="tcg",
                               machine="virt")
    return tcg_registers(state)


def _bit(regs: dict[tuple[str, int | None, int], int], base: int, bits: int, intid: int,
         cpu: int) -> int:
    """The field of interrupt `intid` in the bank at `base` with `bits` bits per ID."""
    per_word = 32 // bits
    word, pos = divmod(intid, per_word)
    key = ("GICD", cpu if intid < 32 else None, base + 4 * word)
    return regs[key] >> pos * bits & ((1 << bits) - 1)


@pytest.mark.parametrize("name", NAMES)
def test_cpu_and_virtual_interfaces_match_ground_truth(name: str) -> None:
    regs, exp = _registers(name), _expected(name)
    dist = exp["state"]["distributor"]
    assert regs[("GICD", None, 0x000)] == dist["ctlr"]
    assert regs[("GICD", None, 0x004)] == dist["typer"]
    assert regs[("GICD", None, 0x008)] == QEMU_GICD_IIDR == 0x43B
    for cpu in exp["state"]["cpus"]:
        c, ci = cpu["cpu"], cpu["cpu_interface"]
        got = {register_name("GICC", off): v for (f, k, off), v in regs.items()
               if f == "GICC" and k == c}
        assert got["GICC_CTLR"] == ci["ctlr"]
        assert got["GICC_PMR"] == ci["pmr"]
        assert (got["GICC_BPR"], got["GICC_ABPR"]) == (ci["bpr"], ci["abpr"])
        assert [got[f"GICC_APR{n}"] for n in range(4)] == ci["apr"]
        assert [got[f"GICC_NSAPR{n}"] for n in range(4)] == ci["nsapr"]
        assert got["GICC_RPR"] == ci["rpr"]
        assert got["GICC_HPPIR"] & 0x3FF == ci["hppir"]
        assert got["GICC_IIDR"] == 0x0002_043B
        vi = cpu.get("virtual_interface")
        if vi is None:
            continue
        h = {register_name("GICH", off): v for (f, k, off), v in regs.items()
             if f == "GICH" and k == c}
        assert (h["GICH_HCR"], h["GICH_VMCR"], h["GICH_APR"]) == (vi["hcr"], vi["vmcr"],
                                                                  vi["apr"])
        assert (h["GICH_MISR"], h["GICH_EISR0"], h["GICH_ELRSR0"]) == (
            vi["misr"], vi["eisr"], vi["elrsr"])
        assert (h["GICH_EISR1"], h["GICH_ELRSR1"], h["GICH_VTR"]) == (0, 0, 0x9000_0003)
        assert [h[f"GICH_LR{n}"] for n in range(4)] == [lr["raw"] for lr in vi["lr"]]


@pytest.mark.parametrize("name", NAMES)
def test_every_interrupt_matches_ground_truth(name: str) -> None:
    regs, exp = _registers(name), _expected(name)
    irqs = [(cpu["cpu"], irq) for cpu in exp["state"]["cpus"] for irq in cpu["private_irqs"]]
    irqs += [(0, irq) for irq in exp["state"]["distributor"]["spis"]]
    for c, irq in irqs:
        i = irq["id"]
        where = f"cpu{c} irq {i}"
        assert _bit(regs, 0x080, 1, i, c) == irq["group"], where
        assert _bit(regs, 0x100, 1, i, c) == _bit(regs, 0x180, 1, i, c) == irq["enabled"], where
        assert _bit(regs, 0x200, 1, i, c) == _bit(regs, 0x280, 1, i, c) == irq["pending"], where
        assert _bit(regs, 0x300, 1, i, c) == _bit(regs, 0x380, 1, i, c) == irq["active"], where
        assert _bit(regs, 0x400, 8, i, c) == irq["priority"], where
        assert _bit(regs, 0xC00, 2, i, c) == (2 if irq["config"] == "edge" else 0), where
        targets = irq["targets"] if i >= 32 else 1 << c
        assert _bit(regs, 0x800, 8, i, c) == targets, where
        if i < 16:
            assert _bit(regs, 0xF20, 8, i, c) == _bit(regs, 0xF10, 8, i, c) \
                == irq["sgi_pending_sources"], where


def hppir(state: GicState, c: int) -> int:
    return tcg_registers(state)[("GICC", c, 0x18)]


def test_hppir_reports_1022_for_group1_without_ackctl() -> None:
    state = GicState.reset(GicConfig.qemu_virt(2))
    state.enable_grp0 = state.enable_grp1 = True
    state.shared.enabled, state.shared.pending_latch = 1 << 8, 1 << 8  # irq 40
    state.shared.targets = bytes(8) + b"\x02"
    state.shared.priority = bytes(8) + b"\x40"
    state.cpu[1].ctlr, state.cpu[1].pmr = 0x3, 0xF0
    state.shared.group = 1 << 8
    assert hppir(state, 1) == 1022 and hppir(state, 0) == 1023  # only CPU1 is targeted
    state.cpu[1].ctlr |= 0x4  # AckCtl
    assert hppir(state, 1) == 40
    state.cpu[1].pmr = 0x40  # a priority that does not pass the mask
    assert hppir(state, 1) == 1023


def test_spi_active_on_another_cpu_stays_eligible_here() -> None:
    """QEMU keeps an acknowledged SPI active for the acknowledging CPU only."""
    state = GicState.reset(GicConfig.qemu_virt(2))
    state.enable_grp0 = True
    state.shared.enabled = state.shared.pending_latch = state.shared.active = 1
    state.shared.targets, state.shared.active_cpu = b"\x03", b"\x01"
    state.cpu[0].ctlr = state.cpu[1].ctlr = 1
    state.cpu[0].pmr = state.cpu[1].pmr = 0xFF
    assert (hppir(state, 0), hppir(state, 1)) == (32, 1023)
    state.shared.active_cpu = b"\xff"  # active through ISACTIVER: on every CPU
    assert (hppir(state, 0), hppir(state, 1)) == (1023, 1023)


def test_states_qemu_cannot_hold_are_refused() -> None:
    state = GicState.reset(GicConfig.qemu_virt(2))
    state.cpu[0].active_group_unknown = 1 << 4
    with pytest.raises(QemuUnrepresentable) as e:
        tcg_registers(state)
    assert [v.code for v in e.value.violations] == ["QEMU-EXPORT-UNKNOWN"]


def test_rpr_is_the_running_priority() -> None:
    state = GicState.reset(GicConfig.qemu_virt(2))
    state.cpu[1].active_group1 = 1 << 40 | 1 << 100  # group priorities 0x50 and 0xc8
    regs = tcg_registers(state)
    assert (regs[("GICC", 0, 0x14)], regs[("GICC", 1, 0x14)]) == (0xFF, 0x50)
    assert regs[("GICC", 1, 0xE4)] == 1 << 8 and regs[("GICC", 1, 0xE0)] == 0


def test_labels() -> None:
    assert label(("GICD", 1, 0x204)) == "cpu1 GICD_ISPENDR1"
    assert label(("GICD", None, 0x824)) == "GICD_ITARGETSR9"
    assert label(("GICC", 0, 0x18)) == "cpu0 GICC_HPPIR"
    assert label(("GICH", 1, 0x10C)) == "cpu1 GICH_LR3"
    assert register_name("GICH", 0x34) == "GICH_ELRSR1"
