/* Linked into the lock-order binary of scripts/tsan-lockorder.

   GCC 12's libtsan.so.2 lacks the three entry points that Swift's
   -sanitize=thread instrumentation calls for bulk memory operations
   (measured on this machine kind); forward them to libc. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
void *__tsan_memset(void *d, int c, size_t n) { return memset(d, c, n); }
void *__tsan_memcpy(void *d, const void *s, size_t n) { return memcpy(d, s, n); }
void *__tsan_memmove(void *d, const void *s, size_t n) { return memmove(d, s, n); }

/* Every try-lock becomes a blocking lock. The deadlock detector ignores
   try-locks, which the harness's lock helpers take first on their fast
   path, so it would see a lock order only when a lock happened to be
   contended. Every try-lock in the harness is one whose caller may wait
   (Sync's PThread.tryLock and tryLockRW; a lock-order deferral is decided
   by rank before any lock is tried), so blocking is safe. Defined in the
   executable, these take precedence over the interceptors for the
   executable's own calls; the blocking calls go to the interceptors. */
int pthread_mutex_trylock(pthread_mutex_t *m) { return pthread_mutex_lock(m); }
int pthread_rwlock_trywrlock(pthread_rwlock_t *l) { return pthread_rwlock_wrlock(l); }
int pthread_rwlock_tryrdlock(pthread_rwlock_t *l) { return pthread_rwlock_rdlock(l); }
