"""The KVM register-dump format `gicmig.kvm-dump/1` and its write list `gicmig.kvm-writes/1`.

A dump is what a VMM read through KVM_GET_DEVICE_ATTR on a KVM_DEV_TYPE_ARM_VGIC_V2
device: the value of KVM_DEV_ARM_VGIC_GRP_NR_IRQS and a list of register accesses in the
groups DIST_REGS (`dist`) and CPU_REGS (`cpu`)::

    {"format": "gicmig.kvm-dump/1", "nr_irqs": 128,
     "registers": [{"group": "dist", "vcpu": 0, "offset": "0x100", "value": "0xffff"},
                   {"group": "cpu", "attr": "0x100000004", "value": 30}]}

An access names its register either by `vcpu` and `offset` or by the packed KVM attr
(`vcpu_index << 32 | offset`). Integers are JSON numbers or "0x..." strings. Optional
top-level strings `vmm`, `vmm_version` and `host_kernel` travel into provenance. Parsing
is strict: every problem is a `DecodeError` whose reason code says what is wrong and whose
message names the entry index. See docs/kvm.md."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gicmig.abi.kvm.access import FRAME_SIZE, GROUPS, Access, KvmDump
from gicmig.arch.registers import (
    KVM_ATTR_DEFINED_MASK,
    KVM_ATTR_OFFSET,
    KVM_ATTR_VCPU,
    KVM_NR_IRQS_MAX,
    KVM_NR_IRQS_MIN,
)
from gicmig.errors import DecodeError
from gicmig.limits import loads_json

FORMAT = "gicmig.kvm-dump/1"
WRITES_FORMAT = "gicmig.kvm-writes/1"
MAX_VCPU = KVM_ATTR_VCPU.mask >> KVM_ATTR_VCPU.shift
_HEX = re.compile(r"0[xX][0-9a-fA-F]{1,16}")
_META = ("vmm", "vmm_version", "host_kernel")


# --- parsing -----------------------------------------------------------------------------
def _fail(code: str, message: str) -> DecodeError:
    return DecodeError(code, message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(data: bytes | str, what: str) -> Any:
    """Strict JSON: no duplicate keys, no NaN/Infinity; any failure is KVM-DUMP-SYNTAX."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return loads_json(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _fail("KVM-DUMP-SYNTAX", f"{what} is not valid JSON: {exc}") from None


def _integer(value: Any, where: str, bits: int, key: str = "") -> int:
    """A JSON number or "0x..." string that fits in `bits` unsigned bits (`key`: the
    member of `where` it is, named in a message only: no string is built per value)."""
    if type(value) is str and _HEX.fullmatch(value):
        number = int(value, 16)
        if number < 1 << bits:
            return number
    elif type(value) is int and 0 <= value < 1 << bits:
        return value
    if key:
        where = f"{where}.{key}"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _fail("KVM-DUMP-FIELD",
                    f"{where}: {type(value).__name__} {value!r:.40}; expected an integer "
                    'or a "0x..." string')
    if isinstance(value, str) and not _HEX.fullmatch(value):
        raise _fail("KVM-DUMP-FIELD", f'{where}: {value!r:.40} is not a "0x..." hex string')
    number = int(value, 16) if isinstance(value, str) else value
    if not 0 <= number < 1 << bits:
        raise _fail("KVM-DUMP-RANGE", f"{where}: {number:#x} does not fit in {bits} bits")
    return number


def _object(value: Any, where: str, required: Iterable[str], optional: Iterable[str],
            keys: frozenset[str] | None = None) -> None:
    """`value` is an object with every `required` key and no other than the `optional`
    ones (`keys`: all of them, for a quick check of the usual case)."""
    if not isinstance(value, dict):
        raise _fail("KVM-DUMP-FIELD", f"{where}: expected an object, got "
                    f"{type(value).__name__}")
    if keys is not None and value.keys() <= keys and all(k in value for k in required):
        return
    missing = [k for k in required if k not in value]
    if missing:
        raise _fail("KVM-DUMP-FIELD", f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise _fail("KVM-DUMP-FIELD", f"{where}: unknown keys {', '.join(unknown)}")


_ACCESS_REQUIRED, _ACCESS_OPTIONAL = ("group", "value"), ("vcpu", "offset", "attr", "name")
_ACCESS_KEYS = frozenset(_ACCESS_REQUIRED + _ACCESS_OPTIONAL)


def _access(entry: Any, where: str) -> Access:
    _object(entry, where, _ACCESS_REQUIRED, _ACCESS_OPTIONAL, _ACCESS_KEYS)
    group = entry["group"]
    if group not in GROUPS:
        raise _fail("KVM-DUMP-FIELD", f"{where}.group: {group!r:.40} is not dist or cpu")
    if "name" in entry and not isinstance(entry["name"], str):
        raise _fail("KVM-DUMP-FIELD", f"{where}.name: expected a string")
    vcpu = offset = None
    if "vcpu" in entry or "offset" in entry:
        if "vcpu" not in entry or "offset" not in entry:
            raise _fail("KVM-DUMP-FIELD", f"{where}: vcpu and offset go together")
        vcpu = _integer(entry["vcpu"], where, KVM_ATTR_VCPU.width, "vcpu")
        offset = _integer(entry["offset"], where, 32, "offset")
    if "attr" in entry:
        attr = _integer(entry["attr"], where, 64, "attr")
        if attr & ~KVM_ATTR_DEFINED_MASK:
            raise _fail("KVM-DUMP-RANGE", f"{where}.attr: {attr:#x} sets reserved bits "
                        f"{attr & ~KVM_ATTR_DEFINED_MASK:#x} (63:40)")
        packed = KVM_ATTR_VCPU.get(attr), KVM_ATTR_OFFSET.get(attr)
        if vcpu is not None and (vcpu, offset) != packed:
            raise _fail("KVM-DUMP-FIELD", f"{where}: attr {attr:#x} names vcpu{packed[0]} "
                        f"offset {packed[1]:#x}, not vcpu{vcpu} "
                        f"offset {offset:#x}")
        vcpu, offset = packed
    if vcpu is None or offset is None:
        raise _fail("KVM-DUMP-FIELD", f"{where}: missing attr, or vcpu and offset")
    if offset % 4 or offset >= FRAME_SIZE[group]:
        raise _fail("KVM-DUMP-RANGE",
                    f"{where}: {group} offset {offset:#x} is not a 32-bit aligned offset below "
                    f"{FRAME_SIZE[group]:#x} (the ABI accesses whole registers only)")
    return Access(group, vcpu, offset, _integer(entry["value"], where, 32, "value"))


def _nr_irqs(value: Any) -> int:
    n = _integer(value, "nr_irqs", 32)
    if not (KVM_NR_IRQS_MIN <= n <= KVM_NR_IRQS_MAX and n % 32 == 0):
        raise _fail("KVM-DUMP-NR-IRQS",
                    f"nr_irqs {n} is not a multiple of 32 in {KVM_NR_IRQS_MIN}.."
                    f"{KVM_NR_IRQS_MAX} (what KVM_DEV_ARM_VGIC_GRP_NR_IRQS accepts)")
    return n


def _header(doc: Any, fmt: str, what: str, listing: str, extra: tuple[str, ...] = ()) -> None:
    if isinstance(doc, dict) and "format" in doc and doc["format"] != fmt:
        raise _fail("KVM-DUMP-FORMAT",
                    f"format is {doc['format']!r:.60}; expected {fmt!r}")
    _object(doc, what, ("format", "nr_irqs", listing), (*_META, *extra))
    if not isinstance(doc[listing], list):
        raise _fail("KVM-DUMP-FIELD", f"{listing}: expected a list")
    for key in _META:
        if key in doc and not isinstance(doc[key], str):
            raise _fail("KVM-DUMP-FIELD", f"{key}: expected a string")


def parse_dump(data: bytes | str) -> KvmDump:
    """A `gicmig.kvm-dump/1` document, checked entry by entry (not yet for completeness)."""
    doc = load_json(data, "the dump")
    _header(doc, FORMAT, "the dump", "registers")
    nr_irqs = _nr_irqs(doc["nr_irqs"])
    accesses = tuple(_access(e, f"registers[{i}]") for i, e in enumerate(doc["registers"]))
    dump = KvmDump(nr_irqs, accesses, *(doc.get(k, "") for k in _META))
    dump.registers()  # refuse conflicting repeats now, with their entry index
    return dump


@dataclass(frozen=True)
class Loss:
    """What a lenient export let go: reason code, place and message (`export kvm`)."""

    code: str
    place: str
    message: str


@dataclass(frozen=True)
class KvmWrites:
    """A parsed `gicmig.kvm-writes/1` document: NR_IRQS, the ordered writes and the losses
    the export accepted (empty for a strict export)."""

    nr_irqs: int
    writes: tuple[Access, ...]
    losses: tuple[Loss, ...] = ()


def parse_writes(data: bytes | str) -> tuple[int, tuple[Access, ...]]:
    """NR_IRQS and the ordered writes of a `gicmig.kvm-writes/1` document."""
    doc = parse_writes_document(data)
    return doc.nr_irqs, doc.writes


def parse_writes_document(data: bytes | str) -> KvmWrites:
    """A whole `gicmig.kvm-writes/1` document, with its `losses` (optional key)."""
    doc = load_json(data, "the write list")
    _header(doc, WRITES_FORMAT, "the write list", "writes", ("losses",))
    nr_irqs = _nr_irqs(doc["nr_irqs"])
    writes = tuple(_access(e, f"writes[{i}]") for i, e in enumerate(doc["writes"]))
    raw = doc.get("losses", [])
    if not isinstance(raw, list):
        raise _fail("KVM-DUMP-FIELD", "losses: expected a list")
    losses = []
    for i, e in enumerate(raw):
        _object(e, f"losses[{i}]", ("code", "place", "message"), ())
        if not all(isinstance(e[k], str) for k in ("code", "place", "message")):
            raise _fail("KVM-DUMP-FIELD", f"losses[{i}]: code, place and message are strings")
        losses.append(Loss(e["code"], e["place"], e["message"]))
    return KvmWrites(nr_irqs, writes, tuple(losses))


# --- writing -------------------------------------------------------------------------------
def _entry(a: Access) -> str:
    return (f'{{"group": "{a.group}", "vcpu": {a.vcpu}, "offset": "{a.offset:#05x}", '
            f'"value": "{a.value:#010x}", "attr": "{a.attr:#x}", "name": "{a.register}"}}')


def _document(head: dict[str, Any], listing: str, accesses: Iterable[Access],
              losses: Iterable[Loss] = ()) -> str:
    """Deterministic JSON, one access (and one loss) per line (diff-friendly)."""
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items() if v != ""]
    gone = ",\n".join(f"    {json.dumps({'code': x.code, 'place': x.place, 'message': x.message})}"
                      for x in losses)
    if gone:
        lines.append(f'  "losses": [\n{gone}\n  ],')
    body = ",\n".join(f"    {_entry(a)}" for a in accesses)
    return "{\n" + "\n".join(lines) + f'\n  "{listing}": [\n{body}\n  ]\n}}\n'


def dump_to_json(dump: KvmDump) -> str:
    head = {"format": FORMAT, "nr_irqs": dump.nr_irqs, "vmm": dump.vmm,
            "vmm_version": dump.vmm_version, "host_kernel": dump.host_kernel}
    return _document(head, "registers", dump.accesses)


def writes_to_json(nr_irqs: int, writes: Iterable[Access], losses: Iterable[Loss] = ()) -> str:
    """A `gicmig.kvm-writes/1` document; `losses` (what a lenient export let go) are
    recorded under "losses", so that the file says what the restore will not carry."""
    return _document({"format": WRITES_FORMAT, "nr_irqs": nr_irqs}, "writes", writes, losses)
