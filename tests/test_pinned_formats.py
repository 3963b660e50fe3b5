"""Pinned edges of the two JSON interchange formats (gicmig.gich-view/1, gicmig.kvm-dump/1):
32-bit register values, list lengths, the KVM attr (offset [31:0], vcpu_index [39:32],
[63:40] reserved; gic-domain §4.5), NR_IRQS 64..992 in steps of 32, whole aligned registers
inside the 4 KiB distributor / 8 KiB CPU frames, strict keys; and the exact text written."""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonschema
import pytest

from gicmig import GicConfig, GicState
from gicmig.abi.kvm.access import Access, KvmDump, register_name
from gicmig.errors import DecodeError, GicmigError
from gicmig.formats.codec import encode
from gicmig.views.gich.viewfile import GichView, VcpuRegs, json_schema, parse_view, to_json
from gicmig.views.kvm.dump import dump_to_json, parse_dump, parse_writes, writes_to_json

IMAGE = GicState.reset(GicConfig(1, 64, priority_bits=5, min_bpr=2))
BLOB = {"blob_base64": base64.b64encode(encode(IMAGE)).decode()}


def view(vcpus: Any = None, distributor: Any = None, **top: Any) -> str:
    vcpu = {"vtr": "0x90000003", "hcr": 1, "vmcr": "0x004c0000", "apr": 0,
            "lr": [0, 0, 0, 0]}
    doc = {"format": "gicmig.gich-view/1", "vcpus": [vcpu] if vcpus is None else vcpus,
           "distributor": BLOB if distributor is None else distributor, **top}
    return json.dumps(doc)


def gich_refused(text: str) -> str:
    with pytest.raises(DecodeError) as info:
        parse_view(text)
    assert info.value.code in ("GICH-VIEW-SCHEMA", "GICH-VIEW-SYNTAX"), str(info.value)
    return str(info.value)


def vcpu(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"vtr": 0x9000_0003, "hcr": 1, "vmcr": 0x004C_0000, "apr": 0,
                            "lr": [0, 0, 0, 0]}
    return {**base, **kw}


@pytest.mark.parametrize(("value", "ok"), [
    (0, True), (0xFFFF_FFFF, True), (0x1_0000_0000, False), (-1, False),
    ("0x0", True), ("0xffffffff", True), ("0x100000000", False), ("0XFF", False), ("12", False),
    (True, False), (1.0, False), (None, False)])
def test_gich_register_values(value: Any, ok: bool) -> None:
    text = view([vcpu(apr=value)])
    if ok:
        got = parse_view(text).vcpus[0].apr
        assert got == (int(value, 16) if isinstance(value, str) else value)
    else:
        assert "vcpus[0].apr" in gich_refused(text)


def test_gich_lists_and_keys() -> None:
    parse_view(view([vcpu(lr=[0])]))
    parse_view(view([vcpu(lr=[0] * 64)]))
    assert "vcpus[0].lr" in gich_refused(view([vcpu(lr=[])]))
    assert "vcpus[0].lr" in gich_refused(view([vcpu(lr=[0] * 65)]))
    assert "vcpus[0].lr[2]" in gich_refused(view([vcpu(lr=[0, 0, "x", 0])]))
    assert len(parse_view(view([vcpu()] * 8)).vcpus) == 8
    assert "vcpus" in gich_refused(view([]))
    assert "vcpus" in gich_refused(view([vcpu()] * 9))
    assert "unknown key(s) extra" in gich_refused(view(extra=1))
    assert "missing hcr" in gich_refused(view([{k: v for k, v in vcpu().items()
                                                 if k != "hcr"}]))
    regs = parse_view(view([vcpu(misr=1, elrsr1="0x2")])).vcpus[0]
    assert (regs.misr, regs.eisr0, regs.elrsr1) == (1, None, 2)
    assert "format" in gich_refused(view(format="gicmig.gich-view/2"))
    gich_refused("{")
    assert "distributor.path" in gich_refused(view(distributor={"path": ""}))
    assert "distributor.path" in gich_refused(view(distributor={"path": "/etc/x"}))
    assert "distributor.blob_base64" in gich_refused(view(distributor={"blob_base64": 1}))
    assert "distributor.blob_base64" in gich_refused(view(distributor={"blob_base64": "@@"}))
    assert "exactly one" in gich_refused(view(distributor={}))
    assert "distributor" in gich_refused(view(distributor={"path": "a", "blob_base64": ""}))


def test_gich_view_text_and_schema() -> None:
    v = GichView((VcpuRegs(0x9000_0003, 1, 0x004C_0000, 0x10, (0x1000_0020, 0, 0, 0),
                           misr=0, elrsr0=0xE),), IMAGE)
    text = to_json(v, distributor="blob")
    assert text.startswith('{\n  "format": "gicmig.gich-view/1",\n  "vcpus": [\n'
                           '    {"vtr": "0x90000003", "hcr": "0x00000001", '
                           '"vmcr": "0x004c0000", "apr": "0x00000010",\n'
                           '     "lr": ["0x10000020", "0x00000000", "0x00000000", "0x00000000"],\n'
                           '     "misr": "0x00000000", "elrsr0": "0x0000000e"}\n  ],\n'
                           '  "distributor": {"blob_base64": "')
    assert parse_view(text) == v
    assert parse_view(to_json(v)) == v
    with pytest.raises(GicmigError) as info:
        to_json(v, distributor="yaml")
    assert info.value.code == "USAGE"
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(text), schema)
    for bad in (view(extra=1), view([vcpu(apr=0x1_0000_0000)]), view([vcpu(lr=[])]),
                view([vcpu(nope=1)]), view(distributor={"path": ""})):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(json.loads(bad), schema)
    jsonschema.validate(json.loads(view([vcpu(apr=0xFFFF_FFFF)])), schema)


# --- the KVM dump ------------------------------------------------------------------------------
def dump(*regs: dict[str, Any], nr_irqs: Any = 64, **top: Any) -> str:
    return json.dumps({"format": "gicmig.kvm-dump/1", "nr_irqs": nr_irqs,
                       "registers": list(regs), **top})


def kvm_refused(text: str, code: str) -> str:
    with pytest.raises(DecodeError) as info:
        parse_dump(text)
    assert info.value.code == code, str(info.value)
    return str(info.value)


@pytest.mark.parametrize(("n", "ok"), [(32, False), (63, False), (64, True), (96, True),
                                       (100, False), (992, True), (993, False), (1024, False),
                                       ("0x40", True)])
def test_nr_irqs(n: Any, ok: bool) -> None:
    if ok:
        assert parse_dump(dump(nr_irqs=n)).nr_irqs == (int(n, 16) if isinstance(n, str) else n)
    else:
        kvm_refused(dump(nr_irqs=n), "KVM-DUMP-NR-IRQS")


@pytest.mark.parametrize(("entry", "where"), [
    ({"group": "dist", "attr": "0x100000080", "value": 5}, ("dist", 1, 0x80)),
    ({"group": "cpu", "attr": 0xFF_0000_1FFC, "value": 5}, ("cpu", 255, 0x1FFC)),
    ({"group": "dist", "vcpu": 7, "offset": "0xffc", "value": 5}, ("dist", 7, 0xFFC)),
    ({"group": "dist", "vcpu": 1, "offset": 128, "attr": "0x100000080", "value": 5},
     ("dist", 1, 0x80)),
])
def test_kvm_access_addressing(entry: dict[str, Any], where: tuple[str, int, int]) -> None:
    a = parse_dump(dump(entry)).accesses[0]
    assert (a.group, a.vcpu, a.offset, a.value) == (*where, 5)


@pytest.mark.parametrize(("entry", "code"), [
    ({"group": "dist", "attr": 1 << 40, "value": 0}, "KVM-DUMP-RANGE"),  # bit 40 reserved
    ({"group": "dist", "attr": 1 << 63, "value": 0}, "KVM-DUMP-RANGE"),
    ({"group": "dist", "attr": 1 << 64, "value": 0}, "KVM-DUMP-RANGE"),
    ({"group": "dist", "vcpu": 256, "offset": 0, "value": 0}, "KVM-DUMP-RANGE"),
    ({"group": "dist", "vcpu": 0, "offset": 0x1000, "value": 0}, "KVM-DUMP-RANGE"),
    ({"group": "cpu", "vcpu": 0, "offset": 0x2000, "value": 0}, "KVM-DUMP-RANGE"),
    ({"group": "dist", "vcpu": 0, "offset": 0x102, "value": 0}, "KVM-DUMP-RANGE"),
    ({"group": "dist", "vcpu": 0, "offset": 0, "value": 1 << 32}, "KVM-DUMP-RANGE"),
    ({"group": "dist", "vcpu": 0, "offset": 0, "value": -1}, "KVM-DUMP-RANGE"),
    ({"group": "dist", "vcpu": 0, "value": 0}, "KVM-DUMP-FIELD"),  # vcpu without offset
    ({"group": "dist", "offset": 0, "value": 0}, "KVM-DUMP-FIELD"),
    ({"group": "dist", "value": 0}, "KVM-DUMP-FIELD"),
    ({"group": "dist", "vcpu": 0, "offset": 4, "attr": 8, "value": 0}, "KVM-DUMP-FIELD"),
    ({"group": "gich", "vcpu": 0, "offset": 0, "value": 0}, "KVM-DUMP-FIELD"),
    ({"group": "dist", "vcpu": 0, "offset": 0, "value": 0, "name": 3}, "KVM-DUMP-FIELD"),
    ({"group": "dist", "vcpu": 0, "offset": 0, "value": True}, "KVM-DUMP-FIELD"),
    ({"group": "dist", "vcpu": 0, "offset": 0, "value": "12"}, "KVM-DUMP-FIELD"),
    ({"group": "dist", "vcpu": 0, "offset": 0, "value": 0, "extra": 0}, "KVM-DUMP-FIELD"),
    ({"vcpu": 0, "offset": 0, "value": 0}, "KVM-DUMP-FIELD"),
    ([], "KVM-DUMP-FIELD"),
])
def test_kvm_access_refusals(entry: Any, code: str) -> None:
    assert "registers[0]" in kvm_refused(dump(entry), code)


def test_kvm_document_refusals() -> None:
    kvm_refused(dump(format="gicmig.kvm-dump/2"), "KVM-DUMP-FORMAT")
    kvm_refused('{"a": 1, "a": 2}', "KVM-DUMP-SYNTAX")
    kvm_refused('{"nr_irqs": NaN}', "KVM-DUMP-SYNTAX")
    kvm_refused(b"\xff", "KVM-DUMP-SYNTAX")
    kvm_refused(dump(vmm=1), "KVM-DUMP-FIELD")
    kvm_refused(dump(other="x"), "KVM-DUMP-FIELD")
    kvm_refused(json.dumps({"format": "gicmig.kvm-dump/1", "nr_irqs": 64, "registers": {}}),
                "KVM-DUMP-FIELD")
    kvm_refused(json.dumps({"format": "gicmig.kvm-dump/1", "registers": []}), "KVM-DUMP-FIELD")
    same = {"group": "dist", "vcpu": 0, "offset": 0, "value": 1}
    parse_dump(dump(same, same))
    assert "registers[1]" in kvm_refused(dump(same, {**same, "value": 0}), "KVM-DUMP-DUPLICATE")
    d = parse_dump(dump(vmm="qemu", vmm_version="7.2", host_kernel="6.1"))
    assert (d.vmm, d.vmm_version, d.host_kernel) == ("qemu", "7.2", "6.1")


@pytest.mark.parametrize(("group", "offset", "name"), [
    ("dist", 0x000, "GICD_CTLR"), ("dist", 0x004, "GICD_TYPER"), ("dist", 0x008, "GICD_IIDR"),
    ("dist", 0xF00, "GICD_SGIR"), ("dist", 0x080, "GICD_IGROUPR0"),
    ("dist", 0x0FC, "GICD_IGROUPR31"), ("dist", 0x100, "GICD_ISENABLER0"),
    ("dist", 0x7FC, "GICD_IPRIORITYR255"), ("dist", 0x800, "GICD_ITARGETSR0"),
    ("dist", 0xCFC, "GICD_ICFGR63"), ("dist", 0xF10, "GICD_CPENDSGIR0"),
    ("dist", 0xF1C, "GICD_CPENDSGIR3"), ("dist", 0xF20, "GICD_SPENDSGIR0"),
    ("dist", 0xF2C, "GICD_SPENDSGIR3"), ("dist", 0xF30, "GICD+0xf30"),
    ("dist", 0xE00, "GICD+0xe00"), ("dist", 0x00C, "GICD+0xc"),
    ("cpu", 0x00, "GICC_CTLR"), ("cpu", 0x04, "GICC_PMR"), ("cpu", 0x08, "GICC_BPR"),
    ("cpu", 0x1C, "GICC_ABPR"), ("cpu", 0xD0, "GICC_APR0"), ("cpu", 0xDC, "GICC_APR3"),
    ("cpu", 0xE0, "GICC_NSAPR0"), ("cpu", 0xFC, "GICC_IIDR"), ("cpu", 0x1000, "GICC_DIR"),
    ("cpu", 0xCC, "GICC+0xcc"), ("cpu", 0xF0, "GICC+0xf0"),
])
def test_register_names(group: str, offset: int, name: str) -> None:
    assert register_name(group, offset) == name


def test_kvm_documents_written() -> None:
    d = KvmDump(64, (Access("dist", 1, 0x80, 5), Access("cpu", 0, 0x4, 0x1E)), vmm="qemu")
    text = dump_to_json(d)
    assert text == (
        '{\n  "format": "gicmig.kvm-dump/1",\n  "nr_irqs": 64,\n  "vmm": "qemu",\n'
        '  "registers": [\n'
        '    {"group": "dist", "vcpu": 1, "offset": "0x080", "value": "0x00000005", '
        '"attr": "0x100000080", "name": "GICD_IGROUPR0"},\n'
        '    {"group": "cpu", "vcpu": 0, "offset": "0x004", "value": "0x0000001e", '
        '"attr": "0x4", "name": "GICC_PMR"}\n  ]\n}\n')
    assert parse_dump(text) == d
    w = writes_to_json(96, d.accesses)
    assert w.startswith('{\n  "format": "gicmig.kvm-writes/1",\n  "nr_irqs": 96,\n  "writes"')
    assert parse_writes(w) == (96, d.accesses)
    with pytest.raises(DecodeError) as info:
        parse_writes(text)
    assert info.value.code == "KVM-DUMP-FORMAT"


def test_nr_irqs_width() -> None:
    """nr_irqs is a 32-bit attribute value: any 32-bit number is read, then range-checked."""
    kvm_refused(dump(nr_irqs=0x8000_0000), "KVM-DUMP-NR-IRQS")
    kvm_refused(dump(nr_irqs=0xFFFF_FFFF), "KVM-DUMP-NR-IRQS")
    kvm_refused(dump(nr_irqs=1 << 32), "KVM-DUMP-RANGE")
    kvm_refused(dump(nr_irqs=-64), "KVM-DUMP-RANGE")
