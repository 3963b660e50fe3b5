"""The list register's one decode and one encode (gicmig.arch.lr), pinned on words worked
out by hand from the architecture's layouts (IHI 0048B §5.3.11), not from the tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gicmig.arch.gich import status_registers, vmcr_holds, vmcr_of
from gicmig.arch.lr import Lr, LrBits, decode, decode_bits, encode, reserved_bits, state_of
from gicmig.arch.registers import GICH_LR, GICH_LR_HW, LR_COMMON_FIELDS

#  word          vid pend   act    grp prio  hw     cpuid eoi    phys  reserved
CASES = [
    (0x1080_0403, Lr(3, True, False, 0, 0x08, False, 1, False, None, 0)),
    (0x6808_0020, Lr(32, False, True, 1, 0x80, False, 0, True, None, 0)),
    (0xB000_7C1E, Lr(30, True, True, 0, 0x00, True, 0, False, 31, 0)),
    (0x8008_0000, Lr(0, False, False, 0, 0x00, True, 0, False, 512, 0)),  # PhysicalID bit 9
    (0x0FFF_FFFF, Lr(1023, False, False, 0, 0xF8, False, 7, True, None, 0x0077_E000)),
    (0x8010_0000, Lr(0, False, False, 0, 0x00, True, 0, False, 0, 0x0010_0000)),
    (0x0000_2000, Lr(0, False, False, 0, 0x00, False, 0, False, None, 0x2000)),
    (0x7F80_0000, Lr(0, True, True, 1, 0xF8, False, 0, False, None, 0)),
]


@pytest.mark.parametrize(("word", "want"), CASES)
def test_decode_pins_every_field(word: int, want: Lr) -> None:
    assert decode(word) == want
    assert reserved_bits(word) == want.reserved
    assert state_of(word) == int(want.pending) | int(want.active) << 1
    assert decode(word).valid == (want.pending or want.active)


def test_encode_pins_every_field() -> None:
    assert encode(3, pending=True, priority=0x08, cpuid=1) == 0x1080_0403
    assert encode(32, active=True, group=1, priority=0x80, eoi=True) == 0x6808_0020
    assert encode(30, pending=True, active=True, physical_id=31) == 0xB000_7C1E
    assert encode(0, physical_id=512) == 0x8008_0000
    assert encode(0, pending=True, active=True, group=1, priority=0xF8) == 0x7F80_0000
    assert encode(1019, eoi=True) == 0x0008_03FB


@pytest.mark.parametrize("kwargs", [
    {"virtual_id": 1024}, {"virtual_id": -1}, {"virtual_id": 0, "priority": 0x81},
    {"virtual_id": 0, "priority": 0x100}, {"virtual_id": 0, "cpuid": 8},
    {"virtual_id": 0, "group": 2}, {"virtual_id": 0, "physical_id": 1024},
    {"virtual_id": 40, "physical_id": 40, "eoi": True},
    {"virtual_id": 40, "physical_id": 40, "cpuid": 1},
])
def test_encode_refuses_what_no_field_holds(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"GICH_LR|HW=1"):
        encode(**kwargs)  # type: ignore[arg-type]


@given(st.integers(0, 0xFFFF_FFFF))
def test_encode_inverts_decode_on_every_word(word: int) -> None:
    d = decode(word)
    assert encode(d.virtual_id, pending=d.pending, active=d.active, group=d.group,
                  priority=d.priority, cpuid=d.cpuid, eoi=d.eoi,
                  physical_id=d.physical_id) == word & ~d.reserved
    layout = GICH_LR_HW if d.hw else GICH_LR
    assert d.reserved == word & layout.reserved_mask


def test_the_two_layouts_share_their_common_fields() -> None:
    for f in LR_COMMON_FIELDS:
        assert GICH_LR.field(f.name) is f and GICH_LR_HW.field(f.name) is f
    assert GICH_LR.reserved_mask == 0x0077_E000 and GICH_LR_HW.reserved_mask == 0x0070_0000




def test_decode_bits_pins_every_lr_of_the_cases() -> None:
    """The bulk decode on the words above: bit i is LRi's pending / active / EOI request
    (EOI under HW=0 only: 0x8008_0000 has PhysicalID bit 9 where HW=0 has EOI)."""
    words = [w for w, _ in CASES]
    assert decode_bits(words) == LrBits(pending=0b1000_0101, active=0b1000_0110,
                                        eoi=0b0001_0010)
    assert decode_bits(()) == LrBits(0, 0, 0)
    assert decode_bits([0x3000_0000] * 65) == LrBits((1 << 65) - 1, (1 << 65) - 1, 0)


def _by_lr(words: list[int]) -> LrBits:
    pend = act = eoi = 0
    for i, d in enumerate(map(decode, words)):
        pend |= d.pending << i
        act |= d.active << i
        eoi |= d.eoi << i
    return LrBits(pend, act, eoi)


@given(st.lists(st.integers(0, 0xFFFF_FFFF), max_size=70))
def test_decode_bits_is_decode_of_each_lr(words: list[int]) -> None:
    assert decode_bits(words) == _by_lr(words)
    assert decode_bits(tuple(words)) == _by_lr(words)


@given(st.integers(0, 0xFFFF_FFFF), st.integers(0, 0xFFFF_FFFF),
       st.lists(st.integers(0, 0xFFFF_FFFF), max_size=64))
def test_status_registers_follow_each_decoded_lr(hcr: int, vmcr: int, words: list[int]) -> None:
    """EISR/ELRSR/MISR by the architecture's per-LR definitions, read through `decode`."""
    lrs = [decode(w) for w in words]
    eisr = sum(1 << i for i, d in enumerate(lrs) if not d.valid and d.eoi)
    elrsr = sum(1 << i for i, d in enumerate(lrs) if not d.valid and not d.eoi)
    valid = sum(d.valid for d in lrs)
    g0, g1 = vmcr & 1, vmcr >> 1 & 1
    misr = (int(eisr != 0) | (hcr >> 1 & int(valid <= 1)) << 1
            | (hcr >> 2 & int(hcr >> 27 != 0)) << 2
            | (hcr >> 3 & int(not any(d.pending and not d.active for d in lrs))) << 3
            | (hcr >> 4 & g0) << 4 | (hcr >> 5 & 1 - g0) << 5
            | (hcr >> 6 & g1) << 6 | (hcr >> 7 & 1 - g1) << 7)
    assert status_registers(hcr, vmcr, words) == {
        "misr": misr & 0xFF, "eisr0": eisr & 0xFFFF_FFFF, "eisr1": eisr >> 32,
        "elrsr0": elrsr & 0xFFFF_FFFF, "elrsr1": elrsr >> 32}


@pytest.mark.parametrize(("bpr", "abpr"), [(8, 3), (2, 8), (-1, 3), (2, -1)])
def test_vmcr_of_refuses_a_binary_point_vmbp_or_vmabp_cannot_hold(bpr: int, abpr: int) -> None:
    with pytest.raises(ValueError, match=r"VMBP|VMABP"):
        vmcr_of(0, 0, bpr, abpr)


def test_vmcr_of_pins_every_field() -> None:
    """VMPriMask [31:27] = PMR[7:3], VMBP [23:21], VMABP [20:18], VEM [9], VMCBPR [4],
    VMFIQEn [3], VMAckCtl [2], VMGrp1En [1], VMGrp0En [0] (IHI 0048B §5.3.5)."""
    assert vmcr_of(0x21F, 0xFF, 7, 7) == 0xF8FC_021F
    assert vmcr_of(0x1E0, 0x07, 0, 0) == 0  # bypass disables and PMR[2:0] have no field
    assert vmcr_of(0x001, 0x80, 2, 3) == 0x804C_0001


@pytest.mark.parametrize(("ctlr", "pmr", "bpr", "abpr", "held"), [
    (0x21F, 0xF8, 7, 7, True),  # every CTLR_VMCR field, VMPriMask all ones, the widest points
    (0x000, 0x00, 0, 0, True),
    (0x020, 0x00, 0, 0, False),  # FIQBypDisGrp0: no GICH_VMCR field holds it
    (0x400, 0x00, 0, 0, False),  # beyond GICC_CTLR's fields
    (0x000, 0x08, 0, 0, True),  # VMPriMask bit 0 is PMR bit 3
    (0x000, 0x04, 0, 0, False),  # PMR[2:0] are lost
    (0x000, 0x100, 0, 0, False),  # beyond an 8-bit PMR
    (0x000, 0x00, 8, 0, False), (0x000, 0x00, 0, 8, False),
    (0x000, 0x00, -1, 0, False), (0x000, 0x00, 0, -1, False),
])
def test_vmcr_holds_a_vcpu_interface_only_whole(
        ctlr: int, pmr: int, bpr: int, abpr: int, held: bool) -> None:
    assert vmcr_holds(ctlr, pmr, bpr, abpr) is held
