/*
 * smp.S - where a secondary vCPU starts: the rip of the vcpu_guest_context
 * gk_smp_start() initialises it with (src/smp.c).
 *
 * State on entry, all from that context (VCPUOP_initialise):
 *   rdi = its struct gk_cpu, rsi = its vCPU id,
 *   rsp = top of its stack (also struct gk_cpu.stack_top),
 *   kernel GS base = its struct gk_cpu, events masked,
 *   cs/ss = FLAT_KERNEL_CS/SS, the virtual IDT and callbacks installed.
 *
 * It takes the stack from struct gk_cpu rather than trusting rsp, keeps
 * the rsp it arrived with for gk_smp_secondary() to check, clears DF and
 * calls C. Nothing here needs ring 0.
 */
#include <guestkit/smp.h>

    .section .text.gk_smp_entry, "ax", @progbits
    .globl gk_smp_entry
    .type gk_smp_entry, @function
gk_smp_entry:
    cld
    movq    %rsp, %rdx                       /* entry_rsp, checked in C */
    movq    GK_CPU_stack_top(%rdi), %rsp     /* 16-byte aligned */
    xorl    %ebp, %ebp                       /* end of frame-pointer chain */
    call    gk_smp_secondary                 /* (cpu, id, entry_rsp), never returns */
1:  ud2
    jmp     1b
    .size gk_smp_entry, . - gk_smp_entry

    .section .note.GNU-stack, "", @progbits
