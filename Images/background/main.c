/*
 * background - alternates normal and background-marked work and reports
 * the throughput of each.
 *
 * Phases of 250 ms of system time alternate: normal work, then the same
 * work marked as background with the priority hint (SCHEDOP_priority_hint).
 * Every second: "background: normal <n> kloops/s, background <m> kloops/s",
 * each the rate over the wall time its phases lasted. Alone on a CPU both
 * rates are about equal; next to a normal CPU hog the background rate drops
 * to about nothing while the normal one keeps the domain's fair share.
 *
 * A 10 ms periodic timer runs throughout: taking an event clears the mark
 * (events are normal work), so the timer handler notes it and the loop
 * marks its work again; the handler is also how a background phase ends on
 * time when normal work elsewhere leaves it no CPU.
 *
 * Command line: seconds=N powers off after N seconds (default: run until
 * destroyed).
 */
#include <guestkit/guestkit.h>

#define P "background: "
#define PHASE_NS (250 * GK_NS_PER_MS)

static volatile unsigned long sink;
static volatile int hint_cleared;

static void on_timer(evtchn_port_t port)
{
    (void)port;
    hint_cleared = 1;
}

static void kloop(void)
{
    unsigned long x = sink;
    for (int i = 0; i < 1000; i++)
        __asm__ volatile("add $1, %0" : "+r"(x));
    sink = x;
}

static void hint(int background)
{
    struct sched_priority_hint h = { .background = (uint32_t)background };
    int rc = HYPERVISOR_sched_op(SCHEDOP_priority_hint, &h);
    if (rc) {
        gk_printf(P "SCHEDOP_priority_hint(%d): %d\n", background, rc);
        gk_panic("priority hint refused");
    }
}

static unsigned long rate(unsigned long loops, uint64_t ns)
{
    return ns ? (unsigned long)(loops * GK_NS_PER_SEC / ns) : 0;
}

void gk_main(void)
{
    gk_traps_init();
    unsigned long seconds = 0;
    gk_cmdline_number("seconds", &seconds);

    int port = gk_timer_port();
    if (port < 0) {
        gk_printf(P "VIRQ_TIMER: %d\n", port);
        gk_panic("no timer");
    }
    gk_evtchn_set_handler((evtchn_port_t)port, on_timer);
    gk_timer_periodic(10 * GK_NS_PER_MS);
    gk_irq_enable();
    gk_printf(P "alternating %lu ms of normal and background work\n", (unsigned long)(PHASE_NS / GK_NS_PER_MS));

    uint64_t start = gk_now_ns(), last = start, report = start;
    unsigned long loops[2] = { 0, 0 };
    uint64_t time[2] = { 0, 0 };
    int marked = 0;
    for (;;) {
        int phase = (int)(((last - start) / PHASE_NS) & 1);   /* 0 normal, 1 background */
        if (phase != marked || (marked && hint_cleared)) {
            hint_cleared = 0;
            hint(phase);
            marked = phase;
        }
        for (int i = 0; i < 16; i++)
            kloop();
        uint64_t now = gk_now_ns();
        loops[phase] += 16;
        time[phase] += now - last;
        last = now;
        if (now - report >= GK_NS_PER_SEC) {
            gk_printf(P "normal %lu kloops/s, background %lu kloops/s\n", rate(loops[0], time[0]), rate(loops[1], time[1]));
            loops[0] = loops[1] = 0;
            time[0] = time[1] = 0;
            report = now;
            if (seconds && now - start >= seconds * GK_NS_PER_SEC) {
                hint(0);
                gk_printf(P "done\n");
                return;
            }
        }
    }
}
