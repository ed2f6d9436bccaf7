/*
 * console.c - buffered console output over console_io(CONSOLEIO_write) and
 * a small printf.
 */
#include <guestkit/guestkit.h>

#define CONSOLE_BUF_SIZE 256

static char out_buf[CONSOLE_BUF_SIZE];
static unsigned int out_len;

void gk_flush(void)
{
    if (out_len) {
        HYPERVISOR_console_io(CONSOLEIO_write, (int)out_len, out_buf);
        out_len = 0;
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
