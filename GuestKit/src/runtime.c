/*
 * runtime.c - from _start to gk_main and back out: boot information and
 * domain shutdown.
 */
#include <guestkit/guestkit.h>

/* Both are written by _start before anything else runs. */
start_info_t *gk_start_info;
unsigned long gk_boot_rsp;

static char cmdline_copy[MAX_GUEST_CMDLINE];
static int cmdline_ready;

const char *gk_cmdline(void)
{
    if (!cmdline_ready) {
        /* Copy so the result is NUL-terminated even if start_info's is not. */
        if (gk_start_info)
            memcpy(cmdline_copy, gk_start_info->cmd_line, sizeof(cmdline_copy) - 1);
        cmdline_copy[sizeof(cmdline_copy) - 1] = '\0';
        cmdline_ready = 1;
    }
    return cmdline_copy;
}

const char *gk_cmdline_value(const char *key)
{
    const char *cmd = gk_cmdline();
    size_t len = strlen(key);
    for (const char *p = cmd; *p; p++) {
        if ((p == cmd || p[-1] == ' ') && strncmp(p, key, len) == 0 && p[len] == '=')
            return p + len + 1;
    }
    return NULL;
}

int gk_cmdline_number(const char *key, unsigned long *out)
{
    const char *v = gk_cmdline_value(key);
    if (!v || *v < '0' || *v > '9')
        return 0;
    unsigned long n = 0;
    while (*v >= '0' && *v <= '9')
        n = n * 10 + (unsigned long)(*v++ - '0');
    *out = n;
    return 1;
}

int gk_cmdline_has(const char *word)
{
    const char *cmd = gk_cmdline();
    size_t len = strlen(word);
    for (const char *p = cmd; *p; p++) {
        if ((p == cmd || p[-1] == ' ') && strncmp(p, word, len) == 0 && (p[len] == ' ' || p[len] == '\0'))
            return 1;
    }
    return 0;
}

void guestkit_main(start_info_t *si)
{
    gk_start_info = si;
    gk_main();
    gk_poweroff();
}

void gk_shutdown(unsigned int reason)
{
    struct sched_shutdown arg = { .reason = reason };

    gk_flush();
    HYPERVISOR_sched_op(SCHEDOP_shutdown, &arg);

    /* Still here: the hypervisor refused. Try a crash stop, then fault. */
    arg.reason = SHUTDOWN_crash;
    HYPERVISOR_sched_op(SCHEDOP_shutdown, &arg);
    for (;;)
        __asm__ __volatile__ ("ud2");
}

void gk_poweroff(void)
{
    gk_shutdown(SHUTDOWN_poweroff);
}

void gk_panic(const char *msg)
{
    gk_printf("%s\n", msg);
    gk_shutdown(SHUTDOWN_crash);
}
