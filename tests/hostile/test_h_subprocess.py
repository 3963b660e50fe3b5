"""A sample of hostile cases through real `gicmig` processes: stdin from a real pipe and a
FIFO, the worst memory shapes measured as the process's peak resident set (VmHWM) above
the same command's on a valid input, and the one-line / exit-status contract as a user
sees it."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import pytest
from hostile_engine import (
    MIB,
    ROOT,
    idle_rss,
    judge_cli,
    judge_memory,
    run_subprocess,
    sha,
    stats,
)
from mutators import map_stream, mutate_blob, mutate_json, mutate_stream

from gicmig.limits import MAX_JSON

GOOD = ROOT / "fixtures/v1/busy.json"
STREAM = ROOT / "examples/qemu-7.2-virt.mig"
CLS = "subprocess sample"


def _check(name: str, argv: list[str], size: int, *, stdin: bytes | Path | None = None,
           inputs: tuple[Path, ...] = (), idle: list[str] | None = None,
           report_on_stdout: bool = False) -> list[str]:
    before = [sha(p) for p in inputs]
    out = run_subprocess(argv, stdin=stdin)
    base = idle_rss(idle) if idle else idle_rss()
    bad = judge_cli(out, report_on_stdout=report_on_stdout)
    bad += judge_memory(out, size, above=base)
    if [sha(p) for p in inputs] != before:
        bad.append("an input was modified")
    st = stats(CLS)
    st.record(name, out.peak - base, size)
    found = [f"{name}: {m}" for m in bad]
    st.failures.extend(found)
    return found


def test_mutated_inputs_through_real_processes(tmp_path: Path) -> None:
    rng = random.Random(13)
    found: list[str] = []
    idle_json = ["validate", str(GOOD)]
    for i in range(4):
        data = mutate_json(rng, (ROOT / "fixtures/kvm/two-vcpu.json").read_bytes())
        f = tmp_path / f"dump{i}.json"
        f.write_bytes(data)
        found += _check(f"KVM dump {i}", ["import", "kvm", str(f), "-o", str(tmp_path / "o")],
                        len(data), inputs=(f,), idle=idle_json)
    for i in range(4):
        data = mutate_blob(rng, (ROOT / "fixtures/v1/max.gicmig").read_bytes())
        found += _check(f"blob {i} on a pipe", ["decode", "-", "-o", str(tmp_path / "o")],
                        len(data), stdin=data, idle=idle_json)
    smap = map_stream(STREAM.read_bytes())
    for i in range(4):
        data = mutate_stream(rng, STREAM.read_bytes(), smap)
        found += _check(f"QEMU stream {i} on a pipe",
                        ["import", "qemu", "-", "-o", str(tmp_path / "o")], len(data),
                        stdin=data, idle=["import", "qemu", str(STREAM), "-o",
                                          str(tmp_path / "ok")])
    assert not found, found


def test_a_qemu_stream_from_a_fifo(tmp_path: Path) -> None:
    """A FIFO named on the command line is read (process substitution), streaming, with
    the same bounds as a file: a mutated stream and a valid one."""
    smap = map_stream(STREAM.read_bytes())
    found: list[str] = []
    for name, data in (("valid", STREAM.read_bytes()),
                       ("mutated", mutate_stream(random.Random(7), STREAM.read_bytes(), smap))):
        fifo = tmp_path / f"{name}.fifo"
        os.mkfifo(fifo)

        def feed(fifo: Path = fifo, data: bytes = data) -> None:
            try:
                with open(fifo, "wb") as w:
                    w.write(data)
            except BrokenPipeError:
                pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        found += _check(f"QEMU stream from a FIFO ({name})",
                        ["import", "qemu", "--accel", "tcg", str(fifo), "-o",
                         str(tmp_path / f"{name}.gicmig")], len(data),
                        idle=["import", "qemu", str(STREAM), "-o", str(tmp_path / "ok")])
        writer.join(timeout=30)
        if name == "valid":
            assert (tmp_path / "valid.gicmig").is_file()
    assert not found, found


def test_a_long_stream_on_a_pipe_takes_constant_memory(tmp_path: Path) -> None:
    """48 MiB of a section gicmig does not know, on a pipe: searched in bounded chunks,
    refused (no arm_gic), the process's peak stays far below the input's size."""
    head = STREAM.read_bytes()[:8]
    data = head + b"\x04" + os.urandom(1 << 16) * 768
    found = _check("QEMU: 48 MiB on a pipe", ["import", "qemu", "-", "-o",
                                              str(tmp_path / "o")], 0, stdin=data,
                   idle=["import", "qemu", str(STREAM), "-o", str(tmp_path / "ok")])
    assert not found, found
    assert stats(CLS).worst_peak < 64 * MIB


def test_the_worst_json_shape_at_the_size_limit(tmp_path: Path) -> None:
    """A list of empty objects just under MAX_JSON (the costliest shape per byte,
    docs/security.md), as a fixture and a KVM dump: refused within 64 MiB + 4x."""
    body = b"{}," * ((MAX_JSON - 64) // 3)
    found: list[str] = []
    for name, head in (("fixture", b'{"format": "gicmig-fixture/1", "spis": ['),
                       ("KVM dump", b'{"format": "gicmig.kvm-dump/1", "registers": [')):
        f = tmp_path / f"{name}.json"
        f.write_bytes(head + body.rstrip(b",") + b"]}")
        argv = (["validate", "-q", str(f)] if name == "fixture"
                else ["import", "kvm", str(f), "-o", str(tmp_path / "o")])
        found += _check(f"worst JSON shape ({name})", argv, f.stat().st_size, inputs=(f,),
                        idle=["validate", str(GOOD)], report_on_stdout=name == "fixture")
    assert not found, found


@pytest.mark.parametrize("cmd", [["validate", "-q", "-"], ["import", "kvm", "-", "-o", "{o}"],
                                 ["import", "gich", "-", "-o", "{o}"]])
def test_deep_nesting_on_a_pipe(tmp_path: Path, cmd: list[str]) -> None:
    data = b"[" * 200_000 + b"]" * 200_000
    argv = [a.format(o=tmp_path / "o") for a in cmd]
    found = _check(f"deep nesting: {' '.join(cmd[:2])}", argv, len(data), stdin=data,
                   report_on_stdout=cmd[0] == "validate")
    assert not found, found
