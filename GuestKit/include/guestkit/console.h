/*
 * guestkit/console.h - console output through console_io(CONSOLEIO_write).
 *
 * Output is buffered and written out at every newline, when the buffer is
 * full, on gk_flush(), and before shutdown. Formats understood by gk_printf:
 *   %s %c %d %i %u %x %X %p %%  with length modifiers l, ll, z
 *   (%ld %lu %lx %lld %llu %llx %zu %zd %zx ...),
 *   flags '-' (left-justify) and '0' (zero pad), a field width (digits or
 *   '*') and a precision for %s (".N" or ".*": at most N bytes).
 */
#ifndef GUESTKIT_CONSOLE_H
#define GUESTKIT_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void gk_putc(char c);
/* Writes s and a newline (like puts). */
void gk_puts(const char *s);
/* Writes n bytes as they are. */
void gk_write(const char *s, size_t n);
/* Sends whatever is buffered to the hypervisor now. */
void gk_flush(void);

int gk_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int gk_vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Formats into buf (always NUL-terminated when size > 0); returns the
 * length the full output would have had. */
int gk_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int gk_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* libc's putchar, routed to gk_putc (Embedded Swift's print() uses it). */
int putchar(int c);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_CONSOLE_H */
