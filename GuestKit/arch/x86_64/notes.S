/*
 * notes.S - the Xen ELF notes every GuestKit image carries.
 *
 * A PV domain builder accepts the image because LOADER is "generic" and
 * XEN_VERSION starts with "xen-3.0". VIRT_BASE = PADDR_OFFSET = 0x400000 and
 * the linker script sets p_paddr = p_vaddr, so every segment loads at its
 * link address (VA = p_paddr + VIRT_BASE - PADDR_OFFSET) and PFN 0 is the
 * first page of the image. Addresses are 8-byte descriptors.
 * No PHYS32_ENTRY: this is a PV kernel, not a PVH one.
 */
#include <guestkit/elfnote.h>

    GK_ELFNOTE XEN_ELFNOTE_GUEST_OS,       .asciz, "GuestKit"
    GK_ELFNOTE XEN_ELFNOTE_GUEST_VERSION,  .asciz, "0.1"
    GK_ELFNOTE XEN_ELFNOTE_XEN_VERSION,    .asciz, "xen-3.0"
    GK_ELFNOTE XEN_ELFNOTE_LOADER,         .asciz, "generic"
    GK_ELFNOTE XEN_ELFNOTE_VIRT_BASE,      .quad,  0x400000
    GK_ELFNOTE XEN_ELFNOTE_PADDR_OFFSET,   .quad,  0x400000
    GK_ELFNOTE XEN_ELFNOTE_ENTRY,          .quad,  _start
    GK_ELFNOTE XEN_ELFNOTE_HYPERCALL_PAGE, .quad,  hypercall_page
    GK_ELFNOTE XEN_ELFNOTE_FEATURES,       .asciz, ""

    .section .note.GNU-stack, "", @progbits
