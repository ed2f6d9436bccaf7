/*
 * xen/grant_table.h - the grant_table_op hypercall (20):
 * grant_table_op(cmd, uop, count), and the grant table itself (version 1).
 *
 * A grant table is how a domain lets another one at one of its pages. The
 * granting domain owns a table of grant entries (frames the hypervisor
 * hands it with GNTTABOP_setup_table, mapped read-write in its own address
 * space); entry `ref` says "domain `domid` may map / copy frame `frame`,
 * read-only or not". The grantee names the page by (granter's domid, ref)
 * and asks the hypervisor to map it (GNTTABOP_map_grant_ref) or to copy
 * from / to it (GNTTABOP_copy). While a grant is mapped the hypervisor
 * keeps GTF_reading (and GTF_writing) set in the entry, so the granter
 * knows it cannot take the page back yet.
 *
 * grant_table_op takes an array of `count` structs of the command's type
 * (count <= 512 here); it returns 0 when the batch was processed (each
 * struct then carries its own GNTST_* status), -EFAULT if the array cannot
 * be read or written, -EINVAL for a bad count, -ENOSYS for an unknown or
 * unsupported command.
 *
 * GuestKit's rendering of Xen's public grant_table.h (version 1 entries
 * only): same numbers, names and layouts, our own text.
 */
#ifndef GUESTKIT_XEN_GRANT_TABLE_H
#define GUESTKIT_XEN_GRANT_TABLE_H

#include <xen/xen.h>

/* ---- commands ------------------------------------------------------------ */

#define GNTTABOP_map_grant_ref          0
#define GNTTABOP_unmap_grant_ref        1
#define GNTTABOP_setup_table            2
#define GNTTABOP_dump_table             3   /* debugging: print the table */
#define GNTTABOP_transfer               4   /* give a page away (PV only) */
#define GNTTABOP_copy                   5
#define GNTTABOP_query_size             6
#define GNTTABOP_unmap_and_replace      7
#define GNTTABOP_set_version            8
#define GNTTABOP_get_status_frames      9   /* version 2 */
#define GNTTABOP_get_version            10
#define GNTTABOP_swap_grant_ref         11
#define GNTTABOP_cache_flush            12  /* Arm */

/* ---- grant entry flags (grant_entry_v1.flags) ---------------------------- */

/* Bits 1:0, the entry's type. */
#define GTF_invalid                     0   /* no grant */
#define GTF_permit_access               1   /* domid may map / copy frame */
#define GTF_accept_transfer             2   /* domid may transfer a page into it */
#define GTF_transitive                  3   /* version 2 only */
#define GTF_type_mask                   3

/* Set by the granter. */
#define _GTF_readonly                   2
#define GTF_readonly                    (1 << _GTF_readonly)   /* no writable maps, no copy into */
/* Set and cleared by the hypervisor while the grant is in use. */
#define _GTF_reading                    3
#define GTF_reading                     (1 << _GTF_reading)    /* mapped (or being copied) */
#define _GTF_writing                    4
#define GTF_writing                     (1 << _GTF_writing)    /* mapped writable */
/* Cache attributes of the grantee's mapping (set by the granter). */
#define _GTF_PWT                        5
#define GTF_PWT                         (1 << _GTF_PWT)
#define _GTF_PCD                        6
#define GTF_PCD                         (1 << _GTF_PCD)
#define _GTF_PAT                        7
#define GTF_PAT                         (1 << _GTF_PAT)
/* Version 2: only part of the page is granted (copy only). */
#define _GTF_sub_page                   8
#define GTF_sub_page                    (1 << _GTF_sub_page)

/* GTF_accept_transfer entries reuse bits 2 and 3. */
#define _GTF_transfer_committed         2
#define GTF_transfer_committed          (1 << _GTF_transfer_committed)
#define _GTF_transfer_completed         3
#define GTF_transfer_completed          (1 << _GTF_transfer_completed)

/* ---- map flags (gnttab_map_grant_ref.flags) ------------------------------ */

#define _GNTMAP_device_map              0
#define GNTMAP_device_map               (1 << _GNTMAP_device_map)       /* for DMA: dev_bus_addr */
#define _GNTMAP_host_map                1
#define GNTMAP_host_map                 (1 << _GNTMAP_host_map)         /* into page tables at host_addr */
#define _GNTMAP_readonly                2
#define GNTMAP_readonly                 (1 << _GNTMAP_readonly)
#define _GNTMAP_application_map         3
#define GNTMAP_application_map          (1 << _GNTMAP_application_map)  /* user-accessible mapping */
#define _GNTMAP_contains_pte            4
#define GNTMAP_contains_pte             (1 << _GNTMAP_contains_pte)     /* host_addr is a PTE's machine address */
/* Bits 16 and up are the guest's own (Xen ignores them). */
#define _GNTMAP_guest_avail0            16
#define GNTMAP_guest_avail_mask         0xffff0000  /* bits 16..31 */

/* ---- copy flags (gnttab_copy.flags) -------------------------------------- */

#define _GNTCOPY_source_gref            0
#define GNTCOPY_source_gref             (1 << _GNTCOPY_source_gref)  /* source is (domid, ref) */
#define _GNTCOPY_dest_gref              1
#define GNTCOPY_dest_gref               (1 << _GNTCOPY_dest_gref)    /* dest is (domid, ref) */

/* ---- per-operation status codes (the `status` fields) -------------------- */

#define GNTST_okay                      (0)
#define GNTST_general_error             (-1)    /* not granted to you, read-only, page unusable, ... */
#define GNTST_bad_domain                (-2)    /* no such domain */
#define GNTST_bad_gntref                (-3)    /* ref beyond the granter's table */
#define GNTST_bad_handle                (-4)    /* no such map handle */
#define GNTST_bad_virt_addr             (-5)
#define GNTST_bad_dev_addr              (-6)
#define GNTST_no_device_space           (-7)    /* out of map handles */
#define GNTST_permission_denied         (-8)    /* e.g. copy of another domain's raw frame */
#define GNTST_bad_page                  (-9)
#define GNTST_bad_copy_arg              (-10)   /* offset + len beyond the page */
#define GNTST_address_too_big           (-11)
#define GNTST_eagain                    (-12)   /* try again (paged out) */
#define GNTST_no_space                  (-13)   /* setup_table/transfer: out of space */

/* Refs 0..7 belong to the toolstack (0: console ring, 1: xenstore ring);
 * a guest's own grants start at GNTTAB_NR_RESERVED_ENTRIES. */
#define GNTTAB_NR_RESERVED_ENTRIES      8
#define GNTTAB_RESERVED_CONSOLE         0
#define GNTTAB_RESERVED_XENSTORE        1

#ifndef __ASSEMBLY__

typedef uint32_t grant_ref_t;       /* index into a granter's table */
typedef uint32_t grant_handle_t;    /* a grantee's map, as map_grant_ref named it */

/*
 * struct grant_entry_v1 (8 bytes; 512 per 4 KiB table frame). The granter
 * publishes an entry by writing domid and frame, then (after a write
 * barrier) flags; it revokes it by swapping flags to 0 with cmpxchg while
 * neither GTF_reading nor GTF_writing is set.
 */
struct grant_entry_v1 {
    uint16_t flags;             /* 0: GTF_* */
    domid_t domid;              /* 2: the grantee */
    uint32_t frame;             /* 4: the page (an MFN for a PV granter) */
};
typedef struct grant_entry_v1 grant_entry_v1_t;

/*
 * GNTTABOP_map_grant_ref: map granter <dom>'s grant <ref>. With
 * GNTMAP_host_map and a PV caller, host_addr is a virtual address in the
 * caller's current page tables (its L1 must exist); the hypervisor writes
 * that L1 entry itself. OUT: status, a handle for the unmap, and
 * dev_bus_addr (the frame's machine address).
 */
struct gnttab_map_grant_ref {
    uint64_t host_addr;         /*  0: IN */
    uint32_t flags;             /*  8: IN GNTMAP_* */
    grant_ref_t ref;            /* 12: IN */
    domid_t dom;                /* 16: IN the granter */
    int16_t status;             /* 18: OUT GNTST_* */
    grant_handle_t handle;      /* 20: OUT */
    uint64_t dev_bus_addr;      /* 24: OUT */
};
typedef struct gnttab_map_grant_ref gnttab_map_grant_ref_t;
DEFINE_XEN_GUEST_HANDLE(gnttab_map_grant_ref_t);

/* GNTTABOP_unmap_grant_ref: undo the map `handle` at host_addr. */
struct gnttab_unmap_grant_ref {
    uint64_t host_addr;         /*  0: IN */
    uint64_t dev_bus_addr;      /*  8: IN */
    grant_handle_t handle;      /* 16: IN */
    int16_t status;             /* 20: OUT GNTST_* */
};
typedef struct gnttab_unmap_grant_ref gnttab_unmap_grant_ref_t;
DEFINE_XEN_GUEST_HANDLE(gnttab_unmap_grant_ref_t);

/*
 * GNTTABOP_setup_table: grow <dom>'s table (DOMID_SELF) to nr_frames
 * frames and list their frame numbers (MFNs for PV) in frame_list.
 */
struct gnttab_setup_table {
    domid_t dom;                /*  0: IN */
    uint32_t nr_frames;         /*  4: IN */
    int16_t status;             /*  8: OUT GNTST_* */
    XEN_GUEST_HANDLE(xen_pfn_t) frame_list;   /* 16: OUT nr_frames entries */
};
typedef struct gnttab_setup_table gnttab_setup_table_t;
DEFINE_XEN_GUEST_HANDLE(gnttab_setup_table_t);

/* GNTTABOP_dump_table: print <dom>'s table on the hypervisor console. */
struct gnttab_dump_table {
    domid_t dom;                /*  0: IN */
    int16_t status;             /*  2: OUT */
};
typedef struct gnttab_dump_table gnttab_dump_table_t;

/* GNTTABOP_transfer: give page `mfn` to <domid> through its
 * GTF_accept_transfer entry `ref`. */
struct gnttab_transfer {
    xen_pfn_t mfn;              /*  0: IN */
    domid_t domid;              /*  8: IN */
    grant_ref_t ref;            /* 12: IN */
    int16_t status;             /* 16: OUT */
};
typedef struct gnttab_transfer gnttab_transfer_t;

/*
 * GNTTABOP_copy: copy `len` bytes from source to dest without mapping
 * either. A side with its GNTCOPY_*_gref flag is (granter domid, ref);
 * otherwise it is (DOMID_SELF or the caller's id, a frame of the
 * caller's: gmfn is an MFN for PV). offset + len must stay in the page.
 */
struct gnttab_copy_ptr {
    union {
        grant_ref_t ref;        /* 0 */
        xen_pfn_t gmfn;         /* 0 */
    } u;
    domid_t domid;              /* 8 */
    uint16_t offset;            /* 10 */
};

struct gnttab_copy {
    struct gnttab_copy_ptr source;  /*  0: IN */
    struct gnttab_copy_ptr dest;    /* 16: IN */
    uint16_t len;               /* 32: IN bytes */
    uint16_t flags;             /* 34: IN GNTCOPY_* */
    int16_t status;             /* 36: OUT GNTST_* */
};
typedef struct gnttab_copy gnttab_copy_t;
DEFINE_XEN_GUEST_HANDLE(gnttab_copy_t);

/* GNTTABOP_query_size: <dom>'s table size now and at most, in frames. */
struct gnttab_query_size {
    domid_t dom;                /*  0: IN */
    uint32_t nr_frames;         /*  4: OUT */
    uint32_t max_nr_frames;     /*  8: OUT */
    int16_t status;             /* 12: OUT GNTST_* */
};
typedef struct gnttab_query_size gnttab_query_size_t;
DEFINE_XEN_GUEST_HANDLE(gnttab_query_size_t);

/* GNTTABOP_unmap_and_replace: unmap the grant at host_addr, moving the
 * mapping at new_addr there. */
struct gnttab_unmap_and_replace {
    uint64_t host_addr;         /*  0: IN */
    uint64_t new_addr;          /*  8: IN */
    grant_handle_t handle;      /* 16: IN */
    int16_t status;             /* 20: OUT */
};
typedef struct gnttab_unmap_and_replace gnttab_unmap_and_replace_t;

/* GNTTABOP_set_version: the entry format (1, or 2 where supported). */
struct gnttab_set_version {
    uint32_t version;           /*  0: IN (OUT: the version in force) */
};
typedef struct gnttab_set_version gnttab_set_version_t;

/* GNTTABOP_get_status_frames (version 2): the status frames' numbers. */
struct gnttab_get_status_frames {
    uint32_t nr_frames;         /*  0: IN */
    domid_t dom;                /*  4: IN */
    int16_t status;             /*  6: OUT */
    XEN_GUEST_HANDLE(uint64_t) frame_list;   /* 8: OUT */
};
typedef struct gnttab_get_status_frames gnttab_get_status_frames_t;

/* GNTTABOP_get_version: <dom>'s entry format. */
struct gnttab_get_version {
    domid_t dom;                /*  0: IN */
    uint16_t pad;               /*  2 */
    uint32_t version;           /*  4: OUT */
};
typedef struct gnttab_get_version gnttab_get_version_t;

/* GNTTABOP_swap_grant_ref: exchange two of the caller's entries. */
struct gnttab_swap_grant_ref {
    grant_ref_t ref_a;          /*  0: IN */
    grant_ref_t ref_b;          /*  4: IN */
    int16_t status;             /*  8: OUT */
};
typedef struct gnttab_swap_grant_ref gnttab_swap_grant_ref_t;

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_GRANT_TABLE_H */
