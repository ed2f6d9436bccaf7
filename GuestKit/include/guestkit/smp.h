/*
 * guestkit/smp.h - several vCPUs in one domain: counting them, bringing
 * them up and down, per-CPU data, and a spinlock that yields.
 *
 * vCPU 0 starts at _start; the domain's other vCPUs exist but are down and
 * uninitialised. gk_smp_start(cpu, fn, arg) gives one a start state
 * (VCPUOP_initialise with a vcpu_guest_context: GuestKit's secondary entry,
 * its own static stack, the same virtual IDT and callbacks as vCPU 0, the
 * loaded L4, its per-CPU data as kernel GS base) and brings it up
 * (VCPUOP_up). It calls fn(arg) with events masked; when fn returns the
 * vCPU downs itself (VCPUOP_down on its own id). A later
 * gk_smp_start(cpu, fn2, arg2) brings it up again to run fn2 (no second
 * VCPUOP_initialise); gk_smp_join(cpu) waits for that return.
 *
 * Per-CPU data (struct gk_cpu) is reached through the kernel GS base
 * (%gs:0 holds its address). GuestKit sets vCPU 0's GS base only when SMP
 * is first used (gk_smp_init, called by gk_smp_start); until then
 * gk_smp_cpu_id() is 0 without touching %gs, so a single-vCPU guest keeps
 * its GS base to itself. Once SMP is on, GuestKit owns the kernel GS base.
 *
 * What knows about vCPUs: event channels (each port is handled by the vCPU
 * it notifies; gk_irq_* act on the calling vCPU), timers and runstate
 * (<guestkit/time.h>: the calling vCPU's). What does not, and needs a lock
 * of the caller's when used from several vCPUs at once: the console
 * (gk_printf), malloc, mm.h, gk_set_trap_handler.
 *
 * Errors are -XEN_Exxx.
 */
#ifndef GUESTKIT_SMP_H
#define GUESTKIT_SMP_H

#include <xen/xen.h>

/* Offset of struct gk_cpu.stack_top, for the secondary entry. */
#define GK_CPU_stack_top        24

#ifndef __ASSEMBLY__

#include <stdint.h>
#include <xen/vcpu.h>
#include <guestkit/traps.h>

#ifdef __cplusplus
extern "C" {
#endif

/* vCPUs GuestKit can run: those with a vcpu_info slot in shared_info. */
#define GK_SMP_MAX_VCPUS        XEN_LEGACY_MAX_VCPUS
/* Each secondary vCPU's static stack (vCPU 0 keeps _start's 64 KiB). */
#define GK_SMP_STACK_SIZE       (16 * 1024)
/* Busy-wait steps (`pause`) before a waiter gives its CPU away with
 * SCHEDOP_yield: vCPUs may outnumber physical CPUs, and the one being
 * waited for may need the CPU the waiter is spinning on. */
#define GK_SPIN_PAUSES          256

/* struct gk_cpu.state */
#define GK_CPU_OFF              0   /* never initialised (or vCPU 0 before gk_smp_init) */
#define GK_CPU_READY            1   /* initialised, not yet up */
#define GK_CPU_RUNNING          2   /* running its function (vCPU 0: always) */
#define GK_CPU_DONE             3   /* its function returned; down or going down */

typedef void (*gk_smp_fn_t)(void *arg);

/* One vCPU's data; the kernel GS base points at it. */
struct gk_cpu {
    struct gk_cpu *self;            /*  0: what %gs:0 reads */
    unsigned int id;                /*  8: vCPU id */
    struct vcpu_info *vcpu_info;    /* 16: its slot in shared_info */
    unsigned long stack_top;        /* 24: initial rsp */
    volatile int state;             /* GK_CPU_* */
    gk_smp_fn_t fn;                 /* what it runs (secondaries) */
    void *arg;
    uint64_t runs;                  /* how many times fn was called */
};

/* 1 once gk_smp_init() has run (set by vCPU 0 before any other vCPU runs). */
extern int gk_smp_active;

/* The calling vCPU's struct gk_cpu. Only once gk_smp_active (volatile:
 * the load must never be hoisted above that check). */
static inline struct gk_cpu *gk_this_cpu(void)
{
    struct gk_cpu *c;
    __asm__ __volatile__ ("movq %%gs:0, %0" : "=r" (c));
    return c;
}

/* The calling vCPU's id: 0 while SMP is off. */
static inline unsigned int gk_smp_cpu_id(void)
{
    return gk_smp_active ? gk_this_cpu()->id : 0;
}

/* The calling vCPU's vcpu_info (gk_vcpu_info while SMP is off). Needs
 * gk_traps_init(). */
static inline struct vcpu_info *gk_smp_vcpu_info(void)
{
    return gk_smp_active ? gk_this_cpu()->vcpu_info : gk_vcpu_info;
}

/* ---- vCPUs ------------------------------------------------------------------ */

/* The domain's vCPU count: VCPUOP_is_up for 0, 1, 2, ... until it fails
 * (-ENOENT), at most GK_SMP_MAX_VCPUS. Probed once, then remembered. */
unsigned int gk_smp_vcpus(void);
/* VCPUOP_is_up: 1, 0, or -XEN_ENOENT for a vCPU the domain does not have. */
int gk_smp_is_up(unsigned int cpu);
/* struct gk_cpu of vCPU `cpu` (NULL beyond GK_SMP_MAX_VCPUS). */
struct gk_cpu *gk_smp_cpu(unsigned int cpu);

/* Turn SMP on, on vCPU 0: per-CPU data for vCPU 0, its kernel GS base
 * (set_segment_base(SEGBASE_GS_KERNEL)). Idempotent; crashes the domain
 * if the hypervisor refuses. gk_smp_start calls it. */
void gk_smp_init(void);

/*
 * Run fn(arg) on vCPU `cpu` (1 .. gk_smp_vcpus()-1). The first time:
 * VCPUOP_initialise with gk_smp_context(), then VCPUOP_up. After fn has
 * returned (GK_CPU_DONE): waits until the vCPU is down, then VCPUOP_up;
 * it resumes in GuestKit's loop and calls the new fn. -XEN_EBUSY while
 * it still runs a function; -XEN_EINVAL for vCPU 0 or a NULL fn;
 * otherwise the hypercall's error (-EEXIST: someone else initialised it).
 */
int gk_smp_start(unsigned int cpu, gk_smp_fn_t fn, void *arg);

/* Wait (yielding) until vCPU `cpu`'s function has returned and the vCPU
 * is down. 0, or -XEN_ETIMEDOUT at system time deadline_ns (0: none). */
int gk_smp_join(unsigned int cpu, uint64_t deadline_ns);

/* VCPUOP_down on the calling vCPU: returns 0 once another vCPU brings it
 * back with gk_smp_up() (or VCPUOP_up); its events wait meanwhile. */
int gk_smp_down_self(void);

/* Bring back a vCPU that downs itself (gk_smp_down_self): waits until it
 * is down (VCPUOP_is_up 0; upping it before would be lost), then
 * VCPUOP_up. -XEN_ETIMEDOUT at deadline_ns (0: none). */
int gk_smp_up(unsigned int cpu, uint64_t deadline_ns);

/* The vcpu_guest_context gk_smp_start() uses for vCPU `cpu`: rip = the
 * secondary entry, rdi = its struct gk_cpu, rsp = kernel_sp = its stack
 * top, trap_ctxt = GuestKit's virtual IDT (vectors 0..19 as gk_traps_init
 * installs them), the event and failsafe callbacks, ctrlreg[3] = the
 * loaded L4, gs_base_kernel = its struct gk_cpu; flags VGCF_in_kernel |
 * VGCF_failsafe_disables_events; rsi = `cpu` (the entry checks both
 * registers and rsp arrived). Also sets up that struct gk_cpu. */
void gk_smp_context(unsigned int cpu, struct vcpu_guest_context *ctx);

/* Called by the secondary entry (arch/x86_64/smp.S) with the registers
 * its start state set (rdi, rsi) and the rsp it started with, which it
 * checks; never returns. */
void gk_smp_secondary(struct gk_cpu *cpu, unsigned long id, unsigned long entry_rsp)
    __attribute__((noreturn));
/* The secondary entry point (rip of every secondary's first state). */
void gk_smp_entry(void);

/* ---- waiting politely -------------------------------------------------------- */

/* One step of a busy wait: `pause`, and after every GK_SPIN_PAUSES steps
 * SCHEDOP_yield. *spins counts the steps (start it at 0). */
void gk_smp_relax(unsigned int *spins);

/* ---- spinlock ----------------------------------------------------------------- */

/* A test-and-test-and-set lock; waiters spin with `pause` and yield their
 * CPU every GK_SPIN_PAUSES tries (the holder may be waiting for it). Not
 * recursive, does not touch the event mask: an event handler must never
 * take a lock its vCPU may already hold. */
typedef struct {
    volatile uint32_t locked;
} gk_spinlock_t;

#define GK_SPINLOCK_INIT        { 0 }

void gk_spin_lock(gk_spinlock_t *lock);
/* 1 if taken, 0 if someone holds it. */
int gk_spin_trylock(gk_spinlock_t *lock);
void gk_spin_unlock(gk_spinlock_t *lock);

#ifdef __cplusplus
}
#endif

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_SMP_H */
