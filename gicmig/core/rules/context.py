"""What every rule needs: values derived once per parameter set, shared helpers, and the
shape of a section of rules (`Section`)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gicmig.arch import bitmaps, priority
from gicmig.arch.ids import NUM_PRIVATE, SGI_MASK
from gicmig.arch.registers import GICC_CTLR, GICH_HCR, GICH_LR, GICH_LR_HW, GICH_VMCR, Field
from gicmig.core.model import UNKNOWN_CPU
from gicmig.errors import Violation


@lru_cache(maxsize=32)
def context_for(config: bytes) -> Context:
    from gicmig.core.pb import pb

    return Context(pb.GicConfig.FromString(config))


class Context:
    """Values derived once from valid parameters (cached per parameter set)."""

    def __init__(self, config: Any) -> None:
        self.num_cpus: int = config.num_cpus
        self.num_irqs: int = config.num_irqs
        self.num_spis = self.num_irqs - NUM_PRIVATE
        self.priority_bits: int = config.priority_bits
        self.prio_mask = priority.priority_mask(self.priority_bits)
        self.cpu_mask = (1 << self.num_cpus) - 1
        # a uniprocessor GIC's ITARGETSR is RAZ/WI: the only canonical target mask is 0
        self.target_mask = self.cpu_mask if self.num_cpus > 1 else 0
        self.rao = bool(config.sgi_enables_rao_wi)
        self.min_bpr: int = config.min_bpr
        self.min_abpr = priority.min_abpr(self.min_bpr)
        self.apr_levels = priority.representable_levels(self.priority_bits, self.min_bpr)
        self.bad_prio = outside(self.prio_mask)
        self.bad_target = outside(self.target_mask)
        self.bad_source = outside(self.cpu_mask)
        self.cpu_ids = cpu_ids(self.num_cpus)
        self.virt = config.virtualization if config.HasField("virtualization") else None
        self.num_lrs = self.virt.num_lrs if self.virt else 0
        self.min_vmbp = priority.min_binary_point(self.virt.preemption_bits) if self.virt else 0
        self.min_vmabp = priority.min_abpr(self.min_vmbp)
        self.apr_bits = priority.group_levels(self.virt.preemption_bits) if self.virt else 0
        self.vmbp, self.vmabp = GICH_VMCR.field("vmbp"), GICH_VMCR.field("vmabp")
        self.lr_hw_mask = GICH_LR.field("hw").mask
        self.lr_res_sw, self.lr_res_hw = GICH_LR.reserved_mask, GICH_LR_HW.reserved_mask
        # reserved in a software LR only (fields of a hardware one): the HW bit moved there
        self.lr_sw_only = self.lr_res_sw & ~self.lr_res_hw
        self.lr_hw_shift = self.lr_hw_mask.bit_length() - 1
        self.ctlr_reserved = GICC_CTLR.reserved_mask
        self.sgi_lanes = sum(SGI_MASK << 32 * c for c in range(self.num_cpus))
        # representable active-priority levels, repeated in 128-bit lanes per CPU count
        self.apr_lanes = [sum(self.apr_levels << 128 * c for c in range(k)) for k in range(9)]
        self.hcr_reserved, self.vmcr_reserved = GICH_HCR.reserved_mask, GICH_VMCR.reserved_mask
        # for the bulk checks: one lane per CPU, packed by precompiled structs (a section's
        # bulk check runs after shape_ok, so it sees exactly num_cpus entries)
        n = self.num_cpus
        self.u32 = struct.Struct(f"<{n}I")  # a 32-bit word per CPU
        self.s16, self.s32 = struct.Struct("16s" * n), struct.Struct("32s" * n)  # zero-padded
        # no byte value is out of range (8 priority bits, 8 CPUs): the byte checks can go
        self.any_prio, self.any_source = self.prio_mask == 0xFF, self.cpu_mask == 0xFF
        self.any_target = self.target_mask == 0xFF
        self.lr_res_lanes = repeat(self.lr_res_sw, 32, n * self.num_lrs)
        self.lr_hw_lanes = repeat(1, 32, n * self.num_lrs)
        self.vmbp_min = LaneMinimum(self.vmbp, self.min_vmbp, n)
        self.vmabp_min = LaneMinimum(self.vmabp, self.min_vmabp, n)


def repeat(value: int, bits: int, count: int) -> int:
    """`value` in each of `count` lanes of `bits` bits."""
    return int.from_bytes(value.to_bytes(bits // 8, "little") * count, "little")


class LaneMinimum:
    """Whether a register field is at least `low` in every 32-bit lane of a packed word
    (one lane per CPU): adding 2**width - low carries into the bit above the field exactly
    where the field is >= low."""

    def __init__(self, field: Field, low: int, lanes: int) -> None:
        self.shift = field.shift
        self.mask = repeat((1 << field.width) - 1, 32, lanes)
        self.bias = repeat((1 << field.width) - low, 32, lanes)
        self.carry = repeat(1 << field.width, 32, lanes)

    def holds(self, words: int) -> bool:
        return (((words >> self.shift) & self.mask) + self.bias) & self.carry == self.carry


@lru_cache(maxsize=64)
def outside(mask: int) -> bytes:
    """The byte values inside `mask`: `data.translate(None, that)` keeps the others."""
    return bytes(v for v in range(256) if not v & ~mask)


@lru_cache(maxsize=16)
def cpu_ids(num_cpus: int) -> bytes:
    """The valid CPU bytes (0..num_cpus-1 and the UNKNOWN marker)."""
    return bytes([*range(num_cpus), UNKNOWN_CPU])


def stray_or_bad(values: bytes, active: int, valid: bytes) -> bool:
    """Whether a per-element CPU byte is set where the element is not active, or is not
    one of `valid` (bytes and bitmap operations; no loop per interrupt)."""
    return bool(values.translate(None, valid) or bitmaps.nonzero(values) & ~active)


def violation(code: str, path: str, message: str) -> Violation:
    return Violation(code, path, message)


def lanes(values: Sequence[int], fmt: str) -> int:
    return int.from_bytes(struct.pack(f"<{len(values)}{fmt}", *values), "little")


@dataclass(frozen=True)
class Section:
    """A group of named rules over one part of the state.

    `fast` answers, with a few bulk operations over all CPUs at once, whether none of the
    section's rules fails (a valid state, the common case, pays only this); `explain` names
    every offender. tests/test_rules.py checks on random and mutated states that the two
    always agree.
    """

    name: str
    fast: Callable[[Context, Any], bool]
    explain: Callable[[Context, Any], Iterator[Violation]]
