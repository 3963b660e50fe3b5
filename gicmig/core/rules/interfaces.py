"""Rules of the CPU interfaces (GICC) and, on a GIC that has the virtualization extensions,
of the virtual interface control registers (GICH) a guest hypervisor programmed."""

from __future__ import annotations

from collections.abc import Iterator
from functools import reduce
from operator import or_
from typing import Any

from gicmig.arch import bitmaps, labels
from gicmig.arch.ids import APR_LEVELS
from gicmig.arch.lr import reserved_bits
from gicmig.arch.registers import GICC_BPR, GICC_CTLR, GICH_HCR, GICH_VMCR
from gicmig.core.rules.context import Context, Section, lanes
from gicmig.core.rules.context import violation as _v
from gicmig.errors import Violation

_APR_BYTES = APR_LEVELS // 8  # an active-priority bitmap of 128 levels
_BP_MAX = GICC_BPR.field("binary_point").mask  # 7: the largest BPR / ABPR (a 3-bit field)


# --- CPU interfaces ---------------------------------------------------------------------------
def _cpus_ok(ctx: Context, msg: Any) -> bool:
    rows = [(c.ctlr, c.pmr, c.bpr, c.abpr, c.active_group0, c.active_group1,
             c.active_group_unknown) for c in msg.state.cpu]
    ctlr, pmr, bpr, abpr, g0_l, g1_l, unk_l = zip(*rows, strict=True)
    vectors = (*g0_l, *g1_l, *unk_l)
    if max(map(len, vectors)) > _APR_BYTES or b"\0" in {v[-1:] for v in vectors}:
        return False
    # 128 levels per CPU: 16-byte lanes, zero-padded by the struct
    a0 = int.from_bytes(ctx.s16.pack(*g0_l), "little")
    a1 = int.from_bytes(ctx.s16.pack(*g1_l), "little")
    au = int.from_bytes(ctx.s16.pack(*unk_l), "little") if any(unk_l) else 0
    return (not reduce(or_, ctlr) & ctx.ctlr_reserved
            and max(pmr) <= 0xFF and not reduce(or_, pmr) & ~ctx.prio_mask
            and ctx.min_bpr <= min(bpr) and max(bpr) <= _BP_MAX
            and ctx.min_abpr <= min(abpr) and max(abpr) <= _BP_MAX
            and not (a0 | a1 | au) & ~ctx.apr_lanes[len(rows)] and not au & (a0 | a1))


def _cpu(ctx: Context, c: int, ci: Any) -> Iterator[Violation]:
    if ci.ctlr & GICC_CTLR.reserved_mask:
        yield _v("CPU-CTLR-RESERVED", labels.cpu_reg(c, "gicc.ctlr"),
                 f"{ci.ctlr:#x} sets reserved bits {ci.ctlr & GICC_CTLR.reserved_mask:#x}")
    if ci.pmr > 0xFF or ci.pmr & ~ctx.prio_mask:
        yield _v("CPU-PMR-UNIMPLEMENTED-BITS", labels.cpu_reg(c, "gicc.pmr"),
                 f"{ci.pmr:#04x} sets bits outside the {ctx.priority_bits} implemented "
                 f"(mask {ctx.prio_mask:#04x})")
    for name, low in (("bpr", ctx.min_bpr), ("abpr", ctx.min_abpr)):
        value = getattr(ci, name)
        if not low <= value <= _BP_MAX:
            yield _v("CPU-BPR-RANGE", labels.cpu_reg(c, f"gicc.{name}"),
                     f"{value} is not in {low}..{_BP_MAX} "
                     f"(minimum from config.min_bpr {ctx.min_bpr})")
    g0, g1, unk = (int.from_bytes(x, "little") for x in
                   (ci.active_group0, ci.active_group1, ci.active_group_unknown))
    for name, levels in (("active_group0", g0), ("active_group1", g1),
                         ("active_group_unknown", unk)):
        for lv in bitmaps.set_bits(levels & ~ctx.apr_levels):
            yield _v("CPU-ACTIVE-PRIORITY-UNREPRESENTABLE", labels.cpu_reg(c, f"gicc.{name}"),
                     f"group priority {2 * lv:#04x} is active, but with {ctx.priority_bits} "
                     f"priority bits and min BPR {ctx.min_bpr} no such preemption level exists")
    for lv in bitmaps.set_bits(unk & (g0 | g1)):
        yield _v("CPU-ACTIVE-GROUP-OVERLAP", labels.cpu_reg(c, "gicc.active_group_unknown"),
                 f"group priority {2 * lv:#04x} is marked group-unknown and also in a known group")


def _every_cpu(ctx: Context, msg: Any) -> Iterator[Violation]:
    for c in range(ctx.num_cpus):
        yield from _cpu(ctx, c, msg.state.cpu[c])


CPUS = Section("CPU interfaces", _cpus_ok, _every_cpu)


# --- virtual interfaces of a GIC with virtualization extensions -------------------------------
def _virtual_ok(ctx: Context, msg: Any) -> bool:
    virtual = msg.state.virtual
    if not virtual:
        return True
    rows = [(v.hcr, v.vmcr, v.apr, v.lr[:]) for v in virtual]  # [:]: a list, read once
    hcr, vmcr, apr, lrs = zip(*rows, strict=True)
    if max(map(len, lrs)) > ctx.num_lrs or 0 in [x[-1] for x in lrs if x]:
        return False
    every = [lr for x in lrs for lr in x]
    if every:  # each LR's reserved bits, by its HW bit, in 32-bit lanes at once
        words = lanes(every, "I")
        hw = (words >> ctx.lr_hw_shift) & ctx.lr_hw_lanes
        if words & (ctx.lr_res_lanes ^ hw * ctx.lr_sw_only):
            return False
    words = int.from_bytes(ctx.u32.pack(*vmcr), "little")
    return (not reduce(or_, hcr) & ctx.hcr_reserved and not reduce(or_, vmcr) & ctx.vmcr_reserved
            and ctx.vmbp_min.holds(words) and ctx.vmabp_min.holds(words)
            and not reduce(or_, apr) >> ctx.apr_bits)


def _virtual(ctx: Context, c: int, v: Any) -> Iterator[Violation]:
    virt: Any = ctx.virt  # present: _shape checked that virtual interfaces imply it
    if len(v.lr) > virt.num_lrs:
        yield _v("VIRT-LR-COUNT", labels.cpu_reg(c, "gich.lr"),
                 f"{len(v.lr)} list registers stored, GICH_VTR implements {virt.num_lrs}")
    for reg, name, value in ((GICH_HCR, "hcr", v.hcr), (GICH_VMCR, "vmcr", v.vmcr)):
        if value & reg.reserved_mask:
            yield _v("VIRT-RESERVED-BITS", labels.cpu_reg(c, f"gich.{name}"),
                     f"{value:#010x} sets reserved bits {value & reg.reserved_mask:#010x}")
    vmbp, vmabp = GICH_VMCR.field("vmbp").get(v.vmcr), GICH_VMCR.field("vmabp").get(v.vmcr)
    if vmbp < ctx.min_vmbp or vmabp < ctx.min_vmabp:
        yield _v("VIRT-VMCR-BINARY-POINT", labels.cpu_reg(c, "gich.vmcr"),
                 f"VMBP {vmbp} / VMABP {vmabp} below the minima {ctx.min_vmbp} / {ctx.min_vmabp}")
    if v.apr >> ctx.apr_bits:
        yield _v("VIRT-APR-UNREPRESENTABLE", labels.cpu_reg(c, "gich.apr"),
                 f"{v.apr:#010x} sets levels beyond the {ctx.apr_bits} that "
                 f"{virt.preemption_bits} preemption bits give")
    for n, lr in enumerate(v.lr):
        reserved = reserved_bits(lr)
        if reserved:
            yield _v("VIRT-RESERVED-BITS", labels.cpu_reg(c, f"gich.lr{n}"),
                     f"{lr:#010x} sets reserved bits {reserved:#010x}")


def _every_virtual(ctx: Context, msg: Any) -> Iterator[Violation]:
    for c, v in enumerate(msg.state.virtual):
        yield from _virtual(ctx, c, v)


VIRTUAL = Section("virtual interfaces", _virtual_ok, _every_virtual)
