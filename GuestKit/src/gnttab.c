/*
 * gnttab.c - grant tables, version 1: this domain's table (a ref
 * allocator over the frames setup_table gives, entries published and
 * revoked the Xen way) and thin wrappers for using other domains' grants.
 * See guestkit/gnttab.h for the model.
 */
#include <guestkit/guestkit.h>
#include <guestkit/gnttab.h>

/* The layouts this file and the hypervisor must agree on. */
_Static_assert(sizeof(grant_entry_v1_t) == 8, "grant_entry_v1 is 8 bytes");
_Static_assert(offsetof(grant_entry_v1_t, domid) == 2 && offsetof(grant_entry_v1_t, frame) == 4, "grant_entry_v1");
_Static_assert(sizeof(struct gnttab_map_grant_ref) == 32, "gnttab_map_grant_ref");
_Static_assert(offsetof(struct gnttab_map_grant_ref, status) == 18 &&
               offsetof(struct gnttab_map_grant_ref, handle) == 20 &&
               offsetof(struct gnttab_map_grant_ref, dev_bus_addr) == 24, "gnttab_map_grant_ref fields");
_Static_assert(sizeof(struct gnttab_unmap_grant_ref) == 24 &&
               offsetof(struct gnttab_unmap_grant_ref, handle) == 16 &&
               offsetof(struct gnttab_unmap_grant_ref, status) == 20, "gnttab_unmap_grant_ref");
_Static_assert(sizeof(struct gnttab_setup_table) == 24 && offsetof(struct gnttab_setup_table, status) == 8 &&
               offsetof(struct gnttab_setup_table, frame_list) == 16, "gnttab_setup_table");
_Static_assert(sizeof(struct gnttab_copy) == 40 && offsetof(struct gnttab_copy, source.domid) == 8 &&
               offsetof(struct gnttab_copy, source.offset) == 10 && offsetof(struct gnttab_copy, dest) == 16 &&
               offsetof(struct gnttab_copy, len) == 32 && offsetof(struct gnttab_copy, flags) == 34 &&
               offsetof(struct gnttab_copy, status) == 36, "gnttab_copy");
_Static_assert(sizeof(struct gnttab_query_size) == 16 && offsetof(struct gnttab_query_size, max_nr_frames) == 8 &&
               offsetof(struct gnttab_query_size, status) == 12, "gnttab_query_size");
_Static_assert(sizeof(struct gnttab_set_version) == 4, "gnttab_set_version");
_Static_assert(sizeof(struct gnttab_get_version) == 8 && offsetof(struct gnttab_get_version, version) == 4,
               "gnttab_get_version");
_Static_assert(sizeof(struct gnttab_transfer) == 24 && sizeof(struct gnttab_unmap_and_replace) == 24 &&
               sizeof(struct gnttab_swap_grant_ref) == 12 && sizeof(struct gnttab_get_status_frames) == 16 &&
               sizeof(struct gnttab_dump_table) == 4, "the other ops' structs");
_Static_assert(GK_GNTTAB_ENTRIES_PER_FRAME == 512, "512 v1 entries per frame");

#define WORD_BITS   64
#define PER_FRAME   GK_GNTTAB_ENTRIES_PER_FRAME
#define FIRST_REF   GNTTAB_NR_RESERVED_ENTRIES

static grant_entry_v1_t *const table = (grant_entry_v1_t *)GK_GNTTAB_VA;
static xen_pfn_t frames[GK_GNTTAB_MAX_FRAMES];
static unsigned int nr_frames, max_frames;
static uint64_t held[GK_GNTTAB_MAX_REFS / WORD_BITS];    /* bit set: ref taken (reserved refs always) */
static unsigned int hint = FIRST_REF;                     /* no free ref below it */
static gk_spinlock_t lock = GK_SPINLOCK_INIT;
static volatile int ready;

static inline int is_held(grant_ref_t ref) { return (held[ref / WORD_BITS] >> (ref % WORD_BITS)) & 1; }
static inline void hold(grant_ref_t ref) { held[ref / WORD_BITS] |= 1ULL << (ref % WORD_BITS); }
static inline void drop(grant_ref_t ref) { held[ref / WORD_BITS] &= ~(1ULL << (ref % WORD_BITS)); }

/* ---- the table's frames ------------------------------------------------------ */

/* Have the hypervisor make the table `want` frames long and map the new
 * frames after the ones already mapped. Lock held. */
static int grow(unsigned int want)
{
    struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = want };
    set_xen_guest_handle(st.frame_list, frames);
    int rc = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &st, 1);
    if (rc)
        return rc;
    if (st.status != GNTST_okay)
        return (st.status == GNTST_no_space || nr_frames) ? -XEN_ENOSPC : -XEN_EIO;
    rc = gk_map_range(GK_GNTTAB_VA + nr_frames * GK_PAGE_SIZE, &frames[nr_frames], want - nr_frames, GK_PAGE_RW);
    if (rc)
        return rc;
    nr_frames = want;
    return 0;
}

int gk_gnttab_init(void)
{
    if (ready)
        return 0;
    gk_spin_lock(&lock);
    int rc = 0;
    if (!ready) {
        struct gnttab_query_size q = { .dom = DOMID_SELF };
        rc = HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1);
        if (rc == 0 && q.status != GNTST_okay)
            rc = -XEN_EIO;
        if (rc == 0) {
            max_frames = q.max_nr_frames < GK_GNTTAB_MAX_FRAMES ? q.max_nr_frames : GK_GNTTAB_MAX_FRAMES;
            unsigned int first = q.nr_frames ? q.nr_frames : 1;
            if (first > max_frames)
                max_frames = first <= GK_GNTTAB_MAX_FRAMES ? first : GK_GNTTAB_MAX_FRAMES;
            for (grant_ref_t r = 0; r < FIRST_REF; r++)
                hold(r);
            rc = grow(first <= max_frames ? first : max_frames);
        }
        if (rc == 0)
            __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    gk_spin_unlock(&lock);
    return rc;
}

unsigned int gk_gnttab_nr_frames(void)
{
    return nr_frames;
}

unsigned int gk_gnttab_max_frames(void)
{
    return max_frames;
}

unsigned long gk_gnttab_frame(unsigned int i)
{
    return i < nr_frames ? frames[i] : GK_INVALID_MFN;
}

/* ---- refs ---------------------------------------------------------------------- */

/* A free ref, taken; grows the table when it is full. Lock held. */
static int take_any(void)
{
    for (;;) {
        unsigned int limit = nr_frames * PER_FRAME;
        for (unsigned int r = hint; r < limit; r++) {
            if (!is_held(r)) {
                hold(r);
                hint = r + 1;
                return (int)r;
            }
        }
        hint = limit;
        if (nr_frames >= max_frames)
            return -XEN_ENOSPC;
        int rc = grow(nr_frames + 1);
        if (rc)
            return rc;
    }
}

/* Take `ref` itself, growing the table to reach it. Lock held. */
static int take(grant_ref_t ref)
{
    if (ref < FIRST_REF || ref >= max_frames * PER_FRAME)
        return -XEN_EINVAL;
    while (ref >= nr_frames * PER_FRAME) {
        int rc = grow(nr_frames + 1);
        if (rc)
            return rc;
    }
    if (is_held(ref))
        return -XEN_EBUSY;
    hold(ref);
    return 0;
}

static void give_back(grant_ref_t ref)
{
    gk_spin_lock(&lock);
    drop(ref);
    if (ref < hint)
        hint = ref;
    gk_spin_unlock(&lock);
}

/* Domid and frame, a barrier, then the flags that make the entry live. */
static void publish(grant_ref_t ref, domid_t domid, unsigned long mfn, int readonly)
{
    grant_entry_v1_t *e = &table[ref];
    e->domid = domid;
    e->frame = (uint32_t)mfn;
    __atomic_store_n(&e->flags, (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0)), __ATOMIC_RELEASE);
}

int gk_gnttab_claim(grant_ref_t ref)
{
    int rc = gk_gnttab_init();
    if (rc)
        return rc;
    gk_spin_lock(&lock);
    rc = take(ref);
    gk_spin_unlock(&lock);
    return rc;
}

int gk_gnttab_set(grant_ref_t ref, domid_t domid, unsigned long mfn, int readonly)
{
    if (!ready || ref >= nr_frames * PER_FRAME || ref < FIRST_REF || !is_held(ref) || mfn > UINT32_MAX)
        return -XEN_EINVAL;
    publish(ref, domid, mfn, readonly);
    return 0;
}

int gk_gnttab_grant(domid_t domid, unsigned long mfn, int readonly)
{
    int rc = gk_gnttab_init();
    if (rc)
        return rc;
    if (mfn > UINT32_MAX)                     /* a v1 entry holds 32 bits of frame */
        return -XEN_EINVAL;
    gk_spin_lock(&lock);
    int ref = take_any();
    gk_spin_unlock(&lock);
    if (ref >= 0)
        publish((grant_ref_t)ref, domid, mfn, readonly);
    return ref;
}

int gk_gnttab_grant_at(grant_ref_t ref, domid_t domid, unsigned long mfn, int readonly)
{
    if (mfn > UINT32_MAX)
        return -XEN_EINVAL;
    int rc = gk_gnttab_claim(ref);
    if (rc == 0)
        publish(ref, domid, mfn, readonly);
    return rc;
}

int gk_gnttab_end(grant_ref_t ref)
{
    if (!ready || ref < FIRST_REF || ref >= nr_frames * PER_FRAME || !is_held(ref))
        return -XEN_EINVAL;
    uint16_t *flags = &table[ref].flags;
    uint16_t old = __atomic_load_n(flags, __ATOMIC_ACQUIRE);
    /* The hypervisor sets reading/writing under our feet: only a swap
     * from a value without them ends the grant. */
    do {
        if (old & (GTF_reading | GTF_writing))
            return -XEN_EBUSY;
    } while (!__atomic_compare_exchange_n(flags, &old, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE));
    give_back(ref);
    return 0;
}

unsigned int gk_gnttab_end_all(grant_ref_t *refs, unsigned int n, uint64_t patience_ns)
{
    uint64_t until = gk_now_ns() + patience_ns;
    for (;;) {
        unsigned int left = 0;
        for (unsigned int i = 0; i < n; i++) {
            if (refs[i] == 0)
                continue;
            if (gk_gnttab_end(refs[i]) == 0)
                refs[i] = 0;
            else
                left++;
        }
        if (left == 0 || gk_now_ns() >= until)
            return left;
        gk_sleep_ns(GK_NS_PER_MS);
    }
}

int gk_gnttab_end_and_free(grant_ref_t *refs, unsigned int nrefs, const unsigned long *pfns, unsigned int npages,
                           uint64_t patience_ns)
{
    unsigned int left = gk_gnttab_end_all(refs, nrefs, patience_ns);
    for (unsigned int i = 0; i < npages; i++) {
        if (i < nrefs && refs[i])
            continue;
        gk_free_pfn(pfns[i]);
    }
    return left ? -XEN_EBUSY : 0;
}

uint16_t gk_gnttab_flags(grant_ref_t ref)
{
    if (!ready || ref >= nr_frames * PER_FRAME)
        return 0;
    return __atomic_load_n(&table[ref].flags, __ATOMIC_ACQUIRE);
}

/* ---- using other domains' grants ------------------------------------------------ */

int gk_gnttab_map(domid_t dom, grant_ref_t ref, unsigned long va, int readonly, grant_handle_t *handle)
{
    struct gnttab_map_grant_ref op = {
        .host_addr = va,
        .flags = GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0),
        .ref = ref,
        .dom = dom,
    };
    int rc = gk_gnttab_map_batch(&op, 1);
    if (rc)
        return rc;
    if (op.status == GNTST_okay && handle)
        *handle = op.handle;
    return op.status;
}

int gk_gnttab_unmap(unsigned long va, grant_handle_t handle)
{
    struct gnttab_unmap_grant_ref op = { .host_addr = va, .handle = handle };
    int rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &op, 1);
    return rc ? rc : op.status;
}

/* `n` ops of `size` bytes each, GK_GNTTAB_BATCH per hypercall; stops at
 * the first hypercall that fails (the later ops are not issued). */
static int batched(unsigned int cmd, void *ops, size_t size, unsigned int n)
{
    for (unsigned int done = 0; done < n; done += GK_GNTTAB_BATCH) {
        unsigned int count = n - done < GK_GNTTAB_BATCH ? n - done : GK_GNTTAB_BATCH;
        int rc = HYPERVISOR_grant_table_op(cmd, (char *)ops + done * size, count);
        if (rc)
            return rc;
    }
    return 0;
}

int gk_gnttab_map_batch(struct gnttab_map_grant_ref *ops, unsigned int n)
{
    /* The hypervisor writes the L1 entry but never makes the tables above
     * it: have them, once per 2 MiB. A failure is left for the hypervisor
     * to report in the op's status (a bad address gets general_error). */
    unsigned long last = 1;
    for (unsigned int i = 0; i < n; i++) {
        if ((ops[i].flags & (GNTMAP_host_map | GNTMAP_contains_pte)) != GNTMAP_host_map)
            continue;
        unsigned long region = ops[i].host_addr >> 21;
        if (region != last) {
            gk_pt_populate(ops[i].host_addr & ~(GK_PAGE_SIZE - 1));
            last = region;
        }
    }
    return batched(GNTTABOP_map_grant_ref, ops, sizeof(*ops), n);
}

int gk_gnttab_unmap_batch(struct gnttab_unmap_grant_ref *ops, unsigned int n)
{
    return batched(GNTTABOP_unmap_grant_ref, ops, sizeof(*ops), n);
}

int gk_gnttab_copy(struct gnttab_copy *ops, unsigned int n)
{
    return batched(GNTTABOP_copy, ops, sizeof(*ops), n);
}

const char *gk_gnttab_status_name(int status)
{
    switch (status) {
    case GNTST_okay: return "GNTST_okay";
    case GNTST_general_error: return "GNTST_general_error";
    case GNTST_bad_domain: return "GNTST_bad_domain";
    case GNTST_bad_gntref: return "GNTST_bad_gntref";
    case GNTST_bad_handle: return "GNTST_bad_handle";
    case GNTST_bad_virt_addr: return "GNTST_bad_virt_addr";
    case GNTST_bad_dev_addr: return "GNTST_bad_dev_addr";
    case GNTST_no_device_space: return "GNTST_no_device_space";
    case GNTST_permission_denied: return "GNTST_permission_denied";
    case GNTST_bad_page: return "GNTST_bad_page";
    case GNTST_bad_copy_arg: return "GNTST_bad_copy_arg";
    case GNTST_address_too_big: return "GNTST_address_too_big";
    case GNTST_eagain: return "GNTST_eagain";
    case GNTST_no_space: return "GNTST_no_space";
    default: return "?";
    }
}
