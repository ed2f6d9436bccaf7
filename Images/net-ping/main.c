/*
 * net-ping - the network front end (GuestKit's netfront.h) and the small
 * IPv4 stack on it (net.h) between two domains whose vifs share a bridge
 * (a learning software switch in Dom0).
 *
 * role=echo ip=A: answers ARP, ICMP echo requests and UDP on port 7
 * (echo: each datagram goes back to its sender; "count?" is answered
 * "count <datagrams> <bytes>" with what arrived on port 9; "quit" is
 * answered "bye" and ends the run); counts UDP on port 9 (discard).
 * Gives up after 120 s without "quit".
 *
 * role=ping ip=A peer=B [count=N] [bytes=N]: resolves B by ARP (retrying
 * for 30 s: the echo may start later); N ICMP echo requests of 56 bytes,
 * one at a time (2 s each at most); N UDP echo round trips of 1000
 * bytes, contents checked; a UDP stream of `bytes` as 1472-byte
 * datagrams to port 9, as fast as the tx ring takes them, then
 * "count?" to learn how many arrived; "quit" (until "bye"), close, done.
 * count defaults to 20 (1-65535), bytes to 16 MiB.
 *
 * Every ICMP and UDP echo must come back (the switch is idle then); the
 * stream may lose datagrams (the peer's receive ring overflows): the
 * number received is reported, not checked. Any other failure:
 * `net-ping: FAIL <what> (<rc>)` and a crash.
 */
#include <guestkit/guestkit.h>
#include <guestkit/net.h>

#define P "net-ping: "

#define ECHO_PORT       7
#define DISCARD_PORT    9
#define CLIENT_PORT     40007           /* the pinger's end of echo, count? and quit */
#define STREAM_PORT     40009           /* ... and of the stream */
#define PING_ID         0x6e70          /* "np" */
#define PING_BYTES      56
#define ECHO_BYTES      1000
#define STREAM_BYTES    GK_UDP_MAX_PAYLOAD
#define ECHO_LIFE_NS    (120 * GK_NS_PER_SEC)
#define ARP_WAIT_NS     (30 * GK_NS_PER_SEC)
#define REPLY_NS        (2 * GK_NS_PER_SEC)
#define ASK_NS          GK_NS_PER_SEC   /* per try of count? and quit */
#define ASK_TRIES       5

static struct gk_net *dev;
static uint8_t buf[GK_UDP_MAX_PAYLOAD];
static uint8_t msg[GK_UDP_MAX_PAYLOAD];

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

/* Whether the command line says key=value (a whole word). */
static int cmdline_is(const char *key, const char *value)
{
    const char *v = gk_cmdline_value(key);
    size_t n = strlen(value);
    return v && strncmp(v, value, n) == 0 && (v[n] == ' ' || v[n] == '\0');
}

/* ns as microseconds with one decimal. */
static char *us(char *out, size_t size, uint64_t ns)
{
    uint64_t tenths = (ns + 50) / 100;
    gk_snprintf(out, size, "%lu.%lu", (unsigned long)(tenths / 10), (unsigned long)(tenths % 10));
    return out;
}

/* "<MiB/s>" with one decimal, for `bytes` in `ns`. */
static char *rate(char *out, size_t size, uint64_t bytes, uint64_t ns)
{
    uint64_t usec = ns / 1000 ? ns / 1000 : 1;
    uint64_t tenths = (bytes / 1024) * 10000000ULL / (usec * 1024);
    gk_snprintf(out, size, "%lu.%lu", (unsigned long)(tenths / 10), (unsigned long)(tenths % 10));
    return out;
}

static void open_vif(const char *role)
{
    int rc = gk_net_open(&dev);
    if (rc)
        fail("open the first vif", rc);
    rc = gk_inet_open_cmdline(dev);
    if (rc)
        fail("ip=a.b.c.d on the command line", rc);
    const struct gk_net_info *i = gk_net_info(dev);
    char mac[GK_MAC_STR], ip[GK_IP_STR];
    gk_printf(P "%s: vif %u, mac %s, ip %s/%u, backend %s (domain %u), tx-ring-ref %u, rx-ring-ref %u, "
                "event channel %u\n",
              role, i->handle, gk_mac_format(i->mac, mac), gk_ip_format(gk_inet_ip(), ip), gk_inet_prefix(),
              i->backend, i->backend_id, i->tx_ring_ref, i->rx_ring_ref, i->port);
}

static void print_counters(void)
{
    const struct gk_net_stats *s = gk_net_stats(dev);
    const struct gk_inet_stats *t = gk_inet_stats();
    gk_printf(P "vif: %lu frames sent (%lu errors, %lu dropped, %lu waits for a page), %lu received (%lu bad), "
                "%lu notifications, %lu waits\n",
              (unsigned long)s->tx_frames, (unsigned long)s->tx_errors, (unsigned long)s->tx_dropped,
              (unsigned long)s->tx_full, (unsigned long)s->rx_frames, (unsigned long)s->rx_errors,
              (unsigned long)s->notifications, (unsigned long)s->waits);
    gk_printf(P "stack: %lu not ours, %lu malformed, %lu ARP requests answered, %lu sent, "
                "%lu UDP datagrams for no port, %lu dropped on a full queue\n",
              (unsigned long)t->rx_not_ours, (unsigned long)t->rx_malformed, (unsigned long)t->arp_answered,
              (unsigned long)t->arp_requests_sent, (unsigned long)t->udp_no_port, (unsigned long)t->udp_queue_full);
}

static void close_vif(void)
{
    gk_inet_close();
    int rc = gk_net_close(dev);
    if (rc)
        fail("close the vif", rc);
}

/* ---- role=echo ------------------------------------------------------------------ */

static unsigned long echoed, discarded, discarded_bytes;
static int quit;

static int is(const struct gk_udp_datagram *dg, const char *text)
{
    size_t n = strlen(text);
    return dg->len == n && memcmp(dg->data, text, n) == 0;
}

static void on_echo(const struct gk_udp_datagram *dg, void *ctx)
{
    (void)ctx;
    if (is(dg, "quit")) {
        quit = 1;
        gk_udp_send(dg->src_ip, ECHO_PORT, dg->src_port, "bye", 3);
    } else if (is(dg, "count?")) {
        char answer[64];
        int n = gk_snprintf(answer, sizeof(answer), "count %lu %lu", discarded, discarded_bytes);
        gk_udp_send(dg->src_ip, ECHO_PORT, dg->src_port, answer, (size_t)n);
    } else if (gk_udp_send(dg->src_ip, ECHO_PORT, dg->src_port, dg->data, dg->len) == 0) {
        echoed++;
    }
}

static void on_discard(const struct gk_udp_datagram *dg, void *ctx)
{
    (void)ctx;
    discarded++;
    discarded_bytes += dg->len;
}

static void echo(void)
{
    open_vif("echo");
    int rc = gk_udp_bind(ECHO_PORT, on_echo, NULL);
    if (rc == 0)
        rc = gk_udp_bind(DISCARD_PORT, on_discard, NULL);
    if (rc)
        fail("bind UDP ports 7 and 9", rc);
    uint64_t deadline = gk_now_ns() + ECHO_LIFE_NS;
    while (!quit) {
        rc = gk_inet_poll(deadline);
        if (rc == -XEN_ETIMEDOUT)
            failf(rc, "no \"quit\" within 120 s (%lu pings answered, %lu UDP datagrams echoed)",
                  (unsigned long)gk_inet_stats()->icmp_echo_answered, echoed);
        if (rc)
            fail("receive", rc);
    }
    gk_net_flush(dev, 0);           /* "bye" is on its way before we go */
    print_counters();
    gk_printf(P "echo: %lu pings answered, %lu UDP datagrams echoed, quitting\n",
              (unsigned long)gk_inet_stats()->icmp_echo_answered, echoed);
    close_vif();
    gk_poweroff();
}

/* ---- role=ping ------------------------------------------------------------------ */

static uint32_t peer;
static char peer_str[GK_IP_STR];

static void pings(unsigned int count)
{
    uint64_t min = ~0ULL, max = 0, sum = 0;
    unsigned int got = 0;
    for (unsigned int seq = 1; seq <= count; seq++) {
        uint64_t rtt;
        int rc = gk_icmp_ping(peer, PING_ID, (uint16_t)seq, PING_BYTES, gk_now_ns() + REPLY_NS, &rtt);
        if (rc == -XEN_ETIMEDOUT)
            continue;
        if (rc == -XEN_EBADMSG)
            failf(rc, "echo reply %u came back with other contents", seq);
        if (rc)
            failf(rc, "echo request %u", seq);
        got++;
        sum += rtt;
        min = rtt < min ? rtt : min;
        max = rtt > max ? rtt : max;
    }
    if (got == 0)
        failf(-XEN_ETIMEDOUT, "no reply to %u echo requests", count);
    char a[24], b[24], c[24];
    gk_printf(P "%u/%u replies, rtt min/avg/max %s/%s/%s us\n", got, count, us(a, sizeof(a), min),
              us(b, sizeof(b), sum / got), us(c, sizeof(c), max));
    if (got != count)
        failf(-XEN_ETIMEDOUT, "%u of %u echo replies lost on an idle switch", count - got, count);
}

/* Datagram i of the echo phase: its number, then a pattern of it. */
static void fill_echo(uint8_t *p, unsigned int i)
{
    memcpy(p, &i, sizeof(i));
    for (unsigned int k = sizeof(i); k < ECHO_BYTES; k++)
        p[k] = (uint8_t)(i * 13 + k * 31);
}

static void udp_echoes(unsigned int count)
{
    uint64_t sum = 0;
    unsigned int ok = 0;
    for (unsigned int i = 0; i < count; i++) {
        fill_echo(msg, i);
        uint64_t t0 = gk_now_ns();
        int rc = gk_udp_send(peer, CLIENT_PORT, ECHO_PORT, msg, ECHO_BYTES);
        if (rc)
            failf(rc, "send UDP echo %u", i);
        for (;;) {
            struct gk_udp_datagram from;
            int n = gk_udp_recv(CLIENT_PORT, buf, sizeof(buf), &from, t0 + REPLY_NS);
            if (n == -XEN_ETIMEDOUT)
                break;
            if (n < 0)
                failf(n, "receive UDP echo %u", i);
            if (from.src_ip != peer || from.src_port != ECHO_PORT)
                continue;           /* not the echo's */
            unsigned int which;
            memcpy(&which, buf, sizeof(which));
            if (n == ECHO_BYTES && which < i)
                continue;           /* a late answer to an earlier one */
            if (n != ECHO_BYTES || memcmp(buf, msg, ECHO_BYTES) != 0)
                failf(n, "UDP echo %u came back different", i);
            sum += gk_now_ns() - t0;
            ok++;
            break;
        }
    }
    char each[24];
    gk_printf(P "%u/%u UDP echoes ok, %s us each\n", ok, count, ok ? us(each, sizeof(each), sum / ok) : "-");
    if (ok != count)
        failf(-XEN_ETIMEDOUT, "%u of %u UDP echoes lost on an idle switch", count - ok, count);
}

/* Send `question` to the echo port until an answer starting with
 * `prefix` comes (ASK_TRIES tries); its length, the answer in buf. */
static int ask(const char *question, const char *prefix)
{
    size_t plen = strlen(prefix);
    for (int t = 0; t < ASK_TRIES; t++) {
        int rc = gk_udp_send(peer, CLIENT_PORT, ECHO_PORT, question, strlen(question));
        if (rc)
            failf(rc, "send \"%s\"", question);
        uint64_t deadline = gk_now_ns() + ASK_NS;
        for (;;) {
            struct gk_udp_datagram from;
            int n = gk_udp_recv(CLIENT_PORT, buf, sizeof(buf) - 1, &from, deadline);
            if (n == -XEN_ETIMEDOUT)
                break;
            if (n < 0 && n != -XEN_EMSGSIZE)
                failf(n, "receive the answer to \"%s\"", question);
            if (n >= (int)plen && from.src_ip == peer && from.src_port == ECHO_PORT &&
                memcmp(buf, prefix, plen) == 0) {
                buf[n] = 0;
                return n;
            }
        }
    }
    failf(-XEN_ETIMEDOUT, "no answer to \"%s\"", question);
    return 0;
}

/* A decimal number at *s, advancing past it and one space. */
static unsigned long number(const char **s)
{
    unsigned long v = 0;
    while (**s >= '0' && **s <= '9')
        v = v * 10 + (unsigned long)(*(*s)++ - '0');
    if (**s == ' ')
        (*s)++;
    return v;
}

static void stream(uint64_t bytes)
{
    for (unsigned int k = 0; k < STREAM_BYTES; k++)
        msg[k] = (uint8_t)k;
    unsigned long sent = 0;
    uint64_t t0 = gk_now_ns();
    for (uint64_t left = bytes; left;) {
        size_t n = left < STREAM_BYTES ? (size_t)left : STREAM_BYTES;
        int rc = gk_udp_send(peer, STREAM_PORT, DISCARD_PORT, msg, n);
        if (rc)
            failf(rc, "send stream datagram %lu", sent);
        left -= n;
        sent++;
    }
    int rc = gk_net_flush(dev, 0);
    if (rc)
        fail("wait for the back end to take every frame", rc);
    uint64_t ns = gk_now_ns() - t0;

    ask("count?", "count ");
    const char *s = (const char *)buf + 6;
    unsigned long received = number(&s);
    unsigned long received_bytes = number(&s);
    char r[32];
    gk_printf(P "UDP %s MiB/s, %lu sent, %lu received by the peer\n", rate(r, sizeof(r), received_bytes, ns), sent,
              received);
}

static void ping(void)
{
    open_vif("ping");
    const char *v = gk_cmdline_value("peer");
    if (!v || gk_ip_parse(v, &peer, NULL) != 0)
        fail("peer=a.b.c.d on the command line", -XEN_EINVAL);
    gk_ip_format(peer, peer_str);
    unsigned long count = 20, bytes = 16UL << 20;
    if (gk_cmdline_value("count") && (!gk_cmdline_number("count", &count) || count < 1 || count > 65535))
        fail("count=N (1-65535)", -XEN_EINVAL);
    if (gk_cmdline_value("bytes") && !gk_cmdline_number("bytes", &bytes))
        fail("bytes=N", -XEN_EINVAL);
    int rc = gk_udp_bind(CLIENT_PORT, NULL, NULL);
    if (rc)
        fail("bind UDP port 40007", rc);

    uint8_t mac[6];
    rc = gk_arp_resolve(peer, mac, gk_now_ns() + ARP_WAIT_NS);
    if (rc)
        failf(rc, "ARP for %s", peer_str);
    char m[GK_MAC_STR];
    gk_printf(P "%s is at %s\n", peer_str, gk_mac_format(mac, m));

    pings((unsigned int)count);
    udp_echoes((unsigned int)count);
    stream(bytes);

    ask("quit", "bye");
    print_counters();
    close_vif();
    gk_printf(P "done\n");
    gk_poweroff();
}

void gk_main(void)
{
    if (cmdline_is("role", "echo"))
        echo();
    else if (cmdline_is("role", "ping"))
        ping();
    fail("role=echo or role=ping on the command line", -XEN_EINVAL);
}
