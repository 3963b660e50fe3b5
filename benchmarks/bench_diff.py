"""Issue 5 benchmarks: the semantic diff of `max` against a copy with every interrupt
changed and against a copy with one bit changed, each against deepdiff on the same two
states as plain dicts (one dict per interrupt, as a deepdiff user would write them), and
the one-bit case against decode+validate of `max`, all measured in the same run.

Targets: all-changed >= 50x faster than deepdiff; one-bit <= 5x decode+validate.
Run: python benchmarks/bench_diff.py   (deepdiff is a benchmark-only dependency)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from timing import fmt, median_seconds, report

import gicmig
from gicmig.arch.ids import NUM_PRIVATE
from gicmig.core.model import GicState
from gicmig.statediff.semantic import diff

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "v1"


def every_interrupt_changed(state: GicState) -> GicState:
    """Every interrupt's priority moves, and every SPI/PPI flips its enable."""
    out = state.copy()
    step = 1 << (8 - state.config.priority_bits)
    sh = out.shared
    sh.priority = bytes((p + step) & 0xFF for p in sh.priority)
    sh.enabled ^= (1 << state.config.num_spis) - 1
    for b in out.banked:
        b.priority = bytes((p + step) & 0xFF for p in b.priority)
        b.enabled ^= 0xFFFF_0000
    return out


def one_bit_changed(state: GicState) -> GicState:
    out = state.copy()
    out.shared.pending_latch ^= 1 << 500  # irq 532 (SPI 500), an edge or level SPI
    return out


def as_dicts(state: GicState) -> dict[str, Any]:
    """The state as nested plain dicts and lists, one dict per interrupt."""
    def irq(intid: int, cpu: int) -> dict[str, Any]:
        i = state.irq(intid, cpu)
        return {k: getattr(i, k) for k in (
            "enabled", "group", "edge", "priority", "pending_latch", "line_level", "active",
            "pending_split_unknown", "targets", "active_cpu", "sgi_sources",
            "sgi_active_source")}

    c = state.config
    return {
        "config": {"num_cpus": c.num_cpus, "num_irqs": c.num_irqs,
                   "priority_bits": c.priority_bits, "min_bpr": c.min_bpr},
        "distributor": {"enable_grp0": state.enable_grp0, "enable_grp1": state.enable_grp1},
        "spis": [irq(i, 0) for i in range(NUM_PRIVATE, c.num_irqs)],
        "cpus": [{
            "irqs": [irq(i, n) for i in range(NUM_PRIVATE)],
            "gicc": {"ctlr": ci.ctlr, "pmr": ci.pmr, "bpr": ci.bpr, "abpr": ci.abpr,
                     "active_group0": ci.active_group0, "active_group1": ci.active_group1,
                     "active_group_unknown": ci.active_group_unknown},
            "gich": ({"hcr": v.hcr, "vmcr": v.vmcr, "apr": v.apr, "lr": list(v.lr)}
                     if state.virtual else None),
        } for n, (ci, v) in enumerate(zip(state.cpu, state.virtual or [None] * c.num_cpus,
                                          strict=True))],
        "provenance": {"tool": state.provenance.tool, "source": state.provenance.source},
    }


def main() -> None:
    blob = (V1 / "max.gicmig").read_bytes()
    base = gicmig.decode(blob)
    allc, onebit = every_interrupt_changed(base), one_bit_changed(base)
    print(f"max: {base.config.num_cpus} CPUs, {base.config.num_irqs} IDs; "
          f"all-changed: {len(diff(base, allc))} lines, one-bit: {len(diff(base, onebit))} line")
    t_all = median_seconds(lambda: diff(base, allc), runs=30)
    t_one = median_seconds(lambda: diff(base, onebit), runs=50)
    t_dec = median_seconds(lambda: gicmig.decode(blob), runs=50)
    rows = [("decode + validate of max (reference)", t_dec, t_dec, "decode+validate", None),
            ("diff, one bit changed", t_one, t_dec, "decode+validate", 5)]
    try:
        from deepdiff import DeepDiff
    except ImportError:
        print("deepdiff is not installed: the deepdiff ratios are not measured "
              "(pip install deepdiff)")
        report(rows)
        return
    da, d_all, d_one = as_dicts(base), as_dicts(allc), as_dicts(onebit)
    dd_all = median_seconds(lambda: DeepDiff(da, d_all), runs=5, inner=1)
    dd_one = median_seconds(lambda: DeepDiff(da, d_one), runs=5, inner=1)
    report(rows)
    print()
    print(f"{'operation':44} {'median':>12} {'deepdiff':>12} {'speed-up':>9}  (target)")
    for name, ours, theirs, target in (("diff, every interrupt changed", t_all, dd_all, 50),
                                       ("diff, one bit changed", t_one, dd_one, None)):
        ratio = theirs / ours
        goal = "" if target is None else f"  (>= {target}x {'ok' if ratio >= target else 'MISSED'})"
        print(f"{name:44} {fmt(ours):>12} {fmt(theirs):>12} {ratio:8.1f}x{goal}")


if __name__ == "__main__":
    main()
