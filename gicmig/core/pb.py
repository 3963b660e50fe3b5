"""The generated protobuf module of schema v1; the only import of generated code.

The code is generated at build time (setup.py), into the installed package, or into the
source tree by `pip install -e .`. A source tree that was never built (a checkout after a
plain `pip install .`, where `python -m gicmig` imports the checkout) borrows the installed
package's generated module, if that was made from the same proto/ (setup.py records its
digest beside it); otherwise it says how to build.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

_NAME = "gicmig.v1.gicmig_pb2"
_BUILD = "run `pip install -e .` in the repository"


def proto_digest(proto_root: Path) -> str:
    """sha256 over the .proto files under `proto_root`, names and contents (setup.py
    writes the same digest next to the generated code)."""
    h = hashlib.sha256()
    for p in sorted(proto_root.rglob("*.proto")):
        h.update(p.relative_to(proto_root).as_posix().encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


def _borrow_installed() -> ModuleType:
    """The generated module of the gicmig installed further down sys.path (the one this
    source tree shadows), for a tree that has none; refused unless it was generated from
    this tree's proto/."""
    here = Path(__file__).resolve().parents[1]  # this gicmig package
    found = (Path(entry or ".").resolve() / "gicmig" / "v1" / "gicmig_pb2.py"
             for entry in sys.path)
    code = next((c for c in found if c.is_file() and c.parents[1] != here), None)
    if code is None:
        raise ImportError(f"gicmig's protobuf code is generated at install time: {_BUILD}")
    stamp = code.with_name("proto.sha256")
    proto = here.parent / "proto"
    if proto.is_dir() and (not stamp.is_file()
                           or stamp.read_text().strip() != proto_digest(proto)):
        raise ImportError(f"the installed gicmig ({code.parents[2]}) was built from another "
                          f"proto/ than {proto}: {_BUILD}")
    spec = importlib.util.spec_from_file_location(_NAME, code)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_NAME]
        raise
    return module


try:
    import gicmig.v1.gicmig_pb2 as pb
except ModuleNotFoundError as exc:
    if exc.name != _NAME:
        raise
    pb = _borrow_installed()


def is_repeated(field: Any) -> bool:
    """Whether a FieldDescriptor is repeated, on every supported protobuf runtime: 6.x
    and later have `is_repeated` (7.x dropped `label`); 5.x has only `label`."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return bool(field.label == field.LABEL_REPEATED)


__all__ = ["is_repeated", "pb"]
