/*
 * pingpong - round trips over one interdomain event channel.
 *
 * Two domains, roles from the command line:
 *   role=server peer=<domid> n=<count>
 *       EVTCHNOP_alloc_unbound(remote = peer), prints
 *       `pingpong: server port <p>`, then n times: wait for an event, send
 *       one back. Then waits (up to 2 s) for the client to close, powers off.
 *   role=client peer=<domid> port=<server port> n=<count>
 *       EVTCHNOP_bind_interdomain(peer, port), retried every 10 ms while it
 *       fails with -EINVAL or -ESRCH (server not there yet; up to 10 s),
 *       then n times: send, wait for the answer. Prints
 *       `pingpong: <n> round trips, <rate> per second, <us> us each`,
 *       closes its port, powers off.
 * Without role=, both ends live in this one domain (alloc_unbound and
 * bind_interdomain with DOMID_SELF) and it prints the same line, marked
 * "(loopback)".
 *
 * Each round is one entry into the hypervisor per side: send and SCHEDOP_poll
 * batched with multicall, events masked (gk_evtchn_send_and_wait). A wait that
 * exceeds 30 s, or EVTCHNOP_status showing the port is no longer interdomain,
 * prints `pingpong: peer gone` and powers off.
 * n defaults to 1000.
 */
#include <guestkit/guestkit.h>

#define P "pingpong: "

#define DEFAULT_N       1000UL
#define PEER_TIMEOUT    (30 * GK_NS_PER_SEC)  /* longest silence from a connected peer (a closed port is noticed within CHECK_EVERY) */
#define CONNECT_TIMEOUT (60 * GK_NS_PER_SEC)  /* server: longest wait for the client */
#define BIND_TIMEOUT    (10 * GK_NS_PER_SEC)  /* client: longest wait for the server */
#define CHECK_EVERY     GK_NS_PER_SEC          /* look at the port's status this often */

/* Whether the command line has "key=value" (value a whole word). */
static int arg_is(const char *key, const char *value)
{
    const char *v = gk_cmdline_value(key);
    size_t len = strlen(value);
    return v && strncmp(v, value, len) == 0 && (v[len] == ' ' || v[len] == '\0');
}

/* ---- helpers ----------------------------------------------------------------- */

static void failed(const char *what, long rc)
{
    gk_printf(P "FAILED %s (%ld)\n", what, rc);
    gk_shutdown(SHUTDOWN_crash);
}

static void peer_gone(void)
{
    gk_printf(P "peer gone\n");
    gk_poweroff();
}

static uint32_t port_status(evtchn_port_t port)
{
    struct evtchn_status st;
    int rc = gk_evtchn_status(port, &st);
    if (rc)
        failed("EVTCHNOP_status", rc);
    return st.status;
}

/*
 * Wait for the peer's event on `port`, at most `limit` ns, looking at the
 * port's status every second: 0 when the event came, -1 when the peer is
 * gone (closed: the port is no longer interdomain) or took too long.
 * Before the peer connects the port is unbound, which is fine.
 */
static int connected;

static int wait_for_peer(evtchn_port_t port, uint64_t limit)
{
    uint64_t end = gk_now_ns() + limit;
    for (;;) {
        uint64_t slice = gk_now_ns() + CHECK_EVERY;
        if (gk_evtchn_wait(port, slice < end ? slice : end) == 0) {
            connected = 1;
            return 0;
        }
        uint32_t status = port_status(port);
        if (status == EVTCHNSTAT_interdomain)
            connected = 1;
        else if (connected || status != EVTCHNSTAT_unbound)
            return -1;
        if (gk_now_ns() >= end)
            return -1;
    }
}

static void report(unsigned long n, uint64_t ns, const char *suffix)
{
    if (ns == 0)
        ns = 1;
    uint64_t rate = (uint64_t)n * GK_NS_PER_SEC / ns;
    uint64_t each_cus = n ? ns / 10 / n : 0;          /* hundredths of a us */
    gk_printf(P "%lu round trips, %lu per second, %lu.%02lu us each%s\n",
              n, rate, each_cus / 100, each_cus % 100, suffix);
}

/* ---- roles ------------------------------------------------------------------- */

static void server(domid_t peer, unsigned long n)
{
    int port = gk_evtchn_alloc_unbound(peer);
    if (port < 0)
        failed("EVTCHNOP_alloc_unbound", port);
    gk_printf(P "server port %d\n", port);

    if (wait_for_peer((evtchn_port_t)port, CONNECT_TIMEOUT))
        peer_gone();
    for (unsigned long i = 1; i < n; i++) {
        /* Answer and wait for the next ping in one entry into the hypervisor. */
        int rc = gk_evtchn_send_and_wait((evtchn_port_t)port, (evtchn_port_t)port, gk_now_ns() + PEER_TIMEOUT);
        if (rc == -XEN_ETIMEDOUT)
            peer_gone();
        if (rc)
            failed("EVTCHNOP_send", rc);
    }
    if (n) {
        int rc = gk_evtchn_send((evtchn_port_t)port);
        if (rc)
            failed("EVTCHNOP_send", rc);
    }
    gk_printf(P "server answered %lu pings\n", n);

    /* Let the client take the last answer and close first. */
    uint64_t end = gk_now_ns() + 2 * GK_NS_PER_SEC;
    while (port_status((evtchn_port_t)port) == EVTCHNSTAT_interdomain && gk_now_ns() < end)
        gk_sleep_ns(10 * GK_NS_PER_MS);
}

static void client(domid_t peer, evtchn_port_t remote_port, unsigned long n)
{
    int port;
    uint64_t give_up = gk_now_ns() + BIND_TIMEOUT;
    for (;;) {
        port = gk_evtchn_bind_interdomain(peer, remote_port);
        if (port >= 0)
            break;
        if (port != -XEN_EINVAL && port != -XEN_ESRCH)
            failed("EVTCHNOP_bind_interdomain", port);
        if (gk_now_ns() >= give_up)
            peer_gone();
        gk_sleep_ns(10 * GK_NS_PER_MS);
    }
    gk_printf(P "client port %d bound to port %u of domain %u\n", port, remote_port, peer);
    connected = 1;

    /* A fresh interdomain port starts out pending: not an answer. */
    gk_evtchn_clear((evtchn_port_t)port);

    uint64_t start = gk_now_ns();
    for (unsigned long i = 0; i < n; i++) {
        /* Ping and wait for the answer in one entry into the hypervisor; a silent second means
         * look at the port: a peer that went away leaves it unbound. */
        int rc = gk_evtchn_send_and_wait((evtchn_port_t)port, (evtchn_port_t)port, gk_now_ns() + CHECK_EVERY);
        if (rc == -XEN_ETIMEDOUT) {
            if (port_status((evtchn_port_t)port) != EVTCHNSTAT_interdomain || wait_for_peer((evtchn_port_t)port, PEER_TIMEOUT))
                peer_gone();
            rc = 0;
        }
        if (rc)
            failed("EVTCHNOP_send", rc);
    }
    report(n, gk_now_ns() - start, "");
    gk_evtchn_close((evtchn_port_t)port);
}

/* Both ends in this domain: port a (allocated unbound) and port b (bound to
 * a); a send on either sets the other pending. */
static void loopback(unsigned long n)
{
    int a = gk_evtchn_alloc_unbound(DOMID_SELF);
    if (a < 0)
        failed("EVTCHNOP_alloc_unbound(DOMID_SELF)", a);
    int b = gk_evtchn_bind_interdomain(DOMID_SELF, (evtchn_port_t)a);
    if (b < 0)
        failed("EVTCHNOP_bind_interdomain(DOMID_SELF)", b);
    gk_printf(P "loopback ports %d and %d\n", a, b);
    connected = 1;
    gk_evtchn_clear((evtchn_port_t)b);

    uint64_t start = gk_now_ns();
    for (unsigned long i = 0; i < n; i++) {
        int rc = gk_evtchn_send((evtchn_port_t)b);          /* ping: a pending */
        if (rc)
            failed("EVTCHNOP_send", rc);
        if (wait_for_peer((evtchn_port_t)a, PEER_TIMEOUT))
            peer_gone();
        rc = gk_evtchn_send((evtchn_port_t)a);              /* pong: b pending */
        if (rc)
            failed("EVTCHNOP_send", rc);
        if (wait_for_peer((evtchn_port_t)b, PEER_TIMEOUT))
            peer_gone();
    }
    report(n, gk_now_ns() - start, " (loopback)");
    gk_evtchn_close((evtchn_port_t)b);
    gk_evtchn_close((evtchn_port_t)a);
}

void gk_main(void)
{
    unsigned long n = DEFAULT_N, peer = 0, port = 0;
    gk_cmdline_number("n", &n);

    gk_traps_init();
    gk_irq_enable();

    if (arg_is("role", "server")) {
        if (!gk_cmdline_number("peer", &peer) || peer >= DOMID_FIRST_RESERVED)
            failed("role=server needs peer=<domid>", 0);
        server((domid_t)peer, n);
    } else if (arg_is("role", "client")) {
        if (!gk_cmdline_number("peer", &peer) || peer >= DOMID_FIRST_RESERVED)
            failed("role=client needs peer=<domid>", 0);
        if (!gk_cmdline_number("port", &port))
            failed("role=client needs port=<server port>", 0);
        client((domid_t)peer, (evtchn_port_t)port, n);
    } else if (gk_cmdline_value("role")) {
        failed("role must be server or client", 0);
    } else {
        loopback(n);
    }
}
