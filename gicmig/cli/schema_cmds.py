"""`schema lock`, `schema check` and `compat`: schema revisions and compatibility."""

from __future__ import annotations

import argparse
import os
import sys

from gicmig.cli import REPORT_FORMATS
from gicmig.cli._lazy import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

    from gicmig.cli import Subcommands
    from gicmig.cli.report import Finding
    from gicmig.schemacheck.sources import Schema

DEFAULT_WAIVERS = os.path.join("schema", "waivers.json")

CHECK_EPILOG = """examples:
  gicmig schema check                      # ./proto against every locked revision
  gicmig schema check --against 1 proto    # against locked revision 1 only
  gicmig schema check --against old/proto --format json new/proto
  gicmig schema check --against base.binpb --waivers schema/waivers.json proto
  gicmig schema check --against '.git#branch=main'          # proto/ as on main
  gicmig schema check --against '.git#tag=v1.0,subdir=proto' proto
  gicmig schema check --format github      # GitHub Actions annotations (sarif: SARIF 2.1.0)

--against takes a locked revision number, a lock or other FileDescriptorSet file
(protoc --descriptor_set_out, buf build -o x.binpb), a folder of .proto files
(compiled with grpcio-tools), or a git ref REPO.git#branch=|tag=|ref=NAME[,subdir=DIR]
(read with git, nothing checked out; without subdir=, the same folder as PROTO_DIR);
it may be repeated. Folders are laid out by their buf.work.yaml / buf.yaml (roots,
modules). Rules: buf's WIRE_JSON category.
A waiver file (default schema/waivers.json when it exists) approves findings by rule
and element; an expired waiver fails the check.
exit codes: 0 compatible, 1 breaking (or an expired waiver), 2 usage or I/O error"""


def register(sub: Subcommands) -> None:
    p = sub.add("lock", "record a proto folder as the next locked schema revision",
                "example: gicmig schema lock proto\n\nRefuses when the folder breaks a "
                "locked revision (waivers apply); a lock is never rewritten.",
                group="schema")
    p.add_argument("proto_dir", nargs="?", default="proto", metavar="PROTO_DIR")
    p.add_argument("--locks", metavar="DIR", help="locks folder (default: gicmig's own)")
    p.add_argument("--waivers", metavar="FILE")
    p.set_defaults(run=_lock)

    p = sub.add("check", "check a schema for breaking changes against locked revisions",
                CHECK_EPILOG, group="schema")
    p.add_argument("proto_dir", nargs="?", default="proto", metavar="PROTO_DIR",
                   help="folder of .proto files or a descriptor set (default: proto)")
    p.add_argument("--against", action="append", metavar="LOCK|DIR|DESCRIPTOR_SET|GIT_REF")
    p.add_argument("--locks", metavar="DIR", help="locks folder (default: gicmig's own)")
    p.add_argument("--waivers", metavar="FILE")
    p.add_argument("--format", choices=REPORT_FORMATS, default="text",
                   help="text, json (gicmig/schema-check), github (annotations), sarif")
    p.set_defaults(run=_check)

    p = sub.add("compat", "can an older schema revision read this blob without loss?",
                "example: gicmig compat busy.gicmig --revision 1\n\nLists every field "
                "revision N lacks that holds a non-default value.\n"
                "exit codes: 0 lossless, 1 lossy or invalid, 2 usage or I/O error")
    p.add_argument("input", help="blob or JSON fixture; - for stdin")
    p.add_argument("--revision", type=int, required=True, metavar="N")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=_compat)


def _locks_dir(args: argparse.Namespace) -> str:
    from gicmig.schemacheck import locks

    return str(args.locks or locks.DEFAULT_DIR)


def _baselines(args: argparse.Namespace) -> list[Schema]:
    from gicmig.errors import GicmigError
    from gicmig.schemacheck import locks

    if not args.against:
        found = [lk.schema() for lk in locks.list_locks(_locks_dir(args))]
        if not found:
            raise GicmigError("SCHEMA-REVISION-UNKNOWN",
                              f"no locked revisions in {_locks_dir(args)}: run gicmig schema lock")
        return found
    out = []
    for spec in args.against:
        args.current_path = spec
        if spec.isdigit():
            out.append(locks.get_lock(int(spec), _locks_dir(args)).schema())
        elif "#" in spec and _gitref().is_git_ref(spec):
            out.append(_gitref().load(spec, current=args.proto_dir))
        else:
            out.append(locks.load_schema(spec))
    return out


def _gitref() -> ModuleType:
    from gicmig.schemacheck import gitref  # imported only for a spec with a '#'

    return gitref


def _waivers(args: argparse.Namespace) -> tuple[list[Any], str]:
    from gicmig.schemacheck import waivers

    path = args.waivers or (DEFAULT_WAIVERS if os.path.exists(DEFAULT_WAIVERS) else None)
    if path is None:
        return [], ""
    args.current_path = path
    return waivers.load(path), path


def _check(args: argparse.Namespace) -> int:
    from gicmig.schemacheck import check, locks

    args.current_path = args.proto_dir
    current = locks.load_schema(args.proto_dir)
    baselines = _baselines(args)
    waivers, waiver_file = _waivers(args)
    report = check.check_schema(current, baselines, waivers)
    status = 0 if report.ok else 1
    if args.format == "json":
        from gicmig.cli.jsondoc import document, emit

        payload = check.render_json(report)
        del payload["ok"]
        emit(document("schema-check", ok=report.ok, exit=status, proto_dir=args.proto_dir,
                      **payload))
    elif args.format in ("github", "sarif"):
        from gicmig.cli import report as emitters

        found = _findings(report, waiver_file or DEFAULT_WAIVERS)
        if args.format == "sarif":
            sys.stdout.write(emitters.sarif_text(found))
        else:
            for f in found:
                print(emitters.github_line(f))
    else:
        for line in check.render_text(report, waiver_file):
            print(line)
        waived = len(report.results) - len(report.breaking)
        print(f"{args.proto_dir}: {len(report.breaking)} breaking, {waived} waived, "
              f"{len(report.expired)} expired waivers against {', '.join(report.against)}",
              file=sys.stderr)
    return status


def _findings(report: Any, waiver_file: str) -> list[Finding]:
    """The check's results as findings: breaking ones errors, waived ones notes."""
    from gicmig.cli.report import Finding
    from gicmig.schemacheck.check import expired_message, waiver_label

    out = []
    for r in report.results:
        waived = f" {waiver_label(r)}" if r.waiver is not None else ""
        out.append(Finding(r.rule, f"{r.message}{waived} (against {', '.join(r.against)})",
                           "note" if r.waiver is not None else "error", file=r.path,
                           line=r.line or None, column=r.column or None, place=r.element))
    out += [Finding("SCHEMA-WAIVER-EXPIRED", expired_message(w), file=waiver_file)
            for w in report.expired]
    return out


def _lock(args: argparse.Namespace) -> int:
    from gicmig.errors import GicmigError
    from gicmig.schemacheck import check, locks, sources

    args.current_path = args.proto_dir
    existing = locks.list_locks(_locks_dir(args), missing_ok=True)
    if existing:
        waivers, waiver_file = _waivers(args)
        args.current_path = args.proto_dir
        report = check.check_schema(sources.compile_dir(args.proto_dir),
                                    [lk.schema() for lk in existing], waivers)
        if not report.ok:
            for line in check.render_text(report, waiver_file):
                print(line)
            raise GicmigError("SCHEMA-BREAKING",
                              f"{len(report.breaking)} breaking changes against locked "
                              "revisions (see above): not locked")
    lock = locks.lock_next(args.proto_dir, _locks_dir(args))
    if lock is None:
        print(f"{args.proto_dir}: unchanged since revision {len(existing)}; nothing locked")
        return 0
    print(f"locked schema revision {lock.revision}: {lock.descriptor_path}")
    _remind_codec(args, lock.revision)
    return 0


def _remind_codec(args: argparse.Namespace, revision: int) -> None:
    from gicmig.core.model import SCHEMA_REVISION

    if args.locks is None and revision != SCHEMA_REVISION:
        print(f"note: gicmig.core.model.SCHEMA_REVISION is {SCHEMA_REVISION}; set it to "
              f"{revision} so that new blobs are written as this revision", file=sys.stderr)


def _compat(args: argparse.Namespace) -> int:
    from gicmig.formats import revisions
    from gicmig.formats.io import load
    from gicmig.schemacheck import locks

    args.current_path = args.input
    state = load(args.input, allow_unknown=True)
    locks.get_lock(args.revision)  # an unknown revision is a usage error, not "lossy"
    lost = revisions.lost_fields(state, args.revision)
    if args.format == "json":
        from gicmig.cli.jsondoc import document, emit

        emit(document(
            "compat", ok=not lost, exit=1 if lost else 0, path=args.input,
            blob_revision=state.schema_revision, revision=args.revision, lossless=not lost,
            lost=[{"path": x.path, "number": x.number, "value": x.value} for x in lost]))
    elif lost:
        for x in lost:
            print(f"{args.input}: revision {args.revision} lacks {x}")
    else:
        print(f"{args.input}: schema revision {args.revision} reads it without loss "
              f"(written as revision {state.schema_revision})")
    return 1 if lost else 0
