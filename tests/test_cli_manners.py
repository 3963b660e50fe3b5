"""The command line's manners: no option abbreviation on any parser, a suggestion for a
mistyped command, option or choice."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gicmig.cli import build_parser, main
from gicmig.cli._suggest import closest

ROOT = Path(__file__).resolve().parents[1]


def parsers(p: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in {id(s): s for s in a.choices.values()}.values():
                yield from parsers(sub)


def test_no_parser_abbreviates() -> None:
    every = list(parsers(build_parser()))
    assert len(every) > 20
    assert [p.prog for p in every if p.allow_abbrev] == []


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gicmig", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, check=False)


@pytest.mark.parametrize(("argv", "line"), [
    (["valdate", "x.json"], "gicmig: unknown command 'valdate' (did you mean 'validate'?)"),
    (["dif", "a", "b"], "gicmig: unknown command 'dif' (did you mean 'diff'?)"),
    (["import", "kvmm", "x"], "gicmig import: unknown command 'kvmm' (did you mean 'kvm'?)"),
    (["diff", "--regsters", "a", "b"],
     "gicmig: unknown option '--regsters' for 'diff' (did you mean '--registers'?)"),
    # an abbreviation is refused, and named
    (["diff", "--reg", "a", "b"],
     "gicmig: unknown option '--reg' for 'diff' (did you mean '--registers'?)"),
    (["import", "kvm", "-o", "x", "--num-cpu=2", "d.json"],
     "gicmig: unknown option '--num-cpu' for 'import kvm' (did you mean '--num-cpus'?)"),
    (["--verison"], "gicmig: unknown option '--verison' (did you mean '--version'?)"),
])
def test_a_mistyped_command_or_option_is_one_line_with_a_suggestion(argv: list[str],
                                                                   line: str) -> None:
    done = run(*argv)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")


def test_no_close_command_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["xyzzy"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("gicmig: unknown command 'xyzzy' (commands: encode, decode, ")


def test_a_mistyped_choice_keeps_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["diff", "--format", "jsn", "a", "b"])
    err = capsys.readouterr().err
    assert err.startswith("usage: gicmig diff ")
    assert err.endswith("gicmig diff: error: argument --format: invalid choice: 'jsn' "
                        "(did you mean 'json'?)\n")
    with pytest.raises(SystemExit):
        main(["diff", "--format", "zzz", "a", "b"])
    assert capsys.readouterr().err.endswith(
        "invalid choice: 'zzz' (choose from 'text', 'json', 'html')\n")


def test_full_options_and_short_clusters_still_work(tmp_path: Path) -> None:
    same = run("diff", "-q", "--registers", "fixtures/v1/busy.json", "fixtures/v1/busy.gicmig")
    assert (same.returncode, same.stderr) == (0, "")
    assert run("diff", "--format=json", "fixtures/v1/busy.json",
               "fixtures/v1/busy.gicmig").returncode == 0


def test_closest() -> None:
    assert closest("valdate", ["validate", "decode"]) == "validate"
    assert closest("--reg", ["--registers", "--format"]) == "--registers"
    assert closest("exp", ["export", "decode"]) == "export"  # an abbreviation of one
    assert closest("ex", ["export"]) is None  # too short to read as one
    assert closest("zzzz", ["validate"]) is None
