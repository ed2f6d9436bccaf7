/*
 * xen/arch-x86_64.h - the x86-64 part of Xen's guest ABI for a 64-bit PV
 * guest: the virtual IDT (struct trap_info), the per-vCPU and per-domain
 * architecture fields of vcpu_info and shared_info, segment bases, and the
 * iret hypercall's frame.
 *
 * GuestKit's rendering of Xen's public arch-x86/xen.h and
 * arch-x86/xen-x86_64.h (the parts a PV kernel uses): same numbers, names
 * and layouts, our own text. <xen/xen.h> includes this header; including it
 * on its own works too.
 */
#include <xen/xen.h>    /* first: xen.h pulls this file in where it needs it */

#ifndef GUESTKIT_XEN_ARCH_X86_64_H
#define GUESTKIT_XEN_ARCH_X86_64_H

/* vcpu_info slots in shared_info (vCPUs beyond this need
 * VCPUOP_register_vcpu_info). */
#define XEN_LEGACY_MAX_VCPUS    32

/* ------------------------------------------------------------------------
 * set_trap_table (0): set_trap_table(const struct trap_info *table).
 *
 * The table is an array ended by an entry whose address is 0. Each entry
 * replaces the guest's virtual IDT slot `vector`; a NULL table clears the
 * whole virtual IDT. A non-canonical address -> -EINVAL (earlier entries
 * stay applied); an unreadable table -> -EFAULT.
 *
 * flags bits 1:0 are the DPL a software `int n` needs (guest-kernel mode
 * counts as ring 1, so DPL >= 1 lets the kernel use `int n`; int3 and into
 * skip the check); bit 2 asks for events to be masked on entry, like an
 * interrupt gate (evtchn_upcall_mask := 1, the old value saved in the
 * frame). cs is ignored for 64-bit PV delivery: handlers always run with
 * CS = FLAT_KERNEL_CS.
 * ---------------------------------------------------------------------- */
/* ------------------------------------------------------------------------
 * set_segment_base (25): set_segment_base(which, base). Non-canonical base
 * or unknown `which` -> -EINVAL.
 * ---------------------------------------------------------------------- */
#define SEGBASE_FS              0   /* FS base */
#define SEGBASE_GS_USER         1   /* user GS base (inactive while in kernel mode) */
#define SEGBASE_GS_KERNEL       2   /* kernel GS base (the active one in kernel mode) */
#define SEGBASE_GS_USER_SEL     3   /* load user %gs selector base[15:0] */

/* ------------------------------------------------------------------------
 * vcpu_guest_context.flags (VGCF_*); VGCF_in_syscall is also the iret
 * hypercall's `flags` bit asking for a SYSRET-style return (rcx, r11
 * discarded).
 * ---------------------------------------------------------------------- */
#define _VGCF_i387_valid                0
#define VGCF_i387_valid                 (1 << _VGCF_i387_valid)
#define VGCF_I387_VALID                 VGCF_i387_valid
#define _VGCF_in_kernel                 2
#define VGCF_in_kernel                  (1 << _VGCF_in_kernel)
#define _VGCF_failsafe_disables_events  3
#define VGCF_failsafe_disables_events   (1 << _VGCF_failsafe_disables_events)
#define _VGCF_syscall_disables_events   4
#define VGCF_syscall_disables_events    (1 << _VGCF_syscall_disables_events)
#define _VGCF_online                    5
#define VGCF_online                     (1 << _VGCF_online)
#define _VGCF_in_syscall                8
#define VGCF_in_syscall                 (1 << _VGCF_in_syscall)
#define VGCF_IN_SYSCALL                 VGCF_in_syscall

#ifndef __ASSEMBLY__

/* One virtual IDT entry (16 bytes). */
struct trap_info {
    uint8_t vector;             /*  0: exception / interrupt vector */
    uint8_t flags;              /*  1: bits 1:0 DPL, bit 2 mask events */
    uint16_t cs;                /*  2: code selector (ignored for 64-bit PV) */
    unsigned long address;      /*  8: handler, 0 = none (ends a table) */
};
typedef struct trap_info trap_info_t;
DEFINE_XEN_GUEST_HANDLE(trap_info_t);

#define TI_GET_DPL(_ti)         ((_ti)->flags & 3)
#define TI_GET_IF(_ti)          ((_ti)->flags & 4)
#define TI_SET_DPL(_ti, _dpl)   ((_ti)->flags |= (_dpl))
#define TI_SET_IF(_ti, _if)     ((_ti)->flags |= ((!!(_if)) << 2))

/* A callback entry point (callback_op, set_callbacks): on x86-64 simply
 * the handler's address. */
typedef unsigned long xen_callback_t;

/* vcpu_info.arch (16 bytes). */
struct arch_vcpu_info {
    unsigned long cr2;          /*  0: faulting address of the last #PF */
    unsigned long pad;          /*  8 */
};
typedef struct arch_vcpu_info arch_vcpu_info_t;

/* shared_info.arch (48 bytes). */
struct arch_shared_info {
    unsigned long max_pfn;                      /*  0: guest-maintained */
    xen_pfn_t pfn_to_mfn_frame_list_list;       /*  8: guest-maintained */
    unsigned long nmi_reason;                   /* 16 */
    unsigned long p2m_cr3;                      /* 24 */
    unsigned long p2m_vaddr;                    /* 32 */
    unsigned long p2m_generation;               /* 40 */
};
typedef struct arch_shared_info arch_shared_info_t;

/*
 * struct iret_context - what the iret hypercall (23) finds at the guest's
 * RSP when its SYSCALL executes (72 bytes). The guest builds rip..ss (an
 * iretq frame) and flags; the hypercall page's slot 23 pushes rcx, r11 and
 * rax before issuing SYSCALL. Returning sets evtchn_upcall_mask to
 * !(rflags & IF); a cs with RPL 3 returns to guest-user mode.
 */
struct iret_context {
    uint64_t rax, r11, rcx, flags, rip, cs, rflags, rsp, ss;
};

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_ARCH_X86_64_H */
