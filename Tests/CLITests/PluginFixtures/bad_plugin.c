/*
 * Test-only plugins, one per -DCASE_*: each is wrong in one way the loader
 * (or the end-of-run cross-check, or the crash guard) must catch. Built by
 * CLITests with `cc -shared -fPIC`. Without a CASE_ define it is the
 * do-nothing plugin (every packet read and counted, nothing kept): against
 * the built-in `null` design it shows the ABI's per-batch cost.
 */
#include "conntrack_bench_design.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nothing { uint64_t digest; int64_t rounds; };

/* Its one knob: extra rounds of the digest per packet (a sweep axis). */
#ifndef CASE_KNOB_NAME
#define CASE_KNOB_NAME "rounds"
#endif
static const struct ctb_knob knobs[] = {
    { .name = CASE_KNOB_NAME, .summary = "extra digest rounds per packet", .min = 0, .max = 64, .default_value = 0 },
};

static void *create(const struct ctb_config *c, const struct ctb_host *h, char *err, size_t len) {
    (void)h; (void)err; (void)len;
#ifdef CASE_EXPECTED_CONNECTIONS
    /* Refuses to run unless told the connections the run expects. */
    if (c->expected_connections != CASE_EXPECTED_CONNECTIONS) {
        snprintf(err, len, "expected_connections %llu, wanted %llu", (unsigned long long)c->expected_connections,
                 (unsigned long long)CASE_EXPECTED_CONNECTIONS);
        return NULL;
    }
#endif
    struct nothing *t = calloc(1, sizeof(struct nothing));
    if (t && c->knob_count == 1) t->rounds = c->knob_values[0];
    return t;
}
static void destroy(void *t) { free(t); }

static void process_batch(void *table, void *worker, struct ctb_batch *b, struct ctb_counters *k, struct ctb_ctx *ctx) {
    (void)worker; (void)k; (void)ctx;
    struct nothing *t = table;
#ifdef CASE_CRASH
    if (b->count > 0) { volatile int *p = NULL; *p = 1; }
#endif
    uint64_t d = t->digest;
    for (uint32_t i = 0; i < b->count; i++) {
        const struct ctb_packet *p = &b->packets[i];
        d = (d * 0x100000001b3ull) ^ (p->id.src_hi ^ p->id.dst_hi ^ p->id.src_port ^ ((uint64_t)p->tcp.seq << 8));
        for (int64_t r = 0; r < t->rounds; r++) d = (d * 0x100000001b3ull) ^ (uint64_t)r;
#ifdef CASE_LOSSY
        /* Says it created a connection for each new tuple, keeps none. */
        b->outcomes[i].kind = CTB_OUT_CREATED;
        b->outcomes[i].lookups = 1;
        b->outcomes[i].tracker = CTB_TRACKER_INIT;
#else
        b->outcomes[i].kind = CTB_OUT_NOT_TRACKED;
        b->outcomes[i].tracker = CTB_TRACKER_NONE;
#endif
    }
    t->digest = d;
}

#ifdef CASE_ZERO_SLOTS
static uint64_t sweep_slots(void *t) { (void)t; return 0; }  /* a reaper with nothing to walk */
#else
static uint64_t sweep_slots(void *t) { (void)t; return 1; }
#endif
#ifdef CASE_NULL_WORKER
/* Per-worker state it fails to make. */
static void *worker_create(void *t) { (void)t; return NULL; }
static void worker_destroy(void *t, void *w) { (void)t; (void)w; }
#endif
static void reap_pass(void *t, const struct ctb_pass_args *a, struct ctb_pass_result *r, struct ctb_ctx *ctx) {
    (void)t; (void)ctx;
    memset(r, 0, sizeof *r);
    r->next_start = a->start + a->max_slots;
    r->slots_scanned = a->max_slots < 1 ? a->max_slots : 1;
}
static void for_each(void *t, void (*body)(void *, const struct ctb_record *), void *arg, struct ctb_ctx *ctx) {
    (void)t; (void)body; (void)arg; (void)ctx;
}
static int import_records(void *t, const struct ctb_record *r, size_t n, struct ctb_ctx *ctx, char *err, size_t len) {
    (void)t; (void)r; (void)ctx; (void)err; (void)len;
    return n == 0 ? 0 : 1;
}

#ifndef CASE_VERSION
#define CASE_VERSION CTB_ABI_VERSION
#endif
#ifndef CASE_NAME
#define CASE_NAME "nothing"
#endif

static const struct ctb_design design = {
    .abi_version = CASE_VERSION,
#ifdef CASE_LOSSY
    .traits = CTB_TRAIT_TRACKS_CONNECTIONS | CTB_TRAIT_REPORTS_LOCKS,
#else
    .traits = CTB_TRAIT_REPORTS_LOCKS,
#endif
    .name = CASE_NAME,
    .summary = "a test plugin",
    .knobs = knobs,
    .knob_count = 1,
    .create = create,
    .destroy = destroy,
#ifndef CASE_NULL_ENTRY
    .process_batch = process_batch,
#endif
#ifdef CASE_NULL_WORKER
    .worker_create = worker_create,
    .worker_destroy = worker_destroy,
#endif
    .sweep_slots = sweep_slots,
    .reap_pass = reap_pass,
    .for_each_connection = for_each,
    .import_connections = import_records,
};

#ifdef CASE_NO_SYMBOL
const struct ctb_design *some_other_symbol(void) { return &design; }
#else
const struct ctb_design *conntrack_bench_design(void) { return &design; }
#endif
