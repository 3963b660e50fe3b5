"""The real QEMU 7.2.22 streams of ../shared/qemu import exactly, in strict mode.

`differences()` compares an imported state with an `expected/<name>.json` file field by
field (every interrupt, every CPU interface and virtual interface field), and also checks
that the values the canonical model does not store (RPR, HPPIR, MISR, EISR, ELRSR, the
decoded fields, GICD_TYPER) follow from the imported state by the architecture's rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import (
    GICC_CTLR,
    GICD_CTLR,
    GICD_TYPER,
    GICH_HCR,
    GICH_VMCR,
    LR_STATES,
    lr_layout,
)
from gicmig.core.model import GicState
from gicmig.formats.codec import decode, encode
from gicmig.views.qemu.convert import import_qemu

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "qemu"
SCENARIOS = ("reset", "dist", "cpuif", "virt")

pytestmark = pytest.mark.usefixtures("shared_qemu")  # skips, or fails under CI=true


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SHARED / "expected" / f"{name}.json").read_text())
    return data


def imported(name: str) -> GicState:
    return import_qemu(SHARED / "streams" / f"{name}.mig", accel="tcg", machine="virt")


# --- the comparison -----------------------------------------------------------------------------
class _Diff:
    def __init__(self) -> None:
        self.out: list[str] = []

    def eq(self, where: str, got: object, want: object) -> None:
        if got != want:
            self.out.append(f"{where}: imported {got!r}, expected {want!r}")


def _levels(bitmap: int) -> list[int]:
    return [2 * lv for lv in range(128) if bitmap >> lv & 1]


def _apr_words(bitmap: int) -> list[int]:
    return [(bitmap >> (32 * n)) & 0xFFFF_FFFF for n in range(4)]


def differences(state: GicState, exp: dict[str, Any]) -> list[str]:
    d = _Diff()
    qemu_config(d, state, exp["implementation"])
    dist = exp["state"]["distributor"]
    d.eq("gicd.ctlr", GICD_CTLR.pack(enable_grp0=int(state.enable_grp0),
                                     enable_grp1=int(state.enable_grp1)), dist["ctlr"])
    d.eq("enable_grp0", state.enable_grp0, dist["enable_grp0"])
    d.eq("enable_grp1", state.enable_grp1, dist["enable_grp1"])
    d.eq("enable_grp1_unknown", state.enable_grp1_unknown, False)
    cfg = state.config
    d.eq("gicd.typer", GICD_TYPER.pack(it_lines_number=cfg.num_irqs // 32 - 1,
                                       cpu_number=cfg.num_cpus - 1), dist["typer"])
    d.eq("spi ids", [s["id"] for s in dist["spis"]], list(range(NUM_PRIVATE, cfg.num_irqs)))
    for spi in dist["spis"]:
        _irq(d, state, None, spi)
    d.eq("cpus", [c["cpu"] for c in exp["state"]["cpus"]], list(range(cfg.num_cpus)))
    for cpu in exp["state"]["cpus"]:
        c = cpu["cpu"]
        d.eq(f"cpu{c} private ids", [p["id"] for p in cpu["private_irqs"]],
             list(range(NUM_PRIVATE)))
        for irq in cpu["private_irqs"]:
            _irq(d, state, c, irq)
        _cpu_interface(d, state, c, cpu["cpu_interface"])
        if "virtual_interface" in cpu:
            _virtual(d, state, c, cpu["virtual_interface"])
        else:
            d.eq(f"cpu{c} virtual interface", len(state.virtual), 0)
    return d.out


def qemu_config(d: _Diff, state: GicState, impl: dict[str, Any]) -> None:
    cfg = state.config
    d.eq("architecture", cfg.revision, impl["architecture"])
    d.eq("security_extensions", cfg.security_extensions, impl["security_extensions"])
    for name in ("num_cpus", "num_irqs", "priority_bits", "min_bpr", "min_abpr"):
        d.eq(name, getattr(cfg, name), impl[name])
    virt = cfg.virtualization
    d.eq("virtualization_extensions", virt is not None, impl["virtualization_extensions"])
    if virt is not None:
        d.eq("num_lrs", virt.num_lrs, impl["num_lrs"])
        d.eq("virtual_priority_bits", virt.priority_bits, impl["virtual_priority_bits"])
        d.eq("virtual_preemption_bits", virt.preemption_bits, impl["virtual_preemption_bits"])
        d.eq("virtual_min_bpr", virt.min_vmbp, impl["virtual_min_bpr"])
        d.eq("virtual_min_abpr", virt.min_vmbp + 1, impl["virtual_min_abpr"])


def _irq(d: _Diff, state: GicState, cpu: int | None, exp: dict[str, Any]) -> None:
    i = exp["id"]
    got = state.irq(i, cpu or 0)
    where = f"cpu{cpu} irq {i}" if cpu is not None else f"irq {i}"
    d.eq(f"{where} kind", "sgi" if i < NUM_SGIS else "ppi" if i < NUM_PRIVATE else "spi",
         exp["kind"])
    for name in ("enabled", "pending", "active"):
        d.eq(f"{where} {name}", getattr(got, name), exp[name])
    d.eq(f"{where} group", got.group, exp["group"])
    d.eq(f"{where} priority", got.priority, exp["priority"])
    d.eq(f"{where} config", "edge" if got.edge else "level", exp["config"])
    d.eq(f"{where} pending_split_unknown", got.pending_split_unknown, False)
    if i < NUM_SGIS:
        d.eq(f"{where} sgi_pending_sources", got.sgi_sources, exp["sgi_pending_sources"])
        d.eq(f"{where} latch/line", (got.pending_latch, got.line_level), (False, False))
        return
    d.eq(f"{where} pending_latch", got.pending_latch, exp["pending_latch"])
    d.eq(f"{where} line_level", got.line_level, exp["line_level"])
    if i >= NUM_PRIVATE:
        d.eq(f"{where} targets", got.targets, exp["targets"])


def _cpu_interface(d: _Diff, state: GicState, c: int, exp: dict[str, Any]) -> None:
    ci, where = state.cpu[c], f"cpu{c} gicc"
    for name in ("ctlr", "pmr", "bpr", "abpr"):
        d.eq(f"{where}.{name}", getattr(ci, name), exp[name])
    flags = GICC_CTLR.unpack(ci.ctlr)
    for name, value in exp["ctlr_fields"].items():
        d.eq(f"{where}.ctlr.{name}", bool(flags["eoi_mode" if name == "eoimode" else name]),
             value)
    d.eq(f"{where}.apr", _apr_words(ci.active_group0), exp["apr"])
    d.eq(f"{where}.nsapr", _apr_words(ci.active_group1), exp["nsapr"])
    d.eq(f"{where} active_group_unknown", ci.active_group_unknown, 0)
    active = ci.active_group0 | ci.active_group1
    d.eq(f"{where} active_group_priorities", _levels(active), exp["active_group_priorities"])
    d.eq(f"{where}.rpr", _levels(active)[0] if active else 0xFF, exp["rpr"])
    hppi = _hppi(state, c)
    d.eq(f"{where} hppi", hppi, exp["hppi"])
    group1 = hppi < 1020 and state.irq(hppi, c).group == 1
    d.eq(f"{where}.hppir", 1022 if group1 and not flags["ack_ctl"] else hppi, exp["hppir"])


def _hppi(state: GicState, c: int) -> int:
    """The highest-priority pending interrupt CPU c can take (architectural rules)."""
    ci = state.cpu[c]
    best = (0x100, 1023)
    for i in range(state.config.num_irqs):
        irq = state.irq(i, c)
        enables = (state.enable_grp0, state.enable_grp1)[irq.group] and \
            GICC_CTLR.field(("enable_grp0", "enable_grp1")[irq.group]).get(ci.ctlr)
        targeted = i < NUM_PRIVATE or irq.targets >> c & 1
        if irq.enabled and irq.pending and not irq.active and targeted and enables \
                and irq.priority < ci.pmr:
            best = min(best, (irq.priority, i))
    return best[1]


def _virtual(d: _Diff, state: GicState, c: int, exp: dict[str, Any]) -> None:
    v, where = state.virtual[c], f"cpu{c} gich"
    d.eq(f"{where}.hcr", v.hcr, exp["hcr"])
    d.eq(f"{where}.hcr fields", GICH_HCR.unpack(v.hcr),
         {k: int(val) for k, val in exp["hcr_fields"].items()})
    d.eq(f"{where}.vmcr", v.vmcr, exp["vmcr"])
    d.eq(f"{where}.vmcr fields", GICH_VMCR.unpack(v.vmcr),
         {k: int(val) for k, val in exp["vmcr_fields"].items()})
    d.eq(f"{where}.apr", v.apr, exp["apr"])
    d.eq(f"{where}.lr", list(v.lr), [lr["raw"] for lr in exp["lr"]])
    for n, lr in enumerate(v.lr):
        _lr_fields(d, f"{where}.lr{n}", lr, exp["lr"][n])
    states = [LR_STATES[lr_layout(lr).field("state").get(lr)] for lr in v.lr]
    hw = [lr_layout(lr).field("hw").get(lr) for lr in v.lr]
    eoi = [0 if hw[n] else lr_layout(lr).field("eoi").get(lr) for n, lr in enumerate(v.lr)]
    eisr = sum(1 << n for n in range(len(v.lr)) if states[n] == "invalid" and eoi[n])
    elrsr = sum(1 << n for n in range(len(v.lr)) if states[n] == "invalid" and not eoi[n])
    d.eq(f"{where}.eisr", eisr, exp["eisr"])
    d.eq(f"{where}.elrsr", elrsr, exp["elrsr"])
    misr = _misr(v.hcr, v.vmcr, states, eisr)
    d.eq(f"{where}.misr", misr, exp["misr"])
    d.eq(f"{where} maintenance", bool(GICH_HCR.field("en").get(v.hcr) and misr),
         exp["maintenance_irq_asserted"])
    _vcpu(d, state, c, exp["vcpu"], states)


def _lr_fields(d: _Diff, where: str, lr: int, exp: dict[str, Any]) -> None:
    f = lr_layout(lr).unpack(lr)
    d.eq(f"{where} fields", (f["virtual_id"], bool(f["hw"]), f["grp1"], f["state"],
                             f["priority"], f["priority"] << 3),
         (exp["virtual_id"], exp["hw"], exp["group"], exp["state_bits"],
          exp["priority_field"], exp["priority"]))
    if f["hw"]:
        d.eq(f"{where} physical_id", f["physical_id"], exp["physical_id"])
    else:
        d.eq(f"{where} eoi/cpuid", (bool(f["eoi"]), f["cpuid"]), (exp["eoi"], exp["cpuid"]))


def _misr(hcr: int, vmcr: int, states: list[str], eisr: int) -> int:
    h, m = GICH_HCR.unpack(hcr), GICH_VMCR.unpack(vmcr)
    valid = sum(s != "invalid" for s in states)
    bits = [bool(eisr), h["uie"] and valid < 2, h["lrenpie"] and h["eoicount"],
            h["npie"] and "pending" not in states, h["vgrp0eie"] and m["vmgrp0en"],
            h["vgrp0die"] and not m["vmgrp0en"], h["vgrp1eie"] and m["vmgrp1en"],
            h["vgrp1die"] and not m["vmgrp1en"]]
    return sum(1 << k for k, b in enumerate(bits) if b)


def _vcpu(d: _Diff, state: GicState, c: int, exp: dict[str, Any], states: list[str]) -> None:
    v, where = state.virtual[c], f"cpu{c} gicv"
    m = GICH_VMCR.unpack(v.vmcr)
    ctlr = GICC_CTLR.pack(enable_grp0=m["vmgrp0en"], enable_grp1=m["vmgrp1en"],
                          ack_ctl=m["vmackctl"], fiq_en=m["vmfiqen"], cbpr=m["vmcbpr"],
                          eoi_mode=m["vem"])
    pmr = m["vmprimask"] << 3
    d.eq(f"{where} ctlr/pmr/bpr/abpr", (ctlr, pmr, m["vmbp"], m["vmabp"]),
         (exp["ctlr"], exp["pmr"], exp["bpr"], exp["abpr"]))
    d.eq(f"{where}.rpr", ((v.apr & -v.apr).bit_length() - 1) << 3 if v.apr else 0xFF,
         exp["rpr"])
    best = (0x100, 1023, 0)
    if GICH_HCR.field("en").get(v.hcr) and (m["vmgrp0en"] or m["vmgrp1en"]):
        for n, lr in enumerate(v.lr):
            f = lr_layout(lr).unpack(lr)
            if states[n] == "pending" and f["priority"] << 3 < pmr:
                best = min(best, (f["priority"] << 3, f["virtual_id"], f["grp1"]))
    d.eq(f"{where} hppi", best[1], exp["hppi"])
    d.eq(f"{where}.hppir", 1022 if best[2] and not m["vmackctl"] else best[1], exp["hppir"])


# --- the tests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SCENARIOS)
def test_stream_imports_exactly(name: str) -> None:
    state = imported(name)
    assert differences(state, expected(name)) == []
    assert state.provenance.source == "qemu-tcg" and state.provenance.vmm == "qemu"
    assert decode(encode(state)) == state  # the import is a valid, encodable state


def test_expected_fields_are_all_compared() -> None:
    """A field the expected files add later must not pass unnoticed."""
    exp = expected("virt")
    st = exp["state"]
    assert set(st["distributor"]) == {"ctlr", "enable_grp0", "enable_grp1", "typer", "spis"}
    assert set(st["distributor"]["spis"][0]) == {
        "id", "kind", "enabled", "pending", "active", "group", "priority", "config",
        "pending_latch", "line_level", "targets"}
    cpu = st["cpus"][0]
    assert set(cpu) == {"cpu", "private_irqs", "cpu_interface", "virtual_interface"}
    common = {"id", "kind", "enabled", "pending", "active", "group", "priority", "config"}
    assert set(cpu["private_irqs"][0]) == common | {"sgi_pending_sources"}
    assert set(cpu["private_irqs"][16]) == common | {"pending_latch", "line_level"}
    assert set(cpu["virtual_interface"]["lr"][0]) == {
        "index", "raw", "virtual_id", "hw", "group", "state", "state_bits", "priority_field",
        "priority", "physical_id", "eoi", "cpuid"}
    assert set(cpu["cpu_interface"]) == {"ctlr", "ctlr_fields", "pmr", "bpr", "abpr", "apr",
                                         "nsapr", "active_group_priorities", "rpr", "hppi",
                                         "hppir"}
    assert set(cpu["virtual_interface"]) == {
        "hcr", "hcr_fields", "vmcr", "vmcr_fields", "misr", "eisr", "elrsr", "apr", "lr",
        "maintenance_irq_asserted", "vcpu"}


FLIPS = {
    "spi enabled": lambda s: setattr(s.shared, "enabled", s.shared.enabled ^ (1 << 200)),
    "spi line level": lambda s: setattr(s.shared, "line_level", s.shared.line_level ^ 1),
    "spi latch": lambda s: setattr(s.shared, "pending_latch", s.shared.pending_latch ^ 4),
    "spi priority": lambda s: setattr(
        s.shared, "priority", bytes([s.shared.priority[0] ^ 0x80]) + s.shared.priority[1:]),
    "spi target": lambda s: setattr(
        s.shared, "targets", s.shared.targets[:9] + bytes([s.shared.targets[9] ^ 2])
        + s.shared.targets[10:]),
    "ppi latch cpu1": lambda s: setattr(s.banked[1], "pending_latch",
                                        s.banked[1].pending_latch ^ (1 << 30)),
    "sgi source cpu0": lambda s: setattr(s.banked[0], "sgi_sources",
                                         bytes([s.banked[0].sgi_sources[0] ^ 2])
                                         + s.banked[0].sgi_sources[1:]),
    "ppi group cpu1": lambda s: setattr(s.banked[1], "group", s.banked[1].group ^ (1 << 31)),
    "banked priority": lambda s: setattr(s.banked[0], "priority",
                                         s.banked[0].priority[:31]
                                         + bytes([s.banked[0].priority[31] ^ 0x08])),
    "gicc ctlr": lambda s: setattr(s.cpu[1], "ctlr", s.cpu[1].ctlr ^ 0x200),
    "gicc pmr": lambda s: setattr(s.cpu[0], "pmr", s.cpu[0].pmr ^ 0x08),
    "active priority": lambda s: setattr(s.cpu[0], "active_group1",
                                         s.cpu[0].active_group1 ^ (1 << 100)),
    "gich lr": lambda s: setattr(s.virtual[1], "lr", tuple(
        x ^ (1 << 19) if n == 2 else x for n, x in enumerate(s.virtual[1].lr))),
    "gich hcr eoicount": lambda s: setattr(s.virtual[0], "hcr", s.virtual[0].hcr ^ (1 << 31)),
    "gich vmcr": lambda s: setattr(s.virtual[1], "vmcr", s.virtual[1].vmcr ^ (1 << 27)),
    "gich apr": lambda s: setattr(s.virtual[0], "apr", s.virtual[0].apr ^ 1),
    "distributor enable": lambda s: setattr(s, "enable_grp1", not s.enable_grp1),
}


@pytest.mark.parametrize("flip", sorted(FLIPS))
def test_one_wrong_bit_fails_the_comparison(flip: str) -> None:
    state = imported("virt").copy()
    FLIPS[flip](state)
    assert differences(state, expected("virt")), f"flipping {flip} went unnoticed"


def test_active_cpu_rule_on_cpuif() -> None:
    """SPI 40 and 41 were acknowledged by CPU1 (active on CPU 1); SPIs 64/95/128/200 were
    made active through GICD_ISACTIVER (CPU unknown, 0xFF); SGI 1 and SGI 0 were
    acknowledged by CPU0, whose sources the stream does not keep (0xFF)."""
    state = imported("cpuif")
    assert {i: state.irq(i).active_cpu for i in (40, 41)} == {40: 1, 41: 1}
    assert {i: state.irq(i).active_cpu for i in (64, 95, 128, 200)} == dict.fromkeys(
        (64, 95, 128, 200))
    assert state.irq(1, 0).sgi_active_source is None and state.irq(0, 0).active
    assert state.banked[0].sgi_active_source[:2] == b"\xff\xff"


def test_reset_stream_is_the_reset_state_apart_from_the_enables() -> None:
    state = imported("reset")
    assert state.shared.enabled == 0 and not state.enable_grp0
    assert [v.vmcr for v in state.virtual] == [GICH_VMCR.pack(vmbp=2, vmabp=3)] * 2


def test_num_cpus_from_the_state_or_the_flag() -> None:
    path = SHARED / "streams" / "dist.mig"
    assert import_qemu(path, accel="tcg", machine="virt").config.num_cpus == 2
    assert import_qemu(path, accel="tcg", num_irqs=288, num_cpus=2) == imported("dist")
