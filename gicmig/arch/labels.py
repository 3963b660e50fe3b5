"""How gicmig names places in messages, reports and diffs (one spelling everywhere)."""

from __future__ import annotations

from gicmig.arch.bitmaps import set_bits
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS


def irq_kind(intid: int) -> str:
    """`SGI 3`, `PPI 11` or `SPI 8`: the interrupt's number within its kind."""
    if intid < NUM_SGIS:
        return f"SGI {intid}"
    if intid < NUM_PRIVATE:
        return f"PPI {intid - NUM_SGIS}"
    return f"SPI {intid - NUM_PRIVATE}"


def irq(intid: int, cpu: int | None = None) -> str:
    """`cpu1 irq 27 (PPI 11)` for a banked interrupt, `irq 40 (SPI 8)` for an SPI."""
    where = f"cpu{cpu} " if cpu is not None and intid < NUM_PRIVATE else ""
    return f"{where}irq {intid} ({irq_kind(intid)})"


def cpu_reg(cpu: int, reg: str) -> str:
    """`cpu0 gicc.pmr`, `cpu1 gich.lr2`."""
    return f"cpu{cpu} {reg}"


def cpus(mask: int) -> str:
    """A CPU bitmask as `{0,2}`."""
    return "{" + ",".join(str(c) for c in set_bits(mask)) + "}"


def irq_range(first: int, last: int, cpu: int | None = None) -> str:
    """`irq 40-47 (SPI 8-15)`, `cpu1 irq 16-31 (PPI 0-15)`; one ID is named as `irq()` does."""
    if first == last:
        return irq(first, cpu)
    where = f"cpu{cpu} " if cpu is not None and first < NUM_PRIVATE else ""
    kind, lo = irq_kind(first).split(" ")
    last_kind, hi = irq_kind(last).split(" ")
    span = f"{kind} {lo}-{hi}" if kind == last_kind else f"{kind} {lo}-{last_kind} {hi}"
    return f"{where}irq {first}-{last} ({span})"


def group_priorities(levels: int) -> list[str]:
    """A 128-level active-priority bitmap as its group priorities: level l -> `0x{2l}`."""
    return [f"{2 * lv:#04x}" for lv in set_bits(levels)]
