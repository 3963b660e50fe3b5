"""One report type for every command, and its emitters: text, JSON, GitHub, SARIF.

A `Finding` is one problem (or note) a command reports: a stable reason code, a one-line
message in gicmig's words, a severity, and where it is as far as gicmig knows it: the file,
the line and column in that file (a JSON key, a .proto element), the byte offset (a blob,
a stream) and the place in the GIC (`cpu1 irq 27 (PPI 11)`, `cpu1 gich.lr0`, `config.num_irqs`).

Emitters:
  text    `FILE:LINE:COL: CODE PLACE: MESSAGE` (as ruff and buf print), FILE alone when the
          line is not known
  json    `Finding.record()` inside the command's JSON document (gicmig.cli.jsondoc)
  github  GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=CODE::MESSAGE`
  sarif   one SARIF 2.1.0 log with one run; rules are the reason codes (docs/reason-codes.md)
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal, TextIO

from gicmig import __version__
from gicmig.errors import one_line

Severity = Literal["error", "warning", "note"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


@dataclass(frozen=True)
class Finding:
    """One reported problem or note."""

    code: str
    message: str
    severity: Severity = "error"
    file: str | None = None
    line: int | None = None
    column: int | None = None
    offset: int | None = None
    place: str | None = None  # where in the GIC state: a CPU, LR, interrupt, register

    @property
    def text(self) -> str:
        """The message with its place and byte offset, as one line (no file)."""
        place = f"{self.place}: " if self.place else ""
        at = f" (at byte {self.offset})" if self.offset is not None else ""
        return f"{place}{self.message}{at}"

    def record(self) -> dict[str, Any]:
        """The finding as a JSON object (the `finding` of docs/json-output.md)."""
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "place": self.place, "file": self.file, "line": self.line,
                "column": self.column, "offset": self.offset}


def finding_from_error(exc: Any, file: str | None = None) -> Finding:
    """A Finding for a GicmigError (its line/column when the parser knew them)."""
    return Finding(exc.code, exc.message, file=file, offset=exc.offset,
                   line=getattr(exc, "line", None), column=getattr(exc, "column", None))


def text_line(f: Finding, stream: TextIO | None = None) -> str:
    """`FILE:LINE:COL: CODE PLACE: MESSAGE`; FILE alone when no line is known. The code is
    coloured when `stream` is a terminal that takes colour (gicmig.cli._color)."""
    where = f.file or "gicmig"
    if f.line:
        where = f"{where}:{f.line}:{f.column or 1}"
    code = one_line(f.code)
    if stream is not None:
        from gicmig.cli._color import paint

        code = paint(code, "code", stream)  # after escaping: our escapes survive, theirs not
    return f"{one_line(where)}: {code} {one_line(f.text)}"  # a file name cannot forge a line


def _github_escape(value: str, *, prop: bool) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def github_line(f: Finding) -> str:
    """One GitHub Actions workflow command (an annotation on the file and line)."""
    props = []
    if f.file and f.file != "-":
        props.append(f"file={_github_escape(f.file, prop=True)}")
        if f.line:
            props.append(f"line={f.line}")
            props.append(f"col={f.column or 1}")
    props.append(f"title={_github_escape(f.code, prop=True)}")
    return f"::{_GITHUB_LEVEL[f.severity]} {','.join(props)}::{_github_escape(f.text, prop=False)}"


def github_lines(findings: Iterable[Finding]) -> list[str]:
    return [github_line(f) for f in findings]


def sarif(findings: Sequence[Finding], *,
          successful: bool = True) -> dict[str, Any]:
    """A SARIF 2.1.0 log of `findings` (one run, one rule per reason code used)."""
    from gicmig.errors import REASONS

    codes = sorted({f.code for f in findings})
    rules = []
    for code in codes:
        text = REASONS[code].summary if code in REASONS else code  # schema rules: buf's
        rules.append({"id": code, "shortDescription": {"text": text}})
    index = {code: n for n, code in enumerate(codes)}
    results = [_sarif_result(f, index[f.code]) for f in findings]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "gicmig", "version": __version__, "rules": rules}},
            "invocations": [{"executionSuccessful": successful}],
            "results": results,
        }],
    }


def _sarif_result(f: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {"ruleId": f.code, "ruleIndex": rule_index, "level": f.severity,
                              "message": {"text": f.text}}
    if f.file:
        physical: dict[str, Any] = {"artifactLocation": {"uri": f.file}}
        if f.line:
            physical["region"] = {"startLine": f.line, "startColumn": f.column or 1}
        elif f.offset is not None:
            physical["region"] = {"byteOffset": f.offset}
        location: dict[str, Any] = {"physicalLocation": physical}
        if f.place:
            location["logicalLocations"] = [{"fullyQualifiedName": f.place}]
        result["locations"] = [location]
    elif f.place:
        result["locations"] = [{"logicalLocations": [{"fullyQualifiedName": f.place}]}]
    return result


def sarif_text(findings: Sequence[Finding], *, successful: bool = True) -> str:
    import json

    return json.dumps(sarif(findings, successful=successful), indent=2) + "\n"


def from_violations(violations: Iterable[Any], file: str | None,
                    severity: Severity = "error") -> list[Finding]:
    """Findings for gicmig Violations (code, path = the place, message)."""
    return [Finding(v.code, v.message, severity, file=file, place=v.path) for v in violations]


def records(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [f.record() for f in findings]


def print_violations(violations: Iterable[Any], file: str, tail: str = "",
                     out: IO[str] | None = None) -> None:
    """Text form of a conversion's findings: `FILE: CODE PLACE: MESSAGE` + tail per line."""
    for f in from_violations(violations, file):
        print(text_line(f) + tail, file=out or sys.stderr)


def emit_conversion(kind: str, view: str, violations: Iterable[Any], *, input: str,
                    output: str, refused: bool, status: int, out: IO[str],
                    **extra: Any) -> None:
    """The gicmig/import-report or gicmig/export-report of a conversion: `violations` are
    its errors (refused) or what it accepted (normalized for an import, losses for an
    export), as findings."""
    from gicmig.cli.jsondoc import document, emit

    found = records(from_violations(violations, input, "error" if refused else "warning"))
    accepted = "losses" if kind == "export-report" else "normalized"
    emit(document(kind, ok=not refused, exit=status, view=view, input=input,
                  output=None if refused else output, errors=found if refused else [],
                  **{accepted: [] if refused else found}, **extra), out)
