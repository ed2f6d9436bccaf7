/*
 * events.c - event channels (2-level ABI) and the virtual interrupt flag.
 *
 * The hypervisor writes shared_info and vcpu_info from other threads at
 * any time, and with SMP so do the other vCPUs, so every read-modify-write
 * of them, and of the shared fired[] and counts[], is a locked instruction
 * (xchg, lock and/or/add/btr) and plain reads are volatile.
 *
 * Several vCPUs: each port belongs to the vCPU it notifies (owner[],
 * recorded at bind time: the vCPU of bind_ipi / bind_virq_on /
 * bind_vcpu, else vCPU 0). The hypervisor sets a port's selector bit in its
 * owner's vcpu_info only, but a selector word covers 64 ports, so the
 * upcall skips the bits of ports another vCPU owns. Without SMP the owner
 * is always 0 = the caller, and the check is one predictable branch.
 */
#include <guestkit/guestkit.h>

#define NR_PORTS    EVTCHN_2L_NR_CHANNELS
#define WORD_BITS   64

static gk_evtchn_handler_t handlers[NR_PORTS];
static uint64_t fired[NR_PORTS / WORD_BITS];   /* delivered, not yet waited for */
static uint64_t counts[NR_PORTS];
static uint8_t owner[NR_PORTS];                 /* vCPU whose upcall takes the port */

_Static_assert(GK_SMP_MAX_VCPUS <= 256, "owner[] holds a vCPU id in a byte");

static inline unsigned int word_of(evtchn_port_t port) { return port / WORD_BITS; }
static inline uint64_t bit_of(evtchn_port_t port) { return 1ULL << (port % WORD_BITS); }

static inline void compiler_barrier(void)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Clear bit `b` of *word atomically; 1 if it was set (lock btr: exactly
 * one of several clearers sees it set). */
static inline int test_and_clear(uint64_t *word, unsigned int b)
{
    unsigned char was;
    __asm__ __volatile__ ("lock btrq %q2, %0; setc %1"
                          : "+m" (*word), "=q" (was) : "r" ((uint64_t)b) : "memory", "cc");
    return was;
}

/* Take the port's fired flag if it is set. */
static inline int take_fired(evtchn_port_t port)
{
    unsigned int w = word_of(port);
    if (!(__atomic_load_n(&fired[w], __ATOMIC_ACQUIRE) & bit_of(port)))
        return 0;
    return test_and_clear(&fired[w], port % WORD_BITS);
}

static inline void drop_fired(evtchn_port_t port)
{
    __atomic_fetch_and(&fired[word_of(port)], ~bit_of(port), __ATOMIC_SEQ_CST);
}

/* The calling vCPU's vcpu_info. */
static struct vcpu_info *vcpu(void)
{
    gk_traps_init();
    return gk_smp_vcpu_info();
}

/* ---- the virtual interrupt flag ------------------------------------------ */

void gk_irq_disable(void)
{
    vcpu()->evtchn_upcall_mask = 1;
    compiler_barrier();
}

void gk_irq_enable(void)
{
    struct vcpu_info *v = vcpu();

    compiler_barrier();
    /* A full barrier (xchg) between unmasking and looking at pending, so a
     * concurrent set of pending is either seen here or sees the mask 0. */
    __atomic_store_n(&v->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&v->evtchn_upcall_pending, __ATOMIC_SEQ_CST))
        HYPERVISOR_xen_version(XENVER_version, NULL);   /* any hypercall: upcall on return */
}

unsigned int gk_irq_save(void)
{
    struct vcpu_info *v = vcpu();
    unsigned int old = __atomic_load_n(&v->evtchn_upcall_mask, __ATOMIC_RELAXED);

    v->evtchn_upcall_mask = 1;
    compiler_barrier();
    return old;
}

void gk_irq_restore(unsigned int saved)
{
    if (saved)
        gk_irq_disable();
    else
        gk_irq_enable();
}

unsigned int gk_irqs_disabled(void)
{
    return __atomic_load_n(&vcpu()->evtchn_upcall_mask, __ATOMIC_RELAXED);
}

/* ---- upcall ---------------------------------------------------------------- */

static void deliver(evtchn_port_t port)
{
    __atomic_fetch_or(&fired[word_of(port)], bit_of(port), __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&counts[port], 1, __ATOMIC_RELAXED);
    gk_evtchn_handler_t fn = __atomic_load_n(&handlers[port], __ATOMIC_RELAXED);
    if (fn)
        fn(port);
}

void gk_handle_events(void)
{
    shared_info_t *s = gk_shared_info;
    unsigned int me = gk_smp_cpu_id();
    struct vcpu_info *v = &s->vcpu_info[me];

    /* Xen sets the selector bit before upcall_pending: clear pending first,
     * then take the selector, and go round again if it was set meanwhile. */
    while (__atomic_load_n(&v->evtchn_upcall_pending, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(&v->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
        uint64_t sel = __atomic_exchange_n(&v->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
        while (sel) {
            unsigned int w = (unsigned int)__builtin_ctzll(sel);
            sel &= sel - 1;
            uint64_t bits = __atomic_load_n(&s->evtchn_pending[w], __ATOMIC_SEQ_CST)
                          & ~__atomic_load_n(&s->evtchn_mask[w], __ATOMIC_SEQ_CST);
            while (bits) {
                unsigned int b = (unsigned int)__builtin_ctzll(bits);
                bits &= bits - 1;
                evtchn_port_t port = w * WORD_BITS + b;
                /* Another vCPU's port: its owner got its own upcall. */
                if (owner[port] != me)
                    continue;
                /* Clear before handling: an event sent while the handler
                 * runs raises a new upcall instead of being lost. */
                if (test_and_clear(&s->evtchn_pending[w], b))
                    deliver(port);
            }
        }
    }
}

/* ---- local port state ------------------------------------------------------ */

void gk_evtchn_mask(evtchn_port_t port)
{
    if (port >= NR_PORTS)
        return;
    gk_traps_init();
    __atomic_fetch_or(&gk_shared_info->evtchn_mask[word_of(port)], bit_of(port), __ATOMIC_SEQ_CST);
}

int gk_evtchn_unmask(evtchn_port_t port)
{
    if (port >= NR_PORTS)
        return -XEN_EINVAL;
    gk_traps_init();
    shared_info_t *s = gk_shared_info;
    unsigned int w = word_of(port);
    uint64_t bit = bit_of(port);

    __atomic_fetch_and(&s->evtchn_mask[w], ~bit, __ATOMIC_SEQ_CST);
    if (!(__atomic_load_n(&s->evtchn_pending[w], __ATOMIC_SEQ_CST) & bit))
        return 0;
    /* Pending while masked: no upcall was raised for it. EVTCHNOP_unmask
     * raises one, but only if it is the one to clear the mask bit. */
    __atomic_fetch_or(&s->evtchn_mask[w], bit, __ATOMIC_SEQ_CST);
    struct evtchn_unmask op = { .port = port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &op);
}

void gk_evtchn_clear(evtchn_port_t port)
{
    if (port >= NR_PORTS)
        return;
    gk_traps_init();
    unsigned int saved = gk_irq_save();
    __atomic_fetch_and(&gk_shared_info->evtchn_pending[word_of(port)], ~bit_of(port), __ATOMIC_SEQ_CST);
    drop_fired(port);
    gk_irq_restore(saved);
}

void gk_evtchn_set_handler(evtchn_port_t port, gk_evtchn_handler_t fn)
{
    if (port >= NR_PORTS)
        return;
    unsigned int saved = gk_irq_save();
    __atomic_store_n(&handlers[port], fn, __ATOMIC_RELEASE);
    gk_irq_restore(saved);
}

uint64_t gk_evtchn_count(evtchn_port_t port)
{
    return port < NR_PORTS ? __atomic_load_n(&counts[port], __ATOMIC_RELAXED) : 0;
}

unsigned int gk_evtchn_owner(evtchn_port_t port)
{
    return port < NR_PORTS ? __atomic_load_n(&owner[port], __ATOMIC_RELAXED) : 0;
}

/* A freshly bound port: no handler, nothing fired, handled by vCPU
 * `vcpu_id`, unmasked (from here on upcalls may take it). */
static int fresh_port(int rc, evtchn_port_t port, uint32_t vcpu_id)
{
    if (rc)
        return rc;
    if (port >= NR_PORTS)
        return -XEN_ENOSPC;       /* beyond the 2-level ABI: cannot happen with Xen */
    unsigned int saved = gk_irq_save();
    __atomic_store_n(&handlers[port], NULL, __ATOMIC_RELAXED);
    drop_fired(port);
    __atomic_store_n(&counts[port], 0, __ATOMIC_RELAXED);
    __atomic_store_n(&owner[port], (uint8_t)vcpu_id, __ATOMIC_SEQ_CST);
    gk_irq_restore(saved);
    rc = gk_evtchn_unmask(port);
    return rc ? rc : (int)port;
}

/* ---- hypercalls ------------------------------------------------------------ */

int gk_evtchn_alloc_unbound(domid_t remote)
{
    struct evtchn_alloc_unbound op = { .dom = DOMID_SELF, .remote_dom = remote };
    gk_traps_init();
    int rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &op);
    return fresh_port(rc, op.port, 0);
}

int gk_evtchn_bind_interdomain(domid_t remote_dom, evtchn_port_t remote_port)
{
    struct evtchn_bind_interdomain op = { .remote_dom = remote_dom, .remote_port = remote_port };
    gk_traps_init();
    int rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &op);
    return fresh_port(rc, op.local_port, 0);
}

int gk_evtchn_bind_virq(uint32_t virq)
{
    return gk_evtchn_bind_virq_on(virq, 0);
}

int gk_evtchn_bind_virq_on(uint32_t virq, uint32_t vcpu_id)
{
    if (vcpu_id >= GK_SMP_MAX_VCPUS)
        return -XEN_EINVAL;
    struct evtchn_bind_virq op = { .virq = virq, .vcpu = vcpu_id };
    gk_traps_init();
    int rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &op);
    return fresh_port(rc, op.port, vcpu_id);
}

int gk_evtchn_bind_ipi(uint32_t vcpu_id)
{
    if (vcpu_id >= GK_SMP_MAX_VCPUS)
        return -XEN_EINVAL;
    struct evtchn_bind_ipi op = { .vcpu = vcpu_id };
    gk_traps_init();
    int rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &op);
    return fresh_port(rc, op.port, vcpu_id);
}

int gk_evtchn_bind_vcpu(evtchn_port_t port, uint32_t vcpu_id)
{
    if (port >= NR_PORTS || vcpu_id >= GK_SMP_MAX_VCPUS)
        return -XEN_EINVAL;
    struct evtchn_bind_vcpu op = { .port = port, .vcpu = vcpu_id };
    gk_traps_init();
    int rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &op);
    if (rc)
        return rc;
    __atomic_store_n(&owner[port], (uint8_t)vcpu_id, __ATOMIC_SEQ_CST);
    /* An event the new owner was told of before this store, or one the
     * old owner had not taken yet, is still pending and now skipped by the
     * old owner: have the hypervisor raise it again (EVTCHNOP_unmask
     * notifies the port's vCPU, now the new one). A masked port keeps
     * waiting for its own unmask. */
    shared_info_t *s = gk_shared_info;
    unsigned int w = word_of(port);
    if ((__atomic_load_n(&s->evtchn_pending[w], __ATOMIC_SEQ_CST) & bit_of(port)) &&
        !(__atomic_fetch_or(&s->evtchn_mask[w], bit_of(port), __ATOMIC_SEQ_CST) & bit_of(port)))
        return gk_evtchn_unmask(port);
    return 0;
}

int gk_evtchn_send(evtchn_port_t port)
{
    struct evtchn_send op = { .port = port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_send, &op);
}

int gk_evtchn_close(evtchn_port_t port)
{
    struct evtchn_close op = { .port = port };
    int rc = HYPERVISOR_event_channel_op(EVTCHNOP_close, &op);
    if (rc == 0 && port < NR_PORTS) {
        unsigned int saved = gk_irq_save();
        __atomic_store_n(&handlers[port], NULL, __ATOMIC_RELAXED);
        drop_fired(port);
        gk_irq_restore(saved);
    }
    return rc;
}

int gk_evtchn_status(evtchn_port_t port, struct evtchn_status *status)
{
    memset(status, 0, sizeof(*status));
    status->dom = DOMID_SELF;
    status->port = port;
    return HYPERVISOR_event_channel_op(EVTCHNOP_status, status);
}

/* ---- waiting --------------------------------------------------------------- */

/* Sleeps in SCHEDOP_poll on `port` until it is pending or `deadline_ns` (0 = none) passes. Events stay
 * masked throughout: whatever arrived is taken inline by gk_handle_events(), so a wait costs one entry into
 * the hypervisor and no upcall (no callback frame, no iret). `first`, if given, is issued in the same
 * entry with multicall (a send, or arming a timer). */
static int poll_wait(evtchn_port_t port, uint64_t deadline_ns, multicall_entry_t *first)
{
    if (port >= NR_PORTS)
        return -XEN_EINVAL;
    unsigned int w = word_of(port);
    uint64_t bit = bit_of(port);
    int rc = 0;
    evtchn_port_t ports[1] = { port };
    struct sched_poll poll;
    set_xen_guest_handle(poll.ports, ports);
    poll.nr_ports = 1;
    poll.timeout = deadline_ns;

    unsigned int saved = gk_irq_save();
    if (first) {
        multicall_entry_t calls[2] = {
            *first,
            { .op = __HYPERVISOR_sched_op, .args = { SCHEDOP_poll, (unsigned long)&poll } },
        };
        gk_handle_events();
        rc = (__atomic_load_n(&fired[w], __ATOMIC_ACQUIRE) & bit) ? HYPERVISOR_multicall(calls, 1)
                                                                  : HYPERVISOR_multicall(calls, 2);
        first->result = calls[0].result;
        if (rc == 0 && (long)calls[0].result < 0)
            rc = (int)(long)calls[0].result;
    }
    while (rc == 0) {
        gk_handle_events();
        if (take_fired(port))
            break;
        if (deadline_ns && gk_now_ns() >= deadline_ns) {
            rc = -XEN_ETIMEDOUT;
            break;
        }
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    }
    gk_irq_restore(saved);
    return rc;
}

int gk_evtchn_wait(evtchn_port_t port, uint64_t deadline_ns)
{
    return poll_wait(port, deadline_ns, NULL);
}

int gk_evtchn_send_and_wait(evtchn_port_t send, evtchn_port_t wait, uint64_t deadline_ns)
{
    struct evtchn_send op = { .port = send };
    multicall_entry_t call = { .op = __HYPERVISOR_event_channel_op, .args = { EVTCHNOP_send, (unsigned long)&op } };
    return poll_wait(wait, deadline_ns, &call);
}

int gk_evtchn_call_and_wait(multicall_entry_t *call, evtchn_port_t wait, uint64_t deadline_ns)
{
    return poll_wait(wait, deadline_ns, call);
}
