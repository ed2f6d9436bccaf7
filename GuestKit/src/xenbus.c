/*
 * xenbus.c - a XenStore client over the store ring page, one request at a
 * time, and the xenbus state helpers. See guestkit/xenbus.h.
 *
 * The server is not trusted: our own indices (req_prod, rsp_cons) live in
 * private copies and are only ever written to the page, the server's are
 * checked against the ring size on every load, and a reply must have our
 * req_id, our type (or XS_ERROR) and at most XENSTORE_PAYLOAD_MAX bytes.
 * Anything else leaves the byte stream in an unknown state, so the
 * connection is declared broken for good (-XEN_EIO).
 */
#include <guestkit/guestkit.h>
#include <guestkit/xenbus.h>
#include <xen/io/ring.h>

_Static_assert(sizeof(struct xsd_sockmsg) == 16, "xsd_sockmsg is 16 bytes");
_Static_assert(offsetof(struct xenstore_domain_interface, rsp) == 1024, "rsp @1024");
_Static_assert(offsetof(struct xenstore_domain_interface, req_cons) == 2048, "req_cons @2048");
_Static_assert(offsetof(struct xenstore_domain_interface, req_prod) == 2052, "req_prod @2052");
_Static_assert(offsetof(struct xenstore_domain_interface, rsp_cons) == 2056, "rsp_cons @2056");
_Static_assert(offsetof(struct xenstore_domain_interface, rsp_prod) == 2060, "rsp_prod @2060");
_Static_assert(offsetof(struct xenstore_domain_interface, server_features) == 2064, "server_features @2064");
_Static_assert(offsetof(struct xenstore_domain_interface, connection) == 2068, "connection @2068");
_Static_assert(offsetof(struct xenstore_domain_interface, error) == 2072, "error @2072");
_Static_assert(offsetof(struct xenstore_domain_interface, evtchn_port) == 2076, "evtchn_port @2076");
_Static_assert(GK_XS_WATCH_QUEUE_BYTES >= 2 + XENSTORE_PAYLOAD_MAX, "the queue holds any event");

#define RING        XENSTORE_RING_SIZE

/* ---- connection state (all under `lock` once initialised) ------------------ */

static gk_spinlock_t lock = GK_SPINLOCK_INIT;
static int init_rc = 1;                 /* 1: not tried yet; else gk_xs_init's result */
static struct xenstore_domain_interface *ring;
static evtchn_port_t port;
static int broken;                      /* protocol error seen: -XEN_EIO from now on */
static uint64_t timeout_ns = GK_XS_TIMEOUT_NS;

static uint32_t req_prod;               /* ours: bytes written into req[] */
static uint32_t rsp_cons;               /* ours: bytes taken from rsp[] */
static int req_unsent, rsp_unsent;      /* index moved since the last notification */
static uint32_t next_req_id = 1;

/* The last message read: its header and payload (+ a NUL). */
static struct xsd_sockmsg in_hdr;
static char in_msg[XENSTORE_PAYLOAD_MAX + 1];

/* ---- watch event queue ------------------------------------------------------ */

/* Events are kept back to back as [u16 length][payload], oldest at
 * wq_head; the live bytes are moved to the front when the tail would run
 * past the end. */
static uint8_t wq[GK_XS_WATCH_QUEUE_BYTES];
static uint32_t wq_head, wq_tail;
static unsigned long wq_dropped;

static uint16_t wq_len_at(uint32_t off)
{
    uint16_t len;
    memcpy(&len, &wq[off], sizeof(len));
    return len;
}

static void wq_drop_oldest(void)
{
    wq_head += 2 + wq_len_at(wq_head);
    wq_dropped++;
}

/* "path\0token\0": at least two NUL-terminated strings, the first not
 * empty. */
static int well_formed_event(const char *p, uint32_t len)
{
    uint32_t path_len = (uint32_t)strnlen(p, len);
    if (path_len == 0 || path_len == len)
        return 0;
    return strnlen(p + path_len + 1, len - path_len - 1) < len - path_len - 1;
}

static void wq_push(const char *payload, uint32_t len)
{
    uint32_t need = 2 + len;

    if (!well_formed_event(payload, len)) {
        wq_dropped++;
        return;
    }
    while (wq_tail - wq_head + need > sizeof(wq))
        wq_drop_oldest();
    if (wq_tail + need > sizeof(wq)) {
        memmove(wq, &wq[wq_head], wq_tail - wq_head);
        wq_tail -= wq_head;
        wq_head = 0;
    }
    uint16_t l16 = (uint16_t)len;
    memcpy(&wq[wq_tail], &l16, sizeof(l16));
    memcpy(&wq[wq_tail + 2], payload, len);
    wq_tail += need;
}

/* Drop every queued event whose token is `token`. */
static void wq_forget(const char *token)
{
    uint32_t out = wq_head;
    for (uint32_t off = wq_head; off < wq_tail;) {
        uint32_t need = 2 + wq_len_at(off);
        const char *ev = (const char *)&wq[off + 2];
        if (strcmp(ev + strlen(ev) + 1, token) != 0) {
            memmove(&wq[out], &wq[off], need);
            out += need;
        }
        off += need;
    }
    wq_tail = out;
}

/* ---- the ring ------------------------------------------------------------------- */

static int protocol_error(void)
{
    broken = 1;
    return -XEN_EIO;
}

/* Tell the server about bytes written / room made since the last event. */
static void notify(void)
{
    if (req_unsent || rsp_unsent) {
        req_unsent = rsp_unsent = 0;
        gk_evtchn_send(port);
    }
}

/* Block until the server's next event (or a stale one: callers look
 * again), or the deadline. */
static int wait_server(uint64_t deadline_ns)
{
    notify();                   /* the server may be waiting on us */
    return gk_evtchn_wait(port, deadline_ns);
}

/* Append n bytes to req[], waiting for room. */
static int ring_put(const void *src, uint32_t n, uint64_t deadline_ns)
{
    const char *p = src;
    while (n) {
        uint32_t used = req_prod - gk_ring_load(&ring->req_cons);
        if (used > RING)
            return protocol_error();
        uint32_t room = RING - used;
        if (room == 0) {
            int rc = wait_server(deadline_ns);
            if (rc)
                return rc;
            continue;
        }
        uint32_t chunk = n < room ? n : room;
        for (uint32_t i = 0; i < chunk; i++)
            ring->req[MASK_XENSTORE_IDX(req_prod + i)] = p[i];
        req_prod += chunk;
        /* Release: the bytes are visible before the index that covers them. */
        gk_ring_store(&ring->req_prod, req_prod);
        req_unsent = 1;
        p += chunk;
        n -= chunk;
    }
    return 0;
}

/* Take n bytes from rsp[], waiting for them. */
static int ring_take(void *dst, uint32_t n, uint64_t deadline_ns)
{
    char *p = dst;
    while (n) {
        uint32_t avail = gk_ring_load(&ring->rsp_prod) - rsp_cons;
        if (avail > RING)
            return protocol_error();
        if (avail == 0) {
            int rc = wait_server(deadline_ns);
            if (rc)
                return rc;
            continue;
        }
        uint32_t chunk = n < avail ? n : avail;
        for (uint32_t i = 0; i < chunk; i++)
            p[i] = ring->rsp[MASK_XENSTORE_IDX(rsp_cons + i)];
        rsp_cons += chunk;
        /* Release: our reads of the bytes are done before the server may
         * overwrite them. */
        gk_ring_store(&ring->rsp_cons, rsp_cons);
        rsp_unsent = 1;
        p += chunk;
        n -= chunk;
    }
    return 0;
}

/* Read one message into in_hdr / in_msg (NUL-terminated). */
static int read_message(uint64_t deadline_ns)
{
    int rc = ring_take(&in_hdr, sizeof(in_hdr), deadline_ns);
    if (rc)
        return rc;
    if (in_hdr.len > XENSTORE_PAYLOAD_MAX)
        return protocol_error();
    rc = ring_take(in_msg, in_hdr.len, deadline_ns);
    if (rc)
        return rc;
    in_msg[in_hdr.len] = '\0';
    notify();                   /* the room we made */
    return 0;
}

/* Time ran out in the middle of an exchange: what is left in the ring
 * belongs to a request we gave up on. */
static int timed_out(int rc)
{
    if (rc == -XEN_ETIMEDOUT)
        broken = 1;
    return rc;
}

/* The errno an XS_ERROR payload names. */
static int error_number(const char *name)
{
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (strcmp(name, xsd_errors[i].errstring) == 0)
            return -xsd_errors[i].errnum;
    return -XEN_EINVAL;         /* unknown name: Linux does the same */
}

struct piece {
    const void *p;
    uint32_t len;
};

/*
 * One request (the pieces concatenated) and its reply, which is left in
 * in_hdr / in_msg. Watch events read on the way are queued. Caller holds
 * the lock. Returns 0, the server's -XEN_Exxx, or the client's.
 */
static int exchange(uint32_t type, uint32_t tx, const struct piece *pieces, unsigned int n)
{
    if (broken)
        return -XEN_EIO;

    size_t total = 0;
    for (unsigned int i = 0; i < n; i++)
        total += pieces[i].len;
    if (total > XENSTORE_PAYLOAD_MAX)
        return -XEN_E2BIG;

    uint64_t deadline = timeout_ns ? gk_now_ns() + timeout_ns : 0;
    uint32_t id = next_req_id++;
    if (next_req_id == 0)
        next_req_id = 1;
    struct xsd_sockmsg hdr = { .type = type, .req_id = id, .tx_id = tx, .len = (uint32_t)total };

    int rc = ring_put(&hdr, sizeof(hdr), deadline);
    for (unsigned int i = 0; rc == 0 && i < n; i++)
        rc = ring_put(pieces[i].p, pieces[i].len, deadline);
    if (rc)
        return timed_out(rc);
    notify();

    for (;;) {
        rc = read_message(deadline);
        if (rc)
            return timed_out(rc);
        if (in_hdr.type == XS_WATCH_EVENT) {
            wq_push(in_msg, in_hdr.len);
            continue;
        }
        if (in_hdr.req_id != id || (in_hdr.type != type && in_hdr.type != XS_ERROR))
            return protocol_error();
        if (in_hdr.type == XS_ERROR)
            return error_number(in_msg);
        return 0;
    }
}

/* Copy the reply's payload (+ NUL) out; its length, or -XEN_ENOBUFS. */
static int reply_to(void *buf, size_t size)
{
    if ((size_t)in_hdr.len + 1 > size)
        return -XEN_ENOBUFS;
    memcpy(buf, in_msg, in_hdr.len + 1);
    return (int)in_hdr.len;
}

/* ---- connection --------------------------------------------------------------- */

static int xs_connect(void)
{
    start_info_t *si = gk_start_info;
    if (!si || si->store_mfn == 0 || si->store_evtchn == 0)
        return -XEN_ENODEV;
    unsigned long pfn = gk_mfn_to_pfn(si->store_mfn);
    void *va = pfn == GK_INVALID_PFN ? NULL : gk_pfn_to_virt(pfn);
    if (!va)
        return -XEN_ENXIO;

    ring = va;
    port = si->store_evtchn;
    /* Builder-made port: vCPU 0's (never bound here); let it raise upcalls. */
    int rc = gk_evtchn_unmask(port);
    if (rc) {
        ring = NULL;
        port = 0;
        return rc;
    }
    /* Pick up where the indices are (0 on a fresh page). Unread replies
     * belong to no request of ours: skip them, as Linux does. */
    req_prod = gk_ring_load(&ring->req_prod);
    rsp_cons = gk_ring_load(&ring->rsp_prod);
    if (req_prod - gk_ring_load(&ring->req_cons) > RING) {
        ring = NULL;
        port = 0;
        return -XEN_EIO;
    }
    gk_ring_store(&ring->rsp_cons, rsp_cons);
    return 0;
}

int gk_xs_init(void)
{
    gk_spin_lock(&lock);
    if (init_rc == 1)
        init_rc = xs_connect();
    int rc = init_rc;
    gk_spin_unlock(&lock);
    return rc;
}

struct xenstore_domain_interface *gk_xs_ring(void)
{
    return init_rc == 0 ? ring : NULL;
}

evtchn_port_t gk_xs_port(void)
{
    return init_rc == 0 ? port : 0;
}

void gk_xs_set_timeout(uint64_t ns)
{
    gk_spin_lock(&lock);
    timeout_ns = ns;
    gk_spin_unlock(&lock);
}

/* Connect if needed and take the lock: 0, or the reason there is no
 * store (lock not held then). */
static int enter(void)
{
    int rc = gk_xs_init();
    if (rc)
        return rc;
    gk_spin_lock(&lock);
    return 0;
}

static void leave(void)
{
    gk_spin_unlock(&lock);
}

/* ---- requests ------------------------------------------------------------------ */

/* A string's bytes including its NUL, as one piece. */
static struct piece string_piece(const char *s)
{
    size_t len = strnlen(s, XENSTORE_PAYLOAD_MAX + 1) + 1;
    return (struct piece){ s, (uint32_t)len };
}

/* A request whose payload is one string (a path, a domid, ...) and whose
 * reply is copied to buf (NULL: not wanted). */
static int simple(uint32_t type, uint32_t tx, const char *arg, void *buf, size_t size)
{
    if (!arg)
        return -XEN_EINVAL;
    int rc = enter();
    if (rc)
        return rc;
    struct piece pc = string_piece(arg);
    rc = exchange(type, tx, &pc, 1);
    if (rc == 0 && buf)
        rc = reply_to(buf, size);
    leave();
    return rc;
}

int gk_xs_request(uint32_t type, uint32_t tx, const void *payload, size_t len,
                  void *reply, size_t size)
{
    if (len > XENSTORE_PAYLOAD_MAX)
        return -XEN_E2BIG;
    if (len && !payload)
        return -XEN_EINVAL;
    int rc = enter();
    if (rc)
        return rc;
    struct piece pc = { payload, (uint32_t)len };
    rc = exchange(type, tx, &pc, len ? 1 : 0);
    if (rc == 0)
        rc = reply ? reply_to(reply, size) : (int)in_hdr.len;
    leave();
    return rc;
}

int gk_xs_read(uint32_t tx, const char *path, char *buf, size_t size)
{
    return simple(XS_READ, tx, path, buf, size);
}

/* Decimal digits only, no sign, no overflow. */
static int parse_ulong(const char *s, unsigned long *out)
{
    unsigned long v = 0;
    if (!*s)
        return -XEN_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -XEN_EINVAL;
        unsigned long d = (unsigned long)(*s - '0');
        if (v > (~0UL - d) / 10)
            return -XEN_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int gk_xs_read_ulong(uint32_t tx, const char *path, unsigned long *out)
{
    char buf[24];
    int rc = gk_xs_read(tx, path, buf, sizeof(buf));
    if (rc == -XEN_ENOBUFS)
        return -XEN_EINVAL;     /* longer than any number */
    if (rc < 0)
        return rc;
    if (strlen(buf) != (size_t)rc)
        return -XEN_EINVAL;     /* a NUL inside */
    return parse_ulong(buf, out);
}

int gk_xs_write_bytes(uint32_t tx, const char *path, const void *value, size_t len)
{
    if (!path || (len && !value))
        return -XEN_EINVAL;
    if (len > XENSTORE_PAYLOAD_MAX)
        return -XEN_E2BIG;
    int rc = enter();
    if (rc)
        return rc;
    /* path\0value: the value runs to the end of the payload, no NUL. */
    struct piece pcs[2] = { string_piece(path), { value, (uint32_t)len } };
    rc = exchange(XS_WRITE, tx, pcs, 2);
    leave();
    return rc;
}

int gk_xs_write(uint32_t tx, const char *path, const char *value)
{
    if (!value)
        return -XEN_EINVAL;
    return gk_xs_write_bytes(tx, path, value, strnlen(value, XENSTORE_PAYLOAD_MAX + 1));
}

int gk_xs_printf(uint32_t tx, const char *path, const char *fmt, ...)
{
    char value[256];
    va_list ap;
    va_start(ap, fmt);
    int n = gk_vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(value))
        return -XEN_E2BIG;
    return gk_xs_write_bytes(tx, path, value, (size_t)n);
}

int gk_xs_mkdir(uint32_t tx, const char *path)
{
    return simple(XS_MKDIR, tx, path, NULL, 0);
}

int gk_xs_rm(uint32_t tx, const char *path)
{
    return simple(XS_RM, tx, path, NULL, 0);
}

/* The number of NUL-terminated strings in buf[0..len) (a last one without
 * a NUL counts too: the caller's copy has one after it). */
static int count_strings(const char *buf, int len)
{
    int n = 0;
    for (int i = 0; i < len; i++)
        if (buf[i] == '\0')
            n++;
    if (len > 0 && buf[len - 1] != '\0')
        n++;
    return n;
}

int gk_xs_directory(uint32_t tx, const char *path, char *buf, size_t size)
{
    int len = simple(XS_DIRECTORY, tx, path, buf, size);
    if (len == 1 && buf[0] == '\0')
        return 0;               /* an empty list sent as one empty string */
    return len < 0 ? len : count_strings(buf, len);
}

/* A permission letter of the protocol. */
static int perm_letter(char c)
{
    return c == 'n' || c == 'r' || c == 'w' || c == 'b';
}

int gk_xs_get_perms(uint32_t tx, const char *path, struct gk_xs_perm *perms, unsigned int max)
{
    if (!path || (max && !perms))
        return -XEN_EINVAL;
    int rc = enter();
    if (rc)
        return rc;
    struct piece pc = string_piece(path);
    rc = exchange(XS_GET_PERMS, tx, &pc, 1);
    if (rc == 0) {
        /* "<letter><domid>\0" per entry. */
        unsigned int n = 0;
        for (const char *p = in_msg; p < in_msg + in_hdr.len; p += strlen(p) + 1) {
            unsigned long domid;
            if (!perm_letter(p[0]) || parse_ulong(p + 1, &domid) || domid > 0xffff) {
                rc = -XEN_EIO;  /* not a permission list: the server is confused */
                break;
            }
            if (n < max)
                perms[n] = (struct gk_xs_perm){ .domid = (domid_t)domid, .perm = p[0] };
            n++;
        }
        if (rc == 0)
            rc = (int)n;
    }
    leave();
    return rc;
}

int gk_xs_set_perms(uint32_t tx, const char *path, const struct gk_xs_perm *perms, unsigned int n)
{
    if (!path || n == 0 || !perms)
        return -XEN_EINVAL;
    /* path\0 then "<letter><domid>\0" per entry: at most 7 bytes each. */
    static char list[XENSTORE_PAYLOAD_MAX];
    int rc = enter();
    if (rc)
        return rc;
    size_t len = 0;
    for (unsigned int i = 0; i < n && rc == 0; i++) {
        if (!perm_letter(perms[i].perm))
            rc = -XEN_EINVAL;
        else if (len + 8 > sizeof(list))
            rc = -XEN_E2BIG;
        else
            len += (size_t)gk_snprintf(list + len, sizeof(list) - len, "%c%u", perms[i].perm,
                                       (unsigned int)perms[i].domid) + 1;
    }
    if (rc == 0) {
        struct piece pcs[2] = { string_piece(path), { list, (uint32_t)len } };
        rc = exchange(XS_SET_PERMS, tx, pcs, 2);
    }
    leave();
    return rc;
}

int gk_xs_get_domain_path(domid_t domid, char *buf, size_t size)
{
    char arg[8];
    gk_snprintf(arg, sizeof(arg), "%u", (unsigned int)domid);
    int len = simple(XS_GET_DOMAIN_PATH, GK_XS_TX_NONE, arg, buf, size);
    /* The reply is "path\0": report the string's length. */
    return len < 0 ? len : (int)strnlen(buf, (size_t)len);
}

/* ---- transactions --------------------------------------------------------------- */

int gk_xs_transaction_start(uint32_t *tx)
{
    char id[16];
    if (!tx)
        return -XEN_EINVAL;
    int len = simple(XS_TRANSACTION_START, GK_XS_TX_NONE, "", id, sizeof(id));
    if (len == -XEN_ENOBUFS)
        return -XEN_EIO;
    if (len < 0)
        return len;
    unsigned long v;
    if (parse_ulong(id, &v) || v == 0 || v > 0xffffffffUL)
        return -XEN_EIO;        /* not a transaction id */
    *tx = (uint32_t)v;
    return 0;
}

int gk_xs_transaction_end(uint32_t tx, int abort)
{
    if (tx == GK_XS_TX_NONE)
        return -XEN_EINVAL;
    return simple(XS_TRANSACTION_END, tx, abort ? "F" : "T", NULL, 0);
}

/* ---- watches --------------------------------------------------------------------- */

/* XS_WATCH / XS_UNWATCH: path\0token\0. */
static int watch_op(uint32_t type, const char *path, const char *token)
{
    if (!path || !token)
        return -XEN_EINVAL;
    int rc = enter();
    if (rc)
        return rc;
    struct piece pcs[2] = { string_piece(path), string_piece(token) };
    rc = exchange(type, GK_XS_TX_NONE, pcs, 2);
    if (rc == 0 && type == XS_UNWATCH)
        wq_forget(token);
    leave();
    return rc;
}

int gk_xs_watch(const char *path, const char *token)
{
    return watch_op(XS_WATCH, path, token);
}

int gk_xs_unwatch(const char *path, const char *token)
{
    return watch_op(XS_UNWATCH, path, token);
}

int gk_xs_reset_watches(void)
{
    int rc = enter();
    if (rc)
        return rc;
    struct piece pc = string_piece("");
    rc = exchange(XS_RESET_WATCHES, GK_XS_TX_NONE, &pc, 1);
    if (rc == 0)
        wq_head = wq_tail = 0;
    leave();
    return rc;
}

int gk_xs_wait_watch(char *buf, size_t size, const char **path, const char **token,
                     uint64_t deadline_ns)
{
    int rc = enter();
    if (rc)
        return rc;
    /* No request is outstanding: everything the server sends now must be
     * a watch event. The caller's deadline applies while nothing has
     * arrived; a message once begun gets the request timeout to complete,
     * so giving up never leaves half a message in the ring. */
    while (wq_head == wq_tail) {
        if (broken) {
            rc = -XEN_EIO;
            break;
        }
        uint32_t avail = gk_ring_load(&ring->rsp_prod) - rsp_cons;
        if (avail > RING) {
            rc = protocol_error();
            break;
        }
        if (avail < sizeof(struct xsd_sockmsg)) {
            if (deadline_ns && gk_now_ns() >= deadline_ns) {
                rc = -XEN_ETIMEDOUT;
                break;
            }
            rc = wait_server(deadline_ns);
            if (rc == -XEN_ETIMEDOUT)
                continue;       /* look once more, then give up above */
            if (rc)
                break;
            continue;
        }
        rc = timed_out(read_message(timeout_ns ? gk_now_ns() + timeout_ns : 0));
        if (rc)
            break;
        if (in_hdr.type != XS_WATCH_EVENT) {
            rc = protocol_error();
            break;
        }
        wq_push(in_msg, in_hdr.len);
    }
    if (rc == 0) {
        uint32_t len = wq_len_at(wq_head);
        if ((size_t)len + 1 > size) {
            rc = -XEN_ENOBUFS;
        } else {
            memcpy(buf, &wq[wq_head + 2], len);
            buf[len] = '\0';
            wq_head += 2 + len;
            if (wq_head == wq_tail)
                wq_head = wq_tail = 0;
            if (path)
                *path = buf;
            if (token)
                *token = buf + strlen(buf) + 1;
        }
    }
    leave();
    return rc;
}

unsigned long gk_xs_watch_dropped(void)
{
    return wq_dropped;
}

/* ---- names ----------------------------------------------------------------------- */

const char *gk_xs_error_name(int err)
{
    if (err < 0)
        err = -err;
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (xsd_errors[i].errnum == err)
            return xsd_errors[i].errstring;
    switch (err) {
    case XEN_ENODEV:    return "ENODEV";
    case XEN_ENXIO:     return "ENXIO";
    case XEN_ENOBUFS:   return "ENOBUFS";
    case XEN_ETIMEDOUT: return "ETIMEDOUT";
    default:            return "?";
    }
}

/* ---- xenbus states ----------------------------------------------------------------- */

/* "<dir>/state" into buf (-XEN_E2BIG if too long for a path). */
static int state_path(char *buf, size_t size, const char *dir)
{
    if (!dir)
        return -XEN_EINVAL;
    int n = gk_snprintf(buf, size, "%s/state", dir);
    return (size_t)n < size ? 0 : -XEN_E2BIG;
}

int gk_xenbus_read_state(uint32_t tx, const char *dir)
{
    char path[XENSTORE_ABS_PATH_MAX + 1];
    int rc = state_path(path, sizeof(path), dir);
    unsigned long v;
    if (rc == 0)
        rc = gk_xs_read_ulong(tx, path, &v);
    if (rc)
        return rc;
    return v <= XenbusStateReconfigured ? (int)v : -XEN_EINVAL;
}

int gk_xs_transact(int (*body)(uint32_t tx, void *ctx), void *ctx)
{
    for (int tries = 0; tries < GK_XENBUS_SWITCH_TRIES; tries++) {
        uint32_t tx;
        int rc = gk_xs_transaction_start(&tx);
        if (rc)
            return rc;
        rc = body(tx, ctx);
        if (rc < 0) {
            gk_xs_transaction_end(tx, 1);
            return rc == -XEN_ENOBUFS ? -XEN_EINVAL : rc;
        }
        rc = gk_xs_transaction_end(tx, 0);
        if (rc != -XEN_EAGAIN)
            return rc;
    }
    return -XEN_EAGAIN;
}

struct switch_args {
    const char *path;
    enum xenbus_state state;
};

/* The node must exist (a device being removed has none). */
static int switch_body(uint32_t tx, void *ctx)
{
    const struct switch_args *a = ctx;
    char old[16];
    int rc = gk_xs_read(tx, a->path, old, sizeof(old));
    return rc < 0 ? rc : gk_xs_printf(tx, a->path, "%d", (int)a->state);
}

int gk_xenbus_switch_state(const char *dir, enum xenbus_state state)
{
    char path[XENSTORE_ABS_PATH_MAX + 1];
    int rc = state_path(path, sizeof(path), dir);
    if (rc)
        return rc;
    struct switch_args a = { path, state };
    return gk_xs_transact(switch_body, &a);
}

/* ---- what every front-end needs ------------------------------------------------- */

int gk_xenbus_claim_device(const char *frontend)
{
    /* Ours to start: Initialising, or Closed by an earlier close. */
    int st = gk_xenbus_read_state(GK_XS_TX_NONE, frontend);
    if (st < 0)
        return st == -XEN_ENOENT ? -XEN_ENODEV : st;
    if (st == XenbusStateClosed || st == XenbusStateUnknown)
        return gk_xenbus_switch_state(frontend, XenbusStateInitialising);
    return st == XenbusStateInitialising ? 0 : -XEN_EBUSY;
}

long gk_xenbus_device_id(const char *name)
{
    if (!*name)
        return -1;
    unsigned long v = 0;
    for (; *name; name++) {
        if (*name < '0' || *name > '9' || v > 0xffffffffUL / 10)
            return -1;
        v = v * 10 + (unsigned long)(*name - '0');
    }
    return v <= 0xffffffffUL ? (long)v : -1;
}

int gk_xenbus_key(char *buf, size_t size, const char *dir, const char *key)
{
    int n = gk_snprintf(buf, size, "%s/%s", dir, key);
    return (size_t)n < size ? 0 : -XEN_E2BIG;
}

int gk_xenbus_read_number(const char *dir, const char *key, unsigned long *out)
{
    char p[200];
    int rc = gk_xenbus_key(p, sizeof(p), dir, key);
    return rc ? rc : gk_xs_read_ulong(GK_XS_TX_NONE, p, out);
}

int gk_xenbus_wait_state(const char *dir, unsigned int want, unsigned int refuse, uint64_t deadline_ns)
{
    static char event[GK_XS_BUF_SIZE];
    for (;;) {
        int st = gk_xenbus_read_state(GK_XS_TX_NONE, dir);
        if (st >= 0 && (want & GK_XENBUS_STATE(st)))
            return st;
        if (st >= 0 && (refuse & GK_XENBUS_STATE(st)))
            return -XEN_ECONNREFUSED;
        if (st < 0 && st != -XEN_ENOENT)
            return st;
        const char *path, *token;
        int rc = gk_xs_wait_watch(event, sizeof(event), &path, &token, deadline_ns);
        if (rc)
            return rc;
    }
}

int gk_xenbus_close_device(const char *frontend, const char *backend, const char *backend_state, const char *token,
                           int published, uint64_t wait_ns, int (*release)(void *ctx), void *ctx)
{
    int rc = 0;
    if (published) {
        gk_xs_watch(backend_state, token);
        rc = gk_xenbus_switch_state(frontend, XenbusStateClosing);
        if (rc == 0) {
            int st = gk_xenbus_wait_state(backend, GK_XENBUS_STATE(XenbusStateClosing) | GK_XENBUS_STATE(XenbusStateClosed),
                                          0, gk_now_ns() + wait_ns);
            if (st < 0)
                rc = st;
        }
    }
    int r2 = release(ctx);
    if (rc == 0)
        rc = r2;
    if (published) {
        r2 = gk_xenbus_switch_state(frontend, XenbusStateClosed);
        if (rc == 0)
            rc = r2;
        gk_xs_unwatch(backend_state, token);
    }
    return rc;
}
