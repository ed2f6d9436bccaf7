/*
 * net_stack.h - what the files of the IPv4 stack (net*.c) share and no
 * one else sees: the wire formats, byte order, the stack's state, the
 * frame being built, and each layer's entry points.
 *
 * Building a frame: a sender resolves the destination MAC first (that
 * may poll, and handlers may send), then writes its payload at its
 * layer's offset in gk_stack_tx and calls the layer below, which puts
 * its header in front: UDP/ICMP at GK_STACK_L4, IPv4 at GK_STACK_L3,
 * Ethernet at 0. Received frames are handled in place in the receive
 * buffer.
 */
#ifndef GUESTKIT_NET_STACK_H
#define GUESTKIT_NET_STACK_H

#include <guestkit/guestkit.h>
#include <guestkit/net.h>

/* ---- byte order: the wire is big-endian, x86 little-endian ------------------- */

static inline uint16_t gk_be16(uint16_t v)
{
    return __builtin_bswap16(v);
}

static inline uint32_t gk_be32(uint32_t v)
{
    return __builtin_bswap32(v);
}

/* ---- wire formats (packed: they sit at any offset in a frame) ---------------- */

struct gk_eth_hdr {
    uint8_t dst[6];
    uint8_t src[6];
    uint16_t type;                  /* GK_ETHERTYPE_* */
} __attribute__((packed));

/* ARP for IPv4 over Ethernet (RFC 826). */
struct gk_arp_pkt {
    uint16_t htype;                 /* 1: Ethernet */
    uint16_t ptype;                 /* GK_ETHERTYPE_IPV4 */
    uint8_t hlen;                   /* 6 */
    uint8_t plen;                   /* 4 */
    uint16_t op;                    /* 1 request, 2 reply */
    uint8_t sha[6];                 /* sender's MAC and address */
    uint32_t spa;
    uint8_t tha[6];                 /* target's (MAC unknown in a request: 0) */
    uint32_t tpa;
} __attribute__((packed));

struct gk_ip_hdr {
    uint8_t ver_ihl;                /* 4 << 4 | header length in 32-bit words */
    uint8_t tos;
    uint16_t total_len;             /* header + payload */
    uint16_t id;
    uint16_t frag;                  /* flags (DF 0x4000, MF 0x2000) | offset in 8-byte units */
    uint8_t ttl;
    uint8_t proto;                  /* GK_IP_PROTO_* */
    uint16_t csum;                  /* over the header */
    uint32_t src;
    uint32_t dst;
} __attribute__((packed));

struct gk_icmp_echo {
    uint8_t type;                   /* GK_ICMP_ECHO_* */
    uint8_t code;                   /* 0 */
    uint16_t csum;                  /* over the whole ICMP message */
    uint16_t id;
    uint16_t seq;
} __attribute__((packed));

struct gk_udp_hdr {
    uint16_t sport;
    uint16_t dport;
    uint16_t len;                   /* header + data */
    uint16_t csum;                  /* over a pseudo header, the header and the data; 0: none */
} __attribute__((packed));

_Static_assert(sizeof(struct gk_eth_hdr) == GK_ETH_HLEN, "Ethernet header");
_Static_assert(sizeof(struct gk_arp_pkt) == 28, "ARP packet");
_Static_assert(sizeof(struct gk_ip_hdr) == GK_IP_HLEN, "IPv4 header");
_Static_assert(sizeof(struct gk_icmp_echo) == GK_ICMP_HLEN, "ICMP echo header");
_Static_assert(sizeof(struct gk_udp_hdr) == GK_UDP_HLEN, "UDP header");

#define GK_ARP_HTYPE_ETHER      1
#define GK_ARP_OP_REQUEST       1
#define GK_ARP_OP_REPLY         2
#define GK_IP_DF                0x4000
#define GK_IP_MF                0x2000
#define GK_IP_OFFSET_MASK       0x1fff
#define GK_IP_TTL               64

/* Where each layer's header goes in the frame being built. */
#define GK_STACK_L3             GK_ETH_HLEN
#define GK_STACK_L4             (GK_ETH_HLEN + GK_IP_HLEN)

/* ---- the stack's state (net.c) ------------------------------------------------ */

struct gk_stack {
    struct gk_net *dev;             /* NULL: not open */
    uint8_t mac[6];
    uint32_t ip;
    uint32_t mask;
    unsigned int prefix;
    unsigned int depth;             /* > 0 while a received frame is being handled */
    uint16_t ip_id;                 /* the next IPv4 id */
    struct gk_inet_stats stats;
};

extern struct gk_stack gk_stack;
/* The frame being built. */
extern uint8_t gk_stack_tx[GK_NET_FRAME_MAX];

extern const uint8_t gk_eth_broadcast[6];

/* Whether ip is one of the broadcast addresses we take (and send to ff:..). */
int gk_stack_is_broadcast(uint32_t ip);

/* Ethernet: send gk_stack_tx with its len-byte payload at GK_STACK_L3. */
int gk_stack_eth_output(const uint8_t dst[6], uint16_t type, size_t len);

/* ARP (net_arp.c). */
void gk_stack_arp_reset(void);
void gk_stack_arp_input(const uint8_t *p, size_t len);
/* The MAC to send to ip with: the broadcast one, the cache's, or (outside
 * a handler) gk_arp_resolve's with GK_ARP_TIMEOUT_NS. */
int gk_stack_resolve(uint32_t ip, uint8_t mac[6]);

/* IPv4 (net_ipv4.c): what a received packet's upper layer is told. */
struct gk_stack_ip {
    const uint8_t *src_mac;         /* the frame's source: where an answer goes */
    uint32_t src;
    uint32_t dst;
};
void gk_stack_ip_input(const uint8_t *src_mac, const uint8_t *p, size_t len);
/* Send gk_stack_tx with its len-byte payload at GK_STACK_L4 to dst, whose
 * MAC is mac. */
int gk_stack_ip_output(const uint8_t mac[6], uint32_t dst, uint8_t proto, size_t len);

/* ICMP (net_icmp.c), UDP (net_udp.c). */
void gk_stack_icmp_input(const struct gk_stack_ip *ip, const uint8_t *p, size_t len);
void gk_stack_udp_reset(void);
void gk_stack_udp_input(const struct gk_stack_ip *ip, const uint8_t *p, size_t len);

/* A waiting call's guard: -XEN_EINVAL without a stack, -XEN_EDEADLK from a handler. */
int gk_stack_can_wait(void);

#endif /* GUESTKIT_NET_STACK_H */
