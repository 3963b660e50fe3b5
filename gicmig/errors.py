"""Typed errors with stable reason codes.

Every failure gicmig reports carries a reason code from `REASONS`: a stable string that
CI scripts may match on, a one-line message naming the place and the values, and, for
byte-level problems, the byte offset. Errors are values: inspect `.code`, `.offset` and
`.violations`; never parse the message.
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
    ("VIRT-PRESENCE", 1, "virtual interfaces present without virtualization extensions, or missing"),
    ("VIRT-LR-COUNT", 1, "more list registers than GICH_VTR implements"),
    ("VIRT-RESERVED-BITS", 1, "a GICH register sets reserved bits"),
    ("VIRT-VMCR-BINARY-POINT", 1, "GICH_VMCR.VMBP/VMABP is below its minimum"),
    ("VIRT-APR-UNREPRESENTABLE", 1, "GICH_APR sets a level beyond the preemption bits"),
    # hypervisor context
    ("HYP-VCPU-COUNT", 1, "the hypervisor context does not have one entry per vCPU"),
    ("HYP-HW-MAPPING", 1, "a HW mapping names an impossible virtual or physical ID"),
    ("HYP-RESERVED-BITS", 1, "the hypervisor's GICH_HCR sets reserved bits"),
    # --- QEMU migration stream import (issue 7): add rows here
    # --- KVM device-ABI view (issue 6): add rows here
    # --- GICH view (issue 3): add rows here
    # --- schema revisions and compatibility (issue 4): add rows here
    # --- diff (issue 5): add rows here
    # CLI
    ("USAGE", 2, "the command line is wrong"),
    ("IO-READ", 2, "an input could not be read"),
    ("IO-WRITE", 2, "an output could not be written"),
)


class GicmigError(Exception):
    """Base of every error gicmig raises on purpose.

    >>> try:
    ...     gicmig.decode(b"not a blob")
    ... except gicmig.GicmigError as e:
    ...     print(e.code, e.offset)
    BLOB-TRUNCATED 0
    """

    def __init__(self, code: str, message: str, *, offset: int | None = None) -> None:
        if code not in REASONS:
            raise KeyError(f"unregistered reason code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.offset = offset

    @property
    def exit_status(self) -> int:
        return REASONS[self.code].exit_status

    def __str__(self) -> str:
        where = f" (at byte {self.offset})" if self.offset is not None else ""
        return f"{self.code} {self.message}{where}"


class DecodeError(GicmigError):
    """Input bytes or text that cannot be read as gicmig data."""


@dataclass(frozen=True)
class Violation:
    """One broken rule: a reason code, the place (a path into the state) and a message."""

    code: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.code} {self.path}: {self.message}"


class ValidationError(GicmigError):
    """A state that breaks one or more rules; `.violations` lists every one of them."""

    def __init__(self, violations: list[Violation]) -> None:
        first = violations[0]
        more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        super().__init__(first.code, f"{first.path}: {first.message}{more}")
        self.violations = tuple(violations)
