/*
 * guestkit/chan.h - a byte stream between two domains over granted pages
 * and one event channel (in the spirit of Xen's libxenvchan; our own
 * protocol and code).
 *
 * Roles. The server owns all the shared memory: for a client domain
 * `peer` it takes 2 + 2 * 2^order pages -- a rendezvous page, a control
 * page and one data ring of 2^order pages per direction -- grants them to
 * the peer, and allocates an unbound event channel port for it. It then
 * publishes where everything is in the rendezvous page and grants that
 * page, read-only, at the well-known ref GK_CHAN_REF (8: the first ref
 * that is not reserved). There is no XenStore here yet: "rendezvous
 * through a small agreed page now, XenStore later". The client maps ref 8
 * of the server (retrying every 10 ms while the grant is not there yet:
 * GNTST_general_error / bad_gntref / bad_domain), copies what it needs,
 * unmaps it, maps the control page and every data page in one batched
 * GNTTABOP_map_grant_ref, binds the port, sets `connected` and notifies.
 *
 * Data. Each direction is a ring of `size` = 2^order * 4096 bytes with
 * free-running u32 byte indices prod (the writer's) and cons (the
 * reader's); byte i lives at ring[i & (size - 1)], so the 2^32 wrap is
 * harmless. Each byte is copied once in (from the caller's buffer) and
 * once out (into the reader's buffer). The ring to the client is granted
 * read-only, the ring to the server and the control page read-write.
 *
 * Notifications follow io/ring.h's suppression rule: an index moving
 * from old to new notifies only if the other side's event index is in
 * (old, new]. A reader with nothing to read sets prod_event = cons + 1,
 * looks again, and only then waits; a writer with a full ring sets
 * cons_event to the cons at which min(rest, size/2) bytes are free,
 * looks again, then waits. A stream that never runs dry or full sends no
 * events at all. Waits are gk_evtchn_wait() on the channel's port in 1 s
 * slices; after each slice the port's status is checked, and a peer
 * whose port is no longer connected (its domain died or closed it) counts
 * as closed.
 *
 * Errors are -XEN_Exxx (or a GNTST_* code from gk_chan_connect's maps).
 * One server per domain (ref 8), up to GK_CHAN_MAX channels in all. Not
 * for use from event handlers; one vCPU per channel at a time, and
 * serve/connect/close on one vCPU at a time (they share scratch lists and
 * use mm.h).
 */
#ifndef GUESTKIT_CHAN_H
#define GUESTKIT_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The rendezvous page's ref: the first one that is not reserved. */
#define GK_CHAN_REF             GNTTAB_NR_RESERVED_ENTRIES
#define GK_CHAN_MAGIC           0x6e616863u     /* "chan" */
#define GK_CHAN_VERSION         1
/* Data ring size per direction: 2^order pages, order 0 .. 8 (4 KiB .. 1 MiB). */
#define GK_CHAN_MAX_ORDER       8
#define GK_CHAN_DEFAULT_ORDER   6               /* 64 pages, 256 KiB */
/* Channels a domain can have open, and where their pages are mapped:
 * GK_CHAN_VA + i * GK_CHAN_WINDOW holds channel slot i (rendezvous page
 * at +0, control at +4 KiB, ring to the client at +1 MiB, ring to the
 * server at +2 MiB). */
#define GK_CHAN_MAX             4
#define GK_CHAN_VA              0x50000000UL
#define GK_CHAN_WINDOW          (4UL << 20)
/* Ring indices: which direction. */
#define GK_CHAN_TO_CLIENT       0
#define GK_CHAN_TO_SERVER       1

/* ---- what the pages hold (the wire format) ---------------------------------- */

/* The rendezvous page: the server's, granted read-only at GK_CHAN_REF. */
struct gk_chan_rendezvous {
    uint32_t magic;             /*  0: GK_CHAN_MAGIC, written last */
    uint32_t version;           /*  4: GK_CHAN_VERSION */
    uint32_t order;             /*  8: each data ring is 2^order pages */
    evtchn_port_t port;         /* 12: the server's unbound port for the client */
    grant_ref_t control_ref;    /* 16: the control page (read-write) */
    domid_t client;             /* 20: the domain everything is granted to */
    uint16_t pad;               /* 22 */
    /* 24: [GK_CHAN_TO_CLIENT] read-only pages, [GK_CHAN_TO_SERVER] read-write */
    grant_ref_t ring_ref[2][1 << GK_CHAN_MAX_ORDER];
};

/* One direction's indices. Each half has a single writer and a cache
 * line of its own. */
struct gk_chan_indices {
    uint32_t prod;              /*  0: bytes written so far (the writer's) */
    uint32_t cons_event;        /*  4: the writer wants an event when cons passes this */
    uint8_t pad0[56];
    uint32_t cons;              /* 64: bytes read so far (the reader's) */
    uint32_t prod_event;        /* 68: the reader wants an event when prod passes this */
    uint8_t pad1[56];
};

/* The control page (granted read-write). */
struct gk_chan_control {
    struct gk_chan_indices ring[2];     /*   0, 128: by GK_CHAN_TO_* */
    uint32_t closed[2];                 /* 256: [0] server, [1] client: that side closed */
    uint32_t connected;                 /* 264: the client has mapped everything and bound the port */
};

/* ---- the API ------------------------------------------------------------------ */

struct gk_chan;

/* Counters of one channel (for benchmarks). */
struct gk_chan_stats {
    uint64_t notifies;          /* EVTCHNOP_send issued */
    uint64_t waits;             /* blocking waits on the port */
    uint64_t written, read;     /* bytes */
};

/* Server: set up a channel for domain `peer` with data rings of 2^order
 * pages and publish it at GK_CHAN_REF. Does not wait for the client.
 * -XEN_EBUSY if this domain already serves one (ref 8 is taken). */
int gk_chan_serve(domid_t peer, unsigned int order, struct gk_chan **out);
/* Server: wait until the client has connected (0, or -XEN_ETIMEDOUT at
 * system time deadline_ns; 0 = no deadline). */
int gk_chan_accept(struct gk_chan *c, uint64_t deadline_ns);
/* Client: connect to the channel domain `server` publishes, retrying
 * until system time deadline_ns (0: 30 s from now) while it is not
 * there yet. */
int gk_chan_connect(domid_t server, uint64_t deadline_ns, struct gk_chan **out);

/* Write all `len` bytes, blocking while the ring is full: returns len, or
 * -XEN_ENOTCONN once the peer has closed or gone (some bytes may have
 * gone in). */
long gk_chan_write(struct gk_chan *c, const void *buf, size_t len);
/* Read `len` bytes, blocking until they are all there: returns len, or
 * fewer once the peer has closed (or gone) and the ring is empty -- 0 at
 * the end of the stream. -XEN_EIO if the peer's index makes no sense. */
long gk_chan_read(struct gk_chan *c, void *buf, size_t len);
/* Bytes that can be read / written now without blocking. */
size_t gk_chan_readable(struct gk_chan *c);
size_t gk_chan_writable(struct gk_chan *c);
/* Wait until the peer has read everything written: 0, -XEN_ENOTCONN, or
 * -XEN_ETIMEDOUT at deadline_ns (0: none). */
int gk_chan_flush(struct gk_chan *c, uint64_t deadline_ns);

/* Close: mark this side closed and notify. The client unmaps everything
 * and closes its port. The server waits (up to 30 s) for the client to
 * close or go, then ends every grant (retrying while the client still
 * has pages mapped, up to 5 s more), frees the pages and closes its port;
 * -XEN_EBUSY if some grant could not be ended (those pages are left
 * granted and allocated). The channel is gone either way. */
int gk_chan_close(struct gk_chan *c);

/* Ring size in bytes (per direction), the port, the peer, the counters. */
uint32_t gk_chan_ring_bytes(const struct gk_chan *c);
evtchn_port_t gk_chan_port(const struct gk_chan *c);
domid_t gk_chan_peer(const struct gk_chan *c);
void gk_chan_stats(const struct gk_chan *c, struct gk_chan_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_CHAN_H */
