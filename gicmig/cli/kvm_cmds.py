"""`import kvm` and `export kvm`: the KVM device-ABI register view."""

from __future__ import annotations

import argparse
import sys

from gicmig.cli._lazy import TYPE_CHECKING
from gicmig.cli._paths import refuse_overwriting_input

if TYPE_CHECKING:
    from gicmig.cli import Subcommands
    from gicmig.core.model import GicState
    from gicmig.errors import Violation

IMPORT_EPILOG = """examples:
  gicmig import kvm fixtures/kvm/two-vcpu.json -o state.gicmig
  gicmig import kvm dump.json --num-cpus 2 -o state.json     # a dump without GICD_TYPER
  gicmig import kvm fixtures/kvm/firecracker-gicv2.json --num-cpus 2 -o x.gicmig
      # refused: KVM-DUMP-INCOMPLETE lists every register the dump lacks
  gicmig import kvm dump.json -o - --format json > state.json

The dump is a gicmig.kvm-dump/1 document (docs/kvm.md): NR_IRQS and the registers read
through KVM_DEV_ARM_VGIC_GRP_DIST_REGS / CPU_REGS. What the ABI cannot say is marked
UNKNOWN in the state and listed in the report. exit: 0 ok, 1 invalid/incomplete, 2 I/O"""

EXPORT_EPILOG = """examples:
  gicmig export kvm state.gicmig -o writes.json
  gicmig export kvm state.json --lenient -o writes.json
  gicmig export kvm state.gicmig --dump -o expected-dump.json

The writes (gicmig.kvm-writes/1) are KVM_SET_DEVICE_ATTR calls to make in order, with
all vCPUs stopped. Strict mode refuses what KVM cannot hold and lists every reason;
--lenient writes the nearest state KVM holds and lists the losses.
exit: 0 ok, 1 not representable / invalid, 2 usage or I/O"""


def register(sub: Subcommands) -> None:
    p = sub.add("kvm", "import a KVM GICv2 register dump (gicmig.kvm-dump/1)", IMPORT_EPILOG,
                group="import")
    p.add_argument("input", metavar="DUMP", help="the register dump (JSON); - for stdin")
    p.add_argument("-o", "--output", required=True,
                   help="output state: *.json = JSON fixture, else .gicmig blob; - = JSON "
                        "fixture on stdout")
    p.add_argument("--num-cpus", type=int, metavar="N",
                   help="vCPU count (default: from GICD_TYPER, which must then agree)")
    p.add_argument("--priority-bits", type=int, default=5, metavar="N",
                   help="implemented priority bits (KVM: 5)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="report format")
    p.set_defaults(run=_import)

    p = sub.add("kvm", "export a state as KVM device-ABI register writes", EXPORT_EPILOG,
                group="export")
    p.add_argument("input", metavar="STATE", help="blob or JSON fixture; - for stdin")
    p.add_argument("-o", "--output", required=True, help="output JSON; - for stdout")
    p.add_argument("--lenient", action="store_true",
                   help="write the nearest state KVM can hold and report the losses")
    p.add_argument("--iidr-revision", type=int, choices=(1, 2, 3),
                   help="the KVM GICD_IIDR revision to select in the destination (default: "
                        "the source's if it was KVM revision 2 or 3, else 2; below 2 KVM "
                        "ignores IGROUPR writes)")
    p.add_argument("--dump", action="store_true",
                   help="write the register dump KVM would return after the restore "
                        "(gicmig.kvm-dump/1) instead of the writes")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="report format")
    p.set_defaults(run=_export)


def _import(args: argparse.Namespace) -> int:
    from gicmig.cli._run import exit_status  # not at load: `gicmig --help` stays cheap
    from gicmig.files import read_bytes
    from gicmig.formats.io import dump
    from gicmig.views.kvm.dump import parse_dump
    from gicmig.views.kvm.reader import KvmDumpIncomplete, import_kvm

    refuse_overwriting_input(args)
    args.current_path = args.input
    try:
        state = import_kvm(parse_dump(read_bytes(args.input)), num_cpus=args.num_cpus,
                           priority_bits=args.priority_bits)
    except KvmDumpIncomplete as exc:
        if args.format != "json":
            raise
        from gicmig.cli.jsondoc import emit, error_document

        emit(error_document(exc.code, exc.message, args.input, exit_status(exc),
                            missing=list(exc.missing)))
        return exit_status(exc)
    dump(state, args.output)
    _report_import(args, state)
    return 0


def _report_import(args: argparse.Namespace, state: GicState) -> None:
    out = sys.stderr if args.output == "-" else sys.stdout
    cfg, iidr = state.config, state.provenance.gicd_iidr
    from gicmig.core.markers import unknown_markers

    marks = unknown_markers(state)
    norm = getattr(state, "normalizations", ())
    derived = getattr(state, "derivations", ())
    if args.format == "json":
        from gicmig.cli.jsondoc import document, emit
        from gicmig.cli.report import from_violations, records

        emit(document("import-report", ok=True, exit=0, view="kvm", input=args.input,
                      output=args.output, num_cpus=cfg.num_cpus, num_irqs=cfg.num_irqs,
                      gicd_iidr=iidr, errors=[],
                      normalized=records(from_violations(norm, args.input, "warning")),
                      derived=[{"place": d.place, "message": d.message} for d in derived],
                      unknown={**marks, "active_priority_group": {  # numbers, not labels
                          cpu: [int(gp, 16) for gp in levels]
                          for cpu, levels in marks["active_priority_group"].items()}}), out)
        return
    print(f"{args.input}: {cfg.num_cpus} vCPUs, {cfg.num_irqs} interrupt IDs, GICD_IIDR "
          f"{iidr or 0:#010x} -> {args.output}", file=out)
    for v in norm:
        print(f"normalized: {v.code} {v.path}: {v.message}", file=out)
    for d in derived:
        print(f"derived: {d.place}: {d.message}", file=out)
    if marks["enable_grp1"]:
        print("unknown: GICD_CTLR.EnableGrp1 (KVM has one distributor enable)", file=out)
    for key, what in (("pending_split", "latch/line split of pending level interrupt"),
                      ("sgi_active_source", "source of active SGI"),
                      ("spi_active_cpu", "CPU of active SPI"),
                      ("latch_maybe_stale", "whether the latch of active level interrupt is "
                                            "KVM's stale one")):
        if marks[key]:
            print(f"unknown: {what} ({len(marks[key])}): {', '.join(marks[key])}", file=out)
    for cpu, levels in marks["active_priority_group"].items():
        print(f"unknown: group of {cpu} active priorities {', '.join(levels)}", file=out)


def _export(args: argparse.Namespace) -> int:
    from gicmig.abi.kvm.fit import dump_kvm, plan_kvm
    from gicmig.cli._run import exit_status  # not at load: `gicmig --help` stays cheap
    from gicmig.errors import ValidationError
    from gicmig.files import write_atomic
    from gicmig.formats.io import load
    from gicmig.views.kvm.dump import Loss, dump_to_json, writes_to_json

    refuse_overwriting_input(args)
    args.current_path = args.input
    state = load(args.input)
    try:
        plan = plan_kvm(state, lenient=args.lenient, iidr_revision=args.iidr_revision)
    except ValidationError as exc:
        _report_losses(args, list(exc.violations), refused=True, status=exit_status(exc))
        return exit_status(exc)
    if args.dump:
        text = dump_to_json(dump_kvm(state, lenient=args.lenient,
                                     iidr_revision=args.iidr_revision))
    else:
        text = writes_to_json(state.config.num_irqs, plan.writes,
                              [Loss(v.code, v.path, v.message) for v in plan.losses])
    write_atomic(args.output, text.encode())
    _report_losses(args, list(plan.losses), refused=False)
    return 0


def _report_losses(args: argparse.Namespace, violations: list[Violation], *,
                   refused: bool, status: int = 0) -> None:
    from gicmig.cli.report import emit_conversion, print_violations

    if args.format == "json":
        emit_conversion("export-report", "kvm", violations, input=args.input,
                        output=args.output, refused=refused, status=status,
                        out=sys.stderr if args.output == "-" else sys.stdout,
                        lenient=args.lenient)
        return
    print_violations(violations, args.input, "" if refused else " (accepted with --lenient)")
