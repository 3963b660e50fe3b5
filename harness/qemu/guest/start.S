/* Entry of the read-back guest, on every CPU (CPU0 from -kernel, the others from PSCI
 * CPU_ON). Interrupts stay masked (DAIF) and the MMU stays off: no exception is ever
 * taken, so the GIC changes only through the guest's own register accesses. */
        .section .text.boot, "ax"
        .global _start
_start:
        msr     daifset, #0xf
        mrs     x1, mpidr_el1
        and     x1, x1, #0xff
        ldr     x2, =stack_top
        lsl     x3, x1, #14             /* 16 KiB of stack per CPU */
        sub     sp, x2, x3
        mov     x0, x1
        bl      guest_main
1:      b       1b

/* psci_cpu_on(target MPIDR, entry, context): PSCI CPU_ON over SMC (EL2, virtualization=on) */
        .text
        .global psci_cpu_on
psci_cpu_on:
        mov     x3, x2
        mov     x2, x1
        mov     x1, x0
        ldr     x0, =0xC4000003
        smc     #0
        ret
