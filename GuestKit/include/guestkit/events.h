/*
 * guestkit/events.h - event channels and the virtual interrupt flag.
 *
 * Upcalls arrive at gk_hypervisor_callback (registered by gk_traps_init(),
 * which every function here calls on first use), which runs
 * gk_handle_events() with events masked: for each pending, unmasked port
 * it clears the pending bit, records that the port fired (for
 * gk_evtchn_wait()) and calls the port's handler, if any. Handlers
 * therefore run with events masked and must not block.
 *
 * Functions returning int give a port number (>= 0) or 0 on success, or
 * -XEN_Exxx from the hypervisor.
 *
 * Several vCPUs (<guestkit/smp.h>): every port belongs to the vCPU it
 * notifies, recorded when it is bound (gk_evtchn_bind_ipi(vcpu) and
 * gk_evtchn_bind_virq_on(virq, vcpu): that vCPU; gk_evtchn_bind_vcpu moves
 * it; everything else: vCPU 0). Only its owner's upcall (or wait) takes
 * its events and runs its handler. gk_evtchn_wait() and the gk_irq_*
 * functions act on the calling vCPU's vcpu_info; a wait should be for a
 * port the calling vCPU owns (for another's, it returns once the owner
 * has taken the event, so the owner must be handling events).
 */
#ifndef GUESTKIT_EVENTS_H
#define GUESTKIT_EVENTS_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*gk_evtchn_handler_t)(evtchn_port_t port);

/* ---- binding (each new port is unmasked, has no handler) ----------------- */

/* A port in this domain that domain `remote` may connect to
 * (EVTCHNOP_alloc_unbound; remote may be DOMID_SELF). */
int gk_evtchn_alloc_unbound(domid_t remote);
/* Connect to <remote_dom, remote_port> (EVTCHNOP_bind_interdomain). The
 * new port starts out pending (Xen does that on purpose); see
 * gk_evtchn_clear(). */
int gk_evtchn_bind_interdomain(domid_t remote_dom, evtchn_port_t remote_port);
/* Bind VIRQ_* `virq` on vCPU 0 (EVTCHNOP_bind_virq). */
int gk_evtchn_bind_virq(uint32_t virq);
/* Bind VIRQ_* `virq` on vCPU `vcpu` (per-vCPU VIRQs such as VIRQ_TIMER
 * have one binding per vCPU, each its own port). */
int gk_evtchn_bind_virq_on(uint32_t virq, uint32_t vcpu);
/* A port that notifies vCPU `vcpu` of this domain (EVTCHNOP_bind_ipi);
 * anyone sending on it interrupts that vCPU. */
int gk_evtchn_bind_ipi(uint32_t vcpu);
/* Have `port` notify vCPU `vcpu` from now on (EVTCHNOP_bind_vcpu; not for
 * IPI or per-vCPU VIRQ ports). An event already pending is raised again
 * on the new vCPU. */
int gk_evtchn_bind_vcpu(evtchn_port_t port, uint32_t vcpu);
/* The vCPU that takes `port`'s events (0 for ports never bound). */
unsigned int gk_evtchn_owner(evtchn_port_t port);

/* ---- use ------------------------------------------------------------------ */

/* Notify the other end (EVTCHNOP_send). */
int gk_evtchn_send(evtchn_port_t port);
/* Free the port (EVTCHNOP_close); its handler and fired flag are dropped. */
int gk_evtchn_close(evtchn_port_t port);
/* What the port is bound to (EVTCHNOP_status for DOMID_SELF). */
int gk_evtchn_status(evtchn_port_t port, struct evtchn_status *status);
/* Set the port's mask bit: its events stay pending, no upcall. */
void gk_evtchn_mask(evtchn_port_t port);
/* Clear the port's mask bit. If an event is pending on it, the bit is set
 * again and EVTCHNOP_unmask asked to clear it and raise the upcall (Xen
 * only re-raises when it clears the mask itself). */
int gk_evtchn_unmask(evtchn_port_t port);
/* Forget any event on the port: clear its pending bit and fired flag. */
void gk_evtchn_clear(evtchn_port_t port);
/* Called for each event on `port` (NULL: none). */
void gk_evtchn_set_handler(evtchn_port_t port, gk_evtchn_handler_t fn);

/*
 * Block (SCHEDOP_block, events enabled while blocked) until an event has
 * been delivered on `port` since the last gk_evtchn_wait()/gk_evtchn_clear()
 * for it, or until system time `deadline_ns` (0: no deadline). Returns 0,
 * or -XEN_ETIMEDOUT. The port must be unmasked. Restores the caller's
 * event mask.
 */
int gk_evtchn_wait(evtchn_port_t port, uint64_t deadline_ns);

/* EVTCHNOP_send on `send`, then gk_evtchn_wait(wait, deadline_ns), in one entry into the hypervisor
 * (multicall): the fast round trip. Returns the send's error, or the wait's. */
int gk_evtchn_send_and_wait(evtchn_port_t send, evtchn_port_t wait, uint64_t deadline_ns);

/* Any hypercall `call`, then gk_evtchn_wait(wait, deadline_ns), in one entry (multicall); call->result
 * receives the call's result. */
int gk_evtchn_call_and_wait(multicall_entry_t *call, evtchn_port_t wait, uint64_t deadline_ns);

/* Events delivered on `port` so far (counts upcalls that found it pending). */
uint64_t gk_evtchn_count(evtchn_port_t port);

/* The upcall's C half (called by gk_hypervisor_callback, events masked):
 * the calling vCPU's pending ports. */
void gk_handle_events(void);

/* ---- the virtual interrupt flag (the calling vCPU's evtchn_upcall_mask) -- */

/* Mask events (upcall_mask = 1). */
void gk_irq_disable(void);
/* Unmask events; if one is already pending, enter the hypervisor
 * (xen_version) so it delivers the upcall now. */
void gk_irq_enable(void);
/* Mask events; returns the previous mask (1 = were masked). */
unsigned int gk_irq_save(void);
/* Put back a mask gk_irq_save() returned. */
void gk_irq_restore(unsigned int saved);
/* 1 if events are masked. */
unsigned int gk_irqs_disabled(void);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_EVENTS_H */
