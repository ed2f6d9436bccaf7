/*
 * elfcheck.c - host tool: checks that a GuestKit image is a loadable Xen PV
 * kernel. Built and run by `make -C Images check`.
 *
 *   elfcheck <image.elf>
 *
 * Checks: ELF64 x86-64 executable; every PT_LOAD page-aligned with
 * p_paddr == p_vaddr, the first at 0x400000, none both writable and
 * executable; a PT_NOTE segment whose "Xen" notes are exactly GuestKit's
 * (GUEST_OS, GUEST_VERSION, XEN_VERSION, LOADER, VIRT_BASE, PADDR_OFFSET,
 * ENTRY, HYPERCALL_PAGE, FEATURES; no PHYS32_ENTRY); e_entry == ENTRY ==
 * _start; hypercall_page page-aligned, 4096 bytes, inside the executable
 * segment; _end and __bss_start present. Prints one summary line, or the
 * problems and exits 1.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The few ELF64 definitions we need (System V gABI). */
struct ehdr {
    unsigned char ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
struct shdr {
    uint32_t name, type;
    uint64_t flags, addr, offset, size;
    uint32_t link, info;
    uint64_t addralign, entsize;
};
struct sym {
    uint32_t name;
    unsigned char info, other;
    uint16_t shndx;
    uint64_t value, size;
};

enum { ET_EXEC = 2, EM_X86_64 = 62, PT_LOAD = 1, PT_NOTE = 4,
       PF_X = 1, PF_W = 2, SHT_SYMTAB = 2 };

#define VIRT_BASE 0x400000UL
#define PAGE      4096UL

static const char *path;
static int problems;

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void problem(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", path);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    problems++;
}

static unsigned char *image;
static size_t image_size;

static int in_file(uint64_t off, uint64_t len)
{
    return off <= image_size && len <= image_size - off;
}

/* Value of symbol `name`, or ~0 if absent; *size gets its st_size. */
static uint64_t symbol(const struct ehdr *eh, const char *name, uint64_t *size)
{
    const struct shdr *sh = (const struct shdr *)(image + eh->shoff);
    for (unsigned i = 0; i < eh->shnum; i++) {
        if (sh[i].type != SHT_SYMTAB || sh[i].link >= eh->shnum)
            continue;
        const struct shdr *strtab = &sh[sh[i].link];
        if (!in_file(sh[i].offset, sh[i].size) || !in_file(strtab->offset, strtab->size))
            continue;
        const struct sym *s = (const struct sym *)(image + sh[i].offset);
        size_t n = sh[i].size / sizeof(struct sym);
        for (size_t j = 0; j < n; j++) {
            if (s[j].name >= strtab->size)
                continue;
            const char *sname = (const char *)image + strtab->offset + s[j].name;
            if (strcmp(sname, name) == 0) {
                if (size)
                    *size = s[j].size;
                return s[j].value;
            }
        }
    }
    return ~0ULL;
}

/* Xen note types we expect, and what we found. */
struct note_want {
    uint32_t type;
    const char *name;
    const char *str;        /* expected string, or NULL for numeric */
    uint64_t num;           /* expected number (filled in for ENTRY etc.) */
    int seen;
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: elfcheck <image.elf>\n");
        return 2;
    }
    path = argv[1];
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    image_size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    image = malloc(image_size ? image_size : 1);
    if (!image || fread(image, 1, image_size, f) != image_size) {
        perror(path);
        return 1;
    }
    fclose(f);

    const struct ehdr *eh = (const struct ehdr *)image;
    if (image_size < sizeof(*eh) || memcmp(eh->ident, "\177ELF", 4) != 0
        || eh->ident[4] != 2 || eh->ident[5] != 1) {
        problem("not an ELF64 little-endian file");
        return 1;
    }
    if (eh->type != ET_EXEC || eh->machine != EM_X86_64)
        problem("not an x86-64 executable (type %u)", (unsigned)eh->type);
    if (!in_file(eh->phoff, (uint64_t)eh->phnum * sizeof(struct phdr))
        || !in_file(eh->shoff, (uint64_t)eh->shnum * sizeof(struct shdr))) {
        problem("headers out of file");
        return 1;
    }

    uint64_t start = symbol(eh, "_start", NULL);
    uint64_t hpsize = 0;
    uint64_t hp = symbol(eh, "hypercall_page", &hpsize);
    uint64_t end = symbol(eh, "_end", NULL);
    uint64_t bss = symbol(eh, "__bss_start", NULL);
    if (start == ~0ULL) problem("symbol _start missing");
    if (hp == ~0ULL) problem("symbol hypercall_page missing");
    if (end == ~0ULL) problem("symbol _end missing");
    if (bss == ~0ULL) problem("symbol __bss_start missing");
    if (eh->entry != start)
        problem("e_entry 0x%lx is not _start", eh->entry);
    if (hp != ~0ULL && (hp % PAGE || hpsize != PAGE))
        problem("hypercall_page 0x%lx not page-aligned or not 4096 bytes", hp);

    struct note_want want[] = {
        { 6,  "GUEST_OS",       "GuestKit", 0, 0 },
        { 7,  "GUEST_VERSION",  "0.1",      0, 0 },
        { 5,  "XEN_VERSION",    "xen-3.0",  0, 0 },
        { 8,  "LOADER",         "generic",  0, 0 },
        { 3,  "VIRT_BASE",      NULL, VIRT_BASE, 0 },
        { 4,  "PADDR_OFFSET",   NULL, VIRT_BASE, 0 },
        { 1,  "ENTRY",          NULL, start, 0 },
        { 2,  "HYPERCALL_PAGE", NULL, hp, 0 },
        { 10, "FEATURES",       "",         0, 0 },
    };
    const size_t nwant = sizeof(want) / sizeof(want[0]);

    const struct phdr *ph = (const struct phdr *)(image + eh->phoff);
    int loads = 0, notes = 0, hp_in_text = 0;
    uint64_t lowest = ~0ULL, highest = 0;
    for (unsigned i = 0; i < eh->phnum; i++) {
        const struct phdr *p = &ph[i];
        if (p->type == PT_LOAD) {
            loads++;
            if (p->vaddr < lowest)
                lowest = p->vaddr;
            if (p->vaddr + p->memsz > highest)
                highest = p->vaddr + p->memsz;
            if (p->vaddr != p->paddr)
                problem("PT_LOAD at 0x%lx has p_paddr != p_vaddr", p->vaddr);
            if (p->vaddr % PAGE || p->offset % PAGE || p->align < PAGE)
                problem("PT_LOAD at 0x%lx not page-aligned", p->vaddr);
            if ((p->flags & PF_W) && (p->flags & PF_X))
                problem("PT_LOAD at 0x%lx is writable and executable", p->vaddr);
            if (p->filesz > p->memsz || !in_file(p->offset, p->filesz))
                problem("PT_LOAD at 0x%lx has a bad file range", p->vaddr);
            if (hp != ~0ULL && (p->flags & PF_X) && hp >= p->vaddr
                && hp + PAGE <= p->vaddr + p->filesz)
                hp_in_text = 1;
        } else if (p->type == PT_NOTE) {
            notes++;
            if (!in_file(p->offset, p->filesz)) {
                problem("PT_NOTE out of file");
                continue;
            }
            uint64_t off = 0;
            while (off + 12 <= p->filesz) {
                const unsigned char *n = image + p->offset + off;
                uint32_t namesz, descsz, type;
                memcpy(&namesz, n, 4);
                memcpy(&descsz, n + 4, 4);
                memcpy(&type, n + 8, 4);
                uint64_t name_off = 12, desc_off = 12 + ((namesz + 3UL) & ~3UL);
                uint64_t next = desc_off + ((descsz + 3UL) & ~3UL);
                if (off + next > p->filesz) {
                    problem("truncated note at offset %lu", off);
                    break;
                }
                const char *name = (const char *)n + name_off;
                const unsigned char *desc = n + desc_off;
                off += next;
                if (namesz != 4 || memcmp(name, "Xen", 4) != 0)
                    continue;
                if (type == 18)
                    problem("unexpected PHYS32_ENTRY note");
                size_t k;
                for (k = 0; k < nwant; k++)
                    if (want[k].type == type)
                        break;
                if (k == nwant)
                    continue;
                want[k].seen++;
                if (want[k].str) {
                    size_t len = strlen(want[k].str);
                    if (descsz != len + 1 || memcmp(desc, want[k].str, len + 1) != 0)
                        problem("note %s: wrong string (want \"%s\")", want[k].name, want[k].str);
                } else {
                    uint64_t v = 0;
                    if (descsz != 8)
                        problem("note %s: descriptor is not 8 bytes", want[k].name);
                    else
                        memcpy(&v, desc, 8);
                    if (v != want[k].num)
                        problem("note %s: value 0x%lx is wrong", want[k].name, (unsigned long)v);
                }
            }
        }
    }

    if (!loads)
        problem("no PT_LOAD segments");
    if (lowest != VIRT_BASE)
        problem("first PT_LOAD at 0x%lx, want 0x400000", lowest);
    if (notes != 1)
        problem("%lu PT_NOTE segments, want 1", (unsigned long)notes);
    if (hp != ~0ULL && !hp_in_text)
        problem("hypercall_page 0x%lx not inside the executable segment", hp);
    for (size_t k = 0; k < nwant; k++)
        if (want[k].seen != 1)
            problem("note %s: found %lu times, want once", want[k].name,
                    (unsigned long)want[k].seen);

    if (problems)
        return 1;
    printf("%s: ok: entry _start 0x%lx, hypercall_page 0x%lx, %d PT_LOAD "
           "0x%lx-0x%lx (file %lu bytes), %zu Xen notes\n",
           path, (unsigned long)start, (unsigned long)hp, loads,
           (unsigned long)lowest, (unsigned long)highest,
           (unsigned long)image_size, nwant);
    return 0;
}
