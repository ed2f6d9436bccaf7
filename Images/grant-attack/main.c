/*
 * grant-attack - two domains, one granting pages and one trying every way
 * to misuse grant tables; each answer must be Xen's.
 *
 *   role=granter peer=<attacker's domid>
 *   role=attacker peer=<granter's domid>
 *
 * The granter grants, at fixed refs, to the attacker (unless said):
 *    9  a page, read-write            13  a page, to another domain (0x7fe0)
 *   10  a page, read-only             14  nothing (claimed, never granted)
 *   11  one of its L1 page tables,    15  a mailbox page, read-write
 *       writable (GTF_readonly clear)
 *   12  a page it revokes on request
 * and says so in an info page granted read-only at ref 8 (with its event
 * channel port, table size, the read-write page's MFN, the L1's MFN and
 * entry 0). Then it works: every 10 ms it bumps a heartbeat in the info
 * page and checks that its L4, the granted L1 and the read-only page are
 * as they were, and it answers the attacker's mailbox commands (check the
 * read-write page, report a ref's flags, end a grant, finish). On finish
 * it ends every grant (0 expected: the attacker unmapped everything),
 * checks once more and prints
 *   grant-attack: granter intact: <n> heartbeats, page tables and read-only page unchanged, every grant ended
 *
 * The attacker maps ref 8 (retrying while the granter is not there yet),
 * binds the port, maps the mailbox, and runs the cases of the table in
 * Images/README.md, printing "grant-attack: <case> -> <answer> ok
 * (<name>)" for each. Any answer other than Xen's prints "... expected
 * <x> FAILED" and crashes the domain at once, the case named. At the end
 * it asks the granter to finish, unmaps the rest and prints
 *   grant-attack: <n> cases as Xen
 */
#include <guestkit/guestkit.h>

#define P "grant-attack: "

#define REF_INFO        GNTTAB_NR_RESERVED_ENTRIES     /* 8 */
#define REF_RW          9
#define REF_RO          10
#define REF_PT          11
#define REF_REVOKE      12
#define REF_OTHER       13
#define REF_NEVER       14
#define REF_MAILBOX     15
#define OTHER_DOMAIN    0x7fe0      /* a domid that is not the attacker's */
#define NO_DOMAIN       0x7fe1      /* a domid no domain has */

#define INFO_MAGIC      0x6b747461u /* "attk" */
#define BEAT_NS         (10 * GK_NS_PER_MS)
#define SILENCE_NS      (60 * GK_NS_PER_SEC)   /* granter: longest wait for a command */
#define ANSWER_NS       (10 * GK_NS_PER_SEC)   /* attacker: longest wait for an answer */

/* Mailbox commands. */
#define CMD_CHECK_RW    1       /* did the attacker's pattern arrive? write the reply */
#define CMD_FLAGS       2       /* result = flags of ref arg */
#define CMD_END         3       /* result = gk_gnttab_end(arg) */
#define CMD_FINISH      4       /* end the grants, last checks */

/* The granter's info page (ref 8). */
struct attack_info {
    uint32_t magic;             /* INFO_MAGIC, written last */
    evtchn_port_t port;         /* the granter's port for the attacker */
    uint32_t nr_frames;         /* the granter's table size, frames */
    uint32_t heartbeat;
    uint64_t rw_mfn;            /* the read-write page's frame */
    uint64_t pt_mfn;            /* the granted L1's frame */
    uint64_t pt_entry0;         /* that L1's entry 0 (maps the read-write page) */
};

/* The mailbox page (ref 15): the attacker writes cmd and arg, then seq;
 * the granter writes result, then done = seq. */
struct mailbox {
    uint32_t seq;
    uint32_t cmd;
    uint32_t arg;
    uint32_t done;
    int32_t result;
};

/* Where the read-write page's round trip happens in it. */
#define PATTERN_OFF     0
#define REPLY_OFF       2048
#define PATTERN_LEN     64

static domid_t peer;

static void failed(const char *what, long rc)
{
    gk_printf(P "FAILED %s (%ld)\n", what, rc);
    gk_shutdown(SHUTDOWN_crash);
}

static uint8_t pattern_byte(unsigned int i) { return (uint8_t)(0xa5 ^ (i * 7)); }
static uint8_t reply_byte(unsigned int i) { return (uint8_t)~pattern_byte(i); }
static uint8_t ro_byte(unsigned int i) { return (uint8_t)(0x22 + i % 61); }

/* ======================================================================================
 * The granter
 * ==================================================================================== */

#define GR_VA           0x40000000UL   /* its pages: rw, ro, revoke, mailbox, info */

static struct attack_info *info;
static struct mailbox *box;
static uint8_t *rw_page, *ro_page;
static unsigned long gr_l1;                 /* the L1 mapping GR_VA (granted at REF_PT) */
static uint64_t l4_snapshot[512], l1_snapshot[512];
static uint32_t beats;

static const volatile uint64_t *table_alias(unsigned long mfn)
{
    unsigned long pfn = gk_mfn_to_pfn(mfn);
    const volatile uint64_t *t = pfn == GK_INVALID_PFN ? NULL : gk_pfn_to_virt(pfn);
    if (!t)
        failed("a page table outside the bootstrap mapping", (long)mfn);
    return t;
}

/* Its L4, the granted L1 and the read-only page must be as set up. */
static void granter_check(void)
{
    const volatile uint64_t *l4 = table_alias(gk_kernel_l4());
    for (unsigned int i = 0; i < 512; i++) {
        if ((i < 256 || i > 271) && l4[i] != l4_snapshot[i]) {
            gk_printf(P "granter: L4 slot %u changed from 0x%lx to 0x%lx FAILED\n", i, l4_snapshot[i], l4[i]);
            gk_shutdown(SHUTDOWN_crash);
        }
    }
    const volatile uint64_t *l1 = table_alias(gr_l1);
    for (unsigned int i = 0; i < 512; i++) {
        if (l1[i] != l1_snapshot[i]) {
            gk_printf(P "granter: granted L1 entry %u changed from 0x%lx to 0x%lx FAILED\n", i, l1_snapshot[i], l1[i]);
            gk_shutdown(SHUTDOWN_crash);
        }
    }
    for (unsigned int i = 0; i < GK_PAGE_SIZE; i++) {
        if (ro_page[i] != ro_byte(i)) {
            gk_printf(P "granter: read-only page byte %u changed to 0x%x FAILED\n", i, ro_page[i]);
            gk_shutdown(SHUTDOWN_crash);
        }
    }
}

static unsigned long granter_page(unsigned int i, int fill)
{
    long pfn = gk_alloc_pfn(0);
    if (pfn < 0)
        failed("gk_alloc_pfn", pfn);
    unsigned long mfn = gk_pfn_to_mfn((unsigned long)pfn);
    int rc = gk_map(GR_VA + i * GK_PAGE_SIZE, mfn, GK_PAGE_RW);
    if (rc)
        failed("gk_map", rc);
    memset((void *)(GR_VA + i * GK_PAGE_SIZE), fill, GK_PAGE_SIZE);
    return mfn;
}

static void grant_at(grant_ref_t ref, domid_t to, unsigned long mfn, int readonly)
{
    int rc = gk_gnttab_grant_at(ref, to, mfn, readonly);
    if (rc)
        failed("gk_gnttab_grant_at", rc);
}

static int port_connected(evtchn_port_t port)
{
    struct evtchn_status st;
    return gk_evtchn_status(port, &st) == 0 && st.status == EVTCHNSTAT_interdomain;
}

static int32_t granter_command(uint32_t cmd, uint32_t arg)
{
    switch (cmd) {
    case CMD_CHECK_RW:
        for (unsigned int i = 0; i < PATTERN_LEN; i++)
            if (rw_page[PATTERN_OFF + i] != pattern_byte(i))
                return -1;
        for (unsigned int i = 0; i < PATTERN_LEN; i++)
            rw_page[REPLY_OFF + i] = reply_byte(i);
        return 0;
    case CMD_FLAGS:
        return gk_gnttab_flags(arg);
    case CMD_END:
        return gk_gnttab_end(arg);
    default:
        return -XEN_ENOSYS;
    }
}

static void granter(void)
{
    int rc = gk_gnttab_init();
    if (rc)
        failed("gk_gnttab_init", rc);

    unsigned long rw = granter_page(0, 0x11);
    unsigned long ro = granter_page(1, 0);
    unsigned long revoke = granter_page(2, 0x33);
    unsigned long mbox = granter_page(3, 0);
    unsigned long inf = granter_page(4, 0);
    unsigned long other = granter_page(5, 0x44);
    rw_page = (uint8_t *)GR_VA;
    ro_page = (uint8_t *)(GR_VA + GK_PAGE_SIZE);
    box = (struct mailbox *)(GR_VA + 3 * GK_PAGE_SIZE);
    info = (struct attack_info *)(GR_VA + 4 * GK_PAGE_SIZE);
    for (unsigned int i = 0; i < GK_PAGE_SIZE; i++)
        ro_page[i] = ro_byte(i);

    uint64_t maddr, entry0;
    if ((rc = gk_pt_entry(GR_VA, 1, &maddr, &entry0)))
        failed("gk_pt_entry", rc);
    gr_l1 = maddr >> GK_PAGE_SHIFT;

    int port = gk_evtchn_alloc_unbound(peer);
    if (port < 0)
        failed("EVTCHNOP_alloc_unbound", port);

    grant_at(REF_RW, peer, rw, 0);
    grant_at(REF_RO, peer, ro, 1);
    grant_at(REF_PT, peer, gr_l1, 0);
    grant_at(REF_REVOKE, peer, revoke, 0);
    grant_at(REF_OTHER, OTHER_DOMAIN, other, 0);
    if ((rc = gk_gnttab_claim(REF_NEVER)))
        failed("gk_gnttab_claim", rc);
    grant_at(REF_MAILBOX, peer, mbox, 0);

    info->port = (evtchn_port_t)port;
    info->nr_frames = gk_gnttab_nr_frames();
    info->rw_mfn = rw;
    info->pt_mfn = gr_l1;
    info->pt_entry0 = entry0;
    __atomic_store_n(&info->magic, INFO_MAGIC, __ATOMIC_RELEASE);
    grant_at(REF_INFO, peer, inf, 1);

    memcpy(l4_snapshot, (const void *)table_alias(gk_kernel_l4()), sizeof(l4_snapshot));
    memcpy(l1_snapshot, (const void *)table_alias(gr_l1), sizeof(l1_snapshot));
    gk_printf(P "granter: refs 9-15 granted to domain %u (L1 mfn 0x%lx at ref 11), info at ref 8, port %d\n",
              peer, gr_l1, port);

    /* Work: heartbeat, checks, commands, until told to finish. */
    uint64_t last_cmd = gk_now_ns();
    int connected = 0;
    for (;;) {
        __atomic_store_n(&info->heartbeat, ++beats, __ATOMIC_RELEASE);
        granter_check();
        uint32_t seq = __atomic_load_n(&box->seq, __ATOMIC_ACQUIRE);
        if (seq != box->done) {
            uint32_t cmd = box->cmd, arg = box->arg;
            last_cmd = gk_now_ns();
            if (cmd == CMD_FINISH)
                break;
            box->result = granter_command(cmd, arg);
            __atomic_store_n(&box->done, seq, __ATOMIC_RELEASE);
            gk_evtchn_send((evtchn_port_t)port);
            continue;
        }
        if (!connected)
            connected = port_connected((evtchn_port_t)port);
        else if (!port_connected((evtchn_port_t)port)) {
            gk_printf(P "granter: the attacker is gone (its port closed), stopping\n");
            return;
        }
        if (gk_now_ns() - last_cmd > SILENCE_NS)
            failed("granter: no command from the attacker for 60 s", 0);
        gk_evtchn_wait((evtchn_port_t)port, gk_now_ns() + BEAT_NS);
    }

    /* Finish: every grant but the two the attacker still needs must end now. */
    static const grant_ref_t now_refs[] = { REF_RW, REF_RO, REF_PT, REF_OTHER, REF_NEVER };
    int32_t result = 0;
    for (unsigned int i = 0; i < sizeof(now_refs) / sizeof(now_refs[0]); i++) {
        rc = gk_gnttab_end(now_refs[i]);
        if (rc && !result) {
            gk_printf(P "granter: ending ref %u -> %d FAILED\n", now_refs[i], rc);
            result = rc;
        }
    }
    if (gk_gnttab_flags(REF_REVOKE) != 0) {
        gk_printf(P "granter: ref 12 still has flags 0x%x after being ended FAILED\n", gk_gnttab_flags(REF_REVOKE));
        result = -1;
    }
    granter_check();
    box->result = result;
    __atomic_store_n(&box->done, box->seq, __ATOMIC_RELEASE);
    gk_evtchn_send((evtchn_port_t)port);
    if (result)
        failed("granter: grants still in use at the end", result);

    /* The attacker unmaps the info page and the mailbox once it has the answer. */
    uint64_t give_up = gk_now_ns() + 5 * GK_NS_PER_SEC;
    int left;
    do {
        left = 0;
        if (gk_gnttab_flags(REF_INFO) && gk_gnttab_end(REF_INFO))
            left++;
        if (gk_gnttab_flags(REF_MAILBOX) && gk_gnttab_end(REF_MAILBOX))
            left++;
        if (left)
            gk_sleep_ns(GK_NS_PER_MS);
    } while (left && gk_now_ns() < give_up);
    if (left)
        failed("granter: the attacker kept the info page or the mailbox mapped", left);
    granter_check();
    gk_printf(P "granter intact: %u heartbeats, page tables and read-only page unchanged, every grant ended\n", beats);
    gk_evtchn_close((evtchn_port_t)port);
}

/* ======================================================================================
 * The attacker
 * ==================================================================================== */

#define AT_VA           0x60000000UL   /* its grant maps (one L1) */
#define INFO_VA         (AT_VA + 0 * GK_PAGE_SIZE)
#define BOX_VA          (AT_VA + 1 * GK_PAGE_SIZE)
#define RW_VA           (AT_VA + 2 * GK_PAGE_SIZE)
#define TMP_VA          (AT_VA + 3 * GK_PAGE_SIZE)
#define TMP2_VA         (AT_VA + 4 * GK_PAGE_SIZE)
#define OTHER_L1_VA     (AT_VA + (4UL << 20))  /* another L1, for looking at a table */
#define NO_L1_VA        0x7f0000000000UL        /* no L1 anywhere near */
#define XEN_VA          (HYPERVISOR_VIRT_START + 0x1000)
#define NONCANON_VA     0x0000800000000000UL

static const struct attack_info *ginfo;
static struct attack_info seen;             /* our copy of the granter's info */
static volatile struct mailbox *mbox;
static evtchn_port_t aport;
static uint32_t mseq;
static int cases;
static uint8_t own_page[4096] __attribute__((aligned(4096)));
static struct gnttab_map_grant_ref many[513];

static const char *errname(long rc)
{
    switch (-rc) {
    case 0: return "0";
    case XEN_EPERM: return "EPERM";
    case XEN_EFAULT: return "EFAULT";
    case XEN_EBUSY: return "EBUSY";
    case XEN_EINVAL: return "EINVAL";
    case XEN_ENOSYS: return "ENOSYS";
    default: return "?";
    }
}

/* GTF_* flags as text, e.g. "permit|reading|writing". */
static const char *flag_names(long flags, char *buf, size_t size)
{
    static const struct { long bit; const char *name; } names[] = {
        { GTF_readonly, "readonly" }, { GTF_reading, "reading" }, { GTF_writing, "writing" },
    };
    const char *type = (flags & GTF_type_mask) == GTF_permit_access ? "permit" : (flags & GTF_type_mask) ? "other" : "invalid";
    size_t n = gk_snprintf(buf, size, "%s", type);
    for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if ((flags & names[i].bit) && n < size)
            n += gk_snprintf(buf + n, size - n, "|%s", names[i].name);
    return buf;
}

enum kind { ERRNO, STATUS_CODE, FLAGS };

static const char *name_of(long v, enum kind kind, char *buf, size_t size)
{
    return kind == STATUS_CODE ? gk_gnttab_status_name((int)v) : kind == FLAGS ? flag_names(v, buf, size) : errname(v);
}

/* One case: `got` must be `want` (or `alt`, Xen's own answer where it
 * differs; 1 = none), named as errnos, GNTST_* statuses or GTF_* flags. */
static void check(const char *what, long got, long want, long alt, enum kind kind)
{
    char g[64], w[64];
    cases++;
    if (got == want) {
        gk_printf(P "%s -> %ld ok (%s)\n", what, got, name_of(got, kind, g, sizeof(g)));
        return;
    }
    if (alt != 1 && got == alt) {
        gk_printf(P "%s -> %ld ok (%s, Xen's answer)\n", what, got, name_of(got, kind, g, sizeof(g)));
        return;
    }
    gk_printf(P "%s -> %ld (%s) expected %ld (%s) FAILED\n", what, got, name_of(got, kind, g, sizeof(g)), want,
              name_of(want, kind, w, sizeof(w)));
    gk_shutdown(SHUTDOWN_crash);
}

#define STATUS(what, got, want)     check(what, got, want, 1, STATUS_CODE)
#define RC(what, got, want)         check(what, got, want, 1, ERRNO)
#define FLAGS_ARE(what, got, want)  check(what, got, want, 1, FLAGS)

/* A fact a case relies on (not an answer): crash if it does not hold. */
static void require(int ok, const char *what)
{
    if (!ok) {
        gk_printf(P "%s FAILED\n", what);
        gk_shutdown(SHUTDOWN_crash);
    }
}

/* map_grant_ref with exactly these arguments; the hypercall must take it. */
static int map_raw(domid_t dom, grant_ref_t ref, uint64_t va, uint32_t flags, struct gnttab_map_grant_ref *out)
{
    struct gnttab_map_grant_ref op = { .host_addr = va, .flags = flags, .ref = ref, .dom = dom, .status = 0x7fff };
    int rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &op, 1);
    if (rc)
        failed("grant_table_op(GNTTABOP_map_grant_ref) refused the whole call", rc);
    if (out)
        *out = op;
    return op.status;
}

static int unmap_raw(uint64_t va, grant_handle_t handle)
{
    struct gnttab_unmap_grant_ref op = { .host_addr = va, .handle = handle, .status = 0x7fff };
    int rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &op, 1);
    if (rc)
        failed("grant_table_op(GNTTABOP_unmap_grant_ref) refused the whole call", rc);
    return op.status;
}

static int copy_raw(struct gnttab_copy *ops, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++)
        ops[i].status = 0x7fff;
    int rc = HYPERVISOR_grant_table_op(GNTTABOP_copy, ops, n);
    if (rc)
        failed("grant_table_op(GNTTABOP_copy) refused the whole call", rc);
    return ops[0].status;
}

static struct gnttab_copy copy_from_ref(grant_ref_t ref, domid_t dom, uint16_t off, uint16_t len)
{
    return (struct gnttab_copy){
        .source = { .u.ref = ref, .domid = dom, .offset = off },
        .dest = { .u.gmfn = gk_virt_to_mfn(own_page), .domid = DOMID_SELF, .offset = 0 },
        .len = len,
        .flags = GNTCOPY_source_gref,
    };
}

static int32_t command(uint32_t cmd, uint32_t arg)
{
    mbox->cmd = cmd;
    mbox->arg = arg;
    __atomic_store_n(&mbox->seq, ++mseq, __ATOMIC_RELEASE);
    gk_evtchn_send(aport);
    uint64_t give_up = gk_now_ns() + ANSWER_NS;
    while (__atomic_load_n(&mbox->done, __ATOMIC_ACQUIRE) != mseq) {
        if (gk_now_ns() >= give_up)
            failed("the granter did not answer command", cmd);
        gk_evtchn_wait(aport, gk_now_ns() + BEAT_NS);
    }
    return mbox->result;
}

/* ---- a write that must fault --------------------------------------------------------- */

__asm__(
    "   .pushsection .text.gaprobe, \"ax\", @progbits\n"
    "   .globl ga_probe_write, ga_write_at, ga_write_done\n"
    "ga_probe_write:\n"
    "ga_write_at:\n"
    "   movb %sil, (%rdi)\n"
    "ga_write_done:\n"
    "   ret\n"
    "   .popsection\n");

void ga_probe_write(volatile uint8_t *addr, uint8_t value);
extern char ga_write_at[], ga_write_done[];

static volatile int pf_count;
static volatile uint64_t pf_error, pf_cr2;

static void on_pf(struct gk_trap_frame *f)
{
    if (f->rip != (uint64_t)ga_write_at) {
        gk_printf(P "FAILED: unexpected page fault at rip 0x%lx, cr2 0x%lx\n", f->rip, gk_vcpu_info->arch.cr2);
        gk_shutdown(SHUTDOWN_crash);
    }
    pf_count++;
    pf_error = f->error_code;
    pf_cr2 = gk_vcpu_info->arch.cr2;
    f->rip = (uint64_t)ga_write_done;
}

/* ---- the cases ------------------------------------------------------------------------------ */

static void hypercall_level(void)
{
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, many, 513);
    RC("grant_table_op(map, 513 ops)", rc, -XEN_EINVAL);
    rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, NULL, 1);
    RC("grant_table_op(map, NULL, 1)", rc, -XEN_EFAULT);
    rc = HYPERVISOR_grant_table_op(GNTTABOP_copy, (void *)XEN_VA, 1);
    RC("grant_table_op(copy) with the ops in the hypervisor's range", rc, -XEN_EFAULT);
    struct gnttab_dump_table dump = { .dom = DOMID_SELF };
    rc = HYPERVISOR_grant_table_op(GNTTABOP_dump_table, &dump, 1);
    RC("GNTTABOP_dump_table (3)", rc, -XEN_ENOSYS);
    struct gnttab_swap_grant_ref swap = { .ref_a = 8, .ref_b = 9 };
    rc = HYPERVISOR_grant_table_op(GNTTABOP_swap_grant_ref, &swap, 1);
    RC("GNTTABOP_swap_grant_ref (11)", rc, -XEN_ENOSYS);
    rc = HYPERVISOR_grant_table_op(99, &dump, 1);
    RC("grant_table_op command 99", rc, -XEN_ENOSYS);

    struct gnttab_query_size q = { .dom = DOMID_SELF, .status = 0x7fff };
    rc = HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1);
    RC("GNTTABOP_query_size(DOMID_SELF)", rc, 0);
    STATUS("query_size status", q.status, GNTST_okay);
    require(q.nr_frames == 1 && q.max_nr_frames == 64, "query_size: an untouched table is 1 frame of at most 64");
    struct gnttab_get_version gv = { .dom = DOMID_SELF };
    rc = HYPERVISOR_grant_table_op(GNTTABOP_get_version, &gv, 1);
    RC("GNTTABOP_get_version", rc, 0);
    require(gv.version == 1, "get_version says 1");
    struct gnttab_set_version sv = { .version = 1 };
    rc = HYPERVISOR_grant_table_op(GNTTABOP_set_version, &sv, 1);
    RC("GNTTABOP_set_version(1)", rc, 0);
    sv.version = 2;
    rc = HYPERVISOR_grant_table_op(GNTTABOP_set_version, &sv, 1);
    RC("GNTTABOP_set_version(2) (v2 not supported)", rc, -XEN_ENOSYS);
    gv.version = 0;
    HYPERVISOR_grant_table_op(GNTTABOP_get_version, &gv, 1);
    require(gv.version == 1, "the version is still 1 after set_version(2)");

    static xen_pfn_t frames[65];
    struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 65, .status = 0x7fff };
    set_xen_guest_handle(st.frame_list, frames);
    rc = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &st, 1);
    RC("GNTTABOP_setup_table(65 frames)", rc, 0);
    STATUS("setup_table beyond the 64-frame maximum", st.status, GNTST_general_error);
    st = (struct gnttab_setup_table){ .dom = DOMID_SELF, .nr_frames = 2, .status = 0x7fff };
    set_xen_guest_handle(st.frame_list, frames);
    rc = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &st, 1);
    RC("GNTTABOP_setup_table(2 frames)", rc, 0);
    STATUS("setup_table growing its own table to 2 frames (control)", st.status, GNTST_okay);
    q.status = 0x7fff;
    HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1);
    require(q.nr_frames == 2 && frames[0] && frames[1] && frames[0] != frames[1],
            "query_size says 2 frames, setup_table listed two frames");
}

static grant_handle_t rw_handle;

static void good_maps(void)
{
    struct gnttab_map_grant_ref op;
    int st = map_raw(peer, REF_RW, RW_VA, GNTMAP_host_map, &op);
    STATUS("map the read-write grant writable (control)", st, GNTST_okay);
    rw_handle = op.handle;
    require(op.dev_bus_addr == seen.rw_mfn << GK_PAGE_SHIFT, "dev_bus_addr is the granted frame's machine address");

    /* Round trip: the granter sees our writes, we see its. */
    volatile uint8_t *rw = (volatile uint8_t *)RW_VA;
    require(rw[100] == 0x11, "the read-write page shows the granter's fill (0x11)");
    for (unsigned int i = 0; i < PATTERN_LEN; i++)
        rw[PATTERN_OFF + i] = pattern_byte(i);
    RC("write through the map; the granter reads it (CMD_CHECK_RW)", command(CMD_CHECK_RW, 0), 0);
    int back = 1;
    for (unsigned int i = 0; i < PATTERN_LEN; i++)
        back &= rw[REPLY_OFF + i] == reply_byte(i);
    require(back, "the granter's reply is visible through the map");
    gk_printf(P "round trip through the read-write grant: both sides see each other's writes\n");
    FLAGS_ARE("flags of the writably mapped grant", command(CMD_FLAGS, REF_RW),
       GTF_permit_access | GTF_reading | GTF_writing);

    st = map_raw(peer, REF_RW, TMP_VA, GNTMAP_host_map | GNTMAP_readonly, &op);
    STATUS("map the same grant again, read-only (control)", st, GNTST_okay);
    require(*(volatile uint8_t *)(TMP_VA + REPLY_OFF) == reply_byte(0), "the second map shows the same page");
    STATUS("unmap the second map", unmap_raw(TMP_VA, op.handle), GNTST_okay);
}

static void read_only(void)
{
    struct gnttab_map_grant_ref op;
    STATUS("map the read-only grant writable", map_raw(peer, REF_RO, TMP_VA, GNTMAP_host_map, NULL),
           GNTST_general_error);
    STATUS("map the read-only grant read-only (control)",
           map_raw(peer, REF_RO, TMP_VA, GNTMAP_host_map | GNTMAP_readonly, &op), GNTST_okay);
    const volatile uint8_t *ro = (const volatile uint8_t *)TMP_VA;
    int same = 1;
    for (unsigned int i = 0; i < GK_PAGE_SIZE; i++)
        same &= ro[i] == ro_byte(i);
    require(same, "the read-only map shows the granter's page");
    FLAGS_ARE("flags of the read-only mapped grant", command(CMD_FLAGS, REF_RO),
       GTF_permit_access | GTF_readonly | GTF_reading);

    pf_count = 0;
    ga_probe_write((volatile uint8_t *)TMP_VA + 5, 0x99);
    cases++;
    if (pf_count == 1 && (pf_error & 3) == 3 && pf_cr2 == TMP_VA + 5 && ro[5] == ro_byte(5))
        gk_printf(P "write through the read-only map -> #PF error 0x%lx ok (present+write)\n", pf_error);
    else {
        gk_printf(P "write through the read-only map -> %d faults, error 0x%lx, byte 0x%x FAILED\n", pf_count,
                  pf_error, ro[5]);
        gk_shutdown(SHUTDOWN_crash);
    }
    STATUS("unmap the read-only map", unmap_raw(TMP_VA, op.handle), GNTST_okay);
    FLAGS_ARE("its flags once unmapped", command(CMD_FLAGS, REF_RO), GTF_permit_access | GTF_readonly);
}

static void forged_refs(void)
{
    uint32_t ro_flags = GNTMAP_host_map | GNTMAP_readonly;
    STATUS("map a ref granted to another domain (0x7fe0)", map_raw(peer, REF_OTHER, TMP_VA, ro_flags, NULL),
           GNTST_general_error);
    STATUS("map a ref never granted (14)", map_raw(peer, REF_NEVER, TMP_VA, ro_flags, NULL), GNTST_general_error);
    STATUS("map reserved ref 0 (never granted)", map_raw(peer, 0, TMP_VA, ro_flags, NULL), GNTST_general_error);
    STATUS("map ref = the granter's table size", map_raw(peer, seen.nr_frames * 512, TMP_VA, ro_flags, NULL),
           GNTST_bad_gntref);
    STATUS("map ref 0xffffffff", map_raw(peer, 0xffffffffu, TMP_VA, ro_flags, NULL), GNTST_bad_gntref);
    STATUS("map from a domain that does not exist (0x7fe1)", map_raw(NO_DOMAIN, REF_RW, TMP_VA, ro_flags, NULL),
           GNTST_bad_domain);
    STATUS("map with neither GNTMAP_host_map nor GNTMAP_device_map", map_raw(peer, REF_RW, TMP_VA, 0, NULL),
           GNTST_bad_gntref);
    uint64_t maddr, e;
    require(gk_pt_entry(TMP_VA, 1, &maddr, &e) == 0, "TMP_VA has an L1");
    STATUS("map with GNTMAP_contains_pte (host_addr = a PTE's machine address)",
           map_raw(peer, REF_RW, maddr, GNTMAP_host_map | GNTMAP_contains_pte | GNTMAP_readonly, NULL),
           GNTST_general_error);
}

static void bad_addresses(void)
{
    uint32_t ro_flags = GNTMAP_host_map | GNTMAP_readonly;
    STATUS("map at an address in the hypervisor's range", map_raw(peer, REF_RW, XEN_VA, ro_flags, NULL),
           GNTST_general_error);
    STATUS("map at a non-canonical address", map_raw(peer, REF_RW, NONCANON_VA, ro_flags, NULL), GNTST_general_error);
    uint64_t pte;
    require(gk_lookup(NO_L1_VA, &pte) == -XEN_ENOENT, "no L1 at 0x7f0000000000");
    STATUS("map at an address with no L1", map_raw(peer, REF_RW, NO_L1_VA, ro_flags, NULL), GNTST_general_error);
}

static void page_table_grant(void)
{
    struct gnttab_map_grant_ref op;
    STATUS("map the granter's L1 page table (granted writable) writable",
           map_raw(peer, REF_PT, TMP_VA, GNTMAP_host_map, NULL), GNTST_general_error);
    STATUS("map the granter's L1 read-only (control)",
           map_raw(peer, REF_PT, TMP_VA, GNTMAP_host_map | GNTMAP_readonly, &op), GNTST_okay);
    uint64_t e0 = *(const volatile uint64_t *)TMP_VA;
    require((e0 & GK_PTE_ADDR_MASK) == (seen.pt_entry0 & GK_PTE_ADDR_MASK) && (e0 & GK_PTE_PRESENT),
            "the read-only view of the granter's L1 shows its entry 0");
    STATUS("unmap it", unmap_raw(TMP_VA, op.handle), GNTST_okay);
}

static void unmaps(void)
{
    struct gnttab_map_grant_ref op;
    STATUS("map the read-write grant read-only at a scratch address (control)",
           map_raw(peer, REF_RW, TMP_VA, GNTMAP_host_map | GNTMAP_readonly, &op), GNTST_okay);
    STATUS("unmap with the wrong host_addr", unmap_raw(TMP2_VA, op.handle), GNTST_general_error);
    STATUS("unmap with a handle never given (0x7ffffff0)", unmap_raw(TMP_VA, 0x7ffffff0u), GNTST_bad_handle);
    STATUS("unmap it properly (control)", unmap_raw(TMP_VA, op.handle), GNTST_okay);
    STATUS("unmap it again (double unmap)", unmap_raw(TMP_VA, op.handle), GNTST_bad_handle);
    uint64_t pte;
    gk_lookup(TMP_VA, &pte);
    require(pte == 0, "the unmapped address maps nothing");
}

static void revocation(void)
{
    struct gnttab_map_grant_ref op;
    STATUS("map the revocable grant read-only (control)",
           map_raw(peer, REF_REVOKE, TMP_VA, GNTMAP_host_map | GNTMAP_readonly, &op), GNTST_okay);
    RC("the granter ends it while it is mapped (gk_gnttab_end)", command(CMD_END, REF_REVOKE), -XEN_EBUSY);
    require(*(const volatile uint8_t *)TMP_VA == 0x33, "the map still works after the refused end");
    STATUS("unmap it", unmap_raw(TMP_VA, op.handle), GNTST_okay);
    RC("the granter ends it once unmapped", command(CMD_END, REF_REVOKE), 0);
    STATUS("map it after the granter ended access",
           map_raw(peer, REF_REVOKE, TMP_VA, GNTMAP_host_map | GNTMAP_readonly, NULL), GNTST_general_error);
}

static void copies(void)
{
    unsigned long own = gk_virt_to_mfn(own_page);
    struct gnttab_copy op[2];

    memset(own_page, 0, sizeof(own_page));
    op[0] = copy_from_ref(REF_RW, peer, 0, GK_PAGE_SIZE);
    STATUS("copy the read-write grant into an own page (control)", copy_raw(op, 1), GNTST_okay);
    require(own_page[PATTERN_OFF + 3] == pattern_byte(3) && own_page[REPLY_OFF + 3] == reply_byte(3),
            "the copy holds the round-trip bytes");

    own_page[0] = 0x5a;
    own_page[1] = 0xa5;
    op[0] = (struct gnttab_copy){
        .source = { .u.gmfn = own, .domid = DOMID_SELF, .offset = 0 },
        .dest = { .u.ref = REF_RW, .domid = peer, .offset = 1000 },
        .len = 2,
        .flags = GNTCOPY_dest_gref,
    };
    STATUS("copy an own page into the read-write grant (control)", copy_raw(op, 1), GNTST_okay);
    require(*(volatile uint8_t *)(RW_VA + 1000) == 0x5a && *(volatile uint8_t *)(RW_VA + 1001) == 0xa5,
            "the bytes arrived in the granter's page");
    op[0].dest.u.ref = REF_RO;
    STATUS("copy into the read-only grant", copy_raw(op, 1), GNTST_general_error);
    op[0] = copy_from_ref(REF_RO, peer, 0, GK_PAGE_SIZE);
    STATUS("copy from the read-only grant (control)", copy_raw(op, 1), GNTST_okay);
    require(own_page[77] == ro_byte(77), "the copy holds the read-only page");

    op[0] = copy_from_ref(REF_RW, peer, 4000, 200);
    STATUS("copy with source offset 4000 + len 200 > 4096", copy_raw(op, 1), GNTST_bad_copy_arg);
    op[0] = copy_from_ref(REF_RW, peer, 0, 200);
    op[0].dest.offset = 3900;
    STATUS("copy with dest offset 3900 + len 200 > 4096", copy_raw(op, 1), GNTST_bad_copy_arg);

    op[0] = copy_from_ref(0, peer, 0, 16);
    op[0].source = (struct gnttab_copy_ptr){ .u.gmfn = seen.rw_mfn, .domid = peer, .offset = 0 };
    op[0].flags = 0;
    STATUS("copy from the granter's raw frame (its domid + MFN, no grant)", copy_raw(op, 1), GNTST_permission_denied);
    op[0].source.domid = DOMID_SELF;
    check("copy from the granter's raw frame named as DOMID_SELF", copy_raw(op, 1), GNTST_permission_denied,
          GNTST_bad_page, STATUS_CODE);

    op[0] = copy_from_ref(REF_NEVER, peer, 0, 16);
    STATUS("copy from a ref never granted", copy_raw(op, 1), GNTST_general_error);
    op[0] = copy_from_ref(seen.nr_frames * 512 + 7, peer, 0, 16);
    STATUS("copy from a ref beyond the granter's table", copy_raw(op, 1), GNTST_bad_gntref);
    op[0] = copy_from_ref(REF_RW, NO_DOMAIN, 0, 16);
    STATUS("copy from a domain that does not exist", copy_raw(op, 1), GNTST_bad_domain);
    op[0] = copy_from_ref(REF_OTHER, peer, 0, 16);
    STATUS("copy from a ref granted to another domain", copy_raw(op, 1), GNTST_general_error);

    op[0] = copy_from_ref(REF_RW, peer, 0, 16);
    op[1] = copy_from_ref(REF_RW, peer, 4090, 16);
    copy_raw(op, 2);
    STATUS("copy batch of two: the good one", op[0].status, GNTST_okay);
    STATUS("copy batch of two: the one past the page", op[1].status, GNTST_bad_copy_arg);
}

/*
 * Map a grant at the address where one of its own page tables (an L1) is
 * mapped read-only. Xen replaces whatever that address mapped: the alias
 * then shows the granted page, never the table writable; refusing is
 * acceptable too. Either way the table must be unchanged.
 */
static void over_own_page_table(void)
{
    uint64_t maddr, e;
    require(gk_pt_entry(AT_VA, 1, &maddr, &e) == 0, "AT_VA has an L1");
    unsigned long table = maddr >> GK_PAGE_SHIFT;
    unsigned long pfn = gk_mfn_to_pfn(table);
    unsigned long alias = (unsigned long)gk_pfn_to_virt(pfn);
    require(pfn != GK_INVALID_PFN && alias, "the L1 has a bootstrap alias");
    uint64_t alias_entry, before;
    require(gk_pt_entry(alias, 1, &alias_entry, &before) == 0, "the alias's own L1 entry");
    require(alias_entry >> GK_PAGE_SHIFT != table, "the alias is mapped by another L1");
    require((before & GK_PTE_ADDR_MASK) >> GK_PAGE_SHIFT == table && !(before & GK_PTE_RW),
            "the alias maps the L1 read-only");
    static uint64_t snapshot[512];
    memcpy(snapshot, (const void *)alias, sizeof(snapshot));

    struct gnttab_map_grant_ref op;
    int st = map_raw(peer, REF_RW, alias, GNTMAP_host_map, &op);
    gk_invlpg(alias);
    uint64_t after;
    gk_pt_entry(alias, 1, &alias_entry, &after);
    unsigned long now_frame = (after & GK_PTE_ADDR_MASK) >> GK_PAGE_SHIFT;
    cases++;
    if ((after & GK_PTE_PRESENT) && now_frame == table && (after & GK_PTE_RW)) {
        gk_printf(P "map a grant over the address of its own L1 -> %d: the L1 is now mapped writable FAILED\n", st);
        gk_shutdown(SHUTDOWN_crash);
    }
    if (st == GNTST_okay) {
        require(now_frame == seen.rw_mfn, "the alias now maps the granted frame");
        require(*(volatile uint8_t *)(alias + REPLY_OFF) == reply_byte(0), "the alias shows the granted page");
        /* Look at the table through a read-only mapping of its own. */
        int rc = gk_map(OTHER_L1_VA, table, GK_PAGE_RO);
        require(rc == 0, "a read-only view of the L1 elsewhere");
        int same = memcmp(snapshot, (const void *)OTHER_L1_VA, sizeof(snapshot)) == 0;
        gk_unmap(OTHER_L1_VA);
        require(same, "the L1 is unchanged");
        gk_printf(P "map a grant over the address of its own L1 (read-only alias) -> 0 ok (the alias shows the "
                  "granted page; the L1 is unchanged and not mapped writable)\n");
        STATUS("unmap the grant from the alias", unmap_raw(alias, op.handle), GNTST_okay);
        rc = HYPERVISOR_update_va_mapping(alias, (table << GK_PAGE_SHIFT) | GK_PAGE_RO, UVMF_INVLPG);
        require(rc == 0, "the read-only alias of the L1 restored");
    } else if (st == GNTST_general_error) {
        require((after & (GK_PTE_ADDR_MASK | GK_PTE_PRESENT | GK_PTE_RW)) ==
                (before & (GK_PTE_ADDR_MASK | GK_PTE_PRESENT | GK_PTE_RW)), "the alias is as it was");
        require(memcmp(snapshot, (const void *)alias, sizeof(snapshot)) == 0, "the L1 is unchanged");
        gk_printf(P "map a grant over the address of its own L1 (read-only alias) -> -1 ok (GNTST_general_error, "
                  "refused, nothing changed)\n");
    } else {
        gk_printf(P "map a grant over the address of its own L1 (read-only alias) -> %d (%s) FAILED\n", st,
                  gk_gnttab_status_name(st));
        gk_shutdown(SHUTDOWN_crash);
    }
    gk_pt_entry(alias, 1, &alias_entry, &after);
    require((after & (GK_PTE_ADDR_MASK | GK_PTE_PRESENT | GK_PTE_RW)) ==
            (before & (GK_PTE_ADDR_MASK | GK_PTE_PRESENT | GK_PTE_RW)), "the alias is back as it was");
    require(memcmp(snapshot, (const void *)alias, sizeof(snapshot)) == 0, "the L1 reads as before through it");
}

static void attacker(void)
{
    gk_set_trap_handler(GK_TRAP_PF, on_pf);
    int rc = gk_pt_populate(AT_VA);
    if (rc)
        failed("gk_pt_populate", rc);

    /* The granter's info page: retry while it is not granted yet. */
    grant_handle_t info_h, box_h;
    uint64_t give_up = gk_now_ns() + 30 * GK_NS_PER_SEC;
    for (;;) {
        rc = gk_gnttab_map(peer, REF_INFO, INFO_VA, 1, &info_h);
        if (rc == GNTST_okay)
            break;
        if ((rc != GNTST_general_error && rc != GNTST_bad_gntref && rc != GNTST_bad_domain) || gk_now_ns() > give_up)
            failed("mapping the granter's info page (ref 8)", rc);
        gk_sleep_ns(10 * GK_NS_PER_MS);
    }
    ginfo = (const struct attack_info *)INFO_VA;
    require(__atomic_load_n(&ginfo->magic, __ATOMIC_ACQUIRE) == INFO_MAGIC, "the info page has its magic");
    memcpy(&seen, ginfo, sizeof(seen));
    rc = gk_evtchn_bind_interdomain(peer, seen.port);
    if (rc < 0)
        failed("EVTCHNOP_bind_interdomain", rc);
    aport = (evtchn_port_t)rc;
    gk_evtchn_clear(aport);
    rc = gk_gnttab_map(peer, REF_MAILBOX, BOX_VA, 0, &box_h);
    if (rc)
        failed("mapping the mailbox (ref 15)", rc);
    mbox = (volatile struct mailbox *)BOX_VA;
    mseq = mbox->done;
    uint32_t beat0 = __atomic_load_n(&ginfo->heartbeat, __ATOMIC_ACQUIRE);
    gk_printf(P "attacker: the granter (domain %u) has a %u-frame table, port %u, rw mfn 0x%lx, L1 mfn 0x%lx\n",
              peer, seen.nr_frames, seen.port, seen.rw_mfn, seen.pt_mfn);

    hypercall_level();
    good_maps();
    read_only();
    forged_refs();
    bad_addresses();
    page_table_grant();
    unmaps();
    revocation();
    copies();
    over_own_page_table();

    /* The granter kept working all along. */
    uint64_t until = gk_now_ns() + GK_NS_PER_SEC;
    while (__atomic_load_n(&ginfo->heartbeat, __ATOMIC_ACQUIRE) == beat0 && gk_now_ns() < until)
        gk_sleep_ns(BEAT_NS);
    require(__atomic_load_n(&ginfo->heartbeat, __ATOMIC_ACQUIRE) != beat0, "the granter's heartbeat advanced");

    STATUS("unmap the read-write grant", unmap_raw(RW_VA, rw_handle), GNTST_okay);
    FLAGS_ARE("its flags once unmapped", command(CMD_FLAGS, REF_RW), GTF_permit_access);
    RC("the granter ends every other grant (CMD_FINISH)", command(CMD_FINISH, 0), 0);
    STATUS("unmap the mailbox", unmap_raw(BOX_VA, box_h), GNTST_okay);
    STATUS("unmap the info page", unmap_raw(INFO_VA, info_h), GNTST_okay);
    gk_printf(P "%d cases as Xen\n", cases);
    gk_evtchn_close(aport);
}

/* Whether the command line has "key=value" (value a whole word). */
static int arg_is(const char *key, const char *value)
{
    const char *v = gk_cmdline_value(key);
    size_t len = strlen(value);
    return v && strncmp(v, value, len) == 0 && (v[len] == ' ' || v[len] == '\0');
}

void gk_main(void)
{
    unsigned long p;
    if (!gk_cmdline_number("peer", &p) || p >= DOMID_FIRST_RESERVED)
        failed("needs peer=<domid>", 0);
    peer = (domid_t)p;
    gk_traps_init();
    if (arg_is("role", "granter"))
        granter();
    else if (arg_is("role", "attacker"))
        attacker();
    else
        failed("needs role=granter or role=attacker", 0);
}
