// Linux calls the Swift Glibc module does not expose (they need _GNU_SOURCE).
#pragma once
#include <stdint.h>
#include "chost_atomic.h"

/// memfd_create(name, MFD_CLOEXEC); -1 with errno on failure.
int chost_memfd_create(const char *name);
/// Deallocates [offset, offset+length) of fd, keeping its size (FALLOC_FL_PUNCH_HOLE); -1 with errno.
int chost_punch_hole(int fd, int64_t offset, int64_t length);
/// Blocks actually allocated to fd, in bytes (st_blocks * 512); -1 with errno.
int64_t chost_allocated_bytes(int fd);
/// The host CPU's CPUID(leaf, subleaf): out[0..3] = eax, ebx, ecx, edx.
void chost_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
