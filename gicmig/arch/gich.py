"""Facts of the GICv2 virtualization extensions that several views compute.

* GICV_CTLR (the GICC_CTLR a guest sees) <-> the control fields of GICH_VMCR, and the
  GICC_CTLR bits a virtual CPU interface can hold at all (0x21f: no bypass disables);
* GICH_VMCR from a virtual CPU interface's CTLR, PMR, BPR and ABPR;
* the status registers GICH_MISR, GICH_EISRn and GICH_ELRSRn, which the architecture
  derives from GICH_HCR, GICH_VMCR and the list registers.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from gicmig.arch.registers import (
    GICC_CTLR,
    GICH_EISR0,
    GICH_ELRSR0,
    GICH_HCR,
    GICH_LR,
    GICH_LR_STATE,
    GICH_MISR,
    GICH_VMCR,
    VIRTUAL_PRIORITY,
)

# GICV_CTLR field <-> GICH_VMCR field, in GICC_CTLR order
CTLR_VMCR = (("enable_grp0", "vmgrp0en"), ("enable_grp1", "vmgrp1en"), ("ack_ctl", "vmackctl"),
             ("fiq_en", "vmfiqen"), ("cbpr", "vmcbpr"), ("eoi_mode", "vem"))
# the GICC_CTLR bits a virtual CPU interface holds (0x21f)
VCPU_CTLR_MASK = sum(GICC_CTLR.field(c).mask for c, _ in CTLR_VMCR)


def vmcr_of(ctlr: int, pmr: int, bpr: int, abpr: int) -> int:
    """GICH_VMCR of a virtual CPU interface (PMR keeps its top five bits, VMPriMask)."""
    fields = {v: GICC_CTLR.field(c).get(ctlr) for c, v in CTLR_VMCR}
    return GICH_VMCR.pack(**fields, vmprimask=VIRTUAL_PRIORITY.get(pmr), vmbp=bpr, vmabp=abpr)


def ctlr_of_vmcr(vmcr: int) -> int:
    """The GICV_CTLR that GICH_VMCR's control fields give."""
    f = GICH_VMCR.unpack(vmcr)
    return GICC_CTLR.pack(**{c: f[v] for c, v in CTLR_VMCR})


def _lane_bits(lanes: int, n: int) -> int:
    """Bit 0 of each of `n` 32-bit lanes, gathered into bits 0..n-1."""
    digits = format(lanes, f"0{32 * n}b")[::-1][::32]  # digit i = lane i's bit 0
    return int(digits[::-1], 2) if digits else 0


_STATE_S = GICH_LR.field("state").shift
_PENDING, _ACTIVE = GICH_LR_STATE.field("pending"), GICH_LR_STATE.field("active")
_EOI_S, _HW_S = GICH_LR.field("eoi").shift, GICH_LR.field("hw").shift


def status_registers(hcr: int, vmcr: int, lrs: Sequence[int]) -> dict[str, int]:
    """GICH_MISR, EISR0/1 and ELRSR0/1 as the architecture derives them from HCR/VMCR/LRs.

    NP counts only LRs in the pending state (01), as QEMU does (gic-domain §3.2 [U]).
    """
    # all LRs side by side in one integer, 32 bits each: the per-LR tests become a few
    # whole-integer operations (lane i = LRi; `lanes` has bit 0 of every lane set)
    n = len(lrs)
    packed = int.from_bytes(struct.pack(f"<{n}I", *lrs), "little")
    lanes = int.from_bytes(b"\x01\x00\x00\x00" * n, "little")
    pend = packed >> (_STATE_S + _PENDING.shift) & lanes
    act = packed >> (_STATE_S + _ACTIVE.shift) & lanes
    invalid = lanes & ~(pend | act)
    eoi_lanes = invalid & packed >> _EOI_S & ~(packed >> _HW_S) & lanes
    eisr, elrsr = _lane_bits(eoi_lanes, n), _lane_bits(invalid & ~eoi_lanes, n)
    valid = n - bin(invalid).count("1")
    any_pending = bool(pend & ~act)
    h, v = GICH_HCR.unpack(hcr), GICH_VMCR.unpack(vmcr)
    g0, g1 = v["vmgrp0en"], v["vmgrp1en"]
    misr = GICH_MISR.pack(
        eoi=int(eisr != 0), u=h["uie"] & int(valid <= 1),
        lrenp=h["lrenpie"] & int(h["eoicount"] != 0), np=h["npie"] & int(not any_pending),
        vgrp0e=h["vgrp0eie"] & g0, vgrp0d=h["vgrp0die"] & (1 - g0),
        vgrp1e=h["vgrp1eie"] & g1, vgrp1d=h["vgrp1die"] & (1 - g1))
    low = GICH_EISR0.field("status")
    return {"misr": misr, "eisr0": low.get(eisr), "eisr1": low.get(eisr >> 32),
            "elrsr0": GICH_ELRSR0.field("status").get(elrsr),
            "elrsr1": GICH_ELRSR0.field("status").get(elrsr >> 32)}
