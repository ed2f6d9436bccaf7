/*
 * bench - the null-hypercall benchmark guest.
 *
 * Reads n=<decimal> from the command line (default 10000), issues
 * xen_version(XENVER_version, NULL) n times before doing anything else
 * (no console output first), then prints "bench: done n=<n>" and powers
 * off. With n=0 it is the minimal-boot guest.
 */
#include <guestkit/guestkit.h>

#define DEFAULT_N 10000UL

/* Value of the first "n=<digits>" word on the command line, or DEFAULT_N. */
static unsigned long parse_n(const char *cmd)
{
    for (const char *p = cmd; *p; p++) {
        int word_start = p == cmd || *(p - 1) == ' ';
        if (!word_start || p[0] != 'n' || p[1] != '=')
            continue;
        const char *d = p + 2;
        if (*d < '0' || *d > '9')
            continue;
        unsigned long n = 0;
        while (*d >= '0' && *d <= '9')
            n = n * 10 + (unsigned long)(*d++ - '0');
        return n;
    }
    return DEFAULT_N;
}

void gk_main(void)
{
    unsigned long n = parse_n(gk_cmdline());

    for (unsigned long i = 0; i < n; i++)
        HYPERVISOR_xen_version(XENVER_version, NULL);

    gk_printf("bench: done n=%lu\n", n);
}
