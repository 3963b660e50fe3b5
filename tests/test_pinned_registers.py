"""The register tables, pinned field by field to the architecture.

Every offset, shift, width and reset value below is copied from gic-domain.md: §1.1/§1.2
(GICD map, CTLR, TYPER, IIDR, SGIR, ICFGR), §2.1/§2.2 (GICC map, CTLR bits 0-9), §3.1/§3.2
(GICH map, HCR, VTR, VMCR, MISR, EISR/ELRSR, APR, both LR layouts; GIC-400 VTR 0x90000003,
VMCR 0x004C0000), §4.5 (the KVM device ABI: attr [31:0] offset, [39:32] vcpu_index, frame
sizes, NR_IRQS 64..992, 5 priority bits, PMR as VMPriMask in [4:0], IIDR 0x4B / 0x43B).
Every decoder, encoder and validator reads these tables, so a slip here is a slip
everywhere; the code's own tables are never used to compute an expected value.
"""

from __future__ import annotations

import pytest

from gicmig.arch import registers as r

# register -> (offset, reset, {field: (shift, width)}, reserved mask)
TABLES: dict[str, tuple[int, int, dict[str, tuple[int, int]], int]] = {
    "GICD_CTLR": (0x000, 0, {"enable_grp0": (0, 1), "enable_grp1": (1, 1)}, 0xFFFF_FFFC),
    "GICD_TYPER": (0x004, 0, {"it_lines_number": (0, 5), "cpu_number": (5, 3),
                              "security_extn": (10, 1), "lspi": (11, 5)}, 0xFFFF_0300),
    "GICD_IIDR": (0x008, 0, {"implementer": (0, 12), "revision": (12, 4), "variant": (16, 4),
                             "product_id": (24, 8)}, 0x00F0_0000),
    "GICC_CTLR": (0x00, 0, {"enable_grp0": (0, 1), "enable_grp1": (1, 1), "ack_ctl": (2, 1),
                            "fiq_en": (3, 1), "cbpr": (4, 1), "fiq_byp_dis_grp0": (5, 1),
                            "irq_byp_dis_grp0": (6, 1), "fiq_byp_dis_grp1": (7, 1),
                            "irq_byp_dis_grp1": (8, 1), "eoi_mode": (9, 1)}, 0xFFFF_FC00),
    "GICC_PMR": (0x04, 0, {"priority": (0, 8)}, 0xFFFF_FF00),
    "GICC_BPR": (0x08, 0, {"binary_point": (0, 3)}, 0xFFFF_FFF8),
    "GICC_ABPR": (0x1C, 0, {"binary_point": (0, 3)}, 0xFFFF_FFF8),
    "GICH_HCR": (0x000, 0, {"en": (0, 1), "uie": (1, 1), "lrenpie": (2, 1), "npie": (3, 1),
                            "vgrp0eie": (4, 1), "vgrp0die": (5, 1), "vgrp1eie": (6, 1),
                            "vgrp1die": (7, 1), "eoicount": (27, 5)}, 0x07FF_FF00),
    "GICH_VTR": (0x004, 0x9000_0003, {"list_regs": (0, 6), "pre_bits": (26, 3),
                                      "pri_bits": (29, 3)}, 0x03FF_FFC0),
    "GICH_VMCR": (0x008, 0x004C_0000, {"vmgrp0en": (0, 1), "vmgrp1en": (1, 1),
                                       "vmackctl": (2, 1), "vmfiqen": (3, 1), "vmcbpr": (4, 1),
                                       "vem": (9, 1), "vmabp": (18, 3), "vmbp": (21, 3),
                                       "vmprimask": (27, 5)}, 0x0703_FDE0),
    "GICH_MISR": (0x010, 0, {"eoi": (0, 1), "u": (1, 1), "lrenp": (2, 1), "np": (3, 1),
                             "vgrp0e": (4, 1), "vgrp0d": (5, 1), "vgrp1e": (6, 1),
                             "vgrp1d": (7, 1)}, 0xFFFF_FF00),
    "GICH_EISR0": (0x020, 0, {"status": (0, 32)}, 0),
    "GICH_EISR1": (0x024, 0, {"status": (0, 32)}, 0),
    "GICH_ELRSR0": (0x030, 0, {"status": (0, 32)}, 0),
    "GICH_ELRSR1": (0x034, 0, {"status": (0, 32)}, 0),
    "GICH_APR": (0x0F0, 0, {"active": (0, 32)}, 0),
    "GICH_LR": (0x100, 0, {"virtual_id": (0, 10), "cpuid": (10, 3), "eoi": (19, 1),
                           "priority": (23, 5), "state": (28, 2), "grp1": (30, 1),
                           "hw": (31, 1)}, 0x0077_E000),
    "GICH_LR_HW": (0x100, 0, {"virtual_id": (0, 10), "physical_id": (10, 10),
                              "priority": (23, 5), "state": (28, 2), "grp1": (30, 1),
                              "hw": (31, 1)}, 0x0070_0000),
    "KVM_GICD_CTLR": (0x000, 0, {"enabled": (0, 1)}, 0xFFFF_FFFE),
    "GICD_SGIR": (0xF00, 0, {"sgi_int_id": (0, 4), "nsatt": (15, 1),
                             "cpu_target_list": (16, 8), "target_list_filter": (24, 2)},
                  0xFC00_7FF0),
    "GICD_ICFGR_FIELD": (0, 0, {"int_config": (1, 1)}, 0xFFFF_FFFD),
    "KVM_GICC_CTLR": (0x00, 0, {"enable_grp0": (0, 1), "enable_grp1": (1, 1), "ack_ctl": (2, 1),
                                "fiq_en": (3, 1), "cbpr": (4, 1), "eoi_mode": (9, 1)},
                      0xFFFF_FDE0),
    "KVM_GICC_PMR": (0x04, 0, {"vmprimask": (0, 5)}, 0xFFFF_FFE0),
    "GICC_IIDR": (0xFC, 0, {"implementer": (0, 12), "revision": (12, 4),
                            "arch_version": (16, 4), "product_id": (20, 12)}, 0),
    "GICH_LR_STATE": (0, 0, {"pending": (0, 1), "active": (1, 1)}, 0xFFFF_FFFC),
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_register_table(name: str) -> None:
    offset, reset, fields, reserved = TABLES[name]
    reg = getattr(r, name)
    assert reg.offset == offset
    assert reg.reset == reset
    assert {f.name: (f.shift, f.width) for f in reg.fields} == fields
    assert reg.reserved_mask == reserved
    assert reg.defined_mask == 0xFFFF_FFFF & ~reserved
    for f in reg.fields:
        assert f.mask == ((1 << f.width) - 1) << f.shift


def test_every_register_is_pinned() -> None:
    declared = {n for n, v in vars(r).items() if isinstance(v, r.Register)}
    assert declared == set(TABLES)


def test_field_access() -> None:
    vmcr = r.GICH_VMCR
    assert vmcr.field("vmbp").get(0xF86C_0013) == 3
    assert vmcr.field("vmabp").get(0xF86C_0013) == 3
    assert vmcr.field("vmprimask").get(0xF86C_0013) == 0x1F
    assert vmcr.unpack(0xF050_0207) == {"vmgrp0en": 1, "vmgrp1en": 1, "vmackctl": 1,
                                        "vmfiqen": 0, "vmcbpr": 0, "vem": 1, "vmabp": 4,
                                        "vmbp": 2, "vmprimask": 0x1E}
    assert vmcr.pack(vmgrp0en=1, vmgrp1en=1, vmackctl=1, vem=1, vmabp=4, vmbp=2,
                     vmprimask=0x1E) == 0xF050_0207
    assert vmcr.field("vmbp").put(0xFFFF_FFFF, 0) == 0xFF1F_FFFF
    assert vmcr.field("vmbp").put(0, 7) == 0x00E0_0000
    with pytest.raises(ValueError, match="VMBP holds 3 bits, not 0x8"):
        vmcr.field("vmbp").put(0, 8)
    with pytest.raises(KeyError):
        vmcr.field("vmpri")
    assert r.GICH_HCR.flags(0x1000_0049) == ["en", "npie", "vgrp1eie"]
    assert r.GICH_HCR.flags(0x2800_002B) == ["en", "uie", "npie", "vgrp0die"]
    assert r.GICH_HCR.field("eoicount").get(0x2800_002B) == 5


@pytest.mark.parametrize(("lr", "hw"), [(0x0000_0000, False), (0x7FFF_FFFF, False),
                                         (0x8000_0000, True), (0xF881_0064, True)])
def test_lr_layout_by_hw_bit(lr: int, hw: bool) -> None:
    assert r.lr_layout(lr) is (r.GICH_LR_HW if hw else r.GICH_LR)


def test_lr_states_in_state_field_order() -> None:
    assert r.LR_STATES == ("invalid", "pending", "active", "pending_active")
    assert r.GICH_LR.unpack(0x5500_002D) == {"virtual_id": 45, "cpuid": 0, "eoi": 0,
                                             "priority": 0xA, "state": 1, "grp1": 1, "hw": 0}
    assert r.GICH_LR_HW.unpack(0xF881_0064)["physical_id"] == 64


# bank name -> (offset, bits per interrupt, canonical state)
BANKS = {"GICD_IGROUPR": (0x080, 1, "group"), "GICD_ISENABLER": (0x100, 1, "enabled"),
         "GICD_ICENABLER": (0x180, 1, "enabled"), "GICD_ISPENDR": (0x200, 1, "pending"),
         "GICD_ICPENDR": (0x280, 1, "pending"), "GICD_ISACTIVER": (0x300, 1, "active"),
         "GICD_ICACTIVER": (0x380, 1, "active"), "GICD_IPRIORITYR": (0x400, 8, "priority"),
         "GICD_ITARGETSR": (0x800, 8, "targets"), "GICD_ICFGR": (0xC00, 2, "edge")}


def test_distributor_banks() -> None:
    assert {b.name: (b.offset, b.bits, b.state) for b in r.DIST_BANKS} == BANKS
    assert [(b.name, b.offset, b.bits) for b in r.SGI_BANKS] == [
        ("GICD_CPENDSGIR", 0xF10, 8), ("GICD_SPENDSGIR", 0xF20, 8)]
    assert r.SGI_BANK_REGS == 4
    assert (r.GICC_APR.offset, r.GICC_APR.bits, r.GICC_APR_REGS) == (0xD0, 32, 4)


@pytest.mark.parametrize(("bank", "irq", "where"), [
    ("GICD_ISENABLER", 0, ("GICD_ISENABLER0", 0)),
    ("GICD_ISENABLER", 33, ("GICD_ISENABLER1", 1)),
    ("GICD_ISENABLER", 1019, ("GICD_ISENABLER31", 27)),
    ("GICD_IPRIORITYR", 33, ("GICD_IPRIORITYR8", 8)),
    ("GICD_IPRIORITYR", 3, ("GICD_IPRIORITYR0", 24)),
    ("GICD_ICFGR", 31, ("GICD_ICFGR1", 30)),
    ("GICD_ICFGR", 32, ("GICD_ICFGR2", 0)),
])
def test_bank_locate(bank: str, irq: int, where: tuple[str, int]) -> None:
    b = next(b for b in r.DIST_BANKS if b.name == bank)
    assert b.locate(irq) == where


def test_kvm_device_abi_constants() -> None:
    assert (r.KVM_ATTR_OFFSET.shift, r.KVM_ATTR_OFFSET.width) == (0, 32)
    assert (r.KVM_ATTR_VCPU.shift, r.KVM_ATTR_VCPU.width) == (32, 8)
    assert r.KVM_ATTR_DEFINED_MASK == 0xFF_FFFF_FFFF
    assert (r.KVM_DIST_FRAME, r.KVM_CPU_FRAME) == (0x1000, 0x2000)
    assert (r.KVM_NR_IRQS_MIN, r.KVM_NR_IRQS_MAX) == (64, 992)
    assert (r.KVM_PRIORITY_BITS, r.KVM_MIN_BPR) == (5, 2)
    assert (r.KVM_PRODUCT_ID, r.ARM_IMPLEMENTER) == (0x4B, 0x43B)
    assert r.KVM_APR_LEVELS == 32
    assert r.GICC_NO_STATE == {
        "GICC_IAR": 0x0C, "GICC_EOIR": 0x10, "GICC_RPR": 0x14, "GICC_HPPIR": 0x18,
        "GICC_AIAR": 0x20, "GICC_AEOIR": 0x24, "GICC_AHPPIR": 0x28, "GICC_NSAPR0": 0xE0,
        "GICC_NSAPR1": 0xE4, "GICC_NSAPR2": 0xE8, "GICC_NSAPR3": 0xEC, "GICC_DIR": 0x1000}
    assert (r.VIRTUAL_PRIORITY.shift, r.VIRTUAL_PRIORITY.width) == (3, 5)


def test_kvm_gicc_pmr_is_vmprimask_in_bits_4_to_0() -> None:
    """KVM's GICC_PMR attribute is GICH_VMCR.VMPriMask (PMR >> 3), gic-domain §4.5."""
    from gicmig.abi.kvm.layout import kvm_pmr, pmr_of_kvm

    assert r.KVM_GICC_PMR.reserved_mask == 0xFFFF_FFE0
    assert [pmr_of_kvm(w) for w in (0x00, 0x01, 0x10, 0x1F)] == [0x00, 0x08, 0x80, 0xF8]
    assert [kvm_pmr(p) for p in (0x00, 0x07, 0x08, 0x80, 0xF8, 0xFF)] == [0, 0, 1, 0x10, 0x1F, 0x1F]
