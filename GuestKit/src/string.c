/*
 * string.c - the memory and string functions of a minimal libc.
 *
 * The block operations use `rep movsb` / `rep stosb` (unprivileged, fast on
 * current CPUs) so that the compiler can never turn their loops back into
 * calls to themselves.
 */
#include <guestkit/guestkit.h>

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    __asm__ __volatile__ ("rep stosb"
        : "+D" (d), "+c" (n)
        : "a" (c)
        : "memory");
    return dst;
}

void *memcpy(void *__restrict dst, const void *__restrict src, size_t n)
{
    void *d = dst;
    __asm__ __volatile__ ("rep movsb"
        : "+D" (d), "+S" (src), "+c" (n)
        :
        : "memory");
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);

    /* Overlap with dst above src: copy backwards, then restore DF = 0. */
    d += n - 1;
    s += n - 1;
    __asm__ __volatile__ ("std\n\trep movsb\n\tcld"
        : "+D" (d), "+S" (s), "+c" (n)
        :
        : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            break;
    }
    return 0;
}

/* xorshift64*, fixed seed: deterministic, which is what a test guest wants. */
static uint64_t prng_state = 0x9e3779b97f4a7c15ULL;

void arc4random_buf(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        prng_state ^= prng_state >> 12;
        prng_state ^= prng_state << 25;
        prng_state ^= prng_state >> 27;
        uint64_t r = prng_state * 0x2545f4914f6cdd1dULL;
        for (int i = 0; i < 8 && n; i++, n--) {
            *p++ = (unsigned char)r;
            r >>= 8;
        }
    }
}
