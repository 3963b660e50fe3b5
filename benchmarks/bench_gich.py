"""Issue 3 benchmark: the GICH converter on a maximal view (8 vCPUs x 64 list registers,
1020 interrupt IDs): import + export + equality, against decode + validate of the blob of
the same state, measured in the same run (target <= 10x).
Run: python benchmarks/bench_gich.py"""

from __future__ import annotations

from timing import median_seconds, report

import gicmig
from gicmig.core.attribution import group_priority_level, split_active_levels
from gicmig.core.config import GicConfig
from gicmig.core.model import GicState
from gicmig.views.gich.merge import import_gich
from gicmig.views.gich.params import GichTarget
from gicmig.views.gich.plan import export_gich
from gicmig.views.gich.viewfile import parse_view

VTR64 = 0x9000_003F  # 64 LRs, 5 priority and preemption bits


def maximal_state() -> GicState:
    """8 CPUs, 1020 IDs, every list register of every vCPU in use: 24 active interrupts
    per CPU (SGIs with sources, PPIs, SPIs) and hundreds of pending SPIs spread over the
    CPUs, most of which stay pending in the distributor image."""
    s = GicState.reset(GicConfig(8, 1020, priority_bits=5, min_bpr=2))
    s.enable_grp0 = s.enable_grp1 = True
    n = s.config.num_spis
    sh = s.shared
    sh.enabled, sh.group, sh.edge = (1 << n) - 1, 0x5555 * ((1 << n) // 0xFFFF), (1 << n) - 1
    sh.priority = bytes((8 * k) & 0xF8 for k in range(n))
    sh.targets = bytes(1 << (k % 8) for k in range(n))
    sh.pending_latch = ((1 << n) - 1) & ~((1 << 128) - 1)
    sh.active = (1 << 128) - 1  # SPIs 32..159: 16 per CPU
    sh.active_cpu = bytes(k % 8 for k in range(128))
    for c, b in enumerate(s.banked):
        b.enabled, b.edge = 0xFFFF_FFFF, 0xFFFF
        b.group = 0xAAAA_AAAA
        b.priority = bytes((8 * i) & 0xF8 for i in range(32))
        b.active = 0x00FF_00F0  # SGIs 4-7 and PPIs 16-23
        b.line_level = 0xFF00_0000
        b.sgi_sources = bytes([0xFF] * 16)
        b.sgi_active_source = bytes([0] * 4 + [c] * 4 + [0] * 8)
        ci = s.cpu[c]
        ci.ctlr, ci.pmr, ci.bpr, ci.abpr = 0x203, 0xF8, 2, 3
        _active_priorities(s, c)
    gicmig.validate(s)
    return s


def _active_priorities(s: GicState, c: int) -> None:
    """Active levels of every active interrupt of CPU c, plus two no interrupt explains
    (group unknown), split between the groups as an import of GICH_APR would."""
    b, sh, ci = s.banked[c], s.shared, s.cpu[c]
    active = [(b.priority[v], b.group >> v & 1) for v in range(32) if b.active >> v & 1]
    active += [(sh.priority[k], sh.group >> k & 1) for k in range(s.config.num_spis)
               if sh.active >> k & 1 and sh.active_cpu[k] == c]
    levels = 1 << 0x3C | 1 << 0x7C
    for prio, grp in active:
        levels |= 1 << group_priority_level(prio, grp, ci.ctlr, ci.bpr, ci.abpr)
    split = split_active_levels(levels, active, ci.ctlr, ci.bpr, ci.abpr)
    ci.active_group0, ci.active_group1, ci.active_group_unknown = split


def main() -> None:
    state = maximal_state()
    view = export_gich(state, GichTarget(vtr=VTR64))
    used = sum(1 for r in view.vcpus for x in r.lr if x)
    assert import_gich(view) == state
    blob = gicmig.encode(state)
    text = view.to_json()
    print(f"maximal view: {len(view.vcpus)} vCPUs x {len(view.vcpus[0].lr)} LRs "
          f"({used} in use), {state.config.num_irqs} IDs; blob {len(blob)} bytes")
    ref = median_seconds(lambda: gicmig.decode(blob), runs=30)
    name = "decode + validate of the same state"

    def round_trip() -> bool:
        return import_gich(export_gich(state, GichTarget(vtr=VTR64))) == state

    report([
        ("decode + validate (reference)", ref, ref, name, None),
        ("import + export + equality", median_seconds(round_trip, runs=30), ref, name, 10),
        ("  import_gich", median_seconds(lambda: import_gich(view), runs=30), ref, name, None),
        ("  export_gich", median_seconds(lambda: export_gich(state, GichTarget(vtr=VTR64)),
                                         runs=30), ref, name, None),
        ("  equality", median_seconds(lambda: state == state, runs=30), ref, name, None),
        ("parse_view (JSON, embedded fixture)", median_seconds(lambda: parse_view(text),
                                                               runs=10), ref, name, None),
    ])


if __name__ == "__main__":
    main()
