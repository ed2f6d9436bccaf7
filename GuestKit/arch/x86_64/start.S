/*
 * start.S - entry point of a GuestKit PV guest (x86-64, runs at CPL3).
 *
 * State at _start (Xen's PV domain builder):
 *   rsi  = virtual address of start_info
 *   rsp  = top of a one-page boot stack
 *   cs/ss = FLAT_KERNEL_CS/SS, other GPRs 0, events masked.
 *
 * We switch to a 64 KiB stack in .bss, clear the direction flag, record
 * start_info and the boot stack pointer, and call guestkit_main(start_info),
 * which runs the image's gk_main() and powers the domain off. Nothing here
 * needs ring 0.
 */
#include <xen/xen.h>
#include <xen/sched.h>

    .section .text.entry, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    cld
    movq    %rsp, gk_boot_rsp(%rip)
    movq    %rsi, gk_start_info(%rip)
    leaq    guestkit_stack_top(%rip), %rsp   /* 16-byte aligned */
    xorl    %ebp, %ebp                       /* end of frame-pointer chain */
    movq    %rsi, %rdi
    call    guestkit_main

    /*
     * guestkit_main never returns. Should it ever, power off; if even
     * that fails, ud2 raises #UD, which ends a domain without a trap table.
     */
    subq    $16, %rsp
    movl    $SHUTDOWN_poweroff, (%rsp)       /* struct sched_shutdown */
    movl    $SCHEDOP_shutdown, %edi
    movq    %rsp, %rsi
    call    hypercall_page + __HYPERVISOR_sched_op * 32
1:  ud2
    jmp     1b
    .size _start, . - _start

/*
 * The hypercall page: one page-aligned 4 KiB page that the hypervisor fills
 * with 128 32-byte stubs (slot i: push %rcx; push %r11; mov $i,%eax;
 * syscall; pop %r11; pop %rcx; ret) before the guest starts. It is named by
 * the HYPERCALL_PAGE ELF note. The image carries int3 (0xcc) here, so a
 * call into an unfilled page traps instead of running garbage.
 */
    .section .text.hypercall_page, "ax", @progbits
    .balign 4096
    .globl hypercall_page
    .type hypercall_page, @function
hypercall_page:
    .fill 4096, 1, 0xcc
    .size hypercall_page, 4096

/* The stack guestkit_main and everything after it run on. */
    .section .bss.guestkit_stack, "aw", @nobits
    .balign 4096
    .globl guestkit_stack
guestkit_stack:
    .skip 64 * 1024
    .globl guestkit_stack_top
guestkit_stack_top:
    .size guestkit_stack, . - guestkit_stack

    .section .note.GNU-stack, "", @progbits
