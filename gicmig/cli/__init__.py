"""The `gicmig` command line: a thin layer over the library.

Every command module registers its subcommands with `register(sub)`; modules import
only argparse at load time (heavy imports happen inside the command), so `gicmig --help`
stays as cheap as a bare interpreter start.
Exit codes: 0 ok / same, 1 invalid, lossy, breaking or different, 2 usage or I/O error.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

from gicmig import __version__
from gicmig.cli._lazy import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, NoReturn

# what `--format` of the commands whose findings CI reads (validate, schema check) takes:
# the emitters of gicmig.cli.report
REPORT_FORMATS = ("text", "json", "github", "sarif")

# Each module defines `register(sub: Subcommands) -> None`.
COMMAND_MODULES = [
    "gicmig.cli.codec_cmds",
    "gicmig.cli.validate_cmd",
    "gicmig.cli.schema_cmds",
    "gicmig.cli.kvm_cmds",
    "gicmig.cli.qemu_cmds",
    "gicmig.cli.qemu_export_cmds",
    "gicmig.cli.diff_cmds",
    "gicmig.cli.show_cmds",
    "gicmig.cli.gich_cmds",
    "gicmig.cli.completion_cmds",
]

EPILOG = """examples:
  gicmig encode fixtures/v1/busy.json -o busy.gicmig
  gicmig decode busy.gicmig                 # JSON fixture to stdout
  gicmig validate --format json a.gicmig b.json
  gicmig info busy.gicmig
  gicmig import qemu --accel tcg --machine virt vm.mig -o gic.gicmig
  gicmig export kvm gic.gicmig -o writes.json
  gicmig export qemu gic.gicmig --template dest.mig -o vm.mig
  gicmig diff --registers before.gicmig after.json
  gicmig show --format html -o state.html gic.gicmig
  gicmig diff --format html -o diff.html before.gicmig after.json
  gicmig schema check                       # proto/ against every locked revision

exit codes: 0 ok, 1 invalid/lossy/different, 2 usage or I/O error"""


def docs_dir() -> str:
    """Where the docs/NAME.md that help texts name are: in an installed package,
    gicmig/docs/ (setup.py puts them there); in a source checkout, its docs/."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for where in (os.path.join(package, "docs"), os.path.join(os.path.dirname(package), "docs")):
        if os.path.isfile(os.path.join(where, "reason-codes.md")):
            return where
    return "docs/ of gicmig's source distribution"


def _docs_line() -> str:
    return f"docs/NAME.md named in help texts: {docs_dir()}"


class Parser(argparse.ArgumentParser):
    """argparse as gicmig uses it: no option abbreviation on any parser (subparsers are
    built with this class too: argparse's own allow_abbrev=False reaches only the parser
    it is given, on Python 3.10-3.13), and a suggestion for a mistyped command, option or
    choice (the suggestion code loads only on that error)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            from gicmig.cli._suggest import invalid_choice

            raise invalid_choice(action, value)

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            from gicmig.cli._suggest import unrecognized

            self.error(unrecognized(self, ns, extras))
        return ns

    def error(self, message: str) -> NoReturn:
        from gicmig.cli._suggest import PLAIN

        if message.startswith(PLAIN):  # a mistyped command or option: one line
            self.exit(2, f"{self.prog}: {message}\n")
        super().error(message)


class Subcommands:
    """The top-level subcommand table, with named groups (`import`, `export`, `schema`)."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._top = parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}

    def add(self, name: str, help: str, epilog: str | None = None,
            group: str | None = None) -> argparse.ArgumentParser:
        table = self._top if group is None else self._group(group)
        if "docs/" in help + (epilog or ""):
            epilog = f"{epilog}\n\n{_docs_line()}" if epilog else _docs_line()
        p = table.add_parser(name, help=help, description=help, epilog=epilog,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        _color_option(p, argparse.SUPPRESS)  # after the command too; does not undo one before it
        return p

    def _group(self, name: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        if name not in self._groups:
            helps = {"import": "convert an outside view into a gicmig state",
                     "export": "convert a gicmig state into an outside view",
                     "schema": "the schema: JSON Schema, revisions, compatibility",
                     "fixture": "keep JSON fixtures canonical and up to date"}
            p = self._top.add_parser(name, help=helps.get(name, name))
            self._groups[name] = p.add_subparsers(dest=f"{name}_command", metavar="VIEW",
                                                  required=True)
        return self._groups[name]


def _color_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--color", choices=("auto", "always", "never"), default=default,
                        help="colour the text output: auto (default) only on a terminal and "
                             "not when NO_COLOR is set; always; never")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="gicmig",
        description="Serialize, validate, convert and diff GICv2 migration state.",
        epilog=f"{EPILOG}\n{_docs_line()}", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gicmig {__version__}")
    _color_option(parser, "auto")
    sub = Subcommands(parser)
    for name in COMMAND_MODULES:
        import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    from gicmig.cli._color import configure
    from gicmig.cli._run import run

    configure(args.color)
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
