/*
 * xen/io/ring.h - Xen's shared request/response ring, the layout every PV
 * split driver uses (blkif, netif, ...): one shared page (or 2^order
 * pages) holding four free-running indices and an array of slots, each
 * slot a request (written by the front end) or, later, the response to it
 * (written by the back end).
 *
 *   offset  0  req_prod    requests published by the front end
 *           4  req_event   back end wants an event when req_prod passes it
 *           8  rsp_prod    responses published by the back end
 *          12  rsp_event   front end wants an event when rsp_prod passes it
 *          16  48 bytes of padding (the first 4 are driver-private)
 *          64  ring[]      union { request, response }, a power of two of them
 *
 * Indices are u32 and never wrap back explicitly: slot = index & (size-1),
 * and every difference is taken in u32, so 2^32 wraps are harmless.
 *
 * Notification suppression: a producer that moves its index from `old`
 * to `new` notifies only if the consumer's event index lies in
 * (old, new], i.e. (u32)(new - event) < (u32)(new - old). A consumer that
 * runs dry sets its event index to cons + 1 and looks once more
 * (RING_FINAL_CHECK_FOR_*), so a request published meanwhile is never
 * missed and a busy stream costs no events.
 *
 * The macro names and semantics are Xen's, so driver code written against
 * Xen's io/ring.h compiles unchanged; the text (and the arithmetic) is
 * GuestKit's. C only; Embedded Swift has the same thing in
 * GuestKit/Swift/Sources/Ring.swift, built on the gk_ring_* helpers below.
 *
 *   DEFINE_RING_TYPES(echo, struct echo_req, struct echo_rsp);
 *   echo_sring_t *s = page;  echo_front_ring_t f;
 *   SHARED_RING_INIT(s);  FRONT_RING_INIT(&f, s, 4096);
 *   *RING_GET_REQUEST(&f, f.req_prod_pvt++) = req;
 *   RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f, notify);
 *   if (notify) gk_evtchn_send(port);
 */
#ifndef GUESTKIT_XEN_IO_RING_H
#define GUESTKIT_XEN_IO_RING_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t RING_IDX;

/* Where ring[] starts: after the 16 bytes of indices and 48 of padding. */
#define GK_RING_HEADER_BYTES    64

/* ---- ordering and shared-index access (also used by Ring.swift) ------------ */

/* A full barrier: the stores before it are visible before the loads after
 * it (x86 needs this one: a store may pass a later load). */
static inline void gk_ring_mb(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Read an index the other end writes: a fresh load each time, and the
 * loads after it (the slots it covers) are not moved above it. */
static inline RING_IDX gk_ring_load(const volatile RING_IDX *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Publish an index: the slot stores before it are visible first. */
static inline void gk_ring_store(volatile RING_IDX *p, RING_IDX v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Whether an index moving from `old_idx` to `new_idx` passed `event`, i.e.
 * event is in (old, new]: the other end asked to be notified. */
static inline int gk_ring_passed(RING_IDX old_idx, RING_IDX new_idx, RING_IDX event)
{
    return (RING_IDX)(new_idx - event) < (RING_IDX)(new_idx - old_idx);
}

/* The largest power of two <= n (0 for 0), for n < 2^32, by halving the
 * width at each step; an integer constant expression for constant n (so
 * __CONST_RING_SIZE can size an array). */
#define __RING_FLOOR2_2(n)  ((n) >= 2 ? 2UL : (unsigned long)(n))
#define __RING_FLOOR2_4(n)  ((n) >= 4 ? __RING_FLOOR2_2((n) >> 2) << 2 : __RING_FLOOR2_2(n))
#define __RING_FLOOR2_8(n)  ((n) >= 16 ? __RING_FLOOR2_4((n) >> 4) << 4 : __RING_FLOOR2_4(n))
#define __RING_FLOOR2_16(n) ((n) >= 256 ? __RING_FLOOR2_8((n) >> 8) << 8 : __RING_FLOOR2_8(n))
#define __RING_FLOOR2(n) \
    ((RING_IDX)((n) >= 65536 ? __RING_FLOOR2_16((n) >> 16) << 16 : __RING_FLOOR2_16(n)))

/* Xen's names for the barriers, unless the includer has its own. */
#ifndef xen_mb
#define xen_mb()    gk_ring_mb()
#endif
#ifndef xen_rmb
#define xen_rmb()   __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif
#ifndef xen_wmb
#define xen_wmb()   __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

/* ---- sizes --------------------------------------------------------------------- */

/* Slots in `_sz` bytes of ring for sring pointer `_s` (need not point
 * anywhere valid; only its type is used). */
#define __RING_SIZE(_s, _sz) \
    __RING_FLOOR2(((_sz) - offsetof(__typeof__(*(_s)), ring)) / sizeof((_s)->ring[0]))

/* The same from the ring's name, e.g. __CONST_RING_SIZE(blkif, 4096) == 32. */
#define __CONST_RING_SIZE(_name, _sz) \
    __RING_FLOOR2(((_sz) - offsetof(struct _name##_sring, ring)) / sizeof(union _name##_sring_entry))

/* ---- the types ------------------------------------------------------------------- */

/*
 * DEFINE_RING_TYPES(name, req_t, rsp_t) defines:
 *   union name##_sring_entry     one slot: req_t or rsp_t
 *   struct name##_sring          the shared page (name##_sring_t)
 *   struct name##_front_ring     the front end's private state (name##_front_ring_t)
 *   struct name##_back_ring      the back end's private state (name##_back_ring_t)
 * The private indices (req_prod_pvt, rsp_prod_pvt) are what has been
 * written but not yet published with RING_PUSH_*.
 */
#define DEFINE_RING_TYPES(__name, __req_t, __rsp_t)                          \
                                                                             \
union __name##_sring_entry {                                                 \
    __req_t req;                                                             \
    __rsp_t rsp;                                                             \
};                                                                           \
                                                                             \
struct __name##_sring {                                                      \
    RING_IDX req_prod, req_event;                                            \
    RING_IDX rsp_prod, rsp_event;                                            \
    uint8_t pvt[4];             /* driver-private (netif: smartpoll) */      \
    uint8_t __pad[44];                                                       \
    union __name##_sring_entry ring[];                                       \
};                                                                           \
                                                                             \
struct __name##_front_ring {                                                 \
    RING_IDX req_prod_pvt;      /* requests written, not all published */    \
    RING_IDX rsp_cons;          /* responses taken */                        \
    unsigned int nr_ents;                                                    \
    struct __name##_sring *sring;                                            \
};                                                                           \
                                                                             \
struct __name##_back_ring {                                                  \
    RING_IDX rsp_prod_pvt;      /* responses written, not all published */   \
    RING_IDX req_cons;          /* requests taken */                         \
    unsigned int nr_ents;                                                    \
    struct __name##_sring *sring;                                            \
};                                                                           \
                                                                             \
typedef struct __name##_sring __name##_sring_t;                              \
typedef struct __name##_front_ring __name##_front_ring_t;                    \
typedef struct __name##_back_ring __name##_back_ring_t

/* ---- setting up -------------------------------------------------------------------- */

/* The front end initialises the shared page: indices 0, both events 1
 * (notify on the first item), padding zeroed. */
#define SHARED_RING_INIT(_s) do {                                            \
    (_s)->req_prod = (_s)->rsp_prod = 0;                                     \
    (_s)->req_event = (_s)->rsp_event = 1;                                   \
    __builtin_memset((_s)->pvt, 0, sizeof((_s)->pvt));                       \
    __builtin_memset((_s)->__pad, 0, sizeof((_s)->__pad));                   \
} while (0)

/* Private state over a shared ring of `__size` bytes, starting at index
 * i (FRONT/BACK_RING_ATTACH: joining a ring already in use). */
#define FRONT_RING_ATTACH(_r, _s, _i, __size) do {                           \
    (_r)->req_prod_pvt = (_i);                                               \
    (_r)->rsp_cons = (_i);                                                   \
    (_r)->nr_ents = __RING_SIZE(_s, __size);                                 \
    (_r)->sring = (_s);                                                      \
} while (0)

#define FRONT_RING_INIT(_r, _s, __size)  FRONT_RING_ATTACH(_r, _s, 0, __size)

#define BACK_RING_ATTACH(_r, _s, _i, __size) do {                            \
    (_r)->rsp_prod_pvt = (_i);                                               \
    (_r)->req_cons = (_i);                                                   \
    (_r)->nr_ents = __RING_SIZE(_s, __size);                                 \
    (_r)->sring = (_s);                                                      \
} while (0)

#define BACK_RING_INIT(_r, _s, __size)   BACK_RING_ATTACH(_r, _s, 0, __size)

/* ---- looking at the ring ------------------------------------------------------------- */

#define RING_SIZE(_r)           ((_r)->nr_ents)

/* Front end: slots it may still fill (its outstanding requests take the rest). */
#define RING_FREE_REQUESTS(_r)  (RING_SIZE(_r) - ((_r)->req_prod_pvt - (_r)->rsp_cons))
#define RING_FULL(_r)           (RING_FREE_REQUESTS(_r) == 0)

/* Front end: responses published and not yet taken. */
#define RING_HAS_UNCONSUMED_RESPONSES(_r) \
    ((RING_IDX)(gk_ring_load(&(_r)->sring->rsp_prod) - (_r)->rsp_cons))

/* Back end: requests published and not yet taken -- never more than the
 * slots that are not holding its own unpublished responses (a front end
 * that lies about req_prod cannot make it read past them). */
#define RING_HAS_UNCONSUMED_REQUESTS(_r) __extension__ ({                    \
    RING_IDX __req = gk_ring_load(&(_r)->sring->req_prod) - (_r)->req_cons;  \
    RING_IDX __rsp = RING_SIZE(_r) - ((_r)->req_cons - (_r)->rsp_prod_pvt);  \
    __req < __rsp ? __req : __rsp;                                           \
})

/* The slot for index _idx (masked). */
#define RING_GET_REQUEST(_r, _idx) \
    (&((_r)->sring->ring[(_idx) & (RING_SIZE(_r) - 1)].req))
#define RING_GET_RESPONSE(_r, _idx) \
    (&((_r)->sring->ring[(_idx) & (RING_SIZE(_r) - 1)].rsp))

/* Copy a request out of the shared slot once (the front end may change it
 * under the back end's feet: read it once, then check the copy). */
#define RING_COPY_REQUEST(_r, _idx, _req) do {                               \
    *(_req) = *(volatile __typeof__(_req))RING_GET_REQUEST(_r, _idx);        \
} while (0)

/* Back end: would taking request _cons overrun the responses it owes? */
#define RING_REQUEST_CONS_OVERFLOW(_r, _cons) \
    (((_cons) - (_r)->rsp_prod_pvt) >= RING_SIZE(_r))

/* Back end: does request producer _prod claim more than the ring holds? */
#define RING_REQUEST_PROD_OVERFLOW(_r, _prod) \
    (((_prod) - (_r)->rsp_prod_pvt) > RING_SIZE(_r))

/* ---- publishing ------------------------------------------------------------------------ */

#define RING_PUSH_REQUESTS(_r) \
    gk_ring_store(&(_r)->sring->req_prod, (_r)->req_prod_pvt)

#define RING_PUSH_RESPONSES(_r) \
    gk_ring_store(&(_r)->sring->rsp_prod, (_r)->rsp_prod_pvt)

/* Publish, then `_notify` = whether the other end asked for an event. */
#define RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(_r, _notify) do {                \
    RING_IDX __old = (_r)->sring->req_prod;                                  \
    RING_IDX __new = (_r)->req_prod_pvt;                                     \
    gk_ring_store(&(_r)->sring->req_prod, __new);                            \
    gk_ring_mb();                                                            \
    (_notify) = gk_ring_passed(__old, __new, gk_ring_load(&(_r)->sring->req_event)); \
} while (0)

#define RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(_r, _notify) do {               \
    RING_IDX __old = (_r)->sring->rsp_prod;                                  \
    RING_IDX __new = (_r)->rsp_prod_pvt;                                     \
    gk_ring_store(&(_r)->sring->rsp_prod, __new);                            \
    gk_ring_mb();                                                            \
    (_notify) = gk_ring_passed(__old, __new, gk_ring_load(&(_r)->sring->rsp_event)); \
} while (0)

/* ---- going idle -------------------------------------------------------------------------- */

/* Back end with nothing left: ask for an event at the next request, then
 * look once more; `_work_to_do` says whether there is work after all. */
#define RING_FINAL_CHECK_FOR_REQUESTS(_r, _work_to_do) do {                  \
    (_work_to_do) = RING_HAS_UNCONSUMED_REQUESTS(_r);                        \
    if (_work_to_do)                                                         \
        break;                                                               \
    gk_ring_store(&(_r)->sring->req_event, (_r)->req_cons + 1);              \
    gk_ring_mb();                                                            \
    (_work_to_do) = RING_HAS_UNCONSUMED_REQUESTS(_r);                        \
} while (0)

#define RING_FINAL_CHECK_FOR_RESPONSES(_r, _work_to_do) do {                 \
    (_work_to_do) = RING_HAS_UNCONSUMED_RESPONSES(_r);                       \
    if (_work_to_do)                                                         \
        break;                                                               \
    gk_ring_store(&(_r)->sring->rsp_event, (_r)->rsp_cons + 1);              \
    gk_ring_mb();                                                            \
    (_work_to_do) = RING_HAS_UNCONSUMED_RESPONSES(_r);                       \
} while (0)

#endif /* GUESTKIT_XEN_IO_RING_H */
