"""KVM import: a register dump (`gicmig.views.kvm.dump`) read into canonical state. Set/clear
pairs must agree, banked registers are read per vCPU, PMR is VMPriMask << 3, APR0 is the
GICH_APR image (32 levels), and what the ABI cannot say becomes an UNKNOWN marker (latch
vs line of pending level interrupts, the source of an active SGI, the CPU of an active
SPI, the group of active priorities, EnableGrp1). A dump that lacks registers the state
needs is refused with the full list."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gicmig import __version__
from gicmig.abi.kvm import (
    KVM_GICC_IIDR,
    kvm_config,
    kvm_iidr,
    maybe_stale_latch,
    never_run_binary_points,
)
from gicmig.abi.kvm.access import KvmDump, register_name
from gicmig.abi.kvm.layout import ICFGR_RESERVED, apr0_levels, pmr_of_kvm
from gicmig.arch import bitmaps
from gicmig.arch.ids import MAX_CPUS, NUM_PRIVATE, NUM_SGIS, SGI_MASK
from gicmig.arch.registers import (
    ARM_IMPLEMENTER,
    DIST_BANKS,
    GICC_ABPR,
    GICC_APR,
    GICC_APR_REGS,
    GICC_BPR,
    GICC_IIDR,
    GICD_ICFGR,
    GICD_IGROUPR,
    GICD_IIDR,
    GICD_IPRIORITYR,
    GICD_ISACTIVER,
    GICD_ISENABLER,
    GICD_ISPENDR,
    GICD_ITARGETSR,
    GICD_SPENDSGIR,
    GICD_TYPER,
    KVM_GICC_CTLR,
    KVM_GICC_PMR,
    KVM_GICD_CTLR,
    KVM_IIDR_REVISIONS,
    KVM_PRIORITY_BITS,
    KVM_PRODUCT_ID,
    SET_CLEAR,
    Bank,
)
from gicmig.core.attribution import attribute
from gicmig.core.config import GicConfig
from gicmig.core.image import ICFGR_EDGE, edge_word
from gicmig.core.imported import Assumption, ImportedState, ImportReport
from gicmig.core.irqtable import IrqTable, PrivateBank, SharedBank
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.core.rules import validate
from gicmig.errors import DecodeError, GicmigError, Violation
from gicmig.files import Source, read_source
from gicmig.views.kvm.dump import parse_dump

_PRIVATE_IDS, _SGI_IDS = range(NUM_PRIVATE), range(NUM_SGIS)


class KvmDumpIncomplete(DecodeError):
    """A dump that lacks registers the state needs; `.missing` lists them all."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("KVM-DUMP-INCOMPLETE",
                         f"the dump lacks registers the state needs ({len(missing)} "
                         "ranges): "
                         + "; ".join(missing))
        self.missing = tuple(missing)


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
        regs = self.regs
        if vcpu is not None:
            key = (group, vcpu, offset)
            self.used.add(key)
            return regs.get(key)
        keys = [k for k in [(group, c, offset) for c in range(self.num_cpus)] if k in regs]
        if not keys:
            return None
        self.used.update(keys)
        first = regs[keys[0]]
        for key in keys[1:]:
            if regs[key] != first:
                raise GicmigError("KVM-DUMP-INCONSISTENT",
                                  f"{register_name(group, offset)} is not banked, but vcpu"
                                  f"{keys[0][1]} read {first:#010x} and vcpu{key[1]} "
                                  f"{regs[key]:#010x}")
        return first

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

    def word(self, bank: Bank, index: int, vcpu: int | None) -> int:
        return self.read("dist", vcpu, bank.offset + 4 * index, bank.name, index)

    def pair(self, pair: tuple[Bank, Bank], index: int, vcpu: int | None) -> int:
        """A W1S/W1C pair: either register will do; both must then read the same bits."""
        s, c = pair
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


def import_kvm(source: KvmDump | Source, *, num_cpus: int | None = None,
               priority_bits: int | None = None) -> ImportedState:
    """Canonical state from a KVM GICv2 register dump (`gicmig.kvm-dump/1` JSON).

    `source` is the dump's path (a str is always a path; `-` is stdin), its bytes, a
    binary file object, or a `KvmDump` already parsed. A never-run vCPU's binary points
    are normalized to what the guest observes, and active priorities and active SPIs get
    their group and CPU where the active interrupts explain them: the state's
    `.import_report` lists both (`normalized`, `derived`).

    `num_cpus` defaults to GICD_TYPER.CPUNumber + 1; when both are there they must agree.
    `priority_bits` defaults to KVM's 5 (the dump does not record it). The report's
    `assumed` lists the defaults the import used.
    Raises `KvmDumpIncomplete`, `InputError` (KVM-DUMP-*), `ValidationError` or
    `FileError` (IO-READ).

    >>> state = gicmig.import_kvm("fixtures/kvm/two-vcpu.json")
    >>> state.config.num_cpus, state.import_report.view
    (2, 'kvm')
    """
    dump = source if isinstance(source, KvmDump) else parse_dump(read_source(source,
                                                                               "import_kvm"))
    regs = dump.registers()
    n = _num_cpus(dump, regs, num_cpus)
    # without a count, read as many vCPUs as the dump shows, only to list what is missing
    rd = _Reader(regs, n or min(max((a.vcpu for a in dump.accesses), default=0) + 1, 8))
    if n is None:
        rd.missing.append(("", "GICD_TYPER (or the vCPU count: --num-cpus)", -1, ""))
    assumed = []
    if num_cpus is None and n is not None:
        assumed.append(Assumption("num_cpus", n, "GICD_TYPER.CPUNumber + 1"))
    if priority_bits is None:
        priority_bits = KVM_PRIORITY_BITS
        assumed.append(Assumption("priority_bits", priority_bits,
                                  f"KVM's GICv2 implements {priority_bits}"))
    state = GicState.reset(kvm_config(rd.num_cpus, dump.nr_irqs, priority_bits))
    iidr = _distributor(rd, state, dump.nr_irqs)
    normalized: list[Violation] = []
    private = []
    for c in range(rd.num_cpus):
        private.append(_banked(rd, c))
        _cpu(rd, state, c, normalized)
    shared = _shared(rd, state.config)
    if rd.missing:
        raise KvmDumpIncomplete(_compress(rd.missing))
    IrqTable(tuple(private), shared).write_to(state)  # the banks -> the table -> the state
    _leftovers(rd, dump.nr_irqs)
    p = state.provenance
    p.source, p.tool_version, p.gicd_iidr = "kvm-abi", __version__, iidr
    p.vmm, p.vmm_version, p.host_kernel = dump.vmm, dump.vmm_version, dump.host_kernel
    derived = attribute(state)
    validate(state)
    return ImportedState(state, ImportReport("kvm", tuple(normalized), tuple(derived),
                                             tuple(assumed)))


def _num_cpus(dump: KvmDump, regs: dict[tuple[str, int, int], int],
              given: int | None) -> int | None:
    """The vCPU count, or None when neither the caller nor GICD_TYPER says."""
    typer = next((v for (g, _, off), v in regs.items()
                  if g == "dist" and off == GICD_TYPER.offset), None)
    from_typer = None if typer is None else GICD_TYPER.field("cpu_number").get(typer) + 1
    if given is not None and not 1 <= given <= MAX_CPUS:
        raise GicmigError("USAGE", f"--num-cpus {given} is not in 1..{MAX_CPUS}")
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


# The banks read per vCPU (IDs 0-31) and for the SPIs, in read order (the order of a
# KvmDumpIncomplete's list); each fills the table field its `Bank.state` names. GICD_ICFGR0
# (optional), GICD_ITARGETSR0-7 (checked only) and the SGI sources are read apart.
_PRIVATE_BANKS = (GICD_IGROUPR, GICD_ISENABLER, GICD_ISACTIVER, GICD_ISPENDR, GICD_IPRIORITYR)
_SHARED_BANKS = (GICD_IGROUPR, GICD_ISENABLER, GICD_ISPENDR, GICD_ISACTIVER, GICD_ICFGR,
                 GICD_IPRIORITYR, GICD_ITARGETSR)
_PAIRS = {pair[0]: pair for pair in SET_CLEAR}  # a W1S bank and its W1C twin


def _bank(rd: _Reader, bank: Bank, vcpu: int | None, ids: range) -> Any:
    """The table field (bitmap or bytes, element 0 = ID `ids.start`) that `bank`'s words
    covering `ids` show: a one-bit bank (a set/clear pair read as a pair), the edge bits of
    GICD_ICFGR, or the bytes of a byte bank."""
    per = bank.per_word
    words = range(ids.start // per, ids.stop // per)
    if bank is GICD_ICFGR:
        return sum(_edge(rd, i, vcpu) << per * k for k, i in enumerate(words))
    pair = _PAIRS.get(bank)
    values = [rd.pair(pair, i, vcpu) if pair else rd.word(bank, i, vcpu) for i in words]
    if bank.bits == 8:
        return b"".join(v.to_bytes(4, "little") for v in values)
    return sum(v << per * k for k, v in enumerate(values))


def _read_banks(rd: _Reader, banks: tuple[Bank, ...], vcpu: int | None,
                ids: range) -> dict[str, Any]:
    return {str(bank.state): _bank(rd, bank, vcpu, ids) for bank in banks}


def _banked(rd: _Reader, c: int) -> PrivateBank:
    complete = len(rd.missing)
    got = _read_banks(rd, _PRIVATE_BANKS, c, _PRIVATE_IDS)
    edge = _edge(rd, 0, c, optional=True, default=edge_word(SGI_MASK)) | _edge(rd, 1, c) << 16
    if edge & SGI_MASK != SGI_MASK:
        raise GicmigError("KVM-DUMP-RESERVED-BITS",
                          f"vcpu{c} GICD_ICFGR0 makes SGIs level-triggered; SGIs are edge")
    _private_targets(rd, c)
    sources = _bank(rd, GICD_SPENDSGIR, c, _SGI_IDS)
    # ISPENDR0 shows the table's `pending` (SGI sources, latch, line): split it below
    pending, active = got.pop("pending"), got["active"]
    shown = bitmaps.nonzero(sources[:NUM_SGIS])
    if len(rd.missing) == complete and pending & SGI_MASK != shown:
        raise GicmigError("KVM-DUMP-INCONSISTENT",
                          f"vcpu{c} GICD_ISPENDR0 shows SGIs {pending & SGI_MASK:#06x} "
                          f"pending, GICD_SPENDSGIRn shows {shown:#06x}")
    ppi_pending = pending & ~SGI_MASK
    return PrivateBank(
        **got, edge=edge, sgi_sources=sources, line_level=0,
        sgi_active_source=bytes(UNKNOWN_CPU if active >> s & 1 else 0
                                for s in range(NUM_SGIS)),
        pending_latch=ppi_pending,
        # ISPENDR shows latch OR line for a level interrupt; which one is not recorded
        pending_split_unknown=ppi_pending & ~edge,
        latch_maybe_stale=maybe_stale_latch(ppi_pending, active, edge))


def _edge(rd: _Reader, index: int, vcpu: int | None, *, optional: bool = False,
          default: int = 0) -> int:
    """The edge bits (one per interrupt) of GICD_ICFGR<index>."""
    b = GICD_ICFGR
    where = f"{_scope(vcpu)}GICD_ICFGR{index}"
    if optional:
        word = rd.optional("dist", vcpu, b.offset + 4 * index)
        word = default if word is None else word
    else:
        word = rd.word(GICD_ICFGR, index, vcpu)
    _reserved(word, ICFGR_RESERVED, where)
    return bitmaps.squeeze(word >> ICFGR_EDGE.shift, 2) & 0xFFFF


def _private_targets(rd: _Reader, c: int) -> None:
    b = GICD_ITARGETSR
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
    ci.pmr = pmr_of_kvm(pmr)
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
    ci.active_group_unknown = apr0_levels(apr)
    iidr = rd.optional("cpu", c, GICC_IIDR.offset)
    if iidr is not None and iidr != KVM_GICC_IIDR:
        raise GicmigError("KVM-DUMP-IIDR", f"{where}IIDR reads {iidr:#010x}, KVM's is "
                          f"{KVM_GICC_IIDR:#010x}")


def _shared(rd: _Reader, cfg: GicConfig) -> SharedBank:
    got = _read_banks(rd, _SHARED_BANKS, None, range(NUM_PRIVATE, cfg.num_irqs))
    if cfg.num_cpus == 1:
        bad = got["targets"].translate(None, b"\0\1")
        if bad:
            raise GicmigError("KVM-DUMP-RESERVED-BITS",
                              f"an SPI targets {bad[0]:#04x} on a 1-vCPU VM; KVM masks target "
                              "bits to the online vCPUs")
        # KVM keeps a written bit 0, but a uniprocessor's ITARGETSR is RAZ/WI canonically
        got["targets"] = b""
    pending, active, edge = got.pop("pending"), got["active"], got["edge"]
    return SharedBank(
        **got, pending_latch=pending, line_level=0,
        pending_split_unknown=pending & ~edge,
        latch_maybe_stale=maybe_stale_latch(pending, active, edge),
        active_cpu=bitmaps.spread(active, cfg.num_spis, UNKNOWN_CPU))


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
