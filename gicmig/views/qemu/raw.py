"""The `arm_gic` fields as named values, decoded and encoded by one table.

`RAW_FIELDS` says, once, which vmstate field (of the section or of its
`arm_gic_virt_state` subsection) each named value is and how it is held: a scalar, a
tuple of big-endian integers, a byte vector, or one member of the 7-byte `irq_state`
structs. `RawImage.decode` (used by the importer's `Raw`) and `RawImage.encode` (used by
the exporter) both walk that table over the field layouts of
`gicmig.views.qemu.stream`, so the encoding of every field is the inverse of its decoding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gicmig.views.qemu.vmstate import (
    GIC_FIELDS,
    GIC_SIZE,
    IRQ_STATE_MEMBERS,
    MAXIRQ,
    NCPU,
    VIRT_FIELDS,
    VIRT_SIZE,
    ArmGicSection,
    VmField,
)

_INT = {1: "B", 2: "H", 4: "I"}


# QEMU keeps GICC_APRn / NSAPRn as [n][cpu]: word n of CPU c at n * NCPU + c, 32 of the
# 128 canonical levels each
def apr_levels(words: tuple[int, ...], c: int) -> int:
    """CPU c's four APR words as one 128-level bitmap."""
    w = words[c::NCPU]
    return w[0] | w[1] << 32 | w[2] << 64 | w[3] << 96


def apr_words(levels: list[int]) -> tuple[int, ...]:
    """The [n][cpu] APR words of each CPU's 128-level bitmap (the inverse)."""
    words = [0] * (4 * NCPU)
    for c, lv in enumerate(levels):
        for k in range(4):
            words[k * NCPU + c] = lv >> (32 * k) & 0xFFFF_FFFF
    return tuple(words)


@dataclass(frozen=True)
class RawField:
    """Named value `attr` is vmstate field `field` of the section (`virt` False) or of
    the virtualization subsection, held as `kind`: "scalar" (element 0 as an int), "ints"
    (a tuple of ints), "bytes" (the raw u8 vector) or "member" (the `member`-th byte of
    every irq_state struct, a 1020-byte vector)."""

    attr: str
    field: str
    kind: str
    virt: bool = False
    member: int = 0

    @property
    def layout(self) -> VmField:
        return (VIRT_FIELDS if self.virt else GIC_FIELDS)[self.field]


def _members() -> tuple[RawField, ...]:
    short = {"edge_trigger": "edge"}  # the importer's name for the member
    return tuple(RawField(short.get(m, m), "irq_state", "member", member=k)
                 for k, m in enumerate(IRQ_STATE_MEMBERS))


RAW_FIELDS: tuple[RawField, ...] = (
    RawField("ctlr", "ctlr", "scalar"),
    RawField("cpu_ctlr", "cpu_ctlr", "ints"),
    *_members(),
    RawField("target", "irq_target", "bytes"),
    RawField("priority1", "priority1", "bytes"),  # [irq][cpu]
    RawField("priority2", "priority2", "bytes"),
    RawField("sgi_pending", "sgi_pending", "bytes"),  # [sgi][target cpu] = source mask
    RawField("pmr", "priority_mask", "ints"),
    RawField("running", "running_priority", "ints"),
    RawField("current", "current_pending", "ints"),
    RawField("bpr", "bpr", "bytes"),
    RawField("abpr", "abpr", "bytes"),
    RawField("apr", "apr", "ints"),  # [n][cpu]
    RawField("nsapr", "nsapr", "ints"),
    RawField("h_hcr", "h_hcr", "ints", virt=True),
    RawField("h_misr", "h_misr", "ints", virt=True),
    RawField("h_lr", "h_lr", "ints", virt=True),  # [lr][cpu]
    RawField("h_apr", "h_apr", "ints", virt=True),
    RawField("v_ctlr", "cpu_ctlr", "ints", virt=True),
    RawField("v_pmr", "priority_mask", "ints", virt=True),
    RawField("v_running", "running_priority", "ints", virt=True),
    RawField("v_current", "current_pending", "ints", virt=True),
    RawField("v_bpr", "bpr", "bytes", virt=True),
    RawField("v_abpr", "abpr", "bytes", virt=True),
)



def _decoder(f: RawField) -> tuple[str, bool, slice, struct.Struct | None, bool]:
    """How `decode` reads `f`: (attr, virt, where, ints, scalar). A byte vector is the
    slice `where` of the bytes (ints None); ints are unpacked by `ints` at where.start,
    a scalar as element 0."""
    lay = f.layout
    if f.kind == "member":
        return f.attr, f.virt, slice(lay.offset + f.member, lay.end, lay.size), None, False
    if f.kind == "bytes":
        return f.attr, f.virt, slice(lay.offset, lay.end), None, False
    ints = struct.Struct(f">{lay.count}{_INT[lay.size]}")
    return f.attr, f.virt, slice(lay.offset, lay.end), ints, f.kind == "scalar"


# RAW_FIELDS resolved once: the layouts, slices and structs that decode needs
_DECODE = tuple(_decoder(f) for f in RAW_FIELDS)

class RawImage:
    """Every arm_gic field by name (RAW_FIELDS). Per-interrupt members are 1020-byte
    vectors of CPU masks (bit c = CPU c); per-CPU arrays have 8 slots. The `h_*`/`v_*`
    values exist when `virt` is True (the stream has `arm_gic_virt_state`)."""

    ctlr: int
    cpu_ctlr: tuple[int, ...]
    enabled: bytes
    pending: bytes
    active: bytes
    level: bytes
    model: bytes
    edge: bytes
    group: bytes
    target: bytes
    priority1: bytes
    priority2: bytes
    sgi_pending: bytes
    pmr: tuple[int, ...]
    running: tuple[int, ...]
    current: tuple[int, ...]
    bpr: bytes
    abpr: bytes
    apr: tuple[int, ...]
    nsapr: tuple[int, ...]
    h_hcr: tuple[int, ...]
    h_misr: tuple[int, ...]
    h_lr: tuple[int, ...]
    h_apr: tuple[int, ...]
    v_ctlr: tuple[int, ...]
    v_pmr: tuple[int, ...]
    v_running: tuple[int, ...]
    v_current: tuple[int, ...]
    v_bpr: bytes
    v_abpr: bytes
    virt: bool

    def decode(self, s: ArmGicSection) -> None:
        """Fill every value from the section's bytes (by `_DECODE`, RAW_FIELDS resolved)."""
        self.virt = s.virt is not None
        values = self.__dict__
        for attr, virt, where, ints, scalar in _DECODE:
            data = s.virt if virt else s.main
            if data is None:
                continue
            if ints is None:
                values[attr] = data[where]
            elif scalar:
                values[attr] = ints.unpack_from(data, where.start)[0]
            else:
                values[attr] = ints.unpack_from(data, where.start)

    @classmethod
    def blank(cls, virt: bool) -> RawImage:
        """All fields zero (what QEMU leaves in every slot nothing has written)."""
        img = cls.__new__(cls)
        img.virt = virt
        for f in RAW_FIELDS:
            if f.virt and not virt:
                continue
            lay = f.layout
            if f.kind == "member":
                value: object = bytes(MAXIRQ)
            elif f.kind == "bytes":
                value = bytes(lay.count)
            elif f.kind == "ints":
                value = (0,) * lay.count
            else:
                value = 0
            setattr(img, f.attr, value)
        return img

    def encode(self) -> tuple[bytes, bytes | None]:
        """The section's field bytes and the subsection's (None without `virt`)."""
        main = bytearray(GIC_SIZE)
        virt = bytearray(VIRT_SIZE) if self.virt else None
        for f in RAW_FIELDS:
            out = virt if f.virt else main
            if out is None:
                continue
            lay = f.layout
            value = getattr(self, f.attr)
            if f.kind == "member":
                _check_len(f, value, MAXIRQ)
                out[lay.offset + f.member:lay.end:lay.size] = value
            elif f.kind == "bytes":
                _check_len(f, value, lay.count)
                out[lay.offset:lay.end] = value
            else:
                values = (value,) if f.kind == "scalar" else tuple(value)
                _check_len(f, values, lay.count if f.kind == "ints" else 1)
                struct.pack_into(f">{len(values)}{_INT[lay.size]}", out, lay.offset, *values)
        return bytes(main), None if virt is None else bytes(virt)


def _check_len(f: RawField, value: bytes | tuple[int, ...], n: int) -> None:
    if len(value) != n:
        raise ValueError(f"{f.attr}: {len(value)} elements, the field holds {n}")
