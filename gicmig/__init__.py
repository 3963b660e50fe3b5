"""gicmig: serialize, validate, convert and diff the migration state of an ARM GICv2.

    >>> import gicmig
    >>> state = gicmig.GicState.reset(gicmig.GicConfig.qemu_virt(num_cpus=2))
    >>> gicmig.decode(gicmig.encode(state)) == state
    True

Names are imported on first use, so that `import gicmig` (and `gicmig --help`) stays
cheap: protobuf and pydantic load only when a function that needs them is called.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "GicState": "gicmig.model",
    "GicConfig": "gicmig.model",
    "Irq": "gicmig.model",
    "encode": "gicmig.codec",
    "decode": "gicmig.codec",
    "info": "gicmig.codec",
    "validate": "gicmig.rules",
    "check": "gicmig.rules",
    "to_json": "gicmig.fixture",
    "from_json": "gicmig.fixture",
    "load": "gicmig.io",
    "diff": "gicmig.statediff",
    "Change": "gicmig.statediff",
    "import_kvm": "gicmig.views.kvm",
    "import_qemu": "gicmig.views.qemu",
    "import_gich": "gicmig.views.gich",
    "export_gich": "gicmig.views.gich",
    "export_kvm": "gicmig.views.kvm",
    "export_qemu": "gicmig.views.qemu_write",
    "GicmigError": "gicmig.errors",
    "DecodeError": "gicmig.errors",
    "ValidationError": "gicmig.errors",
    "Violation": "gicmig.errors",
    "REASONS": "gicmig.errors",
}

__all__ = [
    "REASONS", "Change", "DecodeError", "GicConfig", "GicState", "GicmigError", "Irq",
    "ValidationError", "Violation", "__version__", "check", "decode", "diff", "encode",
    "export_gich", "export_kvm", "export_qemu", "from_json", "import_gich", "import_kvm",
    "import_qemu", "info", "load", "to_json", "validate",
]

if TYPE_CHECKING:
    from gicmig.codec import decode, encode, info
    from gicmig.errors import REASONS, DecodeError, GicmigError, ValidationError, Violation
    from gicmig.fixture import from_json, to_json
    from gicmig.io import load
    from gicmig.model import GicConfig, GicState, Irq
    from gicmig.rules import check, validate
    from gicmig.statediff import Change, diff
    from gicmig.views.gich import export_gich, import_gich
    from gicmig.views.kvm import export_kvm, import_kvm
    from gicmig.views.qemu import import_qemu
    from gicmig.views.qemu_write import export_qemu


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gicmig' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
