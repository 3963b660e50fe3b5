"""`gicmig show`: one state, as its non-reset facts (text, JSON) or as an HTML page."""

from __future__ import annotations

import argparse

from gicmig.cli._lazy import TYPE_CHECKING

if TYPE_CHECKING:
    from gicmig.cli import Subcommands
    from gicmig.core.model import GicState

SHOW_EPILOG = """inputs: anything `gicmig diff` reads (detected by content): a .gicmig blob of any
  schema revision, a JSON fixture, a KVM dump, a GICH view, - for stdin; a QEMU stream as
  qemu:tcg:PATH or qemu:kvm:PATH; import options as VIEW,KEY=VALUE:PATH (docs/diff.md)

output:
  text (default)  a header, then every fact that differs from the architectural reset
                  state, one per line `PATH: VALUE` (the paths of `gicmig diff`)
  json            a list of {path, value, register}
  html            one self-contained page: interrupt matrix, CPU and virtual interfaces,
                  registers on hover (docs/html.md); give -o FILE

examples:
  gicmig show fixtures/v1/busy.json
  gicmig show --registers qemu:tcg:examples/qemu-7.2-virt.mig
  gicmig show --format html -o state.html fixtures/v1/max.gicmig

exit codes: 0 shown, 1 invalid input, 2 usage or I/O error"""


def register(sub: Subcommands) -> None:
    p = sub.add("show", "show one GIC state: its non-reset facts, or an HTML page", SHOW_EPILOG)
    p.add_argument("input", metavar="STATE", help="blob, JSON fixture, KVM dump, GICH view, "
                                                  "VIEW:PATH, or - for stdin")
    p.add_argument("--format", choices=("text", "json", "html"), default="text")
    p.add_argument("-o", "--output", default="-", metavar="FILE",
                   help="write here instead of stdout (atomically)")
    p.add_argument("--registers", action="store_true",
                   help="text: name the register and bits that show each fact")
    p.set_defaults(run=_show)


def _show(args: argparse.Namespace) -> int:
    from gicmig.cli._paths import refuse_overwriting_input
    from gicmig.errors import GicmigError
    from gicmig.files import write_atomic
    from gicmig.inputs import load_input

    args.current_path = args.input
    refuse_overwriting_input(args)
    if args.format == "html" and args.output == "-" and _stdout_is_tty():
        raise GicmigError("USAGE", "an HTML page is for a browser: give -o FILE.html")
    state = load_input(args.input)
    args.current_path = args.output
    write_atomic(args.output, render(state, args.input, args.format, args.registers).encode())
    return 0


def _stdout_is_tty() -> bool:
    import sys

    return sys.stdout.isatty()


def render(state: GicState, name: str, fmt: str, registers: bool = False) -> str:
    """The report of `state` in `fmt` (text, json or html)."""
    from gicmig.html import state_page
    from gicmig.html.facts import from_reset

    if fmt == "html":
        return state_page(state, name)
    facts = from_reset(state)
    if fmt == "json":
        from gicmig.cli.jsondoc import document, dumps

        return dumps(document("show", ok=True, exit=0, input=name, facts=[
            {"path": c.path, "value": c.new, "register": c.register} for c in facts]))
    cfg = state.config
    virt = cfg.virtualization
    lines = [f"# {name}: {cfg.num_cpus} CPUs, {cfg.num_irqs} interrupt IDs, {cfg.revision}"
             + (f", GICH with {virt.num_lrs} LRs" if virt else "")
             + f", from {state.provenance.source}",
             f"# {len(facts)} facts differ from reset (all else is reset); "
             "`--format html -o FILE` draws the whole state"]
    for c in facts:
        line = f"{c.path}: {c.new}"
        lines.append(f"{line} [{c.register}]" if registers and c.register else line)
    return "\n".join(lines) + "\n"
