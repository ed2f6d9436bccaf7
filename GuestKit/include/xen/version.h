/*
 * xen/version.h - the xen_version hypercall (17): xen_version(cmd, arg).
 *
 * GuestKit's rendering of Xen's public version.h: same numbers, names and
 * layouts, our own text. Every sub-op returns 0 on success (or the value
 * named below), -EFAULT if arg cannot be written, -ENOSYS for an unknown cmd.
 */
#ifndef GUESTKIT_XEN_VERSION_H
#define GUESTKIT_XEN_VERSION_H

#include <xen/xen.h>

/* XENVER_version: arg == NULL. Returns (major << 16) | minor. */
#define XENVER_version              0

/* XENVER_extraversion: arg = xen_extraversion_t (OUT, NUL-terminated). */
#define XENVER_extraversion         1
#define XEN_EXTRAVERSION_LEN        16

/* XENVER_compile_info: arg = struct xen_compile_info (OUT). */
#define XENVER_compile_info         2

/* XENVER_capabilities: arg = xen_capabilities_info_t (OUT), a space
 * separated list of guest types, e.g. "xen-3.0-x86_64". */
#define XENVER_capabilities         3
#define XEN_CAPABILITIES_INFO_LEN   1024

/* XENVER_changeset: arg = xen_changeset_info_t (OUT). */
#define XENVER_changeset            4
#define XEN_CHANGESET_INFO_LEN      64

/* XENVER_platform_parameters: arg = struct xen_platform_parameters (OUT).
 * For a 64-bit PV guest virt_start is the start of the hypervisor hole,
 * HYPERVISOR_VIRT_START (0xffff800000000000). */
#define XENVER_platform_parameters  5

/* XENVER_get_features: arg = struct xen_feature_info (IN submap_idx, OUT
 * submap). Only submap 0 exists; another index -> -EINVAL. */
#define XENVER_get_features         6
#define XENFEAT_NR_SUBMAPS          1

/* XENVER_pagesize: arg == NULL. Returns the page size (4096). */
#define XENVER_pagesize             7

/* XENVER_guest_handle: arg = xen_domain_handle_t (OUT, 16 bytes). */
#define XENVER_guest_handle         8

/* XENVER_commandline: arg = xen_commandline_t (OUT); privileged. */
#define XENVER_commandline          9
#define XEN_COMMANDLINE_LEN         1024

#ifndef __ASSEMBLY__

typedef char xen_extraversion_t[XEN_EXTRAVERSION_LEN];

struct xen_compile_info {
    char compiler[64];
    char compile_by[16];
    char compile_domain[32];
    char compile_date[32];
};
typedef struct xen_compile_info xen_compile_info_t;

typedef char xen_capabilities_info_t[XEN_CAPABILITIES_INFO_LEN];

typedef char xen_changeset_info_t[XEN_CHANGESET_INFO_LEN];

struct xen_platform_parameters {
    xen_ulong_t virt_start;
};
typedef struct xen_platform_parameters xen_platform_parameters_t;

struct xen_feature_info {
    unsigned int submap_idx;    /* IN: which 32-bit submap */
    uint32_t submap;            /* OUT: XENFEAT_* bits of that submap */
};
typedef struct xen_feature_info xen_feature_info_t;

typedef char xen_commandline_t[XEN_COMMANDLINE_LEN];

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_VERSION_H */
