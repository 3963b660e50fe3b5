"""The GICH view: each vCPU's virtual interface control registers (LRs, APR, VMCR, HCR).

`viewfile` reads and writes the view's JSON; `fold` turns one vCPU's registers into facts,
`merge` meets them with the distributor image (import), `plan` places a state's interrupts
into list registers (export), `nested` folds a guest hypervisor's registers; `params`
holds what they share.
"""

from gicmig.views.gich.fold import LrFact, VcpuFold, fold_vcpu
from gicmig.views.gich.merge import import_gich
from gicmig.views.gich.nested import NestedCpu, fold_groups, fold_nested
from gicmig.views.gich.params import (
    EOI_POLICIES,
    GichTarget,
    VtrParams,
    apr_to_levels,
    levels_to_apr,
    status_registers,
    vtr_params,
)
from gicmig.views.gich.plan import export_gich, plan_gich

__all__ = [
    "EOI_POLICIES", "GichTarget", "LrFact", "NestedCpu", "VcpuFold",
    "VtrParams", "apr_to_levels", "export_gich", "fold_groups", "fold_nested", "fold_vcpu",
    "import_gich", "levels_to_apr", "plan_gich", "status_registers", "vtr_params",
]
