/*
 * blkfront.c - a blkif front end: the xenbus handshake, a one-page ring,
 * a pool of bounce pages granted once at open, and indirect requests when
 * the back end offers them. See guestkit/blkfront.h for the model.
 */
#include <guestkit/guestkit.h>
#include <guestkit/blkfront.h>

#define PAGE                GK_PAGE_SIZE
#define SEG                 GK_BLK_SEGMENTS
#define SECTORS_PER_PAGE    (PAGE / GK_BLK_SECTOR_SIZE)
#define SEGS_PER_IPAGE      GK_BLK_SEGMENTS_PER_INDIRECT_PAGE
#define IPAGES_MAX          ((GK_BLK_INDIRECT_SEGMENTS + SEGS_PER_IPAGE - 1) / SEGS_PER_IPAGE)
#define POOL_MAX            (GK_BLK_INDIRECT_POOL_PAGES > GK_BLK_POOL_PAGES ? GK_BLK_INDIRECT_POOL_PAGES : GK_BLK_POOL_PAGES)
#define BASE_PAGES          (1 + GK_BLK_POOL_PAGES)         /* the ring page, then the direct pool: at open */
#define NPAGES              (1 + POOL_MAX + GK_BLK_SLOTS * IPAGES_MAX)  /* ... then more pool, indirect pages */
#define SLICE_NS            GK_NS_PER_SEC                   /* wait this long before asking if the back end is there */
#define END_GRANT_NS        (5 * GK_NS_PER_SEC)             /* the back end may take a while to unmap */
#define FAILED_CLOSE_NS     (5 * GK_NS_PER_SEC)             /* an open that failed waits no longer than this */

_Static_assert(NPAGES * PAGE <= GK_BLK_WINDOW, "the ring and its pool fit one window");
_Static_assert(GK_BLK_SLOTS == __CONST_RING_SIZE(blkif, 4096), "one slot per request in flight");
_Static_assert(SECTORS_PER_PAGE == 8, "first_sect/last_sect count 512-byte sectors in a 4 KiB page");
_Static_assert(GK_BLK_INDIRECT_SEGMENTS > GK_BLK_SEGMENTS &&
               GK_BLK_INDIRECT_SEGMENTS <= BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * 512,
               "an indirect request has more segments than a direct one, in at most 8 indirect pages");
_Static_assert(GK_BLK_INDIRECT_POOL_PAGES >= GK_BLK_INDIRECT_SEGMENTS, "at least one indirect request fits the pool");
_Static_assert(SEGS_PER_IPAGE * sizeof(struct blkif_request_segment) == PAGE, "an indirect page is full of descriptors");

/* A request in flight: ring slot i's id is i, and it owns pool pages
 * per*i .. per*i+per-1 (per = 11, or the indirect segment count during an
 * indirect transfer), consecutive in the window. */
struct slot {
    uint8_t busy;
    uint8_t op;             /* the operation its response must name (an indirect request's inner one) */
    uint8_t raw;            /* gk_blk_raw's: keep the response */
    uint32_t bytes;         /* a read's bytes to copy out */
    uint8_t *dest;          /* ... and where to */
    const uint8_t *bounce;  /* ... and from where */
};

/* One ring slot's 112 bytes, as any kind of request (put() copies them all). */
union request {
    struct blkif_request direct;
    struct blkif_request_indirect indirect;
    struct blkif_request_discard discard;
};

struct gk_blk {
    int in_use;
    int connected;
    int broken;             /* a timeout or protocol error: every call fails */
    struct gk_blk_info info;
    struct gk_blk_stats stats;
    blkif_front_ring_t ring;
    unsigned long va;       /* the window: ring page, the pool, indirect pages */
    unsigned long pfn[NPAGES];
    grant_ref_t gref[NPAGES];
    unsigned int npages;    /* pages allocated (pfn[0..npages)) */
    unsigned int ngrants;   /* of them granted (gref[0..ngrants)) */
    unsigned int mapped;    /* of them mapped in the window (the first `mapped`) */
    int port_open;
    unsigned int pool;      /* bounce pages granted: GK_BLK_POOL_PAGES, more with indirect requests */
    unsigned int iseg;      /* segments per indirect request (0: direct requests only) */
    unsigned int islots;    /* slots of iseg pages the pool holds (at most GK_BLK_SLOTS) */
    unsigned int ipages;    /* indirect pages per slot, after the pool */
    unsigned int per;       /* pages per slot in the current call: GK_BLK_SEGMENTS or iseg */
    unsigned int nslots;    /* slots usable in the current call */
    struct slot slot[GK_BLK_SLOTS];
    unsigned int inflight;
    unsigned int hint;      /* where to look for a free slot */
    int op_error;           /* the first failure of the current call */
    int16_t last_status;
    uint8_t last_op;
    struct blkif_response raw_rsp;
    char token[24];         /* "gk-blk-<devid>" */
    char state_path[160];   /* "<backend>/state" */
};

static struct gk_blk devs[GK_BLK_MAX];
static unsigned long mfns[NPAGES];
static char event[GK_XS_BUF_SIZE];

static uint8_t *page_va(const struct gk_blk *d, unsigned int slot, unsigned int j)
{
    return (uint8_t *)(d->va + PAGE * (1 + slot * d->per + j));
}

static grant_ref_t page_ref(const struct gk_blk *d, unsigned int slot, unsigned int j)
{
    return d->gref[1 + slot * d->per + j];
}

/* Slot `slot`'s indirect page j: its descriptors and grant ref. */
static struct blkif_request_segment *indirect_va(const struct gk_blk *d, unsigned int slot, unsigned int j)
{
    return (struct blkif_request_segment *)(d->va + PAGE * (1 + d->pool + slot * d->ipages + j));
}

static grant_ref_t indirect_ref(const struct gk_blk *d, unsigned int slot, unsigned int j)
{
    return d->gref[1 + d->pool + slot * d->ipages + j];
}

/* The slots of the current call: `per` pages each. Only between calls
 * (nothing in flight), so no slot changes its pages under a request. */
static void layout(struct gk_blk *d, unsigned int per)
{
    d->per = per;
    d->nslots = per == SEG ? GK_BLK_SLOTS : d->islots;
}

static int broken(struct gk_blk *d, int err)
{
    d->broken = 1;
    return err;
}

/* ---- XenStore ---------------------------------------------------------------- */



/* An optional number: `dflt` when the node is missing or not a number. */
static unsigned long read_optional(const char *dir, const char *key, unsigned long dflt)
{
    unsigned long v;
    return gk_xenbus_read_number(dir, key, &v) == 0 ? v : dflt;
}



/* The toolstack's nodes: where the back end is, and that this is a disk. */
static int read_frontend(struct gk_blk *d)
{
    const char *fe = d->info.frontend;
    char p[96];
    int rc = gk_xenbus_key(p, sizeof(p), fe, "backend");
    if (rc == 0)
        rc = gk_xs_read(GK_XS_TX_NONE, p, d->info.backend, sizeof(d->info.backend));
    if (rc == -XEN_ENOENT)
        return -XEN_ENODEV;
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -XEN_ENODEV;
    unsigned long id;
    rc = gk_xenbus_read_number(fe, "backend-id", &id);
    if (rc == -XEN_ENOENT)
        return -XEN_ENODEV;
    if (rc)
        return rc;
    if (id >= DOMID_FIRST_RESERVED)
        return -XEN_EINVAL;
    d->info.backend_id = (domid_t)id;

    /* Linux's blkfront ignores anything but disks (a "cdrom" says so). */
    char type[16];
    rc = gk_xenbus_key(p, sizeof(p), fe, "device-type");
    if (rc == 0)
        rc = gk_xs_read(GK_XS_TX_NONE, p, type, sizeof(type));
    if (rc >= 0 && strcmp(type, "disk") != 0)
        return -XEN_ENODEV;
    if (rc < 0 && rc != -XEN_ENOENT && rc != -XEN_ENOBUFS)
        return rc;
    if (rc == -XEN_ENOBUFS)
        return -XEN_ENODEV;
    return gk_xenbus_key(d->state_path, sizeof(d->state_path), d->info.backend, "state");
}

/* The nodes publish writes, under the front end's directory. */
struct publish_keys {
    const struct gk_blk *d;
    char ring_ref[64], port[64], protocol[64], state[64];
};

static int publish_body(uint32_t tx, void *ctx)
{
    const struct publish_keys *k = ctx;
    char old[16];
    int rc = gk_xs_printf(tx, k->ring_ref, "%u", k->d->info.ring_ref);
    if (rc == 0)
        rc = gk_xs_printf(tx, k->port, "%u", k->d->info.port);
    if (rc == 0)
        rc = gk_xs_write(tx, k->protocol, XEN_IO_PROTO_ABI_X86_64);
    if (rc == 0)
        rc = gk_xs_read(tx, k->state, old, sizeof(old));   /* the device must still exist */
    if (rc >= 0)
        rc = gk_xs_printf(tx, k->state, "%d", (int)XenbusStateInitialised);
    return rc;
}

/* ring-ref, event-channel, protocol and state Initialised, all at once. */
static int publish(struct gk_blk *d)
{
    const char *fe = d->info.frontend;
    struct publish_keys k = { .d = d };
    int rc = gk_xenbus_key(k.ring_ref, sizeof(k.ring_ref), fe, "ring-ref");
    if (rc == 0)
        rc = gk_xenbus_key(k.port, sizeof(k.port), fe, "event-channel");
    if (rc == 0)
        rc = gk_xenbus_key(k.protocol, sizeof(k.protocol), fe, "protocol");
    if (rc == 0)
        rc = gk_xenbus_key(k.state, sizeof(k.state), fe, "state");
    return rc ? rc : gk_xs_transact(publish_body, &k);
}

/* What the back end says about the disk (Connected: final values). */
static int read_backend(struct gk_blk *d)
{
    const char *be = d->info.backend;
    unsigned long sectors;
    int rc = gk_xenbus_read_number(be, "sectors", &sectors);
    if (rc)
        return rc;
    unsigned long ss = read_optional(be, "sector-size", GK_BLK_SECTOR_SIZE);
    if (ss < GK_BLK_SECTOR_SIZE || ss % GK_BLK_SECTOR_SIZE || ss > PAGE)
        return -XEN_EINVAL;
    d->info.sectors = sectors;
    d->info.sector_size = (unsigned int)ss;
    d->info.info = (unsigned int)read_optional(be, "info", 0);
    d->info.readonly = (d->info.info & VDISK_READONLY) != 0;
    d->info.flush = read_optional(be, "feature-flush-cache", 0) != 0;
    d->info.barrier = read_optional(be, "feature-barrier", 0) != 0;
    d->info.discard = read_optional(be, "feature-discard", 0) != 0;
    d->info.discard_secure = read_optional(be, "discard-secure", 0) != 0;
    d->info.discard_granularity = (unsigned int)read_optional(be, "discard-granularity", 0);
    d->info.discard_alignment = (unsigned int)read_optional(be, "discard-alignment", 0);
    unsigned long most = read_optional(be, "feature-max-indirect-segments", 0);
    d->info.max_indirect_segments = most > 0xffff ? 0xffff : (unsigned int)most;   /* nr_segments is 16 bits */
    return 0;
}

/* ---- pages, grants, port ------------------------------------------------------ */

/* Pages npages .. total-1 of the window: allocated, mapped, zeroed
 * (nothing of ours reaches the back end), granted; read-write below
 * `readonly_from` (a read's pages must be writable by the back end;
 * writes reuse them), read-only from there (indirect pages: the back end
 * only reads them). On an error what was done stays, for release_pages. */
static int add_pages(struct gk_blk *d, unsigned int total, unsigned int readonly_from)
{
    unsigned int first = d->npages;
    for (; d->npages < total; d->npages++) {
        long pfn = gk_alloc_pfn(0);
        if (pfn < 0)
            return -XEN_ENOMEM;
        d->pfn[d->npages] = (unsigned long)pfn;
        mfns[d->npages] = gk_pfn_to_mfn((unsigned long)pfn);
    }
    d->mapped = total;      /* a failed gk_map_range leaves some mapped: all are unmapped at release */
    int rc = gk_map_range(d->va + first * PAGE, mfns + first, total - first, GK_PAGE_RW);
    if (rc)
        return rc;
    memset((void *)(d->va + first * PAGE), 0, (total - first) * PAGE);
    for (; d->ngrants < total; d->ngrants++) {
        int ref = gk_gnttab_grant(d->info.backend_id, mfns[d->ngrants], d->ngrants >= readonly_from);
        if (ref < 0)
            return ref;
        d->gref[d->ngrants] = (grant_ref_t)ref;
    }
    return 0;
}

/* Gives back pages keep .. npages-1 that add_pages took (none named in a
 * request yet, so their grants end at once; if one does not, everything
 * stays for release_pages). */
static void drop_pages(struct gk_blk *d, unsigned int keep)
{
    if (keep < d->ngrants && gk_gnttab_end_all(d->gref + keep, d->ngrants - keep, 0))
        return;
    if (d->mapped > keep) {
        gk_unmap_range(d->va + keep * PAGE, d->mapped - keep);
        d->mapped = keep;
    }
    for (unsigned int i = keep; i < d->npages; i++)
        gk_free_pfn(d->pfn[i]);
    d->npages = d->ngrants = keep;
}

/* The ring page and the direct pool. */
static int setup_pages(struct gk_blk *d)
{
    d->pool = GK_BLK_POOL_PAGES;
    layout(d, SEG);
    int rc = add_pages(d, BASE_PAGES, BASE_PAGES);
    if (rc)
        return rc;
    blkif_sring_t *s = (blkif_sring_t *)d->va;
    SHARED_RING_INIT(s);
    FRONT_RING_INIT(&d->ring, s, PAGE);
    if (RING_SIZE(&d->ring) != GK_BLK_SLOTS)
        return -XEN_EINVAL;
    d->info.ring_ref = d->gref[0];

    int port = gk_evtchn_alloc_unbound(d->info.backend_id);
    if (port < 0)
        return port;
    d->info.port = (evtchn_port_t)port;
    d->port_open = 1;
    return 0;
}

/* Indirect requests, if the back end offers them and `limit` (0: the
 * default) allows more than a direct request's 11 pages: the pool grows
 * to hold islots slots of iseg pages, and each slot gets its indirect
 * pages. Without the pages, the disk keeps to direct requests (and what
 * was taken goes back). */
static void setup_indirect(struct gk_blk *d, unsigned int limit)
{
    unsigned int segs = limit && limit < GK_BLK_INDIRECT_SEGMENTS ? limit : GK_BLK_INDIRECT_SEGMENTS;
    if (segs > d->info.max_indirect_segments)
        segs = d->info.max_indirect_segments;
    d->info.segments = SEG;
    if (segs <= SEG)
        return;
    unsigned int slots = GK_BLK_INDIRECT_POOL_PAGES / segs;
    if (slots > GK_BLK_SLOTS)
        slots = GK_BLK_SLOTS;
    unsigned int pool = slots * segs > GK_BLK_POOL_PAGES ? slots * segs : GK_BLK_POOL_PAGES;
    unsigned int ipages = (segs + SEGS_PER_IPAGE - 1) / SEGS_PER_IPAGE;
    unsigned int before = d->npages;
    if (add_pages(d, 1 + pool + slots * ipages, 1 + pool) != 0) {
        drop_pages(d, before);
        return;
    }
    d->pool = pool;
    d->iseg = segs;
    d->islots = slots;
    d->ipages = ipages;
    d->info.segments = segs;
}

/* Undo setup_pages: the port, the mappings, the grants (retried while the
 * back end still maps a page) and the pages whose grant ended. */
static int release_pages(void *ctx)
{
    struct gk_blk *d = ctx;
    if (d->port_open) {
        gk_evtchn_close(d->info.port);
        d->port_open = 0;
    }
    if (d->mapped) {
        gk_unmap_range(d->va, d->mapped);
        d->mapped = 0;
    }
    int rc = gk_gnttab_end_and_free(d->gref, d->ngrants, d->pfn, d->npages, END_GRANT_NS);
    d->npages = d->ngrants = 0;
    return rc;
}

/* Take the device down. `published`: the back end knows of the ring, so
 * say Closing and wait for it to let go first. */
static int disconnect(struct gk_blk *d, int published, uint64_t wait_ns)
{
    int rc = gk_xenbus_close_device(d->info.frontend, d->info.backend, d->state_path, d->token, published, wait_ns,
                                    release_pages, d);
    d->connected = 0;
    return rc;
}

/* ---- enumerating and opening ------------------------------------------------------ */

int gk_blk_list(unsigned int *devids, unsigned int max)
{
    int n = gk_xs_directory(GK_XS_TX_NONE, "device/vbd", event, sizeof(event));
    if (n == -XEN_ENOENT)
        return 0;
    if (n < 0)
        return n;
    /* Keep the `max` smallest, ascending (insertion into the caller's array). */
    unsigned int count = 0, kept = 0;
    const char *name = event;
    for (int i = 0; i < n; i++, name += strlen(name) + 1) {
        long v = gk_xenbus_device_id(name);
        if (v < 0)
            continue;
        count++;
        unsigned int pos = kept;
        while (pos > 0 && devids[pos - 1] > (unsigned long)v)
            pos--;
        if (pos >= max)
            continue;
        unsigned int last = kept < max ? kept : max - 1;
        for (unsigned int k = last; k > pos; k--)
            devids[k] = devids[k - 1];
        devids[pos] = (unsigned int)v;
        if (kept < max)
            kept++;
    }
    return (int)count;
}

int gk_blk_open(unsigned int devid, struct gk_blk **out)
{
    return gk_blk_open_segments(devid, 0, out);
}

int gk_blk_open_segments(unsigned int devid, unsigned int max_segments, struct gk_blk **out)
{
    if (!out)
        return -XEN_EINVAL;
    if (devid == GK_BLK_ANY) {
        int n = gk_blk_list(&devid, 1);
        if (n < 0)
            return n;
        if (n == 0)
            return -XEN_ENODEV;
    }
    struct gk_blk *d = NULL;
    for (unsigned int i = 0; i < GK_BLK_MAX; i++) {
        if (devs[i].in_use && devs[i].info.devid == devid)
            return -XEN_EBUSY;
        if (!devs[i].in_use && !d)
            d = &devs[i];
    }
    if (!d)
        return -XEN_ENOSPC;
    memset(d, 0, sizeof(*d));
    d->in_use = 1;
    d->va = GK_BLK_VA + (unsigned long)(d - devs) * GK_BLK_WINDOW;
    d->info.devid = devid;
    gk_snprintf(d->info.frontend, sizeof(d->info.frontend), "device/vbd/%u", devid);
    gk_snprintf(d->token, sizeof(d->token), "gk-blk-%u", devid);

    int published = 0;
    int rc = read_frontend(d);
    if (rc)
        goto fail;

    rc = gk_xenbus_claim_device(d->info.frontend);
    if (rc)
        goto fail;

    rc = gk_xs_watch(d->state_path, d->token);
    if (rc)
        goto fail;
    uint64_t deadline = gk_now_ns() + GK_BLK_TIMEOUT_NS;
    rc = gk_xenbus_wait_state(d->info.backend, GK_XENBUS_STATE(XenbusStateInitWait), 0, deadline);
    if (rc < 0)
        goto fail_watch;

    rc = setup_pages(d);
    if (rc)
        goto fail_watch;
    rc = publish(d);
    if (rc)
        goto fail_watch;
    published = 1;
    rc = gk_xenbus_wait_state(d->info.backend, GK_XENBUS_STATE(XenbusStateConnected), GK_XENBUS_STATE(XenbusStateClosing) | GK_XENBUS_STATE(XenbusStateClosed),
                      gk_now_ns() + GK_BLK_TIMEOUT_NS);
    if (rc < 0)
        goto fail_watch;
    rc = read_backend(d);
    if (rc)
        goto fail_watch;
    setup_indirect(d, max_segments);
    rc = gk_xenbus_switch_state(d->info.frontend, XenbusStateConnected);
    if (rc)
        goto fail_watch;
    gk_xs_unwatch(d->state_path, d->token);
    d->connected = 1;
    *out = d;
    return 0;

fail_watch:
    gk_xs_unwatch(d->state_path, d->token);
fail:
    disconnect(d, published, FAILED_CLOSE_NS);
    d->in_use = 0;
    return rc;
}

const struct gk_blk_info *gk_blk_info(const struct gk_blk *d)
{
    return &d->info;
}

const struct gk_blk_stats *gk_blk_stats(const struct gk_blk *d)
{
    return &d->stats;
}

int gk_blk_last_status(const struct gk_blk *d, uint8_t *operation)
{
    if (operation)
        *operation = d->last_op;
    return d->last_status;
}

/* ---- the ring ---------------------------------------------------------------------- */

static int usable(const struct gk_blk *d)
{
    if (!d || !d->in_use || !d->connected)
        return -XEN_EINVAL;
    return d->broken ? -XEN_EIO : 0;
}

static unsigned int take_slot(struct gk_blk *d)
{
    for (unsigned int k = 0; k < d->nslots; k++) {
        unsigned int i = (d->hint + k) % d->nslots;
        if (!d->slot[i].busy) {
            d->hint = (i + 1) % d->nslots;
            return i;
        }
    }
    return GK_BLK_SLOTS;        /* not reached: callers check inflight */
}

/* Put `req` (a whole slot's 112 bytes) in the next ring slot as request
 * `id` (not yet published). */
static void put(struct gk_blk *d, unsigned int id, const struct blkif_request *req, uint8_t *dest,
                uint32_t bytes, int raw)
{
    struct blkif_request *r = RING_GET_REQUEST(&d->ring, d->ring.req_prod_pvt);
    *r = *req;
    r->id = id;
    struct slot *s = &d->slot[id];
    s->busy = 1;
    /* An indirect request is answered as its inner operation (indirect_op,
     * byte 1), as Linux's blkback answers and its blkfront checks. */
    s->op = req->operation == BLKIF_OP_INDIRECT ? ((const uint8_t *)req)[1] : req->operation;
    s->raw = (uint8_t)raw;
    s->dest = dest;
    s->bounce = dest ? page_va(d, id, 0) : NULL;
    s->bytes = bytes;
    d->ring.req_prod_pvt++;
    d->inflight++;
    d->stats.requests++;
}

/* Publish what was put; an event only if the back end asked for one. */
static void push(struct gk_blk *d)
{
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&d->ring, notify);
    if (notify) {
        gk_evtchn_send(d->info.port);
        d->stats.notifications++;
    }
}

static int status_error(const struct gk_blk *d, uint8_t op, int16_t status)
{
    if (status == BLKIF_RSP_EOPNOTSUPP)
        return -XEN_EOPNOTSUPP;
    if (d->info.readonly && (op == BLKIF_OP_WRITE || op == BLKIF_OP_WRITE_BARRIER || op == BLKIF_OP_DISCARD))
        return -XEN_EROFS;
    return -XEN_EIO;
}

/* One response: its slot is freed, a read's data copied out. */
static int finish(struct gk_blk *d, const struct blkif_response *rsp)
{
    uint64_t id = rsp->id;
    if (id >= GK_BLK_SLOTS || !d->slot[id].busy || d->slot[id].op != rsp->operation)
        return broken(d, -XEN_EIO);     /* names nothing we asked: can't trust the ring */
    struct slot *s = &d->slot[id];
    if (rsp->status == BLKIF_RSP_OKAY) {
        if (s->dest)
            memcpy(s->dest, s->bounce, s->bytes);   /* the slot's pages are consecutive */
    } else {
        d->last_status = rsp->status;
        d->last_op = rsp->operation;
        d->stats.errors++;
        if (!d->op_error && !s->raw)
            d->op_error = status_error(d, s->op, rsp->status);
    }
    if (s->raw)
        d->raw_rsp = *rsp;
    s->busy = 0;
    d->inflight--;
    return 0;
}

/* Take every response published so far: how many, or -XEN_EIO. */
static int reap(struct gk_blk *d)
{
    int taken = 0;
    RING_IDX prod = gk_ring_load(&d->ring.sring->rsp_prod);
    /* Never more than were asked for. */
    if ((RING_IDX)(prod - d->ring.rsp_cons) > (RING_IDX)(d->ring.req_prod_pvt - d->ring.rsp_cons))
        return broken(d, -XEN_EIO);
    while (d->ring.rsp_cons != prod) {
        struct blkif_response rsp =
            *(volatile struct blkif_response *)RING_GET_RESPONSE(&d->ring, d->ring.rsp_cons);
        d->ring.rsp_cons++;
        int rc = finish(d, &rsp);
        if (rc)
            return rc;
        taken++;
    }
    return taken;
}

/* Wait until a response is published: poll a little (the back end is
 * usually at work on another CPU, and a wait costs hypercalls), then ask
 * for an event (RING_FINAL_CHECK_FOR_RESPONSES) and block in slices. */
static int wait_responses(struct gk_blk *d)
{
    RING_IDX cons = d->ring.rsp_cons;
    uint64_t until = gk_now_ns() + GK_BLK_SPIN_NS;
    for (unsigned int i = 0;; i++) {
        if (gk_ring_load(&d->ring.sring->rsp_prod) != cons)
            return 0;
        __builtin_ia32_pause();
        if ((i & 63) == 63 && gk_now_ns() >= until)
            break;
    }
    uint64_t deadline = gk_now_ns() + GK_BLK_TIMEOUT_NS;
    for (;;) {
        int more;
        RING_FINAL_CHECK_FOR_RESPONSES(&d->ring, more);
        if (more)
            return 0;
        uint64_t now = gk_now_ns();
        if (now >= deadline)
            return broken(d, -XEN_ETIMEDOUT);
        uint64_t slice = now + SLICE_NS < deadline ? now + SLICE_NS : deadline;
        d->stats.waits++;
        if (gk_evtchn_wait(d->info.port, slice) == 0)
            continue;
        if (gk_ring_load(&d->ring.sring->rsp_prod) != cons)
            return 0;
        /* A silent second: is the back end still there? */
        int st = gk_xenbus_read_state(GK_XS_TX_NONE, d->info.backend);
        if (st == XenbusStateClosing || st == XenbusStateClosed || st == -XEN_ENOENT)
            return broken(d, -XEN_ENOTCONN);
    }
}

/* Until nothing is in flight (every response taken). */
static int drain(struct gk_blk *d)
{
    while (d->inflight) {
        int rc = reap(d);
        if (rc < 0)
            return rc;
        if (rc == 0 && (rc = wait_responses(d)) != 0)
            return rc;
    }
    return 0;
}

/* ---- transfers ------------------------------------------------------------------------ */

static int check_range(const struct gk_blk *d, uint64_t sector, uint64_t n)
{
    if (sector >= d->info.sectors || n > d->info.sectors - sector)
        return -XEN_EINVAL;
    uint64_t per = d->info.sector_size / GK_BLK_SECTOR_SIZE;
    if (per > 1 && ((sector | n) % per) != 0)
        return -XEN_EINVAL;
    return 0;
}

/* Request `id` for `count` sectors from `sector`, its data in the slot's
 * pages: a direct request for up to 11 pages, else an indirect one (the
 * descriptors in the slot's indirect pages). */
static void build(struct gk_blk *d, unsigned int id, uint8_t op, uint64_t sector, uint64_t count,
                  union request *u)
{
    unsigned int nseg = (unsigned int)((count + SECTORS_PER_PAGE - 1) / SECTORS_PER_PAGE);
    memset(u, 0, sizeof(*u));
    struct blkif_request *req = &u->direct;
    struct blkif_request_segment *seg = req->seg;
    if (nseg > SEG) {
        struct blkif_request_indirect *ind = &u->indirect;
        ind->operation = BLKIF_OP_INDIRECT;
        ind->indirect_op = op;
        ind->nr_segments = (uint16_t)nseg;
        ind->handle = (blkif_vdev_t)d->info.devid;
        ind->sector_number = sector;
        for (unsigned int p = 0; p * SEGS_PER_IPAGE < nseg; p++)
            ind->indirect_grefs[p] = indirect_ref(d, id, p);
        seg = indirect_va(d, id, 0);    /* the slot's indirect pages are consecutive */
    } else {
        req->operation = op;
        req->nr_segments = (uint8_t)nseg;
        req->handle = (blkif_vdev_t)d->info.devid;
        req->sector_number = sector;
    }
    for (unsigned int k = 0; k < nseg; k++) {
        uint64_t rest = count - (uint64_t)k * SECTORS_PER_PAGE;
        seg[k].gref = page_ref(d, id, k);
        seg[k].first_sect = 0;
        seg[k].last_sect = (uint8_t)((rest < SECTORS_PER_PAGE ? rest : SECTORS_PER_PAGE) - 1);
    }
}

/* READ, WRITE or WRITE_BARRIER of n sectors, in requests of up to 88
 * sectors, as many in flight as the ring holds; or, for a READ or WRITE
 * longer than 88 sectors on a disk with indirect requests, in requests of
 * up to iseg pages, islots in flight, each published as soon as it is
 * built (so the back end starts on it while the next is copied). */
static int transfer(struct gk_blk *d, uint8_t op, uint64_t sector, uint8_t *data, uint64_t n)
{
    int rc = usable(d);
    if (rc)
        return rc;
    if (n == 0)
        return 0;
    if (!data)
        return -XEN_EINVAL;
    rc = check_range(d, sector, n);
    if (rc)
        return rc;
    int indirect = d->iseg && op != BLKIF_OP_WRITE_BARRIER && n > GK_BLK_REQUEST_SECTORS;
    layout(d, indirect ? d->iseg : SEG);
    uint64_t most = (uint64_t)d->per * SECTORS_PER_PAGE;
    d->op_error = 0;
    while ((n && !d->op_error) || d->inflight) {
        int issued = 0;
        while (n && !d->op_error && d->inflight < d->nslots && !RING_FULL(&d->ring)) {
            unsigned int id = take_slot(d);
            uint64_t count = n < most ? n : most;
            uint32_t bytes = (uint32_t)(count * GK_BLK_SECTOR_SIZE);
            union request u;
            build(d, id, op, sector, count, &u);
            if (op != BLKIF_OP_READ)
                memcpy(page_va(d, id, 0), data, bytes);
            put(d, id, &u.direct, op == BLKIF_OP_READ ? data : NULL, bytes, 0);
            sector += count;
            data += bytes;
            n -= count;
            issued = 1;
            if (indirect) {
                push(d);
                issued = 0;
            }
        }
        if (issued)
            push(d);
        rc = reap(d);
        if (rc < 0)
            return rc;
        if (rc == 0 && d->inflight && (rc = wait_responses(d)) != 0)
            return rc;
    }
    return d->op_error;
}

int gk_blk_read(struct gk_blk *d, uint64_t sector, void *buf, uint64_t nsectors)
{
    return transfer(d, BLKIF_OP_READ, sector, buf, nsectors);
}

int gk_blk_write(struct gk_blk *d, uint64_t sector, const void *buf, uint64_t nsectors)
{
    return transfer(d, BLKIF_OP_WRITE, sector, (uint8_t *)(uintptr_t)buf, nsectors);
}

int gk_blk_barrier_write(struct gk_blk *d, uint64_t sector, const void *buf, uint64_t nsectors)
{
    int rc = usable(d);
    if (rc)
        return rc;
    if (!d->info.barrier)
        return -XEN_EOPNOTSUPP;
    return transfer(d, BLKIF_OP_WRITE_BARRIER, sector, (uint8_t *)(uintptr_t)buf, nsectors);
}

/* One request with no pages; its outcome. */
static int one(struct gk_blk *d, const struct blkif_request *req)
{
    d->op_error = 0;
    put(d, take_slot(d), req, NULL, 0, 0);
    push(d);
    int rc = drain(d);
    return rc ? rc : d->op_error;
}

int gk_blk_flush(struct gk_blk *d)
{
    int rc = usable(d);
    if (rc)
        return rc;
    if (!d->info.flush)
        return -XEN_EOPNOTSUPP;
    struct blkif_request req = {
        .operation = BLKIF_OP_FLUSH_DISKCACHE,
        .handle = (blkif_vdev_t)d->info.devid,
    };
    return one(d, &req);
}

int gk_blk_discard(struct gk_blk *d, uint64_t sector, uint64_t nsectors)
{
    int rc = usable(d);
    if (rc)
        return rc;
    if (!d->info.discard)
        return -XEN_EOPNOTSUPP;
    if (nsectors == 0)
        return 0;
    rc = check_range(d, sector, nsectors);
    if (rc)
        return rc;
    /* Built in a whole slot's worth of bytes: put() copies 112. */
    union request u;
    memset(&u, 0, sizeof(u));
    u.discard.operation = BLKIF_OP_DISCARD;
    u.discard.flag = 0;
    u.discard.handle = (blkif_vdev_t)d->info.devid;
    u.discard.sector_number = sector;
    u.discard.nr_sectors = nsectors;
    return one(d, &u.direct);
}

/* ---- hand-built requests ----------------------------------------------------------------- */

/* Raw requests use slot 0 (nothing is in flight between calls). */
int gk_blk_raw_page(struct gk_blk *d, unsigned int i, grant_ref_t *gref, void **va)
{
    if (!d || !d->in_use || !d->connected || i >= SEG)
        return -XEN_EINVAL;
    if (gref)
        *gref = page_ref(d, 0, i);
    if (va)
        *va = page_va(d, 0, i);
    return 0;
}

int gk_blk_raw(struct gk_blk *d, struct blkif_request *req, struct blkif_response *rsp)
{
    int rc = usable(d);
    if (rc)
        return rc;
    if (!req || !rsp || d->inflight)
        return -XEN_EINVAL;
    req->id = 0;
    put(d, 0, req, NULL, 0, 1);
    push(d);
    rc = drain(d);
    if (rc)
        return rc;
    *rsp = d->raw_rsp;
    return 0;
}

/* ---- closing ------------------------------------------------------------------------------- */

int gk_blk_close(struct gk_blk *d)
{
    if (!d || !d->in_use)
        return -XEN_EINVAL;
    int rc = disconnect(d, 1, GK_BLK_TIMEOUT_NS);
    d->in_use = 0;
    return rc;
}
