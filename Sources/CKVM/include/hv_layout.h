// The reserved part of every guest's world that belongs to the hypervisor on KVM.
// Shared by the ring-0 stub (assembly), the C shim and the Swift KVM backend.
#pragma once

// Guest-physical: machine memory is GPA [0, machine size) (GPA = MFN * 4096). The stub slot and the
// doorbell sit far above any machine memory we allow.
#define HV_MAX_MACHINE_BYTES   0x4000000000ULL   /* 256 GiB */
#define HV_STUB_GPA            0x4000000000ULL   /* memory slot 1: the stub region (64 KiB) */
#define HV_STUB_SIZE           0x10000
#define HV_DOORBELL_GPA        0x4040000000ULL   /* no memory slot: a store exits as KVM_EXIT_MMIO */
#define HV_ZAP_GPA             0x4080000000ULL   /* a one-page slot added and removed to drop shadow pages */

// Guest-virtual: slot 257 holds our stub, slot 258 the read-only M2P. Xen puts the M2P in slot 256
// (0xffff800000000000), but this KVM (kvm_pvm) faults every guest access through L4 slot 256 (measured),
// so it lives one slot up and XENMEM_machphys_mapping says where, as Xen's ABI provides for.
#define HV_M2P_L4_SLOT         258
#define HV_M2P_VA              0xffff810000000000ULL
#define HV_STUB_L4_SLOT        257
#define HV_STUB_VA             0xffff808000000000ULL

// Offsets inside the stub region; the first 0x8000 bytes map 1:1 (VA = HV_STUB_VA + off, GPA = HV_STUB_GPA + off).
#define HV_OFF_CODE            0x0000   /* 2 pages: 256 vector entries, then the common exit (supervisor, RX) */
#define HV_OFF_TRAMPOLINE      0x2000   /* LSTAR target (user, RX) */
#define HV_OFF_IDT             0x3000
#define HV_OFF_TSS             0x4000
#define HV_OFF_STACK           0x5000   /* 2 pages: ring-0 stack, top at 0x7000 */
#define HV_OFF_STACK_TOP       0x7000
#define HV_OFF_IST             0x7000   /* 1 page: IST1 stack (#DF, NMI, #MC), top at 0x8000 */
#define HV_OFF_IST_TOP         0x8000
#define HV_OFF_ZERO            0x8000   /* a zero page: backs the guest part of the GDT */
#define HV_OFF_GDT_RESERVED    0x9000   /* Xen's reserved GDT page (selectors 0xe000-0xeff8) */
#define HV_OFF_STUB_L3         0xa000
#define HV_OFF_STUB_L2         0xb000
#define HV_OFF_STUB_L1         0xc000
#define HV_OFF_M2P_L3          0xd000
#define HV_OFF_M2P_L2          0xe000

// Virtual-only pages in the stub's 2 MiB.
#define HV_VOFF_DOORBELL       0x8000   /* user RW, backed by HV_DOORBELL_GPA */
#define HV_VOFF_GDT            0x10000  /* 15 pages: 14 zero pages, then the reserved page */
#define HV_GDT_PAGES           15
#define HV_DOORBELL_VA         (HV_STUB_VA + HV_VOFF_DOORBELL)

// The port every exception path of the stub writes to.
#define HV_EXCEPTION_PORT      0xf4
// Bytes per IDT entry point in the stub code.
#define HV_VECTOR_STRIDE       16
