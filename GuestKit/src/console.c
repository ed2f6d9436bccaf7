/*
 * console.c - buffered console output over console_io(CONSOLEIO_write) or
 * the PV console ring, ring input, and a small printf.
 */
#include <guestkit/guestkit.h>
#include <xen/io/console.h>
#include <xen/io/ring.h>

_Static_assert(offsetof(struct xencons_interface, out) == 1024, "out @1024");
_Static_assert(offsetof(struct xencons_interface, in_cons) == 3072, "in_cons @3072");
_Static_assert(offsetof(struct xencons_interface, in_prod) == 3076, "in_prod @3076");
_Static_assert(offsetof(struct xencons_interface, out_cons) == 3080, "out_cons @3080");
_Static_assert(offsetof(struct xencons_interface, out_prod) == 3084, "out_prod @3084");
_Static_assert(offsetof(struct xencons_interface, connection) == 3088, "connection @3088");

#define CONSOLE_BUF_SIZE 256
#define RING_SLICE_NS   (5 * GK_NS_PER_MS)      /* look at out_cons at least this often when full */
#define RING_STALL_NS   (10 * GK_NS_PER_SEC)    /* no progress this long: the back end is gone */

static char out_buf[CONSOLE_BUF_SIZE];
static unsigned int out_len;

/* The ring, once gk_console_use_ring() succeeded. Our indices are kept
 * privately and only written to the page: the back end cannot move them. */
static struct xencons_interface *cons;
static evtchn_port_t cons_port;
static uint32_t out_prod, in_cons;
/* Where flushes go instead of console_io (NULL: console_io, the default,
 * or after a stall). A pointer, so that images never calling
 * gk_console_use_ring link none of the ring code, nor the events and
 * clock code it needs. */
static unsigned int (*ring_sink)(const char *s, unsigned int n);

static void io_write(const char *s, unsigned int n)
{
    HYPERVISOR_console_io(CONSOLEIO_write, (int)n, (char *)s);
}

/* Copy s into out[], waiting for room; returns how many bytes went in
 * (fewer than n: the back end stopped consuming or broke its index). */
static unsigned int ring_write(const char *s, unsigned int n)
{
    unsigned int done = 0;
    uint64_t stall_end = 0;
    int unsent = 0;

    while (done < n) {
        uint32_t used = out_prod - gk_ring_load(&cons->out_cons);
        if (used > sizeof(cons->out))
            break;
        uint32_t room = (uint32_t)sizeof(cons->out) - used;
        if (room == 0) {
            if (unsent) {
                gk_evtchn_send(cons_port);  /* it may be waiting for data */
                unsent = 0;
            }
            uint64_t now = gk_now_ns();
            if (!stall_end)
                stall_end = now + RING_STALL_NS;
            else if (now >= stall_end)
                break;
            gk_evtchn_wait(cons_port, now + RING_SLICE_NS);
            continue;
        }
        stall_end = 0;
        uint32_t chunk = n - done < room ? n - done : room;
        for (uint32_t i = 0; i < chunk; i++)
            cons->out[MASK_XENCONS_IDX(out_prod + i, cons->out)] = s[done + i];
        out_prod += chunk;
        /* Release: the bytes are visible before the index covering them. */
        gk_ring_store(&cons->out_prod, out_prod);
        unsent = 1;
        done += chunk;
    }
    if (unsent)
        gk_evtchn_send(cons_port);
    return done;
}

/* The buffer into the ring, the rest (if the back end stopped taking
 * it) through console_io. Out of line: gk_flush is inlined into every
 * gk_putc. */
static __attribute__((noinline)) void flush_to_ring(void)
{
    unsigned int (*sink)(const char *, unsigned int) = ring_sink;
    /* Hide the pointer's possible values from the optimiser, which would
     * otherwise call ring_write directly and link it everywhere. */
    __asm__ ("" : "+r" (sink));
    unsigned int done = sink(out_buf, out_len);
    if (done < out_len) {
        ring_sink = NULL;       /* the back end is gone: keep the output */
        io_write(out_buf + done, out_len - done);
    }
    out_len = 0;
}

void gk_flush(void)
{
    if (!out_len)
        return;
    if (ring_sink) {
        flush_to_ring();
        return;
    }
    io_write(out_buf, out_len);
    out_len = 0;
}

/* ---- the console ring ------------------------------------------------------ */

int gk_console_use_ring(void)
{
    if (ring_sink)
        return 0;
    start_info_t *si = gk_start_info;
    if (!si || (si->flags & SIF_INITDOMAIN) || si->console.domU.mfn == 0 ||
        si->console.domU.evtchn == 0)
        return -XEN_ENODEV;
    unsigned long pfn = gk_mfn_to_pfn(si->console.domU.mfn);
    struct xencons_interface *r = pfn == GK_INVALID_PFN ? NULL : gk_pfn_to_virt(pfn);
    if (!r)
        return -XEN_ENXIO;
    uint32_t prod = gk_ring_load(&r->out_prod);
    uint32_t icons = gk_ring_load(&r->in_cons);
    if (prod - gk_ring_load(&r->out_cons) > sizeof(r->out) ||
        gk_ring_load(&r->in_prod) - icons > sizeof(r->in))
        return -XEN_EIO;
    /* Builder-made port: vCPU 0's (never bound here); let it raise upcalls. */
    int rc = gk_evtchn_unmask(si->console.domU.evtchn);
    if (rc)
        return rc;

    gk_flush();                 /* what is buffered goes the old way, in order */
    out_prod = prod;
    in_cons = icons;
    cons_port = si->console.domU.evtchn;
    cons = r;
    ring_sink = ring_write;
    return 0;
}

int gk_console_ring_active(void)
{
    return ring_sink != NULL;
}

int gk_console_ring_read(char *buf, size_t n)
{
    if (!cons)
        return -XEN_ENODEV;
    uint32_t avail = gk_ring_load(&cons->in_prod) - in_cons;
    if (avail > sizeof(cons->in))
        return -XEN_EIO;
    if (avail > n)
        avail = (uint32_t)n;
    for (uint32_t i = 0; i < avail; i++)
        buf[i] = cons->in[MASK_XENCONS_IDX(in_cons + i, cons->in)];
    if (avail) {
        in_cons += avail;
        /* Release: our reads are done before the back end reuses the bytes. */
        gk_ring_store(&cons->in_cons, in_cons);
        gk_evtchn_send(cons_port);
    }
    return (int)avail;
}

int gk_console_ring_wait(uint64_t deadline_ns)
{
    if (!cons)
        return -XEN_ENODEV;
    for (;;) {
        uint32_t avail = gk_ring_load(&cons->in_prod) - in_cons;
        if (avail > sizeof(cons->in))
            return -XEN_EIO;
        if (avail)
            return 0;
        int rc = gk_evtchn_wait(cons_port, deadline_ns);
        if (rc)
            return rc;
    }
}

void gk_putc(char c)
{
    out_buf[out_len++] = c;
    if (c == '\n' || out_len == sizeof(out_buf))
        gk_flush();
}

void gk_write(const char *s, size_t n)
{
    while (n--)
        gk_putc(*s++);
}

void gk_puts(const char *s)
{
    while (*s)
        gk_putc(*s++);
    gk_putc('\n');
}

int putchar(int c)
{
    gk_putc((char)c);
    return (unsigned char)c;
}

/* ---- formatting ---------------------------------------------------------- */

/* Where formatted output goes: the console, or a bounded buffer. */
struct sink {
    char *buf;          /* NULL: console */
    size_t size;
    size_t len;         /* bytes produced so far (may exceed size) */
};

static void sink_put(struct sink *s, char c)
{
    if (!s->buf)
        gk_putc(c);
    else if (s->len + 1 < s->size)
        s->buf[s->len] = c;
    s->len++;
}

static void sink_pad(struct sink *s, char c, int n)
{
    while (n-- > 0)
        sink_put(s, c);
}

/* Digits of v in `base` into tmp (reversed); returns the count. */
static int utoa_rev(unsigned long long v, unsigned base, int upper, char *tmp)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    return n;
}

static void put_number(struct sink *s, unsigned long long v, int negative,
                       unsigned base, int upper, int width, int zero, int left)
{
    char tmp[24];
    int n = utoa_rev(v, base, upper, tmp);
    int len = n + (negative ? 1 : 0);

    if (left) {
        if (negative)
            sink_put(s, '-');
        while (n)
            sink_put(s, tmp[--n]);
        sink_pad(s, ' ', width - len);
        return;
    }
    if (zero) {
        if (negative)
            sink_put(s, '-');
        sink_pad(s, '0', width - len);
    } else {
        sink_pad(s, ' ', width - len);
        if (negative)
            sink_put(s, '-');
    }
    while (n)
        sink_put(s, tmp[--n]);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            sink_put(s, *fmt);
            continue;
        }
        fmt++;

        int left = 0, zero = 0, width = 0, precision = -1, lng = 0, size_t_mod = 0;
        for (;; fmt++) {
            if (*fmt == '-')
                left = 1;
            else if (*fmt == '0')
                zero = 1;
            else
                break;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = 1;
                width = -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            precision = 0;
            if (*fmt == '*') {
                precision = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    precision = precision * 10 + (*fmt++ - '0');
            }
        }
        while (*fmt == 'l') {
            lng++;
            fmt++;
        }
        if (*fmt == 'z') {
            size_t_mod = 1;
            fmt++;
        }

        switch (*fmt) {
        case 'd':
        case 'i': {
            long long v;
            if (lng >= 2)
                v = va_arg(ap, long long);
            else if (lng == 1 || size_t_mod)
                v = va_arg(ap, long);
            else
                v = va_arg(ap, int);
            unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v
                                           : (unsigned long long)v;
            put_number(s, mag, v < 0, 10, 0, width, zero, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            unsigned long long v;
            if (lng >= 2)
                v = va_arg(ap, unsigned long long);
            else if (lng == 1 || size_t_mod)
                v = va_arg(ap, unsigned long);
            else
                v = va_arg(ap, unsigned int);
            put_number(s, v, 0, *fmt == 'u' ? 10 : 16, *fmt == 'X',
                       width, zero, left);
            break;
        }
        case 'p': {
            unsigned long v = (unsigned long)va_arg(ap, void *);
            sink_put(s, '0');
            sink_put(s, 'x');
            put_number(s, v, 0, 16, 0, width > 2 ? width - 2 : 0, zero, left);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            if (!left)
                sink_pad(s, ' ', width - 1);
            sink_put(s, c);
            if (left)
                sink_pad(s, ' ', width - 1);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            int len = 0;
            while (str[len] && (precision < 0 || len < precision))
                len++;
            if (!left)
                sink_pad(s, ' ', width - len);
            for (int i = 0; i < len; i++)
                sink_put(s, str[i]);
            if (left)
                sink_pad(s, ' ', width - len);
            break;
        }
        case '%':
            sink_put(s, '%');
            break;
        case '\0':
            return;
        default:
            /* Unknown conversion: show it literally. */
            sink_put(s, '%');
            sink_put(s, *fmt);
            break;
        }
    }
}

int gk_vprintf(const char *fmt, va_list ap)
{
    struct sink s = { 0 };
    format(&s, fmt, ap);
    return (int)s.len;
}

int gk_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = gk_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int gk_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    char dummy;
    struct sink s = { .buf = size ? buf : &dummy, .size = size, .len = 0 };
    format(&s, fmt, ap);
    if (size)
        buf[s.len < size ? s.len : size - 1] = '\0';
    return (int)s.len;
}

int gk_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = gk_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
