"""Structure-aware mutations of the binary readers: .gicmig blobs (envelope header fields,
payload protobuf fields) and QEMU 7.2 migration streams (the fields the framing and vmstate
decoder read, the vmdesc JSON) from a file, from a pipe, and as an `export qemu` template."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
from hostile_engine import ROOT, Case, check_case, conclude
from mutators import map_stream, mutate_blob, mutate_stream

BLOBS = sorted(p for v in ("v1", "v2", "v3") for p in (ROOT / "fixtures" / v).glob("*.gicmig"))
GOOD = ROOT / "fixtures/v1/busy.json"
TEMPLATE = ROOT / "examples/qemu-7.2-virt-template.mig"
SHARED = ROOT.parent / "shared" / "qemu" / "streams"


def _blob_cmds(f: Path, out: Path) -> list[list[str]]:
    return [["decode", str(f), "-o", str(out)], ["validate", str(f)], ["info", str(f)],
            ["encode", str(f), "-o", str(out)], ["compat", str(f), "--revision", "1"],
            ["show", str(f)], ["diff", str(GOOD), str(f)],
            ["decode", "--allow-unknown", str(f), "-o", str(out)],
            ["export", "kvm", "--lenient", str(f), "-o", str(out)],
            ["export", "gich", str(f), "-o", str(out)],
            ["fixture", "update", "--check", "--from", str(f), str(GOOD)]]


def test_blob(seeds: Any, tmp_path: Path) -> None:
    from gicmig.formats.codec import decode, info

    blobs = [p.read_bytes() for p in BLOBS]
    found: list[str] = []
    for seed in seeds(400):
        rng = random.Random(seed)
        data = mutate_blob(rng, rng.choice(blobs))
        path, out = tmp_path / "in.gicmig", tmp_path / "out"
        path.write_bytes(data)
        argv = rng.choice(_blob_cmds(path, out))
        stdin = None
        if rng.random() < 0.15 and argv[0] in ("decode", "encode", "info"):
            argv = [("-" if a == str(path) else a) for a in argv]
            stdin = data

        def lib(data: bytes = data) -> None:
            info(data)
            decode(data, allow_unknown=True)

        found += check_case("blob", Case(
            f"seed {seed}: {' '.join(a.replace(str(tmp_path), '') for a in argv)}", argv,
            [path, *BLOBS], lib, stdin, [out], report_on_stdout=argv[0] == "validate",
            size=len(data)))
    conclude(found)


def _streams() -> list[Path]:
    out = [ROOT / "examples/qemu-7.2-virt.mig", TEMPLATE]
    if SHARED.is_dir():
        out += [SHARED / "reset.mig", SHARED / "dist.mig"]
    return out


_MAPS: dict[Path, Any] = {}


def _mapped(p: Path) -> tuple[bytes, Any]:
    data = p.read_bytes()
    if p not in _MAPS:
        _MAPS[p] = map_stream(data)
    return data, _MAPS[p]


def test_qemu_stream_maps_cover_the_framing() -> None:
    """The map the mutator aims at holds the fields the reader reads: the header, the
    configuration record, section headers, the arm_gic section, the vmdesc."""
    data, smap = _mapped(ROOT / "examples/qemu-7.2-virt.mig")
    offsets = {at for at, _ in smap.reads}
    assert {0, 4, 8}.issubset(offsets)  # magic, version, the first section type
    assert len(smap.reads) > 100
    assert smap.vmdesc is not None and data[smap.vmdesc[0]] == 0x06
    gic = data.index(b"arm_gic")
    assert gic - 1 in offsets  # the idstr's length byte


@pytest.mark.parametrize("via", ["file", "pipe", "template"])
def test_qemu_stream(seeds: Any, tmp_path: Path, via: str) -> None:
    from gicmig.views.qemu.convert import convert
    from gicmig.views.qemu.stream import read_arm_gic

    sources = _streams()
    found: list[str] = []
    for seed in seeds({"file": 250, "pipe": 120, "template": 100}[via]):
        rng = random.Random(seed)
        src = rng.choice(sources)
        data = mutate_stream(rng, *_mapped(src))
        path, out = tmp_path / "in.mig", tmp_path / "out"
        path.write_bytes(data)
        stdin = None
        if via == "file":
            argv = rng.choice([["import", "qemu", str(path), "-o", str(out)],
                               ["import", "qemu", "--accel", "tcg", str(path), "-o", str(out)],
                               ["import", "qemu", "--lenient", str(path), "-o", str(out)],
                               ["show", f"qemu:tcg:{path}"], ["diff", str(path), str(GOOD)]])
        elif via == "pipe":
            argv = rng.choice([["import", "qemu", "-", "-o", str(out)],
                               ["import", "qemu", "--accel", "tcg", "-", "-o", str(out)],
                               ["diff", "-", str(GOOD)]])
            stdin = data
        else:
            argv = ["export", "qemu", str(GOOD), "--template", str(path), "-o", str(out)]

        def lib(data: bytes = data, pipe: bool = via == "pipe") -> None:
            from hostile_engine import _Pipe
            f: Any = io.BufferedReader(_Pipe(data)) if pipe else io.BytesIO(data)
            convert(read_arm_gic(f), accel="tcg", lenient=True)

        found += check_case(f"QEMU stream ({via})", Case(
            f"seed {seed} ({src.name}): {' '.join(a.replace(str(tmp_path), '') for a in argv)}",
            argv, [path, *sources], lib, stdin, [out], size=len(data)))
    conclude(found)
