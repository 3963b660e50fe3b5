"""The interrupt state the GICH converters work on: bitmaps and byte vectors per CPU bank
and for the SPIs, copied out of a state once and written back once."""

from __future__ import annotations

import copy

from gicmig.arch.ids import NUM_PRIVATE
from gicmig.core.model import GicState


# --- import: the LR facts meet the distributor image -------------------------------------------
class Irqs:
    """The interrupt state of a GicState as plain ints and bytearrays, written back once."""

    def __init__(self, st: GicState) -> None:
        sh = st.shared
        self.s_active, self.s_latch, self.s_line = sh.active, sh.pending_latch, sh.line_level
        self.s_edge, self.s_group, self.s_enabled = sh.edge, sh.group, sh.enabled
        self.s_prio, self.s_targets = sh.priority, sh.targets
        self.s_cpu = bytearray(sh.active_cpu)
        self.banks = st.banked
        b = self.banks
        self.b_active = [x.active for x in b]
        self.b_latch = [x.pending_latch for x in b]
        self.b_line = [x.line_level for x in b]
        self.b_edge = [x.edge for x in b]
        self.b_group = [x.group for x in b]
        self.b_enabled = [x.enabled for x in b]
        self.b_prio = [x.priority for x in b]
        self.srcs = [bytearray(x.sgi_sources) for x in b]
        self.asrc = [bytearray(x.sgi_active_source) for x in b]
        self.b_stale = [x.latch_maybe_stale for x in b]
        self.s_stale = sh.latch_maybe_stale

    def clone(self) -> Irqs:
        """A copy whose mutable parts are not shared with this one."""
        twin = copy.copy(self)
        for name in ("b_active", "b_latch", "b_line"):
            setattr(twin, name, list(getattr(self, name)))
        twin.s_cpu = bytearray(self.s_cpu)
        twin.srcs = [bytearray(x) for x in self.srcs]
        twin.asrc = [bytearray(x) for x in self.asrc]
        return twin

    def group(self, v: int, c: int) -> int:
        return (self.b_group[c] >> v if v < NUM_PRIVATE else self.s_group >> (v - NUM_PRIVATE)) & 1

    def priority(self, v: int, c: int) -> int:
        return self.b_prio[c][v] if v < NUM_PRIVATE else self.s_prio[v - NUM_PRIVATE]

    def edge(self, v: int, c: int) -> int:
        return (self.b_edge[c] >> v if v < NUM_PRIVATE else self.s_edge >> (v - NUM_PRIVATE)) & 1

    def write_back(self, st: GicState) -> None:
        sh = st.shared
        sh.active, sh.pending_latch, sh.line_level = self.s_active, self.s_latch, self.s_line
        sh.active_cpu = bytes(self.s_cpu)
        for c, b in enumerate(self.banks):
            b.active, b.pending_latch, b.line_level = (
                self.b_active[c], self.b_latch[c], self.b_line[c])
            b.sgi_sources, b.sgi_active_source = bytes(self.srcs[c]), bytes(self.asrc[c])
