/*
 * gicmig real-KVM harness: /init of a tiny initramfs booted at EL2 under
 * qemu-system-aarch64 (GICv2 with virtualization extensions), so that the Linux
 * kernel runs KVM with a vgic-v2.  It reads /cases.txt (written by
 * harness/kvm/driver.py), runs every case against /dev/kvm and prints the results
 * on the console, one line each, every result line starting with '@'.
 *
 * Commands (one per line, numbers in hex):
 *   C name                    start a case                     -> @C name
 *   V ncpus nr_irqs           a fresh vgic-v2 VM (the old one is closed)
 *   W g vcpu off val          KVM_SET_DEVICE_ATTR (g: d = DIST_REGS, c = CPU_REGS)
 *   G g vcpu off              KVM_GET_DEVICE_ATTR              -> @G g vcpu off val
 *   L type vcpu num level     KVM_IRQ_LINE (type 1 SPI, 2 PPI)
 *   P vcpu n, then n lines "op addr val"
 *                             run the guest program on vcpu    -> @R vcpu val ... @D vcpu
 *   D mode                    dump (mode f: every 4-byte offset of both frames for every
 *                             vCPU; mode s: all of vcpu0's distributor, the banked
 *                             distributor words of the others, every vCPU's GICC 0-0xfc
 *                             and 0x1000)           -> @S g vcpu lo hi (a swept range),
 *                                                      @v g vcpu off val (non-zero reads)
 *   X                         end of case                      -> @X
 * Any failure prints "@E what errno-name" and the case goes on (a refused write is
 * a result too).  The guest program ops: 0 done, 1 load32 addr and report it,
 * 2 store32 val to addr, 3 store32 the last loaded value to addr, 4 load32 addr.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define DIST_BASE 0x08000000ULL
#define CPU_BASE 0x08010000ULL
#define RAM_BASE 0x40000000ULL
#define RAM_SIZE 0x10000ULL
#define PROG_OFF 0x1000ULL
#define REPORT_ADDR 0x0a000000ULL
#define DONE_ADDR 0x0a000008ULL
#define MAX_VCPUS 8
#define MAX_OPS ((RAM_SIZE - PROG_OFF) / 16)

/*
 * The guest: x0 = op table, x5 = report address, x6 = done address.  It starts with a
 * nop: after an MMIO exit KVM completes the access (PC += 4) on the next KVM_RUN, after
 * a KVM_SET_ONE_REG of PC has already pointed it at the start.
 */
extern const uint32_t guest_start[], guest_end[];
__asm__(".text\n.balign 4\n.globl guest_start\nguest_start:\n"
        "   nop\n"
        "1: ldr w1, [x0]\n"
        "   ldr w2, [x0, #4]\n"
        "   ldr w3, [x0, #8]\n"
        "   add x0, x0, #16\n"
        "   cbz w1, 9f\n"
        "   cmp w1, #1\n"
        "   b.eq 2f\n"
        "   cmp w1, #2\n"
        "   b.eq 3f\n"
        "   cmp w1, #3\n"
        "   b.eq 4f\n"
        "   ldr w4, [x2]\n"
        "   b 1b\n"
        "2: ldr w4, [x2]\n"
        "   str w4, [x5]\n"
        "   b 1b\n"
        "3: str w3, [x2]\n"
        "   b 1b\n"
        "4: str w4, [x2]\n"
        "   b 1b\n"
        "9: str wzr, [x6]\n"
        "   b 9b\n"
        ".globl guest_end\nguest_end:\n");

static int kvm_fd = -1, vm_fd = -1, gic_fd = -1;
static int vcpu_fd[MAX_VCPUS];
static struct kvm_run *vcpu_run[MAX_VCPUS];
static size_t run_size;
static int ncpus;
static uint8_t *ram;
static const char *errname(int e)
{
	switch (e) {
	case EINVAL: return "EINVAL";
	case ENXIO: return "ENXIO";
	case EBUSY: return "EBUSY";
	case ENODEV: return "ENODEV";
	case EFAULT: return "EFAULT";
	case EEXIST: return "EEXIST";
	case E2BIG: return "E2BIG";
	case ENOMEM: return "ENOMEM";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case ENOEXEC: return "ENOEXEC";
	default: return "ERRNO";
	}
}

static void fail(const char *what)
{
	printf("@E %s %s\n", what, errname(errno));
}

static void close_vm(void)
{
	for (int i = 0; i < ncpus; i++) {
		munmap(vcpu_run[i], run_size);
		close(vcpu_fd[i]);
	}
	ncpus = 0;
	if (gic_fd >= 0)
		close(gic_fd);
	if (vm_fd >= 0)
		close(vm_fd);
	if (ram)
		munmap(ram, RAM_SIZE);
	gic_fd = vm_fd = -1;
	ram = NULL;
}

static int dev_attr(unsigned long req, uint32_t group, uint64_t attr, uint64_t addr)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = addr };
	return ioctl(gic_fd, req, &a);
}

static int create_vm(int n, uint32_t nr_irqs)
{
	close_vm();
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0) { fail("KVM_CREATE_VM"); return -1; }
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_ARM_VGIC_V2 };
	if (ioctl(vm_fd, KVM_CREATE_DEVICE, &cd) < 0) { fail("KVM_CREATE_DEVICE"); return -1; }
	gic_fd = cd.fd;
	uint64_t dist = DIST_BASE, cpu = CPU_BASE;
	if (dev_attr(KVM_SET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_DIST,
		     (uint64_t)&dist) < 0 ||
	    dev_attr(KVM_SET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_CPU,
		     (uint64_t)&cpu) < 0) { fail("VGIC_GRP_ADDR"); return -1; }
	if (dev_attr(KVM_SET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, (uint64_t)&nr_irqs) < 0) {
		fail("VGIC_GRP_NR_IRQS"); return -1;
	}
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) { ram = NULL; fail("mmap"); return -1; }
	memcpy(ram, guest_start, (size_t)((const char *)guest_end - (const char *)guest_start));
	struct kvm_userspace_memory_region mr = {
		.slot = 0, .guest_phys_addr = RAM_BASE, .memory_size = RAM_SIZE,
		.userspace_addr = (uint64_t)ram };
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) { fail("MEMORY_REGION"); return -1; }
	struct kvm_vcpu_init init;
	if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) { fail("PREFERRED_TARGET"); return -1; }
	for (int i = 0; i < n; i++) {
		int fd = ioctl(vm_fd, KVM_CREATE_VCPU, i);
		if (fd < 0) { fail("KVM_CREATE_VCPU"); return -1; }
		vcpu_fd[i] = fd;
		vcpu_run[i] = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ncpus = i + 1;
		if (ioctl(fd, KVM_ARM_VCPU_INIT, &init) < 0) { fail("KVM_ARM_VCPU_INIT"); return -1; }
	}
	if (dev_attr(KVM_SET_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, 0) < 0) {
		fail("VGIC_CTRL_INIT"); return -1;
	}
	return 0;
}

static uint32_t group_of(char g)
{
	return g == 'd' ? KVM_DEV_ARM_VGIC_GRP_DIST_REGS : KVM_DEV_ARM_VGIC_GRP_CPU_REGS;
}

static int get_reg(char g, unsigned vcpu, unsigned off, uint32_t *val)
{
	uint64_t attr = (uint64_t)vcpu << KVM_DEV_ARM_VGIC_CPUID_SHIFT | off;
	return dev_attr(KVM_GET_DEVICE_ATTR, group_of(g), attr, (uint64_t)val);
}

static void sweep(char g, unsigned vcpu, unsigned lo, unsigned hi)
{
	printf("@S %c %x %x %x\n", g, vcpu, lo, hi);
	for (unsigned off = lo; off < hi; off += 4) {
		uint32_t v = 0;
		if (get_reg(g, vcpu, off, &v) < 0)
			printf("@E G %c %x %x %s\n", g, vcpu, off, errname(errno));
		else if (v)
			printf("@v %c %x %x %x\n", g, vcpu, off, v);
	}
}

/* distributor words that are banked per vCPU */
static const unsigned banked[][2] = {
	{0x000, 0x010}, {0x080, 0x084}, {0x100, 0x104}, {0x180, 0x184}, {0x200, 0x204},
	{0x280, 0x284}, {0x300, 0x304}, {0x380, 0x384}, {0x400, 0x420}, {0x800, 0x820},
	{0xc00, 0xc08}, {0xf00, 0xf30},
};

static void dump(char mode)
{
	for (int c = 0; c < ncpus; c++) {
		if (mode == 'f' || c == 0) {
			sweep('d', c, 0, 0x1000);
		} else {
			for (size_t i = 0; i < sizeof(banked) / sizeof(banked[0]); i++)
				sweep('d', c, banked[i][0], banked[i][1]);
		}
		if (mode == 'f') {
			sweep('c', c, 0, 0x2000);
		} else {
			sweep('c', c, 0, 0x100);
			sweep('c', c, 0x1000, 0x1004);
		}
	}
}

static int set_core_reg(int fd, uint64_t id, uint64_t value)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)&value };
	return ioctl(fd, KVM_SET_ONE_REG, &r);
}

#define CORE_REG(name) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
			KVM_REG_ARM_CORE_REG(name))

static void run_program(unsigned vcpu)
{
	if (vcpu >= (unsigned)ncpus) { errno = EINVAL; fail("P"); return; }
	int fd = vcpu_fd[vcpu];
	if (set_core_reg(fd, CORE_REG(regs.pc), RAM_BASE) < 0 ||
	    set_core_reg(fd, CORE_REG(regs.regs[0]), RAM_BASE + PROG_OFF) < 0 ||
	    set_core_reg(fd, CORE_REG(regs.regs[5]), REPORT_ADDR) < 0 ||
	    set_core_reg(fd, CORE_REG(regs.regs[6]), DONE_ADDR) < 0) {
		fail("SET_ONE_REG"); return;
	}
	struct kvm_run *run = vcpu_run[vcpu];
	for (int steps = 0; steps < 100000; steps++) {
		if (ioctl(fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fail("KVM_RUN"); return;
		}
		if (run->exit_reason != KVM_EXIT_MMIO) {
			printf("@E EXIT %x %x\n", vcpu, run->exit_reason);
			return;
		}
		uint32_t v;
		memcpy(&v, run->mmio.data, 4);
		if (run->mmio.phys_addr == REPORT_ADDR && run->mmio.is_write) {
			printf("@R %x %x\n", vcpu, v);
		} else if (run->mmio.phys_addr == DONE_ADDR && run->mmio.is_write) {
			printf("@D %x\n", vcpu);
			return;
		} else {
			printf("@E MMIO %x %llx %d\n", vcpu, (unsigned long long)run->mmio.phys_addr,
			       run->mmio.is_write);
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
		}
	}
	printf("@E RUNAWAY %x\n", vcpu);
}

int main(void)
{
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	int con = open("/dev/ttyAMA0", O_WRONLY);
	if (con >= 0) {
		dup2(con, 1);
		dup2(con, 2);
	}
	static char outbuf[1 << 16];
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	struct utsname u;
	printf("\n@HELLO\n");
	if (uname(&u) == 0)
		printf("@KERNEL %s %s\n", u.release, u.version);
	kvm_fd = open("/dev/kvm", O_RDWR);
	if (kvm_fd < 0) {
		fail("open /dev/kvm");
	} else {
		run_size = (size_t)ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
		FILE *in = fopen("/cases.txt", "r");
		if (!in)
			fail("open /cases.txt");
		char line[256];
		while (in && fgets(line, sizeof(line), in)) {
			char g;
			unsigned a, b, c, d;
			char name[200];
			switch (line[0]) {
			case 'C':
				if (sscanf(line, "C %199s", name) == 1)
					printf("@C %s\n", name);
				break;
			case 'V':
				if (sscanf(line, "V %x %x", &a, &b) == 2 && create_vm((int)a, b) == 0)
					printf("@V %x %x\n", a, b);
				break;
			case 'W':
				if (sscanf(line, "W %c %x %x %x", &g, &a, &b, &c) == 4) {
					uint32_t v = c;
					uint64_t attr = (uint64_t)a << KVM_DEV_ARM_VGIC_CPUID_SHIFT | b;
					if (dev_attr(KVM_SET_DEVICE_ATTR, group_of(g), attr, (uint64_t)&v) < 0)
						printf("@E W %c %x %x %x %s\n", g, a, b, c, errname(errno));
				}
				break;
			case 'G':
				if (sscanf(line, "G %c %x %x", &g, &a, &b) == 3) {
					uint32_t v = 0;
					if (get_reg(g, a, b, &v) < 0)
						printf("@E G %c %x %x %s\n", g, a, b, errname(errno));
					else
						printf("@G %c %x %x %x\n", g, a, b, v);
				}
				break;
			case 'L':
				if (sscanf(line, "L %x %x %x %x", &a, &b, &c, &d) == 4) {
					struct kvm_irq_level l = {
						.irq = a << KVM_ARM_IRQ_TYPE_SHIFT | b << KVM_ARM_IRQ_VCPU_SHIFT | c,
						.level = d };
					if (ioctl(vm_fd, KVM_IRQ_LINE, &l) < 0)
						printf("@E L %x %x %x %x %s\n", a, b, c, d, errname(errno));
				}
				break;
			case 'P':
				if (sscanf(line, "P %x %x", &a, &b) == 2) {
					uint32_t *prog = (uint32_t *)(ram ? ram + PROG_OFF : NULL);
					unsigned n = b < MAX_OPS - 1 ? b : MAX_OPS - 1;
					for (unsigned i = 0; i < b; i++) {
						unsigned op = 0, addr = 0, val = 0;
						if (!fgets(line, sizeof(line), in))
							break;
						sscanf(line, "%x %x %x", &op, &addr, &val);
						if (prog && i < n) {
							prog[4 * i] = op;
							prog[4 * i + 1] = addr;
							prog[4 * i + 2] = val;
							prog[4 * i + 3] = 0;
						}
					}
					if (prog) {
						memset(prog + 4 * n, 0, 16);
						run_program(a);
					}
				}
				break;
			case 'D':
				dump(line[2] == 'f' ? 'f' : 's');
				break;
			case 'X':
				printf("@X\n");
				fflush(stdout);
				break;
			default:
				break;
			}
		}
		close_vm();
	}
	printf("@BYE\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
