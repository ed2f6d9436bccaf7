#include "cbaseline.h"
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

struct vm_handle {
    int vmfd, vcpu, size;
    struct kvm_run *run;
    uint8_t *window;
    void *stub;
    uint64_t window_size, stub_size;
};

static int vm_open(int kvm, const struct cbaseline_vm *vm, struct vm_handle *h) {
    memset(h, 0, sizeof *h);
    h->vmfd = h->vcpu = -1;
    h->window_size = vm->window_size;
    h->stub_size = vm->stub_size;
    h->window = mmap(NULL, vm->window_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    h->stub = mmap(NULL, h->stub_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (h->window == MAP_FAILED || h->stub == MAP_FAILED) return -errno;
    for (int i = 0; i < vm->nruns; i++) {
        const struct cbaseline_frames *f = &vm->runs[i];
        if (mmap(h->window + (f->first_mfn << 12), f->count << 12, PROT_READ | (f->writable ? PROT_WRITE : 0),
                 MAP_SHARED | MAP_FIXED, vm->memfd, (off_t)(f->first_mfn << 12)) == MAP_FAILED) return -errno;
    }
    memcpy(h->stub, vm->stub_image, h->stub_size);
    if ((h->vmfd = ckvm_create_vm(kvm)) < 0) return h->vmfd;
    h->size = ckvm_vcpu_mmap_size(kvm);
    int r = ckvm_set_memory_region(h->vmfd, 0, 0, 0, vm->window_size, h->window);
    if (r == 0) r = ckvm_set_memory_region(h->vmfd, 1, 0, HV_STUB_GPA, h->stub_size, h->stub);
    if (r == 0) r = h->vcpu = ckvm_create_vcpu(h->vmfd, 0);
    if (r < 0) return r;
    if (!(h->run = ckvm_map_run(h->vcpu, h->size))) return -errno;
    if ((r = ckvm_setup_pv_vcpu(h->vcpu, vm->cpuid, &vm->start)) < 0) return r;
    ckvm_request_sync_regs(h->run);
    return 0;
}

static void vm_close(struct vm_handle *h) {
    if (h->run) munmap(h->run, (size_t)h->size);
    if (h->vcpu >= 0) close(h->vcpu);
    if (h->vmfd >= 0) close(h->vmfd);
    if (h->window && h->window != MAP_FAILED) munmap(h->window, h->window_size);
    if (h->stub && h->stub != MAP_FAILED) munmap(h->stub, h->stub_size);
}

void cbaseline_run(int kvm, const struct cbaseline_vm *vm, int stop_after_first_exit, struct cbaseline_result *out) {
    memset(out, 0, sizeof *out);
    uint64_t t0 = now_ns();
    // Guest memory as the Swift side makes it (a window with the domain's frames, a private stub copy),
    // then the VM, its slots and its vCPU: everything a C VMM does before the guest runs.
    struct vm_handle h;
    int r = vm_open(kvm, vm, &h);
    if (r < 0) { out->error = r; vm_close(&h); return; }
    struct kvm_run *run = h.run;
    for (int first = 1;; first = 0) {
        r = ckvm_run(h.vcpu);
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
    vm_close(&h);
}

// ---- ping-pong baselines ----------------------------------------------------------------------------

/// Runs until the next hypercall exit and answers it (rax = 0, return as SYSRET).
static int vm_next_hypercall(struct vm_handle *h) {
    int r = ckvm_run(h->vcpu);
    if (r < 0) return r;
    if (h->run->exit_reason != KVM_EXIT_MMIO || h->run->mmio.phys_addr != HV_DOORBELL_GPA) return -EIO;
    struct kvm_regs *g = &h->run->s.regs.regs;
    g->rax = 0;
    g->rip = g->rcx;
    g->rflags = (g->r11 & ~0x37000ull) | 0x202;
    ckvm_mark_regs_dirty(h->run);
    return 0;
}

struct side {
    struct vm_handle *vm;
    sem_t *mine, *theirs;
    uint64_t rounds;
    int error;
};

static void *side_main(void *arg) {
    struct side *s = arg;
    for (uint64_t i = 0; i < s->rounds; i++) {
        while (sem_wait(s->mine) != 0) {}
        int r = vm_next_hypercall(s->vm);
        if (r < 0 && !s->error) s->error = r;
        sem_post(s->theirs);
    }
    return NULL;
}

void cbaseline_vm_pingpong(int kvm, const struct cbaseline_vm *a, const struct cbaseline_vm *b, uint64_t rounds,
                           struct cbaseline_pingpong_result *out) {
    memset(out, 0, sizeof *out);
    struct vm_handle ha, hb;
    memset(&hb, 0, sizeof hb);
    hb.vmfd = hb.vcpu = -1;                  // closable even if it is never opened
    int r = vm_open(kvm, a, &ha);
    if (r == 0) r = vm_open(kvm, b, &hb);
    // Warm up: each side to its first hypercall (boot), outside the timing.
    if (r == 0) r = vm_next_hypercall(&ha);
    if (r == 0) r = vm_next_hypercall(&hb);
    if (r < 0) { out->error = r; vm_close(&ha); vm_close(&hb); return; }
    sem_t sa, sb;
    sem_init(&sa, 0, 1);
    sem_init(&sb, 0, 0);
    struct side A = { &ha, &sa, &sb, rounds, 0 }, B = { &hb, &sb, &sa, rounds, 0 };
    pthread_t ta, tb;
    uint64_t t0 = now_ns();
    pthread_create(&ta, NULL, side_main, &A);
    pthread_create(&tb, NULL, side_main, &B);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    out->ns = now_ns() - t0;
    out->round_trips = rounds;
    out->error = A.error ? A.error : B.error;
    sem_destroy(&sa);
    sem_destroy(&sb);
    vm_close(&ha);
    vm_close(&hb);
}

struct efd_side { int mine, theirs; uint64_t rounds; int first; };

static void *efd_main(void *arg) {
    struct efd_side *s = arg;
    uint64_t v = 1;
    for (uint64_t i = 0; i < s->rounds; i++) {
        if (s->first) {
            if (write(s->theirs, &v, 8) != 8 || read(s->mine, &v, 8) != 8) return NULL;
        } else {
            if (read(s->mine, &v, 8) != 8 || write(s->theirs, &v, 8) != 8) return NULL;
        }
    }
    return NULL;
}

void cbaseline_eventfd_pingpong(uint64_t rounds, struct cbaseline_pingpong_result *out) {
    memset(out, 0, sizeof *out);
    int ea = eventfd(0, EFD_CLOEXEC), eb = eventfd(0, EFD_CLOEXEC);
    if (ea < 0 || eb < 0) { out->error = -errno; return; }
    struct efd_side A = { ea, eb, rounds, 1 }, B = { eb, ea, rounds, 0 };
    pthread_t ta, tb;
    uint64_t t0 = now_ns();
    pthread_create(&tb, NULL, efd_main, &B);
    pthread_create(&ta, NULL, efd_main, &A);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    out->ns = now_ns() - t0;
    out->round_trips = rounds;
    close(ea);
    close(eb);
}

// ---- pipe stream: the host's own byte stream, the baseline of `hv bench chan` ----
// Both ends do the per-byte work the guests do (Images/README.md, chan-producer): data made from a
// counter-based 64-bit mix, checked word by word on the reading side, and a 4-lane FNV-1a over the words.

struct pipe_side {
    int fd;
    uint64_t total;
    uint32_t message;   // a multiple of 8
    uint64_t sum;
    int error;
};

static inline uint64_t stream_mix(uint64_t k) {
    uint64_t w = (k + 1) * 0x9e3779b97f4a7c15ull;
    w ^= w >> 29;
    w *= 0xbf58476d1ce4e5b9ull;
    return w ^ (w >> 32);
}

static uint64_t lanes_fold(const uint64_t h[4], uint64_t length) {
    uint64_t r = 0xcbf29ce484222325ull;
    for (int i = 0; i < 4; i++) r = (r ^ h[i]) * 0x100000001b3ull;
    return (r ^ length) * 0x100000001b3ull;
}

static void *pipe_writer(void *arg) {
    struct pipe_side *s = arg;
    uint64_t *buf = malloc(s->message);
    if (!buf) { s->error = -ENOMEM; return NULL; }
    uint64_t h[4] = { 0xcbf29ce484222325ull, 0xcbf29ce484222326ull, 0xcbf29ce484222327ull, 0xcbf29ce484222328ull };
    uint64_t k = 0;
    for (uint64_t done = 0; done < s->total; done += s->message) {
        for (uint32_t i = 0; i < s->message / 8; i++, k++) {
            buf[i] = stream_mix(k);
            h[k & 3] = (h[k & 3] ^ buf[i]) * 0x100000001b3ull;
        }
        for (size_t off = 0; off < s->message;) {
            ssize_t w = write(s->fd, (uint8_t *)buf + off, s->message - off);
            if (w < 0) { if (errno == EINTR) continue; s->error = -errno; free(buf); return NULL; }
            off += (size_t)w;
        }
    }
    s->sum = lanes_fold(h, s->total);
    free(buf);
    return NULL;
}

static void *pipe_reader(void *arg) {
    struct pipe_side *s = arg;
    uint64_t *buf = malloc(s->message);
    if (!buf) { s->error = -ENOMEM; return NULL; }
    uint64_t h[4] = { 0xcbf29ce484222325ull, 0xcbf29ce484222326ull, 0xcbf29ce484222327ull, 0xcbf29ce484222328ull };
    uint64_t k = 0;
    for (uint64_t done = 0; done < s->total && !s->error; done += s->message) {
        for (size_t off = 0; off < s->message;) {                 // one message, however the pipe splits it
            ssize_t r = read(s->fd, (uint8_t *)buf + off, s->message - off);
            if (r < 0) { if (errno == EINTR) continue; s->error = -errno; break; }
            if (r == 0) { s->error = -EPIPE; break; }
            off += (size_t)r;
        }
        for (uint32_t i = 0; i < s->message / 8 && !s->error; i++, k++) {
            if (buf[i] != stream_mix(k)) s->error = -EILSEQ;
            h[k & 3] = (h[k & 3] ^ buf[i]) * 0x100000001b3ull;
        }
    }
    s->sum = lanes_fold(h, s->total);
    free(buf);
    return NULL;
}

void cbaseline_pipe_stream(uint64_t total, uint32_t message, struct cbaseline_pipe_result *out) {
    memset(out, 0, sizeof *out);
    int fds[2];
    if (message == 0 || message % 8 || total % message) { out->error = -EINVAL; return; }
    if (pipe(fds) < 0) { out->error = -errno; return; }
    struct pipe_side w = { fds[1], total, message, 0, 0 }, r = { fds[0], total, message, 0, 0 };
    pthread_t tw, tr;
    uint64_t t0 = now_ns();
    pthread_create(&tr, NULL, pipe_reader, &r);
    pthread_create(&tw, NULL, pipe_writer, &w);
    pthread_join(tw, NULL);
    pthread_join(tr, NULL);
    out->ns = now_ns() - t0;
    out->bytes = total;
    out->error = w.error ? w.error : r.error;
    out->checksum_ok = w.sum == r.sum;
    close(fds[0]);
    close(fds[1]);
}
