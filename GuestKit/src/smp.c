/*
 * smp.c - secondary vCPUs: counting them, their start state, bringing them
 * up and down, per-CPU data, and the spinlock that yields.
 *
 * Life of a secondary (struct gk_cpu.state):
 *
 *   OFF --gk_smp_start: VCPUOP_initialise--> READY --VCPUOP_up--> RUNNING
 *   RUNNING --fn returns--> DONE, then VCPUOP_down on itself
 *   DONE --gk_smp_start: wait until down, VCPUOP_up--> RUNNING (new fn)
 *
 * The vCPU itself writes DONE; everything else is written by the starter
 * under start_lock, before the VCPUOP_up that lets the vCPU see it.
 */
#include <stddef.h>
#include <guestkit/guestkit.h>

_Static_assert(offsetof(struct gk_cpu, self) == 0, "%gs:0 must read gk_cpu.self");
_Static_assert(offsetof(struct gk_cpu, stack_top) == GK_CPU_stack_top, "gk_cpu.stack_top");

int gk_smp_active;

static struct gk_cpu cpus[GK_SMP_MAX_VCPUS];

/* Secondary i runs on stacks[i - 1]; vCPU 0 keeps _start's stack. */
static uint8_t stacks[GK_SMP_MAX_VCPUS - 1][GK_SMP_STACK_SIZE] __attribute__((aligned(16)));
extern char guestkit_stack_top[];       /* arch/x86_64/start.S */

/* gk_smp_start from several vCPUs at once: one at a time (it also guards
 * the one context buffer, too big for a secondary's stack). */
static gk_spinlock_t start_lock = GK_SPINLOCK_INIT;
static struct vcpu_guest_context start_context;

static void smp_failed(const char *what, long value)
{
    gk_printf("guestkit: smp: %s (%ld)\n", what, value);
    gk_shutdown(SHUTDOWN_crash);
}

/* ---- waiting politely -------------------------------------------------------- */

void gk_smp_relax(unsigned int *spins)
{
    __builtin_ia32_pause();
    if (++*spins % GK_SPIN_PAUSES == 0)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);   /* let a vCPU waiting for our CPU run */
}

/* ---- spinlock ----------------------------------------------------------------- */

int gk_spin_trylock(gk_spinlock_t *lock)
{
    /* Read first: waiters spin on a shared cache line, not on xchg. */
    return __atomic_load_n(&lock->locked, __ATOMIC_RELAXED) == 0 &&
           __atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE) == 0;
}

void gk_spin_lock(gk_spinlock_t *lock)
{
    unsigned int spins = 0;
    while (!gk_spin_trylock(lock))
        gk_smp_relax(&spins);
}

void gk_spin_unlock(gk_spinlock_t *lock)
{
    __atomic_store_n(&lock->locked, 0, __ATOMIC_RELEASE);
}

/* ---- vCPUs ------------------------------------------------------------------- */

unsigned int gk_smp_vcpus(void)
{
    static unsigned int count;     /* 0 = not probed yet; racing probes agree */
    if (count)
        return count;
    unsigned int n = 0;
    while (n < GK_SMP_MAX_VCPUS && HYPERVISOR_vcpu_op(VCPUOP_is_up, n, NULL) >= 0)
        n++;
    count = n ? n : 1;             /* no vcpu_op at all: vCPU 0 still runs */
    return count;
}

int gk_smp_is_up(unsigned int cpu)
{
    return HYPERVISOR_vcpu_op(VCPUOP_is_up, cpu, NULL);
}

struct gk_cpu *gk_smp_cpu(unsigned int cpu)
{
    return cpu < GK_SMP_MAX_VCPUS ? &cpus[cpu] : NULL;
}

/* Fill in the fixed part of vCPU `cpu`'s struct gk_cpu. */
static struct gk_cpu *setup_cpu(unsigned int cpu)
{
    struct gk_cpu *c = &cpus[cpu];
    c->self = c;
    c->id = cpu;
    c->vcpu_info = &gk_shared_info->vcpu_info[cpu];
    c->stack_top = cpu == 0 ? (unsigned long)guestkit_stack_top
                            : (unsigned long)&stacks[cpu - 1][GK_SMP_STACK_SIZE];
    return c;
}

void gk_smp_init(void)
{
    if (gk_smp_active)
        return;
    gk_traps_init();
    struct gk_cpu *c = setup_cpu(0);
    c->state = GK_CPU_RUNNING;
    int rc = HYPERVISOR_set_segment_base(SEGBASE_GS_KERNEL, (unsigned long)c);
    if (rc)
        smp_failed("set_segment_base(SEGBASE_GS_KERNEL) failed", rc);
    if (gk_this_cpu() != c)
        smp_failed("%gs:0 does not read the kernel GS base just set", (long)gk_this_cpu());
    /* From here on gk_smp_cpu_id() and friends read %gs. */
    __atomic_store_n(&gk_smp_active, 1, __ATOMIC_SEQ_CST);
}

/* The virtual IDT gk_traps_init() installs on vCPU 0, as trap_ctxt wants
 * it (entry i = vector i): events masked on entry, DPL 3 where int3,
 * `int $4` and `int $5` must reach the handler. */
static void fill_trap_ctxt(struct trap_info *t)
{
    for (unsigned int v = 0; v < GK_NR_TRAPS; v++) {
        t[v].vector = (uint8_t)v;
        TI_SET_IF(&t[v], 1);
        if (v == GK_TRAP_BP || v == GK_TRAP_OF || v == GK_TRAP_BR)
            TI_SET_DPL(&t[v], 3);
        t[v].cs = FLAT_KERNEL_CS;
        t[v].address = gk_trap_entries[v];
    }
}

void gk_smp_context(unsigned int cpu, struct vcpu_guest_context *ctx)
{
    gk_traps_init();
    struct gk_cpu *c = setup_cpu(cpu);

    memset(ctx, 0, sizeof(*ctx));
    /* Guest-kernel mode; the failsafe callback masks events, as
     * gk_traps_init registers it (CALLBACKF_mask_events). */
    ctx->flags = VGCF_in_kernel | VGCF_failsafe_disables_events;

    struct cpu_user_regs *r = &ctx->user_regs;
    r->rip = (unsigned long)gk_smp_entry;
    r->rsp = c->stack_top;
    r->rdi = (unsigned long)c;
    r->rsi = cpu;                               /* checked by gk_smp_secondary */
    r->rflags = GK_RFLAGS_IF | 0x2;             /* bit 1 always reads 1 */
    r->cs = FLAT_KERNEL_CS;
    r->ss = FLAT_KERNEL_SS;
    r->ds = r->es = FLAT_KERNEL_DS;
    r->fs = r->gs = 0;                          /* a selector load would reset the bases */

    fill_trap_ctxt(ctx->trap_ctxt);
    ctx->kernel_ss = FLAT_KERNEL_SS;
    ctx->kernel_sp = c->stack_top;
    ctx->ctrlreg[3] = xen_pfn_to_cr3(gk_current_l4());   /* the same address space */
    ctx->event_callback_eip = (unsigned long)gk_hypervisor_callback;
    ctx->failsafe_callback_eip = (unsigned long)gk_failsafe_callback;
    /* vm_assist stays 0: Xen takes it from vCPU 0's context only. */
    ctx->gs_base_kernel = (unsigned long)c;
}

/* Until VCPUOP_is_up says vCPU `cpu` is down: VCPUOP_up before that would
 * be lost (the vCPU is still on its way into VCPUOP_down). */
static int wait_down(unsigned int cpu, uint64_t deadline_ns)
{
    unsigned int spins = 0;
    for (;;) {
        int up = gk_smp_is_up(cpu);
        if (up <= 0)
            return up;
        if (deadline_ns && gk_now_ns() >= deadline_ns)
            return -XEN_ETIMEDOUT;
        gk_smp_relax(&spins);
    }
}

int gk_smp_start(unsigned int cpu, gk_smp_fn_t fn, void *arg)
{
    if (cpu == 0 || cpu >= GK_SMP_MAX_VCPUS || !fn)
        return -XEN_EINVAL;
    gk_smp_init();
    struct gk_cpu *c = &cpus[cpu];
    int rc = 0;

    gk_spin_lock(&start_lock);
    int state = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
    if (state == GK_CPU_RUNNING) {
        rc = -XEN_EBUSY;
        goto out;
    }
    if (state == GK_CPU_OFF) {
        gk_smp_context(cpu, &start_context);
        rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, cpu, &start_context);
        if (rc)
            goto out;
        state = GK_CPU_READY;
        c->state = state;
    }
    /* READY or DONE: initialised, and down or about to be. */
    rc = wait_down(cpu, 0);
    if (rc)
        goto out;
    c->fn = fn;
    c->arg = arg;
    __atomic_store_n(&c->state, GK_CPU_RUNNING, __ATOMIC_RELEASE);
    rc = HYPERVISOR_vcpu_op(VCPUOP_up, cpu, NULL);
    if (rc)
        c->state = state;
out:
    gk_spin_unlock(&start_lock);
    return rc;
}

int gk_smp_join(unsigned int cpu, uint64_t deadline_ns)
{
    if (cpu == 0 || cpu >= GK_SMP_MAX_VCPUS)
        return -XEN_EINVAL;
    struct gk_cpu *c = &cpus[cpu];
    unsigned int spins = 0;
    while (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == GK_CPU_RUNNING) {
        if (deadline_ns && spins % GK_SPIN_PAUSES == 0 && gk_now_ns() >= deadline_ns)
            return -XEN_ETIMEDOUT;
        gk_smp_relax(&spins);
    }
    return c->state == GK_CPU_OFF ? 0 : wait_down(cpu, deadline_ns);
}

int gk_smp_down_self(void)
{
    return HYPERVISOR_vcpu_op(VCPUOP_down, gk_smp_cpu_id(), NULL);
}

int gk_smp_up(unsigned int cpu, uint64_t deadline_ns)
{
    int rc = wait_down(cpu, deadline_ns);
    return rc ? rc : HYPERVISOR_vcpu_op(VCPUOP_up, cpu, NULL);
}

/* ---- a secondary's life -------------------------------------------------------- */

void gk_smp_secondary(struct gk_cpu *c, unsigned long id, unsigned long entry_rsp)
{
    /* The start state is the hypervisor's to load: say so if it did not. */
    if (id != c->id)
        smp_failed("secondary started without its rsi (vCPU id) from the context", (long)id);
    if (entry_rsp != c->stack_top)
        smp_failed("secondary started without its rsp from the context", (long)entry_rsp);
    if (gk_this_cpu() != c)
        smp_failed("secondary's kernel GS base is not its gs_base_kernel", (long)gk_this_cpu());

    /* GuestKit's timers are single-shot (gk_timer_port stops it too). */
    HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, c->id, NULL);

    for (;;) {
        /* Up without gk_smp_start (a bare VCPUOP_up): nothing to run. */
        while (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != GK_CPU_RUNNING) {
            int rc = HYPERVISOR_vcpu_op(VCPUOP_down, c->id, NULL);
            if (rc)
                smp_failed("VCPUOP_down on itself failed", rc);
        }
        c->runs++;
        c->fn(c->arg);
        __atomic_store_n(&c->state, GK_CPU_DONE, __ATOMIC_RELEASE);
    }
}
