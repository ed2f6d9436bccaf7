/*
 * traps.c - the virtual IDT, the callbacks, shared_info, and the C side of
 * exception delivery.
 */
#include <stddef.h>
#include <guestkit/guestkit.h>

/* struct gk_trap_frame is built by assembly: keep the two in step. */
#define CHECK_FRAME(f) _Static_assert(offsetof(struct gk_trap_frame, f) == GK_FRAME_##f, "gk_trap_frame." #f)
CHECK_FRAME(fpu);
CHECK_FRAME(r15);
CHECK_FRAME(r12);
CHECK_FRAME(r11);
CHECK_FRAME(r8);
CHECK_FRAME(rbp);
CHECK_FRAME(rdi);
CHECK_FRAME(rcx);
CHECK_FRAME(rax);
CHECK_FRAME(vector);
CHECK_FRAME(error_code);
CHECK_FRAME(rip);
CHECK_FRAME(cs);
CHECK_FRAME(rflags);
CHECK_FRAME(rsp);
CHECK_FRAME(ss);
_Static_assert(sizeof(struct gk_trap_frame) == GK_FRAME_SIZE, "gk_trap_frame size");
_Static_assert(sizeof(struct gk_fpu_state) == 512, "FXSAVE area");

/* Page-table entry flags for the shared_info mapping: present, writable,
 * user (a PV kernel runs at CPL3). */
#define PTE_PRESENT_RW_USER 7UL

/* The page shared_info is mapped over: its own RAM frame is unmapped. */
static uint8_t shared_info_page[4096] __attribute__((aligned(4096)));

shared_info_t *gk_shared_info;
struct vcpu_info *gk_vcpu_info;

static gk_trap_handler_t handlers[GK_NR_TRAPS];

static const char *const names[GK_NR_TRAPS] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO",
    "#TS", "#NP", "#SS", "#GP", "#PF", "#SPURIOUS", "#MF", "#AC", "#MC", "#XM",
};

const char *gk_trap_name(unsigned long vector)
{
    if (vector < GK_NR_TRAPS)
        return names[vector];
    return vector == GK_VECTOR_EVENT ? "event" : "?";
}

static void init_failed(const char *what, int rc)
{
    gk_printf("guestkit: %s failed: %d\n", what, rc);
    gk_shutdown(SHUTDOWN_crash);
}

static void map_shared_info(void)
{
    unsigned long va = (unsigned long)shared_info_page;
    uint64_t pte = gk_start_info->shared_info | PTE_PRESENT_RW_USER;
    int rc = HYPERVISOR_update_va_mapping(va, pte, UVMF_INVLPG);
    if (rc)
        init_failed("update_va_mapping(shared_info)", rc);
    gk_shared_info = (shared_info_t *)shared_info_page;
    gk_vcpu_info = &gk_shared_info->vcpu_info[0];
}

static void install_trap_table(void)
{
    struct trap_info table[GK_NR_TRAPS + 1];

    memset(table, 0, sizeof(table));     /* the last entry (address 0) ends it */
    for (unsigned int v = 0; v < GK_NR_TRAPS; v++) {
        table[v].vector = (uint8_t)v;
        TI_SET_IF(&table[v], 1);         /* deliver with events masked */
        if (v == GK_TRAP_BP || v == GK_TRAP_OF || v == GK_TRAP_BR)
            TI_SET_DPL(&table[v], 3);    /* reachable by int3 / int $4 / int $5 */
        table[v].cs = FLAT_KERNEL_CS;
        table[v].address = gk_trap_entries[v];
    }
    int rc = HYPERVISOR_set_trap_table(table);
    if (rc)
        init_failed("set_trap_table", rc);
}

static void register_callbacks(void)
{
    struct callback_register event = {
        .type = CALLBACKTYPE_event,
        .flags = 0,
        .address = (xen_callback_t)gk_hypervisor_callback,
    };
    struct callback_register failsafe = {
        .type = CALLBACKTYPE_failsafe,
        .flags = CALLBACKF_mask_events,
        .address = (xen_callback_t)gk_failsafe_callback,
    };
    int rc = HYPERVISOR_callback_op(CALLBACKOP_register, &event);
    if (rc)
        init_failed("callback_op(register, event)", rc);
    rc = HYPERVISOR_callback_op(CALLBACKOP_register, &failsafe);
    if (rc)
        init_failed("callback_op(register, failsafe)", rc);
}

void gk_traps_init(void)
{
    if (gk_shared_info)
        return;
    map_shared_info();      /* first: handlers read cr2 and the event bits there */
    install_trap_table();
    register_callbacks();
}

gk_trap_handler_t gk_set_trap_handler(unsigned int vector, gk_trap_handler_t fn)
{
    if (vector >= GK_NR_TRAPS)
        return NULL;
    gk_traps_init();
    gk_trap_handler_t old = handlers[vector];
    handlers[vector] = fn;
    return old;
}

void gk_trap_dump(const struct gk_trap_frame *f)
{
    gk_printf("guestkit: %s (vector %lu) error 0x%lx at rip 0x%lx cs 0x%lx rflags 0x%lx rsp 0x%lx ss 0x%lx",
              gk_trap_name(f->vector), f->vector, f->error_code, f->rip, f->cs,
              f->rflags, f->rsp, f->ss);
    if (f->vector == GK_TRAP_PF && gk_vcpu_info)
        gk_printf(" cr2 0x%lx", gk_smp_vcpu_info()->arch.cr2);   /* this vCPU's */
    gk_printf("\nguestkit: rax 0x%lx rbx 0x%lx rcx 0x%lx rdx 0x%lx rsi 0x%lx rdi 0x%lx rbp 0x%lx\n",
              f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp);
}

void gk_trap(struct gk_trap_frame *f)
{
    gk_trap_handler_t fn = f->vector < GK_NR_TRAPS ? handlers[f->vector] : NULL;
    if (fn) {
        fn(f);
        return;
    }
    if (f->vector == GK_TRAP_NM)
        HYPERVISOR_fpu_taskswitch(0);   /* printing may use SSE */
    if (gk_smp_active)
        gk_printf("guestkit: unhandled exception on vcpu %u\n", gk_smp_cpu_id());
    else
        gk_printf("guestkit: unhandled exception\n");
    gk_trap_dump(f);
    gk_shutdown(SHUTDOWN_crash);
}

void gk_failsafe(const uint64_t *s)
{
    gk_printf("guestkit: failsafe callback: ds 0x%lx es 0x%lx fs 0x%lx gs 0x%lx at rip 0x%lx cs 0x%lx rflags 0x%lx rsp 0x%lx ss 0x%lx\n",
              s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]);
    gk_shutdown(SHUTDOWN_crash);
}
