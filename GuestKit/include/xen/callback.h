/*
 * xen/callback.h - the callback_op hypercall (30): callback_op(cmd, arg).
 * Registers the entry points through which the hypervisor enters a PV
 * guest kernel other than its virtual IDT.
 *
 * GuestKit's rendering of Xen's public callback.h: same numbers, names and
 * layouts, our own text. (set_callbacks (4) is the older way to register
 * the first three: set_callbacks(event, failsafe, syscall), all flags 0.)
 */
#ifndef GUESTKIT_XEN_CALLBACK_H
#define GUESTKIT_XEN_CALLBACK_H

#include <xen/xen.h>

/*
 * Callback types.
 *
 * event: entered when events are pending and not masked, with a bounce
 *   frame (rcx, r11, rip, cs, rflags, rsp, ss) on the guest stack and
 *   evtchn_upcall_mask set to 1. Cannot be unregistered.
 * failsafe: entered when the hypervisor cannot reload the guest's data
 *   segments on return; frame rcx, r11, ds, es, fs, gs, rip, cs, rflags,
 *   rsp, ss. Masks events only with CALLBACKF_mask_events.
 * syscall: target of SYSCALL executed in guest-user mode (64-bit).
 * nmi: NMI handler (the only type that can be unregistered).
 * sysenter, syscall32: 32-bit user entry points.
 */
#define CALLBACKTYPE_event                  0
#define CALLBACKTYPE_failsafe               1
#define CALLBACKTYPE_syscall                2
#define CALLBACKTYPE_sysenter_deprecated    3   /* -ENOSYS */
#define CALLBACKTYPE_nmi                    4
#define CALLBACKTYPE_sysenter               5
#define CALLBACKTYPE_syscall32              7

/* callback_register.flags: mask events when entering this callback
 * (failsafe and syscall only; event upcalls always mask). */
#define _CALLBACKF_mask_events              0
#define CALLBACKF_mask_events               (1 << _CALLBACKF_mask_events)

/*
 * CALLBACKOP_register: arg = struct callback_register *. Returns 0;
 * non-canonical address -> -EINVAL, unknown type -> -ENOSYS.
 */
#define CALLBACKOP_register                 0

/*
 * CALLBACKOP_unregister: arg = struct callback_unregister *. Only the nmi
 * callback can be unregistered; the others -> -EINVAL.
 */
#define CALLBACKOP_unregister               1

#ifndef __ASSEMBLY__

struct callback_register {
    uint16_t type;              /*  0: IN CALLBACKTYPE_* */
    uint16_t flags;             /*  2: IN CALLBACKF_* */
    xen_callback_t address;     /*  8: IN entry point */
};
typedef struct callback_register callback_register_t;
DEFINE_XEN_GUEST_HANDLE(callback_register_t);

struct callback_unregister {
    uint16_t type;              /*  0: IN CALLBACKTYPE_* */
    uint16_t _unused;           /*  2 */
};
typedef struct callback_unregister callback_unregister_t;
DEFINE_XEN_GUEST_HANDLE(callback_unregister_t);

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_CALLBACK_H */
