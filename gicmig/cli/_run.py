"""Running a command: turn every gicmig error into one line and an exit code."""

from __future__ import annotations

import argparse
import json
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


def error_record(path: str, exc: GicmigError) -> dict[str, object]:
    return {"path": path, "code": exc.code, "message": exc.message, "offset": exc.offset}


def report_error(path: str, exc: GicmigError, fmt: str = "text") -> None:
    if fmt == "json":
        print(json.dumps({"ok": False, "errors": [error_record(path, exc)]}), file=sys.stdout)
        return
    line = getattr(exc, "line", None)
    where = f"{path}:{line}:{getattr(exc, 'column', 1)}" if line else path
    print(f"{where}: {exc}", file=sys.stderr)
