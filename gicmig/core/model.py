"""The typed model of schema v1: a thin façade over the protobuf messages.

The protobuf message is the only storage, so decoding costs one parse and equality is
equality of canonical encodings. Each façade attribute converts on access: a bitmap
reads as a Python int (bit k = element k), a byte vector as `bytes` padded to its full
length; writing stores the trimmed canonical form (see proto/gicmig/v1/gicmig.proto).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from gicmig.arch import priority
from gicmig.arch.ids import NUM_PRIVATE, NUM_SGIS, SGI_MASK
from gicmig.core.config import GicConfig
from gicmig.core.facade import Bitmap, Facade, Scalar, Sized, Vector
from gicmig.core.pb import pb

SOURCES: dict[str, int] = {
    "unspecified": pb.SOURCE_VIEW_UNSPECIFIED,
    "fixture": pb.SOURCE_VIEW_FIXTURE,
    "gich": pb.SOURCE_VIEW_GICH,
    "kvm-abi": pb.SOURCE_VIEW_KVM_ABI,
    "qemu-tcg": pb.SOURCE_VIEW_QEMU_TCG,
    "qemu-kvm": pb.SOURCE_VIEW_QEMU_KVM,
}
SOURCE_NAMES = {v: k for k, v in SOURCES.items()}

# the banked bitmaps that are not zero at reset: SGIs reset enabled (RAO/WI on QEMU;
# KVM's vgic-init enables them too) and are always edge-triggered
RESET_BANKED = {"enabled": SGI_MASK, "edge": SGI_MASK}
UNKNOWN_CPU = 0xFF  # the byte-vector marker for "the source did not record this CPU"


class BankedInterrupts(Sized):
    """IDs 0-31 as one CPU interface sees them. Bitmaps have bit i = interrupt ID i."""

    __slots__ = ()
    enabled = Scalar[int]()
    group = Scalar[int]()
    edge = Scalar[int]()
    pending_latch = Scalar[int]()
    line_level = Scalar[int]()
    active = Scalar[int]()
    pending_split_unknown = Scalar[int]()
    latch_maybe_stale = Scalar[int]()  # schema revision 3
    priority = Vector()
    sgi_sources = Vector()
    sgi_active_source = Vector()

    LENGTHS: ClassVar[dict[str, int]] = {
        "priority": NUM_PRIVATE, "sgi_sources": NUM_SGIS, "sgi_active_source": NUM_SGIS}

    def __init__(self, msg: Any) -> None:
        super().__init__(msg, self.LENGTHS)


class SharedInterrupts(Sized):
    """SPIs, one copy each. Element k (bit k, byte k) is interrupt ID 32 + k."""

    __slots__ = ()
    enabled = Bitmap()
    group = Bitmap()
    edge = Bitmap()
    pending_latch = Bitmap()
    line_level = Bitmap()
    active = Bitmap()
    pending_split_unknown = Bitmap()
    latch_maybe_stale = Bitmap()  # schema revision 3
    priority = Vector()
    targets = Vector()
    active_cpu = Vector()

    def __init__(self, msg: Any, num_spis: int) -> None:
        super().__init__(msg, dict.fromkeys(("priority", "targets", "active_cpu"), num_spis))


class CpuInterface(Facade):
    """One GICC. Active priorities are bitmaps of 128 levels: bit l = group priority 2l."""

    __slots__ = ()
    ctlr = Scalar[int]()
    pmr = Scalar[int]()
    bpr = Scalar[int]()
    abpr = Scalar[int]()
    active_group0 = Bitmap()
    active_group1 = Bitmap()
    active_group_unknown = Bitmap()


class VirtualInterface(Facade):
    """GICH registers programmed by a guest that is itself a hypervisor."""

    __slots__ = ("_num_lrs",)
    hcr = Scalar[int]()
    vmcr = Scalar[int]()
    apr = Scalar[int]()

    def __init__(self, msg: Any, num_lrs: int) -> None:
        super().__init__(msg)
        self._num_lrs = num_lrs

    @property
    def lr(self) -> tuple[int, ...]:
        """GICH_LR0..LR(num_lrs-1), zero-padded."""
        stored = tuple(self._pb.lr)
        return stored + (0,) * max(self._num_lrs - len(stored), 0)

    @lr.setter
    def lr(self, values: tuple[int, ...] | list[int]) -> None:
        trimmed = list(values)
        while trimmed and trimmed[-1] == 0:
            trimmed.pop()
        del self._pb.lr[:]
        self._pb.lr.extend(trimmed)


@dataclass(frozen=True)
class HwMapping:
    virtual_id: int
    physical_id: int


class VcpuContext(Facade):
    """Our hypervisor's GICH context for one vCPU (never canonical guest state)."""

    __slots__ = ()
    hcr = Scalar[int]()
    eoi_maintenance = Bitmap()

    @property
    def hw_mappings(self) -> tuple[HwMapping, ...]:
        return tuple(HwMapping(m.virtual_id, m.physical_id) for m in self._pb.hw_mapping)

    @hw_mappings.setter
    def hw_mappings(self, values: tuple[HwMapping, ...] | list[HwMapping]) -> None:
        """Stored in ascending virtual ID order, the one canonical order of the set."""
        del self._pb.hw_mapping[:]
        for m in sorted(values, key=lambda m: (m.virtual_id, m.physical_id)):
            self._pb.hw_mapping.add(virtual_id=m.virtual_id, physical_id=m.physical_id)


class Provenance(Facade):
    """Who produced a state, from which view. Travels with the blob; never compared."""

    __slots__ = ()
    tool = Scalar[str]()
    tool_version = Scalar[str]()
    vmm = Scalar[str]()
    vmm_version = Scalar[str]()
    host_kernel = Scalar[str]()

    @property
    def source(self) -> str:
        return SOURCE_NAMES.get(self._pb.source, f"unknown({self._pb.source})")

    @source.setter
    def source(self, name: str) -> None:
        self._pb.source = SOURCES[name]

    @property
    def gicd_iidr(self) -> int | None:
        return self._pb.gicd_iidr if self._pb.HasField("gicd_iidr") else None

    @gicd_iidr.setter
    def gicd_iidr(self, value: int | None) -> None:
        if value is None:
            self._pb.ClearField("gicd_iidr")
        else:
            self._pb.gicd_iidr = value


@dataclass(frozen=True)
class Irq:
    """One interrupt's state as one CPU sees it (a convenience copy, not a view).

    `targets`/`active_cpu` apply to SPIs, `sgi_sources`/`sgi_active_source` to SGIs;
    `None` in an `active_*` field means UNKNOWN.

    >>> irq = gicmig.load("fixtures/v1/busy.json").irq(27, cpu=0)
    >>> irq.pending, irq.pending_latch, irq.line_level
    (True, False, True)
    """

    intid: int
    enabled: bool
    group: int
    edge: bool
    priority: int
    pending_latch: bool
    line_level: bool
    active: bool
    pending_split_unknown: bool
    targets: int = 0
    active_cpu: int | None = 0
    sgi_sources: int = 0
    sgi_active_source: int | None = 0
    # schema revision 3: the latch of this active level interrupt may be KVM's stale one
    latch_maybe_stale: bool = False

    @property
    def pending(self) -> bool:
        """What GICD_ISPENDR shows: latch OR (level-triggered AND line), or SGI sources."""
        if self.intid < NUM_SGIS:
            return self.sgi_sources != 0
        return self.pending_latch or (not self.edge and self.line_level)


def _unknown(byte: int) -> int | None:
    return None if byte == UNKNOWN_CPU else byte


# The newest schema revision: what the generated code holds and what new states are
# written with (revision 2 added GicState.enable_grp1_unknown, revision 3 the
# latch_maybe_stale markers of BankedInterrupts and SharedInterrupts).
SCHEMA_REVISION = 3


class GicState:
    """A whole GICv2 migration state: parameters, guest-visible state, provenance and
    (optionally) hypervisor context. Two states are equal when their parameters,
    guest state and hypervisor context encode to the same canonical bytes.

    >>> st = GicState.reset(GicConfig.qemu_virt(num_cpus=2))
    >>> st.cpu[0].bpr, st.irq(27, cpu=1).edge
    (0, False)
    """

    __slots__ = ("_pb", "schema_revision")

    def __init__(self, msg: Any, schema_revision: int = SCHEMA_REVISION) -> None:
        self._pb = msg
        # the schema revision this state was read with, and that encode() writes
        self.schema_revision = schema_revision

    # --- construction ------------------------------------------------------------
    @classmethod
    def reset(cls, config: GicConfig) -> GicState:
        """The architectural reset state of a GIC with these parameters."""
        msg = pb.Snapshot()
        msg.config.CopyFrom(config._pb)
        msg.provenance.tool = "gicmig"
        st = msg.state
        for _ in range(config.num_cpus):
            st.banked.add(**RESET_BANKED)
            st.cpu.add(bpr=config.min_bpr, abpr=config.min_abpr)
        virt = config.virtualization
        if virt is not None:
            from gicmig.arch.registers import GICH_VMCR

            vmcr = GICH_VMCR.pack(vmbp=virt.min_vmbp, vmabp=priority.min_abpr(virt.min_vmbp))
            for _ in range(config.num_cpus):
                st.virtual.add(vmcr=vmcr)
        return cls(msg)

    def copy(self) -> GicState:
        msg = pb.Snapshot()
        msg.CopyFrom(self._pb)
        return GicState(msg, self.schema_revision)

    # --- parts -----------------------------------------------------------------------
    @property
    def config(self) -> GicConfig:
        return GicConfig(_msg=self._pb.config)

    @property
    def provenance(self) -> Provenance:
        return Provenance(self._pb.provenance)

    @property
    def enable_grp0(self) -> bool:
        return bool(self._pb.state.enable_grp0)

    @enable_grp0.setter
    def enable_grp0(self, value: bool) -> None:
        self._pb.state.enable_grp0 = value

    @property
    def enable_grp1(self) -> bool:
        return bool(self._pb.state.enable_grp1)

    @enable_grp1.setter
    def enable_grp1(self, value: bool) -> None:
        self._pb.state.enable_grp1 = value

    @property
    def enable_grp1_unknown(self) -> bool:
        """UNKNOWN marker (schema revision 2): the source had one distributor enable
        (KVM's GICv2 GICD_CTLR has only bit 0), so EnableGrp1 is not known."""
        return bool(self._pb.state.enable_grp1_unknown)

    @enable_grp1_unknown.setter
    def enable_grp1_unknown(self, value: bool) -> None:
        self._pb.state.enable_grp1_unknown = value

    @property
    def banked(self) -> list[BankedInterrupts]:
        return [BankedInterrupts(m) for m in self._pb.state.banked]

    @property
    def shared(self) -> SharedInterrupts:
        return SharedInterrupts(self._pb.state.shared, self._pb.config.num_irqs - NUM_PRIVATE)

    @property
    def cpu(self) -> list[CpuInterface]:
        return [CpuInterface(m) for m in self._pb.state.cpu]

    @property
    def virtual(self) -> list[VirtualInterface]:
        n = self._pb.config.virtualization.num_lrs
        return [VirtualInterface(m, n) for m in self._pb.state.virtual]

    @property
    def hypervisor(self) -> list[VcpuContext] | None:
        """Per-vCPU hypervisor context, or None when the state carries none."""
        if not self._pb.HasField("hypervisor"):
            return None
        return [VcpuContext(m) for m in self._pb.hypervisor.vcpu]

    def keep_hypervisor_context(self) -> list[VcpuContext]:
        """Create hypervisor context, one entry per vCPU, and return it.

        Each entry starts as a running hypervisor leaves a vCPU: GICH_HCR.En = 1, no HW
        mappings, no pending EOI maintenance.
        """
        from gicmig.arch.registers import GICH_HCR

        hyp = self._pb.hypervisor
        del hyp.vcpu[:]
        for _ in range(self._pb.config.num_cpus):
            hyp.vcpu.add(hcr=GICH_HCR.pack(en=1))
        return [VcpuContext(m) for m in hyp.vcpu]

    def drop_hypervisor_context(self) -> None:
        """Remove the hypervisor context (the guest-visible state is unchanged)."""
        self._pb.ClearField("hypervisor")

    # --- per-interrupt convenience -------------------------------------------------------
    def irq(self, intid: int, cpu: int = 0) -> Irq:
        """Interrupt `intid` as CPU `cpu` sees it (`cpu` matters for IDs 0-31 only)."""
        if intid < NUM_PRIVATE:
            return self._banked_irq(intid, cpu)
        k = intid - NUM_PRIVATE
        sh = self.shared
        return Irq(
            intid, _bit(sh.enabled, k), int(_bit(sh.group, k)), _bit(sh.edge, k),
            sh.priority[k], _bit(sh.pending_latch, k), _bit(sh.line_level, k),
            _bit(sh.active, k), _bit(sh.pending_split_unknown, k),
            targets=sh.targets[k], active_cpu=_unknown(sh.active_cpu[k]),
            latch_maybe_stale=_bit(sh.latch_maybe_stale, k),
        )

    def _banked_irq(self, intid: int, cpu: int) -> Irq:
        b = self.banked[cpu]
        sgi = intid < NUM_SGIS
        return Irq(
            intid, _bit(b.enabled, intid), int(_bit(b.group, intid)), _bit(b.edge, intid),
            b.priority[intid], _bit(b.pending_latch, intid), _bit(b.line_level, intid),
            _bit(b.active, intid), _bit(b.pending_split_unknown, intid),
            sgi_sources=b.sgi_sources[intid] if sgi else 0,
            sgi_active_source=_unknown(b.sgi_active_source[intid]) if sgi else 0,
            latch_maybe_stale=_bit(b.latch_maybe_stale, intid),
        )

    def cpus(self) -> Iterator[int]:
        return iter(range(self._pb.config.num_cpus))

    # --- identity ----------------------------------------------------------------------
    def canonical_bytes(self) -> bytes:
        """The canonical encoding of what the guest (and hypervisor) can tell apart:
        parameters, state and hypervisor context; provenance excluded."""
        msg = pb.Snapshot()
        msg.config.CopyFrom(self._pb.config)
        msg.state.CopyFrom(self._pb.state)
        if self._pb.HasField("hypervisor"):
            msg.hypervisor.CopyFrom(self._pb.hypervisor)
        canonicalize(msg)
        data: bytes = msg.SerializeToString(deterministic=True)
        return data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GicState):
            return NotImplemented
        return self.canonical_bytes() == other.canonical_bytes()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        c = self._pb.config
        return f"<GicState {c.num_cpus} CPUs, {c.num_irqs} IDs, source {self.provenance.source}>"


def _empty_submessages(msg: Any) -> list[tuple[Any, str]]:
    """Submessages whose presence carries no meaning and that are stored but empty.

    Canonical form omits them: an empty `shared {}` and no `shared` are one state.
    """
    found = []
    for parent, name in ((msg.state, "shared"), (msg, "provenance")):
        if parent.HasField(name) and not getattr(parent, name).ByteSize():
            found.append((parent, name))
    return found


def canonicalize(msg: Any) -> None:
    """Drop the empty submessages that canonical form omits (does not change the state)."""
    for parent, name in _empty_submessages(msg):
        parent.ClearField(name)


def _bit(value: int, k: int) -> bool:
    return bool((value >> k) & 1)
