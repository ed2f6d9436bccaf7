/*
 * xen/elfnote.h - types of the ELF notes a Xen guest kernel carries.
 *
 * Each note has name "Xen" (namesz 4) and lives in a PT_NOTE segment.
 * String notes hold a NUL-terminated string; numeric notes a 1, 2, 4 or
 * 8 byte little-endian value (GuestKit always uses 8 bytes for addresses).
 * Plain #defines, usable from C, assembly and Swift.
 */
#ifndef GUESTKIT_XEN_ELFNOTE_H
#define GUESTKIT_XEN_ELFNOTE_H

#define XEN_ELFNOTE_INFO                0   /* NAME=VALUE string (unused) */
#define XEN_ELFNOTE_ENTRY               1   /* virtual entry point */
#define XEN_ELFNOTE_HYPERCALL_PAGE      2   /* virtual address of the page to fill */
#define XEN_ELFNOTE_VIRT_BASE           3   /* virtual address of PFN 0 */
#define XEN_ELFNOTE_PADDR_OFFSET        4   /* VA = p_paddr + VIRT_BASE - PADDR_OFFSET */
#define XEN_ELFNOTE_XEN_VERSION         5   /* string, must start "xen-3.0" */
#define XEN_ELFNOTE_GUEST_OS            6   /* string */
#define XEN_ELFNOTE_GUEST_VERSION       7   /* string */
#define XEN_ELFNOTE_LOADER              8   /* string, "generic" */
#define XEN_ELFNOTE_PAE_MODE            9   /* string (32-bit only) */
#define XEN_ELFNOTE_FEATURES           10   /* string, '|'-separated, '!' = required */
#define XEN_ELFNOTE_BSD_SYMTAB         11   /* string "yes": load the symbol table */
#define XEN_ELFNOTE_HV_START_LOW       12   /* numeric (32-bit only) */
#define XEN_ELFNOTE_L1_MFN_VALID       13   /* numeric mask + value pairs */
#define XEN_ELFNOTE_SUSPEND_CANCEL     14   /* numeric: supports suspend cancel */
#define XEN_ELFNOTE_INIT_P2M           15   /* numeric: VA to map the p2m list at */
#define XEN_ELFNOTE_MOD_START_PFN      16   /* numeric: accepts an unmapped initrd */
#define XEN_ELFNOTE_SUPPORTED_FEATURES 17   /* numeric feature bitmap */
#define XEN_ELFNOTE_PHYS32_ENTRY       18   /* numeric: PVH 32-bit physical entry */
#define XEN_ELFNOTE_PHYS32_RELOC       19   /* numeric triple: PVH relocation */

#define XEN_ELFNOTE_MAX                XEN_ELFNOTE_PHYS32_RELOC

#endif /* GUESTKIT_XEN_ELFNOTE_H */
