"""Round trips through the KVM view, and a replay of the exported writes on a small model
of KVM's GICv2 uaccess semantics (gic-domain.md §4.5, written from the kernel's behaviour,
independently of gicmig's own register image)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gicmig.abi.kvm import kvm_config
from gicmig.abi.kvm.access import Access, KvmDump
from gicmig.abi.kvm.fit import dump_kvm, export_kvm, fit_kvm
from gicmig.core.attribution import attribute
from gicmig.core.model import GicState
from gicmig.core.rules import validate
from gicmig.views.kvm.dump import dump_to_json, parse_dump
from gicmig.views.kvm.reader import import_kvm

U32 = 0xFFFF_FFFF


# --- a model of the KVM GICv2 device, as userspace sees it ------------------------------
@dataclass
class Irq:
    enabled: bool = False
    group: bool = False
    edge: bool = False
    priority: int = 0
    latch: bool = False
    line: bool = False
    active: bool = False
    targets: int = 0
    source: int = 0  # SGIs: pending source CPUs


class EINVAL(Exception):
    pass


class KvmModel:
    """KVM's vgic-v2 as KVM_{GET,SET}_DEVICE_ATTR sees it (mainline semantics)."""

    def __init__(self, num_cpus: int, nr_irqs: int, rev: int = 3) -> None:
        self.n, self.nr_irqs, self.rev = num_cpus, nr_irqs, rev
        self.groups_writable = False
        self.enabled = False
        self.private = [[Irq(enabled=i < 16, edge=i < 16, targets=1 << c) for i in range(32)]
                        for c in range(num_cpus)]
        self.spis = [Irq() for _ in range(nr_irqs - 32)]
        # KVM resets its software VMCR to 0: a vCPU that never ran reads BPR 0 / ABPR 0
        self.cpu = [{"ctlr": 0, "pmr": 0, "bpr": 0, "abpr": 0, "apr": 0}
                    for _ in range(num_cpus)]
        self.sgir_writes = 0

    def dirty(self, rng: random.Random) -> KvmModel:
        """Random leftovers of an earlier guest (line levels stay low: devices drive them)."""
        self.enabled = rng.random() < 0.5
        for irq in [i for bank in self.private for i in bank] + self.spis:
            irq.enabled, irq.group = rng.random() < 0.5, rng.random() < 0.5
            irq.priority, irq.latch = rng.randrange(256) & 0xF8, rng.random() < 0.3
            irq.active, irq.source = rng.random() < 0.3, rng.randrange(1 << self.n)
        for irq in self.spis:
            irq.edge, irq.targets = rng.random() < 0.5, rng.randrange(1 << self.n)
            irq.source = 0
        for bank in self.private:
            for i in range(16, 32):
                bank[i].source = 0
            for i in range(16):
                bank[i].latch = False
        for cpu in self.cpu:
            cpu.update(ctlr=rng.randrange(1 << 10) & 0x21F, pmr=rng.randrange(32) << 3,
                       bpr=rng.randrange(2, 8), abpr=rng.randrange(3, 8),
                       apr=rng.randrange(1 << 32))
        return self

    def irq(self, c: int, intid: int) -> Irq | None:
        if intid < 32:
            return self.private[c][intid]
        return self.spis[intid - 32] if intid < self.nr_irqs else None

    def _per_bit(self, c: int, offset: int, base: int, value: int, fn) -> None:  # type: ignore[no-untyped-def]
        first = (offset - base) * 8
        for b in range(32):
            irq = self.irq(c, first + b)
            if irq is not None and value >> b & 1:
                fn(irq, first + b)

    def _bits(self, c: int, offset: int, base: int, get) -> int:  # type: ignore[no-untyped-def]
        first = (offset - base) * 8
        return sum(1 << b for b in range(32)
                   if (irq := self.irq(c, first + b)) is not None and get(irq, first + b))

    # -- distributor ------------------------------------------------------------------
    def iidr(self) -> int:
        return 0x4B << 24 | self.rev << 12 | 0x43B

    def write_dist(self, c: int, off: int, v: int) -> None:
        if off == 0x000:
            self.enabled = bool(v & 1)
        elif off == 0x008:
            if (v ^ self.iidr()) & ~(0xF << 12) or (v >> 12 & 0xF) not in (2, 3):
                raise EINVAL(f"IIDR {v:#x}")
            self.rev, self.groups_writable = v >> 12 & 0xF, True
        elif 0x080 <= off < 0x100:
            if self.groups_writable:  # ignored until userspace wrote IIDR
                for b in range(32):
                    irq = self.irq(c, (off - 0x080) * 8 + b)
                    if irq is not None:
                        irq.group = bool(v >> b & 1)
        elif 0x100 <= off < 0x180:
            self._per_bit(c, off, 0x100, v, lambda i, n: setattr(i, "enabled", True))
        elif 0x180 <= off < 0x200:
            self._per_bit(c, off, 0x180, v, lambda i, n: setattr(i, "enabled", False))
        elif 0x200 <= off < 0x280:
            self._per_bit(c, off, 0x200, v, lambda i, n: self._set_pending(c, i, n))
        elif 0x280 <= off < 0x300:
            self._per_bit(c, off, 0x280, v, lambda i, n: self._clear_pending(i, n))
        elif 0x300 <= off < 0x380:  # userspace is no running vCPU: an SGI's source becomes 0
            self._per_bit(c, off, 0x300, v, lambda i, n: setattr(i, "active", True))
        elif 0x380 <= off < 0x400:
            self._per_bit(c, off, 0x380, v, lambda i, n: setattr(i, "active", False))
        elif 0x400 <= off < 0x800:
            for k in range(4):
                irq = self.irq(c, off - 0x400 + k)
                if irq is not None:
                    irq.priority = v >> 8 * k & 0xF8
        elif 0x800 <= off < 0xC00:
            for k in range(4):
                irq = self.irq(c, off - 0x800 + k)
                if irq is not None and off - 0x800 + k >= 32:
                    irq.targets = v >> 8 * k & ((1 << self.n) - 1)
        elif 0xC00 <= off < 0xD00:
            for f in range(16):
                irq = self.irq(c, (off - 0xC00) * 4 + f)
                if irq is not None and (off - 0xC00) * 4 + f >= 32:
                    irq.edge = bool(v >> (2 * f + 1) & 1)
        elif off == 0xF00:
            self.sgir_writes += 1
        elif 0xF10 <= off < 0xF30:
            for k in range(4):
                irq = self.private[c][(off & 0xF) + k]
                mask = v >> 8 * k & 0xFF
                irq.source = irq.source | mask if off >= 0xF20 else irq.source & ~mask

    def _set_pending(self, c: int, irq: Irq, intid: int) -> None:
        if intid < 16:
            irq.source |= 1 << c  # the accessed vCPU becomes a source
        else:
            irq.latch = True

    def _clear_pending(self, irq: Irq, intid: int) -> None:
        if intid < 16:
            irq.source = 0
        else:
            irq.latch = False

    def _pending(self, irq: Irq, intid: int) -> bool:
        if intid < 16:
            return irq.source != 0
        return irq.latch or (not irq.edge and irq.line)

    def read_dist(self, c: int, off: int) -> int:
        if off == 0x000:
            return int(self.enabled)
        if off == 0x004:
            return (self.nr_irqs >> 5) - 1 | (self.n - 1) << 5
        if off == 0x008:
            return self.iidr()
        for base, get in ((0x080, lambda i, n: i.group), (0x100, lambda i, n: i.enabled),
                          (0x180, lambda i, n: i.enabled), (0x200, self._pending),
                          (0x280, self._pending), (0x300, lambda i, n: i.active),
                          (0x380, lambda i, n: i.active)):
            if base <= off < base + 0x80:
                return self._bits(c, off, base, get)
        if 0x400 <= off < 0xC00:
            out = 0
            for k in range(4):
                intid = (off & 0x3FF) + k
                irq = self.irq(c, intid)
                if irq is not None:
                    byte = irq.priority if off < 0x800 else irq.targets
                    out |= byte << 8 * k
            return out
        if 0xC00 <= off < 0xD00:
            out = 0
            for f in range(16):
                irq = self.irq(c, (off - 0xC00) * 4 + f)
                if irq is not None and irq.edge:
                    out |= 2 << 2 * f
            return out
        if 0xF10 <= off < 0xF30:
            return sum(self.private[c][(off & 0xF) + k].source << 8 * k for k in range(4))
        return 0

    # -- CPU interface --------------------------------------------------------------------
    def write_cpu(self, c: int, off: int, v: int) -> None:
        cpu = self.cpu[c]
        if off == 0x00:
            cpu["ctlr"] = v & 0x21F
        elif off == 0x04:
            cpu["pmr"] = (v & 0x1F) << 3  # VMPriMask format
        elif off == 0x08:
            cpu["bpr"] = max(v & 7, 2)
        elif off == 0x1C:
            cpu["abpr"] = max(v & 7, 3)
        elif off == 0xD0:
            cpu["apr"] = v  # APR1-3 are RAZ/WI on a GICv2 host

    def read_cpu(self, c: int, off: int) -> int:
        cpu = self.cpu[c]
        return {0x00: cpu["ctlr"], 0x04: cpu["pmr"] >> 3, 0x08: cpu["bpr"], 0x1C: cpu["abpr"],
                0xD0: cpu["apr"], 0xFC: 0x4B << 20 | 2 << 16 | 0x43B}.get(off, 0)

    # -- the ioctls -------------------------------------------------------------------------
    def set_attr(self, a: Access) -> None:
        assert 0 <= a.vcpu < self.n
        (self.write_dist if a.group == "dist" else self.write_cpu)(a.vcpu, a.offset, a.value)

    def get_attr(self, group: str, vcpu: int, offset: int) -> int:
        return (self.read_dist if group == "dist" else self.read_cpu)(vcpu, offset)

    def save(self) -> KvmDump:
        """What a careful VMM reads: every register, banked ones per vCPU."""
        reads = []
        for c in range(self.n):
            offs = [0x000, 0x004, 0x008] + [base + 4 * w for base in
                                            range(0x080, 0x400, 0x80) for w in
                                            range(self.nr_irqs // 32)]
            offs += [base + 4 * w for base in (0x400, 0x800) for w in range(self.nr_irqs // 4)]
            offs += [0xC00 + 4 * w for w in range(self.nr_irqs // 16)]
            offs += list(range(0xF10, 0xF30, 4))
            reads += [Access("dist", c, o, self.get_attr("dist", c, o)) for o in offs]
            reads += [Access("cpu", c, o, self.get_attr("cpu", c, o))
                      for o in (0x00, 0x04, 0x08, 0x1C, 0xD0, 0xD4, 0xD8, 0xDC, 0xFC)]
        return KvmDump(self.nr_irqs, tuple(reads))


# --- states KVM can hold -------------------------------------------------------------------
@st.composite
def kvm_states(draw: st.DrawFn) -> GicState:
    n = draw(st.integers(1, 4))
    state = GicState.reset(kvm_config(n, draw(st.sampled_from((64, 96, 160, 288)))))
    state.enable_grp0, state.enable_grp1_unknown = draw(st.booleans()), True
    cpu_mask, u32 = (1 << n) - 1, st.integers(0, U32)
    for c in range(n):
        b, ci = state.banked[c], state.cpu[c]
        b.enabled, b.group, b.active = draw(u32), draw(u32), draw(u32)
        b.priority = bytes(p & 0xF8 for p in draw(st.binary(min_size=32, max_size=32)))
        b.sgi_sources = bytes(x & cpu_mask for x in draw(st.binary(min_size=16, max_size=16)))
        b.sgi_active_source = bytes(0xFF if b.active >> s & 1 else 0 for s in range(16))
        ppi_pending = draw(u32) & ~0xFFFF  # PPIs are level in KVM: the split is unknown
        b.pending_latch = b.pending_split_unknown = ppi_pending
        ci.ctlr, ci.pmr = draw(u32) & 0x21F, draw(st.integers(0, 31)) << 3
        ci.bpr, ci.abpr = draw(st.integers(2, 7)), draw(st.integers(3, 7))
        apr = draw(u32)
        ci.active_group_unknown = sum(1 << 4 * k for k in range(32) if apr >> k & 1)
    k = state.config.num_spis
    sh, bits = state.shared, st.integers(0, (1 << k) - 1)
    sh.enabled, sh.group, sh.edge, sh.active = draw(bits), draw(bits), draw(bits), draw(bits)
    pending = draw(bits)
    sh.pending_latch, sh.pending_split_unknown = pending, pending & ~sh.edge
    sh.priority = bytes(p & 0xF8 for p in draw(st.binary(min_size=k, max_size=k)))
    if n > 1:
        sh.targets = bytes(t & cpu_mask for t in draw(st.binary(min_size=k, max_size=k)))
    sh.active_cpu = bytes(0xFF if sh.active >> i & 1 else 0 for i in range(k))
    # KVM reads every pending + active level interrupt as a maybe-stale latch
    for c in range(n):
        b = state.banked[c]
        b.latch_maybe_stale = b.pending_latch & b.active & ~b.edge
    sh.latch_maybe_stale = sh.pending_latch & sh.active & ~sh.edge
    # what KVM's registers explain, an import derives (gicmig.core.attribution); an SPI
    # is active on the CPU KVM queued it to, its first target
    attribute(state)
    if n > 1:
        sh.targets = bytes(t if c == 0xFF else (t & -(1 << c)) | 1 << c
                           for t, c in zip(sh.targets.ljust(k, b"\0"), sh.active_cpu, strict=True))
    validate(state)
    return state


def replay(state: GicState, model: KvmModel) -> KvmModel:
    for w in export_kvm(state):
        model.set_attr(w)
    return model


# --- tests -----------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(kvm_states())
def test_canonical_kvm_canonical(state: GicState) -> None:
    """Every state KVM can hold comes back identical through the dump format."""
    text = dump_to_json(dump_kvm(state))
    assert import_kvm(parse_dump(text)) == state


@settings(max_examples=100, deadline=None)
@given(kvm_states(), st.integers(0, 2**32))
def test_writes_restore_a_dirty_kvm(state: GicState, seed: int) -> None:
    """The writes, replayed on a KVM left dirty by another guest, give the state back."""
    cfg = state.config
    model = KvmModel(cfg.num_cpus, cfg.num_irqs).dirty(random.Random(seed))
    replay(state, model)
    assert model.sgir_writes == 0
    assert import_kvm(model.save()) == state


def test_fitted_state_is_what_kvm_gives_back() -> None:
    """A state KVM holds only approximately: the restore yields exactly the fitted state."""
    state = GicState.reset(kvm_config(2, 96))
    state.enable_grp0 = state.enable_grp1 = True  # KVM's one enable: stored as unknown
    state.banked[0].pending_latch = 1 << 20  # a level PPI whose latch is known
    state.cpu[1].active_group1 = 1 << 8  # a known group: GICH_APR has one combined set
    fitted, losses = fit_kvm(state)
    assert losses == []
    assert fitted != state
    model = replay(state, KvmModel(2, 96))
    back = import_kvm(model.save())
    assert back == fitted
    assert back.enable_grp1_unknown and back.enable_grp0
    assert back.banked[0].pending_split_unknown == 1 << 20
    assert back.cpu[1].active_group_unknown == 1 << 8


def _busy_state() -> GicState:
    state = GicState.reset(kvm_config(2, 64))
    state.enable_grp0, state.enable_grp1_unknown = True, True
    state.banked[1].group = 1 << 27
    state.shared.group = 1 << 3
    state.banked[1].sgi_sources = bytes([0, 0b10, 0, 0b11])
    state.banked[0].pending_latch = state.banked[0].pending_split_unknown = 1 << 27
    validate(state)
    return state


def test_groups_need_the_iidr_write_first() -> None:
    """Without the GICD_IIDR write KVM ignores IGROUPR: the model must notice."""
    state = _busy_state()
    writes = export_kvm(state)
    assert (writes[0].group, writes[0].offset) == ("dist", 0x008)
    model = KvmModel(2, 64)
    for w in writes[1:]:
        model.set_attr(w)
    back = import_kvm(model.save())
    assert back.banked[1].group == 0 and back.shared.group == 0
    model = KvmModel(2, 64)
    for w in writes[1:] + writes[:1]:  # IIDR last: too late
        model.set_attr(w)
    assert import_kvm(model.save()) != state


def test_sgi_sources_survive_ispendr_semantics() -> None:
    """ISPENDR0 SGI bits would add the accessed vCPU as source; the writes avoid that and
    CPENDSGIR all-ones then SPENDSGIR restores each source exactly."""
    state = _busy_state()
    writes = export_kvm(state)
    ispendr0 = [w for w in writes if w.offset == 0x200]
    assert ispendr0 and all(w.value & 0xFFFF == 0 for w in ispendr0)
    names = [w.register for w in writes]
    last_clear = max(i for i, n in enumerate(names) if n.startswith("GICD_CPENDSGIR"))
    first_set = min(i for i, n in enumerate(names) if n.startswith("GICD_SPENDSGIR"))
    assert last_clear < first_set
    model = KvmModel(2, 64).dirty(random.Random(7))
    assert import_kvm(replay(state, model).save()) == state


@pytest.mark.parametrize("broken", ["set-before-clear", "sgis-through-ispendr"])
def test_the_model_catches_a_wrong_order(broken: str) -> None:
    """The replay test can fail: a plausible but wrong write list loses state."""
    state = _busy_state()
    writes = export_kvm(state)
    if broken == "set-before-clear":  # CPENDSGIR all-ones after SPENDSGIR
        clears = [w for w in writes if w.register.startswith("GICD_CPENDSGIR")]
        writes = [w for w in writes if w not in clears] + clears
    else:  # the naive restore: SGI pending bits through ISPENDR0, no per-source registers
        sgis = {c: sum(1 << s for s, v in enumerate(state.banked[c].sgi_sources) if v)
                for c in range(2)}
        writes = [Access(w.group, w.vcpu, w.offset, w.value | sgis[w.vcpu])
                  if w.offset == 0x200 else w for w in writes
                  if not w.register.startswith(("GICD_CPENDSGIR", "GICD_SPENDSGIR"))]
    model = KvmModel(2, 64)
    for w in writes:
        model.set_attr(w)
    assert import_kvm(model.save()) != state


def test_write_order() -> None:
    """IIDR first; ICFGR and ITARGETSR before pending; clear before set; CPU registers last."""
    state = _busy_state()
    names = [w.register for w in export_kvm(state)]

    def first(prefix: str) -> int:
        return min(i for i, n in enumerate(names) if n.startswith(prefix))

    def last(prefix: str) -> int:
        return max(i for i, n in enumerate(names) if n.startswith(prefix))

    assert names[0] == "GICD_IIDR"
    assert last("GICD_IGROUPR") < first("GICD_ISPENDR")
    for early in ("GICD_ICFGR", "GICD_ITARGETSR"):
        assert last(early) < first("GICD_ICPENDR")
    for clear, set_ in (("GICD_ICENABLER", "GICD_ISENABLER"), ("GICD_ICPENDR", "GICD_ISPENDR"),
                        ("GICD_ICACTIVER", "GICD_ISACTIVER")):
        assert last(clear) < first(set_)
    assert first("GICC_") > last("GICD_")
    assert "GICD_SGIR" not in names
    assert not any(n.startswith(("GICD_ICFGR0", "GICD_ICFGR1", "GICD_ITARGETSR0"))
                   for n in names)  # private: read-only in KVM
