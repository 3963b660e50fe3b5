"""The framing of a QEMU migration stream (format 3): record types, RAM record flags,
the limits gicmig reads them with, and the state of one walk."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gicmig.limits import MAX_COUNT, MAX_JSON
from gicmig.views.qemu.source import StreamInput

MAGIC = b"QEVM"
STREAM_VERSION = 3

# record types (migration/savevm.c)
EOF_MARK, START, PART, END, FULL, SUBSECTION, VMDESC, CONFIGURATION, COMMAND = range(9)
FOOTER = 0x7E

# RAM record flags (migration/ram.c, `ram` version 4)
RAM_ZERO, RAM_MEM_SIZE, RAM_PAGE, RAM_EOS, RAM_CONTINUE = 0x02, 0x04, 0x08, 0x10, 0x20
RAM_XBZRLE, RAM_COMPRESS, RAM_MULTIFD_FLUSH = 0x40, 0x100, 0x200
RAM_VERSION = 4
ARM_MIN_PAGE_BITS = 10  # TARGET_PAGE_BITS_MIN of ARM: the page size when none is recorded
MAX_NAME = 4096  # longest machine type name accepted in the configuration record
MAX_VMDESC = MAX_JSON  # the trailing vmdesc is read only if it fits in this many bytes
MAX_PAGE_BITS = 16  # TARGET_PAGE_BITS of an ARM QEMU: 10..16 (64 KiB pages)
MAX_CAPABILITIES = MAX_COUNT  # QEMU 7.2 knows 23 migration capabilities


@dataclass
class Walk:
    """State of the framing walk."""

    inp: StreamInput
    machine: str | None = None
    page_size: int = 1 << ARM_MIN_PAGE_BITS
    page_bits_known: bool = False
    capabilities: tuple[str, ...] = ()
    sections: dict[int, tuple[str, int]] = field(default_factory=dict)  # id -> (idstr, version)
    vmdesc: list[dict[str, Any]] | None = None
    vmdesc_tried: bool = False
    vmdesc_next: int = 0
    used_vmdesc: bool = False
