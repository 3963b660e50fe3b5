"""`gicmig diff` and `gicmig fixture update`."""

from __future__ import annotations

import argparse
import sys

from gicmig.cli._lazy import TYPE_CHECKING, json

if TYPE_CHECKING:

    from gicmig.cli import Subcommands
    from gicmig.core.model import GicState
    from gicmig.errors import GicmigError
    from gicmig.statediff.entries import Diff

DIFF_EPILOG = """inputs (detected by content): a .gicmig blob of any schema revision, a JSON
  fixture, a KVM dump, a GICH view; - for stdin. A QEMU migration stream needs its
  device: qemu:tcg:PATH or qemu:kvm:PATH. Import options: VIEW,KEY=VALUE:PATH, e.g.
  kvm,num_cpus=2:dump.json, qemu:kvm,num_irqs=288:vm.mig (docs/diff.md)

examples:
  gicmig diff fixtures/v1/busy.json after.gicmig
  gicmig diff --registers --ignore 'provenance.*' before.gicmig after.gicmig
  gicmig diff --format json a.json b.json | jq -c '.changes[]'
  gicmig diff -q expected.json actual.gicmig && echo same
  gicmig diff --format html -o diff.html before.gicmig after.json   # docs/html.md

output: one change per line, `PATH: OLD -> NEW`, in a fixed order (config, distributor,
  SPIs by ID, per CPU: banked IRQs, GICC, GICH; hypervisor context; provenance)
exit codes: 0 same, 1 different, 2 trouble (unreadable or invalid input, usage)"""

UPDATE_EPILOG = """examples:
  gicmig fixture update tests/fixtures/*.json          # rewrite in canonical form
  gicmig fixture update --check tests/fixtures/*.json  # CI: exit 1 if any would change
  gicmig fixture update tests/fixtures/boot.json --from new-capture.gicmig

exit codes: 0 ok (or nothing to change with --check), 1 would change (--check) or invalid
  input, 2 usage or I/O error"""


def register(sub: Subcommands) -> None:
    p = sub.add("diff", "show what changed between two GIC states, in GIC terms", DIFF_EPILOG)
    p.add_argument("old", metavar="A", help="the state before (blob, JSON fixture, VIEW:PATH, -)")
    p.add_argument("new", metavar="B", help="the state after")
    p.add_argument("--format", choices=("text", "json", "html"), default="text",
                   help="json: one gicmig/diff document, an entry per fact with typed "
                        "values (docs/json-output.md); html: one self-contained page "
                        "(give -o FILE)")
    p.add_argument("-o", "--output", default="-", metavar="FILE",
                   help="write the report here instead of stdout (atomically)")
    p.add_argument("--ignore", action="append", default=[], metavar="PATTERN",
                   help="leave out changes whose path matches this fnmatch glob "
                        "(repeatable), e.g. 'provenance.*' or 'cpu? gicc.pmr'")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print no changes; the exit status says same (0) or different (1)")
    p.add_argument("--registers", action="store_true",
                   help="show the register and bits that hold each change, where one does")
    p.set_defaults(run=_diff)

    p = sub.add("update", "rewrite fixtures in canonical form, or with the state of an input",
                UPDATE_EPILOG, group="fixture")
    p.add_argument("fixtures", nargs="+", metavar="FIXTURE",
                   help="JSON fixture or .gicmig blob (the extension picks the format)")
    p.add_argument("--from", dest="source", metavar="INPUT",
                   help="write INPUT's state into FIXTURE (one FIXTURE; it may not exist yet)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a fixture would change")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: one gicmig/fixture-update document, each fixture's result and "
                        "its changes as gicmig/diff entries (docs/json-output.md)")
    p.set_defaults(run=_update)


# --- diff ---------------------------------------------------------------------------------------
def _diff(args: argparse.Namespace) -> int:
    from gicmig.cli._run import report_error
    from gicmig.errors import GicmigError
    from gicmig.inputs import load_input
    from gicmig.statediff.semantic import diff

    try:
        if args.old == "-" and args.new == "-":
            raise GicmigError("USAGE", "only one of A and B can be stdin (-)")
        args.current_path = args.old
        a = load_input(args.old)
        args.current_path = args.new
        b = load_input(args.new)
        changes = diff(a, b, ignore=args.ignore)
        if not args.quiet:
            _write_report(args, a, b, changes)
    except GicmigError as exc:  # like diff(1): any trouble is 2, never "different"
        path = getattr(args, "current_path", None) or "gicmig"
        if args.format == "json":
            _print_error_document(path, exc)
        else:
            report_error(path, exc)
        return 2
    return 1 if changes else 0


def _write_report(args: argparse.Namespace, a: GicState, b: GicState,
                  changes: Diff) -> None:
    from gicmig.cli._paths import same_file
    from gicmig.errors import GicmigError
    from gicmig.files import write_atomic

    out = args.output
    args.current_path = out
    if any(same_file(src, out) for src in (args.old, args.new)):
        raise GicmigError("USAGE", f"output {out} is an input: inputs are never modified")
    if args.format == "html":
        from gicmig.html import diff_page

        if out == "-" and sys.stdout.isatty():
            raise GicmigError("USAGE", "an HTML page is for a browser: give -o FILE.html")
        write_atomic(out, diff_page(a, b, changes, names=(args.old, args.new)).encode())
    elif out != "-":
        write_atomic(out, _report(args, changes).encode())
    elif args.format == "text":
        sys.stdout.write(_coloured(args, changes))
    else:
        sys.stdout.write(_report(args, changes))


def _report(args: argparse.Namespace, changes: Diff) -> str:
    if args.format == "json":
        from gicmig.statediff.entries import dumps

        return dumps(changes.document(old=args.old, new=args.new))
    return "".join(c.render(args.registers) + "\n" for c in changes)


def _coloured(args: argparse.Namespace, changes: Diff) -> str:
    """The text report for stdout: old values red, new green, registers dim, where the
    terminal gets colour (gicmig.cli._color); else exactly `_report`."""
    from gicmig.cli._color import enabled, paint

    if not enabled(sys.stdout):
        return _report(args, changes)
    out = sys.stdout
    lines = []
    for c in changes:
        reg = f" {paint(f'[{c.register}]', 'dim', out)}" if args.registers and c.register else ""
        lines.append(f"{c.path}: {paint(c.old, 'bad', out)} -> {paint(c.new, 'new', out)}{reg}\n")
    return "".join(lines)


def _print_error_document(path: str, exc: GicmigError, status: int = 2) -> None:
    """Trouble under --format json: the one `gicmig/error` document on stdout."""
    from gicmig.cli.jsondoc import emit, error_document

    message = str(exc).removeprefix(f"{exc.code} ")  # with the byte offset, where one is
    emit(error_document(exc.code, message, path, status, offset=exc.offset,
                        line=getattr(exc, "line", None), column=getattr(exc, "column", None)),
         sys.stdout)


# --- fixture update -----------------------------------------------------------------------------
def _update(args: argparse.Namespace) -> int:
    from gicmig.errors import GicmigError

    records: list[dict[str, object]] = []
    try:
        if args.source is not None and len(args.fixtures) != 1:
            raise GicmigError("USAGE", "--from writes one fixture: give exactly one FIXTURE")
        status = 0
        for path in args.fixtures:
            args.current_path = path
            one, record = _update_one(args, path)
            status = max(status, one)
            records.append(record)
    except GicmigError as exc:
        if args.format != "json":
            raise
        from gicmig.cli._run import exit_status

        status = exit_status(exc)
        _print_error_document(getattr(args, "current_path", None) or "gicmig", exc, status)
        return status
    if args.format == "json":
        print(json.dumps({"format": "gicmig/fixture-update", "version": 1, "ok": status == 0,
                          "exit": status, "check": args.check, "files": records}))
    return status


def _update_one(args: argparse.Namespace, path: str) -> tuple[int, dict[str, object]]:
    """Update one fixture: its exit status and its record (printed as text here, unless
    the output is JSON)."""
    from gicmig.files import read_bytes, write_atomic
    from gicmig.formats.io import format_for, load, render
    from gicmig.inputs import load_input
    from gicmig.statediff.entries import Diff
    from gicmig.statediff.semantic import diff

    current: GicState | None
    cause: str | None = "changes"
    code: str | None = None
    if args.source is None:
        state = current = load(path)
    else:
        args.current_path = args.source
        state = load_input(args.source)
        args.current_path = path
        current, cause, code = _current(path)
    text = render(state, format_for(path))
    changes = Diff()
    if current is not None and read_bytes(path) == text:
        result, cause = "unchanged", None
    else:
        if current is not None:
            changes = diff(current, state)
            cause = "changes" if changes else "format"
        result = "would_rewrite" if args.check else "rewritten"
        if not args.check:
            write_atomic(path, text)
    entries = [e.as_dict() for e in changes.entries()]
    record: dict[str, object] = {"path": path, "result": result, "cause": cause,
                                 "unreadable_code": code,
              "count": len(entries), "changes": entries}
    if args.format != "json":
        _print_update(path, result, cause, code, changes)
    return (1 if result == "would_rewrite" else 0), record


def _print_update(path: str, result: str, cause: str | None, code: str | None,
                  changes: Diff) -> None:
    n = len(changes)
    why = {"changes": f"{n} change{'s' * (n != 1)}", "format": "format only",
           "new_file": "new file",
           "unreadable": f"replacing an unreadable fixture: {code}"}.get(cause or "", "")
    if result == "unchanged":
        print(f"{path}: unchanged")
        return
    print(f"{path}: {'would be rewritten' if result == 'would_rewrite' else 'rewritten'} ({why})")
    if result == "rewritten":
        for c in changes:
            print(f"  {c.render()}")


def _current(path: str) -> tuple[GicState | None, str, str | None]:
    """The fixture's state, or None and why there is none (a new or unreadable file, and
    then the reason code it cannot be read with)."""
    import os

    from gicmig.errors import GicmigError
    from gicmig.formats.io import load

    if not os.path.exists(path):
        return None, "new_file", None
    try:
        return load(path), "changes", None
    except GicmigError as exc:
        return None, "unreadable", exc.code
