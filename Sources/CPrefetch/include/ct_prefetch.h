#ifndef CONNTRACK_PREFETCH_H
#define CONNTRACK_PREFETCH_H

/* Software prefetch for the batched lookups of the `fast` design. Header
   only and static inline, so Swift inlines it into the packet loop: no
   call per prefetch. */

/// Brings the cache line at `p` towards L1 for a read.
static inline __attribute__((always_inline)) void ct_prefetch_read(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/// Brings the cache line at `p` towards L1 for a write.
static inline __attribute__((always_inline)) void ct_prefetch_write(const void *p) {
    __builtin_prefetch(p, 1, 3);
}
#endif
