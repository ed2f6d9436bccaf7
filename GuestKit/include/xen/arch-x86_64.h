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
 * struct cpu_user_regs (200 bytes): a vCPU's general registers and
 * interrupt frame, as the hypervisor saves them and as VCPUOP_initialise
 * reads them (vcpu_guest_context.user_regs). Selectors are 16 bits wide,
 * each padded to 8 bytes; saved_upcall_mask sits in cs's padding (the
 * bounce frame's cs slot carries it the same way, in bits 39:32).
 */
struct cpu_user_regs {
    uint64_t r15;               /*   0 */
    uint64_t r14;               /*   8 */
    uint64_t r13;               /*  16 */
    uint64_t r12;               /*  24 */
    uint64_t rbp;               /*  32 */
    uint64_t rbx;               /*  40 */
    uint64_t r11;               /*  48 */
    uint64_t r10;               /*  56 */
    uint64_t r9;                /*  64 */
    uint64_t r8;                /*  72 */
    uint64_t rax;               /*  80 */
    uint64_t rcx;               /*  88 */
    uint64_t rdx;               /*  96 */
    uint64_t rsi;               /* 104 */
    uint64_t rdi;               /* 112 */
    uint32_t error_code;        /* 120: written by the hypervisor */
    uint32_t entry_vector;      /* 124: written by the hypervisor */
    uint64_t rip;               /* 128 */
    uint16_t cs;                /* 136 */
    uint16_t pad_cs;            /* 138 */
    uint8_t saved_upcall_mask;  /* 140 */
    uint8_t pad_mask[3];        /* 141 */
    uint64_t rflags;            /* 144: IF is always on for a PV guest */
    uint64_t rsp;               /* 152 */
    uint16_t ss, pad_ss[3];     /* 160 */
    uint16_t es, pad_es[3];     /* 168 */
    uint16_t ds, pad_ds[3];     /* 176 */
    uint16_t fs, pad_fs[3];     /* 184 */
    uint16_t gs, pad_gs[3];     /* 192 */
};
typedef struct cpu_user_regs cpu_user_regs_t;
DEFINE_XEN_GUEST_HANDLE(cpu_user_regs_t);

/* A CR3 value (vcpu_guest_context.ctrlreg[1], [3]) from a top-level page
 * table's MFN and back: on x86-64 simply the frame's machine address. */
#define xen_pfn_to_cr3(pfn)     ((unsigned long)(pfn) << 12)
#define xen_cr3_to_pfn(cr3)     ((unsigned long)(cr3) >> 12)

/*
 * struct vcpu_guest_context (5168 bytes): a vCPU's whole start state, the
 * argument of VCPUOP_initialise (<xen/vcpu.h>). For a 64-bit PV vCPU the
 * hypervisor takes, and checks (-EINVAL: non-canonical addresses, an L4
 * that is not a pinned L4 of the domain, an LDT or GDT it cannot type):
 *
 *   flags            VGCF_in_kernel (start in guest-kernel mode),
 *                    VGCF_failsafe/syscall_disables_events, VGCF_online
 *                    (come up at once, no VCPUOP_up), VGCF_i387_valid
 *   user_regs        every general register, rip, rsp, rflags (IF forced
 *                    on); cs/ss become FLAT_KERNEL_CS/SS
 *   trap_ctxt        the virtual IDT, entry i = vector i (address 0: none)
 *   ldt_*, gdt_*     descriptor tables (ldt_ents <= 8192, gdt_frames MFNs)
 *   kernel_ss/sp     the stack_switch values
 *   ctrlreg[3]       the kernel L4, xen_pfn_to_cr3(mfn); ctrlreg[1] the
 *                    user L4 (0: none); ctrlreg[0] only TS counts
 *   callbacks        the event, failsafe and syscall entry points
 *   vm_assist        VMASST_TYPE_* bitmap (Xen applies it for vCPU 0 only)
 *   fs_base, gs_base_kernel, gs_base_user   the segment bases
 */
struct vcpu_guest_context {
    struct { char x[512]; } fpu_ctxt;       /*    0: FXSAVE image (VGCF_i387_valid) */
    unsigned long flags;                    /*  512: VGCF_* */
    struct cpu_user_regs user_regs;         /*  520 */
    struct trap_info trap_ctxt[256];        /*  720 */
    unsigned long ldt_base;                 /* 4816: page-aligned linear address */
    unsigned long ldt_ents;                 /* 4824 */
    unsigned long gdt_frames[16];           /* 4832 */
    unsigned long gdt_ents;                 /* 4960 */
    unsigned long kernel_ss;                /* 4968 */
    unsigned long kernel_sp;                /* 4976 */
    unsigned long ctrlreg[8];               /* 4984 */
    unsigned long debugreg[8];              /* 5048 */
    unsigned long event_callback_eip;       /* 5112 */
    unsigned long failsafe_callback_eip;    /* 5120 */
    unsigned long syscall_callback_eip;     /* 5128 */
    unsigned long vm_assist;                /* 5136 */
    uint64_t fs_base;                       /* 5144 */
    uint64_t gs_base_kernel;                /* 5152 */
    uint64_t gs_base_user;                  /* 5160 */
};
typedef struct vcpu_guest_context vcpu_guest_context_t;
DEFINE_XEN_GUEST_HANDLE(vcpu_guest_context_t);

/* The two layouts are Xen's wire format: pin them where they are defined. */
_Static_assert(sizeof(struct cpu_user_regs) == 200, "sizeof(struct cpu_user_regs)");
_Static_assert(sizeof(struct vcpu_guest_context) == 5168, "sizeof(struct vcpu_guest_context)");
_Static_assert(__builtin_offsetof(struct cpu_user_regs, rip) == 128, "cpu_user_regs.rip");
_Static_assert(__builtin_offsetof(struct cpu_user_regs, saved_upcall_mask) == 140, "cpu_user_regs.saved_upcall_mask");
_Static_assert(__builtin_offsetof(struct cpu_user_regs, gs) == 192, "cpu_user_regs.gs");
_Static_assert(__builtin_offsetof(struct vcpu_guest_context, user_regs) == 520, "vcpu_guest_context.user_regs");
_Static_assert(__builtin_offsetof(struct vcpu_guest_context, trap_ctxt) == 720, "vcpu_guest_context.trap_ctxt");
_Static_assert(__builtin_offsetof(struct vcpu_guest_context, ctrlreg) == 4984, "vcpu_guest_context.ctrlreg");
_Static_assert(__builtin_offsetof(struct vcpu_guest_context, event_callback_eip) == 5112, "vcpu_guest_context.event_callback_eip");
_Static_assert(__builtin_offsetof(struct vcpu_guest_context, gs_base_user) == 5160, "vcpu_guest_context.gs_base_user");

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
