"""A schema at a git ref, buf's way of naming one: `.git#branch=main,subdir=proto`.

    REPO#branch=NAME | tag=NAME | ref=REV [,subdir=DIR]

`REPO` is a local repository: a path ending in `.git` (`.git` itself is the repository of
the working directory; a worktree's `.git` file works too) — buf's `git` input format.
`ref=` takes anything `git rev-parse` does (a SHA, `HEAD~1`, `origin/main`); `branch=` is
the local branch, else `origin/NAME`; `tag=` is the tag; none of them: `HEAD`.

The tree is read with git itself (`git archive` of the ref's subtree, streamed into a
private temporary folder that is removed afterwards): nothing is checked out, the working
tree and the index are never touched. The folder is then compiled like any other, its
buf.work.yaml / buf.yaml included. Without `subdir=`, the folder taken is `default_subdir`
(the CLI passes the checked folder's place in the repository, so `gicmig schema check
--against .git#branch=main` compares `proto/` with `proto/` on main).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gicmig.errors import GicmigError
from gicmig.files import scratch_folder
from gicmig.schemacheck.sources import Schema, compile_dir

_KEYS = ("branch", "tag", "ref", "subdir", "depth")


@dataclass(frozen=True)
class GitRef:
    spec: str
    repo: str
    kind: str  # "branch", "tag", "ref" or "head"
    name: str
    subdir: str | None


def is_git_ref(spec: str) -> bool:
    return "#" in spec and spec.split("#", 1)[0].rstrip("/").endswith(".git")


def parse(spec: str) -> GitRef:
    repo, _, opts = spec.partition("#")
    values: dict[str, str] = {}
    for item in filter(None, opts.split(",")):
        key, eq, value = item.partition("=")
        if not eq or key not in _KEYS or not value:
            raise _bad(spec, f'"{item}" is not one of {", ".join(k + "=..." for k in _KEYS)}')
        if key in values:
            raise _bad(spec, f"{key}= is given twice")
        values[key] = value
    chosen = [k for k in ("branch", "tag", "ref") if k in values]
    if len(chosen) > 1:
        raise _bad(spec, "give one of branch=, tag=, ref=")
    kind = chosen[0] if chosen else "head"
    subdir = values.get("subdir")
    if subdir is not None:
        sub = PurePosixPath(subdir)
        if sub.is_absolute() or ".." in sub.parts:
            raise _bad(spec, f'subdir "{subdir}" must be a path inside the repository')
    return GitRef(spec, repo, kind, values.get(kind, "HEAD"), subdir)


def load(spec: str, current: str | None = None) -> Schema:
    """Compile the folder at the ref (see the module doc). Without `subdir=`, the folder
    is `current`'s place in the repository when `current` (the checked folder) lies in
    the same repository's work tree, else the repository's top."""
    ref = parse(spec)
    git = _git_base(ref)
    commit = _resolve(ref, git)
    subdir = ref.subdir if ref.subdir is not None else \
        (_same_place(ref, git, current) if current else None) or "."
    subdir = str(PurePosixPath(subdir)) if subdir not in ("", ".") else "."
    tree = f"{commit}^{{tree}}" if subdir == "." else f"{commit}:{subdir}"
    kind = _run(ref, [*git, "cat-file", "-t", tree], check=False)
    if kind.strip() != "tree":
        raise _bad(ref.spec, f'"{subdir}" is not a folder at {commit[:12]}')
    with scratch_folder("gicmig-gitref-") as tmp:  # removed even if gicmig is killed
        _extract(ref, [*git, "archive", "--format=tar", tree], Path(tmp))
        label = ref.spec if ref.subdir is not None or subdir == "." else \
            f"{ref.spec},subdir={subdir}"
        schema = compile_dir(tmp, label=label)
    return schema


def _git_base(ref: GitRef) -> list[str]:
    path = Path(ref.repo or ".git")
    if path.name == ".git":
        top = path.parent
        if not path.exists():
            raise _bad(ref.spec, f"{path} is not a git repository")
        return ["git", "-C", str(top)]
    if not path.is_dir():
        raise _bad(ref.spec, f"{path} is not a git repository")
    return ["git", f"--git-dir={path}"]


def _resolve(ref: GitRef, git: list[str]) -> str:
    if ref.kind == "branch":
        candidates = [f"refs/heads/{ref.name}", f"refs/remotes/origin/{ref.name}"]
    elif ref.kind == "tag":
        candidates = [f"refs/tags/{ref.name}"]
    else:
        candidates = [ref.name]
    for c in candidates:
        out = _run(ref, [*git, "rev-parse", "-q", "--verify", "--end-of-options",
                         f"{c}^{{commit}}"], check=False)
        if out.strip():
            return out.strip()
    what = {"branch": "branch", "tag": "tag", "ref": "revision", "head": "HEAD"}[ref.kind]
    raise _bad(ref.spec, f'{what} "{ref.name}" does not exist in the repository')


def _run(ref: GitRef, cmd: list[str], check: bool = True) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except FileNotFoundError:
        raise _bad(ref.spec, "git is not installed") from None
    if check and proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or [f"git exited {proc.returncode}"])[0]
        raise _bad(ref.spec, first)
    if proc.returncode != 0 and "not a git repository" in proc.stderr:
        raise _bad(ref.spec, proc.stderr.strip().splitlines()[0])
    return proc.stdout


def _extract(ref: GitRef, cmd: list[str], into: Path) -> None:
    """Stream `git archive` into `into`: regular files and folders only, each checked to
    stay inside `into` (symlinks and other entries are skipped)."""
    import tarfile

    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    rel = PurePosixPath(member.name)
                    if rel.is_absolute() or ".." in rel.parts:
                        continue
                    dest = into.joinpath(*rel.parts)
                    if member.isdir():
                        dest.mkdir(parents=True, exist_ok=True)
                    elif member.isfile():
                        src = tar.extractfile(member)
                        assert src is not None
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        dest.write_bytes(src.read())
        except tarfile.TarError as exc:
            err = proc.stderr.read().decode(errors="replace").strip()
            raise _bad(ref.spec, (err.splitlines() or [str(exc)])[0]) from None
        err = proc.stderr.read().decode(errors="replace").strip()
    if proc.returncode != 0:
        raise _bad(ref.spec, (err.splitlines() or [f"git archive exited {proc.returncode}"])[0])


def _same_place(ref: GitRef, git: list[str], folder: str) -> str | None:
    """`folder`'s path inside the work tree of the repository `git` names, if it is in it."""
    path = Path(folder).resolve()
    if not path.is_dir():
        path = path.parent
    mine = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"],
                          capture_output=True, text=True, check=False).stdout.strip()
    theirs = _run(ref, [*git, "rev-parse", "--show-toplevel"], check=False).strip()
    if not mine or not theirs or Path(mine).resolve() != Path(theirs).resolve():
        return None
    return path.relative_to(Path(mine).resolve()).as_posix()


def _bad(spec: str, why: str) -> GicmigError:
    return GicmigError("SCHEMA-GIT-REF", f"{spec}: {why}")
