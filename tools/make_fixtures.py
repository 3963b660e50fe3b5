"""Write fixtures/v1: golden states (.json + .gicmig) and invalid/ cases, one per reason code;
with `--v3`, fixtures/v3: the golden states of schema revision 3 and its invalid/ cases.

Run once per schema revision: `python tools/make_fixtures.py`. Released fixtures must decode
forever, so re-running must not change them (tests/test_fixtures.py compares the committed
files with the codec, not with this script).
"""

from __future__ import annotations

import json
import random
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import gicmig
from gicmig.arch.registers import GICC_CTLR, GICH_HCR, GICH_LR, GICH_LR_HW, GICH_VMCR
from gicmig.core.config import GicConfig
from gicmig.core.model import UNKNOWN_CPU, GicState, HwMapping
from gicmig.formats import envelope
from gicmig.formats.fixture import to_json

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "v1"


def _set(data: bytes, index: int, value: int) -> bytes:
    out = bytearray(data)
    out[index] = value
    return bytes(out)


REVISION = 1  # fixtures/v1 holds revision-1 blobs, readable forever


def reset_virt_2cpu() -> GicState:
    state = GicState.reset(GicConfig.qemu_virt(num_cpus=2))
    state.schema_revision = REVISION
    state.provenance.source = "fixture"
    return state


def _spi(state: GicState, intid: int, *, prio: int, targets: int, enabled: bool = True,
         group: int = 0, edge: bool = False, **flags: int) -> None:
    sh, k = state.shared, intid - 32
    sh.priority = _set(sh.priority, k, prio)
    sh.targets = _set(sh.targets, k, targets)
    sh.enabled |= int(enabled) << k
    sh.group |= group << k
    sh.edge |= int(edge) << k
    for name, value in flags.items():
        if name == "active_cpu":
            sh.active |= 1 << k
            sh.active_cpu = _set(sh.active_cpu, k, value)
        else:
            setattr(sh, name, getattr(sh, name) | value << k)


def busy() -> GicState:
    """Pending and active SPIs/PPIs/SGIs, level lines high and low, multi-source SGIs, an
    active SGI with its source, active priorities in both groups, an EOImode=1 drop."""
    state = reset_virt_2cpu()
    state.enable_grp0 = state.enable_grp1 = True
    _spi(state, 32, prio=0x10, targets=0b01, line_level=1)           # pending through the line
    _spi(state, 33, prio=0x18, targets=0b10, pending_latch=1)        # latch, line low
    _spi(state, 40, prio=0x40, targets=0b10, group=1, edge=True, active_cpu=1)  # EOImode=1 drop
    _spi(state, 41, prio=0x20, targets=0b10, group=1, edge=True, active_cpu=1, pending_latch=1)
    _spi(state, 64, prio=0x80, targets=0b11, edge=True, pending_latch=1)
    _spi(state, 100, prio=0xA0, targets=0b01, enabled=False, line_level=1)  # pending, disabled
    _spi(state, 287, prio=0xF8, targets=0b11, group=1)
    b0, b1 = state.banked
    b0.priority = bytes([0, 0x10, 0x30, 0, 0, 0x50] + [0] * 19 + [0x90, 0, 0xA0])
    b0.group = 1 << 5
    b0.active = 1 << 1
    b0.sgi_active_source = _set(bytes(16), 1, 1)                      # SGI 1 active, from CPU1
    b0.sgi_sources = _set(bytes(16), 2, 0b11)                         # SGI 2 from CPUs 0 and 1
    b0.enabled |= 1 << 25 | 1 << 27
    b0.line_level = 1 << 27                                           # timer line high
    b1.priority = bytes([0, 0, 0, 0x60] + [0] * 23 + [0xB0, 0, 0, 0xC0, 0])
    b1.active = 1 << 0
    b1.sgi_active_source = bytes(16)                                  # SGI 0 active from CPU0
    b1.sgi_sources = _set(_set(bytes(16), 0, 0b01), 3, 0b01)          # SGI 0 again, SGI 3
    b1.enabled |= 1 << 30
    b1.edge |= 1 << 30
    b1.pending_latch = 1 << 30
    b1.line_level = 1 << 27                                           # line high, disabled
    c0, c1 = state.cpu
    c0.ctlr = GICC_CTLR.pack(enable_grp0=1, enable_grp1=1, ack_ctl=1, fiq_en=1)
    c0.pmr, c0.bpr, c0.abpr = 0xF0, 2, 3
    c0.active_group0 = 1 << (0x10 >> 1)
    c1.ctlr = GICC_CTLR.pack(enable_grp0=1, enable_grp1=1, cbpr=1, eoi_mode=1)
    c1.pmr, c1.bpr, c1.abpr = 0xF8, 3, 4
    c1.active_group0 = 1 << 0
    c1.active_group1 = 1 << (0x20 >> 1)
    return state


def hyp_context() -> GicState:
    """busy, as our hypervisor held it: HW-mapped timer, an unserviced EOI request."""
    state = busy()
    state.provenance.source = "gich"
    ctx = state.keep_hypervisor_context()
    ctx[0].hcr = GICH_HCR.pack(en=1, uie=1)
    ctx[0].hw_mappings = [HwMapping(27, 27)]
    ctx[1].hcr = GICH_HCR.pack(en=1, npie=1, eoicount=2)
    ctx[1].eoi_maintenance = 1 << 33
    return state


def max_state() -> GicState:
    """8 CPUs, 1020 IDs, virtualization extensions; every interrupt non-default."""
    rnd = random.Random(20261125)
    state = GicState.reset(GicConfig(8, 1020, num_lrs=4))
    state.schema_revision = REVISION
    state.provenance.source = "fixture"
    state.enable_grp0 = state.enable_grp1 = True
    nspi = state.config.num_spis
    _random_irqs(rnd, state.shared, nspi, spi=True)
    for c in range(8):
        _random_irqs(rnd, state.banked[c], 32, spi=False)
        _random_cpu(rnd, state, c)
    return state


def _bits(rnd: random.Random, n: int) -> int:
    return rnd.getrandbits(n)


def _random_irqs(rnd: random.Random, part: object, n: int, *, spi: bool) -> None:
    full = (1 << n) - 1
    sgi = 0 if spi else 0xFFFF
    edge = _bits(rnd, n) | sgi
    latch, line = _bits(rnd, n) & ~sgi, _bits(rnd, n) & ~sgi
    active = _bits(rnd, n)
    values = {"enabled": full if not spi else _bits(rnd, n) | 1, "group": _bits(rnd, n),
              "edge": edge, "pending_latch": latch, "line_level": line, "active": active,
              "pending_split_unknown": ~edge & latch & ~line & _bits(rnd, n) & full}
    for name, value in values.items():
        setattr(part, name, value & full)
    part.priority = bytes(rnd.randrange(1, 256) for _ in range(n))  # type: ignore[attr-defined]
    if spi:
        part.targets = bytes(rnd.randrange(1, 256) for _ in range(n))  # type: ignore[attr-defined]
        part.active_cpu = bytes(  # type: ignore[attr-defined]
            (rnd.choice([*range(8), UNKNOWN_CPU]) if active >> k & 1 else 0) for k in range(n))
    else:
        part.sgi_sources = bytes(rnd.randrange(1, 256) for _ in range(16))  # type: ignore[attr-defined]
        part.sgi_active_source = bytes(  # type: ignore[attr-defined]
            (rnd.choice([*range(8), UNKNOWN_CPU]) if active >> s & 1 else 0) for s in range(16))


def _random_cpu(rnd: random.Random, state: GicState, c: int) -> None:
    ci = state.cpu[c]
    ci.ctlr = rnd.getrandbits(10)
    ci.pmr, ci.bpr, ci.abpr = rnd.randrange(256), rnd.randrange(8), rnd.randrange(1, 8)
    g0, g1 = rnd.getrandbits(128), rnd.getrandbits(128)
    ci.active_group0, ci.active_group1 = g0, g1
    ci.active_group_unknown = rnd.getrandbits(128) & ~(g0 | g1)
    v = state.virtual[c]
    v.hcr = GICH_HCR.pack(en=1, npie=rnd.getrandbits(1), eoicount=rnd.randrange(32))
    v.vmcr = GICH_VMCR.pack(vmgrp0en=1, vmgrp1en=1, vmabp=rnd.randrange(3, 8),
                            vmbp=rnd.randrange(2, 8), vmprimask=rnd.randrange(32))
    v.apr = rnd.getrandbits(32)
    v.lr = [_random_lr(rnd, n) for n in range(4)]


def _random_lr(rnd: random.Random, n: int) -> int:
    common = {"virtual_id": rnd.randrange(32, 1020), "priority": rnd.randrange(32),
              "state": rnd.randrange(1, 4), "grp1": rnd.getrandbits(1)}
    if n == 3:
        return GICH_LR_HW.pack(hw=1, physical_id=rnd.randrange(16, 1020), **common)
    return GICH_LR.pack(cpuid=rnd.randrange(8), eoi=rnd.getrandbits(1), **common)


# --- invalid cases ---------------------------------------------------------------------------
def _doc(state: GicState) -> dict:  # type: ignore[type-arg]
    return json.loads(to_json(state))  # type: ignore[no-any-return]


def _json_case(edit: Callable[[dict], None]) -> bytes:  # type: ignore[type-arg]
    doc = _doc(busy())
    edit(doc)
    return (json.dumps(doc, indent=2) + "\n").encode()


def _blob_case(edit: Callable[[bytearray], None]) -> bytes:
    blob = bytearray(gicmig.encode(busy()))
    edit(blob)
    return bytes(blob)


def _reheader(blob: bytearray, offset: int, fmt: str, value: int) -> None:
    struct.pack_into(fmt, blob, offset, value)
    struct.pack_into("<I", blob, 28, envelope.crc32c(bytes(blob[:28])))


def _repayload(payload: bytes) -> bytes:
    return envelope.pack(payload, 1)


def _noncanonical() -> bytes:
    msg = busy()._pb
    msg.state.shared.priority = msg.state.shared.priority + b"\0"  # untrimmed vector
    return _repayload(msg.SerializeToString(deterministic=True))


def _unknown_field() -> bytes:
    payload = busy()._pb.SerializeToString(deterministic=True)
    return _repayload(payload + bytes([0xF8, 0x01, 0x07]))  # field 31, varint 7


def _reordered() -> bytes:
    msg = busy()._pb
    head = msg.provenance.SerializeToString()
    rest = msg.__class__()
    rest.CopyFrom(msg)
    rest.ClearField("provenance")
    body = rest.SerializeToString(deterministic=True) + bytes([0x0A, len(head)]) + head
    return _repayload(body)


def _cpu(doc: dict, c: int) -> dict:  # type: ignore[type-arg]
    return doc["cpus"][c]  # type: ignore[no-any-return]


INVALID_JSON: dict[str, Callable[[dict], None]] = {  # type: ignore[type-arg]
    "JSON-SCHEMA": lambda d: d["spis"]["40"].update(colour="red"),
    "CONFIG-REVISION": lambda d: d["config"].update(revision="GICv1"),
    "CONFIG-NUM-CPUS": lambda d: d["config"].update(num_cpus=9),
    "CONFIG-NUM-IRQS": lambda d: d["config"].update(num_irqs=300),
    "CONFIG-PRIORITY-BITS": lambda d: d["config"].update(priority_bits=3),
    "CONFIG-MIN-BPR": lambda d: d["config"].update(min_bpr=4),
    "CONFIG-SECURITY-EXTENSIONS": lambda d: d["config"].update(security_extensions=True),
    "CONFIG-VIRTUALIZATION": lambda d: d["config"].update(
        virtualization={"num_lrs": 65, "priority_bits": 5, "preemption_bits": 5}),
    "IRQ-PRIORITY-UNIMPLEMENTED-BITS": lambda d: (d["config"].update(priority_bits=5),
                                                  d["spis"]["64"].update(priority="0x84")),
    "IRQ-SPLIT-UNKNOWN-INVALID": lambda d: d["spis"]["64"].update(pending_split_unknown=True),
    "SGI-NOT-EDGE": lambda d: _cpu(d, 0)["irqs"]["2"].update(edge=False),
    "SGI-DISABLED-RAO": lambda d: _cpu(d, 0)["irqs"]["2"].update(enabled=False),
    "SGI-LATCH-OR-LINE": lambda d: _cpu(d, 1)["irqs"]["3"].update(pending_latch=True),
    "SGI-SOURCE-ABSENT-CPU": lambda d: _cpu(d, 0)["irqs"]["2"].update(sources=[0, 5]),
    "SGI-ACTIVE-SOURCE-ABSENT-CPU": lambda d: _cpu(d, 0)["irqs"]["1"].update(active_source=3),
    "SPI-TARGET-ABSENT-CPU": lambda d: d["spis"]["64"].update(targets=[0, 1, 7]),
    "SPI-ACTIVE-CPU-ABSENT": lambda d: d["spis"]["40"].update(active_cpu=6),
    "CPU-CTLR-RESERVED": lambda d: None,  # replaced below: JSON cannot name a reserved bit
    "CPU-PMR-UNIMPLEMENTED-BITS": lambda d: (d["config"].update(priority_bits=5),
                                             _cpu(d, 0)["interface"].update(pmr="0xf4")),
    "CPU-BPR-RANGE": lambda d: d["config"].update(min_bpr=3),
    "CPU-ACTIVE-PRIORITY-UNREPRESENTABLE": lambda d: (
        d["config"].update(priority_bits=5),
        _cpu(d, 1)["interface"].update(active_group1=["0x20", "0x24"])),
    "CPU-ACTIVE-GROUP-OVERLAP": lambda d: _cpu(d, 1)["interface"].update(
        active_group_unknown=["0x20"]),
}


def _blob_invalid() -> dict[str, bytes]:
    good = gicmig.encode(busy())
    return {
        "BLOB-TRUNCATED": good[:-7],
        "BLOB-BAD-MAGIC": b"\x89GICMAG\n" + good[8:],
        "BLOB-ENVELOPE-VERSION": _blob_case(lambda b: _reheader(b, 8, "<H", 2)),
        "BLOB-HEADER-CHECKSUM": _blob_case(lambda b: b.__setitem__(29, b[29] ^ 0x10)),
        "BLOB-PAYLOAD-CHECKSUM": _blob_case(lambda b: b.__setitem__(40, b[40] ^ 0x01)),
        "BLOB-TOO-LARGE": _blob_case(lambda b: _reheader(b, 20, "<I", 0x7FFF_FFFF)),
        "BLOB-TRAILING-DATA": good + b"\0",
        "BLOB-UNKNOWN-FLAGS": _blob_case(lambda b: _reheader(b, 16, "<I", 0x1)),
        "BLOB-SCHEMA-NEWER": _blob_case(lambda b: _reheader(b, 12, "<I", 99)),
        "PAYLOAD-MALFORMED": _repayload(b"\x0a\xff\xff"),
        "PAYLOAD-UNKNOWN-FIELDS": _unknown_field(),
        "PAYLOAD-NOT-CANONICAL": _noncanonical(),
        "STATE-CPU-COUNT": _repayload(_drop_cpu()),
        "STATE-IRQ-OUT-OF-RANGE": _repayload(_long_vector()),
        "CPU-CTLR-RESERVED": _repayload(_ctlr_reserved()),
        "SGI-ACTIVE-SOURCE-NOT-ACTIVE": _repayload(_stale_sgi_source()),
        "SPI-ACTIVE-CPU-NOT-ACTIVE": _repayload(_stale_spi_cpu()),
        "VIRT-PRESENCE": _repayload(_virtual_without_config()),
        "VIRT-RESERVED-BITS": _repayload(_lr_reserved()),
        "HYP-VCPU-COUNT": _repayload(_hyp(lambda h: h.vcpu.pop())),
        "HYP-HW-MAPPING": _repayload(_hyp(lambda h: h.vcpu[0].hw_mapping.add(
            virtual_id=40, physical_id=3))),
        "HYP-RESERVED-BITS": _repayload(_hyp(lambda h: setattr(h.vcpu[1], "hcr", 1 << 12))),
        "JSON-SYNTAX": b'{"format": "gicmig-fixture/1",\n  "config": {,}\n}\n',
        "INPUT-FORMAT-UNKNOWN": b"GICD_CTLR=3\n",
    }


def _payload(edit: Callable[[object], None], state: GicState | None = None) -> bytes:
    msg = (state or busy())._pb
    edit(msg)
    return msg.SerializeToString(deterministic=True)  # type: ignore[no-any-return]


def _drop_cpu() -> bytes:
    return _payload(lambda m: m.state.cpu.pop())  # type: ignore[attr-defined]


def _long_vector() -> bytes:
    return _payload(lambda m: setattr(m.state.shared, "priority", b"\x10" * 300))  # type: ignore[attr-defined]


def _ctlr_reserved() -> bytes:
    return _payload(lambda m: setattr(m.state.cpu[0], "ctlr", 1 << 10))  # type: ignore[attr-defined]


def _stale_sgi_source() -> bytes:
    return _payload(lambda m: setattr(m.state.banked[0], "sgi_active_source",  # type: ignore[attr-defined]
                                      bytes([0, 1, 0, 1])))


def _stale_spi_cpu() -> bytes:
    return _payload(lambda m: setattr(m.state.shared, "active_cpu",  # type: ignore[attr-defined]
                                      bytes(8) + b"\x01\x01\x01"))


def _virtual_without_config() -> bytes:
    return _payload(lambda m: m.state.virtual.add(vmcr=0x004C0000))  # type: ignore[attr-defined]


def _lr_reserved() -> bytes:
    state = GicState.reset(GicConfig.qemu_virt(num_cpus=2, virtualization=True))
    state.schema_revision = REVISION
    lr = GICH_LR.pack(state=1, virtual_id=45, priority=10) | 1 << 21  # bit 21 is RES0
    return _payload(lambda m: m.state.virtual[0].lr.append(lr), state)  # type: ignore[attr-defined]


def _hyp(edit: Callable[[object], None]) -> bytes:
    return _payload(lambda m: edit(m.hypervisor), hyp_context())  # type: ignore[attr-defined]


def _virt_cases() -> dict[str, Callable[[dict], None]]:  # type: ignore[type-arg]
    return {
        "VIRT-LR-COUNT": lambda d: _cpu(d, 0)["virtual"]["lr"].append({"state": "pending",
                                                                       "virtual_id": 40}),
        "VIRT-VMCR-BINARY-POINT": lambda d: _cpu(d, 1)["virtual"]["vmcr"].update(vmbp=1),
        "VIRT-APR-UNREPRESENTABLE": lambda d: d["config"]["virtualization"].update(
            preemption_bits=4) or _cpu(d, 0)["virtual"]["vmcr"].update(vmbp=3, vmabp=4)
        or _cpu(d, 1)["virtual"]["vmcr"].update(vmbp=3, vmabp=4)
        or _cpu(d, 0)["virtual"].update(apr="0x00010000"),
    }


def _virt_doc() -> dict:  # type: ignore[type-arg]
    state = GicState.reset(GicConfig.qemu_virt(num_cpus=2, virtualization=True))
    state.schema_revision = REVISION
    state.virtual[0].lr = [GICH_LR.pack(state=1, virtual_id=45, priority=10, grp1=1)] * 4
    return _doc(state)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in (("reset-virt-2cpu", reset_virt_2cpu), ("busy", busy),
                       ("hyp-context", hyp_context), ("max", max_state)):
        state = make()
        (OUT / f"{name}.json").write_text(to_json(state))
        (OUT / f"{name}.gicmig").write_bytes(gicmig.encode(state))
    bad = OUT / "invalid"
    bad.mkdir(exist_ok=True)
    for code, edit in INVALID_JSON.items():
        if code != "CPU-CTLR-RESERVED":
            (bad / f"{code}.json").write_bytes(_json_case(edit))
    for code, vedit in _virt_cases().items():
        doc = _virt_doc()
        vedit(doc)
        (bad / f"{code}.json").write_text(json.dumps(doc, indent=2) + "\n")
    for code, data in _blob_invalid().items():
        suffix = {"JSON-SYNTAX": ".json", "INPUT-FORMAT-UNKNOWN": ".txt"}.get(code, ".gicmig")
        (bad / f"{code}{suffix}").write_bytes(data)
    print(f"wrote {OUT}", file=sys.stderr)


# --- schema revision 3: the latch_maybe_stale marker ---------------------------------------------
V3 = OUT.parent / "v3"
KVM_EXAMPLE = OUT.parent / "kvm" / "two-vcpu.json"


def kvm_stale_latch() -> GicState:
    """The two-vCPU KVM example after vCPU 0 acknowledged its timer PPI (27) whose latch was
    set: KVM reads it pending + active until the deactivation (schema revision 3 marks it)."""
    from gicmig.views.kvm.reader import import_kvm

    doc = json.loads(KVM_EXAMPLE.read_text())
    for r in doc["registers"]:
        if (r["group"], r["vcpu"], int(r["offset"], 16)) in (("dist", 0, 0x200),
                                                                ("dist", 0, 0x280)):
            r["value"] = f"{1 << 27:#010x}"
    state = import_kvm(json.dumps(doc).encode())
    assert state.schema_revision == 3 and state.banked[0].latch_maybe_stale == 1 << 27
    return state


def main_v3() -> None:
    V3.mkdir(parents=True, exist_ok=True)
    state = kvm_stale_latch()
    (V3 / "kvm-stale-latch.json").write_text(to_json(state))
    (V3 / "kvm-stale-latch.gicmig").write_bytes(gicmig.encode(state))
    bad = V3 / "invalid"
    bad.mkdir(exist_ok=True)
    doc = json.loads(to_json(state))
    doc["cpus"][1]["irqs"]["27"]["latch_maybe_stale"] = True  # pending, not active
    (bad / "IRQ-LATCH-STALE-INVALID.json").write_text(json.dumps(doc, indent=2) + "\n")
    blob = gicmig.encode(state)
    header = envelope.read_header(blob)
    (bad / "BLOB-REVISION-MISMATCH.gicmig").write_bytes(
        envelope.pack(envelope.payload_of(blob, header), 2))
    print(f"wrote {V3}", file=sys.stderr)


if __name__ == "__main__":
    main_v3() if sys.argv[1:] == ["--v3"] else main()
