/*
 * gicmig read-back guest: a bare-metal AArch64 program for QEMU's virt board
 * (GICv2 with virtualization extensions, every CPU at EL2, PSCI over SMC).
 *
 * 1. CPU0 starts the other CPUs (PSCI CPU_ON) and runs the program table that the
 *    harness may load at PROGRAM (QEMU `-device loader`): register writes, each made
 *    by the CPU it names, in table order. No table (zeroed RAM): the GIC stays at reset.
 * 2. Then, forever: print "BEGIN <seq> <refreshed>", have every CPU read back its
 *    banked GICD, GICC and GICH registers while CPU0 also reads the shared GICD
 *    registers, print them, print "END <seq>". A migration can happen at any point; the
 *    harness takes the first complete report printed on the destination, whose
 *    read-back therefore happened after `cont` (BEGIN is printed before the read-back).
 * 3. Only where the destination says so (fw_cfg file "opt/gicmig/refresh" = "y", which
 *    the source VM does not have), once, after a report that began there (so the first
 *    complete report on the destination always precedes it): make QEMU recompute its
 *    caches by writing back values just read (GICD_CTLR from CPU0,
 *    GICC_APR0 and GICH_APR from each CPU): the state does not change, but QEMU's
 *    gic_update recomputes current_pending, GICH_MISR and the maintenance line, and the
 *    APR writes recompute running_priority. The reports after it say so ("BEGIN <seq> 1"
 *    instead of "BEGIN <seq> 0"): they show whether the caches of the loaded stream were
 *    what QEMU's own rules give.
 *
 * Otherwise only side-effect-free reads: never GICC_IAR/AIAR or GICV_IAR (they
 * acknowledge). DAIF stays masked and the MMU off: no interrupt is ever taken.
 *
 * Report lines: "<F><c> <off> <value>" with F = D (GICD), C (GICC), H (GICH), c the
 * reading CPU ('*' for the shared distributor registers, read by CPU0), off the byte
 * offset in the frame (3 hex digits), value 8 hex digits. "MISSING <c>" if a CPU did
 * not answer.
 */
#include <stdint.h>

#define GICD 0x08000000UL
#define GICC 0x08010000UL
#define GICH 0x08030000UL
#define UART 0x09000000UL
#define FWCFG 0x09020000UL  /* data at +0, selector (big-endian) at +8 */
#define FWCFG_FILE_DIR 0x19
#define FWCFG_NAME 56
#define UART_FR 0x18
#define UART_FR_TXFF (1u << 5)
#define PROGRAM 0x40800000UL
#define MAXCPU 8
#define MAXREGS 128    /* banked registers of one CPU: 57 + up to 64 list registers */
#define MAXSHARED 1024 /* shared distributor registers: 778 with 1020 interrupt IDs */
#define SPIN_LIMIT 20000000u

/* commands, also the program table's `kind` (harness/qemu/driver.py Write.pack) */
enum { CMD_NONE = 0, CMD_READ = 1, CMD_WRITE32 = 2, CMD_WRITE8 = 3, CMD_REFRESH = 4 };

struct reg { uint16_t frame, off; uint32_t val; };
struct op { uint32_t kind, cpu, addr, value; };  /* the program table, little-endian */

void psci_cpu_on(uint64_t mpidr, uint64_t entry, uint64_t context);
extern char _start[];

static volatile uint32_t gen[MAXCPU], ack[MAXCPU], alive[MAXCPU];
static volatile uint32_t cmd[MAXCPU], cmd_addr[MAXCPU], cmd_val[MAXCPU];
static struct reg banked[MAXCPU][MAXREGS];
static volatile uint32_t nbanked[MAXCPU];
static struct reg shared[MAXSHARED];
static uint32_t nshared;

static inline void dsb(void) { __asm__ volatile("dsb sy" ::: "memory"); }
static inline uint32_t rd(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline void wr32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline void wr8(uintptr_t a, uint32_t v) { *(volatile uint8_t *)a = (uint8_t)v; }

static void putc_(char ch)
{
    while (rd(UART + UART_FR) & UART_FR_TXFF)
        ;
    wr32(UART, (uint32_t)ch);
}

static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

static void hex(uint32_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        putc_("0123456789abcdef"[(v >> (4 * i)) & 0xf]);
}

/* The first byte of fw_cfg file `name`, or 0 if there is no such file. */
static char fw_cfg_char(const char *name)
{
    *(volatile uint16_t *)(FWCFG + 8) = __builtin_bswap16(FWCFG_FILE_DIR);
    uint32_t count = 0, i, k;
    for (i = 0; i < 4; i++)
        count = count << 8 | *(volatile uint8_t *)FWCFG;
    for (i = 0; i < count; i++) {
        uint8_t entry[8];
        char fname[FWCFG_NAME];
        for (k = 0; k < 8; k++)  /* be32 size, be16 select, be16 reserved */
            entry[k] = *(volatile uint8_t *)FWCFG;
        for (k = 0; k < FWCFG_NAME; k++)
            fname[k] = (char)*(volatile uint8_t *)FWCFG;
        for (k = 0; k < FWCFG_NAME && fname[k] == name[k] && name[k]; k++)
            ;
        if (k < FWCFG_NAME && fname[k] == name[k]) {
            if (!(entry[0] | entry[1] | entry[2] | entry[3]))
                return 0;
            *(volatile uint16_t *)(FWCFG + 8) = __builtin_bswap16(
                (uint16_t)(entry[4] << 8 | entry[5]));
            return (char)*(volatile uint8_t *)FWCFG;
        }
    }
    return 0;
}

static uint32_t num_cpus(void) { return ((rd(GICD + 0x004) >> 5) & 7) + 1; }
static uint32_t num_words(void) { return (rd(GICD + 0x004) & 0x1f) + 1; }  /* 32 IDs each */

static void add(struct reg *r, uint32_t *n, uint32_t max, char frame, uintptr_t base,
                uint32_t off)
{
    if (*n < max) {
        r[*n].frame = (uint16_t)frame;
        r[*n].off = (uint16_t)off;
        r[*n].val = rd(base + off);
        (*n)++;
    }
}

/* The banked registers, as the calling CPU sees them. */
static void read_banked(uint32_t cpu)
{
    struct reg *r = banked[cpu];
    uint32_t n = 0, i;
    static const uint16_t bits[] = {0x080, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380};
    static const uint16_t cpuif[] = {0x00, 0x04, 0x08, 0x14, 0x18, 0x1c, 0xd0, 0xd4, 0xd8,
                                     0xdc, 0xe0, 0xe4, 0xe8, 0xec, 0xfc};
    static const uint16_t hyp[] = {0x00, 0x04, 0x08, 0x10, 0x20, 0x24, 0x30, 0x34, 0xf0};

    for (i = 0; i < sizeof bits / sizeof bits[0]; i++)
        add(r, &n, MAXREGS, 'D', GICD, bits[i]);
    for (i = 0; i < 8; i++)
        add(r, &n, MAXREGS, 'D', GICD, 0x400 + 4 * i);
    for (i = 0; i < 8; i++)
        add(r, &n, MAXREGS, 'D', GICD, 0x800 + 4 * i);
    for (i = 0; i < 2; i++)
        add(r, &n, MAXREGS, 'D', GICD, 0xc00 + 4 * i);
    for (i = 0; i < 4; i++)
        add(r, &n, MAXREGS, 'D', GICD, 0xf10 + 4 * i);
    for (i = 0; i < 4; i++)
        add(r, &n, MAXREGS, 'D', GICD, 0xf20 + 4 * i);
    for (i = 0; i < sizeof cpuif / sizeof cpuif[0]; i++)
        add(r, &n, MAXREGS, 'C', GICC, cpuif[i]);
    for (i = 0; i < sizeof hyp / sizeof hyp[0]; i++)
        add(r, &n, MAXREGS, 'H', GICH, hyp[i]);
    uint32_t lrs = (rd(GICH + 0x004) & 0x3f) + 1;
    for (i = 0; i < lrs; i++)
        add(r, &n, MAXREGS, 'H', GICH, 0x100 + 4 * i);
    nbanked[cpu] = n;
}

/* The distributor registers every CPU sees alike. */
static void read_shared(void)
{
    uint32_t w = num_words(), i, k;
    static const uint16_t bits[] = {0x080, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380};

    nshared = 0;
    add(shared, &nshared, MAXSHARED, 'D', GICD, 0x000);
    add(shared, &nshared, MAXSHARED, 'D', GICD, 0x004);
    add(shared, &nshared, MAXSHARED, 'D', GICD, 0x008);
    for (k = 0; k < sizeof bits / sizeof bits[0]; k++)
        for (i = 1; i < w; i++)
            add(shared, &nshared, MAXSHARED, 'D', GICD, bits[k] + 4 * i);
    for (i = 8; i < 8 * w; i++)
        add(shared, &nshared, MAXSHARED, 'D', GICD, 0x400 + 4 * i);
    for (i = 8; i < 8 * w; i++)
        add(shared, &nshared, MAXSHARED, 'D', GICD, 0x800 + 4 * i);
    for (i = 2; i < 2 * w; i++)
        add(shared, &nshared, MAXSHARED, 'D', GICD, 0xc00 + 4 * i);
}

static void execute(uint32_t cpu)
{
    switch (cmd[cpu]) {
    case CMD_READ:
        read_banked(cpu);
        break;
    case CMD_WRITE32:
        wr32(cmd_addr[cpu], cmd_val[cpu]);
        break;
    case CMD_WRITE8:
        wr8(cmd_addr[cpu], cmd_val[cpu]);
        break;
    case CMD_REFRESH:  /* write back what is there: QEMU recomputes its caches */
        if (cpu == 0)
            wr32(GICD + 0x000, rd(GICD + 0x000));
        wr32(GICC + 0x0d0, rd(GICC + 0x0d0));
        wr32(GICH + 0x0f0, rd(GICH + 0x0f0));
        break;
    }
}

/* Run a command on CPU `cpu` (on CPU0 directly); 0 if that CPU did not answer. */
static int post(uint32_t cpu, uint32_t what, uint32_t addr, uint32_t val)
{
    cmd[cpu] = what;
    cmd_addr[cpu] = addr;
    cmd_val[cpu] = val;
    if (cpu == 0) {
        execute(0);
        return 1;
    }
    dsb();
    uint32_t g = gen[cpu] + 1;
    gen[cpu] = g;
    dsb();
    for (uint32_t spin = 0; spin < SPIN_LIMIT; spin++)
        if (ack[cpu] == g)
            return 1;
    return 0;
}

static void secondary(uint32_t cpu)
{
    alive[cpu] = 1;
    dsb();
    for (;;) {
        uint32_t g = gen[cpu];
        if (g != ack[cpu]) {
            dsb();
            execute(cpu);
            dsb();
            ack[cpu] = g;
            dsb();
        }
    }
}

static void print_reg(const struct reg *r, char who)
{
    putc_((char)r->frame);
    putc_(who);
    putc_(' ');
    hex(r->off, 3);
    putc_(' ');
    hex(r->val, 8);
    putc_('\n');
}

static void run_program(uint32_t n)
{
    const volatile struct op *op = (const volatile struct op *)PROGRAM;
    for (; op->kind != CMD_NONE; op++) {
        if (op->cpu >= n || !post(op->cpu, op->kind, op->addr, op->value)) {
            puts_("PROGRAM-FAILED\n");
            return;
        }
    }
}

void guest_main(uint64_t cpu)
{
    if (cpu != 0)
        secondary((uint32_t)cpu);

    uint32_t n = num_cpus(), c;
    for (c = 1; c < n; c++)
        psci_cpu_on(c, (uint64_t)(uintptr_t)_start, 0);
    for (c = 1; c < n; c++)
        for (uint32_t spin = 0; spin < SPIN_LIMIT && !alive[c]; spin++)
            ;
    puts_("READY\n");
    run_program(n);
    uint32_t refreshed = 0;
    for (uint32_t seq = 1;; seq++) {
        uint32_t answered = 1;  /* bit c: CPU c read its registers */
        /* asked before BEGIN: if so, this whole report runs on the destination */
        int destination = fw_cfg_char("opt/gicmig/refresh") == 'y';
        puts_("BEGIN ");
        hex(seq, 8);
        putc_(' ');
        putc_((char)('0' + refreshed));
        putc_('\n');
        for (c = 0; c < n; c++)
            if (post(c, CMD_READ, 0, 0))
                answered |= 1u << c;
        read_shared();
        for (c = 0; c < n; c++) {
            if (!(answered >> c & 1)) {
                puts_("MISSING ");
                hex(c, 1);
                putc_('\n');
                continue;
            }
            for (uint32_t i = 0; i < nbanked[c]; i++)
                print_reg(&banked[c][i], (char)('0' + c));
        }
        for (uint32_t i = 0; i < nshared; i++)
            print_reg(&shared[i], '*');
        puts_("END ");
        hex(seq, 8);
        putc_('\n');
        if (destination && !refreshed) {
            for (c = 0; c < n; c++)
                post(c, CMD_REFRESH, 0, 0);
            refreshed = 1;
        }
    }
}
