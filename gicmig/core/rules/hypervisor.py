"""Rules of our hypervisor's context (HW mappings, EOI maintenance), kept apart from the
guest-visible state. Rare, so it has no bulk check: its presence sends a state to the
named rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gicmig.arch import labels
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS, SPECIAL_IDS
from gicmig.arch.registers import GICH_HCR
from gicmig.core.model import UNKNOWN_CPU
from gicmig.core.rules.context import Context, Section
from gicmig.core.rules.context import violation as _v
from gicmig.errors import Violation


def _hypervisor(ctx: Context, hyp: Any) -> Iterator[Violation]:
    for c, h in enumerate(hyp.vcpu):
        where = f"hypervisor.vcpu[{c}]"
        if h.hcr & GICH_HCR.reserved_mask:
            yield _v("HYP-RESERVED-BITS", f"{where}.hcr",
                     f"{h.hcr:#010x} sets reserved bits {h.hcr & GICH_HCR.reserved_mask:#010x}")
        if int.from_bytes(h.eoi_maintenance, "little") >> ctx.num_irqs:
            yield _v("STATE-IRQ-OUT-OF-RANGE", f"{where}.eoi_maintenance",
                     f"names interrupt IDs >= num_irqs {ctx.num_irqs}")
        yield from _hw_mappings(ctx, where, [(m.virtual_id, m.physical_id)
                                             for m in h.hw_mapping])


def _hw_spis(ctx: Context, msg: Any) -> Iterator[Violation]:
    """An SPI has one active state and one owner: it can be HW-mapped on one vCPU only,
    and only on the vCPU it is active on."""
    owner: dict[int, int] = {}
    active = int.from_bytes(msg.state.shared.active, "little")
    who = msg.state.shared.active_cpu
    for c, h in enumerate(msg.hypervisor.vcpu):
        for m in h.hw_mapping:
            v, k = m.virtual_id, m.virtual_id - NUM_PRIVATE
            if k < 0 or v >= ctx.num_irqs:
                continue
            where = f"hypervisor.vcpu[{c}].hw_mapping"
            if v in owner:
                yield _v("HYP-HW-MAPPING", where, f"{labels.irq(v)} is HW-mapped on vCPU "
                         f"{owner[v]} and vCPU {c}; an SPI has one owner")
            owner.setdefault(v, c)
            cpu = who[k] if k < len(who) else 0
            if active >> k & 1 and cpu not in (c, UNKNOWN_CPU):
                yield _v("HYP-HW-MAPPING", where, f"{labels.irq(v)} is HW-mapped on vCPU {c} "
                         f"but active on CPU {cpu}")


def _hw_mappings(ctx: Context, where: str, maps: list[tuple[int, int]]) -> Iterator[Violation]:
    virtual = [v for v, _ in maps]
    if virtual != sorted(set(virtual)):
        yield _v("PAYLOAD-NOT-CANONICAL", f"{where}.hw_mapping",
                 "HW mappings must be stored once each, in ascending virtual ID order")
    physical = [p for _, p in maps]
    for p in sorted({p for p in physical if physical.count(p) > 1}):
        yield _v("HYP-HW-MAPPING", f"{where}.hw_mapping",
                 f"physical ID {p} is mapped from several virtual IDs")
    for v, p in maps:
        if v < NUM_SGIS:
            yield _v("HYP-HW-MAPPING", f"{where}.hw_mapping",
                     f"virtual ID {v} is an SGI; only PPIs and SPIs can be HW-mapped")
        if v >= ctx.num_irqs:
            yield _v("HYP-HW-MAPPING", f"{where}.hw_mapping",
                     f"virtual ID {v} is >= num_irqs {ctx.num_irqs}")
        if not NUM_SGIS <= p < SPECIAL_IDS.start:
            yield _v("HYP-HW-MAPPING", f"{where}.hw_mapping",
                     f"virtual ID {v} maps to physical ID {p}, which is not a PPI or SPI "
                     f"({NUM_SGIS}..{SPECIAL_IDS.start - 1})")


def _context_rules(ctx: Context, msg: Any) -> Iterator[Violation]:
    if msg.HasField("hypervisor"):
        yield from _hypervisor(ctx, msg.hypervisor)
        yield from _hw_spis(ctx, msg)


def _no_context(ctx: Context, msg: Any) -> bool:
    return not msg.HasField("hypervisor")


HYPERVISOR = Section("hypervisor context", _no_context, _context_rules)
