"""Colour in the CLI's text output: one policy, one place.

`--color auto` (the default) colours only a terminal, and never when the environment
variable NO_COLOR is set to anything but the empty string (https://no-color.org) or TERM
is `dumb`; FORCE_COLOR (not empty) colours a pipe too, unless NO_COLOR is set.
`--color always` and `--color never` are the user's explicit choice for this run and win
over both variables (as no-color.org asks of command-line flags). Machine output (JSON,
HTML, files written with -o) is never coloured.
"""

from __future__ import annotations

import os

from gicmig.cli._lazy import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO

_STYLES = {
    "code": "1;31",  # a reason code: bold red
    "ok": "32",      # ok, same
    "bad": "31",     # what failed; a diff's old value
    "new": "32",     # a diff's new value
    "dim": "2",      # the register a diff line names
}
_mode = "auto"


def configure(mode: str) -> None:
    """Set the policy for this run: `auto`, `always` or `never`."""
    global _mode
    _mode = mode


def enabled(stream: TextIO) -> bool:
    if _mode != "auto":
        return _mode == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def paint(text: str, style: str, stream: TextIO) -> str:
    """`text` in `style` when `stream` gets colour, else unchanged."""
    if not text or not enabled(stream):
        return text
    return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"
