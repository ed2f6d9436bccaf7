#include "chost_atomic.h"

int chost_test_and_set_bit(uint64_t *word, unsigned bit) {
    uint64_t m = 1ull << (bit & 63);
    return (__atomic_fetch_or(word, m, __ATOMIC_SEQ_CST) & m) != 0;
}

int chost_test_and_clear_bit(uint64_t *word, unsigned bit) {
    uint64_t m = 1ull << (bit & 63);
    return (__atomic_fetch_and(word, ~m, __ATOMIC_SEQ_CST) & m) != 0;
}

int chost_test_bit(const uint64_t *word, unsigned bit) {
    return (__atomic_load_n(word, __ATOMIC_ACQUIRE) >> (bit & 63)) & 1;
}

uint8_t chost_load_u8(const uint8_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void chost_store_u8(uint8_t *p, uint8_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
void chost_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
uint32_t chost_load_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
int chost_cmpxchg_u32(uint32_t *p, uint32_t *expected, uint32_t desired) {
    return __atomic_compare_exchange_n(p, expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
uint16_t chost_fetch_and_u16(uint16_t *p, uint16_t mask) { return __atomic_fetch_and(p, mask, __ATOMIC_SEQ_CST); }

#include <sys/prctl.h>
int chost_set_timer_slack(unsigned long nanoseconds) { return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0); }
