/*
 * xen/io/console.h - the PV console ring: one page of the guest's own RAM
 * (start_info.console.domU.mfn) with a byte ring each way, and an
 * interdomain event channel to the console back end in Dom0
 * (start_info.console.domU.evtchn).
 *
 * Output: the guest copies bytes into out[], publishes out_prod (write
 * barrier first) and sends an event; the back end reads them, advances
 * out_cons and notifies. Input: the back end fills in[] and in_prod and
 * notifies; the guest reads, advances in_cons and notifies. Indices are
 * free-running u32 byte counts; byte i of a ring sits at
 * [i & (size of that ring - 1)] (MASK_XENCONS_IDX).
 *
 * GuestKit's rendering of Xen's public io/console.h: same names and
 * layout, our own text. C only below the constants.
 */
#ifndef GUESTKIT_XEN_IO_CONSOLE_H
#define GUESTKIT_XEN_IO_CONSOLE_H

/* xencons_interface.connection */
#define XENCONSOLE_CONNECTED        0   /* usable (a zeroed page is connected) */
#define XENCONSOLE_DISCONNECTED     1

#ifndef __ASSEMBLY__

#include <stdint.h>

typedef uint32_t XENCONS_RING_IDX;

/* The slot of free-running index `idx` in `ring` (an array member). */
#define MASK_XENCONS_IDX(idx, ring) ((idx) & (sizeof(ring) - 1))

struct xencons_interface {
    char in[1024];              /*    0: back end -> guest */
    char out[2048];             /* 1024: guest -> back end */
    XENCONS_RING_IDX in_cons;   /* 3072: guest's */
    XENCONS_RING_IDX in_prod;   /* 3076: back end's */
    XENCONS_RING_IDX out_cons;  /* 3080: back end's */
    XENCONS_RING_IDX out_prod;  /* 3084: guest's */
    uint8_t connection;         /* 3088: XENCONSOLE_* (newer back ends) */
};

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_IO_CONSOLE_H */
