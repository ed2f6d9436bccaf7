/*
 * netfront.c - a netif front end: the xenbus handshake, a tx and an rx
 * ring of one page each, and a transmit and a receive page per slot,
 * granted once at open. See guestkit/netfront.h for the model.
 */
#include <guestkit/guestkit.h>
#include <guestkit/net.h>
#include <guestkit/netfront.h>

#define PAGE                GK_PAGE_SIZE
/* The window: tx ring, rx ring, the transmit pages, the receive pages. */
#define TX_RING             0u
#define RX_RING             1u
#define TX_BUF0             2u
#define RX_BUF0             (TX_BUF0 + GK_NET_TX_BUFS)
#define NPAGES              (RX_BUF0 + GK_NET_RX_BUFS)
#define SLICE_NS            GK_NS_PER_SEC                   /* wait this long before asking if the back end is there */
#define END_GRANT_NS        (5 * GK_NS_PER_SEC)             /* the back end may take a while to unmap */
#define FAILED_CLOSE_NS     (5 * GK_NS_PER_SEC)             /* an open that failed waits no longer than this */
#define CLOSE_DRAIN_NS      GK_NS_PER_SEC                   /* frames still going out when closing */

_Static_assert(NPAGES * PAGE <= GK_NET_WINDOW, "the rings and the pages fit the window");
_Static_assert(GK_NET_TX_BUFS == __CONST_RING_SIZE(netif_tx, 4096), "one transmit page per tx slot");
_Static_assert(GK_NET_RX_BUFS == __CONST_RING_SIZE(netif_rx, 4096), "one receive page per rx slot");
_Static_assert(GK_NET_FRAME_MAX <= PAGE, "a frame fits one page");

struct gk_net {
    int in_use;
    int connected;
    int broken;                 /* a timeout or protocol error: every call fails */
    struct gk_net_info info;
    struct gk_net_stats stats;
    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;
    unsigned long pfn[NPAGES];
    grant_ref_t gref[NPAGES];
    unsigned int npages;        /* pages allocated (pfn[0..npages)) */
    unsigned int ngrants;       /* of them granted (gref[0..ngrants)) */
    int mapped;
    int port_open;
    /* Transmit page i is tx id i: free ones are stacked, busy ones marked,
     * so a response naming a page not in flight is caught. */
    uint16_t tx_free[GK_NET_TX_BUFS];
    unsigned int tx_nfree;
    uint8_t tx_busy[GK_NET_TX_BUFS];
    /* Receive page i is rx id i: posted ones are marked. */
    uint8_t rx_posted[GK_NET_RX_BUFS];
    char token[24];             /* "gk-net-<handle>" */
    char state_path[160];       /* "<backend>/state" */
};

static struct gk_net vif;
static unsigned long mfns[NPAGES];
static char event[GK_XS_BUF_SIZE];

static uint8_t *page_va(unsigned int i)
{
    return (uint8_t *)(GK_NET_VA + PAGE * i);
}

static int broken(struct gk_net *d, int err)
{
    d->broken = 1;
    return err;
}

static int usable(const struct gk_net *d)
{
    if (!d || !d->in_use || !d->connected)
        return -XEN_EINVAL;
    return d->broken ? -XEN_EIO : 0;
}

/* ---- XenStore ---------------------------------------------------------------- */


/* The lowest-numbered vif the toolstack announced. */
static int first_vif(unsigned int *handle)
{
    int n = gk_xs_directory(GK_XS_TX_NONE, "device/vif", event, sizeof(event));
    if (n == -XEN_ENOENT)
        return -XEN_ENODEV;
    if (n < 0)
        return n;
    long best = -1;
    const char *name = event;
    for (int i = 0; i < n; i++, name += strlen(name) + 1) {
        long v = gk_xenbus_device_id(name);
        if (v >= 0 && (best < 0 || v < best))
            best = v;
    }
    if (best < 0)
        return -XEN_ENODEV;
    *handle = (unsigned int)best;
    return 0;
}

/* The toolstack's nodes: where the back end is, and our MAC. */
static int read_frontend(struct gk_net *d)
{
    const char *fe = d->info.frontend;
    char p[96];
    int rc = gk_xenbus_key(p, sizeof(p), fe, "backend");
    if (rc == 0)
        rc = gk_xs_read(GK_XS_TX_NONE, p, d->info.backend, sizeof(d->info.backend));
    if (rc == -XEN_ENOENT || rc == 0)
        return -XEN_ENODEV;
    if (rc < 0)
        return rc;
    unsigned long id;
    rc = gk_xenbus_read_number(fe, "backend-id", &id);
    if (rc == -XEN_ENOENT)
        return -XEN_ENODEV;
    if (rc)
        return rc;
    if (id >= DOMID_FIRST_RESERVED)
        return -XEN_EINVAL;
    d->info.backend_id = (domid_t)id;

    char mac[32];
    rc = gk_xenbus_key(p, sizeof(p), fe, "mac");
    if (rc == 0)
        rc = gk_xs_read(GK_XS_TX_NONE, p, mac, sizeof(mac));
    if (rc == -XEN_ENOBUFS)
        return -XEN_EINVAL;
    if (rc < 0)
        return rc;
    rc = gk_mac_parse(mac, d->info.mac);
    if (rc)
        return rc;
    return gk_xenbus_key(d->state_path, sizeof(d->state_path), d->info.backend, "state");
}

/* The nodes publish writes, under the front end's directory. */
struct publish_keys {
    const struct gk_net *d;
    char tx_ref[64], rx_ref[64], port[64], copy[64], notify[64], state[64];
};

static int publish_body(uint32_t tx, void *ctx)
{
    const struct publish_keys *k = ctx;
    char old[16];
    int rc = gk_xs_printf(tx, k->tx_ref, "%u", k->d->info.tx_ring_ref);
    if (rc == 0)
        rc = gk_xs_printf(tx, k->rx_ref, "%u", k->d->info.rx_ring_ref);
    if (rc == 0)
        rc = gk_xs_printf(tx, k->port, "%u", k->d->info.port);
    if (rc == 0)
        rc = gk_xs_write(tx, k->copy, "1");
    if (rc == 0)
        rc = gk_xs_write(tx, k->notify, "1");
    if (rc == 0)
        rc = gk_xs_read(tx, k->state, old, sizeof(old));   /* the device must still exist */
    return rc;
}

/* The ring refs, the port and the two requests, all at once. */
static int publish(struct gk_net *d)
{
    const char *fe = d->info.frontend;
    struct publish_keys k = { .d = d };
    int rc = gk_xenbus_key(k.tx_ref, sizeof(k.tx_ref), fe, "tx-ring-ref");
    if (rc == 0)
        rc = gk_xenbus_key(k.rx_ref, sizeof(k.rx_ref), fe, "rx-ring-ref");
    if (rc == 0)
        rc = gk_xenbus_key(k.port, sizeof(k.port), fe, "event-channel");
    if (rc == 0)
        rc = gk_xenbus_key(k.copy, sizeof(k.copy), fe, "request-rx-copy");
    if (rc == 0)
        rc = gk_xenbus_key(k.notify, sizeof(k.notify), fe, "feature-rx-notify");
    if (rc == 0)
        rc = gk_xenbus_key(k.state, sizeof(k.state), fe, "state");
    return rc ? rc : gk_xs_transact(publish_body, &k);
}

/* ---- pages, grants, port ------------------------------------------------------ */

/* Put receive page `id` on the rx ring (not yet published). A slot is
 * always free: at most 256 pages are posted and one was just taken. */
static void post_rx(struct gk_net *d, uint16_t id)
{
    struct netif_rx_request *r = RING_GET_REQUEST(&d->rx, d->rx.req_prod_pvt);
    r->id = id;
    r->pad = 0;
    r->gref = d->gref[RX_BUF0 + id];
    d->rx.req_prod_pvt++;
    d->rx_posted[id] = 1;
}

/* Both rings and every buffer page: allocated, mapped in the window,
 * zeroed (nothing of ours reaches the back end), granted, the rings
 * initialised, every receive page posted; then the port. */
static int setup_pages(struct gk_net *d)
{
    for (; d->npages < NPAGES; d->npages++) {
        long pfn = gk_alloc_pfn(0);
        if (pfn < 0)
            return -XEN_ENOMEM;
        d->pfn[d->npages] = (unsigned long)pfn;
        mfns[d->npages] = gk_pfn_to_mfn((unsigned long)pfn);
    }
    d->mapped = 1;
    int rc = gk_map_range(GK_NET_VA, mfns, NPAGES, GK_PAGE_RW);
    if (rc)
        return rc;
    memset(page_va(0), 0, NPAGES * PAGE);
    for (; d->ngrants < NPAGES; d->ngrants++) {
        unsigned int i = d->ngrants;
        int readonly = i >= TX_BUF0 && i < RX_BUF0;     /* the back end only reads what we send */
        int ref = gk_gnttab_grant(d->info.backend_id, mfns[i], readonly);
        if (ref < 0)
            return ref;
        d->gref[i] = (grant_ref_t)ref;
    }

    netif_tx_sring_t *txs = (netif_tx_sring_t *)page_va(TX_RING);
    netif_rx_sring_t *rxs = (netif_rx_sring_t *)page_va(RX_RING);
    SHARED_RING_INIT(txs);
    FRONT_RING_INIT(&d->tx, txs, PAGE);
    SHARED_RING_INIT(rxs);
    FRONT_RING_INIT(&d->rx, rxs, PAGE);
    if (RING_SIZE(&d->tx) != GK_NET_TX_BUFS || RING_SIZE(&d->rx) != GK_NET_RX_BUFS)
        return -XEN_EINVAL;
    d->info.tx_ring_ref = d->gref[TX_RING];
    d->info.rx_ring_ref = d->gref[RX_RING];

    /* Free transmit pages popped lowest first. */
    for (unsigned int i = 0; i < GK_NET_TX_BUFS; i++)
        d->tx_free[i] = (uint16_t)(GK_NET_TX_BUFS - 1 - i);
    d->tx_nfree = GK_NET_TX_BUFS;
    /* The back end finds the rx ring full when it connects: no frame that
     * arrives after that is dropped for want of a page. */
    for (unsigned int i = 0; i < GK_NET_RX_BUFS; i++)
        post_rx(d, (uint16_t)i);
    RING_PUSH_REQUESTS(&d->rx);

    int port = gk_evtchn_alloc_unbound(d->info.backend_id);
    if (port < 0)
        return port;
    d->info.port = (evtchn_port_t)port;
    d->port_open = 1;
    return 0;
}

/* Undo setup_pages: the port, the mappings, the grants (retried while the
 * back end still maps a page) and the pages whose grant ended. */
static int release_pages(void *ctx)
{
    struct gk_net *d = ctx;
    if (d->port_open) {
        gk_evtchn_close(d->info.port);
        d->port_open = 0;
    }
    if (d->mapped) {
        gk_unmap_range(GK_NET_VA, NPAGES);
        d->mapped = 0;
    }
    int rc = gk_gnttab_end_and_free(d->gref, d->ngrants, d->pfn, d->npages, END_GRANT_NS);
    d->npages = d->ngrants = 0;
    return rc;
}

/* Take the vif down. `published`: the back end knows of the rings, so
 * say Closing and wait for it to let go first. */
static int disconnect(struct gk_net *d, int published, uint64_t wait_ns)
{
    int rc = gk_xenbus_close_device(d->info.frontend, d->info.backend, d->state_path, d->token, published, wait_ns,
                                    release_pages, d);
    d->connected = 0;
    return rc;
}

/* ---- opening -------------------------------------------------------------------- */

int gk_net_open(struct gk_net **out)
{
    if (!out)
        return -XEN_EINVAL;
    if (vif.in_use)
        return -XEN_EBUSY;
    struct gk_net *d = &vif;
    memset(d, 0, sizeof(*d));
    d->in_use = 1;

    int published = 0;
    unsigned int handle = 0;
    int rc = first_vif(&handle);
    if (rc)
        goto fail;
    d->info.handle = handle;
    gk_snprintf(d->info.frontend, sizeof(d->info.frontend), "device/vif/%u", handle);
    gk_snprintf(d->token, sizeof(d->token), "gk-net-%u", handle);
    rc = read_frontend(d);
    if (rc)
        goto fail;

    rc = gk_xenbus_claim_device(d->info.frontend);
    if (rc)
        goto fail;

    rc = gk_xs_watch(d->state_path, d->token);
    if (rc)
        goto fail;
    rc = gk_xenbus_wait_state(d->info.backend, GK_XENBUS_STATE(XenbusStateInitWait), 0, gk_now_ns() + GK_NET_TIMEOUT_NS);
    if (rc < 0)
        goto fail_watch;
    /* Linux's rule: a back end that cannot copy into our pages is no use. */
    unsigned long rx_copy = 0;
    rc = gk_xenbus_read_number(d->info.backend, "feature-rx-copy", &rx_copy);
    if (rc == -XEN_ENOENT || rc == -XEN_EINVAL || (rc == 0 && rx_copy == 0))
        rc = -XEN_ENODEV;
    if (rc)
        goto fail_watch;

    rc = setup_pages(d);
    if (rc)
        goto fail_watch;
    rc = publish(d);
    if (rc)
        goto fail_watch;
    published = 1;
    rc = gk_xenbus_switch_state(d->info.frontend, XenbusStateConnected);
    if (rc)
        goto fail_watch;
    rc = gk_xenbus_wait_state(d->info.backend, GK_XENBUS_STATE(XenbusStateConnected), GK_XENBUS_STATE(XenbusStateClosing) | GK_XENBUS_STATE(XenbusStateClosed),
                      gk_now_ns() + GK_NET_TIMEOUT_NS);
    if (rc < 0)
        goto fail_watch;
    gk_xs_unwatch(d->state_path, d->token);
    d->connected = 1;
    /* The rx ring was filled before the back end listened: tell it now. */
    gk_evtchn_send(d->info.port);
    d->stats.notifications++;
    *out = d;
    return 0;

fail_watch:
    gk_xs_unwatch(d->state_path, d->token);
fail:
    disconnect(d, published, FAILED_CLOSE_NS);
    d->in_use = 0;
    return rc;
}

const struct gk_net_info *gk_net_info(const struct gk_net *d)
{
    return &d->info;
}

const uint8_t *gk_net_mac(const struct gk_net *d)
{
    return d->info.mac;
}

const struct gk_net_stats *gk_net_stats(const struct gk_net *d)
{
    return &d->stats;
}

/* ---- the rings ------------------------------------------------------------------ */

static void notify(struct gk_net *d)
{
    gk_evtchn_send(d->info.port);
    d->stats.notifications++;
}

static void push_tx(struct gk_net *d)
{
    int n;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&d->tx, n);
    if (n)
        notify(d);
}

static void push_rx(struct gk_net *d)
{
    int n;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&d->rx, n);
    if (n)
        notify(d);
}

/* Whether responses wait on the tx (rx = 0) or rx ring. */
static int pending(const struct gk_net *d, int rx)
{
    if (rx)
        return gk_ring_load(&d->rx.sring->rsp_prod) != d->rx.rsp_cons;
    return gk_ring_load(&d->tx.sring->rsp_prod) != d->tx.rsp_cons;
}

/* Wait until the ring has a response to take, or system time deadline_ns
 * (0: none): poll a little (the back end is usually at work on another
 * CPU, and a wait costs hypercalls), then ask for an event
 * (RING_FINAL_CHECK_FOR_RESPONSES) and block in slices. One port serves
 * both rings, so a wake-up may be for the other: look again. */
static int wait_ring(struct gk_net *d, int rx, uint64_t deadline_ns)
{
    uint64_t until = gk_now_ns() + GK_NET_SPIN_NS;
    if (deadline_ns && deadline_ns < until)
        until = deadline_ns;
    for (unsigned int i = 0;; i++) {
        if (pending(d, rx))
            return 0;
        __builtin_ia32_pause();
        if ((i & 63) == 63 && gk_now_ns() >= until)
            break;
    }
    for (;;) {
        int more;
        if (rx)
            RING_FINAL_CHECK_FOR_RESPONSES(&d->rx, more);
        else
            RING_FINAL_CHECK_FOR_RESPONSES(&d->tx, more);
        if (more)
            return 0;
        uint64_t now = gk_now_ns();
        if (deadline_ns && now >= deadline_ns)
            return -XEN_ETIMEDOUT;
        uint64_t slice = now + SLICE_NS;
        int full = 1;
        if (deadline_ns && deadline_ns < slice) {
            slice = deadline_ns;
            full = 0;
        }
        d->stats.waits++;
        if (gk_evtchn_wait(d->info.port, slice) == 0 || pending(d, rx))
            continue;
        if (!full)
            return -XEN_ETIMEDOUT;
        /* A silent second: is the back end still there? */
        int st = gk_xenbus_read_state(GK_XS_TX_NONE, d->info.backend);
        if (st == XenbusStateClosing || st == XenbusStateClosed || st == -XEN_ENOENT)
            return broken(d, -XEN_ENOTCONN);
    }
}

/* Take every tx response published so far: its page is free again. */
static int reap_tx(struct gk_net *d)
{
    RING_IDX prod = gk_ring_load(&d->tx.sring->rsp_prod);
    /* Never more than were asked for. */
    if ((RING_IDX)(prod - d->tx.rsp_cons) > (RING_IDX)(d->tx.req_prod_pvt - d->tx.rsp_cons))
        return broken(d, -XEN_EIO);
    while (d->tx.rsp_cons != prod) {
        struct netif_tx_response rsp =
            *(volatile struct netif_tx_response *)RING_GET_RESPONSE(&d->tx, d->tx.rsp_cons);
        d->tx.rsp_cons++;
        if (rsp.id >= GK_NET_TX_BUFS || !d->tx_busy[rsp.id])
            return broken(d, -XEN_EIO);     /* names nothing we sent: can't trust the ring */
        if (rsp.status == NETIF_RSP_DROPPED)
            d->stats.tx_dropped++;
        else if (rsp.status != NETIF_RSP_OKAY)
            d->stats.tx_errors++;
        d->tx_busy[rsp.id] = 0;
        d->tx_free[d->tx_nfree++] = rsp.id;
    }
    return 0;
}

int gk_net_send(struct gk_net *d, const void *frame, size_t len)
{
    int rc = usable(d);
    if (rc)
        return rc;
    if (!frame || len < GK_NET_FRAME_MIN || len > GK_NET_FRAME_MAX)
        return -XEN_EINVAL;
    rc = reap_tx(d);
    if (rc)
        return rc;
    if (d->tx_nfree == 0) {
        d->stats.tx_full++;
        uint64_t deadline = gk_now_ns() + GK_NET_TIMEOUT_NS;
        while (d->tx_nfree == 0) {
            rc = wait_ring(d, 0, deadline);
            if (rc == -XEN_ETIMEDOUT)
                return broken(d, rc);
            if (rc == 0)
                rc = reap_tx(d);
            if (rc)
                return rc;
        }
    }
    /* Every free page is a free slot too: in flight = pages busy. */
    uint16_t id = d->tx_free[--d->tx_nfree];
    d->tx_busy[id] = 1;
    memcpy(page_va(TX_BUF0 + id), frame, len);
    struct netif_tx_request *r = RING_GET_REQUEST(&d->tx, d->tx.req_prod_pvt);
    r->gref = d->gref[TX_BUF0 + id];
    r->offset = 0;
    r->flags = 0;
    r->id = id;
    r->size = (uint16_t)len;
    d->tx.req_prod_pvt++;
    d->stats.tx_frames++;
    d->stats.tx_bytes += len;
    push_tx(d);
    return 0;
}

int gk_net_flush(struct gk_net *d, uint64_t deadline_ns)
{
    int rc = usable(d);
    if (rc)
        return rc;
    if (!deadline_ns)
        deadline_ns = gk_now_ns() + GK_NET_TIMEOUT_NS;
    for (;;) {
        rc = reap_tx(d);
        if (rc || d->tx_nfree == GK_NET_TX_BUFS)
            return rc;
        rc = wait_ring(d, 0, deadline_ns);
        if (rc)
            return rc;
    }
}

/* The next good frame among the rx responses published so far, copied
 * into buf: its length, 0 if there is none, or an error. Every page taken
 * is posted again. */
static int take_rx(struct gk_net *d, uint8_t *buf, size_t max)
{
    RING_IDX prod = gk_ring_load(&d->rx.sring->rsp_prod);
    if ((RING_IDX)(prod - d->rx.rsp_cons) > (RING_IDX)(d->rx.req_prod_pvt - d->rx.rsp_cons))
        return broken(d, -XEN_EIO);
    while (d->rx.rsp_cons != prod) {
        struct netif_rx_response rsp =
            *(volatile struct netif_rx_response *)RING_GET_RESPONSE(&d->rx, d->rx.rsp_cons);
        d->rx.rsp_cons++;
        if (rsp.id >= GK_NET_RX_BUFS || !d->rx_posted[rsp.id])
            return broken(d, -XEN_EIO);
        d->rx_posted[rsp.id] = 0;
        int len = 0;
        /* One slot per frame, inside the page: anything else is not for us. */
        if (rsp.status > 0 && !(rsp.flags & (NETRXF_more_data | NETRXF_extra_info)) &&
            (unsigned long)rsp.offset + (unsigned long)rsp.status <= PAGE)
            len = rsp.status;
        if (len > 0)
            memcpy(buf, page_va(RX_BUF0 + rsp.id) + rsp.offset, (size_t)len < max ? (size_t)len : max);
        else
            d->stats.rx_errors++;
        post_rx(d, rsp.id);
        push_rx(d);
        if (len > 0) {
            d->stats.rx_frames++;
            d->stats.rx_bytes += (uint64_t)len;
            if ((size_t)len > max) {
                d->stats.rx_truncated++;
                return -XEN_EMSGSIZE;
            }
            return len;
        }
    }
    return 0;
}

int gk_net_receive(struct gk_net *d, void *buf, size_t max, uint64_t deadline_ns)
{
    int rc = usable(d);
    if (rc)
        return rc;
    if (!buf && max)
        return -XEN_EINVAL;
    for (;;) {
        rc = take_rx(d, buf, max);
        if (rc)
            return rc;
        rc = reap_tx(d);        /* keeps transmit pages coming back while only receiving */
        if (rc)
            return rc;
        rc = wait_ring(d, 1, deadline_ns);
        if (rc)
            return rc;
    }
}

/* ---- closing -------------------------------------------------------------------- */

int gk_net_close(struct gk_net *d)
{
    if (!d || !d->in_use)
        return -XEN_EINVAL;
    if (usable(d) == 0)
        gk_net_flush(d, gk_now_ns() + CLOSE_DRAIN_NS);
    int rc = disconnect(d, 1, GK_NET_TIMEOUT_NS);
    d->in_use = 0;
    return rc;
}
