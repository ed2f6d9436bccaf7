/*
 * chan-consumer - the client end of a GuestKit chan (guestkit/chan.h):
 * reads what chan-producer sends and checks every byte.
 *
 *   peer=<domid>        the producer's domain (required; its rendezvous
 *                       page is at ref 8, nothing else is needed)
 *   chunk=<n>           bytes per gk_chan_read (default 64 KiB, at most 1 MiB)
 *   rounds=<n>          grant benchmark: timed passes over the pages (default 4)
 *
 * Connects (retrying for 30 s while the producer is not there yet) and
 * reads the struct stream_header (stream.h). Stream mode: starts the
 * clock, reads header.bytes bytes, checks each against its own generator
 * (seeded from the header) and feeds them to the checksum, stops the
 * clock, prints
 *   chan-consumer: received <bytes> bytes in <ms> ms, <MiB/s> MiB/s, checksum <16 hex digits> ok
 *   chan-consumer: <n> notifications, <n> waits, ring <KiB> KiB
 * (a byte that differs: "... checksum <hex> MISMATCH at byte <i>, expected
 * checksum <hex>" and a crash), closes and powers off.
 *
 * Grant benchmark mode (the producer ran with bench=grant): reads the
 * pages' refs, checks every page once through GNTTABOP_copy and once
 * through a map (untimed), then times `rounds` passes of, per page, one
 * GNTTABOP_copy of the 4 KiB into its own page, and one map_grant_ref +
 * reading the whole page + unmap_grant_ref, one op per hypercall; then the
 * same with every page in one batch (one copy call, one map call, one
 * unmap call per 512 pages). Prints
 *   chan-consumer: grant copy <us> us/page, grant map+unmap <us> us/page
 *   chan-consumer: batched <n> per call: grant copy <us> us/page, grant map+unmap <us> us/page
 * (us with two decimals), sends a struct bench_reply and closes.
 */
#include <guestkit/guestkit.h>
#include "../chan-producer/stream.h"

#define P "chan-consumer: "

#define MAX_CHUNK       (1UL << 20)
#define BENCH_VA        0x58000000UL       /* where granted pages are mapped */
#define MAX_BENCH_PAGES 4096

static uint8_t chunkbuf[MAX_CHUNK] __attribute__((aligned(4096)));
static uint8_t copy_page[4096] __attribute__((aligned(4096)));   /* GNTTABOP_copy's destination */
static grant_ref_t refs[MAX_BENCH_PAGES];
static struct gnttab_copy copies[MAX_BENCH_PAGES];
static struct gnttab_map_grant_ref maps[MAX_BENCH_PAGES];
static struct gnttab_unmap_grant_ref unmaps[MAX_BENCH_PAGES];
static volatile uint64_t sink;             /* keeps the page reads */

static void failed(const char *what, long rc)
{
    gk_printf(P "FAILED %s (%ld)\n", what, rc);
    gk_shutdown(SHUTDOWN_crash);
}

static void receive(struct gk_chan *c, void *buf, size_t len, const char *what)
{
    long rc = gk_chan_read(c, buf, len);
    if (rc != (long)len)
        failed(what, rc);
}

/* ---- stream ----------------------------------------------------------------------- */

static void stream(struct gk_chan *c, const struct stream_header *h, size_t chunk)
{
    struct stream_sum sum;
    sum_init(&sum);
    uint64_t bad = ~0UL;
    uint64_t t0 = gk_now_ns();
    for (uint64_t off = 0; off < h->bytes;) {
        size_t n = h->bytes - off < chunk ? (size_t)(h->bytes - off) : chunk;
        long got = gk_chan_read(c, chunkbuf, n);
        if (got < 0)
            failed("gk_chan_read", got);
        if ((size_t)got != n) {
            gk_printf(P "FAILED the stream ended after %lu of %lu bytes\n", off + (uint64_t)got, h->bytes);
            gk_shutdown(SHUTDOWN_crash);
        }
        if (bad == ~0UL) {
            size_t i = stream_check(h->seed, off, chunkbuf, n);
            if (i != n)
                bad = off + i;
        }
        sum_update(&sum, chunkbuf, n);
        off += n;
    }
    uint64_t ns = gk_now_ns() - t0;

    uint64_t ms, mib, tenths;
    rate(h->bytes, ns, &ms, &mib, &tenths);
    gk_printf(P "received %lu bytes in %lu ms, %lu.%lu MiB/s, checksum %016lx", h->bytes, ms, mib, tenths,
              sum_final(&sum));
    if (bad != ~0UL) {
        /* What the checksum should have been: the stream made afresh. */
        struct stream_sum want;
        sum_init(&want);
        for (uint64_t off = 0; off < h->bytes; off += chunk) {
            size_t n = h->bytes - off < chunk ? (size_t)(h->bytes - off) : chunk;
            stream_fill(h->seed, off, chunkbuf, n);
            sum_update(&want, chunkbuf, n);
        }
        gk_printf(" MISMATCH at byte %lu, expected checksum %016lx\n", bad, sum_final(&want));
        gk_shutdown(SHUTDOWN_crash);
    }
    gk_printf(" ok\n");
    struct gk_chan_stats st;
    gk_chan_stats(c, &st);
    gk_printf(P "%lu notifications, %lu waits, ring %u KiB\n", st.notifies, st.waits, gk_chan_ring_bytes(c) >> 10);
}

/* ---- grant benchmark --------------------------------------------------------------- */

static void set_copy(struct gnttab_copy *op, domid_t peer, grant_ref_t ref, unsigned long own_mfn)
{
    *op = (struct gnttab_copy){
        .source = { .u.ref = ref, .domid = peer, .offset = 0 },
        .dest = { .u.gmfn = own_mfn, .domid = DOMID_SELF, .offset = 0 },
        .len = GK_PAGE_SIZE,
        .flags = GNTCOPY_source_gref,
    };
}

static void set_map(struct gnttab_map_grant_ref *op, domid_t peer, grant_ref_t ref, unsigned long va)
{
    *op = (struct gnttab_map_grant_ref){ .host_addr = va, .flags = GNTMAP_host_map | GNTMAP_readonly,
                                         .ref = ref, .dom = peer };
}

static uint64_t read_page(unsigned long va)
{
    const uint64_t *w = (const uint64_t *)va;
    uint64_t x = 0;
    for (unsigned int i = 0; i < GK_PAGE_SIZE / 8; i++)
        x += w[i];
    return x;
}

static void one(int rc, int status, const char *what)
{
    if (rc)
        failed(what, rc);
    if (status) {
        gk_printf(P "FAILED %s: %s (%d)\n", what, gk_gnttab_status_name(status), status);
        gk_shutdown(SHUTDOWN_crash);
    }
}

/* A gk_gnttab_* result: 0, a GNTST_* code (-1..-13) or -XEN_Exxx. */
static void gnt_ok(int rc, const char *what)
{
    if (rc >= GNTST_no_space)
        one(0, rc, what);
    else
        one(rc, 0, what);
}

static void print_us(const char *label, uint64_t ns, unsigned long ops)
{
    uint64_t cus = ns / 10 / (ops ? ops : 1);      /* hundredths of a us per op */
    gk_printf("%s %lu.%02lu us/page", label, cus / 100, cus % 100);
}

static void grant_bench(struct gk_chan *c, domid_t peer, const struct stream_header *h, unsigned long rounds)
{
    unsigned long pages = h->pages;
    if (pages == 0 || pages > MAX_BENCH_PAGES)
        failed("the producer offers too many pages", (long)pages);
    receive(c, refs, pages * sizeof(grant_ref_t), "reading the refs");
    unsigned long own = gk_virt_to_mfn(copy_page);
    int rc = gk_pt_populate(BENCH_VA);
    if (rc)
        failed("gk_pt_populate", rc);

    /* Untimed: every page read both ways must be the producer's data. */
    unsigned long verified = 0;
    for (unsigned long i = 0; i < pages; i++) {
        set_copy(&copies[0], peer, refs[i], own);
        rc = HYPERVISOR_grant_table_op(GNTTABOP_copy, &copies[0], 1);
        one(rc, copies[0].status, "GNTTABOP_copy");
        int ok = stream_check(h->seed, i * GK_PAGE_SIZE, copy_page, GK_PAGE_SIZE) == GK_PAGE_SIZE;
        grant_handle_t hd;
        rc = gk_gnttab_map(peer, refs[i], BENCH_VA, 1, &hd);
        gnt_ok(rc, "map_grant_ref");
        ok &= stream_check(h->seed, i * GK_PAGE_SIZE, (const uint8_t *)BENCH_VA, GK_PAGE_SIZE) == GK_PAGE_SIZE;
        rc = gk_gnttab_unmap(BENCH_VA, hd);
        gnt_ok(rc, "unmap_grant_ref");
        if (!ok)
            failed("a granted page does not hold the producer's data, page", (long)i);
        verified++;
    }

    /* One op per hypercall. */
    uint64_t t0 = gk_now_ns();
    for (unsigned long r = 0; r < rounds; r++) {
        for (unsigned long i = 0; i < pages; i++) {
            set_copy(&copies[0], peer, refs[i], own);
            rc = HYPERVISOR_grant_table_op(GNTTABOP_copy, &copies[0], 1);
            if (rc || copies[0].status)
                one(rc, copies[0].status, "GNTTABOP_copy");
        }
    }
    uint64_t copy_ns = gk_now_ns() - t0;
    t0 = gk_now_ns();
    for (unsigned long r = 0; r < rounds; r++) {
        for (unsigned long i = 0; i < pages; i++) {
            set_map(&maps[0], peer, refs[i], BENCH_VA);
            rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &maps[0], 1);
            if (rc || maps[0].status)
                one(rc, maps[0].status, "map_grant_ref");
            sink += read_page(BENCH_VA);
            unmaps[0] = (struct gnttab_unmap_grant_ref){ .host_addr = BENCH_VA, .handle = maps[0].handle };
            rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &unmaps[0], 1);
            if (rc || unmaps[0].status)
                one(rc, unmaps[0].status, "unmap_grant_ref");
        }
    }
    uint64_t map_ns = gk_now_ns() - t0;
    gk_printf(P);
    print_us("grant copy", copy_ns, rounds * pages);
    print_us(", grant map+unmap", map_ns, rounds * pages);
    gk_printf("\n");

    /* Batched: all pages per call (GuestKit splits at 512). */
    for (unsigned long i = 0; i < pages; i++)
        gk_pt_populate(BENCH_VA + i * GK_PAGE_SIZE);
    t0 = gk_now_ns();
    for (unsigned long r = 0; r < rounds; r++) {
        for (unsigned long i = 0; i < pages; i++)
            set_copy(&copies[i], peer, refs[i], own);
        rc = gk_gnttab_copy(copies, (unsigned int)pages);
        for (unsigned long i = 0; i < pages; i++)
            one(rc, copies[i].status, "batched GNTTABOP_copy");
    }
    copy_ns = gk_now_ns() - t0;
    t0 = gk_now_ns();
    for (unsigned long r = 0; r < rounds; r++) {
        for (unsigned long i = 0; i < pages; i++)
            set_map(&maps[i], peer, refs[i], BENCH_VA + i * GK_PAGE_SIZE);
        rc = gk_gnttab_map_batch(maps, (unsigned int)pages);
        for (unsigned long i = 0; i < pages; i++) {
            one(rc, maps[i].status, "batched map_grant_ref");
            sink += read_page(BENCH_VA + i * GK_PAGE_SIZE);
            unmaps[i] = (struct gnttab_unmap_grant_ref){ .host_addr = maps[i].host_addr, .handle = maps[i].handle };
        }
        rc = gk_gnttab_unmap_batch(unmaps, (unsigned int)pages);
        for (unsigned long i = 0; i < pages; i++)
            one(rc, unmaps[i].status, "batched unmap_grant_ref");
    }
    map_ns = gk_now_ns() - t0;
    gk_printf(P "batched %lu per call:", pages < GK_GNTTAB_BATCH ? pages : (unsigned long)GK_GNTTAB_BATCH);
    print_us(" grant copy", copy_ns, rounds * pages);
    print_us(", grant map+unmap", map_ns, rounds * pages);
    gk_printf("\n");

    struct bench_reply reply = { .verified = (uint32_t)verified, .unmapped = 1 };
    long w = gk_chan_write(c, &reply, sizeof(reply));
    if (w != (long)sizeof(reply))
        failed("sending the verdict", w);
    rc = gk_chan_flush(c, gk_now_ns() + 10 * GK_NS_PER_SEC);
    if (rc)
        failed("gk_chan_flush", rc);
}

void gk_main(void)
{
    unsigned long peer;
    if (!gk_cmdline_number("peer", &peer) || peer >= DOMID_FIRST_RESERVED)
        failed("needs peer=<domid>", 0);
    size_t chunk = arg("chunk", 64UL << 10);
    if (chunk == 0 || chunk > MAX_CHUNK)
        failed("chunk must be 1..1048576", (long)chunk);

    gk_traps_init();
    struct gk_chan *c;
    int rc = gk_chan_connect((domid_t)peer, 0, &c);
    if (rc)
        failed("gk_chan_connect", rc);
    gk_printf(P "connected to domain %lu: rings of %u KiB, port %u\n", peer, gk_chan_ring_bytes(c) >> 10,
              gk_chan_port(c));

    struct stream_header h;
    receive(c, &h, sizeof(h), "reading the header");
    if (h.magic != STREAM_MAGIC)
        failed("the stream does not start with a stream_header", (long)h.magic);
    if (h.mode == MODE_STREAM)
        stream(c, &h, chunk);
    else if (h.mode == MODE_GRANT_BENCH)
        grant_bench(c, (domid_t)peer, &h, arg("rounds", 4));
    else
        failed("unknown mode in the header", h.mode);

    rc = gk_chan_close(c);
    if (rc)
        failed("gk_chan_close", rc);
    gk_printf(P "closed\n");
}
