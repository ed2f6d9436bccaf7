/*
 * CGuestKit.h - everything the Swift layer imports from GuestKit's C side:
 * Xen's ABI headers and GuestKit's hypercall wrappers and runtime.
 */
#ifndef GUESTKIT_CGUESTKIT_H
#define GUESTKIT_CGUESTKIT_H

#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/sched.h>
#include <xen/version.h>
#include <xen/elfnote.h>
#include <guestkit/hypercall.h>
#include <guestkit/console.h>
#include <guestkit/guestkit.h>

#endif /* GUESTKIT_CGUESTKIT_H */
