"""Path rules every command shares: an output is never one of the inputs."""

from __future__ import annotations

import argparse
import os


def same_file(a: str, b: str) -> bool:
    try:
        return a != "-" and b != "-" and os.path.samefile(a, b)
    except (OSError, ValueError):  # ValueError: a NUL in a path an input names
        return False


def refuse_overwriting_input(args: argparse.Namespace) -> None:
    """USAGE error when `args.output` names the same file as `args.input`."""
    if same_file(args.input, args.output):
        from gicmig.errors import GicmigError  # not at load: `gicmig --help` stays cheap

        raise GicmigError("USAGE", f"output {args.output} is the input: inputs are never modified")
