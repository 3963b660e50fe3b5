"""The QEMU view: the `arm_gic` vmstate of a migration stream -> canonical state.

QEMU keeps per-interrupt state as 8-bit CPU masks sized for 8 CPUs and 1020 IDs, and two
devices write the same `arm_gic` v12 section with different encodings (gic-domain.md
§5.3, §5.5): the TCG GIC model (`--accel tcg`) and kvm-arm-gic (`--accel kvm`). The stream
does not say which, nor how many CPUs and IDs the GIC has: the caller does.

Strict by default: every QEMU 7.2 deviation from the architecture that the stream shows
(shared/qemu/README.md, "QEMU 7.2 deviations") is refused with its own reason code. With
`lenient=True` the benign ones are normalized and each normalization is reported; the
others are refused either way. QEMU's caches (running_priority, current_pending, h_misr)
are not stored; they are checked against QEMU's own rules where those are reliable.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gicmig import __version__
from gicmig.arch import labels
from gicmig.arch.registers import (
    KVM_MIN_BPR,
    KVM_PRIORITY_BITS,
)
from gicmig.core.attribution import attribute
from gicmig.core.config import GicConfig
from gicmig.core.imported import Assumption, ImportedState, ImportReport
from gicmig.core.model import GicState
from gicmig.core.rules import validate
from gicmig.errors import DecodeError, GicmigError
from gicmig.files import Source
from gicmig.views.qemu.accel import check_accel
from gicmig.views.qemu.decode import Raw, Report
from gicmig.views.qemu.kvmgic import KvmArmGic
from gicmig.views.qemu.model import (
    MACHINES,
    QEMU_NUM_LRS,
    TCG_MIN_BPR,
    TCG_PRIORITY_BITS,
    VIRT_PRIORITY_BITS,
    check_accel_name,
)
from gicmig.views.qemu.stream import describe, read_arm_gic
from gicmig.views.qemu.tcg import TcgModel
from gicmig.views.qemu.vmstate import NCPU, ArmGicSection


@dataclass(frozen=True)
class QemuImportReport(ImportReport):
    """`import_qemu`'s report: `section` is the `arm_gic` section it read (where it was
    found: `.offset`, `.located_by`; `facts()` as text for reports)."""

    section: ArmGicSection | None = None

    def facts(self) -> dict[str, str]:
        """Where the section was found and what it holds, as (key, text)."""
        return dict(describe(self.section)) if self.section is not None else {}


def import_qemu(source: Source, *, accel: str | None = None,
                num_cpus: int | None = None, num_irqs: int | None = None,
                priority_bits: int | None = None, machine: str | None = None,
                lenient: bool = False) -> ImportedState:
    """The canonical state held by the `arm_gic` section of a QEMU migration stream.

    `source` is the stream's path (a str is always a path; `-` is stdin), its bytes, or a
    binary file object (read forward in bounded chunks from where it stands: a stream
    holds the VM's RAM and is never read whole).
    `accel` ("tcg" or "kvm") says which QEMU device wrote the section. The section's
    marks of either device are checked first (QEMU-ACCEL-MISMATCH names one); without
    `accel` they decide, and QEMU-ACCEL-AMBIGUOUS says when they cannot.
    `machine="virt"` presets 288 IDs (the default when the stream names that board);
    `num_cpus` defaults to what the per-CPU slots
    show when that is unambiguous. Raises `InputError` with a QEMU-* reason code, or
    `FileError`. The state's `.import_report` (a `QemuImportReport`) lists what `lenient`
    normalized, what the active interrupts explain (accel kvm) and where the section was.

    >>> state = gicmig.import_qemu("examples/qemu-7.2-virt-template.mig", accel="tcg")
    >>> state.config.num_cpus, state.import_report.facts()["located_by"]
    (2, 'vmdesc')
    """
    check_accel_name(accel)
    stream: Any = source
    if isinstance(source, (bytes, bytearray, memoryview)):
        stream = io.BytesIO(source)
    elif isinstance(source, str) and source == "-":
        stream = sys.stdin.buffer
    elif isinstance(source, io.TextIOBase):
        raise TypeError("import_qemu() reads binary files: open the stream with 'rb'")
    elif not isinstance(source, (str, os.PathLike)) and \
            not callable(getattr(source, "read", None)):
        raise TypeError("import_qemu() takes a path (str or os.PathLike), bytes or a binary "
                        f"file, not {type(source).__name__}")
    return convert(read_arm_gic(stream), accel=accel, num_cpus=num_cpus, num_irqs=num_irqs,
                   priority_bits=priority_bits, machine=machine, lenient=lenient)


def convert(section: ArmGicSection, *, accel: str | None = None, num_cpus: int | None = None,
            num_irqs: int | None = None, priority_bits: int | None = None,
            machine: str | None = None, lenient: bool = False) -> ImportedState:
    """`import_qemu` on a section already read from a stream."""
    raw = Raw(section)
    given: dict[str, object] = {"accel": accel, "machine": machine, "num_cpus": num_cpus,
                                "num_irqs": num_irqs, "priority_bits": priority_bits}
    accel = check_accel(raw, accel)
    config = qemu_config(raw, section, accel, num_cpus, num_irqs, priority_bits, machine)
    report = Report(lenient)
    state = GicState.reset(config)
    conv = TcgModel(raw, state, report) if accel == "tcg" else KvmArmGic(raw, state, report)
    conv.run()
    # kvm-arm-gic holds KVM's combined APR and no SPI CPU: the one attribution rule
    derived = attribute(state) if accel == "kvm" else []
    prov = state.provenance
    prov.tool, prov.tool_version, prov.vmm = "gicmig", __version__, "qemu"
    prov.source = f"qemu-{accel}"
    validate(state)
    return ImportedState(state, QemuImportReport(
        "qemu", tuple(report.items), tuple(derived),
        _assumed(given, accel, config, section.machine or ""), section))


def _assumed(given: Mapping[str, object], accel: str, config: GicConfig,
             board: str) -> tuple[Assumption, ...]:
    """The parameters the stream does not record that the caller left to the import."""
    preset = board.split("-")[0]
    chosen: dict[str, tuple[int | str, str]] = {
        "accel": (accel, "the section's marks of the QEMU device that wrote it"),
        "machine": (preset, f"the stream's machine type {board!r}"),
        "num_irqs": (config.num_irqs, f"the {preset} board"),
        "num_cpus": (config.num_cpus, "the per-CPU slots in use"),
        "priority_bits": (config.priority_bits, f"QEMU's {accel} GIC"),
    }
    if given["num_irqs"] is not None or given["machine"] is not None or preset not in MACHINES:
        del chosen["machine"]  # the stream's board was not used
    if given["machine"] is not None:
        del chosen["num_irqs"]  # the caller's board says it
    return tuple(Assumption(name, value, why) for name, (value, why) in chosen.items()
                 if given[name] is None)


# --- parameters -------------------------------------------------------------------------------
def qemu_config(raw: Raw, section: ArmGicSection, accel: str, num_cpus: int | None,
                num_irqs: int | None, priority_bits: int | None, machine: str | None) -> GicConfig:
    board = section.machine or ""
    if machine is None and num_irqs is None and board.split("-")[0] in MACHINES:
        machine = board.split("-")[0]  # the stream names its board, and the board fixes the IDs
    if machine is not None:
        if machine not in MACHINES:
            raise GicmigError("QEMU-MACHINE-UNKNOWN",
                              f"machine {machine!r}: gicmig knows {', '.join(MACHINES)}")
        written = section.machine
        if written and written != machine and not written.startswith(machine + "-"):
            raise GicmigError("QEMU-MACHINE-MISMATCH",
                              f"--machine {machine}, but the stream was written by machine "
                              f"type {written!r}")
        num_irqs = MACHINES[machine] if num_irqs is None else num_irqs
    if num_irqs is None:
        hint = f" (the stream names machine type {section.machine!r})" if section.machine else ""
        raise GicmigError("QEMU-PARAMETER-MISSING",
                          "the stream does not record the number of interrupt IDs: give "
                          f"--num-irqs N or --machine virt{hint}")
    if not 32 <= num_irqs <= 992 or num_irqs % 32:
        raise GicmigError("QEMU-PARAMETER-MISSING",
                          f"--num-irqs {num_irqs}: QEMU's GIC takes a multiple of 32 in 32..992")
    if accel == "kvm" and raw.virt:
        raise DecodeError("QEMU-ACCEL-MISMATCH",
                          "the section has the arm_gic_virt_state subsection, which kvm-arm-gic "
                          "never writes (KVM's GICv2 has no virtualization extensions): was the "
                          "stream written by the TCG GIC (--accel tcg)?")
    n = _num_cpus(raw, accel, num_cpus)
    virt = QEMU_NUM_LRS if raw.virt else None
    if accel == "tcg":
        bits = TCG_PRIORITY_BITS if priority_bits is None else priority_bits
        return GicConfig(n, num_irqs, priority_bits=bits, min_bpr=TCG_MIN_BPR,
                         sgi_enables_rao_wi=True, ppi_trigger_programmable=True, num_lrs=virt,
                         virtual_priority_bits=VIRT_PRIORITY_BITS,
                         virtual_preemption_bits=VIRT_PRIORITY_BITS)
    bits = KVM_PRIORITY_BITS if priority_bits is None else priority_bits
    return GicConfig(n, num_irqs, priority_bits=bits, min_bpr=KVM_MIN_BPR,
                     sgi_enables_rao_wi=False, ppi_trigger_programmable=False, num_lrs=virt)


def _num_cpus(raw: Raw, accel: str, given: int | None) -> int:
    present = [raw.present(c, accel) for c in range(NCPU)]
    if given is None:
        n = present.index(False) if False in present else NCPU
        if n and not any(present[n:]) and all(raw.slot_zero(c) for c in range(n, NCPU)):
            return n
        raise GicmigError("QEMU-NUM-CPUS-AMBIGUOUS",
                          "the per-CPU slots do not show how many CPUs the GIC has (slots "
                          f"{labels.cpus(sum(1 << c for c in range(NCPU) if present[c]))} "
                          f"look in use with --accel {accel}): give --num-cpus N, or check "
                          "--accel")
    if not 1 <= given <= NCPU:
        raise GicmigError("QEMU-NUM-CPUS-MISMATCH", f"--num-cpus {given} is not in 1..{NCPU}")
    extra = [c for c in range(given, NCPU) if present[c]]
    missing = [c for c in range(given) if not present[c]]
    if extra or missing:
        what = (f"CPU {extra[0]} has CPU interface state" if extra
                else f"CPU {missing[0]} has none of the state an existing CPU has")
        raise GicmigError("QEMU-NUM-CPUS-MISMATCH",
                          f"--num-cpus {given}, but in the stream {what} "
                          f"(accelerator {accel})")
    return given
