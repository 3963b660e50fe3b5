"""The QEMU view: the arm_gic section of QEMU 7.2 migration streams, read and written.

Reading: `source` reads a stream forward in bounded chunks, `framing` and `vmdesc` let
`stream` walk it to the section, `vmstate` and `raw` lay the section's fields out (one
table for both directions), `accel` tells which device model wrote it, and `decode`,
`tcg` and `kvmgic` turn it into canonical state (`convert`). Writing: `encode_tcg` and
`encode_kvm` turn a state into each model's arrays and `splice` copies a template with
the section replaced (`write`). `model` holds what QEMU's two device models are, and
`registers` what a guest reads back from QEMU's GIC.
"""

from gicmig.views.qemu.convert import QemuImportReport, convert, import_qemu
from gicmig.views.qemu.encode_tcg import QemuUnrepresentable
from gicmig.views.qemu.splice import QemuPlan
from gicmig.views.qemu.write import QemuExport, export_qemu, plan_qemu

__all__ = ["QemuExport", "QemuImportReport", "QemuPlan", "QemuUnrepresentable", "convert",
           "export_qemu", "import_qemu", "plan_qemu"]
