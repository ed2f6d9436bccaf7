/*
 * guestkit/hypercall.h - issuing Xen hypercalls from a 64-bit PV guest.
 *
 * Two ways in (a third, the iret hypercall, is only ever jumped to: see
 * arch/x86_64/traps.S):
 *
 *  - through the hypercall page (the normal way): `call hypercall_page+nr*32`.
 *    The hypervisor fills slot nr with
 *        push %rcx; push %r11; mov $nr,%eax; syscall; pop %r11; pop %rcx; ret
 *    so the number goes in rax and arguments 1..5 in rdi rsi rdx r10 r8;
 *    the result comes back in rax (negative XEN_Exxx on failure).
 *    _hypercall0.._hypercall5 do this; `nr` must be a constant expression
 *    (it becomes the call's displacement) below 128 and not __HYPERVISOR_iret.
 *
 *  - with an inline `syscall` (what current Linux does), which can carry any
 *    64-bit number: guestkit_raw_syscall5().
 *
 * The hypervisor may overwrite every argument register (a debug Xen poisons
 * them), and SYSCALL/SYSRET destroy rcx and r11, so all of them are treated
 * as clobbered, as is memory (hypercalls read and write guest buffers).
 *
 * Requires code built with -mno-red-zone: the `call` pushes a return
 * address below the stack pointer.
 */
#ifndef GUESTKIT_HYPERCALL_H
#define GUESTKIT_HYPERCALL_H

#include <xen/xen.h>

#ifndef __ASSEMBLY__

/* 4 KiB page-aligned page in .text, filled by the hypervisor at load time
 * (defined in arch/x86_64/start.S, named by the HYPERCALL_PAGE note). */
extern char hypercall_page[];

/* Compile-time check that `nr` names a page slot that may be called. */
#define _GK_HC_CHECK(nr)                                                      \
    _Static_assert((nr) >= 0 && (nr) < 128 && (nr) != __HYPERVISOR_iret,      \
                   "hypercall number has no callable hypercall_page slot")

#define _GK_HC_CALL  "call hypercall_page + %c[_gk_off]"

#define _hypercall0(nr) __extension__ ({                                      \
    _GK_HC_CHECK(nr);                                                         \
    long _gk_res;                                                             \
    __asm__ __volatile__ (_GK_HC_CALL                                         \
        : "=a" (_gk_res)                                                      \
        : "0" ((long)(nr)), [_gk_off] "i" ((nr) * 32)                         \
        : "rdi", "rsi", "rdx", "r10", "r8", "rcx", "r11", "memory");          \
    _gk_res;                                                                  \
})

#define _hypercall1(nr, a1) __extension__ ({                                  \
    _GK_HC_CHECK(nr);                                                         \
    long _gk_res, _gk_1 = (long)(a1);                                         \
    __asm__ __volatile__ (_GK_HC_CALL                                         \
        : "=a" (_gk_res), "+D" (_gk_1)                                        \
        : "0" ((long)(nr)), [_gk_off] "i" ((nr) * 32)                         \
        : "rsi", "rdx", "r10", "r8", "rcx", "r11", "memory");                 \
    _gk_res;                                                                  \
})

#define _hypercall2(nr, a1, a2) __extension__ ({                              \
    _GK_HC_CHECK(nr);                                                         \
    long _gk_res, _gk_1 = (long)(a1), _gk_2 = (long)(a2);                     \
    __asm__ __volatile__ (_GK_HC_CALL                                         \
        : "=a" (_gk_res), "+D" (_gk_1), "+S" (_gk_2)                          \
        : "0" ((long)(nr)), [_gk_off] "i" ((nr) * 32)                         \
        : "rdx", "r10", "r8", "rcx", "r11", "memory");                        \
    _gk_res;                                                                  \
})

#define _hypercall3(nr, a1, a2, a3) __extension__ ({                          \
    _GK_HC_CHECK(nr);                                                         \
    long _gk_res, _gk_1 = (long)(a1), _gk_2 = (long)(a2),                     \
         _gk_3 = (long)(a3);                                                  \
    __asm__ __volatile__ (_GK_HC_CALL                                         \
        : "=a" (_gk_res), "+D" (_gk_1), "+S" (_gk_2), "+d" (_gk_3)            \
        : "0" ((long)(nr)), [_gk_off] "i" ((nr) * 32)                         \
        : "r10", "r8", "rcx", "r11", "memory");                               \
    _gk_res;                                                                  \
})

/* r10 and r8 have no constraint letter: bind them with register variables,
 * assigned only after every argument expression has been evaluated. */
#define _hypercall4(nr, a1, a2, a3, a4) __extension__ ({                      \
    _GK_HC_CHECK(nr);                                                         \
    long _gk_res, _gk_1 = (long)(a1), _gk_2 = (long)(a2),                     \
         _gk_3 = (long)(a3), _gk_t4 = (long)(a4);                             \
    register long _gk_4 __asm__("r10") = _gk_t4;                              \
    __asm__ __volatile__ (_GK_HC_CALL                                         \
        : "=a" (_gk_res), "+D" (_gk_1), "+S" (_gk_2), "+d" (_gk_3),           \
          "+r" (_gk_4)                                                        \
        : "0" ((long)(nr)), [_gk_off] "i" ((nr) * 32)                         \
        : "r8", "rcx", "r11", "memory");                                      \
    _gk_res;                                                                  \
})

#define _hypercall5(nr, a1, a2, a3, a4, a5) __extension__ ({                  \
    _GK_HC_CHECK(nr);                                                         \
    long _gk_res, _gk_1 = (long)(a1), _gk_2 = (long)(a2),                     \
         _gk_3 = (long)(a3), _gk_t4 = (long)(a4), _gk_t5 = (long)(a5);        \
    register long _gk_4 __asm__("r10") = _gk_t4;                              \
    register long _gk_5 __asm__("r8") = _gk_t5;                               \
    __asm__ __volatile__ (_GK_HC_CALL                                         \
        : "=a" (_gk_res), "+D" (_gk_1), "+S" (_gk_2), "+d" (_gk_3),           \
          "+r" (_gk_4), "+r" (_gk_5)                                          \
        : "0" ((long)(nr)), [_gk_off] "i" ((nr) * 32)                         \
        : "rcx", "r11", "memory");                                            \
    _gk_res;                                                                  \
})

/*
 * Hypercall `nr` (any 64-bit value, including ones beyond the page's 128
 * slots or with high bits set) by an inline SYSCALL, as Linux >= 6.13 does.
 * Unused arguments may be passed as 0.
 */
static inline long guestkit_raw_syscall5(unsigned long nr, long a1, long a2,
                                         long a3, long a4, long a5)
{
    long res;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    __asm__ __volatile__ ("syscall"
        : "=a" (res), "+D" (a1), "+S" (a2), "+d" (a3), "+r" (r10), "+r" (r8)
        : "0" (nr)
        : "rcx", "r11", "memory");
    return res;
}

/* ---- typed wrappers for the hypercalls GuestKit uses ------------------- */

/* console_io(cmd, count, buffer): CONSOLEIO_write -> 0,
 * CONSOLEIO_read -> bytes read. */
static inline int HYPERVISOR_console_io(int cmd, int count, char *buf)
{
    return (int)_hypercall3(__HYPERVISOR_console_io, cmd, count, buf);
}

/* xen_version(cmd, arg): see <xen/version.h>. */
static inline int HYPERVISOR_xen_version(int cmd, void *arg)
{
    return (int)_hypercall2(__HYPERVISOR_xen_version, cmd, arg);
}

/* sched_op(cmd, arg): see <xen/sched.h>. */
static inline int HYPERVISOR_sched_op(int cmd, void *arg)
{
    return (int)_hypercall2(__HYPERVISOR_sched_op, cmd, arg);
}

/* set_trap_table(table): table of struct trap_info ending with address 0
 * (<xen/arch-x86_64.h>); NULL clears the virtual IDT. */
static inline int HYPERVISOR_set_trap_table(const struct trap_info *table)
{
    return (int)_hypercall1(__HYPERVISOR_set_trap_table, table);
}

/* set_callbacks(event, failsafe, syscall): the older form of callback_op
 * registration, all three with flags 0. Returns 0. */
static inline int HYPERVISOR_set_callbacks(unsigned long event_address,
                                           unsigned long failsafe_address,
                                           unsigned long syscall_address)
{
    return (int)_hypercall3(__HYPERVISOR_set_callbacks, event_address,
                            failsafe_address, syscall_address);
}

/* callback_op(cmd, arg): see <xen/callback.h>. */
static inline int HYPERVISOR_callback_op(int cmd, const void *arg)
{
    return (int)_hypercall2(__HYPERVISOR_callback_op, cmd, arg);
}

/* stack_switch(ss, sp): the kernel stack used when an event or exception
 * arrives in guest-user mode. Returns 0. */
static inline int HYPERVISOR_stack_switch(unsigned long ss, unsigned long sp)
{
    return (int)_hypercall2(__HYPERVISOR_stack_switch, ss, sp);
}

/* fpu_taskswitch(set): set != 0 sets CR0.TS (the next x87/SSE instruction
 * raises #NM), 0 clears it. Returns 0. */
static inline int HYPERVISOR_fpu_taskswitch(int set)
{
    return (int)_hypercall1(__HYPERVISOR_fpu_taskswitch, set);
}

/* vm_assist(cmd, type): VMASST_CMD_* and VMASST_TYPE_* (<xen/xen.h>). */
static inline int HYPERVISOR_vm_assist(unsigned int cmd, unsigned int type)
{
    return (int)_hypercall2(__HYPERVISOR_vm_assist, cmd, type);
}

/* set_segment_base(which, base): SEGBASE_* (<xen/arch-x86_64.h>). */
static inline int HYPERVISOR_set_segment_base(int which, unsigned long base)
{
    return (int)_hypercall2(__HYPERVISOR_set_segment_base, which, base);
}

/* update_va_mapping(va, pte, flags): rewrite the L1 entry mapping `va`;
 * flags UVMF_* (<xen/xen.h>). */
static inline int HYPERVISOR_update_va_mapping(unsigned long va, uint64_t pte,
                                               unsigned long flags)
{
    return (int)_hypercall3(__HYPERVISOR_update_va_mapping, va, pte, flags);
}

/* mmu_update(reqs, count, pdone, foreigndom): `count` checked page-table
 * writes (MMU_* in <xen/xen.h>); *pdone (if not NULL) = requests done.
 * foreigndom DOMID_SELF for one's own frames. */
static inline int HYPERVISOR_mmu_update(const struct mmu_update *reqs, unsigned int count,
                                        unsigned int *pdone, unsigned int foreigndom)
{
    return (int)_hypercall4(__HYPERVISOR_mmu_update, reqs, count, pdone, foreigndom);
}

/* mmuext_op(ops, count, pdone, foreigndom): pin/unpin tables, new base
 * pointers, TLB flushes (MMUEXT_* in <xen/xen.h>). */
static inline int HYPERVISOR_mmuext_op(const struct mmuext_op *ops, unsigned int count,
                                       unsigned int *pdone, unsigned int foreigndom)
{
    return (int)_hypercall4(__HYPERVISOR_mmuext_op, ops, count, pdone, foreigndom);
}

/* memory_op(cmd, arg): see <xen/memory.h>. Reservation ops return the
 * number of extents done, the reservation queries a page count. */
static inline long HYPERVISOR_memory_op(unsigned int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_memory_op, cmd, arg);
}

/* event_channel_op(cmd, arg): see <xen/event_channel.h>. */
/* multicall(list, nr): the calls run in order; each result lands in its entry. */
static inline int HYPERVISOR_multicall(multicall_entry_t *list, unsigned int nr)
{
    return (int)_hypercall2(__HYPERVISOR_multicall, list, nr);
}

static inline int HYPERVISOR_event_channel_op(int cmd, void *arg)
{
    return (int)_hypercall2(__HYPERVISOR_event_channel_op, cmd, arg);
}

/* grant_table_op(cmd, uop, count): `count` structs of GNTTABOP_* `cmd`'s
 * type at uop (<xen/grant_table.h>). 0 when the batch was processed (each
 * struct has its own status), else -XEN_Exxx for the whole call. */
static inline int HYPERVISOR_grant_table_op(unsigned int cmd, void *uop, unsigned int count)
{
    return (int)_hypercall3(__HYPERVISOR_grant_table_op, cmd, uop, count);
}

/* set_timer_op(deadline): one VIRQ_TIMER at absolute system time
 * `deadline` (ns); 0 cancels. */
static inline int HYPERVISOR_set_timer_op(uint64_t deadline)
{
    return (int)_hypercall1(__HYPERVISOR_set_timer_op, deadline);
}

/* vcpu_op(cmd, vcpuid, arg): see <xen/vcpu.h>. */
static inline int HYPERVISOR_vcpu_op(int cmd, unsigned int vcpuid, void *arg)
{
    return (int)_hypercall3(__HYPERVISOR_vcpu_op, cmd, vcpuid, arg);
}

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_HYPERCALL_H */
