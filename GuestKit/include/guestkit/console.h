/*
 * guestkit/console.h - console output through console_io(CONSOLEIO_write),
 * or through the PV console ring once gk_console_use_ring() was called.
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
#include <stdint.h>

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

/*
 * The PV console ring (<xen/io/console.h>): the page at
 * start_info.console.domU.mfn (reached through the bootstrap mapping) and
 * the port start_info.console.domU.evtchn, both set up by the domain
 * builder and connected to the console back end in Dom0.
 *
 * gk_console_use_ring() flushes what is buffered through console_io, then
 * makes every later flush copy the bytes into the ring's out[], publish
 * out_prod and send one event. When out[] is full it notifies the back end
 * and waits on the port in 5 ms slices (the back end's event after it
 * consumed ends a slice early); if the back end takes nothing for 10 s the
 * rest of that flush and all later output go back to console_io. Unmasks
 * the port (and so sets up traps and events: gk_traps_init). Returns 0, or
 * -XEN_ENODEV (no console page or port: Dom0, or a builder without one),
 * -XEN_ENXIO (the page is not in the bootstrap mapping), -XEN_EIO (the
 * ring's indices are out of range), -XEN_Exxx from EVTCHNOP_unmask; on an
 * error console_io stays the sink. Calling it again does nothing.
 */
int gk_console_use_ring(void);
/* 1 while output goes to the ring. */
int gk_console_ring_active(void);
/* Input: up to n bytes the back end put in in[] (does not wait); the
 * back end is notified when any were taken. Returns how many, or
 * -XEN_ENODEV (not on the ring), -XEN_EIO (indices out of range). */
int gk_console_ring_read(char *buf, size_t n);
/* Wait until in[] holds input, or until system time deadline_ns (0:
 * forever): 0, -XEN_ETIMEDOUT, -XEN_ENODEV, -XEN_EIO. */
int gk_console_ring_wait(uint64_t deadline_ns);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_CONSOLE_H */
