/*
 * xs-walk - XenStore from a guest: the store ring and the console ring
 * (GuestKit's xenbus.h and gk_console_use_ring).
 *
 * Moves its console to the PV console ring first, so everything below
 * reaches the host through the console back end, not console_io. Then:
 * reads its domid (relative path `domid`) and its home (GET_DOMAIN_PATH),
 * prints every node under the home (`xs-walk: <path> = "<value>"`), checks
 * the nodes Dom0 promises are there, writes and reads back
 * data/greeting, a 2000-byte value (longer than the 1024-byte ring), a
 * directory; GET_PERMS/SET_PERMS; a transaction writing two nodes
 * (invisible outside it until the commit; EAGAIN retried) and one that
 * aborts; a xenbus state switch; the refusals (another domain's home,
 * a missing node, Dom0's /tool, a 5000-byte value); then watches
 * data/from-dom0, takes the event a new watch fires at once, and waits
 * 30 s for Dom0 to write the node. Finally watches control/shutdown; with
 * `wait-shutdown` it waits for "poweroff" there (acknowledging it as Linux
 * does, by writing "" back in a transaction) and powers off.
 *
 * Command line: `no-dom0` writes data/from-dom0 itself instead of waiting
 * for Dom0 (for runs without a test driving the store);
 * `wait-shutdown` as above.
 *
 * Any unexpected answer: `xs-walk: FAIL <what> (<rc>)` and a crash.
 */
#include <guestkit/guestkit.h>
#include <guestkit/xenbus.h>

#define P "xs-walk: "

#define FIRST_EVENT_NS  (5 * GK_NS_PER_SEC)   /* a new watch fires at once: allow this much */
#define DOM0_WAIT_NS    (30 * GK_NS_PER_SEC)  /* Dom0's write to data/from-dom0 */
#define MAX_DEPTH       16
#define MAX_TX_TRIES    10
#define BIG_VALUE       2000                  /* > the 1024-byte ring, < Xen's 2048 node quota */
#define HUGE_VALUE      5000                  /* > XENSTORE_PAYLOAD_MAX */

static unsigned long domid;
static char home[64];                   /* "/local/domain/<domid>" */
static char value[GK_XS_BUF_SIZE];
static char event[GK_XS_BUF_SIZE];
static unsigned int nodes;

static void fail(const char *what, long rc)
{
    gk_printf(P "FAIL %s (%ld)\n", what, rc);
    gk_shutdown(SHUTDOWN_crash);
}

/* fail() with a formatted description. */
static void failf(long rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(long rc, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    gk_vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    fail(what, rc);
}

/* A value as printable text: quotes, backslashes and bytes outside
 * 0x20..0x7e escaped. */
static void print_value(const char *v, int len)
{
    for (int i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '"' || c == '\\')
            gk_printf("\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            gk_printf("\\x%02x", c);
        else
            gk_putc((char)c);
    }
}

/* gk_xs_read that must succeed; returns the length. */
static int must_read(const char *path, char *buf, size_t size)
{
    int len = gk_xs_read(GK_XS_TX_NONE, path, buf, size);
    if (len < 0)
        failf(len, "read %s", path);
    return len;
}

static void must_equal(const char *path, const char *expected)
{
    int len = must_read(path, value, sizeof(value));
    if ((size_t)len != strlen(expected) || memcmp(value, expected, (size_t)len) != 0)
        failf(len, "%s reads \"%.*s\", not \"%s\"", path, len > 64 ? 64 : len, value, expected);
}

/* An operation that must fail with `expected`. */
static void expect_error(const char *what, int rc, int expected)
{
    if (rc != -expected)
        failf(rc, "%s: expected %s", what, gk_xs_error_name(expected));
    gk_printf(P "%s -> %s ok\n", what, gk_xs_error_name(rc));
}

/* ---- the walk -------------------------------------------------------------- */

/* Print `path` and everything below it. `path` has room for
 * XENSTORE_ABS_PATH_MAX + 1 bytes and is extended in place. */
static void walk(char *path, unsigned int depth)
{
    if (depth > MAX_DEPTH)
        failf(0, "tree deeper than %d at %s", MAX_DEPTH, path);

    int len = must_read(path, value, sizeof(value));
    gk_printf(P "%s = \"", path);
    print_value(value, len);
    gk_printf("\"\n");
    nodes++;

    char *names = malloc(GK_XS_BUF_SIZE);
    if (!names)
        fail("malloc", 0);
    int n = gk_xs_directory(GK_XS_TX_NONE, path, names, GK_XS_BUF_SIZE);
    if (n < 0)
        failf(n, "directory %s", path);
    size_t plen = strlen(path);
    for (const char *name = names; n-- > 0; name += strlen(name) + 1) {
        size_t nlen = strlen(name);
        if (nlen == 0 || plen + 1 + nlen > XENSTORE_ABS_PATH_MAX)
            failf(0, "directory %s lists a bad name", path);
        path[plen] = '/';
        memcpy(path + plen + 1, name, nlen + 1);
        walk(path, depth + 1);
        path[plen] = '\0';
    }
    free(names);
}

/* ---- watches ------------------------------------------------------------------ */

/* Whether an event's path is `rel` (relative to the home) in either form:
 * as the watch was given, or absolute. */
static int is_path(const char *got, const char *rel)
{
    size_t hlen = strlen(home);
    if (strcmp(got, rel) == 0)
        return 1;
    return strncmp(got, home, hlen) == 0 && got[hlen] == '/' && strcmp(got + hlen + 1, rel) == 0;
}

/* The next event; it must carry `token`. 0, or -XEN_ETIMEDOUT. */
static int next_event(const char *token, const char **path, uint64_t deadline)
{
    const char *tok;
    int rc = gk_xs_wait_watch(event, sizeof(event), path, &tok, deadline);
    if (rc == -XEN_ETIMEDOUT)
        return rc;
    if (rc)
        fail("waiting for a watch event", rc);
    if (strcmp(tok, token) != 0)
        failf(0, "watch event for token \"%s\" (path %s), expected \"%s\"", tok, *path, token);
    return 0;
}

/* Watch `rel` and take the event a new watch fires at once. */
static void watch(const char *rel, const char *token)
{
    const char *path;
    int rc = gk_xs_watch(rel, token);
    if (rc)
        failf(rc, "watch %s", rel);
    rc = next_event(token, &path, gk_now_ns() + FIRST_EVENT_NS);
    if (rc)
        failf(rc, "no first event for the new watch on %s", rel);
    if (!is_path(path, rel))
        failf(0, "first event of the watch on %s names %s", rel, path);
    gk_printf(P "watch on %s fired at once (path \"%s\", token \"%s\")\n", rel, path, token);
}

/* Wait for an event on data/from-dom0 after which the node has a value. */
static void wait_from_dom0(uint64_t deadline)
{
    for (;;) {
        const char *path;
        if (next_event("dom0", &path, deadline))
            fail("no write to data/from-dom0 within 30 s", -XEN_ETIMEDOUT);
        if (!is_path(path, "data/from-dom0"))
            failf(0, "watch on data/from-dom0 reported %s", path);
        int len = gk_xs_read(GK_XS_TX_NONE, "data/from-dom0", value, sizeof(value));
        if (len == -XEN_ENOENT)
            continue;           /* an event without a value yet: keep waiting */
        if (len < 0)
            fail("read data/from-dom0", len);
        return;
    }
}

/* ---- steps ---------------------------------------------------------------------- */

static void identity(void)
{
    int rc = gk_xs_read_ulong(GK_XS_TX_NONE, "domid", &domid);
    if (rc)
        fail("read domid (relative path)", rc);
    gk_printf(P "domid = %lu\n", domid);
    if (domid == 0 || domid >= DOMID_FIRST_RESERVED)
        fail("domid is not a guest's", (long)domid);

    char expected[sizeof(home)];
    gk_snprintf(expected, sizeof(expected), "/local/domain/%lu", domid);
    int len = gk_xs_get_domain_path((domid_t)domid, home, sizeof(home));
    if (len < 0)
        fail("GET_DOMAIN_PATH", len);
    if (strcmp(home, expected) != 0)
        failf(0, "GET_DOMAIN_PATH answered \"%s\", not \"%s\"", home, expected);
    gk_printf(P "domain path %s\n", home);
}

static void walk_home(void)
{
    static char path[XENSTORE_ABS_PATH_MAX + 1];
    memcpy(path, home, strlen(home) + 1);
    walk(path, 0);
    gk_printf(P "%u nodes under %s\n", nodes, home);

    /* What Dom0 creates for every domain. */
    static const char *const promised[] = { "domid", "name", "data", "device", "control" };
    for (unsigned int i = 0; i < sizeof(promised) / sizeof(promised[0]); i++) {
        int len = gk_xs_read(GK_XS_TX_NONE, promised[i], value, sizeof(value));
        if (len < 0)
            failf(len, "read %s (Dom0 creates it for every domain)", promised[i]);
    }
}

static void read_write(void)
{
    char greeting[32];
    gk_snprintf(greeting, sizeof(greeting), "hello from %lu", domid);
    int rc = gk_xs_write(GK_XS_TX_NONE, "data/greeting", greeting);
    if (rc)
        fail("write data/greeting", rc);
    must_equal("data/greeting", greeting);
    gk_printf(P "data/greeting = \"%s\" (written and read back)\n", greeting);

    /* Longer than the ring both ways: the request and the reply each go
     * through in pieces, across the wrap. */
    static char big[BIG_VALUE];
    for (unsigned int i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    rc = gk_xs_write_bytes(GK_XS_TX_NONE, "data/big", big, sizeof(big));
    if (rc)
        fail("write a 2000-byte value to data/big", rc);
    int len = must_read("data/big", value, sizeof(value));
    if (len != (int)sizeof(big) || memcmp(value, big, sizeof(big)) != 0)
        fail("data/big read back differently", len);
    rc = gk_xs_rm(GK_XS_TX_NONE, "data/big");
    if (rc)
        fail("rm data/big", rc);
    rc = gk_xs_read(GK_XS_TX_NONE, "data/big", value, sizeof(value));
    if (rc != -XEN_ENOENT)
        fail("data/big still there after rm", rc);
    gk_printf(P "data/big: %d bytes written, read back, removed\n", BIG_VALUE);

    rc = gk_xs_mkdir(GK_XS_TX_NONE, "data/dir");
    if (rc)
        fail("mkdir data/dir", rc);
    int n = gk_xs_directory(GK_XS_TX_NONE, "data", value, sizeof(value));
    if (n < 0)
        fail("directory data", n);
    int seen = 0;
    const char *name = value;
    for (int i = 0; i < n; i++, name += strlen(name) + 1)
        seen |= (strcmp(name, "dir") == 0) | (strcmp(name, "greeting") == 0) << 1;
    if (seen != 3)
        fail("directory data lacks dir or greeting", n);
    rc = gk_xs_rm(GK_XS_TX_NONE, "data/dir");
    if (rc)
        fail("rm data/dir", rc);
    gk_printf(P "mkdir data/dir, directory data (%d names), rm data/dir ok\n", n);
}

static void permissions(void)
{
    struct gk_xs_perm perms[8];
    int n = gk_xs_get_perms(GK_XS_TX_NONE, "data/greeting", perms, 8);
    if (n < 1 || n > 8)
        fail("get_perms data/greeting", n);
    gk_printf(P "perms of data/greeting:");
    for (int i = 0; i < n; i++)
        gk_printf(" %c%u", perms[i].perm, (unsigned int)perms[i].domid);
    gk_printf("\n");
    /* The node is ours (we created it): setting what it has must work. */
    int rc = gk_xs_set_perms(GK_XS_TX_NONE, "data/greeting", perms, (unsigned int)n);
    if (rc)
        fail("set_perms data/greeting (unchanged)", rc);
    gk_printf(P "set_perms data/greeting (unchanged) ok\n");
}

static void transactions(void)
{
    uint32_t tx = 0;
    int tries;
    for (tries = 1;; tries++) {
        int rc = gk_xs_transaction_start(&tx);
        if (rc)
            fail("TRANSACTION_START", rc);
        rc = gk_xs_write(tx, "data/tx/a", "1");
        if (rc)
            fail("write data/tx/a in the transaction", rc);
        rc = gk_xs_write(tx, "data/tx/b", "2");
        if (rc)
            fail("write data/tx/b in the transaction", rc);
        /* Not visible outside before the commit. */
        rc = gk_xs_read(GK_XS_TX_NONE, "data/tx/a", value, sizeof(value));
        if (rc != -XEN_ENOENT)
            fail("data/tx/a visible outside the transaction before the commit", rc);
        rc = gk_xs_read(tx, "data/tx/b", value, sizeof(value));
        if (rc != 1 || value[0] != '2')
            fail("data/tx/b not readable inside its transaction", rc);
        rc = gk_xs_transaction_end(tx, 0);
        if (rc == 0)
            break;
        if (rc != -XEN_EAGAIN || tries == MAX_TX_TRIES)
            fail("TRANSACTION_END commit", rc);
        gk_printf(P "transaction %u: EAGAIN, again\n", tx);
    }
    must_equal("data/tx/a", "1");
    must_equal("data/tx/b", "2");
    gk_printf(P "transaction %u committed data/tx/a and data/tx/b (%d attempt%s)\n",
              tx, tries, tries == 1 ? "" : "s");

    int rc = gk_xs_transaction_start(&tx);
    if (rc)
        fail("TRANSACTION_START", rc);
    rc = gk_xs_write(tx, "data/tx/c", "3");
    if (rc)
        fail("write data/tx/c in the transaction", rc);
    rc = gk_xs_transaction_end(tx, 1);
    if (rc)
        fail("TRANSACTION_END abort", rc);
    rc = gk_xs_read(GK_XS_TX_NONE, "data/tx/c", value, sizeof(value));
    if (rc != -XEN_ENOENT)
        fail("data/tx/c exists after the transaction was aborted", rc);
    gk_printf(P "transaction %u aborted: data/tx/c not written\n", tx);

    rc = gk_xs_write(GK_XS_TX_NONE, "data/xenbus-test/state", "1");
    if (rc)
        fail("write data/xenbus-test/state", rc);
    rc = gk_xenbus_switch_state("data/xenbus-test", XenbusStateConnected);
    if (rc)
        fail("xenbus switch state", rc);
    rc = gk_xenbus_read_state(GK_XS_TX_NONE, "data/xenbus-test");
    if (rc != XenbusStateConnected)
        fail("xenbus state after the switch", rc);
    gk_printf(P "xenbus state of data/xenbus-test: 1 -> %d\n", rc);
}

static void refusals(void)
{
    expect_error("read /local/domain/0", gk_xs_read(GK_XS_TX_NONE, "/local/domain/0", value, sizeof(value)),
                 XEN_EACCES);
    expect_error("directory /local/domain/0",
                 gk_xs_directory(GK_XS_TX_NONE, "/local/domain/0", value, sizeof(value)), XEN_EACCES);
    expect_error("read data/missing", gk_xs_read(GK_XS_TX_NONE, "data/missing", value, sizeof(value)),
                 XEN_ENOENT);
    expect_error("write /tool/xs-walk", gk_xs_write(GK_XS_TX_NONE, "/tool/xs-walk", "x"), XEN_EACCES);

    /* More than one message may carry: the client refuses it, since a
     * server drops a connection that sends one. E2BIG or EINVAL are both
     * what the contract allows. */
    static char huge[HUGE_VALUE];
    memset(huge, 'x', sizeof(huge));
    int rc = gk_xs_write_bytes(GK_XS_TX_NONE, "data/huge", huge, sizeof(huge));
    if (rc != -XEN_E2BIG && rc != -XEN_EINVAL)
        fail("write of a 5000-byte value: expected E2BIG or EINVAL", rc);
    gk_printf(P "write of a %d-byte value -> %s ok (refused by the client: over XENSTORE_PAYLOAD_MAX %d)\n",
              HUGE_VALUE, gk_xs_error_name(rc), XENSTORE_PAYLOAD_MAX);
    rc = gk_xs_read(GK_XS_TX_NONE, "data/huge", value, sizeof(value));
    if (rc != -XEN_ENOENT)
        fail("data/huge exists", rc);
}

static void from_dom0(void)
{
    watch("data/from-dom0", "dom0");
    uint64_t deadline = gk_now_ns() + DOM0_WAIT_NS;
    if (gk_cmdline_has("no-dom0")) {
        int rc = gk_xs_write(GK_XS_TX_NONE, "data/from-dom0", "hi from myself");
        if (rc)
            fail("write data/from-dom0", rc);
        wait_from_dom0(gk_now_ns() + FIRST_EVENT_NS);
        gk_printf(P "no-dom0: wrote data/from-dom0 itself, the watch fired, it reads \"%s\"\n", value);
    } else {
        gk_printf(P "waiting for dom0 to write data/from-dom0\n");
        wait_from_dom0(deadline);
        gk_printf(P "dom0 wrote \"");
        print_value(value, (int)strlen(value));
        gk_printf("\"\n");
    }
    int rc = gk_xs_unwatch("data/from-dom0", "dom0");
    if (rc)
        fail("unwatch data/from-dom0", rc);
}

/* Linux's acknowledgement: read control/shutdown and write "" in one
 * transaction. Returns what it read ("" when there was nothing). */
static void take_shutdown_request(char *out, size_t size)
{
    for (int tries = 1;; tries++) {
        uint32_t tx;
        int rc = gk_xs_transaction_start(&tx);
        if (rc)
            fail("TRANSACTION_START", rc);
        int len = gk_xs_read(tx, "control/shutdown", out, size);
        if (len == -XEN_ENOENT || len == 0) {
            out[0] = '\0';
            gk_xs_transaction_end(tx, 1);
            return;
        }
        if (len < 0)
            fail("read control/shutdown", len);
        rc = gk_xs_write(tx, "control/shutdown", "");
        if (rc)
            fail("write control/shutdown", rc);
        rc = gk_xs_transaction_end(tx, 0);
        if (rc == 0)
            return;
        if (rc != -XEN_EAGAIN || tries == MAX_TX_TRIES)
            fail("TRANSACTION_END (control/shutdown)", rc);
    }
}

static void shutdown_watch(void)
{
    watch("control/shutdown", "shutdown");
    if (!gk_cmdline_has("wait-shutdown")) {
        int rc = gk_xs_unwatch("control/shutdown", "shutdown");
        if (rc)
            fail("unwatch control/shutdown", rc);
        return;
    }
    gk_printf(P "waiting for control/shutdown\n");
    for (;;) {
        const char *path;
        next_event("shutdown", &path, 0);
        char request[32];
        take_shutdown_request(request, sizeof(request));
        if (request[0] == '\0')
            continue;
        gk_printf(P "control/shutdown = %s\n", request);
        if (strcmp(request, "poweroff") == 0)
            gk_poweroff();
        gk_printf(P "(only poweroff is understood; still waiting)\n");
    }
}

void gk_main(void)
{
    int rc = gk_console_use_ring();
    if (rc)
        fail("console ring", rc);
    gk_printf(P "console on the ring (port %u), cmdline \"%s\"\n",
              gk_start_info->console.domU.evtchn, gk_cmdline());

    rc = gk_xs_init();
    if (rc)
        fail("xenstore ring", rc);
    gk_printf(P "xenstore ring at pfn %lu, port %u\n",
              gk_virt_to_pfn(gk_xs_ring()), gk_xs_port());

    identity();
    walk_home();
    read_write();
    permissions();
    transactions();
    refusals();
    from_dom0();
    shutdown_watch();
    gk_printf(P "done\n");
}
