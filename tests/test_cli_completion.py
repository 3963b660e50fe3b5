"""`gicmig completion bash|zsh|fish`: scripts generated from the parser, run in the shells."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gicmig.cli import build_parser
from gicmig.cli._completion import commands, script

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI") == "true"


def need(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        if IN_CI:
            pytest.fail(f"{shell} is not installed (CI=true: .ci/run installs it)")
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    return path


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("completion")
    parser = build_parser()
    files = {}
    for shell in ("bash", "zsh", "fish"):
        files[shell] = out / f"gicmig.{shell}"
        files[shell].write_text(script(shell, parser))
    return files


def bash_complete(script_path: Path, line: str) -> list[str]:
    """What bash completes for the command line `line` (the cursor at its end)."""
    code = ('source "$1"; read -ra COMP_WORDS <<< "$2"; [[ $2 == *" " ]] && COMP_WORDS+=("");'
            'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE=$2; COMP_POINT=${#2}; _gicmig;'
            'printf "%s\\n" "${COMPREPLY[@]}"')
    done = subprocess.run([need("bash"), "-c", code, "_", str(script_path), line], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, check=True)
    assert done.stderr == ""
    return [w for w in done.stdout.splitlines() if w]


@pytest.mark.parametrize(("line", "expected"), [
    ("gicmig val", ["validate"]),
    ("gicmig ", ["encode", "decode", "validate", "info", "schema", "compat", "import", "export",
                 "diff", "fixture", "show", "completion"]),
    ("gicmig import ", ["kvm", "qemu", "gich"]),
    ("gicmig import kvm --n", ["--num-cpus"]),
    ("gicmig diff --f", ["--format"]),
    ("gicmig diff --format ", ["text", "json", "html"]),
    ("gicmig diff --format j", ["json"]),
    ("gicmig export gich --eoi-policy ", ["kvm", "none"]),
    ("gicmig export kvm --iidr-revision ", ["1", "2", "3"]),
    ("gicmig completion ", ["bash", "zsh", "fish"]),
    ("gicmig --ver", ["--version"]),
    ("gicmig diff fixtures/v1/bu", ["fixtures/v1/busy.gicmig", "fixtures/v1/busy.json"]),
    ("gicmig diff -q fixtures/v1/max.j", ["fixtures/v1/max.json"]),  # after a flag
    ("gicmig diff -o fixtures/v1/res", ["fixtures/v1/reset-virt-2cpu.gicmig",
                                        "fixtures/v1/reset-virt-2cpu.json"]),
    ("gicmig diff --ignore ", []),  # a pattern, not a file
    ("gicmig import qemu --num-irqs ", []),
    ("gicmig import kvm --format json fixtures/kvm/two-v", ["fixtures/kvm/two-vcpu.json"]),
])
def test_bash_completes(scripts: dict[str, Path], line: str, expected: list[str]) -> None:
    assert sorted(bash_complete(scripts["bash"], line)) == sorted(expected)


def test_every_command_and_option_is_in_the_scripts(scripts: dict[str, Path]) -> None:
    table = commands(build_parser())
    assert {c.path for c in table} >= {"", "diff", "import kvm", "schema check", "completion"}
    texts = {shell: p.read_text() for shell, p in scripts.items()}
    for c in table:
        for o in c.options:
            for name in o.names:
                assert name in texts["bash"], (c.path, name)
                flag = f"-l {name[2:]}" if name.startswith("--") else f"-s {name[1:]}"
                assert flag in texts["fish"], (c.path, name)


def test_the_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    from gicmig.cli import main

    for shell in ("bash", "zsh", "fish"):
        assert main(["completion", shell]) == 0
        assert capsys.readouterr().out == script(shell, build_parser())


def test_zsh_runs_the_script_through_bashcompinit(scripts: dict[str, Path]) -> None:
    # zsh's compgen does not filter by the word (zsh's own matching does), so this checks
    # the candidates the function offers in each place
    code = ('source "$1"; COMP_WORDS=(gicmig import ""); COMP_CWORD=2;'
            'emulate sh -c _gicmig; print -r -- "${COMPREPLY[*]}";'
            'COMP_WORDS=(gicmig diff --format ""); COMP_CWORD=3;'
            'emulate sh -c _gicmig; print -r -- "${COMPREPLY[*]}"')
    done = subprocess.run([need("zsh"), "-f", "-c", code, "_", str(scripts["zsh"])], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True,
                          env={**os.environ, "HOME": str(scripts["zsh"].parent)})
    assert done.stdout.splitlines() == ["kvm qemu gich", "text json html"]


def test_fish_completes(scripts: dict[str, Path]) -> None:
    def complete(line: str) -> list[str]:
        done = subprocess.run([need("fish"), "--no-config", "-c",
                               f"source {scripts['fish']}; complete -C '{line}'"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=True)
        return sorted(w.split("\t")[0] for w in done.stdout.splitlines())
    assert complete("gicmig val") == ["validate"]
    assert complete("gicmig import ") == ["gich", "kvm", "qemu"]
    assert complete("gicmig diff --format ") == ["html", "json", "text"]
    assert "--num-cpus" in complete("gicmig import kvm --")
    assert complete("gicmig diff fixtures/v1/bu") == ["fixtures/v1/busy.gicmig",
                                                      "fixtures/v1/busy.json"]


def test_zsh_completes_at_a_real_prompt(scripts: dict[str, Path], tmp_path: Path) -> None:
    """An interactive zsh on a pseudo-terminal (zsh/zpty), compinit, the script sourced:
    typing `gicmig val<TAB>` and `gicmig import kv<TAB>` completes the words."""
    driver = tmp_path / "drive.zsh"
    driver.write_text(f"""zmodload zsh/zpty
zpty -b z "HOME={tmp_path} PS1='%% ' zsh -f -i"
zpty -w z "autoload -U compinit && compinit -u; source {scripts['zsh']}; cd {ROOT}"
zpty -w -n z "gicmig val"$'\\t'
sleep 3
zpty -w z $'\\x03'
zpty -w -n z "gicmig import kv"$'\\t'
sleep 3
zpty -w z $'\\x03'
out=""
while zpty -r -t z line; do out+=$line; done
print -r -- ${{out//$'\\r'/}}
zpty -d z
""")
    done = subprocess.run([need("zsh"), "-f", str(driver)], capture_output=True, text=True,
                          timeout=60, check=True)
    assert "gicmig validate" in done.stdout
    assert "gicmig import kvm" in done.stdout
