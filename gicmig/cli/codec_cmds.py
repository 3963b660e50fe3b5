"""encode, decode, validate, info and `schema json`."""

from __future__ import annotations

import argparse
import sys

from gicmig.cli._lazy import TYPE_CHECKING, json
from gicmig.cli._paths import refuse_overwriting_input

if TYPE_CHECKING:
    from typing import Any

    from gicmig.cli import Subcommands


def register(sub: Subcommands) -> None:
    p = sub.add("encode", "write a state (JSON fixture or blob) as a .gicmig blob",
                "example: gicmig encode fixtures/v1/busy.json -o busy.gicmig")
    p.add_argument("input", help="JSON fixture or blob; - for stdin")
    p.add_argument("-o", "--output", default="-", help="output blob (default: stdout)")
    # --- schema revisions (issue 4)
    p.add_argument("--revision", type=int, metavar="N",
                   help="write schema revision N (an older one only when nothing is lost; "
                        "default: the revision the input was written with)")
    p.set_defaults(run=_encode)

    p = sub.add("decode", "write a .gicmig blob as a JSON fixture",
                "example: gicmig decode busy.gicmig -o busy.json")
    p.add_argument("input", help="blob; - for stdin")
    p.add_argument("-o", "--output", default="-", help="output JSON (default: stdout)")
    p.add_argument("--allow-unknown", action="store_true",
                   help="accept fields of a newer schema revision")
    p.set_defaults(run=_decode)

    p = sub.add("validate", "check blobs and fixtures against every rule",
                "example: gicmig validate --format json fixtures/v1/*.gicmig")
    p.add_argument("inputs", nargs="+", metavar="FILE")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--allow-unknown", action="store_true",
                   help="accept fields of a newer schema revision")
    p.set_defaults(run=_validate)

    p = sub.add("info", "show a blob's header and provenance (any schema revision)",
                "example: gicmig info busy.gicmig")
    p.add_argument("input")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=_info)

    p = sub.add("json", "print the JSON Schema of the fixture format", group="schema")
    p.add_argument("-o", "--output", default="-")
    p.set_defaults(run=_schema_json)


def _encode(args: argparse.Namespace) -> int:
    from gicmig.formats.io import dump, load

    refuse_overwriting_input(args)
    if args.output == "-" and sys.stdout.isatty():
        from gicmig.errors import GicmigError

        raise GicmigError("USAGE", "refusing to write a binary blob to a terminal: "
                                   "use -o FILE (or -o FILE.json), or a pipe")
    args.current_path = args.input
    state = load(args.input)
    if args.revision is not None:  # schema revisions (issue 4)
        from gicmig.formats.revisions import as_revision

        state = as_revision(state, args.revision)
    dump(state, args.output, "blob")
    return 0


def _decode(args: argparse.Namespace) -> int:
    from gicmig.formats.io import dump, load

    refuse_overwriting_input(args)
    args.current_path = args.input
    state = load(args.input, allow_unknown=args.allow_unknown)
    dump(state, args.output, "json")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from gicmig.cli._run import exit_status  # not at load: `gicmig --help` stays cheap
    from gicmig.errors import GicmigError, ValidationError
    from gicmig.formats.io import load

    records: list[dict[str, Any]] = []
    status = 0
    progress = sys.stderr.isatty() and len(args.inputs) > 20  # only where a person watches
    for n, path in enumerate(args.inputs, 1):
        if progress:
            print(f"\r[{n}/{len(args.inputs)}] {path[-60:]:60}", end="", file=sys.stderr)
        try:
            load(path, allow_unknown=args.allow_unknown)
            records.append({"path": path, "ok": True, "errors": []})
        except ValidationError as exc:
            errs = [{"code": v.code, "place": v.path, "message": v.message,
                     "line": None, "column": None} for v in exc.violations]
            _add_lines(path, errs)
            records.append({"path": path, "ok": False, "errors": errs})
            status = max(status, 1)
        except GicmigError as exc:
            err = {"code": exc.code, "message": exc.message, "offset": exc.offset,
                   "line": getattr(exc, "line", None), "column": getattr(exc, "column", None)}
            if exc.code == "JSON-SCHEMA":
                err["place"] = exc.message.split(":")[0]
                _add_lines(path, [err])
                err.pop("place")
            records.append({"path": path, "ok": False, "errors": [err]})
            status = max(status, exit_status(exc))
    if progress:
        print("\r" + " " * 80 + "\r", end="", file=sys.stderr)
    _print_validation(records, args.format)
    return status


def _add_lines(path: str, errors: list[dict[str, Any]]) -> None:
    """For a JSON fixture, where each violation lives in the text (ruff-style locations)."""
    from gicmig.files import read_bytes
    from gicmig.formats.fixture_locate import locate
    from gicmig.formats.io import sniff

    data = read_bytes(path) if path != "-" else b""
    if sniff(data) != "json":
        return
    text = data.decode("utf-8", "replace")
    for e in errors:
        where = locate(text, e.get("place") or "")
        if where:
            e["line"], e["column"] = where


def _print_validation(records: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"ok": all(r["ok"] for r in records), "files": records}, indent=2))
        return
    from gicmig.cli._color import paint
    from gicmig.errors import one_line  # a file name cannot forge a line either

    for r in records:
        if r["ok"]:
            print(f"{one_line(r['path'])}: {paint('ok', 'ok', sys.stdout)}")
        for e in r["errors"]:
            line, col = e.get("line"), e.get("column") or 1
            where = f"{r['path']}:{line}:{col}" if line else r["path"]
            place = f"{e['place']}: " if e.get("place") else ""
            at = f" (at byte {e['offset']})" if e.get("offset") is not None else ""
            print(f"{one_line(where)}: {paint(e['code'], 'code', sys.stdout)} "
                  f"{one_line(place + e['message'] + at)}")


def _info(args: argparse.Namespace) -> int:
    from gicmig.files import read_bytes
    from gicmig.formats.codec import SCHEMA_REVISION, info

    args.current_path = args.input
    i = info(read_bytes(args.input))
    p = i.provenance
    record = {
        "envelope_version": i.header.envelope_version,
        "schema_revision": i.header.schema_revision,
        "readable_by_this_gicmig": i.header.schema_revision <= SCHEMA_REVISION,
        "flags": i.header.flags,
        "payload_length": i.payload_length,
        "payload_crc32c": f"{i.header.payload_crc32c:#010x}",
        "num_cpus": i.num_cpus,
        "num_irqs": i.num_irqs,
        "provenance": {"tool": p.tool, "tool_version": p.tool_version, "source": p.source,
                       "vmm": p.vmm, "vmm_version": p.vmm_version,
                       "gicd_iidr": None if p.gicd_iidr is None else f"{p.gicd_iidr:#010x}",
                       "host_kernel": p.host_kernel},
        "unknown_fields": list(i.unknown_fields),
    }
    if args.format == "json":
        print(json.dumps(record, indent=2))
        return 0
    for key, value in record.items():
        if isinstance(value, dict):
            for k, v in value.items():
                if v not in ("", None):
                    print(f"{key}.{k}: {v}")
        elif value not in ([], None):
            print(f"{key}: {value}")
    return 0


def _schema_json(args: argparse.Namespace) -> int:
    from gicmig.files import write_atomic
    from gicmig.formats.fixture import json_schema

    write_atomic(args.output, (json.dumps(json_schema(), indent=2) + "\n").encode())
    return 0
