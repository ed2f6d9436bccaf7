/*
 * time.c - system time from the pvclock, the wall clock, VIRQ_TIMER-based
 * timers and sleeping, and runstate (steal time).
 *
 * Timers and runstate are per vCPU, as the hypervisor keeps them: each
 * vCPU has its own VIRQ_TIMER binding, single-shot deadline and runstate
 * area, indexed by gk_smp_cpu_id() (always 0 without SMP).
 */
#include <guestkit/guestkit.h>

/* One vCPU's timer. */
struct cpu_timer {
    int port;                           /* VIRQ_TIMER's port, -1 until bound */
    volatile uint64_t armed_deadline;   /* single-shot deadline set, 0 = none */
};

static struct cpu_timer timers[GK_SMP_MAX_VCPUS] = {
    [0 ... GK_SMP_MAX_VCPUS - 1] = { .port = -1 },
};

static inline struct cpu_timer *my_timer(void)
{
    return &timers[gk_smp_cpu_id()];
}

/* ---- clock ------------------------------------------------------------------ */

static inline uint64_t rdtsc_ordered(void)
{
    uint32_t lo, hi;
    /* lfence: the TSC is read after the loads before it (the pvclock fields). */
    __asm__ __volatile__ ("lfence; rdtsc" : "=a" (lo), "=d" (hi) :: "memory");
    return ((uint64_t)hi << 32) | lo;
}

/* Ticks since tsc_timestamp -> ns, as Xen defines the scale. */
static inline uint64_t scale_delta(uint64_t delta, uint32_t mul, int8_t shift)
{
    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

uint64_t gk_now_ns(void)
{
    gk_traps_init();
    /* The calling vCPU's pvclock; vCPU 0's if the hypervisor has not
     * filled this one in (yet): the TSC is the host's, one scale fits. */
    const volatile struct vcpu_time_info *t = &gk_smp_vcpu_info()->time;
    if (t->tsc_to_system_mul == 0)
        t = &gk_vcpu_info->time;
    uint32_t version;
    uint64_t tsc_timestamp, system_time, tsc;
    uint32_t mul;
    int8_t shift;

    do {
        version = t->version;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        tsc_timestamp = t->tsc_timestamp;
        system_time = t->system_time;
        mul = t->tsc_to_system_mul;
        shift = t->tsc_shift;
        tsc = rdtsc_ordered();
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((version & 1) || version != t->version);

    return system_time + scale_delta(tsc - tsc_timestamp, mul, shift);
}

void gk_wallclock(uint64_t *sec, uint32_t *nsec)
{
    gk_traps_init();
    const volatile shared_info_t *s = gk_shared_info;
    uint32_t version, wc_sec, wc_nsec, wc_sec_hi;

    do {
        version = s->wc_version;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        wc_sec = s->wc_sec;
        wc_nsec = s->wc_nsec;
        wc_sec_hi = s->wc_sec_hi;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((version & 1) || version != s->wc_version);

    uint64_t ns = (uint64_t)wc_nsec + gk_now_ns();
    *sec = ((uint64_t)wc_sec_hi << 32 | wc_sec) + ns / GK_NS_PER_SEC;
    *nsec = (uint32_t)(ns % GK_NS_PER_SEC);
}

/* ---- timers ------------------------------------------------------------------ */

/* Every VIRQ_TIMER (taken by the vCPU it was bound on): whatever
 * single-shot deadline was armed has passed (or it was the periodic timer;
 * arming again is then merely redundant). */
static void timer_fired(evtchn_port_t port)
{
    (void)port;
    my_timer()->armed_deadline = 0;
}

int gk_timer_port(void)
{
    struct cpu_timer *t = my_timer();
    if (t->port >= 0)
        return t->port;
    unsigned int me = gk_smp_cpu_id();
    int rc = gk_evtchn_bind_virq_on(VIRQ_TIMER, me);
    if (rc < 0)
        return rc;
    t->port = rc;
    gk_evtchn_set_handler((evtchn_port_t)t->port, timer_fired);
    /* A PV vCPU starts with a 10 ms periodic timer: GuestKit's timers are
     * single-shot. (A hypervisor without one may refuse; harmless.) */
    HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, me, NULL);
    return t->port;
}

int gk_timer_set(uint64_t deadline_ns)
{
    int rc = gk_timer_port();
    if (rc < 0)
        return rc;
    struct cpu_timer *t = my_timer();
    struct vcpu_set_singleshot_timer op = { .timeout_abs_ns = deadline_ns, .flags = 0 };
    t->armed_deadline = deadline_ns;
    rc = HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, gk_smp_cpu_id(), &op);
    if (rc)
        t->armed_deadline = 0;
    return rc;
}

int gk_timer_cancel(void)
{
    int rc = gk_timer_port();
    if (rc < 0)
        return rc;
    my_timer()->armed_deadline = 0;
    return HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, gk_smp_cpu_id(), NULL);
}

int gk_timer_arm(uint64_t deadline_ns)
{
    uint64_t armed = my_timer()->armed_deadline;
    /* An earlier deadline still ahead will wake the waiter in time. */
    if (armed && armed <= deadline_ns && gk_now_ns() < armed)
        return 0;
    return gk_timer_set(deadline_ns);
}

int gk_timer_periodic(uint64_t period_ns)
{
    int rc = gk_timer_port();
    if (rc < 0)
        return rc;
    if (period_ns == 0)
        return HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, gk_smp_cpu_id(), NULL);
    struct vcpu_set_periodic_timer op = { .period_ns = period_ns };
    return HYPERVISOR_vcpu_op(VCPUOP_set_periodic_timer, gk_smp_cpu_id(), &op);
}

/* ---- blocking ------------------------------------------------------------------ */

void gk_sleep_until(uint64_t deadline_ns)
{
    if (gk_timer_port() < 0) {
        /* No timer: nothing would wake us. Should not happen; spin. */
        while (gk_now_ns() < deadline_ns)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        return;
    }
    /* Masked while checking the time, so the timer event cannot be handled
     * between the check and SCHEDOP_block (which unmasks and returns at
     * once if it is already pending). */
    /* Arm the singleshot timer and poll on VIRQ_TIMER's port in one entry (multicall); the poll's own
     * timeout is a safety net a little after the deadline. */
    struct cpu_timer *t = my_timer();
    while (gk_now_ns() < deadline_ns) {
        struct vcpu_set_singleshot_timer op = { .timeout_abs_ns = deadline_ns, .flags = 0 };
        multicall_entry_t arm = { .op = __HYPERVISOR_vcpu_op,
                                  .args = { VCPUOP_set_singleshot_timer, gk_smp_cpu_id(), (unsigned long)&op } };
        t->armed_deadline = deadline_ns;
        if (gk_evtchn_call_and_wait(&arm, (evtchn_port_t)t->port, deadline_ns + 100 * GK_NS_PER_MS) != 0)
            t->armed_deadline = 0;
    }
}

void gk_sleep_ns(uint64_t ns)
{
    gk_sleep_until(gk_now_ns() + ns);
}

void gk_idle(void)
{
    gk_traps_init();
    for (;;)
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);   /* unmasks; upcalls run on return */
}

/* ---- runstate ------------------------------------------------------------------ */

/* One area per vCPU; registered[] says which ones the hypervisor writes. */
static struct vcpu_runstate_info runstates[GK_SMP_MAX_VCPUS];
static int runstate_registered[GK_SMP_MAX_VCPUS];

int gk_runstate_register(void)
{
    gk_traps_init();
    unsigned int me = gk_smp_cpu_id();
    /* Lets a reader tell a half-written area (XEN_RUNSTATE_UPDATE); without
     * it the entry-time check below still catches updates. */
    HYPERVISOR_vm_assist(VMASST_CMD_enable, VMASST_TYPE_runstate_update_flag);
    struct vcpu_register_runstate_memory_area area = { .addr.v = &runstates[me] };
    int rc = HYPERVISOR_vcpu_op(VCPUOP_register_runstate_memory_area, me, &area);
    if (rc == 0)
        runstate_registered[me] = 1;
    return rc;
}

int gk_runstate(struct vcpu_runstate_info *out)
{
    unsigned int me = gk_smp_cpu_id();
    if (!runstate_registered[me])
        return -XEN_ENODATA;
    const volatile struct vcpu_runstate_info *r = &runstates[me];
    uint64_t entry;

    /* The hypervisor rewrites the area when the vCPU changes state: copy
     * until state_entry_time is the same before and after, and not marked
     * as being updated. */
    do {
        entry = r->state_entry_time;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        out->state = r->state;
        for (int i = 0; i < 4; i++)
            out->time[i] = r->time[i];
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((entry & XEN_RUNSTATE_UPDATE) || entry != r->state_entry_time);
    out->state_entry_time = entry;
    return 0;
}

uint64_t gk_steal_ns(void)
{
    struct vcpu_runstate_info r;
    if (gk_runstate(&r))
        return 0;
    return r.time[RUNSTATE_runnable] + r.time[RUNSTATE_offline];
}
