/*
 * net_ipv4.c - IPv4 (RFC 791) without fragments or routing: checking a
 * received header and passing the payload up; putting a header in front
 * of one going out.
 */
#include "net_stack.h"

void gk_stack_ip_input(const uint8_t *src_mac, const uint8_t *p, size_t len)
{
    const struct gk_ip_hdr *h = (const struct gk_ip_hdr *)p;
    if (len < GK_IP_HLEN || h->ver_ihl >> 4 != 4) {
        gk_stack.stats.rx_malformed++;
        return;
    }
    size_t hlen = (size_t)(h->ver_ihl & 0xf) * 4;
    size_t total = gk_be16(h->total_len);
    /* The frame may be longer (Ethernet padding), never shorter. */
    if (hlen < GK_IP_HLEN || hlen > total || total > len || gk_csum_fold(gk_csum_add(0, p, hlen)) != 0) {
        gk_stack.stats.rx_malformed++;
        return;
    }
    if (gk_be16(h->frag) & (GK_IP_MF | GK_IP_OFFSET_MASK)) {
        gk_stack.stats.rx_fragments++;
        return;
    }
    struct gk_stack_ip ip = {
        .src_mac = src_mac,
        .src = gk_be32(h->src),
        .dst = gk_be32(h->dst),
    };
    if (ip.dst != gk_stack.ip && !gk_stack_is_broadcast(ip.dst)) {
        gk_stack.stats.rx_not_ours++;
        return;
    }
    switch (h->proto) {
    case GK_IP_PROTO_ICMP:
        gk_stack_icmp_input(&ip, p + hlen, total - hlen);
        break;
    case GK_IP_PROTO_UDP:
        gk_stack_udp_input(&ip, p + hlen, total - hlen);
        break;
    default:
        gk_stack.stats.rx_not_ours++;
        break;
    }
}

int gk_stack_ip_output(const uint8_t mac[6], uint32_t dst, uint8_t proto, size_t len)
{
    if (len > GK_ETH_MTU - GK_IP_HLEN)
        return -XEN_EMSGSIZE;
    struct gk_ip_hdr *h = (struct gk_ip_hdr *)(gk_stack_tx + GK_STACK_L3);
    h->ver_ihl = 4 << 4 | GK_IP_HLEN / 4;
    h->tos = 0;
    h->total_len = gk_be16((uint16_t)(GK_IP_HLEN + len));
    h->id = gk_be16(gk_stack.ip_id++);
    h->frag = gk_be16(GK_IP_DF);        /* never fragmented: say so */
    h->ttl = GK_IP_TTL;
    h->proto = proto;
    h->csum = 0;
    h->src = gk_be32(gk_stack.ip);
    h->dst = gk_be32(dst);
    h->csum = gk_be16(gk_csum_fold(gk_csum_add(0, h, GK_IP_HLEN)));
    return gk_stack_eth_output(mac, GK_ETHERTYPE_IPV4, GK_IP_HLEN + len);
}

int gk_ip_send(uint32_t dst, uint8_t proto, const void *payload, size_t len)
{
    if (!payload && len)
        return -XEN_EINVAL;
    if (len > GK_ETH_MTU - GK_IP_HLEN)
        return -XEN_EMSGSIZE;
    uint8_t mac[6];
    int rc = gk_stack_resolve(dst, mac);     /* first: it may poll, and handlers may send */
    if (rc)
        return rc;
    memcpy(gk_stack_tx + GK_STACK_L4, payload, len);
    return gk_stack_ip_output(mac, dst, proto, len);
}
