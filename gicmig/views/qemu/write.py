"""The QEMU view, written: a canonical state -> the `arm_gic` section of a QEMU 7.2
migration stream, inside a copy of a stream of the destination VM (the template).

Only the field bytes of `arm_gic` and of its `arm_gic_virt_state` subsection change;
every other byte of the template is copied as it is, including the vmdesc JSON at the
end, which names the fields, their sizes and the subsection but no offset or value (the
section keeps its size: the template must have the subsection exactly when the state has
virtualization extensions). The kernel copies the template into a temporary file in a
second thread while the template is walked and the section planned; the new bytes are then
written in place and the output appears atomically. Memory does not grow with the template.

Two encodings (gic-domain.md §5.3, §5.5):

* `tcg`: the TCG GIC model's own arrays, including the caches QEMU stores
  (running_priority, current_pending, GICH_MISR and the vCPU caches) computed by the
  importer's functions of QEMU 7.2's rules (`gic_update_internal`,
  `gic_get_prio_from_apr_bits`, `gic_compute_misr`).
* `kvm`: what kvm-arm-gic's `kvm_arm_gic_get` saves: the register image KVM returns
  after the state is restored (`gicmig.abi.kvm.fit.dump_kvm`, with KVM's losses from
  `fit_kvm`) read back into QEMU's arrays as that function does. QEMU never writes
  GICD_IIDR, so KVM keeps ignoring IGROUPR writes: Group 1 interrupts are a loss.

Strict mode refuses what the destination cannot hold or would change, with every reason;
`lenient=True` writes the nearest state and reports each loss. The result is checked by
importing it again: the state the destination holds is returned with the report.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gicmig import __version__
from gicmig.arch import bitmaps, labels
from gicmig.arch.gich import VCPU_CTLR_MASK, ctlr_of_vmcr, status_registers
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS, SGI_MASK
from gicmig.arch.registers import (
    DIST_BANKS,
    GICC_CTLR,
    GICD_CTLR,
    GICH_HCR,
    GICH_VMCR,
    SGI_BANKS,
)
from gicmig.core.config import GicConfig
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.core.rules import validate
from gicmig.errors import GicmigError, ValidationError, Violation
from gicmig.files import _not_a_regular_file, open_atomic
from gicmig.views.qemu.accel import check_accel, slots_in_use
from gicmig.views.qemu.convert import convert, qemu_config
from gicmig.views.qemu.decode import Raw
from gicmig.views.qemu.model import (
    ACCELS,
    IDLE_PRIORITY,
    MACHINES,
    QEMU_NUM_LRS,
    SPURIOUS,
    VIRT_PRIORITY_BITS,
    VMPRI_SHIFT,
)
from gicmig.views.qemu.raw import RawImage
from gicmig.views.qemu.stream import (
    GIC_IDSTR,
    GIC_SIZE,
    MAXIRQ,
    NCPU,
    VIRT_SUBSECTION,
    ArmGicSection,
    read_arm_gic,
)
from gicmig.views.qemu.tcg import best_pending, best_virq, running_priority

MAINTENANCE_PPI = 25  # virt board: GICH maintenance interrupt -> PPI 25 of each CPU
_PRIVATE = (1 << NUM_PRIVATE) - 1
_COPY_CHUNK = 8 << 20
_KERNEL_STEP = 64 << 20  # per copy_file_range call: a cancel is seen within one step


class QemuUnrepresentable(ValidationError):
    """A state the destination QEMU cannot hold (strict export); `.violations` lists why."""


@dataclass(frozen=True)
class QemuExport:
    """What was written: the state the destination holds (importing the output gives it
    back), the losses lenient mode accepted (empty in strict mode), where the section is."""

    state: GicState
    losses: tuple[Violation, ...]
    accel: str
    machine: str | None
    section_offset: int
    size: int


def export_qemu(state: GicState, template: str | os.PathLike[str],
                out: str | os.PathLike[str], accel: str | None = None,
                lenient: bool = False, *, num_irqs: int | None = None) -> QemuExport:
    """Write `state` into a copy of the QEMU 7.2 stream `template` as `out`.

    `accel` ("tcg" or "kvm") is the QEMU GIC device of the destination; by default the
    template's own marks decide it (QEMU-ACCEL-AMBIGUOUS when they cannot), and a given
    `accel` the template contradicts is refused (QEMU-ACCEL-MISMATCH). The template must
    be a stream of the same machine: CPU count, interrupt IDs (`num_irqs` is needed only
    for machine types without a preset) and virtualization extensions. Strict mode raises
    `QemuUnrepresentable` listing every state QEMU cannot hold; lenient mode writes the
    nearest state and lists the losses in the report.

    >>> rep = gicmig.export_qemu(gicmig.load("gic.gicmig"), "vm.mig", "out.mig")  # doctest: +SKIP
    >>> rep.accel, [v.code for v in rep.losses]  # doctest: +SKIP
    ('tcg', [])
    """
    if accel is not None and accel not in ACCELS:
        raise GicmigError("QEMU-ACCEL", f"accelerator {accel!r}: say tcg or kvm")
    _refuse_same_file(template, out)

    def planned() -> tuple[ArmGicSection, QemuPlan]:
        section = read_arm_gic(template)
        return section, plan_qemu(state, section, accel=accel, lenient=lenient,
                                  num_irqs=num_irqs)

    if str(out) == "-" or _not_a_regular_file(Path(out)):
        section, plan = planned()  # a pipe or device: nothing is opened before the plan
        size = _write(template, out, section, plan.main, plan.virt)
    else:
        section, plan, size = _write_alongside(template, out, planned)
    return QemuExport(plan.state, plan.losses, plan.accel, section.machine, section.offset,
                      size)


@dataclass(frozen=True)
class QemuPlan:
    """The new field bytes of a template's arm_gic section, and the state they hold."""

    state: GicState
    losses: tuple[Violation, ...]
    accel: str
    main: bytes
    virt: bytes | None


def plan_qemu(state: GicState, section: ArmGicSection, *, accel: str | None = None,
              lenient: bool = False, num_irqs: int | None = None) -> QemuPlan:
    """The section bytes that hold `state` in the machine of `section` (a template's)."""
    raw = Raw(section)
    accel = check_accel(raw, accel, "the template")  # before any other check
    if section.located_by == "search":
        raise GicmigError("QEMU-TEMPLATE-UNWALKABLE",
                          "the template's framing could not be followed up to its arm_gic "
                          f"section ({section.search_reason}); gicmig writes only into a "
                          "stream it can walk record by record", offset=section.offset)
    validate(state)
    config = _destination(state, raw, section, accel, num_irqs)
    if accel == "tcg":
        fitted, losses = fit_tcg(state, config, lenient=lenient)
        image = tcg_image(fitted)
    else:
        fitted, losses = _fit_kvm(state, config, lenient=lenient)
        image = kvm_image(fitted)
    prov = fitted.provenance
    prov.tool, prov.tool_version, prov.vmm, prov.source = (
        "gicmig", __version__, "qemu", f"qemu-{accel}")
    main, virt = image.encode()
    _self_check(fitted, section, main, virt, accel)
    return QemuPlan(fitted, tuple(losses), accel, main, virt)


# --- the destination machine ----------------------------------------------------------------
def _destination(state: GicState, raw: Raw, section: ArmGicSection, accel: str,
                 num_irqs: int | None) -> GicConfig:
    """The GicConfig of the template's GIC (as `import qemu` reads it), which must be the
    state's machine: same CPUs, interrupt IDs and virtualization extensions."""
    cfg = state.config
    written = section.machine or ""
    machine = next((m for m in MACHINES if written == m or written.startswith(m + "-")), None)
    if machine is None and num_irqs is None:
        raise GicmigError("QEMU-PARAMETER-MISSING",
                          f"the template's machine type {written or '(not recorded)'!r} has "
                          "no preset of its number of interrupt IDs: give --num-irqs N")
    virt = cfg.virtualization
    if (virt is not None) != raw.virt:
        have = "has" if raw.virt else "has no"
        raise GicmigError("QEMU-TEMPLATE-VIRTUALIZATION",
                          f"the template's arm_gic {have} the {VIRT_SUBSECTION} subsection, "
                          f"but the state's GIC {'has' if virt else 'has no'} virtualization "
                          "extensions: use a template of the same machine")
    if virt is not None and (virt.num_lrs, virt.priority_bits, virt.preemption_bits) != (
            QEMU_NUM_LRS, VIRT_PRIORITY_BITS, VIRT_PRIORITY_BITS):
        raise GicmigError("QEMU-TEMPLATE-VIRTUALIZATION",
                          f"the state's GICH has {virt.num_lrs} list registers and "
                          f"{virt.priority_bits}/{virt.preemption_bits} priority/preemption "
                          f"bits; QEMU 7.2's has {QEMU_NUM_LRS} and "
                          f"{VIRT_PRIORITY_BITS}/{VIRT_PRIORITY_BITS}")
    n = slots_in_use(raw)
    if n != cfg.num_cpus:
        raise GicmigError("QEMU-TEMPLATE-NUM-CPUS",
                          f"the state's GIC has {cfg.num_cpus} CPU interfaces, the template's "
                          f"has {n} (its CPU slots in use): use a template of a VM with "
                          f"-smp {cfg.num_cpus}")
    want = MACHINES[machine] if machine is not None and num_irqs is None else num_irqs
    if want != cfg.num_irqs:
        raise GicmigError("QEMU-TEMPLATE-NUM-IRQS",
                          f"the state's GIC has {cfg.num_irqs} interrupt IDs, the template's "
                          f"machine {written!r} has {want}")
    try:
        return qemu_config(raw, section, accel, cfg.num_cpus, cfg.num_irqs, None, machine)
    except GicmigError as exc:
        if exc.code.startswith("QEMU-NUM-CPUS"):
            raise GicmigError("QEMU-TEMPLATE-NUM-CPUS",
                              f"the template does not hold a {cfg.num_cpus}-CPU GIC: "
                              f"{exc.message}") from None
        raise


def _rebased(state: GicState, config: GicConfig) -> GicState:
    """A copy of `state` with the destination's parameters."""
    out = state.copy()
    out._pb.config.CopyFrom(config._pb)
    return out


# --- what the TCG GIC can hold ----------------------------------------------------------------
def fit_tcg(state: GicState, config: GicConfig, *,
            lenient: bool = False) -> tuple[GicState, list[Violation]]:
    """A copy of `state` as QEMU's TCG GIC (`config`) holds it, and the losses on the way.
    Strict mode raises `QemuUnrepresentable` if there is any loss."""
    fitted = _rebased(state, config)
    losses = list(_fit_tcg(fitted))
    if losses and not lenient:
        raise QemuUnrepresentable(losses)
    validate(fitted)
    return fitted, losses


def _v(code: str, where: str, message: str) -> Violation:
    return Violation(code, where, message)


def _first(bits: int) -> int:
    return (bits & -bits).bit_length() - 1


def _fit_tcg(st: GicState) -> Iterator[Violation]:
    if st.hypervisor is not None:
        st.drop_hypervisor_context()
        yield _v("QEMU-EXPORT-HYPERVISOR-CONTEXT", "hypervisor",
                 "hypervisor context (HW mappings, GICH_HCR, EOI maintenance) has no place "
                 "in a QEMU stream (lenient: dropped)")
    if st.enable_grp1_unknown:
        yield _v("QEMU-EXPORT-UNKNOWN", "gicd.ctlr",
                 "EnableGrp1 is UNKNOWN (the source had one distributor enable); the TCG GIC "
                 f"keeps both (lenient: EnableGrp1 = EnableGrp0 = {int(st.enable_grp0)})")
        st.enable_grp1, st.enable_grp1_unknown = st.enable_grp0, False
    ppi_edge = st.banked[0].edge & ~SGI_MASK
    for c in st.cpus():
        yield from _fit_banked(st, c, ppi_edge)
        yield from _fit_cpu(st, c)
    yield from _fit_shared(st)


def _fit_banked(st: GicState, c: int, ppi_edge: int) -> Iterator[Violation]:
    b = st.banked[c]
    off = SGI_MASK & ~b.enabled
    if off:
        yield _v("QEMU-EXPORT-SGI-DISABLED", labels.irq(_first(off), c),
                 f"disabled ({bin(off).count('1')} SGIs of this CPU); the TCG GIC's SGI "
                 "enables are RAO/WI (lenient: enabled)")
        b.enabled |= SGI_MASK
    diff = (b.edge ^ ppi_edge) & ~SGI_MASK & _PRIVATE
    if diff:
        k = _first(diff)
        yield _v("QEMU-EXPORT-PPI-TRIGGER-BANKED", labels.irq(k, c),
                 f"{'edge' if b.edge >> k & 1 else 'level'}-triggered here but not on CPU 0; "
                 "QEMU 7.2 keeps one trigger per PPI for all CPUs (deviation 4) "
                 "(lenient: CPU 0's)")
        b.edge = (b.edge & SGI_MASK) | ppi_edge
    if b.pending_split_unknown:
        k = _first(b.pending_split_unknown)
        yield _v("QEMU-EXPORT-UNKNOWN", labels.irq(k, c),
                 "pending with the latch/line split UNKNOWN; the TCG GIC keeps them apart "
                 "(lenient: pending latch, as kvm-arm-gic restores it)")
        b.pending_split_unknown = 0
    if b.latch_maybe_stale:
        yield _stale(labels.irq(_first(b.latch_maybe_stale), c))
        b.latch_maybe_stale = 0
    src = bytearray(b.sgi_active_source)
    known = [s for s in range(NUM_SGIS) if b.active >> s & 1 and src[s] != UNKNOWN_CPU]
    if known:
        yield _v("QEMU-EXPORT-ACTIVE-SGI-SOURCE", labels.irq(known[0], c),
                 f"active from CPU {src[known[0]]}; QEMU does not store the source of an "
                 "active SGI (lenient: source UNKNOWN)")
        for s in known:
            src[s] = UNKNOWN_CPU
        b.sgi_active_source = bytes(src)
    virt = st.config.virtualization
    if virt is not None:
        line = _maintenance_line(st, c)
        if (b.line_level >> MAINTENANCE_PPI & 1) != line:
            yield _v("QEMU-EXPORT-MAINTENANCE-LEVEL", labels.irq(MAINTENANCE_PPI, c),
                     f"line level {1 - line}, but the CPU's GICH (HCR.En and MISR) drives "
                     f"the maintenance interrupt to {line} (lenient: {line})")
            b.line_level = b.line_level & ~(1 << MAINTENANCE_PPI) | line << MAINTENANCE_PPI


def _stale(place: str) -> Violation:
    return _v("QEMU-EXPORT-UNKNOWN", place,
              "active and latched with the latch marked maybe-stale (a KVM source cannot "
              "tell its stale latch from a new one); the TCG GIC holds a latch exactly "
              "(lenient: a latch)")


def _maintenance_line(st: GicState, c: int) -> int:
    """gic_update_maintenance: HCR.En && MISR != 0, MISR by QEMU's gic_compute_misr."""
    v = st.virtual[c]
    misr = _misr(v.hcr, v.vmcr, v.lr)
    return int(bool(GICH_HCR.field("en").get(v.hcr)) and misr != 0)


def _fit_cpu(st: GicState, c: int) -> Iterator[Violation]:
    ci = st.cpu[c]
    extra = ci.ctlr & ~VCPU_CTLR_MASK
    if extra:
        yield _v("QEMU-EXPORT-CTLR-BITS", labels.cpu_reg(c, "gicc.ctlr"),
                 f"{ci.ctlr:#x} sets {', '.join(GICC_CTLR.flags(extra))}, which QEMU 7.2's GICv2 "
                 "reads as zero (deviation 10) (lenient: dropped)")
        ci.ctlr &= VCPU_CTLR_MASK
    if ci.active_group_unknown:
        levels = labels.group_priorities(ci.active_group_unknown)
        yield _v("QEMU-EXPORT-UNKNOWN", labels.cpu_reg(c, "gicc.active_priorities"),
                 f"active priorities {', '.join(levels)} of UNKNOWN group; the TCG GIC keeps "
                 "GICC_APRn (group 0) and GICC_NSAPRn (group 1) apart (lenient: group 0)")
        ci.active_group0 |= ci.active_group_unknown
        ci.active_group_unknown = 0


def _fit_shared(st: GicState) -> Iterator[Violation]:
    sh, n = st.shared, st.config.num_cpus
    if sh.pending_split_unknown:
        k = _first(sh.pending_split_unknown)
        yield _v("QEMU-EXPORT-UNKNOWN", labels.irq(NUM_PRIVATE + k),
                 "pending with the latch/line split UNKNOWN; the TCG GIC keeps them apart "
                 "(lenient: pending latch, as kvm-arm-gic restores it)")
        sh.pending_split_unknown = 0
    if sh.latch_maybe_stale:
        yield _stale(labels.irq(NUM_PRIVATE + _first(sh.latch_maybe_stale)))
        sh.latch_maybe_stale = 0
    if n > 1 and sh.pending_latch:
        untargeted = sh.pending_latch & ~bitmaps.nonzero(sh.targets)
        if untargeted:
            k = _first(untargeted)
            yield _v("QEMU-EXPORT-SPI-PENDING-NO-TARGET", labels.irq(NUM_PRIVATE + k),
                     f"pending (latch) with no target CPU ({bin(untargeted).count('1')} SPIs); "
                     "QEMU 7.2 keeps SPI pending state per target CPU, so it cannot hold it "
                     "(deviation 2) (lenient: not pending)")
            sh.pending_latch &= ~untargeted


# --- the TCG encoding -------------------------------------------------------------------------
def _misr(hcr: int, vmcr: int, lrs: tuple[int, ...]) -> int:
    """gic_compute_misr over QEMU's 4 list registers (NP counts LRs exactly pending)."""
    return status_registers(hcr, vmcr, lrs[:QEMU_NUM_LRS])["misr"]


def _masks(value: int, c: int) -> int:
    """Bits of a 32-bit bank as per-ID CPU-mask bytes (bit c), as a little-endian int."""
    return int.from_bytes(bitmaps.spread(value, NUM_PRIVATE, 1 << c), "little")


def tcg_image(st: GicState) -> RawImage:
    """The TCG GIC's arrays for a fitted state (fit_tcg), caches included."""
    cfg, sh = st.config, st.shared
    n, nirq, nspi = cfg.num_cpus, cfg.num_irqs, cfg.num_spis
    img = RawImage.blank(cfg.virtualization is not None)
    img.ctlr = GICD_CTLR.pack(enable_grp0=int(st.enable_grp0), enable_grp1=int(st.enable_grp1))
    members = {m: bytearray(MAXIRQ) for m in ("enabled", "pending", "active", "level", "edge",
                                              "group")}
    private = dict.fromkeys(("enabled", "pending", "active", "level", "group"), 0)
    priority1, sgi_pending = bytearray(NUM_PRIVATE * NCPU), bytearray(NUM_SGIS * NCPU)
    for c in range(n):
        b = st.banked[c]
        sgi_pend = bitmaps.nonzero(b.sgi_sources)
        for name, bits in (("enabled", b.enabled), ("active", b.active), ("group", b.group),
                           ("level", b.line_level),
                           ("pending", sgi_pend | (b.pending_latch & ~SGI_MASK))):
            private[name] |= _masks(bits, c)
        priority1[c::NCPU] = b.priority
        sgi_pending[c::NCPU] = b.sgi_sources
    for name, value in private.items():
        members[name][:NUM_PRIVATE] = value.to_bytes(NUM_PRIVATE, "little")
    members["enabled"][:NUM_SGIS] = b"\xff" * NUM_SGIS  # reset to all 8 slots, RAO/WI
    members["edge"][:NUM_PRIVATE] = bitmaps.spread(st.banked[0].edge, NUM_PRIVATE)
    targets = b"\x01" * nspi if n == 1 else sh.targets  # a uniprocessor GIC stores 1
    for name, bits in (("enabled", sh.enabled), ("group", sh.group),
                       ("level", sh.line_level)):
        members[name][NUM_PRIVATE:nirq] = bitmaps.spread(bits, nspi, 0xFF)
    members["edge"][NUM_PRIVATE:nirq] = bitmaps.spread(sh.edge, nspi)
    latch = bitmaps.spread(sh.pending_latch, nspi, 0xFF)
    members["pending"][NUM_PRIVATE:nirq] = bytes(a & t for a, t in zip(latch, targets,
                                                                         strict=True))
    members["active"][NUM_PRIVATE:nirq] = bytes(
        0 if not sh.active >> k & 1 else 0xFF if cpu == UNKNOWN_CPU else 1 << cpu
        for k, cpu in enumerate(sh.active_cpu))
    for name, vec in members.items():
        setattr(img, name, bytes(vec))
    img.target = (b"\x01" * MAXIRQ if n == 1 else
                  bytes(NUM_PRIVATE) + targets + bytes(MAXIRQ - nirq))
    img.priority1, img.sgi_pending = bytes(priority1), bytes(sgi_pending)
    img.priority2 = sh.priority + bytes(MAXIRQ - NUM_PRIVATE - nspi)
    _tcg_cpus(st, img)
    if cfg.virtualization is not None:
        _tcg_virtual(st, img)
    return img


def _slots(values: list[int]) -> tuple[int, ...]:
    return tuple(values) + (0,) * (NCPU - len(values))


def _apr_words(levels: list[int]) -> tuple[int, ...]:
    """GICC_APRn/NSAPRn [n][cpu] from each CPU's 128-level bitmap."""
    words = [0] * (4 * NCPU)
    for c, lv in enumerate(levels):
        for k in range(4):
            words[k * NCPU + c] = lv >> (32 * k) & 0xFFFF_FFFF
    return tuple(words)


def _tcg_cpus(st: GicState, img: RawImage) -> None:
    cpus, n = st.cpu, st.config.num_cpus
    img.cpu_ctlr = _slots([ci.ctlr for ci in cpus])
    img.pmr = _slots([ci.pmr for ci in cpus])
    img.bpr = bytes(_slots([ci.bpr for ci in cpus]))
    img.abpr = bytes(_slots([ci.abpr for ci in cpus]))
    img.apr = _apr_words([ci.active_group0 for ci in cpus])
    img.nsapr = _apr_words([ci.active_group1 for ci in cpus])
    img.running = _slots([running_priority(ci.active_group0 | ci.active_group1, 1) for ci in cpus])
    img.current = _slots([best_pending(img, c, st.config.num_irqs) for c in range(n)])


def _tcg_virtual(st: GicState, img: RawImage) -> None:
    vs, n = st.virtual, st.config.num_cpus
    vmcr = [GICH_VMCR.unpack(v.vmcr) for v in vs]
    img.h_hcr = _slots([v.hcr for v in vs])
    img.h_apr = _slots([v.apr for v in vs])
    lrs = [0] * (64 * NCPU)
    for c, v in enumerate(vs):
        lrs[c:QEMU_NUM_LRS * NCPU:NCPU] = v.lr[:QEMU_NUM_LRS]
    img.h_lr = tuple(lrs)
    img.v_ctlr = _slots([ctlr_of_vmcr(v.vmcr) for v in vs])
    img.v_pmr = _slots([f["vmprimask"] << VMPRI_SHIFT for f in vmcr])
    img.v_bpr = bytes(_slots([f["vmbp"] for f in vmcr]))
    img.v_abpr = bytes(_slots([f["vmabp"] for f in vmcr]))
    img.h_misr = _slots([_misr(v.hcr, v.vmcr, v.lr) for v in vs])
    img.v_running = _slots([running_priority(v.apr, 8 - VIRT_PRIORITY_BITS) for v in vs])
    img.v_current = _slots([best_virq(img, c, list(vs[c].lr[:QEMU_NUM_LRS]))
                            for c in range(n)])


# --- kvm-arm-gic ------------------------------------------------------------------------------
def _fit_kvm(state: GicState, config: GicConfig, *,
             lenient: bool) -> tuple[GicState, list[Violation]]:
    """KVM's losses (gicmig.abi.kvm.fit.fit_kvm), for a KVM whose IIDR QEMU never writes."""
    from gicmig.abi.kvm.fit import fit_kvm

    fitted, losses = fit_kvm(state, lenient=lenient, iidr_revision=KVM_IIDR_UNWRITTEN)
    fitted = _rebased(fitted, config)
    validate(fitted)
    return fitted, losses


_DIST_BANK = {b.name: b for b in (*DIST_BANKS, *SGI_BANKS)}
KVM_IIDR_UNWRITTEN = 1  # kvm_arm_gic_put never writes GICD_IIDR: IGROUPR writes are ignored


def kvm_image(st: GicState) -> RawImage:
    """What kvm_arm_gic_get (QEMU 7.2) saves from a KVM holding the fitted state `st`:
    QEMU's reset arrays, overwritten register by register from KVM's image."""
    from gicmig.abi.kvm.fit import dump_kvm

    cfg = st.config
    n, nirq = cfg.num_cpus, cfg.num_irqs
    regs = dump_kvm(st, lenient=True, iidr_revision=KVM_IIDR_UNWRITTEN).registers()
    img = RawImage.blank(False)
    # arm_gic_common_reset: what kvm_arm_gic_get leaves alone keeps these values
    img.running = _slots([IDLE_PRIORITY] * n)
    img.current = _slots([SPURIOUS] * n)
    target = bytearray(b"\x01" * MAXIRQ if n == 1 else bytes(MAXIRQ))
    members = {m: bytearray(MAXIRQ) for m in ("enabled", "pending", "active", "edge", "group")}
    priority1, priority2 = bytearray(NUM_PRIVATE * NCPU), bytearray(MAXIRQ - NUM_PRIVATE)
    sgi_pending = bytearray(NUM_SGIS * NCPU)
    img.ctlr = regs[("dist", 0, 0x000)]

    def words(bank: str, maxirq: int) -> Iterator[tuple[int, int, int]]:
        """kvm_dist_get: (first ID, vCPU, value) of each register read."""
        reg = _DIST_BANK[f"GICD_{bank}"]
        width = reg.bits
        per = 32 // width
        for i in range(maxirq // per):
            irq = i * per
            for cpu in range(n if irq < NUM_PRIVATE else 1):
                yield irq, cpu, regs[("dist", cpu, reg.offset + 4 * i)]

    for bank, member in (("IGROUPR", "group"), ("ISENABLER", "enabled"),
                         ("ISPENDR", "pending"), ("ISACTIVER", "active")):
        vec = members[member]
        for irq, cpu, value in words(bank, nirq):
            cm = 1 << cpu if irq < NUM_PRIVATE else 0xFF
            for j in bitmaps.set_bits(value):
                vec[irq + j] |= cm
    for irq, _, value in words("ICFGR", nirq):
        for j in range(16):
            if value >> (2 * j) & 2:
                members["edge"][irq + j] = 1
    for irq, cpu, value in words("IPRIORITYR", nirq):
        for j in range(4):
            byte = value >> (8 * j) & 0xFF
            if irq + j < NUM_PRIVATE:
                priority1[(irq + j) * NCPU + cpu] = byte
            else:
                priority2[irq + j - NUM_PRIVATE] = byte
    for irq, _, value in words("ITARGETSR", nirq):
        target[irq:irq + 4] = value.to_bytes(4, "little")
    for irq, cpu, value in words("CPENDSGIR", NUM_SGIS):
        for j in range(4):
            sgi_pending[(irq + j) * NCPU + cpu] = value >> (8 * j) & 0xFF
    for name, vec in members.items():
        setattr(img, name, bytes(vec))
    img.target, img.priority1, img.priority2 = bytes(target), bytes(priority1), bytes(priority2)
    img.sgi_pending = bytes(sgi_pending)
    regs_of = {name: [regs[("cpu", c, off)] for c in range(n)]
               for name, off in (("ctlr", 0x00), ("pmr", 0x04), ("bpr", 0x08), ("abpr", 0x1C))}
    img.cpu_ctlr = _slots(regs_of["ctlr"])
    img.pmr = _slots([v & 0xFF for v in regs_of["pmr"]])
    img.bpr = bytes(_slots([v & 7 for v in regs_of["bpr"]]))
    img.abpr = bytes(_slots([v & 7 for v in regs_of["abpr"]]))
    apr = [0] * (4 * NCPU)
    for c in range(n):
        for k in range(4):
            apr[k * NCPU + c] = regs[("cpu", c, 0xD0 + 4 * k)]
    img.apr = tuple(apr)
    return img


# --- checking and writing ---------------------------------------------------------------------
def _self_check(fitted: GicState, section: ArmGicSection, main: bytes, virt: bytes | None,
                accel: str) -> None:
    """Import the new section bytes again: they must give back exactly `fitted`."""
    cfg = fitted.config
    new = ArmGicSection(main, virt, section.section_id, section.instance_id, section.offset,
                        section.machine, section.located_by)
    try:
        back = convert(new, accel=accel, num_cpus=cfg.num_cpus, num_irqs=cfg.num_irqs,
                       priority_bits=cfg.priority_bits)
    except GicmigError as exc:
        raise GicmigError("INTERNAL-ERROR", f"the written section does not import again ({exc}): "
                                            "a gicmig bug, please report it") from None
    if back.state != fitted or back.normalized:
        raise GicmigError("INTERNAL-ERROR", "the written section imports as another state: a "
                                            "gicmig bug, please report it")


def _refuse_same_file(template: str | os.PathLike[str], out: str | os.PathLike[str]) -> None:
    try:
        same = os.path.samefile(template, out)
    except OSError:
        same = False
    if same:
        raise GicmigError("USAGE", f"output {out} is the template: inputs are never modified")


def _record_layout(section: ArmGicSection, virt: bool) -> tuple[int, int | None]:
    """Stream offsets of the section's field bytes and of the subsection's."""
    main_at = section.offset + 1 + 4 + 1 + len(GIC_IDSTR) + 4 + 4
    if not virt:
        return main_at, None
    return main_at, main_at + GIC_SIZE + 1 + 1 + len(VIRT_SUBSECTION) + 4


def _write(template: str | os.PathLike[str], out: str | os.PathLike[str],
           section: ArmGicSection, main: bytes, virt: bytes | None) -> int:
    """Copy the template to `out` with the field bytes replaced; returns the size."""
    main_at, virt_at = _record_layout(section, virt is not None)
    pieces = [(main_at, main, section.main)]
    if virt_at is not None and virt is not None and section.virt is not None:
        pieces.append((virt_at, virt, section.virt))
    with _opened(template) as src, open_atomic(out) as dst:
        size = os.fstat(src.fileno()).st_size
        pos = 0
        for at, data, old in pieces:
            _check_old(src, at, old, section)
            _copy(src, dst, pos, at - pos)
            _put(dst, data)
            pos = at + len(data)
        _copy(src, dst, pos, size - pos)
    return size


class _Copier(threading.Thread):
    """The whole template copied into the (temporary) output by the kernel, position by
    position, while the caller walks the template and plans the section: the copy waits on
    the disk, the walk on the CPU. Stops early when cancelled."""

    def __init__(self, src: int, dst: int, size: int) -> None:
        super().__init__(name="gicmig-copy", daemon=True)
        self.src, self.dst, self.size = src, dst, size
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            pos = self._kernel_copy()
            while pos < self.size and not self.stop.is_set():
                chunk = os.pread(self.src, min(_COPY_CHUNK, self.size - pos), pos)
                if not chunk:
                    raise GicmigError("IO-READ", f"the template ended at byte {pos} while "
                                                 "being copied")
                _pwrite_all(self.dst, chunk, pos)
                pos += len(chunk)
        except BaseException as exc:  # reported by finish() in the caller's thread
            self.error = exc

    def _kernel_copy(self) -> int:
        pos = 0
        copy_range = getattr(os, "copy_file_range", None)
        while copy_range is not None and pos < self.size and not self.stop.is_set():
            try:
                k = copy_range(self.src, self.dst, min(_KERNEL_STEP, self.size - pos), pos, pos)
            except OSError:
                break  # another file system, or no support: plain reads and writes
            if k <= 0:
                break
            pos += k
        return pos

    def finish(self) -> None:
        self.join()
        if isinstance(self.error, GicmigError):
            raise self.error
        if self.error is not None:
            raise GicmigError("IO-WRITE", f"cannot copy the template: {self.error}")

    def cancel(self) -> None:
        self.stop.set()
        self.join()


def _pwrite_all(fd: int, data: bytes, pos: int) -> None:
    view = memoryview(data)
    while view:
        k = os.pwrite(fd, view, pos)
        view, pos = view[k:], pos + k


def _write_alongside(template: str | os.PathLike[str], out: str | os.PathLike[str],
                     planned: Callable[[], tuple[ArmGicSection, QemuPlan]],
                     ) -> tuple[ArmGicSection, QemuPlan, int]:
    """Copy the template into `out` while `planned()` reads it, then put the new field
    bytes in place; nothing replaces `out` if planning refuses."""
    with _opened(template) as src, open_atomic(out) as dst:
        size = os.fstat(src.fileno()).st_size
        copier = _Copier(src.fileno(), dst.fileno(), size)
        copier.start()
        try:
            section, plan = planned()
        except BaseException:
            copier.cancel()
            raise
        copier.finish()
        main_at, virt_at = _record_layout(section, plan.virt is not None)
        pieces = [(main_at, plan.main, section.main)]
        if virt_at is not None and plan.virt is not None and section.virt is not None:
            pieces.append((virt_at, plan.virt, section.virt))
        for at, data, old in pieces:  # the copy holds what the walk read, or it changed
            if os.pread(dst.fileno(), len(old), at) != old:
                raise GicmigError("IO-READ", "the template changed while gicmig read it "
                                             f"(arm_gic at byte {section.offset})")
            _pwrite_all(dst.fileno(), data, at)
    return section, plan, size


@contextmanager
def _opened(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below; open errors become IO-READ)
    except OSError as exc:
        raise GicmigError("IO-READ", f"cannot read {path}: {exc.strerror or exc}") from None
    with f:
        yield f


def _check_old(src: IO[bytes], at: int, old: bytes, section: ArmGicSection) -> None:
    """The template still holds the section read before (it was not changed meanwhile)."""
    src.seek(at)
    if src.read(len(old)) != old:
        raise GicmigError("IO-READ", f"the template changed while gicmig read it (arm_gic at "
                                     f"byte {section.offset})")


def _put(dst: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        k = dst.write(view)
        view = view[k:]


def _copy(src: IO[bytes], dst: IO[bytes], offset: int, length: int) -> None:
    """Bytes offset..offset+length of src to dst's position (dst unbuffered), through
    the kernel where it can (copy_file_range, then sendfile), else in bounded chunks."""
    sfd, dfd = src.fileno(), dst.fileno()
    done = 0
    for how in ("copy_file_range", "sendfile"):
        fn = getattr(os, how, None)
        if fn is None:
            continue
        try:
            while done < length:
                step = min(length - done, 1 << 30)
                if how == "copy_file_range":
                    k = fn(sfd, dfd, step, offset + done)
                else:
                    k = fn(dfd, sfd, offset + done, step)
                if k <= 0:
                    break
                done += k
            if done == length:
                return
        except OSError:
            continue
    src.seek(offset + done)
    while done < length:
        chunk = src.read(min(_COPY_CHUNK, length - done))
        if not chunk:
            raise GicmigError("IO-READ", f"the template ended at byte {offset + done} while "
                                         "being copied")
        _put(dst, chunk)
        done += len(chunk)

