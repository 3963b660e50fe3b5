"""`gicmig schema check` as a library call: one schema against one or more baselines."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from gicmig.schemacheck import waivers as wv
from gicmig.schemacheck.descriptors import Index
from gicmig.schemacheck.rules import Finding, compare
from gicmig.schemacheck.sources import Schema


@dataclass
class Result:
    """One line per distinct finding, with every baseline it was found against."""

    path: str
    line: int
    column: int
    rule: str
    element: str
    message: str
    against: list[str] = field(default_factory=list)
    waiver: wv.Waiver | None = None

    def record(self) -> dict[str, Any]:
        w = self.waiver
        return {"path": self.path, "line": self.line, "column": self.column,
                "rule": self.rule, "element": self.element, "message": self.message,
                "against": self.against, "waived": w is not None,
                "waiver": None if w is None else {
                    "reason": w.reason,
                    "expires": w.expires.isoformat() if w.expires else None}}


@dataclass
class Report:
    against: list[str]
    results: list[Result]
    expired: list[wv.Waiver]
    unused: list[wv.Waiver]

    @property
    def breaking(self) -> list[Result]:
        return [r for r in self.results if r.waiver is None]

    @property
    def ok(self) -> bool:
        return not self.breaking and not self.expired


def check_schema(current: Schema, baselines: list[Schema],
                 waivers: list[wv.Waiver] | None = None,
                 today: datetime.date | None = None) -> Report:
    """Compare `current` with every baseline by buf's WIRE_JSON rules, apply waivers."""
    day = today or datetime.datetime.now(datetime.timezone.utc).date()
    waivers = waivers or []
    cur = Index(current.fds, current.files)
    merged: dict[tuple[str, int, int, str, str, str], Result] = {}
    for base in baselines:
        for f in compare(cur, Index(base.fds, base.files)):
            _merge(merged, current, f, base.label)
    used: set[int] = set()
    for r in merged.values():
        r.waiver = wv.match(waivers, r.rule, r.element, day)
        if r.waiver is not None:
            used.add(r.waiver.index)
    expired = [w for w in waivers if w.expired(day)]
    unused = [w for w in waivers if w.index not in used and not w.expired(day)]
    return Report([b.label for b in baselines], list(merged.values()), expired, unused)


def _merge(merged: dict[tuple[str, int, int, str, str, str], Result], current: Schema,
           f: Finding, label: str) -> None:
    loc = f.location
    key = (loc.file, loc.line, loc.column, f.rule, f.element, f.message)
    if key not in merged:
        merged[key] = Result(current.display_path(loc.file), loc.line, loc.column, f.rule,
                             f.element, f.message)
    merged[key].against.append(label)


def waiver_label(r: Result) -> str:
    """`[waived until DATE: reason]` for a waived result, "" for a breaking one."""
    if r.waiver is None:
        return ""
    until = f" until {r.waiver.expires.isoformat()}" if r.waiver.expires else ""
    return f"[waived{until}: {r.waiver.reason}]"


def expired_message(w: wv.Waiver) -> str:
    """What a SCHEMA-WAIVER-EXPIRED finding says of waiver `w`."""
    assert w.expires is not None
    return f"{w.describe()} expired on {w.expires.isoformat()}: it waives nothing until " \
        "renewed or removed"


def render_text(report: Report, waiver_file: str = "waivers") -> list[str]:
    lines = []
    for r in report.results:
        waived = f"{waiver_label(r)} " if r.waiver is not None else ""
        lines.append(f"{r.path}:{r.line}:{r.column}: {r.rule} {waived}{r.message} "
                     f"(element {r.element}; against {', '.join(r.against)})")
    lines += [f"{waiver_file}: SCHEMA-WAIVER-EXPIRED {expired_message(w)}"
              for w in report.expired]
    return lines


def render_json(report: Report) -> dict[str, Any]:
    def waiver(w: wv.Waiver) -> dict[str, Any]:
        code = "SCHEMA-WAIVER-EXPIRED" if w in report.expired else None
        return {"code": code, "index": w.index, "rule": w.rule, "element": w.element,
                "reason": w.reason, "expires": w.expires.isoformat() if w.expires else None}

    return {"ok": report.ok, "against": report.against,
            "breaking": len(report.breaking),
            "waived": len(report.results) - len(report.breaking),
            "findings": [r.record() for r in report.results],
            "expired_waivers": [waiver(w) for w in report.expired],
            "unused_waivers": [waiver(w) for w in report.unused]}
