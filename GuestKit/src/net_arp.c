/*
 * net_arp.c - ARP for IPv4 over Ethernet (RFC 826): answering requests for
 * our address, a small cache of who is where, and asking.
 */
#include "net_stack.h"

struct entry {
    uint32_t ip;                /* 0: free */
    uint8_t mac[6];
    uint64_t used;              /* when last looked up or refreshed (LRU) */
};

static struct entry cache[GK_ARP_ENTRIES];
static uint64_t lru_clock;         /* a counter, not time: only the order matters */

void gk_stack_arp_reset(void)
{
    memset(cache, 0, sizeof(cache));
    lru_clock = 0;
}

static struct entry *find(uint32_t ip)
{
    for (unsigned int i = 0; i < GK_ARP_ENTRIES; i++)
        if (cache[i].ip == ip)
            return &cache[i];
    return NULL;
}

/* Record ip at mac: refresh its entry, or take a free / the least recently used one. */
static void learn(uint32_t ip, const uint8_t mac[6])
{
    struct entry *e = find(ip);
    if (!e) {
        e = &cache[0];
        for (unsigned int i = 0; i < GK_ARP_ENTRIES; i++) {
            if (cache[i].ip == 0) {
                e = &cache[i];
                break;
            }
            if (cache[i].used < e->used)
                e = &cache[i];
        }
        e->ip = ip;
    }
    memcpy(e->mac, mac, 6);
    e->used = ++lru_clock;
}

int gk_arp_lookup(uint32_t ip, uint8_t mac[6])
{
    struct entry *e = ip ? find(ip) : NULL;
    if (!e)
        return -XEN_ENOENT;
    memcpy(mac, e->mac, 6);
    e->used = ++lru_clock;
    return 0;
}

/* One ARP packet: `op` to the MAC `to`, about target tha/tpa. */
static int send_arp(uint16_t op, const uint8_t to[6], const uint8_t tha[6], uint32_t tpa)
{
    struct gk_arp_pkt *a = (struct gk_arp_pkt *)(gk_stack_tx + GK_STACK_L3);
    a->htype = gk_be16(GK_ARP_HTYPE_ETHER);
    a->ptype = gk_be16(GK_ETHERTYPE_IPV4);
    a->hlen = 6;
    a->plen = 4;
    a->op = gk_be16(op);
    memcpy(a->sha, gk_stack.mac, 6);
    a->spa = gk_be32(gk_stack.ip);
    memcpy(a->tha, tha, 6);
    a->tpa = gk_be32(tpa);
    return gk_stack_eth_output(to, GK_ETHERTYPE_ARP, sizeof(*a));
}

static int send_request(uint32_t ip)
{
    static const uint8_t unknown[6];
    gk_stack.stats.arp_requests_sent++;
    return send_arp(GK_ARP_OP_REQUEST, gk_eth_broadcast, unknown, ip);
}

void gk_stack_arp_input(const uint8_t *p, size_t len)
{
    if (len < sizeof(struct gk_arp_pkt)) {
        gk_stack.stats.rx_malformed++;
        return;
    }
    const struct gk_arp_pkt *a = (const struct gk_arp_pkt *)p;
    uint16_t op = gk_be16(a->op);
    if (gk_be16(a->htype) != GK_ARP_HTYPE_ETHER || gk_be16(a->ptype) != GK_ETHERTYPE_IPV4 || a->hlen != 6 ||
        a->plen != 4 || (op != GK_ARP_OP_REQUEST && op != GK_ARP_OP_REPLY)) {
        gk_stack.stats.rx_malformed++;
        return;
    }
    uint32_t spa = gk_be32(a->spa), tpa = gk_be32(a->tpa);
    uint8_t sha[6];
    memcpy(sha, a->sha, 6);
    /* RFC 826: refresh a sender we know; learn it when we are the target
     * (it is about to talk to us). */
    int for_us = tpa == gk_stack.ip;
    if (spa && (for_us || find(spa)) && memcmp(sha, gk_eth_broadcast, 6) != 0 && !(sha[0] & 1))
        learn(spa, sha);
    if (!for_us) {
        gk_stack.stats.rx_not_ours++;
        return;
    }
    if (op == GK_ARP_OP_REQUEST && send_arp(GK_ARP_OP_REPLY, sha, sha, spa) == 0)
        gk_stack.stats.arp_answered++;
}

int gk_arp_resolve(uint32_t ip, uint8_t mac[6], uint64_t deadline_ns)
{
    if (!mac || ip == 0)
        return -XEN_EINVAL;
    if (gk_arp_lookup(ip, mac) == 0)
        return 0;
    int rc = gk_stack_can_wait();
    if (rc)
        return rc;
    for (;;) {
        rc = send_request(ip);
        if (rc)
            return rc;
        uint64_t retry = gk_now_ns() + GK_ARP_RETRY_NS;
        if (deadline_ns && deadline_ns < retry)
            retry = deadline_ns;
        /* Handle whatever comes until the answer or the next try. */
        while ((rc = gk_inet_poll(retry)) == 0) {
            if (gk_arp_lookup(ip, mac) == 0)
                return 0;
        }
        if (rc != -XEN_ETIMEDOUT)
            return rc;
        if (deadline_ns && gk_now_ns() >= deadline_ns)
            return -XEN_ETIMEDOUT;
    }
}

int gk_stack_resolve(uint32_t ip, uint8_t mac[6])
{
    if (!gk_stack.dev)
        return -XEN_EINVAL;
    if (ip == gk_stack.ip || ip == 0)
        return -XEN_EINVAL;
    if (gk_stack_is_broadcast(ip)) {
        memcpy(mac, gk_eth_broadcast, 6);
        return 0;
    }
    if (gk_arp_lookup(ip, mac) == 0)
        return 0;
    if (gk_stack.depth) {
        /* A handler may not wait: ask, and drop this packet. */
        send_request(ip);
        gk_stack.stats.tx_unresolved++;
        return -XEN_EAGAIN;
    }
    return gk_arp_resolve(ip, mac, gk_now_ns() + GK_ARP_TIMEOUT_NS);
}
