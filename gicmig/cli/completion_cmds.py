"""`gicmig completion bash|zsh|fish`: a shell completion script from the parser."""

from __future__ import annotations

import argparse

from gicmig.cli._lazy import TYPE_CHECKING

if TYPE_CHECKING:
    from gicmig.cli import Subcommands

EPILOG = """examples:
  source <(gicmig completion bash)                  # this bash session; or add it to ~/.bashrc
  source <(gicmig completion zsh)                   # zsh; or add it to ~/.zshrc
  gicmig completion fish > ~/.config/fish/completions/gicmig.fish

The script completes commands, subcommands, options, option choices and file arguments;
it is generated from the installed gicmig's parser, so regenerate it after an upgrade."""


def register(sub: Subcommands) -> None:
    p = sub.add("completion", "print a shell completion script (bash, zsh or fish)", EPILOG)
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete in")
    p.set_defaults(run=_completion)


def _completion(args: argparse.Namespace) -> int:
    import sys

    from gicmig.cli import build_parser
    from gicmig.cli._completion import script

    sys.stdout.write(script(args.shell, build_parser()))
    return 0
