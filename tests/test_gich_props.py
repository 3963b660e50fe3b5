"""The GICH converter's lossless property, with hypothesis.

* every canonical state a target can hold survives export + import exactly;
* every generated view is either refused with a registered reason code, or imports into a
  state whose re-export imports back to the same state (compared in canonical space).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import states

from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS
from gicmig.arch.registers import GICH_HCR, GICH_LR, GICH_LR_HW, GICH_VMCR, GICH_VTR
from gicmig.core.attribution import group_priority_level, split_active_levels
from gicmig.core.config import GicConfig
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.errors import REASONS, GicmigError, ValidationError
from gicmig.views.gich.merge import import_gich
from gicmig.views.gich.params import GichTarget, VtrParams, apr_to_levels, vtr_params
from gicmig.views.gich.plan import export_gich
from gicmig.views.gich.viewfile import GichView, VcpuRegs, parse_view

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_HELD_CTLR = 0b10_0001_1111  # GICC_CTLR bits GICH_VMCR holds (no bypass disables)


@st.composite
def targets(draw: st.DrawFn) -> GichTarget:
    pri = draw(st.integers(4, 5))
    pre = draw(st.integers(4, pri))
    vtr = GICH_VTR.pack(list_regs=draw(st.integers(0, 9)), pri_bits=pri - 1, pre_bits=pre - 1)
    return GichTarget(vtr=vtr, eoi_policy=draw(st.sampled_from(("kvm", "none"))))


@st.composite
def gich_states(draw: st.DrawFn, target: GichTarget) -> GicState:
    """A canonical state `target` can hold: any valid state, repaired where a GICH view
    cannot follow (priority bits, binary points, bypass bits, LR room, UNKNOWN actives,
    active levels and their group split)."""
    p = vtr_params(target.vtr)
    cfg = GicConfig(draw(st.integers(1, 4)), draw(st.sampled_from((32, 64, 96))),
                    priority_bits=draw(st.integers(p.priority_bits, 8)),
                    min_bpr=draw(st.integers(0, p.min_bpr)),
                    sgi_enables_rao_wi=draw(st.booleans()))
    s = draw(states(cfg))
    mask = p.priority_mask
    for b in s.banked:
        b.priority = bytes(x & mask for x in b.priority)
    s.shared.priority = bytes(x & mask for x in s.shared.priority)
    _resolve_unknown_actives(draw, s)
    if target.eoi_policy == "none":  # a maybe-stale latch is refused there (test_stale_latch)
        for b in s.banked:
            b.latch_maybe_stale = 0
        s.shared.latch_maybe_stale = 0
    _limit_actives(s, p.num_lrs)
    for b in s.banked:
        b.latch_maybe_stale &= b.active
    s.shared.latch_maybe_stale &= s.shared.active
    for c in s.cpus():
        _cpu(draw, s, c, p)
    return s


def _resolve_unknown_actives(draw: st.DrawFn, s: GicState) -> None:
    n = s.config.num_cpus
    for b in s.banked:
        b.sgi_active_source = bytes(draw(st.integers(0, n - 1)) if x == UNKNOWN_CPU else x
                                    for x in b.sgi_active_source)
    s.shared.active_cpu = bytes(draw(st.integers(0, n - 1)) if x == UNKNOWN_CPU else x
                                for x in s.shared.active_cpu)


def _limit_actives(s: GicState, room: int) -> None:
    """Keep at most `room` active interrupts per CPU (the rest made inactive)."""
    sh = s.shared
    used = [0] * s.config.num_cpus
    for c, b in enumerate(s.banked):
        keep = 0
        for v in range(NUM_PRIVATE):
            if b.active >> v & 1 and used[c] < room:
                keep |= 1 << v
                used[c] += 1
        b.active = keep
        b.sgi_active_source = bytes(x if keep >> v & 1 else 0
                                    for v, x in enumerate(b.sgi_active_source))
    active, cpus = sh.active, bytearray(sh.active_cpu)
    for k in range(s.config.num_spis):
        if active >> k & 1:
            if used[cpus[k]] < room:
                used[cpus[k]] += 1
            else:
                active &= ~(1 << k)
                cpus[k] = 0
    sh.active, sh.active_cpu = active, bytes(cpus)


def _active_on(s: GicState, c: int) -> list[tuple[int, int]]:
    b, sh = s.banked[c], s.shared
    out = [(b.priority[v], b.group >> v & 1) for v in range(NUM_PRIVATE) if b.active >> v & 1]
    out += [(sh.priority[k], sh.group >> k & 1) for k in range(s.config.num_spis)
            if sh.active >> k & 1 and sh.active_cpu[k] == c]
    return out


def _cpu(draw: st.DrawFn, s: GicState, c: int, p: VtrParams) -> None:
    ci = s.cpu[c]
    ci.ctlr &= _HELD_CTLR
    ci.pmr &= p.priority_mask
    ci.bpr = draw(st.integers(max(p.min_bpr, s.config.min_bpr), 7))
    ci.abpr = draw(st.integers(max(p.min_bpr, s.config.min_bpr) + 1, 7))
    # levels: some the active interrupts explain, plus arbitrary GICH_APR bits
    explained = 0
    for prio, grp in _active_on(s, c):
        if draw(st.booleans()):
            lv = group_priority_level(prio, grp, ci.ctlr, ci.bpr, ci.abpr)
            explained |= 1 << lv if lv & ((1 << p.level_shift) - 1) == 0 else 0
    extra = apr_to_levels(draw(st.integers(0, (1 << (1 << p.preemption_bits)) - 1)), p)
    levels = (explained | extra) & _config_levels(s.config)
    g0, g1, unk = split_active_levels(levels, _active_on(s, c), ci.ctlr, ci.bpr, ci.abpr)
    ci.active_group0, ci.active_group1, ci.active_group_unknown = g0, g1, unk


def _config_levels(cfg: GicConfig) -> int:
    step = 1 << (7 - cfg.preemption_bits)
    return sum(1 << lv for lv in range(0, 128, step))


@st.composite
def holdable(draw: st.DrawFn) -> tuple[GicState, GichTarget]:
    t = draw(targets())
    return draw(gich_states(t)), t


@SETTINGS
@given(holdable())
def test_export_then_import_is_the_identity(case: tuple[GicState, GichTarget]) -> None:
    state, target = case
    view = export_gich(state, target)
    assert import_gich(view) == state
    assert all(len(r.lr) == vtr_params(target.vtr).num_lrs for r in view.vcpus)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(holdable(), st.sampled_from(("fixture", "blob")))
def test_export_then_import_through_json(case: tuple[GicState, GichTarget], enc: str) -> None:
    state, target = case
    text = export_gich(state, target).to_json(distributor=enc)
    assert import_gich(parse_view(text)) == state


# --- arbitrary views -------------------------------------------------------------------------
def _rare(draw: st.DrawFn, one_in: int) -> bool:
    # a middle value: hypothesis favours the bounds of a range, which would make this common
    return draw(st.integers(0, one_in - 1)) == one_in // 2


@st.composite
def lrs(draw: st.DrawFn, img: GicState, cpu: int, vid: int) -> int:
    """A list register for `vid` on `cpu`, mostly consistent with the image, sometimes not."""
    irq = img.irq(vid, cpu) if vid < img.config.num_irqs else None
    prio = (irq.priority >> 3) if irq and not _rare(draw, 10) else draw(st.integers(0, 31))
    grp = irq.group if irq and not _rare(draw, 10) else draw(st.integers(0, 1))
    fields = {"virtual_id": vid, "priority": prio, "state": draw(st.integers(0, 3)), "grp1": grp}
    if _rare(draw, 20):
        return GICH_LR_HW.pack(hw=1, physical_id=draw(st.integers(0, 1023)), **fields)
    n = img.config.num_cpus if not _rare(draw, 20) else 8
    value = GICH_LR.pack(cpuid=draw(st.integers(0, n - 1)) if vid < NUM_SGIS else 0,
                         eoi=int(_rare(draw, 3) if fields["state"] else _rare(draw, 15)),
                         **fields)
    if _rare(draw, 40):
        value |= 1 << draw(st.integers(20, 22))  # a reserved bit
    return value


@st.composite
def views(draw: st.DrawFn) -> GichView:
    cfg = GicConfig(draw(st.integers(1, 3)), draw(st.sampled_from((32, 64))), priority_bits=5,
                    min_bpr=2)
    img = draw(states(cfg))
    _resolve_unknown_actives(draw, img)  # so that a re-export is possible at all
    for c in img.cpus():  # the CPU interface lives in VMCR/APR
        ci = img.cpu[c]
        ci.ctlr = ci.pmr = ci.active_group0 = ci.active_group1 = ci.active_group_unknown = 0
        ci.bpr, ci.abpr = 2, 3
    n_lrs = draw(st.integers(1, 6))
    vtr = GICH_VTR.pack(list_regs=n_lrs - 1, pri_bits=4, pre_bits=4)
    valid = st.integers(0, cfg.num_irqs - 1)
    ids = valid if not _rare(draw, 6) else st.integers(0, 1023)
    vcpus = []
    for c in img.cpus():
        vids = draw(st.lists(ids, min_size=n_lrs, max_size=n_lrs,
                             unique=not _rare(draw, 10)))
        regs = [0 if _rare(draw, 4) else draw(lrs(img, c, v)) for v in vids]
        hcr = 1 if not _rare(draw, 4) else draw(st.sampled_from((
            0, GICH_HCR.pack(en=1, eoicount=1), GICH_HCR.pack(en=1, uie=1))))
        low = 0 if _rare(draw, 10) else 2
        vmcr = GICH_VMCR.pack(vmgrp0en=draw(st.integers(0, 1)), vmcbpr=draw(st.integers(0, 1)),
                              vmbp=draw(st.integers(low, 7)), vmabp=draw(st.integers(low + 1, 7)),
                              vmprimask=draw(st.integers(0, 31)))
        vcpus.append(VcpuRegs(vtr, hcr, vmcr, draw(st.integers(0, 0xFFFF_FFFF)), tuple(regs)))
    return GichView(tuple(vcpus), img)


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(views(), st.booleans(), st.booleans())
def test_every_view_is_refused_with_a_code_or_survives_reexport(
        view: GichView, lenient: bool, keep: bool) -> None:
    try:
        state = import_gich(view, lenient=lenient, keep_hypervisor_context=keep)
    except ValidationError as exc:
        assert all(v.code in REASONS for v in exc.violations)
        return
    except GicmigError as exc:
        assert exc.code in REASONS
        return
    wide = GichTarget(vtr=GICH_VTR.pack(list_regs=63, pri_bits=4, pre_bits=4))
    again = import_gich(export_gich(state, wide), keep_hypervisor_context=keep)
    assert again == state
