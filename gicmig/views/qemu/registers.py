"""The registers a guest reads from QEMU 7.2's TCG GIC that holds a canonical state.

One place computes them: every GICD register (banked per CPU and shared), and per CPU
every GICC and GICH register that can be read without a side effect (not GICC_IAR). The
architectural part comes from the same tables and images the other views use (the
distributor image of the KVM view, the GICH status registers of the GICH view); what is
QEMU's own is named here: its ID registers, and the derived GICC_RPR / GICC_HPPIR, which
QEMU reads from its caches (`running_priority`, `current_pending`) computed by its own
rules (`gic_update`, `gic_get_best_irq`, `gic_get_current_pending_irq` in
hw/intc/arm_gic.c v7.2.0; the deviations are in shared/qemu/README.md).

The state must be one QEMU's TCG GIC can hold as such (what `export qemu --accel tcg`
accepts in strict mode): no UNKNOWN markers. The real-QEMU tests compare this with what
the read-back guest (harness/qemu/guest) prints after a migration.
"""

from __future__ import annotations

from gicmig.arch import bitmaps
from gicmig.arch.registers import (
    ARM_IMPLEMENTER,
    DIST_BANKS,
    GICC_ABPR,
    GICC_APR,
    GICC_APR_REGS,
    GICC_BPR,
    GICC_CTLR,
    GICC_IIDR,
    GICC_NO_STATE,
    GICC_PMR,
    GICD_CTLR,
    GICD_IIDR,
    GICD_TYPER,
    GICH_APR,
    GICH_EISR0,
    GICH_EISR1,
    GICH_ELRSR0,
    GICH_ELRSR1,
    GICH_HCR,
    GICH_LR,
    GICH_MISR,
    GICH_VMCR,
    GICH_VTR,
    SGI_BANK_REGS,
    SGI_BANKS,
)
from gicmig.core.model import APR_LEVELS, NUM_PRIVATE, UNKNOWN_CPU, GicState
from gicmig.errors import GicmigError
from gicmig.views.gich.convert import status_registers
from gicmig.views.gich.viewfile import VcpuRegs
from gicmig.views.kvm.convert import DistributorImage
from gicmig.views.kvm.dump import register_name as _kvm_register_name

__all__ = ["FRAMES", "QEMU_GICC_IIDR", "QEMU_GICD_IIDR", "Key", "hppir", "register_name",
           "tcg_registers"]

FRAMES = ("GICD", "GICC", "GICH")
Key = tuple[str, "int | None", int]  # (frame, CPU, byte offset); CPU None: shared GICD

# QEMU's ID registers (gic_dist_readb, gic_cpu_read): ARM as implementer, GICv2
QEMU_GICD_IIDR = GICD_IIDR.pack(implementer=ARM_IMPLEMENTER)
QEMU_GICC_IIDR = GICC_IIDR.pack(implementer=ARM_IMPLEMENTER, arch_version=2)
GICC_RPR, GICC_HPPIR = GICC_NO_STATE["GICC_RPR"], GICC_NO_STATE["GICC_HPPIR"]
GICC_NSAPR = GICC_NO_STATE["GICC_NSAPR0"]
SPURIOUS, GROUP1_NO_ACK = 1023, 1022
IDLE_RPR = 0xFF  # GICC_RPR with nothing active (QEMU's running_priority 0x100)

_BANK = {b.name: b for b in (*DIST_BANKS, *SGI_BANKS)}
_BIT_BANKS = ("GICD_IGROUPR", "GICD_ISENABLER", "GICD_ICENABLER", "GICD_ISPENDR",
              "GICD_ICPENDR", "GICD_ISACTIVER", "GICD_ICACTIVER")
_WORD = 0xFFFF_FFFF
_ACK_CTL = GICC_CTLR.field("ack_ctl")
_ENABLES = GICC_CTLR.field("enable_grp0").mask | GICC_CTLR.field("enable_grp1").mask
_STATUS = (("misr", GICH_MISR), ("eisr0", GICH_EISR0), ("eisr1", GICH_EISR1),
           ("elrsr0", GICH_ELRSR0), ("elrsr1", GICH_ELRSR1))


def register_name(frame: str, offset: int) -> str:
    """`GICD_ISENABLER1`, `GICC_HPPIR`, `GICH_LR2`, or `GICH+0x40` for an unnamed offset."""
    if frame == "GICD":
        return _kvm_register_name("dist", offset)
    if frame == "GICC":
        if offset == GICC_PMR.offset:
            return GICC_PMR.name
        return _kvm_register_name("cpu", offset)
    fixed = {r.offset: r.name for r in (GICH_HCR, GICH_VTR, GICH_VMCR, GICH_APR,
                                        *(reg for _, reg in _STATUS))}
    if offset in fixed:
        return fixed[offset]
    if offset >= GICH_LR.offset and offset % 4 == 0:
        return f"GICH_LR{(offset - GICH_LR.offset) // 4}"
    return f"GICH+{offset:#x}"


def label(key: Key) -> str:
    """`cpu1 GICD_ISPENDR0`, `GICD_ISPENDR1`: a register of the read-back, for messages."""
    frame, cpu, offset = key
    name = register_name(frame, offset)
    return name if cpu is None else f"cpu{cpu} {name}"


def tcg_registers(state: GicState) -> dict[Key, int]:
    """Every register the read-back guest reads, with the value QEMU 7.2's TCG GIC holding
    `state` gives it: the banked GICD registers, GICC and GICH per CPU, and the shared GICD
    registers (CPU None)."""
    _check(state)
    out: dict[Key, int] = {}
    img = DistributorImage(state)
    n = state.config.num_cpus
    for c in range(n):
        _banked_dist(state, img, c, out)
        _cpu_interface(state, c, out)
        if state.config.virtualization is not None:
            _virtual_interface(state, c, out)
    _shared_dist(state, img, out)
    return out


def _check(state: GicState) -> None:
    unknown = []
    if state.enable_grp1_unknown:
        unknown.append("gicd.ctlr EnableGrp1")
    if state.shared.pending_split_unknown or any(
            b.pending_split_unknown for b in state.banked):
        unknown.append("the latch/line split of pending level interrupts")
    if any(ci.active_group_unknown for ci in state.cpu):
        unknown.append("the group of active priorities")
    if unknown:
        raise GicmigError("QEMU-READBACK-UNKNOWN",
                          "QEMU's TCG GIC holds no UNKNOWN marker, but the state has: "
                          + "; ".join(unknown))


def _banked_dist(state: GicState, img: DistributorImage, c: int, out: dict[Key, int]) -> None:
    for name in _BIT_BANKS:
        source = name.replace("GICD_IC", "GICD_IS").removeprefix("GICD_")
        out[("GICD", c, _BANK[name].offset)] = img.bit_word(source, 0, c)
    for name in ("GICD_IPRIORITYR", "GICD_ITARGETSR"):
        for i in range(NUM_PRIVATE // 4):
            value = img.byte_word(name.removeprefix("GICD_"), i, c)
            if name == "GICD_ITARGETSR" and state.config.num_cpus == 1:
                value = 0  # a uniprocessor GIC: ITARGETSR is RAZ/WI
            out[("GICD", c, _BANK[name].offset + 4 * i)] = value
    for i in range(2):
        out[("GICD", c, _BANK["GICD_ICFGR"].offset + 4 * i)] = img.cfg_word(i, c)
    for name in ("GICD_CPENDSGIR", "GICD_SPENDSGIR"):
        for r in range(SGI_BANK_REGS):
            out[("GICD", c, _BANK[name].offset + 4 * r)] = img.sgi_word(r, c)


def _shared_dist(state: GicState, img: DistributorImage, out: dict[Key, int]) -> None:
    words = img.words
    out[("GICD", None, GICD_CTLR.offset)] = GICD_CTLR.pack(
        enable_grp0=int(state.enable_grp0), enable_grp1=int(state.enable_grp1))
    out[("GICD", None, GICD_TYPER.offset)] = GICD_TYPER.pack(
        it_lines_number=words - 1, cpu_number=state.config.num_cpus - 1)
    out[("GICD", None, GICD_IIDR.offset)] = QEMU_GICD_IIDR
    for name in _BIT_BANKS:
        source = name.replace("GICD_IC", "GICD_IS").removeprefix("GICD_")
        for i in range(1, words):
            out[("GICD", None, _BANK[name].offset + 4 * i)] = img.bit_word(source, i, 0)
    for name in ("GICD_IPRIORITYR", "GICD_ITARGETSR"):
        for i in range(NUM_PRIVATE // 4, 8 * words):
            out[("GICD", None, _BANK[name].offset + 4 * i)] = img.byte_word(
                name.removeprefix("GICD_"), i, 0)
    for i in range(2, 2 * words):
        out[("GICD", None, _BANK["GICD_ICFGR"].offset + 4 * i)] = img.cfg_word(i, 0)


def _cpu_interface(state: GicState, c: int, out: dict[Key, int]) -> None:
    ci = state.cpu[c]
    out[("GICC", c, GICC_CTLR.offset)] = ci.ctlr
    out[("GICC", c, GICC_PMR.offset)] = ci.pmr
    out[("GICC", c, GICC_BPR.offset)] = ci.bpr
    out[("GICC", c, GICC_ABPR.offset)] = ci.abpr
    words = APR_LEVELS // 32
    assert words == GICC_APR_REGS
    for n in range(GICC_APR_REGS):
        out[("GICC", c, GICC_APR.offset + 4 * n)] = ci.active_group0 >> 32 * n & _WORD
        out[("GICC", c, GICC_NSAPR + 4 * n)] = ci.active_group1 >> 32 * n & _WORD
    levels = ci.active_group0 | ci.active_group1
    # gic_get_prio_from_apr_bits: the lowest set level; APR bit n is group priority 2n
    out[("GICC", c, GICC_RPR)] = (levels & -levels).bit_length() - 1 << 1 if levels \
        else IDLE_RPR
    out[("GICC", c, GICC_HPPIR)] = hppir(state, c)
    out[("GICC", c, GICC_IIDR.offset)] = QEMU_GICC_IIDR


def _virtual_interface(state: GicState, c: int, out: dict[Key, int]) -> None:
    virt, v = state.config.virtualization, state.virtual[c]
    assert virt is not None
    lrs = v.lr
    out[("GICH", c, GICH_HCR.offset)] = v.hcr
    out[("GICH", c, GICH_VTR.offset)] = virt.vtr
    out[("GICH", c, GICH_VMCR.offset)] = v.vmcr
    status = status_registers(VcpuRegs(virt.vtr, v.hcr, v.vmcr, v.apr, lrs))
    for name, reg in _STATUS:
        out[("GICH", c, reg.offset)] = status[name]
    out[("GICH", c, GICH_APR.offset)] = v.apr
    for n, lr in enumerate(lrs):
        out[("GICH", c, GICH_LR.offset + 4 * n)] = lr


def hppir(state: GicState, c: int) -> int:
    """GICC_HPPIR of CPU c as QEMU 7.2 reads it: its `current_pending` cache (the choice
    of gic_get_best_irq, deviations 7-9: full priorities compared, group enables not
    applied, no SGI source CPU), or 1022 for a group 1 interrupt while AckCtl is 0."""
    ci = state.cpu[c]
    if not (state.enable_grp0 or state.enable_grp1) or not ci.ctlr & _ENABLES:
        return SPURIOUS
    best_prio, best = 0x100, SPURIOUS
    for prio, intid in _eligible(state, c):
        if prio < best_prio:
            best_prio, best = prio, intid
    if best_prio >= ci.pmr:
        return SPURIOUS
    if _group(state, best, c) and not _ACK_CTL.get(ci.ctlr):
        return GROUP1_NO_ACK
    return best


def _group(state: GicState, intid: int, c: int) -> int:
    if intid < NUM_PRIVATE:
        return state.banked[c].group >> intid & 1
    return state.shared.group >> (intid - NUM_PRIVATE) & 1


def _eligible(state: GicState, c: int) -> list[tuple[int, int]]:
    """(priority, ID), in ID order, of every interrupt enabled, pending and not active for
    CPU c, and targeting it (an SPI acknowledged by another CPU is active for that CPU
    only in QEMU)."""
    b, sh = state.banked[c], state.shared
    sgi_pending = sum(1 << s for s, v in enumerate(b.sgi_sources) if v)
    private = b.enabled & ~b.active & (sgi_pending | b.pending_latch | b.line_level & ~b.edge)
    out = [(b.priority[i] if i < len(b.priority) else 0, i) for i in bitmaps.set_bits(private)]
    n = state.config.num_spis
    if state.config.num_cpus == 1:
        targeted = (1 << n) - 1
    else:
        targeted = bitmaps.nonzero(bytes(t >> c & 1 for t in sh.targets))
    active_here = bitmaps.nonzero(bytes(a in (c, UNKNOWN_CPU) for a in sh.active_cpu))
    spis = sh.enabled & (sh.pending_latch | sh.line_level & ~sh.edge) & targeted \
        & ~(sh.active & active_here)
    prio = sh.priority
    out += [(prio[k] if k < len(prio) else 0, NUM_PRIVATE + k) for k in bitmaps.set_bits(spis)]
    return out
