"""Shell completion scripts generated from the argparse parser (`gicmig completion SHELL`).

One walk over the parser collects, per command path (`""`, `diff`, `import kvm`), its
subcommands, options, the options that take a value (with their choices, or whether the
value is a file) and whether it takes file arguments; each shell's script is that table in
the shell's own terms, so a new command or option completes without touching this file.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field

# Metavars of option values that are not paths (no file completion for them).
_NOT_FILES = frozenset({"N", "PATTERN", "0x…"})


@dataclass
class Option:
    names: list[str]
    help: str
    takes_value: bool
    choices: list[str]
    files: bool


@dataclass
class Command:
    path: str
    subcommands: list[tuple[str, str]] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    files: bool = False  # takes file arguments
    words: list[str] = field(default_factory=list)  # choices of a positional argument


def commands(parser: argparse.ArgumentParser, path: str = "") -> list[Command]:
    """Every command path of `parser`, the top level first."""
    here = Command(path)
    found = [here]
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            helps = {c.dest: c.help or "" for c in a._choices_actions}
            for name, sub in a.choices.items():
                here.subcommands.append((name, helps.get(name, "")))
                found += commands(sub, f"{path} {name}".strip())
        elif a.option_strings:
            takes = a.nargs != 0
            choices = [str(c) for c in a.choices] if a.choices else []
            files = takes and not choices and a.metavar not in _NOT_FILES
            here.options.append(Option(list(a.option_strings), _one_line(a.help), takes,
                                       choices, files))
        elif a.choices:
            here.words += [str(c) for c in a.choices]
        else:
            here.files = True
    return found


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split()).replace("%(default)s", "")


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    table = commands(parser)
    prog = parser.prog
    if shell == "fish":
        return _fish(prog, table)
    body = _bash(prog, table)
    if shell == "zsh":  # zsh runs the bash function through its bashcompinit layer
        return (f"# {prog} completion for zsh: the bash function below, run by zsh's "
                f"bashcompinit;\n# load it with: source <({prog} completion zsh)\n"
                "(( $+functions[compdef] )) || "
                "{ autoload -U +X compinit && compinit; }\n"
                "autoload -U +X bashcompinit && bashcompinit\n" + body)
    return body


def _words(items: list[str]) -> str:
    return shlex.quote(" ".join(items))


def _bash(prog: str, table: list[Command]) -> str:
    fn = f"_{prog.replace('-', '_')}"
    subs = [f"    {shlex.quote(c.path)}) echo {_words([n for n, _ in c.subcommands] + c.words)} ;;"
            for c in table if c.subcommands or c.words]
    opts = [f"    {shlex.quote(c.path)}) echo {_words([n for o in c.options for n in o.names])} ;;"
            for c in table if c.options]
    values = []
    for c in table:
        for o in c.options:
            if not o.takes_value:
                continue
            what = f"echo {_words(o.choices)}" if o.choices else ("echo -f" if o.files else "echo")
            keys = "|".join(shlex.quote(f"{c.path} {n}".strip()) for n in o.names)
            values.append(f"    {keys}) {what} ;;")
    files = "|".join(shlex.quote(c.path) for c in table if c.files) or "''"
    return f"""# {prog} completion for bash, generated from its argument parser
# (`{prog} completion bash`); load it with: source <({prog} completion bash)
{fn}_subcommands() {{
  case "$1" in
{chr(10).join(subs)}
  esac
}}
{fn}_options() {{
  case "$1" in
{chr(10).join(opts)}
  esac
}}
# what the value of option $2 of command $1 is: its choices, -f (a file), or nothing;
# fails for an option that takes no value
{fn}_value() {{
  case "$1 $2" in
{chr(10).join(values)}
    *) return 1 ;;
  esac
}}
{fn}_takes_files() {{
  case "$1" in
    {files}) return 0 ;;
  esac
  return 1
}}
{fn}() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
  local path="" i w s skip=0 value
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${{COMP_WORDS[i]}}
    if ((skip)); then skip=0; continue; fi
    case $w in
      -*=*) ;;
      -*) {fn}_value "$path" "$w" >/dev/null && skip=1 ;;
      *) for s in $({fn}_subcommands "$path"); do
           if [[ $s == "$w" ]]; then path=${{path:+$path }}$w; break; fi
         done ;;
    esac
  done
  if [[ $COMP_CWORD -gt 1 && $prev == -* ]] && value=$({fn}_value "$path" "$prev"); then
    if [[ $value == -f ]]; then
      COMPREPLY=($(compgen -f -- "$cur"))
    elif [[ -n $value ]]; then
      COMPREPLY=($(compgen -W "$value" -- "$cur"))
    fi
    return 0
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$({fn}_options "$path")" -- "$cur"))
    return 0
  fi
  s=$({fn}_subcommands "$path")
  if [[ -n $s ]]; then
    COMPREPLY=($(compgen -W "$s" -- "$cur"))
  elif {fn}_takes_files "$path"; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
  return 0
}}
complete -o filenames -o bashdefault -F {fn} {prog}
"""


def _fish(prog: str, table: list[Command]) -> str:
    lines = [f"# {prog} completion for fish, generated from its argument parser",
             f"# (`{prog} completion fish`); save it as ~/.config/fish/completions/{prog}.fish",
             f"complete -c {prog} -f"]
    for c in table:
        words = c.path.split()
        if words:
            cond = " && ".join(f"__fish_seen_subcommand_from {shlex.quote(w)}" for w in words)
        else:
            cond = "__fish_use_subcommand"
        if words and c.subcommands:  # a group: only until one of its subcommands is given
            seen = " ".join(shlex.quote(n) for n, _ in c.subcommands)
            sub_cond = f"{cond} && not __fish_seen_subcommand_from {seen}"
        else:
            sub_cond = cond
        for name in c.words:
            lines.append(f"complete -c {prog} -n {shlex.quote(cond)} -a {shlex.quote(name)}")
        for name, help in c.subcommands:
            lines.append(f"complete -c {prog} -n {shlex.quote(sub_cond)} -a {shlex.quote(name)}"
                         f" -d {shlex.quote(help)}")
        for o in c.options:
            spec = " ".join(f"-l {n[2:]}" if n.startswith("--") else f"-s {n[1:]}"
                            for n in o.names)
            value = ""
            if o.choices:
                value = f" -x -a {shlex.quote(' '.join(o.choices))}"
            elif o.files:
                value = " -r -F"
            elif o.takes_value:
                value = " -x"
            lines.append(f"complete -c {prog} -n {shlex.quote(cond)} {spec}{value}"
                         f" -d {shlex.quote(o.help)}")
        if c.files and words:
            lines.append(f"complete -c {prog} -n {shlex.quote(cond)} -F")
    return "\n".join(lines) + "\n"
