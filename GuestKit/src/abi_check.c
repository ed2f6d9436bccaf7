/*
 * abi_check.c - compile-time checks that GuestKit's Xen headers have Xen's
 * x86-64 layouts. Produces no code; a wrong offset fails the build.
 * (The host repeats these checks against its Swift definitions.)
 */
#include <stddef.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/version.h>
#include <xen/errno.h>
#include <xen/elfnote.h>

#define CHECK_SIZE(t, n)     _Static_assert(sizeof(t) == (n), "sizeof " #t)
#define CHECK_OFF(t, f, n)   _Static_assert(offsetof(t, f) == (n), #t "." #f)

CHECK_SIZE(struct start_info, 1168);
CHECK_OFF(struct start_info, magic, 0);
CHECK_OFF(struct start_info, nr_pages, 32);
CHECK_OFF(struct start_info, shared_info, 40);
CHECK_OFF(struct start_info, flags, 48);
CHECK_OFF(struct start_info, store_mfn, 56);
CHECK_OFF(struct start_info, store_evtchn, 64);
CHECK_OFF(struct start_info, console.domU.mfn, 72);
CHECK_OFF(struct start_info, console.domU.evtchn, 80);
CHECK_OFF(struct start_info, console.dom0.info_off, 72);
CHECK_OFF(struct start_info, console.dom0.info_size, 76);
CHECK_OFF(struct start_info, pt_base, 88);
CHECK_OFF(struct start_info, nr_pt_frames, 96);
CHECK_OFF(struct start_info, mfn_list, 104);
CHECK_OFF(struct start_info, mod_start, 112);
CHECK_OFF(struct start_info, mod_len, 120);
CHECK_OFF(struct start_info, cmd_line, 128);
CHECK_OFF(struct start_info, first_p2m_pfn, 1152);
CHECK_OFF(struct start_info, nr_p2m_frames, 1160);

CHECK_SIZE(struct sched_shutdown, 4);
CHECK_SIZE(struct sched_poll, 24);
CHECK_OFF(struct sched_poll, nr_ports, 8);
CHECK_OFF(struct sched_poll, timeout, 16);
CHECK_SIZE(struct sched_remote_shutdown, 8);
CHECK_OFF(struct sched_remote_shutdown, reason, 4);
CHECK_SIZE(struct sched_watchdog, 8);
CHECK_SIZE(struct sched_pin_override, 4);

CHECK_SIZE(xen_extraversion_t, 16);
CHECK_SIZE(struct xen_compile_info, 144);
CHECK_OFF(struct xen_compile_info, compile_by, 64);
CHECK_OFF(struct xen_compile_info, compile_domain, 80);
CHECK_OFF(struct xen_compile_info, compile_date, 112);
CHECK_SIZE(xen_capabilities_info_t, 1024);
CHECK_SIZE(xen_changeset_info_t, 64);
CHECK_SIZE(struct xen_platform_parameters, 8);
CHECK_SIZE(struct xen_feature_info, 8);
CHECK_OFF(struct xen_feature_info, submap, 4);
CHECK_SIZE(xen_domain_handle_t, 16);
CHECK_SIZE(domid_t, 2);

_Static_assert(__HYPERVISOR_xen_version == 17, "xen_version");
_Static_assert(__HYPERVISOR_console_io == 18, "console_io");
_Static_assert(__HYPERVISOR_sched_op == 29, "sched_op");
_Static_assert(__HYPERVISOR_mca == 48, "mca");
_Static_assert(__HYPERVISOR_paging_domctl_cont == 49, "paging_domctl_cont");
_Static_assert(XEN_EFAULT == 14 && XEN_EINVAL == 22 && XEN_ENOSYS == 38, "errno");
_Static_assert(XEN_ELFNOTE_PHYS32_ENTRY == 18, "elfnote");
