/*
 * net.c - the IPv4 stack's core: its state on one vif, the receive loop
 * (one frame per gk_inet_poll) and Ethernet in both directions. The
 * protocols are in net_arp.c, net_ipv4.c, net_icmp.c and net_udp.c; see
 * guestkit/net.h for the model.
 */
#include "net_stack.h"

struct gk_stack gk_stack;
uint8_t gk_stack_tx[GK_NET_FRAME_MAX] __attribute__((aligned(16)));
const uint8_t gk_eth_broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* The frame being handled (handlers see pointers into it). */
static uint8_t rx[GK_NET_FRAME_MAX] __attribute__((aligned(16)));

int gk_inet_open(struct gk_net *dev, uint32_t ip, unsigned int prefix)
{
    if (!dev || prefix < 1 || prefix > 32 || ip == 0 || ip == GK_IP_BROADCAST)
        return -XEN_EINVAL;
    memset(&gk_stack, 0, sizeof(gk_stack));
    gk_stack.dev = dev;
    memcpy(gk_stack.mac, gk_net_mac(dev), 6);
    gk_stack.ip = ip;
    gk_stack.prefix = prefix;
    gk_stack.mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
    gk_stack.ip_id = 1;
    gk_stack_arp_reset();
    gk_stack_udp_reset();
    return 0;
}

int gk_inet_open_cmdline(struct gk_net *dev)
{
    const char *v = gk_cmdline_value("ip");
    uint32_t ip;
    unsigned int prefix;
    if (!v || gk_ip_parse(v, &ip, &prefix) != 0)
        return -XEN_EINVAL;
    return gk_inet_open(dev, ip, prefix);
}

void gk_inet_close(void)
{
    gk_stack.dev = NULL;
}

uint32_t gk_inet_ip(void)
{
    return gk_stack.ip;
}

unsigned int gk_inet_prefix(void)
{
    return gk_stack.prefix;
}

const struct gk_inet_stats *gk_inet_stats(void)
{
    return &gk_stack.stats;
}

int gk_stack_can_wait(void)
{
    if (!gk_stack.dev)
        return -XEN_EINVAL;
    return gk_stack.depth ? -XEN_EDEADLK : 0;
}

int gk_stack_is_broadcast(uint32_t ip)
{
    return ip == GK_IP_BROADCAST || (gk_stack.mask != 0xffffffffu && (ip & ~gk_stack.mask) == ~gk_stack.mask &&
                                     (ip & gk_stack.mask) == (gk_stack.ip & gk_stack.mask));
}

/* ---- Ethernet ------------------------------------------------------------------- */

int gk_stack_eth_output(const uint8_t dst[6], uint16_t type, size_t len)
{
    if (!gk_stack.dev)
        return -XEN_EINVAL;
    if (len > GK_ETH_MTU)
        return -XEN_EMSGSIZE;
    struct gk_eth_hdr *h = (struct gk_eth_hdr *)gk_stack_tx;
    memcpy(h->dst, dst, 6);
    memcpy(h->src, gk_stack.mac, 6);
    h->type = gk_be16(type);
    size_t total = GK_ETH_HLEN + len;
    if (total < GK_ETH_ZLEN) {
        /* Ethernet's minimum; the receiver goes by its own length fields. */
        memset(gk_stack_tx + total, 0, GK_ETH_ZLEN - total);
        total = GK_ETH_ZLEN;
    }
    int rc = gk_net_send(gk_stack.dev, gk_stack_tx, total);
    if (rc) {
        gk_stack.stats.tx_errors++;
        return rc;
    }
    gk_stack.stats.tx_frames++;
    return 0;
}

int gk_eth_send(const uint8_t dst[6], uint16_t type, const void *payload, size_t len)
{
    if (!dst || (!payload && len))
        return -XEN_EINVAL;
    if (len > GK_ETH_MTU)
        return -XEN_EMSGSIZE;
    memcpy(gk_stack_tx + GK_STACK_L3, payload, len);
    return gk_stack_eth_output(dst, type, len);
}

/* A frame for us: our MAC or the broadcast; multicast and other hosts'
 * unicast (flooded by the switch) are not. */
static void eth_input(const uint8_t *p, size_t len)
{
    if (len < GK_ETH_HLEN) {
        gk_stack.stats.rx_malformed++;
        return;
    }
    const struct gk_eth_hdr *h = (const struct gk_eth_hdr *)p;
    if (memcmp(h->dst, gk_stack.mac, 6) != 0 && memcmp(h->dst, gk_eth_broadcast, 6) != 0) {
        gk_stack.stats.rx_not_ours++;
        return;
    }
    switch (gk_be16(h->type)) {
    case GK_ETHERTYPE_ARP:
        gk_stack_arp_input(p + GK_ETH_HLEN, len - GK_ETH_HLEN);
        break;
    case GK_ETHERTYPE_IPV4:
        gk_stack_ip_input(h->src, p + GK_ETH_HLEN, len - GK_ETH_HLEN);
        break;
    default:
        gk_stack.stats.rx_not_ours++;
        break;
    }
}

int gk_inet_poll(uint64_t deadline_ns)
{
    int rc = gk_stack_can_wait();
    if (rc)
        return rc;
    int n = gk_net_receive(gk_stack.dev, rx, sizeof(rx), deadline_ns);
    if (n == -XEN_EMSGSIZE) {
        /* Longer than any frame the vif may carry: not ours to parse. */
        gk_stack.stats.rx_frames++;
        gk_stack.stats.rx_malformed++;
        return 0;
    }
    if (n < 0)
        return n;
    gk_stack.stats.rx_frames++;
    gk_stack.depth++;
    eth_input(rx, (size_t)n);
    gk_stack.depth--;
    return 0;
}
