"""A migration stream as gicmig reads it: from a file or a pipe, forward, in bounded
chunks, with the few look-backs the framing needs, and a typed error at a byte offset."""

from __future__ import annotations

import functools
import io
import re
import struct
from typing import IO

from gicmig.errors import DecodeError, GicmigError

CHUNK = 1 << 20  # read size; the only buffer that scales is at most one chunk + a page
_MAX_WINDOW = 2048  # records examined per strided slice


@functools.cache
def _without(mask: int) -> bytes:
    """The byte values that have no bit of `mask` (for `bytes.translate` deletion)."""
    return bytes(b for b in range(256) if not b & mask)


class Unwalkable(Exception):
    """The framing walk cannot continue past this point (switch to the header search)."""


def stream_error(code: str, message: str, offset: int | None) -> DecodeError:
    return DecodeError(code, message, offset=offset)


class StreamInput:
    """A bounded, forward-only window over a binary file object."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.buf = b""
        self.pos = 0
        self.base = 0  # stream offset of buf[0]
        self.where = "the stream header"  # what is being read, for truncation messages
        self.size: int | None = None  # total size, when the input is seekable
        self.start = 0
        try:
            if f.seekable():
                self.start = f.tell()
                self.size = f.seek(0, io.SEEK_END) - self.start
                f.seek(self.start)
        except (OSError, ValueError):
            self.size = None

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _read(self, n: int) -> bytes:
        if self.size is not None:  # never ask for more than is left: read() allocates n
            n = max(1, min(n, self.size - self.base - len(self.buf)))
        try:
            data = self.f.read(n)
        except OSError as exc:
            raise GicmigError("IO-READ", f"cannot read the stream: {exc}") from None
        return data or b""

    def _fill(self, n: int) -> bool:
        """Make n bytes available at pos; False at the end of the stream."""
        if len(self.buf) - self.pos >= n:
            return True
        rest = self.buf[self.pos:]
        self.base += self.pos
        self.pos = 0
        parts = [rest] if rest else []
        have = len(rest)
        while have < n:
            data = self._read(CHUNK)
            if not data:
                break
            parts.append(data)
            have += len(data)
        self.buf = parts[0] if len(parts) == 1 else b"".join(parts)
        return have >= n

    def truncated(self, n: int, at: int | None = None) -> DecodeError:
        """The stream ended where `n` bytes from byte `at` (default: the current offset)
        were needed."""
        end = self.base + len(self.buf)
        return stream_error("QEMU-TRUNCATED",
                            f"the stream ends at byte {end} inside {self.where} "
                            f"({n} bytes needed from byte {self.offset if at is None else at})",
                            end)

    def take(self, n: int) -> bytes:
        if not self._fill(n):
            raise self.truncated(n)
        data = self.buf[self.pos:self.pos + n]
        self.pos += n
        return data

    def u8(self) -> int:
        return self.take(1)[0]

    def be32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def be64(self) -> int:
        value: int = struct.unpack(">Q", self.take(8))[0]
        return value

    def string(self) -> str:
        return self.take(self.u8()).decode("latin-1")

    def peek(self) -> int | None:
        return self.buf[self.pos] if self._fill(1) else None

    def skip(self, n: int) -> None:
        if len(self.buf) - self.pos >= n:
            self.pos += n
            return
        want, at = n, self.offset  # a truncation names the whole skip, file or pipe alike
        n -= len(self.buf) - self.pos
        self.base += len(self.buf)
        self.buf, self.pos = b"", 0
        if self.size is not None:
            if self.base + n > self.size:
                self.base = self.size
                raise self.truncated(want, at)
            self.f.seek(self.start + self.base + n)
            self.base += n
            return
        while n:
            data = self._read(min(n, CHUNK))
            if not data:
                raise self.truncated(want, at)
            n -= len(data)
            self.base += len(data)

    def run(self, flag: int, size: int, mask6: int) -> int:
        """How many records of `size` bytes whose flag byte (byte 7) is `flag` and whose
        byte 6 has no bit of `mask6` follow in the buffer: skips them and returns the count.
        Strided slicing keeps the walk of millions of zero-page records in C."""
        total = 0
        window = 16
        want = bytes([flag])
        while True:
            avail = (len(self.buf) - self.pos) // size
            if not avail:
                return total
            n = min(window, avail)
            p = self.pos + 7
            flags = self.buf[p:p + n * size:size]
            same = n - len(flags.lstrip(want))
            if same and mask6:
                low = self.buf[p - 1:p - 1 + same * size:size]
                if low.translate(None, _without(mask6)):
                    same = next(k for k, b in enumerate(low) if b & mask6)
            self.pos += same * size
            total += same
            if same < n:
                return total
            window = min(window * 4, _MAX_WINDOW)  # bounded: a run's end costs one window

    def search(self, pattern: re.Pattern[bytes], keep: int) -> re.Match[bytes] | None:
        """Advance to the next match of `pattern` (at most `keep` bytes long)."""
        while True:
            m = pattern.search(self.buf, self.pos)
            if m:
                self.pos = m.start()
                return m
            drop = max(self.pos, len(self.buf) - keep)
            self.base += drop
            self.buf, self.pos = self.buf[drop:], 0
            data = self._read(CHUNK)
            if not data:
                self.pos = len(self.buf)
                return None
            self.buf += data

    def tail(self, limit: int) -> tuple[int, bytes] | None:
        """The last `limit` bytes (offset, data) of a seekable input, leaving the window as
        it was; None when the input cannot seek."""
        if self.size is None:
            return None
        start = max(0, self.size - limit)
        here = self.f.tell()
        try:
            self.f.seek(self.start + start)
            data = self.f.read(self.size - start) or b""
        finally:
            self.f.seek(here)
        return start, data
