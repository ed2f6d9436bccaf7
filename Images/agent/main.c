/*
 * agent - a guest that answers the toolstack the way a Linux PV guest does
 * (hv shutdown/reboot, hv mem-set, hv console).
 *
 * Moves its console to the PV console ring, then over XenStore (relative
 * paths: its home /local/domain/<domid>) announces control/feature-poweroff,
 * -reboot and -balloon = 1 (as Linux does; not -suspend) and watches:
 *   control/shutdown  "poweroff" / "halt" / "reboot": cleared (read and
 *                     written "" in one transaction, as Linux does), the
 *                     request printed, then SCHEDOP_shutdown with
 *                     SHUTDOWN_poweroff / SHUTDOWN_poweroff / SHUTDOWN_reboot.
 *                     "suspend" and anything else: cleared, printed,
 *                     ignored (for suspend the toolstack then pauses it).
 *   memory/target     KiB: balloons to it (XENMEM_decrease_reservation /
 *                     populate_physmap through GuestKit's balloon), never
 *                     below FLOOR_KIB nor past the pages it booted with,
 *                     BALLOON_STEP pages at a time between looks at the
 *                     rings; then prints what it holds
 *                     (XENMEM_current_reservation x 4 KiB).
 * Console input is echoed a line at a time; lines end at CR or LF (CR LF
 * counts once), DEL and BS erase, a line longer than LINE_BYTES goes out
 * in pieces, bytes outside 0x20..0x7e print as \xNN.
 *
 * Prints `agent: ready` once the watches are set, then blocks
 * (SCHEDOP_block, events enabled) and handles whatever arrives: no timer,
 * no busy loop. It never shuts down by itself.
 *
 * Lines (<d> its domid):
 *   agent: domain <d>, home /local/domain/<d>
 *   agent: ready
 *   agent: balloon target <T> KiB, holding <H> KiB      (T as written)
 *   agent: echo <line>
 *   agent: shutdown request "<value>"                    (then it shuts down)
 *   agent: shutdown request "suspend": suspend is not supported, ignored
 *   agent: shutdown request "<value>": unknown request, ignored
 * Trouble (it keeps running): `agent: cannot ...`, `agent: balloon
 * stopped (<rc>)`, `agent: xenstore broken ...`, `agent: console input
 * broken ...`, `agent: no console ring ...`; without a readable domid:
 * `agent: FAIL <what> (<rc> <name>)` and a crash.
 */
#include <guestkit/guestkit.h>
#include <guestkit/xenbus.h>

#define P "agent: "

#define FLOOR_KIB       (4 * 1024)      /* never balloon below 4 MiB */
#define PAGE_KIB        4
#define BALLOON_STEP    512             /* pages per step between looks at the rings */
#define LINE_BYTES      256             /* longer input goes out in pieces */
#define MAX_TX_TRIES    16

static char event[GK_XS_BUF_SIZE];
static char value[GK_XS_BUF_SIZE];

/* Set when a ring broke: stop looking at it, or the loop would spin. */
static int store_broken, console_broken;

/* A value as printable text: bytes outside 0x20..0x7e as \xNN. */
static void print_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e)
            gk_printf("\\x%02x", c);
        else
            gk_putc((char)c);
    }
}

/* ---- control/shutdown ---------------------------------------------------------- */

/*
 * Linux's acknowledgement: read the request and write "" back in one
 * transaction, so a request written meanwhile is not lost (the commit
 * fails with EAGAIN and we read again). Returns the request's length,
 * 0 for none, or -XEN_Exxx.
 */
static int take_shutdown_request(char *out, size_t size)
{
    for (int tries = 1;; tries++) {
        uint32_t tx;
        int rc = gk_xs_transaction_start(&tx);
        if (rc)
            return rc;
        int len = gk_xs_read(tx, "control/shutdown", out, size);
        if (len <= 0) {
            out[0] = '\0';
            gk_xs_transaction_end(tx, 1);
            return len == -XEN_ENOENT ? 0 : len;
        }
        rc = gk_xs_write(tx, "control/shutdown", "");
        if (rc) {
            gk_xs_transaction_end(tx, 1);
            return rc;
        }
        rc = gk_xs_transaction_end(tx, 0);
        if (rc == 0)
            return len;
        if (rc != -XEN_EAGAIN || tries == MAX_TX_TRIES)
            return rc;
    }
}

static void on_shutdown(void)
{
    int len = take_shutdown_request(value, sizeof(value));
    if (len < 0) {
        gk_printf(P "cannot take control/shutdown (%d %s)\n", len, gk_xs_error_name(len));
        return;
    }
    if (len == 0)
        return;                         /* our own clearing, or the first event */

    unsigned int reason;
    if (strcmp(value, "poweroff") == 0 || strcmp(value, "halt") == 0)
        reason = SHUTDOWN_poweroff;
    else if (strcmp(value, "reboot") == 0)
        reason = SHUTDOWN_reboot;
    else
        reason = ~0u;

    gk_printf(P "shutdown request \"");
    print_text(value, (size_t)len);
    if (reason == ~0u) {
        gk_printf("\": %s, ignored\n",
                  strcmp(value, "suspend") == 0 ? "suspend is not supported" : "unknown request");
        return;
    }
    gk_printf("\"\n");
    gk_shutdown(reason);                /* flushes the console first */
}

/* ---- memory/target --------------------------------------------------------------- */

/* The toolstack's latest target, and whether we are still moving towards
 * it. Moving happens a step at a time from the main loop, so console
 * input and a shutdown request are handled while a big balloon runs (as
 * Linux's balloon worker does). */
static unsigned long target_kib;
static int ballooning;

static void on_target(void)
{
    unsigned long kib;
    int rc = gk_xs_read_ulong(GK_XS_TX_NONE, "memory/target", &kib);
    if (rc == -XEN_ENOENT)
        return;                         /* the toolstack has not set one */
    if (rc) {
        gk_printf(P "memory/target unreadable (%d %s), ignored\n", rc, gk_xs_error_name(rc));
        return;
    }
    target_kib = kib;
    ballooning = 1;
}

/* At most BALLOON_STEP pages towards the target; once nothing is left to
 * move (or nothing more can be), prints what we hold. */
static void balloon_step(void)
{
    /* What we aim for, in pages: the target, but not below the floor. */
    unsigned long want = (target_kib > FLOOR_KIB ? target_kib : FLOOR_KIB) / PAGE_KIB;
    long have = gk_current_reservation();
    long moved = 0;
    if (have < 0) {
        gk_printf(P "XENMEM_current_reservation failed (%ld)\n", have);
        ballooning = 0;
        return;
    }
    if ((unsigned long)have > want) {
        /* Gives back only free pages: what the kernel uses stays. */
        unsigned long n = (unsigned long)have - want;
        moved = gk_balloon_out(n < BALLOON_STEP ? n : BALLOON_STEP);
    } else if ((unsigned long)have < want) {
        /* Only pages ballooned out earlier can come back: the p2m has
         * no room past the pages the domain booted with. */
        unsigned long n = want - (unsigned long)have, out = gk_ballooned_pages();
        if (n > out)
            n = out;
        if (n > BALLOON_STEP)
            n = BALLOON_STEP;
        if (n)
            moved = gk_balloon_in(n);
    }
    if (moved > 0)
        return;                         /* more next time round */
    if (moved < 0)
        gk_printf(P "balloon stopped (%ld)\n", moved);
    ballooning = 0;
    gk_printf(P "balloon target %lu KiB, holding %ld KiB\n", target_kib, have * PAGE_KIB);
}

/* ---- watches ------------------------------------------------------------------------ */

/* Every queued watch event, dispatched by token. Returns how many. */
static int drain_watches(void)
{
    int n = 0;
    while (!store_broken) {
        const char *path, *token;
        int rc = gk_xs_wait_watch(event, sizeof(event), &path, &token, 1);  /* 1: do not wait */
        if (rc == -XEN_ETIMEDOUT)
            break;
        if (rc) {
            gk_printf(P "xenstore broken (%d %s): no more requests handled\n", rc, gk_xs_error_name(rc));
            store_broken = 1;
            break;
        }
        n++;
        if (strcmp(token, "shutdown") == 0)
            on_shutdown();
        else if (strcmp(token, "target") == 0)
            on_target();
    }
    return n;
}

/* ---- console input ------------------------------------------------------------------ */

static char line[LINE_BYTES];
static size_t line_len;
static int after_cr;

static void echo_line(void)
{
    gk_printf(P "echo ");
    print_text(line, line_len);
    gk_putc('\n');
    line_len = 0;
}

static void take_char(char c)
{
    if (c == '\n' && after_cr) {        /* CR LF: one line end */
        after_cr = 0;
        return;
    }
    after_cr = c == '\r';
    if (c == '\r' || c == '\n') {
        echo_line();
    } else if (c == 0x7f || c == '\b') {
        if (line_len)
            line_len--;
    } else {
        if (line_len == sizeof(line))
            echo_line();
        line[line_len++] = c;
    }
}

/* Everything in the ring's in[]. Returns how many bytes. */
static int drain_console(void)
{
    int total = 0;
    while (!console_broken) {
        char buf[64];
        int n = gk_console_ring_read(buf, sizeof(buf));
        if (n < 0) {
            if (n != -XEN_ENODEV)
                gk_printf(P "console input broken (%d): no more input\n", n);
            console_broken = 1;
            break;
        }
        if (n == 0)
            break;
        for (int i = 0; i < n; i++)
            take_char(buf[i]);
        total += n;
    }
    return total;
}

/* ---- start-up ---------------------------------------------------------------------- */

static void must(int rc, const char *what)
{
    if (rc) {
        gk_printf(P "FAIL %s (%d %s)\n", what, rc, gk_xs_error_name(rc));
        gk_shutdown(SHUTDOWN_crash);
    }
}

void gk_main(void)
{
    gk_traps_init();
    /* Nothing here needs a timer: stop the 10 ms periodic one a PV vCPU
     * starts with (and any single-shot), so only real work wakes us. */
    HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
    HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, 0, NULL);

    int rc = gk_console_use_ring();
    if (rc) {
        gk_printf(P "no console ring (%d): output on console_io, no input\n", rc);
        console_broken = 1;
    }

    unsigned long domid;
    must(gk_xs_read_ulong(GK_XS_TX_NONE, "domid", &domid), "read domid");
    gk_printf(P "domain %lu, home /local/domain/%lu\n", domid, domid);

    /* What Linux announces, so the toolstack knows whom it talks to. */
    static const char *const features[] = { "control/feature-poweroff", "control/feature-reboot",
                                            "control/feature-balloon" };
    for (unsigned int i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
        rc = gk_xs_write(GK_XS_TX_NONE, features[i], "1");
        if (rc)
            gk_printf(P "cannot write %s (%d %s), continuing\n", features[i], rc, gk_xs_error_name(rc));
    }

    must(gk_xs_watch("control/shutdown", "shutdown"), "watch control/shutdown");
    must(gk_xs_watch("memory/target", "target"), "watch memory/target");
    gk_printf(P "ready\n");

    /*
     * Events stay masked while we look at the rings, so whatever arrives
     * after a look leaves an upcall pending, and SCHEDOP_block (which
     * unmasks) returns at once instead of sleeping through it.
     */
    gk_irq_disable();
    for (;;) {
        int did = drain_console();
        did += drain_watches();
        if (ballooning) {
            balloon_step();
            continue;
        }
        if (did)
            continue;
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
        gk_irq_disable();
    }
}
