"""GICv2 register layouts, declared once as data.

Each register is a table of fields (name, shift, width), in the spirit of QEMU's
`FIELD(REG, NAME, SHIFT, LENGTH)`: decoders, encoders, validators, diff labels and the
docs all read these tables; no other module spells a shift or a mask of these registers.
Bits that no field covers are reserved (RES0). Sources: ARM IHI 0048B §4 and §5, as
summarised with citations in shared/reference/gic-domain.md §1.2, §2.2, §3.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from gicmig.arch.priority import min_binary_point


@dataclass(frozen=True)
class Field:
    name: str  # snake_case, as used in fixtures and diffs
    arch: str  # the architecture's name
    shift: int
    width: int

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.shift

    def get(self, value: int) -> int:
        return (value >> self.shift) & ((1 << self.width) - 1)

    def put(self, value: int, field_value: int) -> int:
        if field_value >> self.width:
            raise ValueError(f"{self.arch} holds {self.width} bits, not {field_value:#x}")
        return (value & ~self.mask) | (field_value << self.shift)


@dataclass(frozen=True)
class Register:
    name: str
    offset: int  # byte offset in its frame (GICD, GICC or GICH)
    reset: int
    fields: tuple[Field, ...]

    @cached_property
    def defined_mask(self) -> int:
        mask = 0
        for f in self.fields:
            mask |= f.mask
        return mask

    @cached_property
    def reserved_mask(self) -> int:
        return 0xFFFF_FFFF & ~self.defined_mask

    @cached_property
    def _by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def field(self, name: str) -> Field:
        found = self._by_name.get(name)
        if found is None:
            raise KeyError(f"{self.name} has no field {name!r}")
        return found

    def unpack(self, value: int) -> dict[str, int]:
        return {f.name: f.get(value) for f in self.fields}

    def pack(self, **values: int) -> int:
        word = 0
        for name, v in values.items():
            word = self.field(name).put(word, v)
        return word

    def flags(self, value: int) -> list[str]:
        """Names of the one-bit fields set in `value`, in bit order."""
        return [f.name for f in self.fields if f.width == 1 and f.get(value)]


def _reg(name: str, offset: int, reset: int, *fields: tuple[str, str, int, int]) -> Register:
    return Register(name, offset, reset, tuple(Field(*f) for f in fields))


# --- distributor --------------------------------------------------------------------
GICD_CTLR = _reg(
    "GICD_CTLR", 0x000, 0,
    ("enable_grp0", "EnableGrp0", 0, 1),
    ("enable_grp1", "EnableGrp1", 1, 1),
)
GICD_TYPER = _reg(
    "GICD_TYPER", 0x004, 0,
    ("it_lines_number", "ITLinesNumber", 0, 5),
    ("cpu_number", "CPUNumber", 5, 3),
    ("security_extn", "SecurityExtn", 10, 1),
    ("lspi", "LSPI", 11, 5),
)
GICD_IIDR = _reg(
    "GICD_IIDR", 0x008, 0,
    ("implementer", "Implementer", 0, 12),
    ("revision", "Revision", 12, 4),
    ("variant", "Variant", 16, 4),
    ("product_id", "ProductID", 24, 8),
)

# --- CPU interface (no security extensions) ------------------------------------------
GICC_CTLR = _reg(
    "GICC_CTLR", 0x00, 0,
    ("enable_grp0", "EnableGrp0", 0, 1),
    ("enable_grp1", "EnableGrp1", 1, 1),
    ("ack_ctl", "AckCtl", 2, 1),
    ("fiq_en", "FIQEn", 3, 1),
    ("cbpr", "CBPR", 4, 1),
    ("fiq_byp_dis_grp0", "FIQBypDisGrp0", 5, 1),
    ("irq_byp_dis_grp0", "IRQBypDisGrp0", 6, 1),
    ("fiq_byp_dis_grp1", "FIQBypDisGrp1", 7, 1),
    ("irq_byp_dis_grp1", "IRQBypDisGrp1", 8, 1),
    ("eoi_mode", "EOImode", 9, 1),
)
GICC_PMR = _reg("GICC_PMR", 0x04, 0, ("priority", "Priority", 0, 8))
GICC_BPR = _reg("GICC_BPR", 0x08, 0, ("binary_point", "Binary_Point", 0, 3))
GICC_ABPR = _reg("GICC_ABPR", 0x1C, 0, ("binary_point", "Binary_Point", 0, 3))

# --- virtual interface control ---------------------------------------------------------
# GICH_LR.Priority and GICH_VMCR.VMPriMask hold bits [7:3] of an 8-bit priority / GICC_PMR
# (KVM's GICC_PMR attribute holds that VMPriMask in bits [4:0]: KVM_GICC_PMR).
VIRTUAL_PRIORITY = Field("virtual_priority", "Priority[7:3]", 3, 5)
GICH_HCR = _reg(
    "GICH_HCR", 0x000, 0,
    ("en", "En", 0, 1),
    ("uie", "UIE", 1, 1),
    ("lrenpie", "LRENPIE", 2, 1),
    ("npie", "NPIE", 3, 1),
    ("vgrp0eie", "VGrp0EIE", 4, 1),
    ("vgrp0die", "VGrp0DIE", 5, 1),
    ("vgrp1eie", "VGrp1EIE", 6, 1),
    ("vgrp1die", "VGrp1DIE", 7, 1),
    ("eoicount", "EOICount", 27, 5),
)
GICH_VTR = _reg(
    "GICH_VTR", 0x004, 0x9000_0003,
    ("list_regs", "ListRegs", 0, 6),
    ("pre_bits", "PREbits", 26, 3),
    ("pri_bits", "PRIbits", 29, 3),
)
GICH_VMCR = _reg(
    "GICH_VMCR", 0x008, 0x004C_0000,  # GIC-400 reset: VMABP 3, VMBP 2 (the minima)
    ("vmgrp0en", "VMGrp0En", 0, 1),
    ("vmgrp1en", "VMGrp1En", 1, 1),
    ("vmackctl", "VMAckCtl", 2, 1),
    ("vmfiqen", "VMFIQEn", 3, 1),
    ("vmcbpr", "VMCBPR", 4, 1),
    ("vem", "VEM", 9, 1),
    ("vmabp", "VMABP", 18, 3),
    ("vmbp", "VMBP", 21, 3),
    ("vmprimask", "VMPriMask", 27, VIRTUAL_PRIORITY.width),
)
GICH_MISR = _reg(
    "GICH_MISR", 0x010, 0,
    ("eoi", "EOI", 0, 1),
    ("u", "U", 1, 1),
    ("lrenp", "LRENP", 2, 1),
    ("np", "NP", 3, 1),
    ("vgrp0e", "VGrp0E", 4, 1),
    ("vgrp0d", "VGrp0D", 5, 1),
    ("vgrp1e", "VGrp1E", 6, 1),
    ("vgrp1d", "VGrp1D", 7, 1),
)
GICH_APR = _reg("GICH_APR", 0x0F0, 0, ("active", "Active priorities", 0, 32))
# A list register has two layouts, chosen by its HW bit (bit 31). Both hold these fields;
# bits [19:10] are CPUID and EOI with HW=0, PhysicalID with HW=1 (gicmig.arch.lr decodes
# and encodes a list register from these tables).
LR_COMMON_FIELDS = tuple(Field(*f) for f in (
    ("virtual_id", "VirtualID", 0, 10),
    ("priority", "Priority", 23, VIRTUAL_PRIORITY.width),
    ("state", "State", 28, 2),
    ("grp1", "Grp1", 30, 1),
    ("hw", "HW", 31, 1),
))


def _lr_reg(*own: tuple[str, str, int, int]) -> Register:
    fields = LR_COMMON_FIELDS + tuple(Field(*f) for f in own)
    return Register("GICH_LR", 0x100, 0, tuple(sorted(fields, key=lambda f: f.shift)))


GICH_LR = _lr_reg(("cpuid", "CPUID", 10, 3), ("eoi", "EOI", 19, 1))  # HW=0
GICH_LR_HW = _lr_reg(("physical_id", "PhysicalID", 10, 10))  # HW=1
LR_STATES = ("invalid", "pending", "active", "pending_active")  # GICH_LR.State values


def lr_layout(value: int) -> Register:
    """The layout that applies to list register `value` (by its HW bit)."""
    return GICH_LR_HW if GICH_LR.field("hw").get(value) else GICH_LR


# --- per-interrupt distributor register banks -----------------------------------------
@dataclass(frozen=True)
class Bank:
    """A distributor register array with `bits` bits per interrupt ID, starting at `offset`.

    `state` names the canonical state it shows (None: a write-only or derived view).
    """

    name: str
    offset: int
    bits: int
    state: str | None

    @property
    def per_word(self) -> int:
        """Interrupt IDs per 32-bit register of the bank."""
        return 32 // self.bits

    def locate(self, irq: int) -> tuple[str, int]:
        """The register instance name and bit position that hold interrupt `irq`."""
        per_word = self.per_word
        return f"{self.name}{irq // per_word}", (irq % per_word) * self.bits


GICD_IGROUPR = Bank("GICD_IGROUPR", 0x080, 1, "group")
GICD_ISENABLER = Bank("GICD_ISENABLER", 0x100, 1, "enabled")
GICD_ICENABLER = Bank("GICD_ICENABLER", 0x180, 1, "enabled")
GICD_ISPENDR = Bank("GICD_ISPENDR", 0x200, 1, "pending")
GICD_ICPENDR = Bank("GICD_ICPENDR", 0x280, 1, "pending")
GICD_ISACTIVER = Bank("GICD_ISACTIVER", 0x300, 1, "active")
GICD_ICACTIVER = Bank("GICD_ICACTIVER", 0x380, 1, "active")
GICD_IPRIORITYR = Bank("GICD_IPRIORITYR", 0x400, 8, "priority")
GICD_ITARGETSR = Bank("GICD_ITARGETSR", 0x800, 8, "targets")
GICD_ICFGR = Bank("GICD_ICFGR", 0xC00, 2, "edge")
DIST_BANKS: tuple[Bank, ...] = (
    GICD_IGROUPR, GICD_ISENABLER, GICD_ICENABLER, GICD_ISPENDR, GICD_ICPENDR, GICD_ISACTIVER,
    GICD_ICACTIVER, GICD_IPRIORITYR, GICD_ITARGETSR, GICD_ICFGR,
)
# the one-bit banks, each read shows its state; the set-enable/clear-enable pairs read alike
BIT_BANKS: tuple[Bank, ...] = tuple(b for b in DIST_BANKS if b.bits == 1)


# --- KVM device ABI (KVM_DEV_TYPE_ARM_VGIC_V2), issue 6 ---------------------------------
# Sources: gic-domain.md §1.1, §1.2, §2.1, §4.5, §4.6 (Linux vgic-mmio-v2.c, arm-vgic.rst).
KVM_ATTR_OFFSET = Field("offset", "offset", 0, 32)  # kvm_device_attr.attr [31:0]
KVM_ATTR_VCPU = Field("vcpu_index", "vcpu_index", 32, 8)  # [39:32]; [63:40] reserved
KVM_ATTR_DEFINED_MASK = KVM_ATTR_OFFSET.mask | KVM_ATTR_VCPU.mask
KVM_DIST_FRAME = 0x1000  # KVM_VGIC_V2_DIST_SIZE
KVM_CPU_FRAME = 0x2000  # KVM_VGIC_V2_CPU_SIZE (reaches GICC_DIR at 0x1000)
KVM_NR_IRQS_MIN, KVM_NR_IRQS_MAX = 64, 992  # KVM_DEV_ARM_VGIC_GRP_NR_IRQS, as the code checks
KVM_PRIORITY_BITS = 5  # VGIC_PRI_BITS
KVM_MIN_BPR = min_binary_point(KVM_PRIORITY_BITS)  # 2: VMBP minimum, 5 preemption bits (§2.3)
KVM_PRODUCT_ID = 0x4B  # 'K'
ARM_IMPLEMENTER = 0x43B
KVM_IIDR_REVISIONS = (1, 2, 3)  # KVM_VGIC_IMP_REV_*; groups are user-writable from 2 on
KVM_IIDR_GROUPS_WRITABLE = 2
KVM_APR_LEVELS = 32  # APR0 is the GICH_APR image: bit n = group priority n << 3

# KVM's GICD_CTLR: one `enabled` bit; EnableGrp1 does not exist (reads 0, writes dropped)
KVM_GICD_CTLR = _reg("GICD_CTLR", 0x000, 0, ("enabled", "Enable", 0, 1))
GICD_SGIR = _reg(
    "GICD_SGIR", 0xF00, 0,
    ("sgi_int_id", "SGIINTID", 0, 4),
    ("nsatt", "NSATT", 15, 1),
    ("cpu_target_list", "CPUTargetList", 16, 8),
    ("target_list_filter", "TargetListFilter", 24, 2),
)
# one GICD_ICFGR field (2 bits per interrupt); bit 0 is reserved in GICv2
GICD_ICFGR_FIELD = _reg("GICD_ICFGR field", 0, 0, ("int_config", "Int_config", 1, 1))
GICD_CPENDSGIR = Bank("GICD_CPENDSGIR", 0xF10, 8, "sgi_sources")  # byte s = SGI s, bit k = CPU k
GICD_SPENDSGIR = Bank("GICD_SPENDSGIR", 0xF20, 8, "sgi_sources")
SGI_BANKS: tuple[Bank, ...] = (GICD_CPENDSGIR, GICD_SPENDSGIR)
# write-1-to-set / write-1-to-clear registers of one state: (set, clear)
SET_CLEAR: tuple[tuple[Bank, Bank], ...] = (
    (GICD_ISENABLER, GICD_ICENABLER), (GICD_ISPENDR, GICD_ICPENDR),
    (GICD_ISACTIVER, GICD_ICACTIVER), (GICD_SPENDSGIR, GICD_CPENDSGIR),
)
SGI_BANK_REGS = 4  # four banked registers each, 16 SGIs x 8 source bits

# The GICC-shaped view KVM synthesizes from struct vgic_vmcr and the APR.
# the GICC_CTLR bits struct vgic_vmcr holds: all but the four bypass disables
KVM_GICC_CTLR = Register("GICC_CTLR", GICC_CTLR.offset, GICC_CTLR.reset,
                         tuple(f for f in GICC_CTLR.fields if "_byp_dis_" not in f.name))
# KVM's GICC_PMR attribute holds the virtual priority mask as GICH_VMCR.VMPriMask does, in
# bits [4:0] (gic-domain §4.5: userspace shifts it left by GICV_PMR_PRIORITY_SHIFT, 3)
KVM_GICC_PMR = _reg("GICC_PMR", 0x04, 0, ("vmprimask", "VMPriMask", 0, VIRTUAL_PRIORITY.width))
GICC_APR = Bank("GICC_APR", 0xD0, 32, None)  # GICC_APR0-3: 32 levels each
GICC_APR_REGS = 4
GICC_IIDR = _reg(
    "GICC_IIDR", 0xFC, 0,
    ("implementer", "Implementer", 0, 12),
    ("revision", "Revision", 12, 4),
    ("arch_version", "ArchitectureVersion", 16, 4),
    ("product_id", "ProductID", 20, 12),
)
# Read with a side effect (IAR/AIAR acknowledge), write-only or not emulated by KVM: a
# dump holds them only as zeros, a restore never writes them.
GICC_NO_STATE: dict[str, int] = {
    "GICC_IAR": 0x0C, "GICC_EOIR": 0x10, "GICC_RPR": 0x14, "GICC_HPPIR": 0x18,
    "GICC_AIAR": 0x20, "GICC_AEOIR": 0x24, "GICC_AHPPIR": 0x28,
    "GICC_NSAPR0": 0xE0, "GICC_NSAPR1": 0xE4, "GICC_NSAPR2": 0xE8, "GICC_NSAPR3": 0xEC,
    "GICC_DIR": 0x1000,
}

# --- GICH view (issue 3) -----------------------------------------------------------------
# GICH_EISRn / GICH_ELRSRn: bit n of register r is list register 32 * r + n.
GICH_EISR0 = _reg("GICH_EISR0", 0x020, 0, ("status", "Status", 0, 32))
GICH_EISR1 = _reg("GICH_EISR1", 0x024, 0, ("status", "Status", 0, 32))
GICH_ELRSR0 = _reg("GICH_ELRSR0", 0x030, 0, ("status", "Status", 0, 32))
GICH_ELRSR1 = _reg("GICH_ELRSR1", 0x034, 0, ("status", "Status", 0, 32))
# The two bits of GICH_LR.State (00 invalid, 01 pending, 10 active, 11 pending and active).
GICH_LR_STATE = _reg("GICH_LR.State", 0, 0, ("pending", "Pending", 0, 1),
                     ("active", "Active", 1, 1))
