/*
 * hello-c - calls every hypercall GuestKit wraps, checks each answer, and
 * powers off (or crashes, naming the first failed check).
 */
#include <guestkit/guestkit.h>

#define P "hello-c: "

static const char *first_failure;

/* Prints the tail of a result line and remembers the first failure. */
static void verdict(int ok, const char *what)
{
    gk_printf(" %s\n", ok ? "ok" : "FAILED");
    if (!ok && !first_failure)
        first_failure = what;
}

/* True if buf[0..len) holds a NUL, i.e. the hypervisor wrote a C string
 * over our 0xff filling. */
static int has_nul(const char *buf, size_t len)
{
    return strnlen(buf, len) < len;
}

static void check_console_io(void)
{
    static char msg[] = P "console_io(write) direct from a guest buffer\n";
    gk_flush();
    int rc = HYPERVISOR_console_io(CONSOLEIO_write, (int)(sizeof(msg) - 1), msg);
    gk_printf(P "console_io(write) = %d", rc);
    verdict(rc == 0, "console_io(write)");

    char in[16];
    memset(in, 0, sizeof(in));
    rc = HYPERVISOR_console_io(CONSOLEIO_read, (int)sizeof(in), in);
    gk_printf(P "console_io(read) = %d bytes", rc);
    verdict(rc >= 0 && rc <= (int)sizeof(in), "console_io(read)");
}

static void check_sched_yield(void)
{
    int rc = HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    gk_printf(P "sched_op(yield) = %d", rc);
    verdict(rc == 0, "sched_op(yield)");
}

static void check_xen_version(void)
{
    int rc = HYPERVISOR_xen_version(XENVER_version, NULL);
    gk_printf(P "xen_version(version) = %d.%d", rc >> 16, rc & 0xffff);
    verdict(rc > 0, "xen_version(version)");

    static xen_extraversion_t extra;
    memset(extra, 0xff, sizeof(extra));
    rc = HYPERVISOR_xen_version(XENVER_extraversion, extra);
    int ok = rc == 0 && has_nul(extra, sizeof(extra));
    gk_printf(P "xen_version(extraversion) = %s", ok ? extra : "?");
    verdict(ok, "xen_version(extraversion)");

    static struct xen_compile_info ci;
    memset(&ci, 0xff, sizeof(ci));
    rc = HYPERVISOR_xen_version(XENVER_compile_info, &ci);
    ok = rc == 0 && has_nul(ci.compiler, sizeof(ci.compiler))
        && has_nul(ci.compile_by, sizeof(ci.compile_by))
        && has_nul(ci.compile_domain, sizeof(ci.compile_domain))
        && has_nul(ci.compile_date, sizeof(ci.compile_date));
    gk_printf(P "xen_version(compile_info) = %s", ok ? ci.compiler : "?");
    verdict(ok, "xen_version(compile_info)");

    static xen_capabilities_info_t caps;
    memset(caps, 0xff, sizeof(caps));
    rc = HYPERVISOR_xen_version(XENVER_capabilities, caps);
    ok = rc == 0 && has_nul(caps, sizeof(caps));
    gk_printf(P "xen_version(capabilities) = %s", ok ? caps : "?");
    verdict(ok && strncmp(caps, "xen-3.0-x86_64", 14) == 0,
            "xen_version(capabilities)");

    static xen_changeset_info_t cs;
    memset(cs, 0xff, sizeof(cs));
    rc = HYPERVISOR_xen_version(XENVER_changeset, cs);
    ok = rc == 0 && has_nul(cs, sizeof(cs));
    gk_printf(P "xen_version(changeset) = %s", ok ? cs : "?");
    verdict(ok, "xen_version(changeset)");

    struct xen_platform_parameters pp = { .virt_start = 0 };
    rc = HYPERVISOR_xen_version(XENVER_platform_parameters, &pp);
    gk_printf(P "xen_version(platform_parameters) = virt_start 0x%lx",
              (unsigned long)pp.virt_start);
    verdict(rc == 0 && pp.virt_start == HYPERVISOR_VIRT_START,
            "xen_version(platform_parameters)");

    struct xen_feature_info fi = { .submap_idx = 0, .submap = 0 };
    rc = HYPERVISOR_xen_version(XENVER_get_features, &fi);
    gk_printf(P "xen_version(get_features) = submap[0] 0x%08x", fi.submap);
    verdict(rc == 0, "xen_version(get_features)");

    rc = HYPERVISOR_xen_version(XENVER_pagesize, NULL);
    gk_printf(P "xen_version(pagesize) = %d", rc);
    verdict(rc == 4096, "xen_version(pagesize)");

    static xen_domain_handle_t handle;
    rc = HYPERVISOR_xen_version(XENVER_guest_handle, handle);
    gk_printf(P "xen_version(guest_handle) = ");
    for (unsigned i = 0; i < sizeof(handle); i++)
        gk_printf("%02x", handle[i]);
    verdict(rc == 0, "xen_version(guest_handle)");
}

void gk_main(void)
{
    gk_printf(P "Hello from a PV guest at ring 3\n");
    gk_printf(P "cmdline \"%s\"\n", gk_cmdline());

    check_console_io();
    check_sched_yield();
    check_xen_version();

    if (first_failure) {
        gk_printf(P "FAILED %s\n", first_failure);
        gk_shutdown(SHUTDOWN_crash);
    }
    gk_printf(P "all hypercalls ok\n");
    gk_poweroff();
}
