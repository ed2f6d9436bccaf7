/*
 * guestkit/xenbus.h - a XenStore client over the domain's store ring
 * (start_info.store_mfn / store_evtchn, <xen/io/xs_wire.h>), and the
 * xenbus `state` helpers split drivers use.
 *
 * One request is outstanding at a time: each call takes a spinlock, writes
 * its message into the ring (waiting for room when the ring is full),
 * notifies the server, reads the reply (however it is split across the
 * ring's wrap), notifies the server of the room it made, and returns.
 * Watch events that arrive meanwhile are queued for gk_xs_wait_watch().
 * Waits are gk_evtchn_wait() on the store port (vCPU 0's: call from vCPU 0,
 * or while vCPU 0 handles events), bounded by the timeout
 * (gk_xs_set_timeout, 30 s by default) for each request.
 *
 * `tx` is a transaction id from gk_xs_transaction_start(), or
 * GK_XS_TX_NONE. Paths are absolute ("/local/domain/3/data") or relative
 * to the domain's home ("data" = /local/domain/<own domid>/data); the
 * server resolves them.
 *
 * Errors are -XEN_Exxx: the server's (an XS_ERROR reply's name mapped with
 * xsd_errors[]: -XEN_ENOENT, -XEN_EACCES, -XEN_EEXIST, -XEN_EINVAL,
 * -XEN_EAGAIN, -XEN_ENOSPC, -XEN_E2BIG, -XEN_ENOSYS, ...; an unknown name
 * is -XEN_EINVAL), or the client's own:
 *   -XEN_ENODEV     the domain has no store (store_mfn or store_evtchn 0)
 *   -XEN_ENXIO      the store page is not in the bootstrap mapping
 *   -XEN_E2BIG      the request would exceed XENSTORE_PAYLOAD_MAX
 *                   (never sent: the server would drop the connection)
 *   -XEN_ENOBUFS    the reply does not fit the caller's buffer
 *   -XEN_ETIMEDOUT  no room or no reply within the timeout
 *   -XEN_EIO        the server broke the protocol (a reply longer than
 *                   XENSTORE_PAYLOAD_MAX, of another req_id or type, an
 *                   index out of range) or an earlier timeout left a
 *                   request half-done; the connection is then unusable and
 *                   every later call returns -XEN_EIO.
 * Calls returning int give 0 (or the length / count documented) on
 * success. Not for use from event or trap handlers.
 */
#ifndef GUESTKIT_XENBUS_H
#define GUESTKIT_XENBUS_H

#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>
#include <xen/io/xenbus.h>

#ifdef __cplusplus
extern "C" {
#endif

/* No transaction. */
#define GK_XS_TX_NONE           0u
/* A buffer this big holds any value, directory list or watch event, plus
 * the NUL GuestKit adds. */
#define GK_XS_BUF_SIZE          (XENSTORE_PAYLOAD_MAX + 1)
/* Default time one request may take (room + reply). */
#define GK_XS_TIMEOUT_NS        (30ULL * 1000000000ULL)
/* Bytes of watch events kept until gk_xs_wait_watch takes them; when full,
 * the oldest are dropped (gk_xs_watch_dropped counts them). */
#define GK_XS_WATCH_QUEUE_BYTES 8192
/* gk_xs_transact's (and so gk_xenbus_switch_state's) attempts before giving up with -XEN_EAGAIN. */
#define GK_XENBUS_SWITCH_TRIES  64

/* ---- connection ------------------------------------------------------------ */

/* Finds the store page (gk_pfn_to_virt(gk_mfn_to_pfn(store_mfn))), unmasks
 * the store port (so traps and events get set up: gk_traps_init) and
 * discards replies left in the ring. Every call below does this on first
 * use; calling it early just reports problems early. Idempotent (returns
 * the first outcome again). */
int gk_xs_init(void);
/* The store ring page and port (NULL / 0 before a successful init). */
struct xenstore_domain_interface *gk_xs_ring(void);
evtchn_port_t gk_xs_port(void);
/* Time each request may take from now on; 0 = wait forever. */
void gk_xs_set_timeout(uint64_t ns);

/* ---- nodes ------------------------------------------------------------------- */

/* XS_READ: the value into buf (then a NUL). Returns its length; a value of
 * size bytes or more is -XEN_ENOBUFS (GK_XS_BUF_SIZE always suffices). */
int gk_xs_read(uint32_t tx, const char *path, char *buf, size_t size);
/* XS_READ of a decimal number ("0" .. "18446744073709551615", nothing else:
 * -XEN_EINVAL otherwise). */
int gk_xs_read_ulong(uint32_t tx, const char *path, unsigned long *out);
/* XS_WRITE of a string / of len bytes (parents are created). */
int gk_xs_write(uint32_t tx, const char *path, const char *value);
int gk_xs_write_bytes(uint32_t tx, const char *path, const void *value, size_t len);
/* XS_WRITE of a gk_snprintf-formatted value (at most 255 bytes). */
int gk_xs_printf(uint32_t tx, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* XS_MKDIR (0 if it exists), XS_RM (recursive). */
int gk_xs_mkdir(uint32_t tx, const char *path);
int gk_xs_rm(uint32_t tx, const char *path);
/* XS_DIRECTORY: the child names into buf, each NUL-terminated, one after
 * the other. Returns how many; -XEN_ENOBUFS if the list needs more than
 * size bytes. Iterate with: for (p = buf; n--; p += strlen(p) + 1)
 * A list over XENSTORE_PAYLOAD_MAX is the server's -XEN_E2BIG (no
 * XS_DIRECTORY_PART fallback; gk_xs_request can send one). */
int gk_xs_directory(uint32_t tx, const char *path, char *buf, size_t size);

/* One entry of a node's permission list: the first entry names the owner
 * (who may always read and write) and the access of every domain not
 * listed; each further entry one domain's access. */
struct gk_xs_perm {
    domid_t domid;
    char perm;                  /* 'n' none, 'r' read, 'w' write, 'b' both */
};
/* XS_GET_PERMS: up to max entries into perms; returns how many the node
 * has (may exceed max). */
int gk_xs_get_perms(uint32_t tx, const char *path, struct gk_xs_perm *perms, unsigned int max);
/* XS_SET_PERMS with n >= 1 entries. */
int gk_xs_set_perms(uint32_t tx, const char *path, const struct gk_xs_perm *perms, unsigned int n);

/* XS_GET_DOMAIN_PATH: "/local/domain/<domid>" as the server has it, into
 * buf; returns its length. */
int gk_xs_get_domain_path(domid_t domid, char *buf, size_t size);

/* ---- transactions ------------------------------------------------------------- */

/* XS_TRANSACTION_START: a new transaction's id in *tx. */
int gk_xs_transaction_start(uint32_t *tx);
/* XS_TRANSACTION_END: commit ("T") or, if abort, discard ("F"). A commit
 * that conflicted with another change is -XEN_EAGAIN: start over. */
int gk_xs_transaction_end(uint32_t tx, int abort);
/* Runs body(tx, ctx) in a transaction and commits it, starting over while
 * the commit conflicts (at most GK_XENBUS_SWITCH_TRIES times, then
 * -XEN_EAGAIN). A negative result of the body aborts the transaction and
 * is returned (-XEN_ENOBUFS, a value that did not fit, as -XEN_EINVAL). */
int gk_xs_transact(int (*body)(uint32_t tx, void *ctx), void *ctx);

/* ---- watches ------------------------------------------------------------------- */

/* XS_WATCH: events for `path` and everything below it, labelled `token`
 * (unique per watch). The server sends one event right away. */
int gk_xs_watch(const char *path, const char *token);
/* XS_UNWATCH; events of `token` still queued are dropped. */
int gk_xs_unwatch(const char *path, const char *token);
/* XS_RESET_WATCHES: drop every watch (and transaction) of this domain;
 * the queue is emptied. */
int gk_xs_reset_watches(void);
/*
 * The next watch event: queued ones first, else waits for one until system
 * time deadline_ns (0: forever). Copies "path\0token\0" into buf and points
 * *path and *token into it. Returns 0; -XEN_ETIMEDOUT; -XEN_ENOBUFS if the
 * event is bigger than size (it stays queued); -XEN_EIO.
 */
int gk_xs_wait_watch(char *buf, size_t size, const char **path, const char **token,
                     uint64_t deadline_ns);
/* Watch events dropped because the queue was full / malformed. */
unsigned long gk_xs_watch_dropped(void);

/* ---- anything else ------------------------------------------------------------ */

/* One request of any type with `len` payload bytes; the reply's payload
 * goes to reply (then a NUL) and its length is returned (-XEN_ENOBUFS if
 * it needs more than size bytes). An XS_ERROR reply is its -XEN_Exxx. */
int gk_xs_request(uint32_t type, uint32_t tx, const void *payload, size_t len,
                  void *reply, size_t size);

/* "ENOENT" for -XEN_ENOENT (either sign), for the names of xsd_errors[]
 * and the client's own errors; "?" otherwise. */
const char *gk_xs_error_name(int err);

/* ---- xenbus states -------------------------------------------------------------- */

/* The decimal `<dir>/state` as an enum xenbus_state (0..8), or -XEN_Exxx
 * (-XEN_EINVAL: not a state number). */
int gk_xenbus_read_state(uint32_t tx, const char *dir);
/* Linux's xenbus_switch_state: in a transaction, read `<dir>/state` (it must
 * exist: -XEN_ENOENT otherwise, nothing written) and write `state`; a
 * commit that gets -XEN_EAGAIN is tried again, GK_XENBUS_SWITCH_TRIES
 * times in all. */
int gk_xenbus_switch_state(const char *dir, enum xenbus_state state);

/* ---- what every front-end needs ------------------------------------------------- */

/* A mask of xenbus states for gk_xenbus_wait_state. */
#define GK_XENBUS_STATE(s)      (1u << (s))

/* "<dir>/<key>" into buf (-XEN_E2BIG if it does not fit). */
int gk_xenbus_key(char *buf, size_t size, const char *dir, const char *key);
/* A device directory's name under device/<kind> (a vbd's devid, a vif's
 * handle): its decimal value, which fits 32 bits, or -1. */
long gk_xenbus_device_id(const char *name);
/* Takes a device the toolstack announced at `frontend` (device/<kind>/<id>)
 * for a new connection: Initialising as it is, or back to Initialising
 * from Closed. -XEN_ENODEV if there is none, -XEN_EBUSY if it is in use. */
int gk_xenbus_claim_device(const char *frontend);
/* The decimal node <dir>/<key>. */
int gk_xenbus_read_number(const char *dir, const char *key, unsigned long *out);
/* Wait until `<dir>/state` is one of `want` (a GK_XENBUS_STATE mask) and return it; one of `refuse` is
 * -XEN_ECONNREFUSED; past `deadline_ns` -XEN_ETIMEDOUT. A watch on the node must be set: each event
 * (of any token) prompts a fresh read. */
int gk_xenbus_wait_state(const char *dir, unsigned int want, unsigned int refuse, uint64_t deadline_ns);
/* Take a device down the xenbus way. `published`: the back-end knows of it, so the front-end says Closing
 * and waits (up to `wait_ns`, watching `backend_state` with `token`) for the back-end to let go; then
 * `release(ctx)` ends its grants and frees its pages, and the front-end says Closed. The first error. */
int gk_xenbus_close_device(const char *frontend, const char *backend, const char *backend_state, const char *token,
                           int published, uint64_t wait_ns, int (*release)(void *ctx), void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_XENBUS_H */
