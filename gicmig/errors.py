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

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    exit_status: int  # what the CLI exits with: 1 invalid input, 2 usage or I/O
    summary: str


def _table(*rows: tuple[str, int, str]) -> dict[str, Reason]:
    return {code: Reason(code, status, summary) for code, status, summary in rows}


REASONS: dict[str, Reason] = _table(
    # blob envelope
    ("BLOB-TRUNCATED", 1, "the blob ends before its header or payload does"),
    ("BLOB-BAD-MAGIC", 1, "the file does not start with the .gicmig magic"),
    ("BLOB-ENVELOPE-VERSION", 1, "the envelope version is not one this gicmig reads"),
    ("BLOB-HEADER-CHECKSUM", 1, "the header CRC32C does not match the header bytes"),
    ("BLOB-PAYLOAD-CHECKSUM", 1, "the payload CRC32C does not match the stored payload"),
    ("BLOB-TOO-LARGE", 1, "the header claims a payload larger than gicmig accepts"),
    ("BLOB-TRAILING-DATA", 1, "bytes follow the payload"),
    ("BLOB-UNKNOWN-FLAGS", 1, "the header sets a required flag this gicmig does not know"),
    ("BLOB-SCHEMA-NEWER", 1, "the blob was written with a newer schema revision"),
    # protobuf payload
    ("PAYLOAD-MALFORMED", 1, "the payload is not a valid protobuf message"),
    ("PAYLOAD-UNKNOWN-FIELDS", 1, "the payload has fields this schema does not define"),
    ("PAYLOAD-NOT-CANONICAL", 1, "the payload is not the canonical encoding of its state"),
    # JSON fixture
    ("JSON-SYNTAX", 1, "the file is not valid JSON"),
    ("JSON-SCHEMA", 1, "the JSON does not follow the gicmig fixture format"),
    ("INPUT-FORMAT-UNKNOWN", 1, "the input is neither a .gicmig blob nor a JSON fixture"),
    # implementation parameters
    ("CONFIG-REVISION", 1, "the architecture revision is missing or not GICv2"),
    ("CONFIG-NUM-CPUS", 1, "num_cpus is not in 1..8"),
    ("CONFIG-NUM-IRQS", 1, "num_irqs is not a multiple of 32 in 32..1020"),
    ("CONFIG-PRIORITY-BITS", 1, "priority_bits is not in 4..8"),
    ("CONFIG-MIN-BPR", 1, "min_bpr is not in 0..3"),
    ("CONFIG-SECURITY-EXTENSIONS", 1, "security extensions are not modelled by schema v1"),
    ("CONFIG-VIRTUALIZATION", 1, "the virtualization parameters are out of range"),
    # state shape
    ("STATE-CPU-COUNT", 1, "a per-CPU list does not have exactly num_cpus entries"),
    ("STATE-IRQ-OUT-OF-RANGE", 1, "state is stored for interrupt IDs >= num_irqs"),
    # interrupts
    ("IRQ-PRIORITY-UNIMPLEMENTED-BITS", 1, "a priority sets bits below the implemented ones"),
    ("IRQ-SPLIT-UNKNOWN-INVALID", 1, "a latch/line-unknown marker on an impossible interrupt"),
    ("IRQ-LATCH-STALE-INVALID", 1, "a maybe-stale-latch marker where no active level latch is"),
    ("SGI-NOT-EDGE", 1, "an SGI is not edge-triggered"),
    ("SGI-DISABLED-RAO", 1, "an SGI is disabled although SGI enables are RAO/WI"),
    ("SGI-LATCH-OR-LINE", 1, "an SGI has a pending latch or line level bit"),
    ("SGI-SOURCE-ABSENT-CPU", 1, "an SGI source names a CPU that does not exist"),
    ("SGI-ACTIVE-SOURCE-NOT-ACTIVE", 1, "an active-SGI source is set for an inactive SGI"),
    ("SGI-ACTIVE-SOURCE-ABSENT-CPU", 1, "an active-SGI source names a CPU that does not exist"),
    ("SPI-TARGET-ABSENT-CPU", 1, "an SPI targets a CPU that does not exist"),
    ("SPI-ACTIVE-CPU-NOT-ACTIVE", 1, "an active-SPI CPU is set for an inactive SPI"),
    ("SPI-ACTIVE-CPU-ABSENT", 1, "an SPI is active on a CPU that does not exist"),
    # CPU interface
    ("CPU-CTLR-RESERVED", 1, "GICC_CTLR sets reserved bits"),
    ("CPU-PMR-UNIMPLEMENTED-BITS", 1, "GICC_PMR sets bits below the implemented ones"),
    ("CPU-BPR-RANGE", 1, "GICC_BPR or GICC_ABPR is below its minimum or above 7"),
    ("CPU-ACTIVE-PRIORITY-UNREPRESENTABLE", 1, "an active priority level cannot exist"),
    ("CPU-ACTIVE-GROUP-OVERLAP", 1, "a level is both group-unknown and in a known group"),
    # virtual interface of a GIC with virtualization extensions
    ("VIRT-PRESENCE", 1, "virtual interfaces without virtualization extensions, or missing"),
    ("VIRT-LR-COUNT", 1, "more list registers than GICH_VTR implements"),
    ("VIRT-RESERVED-BITS", 1, "a GICH register sets reserved bits"),
    ("VIRT-VMCR-BINARY-POINT", 1, "GICH_VMCR.VMBP/VMABP is below its minimum"),
    ("VIRT-APR-UNREPRESENTABLE", 1, "GICH_APR sets a level beyond the preemption bits"),
    # hypervisor context
    ("HYP-VCPU-COUNT", 1, "the hypervisor context does not have one entry per vCPU"),
    ("HYP-HW-MAPPING", 1, "a HW mapping names an impossible virtual or physical ID"),
    ("HYP-RESERVED-BITS", 1, "the hypervisor's GICH_HCR sets reserved bits"),
    # --- QEMU migration stream import (issue 7): add rows here
    ("QEMU-NOT-A-STREAM", 1, "the input does not start with the QEMU stream magic QEVM"),
    ("QEMU-STREAM-VERSION", 1, "the stream format version is not 3"),
    ("QEMU-TRUNCATED", 1, "the stream ends inside a record gicmig needs"),
    ("QEMU-FRAMING", 1, "the stream's record framing is broken where gicmig must follow it"),
    ("QEMU-NO-ARM-GIC", 1, "the stream has no arm_gic section"),
    ("QEMU-GIC-VERSION", 1, "arm_gic is not version 12, or its subsection not version 1"),
    ("QEMU-FOOTER-MISMATCH", 1, "arm_gic is not followed by its own section footer"),
    ("QEMU-ACCEL", 2, "--accel is missing or not tcg/kvm"),
    ("QEMU-ACCEL-MISMATCH", 2, "the section holds what the named accelerator never writes"),
    ("QEMU-MACHINE-UNKNOWN", 2, "--machine names a preset gicmig does not have"),
    ("QEMU-MACHINE-MISMATCH", 2, "--machine differs from the machine type the stream names"),
    ("QEMU-PARAMETER-MISSING", 2, "the number of interrupt IDs is missing or out of range"),
    ("QEMU-NUM-CPUS-AMBIGUOUS", 2, "the stream does not show how many CPUs: give --num-cpus"),
    ("QEMU-NUM-CPUS-MISMATCH", 2, "--num-cpus disagrees with the CPUs the stream holds"),
    ("QEMU-IRQ-BEYOND-NUM-IRQS", 2, "state for interrupt IDs beyond --num-irqs"),
    ("QEMU-VALUE-IMPOSSIBLE", 1, "a field holds a value QEMU 7.2 never writes"),
    ("QEMU-SPI-PENDING-PARTIAL", 1, "an SPI is pending on some of its targets only (dev. 1, 2)"),
    ("QEMU-SPI-TARGET-ABSENT-CPU", 1, "ITARGETSR names CPUs that do not exist (dev. 5)"),
    ("QEMU-SPI-ACTIVE-PARTIAL", 1, "an ISACTIVER-active SPI deactivated by one CPU (dev. 17)"),
    ("QEMU-SPI-ACTIVE-CPU-SET", 1, "an SPI is active on several CPUs"),
    ("QEMU-SGI-SOURCE-ABSENT-CPU", 1, "an SGI source is a CPU that does not exist (dev. 5)"),
    ("QEMU-SGI-PENDING-NO-SOURCE", 1, "an SGI is marked pending without a source (dev. 16)"),
    ("QEMU-SGI-PENDING-ABSENT-CPU", 1, "an SGI is pending on a CPU that does not exist (dev. 5)"),
    ("QEMU-PPI-PENDING-ABSENT-CPU", 1, "a PPI is pending on a CPU that does not exist (dev. 3)"),
    ("QEMU-PPI-TARGETS-WRITTEN", 1, "read-only ITARGETSR0-7 were written and stored (dev. 3)"),
    ("QEMU-LR4-WRITTEN", 1, "GICH_LR4, one past the 4 implemented, holds data (dev. 12)"),
    ("QEMU-LR-RESERVED-BITS", 1, "an HW=0 list register keeps reserved bits [18:13] (dev. 12)"),
    ("QEMU-VCPU-ABPR-BELOW-MIN", 1, "GICV_ABPR below 3 (dev. 11)"),
    ("QEMU-CACHE-MISMATCH", 1, "a QEMU cache disagrees with QEMU's rules for it"),
    # --- QEMU migration stream export (issue 12): add rows here
    ("QEMU-ACCEL-AMBIGUOUS", 2, "the section shows marks of both QEMU GIC devices, or of none"),
    ("QEMU-TEMPLATE-UNWALKABLE", 2, "the template's framing cannot be followed up to arm_gic"),
    ("QEMU-TEMPLATE-NUM-CPUS", 2, "the template's GIC has another number of CPUs than the state"),
    ("QEMU-TEMPLATE-NUM-IRQS", 2, "the template's machine has another number of interrupt IDs"),
    ("QEMU-TEMPLATE-VIRTUALIZATION", 2, "virtualization extensions differ (template vs state)"),
    ("QEMU-EXPORT-SPI-PENDING-NO-TARGET", 1, "a pending SPI without targets: QEMU drops it"),
    ("QEMU-EXPORT-SGI-DISABLED", 1, "a disabled SGI: the TCG GIC's SGI enables are RAO/WI"),
    ("QEMU-EXPORT-PPI-TRIGGER-BANKED", 1, "PPI edge/level differs between CPUs (dev. 4)"),
    ("QEMU-EXPORT-ACTIVE-SGI-SOURCE", 1, "an active SGI's source: QEMU does not store it"),
    ("QEMU-EXPORT-UNKNOWN", 1, "an UNKNOWN marker the TCG GIC's encoding needs resolved"),
    ("QEMU-EXPORT-CTLR-BITS", 1, "GICC_CTLR bypass-disable bits: RAZ/WI in QEMU 7.2 (dev. 10)"),
    ("QEMU-EXPORT-MAINTENANCE-LEVEL", 1, "PPI 25's line differs from the GICH maintenance state"),
    ("QEMU-EXPORT-HYPERVISOR-CONTEXT", 1, "hypervisor context has no place in a QEMU stream"),
    # --- KVM device-ABI view (issue 6): add rows here
    ("KVM-DUMP-SYNTAX", 1, "the KVM register dump is not valid JSON"),
    ("KVM-DUMP-FORMAT", 1, "the dump's format is not gicmig.kvm-dump/1"),
    ("KVM-DUMP-FIELD", 1, "a dump field is missing, unknown or of the wrong type"),
    ("KVM-DUMP-RANGE", 1, "a dump number is out of range (value, vcpu, offset, attr)"),
    ("KVM-DUMP-NR-IRQS", 1, "nr_irqs is not a multiple of 32 in 64..992"),
    ("KVM-DUMP-DUPLICATE", 1, "the same register is read twice with different values"),
    ("KVM-DUMP-INCOMPLETE", 1, "the dump lacks registers the state needs"),
    ("KVM-DUMP-INCONSISTENT", 1, "two views of the same state bits disagree"),
    ("KVM-DUMP-RESERVED-BITS", 1, "a register reads bits KVM never returns"),
    ("KVM-DUMP-TYPER-MISMATCH", 1, "GICD_TYPER disagrees with nr_irqs or the vCPU count"),
    ("KVM-DUMP-IIDR", 1, "GICD_IIDR/GICC_IIDR is not KVM's, or its groups cannot be trusted"),
    ("KVM-DUMP-VCPU-OUT-OF-RANGE", 1, "a register of a vCPU the VM does not have"),
    ("KVM-DUMP-PRIVATE-TARGETS", 1, "a private ITARGETSR is not the reading vCPU's own bit"),
    ("KVM-DUMP-APR-FORMAT", 1, "GICC_APR1-3 are set: not the GICv2-host APR format"),
    ("KVM-DUMP-IRQ-OUT-OF-RANGE", 1, "a register beyond nr_irqs reads non-zero"),
    ("KVM-DUMP-UNKNOWN-REGISTER", 1, "an offset KVM holds no state at reads non-zero"),
    ("KVM-NEVER-RUN-BINARY-POINT", 1, "a never-run vCPU's BPR/ABPR below the minima: "
     "normalized to the values the guest observes (a report, never a refusal)"),
    ("KVM-EXPORT-NUM-IRQS", 1, "KVM's NR_IRQS cannot take this many interrupt IDs"),
    ("KVM-EXPORT-VIRTUALIZATION", 1, "KVM's GICv2 has no virtualization extensions"),
    ("KVM-EXPORT-HYPERVISOR-CONTEXT", 1, "hypervisor context has no place in the device ABI"),
    ("KVM-EXPORT-ENABLE-GROUPS-DIFFER", 1, "EnableGrp0 != EnableGrp1; KVM has one enable"),
    ("KVM-EXPORT-GROUPS-IGNORED", 1, "Group 1 state, but the KVM revision ignores IGROUPR"),
    ("KVM-EXPORT-PRIORITY-BITS", 1, "a priority sets bits below the 5 KVM implements"),
    ("KVM-EXPORT-PPI-EDGE", 1, "an edge-triggered PPI; KVM's PPIs are level, read-only"),
    ("KVM-EXPORT-LINE-LEVEL", 1, "a line level the ABI would turn into a pending latch"),
    ("KVM-EXPORT-ACTIVE-SGI-SOURCE", 1, "an active SGI's source is not the one KVM assigns"),
    ("KVM-EXPORT-ACTIVE-SPI-CPU", 1, "an active SPI's CPU is not the one KVM assigns"),
    ("KVM-EXPORT-LATCH-ACTIVE-LEVEL", 1, "a known latch of an active level IRQ: KVM clears "
     "it at the deactivation"),
    ("KVM-EXPORT-CTLR-BITS", 1, "GICC_CTLR bits KVM's vgic_vmcr does not hold"),
    ("KVM-EXPORT-PMR-BITS", 1, "GICC_PMR sets bits below the 5 KVM implements"),
    ("KVM-EXPORT-BINARY-POINT", 1, "GICC_BPR/ABPR below KVM's minima 2/3"),
    ("KVM-EXPORT-APR-GRANULARITY", 1, "active priorities finer than GICH_APR's 32 levels"),
    # --- GICH view (issue 3): add rows here
    ("GICH-VIEW-SYNTAX", 1, "the GICH view is not valid JSON"),
    ("GICH-VIEW-SCHEMA", 1, "the GICH view does not follow gicmig.gich-view/1"),
    ("GICH-VIEW-VCPU-COUNT", 1, "the view's vCPUs differ from the distributor image's CPUs"),
    ("GICH-IMAGE-UNSUITABLE", 1, "the distributor image has state a GICH view cannot pair with"),
    ("GICH-IMAGE-CPU-CONFLICT", 1, "the image's CPU interface differs from VMCR/APR and reset"),
    ("GICH-VTR-INVALID", 1, "GICH_VTR sets reserved bits or impossible priority bits"),
    ("GICH-VTR-INCONSISTENT", 1, "the vCPUs of one GIC report different GICH_VTR values"),
    ("GICH-LR-COUNT", 1, "the number of list registers differs from GICH_VTR.ListRegs + 1"),
    ("GICH-LR-RESERVED-BITS", 1, "a list register sets reserved bits"),
    ("GICH-LR-DUPLICATE-VIRTUALID", 1, "two valid list registers of a vCPU hold one VirtualID"),
    ("GICH-LR-VIRTUALID-RANGE", 1, "a list register names an ID the distributor lacks"),
    ("GICH-LR-VIRTUALID-SPECIAL", 1, "a list register names a special ID (1020-1023)"),
    ("GICH-LR-HW", 1, "a HW=1 list register: hypervisor context, refused unless kept"),
    ("GICH-LR-HW-PHYSICALID-RANGE", 1, "a HW=1 list register's PhysicalID is not 16..1019"),
    ("GICH-LR-EOI-PENDING", 1, "an invalid list register with EOI=1: unserviced maintenance"),
    ("GICH-LR-INVALID-AMBIGUOUS", 1, "an invalid LR names an IRQ the image holds live"),
    ("GICH-LR-CPUID-ABSENT", 1, "an SGI list register's CPUID names an absent CPU"),
    ("GICH-LR-CPUID-NOT-SGI", 1, "a non-SGI HW=0 list register has a non-zero CPUID"),
    ("GICH-LR-PRIORITY-UNIMPLEMENTED", 1, "an LR priority sets bits GICH_VTR.PRIbits lacks"),
    ("GICH-LR-PRIORITY-STALE", 1, "an LR priority differs from the distributor's"),
    ("GICH-LR-GROUP-MISMATCH", 1, "an LR Grp1 bit differs from the distributor's group"),
    ("GICH-LR-LEVEL-PENDING-MISMATCH", 1, "a level LR is pending but the image's line/latch not"),
    ("GICH-LR-SPI-MULTIPLE-VCPUS", 1, "one SPI is held in list registers of several vCPUs"),
    ("GICH-LR-ACTIVE-CPU-CONFLICT", 1, "an LR holds an SPI the image says is active elsewhere"),
    ("GICH-HCR-RESERVED-BITS", 1, "GICH_HCR sets reserved bits"),
    ("GICH-HCR-EOICOUNT", 1, "GICH_HCR.EOICount is not 0: non-quiescent state"),
    ("GICH-HCR-CONTROL", 1, "GICH_HCR maintenance enables: hypervisor context, refused"),
    ("GICH-HCR-DISABLED", 1, "GICH_HCR.En = 0 while list registers are valid"),
    ("GICH-VMCR-RESERVED-BITS", 1, "GICH_VMCR sets reserved bits"),
    ("GICH-VMCR-BINARY-POINT", 1, "GICH_VMCR.VMBP/VMABP is below the minimum GICH_VTR implies"),
    ("GICH-VMCR-PRIMASK-UNIMPLEMENTED", 1, "VMPriMask sets bits GICH_VTR.PRIbits lacks"),
    ("GICH-APR-UNIMPLEMENTED", 1, "GICH_APR sets bits beyond the 2^PREbits levels"),
    ("GICH-MISR-MISMATCH", 1, "the supplied GICH_MISR differs from the one the LRs imply"),
    ("GICH-EISR-MISMATCH", 1, "the supplied GICH_EISRn differs from the one the LRs imply"),
    ("GICH-ELRSR-MISMATCH", 1, "the supplied GICH_ELRSRn differs from the one the LRs imply"),
    ("GICH-EXPORT-NESTED", 1, "a GIC with virtualization extensions has no GICH view"),
    ("GICH-EXPORT-PRIORITY", 1, "a priority sets bits the target's GICH_LR cannot hold"),
    ("GICH-EXPORT-PMR", 1, "GICC_PMR sets bits GICH_VMCR.VMPriMask cannot hold"),
    ("GICH-EXPORT-CTLR-BITS", 1, "GICC_CTLR bits GICH_VMCR cannot hold (bypass disables)"),
    ("GICH-EXPORT-BINARY-POINT", 1, "GICC_BPR/ABPR below the target's VMBP/VMABP minima"),
    ("GICH-EXPORT-APR-LEVEL", 1, "an active priority level the target's GICH_APR lacks"),
    ("GICH-EXPORT-APR-GROUP-SPLIT", 1, "an active-priority group split GICH_APR would lose"),
    ("GICH-EXPORT-LR-OVERFLOW", 1, "more interrupts that must sit in LRs than the target has"),
    ("GICH-EXPORT-HW-IDLE", 1, "a HW mapping of an idle interrupt: only an LR can carry it"),
    ("GICH-EXPORT-LATCH-MAYBE-STALE", 1, "a maybe-stale latch an LR without EOI would deliver "
     "again (--eoi-policy none)"),
    ("GICH-EXPORT-UNKNOWN", 1, "an UNKNOWN marker the GICH encoding needs resolved"),
    ("GICH-NESTED-NO-VIRTUALIZATION", 1, "--nested on a GIC without virtualization extensions"),
    # --- schema revisions and compatibility (issue 4): add rows here
    ("DIST-GRP1-UNKNOWN-SET", 1, "EnableGrp1 is set although marked UNKNOWN (must be 0)"),
    ("BLOB-REVISION-LOSSY", 1, "the state holds fields the requested schema revision lacks"),
    ("BLOB-REVISION-MISMATCH", 1, "the payload holds fields its header's revision lacks"),
    ("SCHEMA-INPUT", 2, "a schema input is not a proto folder or descriptor set"),
    ("SCHEMA-COMPILE", 2, "the .proto files do not compile"),
    ("SCHEMA-COMPILER-MISSING", 2,
     "compiling .proto files needs grpcio-tools: pip install 'gicmig[schema]'"),
    ("SCHEMA-LAYOUT", 2, "a buf.yaml or buf.work.yaml is malformed or points outside its folder"),
    ("SCHEMA-GIT-REF", 2, "a git ref given as a schema input cannot be read"),
    ("SCHEMA-LOCK-CORRUPT", 2, "a schema lock was edited, is missing or is malformed"),
    ("SCHEMA-REVISION-UNKNOWN", 2, "the schema revision asked for is not locked"),
    ("SCHEMA-BREAKING", 1, "the schema breaks compatibility with a locked revision"),
    ("SCHEMA-WAIVER-INVALID", 2, "the waiver file is malformed"),
    ("SCHEMA-WAIVER-EXPIRED", 1, "a waiver has passed its expiry date"),
    # --- diff (issue 5): add rows here
    # CLI
    ("USAGE", 2, "the command line is wrong"),
    ("IO-READ", 2, "an input could not be read"),
    ("IO-WRITE", 2, "an output could not be written"),
    ("INTERNAL-ERROR", 2, "a bug in gicmig (reported as one line; GICMIG_DEBUG=1 for more)"),
)


class GicmigError(Exception):
    """Base of every error gicmig raises on purpose.

    `GicmigError(code, message)` makes the subclass of the code's kind: a `FileError`
    (also an `OSError`) for IO-READ/IO-WRITE, else an `InputError` (also a `ValueError`).

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
        super().__init__(message)
        self.args = (message,)
        self.code = code
        self.message = message
        self.offset = offset

    @property
    def exit_status(self) -> int:
        return REASONS[self.code].exit_status

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


def _class_of(code: str) -> type[GicmigError]:
    """The class a `GicmigError(code, ...)` is, by the kind of failure the code names: its
    category where the reason table records one (io: FileError, internal: GicmigError,
    any other: InputError), else IO-* codes are FileErrors."""
    category = getattr(REASONS.get(code), "category", None)
    if category == "io" or (category is None and code.startswith("IO-")):
        return FileError
    if category == "internal" or code == "INTERNAL-ERROR":
        return GicmigError
    return InputError


def _rebuild(cls: type[GicmigError], code: str, message: str) -> GicmigError:
    err = cls.__new__(cls, code)
    Exception.__init__(err, message)
    err.args = (message,)
    return err  # pickle then restores __dict__: code, message, offset and the rest
