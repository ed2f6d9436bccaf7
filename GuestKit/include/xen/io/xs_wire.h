/*
 * xen/io/xs_wire.h - the XenStore wire protocol: message types, the
 * message header, the shared ring page a domain talks to the store
 * through, and the error names replies carry.
 *
 * A domain's store connection is one page of its own RAM
 * (start_info.store_mfn) holding two byte rings, plus an interdomain event
 * channel to the store server (start_info.store_evtchn). The guest writes
 * requests into req[] and publishes req_prod; the server writes replies
 * and watch events into rsp[] and publishes rsp_prod; each side advances
 * the other's consumer index as it reads and sends an event after every
 * change the other may be waiting for. Indices are free-running u32 byte
 * counts; byte i sits at [i & (XENSTORE_RING_SIZE - 1)].
 *
 * A message is struct xsd_sockmsg followed by `len` payload bytes (at most
 * XENSTORE_PAYLOAD_MAX). Strings in payloads are NUL-terminated, except a
 * READ reply (the raw value) and a WRITE request's value (after the path's
 * NUL, up to the end). A reply has the request's req_id and tx_id and the
 * request's type, or XS_ERROR with the errno's name ("ENOENT\0").
 * XS_WATCH_EVENT ("path\0token\0", req_id 0) may come at any time.
 * Relative paths resolve under /local/domain/<own domid>/.
 *
 * GuestKit's rendering of Xen's public io/xs_wire.h: same numbers, names
 * and layouts, our own text. The enum and the error table are C only
 * (hidden from assembly); the #defines are plain numbers everywhere.
 */
#ifndef GUESTKIT_XEN_IO_XS_WIRE_H
#define GUESTKIT_XEN_IO_XS_WIRE_H

#include <xen/errno.h>

/* Each ring of the store page, in bytes (a power of two). */
#define XENSTORE_RING_SIZE          1024
/* Largest payload of one message; bigger ones are protocol errors. */
#define XENSTORE_PAYLOAD_MAX        4096
/* Longest path the server accepts, absolute / relative. */
#define XENSTORE_ABS_PATH_MAX       3072
#define XENSTORE_REL_PATH_MAX       2048

/* xenstore_domain_interface.server_features */
#define XENSTORE_SERVER_FEATURE_RECONNECTION    1   /* `connection` may be used */
#define XENSTORE_SERVER_FEATURE_ERROR           2   /* `error` may be set */

/* xenstore_domain_interface.connection */
#define XENSTORE_CONNECTED          0   /* usable (a zeroed page is connected) */
#define XENSTORE_RECONNECT          1   /* guest asks the server to reset the ring */

/* xenstore_domain_interface.error: why the server stopped reading */
#define XENSTORE_ERROR_NONE         0
#define XENSTORE_ERROR_COMM         1   /* communication problem */
#define XENSTORE_ERROR_RINGIDX      2   /* an index was out of range */
#define XENSTORE_ERROR_PROTO        3   /* a malformed message */

/* The ring slot of free-running index `idx`. */
#define MASK_XENSTORE_IDX(idx)      ((idx) & (XENSTORE_RING_SIZE - 1))

#ifndef __ASSEMBLY__

#include <stdint.h>

/* xsd_sockmsg.type. Numbers are the protocol's; 20 is retired. */
enum xsd_sockmsg_type {
    XS_CONTROL              = 0,    /* debug/control commands (privileged) */
    XS_DIRECTORY            = 1,    /* path -> child names, each NUL-terminated */
    XS_READ                 = 2,    /* path -> raw value */
    XS_GET_PERMS            = 3,    /* path -> "<letter><domid>\0" ... */
    XS_WATCH                = 4,    /* path, token -> "OK"; fires once at once */
    XS_UNWATCH              = 5,    /* path, token -> "OK" */
    XS_TRANSACTION_START    = 6,    /* "" -> decimal transaction id */
    XS_TRANSACTION_END      = 7,    /* "T" commit / "F" abort -> "OK" or EAGAIN */
    XS_INTRODUCE            = 8,    /* domid, mfn, port (Dom0 only) */
    XS_RELEASE              = 9,    /* domid (Dom0 only) */
    XS_GET_DOMAIN_PATH      = 10,   /* domid -> "/local/domain/<domid>" */
    XS_WRITE                = 11,   /* path, value -> "OK" (creates parents) */
    XS_MKDIR                = 12,   /* path -> "OK" */
    XS_RM                   = 13,   /* path -> "OK" (recursive) */
    XS_SET_PERMS            = 14,   /* path, perms... -> "OK" */
    XS_WATCH_EVENT          = 15,   /* server -> guest: path, token */
    XS_ERROR                = 16,   /* reply: errno name */
    XS_IS_DOMAIN_INTRODUCED = 17,   /* domid -> "T" / "F" */
    XS_RESUME               = 18,   /* domid (Dom0 only) */
    XS_SET_TARGET           = 19,   /* domid, target (Dom0 only) */
    XS_RESET_WATCHES        = 21,   /* drop the caller's watches and transactions */
    XS_DIRECTORY_PART       = 22,   /* path, offset -> generation, names... */
    XS_GET_FEATURE          = 23,
    XS_SET_FEATURE          = 24,
    XS_GET_QUOTA            = 25,
    XS_SET_QUOTA            = 26,
    XS_TYPE_COUNT,                  /* one past the last type */
    XS_INVALID              = 0xffff  /* never a valid type */
};
/* Old name of XS_CONTROL. */
#define XS_DEBUG XS_CONTROL

/* The 16-byte header in front of every message. */
struct xsd_sockmsg {
    uint32_t type;              /*  0: enum xsd_sockmsg_type */
    uint32_t req_id;            /*  4: chosen by the requester, echoed */
    uint32_t tx_id;             /*  8: transaction, 0 = none */
    uint32_t len;               /* 12: payload bytes that follow */
};

typedef uint32_t XENSTORE_RING_IDX;

/* The store page (2080 of its 4096 bytes are defined). */
struct xenstore_domain_interface {
    char req[XENSTORE_RING_SIZE];   /*    0: guest -> server */
    char rsp[XENSTORE_RING_SIZE];   /* 1024: server -> guest */
    XENSTORE_RING_IDX req_cons;     /* 2048: server's */
    XENSTORE_RING_IDX req_prod;     /* 2052: guest's */
    XENSTORE_RING_IDX rsp_cons;     /* 2056: guest's */
    XENSTORE_RING_IDX rsp_prod;     /* 2060: server's */
    uint32_t server_features;       /* 2064: XENSTORE_SERVER_FEATURE_* */
    uint32_t connection;            /* 2068: XENSTORE_CONNECTED / _RECONNECT */
    uint32_t error;                 /* 2072: XENSTORE_ERROR_* */
    uint32_t evtchn_port;           /* 2076: the store port (set by some builders) */
};

/* An error name an XS_ERROR reply may carry, and its number. */
struct xsd_errors {
    int errnum;                 /* XEN_E* (Xen's values = Linux's) */
    const char *errstring;      /* "EINVAL", ... */
};

/* The names the protocol defines, in the protocol's order (a server
 * should send no other; a client maps an unknown one to EINVAL). */
static const struct xsd_errors xsd_errors[] __attribute__((unused)) = {
    { XEN_EINVAL,    "EINVAL" },
    { XEN_EACCES,    "EACCES" },
    { XEN_EEXIST,    "EEXIST" },
    { XEN_EISDIR,    "EISDIR" },
    { XEN_ENOENT,    "ENOENT" },
    { XEN_ENOMEM,    "ENOMEM" },
    { XEN_ENOSPC,    "ENOSPC" },
    { XEN_EIO,       "EIO" },
    { XEN_ENOTEMPTY, "ENOTEMPTY" },
    { XEN_ENOSYS,    "ENOSYS" },
    { XEN_EROFS,     "EROFS" },
    { XEN_EBUSY,     "EBUSY" },
    { XEN_EAGAIN,    "EAGAIN" },
    { XEN_EISCONN,   "EISCONN" },
    { XEN_E2BIG,     "E2BIG" },
    { XEN_EPERM,     "EPERM" },
};

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_IO_XS_WIRE_H */
