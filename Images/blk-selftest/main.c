/*
 * blk-selftest - the block front end (GuestKit's blkfront.h) against the
 * host's blkif back end.
 *
 * Opens the first disk (device/vbd, lowest virtual-device) and prints
 * what the handshake found, and whether requests go indirect. A
 * read-write disk: writes a seeded pattern over the first `sectors=N`
 * sectors (default: all) in 2 MiB calls (indirect requests of up to
 * 1 MiB, 4 in flight, when the back end offers them; else up to 32
 * requests of 44 KiB in flight), flushes, reads everything back and
 * checks it, prints the checksum and the throughput. A read-only disk:
 * reads the region, prints its checksum, and checks that a write is
 * refused (and changed nothing). Then hand-built bad requests: a read
 * past the end, bogus grant refs, a read into a read-only grant (each
 * must fail alone, the ring carrying on); a write from a read-only grant
 * (allowed); on a read-write disk with feature-discard, a discard of the
 * region's last 8 sectors, which must read back as zeros, rewritten
 * afterwards (a barrier write, then a flush) so the disk holds the
 * pattern again. Finally closes the disk, opens it again (the back end
 * must accept a new connection), reads sector 0 once more and closes.
 *
 * Pattern: sector s holds the first 64 outputs of splitmix64 started
 * from state seed * 0x9e3779b97f4a7c15 + s (64-bit wrapping), each
 * stored little-endian. splitmix64's step: state += 0x9e3779b97f4a7c15;
 * z = state; z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9;
 * z = (z ^ z >> 27) * 0x94d049bb133111eb; output z ^ z >> 31.
 * Checksum: FNV-1a 64 over the region's bytes in disk order (h =
 * 0xcbf29ce484222325; per byte h ^= byte, h *= 0x100000001b3), i.e. over
 * the first sectors * 512 bytes of the image file.
 *
 * Command line: seed=N (default 1), sectors=N (default 0 = the whole
 * disk), wait (after the flush: print "blk-selftest: flushed, waiting"
 * and block forever, for a kill -9 durability test), indirect=N (at most
 * N pages per request; indirect=0: direct requests only, 11 pages).
 *
 * mode=random [ops=N] (hv bench blk; a read-write disk): instead of all
 * the above, N (default 4096) writes of one 4 KiB block each at random
 * block-aligned offsets of the region, then N reads of one block at the
 * same offsets in the same order, one request at a time (queue depth 1:
 * gk_blk_read/write return when their request is answered). Offsets:
 * block splitmix64(k) mod (region / 8) for k = 0 .. N-1, splitmix64
 * started from state seed * 0x9e3779b97f4a7c15 (the host's baseline in
 * BlockBenchmarks.swift draws the same). Block b's first 16 bytes hold
 * b and ~b (little-endian), the rest 0x5a, so each read is checked.
 * Prints "blk-selftest: random 4 KiB x <N>: write <w> IOPS, read <r>
 * IOPS (<us> / <us> us each)", the counters, closes and powers off.
 *
 * Any unexpected answer: `blk-selftest: FAIL <what> (<rc>)` and a crash.
 */
#include <guestkit/guestkit.h>
#include <guestkit/blkfront.h>

#define P "blk-selftest: "

#define SECTOR          GK_BLK_SECTOR_SIZE
#define CHUNK_SECTORS   4096UL                  /* 2 MiB per gk_blk_read/write call */
#define GAMMA           0x9e3779b97f4a7c15ULL
#define FNV_OFFSET      0xcbf29ce484222325ULL
#define FNV_PRIME       0x100000001b3ULL

static uint8_t buf[CHUNK_SECTORS * SECTOR] __attribute__((aligned(4096)));
static uint8_t page[4096] __attribute__((aligned(4096)));     /* granted read-only for the grant cases */
static uint8_t expected[SECTOR];

static struct gk_blk *disk;
static const struct gk_blk_info *info;
static uint64_t seed = 1;
static unsigned int max_segments;               /* gk_blk_open_segments' limit (0: GuestKit's default) */
static uint64_t region;                         /* sectors written / read */

static void fail(const char *what, long rc)
{
    gk_printf(P "FAIL %s (%ld)\n", what, rc);
    gk_shutdown(SHUTDOWN_crash);
}

static void failf(long rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(long rc, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    gk_vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    fail(what, rc);
}

/* ---- the pattern and the checksum ------------------------------------------------- */

static void fill_sector(uint8_t *dst, uint64_t sector)
{
    uint64_t state = seed * GAMMA + sector;
    for (unsigned int k = 0; k < SECTOR / 8; k++) {
        state += GAMMA;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        for (unsigned int b = 0; b < 8; b++)
            dst[k * 8 + b] = (uint8_t)(z >> (8 * b));
    }
}

static void fill(uint8_t *dst, uint64_t sector, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        fill_sector(dst + i * SECTOR, sector + i);
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* n sectors from `sector` must hold the pattern. */
static void verify(const uint8_t *src, uint64_t sector, uint64_t n, const char *what)
{
    for (uint64_t i = 0; i < n; i++) {
        fill_sector(expected, sector + i);
        if (memcmp(src + i * SECTOR, expected, SECTOR) != 0)
            failf((long)(sector + i), "%s: sector %lu does not hold the pattern", what, (unsigned long)(sector + i));
    }
}

/* "<MiB/s>" with one decimal, for `bytes` in `ns`. */
static void rate(char *out, size_t size, uint64_t bytes, uint64_t ns)
{
    uint64_t us = ns / 1000 ? ns / 1000 : 1;
    uint64_t tenths = (bytes / 1024) * 10000000ULL / (us * 1024);
    gk_snprintf(out, size, "%lu.%lu", (unsigned long)(tenths / 10), (unsigned long)(tenths % 10));
}

/* ---- the bulk passes ------------------------------------------------------------ */

static uint64_t write_ns, read_ns;

static uint64_t write_pattern(void)
{
    uint64_t h = FNV_OFFSET;
    for (uint64_t s = 0; s < region; s += CHUNK_SECTORS) {
        uint64_t n = region - s < CHUNK_SECTORS ? region - s : CHUNK_SECTORS;
        fill(buf, s, n);
        uint64_t t0 = gk_now_ns();
        int rc = gk_blk_write(disk, s, buf, n);
        write_ns += gk_now_ns() - t0;
        if (rc)
            failf(rc, "write of sectors %lu..%lu", (unsigned long)s, (unsigned long)(s + n - 1));
        h = fnv1a(h, buf, n * SECTOR);
    }
    return h;
}

/* Read the region; `check`: it must hold the pattern. Its checksum. */
static uint64_t read_region(int check)
{
    uint64_t h = FNV_OFFSET;
    for (uint64_t s = 0; s < region; s += CHUNK_SECTORS) {
        uint64_t n = region - s < CHUNK_SECTORS ? region - s : CHUNK_SECTORS;
        uint64_t t0 = gk_now_ns();
        int rc = gk_blk_read(disk, s, buf, n);
        read_ns += gk_now_ns() - t0;
        if (rc)
            failf(rc, "read of sectors %lu..%lu", (unsigned long)s, (unsigned long)(s + n - 1));
        if (check)
            verify(buf, s, n, "read back");
        h = fnv1a(h, buf, n * SECTOR);
    }
    return h;
}

/* ---- random 4 KiB blocks (mode=random) ---------------------------------------------- */

#define BLOCK           4096UL
#define BLOCK_SECTORS   (BLOCK / SECTOR)

/* The next output of splitmix64 (see the pattern above). */
static uint64_t splitmix64(uint64_t *state)
{
    *state += GAMMA;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void tag_block(uint8_t *dst, uint64_t block)
{
    uint64_t not_block = ~block;
    memcpy(dst, &block, 8);
    memcpy(dst + 8, &not_block, 8);
}

/* Operations per second, for `ops` in `ns`. */
static unsigned long per_second(uint64_t ops, uint64_t ns)
{
    return (unsigned long)(ops * GK_NS_PER_SEC / (ns ? ns : 1));
}

/* "<us>.<tenths>" per operation. */
static void per_op(char *out, size_t size, uint64_t ns, uint64_t ops)
{
    uint64_t tenths = ns / (ops ? ops : 1) / 100;
    gk_snprintf(out, size, "%lu.%lu", (unsigned long)(tenths / 10), (unsigned long)(tenths % 10));
}

static void random_blocks(uint64_t ops)
{
    uint64_t blocks = region / BLOCK_SECTORS;
    if (blocks == 0)
        fail("mode=random needs a region of at least 4 KiB", (long)region);
    if (info->readonly)
        fail("mode=random needs a read-write disk", 0);
    memset(buf, 0x5a, BLOCK);

    uint64_t state = seed * GAMMA;
    uint64_t t0 = gk_now_ns();
    for (uint64_t k = 0; k < ops; k++) {
        uint64_t b = splitmix64(&state) % blocks;
        tag_block(buf, b);
        int rc = gk_blk_write(disk, b * BLOCK_SECTORS, buf, BLOCK_SECTORS);
        if (rc)
            failf(rc, "random write %lu (block %lu)", (unsigned long)k, (unsigned long)b);
    }
    uint64_t wns = gk_now_ns() - t0;

    state = seed * GAMMA;
    t0 = gk_now_ns();
    for (uint64_t k = 0; k < ops; k++) {
        uint64_t b = splitmix64(&state) % blocks;
        int rc = gk_blk_read(disk, b * BLOCK_SECTORS, page, BLOCK_SECTORS);
        if (rc)
            failf(rc, "random read %lu (block %lu)", (unsigned long)k, (unsigned long)b);
        uint64_t got, not_got;
        memcpy(&got, page, 8);
        memcpy(&not_got, page + 8, 8);
        if (got != b || not_got != ~b || page[16] != 0x5a || page[BLOCK - 1] != 0x5a)
            failf((long)k, "random read of block %lu does not hold what was written there", (unsigned long)b);
    }
    uint64_t rns = gk_now_ns() - t0;

    char wus[24], rus[24];
    per_op(wus, sizeof(wus), wns, ops);
    per_op(rus, sizeof(rus), rns, ops);
    gk_printf(P "random 4 KiB x %lu: write %lu IOPS, read %lu IOPS (%s / %s us each)\n", (unsigned long)ops,
              per_second(ops, wns), per_second(ops, rns), wus, rus);
    const struct gk_blk_stats *st = gk_blk_stats(disk);
    gk_printf(P "%lu requests, %lu notifications, %lu waits\n", (unsigned long)st->requests,
              (unsigned long)st->notifications, (unsigned long)st->waits);
    int rc = gk_blk_close(disk);
    if (rc)
        fail("close", rc);
    gk_printf(P "done\n");
    gk_poweroff();
}

/* ---- hand-built requests ------------------------------------------------------------ */

/* A raw request of `op` at `sector`: one segment, sectors first..last of
 * page `gref`. Returns the response's status. */
static int raw(uint8_t op, uint64_t sector, grant_ref_t gref, uint8_t first, uint8_t last, unsigned int nseg)
{
    struct blkif_request req;
    memset(&req, 0, sizeof(req));
    req.operation = op;
    req.nr_segments = (uint8_t)nseg;
    req.handle = (blkif_vdev_t)info->devid;
    req.sector_number = sector;
    for (unsigned int i = 0; i < nseg; i++) {
        req.seg[i].gref = gref;
        req.seg[i].first_sect = first;
        req.seg[i].last_sect = last;
    }
    struct blkif_response rsp;
    int rc = gk_blk_raw(disk, &req, &rsp);
    if (rc)
        fail("a hand-built request got no answer", rc);
    if (rsp.operation != op)
        failf(rsp.operation, "the answer to a hand-built request of op %u names op %u", op, rsp.operation);
    return rsp.status;
}

static void expect_error(const char *what, int status)
{
    if (status != BLKIF_RSP_ERROR)
        failf(status, "%s: expected BLKIF_RSP_ERROR (-1)", what);
}

static void read_past_end(void)
{
    grant_ref_t gref;
    void *va;
    int rc = gk_blk_raw_page(disk, 0, &gref, &va);
    if (rc)
        fail("raw page", rc);
    /* Starting at the first sector after the disk; and one straddling the end. */
    expect_error("read at sector_number = sectors", raw(BLKIF_OP_READ, info->sectors, gref, 0, 0, 1));
    expect_error("read of the last sector and the one after",
                 raw(BLKIF_OP_READ, info->sectors - 1, gref, 0, 1, 1));
    gk_printf(P "read past the end -> error ok\n");
}

static void bogus_grants(void)
{
    /* A ref beyond this domain's grant table, and one inside it never granted. */
    grant_ref_t beyond = gk_gnttab_nr_frames() * 512 + 17;
    expect_error("read into grant ref past the table", raw(BLKIF_OP_READ, 0, beyond, 0, 7, 1));
    grant_ref_t unused = 0;
    for (grant_ref_t r = gk_gnttab_nr_frames() * 512 - 1; r >= GNTTAB_NR_RESERVED_ENTRIES; r--) {
        if (gk_gnttab_flags(r) == 0 && gk_gnttab_claim(r) == 0) {
            unused = r;         /* held, so nothing else grants it meanwhile; flags stay 0 */
            break;
        }
    }
    if (!unused)
        fail("no unused grant ref to try", 0);
    expect_error("read into a grant ref never granted", raw(BLKIF_OP_READ, 0, unused, 0, 7, 1));
    gk_gnttab_end(unused);
    gk_printf(P "bogus grant ref -> error ok\n");
}

/* A read needs a grant the back end may write. */
static void read_into_readonly_grant(void)
{
    memset(page, 0xa5, sizeof(page));
    int ref = gk_gnttab_grant(info->backend_id, gk_virt_to_mfn(page), 1);
    if (ref < 0)
        fail("grant a page read-only", ref);
    expect_error("read into a read-only grant", raw(BLKIF_OP_READ, 0, (grant_ref_t)ref, 0, 7, 1));
    for (unsigned int i = 0; i < sizeof(page); i++)
        if (page[i] != 0xa5)
            fail("a refused read changed the read-only page", (long)i);
    int rc = gk_gnttab_end((grant_ref_t)ref);
    if (rc)
        fail("end the read-only grant", rc);
    gk_printf(P "read into a read-only grant -> error ok\n");
}

/* A write may come from a read-only grant: zero the first sectors, write
 * the pattern back through one, read it. */
static void write_from_readonly_grant(void)
{
    uint64_t n = region < 8 ? region : 8;
    memset(buf, 0, n * SECTOR);
    int rc = gk_blk_write(disk, 0, buf, n);
    if (rc)
        fail("zero the first sectors", rc);
    fill(page, 0, n);
    int ref = gk_gnttab_grant(info->backend_id, gk_virt_to_mfn(page), 1);
    if (ref < 0)
        fail("grant a page read-only", ref);
    int status = raw(BLKIF_OP_WRITE, 0, (grant_ref_t)ref, 0, (uint8_t)(n - 1), 1);
    if (status != BLKIF_RSP_OKAY)
        fail("write from a read-only grant", status);
    rc = gk_gnttab_end((grant_ref_t)ref);
    if (rc)
        fail("end the read-only grant", rc);
    rc = gk_blk_read(disk, 0, buf, n);
    if (rc)
        fail("read after the write from a read-only grant", rc);
    verify(buf, 0, n, "write from a read-only grant");
    gk_printf(P "write from a read-only grant ok\n");
}

static void discard(void)
{
    if (!info->discard) {
        gk_printf(P "discard not offered, skipped\n");
        return;
    }
    if (region < 8) {
        gk_printf(P "discard skipped: fewer than 8 sectors\n");
        return;
    }
    uint64_t first = (region - 8) & ~7ULL;
    int rc = gk_blk_discard(disk, first, 8);
    if (rc)
        failf(rc, "discard of sectors %lu..%lu", (unsigned long)first, (unsigned long)(first + 7));
    rc = gk_blk_read(disk, first, buf, 8);
    if (rc)
        fail("read of the discarded sectors", rc);
    for (unsigned int i = 0; i < 8 * SECTOR; i++)
        if (buf[i] != 0)
            failf(buf[i], "discarded sector %lu reads non-zero at byte %u", (unsigned long)(first + i / SECTOR),
                  i % SECTOR);
    gk_printf(P "discard ok, reads back as zeros\n");

    /* Put the pattern back, so the image file matches the checksum. */
    fill(buf, first, 8);
    const char *how = "a barrier write";
    if (info->barrier) {
        rc = gk_blk_barrier_write(disk, first, buf, 8);
    } else {
        how = "a write";
        rc = gk_blk_write(disk, first, buf, 8);
    }
    if (rc)
        fail("rewrite of the discarded sectors", rc);
    if (info->flush && (rc = gk_blk_flush(disk)) != 0)
        fail("flush after the rewrite", rc);
    rc = gk_blk_read(disk, first, buf, 8);
    if (rc)
        fail("read of the rewritten sectors", rc);
    verify(buf, first, 8, "rewritten sectors");
    gk_printf(P "discarded sectors rewritten with %s%s\n", how, info->flush ? ", flushed" : "");
}

/* A read-only disk: a write is refused and changes nothing. */
static void write_refused(void)
{
    int rc = gk_blk_read(disk, 0, page, 1);
    if (rc)
        fail("read of sector 0", rc);
    memcpy(buf, page, SECTOR);
    for (unsigned int i = 0; i < SECTOR; i++)
        buf[i] ^= 0xff;
    rc = gk_blk_write(disk, 0, buf, 1);
    uint8_t op;
    int status = gk_blk_last_status(disk, &op);
    if (rc != -XEN_EROFS)
        fail("write to a read-only disk: expected -EROFS (-30)", rc);
    if (status != BLKIF_RSP_ERROR || op != BLKIF_OP_WRITE)
        failf(status, "write to a read-only disk: status of op %u, expected BLKIF_RSP_ERROR", op);
    rc = gk_blk_read(disk, 0, buf, 1);
    if (rc)
        fail("read of sector 0 after the refused write", rc);
    if (memcmp(buf, page, SECTOR) != 0)
        fail("a refused write changed sector 0", 0);
    gk_printf(P "write to a read-only disk refused ok\n");
}

/* The back end takes a new connection after a close. */
static void reopen(void)
{
    int rc = gk_blk_read(disk, 0, page, 1);
    if (rc)
        fail("read of sector 0", rc);
    unsigned int devid = info->devid;
    rc = gk_blk_close(disk);
    if (rc)
        fail("close", rc);
    rc = gk_blk_open_segments(devid, max_segments, &disk);
    if (rc)
        fail("open again after the close", rc);
    info = gk_blk_info(disk);
    rc = gk_blk_read(disk, 0, buf, 1);
    if (rc)
        fail("read of sector 0 after opening again", rc);
    if (memcmp(buf, page, SECTOR) != 0)
        fail("sector 0 reads differently after opening again", 0);
    rc = gk_blk_close(disk);
    if (rc)
        fail("second close", rc);
    gk_printf(P "closed, opened again (ring-ref %u, port %u), sector 0 reads the same, closed\n",
              info->ring_ref, info->port);
}

void gk_main(void)
{
    unsigned long v;
    if (gk_cmdline_number("seed", &v))
        seed = v;
    if (gk_cmdline_value("indirect")) {
        if (!gk_cmdline_number("indirect", &v) || v > 0xffff)
            fail("indirect=N (0: direct requests only)", -XEN_EINVAL);
        max_segments = v ? (unsigned int)v : GK_BLK_SEGMENTS;
    }
    int rc = gk_blk_open_segments(GK_BLK_ANY, max_segments, &disk);
    if (rc)
        fail("open the first disk", rc);
    info = gk_blk_info(disk);
    gk_printf(P "disk %u: %lu sectors of %u bytes, %s, features flush=%d barrier=%d discard=%d\n",
              info->devid, (unsigned long)info->sectors, info->sector_size, info->readonly ? "ro" : "rw",
              info->flush, info->barrier, info->discard);
    gk_printf(P "backend %s (domain %u), ring-ref %u, event channel %u\n", info->backend,
              info->backend_id, info->ring_ref, info->port);
    if (info->segments > GK_BLK_SEGMENTS)
        gk_printf(P "indirect requests of up to %u segments (feature-max-indirect-segments %u)\n", info->segments,
                  info->max_indirect_segments);
    else
        gk_printf(P "direct requests only (feature-max-indirect-segments %u)\n", info->max_indirect_segments);

    region = info->sectors;
    if (gk_cmdline_number("sectors", &v) && v && v < region)
        region = v;
    if (region == 0)
        fail("the disk has no sectors", 0);
    const char *mode = gk_cmdline_value("mode");
    if (mode && strncmp(mode, "random", 6) == 0 && (mode[6] == ' ' || mode[6] == '\0')) {
        unsigned long ops = 4096;
        if (gk_cmdline_value("ops") && (!gk_cmdline_number("ops", &ops) || ops == 0))
            fail("ops=N (at least 1)", -XEN_EINVAL);
        random_blocks(ops);
    } else if (mode) {
        fail("mode=random is the only mode", -XEN_EINVAL);
    }
    char wr[32], rd[32];

    if (!info->readonly) {
        uint64_t written = write_pattern();
        if (!info->flush)
            fail("the back end offers no flush (feature-flush-cache)", 0);
        rc = gk_blk_flush(disk);
        if (rc)
            fail("flush", rc);
        gk_printf(P "wrote %lu sectors, flushed\n", (unsigned long)region);
        gk_printf(P "checksum of the data written %016lx\n", (unsigned long)written);
        if (gk_cmdline_has("wait")) {
            gk_printf(P "flushed, waiting\n");
            for (;;)
                gk_sleep_ns(GK_NS_PER_SEC);
        }
        uint64_t h = read_region(1);
        if (h != written)
            fail("checksum of the data read differs from the data written", 0);
        gk_printf(P "read back %lu sectors ok, checksum %016lx\n", (unsigned long)region, (unsigned long)h);
        rate(wr, sizeof(wr), region * SECTOR, write_ns);
        rate(rd, sizeof(rd), region * SECTOR, read_ns);
        gk_printf(P "write %s MiB/s, read %s MiB/s\n", wr, rd);
    } else {
        uint64_t h = read_region(0);
        gk_printf(P "read %lu sectors, checksum %016lx\n", (unsigned long)region, (unsigned long)h);
        rate(rd, sizeof(rd), region * SECTOR, read_ns);
        gk_printf(P "read %s MiB/s\n", rd);
    }
    const struct gk_blk_stats *st = gk_blk_stats(disk);
    gk_printf(P "%lu requests, %lu notifications, %lu waits\n", (unsigned long)st->requests,
              (unsigned long)st->notifications, (unsigned long)st->waits);

    read_past_end();
    bogus_grants();
    read_into_readonly_grant();
    if (!info->readonly) {
        write_from_readonly_grant();
        discard();
    } else {
        write_refused();
    }
    reopen();
    gk_printf(P "done\n");
    gk_poweroff();
}
