"""What the HTML pages show, in the semantic diff's vocabulary.

An interrupt cell holds one value per attribute, spelled as `gicmig diff` spells it
(`0`/`1`, `unknown`, `0x a0` priorities, `{0,1}` CPU sets, `none`); the register that shows
each attribute comes from the diff's `--registers` mapping. A panel row is keyed by the
diff's path (`cpu0 gicc.ctlr.enable_grp0`, `cpu1 gich.lr2.state`), so a change of the
diff names the row or cell that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from gicmig.arch import labels
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import (
    GICC_ABPR,
    GICC_BPR,
    GICC_CTLR,
    GICC_PMR,
    GICD_CTLR,
    GICD_TYPER,
    GICH_APR,
    GICH_HCR,
    GICH_LR,
    GICH_LR_HW,
    GICH_VMCR,
    GICH_VTR,
    Register,
    lr_layout,
)
from gicmig.core.config import GicConfig
from gicmig.core.model import GicState, Irq
from gicmig.statediff.change import ABSENT, UNKNOWN, Change, field_ref, field_value
from gicmig.statediff.interrupts import irq_register
from gicmig.statediff.semantic import diff

SPI_ATTRS = ("enabled", "group", "edge", "priority", "pending_latch", "line_level", "active",
             "latch_maybe_stale", "active_cpu", "targets")
SGI_ATTRS = ("enabled", "group", "edge", "priority", "pending_latch", "line_level", "active",
             "latch_maybe_stale", "active_source", "sources")
PPI_ATTRS = SGI_ATTRS[:8]
# the list rows of a panel: one row per entry the diff names (an active level, a mapping)
LIST_ROWS = ("gicc.active_priority ", "hyp.hw_mapping ", "hyp.eoi_maintenance ")


@cache
def register_of(attr: str, intid: int) -> str | None:
    """The diff's register reference, once per (attribute, ID): cells of every CPU share it."""
    return irq_register(attr, intid)


def attrs_of(intid: int) -> tuple[str, ...]:
    """The attributes an interrupt of this ID has, in the diff's order."""
    if intid < NUM_SGIS:
        return SGI_ATTRS
    return PPI_ATTRS if intid < NUM_PRIVATE else SPI_ATTRS


@dataclass(frozen=True, slots=True)
class Cell:
    """One interrupt as one CPU sees it (SPIs: cpu None), with its display values."""

    cpu: int | None
    irq: Irq
    num_cpus: int

    @property
    def anchor(self) -> str:
        return f"i{self.irq.intid}" if self.cpu is None else f"c{self.cpu}i{self.irq.intid}"

    def values(self) -> dict[str, str]:
        i = self.irq
        bits = {"enabled": i.enabled, "group": i.group, "edge": i.edge, "active": i.active,
                "pending_latch": i.pending_latch, "line_level": i.line_level,
                "latch_maybe_stale": i.latch_maybe_stale}
        out = {k: "1" if v else "0" for k, v in bits.items()}
        if i.pending_split_unknown:  # the source gave latch OR line only
            out["pending_latch"] = out["line_level"] = UNKNOWN
        out["priority"] = f"{i.priority:#04x}"
        if i.intid >= NUM_PRIVATE:
            out["targets"] = labels.cpus(i.targets)
            out["active_cpu"] = _who(i.active, i.active_cpu)
        elif i.intid < NUM_SGIS:
            out["sources"] = labels.cpus(i.sgi_sources)
            out["active_source"] = _who(i.active, i.sgi_active_source)
        return out

    def glyphs(self) -> tuple[str, str, str]:
        """Three short lines: flags `EPLA`; group, trigger, priority and the active CPU
        (`1↑a0@1`); the CPU set, one slot per CPU (SPI targets, SGI sources: `0·2·`)."""
        i = self.irq
        if i.pending_split_unknown:
            pend = "??" if i.pending_latch else "··"
        else:  # an SGI is pending while any source CPU is
            latch = i.sgi_sources if i.intid < NUM_SGIS else i.pending_latch
            mark = "p" if i.latch_maybe_stale else "P"  # p: the latch may be KVM's stale one
            pend = (mark if latch else "·") + ("L" if i.line_level else "·")
        flags = ("E" if i.enabled else "·") + pend + ("A" if i.active else "·")
        line2 = f"{i.group}{'↑' if i.edge else '‾'}{i.priority:02x}"
        who = ""
        if i.intid >= NUM_PRIVATE:
            line2 += _at(i.active, i.active_cpu)
            who = slots(i.targets, self.num_cpus)
        elif i.intid < NUM_SGIS:
            line2 += _at(i.active, i.sgi_active_source)
            who = slots(i.sgi_sources, self.num_cpus) if i.sgi_sources else ""
        return flags, line2, who

    def classes(self) -> list[str]:
        """CSS classes: e enabled, p pending, a active, g1 group 1, u UNKNOWN marker."""
        i = self.irq
        out = []
        if i.enabled:
            out.append("e")
        if i.pending:
            out.append("p")
        if i.active:
            out.append("a")
        if i.group:
            out.append("g1")
        who = (i.active_cpu if i.intid >= NUM_PRIVATE
               else i.sgi_active_source if i.intid < NUM_SGIS else 0)
        if i.pending_split_unknown or i.latch_maybe_stale or (i.active and who is None):
            out.append("u")  # a marker: latch/line split or stale latch, the active CPU
        return out


def _who(active: bool, who: int | None) -> str:
    """The CPU an interrupt is active on (or from), spelled as the diff spells it (the
    tests check every such value against the diff's)."""
    if who is None:
        return UNKNOWN
    return "none" if not active and not who else str(who)


def _at(active: bool, who: int | None) -> str:
    if not active:
        return ""
    return "@?" if who is None else f"@{who}"


def slots(mask: int, num_cpus: int) -> str:
    """A CPU set as one character per CPU: `0·2·` is {0,2} of 4 CPUs."""
    return "".join(str(c) if mask >> c & 1 else "·" for c in range(num_cpus))


def at_reset(found: dict[str, Cell], config: GicConfig) -> set[str]:
    """The anchors of the cells of `found` that hold their reset values (drawn faint)."""
    reset = cells(GicState.reset(config))
    return {k for k, c in found.items() if c.irq == reset[k].irq}


def cells(st: GicState) -> dict[str, Cell]:
    """Every interrupt cell of a state by anchor: IDs 0-31 per CPU, then the SPIs."""
    out: dict[str, Cell] = {}
    n = st.config.num_cpus
    for c in st.cpus():
        for intid in range(NUM_PRIVATE):
            cell = Cell(c, st.irq(intid, c), n)
            out[cell.anchor] = cell
    for intid in range(NUM_PRIVATE, st.config.num_irqs):
        cell = Cell(None, st.irq(intid), n)
        out[cell.anchor] = cell
    return out


# --- panels ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Row:
    path: str  # the diff's path of this value
    label: str
    value: str
    register: str | None = None
    head: bool = False  # starts a group of rows (a register: its name and word)
    chips: bool = False  # a head whose rows are entries of a list, drawn as chips


@dataclass(slots=True)
class Panel:
    key: str  # anchor
    title: str
    rows: list[Row] = field(default_factory=list)
    lrs: list[list[Row]] = field(default_factory=list)  # GICH: one row of fields per LR


def _head(path: str, label: str, value: str = "", chips: bool = False) -> Row:
    return Row(path, label, value, None, head=True, chips=chips)


def _register_rows(prefix: str, reg: Register, word: int,
                   instance: str | None = None) -> list[Row]:
    rows = [_head(prefix, instance or reg.name, f"{word:#010x}")]
    rows += [Row(f"{prefix}.{f.name}", f.arch, field_value(f, word),
                 field_ref(reg, f.name, instance)) for f in reg.fields]
    reserved = word & reg.reserved_mask
    if reserved:
        rows.append(Row(f"{prefix}.reserved", "reserved", f"{reserved:#x}",
                        f"{instance or reg.name} reserved bits"))
    return rows


def _lr_rows(prefix: str, word: int, instance: str) -> list[Row]:
    """One row per column of either LR layout; `-` where this LR's layout (by its HW bit)
    has no such field, as the diff shows it."""
    layout = lr_layout(word)
    rows = []
    for name in LR_COLUMNS:
        reg = layout if name in layout.unpack(0) else GICH_LR if layout is GICH_LR_HW \
            else GICH_LR_HW
        value = field_value(layout.field(name), word) if reg is layout else "-"
        rows.append(Row(f"{prefix}.{name}", name, value, field_ref(reg, name, instance)))
    reserved = word & layout.reserved_mask
    if reserved:
        rows.append(Row(f"{prefix}.reserved", "reserved", f"{reserved:#x}",
                        f"{instance} reserved bits"))
    return rows


def _bool(v: bool) -> str:
    return "true" if v else "false"


def panels(st: GicState, base: list[Change] | None = None) -> list[Panel]:
    """The non-interrupt state: parameters, distributor, one panel per GICC, GICH and
    hypervisor context, provenance. `base` is `diff(reset, st)` when already computed."""
    if base is None:
        base = from_reset(st)
    listed: dict[str, list[Row]] = {}
    for ch in base:
        for kind in LIST_ROWS:
            cpu, sep, rest = ch.path.partition(" ")
            if sep and rest.startswith(kind):
                listed.setdefault(f"{cpu} {kind.strip()}", []).append(
                    Row(ch.path, rest[len(kind):], ch.new, ch.register))
    cfg = st.config
    gen = Panel("config", "Parameters and distributor")
    gen.rows += [
        _head("config", "implementation parameters"),
        Row("config.revision", "revision", cfg.revision),
        Row("config.num_cpus", "CPUs", str(cfg.num_cpus), field_ref(GICD_TYPER, "cpu_number")),
        Row("config.num_irqs", "interrupt IDs", str(cfg.num_irqs),
            field_ref(GICD_TYPER, "it_lines_number")),
        Row("config.priority_bits", "priority bits", str(cfg.priority_bits)),
        Row("config.min_bpr", "minimum BPR", str(cfg.min_bpr)),
        Row("config.sgi_enables_rao_wi", "SGI enables RAO/WI", _bool(cfg.sgi_enables_rao_wi)),
        Row("config.ppi_trigger_programmable", "PPI trigger programmable",
            _bool(cfg.ppi_trigger_programmable)),
        Row("config.security_extensions", "security extensions", _bool(cfg.security_extensions),
            field_ref(GICD_TYPER, "security_extn")),
    ]
    virt = cfg.virtualization
    if virt is not None:
        for name, fld in (("num_lrs", "list_regs"), ("priority_bits", "pri_bits"),
                          ("preemption_bits", "pre_bits")):
            gen.rows.append(Row(f"config.virtualization.{name}", f"virtual {name}",
                                str(getattr(virt, name)), field_ref(GICH_VTR, fld)))
    gen.rows += [
        _head("distributor", "distributor (GICD_CTLR)"),
        Row("distributor.enable_grp0", "GICD EnableGrp0", "1" if st.enable_grp0 else "0",
            field_ref(GICD_CTLR, "enable_grp0")),
        Row("distributor.enable_grp1", "GICD EnableGrp1",
            UNKNOWN if st.enable_grp1_unknown else "1" if st.enable_grp1 else "0",
            field_ref(GICD_CTLR, "enable_grp1")),
    ]
    out = [gen]
    for c, gicc in enumerate(st.cpu):
        p = Panel(f"cpu{c} gicc", f"cpu{c} CPU interface (GICC)")
        pre = labels.cpu_reg(c, "gicc")
        p.rows += _register_rows(f"{pre}.ctlr", GICC_CTLR, gicc.ctlr)
        p.rows += [
            _head(f"{pre}.priority", "priority masking"),
            Row(f"{pre}.pmr", "PMR", f"{gicc.pmr:#04x}", field_ref(GICC_PMR, "priority")),
            Row(f"{pre}.bpr", "BPR", str(gicc.bpr), field_ref(GICC_BPR, "binary_point")),
            Row(f"{pre}.abpr", "ABPR", str(gicc.abpr), field_ref(GICC_ABPR, "binary_point")),
        ]
        p.rows.append(_head(f"{pre}.active_priority", "active priorities (group priority: "
                            "group)", chips=True))
        p.rows += listed.get(f"{pre}.active_priority", [])
        out.append(p)
    for c, vif in enumerate(st.virtual):
        p = Panel(f"cpu{c} gich", f"cpu{c} virtual interface (GICH)")
        pre = labels.cpu_reg(c, "gich")
        p.rows += _register_rows(f"{pre}.hcr", GICH_HCR, vif.hcr)
        p.rows += _register_rows(f"{pre}.vmcr", GICH_VMCR, vif.vmcr)
        p.rows += [_head(f"{pre}.apr", GICH_APR.name),
                   Row(f"{pre}.apr", "APR", f"{vif.apr:#010x}", GICH_APR.name)]
        for n, lr in enumerate(vif.lr):
            p.lrs.append(_lr_rows(f"{pre}.lr{n}", lr, f"GICH_LR{n}"))
        out.append(p)
    for c, ctx in enumerate(st.hypervisor or []):
        p = Panel(f"cpu{c} hyp", f"cpu{c} hypervisor context (not guest state)")
        pre = labels.cpu_reg(c, "hyp")
        p.rows += _register_rows(f"{pre}.hcr", GICH_HCR, ctx.hcr)
        p.rows.append(_head(f"{pre}.hw_mapping", "HW mappings (virtual: physical)", chips=True))
        p.rows += [Row(r.path, r.label, r.value, r.register)
                   for r in listed.get(f"{pre}.hw_mapping", [])]
        p.rows.append(_head(f"{pre}.eoi_maintenance", "pending EOI maintenance", chips=True))
        p.rows += [Row(r.path, r.label, r.value, r.register)
                   for r in listed.get(f"{pre}.eoi_maintenance", [])]
        out.append(p)
    prov = st.provenance
    pp = Panel("provenance", "Provenance (who wrote this state; never compared)")
    for name in ("tool", "tool_version", "source", "vmm", "vmm_version", "host_kernel"):
        pp.rows.append(Row(f"provenance.{name}", name, str(getattr(prov, name))))
    iidr = prov.gicd_iidr
    pp.rows.append(Row("provenance.gicd_iidr", "GICD_IIDR",
                       ABSENT if iidr is None else f"{iidr:#010x}", "GICD_IIDR"))
    out.append(pp)
    return out


LR_COLUMNS = tuple(dict.fromkeys(f.name for f in (*GICH_LR.fields, *GICH_LR_HW.fields)))


def from_reset(st: GicState) -> list[Change]:
    """What differs from the reset state of the same parameters: the state's facts."""
    return diff(GicState.reset(st.config), st)


def counts(found: dict[str, Cell]) -> dict[str, int]:
    """How many interrupt cells are enabled, pending, active, group 1, UNKNOWN somewhere."""
    out = dict.fromkeys(("e", "p", "a", "g1", "u"), 0)
    for c in found.values():
        for k in c.classes():
            out[k] += 1
    return out
