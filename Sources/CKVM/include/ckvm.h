// The KVM shim: linux/kvm.h, non-variadic ioctl wrappers, kick signals and the PV vCPU set-up.
// Every ioctl the project makes goes through this file.
#pragma once
#include <linux/kvm.h>
#include <stdint.h>
#include <pthread.h>
#include "hv_layout.h"

/// Opens /dev/kvm; -errno on failure.
int ckvm_open(void);
/// Plain ioctl wrappers returning the ioctl's value, or -errno.
int ckvm_api_version(int kvm);
int ckvm_check_extension(int fd, unsigned long cap);
int ckvm_create_vm(int kvm);
int ckvm_vcpu_mmap_size(int kvm);
int ckvm_set_memory_region(int vm, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, void *host);
int ckvm_create_vcpu(int vm, int id);
int ckvm_get_sregs(int vcpu, struct kvm_sregs *s);
int ckvm_set_sregs(int vcpu, const struct kvm_sregs *s);
int ckvm_get_regs(int vcpu, struct kvm_regs *r);
int ckvm_set_regs(int vcpu, const struct kvm_regs *r);
/// Maps the vCPU's kvm_run area; NULL with errno on failure.
struct kvm_run *ckvm_map_run(int vcpu, int size);
/// KVM_RUN: 0, or -errno (-EINTR after a kick).
int ckvm_run(int vcpu);

/// The state a PV vCPU starts in: CPL 3 with Xen's flat selectors, our GDT/IDT/TSS and syscall MSRs.
struct ckvm_pv_start {
    uint64_t rip, rsp, rsi, rflags;
    uint64_t cr3;          // guest-physical address of the kernel L4 (= MFN << 12)
    uint32_t vcpu;         // index: selects its GDT, TSS and ring-0 stacks in the stub region
};
/// The host's supported CPUID (KVM_GET_SUPPORTED_CPUID), fetched once per process: it costs ~0.4 ms
/// here and never changes. NULL with errno on failure.
const struct kvm_cpuid2 *ckvm_supported_cpuid(int kvm);
/// Loads `cpuid` (so the guest sees real features and the real physical address width: without it the
/// vCPU assumes 36 bits and the stub region above 64 GiB is unreachable), then sregs, the syscall MSRs
/// and the registers of a PV vCPU; -errno on failure.
int ckvm_setup_pv_vcpu(int vcpu, const struct kvm_cpuid2 *cpuid, const struct ckvm_pv_start *start);

/// Loads the PV vCPU's segment bases (FS, active GS, shadow GS) and CR0.TS; -errno on failure.
int ckvm_set_pv_segments(int vcpu, uint64_t fs_base, uint64_t gs_base, uint64_t shadow_gs_base, int task_switched);
/// Loads CR3 (a new guest page-table base); -errno on failure.
int ckvm_set_cr3(int vcpu, uint64_t cr3);
/// Points KVM's kvmclock (a pvclock byte-identical to Xen's vcpu_time_info) at guest-physical `gpa`
/// (MSR_KVM_SYSTEM_TIME_NEW); -errno on failure.
int ckvm_set_pvclock(int vcpu, uint64_t gpa);
/// The VM's kvmclock now, in ns (KVM_GET_CLOCK); -errno on failure (as a negative value).
int64_t ckvm_vm_clock(int vm);
/* KVM_SET_CLOCK: the VM's kvmclock reads `ns` from now on (a restored domain's time continues). */
int ckvm_set_vm_clock(int vm, uint64_t ns);
/* KVM_GET_XSAVE / KVM_SET_XSAVE with a 4096-byte struct kvm_xsave (FPU, SSE, AVX state). */
int ckvm_get_xsave(int vcpu, void *area4k);
int ckvm_set_xsave(int vcpu, const void *area4k);
/// Drops every cached translation of the VM (shadow pages) by adding and removing a one-page memory slot
/// at `gpa` backed by `host`: host writes to live guest page tables become visible; -errno on failure.
int ckvm_zap_translations(int vm, uint64_t gpa, void *host);

/// Installs the (empty) kick signal handler for `signo`, without SA_RESTART; -errno on failure.
int ckvm_install_kick_handler(int signo);
/// Unblocks `signo` in the calling thread: a vCPU thread inherits its creator's mask, and threads of
/// Dispatch or Swift concurrency pools block most signals; a blocked kick never leaves KVM_RUN.
int ckvm_unblock_signal(int signo);
/// Sets immediate_exit and signals `thread`, so KVM_RUN returns now or on its next entry.
int ckvm_kick(struct kvm_run *run, pthread_t thread, int signo);

/// The assembled ring-0 stub and trampoline (copied into each VM's stub region).
extern const uint8_t hv_stub_code[], hv_stub_code_end[], hv_trampoline[], hv_trampoline_end[];
static inline const uint8_t *ckvm_stub_code(void) { return hv_stub_code; }
static inline long ckvm_stub_code_size(void) { return hv_stub_code_end - hv_stub_code; }
static inline const uint8_t *ckvm_trampoline(void) { return hv_trampoline; }
static inline long ckvm_trampoline_size(void) { return hv_trampoline_end - hv_trampoline; }

// Accessors for kvm_run's unions (Swift imports anonymous unions poorly).
static inline uint32_t ckvm_exit_reason(const struct kvm_run *r) { return r->exit_reason; }
static inline uint64_t ckvm_mmio_address(const struct kvm_run *r) { return r->mmio.phys_addr; }
static inline int ckvm_mmio_is_write(const struct kvm_run *r) { return r->mmio.is_write; }
static inline uint16_t ckvm_io_port(const struct kvm_run *r) { return r->io.port; }
static inline uint8_t ckvm_io_direction(const struct kvm_run *r) { return r->io.direction; }
static inline uint32_t ckvm_internal_suberror(const struct kvm_run *r) { return r->internal.suberror; }
static inline uint64_t ckvm_fail_entry_reason(const struct kvm_run *r) { return r->fail_entry.hardware_entry_failure_reason; }
static inline struct kvm_regs *ckvm_sync_regs(struct kvm_run *r) { return &r->s.regs.regs; }
static inline void ckvm_request_sync_regs(struct kvm_run *r) { r->kvm_valid_regs = KVM_SYNC_X86_REGS; }
static inline void ckvm_mark_regs_dirty(struct kvm_run *r) { r->kvm_dirty_regs = KVM_SYNC_X86_REGS; }
static inline void ckvm_clear_immediate_exit(struct kvm_run *r) { __atomic_store_n(&r->immediate_exit, 0, __ATOMIC_RELAXED); }
