/*
 * traps.S - how the hypervisor enters a GuestKit guest other than at
 * _start: exception stubs for vectors 0..19, the event callback and the
 * failsafe callback (all at CPL3, guest-kernel mode).
 *
 * The hypervisor enters each of them with a bounce frame on the current
 * stack (rounded down to 16 bytes, no red zone), lowest address first:
 *
 *     rcx, r11, [error code], rip, cs, rflags, rsp, ss
 *
 * and rcx/r11 themselves holding garbage (it returns by SYSRET). Each stub
 * pops rcx and r11 back, which leaves a native exception frame; pushes a
 * 0 error code where the CPU has none, and the vector; saves every general
 * register and the x87/SSE state; and calls C with a struct gk_trap_frame
 * (<guestkit/traps.h>). The way out is the iret hypercall: with
 * [flags, rip, cs, rflags, rsp, ss] at RSP, jump to hypercall_page slot 23,
 * which pushes rcx, r11 and rax and issues SYSCALL. It restores all of
 * them from the (possibly edited) frame, and sets evtchn_upcall_mask to
 * !RFLAGS.IF atomically with the return.
 *
 * Nothing here needs ring 0.
 */
#include <xen/xen.h>
#include <guestkit/traps.h>

#define HYPERCALL_IRET  (hypercall_page + __HYPERVISOR_iret * 32)

    .section .text.gk_traps, "ax", @progbits

/* ---- entry stubs --------------------------------------------------------- */

/* An exception without an error code: push 0 in its place. */
.macro TRAP_NOERR name, vector
    .globl \name
    .type \name, @function
\name:
    popq    %rcx
    popq    %r11
    pushq   $0
    pushq   $\vector
    jmp     gk_trap_common
    .size \name, . - \name
.endm

/* An exception whose error code the hypervisor put in the frame. */
.macro TRAP_ERR name, vector
    .globl \name
    .type \name, @function
\name:
    popq    %rcx
    popq    %r11
    pushq   $\vector
    jmp     gk_trap_common
    .size \name, . - \name
.endm

    TRAP_NOERR gk_trap_de,        GK_TRAP_DE
    TRAP_NOERR gk_trap_db,        GK_TRAP_DB
    TRAP_NOERR gk_trap_nmi,       GK_TRAP_NMI
    TRAP_NOERR gk_trap_bp,        GK_TRAP_BP
    TRAP_NOERR gk_trap_of,        GK_TRAP_OF
    TRAP_NOERR gk_trap_br,        GK_TRAP_BR
    TRAP_NOERR gk_trap_ud,        GK_TRAP_UD
    TRAP_NOERR gk_trap_nm,        GK_TRAP_NM
    TRAP_ERR   gk_trap_df,        GK_TRAP_DF
    TRAP_NOERR gk_trap_cso,       GK_TRAP_CSO
    TRAP_ERR   gk_trap_ts,        GK_TRAP_TS
    TRAP_ERR   gk_trap_np,        GK_TRAP_NP
    TRAP_ERR   gk_trap_ss,        GK_TRAP_SS
    TRAP_ERR   gk_trap_gp,        GK_TRAP_GP
    TRAP_ERR   gk_trap_pf,        GK_TRAP_PF
    TRAP_NOERR gk_trap_spurious,  GK_TRAP_SPURIOUS
    TRAP_NOERR gk_trap_mf,        GK_TRAP_MF
    TRAP_ERR   gk_trap_ac,        GK_TRAP_AC
    TRAP_NOERR gk_trap_mc,        GK_TRAP_MC
    TRAP_NOERR gk_trap_xm,        GK_TRAP_XM

/* ---- frame building ------------------------------------------------------ */

/*
 * Push the general registers in the order struct gk_trap_frame wants them
 * (r15 lowest), then the fpu slot, and leave the frame's address in %rbx.
 * Expects vector and error code already pushed above them.
 */
.macro SAVE_FRAME
    pushq   %rax
    pushq   %rbx
    pushq   %rcx
    pushq   %rdx
    pushq   %rsi
    pushq   %rdi
    pushq   %rbp
    pushq   %r8
    pushq   %r9
    pushq   %r10
    pushq   %r11
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    pushq   $0                          /* fpu: none saved yet */
    movq    %rsp, %rbx                  /* callee-saved: survives the C call */
    cld                                 /* the C ABI wants DF clear */
.endm

/* Save the x87/SSE state in a 16-byte aligned FXSAVE area below the frame;
 * its address goes to frame.fpu and %r12 (callee-saved). */
.macro SAVE_FPU
    subq    $512, %rsp
    andq    $-16, %rsp
    fxsave64 (%rsp)
    movq    %rsp, %r12
    movq    %rsp, GK_FRAME_fpu(%rbx)
.endm

/* Call C function \fn with the frame as its argument on a 16-byte
 * aligned stack. */
.macro CALL_C fn
    andq    $-16, %rsp
    movq    %rbx, %rdi
    call    \fn
.endm

gk_trap_common:
    SAVE_FRAME
    xorl    %r12d, %r12d                /* no FPU image (yet) */
    cmpq    $GK_TRAP_NM, GK_FRAME_vector(%rbx)
    je      1f                          /* CR0.TS is set: fxsave would raise #NM again */
    SAVE_FPU
1:  CALL_C  gk_trap
    /* fall through */

/*
 * Return to the context in the frame at %rbx (x87/SSE image at %r12, or
 * none if %r12 is 0) through the iret hypercall.
 */
gk_trap_return:
    testq   %r12, %r12
    jz      1f
    fxrstor64 (%r12)
    /* The bounce frame's cs carries the saved event mask in bits 39:32;
     * the iret hypercall takes the mask from RFLAGS.IF, so pass back the
     * bare selector. */
1:  movl    $0, GK_FRAME_cs+4(%rbx)
    leaq    8(%rbx), %rsp               /* past the fpu slot */
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %r11
    popq    %r10
    popq    %r9
    popq    %r8
    popq    %rbp
    popq    %rdi
    popq    %rsi
    popq    %rdx
    popq    %rcx
    popq    %rbx
    popq    %rax
    addq    $16, %rsp                   /* vector, error code */
    /* Now rip, cs, rflags, rsp, ss. flags 0 (not VGCF_in_syscall): the
     * hypercall restores rcx and r11 from what the page stub pushes. */
    pushq   $0
    jmp     HYPERCALL_IRET
    .size gk_trap_common, . - gk_trap_common

/* ---- event callback ------------------------------------------------------ */

/*
 * Entered when events are pending and were unmasked, with the mask now set
 * (frame: rcx, r11, rip, cs, rflags, rsp, ss). Handles every pending port,
 * then returns with RFLAGS.IF set, so the iret hypercall unmasks events in
 * the same step as it returns (and the hypervisor bounces here again at
 * once if more have arrived meanwhile).
 */
    .globl gk_hypervisor_callback
    .type gk_hypervisor_callback, @function
gk_hypervisor_callback:
    popq    %rcx
    popq    %r11
    pushq   $0                          /* error code */
    pushq   $GK_VECTOR_EVENT
    SAVE_FRAME
    SAVE_FPU                            /* the interrupted code's, whatever it was doing */
    CALL_C  gk_handle_events
    orq     $GK_RFLAGS_IF, GK_FRAME_rflags(%rbx)  /* events back on */
    jmp     gk_trap_return
    .size gk_hypervisor_callback, . - gk_hypervisor_callback

/* ---- failsafe callback --------------------------------------------------- */

/*
 * Entered when the hypervisor could not reload the guest's data segments
 * (frame: rcx, r11, ds, es, fs, gs, rip, cs, rflags, rsp, ss). GuestKit
 * never loads segment selectors, so this is a bug: report and crash.
 */
    .globl gk_failsafe_callback
    .type gk_failsafe_callback, @function
gk_failsafe_callback:
    popq    %rcx
    popq    %r11
    movq    %rsp, %rdi                  /* ds, es, fs, gs, rip, cs, rflags, rsp, ss */
    andq    $-16, %rsp
    cld
    call    gk_failsafe
1:  ud2
    jmp     1b
    .size gk_failsafe_callback, . - gk_failsafe_callback

/* ---- the table gk_traps_init() builds the virtual IDT from ---------------- */

    .section .rodata.gk_trap_entries, "a", @progbits
    .balign 8
    .globl gk_trap_entries
    .type gk_trap_entries, @object
gk_trap_entries:
    .quad gk_trap_de, gk_trap_db, gk_trap_nmi, gk_trap_bp
    .quad gk_trap_of, gk_trap_br, gk_trap_ud, gk_trap_nm
    .quad gk_trap_df, gk_trap_cso, gk_trap_ts, gk_trap_np
    .quad gk_trap_ss, gk_trap_gp, gk_trap_pf, gk_trap_spurious
    .quad gk_trap_mf, gk_trap_ac, gk_trap_mc, gk_trap_xm
    .size gk_trap_entries, . - gk_trap_entries

    .section .note.GNU-stack, "", @progbits
