"""encode, decode, info and `schema json` (validate: validate_cmd)."""

from __future__ import annotations

import argparse
import sys

from gicmig.cli._lazy import TYPE_CHECKING, json
from gicmig.cli._paths import refuse_overwriting_input

if TYPE_CHECKING:

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
        "payload_crc32c": i.header.payload_crc32c,
        "num_cpus": i.num_cpus,
        "num_irqs": i.num_irqs,
        "provenance": {"tool": p.tool, "tool_version": p.tool_version, "source": p.source,
                       "vmm": p.vmm, "vmm_version": p.vmm_version,
                       "gicd_iidr": p.gicd_iidr,
                       "host_kernel": p.host_kernel},
        "unknown_fields": list(i.unknown_fields),
    }
    if args.format == "json":
        from gicmig.cli.jsondoc import document, emit

        emit(document("info", ok=True, exit=0, path=args.input, **record))
        return 0
    for key, value in record.items():
        if isinstance(value, dict):
            for k, v in value.items():
                if k == "gicd_iidr" and v is not None:
                    v = f"{v:#010x}"
                if v not in ("", None):
                    print(f"{key}.{k}: {v}")
        elif key == "payload_crc32c":
            print(f"{key}: {value:#010x}")
        elif value not in ([], None):
            print(f"{key}: {value}")
    return 0


def _schema_json(args: argparse.Namespace) -> int:
    from gicmig.files import write_atomic
    from gicmig.formats.fixture import json_schema

    write_atomic(args.output, (json.dumps(json_schema(), indent=2) + "\n").encode())
    return 0
