/*
 * The example plugin: the Swift BucketTable's `fixed` rules in C, through
 * the conntrack-bench ABI (conntrack_bench_design.h), so that a
 * deterministic run reports the same counters as `--variant fixed`.
 *
 *  - chained buckets: an intrusive doubly linked list of tuples per bucket,
 *    push-front; a connection holds its two tuples;
 *  - a pthread mutex per bucket and per connection, under a table rwlock;
 *    lock order table < bucket[i] ascending < connection, every lock
 *    reported through the host's hooks;
 *  - insert locks both buckets in ascending order (once when equal) and
 *    re-checks both tuples under them;
 *  - inline reaping during lookups, limited by lock order: an expired
 *    connection whose partner tuple sits in a lower bucket is left
 *    (deferred) for a pass that starts lower;
 *  - reaper passes over bucket ranges;
 *  - the seed's Jenkins hash with the run's seed;
 *  - the harness's tracker service.
 *
 * Every access to a connection happens under the lock of a bucket holding
 * one of its tuples (a found connection is refreshed before that bucket is
 * unlocked), and removal unlinks both tuples under both bucket locks, so a
 * removed connection is freed at once: no deferred reclamation is needed.
 * (The Swift table refreshes after unlocking and so needs its reclaimer;
 * the lock acquisitions counted are the same.)
 *
 * Faults for the detectors, chosen when the table is created from the
 * environment variable CTB_EXAMPLE_FAULT (or at build time with
 * -DCTB_EXAMPLE_FAULT='"..."'): "descending-lock-order" (insert locks the
 * higher bucket first) or "skip-bucket-lock" (a removal edits the
 * partner's list without its lock). An environment variable rather than a
 * separate build, so one built library serves the normal runs, the rank
 * checker's test and the ThreadSanitizer scripts (which only add
 * -fsanitize=thread). With a fault, removed connections are never freed
 * (as the Swift table does), so the run shows the race or the order
 * violation rather than a use-after-free.
 */
#define _GNU_SOURCE
#include "conntrack_bench_design.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

_Static_assert(sizeof(struct ctb_tracker_state) == CTB_TRACKER_STATE_SIZE, "tracker state size");
_Static_assert(sizeof(struct ctb_packet) == 112, "packet size");

struct conn;

/* One tuple of a connection: an element of its bucket's list. Exactly one
 * cache line (64-byte aligned, 64 bytes), as the Swift table's tuples: a
 * lookup walking a chain reads `next` and `id` of each tuple, and a tuple
 * that straddled two lines cost two misses per step. */
struct tnode {
    _Alignas(64) struct tnode *next;  /* protected by the lock of the bucket this tuple is in */
    struct tnode *prev;               /* protected by the lock of the bucket this tuple is in */
    struct conn *conn;                /* immutable */
    struct ctb_tuple id;              /* immutable */
};
_Static_assert(sizeof(struct tnode) == 64, "a tuple is one cache line");

struct conn {
    /* Lines 0 and 1: what an expiry check and a removal read; each tuple
     * then has a line of its own. */
    pthread_mutex_t mu;           /* the connection lock */
    int64_t last_used;            /* protected by mu */
    uint32_t bucket[2];           /* the buckets the original and reply tuples hash to: set at insert, changed only by a resize (under the table write lock) */
    struct ctb_tracker_state tr;  /* protected by mu */
    uint64_t serial;              /* immutable after insert: insertion order (export) */
    uint8_t removed;              /* with a fault: on the removed list (destroy frees it from there) */
    uint8_t nat;                  /* immutable */
    struct conn *dead_next;       /* with a fault: the list of removed connections */
    struct tnode original;        /* immutable after insert */
    struct tnode reply;           /* immutable after insert */
};
_Static_assert(sizeof(struct conn) % 64 == 0, "a connection is whole cache lines");

struct bucket {
    pthread_mutex_t mu;    /* the bucket lock (stable address) */
    struct tnode *head;    /* protected by mu */
    uint64_t length;       /* protected by mu */
    uint64_t contended;    /* protected by mu: acquisitions that found it held */
};

struct table {
    pthread_rwlock_t rw;          /* the table lock: read by every operation, written by export/import/checks */
    struct bucket *buckets;       /* protected by rw: replaced only by a resize, under the write lock; contents protected by each bucket's mu */
    uint64_t n;                   /* protected by rw, as buckets */
    uint64_t n_inverse;           /* protected by rw, as buckets: 2^64 / n rounded up, for bucket_of when n < 2^32 (else 0) */
    uint32_t seed;                /* immutable */
    const struct ctb_host *host;  /* immutable */
    int descending;               /* immutable: fault descending-lock-order */
    int skip_partner_lock;        /* immutable: fault skip-bucket-lock */
    uint64_t max_conns;           /* immutable: UINT64_MAX when no limit */
    uint32_t early_drop_buckets;  /* immutable */
    _Atomic uint64_t serial;      /* next insertion serial (taken under both bucket locks) */
    _Atomic int64_t live;         /* with a limit: live connections plus inserts in flight */
    _Atomic int64_t peak;         /* with a limit: the most at once */
    _Atomic(struct conn *) dead;  /* with a fault: removed connections, freed at destroy */
};

/* ---- locks, through the hooks ---------------------------------------- */

static void __attribute__((noreturn, cold)) die(const char *what, int rc) {
    fprintf(stderr, "example plugin: %s failed: %s\n", what, strerror(rc));
    abort();
}

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Each lock is tried first, so an uncontended acquisition is reported as
 * such; built with -DCTB_BLOCKING_LOCKS (scripts/tsan-lockorder), every
 * lock is taken with a blocking call, because GCC ThreadSanitizer's
 * deadlock detector ignores try-locks.
 */
#ifdef CTB_BLOCKING_LOCKS
#define TRY(call) EBUSY
#define CONTENDED 0 /* not known: no try came first */
#else
#define TRY(call) (call)
#define CONTENDED 1
#endif

/* The blocking halves, out of line: the uncontended path stays a try, an
 * increment and a branch, as in the Swift `RankedLock`. */
static void __attribute__((noinline, cold)) table_lock_blocking(struct table *t, int write, struct ctb_ctx *ctx) {
    ctb_lock_will_wait(t->host, ctx, CTB_LOCK_TABLE, 0);
    uint64_t t0 = mono_ns();
    int rc = write ? pthread_rwlock_wrlock(&t->rw) : pthread_rwlock_rdlock(&t->rw);
    if (rc != 0) die(write ? "pthread_rwlock_wrlock" : "pthread_rwlock_rdlock", rc);
    ctb_lock_acquired(t->host, ctx, CTB_LOCK_TABLE, 0, CONTENDED, mono_ns() - t0);
}

static void __attribute__((noinline, cold)) mutex_lock_blocking(struct table *t, pthread_mutex_t *m, uint32_t cls,
                                                                uint64_t index, uint64_t *contended,
                                                                struct ctb_ctx *ctx) {
    ctb_lock_will_wait(t->host, ctx, cls, index);
    uint64_t t0 = mono_ns();
    int rc = pthread_mutex_lock(m);
    if (rc != 0) die("pthread_mutex_lock", rc);
    if (contended && CONTENDED) (*contended)++;
    ctb_lock_acquired(t->host, ctx, cls, index, CONTENDED, mono_ns() - t0);
}

/*
 * The lock helpers take their caller's site (`__FILE__`, `__LINE__`, through
 * the macros after each), so that a lock-order report names the line that
 * asked for the lock, not the helper's.
 */
static inline __attribute__((always_inline)) void table_rdlock_at(struct table *t, struct ctb_ctx *ctx,
                                                                  const char *file, uint32_t line) {
    ctb_lock_will_acquire_at(t->host, ctx, CTB_LOCK_TABLE, 0, file, line);
    int rc = TRY(pthread_rwlock_tryrdlock(&t->rw));
    if (__builtin_expect(rc == 0, 1)) { ctb_lock_acquired(t->host, ctx, CTB_LOCK_TABLE, 0, 0, 0); return; }
    if (rc != EBUSY && rc != EAGAIN) die("pthread_rwlock_tryrdlock", rc);
    table_lock_blocking(t, 0, ctx);
}

#define table_rdlock(t, ctx) table_rdlock_at((t), (ctx), __FILE__, __LINE__)

static inline __attribute__((always_inline)) void table_wrlock_at(struct table *t, struct ctb_ctx *ctx,
                                                                  const char *file, uint32_t line) {
    ctb_lock_will_acquire_at(t->host, ctx, CTB_LOCK_TABLE, 0, file, line);
    int rc = TRY(pthread_rwlock_trywrlock(&t->rw));
    if (__builtin_expect(rc == 0, 1)) { ctb_lock_acquired(t->host, ctx, CTB_LOCK_TABLE, 0, 0, 0); return; }
    if (rc != EBUSY) die("pthread_rwlock_trywrlock", rc);
    table_lock_blocking(t, 1, ctx);
}
#define table_wrlock(t, ctx) table_wrlock_at((t), (ctx), __FILE__, __LINE__)

static inline __attribute__((always_inline)) void table_unlock(struct table *t, struct ctb_ctx *ctx) {
    int rc = pthread_rwlock_unlock(&t->rw);
    if (rc != 0) die("pthread_rwlock_unlock", rc);
    ctb_lock_released(t->host, ctx, CTB_LOCK_TABLE, 0);
}

static inline __attribute__((always_inline)) void mutex_lock(struct table *t, pthread_mutex_t *m, uint32_t cls,
                                                             uint64_t index, uint64_t *contended,
                                                             struct ctb_ctx *ctx, const char *file, uint32_t line) {
    ctb_lock_will_acquire_at(t->host, ctx, cls, index, file, line);
    int rc = TRY(pthread_mutex_trylock(m));
    if (__builtin_expect(rc == 0, 1)) { ctb_lock_acquired(t->host, ctx, cls, index, 0, 0); return; }
    if (rc != EBUSY) die("pthread_mutex_trylock", rc);
    mutex_lock_blocking(t, m, cls, index, contended, ctx);
}

static inline __attribute__((always_inline)) void mutex_unlock(struct table *t, pthread_mutex_t *m, uint32_t cls, uint64_t index,
                                struct ctb_ctx *ctx) {
    int rc = pthread_mutex_unlock(m);
    if (rc != 0) die("pthread_mutex_unlock", rc);
    ctb_lock_released(t->host, ctx, cls, index);
}

/* Preconditions: the table lock is held. */
static inline void lock_bucket_at(struct table *t, uint64_t i, struct ctb_ctx *ctx, const char *file, uint32_t line) {
    struct bucket *b = &t->buckets[i];
    mutex_lock(t, &b->mu, CTB_LOCK_BUCKET, i, &b->contended, ctx, file, line);
}
#define lock_bucket(t, i, ctx) lock_bucket_at((t), (i), (ctx), __FILE__, __LINE__)
static inline void unlock_bucket(struct table *t, uint64_t i, struct ctb_ctx *ctx) {
    mutex_unlock(t, &t->buckets[i].mu, CTB_LOCK_BUCKET, i, ctx);
}
static inline void lock_conn_at(struct table *t, struct conn *c, struct ctb_ctx *ctx, const char *file, uint32_t line) {
    mutex_lock(t, &c->mu, CTB_LOCK_CONNECTION, 0, NULL, ctx, file, line);
}
#define lock_conn(t, c, ctx) lock_conn_at((t), (c), (ctx), __FILE__, __LINE__)
static inline void unlock_conn(struct table *t, struct conn *c, struct ctb_ctx *ctx) {
    mutex_unlock(t, &c->mu, CTB_LOCK_CONNECTION, 0, ctx);
}

static inline uint64_t bucket_of(const struct table *t, const struct ctb_tuple *id) {
    uint32_t h = ctb_jenkins_hash(id, t->seed);
    /* h % n by multiplication (exact for a 32-bit h and n: Lemire, Kaser and
     * Kurz, "Faster remainder by direct computation", 2019): a 64-bit
     * division costs more than the rest of the lookup's arithmetic. */
    if (t->n_inverse != 0) return (uint64_t)(((unsigned __int128)(t->n_inverse * h) * t->n) >> 64);
    return (uint64_t)h % t->n;
}

/* ---- connections and lists ------------------------------------------- */

static struct conn *conn_new(const struct table *t, const struct ctb_tuple *orig, const struct ctb_tuple *reply,
                             int64_t now, uint8_t nat) {
    struct conn *c = aligned_alloc(64, (sizeof(struct conn) + 63) / 64 * 64);
    if (c == NULL) { fprintf(stderr, "example plugin: out of memory\n"); abort(); }
    memset(c, 0, sizeof *c);
    int rc = pthread_mutex_init(&c->mu, NULL);
    if (rc != 0) die("pthread_mutex_init", rc);
    c->last_used = now;
    c->nat = nat;
    c->original.conn = c; c->original.id = *orig; c->bucket[0] = (uint32_t)bucket_of(t, orig);
    c->reply.conn = c; c->reply.id = *reply; c->bucket[1] = (uint32_t)bucket_of(t, reply);
    return c;
}

static void conn_free(struct conn *c) {
    int rc = pthread_mutex_destroy(&c->mu);
    if (rc != 0) die("pthread_mutex_destroy", rc);
    free(c);
}

static inline struct tnode *partner(struct tnode *x) {
    return x == &x->conn->original ? &x->conn->reply : &x->conn->original;
}

/* The bucket a tuple hashes to (kept in its connection's first line). */
static inline uint64_t node_bucket(const struct tnode *x) {
    return x == &x->conn->original ? x->conn->bucket[0] : x->conn->bucket[1];
}

/* Preconditions: bucket b is locked; x is not linked. */
static inline void push_front(struct table *t, struct tnode *x, uint64_t b) {
    struct bucket *bp = &t->buckets[b];
    x->next = bp->head;
    x->prev = NULL;
    if (bp->head) bp->head->prev = x;
    bp->head = x;
    bp->length++;
}

/* Preconditions: bucket b is locked and x is linked into it. */
static inline void unlink_node(struct table *t, struct tnode *x, uint64_t b) {
    struct bucket *bp = &t->buckets[b];
    if (x->prev) x->prev->next = x->next; else bp->head = x->next;
    if (x->next) x->next->prev = x->prev;
    x->next = x->prev = NULL;
    bp->length--;
}

/* Preconditions: bucket b is locked. */
static struct tnode *find(struct table *t, const struct ctb_tuple *id, uint64_t b) {
    for (struct tnode *x = t->buckets[b].head; x; x = x->next)
        if (ctb_tuple_equal(&x->id, id)) return x;
    return NULL;
}

static inline int limited(const struct table *t) { return t->max_conns != UINT64_MAX; }

/* A connection unlinked from both buckets: give its place back and free it. */
static void retire(struct table *t, struct conn *c) {
    if (limited(t)) atomic_fetch_sub_explicit(&t->live, 1, memory_order_relaxed);
    if (t->descending || t->skip_partner_lock) {
        c->removed = 1;
        struct conn *head = atomic_load_explicit(&t->dead, memory_order_relaxed);
        do { c->dead_next = head; } while (!atomic_compare_exchange_weak(&t->dead, &head, c));
        return;
    }
    conn_free(c);
}

/* Nanoseconds until c times out (negative: expired). Locks c. */
static inline int64_t remaining(struct table *t, struct conn *c, int64_t now, struct ctb_ctx *ctx) {
    lock_conn(t, c, ctx);
    int64_t r = c->last_used + t->host->tracker_timeout(t->host, &c->tr, c->original.id.trans_proto) - now;
    unlock_conn(t, c, ctx);
    return r;
}

enum reap_outcome { ALIVE, DEFERRED, REMOVED };

/* ---- verdicts and events (CTB_TRAIT_TRACES) -------------------------- */

/* c as plain data, read under its lock. */
static void fill_record(struct table *t, struct conn *c, struct ctb_record *r, struct ctb_ctx *ctx) {
    memset(r, 0, sizeof *r);
    r->original = c->original.id;
    r->reply = c->reply.id;
    lock_conn(t, c, ctx);
    r->tracker = c->tr;
    r->last_used = c->last_used;
    unlock_conn(t, c, ctx);
    r->nat = c->nat;
}

/* Reports an event of c when the run records events (c's lock not held). */
static inline void trace_event(struct table *t, struct ctb_ctx *ctx, uint32_t kind, uint32_t packet, struct conn *c,
                               uint32_t reason) {
    if (!(ctx->tracing & CTB_TRACE_EVENTS)) return;
    struct ctb_record r;
    fill_record(t, c, &r, ctx);
    t->host->trace_event(t->host, ctx, kind, packet, &r, reason);
}

/*
 * Refreshes and tracks p with connection x->conn (x the tuple it matched)
 * under the connection's lock; while tracing, fills the outcome's direction
 * and state and reports an UPDATE when the packet changed the state.
 */
static void track(struct table *t, struct tnode *x, const struct ctb_packet *p, int64_t now, uint32_t packet,
                  struct ctb_outcome *o, struct ctb_ctx *ctx) {
    struct conn *c = x->conn;
    uint8_t proto = c->original.id.trans_proto;
    lock_conn(t, c, ctx);
    uint32_t before = ctx->tracing ? t->host->trace_state(t->host, &c->tr, proto) : 0;
    c->last_used = now;
    o->tracker = t->host->tracker_update(t->host, &c->tr, p);
    uint32_t after = ctx->tracing ? t->host->trace_state(t->host, &c->tr, proto) : 0;
    unlock_conn(t, c, ctx);
    if (ctx->tracing) {
        o->direction = (uint8_t)((x == &c->reply ? CTB_DIR_REPLY : 0) | (c->nat ? CTB_DIR_NAT : 0));
        o->trace_state = after;
        if (after != before) trace_event(t, ctx, CTB_EVENT_UPDATE, packet, c, 0);
    }
}

/*
 * Removes x's connection if it has timed out and lock order allows.
 * Preconditions: the table lock is held and bucket b is locked.
 */
static enum reap_outcome reap_tuple_locked(struct table *t, struct tnode *x, uint64_t b, int64_t now,
                                           int64_t *rem, uint32_t packet, uint32_t reason, struct ctb_ctx *ctx) {
    struct conn *c = x->conn;
    int64_t r = remaining(t, c, now, ctx);
    *rem = r;
    if (r >= 0) return ALIVE;
    struct tnode *p = partner(x);
    uint64_t rb = node_bucket(p);
    if (b > rb) return DEFERRED;  /* locking rb now would break the order */
    int lock_partner = b != rb && !t->skip_partner_lock;
    if (lock_partner) lock_bucket(t, rb, ctx);
    unlink_node(t, p, rb);
    unlink_node(t, x, b);
    if (lock_partner) unlock_bucket(t, rb, ctx);
    trace_event(t, ctx, CTB_EVENT_DESTROY, packet, c, reason);
    retire(t, c);
    return REMOVED;
}

/* ---- packet path ----------------------------------------------------- */

/*
 * Walks bucket b for id, reaping expired connections on the way; on a
 * match, refreshes and tracks it under its lock before the bucket is
 * unlocked. Preconditions: the table lock is held.
 */
static int lookup_and_track(struct table *t, const struct ctb_packet *p, uint64_t b, int64_t now, uint32_t packet,
                            struct ctb_outcome *o, struct ctb_ctx *ctx) {
    lock_bucket(t, b, ctx);
    uint32_t walked = 0;
    struct tnode *x = t->buckets[b].head;
    int found = 0;
    while (x) {
        walked++;
        struct tnode *next = x->next;
        struct tnode *after = next ? next->next : NULL;
        int64_t rem;
        enum reap_outcome r = reap_tuple_locked(t, x, b, now, &rem, packet, CTB_REMOVED_INLINE, ctx);
        if (r == DEFERRED) { o->deferred++; x = x->next; continue; }
        if (r == REMOVED) {
            o->removed_inline++;
            /* fixed: continue from the saved successor, skipping the partner if it was that. */
            x = next == partner(x) ? after : next;
            continue;
        }
        if (ctb_tuple_equal(&x->id, &p->id)) { found = 1; break; }
        x = x->next;
    }
    o->lookups = 1;
    o->walked = walked;
    if (found) {
        track(t, x, p, now, packet, o, ctx);
        o->kind = CTB_OUT_FOUND;
    }
    unlock_bucket(t, b, ctx);
    return found;
}

/*
 * At the limit: removes one connection that is not established from
 * bucket b or the next few (Linux's early drop), only where the partner's
 * bucket is not lower (lock order). Preconditions: the table lock is held,
 * no bucket is.
 */
static int early_drop(struct table *t, uint64_t b, uint32_t packet, struct ctb_outcome *o, struct ctb_ctx *ctx) {
    uint64_t n = t->n, k_max = t->early_drop_buckets < n ? t->early_drop_buckets : n;
    for (uint64_t k = 0; k < k_max; k++) {
        uint64_t i = (b + k) % n;
        lock_bucket(t, i, ctx);
        for (struct tnode *x = t->buckets[i].head; x; x = x->next) {
            struct conn *c = x->conn;
            lock_conn(t, c, ctx);
            int established = t->host->tracker_established(t->host, &c->tr);
            unlock_conn(t, c, ctx);
            uint64_t pb = node_bucket(partner(x));
            if (!established && pb >= i) {
                if (pb != i) lock_bucket(t, pb, ctx);
                unlink_node(t, partner(x), pb);
                unlink_node(t, x, i);
                if (pb != i) unlock_bucket(t, pb, ctx);
                unlock_bucket(t, i, ctx);
                trace_event(t, ctx, CTB_EVENT_DESTROY, packet, c, CTB_REMOVED_EARLY_DROP);
                retire(t, c);
                o->early_dropped++;
                return 1;
            }
        }
        unlock_bucket(t, i, ctx);
    }
    return 0;
}

/* Takes a place before an insert, early-dropping while full. */
static int reserve(struct table *t, uint64_t b, uint32_t packet, struct ctb_outcome *o, struct ctb_ctx *ctx) {
    if (!limited(t)) return 1;
    for (;;) {
        int64_t cur = atomic_load_explicit(&t->live, memory_order_relaxed);
        while ((uint64_t)cur < t->max_conns) {
            if (atomic_compare_exchange_weak_explicit(&t->live, &cur, cur + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                return 1;
        }
        if (!early_drop(t, b, packet, o, ctx)) return 0;
    }
}

static void note_inserted(struct table *t) {
    if (!limited(t)) return;
    int64_t n = atomic_load_explicit(&t->live, memory_order_relaxed);
    int64_t p = atomic_load_explicit(&t->peak, memory_order_relaxed);
    while (n > p && !atomic_compare_exchange_weak_explicit(&t->peak, &p, n, memory_order_relaxed,
                                                           memory_order_relaxed)) {}
}

/* Creates and inserts a connection for p (the seed's createConnFor, fixed). */
static void create(struct table *t, const struct ctb_packet *p, int64_t now, uint32_t packet, struct ctb_outcome *o,
                   struct ctb_ctx *ctx) {
    table_rdlock(t, ctx);
    uint64_t tb = bucket_of(t, &p->id), rb = bucket_of(t, &p->reply);
    if (!reserve(t, tb, packet, o, ctx)) {
        table_unlock(t, ctx);
        o->kind = CTB_OUT_DROP_LIMIT;
        return;
    }
    uint64_t lo = tb < rb ? tb : rb, hi = tb < rb ? rb : tb;
    uint64_t first = t->descending ? hi : lo, second = t->descending ? lo : hi;
    struct conn *created = NULL;
    lock_bucket(t, first, ctx);
    if (second != first) lock_bucket(t, second, ctx);
    struct tnode *existing = find(t, &p->id, tb);
    if (existing) {
        /* The re-check found the tuple: track the packet with it. */
        track(t, existing, p, now, packet, o, ctx);
        o->kind = CTB_OUT_CLASH;
        if (limited(t)) atomic_fetch_sub_explicit(&t->live, 1, memory_order_relaxed);
    } else if (find(t, &p->reply, rb)) {
        o->kind = CTB_OUT_INSERT_FAILED;
        if (limited(t)) atomic_fetch_sub_explicit(&t->live, 1, memory_order_relaxed);
    } else {
        created = conn_new(t, &p->id, &p->reply, now, p->nat);
        struct conn *c = created;
        c->serial = atomic_fetch_add_explicit(&t->serial, 1, memory_order_relaxed);
        push_front(t, &c->original, tb);
        push_front(t, &c->reply, rb);
        note_inserted(t);
        /* The creating packet initialises the tracker (fixed). */
        lock_conn(t, c, ctx);
        t->host->tracker_init(t->host, &c->tr, p);
        unlock_conn(t, c, ctx);
        o->kind = CTB_OUT_CREATED;
        o->tracker = CTB_TRACKER_INIT;
    }
    /* NEW once it is in the table, with its state after the creating packet:
     * read while its buckets are locked, since a pass may remove and free it
     * as soon as they are not. */
    if (created) trace_event(t, ctx, CTB_EVENT_NEW, packet, created, 0);
    unlock_bucket(t, first, ctx);
    if (second != first) unlock_bucket(t, second, ctx);
    table_unlock(t, ctx);
}

static void process_batch(void *table, void *worker, struct ctb_batch *batch, struct ctb_counters *counters,
                          struct ctb_ctx *ctx) {
    (void)worker; (void)counters;
    struct table *t = table;
    const int per_packet = (batch->flags & CTB_BATCH_PACKET_TIME) != 0;
    for (uint32_t i = 0; i < batch->count; i++) {
        const struct ctb_packet *p = &batch->packets[i];
        struct ctb_outcome *o = &batch->outcomes[i];
        int64_t now = per_packet ? p->timestamp : batch->now;
        o->tracker = CTB_TRACKER_NONE;
        table_rdlock(t, ctx);
        int found = lookup_and_track(t, p, bucket_of(t, &p->id), now, i, o, ctx);
        table_unlock(t, ctx);
        if (!found) create(t, p, now, i, o, ctx);
    }
}

/* ---- reaper ---------------------------------------------------------- */

static uint64_t sweep_slots(void *table) { return ((struct table *)table)->n; }

static void reap_pass(void *table, const struct ctb_pass_args *a, struct ctb_pass_result *out,
                      struct ctb_ctx *ctx) {
    struct table *t = table;
    memset(out, 0, sizeof *out);
    __int128 sum = 0;
    table_rdlock(t, ctx);
    uint64_t idx = 0, i = 0;
    while (i < a->max_slots) {
        idx = (i + a->start) % t->n;
        lock_bucket(t, idx, ctx);
        struct tnode *x = t->buckets[idx].head;
        while (x) {
            struct tnode *next = x->next;
            struct tnode *after = next ? next->next : NULL;
            out->checked++;
            int64_t rem;
            enum reap_outcome r = reap_tuple_locked(t, x, idx, a->now, &rem, CTB_NO_PACKET, CTB_REMOVED_REAPER, ctx);
            if (r == ALIVE) { sum += rem; out->live_checked++; x = x->next; }
            else if (r == DEFERRED) { out->expired++; out->deferred++; x = x->next; }
            else { out->expired++; out->removed++; x = next == partner(x) ? after : next; }
        }
        unlock_bucket(t, idx, ctx);
        i++;
        if (out->removed >= a->max_evictions) { out->stopped_early = i < a->max_slots; break; }
    }
    table_unlock(t, ctx);
    out->slots_scanned = i;
    out->next_start = idx + 1;
    out->remaining_lo = (uint64_t)sum;
    out->remaining_hi = (int64_t)(sum >> 64);
}

/* ---- create / destroy ------------------------------------------------ */

static void *create_table(const struct ctb_config *cfg, const struct ctb_host *host, char *err, size_t err_len) {
    if (cfg->buckets < 1 || cfg->buckets > (1u << 28)) {
        snprintf(err, err_len, "buckets must be in 1...%u, got %llu", 1u << 28, (unsigned long long)cfg->buckets);
        return NULL;
    }
    struct table *t = calloc(1, sizeof *t);
    if (!t) { snprintf(err, err_len, "out of memory"); return NULL; }
    const char *fault = getenv("CTB_EXAMPLE_FAULT");
#ifdef CTB_EXAMPLE_FAULT
    if (fault == NULL) fault = CTB_EXAMPLE_FAULT;
#endif
    if (fault && *fault) {
        if (strcmp(fault, "descending-lock-order") == 0) t->descending = 1;
        else if (strcmp(fault, "skip-bucket-lock") == 0) t->skip_partner_lock = 1;
        else {
            snprintf(err, err_len, "CTB_EXAMPLE_FAULT must be descending-lock-order or skip-bucket-lock, got '%s'", fault);
            free(t);
            return NULL;
        }
    }
    int rc = pthread_rwlock_init(&t->rw, NULL);
    if (rc != 0) die("pthread_rwlock_init", rc);
    t->n = cfg->buckets;
    t->n_inverse = t->n >= 2 && t->n <= UINT32_MAX ? UINT64_MAX / t->n + 1 : 0;
    t->buckets = calloc(t->n, sizeof *t->buckets);
    if (!t->buckets) { snprintf(err, err_len, "out of memory for %llu buckets", (unsigned long long)t->n); free(t); return NULL; }
    for (uint64_t i = 0; i < t->n; i++)
        if ((rc = pthread_mutex_init(&t->buckets[i].mu, NULL)) != 0) die("pthread_mutex_init", rc);
    t->seed = host->hash_seed;
    t->host = host;
    t->max_conns = cfg->max_connections ? cfg->max_connections : UINT64_MAX;
    t->early_drop_buckets = cfg->early_drop_buckets;
    return t;
}

static struct conn **connections(struct table *t, size_t *count);

static void destroy_table(void *table) {
    struct table *t = table;
    /* Collect first: a connection is reached from both its tuples. */
    size_t n;
    struct conn **v = connections(t, &n);
    for (size_t i = 0; i < n; i++) if (!v[i]->removed) conn_free(v[i]);
    free(v);
    for (uint64_t i = 0; i < t->n; i++) {
        int rc = pthread_mutex_destroy(&t->buckets[i].mu);
        if (rc != 0) die("pthread_mutex_destroy", rc);
    }
    struct conn *d = atomic_load(&t->dead);
    while (d) { struct conn *next = d->dead_next; conn_free(d); d = next; }
    free(t->buckets);
    int rc = pthread_rwlock_destroy(&t->rw);
    if (rc != 0) die("pthread_rwlock_destroy", rc);
    free(t);
}

/* ---- export / import ------------------------------------------------- */

static int by_serial(const void *a, const void *b) {
    uint64_t x = (*(struct conn *const *)a)->serial, y = (*(struct conn *const *)b)->serial;
    return x < y ? -1 : x > y;
}

/*
 * Connections oldest first: every list is in descending insertion order
 * (push-front; removal never reorders), so ascending serials are an order
 * consistent with every list, and re-inserting in it rebuilds each list.
 * Preconditions: the write lock is held.
 */
static struct conn **connections(struct table *t, size_t *count) {
    size_t n = 0, cap = 1024;
    struct conn **v = malloc(cap * sizeof *v);
    if (!v) abort();
    for (uint64_t i = 0; i < t->n; i++)
        for (struct tnode *x = t->buckets[i].head; x; x = x->next) {
            if (x != &x->conn->original) continue;
            if (n == cap) { cap *= 2; v = realloc(v, cap * sizeof *v); if (!v) abort(); }
            v[n++] = x->conn;
        }
    qsort(v, n, sizeof *v, by_serial);
    *count = n;
    return v;
}

static void for_each_connection(void *table, void (*body)(void *, const struct ctb_record *), void *arg,
                                struct ctb_ctx *ctx) {
    struct table *t = table;
    table_wrlock(t, ctx);
    size_t n;
    struct conn **v = connections(t, &n);
    for (size_t i = 0; i < n; i++) {
        struct ctb_record r;
        fill_record(t, v[i], &r, ctx);
        body(arg, &r);
    }
    free(v);
    table_unlock(t, ctx);
}

static int import_connections(void *table, const struct ctb_record *rs, size_t n, struct ctb_ctx *ctx,
                              char *err, size_t err_len) {
    struct table *t = table;
    if (limited(t) && n > t->max_conns) {
        snprintf(err, err_len, "more connections (%zu) than --max-connections %llu", n,
                 (unsigned long long)t->max_conns);
        return 1;
    }
    table_wrlock(t, ctx);
    for (size_t i = 0; i < n; i++) {
        const struct ctb_record *r = &rs[i];
        struct conn *c = conn_new(t, &r->original, &r->reply, r->last_used, r->nat);
        c->tr = r->tracker;
        c->serial = atomic_fetch_add_explicit(&t->serial, 1, memory_order_relaxed);
        uint64_t tb = c->bucket[0], rb = c->bucket[1];
        uint64_t lo = tb < rb ? tb : rb, hi = tb < rb ? rb : tb;
        lock_bucket(t, lo, ctx);
        if (hi != lo) lock_bucket(t, hi, ctx);
        push_front(t, &c->original, tb);
        push_front(t, &c->reply, rb);
        unlock_bucket(t, lo, ctx);
        if (hi != lo) unlock_bucket(t, hi, ctx);
    }
    table_unlock(t, ctx);
    if (limited(t)) { atomic_store(&t->live, (int64_t)n); note_inserted(t); }
    return 0;
}

/* ---- operations on a running table (ABI 3) ---------------------------- */

/*
 * Bucket by bucket, each under the table's read lock and its own lock, as
 * the packet path takes them: a tuple cannot be unlinked from a bucket
 * while its lock is held, so each connection is listed once, at its
 * original tuple. Between buckets nothing is held, so a packet or a pass
 * waits for one bucket at most.
 */
static void dump_running(void *table, int64_t now, void (*body)(void *, const struct ctb_record *), void *arg,
                         struct ctb_op_counts *out, struct ctb_ctx *ctx) {
    struct table *t = table;
    (void)now;
    for (uint64_t b = 0; b < t->n; b++) {
        table_rdlock(t, ctx);
        lock_bucket(t, b, ctx);
        for (struct tnode *x = t->buckets[b].head; x; x = x->next) {
            out->visited++;
            if (x != &x->conn->original) continue;
            struct ctb_record r;
            fill_record(t, x->conn, &r, ctx);
            body(arg, &r);
            out->listed++;
        }
        unlock_bucket(t, b, ctx);
        table_unlock(t, ctx);
    }
}

/*
 * The same walk; a matching connection is removed at the lower of its two
 * buckets, with the partner's bucket locked after it (ascending, as the
 * lock order says), so it is met once with both locks takeable.
 */
static void remove_running(void *table, int64_t now, int (*matches)(void *, const struct ctb_tuple *), void *arg,
                           struct ctb_op_counts *out, struct ctb_ctx *ctx) {
    struct table *t = table;
    (void)now;
    for (uint64_t b = 0; b < t->n; b++) {
        table_rdlock(t, ctx);
        lock_bucket(t, b, ctx);
        struct tnode *x = t->buckets[b].head;
        while (x) {
            out->visited++;
            struct tnode *next = x->next;
            struct tnode *after = next ? next->next : NULL;
            struct conn *c = x->conn;
            struct tnode *p = partner(x);
            uint64_t rb = node_bucket(p);
            if (rb < b || !matches(arg, &c->original.id)) { x = next; continue; }
            int lock_partner = rb != b && !t->skip_partner_lock;
            if (lock_partner) lock_bucket(t, rb, ctx);
            unlink_node(t, p, rb);
            unlink_node(t, x, b);
            if (lock_partner) unlock_bucket(t, rb, ctx);
            retire(t, c);
            out->removed++;
            x = next == p ? after : next;
        }
        unlock_bucket(t, b, ctx);
        table_unlock(t, ctx);
    }
}

/*
 * ABI 4: the table lock taken for writing, which every packet, pass and
 * walk read-locks, as the bucket table's resize does: the new array is
 * made first and the old one freed after, so only the move is in the
 * pause. Each old list is moved from its tail, so the tuples that share a
 * new bucket and came from one old list keep their order.
 */
static uint64_t resize_running(void *table, uint64_t slots, struct ctb_op_counts *out, struct ctb_ctx *ctx) {
    struct table *t = table;
    if (slots > UINT32_MAX) slots = UINT32_MAX; /* a connection keeps its buckets in 32 bits */
    struct bucket *fresh = calloc(slots, sizeof *fresh);
    if (!fresh) die("calloc", ENOMEM);
    int rc;
    for (uint64_t i = 0; i < slots; i++)
        if ((rc = pthread_mutex_init(&fresh[i].mu, NULL)) != 0) die("pthread_mutex_init", rc);
    table_wrlock(t, ctx);
    struct bucket *old = t->buckets;
    uint64_t old_n = t->n;
    t->buckets = fresh;
    t->n = slots;
    t->n_inverse = slots >= 2 ? UINT64_MAX / slots + 1 : 0;
    for (uint64_t b = 0; b < old_n; b++) {
        struct tnode *x = old[b].head;
        while (x && x->next) x = x->next;
        while (x) {
            struct tnode *prev = x->prev;
            uint64_t nb = bucket_of(t, &x->id);
            x->conn->bucket[x == &x->conn->original ? 0 : 1] = (uint32_t)nb;
            push_front(t, x, nb);
            out->visited++;
            x = prev;
        }
    }
    table_unlock(t, ctx);
    for (uint64_t b = 0; b < old_n; b++)
        if ((rc = pthread_mutex_destroy(&old[b].mu)) != 0) die("pthread_mutex_destroy", rc);
    free(old);
    return slots;
}

/* ---- inspection ------------------------------------------------------ */

static uint64_t inspect(void *table, struct ctb_slot_info *slots, uint64_t n) {
    struct table *t = table;
    int rc;
    if ((rc = pthread_rwlock_rdlock(&t->rw)) != 0) die("pthread_rwlock_rdlock", rc);
    for (uint64_t i = 0; i < n && i < t->n; i++) {
        struct bucket *b = &t->buckets[i];
        if ((rc = pthread_mutex_lock(&b->mu)) != 0) die("pthread_mutex_lock", rc);
        slots[i].length = b->length;
        slots[i].contended = b->contended;
        if ((rc = pthread_mutex_unlock(&b->mu)) != 0) die("pthread_mutex_unlock", rc);
    }
    if ((rc = pthread_rwlock_unlock(&t->rw)) != 0) die("pthread_rwlock_unlock", rc);
    return t->n;
}

/* Links both ways, lengths, every tuple in the bucket it hashes to. */
static uint64_t check_invariants(void *table, char *buf, size_t len) {
    struct table *t = table;
    uint64_t bad = 0;
    size_t used = 0;
    int rc;
/* One line per violation, the buffer NUL-terminated within len whatever is cut. */
#define VIOLATION(...) do { bad++; if (used + 1 < len) { int w = snprintf(buf + used, len - used, __VA_ARGS__); \
        if (w > 0) { used += (size_t)w; if (used > len - 1) used = len - 1; } \
        if (used + 1 < len) { buf[used++] = '\n'; buf[used] = '\0'; } } } while (0)
    if ((rc = pthread_rwlock_wrlock(&t->rw)) != 0) die("pthread_rwlock_wrlock", rc);
    for (uint64_t i = 0; i < t->n; i++) {
        uint64_t count = 0;
        struct tnode *prev = NULL;
        for (struct tnode *x = t->buckets[i].head; x; x = x->next) {
            if (++count > t->buckets[i].length + 1000000) { VIOLATION("bucket %llu: list does not terminate", (unsigned long long)i); break; }
            if (x->prev != prev) VIOLATION("bucket %llu: a prev link is wrong", (unsigned long long)i);
            if (node_bucket(x) != i || bucket_of(t, &x->id) != i)
                VIOLATION("bucket %llu: a tuple hashing to %llu sits here", (unsigned long long)i,
                          (unsigned long long)bucket_of(t, &x->id));
            prev = x;
        }
        if (count != t->buckets[i].length)
            VIOLATION("bucket %llu: length field %llu but %llu tuples linked", (unsigned long long)i,
                      (unsigned long long)t->buckets[i].length, (unsigned long long)count);
    }
    if ((rc = pthread_rwlock_unlock(&t->rw)) != 0) die("pthread_rwlock_unlock", rc);
#undef VIOLATION
    if (used > 0 && used <= len) buf[used - 1] = '\0'; else if (len > 0) buf[0] = '\0';
    return bad;
}

/* Kept only with a limit: an always-on shared counter would cost every insert. */
static int64_t peak_connections(void *table) {
    struct table *t = table;
    return limited(t) ? atomic_load_explicit(&t->peak, memory_order_relaxed) : -1;
}

/* ---- the descriptor -------------------------------------------------- */

static const struct ctb_design design = {
    .abi_version = CTB_ABI_VERSION,
    .traits = CTB_TRAIT_HASH_SEED | CTB_TRAIT_SIZED_BY_BUCKETS | CTB_TRAIT_CONNECTION_LIMIT |
              CTB_TRAIT_TRACKS_CONNECTIONS | CTB_TRAIT_KEEPS_NAT | CTB_TRAIT_UNIQUE_TUPLES |
              CTB_TRAIT_REPORTS_LOCKS | CTB_TRAIT_COMPLETE_SWEEP | CTB_TRAIT_TRACES,
    .name = "example-buckets",
    .summary = "the bucket table's fixed rules in C, loaded through the plugin ABI (Sources/ExampleDesign)",
    .slot_name = "bucket",
    .default_policy = "seed",
    .knobs = NULL,
    .knob_count = 0,
    .bytes_per_connection = (uint32_t)((sizeof(struct conn) + 63) / 64 * 64),
    .create = create_table,
    .destroy = destroy_table,
    .process_batch = process_batch,
    .sweep_slots = sweep_slots,
    .reap_pass = reap_pass,
    .for_each_connection = for_each_connection,
    .import_connections = import_connections,
    .inspect = inspect,
    .check_invariants = check_invariants,
    /* Its buckets and connections come from malloc, which the harness
     * already measures: no memory_bytes (it would count them twice). */
    .memory_bytes = NULL,
    .peak_connections = peak_connections,
    .dump_running = dump_running,
    .remove_running = remove_running,
    .resize_running = resize_running,
};

__attribute__((visibility("default")))
const struct ctb_design *conntrack_bench_design(void) { return &design; }
