/*
 * mm.c - frames (p2m, M2P), the frame allocator, page tables through the
 * PV MMU hypercalls, extra address spaces, and the balloon. See
 * guestkit/mm.h for the model.
 */
#include <guestkit/guestkit.h>

#define PAGE            GK_PAGE_SIZE
#define WORD_BITS       64
#define L1_SPAN         (PAGE << 9)         /* what one L1 table maps: 2 MiB */
#define FOUR_MIB        (4UL << 20)
#define PADDING         (512UL << 10)       /* mapped after the boot stack, at least */

/* Mapped pages gk_alloc_pfn(0) leaves alone for page tables. */
#define TABLE_RESERVE   32

/* L4 slots that belong to the hypervisor (HYPERVISOR_VIRT_START..END). */
#define XEN_FIRST_SLOT  256
#define XEN_LAST_SLOT   271

/* Entries the M2P window can hold. */
#define M2P_ENTRIES     ((MACH2PHYS_VIRT_END - MACH2PHYS_VIRT_START) / 8)

static struct gk_mm_layout layout;
static int ready;
static unsigned long *p2m;              /* start_info.mfn_list */
static uint64_t *bitmap;                /* bit set: the PFN is not free (boot, in use, ballooned out) */
static unsigned long free_total, free_mapped, ballooned;
static unsigned long hint_high, hint_mapped;   /* no free PFN below these in their range */
static unsigned long current_l4;
static int machphys_refused;            /* MMU_MACHPHYS_UPDATE answered -ENOSYS once */

static struct mmu_update queue[GK_MMU_BATCH];
static unsigned int queued;

/* Lists for memory_op: frames in, frames out, and the PFNs behind them. */
static xen_pfn_t extents[GK_MMU_BATCH];
static unsigned long chunk[GK_MMU_BATCH];

/* ---- layout -------------------------------------------------------------------- */

static inline int is_used(unsigned long pfn)
{
    return (bitmap[pfn / WORD_BITS] >> (pfn % WORD_BITS)) & 1;
}

static inline void mark_used(unsigned long pfn)
{
    bitmap[pfn / WORD_BITS] |= 1ULL << (pfn % WORD_BITS);
}

static inline void mark_free(unsigned long pfn)
{
    bitmap[pfn / WORD_BITS] &= ~(1ULL << (pfn % WORD_BITS));
}

static void layout_failed(const char *what)
{
    gk_printf("guestkit: mm: %s (pt_base 0x%lx, nr_pt_frames %lu, nr_pages %lu, mfn_list 0x%lx)\n", what,
              gk_start_info->pt_base, gk_start_info->nr_pt_frames, gk_start_info->nr_pages,
              gk_start_info->mfn_list);
    gk_shutdown(SHUTDOWN_crash);
}

void gk_mm_init(void)
{
    if (ready)
        return;
    const start_info_t *si = gk_start_info;
    struct gk_mm_layout *l = &layout;

    l->virt_base = GUESTKIT_VIRT_BASE;
    l->nr_pages = si->nr_pages;
    if (si->pt_base < l->virt_base || (si->pt_base & (PAGE - 1)) || si->nr_pt_frames == 0)
        layout_failed("bootstrap page tables not where expected");
    l->pt_pfn = (si->pt_base - l->virt_base) >> GK_PAGE_SHIFT;
    l->nr_pt_frames = si->nr_pt_frames;
    l->first_free_pfn = l->pt_pfn + l->nr_pt_frames + 1;          /* + the boot stack */
    if (gk_boot_rsp && gk_boot_rsp != l->virt_base + l->first_free_pfn * PAGE)
        layout_failed("the boot stack does not follow the page tables");

    /* The builder maps up to the first 4 MiB boundary at least 512 KiB
     * past the boot stack (never past the domain's pages). */
    unsigned long end = l->virt_base + l->first_free_pfn * PAGE + PADDING;
    end = (end + FOUR_MIB - 1) & ~(FOUR_MIB - 1);
    l->mapped_pfns = (end - l->virt_base) >> GK_PAGE_SHIFT;
    if (l->mapped_pfns > l->nr_pages)
        l->mapped_pfns = l->nr_pages;

    p2m = (unsigned long *)si->mfn_list;
    l->kernel_l4 = p2m[l->pt_pfn];
    current_l4 = l->kernel_l4;
    long max = HYPERVISOR_memory_op(XENMEM_maximum_ram_page, NULL);
    l->max_ram_page = max > 0 ? (unsigned long)max : ~0UL;

    /* The allocator's bitmap: one bit per PFN, in the first free pages. */
    unsigned long bytes = (l->nr_pages + WORD_BITS - 1) / WORD_BITS * 8;
    l->bitmap_pfns = (bytes + PAGE - 1) / PAGE;
    if (l->first_free_pfn + l->bitmap_pfns + TABLE_RESERVE > l->mapped_pfns)
        layout_failed("bootstrap mapping too small for the frame allocator");
    bitmap = gk_pfn_to_virt(l->first_free_pfn);
    memset(bitmap, 0, l->bitmap_pfns * PAGE);

    unsigned long first = l->first_free_pfn + l->bitmap_pfns;
    for (unsigned long pfn = 0; pfn < first; pfn++)
        mark_used(pfn);
    for (unsigned long pfn = first; pfn < l->nr_pages; pfn++) {
        if (p2m[pfn] == GK_INVALID_MFN) {           /* a hole: counts as ballooned out */
            mark_used(pfn);
            ballooned++;
        } else {
            free_total++;
            if (pfn < l->mapped_pfns)
                free_mapped++;
        }
    }
    hint_high = l->mapped_pfns;
    hint_mapped = first;
    ready = 1;
}

const struct gk_mm_layout *gk_mm_layout(void)
{
    gk_mm_init();
    return &layout;
}

/* ---- frames ------------------------------------------------------------------- */

unsigned long gk_pfn_to_mfn(unsigned long pfn)
{
    gk_mm_init();
    return pfn < layout.nr_pages ? p2m[pfn] : GK_INVALID_MFN;
}

/* Where the read-only M2P is: XENMEM_machphys_mapping says (Xen's ABI lets a hypervisor move it from
 * MACH2PHYS_VIRT_START; ours must, its KVM cannot map L4 slot 256). Asked once. */
static const volatile unsigned long *m2p_table(void)
{
    static const volatile unsigned long *table;
    if (!table) {
        struct xen_machphys_mapping mapping = { .v_start = MACH2PHYS_VIRT_START };
        if (HYPERVISOR_memory_op(XENMEM_machphys_mapping, &mapping) != 0)
            mapping.v_start = MACH2PHYS_VIRT_START;
        table = (const volatile unsigned long *)mapping.v_start;
    }
    return table;
}

unsigned long gk_m2p(unsigned long mfn)
{
    return m2p_table()[mfn];
}

unsigned long gk_mfn_to_pfn(unsigned long mfn)
{
    gk_mm_init();
    if (mfn == GK_INVALID_MFN || mfn >= layout.max_ram_page || mfn >= M2P_ENTRIES)
        return GK_INVALID_PFN;
    unsigned long pfn = gk_m2p(mfn);
    if (pfn < layout.nr_pages && p2m[pfn] == mfn)
        return pfn;
    /* The M2P does not say (a frame from increase_reservation whose M2P
     * entry could not be set): the p2m is the authority. */
    for (pfn = 0; pfn < layout.nr_pages; pfn++)
        if (p2m[pfn] == mfn)
            return pfn;
    return GK_INVALID_PFN;
}

void *gk_pfn_to_virt(unsigned long pfn)
{
    if (pfn >= layout.mapped_pfns)
        return NULL;
    return (void *)(layout.virt_base + pfn * PAGE);
}

unsigned long gk_virt_to_pfn(const void *va)
{
    gk_mm_init();
    unsigned long a = (unsigned long)va;
    if (a < layout.virt_base || a >= layout.virt_base + layout.mapped_pfns * PAGE)
        return GK_INVALID_PFN;
    return (a - layout.virt_base) >> GK_PAGE_SHIFT;
}

unsigned long gk_virt_to_mfn(const void *va)
{
    unsigned long pfn = gk_virt_to_pfn(va);
    return pfn == GK_INVALID_PFN ? GK_INVALID_MFN : p2m[pfn];
}

/* ---- frame allocator ------------------------------------------------------------ */

/* First free PFN in [from, to), or -1. */
static long find_free(unsigned long from, unsigned long to)
{
    unsigned long pfn = from;
    while (pfn < to) {
        uint64_t w = ~bitmap[pfn / WORD_BITS] & (~0ULL << (pfn % WORD_BITS));
        if (w) {
            pfn = (pfn & ~(unsigned long)(WORD_BITS - 1)) + (unsigned long)__builtin_ctzll(w);
            return pfn < to ? (long)pfn : -1;
        }
        pfn = (pfn | (WORD_BITS - 1)) + 1;
    }
    return -1;
}

static void take(unsigned long pfn)
{
    mark_used(pfn);
    free_total--;
    if (pfn < layout.mapped_pfns) {
        free_mapped--;
        hint_mapped = pfn + 1;
    } else {
        hint_high = pfn + 1;
    }
}

long gk_alloc_pfn(unsigned int flags)
{
    gk_mm_init();
    long pfn = -1;
    if (!(flags & GK_ALLOC_MAPPED)) {
        pfn = find_free(hint_high, layout.nr_pages);
        if (pfn < 0 && free_mapped <= TABLE_RESERVE)
            return -XEN_ENOMEM;     /* keep the rest of the mapping for page tables */
    }
    if (pfn < 0)
        pfn = find_free(hint_mapped, layout.mapped_pfns);
    if (pfn < 0)
        return -XEN_ENOMEM;
    take((unsigned long)pfn);
    return pfn;
}

void gk_free_pfn(unsigned long pfn)
{
    gk_mm_init();
    if (pfn < layout.first_free_pfn + layout.bitmap_pfns || pfn >= layout.nr_pages ||
        !is_used(pfn) || p2m[pfn] == GK_INVALID_MFN)
        return;
    mark_free(pfn);
    free_total++;
    if (pfn < layout.mapped_pfns) {
        free_mapped++;
        if (pfn < hint_mapped)
            hint_mapped = pfn;
    } else if (pfn < hint_high) {
        hint_high = pfn;
    }
}

unsigned long gk_free_pages(void)
{
    gk_mm_init();
    return free_total;
}

unsigned long gk_free_mapped_pages(void)
{
    gk_mm_init();
    return free_mapped;
}

/* ---- the mmu_update queue ----------------------------------------------------- */

int gk_mmu_flush(void)
{
    if (queued == 0)
        return 0;
    unsigned int n = queued;
    queued = 0;
    return HYPERVISOR_mmu_update(queue, n, NULL, DOMID_SELF);
}

int gk_mmu_queue(uint64_t ptr, uint64_t val)
{
    queue[queued].ptr = ptr;
    queue[queued].val = val;
    if (++queued == GK_MMU_BATCH)
        return gk_mmu_flush();
    return 0;
}

static int mmuext(unsigned int cmd, unsigned long arg1)
{
    struct mmuext_op op = { .cmd = cmd };
    op.arg1.mfn = arg1;
    return HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
}

int gk_tlb_flush(void)
{
    return mmuext(MMUEXT_TLB_FLUSH_LOCAL, 0);
}

int gk_invlpg(unsigned long va)
{
    return mmuext(MMUEXT_INVLPG_LOCAL, va);
}

/* The end of a batch: what is queued and a TLB flush, in one entry into
 * the hypervisor (multicall) when both are needed. */
static int finish_batch(void)
{
    if (queued == 0)
        return gk_tlb_flush();
    struct mmuext_op flush = { .cmd = MMUEXT_TLB_FLUSH_LOCAL };
    multicall_entry_t calls[2] = {
        { .op = __HYPERVISOR_mmu_update,
          .args = { (unsigned long)queue, queued, 0, DOMID_SELF } },
        { .op = __HYPERVISOR_mmuext_op,
          .args = { (unsigned long)&flush, 1, 0, DOMID_SELF } },
    };
    queued = 0;
    int rc = HYPERVISOR_multicall(calls, 2);
    if (rc)
        return rc;
    if ((long)calls[0].result)
        return (int)(long)calls[0].result;
    return (int)(long)calls[1].result;
}

/* ---- walking the tables ---------------------------------------------------------- */

static int va_ok(unsigned long va)
{
    unsigned long top = va >> 47;
    if (top != 0 && top != 0x1ffff)
        return 0;                                     /* not canonical */
    return va < HYPERVISOR_VIRT_START || va >= HYPERVISOR_VIRT_END;
}

/* A page table by MFN, read through its bootstrap-mapping address. */
static const volatile uint64_t *table_at(unsigned long mfn)
{
    unsigned long pfn = gk_mfn_to_pfn(mfn);
    if (pfn >= layout.mapped_pfns)
        return NULL;
    return gk_pfn_to_virt(pfn);
}

static uint64_t leaf(unsigned long mfn, uint64_t flags)
{
    return (((uint64_t)mfn << GK_PAGE_SHIFT) & GK_PTE_ADDR_MASK) | (flags & ~GK_PTE_ADDR_MASK);
}

int gk_pt_entry(unsigned long va, int level, uint64_t *maddr, uint64_t *entry)
{
    gk_mm_init();
    *maddr = 0;
    *entry = 0;
    if (level < 1 || level > 4 || !va_ok(va))
        return -XEN_EINVAL;
    unsigned long table = current_l4;
    for (int l = 4;; l--) {
        const volatile uint64_t *t = table_at(table);
        if (!t)
            return -XEN_EINVAL;
        unsigned long i = GK_PT_INDEX(va, l);
        uint64_t e = t[i];
        if (l == level) {
            *maddr = ((uint64_t)table << GK_PAGE_SHIFT) + i * 8;
            *entry = e;
            return 0;
        }
        if (!(e & GK_PTE_PRESENT))
            return -XEN_ENOENT;
        if (e & GK_PTE_PSE)
            return -XEN_EINVAL;
        table = (e & GK_PTE_ADDR_MASK) >> GK_PAGE_SHIFT;
    }
}

/*
 * A zeroed page no one maps writable, ready to be made a page table (Xen's
 * recipe: zero it, take away every writable mapping -- here its bootstrap
 * one -- and flush that address). Returns its MFN.
 */
static long fresh_table(void)
{
    long pfn = gk_alloc_pfn(GK_ALLOC_MAPPED);
    if (pfn < 0)
        return pfn;
    void *va = gk_pfn_to_virt((unsigned long)pfn);
    unsigned long mfn = p2m[pfn];
    memset(va, 0, PAGE);
    int rc = HYPERVISOR_update_va_mapping((unsigned long)va, leaf(mfn, GK_PAGE_RO), UVMF_INVLPG);
    if (rc) {
        gk_free_pfn((unsigned long)pfn);
        return rc;
    }
    return (long)mfn;
}

/* A frame from fresh_table that is no page table any more: writable
 * again, and free. If the hypervisor still has it typed, it stays taken. */
static int release_table(unsigned long mfn)
{
    unsigned long pfn = gk_mfn_to_pfn(mfn);
    void *va = pfn == GK_INVALID_PFN ? NULL : gk_pfn_to_virt(pfn);
    if (!va)
        return -XEN_EINVAL;
    int rc = HYPERVISOR_update_va_mapping((unsigned long)va, leaf(mfn, GK_PAGE_RW), UVMF_INVLPG);
    if (rc)
        return rc;
    gk_free_pfn(pfn);
    return 0;
}

/* The L1 table (MFN) that maps `va` in the loaded tables; missing tables
 * are created when `create`, else -XEN_ENOENT. */
static long l1_for(unsigned long va, int create)
{
    unsigned long table = current_l4;
    for (int l = 4; l > 1; l--) {
        const volatile uint64_t *t = table_at(table);
        if (!t)
            return -XEN_EINVAL;
        unsigned long i = GK_PT_INDEX(va, l);
        uint64_t e = t[i];
        if (e & GK_PTE_PRESENT) {
            if (e & GK_PTE_PSE)
                return -XEN_EINVAL;
            table = (e & GK_PTE_ADDR_MASK) >> GK_PAGE_SHIFT;
            continue;
        }
        if (!create)
            return -XEN_ENOENT;
        long child = fresh_table();
        if (child < 0)
            return child;
        /* Linking it validates it as a table of level l-1. */
        struct mmu_update u = {
            .ptr = ((uint64_t)table << GK_PAGE_SHIFT) + i * 8 + MMU_NORMAL_PT_UPDATE,
            .val = leaf((unsigned long)child, GK_PAGE_TABLE),
        };
        int rc = HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF);
        if (rc) {
            release_table((unsigned long)child);
            return rc;
        }
        table = (unsigned long)child;
    }
    return (long)table;
}

int gk_pt_populate(unsigned long va)
{
    gk_mm_init();
    if (!va_ok(va))
        return -XEN_EINVAL;
    int rc = gk_mmu_flush();
    if (rc)
        return rc;
    long l1 = l1_for(va, 1);
    return l1 < 0 ? (int)l1 : 0;
}

/* ---- single pages ------------------------------------------------------------------ */

static int page_ok(unsigned long va)
{
    return !(va & (PAGE - 1)) && va_ok(va);
}

int gk_map(unsigned long va, unsigned long mfn, uint64_t flags)
{
    gk_mm_init();
    if (!page_ok(va) || mfn > (GK_PTE_ADDR_MASK >> GK_PAGE_SHIFT))
        return -XEN_EINVAL;
    int rc = gk_mmu_flush();
    if (rc)
        return rc;
    long l1 = l1_for(va, 1);
    if (l1 < 0)
        return (int)l1;
    return HYPERVISOR_update_va_mapping(va, leaf(mfn, flags), UVMF_INVLPG);
}

int gk_unmap(unsigned long va)
{
    gk_mm_init();
    if (!page_ok(va))
        return -XEN_EINVAL;
    int rc = gk_mmu_flush();
    if (rc)
        return rc;
    long l1 = l1_for(va, 0);
    if (l1 == -XEN_ENOENT)
        return 0;
    if (l1 < 0)
        return (int)l1;
    return HYPERVISOR_update_va_mapping(va, 0, UVMF_INVLPG);
}

int gk_protect(unsigned long va, uint64_t flags)
{
    gk_mm_init();
    if (!page_ok(va) || !(flags & GK_PTE_PRESENT))
        return -XEN_EINVAL;
    int rc = gk_mmu_flush();
    if (rc)
        return rc;
    uint64_t maddr, e;
    rc = gk_pt_entry(va, 1, &maddr, &e);
    if (rc)
        return rc;
    if (!(e & GK_PTE_PRESENT))
        return -XEN_ENOENT;
    uint64_t pte = (e & GK_PTE_ADDR_MASK) | (flags & ~GK_PTE_ADDR_MASK);
    return HYPERVISOR_update_va_mapping(va, pte, UVMF_INVLPG);
}

int gk_lookup(unsigned long va, uint64_t *pte)
{
    gk_mm_init();
    *pte = 0;
    int rc = gk_mmu_flush();
    if (rc)
        return rc;
    uint64_t maddr;
    return gk_pt_entry(va & ~(PAGE - 1), 1, &maddr, pte);
}

/* ---- ranges ------------------------------------------------------------------------- */

static int range_ok(unsigned long va, unsigned long n)
{
    if (n == 0)
        return 1;
    unsigned long last = va + (n - 1) * PAGE;
    return n <= (~0UL >> GK_PAGE_SHIFT) && last >= va && page_ok(va) && va_ok(last) &&
           ((va ^ last) >> 47) == 0 &&    /* one half of the address space */
           !(va < HYPERVISOR_VIRT_END && last >= HYPERVISOR_VIRT_START);   /* not across the hole */
}

int gk_map_range(unsigned long va, const unsigned long *mfns, unsigned long n, uint64_t flags)
{
    gk_mm_init();
    if (!range_ok(va, n))
        return -XEN_EINVAL;
    int rc = gk_mmu_flush();
    unsigned long l1 = 0, l1_base = 1;          /* 1: no 2 MiB region yet */
    for (unsigned long i = 0; i < n && rc == 0; i++) {
        unsigned long a = va + i * PAGE;
        if (mfns[i] > (GK_PTE_ADDR_MASK >> GK_PAGE_SHIFT)) {
            rc = -XEN_EINVAL;
            break;
        }
        if ((a & ~(L1_SPAN - 1)) != l1_base) {
            long t = l1_for(a, 1);
            if (t < 0) {
                rc = (int)t;
                break;
            }
            l1 = (unsigned long)t;
            l1_base = a & ~(L1_SPAN - 1);
        }
        rc = gk_mmu_queue(((uint64_t)l1 << GK_PAGE_SHIFT) + GK_PT_INDEX(a, 1) * 8 + MMU_NORMAL_PT_UPDATE,
                          leaf(mfns[i], flags));
    }
    int end = finish_batch();
    return rc ? rc : end;
}

int gk_unmap_range(unsigned long va, unsigned long n)
{
    gk_mm_init();
    if (!range_ok(va, n))
        return -XEN_EINVAL;
    int rc = gk_mmu_flush();
    for (unsigned long i = 0; i < n && rc == 0;) {
        unsigned long a = va + i * PAGE;
        unsigned long in_region = (L1_SPAN - (a & (L1_SPAN - 1))) / PAGE;   /* pages left under this L1 */
        if (in_region > n - i)
            in_region = n - i;
        long l1 = l1_for(a, 0);
        if (l1 == -XEN_ENOENT) {                 /* nothing mapped there */
            i += in_region;
            continue;
        }
        if (l1 < 0) {
            rc = (int)l1;
            break;
        }
        const volatile uint64_t *t = table_at((unsigned long)l1);
        for (unsigned long k = 0; k < in_region && rc == 0; k++) {
            unsigned long idx = GK_PT_INDEX(a + k * PAGE, 1);
            if (t && t[idx] == 0)
                continue;                        /* already empty */
            rc = gk_mmu_queue(((uint64_t)l1 << GK_PAGE_SHIFT) + idx * 8 + MMU_NORMAL_PT_UPDATE, 0);
        }
        i += in_region;
    }
    int end = finish_batch();
    return rc ? rc : end;
}

int gk_protect_range(unsigned long va, unsigned long n, uint64_t flags)
{
    gk_mm_init();
    if (!range_ok(va, n) || !(flags & GK_PTE_PRESENT))
        return -XEN_EINVAL;
    int rc = gk_mmu_flush();
    for (unsigned long i = 0; i < n && rc == 0;) {
        unsigned long a = va + i * PAGE;
        unsigned long in_region = (L1_SPAN - (a & (L1_SPAN - 1))) / PAGE;
        if (in_region > n - i)
            in_region = n - i;
        long l1 = l1_for(a, 0);
        const volatile uint64_t *t = l1 < 0 ? NULL : table_at((unsigned long)l1);
        if (!t) {
            rc = l1 < 0 ? (int)l1 : -XEN_EINVAL;
            break;
        }
        for (unsigned long k = 0; k < in_region && rc == 0; k++) {
            unsigned long idx = GK_PT_INDEX(a + k * PAGE, 1);
            uint64_t e = t[idx];
            if (!(e & GK_PTE_PRESENT)) {
                rc = -XEN_ENOENT;
                break;
            }
            rc = gk_mmu_queue(((uint64_t)l1 << GK_PAGE_SHIFT) + idx * 8 + MMU_NORMAL_PT_UPDATE,
                              (e & GK_PTE_ADDR_MASK) | (flags & ~GK_PTE_ADDR_MASK));
        }
        i += in_region;
    }
    int end = finish_batch();
    return rc ? rc : end;
}

/* ---- address spaces ------------------------------------------------------------------ */

#define MAX_SPACES 16

/* The L4s gk_new_address_space made, and which of their slots were copied
 * from the kernel's (the rest are their own). */
static struct {
    unsigned long l4;
    uint64_t copied[512 / WORD_BITS];
} spaces[MAX_SPACES];

unsigned long gk_kernel_l4(void)
{
    gk_mm_init();
    return layout.kernel_l4;
}

unsigned long gk_current_l4(void)
{
    gk_mm_init();
    return current_l4;
}

static inline int xen_slot(unsigned int slot)
{
    return slot >= XEN_FIRST_SLOT && slot <= XEN_LAST_SLOT;
}

long gk_new_address_space(void)
{
    gk_mm_init();
    int rc = gk_mmu_flush();
    if (rc)
        return rc;
    int s = 0;
    while (s < MAX_SPACES && spaces[s].l4)
        s++;
    if (s == MAX_SPACES)
        return -XEN_ENOSPC;

    long pfn = gk_alloc_pfn(GK_ALLOC_MAPPED);
    if (pfn < 0)
        return pfn;
    uint64_t *l4 = gk_pfn_to_virt((unsigned long)pfn);
    unsigned long mfn = p2m[pfn];
    const volatile uint64_t *kernel = table_at(layout.kernel_l4);
    memset(l4, 0, PAGE);
    memset(spaces[s].copied, 0, sizeof(spaces[s].copied));
    /* The guest's slots only: the hypervisor fills 256-271 itself. */
    for (unsigned int slot = 0; slot < 512; slot++) {
        if (xen_slot(slot) || !(kernel[slot] & GK_PTE_PRESENT))
            continue;
        l4[slot] = kernel[slot];
        spaces[s].copied[slot / WORD_BITS] |= 1ULL << (slot % WORD_BITS);
    }
    rc = HYPERVISOR_update_va_mapping((unsigned long)l4, leaf(mfn, GK_PAGE_RO), UVMF_INVLPG);
    if (rc == 0) {
        rc = mmuext(MMUEXT_PIN_L4_TABLE, mfn);
        if (rc)
            release_table(mfn);
    } else {
        gk_free_pfn((unsigned long)pfn);
    }
    if (rc)
        return rc;
    spaces[s].l4 = mfn;
    return (long)mfn;
}

int gk_switch_address_space(unsigned long l4_mfn)
{
    gk_mm_init();
    int rc = gk_mmu_flush();
    if (rc)
        return rc;
    rc = mmuext(MMUEXT_NEW_BASEPTR, l4_mfn);
    if (rc == 0)
        current_l4 = l4_mfn;
    return rc;
}

/* Frees the tables below `table` (level `level` >= 2) bottom-up, then
 * `table` itself. Every one of them is untyped by now. */
static int release_tree(unsigned long table, int level)
{
    const volatile uint64_t *t = table_at(table);
    if (!t)
        return -XEN_EINVAL;
    int rc = 0;
    if (level > 1) {
        for (unsigned int i = 0; i < 512; i++) {
            uint64_t e = t[i];
            if (!(e & GK_PTE_PRESENT) || (e & GK_PTE_PSE))
                continue;
            int r = release_tree((e & GK_PTE_ADDR_MASK) >> GK_PAGE_SHIFT, level - 1);
            if (r && !rc)
                rc = r;
        }
    }
    int r = release_table(table);
    return rc ? rc : r;
}

int gk_destroy_address_space(unsigned long l4_mfn)
{
    gk_mm_init();
    int s = 0;
    while (s < MAX_SPACES && spaces[s].l4 != l4_mfn)
        s++;
    if (s == MAX_SPACES || l4_mfn == 0)
        return -XEN_EINVAL;
    if (l4_mfn == current_l4)
        return -XEN_EBUSY;
    int rc = gk_mmu_flush();
    if (rc)
        return rc;
    /* Unpinning drops the last reference to the L4's type, and with it
     * the types of the tables only it referred to. */
    rc = mmuext(MMUEXT_UNPIN_TABLE, l4_mfn);
    if (rc)
        return rc;
    spaces[s].l4 = 0;
    const volatile uint64_t *l4 = table_at(l4_mfn);
    if (!l4)
        return -XEN_EINVAL;
    for (unsigned int slot = 0; slot < 512; slot++) {
        uint64_t e = l4[slot];
        if (xen_slot(slot) || !(e & GK_PTE_PRESENT) ||
            (spaces[s].copied[slot / WORD_BITS] >> (slot % WORD_BITS) & 1))
            continue;
        int r = release_tree((e & GK_PTE_ADDR_MASK) >> GK_PAGE_SHIFT, 3);
        if (r && !rc)
            rc = r;
    }
    int r = release_table(l4_mfn);
    return rc ? rc : r;
}

/* ---- reservation and balloon ----------------------------------------------------------- */

long gk_current_reservation(void)
{
    domid_t self = DOMID_SELF;
    return HYPERVISOR_memory_op(XENMEM_current_reservation, &self);
}

long gk_maximum_reservation(void)
{
    domid_t self = DOMID_SELF;
    return HYPERVISOR_memory_op(XENMEM_maximum_reservation, &self);
}

unsigned long gk_ballooned_pages(void)
{
    gk_mm_init();
    return ballooned;
}

/* Queues the bootstrap-mapping entry of `pfn` := val (0 to unmap). */
static int queue_bootstrap_entry(unsigned long pfn, uint64_t val)
{
    uint64_t maddr, e;
    int rc = gk_pt_entry((unsigned long)gk_pfn_to_virt(pfn), 1, &maddr, &e);
    return rc ? rc : gk_mmu_queue(maddr + MMU_NORMAL_PT_UPDATE, val);
}

static long reservation_op(unsigned int cmd, unsigned long n)
{
    struct xen_memory_reservation r = {
        .nr_extents = n,
        .extent_order = 0,
        .mem_flags = 0,
        .domid = DOMID_SELF,
    };
    set_xen_guest_handle(r.extent_start, extents);
    return HYPERVISOR_memory_op(cmd, &r);
}

long gk_balloon_out_pfns(unsigned long n, unsigned long *pfns)
{
    gk_mm_init();
    long rc = gk_mmu_flush();
    unsigned long done = 0;
    while (rc == 0 && done < n) {
        /* A chunk of free pages; those with a bootstrap mapping lose it. */
        unsigned long k = 0;
        while (k < GK_MMU_BATCH && k < n - done) {
            long pfn = gk_alloc_pfn(0);
            if (pfn < 0)
                break;
            chunk[k] = (unsigned long)pfn;
            extents[k] = p2m[pfn];
            k++;
            if ((unsigned long)pfn < layout.mapped_pfns && (rc = queue_bootstrap_entry((unsigned long)pfn, 0)))
                break;
        }
        if (rc == 0)
            rc = finish_batch();
        long gone = 0;
        if (rc == 0 && k > 0) {
            gone = reservation_op(XENMEM_decrease_reservation, k);
            if (gone < 0) {
                rc = gone;
                gone = 0;
            } else if ((unsigned long)gone > k) {
                gone = (long)k;                   /* cannot be; trust nothing beyond k */
            }
        }
        for (unsigned long i = 0; i < (unsigned long)gone; i++) {
            p2m[chunk[i]] = GK_INVALID_MFN;       /* stays marked used: ballooned out */
            ballooned++;
            if (pfns)
                pfns[done + i] = chunk[i];
        }
        /* Pages that did not go: mapped again where they were, and free. */
        for (unsigned long i = (unsigned long)gone; i < k; i++)
            if (chunk[i] < layout.mapped_pfns)
                queue_bootstrap_entry(chunk[i], leaf(p2m[chunk[i]], GK_PAGE_RW));
        if ((unsigned long)gone < k)
            finish_batch();
        for (unsigned long i = (unsigned long)gone; i < k; i++)
            gk_free_pfn(chunk[i]);
        done += (unsigned long)gone;
        if ((unsigned long)gone < k || k == 0)
            break;
    }
    return done ? (long)done : rc;
}

long gk_balloon_out(unsigned long n)
{
    return gk_balloon_out_pfns(n, NULL);
}

/* Records M2P[mfn] = pfn if the hypervisor did not (increase_reservation). */
static void fix_m2p(unsigned long mfn, unsigned long pfn)
{
    if (machphys_refused || gk_m2p(mfn) == pfn)
        return;
    struct mmu_update u = { .ptr = ((uint64_t)mfn << GK_PAGE_SHIFT) + MMU_MACHPHYS_UPDATE, .val = pfn };
    if (HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF) == -XEN_ENOSYS)
        machphys_refused = 1;
}

long gk_balloon_in_pfns(unsigned long n, unsigned long *pfns)
{
    gk_mm_init();
    long rc = gk_mmu_flush();
    unsigned long done = 0;
    unsigned long next = layout.first_free_pfn + layout.bitmap_pfns;
    while (rc == 0 && done < n) {
        unsigned long k = 0;
        for (; next < layout.nr_pages && k < GK_MMU_BATCH && k < n - done; next++) {
            if (p2m[next] != GK_INVALID_MFN)
                continue;
            chunk[k] = next;
            extents[k] = next;                    /* populate_physmap: the PFNs to fill */
            k++;
        }
        if (k == 0)
            break;
        long got = reservation_op(XENMEM_populate_physmap, k);
        if (got == -XEN_ENOSYS)                   /* the older way: MFNs only */
            got = reservation_op(XENMEM_increase_reservation, k);
        if (got < 0) {
            rc = got;
            break;
        }
        if ((unsigned long)got > k)
            got = (long)k;
        for (unsigned long i = 0; i < (unsigned long)got && rc == 0; i++) {
            unsigned long pfn = chunk[i], mfn = extents[i];
            p2m[pfn] = mfn;
            fix_m2p(mfn, pfn);
            if (pfn < layout.mapped_pfns)
                rc = queue_bootstrap_entry(pfn, leaf(mfn, GK_PAGE_RW));
        }
        long end = finish_batch();
        if (rc == 0)
            rc = end;
        for (unsigned long i = 0; i < (unsigned long)got; i++) {
            ballooned--;
            if (rc == 0)
                gk_free_pfn(chunk[i]);            /* else: keep it out of use */
            if (pfns)
                pfns[done + i] = chunk[i];
        }
        done += (unsigned long)got;
        if ((unsigned long)got < k)
            break;
    }
    return done ? (long)done : rc;
}

long gk_balloon_in(unsigned long n)
{
    return gk_balloon_in_pfns(n, NULL);
}
