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
        written = report_error(getattr(args, "current_path", None) or "gicmig", exc,
                               getattr(args, "format", "text"))
        return exit_status(exc) if written else 2
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


_dropped: list[bool] = []  # stdout could not be written: reports go to stderr


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush cannot fail too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    _dropped.append(True)


def report_error(path: str, exc: GicmigError, fmt: str = "text") -> bool:
    """Report `exc`, a command that failed before its report: one line on stderr, or under
    `--format json` the `gicmig/error` document on stdout (and nothing else there); under
    `--format github|sarif` also its annotation / SARIF log on stdout. False when stdout
    cannot take the document (a full disk): then one IO-WRITE line on stderr says so, and
    the command exits 2."""
    if fmt in ("json", "github", "sarif") and not _dropped:
        try:
            sys.stdout.write(_machine_report(path, exc, fmt))
            sys.stdout.flush()
            if fmt == "json":
                return True
        except BrokenPipeError:  # the reader left: nobody to tell
            _drop_stdout()
            return True
        except OSError as full:
            _drop_stdout()
            _print_line("gicmig", GicmigError(
                "IO-WRITE", f"cannot write the JSON report of {exc.code} to stdout: "
                f"{full.strerror or full}"))
            return False
    _print_line(path, exc)  # also when stdout already failed: stderr still works
    return True


def _machine_report(path: str, exc: GicmigError, fmt: str) -> str:
    from gicmig.cli import report

    if fmt == "json":
        from gicmig.cli.jsondoc import dumps, error_document

        return dumps(error_document(exc.code, exc.message, None if path == "gicmig" else path,
                                    exit_status(exc), offset=exc.offset,
                                    line=getattr(exc, "line", None),
                                    column=getattr(exc, "column", None)))
    finding = report.finding_from_error(exc, path)
    if fmt == "github":  # the annotation for the workflow log; the line for people follows
        return report.github_line(finding) + "\n"
    return report.sarif_text([finding], successful=False)


def _print_line(path: str, exc: GicmigError) -> None:
    from gicmig.cli.report import finding_from_error, text_line

    print(text_line(finding_from_error(exc, path), sys.stderr), file=sys.stderr)
