"""gicmig: serialize, validate, convert and diff the migration state of an ARM GICv2.

    >>> import gicmig
    >>> state = gicmig.GicState.reset(gicmig.GicConfig.qemu_virt(num_cpus=2))
    >>> gicmig.decode(gicmig.encode(state)) == state
    True

Names are imported on first use, so that `import gicmig` (and `gicmig --help`) stays
cheap: protobuf and pydantic load only when a function that needs them is called.
"""

# `import gicmig` imports nothing else (not even __future__, typing or importlib): issue 14
# asks for it below 20 ms, and benchmarks/bench_startup.py measures it
TYPE_CHECKING = False  # mypy takes any TYPE_CHECKING as true

__version__ = "0.1.0"

_EXPORTS = {
    "GicState": "gicmig.core.model",
    "GicConfig": "gicmig.core.config",
    "Irq": "gicmig.core.model",
    "ImportedState": "gicmig.core.imported",
    "ImportReport": "gicmig.core.imported",
    "encode": "gicmig.formats.codec",
    "decode": "gicmig.formats.codec",
    "info": "gicmig.formats.codec",
    "validate": "gicmig.core.rules",
    "check": "gicmig.core.rules",
    "to_json": "gicmig.formats.fixture",
    "from_json": "gicmig.formats.fixture",
    "load": "gicmig.formats.io",
    "diff": "gicmig.statediff.semantic",
    "Change": "gicmig.statediff.change",
    "import_kvm": "gicmig.views.kvm",
    "import_qemu": "gicmig.views.qemu",
    "export_qemu": "gicmig.views.qemu",
    "import_gich": "gicmig.views.gich",
    "export_gich": "gicmig.views.gich",
    "export_kvm": "gicmig.views.kvm",
    "GicmigError": "gicmig.errors",
    "DecodeError": "gicmig.errors",
    "ValidationError": "gicmig.errors",
    "InputError": "gicmig.errors",
    "FileError": "gicmig.errors",
    "Violation": "gicmig.errors",
    "REASONS": "gicmig.errors",
}

__all__ = [
    "REASONS", "Change", "DecodeError", "FileError", "GicConfig", "GicState", "GicmigError",
    "ImportReport", "ImportedState", "InputError", "Irq",
    "ValidationError", "Violation", "__version__", "check", "decode", "diff", "encode",
    "export_gich", "export_kvm", "export_qemu", "from_json", "import_gich", "import_kvm",
    "import_qemu", "info", "load", "to_json", "validate",
]

if TYPE_CHECKING:
    from typing import Any

    from gicmig.core.config import GicConfig
    from gicmig.core.imported import ImportedState, ImportReport
    from gicmig.core.model import GicState, Irq
    from gicmig.core.rules import check, validate
    from gicmig.errors import (
        REASONS,
        DecodeError,
        FileError,
        GicmigError,
        InputError,
        ValidationError,
        Violation,
    )
    from gicmig.formats.codec import decode, encode, info
    from gicmig.formats.fixture import from_json, to_json
    from gicmig.formats.io import load
    from gicmig.statediff.change import Change
    from gicmig.statediff.semantic import diff
    from gicmig.views.gich import export_gich, import_gich
    from gicmig.views.kvm import export_kvm, import_kvm
    from gicmig.views.qemu import export_qemu, import_qemu


def __getattr__(name: str) -> "Any":
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gicmig' has no attribute {name!r}")
    value = getattr(__import__(module, fromlist=[name]), name)
    globals()[name] = value
    return value


def __dir__() -> "list[str]":
    return sorted(__all__)
