/*
 * ring_check.c - compile-time checks that <xen/io/ring.h> gives Xen's
 * layout and slot counts (the sizes blkif and netif rely on), and that its
 * index arithmetic survives the 2^32 wrap. Produces no code.
 */
#include <stddef.h>
#include <stdint.h>
#include <xen/io/ring.h>

#define CHECK(cond, what)   _Static_assert(cond, what)

/* Entry types of the sizes the PV drivers use. */
struct req112 { uint8_t b[112]; };      /* blkif request */
struct rsp16 { uint8_t b[16]; };
struct req12 { uint8_t b[12]; };        /* netif tx request */
struct rsp4 { uint8_t b[4]; };
struct req8 { uint8_t b[8]; };          /* netif rx request */
struct rsp8 { uint8_t b[8]; };
struct req1 { uint8_t b[1]; };

DEFINE_RING_TYPES(check112, struct req112, struct rsp16);
DEFINE_RING_TYPES(check12, struct req12, struct rsp4);
DEFINE_RING_TYPES(check8, struct req8, struct rsp8);
DEFINE_RING_TYPES(check1, struct req1, struct req1);

/* The header: four u32 indices, 48 bytes of padding, slots at 64. */
CHECK(offsetof(struct check112_sring, req_prod) == 0, "req_prod @0");
CHECK(offsetof(struct check112_sring, req_event) == 4, "req_event @4");
CHECK(offsetof(struct check112_sring, rsp_prod) == 8, "rsp_prod @8");
CHECK(offsetof(struct check112_sring, rsp_event) == 12, "rsp_event @12");
CHECK(offsetof(struct check112_sring, pvt) == 16, "pvt @16");
CHECK(offsetof(struct check112_sring, ring) == GK_RING_HEADER_BYTES, "ring[] @64");
CHECK(offsetof(struct check8_sring, ring) == GK_RING_HEADER_BYTES, "ring[] @64 (8-byte slots)");
CHECK(sizeof(RING_IDX) == 4, "RING_IDX is a u32");

/* Slots per 4 KiB page: the largest power of two fitting in 4096 - 64. */
CHECK(__CONST_RING_SIZE(check112, 4096) == 32, "112-byte entries: 32 slots");
CHECK(__CONST_RING_SIZE(check12, 4096) == 256, "12-byte entries: 256 slots");
CHECK(__CONST_RING_SIZE(check8, 4096) == 256, "8-byte entries: 256 slots");
CHECK(__CONST_RING_SIZE(check1, 4096) == 2048, "1-byte entries: 2048 slots");
CHECK(__CONST_RING_SIZE(check112, 4096 << 2) == 128, "112-byte entries, 4 pages: 128 slots");
CHECK(__RING_SIZE((struct check112_sring *)0, 4096) == 32, "__RING_SIZE agrees");
CHECK(__RING_FLOOR2(0) == 0 && __RING_FLOOR2(1) == 1 && __RING_FLOOR2(255) == 128, "floor to a power of two");

/* Notify iff the event lies in (old, new], in u32 arithmetic, also
 * across the wrap. */
#define PASSED(o, n, e)     ((RING_IDX)((RING_IDX)(n) - (RING_IDX)(e)) < (RING_IDX)((RING_IDX)(n) - (RING_IDX)(o)))
CHECK(PASSED(0, 1, 1), "first item after init notifies");
CHECK(!PASSED(1, 2, 1), "event already behind: no notify");
CHECK(PASSED(10, 20, 20) && PASSED(10, 20, 11) && !PASSED(10, 20, 10) && !PASSED(10, 20, 21), "(old, new]");
CHECK(PASSED(0xfffffff0u, 0x10u, 0u) && PASSED(0xfffffff0u, 0x10u, 0xfffffff1u), "across 2^32");
CHECK(!PASSED(0xfffffff0u, 0x10u, 0x11u) && !PASSED(0xfffffff0u, 0x10u, 0xfffffff0u), "across 2^32, outside");
CHECK(!PASSED(5, 5, 5), "nothing pushed: no notify");
/* Occupancy across the wrap: prod 3 after cons 0xfffffffe means 5 items. */
CHECK((RING_IDX)(3u - 0xfffffffeu) == 5, "free-running u32 difference");
