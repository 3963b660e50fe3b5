"""The QEMU view: the arm_gic section of QEMU 7.2 migration streams, read and written.

Reading: `source` reads a stream forward in bounded chunks, `framing` and `vmdesc` let
`stream` walk it to the section, `vmstate` and `raw` lay the section's fields out (one
table for both directions), `accel` tells which device model wrote the section, and `decode`,
`tcg` and `kvmgic` turn it into canonical state (`convert`). Writing: `encode_tcg` and
`encode_kvm` turn a state into each model's arrays and `splice` copies a template with
the section replaced (`write`). `model` holds what QEMU's two device models are, and
`registers` what a guest reads back from QEMU's GIC.

The writing side is imported on first use, so that an import does not load it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gicmig.views.qemu.convert import QemuImportReport, convert, import_qemu

if TYPE_CHECKING:
    from gicmig.views.qemu.encode_tcg import QemuUnrepresentable
    from gicmig.views.qemu.splice import QemuPlan
    from gicmig.views.qemu.write import QemuExport, export_qemu, plan_qemu

_WRITING = {"QemuExport": "write", "QemuPlan": "splice", "QemuUnrepresentable": "encode_tcg",
            "export_qemu": "write", "plan_qemu": "write"}


def __getattr__(name: str) -> Any:
    if name not in _WRITING:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WRITING[name]}"), name)
    globals()[name] = value
    return value


__all__ = ["QemuExport", "QemuImportReport", "QemuPlan", "QemuUnrepresentable", "convert",
           "export_qemu", "import_qemu", "plan_qemu"]
