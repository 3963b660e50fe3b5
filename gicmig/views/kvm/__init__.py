"""The KVM view: GICv2 device-ABI register dumps and the ordered writes that restore a state.

`dump` reads and writes the JSON formats; `reader` imports a dump; `fit` says what KVM can
hold (refusing or, leniently, dropping the rest) and `writes` turns a fitting state into
the register image and the ordered writes; `layout` maps KVM's registers onto the state.
"""

from gicmig.views.kvm.fit import (
    KvmExport,
    KvmUnrepresentable,
    dump_kvm,
    export_kvm,
    fit_kvm,
    plan_kvm,
)
from gicmig.views.kvm.reader import KvmDumpIncomplete, KvmImported, import_kvm

__all__ = ["KvmDumpIncomplete", "KvmExport", "KvmImported", "KvmUnrepresentable", "dump_kvm",
           "export_kvm", "fit_kvm", "import_kvm", "plan_kvm"]
