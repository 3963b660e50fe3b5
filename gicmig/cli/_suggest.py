"""Suggestions for a mistyped command, option or choice (loaded only on that error)."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Iterable

# Messages that `Parser.error` prints as one line, without the usage block.
PLAIN = ("unknown command ", "unknown option ")


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate `word` most likely mistypes: one it abbreviates, else the closest
    by difflib's ratio (at least 0.6), else None."""
    names = sorted(set(candidates))
    prefixed = [c for c in names if c.startswith(word) and len(word) >= 3]
    if len(prefixed) == 1:
        return prefixed[0]
    match = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return match[0] if match else None


def _hint(word: str, candidates: Iterable[str]) -> str:
    best = closest(word, candidates)
    return f" (did you mean '{best}'?)" if best else ""


def invalid_choice(action: argparse.Action, value: object) -> argparse.ArgumentError:
    """The error for a value that is not one of `action.choices`: a subcommand that does
    not exist, or a choice of an option."""
    choices = [str(c) for c in action.choices or ()]
    if isinstance(action, argparse._SubParsersAction):
        hint = _hint(str(value), choices) or f" (commands: {', '.join(choices)})"
        return argparse.ArgumentError(None, f"unknown command '{value}'{hint}")
    hint = _hint(str(value), choices) or " (choose from " + ", ".join(
        f"'{c}'" for c in choices) + ")"
    return argparse.ArgumentError(action, f"invalid choice: '{value}'{hint}")


def unrecognized(parser: argparse.ArgumentParser, ns: argparse.Namespace,
                 extras: list[str]) -> str:
    """The message for arguments no parser took: an unknown option of the command that was
    chosen (with a suggestion), or argparse's own message for stray arguments."""
    chosen = _chosen(parser, ns)
    options = [o for p in {id(p): p for p in (parser, chosen)}.values()
               for a in p._actions for o in a.option_strings]
    unknown = next((e for e in extras if e.startswith("-") and e != "-"), None)
    if unknown is None:
        return f"unrecognized arguments: {' '.join(extras)}"
    name = unknown.partition("=")[0]
    command = chosen.prog.removeprefix(f"{parser.prog} ")
    where = f" for '{command}'" if chosen is not parser else ""
    return f"unknown option '{name}'{where}{_hint(name, options)}"


def _chosen(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub)parser of the command `ns` holds: `diff`, or `import kvm`."""
    current = parser
    while True:
        sub = next((a for a in current._actions
                    if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(ns, sub.dest, None) if sub is not None and sub.dest else None
        if sub is None or name is None or name not in sub.choices:
            return current
        current = sub.choices[name]
