/*
 * guestkit/mm.h - memory management for a 64-bit PV guest: frames (p2m and
 * M2P), a frame allocator, the page tables (through mmu_update / mmuext_op,
 * with Xen's validation rules), extra address spaces, and a balloon.
 *
 * Frames. A PV guest is not translated: its page tables hold MACHINE frame
 * numbers (MFNs). PFN p of the domain is frame p2m[p], where p2m is the
 * array at start_info.mfn_list (GK_INVALID_MFN for a PFN given back); the
 * reverse is the read-only M2P table the hypervisor maps at
 * MACH2PHYS_VIRT_START (one u64 PFN per MFN). The domain builder maps PFNs
 * [0, mapped) 1:1 at GUESTKIT_VIRT_BASE + pfn * 4096 ("the bootstrap
 * mapping"): the image, p2m list, start_info, the bootstrap page tables
 * (read-only), the boot stack, then padding up to a 4 MiB boundary at
 * least 512 KiB past the stack. PFNs from `mapped` to nr_pages exist but
 * have no mapping until the guest makes one.
 *
 * Allocator. Hands out the PFNs no one uses: everything after the boot
 * stack, minus a few pages of its own bitmap, lowest first. GK_ALLOC_MAPPED
 * asks for one inside the bootstrap mapping (it has a virtual address:
 * gk_pfn_to_virt); otherwise PFNs past the mapping come first, and the
 * last 32 mapped pages are kept for page tables.
 *
 * Page tables. gk_map & co. walk the live tables from the current L4 (each
 * table is read through its bootstrap-mapping address, found with the M2P)
 * and create missing L3/L2/L1 tables Xen's way: take a mapped page, zero
 * it, make its mapping read-only, then link it into its parent with
 * mmu_update, which validates it. Page-table pages therefore always come
 * from the bootstrap mapping. Single-page calls use update_va_mapping
 * (which also flushes that address); the _range calls queue mmu_update
 * requests (issued every GK_MMU_BATCH entries) and end with one TLB flush.
 *
 * Address spaces. gk_new_address_space() makes a new L4 sharing the
 * kernel's (bootstrap L4's) entries at that moment and pins it;
 * gk_switch_address_space() loads an L4 (MMUEXT_NEW_BASEPTR). gk_map and
 * friends work on whichever L4 is loaded. New L4 slots filled later exist
 * only in the L4 that was loaded at the time.
 *
 * Balloon. gk_balloon_out(n) gives n free pages back to the hypervisor
 * (their mappings in the bootstrap region removed first, then
 * XENMEM_decrease_reservation with their MFNs; their p2m entries become
 * GK_INVALID_MFN). gk_balloon_in(n) gets pages back for such PFNs with
 * XENMEM_populate_physmap (or increase_reservation), records the new MFNs
 * in the p2m (and in the M2P with MMU_MACHPHYS_UPDATE if the hypervisor
 * did not), restores their bootstrap mappings, and frees them.
 *
 * Errors are -XEN_Exxx. Single vCPU, no locking; not for use from event or
 * trap handlers.
 */
#ifndef GUESTKIT_MM_H
#define GUESTKIT_MM_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/memory.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GK_PAGE_SHIFT       12
#define GK_PAGE_SIZE        4096UL

/* x86-64 page-table entry bits. */
#define GK_PTE_PRESENT      (1UL << 0)
#define GK_PTE_RW           (1UL << 1)
#define GK_PTE_USER         (1UL << 2)
#define GK_PTE_PWT          (1UL << 3)
#define GK_PTE_PCD          (1UL << 4)
#define GK_PTE_ACCESSED     (1UL << 5)
#define GK_PTE_DIRTY        (1UL << 6)
#define GK_PTE_PSE          (1UL << 7)   /* L2/L3: large page (Xen refuses it) */
#define GK_PTE_PAT          (1UL << 7)   /* L1: PAT index bit (refused without I/O privilege) */
#define GK_PTE_GLOBAL       (1UL << 8)
#define GK_PTE_NX           (1UL << 63)
#define GK_PTE_ADDR_MASK    0x000ffffffffff000UL

/* Common leaf flags: read-write data, read-only data. (_PAGE_USER is set
 * because the guest kernel runs at CPL 3; Xen would add it anyway.) */
#define GK_PAGE_RW          (GK_PTE_PRESENT | GK_PTE_RW | GK_PTE_USER | GK_PTE_ACCESSED | GK_PTE_DIRTY)
#define GK_PAGE_RO          (GK_PTE_PRESENT | GK_PTE_USER | GK_PTE_ACCESSED)
/* Flags of an entry pointing at a lower-level table (as the builder writes). */
#define GK_PAGE_TABLE       (GK_PTE_PRESENT | GK_PTE_RW | GK_PTE_USER | GK_PTE_ACCESSED | GK_PTE_DIRTY)

#define GK_INVALID_MFN      (~0UL)
#define GK_INVALID_PFN      (~0UL)

/* mmu_update requests queued before the queue is issued. */
#define GK_MMU_BATCH        512

/* The entry at `va` (present or not) in table level `level` (1..4). */
#define GK_PT_INDEX(va, level)  (((unsigned long)(va) >> (GK_PAGE_SHIFT + 9 * ((level) - 1))) & 511)

/* ---- layout and frames ------------------------------------------------------ */

/* What gk_mm_init() learnt from start_info. PFNs. */
struct gk_mm_layout {
    unsigned long virt_base;        /* VA of PFN 0 (GUESTKIT_VIRT_BASE) */
    unsigned long nr_pages;         /* start_info.nr_pages (p2m entries) */
    unsigned long pt_pfn;           /* first bootstrap page-table frame (the L4) */
    unsigned long nr_pt_frames;     /* start_info.nr_pt_frames */
    unsigned long first_free_pfn;   /* after the boot stack */
    unsigned long mapped_pfns;      /* end of the bootstrap mapping */
    unsigned long bitmap_pfns;      /* pages the allocator's bitmap took (at first_free_pfn) */
    unsigned long kernel_l4;        /* MFN of the bootstrap L4 */
    unsigned long max_ram_page;     /* XENMEM_maximum_ram_page, or ~0 if refused */
};

/* Reads start_info and sets the allocator up. Idempotent; every function
 * below calls it. Crashes the domain if the layout makes no sense. */
void gk_mm_init(void);
const struct gk_mm_layout *gk_mm_layout(void);

/* p2m[pfn], GK_INVALID_MFN if out of range or given back. */
unsigned long gk_pfn_to_mfn(unsigned long pfn);
/* The PFN whose frame is `mfn` (M2P, checked against the p2m), or
 * GK_INVALID_PFN when the frame is not the domain's RAM. */
unsigned long gk_mfn_to_pfn(unsigned long mfn);
/* Address of `pfn` in the bootstrap mapping, NULL beyond it. */
void *gk_pfn_to_virt(unsigned long pfn);
/* PFN / MFN of an address inside the bootstrap mapping (the image, its
 * .bss, ...), GK_INVALID_* outside it. */
unsigned long gk_virt_to_pfn(const void *va);
unsigned long gk_virt_to_mfn(const void *va);
/* The M2P entry for `mfn` as the hypervisor has it (no check). */
unsigned long gk_m2p(unsigned long mfn);

/* ---- frame allocator ------------------------------------------------------ */

#define GK_ALLOC_MAPPED     1   /* a PFN inside the bootstrap mapping */

/* A free PFN (its contents are whatever was left there), or -XEN_ENOMEM. */
long gk_alloc_pfn(unsigned int flags);
/* Back to the allocator. The page must no longer be mapped anywhere but its
 * own bootstrap-mapping address (for PFNs that have one). */
void gk_free_pfn(unsigned long pfn);
/* Free PFNs (in all / inside the bootstrap mapping). */
unsigned long gk_free_pages(void);
unsigned long gk_free_mapped_pages(void);

/* ---- page tables ------------------------------------------------------------ */

/* MFN of the bootstrap L4 / of the L4 now loaded. */
unsigned long gk_kernel_l4(void);
unsigned long gk_current_l4(void);

/* Maps `va` (page-aligned) to frame `mfn` with entry flags `flags`
 * (GK_PAGE_RW, GK_PAGE_RO, ...), creating page tables as needed. */
int gk_map(unsigned long va, unsigned long mfn, uint64_t flags);
/* Removes the mapping of `va` (0 if there was none). */
int gk_unmap(unsigned long va);
/* Keeps the frame mapped at `va`, with new flags (must include present). */
int gk_protect(unsigned long va, uint64_t flags);
/* The L1 entry for `va` (0 if none) in *pte. Returns 0, or -XEN_ENOENT
 * when an upper level is missing (then *pte = 0). */
int gk_lookup(unsigned long va, uint64_t *pte);

/* The same for `n` consecutive pages from `va`: queued mmu_update requests
 * and one TLB flush at the end. gk_map_range maps page i to mfns[i]. On an
 * error, the pages before the failing one are done. */
int gk_map_range(unsigned long va, const unsigned long *mfns, unsigned long n, uint64_t flags);
int gk_unmap_range(unsigned long va, unsigned long n);
int gk_protect_range(unsigned long va, unsigned long n, uint64_t flags);

/*
 * The entry for `va` in the table of level `level` (4 = the L4 ... 1 = the
 * L1), in the loaded tables: its machine address (what mmu_update's ptr
 * wants) in *maddr and its value in *entry. -XEN_ENOENT if a level above
 * is missing; -XEN_EINVAL for a large page above, or a table the guest
 * cannot read (outside the bootstrap mapping).
 */
int gk_pt_entry(unsigned long va, int level, uint64_t *maddr, uint64_t *entry);
/* Makes sure the tables down to the L1 for `va` exist (creating them). */
int gk_pt_populate(unsigned long va);

/* The mmu_update queue: add one request (issued when GK_MMU_BATCH are
 * waiting), issue what is waiting, flush this vCPU's TLB / one address. */
int gk_mmu_queue(uint64_t ptr, uint64_t val);
int gk_mmu_flush(void);
int gk_tlb_flush(void);
int gk_invlpg(unsigned long va);

/* ---- address spaces ---------------------------------------------------------- */

/* A new L4 holding the kernel L4's guest entries (slots 0-255, 272-511),
 * pinned (MMUEXT_PIN_L4_TABLE). Returns its MFN or -XEN_Exxx. */
long gk_new_address_space(void);
/* Loads `l4_mfn` as the kernel base pointer (MMUEXT_NEW_BASEPTR). */
int gk_switch_address_space(unsigned long l4_mfn);
/* Unpins an L4 from gk_new_address_space (not the loaded one) and frees it
 * with the tables created under its own slots. Frames mapped in them are
 * the caller's. */
int gk_destroy_address_space(unsigned long l4_mfn);

/* ---- reservation and balloon ------------------------------------------------ */

/* XENMEM_current_reservation / maximum_reservation for DOMID_SELF. */
long gk_current_reservation(void);
long gk_maximum_reservation(void);

/* Gives back up to n free pages; returns how many went (or -XEN_Exxx if
 * none could). `pfns`, if not NULL, receives their PFNs. */
long gk_balloon_out(unsigned long n);
long gk_balloon_out_pfns(unsigned long n, unsigned long *pfns);
/* Gets pages back for up to n ballooned-out PFNs (they become free
 * pages); returns how many. `pfns`, if not NULL, receives the PFNs. */
long gk_balloon_in(unsigned long n);
long gk_balloon_in_pfns(unsigned long n, unsigned long *pfns);
/* PFNs given back and not yet refilled. */
unsigned long gk_ballooned_pages(void);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_MM_H */
