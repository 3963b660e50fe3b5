"""`import gich`, `export gich` and `schema gich-view`: the GICH virtual interface view."""

from __future__ import annotations

import argparse
import os
import sys

from gicmig.cli._lazy import TYPE_CHECKING, json
from gicmig.cli._paths import refuse_overwriting_input, same_file

if TYPE_CHECKING:
    from gicmig.cli import Subcommands
    from gicmig.errors import Violation

IMPORT_EPILOG = """examples:
  gicmig import gich view.json -o state.gicmig
  gicmig import gich view.json -o state.json --lenient      # normalize benign cases, report
  gicmig import gich view.json -o state.gicmig --keep-hypervisor-context
  gicmig import gich view.json -o - --format json > state.json

The view is gicmig.gich-view/1 (docs/gich.md): per vCPU GICH_VTR, HCR, VMCR, APR, the
list registers (optionally MISR/EISRn/ELRSRn as read) and the hypervisor's distributor
image. Every lossy conversion is refused with a reason code naming the vCPU and LR;
HW-mapped LRs, unserviced EOI maintenance, EOICount and GICH_HCR maintenance enables are
refused unless --keep-hypervisor-context. exit: 0 ok, 1 invalid/lossy, 2 usage or I/O"""

EXPORT_EPILOG = """examples:
  gicmig export gich fixtures/v1/busy.json -o view.json
  gicmig export gich state.gicmig --vtr 0x9000003f -o view.json     # 64 list registers
  gicmig export gich state.gicmig --eoi-policy none --distributor blob -o view.json

Active interrupts go into list registers first (all must fit), then pending ones by
priority and ID; the rest stays pending in the distributor image. --eoi-policy kvm sets
GICH_LR.EOI where Linux KVM does (level interrupts, SGIs with sources left over).
exit: 0 ok, 1 the target cannot hold the state (every reason listed), 2 usage or I/O"""


def register(sub: Subcommands) -> None:
    p = sub.add("gich", "import a GICH view (gicmig.gich-view/1) as a state", IMPORT_EPILOG,
                group="import")
    p.add_argument("input", metavar="VIEW", help="the GICH view (JSON); - for stdin")
    p.add_argument("-o", "--output", required=True,
                   help="output state: *.json = JSON fixture, else .gicmig blob; - = JSON "
                        "fixture on stdout")
    p.add_argument("--lenient", action="store_true",
                   help="normalize the cases gic-domain §6 marks benign, and report each")
    p.add_argument("--keep-hypervisor-context", action="store_true",
                   help="carry HW mappings, EOI maintenance and GICH_HCR as hypervisor context")
    p.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    p.set_defaults(run=_import)

    p = sub.add("gich", "export a state as a GICH view (gicmig.gich-view/1)", EXPORT_EPILOG,
                group="export")
    p.add_argument("input", metavar="STATE", help="blob or JSON fixture; - for stdin")
    p.add_argument("-o", "--output", required=True, help="output view (JSON); - for stdout")
    p.add_argument("--vtr", type=_u32, default=0x9000_0003, metavar="0x…",
                   help="the target's GICH_VTR (default 0x90000003: 4 LRs, 5 priority and "
                        "5 preemption bits)")
    p.add_argument("--eoi-policy", choices=("kvm", "none"), default="kvm")
    p.add_argument("--lenient", action="store_true",
                   help="with --eoi-policy none: drop a pending latch marked maybe stale (as "
                        "KVM would at the deactivation) instead of refusing, and report it")
    p.add_argument("--distributor", choices=("fixture", "blob"), default="fixture",
                   help="embed the distributor image as a JSON fixture or a base64 blob")
    p.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    p.set_defaults(run=_export)

    p = sub.add("gich-view", "print the JSON Schema of the GICH view format", group="schema")
    p.add_argument("-o", "--output", default="-")
    p.set_defaults(run=_schema)


def _u32(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= 0xFFFF_FFFF:
        raise argparse.ArgumentTypeError(f"{text} is not a 32-bit value")
    return value


def _import(args: argparse.Namespace) -> int:
    from gicmig.cli._run import exit_status  # not at load: `gicmig --help` stays cheap
    from gicmig.errors import GicmigError, ValidationError
    from gicmig.files import read_bytes
    from gicmig.formats.io import dump
    from gicmig.views.gich.merge import import_gich
    from gicmig.views.gich.viewfile import distributor_path, parse_view

    refuse_overwriting_input(args)
    args.current_path = args.input
    base = os.path.dirname(args.input) if args.input != "-" else None
    text = read_bytes(args.input)
    image = distributor_path(text, base)
    if image is not None and same_file(image, args.output):
        raise GicmigError("USAGE", f"output {args.output} is the distributor image the view "
                          "names: inputs are never modified")
    view = parse_view(text, base_dir=base)
    try:
        state = import_gich(view, lenient=args.lenient,
                            keep_hypervisor_context=args.keep_hypervisor_context)
    except ValidationError as exc:
        _report(args, list(exc.violations), ok=False, status=exit_status(exc))
        return exit_status(exc)
    dump(state, args.output)
    _report(args, list(state.normalizations), ok=True)
    return 0


def _export(args: argparse.Namespace) -> int:
    from gicmig.cli._run import exit_status  # not at load: `gicmig --help` stays cheap
    from gicmig.errors import ValidationError
    from gicmig.files import write_atomic
    from gicmig.formats.io import load
    from gicmig.views.gich.params import GichTarget
    from gicmig.views.gich.plan import plan_gich

    refuse_overwriting_input(args)
    args.current_path = args.input
    state = load(args.input)
    try:
        view, losses = plan_gich(state, GichTarget(vtr=args.vtr, eoi_policy=args.eoi_policy),
                                 lenient=args.lenient)
    except ValidationError as exc:
        _report(args, list(exc.violations), ok=False, status=exit_status(exc), export=True)
        return exit_status(exc)
    write_atomic(args.output, view.to_json(distributor=args.distributor).encode())
    _report(args, list(losses), ok=True, export=True)
    return 0


def _report(args: argparse.Namespace, items: list[Violation], *, ok: bool, status: int = 0,
            export: bool = False) -> None:
    """Errors (refused) or normalizations/losses (accepted): one line each, or one
    gicmig/import-report or gicmig/export-report document."""
    from gicmig.cli.report import emit_conversion, print_violations

    if args.format == "json":
        extra = {"lenient": args.lenient} if export else {"derived": []}
        emit_conversion("export-report" if export else "import-report", "gich", items,
                        input=args.input, output=args.output, refused=not ok, status=status,
                        out=sys.stdout if args.output != "-" else sys.stderr, **extra)
        return
    print_violations(items, args.input, " (normalized: --lenient)" if ok else "",
                     sys.stderr if args.output == "-" or not ok else sys.stdout)


def _schema(args: argparse.Namespace) -> int:
    from gicmig.files import write_atomic
    from gicmig.views.gich.viewfile import json_schema

    write_atomic(args.output, (json.dumps(json_schema(), indent=2) + "\n").encode())
    return 0
