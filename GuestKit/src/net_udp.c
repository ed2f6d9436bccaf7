/*
 * net_udp.c - UDP (RFC 768): datagrams out, and in by destination port to
 * a handler or to a small queue that gk_udp_recv takes from.
 */
#include "net_stack.h"

struct port {
    uint16_t port;              /* 0: free */
    gk_udp_handler_t fn;        /* NULL: queue */
    void *ctx;
};

/* A datagram waiting for gk_udp_recv; the oldest (lowest seq) of a port goes first. */
struct queued {
    int used;
    uint64_t seq;
    uint16_t port;
    uint16_t src_port;
    uint32_t src_ip;
    uint32_t dst_ip;
    size_t len;
    uint8_t data[GK_UDP_MAX_PAYLOAD];
};

static struct port ports[GK_UDP_PORTS];
static struct queued queue[GK_UDP_QUEUE];
static uint64_t next_seq;

void gk_stack_udp_reset(void)
{
    memset(ports, 0, sizeof(ports));
    for (unsigned int i = 0; i < GK_UDP_QUEUE; i++)
        queue[i].used = 0;
    next_seq = 0;
}

static struct port *find(uint16_t port)
{
    for (unsigned int i = 0; i < GK_UDP_PORTS; i++)
        if (ports[i].port == port)
            return &ports[i];
    return NULL;
}

int gk_udp_bind(uint16_t port, gk_udp_handler_t fn, void *ctx)
{
    if (port == 0)
        return -XEN_EINVAL;
    if (find(port))
        return -XEN_EADDRINUSE;
    struct port *p = find(0);
    if (!p)
        return -XEN_ENOSPC;
    p->port = port;
    p->fn = fn;
    p->ctx = ctx;
    return 0;
}

int gk_udp_unbind(uint16_t port)
{
    struct port *p = port ? find(port) : NULL;
    if (!p)
        return -XEN_ENOENT;
    p->port = 0;
    for (unsigned int i = 0; i < GK_UDP_QUEUE; i++)
        if (queue[i].used && queue[i].port == port)
            queue[i].used = 0;
    return 0;
}

/* The pseudo header's share of a UDP checksum. */
static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint16_t udp_len)
{
    uint8_t ph[12];
    uint32_t s = gk_be32(src), d = gk_be32(dst);
    uint16_t l = gk_be16(udp_len);
    memcpy(ph, &s, 4);
    memcpy(ph + 4, &d, 4);
    ph[8] = 0;
    ph[9] = GK_IP_PROTO_UDP;
    memcpy(ph + 10, &l, 2);
    return gk_csum_add(0, ph, sizeof(ph));
}

static void enqueue(const struct gk_udp_datagram *dg)
{
    for (unsigned int i = 0; i < GK_UDP_QUEUE; i++) {
        struct queued *q = &queue[i];
        if (q->used)
            continue;
        q->used = 1;
        q->seq = next_seq++;
        q->port = dg->dst_port;
        q->src_port = dg->src_port;
        q->src_ip = dg->src_ip;
        q->dst_ip = dg->dst_ip;
        q->len = dg->len;
        memcpy(q->data, dg->data, dg->len);
        gk_stack.stats.udp_received++;
        return;
    }
    gk_stack.stats.udp_queue_full++;
}

void gk_stack_udp_input(const struct gk_stack_ip *ip, const uint8_t *p, size_t len)
{
    const struct gk_udp_hdr *h = (const struct gk_udp_hdr *)p;
    size_t ulen = len >= GK_UDP_HLEN ? gk_be16(h->len) : 0;
    if (ulen < GK_UDP_HLEN || ulen > len || ulen - GK_UDP_HLEN > GK_UDP_MAX_PAYLOAD) {
        gk_stack.stats.rx_malformed++;
        return;
    }
    /* 0: the sender computed none. */
    if (h->csum && gk_csum_fold(gk_csum_add(pseudo_sum(ip->src, ip->dst, (uint16_t)ulen), p, ulen)) != 0) {
        gk_stack.stats.rx_malformed++;
        return;
    }
    struct gk_udp_datagram dg = {
        .src_ip = ip->src,
        .dst_ip = ip->dst,
        .src_port = gk_be16(h->sport),
        .dst_port = gk_be16(h->dport),
        .data = p + GK_UDP_HLEN,
        .len = ulen - GK_UDP_HLEN,
    };
    struct port *port = dg.dst_port ? find(dg.dst_port) : NULL;
    if (!port) {
        gk_stack.stats.udp_no_port++;
        return;
    }
    if (port->fn) {
        gk_stack.stats.udp_received++;
        port->fn(&dg, port->ctx);
    } else {
        enqueue(&dg);
    }
}

int gk_udp_send(uint32_t dst, uint16_t src_port, uint16_t dst_port, const void *data, size_t len)
{
    if (!dst_port || !src_port || (!data && len))
        return -XEN_EINVAL;
    if (len > GK_UDP_MAX_PAYLOAD)
        return -XEN_EMSGSIZE;
    uint8_t mac[6];
    int rc = gk_stack_resolve(dst, mac);     /* first: it may poll, and handlers may send */
    if (rc)
        return rc;
    uint8_t *m = gk_stack_tx + GK_STACK_L4;
    struct gk_udp_hdr *h = (struct gk_udp_hdr *)m;
    uint16_t ulen = (uint16_t)(GK_UDP_HLEN + len);
    h->sport = gk_be16(src_port);
    h->dport = gk_be16(dst_port);
    h->len = gk_be16(ulen);
    h->csum = 0;
    memcpy(m + GK_UDP_HLEN, data, len);
    uint16_t c = gk_csum_fold(gk_csum_add(pseudo_sum(gk_stack.ip, dst, ulen), m, ulen));
    h->csum = gk_be16(c ? c : 0xffff);      /* 0 would mean "no checksum" */
    return gk_stack_ip_output(mac, dst, GK_IP_PROTO_UDP, ulen);
}

/* The oldest datagram queued for port, or NULL. */
static struct queued *oldest(uint16_t port)
{
    struct queued *best = NULL;
    for (unsigned int i = 0; i < GK_UDP_QUEUE; i++) {
        struct queued *q = &queue[i];
        if (q->used && q->port == port && (!best || q->seq < best->seq))
            best = q;
    }
    return best;
}

int gk_udp_recv(uint16_t port, void *buf, size_t max, struct gk_udp_datagram *from, uint64_t deadline_ns)
{
    struct port *p = port ? find(port) : NULL;
    if (!p || p->fn || (!buf && max))
        return -XEN_EINVAL;
    for (;;) {
        struct queued *q = oldest(port);
        if (q) {
            size_t n = q->len < max ? q->len : max;
            memcpy(buf, q->data, n);
            if (from) {
                from->src_ip = q->src_ip;
                from->dst_ip = q->dst_ip;
                from->src_port = q->src_port;
                from->dst_port = q->port;
                from->data = NULL;
                from->len = q->len;
            }
            q->used = 0;
            return q->len > max ? -XEN_EMSGSIZE : (int)q->len;
        }
        int rc = gk_inet_poll(deadline_ns);
        if (rc)
            return rc;
    }
}
