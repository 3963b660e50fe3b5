"""Hostile schema inputs: proto folders (symlinks out, FIFOs, devices, huge files, import
cycles, bad buf.yaml), as `schema check PROTO_DIR` and as `--against DIR`; descriptor sets
and locks folders mutated field by field as protobuf; .proto text mutated at its numbers.

Folder cases run in real subprocesses (protoc runs in-process in C: an alarm cannot stop
it, a subprocess's timeout can); descriptor-set and lock mutations run in-process."""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hostile_engine import (
    ROOT,
    Case,
    check_case,
    conclude,
    idle_rss,
    judge_cli,
    judge_memory,
    run_subprocess,
    sha,
    stats,
)
from mutators import mutate_json, mutate_protobuf

pytest.importorskip("grpc_tools", reason="schema check needs gicmig[schema] (the test extra)")

PROTO = ROOT / "proto"
DATA = ROOT / "gicmig/data"
CLS = "schema folder"


def _folder(tmp: Path, name: str = "p") -> Path:
    dest = tmp / name
    shutil.copytree(PROTO, dest)
    return dest


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        f.truncate(size)


def _build(kind: str, tmp: Path) -> Path:
    """A proto folder holding one hostile thing."""
    p = _folder(tmp)
    pkg = p / "gicmig/v1"
    outside = tmp / "outside.proto"
    outside.write_text('syntax = "proto3";\npackage evil;\nmessage M { int32 a = 1; }\n')
    if kind == "symlink-out":
        os.symlink(outside, pkg / "evil.proto")
    elif kind == "symlink-dir-out":
        (tmp / "outdir").mkdir()
        shutil.copy(outside, tmp / "outdir/evil.proto")
        os.symlink(tmp / "outdir", pkg / "linked")
    elif kind == "import-through-symlink-dir":
        (tmp / "outdir").mkdir()
        shutil.copy(outside, tmp / "outdir/evil.proto")
        os.symlink(tmp / "outdir", pkg / "linked")
        (pkg / "a.proto").write_text('syntax = "proto3";\npackage c;\n'
                                     'import "gicmig/v1/linked/evil.proto";\n'
                                     "message A { evil.M m = 1; }\n")
    elif kind == "fifo":
        os.mkfifo(pkg / "fifo.proto")
    elif kind == "dev-zero":
        os.symlink("/dev/zero", pkg / "zero.proto")
    elif kind == "huge":
        _sparse(pkg / "huge.proto", (64 << 20) + 1)
    elif kind == "big-comment":
        (pkg / "big.proto").write_text('syntax = "proto3";\npackage big;\n//' + "x" * (8 << 20)
                                       + "\n")
    elif kind == "import-cycle":
        (pkg / "a.proto").write_text('syntax = "proto3";\npackage c;\nimport "gicmig/v1/b.proto";'
                                     "\nmessage A { B b = 1; }\n")
        (pkg / "b.proto").write_text('syntax = "proto3";\npackage c;\nimport "gicmig/v1/a.proto";'
                                     "\nmessage B { A a = 1; }\n")
    elif kind == "import-missing":
        (pkg / "a.proto").write_text('syntax = "proto3";\nimport "../../../etc/passwd";\n')
    elif kind == "import-absolute":
        (pkg / "a.proto").write_text(f'syntax = "proto3";\nimport "{outside}";\n')
    elif kind == "deep-nesting":
        body = "message M { " * 5000 + "}" * 5000
        (pkg / "deep.proto").write_text(f'syntax = "proto3";\npackage d;\n{body}\n')
    elif kind == "not-utf8":
        (pkg / "bin.proto").write_bytes(b'syntax = "proto3";\n\xff\xfe\x00message')
    elif kind == "empty-dir":
        shutil.rmtree(p)
        p.mkdir()
    elif kind.startswith("buf.yaml"):
        text = {
            "buf.yaml-bomb": "version: v1\na: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,"
                             "*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,"
                             "*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,"
                             "*e,*e,*e,*e,*e,*e]\n",
            "buf.yaml-invalid": "version: [v1\n  : :\n",
            "buf.yaml-roots-out": "version: v1beta1\nbuild:\n  roots: ['../..', '/']\n",
            "buf.yaml-modules-out": "version: v2\nmodules:\n  - path: ../\n",
            "buf.yaml-wrong-types": "version: v2\nmodules: 5\n",
            "buf.yaml-huge": "version: v1\n#" + "x" * (65 << 20) + "\n",
            "buf.yaml-tags": "version: !!python/object/apply:os.system ['true']\n",
        }.get(kind)
        if text is not None:
            (p / "buf.yaml").write_text(text)
        elif kind == "buf.yaml-fifo":
            os.mkfifo(p / "buf.yaml")
        elif kind == "buf.yaml-dir":
            (p / "buf.yaml").mkdir()
        elif kind == "buf.yaml-symlink-zero":
            os.symlink("/dev/zero", p / "buf.yaml")
    elif kind == "buf.work.yaml-out":
        (p / "buf.work.yaml").write_text("version: v1\ndirectories: ['..', '/etc']\n")
    return p


FOLDER_CASES = ["symlink-out", "symlink-dir-out", "fifo", "dev-zero", "huge", "big-comment",
                "import-cycle", "import-missing", "import-absolute", "deep-nesting", "not-utf8",
                "empty-dir", "buf.yaml-bomb", "buf.yaml-invalid", "buf.yaml-roots-out",
                "buf.yaml-modules-out", "buf.yaml-wrong-types", "buf.yaml-tags",
                "buf.yaml-dir", "buf.work.yaml-out"]
# docs/security.md: refused before protoc runs (others may be accepted: a symlinked folder
# that rglob does not enter is simply not part of the schema)
MUST_REFUSE = {"symlink-out", "fifo", "dev-zero", "huge", "import-cycle", "import-missing",
               "import-absolute", "not-utf8", "empty-dir", "buf.yaml-invalid",
               "buf.yaml-roots-out", "buf.yaml-modules-out", "buf.yaml-wrong-types",
               "buf.work.yaml-out",
               "import-through-symlink-dir"}
# issue 13's classes the suite found while they were fixed in parallel (buf.yaml read
# unbounded and through symlinks; protoc without a time limit): each must stay fixed
H1_FOLDER = {"buf.yaml-fifo": "H1: buf.yaml read through a FIFO hangs",
             "buf.yaml-symlink-zero": "H1: buf.yaml read unbounded (/dev/zero)",
             "buf.yaml-huge": "H1: buf.yaml read unbounded (65 MiB: no time bound)",
             "import-through-symlink-dir": "H1: protoc resolves imports through a symlinked "
                                           "folder of an import root"}


def _run_folder(tmp: Path, kind: str, role: str, timeout: float = 30) -> list[str]:
    folder = _build(kind, tmp)
    argv = (["schema", "check", str(folder)] if role == "proto_dir"
            else ["schema", "check", str(PROTO), "--against", str(folder)])
    files = [f for f in folder.rglob("*") if f.is_file() and not f.is_symlink()
             and f.stat().st_size < (1 << 20)]
    before = [sha(f) for f in files]
    out = run_subprocess(argv, timeout=timeout)
    size = sum(f.stat().st_size for f in files)
    idle = idle_rss(["schema", "check", str(PROTO)])
    bad = judge_cli(out, answers=True) + judge_memory(out, size, above=idle)
    if out.status == 0 and kind in MUST_REFUSE:
        bad.append(f"accepted: {out.stdout[:200]!r}")
    if [sha(f) for f in files] != before:
        bad.append("an input was modified")
    leftovers = [p for p in Path("/tmp").glob("gicmig-schema-*")
                 if p.stat().st_mtime > os.path.getmtime(tmp) and p.is_dir()]
    st = stats(f"{CLS} ({role})")
    st.record(kind, out.peak - idle, size)
    st.outcomes[(judge_code(out) or "ok")] += 1
    found = [f"{kind}: {m}" for m in bad]
    (st.known if kind in H1_FOLDER else st.failures).extend(found)
    del leftovers
    return found


def judge_code(out: Any) -> str | None:
    m = re.search(r": ([A-Z][A-Z0-9-]+) ", out.stderr)
    return m.group(1) if m else None


@pytest.mark.parametrize("role", ["proto_dir", "against"])
@pytest.mark.parametrize("kind", FOLDER_CASES)
def test_schema_folder(tmp_path: Path, kind: str, role: str) -> None:
    found = _run_folder(tmp_path, kind, role)
    assert not found, found


@pytest.mark.parametrize("role", ["proto_dir", "against"])
@pytest.mark.parametrize("kind", sorted(H1_FOLDER))
def test_schema_folder_h1(tmp_path: Path, kind: str, role: str) -> None:
    found = _run_folder(tmp_path, kind, role, timeout=8)  # a hang once: do not wait long
    assert not found, f"{H1_FOLDER[kind]}, again: {found}"


def test_against_a_device_and_a_huge_descriptor_set(tmp_path: Path) -> None:
    huge = tmp_path / "huge.binpb"
    _sparse(huge, (64 << 20) + 1)
    found: list[str] = []
    for name, against in (("/dev/zero", "/dev/zero"), ("huge.binpb", str(huge)),
                          ("/dev/null", "/dev/null"), ("a folder named .binpb", str(tmp_path))):
        found += check_case("schema descriptor set / lock", Case(
            f"--against {name}", ["schema", "check", str(PROTO), "--against", against], [],
            size=(64 << 20) + 1 if "null" not in name else 0))
    conclude(found)


def test_descriptor_set_and_lock_mutations(seeds: Any, tmp_path: Path) -> None:
    """A FileDescriptorSet (a lock's .binpb) mutated as protobuf, given as --against FILE
    and inside a --locks folder (whose JSON is mutated too)."""
    sets = [p.read_bytes() for p in sorted(DATA.glob("*.binpb"))]
    found: list[str] = []
    for seed in seeds(120):
        rng = random.Random(seed)
        if rng.random() < 0.6:
            target = tmp_path / "set.binpb"
            target.write_bytes(mutate_protobuf(rng, rng.choice(sets)))
            argv = ["schema", "check", str(PROTO), "--against", str(target)]
            inputs = [target]
        else:
            locks = tmp_path / f"locks-{seed}"
            shutil.copytree(DATA, locks)
            victim = rng.choice(sorted(locks.iterdir()))
            data = victim.read_bytes()
            victim.write_bytes(mutate_json(rng, data) if victim.suffix == ".json"
                               else mutate_protobuf(rng, data))
            argv = rng.choice([["schema", "check", str(PROTO), "--locks", str(locks)],
                               ["schema", "check", str(PROTO), "--locks", str(locks),
                                "--against", "2"]])
            inputs = sorted(locks.iterdir())
        found += check_case("schema descriptor set / lock", Case(
            f"seed {seed}: {' '.join(a.replace(str(tmp_path), '') for a in argv)}", argv,
            inputs))
    conclude(found)


_NUMBER = re.compile(rb"= ([0-9]+)")


def test_proto_text_mutations(seeds: Any, tmp_path: Path) -> None:
    """The real .proto with field numbers, names and keywords set to edge values: protoc's
    refusals are SCHEMA-COMPILE lines, the rules' findings are findings, never a crash."""
    src = (PROTO / "gicmig/v1/gicmig.proto").read_bytes()
    numbers = [m.start(1) for m in _NUMBER.finditer(src)]
    found: list[str] = []
    for seed in seeds(30):
        rng = random.Random(seed)
        folder = tmp_path / f"p{seed}"
        shutil.copytree(PROTO, folder)
        text = src
        for _ in range(rng.choice([1, 2, 3])):
            at = rng.choice(numbers)
            end = at + len(_NUMBER.match(text, at - 2).group(1)) if _NUMBER.match(text, at - 2) \
                else at
            text = text[:at] + rng.choice([b"0", b"-1", b"536870911", b"536870912", b"19000",
                                           b"99999999999999999999", b"1", b"0x10"]) + text[end:]
        if rng.random() < 0.3:
            cut = rng.randrange(len(text))
            text = text[:cut] + rng.choice([b"", b"{", b"}", b"\x00", b"message", b'"']) \
                + text[cut:]
        (folder / "gicmig/v1/gicmig.proto").write_bytes(text)
        argv = rng.choice([["schema", "check", str(folder)],
                           ["schema", "check", str(PROTO), "--against", str(folder)]])
        found += check_case("schema .proto text", Case(
            f"seed {seed}: {' '.join(a.replace(str(tmp_path), '') for a in argv)}", argv,
            [folder / "gicmig/v1/gicmig.proto"]))
        shutil.rmtree(folder)
    conclude(found)


@pytest.mark.parametrize("victim, kind", [
    ("schema-revision-1.json", "fifo"), ("schema-revision-1.json", "dev-zero"),
    ("schema-revision-1.json", "symlink-out"), ("schema-revision-1.json", "deep"),
    ("schema-revision-1.binpb", "fifo"), ("schema-revision-1.binpb", "dev-zero"),
    ("schema-revision-1.binpb", "huge"),
])
def test_a_locks_folder_holding_a_fifo_a_device_or_a_deep_manifest(tmp_path: Path, victim: str,
                                                                   kind: str) -> None:
    """A --locks folder is an input: its files are read bounded, only as regular files
    inside it (before: read_text/read_bytes through symlinks and FIFOs, json.loads)."""
    locks = tmp_path / "locks"
    shutil.copytree(DATA, locks)
    target = locks / victim
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        os.symlink("/dev/zero", target)
    elif kind == "symlink-out":
        os.symlink(DATA / victim, target)
    elif kind == "huge":
        _sparse(target, (64 << 20) + 1)
    else:
        target.write_text('{"revision": ' + "[" * 100_000 + "]" * 100_000 + "}")
    out = run_subprocess(["schema", "check", str(PROTO), "--locks", str(locks)], timeout=20)
    idle = idle_rss(["schema", "check", str(PROTO)])
    bad = judge_cli(out) + judge_memory(out, 0, above=idle)
    if out.status == 0:
        bad.append("accepted")
    st = stats("schema locks folder")
    st.record(f"{victim} {kind}", out.peak - idle, 0)
    st.outcomes[judge_code(out) or "ok"] += 1
    st.failures.extend(bad)
    assert not bad, (bad, out.stderr)
