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
#include <xen/callback.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
#include <xen/memory.h>

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

/* arch-x86_64.h */
CHECK_SIZE(struct trap_info, 16);
CHECK_OFF(struct trap_info, flags, 1);
CHECK_OFF(struct trap_info, cs, 2);
CHECK_OFF(struct trap_info, address, 8);
CHECK_SIZE(struct arch_vcpu_info, 16);
CHECK_SIZE(struct arch_shared_info, 48);
CHECK_OFF(struct arch_shared_info, p2m_generation, 40);
CHECK_SIZE(struct iret_context, 72);
CHECK_OFF(struct iret_context, flags, 24);
CHECK_OFF(struct iret_context, rip, 32);
CHECK_OFF(struct iret_context, ss, 64);

/* xen.h: time, vcpu_info, shared_info */
CHECK_SIZE(struct vcpu_time_info, 32);
CHECK_OFF(struct vcpu_time_info, tsc_timestamp, 8);
CHECK_OFF(struct vcpu_time_info, system_time, 16);
CHECK_OFF(struct vcpu_time_info, tsc_to_system_mul, 24);
CHECK_OFF(struct vcpu_time_info, tsc_shift, 28);
CHECK_OFF(struct vcpu_time_info, flags, 29);
CHECK_SIZE(struct vcpu_info, 64);
CHECK_OFF(struct vcpu_info, evtchn_upcall_mask, 1);
CHECK_OFF(struct vcpu_info, evtchn_pending_sel, 8);
CHECK_OFF(struct vcpu_info, arch.cr2, 16);
CHECK_OFF(struct vcpu_info, time, 32);
CHECK_SIZE(struct shared_info, 3136);
CHECK_OFF(struct shared_info, evtchn_pending, 2048);
CHECK_OFF(struct shared_info, evtchn_mask, 2560);
CHECK_OFF(struct shared_info, wc_version, 3072);
CHECK_OFF(struct shared_info, wc_sec, 3076);
CHECK_OFF(struct shared_info, wc_nsec, 3080);
CHECK_OFF(struct shared_info, wc_sec_hi, 3084);
CHECK_OFF(struct shared_info, arch, 3088);

/* callback.h */
CHECK_SIZE(struct callback_register, 16);
CHECK_OFF(struct callback_register, flags, 2);
CHECK_OFF(struct callback_register, address, 8);
CHECK_SIZE(struct callback_unregister, 4);

/* event_channel.h */
CHECK_SIZE(struct evtchn_alloc_unbound, 8);
CHECK_OFF(struct evtchn_alloc_unbound, remote_dom, 2);
CHECK_OFF(struct evtchn_alloc_unbound, port, 4);
CHECK_SIZE(struct evtchn_bind_interdomain, 12);
CHECK_OFF(struct evtchn_bind_interdomain, remote_port, 4);
CHECK_OFF(struct evtchn_bind_interdomain, local_port, 8);
CHECK_SIZE(struct evtchn_bind_virq, 12);
CHECK_OFF(struct evtchn_bind_virq, vcpu, 4);
CHECK_OFF(struct evtchn_bind_virq, port, 8);
CHECK_SIZE(struct evtchn_bind_pirq, 12);
CHECK_SIZE(struct evtchn_bind_ipi, 8);
CHECK_OFF(struct evtchn_bind_ipi, port, 4);
CHECK_SIZE(struct evtchn_close, 4);
CHECK_SIZE(struct evtchn_send, 4);
CHECK_SIZE(struct evtchn_status, 24);
CHECK_OFF(struct evtchn_status, port, 4);
CHECK_OFF(struct evtchn_status, status, 8);
CHECK_OFF(struct evtchn_status, vcpu, 12);
CHECK_OFF(struct evtchn_status, u.unbound.dom, 16);
CHECK_OFF(struct evtchn_status, u.interdomain.dom, 16);
CHECK_OFF(struct evtchn_status, u.interdomain.port, 20);
CHECK_OFF(struct evtchn_status, u.virq, 16);
CHECK_SIZE(struct evtchn_bind_vcpu, 8);
CHECK_SIZE(struct evtchn_unmask, 4);
CHECK_SIZE(struct evtchn_reset, 2);
CHECK_SIZE(struct evtchn_init_control, 24);
CHECK_OFF(struct evtchn_init_control, link_bits, 16);
CHECK_SIZE(struct evtchn_expand_array, 8);
CHECK_SIZE(struct evtchn_set_priority, 8);
CHECK_SIZE(struct evtchn_op, 28);
CHECK_SIZE(struct evtchn_fifo_control_block, 72);

/* vcpu.h */
CHECK_SIZE(struct vcpu_runstate_info, 48);
CHECK_OFF(struct vcpu_runstate_info, state_entry_time, 8);
CHECK_OFF(struct vcpu_runstate_info, time, 16);
CHECK_SIZE(struct vcpu_register_runstate_memory_area, 8);
CHECK_SIZE(struct vcpu_set_periodic_timer, 8);
CHECK_SIZE(struct vcpu_set_singleshot_timer, 16);
CHECK_OFF(struct vcpu_set_singleshot_timer, flags, 8);
CHECK_SIZE(struct vcpu_register_vcpu_info, 16);
CHECK_OFF(struct vcpu_register_vcpu_info, offset, 8);
CHECK_SIZE(struct vcpu_get_physid, 8);
CHECK_SIZE(struct vcpu_register_time_memory_area, 8);

/* xen.h: the PV MMU */
CHECK_SIZE(struct mmu_update, 16);
CHECK_OFF(struct mmu_update, val, 8);
CHECK_SIZE(struct mmuext_op, 24);
CHECK_OFF(struct mmuext_op, arg1.mfn, 8);
CHECK_OFF(struct mmuext_op, arg1.linear_addr, 8);
CHECK_OFF(struct mmuext_op, arg2.nr_ents, 16);
CHECK_OFF(struct mmuext_op, arg2.vcpumask, 16);
CHECK_OFF(struct mmuext_op, arg2.src_mfn, 16);
CHECK_SIZE(struct multicall_entry, 64);
CHECK_OFF(struct multicall_entry, args, 16);

/* memory.h */
CHECK_SIZE(struct xen_memory_reservation, 32);
CHECK_OFF(struct xen_memory_reservation, nr_extents, 8);
CHECK_OFF(struct xen_memory_reservation, extent_order, 16);
CHECK_OFF(struct xen_memory_reservation, mem_flags, 20);
CHECK_OFF(struct xen_memory_reservation, domid, 24);
CHECK_SIZE(struct xen_memory_exchange, 72);
CHECK_OFF(struct xen_memory_exchange, out, 32);
CHECK_OFF(struct xen_memory_exchange, nr_exchanged, 64);
CHECK_SIZE(struct xen_machphys_mfn_list, 24);
CHECK_OFF(struct xen_machphys_mfn_list, extent_start, 8);
CHECK_OFF(struct xen_machphys_mfn_list, nr_extents, 16);
CHECK_SIZE(struct xen_machphys_mapping, 24);
CHECK_SIZE(struct xen_add_to_physmap, 24);
CHECK_OFF(struct xen_add_to_physmap, size, 2);
CHECK_OFF(struct xen_add_to_physmap, space, 4);
CHECK_OFF(struct xen_add_to_physmap, idx, 8);
CHECK_OFF(struct xen_add_to_physmap, gpfn, 16);
CHECK_SIZE(struct xen_add_to_physmap_batch, 32);
CHECK_OFF(struct xen_add_to_physmap_batch, foreign_domid, 6);
CHECK_OFF(struct xen_add_to_physmap_batch, errs, 24);
CHECK_SIZE(struct xen_remove_from_physmap, 16);
CHECK_OFF(struct xen_remove_from_physmap, gpfn, 8);
CHECK_SIZE(struct xen_memory_map, 16);
CHECK_OFF(struct xen_memory_map, buffer, 8);
CHECK_SIZE(struct e820entry, 20);

_Static_assert(__HYPERVISOR_xen_version == 17, "xen_version");
_Static_assert(__HYPERVISOR_console_io == 18, "console_io");
_Static_assert(__HYPERVISOR_sched_op == 29, "sched_op");
_Static_assert(__HYPERVISOR_mca == 48, "mca");
_Static_assert(__HYPERVISOR_paging_domctl_cont == 49, "paging_domctl_cont");
_Static_assert(XEN_EFAULT == 14 && XEN_EINVAL == 22 && XEN_ENOSYS == 38, "errno");
_Static_assert(XEN_ELFNOTE_PHYS32_ENTRY == 18, "elfnote");
_Static_assert(EVTCHNOP_set_priority == 13 && EVTCHNSTAT_ipi == 5, "event_channel");
_Static_assert(VCPUOP_register_vcpu_time_phys_area == 15 && RUNSTATE_offline == 3, "vcpu");
_Static_assert(CALLBACKTYPE_syscall32 == 7 && CALLBACKF_mask_events == 1, "callback");
_Static_assert(NR_VIRQS == 24 && VIRQ_XENPMU == 13 && SEGBASE_GS_USER_SEL == 3, "virq, segbase");
_Static_assert(UVMF_INVLPG == 2 && UVMF_ALL == 4 && VMASST_TYPE_m2p_strict == 32, "uvmf, vmasst");
_Static_assert(EVTCHN_2L_NR_CHANNELS == sizeof(xen_ulong_t) * sizeof(xen_ulong_t) * 64, "2-level ports");
_Static_assert(MMU_PT_UPDATE_PRESERVE_AD == 2 && MMU_UPDATE_PREEMPTED == 0x80000000U, "mmu_update");
_Static_assert(MMUEXT_NEW_BASEPTR == 5 && MMUEXT_TLB_FLUSH_ALL == 10 && MMUEXT_NEW_USER_BASEPTR == 15 &&
               MMUEXT_UNMARK_SUPER == 20, "mmuext_op");
_Static_assert(XENMEM_populate_physmap == 6 && XENMEM_memory_map == 9 && XENMEM_machphys_mapping == 12 &&
               XENMEM_acquire_resource == 28 && XENMAPSPACE_grant_table == 1, "memory_op");
