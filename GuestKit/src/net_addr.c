/*
 * net_addr.c - IPv4 and MAC addresses as text: parsing what a command
 * line or XenStore says, formatting for the console.
 */
#include "net_stack.h"

/* Where a value written on a command line ends. */
static int at_end(char c)
{
    return c == '\0' || c == ' ';
}

/* A decimal number of 1-3 digits up to max at *s; advances *s. -1 if none. */
static int decimal(const char **s, unsigned int max)
{
    const char *p = *s;
    unsigned int v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 3) {
        v = v * 10 + (unsigned int)(*p++ - '0');
        digits++;
    }
    if (digits == 0 || (*p >= '0' && *p <= '9') || v > max)
        return -1;
    *s = p;
    return (int)v;
}

int gk_ip_parse(const char *s, uint32_t *ip, unsigned int *prefix)
{
    if (!s || !ip)
        return -XEN_EINVAL;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int part = decimal(&s, 255);
        if (part < 0 || (i < 3 && *s++ != '.'))
            return -XEN_EINVAL;
        v = v << 8 | (uint32_t)part;
    }
    unsigned int n = 24;
    if (*s == '/') {
        s++;
        int p = decimal(&s, 32);
        if (p < 1)
            return -XEN_EINVAL;
        n = (unsigned int)p;
    }
    if (!at_end(*s))
        return -XEN_EINVAL;
    *ip = v;
    if (prefix)
        *prefix = n;
    return 0;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int gk_mac_parse(const char *s, uint8_t mac[6])
{
    if (!s || !mac)
        return -XEN_EINVAL;
    uint8_t m[6];
    for (int i = 0; i < 6; i++) {
        int hi = hex(s[0]), lo = hi < 0 ? -1 : hex(s[1]);
        if (lo < 0)
            return -XEN_EINVAL;
        m[i] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (i < 5 && *s++ != ':')
            return -XEN_EINVAL;
    }
    if (!at_end(*s))
        return -XEN_EINVAL;
    memcpy(mac, m, 6);
    return 0;
}

char *gk_ip_format(uint32_t ip, char buf[GK_IP_STR])
{
    gk_snprintf(buf, GK_IP_STR, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
    return buf;
}

char *gk_mac_format(const uint8_t mac[6], char buf[GK_MAC_STR])
{
    gk_snprintf(buf, GK_MAC_STR, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                mac[5]);
    return buf;
}
