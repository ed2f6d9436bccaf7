/*
 * net_csum.c - the Internet checksum (RFC 1071): the one's-complement sum
 * of 16-bit big-endian words, complemented. IPv4 covers its header with
 * it, ICMP its message, UDP a pseudo header plus the datagram.
 */
#include "net_stack.h"

uint32_t gk_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t acc = sum;
    /* 64 bits cannot overflow on a frame: fold once at the end. */
    for (; len >= 2; p += 2, len -= 2)
        acc += (uint32_t)p[0] << 8 | p[1];
    if (len)
        acc += (uint32_t)p[0] << 8;     /* an odd last byte, padded with a zero */
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint32_t)acc;
}

uint16_t gk_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}
