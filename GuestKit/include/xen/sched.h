/*
 * xen/sched.h - the sched_op hypercall (29): sched_op(cmd, arg).
 *
 * GuestKit's rendering of Xen's public sched.h: same numbers, names and
 * layouts, our own text.
 */
#ifndef GUESTKIT_XEN_SCHED_H
#define GUESTKIT_XEN_SCHED_H

#include <xen/xen.h>

/*
 * SCHEDOP_yield: give up the CPU voluntarily. arg == NULL. Returns 0.
 */
#define SCHEDOP_yield           0

/*
 * SCHEDOP_block: sleep until an event is pending; atomically clears this
 * vCPU's evtchn_upcall_mask first. arg == NULL. Returns 0.
 */
#define SCHEDOP_block           1

/*
 * SCHEDOP_shutdown: stop the calling domain. arg: struct sched_shutdown *.
 * Does not return on success. Bad pointer -> -EFAULT, unknown reason ->
 * -EINVAL.
 */
#define SCHEDOP_shutdown        2

/*
 * SCHEDOP_poll: block until one of the listed event channels is pending or
 * the timeout (absolute system time in ns, 0 = none) passes.
 * arg: struct sched_poll *.
 */
#define SCHEDOP_poll            3

/*
 * SCHEDOP_remote_shutdown: shut down another domain (privileged).
 * arg: struct sched_remote_shutdown *.
 */
#define SCHEDOP_remote_shutdown 4

/*
 * SCHEDOP_shutdown_code: record the reason a later shutdown will report,
 * without stopping. arg: struct sched_shutdown *.
 */
#define SCHEDOP_shutdown_code   5

/*
 * SCHEDOP_watchdog: create (id 0), kick (id != 0, timeout != 0) or destroy
 * (timeout 0) a domain watchdog. arg: struct sched_watchdog *.
 * Returns the new id when creating.
 */
#define SCHEDOP_watchdog        6

/*
 * SCHEDOP_pin_override: temporarily pin vCPU 0 to a physical CPU (dom0
 * only). arg: struct sched_pin_override *.
 */
#define SCHEDOP_pin_override    7

/*
 * SCHEDOP_priority_hint (this hypervisor's extension, in the private range
 * 0x1000-0x10ff Xen leaves unused): arg: struct sched_priority_hint *.
 * background = 1 marks the work this vCPU does from now on as background:
 * it runs only when no normal work of any domain is runnable. 0 clears the
 * mark; blocking, polling or taking an event clears it too. Returns 0, or
 * -EINVAL for a background value other than 0 or 1.
 */
#define SCHEDOP_priority_hint   0x1000

/* Shutdown reasons (struct sched_shutdown.reason). */
#define SHUTDOWN_poweroff       0   /* clean stop, turn off */
#define SHUTDOWN_reboot         1   /* clean stop, restart */
#define SHUTDOWN_suspend        2   /* save state, then stop */
#define SHUTDOWN_crash          3   /* the guest crashed */
#define SHUTDOWN_watchdog       4   /* a watchdog fired */
#define SHUTDOWN_soft_reset     5   /* reset the domain in place */
#define SHUTDOWN_MAX            5   /* highest valid reason */

#ifndef __ASSEMBLY__

struct sched_shutdown {
    unsigned int reason;            /* IN: SHUTDOWN_* */
};
typedef struct sched_shutdown sched_shutdown_t;

struct sched_poll {
    XEN_GUEST_HANDLE(evtchn_port_t) ports;  /* IN: ports to watch */
    unsigned int nr_ports;                  /* IN */
    uint64_t timeout;                       /* IN: absolute ns, 0 = none */
};
typedef struct sched_poll sched_poll_t;

struct sched_remote_shutdown {
    domid_t domain_id;              /* IN: domain to stop */
    unsigned int reason;            /* IN: SHUTDOWN_* */
};
typedef struct sched_remote_shutdown sched_remote_shutdown_t;

struct sched_watchdog {
    uint32_t id;                    /* IN/OUT: watchdog id, 0 = create */
    uint32_t timeout;               /* IN: seconds, 0 = destroy */
};
typedef struct sched_watchdog sched_watchdog_t;

struct sched_priority_hint {
    uint32_t background;            /* IN: 1 = background work, 0 = normal */
};
typedef struct sched_priority_hint sched_priority_hint_t;

struct sched_pin_override {
    int32_t pcpu;                   /* IN: physical CPU, negative = undo */
};
typedef struct sched_pin_override sched_pin_override_t;

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_SCHED_H */
