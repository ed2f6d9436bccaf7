// The ring-0 stub: the only code that ever runs at CPL 0 inside a domain's VM.
// It is data to the host: the host copies [hv_stub_code, hv_stub_code_end) to HV_OFF_CODE and
// [hv_trampoline, hv_trampoline_end) to HV_OFF_TRAMPOLINE of each VM's stub region. Everything is
// position independent (relative jumps only).
//
// Every IDT vector enters here from guest CPL 3 on the TSS's RSP0 stack (or IST1). Each entry
// pushes a zero error code where the CPU pushes none, then its vector, then `out` to the
// hypervisor port: the host reads [vector, error, rip, cs, rflags, rsp, ss] at RSP and decides.
// Only instructions verified at CPL 0 on this KVM are used: push, jmp, out, add, iretq.
#include "hv_layout.h"

        .section .rodata.hv_ring0_stub, "a"
        .balign 4096
        .globl hv_stub_code
hv_stub_code:
        .set vec, 0
        .rept 256
        .balign HV_VECTOR_STRIDE
        .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
        // the CPU pushed an error code
        .else
        pushq $0
        .endif
        pushq $vec
        jmp hv_stub_exit
        .set vec, vec + 1
        .endr

        .balign HV_VECTOR_STRIDE
hv_stub_exit:
        outb %al, $HV_EXCEPTION_PORT    // exit to the host; it may rewrite the frame before resuming
        addq $16, %rsp                   // drop vector and error code
        iretq                            // back to CPL 3
        .globl hv_stub_code_end
hv_stub_code_end:

// SYSCALL target (LSTAR/CSTAR). On this KVM SYSCALL stays at CPL 3, so this page is user-readable.
// The store to the doorbell page (no memory behind it) exits straight to the host with RIP past it
// and every register intact; the host returns by setting RIP = RCX, RFLAGS = R11, RAX = result.
        .balign 4096
        .globl hv_trampoline
hv_trampoline:
        movabsl %eax, HV_DOORBELL_VA
        ud2                              // never reached: the host always redirects
        .globl hv_trampoline_end
hv_trampoline_end:
