/*
 * traps - exception delivery, the bounce frame, the iret hypercall and the
 * hypervisor's emulation of privileged instructions, at CPL3.
 *
 * With events enabled, provokes #DE #DB #BP #OF #BR #UD #NM #GP #PF #MF #AC
 * #XM one after the other. Each probe (assembly below) records its stack
 * pointer and has a label at the instruction expected to be reported and
 * one to resume at; the handler checks vector, error code, rip, rsp, the
 * frame's place on the stack, cs/ss, that events were masked on entry and
 * enabled in the interrupted context, cr2 for #PF, then moves rip on. After
 * each probe the event mask must be back to 0 (the iret hypercall).
 *
 * Then checks instructions the hypervisor emulates: wrmsr/rdmsr of the FS,
 * GS and shadow GS bases, %fs:0 / %gs:0 after them and after
 * set_segment_base, cpuid leaf 0, mov from %cr0, inb from port 0x80.
 *
 * Output: one line per case, `traps: <name> vector <n> ok` /
 * `traps: <check> ok`, or `... FAILED: <why>`; finally poweroff, or crash
 * if anything failed.
 */
#include <guestkit/guestkit.h>

#define P "traps: "

#define MSR_FS_BASE         0xc0000100u
#define MSR_GS_BASE         0xc0000101u
#define MSR_SHADOW_GS_BASE  0xc0000102u

#define CR0_PE              (1UL << 0)
#define CR0_PG              (1UL << 31)

#define UNMAPPED_VA         0x200000UL   /* below the image: never mapped */

/* ---- probes ----------------------------------------------------------------
 *
 * Each probe_X stores %rsp in probe_rsp right before the instruction that
 * traps (so it equals the frame's rsp), marks that instruction with
 * X_fault and where to continue with X_resume. For traps (#DB, #BP, int n)
 * the reported rip is the next instruction, X_resume itself.
 */
uint64_t probe_rsp;

__asm__(
    "   .pushsection .text.probes, \"ax\", @progbits\n"

    /* #DE: 1 / 0 */
    "   .globl probe_de, de_fault, de_resume\n"
    "probe_de:\n"
    "   movl $1, %eax\n"
    "   xorl %edx, %edx\n"
    "   xorl %ecx, %ecx\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "de_fault:\n"
    "   divl %ecx\n"
    "de_resume:\n"
    "   ret\n"

    /* #DB: set TF with popf; the trap comes after the instruction that
     * follows the popf */
    "   .globl probe_db, db_resume\n"
    "probe_db:\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "   pushfq\n"
    "   orq $0x100, (%rsp)\n"
    "   popfq\n"
    "   nop\n"
    "db_resume:\n"
    "   ret\n"

    /* #BP: int3 */
    "   .globl probe_bp, bp_resume\n"
    "probe_bp:\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "   int3\n"
    "bp_resume:\n"
    "   ret\n"

    /* #OF: `into` does not exist in 64-bit mode; int $4 (DPL 3) */
    "   .globl probe_of, of_resume\n"
    "probe_of:\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "   int $4\n"
    "of_resume:\n"
    "   ret\n"

    /* #BR: `bound` does not exist in 64-bit mode; int $5 (DPL 3) */
    "   .globl probe_br, br_resume\n"
    "probe_br:\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "   int $5\n"
    "br_resume:\n"
    "   ret\n"

    /* #UD: ud2 */
    "   .globl probe_ud, ud_fault, ud_resume\n"
    "probe_ud:\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "ud_fault:\n"
    "   ud2\n"
    "ud_resume:\n"
    "   ret\n"

    /* #NM: fpu_taskswitch(1), then the first SSE instruction. The handler
     * clears TS and lets it run again; returns 2.0f's bits. */
    "   .globl probe_nm, nm_fault\n"
    "probe_nm:\n"
    "   movl $1, %edi\n"
    "   call hypercall_page + 5 * 32\n" /* fpu_taskswitch */
    "   movl $0x3f800000, %eax\n"       /* 1.0f */
    "   movq %rsp, probe_rsp(%rip)\n"
    "nm_fault:\n"
    "   movd %eax, %xmm0\n"
    "   addss %xmm0, %xmm0\n"
    "   movd %xmm0, %eax\n"
    "   ret\n"

    /* #GP: lgdt is privileged and not emulated */
    "   .globl probe_gp, gp_fault, gp_resume\n"
    "probe_gp:\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "gp_fault:\n"
    "   lgdt dummy_gdtr(%rip)\n"
    "gp_resume:\n"
    "   ret\n"

    /* #PF: read an unmapped address */
    "   .globl probe_pf, pf_fault, pf_resume\n"
    "probe_pf:\n"
    "   movl $0x200000, %ecx\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "pf_fault:\n"
    "   movq (%rcx), %rax\n"
    "pf_resume:\n"
    "   ret\n"

    /* #MF: unmask x87 zero-divide, 1 / 0, then fwait reports it */
    "   .globl probe_mf, mf_fault, mf_resume\n"
    "probe_mf:\n"
    "   fninit\n"
    "   fldcw mf_control(%rip)\n"
    "   fldz\n"
    "   fld1\n"
    "   fdiv %st(1), %st\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "mf_fault:\n"
    "   fwait\n"
    "mf_resume:\n"
    "   fninit\n"
    "   ret\n"

    /* #AC: RFLAGS.AC (CR0.AM is the hypervisor's), misaligned 8-byte load */
    "   .globl probe_ac, ac_fault, ac_resume\n"
    "probe_ac:\n"
    "   leaq ac_buffer+1(%rip), %rcx\n"
    "   pushfq\n"
    "   orl $0x40000, (%rsp)\n"
    "   popfq\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "ac_fault:\n"
    "   movq (%rcx), %rax\n"
    "ac_resume:\n"
    "   pushfq\n"
    "   andl $~0x40000, (%rsp)\n"
    "   popfq\n"
    "   ret\n"

    /* #XM: unmask SSE zero-divide, 1.0f / 0.0f */
    "   .globl probe_xm, xm_fault, xm_resume\n"
    "probe_xm:\n"
    "   stmxcsr xm_saved(%rip)\n"
    "   movl xm_saved(%rip), %eax\n"
    "   andl $~0x200, %eax\n"           /* ZM */
    "   movl %eax, xm_unmasked(%rip)\n"
    "   ldmxcsr xm_unmasked(%rip)\n"
    "   movl $0x3f800000, %eax\n"
    "   movd %eax, %xmm0\n"
    "   xorps %xmm1, %xmm1\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "xm_fault:\n"
    "   divss %xmm1, %xmm0\n"
    "xm_resume:\n"
    "   ldmxcsr xm_saved(%rip)\n"
    "   ret\n"

    /* ---- instructions the hypervisor emulates (no trap expected) ---- */

    /* probe_wrmsr(msr, value) */
    "   .globl probe_wrmsr, wrmsr_fault, wrmsr_resume\n"
    "probe_wrmsr:\n"
    "   movl %edi, %ecx\n"
    "   movl %esi, %eax\n"
    "   movq %rsi, %rdx\n"
    "   shrq $32, %rdx\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "wrmsr_fault:\n"
    "   wrmsr\n"
    "wrmsr_resume:\n"
    "   ret\n"

    /* probe_rdmsr(msr) -> value */
    "   .globl probe_rdmsr, rdmsr_fault, rdmsr_resume\n"
    "probe_rdmsr:\n"
    "   movl %edi, %ecx\n"
    "   xorl %eax, %eax\n"
    "   xorl %edx, %edx\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "rdmsr_fault:\n"
    "   rdmsr\n"
    "rdmsr_resume:\n"
    "   shlq $32, %rdx\n"
    "   orq %rdx, %rax\n"
    "   ret\n"

    /* probe_fs_read() / probe_gs_read(): the quadword at fs:0 / gs:0 */
    "   .globl probe_fs_read, fs_fault, fs_resume\n"
    "probe_fs_read:\n"
    "   xorl %eax, %eax\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "fs_fault:\n"
    "   movq %fs:0, %rax\n"
    "fs_resume:\n"
    "   ret\n"
    "   .globl probe_gs_read, gs_fault, gs_resume\n"
    "probe_gs_read:\n"
    "   xorl %eax, %eax\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "gs_fault:\n"
    "   movq %gs:0, %rax\n"
    "gs_resume:\n"
    "   ret\n"

    /* probe_cpuid(leaf, uint32_t out[4]): eax, ebx, ecx, edx */
    "   .globl probe_cpuid, cpuid_fault, cpuid_resume\n"
    "probe_cpuid:\n"
    "   pushq %rbx\n"
    "   movl %edi, %eax\n"
    "   xorl %ecx, %ecx\n"
    "   movq %rsi, %r8\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "cpuid_fault:\n"
    "   cpuid\n"
    "cpuid_resume:\n"
    "   movl %eax, 0(%r8)\n"
    "   movl %ebx, 4(%r8)\n"
    "   movl %ecx, 8(%r8)\n"
    "   movl %edx, 12(%r8)\n"
    "   popq %rbx\n"
    "   ret\n"

    /* probe_read_cr0() */
    "   .globl probe_read_cr0, cr0_fault, cr0_resume\n"
    "probe_read_cr0:\n"
    "   xorl %eax, %eax\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "cr0_fault:\n"
    "   movq %cr0, %rax\n"
    "cr0_resume:\n"
    "   ret\n"

    /* probe_inb80() */
    "   .globl probe_inb80, inb_fault, inb_resume\n"
    "probe_inb80:\n"
    "   xorl %eax, %eax\n"
    "   movq %rsp, probe_rsp(%rip)\n"
    "inb_fault:\n"
    "   inb $0x80, %al\n"
    "inb_resume:\n"
    "   ret\n"

    "   .popsection\n"
);

/* Data the probes use. */
__attribute__((used)) static const uint16_t mf_control = 0x037b;  /* default 0x037f minus ZM */
__attribute__((used)) static uint32_t xm_saved, xm_unmasked;
__attribute__((used, aligned(16))) static uint8_t ac_buffer[32];
__attribute__((used)) static const struct { uint16_t limit; uint64_t base; } __attribute__((packed))
    dummy_gdtr = { 0, 0 };

void probe_de(void), probe_db(void), probe_bp(void), probe_of(void), probe_br(void);
void probe_ud(void), probe_gp(void), probe_pf(void), probe_mf(void), probe_ac(void);
void probe_xm(void);
uint32_t probe_nm(void);
void probe_wrmsr(uint32_t msr, uint64_t value);
uint64_t probe_rdmsr(uint32_t msr);
uint64_t probe_fs_read(void), probe_gs_read(void);
void probe_cpuid(uint32_t leaf, uint32_t out[4]);
uint64_t probe_read_cr0(void);
uint8_t probe_inb80(void);

extern char de_fault[], de_resume[], db_resume[], bp_resume[], of_resume[], br_resume[];
extern char ud_fault[], ud_resume[], nm_fault[], gp_fault[], gp_resume[];
extern char pf_fault[], pf_resume[], mf_fault[], mf_resume[], ac_fault[], ac_resume[];
extern char xm_fault[], xm_resume[];
extern char wrmsr_fault[], wrmsr_resume[], rdmsr_fault[], rdmsr_resume[];
extern char fs_fault[], fs_resume[], gs_fault[], gs_resume[];
extern char cpuid_fault[], cpuid_resume[], cr0_fault[], cr0_resume[];
extern char inb_fault[], inb_resume[];

/* ---- expectations ------------------------------------------------------------ */

#define NO_TRAP (-1)

struct expect {
    const char *name;
    int vector;                 /* NO_TRAP: the instruction must not trap */
    int has_error_code;         /* check error_code against error_code */
    uint64_t error_code;
    const char *fault_rip;      /* frame.rip expected */
    const char *resume_rip;     /* where the handler continues */
    uint64_t cr2;               /* #PF only */
    int hits;
    int failed;
};

static struct expect *current;
static int failures;

static void fail(struct expect *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct expect *e, const char *fmt, ...)
{
    va_list ap;
    gk_printf(P "%s FAILED: ", e->name);
    va_start(ap, fmt);
    gk_vprintf(fmt, ap);
    va_end(ap);
    gk_printf("\n");
    e->failed = 1;
}

/* The frame: rip..ss on the interrupted stack, the top rounded down to 16
 * bytes with no red zone, so ss sits just below (rsp & ~15). */
static void check_frame(struct expect *e, const struct gk_trap_frame *f)
{
    if (f->rip != (uint64_t)e->fault_rip)
        fail(e, "rip 0x%lx, expected 0x%lx", f->rip, (uint64_t)e->fault_rip);
    if (f->rsp != probe_rsp)
        fail(e, "rsp 0x%lx, expected 0x%lx", f->rsp, probe_rsp);
    uint64_t expect_ss_slot = (probe_rsp & ~15UL) - 8;
    if ((uint64_t)&f->ss != expect_ss_slot)
        fail(e, "frame top (ss slot) at 0x%lx, expected 0x%lx", (uint64_t)&f->ss, expect_ss_slot);
    if ((f->cs & 0xfffc) != (FLAT_KERNEL_CS & 0xfffc))
        fail(e, "cs 0x%lx, expected FLAT_KERNEL_CS 0x%x with RPL 0", f->cs, FLAT_KERNEL_CS);
    if ((f->ss & 0xffff) != FLAT_KERNEL_SS)
        fail(e, "ss 0x%lx, expected 0x%x", f->ss, FLAT_KERNEL_SS);
    if (!(f->rflags & GK_RFLAGS_IF))
        fail(e, "rflags 0x%lx: IF clear, but events were enabled", f->rflags);
    if (gk_vcpu_info->evtchn_upcall_mask != 1)
        fail(e, "handler entered with evtchn_upcall_mask %u (trap_info flags bit 2 asks for 1)",
             gk_vcpu_info->evtchn_upcall_mask);
    if (e->has_error_code && f->error_code != e->error_code)
        fail(e, "error code 0x%lx, expected 0x%lx", f->error_code, e->error_code);
    if (e->vector == GK_TRAP_PF && gk_vcpu_info->arch.cr2 != e->cr2)
        fail(e, "vcpu_info.arch.cr2 0x%lx, expected 0x%lx", gk_vcpu_info->arch.cr2, e->cr2);
}

static void on_trap(struct gk_trap_frame *f)
{
    struct expect *e = current;

    if (!e) {
        gk_printf(P "unexpected exception outside any probe\n");
        gk_trap_dump(f);
        gk_shutdown(SHUTDOWN_crash);
    }
    e->hits++;

    if (e->vector == NO_TRAP) {
        fail(e, "%s (vector %lu): the hypervisor did not emulate it", gk_trap_name(f->vector), f->vector);
        gk_printf(P "%s: rip 0x%lx error 0x%lx\n", e->name, f->rip, f->error_code);
        f->rip = (uint64_t)e->resume_rip;
        return;
    }
    if ((int)f->vector != e->vector) {
        fail(e, "got vector %lu (%s)", f->vector, gk_trap_name(f->vector));
        if (e->vector == GK_TRAP_XM && f->vector == GK_TRAP_UD)
            gk_printf(P "#XM: #UD instead means CR4.OSXMMEXCPT is clear\n");
        gk_trap_dump(f);
        if (f->rip != (uint64_t)e->fault_rip) {
            gk_printf(P "cannot resume safely\n");
            gk_shutdown(SHUTDOWN_crash);
        }
        f->rip = (uint64_t)e->resume_rip;
        return;
    }

    check_frame(e, f);

    switch (f->vector) {
    case GK_TRAP_DB:
        f->rflags &= ~GK_RFLAGS_TF;             /* stop single-stepping */
        break;
    case GK_TRAP_AC:
        f->rflags &= ~GK_RFLAGS_AC;
        break;
    case GK_TRAP_MF:
        if (!f->fpu) {
            fail(e, "no saved FPU state");
        } else {
            if (!(f->fpu->fsw & (1 << 2)))     /* ZE */
                fail(e, "x87 status word 0x%x lacks ZE", f->fpu->fsw);
            f->fpu->fsw &= 0x7f00;              /* what fnclex clears */
            f->fpu->fcw |= 0x3f;                /* mask all again */
        }
        break;
    case GK_TRAP_XM:
        if (!f->fpu) {
            fail(e, "no saved FPU state");
        } else {
            if (!(f->fpu->mxcsr & (1 << 2)))   /* ZE */
                fail(e, "mxcsr 0x%x lacks ZE", f->fpu->mxcsr);
            f->fpu->mxcsr = (f->fpu->mxcsr & ~0x3fU) | 0x200;   /* flags off, ZM on */
        }
        break;
    case GK_TRAP_NM:
        if (f->fpu)
            fail(e, "#NM frame has an FPU image");
        if (e->hits > 1) {
            /* TS still set after fpu_taskswitch(0): do not loop. */
            fail(e, "#NM again after fpu_taskswitch(0)");
            gk_shutdown(SHUTDOWN_crash);
        }
        return;                                 /* run the instruction again */
    }
    f->rip = (uint64_t)e->resume_rip;
}

/* #NM arrives with CR0.TS set and no FPU state saved: clear TS before
 * anything (C code may use SSE), then the common checks. */
static void on_nm(struct gk_trap_frame *f)
{
    HYPERVISOR_fpu_taskswitch(0);
    on_trap(f);
}

/* ---- running a case ------------------------------------------------------------ */

static void finish(struct expect *e, int want_hits)
{
    current = NULL;
    if (e->hits != want_hits) {
        gk_printf(P "%s FAILED: handler ran %d times, expected %d\n", e->name, e->hits, want_hits);
        e->failed = 1;
    }
    if (gk_vcpu_info->evtchn_upcall_mask != 0) {
        gk_printf(P "%s FAILED: evtchn_upcall_mask %u after return (iret must restore 0)\n",
                  e->name, gk_vcpu_info->evtchn_upcall_mask);
        gk_vcpu_info->evtchn_upcall_mask = 0;
        e->failed = 1;
    }
    if (e->failed)
        failures++;
}

static void exception_case(struct expect e, void (*probe)(void))
{
    current = &e;
    probe();
    if (e.hits == 0 && e.vector == GK_TRAP_AC)
        gk_printf(P "#AC: no exception means CR0.AM is clear\n");
    finish(&e, 1);
    if (!e.failed)
        gk_printf(P "%s vector %d ok\n", e.name, e.vector);
}

static void exceptions(void)
{
    exception_case((struct expect){ .name = "#DE", .vector = GK_TRAP_DE, .has_error_code = 1,
                                    .fault_rip = de_fault, .resume_rip = de_resume }, probe_de);
    exception_case((struct expect){ .name = "#DB", .vector = GK_TRAP_DB, .has_error_code = 1,
                                    .fault_rip = db_resume, .resume_rip = db_resume }, probe_db);
    exception_case((struct expect){ .name = "#BP", .vector = GK_TRAP_BP, .has_error_code = 1,
                                    .fault_rip = bp_resume, .resume_rip = bp_resume }, probe_bp);
    exception_case((struct expect){ .name = "#OF", .vector = GK_TRAP_OF, .has_error_code = 1,
                                    .fault_rip = of_resume, .resume_rip = of_resume }, probe_of);
    exception_case((struct expect){ .name = "#BR", .vector = GK_TRAP_BR, .has_error_code = 1,
                                    .fault_rip = br_resume, .resume_rip = br_resume }, probe_br);
    exception_case((struct expect){ .name = "#UD", .vector = GK_TRAP_UD, .has_error_code = 1,
                                    .fault_rip = ud_fault, .resume_rip = ud_resume }, probe_ud);

    /* #NM: the faulting instruction runs again once TS is clear. */
    struct expect nm = { .name = "#NM", .vector = GK_TRAP_NM, .has_error_code = 1,
                         .fault_rip = nm_fault, .resume_rip = nm_fault };
    current = &nm;
    uint32_t two = probe_nm();
    if (two != 0x40000000u) {                   /* 2.0f */
        gk_printf(P "#NM FAILED: 1.0f + 1.0f gave bits 0x%x after the retry\n", two);
        nm.failed = 1;
    }
    if (nm.hits == 0 && !nm.failed) {
        /* Some platforms run CPL 3 code with the host's CR0 (a software KVM backend does): CR0.TS is then
         * virtual only. fpu_taskswitch still set it (mov %cr0 shows it below); say so instead of failing. */
        current = NULL;
        uint64_t cr0;
        __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
        HYPERVISOR_fpu_taskswitch(0);
        gk_printf(P "#NM not raised: this platform does not enforce CR0.TS at CPL 3 (virtual TS was %s)\n",
                  (cr0 & 8) ? "set" : "CLEAR - FAILED");
        if (!(cr0 & 8))
            failures++;
    } else {
        finish(&nm, 1);
        if (!nm.failed)
            gk_printf(P "#NM vector %d ok\n", nm.vector);
    }

    exception_case((struct expect){ .name = "#GP", .vector = GK_TRAP_GP, .has_error_code = 1,
                                    .error_code = 0, .fault_rip = gp_fault, .resume_rip = gp_resume }, probe_gp);
    /* Read, not present, guest-kernel mode (U/S is "was the guest in user
     * mode", not the CPL): error code 0. */
    exception_case((struct expect){ .name = "#PF", .vector = GK_TRAP_PF, .has_error_code = 1,
                                    .error_code = 0, .cr2 = UNMAPPED_VA,
                                    .fault_rip = pf_fault, .resume_rip = pf_resume }, probe_pf);
    exception_case((struct expect){ .name = "#MF", .vector = GK_TRAP_MF, .has_error_code = 1,
                                    .fault_rip = mf_fault, .resume_rip = mf_resume }, probe_mf);
    exception_case((struct expect){ .name = "#AC", .vector = GK_TRAP_AC, .has_error_code = 1,
                                    .error_code = 0, .fault_rip = ac_fault, .resume_rip = ac_resume }, probe_ac);
    exception_case((struct expect){ .name = "#XM", .vector = GK_TRAP_XM, .has_error_code = 1,
                                    .fault_rip = xm_fault, .resume_rip = xm_resume }, probe_xm);
}

/* ---- emulated instructions ------------------------------------------------------ */

static struct expect no_trap(const char *name, const char *fault, const char *resume)
{
    return (struct expect){ .name = name, .vector = NO_TRAP, .fault_rip = fault, .resume_rip = resume };
}

static void check(struct expect *e, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(struct expect *e, int ok, const char *fmt, ...)
{
    va_list ap;
    if (ok)
        return;
    gk_printf(P "%s FAILED: ", e->name);
    va_start(ap, fmt);
    gk_vprintf(fmt, ap);
    va_end(ap);
    gk_printf("\n");
    e->failed = 1;
}

static void report(struct expect *e, const char *what)
{
    finish(e, 0);
    if (!e->failed)
        gk_printf(P "%s ok\n", what);
}

/* wrmsr then rdmsr of `msr`; returns the value read. */
static uint64_t msr_round_trip(struct expect *e, uint32_t msr, uint64_t value)
{
    struct expect w = no_trap(e->name, wrmsr_fault, wrmsr_resume);
    current = &w;
    probe_wrmsr(msr, value);
    current = NULL;
    struct expect r = no_trap(e->name, rdmsr_fault, rdmsr_resume);
    current = &r;
    uint64_t got = probe_rdmsr(msr);
    current = NULL;
    e->hits += w.hits + r.hits;
    e->failed |= w.failed | r.failed;
    check(e, got == value, "rdmsr gave 0x%lx after wrmsr of 0x%lx", got, value);
    return got;
}

/* One probe read of %fs:0 or %gs:0 that must not trap, counted into `e`. */
static uint64_t read_seg0(struct expect *e, uint64_t (*probe)(void), char *fault, char *resume)
{
    struct expect x = no_trap(e->name, fault, resume);
    current = &x;
    uint64_t v = probe();
    current = NULL;
    e->hits += x.hits;
    e->failed |= x.failed;
    return v;
}

static uint64_t read_fs0(struct expect *e) { return read_seg0(e, probe_fs_read, fs_fault, fs_resume); }
static uint64_t read_gs0(struct expect *e) { return read_seg0(e, probe_gs_read, gs_fault, gs_resume); }

static uint64_t fs_target[2] = { 0x1111222233334444UL, 0x5555666677778888UL };
static uint64_t gs_target[2] = { 0x99990000aaaabbbbUL, 0xccccddddeeeeffffUL };

static void emulated(void)
{
    struct expect e;

    e = no_trap("wrmsr/rdmsr FS_BASE", NULL, NULL);
    msr_round_trip(&e, MSR_FS_BASE, (uint64_t)&fs_target[0]);
    uint64_t v = read_fs0(&e);
    check(&e, v == fs_target[0], "%%fs:0 read 0x%lx, expected 0x%lx", v, fs_target[0]);
    report(&e, "wrmsr/rdmsr FS_BASE, %fs:0");

    e = no_trap("set_segment_base(SEGBASE_FS)", NULL, NULL);
    int rc = HYPERVISOR_set_segment_base(SEGBASE_FS, (unsigned long)&fs_target[1]);
    check(&e, rc == 0, "returned %d", rc);
    v = read_fs0(&e);
    check(&e, v == fs_target[1], "%%fs:0 read 0x%lx, expected 0x%lx", v, fs_target[1]);
    struct expect r = no_trap(e.name, rdmsr_fault, rdmsr_resume);
    current = &r;
    v = probe_rdmsr(MSR_FS_BASE);
    current = NULL;
    e.hits += r.hits;
    e.failed |= r.failed;
    check(&e, v == (uint64_t)&fs_target[1], "rdmsr FS_BASE gave 0x%lx, expected 0x%lx", v, (uint64_t)&fs_target[1]);
    HYPERVISOR_set_segment_base(SEGBASE_FS, 0);
    report(&e, "set_segment_base(SEGBASE_FS), %fs:0");

    e = no_trap("wrmsr/rdmsr GS_BASE", NULL, NULL);
    msr_round_trip(&e, MSR_GS_BASE, (uint64_t)&gs_target[0]);
    v = read_gs0(&e);
    check(&e, v == gs_target[0], "%%gs:0 read 0x%lx, expected 0x%lx", v, gs_target[0]);
    struct expect w = no_trap(e.name, wrmsr_fault, wrmsr_resume);
    current = &w;
    probe_wrmsr(MSR_GS_BASE, 0);
    current = NULL;
    e.hits += w.hits;
    e.failed |= w.failed;
    report(&e, "wrmsr/rdmsr GS_BASE, %gs:0");

    e = no_trap("wrmsr/rdmsr SHADOW_GS_BASE", NULL, NULL);
    msr_round_trip(&e, MSR_SHADOW_GS_BASE, (uint64_t)&gs_target[1]);
    w = no_trap(e.name, wrmsr_fault, wrmsr_resume);
    current = &w;
    probe_wrmsr(MSR_SHADOW_GS_BASE, 0);
    current = NULL;
    e.hits += w.hits;
    e.failed |= w.failed;
    report(&e, "wrmsr/rdmsr SHADOW_GS_BASE");

    uint32_t id[4] = { 0, 0, 0, 0 };
    e = no_trap("cpuid", cpuid_fault, cpuid_resume);
    current = &e;
    probe_cpuid(0, id);
    char vendor[13];
    memcpy(vendor + 0, &id[1], 4);      /* ebx, edx, ecx */
    memcpy(vendor + 4, &id[3], 4);
    memcpy(vendor + 8, &id[2], 4);
    vendor[12] = '\0';
    int printable = 1;
    for (int i = 0; i < 12; i++)
        printable &= vendor[i] >= 0x20 && vendor[i] < 0x7f;
    check(&e, id[0] >= 1, "leaf 0 reports max leaf %u", id[0]);
    check(&e, printable, "vendor string not printable (ebx 0x%x edx 0x%x)", id[1], id[3]);
    if (!e.failed)
        gk_printf(P "cpuid leaf 0: max leaf 0x%x, vendor \"%s\"\n", id[0], vendor);
    report(&e, "cpuid leaf 0");

    e = no_trap("mov %cr0", cr0_fault, cr0_resume);
    current = &e;
    uint64_t cr0 = probe_read_cr0();
    check(&e, (cr0 & (CR0_PG | CR0_PE)) == (CR0_PG | CR0_PE), "cr0 0x%lx lacks PG or PE", cr0);
    if (!e.failed)
        gk_printf(P "mov %%cr0 = 0x%lx\n", cr0);
    report(&e, "mov %cr0 (PG and PE set)");

    e = no_trap("inb $0x80", inb_fault, inb_resume);
    current = &e;
    uint8_t port80 = probe_inb80();
    check(&e, port80 == 0xff, "read 0x%x, expected 0xff (no access: all ones)", port80);
    report(&e, "inb $0x80 = 0xff");
}

/* --------------------------------------------------------------------------------- */

static const unsigned int tested[] = {
    GK_TRAP_DE, GK_TRAP_DB, GK_TRAP_BP, GK_TRAP_OF, GK_TRAP_BR, GK_TRAP_UD,
    GK_TRAP_GP, GK_TRAP_PF, GK_TRAP_MF, GK_TRAP_AC, GK_TRAP_XM,
};

/* ---- the guest's own GDT (set_gdt, update_descriptor) ------------------------------ */

static uint8_t gdt_page[4096] __attribute__((aligned(4096)));
static volatile uint64_t gdt_target[2] = { 0x5e6d5e6d5e6d5e6dULL, 0 };

/* Machine frame behind one of our own pages (the p2m list from start_info). */
static uint64_t mfn_of(const void *va)
{
    const uint64_t *p2m = (const uint64_t *)gk_start_info->mfn_list;
    return p2m[((uint64_t)va - 0x400000) >> 12];
}

/* A flat 32-bit data descriptor with `base`, DPL 3, present, read/write. */
static uint64_t data_descriptor(uint32_t base)
{
    uint64_t b = base;
    return 0xffffULL | (b & 0xffffff) << 16 | 0xf2ULL << 40 | 0xcfULL << 48 | (b >> 24) << 56;
}

static void descriptor_tables(void)
{
    uint64_t mfn = mfn_of(gdt_page);
    long rc = _hypercall2(__HYPERVISOR_set_gdt, &mfn, 512);
    if (rc != -XEN_EINVAL) {
        gk_printf(P "set_gdt of a writable page gave %ld, expected -EINVAL FAILED\n", rc);
        failures++;
        return;
    }
    /* Xen's rule: a GDT frame is mapped nowhere writable. Remap ours read-only first. */
    rc = HYPERVISOR_update_va_mapping((unsigned long)gdt_page, (mfn << 12) | 5 /* present, user */, UVMF_INVLPG);
    if (rc == 0)
        rc = _hypercall2(__HYPERVISOR_set_gdt, &mfn, 512);
    if (rc == 0)   /* entry 3 (selector 0x1b): a data segment whose base is gdt_target */
        rc = _hypercall2(__HYPERVISOR_update_descriptor, (mfn << 12) + 3 * 8, data_descriptor((uint32_t)(uint64_t)gdt_target));
    if (rc != 0) {
        gk_printf(P "set_gdt/update_descriptor FAILED: %ld\n", rc);
        failures++;
        return;
    }
    /* Loading %fs from our own descriptor takes its base (64-bit mode loads the low 32 bits). */
    uint64_t got;
    __asm__ volatile("mov %1, %%fs; movq %%fs:0, %0; xor %%eax, %%eax; mov %%eax, %%fs"
                     : "=r"(got) : "r"(0x1b) : "rax", "memory");
    if (got != gdt_target[0]) {
        gk_printf(P "%%fs:0 through GDT entry 3 read 0x%lx FAILED\n", got);
        failures++;
        return;
    }
    gk_printf(P "set_gdt + update_descriptor: %%fs from our own GDT entry ok\n");
}

/* ---- guest user mode (same page tables, as XTF runs): iret to CPL 3 "user", user SYSCALL -------- */

static uint8_t user_stack[4096] __attribute__((aligned(16)));
static uint8_t entry_stack[8192] __attribute__((aligned(16)));   /* kernel stack for entries from user mode */
static volatile uint64_t user_syscalls, user_gs_read, user_ud_cs;
static uint64_t user_gs_word = 0x0123456789abcdefULL;
uint64_t saved_kernel_rsp;
void enter_user_mode(uint64_t rip, uint64_t rsp);
void user_syscall_entry(void);
void user_code(void);

__asm__(
    ".pushsection .text\n"
    /* Syscall callback: frame at the kernel stack (RCX R11 RIP CS RFLAGS RSP SS); rax = the call number. */
    "user_syscall_entry:\n"
    "    pop %rcx\n    pop %r11\n"
    "    cmp $1, %eax\n    je 1f\n"
    "    incq user_syscalls(%rip)\n"
    "    pushq $0\n    jmp hypercall_page + 23 * 32\n"        /* iret: back to user after the SYSCALL */
    "1:  mov saved_kernel_rsp(%rip), %rsp\n"                    /* call 1: leave user mode for good */
    "    pop %r15\n    pop %r14\n    pop %r13\n    pop %r12\n    pop %rbp\n    pop %rbx\n    ret\n"
    /* enter_user_mode(rip, rsp): iret to CS 0xe033 (RPL 3 = guest user mode). */
    "enter_user_mode:\n"
    "    push %rbx\n    push %rbp\n    push %r12\n    push %r13\n    push %r14\n    push %r15\n"
    "    mov %rsp, saved_kernel_rsp(%rip)\n"
    "    pushq $0xe02b\n    push %rsi\n    pushq $0x202\n    pushq $0xe033\n    push %rdi\n    pushq $0\n"
    "    jmp hypercall_page + 23 * 32\n"
    /* Runs in guest user mode. */
    "user_code:\n"
    "    mov $7, %eax\n    syscall\n"
    "    mov $7, %eax\n    syscall\n"
    "    mov %gs:0, %rbx\n    mov %rbx, user_gs_read(%rip)\n"
    "    ud2\n"
    "    mov $1, %eax\n    syscall\n"
    "    .popsection\n");

static void on_user_ud(struct gk_trap_frame *f)
{
    user_ud_cs = f->cs & 0xffff;
    f->rip += 2;
}

static void user_mode(void)
{
    uint64_t l4 = mfn_of((const void *)gk_start_info->pt_base);
    struct { uint32_t cmd, pad; uint64_t arg1, arg2; } op = { 15 /* MMUEXT_NEW_USER_BASEPTR */, 0, l4, 0 };
    long rc = _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF);
    struct callback_register cb = { .type = CALLBACKTYPE_syscall, .flags = CALLBACKF_mask_events,
                                    .address = (unsigned long)user_syscall_entry };
    if (rc == 0)
        rc = HYPERVISOR_callback_op(CALLBACKOP_register, &cb);
    if (rc == 0)
        rc = HYPERVISOR_stack_switch(FLAT_KERNEL_SS, (unsigned long)(entry_stack + sizeof entry_stack));
    if (rc == 0)
        rc = HYPERVISOR_set_segment_base(SEGBASE_GS_USER, (unsigned long)&user_gs_word);
    if (rc != 0) {
        gk_printf(P "user mode set-up FAILED: %ld\n", rc);
        failures++;
        return;
    }
    gk_trap_handler_t old = gk_set_trap_handler(GK_TRAP_UD, on_user_ud);
    enter_user_mode((uint64_t)user_code, (uint64_t)(user_stack + sizeof user_stack));
    gk_set_trap_handler(GK_TRAP_UD, old);
    gk_irq_enable();
    if (user_syscalls != 2 || user_gs_read != user_gs_word || user_ud_cs != 0xe033) {
        gk_printf(P "user mode FAILED: %lu syscalls, %%gs:0 0x%lx, #UD cs 0x%lx\n",
                  (unsigned long)user_syscalls, (unsigned long)user_gs_read, (unsigned long)user_ud_cs);
        failures++;
        return;
    }
    gk_printf(P "user mode: 2 syscalls through the callback, user %%gs, #UD from user mode ok\n");
}

void gk_main(void)
{
    gk_printf(P "exceptions, bounce frames and emulated instructions at CPL3\n");

    gk_traps_init();
    for (unsigned int i = 0; i < sizeof(tested) / sizeof(tested[0]); i++)
        gk_set_trap_handler(tested[i], on_trap);
    gk_set_trap_handler(GK_TRAP_NM, on_nm);
    gk_irq_enable();     /* no port is bound: nothing can arrive */

    exceptions();
    if (failures) {
        gk_printf(P "FAILED: %d exception cases\n", failures);
        gk_shutdown(SHUTDOWN_crash);
    }
    gk_printf(P "all exceptions delivered and resumed\n");

    emulated();
    if (failures) {
        gk_printf(P "FAILED: %d emulation checks\n", failures);
        gk_shutdown(SHUTDOWN_crash);
    }
    gk_printf(P "emulated instructions ok\n");

    descriptor_tables();
    if (failures) {
        gk_printf(P "FAILED: descriptor tables\n");
        gk_shutdown(SHUTDOWN_crash);
    }
    user_mode();
    if (failures) {
        gk_printf(P "FAILED: user mode\n");
        gk_shutdown(SHUTDOWN_crash);
    }
}
