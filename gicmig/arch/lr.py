"""The GICv2 list register (GICH_LRn): its one decode and its one encode.

The layouts are the tables `GICH_LR` (HW=0) and `GICH_LR_HW` (HW=1) of
`gicmig.arch.registers`, which share their common fields; every view (the GICH import's
fast and careful paths, the GICH export's planner, QEMU's virtual-interface cache) reads
and writes list registers through `decode` and `encode`; what the status registers need
of a whole set of list registers (their State, EOI and HW bits) is read by `decode_bits`.
The per-field shifts and masks below are taken from those tables once, at import: the
hot loops run per list register.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple

from gicmig.arch.registers import (
    GICH_LR,
    GICH_LR_HW,
    GICH_LR_STATE,
    GICH_VTR,
    LR_COMMON_FIELDS,
    VIRTUAL_PRIORITY,
    Field,
)


class Lr(NamedTuple):
    """A list register, decoded (its priority as an 8-bit value)."""

    virtual_id: int
    pending: bool
    active: bool
    group: int  # Grp1
    priority: int  # Priority << 3: bits [7:3] of an 8-bit priority
    hw: bool
    cpuid: int  # HW=0: an SGI's source CPU; 0 with HW=1
    eoi: bool  # HW=0: EOI maintenance requested; False with HW=1
    physical_id: int | None  # HW=1 only
    reserved: int  # the bits set that the layout its HW bit selects reserves

    @property
    def valid(self) -> bool:
        """State is not invalid (GICH_ELRSR would not name it free, unless EOI is set)."""
        return self.pending or self.active


def _sm(f: Field) -> tuple[int, int]:
    return f.shift, (1 << f.width) - 1


_COMMON = {f.name: f for f in LR_COMMON_FIELDS}
(_VID_S, _VID_M), (_PRIO_S, _PRIO_M) = _sm(_COMMON["virtual_id"]), _sm(_COMMON["priority"])
(_STATE_S, _STATE_M), (_GRP1_S, _GRP1_M) = _sm(_COMMON["state"]), _sm(_COMMON["grp1"])
_HW_S, _ = _sm(_COMMON["hw"])
(_CPUID_S, _CPUID_M), (_EOI_S, _) = _sm(GICH_LR.field("cpuid")), _sm(GICH_LR.field("eoi"))
_PHYS_S, _PHYS_M = _sm(GICH_LR_HW.field("physical_id"))
_PEND_BIT, _ACT_BIT = GICH_LR_STATE.field("pending").mask, GICH_LR_STATE.field("active").mask
_VP_S = VIRTUAL_PRIORITY.shift
_RES_SW, _RES_HW = GICH_LR.reserved_mask, GICH_LR_HW.reserved_mask


_new = tuple.__new__  # Lr(...) without NamedTuple's keyword-handling __new__ (hot path)
# the same facts pre-shifted for `decode`: State's bits, HW and EOI in place, and Priority
# moved straight to bits [7:3] of an 8-bit priority
_PENDING, _ACTIVE = _PEND_BIT << _STATE_S, _ACT_BIT << _STATE_S
_HW_BIT, _EOI_BIT = 1 << _HW_S, 1 << _EOI_S
_PRIO_TO_8, _PRIO_8 = _PRIO_S - _VP_S, _PRIO_M << _VP_S


def decode(value: int) -> Lr:
    """The fields of list register `value` (a 32-bit word), under the layout its HW bit
    selects; bits that layout reserves are returned in `reserved`, not judged."""
    if value & _HW_BIT:
        return _new(Lr, (value >> _VID_S & _VID_M, value & _PENDING != 0, value & _ACTIVE != 0,
                         value >> _GRP1_S & _GRP1_M, value >> _PRIO_TO_8 & _PRIO_8, True, 0,
                         False, value >> _PHYS_S & _PHYS_M, value & _RES_HW))
    return _new(Lr, (value >> _VID_S & _VID_M, value & _PENDING != 0, value & _ACTIVE != 0,
                     value >> _GRP1_S & _GRP1_M, value >> _PRIO_TO_8 & _PRIO_8, False,
                     value >> _CPUID_S & _CPUID_M, value & _EOI_BIT != 0, None,
                     value & _RES_SW))


def reserved_bits(value: int) -> int:
    """The bits of list register `value` that the layout its HW bit selects reserves."""
    return value & (_RES_HW if value >> _HW_S & 1 else _RES_SW)


class LrBits(NamedTuple):
    """What a set of list registers hold, one bit per list register (bit i = LRi)."""

    pending: int  # State has its pending bit (pending, or pending and active)
    active: int  # State has its active bit
    eoi: int  # EOI maintenance requested: EOI set under the HW=0 layout


def _column(bit: int) -> tuple[int, bytes]:
    """Where bit `bit` of a list register sits in a big-endian word (its byte's index), and
    the `bytes.translate` table turning that byte into ASCII '1' (bit set) or '0'."""
    return 3 - bit // 8, bytes(0x31 if b >> bit % 8 & 1 else 0x30 for b in range(256))


# (State's bits, EOI and HW are one bit each)
(_PEND_AT, _PEND_T), (_ACT_AT, _ACT_T) = _column(_PENDING.bit_length() - 1), \
    _column(_ACTIVE.bit_length() - 1)
(_EOI_AT, _EOI_T), (_HW_AT, _HW_T) = _column(_EOI_S), _column(_HW_S)
_NO_BITS = _new(LrBits, (0, 0, 0))
# n list registers as big-endian words, for every n GICH_VTR.ListRegs can give
_WORDS = tuple(struct.Struct(f">{n}I") for n in range(1 + (1 << GICH_VTR.field("list_regs").width)))


def decode_bits(lrs: Sequence[int]) -> LrBits:
    """The State, EOI and HW bits of every list register of `lrs` (32-bit words), each
    gathered into one int, bit i = LRi (`decode` of each LR, in bulk)."""
    if not lrs:
        return _NO_BITS
    # the LRs as big-endian words, the last first: byte k of every LR is then the column
    # raw[k::4], LRn first, and the '1'/'0' digits of a translated column read as a
    # binary number are the bitmap, LR0 in bit 0
    n = len(lrs)
    raw = (_WORDS[n] if n < len(_WORDS) else struct.Struct(f">{n}I")).pack(*reversed(lrs))
    eoi = int(raw[_EOI_AT::4].translate(_EOI_T), 2) & ~int(raw[_HW_AT::4].translate(_HW_T), 2)
    return _new(LrBits, (int(raw[_PEND_AT::4].translate(_PEND_T), 2),
                         int(raw[_ACT_AT::4].translate(_ACT_T), 2), eoi))


def state_of(lr: int) -> int:
    """GICH_LR.State of list register `lr` (0 invalid, 1 pending, 2 active, 3 both)."""
    return lr >> _STATE_S & _STATE_M


# the unshifted masks of the fields `encode` takes, and the bits of an 8-bit priority that
# GICH_LR.Priority holds
_PRIO_BITS = _PRIO_M << _VP_S
_FIELDS = (("VirtualID", _VID_M), ("Priority", _PRIO_BITS), ("Grp1", _GRP1_M),
           ("CPUID", _CPUID_M), ("PhysicalID", _PHYS_M))


def _refuse(*values: int) -> ValueError:
    for (name, mask), value in zip(_FIELDS, values, strict=False):
        if value & ~mask:
            what = "bits [7:3] of a priority" if name == "Priority" else \
                f"{mask.bit_length()} bits"
            return ValueError(f"GICH_LR.{name} holds {what}, not {value:#x}")
    return ValueError("a HW=1 list register has no CPUID or EOI field")


def encode(virtual_id: int, *, pending: bool = False, active: bool = False, group: int = 0,
           priority: int = 0, cpuid: int = 0, eoi: bool = False,
           physical_id: int | None = None) -> int:
    """The list register holding these fields (`priority` an 8-bit value whose bits [2:0]
    are clear; `physical_id` given: the HW=1 layout, which has no CPUID or EOI).

    Checked: a value its field cannot hold raises ValueError (no silent truncation).
    """
    word = (virtual_id << _VID_S | priority >> _VP_S << _PRIO_S | group << _GRP1_S
            | ((_PEND_BIT if pending else 0) | (_ACT_BIT if active else 0)) << _STATE_S)
    if physical_id is None:
        if (virtual_id & ~_VID_M or priority & ~_PRIO_BITS or group & ~_GRP1_M
                or cpuid & ~_CPUID_M):
            raise _refuse(virtual_id, priority, group, cpuid)
        return word | cpuid << _CPUID_S | (1 << _EOI_S if eoi else 0)
    if (virtual_id & ~_VID_M or priority & ~_PRIO_BITS or group & ~_GRP1_M
            or physical_id & ~_PHYS_M or cpuid or eoi):
        raise _refuse(virtual_id, priority, group, 0, physical_id)
    return word | 1 << _HW_S | physical_id << _PHYS_S
