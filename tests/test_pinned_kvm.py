"""Pinned register values of the KVM device-ABI view (gic-domain.md §4.5, §4.6, §1.1).

Distributor offsets: IGROUPR 0x080, ISENABLER 0x100, ICENABLER 0x180, ISPENDR 0x200,
ICPENDR 0x280, ISACTIVER 0x300, ICACTIVER 0x380 (1 bit per ID), IPRIORITYR 0x400,
ITARGETSR 0x800 (8 bits), ICFGR 0xC00 (2 bits, Int_config = bit 2F+1), CPENDSGIR 0xF10,
SPENDSGIR 0xF20 (byte b of register r = SGI 4r+b, bit k = source CPU k). KVM's GICD_CTLR
has one enable (bit 0); GICD_IIDR = 0x4B << 24 | revision << 12 | 0x43B; GICD_TYPER =
ITLinesNumber | (vCPUs - 1) << 5; CPU registers: CTLR 0x00, PMR 0x04 as VMPriMask in [4:0],
BPR 0x08, ABPR 0x1C, APR0 0xD0 = GICH_APR (bit n = group priority n << 3), GICC_IIDR 0xFC =
0x4B << 20 | 2 << 16 | 0x43B; the attr is offset | vcpu_index << 32. Restore writes
all-ones to a W1C register before the W1S one, IIDR before IGROUPR, targets and trigger
before pending (§5.5).
"""

from __future__ import annotations

import pytest

from gicmig.abi.kvm import kvm_config
from gicmig.abi.kvm.access import Access, KvmDump
from gicmig.core.model import UNKNOWN_CPU, GicState
from gicmig.errors import GicmigError
from gicmig.views.kvm import dump_kvm, export_kvm, import_kvm


def state() -> GicState:
    st = GicState.reset(kvm_config(2, 96))
    st.enable_grp0, st.enable_grp1_unknown = True, True
    b0, b1 = st.banked
    b0.sgi_sources = b"\x00\x02"  # SGI 1 pending on vCPU 0 from vCPU 1
    b0.active, b0.sgi_active_source = 1 << 3, bytes(3) + bytes([UNKNOWN_CPU])
    b1.group, b1.enabled = 1 << 27, 0xFFFF | 1 << 27
    b1.priority = bytes(27) + b"\xa0"
    b1.pending_latch = b1.pending_split_unknown = 1 << 27  # level PPI 27, latch OR line
    sh = st.shared
    sh.enabled, sh.edge = 1 << 1, 1 << 1  # SPI 33: edge, enabled, latched
    sh.pending_latch = 1 << 1 | 1 << 63
    sh.pending_split_unknown = 1 << 63  # SPI 95: level, group 1
    sh.group = 1 << 63
    sh.priority = b"\x00\x48"
    sh.targets = bytes([0, 0x02]) + bytes(6) + b"\x01" + bytes(54) + b"\x03"
    sh.active, sh.active_cpu = 1 << 8, bytes(8) + bytes([UNKNOWN_CPU])  # SPI 40
    ci = st.cpu[0]
    ci.ctlr, ci.pmr, ci.bpr, ci.abpr = 0x21F, 0xF0, 3, 4
    ci.active_group_unknown = 1 << 80  # group priority 0xa0
    return st


WRITES = {
    ("dist", 0, 0x008): 0x4B00_243B,  # GICD_IIDR, revision 2: IGROUPR writable
    ("dist", 0, 0x000): 0x1,
    ("dist", 0, 0x080): 0x0, ("dist", 1, 0x080): 0x0800_0000,
    ("dist", 0, 0x084): 0x0, ("dist", 0, 0x088): 0x8000_0000,
    ("dist", 0, 0xC08): 0x0000_0008,  # ICFGR2: SPI 33 edge (field 1, bit 3)
    ("dist", 0, 0xC0C): 0x0, ("dist", 0, 0xC10): 0x0, ("dist", 0, 0xC14): 0x0,
    ("dist", 0, 0x820): 0x0000_0200,  # ITARGETSR8: SPI 33 -> vCPU 1
    ("dist", 0, 0x828): 0x0000_0001,  # ITARGETSR10: SPI 40 -> vCPU 0
    ("dist", 0, 0x85C): 0x0300_0000,  # ITARGETSR23: SPI 95 -> both
    ("dist", 0, 0x420): 0x0000_4800,  # IPRIORITYR8: SPI 33 at 0x48
    ("dist", 1, 0x418): 0xA000_0000,  # vCPU 1 IPRIORITYR6: PPI 27 at 0xa0
    ("dist", 0, 0x180): 0xFFFF_FFFF, ("dist", 1, 0x180): 0xFFFF_FFFF,
    ("dist", 0, 0x184): 0xFFFF_FFFF, ("dist", 0, 0x188): 0xFFFF_FFFF,
    ("dist", 0, 0x100): 0x0000_FFFF, ("dist", 1, 0x100): 0x0800_FFFF,
    ("dist", 0, 0x104): 0x0000_0002, ("dist", 0, 0x108): 0x0,
    ("dist", 0, 0x200): 0x0,  # SGI bits never written to ISPENDR0 (§4.5)
    ("dist", 1, 0x200): 0x0800_0000,
    ("dist", 0, 0x204): 0x0000_0002, ("dist", 0, 0x208): 0x8000_0000,
    ("dist", 0, 0x300): 0x0000_0008, ("dist", 1, 0x300): 0x0,
    ("dist", 0, 0x304): 0x0000_0100, ("dist", 0, 0x308): 0x0,
    ("dist", 0, 0xF10): 0xFFFF_FFFF, ("dist", 1, 0xF1C): 0xFFFF_FFFF,
    ("dist", 0, 0xF20): 0x0000_0200,  # SGI 1 from vCPU 1
    ("dist", 0, 0xF24): 0x0, ("dist", 1, 0xF20): 0x0,
    ("cpu", 0, 0x00): 0x21F, ("cpu", 0, 0x04): 0x1E, ("cpu", 0, 0x08): 3,
    ("cpu", 0, 0x1C): 4, ("cpu", 0, 0xD0): 0x0010_0000,
    ("cpu", 1, 0x00): 0x0, ("cpu", 1, 0x04): 0x0, ("cpu", 1, 0x08): 2, ("cpu", 1, 0x1C): 3,
    ("cpu", 1, 0xD0): 0x0,
}


def test_restore_writes() -> None:
    writes = export_kvm(state())
    got = {(a.group, a.vcpu, a.offset): a.value for a in writes}
    assert len(got) == len(writes)  # each register written once
    assert {k: got.get(k) for k in WRITES} == WRITES
    order = [(a.group, a.vcpu, a.offset) for a in writes]
    assert order[0] == ("dist", 0, 0x008)  # IIDR first: it ungates IGROUPR

    def at(key: tuple[str, int, int]) -> int:
        return order.index(key)

    assert at(("dist", 0, 0x080)) > at(("dist", 0, 0x008))
    assert at(("dist", 0, 0x820)) < at(("dist", 0, 0x204))  # targets before pending
    assert at(("dist", 0, 0xC08)) < at(("dist", 0, 0x204))  # trigger before pending
    for clear, set_ in ((0x180, 0x100), (0x280, 0x200), (0x380, 0x300), (0xF10, 0xF20)):
        assert at(("dist", 1, clear)) < at(("dist", 1, set_))
    assert not any(a.group == "cpu" and a.offset in (0xD4, 0xD8, 0xDC, 0xFC) for a in writes)


def test_dump_image_and_import() -> None:
    st = state()
    regs = dump_kvm(st).registers()
    assert regs[("dist", 0, 0x004)] == 0x22  # ITLinesNumber 2 (96 IDs), CPUNumber 1
    assert regs[("dist", 0, 0x000)] == 0x1
    assert regs[("dist", 1, 0x800)] == 0x0202_0202  # private targets: the vCPU's own bit
    assert regs[("dist", 0, 0x81C)] == 0x0101_0101
    assert regs[("dist", 0, 0x200)] == 0x0000_0002  # ISPENDR0 read: SGI 1 pending
    assert regs[("dist", 0, 0x280)] == 0x0000_0002
    assert regs[("dist", 0, 0xC00)] == 0xAAAA_AAAA  # SGIs edge: Int_config of 0-15
    assert regs[("dist", 0, 0xC04)] == 0x0  # PPIs level
    assert regs[("cpu", 0, 0xFC)] == 0x04B2_043B
    assert regs[("cpu", 0, 0xD4)] == 0
    back = import_kvm(dump_kvm(st))
    assert back.shared.targets == st.shared.targets
    assert back.shared.pending_latch == st.shared.pending_latch
    assert back.cpu[0].pmr == 0xF0 and back.cpu[0].active_group_unknown == 1 << 80
    assert back.banked[1].priority == st.banked[1].priority
    assert back.banked[0].sgi_sources == b"\x00\x02" + bytes(14)
    assert back.shared.active_cpu[8] == UNKNOWN_CPU


def test_attr_of_an_access() -> None:
    assert Access("dist", 1, 0x80, 0).attr == 0x1_0000_0080
    assert Access("cpu", 7, 0xD0, 0).attr == 0x7_0000_00D0


def _import(regs: dict[tuple[str, int, int], int], nr_irqs: int = 96) -> GicState:
    acc = tuple(Access(g, c, o, v) for (g, c, o), v in regs.items())
    return import_kvm(KvmDump(nr_irqs, acc))


def test_import_edges() -> None:
    base = dump_kvm(state()).registers()
    _import(base)
    for key, value, code in (
            (("dist", 0, 0x004), 0x21, "KVM-DUMP-TYPER-MISMATCH"),  # 1 vCPU
            (("dist", 0, 0x004), 0x23, "KVM-DUMP-TYPER-MISMATCH"),  # 128 IDs
            (("dist", 1, 0x800), 0x0101_0101, "KVM-DUMP-PRIVATE-TARGETS"),
            (("dist", 0, 0x008), 0x4B00_043B, "KVM-DUMP-IIDR"),  # revision 0
            (("dist", 0, 0x008), 0x4B10_243B, "KVM-DUMP-IIDR"),  # variant 1
            (("dist", 0, 0x000), 0x3, "KVM-DUMP-RESERVED-BITS"),
            (("cpu", 0, 0x04), 0x20, "KVM-DUMP-RESERVED-BITS"),  # wider than VMPriMask
            (("cpu", 0, 0xD4), 0x1, "KVM-DUMP-APR-FORMAT"),
            (("cpu", 0, 0xFC), 0x04B1_043B, "KVM-DUMP-IIDR"),
            (("dist", 0, 0xC00), 0xAAAA_AAA8, "KVM-DUMP-RESERVED-BITS"),  # SGI 0 level
            (("dist", 0, 0xC08), 0x0000_0001, "KVM-DUMP-RESERVED-BITS"),  # bit 2F reserved
            (("dist", 0, 0x184), 0x0000_0000, "KVM-DUMP-INCONSISTENT"),  # ISENABLER1 says 2
            (("dist", 0, 0x30C), 0x0000_0001, "KVM-DUMP-IRQ-OUT-OF-RANGE"),  # IDs 96-127
    ):
        with pytest.raises(GicmigError) as info:
            _import({**base, key: value})
        assert info.value.code == code, (key, hex(value), str(info.value))
    for rev in (1, 2, 3):
        _import({**base, ("dist", 0, 0x008): 0x4B00_003B | 0x400 | rev << 12})


@pytest.mark.parametrize(("apr0", "levels"), [(0x1, 1 << 0), (0x8000_0000, 1 << 124),
                                               (0x8000_0001, 1 << 124 | 1)])
def test_apr0_bits_are_levels_4n(apr0: int, levels: int) -> None:
    """GICC_APR0 through the ABI is GICH_APR: bit n is group priority n << 3 (§4.6)."""
    base = dump_kvm(state()).registers()
    st = _import({**base, ("cpu", 1, 0xD0): apr0})
    ci = st.cpu[1]  # (the group of a level is the attribution rule's business)
    assert ci.active_group0 | ci.active_group1 | ci.active_group_unknown == levels
    ci.active_group0 = ci.active_group1 = 0
    ci.active_group_unknown = levels
    writes = export_kvm(st, lenient=True)  # (SPI 40's CPU may now be attributed)
    assert {(a.group, a.vcpu, a.offset): a.value for a in writes}[("cpu", 1, 0xD0)] == apr0


@pytest.mark.parametrize(("given", "ok"), [(0, False), (1, True), (8, True), (9, False)])
def test_num_cpus_argument(given: int, ok: bool) -> None:
    st = GicState.reset(kvm_config(given if ok else 1, 64))
    regs = {k: v for k, v in dump_kvm(st).registers().items() if k != ("dist", 0, 0x004)}
    acc = tuple(Access(g, c, o, v) for (g, c, o), v in regs.items())
    if ok:
        assert import_kvm(KvmDump(64, acc), num_cpus=given).config.num_cpus == given
        return
    with pytest.raises(GicmigError) as info:
        import_kvm(KvmDump(64, acc), num_cpus=given)
    assert info.value.code == "USAGE"
