"""The versioned JSON documents of `--format json` (docs/json-output.md).

Every `--format json` output is one JSON object whose first keys are
`{"format": "gicmig/KIND", "version": N, "ok": BOOL, "exit": STATUS}`, then the kind's
payload. `version` changes only on an incompatible change of that kind. The JSON Schema of
each kind is `gicmig/schemas/KIND.vN.json` (package data; `schema_path(kind)` finds it).
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

# kind -> its current version; the schemas folder holds KIND.vVERSION.json for each
KINDS: dict[str, int] = {
    "error": 1,
    "validate": 1,
    "info": 1,
    "import-report": 1,
    "export-report": 1,
    "schema-check": 1,
    "compat": 1,
    "show": 1,
    "diff": 1,
}

SCHEMAS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "schemas")


def schema_path(kind: str, version: int | None = None) -> str:
    """The JSON Schema file of a document kind (the current version unless given)."""
    return os.path.join(SCHEMAS_DIR, f"{kind}.v{version or KINDS[kind]}.json")


def document(kind: str, *, ok: bool, exit: int, **payload: Any) -> dict[str, Any]:
    """A document of `kind`: the four shared keys first, then the payload."""
    if kind not in KINDS:
        raise KeyError(f"unknown JSON document kind {kind!r}")
    return {"format": f"gicmig/{kind}", "version": KINDS[kind], "ok": ok, "exit": exit,
            **payload}


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"


def emit(doc: dict[str, Any], file: IO[str] | None = None) -> None:
    """Print one document (stdout unless `file`)."""
    (file or sys.stdout).write(dumps(doc))


def error_document(code: str, message: str, path: str | None, exit: int,
                   **extra: Any) -> dict[str, Any]:
    """The `gicmig/error` document: a command that failed before its payload existed."""
    return document("error", ok=False, exit=exit,
                    error={"code": code, "message": message, "path": path, **extra})
