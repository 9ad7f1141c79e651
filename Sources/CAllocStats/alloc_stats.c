#define _GNU_SOURCE
#include "alloc_stats.h"
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

static mallctl_fn find_mallctl(void) {
    return (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
}

int ct_jemalloc_loaded(void) { return find_mallctl() != NULL; }

void ct_release_free_memory(void) {
    mallctl_fn mallctl = find_mallctl();
    if (mallctl) {
        /* MALLCTL_ARENAS_ALL */
        mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
        return;
    }
    malloc_trim(0);
}

int ct_alloc_stats(size_t *allocated, size_t *active, size_t *resident) {
    mallctl_fn mallctl = find_mallctl();
    if (mallctl) {
        uint64_t epoch = 1;
        size_t sz = sizeof(epoch);
        mallctl("epoch", &epoch, &sz, &epoch, sz);  /* refresh the counters */
        size_t v = 0;
        sz = sizeof(v);
        *allocated = mallctl("stats.allocated", &v, &sz, NULL, 0) == 0 ? v : 0;
        sz = sizeof(v);
        *active = mallctl("stats.active", &v, &sz, NULL, 0) == 0 ? v : 0;
        sz = sizeof(v);
        *resident = mallctl("stats.resident", &v, &sz, NULL, 0) == 0 ? v : 0;
        return 1;
    }
    struct mallinfo2 m = mallinfo2();
    *allocated = m.uordblks + m.hblkhd;          /* in use, incl. mmapped blocks */
    *active = m.arena + m.hblkhd;                /* obtained from the system */
    *resident = m.arena + m.hblkhd - m.fordblks + m.keepcost;
    return 0;
}
