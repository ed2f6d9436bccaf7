/*
 * guestkit/elfnote.h - emit Xen ELF notes (name "Xen") into section .note.Xen.
 *
 * Assembly:
 *     GK_ELFNOTE XEN_ELFNOTE_GUEST_OS, .asciz, "GuestKit"
 *     GK_ELFNOTE XEN_ELFNOTE_ENTRY,    .quad,   _start
 *
 * C (file scope):
 *     GK_ELFNOTE_STRING(XEN_ELFNOTE_GUEST_VERSION, "0.1");
 *     GK_ELFNOTE_QUAD(XEN_ELFNOTE_ENTRY, _start);
 *
 * Layout of one note: u32 namesz (4), u32 descsz, u32 type, "Xen\0",
 * descriptor, padding to 4 bytes. The linker script gathers .note.Xen into
 * a PT_NOTE program header.
 */
#ifndef GUESTKIT_ELFNOTE_H
#define GUESTKIT_ELFNOTE_H

#include <xen/elfnote.h>

#ifdef __ASSEMBLY__

.macro GK_ELFNOTE type:req, desctype:req, descdata:vararg
    .pushsection .note.Xen, "a", @note
    .balign 4
    .long .Lgk_note_name_end\@ - .Lgk_note_name\@   /* namesz */
    .long .Lgk_note_desc_end\@ - .Lgk_note_desc\@   /* descsz */
    .long \type                                     /* type   */
.Lgk_note_name\@:
    .asciz "Xen"
.Lgk_note_name_end\@:
    .balign 4
.Lgk_note_desc\@:
    \desctype \descdata
.Lgk_note_desc_end\@:
    .balign 4
    .popsection
.endm

#else /* C */

#define _GK_NOTE_STR2(x) #x
#define _GK_NOTE_STR(x)  _GK_NOTE_STR2(x)

#define _GK_ELFNOTE(type, desc)                                               \
    __asm__(".pushsection .note.Xen, \"a\", @note\n\t"                        \
            ".balign 4\n\t"                                                   \
            ".long 4\n\t"                                                     \
            ".long 2f - 1f\n\t"                                               \
            ".long " _GK_NOTE_STR(type) "\n\t"                                \
            ".asciz \"Xen\"\n"                                                \
            "1:\t" desc "\n"                                                  \
            "2:\t.balign 4\n\t"                                               \
            ".popsection")

/* A NUL-terminated string note. */
#define GK_ELFNOTE_STRING(type, str) _GK_ELFNOTE(type, ".asciz \"" str "\"")
/* An 8-byte numeric note; `expr` is an assembler expression (a symbol or
 * a number). */
#define GK_ELFNOTE_QUAD(type, expr)  _GK_ELFNOTE(type, ".quad " #expr)

#endif /* __ASSEMBLY__ */

#endif /* GUESTKIT_ELFNOTE_H */
