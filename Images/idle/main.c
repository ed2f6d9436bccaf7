/*
 * idle - a domain that does nothing, forever, without using a CPU.
 *
 * Installs the trap table and callbacks, stops the 10 ms periodic timer a
 * PV vCPU starts with, binds nothing, prints `idle: blocking forever` and
 * blocks (SCHEDOP_block, events enabled, no timer) in a loop. Nothing can
 * wake it, so SCHEDOP_block should never return; if it does, the wake-up
 * is counted and reported at counts 1, 2, 4, 8, ... Never shuts down: the
 * toolstack has to destroy it.
 */
#include <guestkit/guestkit.h>

#define P "idle: "

void gk_main(void)
{
    gk_traps_init();
    int rc = HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
    if (rc)
        gk_printf(P "VCPUOP_stop_periodic_timer: %d (continuing)\n", rc);
    rc = HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, 0, NULL);
    if (rc)
        gk_printf(P "VCPUOP_stop_singleshot_timer: %d (continuing)\n", rc);

    gk_printf(P "blocking forever\n");
    gk_flush();

    unsigned long wakeups = 0, report_at = 1;
    for (;;) {
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);   /* unmasks events while blocked */
        if (++wakeups == report_at) {
            gk_printf(P "unexpected wake-up #%lu from SCHEDOP_block\n", wakeups);
            report_at *= 2;
        }
    }
}
