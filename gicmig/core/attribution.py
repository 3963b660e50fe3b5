"""What the active interrupts explain: the group of active priorities and the CPU of an
active SPI. One rule, used by every view that meets a combined set of active priorities
(the KVM device ABI's GICC_APR0, a GICH_APR image, QEMU's kvm-arm-gic stream, the nested
GICH fold of a QEMU TCG stream) and by the exporters that must predict what such an import
rebuilds.

Facts the rule rests on (shared/reference/gic-domain.md):

* an acknowledge sets the active-priority bit of the interrupt's *group priority*: its
  priority with the subpriority bits cleared under the binary point in force (BPR for
  Group 0, and for Group 1 when GICC_CTLR.CBPR is set; otherwise ABPR, acting as BPR - 1)
  (§2.3); the canonical level is group priority / 2 (§2.4, 128 levels);
* GICH_APR and KVM's GICC_APR0 are one set for both groups (§4.6, §6 row 32), and only the
  CPU that acknowledged an SPI shows it in its APR or LRs (§6 row 22); both rows say
  *derive* where the active interrupts allow it;
* the APR is not a function of the active interrupts (§2.4): with EOImode = 1 the
  priority drop clears the bit while the interrupt stays active, nested interrupts of one
  group priority share a bit, and software may write the APRs directly.

The rule (a set level that no active interrupt could have set stays unexplained):

1. **CPU of an active SPI** whose CPU is UNKNOWN. On CPU c, a level is *unexplained* when
   no interrupt known to be active on c (its banked active interrupts, SPIs known to be
   active on c) sits at it. A level that stays set needs an active interrupt at it (the bit
   is cleared by the priority drop of the interrupt that set it), so when exactly one
   SPI of unknown CPU sits at an unexplained level of c, that SPI is active on c. This is
   repeated until nothing changes (an SPI placed on c is no candidate elsewhere).
2. **Group of a level** whose group is UNKNOWN. The level is Group g when every interrupt
   that is, or may be, active at it on that CPU is of Group g, and there is at least one.

What stays UNKNOWN (docs/kvm.md, "Attribution"):

* an SPI that is a candidate for no unexplained level (e.g. EOImode = 1 after the
  priority drop: no APR bit anywhere), or one of several candidates for every
  unexplained level it could explain, or the sole candidate of unexplained levels on two
  CPUs (the levels contradict each other);
* a level that no interrupt (known or possibly) active on that CPU sits at (APR written
  directly, an interrupt deactivated through GICD_ICACTIVER without EOI, or a binary point
  changed since the acknowledge);
* a level at which interrupts of both groups are, or may be, active on that CPU (an SPI
  of unknown CPU counts as possibly active on every CPU).

The rule trusts the set of active interrupts to be complete; a caller that cannot see
them all (the nested fold when every list register holds an active interrupt) leaves the
levels unknown (`complete=False`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gicmig.arch import bitmaps, labels
from gicmig.arch.ids import NUM_PRIVATE
from gicmig.arch.registers import GICC_CTLR
from gicmig.core.model import UNKNOWN_CPU, GicState

__all__ = ["Derivation", "attribute", "group_priority_level", "split_active_levels"]

_CBPR = GICC_CTLR.field("cbpr")

Active = tuple[int, int]  # (8-bit priority, group) of an interrupt


def group_priority_level(priority: int, group: int, ctlr: int, bpr: int, abpr: int) -> int:
    """The canonical level (group priority / 2) of `priority` under the current binary
    point: BPR for Group 0 (and Group 1 with CBPR), else ABPR acting as BPR - 1."""
    point = bpr if group == 0 or _CBPR.get(ctlr) else max(abpr - 1, 0)
    return (priority & (0xFF << (point + 1)) & 0xFF) >> 1


def split_active_levels(levels: int, active: Iterable[Active], ctlr: int, bpr: int,
                        abpr: int, *, maybe: Iterable[Active] = (),
                        complete: bool = True) -> tuple[int, int, int]:
    """(group 0, group 1, unknown) for a combined set of active levels of one CPU.

    `active`: (priority, group) of the interrupts known to be active on the CPU; `maybe`:
    of those that may be (SPIs of unknown CPU). A level goes to group g when every
    interrupt of either list that sits at it is of group g, and there is one; otherwise its
    group is unknown. `complete=False`: the caller cannot see every active interrupt, so
    nothing is attributed.
    """
    if not levels or not complete:
        return 0, 0, levels
    seen: dict[int, int] = {}
    for prio, grp in (*active, *maybe):
        lv = group_priority_level(prio, grp, ctlr, bpr, abpr)
        seen[lv] = seen.get(lv, 0) | (1 << grp)
    g0 = g1 = 0
    for lv in bitmaps.set_bits(levels):
        who = seen.get(lv)
        if who == 1:
            g0 |= 1 << lv
        elif who == 2:
            g1 |= 1 << lv
    return g0, g1, levels & ~(g0 | g1)


@dataclass(frozen=True)
class Derivation:
    """One fact the rule derived: where (as messages name it) and why."""

    place: str
    message: str


@dataclass
class _Cpu:
    ctlr: int
    bpr: int
    abpr: int
    levels: int
    known: list[Active]

    def level(self, prio: int, grp: int) -> int:
        return group_priority_level(prio, grp, self.ctlr, self.bpr, self.abpr)


_IS_UNKNOWN = bytes(int(b == UNKNOWN_CPU) for b in range(256))  # byte -> 1 where UNKNOWN


def attribute(state: GicState) -> list[Derivation]:
    """Apply the rule to `state` in place: place active SPIs of UNKNOWN CPU, then split
    the group-UNKNOWN active levels. Returns what was derived, in order."""
    n = state.config.num_cpus
    sh = state.shared
    active, who = sh.active, sh.active_cpu  # read once: each façade read converts
    cpus_unknown = (list(bitmaps.set_bits(bitmaps.nonzero(who.translate(_IS_UNKNOWN)) & active))
                    if active else [])
    interfaces = state.cpu
    unknown_levels = [ci.active_group_unknown for ci in interfaces]
    if not cpus_unknown and not any(unknown_levels):
        return []
    prio, grp = sh.priority, sh.group
    placed = bytearray(who)
    # rule 1 needs every CPU; rule 2 only those with levels of unknown group
    needed = range(n) if cpus_unknown else [c for c in range(n) if unknown_levels[c]]
    cpus: list[_Cpu | None] = [None] * n
    banked = state.banked
    for c in needed:
        ci, b = interfaces[c], banked[c]
        b_prio, b_grp = b.priority, b.group
        known = [(b_prio[v], b_grp >> v & 1) for v in bitmaps.set_bits(b.active)]
        cpus[c] = _Cpu(ci.ctlr, ci.bpr, ci.abpr,
                       ci.active_group0 | ci.active_group1 | unknown_levels[c], known)
    for k in bitmaps.set_bits(active):
        on = placed[k]
        if on < n and (cpu := cpus[on]) is not None:
            cpu.known.append((prio[k], grp >> k & 1))
    # with SPIs of unknown CPU every CPU was built above, so the list is complete
    out = (_place_spis([cpu for cpu in cpus if cpu is not None], cpus_unknown, prio, grp,
                       placed) if cpus_unknown else [])
    if placed != who:
        sh.active_cpu = bytes(placed)
    left = [(prio[k], grp >> k & 1) for k in cpus_unknown if placed[k] == UNKNOWN_CPU]
    for c, cpu in enumerate(cpus):
        unk = unknown_levels[c]
        if not unk or cpu is None:
            continue
        ci = interfaces[c]
        g0, g1, rest = split_active_levels(unk, cpu.known, cpu.ctlr, cpu.bpr, cpu.abpr,
                                           maybe=left)
        if g0 | g1:
            ci.active_group0 |= g0
            ci.active_group1 |= g1
            ci.active_group_unknown = rest
            for g, lv in ((0, g0), (1, g1)):
                if lv:
                    out.append(Derivation(
                        labels.cpu_reg(c, "gicc.active_priorities"),
                        f"group priorities {', '.join(labels.group_priorities(lv))} are Group "
                        f"{g}: only Group {g} interrupts are active there"))
    return out


def _place_spis(cpus: list[_Cpu], unknown: list[int], prio: bytes, grp: int,
                placed: bytearray) -> list[Derivation]:
    """Rule 1, to a fixed point; `placed` (SPI -> CPU byte vector) is updated."""
    out: list[Derivation] = []
    if not unknown:
        return out
    # the levels of each CPU that no interrupt known to be active there explains
    open_levels = []
    for cpu in cpus:
        explained = {cpu.level(p, g) for p, g in cpu.known}
        open_levels.append({lv for lv in bitmaps.set_bits(cpu.levels) if lv not in explained})
    left = list(unknown)
    while left:
        claims: dict[int, set[tuple[int, int]]] = {}
        for c, cpu in enumerate(cpus):
            for lv in open_levels[c]:
                cands = [k for k in left if cpu.level(prio[k], grp >> k & 1) == lv]
                if len(cands) == 1:
                    claims.setdefault(cands[0], set()).add((c, lv))
        progress = False
        for k, where in sorted(claims.items()):
            on = {c for c, _ in where}
            if len(on) != 1:
                continue  # the sole candidate on two CPUs: the levels contradict each other
            (c, lv), = where
            placed[k] = c
            cpus[c].known.append((prio[k], grp >> k & 1))
            open_levels[c].discard(lv)
            left.remove(k)
            progress = True
            out.append(Derivation(
                labels.irq(NUM_PRIVATE + k),
                f"active on cpu{c}: the only active interrupt that sits at cpu{c}'s active "
                f"group priority {2 * lv:#04x}"))
        if not progress:
            break
    return out
