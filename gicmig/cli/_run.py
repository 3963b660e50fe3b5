"""Running a command: turn every gicmig error into one line and an exit code."""

from __future__ import annotations

import argparse
import errno
import os
import sys

from gicmig.errors import Category, GicmigError

# the exit status of each category of error (gicmig.errors), as the table "Exit codes
# per class" of docs/security.md says: 1 the input is invalid or a conversion would lose
# state (as a diff that finds differences), 2 the command could not do its job
EXIT_STATUS: dict[Category, int] = {
    "invalid": 1, "lossy": 1, "usage": 2, "io": 2, "setup": 2, "internal": 2,
}


def exit_status(exc: GicmigError) -> int:
    """What the CLI exits with when `exc` ends a command."""
    return EXIT_STATUS[exc.category]


def run(args: argparse.Namespace) -> int:
    try:
        status: int = args.run(args)
        _flush_stdout()
        return status
    except GicmigError as exc:
        report_error(getattr(args, "current_path", None) or "gicmig", exc,
                     getattr(args, "format", "text"))
        return exit_status(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if exc.errno not in _FULL:
            return _internal(args, exc)
        _drop_stdout()  # print() to a full disk: what is left cannot be written anyway
        report_error(getattr(args, "current_path", None) or "gicmig",
                     GicmigError("IO-WRITE", f"cannot write to stdout: {exc.strerror}"))
        return 2
    except Exception as exc:
        return _internal(args, exc)


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def _internal(args: argparse.Namespace, exc: Exception) -> int:
    """A bug: one line (and the traceback on demand), exit 2."""
    if os.environ.get("GICMIG_DEBUG"):
        raise exc
    report_error(getattr(args, "current_path", None) or "gicmig",
                 GicmigError("INTERNAL-ERROR", f"{type(exc).__name__}: {exc} (a gicmig "
                             "bug: please report it; GICMIG_DEBUG=1 shows the traceback)"),
                 getattr(args, "format", "text"))
    return 2


def _flush_stdout() -> None:
    """Flush what the command printed now, so that a full disk or a closed terminal is an
    IO-WRITE error and not an exception at the interpreter's exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        _drop_stdout()  # what is left cannot be written anyway
        raise GicmigError("IO-WRITE", f"cannot write to stdout: {exc.strerror or exc}") from None


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush cannot fail too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def report_error(path: str, exc: GicmigError, fmt: str = "text") -> None:
    """A command that failed before its report: one line on stderr, or under
    `--format json` the `gicmig/error` document on stdout (and nothing else there)."""
    from gicmig.cli.report import finding_from_error, text_line

    if fmt == "json":
        from gicmig.cli.jsondoc import emit, error_document

        emit(error_document(exc.code, exc.message, None if path == "gicmig" else path,
                            exit_status(exc), offset=exc.offset,
                            line=getattr(exc, "line", None),
                            column=getattr(exc, "column", None)))
        return
    finding = finding_from_error(exc, path)
    if fmt == "github":  # the annotation for the workflow log, the line for people
        from gicmig.cli.report import github_line

        print(github_line(finding), file=sys.stdout)
    elif fmt == "sarif":
        from gicmig.cli.report import sarif_text

        sys.stdout.write(sarif_text([finding], successful=False))
    print(text_line(finding, sys.stderr), file=sys.stderr)
