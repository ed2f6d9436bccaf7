/*
 * mmu-attack - tries to break each rule of the PV MMU and checks the exact
 * answer, and that nothing changed.
 *
 * Rules (Xen's): a guest maps only frames it owns (and its shared_info);
 * page-table frames are never mapped writable and the guest cannot write
 * them directly (#PF with present+write while the writable-pagetables
 * assist is off); a table must validate (every entry allowed) before it is
 * pinned or linked; only a validated, pinned L4 can be the base pointer;
 * mmu_update only writes frames of the caller; the hypervisor's L4 slots
 * 256-271 are its own; no superpages (PSE in an L2/L3) and no reserved or
 * cache-attribute bits; list pointers and counts are checked as the list is
 * read, and pdone says how many requests were done.
 *
 * Where Xen answers differently from what this hypervisor is asked to
 * (Xen's get_page_from_l1e says -EBUSY for a frame it cannot take and
 * -EPERM for one that is not RAM, where -EINVAL is expected here), both are
 * accepted and the line says "(Xen's answer)" when Xen's came back.
 * Each refusal that changes something anyway is undone and reported.
 *
 * Output: "mmu-attack: <case> -> <rc> ok" per case (or "... FAILED"), then
 * "mmu-attack: all rules held" and poweroff, or "mmu-attack: FAILED: <n>
 * cases" and crash.
 */
#include <guestkit/guestkit.h>

#define P "mmu-attack: "

#define SCRATCH_VA      0x40000000UL        /* an L1 of our own for crafted entries */
#define LIST_VA         (SCRATCH_VA + 16 * GK_PAGE_SIZE)   /* its next page stays unmapped */
#define TARGET_VA       (SCRATCH_VA + 32 * GK_PAGE_SIZE)
#define NO_L1_VA        0x7f0000000000UL    /* nothing mapped anywhere near */
#define SENTINEL        0xdeadbeefU
#define NONE            1                   /* no alternative answer */
#define OTHER_DOMAIN    0x7fef              /* a domain id that is not ours (-EPERM; Xen: -ESRCH if absent) */

static int failures;

static unsigned long kernel_l4;             /* the bootstrap L4 */
static unsigned long scratch_l1;            /* the L1 mapping SCRATCH_VA */
static uint64_t scratch_entry;              /* machine address of SCRATCH_VA's L1 entry */
static unsigned long own_mfn, own2_mfn;     /* ordinary frames of ours, mapped nowhere */
static unsigned long foreign_mfn;           /* largest own MFN + 1000: not ours */
static unsigned long shared_info_mfn;

/* A page of .bss: mapped writable, so it can never be a page table. */
static uint8_t data_page[4096] __attribute__((aligned(4096)));

static const char *errname(long rc)
{
    switch (-rc) {
    case 0: return "0";
    case XEN_EPERM: return "EPERM";
    case XEN_ENOENT: return "ENOENT";
    case XEN_ESRCH: return "ESRCH";
    case XEN_ENOMEM: return "ENOMEM";
    case XEN_EACCES: return "EACCES";
    case XEN_EFAULT: return "EFAULT";
    case XEN_EBUSY: return "EBUSY";
    case XEN_EINVAL: return "EINVAL";
    case XEN_ENOSYS: return "ENOSYS";
    case XEN_EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "?";
    }
}

static void setup_failed(const char *what, long rc)
{
    gk_printf(P "FAILED setting up: %s (%ld)\n", what, rc);
    gk_shutdown(SHUTDOWN_crash);
}

/* rc must be `want`, or one of the alternatives (NONE = no alternative). */
static int expect(const char *what, long rc, long want, long alt1, long alt2)
{
    if (rc == want) {
        if (rc)
            gk_printf(P "%s -> %ld ok (%s)\n", what, rc, errname(rc));
        else
            gk_printf(P "%s -> 0 ok\n", what);
        return 1;
    }
    if ((alt1 != NONE && rc == alt1) || (alt2 != NONE && rc == alt2)) {
        gk_printf(P "%s -> %ld ok (%s, Xen's answer)\n", what, rc, errname(rc));
        return 1;
    }
    gk_printf(P "%s -> %ld (%s) expected %ld (%s) FAILED\n", what, rc, errname(rc), want, errname(want));
    failures++;
    return 0;
}

static long mmu1(uint64_t ptr, uint64_t val)
{
    struct mmu_update u = { .ptr = ptr, .val = val };
    return HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF);
}

static long ext1(unsigned int cmd, unsigned long arg1)
{
    struct mmuext_op op = { .cmd = cmd };
    op.arg1.mfn = arg1;
    return HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
}

static uint64_t pte(unsigned long mfn, uint64_t flags)
{
    return ((uint64_t)mfn << GK_PAGE_SHIFT) | flags;
}

/* The word at machine address `maddr` in one of our page tables (read
 * through its read-only bootstrap mapping). */
static uint64_t entry_at(uint64_t maddr)
{
    unsigned long pfn = gk_mfn_to_pfn(maddr >> GK_PAGE_SHIFT);
    const volatile uint64_t *t = pfn == GK_INVALID_PFN ? NULL : gk_pfn_to_virt(pfn);
    if (!t)
        setup_failed("a page table outside the bootstrap mapping", (long)(maddr >> GK_PAGE_SHIFT));
    return t[(maddr & (GK_PAGE_SIZE - 1)) / 8];
}

/* A refused mmu_update of the table entry at `maddr`: the answer, and the
 * entry must be as it was (put back if not). */
static void refused_update(const char *what, uint64_t maddr, uint64_t val, long want, long alt1, long alt2)
{
    uint64_t before = entry_at(maddr);
    long rc = mmu1(maddr + MMU_NORMAL_PT_UPDATE, val);
    expect(what, rc, want, alt1, alt2);
    uint64_t after = entry_at(maddr);
    if (after != before) {
        gk_printf(P "%s: entry changed from 0x%lx to 0x%lx FAILED\n", what, before, after);
        failures++;
        mmu1(maddr + MMU_NORMAL_PT_UPDATE, before);
    }
}

/* The same through update_va_mapping of SCRATCH_VA. */
static void refused_uvm(const char *what, uint64_t val, long want, long alt1, long alt2)
{
    uint64_t before = entry_at(scratch_entry);
    long rc = HYPERVISOR_update_va_mapping(SCRATCH_VA, val, UVMF_INVLPG);
    expect(what, rc, want, alt1, alt2);
    uint64_t after = entry_at(scratch_entry);
    if (after != before) {
        gk_printf(P "%s: entry changed from 0x%lx to 0x%lx FAILED\n", what, before, after);
        failures++;
        HYPERVISOR_update_va_mapping(SCRATCH_VA, before, UVMF_INVLPG);
    }
}

/* ---- a write that must fault ------------------------------------------------- */

__asm__(
    "   .pushsection .text.probes, \"ax\", @progbits\n"
    /* probe_write(addr, value) */
    "   .globl probe_write, write_fault, write_resume\n"
    "probe_write:\n"
    "write_fault:\n"
    "   movq %rsi, (%rdi)\n"
    "write_resume:\n"
    "   ret\n"
    "   .popsection\n");

void probe_write(volatile uint64_t *addr, uint64_t value);
extern char write_fault[], write_resume[];

static volatile int pf_count;
static volatile uint64_t pf_error, pf_cr2;

static void on_pf(struct gk_trap_frame *f)
{
    if (f->rip != (uint64_t)write_fault) {
        gk_printf(P "FAILED: unexpected page fault\n");
        gk_trap_dump(f);
        gk_shutdown(SHUTDOWN_crash);
    }
    pf_count++;
    pf_error = f->error_code;
    pf_cr2 = gk_vcpu_info->arch.cr2;
    f->rip = (uint64_t)write_resume;
}

/* A direct write of a table entry's own value: #PF, present+write. */
static void direct_write(const char *what, volatile uint64_t *addr)
{
    uint64_t v = *addr;
    pf_count = 0;
    probe_write(addr, v);
    if (pf_count == 1 && (pf_error & 3) == 3 && pf_cr2 == (uint64_t)addr && *addr == v) {
        gk_printf(P "%s -> #PF error 0x%lx ok (present+write)\n", what, pf_error);
        return;
    }
    gk_printf(P "%s -> %d page faults, error 0x%lx, cr2 0x%lx (expected one #PF with present+write at 0x%lx) FAILED\n",
              what, pf_count, pf_error, pf_cr2, (uint64_t)addr);
    failures++;
}

/* ---- the cases ---------------------------------------------------------------------- */

static void foreign_frames(void)
{
    long rc = mmu1(scratch_entry + MMU_NORMAL_PT_UPDATE, pte(own_mfn, GK_PAGE_RW));
    expect("map an own frame writable (control)", rc, 0, NONE, NONE);
    mmu1(scratch_entry + MMU_NORMAL_PT_UPDATE, 0);

    refused_update("map a frame it does not own (largest own MFN + 1000) writable", scratch_entry,
                   pte(foreign_mfn, GK_PAGE_RW), -XEN_EINVAL, -XEN_EBUSY, -XEN_EPERM);
    refused_update("map a frame it does not own (largest own MFN + 1000) read-only", scratch_entry,
                   pte(foreign_mfn, GK_PAGE_RO), -XEN_EINVAL, -XEN_EBUSY, -XEN_EPERM);
    refused_update("map MFN 0 (the M2P) read-only", scratch_entry, pte(0, GK_PAGE_RO),
                   -XEN_EINVAL, -XEN_EBUSY, -XEN_EPERM);
    refused_uvm("update_va_mapping to a frame it does not own", pte(foreign_mfn, GK_PAGE_RW),
                -XEN_EINVAL, -XEN_EBUSY, -XEN_EPERM);
}

static void page_tables_writable(void)
{
    refused_update("map its own L4 writable (mmu_update)", scratch_entry, pte(kernel_l4, GK_PAGE_RW),
                   -XEN_EINVAL, -XEN_EBUSY, NONE);
    refused_uvm("map its own L1 writable (update_va_mapping)", pte(scratch_l1, GK_PAGE_RW),
                -XEN_EINVAL, -XEN_EBUSY, NONE);

    /* Read-only is allowed, and shows the table as it is. */
    long rc = HYPERVISOR_update_va_mapping(SCRATCH_VA, pte(kernel_l4, GK_PAGE_RO), UVMF_INVLPG);
    int same = rc == 0 && memcmp((const void *)SCRATCH_VA, (const void *)gk_start_info->pt_base, GK_PAGE_SIZE) == 0;
    if (expect("map its own L4 read-only (allowed)", rc, 0, NONE, NONE) && !same) {
        gk_printf(P "read-only view of the L4 differs from pt_base FAILED\n");
        failures++;
    }
    HYPERVISOR_update_va_mapping(SCRATCH_VA, 0, UVMF_INVLPG);
}

static void direct_writes(void)
{
    /* Make sure the assist is off (a hypervisor without it may refuse). */
    long rc = HYPERVISOR_vm_assist(VMASST_CMD_disable, VMASST_TYPE_writable_pagetables);
    gk_printf(P "vm_assist(disable, writable_pagetables) -> %ld\n", rc);

    unsigned long l1_pfn = gk_mfn_to_pfn(scratch_l1);
    volatile uint64_t *l1 = gk_pfn_to_virt(l1_pfn);
    direct_write("direct write to its own L1", &l1[GK_PT_INDEX(SCRATCH_VA, 1)]);
    volatile uint64_t *l4 = (volatile uint64_t *)gk_start_info->pt_base;
    direct_write("direct write to its own L4", &l4[0]);
}

static void pinning(void)
{
    long pfn = gk_alloc_pfn(GK_ALLOC_MAPPED);
    if (pfn < 0)
        setup_failed("gk_alloc_pfn", pfn);
    uint64_t *t = gk_pfn_to_virt((unsigned long)pfn);
    unsigned long mfn = gk_pfn_to_mfn((unsigned long)pfn);
    long rc;

    memset(t, 0, GK_PAGE_SIZE);
    rc = ext1(MMUEXT_PIN_L1_TABLE, mfn);
    if (expect("pin an L1 that is still mapped writable", rc, -XEN_EINVAL, NONE, NONE) == 0 && rc == 0)
        ext1(MMUEXT_UNPIN_TABLE, mfn);

    t[5] = pte(foreign_mfn, GK_PAGE_RO);
    rc = HYPERVISOR_update_va_mapping((unsigned long)t, pte(mfn, GK_PAGE_RO), UVMF_INVLPG);
    if (rc)
        setup_failed("making the table page read-only", rc);
    rc = ext1(MMUEXT_PIN_L1_TABLE, mfn);
    if (expect("pin an L1 whose entry maps a frame it does not own", rc, -XEN_EINVAL, -XEN_EBUSY, -XEN_EPERM) == 0 &&
        rc == 0)
        ext1(MMUEXT_UNPIN_TABLE, mfn);
    /* Refused, so left untyped: it can be mapped writable again. */
    rc = HYPERVISOR_update_va_mapping((unsigned long)t, pte(mfn, GK_PAGE_RW), UVMF_INVLPG);
    expect("remap the refused table writable", rc, 0, NONE, NONE);

    /* The same frame with a valid entry: accepted, so the entry was the reason. */
    t[5] = pte(own_mfn, GK_PAGE_RO);
    rc = HYPERVISOR_update_va_mapping((unsigned long)t, pte(mfn, GK_PAGE_RO), UVMF_INVLPG);
    if (rc)
        setup_failed("making the table page read-only", rc);
    rc = ext1(MMUEXT_PIN_L1_TABLE, mfn);
    expect("pin the same L1 with an own frame instead (control)", rc, 0, NONE, NONE);
    rc = HYPERVISOR_update_va_mapping((unsigned long)t, pte(mfn, GK_PAGE_RW), UVMF_INVLPG);
    expect("map a pinned L1 writable", rc, -XEN_EINVAL, -XEN_EBUSY, NONE);
    rc = ext1(MMUEXT_PIN_L1_TABLE, mfn);
    expect("pin it again", rc, -XEN_EINVAL, NONE, NONE);
    rc = ext1(MMUEXT_UNPIN_TABLE, mfn);
    expect("unpin it (control)", rc, 0, NONE, NONE);
    rc = HYPERVISOR_update_va_mapping((unsigned long)t, pte(mfn, GK_PAGE_RW), UVMF_INVLPG);
    if (rc)
        setup_failed("mapping the unpinned table writable again", rc);
    gk_free_pfn((unsigned long)pfn);

    rc = ext1(MMUEXT_UNPIN_TABLE, scratch_l1);
    expect("unpin an L1 that is not pinned", rc, -XEN_EINVAL, NONE, NONE);
    rc = ext1(MMUEXT_PIN_L4_TABLE, kernel_l4);
    expect("pin the kernel L4, already pinned", rc, -XEN_EINVAL, NONE, NONE);
}

static void base_pointers(void)
{
    unsigned long data = gk_virt_to_mfn(data_page);
    long rc;

    rc = ext1(MMUEXT_NEW_BASEPTR, data);
    expect("NEW_BASEPTR with a data frame mapped writable", rc, -XEN_EINVAL, NONE, NONE);
    rc = ext1(MMUEXT_NEW_BASEPTR, scratch_l1);
    expect("NEW_BASEPTR with an L1 table", rc, -XEN_EINVAL, NONE, NONE);
    rc = ext1(MMUEXT_NEW_BASEPTR, 0);
    expect("NEW_BASEPTR with MFN 0 (not its own)", rc, -XEN_EINVAL, NONE, NONE);
    rc = ext1(MMUEXT_NEW_BASEPTR, foreign_mfn);
    expect("NEW_BASEPTR with a frame it does not own", rc, -XEN_EINVAL, NONE, NONE);
    rc = ext1(MMUEXT_NEW_USER_BASEPTR, data);
    expect("NEW_USER_BASEPTR with a data frame mapped writable", rc, -XEN_EINVAL, NONE, NONE);
    /* Still on the kernel L4: an update through it works. */
    rc = HYPERVISOR_update_va_mapping(SCRATCH_VA, 0, UVMF_INVLPG);
    if (rc)
        setup_failed("update_va_mapping after the NEW_BASEPTR attempts", rc);
}

static void foreign_targets(void)
{
    unsigned long m2p1 = gk_m2p(1);
    long rc = mmu1(((uint64_t)0 << GK_PAGE_SHIFT) + 8 + MMU_NORMAL_PT_UPDATE, 0x1234);
    expect("mmu_update with ptr in MFN 0 (the M2P, not its own)", rc, -XEN_EINVAL, NONE, NONE);
    if (gk_m2p(1) != m2p1) {
        gk_printf(P "M2P entry 1 changed to 0x%lx FAILED\n", gk_m2p(1));
        failures++;
    }
    rc = mmu1(((uint64_t)foreign_mfn << GK_PAGE_SHIFT) + MMU_NORMAL_PT_UPDATE, 0x1234);
    expect("mmu_update with ptr in a frame it does not own", rc, -XEN_EINVAL, NONE, NONE);

    /* Control: an ordinary frame of its own is written plainly. */
    rc = gk_map(SCRATCH_VA, own_mfn, GK_PAGE_RW);
    if (rc)
        setup_failed("gk_map", rc);
    volatile uint64_t *w = (volatile uint64_t *)SCRATCH_VA;
    w[1] = 0;
    rc = mmu1(((uint64_t)own_mfn << GK_PAGE_SHIFT) + 8 + MMU_NORMAL_PT_UPDATE, 0x1234);
    if (expect("mmu_update with ptr in an ordinary own frame (control)", rc, 0, NONE, NONE) && w[1] != 0x1234) {
        gk_printf(P "the word reads 0x%lx, not 0x1234 FAILED\n", w[1]);
        failures++;
    }
    gk_unmap(SCRATCH_VA);
}

static void hypervisor_slots(void)
{
    uint64_t base = (uint64_t)kernel_l4 << GK_PAGE_SHIFT;
    unsigned long first = gk_m2p(kernel_l4);
    refused_update("clear L4 slot 256 (the hypervisor's, M2P)", base + 256 * 8, 0, -XEN_EINVAL, NONE, NONE);
    refused_update("put an own L3 in L4 slot 271 (the hypervisor's)", base + 271 * 8, entry_at(base),
                   -XEN_EINVAL, NONE, NONE);
    refused_update("put an own L3 in L4 slot 262 (the hypervisor's)", base + 262 * 8, entry_at(base),
                   -XEN_EINVAL, NONE, NONE);
    if (gk_m2p(kernel_l4) != first) {
        gk_printf(P "M2P reads 0x%lx for the L4 afterwards FAILED\n", gk_m2p(kernel_l4));
        failures++;
    }
    long rc = HYPERVISOR_update_va_mapping(HYPERVISOR_VIRT_START, pte(own_mfn, GK_PAGE_RO), UVMF_INVLPG);
    expect("update_va_mapping of an address in the hypervisor range", rc, -XEN_EINVAL, NONE, NONE);
    rc = HYPERVISOR_update_va_mapping(NO_L1_VA, pte(own_mfn, GK_PAGE_RO), UVMF_INVLPG);
    expect("update_va_mapping of an address with no L1", rc, -XEN_EINVAL, NONE, NONE);
}

static void bad_bits(void)
{
    uint64_t maddr, e;
    /* An empty L2 slot (the 2 MiB after SCRATCH_VA's) and an empty L3 slot (2-3 GiB). */
    if (gk_pt_entry(SCRATCH_VA + (2UL << 20), 2, &maddr, &e) || e)
        setup_failed("finding an empty L2 slot", (long)e);
    refused_update("L2 entry with PSE (2 MiB superpage)", maddr,
                   pte(own_mfn & ~511UL, GK_PTE_PRESENT | GK_PTE_RW | GK_PTE_USER | GK_PTE_PSE),
                   -XEN_EINVAL, NONE, NONE);
    if (gk_pt_entry(0x80000000UL, 3, &maddr, &e) || e)
        setup_failed("finding an empty L3 slot", (long)e);
    refused_update("L3 entry with PSE (1 GiB page)", maddr,
                   pte(0, GK_PTE_PRESENT | GK_PTE_RW | GK_PTE_USER | GK_PTE_PSE), -XEN_EINVAL, NONE, NONE);
    if (gk_pt_entry(0x8000000000UL, 4, &maddr, &e) || e)
        setup_failed("finding an empty L4 slot", (long)e);
    uint64_t own_l3 = entry_at((uint64_t)kernel_l4 << GK_PAGE_SHIFT);
    refused_update("L4 entry with reserved bit 7", maddr, own_l3 | GK_PTE_PSE, -XEN_EINVAL, NONE, NONE);
    refused_update("L1 entry with address bit 51 (beyond physical memory)", scratch_entry,
                   pte(own_mfn, GK_PAGE_RW) | (1UL << 51), -XEN_EINVAL, -XEN_EPERM, NONE);
    refused_update("L1 entry with PCD (cache attribute)", scratch_entry, pte(own_mfn, GK_PAGE_RW | GK_PTE_PCD),
                   -XEN_EINVAL, NONE, NONE);
    refused_update("L1 entry with PAT (cache attribute)", scratch_entry, pte(own_mfn, GK_PAGE_RW | GK_PTE_PAT),
                   -XEN_EINVAL, NONE, NONE);
}

static void counts_and_pointers(void)
{
    /* A page whose next page is unmapped: one request at its very end. */
    uint64_t next;
    if (gk_lookup(LIST_VA + GK_PAGE_SIZE, &next) < 0 || next)
        setup_failed("the page after the list page is mapped", (long)next);
    long rc = gk_map(LIST_VA, own_mfn, GK_PAGE_RW);
    if (rc)
        setup_failed("gk_map", rc);
    uint64_t target, e;
    if (gk_pt_entry(TARGET_VA, 1, &target, &e) || e)
        setup_failed("finding an empty L1 slot", (long)e);

    struct mmu_update *req = (struct mmu_update *)(LIST_VA + GK_PAGE_SIZE - sizeof(*req));
    req->ptr = target + MMU_NORMAL_PT_UPDATE;
    req->val = pte(own2_mfn, GK_PAGE_RO);
    unsigned int done = SENTINEL;
    rc = HYPERVISOR_mmu_update(req, 0x7fffffff, &done, DOMID_SELF);
    uint64_t now = entry_at(target);
    int applied = (now & GK_PTE_PRESENT) && ((now & GK_PTE_ADDR_MASK) >> GK_PAGE_SHIFT) == own2_mfn;
    if (rc == -XEN_EFAULT && done == 1 && applied) {
        gk_printf(P "mmu_update count 0x7fffffff, one readable request -> %ld ok (pdone 1, the request done)\n", rc);
    } else if ((rc == -XEN_EINVAL || rc == -XEN_EFAULT) && (done == 0 || done == SENTINEL) && now == 0) {
        gk_printf(P "mmu_update count 0x7fffffff, one readable request -> %ld ok (refused whole, pdone %s)\n",
                  rc, done == 0 ? "0" : "untouched");
    } else {
        gk_printf(P "mmu_update count 0x7fffffff, one readable request -> %ld, pdone 0x%x, entry 0x%lx FAILED\n",
                  rc, done, now);
        failures++;
    }
    mmu1(target + MMU_NORMAL_PT_UPDATE, 0);

    struct mmuext_op *op = (struct mmuext_op *)(LIST_VA + GK_PAGE_SIZE - sizeof(*op));
    memset(op, 0, sizeof(*op));
    op->cmd = MMUEXT_TLB_FLUSH_LOCAL;
    done = SENTINEL;
    rc = HYPERVISOR_mmuext_op(op, 0x7fffffff, &done, DOMID_SELF);
    if (rc == -XEN_EFAULT && done == 1) {
        gk_printf(P "mmuext_op count 0x7fffffff, one readable op -> %ld ok (pdone 1)\n", rc);
    } else if ((rc == -XEN_EINVAL || rc == -XEN_EFAULT) && (done == 0 || done == SENTINEL)) {
        gk_printf(P "mmuext_op count 0x7fffffff, one readable op -> %ld ok (refused whole, pdone %s)\n",
                  rc, done == 0 ? "0" : "untouched");
    } else {
        gk_printf(P "mmuext_op count 0x7fffffff, one readable op -> %ld, pdone 0x%x FAILED\n", rc, done);
        failures++;
    }
    gk_unmap(LIST_VA);

    /* Two good requests, then one refused: pdone must say 2 and the first two stay done. */
    struct mmu_update three[3] = {
        { target + MMU_NORMAL_PT_UPDATE, pte(own2_mfn, GK_PAGE_RO) },
        { target + 8 + MMU_NORMAL_PT_UPDATE, pte(own2_mfn, GK_PAGE_RO) },
        { target + 16 + MMU_NORMAL_PT_UPDATE, pte(foreign_mfn, GK_PAGE_RO) },
    };
    done = SENTINEL;
    rc = HYPERVISOR_mmu_update(three, 3, &done, DOMID_SELF);
    int kept = entry_at(target) != 0 && entry_at(target + 8) != 0 && entry_at(target + 16) == 0;
    if (expect("mmu_update of 2 good requests then a bad one", rc, -XEN_EINVAL, -XEN_EBUSY, -XEN_EPERM) &&
        (done != 2 || !kept)) {
        gk_printf(P "pdone %u, first two %s FAILED\n", done, kept ? "done" : "not done");
        failures++;
    }
    mmu1(target + MMU_NORMAL_PT_UPDATE, 0);
    mmu1(target + 8 + MMU_NORMAL_PT_UPDATE, 0);
    mmu1(target + 16 + MMU_NORMAL_PT_UPDATE, 0);

    done = SENTINEL;
    rc = HYPERVISOR_mmu_update(NULL, 1, &done, DOMID_SELF);
    if (expect("mmu_update(NULL, 1)", rc, -XEN_EFAULT, NONE, NONE) && done != 0 && done != SENTINEL) {
        gk_printf(P "pdone %u FAILED\n", done);
        failures++;
    }
    rc = HYPERVISOR_mmuext_op(NULL, 1, NULL, DOMID_SELF);
    expect("mmuext_op(NULL, 1)", rc, -XEN_EFAULT, NONE, NONE);
    rc = HYPERVISOR_mmu_update((const struct mmu_update *)HYPERVISOR_VIRT_START, 1, NULL, DOMID_SELF);
    expect("mmu_update with the list in the hypervisor's range", rc, -XEN_EFAULT, NONE, NONE);
    rc = HYPERVISOR_mmu_update((const struct mmu_update *)0x8000000000000000UL, 1, NULL, DOMID_SELF);
    expect("mmu_update with a non-canonical list", rc, -XEN_EFAULT, NONE, NONE);
    done = SENTINEL;
    rc = HYPERVISOR_mmu_update(NULL, 0, &done, DOMID_SELF);
    if (expect("mmu_update(NULL, 0)", rc, 0, NONE, NONE) && done != 0) {
        gk_printf(P "pdone 0x%x, expected 0 FAILED\n", done);
        failures++;
    }
    struct mmu_update none = { target + MMU_NORMAL_PT_UPDATE, 0 };
    rc = HYPERVISOR_mmu_update(&none, 1, NULL, OTHER_DOMAIN);
    expect("mmu_update with another domain as foreigndom", rc, -XEN_EPERM, -XEN_ESRCH, NONE);
}

static void other_ops(void)
{
    long rc = ext1(14, 0);
    expect("mmuext_op command 14 (unassigned)", rc, -XEN_ENOSYS, NONE, NONE);
    rc = ext1(MMUEXT_MARK_SUPER, own_mfn);
    expect("MMUEXT_MARK_SUPER (withdrawn)", rc, -XEN_EOPNOTSUPP, NONE, NONE);
    rc = mmu1(scratch_entry + 5, 0);
    expect("mmu_update command 5", rc, -XEN_ENOSYS, NONE, NONE);

    /* Giving back what is not its own gives back nothing. */
    long before = gk_current_reservation();
    xen_pfn_t list[1] = { foreign_mfn };
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, list);
    rc = HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r);
    expect("decrease_reservation of a frame it does not own", rc, 0, NONE, NONE);
    list[0] = 0;
    rc = HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r);
    expect("decrease_reservation of MFN 0 (the M2P)", rc, 0, NONE, NONE);
    if (gk_current_reservation() != before) {
        gk_printf(P "reservation changed from %ld to %ld FAILED\n", before, gk_current_reservation());
        failures++;
    }
    r.domid = OTHER_DOMAIN;
    list[0] = 0;
    rc = HYPERVISOR_memory_op(XENMEM_populate_physmap, &r);
    expect("populate_physmap for another domain", rc, -XEN_EPERM, -XEN_ESRCH, NONE);
    rc = HYPERVISOR_memory_op(XENMEM_current_reservation, NULL);
    expect("current_reservation(NULL)", rc, -XEN_EFAULT, NONE, NONE);
}

/* --------------------------------------------------------------------------------------- */

static uint64_t l4_copy[512];

static void setup(void)
{
    kernel_l4 = gk_kernel_l4();
    shared_info_mfn = gk_start_info->shared_info >> GK_PAGE_SHIFT;
    memcpy(l4_copy, (const void *)gk_start_info->pt_base, sizeof(l4_copy));

    int rc = gk_pt_populate(SCRATCH_VA);
    if (rc)
        setup_failed("gk_pt_populate", rc);
    uint64_t e;
    rc = gk_pt_entry(SCRATCH_VA, 1, &scratch_entry, &e);
    if (rc || e)
        setup_failed("gk_pt_entry", rc ? rc : (long)e);
    scratch_l1 = scratch_entry >> GK_PAGE_SHIFT;

    long a = gk_alloc_pfn(0), b = gk_alloc_pfn(0);
    if (a < 0 || b < 0)
        setup_failed("gk_alloc_pfn", a < 0 ? a : b);
    own_mfn = gk_pfn_to_mfn((unsigned long)a);
    own2_mfn = gk_pfn_to_mfn((unsigned long)b);

    unsigned long largest = 0;
    for (unsigned long pfn = 0; pfn < gk_start_info->nr_pages; pfn++) {
        unsigned long m = gk_pfn_to_mfn(pfn);
        if (m != GK_INVALID_MFN && m > largest)
            largest = m;
    }
    foreign_mfn = largest + 1000;
    while (foreign_mfn == shared_info_mfn || gk_mfn_to_pfn(foreign_mfn) != GK_INVALID_PFN)
        foreign_mfn++;
    gk_printf(P "L4 mfn 0x%lx, scratch L1 mfn 0x%lx, own frames 0x%lx 0x%lx, largest own mfn 0x%lx, "
              "foreign mfn 0x%lx\n", kernel_l4, scratch_l1, own_mfn, own2_mfn, largest, foreign_mfn);
}

/* Nothing the attacks tried may have stuck. */
static void intact(long reservation)
{
    const volatile uint64_t *l4 = (const volatile uint64_t *)gk_start_info->pt_base;
    for (unsigned int slot = 0; slot < 512; slot++) {
        if (slot >= 256 && slot <= 271)
            continue;
        if (l4[slot] != l4_copy[slot]) {
            gk_printf(P "L4 slot %u changed from 0x%lx to 0x%lx FAILED\n", slot, l4_copy[slot], l4[slot]);
            failures++;
        }
    }
    unsigned long l1_pfn = gk_mfn_to_pfn(scratch_l1);
    const volatile uint64_t *l1 = gk_pfn_to_virt(l1_pfn);
    for (unsigned int i = 0; i < 512; i++) {
        if (l1[i]) {
            gk_printf(P "scratch L1 entry %u left at 0x%lx FAILED\n", i, l1[i]);
            failures++;
        }
    }
    if (gk_current_l4() != kernel_l4 || gk_current_reservation() != reservation) {
        gk_printf(P "base pointer or reservation changed FAILED\n");
        failures++;
    }
    if (!failures)
        gk_printf(P "L4, scratch L1, base pointer and reservation as they were\n");
}

void gk_main(void)
{
    gk_traps_init();
    gk_set_trap_handler(GK_TRAP_PF, on_pf);
    long reservation = gk_current_reservation();

    setup();
    foreign_frames();
    page_tables_writable();
    direct_writes();
    pinning();
    base_pointers();
    foreign_targets();
    hypervisor_slots();
    bad_bits();
    counts_and_pointers();
    other_ops();
    intact(reservation);

    if (failures) {
        gk_printf(P "FAILED: %d cases\n", failures);
        gk_shutdown(SHUTDOWN_crash);
    }
    gk_printf(P "all rules held\n");
}
