/*
 * guestkit/net.h - a tiny IPv4 stack over one vif (<guestkit/netfront.h>):
 * Ethernet II, ARP (requests, replies, a small cache), IPv4 (no
 * fragments, no options sent, no routing: every destination is looked up
 * with ARP), ICMP echo (requests answered; pings sent and their replies
 * matched) and UDP (send; receive by port, to a handler or a queue).
 *
 * One stack per domain, on one open vif: gk_inet_open(dev, ip, prefix).
 * Nothing happens in the background: frames are taken from the vif only
 * inside gk_inet_poll() (one frame per call) and inside the calls that
 * wait for something (gk_arp_resolve, gk_icmp_ping, gk_udp_recv), which
 * poll until it comes. Every frame taken is handled as it arrives: ARP
 * requests for our address and ICMP echo requests are answered, UDP
 * datagrams go to their port's handler or queue, everything else is
 * counted and dropped.
 *
 * Addresses are host-order uint32_t (10.0.0.1 = 0x0a000001 =
 * GK_IP(10, 0, 0, 1)); ports are host-order uint16_t; MACs are 6 bytes.
 *
 * Receiving. Frames must be addressed to our MAC or to ff:ff:ff:ff:ff:ff
 * (the switch floods unknown unicast; those are dropped). IPv4: version
 * 4, a header of 20-60 bytes with a valid checksum (options skipped), a
 * total length inside the frame (Ethernet padding ignored), not a
 * fragment (MF set or an offset: dropped), for our address, the limited
 * broadcast 255.255.255.255 or our subnet's broadcast. ICMP and UDP
 * checksums are verified (UDP's only when non-zero, as RFC 768 says).
 *
 * Sending. IPv4 headers carry DF, TTL 64 and a running id; frames shorter
 * than 60 bytes are padded with zeros to Ethernet's minimum. UDP
 * checksums are always computed. A destination not in the ARP cache is
 * resolved first (requests every GK_ARP_RETRY_NS, GK_ARP_TIMEOUT_NS at
 * most) -- except from inside a handler, where the packet is dropped
 * (counted in tx_unresolved, -XEN_EAGAIN) after one ARP request, since a
 * handler may not wait. The broadcast addresses go to ff:ff:ff:ff:ff:ff.
 * Sending to our own address is -XEN_EINVAL (no loopback).
 *
 * Errors are -XEN_Exxx: the vif's (netfront.h), or -XEN_EINVAL (bad
 * argument, no stack open), -XEN_ETIMEDOUT, -XEN_EAGAIN (above),
 * -XEN_EMSGSIZE (too long for one frame / for the caller's buffer),
 * -XEN_EADDRINUSE, -XEN_ENOSPC, -XEN_EBADMSG (a ping's reply came back
 * with other contents), -XEN_EDEADLK (a waiting call from inside a
 * handler). Single vCPU, no locking; not from event or trap handlers.
 */
#ifndef GUESTKIT_NET_H
#define GUESTKIT_NET_H

#include <stddef.h>
#include <stdint.h>
#include <guestkit/netfront.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants ------------------------------------------------------------------ */

#define GK_ETH_HLEN             14          /* destination, source, EtherType */
#define GK_ETH_ZLEN             60          /* shortest frame (without the FCS) */
#define GK_ETH_MTU              1500        /* payload of the longest frame */
#define GK_ETHERTYPE_IPV4       0x0800
#define GK_ETHERTYPE_ARP        0x0806
#define GK_IP_HLEN              20          /* an IPv4 header without options */
#define GK_IP_PROTO_ICMP        1
#define GK_IP_PROTO_UDP         17
#define GK_ICMP_HLEN            8           /* type, code, checksum, id, sequence */
#define GK_ICMP_ECHO_REPLY      0
#define GK_ICMP_ECHO_REQUEST    8
#define GK_UDP_HLEN             8
/* The most a datagram / an echo request may carry in one frame. */
#define GK_UDP_MAX_PAYLOAD      (GK_ETH_MTU - GK_IP_HLEN - GK_UDP_HLEN)    /* 1472 */
#define GK_ICMP_MAX_PAYLOAD     (GK_ETH_MTU - GK_IP_HLEN - GK_ICMP_HLEN)   /* 1472 */

/* ARP cache entries (the least recently used one is replaced; entries do
 * not expire, they are refreshed by every ARP packet from their owner). */
#define GK_ARP_ENTRIES          16
/* gk_arp_resolve's interval between requests; the most an implicit
 * resolution (a send to an address not in the cache) waits. */
#define GK_ARP_RETRY_NS         (250ULL * 1000000ULL)
#define GK_ARP_TIMEOUT_NS       (3ULL * 1000000000ULL)
/* UDP ports bound at once; datagrams queued for gk_udp_recv, all ports
 * together (when full, new ones are dropped and counted). */
#define GK_UDP_PORTS            8
#define GK_UDP_QUEUE            16

/* Room for a formatted address, with its NUL. */
#define GK_IP_STR               16          /* "255.255.255.255" */
#define GK_MAC_STR              18          /* "00:16:3e:00:00:01" */

#define GK_IP(a, b, c, d) \
    ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define GK_IP_BROADCAST         0xffffffffu

/* ---- addresses ---------------------------------------------------------------- */

/* "a.b.c.d" or "a.b.c.d/prefix" (each part decimal, 0-255; prefix 1-32),
 * ending at a space or the end of the string (so a command line's value
 * can be passed as it is). *prefix (if not NULL) gets the prefix, 24 when
 * none is given. 0 or -XEN_EINVAL. */
int gk_ip_parse(const char *s, uint32_t *ip, unsigned int *prefix);
/* "xx:xx:xx:xx:xx:xx" (hex, either case), ending like gk_ip_parse's. */
int gk_mac_parse(const char *s, uint8_t mac[6]);
/* Dotted decimal / lower-case colon form into buf; returns buf. */
char *gk_ip_format(uint32_t ip, char buf[GK_IP_STR]);
char *gk_mac_format(const uint8_t mac[6], char buf[GK_MAC_STR]);

/* ---- the Internet checksum (RFC 1071) ------------------------------------------- */

/* Add len bytes, as big-endian 16-bit words, to a running one's-complement
 * sum (start with 0; every piece but the last must have an even length).
 * The result is folded to 16 bits, so it can be passed on as `sum`. */
uint32_t gk_csum_add(uint32_t sum, const void *data, size_t len);
/* The checksum field's value for a running sum: its complement. A
 * message whose checksum field is right sums to 0xffff, i.e. folds to 0. */
uint16_t gk_csum_fold(uint32_t sum);

/* ---- the stack ----------------------------------------------------------------- */

/* Counters since gk_inet_open. */
struct gk_inet_stats {
    uint64_t rx_frames;             /* frames taken from the vif */
    uint64_t rx_not_ours;           /* for another MAC, multicast, another EtherType or protocol, another address */
    uint64_t rx_malformed;          /* too short, bad header, bad checksum */
    uint64_t rx_fragments;          /* IPv4 fragments (dropped) */
    uint64_t arp_answered;          /* ARP requests for our address answered */
    uint64_t arp_requests_sent;
    uint64_t icmp_echo_answered;    /* echo requests answered */
    uint64_t icmp_replies_unmatched;/* echo replies no ping was waiting for */
    uint64_t udp_received;          /* datagrams delivered to a handler or queued */
    uint64_t udp_no_port;           /* for a port nothing is bound to */
    uint64_t udp_queue_full;        /* dropped: the queue was full */
    uint64_t tx_frames;             /* frames handed to the vif */
    uint64_t tx_unresolved;         /* packets dropped inside a handler for want of an ARP entry */
    uint64_t tx_errors;             /* gk_net_send failures */
};

/* Start the stack on an open vif with address ip/prefix (prefix 1-32; it
 * only decides the subnet broadcast). Clears the ARP cache, the UDP
 * ports and queue and the counters. */
int gk_inet_open(struct gk_net *dev, uint32_t ip, unsigned int prefix);
/* The same with the command line's "ip=a.b.c.d[/prefix]" (-XEN_EINVAL if
 * missing or malformed). */
int gk_inet_open_cmdline(struct gk_net *dev);
/* Detach from the vif (which stays open). */
void gk_inet_close(void);
uint32_t gk_inet_ip(void);
unsigned int gk_inet_prefix(void);
const struct gk_inet_stats *gk_inet_stats(void);

/* Take one frame from the vif (waiting until system time deadline_ns, 0:
 * no deadline, a past one: only look) and handle it. 0, -XEN_ETIMEDOUT,
 * or the vif's error. */
int gk_inet_poll(uint64_t deadline_ns);

/* ---- Ethernet ------------------------------------------------------------------ */

/* One frame to `dst` with EtherType `type` and len payload bytes (at most
 * GK_ETH_MTU). */
int gk_eth_send(const uint8_t dst[6], uint16_t type, const void *payload, size_t len);

/* ---- ARP ----------------------------------------------------------------------- */

/* The cache's entry for ip: 0 and *mac, or -XEN_ENOENT. */
int gk_arp_lookup(uint32_t ip, uint8_t mac[6]);
/* The cache's entry, or ask: a broadcast request every GK_ARP_RETRY_NS,
 * polling meanwhile, until the reply or system time deadline_ns
 * (-XEN_ETIMEDOUT; 0: no deadline). */
int gk_arp_resolve(uint32_t ip, uint8_t mac[6], uint64_t deadline_ns);

/* ---- IPv4 ------------------------------------------------------------------------ */

/* One packet of protocol `proto` with len payload bytes (at most
 * GK_ETH_MTU - GK_IP_HLEN) to dst. */
int gk_ip_send(uint32_t dst, uint8_t proto, const void *payload, size_t len);

/* ---- ICMP echo ------------------------------------------------------------------- */

/*
 * Ping: an echo request to dst with `id`, `seq` and len payload bytes
 * (at most GK_ICMP_MAX_PAYLOAD; byte i is (seq + i * 7) & 0xff), then poll
 * until the reply with the same source, id and sequence comes or system
 * time deadline_ns passes (0: no deadline). 0 and *rtt_ns (send to
 * arrival) if rtt_ns is not NULL; -XEN_ETIMEDOUT; -XEN_EBADMSG if the
 * reply's payload differs. Other replies are counted as unmatched.
 */
int gk_icmp_ping(uint32_t dst, uint16_t id, uint16_t seq, size_t len, uint64_t deadline_ns,
                 uint64_t *rtt_ns);

/* ---- UDP ------------------------------------------------------------------------- */

/* A received datagram. `data` points into the stack's receive buffer:
 * valid only during the handler (gk_udp_recv sets it to NULL). */
struct gk_udp_datagram {
    uint32_t src_ip;
    uint32_t dst_ip;                /* ours, or a broadcast address */
    uint16_t src_port;
    uint16_t dst_port;
    const uint8_t *data;
    size_t len;
};

/* Called for each datagram to its port, from inside the poll that took
 * it. It may send (gk_udp_send ...), not wait (gk_inet_poll and the
 * waiting calls return -XEN_EDEADLK). */
typedef void (*gk_udp_handler_t)(const struct gk_udp_datagram *dg, void *ctx);

/* Take `port` (1-65535): its datagrams go to fn(dg, ctx), or, with fn
 * NULL, to the queue for gk_udp_recv. -XEN_EADDRINUSE, -XEN_ENOSPC
 * (GK_UDP_PORTS bound). */
int gk_udp_bind(uint16_t port, gk_udp_handler_t fn, void *ctx);
/* Free it (its queued datagrams are dropped). -XEN_ENOENT if not bound. */
int gk_udp_unbind(uint16_t port);
/* One datagram of len bytes (at most GK_UDP_MAX_PAYLOAD) from src_port to
 * dst:dst_port. The source port need not be bound. */
int gk_udp_send(uint32_t dst, uint16_t src_port, uint16_t dst_port, const void *data, size_t len);
/* The oldest queued datagram for `port` (bound with fn NULL), polling
 * until one comes or system time deadline_ns passes (0: no deadline):
 * its length, its data in buf (at most max bytes: a longer one is
 * -XEN_EMSGSIZE, truncated and consumed), where it came from in *from (if
 * not NULL). -XEN_ETIMEDOUT; -XEN_EINVAL if the port is not bound for
 * the queue. */
int gk_udp_recv(uint16_t port, void *buf, size_t max, struct gk_udp_datagram *from, uint64_t deadline_ns);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_NET_H */
