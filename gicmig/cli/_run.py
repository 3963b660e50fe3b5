"""Running a command: turn every gicmig error into one line and an exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys

from gicmig.errors import GicmigError


def run(args: argparse.Namespace) -> int:
    try:
        status: int = args.run(args)
        return status
    except GicmigError as exc:
        report_error(getattr(args, "current_path", None) or "gicmig", exc,
                     getattr(args, "format", "text"))
        return exc.exit_status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line (and the traceback on demand), exit 2
        if os.environ.get("GICMIG_DEBUG"):
            raise
        report_error(getattr(args, "current_path", None) or "gicmig",
                     GicmigError("INTERNAL-ERROR", f"{type(exc).__name__}: {exc} (a gicmig "
                                 "bug: please report it; GICMIG_DEBUG=1 shows the traceback)"),
                     getattr(args, "format", "text"))
        return 2


def error_record(path: str, exc: GicmigError) -> dict[str, object]:
    return {"path": path, "code": exc.code, "message": exc.message, "offset": exc.offset}


def report_error(path: str, exc: GicmigError, fmt: str = "text") -> None:
    if fmt == "json":
        print(json.dumps({"ok": False, "errors": [error_record(path, exc)]}), file=sys.stdout)
        return
    line = getattr(exc, "line", None)
    where = f"{path}:{line}:{getattr(exc, 'column', 1)}" if line else path
    print(f"{where}: {exc}", file=sys.stderr)
