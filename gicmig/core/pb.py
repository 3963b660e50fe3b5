"""The generated protobuf module of schema v1; the only import of generated code."""

from __future__ import annotations

try:
    from gicmig.v1 import gicmig_pb2 as pb
except ImportError as exc:  # pragma: no cover - only on a source tree that was never built
    raise ImportError(
        "gicmig's protobuf code is generated at install time: run `pip install .` "
        "(or `pip install -e .`) in the repository"
    ) from exc

__all__ = ["pb"]
