// Atomic operations on memory shared with a guest (shared_info, vcpu_info): the guest updates the same
// words with locked instructions, so the host must too.
#pragma once
#include <stdint.h>

/// Sets bit `bit` of *word atomically; returns its previous value (0 or 1).
int chost_test_and_set_bit(uint64_t *word, unsigned bit);
/// Clears bit `bit` of *word atomically; returns its previous value (0 or 1).
int chost_test_and_clear_bit(uint64_t *word, unsigned bit);
/// Reads bit `bit` of *word (acquire).
int chost_test_bit(const uint64_t *word, unsigned bit);
/// Byte load with acquire ordering, byte store with release ordering.
uint8_t chost_load_u8(const uint8_t *p);
void chost_store_u8(uint8_t *p, uint8_t v);
/// Full memory barrier.
void chost_fence(void);
/// 32-bit load (acquire); compare-and-exchange (1 if *p held *expected and now holds desired, else 0 and
/// *expected gets the value found); 16-bit atomic AND returning the old value. For words a guest shares.
uint32_t chost_load_u32(const uint32_t *p);
int chost_cmpxchg_u32(uint32_t *p, uint32_t *expected, uint32_t desired);
uint16_t chost_fetch_and_u16(uint16_t *p, uint16_t mask);

/// Sets the calling thread's timer slack (PR_SET_TIMERSLACK): vCPU threads sleeping until a guest's timer
/// deadline want it precise, not rounded up by the default 50 µs. -1 with errno on failure.
int chost_set_timer_slack(unsigned long nanoseconds);
