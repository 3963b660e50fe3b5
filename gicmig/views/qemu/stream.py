"""Reading a QEMU migration stream (format 3) just far enough to get its `arm_gic` section.

The stream is walked by its framing (shared/qemu/README.md, "Finding and decoding the
section"): the configuration record, the RAM sections record by record, COMMAND records,
and every other device section field by field as the stream's trailing vmdesc JSON
describes it (device sections carry no length). Where the framing cannot be followed (no
vmdesc or a non-seekable input, an unknown iterative section, a RAM record gicmig does not
know), the rest of the stream is searched for the `arm_gic` section header, which must
then end in its own footer. The input is read in bounded chunks and never held whole:
memory does not grow with the size of the RAM sections.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from gicmig.errors import DecodeError, GicmigError

MAGIC = b"QEVM"
STREAM_VERSION = 3
GIC_IDSTR = "arm_gic"
GIC_VERSION = 12
VIRT_SUBSECTION = "arm_gic_virt_state"
VIRT_VERSION = 1
NCPU = 8  # GIC_NCPU: every per-CPU array of the vmstate has 8 slots
MAXIRQ = 1020  # GIC_MAXIRQ
MAX_LR = 64  # GIC_MAX_LR

# record types (migration/savevm.c)
EOF_MARK, START, PART, END, FULL, SUBSECTION, VMDESC, CONFIGURATION, COMMAND = range(9)
FOOTER = 0x7E

# RAM record flags (migration/ram.c, `ram` version 4)
RAM_ZERO, RAM_MEM_SIZE, RAM_PAGE, RAM_EOS, RAM_CONTINUE = 0x02, 0x04, 0x08, 0x10, 0x20
RAM_XBZRLE, RAM_COMPRESS, RAM_MULTIFD_FLUSH = 0x40, 0x100, 0x200
RAM_VERSION = 4
ARM_MIN_PAGE_BITS = 10  # TARGET_PAGE_BITS_MIN of ARM: the page size when none is recorded

CHUNK = 1 << 20  # read size; the only buffer that scales is at most one chunk + a page
MAX_NAME = 4096  # longest machine type name accepted in the configuration record
MAX_VMDESC = 16 << 20  # the trailing vmdesc is read only if it fits in this many bytes


@dataclass(frozen=True)
class VmField:
    """One field of a vmstate description as the stream holds it: `count` big-endian
    elements of `size` bytes at `offset` of its (sub)section."""

    name: str
    offset: int
    size: int
    count: int

    @property
    def end(self) -> int:
        return self.offset + self.size * self.count


def _layout(*fields: tuple[str, int, int]) -> dict[str, VmField]:
    out: dict[str, VmField] = {}
    offset = 0
    for name, size, count in fields:
        out[name] = VmField(name, offset, size, count)
        offset += size * count
    return out


# `arm_gic` v12 (hw/intc/arm_gic_common.c, vmstate_gic); README "arm_gic vmstate".
# irq_state is 1020 x 7 bytes: enabled, pending, active, level, model, edge_trigger, group.
GIC_FIELDS = _layout(
    ("ctlr", 4, 1), ("cpu_ctlr", 4, NCPU), ("irq_state", 7, MAXIRQ), ("irq_target", 1, MAXIRQ),
    ("priority1", 1, 32 * NCPU), ("priority2", 1, MAXIRQ - 32), ("sgi_pending", 1, 16 * NCPU),
    ("priority_mask", 2, NCPU), ("running_priority", 2, NCPU), ("current_pending", 2, NCPU),
    ("bpr", 1, NCPU), ("abpr", 1, NCPU), ("apr", 4, 4 * NCPU), ("nsapr", 4, 4 * NCPU),
)
IRQ_STATE_MEMBERS = ("enabled", "pending", "active", "level", "model", "edge_trigger", "group")
# `arm_gic_virt_state` v1: element c of the per-CPU arrays is vCPU c (QEMU's index c + 8)
VIRT_FIELDS = _layout(
    ("h_hcr", 4, NCPU), ("h_misr", 4, NCPU), ("h_lr", 4, MAX_LR * NCPU), ("h_apr", 4, NCPU),
    ("cpu_ctlr", 4, NCPU), ("priority_mask", 2, NCPU), ("running_priority", 2, NCPU),
    ("current_pending", 2, NCPU), ("bpr", 1, NCPU), ("abpr", 1, NCPU),
)
GIC_SIZE = GIC_FIELDS["nsapr"].end  # 9888
VIRT_SIZE = VIRT_FIELDS["abpr"].end  # 2240

_INT = {1: "B", 2: "H", 4: "I"}


def unpack(data: bytes, f: VmField) -> tuple[int, ...]:
    """The elements of field `f` in `data` (its section's bytes), as integers."""
    return struct.unpack_from(f">{f.count}{_INT[f.size]}", data, f.offset)


@dataclass(frozen=True)
class ArmGicSection:
    """The `arm_gic` section of a stream: its raw field bytes and where it was found."""

    main: bytes  # the 9888 bytes of the section's own fields
    virt: bytes | None  # the 2240 bytes of `arm_gic_virt_state`, if the stream has it
    section_id: int
    instance_id: int
    offset: int  # byte offset of the section's record in the stream
    machine: str | None  # the machine type the configuration record names, e.g. "virt-7.2"
    located_by: str  # "framing", "vmdesc" or "search"
    search_reason: str | None = None  # why the framing walk stopped, when located_by is search

    def field(self, name: str) -> tuple[int, ...]:
        return unpack(self.main, GIC_FIELDS[name])

    def raw(self, name: str) -> bytes:
        f = GIC_FIELDS[name]
        return self.main[f.offset:f.end]

    def virt_field(self, name: str) -> tuple[int, ...]:
        if self.virt is None:
            raise KeyError(f"{name}: the stream has no {VIRT_SUBSECTION} subsection")
        return unpack(self.virt, VIRT_FIELDS[name])

    def virt_raw(self, name: str) -> bytes:
        if self.virt is None:
            raise KeyError(f"{name}: the stream has no {VIRT_SUBSECTION} subsection")
        f = VIRT_FIELDS[name]
        return self.virt[f.offset:f.end]


_MAX_WINDOW = 2048  # records examined per strided slice


@functools.cache
def _without(mask: int) -> bytes:
    """The byte values that have no bit of `mask` (for `bytes.translate` deletion)."""
    return bytes(b for b in range(256) if not b & mask)


class _Unwalkable(Exception):
    """The framing walk cannot continue past this point (switch to the header search)."""


def _err(code: str, message: str, offset: int | None) -> DecodeError:
    return DecodeError(code, message, offset=offset)


class _Input:
    """A bounded, forward-only window over a binary file object."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.buf = b""
        self.pos = 0
        self.base = 0  # stream offset of buf[0]
        self.where = "the stream header"  # what is being read, for truncation messages
        self.size: int | None = None  # total size, when the input is seekable
        self.start = 0
        try:
            if f.seekable():
                self.start = f.tell()
                self.size = f.seek(0, io.SEEK_END) - self.start
                f.seek(self.start)
        except (OSError, ValueError):
            self.size = None

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _read(self, n: int) -> bytes:
        if self.size is not None:  # never ask for more than is left: read() allocates n
            n = max(1, min(n, self.size - self.base - len(self.buf)))
        try:
            data = self.f.read(n)
        except OSError as exc:
            raise GicmigError("IO-READ", f"cannot read the stream: {exc}") from None
        return data or b""

    def _fill(self, n: int) -> bool:
        """Make n bytes available at pos; False at the end of the stream."""
        if len(self.buf) - self.pos >= n:
            return True
        rest = self.buf[self.pos:]
        self.base += self.pos
        self.pos = 0
        parts = [rest] if rest else []
        have = len(rest)
        while have < n:
            data = self._read(CHUNK)
            if not data:
                break
            parts.append(data)
            have += len(data)
        self.buf = parts[0] if len(parts) == 1 else b"".join(parts)
        return have >= n

    def truncated(self, n: int) -> DecodeError:
        end = self.base + len(self.buf)
        return _err("QEMU-TRUNCATED",
                    f"the stream ends at byte {end} inside {self.where} "
                    f"({n} bytes needed from byte {self.offset})", end)

    def take(self, n: int) -> bytes:
        if not self._fill(n):
            raise self.truncated(n)
        data = self.buf[self.pos:self.pos + n]
        self.pos += n
        return data

    def u8(self) -> int:
        return self.take(1)[0]

    def be32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def be64(self) -> int:
        value: int = struct.unpack(">Q", self.take(8))[0]
        return value

    def string(self) -> str:
        return self.take(self.u8()).decode("latin-1")

    def peek(self) -> int | None:
        return self.buf[self.pos] if self._fill(1) else None

    def skip(self, n: int) -> None:
        if len(self.buf) - self.pos >= n:
            self.pos += n
            return
        n -= len(self.buf) - self.pos
        self.base += len(self.buf)
        self.buf, self.pos = b"", 0
        if self.size is not None:
            if self.base + n > self.size:
                self.base = self.size
                raise self.truncated(n)
            self.f.seek(self.start + self.base + n)
            self.base += n
            return
        while n:
            data = self._read(min(n, CHUNK))
            if not data:
                raise self.truncated(n)
            n -= len(data)
            self.base += len(data)

    def run(self, flag: int, size: int, mask6: int) -> int:
        """How many records of `size` bytes whose flag byte (byte 7) is `flag` and whose
        byte 6 has no bit of `mask6` follow in the buffer: skips them and returns the count.
        Strided slicing keeps the walk of millions of zero-page records in C."""
        total = 0
        window = 16
        want = bytes([flag])
        while True:
            avail = (len(self.buf) - self.pos) // size
            if not avail:
                return total
            n = min(window, avail)
            p = self.pos + 7
            flags = self.buf[p:p + n * size:size]
            same = n - len(flags.lstrip(want))
            if same and mask6:
                low = self.buf[p - 1:p - 1 + same * size:size]
                if low.translate(None, _without(mask6)):
                    same = next(k for k, b in enumerate(low) if b & mask6)
            self.pos += same * size
            total += same
            if same < n:
                return total
            window = min(window * 4, _MAX_WINDOW)  # bounded: a run's end costs one window

    def search(self, pattern: re.Pattern[bytes], keep: int) -> re.Match[bytes] | None:
        """Advance to the next match of `pattern` (at most `keep` bytes long)."""
        while True:
            m = pattern.search(self.buf, self.pos)
            if m:
                self.pos = m.start()
                return m
            drop = max(self.pos, len(self.buf) - keep)
            self.base += drop
            self.buf, self.pos = self.buf[drop:], 0
            data = self._read(CHUNK)
            if not data:
                self.pos = len(self.buf)
                return None
            self.buf += data

    def tail(self, limit: int) -> tuple[int, bytes] | None:
        """The last `limit` bytes (offset, data) of a seekable input, leaving the window as
        it was; None when the input cannot seek."""
        if self.size is None:
            return None
        start = max(0, self.size - limit)
        here = self.f.tell()
        try:
            self.f.seek(self.start + start)
            data = self.f.read(self.size - start) or b""
        finally:
            self.f.seek(here)
        return start, data


@dataclass
class _Walk:
    """State of the framing walk."""

    inp: _Input
    machine: str | None = None
    page_size: int = 1 << ARM_MIN_PAGE_BITS
    page_bits_known: bool = False
    capabilities: tuple[str, ...] = ()
    sections: dict[int, tuple[str, int]] = field(default_factory=dict)  # id -> (idstr, version)
    vmdesc: list[dict[str, Any]] | None = None
    vmdesc_tried: bool = False
    vmdesc_next: int = 0
    used_vmdesc: bool = False


def read_arm_gic(source: str | os.PathLike[str] | IO[bytes]) -> ArmGicSection:
    """Find and read the `arm_gic` section of a QEMU migration stream.

    `source` is a path or a binary file object (read from its current position; it need
    not be seekable, but without seeking the vmdesc cannot be used). Raises `DecodeError`
    with a QEMU-* reason code when the stream is not one gicmig can read.
    """
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                return _read(_Input(f))
        except OSError as exc:
            raise GicmigError("IO-READ",
                              f"cannot read {source}: {exc.strerror or exc}") from None
    return _read(_Input(source))


def _read(inp: _Input) -> ArmGicSection:
    inp._fill(8)
    head = inp.buf[:8]
    if head[:4] != MAGIC:
        raise _err("QEMU-NOT-A-STREAM",
                   f"the input does not start with the QEMU stream magic 'QEVM' "
                   f"(found {head[:4].hex() or 'nothing'})", 0)
    if len(head) < 8:
        raise inp.truncated(8)
    inp.take(4)
    version = inp.be32()
    if version != STREAM_VERSION:
        raise _err("QEMU-STREAM-VERSION",
                   f"stream format version {version}; gicmig reads version {STREAM_VERSION}", 4)
    walk = _Walk(inp)
    try:
        return _walk(walk)
    except _Unwalkable as why:
        return _search(walk, str(why))


def _walk(w: _Walk) -> ArmGicSection:
    inp = w.inp
    while True:
        inp.where = "the record list"
        at = inp.offset
        kind = inp.peek()
        if kind is None:
            raise _err("QEMU-TRUNCATED",
                       f"the stream ends at byte {at} before its end-of-state record "
                       "and before any arm_gic section", at)
        inp.take(1)
        if kind == CONFIGURATION:
            _configuration(w)
        elif kind in (START, FULL):
            section_id = inp.be32()
            idstr = inp.string()
            instance, version = inp.be32(), inp.be32()
            w.sections[section_id] = (idstr, version)
            if idstr == GIC_IDSTR:
                return _gic(w, at, kind, section_id, instance, version)
            _section_body(w, idstr, version, section_id, instance, kind)
        elif kind in (PART, END):
            section_id = inp.be32()
            if section_id not in w.sections:
                raise _Unwalkable(f"a section part at byte {at} names section {section_id}, "
                                  "which never started")
            idstr, version = w.sections[section_id]
            _section_body(w, idstr, version, section_id, None, kind)
        elif kind == COMMAND:
            inp.where = "a command record"
            inp.take(2)
            inp.skip(struct.unpack(">H", inp.take(2))[0])
        elif kind == EOF_MARK:
            raise _err("QEMU-NO-ARM-GIC",
                       f"the stream's device state ends at byte {at} without an arm_gic "
                       "section (not an ARM GICv2 machine, or a GICv3 one)", at)
        else:
            raise _Unwalkable(f"record type {kind:#04x} at byte {at} is not one gicmig knows")


def _configuration(w: _Walk) -> None:
    inp = w.inp
    inp.where = "the configuration record"
    at, length = inp.offset, inp.be32()
    if length > MAX_NAME:
        raise _err("QEMU-FRAMING", f"the configuration names a machine of {length} bytes", at)
    w.machine = inp.take(length).decode("latin-1")
    while inp.peek() == SUBSECTION:
        inp.take(1)
        name = inp.string()
        inp.be32()
        if name == "configuration/target-page-bits":
            w.page_size = 1 << inp.be32()
            w.page_bits_known = True
        elif name == "configuration/capabilities":
            w.capabilities = tuple(inp.string() for _ in range(inp.be32()))
        elif name == "configuration/uuid":
            inp.take(16)
        else:
            raise _Unwalkable(f"the configuration has a subsection {name!r} gicmig cannot skip")


def _section_body(w: _Walk, idstr: str, version: int, section_id: int,
                  instance: int | None, kind: int) -> None:
    inp = w.inp
    inp.where = f"section {idstr!r}"
    if idstr == "ram":
        if version != RAM_VERSION:
            raise _Unwalkable(f"the ram section has version {version}, gicmig walks {RAM_VERSION}")
        _ram(w)
    elif kind == FULL and instance is not None:
        _described(w, idstr, instance)
    else:
        raise _Unwalkable(f"iterative section {idstr!r} has no layout gicmig knows")
    _footer(inp, section_id, idstr, "QEMU-FRAMING")


def _footer(inp: _Input, section_id: int, idstr: str, code: str) -> None:
    at = inp.offset
    mark = inp.u8()
    got = inp.be32() if mark == FOOTER else None
    if mark != FOOTER or got != section_id:
        found = f"{mark:#04x}" if got is None else f"footer of section {got}"
        message = (f"section {idstr!r} (id {section_id}) is not followed by its footer "
                   f"0x7e {section_id:#010x} (found {found})")
        if code == "QEMU-FRAMING":
            raise _Unwalkable(message)
        raise _err(code, message, at)


def _ram(w: _Walk) -> None:
    inp = w.inp
    if not w.page_bits_known and w.vmdesc is None:
        _load_vmdesc(w)
    mask = w.page_size - 1
    mask6 = (mask >> 8) & 0xFF
    while True:
        at = inp.offset
        header = inp.be64()
        flags = header & mask
        kind = flags & ~RAM_CONTINUE
        if kind in (RAM_ZERO, RAM_PAGE, RAM_XBZRLE, RAM_COMPRESS) and not flags & RAM_CONTINUE:
            inp.take(inp.u8())
        if kind == RAM_ZERO:
            inp.take(1)
            inp.run(RAM_ZERO | RAM_CONTINUE, 9, mask6)
        elif kind == RAM_PAGE:
            inp.skip(w.page_size)
            inp.run(RAM_PAGE | RAM_CONTINUE, 8 + w.page_size, mask6)
        elif kind == RAM_EOS:
            return
        elif kind == RAM_MEM_SIZE:
            _ram_blocks(w, header & ~mask, at)
        elif kind == RAM_COMPRESS:
            inp.skip(inp.be32())
        elif kind == RAM_XBZRLE:
            inp.take(1)
            inp.skip(struct.unpack(">H", inp.take(2))[0])
        elif kind == RAM_MULTIFD_FLUSH:
            continue
        else:
            raise _Unwalkable(f"RAM record flags {flags:#x} at byte {at} are not ones gicmig "
                              "can walk")


def _ram_blocks(w: _Walk, total: int, at: int) -> None:
    if {"postcopy-ram", "x-ignore-shared"} & set(w.capabilities):
        raise _Unwalkable("the RAM block list depends on migration capabilities "
                          f"{', '.join(w.capabilities)}")
    inp = w.inp
    seen = 0
    while seen < total:
        inp.take(inp.u8())
        seen += inp.be64()
    if seen != total:
        raise _Unwalkable(f"the RAM block list at byte {at} adds up to {seen}, not {total}")


# --- device sections described by the trailing vmdesc -----------------------------------------
_VMDESC_HEAD = re.compile(rb"\x00\x06(.{4})\{", re.DOTALL)


def _load_vmdesc(w: _Walk) -> None:
    """Read the vmdesc JSON at the end of a seekable stream (once)."""
    if w.vmdesc_tried:
        return
    w.vmdesc_tried = True
    limit = 64 << 10
    while True:
        found = w.inp.tail(limit)
        if found is None:
            return
        start, data = found
        if _parse_vmdesc(w, data) or start == 0 or limit >= MAX_VMDESC:
            return
        limit *= 8


def _parse_vmdesc(w: _Walk, data: bytes) -> bool:
    """Use the vmdesc that ends `data`; False when `data` does not hold its start."""
    for m in _VMDESC_HEAD.finditer(data):
        length = struct.unpack(">I", m.group(1))[0]
        if m.end() - 1 + length == len(data):
            try:
                doc = json.loads(data[m.end() - 1:])
                devices = doc["devices"]
                if not isinstance(devices, list):
                    raise TypeError("devices is not a list")
            except (ValueError, KeyError, TypeError, RecursionError):
                return True  # a vmdesc that cannot be used: walk without it
            w.vmdesc = devices
            size = doc.get("page_size")
            if not w.page_bits_known and isinstance(size, int) and size > 0:
                w.page_size = size
                w.page_bits_known = True
            return True
    return False


def _described(w: _Walk, idstr: str, instance: int) -> None:
    _load_vmdesc(w)
    if w.vmdesc is None:
        why = "the stream has no vmdesc" if w.inp.size is not None else "the input cannot seek"
        raise _Unwalkable(f"device section {idstr!r} has no length and {why}, so it cannot "
                          "be skipped field by field")
    for k in range(w.vmdesc_next, len(w.vmdesc)):
        dev = w.vmdesc[k]
        if isinstance(dev, dict) and dev.get("name") == idstr and \
                dev.get("instance_id") == instance:
            w.vmdesc_next = k + 1
            w.used_vmdesc = True
            try:
                _skip_fields(w.inp, dev)
            except (TypeError, ValueError, KeyError) as exc:
                raise _Unwalkable(f"the vmdesc entry of {idstr!r} is malformed ({exc})") from None
            return
    raise _Unwalkable(f"the vmdesc does not describe section {idstr!r} instance {instance}")


def _skip_fields(inp: _Input, desc: dict[str, Any]) -> None:
    total = 0
    for f in desc.get("fields", []):
        count, size = f.get("array_len", 1), f["size"]
        if not (isinstance(count, int) and isinstance(size, int)) or count < 0 or size < 0:
            raise ValueError(f"field {f.get('name')!r} has no usable size")
        total += count * size
    inp.skip(total)
    for sub in desc.get("subsections", []):
        at = inp.offset
        if inp.u8() != SUBSECTION:
            raise _Unwalkable(f"subsection {sub.get('vmsd_name')!r} expected at byte {at}")
        name = inp.string()
        inp.be32()
        if name != sub.get("vmsd_name"):
            raise _Unwalkable(f"subsection {name!r} at byte {at}, the vmdesc names "
                              f"{sub.get('vmsd_name')!r}")
        _skip_fields(inp, sub)


# --- the arm_gic section itself ---------------------------------------------------------------
def _gic(w: _Walk, at: int, kind: int, section_id: int, instance: int, version: int,
         located_by: str | None = None, reason: str | None = None) -> ArmGicSection:
    inp = w.inp
    if kind != FULL:
        raise _err("QEMU-FRAMING", f"arm_gic is sent as an iterative section at byte {at}", at)
    if version != GIC_VERSION:
        raise _err("QEMU-GIC-VERSION",
                   f"the arm_gic section has version {version}; gicmig reads version "
                   f"{GIC_VERSION} (QEMU 3.0 and later)", at)
    inp.where = "section 'arm_gic'"
    main = inp.take(GIC_SIZE)
    virt = None
    if inp.peek() == SUBSECTION:
        sub_at = inp.offset
        inp.take(1)
        name = inp.string()
        sub_version = inp.be32()
        if name != VIRT_SUBSECTION:
            raise _err("QEMU-FOOTER-MISMATCH",
                       f"the arm_gic section holds a subsection {name!r}; QEMU 7.2 writes "
                       f"only {VIRT_SUBSECTION!r}", sub_at)
        if sub_version != VIRT_VERSION:
            raise _err("QEMU-GIC-VERSION",
                       f"subsection {VIRT_SUBSECTION!r} has version {sub_version}; gicmig "
                       f"reads version {VIRT_VERSION}", sub_at)
        inp.where = f"subsection {VIRT_SUBSECTION!r}"
        virt = inp.take(VIRT_SIZE)
    inp.where = "the footer of section 'arm_gic'"
    _footer(inp, section_id, GIC_IDSTR, "QEMU-FOOTER-MISMATCH")
    how = located_by or ("vmdesc" if w.used_vmdesc else "framing")
    return ArmGicSection(main, virt, section_id, instance, at, w.machine, how, reason)


_GIC_HEAD = re.compile(rb"[\x01\x04](.{4})\x07arm_gic(.{4})(.{4})", re.DOTALL)


def _search(w: _Walk, reason: str) -> ArmGicSection:
    """From where the walk stopped, find the arm_gic header and read the section."""
    inp = w.inp
    start = inp.offset
    first_error: GicmigError | None = None
    while True:
        inp.where = "the search for the arm_gic section"
        m = inp.search(_GIC_HEAD, 24)
        if m is None:
            if first_error is not None:
                raise first_error
            raise _err("QEMU-NO-ARM-GIC",
                       f"no arm_gic section header in the stream after byte {start} "
                       f"(searched because {reason})", start)
        at = inp.offset
        kind = inp.u8()
        section_id, _, instance, version = (inp.be32(), inp.take(8), inp.be32(), inp.be32())
        try:
            return _gic(w, at, kind, section_id, instance, version, "search", reason)
        except DecodeError as exc:
            if exc.code != "QEMU-FOOTER-MISMATCH":
                raise
            # a header look-alike inside other data: keep looking after it
            first_error = first_error or exc
            if inp.base <= at:
                inp.pos = at - inp.base + 1


def describe(section: ArmGicSection) -> Iterator[tuple[str, str]]:
    """Facts about the section and where it was found, as (key, text) for reports."""
    yield "machine", section.machine or "(not recorded)"
    yield "section", f"arm_gic id {section.section_id} instance {section.instance_id} " \
                     f"at byte {section.offset}"
    yield "virtualization_extensions", "yes" if section.virt is not None else "no"
    how = section.located_by
    if section.search_reason:
        how += f" ({section.search_reason})"
    yield "located_by", how
