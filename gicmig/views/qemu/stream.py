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

import os
import re
import struct
from collections.abc import Iterator
from typing import IO

from gicmig.errors import DecodeError, GicmigError
from gicmig.views.qemu.framing import (
    ARM_MIN_PAGE_BITS,
    COMMAND,
    CONFIGURATION,
    END,
    EOF_MARK,
    FOOTER,
    FULL,
    MAGIC,
    MAX_CAPABILITIES,
    MAX_NAME,
    MAX_PAGE_BITS,
    PART,
    RAM_COMPRESS,
    RAM_CONTINUE,
    RAM_EOS,
    RAM_MEM_SIZE,
    RAM_MULTIFD_FLUSH,
    RAM_PAGE,
    RAM_VERSION,
    RAM_XBZRLE,
    RAM_ZERO,
    START,
    STREAM_VERSION,
    SUBSECTION,
    Walk,
)
from gicmig.views.qemu.source import StreamInput, Unwalkable
from gicmig.views.qemu.source import stream_error as _err
from gicmig.views.qemu.vmdesc import described, load_vmdesc
from gicmig.views.qemu.vmstate import (
    GIC_IDSTR,
    GIC_SIZE,
    GIC_VERSION,
    VIRT_SIZE,
    VIRT_SUBSECTION,
    VIRT_VERSION,
    ArmGicSection,
)


def read_arm_gic(source: str | os.PathLike[str] | IO[bytes]) -> ArmGicSection:
    """Find and read the `arm_gic` section of a QEMU migration stream.

    `source` is a path or a binary file object (read from its current position; it need
    not be seekable, but without seeking the vmdesc cannot be used). Raises `DecodeError`
    with a QEMU-* reason code when the stream is not one gicmig can read.
    """
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                return _read(StreamInput(f))
        except GicmigError:
            raise  # a FileError is an OSError too: it already names what failed
        except OSError as exc:
            raise GicmigError("IO-READ",
                              f"cannot read {source}: {exc.strerror or exc}") from None
    return _read(StreamInput(source))


def _read(inp: StreamInput) -> ArmGicSection:
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
    walk = Walk(inp)
    try:
        return _walk(walk)
    except Unwalkable as why:
        return _search(walk, str(why))


def _walk(w: Walk) -> ArmGicSection:
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
                raise Unwalkable(f"a section part at byte {at} names section {section_id}, "
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
            raise Unwalkable(f"record type {kind:#04x} at byte {at} is not one gicmig knows")


def _configuration(w: Walk) -> None:
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
        at = inp.offset
        if name == "configuration/target-page-bits":
            bits = inp.be32()
            if not ARM_MIN_PAGE_BITS <= bits <= MAX_PAGE_BITS:
                raise _err("QEMU-FRAMING", f"the configuration's target-page-bits is {bits}, "
                           f"not an ARM page size ({ARM_MIN_PAGE_BITS}..{MAX_PAGE_BITS})", at)
            w.page_size = 1 << bits
            w.page_bits_known = True
        elif name == "configuration/capabilities":
            count = inp.be32()
            if count > MAX_CAPABILITIES:
                raise _err("QEMU-FRAMING", f"the configuration lists {count} migration "
                           f"capabilities (at most {MAX_CAPABILITIES})", at)
            w.capabilities = tuple(inp.string() for _ in range(count))
        elif name == "configuration/uuid":
            inp.take(16)
        else:
            raise Unwalkable(f"the configuration has a subsection {name!r} gicmig cannot skip")


def _section_body(w: Walk, idstr: str, version: int, section_id: int,
                  instance: int | None, kind: int) -> None:
    inp = w.inp
    inp.where = f"section {idstr!r}"
    if idstr == "ram":
        if version != RAM_VERSION:
            raise Unwalkable(f"the ram section has version {version}, gicmig walks {RAM_VERSION}")
        _ram(w)
    elif kind == FULL and instance is not None:
        described(w, idstr, instance)
    else:
        raise Unwalkable(f"iterative section {idstr!r} has no layout gicmig knows")
    _footer(inp, section_id, idstr, "QEMU-FRAMING")


def _footer(inp: StreamInput, section_id: int, idstr: str, code: str) -> None:
    at = inp.offset
    mark = inp.u8()
    got = inp.be32() if mark == FOOTER else None
    if mark != FOOTER or got != section_id:
        found = f"{mark:#04x}" if got is None else f"footer of section {got}"
        message = (f"section {idstr!r} (id {section_id}) is not followed by its footer "
                   f"0x7e {section_id:#010x} (found {found})")
        if code == "QEMU-FRAMING":
            raise Unwalkable(message)
        raise _err(code, message, at)


def _ram(w: Walk) -> None:
    inp = w.inp
    if not w.page_bits_known and w.vmdesc is None:
        load_vmdesc(w)
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
            raise Unwalkable(f"RAM record flags {flags:#x} at byte {at} are not ones gicmig "
                              "can walk")


def _ram_blocks(w: Walk, total: int, at: int) -> None:
    if {"postcopy-ram", "x-ignore-shared"} & set(w.capabilities):
        raise Unwalkable("the RAM block list depends on migration capabilities "
                          f"{', '.join(w.capabilities)}")
    inp = w.inp
    seen = 0
    while seen < total:
        inp.take(inp.u8())
        seen += inp.be64()
    if seen != total:
        raise Unwalkable(f"the RAM block list at byte {at} adds up to {seen}, not {total}")


# --- the arm_gic section itself ---------------------------------------------------------------
def _gic(w: Walk, at: int, kind: int, section_id: int, instance: int, version: int,
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
# the most bytes one candidate section spans: header, fields, a subsection (its name up
# to 255 bytes), footer
_CANDIDATE = 21 + GIC_SIZE + 2 + 255 + 4 + VIRT_SIZE + 5


def _search(w: Walk, reason: str) -> ArmGicSection:
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
        # hold the whole candidate, so that the search can always go back to the byte
        # after its header: from a file or a pipe, whatever the chunk boundaries
        inp._fill(_CANDIDATE)
        try:
            kind = inp.u8()
            section_id, _, instance, version = (inp.be32(), inp.take(8), inp.be32(),
                                                inp.be32())
            return _gic(w, at, kind, section_id, instance, version, "search", reason)
        except DecodeError as exc:
            # a header look-alike inside other data (guest RAM, device registers), whatever
            # is wrong with it: keep looking after it; report it only if nothing follows
            first_error = first_error or exc
            if inp.base <= at:  # always, having held the candidate
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
