"""Named validation rules of the schema, each with a stable reason code.

`check(state)` returns every violation (not just the first); `validate(state)` raises
`ValidationError` holding them all. The rules are grouped in `SECTIONS`; each section
carries its bulk check (`fast`) next to the rules that name each offender (`explain`),
so that a valid state costs a few whole-bitmap operations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gicmig.core.config import GicConfig
from gicmig.core.model import GicState
from gicmig.core.rules.context import Context, Section, context_for, violation
from gicmig.core.rules.hypervisor import HYPERVISOR
from gicmig.core.rules.interfaces import CPUS, VIRTUAL
from gicmig.core.rules.interrupts import BANKED, DISTRIBUTOR, SHARED
from gicmig.core.rules.params import config_violations
from gicmig.core.rules.shape import shape_ok, shape_violations
from gicmig.errors import ValidationError, Violation
from gicmig.limits import MAX_PAYLOAD

__all__ = ["SECTIONS", "Section", "check", "check_config", "context_for", "explain",
           "fast_ok", "validate"]

# in report order; the hypervisor section last, as its rules refer to the state's
SECTIONS: tuple[Section, ...] = (DISTRIBUTOR, BANKED, SHARED, CPUS, VIRTUAL, HYPERVISOR)


def validate(state: GicState) -> None:
    """Raise `ValidationError` listing every rule `state` breaks.

    >>> validate(GicState.reset(GicConfig.qemu_virt()))  # a reset GIC is valid
    """
    violations = check(state)
    if violations:
        raise ValidationError(violations)


def check_config(config: GicConfig) -> list[Violation]:
    """The parameter rules alone (run before anything is sized by the parameters)."""
    return list(config_violations(config._pb))


def check(state: GicState) -> list[Violation]:
    """Every rule `state` breaks, in a stable order (parameters, shape, then state).

    >>> state = GicState.reset(GicConfig.qemu_virt(num_cpus=2))
    >>> state.banked[1].edge = 0xFFFE  # SGI 0 of CPU 1 level-triggered
    >>> [str(v) for v in check(state)]
    ['SGI-NOT-EDGE cpu1 irq 0 (SGI 0): level-triggered; SGIs are always edge']
    """
    msg = state._pb
    out = list(config_violations(msg.config))
    if out:
        return out  # the other rules are defined in terms of valid parameters
    ctx = context_for(msg.config.SerializeToString(deterministic=True))
    out = list(_payload_size(msg))
    return out if fast_ok(ctx, msg) else out + explain(ctx, msg)


def _payload_size(msg: Any) -> Iterator[Violation]:
    """What `encode` would refuse to write: only the provenance strings (and fields of a
    newer schema) are unbounded, so a state that passes every other rule can exceed it."""
    size = msg.ByteSize()
    if size > MAX_PAYLOAD:
        p = msg.provenance
        strings = sum(map(len, (p.tool, p.tool_version, p.vmm, p.vmm_version, p.host_kernel)))
        yield violation("PAYLOAD-TOO-LARGE", "payload",
                        f"{size} bytes serialized, more than the {MAX_PAYLOAD} a blob holds "
                        f"(the provenance strings take {strings} characters)")


def fast_ok(ctx: Context, msg: Any) -> bool:
    """Whether no rule fails, from the sections' bulk checks alone."""
    return shape_ok(ctx, msg) and all(s.fast(ctx, msg) for s in SECTIONS)


def explain(ctx: Context, msg: Any) -> list[Violation]:
    """Every violation, named: run only when a bulk check found one."""
    out = list(shape_violations(msg))
    if out:
        return out
    for section in SECTIONS:
        out.extend(section.explain(ctx, msg))
    return out
