#ifndef CONNTRACK_ALLOC_STATS_H
#define CONNTRACK_ALLOC_STATS_H
#include <stddef.h>

/// Allocator statistics of this process. Returns 1 when jemalloc is the
/// process's allocator (its mallctl counters), 0 for glibc (mallinfo2).
int ct_alloc_stats(size_t *allocated, size_t *active, size_t *resident);

/// 1 when jemalloc's mallctl is loaded in this process.
int ct_jemalloc_loaded(void);

/* Returns free heap memory to the system (jemalloc: purge every arena;
   glibc: malloc_trim), so RSS reflects what is in use. */
void ct_release_free_memory(void);
#endif
