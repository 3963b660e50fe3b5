"""Semantic diff of two GIC states, in the terms engineers use for a GICv2.

`diff(a, b)` lists what changed from `a` to `b`, one `Change` per line of a report:

    config.num_irqs: 288 -> 320
    irq 40-47 (SPI 8-15) enabled: 0 -> 1            [GICD_ISENABLER1 bits 15:8]
    cpu1 irq 27 (PPI 11) pending_latch: 0 -> 1      [GICD_ISPENDR0 bit 27, banked]
    cpu0 gicc.pmr: 0xf0 -> 0x80                     [GICC_PMR bits 7:0]

Order is fixed: config, distributor, SPIs by ID, then per CPU its banked interrupts,
GICC and GICH virtual interface, then hypervisor context, then provenance. Consecutive
interrupts with the same change fold into one line. Values are display strings: hex for
priorities, PMR and register words, `{0,1}` for CPU sets, `unknown` for an UNKNOWN
marker, `absent` for what exists on one side only (a CPU, an interrupt ID, an LR).
Schema revision and file format are not state: a blob and its JSON fixture are equal.

Speed: each bitmap is compared whole (XOR of two ints), each byte vector through one
C-level XOR and a scan of the non-zero bytes, so the cost grows with the number of
changes, not with the number of interrupts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from gicmig.arch import labels
from gicmig.arch.bitmaps import runs
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import (
    GICC_ABPR,
    GICC_BPR,
    GICC_CTLR,
    GICC_PMR,
    GICD_CTLR,
    GICD_IIDR,
    GICD_TYPER,
    GICH_APR,
    GICH_HCR,
    GICH_LR,
    GICH_VMCR,
    GICH_VTR,
    lr_layout,
)
from gicmig.core.config import GicConfig
from gicmig.core.model import (
    BankedInterrupts,
    CpuInterface,
    GicState,
    VcpuContext,
    VirtualInterface,
)
from gicmig.statediff.change import (
    ABSENT,
    PRESENT,
    UNKNOWN,
    At,
    Change,
    IgnoreMask,
    Missing,
    Value,
    field_changes,
    field_ref,
    pair,
    reg_ref,
    show_bit,
    show_bool,
)
from gicmig.statediff.entries import Diff
from gicmig.statediff.interrupts import banked_changes, spi_changes


def diff(a: GicState, b: GicState, *, ignore: Sequence[str] = ()) -> Diff:
    """What changed from `a` to `b`, in report order; empty when they are the same.

    The result is a list of `Change` (one text line each) that also gives the typed,
    structural form: `entries()` (one `Entry` per fact) and `document()` (the
    `gicmig/diff` JSON document).

    `ignore` holds fnmatch globs over the path (`provenance.*`, `cpu? gicc.pmr`,
    `*irq 42 (SPI 10) *`); a glob that names one interrupt also splits a folded run.

    >>> a = GicState.reset(GicConfig.qemu_virt())
    >>> b = a.copy(); b.cpu[0].pmr = 0x80
    >>> [str(c) for c in diff(a, b)]
    ['cpu0 gicc.pmr: 0x00 -> 0x80']
    """
    if a._pb == b._pb:
        return Diff()
    mask = IgnoreMask(ignore)
    return Diff([c for c in _changes(a, b, mask) if not mask(c.path)])


def _changes(a: GicState, b: GicState, mask: IgnoreMask) -> Iterator[Change]:
    yield from _config(a.config, b.config)
    yield from _distributor(a, b)
    yield from spi_changes(a, b, mask)
    resets = _Resets(a, b)
    for c in range(max(a.config.num_cpus, b.config.num_cpus)):
        yield from _cpu(a, b, c, mask, resets)
    yield from _hypervisor(a, b)
    yield from _provenance(a, b)


# --- parameters, distributor, provenance ---------------------------------------------------
_TYPER_FIELDS = {"num_cpus": "cpu_number", "num_irqs": "it_lines_number",
                 "security_extensions": "security_extn"}
_CONFIG_NAMES = ("num_cpus", "num_irqs", "priority_bits", "min_bpr", "sgi_enables_rao_wi",
                 "ppi_trigger_programmable", "security_extensions")
_VTR_FIELDS = (("num_lrs", "list_regs"), ("priority_bits", "pri_bits"),
               ("preemption_bits", "pre_bits"))
# The register reference (text) and the structural address of each shared fact, built once.
_CONFIG_REG = {name: field_ref(GICD_TYPER, f) for name, f in _TYPER_FIELDS.items()}
_CONFIG_AT = {name: At("config", name, reg=reg_ref(GICD_TYPER, _TYPER_FIELDS[name])
                       if name in _TYPER_FIELDS else None)
              for name in ("revision", "virtualization", *_CONFIG_NAMES)}
_VTR_REG = {name: field_ref(GICH_VTR, f) for name, f in _VTR_FIELDS}
_VTR_AT = {name: At("config", f"virtualization.{name}", reg=reg_ref(GICH_VTR, f))
           for name, f in _VTR_FIELDS}
_CTLR_REG = {name: field_ref(GICD_CTLR, name) for name in ("enable_grp0", "enable_grp1")}
_CTLR_AT = {name: At("distributor", name, reg=reg_ref(GICD_CTLR, name))
            for name in ("enable_grp0", "enable_grp1")}
_PROVENANCE = ("tool", "tool_version", "source", "vmm", "vmm_version", "gicd_iidr",
               "host_kernel")
_PROV_AT = {name: At("provenance", name, reg=reg_ref(GICD_IIDR) if name == "gicd_iidr"
                     else None) for name in _PROVENANCE}


def _config(ca: GicConfig, cb: GicConfig) -> Iterator[Change]:
    yield from pair("config.revision", ca.revision, cb.revision,
                    at=_CONFIG_AT["revision"], values=(ca.revision, cb.revision))
    for name in _CONFIG_NAMES:
        va, vb = getattr(ca, name), getattr(cb, name)
        if va == vb:
            continue
        show = show_bool if isinstance(va, bool) else str
        yield from pair(f"config.{name}", show(va), show(vb), register=_CONFIG_REG.get(name),
                        at=_CONFIG_AT[name], values=(va, vb))
    va, vb = ca.virtualization, cb.virtualization
    if va is None and vb is None:
        return
    yield from pair("config.virtualization", ABSENT if va is None else PRESENT,
                    ABSENT if vb is None else PRESENT, at=_CONFIG_AT["virtualization"],
                    values=(va is not None, vb is not None))
    for name, _ in _VTR_FIELDS:
        ta: Value = Missing.ABSENT if va is None else getattr(va, name)
        tb: Value = Missing.ABSENT if vb is None else getattr(vb, name)
        yield from pair(f"config.virtualization.{name}", _show(ta), _show(tb),
                        register=_VTR_REG[name], at=_VTR_AT[name], values=(ta, tb))


def _show(value: Value) -> str:
    return value.value if isinstance(value, Missing) else str(value)


def _distributor(a: GicState, b: GicState) -> Iterator[Change]:
    yield from pair("distributor.enable_grp0", show_bit(a.enable_grp0), show_bit(b.enable_grp0),
                    register=_CTLR_REG["enable_grp0"], at=_CTLR_AT["enable_grp0"],
                    values=(bool(a.enable_grp0), bool(b.enable_grp0)))

    def grp1(st: GicState) -> str:
        return UNKNOWN if st.enable_grp1_unknown else show_bit(st.enable_grp1)

    def grp1_value(st: GicState) -> Value:
        return Missing.UNKNOWN if st.enable_grp1_unknown else bool(st.enable_grp1)

    old, new = grp1(a), grp1(b)
    if old != new:
        yield from pair("distributor.enable_grp1", old, new, register=_CTLR_REG["enable_grp1"],
                        at=_CTLR_AT["enable_grp1"], values=(grp1_value(a), grp1_value(b)))


def _provenance(a: GicState, b: GicState) -> Iterator[Change]:
    pa, pb = a.provenance, b.provenance
    for name in _PROVENANCE:
        va, vb = getattr(pa, name), getattr(pb, name)
        if va == vb:
            continue
        yield from pair(f"provenance.{name}", _prov(name, va), _prov(name, vb),
                        register=GICD_IIDR.name if name == "gicd_iidr" else None,
                        at=_PROV_AT[name], values=(_prov_value(va), _prov_value(vb)))


def _prov_value(value: str | int | None) -> Value:
    return Missing.ABSENT if value is None else value  # only gicd_iidr is optional


def _prov(name: str, value: str | int | None) -> str:
    if name == "gicd_iidr":
        return ABSENT if value is None else f"{value:#010x}"
    if name == "source":
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- per CPU ------------------------------------------------------------------------------
class _Resets:
    """Reset states of each side's parameters: stand-ins for a CPU, a virtual interface
    or an LR that exists on the other side only (built on first use)."""

    def __init__(self, a: GicState, b: GicState) -> None:
        self._states = (a, b)
        self._reset: dict[int, GicState] = {}

    def of(self, side: int) -> GicState:
        if side not in self._reset:
            self._reset[side] = GicState.reset(self._states[side].config)
        return self._reset[side]


def _cpu(a: GicState, b: GicState, c: int, mask: IgnoreMask, resets: _Resets) -> Iterator[Change]:
    has = (c < a._pb.config.num_cpus, c < b._pb.config.num_cpus)
    absent = (not has[0], not has[1])
    if has[0] != has[1]:
        yield Change(f"cpu{c}", ABSENT if absent[0] else PRESENT, ABSENT if absent[1] else PRESENT,
                     where=At("cpu", "present", c), values=has)
    # a side without this CPU compares as the other side's reset CPU, shown `absent`
    sa = a if has[0] else resets.of(1)
    sb = b if has[1] else resets.of(0)
    pa, pb = sa._pb.state, sb._pb.state
    if pa.banked[c] != pb.banked[c]:  # one CPU's façade each, not the list of every CPU's
        yield from banked_changes(BankedInterrupts(pa.banked[c]), BankedInterrupts(pb.banked[c]),
                                  c, has, mask)
    if pa.cpu[c] != pb.cpu[c]:
        yield from _gicc(c, sa.cpu[c], sb.cpu[c], absent)
    yield from _gich(c, sa, sb, absent, resets)


def _gicc(c: int, ia: CpuInterface, ib: CpuInterface,
          absent: tuple[bool, bool]) -> Iterator[Change]:
    yield from field_changes(labels.cpu_reg(c, "gicc.ctlr"), (GICC_CTLR, GICC_CTLR),
                             (ia.ctlr, ib.ctlr), absent, at=At("gicc", "ctlr", c))
    for name, reg, fmt in _GICC_WORDS:
        va, vb = getattr(ia, name), getattr(ib, name)
        if va != vb:
            field = reg.fields[0].name  # the one field of GICC_PMR, _BPR, _ABPR
            yield from pair(labels.cpu_reg(c, f"gicc.{name}"), format(va, fmt), format(vb, fmt),
                            absent, field_ref(reg, field),
                            At("gicc", name, c, reg=reg_ref(reg, field)), (va, vb))
    ga = (ia.active_group0, ia.active_group1, ia.active_group_unknown)
    gb = (ib.active_group0, ib.active_group1, ib.active_group_unknown)
    changed = (ga[0] ^ gb[0]) | (ga[1] ^ gb[1]) | (ga[2] ^ gb[2])
    for first, last in runs(changed):
        for level in range(first, last + 1):
            path = labels.cpu_reg(c, f"gicc.active_priority {2 * level:#04x}")
            yield from pair(path, _level(ga, level), _level(gb, level), absent,
                            at=("gicc", "active_priority", c, None, None, 2 * level, None,
                                None),
                            values=(_level_value(ga, level), _level_value(gb, level)))


_GICC_WORDS = (("pmr", GICC_PMR, "#04x"), ("bpr", GICC_BPR, "d"), ("abpr", GICC_ABPR, "d"))


def _level(groups: tuple[int, int, int], level: int) -> str:
    """Which group an active priority level belongs to (`inactive` when none)."""
    names = [n for n, m in zip(("group0", "group1", UNKNOWN), groups, strict=True)
             if m >> level & 1]
    return "+".join(names) or "inactive"


def _level_value(groups: tuple[int, int, int], level: int) -> Value:
    """The group (0 or 1) an active priority level belongs to: None when inactive,
    unknown where the group is not known; a valid state has at most one."""
    if groups[2] >> level & 1:
        return Missing.UNKNOWN
    if groups[0] >> level & 1:
        return 0
    return 1 if groups[1] >> level & 1 else None


def _gich(c: int, a: GicState, b: GicState, absent: tuple[bool, bool],
          resets: _Resets) -> Iterator[Change]:
    ma, mb = a._pb.state.virtual, b._pb.state.virtual
    has = (bool(ma) and not absent[0], bool(mb) and not absent[1])
    if not (has[0] or has[1]) or (has[0] and has[1] and ma[c] == mb[c]):
        return
    if has[0] != has[1] and not absent[0] and not absent[1]:
        yield Change(labels.cpu_reg(c, "gich"), PRESENT if has[0] else ABSENT,
                     PRESENT if has[1] else ABSENT, where=At("gich", "present", c), values=has)
    # a side without this virtual interface compares as the other side's reset one
    ia = a.virtual[c] if has[0] else resets.of(1).virtual[c]
    ib = b.virtual[c] if has[1] else resets.of(0).virtual[c]
    gone = (not has[0], not has[1])
    yield from field_changes(labels.cpu_reg(c, "gich.hcr"), (GICH_HCR, GICH_HCR),
                             (ia.hcr, ib.hcr), gone, at=At("gich", "hcr", c))
    yield from field_changes(labels.cpu_reg(c, "gich.vmcr"), (GICH_VMCR, GICH_VMCR),
                             (ia.vmcr, ib.vmcr), gone, at=At("gich", "vmcr", c))
    if ia.apr != ib.apr:
        yield from pair(labels.cpu_reg(c, "gich.apr"), f"{ia.apr:#010x}", f"{ib.apr:#010x}", gone,
                        GICH_APR.name, At("gich", "apr", c, reg=reg_ref(GICH_APR)),
                        (ia.apr, ib.apr))
    yield from _lrs(c, ia, ib, gone)


def _lrs(c: int, ia: VirtualInterface, ib: VirtualInterface,
         gone: tuple[bool, bool]) -> Iterator[Change]:
    la, lb = ia.lr, ib.lr
    for n in range(max(len(la), len(lb))):
        va = la[n] if n < len(la) else 0
        vb = lb[n] if n < len(lb) else 0
        absent = (gone[0] or n >= len(la), gone[1] or n >= len(lb))
        yield from field_changes(labels.cpu_reg(c, f"gich.lr{n}"), (lr_layout(va), lr_layout(vb)),
                                 (va, vb), absent, f"GICH_LR{n}", At("gich", "lr", c, lr=n),
                                 GICH_LR.offset + 4 * n)


# --- hypervisor context ---------------------------------------------------------------------
def _hypervisor(a: GicState, b: GicState) -> Iterator[Change]:
    ha, hb = a.hypervisor, b.hypervisor
    if ha is None and hb is None:
        return
    yield from pair("hypervisor", ABSENT if ha is None else PRESENT,
                    ABSENT if hb is None else PRESENT, at=At("hypervisor", "present"),
                    values=(ha is not None, hb is not None))
    ca, cb = ha or [], hb or []
    for c in range(max(len(ca), len(cb))):
        xa = ca[c] if c < len(ca) else None
        xb = cb[c] if c < len(cb) else None
        if xa is not None and xb is not None and xa._pb == xb._pb:
            continue
        yield from _vcpu_context(c, xa, xb)


def _vcpu_context(c: int, xa: VcpuContext | None, xb: VcpuContext | None) -> Iterator[Change]:
    absent = (xa is None, xb is None)
    yield from field_changes(labels.cpu_reg(c, "hyp.hcr"), (GICH_HCR, GICH_HCR),
                             (xa.hcr if xa else 0, xb.hcr if xb else 0), absent,
                             at=At("hyp", "hcr", c))
    maps_a, maps_b = _hw_maps(xa), _hw_maps(xb)
    for v in sorted(maps_a.keys() | maps_b.keys()):
        path = labels.cpu_reg(c, f"hyp.hw_mapping {labels.irq(v)}")
        pa, pb = maps_a.get(v, ()), maps_b.get(v, ())
        yield from pair(path, _phys(pa), _phys(pb), absent, at=At("hyp", "hw_mapping", c, (v, v)),
                        values=(pa, pb))
    ea = xa.eoi_maintenance if xa else 0
    eb = xb.eoi_maintenance if xb else 0
    flips = sorted([(f, la, "0", "1") for f, la in runs(eb & ~ea)]
                   + [(f, la, "1", "0") for f, la in runs(ea & ~eb)])
    for first, last, old, new in flips:
        for lo, hi in _kind_spans(first, last):
            path = labels.cpu_reg(c, f"hyp.eoi_maintenance {labels.irq_range(lo, hi)}")
            yield from pair(path, old, new, absent, at=At("hyp", "eoi_maintenance", c, (lo, hi)),
                            values=(old == "1", new == "1"))


def _hw_maps(ctx: VcpuContext | None) -> dict[int, tuple[int, ...]]:
    """Virtual ID -> the physical IDs it is mapped to (sorted)."""
    maps: dict[int, list[int]] = {}
    for m in ctx.hw_mappings if ctx else ():
        maps.setdefault(m.virtual_id, []).append(m.physical_id)
    return {v: tuple(sorted(ps)) for v, ps in maps.items()}


def _phys(ids: tuple[int, ...]) -> str:
    return ",".join(str(p) for p in ids) or "none"


def _kind_spans(first: int, last: int) -> Iterator[tuple[int, int]]:
    """Split an ID range where SGIs end and PPIs end, so each part has one kind."""
    lo = first
    for cut in (NUM_SGIS, NUM_PRIVATE):
        if lo < cut <= last:
            yield lo, cut - 1
            lo = cut
    yield lo, last
