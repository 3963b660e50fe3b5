"""The shape of a state: one entry per CPU where the parameters say so, and canonical
(trimmed) vectors. Checked before the sections, which index the state by CPU."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gicmig.arch import labels
from gicmig.core.rules.context import Context
from gicmig.core.rules.context import violation as _v
from gicmig.errors import Violation


def shape_ok(ctx: Context, msg: Any) -> bool:
    st, n = msg.state, ctx.num_cpus
    return (len(st.banked) == n and len(st.cpu) == n
            and len(st.virtual) == (n if ctx.virt else 0))


def shape_violations(msg: Any) -> Iterator[Violation]:
    c, st = msg.config, msg.state
    n = c.num_cpus
    for name in ("banked", "cpu"):
        got = len(getattr(st, name))
        if got != n:
            yield _v("STATE-CPU-COUNT", f"state.{name}", f"{got} entries for {n} CPUs")
    want_virt = n if c.HasField("virtualization") else 0
    if len(st.virtual) != want_virt:
        yield _v("VIRT-PRESENCE", "state.virtual",
                 f"{len(st.virtual)} virtual interfaces, expected {want_virt} "
                 f"({'with' if want_virt else 'without'} virtualization extensions)")
    if msg.HasField("hypervisor") and len(msg.hypervisor.vcpu) != n:
        yield _v("HYP-VCPU-COUNT", "hypervisor.vcpu",
                 f"{len(msg.hypervisor.vcpu)} entries for {n} vCPUs")
    yield from _trimmed(msg)


def _trimmed(msg: Any) -> Iterator[Violation]:
    """Canonical form: no stored vector ends in a zero byte (or a zero list register)."""
    for path, data in _vectors(msg):
        if data[-1:] == b"\0":
            yield _v("PAYLOAD-NOT-CANONICAL", path,
                     "a stored vector ends in a zero byte (trailing zeros must be removed)")
    for c, v in enumerate(msg.state.virtual):
        if len(v.lr) and v.lr[-1] == 0:
            yield _v("PAYLOAD-NOT-CANONICAL", labels.cpu_reg(c, "gich.lr"),
                     "the stored list registers end in a zero LR (trailing ones must be removed)")


_BANKED_VECTORS = ("priority", "sgi_sources", "sgi_active_source")
SHARED_VECTORS = ("enabled", "group", "edge", "pending_latch", "line_level", "active",
                  "pending_split_unknown", "priority", "targets", "active_cpu",
                  "latch_maybe_stale")
_CPU_VECTORS = ("active_group0", "active_group1", "active_group_unknown")


def _vectors(msg: Any) -> Iterator[tuple[str, bytes]]:
    st = msg.state
    for c, b in enumerate(st.banked):
        for f in _BANKED_VECTORS:
            yield f"state.banked[{c}].{f}", getattr(b, f)
    for f in SHARED_VECTORS:
        yield f"state.shared.{f}", getattr(st.shared, f)
    for c, ci in enumerate(st.cpu):
        for f in _CPU_VECTORS:
            yield f"state.cpu[{c}].{f}", getattr(ci, f)
    if msg.HasField("hypervisor"):
        for c, h in enumerate(msg.hypervisor.vcpu):
            yield f"hypervisor.vcpu[{c}].eoi_maintenance", h.eoi_maintenance
