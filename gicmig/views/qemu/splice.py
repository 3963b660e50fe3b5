"""The template copied with the `arm_gic` section's bytes replaced: streamed in bounded
chunks (by the kernel where it can), written atomically, the old bytes checked first."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from gicmig.core.model import GicState
from gicmig.errors import GicmigError, Violation
from gicmig.files import open_atomic
from gicmig.views.qemu.vmstate import (
    GIC_IDSTR,
    GIC_SIZE,
    VIRT_SUBSECTION,
    ArmGicSection,
)

_COPY_CHUNK = 8 << 20
_KERNEL_STEP = 64 << 20  # per copy_file_range call: a cancel is seen within one step


@dataclass(frozen=True)
class QemuPlan:
    """The new field bytes of a template's arm_gic section, and the state they hold."""

    state: GicState
    losses: tuple[Violation, ...]
    accel: str
    main: bytes
    virt: bytes | None


def _record_layout(section: ArmGicSection, virt: bool) -> tuple[int, int | None]:
    """Stream offsets of the section's field bytes and of the subsection's."""
    main_at = section.offset + 1 + 4 + 1 + len(GIC_IDSTR) + 4 + 4
    if not virt:
        return main_at, None
    return main_at, main_at + GIC_SIZE + 1 + 1 + len(VIRT_SUBSECTION) + 4


def _write(template: str | os.PathLike[str], out: str | os.PathLike[str],
           section: ArmGicSection, main: bytes, virt: bytes | None) -> int:
    """Copy the template to `out` with the field bytes replaced; returns the size."""
    main_at, virt_at = _record_layout(section, virt is not None)
    pieces = [(main_at, main, section.main)]
    if virt_at is not None and virt is not None and section.virt is not None:
        pieces.append((virt_at, virt, section.virt))
    with _opened(template) as src, open_atomic(out) as dst:
        size = os.fstat(src.fileno()).st_size
        pos = 0
        for at, data, old in pieces:
            _check_old(src, at, old, section)
            _copy(src, dst, pos, at - pos)
            _put(dst, data)
            pos = at + len(data)
        _copy(src, dst, pos, size - pos)
    return size


class _Copier(threading.Thread):
    """The whole template copied into the (temporary) output by the kernel, position by
    position, while the caller walks the template and plans the section: the copy waits on
    the disk, the walk on the CPU. Stops early when cancelled."""

    def __init__(self, src: int, dst: int, size: int) -> None:
        super().__init__(name="gicmig-copy", daemon=True)
        self.src, self.dst, self.size = src, dst, size
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            pos = self._kernel_copy()
            while pos < self.size and not self.stop.is_set():
                chunk = os.pread(self.src, min(_COPY_CHUNK, self.size - pos), pos)
                if not chunk:
                    raise GicmigError("IO-READ", f"the template ended at byte {pos} while "
                                                 "being copied")
                _pwrite_all(self.dst, chunk, pos)
                pos += len(chunk)
        except BaseException as exc:  # reported by finish() in the caller's thread
            self.error = exc

    def _kernel_copy(self) -> int:
        pos = 0
        copy_range = getattr(os, "copy_file_range", None)
        while copy_range is not None and pos < self.size and not self.stop.is_set():
            try:
                k = copy_range(self.src, self.dst, min(_KERNEL_STEP, self.size - pos), pos, pos)
            except OSError:
                break  # another file system, or no support: plain reads and writes
            if k <= 0:
                break
            pos += k
        return pos

    def finish(self) -> None:
        self.join()
        if isinstance(self.error, GicmigError):
            raise self.error
        if self.error is not None:
            raise GicmigError("IO-WRITE", f"cannot copy the template: {self.error}")

    def cancel(self) -> None:
        self.stop.set()
        self.join()


def _pwrite_all(fd: int, data: bytes, pos: int) -> None:
    view = memoryview(data)
    while view:
        k = os.pwrite(fd, view, pos)
        view, pos = view[k:], pos + k


def _write_alongside(template: str | os.PathLike[str], out: str | os.PathLike[str],
                     planned: Callable[[], tuple[ArmGicSection, QemuPlan]],
                     ) -> tuple[ArmGicSection, QemuPlan, int]:
    """Copy the template into `out` while `planned()` reads it, then put the new field
    bytes in place; nothing replaces `out` if planning refuses."""
    with _opened(template) as src, open_atomic(out) as dst:
        size = os.fstat(src.fileno()).st_size
        copier = _Copier(src.fileno(), dst.fileno(), size)
        copier.start()
        try:
            section, plan = planned()
        except BaseException:
            copier.cancel()
            raise
        copier.finish()
        main_at, virt_at = _record_layout(section, plan.virt is not None)
        pieces = [(main_at, plan.main, section.main)]
        if virt_at is not None and plan.virt is not None and section.virt is not None:
            pieces.append((virt_at, plan.virt, section.virt))
        for at, data, old in pieces:  # the copy holds what the walk read, or it changed
            if os.pread(dst.fileno(), len(old), at) != old:
                raise GicmigError("IO-READ", "the template changed while gicmig read it "
                                             f"(arm_gic at byte {section.offset})")
            _pwrite_all(dst.fileno(), data, at)
    return section, plan, size


@contextmanager
def _opened(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below; open errors become IO-READ)
    except OSError as exc:
        raise GicmigError("IO-READ", f"cannot read {path}: {exc.strerror or exc}") from None
    with f:
        yield f


def _check_old(src: IO[bytes], at: int, old: bytes, section: ArmGicSection) -> None:
    """The template still holds the section read before (it was not changed meanwhile)."""
    src.seek(at)
    if src.read(len(old)) != old:
        raise GicmigError("IO-READ", f"the template changed while gicmig read it (arm_gic at "
                                     f"byte {section.offset})")


def _put(dst: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        k = dst.write(view)
        view = view[k:]


def _copy(src: IO[bytes], dst: IO[bytes], offset: int, length: int) -> None:
    """Bytes offset..offset+length of src to dst's position (dst unbuffered), through
    the kernel where it can (copy_file_range, then sendfile), else in bounded chunks."""
    sfd, dfd = src.fileno(), dst.fileno()
    done = 0
    for how in ("copy_file_range", "sendfile"):
        fn = getattr(os, how, None)
        if fn is None:
            continue
        try:
            while done < length:
                step = min(length - done, 1 << 30)
                if how == "copy_file_range":
                    k = fn(sfd, dfd, step, offset + done)
                else:
                    k = fn(dfd, sfd, offset + done, step)
                if k <= 0:
                    break
                done += k
            if done == length:
                return
        except OSError:
            continue
    src.seek(offset + done)
    while done < length:
        chunk = src.read(min(_COPY_CHUNK, length - done))
        if not chunk:
            raise GicmigError("IO-READ", f"the template ended at byte {offset + done} while "
                                         "being copied")
        _put(dst, chunk)
        done += len(chunk)
