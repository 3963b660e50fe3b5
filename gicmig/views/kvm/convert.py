"""The KVM device-ABI view: canonical state <-> GICD/GICC registers through
KVM_DEV_ARM_VGIC_GRP_DIST_REGS / CPU_REGS (gic-domain.md §4.5-4.8).

Import reads a register dump (`gicmig.views.kvm.dump`) into canonical state: set/clear
pairs must agree, banked registers are read per vCPU, PMR is VMPriMask << 3, APR0 is the
GICH_APR image (32 levels), and what the ABI cannot say becomes an UNKNOWN marker (latch
vs line of pending level interrupts, the source of an active SGI, the CPU of an active
SPI, the group of active priorities, EnableGrp1). A dump that lacks registers the state
needs is refused with the full list.

Export turns a state into the ordered writes that restore it through the same ABI and
refuses (in strict mode) what KVM cannot hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from gicmig import __version__
from gicmig.abi.kvm import (
    KVM_GICC_IIDR,
    kvm_config,
    kvm_iidr,
    lowest_target,
    maybe_stale_latch,
    never_run_binary_points,
)
from gicmig.arch import bitmaps, labels
from gicmig.arch.ids import APR_LEVELS, NUM_PRIVATE, NUM_SGIS, SGI_MASK
from gicmig.arch.registers import (
    ARM_IMPLEMENTER,
    DIST_BANKS,
    GICC_ABPR,
    GICC_APR,
    GICC_APR_REGS,
    GICC_BPR,
    GICC_CTLR,
    GICC_IIDR,
    GICD_ICFGR_FIELD,
    GICD_IIDR,
    GICD_TYPER,
    KVM_APR_LEVELS,
    KVM_GICC_CTLR,
    KVM_GICC_PMR,
    KVM_GICD_CTLR,
    KVM_IIDR_GROUPS_WRITABLE,
    KVM_IIDR_REVISIONS,
    KVM_MIN_BPR,
    KVM_NR_IRQS_MAX,
    KVM_NR_IRQS_MIN,
    KVM_PMR_SHIFT,
    KVM_PRIORITY_BITS,
    KVM_PRODUCT_ID,
    SGI_BANK_REGS,
    SGI_BANKS,
    Bank,
)
from gicmig.core.attribution import Derivation, attribute
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.core.rules import validate
from gicmig.errors import GicmigError, ValidationError, Violation
from gicmig.views.kvm.dump import Access, KvmDump, parse_dump, register_name

_BANK = {b.name.removeprefix("GICD_"): b for b in (*DIST_BANKS, *SGI_BANKS)}
_PAIRS = (("ISENABLER", "ICENABLER"), ("ISPENDR", "ICPENDR"), ("ISACTIVER", "ICACTIVER"),
          ("SPENDSGIR", "CPENDSGIR"))
_ALL = 0xFFFF_FFFF
_LEVEL_STEP = APR_LEVELS // KVM_APR_LEVELS  # canonical level of KVM APR bit n is 4n
_APR_MASK = (1 << KVM_APR_LEVELS) - 1
_ICFGR_EDGE = GICD_ICFGR_FIELD.field("int_config")
_ICFGR_FIELD_RESERVED = GICD_ICFGR_FIELD.reserved_mask & 0b11  # within one 2-bit field
_ICFGR_RESERVED = sum(_ICFGR_FIELD_RESERVED << 2 * i for i in range(16))


class KvmDumpIncomplete(GicmigError):
    """A dump that lacks registers the state needs; `.missing` lists them all."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("KVM-DUMP-INCOMPLETE",
                         f"the dump lacks registers the state needs ({len(missing)} "
                         "ranges): "
                         + "; ".join(missing))
        self.missing = tuple(missing)


class KvmUnrepresentable(ValidationError):
    """A state KVM's device ABI cannot hold (strict export); `.violations` lists why."""


# =========================================================================================
# import
# =========================================================================================
@dataclass
class _Reader:
    """Register reads by name, recording what is missing instead of stopping at it."""

    regs: dict[tuple[str, int, int], int]
    num_cpus: int
    missing: list[tuple[str, str, int, str]] = field(default_factory=list)
    used: set[tuple[str, int, int]] = field(default_factory=set)

    def _get(self, group: str, vcpu: int | None, offset: int) -> int | None:
        """One read; `vcpu=None`: a shared register, which every vCPU must read alike."""
        if vcpu is not None:
            self.used.add((group, vcpu, offset))
            return self.regs.get((group, vcpu, offset))
        seen = [(c, self.regs[(group, c, offset)]) for c in range(self.num_cpus)
                if (group, c, offset) in self.regs]
        self.used.update((group, c, offset) for c, _ in seen)
        for c, v in seen[1:]:
            if v != seen[0][1]:
                raise GicmigError("KVM-DUMP-INCONSISTENT",
                                  f"{register_name(group, offset)} is not banked, but vcpu"
                                  f"{seen[0][0]} read {seen[0][1]:#010x} and vcpu{c} {v:#010x}")
        return seen[0][1] if seen else None

    def read(self, group: str, vcpu: int | None, offset: int, name: str,
             index: int = -1) -> int:
        """A required read; 0 (and an entry in `missing`) when the dump lacks it."""
        value = self._get(group, vcpu, offset)
        if value is None:
            self.missing.append((_scope(vcpu), name, index, ""))
            return 0
        return value

    def optional(self, group: str, vcpu: int | None, offset: int) -> int | None:
        return self._get(group, vcpu, offset)

    def word(self, bank: str, index: int, vcpu: int | None) -> int:
        b = _BANK[bank]
        return self.read("dist", vcpu, b.offset + 4 * index, b.name, index)

    def pair(self, set_bank: str, clear_bank: str, index: int, vcpu: int | None) -> int:
        """A W1S/W1C pair: either register will do; both must then read the same bits."""
        s, c = _BANK[set_bank], _BANK[clear_bank]
        vs = self._get("dist", vcpu, s.offset + 4 * index)
        vc = self._get("dist", vcpu, c.offset + 4 * index)
        if vs is not None and vc is not None and vs != vc:
            who = f"vcpu{vcpu} " if vcpu is not None else ""
            raise GicmigError("KVM-DUMP-INCONSISTENT",
                              f"{who}{s.name}{index} reads {vs:#010x} but {c.name}{index} "
                              f"reads {vc:#010x}: bits {vs ^ vc:#010x} differ (one set of "
                              "state bits cannot read two ways)")
        if vs is None and vc is None:
            self.missing.append((_scope(vcpu), s.name, index, c.name))
        return vs if vs is not None else (vc or 0)


def _scope(vcpu: int | None) -> str:
    return "" if vcpu is None else f"vcpu{vcpu} "


def _compress(missing: list[tuple[str, str, int, str]]) -> list[str]:
    """`GICD_ITARGETSR8-31`, `vcpu1 GICD_ISENABLER0 (or GICD_ICENABLER0)`, in read order."""
    runs: dict[tuple[str, str, str], list[int]] = {}
    for scope, name, index, alt in missing:
        runs.setdefault((scope, name, alt), []).append(index)
    out = []
    for (scope, name, alt), indices in runs.items():
        for lo, hi in _ranges(indices):
            span = "" if lo < 0 else (f"{lo}" if lo == hi else f"{lo}-{hi}")
            text = f"{scope}{name}{span}"
            out.append(f"{text} (or {alt}{span})" if alt else text)
    return out


def _ranges(values: list[int]) -> Iterator[tuple[int, int]]:
    start = prev = values[0]
    for v in values[1:]:
        if v != prev + 1:
            yield start, prev
            start = v
        prev = v
    yield start, prev


class KvmImported(GicState):
    """A `GicState` from `import_kvm`, with what the import normalized (binary points of
    never-run vCPUs) and what it derived (group of active priorities, CPU of active SPIs,
    by gicmig.core.attribution)."""

    __slots__ = ("derivations", "normalizations")

    def __init__(self, state: GicState, normalizations: tuple[Violation, ...],
                 derivations: tuple[Derivation, ...]) -> None:
        super().__init__(state._pb, state.schema_revision)
        self.normalizations = normalizations
        self.derivations = derivations


def import_kvm(dump: KvmDump | bytes | str, *, num_cpus: int | None = None,
               priority_bits: int = KVM_PRIORITY_BITS) -> KvmImported:
    """Canonical state from a KVM GICv2 register dump (parsed, or its JSON text).

    A never-run vCPU's binary points are normalized to what the guest observes, and
    active priorities and active SPIs get their group and CPU where the active
    interrupts explain them; `.normalizations` and `.derivations` say which.

    `num_cpus` defaults to GICD_TYPER.CPUNumber + 1; when both are there they must agree.
    Raises `KvmDumpIncomplete`, `GicmigError` (KVM-DUMP-*) or `ValidationError`.
    """
    if not isinstance(dump, KvmDump):
        dump = parse_dump(dump)
    regs = dump.registers()
    n = _num_cpus(dump, regs, num_cpus)
    # without a count, read as many vCPUs as the dump shows, only to list what is missing
    rd = _Reader(regs, n or min(max((a.vcpu for a in dump.accesses), default=0) + 1, 8))
    if n is None:
        rd.missing.append(("", "GICD_TYPER (or the vCPU count: --num-cpus)", -1, ""))
    state = GicState.reset(kvm_config(rd.num_cpus, dump.nr_irqs, priority_bits))
    iidr = _distributor(rd, state, dump.nr_irqs)
    normalized: list[Violation] = []
    for c in range(rd.num_cpus):
        _banked(rd, state, c)
        _cpu(rd, state, c, normalized)
    _shared(rd, state)
    if rd.missing:
        raise KvmDumpIncomplete(_compress(rd.missing))
    _leftovers(rd, dump.nr_irqs)
    p = state.provenance
    p.source, p.tool_version, p.gicd_iidr = "kvm-abi", __version__, iidr
    p.vmm, p.vmm_version, p.host_kernel = dump.vmm, dump.vmm_version, dump.host_kernel
    derived = attribute(state)
    validate(state)
    return KvmImported(state, tuple(normalized), tuple(derived))


def _num_cpus(dump: KvmDump, regs: dict[tuple[str, int, int], int],
              given: int | None) -> int | None:
    """The vCPU count, or None when neither the caller nor GICD_TYPER says."""
    typer = next((v for (g, _, off), v in regs.items() if g == "dist" and off == 4), None)
    from_typer = None if typer is None else GICD_TYPER.field("cpu_number").get(typer) + 1
    if given is not None and not 1 <= given <= 8:
        raise GicmigError("USAGE", f"--num-cpus {given} is not in 1..8")
    if given is not None and from_typer is not None and given != from_typer:
        raise GicmigError("KVM-DUMP-TYPER-MISMATCH",
                          f"GICD_TYPER {typer:#010x} says {from_typer} vCPUs, "
                          f"the caller says {given}")
    worst = max((a.vcpu for a in dump.accesses), default=0)
    n = given or from_typer
    if n is None:
        return None
    if worst >= n:
        raise GicmigError("KVM-DUMP-VCPU-OUT-OF-RANGE",
                          f"the dump reads registers of vcpu{worst}, but the VM has {n} vCPUs")
    return n


def _reserved(value: int, mask: int, where: str) -> None:
    if value & mask:
        raise GicmigError("KVM-DUMP-RESERVED-BITS",
                          f"{where} reads {value:#010x}: bits {value & mask:#010x} are ones "
                          "KVM never returns")


def _distributor(rd: _Reader, state: GicState, nr_irqs: int) -> int:
    ctlr = rd.read("dist", None, KVM_GICD_CTLR.offset, "GICD_CTLR")
    _reserved(ctlr, KVM_GICD_CTLR.reserved_mask, "GICD_CTLR")
    state.enable_grp0 = bool(KVM_GICD_CTLR.field("enabled").get(ctlr))
    # KVM's single enable gates both groups; what the guest wrote to EnableGrp1 is lost
    state.enable_grp1_unknown = True
    typer = rd.optional("dist", None, GICD_TYPER.offset)
    want = GICD_TYPER.pack(it_lines_number=nr_irqs // 32 - 1, cpu_number=rd.num_cpus - 1)
    if typer is not None and typer != want:
        raise GicmigError("KVM-DUMP-TYPER-MISMATCH",
                          f"GICD_TYPER reads {typer:#010x}; {nr_irqs} interrupt IDs and "
                          f"{rd.num_cpus} vCPUs give {want:#010x}")
    iidr = rd.optional("dist", None, GICD_IIDR.offset)
    if iidr is None:
        rd.missing.append(("", "GICD_IIDR", -1, ""))
        return 0
    _check_iidr(iidr)
    return iidr


def _check_iidr(iidr: int) -> None:
    f = GICD_IIDR.unpack(iidr)
    rev = f["revision"]
    if (f["implementer"], f["product_id"], f["variant"]) != (ARM_IMPLEMENTER, KVM_PRODUCT_ID, 0) \
            or iidr & GICD_IIDR.reserved_mask:
        raise GicmigError("KVM-DUMP-IIDR",
                          f"GICD_IIDR {iidr:#010x} is not KVM's (implementer 0x43b, product "
                          f"0x4b, e.g. {kvm_iidr(2):#010x})")
    if rev not in KVM_IIDR_REVISIONS:
        raise GicmigError("KVM-DUMP-IIDR",
                          f"GICD_IIDR {iidr:#010x}: revision {rev}; KVM revision 0 reports "
                          "IGROUPR wrongly (every interrupt as group 1), so the groups of this "
                          "dump cannot be trusted")


def _banked(rd: _Reader, state: GicState, c: int) -> None:
    b = state.banked[c]
    complete = len(rd.missing)
    b.group = rd.word("IGROUPR", 0, c)
    b.enabled = rd.pair("ISENABLER", "ICENABLER", 0, c)
    active = rd.pair("ISACTIVER", "ICACTIVER", 0, c)
    pending = rd.pair("ISPENDR", "ICPENDR", 0, c)
    b.priority = _bytes(rd, "IPRIORITYR", range(8), c)
    edge = _edge(rd, 0, c, optional=True, default=_edge_word(SGI_MASK)) | _edge(rd, 1, c) << 16
    if edge & SGI_MASK != SGI_MASK:
        raise GicmigError("KVM-DUMP-RESERVED-BITS",
                          f"vcpu{c} GICD_ICFGR0 makes SGIs level-triggered; SGIs are edge")
    b.edge = edge
    _private_targets(rd, c)
    sources = b"".join(rd.pair("SPENDSGIR", "CPENDSGIR", r, c).to_bytes(4, "little")
                       for r in range(SGI_BANK_REGS))
    shown = sum(1 << s for s in range(NUM_SGIS) if sources[s])
    if len(rd.missing) == complete and pending & SGI_MASK != shown:
        raise GicmigError("KVM-DUMP-INCONSISTENT",
                          f"vcpu{c} GICD_ISPENDR0 shows SGIs {pending & SGI_MASK:#06x} "
                          f"pending, GICD_SPENDSGIRn shows {shown:#06x}")
    b.sgi_sources = sources
    b.active = active
    b.sgi_active_source = bytes(UNKNOWN_CPU if active >> s & 1 else 0 for s in range(NUM_SGIS))
    ppi_pending = pending & ~SGI_MASK
    b.pending_latch = ppi_pending
    # ISPENDR shows latch OR line for a level interrupt; which one is not recorded
    b.pending_split_unknown = ppi_pending & ~edge
    b.latch_maybe_stale = maybe_stale_latch(ppi_pending, active, edge)


def _bytes(rd: _Reader, bank: str, words: range, vcpu: int | None) -> bytes:
    return b"".join(rd.word(bank, i, vcpu).to_bytes(4, "little") for i in words)


def _edge(rd: _Reader, index: int, vcpu: int | None, *, optional: bool = False,
          default: int = 0) -> int:
    """The edge bits (one per interrupt) of GICD_ICFGR<index>."""
    b = _BANK["ICFGR"]
    where = f"{_scope(vcpu)}GICD_ICFGR{index}"
    if optional:
        word = rd.optional("dist", vcpu, b.offset + 4 * index)
        word = default if word is None else word
    else:
        word = rd.word("ICFGR", index, vcpu)
    _reserved(word, _ICFGR_RESERVED, where)
    return bitmaps.squeeze(word >> _ICFGR_EDGE.shift, 2) & 0xFFFF


def _private_targets(rd: _Reader, c: int) -> None:
    b = _BANK["ITARGETSR"]
    own = (1 << c) * 0x0101_0101
    for i in range(8):
        word = rd.optional("dist", c, b.offset + 4 * i)
        if word is not None and word != own:
            raise GicmigError("KVM-DUMP-PRIVATE-TARGETS",
                              f"vcpu{c} GICD_ITARGETSR{i} reads {word:#010x}; KVM returns the "
                              f"reading vCPU's own bit for IDs 0-31 ({own:#010x})")


def _cpu(rd: _Reader, state: GicState, c: int, normalized: list[Violation]) -> None:
    ci = state.cpu[c]
    where = f"vcpu{c} GICC_"
    ctlr = rd.read("cpu", c, KVM_GICC_CTLR.offset, "GICC_CTLR")
    _reserved(ctlr, KVM_GICC_CTLR.reserved_mask, f"{where}CTLR")
    ci.ctlr = ctlr
    pmr = rd.read("cpu", c, KVM_GICC_PMR.offset, "GICC_PMR")
    _reserved(pmr, KVM_GICC_PMR.reserved_mask, f"{where}PMR (VMPriMask format)")
    ci.pmr = KVM_GICC_PMR.field("vmprimask").get(pmr) << KVM_PMR_SHIFT
    bpr, abpr = (rd.read("cpu", c, reg.offset, reg.name) for reg in (GICC_BPR, GICC_ABPR))
    for reg, value in ((GICC_BPR, bpr), (GICC_ABPR, abpr)):
        _reserved(value, reg.reserved_mask, f"{where}{reg.name[5:]}")
    ci.bpr, ci.abpr, norm = never_run_binary_points(bpr, abpr, f"vcpu{c}")
    if norm is not None:
        normalized.append(norm)
    apr = rd.read("cpu", c, GICC_APR.offset, "GICC_APR0")
    for n in range(1, GICC_APR_REGS):
        extra = rd.optional("cpu", c, GICC_APR.offset + 4 * n)
        if extra:
            raise GicmigError("KVM-DUMP-APR-FORMAT",
                              f"{where}APR{n} reads {extra:#010x}: a host with more than 5 "
                              "preemption bits (GICv3 ICH_AP1Rn); only the GICv2-host format "
                              "(APR0 = GICH_APR, APR1-3 zero) is supported")
    # one combined set for both groups: which group each level belongs to is unknown
    ci.active_group_unknown = bitmaps.stretch(apr & _APR_MASK, _LEVEL_STEP)
    iidr = rd.optional("cpu", c, GICC_IIDR.offset)
    if iidr is not None and iidr != KVM_GICC_IIDR:
        raise GicmigError("KVM-DUMP-IIDR", f"{where}IIDR reads {iidr:#010x}, KVM's is "
                                           f"{KVM_GICC_IIDR:#010x}")


def _shared(rd: _Reader, state: GicState) -> None:
    words = state.config.num_irqs // 32
    if words < 2:
        return
    sh = state.shared

    def bitmap(read: Callable[[int], int]) -> int:
        return sum(read(i) << 32 * (i - 1) for i in range(1, words))

    sh.group = bitmap(lambda i: rd.word("IGROUPR", i, None))
    sh.enabled = bitmap(lambda i: rd.pair("ISENABLER", "ICENABLER", i, None))
    pending = bitmap(lambda i: rd.pair("ISPENDR", "ICPENDR", i, None))
    active = bitmap(lambda i: rd.pair("ISACTIVER", "ICACTIVER", i, None))
    edge = sum(_edge(rd, i, None) << 16 * (i - 2) for i in range(2, 2 * words))
    sh.priority = _bytes(rd, "IPRIORITYR", range(8, 8 * words), None)
    targets = _bytes(rd, "ITARGETSR", range(8, 8 * words), None)
    if state.config.num_cpus == 1:
        bad = targets.translate(None, b"\0\1")
        if bad:
            raise GicmigError("KVM-DUMP-RESERVED-BITS",
                              f"an SPI targets {bad[0]:#04x} on a 1-vCPU VM; KVM masks target "
                              "bits to the online vCPUs")
        # KVM keeps a written bit 0, but a uniprocessor's ITARGETSR is RAZ/WI canonically
        targets = b""
    sh.targets = targets
    sh.edge, sh.active, sh.pending_latch = edge, active, pending
    sh.pending_split_unknown = pending & ~edge
    sh.latch_maybe_stale = maybe_stale_latch(pending, active, edge)
    sh.active_cpu = bitmaps.spread(active, state.config.num_spis, UNKNOWN_CPU)


def _leftovers(rd: _Reader, nr_irqs: int) -> None:
    """Reads import did not use must carry no state: offsets KVM does not emulate, IDs
    beyond nr_irqs and write-only registers read as zero."""
    for key in sorted(set(rd.regs) - rd.used):
        group, vcpu, offset = key
        value = rd.regs[key]
        if not value:
            continue
        name = register_name(group, offset)
        beyond = _first_irq(group, offset)
        if beyond is not None and beyond >= nr_irqs:
            raise GicmigError("KVM-DUMP-IRQ-OUT-OF-RANGE",
                              f"vcpu{vcpu} {name} reads {value:#010x}, but it covers interrupt "
                              f"IDs from {beyond}, beyond nr_irqs {nr_irqs} (KVM reads zero)")
        raise GicmigError("KVM-DUMP-UNKNOWN-REGISTER",
                          f"vcpu{vcpu} {name} reads {value:#010x}; KVM holds no state there and "
                          "reads zero")


def _first_irq(group: str, offset: int) -> int | None:
    if group != "dist":
        return None
    for bank in DIST_BANKS:
        if bank.offset <= offset < bank.offset + 128 * bank.bits:
            return (offset - bank.offset) * 8 // bank.bits
    return None


# =========================================================================================
# export
# =========================================================================================
@dataclass(frozen=True)
class KvmExport:
    """The ordered writes, and what lenient mode let go (empty in strict mode)."""

    writes: tuple[Access, ...]
    losses: tuple[Violation, ...]


def export_kvm(state: GicState, *, lenient: bool = False,
               iidr_revision: int | None = None) -> list[Access]:
    """The writes (KVM_SET_DEVICE_ATTR, in order) that restore `state` into a KVM GICv2.

    `iidr_revision` is the KVM implementation revision to select in the destination
    (1-3; below 2 KVM ignores IGROUPR writes). By default it is the source's, when the
    state came from a KVM with revision 2 or 3, else 2. Strict mode raises
    `KvmUnrepresentable` listing everything KVM cannot hold; lenient mode writes the
    nearest state KVM can hold.
    """
    return list(plan_kvm(state, lenient=lenient, iidr_revision=iidr_revision).writes)


def plan_kvm(state: GicState, *, lenient: bool = False,
             iidr_revision: int | None = None) -> KvmExport:
    rev = _revision(state, iidr_revision)
    fitted, losses = fit_kvm(state, lenient=lenient, iidr_revision=rev)
    return KvmExport(tuple(_writes(fitted, rev)), tuple(losses))


def _revision(state: GicState, given: int | None) -> int:
    if given is not None:
        return given
    iidr = state.provenance.gicd_iidr
    if iidr is not None and (iidr & ~GICD_IIDR.field("revision").mask) == kvm_iidr(0):
        rev = GICD_IIDR.field("revision").get(iidr)
        if rev >= KVM_IIDR_GROUPS_WRITABLE:
            return rev
    return KVM_IIDR_GROUPS_WRITABLE


def dump_kvm(state: GicState, *, lenient: bool = False,
             iidr_revision: int | None = None) -> KvmDump:
    """The complete register dump KVM would return after `state` was restored into it."""
    rev = _revision(state, iidr_revision)
    fitted, _ = fit_kvm(state, lenient=lenient, iidr_revision=rev)
    p = fitted.provenance
    image = _image(fitted, rev)
    return KvmDump(fitted.config.num_irqs, tuple(image), p.vmm, p.vmm_version, p.host_kernel)


def fit_kvm(state: GicState, *, lenient: bool = False,
            iidr_revision: int | None = None) -> tuple[GicState, list[Violation]]:
    """A copy of `state` as KVM will hold it, and the losses on the way.

    Strict mode raises `KvmUnrepresentable` if there is any loss.
    """
    validate(state)
    iidr_revision = _revision(state, iidr_revision)
    if iidr_revision not in KVM_IIDR_REVISIONS:
        raise GicmigError("USAGE", f"KVM IIDR revision {iidr_revision} is not one of "
                                   f"{', '.join(map(str, KVM_IIDR_REVISIONS))}")
    hard = list(_hard_limits(state))
    if hard:
        raise KvmUnrepresentable(hard)
    fitted = state.copy()
    losses = list(_fit(fitted, iidr_revision))
    # what an import of KVM's readback derives again (the ABI carries neither fact)
    attribute(fitted)
    if losses and not lenient:
        raise KvmUnrepresentable(losses)
    return fitted, losses


def _v(code: str, where: str, message: str) -> Violation:
    return Violation(code, where, message)


def _hard_limits(state: GicState) -> Iterator[Violation]:
    """What no mode can write: the device itself differs."""
    cfg = state.config
    if not (KVM_NR_IRQS_MIN <= cfg.num_irqs <= KVM_NR_IRQS_MAX):
        yield _v("KVM-EXPORT-NUM-IRQS", "config.num_irqs",
                 f"{cfg.num_irqs} interrupt IDs; KVM's NR_IRQS takes "
                 f"{KVM_NR_IRQS_MIN}..{KVM_NR_IRQS_MAX}")


def _fit(st: GicState, iidr_revision: int) -> Iterator[Violation]:
    """Turn `st` into what KVM holds, yielding one violation per kind of loss."""
    yield from _fit_virtualization(st)
    yield from _fit_distributor(st, iidr_revision)
    for c in st.cpus():
        yield from _fit_banked(st, c)
        yield from _fit_cpu(st, c)
    yield from _fit_shared(st)
    if st.hypervisor is not None:
        st.drop_hypervisor_context()
        yield _v("KVM-EXPORT-HYPERVISOR-CONTEXT", "hypervisor",
                 "hypervisor context (HW mappings, GICH_HCR, EOI maintenance) has no place "
                 "in the device ABI; dropped")


def _fit_virtualization(st: GicState) -> Iterator[Violation]:
    """A GIC with virtualization extensions (QEMU TCG, virtualization=on): its guest is a
    hypervisor whose GICH registers are guest state KVM's GICv2 device cannot hold."""
    virt = st.config.virtualization
    if virt is None:
        return
    yield _v("KVM-EXPORT-VIRTUALIZATION", "config.virtualization",
             f"the GIC has virtualization extensions ({virt.num_lrs} list registers); KVM's "
             "GICv2 device has none (lenient: a GIC without them)")
    for c, v in enumerate(st.virtual):
        held = [(n, lr) for n, lr in enumerate(v.lr) if lr]
        lrs = ", ".join(f"LR{n} {lr:#010x}" for n, lr in held) or "no list register in use"
        yield _v("KVM-EXPORT-VIRTUALIZATION", labels.cpu_reg(c, "gich"),
                 f"the guest hypervisor's GICH registers: HCR {v.hcr:#010x}, VMCR "
                 f"{v.vmcr:#010x}, APR {v.apr:#010x}, {lrs} (lenient: dropped; the nested "
                 "guest's interrupts they hold are lost)")
    st._pb.config.ClearField("virtualization")
    del st._pb.state.virtual[:]


def _fit_distributor(st: GicState, iidr_revision: int) -> Iterator[Violation]:
    if not st.enable_grp1_unknown and st.enable_grp0 != st.enable_grp1:
        yield _v("KVM-EXPORT-ENABLE-GROUPS-DIFFER", "gicd.ctlr",
                 f"EnableGrp0 {int(st.enable_grp0)} != EnableGrp1 {int(st.enable_grp1)}; "
                 "KVM has one enable for both groups (lenient: enabled if either is)")
        st.enable_grp0 = st.enable_grp0 or st.enable_grp1
    st.enable_grp1, st.enable_grp1_unknown = False, True
    if iidr_revision < KVM_IIDR_GROUPS_WRITABLE:
        groups = [c for c in st.cpus() if st.banked[c].group]
        if groups or st.shared.group:
            where = f"cpu{groups[0]} banked" if groups else "shared"
            yield _v("KVM-EXPORT-GROUPS-IGNORED", f"{where} group",
                     f"Group 1 interrupts, but KVM IIDR revision {iidr_revision} ignores "
                     "IGROUPR writes (revision 2 or later makes them take effect)")
            for c in st.cpus():
                st.banked[c].group = 0
            st.shared.group = 0


def _low_bits(prio: bytes) -> list[int]:
    low = (1 << KVM_PMR_SHIFT) - 1
    return [k for k, p in enumerate(prio) if p & low]


def _priority_list(prio: bytes, bad: list[int], base: int) -> str:
    """`irq 17 0x34 -> 0x30, ...`: every priority a lenient export masks."""
    high = 0xFF & ~((1 << KVM_PMR_SHIFT) - 1)
    return ", ".join(f"irq {base + k} {prio[k]:#04x} -> {prio[k] & high:#04x}" for k in bad)


def _lines(line: int, base: int) -> str:
    """`irq 25, irq 27`: every input line a lenient export turns into a latch."""
    return ", ".join(f"irq {base + k}" for k in bitmaps.set_bits(line))


def _masked(prio: bytes) -> bytes:
    high = 0xFF & ~((1 << KVM_PMR_SHIFT) - 1)
    return bytes(p & high for p in prio)


def _fit_banked(st: GicState, c: int) -> Iterator[Violation]:
    b = st.banked[c]
    bad = _low_bits(b.priority)
    if bad:
        k = bad[0]
        yield _v("KVM-EXPORT-PRIORITY-BITS", labels.irq(k, c),
                 f"priority {b.priority[k]:#04x} sets bits below the 5 KVM implements "
                 f"(interrupts of this CPU so affected: {len(bad)}: "
                 f"{_priority_list(b.priority, bad, 0)}; lenient: masked)")
        b.priority = _masked(b.priority)
    ppi_edge = b.edge & ~SGI_MASK
    if ppi_edge:
        k = (ppi_edge & -ppi_edge).bit_length() - 1
        yield _v("KVM-EXPORT-PPI-EDGE", labels.irq(k, c),
                 "edge-triggered PPI; KVM's PPIs are level-triggered and read-only "
                 "(lenient: level)")
        b.edge &= SGI_MASK
    yield from _fit_active_latch(b.pending_latch, b.active, b.edge, b.latch_maybe_stale, c, 0)
    if b.line_level:
        k = (b.line_level & -b.line_level).bit_length() - 1
        yield _v("KVM-EXPORT-LINE-LEVEL", labels.irq(k, c),
                 "input line level 1; the ABI can only set the pending latch, which would "
                 f"outlive the line (lines high on this CPU: {_lines(b.line_level, 0)}; "
                 "lenient: restored as pending latch)")
        b.pending_latch |= b.line_level & ~b.edge
        b.line_level = 0
    # KVM holds the latch exactly, but reads back only latch OR line; that of an active
    # level interrupt may be the stale one (kept: KVM clears it at the deactivation)
    b.pending_split_unknown = b.pending_latch & ~b.edge
    b.latch_maybe_stale = maybe_stale_latch(b.pending_latch, b.active, b.edge)
    yield from _fit_active_sgis(st, c)


def _fit_active_sgis(st: GicState, c: int) -> Iterator[Violation]:
    b = st.banked[c]
    src = bytearray(b.sgi_active_source)
    for s in range(NUM_SGIS):
        if src[s] not in (0, UNKNOWN_CPU):
            yield _v("KVM-EXPORT-ACTIVE-SGI-SOURCE", labels.irq(s, c),
                     f"active from CPU {src[s]}; a restore through ISACTIVER makes vCPU 0 its "
                     "source (lenient: source unknown)")
        if b.active >> s & 1:
            src[s] = UNKNOWN_CPU
    b.sgi_active_source = bytes(src)


def _fit_shared(st: GicState) -> Iterator[Violation]:
    sh = st.shared
    bad = _low_bits(sh.priority)
    if bad:
        k = bad[0]
        yield _v("KVM-EXPORT-PRIORITY-BITS", labels.irq(NUM_PRIVATE + k),
                 f"priority {sh.priority[k]:#04x} sets bits below the 5 KVM implements "
                 f"(SPIs so affected: {len(bad)}: "
                 f"{_priority_list(sh.priority, bad, NUM_PRIVATE)}; lenient: masked)")
        sh.priority = _masked(sh.priority)
    yield from _fit_active_latch(sh.pending_latch, sh.active, sh.edge, sh.latch_maybe_stale,
                                 None, NUM_PRIVATE)
    line = sh.line_level
    if line:
        k = (line & -line).bit_length() - 1
        yield _v("KVM-EXPORT-LINE-LEVEL", labels.irq(NUM_PRIVATE + k),
                 "input line level 1; the ABI can only set the pending latch, which would "
                 f"outlive the line (SPI lines high: {_lines(line, NUM_PRIVATE)}; lenient: "
                 "restored as pending latch)")
        sh.pending_latch |= line & ~sh.edge
        sh.line_level = 0
    sh.pending_split_unknown = sh.pending_latch & ~sh.edge
    sh.latch_maybe_stale = maybe_stale_latch(sh.pending_latch, sh.active, sh.edge)
    yield from _fit_active_spis(st)


def _fit_active_latch(latch: int, active: int, edge: int, marked: int, cpu: int | None,
                      base: int) -> Iterator[Violation]:
    """A known (unmarked) pending latch of an active level interrupt: KVM clears it when
    the guest deactivates the interrupt (gicmig.abi.kvm.maybe_stale_latch), so a genuine
    re-pend is not delivered again."""
    known = maybe_stale_latch(latch, active, edge) & ~marked
    if known:
        k = (known & -known).bit_length() - 1
        yield _v("KVM-EXPORT-LATCH-ACTIVE-LEVEL", labels.irq(base + k, cpu),
                 "pending latch of an active level-triggered interrupt; KVM clears it at the "
                 f"deactivation, so it is not delivered again (interrupts so affected: "
                 f"{bin(known).count('1')}; lenient: restored, marked maybe stale)")


def _fit_active_spis(st: GicState) -> Iterator[Violation]:
    sh = st.shared
    cpus, targets = bytearray(sh.active_cpu), sh.targets
    for k, cpu in enumerate(cpus):
        if not sh.active >> k & 1:
            continue
        t = targets[k]
        kvm_cpu = lowest_target(t) if t else 0
        if cpu not in (kvm_cpu, UNKNOWN_CPU):
            yield _v("KVM-EXPORT-ACTIVE-SPI-CPU", labels.irq(NUM_PRIVATE + k),
                     f"active on CPU {cpu}; restored through ISACTIVER, KVM treats it as active "
                     f"on its first target, CPU {kvm_cpu} (lenient: CPU unknown)")
        cpus[k] = UNKNOWN_CPU
    sh.active_cpu = bytes(cpus)


def _fit_cpu(st: GicState, c: int) -> Iterator[Violation]:
    ci = st.cpu[c]
    extra = ci.ctlr & ~KVM_GICC_CTLR.defined_mask
    if extra:
        yield _v("KVM-EXPORT-CTLR-BITS", labels.cpu_reg(c, "gicc.ctlr"),
                 f"{ci.ctlr:#x} sets {', '.join(GICC_CTLR.flags(extra))}, which KVM's vgic_vmcr "
                 "does not hold (lenient: dropped)")
        ci.ctlr &= KVM_GICC_CTLR.defined_mask
    if ci.pmr & ((1 << KVM_PMR_SHIFT) - 1):
        yield _v("KVM-EXPORT-PMR-BITS", labels.cpu_reg(c, "gicc.pmr"),
                 f"{ci.pmr:#04x} sets bits below the 5 KVM implements (lenient: masked)")
        ci.pmr = _masked(bytes([ci.pmr]))[0]
    if ci.bpr < KVM_MIN_BPR or ci.abpr < KVM_MIN_BPR + 1:
        yield _v("KVM-EXPORT-BINARY-POINT", labels.cpu_reg(c, "gicc.bpr"),
                 f"BPR {ci.bpr} / ABPR {ci.abpr} below KVM's minima {KVM_MIN_BPR} / "
                 f"{KVM_MIN_BPR + 1} (lenient: raised to the minima, as the hardware does)")
        ci.bpr, ci.abpr = max(ci.bpr, KVM_MIN_BPR), max(ci.abpr, KVM_MIN_BPR + 1)
    yield from _fit_apr(st, c)


def _fit_apr(st: GicState, c: int) -> Iterator[Violation]:
    ci = st.cpu[c]
    # GICH_APR is one set for both groups: a known group is merged (gic-domain §6 row 32)
    levels = ci.active_group0 | ci.active_group1 | ci.active_group_unknown
    # a level between KVM's counts towards the KVM level at or below it
    coarse = bitmaps.squeeze(reduce(or_, (levels >> j for j in range(_LEVEL_STEP))), _LEVEL_STEP)
    fine = levels & ~bitmaps.stretch(_APR_MASK, _LEVEL_STEP)
    if fine:
        lv = (fine & -fine).bit_length() - 1
        yield _v("KVM-EXPORT-APR-GRANULARITY", labels.cpu_reg(c, "gicc.active_priorities"),
                 f"group priority {2 * lv:#04x} is active; KVM's APR has 32 levels (group "
                 "priorities that are multiples of 8) (lenient: folded into the level above)")
    ci.active_group0 = ci.active_group1 = 0
    ci.active_group_unknown = bitmaps.stretch(coarse, _LEVEL_STEP)


# --- the register image and the writes ---------------------------------------------------
def apr_word(st: GicState, c: int) -> int:
    """GICC_APR0 in KVM's (GICH_APR) format, from a fitted state (both groups: one set)."""
    ci = st.cpu[c]
    levels = ci.active_group0 | ci.active_group1 | ci.active_group_unknown
    return bitmaps.squeeze(levels, _LEVEL_STEP) & _APR_MASK


def _edge_word(edge: int) -> int:
    return bitmaps.stretch(edge & 0xFFFF, 2) << _ICFGR_EDGE.shift


class _Image:
    """The registers KVM returns for a (fitted) state, by bank and word."""

    def __init__(self, st: GicState) -> None:
        self.st = st
        self.words = st.config.num_irqs // 32
        sh = st.shared
        self.shared_bits = {"IGROUPR": sh.group, "ISENABLER": sh.enabled,
                            "ISPENDR": sh.pending_latch | (sh.line_level & ~sh.edge),
                            "ISACTIVER": sh.active}

    def banked_bits(self, bank: str, c: int) -> int:
        b = self.st.banked[c]
        sgi_pending = sum(1 << s for s, v in enumerate(b.sgi_sources) if v)
        return {"IGROUPR": b.group, "ISENABLER": b.enabled, "ISACTIVER": b.active,
                "ISPENDR": sgi_pending | b.pending_latch | (b.line_level & ~b.edge)}[bank]

    def bit_word(self, bank: str, i: int, c: int) -> int:
        if i == 0:
            return self.banked_bits(bank, c)
        return self.shared_bits[bank] >> 32 * (i - 1) & _ALL

    def byte_word(self, bank: str, i: int, c: int) -> int:
        st = self.st
        if bank == "ITARGETSR" and i < 8:
            return (1 << c) * 0x0101_0101
        if i < 8:
            data = st.banked[c].priority
        else:
            sh = st.shared
            data = sh.priority if bank == "IPRIORITYR" else sh.targets
            i -= 8
        return int.from_bytes(data[4 * i:4 * i + 4], "little")

    def cfg_word(self, i: int, c: int) -> int:
        if i < 2:
            return _edge_word(self.st.banked[c].edge >> 16 * i & 0xFFFF)
        return _edge_word(self.st.shared.edge >> 16 * (i - 2) & 0xFFFF)

    def sgi_word(self, r: int, c: int) -> int:
        return int.from_bytes(self.st.banked[c].sgi_sources[4 * r:4 * r + 4], "little")


def _acc(bank: Bank, i: int, c: int, value: int) -> Access:
    return Access("dist", c, bank.offset + 4 * i, value)


def _bit_words(img: _Image, vcpus: range) -> Iterator[tuple[int, int]]:
    """(vcpu, word): word 0 per vCPU, the SPI words through vCPU 0."""
    for c in vcpus:
        yield c, 0
    for i in range(1, img.words):
        yield 0, i


def _image(st: GicState, iidr_revision: int) -> Iterator[Access]:
    img, cpus = _Image(st), range(st.config.num_cpus)
    yield Access("dist", 0, KVM_GICD_CTLR.offset, KVM_GICD_CTLR.pack(enabled=st.enable_grp0))
    yield Access("dist", 0, GICD_TYPER.offset, GICD_TYPER.pack(
        it_lines_number=img.words - 1, cpu_number=st.config.num_cpus - 1))
    yield Access("dist", 0, GICD_IIDR.offset, kvm_iidr(iidr_revision))
    for name in ("IGROUPR", "ISENABLER", "ICENABLER", "ISPENDR", "ICPENDR", "ISACTIVER",
                 "ICACTIVER"):
        source = name.replace("IC", "IS")
        for c, i in _bit_words(img, cpus):
            yield _acc(_BANK[name], i, c, img.bit_word(source, i, c))
    for name in ("IPRIORITYR", "ITARGETSR"):
        for c in cpus:
            yield from (_acc(_BANK[name], i, c, img.byte_word(name, i, c)) for i in range(8))
        yield from (_acc(_BANK[name], i, 0, img.byte_word(name, i, 0))
                    for i in range(8, 8 * img.words))
    for c in cpus:
        yield from (_acc(_BANK["ICFGR"], i, c, img.cfg_word(i, c)) for i in range(2))
    yield from (_acc(_BANK["ICFGR"], i, 0, img.cfg_word(i, 0)) for i in range(2, 2 * img.words))
    for name in ("CPENDSGIR", "SPENDSGIR"):
        for c in cpus:
            yield from (_acc(_BANK[name], r, c, img.sgi_word(r, c)) for r in range(SGI_BANK_REGS))
    for c in cpus:
        yield from _cpu_regs(st, c)
        yield from (Access("cpu", c, GICC_APR.offset + 4 * n, 0) for n in range(1, GICC_APR_REGS))
        yield Access("cpu", c, GICC_IIDR.offset, KVM_GICC_IIDR)


def _cpu_regs(st: GicState, c: int) -> Iterator[Access]:
    ci = st.cpu[c]
    yield Access("cpu", c, KVM_GICC_CTLR.offset, ci.ctlr)
    yield Access("cpu", c, KVM_GICC_PMR.offset, KVM_GICC_PMR.pack(
        vmprimask=ci.pmr >> KVM_PMR_SHIFT))
    yield Access("cpu", c, GICC_BPR.offset, ci.bpr)
    yield Access("cpu", c, GICC_ABPR.offset, ci.abpr)
    yield Access("cpu", c, GICC_APR.offset, apr_word(st, c))


def _clear_set(img: _Image, set_name: str, clear_name: str, cpus: range) -> Iterator[Access]:
    """All-ones to the W1C register, then the state bits to the W1S one."""
    words = list(_bit_words(img, cpus))
    yield from (_acc(_BANK[clear_name], i, c, _ALL) for c, i in words)
    for c, i in words:
        value = img.bit_word(set_name, i, c)
        if set_name == "ISPENDR" and i == 0:
            value &= ~SGI_MASK  # an ISPENDR0 write would make the writing vCPU a source
        yield _acc(_BANK[set_name], i, c, value)


def _writes(st: GicState, iidr_revision: int) -> Iterator[Access]:
    """The restore sequence; the order matters (docs/kvm.md explains each step)."""
    img, cpus = _Image(st), range(st.config.num_cpus)
    if iidr_revision >= KVM_IIDR_GROUPS_WRITABLE:
        yield Access("dist", 0, GICD_IIDR.offset, kvm_iidr(iidr_revision))  # ungates IGROUPR
    yield Access("dist", 0, KVM_GICD_CTLR.offset, KVM_GICD_CTLR.pack(enabled=st.enable_grp0))
    for c, i in _bit_words(img, cpus):
        yield _acc(_BANK["IGROUPR"], i, c, img.bit_word("IGROUPR", i, c))
    # trigger and targets before pending: KVM queues a pending SPI to its target then
    yield from (_acc(_BANK["ICFGR"], i, 0, img.cfg_word(i, 0)) for i in range(2, 2 * img.words))
    yield from (_acc(_BANK["ITARGETSR"], i, 0, img.byte_word("ITARGETSR", i, 0))
                for i in range(8, 8 * img.words))
    for c in cpus:
        yield from (_acc(_BANK["IPRIORITYR"], i, c, img.byte_word("IPRIORITYR", i, c))
                    for i in range(8))
    yield from (_acc(_BANK["IPRIORITYR"], i, 0, img.byte_word("IPRIORITYR", i, 0))
                for i in range(8, 8 * img.words))
    yield from _clear_set(img, "ISENABLER", "ICENABLER", cpus)
    yield from _clear_set(img, "ISPENDR", "ICPENDR", cpus)
    yield from _clear_set(img, "ISACTIVER", "ICACTIVER", cpus)
    for c in cpus:
        yield from (_acc(_BANK["CPENDSGIR"], r, c, _ALL) for r in range(SGI_BANK_REGS))
    for c in cpus:
        yield from (_acc(_BANK["SPENDSGIR"], r, c, img.sgi_word(r, c))
                    for r in range(SGI_BANK_REGS))
    for c in cpus:
        yield from _cpu_regs(st, c)
