"""`gicmig validate`: blobs, fixtures and folders of them, every violation, CI formats."""

from __future__ import annotations

import argparse
import os
import sys

from gicmig.cli import REPORT_FORMATS
from gicmig.cli._lazy import TYPE_CHECKING

if TYPE_CHECKING:
    from gicmig.cli import Subcommands
    from gicmig.cli.report import Finding
    from gicmig.errors import GicmigError

EXTENSIONS = (".gicmig", ".json")  # the files a folder contributes

EPILOG = """examples:
  gicmig validate fixtures/v1/busy.gicmig state.json
  gicmig validate -q fixtures/                 # problems only, no summary
  gicmig validate --format json fixtures/v1/*.gicmig
  gicmig validate --format github fixtures/    # annotations in a GitHub Actions log
  gicmig validate --format sarif fixtures/ > gicmig.sarif

A FILE is read whatever its name (- for stdin). A folder contributes every *.gicmig and
*.json file below it, in sorted path order; names starting with "." are skipped, and so
are symlinks to folders, symlinks to files outside the folder, FIFOs and devices (listed
as skipped). A JSON fixture's every shape error is reported, each at the line and column
of its key; rule violations are reported once its shape is right.
text: one line per problem (FILE:LINE:COL: CODE PLACE: MESSAGE), `FILE: ok` for a good
file, and a summary line `N files: X ok, Y invalid`; -q prints the problems only.
json: one gicmig/validate document (docs/json-output.md).
exit codes: 0 every file valid, 1 a file invalid, 2 usage or I/O error (beats 1)"""


class FileResult:
    """One file's findings and the exit status they mean (0 when there are none)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.findings: list[Finding] = []
        self.exit = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def record(self) -> dict[str, object]:
        return {"path": self.path, "ok": self.ok, "exit": self.exit,
                "findings": [f.record() for f in self.findings]}


def register(sub: Subcommands) -> None:
    p = sub.add("validate", "check blobs, fixtures and folders of them against every rule",
                EPILOG)
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR")
    p.add_argument("--format", choices=REPORT_FORMATS, default="text")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print the problems only (no ok lines, no summary)")
    p.add_argument("--allow-unknown", action="store_true",
                   help="accept fields of a newer schema revision")
    p.set_defaults(run=_validate)


def expand(inputs: list[str]) -> tuple[list[str], list[str]]:
    """(files to validate, skipped paths): folders walked as the epilog says."""
    files: list[str] = []
    skipped: list[str] = []
    for path in inputs:
        if path != "-" and os.path.isdir(path) and not os.path.islink(path):
            found, skip = _walk(path)
            files.extend(found)
            skipped.extend(skip)
        else:
            files.append(path)
    return files, skipped


def _walk(root: str) -> tuple[list[str], list[str]]:
    real_root = os.path.realpath(root)
    found: list[str] = []
    skipped: list[str] = []
    for top, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for d in dirs:
            if os.path.islink(os.path.join(top, d)):
                skipped.append(os.path.join(top, d))
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
        for name in sorted(names):
            if name.startswith(".") or not name.endswith(EXTENSIONS):
                continue
            path = os.path.join(top, name)
            if _regular_inside(path, real_root):
                found.append(path)
            else:
                skipped.append(path)
    return sorted(found), sorted(skipped)


def _regular_inside(path: str, real_root: str) -> bool:
    import stat

    real = os.path.realpath(path)
    try:
        regular = stat.S_ISREG(os.stat(real).st_mode)
    except OSError:
        return False
    return regular and os.path.commonpath([real_root, real]) == real_root


def check_file(path: str, allow_unknown: bool) -> FileResult:
    """Every problem of one file, as findings located where possible."""
    from gicmig.cli._run import exit_status
    from gicmig.errors import GicmigError
    from gicmig.files import read_bytes
    from gicmig.formats.io import load, sniff

    result = FileResult(path)
    data = b""
    try:
        data = read_bytes(path)
        load(data, allow_unknown=allow_unknown)
    except GicmigError as exc:
        result.findings = _findings(path, exc, data if sniff(data) == "json" else None)
        result.exit = exit_status(exc)
    return result


def _findings(path: str, exc: GicmigError, json_text: bytes | None) -> list[Finding]:
    from gicmig.cli.report import Finding, finding_from_error
    from gicmig.formats.fixture_locate import locate

    violations = getattr(exc, "violations", None)
    if not violations:
        return [finding_from_error(exc, path)]
    text = json_text.decode("utf-8", "replace") if json_text is not None else None
    out = []
    for v in violations:
        where = locate(text, v.path) if text is not None else None
        if where is None and text is not None and v.code == "JSON-SCHEMA":
            where = _start(text)  # a key missing at the top: the document's first brace
        line, column = where if where else (None, None)
        out.append(Finding(v.code, v.message, file=path, line=line, column=column,
                           place=v.path))
    return out


def _start(text: str) -> tuple[int, int]:
    start = len(text) - len(text.lstrip())
    return text.count("\n", 0, start) + 1, start - (text.rfind("\n", 0, start) + 1) + 1


def _validate(args: argparse.Namespace) -> int:
    files, skipped = expand(args.inputs)
    results = []
    progress = sys.stderr.isatty() and len(files) > 20  # only where a person watches
    for n, path in enumerate(files, 1):
        if progress:
            print(f"\r[{n}/{len(files)}] {path[-60:]:60}", end="", file=sys.stderr)
        results.append(check_file(path, args.allow_unknown))
    if progress:
        print("\r" + " " * 80 + "\r", end="", file=sys.stderr)
    status = max((r.exit for r in results), default=0)
    _print(args, results, skipped, status)
    return status


def summary_line(results: list[FileResult]) -> str:
    ok = sum(r.ok for r in results)
    unreadable = sum(r.exit == 2 for r in results)
    line = f"{len(results)} file{'s' * (len(results) != 1)}: {ok} ok, " \
           f"{len(results) - ok - unreadable} invalid"
    return line + (f", {unreadable} unreadable" if unreadable else "")


def _print(args: argparse.Namespace, results: list[FileResult], skipped: list[str],
           status: int) -> None:
    from gicmig.cli import report
    from gicmig.cli._color import paint
    from gicmig.errors import one_line

    findings = [f for r in results for f in r.findings]
    if args.format == "json":
        from gicmig.cli.jsondoc import document, emit

        ok = sum(r.ok for r in results)
        emit(document("validate", ok=status == 0, exit=status,
                      summary={"files": len(results), "ok": ok,
                               "invalid": sum(r.exit == 1 for r in results),
                               "unreadable": sum(r.exit == 2 for r in results)},
                      files=[r.record() for r in results], skipped=skipped))
        return
    if args.format == "sarif":
        sys.stdout.write(report.sarif_text(findings))
        return
    for path in skipped if not args.quiet else ():
        print(one_line(f"{path}: skipped (not a regular file inside the folder)"),
              file=sys.stderr)
    for r in results:
        if r.ok and not args.quiet and args.format == "text":
            print(f"{one_line(r.path)}: {paint('ok', 'ok', sys.stdout)}")
        for f in r.findings:
            print(report.github_line(f) if args.format == "github"
                  else report.text_line(f, sys.stdout))
    if not args.quiet:
        print(summary_line(results))
