/*
 * xen/xen.h - core of Xen's guest ABI as seen by a 64-bit x86 PV guest.
 *
 * GuestKit's own rendering of the definitions in Xen's public xen.h (plus the
 * x86-64 bits of arch-x86/xen-x86_64.h that a PV kernel needs). Numbers,
 * names and layouts follow Xen exactly so that code written against Xen's
 * headers compiles unchanged; the text is ours.
 *
 * Usable from C, from assembly (__ASSEMBLY__ hides the types) and from Swift
 * through the clang importer. Includes <xen/arch-x86_64.h>.
 */
#ifndef GUESTKIT_XEN_XEN_H
#define GUESTKIT_XEN_XEN_H

#ifndef __ASSEMBLY__
#include <stdint.h>
#endif

/* ------------------------------------------------------------------------
 * Hypercall numbers. A 64-bit PV guest issues hypercall N with SYSCALL in
 * guest-kernel mode (rax = N, args rdi rsi rdx r10 r8, result in rax), or by
 * calling slot N (offset N*32) of its hypercall page. Numbers never move.
 * ---------------------------------------------------------------------- */
#define __HYPERVISOR_set_trap_table                 0
#define __HYPERVISOR_mmu_update                     1
#define __HYPERVISOR_set_gdt                        2
#define __HYPERVISOR_stack_switch                   3
#define __HYPERVISOR_set_callbacks                  4
#define __HYPERVISOR_fpu_taskswitch                 5
#define __HYPERVISOR_sched_op_compat                6   /* legacy; see sched_op */
#define __HYPERVISOR_platform_op                    7
#define __HYPERVISOR_set_debugreg                   8
#define __HYPERVISOR_get_debugreg                   9
#define __HYPERVISOR_update_descriptor             10
/* 11 has never been assigned: always -ENOSYS. */
#define __HYPERVISOR_memory_op                     12
#define __HYPERVISOR_multicall                     13
#define __HYPERVISOR_update_va_mapping             14
#define __HYPERVISOR_set_timer_op                  15
#define __HYPERVISOR_event_channel_op_compat       16   /* legacy */
#define __HYPERVISOR_xen_version                   17
#define __HYPERVISOR_console_io                    18
#define __HYPERVISOR_physdev_op_compat             19   /* legacy */
#define __HYPERVISOR_grant_table_op                20
#define __HYPERVISOR_vm_assist                     21
#define __HYPERVISOR_update_va_mapping_otherdomain 22
#define __HYPERVISOR_iret                          23   /* jumped to, never called */
#define __HYPERVISOR_vcpu_op                       24
#define __HYPERVISOR_set_segment_base              25   /* x86-64 PV only */
#define __HYPERVISOR_mmuext_op                     26
#define __HYPERVISOR_xsm_op                        27
#define __HYPERVISOR_nmi_op                        28
#define __HYPERVISOR_sched_op                      29
#define __HYPERVISOR_callback_op                   30
#define __HYPERVISOR_xenoprof_op                   31
#define __HYPERVISOR_event_channel_op              32
#define __HYPERVISOR_physdev_op                    33
#define __HYPERVISOR_hvm_op                        34
#define __HYPERVISOR_sysctl                        35
#define __HYPERVISOR_domctl                        36
#define __HYPERVISOR_kexec_op                      37
#define __HYPERVISOR_tmem_op                       38
#define __HYPERVISOR_argo_op                       39
#define __HYPERVISOR_xenpmu_op                     40
#define __HYPERVISOR_dm_op                         41
#define __HYPERVISOR_hypfs_op                      42

/* 48..55 are reserved for architecture-specific calls. */
#define __HYPERVISOR_arch_0                        48
#define __HYPERVISOR_arch_1                        49
#define __HYPERVISOR_arch_2                        50
#define __HYPERVISOR_arch_3                        51
#define __HYPERVISOR_arch_4                        52
#define __HYPERVISOR_arch_5                        53
#define __HYPERVISOR_arch_6                        54
#define __HYPERVISOR_arch_7                        55

/* x86 names for the architecture-specific slots. */
#define __HYPERVISOR_mca                           __HYPERVISOR_arch_0
#define __HYPERVISOR_paging_domctl_cont            __HYPERVISOR_arch_1

/* ------------------------------------------------------------------------
 * console_io (18): (cmd, count, buffer). Writes/reads the hypervisor's own
 * console. CONSOLEIO_write returns 0; CONSOLEIO_read returns the number of
 * bytes stored in buffer (0 when nothing is pending).
 * ---------------------------------------------------------------------- */
#define CONSOLEIO_write         0
#define CONSOLEIO_read          1

/* ------------------------------------------------------------------------
 * Domain identifiers. Real domains are 0 .. DOMID_FIRST_RESERVED-1.
 * ---------------------------------------------------------------------- */
#define DOMID_FIRST_RESERVED    0x7FF0
#define DOMID_SELF              0x7FF0    /* the calling domain */
#define DOMID_IO                0x7FF1
#define DOMID_XEN               0x7FF2
#define DOMID_COW               0x7FF3
#define DOMID_INVALID           0x7FF4
#define DOMID_ANY               0x7FF5
#define DOMID_IDLE              0x7FFF
#define DOMID_MASK              0x7FFF

/* ------------------------------------------------------------------------
 * x86-64 PV address space and flat segments (arch-x86/xen-x86_64.h).
 * The addresses exceed LONG_MAX, so in C they are unsigned long as written.
 * ---------------------------------------------------------------------- */
#define HYPERVISOR_VIRT_START   0xFFFF800000000000
#define HYPERVISOR_VIRT_END     0xFFFF880000000000
#define MACH2PHYS_VIRT_START    0xFFFF800000000000
#define MACH2PHYS_VIRT_END      0xFFFF804000000000

#define FLAT_RING3_CS32         0xe023  /* GDT index 7172 */
#define FLAT_RING3_CS64         0xe033  /* GDT index 7174 */
#define FLAT_RING3_DS32         0xe02b  /* GDT index 7173 */
#define FLAT_RING3_DS64         0x0000  /* null selector */
#define FLAT_RING3_SS32         0xe02b
#define FLAT_RING3_SS64         0xe02b
#define FLAT_KERNEL_CS64        FLAT_RING3_CS64
#define FLAT_KERNEL_DS64        FLAT_RING3_DS64
#define FLAT_KERNEL_SS64        FLAT_RING3_SS64
#define FLAT_KERNEL_CS          FLAT_KERNEL_CS64
#define FLAT_KERNEL_DS          FLAT_KERNEL_DS64
#define FLAT_KERNEL_SS          FLAT_KERNEL_SS64
#define FLAT_USER_CS64          FLAT_RING3_CS64
#define FLAT_USER_DS64          FLAT_RING3_DS64
#define FLAT_USER_SS64          FLAT_RING3_SS64
#define FLAT_USER_CS            FLAT_USER_CS64
#define FLAT_USER_DS            FLAT_USER_DS64
#define FLAT_USER_SS            FLAT_USER_SS64

/* ------------------------------------------------------------------------
 * start_info flags (start_info.flags).
 * ---------------------------------------------------------------------- */
#define SIF_PRIVILEGED          (1 << 0)  /* domain may use privileged ops */
#define SIF_INITDOMAIN          (1 << 1)  /* this is the initial control domain */
#define SIF_MULTIBOOT_MOD       (1 << 2)  /* mod_start is a multiboot module list */
#define SIF_MOD_START_PFN       (1 << 3)  /* mod_start is a PFN, not a virtual address */
#define SIF_VIRT_P2M_4TOOLS     (1 << 4)  /* p2m list is virtually mapped for tools */
#define SIF_PM_MASK             (0xFF << 8) /* reserved for power management */

#define MAX_GUEST_CMDLINE       1024

/* ------------------------------------------------------------------------
 * update_va_mapping (14): update_va_mapping(va, pte, flags). Writes the L1
 * entry that maps `va` in the current page tables (checked like any
 * mmu_update), then flushes as `flags` say. Flush type in bits 1:0; which
 * vCPUs in the rest (UVMF_LOCAL/UVMF_MULTI 0, UVMF_ALL, or a pointer to a
 * vCPU bitmap).
 * ---------------------------------------------------------------------- */
#define UVMF_NONE               0   /* no flush */
#define UVMF_TLB_FLUSH          1   /* flush the whole TLB */
#define UVMF_INVLPG             2   /* flush only `va` */
#define UVMF_FLUSHTYPE_MASK     3
#define UVMF_MULTI              0   /* flush the vCPUs in a bitmap */
#define UVMF_LOCAL              0   /* flush this vCPU only */
#define UVMF_ALL                4   /* flush every vCPU of the domain */

/* ------------------------------------------------------------------------
 * mmu_update (1): mmu_update(reqs, count, pdone, foreigndom).
 * Each request writes one 8-byte page-table entry, named by its MACHINE
 * address: ptr = address of the entry | command (the low 3 bits, free
 * because entries are 8-byte aligned), val = the new entry (holding an
 * MFN). The hypervisor checks the new entry against the rules for the
 * table's level before writing it. Processing stops at the first failure,
 * whose error is returned; *pdone (if pdone is not NULL) receives the
 * number of requests done. foreigndom: DOMID_SELF for the caller's own
 * frames.
 * ---------------------------------------------------------------------- */
#define MMU_NORMAL_PT_UPDATE        0   /* checked write of val at ptr */
#define MMU_MACHPHYS_UPDATE         1   /* M2P[ptr >> 12] := val (a PFN) */
#define MMU_PT_UPDATE_PRESERVE_AD   2   /* as 0, keeping the entry's A/D bits */
#define MMU_PT_UPDATE_NO_TRANSLATE  3   /* as 0, val never translated (= 0 for PV) */

/* Bit 31 of mmu_update's and mmuext_op's count marks a continuation. */
#define MMU_UPDATE_PREEMPTED        0x80000000

/* ------------------------------------------------------------------------
 * mmuext_op (26): mmuext_op(ops, count, pdone, foreigndom), with a list of
 * struct mmuext_op. Extended MMU operations: pin/unpin page tables (a pin
 * validates the frame as a table of that level and keeps it typed), load
 * a new base pointer (CR3), flush TLBs, set the LDT, clear/copy a page.
 * arg1 is `mfn` or `linear_addr`, arg2 `nr_ents`, `vcpumask` or `src_mfn`,
 * as listed per command. Stops at the first failure; *pdone as above.
 * ---------------------------------------------------------------------- */
#define MMUEXT_PIN_L1_TABLE         0   /* arg1.mfn */
#define MMUEXT_PIN_L2_TABLE         1   /* arg1.mfn */
#define MMUEXT_PIN_L3_TABLE         2   /* arg1.mfn */
#define MMUEXT_PIN_L4_TABLE         3   /* arg1.mfn */
#define MMUEXT_UNPIN_TABLE          4   /* arg1.mfn */
#define MMUEXT_NEW_BASEPTR          5   /* arg1.mfn: new kernel L4 */
#define MMUEXT_TLB_FLUSH_LOCAL      6   /* no argument */
#define MMUEXT_INVLPG_LOCAL         7   /* arg1.linear_addr */
#define MMUEXT_TLB_FLUSH_MULTI      8   /* arg2.vcpumask */
#define MMUEXT_INVLPG_MULTI         9   /* arg1.linear_addr, arg2.vcpumask */
#define MMUEXT_TLB_FLUSH_ALL        10  /* no argument */
#define MMUEXT_INVLPG_ALL           11  /* arg1.linear_addr */
#define MMUEXT_FLUSH_CACHE          12  /* no argument (needs I/O privilege) */
#define MMUEXT_SET_LDT              13  /* arg1.linear_addr, arg2.nr_ents */
#define MMUEXT_NEW_USER_BASEPTR     15  /* arg1.mfn: new user L4 (0 = none) */
#define MMUEXT_CLEAR_PAGE           16  /* arg1.mfn */
#define MMUEXT_COPY_PAGE            17  /* arg1.mfn (destination), arg2.src_mfn */
#define MMUEXT_FLUSH_CACHE_GLOBAL   18  /* no argument */
#define MMUEXT_MARK_SUPER           19  /* withdrawn: -EOPNOTSUPP */
#define MMUEXT_UNMARK_SUPER         20  /* withdrawn: -EOPNOTSUPP */

/* ------------------------------------------------------------------------
 * vm_assist (21): vm_assist(cmd, type). Turns on or off an optional
 * hypervisor behaviour. Bad cmd -> -ENOSYS, bad type -> -EINVAL.
 * ---------------------------------------------------------------------- */
#define VMASST_CMD_enable                   0
#define VMASST_CMD_disable                  1

#define VMASST_TYPE_4gb_segments            0
#define VMASST_TYPE_4gb_segments_notify     1
#define VMASST_TYPE_writable_pagetables     2   /* emulate writes to own L1 tables */
#define VMASST_TYPE_pae_extended_cr3        3
#define VMASST_TYPE_architectural_iopl      4   /* iret's IOPL is the virtual IOPL */
#define VMASST_TYPE_runstate_update_flag    5   /* XEN_RUNSTATE_UPDATE in runstate areas */
#define VMASST_TYPE_m2p_strict              32

/* ------------------------------------------------------------------------
 * Virtual interrupts (event_channel_op EVTCHNOP_bind_virq). Per-vCPU VIRQs
 * (TIMER, DEBUG, XENOPROF, XENPMU) bind once per vCPU; the others are
 * global and bind on vCPU 0.
 * ---------------------------------------------------------------------- */
#define VIRQ_TIMER              0   /* per vCPU: a timer deadline passed */
#define VIRQ_DEBUG              1   /* per vCPU: debug key pressed */
#define VIRQ_CONSOLE            2   /* global: hypervisor console input (dom0) */
#define VIRQ_DOM_EXC            3   /* global: a domain crashed or shut down */
#define VIRQ_TBUF               4   /* global: trace buffers */
#define VIRQ_DEBUGGER           6   /* global: a domain hit a debugger trap */
#define VIRQ_XENOPROF           7   /* per vCPU: profiling samples */
#define VIRQ_CON_RING           8   /* global: hypervisor console ring */
#define VIRQ_PCPU_STATE         9   /* global: physical CPU state changed */
#define VIRQ_MEM_EVENT          10  /* global: memory event */
#define VIRQ_ARGO               11  /* per domain: Argo message */
#define VIRQ_ENOMEM             12  /* global: hypervisor low on memory */
#define VIRQ_XENPMU             13  /* per vCPU: PMU interrupt */

/* 16..23 belong to the architecture. */
#define VIRQ_ARCH_0             16
#define VIRQ_ARCH_1             17
#define VIRQ_ARCH_2             18
#define VIRQ_ARCH_3             19
#define VIRQ_ARCH_4             20
#define VIRQ_ARCH_5             21
#define VIRQ_ARCH_6             22
#define VIRQ_ARCH_7             23

#define NR_VIRQS                24

/* vcpu_time_info.flags. */
#define XEN_PVCLOCK_TSC_STABLE_BIT  (1 << 0)  /* TSC is synchronised across vCPUs */
#define XEN_PVCLOCK_GUEST_STOPPED   (1 << 1)  /* the guest was paused */

#ifndef __ASSEMBLY__

typedef unsigned long xen_pfn_t;     /* a frame number (an MFN for PV) */
typedef unsigned long xen_ulong_t;
typedef uint16_t domid_t;
typedef uint32_t evtchn_port_t;
typedef uint8_t xen_domain_handle_t[16];

/*
 * Guest handles: on x86-64 a handle is a struct wrapping one pointer, which
 * keeps different handle types from being mixed by accident.
 */
#define ___DEFINE_XEN_GUEST_HANDLE(name, type) \
    typedef struct { type *p; } __guest_handle_ ## name
#define __DEFINE_XEN_GUEST_HANDLE(name, type) \
    ___DEFINE_XEN_GUEST_HANDLE(name, type); \
    ___DEFINE_XEN_GUEST_HANDLE(const_ ## name, const type)
#define DEFINE_XEN_GUEST_HANDLE(name)   __DEFINE_XEN_GUEST_HANDLE(name, name)
#define XEN_GUEST_HANDLE(name)          __guest_handle_ ## name
#define set_xen_guest_handle(hnd, val)  do { (hnd).p = (val); } while (0)

__DEFINE_XEN_GUEST_HANDLE(uchar, unsigned char);
__DEFINE_XEN_GUEST_HANDLE(uint, unsigned int);
DEFINE_XEN_GUEST_HANDLE(char);
DEFINE_XEN_GUEST_HANDLE(int);
DEFINE_XEN_GUEST_HANDLE(void);
DEFINE_XEN_GUEST_HANDLE(uint64_t);
DEFINE_XEN_GUEST_HANDLE(xen_pfn_t);
DEFINE_XEN_GUEST_HANDLE(xen_ulong_t);
DEFINE_XEN_GUEST_HANDLE(evtchn_port_t);

#endif /* !__ASSEMBLY__ */

/* trap_info, arch_vcpu_info, arch_shared_info, SEGBASE_*, iret_context. */
#include <xen/arch-x86_64.h>

#ifndef __ASSEMBLY__

/*
 * struct start_info - handed to a PV guest at boot (RSI = its virtual
 * address). 1168 bytes on x86-64. Fields up to and including `console` are
 * rewritten on every boot and resume; the rest only on first boot.
 */
struct start_info {
    char magic[32];             /*   0: "xen-3.0-x86_64" (NUL-terminated)   */
    unsigned long nr_pages;     /*  32: pages allocated to the domain       */
    unsigned long shared_info;  /*  40: MACHINE address of shared_info      */
    uint32_t flags;             /*  48: SIF_*                               */
    xen_pfn_t store_mfn;        /*  56: MFN of the xenstore ring            */
    uint32_t store_evtchn;      /*  64: event channel of the xenstore ring  */
    union {
        struct {
            xen_pfn_t mfn;      /*  72: MFN of the console ring             */
            uint32_t evtchn;    /*  80: event channel of the console ring   */
        } domU;
        struct {
            uint32_t info_off;  /*  72: offset of console_info in here      */
            uint32_t info_size; /*  76: size of console_info                */
        } dom0;
    } console;
    unsigned long pt_base;      /*  88: VIRTUAL address of the boot L4      */
    unsigned long nr_pt_frames; /*  96: number of boot page-table frames    */
    unsigned long mfn_list;     /* 104: VIRTUAL address of the p2m list     */
    unsigned long mod_start;    /* 112: VIRTUAL address (or PFN) of initrd  */
    unsigned long mod_len;      /* 120: initrd size in bytes                */
    char cmd_line[MAX_GUEST_CMDLINE]; /* 128: NUL-terminated command line   */
    unsigned long first_p2m_pfn;/* 1152: first PFN of a separate p2m, or 0  */
    unsigned long nr_p2m_frames;/* 1160: frames of that p2m                 */
};
typedef struct start_info start_info_t;

/*
 * struct vcpu_time_info - Xen's per-vCPU clock ("pvclock"), 32 bytes,
 * inside vcpu_info. System time (ns since the domain's clock started) at
 * TSC value t is
 *     system_time + (((t - tsc_timestamp) << tsc_shift) * tsc_to_system_mul) >> 32
 * (a negative tsc_shift shifts right). The hypervisor updates it as a
 * seqlock: version is odd while an update is in progress, so readers copy
 * the fields and retry while version was odd or has changed.
 */
struct vcpu_time_info {
    uint32_t version;           /*  0: seqlock (odd = being updated) */
    uint32_t pad0;              /*  4 */
    uint64_t tsc_timestamp;     /*  8: TSC when system_time was taken */
    uint64_t system_time;       /* 16: ns */
    uint32_t tsc_to_system_mul; /* 24: 32.32 fixed-point ns per (shifted) tick */
    int8_t tsc_shift;           /* 28: applied to the TSC delta first */
    uint8_t flags;              /* 29: XEN_PVCLOCK_* */
    uint8_t pad1[2];            /* 30 */
};
typedef struct vcpu_time_info vcpu_time_info_t;

/*
 * struct vcpu_info - one vCPU's event and clock state (64 bytes), in
 * shared_info.vcpu_info[vcpu] unless moved by VCPUOP_register_vcpu_info.
 *
 * evtchn_upcall_mask is the guest's virtual interrupt flag: 1 = events
 * masked (the hypervisor sets it when it delivers an upcall or an
 * exception through a trap_info entry with flags bit 2, and the iret
 * hypercall sets it to !RFLAGS.IF). evtchn_upcall_pending is set by the
 * hypervisor whenever it marks a bit in evtchn_pending_sel; an upcall is
 * delivered on every return to the guest while pending && !mask.
 */
struct vcpu_info {
    uint8_t evtchn_upcall_pending;      /*  0 */
    uint8_t evtchn_upcall_mask;         /*  1 */
    xen_ulong_t evtchn_pending_sel;     /*  8: bit w = evtchn_pending[w] has work */
    struct arch_vcpu_info arch;         /* 16: arch.cr2 = last #PF address */
    struct vcpu_time_info time;         /* 32 */
};
typedef struct vcpu_info vcpu_info_t;

/*
 * struct shared_info - the page the hypervisor shares with the domain
 * (start_info.shared_info is its machine address; a PV guest maps it with
 * update_va_mapping). 3136 bytes are defined.
 *
 * Event channels (2-level ABI, 4096 ports): port p is pending when bit
 * p % 64 of evtchn_pending[p / 64] is set, masked when the same bit of
 * evtchn_mask is. The wall clock (wc_sec_hi:wc_sec, wc_nsec) is the UTC
 * time at system time 0, guarded by the wc_version seqlock.
 */
struct shared_info {
    struct vcpu_info vcpu_info[XEN_LEGACY_MAX_VCPUS];  /*    0 */
    xen_ulong_t evtchn_pending[64];                     /* 2048 */
    xen_ulong_t evtchn_mask[64];                        /* 2560 */
    uint32_t wc_version;                                /* 3072 */
    uint32_t wc_sec;                                    /* 3076 */
    uint32_t wc_nsec;                                   /* 3080 */
    uint32_t wc_sec_hi;                                 /* 3084 */
    struct arch_shared_info arch;                       /* 3088 */
};
typedef struct shared_info shared_info_t;

/*
 * multicall (13): run several hypercalls with one entry into the hypervisor.
 * Each entry's `result` receives that call's return value.
 */
struct multicall_entry {
    unsigned long op;
    unsigned long result;
    unsigned long args[6];
};
typedef struct multicall_entry multicall_entry_t;

/* One mmu_update request (16 bytes): see MMU_* above. */
struct mmu_update {
    uint64_t ptr;               /*  0: machine address of the entry | MMU_* */
    uint64_t val;               /*  8: the new entry (or PFN for MACHPHYS) */
};
typedef struct mmu_update mmu_update_t;
DEFINE_XEN_GUEST_HANDLE(mmu_update_t);

/* One mmuext_op operation (24 bytes): see MMUEXT_* above. */
struct mmuext_op {
    unsigned int cmd;           /*  0: MMUEXT_* */
    union {
        xen_pfn_t mfn;          /*  8: pin/unpin, base pointers, clear/copy */
        unsigned long linear_addr; /* 8: INVLPG_*, SET_LDT */
    } arg1;
    union {
        unsigned int nr_ents;   /* 16: SET_LDT */
        XEN_GUEST_HANDLE(const_void) vcpumask; /* 16: *_MULTI: bitmap of vCPUs */
        xen_pfn_t src_mfn;      /* 16: COPY_PAGE */
    } arg2;
};
typedef struct mmuext_op mmuext_op_t;
DEFINE_XEN_GUEST_HANDLE(mmuext_op_t);

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_XEN_H */
