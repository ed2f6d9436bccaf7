/*
 * guestkit/netfront.h - a network front end: Xen's netif
 * (<xen/io/netif.h>) over two one-page rings shared with the back end in
 * Dom0 (or the domain named by the device's `backend-id`), connected with
 * Linux netfront's xenbus handshake. It moves whole Ethernet frames
 * (destination MAC to the end of the payload, no FCS, at most
 * GK_NET_FRAME_MAX = 1514 bytes); <guestkit/net.h> is a small IPv4 stack
 * on top.
 *
 * Opening (gk_net_open). The toolstack has written the front end's
 * directory device/vif/<handle> (`backend`, `backend-id`, `handle`, `mac`,
 * `state` = 1); GuestKit takes the lowest-numbered vif. It watches
 * <backend>/state until the back end is InitWait (2) and checks
 * `feature-rx-copy` = 1 (the only receive mode it speaks: -XEN_ENODEV
 * otherwise); allocates the two ring pages, GK_NET_TX_BUFS transmit pages
 * and GK_NET_RX_BUFS receive pages, zeroes them and grants them to the
 * back end once (rings and receive pages read-write, transmit pages
 * read-only: the back end only reads them); initialises both rings and
 * posts every receive page (rx request i = receive page i, all 256
 * slots); allocates an unbound event channel for the back end (one for
 * both rings); writes `tx-ring-ref`, `rx-ring-ref`, `event-channel`,
 * `request-rx-copy` = 1 and `feature-rx-notify` = 1 in one transaction;
 * switches itself to Connected (4) directly, as Linux's netfront does;
 * waits until the back end is Connected (4) and sends it one event (the
 * receive ring was filled before it was listening). A front end left
 * Closed (6) by gk_net_close goes back to Initialising (1) first.
 *
 * Sending (gk_net_send). The frame is copied into a free transmit page
 * (offset 0) and published as one tx request (flags 0, id = the page's
 * index, size = the frame's length) with RING_PUSH_REQUESTS_AND_CHECK_
 * NOTIFY. Completed requests are reclaimed on every call; with all 256
 * pages in flight the call waits for the back end to answer one. A
 * response's status other than OKAY is counted (tx_errors / tx_dropped),
 * not returned: like a real NIC, "sent" means handed to the back end.
 *
 * Receiving (gk_net_receive). Takes the next rx response, copies the frame
 * out of its page and posts the page again at once (same id and grant).
 * Responses with an error status, the more_data or extra_info flag (never
 * negotiated) or bytes outside the page are counted in rx_errors and
 * skipped (their page re-posted).
 *
 * Waiting. With nothing to take GuestKit polls the ring for
 * GK_NET_SPIN_NS, then RING_FINAL_CHECK_FOR_RESPONSES (the back end is
 * asked for an event at the next response) and waits on the event
 * channel in 1 s slices; after a silent slice it reads the back end's
 * `state` (Closing, Closed or gone: -XEN_ENOTCONN, the device broken).
 *
 * Results: >= 0 as documented, or
 *   -XEN_EINVAL     a bad argument (a frame shorter than 14 or longer than
 *                   GK_NET_FRAME_MAX bytes, a closed device)
 *   -XEN_ETIMEDOUT  gk_net_receive: no frame by the deadline; gk_net_send
 *                   and gk_net_flush: no transmit page came free within
 *                   GK_NET_TIMEOUT_NS (the device is then broken)
 *   -XEN_EMSGSIZE   gk_net_receive: the frame was longer than `max` (the
 *                   first `max` bytes were copied; the frame is consumed)
 *   -XEN_ENOTCONN   the back end left Connected
 *   -XEN_EIO        afterwards, for every call on a broken device; also a
 *                   response naming a request not outstanding, or more
 *                   responses than requests (the back end broke the
 *                   protocol)
 * and, from gk_net_open: -XEN_ENODEV (no vif, or no feature-rx-copy),
 * -XEN_EBUSY (already open, or the front end is neither Initialising
 * nor Closed), -XEN_EINVAL (a `mac` that does not parse), -XEN_ENOMEM,
 * -XEN_ECONNREFUSED (the back end went Closing/Closed instead of
 * Connected), -XEN_ETIMEDOUT, and the XenStore client's errors.
 *
 * XenStore: open and close wait with gk_xs_wait_watch on a watch of the
 * back end's `state` (token "gk-net-<handle>"); watch events of other
 * tokens that arrive meanwhile are consumed too. One vif open at a time.
 * Single vCPU (vCPU 0, which owns the port), no locking; not from event or
 * trap handlers.
 */
#ifndef GUESTKIT_NETFRONT_H
#define GUESTKIT_NETFRONT_H

#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/io/netif.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest frame: 14 bytes of Ethernet header + a 1500-byte payload. */
#define GK_NET_FRAME_MAX        1514
/* The smallest: an Ethernet header. */
#define GK_NET_FRAME_MIN        14
/* Transmit / receive pages: one per slot of each ring. */
#define GK_NET_TX_BUFS          256
#define GK_NET_RX_BUFS          256
/* Where the vif's pages are mapped: tx ring (+0), rx ring (+4 KiB), the
 * transmit pages (+8 KiB ...), then the receive pages; 514 pages. */
#define GK_NET_VA               0x6c000000UL
#define GK_NET_WINDOW           (4UL << 20)
/* Longest wait for the back end (a state change, a transmit page). */
#define GK_NET_TIMEOUT_NS       (30ULL * 1000000000ULL)
/* How long to poll a ring before blocking. */
#define GK_NET_SPIN_NS          (20ULL * 1000ULL)

struct gk_net;

/* What the handshake found. */
struct gk_net_info {
    unsigned int handle;            /* the vif's number (device/vif/<handle>) */
    domid_t backend_id;             /* `backend-id` */
    uint8_t mac[6];                 /* `mac` of the front end's directory */
    grant_ref_t tx_ring_ref;        /* what was published */
    grant_ref_t rx_ring_ref;
    evtchn_port_t port;
    char frontend[32];              /* "device/vif/<handle>" (relative to the home) */
    char backend[128];              /* `backend`: the back end's absolute directory */
};

/* Counters since the open. */
struct gk_net_stats {
    uint64_t tx_frames;             /* tx requests published */
    uint64_t tx_bytes;
    uint64_t tx_errors;             /* answered NETIF_RSP_ERROR (or another status) */
    uint64_t tx_dropped;            /* answered NETIF_RSP_DROPPED */
    uint64_t tx_full;               /* sends that waited for a transmit page */
    uint64_t rx_frames;             /* frames handed to the caller */
    uint64_t rx_bytes;
    uint64_t rx_errors;             /* rx responses skipped (see above) */
    uint64_t rx_truncated;          /* frames longer than the caller's buffer */
    uint64_t notifications;         /* EVTCHNOP_sends */
    uint64_t waits;                 /* blocking waits on the event channel */
};

/* Connect to the first vif (the lowest <handle> under device/vif). */
int gk_net_open(struct gk_net **dev);
const struct gk_net_info *gk_net_info(const struct gk_net *dev);
/* The vif's MAC address (6 bytes). */
const uint8_t *gk_net_mac(const struct gk_net *dev);
const struct gk_net_stats *gk_net_stats(const struct gk_net *dev);

/* Send one frame of len bytes (GK_NET_FRAME_MIN .. GK_NET_FRAME_MAX): 0
 * once it is on the tx ring. Frames are sent as they are (no padding). */
int gk_net_send(struct gk_net *dev, const void *frame, size_t len);
/* Wait until the back end has answered every tx request, or until system
 * time deadline_ns (0: GK_NET_TIMEOUT_NS from now): 0 or -XEN_ETIMEDOUT
 * (the device stays usable). */
int gk_net_flush(struct gk_net *dev, uint64_t deadline_ns);
/* The next received frame into buf (at most max bytes): its length; or
 * -XEN_ETIMEDOUT once system time passes deadline_ns (0: no deadline; a
 * deadline already past only looks). */
int gk_net_receive(struct gk_net *dev, void *buf, size_t max, uint64_t deadline_ns);

/* Disconnect: wait (1 s at most) for the tx requests in flight, state
 * Closing (5), wait for the back end to be Closing or Closed, end every
 * grant (retrying 5 s while the back end still maps a page; a page whose
 * grant cannot end is never freed), close the port, free the pages, state
 * Closed (6). 0, or the first problem met (the vif is closed anyway). */
int gk_net_close(struct gk_net *dev);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_NETFRONT_H */
