"""Write gicmig/schemas/KIND.vN.json, the JSON Schemas of the `--format json` documents.

python tools/json_schemas.py            # rewrite the files
python tools/json_schemas.py --check    # exit 1 if a file is stale or missing (CI, tests)

The definitions live here once (the finding, the four shared keys) and every kind's schema
is written out whole, so that each file validates on its own (no cross-file $ref). The
kinds and their versions are gicmig.cli.jsondoc.KINDS; `diff` is written by its owner
(docs/diff.md) and is not generated here. See docs/json-output.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gicmig.cli.jsondoc import KINDS, SCHEMAS_DIR

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://gicmig.dev/schemas/"
NOT_GENERATED = {"diff"}  # its owner writes it by hand

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
UINT: dict[str, Any] = {"type": "integer", "minimum": 0}
BOOL: dict[str, Any] = {"type": "boolean"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None,
        description: str | None = None) -> dict[str, Any]:
    """An object with exactly these keys (the optional ones may be absent)."""
    out: dict[str, Any] = {"type": "object"}
    if description:
        out["description"] = description
    out |= {"properties": {**required, **(optional or {})},
            "required": list(required), "additionalProperties": False}
    return out


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


FINDING = obj({
    "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_-]*$",
             "description": "a reason code (docs/reason-codes.md)"},
    "severity": {"enum": ["error", "warning", "note"]},
    "message": STR,
    "place": nullable({"type": "string", "description": "where in the GIC state: CPU, "
                       "interrupt, register, list register, or the JSON key path"}),
    "file": nullable(STR),
    "line": nullable({"type": "integer", "minimum": 1}),
    "column": nullable({"type": "integer", "minimum": 1}),
    "offset": nullable({"type": "integer", "minimum": 0, "description": "byte offset"}),
}, description="one problem or note (gicmig.cli.report.Finding)")
FINDINGS = array({"$ref": "#/$defs/finding"})
DERIVED = array(obj({"place": STR, "message": STR}))


def envelope(kind: str | None, version: int | None) -> dict[str, Any]:
    """The four keys every document starts with."""
    return {
        "format": {"const": f"gicmig/{kind}"} if kind else
        {"type": "string", "pattern": "^gicmig/[a-z][a-z0-9-]*$"},
        "version": {"const": version} if version else {"type": "integer", "minimum": 1},
        "ok": {"type": "boolean", "description": "the command succeeded in its own sense"},
        "exit": {"type": "integer", "minimum": 0,
                 "description": "the exit status of the process"},
    }


def payloads() -> dict[str, tuple[str, dict[str, Any], dict[str, Any]]]:
    """kind -> (title, required payload keys, optional payload keys)."""
    waiver = obj({"code": nullable(STR), "index": INT, "rule": STR, "element": STR,
                  "reason": STR, "expires": nullable({"type": "string", "format": "date"})})
    nested_cpu = obj({"cpu": UINT, "ok": BOOL, "errors": FINDINGS}, {
        "interface": obj({"ctlr": array(STR), "pmr": UINT, "bpr": UINT, "abpr": UINT,
                          "active_priorities": array(UINT),
                          "active_groups": obj({"group0": array(UINT), "group1": array(UINT),
                                                "unknown": array(UINT)})}),
        "lrs": array(obj({"lr": UINT, "irq": UINT, "state": STR, "group": UINT,
                          "priority": UINT}, {"source": UINT, "eoi": BOOL})),
        "hypervisor": obj({"hcr": UINT, "hw_mappings": array(array(UINT))}),
    })
    unknown = obj({"enable_grp1": BOOL, "pending_split": array(STR),
                   "sgi_active_source": array(STR), "spi_active_cpu": array(STR),
                   "active_priority_group": {"type": "object",
                                             "additionalProperties": array(UINT)},
                   "latch_maybe_stale": array(STR)},
                  description="what the KVM ABI could not tell (UNKNOWN markers)")
    return {
        "envelope": ("the keys every gicmig JSON document starts with", {}, {}),
        "error": ("a command that failed before it could report", {
            "error": obj({"code": FINDING["properties"]["code"], "message": STR,
                          "path": nullable(STR)},
                         {"offset": nullable(UINT), "line": nullable(INT),
                          "column": nullable(INT),
                          "missing": array(STR)}),
        }, {}),
        "validate": ("gicmig validate", {
            "summary": obj({"files": UINT, "ok": UINT, "invalid": UINT, "unreadable": UINT}),
            "files": array(obj({"path": STR, "ok": BOOL, "exit": UINT,
                                "findings": FINDINGS})),
            "skipped": array(STR),
        }, {}),
        "info": ("gicmig info", {
            "path": STR, "envelope_version": UINT, "schema_revision": UINT,
            "readable_by_this_gicmig": BOOL, "flags": UINT, "payload_length": UINT,
            "payload_crc32c": UINT, "num_cpus": UINT, "num_irqs": UINT,
            "provenance": obj({"tool": STR, "tool_version": STR, "source": STR, "vmm": STR,
                               "vmm_version": STR, "gicd_iidr": nullable(UINT),
                               "host_kernel": STR}),
            "unknown_fields": array(STR),
        }, {}),
        "import-report": ("gicmig import kvm|gich|qemu", {
            "view": {"enum": ["kvm", "gich", "qemu"]}, "input": STR, "output": nullable(STR),
            "errors": FINDINGS, "normalized": FINDINGS, "derived": DERIVED,
        }, {
            "num_cpus": UINT, "num_irqs": UINT, "priority_bits": UINT,
            "gicd_iidr": nullable(UINT), "source": STR, "unknown": unknown,
            "stream": obj({}, {"machine": STR, "section": STR, "located_by": STR,
                               "virtualization_extensions": BOOL}),
            "nested": array(nested_cpu),
        }),
        "export-report": ("gicmig export kvm|gich|qemu", {
            "view": {"enum": ["kvm", "gich", "qemu"]}, "input": STR, "output": nullable(STR),
            "lenient": BOOL, "errors": FINDINGS, "losses": FINDINGS,
        }, {
            "template": STR, "accel": {"enum": ["tcg", "kvm"]}, "machine": nullable(STR),
            "section_offset": UINT, "size": UINT,
        }),
        "schema-check": ("gicmig schema check", {
            "proto_dir": STR, "against": array(STR), "breaking": UINT, "waived": UINT,
            "findings": array(obj({
                "path": STR, "line": UINT, "column": UINT, "rule": STR, "element": STR,
                "message": STR, "against": array(STR), "waived": BOOL,
                "waiver": nullable(obj({"reason": STR, "expires": nullable(STR)}))})),
            "expired_waivers": array(waiver), "unused_waivers": array(waiver),
        }, {}),
        "compat": ("gicmig compat", {
            "path": STR, "blob_revision": UINT, "revision": UINT, "lossless": BOOL,
            "lost": array(obj({"path": STR, "number": UINT, "value": {
                "type": "string", "description": "a short rendering of the value lost"}})),
        }, {}),
        "show": ("gicmig show --format json", {
            "input": STR,
            "facts": array(obj({"path": STR, "value": {
                "type": "string", "description": "the value as the text form prints it"},
                "register": nullable(STR)})),
        }, {}),
    }


def schema(kind: str) -> dict[str, Any]:
    title, required, optional = payloads()[kind]
    version = None if kind == "envelope" else KINDS[kind]
    name = f"{kind}.v{version or 1}.json"
    head = envelope(None if kind == "envelope" else kind, version)
    body = obj({**head, **required}, optional)
    if kind == "envelope":
        body["additionalProperties"] = True  # every document has more keys than these
    out: dict[str, Any] = {"$schema": DRAFT, "$id": BASE_ID + name,
                           "title": f"gicmig/{kind}: {title}" if version else title, **body}
    if "#/$defs/finding" in json.dumps(body):
        out["$defs"] = {"finding": FINDING}
    return out


def render() -> dict[str, str]:
    kinds = ["envelope", *(k for k in KINDS if k not in NOT_GENERATED)]
    return {f"{k}.v{KINDS.get(k, 1)}.json": json.dumps(schema(k), indent=2) + "\n"
            for k in kinds}


def main() -> int:
    out = Path(SCHEMAS_DIR)
    files = render()
    if "--check" in sys.argv:
        stale = [n for n, text in files.items()
                 if not (out / n).exists() or (out / n).read_text() != text]
        if stale:
            print(f"stale JSON Schemas in {out}: {', '.join(stale)}: run python "
                  "tools/json_schemas.py", file=sys.stderr)
            return 1
        return 0
    out.mkdir(exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
