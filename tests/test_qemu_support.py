"""Building synthetic QEMU migration streams for the QEMU import tests (no tests here).

`GicImage` is an arm_gic v12 section (and its virtualization subsection) in QEMU 7.2's
reset state for a number of CPUs, with setters by field name; `stream()` wraps it in the
framing QEMU writes: header, configuration, RAM START/PART/END, other device sections,
the arm_gic section, the end-of-state mark and the vmdesc.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterator

from gicmig.views.qemu.vmstate import GIC_FIELDS, GIC_SIZE, NCPU, VIRT_FIELDS, VIRT_SIZE

MEMBERS = {"enabled": 0, "pending": 1, "active": 2, "level": 3, "model": 4, "edge": 5,
           "group": 6}
_FMT = {1: "B", 2: "H", 4: "I"}


class GicImage:
    def __init__(self, num_cpus: int = 2, virt: bool = True) -> None:
        self.main = bytearray(GIC_SIZE)
        self.virt = bytearray(VIRT_SIZE) if virt else None
        for i in range(16):
            self.irq(i, enabled=0xFF, edge=1)
        for c in range(num_cpus):
            self.set("running_priority", c, 0x100)
            self.set("current_pending", c, 1023)
            self.set("abpr", c, 1)
            if virt:
                self.vset("running_priority", c, 0x100)
                self.vset("current_pending", c, 1023)
                self.vset("bpr", c, 2)
                self.vset("abpr", c, 3)
        if num_cpus == 1:
            self.main[GIC_FIELDS["irq_target"].offset:GIC_FIELDS["irq_target"].end] = \
                b"\x01" * 1020

    @classmethod
    def kvm(cls, num_cpus: int = 2) -> GicImage:
        """What kvm-arm-gic saves for a GIC at reset: no virtualization subsection, SGI
        enables of the existing vCPUs only, the last vCPU's own bit in ITARGETSR0-7 and
        KVM's minimum binary points (running_priority keeps QEMU's reset 0x100)."""
        img = cls(num_cpus, virt=False)
        for i in range(32):
            img.set("irq_target", i, 1 << (num_cpus - 1))
        for i in range(16):
            img.irq(i, enabled=(1 << num_cpus) - 1)
        for c in range(num_cpus):
            img.set("bpr", c, 2).set("abpr", c, 3)
        return img

    def irq(self, intid: int, **members: int) -> GicImage:
        base = GIC_FIELDS["irq_state"].offset + 7 * intid
        for name, value in members.items():
            self.main[base + MEMBERS[name]] = value
        return self

    def set(self, name: str, index: int, value: int) -> GicImage:
        f = GIC_FIELDS[name]
        struct.pack_into(">" + _FMT[f.size], self.main, f.offset + f.size * index, value)
        return self

    def get(self, name: str, index: int) -> int:
        f = GIC_FIELDS[name]
        value: int = struct.unpack_from(">" + _FMT[f.size], self.main, f.offset + f.size * index)[0]
        return value

    def vset(self, name: str, index: int, value: int) -> GicImage:
        assert self.virt is not None
        f = VIRT_FIELDS[name]
        struct.pack_into(">" + _FMT[f.size], self.virt, f.offset + f.size * index, value)
        return self

    def lr(self, cpu: int, n: int, value: int) -> GicImage:
        return self.vset("h_lr", n * NCPU + cpu, value)

    def section(self, *, section_id: int = 10, version: int = 12, virt_version: int = 1,
                footer: bytes | None = None, kind: int = 4) -> bytes:
        out = bytes([kind]) + be32(section_id) + b"\x07arm_gic" + be32(0) + be32(version)
        out += bytes(self.main)
        if self.virt is not None:
            out += b"\x05\x12arm_gic_virt_state" + be32(virt_version) + bytes(self.virt)
        return out + (footer if footer is not None else b"\x7e" + be32(section_id))


def be32(v: int) -> bytes:
    return struct.pack(">I", v)


def be64(v: int) -> bytes:
    return struct.pack(">Q", v)


PAGE = 4096
TIMER = {"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2,
         "fields": [{"name": "cpu_ticks_offset", "type": "int64", "size": 8},
                    {"name": "unused", "type": "unused_buffer", "size": 8},
                    {"name": "cpu_clock_offset", "type": "int64", "size": 8}]}
CPU = {"name": "cpu", "instance_id": 0, "vmsd_name": "cpu", "version": 22,
       "fields": [{"name": "env.regs", "array_len": 16, "type": "uint32", "size": 4}],
       "subsections": [{"vmsd_name": "cpu/vfp", "version": 3,
                        "fields": [{"name": "env.vfp.zregs", "array_len": 2,
                                    "type": "struct", "size": 16}]}]}


def ram_header(blocks: dict[str, int]) -> bytes:
    total = sum(blocks.values())
    out = be64(total | 0x04)
    for name, size in blocks.items():
        out += bytes([len(name)]) + name.encode() + be64(size)
    return out + be64(0x10)


def ram_pages(name: str, zero: int, data: int, start: int = 0) -> Iterator[bytes]:
    """`zero` zero pages then `data` data pages of block `name`, as RAM records."""
    addr = start
    first = True
    for k in range(zero + data):
        flags = (0x02 if k < zero else 0x08) | (0 if first else 0x20)
        rec = be64(addr | flags) + (bytes([len(name)]) + name.encode() if first else b"")
        rec += b"\x00" if k < zero else bytes([k & 0xFF]) * PAGE
        first = False
        addr += PAGE
        yield rec


def stream_parts(gic: bytes, *, machine: str = "virt-7.2", zero_pages: int = 64,
                 data_pages: int = 4, devices: bool = True, vmdesc: bool = True,
                 version: int = 3, gic_after: bool = False) -> Iterator[bytes]:
    yield b"QEVM" + be32(version)
    yield b"\x07" + be32(len(machine)) + machine.encode()
    yield b"\x05\x1econfiguration/target-page-bits" + be32(1) + be32(12)
    pages = zero_pages + data_pages
    yield b"\x01" + be32(2) + b"\x03ram" + be32(0) + be32(4)
    yield ram_header({"mach-virt.ram": pages * PAGE}) + b"\x7e" + be32(2)
    yield b"\x02" + be32(2)
    yield from ram_pages("mach-virt.ram", zero_pages, data_pages)
    yield be64(0x10) + b"\x7e" + be32(2)
    yield b"\x03" + be32(2) + be64(0x10) + b"\x7e" + be32(2)
    described = []
    if devices:
        yield b"\x04" + be32(3) + b"\x05timer" + be32(0) + be32(2) + bytes(24) + b"\x7e" + be32(3)
        yield (b"\x04" + be32(5) + b"\x03cpu" + be32(0) + be32(22) + bytes(64)
               + b"\x05\x07cpu/vfp" + be32(3) + bytes(32) + b"\x7e" + be32(5))
        described = [TIMER, CPU]
    if not gic_after:
        yield gic
    yield b"\x00"
    if vmdesc:
        doc = json.dumps({"page_size": PAGE, "devices": described}).encode()
        yield b"\x06" + be32(len(doc)) + doc


def stream(gic: bytes, **kw: object) -> bytes:
    return b"".join(stream_parts(gic, **kw))  # type: ignore[arg-type]


class LazyStream(io.RawIOBase):
    """A non-seekable file object producing a stream part by part (never all in memory)."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self.parts = parts
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray) -> int:  # type: ignore[override]
        while not self.pending:
            try:
                self.pending = next(self.parts)
            except StopIteration:
                return 0
        n = min(len(buf), len(self.pending))
        buf[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n
