/*
 * faults - feeds the hypervisor bad hypercall input and checks the exact
 * error for each case, then executes `hlt` (privileged at CPL3 -> #GP; with
 * no trap table registered the domain must end as crashed).
 */
#include <guestkit/guestkit.h>

#define P "faults: "

static int failures;

static void expect(const char *what, long rc, long want)
{
    if (rc == want) {
        gk_printf(P "%s -> %ld ok\n", what, rc);
    } else {
        gk_printf(P "%s -> %ld expected %ld FAILED\n", what, rc, want);
        failures++;
    }
}

/*
 * End of the mapped bootstrap region: the domain builder maps everything up
 * to the first 4 MiB boundary at or above (page tables + boot stack page +
 * 512 KiB of padding); nothing is mapped right after it.
 */
static unsigned long bootstrap_end(void)
{
    const start_info_t *si = gk_start_info;
    unsigned long after = si->pt_base + si->nr_pt_frames * 4096UL
                        + 4096UL + 512UL * 1024;
    unsigned long four_mib = 4UL << 20;
    return (after + four_mib - 1) & ~(four_mib - 1);
}

static void bad_pointers(void)
{
    static char ok_buf[64] = "faults: this text must never be printed\n";

    expect("console_io(write, 16, NULL)",
           HYPERVISOR_console_io(CONSOLEIO_write, 16, NULL), -XEN_EFAULT);

    expect("console_io(write, 16, unmapped 0x100000)",
           HYPERVISOR_console_io(CONSOLEIO_write, 16, (char *)0x100000UL),
           -XEN_EFAULT);

    expect("console_io(write, 16, non-canonical 0x8000000000000000)",
           HYPERVISOR_console_io(CONSOLEIO_write, 16,
                                 (char *)0x8000000000000000UL),
           -XEN_EFAULT);

    unsigned long end = bootstrap_end();
    gk_printf(P "bootstrap region ends at 0x%lx (pt_base 0x%lx, %lu pt frames, boot rsp 0x%lx)\n",
              end, gk_start_info->pt_base, gk_start_info->nr_pt_frames, gk_boot_rsp);
    expect("console_io(write, 64, 16 bytes before end of mapped region)",
           HYPERVISOR_console_io(CONSOLEIO_write, 64, (char *)(end - 16)),
           -XEN_EFAULT);

    expect("console_io(read, 16, pt_base: read-only page table)",
           HYPERVISOR_console_io(CONSOLEIO_read, 16,
                                 (char *)gk_start_info->pt_base),
           -XEN_EFAULT);

    expect("xen_version(extraversion, NULL)",
           HYPERVISOR_xen_version(XENVER_extraversion, NULL), -XEN_EFAULT);

    expect("xen_version(compile_info, unmapped 0x200000)",
           HYPERVISOR_xen_version(XENVER_compile_info, (void *)0x200000UL),
           -XEN_EFAULT);

    expect("sched_op(shutdown, NULL)",
           HYPERVISOR_sched_op(SCHEDOP_shutdown, NULL), -XEN_EFAULT);

    expect("console_io(write, count -1)",
           HYPERVISOR_console_io(CONSOLEIO_write, -1, ok_buf), -XEN_EINVAL);
}

static void unknown_hypercalls(void)
{
    /* Through the hypercall page: slots exist for all 128 numbers. */
    expect("hypercall 11 via page", _hypercall0(11), -XEN_ENOSYS);
    expect("hypercall 43 via page", _hypercall0(43), -XEN_ENOSYS);
    expect("hypercall 56 via page", _hypercall0(56), -XEN_ENOSYS);
    expect("hypercall 127 via page", _hypercall0(127), -XEN_ENOSYS);

    /* Inline SYSCALL with numbers no page slot has. */
    expect("hypercall 1000 via syscall",
           guestkit_raw_syscall5(1000, 0, 0, 0, 0, 0), -XEN_ENOSYS);
    expect("hypercall 0x100000011 via syscall (must not alias 17)",
           guestkit_raw_syscall5(0x100000011UL, 0, 0, 0, 0, 0), -XEN_ENOSYS);
}

static void unknown_subops(void)
{
    static char buf[16];

    expect("console_io(cmd 99)",
           HYPERVISOR_console_io(99, (int)sizeof(buf), buf), -XEN_ENOSYS);
    expect("xen_version(cmd 99)",
           HYPERVISOR_xen_version(99, NULL), -XEN_ENOSYS);
    expect("sched_op(cmd 99)",
           HYPERVISOR_sched_op(99, NULL), -XEN_ENOSYS);

    struct sched_shutdown bad = { .reason = 99 };
    expect("sched_op(shutdown, reason 99)",
           HYPERVISOR_sched_op(SCHEDOP_shutdown, &bad), -XEN_EINVAL);
}

void gk_main(void)
{
    gk_printf(P "checking the hypervisor's answers to bad input\n");

    bad_pointers();
    unknown_hypercalls();
    unknown_subops();

    if (failures) {
        gk_printf(P "FAILED\n");
        gk_shutdown(SHUTDOWN_crash);
    }

    gk_printf(P "all checks ok, now executing hlt\n");
    gk_flush();
    /* Privileged: #GP at CPL3. No trap table -> the domain crashes. */
    __asm__ __volatile__ ("hlt");

    gk_printf(P "FAILED: hlt returned\n");
    gk_shutdown(SHUTDOWN_crash);
}
