/*
 * spinner - a domain that burns CPU and reports its loop rate every second.
 *
 * Command line:
 *   seconds=N    power off after N seconds of system time (default: spin
 *                until the toolstack destroys it)
 *   background   mark all its work as background with the priority hint
 *                (SCHEDOP_priority_hint): it should then run only while no
 *                normal work of any domain is runnable
 *   yield        SCHEDOP_yield after every 64 kloops: a polite spinner that
 *                lets any vCPU waiting for its CPU go first
 *
 * It stops the 10 ms periodic timer and binds nothing: it has nothing to
 * wake for, and taking an event would clear the background mark.
 * Each second: "spinner: <n> kloops/s" (1 kloop = 1000 dependent adds).
 * At the end (seconds=N): its runstate (VCPUOP_get_runstate_info) in ms
 * per state, and the system time elapsed since its first instruction.
 */
#include <guestkit/guestkit.h>

#define P "spinner: "

static volatile unsigned long sink;

/* One kloop: a fixed amount of work whose rate is the CPU the domain got. */
static void kloop(void)
{
    unsigned long x = sink;
    for (int i = 0; i < 1000; i++)
        __asm__ volatile("add $1, %0" : "+r"(x));
    sink = x;
}

void gk_main(void)
{
    uint64_t start = gk_now_ns();
    gk_traps_init();
    HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);

    unsigned long seconds = 0;
    gk_cmdline_number("seconds", &seconds);
    int background = gk_cmdline_has("background");
    int polite = gk_cmdline_has("yield");
    if (background) {
        struct sched_priority_hint hint = { .background = 1 };
        int rc = HYPERVISOR_sched_op(SCHEDOP_priority_hint, &hint);
        if (rc) {
            gk_printf(P "SCHEDOP_priority_hint: %d\n", rc);
            gk_panic("cannot mark background work");
        }
    }
    gk_printf(P "spinning%s%s\n", background ? " as background work" : "", polite ? ", yielding" : "");

    uint64_t mark = gk_now_ns();
    unsigned long loops = 0, total = 0;
    for (;;) {
        for (int i = 0; i < 64; i++)
            kloop();
        loops += 64;
        if (polite)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        uint64_t now = gk_now_ns();
        if (now - mark >= GK_NS_PER_SEC) {
            gk_printf(P "%lu kloops/s\n", (unsigned long)(loops * GK_NS_PER_SEC / (now - mark)));
            total += loops;
            loops = 0;
            mark = now;
            if (seconds && now - start >= seconds * GK_NS_PER_SEC) {
                struct vcpu_runstate_info rs;
                int rc = HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 0, &rs);
                uint64_t elapsed = gk_now_ns() - start;
                if (rc == 0)
                    gk_printf(P "runstate ms: running %lu runnable %lu blocked %lu offline %lu; elapsed %lu\n",
                              (unsigned long)(rs.time[RUNSTATE_running] / GK_NS_PER_MS),
                              (unsigned long)(rs.time[RUNSTATE_runnable] / GK_NS_PER_MS),
                              (unsigned long)(rs.time[RUNSTATE_blocked] / GK_NS_PER_MS),
                              (unsigned long)(rs.time[RUNSTATE_offline] / GK_NS_PER_MS),
                              (unsigned long)(elapsed / GK_NS_PER_MS));
                else
                    gk_printf(P "VCPUOP_get_runstate_info: %d\n", rc);
                gk_printf(P "done: %lu kloops in %lu s\n", total, seconds);
                return;
            }
        }
    }
}
