/*
 * xen/vcpu.h - the vcpu_op hypercall (24): vcpu_op(cmd, vcpuid, arg).
 * Bringing vCPUs up and down, their timers, and shared memory areas the
 * hypervisor keeps up to date for them.
 *
 * GuestKit's rendering of Xen's public vcpu.h: same numbers, names and
 * layouts, our own text. Every op returns 0 or -XEN_Exxx; a vcpuid the
 * domain does not have -> -ENOENT; unknown cmd -> -ENOSYS.
 */
#ifndef GUESTKIT_XEN_VCPU_H
#define GUESTKIT_XEN_VCPU_H

#include <xen/xen.h>

/* VCPUOP_initialise: set a vCPU's first register state, once
 * (arg = struct vcpu_guest_context *, <xen/arch-x86_64.h>; again ->
 * -EEXIST, bad content -> -EINVAL). It stays down until VCPUOP_up unless
 * the context's flags have VGCF_online. */
#define VCPUOP_initialise                       0

/* VCPUOP_up: make an initialised vCPU runnable (arg NULL); a vCPU that
 * went down resumes where it stopped. Not initialised -> -EINVAL. */
#define VCPUOP_up                               1

/* VCPUOP_down: stop a vCPU (arg NULL); the last one down ends the domain.
 * A vCPU may down itself: the call returns (0) once VCPUOP_up brings it
 * back. */
#define VCPUOP_down                             2

/* VCPUOP_is_up: returns 1 if the vCPU is up, else 0 (arg NULL). */
#define VCPUOP_is_up                            3

/* VCPUOP_get_runstate_info: copy the vCPU's runstate
 * (arg = struct vcpu_runstate_info *, OUT). */
#define VCPUOP_get_runstate_info                4

/*
 * VCPUOP_register_runstate_memory_area: keep a struct vcpu_runstate_info
 * at a guest *virtual* address up to date (written now and whenever the
 * vCPU changes state). arg = struct vcpu_register_runstate_memory_area *.
 * One area per vCPU; registering again replaces it.
 */
#define VCPUOP_register_runstate_memory_area    5

/*
 * VCPUOP_set_periodic_timer / VCPUOP_stop_periodic_timer: the vCPU's
 * periodic VIRQ_TIMER (a PV vCPU starts with a 10 ms one).
 * arg = struct vcpu_set_periodic_timer * / NULL. A period under 1 ms
 * -> -EINVAL.
 */
#define VCPUOP_set_periodic_timer               6
#define VCPUOP_stop_periodic_timer              7

/*
 * VCPUOP_set_singleshot_timer / VCPUOP_stop_singleshot_timer: one
 * VIRQ_TIMER at an absolute system time (ns, the pvclock's timescale);
 * setting replaces the previous deadline, a deadline in the past fires at
 * once (or -ETIME with VCPU_SSHOTTMR_future). The calling vCPU only.
 * arg = struct vcpu_set_singleshot_timer * / NULL.
 */
#define VCPUOP_set_singleshot_timer             8
#define VCPUOP_stop_singleshot_timer            9

/*
 * VCPUOP_register_vcpu_info: move this vCPU's vcpu_info to
 * <mfn, offset> (must not cross a page). Once per vCPU.
 * arg = struct vcpu_register_vcpu_info *.
 */
#define VCPUOP_register_vcpu_info               10

/* VCPUOP_send_nmi: raise an NMI on the vCPU (arg NULL). */
#define VCPUOP_send_nmi                         11

/* VCPUOP_get_physid: physical CPU id of a pinned vCPU
 * (arg = struct vcpu_get_physid *, OUT). */
#define VCPUOP_get_physid                       12

/* VCPUOP_register_vcpu_time_memory_area: keep a second copy of the
 * vCPU's vcpu_time_info at a guest virtual address
 * (arg = struct vcpu_register_time_memory_area *). */
#define VCPUOP_register_vcpu_time_memory_area   13

/* VCPUOP_register_runstate_phys_area / _vcpu_time_phys_area: as 5 and
 * 13, with addr.p a guest physical address. */
#define VCPUOP_register_runstate_phys_area      14
#define VCPUOP_register_vcpu_time_phys_area     15

/* vcpu_runstate_info.state */
#define RUNSTATE_running        0   /* on a physical CPU */
#define RUNSTATE_runnable       1   /* wants to run, waiting for a CPU (steal) */
#define RUNSTATE_blocked        2   /* waiting for an event */
#define RUNSTATE_offline        3   /* neither: paused, down (also steal) */

/* vcpu_set_singleshot_timer.flags */
#define _VCPU_SSHOTTMR_future   0
#define VCPU_SSHOTTMR_future    (1 << _VCPU_SSHOTTMR_future)

#ifndef __ASSEMBLY__

/* Set in state_entry_time while the hypervisor rewrites the area (only
 * with VMASST_TYPE_runstate_update_flag enabled). */
#define _XEN_RUNSTATE_UPDATE    63
#define XEN_RUNSTATE_UPDATE     (1ULL << _XEN_RUNSTATE_UPDATE)

/*
 * struct vcpu_runstate_info (48 bytes): the vCPU's state and the total
 * time (ns, system time) it has spent in each RUNSTATE_*; the four sum
 * to the system time since the vCPU was created.
 */
struct vcpu_runstate_info {
    int state;                  /*  0: RUNSTATE_* */
    uint64_t state_entry_time;  /*  8: system time the state was entered */
    uint64_t time[4];           /* 16: ns per RUNSTATE_* */
};
typedef struct vcpu_runstate_info vcpu_runstate_info_t;
DEFINE_XEN_GUEST_HANDLE(vcpu_runstate_info_t);

struct vcpu_register_runstate_memory_area {
    union {
        XEN_GUEST_HANDLE(vcpu_runstate_info_t) h;
        struct vcpu_runstate_info *v;
        uint64_t p;
    } addr;                     /*  0: IN guest virtual address */
};
typedef struct vcpu_register_runstate_memory_area vcpu_register_runstate_memory_area_t;
DEFINE_XEN_GUEST_HANDLE(vcpu_register_runstate_memory_area_t);

struct vcpu_set_periodic_timer {
    uint64_t period_ns;         /*  0: IN */
};
typedef struct vcpu_set_periodic_timer vcpu_set_periodic_timer_t;
DEFINE_XEN_GUEST_HANDLE(vcpu_set_periodic_timer_t);

struct vcpu_set_singleshot_timer {
    uint64_t timeout_abs_ns;    /*  0: IN absolute system time */
    uint32_t flags;             /*  8: IN VCPU_SSHOTTMR_* */
};
typedef struct vcpu_set_singleshot_timer vcpu_set_singleshot_timer_t;
DEFINE_XEN_GUEST_HANDLE(vcpu_set_singleshot_timer_t);

struct vcpu_register_vcpu_info {
    uint64_t mfn;               /*  0: IN frame that will hold vcpu_info */
    uint32_t offset;            /*  8: IN offset in that frame */
    uint32_t rsvd;              /* 12 */
};
typedef struct vcpu_register_vcpu_info vcpu_register_vcpu_info_t;
DEFINE_XEN_GUEST_HANDLE(vcpu_register_vcpu_info_t);

struct vcpu_get_physid {
    uint64_t phys_id;           /*  0: OUT apic id (31:0), acpi id (63:32) */
};
typedef struct vcpu_get_physid vcpu_get_physid_t;
DEFINE_XEN_GUEST_HANDLE(vcpu_get_physid_t);
#define xen_vcpu_physid_to_x86_apicid(physid) ((uint32_t)(physid))
#define xen_vcpu_physid_to_x86_acpiid(physid) ((uint32_t)((physid) >> 32))

DEFINE_XEN_GUEST_HANDLE(vcpu_time_info_t);
struct vcpu_register_time_memory_area {
    union {
        XEN_GUEST_HANDLE(vcpu_time_info_t) h;
        struct vcpu_time_info *v;
        uint64_t p;
    } addr;                     /*  0: IN */
};
typedef struct vcpu_register_time_memory_area vcpu_register_time_memory_area_t;
DEFINE_XEN_GUEST_HANDLE(vcpu_register_time_memory_area_t);

#endif /* !__ASSEMBLY__ */

#endif /* GUESTKIT_XEN_VCPU_H */
