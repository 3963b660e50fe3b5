"""`gicmig schema check --against REPO.git#branch=|tag=|ref=...[,subdir=...]`: the baseline
read from git itself, nothing checked out, temporary folders removed."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from gicmig.cli import main
from gicmig.errors import GicmigError
from gicmig.schemacheck import gitref

V1 = 'syntax = "proto3";\npackage acme.v1;\nmessage Cpu {\n  uint32 pmr = 1;\n}\n'
V2 = 'syntax = "proto3";\npackage acme.v1;\nmessage Cpu {\n  uint64 pmr = 1;\n}\n'
FINDING = "proto/acme/v1/cpu.proto:4:3: FIELD_WIRE_JSON_COMPATIBLE_TYPE"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """main (tagged v1) has V1; the checked-out branch `change` commits V2 on top."""
    root = tmp_path / "repo"
    (root / "proto" / "acme" / "v1").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "ci@example.invalid")
    git(root, "config", "user.name", "ci")
    (root / "proto" / "acme" / "v1" / "cpu.proto").write_text(V1)
    (root / "README").write_text("not a proto\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v1")
    git(root, "tag", "v1")
    git(root, "checkout", "-q", "-b", "change")
    (root / "proto" / "acme" / "v1" / "cpu.proto").write_text(V2)
    git(root, "commit", "-q", "-am", "v2")
    monkeypatch.chdir(root)
    # every temporary folder gicmig makes lands here, so that the test sees it removed
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return root


def untouched(root: Path) -> None:
    assert git(root, "status", "--porcelain", "--ignored") == ""
    assert git(root, "rev-parse", "--abbrev-ref", "HEAD") == "change"
    assert list((root.parent / "scratch").iterdir()) == []


@pytest.mark.parametrize("spec", [".git#branch=main", ".git#tag=v1", ".git#ref=HEAD~1",
                                  ".git#branch=main,subdir=proto", "./.git#ref=v1"])
def test_a_breaking_change_against_the_ref(repo: Path, spec: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "check", "--against", spec]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(FINDING)
    assert 'changed type from "uint32" to "uint64"' in out[0]
    assert f"(element acme.v1.Cpu.pmr; against {spec}" in out[0]
    untouched(repo)


def test_against_a_sha_and_the_branch_itself(repo: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    sha = git(repo, "rev-parse", "main")
    assert main(["schema", "check", "--against", f".git#ref={sha}"]) == 1
    assert capsys.readouterr().out.startswith(FINDING)
    assert main(["schema", "check", "--against", ".git#branch=change",
                 "--against", ".git#ref=HEAD"]) == 0
    untouched(repo)


def test_branch_falls_back_to_origin(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--branch", "change", str(repo), str(clone)],
                   check=True)
    assert "main" not in git(clone, "branch", "--list", "main")
    report = gitref.load(f"{clone}/.git#branch=main,subdir=proto")
    (cpu,) = [f for f in report.fds.file if f.name == "acme/v1/cpu.proto"]
    assert cpu.message_type[0].field[0].type == 13  # uint32, as on main


def test_a_worktree_git_file(repo: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "other", str(wt), "change")
    assert (wt / ".git").is_file()
    monkeypatch.chdir(wt)
    assert main(["schema", "check", "--against", ".git#branch=main"]) == 1
    assert capsys.readouterr().out.startswith(FINDING)


def test_subdir_default_is_the_checked_folders_place(repo: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "proto" / "acme")
    # checking proto/acme: its files are named v1/cpu.proto, and so are main's
    assert main(["schema", "check", "--against", "../../.git#tag=v1", "."]) == 1
    out = capsys.readouterr()
    assert out.out.startswith("./v1/cpu.proto:4:3: FIELD_WIRE_JSON_COMPATIBLE_TYPE")
    assert "against ../../.git#tag=v1,subdir=proto/acme" in out.err


def test_layout_from_buf_yaml_at_the_ref(repo: Path) -> None:
    (repo / "buf.yaml").write_text("version: v2\nmodules:\n  - path: proto\n")
    git(repo, "add", "buf.yaml")
    git(repo, "commit", "-q", "-m", "buf.yaml")
    schema = gitref.load(".git#ref=HEAD")
    assert schema.files == {"acme/v1/cpu.proto"}
    assert schema.display_path("acme/v1/cpu.proto") == ".git#ref=HEAD/proto/acme/v1/cpu.proto"


@pytest.mark.parametrize(("spec", "why"), [
    (".git#branch=nope", 'branch "nope" does not exist'),
    (".git#tag=v9", 'tag "v9" does not exist'),
    (".git#ref=0123456789abcdef", 'revision "0123456789abcdef" does not exist'),
    (".git#branch=main,tag=v1", "give one of branch=, tag=, ref="),
    (".git#colour=blue", '"colour=blue" is not one of'),
    (".git#branch=main,branch=change", "branch= is given twice"),
    (".git#ref=HEAD,subdir=../x", "must be a path inside the repository"),
    (".git#ref=HEAD,subdir=README", '"README" is not a folder'),
    (".git#ref=HEAD,subdir=nowhere", '"nowhere" is not a folder'),
    ("elsewhere/.git#ref=HEAD", "is not a git repository"),
    ("bare.git#ref=HEAD", "is not a git repository"),
])
def test_bad_refs(repo: Path, spec: str, why: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(GicmigError) as exc:
        gitref.load(spec)
    assert exc.value.code == "SCHEMA-GIT-REF" and why in str(exc.value)
    assert main(["schema", "check", "--against", spec]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SCHEMA-GIT-REF" in err[0] and why in err[0]
    untouched(repo)


def test_not_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "proto").mkdir()
    (tmp_path / "proto" / "x.proto").write_text(V1)
    (tmp_path / ".git").mkdir()  # a folder named .git that is no repository
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GicmigError) as exc:
        gitref.load(".git#branch=main")
    assert exc.value.code == "SCHEMA-GIT-REF"
