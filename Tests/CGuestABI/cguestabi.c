#include "cguestabi.h"
#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/sched.h>
#include <xen/version.h>
#include <xen/elfnote.h>
#include <xen/callback.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
#include <xen/memory.h>

#define C(x) { #x, (long long)(x) }
#define SIZE(t) { "sizeof(" #t ")", (long long)sizeof(t) }
#define OFF(t, f) { "offsetof(" #t ", " #f ")", (long long)offsetof(t, f) }

static const struct cguestabi_entry table[] = {
    C(__HYPERVISOR_set_trap_table), C(__HYPERVISOR_mmu_update), C(__HYPERVISOR_set_gdt), C(__HYPERVISOR_stack_switch),
    C(__HYPERVISOR_set_callbacks), C(__HYPERVISOR_fpu_taskswitch), C(__HYPERVISOR_sched_op_compat), C(__HYPERVISOR_platform_op),
    C(__HYPERVISOR_set_debugreg), C(__HYPERVISOR_get_debugreg), C(__HYPERVISOR_update_descriptor), C(__HYPERVISOR_memory_op),
    C(__HYPERVISOR_multicall), C(__HYPERVISOR_update_va_mapping), C(__HYPERVISOR_set_timer_op), C(__HYPERVISOR_event_channel_op_compat),
    C(__HYPERVISOR_xen_version), C(__HYPERVISOR_console_io), C(__HYPERVISOR_physdev_op_compat), C(__HYPERVISOR_grant_table_op),
    C(__HYPERVISOR_vm_assist), C(__HYPERVISOR_update_va_mapping_otherdomain), C(__HYPERVISOR_iret), C(__HYPERVISOR_vcpu_op),
    C(__HYPERVISOR_set_segment_base), C(__HYPERVISOR_mmuext_op), C(__HYPERVISOR_xsm_op), C(__HYPERVISOR_nmi_op),
    C(__HYPERVISOR_sched_op), C(__HYPERVISOR_callback_op), C(__HYPERVISOR_xenoprof_op), C(__HYPERVISOR_event_channel_op),
    C(__HYPERVISOR_physdev_op), C(__HYPERVISOR_hvm_op), C(__HYPERVISOR_sysctl), C(__HYPERVISOR_domctl), C(__HYPERVISOR_kexec_op),
    C(__HYPERVISOR_tmem_op), C(__HYPERVISOR_argo_op), C(__HYPERVISOR_xenpmu_op), C(__HYPERVISOR_dm_op), C(__HYPERVISOR_hypfs_op),
    C(__HYPERVISOR_mca), C(__HYPERVISOR_paging_domctl_cont),

    C(CONSOLEIO_write), C(CONSOLEIO_read),
    C(SCHEDOP_yield), C(SCHEDOP_block), C(SCHEDOP_shutdown), C(SCHEDOP_poll), C(SCHEDOP_remote_shutdown),
    C(SCHEDOP_shutdown_code), C(SCHEDOP_watchdog), C(SCHEDOP_priority_hint), SIZE(struct sched_priority_hint),
    C(SHUTDOWN_poweroff), C(SHUTDOWN_reboot), C(SHUTDOWN_suspend), C(SHUTDOWN_crash), C(SHUTDOWN_watchdog),
    SIZE(struct sched_shutdown),
    C(XENVER_version), C(XENVER_extraversion), C(XENVER_compile_info), C(XENVER_capabilities), C(XENVER_changeset),
    C(XENVER_platform_parameters), C(XENVER_get_features), C(XENVER_pagesize), C(XENVER_guest_handle),
    SIZE(xen_extraversion_t), SIZE(struct xen_compile_info), OFF(struct xen_compile_info, compiler),
    OFF(struct xen_compile_info, compile_by), OFF(struct xen_compile_info, compile_domain), OFF(struct xen_compile_info, compile_date),
    SIZE(xen_capabilities_info_t), SIZE(xen_changeset_info_t), SIZE(struct xen_platform_parameters),
    SIZE(struct xen_feature_info), OFF(struct xen_feature_info, submap), SIZE(xen_domain_handle_t),

    SIZE(struct start_info), OFF(struct start_info, magic), OFF(struct start_info, nr_pages), OFF(struct start_info, shared_info),
    OFF(struct start_info, flags), OFF(struct start_info, store_mfn), OFF(struct start_info, store_evtchn),
    OFF(struct start_info, console.domU.mfn), OFF(struct start_info, console.domU.evtchn), OFF(struct start_info, pt_base),
    OFF(struct start_info, nr_pt_frames), OFF(struct start_info, mfn_list), OFF(struct start_info, mod_start),
    OFF(struct start_info, mod_len), OFF(struct start_info, cmd_line), OFF(struct start_info, first_p2m_pfn),
    OFF(struct start_info, nr_p2m_frames), C(MAX_GUEST_CMDLINE),
    C(SIF_PRIVILEGED), C(SIF_INITDOMAIN), C(SIF_MULTIBOOT_MOD), C(SIF_MOD_START_PFN), C(SIF_VIRT_P2M_4TOOLS),

    C(DOMID_SELF), C(DOMID_IO), C(DOMID_XEN), C(DOMID_COW), C(DOMID_INVALID), C(DOMID_ANY), C(DOMID_IDLE),
    C(HYPERVISOR_VIRT_START), C(HYPERVISOR_VIRT_END), C(MACH2PHYS_VIRT_START), C(MACH2PHYS_VIRT_END),
    C(FLAT_KERNEL_CS), C(FLAT_KERNEL_SS), C(FLAT_KERNEL_DS), C(FLAT_RING3_CS32),

    C(XEN_EPERM), C(XEN_ENOENT), C(XEN_ESRCH), C(XEN_EINTR), C(XEN_EIO), C(XEN_ENXIO), C(XEN_E2BIG), C(XEN_ENOEXEC),
    C(XEN_EBADF), C(XEN_ECHILD), C(XEN_EAGAIN), C(XEN_ENOMEM), C(XEN_EACCES), C(XEN_EFAULT), C(XEN_EBUSY), C(XEN_EEXIST),
    C(XEN_EXDEV), C(XEN_ENODEV), C(XEN_ENOTDIR), C(XEN_EISDIR), C(XEN_EINVAL), C(XEN_ENFILE), C(XEN_EMFILE), C(XEN_ENOSPC),
    C(XEN_EROFS), C(XEN_EMLINK), C(XEN_EDOM), C(XEN_ERANGE), C(XEN_EDEADLK), C(XEN_ENAMETOOLONG), C(XEN_ENOLCK),
    C(XEN_ENOSYS), C(XEN_ENOTEMPTY), C(XEN_ENODATA), C(XEN_ETIME), C(XEN_EBADMSG), C(XEN_EOVERFLOW), C(XEN_EILSEQ),
    C(XEN_ERESTART), C(XEN_ENOTSOCK), C(XEN_EMSGSIZE), C(XEN_EOPNOTSUPP), C(XEN_EADDRINUSE), C(XEN_EADDRNOTAVAIL),
    C(XEN_ENOBUFS), C(XEN_EISCONN), C(XEN_ENOTCONN), C(XEN_ETIMEDOUT), C(XEN_ECONNREFUSED),

    SIZE(struct trap_info), OFF(struct trap_info, vector), OFF(struct trap_info, flags), OFF(struct trap_info, cs),
    OFF(struct trap_info, address),
    C(CALLBACKTYPE_event), C(CALLBACKTYPE_failsafe), C(CALLBACKTYPE_syscall), C(CALLBACKTYPE_nmi), C(CALLBACKTYPE_sysenter),
    C(CALLBACKTYPE_syscall32), C(CALLBACKOP_register), C(CALLBACKOP_unregister), C(CALLBACKF_mask_events),
    SIZE(struct callback_register), OFF(struct callback_register, flags), OFF(struct callback_register, address),
    C(SEGBASE_FS), C(SEGBASE_GS_USER), C(SEGBASE_GS_KERNEL), C(SEGBASE_GS_USER_SEL),
    C(UVMF_NONE), C(UVMF_TLB_FLUSH), C(UVMF_INVLPG), C(UVMF_ALL),
    C(EVTCHNOP_bind_interdomain), C(EVTCHNOP_bind_virq), C(EVTCHNOP_bind_pirq), C(EVTCHNOP_close), C(EVTCHNOP_send),
    C(EVTCHNOP_status), C(EVTCHNOP_alloc_unbound), C(EVTCHNOP_bind_ipi), C(EVTCHNOP_bind_vcpu), C(EVTCHNOP_unmask),
    C(EVTCHNOP_reset), C(EVTCHNOP_init_control), C(EVTCHNOP_expand_array), C(EVTCHNOP_set_priority),
    SIZE(struct evtchn_bind_interdomain), OFF(struct evtchn_bind_interdomain, remote_port), OFF(struct evtchn_bind_interdomain, local_port),
    SIZE(struct evtchn_bind_virq), OFF(struct evtchn_bind_virq, vcpu), OFF(struct evtchn_bind_virq, port),
    SIZE(struct evtchn_status), OFF(struct evtchn_status, status), OFF(struct evtchn_status, vcpu), OFF(struct evtchn_status, u),
    SIZE(struct evtchn_alloc_unbound), OFF(struct evtchn_alloc_unbound, remote_dom), OFF(struct evtchn_alloc_unbound, port),
    SIZE(struct evtchn_bind_ipi), SIZE(struct evtchn_bind_vcpu), SIZE(struct evtchn_reset),
    C(EVTCHNSTAT_closed), C(EVTCHNSTAT_unbound), C(EVTCHNSTAT_interdomain), C(EVTCHNSTAT_pirq), C(EVTCHNSTAT_virq), C(EVTCHNSTAT_ipi),
    C(VIRQ_TIMER), C(VIRQ_DEBUG), C(VIRQ_CONSOLE), C(VIRQ_DOM_EXC), C(VIRQ_TBUF), C(VIRQ_DEBUGGER), C(VIRQ_XENOPROF),
    C(VIRQ_CON_RING), C(VIRQ_PCPU_STATE), C(VIRQ_MEM_EVENT), C(VIRQ_ARGO), C(VIRQ_ENOMEM), C(VIRQ_XENPMU), C(NR_VIRQS),
    C(VCPUOP_initialise), C(VCPUOP_up), C(VCPUOP_down), C(VCPUOP_is_up), C(VCPUOP_get_runstate_info),
    C(VCPUOP_register_runstate_memory_area), C(VCPUOP_set_periodic_timer), C(VCPUOP_stop_periodic_timer),
    C(VCPUOP_set_singleshot_timer), C(VCPUOP_stop_singleshot_timer), C(VCPUOP_register_vcpu_info),
    SIZE(struct vcpu_set_singleshot_timer), SIZE(struct vcpu_set_periodic_timer), SIZE(struct vcpu_register_vcpu_info),
    SIZE(struct vcpu_runstate_info), OFF(struct vcpu_runstate_info, state_entry_time), OFF(struct vcpu_runstate_info, time),
    C(RUNSTATE_running), C(RUNSTATE_runnable), C(RUNSTATE_blocked), C(RUNSTATE_offline),
    SIZE(struct cpu_user_regs), OFF(struct cpu_user_regs, rdi), OFF(struct cpu_user_regs, rsi), OFF(struct cpu_user_regs, rip),
    OFF(struct cpu_user_regs, cs), OFF(struct cpu_user_regs, saved_upcall_mask), OFF(struct cpu_user_regs, rflags),
    OFF(struct cpu_user_regs, rsp), OFF(struct cpu_user_regs, ss),
    SIZE(struct vcpu_guest_context), OFF(struct vcpu_guest_context, flags), OFF(struct vcpu_guest_context, user_regs),
    OFF(struct vcpu_guest_context, trap_ctxt), OFF(struct vcpu_guest_context, ldt_ents), OFF(struct vcpu_guest_context, gdt_frames),
    OFF(struct vcpu_guest_context, gdt_ents), OFF(struct vcpu_guest_context, kernel_ss), OFF(struct vcpu_guest_context, kernel_sp),
    OFF(struct vcpu_guest_context, ctrlreg), OFF(struct vcpu_guest_context, event_callback_eip),
    OFF(struct vcpu_guest_context, failsafe_callback_eip), OFF(struct vcpu_guest_context, syscall_callback_eip),
    OFF(struct vcpu_guest_context, vm_assist), OFF(struct vcpu_guest_context, fs_base), OFF(struct vcpu_guest_context, gs_base_kernel),
    OFF(struct vcpu_guest_context, gs_base_user),
    C(VGCF_in_kernel), C(VGCF_online), C(VGCF_failsafe_disables_events), C(VGCF_syscall_disables_events), C(XEN_LEGACY_MAX_VCPUS),
    SIZE(struct sched_poll), OFF(struct sched_poll, nr_ports), OFF(struct sched_poll, timeout),
    SIZE(struct multicall_entry), OFF(struct multicall_entry, result), OFF(struct multicall_entry, args),
    SIZE(struct vcpu_time_info), OFF(struct vcpu_time_info, tsc_timestamp), OFF(struct vcpu_time_info, system_time),
    OFF(struct vcpu_time_info, tsc_to_system_mul), OFF(struct vcpu_time_info, tsc_shift),
    SIZE(struct vcpu_info), OFF(struct vcpu_info, evtchn_upcall_mask), OFF(struct vcpu_info, evtchn_pending_sel),
    OFF(struct vcpu_info, arch.cr2), OFF(struct vcpu_info, time),
    OFF(struct shared_info, evtchn_pending), OFF(struct shared_info, evtchn_mask), OFF(struct shared_info, wc_version),
    OFF(struct shared_info, wc_sec), OFF(struct shared_info, wc_nsec), OFF(struct shared_info, wc_sec_hi),
    C(MMU_NORMAL_PT_UPDATE), C(MMU_MACHPHYS_UPDATE), C(MMU_PT_UPDATE_PRESERVE_AD), C(MMU_PT_UPDATE_NO_TRANSLATE),
    C(MMU_UPDATE_PREEMPTED), SIZE(struct mmu_update), SIZE(struct mmuext_op),
    C(MMUEXT_PIN_L1_TABLE), C(MMUEXT_PIN_L2_TABLE), C(MMUEXT_PIN_L3_TABLE), C(MMUEXT_PIN_L4_TABLE), C(MMUEXT_UNPIN_TABLE),
    C(MMUEXT_NEW_BASEPTR), C(MMUEXT_TLB_FLUSH_LOCAL), C(MMUEXT_INVLPG_LOCAL), C(MMUEXT_TLB_FLUSH_MULTI), C(MMUEXT_INVLPG_MULTI),
    C(MMUEXT_TLB_FLUSH_ALL), C(MMUEXT_INVLPG_ALL), C(MMUEXT_FLUSH_CACHE), C(MMUEXT_SET_LDT), C(MMUEXT_NEW_USER_BASEPTR),
    C(MMUEXT_CLEAR_PAGE), C(MMUEXT_COPY_PAGE), C(MMUEXT_FLUSH_CACHE_GLOBAL), C(MMUEXT_MARK_SUPER), C(MMUEXT_UNMARK_SUPER),
    C(XENMEM_increase_reservation), C(XENMEM_decrease_reservation), C(XENMEM_maximum_ram_page), C(XENMEM_current_reservation),
    C(XENMEM_maximum_reservation), C(XENMEM_machphys_mfn_list), C(XENMEM_populate_physmap), C(XENMEM_add_to_physmap),
    C(XENMEM_memory_map), C(XENMEM_machine_memory_map), C(XENMEM_exchange), C(XENMEM_machphys_mapping),
    SIZE(struct xen_memory_reservation), OFF(struct xen_memory_reservation, nr_extents),
    OFF(struct xen_memory_reservation, extent_order), OFF(struct xen_memory_reservation, mem_flags),
    OFF(struct xen_memory_reservation, domid),
    SIZE(struct xen_add_to_physmap), OFF(struct xen_add_to_physmap, space), OFF(struct xen_add_to_physmap, idx),
    OFF(struct xen_add_to_physmap, gpfn), C(XENMAPSPACE_shared_info), C(XENMAPSPACE_grant_table),
    SIZE(struct xen_machphys_mapping),
    C(XEN_ELFNOTE_ENTRY), C(XEN_ELFNOTE_HYPERCALL_PAGE), C(XEN_ELFNOTE_VIRT_BASE), C(XEN_ELFNOTE_PADDR_OFFSET),
    C(XEN_ELFNOTE_XEN_VERSION), C(XEN_ELFNOTE_GUEST_OS), C(XEN_ELFNOTE_GUEST_VERSION), C(XEN_ELFNOTE_LOADER),
    C(XEN_ELFNOTE_PAE_MODE), C(XEN_ELFNOTE_FEATURES), C(XEN_ELFNOTE_BSD_SYMTAB), C(XEN_ELFNOTE_HV_START_LOW),
    C(XEN_ELFNOTE_L1_MFN_VALID), C(XEN_ELFNOTE_SUSPEND_CANCEL), C(XEN_ELFNOTE_INIT_P2M), C(XEN_ELFNOTE_MOD_START_PFN),
    C(XEN_ELFNOTE_SUPPORTED_FEATURES), C(XEN_ELFNOTE_PHYS32_ENTRY),
};

const struct cguestabi_entry *cguestabi_entries(void) { return table; }
size_t cguestabi_count(void) { return sizeof table / sizeof table[0]; }
