"""The CLI's option choices that name library facts (QEMU accelerators, board presets) are
written in the parser so that `gicmig --help` does not import the QEMU view; this pins them
to the library's tables, so the two can never drift apart."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from gicmig.cli import build_parser
from gicmig.views.qemu.model import ACCELS, MACHINES


def _options(parser: argparse.ArgumentParser, path: str = "gicmig") -> Iterator[
        tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, f"{path} {name}")
        else:
            for flag in action.option_strings:
                yield f"{path} {flag}", action


def test_accel_and_machine_choices_are_the_librarys() -> None:
    seen = {"--accel": 0, "--machine": 0}
    for where, action in _options(build_parser()):
        flag = where.rsplit(" ", 1)[1]
        if flag == "--accel":
            assert tuple(action.choices or ()) == ACCELS, where
        elif flag == "--machine":
            assert tuple(action.choices or ()) == tuple(MACHINES), where
        else:
            continue
        seen[flag] += 1
    assert seen["--accel"] >= 2 and seen["--machine"] >= 1, seen  # import and export qemu
