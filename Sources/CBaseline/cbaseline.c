#include "cbaseline.h"
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

void cbaseline_run(int kvm, const struct cbaseline_vm *vm, int stop_after_first_exit, struct cbaseline_result *out) {
    memset(out, 0, sizeof *out);
    uint64_t t0 = now_ns();
    // Guest memory as the Swift side makes it: a window with the domain's frames, a private stub copy.
    uint8_t *window = mmap(NULL, vm->window_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *stub = mmap(NULL, HV_STUB_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (window == MAP_FAILED || stub == MAP_FAILED) { out->error = -errno; return; }
    for (int i = 0; i < vm->nruns; i++) {
        const struct cbaseline_frames *f = &vm->runs[i];
        int prot = PROT_READ | (f->writable ? PROT_WRITE : 0);
        if (mmap(window + (f->first_mfn << 12), f->count << 12, prot, MAP_SHARED | MAP_FIXED, vm->memfd,
                 (off_t)(f->first_mfn << 12)) == MAP_FAILED) { out->error = -errno; return; }
    }
    memcpy(stub, vm->stub_image, HV_STUB_SIZE);
    int vmfd = ckvm_create_vm(kvm);
    if (vmfd < 0) { out->error = vmfd; return; }
    int vcpu = -1;
    struct kvm_run *run = NULL;
    int size = ckvm_vcpu_mmap_size(kvm);
    int r = ckvm_set_memory_region(vmfd, 0, 0, 0, vm->window_size, window);
    if (r == 0) r = ckvm_set_memory_region(vmfd, 1, 0, HV_STUB_GPA, HV_STUB_SIZE, stub);
    if (r == 0) r = vcpu = ckvm_create_vcpu(vmfd, 0);
    if (r >= 0) {
        run = ckvm_map_run(vcpu, size);
        r = run ? 0 : -errno;
    }
    if (r == 0) r = ckvm_setup_pv_vcpu(vcpu, vm->cpuid, &vm->start);
    if (r < 0) { out->error = r; goto done; }
    ckvm_request_sync_regs(run);

    for (int first = 1;; first = 0) {
        r = ckvm_run(vcpu);
        if (first) out->create_to_first_exit_ns = now_ns() - t0;
        if (r < 0) { out->error = r; break; }
        if (run->exit_reason != KVM_EXIT_MMIO || run->mmio.phys_addr != HV_DOORBELL_GPA) {
            out->unexpected_exit = (int)run->exit_reason;
            break;
        }
        struct kvm_regs *g = &run->s.regs.regs;
        out->hypercalls++;
        if (out->hypercalls == 1) out->first_hypercall_ns = now_ns();
        if (stop_after_first_exit) break;
        if (g->rax == 29 && g->rdi == 2) {   // sched_op(SCHEDOP_shutdown)
            out->shutdown_ns = now_ns();
            break;
        }
        // xen_version(XENVER_version) answers 4.19; anything else (the final console_io) succeeds silently.
        g->rax = (g->rax == 17 && g->rdi == 0) ? 0x40013 : 0;
        g->rip = g->rcx;
        g->rflags = (g->r11 & ~0x37000ull) | 0x202;
        ckvm_mark_regs_dirty(run);
    }
done:
    if (run) munmap(run, (size_t)size);
    if (vcpu >= 0) close(vcpu);
    close(vmfd);
    munmap(window, vm->window_size);
    munmap(stub, HV_STUB_SIZE);
}
