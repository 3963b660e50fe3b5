"""The explicit markers of what a source could not tell (UNKNOWN) in a state, listed."""

from __future__ import annotations

from typing import Any

from gicmig.arch import labels
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.core.model import UNKNOWN_CPU, GicState


def unknown_markers(state: GicState) -> dict[str, Any]:
    """Every UNKNOWN marker of `state` (and every maybe-stale latch), named as in
    messages: what an import could not tell, for its report."""
    split, sgi, spi, apr, stale = [], [], [], {}, []
    for c in state.cpus():
        b = state.banked[c]
        split += [labels.irq(i, c) for i in range(NUM_PRIVATE) if b.pending_split_unknown >> i & 1]
        stale += [labels.irq(i, c) for i in range(NUM_PRIVATE) if b.latch_maybe_stale >> i & 1]
        sgi += [labels.irq(s, c) for s in range(NUM_SGIS) if b.sgi_active_source[s] == UNKNOWN_CPU]
        levels = state.cpu[c].active_group_unknown
        if levels:
            apr[f"cpu{c}"] = labels.group_priorities(levels)
    sh = state.shared
    split += [labels.irq(NUM_PRIVATE + k) for k in range(state.config.num_spis)
              if sh.pending_split_unknown >> k & 1]
    spi = [labels.irq(NUM_PRIVATE + k) for k, v in enumerate(sh.active_cpu) if v == UNKNOWN_CPU]
    stale += [labels.irq(NUM_PRIVATE + k) for k in range(state.config.num_spis)
              if sh.latch_maybe_stale >> k & 1]
    return {"enable_grp1": bool(getattr(state, "enable_grp1_unknown", False)),
            "pending_split": split, "sgi_active_source": sgi, "spi_active_cpu": spi,
            "active_priority_group": apr, "latch_maybe_stale": stale}
