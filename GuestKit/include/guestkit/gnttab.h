/*
 * guestkit/gnttab.h - grant tables (version 1): letting another domain at
 * pages of this one, and using pages other domains granted.
 *
 * Granting. gk_gnttab_init() asks the hypervisor for the table
 * (GNTTABOP_query_size, then GNTTABOP_setup_table for the frames it has)
 * and maps its frames read-write at GK_GNTTAB_VA. gk_gnttab_grant() takes
 * a free ref (8 and up: 0-7 are the toolstack's) and publishes an entry
 * the Xen way (domid and frame, a write barrier, then flags); when the
 * table is full it grows it one frame at a time with setup_table, up to
 * the maximum query_size reported. gk_gnttab_end() revokes a grant: it
 * fails with -XEN_EBUSY while the grantee has the page mapped
 * (GTF_reading / GTF_writing set by the hypervisor), else swaps the flags
 * to 0 with cmpxchg and frees the ref. A page must stay this domain's
 * (not freed, not ballooned out) until its grant has ended.
 *
 * Using grants. gk_gnttab_map() maps grant `ref` of domain `dom` at a
 * virtual address with GNTMAP_host_map: the L1 table for that address is
 * made first (gk_pt_populate), then the hypervisor writes the entry. Such
 * an entry must only be removed with gk_gnttab_unmap() (overwriting it
 * with mmu_update / update_va_mapping / gk_unmap crashes the domain, as on
 * Xen). gk_gnttab_copy() copies without mapping (GNTTABOP_copy).
 *
 * Results. Functions returning int give 0 on success, or: a GNTST_* code
 * (-1 .. -13) from the operation's status field, or -XEN_Exxx when the
 * hypercall itself failed (grant_table_op only fails with -EFAULT -14,
 * -EINVAL -22 and -ENOSYS -38, outside GNTST's range) or GuestKit refused
 * (the table is full: -XEN_ENOSPC; a ref not held: -XEN_EINVAL).
 *
 * Several vCPUs: the ref allocator and table growth take a spinlock; the
 * map helpers use mm.h, which is not SMP-safe (the caller serialises).
 */
#ifndef GUESTKIT_GNTTAB_H
#define GUESTKIT_GNTTAB_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where this domain's own table frames are mapped (up to 64 frames). */
#define GK_GNTTAB_VA                0x20000000UL
/* Frames GuestKit will grow its table to at most (Xen's default maximum). */
#define GK_GNTTAB_MAX_FRAMES        64
#define GK_GNTTAB_ENTRIES_PER_FRAME (4096 / sizeof(grant_entry_v1_t))
#define GK_GNTTAB_MAX_REFS          (GK_GNTTAB_MAX_FRAMES * 512)
/* grant_table_op structs per hypercall (the hypervisor takes at most 512). */
#define GK_GNTTAB_BATCH             512

/* ---- this domain's table (granting) ------------------------------------------ */

/* Set the table up (query_size, setup_table, map the frames). Idempotent;
 * every granting function calls it. 0 or -XEN_Exxx (-XEN_EIO when the
 * hypervisor answered with a bad status). */
int gk_gnttab_init(void);
/* Frames the table has now / may grow to. */
unsigned int gk_gnttab_nr_frames(void);
unsigned int gk_gnttab_max_frames(void);
/* Machine frame of table frame i (GK_INVALID_MFN beyond the table). */
unsigned long gk_gnttab_frame(unsigned int i);

/* Grant `domid` access to machine frame `mfn` (read-only if `readonly`):
 * the new ref (>= GNTTAB_NR_RESERVED_ENTRIES), or -XEN_ENOSPC. */
int gk_gnttab_grant(domid_t domid, unsigned long mfn, int readonly);
/* The same at a particular ref (reserved ones excluded): -XEN_EBUSY if
 * that ref is taken, -XEN_EINVAL if beyond the largest table. */
int gk_gnttab_grant_at(grant_ref_t ref, domid_t domid, unsigned long mfn, int readonly);
/* Take a particular ref without granting anything yet (flags stay 0, so
 * a grantee trying it gets GNTST_general_error); publish later with
 * gk_gnttab_set(). 0, -XEN_EBUSY or -XEN_EINVAL. */
int gk_gnttab_claim(grant_ref_t ref);
/* Publish an entry on a ref this domain holds (from gk_gnttab_claim, or
 * one whose grant has no flags); domid and frame first, then flags. */
int gk_gnttab_set(grant_ref_t ref, domid_t domid, unsigned long mfn, int readonly);
/* Revoke the grant and free the ref: 0, or -XEN_EBUSY while it is mapped
 * (the grant stays), or -XEN_EINVAL for a ref not held. */
int gk_gnttab_end(grant_ref_t ref);
/* End every grant in refs[0..n) that is not 0, zeroing each ref that
 * ended; while some are still mapped, try again every millisecond for up
 * to `patience_ns` (0: one pass). Returns how many are still granted (a
 * front end tearing down leaves those pages alone: the back end may still
 * use them). */
unsigned int gk_gnttab_end_all(grant_ref_t *refs, unsigned int n, uint64_t patience_ns);
/* A front end's teardown of the pages it shared: gk_gnttab_end_all on
 * refs[0..nrefs), then gk_free_pfn of every pfns[i] (i < npages) whose
 * ref (if i < nrefs) ended. 0, or -XEN_EBUSY if some grants stayed (their
 * pages are never reused: the back end may still write them). */
int gk_gnttab_end_and_free(grant_ref_t *refs, unsigned int nrefs, const unsigned long *pfns, unsigned int npages,
                           uint64_t patience_ns);
/* The entry's flags now (GTF_*), 0 beyond the table. */
uint16_t gk_gnttab_flags(grant_ref_t ref);

/* ---- other domains' grants (using) -------------------------------------------- */

/* Map grant `ref` of `dom` at `va` (page-aligned), read-only if
 * `readonly`; *handle receives the map's handle. 0, GNTST_* or -XEN_Exxx. */
int gk_gnttab_map(domid_t dom, grant_ref_t ref, unsigned long va, int readonly, grant_handle_t *handle);
/* Undo a map: the entry at `va` is cleared. 0, GNTST_* or -XEN_Exxx. */
int gk_gnttab_unmap(unsigned long va, grant_handle_t handle);

/* Batches: `n` ops (any number; issued GK_GNTTAB_BATCH at a time). Each
 * op's status says how it went; the result is 0, or the first
 * hypercall's -XEN_Exxx (the ops after it were not issued). map_batch
 * makes the L1 tables for every GNTMAP_host_map op's host_addr first. */
int gk_gnttab_map_batch(struct gnttab_map_grant_ref *ops, unsigned int n);
int gk_gnttab_unmap_batch(struct gnttab_unmap_grant_ref *ops, unsigned int n);
int gk_gnttab_copy(struct gnttab_copy *ops, unsigned int n);

/* Xen's name of a GNTST_* code ("GNTST_bad_gntref"), "?" for others. */
const char *gk_gnttab_status_name(int status);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_GNTTAB_H */
