"""Reporting the folded CPU interfaces of a nested guest (`import qemu --nested`)."""

from __future__ import annotations

from typing import Any

from gicmig.arch import bitmaps, labels
from gicmig.arch.ids import NUM_SGIS
from gicmig.arch.registers import GICC_CTLR
from gicmig.views.gich.fold import LrFact
from gicmig.views.gich.nested import NestedCpu, fold_groups

_STATES = {(True, False): "pending", (False, True): "active", (True, True): "pending+active"}


def _lr(f: LrFact, typed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"lr": f.lr_index, "irq": f.intid,
                           "state": _STATES.get((f.pending, f.active), "invalid"),
                           "group": f.group,
                           "priority": f.priority if typed else f"{f.priority:#04x}"}
    if f.intid < NUM_SGIS:  # an SGI's LR names its source CPU
        out["source"] = f.source
    if f.eoi:
        out["eoi"] = True
    return out


def nested_records(results: list[NestedCpu], *, typed: bool = False) -> list[dict[str, Any]]:
    """One record per CPU; `typed`: numbers as integers (the JSON document), else as the
    text report writes them (hex strings)."""
    def levels(mask: int) -> list[Any]:
        return [2 * lv for lv in bitmaps.set_bits(mask)] if typed \
            else labels.group_priorities(mask)

    out = []
    for r in results:
        rec: dict[str, Any] = {"cpu": r.cpu, "ok": not r.problems}
        if r.fold is not None:
            f = r.fold
            rec["interface"] = {"ctlr": GICC_CTLR.flags(f.ctlr),
                                "pmr": f.pmr if typed else f"{f.pmr:#04x}",
                                "bpr": f.bpr, "abpr": f.abpr,
                                "active_priorities": levels(f.active_levels)}
            g0, g1, unk = fold_groups(f)
            rec["interface"]["active_groups"] = {
                "group0": levels(g0), "group1": levels(g1), "unknown": levels(unk)}
            rec["lrs"] = [_lr(x, typed) for x in f.lrs]
            rec["hypervisor"] = {"hcr": f.hcr if typed else f"{f.hcr:#010x}",
                                 "hw_mappings": [[m.virtual_id, m.physical_id]
                                                 for m in f.hw_mappings]}
        rec["errors"] = [{"code": v.code, "place": v.path, "message": v.message}
                         for v in r.problems]
        out.append(rec)
    return out


def nested_text(results: list[NestedCpu]) -> list[str]:
    lines = []
    for rec in nested_records(results):
        head = f"nested cpu{rec['cpu']}"
        if not rec["ok"]:
            lines.append(f"refused {head}: {len(rec['errors'])} problem(s)")
            lines += [f"{e['place']}: {e['code']} {e['message']}" for e in rec["errors"]]
            continue
        i = rec["interface"]
        groups = i["active_groups"]
        split = "".join(f" {name} {groups[key]}" for key, name in (
            ("group0", "group 0"), ("group1", "group 1"), ("unknown", "group unknown"))
                        if groups[key])
        lines.append(f"{head} gicc: ctlr {i['ctlr']} pmr {i['pmr']} bpr {i['bpr']} "
                     f"abpr {i['abpr']} active {i['active_priorities']}{split}")
        lines += [f"{head} lr{x['lr']}: {labels.irq(x['irq'])} {x['state']} group "
                  f"{x['group']} priority {x['priority']}" for x in rec["lrs"]]
    return lines
