/*
 * xen/event_channel.h - the event_channel_op hypercall (32):
 * event_channel_op(cmd, arg).
 *
 * An event channel is a one-bit doorbell between two endpoints (ports):
 * another domain's port, a virtual IRQ, or this domain's own vCPU (IPI).
 * Sending sets the other end's bit in shared_info.evtchn_pending; unless
 * that port is masked (shared_info.evtchn_mask) the receiving vCPU gets an
 * upcall. Ports are numbered from 1 (0 is never allocated); the 2-level
 * ABI has EVTCHN_2L_NR_CHANNELS of them.
 *
 * GuestKit's rendering of Xen's public event_channel.h: same numbers, names
 * and layouts, our own text. Every op returns 0 or -XEN_Exxx: bad pointer
 * -EFAULT, unknown cmd -ENOSYS, bad port or state -EINVAL.
 */
#ifndef GUESTKIT_XEN_EVENT_CHANNEL_H
#define GUESTKIT_XEN_EVENT_CHANNEL_H

#include <xen/xen.h>

#define EVTCHNOP_bind_interdomain   0
#define EVTCHNOP_bind_virq          1
#define EVTCHNOP_bind_pirq          2
#define EVTCHNOP_close              3
#define EVTCHNOP_send               4
#define EVTCHNOP_status             5
#define EVTCHNOP_alloc_unbound      6
#define EVTCHNOP_bind_ipi           7
#define EVTCHNOP_bind_vcpu          8
#define EVTCHNOP_unmask             9
#define EVTCHNOP_reset              10
#define EVTCHNOP_init_control       11  /* FIFO ABI */
#define EVTCHNOP_expand_array       12  /* FIFO ABI */
#define EVTCHNOP_set_priority       13  /* FIFO ABI */

/* evtchn_status.status */
#define EVTCHNSTAT_closed           0   /* port not in use */
#define EVTCHNSTAT_unbound          1   /* waiting for an interdomain peer */
#define EVTCHNSTAT_interdomain      2   /* connected to another domain's port */
#define EVTCHNSTAT_pirq             3   /* bound to a physical IRQ */
#define EVTCHNSTAT_virq             4   /* bound to a virtual IRQ */
#define EVTCHNSTAT_ipi              5   /* bound to a vCPU of this domain */

/* evtchn_bind_pirq.flags */
#define BIND_PIRQ__WILL_SHARE       1

/* Ports of the 2-level ABI on a 64-bit guest: 64 words of 64 bits. */
#define EVTCHN_2L_NR_CHANNELS       4096

/* FIFO ABI: priorities 0 (highest) .. 15 (lowest), one queue each. */
#define EVTCHN_FIFO_PRIORITY_MAX        0
#define EVTCHN_FIFO_PRIORITY_DEFAULT    7
#define EVTCHN_FIFO_PRIORITY_MIN        15
#define EVTCHN_FIFO_MAX_QUEUES          (EVTCHN_FIFO_PRIORITY_MIN + 1)

/* FIFO event word: bit numbers and the link field. */
#define EVTCHN_FIFO_PENDING         31
#define EVTCHN_FIFO_MASKED          30
#define EVTCHN_FIFO_LINKED          29
#define EVTCHN_FIFO_BUSY            28
#define EVTCHN_FIFO_LINK_BITS       17
#define EVTCHN_FIFO_LINK_MASK       ((1 << EVTCHN_FIFO_LINK_BITS) - 1)
#define EVTCHN_FIFO_NR_CHANNELS     (1 << EVTCHN_FIFO_LINK_BITS)

#ifndef __ASSEMBLY__

/*
 * EVTCHNOP_alloc_unbound: allocate a port in <dom> (DOMID_SELF for an
 * unprivileged caller) that domain <remote_dom> may later connect to with
 * EVTCHNOP_bind_interdomain. <remote_dom> may be DOMID_SELF (loopback).
 */
struct evtchn_alloc_unbound {
    domid_t dom, remote_dom;    /*  0, 2: IN */
    evtchn_port_t port;         /*  4: OUT new port */
};
typedef struct evtchn_alloc_unbound evtchn_alloc_unbound_t;

/*
 * EVTCHNOP_bind_interdomain: connect a fresh local port to
 * <remote_dom, remote_port>, which must be unbound and accept this domain
 * (else -EINVAL). The new local port starts out pending, so no
 * notification sent before the connection is lost.
 */
struct evtchn_bind_interdomain {
    domid_t remote_dom;         /*  0: IN */
    evtchn_port_t remote_port;  /*  4: IN */
    evtchn_port_t local_port;   /*  8: OUT */
};
typedef struct evtchn_bind_interdomain evtchn_bind_interdomain_t;

/*
 * EVTCHNOP_bind_virq: bind a fresh port to VIRQ <virq> on <vcpu>. A
 * per-vCPU VIRQ can be bound once per vCPU; a global one on vCPU 0 only
 * (EVTCHNOP_bind_vcpu moves it later). Already bound -> -EEXIST.
 */
struct evtchn_bind_virq {
    uint32_t virq;              /*  0: IN VIRQ_* */
    uint32_t vcpu;              /*  4: IN */
    evtchn_port_t port;         /*  8: OUT */
};
typedef struct evtchn_bind_virq evtchn_bind_virq_t;

/* EVTCHNOP_bind_pirq: bind a fresh port to physical IRQ <pirq>
 * (privileged). */
struct evtchn_bind_pirq {
    uint32_t pirq;              /*  0: IN */
    uint32_t flags;             /*  4: IN BIND_PIRQ__* */
    evtchn_port_t port;         /*  8: OUT */
};
typedef struct evtchn_bind_pirq evtchn_bind_pirq_t;

/* EVTCHNOP_bind_ipi: a fresh port that notifies <vcpu> of this domain
 * when sent to. The binding cannot change. */
struct evtchn_bind_ipi {
    uint32_t vcpu;              /*  0: IN */
    evtchn_port_t port;         /*  4: OUT */
};
typedef struct evtchn_bind_ipi evtchn_bind_ipi_t;

/* EVTCHNOP_close: free a local port. An interdomain peer's port goes back
 * to EVTCHNSTAT_unbound, ready for a new connection. */
struct evtchn_close {
    evtchn_port_t port;         /*  0: IN */
};
typedef struct evtchn_close evtchn_close_t;

/* EVTCHNOP_send: notify the other end of local <port> (for an IPI port:
 * the bound vCPU). Sending on an unbound port is silently dropped. */
struct evtchn_send {
    evtchn_port_t port;         /*  0: IN */
};
typedef struct evtchn_send evtchn_send_t;

/* EVTCHNOP_status: what <dom, port> is bound to (dom is DOMID_SELF unless
 * privileged). */
struct evtchn_status {
    domid_t dom;                /*  0: IN */
    evtchn_port_t port;         /*  4: IN */
    uint32_t status;            /*  8: OUT EVTCHNSTAT_* */
    uint32_t vcpu;              /* 12: OUT vCPU notified */
    union {
        struct {
            domid_t dom;        /* 16: may connect */
        } unbound;              /* EVTCHNSTAT_unbound */
        struct {
            domid_t dom;        /* 16 */
            evtchn_port_t port; /* 20 */
        } interdomain;          /* EVTCHNSTAT_interdomain */
        uint32_t pirq;          /* EVTCHNSTAT_pirq */
        uint32_t virq;          /* EVTCHNSTAT_virq */
    } u;                        /* 16: OUT */
};
typedef struct evtchn_status evtchn_status_t;

/* EVTCHNOP_bind_vcpu: choose which vCPU <port> notifies (not for IPI or
 * per-vCPU VIRQ ports). */
struct evtchn_bind_vcpu {
    evtchn_port_t port;         /*  0: IN */
    uint32_t vcpu;              /*  4: IN */
};
typedef struct evtchn_bind_vcpu evtchn_bind_vcpu_t;

/* EVTCHNOP_unmask: clear <port>'s mask bit and, if it is pending, notify
 * its vCPU (the guest may clear the bit itself; this op is for when a
 * notification must not be missed). */
struct evtchn_unmask {
    evtchn_port_t port;         /*  0: IN */
};
typedef struct evtchn_unmask evtchn_unmask_t;

/* EVTCHNOP_reset: close every port of <dom> (DOMID_SELF unless
 * privileged) and return to the 2-level ABI. */
struct evtchn_reset {
    domid_t dom;                /*  0: IN */
};
typedef struct evtchn_reset evtchn_reset_t;

/* EVTCHNOP_init_control: switch <vcpu> to the FIFO ABI with its control
 * block at <control_gfn, offset>. */
struct evtchn_init_control {
    uint64_t control_gfn;       /*  0: IN */
    uint32_t offset;            /*  8: IN */
    uint32_t vcpu;              /* 12: IN */
    uint8_t link_bits;          /* 16: OUT */
    uint8_t _pad[7];
};
typedef struct evtchn_init_control evtchn_init_control_t;

/* EVTCHNOP_expand_array: add one page of FIFO event words. */
struct evtchn_expand_array {
    uint64_t array_gfn;         /*  0: IN */
};
typedef struct evtchn_expand_array evtchn_expand_array_t;

/* EVTCHNOP_set_priority: FIFO queue of <port>. */
struct evtchn_set_priority {
    evtchn_port_t port;         /*  0: IN */
    uint32_t priority;          /*  4: IN EVTCHN_FIFO_PRIORITY_* */
};
typedef struct evtchn_set_priority evtchn_set_priority_t;

/* The legacy event_channel_op_compat (16) argument: cmd and the op's
 * struct in one (28 bytes). */
struct evtchn_op {
    uint32_t cmd;               /*  0: EVTCHNOP_* (0..10) */
    union {
        struct evtchn_alloc_unbound alloc_unbound;
        struct evtchn_bind_interdomain bind_interdomain;
        struct evtchn_bind_virq bind_virq;
        struct evtchn_bind_pirq bind_pirq;
        struct evtchn_bind_ipi bind_ipi;
        struct evtchn_close close;
        struct evtchn_send send;
        struct evtchn_status status;
        struct evtchn_bind_vcpu bind_vcpu;
        struct evtchn_unmask unmask;
    } u;                        /*  4 */
};
typedef struct evtchn_op evtchn_op_t;
DEFINE_XEN_GUEST_HANDLE(evtchn_op_t);

/* FIFO ABI: a 32-bit event word per port, and the per-vCPU control
 * block. */
typedef uint32_t event_word_t;

struct evtchn_fifo_control_block {
    uint32_t ready;                             /*  0 */
    uint32_t _rsvd;                             /*  4 */
    event_word_t head[EVTCHN_FIFO_MAX_QUEUES];  /*  8 */
};
typedef struct evtchn_fifo_control_block evtchn_fifo_control_block_t;

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_EVENT_CHANNEL_H */
