/*
 * xen/io/xenbus.h - the states a split device's front and back end
 * publish in their XenStore `state` nodes (decimal), and step through to
 * connect: both start Initialising; the back end goes InitWait once it
 * can take the front end's details; the front end writes its ring
 * references and event channel, then Initialised (or straight
 * Connected); the back end connects, then Connected; Closing and Closed
 * take the device down.
 *
 * GuestKit's rendering of Xen's public io/xenbus.h: same names and
 * numbers, our own text. C only (an enum).
 */
#ifndef GUESTKIT_XEN_IO_XENBUS_H
#define GUESTKIT_XEN_IO_XENBUS_H

#ifndef __ASSEMBLY__

enum xenbus_state {
    XenbusStateUnknown      = 0,    /* no state node, or not understood */
    XenbusStateInitialising = 1,    /* setting up */
    XenbusStateInitWait     = 2,    /* back end: ready for the front end's details */
    XenbusStateInitialised  = 3,    /* front end: details published */
    XenbusStateConnected    = 4,    /* in use */
    XenbusStateClosing      = 5,    /* going down (the other end should close) */
    XenbusStateClosed       = 6,    /* down */
    XenbusStateReconfiguring = 7,   /* renegotiating (e.g. a back end's queues) */
    XenbusStateReconfigured = 8     /* renegotiated */
};
typedef enum xenbus_state XenbusState;

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_IO_XENBUS_H */
