"""The vmdesc JSON QEMU appends to a stream: which device sections it holds and their
fields' sizes, used to skip the sections before `arm_gic` without knowing them."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from gicmig.errors import GicmigError
from gicmig.limits import is_int, loads_json
from gicmig.views.qemu.framing import (
    ARM_MIN_PAGE_BITS,
    EOF_MARK,
    MAX_PAGE_BITS,
    MAX_VMDESC,
    SUBSECTION,
    VMDESC,
    Walk,
)
from gicmig.views.qemu.source import StreamInput, Unwalkable

# --- device sections described by the trailing vmdesc -----------------------------------------
ARM_PAGE_SIZES = frozenset(1 << b for b in range(ARM_MIN_PAGE_BITS, MAX_PAGE_BITS + 1))
# the vmdesc record: QEMU_VM_EOF, QEMU_VM_VMDESCRIPTION, a be32 length, then the JSON '{'
_VMDESC_KIND, _HEAD_SIZE = bytes([VMDESC]), 7


def _heads(data: bytes) -> Iterator[int]:
    """Where `\\x00\\x06 len(4) {` starts in `data`, in order and not overlapping (as
    `re.finditer` would find them), found by `bytes.find` of the rare 0x06 byte: a regex
    scan for its \\x00 prefix costs ~0.9 M instructions over the 64 KiB of zero-rich RAM
    records before a vmdesc, this ~0.2 M."""
    at = data.find(_VMDESC_KIND, 1)
    while at >= 0:
        start = at - 1
        if data[start] == EOF_MARK and data[start + _HEAD_SIZE - 1:start + _HEAD_SIZE] == b"{":
            yield start
            at = data.find(_VMDESC_KIND, start + _HEAD_SIZE + 1)
        else:
            at = data.find(_VMDESC_KIND, at + 1)


def load_vmdesc(w: Walk) -> None:
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


def _parse_vmdesc(w: Walk, data: bytes) -> bool:
    """Use the vmdesc that ends `data`; False when `data` does not hold its start. A
    look-alike head in RAM data before the real one (its length reaching the end) spans
    the real head's raw 0x00, so it fails to parse: the later heads are tried."""
    unusable = False
    for start in _heads(data):
        json_at = start + _HEAD_SIZE - 1
        length = struct.unpack_from(">I", data, start + 2)[0]
        if json_at + length == len(data):
            try:
                # a hint whose lies the walk meets anyway; QEMU never reads it back
                doc = loads_json(data[json_at:], unique_keys=False)
                devices = doc["devices"]
                if not isinstance(devices, list):
                    raise TypeError("devices is not a list")
            except (ValueError, KeyError, TypeError, RecursionError):
                unusable = True  # a look-alike, or a vmdesc that cannot be used
                continue
            w.vmdesc = devices
            size = doc.get("page_size")
            if not w.page_bits_known and is_int(size) and size in ARM_PAGE_SIZES:
                w.page_size = size
                w.page_bits_known = True
            return True
    return unusable  # True: none of them can be used, walk without a vmdesc


def described(w: Walk, idstr: str, instance: int) -> None:
    load_vmdesc(w)
    if w.vmdesc is None:
        why = "the stream has no vmdesc" if w.inp.size is not None else "the input cannot seek"
        raise Unwalkable(f"device section {idstr!r} has no length and {why}, so it cannot "
                          "be skipped field by field")
    for k in range(w.vmdesc_next, len(w.vmdesc)):
        dev = w.vmdesc[k]
        if isinstance(dev, dict) and dev.get("name") == idstr and \
                is_int(dev.get("instance_id")) and dev["instance_id"] == instance:
            w.vmdesc_next = k + 1
            w.used_vmdesc = True
            try:
                _skip_fields(w.inp, dev)
            except GicmigError:
                raise  # the stream itself (truncated, unreadable): not the vmdesc's fault
            except (TypeError, ValueError, KeyError, RecursionError) as exc:
                raise Unwalkable(f"the vmdesc entry of {idstr!r} is malformed ({exc})") from None
            return
    raise Unwalkable(f"the vmdesc does not describe section {idstr!r} instance {instance}")


_DICT = {dict}


def _entries(desc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """desc[key] as a list of objects (the vmdesc is input: anything else is malformed)."""
    items = desc.get(key, [])
    if type(items) is not list or not set(map(type, items)) <= _DICT:  # loads_json: plain dicts
        raise ValueError(f"{key!r} is not a list of objects")
    return items


def _skip_fields(inp: StreamInput, desc: dict[str, Any]) -> None:
    total = 0
    for f in _entries(desc, "fields"):
        count, size = f.get("array_len", 1), f["size"]
        if type(count) is not int or type(size) is not int or count < 0 or size < 0:  # is_int
            raise ValueError(f"field {f.get('name')!r} has no usable size")
        total += count * size
    inp.skip(total)
    for sub in _entries(desc, "subsections"):
        at = inp.offset
        if inp.u8() != SUBSECTION:
            raise Unwalkable(f"subsection {sub.get('vmsd_name')!r} expected at byte {at}")
        name = inp.string()
        inp.be32()
        if name != sub.get("vmsd_name"):
            raise Unwalkable(f"subsection {name!r} at byte {at}, the vmdesc names "
                              f"{sub.get('vmsd_name')!r}")
        _skip_fields(inp, sub)
