/* GCC 12's libtsan.so.2 lacks the three entry points that Swift's
   -sanitize=thread instrumentation calls for bulk memory operations
   (measured on this machine kind); forward them to libc. */
#include <string.h>
void *__tsan_memset(void *d, int c, size_t n) { return memset(d, c, n); }
void *__tsan_memcpy(void *d, const void *s, size_t n) { return memcpy(d, s, n); }
void *__tsan_memmove(void *d, const void *s, size_t n) { return memmove(d, s, n); }
