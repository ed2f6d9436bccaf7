/*
 * xen/io/blkif.h - Xen's block device protocol: what a block front end
 * (the guest) and back end (Dom0) put in the slots of their shared ring
 * (<xen/io/ring.h>, one 4 KiB page: 32 slots of 112 bytes).
 *
 * A request names up to 11 granted pages of the front end ("segments")
 * and, in each, the 512-byte sectors first_sect..last_sect (0-7) to move;
 * they are read from / written to the disk in order, starting at
 * sector_number. The back end answers every request with a response in
 * the same slot, carrying the request's id and its status.
 *
 * Units: sector_number, nr_sectors and first/last_sect count 512-byte
 * sectors, whatever the disk's `sector-size` says.
 *
 * The XenStore side (Xen's, see docs/misc and Linux's xen-blkfront):
 * the front end's directory device/vbd/<virtual-device> holds `backend`,
 * `backend-id`, `virtual-device`, `device-type`, `state`; the back end's
 * holds `sectors`, `sector-size`, `info` (VDISK_* below), the
 * `feature-*` flags and `state`; the front end adds `ring-ref`,
 * `event-channel` and `protocol` (XEN_IO_PROTO_ABI_X86_64).
 *
 * GuestKit's rendering of Xen's public io/blkif.h: same names, numbers
 * and x86-64 layouts, our own text. The layouts are checked below at
 * compile time. C only (the ring types come from ring.h's macros).
 */
#ifndef GUESTKIT_XEN_IO_BLKIF_H
#define GUESTKIT_XEN_IO_BLKIF_H

/* ---- operations (blkif_request.operation) ------------------------------------ */

#define BLKIF_OP_READ               0   /* disk -> the front end's pages */
#define BLKIF_OP_WRITE              1   /* the front end's pages -> disk */
#define BLKIF_OP_WRITE_BARRIER      2   /* a write ordered after everything before it, and durable */
#define BLKIF_OP_FLUSH_DISKCACHE    3   /* make every completed write durable (no segments) */
#define BLKIF_OP_RESERVED_1         4   /* once a vendor's; never used */
#define BLKIF_OP_DISCARD            5   /* the sectors' contents are no longer needed */
#define BLKIF_OP_INDIRECT           6   /* segments listed in granted pages (feature-max-indirect-segments) */

/* Segments a direct request carries (one slot holds no more). */
#define BLKIF_MAX_SEGMENTS_PER_REQUEST          11
/* Pages of segment descriptors an indirect request may name. */
#define BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST    8

/* blkif_request_discard.flag: the data must be unrecoverable afterwards. */
#define BLKIF_DISCARD_SECURE        (1 << 0)

/* ---- response status (blkif_response.status) -------------------------------- */

#define BLKIF_RSP_EOPNOTSUPP        (-2)    /* the back end does not do this operation */
#define BLKIF_RSP_ERROR             (-1)    /* it failed (this request only) */
#define BLKIF_RSP_OKAY              0

/* ---- the back end's `info` bits ---------------------------------------------- */

#define VDISK_CDROM                 0x1
#define VDISK_REMOVABLE             0x2
#define VDISK_READONLY              0x4

/* `protocol` the front end writes: the layout of its ring's slots (Xen's
 * io/protocols.h name). */
#ifndef XEN_IO_PROTO_ABI_X86_64
#define XEN_IO_PROTO_ABI_X86_64     "x86_64-abi"
#endif

#ifndef __ASSEMBLY__

#include <stddef.h>
#include <stdint.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>

typedef uint16_t blkif_vdev_t;      /* the front end's virtual-device number (low 16 bits) */
typedef uint64_t blkif_sector_t;    /* a 512-byte sector number */

/* One granted page and the sectors in it (8 bytes, 2 of them padding). */
struct blkif_request_segment {
    grant_ref_t gref;               /* the page, granted to the back end */
    uint8_t first_sect;             /* first 512-byte sector in the page (0-7) */
    uint8_t last_sect;              /* last one, inclusive (first_sect-7) */
};

/* READ, WRITE, WRITE_BARRIER, FLUSH_DISKCACHE (nr_segments 0). */
struct blkif_request {
    uint8_t operation;              /* BLKIF_OP_* */
    uint8_t nr_segments;            /* 0 (flush) .. BLKIF_MAX_SEGMENTS_PER_REQUEST */
    blkif_vdev_t handle;            /* the device (virtual-device) */
    uint64_t id;                    /* the front end's; echoed in the response */
    blkif_sector_t sector_number;   /* where the first segment's first sector goes */
    struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

/* DISCARD: a range, no pages. */
struct blkif_request_discard {
    uint8_t operation;              /* BLKIF_OP_DISCARD */
    uint8_t flag;                   /* BLKIF_DISCARD_SECURE or 0 */
    blkif_vdev_t handle;
    uint64_t id;
    blkif_sector_t sector_number;
    uint64_t nr_sectors;
};

/* INDIRECT: the segments are in up to 8 granted pages of 512
 * blkif_request_segment each. */
struct blkif_request_indirect {
    uint8_t operation;              /* BLKIF_OP_INDIRECT */
    uint8_t indirect_op;            /* READ or WRITE */
    uint16_t nr_segments;
    uint64_t id;
    blkif_sector_t sector_number;
    blkif_vdev_t handle;
    uint16_t _pad1;
    grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};

/* The answer, written over the request's slot. */
struct blkif_response {
    uint64_t id;                    /* the request's */
    uint8_t operation;              /* the request's */
    int16_t status;                 /* BLKIF_RSP_* */
};

typedef struct blkif_request blkif_request_t;
typedef struct blkif_request_discard blkif_request_discard_t;
typedef struct blkif_request_indirect blkif_request_indirect_t;
typedef struct blkif_response blkif_response_t;

/* blkif_sring_t, blkif_front_ring_t, blkif_back_ring_t. */
DEFINE_RING_TYPES(blkif, struct blkif_request, struct blkif_response);

/* The x86-64 layouts both ends rely on. */
_Static_assert(sizeof(struct blkif_request_segment) == 8, "blkif_request_segment is 8 bytes");
_Static_assert(offsetof(struct blkif_request_segment, first_sect) == 4 &&
               offsetof(struct blkif_request_segment, last_sect) == 5, "blkif_request_segment fields");
_Static_assert(sizeof(struct blkif_request) == 112, "blkif_request is 112 bytes");
_Static_assert(offsetof(struct blkif_request, nr_segments) == 1 && offsetof(struct blkif_request, handle) == 2 &&
               offsetof(struct blkif_request, id) == 8 && offsetof(struct blkif_request, sector_number) == 16 &&
               offsetof(struct blkif_request, seg) == 24, "blkif_request fields");
_Static_assert(sizeof(struct blkif_request_discard) == 32 && offsetof(struct blkif_request_discard, flag) == 1 &&
               offsetof(struct blkif_request_discard, id) == 8 &&
               offsetof(struct blkif_request_discard, sector_number) == 16 &&
               offsetof(struct blkif_request_discard, nr_sectors) == 24, "blkif_request_discard");
_Static_assert(sizeof(struct blkif_request_indirect) == 64 &&
               offsetof(struct blkif_request_indirect, nr_segments) == 2 &&
               offsetof(struct blkif_request_indirect, id) == 8 &&
               offsetof(struct blkif_request_indirect, handle) == 24 &&
               offsetof(struct blkif_request_indirect, indirect_grefs) == 28, "blkif_request_indirect");
_Static_assert(sizeof(struct blkif_response) == 16 && offsetof(struct blkif_response, operation) == 8 &&
               offsetof(struct blkif_response, status) == 10, "blkif_response");
_Static_assert(sizeof(union blkif_sring_entry) == 112, "a blkif ring slot is 112 bytes");
_Static_assert(__CONST_RING_SIZE(blkif, 4096) == 32, "a one-page blkif ring has 32 slots");

#endif /* __ASSEMBLY__ */

#endif /* GUESTKIT_XEN_IO_BLKIF_H */
