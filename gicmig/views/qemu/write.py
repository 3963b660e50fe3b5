"""The QEMU view, written: a canonical state -> the `arm_gic` section of a QEMU 7.2
migration stream, inside a copy of a stream of the destination VM (the template).

Only the field bytes of `arm_gic` and of its `arm_gic_virt_state` subsection change;
every other byte of the template is copied as it is, including the vmdesc JSON at the
end, which names the fields, their sizes and the subsection but no offset or value (the
section keeps its size: the template must have the subsection exactly when the state has
virtualization extensions). The kernel copies the template into a temporary file in a
second thread while the template is walked and the section planned; the new bytes are then
written in place and the output appears atomically. Memory does not grow with the template.

Two encodings (gic-domain.md §5.3, §5.5):

* `tcg`: the TCG GIC model's own arrays, including the caches QEMU stores
  (running_priority, current_pending, GICH_MISR and the vCPU caches) computed by the
  importer's functions of QEMU 7.2's rules (`gic_update_internal`,
  `gic_get_prio_from_apr_bits`, `gic_compute_misr`).
* `kvm`: what kvm-arm-gic's `kvm_arm_gic_get` saves: the register image KVM returns
  after the state is restored (`gicmig.abi.kvm.fit.dump_kvm`, with KVM's losses from
  `fit_kvm`) read back into QEMU's arrays as that function does. QEMU never writes
  GICD_IIDR, so KVM keeps ignoring IGROUPR writes: Group 1 interrupts are a loss.

Strict mode refuses what the destination cannot hold or would change, with every reason;
`lenient=True` writes the nearest state and reports each loss. The result is checked by
importing it again: the state the destination holds is returned with the report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gicmig import __version__
from gicmig.core.config import GicConfig
from gicmig.core.model import GicState
from gicmig.core.rules import validate
from gicmig.errors import GicmigError, Violation
from gicmig.files import written_in_place
from gicmig.views.qemu.accel import check_accel, slots_in_use
from gicmig.views.qemu.convert import convert, qemu_config
from gicmig.views.qemu.decode import Raw
from gicmig.views.qemu.encode_kvm import _fit_kvm, kvm_image
from gicmig.views.qemu.encode_tcg import fit_tcg, tcg_image
from gicmig.views.qemu.model import (
    MACHINES,
    QEMU_NUM_LRS,
    VIRT_PRIORITY_BITS,
    check_accel_name,
)
from gicmig.views.qemu.splice import QemuPlan, _write, _write_alongside
from gicmig.views.qemu.stream import read_arm_gic
from gicmig.views.qemu.vmstate import (
    VIRT_SUBSECTION,
    ArmGicSection,
)


@dataclass(frozen=True)
class QemuExport:
    """What was written: the state the destination holds (importing the output gives it
    back), the losses lenient mode accepted (empty in strict mode), where the section is."""

    state: GicState
    losses: tuple[Violation, ...]
    accel: str
    machine: str | None
    section_offset: int
    size: int


def export_qemu(state: GicState, template: str | os.PathLike[str],
                out: str | os.PathLike[str], accel: str | None = None,
                lenient: bool = False, *, num_irqs: int | None = None) -> QemuExport:
    """Write `state` into a copy of the QEMU 7.2 stream `template` as `out`.

    `accel` ("tcg" or "kvm") is the QEMU GIC device of the destination; by default the
    template's own marks decide it (QEMU-ACCEL-AMBIGUOUS when they cannot), and a given
    `accel` the template contradicts is refused (QEMU-ACCEL-MISMATCH). The template must
    be a stream of the same machine: CPU count, interrupt IDs (`num_irqs` is needed only
    for machine types without a preset) and virtualization extensions. Strict mode raises
    `QemuUnrepresentable` listing every state QEMU cannot hold; lenient mode writes the
    nearest state and lists the losses in the report.

    >>> import os, tempfile
    >>> state = gicmig.load("fixtures/v1/reset-virt-2cpu.gicmig")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     out = os.path.join(folder, "vm.mig")
    ...     rep = gicmig.export_qemu(state, "examples/qemu-7.2-virt-template.mig", out)
    ...     print(rep.accel, [v.code for v in rep.losses], gicmig.import_qemu(out) == rep.state)
    tcg [] True
    """
    check_accel_name(accel)
    _refuse_same_file(template, out)

    def planned() -> tuple[ArmGicSection, QemuPlan]:
        section = read_arm_gic(template)
        return section, plan_qemu(state, section, accel=accel, lenient=lenient,
                                  num_irqs=num_irqs)

    if str(out) == "-" or _in_place(out):
        section, plan = planned()  # a pipe or device: nothing is opened before the plan
        size = _write(template, out, section, plan.main, plan.virt)
    else:
        section, plan, size = _write_alongside(template, out, planned)
    return QemuExport(plan.state, plan.losses, plan.accel, section.machine, section.offset,
                      size)


def _in_place(out: str | os.PathLike[str]) -> bool:
    try:
        return written_in_place(Path(out))
    except OSError:
        return False  # open_atomic refuses it, naming it


def plan_qemu(state: GicState, section: ArmGicSection, *, accel: str | None = None,
              lenient: bool = False, num_irqs: int | None = None) -> QemuPlan:
    """The section bytes that hold `state` in the machine of `section` (a template's)."""
    raw = Raw(section)
    accel = check_accel(raw, accel, "the template")  # before any other check
    if section.located_by == "search":
        raise GicmigError("QEMU-TEMPLATE-UNWALKABLE",
                          "the template's framing could not be followed up to its arm_gic "
                          f"section ({section.search_reason}); gicmig writes only into a "
                          "stream it can walk record by record", offset=section.offset)
    validate(state)
    config = _destination(state, raw, section, accel, num_irqs)
    if accel == "tcg":
        fitted, losses = fit_tcg(state, config, lenient=lenient)
        image = tcg_image(fitted)
    else:
        fitted, losses = _fit_kvm(state, config, lenient=lenient)
        image = kvm_image(fitted)
    prov = fitted.provenance
    prov.tool, prov.tool_version, prov.vmm, prov.source = (
        "gicmig", __version__, "qemu", f"qemu-{accel}")
    main, virt = image.encode()
    _self_check(fitted, section, main, virt, accel)
    return QemuPlan(fitted, tuple(losses), accel, main, virt)


# --- the destination machine ----------------------------------------------------------------
def _destination(state: GicState, raw: Raw, section: ArmGicSection, accel: str,
                 num_irqs: int | None) -> GicConfig:
    """The GicConfig of the template's GIC (as `import qemu` reads it), which must be the
    state's machine: same CPUs, interrupt IDs and virtualization extensions."""
    cfg = state.config
    written = section.machine or ""
    machine = next((m for m in MACHINES if written == m or written.startswith(m + "-")), None)
    if machine is None and num_irqs is None:
        raise GicmigError("QEMU-PARAMETER-MISSING",
                          f"the template's machine type {written or '(not recorded)'!r} has "
                          "no preset of its number of interrupt IDs: give --num-irqs N")
    virt = cfg.virtualization
    if (virt is not None) != raw.virt:
        have = "has" if raw.virt else "has no"
        raise GicmigError("QEMU-TEMPLATE-VIRTUALIZATION",
                          f"the template's arm_gic {have} the {VIRT_SUBSECTION} subsection, "
                          f"but the state's GIC {'has' if virt else 'has no'} virtualization "
                          "extensions: use a template of the same machine")
    if virt is not None and (virt.num_lrs, virt.priority_bits, virt.preemption_bits) != (
            QEMU_NUM_LRS, VIRT_PRIORITY_BITS, VIRT_PRIORITY_BITS):
        raise GicmigError("QEMU-TEMPLATE-VIRTUALIZATION",
                          f"the state's GICH has {virt.num_lrs} list registers and "
                          f"{virt.priority_bits}/{virt.preemption_bits} priority/preemption "
                          f"bits; QEMU 7.2's has {QEMU_NUM_LRS} and "
                          f"{VIRT_PRIORITY_BITS}/{VIRT_PRIORITY_BITS}")
    n = slots_in_use(raw)
    if n != cfg.num_cpus:
        raise GicmigError("QEMU-TEMPLATE-NUM-CPUS",
                          f"the state's GIC has {cfg.num_cpus} CPU interfaces, the template's "
                          f"has {n} (its CPU slots in use): use a template of a VM with "
                          f"-smp {cfg.num_cpus}")
    want = MACHINES[machine] if machine is not None and num_irqs is None else num_irqs
    if want != cfg.num_irqs:
        raise GicmigError("QEMU-TEMPLATE-NUM-IRQS",
                          f"the state's GIC has {cfg.num_irqs} interrupt IDs, the template's "
                          f"machine {written!r} has {want}")
    try:
        return qemu_config(raw, section, accel, cfg.num_cpus, cfg.num_irqs, None, machine)
    except GicmigError as exc:
        if exc.code.startswith("QEMU-NUM-CPUS"):
            raise GicmigError("QEMU-TEMPLATE-NUM-CPUS",
                              f"the template does not hold a {cfg.num_cpus}-CPU GIC: "
                              f"{exc.message}") from None
        raise


# --- checking and writing ---------------------------------------------------------------------
def _self_check(fitted: GicState, section: ArmGicSection, main: bytes, virt: bytes | None,
                accel: str) -> None:
    """Import the new section bytes again: they must give back exactly `fitted`."""
    cfg = fitted.config
    new = ArmGicSection(main, virt, section.section_id, section.instance_id, section.offset,
                        section.machine, section.located_by)
    try:
        back = convert(new, accel=accel, num_cpus=cfg.num_cpus, num_irqs=cfg.num_irqs,
                       priority_bits=cfg.priority_bits)
    except GicmigError as exc:
        raise GicmigError("INTERNAL-ERROR", f"the written section does not import again ({exc}): "
                                            "a gicmig bug, please report it") from None
    if back != fitted or back.import_report.normalized:
        raise GicmigError("INTERNAL-ERROR", "the written section imports as another state: a "
                                            "gicmig bug, please report it")


def _refuse_same_file(template: str | os.PathLike[str], out: str | os.PathLike[str]) -> None:
    try:
        same = os.path.samefile(template, out)
    except OSError:
        same = False
    if same:
        raise GicmigError("USAGE", f"output {out} is the template: inputs are never modified")
