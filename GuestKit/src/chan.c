/*
 * chan.c - a byte stream between two domains: granted ring pages, u32
 * byte indices in a shared control page, and io/ring.h-style event
 * suppression. See guestkit/chan.h for the protocol.
 */
#include <guestkit/guestkit.h>
#include <guestkit/gnttab.h>
#include <guestkit/chan.h>
#include <xen/io/ring.h>

_Static_assert(sizeof(struct gk_chan_rendezvous) <= 4096, "the rendezvous fits its page");
_Static_assert(offsetof(struct gk_chan_rendezvous, ring_ref) == 24, "rendezvous layout");
_Static_assert(sizeof(struct gk_chan_indices) == 128, "one direction's indices: two cache lines");
_Static_assert(offsetof(struct gk_chan_control, closed) == 256 && offsetof(struct gk_chan_control, connected) == 264,
               "control page layout");

#define PAGE            GK_PAGE_SIZE
#define MAX_PAGES       (1u << GK_CHAN_MAX_ORDER)
#define SERVER          0       /* sides: index of closed[] */
#define CLIENT          1
#define CONTROL_OFF     PAGE
#define RING_OFF(dir)   ((1UL + (dir)) << 20)

#define SLICE_NS        GK_NS_PER_SEC               /* look at the peer this often while waiting */
#define CONNECT_NS      (30 * GK_NS_PER_SEC)        /* client: default patience for the server */
#define RETRY_NS        (10 * GK_NS_PER_MS)
#define LINGER_NS       (30 * GK_NS_PER_SEC)        /* server close: wait this long for the client */
#define UNMAP_NS        (5 * GK_NS_PER_SEC)         /* ... then this long for its unmaps */

struct gk_chan {
    int in_use;
    int side;                   /* SERVER or CLIENT */
    int gone;                   /* the peer's port is no longer connected */
    domid_t peer;
    unsigned int pages;         /* per ring */
    uint32_t size;              /* bytes per ring */
    evtchn_port_t port;
    unsigned long va;           /* the slot's window */
    struct gk_chan_control *ctl;
    struct gk_chan_indices *out, *in;   /* the direction written / read */
    uint8_t *tx, *rx;
    uint32_t tx_prod, rx_cons;  /* private copies: never re-read from the page */
    struct gk_chan_stats stats;
    /* Server: the pages (rendezvous, control, then the rings) and their refs. */
    unsigned long pfn[2 + 2 * MAX_PAGES];
    grant_ref_t ref[2 + 2 * MAX_PAGES];
    /* Client: the maps (control, then the rings). */
    grant_handle_t handle[1 + 2 * MAX_PAGES];
};

static struct gk_chan chans[GK_CHAN_MAX];
static unsigned long mfn_list[MAX_PAGES];
static struct gnttab_map_grant_ref map_ops[1 + 2 * MAX_PAGES];
static struct gnttab_unmap_grant_ref unmap_ops[1 + 2 * MAX_PAGES];

static struct gk_chan *new_chan(void)
{
    for (unsigned int i = 0; i < GK_CHAN_MAX; i++) {
        struct gk_chan *c = &chans[i];
        if (!c->in_use) {
            memset(c, 0, sizeof(*c));
            c->in_use = 1;
            c->va = GK_CHAN_VA + i * GK_CHAN_WINDOW;
            return c;
        }
    }
    return NULL;
}

/* Point the ring and index pointers at the window, for side `side`. */
static void attach(struct gk_chan *c, int side, unsigned int order)
{
    c->side = side;
    c->pages = 1u << order;
    c->size = c->pages * (uint32_t)PAGE;
    c->ctl = (struct gk_chan_control *)(c->va + CONTROL_OFF);
    int out = side == SERVER ? GK_CHAN_TO_CLIENT : GK_CHAN_TO_SERVER;
    c->out = &c->ctl->ring[out];
    c->in = &c->ctl->ring[1 - out];
    c->tx = (uint8_t *)(c->va + RING_OFF(out));
    c->rx = (uint8_t *)(c->va + RING_OFF(1 - out));
}

/* ---- the peer --------------------------------------------------------------------- */

static int peer_closed(struct gk_chan *c)
{
    return c->gone || __atomic_load_n(&c->ctl->closed[1 - c->side], __ATOMIC_ACQUIRE);
}

static void notify(struct gk_chan *c)
{
    gk_evtchn_send(c->port);
    c->stats.notifies++;
}

/* Is the peer still there? A connected port says yes; before the client
 * has connected, the server's unbound port does too. */
static int peer_alive(struct gk_chan *c)
{
    struct evtchn_status st;
    if (gk_evtchn_status(c->port, &st))
        return 0;
    if (st.status == EVTCHNSTAT_interdomain)
        return 1;
    return c->side == SERVER && st.status == EVTCHNSTAT_unbound &&
           !__atomic_load_n(&c->ctl->connected, __ATOMIC_ACQUIRE);
}

/* Wait for an event (or until deadline_ns, 0 = none) in SLICE_NS
 * slices, marking the peer gone if a slice ends and its port is not
 * connected. 0 after an event or a slice, -XEN_ETIMEDOUT at the deadline. */
static int wait_event(struct gk_chan *c, uint64_t deadline_ns)
{
    uint64_t now = gk_now_ns();
    if (deadline_ns && now >= deadline_ns)
        return -XEN_ETIMEDOUT;
    uint64_t until = now + SLICE_NS;
    if (deadline_ns && deadline_ns < until)
        until = deadline_ns;
    c->stats.waits++;
    if (gk_evtchn_wait(c->port, until) == 0)
        return 0;
    if (!peer_alive(c))
        c->gone = 1;
    return 0;
}

/* The peer usually works on another CPU, and entering the hypervisor costs tens of microseconds on
 * this kind of host (a null hypercall ~30 us, a wait and its wake-up more): before sleeping, watch the
 * peer's index for a little while. Returns 1 if it moved away from `seen`. */
#define SPIN_NS         (50 * 1000)

static int spin_while(struct gk_chan *c, const uint32_t *index, uint32_t seen)
{
    uint64_t until = gk_now_ns() + SPIN_NS;
    for (unsigned int i = 0;; i++) {
        if (gk_ring_load(index) != seen)
            return 1;
        if (peer_closed(c))
            return 0;
        __builtin_ia32_pause();
        if ((i & 63) == 63 && gk_now_ns() >= until)
            return 0;
    }
}

/* ---- copying ------------------------------------------------------------------------ */

static void copy_in(struct gk_chan *c, uint32_t idx, const uint8_t *src, uint32_t n)
{
    uint32_t off = idx & (c->size - 1);
    uint32_t first = c->size - off < n ? c->size - off : n;
    memcpy(c->tx + off, src, first);
    if (n > first)
        memcpy(c->tx, src + first, n - first);
}

static void copy_out(struct gk_chan *c, uint32_t idx, uint8_t *dst, uint32_t n)
{
    uint32_t off = idx & (c->size - 1);
    uint32_t first = c->size - off < n ? c->size - off : n;
    memcpy(dst, c->rx + off, first);
    if (n > first)
        memcpy(dst + first, c->rx, n - first);
}

/* ---- the stream ---------------------------------------------------------------------- */

long gk_chan_write(struct gk_chan *c, const void *buf, size_t len)
{
    struct gk_chan_indices *ix = c->out;
    const uint8_t *src = buf;
    uint32_t prod = c->tx_prod;
    size_t done = 0;

    while (done < len) {
        if (peer_closed(c))
            return -XEN_ENOTCONN;
        uint32_t used = prod - gk_ring_load(&ix->cons);
        if (used > c->size)
            return -XEN_EIO;
        uint32_t space = c->size - used;
        if (space == 0) {
            if (spin_while(c, &ix->cons, prod - c->size))
                continue;
            /* Full: ask to be woken when enough is free to be worth it,
             * then look once more before sleeping. */
            size_t rest = len - done;
            uint32_t want = rest < c->size / 2 ? (uint32_t)rest : c->size / 2;
            gk_ring_store(&ix->cons_event, prod - c->size + want);
            gk_ring_mb();
            if (c->size - (prod - gk_ring_load(&ix->cons)) >= want)
                continue;
            wait_event(c, 0);
            continue;
        }
        uint32_t n = len - done < space ? (uint32_t)(len - done) : space;
        copy_in(c, prod, src + done, n);
        uint32_t next = prod + n;
        gk_ring_store(&ix->prod, next);
        gk_ring_mb();
        if (gk_ring_passed(prod, next, gk_ring_load(&ix->prod_event)))
            notify(c);
        prod = next;
        c->tx_prod = prod;
        done += n;
        c->stats.written += n;
    }
    return (long)done;
}

long gk_chan_read(struct gk_chan *c, void *buf, size_t len)
{
    struct gk_chan_indices *ix = c->in;
    uint8_t *dst = buf;
    uint32_t cons = c->rx_cons;
    size_t got = 0;

    while (got < len) {
        uint32_t avail = gk_ring_load(&ix->prod) - cons;
        if (avail > c->size)
            return -XEN_EIO;
        if (avail == 0) {
            if (spin_while(c, &ix->prod, cons))
                continue;
            if (!peer_closed(c)) {
                /* Empty: ask for an event at the next byte, look once more. */
                gk_ring_store(&ix->prod_event, cons + 1);
                gk_ring_mb();
                if (gk_ring_load(&ix->prod) != cons)
                    continue;
                if (!peer_closed(c)) {
                    wait_event(c, 0);
                    continue;
                }
            }
            /* Closed: the writer published its last bytes before its flag,
             * and prod was read before the flag: one last look. */
            if (gk_ring_load(&ix->prod) != cons)
                continue;
            break;
        }
        uint32_t n = len - got < avail ? (uint32_t)(len - got) : avail;
        copy_out(c, cons, dst + got, n);
        uint32_t next = cons + n;
        gk_ring_store(&ix->cons, next);
        gk_ring_mb();
        if (gk_ring_passed(cons, next, gk_ring_load(&ix->cons_event)))
            notify(c);
        cons = next;
        c->rx_cons = cons;
        got += n;
        c->stats.read += n;
    }
    return (long)got;
}

size_t gk_chan_readable(struct gk_chan *c)
{
    uint32_t avail = gk_ring_load(&c->in->prod) - c->rx_cons;
    return avail > c->size ? 0 : avail;
}

size_t gk_chan_writable(struct gk_chan *c)
{
    uint32_t used = c->tx_prod - gk_ring_load(&c->out->cons);
    return used > c->size ? 0 : c->size - used;
}

int gk_chan_flush(struct gk_chan *c, uint64_t deadline_ns)
{
    struct gk_chan_indices *ix = c->out;
    for (;;) {
        if (gk_ring_load(&ix->cons) == c->tx_prod)
            return 0;
        if (peer_closed(c))
            return -XEN_ENOTCONN;
        gk_ring_store(&ix->cons_event, c->tx_prod);     /* wake me when it is all read */
        gk_ring_mb();
        if (gk_ring_load(&ix->cons) == c->tx_prod)
            return 0;
        if (wait_event(c, deadline_ns))
            return -XEN_ETIMEDOUT;
    }
}

/* ---- server --------------------------------------------------------------------------- */

/* Give back whatever a server set up (grants ended first: a page whose
 * grant cannot end stays allocated). 0 or -XEN_EBUSY. */
static int server_teardown(struct gk_chan *c, unsigned int npages, uint64_t deadline_ns)
{
    int busy;
    for (;;) {
        busy = 0;
        for (unsigned int i = 0; i < npages; i++) {
            if (c->ref[i] && gk_gnttab_end(c->ref[i]) == -XEN_EBUSY)
                busy = 1;
            else
                c->ref[i] = 0;
        }
        if (!busy || gk_now_ns() >= deadline_ns)
            break;
        gk_sleep_ns(GK_NS_PER_MS);
    }
    for (unsigned int i = 0; i < npages; i++) {
        if (!c->pfn[i])
            continue;
        unsigned long va = i == 0 ? c->va : i == 1 ? c->va + CONTROL_OFF
                         : c->va + RING_OFF((i - 2) / c->pages) + ((i - 2) % c->pages) * PAGE;
        gk_unmap(va);
        if (!c->ref[i])
            gk_free_pfn(c->pfn[i]);
    }
    return busy ? -XEN_EBUSY : 0;
}

int gk_chan_serve(domid_t peer, unsigned int order, struct gk_chan **out)
{
    if (order > GK_CHAN_MAX_ORDER || peer >= DOMID_FIRST_RESERVED)
        return -XEN_EINVAL;
    /* Hold the well-known ref from the start (granted last, once the
     * page says everything). */
    int rc = gk_gnttab_claim(GK_CHAN_REF);
    if (rc)
        return rc;
    struct gk_chan *c = new_chan();
    if (!c) {
        gk_gnttab_end(GK_CHAN_REF);
        return -XEN_ENOSPC;
    }
    attach(c, SERVER, order);
    c->peer = peer;
    unsigned int npages = 2 + 2 * c->pages, got = 0;

    /* The pages, mapped in the window and zeroed (nothing of ours leaks). */
    for (; got < npages; got++) {
        long pfn = gk_alloc_pfn(0);
        if (pfn < 0) {
            rc = (int)pfn;
            goto fail;
        }
        c->pfn[got] = (unsigned long)pfn;
    }
    rc = gk_map(c->va, gk_pfn_to_mfn(c->pfn[0]), GK_PAGE_RW);
    if (rc == 0)
        rc = gk_map(c->va + CONTROL_OFF, gk_pfn_to_mfn(c->pfn[1]), GK_PAGE_RW);
    for (unsigned int dir = 0; dir < 2 && rc == 0; dir++) {
        for (unsigned int i = 0; i < c->pages; i++)
            mfn_list[i] = gk_pfn_to_mfn(c->pfn[2 + dir * c->pages + i]);
        rc = gk_map_range(c->va + RING_OFF(dir), mfn_list, c->pages, GK_PAGE_RW);
    }
    if (rc)
        goto fail;
    memset((void *)c->va, 0, 2 * PAGE);
    memset((void *)(c->va + RING_OFF(0)), 0, c->size);
    memset((void *)(c->va + RING_OFF(1)), 0, c->size);

    /* Both events start at 1: the first byte either way notifies. */
    for (unsigned int dir = 0; dir < 2; dir++) {
        c->ctl->ring[dir].prod_event = 1;
        c->ctl->ring[dir].cons_event = 1;
    }

    int port = gk_evtchn_alloc_unbound(peer);
    if (port < 0) {
        rc = port;
        goto fail;
    }
    c->port = (evtchn_port_t)port;

    /* Grants: control read-write, the ring the client reads read-only. */
    struct gk_chan_rendezvous *rv = (struct gk_chan_rendezvous *)c->va;
    for (unsigned int i = 1; i < npages; i++) {
        int readonly = i >= 2 && (i - 2) / c->pages == GK_CHAN_TO_CLIENT;
        int ref = gk_gnttab_grant(peer, gk_pfn_to_mfn(c->pfn[i]), readonly);
        if (ref < 0) {
            rc = ref;
            goto fail_port;
        }
        c->ref[i] = (grant_ref_t)ref;
        if (i == 1)
            rv->control_ref = (grant_ref_t)ref;
        else
            rv->ring_ref[(i - 2) / c->pages][(i - 2) % c->pages] = (grant_ref_t)ref;
    }
    rv->version = GK_CHAN_VERSION;
    rv->order = order;
    rv->port = c->port;
    rv->client = peer;
    __atomic_store_n(&rv->magic, GK_CHAN_MAGIC, __ATOMIC_RELEASE);

    c->ref[0] = GK_CHAN_REF;
    rc = gk_gnttab_set(GK_CHAN_REF, peer, gk_pfn_to_mfn(c->pfn[0]), 1);
    if (rc)
        goto fail_port;
    *out = c;
    return 0;

fail_port:
    gk_evtchn_close(c->port);
fail:
    if (!c->ref[0])
        gk_gnttab_end(GK_CHAN_REF);
    server_teardown(c, got, gk_now_ns());
    c->in_use = 0;
    return rc;
}

int gk_chan_accept(struct gk_chan *c, uint64_t deadline_ns)
{
    while (!__atomic_load_n(&c->ctl->connected, __ATOMIC_ACQUIRE)) {
        if (wait_event(c, deadline_ns))
            return -XEN_ETIMEDOUT;
    }
    return 0;
}

/* ---- client ------------------------------------------------------------------------------ */

/* Map the server's rendezvous page, retrying while it is not granted yet. */
static int map_rendezvous(struct gk_chan *c, domid_t server, uint64_t deadline_ns, grant_handle_t *h)
{
    for (;;) {
        int rc = gk_gnttab_map(server, GK_CHAN_REF, c->va, 1, h);
        if (rc == GNTST_okay)
            return 0;
        if (rc != GNTST_general_error && rc != GNTST_bad_gntref && rc != GNTST_bad_domain)
            return rc;
        if (gk_now_ns() >= deadline_ns)
            return -XEN_ETIMEDOUT;
        gk_sleep_ns(RETRY_NS);
    }
}

/* Undo the maps of map_ops[0..n) that worked. */
static void client_unmap(unsigned int n)
{
    unsigned int k = 0;
    for (unsigned int i = 0; i < n; i++) {
        if (map_ops[i].status != GNTST_okay)
            continue;
        unmap_ops[k] = (struct gnttab_unmap_grant_ref){ .host_addr = map_ops[i].host_addr,
                                                        .handle = map_ops[i].handle };
        k++;
    }
    gk_gnttab_unmap_batch(unmap_ops, k);
}

int gk_chan_connect(domid_t server, uint64_t deadline_ns, struct gk_chan **out)
{
    if (server >= DOMID_FIRST_RESERVED)
        return -XEN_EINVAL;
    if (!deadline_ns)
        deadline_ns = gk_now_ns() + CONNECT_NS;
    struct gk_chan *c = new_chan();
    if (!c)
        return -XEN_ENOSPC;
    c->peer = server;

    grant_handle_t rv_handle;
    int rc = map_rendezvous(c, server, deadline_ns, &rv_handle);
    if (rc) {
        c->in_use = 0;
        return rc;
    }
    /* Read the server's page once into our own copy, then check it. */
    static struct gk_chan_rendezvous rv;
    const volatile struct gk_chan_rendezvous *shared = (const volatile struct gk_chan_rendezvous *)c->va;
    uint32_t magic = __atomic_load_n(&shared->magic, __ATOMIC_ACQUIRE);
    memcpy(&rv, (const void *)c->va, sizeof(rv));
    gk_gnttab_unmap(c->va, rv_handle);
    if (magic != GK_CHAN_MAGIC || rv.version != GK_CHAN_VERSION || rv.order > GK_CHAN_MAX_ORDER) {
        c->in_use = 0;
        return -XEN_EINVAL;
    }
    attach(c, CLIENT, rv.order);

    /* Control page and every ring page in one batch. */
    unsigned int n = 1 + 2 * c->pages;
    /* status starts non-zero: only the hypervisor's answer makes an op "mapped". */
    map_ops[0] = (struct gnttab_map_grant_ref){ .host_addr = c->va + CONTROL_OFF, .flags = GNTMAP_host_map,
                                                .ref = rv.control_ref, .dom = server, .status = 1 };
    for (unsigned int i = 1; i < n; i++) {
        unsigned int dir = (i - 1) / c->pages, page = (i - 1) % c->pages;
        map_ops[i] = (struct gnttab_map_grant_ref){
            .host_addr = c->va + RING_OFF(dir) + page * PAGE,
            .flags = GNTMAP_host_map | (dir == GK_CHAN_TO_CLIENT ? GNTMAP_readonly : 0),
            .ref = rv.ring_ref[dir][page],
            .dom = server,
            .status = 1,
        };
    }
    rc = gk_gnttab_map_batch(map_ops, n);
    for (unsigned int i = 0; i < n && rc == 0; i++)
        rc = map_ops[i].status;
    if (rc) {
        client_unmap(n);
        c->in_use = 0;
        return rc;
    }
    for (unsigned int i = 0; i < n; i++)
        c->handle[i] = map_ops[i].handle;

    int port = gk_evtchn_bind_interdomain(server, rv.port);
    if (port < 0) {
        client_unmap(n);
        c->in_use = 0;
        return port;
    }
    c->port = (evtchn_port_t)port;
    gk_evtchn_clear(c->port);               /* a fresh interdomain port starts out pending */

    /* Pick up wherever the server's indices are (normally 0). */
    c->tx_prod = gk_ring_load(&c->out->prod);
    c->rx_cons = gk_ring_load(&c->in->cons);
    __atomic_store_n(&c->ctl->connected, 1, __ATOMIC_RELEASE);
    notify(c);
    *out = c;
    return 0;
}

/* ---- closing --------------------------------------------------------------------------------- */

int gk_chan_close(struct gk_chan *c)
{
    int rc = 0;
    __atomic_store_n(&c->ctl->closed[c->side], 1, __ATOMIC_RELEASE);
    gk_ring_mb();
    if (!c->gone)
        notify(c);

    if (c->side == CLIENT) {
        unsigned int n = 1 + 2 * c->pages;
        for (unsigned int i = 0; i < n; i++) {
            unmap_ops[i] = (struct gnttab_unmap_grant_ref){
                .host_addr = i == 0 ? c->va + CONTROL_OFF
                                    : c->va + RING_OFF((i - 1) / c->pages) + ((i - 1) % c->pages) * PAGE,
                .handle = c->handle[i],
            };
        }
        rc = gk_gnttab_unmap_batch(unmap_ops, n);
        for (unsigned int i = 0; i < n && rc == 0; i++)
            rc = unmap_ops[i].status;
        gk_evtchn_close(c->port);
        c->in_use = 0;
        return rc;
    }

    /* Server: let a connected client finish and unmap before ending the grants. */
    uint64_t linger = gk_now_ns() + LINGER_NS;
    while (__atomic_load_n(&c->ctl->connected, __ATOMIC_ACQUIRE) && !peer_closed(c) && gk_now_ns() < linger)
        wait_event(c, linger);
    rc = server_teardown(c, 2 + 2 * c->pages, gk_now_ns() + UNMAP_NS);
    gk_evtchn_close(c->port);
    c->in_use = 0;
    return rc;
}

/* ---- accessors ---------------------------------------------------------------------------------- */

uint32_t gk_chan_ring_bytes(const struct gk_chan *c)
{
    return c->size;
}

evtchn_port_t gk_chan_port(const struct gk_chan *c)
{
    return c->port;
}

domid_t gk_chan_peer(const struct gk_chan *c)
{
    return c->peer;
}

void gk_chan_stats(const struct gk_chan *c, struct gk_chan_stats *out)
{
    *out = c->stats;
}
