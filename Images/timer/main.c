/*
 * timer - Xen time for a PV guest: pvclock, VIRQ_TIMER, single-shot,
 * set_timer_op and periodic timers, runstate (steal time), wall clock.
 *
 * Binds VIRQ_TIMER, registers a runstate area, then sleeps 20 x 10 ms on
 * single-shot timers (VCPUOP_set_singleshot_timer + SCHEDOP_block) and
 * prints how late each wake-up was by the pvclock; then the median and
 * p99 lateness and the steal time, one sleep on set_timer_op, five ticks
 * of a 10 ms periodic timer, and the wall clock. Powers off; on a broken
 * clock or a failed hypercall prints `timer: FAILED <what>` and crashes.
 *
 * With `count` on the command line (and optionally `period_ms=N`, default
 * 100) it instead binds VIRQ_TIMER, skips the checks and prints
 * `timer: tick <n> at <ms> ms` once per period, forever: a long-running
 * guest for the toolstack's pause, save and restore. <ms> is system time
 * since the first tick.
 */
#include <guestkit/guestkit.h>

#define P "timer: "

#define SLEEPS      20
#define INTERVAL    (10 * GK_NS_PER_MS)

static void failed(const char *what, long rc)
{
    gk_printf(P "FAILED %s (%ld)\n", what, rc);
    gk_shutdown(SHUTDOWN_crash);
}

static uint64_t us(uint64_t ns)
{
    return ns / GK_NS_PER_US;
}

/* Tenths of a microsecond, for "%lu.%lu us". */
static uint64_t tenths(uint64_t ns)
{
    return ns % GK_NS_PER_US / 100;
}

static void sort(uint64_t *v, int n)
{
    for (int i = 1; i < n; i++) {
        uint64_t x = v[i];
        int j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* The pvclock must be set up and move forward. */
static void check_clock(void)
{
    const struct vcpu_time_info *t = &gk_vcpu_info->time;
    if (t->tsc_to_system_mul == 0)
        failed("pvclock: tsc_to_system_mul is 0 (vcpu_info.time not set up)", 0);
    uint64_t a = gk_now_ns();
    uint64_t b = gk_now_ns();
    if (b < a)
        failed("pvclock: time went backwards", (long)(a - b));
    gk_printf(P "pvclock: system time %lu ms, tsc_to_system_mul %u, tsc_shift %d, flags 0x%x\n",
              a / GK_NS_PER_MS, t->tsc_to_system_mul, t->tsc_shift, t->flags);
}

static void runstate(void)
{
    int rc = gk_runstate_register();
    if (rc)
        failed("VCPUOP_register_runstate_memory_area", rc);
    struct vcpu_runstate_info r;
    gk_runstate(&r);
    if (r.state != RUNSTATE_running)
        failed("runstate: not RUNSTATE_running while running", r.state);
    gk_printf(P "runstate registered: running since %lu ms, running %lu us, runnable %lu us, blocked %lu us, offline %lu us\n",
              r.state_entry_time / GK_NS_PER_MS, us(r.time[RUNSTATE_running]),
              us(r.time[RUNSTATE_runnable]), us(r.time[RUNSTATE_blocked]),
              us(r.time[RUNSTATE_offline]));
}

/* 20 sleeps of 10 ms on the single-shot timer. */
static void singleshot(void)
{
    uint64_t late[SLEEPS];

    for (int i = 0; i < SLEEPS; i++) {
        uint64_t deadline = gk_now_ns() + INTERVAL;
        gk_sleep_until(deadline);
        uint64_t now = gk_now_ns();
        if (now < deadline)
            failed("woke before the deadline", (long)(deadline - now));
        late[i] = now - deadline;
        gk_printf(P "slept 10 ms, late %lu.%lu us\n", us(late[i]), tenths(late[i]));
    }
    sort(late, SLEEPS);
    uint64_t median = (late[SLEEPS / 2 - 1] + late[SLEEPS / 2]) / 2;
    uint64_t p99 = late[(99 * SLEEPS + 99) / 100 - 1];     /* nearest rank */
    uint64_t steal = gk_steal_ns();
    gk_printf(P "median lateness %lu.%lu us, p99 %lu.%lu us, steal %lu.%lu us\n",
              us(median), tenths(median), us(p99), tenths(p99), us(steal), tenths(steal));
}

/* One 10 ms sleep on set_timer_op (the same single-shot timer, older call). */
static void timer_op(void)
{
    uint64_t deadline = gk_now_ns() + INTERVAL;
    unsigned int saved = gk_irq_save();
    while (gk_now_ns() < deadline) {
        int rc = HYPERVISOR_set_timer_op(deadline);
        if (rc)
            failed("set_timer_op", rc);
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
        gk_irq_disable();
    }
    gk_irq_restore(saved);
    uint64_t late = gk_now_ns() - deadline;
    gk_printf(P "set_timer_op slept 10 ms, late %lu.%lu us\n", us(late), tenths(late));
}

/* Five ticks of a 10 ms periodic timer (within a second). */
static void periodic(void)
{
    int port = gk_timer_port();
    int rc = gk_timer_periodic(INTERVAL);
    if (rc)
        failed("VCPUOP_set_periodic_timer", rc);
    gk_evtchn_clear((evtchn_port_t)port);
    uint64_t start = gk_now_ns();
    uint64_t give_up = start + GK_NS_PER_SEC;
    int ticks = 0;
    while (ticks < 5 && gk_evtchn_wait((evtchn_port_t)port, give_up) == 0)
        ticks++;
    uint64_t took = gk_now_ns() - start;
    gk_timer_periodic(0);
    gk_timer_cancel();
    if (ticks < 5)
        failed("periodic timer: ticks in one second", ticks);
    if (took < 4 * INTERVAL)
        failed("periodic timer: 5 ticks too fast (us)", (long)us(took));
    gk_printf(P "periodic timer: 5 ticks in %lu ms\n", took / GK_NS_PER_MS);
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian). */
static void civil(uint64_t days, unsigned *y, unsigned *m, unsigned *d)
{
    uint64_t z = days + 719468;
    uint64_t era = z / 146097;
    uint64_t doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = (unsigned)(yoe + era * 400 + (*m <= 2));
}

static void wallclock(void)
{
    uint64_t sec;
    uint32_t nsec;
    unsigned y, m, d;

    gk_wallclock(&sec, &nsec);
    civil(sec / 86400, &y, &m, &d);
    uint64_t s = sec % 86400;
    gk_printf(P "wall clock %lu.%09u (%04u-%02u-%02u %02lu:%02lu:%02lu UTC)\n",
              sec, nsec, y, m, d, s / 3600, s / 60 % 60, s % 60);
}

/* ---- count mode ---------------------------------------------------------------- */

#define COUNT_PERIOD_MS 100

/*
 * Sleep until system time `deadline` on the single-shot timer and
 * SCHEDOP_block. The timer is armed again on every wake-up rather than
 * trusted to be still pending: after a restore into a new VM the
 * hypervisor's timer state is the one thing not in our memory. A deadline
 * more than `period` ahead means the clock went backwards: wait one period
 * from now instead.
 */
static void count_sleep_until(uint64_t deadline, uint64_t period)
{
    unsigned int saved = gk_irq_save();     /* no event between the check and the block */
    for (;;) {
        uint64_t now = gk_now_ns();
        if (now >= deadline)
            break;
        if (deadline - now > period)
            deadline = now + period;
        int rc = gk_timer_set(deadline);
        if (rc)
            failed("VCPUOP_set_singleshot_timer", rc);
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);   /* unmasks; returns at once if pending */
        gk_irq_disable();
    }
    gk_irq_restore(saved);
}

/*
 * One line per period, forever. Ticks keep to the grid t0 + k * period
 * while they are on time; a tick later than a whole period (the domain
 * was paused, or restored with the clock jumped ahead) is printed once
 * with the next number and the grid restarts from it: no burst of lines
 * to catch up. T adds only forward steps of the clock, so it never runs
 * backwards.
 */
static __attribute__((noreturn)) void count(void)
{
    unsigned long period_ms = COUNT_PERIOD_MS;
    if (gk_cmdline_value("period_ms") && (!gk_cmdline_number("period_ms", &period_ms) || period_ms == 0))
        failed("period_ms= must be a positive number of milliseconds", 0);
    uint64_t period = period_ms * GK_NS_PER_MS;
    gk_printf(P "counting, a tick every %lu ms\n", period_ms);

    uint64_t prev = gk_now_ns(), elapsed = 0, next = prev;
    for (unsigned long n = 1;; n++) {
        gk_printf(P "tick %lu at %lu ms\n", n, elapsed / GK_NS_PER_MS);
        next += period;
        uint64_t now = gk_now_ns();
        if (now >= next)
            next = now + period;
        count_sleep_until(next, period);
        now = gk_now_ns();
        if (now > prev)
            elapsed += now - prev;
        else
            next = now;                     /* the clock went back: a fresh grid */
        prev = now;
    }
}

void gk_main(void)
{
    gk_traps_init();
    int port = gk_timer_port();
    if (port < 0)
        failed("EVTCHNOP_bind_virq(VIRQ_TIMER)", port);
    gk_printf(P "VIRQ_TIMER bound to port %d\n", port);
    if (gk_cmdline_has("count"))
        count();

    runstate();
    check_clock();
    gk_irq_enable();

    singleshot();
    timer_op();
    periodic();
    wallclock();
}
