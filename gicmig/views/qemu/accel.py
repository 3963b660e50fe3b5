"""Which QEMU device wrote an `arm_gic` section: the TCG GIC model or kvm-arm-gic.

Both write the same `arm_gic` v12 section, but each leaves marks the other never writes
(gic-domain.md §5.5, QEMU 7.2 hw/intc/arm_gic.c and arm_gic_kvm.c):

* kvm-arm-gic's save (`kvm_arm_gic_get`) zeroes `irq_state` and sets only the bits of
  the CPUs the GIC has, so an SGI's `enabled` mask lacks the bits of absent CPU slots;
  the TCG GIC resets SGI enables to 0xff and never clears them (ICENABLER is WI for SGIs).
* kvm-arm-gic reads ITARGETSR0-7 once per vCPU into the one `irq_target` byte per ID,
  leaving the last vCPU's own bit (0x02 with two vCPUs); the TCG GIC keeps 0x00 there,
  or 0xff after a guest writes those read-only bytes (and 0x01 for one CPU, as KVM).
* Only the TCG GIC writes the `arm_gic_virt_state` subsection, input line levels, a
  GICD_CTLR beyond bit 0, GICC_NSAPRn, GICC_APR1-3 (kvm-arm-gic copies KVM's GICC_APRn,
  and KVM's GICv2 APR is the GICH_APR image: APR0 only, APR1-3 read as zero), a GICC_PMR
  above 31 (KVM's is VMPriMask), and SPI pending/active masks other than 0x00/0xff.

A CPU slot is "in use" when any of its per-CPU fields is non-zero: both devices leave
the slots of absent CPUs zero and write a non-zero value in every present one (TCG:
GICC_ABPR >= 1; kvm-arm-gic: running_priority 0x100).
"""

from __future__ import annotations

from gicmig.arch import labels
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import KVM_GICC_PMR, KVM_GICD_CTLR
from gicmig.errors import GicmigError
from gicmig.views.qemu.model import check_accel_name
from gicmig.views.qemu.raw import RawImage
from gicmig.views.qemu.vmstate import NCPU, VIRT_SUBSECTION

ALL_CPUS = (1 << NCPU) - 1


def slots_in_use(r: RawImage) -> int:
    """How many leading CPU slots hold per-CPU state (absent CPUs' slots are zero)."""
    # slot c's fields side by side; the APR/NSAPR words of slot c are [n * NCPU + c]
    per_slot = zip(r.cpu_ctlr, r.pmr, r.running, r.current, r.bpr, r.abpr,
                   *(r.apr[k:k + NCPU] for k in range(0, len(r.apr), NCPU)),
                   *(r.nsapr[k:k + NCPU] for k in range(0, len(r.nsapr), NCPU)), strict=True)
    used = 0
    for c, phys in enumerate(per_slot):
        if any(phys):
            used = c + 1
    return used


_NOT_ALL_OR_NONE = b"\x00\xff"  # deleted by translate: what is left is a partial CPU mask


def _first_partial(vec: bytes, start: int = 0) -> int | None:
    """The first index >= start whose CPU mask is neither 0x00 nor 0xff (in C: the first
    byte left after deleting 0x00/0xff is the value at that index, found by `find`)."""
    odd = vec[start:].translate(None, _NOT_ALL_OR_NONE)
    return vec.find(odd[:1], start) if odd else None


def evidence(r: RawImage) -> dict[str, list[str]]:
    """Marks of each device in the section: {"tcg": [...], "kvm": [...]}, each a phrase
    naming the field, the place and the value."""
    tcg: list[str] = []
    kvm: list[str] = []
    n = slots_in_use(r)
    if r.virt:
        tcg.append(f"the {VIRT_SUBSECTION} subsection (virtualization extensions)")
    level = len(r.level) - len(r.level.lstrip(b"\0"))
    if level < len(r.level):
        tcg.append(f"{labels.irq(level)} has input line level {r.level[level]:#04x}")
    if r.ctlr & ~KVM_GICD_CTLR.defined_mask:
        tcg.append(f"GICD_CTLR {r.ctlr:#x} sets bits beyond Enable")
    if any(r.nsapr):
        c = next(c for c in range(NCPU) if any(r.nsapr[c::NCPU]))
        tcg.append(f"{labels.cpu_reg(c, 'gicc.nsapr')} is set")
    if any(r.apr[NCPU:]):  # APR1-3 of any slot
        w = next(w for w in range(NCPU, len(r.apr)) if r.apr[w])  # word w // NCPU, slot w % NCPU
        tcg.append(f"{labels.cpu_reg(w % NCPU, f'gicc.apr{w // NCPU}')} is {r.apr[w]:#x} "
                   "(KVM's GICv2 APR is the GICH_APR image, in APR0 only)")
    if max(r.pmr) & KVM_GICC_PMR.reserved_mask:
        c = next(c for c in range(NCPU) if r.pmr[c] & KVM_GICC_PMR.reserved_mask)
        tcg.append(f"{labels.cpu_reg(c, 'gicc.pmr')} {r.pmr[c]:#x} is wider than "
                   "VMPriMask's 5 bits")
    for name in ("pending", "active"):
        vec: bytes = getattr(r, name)
        k = _first_partial(vec, NUM_PRIVATE)
        if k is not None:
            tcg.append(f"{labels.irq(k)} {name} mask {vec[k]:#04x} (not 0x00/0xff)")
    sgi_enabled = r.enabled[:NUM_SGIS]
    partial = next((s for s in range(NUM_SGIS) if sgi_enabled[s] != ALL_CPUS), None) \
        if sgi_enabled.strip(bytes([ALL_CPUS])) else None
    if partial is not None:
        kvm.append(f"{labels.irq(partial)} enabled mask {sgi_enabled[partial]:#04x} (the TCG "
                   "GIC keeps SGI enables at 0xff)")
    elif 0 < n < NCPU:
        tcg.append(f"SGI enabled masks 0xff with {n} CPU slot(s) in use (kvm-arm-gic sets "
                   "only the bits of existing CPUs)")
    if n > 1:
        private = r.target[:NUM_PRIVATE]
        odd = _first_partial(private)
        if odd is not None:
            kvm.append(f"{labels.irq(odd)} ITARGETSR byte {private[odd]:#04x} (kvm-arm-gic "
                       "leaves the last vCPU's own bit; the TCG GIC keeps 0x00 or 0xff)")
        else:
            tcg.append(f"private ITARGETSR bytes are {private[0]:#04x} with {n} CPU slots in "
                       f"use (kvm-arm-gic leaves {1 << (n - 1):#04x})")
    return {"tcg": tcg, "kvm": kvm}


def _other(accel: str) -> str:
    return "kvm" if accel == "tcg" else "tcg"


def check_accel(r: RawImage, accel: str | None, what: str = "the stream") -> str:
    """The accelerator that wrote the section: `accel` if the section does not
    contradict it (QEMU-ACCEL-MISMATCH naming the evidence), or, when `accel` is None,
    the one the evidence names (QEMU-ACCEL-AMBIGUOUS when it names neither device,
    QEMU-ACCEL-CONFLICT when it names both)."""
    found = evidence(r)
    if accel is not None:
        check_accel_name(accel)
        against = found[_other(accel)]
        if against:
            raise GicmigError(
                "QEMU-ACCEL-MISMATCH",
                f"--accel {accel}, but {what} was written by the "
                f"{'TCG GIC' if accel == 'kvm' else 'kvm-arm-gic'}: {against[0]}"
                + (f" (and {len(against) - 1} more marks)" if len(against) > 1 else "")
                + f"; use --accel {_other(accel)} or leave --accel out")
        return accel
    marks = [a for a in ("tcg", "kvm") if found[a]]
    if len(marks) == 1:
        return marks[0]
    if marks:  # no QEMU writes both: the input is corrupt, whatever --accel says
        raise GicmigError("QEMU-ACCEL-CONFLICT",
                          f"{what} shows marks of both QEMU GIC devices (TCG: "
                          f"{found['tcg'][0]}; kvm-arm-gic: {found['kvm'][0]})")
    raise GicmigError("QEMU-ACCEL-AMBIGUOUS",
                      f"{what} shows no mark of either QEMU GIC device: give --accel tcg or kvm")
