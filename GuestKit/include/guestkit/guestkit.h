/*
 * guestkit/guestkit.h - the GuestKit guest runtime: boot information,
 * shutdown, and the small freestanding libc an image (and Embedded Swift)
 * needs. Also pulls in exceptions (traps.h), event channels (events.h),
 * time (time.h), memory management (mm.h), several vCPUs (smp.h), grant
 * tables (gnttab.h), the interdomain byte stream (chan.h), the
 * XenStore client (xenbus.h), the block front end (blkfront.h), the
 * network front end (netfront.h) and the small IPv4 stack on it (net.h).
 *
 * An image provides `void gk_main(void)`. GuestKit's _start switches to its
 * own 64 KiB stack, records start_info and calls gk_main(); when gk_main
 * returns the domain is powered off.
 */
#ifndef GUESTKIT_GUESTKIT_H
#define GUESTKIT_GUESTKIT_H

#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/version.h>
#include <xen/errno.h>
#include <xen/callback.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
#include <xen/memory.h>
#include <xen/grant_table.h>
#include <guestkit/hypercall.h>
#include <guestkit/console.h>
#include <guestkit/traps.h>
#include <guestkit/events.h>
#include <guestkit/time.h>
#include <guestkit/mm.h>
#include <guestkit/smp.h>
#include <guestkit/gnttab.h>
#include <guestkit/chan.h>
#include <guestkit/xenbus.h>
#include <guestkit/blkfront.h>
#include <guestkit/netfront.h>
#include <guestkit/net.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Virtual address GuestKit images are linked at (= the VIRT_BASE note). */
#define GUESTKIT_VIRT_BASE      0x400000UL
/* Size of the stack _start switches to (arch/x86_64/start.S). */
#define GUESTKIT_STACK_SIZE     (64 * 1024)
/* Size of the static heap behind malloc/posix_memalign (src/malloc.c). */
#ifndef GUESTKIT_HEAP_SIZE
#define GUESTKIT_HEAP_SIZE      (256 * 1024)
#endif

/* ---- boot information ---------------------------------------------------- */

/* start_info as handed over in RSI (set before gk_main runs). */
extern start_info_t *gk_start_info;
/* Stack pointer at entry: the top of the builder's one-page boot stack. */
extern unsigned long gk_boot_rsp;

/* The domain's command line (start_info.cmd_line), always NUL-terminated. */
const char *gk_cmdline(void);
/* The text after the first "key=" word of the command line (NULL if none). */
const char *gk_cmdline_value(const char *key);
/* "key=<decimal>": 1 and *out set, or 0 (absent or not a number; *out untouched). */
int gk_cmdline_number(const char *key, unsigned long *out);
/* Whether the command line has `word` as a whole word. */
int gk_cmdline_has(const char *word);

/* Provided by the image. */
void gk_main(void);

/* Called by _start; calls gk_main() then powers off. */
void guestkit_main(start_info_t *si) __attribute__((noreturn));

/* ---- lifecycle ------------------------------------------------------------ */

/* Flush the console and stop the domain with SHUTDOWN_* `reason`. */
void gk_shutdown(unsigned int reason) __attribute__((noreturn));
/* gk_shutdown(SHUTDOWN_poweroff). */
void gk_poweroff(void) __attribute__((noreturn));
/* Print "<msg>" and gk_shutdown(SHUTDOWN_crash). */
void gk_panic(const char *msg) __attribute__((noreturn));

/* ---- minimal libc (also what Embedded Swift links against) ----------------- */

void *memset(void *dst, int c, size_t n);
void *memcpy(void *__restrict dst, const void *__restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* First-fit free-list allocator over a static GUESTKIT_HEAP_SIZE heap in
 * .bss (single vCPU, no locking). posix_memalign returns 0, 22 (EINVAL:
 * alignment not a power of two) or 12 (ENOMEM). */
int posix_memalign(void **memptr, size_t alignment, size_t size);
void *malloc(size_t size);
void *calloc(size_t nmemb, size_t size);
void *realloc(void *ptr, size_t size);
void free(void *ptr);
/* Bytes currently free in the heap (for tests and diagnostics). */
size_t gk_heap_free_bytes(void);

/* Rounding (Embedded Swift's Dictionary and Set use ceil). */
double ceil(double x);
double floor(double x);

/* Fills buf with pseudo-random bytes (fixed seed; not for secrets).
 * Embedded Swift's hashing asks for it. */
void arc4random_buf(void *buf, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* GUESTKIT_GUESTKIT_H */
