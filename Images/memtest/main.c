/*
 * memtest - GuestKit's memory management (guestkit/mm.h) against the PV
 * MMU: mmu_update, mmuext_op, update_va_mapping, multicall and memory_op.
 *
 *  1. A second address space: a new L4 sharing the kernel's mappings,
 *     pinned and loaded with MMUEXT_NEW_BASEPTR; a page mapped in a slot of
 *     its own (L4 slot 1) is seen only there, a page mapped in a shared
 *     slot is seen from the kernel's L4 too; back to the kernel's L4, the
 *     new one destroyed and every table page given back.
 *  2. Thousands of pages (pages=<n>, default 4096) mapped at 0x40000000 in
 *     batches, a pattern written through each and read back through a
 *     second view at 0x48000000 (the same frames in reverse order), the
 *     entries checked, then made read-only (a write must fault with
 *     present+write) and unmapped (a read must fault with not-present);
 *     three rounds.
 *  3. The balloon: balloon=<pages> (default 2048) pages, dirtied first, are
 *     given back (decrease_reservation): the reservation must drop by that
 *     many, their p2m entries must be invalid and their old frames must no
 *     longer be mappable. With hold=1 the guest then sleeps ~3 s
 *     ("memtest: holding") so the host can measure its memory. Then they
 *     come back (populate_physmap): the reservation is what it was, p2m
 *     and M2P agree, and the pages are zeroed and usable.
 *
 * Output: one line per step; "memtest: all checks ok" and poweroff, or
 * "memtest: FAILED <what> (<rc>)" and crash.
 */
#include <guestkit/guestkit.h>

#define P "memtest: "

#define TEST_VA         0x40000000UL    /* 1 GiB: nothing there at boot */
#define ALIAS_VA        0x48000000UL    /* second view of the same frames */
#define PRIVATE_VA      0x8000000000UL  /* L4 slot 1: only in the second address space */
#define MAX_PAGES       16384UL
#define DEFAULT_PAGES   4096UL
#define DEFAULT_BALLOON 2048UL
#define ROUNDS          3
#define HOLD_NS         (3 * GK_NS_PER_SEC)
#define WORDS           (GK_PAGE_SIZE / 8)

static unsigned long pfns[MAX_PAGES];
static unsigned long mfns[MAX_PAGES];
static unsigned long aux[MAX_PAGES];

static void failed(const char *what, long rc)
{
    gk_printf(P "FAILED %s (%ld)\n", what, rc);
    gk_shutdown(SHUTDOWN_crash);
}

static void check(int ok, const char *what, long value)
{
    if (!ok)
        failed(what, value);
}

/* Value of the word "<key>=<digits>" on the command line, or `fallback`. */
static unsigned long option(const char *key, unsigned long fallback)
{
    unsigned long v = fallback;
    gk_cmdline_number(key, &v);
    return v;
}

/* ---- probes: one access that may fault, resumed by the #PF handler ------------ */

__asm__(
    "   .pushsection .text.probes, \"ax\", @progbits\n"
    /* probe_write(addr, value) */
    "   .globl probe_write, write_fault, write_resume\n"
    "probe_write:\n"
    "write_fault:\n"
    "   movq %rsi, (%rdi)\n"
    "write_resume:\n"
    "   ret\n"
    /* probe_read(addr) -> the word, or 0 after a fault */
    "   .globl probe_read, read_fault, read_resume\n"
    "probe_read:\n"
    "   xorl %eax, %eax\n"
    "read_fault:\n"
    "   movq (%rdi), %rax\n"
    "read_resume:\n"
    "   ret\n"
    "   .popsection\n");

void probe_write(volatile uint64_t *addr, uint64_t value);
uint64_t probe_read(const volatile uint64_t *addr);
extern char write_fault[], write_resume[], read_fault[], read_resume[];

static volatile int faults;
static volatile uint64_t fault_error, fault_cr2;

static void on_pf(struct gk_trap_frame *f)
{
    if (f->rip == (uint64_t)write_fault) {
        f->rip = (uint64_t)write_resume;
    } else if (f->rip == (uint64_t)read_fault) {
        f->rip = (uint64_t)read_resume;
    } else {
        gk_printf(P "FAILED unexpected page fault\n");
        gk_trap_dump(f);
        gk_shutdown(SHUTDOWN_crash);
    }
    faults++;
    fault_error = f->error_code;
    fault_cr2 = gk_vcpu_info->arch.cr2;
}

/* A write to `addr` must fault with error code present+write (bits 0, 1). */
static void expect_write_fault(volatile uint64_t *addr, const char *what)
{
    faults = 0;
    probe_write(addr, 0x5a5a5a5a5a5a5a5aULL);
    check(faults == 1, what, faults);
    check((fault_error & 3) == 3, "write fault error code lacks present+write", (long)fault_error);
    check(fault_cr2 == (uint64_t)addr, "write fault cr2", (long)fault_cr2);
}

/* A read of `addr` must fault as not present (error code bit 0 clear). */
static void expect_read_fault(const volatile uint64_t *addr, const char *what)
{
    faults = 0;
    probe_read(addr);
    check(faults == 1, what, faults);
    check((fault_error & 1) == 0, "read fault error code says present", (long)fault_error);
    check(fault_cr2 == (uint64_t)addr, "read fault cr2", (long)fault_cr2);
}

/* ---- helpers ----------------------------------------------------------------------- */

static uint64_t pattern(unsigned long mfn, unsigned long word, unsigned int round)
{
    return ((uint64_t)round << 60) ^ ((uint64_t)mfn << 20) ^ (word * 0x9e3779b97f4a7c15ULL);
}

static unsigned long ms_since(uint64_t t0)
{
    return (unsigned long)((gk_now_ns() - t0) / GK_NS_PER_MS);
}

/* n free PFNs into pfns[] and their frames into mfns[]. */
static void take_pages(unsigned long n, const char *what)
{
    for (unsigned long i = 0; i < n; i++) {
        long pfn = gk_alloc_pfn(0);
        check(pfn >= 0, what, pfn);
        pfns[i] = (unsigned long)pfn;
        mfns[i] = gk_pfn_to_mfn(pfns[i]);
        check(mfns[i] != GK_INVALID_MFN, "allocated PFN without a frame", pfn);
    }
}

static void give_pages(unsigned long n)
{
    for (unsigned long i = 0; i < n; i++)
        gk_free_pfn(pfns[i]);
}

/* The L1 entry of `va` must map `mfn` with `flags` (present, RW as asked). */
static void check_entry(unsigned long va, unsigned long mfn, uint64_t flags)
{
    uint64_t pte;
    int rc = gk_lookup(va, &pte);
    check(rc == 0, "gk_lookup", rc);
    check(((pte & GK_PTE_ADDR_MASK) >> GK_PAGE_SHIFT) == mfn, "L1 entry maps another frame", (long)pte);
    check((pte & (GK_PTE_PRESENT | GK_PTE_RW)) == (flags & (GK_PTE_PRESENT | GK_PTE_RW)),
          "L1 entry flags", (long)pte);
}

/* ---- 1. a second address space -------------------------------------------------------- */

static void address_spaces(void)
{
    unsigned long kernel = gk_kernel_l4();
    unsigned long tables_before = gk_free_mapped_pages();
    check(gk_current_l4() == kernel, "kernel L4 not loaded at start", (long)gk_current_l4());

    long l4 = gk_new_address_space();
    check(l4 > 0, "gk_new_address_space", l4);
    int rc = gk_switch_address_space((unsigned long)l4);
    check(rc == 0, "NEW_BASEPTR to the new L4", rc);
    check(gk_current_l4() == (unsigned long)l4, "current L4 after the switch", (long)gk_current_l4());

    /* Running on it: code, stack, .bss and console all through shared entries. */
    long priv = gk_alloc_pfn(0), shared = gk_alloc_pfn(0);
    check(priv >= 0 && shared >= 0, "gk_alloc_pfn", priv < 0 ? priv : shared);
    unsigned long priv_mfn = gk_pfn_to_mfn((unsigned long)priv);
    unsigned long shared_mfn = gk_pfn_to_mfn((unsigned long)shared);

    rc = gk_map(PRIVATE_VA, priv_mfn, GK_PAGE_RW);
    check(rc == 0, "map in the new L4's own slot 1", rc);
    rc = gk_map(TEST_VA, shared_mfn, GK_PAGE_RW);
    check(rc == 0, "map in a slot shared with the kernel", rc);
    volatile uint64_t *p = (volatile uint64_t *)PRIVATE_VA, *s = (volatile uint64_t *)TEST_VA;
    for (unsigned long w = 0; w < WORDS; w++) {
        p[w] = pattern(priv_mfn, w, 7);
        s[w] = pattern(shared_mfn, w, 7);
    }

    rc = gk_switch_address_space(kernel);
    check(rc == 0, "NEW_BASEPTR back to the kernel L4", rc);
    uint64_t pte;
    rc = gk_lookup(PRIVATE_VA, &pte);
    check(rc == -XEN_ENOENT, "the new L4's slot 1 is visible from the kernel's", rc);
    for (unsigned long w = 0; w < WORDS; w++)
        check(s[w] == pattern(shared_mfn, w, 7), "shared mapping seen from the kernel L4", (long)w);

    rc = gk_switch_address_space((unsigned long)l4);
    check(rc == 0, "NEW_BASEPTR to the new L4 again", rc);
    for (unsigned long w = 0; w < WORDS; w++)
        check(p[w] == pattern(priv_mfn, w, 7), "private mapping kept its data", (long)w);
    rc = gk_unmap(PRIVATE_VA);
    check(rc == 0, "unmap in the new L4", rc);
    rc = gk_switch_address_space(kernel);
    check(rc == 0, "NEW_BASEPTR back to the kernel L4", rc);
    rc = gk_unmap(TEST_VA);
    check(rc == 0, "unmap the shared page", rc);

    rc = gk_destroy_address_space((unsigned long)l4);
    check(rc == 0, "gk_destroy_address_space", rc);
    gk_free_pfn((unsigned long)priv);
    gk_free_pfn((unsigned long)shared);
    /* The new L4 and its own L3/L2/L1 went back; only the tables made under
     * the shared slot (for TEST_VA) stay, in the kernel's tree. */
    long kept = (long)tables_before - (long)gk_free_mapped_pages();
    check(kept >= 0 && kept <= 2, "table pages not given back", kept);
    gk_printf(P "second address space: L4 mfn 0x%lx pinned, loaded and left; own and shared mappings ok; "
              "destroyed (%ld table pages kept in the kernel's tree)\n", (unsigned long)l4, kept);
}

/* ---- 2. mapping thousands of pages ----------------------------------------------------- */

static void map_round(unsigned long n, unsigned int round)
{
    uint64_t t0 = gk_now_ns();
    take_pages(n, "gk_alloc_pfn for the mapping test");
    for (unsigned long i = 0; i < n; i++)
        aux[i] = mfns[n - 1 - i];

    int rc = gk_map_range(TEST_VA, mfns, n, GK_PAGE_RW);
    check(rc == 0, "gk_map_range", rc);
    rc = gk_map_range(ALIAS_VA, aux, n, GK_PAGE_RO);
    check(rc == 0, "gk_map_range (second view, read-only)", rc);
    unsigned long t_map = ms_since(t0);

    for (unsigned long i = 0; i < n; i++) {
        volatile uint64_t *page = (volatile uint64_t *)(TEST_VA + i * GK_PAGE_SIZE);
        for (unsigned long w = 0; w < WORDS; w++)
            page[w] = pattern(mfns[i], w, round);
    }
    for (unsigned long i = 0; i < n; i++) {
        const volatile uint64_t *page = (const volatile uint64_t *)(TEST_VA + i * GK_PAGE_SIZE);
        const volatile uint64_t *view = (const volatile uint64_t *)(ALIAS_VA + (n - 1 - i) * GK_PAGE_SIZE);
        for (unsigned long w = 0; w < WORDS; w++) {
            uint64_t want = pattern(mfns[i], w, round);
            check(page[w] == want, "pattern read back", (long)i);
            check(view[w] == want, "pattern through the second view", (long)i);
        }
    }
    for (unsigned long i = 0; i < n; i += n / 16 ? n / 16 : 1) {
        check_entry(TEST_VA + i * GK_PAGE_SIZE, mfns[i], GK_PAGE_RW);
        check_entry(ALIAS_VA + (n - 1 - i) * GK_PAGE_SIZE, mfns[i], GK_PAGE_RO);
    }
    check_entry(TEST_VA + (n - 1) * GK_PAGE_SIZE, mfns[n - 1], GK_PAGE_RW);
    expect_write_fault((volatile uint64_t *)(ALIAS_VA + 8), "write to a read-only view did not fault");

    /* Read-only now: reads work, a write faults. */
    rc = gk_protect_range(TEST_VA, n, GK_PAGE_RO);
    check(rc == 0, "gk_protect_range", rc);
    check_entry(TEST_VA + (n / 2) * GK_PAGE_SIZE, mfns[n / 2], GK_PAGE_RO);
    uint64_t sum = 0;
    for (unsigned long i = 0; i < n; i++)
        sum += ((const volatile uint64_t *)(TEST_VA + i * GK_PAGE_SIZE))[1];
    (void)sum;
    expect_write_fault((volatile uint64_t *)(TEST_VA + (n - 1) * GK_PAGE_SIZE + 16),
                       "write to a page made read-only did not fault");
    rc = gk_protect(TEST_VA, GK_PAGE_RW);
    check(rc == 0, "gk_protect", rc);
    ((volatile uint64_t *)TEST_VA)[0] = 1;

    rc = gk_unmap_range(TEST_VA, n);
    check(rc == 0, "gk_unmap_range", rc);
    rc = gk_unmap_range(ALIAS_VA, n);
    check(rc == 0, "gk_unmap_range (second view)", rc);
    for (unsigned long i = 0; i < n; i += n / 16 ? n / 16 : 1) {
        uint64_t pte;
        rc = gk_lookup(TEST_VA + i * GK_PAGE_SIZE, &pte);
        check(rc == 0 && pte == 0, "entry left after gk_unmap_range", (long)pte);
    }
    expect_read_fault((const volatile uint64_t *)(TEST_VA + (n / 3) * GK_PAGE_SIZE),
                      "read of an unmapped page did not fault");
    give_pages(n);
    gk_printf(P "round %u: %lu pages mapped twice in %lu ms, written, verified, protected, unmapped in %lu ms total\n",
              round, n, t_map, ms_since(t0));
}

static void mapping(unsigned long n)
{
    for (unsigned int round = 1; round <= ROUNDS; round++)
        map_round(n, round);
    gk_printf(P "mapped, verified, protected and unmapped %lu pages x %d rounds\n", n, ROUNDS);
}

/* ---- 3. the balloon -------------------------------------------------------------------- */

static void balloon(unsigned long n, int hold)
{
    long before = gk_current_reservation();
    check(before > 0, "XENMEM_current_reservation", before);
    unsigned long holes = gk_ballooned_pages();

    /* Dirty exactly the pages the balloon will take (the lowest free ones,
     * as the allocator hands them out), so giving them back frees memory
     * the host really had to provide. */
    take_pages(n, "gk_alloc_pfn before ballooning");
    int rc = gk_map_range(TEST_VA, mfns, n, GK_PAGE_RW);
    check(rc == 0, "gk_map_range before ballooning", rc);
    for (unsigned long i = 0; i < n; i++)
        memset((void *)(TEST_VA + i * GK_PAGE_SIZE), 0xa5, GK_PAGE_SIZE);
    rc = gk_unmap_range(TEST_VA, n);
    check(rc == 0, "gk_unmap_range before ballooning", rc);
    give_pages(n);
    if (hold) {
        /* The pages are dirty (the host had to provide them): let the host measure before they go. */
        gk_printf(P "dirtied %lu pages, holding\n", n);
        gk_sleep_ns(1500 * GK_NS_PER_MS);
    }

    long out = gk_balloon_out_pfns(n, aux);
    check(out == (long)n, "gk_balloon_out gave back fewer pages", out);
    gk_printf(P "ballooned out %lu pages\n", n);
    long after = gk_current_reservation();
    check(after == before - (long)n, "reservation did not drop by the pages given back", after);
    check(gk_ballooned_pages() == holes + n, "ballooned page count", (long)gk_ballooned_pages());
    unsigned long same = 0;
    for (unsigned long i = 0; i < n; i++) {
        check(gk_pfn_to_mfn(aux[i]) == GK_INVALID_MFN, "p2m entry still valid after ballooning", (long)aux[i]);
        same += aux[i] == pfns[i];
    }
    /* The frames are gone: mapping one must be refused. (mfns[i] is the old
     * frame of aux[i] where the balloon took the dirtied page pfns[i].) */
    unsigned long tried = 0;
    for (unsigned long i = 0; i < n; i += n - 1 ? n - 1 : 1) {
        if (aux[i] != pfns[i])
            continue;
        rc = gk_map(TEST_VA, mfns[i], GK_PAGE_RO);
        if (rc == 0) {
            gk_unmap(TEST_VA);
            failed("a frame given back could still be mapped", (long)mfns[i]);
        }
        tried++;
    }
    check(tried > 0, "the balloon took none of the dirtied pages", (long)same);
    gk_printf(P "reservation %ld -> %ld pages, p2m entries invalid, old frames refused (%lu of %lu were the dirtied pages)\n",
              before, after, same, n);

    if (hold) {
        gk_printf(P "holding\n");
        gk_sleep_ns(HOLD_NS);
    }

    long in = gk_balloon_in_pfns(n, aux);
    check(in == (long)n, "gk_balloon_in got back fewer pages", in);
    long again = gk_current_reservation();
    check(again == before, "reservation after ballooning in", again);
    check(gk_ballooned_pages() == holes, "ballooned page count after ballooning in", (long)gk_ballooned_pages());
    for (unsigned long i = 0; i < n; i++) {
        unsigned long mfn = gk_pfn_to_mfn(aux[i]);
        check(mfn != GK_INVALID_MFN, "p2m entry invalid after ballooning in", (long)aux[i]);
        check(gk_mfn_to_pfn(mfn) == aux[i], "M2P disagrees with the p2m", (long)mfn);
        mfns[i] = mfn;
    }
    /* New frames arrive zeroed and work. */
    rc = gk_map_range(TEST_VA, mfns, n, GK_PAGE_RW);
    check(rc == 0, "gk_map_range of the pages ballooned in", rc);
    for (unsigned long i = 0; i < n; i++) {
        volatile uint64_t *page = (volatile uint64_t *)(TEST_VA + i * GK_PAGE_SIZE);
        for (unsigned long w = 0; w < WORDS; w++)
            check(page[w] == 0, "a page ballooned in is not zeroed", (long)aux[i]);
        for (unsigned long w = 0; w < WORDS; w++)
            page[w] = pattern(mfns[i], w, 9);
    }
    for (unsigned long i = 0; i < n; i++) {
        const volatile uint64_t *page = (const volatile uint64_t *)(TEST_VA + i * GK_PAGE_SIZE);
        for (unsigned long w = 0; w < WORDS; w++)
            check(page[w] == pattern(mfns[i], w, 9), "pattern in a page ballooned in", (long)aux[i]);
    }
    rc = gk_unmap_range(TEST_VA, n);
    check(rc == 0, "gk_unmap_range after ballooning in", rc);
    gk_printf(P "ballooned in %lu pages: reservation back to %ld, p2m and M2P agree, zeroed and usable\n", n, again);
}

/* --------------------------------------------------------------------------------------- */

void gk_main(void)
{
    gk_traps_init();
    gk_set_trap_handler(GK_TRAP_PF, on_pf);

    const struct gk_mm_layout *l = gk_mm_layout();
    gk_printf(P "%lu pages, bootstrap mapping %lu pages (first free pfn %lu), %lu free (%lu mapped), "
              "reservation %ld of %ld, L4 mfn 0x%lx\n",
              l->nr_pages, l->mapped_pfns, l->first_free_pfn, gk_free_pages(), gk_free_mapped_pages(),
              gk_current_reservation(), gk_maximum_reservation(), l->kernel_l4);

    address_spaces();

    unsigned long pages = option("pages", DEFAULT_PAGES);
    unsigned long n = option("balloon", DEFAULT_BALLOON);
    int hold = option("hold", 0) != 0;
    if (pages > MAX_PAGES)
        pages = MAX_PAGES;
    if (n > MAX_PAGES)
        n = MAX_PAGES;
    /* Spare what page tables will need: the allocator's reserve, an L1 per
     * 512 pages for each of the two views, and a few upper tables. */
    unsigned long spare = 64 + gk_free_pages() / 128;
    unsigned long avail = gk_free_pages() > spare ? gk_free_pages() - spare : 0;
    if (pages > avail)
        pages = avail;
    check(pages >= 1, "no free pages for the mapping test", (long)avail);
    check(n >= 1 && n <= avail, "balloon= out of range for this domain", (long)n);

    mapping(pages);
    balloon(n, hold);

    gk_printf(P "all checks ok\n");
}
