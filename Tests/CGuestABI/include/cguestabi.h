// GuestKit's C view of the Xen ABI, as numbers: every constant, size and offset the host's HyperABI
// also defines, so a test can compare the two definitions entry by entry.
#pragma once
#include <stddef.h>

struct cguestabi_entry {
    const char *name;
    long long value;
};

/// The table and its length.
const struct cguestabi_entry *cguestabi_entries(void);
size_t cguestabi_count(void);
