"""The registers a guest reads from QEMU 7.2's TCG GIC that holds a canonical state.

One place computes them: every GICD register (banked per CPU and shared), and per CPU
every GICC and GICH register that can be read without a side effect (not GICC_IAR). Each
fact comes from its home: the architectural registers from the distributor image
(gicmig.core.image) and the GICH status registers (gicmig.arch.gich); QEMU's derived
GICC_RPR and GICC_HPPIR from the caches the QEMU writer stores (`running_priority`,
`current_pending`: gicmig.views.qemu.encode_tcg.tcg_image), read as QEMU 7.2 reads them
(`gic_get_running_priority`, `gic_get_current_pending_irq` in hw/intc/arm_gic.c); and
QEMU's ID registers, named here.

The state must be one QEMU's TCG GIC can hold as such: what `export qemu --accel tcg`
accepts in strict mode (otherwise QemuUnrepresentable). The real-QEMU tests compare this
with what the read-back guest (harness/qemu/guest) prints after a migration, before and
after it made QEMU recompute those caches by its own rules.
"""

from __future__ import annotations

from gicmig.arch.gich import status_registers
from gicmig.arch.ids import APR_LEVELS, NUM_PRIVATE
from gicmig.arch.names import register_name
from gicmig.arch.registers import (
    ARM_IMPLEMENTER,
    BIT_BANKS,
    GICC_ABPR,
    GICC_APR,
    GICC_APR_REGS,
    GICC_BPR,
    GICC_CTLR,
    GICC_IIDR,
    GICC_NO_STATE,
    GICC_PMR,
    GICD_CTLR,
    GICD_ICFGR,
    GICD_IIDR,
    GICD_IPRIORITYR,
    GICD_ITARGETSR,
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
from gicmig.core.image import DistributorImage
from gicmig.core.irqtable import IrqTable
from gicmig.core.model import GicState
from gicmig.views.qemu.encode_tcg import fit_tcg, tcg_image
from gicmig.views.qemu.raw import RawImage
from gicmig.views.qemu.vmstate import MAXIRQ

__all__ = ["FRAMES", "QEMU_GICC_IIDR", "QEMU_GICD_IIDR", "Key", "label", "register_name",
           "tcg_registers"]

FRAMES = ("GICD", "GICC", "GICH")
Key = tuple[str, "int | None", int]  # (frame, CPU, byte offset); CPU None: shared GICD

# QEMU's ID registers (gic_dist_readb, gic_cpu_read): ARM as implementer, GICv2
QEMU_GICD_IIDR = GICD_IIDR.pack(implementer=ARM_IMPLEMENTER)
QEMU_GICC_IIDR = GICC_IIDR.pack(implementer=ARM_IMPLEMENTER, arch_version=2)
GICC_RPR, GICC_HPPIR = GICC_NO_STATE["GICC_RPR"], GICC_NO_STATE["GICC_HPPIR"]
GICC_NSAPR = GICC_NO_STATE["GICC_NSAPR0"]
GROUP1_NO_ACK = 1022  # GICC_HPPIR for a group 1 interrupt while AckCtl is 0
IDLE_RPR = 0xFF  # GICC_RPR with nothing active (QEMU's running_priority 0x100)

_WORD = 0xFFFF_FFFF
_ACK_CTL = GICC_CTLR.field("ack_ctl")
_STATUS = (("misr", GICH_MISR), ("eisr0", GICH_EISR0), ("eisr1", GICH_EISR1),
           ("elrsr0", GICH_ELRSR0), ("elrsr1", GICH_ELRSR1))


def label(key: Key) -> str:
    """`cpu1 GICD_ISPENDR0`, `GICD_ISPENDR1`: a register of the read-back, for messages."""
    frame, cpu, offset = key
    name = register_name(frame, offset)
    return name if cpu is None else f"cpu{cpu} {name}"


def tcg_registers(state: GicState) -> dict[Key, int]:
    """Every register the read-back guest reads, with the value QEMU 7.2's TCG GIC holding
    `state` gives it: the banked GICD registers, GICC and GICH per CPU, and the shared GICD
    registers (CPU None). Raises QemuUnrepresentable for a state QEMU cannot hold."""
    fitted, _ = fit_tcg(state, state.config)  # strict: the state as it is, or a refusal
    raw = tcg_image(fitted)
    img = DistributorImage(fitted)
    out: dict[Key, int] = {}
    for c in range(fitted.config.num_cpus):
        _banked_dist(fitted, img, c, out)
        _cpu_interface(fitted, img.table, raw, c, out)
        if fitted.config.virtualization is not None:
            _virtual_interface(fitted, c, out)
    _shared_dist(fitted, img, out)
    return out


def _banked_dist(state: GicState, img: DistributorImage, c: int, out: dict[Key, int]) -> None:
    for bank in BIT_BANKS:
        out[("GICD", c, bank.offset)] = img.bit_word(bank, 0, c)
    for bank in (GICD_IPRIORITYR, GICD_ITARGETSR):
        for i in range(NUM_PRIVATE // 4):
            value = img.byte_word(bank, i, c)
            if bank is GICD_ITARGETSR and state.config.num_cpus == 1:
                value = 0  # a uniprocessor GIC: ITARGETSR is RAZ/WI
            out[("GICD", c, bank.offset + 4 * i)] = value
    for i in range(2):
        out[("GICD", c, GICD_ICFGR.offset + 4 * i)] = img.cfg_word(i, c)
    for bank in SGI_BANKS:
        for r in range(SGI_BANK_REGS):
            out[("GICD", c, bank.offset + 4 * r)] = img.sgi_word(r, c)


def _shared_dist(state: GicState, img: DistributorImage, out: dict[Key, int]) -> None:
    words = img.words
    out[("GICD", None, GICD_CTLR.offset)] = GICD_CTLR.pack(
        enable_grp0=int(state.enable_grp0), enable_grp1=int(state.enable_grp1))
    out[("GICD", None, GICD_TYPER.offset)] = GICD_TYPER.pack(
        it_lines_number=words - 1, cpu_number=state.config.num_cpus - 1)
    out[("GICD", None, GICD_IIDR.offset)] = QEMU_GICD_IIDR
    for bank in BIT_BANKS:
        for i in range(1, words):
            out[("GICD", None, bank.offset + 4 * i)] = img.bit_word(bank, i, 0)
    for bank in (GICD_IPRIORITYR, GICD_ITARGETSR):
        for i in range(NUM_PRIVATE // 4, 8 * words):
            out[("GICD", None, bank.offset + 4 * i)] = img.byte_word(bank, i, 0)
    for i in range(2, 2 * words):
        out[("GICD", None, GICD_ICFGR.offset + 4 * i)] = img.cfg_word(i, 0)


def _cpu_interface(state: GicState, table: IrqTable, raw: RawImage, c: int,
                   out: dict[Key, int]) -> None:
    ci = state.cpu[c]
    out[("GICC", c, GICC_CTLR.offset)] = ci.ctlr
    out[("GICC", c, GICC_PMR.offset)] = ci.pmr
    out[("GICC", c, GICC_BPR.offset)] = ci.bpr
    out[("GICC", c, GICC_ABPR.offset)] = ci.abpr
    assert APR_LEVELS == 32 * GICC_APR_REGS
    for n in range(GICC_APR_REGS):
        out[("GICC", c, GICC_APR.offset + 4 * n)] = ci.active_group0 >> 32 * n & _WORD
        out[("GICC", c, GICC_NSAPR + 4 * n)] = ci.active_group1 >> 32 * n & _WORD
    out[("GICC", c, GICC_RPR)] = min(raw.running[c], IDLE_RPR)  # idle 0x100 reads 0xff
    out[("GICC", c, GICC_HPPIR)] = _hppir(state, table, raw.current[c], c)
    out[("GICC", c, GICC_IIDR.offset)] = QEMU_GICC_IIDR


def _hppir(state: GicState, table: IrqTable, current: int, c: int) -> int:
    """gic_get_current_pending_irq without security extensions: the cached ID, but 1022
    for a group 1 interrupt while GICC_CTLR.AckCtl is 0."""
    if current < MAXIRQ and table.group(current, c) and not _ACK_CTL.get(state.cpu[c].ctlr):
        return GROUP1_NO_ACK
    return current


def _virtual_interface(state: GicState, c: int, out: dict[Key, int]) -> None:
    virt, v = state.config.virtualization, state.virtual[c]
    assert virt is not None
    out[("GICH", c, GICH_HCR.offset)] = v.hcr
    out[("GICH", c, GICH_VTR.offset)] = virt.vtr
    out[("GICH", c, GICH_VMCR.offset)] = v.vmcr
    status = status_registers(v.hcr, v.vmcr, v.lr)
    for name, reg in _STATUS:
        out[("GICH", c, reg.offset)] = status[name]
    out[("GICH", c, GICH_APR.offset)] = v.apr
    for n, lr in enumerate(v.lr):
        out[("GICH", c, GICH_LR.offset + 4 * n)] = lr
