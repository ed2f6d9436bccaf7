/*
 * xs-bench - XenStore round trips from a guest over its store ring
 * (GuestKit's xenbus.h), for `hv bench xenstore`.
 *
 * Reads its domid (relative path `domid`), writes data/bench = "00000000"
 * (the node the reads ask for), then times with the pvclock n XS_READs of
 * data/bench, each reply checked against the value written last, and n
 * XS_WRITEs of data/bench, value i as eight decimal digits ("%08lu").
 * Every call is one round trip: the request into the ring, an event to
 * Dom0, the reply, an event back (GuestKit keeps one request
 * outstanding). Relative paths: Dom0 resolves "data/bench" to
 * /local/domain/<domid>/data/bench. Then reads the node once more (it
 * must hold the last value), removes it and prints
 *   xs-bench: <n> reads, <r> per second, <us> us each
 *   xs-bench: <n> writes, <w> per second, <us> us each
 *   xs-bench: done
 * and powers off (<us> with one decimal).
 *
 * Command line: n=N (default 1000, at least 1).
 *
 * Any unexpected answer: `xs-bench: FAIL <what> (<rc>)` and a crash.
 */
#include <guestkit/guestkit.h>
#include <guestkit/xenbus.h>

#define P "xs-bench: "

#define NODE        "data/bench"
#define DEFAULT_N   1000UL
#define DIGITS      8

static char value[GK_XS_BUF_SIZE];

static void fail(const char *what, long rc)
{
    gk_printf(P "FAIL %s (%ld)\n", what, rc);
    gk_shutdown(SHUTDOWN_crash);
}

/* i as DIGITS decimal digits (the low ones), NUL-terminated. */
static void digits(char *out, unsigned long i)
{
    for (int k = DIGITS - 1; k >= 0; k--) {
        out[k] = (char)('0' + i % 10);
        i /= 10;
    }
    out[DIGITS] = '\0';
}

/* NODE must read `expected`. */
static void check(const char *expected, const char *what)
{
    int len = gk_xs_read(GK_XS_TX_NONE, NODE, value, sizeof(value));
    if (len < 0)
        fail(what, len);
    if (len != DIGITS || memcmp(value, expected, DIGITS) != 0)
        fail(what, len);
}

static void report(const char *what, unsigned long n, uint64_t ns)
{
    uint64_t per_second = (uint64_t)n * GK_NS_PER_SEC / (ns ? ns : 1);
    uint64_t tenths = ns / n / 100;
    gk_printf(P "%lu %s, %lu per second, %lu.%lu us each\n", n, what, (unsigned long)per_second,
              (unsigned long)(tenths / 10), (unsigned long)(tenths % 10));
}

void gk_main(void)
{
    unsigned long n = DEFAULT_N;
    if (gk_cmdline_value("n") && (!gk_cmdline_number("n", &n) || n == 0))
        fail("n=N (at least 1)", -XEN_EINVAL);

    unsigned long domid;
    int rc = gk_xs_read_ulong(GK_XS_TX_NONE, "domid", &domid);
    if (rc)
        fail("read domid", rc);
    char text[DIGITS + 1];
    digits(text, 0);
    rc = gk_xs_write(GK_XS_TX_NONE, NODE, text);
    if (rc)
        fail("write " NODE, rc);
    gk_printf(P "domain %lu, %lu reads and %lu writes of /local/domain/%lu/" NODE "\n", domid, n, n, domid);

    uint64_t t0 = gk_now_ns();
    for (unsigned long i = 0; i < n; i++)
        check(text, "read " NODE);
    uint64_t read_ns = gk_now_ns() - t0;

    t0 = gk_now_ns();
    for (unsigned long i = 1; i <= n; i++) {
        digits(text, i);
        rc = gk_xs_write(GK_XS_TX_NONE, NODE, text);
        if (rc)
            fail("write " NODE, rc);
    }
    uint64_t write_ns = gk_now_ns() - t0;

    check(text, "read " NODE " after the writes");
    rc = gk_xs_rm(GK_XS_TX_NONE, NODE);
    if (rc)
        fail("rm " NODE, rc);
    report("reads", n, read_ns);
    report("writes", n, write_ns);
    gk_printf(P "done\n");
    gk_poweroff();
}
