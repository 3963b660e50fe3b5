"""Typed errors with stable reason codes.

Every failure gicmig reports carries a reason code from `REASONS`: a stable string that
CI scripts may match on, a one-line message naming the place and the values, and, for
byte-level problems, the byte offset. Errors are values: inspect `.code`, `.offset` and
`.violations`; never parse the message.

Each error is also the built-in exception of its kind, so code that knows nothing of
gicmig can catch it: an input that cannot be read or written (IO-READ, IO-WRITE) is an
`OSError` (`FileError`); bad input, a lossy conversion or a wrong argument value is a
`ValueError` (`InputError`, and its `DecodeError` and `ValidationError`).

    >>> try:
    ...     gicmig.decode(b"not a blob")
    ... except ValueError as e:  # a gicmig.DecodeError
    ...     print(e.code, isinstance(e, gicmig.GicmigError))
    BLOB-BAD-MAGIC True
    >>> try:
    ...     gicmig.load("no/such/file.json")
    ... except OSError as e:  # a gicmig.FileError
    ...     print(e.code)
    IO-READ
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Category = Literal["invalid", "lossy", "usage", "io", "setup", "internal"]
# what kind of failure a code is; the CLI maps each to its exit status (gicmig.cli), the
# library to the built-in exception it also is (ValueError, OSError)
INVALID: Category = "invalid"  # the input is corrupt, malformed or breaks a rule
LOSSY: Category = "lossy"  # a valid input a conversion would lose state of: refused
USAGE: Category = "usage"  # the command line or call is wrong (options, combinations)
IO: Category = "io"  # a file that cannot, or may not, be read or written
SETUP: Category = "setup"  # the schema tooling: proto folders, locks, waivers, protoc
INTERNAL: Category = "internal"  # a bug in gicmig
CATEGORIES: tuple[Category, ...] = (INVALID, LOSSY, USAGE, IO, SETUP, INTERNAL)


@dataclass(frozen=True)
class Reason:
    code: str
    category: Category
    summary: str


def _table(*rows: tuple[str, Category, str]) -> dict[str, Reason]:
    return {code: Reason(code, category, summary) for code, category, summary in rows}


REASONS: dict[str, Reason] = _table(
    # blob envelope
    ("BLOB-TRUNCATED", INVALID, "the blob ends before its header or payload does"),
    ("BLOB-BAD-MAGIC", INVALID, "the file does not start with the .gicmig magic"),
    ("BLOB-ENVELOPE-VERSION", INVALID, "the envelope version is not one this gicmig reads"),
    ("BLOB-HEADER-CHECKSUM", INVALID, "the header CRC32C does not match the header bytes"),
    ("BLOB-PAYLOAD-CHECKSUM", INVALID, "the payload CRC32C does not match the stored payload"),
    ("BLOB-TOO-LARGE", INVALID, "the header claims a payload larger than gicmig accepts"),
    ("BLOB-TRAILING-DATA", INVALID, "bytes follow the payload"),
    ("BLOB-UNKNOWN-FLAGS", INVALID, "the header sets a required flag this gicmig does not know"),
    ("BLOB-SCHEMA-NEWER", INVALID, "the blob was written with a newer schema revision"),
    # protobuf payload
    ("PAYLOAD-MALFORMED", INVALID, "the payload is not a valid protobuf message"),
    ("PAYLOAD-UNKNOWN-FIELDS", INVALID, "the payload has fields this schema does not define"),
    ("PAYLOAD-NOT-CANONICAL", INVALID, "the payload is not the canonical encoding of its state"),
    ("PAYLOAD-TOO-LARGE", INVALID, "the state serializes to more than the 1 MiB a blob holds"),
    # JSON fixture
    ("JSON-SYNTAX", INVALID, "the file is not valid JSON"),
    ("JSON-SCHEMA", INVALID, "the JSON does not follow the gicmig fixture format"),
    ("INPUT-FORMAT-UNKNOWN", INVALID, "the input is neither a .gicmig blob nor a JSON fixture"),
    # implementation parameters
    ("CONFIG-REVISION", INVALID, "the architecture revision is missing or not GICv2"),
    ("CONFIG-NUM-CPUS", INVALID, "num_cpus is not in 1..8"),
    ("CONFIG-NUM-IRQS", INVALID, "num_irqs is not a multiple of 32 in 32..1020"),
    ("CONFIG-PRIORITY-BITS", INVALID, "priority_bits is not in 4..8"),
    ("CONFIG-MIN-BPR", INVALID, "min_bpr is not in 0..3"),
    ("CONFIG-SECURITY-EXTENSIONS", INVALID, "security extensions are not modelled by schema v1"),
    ("CONFIG-VIRTUALIZATION", INVALID, "the virtualization parameters are out of range"),
    # state shape
    ("STATE-CPU-COUNT", INVALID, "a per-CPU list does not have exactly num_cpus entries"),
    ("STATE-IRQ-OUT-OF-RANGE", INVALID, "state is stored for interrupt IDs >= num_irqs"),
    # interrupts
    ("IRQ-PRIORITY-UNIMPLEMENTED-BITS", INVALID, "a priority sets bits below the implemented ones"),
    ("IRQ-SPLIT-UNKNOWN-INVALID", INVALID,
     "a latch/line-unknown marker on an impossible interrupt"),
    ("IRQ-LATCH-STALE-INVALID", INVALID,
     "a maybe-stale-latch marker where no active level latch is"),
    ("SGI-NOT-EDGE", INVALID, "an SGI is not edge-triggered"),
    ("SGI-DISABLED-RAO", INVALID, "an SGI is disabled although SGI enables are RAO/WI"),
    ("SGI-LATCH-OR-LINE", INVALID, "an SGI has a pending latch or line level bit"),
    ("SGI-SOURCE-ABSENT-CPU", INVALID, "an SGI source names a CPU that does not exist"),
    ("SGI-ACTIVE-SOURCE-NOT-ACTIVE", INVALID, "an active-SGI source is set for an inactive SGI"),
    ("SGI-ACTIVE-SOURCE-ABSENT-CPU", INVALID,
     "an active-SGI source names a CPU that does not exist"),
    ("SPI-TARGET-ABSENT-CPU", INVALID, "an SPI targets a CPU that does not exist"),
    ("SPI-ACTIVE-CPU-NOT-ACTIVE", INVALID, "an active-SPI CPU is set for an inactive SPI"),
    ("SPI-ACTIVE-CPU-ABSENT", INVALID, "an SPI is active on a CPU that does not exist"),
    # CPU interface
    ("CPU-CTLR-RESERVED", INVALID, "GICC_CTLR sets reserved bits"),
    ("CPU-PMR-UNIMPLEMENTED-BITS", INVALID, "GICC_PMR sets bits below the implemented ones"),
    ("CPU-BPR-RANGE", INVALID, "GICC_BPR or GICC_ABPR is below its minimum or above 7"),
    ("CPU-ACTIVE-PRIORITY-UNREPRESENTABLE", INVALID, "an active priority level cannot exist"),
    ("CPU-ACTIVE-GROUP-OVERLAP", INVALID, "a level is both group-unknown and in a known group"),
    # virtual interface of a GIC with virtualization extensions
    ("VIRT-PRESENCE", INVALID, "virtual interfaces without virtualization extensions, or missing"),
    ("VIRT-LR-COUNT", INVALID, "more list registers than GICH_VTR implements"),
    ("VIRT-RESERVED-BITS", INVALID, "a GICH register sets reserved bits"),
    ("VIRT-VMCR-BINARY-POINT", INVALID, "GICH_VMCR.VMBP/VMABP is below its minimum"),
    ("VIRT-APR-UNREPRESENTABLE", INVALID, "GICH_APR sets a level beyond the preemption bits"),
    # hypervisor context
    ("HYP-VCPU-COUNT", INVALID, "the hypervisor context does not have one entry per vCPU"),
    ("HYP-HW-MAPPING", INVALID, "a HW mapping names an impossible virtual or physical ID"),
    ("HYP-RESERVED-BITS", INVALID, "the hypervisor's GICH_HCR sets reserved bits"),
    # --- QEMU migration stream import (issue 7): add rows here
    ("QEMU-NOT-A-STREAM", INVALID, "the input does not start with the QEMU stream magic QEVM"),
    ("QEMU-STREAM-VERSION", INVALID, "the stream format version is not 3"),
    ("QEMU-TRUNCATED", INVALID, "the stream ends inside a record gicmig needs"),
    ("QEMU-FRAMING", INVALID, "the stream's record framing is broken where gicmig must follow it"),
    ("QEMU-NO-ARM-GIC", INVALID, "the stream has no arm_gic section"),
    ("QEMU-GIC-VERSION", INVALID, "arm_gic is not version 12, or its subsection not version 1"),
    ("QEMU-FOOTER-MISMATCH", INVALID, "arm_gic is not followed by its own section footer"),
    ("QEMU-ACCEL", USAGE, "--accel is missing or not tcg/kvm"),
    ("QEMU-ACCEL-MISMATCH", USAGE, "the section holds what the named accelerator never writes"),
    ("QEMU-MACHINE-UNKNOWN", USAGE, "--machine names a preset gicmig does not have"),
    ("QEMU-MACHINE-MISMATCH", USAGE, "--machine differs from the machine type the stream names"),
    ("QEMU-PARAMETER-MISSING", USAGE, "the number of interrupt IDs is missing or out of range"),
    ("QEMU-NUM-CPUS-AMBIGUOUS", USAGE, "the stream does not show how many CPUs: give --num-cpus"),
    ("QEMU-NUM-CPUS-MISMATCH", USAGE, "--num-cpus disagrees with the CPUs the stream holds"),
    ("QEMU-IRQ-BEYOND-NUM-IRQS", INVALID, "state for interrupt IDs beyond --num-irqs"),
    ("QEMU-VALUE-IMPOSSIBLE", INVALID, "a field holds a value QEMU 7.2 never writes"),
    ("QEMU-SPI-PENDING-PARTIAL", INVALID,
     "an SPI is pending on some of its targets only (dev. 1, 2)"),
    ("QEMU-SPI-TARGET-ABSENT-CPU", INVALID, "ITARGETSR names CPUs that do not exist (dev. 5)"),
    ("QEMU-SPI-ACTIVE-PARTIAL", INVALID,
     "an ISACTIVER-active SPI deactivated by one CPU (dev. 17)"),
    ("QEMU-SPI-ACTIVE-CPU-SET", INVALID, "an SPI is active on several CPUs"),
    ("QEMU-SGI-SOURCE-ABSENT-CPU", INVALID, "an SGI source is a CPU that does not exist (dev. 5)"),
    ("QEMU-SGI-PENDING-NO-SOURCE", INVALID, "an SGI is marked pending without a source (dev. 16)"),
    ("QEMU-SGI-PENDING-ABSENT-CPU", INVALID,
     "an SGI is pending on a CPU that does not exist (dev. 5)"),
    ("QEMU-PPI-PENDING-ABSENT-CPU", INVALID,
     "a PPI is pending on a CPU that does not exist (dev. 3)"),
    ("QEMU-PPI-TARGETS-WRITTEN", INVALID,
     "read-only ITARGETSR0-7 were written and stored (dev. 3)"),
    ("QEMU-LR4-WRITTEN", INVALID, "GICH_LR4, one past the 4 implemented, holds data (dev. 12)"),
    ("QEMU-LR-RESERVED-BITS", INVALID,
     "an HW=0 list register keeps reserved bits [18:13] (dev. 12)"),
    ("QEMU-VCPU-ABPR-BELOW-MIN", INVALID, "GICV_ABPR below 3 (dev. 11)"),
    ("QEMU-CACHE-MISMATCH", INVALID, "a QEMU cache disagrees with QEMU's rules for it"),
    # --- QEMU migration stream export (issue 12): add rows here
    ("QEMU-ACCEL-AMBIGUOUS", USAGE, "the section shows marks of neither QEMU GIC device"),
    ("QEMU-ACCEL-CONFLICT", INVALID, "the section shows marks of both QEMU GIC devices"),
    ("QEMU-TEMPLATE-UNWALKABLE", INVALID,
     "the template's framing cannot be followed up to arm_gic"),
    ("QEMU-TEMPLATE-NUM-CPUS", USAGE,
     "the template's GIC has another number of CPUs than the state"),
    ("QEMU-TEMPLATE-NUM-IRQS", USAGE, "the template's machine has another number of interrupt IDs"),
    ("QEMU-TEMPLATE-VIRTUALIZATION", USAGE, "virtualization extensions differ (template vs state)"),
    ("QEMU-EXPORT-SPI-PENDING-NO-TARGET", LOSSY, "a pending SPI without targets: QEMU drops it"),
    ("QEMU-EXPORT-SGI-DISABLED", LOSSY, "a disabled SGI: the TCG GIC's SGI enables are RAO/WI"),
    ("QEMU-EXPORT-PPI-TRIGGER-BANKED", LOSSY, "PPI edge/level differs between CPUs (dev. 4)"),
    ("QEMU-EXPORT-ACTIVE-SGI-SOURCE", LOSSY, "an active SGI's source: QEMU does not store it"),
    ("QEMU-EXPORT-UNKNOWN", LOSSY, "an UNKNOWN marker the TCG GIC's encoding needs resolved"),
    ("QEMU-EXPORT-CTLR-BITS", LOSSY, "GICC_CTLR bypass-disable bits: RAZ/WI in QEMU 7.2 (dev. 10)"),
    ("QEMU-EXPORT-MAINTENANCE-LEVEL", LOSSY,
     "PPI 25's line differs from the GICH maintenance state"),
    ("QEMU-EXPORT-HYPERVISOR-CONTEXT", LOSSY, "hypervisor context has no place in a QEMU stream"),
    # --- KVM device-ABI view (issue 6): add rows here
    ("KVM-DUMP-SYNTAX", INVALID, "the KVM register dump is not valid JSON"),
    ("KVM-DUMP-FORMAT", INVALID, "the dump's format is not gicmig.kvm-dump/1"),
    ("KVM-DUMP-FIELD", INVALID, "a dump field is missing, unknown or of the wrong type"),
    ("KVM-DUMP-RANGE", INVALID, "a dump number is out of range (value, vcpu, offset, attr)"),
    ("KVM-DUMP-NR-IRQS", INVALID, "nr_irqs is not a multiple of 32 in 64..992"),
    ("KVM-DUMP-DUPLICATE", INVALID, "the same register is read twice with different values"),
    ("KVM-DUMP-INCOMPLETE", INVALID, "the dump lacks registers the state needs"),
    ("KVM-DUMP-INCONSISTENT", INVALID, "two views of the same state bits disagree"),
    ("KVM-DUMP-RESERVED-BITS", INVALID, "a register reads bits KVM never returns"),
    ("KVM-DUMP-TYPER-MISMATCH", INVALID, "GICD_TYPER disagrees with nr_irqs or the vCPU count"),
    ("KVM-DUMP-IIDR", INVALID, "GICD_IIDR/GICC_IIDR is not KVM's, or its groups cannot be trusted"),
    ("KVM-DUMP-VCPU-OUT-OF-RANGE", INVALID, "a register of a vCPU the VM does not have"),
    ("KVM-DUMP-PRIVATE-TARGETS", INVALID, "a private ITARGETSR is not the reading vCPU's own bit"),
    ("KVM-DUMP-APR-FORMAT", INVALID, "GICC_APR1-3 are set: not the GICv2-host APR format"),
    ("KVM-DUMP-IRQ-OUT-OF-RANGE", INVALID, "a register beyond nr_irqs reads non-zero"),
    ("KVM-DUMP-UNKNOWN-REGISTER", INVALID, "an offset KVM holds no state at reads non-zero"),
    ("KVM-NEVER-RUN-BINARY-POINT", INVALID, "a never-run vCPU's BPR/ABPR below the minima: "
     "normalized to the values the guest observes (a report, never a refusal)"),
    ("KVM-EXPORT-NUM-IRQS", LOSSY, "KVM's NR_IRQS cannot take this many interrupt IDs"),
    ("KVM-EXPORT-VIRTUALIZATION", LOSSY, "KVM's GICv2 has no virtualization extensions"),
    ("KVM-EXPORT-HYPERVISOR-CONTEXT", LOSSY, "hypervisor context has no place in the device ABI"),
    ("KVM-EXPORT-ENABLE-GROUPS-DIFFER", LOSSY, "EnableGrp0 != EnableGrp1; KVM has one enable"),
    ("KVM-EXPORT-GROUPS-IGNORED", LOSSY, "Group 1 state, but the KVM revision ignores IGROUPR"),
    ("KVM-EXPORT-PRIORITY-BITS", LOSSY, "a priority sets bits below the 5 KVM implements"),
    ("KVM-EXPORT-PPI-EDGE", LOSSY, "an edge-triggered PPI; KVM's PPIs are level, read-only"),
    ("KVM-EXPORT-LINE-LEVEL", LOSSY, "a line level the ABI would turn into a pending latch"),
    ("KVM-EXPORT-ACTIVE-SGI-SOURCE", LOSSY, "an active SGI's source is not the one KVM assigns"),
    ("KVM-EXPORT-ACTIVE-SPI-CPU", LOSSY, "an active SPI's CPU is not the one KVM assigns"),
    ("KVM-EXPORT-LATCH-ACTIVE-LEVEL", LOSSY, "a known latch of an active level IRQ: KVM clears "
     "it at the deactivation"),
    ("KVM-EXPORT-CTLR-BITS", LOSSY, "GICC_CTLR bits KVM's vgic_vmcr does not hold"),
    ("KVM-EXPORT-PMR-BITS", LOSSY, "GICC_PMR sets bits below the 5 KVM implements"),
    ("KVM-EXPORT-BINARY-POINT", LOSSY, "GICC_BPR/ABPR below KVM's minima 2/3"),
    ("KVM-EXPORT-APR-GRANULARITY", LOSSY, "active priorities finer than GICH_APR's 32 levels"),
    # --- GICH view (issue 3): add rows here
    ("GICH-VIEW-SYNTAX", INVALID, "the GICH view is not valid JSON"),
    ("GICH-VIEW-SCHEMA", INVALID, "the GICH view does not follow gicmig.gich-view/1"),
    ("GICH-VIEW-VCPU-COUNT", INVALID, "the view's vCPUs differ from the distributor image's CPUs"),
    ("GICH-IMAGE-UNSUITABLE", INVALID,
     "the distributor image has state a GICH view cannot pair with"),
    ("GICH-IMAGE-CPU-CONFLICT", INVALID,
     "the image's CPU interface differs from VMCR/APR and reset"),
    ("GICH-VTR-INVALID", INVALID, "GICH_VTR sets reserved bits or impossible priority bits"),
    ("GICH-VTR-INCONSISTENT", INVALID, "the vCPUs of one GIC report different GICH_VTR values"),
    ("GICH-LR-COUNT", INVALID, "the number of list registers differs from GICH_VTR.ListRegs + 1"),
    ("GICH-LR-RESERVED-BITS", INVALID, "a list register sets reserved bits"),
    ("GICH-LR-DUPLICATE-VIRTUALID", INVALID,
     "two valid list registers of a vCPU hold one VirtualID"),
    ("GICH-LR-VIRTUALID-RANGE", INVALID, "a list register names an ID the distributor lacks"),
    ("GICH-LR-VIRTUALID-SPECIAL", INVALID, "a list register names a special ID (1020-1023)"),
    ("GICH-LR-HW", INVALID, "a HW=1 list register: hypervisor context, refused unless kept"),
    ("GICH-LR-HW-PHYSICALID-RANGE", INVALID, "a HW=1 list register's PhysicalID is not 16..1019"),
    ("GICH-LR-EOI-PENDING", INVALID, "an invalid list register with EOI=1: unserviced maintenance"),
    ("GICH-LR-INVALID-AMBIGUOUS", INVALID, "an invalid LR names an IRQ the image holds live"),
    ("GICH-LR-CPUID-ABSENT", INVALID, "an SGI list register's CPUID names an absent CPU"),
    ("GICH-LR-CPUID-NOT-SGI", INVALID, "a non-SGI HW=0 list register has a non-zero CPUID"),
    ("GICH-LR-PRIORITY-UNIMPLEMENTED", INVALID, "an LR priority sets bits GICH_VTR.PRIbits lacks"),
    ("GICH-LR-PRIORITY-STALE", INVALID, "an LR priority differs from the distributor's"),
    ("GICH-LR-GROUP-MISMATCH", INVALID, "an LR Grp1 bit differs from the distributor's group"),
    ("GICH-LR-LEVEL-PENDING-MISMATCH", INVALID,
     "a level LR is pending but the image's line/latch not"),
    ("GICH-LR-SPI-MULTIPLE-VCPUS", INVALID, "one SPI is held in list registers of several vCPUs"),
    ("GICH-LR-ACTIVE-CPU-CONFLICT", INVALID,
     "an LR holds an SPI the image says is active elsewhere"),
    ("GICH-HCR-RESERVED-BITS", INVALID, "GICH_HCR sets reserved bits"),
    ("GICH-HCR-EOICOUNT", INVALID, "GICH_HCR.EOICount is not 0: non-quiescent state"),
    ("GICH-HCR-CONTROL", INVALID, "GICH_HCR maintenance enables: hypervisor context, refused"),
    ("GICH-HCR-DISABLED", INVALID, "GICH_HCR.En = 0 while list registers are valid"),
    ("GICH-VMCR-RESERVED-BITS", INVALID, "GICH_VMCR sets reserved bits"),
    ("GICH-VMCR-BINARY-POINT", INVALID,
     "GICH_VMCR.VMBP/VMABP is below the minimum GICH_VTR implies"),
    ("GICH-VMCR-PRIMASK-UNIMPLEMENTED", INVALID, "VMPriMask sets bits GICH_VTR.PRIbits lacks"),
    ("GICH-APR-UNIMPLEMENTED", INVALID, "GICH_APR sets bits beyond the 2^PREbits levels"),
    ("GICH-MISR-MISMATCH", INVALID, "the supplied GICH_MISR differs from the one the LRs imply"),
    ("GICH-EISR-MISMATCH", INVALID, "the supplied GICH_EISRn differs from the one the LRs imply"),
    ("GICH-ELRSR-MISMATCH", INVALID, "the supplied GICH_ELRSRn differs from the one the LRs imply"),
    ("GICH-EXPORT-NESTED", LOSSY, "a GIC with virtualization extensions has no GICH view"),
    ("GICH-EXPORT-PRIORITY", LOSSY, "a priority sets bits the target's GICH_LR cannot hold"),
    ("GICH-EXPORT-PMR", LOSSY, "GICC_PMR sets bits GICH_VMCR.VMPriMask cannot hold"),
    ("GICH-EXPORT-CTLR-BITS", LOSSY, "GICC_CTLR bits GICH_VMCR cannot hold (bypass disables)"),
    ("GICH-EXPORT-BINARY-POINT", LOSSY, "GICC_BPR/ABPR below the target's VMBP/VMABP minima"),
    ("GICH-EXPORT-APR-LEVEL", LOSSY, "an active priority level the target's GICH_APR lacks"),
    ("GICH-EXPORT-APR-GROUP-SPLIT", LOSSY, "an active-priority group split GICH_APR would lose"),
    ("GICH-EXPORT-LR-OVERFLOW", LOSSY, "more interrupts that must sit in LRs than the target has"),
    ("GICH-EXPORT-HW-IDLE", LOSSY, "a HW mapping of an idle interrupt: only an LR can carry it"),
    ("GICH-EXPORT-LATCH-MAYBE-STALE", LOSSY, "a maybe-stale latch an LR without EOI would deliver "
     "again (--eoi-policy none)"),
    ("GICH-EXPORT-UNKNOWN", LOSSY, "an UNKNOWN marker the GICH encoding needs resolved"),
    ("GICH-NESTED-NO-VIRTUALIZATION", INVALID,
     "--nested on a GIC without virtualization extensions"),
    # --- schema revisions and compatibility (issue 4): add rows here
    ("DIST-GRP1-UNKNOWN-SET", INVALID, "EnableGrp1 is set although marked UNKNOWN (must be 0)"),
    ("BLOB-REVISION-LOSSY", LOSSY, "the state holds fields the requested schema revision lacks"),
    ("BLOB-REVISION-MISMATCH", INVALID, "the payload holds fields its header's revision lacks"),
    ("SCHEMA-INPUT", SETUP, "a schema input is not a proto folder or descriptor set"),
    ("SCHEMA-COMPILE", SETUP, "the .proto files do not compile"),
    ("SCHEMA-COMPILER-MISSING", SETUP,
     "compiling .proto files needs grpcio-tools: pip install 'gicmig[schema]'"),
    ("SCHEMA-LAYOUT", SETUP,
     "a buf.yaml or buf.work.yaml is malformed or points outside its folder"),
    ("SCHEMA-GIT-REF", IO, "a git ref given as a schema input cannot be read"),
    ("SCHEMA-LOCK-CORRUPT", SETUP, "a schema lock was edited, is missing or is malformed"),
    ("SCHEMA-REVISION-UNKNOWN", SETUP, "the schema revision asked for is not locked"),
    ("SCHEMA-BREAKING", INVALID, "the schema breaks compatibility with a locked revision"),
    ("SCHEMA-WAIVER-INVALID", SETUP, "the waiver file is malformed"),
    ("SCHEMA-WAIVER-EXPIRED", INVALID, "a waiver has passed its expiry date"),
    # --- diff (issue 5): add rows here
    # CLI
    ("USAGE", USAGE, "the command line is wrong"),
    ("IO-READ", IO, "an input could not be read"),
    ("IO-WRITE", IO, "an output could not be written"),
    ("INTERNAL-ERROR", INTERNAL, "a bug in gicmig (reported as one line; GICMIG_DEBUG=1 for more)"),
)


class GicmigError(Exception):
    """Base of every error gicmig raises on purpose.

    `GicmigError(code, message)` makes the subclass of the code's kind: a `FileError`
    (also an `OSError`) for a code of category io (IO-READ, IO-WRITE, SCHEMA-GIT-REF), a
    plain `GicmigError` for INTERNAL-ERROR, else an `InputError` (also a `ValueError`).

    >>> try:
    ...     gicmig.decode(b"not a blob")
    ... except gicmig.GicmigError as e:
    ...     print(e.code, e.offset)
    BLOB-BAD-MAGIC 0
    """

    def __new__(cls, code: str, *args: object, **kwargs: object) -> GicmigError:
        if cls is GicmigError:
            cls = _class_of(code)
        # no arguments: OSError.__new__ would read (errno, strerror) from them
        return super().__new__(cls)

    def __init__(self, code: str, message: str, *, offset: int | None = None) -> None:
        if code not in REASONS:
            raise KeyError(f"unregistered reason code {code!r}")
        self.message = message  # escaped: one line whatever the input put into it
        super().__init__(self.message)
        self.args = (self.message,)  # OSError.__init__ would keep only what fits (errno, ...)
        self.code = code
        self.offset = offset

    @property
    def category(self) -> Category:
        """What kind of failure this is (the CLI exits by it: gicmig.cli._run.exit_status)."""
        return REASONS[self.code].category

    @property
    def message(self) -> str:
        return self._message

    @message.setter
    def message(self, text: str) -> None:
        self._message = one_line(text)

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by value (multiprocessing, pytest-xdist): subclasses take other
        arguments than (code, message), so rebuild without calling `__init__`."""
        return _rebuild, (type(self), self.code, self.message), self.__dict__

    def __str__(self) -> str:
        where = f" (at byte {self.offset})" if self.offset is not None else ""
        return f"{self.code} {self.message}{where}"


class InputError(GicmigError, ValueError):
    """Input that is corrupt, breaks a rule or cannot be converted without loss, or an
    argument value gicmig refuses: also a `ValueError`.

    >>> try:
    ...     gicmig.import_qemu(b"QEVM", accel="xen")
    ... except ValueError as e:  # an InputError
    ...     print(e)
    QEMU-ACCEL accelerator 'xen': say tcg or kvm
    """


class FileError(GicmigError, OSError):
    """A file (or stdin/stdout) that cannot, or may not, be read or written: also an
    `OSError` (its `errno` is None; `.code` says IO-READ or IO-WRITE).

    >>> try:
    ...     gicmig.load("no/such.gicmig")
    ... except OSError as e:  # a FileError
    ...     print(e)
    IO-READ cannot read no/such.gicmig: No such file or directory
    """


class DecodeError(InputError):
    """Input bytes or text that cannot be read as gicmig data.

    >>> try:
    ...     gicmig.load(b"GIC")
    ... except gicmig.DecodeError as e:
    ...     print(e)
    INPUT-FORMAT-UNKNOWN neither a .gicmig blob nor a JSON fixture (at byte 0)
    """


@dataclass(frozen=True)
class Violation:
    """One broken rule: a reason code, the place (a path into the state) and a message.

    >>> str(Violation("SGI-NOT-EDGE", "cpu1 irq 0 (SGI 0)", "level-triggered"))
    'SGI-NOT-EDGE cpu1 irq 0 (SGI 0): level-triggered'
    """

    code: str
    path: str
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", one_line(self.path))
        object.__setattr__(self, "message", one_line(self.message))

    def __str__(self) -> str:
        return f"{self.code} {self.path}: {self.message}"


class ValidationError(InputError):
    """A state that breaks one or more rules; `.violations` lists every one of them.

    >>> state = gicmig.GicState.reset(gicmig.GicConfig.qemu_virt(num_cpus=2))
    >>> state.banked[1].edge = 0xFFFE
    >>> try:
    ...     gicmig.validate(state)
    ... except ValueError as e:  # a ValidationError
    ...     print(e.code, len(e.violations), e.violations[0].path)
    SGI-NOT-EDGE 1 cpu1 irq 0 (SGI 0)
    """

    def __init__(self, violations: list[Violation]) -> None:
        first = violations[0]
        more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        super().__init__(first.code, f"{first.path}: {first.message}{more}")
        self.violations = tuple(violations)


# every character str.splitlines() breaks at, and the other C0/C1 controls (a terminal's
# escape sequences start with one)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with every control character escaped as Python writes it (`\\n`, `\\x1b`,
    `\\u2028`), so that a message stays one line however the input text put into it was
    crafted (a JSON key holding "\\n/x: OK" cannot forge a line). The one place input
    text is made safe for a message: GicmigError and Violation pass theirs through it."""
    return text if text.isprintable() else _UNSAFE.sub(_escape, text)


def _escape(m: re.Match[str]) -> str:
    return repr(m.group())[1:-1]


def _class_of(code: str) -> type[GicmigError]:
    """The class a `GicmigError(code, ...)` is, by the category of failure the code names."""
    category = REASONS[code].category if code in REASONS else INTERNAL
    if category == IO:
        return FileError
    if category == INTERNAL:
        return GicmigError
    return InputError


def _rebuild(cls: type[GicmigError], code: str, message: str) -> GicmigError:
    err = cls.__new__(cls, code)
    Exception.__init__(err, message)
    err.args = (message,)
    return err  # pickle then restores __dict__: code, message, offset and the rest
