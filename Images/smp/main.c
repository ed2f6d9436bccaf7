/*
 * smp - every vCPU of the domain at work (GuestKit's <guestkit/smp.h>).
 *
 * vCPU 0 counts the domain's vCPUs (VCPUOP_is_up until -ENOENT) and brings
 * up every other one with gk_smp_start (VCPUOP_initialise + VCPUOP_up),
 * checking is_up before and after, that a second VCPUOP_initialise is
 * -EEXIST, and, on the last vCPU before it is started, that VCPUOP_up on a
 * never-initialised vCPU and VCPUOP_initialise with a non-canonical rip
 * are -EINVAL. Then all vCPUs, in phases separated by barriers:
 *
 *   - bind an IPI port of their own, take #BP through their own trap table
 *     (int3) and their own IPI through their own event callback (events
 *     enabled, no wait: only the upcall can run the handler);
 *   - pass a token round the ring of vCPUs by IPIs, `rounds` times (send to
 *     the next vCPU's port, wait on their own; one vCPU: to itself), each
 *     receiver checking the token and that its clock is not behind the
 *     sender's;
 *   - arm their own single-shot timer and wait for their own VIRQ_TIMER
 *     (and see a single-shot timer for another vCPU refused, -EINVAL);
 *   - increment a shared counter under a gk_spinlock_t `count` times each
 *     (read, pause, write: a broken lock loses updates; the total must be
 *     exact, and no two vCPUs may be inside at once);
 *   - the last vCPU downs itself: vCPU 0 sees is_up 0 and runstate offline
 *     (its offline time growing), sends it an IPI, brings it up, and sees
 *     it resume after its VCPUOP_down and take that IPI.
 *
 * Then the secondaries' function returns (they go down); vCPU 1 is started
 * again with a second function (gk_smp_start while it runs: -EBUSY), and
 * vCPU 0 reads every vCPU's runstate: running > 0, and running + runnable
 * + blocked + offline equal to the time since the hypervisor began to
 * count for it: Xen's way, since the vCPU was created (between system
 * time 0 and vCPU 0's first instruction; offline until brought up), or,
 * for a secondary, since its gk_smp_start (the line says which; vCPU 0
 * waits 50 ms before the first start so that the two differ). Each
 * secondary also reads runstate offline before it is started.
 *
 * Command line: rounds=N (default 200), count=N (default 20000).
 * Prints "smp: <n> vcpus up" once, one line per check, "smp: done" and
 * powers off; a failed check prints "smp: FAIL vcpu <i>: <what>" and
 * crashes the domain. Only vCPU 0 prints, except failures.
 */
#include <stdarg.h>
#include <guestkit/guestkit.h>

#define P "smp: "

#define MAX_VCPUS       GK_SMP_MAX_VCPUS
#define WAIT_LIMIT      (5 * GK_NS_PER_SEC)    /* longest wait for one event or state */
#define BARRIER_LIMIT   (30 * GK_NS_PER_SEC)   /* longest wait for the slowest vCPU of a phase */
#define SKEW_LIMIT      GK_NS_PER_MS           /* a receiver's clock behind its sender's */
#define DOWN_NS         (20 * GK_NS_PER_MS)    /* how long the parked vCPU stays down */
#define START_DELAY_NS  (50 * GK_NS_PER_MS)    /* boot to the first gk_smp_start */
#define NONE            (~0U)

static unsigned int nvcpus;
static unsigned long rounds = 200;
static unsigned long count = 20000;
static uint64_t boot_ns;                       /* system time at vCPU 0's first instruction */
static uint64_t started_ns[MAX_VCPUS][2];      /* around its gk_smp_start (initialise + up) */

/* What each vCPU reports to vCPU 0; a cache line each. */
struct report {
    int ipi_port;
    int timer_port;
    volatile unsigned int deliveries;   /* IPI handler runs on this vCPU */
    volatile unsigned int bp_hits;      /* #BP handler runs on this vCPU */
    uint64_t timer_after_ns;            /* arming -> VIRQ_TIMER */
    uint64_t timer_late_ns;             /* deadline -> VIRQ_TIMER */
    int64_t max_skew_ns;                /* own clock behind a sender's, at most */
} __attribute__((aligned(64)));

static struct report reports[MAX_VCPUS];

/* ---- output and failure ------------------------------------------------------ */

/* The console buffer is not SMP-safe: every line goes out under this lock,
 * with events masked (a failing event handler must not find its own vCPU
 * holding it). */
static gk_spinlock_t print_lock = GK_SPINLOCK_INIT;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    unsigned int saved = gk_irq_save();
    gk_spin_lock(&print_lock);
    gk_vprintf(fmt, ap);
    gk_spin_unlock(&print_lock);
    gk_irq_restore(saved);
    va_end(ap);
}

/* Keeps the print lock: nothing else is printed before the crash. */
static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gk_spin_lock(&print_lock);
    gk_printf(P "FAIL vcpu %u: ", gk_smp_cpu_id());
    gk_vprintf(fmt, ap);
    gk_putc('\n');
    va_end(ap);
    gk_shutdown(SHUTDOWN_crash);
}

/* Two digits after the point for a duration in ns shown in `unit` ns. */
static unsigned long whole(uint64_t ns, uint64_t unit) { return (unsigned long)(ns / unit); }
static unsigned long hundredths(uint64_t ns, uint64_t unit) { return (unsigned long)(ns % unit * 100 / unit); }

/* ---- waiting for each other -------------------------------------------------- */

static volatile unsigned int barrier_arrived, barrier_generation;

/* All nvcpus vCPUs meet here; the last one to arrive lets the others go. */
static void barrier(const char *phase)
{
    unsigned int generation = __atomic_load_n(&barrier_generation, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&barrier_arrived, 1, __ATOMIC_ACQ_REL) == nvcpus) {
        __atomic_store_n(&barrier_arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&barrier_generation, generation + 1, __ATOMIC_RELEASE);
        return;
    }
    uint64_t limit = gk_now_ns() + BARRIER_LIMIT;
    unsigned int spins = 0;
    while (__atomic_load_n(&barrier_generation, __ATOMIC_ACQUIRE) == generation) {
        gk_smp_relax(&spins);
        if (spins % GK_SPIN_PAUSES == 0 && gk_now_ns() > limit)
            fail("barrier after %s: only %u of %u vcpus arrived in %lu s", phase,
                 barrier_arrived, nvcpus, whole(BARRIER_LIMIT, GK_NS_PER_SEC));
    }
}

/* Spin (politely) until *flag is nonzero, or fail. */
static void await_flag(volatile int *flag, const char *what)
{
    uint64_t limit = gk_now_ns() + WAIT_LIMIT;
    unsigned int spins = 0;
    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
        gk_smp_relax(&spins);
        if (spins % GK_SPIN_PAUSES == 0 && gk_now_ns() > limit)
            fail("%s: nothing after %lu s", what, whole(WAIT_LIMIT, GK_NS_PER_SEC));
    }
}

/* ---- handlers ---------------------------------------------------------------- */

static void on_ipi(evtchn_port_t port)
{
    unsigned int me = gk_smp_cpu_id();
    if (gk_evtchn_owner(port) != me)
        fail("port %u (owner vcpu %u) handled here", port, gk_evtchn_owner(port));
    reports[me].deliveries++;
}

static void on_bp(struct gk_trap_frame *frame)
{
    (void)frame;                        /* a trap: rip is already past the int3 */
    reports[gk_smp_cpu_id()].bp_hits++;
}

/* ---- phase 1: own port, own trap table, own event callback --------------------- */

static void own_entry_points(unsigned int me)
{
    struct report *r = &reports[me];
    int port = gk_evtchn_bind_ipi(me);
    if (port < 0)
        fail("EVTCHNOP_bind_ipi(%u) -> %d", me, port);
    if (gk_evtchn_owner((evtchn_port_t)port) != me)
        fail("IPI port %d recorded for vcpu %u", port, gk_evtchn_owner((evtchn_port_t)port));
    r->ipi_port = port;
    gk_evtchn_set_handler((evtchn_port_t)port, on_ipi);

    __asm__ __volatile__ ("int3");
    if (r->bp_hits != 1)
        fail("int3: #BP handler ran %u times", r->bp_hits);

    /* Events on, no wait: only the event callback can run the handler,
     * on the way back from the send. */
    gk_irq_enable();
    int rc = gk_evtchn_send((evtchn_port_t)port);
    if (rc)
        fail("EVTCHNOP_send to its own port %d -> %d", port, rc);
    uint64_t limit = gk_now_ns() + WAIT_LIMIT;
    unsigned int spins = 0;
    while (r->deliveries == 0) {
        gk_smp_relax(&spins);
        if (gk_now_ns() > limit)
            fail("its own IPI (port %d) never reached its event callback", port);
    }
    if (gk_evtchn_wait((evtchn_port_t)port, gk_now_ns() + WAIT_LIMIT))   /* take the fired flag */
        fail("port %d: delivered but not marked fired", port);
}

/* ---- phase 2: the token ring ---------------------------------------------------- */

static volatile uint64_t token;         /* hops done */
static volatile uint64_t token_sent_ns; /* the sender's clock at its last send */
static uint64_t ring_ns;

static void take_token(unsigned int me, uint64_t expected)
{
    evtchn_port_t mine = (evtchn_port_t)reports[me].ipi_port;
    int rc = gk_evtchn_wait(mine, gk_now_ns() + WAIT_LIMIT);
    if (rc)
        fail("ring: no IPI on port %u for hop %lu (%d)", mine, (unsigned long)expected, rc);
    uint64_t now = gk_now_ns();
    int64_t skew = (int64_t)(token_sent_ns - now);
    if (skew > reports[me].max_skew_ns)
        reports[me].max_skew_ns = skew;
    if (skew > (int64_t)SKEW_LIMIT)
        fail("ring: clock %ld ns behind the sender's", (long)skew);
    if (token != expected)
        fail("ring: token %lu, expected %lu", (unsigned long)token, (unsigned long)expected);
}

/* Hop h is vCPU h % n's: take the token (but for hop 0), pass it on. */
static void ring(unsigned int me)
{
    uint64_t hops = rounds * nvcpus;
    evtchn_port_t next = (evtchn_port_t)reports[(me + 1) % nvcpus].ipi_port;
    uint64_t start = gk_now_ns();
    for (uint64_t h = me; h < hops; h += nvcpus) {
        if (h)
            take_token(me, h);
        token = h + 1;
        token_sent_ns = gk_now_ns();
        int rc = gk_evtchn_send(next);
        if (rc)
            fail("ring: EVTCHNOP_send to port %u -> %d", next, rc);
    }
    if (me == 0) {
        take_token(0, hops);            /* the last hop comes home */
        ring_ns = gk_now_ns() - start;
    }
}

/* ---- phase 3: own timer ----------------------------------------------------------- */

static void own_timer(unsigned int me)
{
    struct report *r = &reports[me];
    int port = gk_timer_port();
    if (port < 0)
        fail("binding VIRQ_TIMER on itself -> %d", port);
    if (gk_evtchn_owner((evtchn_port_t)port) != me)
        fail("VIRQ_TIMER port %d recorded for vcpu %u", port, gk_evtchn_owner((evtchn_port_t)port));
    r->timer_port = port;

    if (nvcpus > 1) {
        unsigned int other = (me + 1) % nvcpus;
        struct vcpu_set_singleshot_timer op = { .timeout_abs_ns = gk_now_ns() + GK_NS_PER_SEC };
        int rc = HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, other, &op);
        if (rc != -XEN_EINVAL)
            fail("VCPUOP_set_singleshot_timer for vcpu %u -> %d, expected %d", other, rc, -XEN_EINVAL);
    }

    gk_evtchn_clear((evtchn_port_t)port);         /* a tick of the old periodic timer */
    uint64_t start = gk_now_ns();
    uint64_t deadline = start + 5 * GK_NS_PER_MS + me * GK_NS_PER_MS;
    int rc = gk_timer_set(deadline);
    if (rc)
        fail("VCPUOP_set_singleshot_timer on itself -> %d", rc);
    uint64_t now;
    int early = 0;
    for (;;) {
        rc = gk_evtchn_wait((evtchn_port_t)port, deadline + GK_NS_PER_SEC);
        now = gk_now_ns();
        if (rc)
            fail("its VIRQ_TIMER (port %d) did not come within 1 s of the deadline (%d)", port, rc);
        if (now >= deadline)
            break;
        if (++early > 3)
            fail("VIRQ_TIMER keeps coming before the deadline");
    }
    r->timer_after_ns = now - start;
    r->timer_late_ns = now - deadline;
}

/* ---- phase 4: the spinlock ---------------------------------------------------------- */

static gk_spinlock_t counter_lock = GK_SPINLOCK_INIT;
static volatile unsigned long counter;
static volatile unsigned int inside = NONE;     /* who holds counter_lock */
static uint64_t lock_ns;

static void count_up(unsigned int me)
{
    for (unsigned long i = 0; i < count; i++) {
        gk_spin_lock(&counter_lock);
        if (inside != NONE)
            fail("spinlock: vcpu %u is inside too", inside);
        inside = me;
        unsigned long v = counter;
        __builtin_ia32_pause();         /* widen the window a broken lock would show */
        counter = v + 1;
        if (inside != me)
            fail("spinlock: vcpu %u came in meanwhile", inside);
        inside = NONE;
        gk_spin_unlock(&counter_lock);
    }
}

/* ---- phase 5: down and up again ------------------------------------------------------ */

static volatile int park_now, parking, resumed;

static void parked_vcpu(unsigned int me)
{
    await_flag(&park_now, "waiting for vcpu 0's go to down itself");
    __atomic_store_n(&parking, 1, __ATOMIC_RELEASE);
    int rc = gk_smp_down_self();
    if (rc)
        fail("VCPUOP_down on itself -> %d", rc);
    __atomic_store_n(&resumed, 1, __ATOMIC_RELEASE);
    rc = gk_evtchn_wait((evtchn_port_t)reports[me].ipi_port, gk_now_ns() + WAIT_LIMIT);
    if (rc)
        fail("the IPI sent while it was down never arrived (%d)", rc);
}

static struct vcpu_runstate_info runstate_of(unsigned int cpu)
{
    struct vcpu_runstate_info rs;
    int rc = HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, cpu, &rs);
    if (rc)
        fail("VCPUOP_get_runstate_info(%u) -> %d", cpu, rc);
    return rs;
}

static void wait_is_up(unsigned int cpu, int want, const char *when)
{
    uint64_t limit = gk_now_ns() + WAIT_LIMIT;
    unsigned int spins = 0;
    int up;
    while ((up = gk_smp_is_up(cpu)) != want) {
        if (up < 0 || gk_now_ns() > limit)
            fail("%s: VCPUOP_is_up(%u) -> %d, expected %d", when, cpu, up, want);
        gk_smp_relax(&spins);
    }
}

static void control_parking(unsigned int d)
{
    __atomic_store_n(&park_now, 1, __ATOMIC_RELEASE);
    await_flag(&parking, "vcpu going down");
    wait_is_up(d, 0, "after VCPUOP_down on itself");
    struct vcpu_runstate_info before = runstate_of(d);
    if (before.state != RUNSTATE_offline)
        fail("vcpu %u is down but its runstate is %d, not offline (%d)", d, before.state, RUNSTATE_offline);

    int rc = gk_evtchn_send((evtchn_port_t)reports[d].ipi_port);
    if (rc)
        fail("EVTCHNOP_send to the down vcpu's port -> %d", rc);
    gk_sleep_ns(DOWN_NS);
    if (gk_smp_is_up(d) != 0 || __atomic_load_n(&resumed, __ATOMIC_ACQUIRE))
        fail("vcpu %u came back by itself", d);
    struct vcpu_runstate_info after = runstate_of(d);
    uint64_t offline = after.time[RUNSTATE_offline] - before.time[RUNSTATE_offline];
    if (after.state != RUNSTATE_offline || offline < DOWN_NS / 2)
        fail("vcpu %u down for %lu ms: runstate %d, offline time grew by %lu us", d,
             whole(DOWN_NS, GK_NS_PER_MS), after.state, whole(offline, GK_NS_PER_US));

    rc = gk_smp_up(d, gk_now_ns() + WAIT_LIMIT);
    if (rc)
        fail("VCPUOP_up(%u) -> %d", d, rc);
    await_flag(&resumed, "vcpu resuming after VCPUOP_up");
    if (gk_smp_is_up(d) != 1)
        fail("vcpu %u resumed but VCPUOP_is_up says %d", d, gk_smp_is_up(d));
    say(P "vcpu %u downed itself: is_up 0, runstate offline (%lu ms more while down); "
          "VCPUOP_up: it resumed, and the IPI sent while it was down arrived\n",
        d, whole(offline, GK_NS_PER_MS));
}

/* ---- what every vCPU does ------------------------------------------------------------- */

static void report_timers(void)
{
    for (unsigned int i = 0; i < nvcpus; i++) {
        for (unsigned int j = 0; j < i; j++)
            if (reports[i].timer_port == reports[j].timer_port || reports[i].ipi_port == reports[j].ipi_port)
                fail("vcpus %u and %u share a port", j, i);
        say(P "vcpu %u: VIRQ_TIMER on port %d came %lu.%02lu ms after arming, %lu us late\n", i,
            reports[i].timer_port, whole(reports[i].timer_after_ns, GK_NS_PER_MS),
            hundredths(reports[i].timer_after_ns, GK_NS_PER_MS), whole(reports[i].timer_late_ns, GK_NS_PER_US));
    }
    if (nvcpus > 1)
        say(P "timers: each vcpu woke by its own VIRQ_TIMER; a singleshot timer for another vcpu -> %d\n", -XEN_EINVAL);
    else
        say(P "timers: each vcpu woke by its own VIRQ_TIMER\n");
}

static void work(unsigned int me)
{
    own_entry_points(me);
    barrier("own entry points");
    if (me == 0)
        say(P "every vcpu took #BP through its own trap table and its own IPI through its event callback\n");

    ring(me);
    barrier("ring");
    if (me == 0) {
        int64_t skew = 0;
        for (unsigned int i = 0; i < nvcpus; i++)
            if (reports[i].max_skew_ns > skew)
                skew = reports[i].max_skew_ns;
        uint64_t hops = rounds * nvcpus, per_hop = hops ? ring_ns / hops : 0;
        say(P "ring: token went %lu times round %u vcpu%s (%lu IPIs), %lu.%02lu us per hop, "
              "receiver's clock behind sender's by %ld ns at most\n",
            rounds, nvcpus, nvcpus == 1 ? " (itself)" : "s", (unsigned long)hops,
            whole(per_hop, GK_NS_PER_US), hundredths(per_hop, GK_NS_PER_US), (long)skew);
    }

    own_timer(me);
    barrier("timers");
    if (me == 0)
        report_timers();

    barrier("spinlock start");
    uint64_t start = gk_now_ns();
    count_up(me);
    barrier("spinlock");
    if (me == 0) {
        lock_ns = gk_now_ns() - start;
        unsigned long expected = count * nvcpus;
        if (counter != expected)
            fail("spinlock: counter %lu, expected %u x %lu = %lu", counter, nvcpus, count, expected);
        say(P "spinlock: %u vcpus x %lu increments = %lu (exact) in %lu ms\n",
            nvcpus, count, counter, whole(lock_ns, GK_NS_PER_MS));
    }

    if (nvcpus > 1) {
        unsigned int d = nvcpus - 1;
        if (me == d)
            parked_vcpu(me);
        else if (me == 0)
            control_parking(d);
    }
    barrier("down and up");
}

/* ---- secondaries ----------------------------------------------------------------------- */

static volatile unsigned int arrived;

static void secondary(void *arg)
{
    unsigned int me = gk_smp_cpu_id();
    if (me != (unsigned int)(uintptr_t)arg)
        fail("gk_smp_cpu_id() is %u on the vcpu started as %u", me, (unsigned int)(uintptr_t)arg);
    if (!gk_irqs_disabled())
        fail("started with events unmasked");
    if (gk_smp_vcpu_info()->time.tsc_to_system_mul == 0)
        fail("its vcpu_info.time (pvclock) was never filled in");
    __atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL);
    work(me);
}

/* Started again on vCPU 1 once the first function has returned. */
static volatile int second_go, second_ran;

static void second_function(void *arg)
{
    (void)arg;
    await_flag(&second_go, "waiting for vcpu 0 in the second function");
    __atomic_store_n(&second_ran, (int)gk_smp_cpu_id() + 100, __ATOMIC_RELEASE);
}

static void restart_vcpu1(void)
{
    int rc = gk_smp_start(1, second_function, NULL);
    if (rc)
        fail("gk_smp_start(1) again, after its function returned -> %d", rc);
    rc = gk_smp_start(1, second_function, NULL);
    if (rc != -XEN_EBUSY)
        fail("gk_smp_start(1) while it runs -> %d, expected %d", rc, -XEN_EBUSY);
    __atomic_store_n(&second_go, 1, __ATOMIC_RELEASE);
    rc = gk_smp_join(1, gk_now_ns() + WAIT_LIMIT);
    if (rc)
        fail("gk_smp_join(1) after the second function -> %d", rc);
    if (second_ran != 101 || gk_smp_cpu(1)->runs != 2)
        fail("vcpu 1's second function: mark %d, runs %lu", second_ran, (unsigned long)gk_smp_cpu(1)->runs);
    say(P "vcpu 1 ran a second function after it went down (gk_smp_start while it ran -> %d)\n", -XEN_EBUSY);
}

/* ---- vCPU 0 ---------------------------------------------------------------------------- */

static struct vcpu_guest_context context;

static void bring_up(void)
{
    unsigned int last = nvcpus - 1;

    /* The last vCPU is still untouched: what a never-initialised one says. */
    int up_rc = HYPERVISOR_vcpu_op(VCPUOP_up, last, NULL);
    if (up_rc != -XEN_EINVAL)
        fail("VCPUOP_up on never-initialised vcpu %u -> %d, expected %d", last, up_rc, -XEN_EINVAL);
    gk_smp_context(last, &context);
    context.user_regs.rip = 0x0000800000000000UL;          /* first non-canonical address */
    int init_rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, last, &context);
    if (init_rc != -XEN_EINVAL)
        fail("VCPUOP_initialise of vcpu %u with a non-canonical rip -> %d, expected %d", last, init_rc, -XEN_EINVAL);
    if (gk_smp_is_up(last) != 0)
        fail("vcpu %u is up after two refused calls", last);
    say(P "vcpu %u never initialised: VCPUOP_up -> %d, VCPUOP_initialise with a non-canonical rip -> %d, is_up 0 ok\n",
        last, up_rc, init_rc);

    /* Let time pass first, so the runstates tell a vCPU's creation from
     * its start apart (check_runstates). */
    gk_sleep_ns(START_DELAY_NS);

    for (unsigned int i = 1; i < nvcpus; i++) {
        int before = gk_smp_is_up(i);
        if (before != 0)
            fail("VCPUOP_is_up(%u) before its start -> %d, expected 0", i, before);
        struct vcpu_runstate_info down = runstate_of(i);
        if (down.state != RUNSTATE_offline)
            fail("never-started vcpu %u: runstate %d, expected offline (%d)", i, down.state, RUNSTATE_offline);
        started_ns[i][0] = gk_now_ns();
        int rc = gk_smp_start(i, secondary, (void *)(uintptr_t)i);
        started_ns[i][1] = gk_now_ns();
        if (rc)
            fail("gk_smp_start(%u) (VCPUOP_initialise + VCPUOP_up) -> %d", i, rc);
        int after = gk_smp_is_up(i);
        if (after != 1)
            fail("VCPUOP_is_up(%u) after VCPUOP_up -> %d, expected 1", i, after);
        gk_smp_context(i, &context);
        int again = HYPERVISOR_vcpu_op(VCPUOP_initialise, i, &context);
        if (again != -XEN_EEXIST)
            fail("second VCPUOP_initialise of vcpu %u -> %d, expected %d", i, again, -XEN_EEXIST);
        say(P "vcpu %u started: runstate offline (%lu ms), is_up %d -> %d, VCPUOP_initialise again -> %d ok\n",
            i, whole(down.time[RUNSTATE_offline], GK_NS_PER_MS), before, after, again);
    }

    uint64_t limit = gk_now_ns() + WAIT_LIMIT;
    unsigned int spins = 0;
    while (__atomic_load_n(&arrived, __ATOMIC_ACQUIRE) != nvcpus - 1) {
        gk_smp_relax(&spins);
        if (spins % GK_SPIN_PAUSES == 0 && gk_now_ns() > limit)
            fail("only %u of %u secondary vcpus reached their function", arrived, nvcpus - 1);
    }
}

/* Every vCPU's runstate: running > 0, and the four times adding up to the
 * time since the hypervisor started counting for the vCPU: Xen counts from
 * its creation (a vCPU not yet brought up is offline), which must lie
 * between system time 0 and vCPU 0's first instruction; a hypervisor that
 * counts a secondary only from its VCPUOP_initialise/up is accepted and
 * named. */
static void check_runstates(void)
{
    for (unsigned int i = 0; i < nvcpus; i++) {
        uint64_t before = gk_now_ns();
        struct vcpu_runstate_info rs = runstate_of(i);
        uint64_t after = gk_now_ns();
        uint64_t sum = rs.time[RUNSTATE_running] + rs.time[RUNSTATE_runnable] +
                       rs.time[RUNSTATE_blocked] + rs.time[RUNSTATE_offline];
        int expected_state = i == 0 ? RUNSTATE_running : RUNSTATE_offline;
        int64_t since = (int64_t)(before / 2 + after / 2) - (int64_t)sum;    /* system time counting began */
        int64_t tolerance = (int64_t)(2 * GK_NS_PER_MS + after / 100);
        const char *from;
        if (since >= -tolerance && since <= (int64_t)boot_ns + tolerance)
            from = "its creation, before vcpu 0 started";
        else if (i > 0 && since >= (int64_t)started_ns[i][0] - tolerance && since <= (int64_t)started_ns[i][1] + tolerance)
            from = "its VCPUOP_initialise/up, not its creation";
        else
            fail("vcpu %u's runstate adds up to %lu us at clock %lu us: counted from %ld us, neither before vcpu 0's "
                 "first instruction (%lu us) nor at its start (%lu..%lu us), +- %lu us",
                 i, whole(sum, GK_NS_PER_US), whole(after, GK_NS_PER_US), (long)(since / 1000),
                 whole(boot_ns, GK_NS_PER_US), whole(started_ns[i][0], GK_NS_PER_US),
                 whole(started_ns[i][1], GK_NS_PER_US), whole((uint64_t)tolerance, GK_NS_PER_US));

        say(P "vcpu %u runstate ms: running %lu runnable %lu blocked %lu offline %lu = %lu, "
              "since %lu.%02lu ms: %s\n", i,
            whole(rs.time[RUNSTATE_running], GK_NS_PER_MS), whole(rs.time[RUNSTATE_runnable], GK_NS_PER_MS),
            whole(rs.time[RUNSTATE_blocked], GK_NS_PER_MS), whole(rs.time[RUNSTATE_offline], GK_NS_PER_MS),
            whole(sum, GK_NS_PER_MS), whole(since > 0 ? (uint64_t)since : 0, GK_NS_PER_MS),
            hundredths(since > 0 ? (uint64_t)since : 0, GK_NS_PER_MS), from);
        if (rs.time[RUNSTATE_running] == 0)
            fail("vcpu %u has no running time", i);
        if (rs.state != expected_state)
            fail("vcpu %u runstate %d, expected %d", i, rs.state, expected_state);
    }
    say(P "runstates: running > 0 on every vcpu, each adds up to the time since it was counted from "
          "(domain clock %lu ms, vcpu 0's first instruction at %lu.%02lu ms)\n",
        whole(gk_now_ns(), GK_NS_PER_MS), whole(boot_ns, GK_NS_PER_MS), hundredths(boot_ns, GK_NS_PER_MS));
}

void gk_main(void)
{
    boot_ns = gk_now_ns();
    gk_cmdline_number("rounds", &rounds);
    gk_cmdline_number("count", &count);
    if (rounds == 0)
        rounds = 1;

    nvcpus = gk_smp_vcpus();
    int up0 = gk_smp_is_up(0);
    int beyond = nvcpus < MAX_VCPUS ? gk_smp_is_up(nvcpus) : -XEN_ENOENT;
    if (up0 != 1 || beyond != -XEN_ENOENT)
        fail("VCPUOP_is_up: vcpu 0 -> %d, vcpu %u -> %d", up0, nvcpus, beyond);
    say(P "domain has %u vcpus (VCPUOP_is_up: vcpu 0 -> 1, vcpu %u -> %d)\n", nvcpus, nvcpus, beyond);
    gk_set_trap_handler(GK_TRAP_BP, on_bp);

    if (nvcpus > 1)
        bring_up();
    else
        say(P "only vcpu 0: the ring is vcpu 0 alone; bring-up, down/up and restart checks skipped\n");
    say(P "%u vcpus up\n", nvcpus);

    work(0);

    for (unsigned int i = 1; i < nvcpus; i++) {
        int rc = gk_smp_join(i, gk_now_ns() + WAIT_LIMIT);
        if (rc)
            fail("gk_smp_join(%u) -> %d", i, rc);
    }
    if (nvcpus > 1)
        restart_vcpu1();
    check_runstates();
    say(P "done\n");
}
