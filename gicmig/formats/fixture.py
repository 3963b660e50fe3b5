"""The JSON fixture: the readable, lossless, diff-friendly form of a gicmig state.

Format `gicmig-fixture/1` (JSON Schema: `gicmig schema json`, `schemas/fixture-1.schema.json`):

* Parameters (`config`) are always written in full; everything else is written only where it
  differs from the reset value, so a reset GIC is a few lines.
* One line per interrupt that is not at reset: SPIs under `spis`, IDs 0-31 per CPU under
  `cpus[c].irqs`, keyed by interrupt ID. Reset means: SGIs enabled and edge-triggered,
  everything else 0 / level-triggered. Sets of CPUs are lists (`"targets": [0, 1]`),
  priorities and register words hex strings, `"unknown"` marks an UNKNOWN fact.
* GICH registers are written field by field, using the register tables.
* Deterministic: the same state always gives the same text (key order and line breaks
  fixed), so blob -> JSON -> blob is byte-identical and JSON -> blob -> JSON text-identical.

The pydantic models below define what a fixture may contain; the JSON Schema is
generated from them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic import ValidationError as PydanticError

from gicmig.arch import bitmaps
from gicmig.arch.ids import MAX_CPUS, NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import (
    GICC_CTLR,
    GICH_HCR,
    GICH_LR,
    GICH_VMCR,
    LR_STATES,
    Register,
    lr_layout,
)
from gicmig.core.config import REVISIONS, GicConfig
from gicmig.core.model import (
    RESET_BANKED,
    SCHEMA_REVISION,
    SOURCE_NAMES,
    UNKNOWN_CPU,
    GicState,
    HwMapping,
)
from gicmig.core.rules import check_config, validate
from gicmig.errors import DecodeError, ValidationError, Violation
from gicmig.formats.fixture_errors import FixtureShapeError, shape_error
from gicmig.formats.fixture_write import FORMAT, state_to_doc, write_doc
from gicmig.limits import loads_json


def _hex(value: Any) -> Any:
    if isinstance(value, str):
        if not value.lower().startswith("0x"):
            raise ValueError(f"{value!r} is not a 0x... hex number")
        try:
            return int(value, 16)
        except ValueError:
            raise ValueError(f"{value!r} is not a 0x... hex number") from None
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true/false")
    return value


Hex = Annotated[
    int,
    BeforeValidator(_hex),
    Field(ge=0, le=0xFFFF_FFFF),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0, "maximum": 0xFFFFFFFF},
                              {"type": "string", "pattern": "^0[xX][0-9a-fA-F]{1,8}$"}]}),
]
U32 = Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
Cpu = Annotated[int, Field(ge=0, le=MAX_CPUS - 1)]
IntId = Annotated[int, Field(ge=0, le=1023)]
CpuOrUnknown = Cpu | Literal["unknown"]
FieldMap = dict[str, Hex]  # a register written field by field


class _Strict(BaseModel):
    # strict: "2" and 2.0 are not integers, 1 is not true (hex strings pass through _hex)
    model_config = ConfigDict(extra="forbid", strict=True)


class ProvenanceJ(_Strict):
    tool: str = ""
    tool_version: str = ""
    source: Literal["unspecified", "fixture", "gich", "kvm-abi", "qemu-tcg", "qemu-kvm"] = (
        "unspecified")
    vmm: str = ""
    vmm_version: str = ""
    gicd_iidr: Hex | None = None
    host_kernel: str = ""


class VirtualizationJ(_Strict):
    num_lrs: U32
    priority_bits: U32
    preemption_bits: U32


class ConfigJ(_Strict):
    revision: Literal["GICv1", "GICv2"]
    num_cpus: U32
    num_irqs: U32
    priority_bits: U32
    min_bpr: U32
    sgi_enables_rao_wi: bool
    ppi_trigger_programmable: bool
    security_extensions: bool = False
    virtualization: VirtualizationJ | None = None


class DistributorJ(_Strict):
    enable_grp0: bool = False
    enable_grp1: bool = False
    enable_grp1_unknown: bool = False  # schema revision 2: EnableGrp1 not known


class IrqJ(_Strict):
    """One interrupt; absent keys hold their reset value."""

    enabled: bool | None = None
    group: Literal[0, 1] = 0
    edge: bool | None = None
    priority: Hex = 0
    pending_latch: bool = False
    line_level: bool = False
    pending_split_unknown: bool = False
    active: bool = False
    # schema revision 3: the latch of this active level interrupt may be KVM's stale one
    latch_maybe_stale: bool = False
    active_cpu: CpuOrUnknown | None = None  # SPIs: required when active
    targets: list[Cpu] = []  # SPIs
    sources: list[Cpu] = []  # SGIs: CPUs with this SGI pending here
    active_source: CpuOrUnknown | None = None  # SGIs: required when active


class InterfaceJ(_Strict):
    ctlr: list[str] = []
    pmr: Hex = 0
    bpr: U32 | None = None
    abpr: U32 | None = None
    active_group0: list[Hex] = []
    active_group1: list[Hex] = []
    active_group_unknown: list[Hex] = []


class VirtualJ(_Strict):
    hcr: FieldMap = {}
    vmcr: FieldMap
    apr: Hex = 0
    lr: list[dict[str, Hex | str]] = []


class CpuJ(_Strict):
    cpu: U32
    interface: InterfaceJ = InterfaceJ()
    irqs: dict[str, IrqJ] = {}
    virtual: VirtualJ | None = None


class HwMappingJ(_Strict):
    virtual_id: IntId
    physical_id: IntId


class VcpuContextJ(_Strict):
    hcr: FieldMap = {}
    hw_mappings: list[HwMappingJ] = []
    eoi_maintenance: list[IntId] = []


class FixtureJ(_Strict):
    """A gicmig JSON fixture."""

    model_config = ConfigDict(extra="forbid", strict=True, title="gicmig fixture")
    format: Literal["gicmig-fixture/1"]  # = fixture_write.FORMAT (a Literal needs text)
    schema_revision: int = Field(ge=1)
    provenance: ProvenanceJ = ProvenanceJ()
    config: ConfigJ
    distributor: DistributorJ = DistributorJ()
    spis: dict[str, IrqJ] = {}
    cpus: list[CpuJ]
    hypervisor: list[VcpuContextJ] | None = None


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the fixture format."""
    schema = FixtureJ.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://gicmig.dev/schemas/fixture-1.schema.json"
    return schema


# --- state -> JSON ------------------------------------------------------------------------
def to_json(state: GicState) -> str:
    """The fixture text of `state` (deterministic; ends with a newline).

    Refuses (PAYLOAD-UNKNOWN-FIELDS) a state read with fields of a newer schema revision:
    JSON has no place for them, and they are never dropped silently.

    >>> text = gicmig.to_json(gicmig.GicState.reset(gicmig.GicConfig.qemu_virt(num_cpus=2)))
    >>> text.splitlines()[1]
    '  "format": "gicmig-fixture/1",'
    """
    from gicmig.formats.codec import unknown_fields

    unknown = list(unknown_fields(state._pb))
    if state._pb.provenance.source not in SOURCE_NAMES:
        unknown.append(f"provenance.source={state._pb.provenance.source}")
    if unknown:
        raise DecodeError("PAYLOAD-UNKNOWN-FIELDS",
                          f"a JSON fixture cannot hold schema revision {state.schema_revision} "
                          f"fields this gicmig does not know ({', '.join(unknown)}): keep the "
                          "blob, or decode it with a gicmig that knows that revision")

    return write_doc(state_to_doc(state))


# --- JSON -> state ------------------------------------------------------------------------
def from_json(text: str | bytes) -> GicState:
    """A validated state from fixture text; DecodeError for bad JSON or a bad shape.

    >>> state = gicmig.GicState.reset(gicmig.GicConfig.qemu_virt(num_cpus=2))
    >>> gicmig.from_json(gicmig.to_json(state)) == state
    True
    >>> gicmig.from_json("{")
    Traceback (most recent call last):
    gicmig.errors.DecodeError: JSON-SYNTAX Expecting property name ... (at byte 1)
    """
    try:
        raw = loads_json(text)
    except json.JSONDecodeError as exc:
        err = DecodeError("JSON-SYNTAX", exc.msg, offset=exc.pos)
        err.line, err.column = exc.lineno, exc.colno  # type: ignore[attr-defined]
        raise err from None
    except UnicodeDecodeError as exc:
        raise DecodeError("JSON-SYNTAX", f"not UTF-8: {exc.reason}", offset=exc.start) from None
    except ValueError as exc:  # beyond gicmig.limits
        raise DecodeError("JSON-SYNTAX", str(exc)) from None
    except RecursionError:
        raise DecodeError("JSON-SYNTAX", "nested too deeply to be a fixture") from None
    other = raw.get("format") if isinstance(raw, dict) else None
    if isinstance(other, str) and other != FORMAT:  # another document, not a broken fixture
        raise DecodeError("INPUT-FORMAT-UNKNOWN", f"format {json.dumps(other)[:60]} is not a "
                          f"JSON fixture ({FORMAT}): a view is read by `gicmig import`")
    try:
        doc = FixtureJ.model_validate(raw)
    except PydanticError as exc:
        raise shape_error(exc, raw, FixtureJ) from None
    state = _build(doc)
    validate(state)
    return state


def _fail(where: str, message: str) -> FixtureShapeError:
    return FixtureShapeError([Violation("JSON-SCHEMA", where, message)])


class _Problems(list[Violation]):
    """The shape errors found while building, so that one read reports all of them."""

    def run(self, step: Callable[..., object], *args: Any) -> None:
        try:
            step(*args)
        except FixtureShapeError as exc:
            self.extend(exc.violations)

    def raise_any(self) -> None:
        if self:
            raise FixtureShapeError(list(self))


def _build(doc: FixtureJ) -> GicState:
    c = doc.config
    v = c.virtualization
    # without virtualization extensions GicConfig's own defaults stand (not restated here)
    virt: dict[str, Any] = {} if v is None else {
        "num_lrs": v.num_lrs, "virtual_priority_bits": v.priority_bits,
        "virtual_preemption_bits": v.preemption_bits}
    config = GicConfig(
        c.num_cpus, c.num_irqs, priority_bits=c.priority_bits, min_bpr=c.min_bpr,
        sgi_enables_rao_wi=c.sgi_enables_rao_wi,
        ppi_trigger_programmable=c.ppi_trigger_programmable, **virt,
    )
    config._pb.revision = REVISIONS[c.revision]
    config._pb.security_extensions = c.security_extensions
    bad = check_config(config)
    if bad:  # before anything is sized by these numbers
        raise ValidationError(bad)
    problems = _Problems()
    if doc.schema_revision > SCHEMA_REVISION:
        problems.append(Violation("JSON-SCHEMA", "schema_revision", f"{doc.schema_revision} "
                                  f"is newer than this gicmig's {SCHEMA_REVISION}"))
    if len(doc.cpus) != c.num_cpus:
        problems.append(Violation("JSON-SCHEMA", "cpus",
                                  f"{len(doc.cpus)} entries for num_cpus {c.num_cpus}"))
        problems.raise_any()  # everything per CPU is sized by num_cpus
    state = GicState.reset(config)
    state.schema_revision = doc.schema_revision
    _set_provenance(state, doc.provenance)
    state.enable_grp0 = doc.distributor.enable_grp0
    state.enable_grp1 = doc.distributor.enable_grp1
    state.enable_grp1_unknown = doc.distributor.enable_grp1_unknown
    _set_spis(state, doc.spis, problems)
    for i, cj in enumerate(doc.cpus):
        if cj.cpu != i:
            problems.append(Violation("JSON-SCHEMA", f"cpus.{i}.cpu",
                                      f"is {cj.cpu}; CPU entries are in order 0..n-1"))
        _set_banked(state, i, cj.irqs, problems)
        problems.run(_set_interface, state, i, cj.interface)
        problems.run(_set_virtual, state, i, cj.virtual)
    if doc.hypervisor is not None:
        problems.run(_set_hypervisor, state, doc.hypervisor)
    problems.raise_any()
    return state


def _set_provenance(state: GicState, p: ProvenanceJ) -> None:
    prov = state.provenance
    prov.tool, prov.tool_version, prov.vmm = p.tool, p.tool_version, p.vmm
    prov.vmm_version, prov.host_kernel = p.vmm_version, p.host_kernel
    prov.source = p.source
    prov.gicd_iidr = p.gicd_iidr


def _irq_id(key: str, where: str, low: int, high: int) -> int:
    if not (key.isascii() and key.isdigit() and key == str(int(key))) or \
            not low <= int(key) < high:
        raise _fail(where, f"interrupt ID {key!r} is not a decimal ID in {low}..{high - 1}")
    return int(key)


def _cpu_byte(value: int | str | None, where: str, active: bool) -> int:
    if not active:
        if value is not None:
            raise _fail(where, "given for an interrupt that is not active")
        return 0
    if value is None:
        raise _fail(where, 'required for an active interrupt (a CPU number or "unknown")')
    return UNKNOWN_CPU if value == "unknown" else int(value)


def _set_spis(state: GicState, spis: dict[str, IrqJ], problems: _Problems) -> None:
    n = state.config.num_irqs
    bits = dict.fromkeys(("enabled", "group", "edge", "pending_latch", "line_level", "active",
                          "pending_split_unknown", "latch_maybe_stale"), 0)
    prio, targets, active_cpu = (bytearray(n - NUM_PRIVATE) for _ in range(3))
    for key, e in spis.items():
        try:
            intid = _irq_id(key, f"spis.{key}", NUM_PRIVATE, n)
            k = intid - NUM_PRIVATE
            if e.sources or e.active_source is not None:
                raise _fail(f"spis.{key}", "sources/active_source apply to SGIs only")
            if e.priority > 0xFF:
                raise _fail(f"spis.{key}.priority", f"{e.priority:#x} is wider than 8 bits")
            active_cpu[k] = _cpu_byte(e.active_cpu, f"spis.{key}.active_cpu", e.active)
        except FixtureShapeError as exc:
            problems.extend(exc.violations)
            continue
        for name, value in _flag_values(e, default_enabled=False, default_edge=False):
            bits[name] |= value << k
        prio[k], targets[k] = e.priority, bitmaps.from_indices(e.targets)
    sh = state.shared
    for name, value in bits.items():
        setattr(sh, name, value)
    sh.priority, sh.targets, sh.active_cpu = bytes(prio), bytes(targets), bytes(active_cpu)


def _flag_values(e: IrqJ, *, default_enabled: bool, default_edge: bool) -> list[tuple[str, int]]:
    enabled = default_enabled if e.enabled is None else e.enabled
    edge = default_edge if e.edge is None else e.edge
    return [("enabled", int(enabled)), ("group", e.group), ("edge", int(edge)),
            ("pending_latch", int(e.pending_latch)), ("line_level", int(e.line_level)),
            ("active", int(e.active)), ("pending_split_unknown", int(e.pending_split_unknown)),
            ("latch_maybe_stale", int(e.latch_maybe_stale))]


def _set_banked(state: GicState, cpu: int, irqs: dict[str, IrqJ], problems: _Problems) -> None:
    b = state.banked[cpu]
    bits = {"enabled": 0, "group": 0, "edge": 0, "pending_latch": 0, "line_level": 0,
            "active": 0, "pending_split_unknown": 0, "latch_maybe_stale": 0,
            **RESET_BANKED}  # absent SGIs: at reset
    prio, sources, active_src = bytearray(NUM_PRIVATE), bytearray(NUM_SGIS), bytearray(NUM_SGIS)
    for key, e in irqs.items():
        where = f"cpus.{cpu}.irqs.{key}"
        try:
            intid = _irq_id(key, where, 0, NUM_PRIVATE)
            sgi = intid < NUM_SGIS
            if e.targets or e.active_cpu is not None:
                raise _fail(where, "targets/active_cpu apply to SPIs only")
            if not sgi and (e.sources or e.active_source is not None):
                raise _fail(where, "sources/active_source apply to SGIs only")
            if e.priority > 0xFF:
                raise _fail(f"{where}.priority", f"{e.priority:#x} is wider than 8 bits")
            if sgi:
                active_src[intid] = _cpu_byte(e.active_source, f"{where}.active_source",
                                              e.active)
        except FixtureShapeError as exc:
            problems.extend(exc.violations)
            continue
        for name, value in _flag_values(e, default_enabled=sgi, default_edge=sgi):
            bits[name] = (bits[name] & ~(1 << intid)) | (value << intid)
        prio[intid] = e.priority
        if sgi:
            sources[intid] = bitmaps.from_indices(e.sources)
    for name, value in bits.items():
        setattr(b, name, value)
    b.priority, b.sgi_sources, b.sgi_active_source = bytes(prio), bytes(sources), bytes(active_src)


def _levels(values: list[int], where: str) -> int:
    mask = 0
    for gp in values:
        if gp > 0xFF or gp & 1:
            raise _fail(where, f"{gp:#x} is not an even 8-bit group priority")
        mask |= 1 << (gp >> 1)
    return mask


def _set_interface(state: GicState, cpu: int, j: InterfaceJ) -> None:
    ci = state.cpu[cpu]
    ci.ctlr = _pack_flags(GICC_CTLR, j.ctlr, f"cpus.{cpu}.interface.ctlr")
    ci.pmr = j.pmr
    if j.bpr is not None:
        ci.bpr = j.bpr
    if j.abpr is not None:
        ci.abpr = j.abpr
    where = f"cpus.{cpu}.interface"
    ci.active_group0 = _levels(j.active_group0, f"{where}.active_group0")
    ci.active_group1 = _levels(j.active_group1, f"{where}.active_group1")
    ci.active_group_unknown = _levels(j.active_group_unknown, f"{where}.active_group_unknown")


def _pack_flags(reg: Register, names: list[str], where: str) -> int:
    value = 0
    for name in names:
        try:
            f = reg.field(name)
        except KeyError:
            known = ", ".join(f.name for f in reg.fields if f.width == 1)
            raise _fail(where, f"{name!r} is not a {reg.name} bit ({known})") from None
        value = f.put(value, 1)
    return value


def _pack_fields(reg: Register, fields: dict[str, Any], where: str) -> int:
    value = 0
    for name, v in fields.items():
        try:
            value = reg.field(name).put(value, int(v))
        except (KeyError, ValueError) as exc:
            # the message itself, not str(exc): a KeyError's str() is its repr, quoted
            raise _fail(f"{where}.{name}", str(exc.args[0])) from None
    return value


def _set_virtual(state: GicState, cpu: int, j: VirtualJ | None) -> None:
    where = f"cpus.{cpu}.virtual"
    if j is None:
        if state.config.virtualization is not None:
            raise _fail(where, "required: the GIC has virtualization extensions")
        return
    if state.config.virtualization is None:
        raise _fail(where, "given, but config.virtualization is absent")
    vi = state.virtual[cpu]
    vi.hcr = _pack_fields(GICH_HCR, j.hcr, f"{where}.hcr")
    vi.vmcr = _pack_fields(GICH_VMCR, j.vmcr, f"{where}.vmcr")
    vi.apr = j.apr
    vi._pb.lr.extend(_pack_lr(lr, f"{where}.lr.{n}") for n, lr in enumerate(j.lr))
    if vi._pb.lr and vi._pb.lr[-1] == 0:
        raise _fail(f"{where}.lr", "ends in an empty LR {}: trailing empty LRs are omitted")


def _pack_lr(fields: dict[str, int | str], where: str) -> int:
    values = dict(fields)
    state = values.pop("state", "invalid")
    if state not in LR_STATES:
        raise _fail(f"{where}.state", f"{state!r} is not one of {', '.join(LR_STATES)}")
    values["state"] = LR_STATES.index(str(state))
    if any(isinstance(v, str) for v in values.values()):
        raise _fail(where, "field values are numbers or 0x... strings")
    layout = lr_layout(int(values.get("hw", 0)) << GICH_LR.field("hw").shift)  # its HW bit's
    return _pack_fields(layout, values, where)


def _set_hypervisor(state: GicState, vcpus: list[VcpuContextJ]) -> None:
    if len(vcpus) != state.config.num_cpus:
        raise _fail("hypervisor", f"{len(vcpus)} entries for {state.config.num_cpus} vCPUs")
    for c, (ctx, j) in enumerate(zip(state.keep_hypervisor_context(), vcpus, strict=True)):
        ctx.hcr = _pack_fields(GICH_HCR, j.hcr, f"hypervisor.{c}.hcr")
        ctx.hw_mappings = [HwMapping(m.virtual_id, m.physical_id) for m in j.hw_mappings]
        ctx.eoi_maintenance = bitmaps.from_indices(j.eoi_maintenance)
