/*
 * guestkit/blkfront.h - a block front end: Xen's blkif (<xen/io/blkif.h>)
 * over a one-page ring shared with the back end in Dom0 (or any domain
 * named by the device's `backend-id`), connected with Linux blkfront's
 * xenbus handshake.
 *
 * Opening (gk_blk_open). The toolstack has written the front end's
 * directory device/vbd/<devid> (`backend`, `backend-id`,
 * `virtual-device`, `device-type` = "disk", `state` = 1). GuestKit
 * watches <backend>/state until the back end is InitWait (2); allocates
 * the ring page and GK_BLK_POOL_PAGES bounce pages, zeroes them and
 * grants them all read-write to the back end (once: every request reuses
 * them, so no grant is made or ended per request); allocates an unbound
 * event channel for the back end; writes `ring-ref`, `event-channel`,
 * `protocol` = "x86_64-abi" and `state` = 3 (Initialised) in one
 * transaction; waits until the back end is Connected (4); reads
 * `sectors`, `sector-size`, `info` and the `feature-*` flags; sets up
 * indirect requests if offered (below); and switches itself to
 * Connected. A front end left Closed (6) by an earlier gk_blk_close goes
 * back to Initialising (1) first, as Linux's does.
 *
 * I/O. gk_blk_read/write split the transfer into requests of up to
 * GK_BLK_REQUEST_SECTORS (11 pages = 88 sectors = 44 KiB), each with its
 * own bounce pages (ring slot i owns pool pages 11i .. 11i+10), and keep
 * up to GK_BLK_SLOTS (the ring's 32) in flight. Data is copied into the
 * bounce pages before a write is published and out of them when a read's
 * response arrives, so `buf` needs no alignment. Requests are published
 * with RING_PUSH_REQUESTS_AND_CHECK_NOTIFY (EVTCHNOP_send only when the
 * back end asked); before sleeping GuestKit polls the ring for
 * GK_BLK_SPIN_NS, then RING_FINAL_CHECK_FOR_RESPONSES, then waits on the
 * event channel in 1 s slices (after a silent slice it reads the back
 * end's `state`: Closing or Closed ends the wait with -XEN_ENOTCONN). All
 * calls return only when every request they issued was answered.
 *
 * Indirect requests (BLKIF_OP_INDIRECT). When the back end offers
 * `feature-max-indirect-segments` (read once it is Connected, as Linux's
 * blkfront does) and the caller allows more than 11 pages per request
 * (gk_blk_open_segments), S = min(that value, GK_BLK_INDIRECT_SEGMENTS,
 * the caller's limit); before going Connected GuestKit grows the pool to
 * GK_BLK_INDIRECT_POOL_PAGES (if need be) and grants one indirect page
 * per slot, read-only (the back end only reads them). A read or write of
 * more than 88 sectors then uses slots of S pages (slot i owns pool pages
 * Si .. Si+S-1; GK_BLK_INDIRECT_POOL_PAGES / S slots, at most 32) and
 * requests of up to S pages (S = 256: 1 MiB) whose segment descriptors
 * are in the slot's indirect page; each is published as soon as it is
 * built, so the back end starts on it while the next is copied. A piece
 * of 11 pages or fewer is still a direct request; barrier writes, flushes
 * and discards are always direct. The response of an indirect request
 * names its inner operation (READ or WRITE), as Linux's blkback answers.
 * Without the feature, with a limit of 11 or less, or when the extra
 * pages cannot be had, every request is direct as described above;
 * info->segments says which.
 *
 * Units: sectors are 512 bytes (GK_BLK_SECTOR_SIZE) everywhere, as in
 * blkif. A disk whose `sector-size` is larger takes only transfers aligned
 * to it (-XEN_EINVAL otherwise).
 *
 * Results: 0, or
 *   -XEN_EINVAL     a range outside the disk, a misaligned one, a bad argument
 *   -XEN_EIO        the back end answered BLKIF_RSP_ERROR (or an unknown
 *                   status): gk_blk_last_status() tells which and for what
 *   -XEN_EROFS      the same for a write, barrier or discard on a disk whose
 *                   `info` says VDISK_READONLY (the request is still sent:
 *                   the back end decides)
 *   -XEN_EOPNOTSUPP the back end answered BLKIF_RSP_EOPNOTSUPP, or does not
 *                   offer the feature (then nothing is sent)
 *   -XEN_ETIMEDOUT  no answer within GK_BLK_TIMEOUT_NS (the device is then
 *                   broken: its slots may still be in use)
 *   -XEN_ENOTCONN   the back end left Connected while requests were out
 *   -XEN_EIO        afterwards, for every call on a broken device; also a
 *                   response naming no outstanding request or another
 *                   operation (the back end broke the protocol)
 * and, from gk_blk_open: -XEN_ENODEV (no such disk, or `device-type` not
 * "disk"), -XEN_EBUSY (already open, or the front end is neither
 * Initialising nor Closed), -XEN_ENOSPC (GK_BLK_MAX open), -XEN_ENOMEM
 * (no pages), -XEN_ECONNREFUSED (the back end went Closed instead of
 * Connected), -XEN_ETIMEDOUT, and the XenStore client's errors.
 * When one request of a transfer fails, no further ones are issued, those
 * in flight are answered, and the first error is returned.
 *
 * XenStore: open and close wait with gk_xs_wait_watch on a watch of the
 * back end's `state` (token "gk-blk-<devid>"); watch events of other
 * tokens that arrive meanwhile are consumed too. Single vCPU (vCPU 0,
 * which owns the port), no locking; not from event or trap handlers.
 */
#ifndef GUESTKIT_BLKFRONT_H
#define GUESTKIT_BLKFRONT_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/io/blkif.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GK_BLK_SECTOR_SIZE      512
/* gk_blk_open(GK_BLK_ANY, ...): the disk with the lowest virtual-device. */
#define GK_BLK_ANY              0u
/* Disks open at once. */
#define GK_BLK_MAX              4
/* Requests in flight: the slots of a one-page ring. */
#define GK_BLK_SLOTS            32
/* Pages and sectors one request moves. */
#define GK_BLK_SEGMENTS         BLKIF_MAX_SEGMENTS_PER_REQUEST
#define GK_BLK_REQUEST_SECTORS  (GK_BLK_SEGMENTS * 8)
/* Pre-granted bounce pages: GK_BLK_SEGMENTS per slot. */
#define GK_BLK_POOL_PAGES       (GK_BLK_SLOTS * GK_BLK_SEGMENTS)
/* The most pages GuestKit puts in one indirect request (1 MiB), and the
 * bounce pages it grants when it uses indirect requests (4 MiB). */
#define GK_BLK_INDIRECT_SEGMENTS    256
#define GK_BLK_INDIRECT_POOL_PAGES  1024
/* Segment descriptors (struct blkif_request_segment) in one indirect page. */
#define GK_BLK_SEGMENTS_PER_INDIRECT_PAGE   512
/* Where a disk's ring page (+0), bounce pages (+4 KiB ...) and indirect
 * pages (after the pool) are mapped: disk i's window at GK_BLK_VA + i *
 * GK_BLK_WINDOW. */
#define GK_BLK_VA               0x68000000UL
#define GK_BLK_WINDOW           (8UL << 20)
/* Longest wait for the back end (a state change, a response). */
#define GK_BLK_TIMEOUT_NS       (30ULL * 1000000000ULL)
/* How long to poll the ring for responses before blocking. */
#define GK_BLK_SPIN_NS          (30ULL * 1000ULL)

struct gk_blk;

/* What the handshake found. */
struct gk_blk_info {
    unsigned int devid;             /* virtual-device (51712 = xvda) */
    domid_t backend_id;             /* `backend-id` */
    uint64_t sectors;               /* `sectors`: the disk's size in 512-byte sectors */
    unsigned int sector_size;       /* `sector-size` (512 if absent) */
    unsigned int info;              /* `info`: VDISK_* */
    int readonly;                   /* info & VDISK_READONLY */
    int flush;                      /* `feature-flush-cache` */
    int barrier;                    /* `feature-barrier` */
    int discard;                    /* `feature-discard` */
    int discard_secure;             /* `discard-secure` */
    unsigned int discard_granularity;   /* `discard-granularity` in bytes (0 if absent) */
    unsigned int discard_alignment;     /* `discard-alignment` in bytes */
    grant_ref_t ring_ref;           /* what was published */
    evtchn_port_t port;
    char frontend[32];              /* "device/vbd/<devid>" (relative to the home) */
    char backend[128];              /* `backend`: the back end's absolute directory */
    unsigned int max_indirect_segments; /* `feature-max-indirect-segments` (0 if absent) */
    unsigned int segments;          /* the most pages GuestKit puts in one request:
                                       GK_BLK_SEGMENTS (direct only) or more (indirect) */
};

/* Counters since the open. */
struct gk_blk_stats {
    uint64_t requests;              /* requests published */
    uint64_t errors;                /* responses with a status other than OKAY */
    uint64_t notifications;         /* EVTCHNOP_sends */
    uint64_t waits;                 /* blocking waits on the event channel */
};

/* The disks the toolstack announced (the numeric names under device/vbd),
 * ascending, up to max into devids; returns how many there are (0 without
 * device/vbd), or -XEN_Exxx. */
int gk_blk_list(unsigned int *devids, unsigned int max);

/* Connect to disk `devid` (GK_BLK_ANY: the first). *dev on success. */
int gk_blk_open(unsigned int devid, struct gk_blk **dev);
/* The same, with at most `max_segments` pages per request: 0 for the
 * default (GK_BLK_INDIRECT_SEGMENTS), GK_BLK_SEGMENTS or less for direct
 * requests only (no indirect pages are granted then). */
int gk_blk_open_segments(unsigned int devid, unsigned int max_segments, struct gk_blk **dev);
const struct gk_blk_info *gk_blk_info(const struct gk_blk *dev);
const struct gk_blk_stats *gk_blk_stats(const struct gk_blk *dev);

/* nsectors 512-byte sectors from `sector` into / from buf (nsectors * 512
 * bytes). */
int gk_blk_read(struct gk_blk *dev, uint64_t sector, void *buf, uint64_t nsectors);
int gk_blk_write(struct gk_blk *dev, uint64_t sector, const void *buf, uint64_t nsectors);
/* The same write as BLKIF_OP_WRITE_BARRIER requests: each is ordered
 * after everything issued before it and durable when answered
 * (feature-barrier). */
int gk_blk_barrier_write(struct gk_blk *dev, uint64_t sector, const void *buf, uint64_t nsectors);
/* BLKIF_OP_FLUSH_DISKCACHE: every write answered so far is durable
 * (feature-flush-cache). */
int gk_blk_flush(struct gk_blk *dev);
/* BLKIF_OP_DISCARD of the range, one request (feature-discard); the back
 * end may want it aligned to discard-granularity. */
int gk_blk_discard(struct gk_blk *dev, uint64_t sector, uint64_t nsectors);

/* The status (BLKIF_RSP_*) and operation of the last response that was
 * not OKAY (0 and 0 if none). */
int gk_blk_last_status(const struct gk_blk *dev, uint8_t *operation);

/*
 * Hand-built requests (for tests). gk_blk_raw_page gives bounce page i
 * (0 .. GK_BLK_SEGMENTS-1) a raw request may name: its grant ref and
 * address. gk_blk_raw publishes `req` as it is, except that req->id is
 * replaced by the slot's id, waits for the answer and copies it to *rsp.
 * Returns 0 when an answer came (whatever its status), or an error of the
 * device (-XEN_ETIMEDOUT, -XEN_ENOTCONN, -XEN_EIO).
 */
int gk_blk_raw_page(struct gk_blk *dev, unsigned int i, grant_ref_t *gref, void **va);
int gk_blk_raw(struct gk_blk *dev, struct blkif_request *req, struct blkif_response *rsp);

/* Disconnect: state Closing (5), wait for the back end to be Closing or
 * Closed, end every grant (retrying 5 s while the back end still maps a
 * page; a page whose grant cannot end is never freed), close the port,
 * free the pages, state Closed (6). 0, or the first problem met (the
 * device is closed anyway). */
int gk_blk_close(struct gk_blk *dev);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_BLKFRONT_H */
