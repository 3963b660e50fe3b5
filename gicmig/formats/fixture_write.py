"""Writing the JSON fixture: state -> document -> deterministic text.

Only values that differ from reset are written (see `gicmig.formats.fixture` for the format).
Layout: the containers named in `_EXPANDED` get one member per line; every other
object or list is written on one line, so a change to one interrupt changes one line.
"""

from __future__ import annotations

import json
from typing import Any, Final

from gicmig.arch import bitmaps, labels
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import GICC_CTLR, GICH_HCR, GICH_VMCR, LR_STATES, Register, lr_layout
from gicmig.core.model import UNKNOWN_CPU, GicState

FORMAT: Final = "gicmig-fixture/1"  # written here, required by the reader in fixture.py

Doc = dict[str, Any]


def state_to_doc(state: GicState) -> Doc:
    config = state.config
    doc: Doc = {"format": FORMAT, "schema_revision": state.schema_revision,
                "provenance": _provenance(state), "config": _config(state)}
    dist = {k: v for k, v in (("enable_grp0", state.enable_grp0),
                              ("enable_grp1", state.enable_grp1),
                              ("enable_grp1_unknown", state.enable_grp1_unknown)) if v}
    if dist:
        doc["distributor"] = dist
    spis = _spis(state)
    if spis:
        doc["spis"] = spis
    doc["cpus"] = [_cpu(state, c) for c in range(config.num_cpus)]
    hyp = state.hypervisor
    if hyp is not None:
        doc["hypervisor"] = [_vcpu_context(v) for v in hyp]
    return doc


def _provenance(state: GicState) -> Doc:
    p = state.provenance
    out: Doc = {k: v for k, v in (("tool", p.tool), ("tool_version", p.tool_version),
                                  ("source", p.source), ("vmm", p.vmm),
                                  ("vmm_version", p.vmm_version)) if v}
    if p.gicd_iidr is not None:
        out["gicd_iidr"] = f"{p.gicd_iidr:#010x}"
    if p.host_kernel:
        out["host_kernel"] = p.host_kernel
    return out


def _config(state: GicState) -> Doc:
    c = state.config
    out: Doc = {"revision": c.revision, "num_cpus": c.num_cpus, "num_irqs": c.num_irqs,
                "priority_bits": c.priority_bits, "min_bpr": c.min_bpr,
                "sgi_enables_rao_wi": c.sgi_enables_rao_wi,
                "ppi_trigger_programmable": c.ppi_trigger_programmable}
    if c.security_extensions:
        out["security_extensions"] = True
    v = c.virtualization
    if v is not None:
        out["virtualization"] = {"num_lrs": v.num_lrs, "priority_bits": v.priority_bits,
                                 "preemption_bits": v.preemption_bits}
    return out


def _who(byte: int) -> int | str:
    return "unknown" if byte == UNKNOWN_CPU else byte


_FLAGS = ("pending_latch", "line_level", "pending_split_unknown", "active", "latch_maybe_stale")


def _entry(bits: dict[str, int], k: int, sgi: bool, prio: int) -> Doc:
    """The non-reset fields of element k (in a fixed key order)."""
    e: Doc = {}
    enabled, edge = bits["enabled"] >> k & 1, bits["edge"] >> k & 1
    if enabled != sgi:
        e["enabled"] = bool(enabled)
    if bits["group"] >> k & 1:
        e["group"] = 1
    if edge != sgi:
        e["edge"] = bool(edge)
    if prio:
        e["priority"] = f"{prio:#04x}"
    for name in _FLAGS:
        if bits[name] >> k & 1:
            e[name] = True
    return e


def _spis(state: GicState) -> Doc:
    sh = state.shared
    bits = {n: getattr(sh, n) for n in ("enabled", "group", "edge", *_FLAGS)}
    prio, targets, active_cpu = sh.priority, sh.targets, sh.active_cpu
    out: Doc = {}
    for k in range(state.config.num_spis):
        e = _entry(bits, k, False, prio[k])
        if bits["active"] >> k & 1:
            e["active_cpu"] = _who(active_cpu[k])
        if targets[k]:
            e["targets"] = list(bitmaps.set_bits(targets[k]))
        if e:
            out[str(NUM_PRIVATE + k)] = e
    return out


def _irqs(state: GicState, c: int) -> Doc:
    b = state.banked[c]
    bits = {n: getattr(b, n) for n in ("enabled", "group", "edge", *_FLAGS)}
    prio, sources, active_src = b.priority, b.sgi_sources, b.sgi_active_source
    out: Doc = {}
    for i in range(NUM_PRIVATE):
        sgi = i < NUM_SGIS
        e = _entry(bits, i, sgi, prio[i])
        if sgi and sources[i]:
            e["sources"] = list(bitmaps.set_bits(sources[i]))
        if sgi and bits["active"] >> i & 1:
            e["active_source"] = _who(active_src[i])
        if e:
            out[str(i)] = e
    return out


def _interface(state: GicState, c: int) -> Doc:
    ci, config = state.cpu[c], state.config
    out: Doc = {}
    if ci.ctlr:
        out["ctlr"] = GICC_CTLR.flags(ci.ctlr)
    if ci.pmr:
        out["pmr"] = f"{ci.pmr:#04x}"
    if ci.bpr != config.min_bpr:
        out["bpr"] = ci.bpr
    if ci.abpr != config.min_abpr:
        out["abpr"] = ci.abpr
    for name in ("active_group0", "active_group1", "active_group_unknown"):
        levels = getattr(ci, name)
        if levels:
            out[name] = labels.group_priorities(levels)
    return out


def _fields(reg: Register, value: int) -> Doc:
    return {f.name: v for f, v in ((f, f.get(value)) for f in reg.fields) if v}


def _lr(value: int) -> Doc:
    fields = _fields(lr_layout(value), value)
    out: Doc = {"state": LR_STATES[fields.pop("state", 0)]}
    for name, v in fields.items():
        out[name] = f"{v:#x}" if name == "priority" else v
    return out


def _cpu(state: GicState, c: int) -> Doc:
    out: Doc = {"cpu": c}
    interface = _interface(state, c)
    if interface:
        out["interface"] = interface
    irqs = _irqs(state, c)
    if irqs:
        out["irqs"] = irqs
    if state.config.virtualization is not None:
        v = state.virtual[c]
        out["virtual"] = {"hcr": _fields(GICH_HCR, v.hcr), "vmcr": _fields(GICH_VMCR, v.vmcr),
                          "apr": f"{v.apr:#010x}", "lr": [_lr(x) for x in v._pb.lr]}
    return out


def _vcpu_context(v: Any) -> Doc:
    return {"hcr": _fields(GICH_HCR, v.hcr),
            "hw_mappings": [{"virtual_id": m.virtual_id, "physical_id": m.physical_id}
                            for m in v.hw_mappings],
            "eoi_maintenance": list(bitmaps.set_bits(v.eoi_maintenance))}


# --- text -----------------------------------------------------------------------------------
_EXPANDED = {(), ("spis",), ("cpus",), ("cpus", "*"), ("cpus", "*", "irqs"),
             ("cpus", "*", "virtual"), ("cpus", "*", "virtual", "lr"), ("hypervisor",)}


def write_doc(doc: Doc) -> str:
    return _write(doc, (), 0) + "\n"


def _inline(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


def _write(value: Any, path: tuple[str, ...], depth: int) -> str:
    if path not in _EXPANDED or not value:
        return _inline(value)
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {_write(v, (*path, k), depth + 1)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    items = [f"{inner}{_write(v, (*path, '*'), depth + 1)}" for v in value]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"
