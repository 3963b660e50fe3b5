"""The parameter rules (GicConfig): checked first, since every other rule relies on them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gicmig.arch.ids import MAX_CPUS
from gicmig.arch.registers import VIRTUAL_PRIORITY
from gicmig.core.rules.context import violation as _v
from gicmig.errors import Violation

_LR_BITS = VIRTUAL_PRIORITY.width  # GICH_LR.Priority: the most a virtual interface implements


def config_violations(c: Any) -> Iterator[Violation]:
    if c.revision != 2:
        name = {0: "unspecified", 1: "GICv1"}.get(c.revision, str(c.revision))
        yield _v("CONFIG-REVISION", "config.revision", f"{name}; schema v1 holds GICv2 only")
    if not 1 <= c.num_cpus <= MAX_CPUS:
        yield _v("CONFIG-NUM-CPUS", "config.num_cpus", f"{c.num_cpus} is not in 1..{MAX_CPUS}")
    n = c.num_irqs
    if not (n == 1020 or (32 <= n <= 992 and n % 32 == 0)):
        yield _v("CONFIG-NUM-IRQS", "config.num_irqs",
                 f"{n} is not a multiple of 32 in 32..992, nor 1020")
    if not 4 <= c.priority_bits <= 8:
        yield _v("CONFIG-PRIORITY-BITS", "config.priority_bits",
                 f"{c.priority_bits} is not in 4..8")
    if not 0 <= c.min_bpr <= 3:
        yield _v("CONFIG-MIN-BPR", "config.min_bpr", f"{c.min_bpr} is not in 0..3")
    if c.security_extensions:
        yield _v("CONFIG-SECURITY-EXTENSIONS", "config.security_extensions",
                 "security extensions are not modelled by schema v1")
    if c.HasField("virtualization"):
        yield from _config_virt(c.virtualization)


def _config_virt(v: Any) -> Iterator[Violation]:
    if not 1 <= v.num_lrs <= 64:
        yield _v("CONFIG-VIRTUALIZATION", "config.virtualization.num_lrs",
                 f"{v.num_lrs} is not in 1..64")
    if not 1 <= v.preemption_bits <= v.priority_bits <= _LR_BITS:
        yield _v("CONFIG-VIRTUALIZATION", "config.virtualization",
                 f"preemption_bits {v.preemption_bits} / priority_bits {v.priority_bits} "
                 f"break 1 <= preemption <= priority <= {_LR_BITS} "
                 f"(GICH_LR holds {_LR_BITS} priority bits)")
