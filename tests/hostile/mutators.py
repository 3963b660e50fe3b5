"""Structure-aware, seeded mutators of real inputs (not only byte flips).

* JSON (`mutate_json`): a value replaced by a boundary integer, a huge digit string, a
  wrong type, a deep nesting, a long string, a lone surrogate, NaN; a key deleted, added,
  duplicated or renamed (also to text with a newline); a list emptied, shortened or grown;
  then, rarely, the text itself truncated, prefixed with a BOM or re-encoded.
* protobuf (`mutate_protobuf`): the wire format parsed into fields, then a varint set to a
  boundary or over-long, a length prefix lied about, an unknown field added, a field
  duplicated or given another wire type, packed repeated fields unpacked and back.
* blobs (`mutate_blob`): envelope header fields set to boundaries (with the header CRC
  recomputed, so the mutation reaches the next check), or a mutated payload re-wrapped.
* QEMU streams (`StreamMap`, `mutate_stream`): the fields the framing and vmstate decoder
  actually read, recorded from a real read (section ids, name lengths, counts, sizes,
  subsection markers), set to boundaries; the trailing vmdesc JSON mutated as JSON and
  re-framed; truncation at a field boundary.

Every mutator takes a `random.Random` (or hypothesis's `st.randoms()`, which shrinks), so a
case is reproduced by its seed.
"""

from __future__ import annotations

import json
import random
import struct
from dataclasses import dataclass
from typing import Any

# --- JSON ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text emitted verbatim (huge digit strings, NaN, lone surrogate escapes)."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """An object with (possibly duplicate) keys, in order."""

    items: tuple[tuple[str, Any], ...]


def emit(doc: Any) -> str:
    if isinstance(doc, Raw):
        return doc.text
    if isinstance(doc, Pairs):
        return "{" + ", ".join(f"{json.dumps(k)}: {emit(v)}" for k, v in doc.items) + "}"
    if isinstance(doc, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {emit(v)}" for k, v in doc.items()) + "}"
    if isinstance(doc, list):
        return "[" + ", ".join(emit(v) for v in doc) + "]"
    return json.dumps(doc)


def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _nodes(v, (*path, i))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _deep(depth: int, leaf: str = "0") -> Raw:
    return Raw("[" * depth + leaf + "]" * depth)


BOUNDARY_INTS: list[Any] = [
    -1, 0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 63, 2 ** 64 - 1, 2 ** 64,
    -2 ** 63, Raw("-0"), Raw("9" * 41), Raw("9" * 5000), Raw("-" + "9" * 4301),
    Raw("1e400"), Raw("-1e400"), Raw("NaN"), Raw("Infinity"), 1.5, 2.0, Raw("1E2"),
]


def _replacement(rng: random.Random, old: Any) -> Any:
    pick = rng.randrange(12)
    if pick < 4:
        return rng.choice(BOUNDARY_INTS)
    if pick == 4:  # the same value as another type
        return rng.choice([str(old), [old], {"value": old}, old is None, None])
    if pick == 5:
        return rng.choice(["", "0x", "0x" + "f" * 40, "0xffffffff", "0x100000000", "-0x1",
                           "2", "0b1", " 1", "1 ", "\uff11", "0x1_0"])  # fullwidth 1
    if pick == 6:
        return rng.choice([None, True, False, [], {}, [[]], [None], {"": None}])
    if pick == 7:  # long strings
        return rng.choice(["x" * 100_000, "\u00e9" * 50_000, "a\nb: OK", "\x00", "\u202e"])
    if pick == 8:  # lone surrogates and other Unicode edges
        return Raw(rng.choice(['"\\ud800"', '"\\udfff"', '"x\\ud83d"', '"\\u0000"',
                               '"\\uffff"', '"\\ud83d\\ude00"']))
    if pick == 9:  # deep nesting
        return _deep(rng.choice([50, 1000, 100_000]), rng.choice(["0", "{}", '"x"']))
    if pick == 10 and isinstance(old, int) and not isinstance(old, bool):
        return old + rng.choice([-1, 1, 2 ** 32, -2 ** 32, 2 ** 8, 2 ** 16])
    if isinstance(old, str) and old.startswith("0x"):
        return rng.choice(["0x" + "f" * rng.choice([8, 9, 16, 17]), old.upper(), old + "0",
                           old[:-1], "0X" + old[2:], old.replace("0x", "")])
    return rng.choice(BOUNDARY_INTS)


_KEYS = ["x", "", "format", "nr_irqs", "num_irqs", "path", "a\nb: OK", "\u00e9", "__proto__",
         "k" * 10_000, "0", "-1", "999999"]


def _mutate_object(rng: random.Random, obj: dict[str, Any]) -> Any:
    keys = list(obj)
    op = rng.randrange(5)
    if op == 0 and keys:  # missing key
        del obj[rng.choice(keys)]
        return obj
    if op == 1:  # extra key
        obj[rng.choice(_KEYS)] = rng.choice([0, None, "x", [], {}])
        return obj
    if op == 2 and keys:  # duplicate key: first or last wins, the other value differs
        k = rng.choice(keys)
        other = _replacement(rng, obj[k])
        items = [(key, v) for key, v in obj.items()]
        items.insert(rng.randrange(len(items) + 1), (k, other))
        return Pairs(tuple(items))
    if op == 3 and keys:  # renamed key
        k = rng.choice(keys)
        obj[rng.choice(_KEYS) if rng.random() < 0.5 else k.upper() + " "] = obj.pop(k)
        return obj
    if keys:  # a key repeated many times
        k = rng.choice(keys)
        return Pairs(tuple((k, obj[k]) for _ in range(rng.choice([2, 1000]))))
    return obj


def _mutate_list(rng: random.Random, items: list[Any]) -> Any:
    op = rng.randrange(5)
    if op == 0:
        return []
    if op == 1 and items:
        del items[rng.randrange(len(items))]
        return items
    if op == 2 and items:
        return items + [rng.choice(items)] * rng.choice([1, 10, 5000])
    if op == 3:
        return [*items, None, {}, "x"]
    return items[::-1]


def mutate_doc(rng: random.Random, doc: Any) -> Any:
    """One structural mutation of a parsed JSON document (which it changes)."""
    nodes = _nodes(doc)
    path = rng.choice(nodes)
    node = _get(doc, path)
    r = rng.random()
    if isinstance(node, dict) and r < 0.6:
        return _set(doc, path, _mutate_object(rng, node))
    if isinstance(node, list) and r < 0.6:
        return _set(doc, path, _mutate_list(rng, node))
    return _set(doc, path, _replacement(rng, node))


def mutate_json(rng: random.Random, text: str | bytes) -> bytes:
    """A hostile variant of the JSON document `text` (bytes-level if it is no JSON)."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return mutate_bytes(rng, text if isinstance(text, bytes) else text.encode())
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        try:
            doc = mutate_doc(rng, doc)
        except (TypeError, KeyError, IndexError):  # a previous mutation made a Raw/Pairs
            break
    out = emit(doc).encode("utf-8", "surrogatepass")
    r = rng.random()
    if r < 0.04:
        return out[:rng.randrange(len(out) + 1)]
    if r < 0.06:
        return b"\xef\xbb\xbf" + out
    if r < 0.07:
        return emit(doc).encode("utf-16")
    if r < 0.08:
        return out + rng.choice([b"x", b"\x00", b" {}", b"\n\n\n]"])
    if r < 0.09:
        return out.replace(b" ", b"\t\r\n")
    return out


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """The fallback for an input a previous round left unparsable: cut, flip or insert."""
    if not data:
        return rng.choice([b"", b"\x00", b"{", b"\x89GICMIG\n"])
    at = rng.randrange(len(data))
    op = rng.randrange(3)
    if op == 0:
        return data[:at]
    if op == 1:
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]
    return data[:at] + rng.choice([b"\x00", b"\xff" * 8, b'"', b"]", b"\x80"]) + data[at:]


# --- protobuf wire format --------------------------------------------------------------------
def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("bad varint")
        b = data[at]
        at += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, at


@dataclass
class Field:
    number: int
    wire: int
    value: Any  # int (varint/fixed), bytes (length-delimited)


def parse_fields(data: bytes) -> list[Field]:
    """The fields of a protobuf message (ValueError if `data` is not one)."""
    out, at = [], 0
    while at < len(data):
        key, at = _read_varint(data, at)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field 0")
        if wire == 0:
            value, at = _read_varint(data, at)
        elif wire == 1:
            if at + 8 > len(data):
                raise ValueError("short fixed64")
            value, at = struct.unpack_from("<Q", data, at)[0], at + 8
        elif wire == 5:
            if at + 4 > len(data):
                raise ValueError("short fixed32")
            value, at = struct.unpack_from("<I", data, at)[0], at + 4
        elif wire == 2:
            n, at = _read_varint(data, at)
            if at + n > len(data):
                raise ValueError("short bytes")
            value, at = data[at:at + n], at + n
        else:
            raise ValueError(f"wire type {wire}")
        out.append(Field(number, wire, value))
    return out


def emit_fields(fields: list[Field]) -> bytes:
    out = bytearray()
    for f in fields:
        out += varint(f.number << 3 | f.wire)
        if f.wire == 0:
            out += varint(f.value)
        elif f.wire == 1:
            out += struct.pack("<Q", f.value & (2 ** 64 - 1))
        elif f.wire == 5:
            out += struct.pack("<I", f.value & (2 ** 32 - 1))
        else:
            out += varint(len(f.value)) + f.value
    return bytes(out)


def _messages(data: bytes, path: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], bytes]]:
    """Every (path of field indexes, bytes) that parses as a message, the root first."""
    out = [(path, data)]
    try:
        fields = parse_fields(data)
    except ValueError:
        return out
    for i, f in enumerate(fields):
        if f.wire == 2 and f.value:
            try:
                parse_fields(f.value)
            except ValueError:
                continue
            out += _messages(f.value, (*path, i))
    return out


def _replace_at(data: bytes, path: tuple[int, ...], new: bytes) -> bytes:
    if not path:
        return new
    fields = parse_fields(data)
    f = fields[path[0]]
    f.value = _replace_at(f.value, path[1:], new)
    return emit_fields(fields)


def _unpacked(value: bytes) -> list[int] | None:
    nums, at = [], 0
    try:
        while at < len(value):
            n, at = _read_varint(value, at)
            nums.append(n)
    except ValueError:
        return None
    return nums


def _mutate_message(rng: random.Random, data: bytes) -> bytes:
    fields = parse_fields(data)
    op = rng.randrange(9)
    if op == 0 or not fields:  # an unknown field of each wire type
        number = rng.choice([15, 99, 536_870_911, 19_000, 1000])
        wire = rng.choice([0, 1, 2, 5])
        value = b"\x01\x02" if wire == 2 else rng.choice([0, 1, 2 ** 32 + 1])
        fields.insert(rng.randrange(len(fields) + 1), Field(number, wire, value))
        return emit_fields(fields)
    f = rng.choice(fields)
    if op == 1 and f.wire == 0:  # a boundary varint
        f.value = rng.choice([0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 63, 2 ** 64 - 1,
                              f.value + 1, f.value ^ 0x80])
        return emit_fields(fields)
    if op == 2:  # a duplicate (last wins for scalars, concatenation for repeated)
        fields.insert(rng.randrange(len(fields) + 1), Field(f.number, f.wire, f.value))
        return emit_fields(fields)
    if op == 3:  # another wire type for the same field number
        f.wire = rng.choice([w for w in (0, 1, 2, 5) if w != f.wire])
        f.value = b"\x00" if f.wire == 2 else 1
        return emit_fields(fields)
    if op == 4 and f.wire == 2:  # packed -> unpacked
        nums = _unpacked(f.value)
        if nums:
            at = fields.index(f)
            fields[at:at + 1] = [Field(f.number, 0, n) for n in nums]
            return emit_fields(fields)
    if op == 5:  # unpacked -> packed
        same = [g for g in fields if g.number == f.number and g.wire == 0]
        if same:
            packed = b"".join(varint(g.value) for g in same)
            rest = [g for g in fields if g not in same]
            rest.insert(rng.randrange(len(rest) + 1), Field(f.number, 2, packed))
            return emit_fields(rest)
    if op == 6:  # drop a field
        fields.remove(f)
        return emit_fields(fields)
    if op == 7:  # raw: an over-long varint or a lying length prefix
        out = emit_fields(fields)
        key = varint(f.number << 3 | (0 if op == 7 and rng.random() < 0.5 else 2))
        tail = rng.choice([b"\xff" * 11, b"\x80" * 10 + b"\x00", varint(2 ** 31) + b"x",
                           varint(len(out) + 1), b"\x80"])
        cut = rng.randrange(len(out) + 1)
        return out[:cut] + key + tail + out[cut:]
    # op 8: a repeated field repeated many times
    at = fields.index(f)
    fields[at:at] = [Field(f.number, f.wire, f.value)] * rng.choice([100, 5000])
    return emit_fields(fields)


def mutate_protobuf(rng: random.Random, data: bytes) -> bytes:
    """A hostile variant of a protobuf message, mutated at any depth."""
    for _ in range(rng.choice([1, 1, 2])):
        path, sub = rng.choice(_messages(data))
        try:
            data = _replace_at(data, path, _mutate_message(rng, sub))
        except ValueError:
            break
    if rng.random() < 0.05:
        data = data[:rng.randrange(len(data) + 1)]
    return data


# --- blobs -----------------------------------------------------------------------------------
def mutate_blob(rng: random.Random, blob: bytes) -> bytes:
    from gicmig.formats import envelope as env

    if len(blob) < env.HEADER_LENGTH:
        return mutate_bytes(rng, blob)
    magic, version, hlen, rev, flags, plen, pcrc, hcrc = env._LAYOUT.unpack_from(blob, 0)
    payload = blob[hlen:hlen + plen]
    r = rng.random()
    if r < 0.55:  # the payload, re-wrapped in a valid envelope
        new = mutate_protobuf(rng, payload)
        if len(new) > env.MAX_PAYLOAD:
            new = new[:env.MAX_PAYLOAD]
        return env.pack(new, rev, flags)
    fields = [version, hlen, rev, flags, plen, pcrc]
    i = rng.randrange(len(fields))
    width = 16 if i < 2 else 32
    fields[i] = rng.choice([0, 1, 2, 2 ** width - 1, 2 ** (width - 1), fields[i] + 1,
                            fields[i] - 1 if fields[i] else 0, 31, 33, 4096, 1 << 20,
                            (1 << 20) + 1])
    fields[i] = max(0, min(fields[i], 2 ** width - 1))
    version, hlen, rev, flags, plen, pcrc = fields
    ext = b"\x00" * max(0, min(hlen, 4096) - env.HEADER_LENGTH) if rng.random() < 0.5 else b""
    head = env._LAYOUT.pack(magic, version, hlen, rev, flags, plen, pcrc, 0)
    crc = env.crc32c(head[:env._CRC_AT] + ext) if rng.random() < 0.9 else hcrc
    head = head[:env._CRC_AT] + struct.pack("<I", crc)
    tail = payload if rng.random() < 0.8 else payload + b"\x00" * rng.choice([1, 100])
    return head + ext + tail


# --- QEMU streams ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamMap:
    """Where the reader read what in one real stream: (offset, size) of every `take`, and
    where the trailing vmdesc JSON is (offset of its 0x06 record, length)."""

    reads: tuple[tuple[int, int], ...]
    vmdesc: tuple[int, int] | None


def map_stream(data: bytes) -> StreamMap:
    """Record the fields gicmig's stream reader takes from `data` (a real stream)."""
    import io

    from gicmig.views.qemu import source
    from gicmig.views.qemu.stream import read_arm_gic

    seen: list[tuple[int, int]] = []
    original = source.StreamInput.take

    def take(self: Any, n: int) -> bytes:
        seen.append((self.offset, n))
        return original(self, n)

    source.StreamInput.take = take  # type: ignore[method-assign]
    try:
        read_arm_gic(io.BytesIO(data))
    finally:
        source.StreamInput.take = original  # type: ignore[method-assign]
    at = data.rfind(b'{"page_size"')
    vmdesc = (at - 5, struct.unpack_from(">I", data, at - 4)[0]) if at > 5 else None
    return StreamMap(tuple(sorted(set(seen))), vmdesc)


def mutate_stream(rng: random.Random, data: bytes, smap: StreamMap) -> bytes:
    r = rng.random()
    if smap.vmdesc and r < 0.3:  # the vmdesc, as JSON, re-framed (or with a lying length)
        at, n = smap.vmdesc
        doc = mutate_json(rng, data[at + 5:at + 5 + n])
        length = len(doc) if rng.random() < 0.85 else rng.choice(
            [0, 1, len(doc) + 1, 2 ** 31, 2 ** 32 - 1])
        return data[:at] + b"\x06" + struct.pack(">I", length) + doc + data[at + 5 + n:]
    if r < 0.35:  # truncation at a field boundary
        at, n = rng.choice(smap.reads)
        return data[:at + rng.choice([0, n // 2, n])]
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        at, n = rng.choice(smap.reads)
        old = int.from_bytes(data[at:at + n], "big") if n <= 8 else 0
        if n <= 8:
            top = (1 << (8 * n)) - 1
            new = rng.choice([0, 1, top, top >> 1, (top >> 1) + 1, old + 1, old - 1, old * 2,
                              old ^ (1 << rng.randrange(8 * n)), rng.randrange(top + 1)])
            out[at:at + n] = (new & top).to_bytes(n, "big")
        elif at + n <= len(out):  # a name or a vmsd blob: its bytes
            k = rng.randrange(n)
            out[at + k] = rng.choice([0, 0xFF, out[at + k] ^ 0x20, ord("/")])
    return bytes(out)
