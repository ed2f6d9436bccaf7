#define _GNU_SOURCE
#include "chost.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

int chost_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int chost_punch_hole(int fd, int64_t offset, int64_t length) {
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
}

int64_t chost_allocated_bytes(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    return (int64_t)st.st_blocks * 512;
}

#include <cpuid.h>

void chost_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    unsigned int a, b, c, d;
    __cpuid_count(leaf, subleaf, a, b, c, d);
    out[0] = a; out[1] = b; out[2] = c; out[3] = d;
}
