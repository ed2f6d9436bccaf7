/*
 * malloc.c - a first-fit free-list allocator over a static heap in .bss.
 *
 * The heap is a set of chunks, each 16-byte aligned and a multiple of 16
 * bytes long. Free chunks form a list sorted by address and are merged with
 * their neighbours when freed. An allocated chunk carries a 16-byte tag right
 * below the pointer handed out, naming the chunk it belongs to, so that
 * aligned allocations (posix_memalign) can be freed like any other.
 *
 * Single vCPU, no locking.
 */
#include <guestkit/guestkit.h>

#define ALIGN_MIN   16UL
#define POSIX_EINVAL 22
#define POSIX_ENOMEM 12

struct free_chunk {
    size_t size;                /* whole chunk, bytes */
    struct free_chunk *next;    /* next free chunk, higher address */
};

struct alloc_tag {
    unsigned char *chunk;       /* start of the allocated chunk */
    size_t size;                /* its size */
};

static unsigned char heap[GUESTKIT_HEAP_SIZE] __attribute__((aligned(4096)));
static struct free_chunk *free_list;
static int heap_ready;

static inline size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static void heap_init(void)
{
    free_list = (struct free_chunk *)heap;
    free_list->size = sizeof(heap);
    free_list->next = NULL;
    heap_ready = 1;
}

/* Put [start, start+size) back on the free list, merging neighbours. */
static void release_chunk(unsigned char *start, size_t size)
{
    struct free_chunk *prev = NULL, *cur = free_list;
    while (cur && (unsigned char *)cur < start) {
        prev = cur;
        cur = cur->next;
    }

    struct free_chunk *c = (struct free_chunk *)start;
    c->size = size;
    c->next = cur;

    if (cur && start + size == (unsigned char *)cur) {
        c->size += cur->size;
        c->next = cur->next;
    }
    if (prev) {
        if ((unsigned char *)prev + prev->size == start) {
            prev->size += c->size;
            prev->next = c->next;
        } else {
            prev->next = c;
        }
    } else {
        free_list = c;
    }
}

int posix_memalign(void **memptr, size_t alignment, size_t size)
{
    if (alignment < ALIGN_MIN)
        alignment = ALIGN_MIN;
    if (alignment & (alignment - 1))
        return POSIX_EINVAL;
    if (size > sizeof(heap))
        return POSIX_ENOMEM;
    if (!heap_ready)
        heap_init();

    size_t body = round_up(size ? size : 1, ALIGN_MIN);
    struct free_chunk *prev = NULL;
    for (struct free_chunk *c = free_list; c; prev = c, c = c->next) {
        unsigned char *start = (unsigned char *)c;
        unsigned char *user = (unsigned char *)round_up(
            (size_t)(start + sizeof(struct alloc_tag)), alignment);
        unsigned char *end = user + body;
        if (end > start + c->size)
            continue;

        /* Take [start, end); keep the rest free if it can hold a chunk. */
        size_t rest = (size_t)(start + c->size - end);
        struct free_chunk *next = c->next;
        if (rest >= 2 * ALIGN_MIN) {
            struct free_chunk *r = (struct free_chunk *)end;
            r->size = rest;
            r->next = next;
            next = r;
        } else {
            end += rest;
        }
        if (prev)
            prev->next = next;
        else
            free_list = next;

        struct alloc_tag *tag = (struct alloc_tag *)user - 1;
        tag->chunk = start;
        tag->size = (size_t)(end - start);
        *memptr = user;
        return 0;
    }
    return POSIX_ENOMEM;
}

void *malloc(size_t size)
{
    void *p;
    return posix_memalign(&p, ALIGN_MIN, size) == 0 ? p : NULL;
}

void *calloc(size_t nmemb, size_t size)
{
    if (size && nmemb > (size_t)-1 / size)
        return NULL;
    void *p = malloc(nmemb * size);
    if (p)
        memset(p, 0, nmemb * size);
    return p;
}

void free(void *ptr)
{
    if (!ptr)
        return;
    struct alloc_tag *tag = (struct alloc_tag *)ptr - 1;
    release_chunk(tag->chunk, tag->size);
}

void *realloc(void *ptr, size_t size)
{
    if (!ptr)
        return malloc(size);
    if (!size) {
        free(ptr);
        return NULL;
    }
    struct alloc_tag *tag = (struct alloc_tag *)ptr - 1;
    size_t have = (size_t)(tag->chunk + tag->size - (unsigned char *)ptr);
    if (size <= have)
        return ptr;
    void *n = malloc(size);
    if (n) {
        memcpy(n, ptr, have);
        free(ptr);
    }
    return n;
}

size_t gk_heap_free_bytes(void)
{
    if (!heap_ready)
        heap_init();
    size_t total = 0;
    for (struct free_chunk *c = free_list; c; c = c->next)
        total += c->size;
    return total;
}
