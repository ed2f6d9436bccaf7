/*
 * chan-producer - the server end of a GuestKit chan (guestkit/chan.h):
 * streams deterministic data to chan-consumer and times it.
 *
 *   peer=<domid>        the consumer's domain (required)
 *   bytes=<n>           data to send (default 256 MiB)
 *   msg=<n>             bytes per gk_chan_write (default 64 KiB, at most 1 MiB)
 *   seed=<n>            the stream's seed (default 1; sent in the header)
 *   order=<n>           each data ring is 2^n pages (default 6: 256 KiB, at most 8)
 *   bench=grant         instead: grant pages=<n> pages (default 256) read-only
 *                       to the peer, send their refs over the chan, and wait
 *                       for the consumer's grant benchmark to finish
 *
 * Stream mode: serves the chan, waits (60 s at most) for the consumer to
 * connect, sends a struct stream_header, then starts the clock and sends
 * `bytes` bytes in `msg`-sized writes (each filled from the generator and
 * fed to the checksum, stream.h), waits until the consumer has read it
 * all (gk_chan_flush), stops the clock and prints
 *   chan-producer: sent <bytes> bytes in <ms> ms, <MiB/s> MiB/s, checksum <16 hex digits>
 *   chan-producer: <n> notifications, <n> waits, ring <KiB> KiB
 * then closes the chan (waiting for the consumer to close) and powers off.
 * Any failure: "chan-producer: FAILED <what> (<rc>)" and a crash.
 */
#include <guestkit/guestkit.h>
#include "stream.h"

#define P "chan-producer: "

#define MAX_MSG         (1UL << 20)
#define ACCEPT_NS       (60 * GK_NS_PER_SEC)
#define BENCH_VA        0x58000000UL       /* the benchmark's pages */
#define MAX_BENCH_PAGES 4096

static uint8_t msgbuf[MAX_MSG] __attribute__((aligned(4096)));
static grant_ref_t bench_refs[MAX_BENCH_PAGES];
static unsigned long bench_pfns[MAX_BENCH_PAGES];

static void failed(const char *what, long rc)
{
    gk_printf(P "FAILED %s (%ld)\n", what, rc);
    gk_shutdown(SHUTDOWN_crash);
}

static void send(struct gk_chan *c, const void *buf, size_t len, const char *what)
{
    long rc = gk_chan_write(c, buf, len);
    if (rc != (long)len)
        failed(what, rc);
}

static void stream(struct gk_chan *c, uint64_t bytes, size_t msg, uint64_t seed)
{
    struct stream_header h = { .magic = STREAM_MAGIC, .mode = MODE_STREAM, .msg = (uint32_t)msg,
                               .bytes = bytes, .seed = seed };
    send(c, &h, sizeof(h), "writing the header");

    struct stream_sum sum;
    sum_init(&sum);
    uint64_t t0 = gk_now_ns();
    for (uint64_t off = 0; off < bytes;) {
        size_t n = bytes - off < msg ? (size_t)(bytes - off) : msg;
        stream_fill(seed, off, msgbuf, n);
        sum_update(&sum, msgbuf, n);
        send(c, msgbuf, n, "gk_chan_write");
        off += n;
    }
    int rc = gk_chan_flush(c, 0);
    if (rc)
        failed("gk_chan_flush", rc);
    uint64_t ns = gk_now_ns() - t0;

    uint64_t ms, mib, tenths;
    rate(bytes, ns, &ms, &mib, &tenths);
    gk_printf(P "sent %lu bytes in %lu ms, %lu.%lu MiB/s, checksum %016lx\n", bytes, ms, mib, tenths,
              sum_final(&sum));
    struct gk_chan_stats st;
    gk_chan_stats(c, &st);
    gk_printf(P "%lu notifications, %lu waits, ring %u KiB\n", st.notifies, st.waits, gk_chan_ring_bytes(c) >> 10);
}

/* Grant `pages` pages (each filled from the stream at its own offset)
 * read-only to the peer, send the refs, and wait for the verdict. */
static void grant_bench(struct gk_chan *c, domid_t peer, unsigned long pages, uint64_t seed)
{
    if (pages == 0 || pages > MAX_BENCH_PAGES)
        failed("pages must be 1..4096", (long)pages);
    for (unsigned long i = 0; i < pages; i++) {
        long pfn = gk_alloc_pfn(0);
        if (pfn < 0)
            failed("gk_alloc_pfn", pfn);
        bench_pfns[i] = (unsigned long)pfn;
        int rc = gk_map(BENCH_VA + i * GK_PAGE_SIZE, gk_pfn_to_mfn((unsigned long)pfn), GK_PAGE_RW);
        if (rc)
            failed("gk_map", rc);
        stream_fill(seed, i * GK_PAGE_SIZE, (uint8_t *)(BENCH_VA + i * GK_PAGE_SIZE), GK_PAGE_SIZE);
        int ref = gk_gnttab_grant(peer, gk_pfn_to_mfn((unsigned long)pfn), 1);
        if (ref < 0)
            failed("gk_gnttab_grant", ref);
        bench_refs[i] = (grant_ref_t)ref;
    }
    struct stream_header h = { .magic = STREAM_MAGIC, .mode = MODE_GRANT_BENCH, .seed = seed,
                               .pages = (uint32_t)pages };
    send(c, &h, sizeof(h), "writing the header");
    send(c, bench_refs, pages * sizeof(grant_ref_t), "writing the refs");
    gk_printf(P "granted %lu pages read-only to domain %u (refs %u..%u)\n", pages, peer, bench_refs[0],
              bench_refs[pages - 1]);

    struct bench_reply r;
    long got = gk_chan_read(c, &r, sizeof(r));
    if (got != (long)sizeof(r))
        failed("reading the consumer's verdict", got);

    unsigned long ended = 0;
    for (unsigned long i = 0; i < pages; i++) {
        int rc = gk_gnttab_end(bench_refs[i]);
        if (rc)
            failed("gk_gnttab_end after the benchmark (still mapped?)", rc);
        ended++;
        gk_unmap(BENCH_VA + i * GK_PAGE_SIZE);
        gk_free_pfn(bench_pfns[i]);
    }
    if (r.verified != pages || !r.unmapped)
        failed("the consumer did not verify every page", (long)r.verified);
    gk_printf(P "grant benchmark: consumer verified %u pages, %lu grants ended\n", r.verified, ended);
}

void gk_main(void)
{
    unsigned long peer;
    if (!gk_cmdline_number("peer", &peer) || peer >= DOMID_FIRST_RESERVED)
        failed("needs peer=<domid>", 0);
    uint64_t bytes = arg("bytes", 256UL << 20);
    size_t msg = arg("msg", 64UL << 10);
    uint64_t seed = arg("seed", 1);
    unsigned long order = arg("order", GK_CHAN_DEFAULT_ORDER);
    if (msg == 0 || msg > MAX_MSG)
        failed("msg must be 1..1048576", (long)msg);

    gk_traps_init();
    struct gk_chan *c;
    int rc = gk_chan_serve((domid_t)peer, (unsigned int)order, &c);
    if (rc)
        failed("gk_chan_serve", rc);
    gk_printf(P "serving domain %lu: rendezvous at ref %u, rings of %u KiB, port %u\n", peer, GK_CHAN_REF,
              gk_chan_ring_bytes(c) >> 10, gk_chan_port(c));
    rc = gk_chan_accept(c, gk_now_ns() + ACCEPT_NS);
    if (rc)
        failed("the consumer never connected", rc);
    gk_printf(P "consumer connected\n");

    const char *bench = gk_cmdline_value("bench");
    if (bench && strncmp(bench, "grant", 5) == 0 && (bench[5] == ' ' || bench[5] == '\0'))
        grant_bench(c, (domid_t)peer, arg("pages", 256), seed);
    else if (bench)
        failed("bench must be grant", 0);
    else
        stream(c, bytes, msg, seed);

    rc = gk_chan_close(c);
    if (rc)
        failed("gk_chan_close", rc);
    gk_printf(P "closed\n");
}
