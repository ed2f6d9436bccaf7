/*
 * bench - the benchmark guest.
 *
 * Command line: n=<decimal> (default 10000) and optionally mode=<name>.
 *
 * Without mode (the null-hypercall benchmark): issues xen_version(XENVER_version, NULL) n times before
 * doing anything else (no console output first), then prints "bench: done n=<n>" and powers off.
 * With n=0 it is the minimal-boot guest.
 *
 * With a mode, the same privileged work is done n times one way, timed by the guest with the pvclock,
 * and reported as "bench: mode=<mode> n=<n> ns_per_op=<ns> total_ns=<ns>" (hv bench trap-vs-pv reads it):
 *   cli      cli and sti alternately: a trapped privileged instruction each (needs privileged=emulate)
 *   mask     evtchn_upcall_mask written 1 and 0 alternately: the paravirtual virtual-IF toggle
 *   clts     fpu_taskswitch(1) by hypercall, then clts: a trapped, emulated instruction
 *   fputs    fpu_taskswitch(1) then fpu_taskswitch(0): the same work by hypercalls
 *   wrmsr    wrmsr of FS_BASE: a trapped, emulated instruction
 *   segbase  set_segment_base(SEGBASE_FS): the same work by hypercall
 *   mmu<B>   n PTE updates by mmu_update in batches of B (mmu1, mmu16, mmu256, mmu4096): one PTE of a
 *            scratch page toggled between two frames; after each batch the guest reads through the
 *            mapping at CPL 3 and checks it sees the right frame (the update is visible at once)
 *   ptwr     the same n updates as direct stores into the (read-only) page table: each faults and is
 *            emulated by the hypervisor (VMASST_TYPE_writable_pagetables), the trapped alternative
 * (clts and fputs count one operation per CR0.TS clear; the set is done by hypercall in both.)
 */
#include <guestkit/guestkit.h>

#define DEFAULT_N 10000UL

/* Value of the word "<key>=<digits>" on the command line, or `fallback`. */
static unsigned long parse_number(const char *cmd, char key, unsigned long fallback)
{
    for (const char *p = cmd; *p; p++) {
        int word_start = p == cmd || *(p - 1) == ' ';
        if (!word_start || p[0] != key || p[1] != '=')
            continue;
        const char *d = p + 2;
        if (*d < '0' || *d > '9')
            continue;
        unsigned long n = 0;
        while (*d >= '0' && *d <= '9')
            n = n * 10 + (unsigned long)(*d++ - '0');
        return n;
    }
    return fallback;
}

/* The word after "mode=", copied into out (empty if none). */
static void parse_mode(const char *cmd, char *out, int size)
{
    out[0] = 0;
    for (const char *p = cmd; *p; p++) {
        int word_start = p == cmd || *(p - 1) == ' ';
        if (!word_start || strncmp(p, "mode=", 5) != 0)
            continue;
        int i = 0;
        for (p += 5; *p && *p != ' ' && i < size - 1; p++)
            out[i++] = *p;
        out[i] = 0;
        return;
    }
}

/* shared_info mapped over this page (vcpu_info[0] holds the pvclock and the virtual IF). */
static uint8_t shared_page[4096] __attribute__((aligned(4096)));

static volatile uint8_t *vcpu0(void) { return shared_page; }

/* Xen system time in ns from vcpu_info[0].time (pvclock) and rdtsc, with the version retry. */
static uint64_t now_ns(void)
{
    volatile uint8_t *t = vcpu0() + 32;
    for (;;) {
        uint32_t v1 = *(volatile uint32_t *)t;
        __asm__ volatile("" ::: "memory");
        uint64_t stamp = *(volatile uint64_t *)(t + 8);
        uint64_t system = *(volatile uint64_t *)(t + 16);
        uint32_t mul = *(volatile uint32_t *)(t + 24);
        int8_t shift = *(volatile int8_t *)(t + 28);
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        __asm__ volatile("" ::: "memory");
        if ((v1 & 1) || v1 != *(volatile uint32_t *)t)
            continue;
        uint64_t delta = (((uint64_t)hi << 32) | lo) - stamp;
        delta = shift >= 0 ? delta << shift : delta >> -shift;
        return system + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
    }
}

static void map_shared_info(void)
{
    uint64_t pte = gk_start_info->shared_info | 7; /* present, writable, user */
    long rc = _hypercall3(__HYPERVISOR_update_va_mapping, (unsigned long)shared_page, pte, 2 /* UVMF_INVLPG */);
    if (rc != 0) {
        gk_printf("bench: cannot map shared_info (%ld)\n", rc);
        gk_shutdown(SHUTDOWN_crash);
    }
}

/* ---- PTE updates ------------------------------------------------------------------- */

static uint8_t scratch[4096] __attribute__((aligned(4096)));
static uint8_t other[4096] __attribute__((aligned(4096)));
static struct { uint64_t ptr, val; } reqs[4096];

/* The read-only M2P, where XENMEM_machphys_mapping says it is (Xen's ABI lets it move). */
static const uint64_t *m2p(void)
{
    static const uint64_t *where;
    if (!where) {
        uint64_t mapping[3] = { 0xffff800000000000ULL, 0, 0 };
        _hypercall2(__HYPERVISOR_memory_op, 12 /* XENMEM_machphys_mapping */, mapping);
        where = (const uint64_t *)mapping[0];
    }
    return where;
}
static uint64_t va_of_table(uint64_t mfn) { return 0x400000 + m2p()[mfn] * 4096; }

/* Machine frame of our own page `va`, from the p2m list. */
static uint64_t mfn_of(const void *va)
{
    return ((const uint64_t *)gk_start_info->mfn_list)[((uint64_t)va - 0x400000) >> 12];
}

/* Machine address of the L1 entry mapping `va` (walking the bootstrap tables, mapped read-only). */
static uint64_t pte_maddr(uint64_t va, uint64_t *pte_va)
{
    uint64_t table = gk_start_info->pt_base;
    for (int level = 4; level > 1; level--) {
        uint64_t e = ((const uint64_t *)table)[(va >> (12 + 9 * (level - 1))) & 511];
        table = va_of_table((e & 0x000ffffffffff000ULL) >> 12);
    }
    uint64_t slot = (va >> 12) & 511;
    *pte_va = table + slot * 8;
    return (mfn_of((const void *)table) << 12) + slot * 8;
}

static void pte_updates(const char *mode, unsigned long n)
{
    uint64_t frames[2] = { mfn_of(scratch), mfn_of(other) };
    ((volatile uint64_t *)other)[0] = 0xb0b0b0b0b0b0b0b0ULL;
    ((volatile uint64_t *)scratch)[0] = 0xa0a0a0a0a0a0a0a0ULL;
    uint64_t pte_va;
    uint64_t ptr = pte_maddr((uint64_t)scratch, &pte_va);
    int trapped = strcmp(mode, "ptwr") == 0;
    unsigned long batch = trapped ? 1 : parse_number(mode + 2, 0, 1);
    if (!trapped) {
        const char *d = mode + 3;                 /* "mmu<B>" */
        batch = 0;
        while (*d >= '0' && *d <= '9')
            batch = batch * 10 + (unsigned long)(*d++ - '0');
    }
    if (batch == 0 || batch > 4096) {
        gk_printf("bench: bad batch in %s\n", mode);
        gk_shutdown(SHUTDOWN_crash);
    }
    if (trapped && _hypercall2(__HYPERVISOR_vm_assist, 0 /* enable */, 2 /* writable_pagetables */) != 0) {
        gk_printf("bench: vm_assist(writable_pagetables) refused\n");
        gk_shutdown(SHUTDOWN_crash);
    }
    uint64_t t0 = now_ns();
    unsigned long done = 0, k = 0;
    while (done < n) {
        unsigned long b = n - done < batch ? n - done : batch;
        for (unsigned long i = 0; i < b; i++, k++) {
            uint64_t val = (frames[k & 1] << 12) | 0x27;          /* P RW U A */
            if (trapped) {
                *(volatile uint64_t *)pte_va = val;              /* faults; emulated and validated */
            } else {
                reqs[i].ptr = ptr;
                reqs[i].val = val;
            }
        }
        if (!trapped) {
            unsigned int ok = 0;
            long rc = _hypercall4(__HYPERVISOR_mmu_update, reqs, b, &ok, DOMID_SELF);
            if (rc != 0 || ok != b) {
                gk_printf("bench: mmu_update failed: %ld after %u\n", rc, ok);
                gk_shutdown(SHUTDOWN_crash);
            }
        }
        done += b;
        /* Read through the mapping at CPL 3: it must show the frame the last update installed. */
        uint64_t want = ((k - 1) & 1) ? 0xb0b0b0b0b0b0b0b0ULL : 0xa0a0a0a0a0a0a0a0ULL;
        if (((volatile uint64_t *)scratch)[0] != want) {
            gk_printf("bench: stale mapping after %lu updates FAILED\n", done);
            gk_shutdown(SHUTDOWN_crash);
        }
    }
    uint64_t t1 = now_ns();
    /* Leave the page mapped to its own frame. */
    if (k & 1) {
        reqs[0].ptr = ptr;
        reqs[0].val = (frames[0] << 12) | 0x27;
        _hypercall4(__HYPERVISOR_mmu_update, reqs, 1, NULL, DOMID_SELF);
    }
    gk_printf("bench: mode=%s n=%lu ns_per_op=%lu total_ns=%lu\n", mode, n, (unsigned long)((t1 - t0) / (n ? n : 1)),
              (unsigned long)(t1 - t0));
}

static void timed(const char *mode, unsigned long n)
{
    map_shared_info();
    if (strncmp(mode, "mmu", 3) == 0 || strcmp(mode, "ptwr") == 0) {
        pte_updates(mode, n);
        return;
    }
    uint64_t t0 = 0, t1;
    if (strcmp(mode, "cli") == 0) {
        t0 = now_ns();
        for (unsigned long i = 0; i < n / 2; i++)
            __asm__ volatile("cli; sti" ::: "memory");
    } else if (strcmp(mode, "mask") == 0) {
        t0 = now_ns();
        for (unsigned long i = 0; i < n / 2; i++) {
            vcpu0()[1] = 1;
            __asm__ volatile("" ::: "memory");
            vcpu0()[1] = 0;
            __asm__ volatile("" ::: "memory");
            if (vcpu0()[0])                      /* pending while masked: ask for delivery */
                HYPERVISOR_xen_version(XENVER_version, NULL);
        }
    } else if (strcmp(mode, "clts") == 0 || strcmp(mode, "fputs") == 0) {
        int trapped = mode[0] == 'c';
        uint64_t spent = 0;
        for (unsigned long i = 0; i < n; i++) {
            _hypercall1(__HYPERVISOR_fpu_taskswitch, 1);
            uint64_t a = now_ns();
            if (trapped)
                __asm__ volatile("clts" ::: "memory");
            else
                _hypercall1(__HYPERVISOR_fpu_taskswitch, 0);
            spent += now_ns() - a;
        }
        gk_printf("bench: mode=%s n=%lu ns_per_op=%lu total_ns=%lu\n", mode, n, (unsigned long)(spent / (n ? n : 1)),
                  (unsigned long)spent);
        return;
    } else if (strcmp(mode, "wrmsr") == 0) {
        t0 = now_ns();
        for (unsigned long i = 0; i < n; i++)
            __asm__ volatile("wrmsr" :: "c"(0xc0000100u), "a"((uint32_t)i), "d"(0u) : "memory");
    } else if (strcmp(mode, "segbase") == 0) {
        t0 = now_ns();
        for (unsigned long i = 0; i < n; i++)
            _hypercall2(__HYPERVISOR_set_segment_base, 0 /* SEGBASE_FS */, i);
    } else {
        gk_printf("bench: unknown mode %s\n", mode);
        gk_shutdown(SHUTDOWN_crash);
    }
    t1 = now_ns();
    gk_printf("bench: mode=%s n=%lu ns_per_op=%lu total_ns=%lu\n", mode, n, (unsigned long)((t1 - t0) / (n ? n : 1)),
              (unsigned long)(t1 - t0));
}

void gk_main(void)
{
    const char *cmd = gk_cmdline();
    unsigned long n = parse_number(cmd, 'n', DEFAULT_N);
    char mode[16];
    parse_mode(cmd, mode, sizeof mode);
    if (mode[0]) {
        timed(mode, n);
        return;
    }
    for (unsigned long i = 0; i < n; i++)
        HYPERVISOR_xen_version(XENVER_version, NULL);

    gk_printf("bench: done n=%lu\n", n);
}
