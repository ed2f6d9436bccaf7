/*
 * net_icmp.c - ICMP echo (RFC 792): answering echo requests, and pinging
 * (one request at a time, its reply matched by source, id and sequence).
 */
#include "net_stack.h"

/* The ping waiting for its reply. */
static struct {
    int active;
    int got;
    int bad;                    /* the reply's payload differs */
    uint32_t dst;
    uint16_t id;
    uint16_t seq;
    size_t len;
    uint64_t at;                /* when the reply was taken */
} ping;

static uint8_t pattern(uint16_t seq, size_t i)
{
    return (uint8_t)(seq + i * 7);
}

static void answer(const struct gk_stack_ip *ip, const uint8_t *p, size_t len)
{
    uint8_t *m = gk_stack_tx + GK_STACK_L4;
    memcpy(m, p, len);
    struct gk_icmp_echo *e = (struct gk_icmp_echo *)m;
    e->type = GK_ICMP_ECHO_REPLY;
    e->code = 0;
    e->csum = 0;
    e->csum = gk_be16(gk_csum_fold(gk_csum_add(0, m, len)));
    /* Back where it came from: the frame's source, no ARP needed. */
    if (gk_stack_ip_output(ip->src_mac, ip->src, GK_IP_PROTO_ICMP, len) == 0)
        gk_stack.stats.icmp_echo_answered++;
}

static void take_reply(const struct gk_stack_ip *ip, const uint8_t *p, size_t len)
{
    const struct gk_icmp_echo *e = (const struct gk_icmp_echo *)p;
    if (!ping.active || ping.got || ip->src != ping.dst || gk_be16(e->id) != ping.id ||
        gk_be16(e->seq) != ping.seq) {
        gk_stack.stats.icmp_replies_unmatched++;
        return;
    }
    ping.at = gk_now_ns();
    ping.got = 1;
    size_t n = len - GK_ICMP_HLEN;
    ping.bad = n != ping.len;
    for (size_t i = 0; i < n && !ping.bad; i++)
        ping.bad = p[GK_ICMP_HLEN + i] != pattern(ping.seq, i);
}

void gk_stack_icmp_input(const struct gk_stack_ip *ip, const uint8_t *p, size_t len)
{
    if (len < GK_ICMP_HLEN || gk_csum_fold(gk_csum_add(0, p, len)) != 0) {
        gk_stack.stats.rx_malformed++;
        return;
    }
    const struct gk_icmp_echo *e = (const struct gk_icmp_echo *)p;
    if (e->type == GK_ICMP_ECHO_REQUEST && e->code == 0 && ip->dst == gk_stack.ip)
        answer(ip, p, len);     /* broadcast pings are ignored, as Linux does by default */
    else if (e->type == GK_ICMP_ECHO_REPLY && e->code == 0)
        take_reply(ip, p, len);
    else
        gk_stack.stats.rx_not_ours++;
}

int gk_icmp_ping(uint32_t dst, uint16_t id, uint16_t seq, size_t len, uint64_t deadline_ns,
                 uint64_t *rtt_ns)
{
    int rc = gk_stack_can_wait();
    if (rc)
        return rc;
    if (len > GK_ICMP_MAX_PAYLOAD)
        return -XEN_EMSGSIZE;
    uint8_t mac[6];
    rc = gk_stack_resolve(dst, mac);
    if (rc)
        return rc;
    uint8_t *m = gk_stack_tx + GK_STACK_L4;
    struct gk_icmp_echo *e = (struct gk_icmp_echo *)m;
    e->type = GK_ICMP_ECHO_REQUEST;
    e->code = 0;
    e->csum = 0;
    e->id = gk_be16(id);
    e->seq = gk_be16(seq);
    for (size_t i = 0; i < len; i++)
        m[GK_ICMP_HLEN + i] = pattern(seq, i);
    e->csum = gk_be16(gk_csum_fold(gk_csum_add(0, m, GK_ICMP_HLEN + len)));

    ping.active = 1;
    ping.got = ping.bad = 0;
    ping.dst = dst;
    ping.id = id;
    ping.seq = seq;
    ping.len = len;
    uint64_t t0 = gk_now_ns();
    rc = gk_stack_ip_output(mac, dst, GK_IP_PROTO_ICMP, GK_ICMP_HLEN + len);
    while (rc == 0 && !ping.got)
        rc = gk_inet_poll(deadline_ns);
    ping.active = 0;
    if (rc)
        return rc;
    if (ping.bad)
        return -XEN_EBADMSG;
    if (rtt_ns)
        *rtt_ns = ping.at - t0;
    return 0;
}
