// A minimal C KVM loop: the baseline `hv bench` measures the Swift exit loop against.
// It runs an already-built PV domain (same memory, same stub region, same vCPU set-up) in a VM of its
// own and answers hypercalls with the least work possible.
#pragma once
#include <stdint.h>
#include "ckvm.h"

/// A run of machine frames to map into the guest-physical window (GPA = MFN * 4096).
struct cbaseline_frames {
    uint64_t first_mfn, count;
    int writable;
};

/// The domain to run, described the way a C VMM would receive it: where its memory is, and its start state.
struct cbaseline_vm {
    int memfd;                        // machine memory
    uint64_t window_size;             // size of the guest-physical window (slot 0, GPA 0)
    const struct cbaseline_frames *runs;
    int nruns;
    const void *stub_image;           // the stub region's contents (slot 1, HV_STUB_GPA) for one vCPU
    uint64_t stub_size;
    struct ckvm_pv_start start;
    const struct kvm_cpuid2 *cpuid;   // the same cached supported CPUID our loop uses
};

struct cbaseline_result {
    uint64_t create_to_first_exit_ns;   // memory mappings, KVM_CREATE_VM … first exit to user space
    uint64_t first_hypercall_ns;        // monotonic time of the first hypercall exit
    uint64_t shutdown_ns;               // monotonic time of the SCHEDOP_shutdown exit
    uint64_t hypercalls;                // hypercall exits, the shutdown included
    int error;                          // 0, or -errno of the failing step
    int unexpected_exit;                // exit reason that stopped the loop, or 0
};

/// Runs the domain until SCHEDOP_shutdown (or `stop_after_first_exit`); fills `out`.
void cbaseline_run(int kvm, const struct cbaseline_vm *vm, int stop_after_first_exit, struct cbaseline_result *out);

/// Round trips timed by the ping-pong baselines.
struct cbaseline_pingpong_result {
    uint64_t round_trips;
    uint64_t ns;
    int error;
};

/// The platform's floor for an interdomain event round trip: two VMs (each running a guest that makes
/// hypercalls back to back) on two threads in strict alternation. Each hypercall exit answers the call,
/// wakes the other vCPU thread and sleeps until woken: one round trip = two exits, two cross-thread
/// wakes, two resumes, and nothing else.
void cbaseline_vm_pingpong(int kvm, const struct cbaseline_vm *a, const struct cbaseline_vm *b, uint64_t rounds,
                           struct cbaseline_pingpong_result *out);

/// Two host threads ping-ponging over a pair of eventfds: the host's own cost of the same handshake.
void cbaseline_eventfd_pingpong(uint64_t rounds, struct cbaseline_pingpong_result *out);

/// A byte stream between two host threads over a pipe: `total` bytes (a multiple of `message`, itself a
/// multiple of 8) written in `message`-byte writes and read back a message at a time, generated, checked
/// and checksummed per 64-bit word on both sides as the guests' channel does.
struct cbaseline_pipe_result {
    uint64_t ns;          // first write to last read
    uint64_t bytes;
    int error;            // 0, or -errno
    int checksum_ok;      // 1 if both ends agree
};
void cbaseline_pipe_stream(uint64_t total, uint32_t message, struct cbaseline_pipe_result *out);
