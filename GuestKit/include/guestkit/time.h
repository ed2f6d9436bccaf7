/*
 * guestkit/time.h - Xen system time, the wall clock, timers, sleeping and
 * steal time.
 *
 * System time is ns since the domain's clock started, computed from the
 * calling vCPU's pvclock (vcpu_info.time; vCPU 0's if the hypervisor has
 * not filled that one in) and the TSC (rdtsc at CPL3). Timers are
 * VIRQ_TIMER events: the first timer function on a vCPU binds VIRQ_TIMER
 * on that vCPU (and stops the 10 ms periodic timer a PV vCPU starts with),
 * and from then on every VIRQ_TIMER delivery is seen by GuestKit. Timers,
 * sleeping and the runstate area are the calling vCPU's own (with SMP,
 * <guestkit/smp.h>, each vCPU has its own). All functions call
 * gk_traps_init() on first use.
 */
#ifndef GUESTKIT_TIME_H
#define GUESTKIT_TIME_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/vcpu.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GK_NS_PER_US    1000UL
#define GK_NS_PER_MS    1000000UL
#define GK_NS_PER_SEC   1000000000UL

/* Current system time in ns (pvclock + rdtsc, retried while the
 * hypervisor updates it). */
uint64_t gk_now_ns(void);

/* Current wall-clock time (UTC): shared_info's wc_* (the time at system
 * time 0) plus gk_now_ns(). */
void gk_wallclock(uint64_t *sec, uint32_t *nsec);

/* The calling vCPU's VIRQ_TIMER port, binding it on first use; or
 * -XEN_Exxx. */
int gk_timer_port(void);

/* One VIRQ_TIMER at system time deadline_ns (VCPUOP_set_singleshot_timer);
 * replaces any earlier deadline. A deadline in the past fires at once. */
int gk_timer_set(uint64_t deadline_ns);
/* Cancel the single-shot timer (VCPUOP_stop_singleshot_timer). */
int gk_timer_cancel(void);
/* Make sure a VIRQ_TIMER arrives no later than deadline_ns: keeps an
 * already armed earlier deadline instead of issuing a hypercall (the
 * waiter then wakes early and arms again). */
int gk_timer_arm(uint64_t deadline_ns);
/* Periodic VIRQ_TIMER every period_ns (VCPUOP_set_periodic_timer; at
 * least 1 ms); 0 stops it (VCPUOP_stop_periodic_timer). */
int gk_timer_periodic(uint64_t period_ns);

/* Block until system time deadline_ns (timer + SCHEDOP_block in a loop;
 * other events are handled meanwhile). Returns with the caller's event
 * mask. */
void gk_sleep_until(uint64_t deadline_ns);
/* gk_sleep_until(gk_now_ns() + ns). */
void gk_sleep_ns(uint64_t ns);

/* Block forever with events enabled, handling events as they come. */
void gk_idle(void) __attribute__((noreturn));

/* Have the hypervisor keep the calling vCPU's runstate in GuestKit's memory
 * (VCPUOP_register_runstate_memory_area; also asks for
 * VMASST_TYPE_runstate_update_flag, ignoring a refusal). 0 or -XEN_Exxx. */
int gk_runstate_register(void);
/* A consistent copy of the registered runstate; -XEN_ENODATA if
 * gk_runstate_register() has not succeeded. */
int gk_runstate(struct vcpu_runstate_info *out);
/* Steal time: ns the calling vCPU spent runnable (waiting for a CPU) or
 * offline since it was created; 0 without a registered runstate area. */
uint64_t gk_steal_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_TIME_H */
