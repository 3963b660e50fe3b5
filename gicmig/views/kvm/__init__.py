"""The KVM view: GICv2 device-ABI register dumps and the ordered writes that restore a state.

`dump` reads and writes the JSON formats and `reader` imports a dump. What KVM holds and
how it restores a state are KVM's semantics, shared with QEMU's kvm-arm-gic encoding, so
they live in `gicmig.abi.kvm` (`fit`, `image`, `layout`, `access`); this package re-exports
the export functions.
"""

from gicmig.abi.kvm.fit import (
    KvmExport,
    KvmUnrepresentable,
    dump_kvm,
    export_kvm,
    fit_kvm,
    plan_kvm,
)
from gicmig.views.kvm.reader import KvmDumpIncomplete, import_kvm

__all__ = ["KvmDumpIncomplete", "KvmExport", "KvmUnrepresentable", "dump_kvm",
           "export_kvm", "fit_kvm", "import_kvm", "plan_kvm"]
