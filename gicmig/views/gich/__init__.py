"""The GICH view: each vCPU's virtual interface control registers (LRs, APR, VMCR, HCR)."""
