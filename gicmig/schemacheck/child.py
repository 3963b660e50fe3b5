"""A function run in a forked child with a time limit, a memory limit and no files of its
own: how gicmig runs protoc, which reads whatever a .proto names and has no limits itself.

The child is a fork (cheap: grpc_tools is already loaded), dies with its parent
(PR_SET_PDEATHSIG), writes its output to pipes the parent reads bounded, and is killed at
the deadline. Nothing is written to disk, so a killed check leaves nothing behind.
"""

from __future__ import annotations

import ctypes
import os
import resource
import selectors
import signal
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from gicmig.limits import MAX_INPUT


@dataclass(frozen=True)
class Finished:
    status: int | None  # the exit status; None when killed at the deadline or for its size
    stdout: bytes
    stderr: bytes
    why: str = ""  # why the child was stopped, when it was


def run(main: Callable[[], int], *, seconds: float, memory: int) -> Finished:
    """`main()` in a child: its fds 1 and 2 are pipes read here (at most MAX_INPUT bytes
    of stdout, 64 KiB of stderr); killed after `seconds` or when it asks for more than
    `memory` bytes of address space beyond what the fork inherited."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child: measured by its parent's tests)
        status = 70
        try:
            _die_with(parent)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            base = _address_space()
            resource.setrlimit(resource.RLIMIT_AS, (base + memory, base + memory))
            status = main()
        finally:
            os._exit(status & 0xFF)
    os.close(out_w)
    os.close(err_w)
    try:
        return _collect(pid, out_r, err_r, time.monotonic() + seconds)
    finally:
        os.close(out_r)
        os.close(err_r)


def _collect(pid: int, out_r: int, err_r: int, deadline: float) -> Finished:
    limits = {out_r: MAX_INPUT, err_r: 64 << 10}
    got: dict[int, list[bytes]] = {out_r: [], err_r: []}
    size = dict.fromkeys(got, 0)
    why = ""
    with selectors.DefaultSelector() as sel:
        for fd in got:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                why = "took too long"
                break
            for key, _ in sel.select(left):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    sel.unregister(key.fd)
                    continue
                got[key.fd].append(data)
                size[key.fd] += len(data)
                if size[key.fd] > limits[key.fd]:
                    why = "wrote too much"
                    break
            if why:
                break
    if why:
        os.kill(pid, signal.SIGKILL)
    _, raw = os.waitpid(pid, 0)
    status = None if why or os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)
    if os.WIFSIGNALED(raw) and not why:
        why = f"was killed by signal {os.WTERMSIG(raw)} (out of memory?)"
    return Finished(status, b"".join(got[out_r]), b"".join(got[err_r]), why)


def _die_with(parent: int) -> None:
    """Be killed when the parent dies (Linux), and not outlive a parent already gone."""
    with suppress(OSError, AttributeError):  # not Linux: the deadline applies meanwhile
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(70)


def _address_space() -> int:
    """The bytes of address space this process maps now (the fork's inheritance)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 4 << 30
