/*
 * guestkit/traps.h - exceptions and the hypervisor's callbacks.
 *
 * gk_traps_init() maps shared_info, installs a virtual IDT for vectors
 * 0..19 and registers the event and failsafe callbacks. Every entry stub
 * (arch/x86_64/traps.S) turns the hypervisor's bounce frame into a
 * struct gk_trap_frame, saves the x87/SSE state, calls C and returns with
 * the iret hypercall, which also restores the interrupted evtchn_upcall_mask
 * (from the frame's RFLAGS.IF). A handler may change any field of the
 * frame: registers, rip (e.g. to skip the faulting instruction), rflags,
 * and the saved FPU image.
 *
 * Exceptions are delivered with events masked (trap_info flags bit 2).
 * Vectors without a handler end the domain (SHUTDOWN_crash) after printing
 * the frame.
 */
#ifndef GUESTKIT_TRAPS_H
#define GUESTKIT_TRAPS_H

#include <xen/xen.h>

/* Vectors GuestKit installs stubs for: 0 .. GK_NR_TRAPS-1. */
#define GK_NR_TRAPS         20

#define GK_TRAP_DE          0   /* divide error */
#define GK_TRAP_DB          1   /* debug (single step) */
#define GK_TRAP_NMI         2
#define GK_TRAP_BP          3   /* int3 */
#define GK_TRAP_OF          4   /* overflow (`int $4` in 64-bit code) */
#define GK_TRAP_BR          5   /* bound range */
#define GK_TRAP_UD          6   /* invalid opcode */
#define GK_TRAP_NM          7   /* device not available (CR0.TS) */
#define GK_TRAP_DF          8   /* double fault */
#define GK_TRAP_CSO         9   /* coprocessor segment overrun */
#define GK_TRAP_TS          10  /* invalid TSS */
#define GK_TRAP_NP          11  /* segment not present */
#define GK_TRAP_SS          12  /* stack fault */
#define GK_TRAP_GP          13  /* general protection */
#define GK_TRAP_PF          14  /* page fault (address in vcpu_info.arch.cr2) */
#define GK_TRAP_SPURIOUS    15
#define GK_TRAP_MF          16  /* x87 floating-point error */
#define GK_TRAP_AC          17  /* alignment check */
#define GK_TRAP_MC          18  /* machine check */
#define GK_TRAP_XM          19  /* SIMD floating-point error */

/* gk_trap_frame.vector of an event upcall (not an IDT vector). */
#define GK_VECTOR_EVENT     256

/* RFLAGS bits handlers commonly look at. */
#define GK_RFLAGS_TF        0x100
#define GK_RFLAGS_IF        0x200
#define GK_RFLAGS_AC        0x40000

/* Layout of struct gk_trap_frame, for the assembly stubs. */
#define GK_FRAME_fpu        0
#define GK_FRAME_r15        8
#define GK_FRAME_r14        16
#define GK_FRAME_r13        24
#define GK_FRAME_r12        32
#define GK_FRAME_r11        40
#define GK_FRAME_r10        48
#define GK_FRAME_r9         56
#define GK_FRAME_r8         64
#define GK_FRAME_rbp        72
#define GK_FRAME_rdi        80
#define GK_FRAME_rsi        88
#define GK_FRAME_rdx        96
#define GK_FRAME_rcx        104
#define GK_FRAME_rbx        112
#define GK_FRAME_rax        120
#define GK_FRAME_vector     128
#define GK_FRAME_error_code 136
#define GK_FRAME_rip        144
#define GK_FRAME_cs         152
#define GK_FRAME_rflags     160
#define GK_FRAME_rsp        168
#define GK_FRAME_ss         176
#define GK_FRAME_SIZE       184

#ifndef __ASSEMBLY__

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The x87/SSE state as FXSAVE stores it (64-bit format), 512 bytes. */
struct gk_fpu_state {
    uint16_t fcw;               /*   0: x87 control word */
    uint16_t fsw;               /*   2: x87 status word */
    uint8_t ftw;                /*   4: abridged tag word */
    uint8_t reserved1;
    uint16_t fop;               /*   6: last x87 opcode */
    uint64_t fip;               /*   8: last x87 instruction pointer */
    uint64_t fdp;               /*  16: last x87 data pointer */
    uint32_t mxcsr;             /*  24 */
    uint32_t mxcsr_mask;        /*  28 */
    uint8_t st[8][16];          /*  32: st0..st7 / mm0..mm7 */
    uint8_t xmm[16][16];        /* 160: xmm0..xmm15 */
    uint8_t reserved2[96];      /* 416 */
} __attribute__((aligned(16)));

/*
 * What a handler sees: the interrupted context. rip..ss are the
 * hypervisor's bounce frame in place on the interrupted stack; vector and
 * error_code (0 when the exception has none) were pushed by the stub; the
 * general registers hold their interrupted values (rcx and r11 taken from
 * the bounce frame). fpu points to the saved x87/SSE state, which is
 * reloaded on return -- except for #NM, which arrives with CR0.TS set, so
 * its stub saves nothing and fpu is NULL.
 */
struct gk_trap_frame {
    struct gk_fpu_state *fpu;
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code;
    uint64_t rip;
    uint64_t cs;                /* bits 15:0 selector (RPL 0 = interrupted guest kernel);
                                   bits 39:32 the event mask saved by the hypervisor
                                   (cleared on the way out) */
    uint64_t rflags;            /* IF = events were enabled when it happened */
    uint64_t rsp;
    uint64_t ss;
};

typedef void (*gk_trap_handler_t)(struct gk_trap_frame *frame);

/* shared_info, mapped by gk_traps_init() over a page of GuestKit's .bss
 * (NULL before), and vCPU 0's vcpu_info in it. */
extern shared_info_t *gk_shared_info;
extern struct vcpu_info *gk_vcpu_info;

/*
 * Map shared_info (update_va_mapping of start_info.shared_info), install
 * the virtual IDT for vectors 0..19 (set_trap_table; events masked on
 * entry; DPL 3 for 3, 4, 5 so `int3`, `int $4` and `int $5` reach their
 * handlers, DPL 0 for the rest) and register gk_hypervisor_callback and
 * gk_failsafe_callback (callback_op). Leaves events masked. Idempotent;
 * the event and clock functions call it on first use. Any failure ends
 * the domain (SHUTDOWN_crash) with a message.
 */
void gk_traps_init(void);

/* Handler for `vector` (< GK_NR_TRAPS); NULL restores the default (print
 * the frame, crash). Returns the previous handler. */
gk_trap_handler_t gk_set_trap_handler(unsigned int vector, gk_trap_handler_t fn);

/* "#DE", "#PF", ... ("?" beyond 19). */
const char *gk_trap_name(unsigned long vector);

/* Prints a frame on the console (one or two lines). */
void gk_trap_dump(const struct gk_trap_frame *frame);

/* Called by the stubs. */
void gk_trap(struct gk_trap_frame *frame);
void gk_failsafe(const uint64_t *slots) __attribute__((noreturn));

/* The stubs (arch/x86_64/traps.S): entry points by vector, the event
 * callback (calls gk_handle_events()), the failsafe callback. Not to be
 * called from C. */
extern const unsigned long gk_trap_entries[GK_NR_TRAPS];
void gk_hypervisor_callback(void);
void gk_failsafe_callback(void);

#ifdef __cplusplus
}
#endif

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_TRAPS_H */
