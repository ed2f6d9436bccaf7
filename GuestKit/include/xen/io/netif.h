/*
 * xen/io/netif.h - Xen's network device protocol: what a network front
 * end (the guest) and back end (Dom0) put in the slots of their two
 * shared rings (<xen/io/ring.h>, one 4 KiB page each):
 *
 *   tx ring  256 slots of 12 bytes: the front end's packets going out;
 *            each request names a granted page of the front end and the
 *            bytes in it (offset, size); the back end reads them and
 *            answers with the request's id and a status.
 *   rx ring  256 slots of 8 bytes: empty pages the front end posts for
 *            packets coming in; with `request-rx-copy` the back end
 *            copies a packet into the next posted page and answers with
 *            the request's id, where the packet starts in the page and
 *            its length (status > 0) or an error (status < 0).
 *
 * Frames are Ethernet frames from the destination MAC on, without the
 * FCS. A packet may span several slots (NETTXF_more_data /
 * NETRXF_more_data, `feature-sg`) and be preceded by extra-info slots
 * (NETTXF_extra_info / NETRXF_extra_info: GSO, multicast, hashing); a
 * front end that negotiates none of that uses one slot per packet.
 *
 * The XenStore side (Xen's, see Linux's xen-netfront): the front end's
 * directory device/vif/<handle> holds `backend`, `backend-id`, `handle`,
 * `mac` ("00:16:3e:xx:xx:xx") and `state`; the back end's holds `state`
 * and the features (`feature-rx-copy` must be 1, `feature-sg`,
 * `feature-gso-tcpv4`, `feature-rx-flip`, ...); the front end adds
 * `tx-ring-ref`, `rx-ring-ref`, `event-channel` (one for both rings),
 * `request-rx-copy` = 1 and `feature-rx-notify` = 1 and goes straight to
 * Connected.
 *
 * GuestKit's rendering of Xen's public io/netif.h: same names, numbers and
 * x86-64 layouts, our own text. The layouts are checked below at compile
 * time. C only (the ring types come from ring.h's macros).
 */
#ifndef GUESTKIT_XEN_IO_NETIF_H
#define GUESTKIT_XEN_IO_NETIF_H

/* ---- tx request flags (netif_tx_request.flags) ------------------------------- */

#define _NETTXF_csum_blank          0
#define NETTXF_csum_blank           (1U << _NETTXF_csum_blank)      /* the L4 checksum is to be filled in */
#define _NETTXF_data_validated      1
#define NETTXF_data_validated       (1U << _NETTXF_data_validated)  /* the checksum is known good */
#define _NETTXF_more_data           2
#define NETTXF_more_data            (1U << _NETTXF_more_data)       /* the packet goes on in the next slot */
#define _NETTXF_extra_info          3
#define NETTXF_extra_info           (1U << _NETTXF_extra_info)      /* a netif_extra_info slot follows */

/* ---- rx response flags (netif_rx_response.flags) ----------------------------- */

#define _NETRXF_data_validated      0
#define NETRXF_data_validated       (1U << _NETRXF_data_validated)
#define _NETRXF_csum_blank          1
#define NETRXF_csum_blank           (1U << _NETRXF_csum_blank)
#define _NETRXF_more_data           2
#define NETRXF_more_data            (1U << _NETRXF_more_data)
#define _NETRXF_extra_info          3
#define NETRXF_extra_info           (1U << _NETRXF_extra_info)
#define _NETRXF_gso_prefix          4
#define NETRXF_gso_prefix           (1U << _NETRXF_gso_prefix)      /* a GSO prefix slot (old back ends) */

/* ---- response status (tx status, rx status when not a length) --------------- */

#define NETIF_RSP_DROPPED           (-2)    /* the back end dropped the packet */
#define NETIF_RSP_ERROR             (-1)    /* a bad request (e.g. past its page) */
#define NETIF_RSP_OKAY              0
#define NETIF_RSP_NULL              1       /* a slot used by extra info, no response of its own */

/* ---- extra info (a whole slot after a request flagged extra_info) ------------- */

#define XEN_NETIF_EXTRA_TYPE_NONE       0
#define XEN_NETIF_EXTRA_TYPE_GSO        1
#define XEN_NETIF_EXTRA_TYPE_MCAST_ADD  2
#define XEN_NETIF_EXTRA_TYPE_MCAST_DEL  3
#define XEN_NETIF_EXTRA_TYPE_HASH       4
#define XEN_NETIF_EXTRA_TYPE_MAX        5

#define _XEN_NETIF_EXTRA_FLAG_MORE      0
#define XEN_NETIF_EXTRA_FLAG_MORE       (1U << _XEN_NETIF_EXTRA_FLAG_MORE)  /* another extra slot follows */

#define XEN_NETIF_GSO_TYPE_NONE         0
#define XEN_NETIF_GSO_TYPE_TCPV4        1
#define XEN_NETIF_GSO_TYPE_TCPV6        2

/* ---- limits -------------------------------------------------------------------- */

/* A packet's total size field is a u16. */
#define XEN_NETIF_MAX_TX_SIZE           0xFFFF
/* Slots a back end must accept for one packet (feature-sg). */
#define XEN_NETIF_NR_SLOTS_MIN          18

#ifndef __ASSEMBLY__

#include <stddef.h>
#include <stdint.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>

/* A packet (or, with more_data, its first part) for the back end to send. */
struct netif_tx_request {
    grant_ref_t gref;               /* the page holding the bytes, granted to the back end */
    uint16_t offset;                /* where they start in it */
    uint16_t flags;                 /* NETTXF_* */
    uint16_t id;                    /* the front end's; echoed in the response */
    uint16_t size;                  /* bytes (first slot of several: the whole packet's) */
};

/* GSO details (XEN_NETIF_EXTRA_TYPE_GSO). */
struct netif_extra_info_gso {
    uint16_t size;                  /* the MSS */
    uint8_t type;                   /* XEN_NETIF_GSO_TYPE_* */
    uint8_t pad;
    uint16_t features;
};

/* One extra-info slot (8 bytes, in either ring). */
struct netif_extra_info {
    uint8_t type;                   /* XEN_NETIF_EXTRA_TYPE_* */
    uint8_t flags;                  /* XEN_NETIF_EXTRA_FLAG_* */
    union {
        struct netif_extra_info_gso gso;
        struct { uint8_t addr[6]; } mcast;          /* MCAST_ADD / MCAST_DEL */
        struct { uint8_t type; uint8_t algorithm; uint8_t value[4]; } hash;
        uint16_t pad[3];
    } u;
};

/* The answer to a tx request. */
struct netif_tx_response {
    uint16_t id;                    /* the request's */
    int16_t status;                 /* NETIF_RSP_* */
};

/* An empty page for the back end to copy a received packet into. */
struct netif_rx_request {
    uint16_t id;                    /* the front end's; echoed in the response */
    uint16_t pad;
    grant_ref_t gref;               /* the page, granted read-write to the back end */
};

/* A received packet (or part of one) in the page of request `id`. */
struct netif_rx_response {
    uint16_t id;                    /* the request's */
    uint16_t offset;                /* where the bytes start in the page */
    uint16_t flags;                 /* NETRXF_* */
    int16_t status;                 /* > 0: bytes; <= 0: NETIF_RSP_* */
};

typedef struct netif_tx_request netif_tx_request_t;
typedef struct netif_tx_response netif_tx_response_t;
typedef struct netif_rx_request netif_rx_request_t;
typedef struct netif_rx_response netif_rx_response_t;
typedef struct netif_extra_info netif_extra_info_t;

/* netif_tx_sring_t / _front_ring_t / _back_ring_t, the same for rx. */
DEFINE_RING_TYPES(netif_tx, struct netif_tx_request, struct netif_tx_response);
DEFINE_RING_TYPES(netif_rx, struct netif_rx_request, struct netif_rx_response);

/* The x86-64 layouts both ends rely on. */
_Static_assert(sizeof(struct netif_tx_request) == 12 && offsetof(struct netif_tx_request, offset) == 4 &&
               offsetof(struct netif_tx_request, flags) == 6 && offsetof(struct netif_tx_request, id) == 8 &&
               offsetof(struct netif_tx_request, size) == 10, "netif_tx_request");
_Static_assert(sizeof(struct netif_tx_response) == 4 && offsetof(struct netif_tx_response, status) == 2,
               "netif_tx_response");
_Static_assert(sizeof(struct netif_rx_request) == 8 && offsetof(struct netif_rx_request, gref) == 4,
               "netif_rx_request");
_Static_assert(sizeof(struct netif_rx_response) == 8 && offsetof(struct netif_rx_response, offset) == 2 &&
               offsetof(struct netif_rx_response, flags) == 4 && offsetof(struct netif_rx_response, status) == 6,
               "netif_rx_response");
_Static_assert(sizeof(struct netif_extra_info) == 8 && offsetof(struct netif_extra_info, u) == 2 &&
               offsetof(struct netif_extra_info, u.gso.type) == 4 &&
               offsetof(struct netif_extra_info, u.gso.features) == 6, "netif_extra_info");
_Static_assert(sizeof(union netif_tx_sring_entry) == 12, "a tx ring slot is 12 bytes");
_Static_assert(sizeof(union netif_rx_sring_entry) == 8, "an rx ring slot is 8 bytes");
_Static_assert(__CONST_RING_SIZE(netif_tx, 4096) == 256, "a one-page tx ring has 256 slots");
_Static_assert(__CONST_RING_SIZE(netif_rx, 4096) == 256, "a one-page rx ring has 256 slots");

#endif /* __ASSEMBLY__ */

#endif /* GUESTKIT_XEN_IO_NETIF_H */
