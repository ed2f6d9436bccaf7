/*
 * xen/memory.h - the memory_op hypercall (12): memory_op(cmd, arg).
 * A domain's memory reservation (giving pages back, getting them again),
 * what it holds, its memory map, and where special pages appear in its
 * pseudo-physical space.
 *
 * GuestKit's rendering of Xen's public memory.h: same numbers, names and
 * layouts, our own text. The op is `cmd & MEMOP_CMD_MASK`; the bits above
 * are the hypervisor's own continuation state (a guest passes 0 there).
 *
 * For a PV guest (not translated) the frame lists hold MACHINE frames:
 * decrease_reservation takes the MFNs to give back; populate_physmap takes
 * the GPFNs (PFNs) to fill and writes the new MFN of each back in place
 * (and sets the M2P entry of each); increase_reservation only writes MFNs,
 * the guest picks their PFNs (and may record them with MMU_MACHPHYS_UPDATE).
 */
#ifndef GUESTKIT_XEN_MEMORY_H
#define GUESTKIT_XEN_MEMORY_H

#include <xen/xen.h>

#define MEMOP_EXTENT_SHIFT              6   /* continuation state starts here */
#define MEMOP_CMD_MASK                  ((1 << MEMOP_EXTENT_SHIFT) - 1)

/*
 * Reservation changes, arg = struct xen_memory_reservation *. Each returns
 * the number of extents done (fewer than nr_extents when it stopped early),
 * or -XEN_Exxx when nothing could be started (bad domain, unreadable
 * struct).
 */
#define XENMEM_increase_reservation     0   /* OUT: MFN of each new extent */
#define XENMEM_decrease_reservation     1   /* IN: frames to give back */
#define XENMEM_populate_physmap         6   /* IN: PFNs; OUT: their new MFNs */

/* mem_flags of struct xen_memory_reservation. */
#define XENMEMF_address_bits(x)         (x)         /* frames below 2^x (0 = any) */
#define XENMEMF_get_address_bits(x)     ((x) & 0xffu)
#define XENMEMF_node(x)                 (((x) + 1) << 8)   /* NUMA node x */
#define XENMEMF_get_node(x)             ((((x) >> 8) - 1) & 0xffu)
#define XENMEMF_populate_on_demand      (1 << 16)
#define XENMEMF_exact_node_request      (1 << 17)
#define XENMEMF_exact_node(n)           (XENMEMF_node(n) | XENMEMF_exact_node_request)
#define XENMEMF_vnode                   (1 << 18)

/* XENMEM_maximum_ram_page: the highest machine frame number of RAM (arg
 * NULL; never fails). */
#define XENMEM_maximum_ram_page         2

/* Pages the domain holds now / may hold at most. arg = domid_t *
 * (DOMID_SELF, or another domain with privilege); returns the count. */
#define XENMEM_current_reservation      3
#define XENMEM_maximum_reservation      4

/* MFNs of the 2 MiB extents holding the M2P table (arg = struct
 * xen_machphys_mfn_list *). */
#define XENMEM_machphys_mfn_list        5

/* Make a special page appear at a PFN (arg = struct xen_add_to_physmap *). */
#define XENMEM_add_to_physmap           7

/* 8 was XENMEM_translate_gpfn_list, withdrawn. */

/* The domain's pseudo-physical memory map, e820 style (arg = struct
 * xen_memory_map *): -ENOSYS when none was set for it. */
#define XENMEM_memory_map               9

/* The host's machine memory map (privileged; same struct). */
#define XENMEM_machine_memory_map       10

/* Trade pages for others atomically (arg = struct xen_memory_exchange *). */
#define XENMEM_exchange                 11

/* Where the read-only M2P is mapped (arg = struct xen_machphys_mapping *);
 * PV only. */
#define XENMEM_machphys_mapping         12

/* Set another domain's memory map (toolstack). */
#define XENMEM_set_memory_map           13

/* The highest PFN the domain has used (arg = domid_t *). */
#define XENMEM_maximum_gpfn             14

/* Take the page at a PFN out of the domain's physical space (arg = struct
 * xen_remove_from_physmap *). */
#define XENMEM_remove_from_physmap      15

#define XENMEM_set_pod_target           16
#define XENMEM_get_pod_target           17
#define XENMEM_get_sharing_freed_pages  18
#define XENMEM_get_sharing_shared_pages 19
#define XENMEM_paging_op                20
#define XENMEM_access_op                21
#define XENMEM_sharing_op               22
#define XENMEM_add_to_physmap_batch     23
#define XENMEM_claim_pages              24
#define XENMEM_machphys_compat_mfn_list 25
#define XENMEM_get_vnumainfo            26
#define XENMEM_reserved_device_memory_map 27
#define XENMEM_acquire_resource         28

/* Spaces for add_to_physmap(_batch): what `idx` indexes. */
#define XENMAPSPACE_shared_info         0   /* the shared_info page (idx 0) */
#define XENMAPSPACE_grant_table         1   /* grant-table frame idx */
#define XENMAPSPACE_gmfn                2   /* move the page at PFN idx */
#define XENMAPSPACE_gmfn_range          3   /* `size` pages from PFN idx */
#define XENMAPSPACE_gmfn_foreign        4   /* another domain's page (batch only) */
#define XENMAPSPACE_dev_mmio            5   /* device MMIO (Arm) */

/* idx | XENMAPIDX_grant_table_status: a grant-table v2 status frame. */
#define XENMAPIDX_grant_table_status    0x80000000

/* e820 entry types in a memory map. */
#define E820_RAM                        1
#define E820_RESERVED                   2
#define E820_ACPI                       3
#define E820_NVS                        4
#define E820_UNUSABLE                   5

#ifndef __ASSEMBLY__

/*
 * struct xen_memory_reservation (32 bytes): extent_start lists nr_extents
 * frames, each the base of an extent of 2^extent_order pages. What the
 * list holds in and out depends on the op (above).
 */
struct xen_memory_reservation {
    XEN_GUEST_HANDLE(xen_pfn_t) extent_start;   /*  0 */
    xen_ulong_t nr_extents;                     /*  8 */
    unsigned int extent_order;                  /* 16 */
    unsigned int mem_flags;                     /* 20: XENMEMF_* */
    domid_t domid;                              /* 24: DOMID_SELF for one's own */
};
typedef struct xen_memory_reservation xen_memory_reservation_t;
DEFINE_XEN_GUEST_HANDLE(xen_memory_reservation_t);

/* XENMEM_exchange: give back `in`, receive `out` (same total size);
 * nr_exchanged (OUT, set it to 0) counts the input extents done. */
struct xen_memory_exchange {
    struct xen_memory_reservation in;           /*  0 */
    struct xen_memory_reservation out;          /* 32 */
    xen_ulong_t nr_exchanged;                   /* 64 */
};
typedef struct xen_memory_exchange xen_memory_exchange_t;
DEFINE_XEN_GUEST_HANDLE(xen_memory_exchange_t);

/* XENMEM_machphys_mfn_list. */
struct xen_machphys_mfn_list {
    unsigned int max_extents;                   /*  0: room in extent_start */
    XEN_GUEST_HANDLE(xen_pfn_t) extent_start;   /*  8 */
    unsigned int nr_extents;                    /* 16: OUT: entries written */
};
typedef struct xen_machphys_mfn_list xen_machphys_mfn_list_t;
DEFINE_XEN_GUEST_HANDLE(xen_machphys_mfn_list_t);

/* XENMEM_machphys_mapping: the M2P's virtual range and the largest MFN it
 * can translate. */
struct xen_machphys_mapping {
    xen_ulong_t v_start, v_end;                 /*  0, 8 */
    xen_ulong_t max_mfn;                        /* 16 */
};
typedef struct xen_machphys_mapping xen_machphys_mapping_t;
DEFINE_XEN_GUEST_HANDLE(xen_machphys_mapping_t);

/* XENMEM_add_to_physmap (24 bytes): the page `idx` of `space` appears at
 * PFN `gpfn`; whatever was there is released. */
struct xen_add_to_physmap {
    domid_t domid;                              /*  0 */
    uint16_t size;                              /*  2: pages, gmfn_range only */
    unsigned int space;                         /*  4: XENMAPSPACE_* */
    xen_ulong_t idx;                            /*  8 */
    xen_pfn_t gpfn;                             /* 16 */
};
typedef struct xen_add_to_physmap xen_add_to_physmap_t;
DEFINE_XEN_GUEST_HANDLE(xen_add_to_physmap_t);

/* XENMEM_add_to_physmap_batch (32 bytes): `size` pages at once, an error
 * per page in errs. */
struct xen_add_to_physmap_batch {
    domid_t domid;                              /*  0 */
    uint16_t space;                             /*  2: XENMAPSPACE_* */
    uint16_t size;                              /*  4 */
    domid_t foreign_domid;                      /*  6: gmfn_foreign only */
    XEN_GUEST_HANDLE(xen_ulong_t) idxs;         /*  8 */
    XEN_GUEST_HANDLE(xen_pfn_t) gpfns;          /* 16 */
    XEN_GUEST_HANDLE(int) errs;                 /* 24: OUT */
};
typedef struct xen_add_to_physmap_batch xen_add_to_physmap_batch_t;
DEFINE_XEN_GUEST_HANDLE(xen_add_to_physmap_batch_t);

/* XENMEM_remove_from_physmap (16 bytes). */
struct xen_remove_from_physmap {
    domid_t domid;                              /*  0 */
    xen_pfn_t gpfn;                             /*  8 */
};
typedef struct xen_remove_from_physmap xen_remove_from_physmap_t;
DEFINE_XEN_GUEST_HANDLE(xen_remove_from_physmap_t);

/*
 * XENMEM_memory_map / machine_memory_map (16 bytes): nr_entries is the
 * room in buffer on the way in and the number of entries stored on the
 * way out; buffer receives struct e820entry records.
 */
struct xen_memory_map {
    unsigned int nr_entries;                    /*  0 */
    XEN_GUEST_HANDLE(void) buffer;              /*  8 */
};
typedef struct xen_memory_map xen_memory_map_t;
DEFINE_XEN_GUEST_HANDLE(xen_memory_map_t);

/* One memory-map entry as the BIOS E820 call returns it: 20 bytes, packed. */
struct e820entry {
    uint64_t addr;                              /*  0 */
    uint64_t size;                              /*  8 */
    uint32_t type;                              /* 16: E820_* */
} __attribute__((packed));

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_MEMORY_H */
