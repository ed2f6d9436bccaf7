#include "ckvm.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define RET(x) do { int _r = (x); return _r < 0 ? -errno : _r; } while (0)

int ckvm_open(void) { RET(open("/dev/kvm", O_RDWR | O_CLOEXEC)); }
int ckvm_api_version(int kvm) { RET(ioctl(kvm, KVM_GET_API_VERSION, 0)); }
int ckvm_check_extension(int fd, unsigned long cap) { RET(ioctl(fd, KVM_CHECK_EXTENSION, cap)); }
int ckvm_create_vm(int kvm) { RET(ioctl(kvm, KVM_CREATE_VM, 0)); }
int ckvm_vcpu_mmap_size(int kvm) { RET(ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)); }
int ckvm_create_vcpu(int vm, int id) { RET(ioctl(vm, KVM_CREATE_VCPU, (unsigned long)id)); }
int ckvm_get_sregs(int vcpu, struct kvm_sregs *s) { RET(ioctl(vcpu, KVM_GET_SREGS, s)); }
int ckvm_set_sregs(int vcpu, const struct kvm_sregs *s) { RET(ioctl(vcpu, KVM_SET_SREGS, s)); }
int ckvm_get_regs(int vcpu, struct kvm_regs *r) { RET(ioctl(vcpu, KVM_GET_REGS, r)); }
int ckvm_set_regs(int vcpu, const struct kvm_regs *r) { RET(ioctl(vcpu, KVM_SET_REGS, r)); }
int ckvm_run(int vcpu) { RET(ioctl(vcpu, KVM_RUN, 0)); }

int ckvm_set_memory_region(int vm, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, void *host) {
    struct kvm_userspace_memory_region r = {
        .slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };
    RET(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r));
}

struct kvm_run *ckvm_map_run(int vcpu, int size) {
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    return p == MAP_FAILED ? NULL : p;
}

static struct kvm_segment code64(uint16_t sel, uint8_t dpl) {
    return (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = 0xb,
        .present = 1, .dpl = dpl, .db = 0, .s = 1, .l = 1, .g = 1 };
}

static struct kvm_segment data(uint16_t sel, uint8_t dpl) {
    return (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = 0x3,
        .present = 1, .dpl = dpl, .db = 1, .s = 1, .l = 0, .g = 1 };
}

enum { max_cpuid_entries = 256 };
static union {
    struct kvm_cpuid2 c;
    uint8_t bytes[sizeof(struct kvm_cpuid2) + max_cpuid_entries * sizeof(struct kvm_cpuid_entry2)];
} supported_cpuid;
static pthread_once_t supported_cpuid_once = PTHREAD_ONCE_INIT;
static int supported_cpuid_kvm = -1, supported_cpuid_error;

static void fetch_supported_cpuid(void) {
    supported_cpuid.c.nent = max_cpuid_entries;
    if (ioctl(supported_cpuid_kvm, KVM_GET_SUPPORTED_CPUID, &supported_cpuid.c) < 0) supported_cpuid_error = errno;
}

const struct kvm_cpuid2 *ckvm_supported_cpuid(int kvm) {
    supported_cpuid_kvm = kvm;
    pthread_once(&supported_cpuid_once, fetch_supported_cpuid);
    if (supported_cpuid_error) { errno = supported_cpuid_error; return NULL; }
    return &supported_cpuid.c;
}

int ckvm_setup_pv_vcpu(int vcpu, const struct kvm_cpuid2 *cpuid, const struct ckvm_pv_start *start) {
    if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0) return -errno;
    int r;
    struct kvm_sregs s;
    r = ckvm_get_sregs(vcpu, &s);
    if (r < 0) return r;
    // Long mode, paging, write-protect, SSE usable at CPL 3 (OSFXSR, OSXMMEXCPT), NX.
    s.cr0 = 0x80050033;            // PG | WP | NE | ET | MP | PE (AM clear)
    s.cr4 = (1u << 5) | (1u << 9) | (1u << 10);   // PAE | OSFXSR | OSXMMEXCPT
    s.cr3 = start->cr3;
    s.efer = (1u << 0) | (1u << 8) | (1u << 10) | (1u << 11);   // SCE | LME | LMA | NXE
    s.cs = code64(0xe033, 3);      // FLAT_KERNEL_CS: the guest kernel runs at CPL 3
    s.ss = data(0xe02b, 3);        // FLAT_KERNEL_SS
    struct kvm_segment null = { .selector = 0, .unusable = 1 };
    s.ds = s.es = s.fs = s.gs = null;
    uint64_t block = HV_STUB_VA + HV_VOFF_VCPUS + (uint64_t)start->vcpu * HV_VCPU_VSTRIDE;
    s.gdt.base = block + HV_VCPU_VOFF_GDT;
    s.gdt.limit = HV_GDT_PAGES * 4096 - 1;
    s.idt.base = HV_STUB_VA + HV_OFF_IDT;
    s.idt.limit = 256 * 16 - 1;
    s.tr = (struct kvm_segment){ .base = block + HV_VCPU_VOFF_TSS, .limit = 0x67, .selector = 0xe040,
        .type = 0xb, .present = 1, .s = 0 };    // busy 64-bit TSS
    s.ldt = (struct kvm_segment){ .selector = 0, .type = 2, .present = 0, .unusable = 1 };
    if ((r = ckvm_set_sregs(vcpu, &s)) < 0) return r;

    // kvm_msrs ends in a flexible array: room for four entries after the header.
    union { struct kvm_msrs h; uint8_t bytes[sizeof(struct kvm_msrs) + 4 * sizeof(struct kvm_msr_entry)]; } m;
    memset(&m, 0, sizeof m);
    struct kvm_msr_entry *e = m.h.entries;
    m.h.nmsrs = 4;
    // STAR: SYSCALL loads CS 0xe008/SS 0xe010; SYSRET base 0xe023 gives CS 0xe033, SS 0xe02b (as Xen).
    e[0].index = 0xc0000081; e[0].data = (0xe023ULL << 48) | (0xe008ULL << 32);
    e[1].index = 0xc0000082; e[1].data = HV_STUB_VA + HV_OFF_TRAMPOLINE;   // LSTAR
    e[2].index = 0xc0000083; e[2].data = HV_STUB_VA + HV_OFF_TRAMPOLINE;   // CSTAR
    e[3].index = 0xc0000084; e[3].data = (1u << 8) | (1u << 10) | (1u << 14);   // SFMASK: TF, DF, NT
    r = ioctl(vcpu, KVM_SET_MSRS, &m.h);
    if (r < 0) return -errno;
    if (r != 4) return -EINVAL;

    struct kvm_regs regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = start->rip;
    regs.rsp = start->rsp;
    regs.rsi = start->rsi;
    regs.rflags = start->rflags;
    return ckvm_set_regs(vcpu, &regs);
}

int ckvm_set_pv_segments(int vcpu, uint64_t fs_base, uint64_t gs_base, uint64_t shadow_gs_base, int task_switched) {
    struct kvm_sregs s;
    int r = ckvm_get_sregs(vcpu, &s);
    if (r < 0) return r;
    s.fs.base = fs_base;
    s.gs.base = gs_base;
    s.cr0 = task_switched ? (s.cr0 | 8) : (s.cr0 & ~8ull);
    if ((r = ckvm_set_sregs(vcpu, &s)) < 0) return r;
    union { struct kvm_msrs h; uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)]; } m;
    memset(&m, 0, sizeof m);
    m.h.nmsrs = 1;
    m.h.entries[0].index = 0xc0000102;     // MSR_KERNEL_GS_BASE: the user GS base while in kernel mode
    m.h.entries[0].data = shadow_gs_base;
    r = ioctl(vcpu, KVM_SET_MSRS, &m.h);
    return r < 0 ? -errno : (r == 1 ? 0 : -EINVAL);
}

int ckvm_set_cr3(int vcpu, uint64_t cr3) {
    struct kvm_sregs s;
    int r = ckvm_get_sregs(vcpu, &s);
    if (r < 0) return r;
    s.cr3 = cr3;
    return ckvm_set_sregs(vcpu, &s);
}

int ckvm_set_pvclock(int vcpu, uint64_t gpa) {
    union { struct kvm_msrs h; uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)]; } m;
    memset(&m, 0, sizeof m);
    m.h.nmsrs = 1;
    m.h.entries[0].index = 0x4b564d01;     // MSR_KVM_SYSTEM_TIME_NEW, bit 0 = enable
    m.h.entries[0].data = gpa | 1;
    int r = ioctl(vcpu, KVM_SET_MSRS, &m.h);
    return r < 0 ? -errno : (r == 1 ? 0 : -EINVAL);
}

int64_t ckvm_vm_clock(int vm) {
    struct kvm_clock_data d;
    memset(&d, 0, sizeof d);
    return ioctl(vm, KVM_GET_CLOCK, &d) < 0 ? -errno : (int64_t)d.clock;
}

int ckvm_zap_translations(int vm, uint64_t gpa, void *host) {
    int r = ckvm_set_memory_region(vm, 2, 0, gpa, 4096, host);
    if (r < 0) return r;
    return ckvm_set_memory_region(vm, 2, 0, gpa, 0, host);
}

static void kick_handler(int signo) { (void)signo; }

int ckvm_install_kick_handler(int signo) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = kick_handler;   // no SA_RESTART: KVM_RUN must return EINTR
    sigemptyset(&sa.sa_mask);
    return sigaction(signo, &sa, NULL) < 0 ? -errno : 0;
}

int ckvm_unblock_signal(int signo) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    return -pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int ckvm_kick(struct kvm_run *run, pthread_t thread, int signo) {
    __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    int r = pthread_kill(thread, signo);
    return r == 0 ? 0 : -r;
}

int ckvm_set_vm_clock(int vm, uint64_t ns) {
    struct kvm_clock_data d;
    memset(&d, 0, sizeof d);
    d.clock = ns;
    return ioctl(vm, KVM_SET_CLOCK, &d) < 0 ? -errno : 0;
}

int ckvm_get_xsave(int vcpu, void *area4k) {
    return ioctl(vcpu, KVM_GET_XSAVE, area4k) < 0 ? -errno : 0;
}

int ckvm_set_xsave(int vcpu, const void *area4k) {
    return ioctl(vcpu, KVM_SET_XSAVE, area4k) < 0 ? -errno : 0;
}
