"""Structure-aware JSON mutations of every JSON reader: fixtures, KVM dumps, KVM write lists,
GICH views (with an embedded, base64 or path distributor) and waiver files, through the
library and through every command that reads them (docs/security.md)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_engine import ROOT, Case, check_case, conclude, run_cli
from mutators import mutate_json

FIXTURES = sorted(p for v in ("v1", "v2", "v3") for p in (ROOT / "fixtures" / v).glob("*.json"))
KVM_DUMPS = sorted((ROOT / "fixtures/kvm").glob("*.json"))
GOOD = ROOT / "fixtures/v1/busy.json"
PROTO = ROOT / "proto"


def _export(tmp: Path, view: str, src: Path, *extra: str) -> Path:
    out = tmp / f"{src.stem}-{view}{'-'.join(extra)}.json"
    res = run_cli(["export", view, str(src), "-o", str(out), *extra])
    assert res.status == 0, res.stderr
    return out


def _fixture_cmds(f: Path, out: Path) -> list[list[str]]:
    return [["validate", str(f)], ["encode", str(f), "-o", str(out)], ["show", str(f)],
            ["compat", str(f), "--revision", "1"], ["diff", str(f), str(GOOD)],
            ["fixture", "update", "--check", str(f)],
            ["export", "kvm", str(f), "-o", str(out)], ["export", "gich", str(f), "-o", str(out)],
            ["export", "qemu", str(f), "--template",
             str(ROOT / "examples/qemu-7.2-virt-template.mig"), "-o", str(out)]]


def _campaign(cls: str, seeds: Any, n: int, tmp: Path, sources: list[Path],
              commands: Callable[[Path, Path], list[list[str]]],
              library: Callable[[bytes, Path], Callable[[], Any]],
              name: str = "in.json") -> None:
    work = tmp / "case"
    work.mkdir(exist_ok=True)
    texts = [p.read_bytes() for p in sources]
    found: list[str] = []
    for seed in seeds(n):
        rng = random.Random(seed)
        data = mutate_json(rng, rng.choice(texts))
        path, out = work / name, work / "out"
        path.write_bytes(data)
        argv = rng.choice(commands(path, out))
        stdin = None
        if rng.random() < 0.15 and str(path) in argv and argv[0] != "diff":
            argv = [("-" if a == str(path) else a) for a in argv]
            stdin = data
        case = Case(f"seed {seed}: {' '.join(a.replace(str(tmp), '') for a in argv)}",
                    argv, [path, *sources], library(data, work), stdin, [out],
                    report_on_stdout=argv[0] == "validate", size=len(data))
        found += check_case(cls, case)
    conclude(found)


def _load(data: bytes, base: Path) -> Callable[[], Any]:
    from gicmig.formats.io import load
    return lambda: load(data)


def test_fixture_json(seeds: Any, tmp_path: Path) -> None:
    _campaign("fixture JSON", seeds, 400, tmp_path, FIXTURES, _fixture_cmds, _load)


def test_kvm_dump(seeds: Any, tmp_path: Path) -> None:
    def lib(data: bytes, base: Path) -> Callable[[], Any]:
        from gicmig.views.kvm.dump import parse_dump
        from gicmig.views.kvm.reader import import_kvm
        return lambda: import_kvm(parse_dump(data))

    def cmds(f: Path, out: Path) -> list[list[str]]:
        return [["import", "kvm", str(f), "-o", str(out)],
                ["import", "kvm", "--num-cpus", "2", str(f), "-o", str(out)],
                ["show", str(f)], ["diff", f"kvm:{f}", str(KVM_DUMPS[0])],
                ["fixture", "update", "--check", "--from", str(f), str(GOOD)]]

    _campaign("KVM dump", seeds, 300, tmp_path, KVM_DUMPS, cmds, lib)


def test_kvm_writes(seeds: Any, tmp_path: Path) -> None:
    """No command reads a write list (gicmig.kvm-writes/1 is what `export kvm` writes, for
    a VMM to apply): the library's parser does, and the commands that read "a state in
    any format" must refuse one cleanly."""
    sources = [_export(tmp_path, "kvm", ROOT / f"fixtures/{f}", "--lenient")
               for f in ("v1/busy.json", "v1/reset-virt-2cpu.json", "v3/kvm-stale-latch.json")]

    def lib(data: bytes, base: Path) -> Callable[[], Any]:
        from gicmig.views.kvm.dump import parse_writes_document
        return lambda: parse_writes_document(data)

    def cmds(f: Path, out: Path) -> list[list[str]]:
        return [["import", "kvm", str(f), "-o", str(out)], ["show", str(f)],
                ["diff", str(f), str(GOOD)]]

    _campaign("KVM writes", seeds, 150, tmp_path, sources, cmds, lib)


def _gich_sources(tmp: Path) -> list[Path]:
    views = [_export(tmp, "gich", ROOT / f"fixtures/v1/{f}.json") for f in ("busy",
                                                                          "hyp-context")]
    views.append(_export(tmp, "gich", GOOD, "--distributor", "blob"))
    # a view naming its distributor image beside it (docs/gich.md)
    dist = tmp / "case" / "dist.gicmig"
    dist.parent.mkdir(exist_ok=True)
    assert run_cli(["encode", str(GOOD), "-o", str(dist)]).status == 0
    text = views[0].read_text()
    start = text.index('"distributor": {')
    path_view = tmp / "path-view.json"
    path_view.write_text(text[:start] + '"distributor": {"path": "dist.gicmig"}\n}\n')
    views.append(path_view)
    return views


def test_gich_view(seeds: Any, tmp_path: Path) -> None:
    sources = _gich_sources(tmp_path)
    dist = tmp_path / "case" / "dist.gicmig"

    def lib(data: bytes, base: Path) -> Callable[[], Any]:
        from gicmig.views.gich.merge import import_gich
        from gicmig.views.gich.viewfile import parse_view
        return lambda: import_gich(parse_view(data, base_dir=str(base)))

    def cmds(f: Path, out: Path) -> list[list[str]]:
        return [["import", "gich", str(f), "-o", str(out)],
                ["import", "gich", "--lenient", str(f), "-o", str(out)],
                ["show", str(f)], ["diff", f"gich:{f}", str(GOOD)],
                ["diff", str(GOOD), f"gich,lenient=1:{f}"]]

    def hashed(f: Path, out: Path) -> list[list[str]]:
        return cmds(f, out)

    _campaign("GICH view", seeds, 300, tmp_path, [*sources, dist][:-1], hashed, lib)
    assert dist.read_bytes() == (tmp_path / "case" / "dist.gicmig").read_bytes()


HOSTILE_PATHS = ["../outside.gicmig", "/etc/passwd", "fifo", "link-out", "/dev/zero",
                 "dev-zero", "dist.gicmig/..", ".", "", "a" * 5000, "x\u0000y", "dir",
                 "../case/dist.gicmig", "dist.gicmig\n: OK"]


@pytest.mark.parametrize("target", HOSTILE_PATHS)
def test_gich_view_distributor_paths(tmp_path: Path, target: str) -> None:
    """`distributor.path` aimed outside the view's folder, at a FIFO, a device, a
    directory, a symlink out: refused (IO-READ / GICH-VIEW-SCHEMA), never read, no hang."""
    import json
    import os

    from hostile_engine import stats

    case_dir = tmp_path / "case"
    case_dir.mkdir()
    outside = tmp_path / "outside.gicmig"
    assert run_cli(["encode", str(GOOD), "-o", str(outside)]).status == 0
    assert run_cli(["encode", str(GOOD), "-o", str(case_dir / "dist.gicmig")]).status == 0
    os.mkfifo(case_dir / "fifo")
    os.symlink(outside, case_dir / "link-out")
    os.symlink("/dev/zero", case_dir / "dev-zero")
    (case_dir / "dir").mkdir()
    view = _export(tmp_path, "gich", GOOD)
    doc = json.loads(view.read_text())
    doc["distributor"] = {"path": target}
    hostile = case_dir / "view.json"
    hostile.write_text(json.dumps(doc))
    out = tmp_path / "out.gicmig"

    def lib() -> Any:
        from gicmig.views.gich.merge import import_gich
        from gicmig.views.gich.viewfile import parse_view
        return import_gich(parse_view(hostile.read_bytes(), base_dir=str(case_dir)))

    found = check_case("GICH view: distributor.path",
                       Case(f"path {target[:40]!r}", ["import", "gich", str(hostile), "-o",
                                                      str(out)],
                            [hostile, outside, case_dir / "dist.gicmig"], lib, outputs=[out]))
    res = run_cli(["import", "gich", str(hostile), "-o", str(out)])
    inside = target in ("../case/dist.gicmig",)
    if not inside:
        assert res.status != 0, f"{target!r} was read"
    assert stats("GICH view: distributor.path").cases
    conclude(found)


def test_waiver_file(seeds: Any, tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="schema check needs gicmig[schema]")
    src = tmp_path / "waivers.json"
    src.write_text('{"waivers": [{"rule": "FIELD_SAME_NAME", "element": '
                   '"gicmig.v1.GicState.enable_grp0", "reason": "renamed before release", '
                   '"expires": "2099-01-31"}, {"rule": "FIELD_SAME_TYPE", "element": '
                   '"gicmig.v1.Cpu.pmr", "reason": "x"}]}')

    def lib(data: bytes, base: Path) -> Callable[[], Any]:
        from gicmig.schemacheck.waivers import load
        return lambda: load(str(base / "in.json"))

    def cmds(f: Path, out: Path) -> list[list[str]]:
        return [["schema", "check", str(PROTO), "--waivers", str(f)],
                ["schema", "check", str(PROTO), "--against", "1", "--waivers", str(f)]]

    _campaign("waiver file", seeds, 60, tmp_path, [src], cmds, lib)
