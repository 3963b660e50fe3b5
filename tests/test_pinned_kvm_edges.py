"""Pinned edges of the KVM view that the large mutation sample found unpinned
(docs/testing.md). Distributor banks (gic-domain.md §4.5): ICFGR at 0xC00, 2 bits per ID,
so GICD_ICFGR63 (0xCFC) covers IDs 1008-1023 and 0xD00 is past every bank.
"""

from __future__ import annotations

import json

import pytest
from test_kvm_replay import KvmModel

from gicmig.abi.kvm.access import Access, KvmDump
from gicmig.errors import GicmigError
from gicmig.views.kvm.dump import Loss, parse_dump, parse_writes_document, writes_to_json
from gicmig.views.kvm.reader import KvmDumpIncomplete, import_kvm


def _dump(*extra: Access, drop: tuple[int, ...] = ()) -> KvmDump:
    base = KvmModel(1, 64).save()
    kept = tuple(a for a in base.accesses if not (a.group == "dist" and a.offset in drop))
    return KvmDump(base.nr_irqs, kept + extra)


@pytest.mark.parametrize(("offset", "code", "text"), [
    (0xCFC, "KVM-DUMP-IRQ-OUT-OF-RANGE", "from 1008, beyond nr_irqs 64"),
    (0xD00, "KVM-DUMP-UNKNOWN-REGISTER", "KVM holds no state there"),
])
def test_a_stray_read_past_the_banks(offset: int, code: str, text: str) -> None:
    with pytest.raises(GicmigError) as info:
        import_kvm(_dump(Access("dist", 0, offset, 1)))
    assert info.value.code == code
    assert text in info.value.message


def test_missing_registers_are_listed_as_runs() -> None:
    """ITARGETSR8, 9 and 11 missing (0x820, 0x824, 0x82c): two runs, in read order."""
    with pytest.raises(KvmDumpIncomplete) as info:
        import_kvm(_dump(drop=(0x820, 0x824, 0x82C)))
    assert info.value.missing == ("GICD_ITARGETSR8-9", "GICD_ITARGETSR11")


def test_writes_document_losses_round_trip() -> None:
    losses = (Loss("KVM-EXPORT-A", "cpu0", "first"), Loss("KVM-EXPORT-B", "irq 40", "second"))
    writes = (Access("dist", 0, 0x000, 1),)
    doc = parse_writes_document(writes_to_json(64, writes, losses))
    assert (doc.nr_irqs, doc.writes, doc.losses) == (64, writes, losses)
    assert parse_writes_document(writes_to_json(64, writes)).losses == ()


def test_writes_document_losses_must_be_a_list() -> None:
    text = writes_to_json(64, (Access("dist", 0, 0x000, 1),)).replace(
        '{\n', '{\n  "losses": {},\n', 1)
    with pytest.raises(GicmigError) as info:
        parse_writes_document(text)
    assert info.value.code == "KVM-DUMP-FIELD"
    assert "losses: expected a list" in info.value.message


def test_writes_document_loss_fields_must_be_strings() -> None:
    text = writes_to_json(64, (Access("dist", 0, 0x000, 1),), (Loss("A", "b", "c"),))
    with pytest.raises(GicmigError) as info:
        parse_writes_document(text.replace('"place": "b"', '"place": 7'))
    assert info.value.code == "KVM-DUMP-FIELD"
    assert "losses[0]: code, place and message are strings" in info.value.message


@pytest.mark.parametrize("intid", [16, 31])
def test_a_ppi_edge_bit_lands_on_its_own_id(intid: int) -> None:
    """GICD_ICFGR1 holds PPIs 16..31 (2 bits each): the edge bit of the first and the last
    PPI lands on exactly that ID, next to the SGIs' fixed edges (0x0000ffff)."""
    model = KvmModel(1, 64)
    model.private[0][intid].edge = True
    st = import_kvm(model.save())
    assert st.banked[0].edge == 0xFFFF | 1 << intid
    assert [i for i in range(16, 32) if st.irq(i, 0).edge] == [intid]


def _entry(**fields: object) -> str:
    entry = {"group": "dist", "vcpu": 0, "offset": 0, "value": 0} | fields
    return json.dumps({"format": "gicmig.kvm-dump/1", "nr_irqs": 64, "registers": [entry]})


@pytest.mark.parametrize(("key", "value", "bits"), [
    ("value", 32, 32), ("vcpu", 8, 8), ("offset", 32, 32), ("attr", 64, 64)])
def test_each_integer_of_an_entry_at_its_width(key: str, value: int, bits: int) -> None:
    """The top value of a field's width is read, as a JSON integer and as a hex string; one
    more is refused with the field's place, either way (offsets and attrs are then refused
    by their frame and reserved bits: their place is what counts here)."""
    top = (1 << bits) - 1
    if key in ("value", "vcpu"):
        for given in (top, f"{top:#x}"):
            access = parse_dump(_entry(**{key: given})).accesses[0]
            assert getattr(access, key) == top
    for given in (top + 1, f"{top + 1:#x}", -1):
        with pytest.raises(GicmigError) as info:
            parse_dump(_entry(**{key: given}))
        # 2**64 in hex has 17 digits: not a "0x..." string (at most 16) before out of range
        long_hex = isinstance(given, str) and bits == 64
        assert info.value.code == ("KVM-DUMP-FIELD" if long_hex else "KVM-DUMP-RANGE")
        assert info.value.message.startswith(f"registers[0].{key}: ")



@pytest.mark.parametrize("given", [0, 9])
def test_a_vcpu_count_outside_1_to_8_is_refused(given: int) -> None:
    """A GICv2 has at most 8 CPU interfaces (GICD_TYPER.CPUNumber is 3 bits)."""
    with pytest.raises(GicmigError) as exc:
        import_kvm(_dump(drop=(0x004,)), num_cpus=given)
    assert (exc.value.code, exc.value.message) == ("USAGE", f"--num-cpus {given} is not in 1..8")


def test_a_vcpu_count_of_1_and_8_is_taken() -> None:
    """Without GICD_TYPER the caller's count stands: 1 imports, 8 asks for vCPUs 1-7."""
    assert import_kvm(_dump(drop=(0x004,)), num_cpus=1).config.num_cpus == 1
    with pytest.raises(KvmDumpIncomplete) as info:
        import_kvm(_dump(drop=(0x004,)), num_cpus=8)
    assert info.value.missing[-1] == "vcpu7 GICC_APR0"


@pytest.mark.parametrize(("offset", "message"), [
    ("0xffffffff", "writes[0]: dist offset 0xffffffff is not a 32-bit aligned offset below "
                   "0x1000 (the ABI accesses whole registers only)"),
    ("0x100000000", "writes[0].offset: 0x100000000 does not fit in 32 bits")])
def test_a_write_offset_is_a_32_bit_field(offset: str, message: str) -> None:
    """KVM_DEV_ARM_VGIC_OFFSET is attr bits [31:0] (gic-domain.md §4.5): an offset of 33
    bits is refused as such, before the register check."""
    text = ('{"format": "gicmig.kvm-writes/1", "nr_irqs": 64, "writes": [{"group": "dist", '
            f'"vcpu": 0, "offset": "{offset}", "value": "0x1"}}]}}')
    with pytest.raises(GicmigError) as info:
        parse_writes_document(text)
    assert (info.value.code, info.value.message) == ("KVM-DUMP-RANGE", message)


@pytest.mark.parametrize(("num_cpus", "ranges"), [(None, 22), (1, 21), (2, 33)])
def test_an_empty_dump_lacks_everything_but_names_no_vcpu(num_cpus: int | None,
                                                          ranges: int) -> None:
    """A dump of no access reads no vCPU's registers: it is incomplete (without GICD_TYPER
    the vCPU count is missing too), never out of range for a 1-vCPU VM."""
    with pytest.raises(KvmDumpIncomplete) as info:
        import_kvm(KvmDump(64, ()), num_cpus=num_cpus)
    assert f"the dump lacks registers the state needs ({ranges} ranges): " in str(info.value)
    assert ("GICD_TYPER (or the vCPU count: --num-cpus)" in info.value.missing) == (
        num_cpus is None)
