/*
 * CGuestKit.h - everything the Swift layer imports from GuestKit's C side:
 * Xen's ABI headers and GuestKit's hypercall wrappers, runtime, exceptions,
 * event channels, clock, memory management, grant tables, the shared
 * ring (xen/io/ring.h's gk_ring_* helpers, for Ring.swift), chan, and
 * XenStore (xen/io/xs_wire.h, xen/io/xenbus.h, xen/io/console.h and
 * guestkit/xenbus.h, for XenStore.swift), the block front end
 * (xen/io/blkif.h, guestkit/blkfront.h, for BlockDevice.swift) and the
 * network front end with its IPv4 stack (xen/io/netif.h,
 * guestkit/netfront.h, guestkit/net.h, for NetworkInterface.swift and
 * IPv4.swift).
 */
#ifndef GUESTKIT_CGUESTKIT_H
#define GUESTKIT_CGUESTKIT_H

#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/sched.h>
#include <xen/version.h>
#include <xen/elfnote.h>
#include <xen/callback.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
#include <xen/memory.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/xs_wire.h>
#include <xen/io/xenbus.h>
#include <xen/io/console.h>
#include <xen/io/blkif.h>
#include <xen/io/netif.h>
#include <guestkit/hypercall.h>
#include <guestkit/console.h>
#include <guestkit/traps.h>
#include <guestkit/events.h>
#include <guestkit/time.h>
#include <guestkit/mm.h>
#include <guestkit/gnttab.h>
#include <guestkit/chan.h>
#include <guestkit/xenbus.h>
#include <guestkit/blkfront.h>
#include <guestkit/netfront.h>
#include <guestkit/net.h>
#include <guestkit/guestkit.h>

#endif /* GUESTKIT_CGUESTKIT_H */
