"""`gicmig export qemu`: a gicmig state -> a QEMU 7.2 migration stream (from a template)."""

from __future__ import annotations

import argparse
import sys

from gicmig.cli._lazy import TYPE_CHECKING

if TYPE_CHECKING:
    from gicmig.cli import Subcommands
    from gicmig.errors import Violation
    from gicmig.views.qemu.write import QemuExport

EPILOG = """examples:
  gicmig export qemu gic.gicmig --template dest.mig -o vm.mig
  gicmig export qemu gic.json --template dest.mig -o vm.mig --accel kvm --lenient

The template is a migration stream of the destination VM (same QEMU 7.2 machine, -smp
and GIC: `migrate "exec:cat > dest.mig"` from it once). Its arm_gic section is replaced
and every other byte copied: guest RAM, CPUs and devices come from the template. --accel
is read from the template's marks when left out. Strict mode refuses what QEMU cannot
hold and lists every reason; --lenient writes the nearest state and lists the losses.
exit: 0 written, 1 not representable / invalid state, 2 usage, template or I/O error"""


def register(sub: Subcommands) -> None:
    p = sub.add("qemu", "write a state into a copy of a QEMU 7.2 migration stream", EPILOG,
                group="export")
    p.add_argument("input", metavar="STATE", help="blob or JSON fixture; - for stdin")
    p.add_argument("--template", required=True, metavar="STREAM",
                   help="a migration stream of the destination VM (QEMU 7.2, same machine)")
    p.add_argument("-o", "--output", required=True, help="the stream to write (atomically)")
    p.add_argument("--accel", choices=("tcg", "kvm"),
                   help="the destination's QEMU GIC device: tcg (arm_gic) or kvm "
                        "(kvm-arm-gic); default: what the template shows")
    p.add_argument("--num-irqs", type=int, metavar="N",
                   help="interrupt IDs of the template's machine, if it has no preset")
    p.add_argument("--lenient", action="store_true",
                   help="write the nearest state QEMU can hold and report the losses")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="report format")
    p.set_defaults(run=_export)


def _export(args: argparse.Namespace) -> int:
    from gicmig.cli._paths import refuse_overwriting_input, same_file
    from gicmig.cli._run import exit_status
    from gicmig.errors import GicmigError, ValidationError
    from gicmig.formats.io import load
    from gicmig.views.qemu.write import export_qemu

    refuse_overwriting_input(args)
    if same_file(args.template, args.output):
        raise GicmigError("USAGE", f"output {args.output} is the template: inputs are never "
                                   "modified")
    args.current_path = args.input
    state = load(args.input)
    args.current_path = args.template
    try:
        rep = export_qemu(state, args.template, args.output, accel=args.accel,
                          lenient=args.lenient, num_irqs=args.num_irqs)
    except ValidationError as exc:
        args.current_path = args.input
        if not exc.code.startswith(("QEMU-EXPORT-", "KVM-EXPORT-")):
            raise
        _report(args, list(exc.violations), None, exit_status(exc))
        return exit_status(exc)
    _report(args, list(rep.losses), rep)
    return 0


def _report(args: argparse.Namespace, losses: list[Violation], rep: QemuExport | None,
            status: int = 0) -> None:
    refused = rep is None
    out = sys.stderr if args.output == "-" else sys.stdout
    from gicmig.cli.report import emit_conversion, print_violations

    if args.format == "json":
        extra: dict[str, object] = {}
        if rep is not None:
            extra.update(accel=rep.accel, machine=rep.machine,
                         section_offset=rep.section_offset, size=rep.size)
        emit_conversion("export-report", "qemu", losses, input=args.input, output=args.output,
                        refused=refused, status=status, out=out, lenient=args.lenient,
                        template=args.template, **extra)
        return
    print_violations(losses, args.input, "" if refused else " (accepted with --lenient)")
    if rep is not None:
        print(f"{args.input}: wrote {args.output} ({rep.size} bytes) from template "
              f"{args.template}: arm_gic at byte {rep.section_offset}, accel {rep.accel}, "
              f"{len(losses)} losses", file=out)
