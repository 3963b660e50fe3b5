"""`gicmig import qemu`: a QEMU migration stream's arm_gic section -> gicmig state."""

from __future__ import annotations

import argparse
import sys

from gicmig.cli._lazy import TYPE_CHECKING
from gicmig.cli._paths import same_file

if TYPE_CHECKING:
    from typing import Any

    from gicmig.cli import Subcommands

EPILOG = """examples:
  gicmig import qemu virt.mig -o virt.gicmig --machine virt
  gicmig import qemu guest.mig -o guest.json --accel kvm --num-irqs 288 --num-cpus 4
  cat virt.mig | gicmig import qemu - -o virt.gicmig --accel tcg --machine virt --lenient

The stream does not name the QEMU device that wrote the GIC section, but each device
leaves marks the other never writes: --accel may be left out when they decide, and a
--accel they contradict is refused. The stream records neither the number of CPUs,
interrupt IDs nor priority bits. --machine virt presets 288 IDs, and is the default when
the stream's configuration names the virt board; the CPU count is read from the per-CPU
slots when they leave no doubt.
exit codes: 0 imported, 1 invalid stream or refused deviation, 2 usage or I/O error"""


def register(sub: Subcommands) -> None:
    p = sub.add("qemu", "import the GIC state of a QEMU migration stream (arm_gic v12)",
                EPILOG, group="import")
    p.add_argument("stream", help="QEMU migration stream (migrate to file/exec); - for stdin")
    p.add_argument("-o", "--output", required=True,
                   help="output state: *.json = JSON fixture, else .gicmig blob; - = JSON "
                        "fixture on stdout")
    p.add_argument("--accel", choices=("tcg", "kvm"),
                   help="the QEMU GIC device that wrote the stream: tcg (arm_gic) or kvm "
                        "(kvm-arm-gic); default: what the section's marks show (a "
                        "contradicted --accel is refused as QEMU-ACCEL-MISMATCH)")
    p.add_argument("--machine", choices=("virt",), help="board preset: virt = 288 IDs")
    p.add_argument("--num-cpus", type=int, metavar="N", help="CPU interfaces (1-8)")
    p.add_argument("--num-irqs", type=int, metavar="N", help="interrupt IDs (multiple of 32)")
    p.add_argument("--priority-bits", type=int, metavar="N",
                   help="implemented priority bits (default: tcg 8, kvm 5)")
    p.add_argument("--lenient", action="store_true",
                   help="normalize the benign QEMU 7.2 deviations and report each on stderr")
    p.add_argument("--nested", action="store_true",
                   help="also fold each CPU's GICH registers (programmed by the guest, itself "
                        "a hypervisor) into its own guest's CPU interface, and report it; a "
                        "CPU whose view is not quiescent makes the import fail")
    p.add_argument("--keep-hypervisor-context", action="store_true",
                   help="with --nested: accept the nested hypervisor's context (HW list "
                        "registers, maintenance enables) and report it")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="report format on stdout (errors go to stderr in text mode)")
    p.set_defaults(run=_import_qemu)


def _import_qemu(args: argparse.Namespace) -> int:
    from gicmig.errors import GicmigError
    from gicmig.formats.io import dump
    from gicmig.views.qemu.convert import QemuImportReport, import_qemu

    args.current_path = args.stream
    if same_file(args.stream, args.output):
        raise GicmigError("USAGE", f"output {args.output} is the input: inputs are never "
                                   "modified")
    state = import_qemu(args.stream, accel=args.accel, num_cpus=args.num_cpus,
                        num_irqs=args.num_irqs, priority_bits=args.priority_bits,
                        machine=args.machine, lenient=args.lenient)
    report = state.import_report
    assert isinstance(report, QemuImportReport)
    if args.format != "json":
        for v in report.normalized:
            print(f"{args.stream}: normalized {v.code} {v.path}: {v.message}", file=sys.stderr)
        for d in report.derived:
            print(f"{args.stream}: derived {d.place}: {d.message}", file=sys.stderr)
    nested = _nested(args, state) if args.nested else None
    refused = nested is not None and not all(r["ok"] for r in nested)
    if not refused:
        dump(state, args.output)
    facts = report.facts()
    if args.format == "json":
        _json_report(args, state, report, nested, refused)
    elif not refused and args.output != "-":
        cfg = state.config
        print(f"{args.stream}: imported {state.provenance.source} state "
              f"({cfg.num_cpus} CPUs, {cfg.num_irqs} IDs) to {args.output}; "
              f"{len(report.normalized)} normalized; {facts.get('section', '')}, located by "
              f"{facts.get('located_by', '?')}")
    return 1 if refused else 0  # refused: nothing written


def _json_report(args: argparse.Namespace, state: Any, report: Any,
                 nested: list[dict[str, Any]] | None, refused: bool) -> None:
    """The gicmig/import-report of `import qemu` (stderr when the state went to stdout)."""
    from gicmig.cli.jsondoc import document, emit
    from gicmig.cli.report import from_violations, records

    cfg = state.config
    facts = report.facts()
    extra: dict[str, Any] = {} if nested is None else {"nested": nested}
    if facts:
        extra["stream"] = {**facts, "virtualization_extensions":
                           facts["virtualization_extensions"] == "yes"}
    emit(document("import-report", ok=not refused, exit=1 if refused else 0, view="qemu",
                  input=args.stream, output=None if refused else args.output,
                  source=state.provenance.source, num_cpus=cfg.num_cpus,
                  num_irqs=cfg.num_irqs, priority_bits=cfg.priority_bits,
                  errors=[e for r in nested or () for e in r["errors"]],
                  normalized=records(from_violations(report.normalized, args.stream,
                                                     "warning")),
                  derived=[{"place": d.place, "message": d.message} for d in report.derived],
                  **extra),
         sys.stderr if args.output == "-" else sys.stdout)


def _nested(args: argparse.Namespace, state: Any) -> list[dict[str, Any]]:
    """Fold and report the nested guest's CPU interfaces (text now, JSON records returned);
    a record with ok false is a CPU refused."""
    from gicmig.views.gich.nested import fold_nested
    from gicmig.views.gich.nested_report import nested_records, nested_text

    results = fold_nested(state, lenient=args.lenient,
                          keep_hypervisor_context=args.keep_hypervisor_context)
    if args.format == "json":
        from gicmig.cli.report import Finding, records

        recs = nested_records(results, typed=True)
        for rec in recs:
            rec["errors"] = records(Finding(e["code"], e["message"], file=args.stream,
                                            place=e["place"]) for e in rec["errors"])
        return recs
    for line in nested_text(results):
        print(f"{args.stream}: {line}", file=sys.stderr if line.startswith("refused") or
              ": GICH-" in line else sys.stdout)
    return [{"ok": not r.problems} for r in results]
