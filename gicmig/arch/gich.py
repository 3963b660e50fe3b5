"""Facts of the GICv2 virtualization extensions that several views compute.

* GICV_CTLR (the GICC_CTLR a guest sees) <-> the control fields of GICH_VMCR, and the
  GICC_CTLR bits a virtual CPU interface can hold at all (0x21f: no bypass disables);
* GICH_VMCR from a virtual CPU interface's CTLR, PMR, BPR and ABPR;
* the status registers GICH_MISR, GICH_EISRn and GICH_ELRSRn, which the architecture
  derives from GICH_HCR, GICH_VMCR and the list registers.
"""

from __future__ import annotations

from collections.abc import Sequence

from gicmig.arch import lr
from gicmig.arch.registers import (
    GICC_CTLR,
    GICH_EISR0,
    GICH_ELRSR0,
    GICH_HCR,
    GICH_MISR,
    GICH_VMCR,
    VIRTUAL_PRIORITY,
)

# GICV_CTLR field <-> GICH_VMCR field, in GICC_CTLR order
CTLR_VMCR = (("enable_grp0", "vmgrp0en"), ("enable_grp1", "vmgrp1en"), ("ack_ctl", "vmackctl"),
             ("fiq_en", "vmfiqen"), ("cbpr", "vmcbpr"), ("eoi_mode", "vem"))
# the GICC_CTLR bits a virtual CPU interface holds (0x21f)
VCPU_CTLR_MASK = sum(GICC_CTLR.field(c).mask for c, _ in CTLR_VMCR)

# the map as (GICC_CTLR shift, GICH_VMCR shift) pairs: the fields are one bit each
_CTLR_VMCR_SHIFTS = tuple((GICC_CTLR.field(c).shift, GICH_VMCR.field(v).shift)
                          for c, v in CTLR_VMCR)
_VMPRIMASK, _VMBP, _VMABP = (GICH_VMCR.field(n) for n in ("vmprimask", "vmbp", "vmabp"))
_BP_LIMIT = 1 << min(_VMBP.width, _VMABP.width)  # a binary point both fields hold


def vmcr_of(ctlr: int, pmr: int, bpr: int, abpr: int) -> int:
    """GICH_VMCR of a virtual CPU interface (PMR keeps its top five bits, VMPriMask).

    Checked: a binary point VMBP or VMABP cannot hold raises ValueError."""
    if not (0 <= bpr < _BP_LIMIT and 0 <= abpr < _BP_LIMIT):
        return GICH_VMCR.pack(vmbp=bpr, vmabp=abpr)  # raises the field's refusal
    vmcr = VIRTUAL_PRIORITY.get(pmr) << _VMPRIMASK.shift | bpr << _VMBP.shift \
        | abpr << _VMABP.shift
    for c, v in _CTLR_VMCR_SHIFTS:
        vmcr |= (ctlr >> c & 1) << v
    return vmcr


def vmcr_holds(ctlr: int, pmr: int, bpr: int, abpr: int) -> bool:
    """Whether GICH_VMCR holds a virtual CPU interface whole: CTLR within the CTLR_VMCR
    fields, PMR within VMPriMask (bits [7:3]), BPR and ABPR within VMBP and VMABP."""
    return not (ctlr & ~VCPU_CTLR_MASK or pmr & ~VIRTUAL_PRIORITY.mask) \
        and 0 <= bpr < _BP_LIMIT and 0 <= abpr < _BP_LIMIT


def ctlr_of_vmcr(vmcr: int) -> int:
    """The GICV_CTLR that GICH_VMCR's control fields give."""
    ctlr = 0
    for c, v in _CTLR_VMCR_SHIFTS:
        ctlr |= (vmcr >> v & 1) << c
    return ctlr


# GICH_MISR's fields, and the GICH_HCR enables of its maintenance interrupts (EOI has none)
_M_EOI, _M_U, _M_LRENP, _M_NP, _M_V0E, _M_V0D, _M_V1E, _M_V1D = (GICH_MISR.field(n).shift for n in (
    "eoi", "u", "lrenp", "np", "vgrp0e", "vgrp0d", "vgrp1e", "vgrp1d"))
_H_U, _H_LRENP, _H_NP, _H_V0E, _H_V0D, _H_V1E, _H_V1D = (GICH_HCR.field(n).shift for n in (
    "uie", "lrenpie", "npie", "vgrp0eie", "vgrp0die", "vgrp1eie", "vgrp1die"))
_EOICOUNT = GICH_HCR.field("eoicount").mask
_G0, _G1 = GICH_VMCR.field("vmgrp0en").shift, GICH_VMCR.field("vmgrp1en").shift
# GICH_EISRn / GICH_ELRSRn: bit n of register r is list register 32 * r + n
_EISR, _ELRSR = GICH_EISR0.field("status"), GICH_ELRSR0.field("status")
_EISR_M, _ELRSR_M = _EISR.mask >> _EISR.shift, _ELRSR.mask >> _ELRSR.shift


def status_registers(hcr: int, vmcr: int, lrs: Sequence[int]) -> dict[str, int]:
    """GICH_MISR, EISR0/1 and ELRSR0/1 as the architecture derives them from HCR/VMCR/LRs.

    NP counts only LRs in the pending state (01), as QEMU does (gic-domain §3.2 [U]).
    """
    bits = lr.decode_bits(lrs)
    invalid = ((1 << len(lrs)) - 1) & ~(bits.pending | bits.active)
    eisr = invalid & bits.eoi  # an EOI maintenance request
    elrsr = invalid & ~eisr  # a free LR
    valid = len(lrs) - invalid.bit_count()
    any_pending = bits.pending & ~bits.active != 0
    g0, g1 = vmcr >> _G0 & 1, vmcr >> _G1 & 1
    misr = ((eisr != 0) << _M_EOI
            | (hcr >> _H_U & (valid <= 1)) << _M_U
            | (hcr >> _H_LRENP & (hcr & _EOICOUNT != 0)) << _M_LRENP
            | (hcr >> _H_NP & (not any_pending)) << _M_NP
            | (hcr >> _H_V0E & g0) << _M_V0E | (hcr >> _H_V0D & 1 - g0) << _M_V0D
            | (hcr >> _H_V1E & g1) << _M_V1E | (hcr >> _H_V1D & 1 - g1) << _M_V1D)
    return {"misr": misr, "eisr0": eisr & _EISR_M, "eisr1": eisr >> _EISR.width & _EISR_M,
            "elrsr0": elrsr & _ELRSR_M, "elrsr1": elrsr >> _ELRSR.width & _ELRSR_M}
