/*
 * stream.h - what chan-producer sends and chan-consumer checks: the
 * header that opens the stream, the deterministic data, and its checksum.
 * (Shared by the two images; chan-consumer includes it from here.)
 *
 * Data. Byte i of a stream with seed s is byte (i % 8) (little-endian) of
 * word(s, i / 8), where word(s, k) is a counter-based mix:
 *     w = (k + s) * 0x9e3779b97f4a7c15;  w ^= w >> 29;
 *     w *= 0xbf58476d1ce4e5b9;           w ^= w >> 32;
 * so any part can be made (or checked) without the rest.
 *
 * Checksum ("FNV-1a-64, 4 lanes over 64-bit words"): the stream is cut
 * into little-endian 64-bit words (the last one zero-padded); word k goes
 * into lane k % 4 as h[lane] = (h[lane] ^ word) * 0x100000001b3, lanes
 * starting at 0xcbf29ce484222325 + lane. The result folds the lanes and
 * the length the same way: r = 0xcbf29ce484222325; for each lane
 * r = (r ^ h[lane]) * prime; then r = (r ^ length) * prime. Four lanes
 * keep it off the critical path of a multi-GB/s stream.
 */
#ifndef CHAN_STREAM_H
#define CHAN_STREAM_H

#include <guestkit/guestkit.h>

#define STREAM_MAGIC        0x6d61657274736b67UL   /* "gkstream" */
#define MODE_STREAM         1   /* `bytes` of data follow */
#define MODE_GRANT_BENCH    2   /* `pages` grant refs follow; the consumer answers with a bench_reply */

#define FNV_PRIME           0x100000001b3UL
#define FNV_BASIS           0xcbf29ce484222325UL

/* The first bytes of every stream (40). */
struct stream_header {
    uint64_t magic;
    uint32_t mode;
    uint32_t msg;           /* the producer's message size (informative) */
    uint64_t bytes;         /* MODE_STREAM: data bytes after the header */
    uint64_t seed;
    uint32_t pages;         /* MODE_GRANT_BENCH: refs after the header (u32 each) */
    uint32_t pad;
};

/* MODE_GRANT_BENCH: what the consumer sends back when it is done. */
struct bench_reply {
    uint32_t verified;      /* pages whose copy and map both read as expected */
    uint32_t unmapped;      /* 1: every map undone, the grants may end */
};

static inline uint64_t stream_word(uint64_t seed, uint64_t k)
{
    uint64_t w = (k + seed) * 0x9e3779b97f4a7c15UL;
    w ^= w >> 29;
    w *= 0xbf58476d1ce4e5b9UL;
    w ^= w >> 32;
    return w;
}

static inline uint8_t stream_byte(uint64_t seed, uint64_t i)
{
    return (uint8_t)(stream_word(seed, i >> 3) >> ((i & 7) * 8));
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    __builtin_memcpy(&w, p, 8);     /* one load (images build with -fno-builtin: plain memcpy would be a call) */
    return w;
}

/* Bytes [off, off + len) of the stream into buf. */
static inline void stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
    size_t i = 0;
    for (; i < len && ((off + i) & 7); i++)
        buf[i] = stream_byte(seed, off + i);
    for (uint64_t k = (off + i) >> 3; len - i >= 8; i += 8, k++) {
        uint64_t w = stream_word(seed, k);
        __builtin_memcpy(buf + i, &w, 8);
    }
    for (; i < len; i++)
        buf[i] = stream_byte(seed, off + i);
}

/* The first index in buf (holding stream bytes [off, off + len)) that
 * differs from the stream, or len when all agree. */
static inline size_t stream_check(uint64_t seed, uint64_t off, const uint8_t *buf, size_t len)
{
    size_t i = 0;
    for (; i < len && ((off + i) & 7); i++)
        if (buf[i] != stream_byte(seed, off + i))
            return i;
    for (uint64_t k = (off + i) >> 3; len - i >= 8; i += 8, k++)
        if (load64(buf + i) != stream_word(seed, k))
            break;
    for (; i < len; i++)
        if (buf[i] != stream_byte(seed, off + i))
            return i;
    return len;
}

/* ---- the checksum ------------------------------------------------------------------ */

struct stream_sum {
    uint64_t h[4];
    uint64_t pos;           /* bytes taken in */
    uint64_t partial;       /* the bytes of an unfinished word */
};

static inline void sum_init(struct stream_sum *s)
{
    for (int l = 0; l < 4; l++)
        s->h[l] = FNV_BASIS + (uint64_t)l;
    s->pos = 0;
    s->partial = 0;
}

static inline void sum_word(struct stream_sum *s, uint64_t k, uint64_t w)
{
    s->h[k & 3] = (s->h[k & 3] ^ w) * FNV_PRIME;
}

static inline void sum_update(struct stream_sum *s, const uint8_t *p, size_t len)
{
    /* Finish a word left open by the last call. */
    while (len && (s->pos & 7)) {
        s->partial |= (uint64_t)*p++ << ((s->pos & 7) * 8);
        s->pos++;
        len--;
        if (!(s->pos & 7)) {
            sum_word(s, (s->pos >> 3) - 1, s->partial);
            s->partial = 0;
        }
    }
    if (s->pos & 7)
        return;                 /* all taken, still inside a word */
    uint64_t k = s->pos >> 3;
    while (len >= 8 && (k & 3)) {
        sum_word(s, k++, load64(p));
        p += 8;
        len -= 8;
    }
    /* Whole groups of four words: the four lanes are independent. */
    uint64_t h0 = s->h[0], h1 = s->h[1], h2 = s->h[2], h3 = s->h[3];
    for (; len >= 32; p += 32, len -= 32, k += 4) {
        h0 = (h0 ^ load64(p)) * FNV_PRIME;
        h1 = (h1 ^ load64(p + 8)) * FNV_PRIME;
        h2 = (h2 ^ load64(p + 16)) * FNV_PRIME;
        h3 = (h3 ^ load64(p + 24)) * FNV_PRIME;
    }
    s->h[0] = h0, s->h[1] = h1, s->h[2] = h2, s->h[3] = h3;
    for (; len >= 8; p += 8, len -= 8)
        sum_word(s, k++, load64(p));
    s->pos = k << 3;
    for (; len; len--) {
        s->partial |= (uint64_t)*p++ << ((s->pos & 7) * 8);
        s->pos++;
    }
}

static inline uint64_t sum_final(const struct stream_sum *s)
{
    struct stream_sum t = *s;
    if (t.pos & 7)
        sum_word(&t, t.pos >> 3, t.partial);
    uint64_t r = FNV_BASIS;
    for (int l = 0; l < 4; l++)
        r = (r ^ t.h[l]) * FNV_PRIME;
    return (r ^ t.pos) * FNV_PRIME;
}

/* ---- printing ------------------------------------------------------------------------ */

/* "<ms> ms, <MiB/s> MiB/s" figures for `bytes` in `ns`: ms whole, MiB/s
 * with one decimal (tenths = KiB * 10^7 / (1024 * us), no 128-bit math). */
static inline void rate(uint64_t bytes, uint64_t ns, uint64_t *ms, uint64_t *mib_s, uint64_t *tenths)
{
    uint64_t us = ns / 1000 ? ns / 1000 : 1;
    uint64_t t = (bytes >> 10) * 10000000UL / (1024 * us);
    *ms = ns / GK_NS_PER_MS;
    *mib_s = t / 10;
    *tenths = t % 10;
}

/* "key=<decimal>" with a default. */
static inline unsigned long arg(const char *key, unsigned long dflt)
{
    unsigned long v = dflt;
    gk_cmdline_number(key, &v);
    return v;
}

#endif /* CHAN_STREAM_H */
