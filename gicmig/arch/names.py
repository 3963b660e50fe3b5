"""Register names by frame (GICD, GICC without security extensions, GICH) and byte
offset, for messages and reports: `GICD_ISENABLER1`, `GICC_APR0`, `GICH_LR2`."""

from __future__ import annotations

from gicmig.arch.registers import (
    DIST_BANKS,
    GICC_ABPR,
    GICC_APR,
    GICC_APR_REGS,
    GICC_BPR,
    GICC_CTLR,
    GICC_IIDR,
    GICC_NO_STATE,
    GICC_PMR,
    GICD_CTLR,
    GICD_IIDR,
    GICD_SGIR,
    GICD_TYPER,
    GICH_APR,
    GICH_EISR0,
    GICH_EISR1,
    GICH_ELRSR0,
    GICH_ELRSR1,
    GICH_HCR,
    GICH_LR,
    GICH_MISR,
    GICH_VMCR,
    GICH_VTR,
    SGI_BANK_REGS,
    SGI_BANKS,
    Bank,
)

FRAMES = ("GICD", "GICC", "GICH")
MAX_LRS = 64  # GICH_LR0-63
_FIXED: dict[str, dict[int, str]] = {
    "GICD": {r.offset: r.name for r in (GICD_CTLR, GICD_TYPER, GICD_IIDR, GICD_SGIR)},
    "GICC": {r.offset: r.name for r in (GICC_CTLR, GICC_PMR, GICC_BPR, GICC_ABPR, GICC_IIDR)}
    | {off: name for name, off in GICC_NO_STATE.items()},
    "GICH": {r.offset: r.name for r in (GICH_HCR, GICH_VTR, GICH_VMCR, GICH_MISR, GICH_EISR0,
                                        GICH_EISR1, GICH_ELRSR0, GICH_ELRSR1, GICH_APR)},
}


def bank_span(bank: Bank, count: int | None = None) -> int:
    """Bytes a bank occupies: 1024 interrupt IDs, or `count` registers."""
    return 4 * count if count is not None else 1024 * bank.bits // 8


def register_name(frame: str, offset: int) -> str:
    """The register at `offset` of `frame`, or `GICD+0xe00` for an offset with no name."""
    fixed = _FIXED[frame]
    if offset in fixed:
        return fixed[offset]
    if frame == "GICD":
        for bank in (*DIST_BANKS, *SGI_BANKS):
            span = bank_span(bank, SGI_BANK_REGS if bank in SGI_BANKS else None)
            if bank.offset <= offset < bank.offset + span:
                return f"{bank.name}{(offset - bank.offset) // 4}"
    elif frame == "GICC":
        if GICC_APR.offset <= offset < GICC_APR.offset + 4 * GICC_APR_REGS:
            return f"GICC_APR{(offset - GICC_APR.offset) // 4}"
    elif GICH_LR.offset <= offset < GICH_LR.offset + 4 * MAX_LRS and offset % 4 == 0:
        return f"GICH_LR{(offset - GICH_LR.offset) // 4}"
    return f"{frame}+{offset:#x}"
