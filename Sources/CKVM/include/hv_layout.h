// The reserved part of every guest's world that belongs to the hypervisor on KVM.
// Shared by the ring-0 stub (assembly), the C shim and the Swift KVM backend.
#pragma once

// Guest-physical: machine memory is GPA [0, machine size) (GPA = MFN * 4096). The stub slot and the
// doorbell sit far above any machine memory we allow.
#define HV_MAX_MACHINE_BYTES   0x4000000000ULL   /* 256 GiB */
#define HV_STUB_GPA            0x4000000000ULL   /* memory slot 1: the stub region (48 KiB + 20 KiB per vCPU) */
#define HV_DOORBELL_GPA        0x4040000000ULL   /* no memory slot: a store exits as KVM_EXIT_MMIO */
#define HV_ZAP_GPA             0x4080000000ULL   /* a one-page slot added and removed to drop shadow pages */

// Guest-virtual: slot 257 holds our stub, slot 258 the read-only M2P. Xen puts the M2P in slot 256
// (0xffff800000000000), but this KVM (kvm_pvm) faults every guest access through L4 slot 256 (measured),
// so it lives one slot up and XENMEM_machphys_mapping says where, as Xen's ABI provides for.
#define HV_M2P_L4_SLOT         258
#define HV_M2P_VA              0xffff810000000000ULL
#define HV_STUB_L4_SLOT        257
#define HV_STUB_VA             0xffff808000000000ULL

// Offsets inside the stub region. Code, trampoline and IDT map 1:1 (VA = HV_STUB_VA + off); the tables and
// the shared pages are reached only through page-table entries.
#define HV_OFF_CODE            0x0000   /* 2 pages: 256 vector entries, then the common exit (supervisor, RX) */
#define HV_OFF_TRAMPOLINE      0x2000   /* LSTAR target (user, RX) */
#define HV_OFF_IDT             0x3000
#define HV_OFF_ZERO            0x4000   /* a zero page: backs the unused guest part of each GDT */
#define HV_OFF_STUB_L3         0x5000
#define HV_OFF_STUB_L2         0x6000
#define HV_OFF_STUB_L1         0x7000   /* VA [HV_STUB_VA, +2 MiB): code, trampoline, IDT, doorbell */
#define HV_OFF_VCPU_L1         0x8000   /* 2 pages: VA [+2 MiB, +6 MiB), the per-vCPU blocks */
#define HV_OFF_M2P_L3          0xa000
#define HV_OFF_M2P_L2          0xb000
#define HV_OFF_VCPUS           0xc000   /* the per-vCPU pages, HV_VCPU_STRIDE each */

// Per vCPU (a KVM vCPU needs its own TSS, ring-0 stacks and GDT, all at addresses of their own because every
// vCPU walks the same guest page tables). Region pages, at HV_OFF_VCPUS + i * HV_VCPU_STRIDE:
#define HV_VCPU_STRIDE         0x5000
#define HV_VCPU_OFF_TSS        0x0000
#define HV_VCPU_OFF_STACK      0x1000   /* 2 pages: ring-0 stack, then 1 page: IST1 stack (#DF, NMI, #MC) */
#define HV_VCPU_OFF_GDT_RESERVED 0x4000 /* its copy of Xen's reserved GDT page (its own TSS descriptor) */
// Virtual block of vCPU i at HV_STUB_VA + HV_VOFF_VCPUS + i * HV_VCPU_VSTRIDE:
#define HV_VOFF_VCPUS          0x200000
#define HV_VCPU_VSTRIDE        0x20000
#define HV_VCPU_VOFF_GDT       0x00000  /* 15 pages: 14 guest GDT pages, then the reserved page; a guard after */
#define HV_VCPU_VOFF_TSS       0x10000
#define HV_VCPU_VOFF_STACK     0x12000  /* ring-0 stack, top at +0x14000; IST1 above it, top at +0x15000 */
#define HV_VCPU_VOFF_STACK_TOP 0x14000
#define HV_VCPU_VOFF_IST_TOP   0x15000
#define HV_GDT_PAGES           15
#define HV_MAX_VCPUS           32       /* XEN_LEGACY_MAX_VCPUS: one vcpu_info each in shared_info */

// Virtual-only pages in the stub's first 2 MiB.
#define HV_VOFF_DOORBELL       0x8000   /* user RW, backed by HV_DOORBELL_GPA */
#define HV_DOORBELL_VA         (HV_STUB_VA + HV_VOFF_DOORBELL)

// The port every exception path of the stub writes to.
#define HV_EXCEPTION_PORT      0xf4
// Bytes per IDT entry point in the stub code.
#define HV_VECTOR_STRIDE       16
