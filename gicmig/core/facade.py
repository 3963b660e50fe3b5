"""Descriptors of a typed façade over a protobuf message.

Scalars, bitmaps (read as int) and byte vectors (read as bytes) convert on access; the
message stays the only storage.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from gicmig.arch import bitmaps
from gicmig.errors import GicmigError

T = TypeVar("T")


class Facade:
    __slots__ = ("_pb",)

    def __init__(self, msg: Any) -> None:
        self._pb = msg

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._pb!s})".replace("\n", " ")


U32 = 0xFFFF_FFFF


def check_u32(name: str, value: int, code: str = "USAGE") -> None:
    """A typed error (not protobuf's ValueError) for a number no uint32 field can hold."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U32:
        raise GicmigError(code, f"{name} = {value!r:.40} is not a number in 0..{U32}")


class Scalar(Generic[T]):
    """A plain protobuf scalar (int, bool or str); `code` names what a value the field
    cannot hold is refused with."""

    def __init__(self, code: str = "USAGE") -> None:
        self.code = code

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Facade, objtype: type | None = None) -> T:
        value: T = getattr(obj._pb, self.name)
        return value

    def __set__(self, obj: Facade, value: T) -> None:
        try:
            setattr(obj._pb, self.name, value)
        except (ValueError, TypeError) as exc:
            raise GicmigError(self.code, f"{self.name} = {value!r:.40}: {exc}") from None


class Bitmap:
    """A bitmap stored as trimmed bytes, exposed as an int."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Facade, objtype: type | None = None) -> int:
        return int.from_bytes(getattr(obj._pb, self.name), "little")

    def __set__(self, obj: Facade, value: int) -> None:
        if value < 0:
            raise ValueError(f"{self.name}: a bitmap cannot be negative")
        setattr(obj._pb, self.name, bitmaps.to_bytes(value))


class Vector:
    """A byte vector stored trimmed, exposed padded to the owner's `_length`."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Sized, objtype: type | None = None) -> bytes:
        data: bytes = getattr(obj._pb, self.name)
        return data.ljust(obj._length(self.name), b"\0")

    def __set__(self, obj: Sized, value: bytes) -> None:
        if len(value) > obj._length(self.name):
            raise ValueError(f"{self.name}: {len(value)} entries, at most {obj._length(self.name)}")
        setattr(obj._pb, self.name, bytes(value).rstrip(b"\0"))


class Sized(Facade):
    __slots__ = ("_lengths",)

    def __init__(self, msg: Any, lengths: dict[str, int]) -> None:
        super().__init__(msg)
        self._lengths = lengths

    def _length(self, name: str) -> int:
        return self._lengths[name]
