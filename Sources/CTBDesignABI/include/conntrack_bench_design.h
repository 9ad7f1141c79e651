/*
 * conntrack_bench_design.h: the C ABI through which conntrack-bench loads a
 * connection-tracking table design built outside the package (a "plugin").
 * ABI version 4 (the loader still takes version 3, whose descriptor ends
 * at `remove_running`, and version 2, which ends at `peak_connections`;
 * version 1 had no call site in `will_acquire`). Self-contained
 * C11; no Swift types. docs/plugins.md walks
 * through it; Sources/ExampleDesign is a complete plugin.
 *
 * A plugin is a shared object exporting one symbol:
 *
 *     const struct ctb_design *conntrack_bench_design(void);
 *
 * The returned descriptor must stay valid while the object is loaded. Its
 * first field is the ABI version; the loader takes versions 2, 3 and 4
 * and refuses any other.
 *
 * Threads: `process_batch` is called concurrently from the harness's worker
 * threads (one call per batch, each with its own worker state), and
 * `reap_pass` from the reaper thread at the same time. Every other call is
 * made while no packet is processed (create, destroy, export, import,
 * inspection, invariants), unless its comment says otherwise.
 *
 * Every call that may take a lock receives a `struct ctb_ctx *`: the
 * harness's per-thread context, to be handed back unchanged to the lock
 * hooks (or to the inline `ctb_lock_*` helpers, which call them only when
 * the harness needs it). It is only valid during that call.
 */
#ifndef CONNTRACK_BENCH_DESIGN_H
#define CONNTRACK_BENCH_DESIGN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI version this header describes. */
#define CTB_ABI_VERSION 4u

/** The symbol the loader looks up. */
#define CTB_DESIGN_SYMBOL "conntrack_bench_design"

/* ------------------------------------------------------------------ */
/* Packets and tuples                                                  */
/* ------------------------------------------------------------------ */

/** Transport protocol numbers (IANA). */
enum { CTB_PROTO_TCP = 6, CTB_PROTO_UDP = 17 };
/** Network protocol numbers (EtherType values, as the seed hashes them). */
enum { CTB_NET_IPV4 = 0x0800, CTB_NET_IPV6 = 0x86dd };

/** TCP flag bits as on the wire. */
enum {
    CTB_TCP_FIN = 0x01, CTB_TCP_SYN = 0x02, CTB_TCP_RST = 0x04, CTB_TCP_PSH = 0x08,
    CTB_TCP_ACK = 0x10, CTB_TCP_URG = 0x20, CTB_TCP_ECE = 0x40, CTB_TCP_CWR = 0x80
};

/** Netfilter hooks; the tracker's outbound side is the hook that initialised it. */
enum { CTB_HOOK_PREROUTING, CTB_HOOK_INPUT, CTB_HOOK_FORWARD, CTB_HOOK_OUTPUT, CTB_HOOK_POSTROUTING };

/**
 * A connection in one direction (the seed's tupleID). 40 bytes.
 * Addresses are 128 bits as two words: the first byte of the address in
 * network order is the top byte of `*_hi`; an IPv4 address sits in the top
 * 32 bits of `*_hi` and `*_lo` is 0. Two tuples are equal when all fields
 * but `reserved` are equal (`ctb_tuple_equal`).
 */
struct ctb_tuple {
    uint64_t src_hi;      /**< source address, bytes 0..7 */
    uint64_t src_lo;      /**< source address, bytes 8..15 (0 for IPv4) */
    uint64_t dst_hi;      /**< destination address, bytes 0..7 */
    uint64_t dst_lo;      /**< destination address, bytes 8..15 (0 for IPv4) */
    uint16_t src_port;    /**< source port, host order */
    uint16_t dst_port;    /**< destination port, host order */
    uint8_t trans_proto;  /**< CTB_PROTO_TCP or CTB_PROTO_UDP */
    uint8_t reserved;     /**< 0 */
    uint16_t net_proto;   /**< CTB_NET_IPV4 or CTB_NET_IPV6 */
};

/** The TCP fields a tracker reads (ignored for UDP). 16 bytes. */
struct ctb_tcp {
    uint32_t seq;            /**< sequence number */
    uint32_t ack;            /**< acknowledgement number */
    uint16_t window;         /**< window, unscaled */
    uint16_t payload_length; /**< payload bytes */
    uint8_t flags;           /**< CTB_TCP_* bits */
    uint8_t reserved[3];     /**< 0 */
};

/** One packet as the table sees it. 112 bytes. */
struct ctb_packet {
    struct ctb_tuple id;     /**< the packet's tuple */
    struct ctb_tuple reply;  /**< the reply tuple of a connection this packet
                                  creates: `id` reversed, or the NAT redirect's */
    struct ctb_tcp tcp;      /**< TCP fields (UDP: zero) */
    int64_t timestamp;       /**< nanoseconds on the run's clock */
    uint8_t hook;            /**< CTB_HOOK_* the packet is processed on */
    uint8_t nat;             /**< 1: `reply` is a NAT redirect, not `id` reversed */
    uint8_t reserved[6];     /**< 0 */
};

static inline int ctb_tuple_equal(const struct ctb_tuple *a, const struct ctb_tuple *b) {
    return a->src_hi == b->src_hi && a->src_lo == b->src_lo && a->dst_hi == b->dst_hi &&
           a->dst_lo == b->dst_lo && a->src_port == b->src_port && a->dst_port == b->dst_port &&
           a->trans_proto == b->trans_proto && a->net_proto == b->net_proto;
}

/* ------------------------------------------------------------------ */
/* The seed's hash                                                     */
/* ------------------------------------------------------------------ */

static inline uint32_t ctb_jenkins_mix(uint32_t h, uint8_t byte) {
    h += byte;
    h += h << 10;
    h ^= h >> 6;
    return h;
}

/** Mixes the `n` high bytes of `w`, most significant first (n is a constant once inlined: unrolled). */
static inline uint32_t ctb_jenkins_mix_word(uint32_t h, uint64_t w, int n) {
    for (int i = 0; i < n; i++) {
        h = ctb_jenkins_mix(h, (uint8_t)(w >> 56));
        w <<= 8;
    }
    return h;
}

/**
 * The seed's bucket hash: Jenkins one-at-a-time (32 bit) started from the
 * run's hash seed, over the source address bytes, the destination address
 * bytes (4 for IPv4, 16 for IPv6), then source port, destination port,
 * transport protocol and network protocol as 2 little-endian bytes each;
 * bit-compatible with the harness (`ctb_host.hash` is the same function).
 * The seed's bucket is `ctb_jenkins_hash(t, seed) % buckets`.
 */
static inline uint32_t ctb_jenkins_hash(const struct ctb_tuple *t, uint32_t seed) {
    uint32_t h = seed;
    if (t->net_proto == CTB_NET_IPV4) {
        h = ctb_jenkins_mix_word(h, t->src_hi, 4);
        h = ctb_jenkins_mix_word(h, t->dst_hi, 4);
    } else {
        h = ctb_jenkins_mix_word(h, t->src_hi, 8);
        h = ctb_jenkins_mix_word(h, t->src_lo, 8);
        h = ctb_jenkins_mix_word(h, t->dst_hi, 8);
        h = ctb_jenkins_mix_word(h, t->dst_lo, 8);
    }
    const uint16_t tail[4] = { t->src_port, t->dst_port, t->trans_proto, t->net_proto };
    for (int i = 0; i < 4; i++) {
        h = ctb_jenkins_mix(h, (uint8_t)tail[i]);
        h = ctb_jenkins_mix(h, (uint8_t)(tail[i] >> 8));
    }
    h += h << 3;
    h ^= h >> 11;
    h += h << 15;
    return h;
}

/* ------------------------------------------------------------------ */
/* The harness's tracker, as a service                                 */
/* ------------------------------------------------------------------ */

/** Size and alignment of the opaque tracker state (static_assert-able). */
#define CTB_TRACKER_STATE_SIZE 48
#define CTB_TRACKER_STATE_ALIGN 8

/**
 * One connection's tracker state in the harness's format: gVisor's TCP
 * control block (both streams), the UDP replied flag and the hook that
 * initialised it. Opaque: zero it for a new connection, then only pass it
 * to the `ctb_host` tracker calls; copy it as plain bytes. Protected by
 * whatever lock the plugin holds its connection under.
 */
struct ctb_tracker_state {
    uint64_t opaque[CTB_TRACKER_STATE_SIZE / 8];
};

/** Tracker results (gVisor's tcpconntrack.Result). */
enum ctb_tracker_result {
    CTB_TRACKER_DROP = 0,
    CTB_TRACKER_CONNECTING = 1,
    CTB_TRACKER_ALIVE = 2,
    CTB_TRACKER_RESET = 3,
    CTB_TRACKER_CLOSED_BY_PEER = 4,
    CTB_TRACKER_CLOSED_BY_SELF = 5,
    /** The packet initialised the tracker (no result). */
    CTB_TRACKER_INIT = 0xFE,
    /** The packet did not reach a tracker. */
    CTB_TRACKER_NONE = 0xFF
};

/* ------------------------------------------------------------------ */
/* What the harness gives the plugin                                   */
/* ------------------------------------------------------------------ */

/**
 * The harness's per-thread context for one call, valid only during that
 * call. The plugin reads `check_order` and adds to `uncontended`; the rest
 * is the harness's. The `ctb_lock_*` helpers below do both, so that an
 * uncontended acquisition costs an increment and no call when the run does
 * not check lock order (the built-in designs' own cost).
 */
struct ctb_ctx {
    /**
     * Nonzero when the run checks lock order (`--check-lock-order`, and
     * every debug build): `will_acquire` and `released` must then be called
     * for every lock. When zero, both do nothing and may be skipped.
     */
    uint32_t check_order;
    /**
     * CTB_TRACE_* bits: the run records verdicts (`--verdicts` or
     * `--events`) and events (`--events`). With CTB_TRACE_VERDICTS the
     * outcomes' `direction` and `trace_state` must be filled; with
     * CTB_TRACE_EVENTS the plugin reports each connection event through
     * `trace_event`. Zero: neither is needed.
     */
    uint32_t tracing;
    /**
     * Uncontended acquisitions counted inline, by lock class - 1 (table,
     * bucket, connection): each has the meaning of `acquired(ctx, class,
     * index, 0, 0)`. The harness adds them to its counters when the call
     * returns.
     */
    uint64_t uncontended[3];
    /** The harness's own (opaque). */
    void *harness;
};

/** `ctb_ctx.tracing` bits. */
#define CTB_TRACE_VERDICTS 1u
#define CTB_TRACE_EVENTS 2u

/** Connection events (`trace_event`), as `conntrack -E` names them. */
enum ctb_event_kind {
    CTB_EVENT_NEW = 1,     /**< the connection is in the table; its state after the creating packet */
    CTB_EVENT_UPDATE = 2,  /**< a packet changed its `trace_state`; its state after the packet */
    CTB_EVENT_DESTROY = 3  /**< removed; the connection as it was removed */
};

/** Why a connection was removed (CTB_EVENT_DESTROY). */
enum ctb_removal_reason {
    CTB_REMOVED_INLINE = 1,     /**< found expired on the packet path */
    CTB_REMOVED_REAPER = 2,     /**< by a reaper pass */
    CTB_REMOVED_EARLY_DROP = 3, /**< dropped at the connection limit to make room */
    CTB_REMOVED_OTHER = 4       /**< any other rule of the design's */
};

/** `trace_event`'s `packet` for an event of no packet (a reaper pass). */
#define CTB_NO_PACKET 0xFFFFFFFFu

/**
 * Lock classes for the hooks, mapped onto the harness's declared lock
 * order (`LockRank`):
 *
 *     table  <  bucket[0] < bucket[1] < ...  <  connection  <  leaf
 *
 * A thread may only acquire a lock whose rank is above every lock it holds.
 * The index matters for CTB_LOCK_BUCKET only (a bucket or lock stripe).
 */
enum ctb_lock_class {
    CTB_LOCK_TABLE = 1,      /**< a table-wide lock (rwlock); counted as "table lock" */
    CTB_LOCK_BUCKET = 2,     /**< bucket / stripe `index`; counted as "bucket lock" */
    CTB_LOCK_CONNECTION = 3, /**< one connection's lock; counted as "connection lock" */
    CTB_LOCK_LEAF = 4        /**< a leaf lock (free list, retire list); rank-checked, not counted */
};

struct ctb_host;
struct ctb_record;

/**
 * The services the harness passes to `create`; valid until `destroy`.
 * Function pointers are never NULL.
 */
struct ctb_host {
    /** CTB_ABI_VERSION of the harness. */
    uint32_t abi_version;
    /** 1 when the design declared CTB_TRAIT_HASH_SEED (then `hash_seed` is the run's seed). */
    uint32_t has_hash_seed;
    /** The run's hash seed (drawn at random when the run gave none, and printed). */
    uint32_t hash_seed;
    uint32_t reserved;
    /** The harness's own data (opaque). */
    void *harness;

    /**
     * Lock hooks. Call `will_acquire` before taking a lock (the rank check;
     * a violation ends the run with exit 3 when the run checks lock order),
     * `will_wait` when the try failed and the thread is about to block (the
     * deadlock watchdog then shows the lock it waits for), `acquired` once
     * it is held (`contended`: the first try failed; `wait_ns`: the time
     * blocked), `released` after releasing it. Only locks reported through
     * these (directly or through the `ctb_lock_*` helpers) are seen by the
     * rank checker, the watchdog and the contention counters.
     *
     * `will_acquire` takes the call site, which a lock-order report names
     * for both locks: `file` a string that stays valid while the plugin is
     * loaded (C's `__FILE__`, Rust's `concat!(file!(), "\0")`), or NULL;
     * `line` its line. The `ctb_lock_will_acquire` macro passes the line it
     * is written on.
     */
    void (*will_acquire)(struct ctb_ctx *ctx, uint32_t lock_class, uint64_t index, const char *file, uint32_t line);
    void (*will_wait)(struct ctb_ctx *ctx, uint32_t lock_class, uint64_t index);
    void (*acquired)(struct ctb_ctx *ctx, uint32_t lock_class, uint64_t index, int contended, uint64_t wait_ns);
    void (*released)(struct ctb_ctx *ctx, uint32_t lock_class, uint64_t index);

    /** Initialises `st` from the connection's first tracked packet; its hook becomes outbound. */
    void (*tracker_init)(const struct ctb_host *host, struct ctb_tracker_state *st, const struct ctb_packet *p);
    /**
     * Feeds `p` to the tracker: initialises an empty tracker
     * (CTB_TRACKER_INIT), else returns the result (a packet on the
     * initialising hook is outbound, any other inbound).
     */
    uint8_t (*tracker_update)(const struct ctb_host *host, struct ctb_tracker_state *st, const struct ctb_packet *p);
    /** The connection's idle timeout in ns under the run's timeouts (`--timeout-*`). */
    int64_t (*tracker_timeout)(const struct ctb_host *host, const struct ctb_tracker_state *st, uint8_t trans_proto);
    /** 1 when the connection counts as established for early drop (TCP alive, or UDP replied). */
    int (*tracker_established)(const struct ctb_host *host, const struct ctb_tracker_state *st);
    /** `ctb_jenkins_hash`, for plugins not written in C. */
    uint32_t (*hash)(const struct ctb_tuple *t, uint32_t seed);

    /**
     * The connection's state as `conntrack -E` reports it (TCP state,
     * unreplied, assured), packed: compare two values to tell whether a
     * packet changed it (then an UPDATE event is due), and put the value
     * after the packet in its outcome's `trace_state`. Never 0.
     */
    uint32_t (*trace_state)(const struct ctb_host *host, const struct ctb_tracker_state *st, uint8_t trans_proto);
    /**
     * Reports a connection event (with CTB_TRACE_EVENTS): `kind` a
     * ctb_event_kind, `packet` the index in the batch of the packet that
     * caused it (CTB_NO_PACKET in a reaper pass), `r` the connection (for
     * DESTROY as it was removed), `reason` a ctb_removal_reason for DESTROY
     * (0 otherwise). Call it in the order the events happen, from the call
     * whose `ctx` it is. The rules match the built-in designs': NEW once the
     * connection is in the table, UPDATE when `trace_state` changed over a
     * packet, DESTROY for every removal.
     */
    void (*trace_event)(const struct ctb_host *host, struct ctb_ctx *ctx, uint32_t kind, uint32_t packet,
                        const struct ctb_record *r, uint32_t reason);
};

/*
 * The lock hooks as inline helpers: each calls its hook only when the
 * harness needs the call, and counts an uncontended acquisition in the
 * context. A plugin in another language does the same with the two fields
 * of `struct ctb_ctx`, or calls the hooks every time (correct, slower).
 */

/**
 * Before taking a lock: the rank check, when the run checks lock order,
 * with the call site `file`:`line` (see `will_acquire`). A helper of the
 * plugin's own that takes locks for its callers passes its callers' site
 * down, so that reports name the line that asked for the lock.
 */
static inline void ctb_lock_will_acquire_at(const struct ctb_host *h, struct ctb_ctx *ctx, uint32_t lock_class,
                                            uint64_t index, const char *file, uint32_t line) {
    if (ctx->check_order) h->will_acquire(ctx, lock_class, index, file, line);
}

/** `ctb_lock_will_acquire_at` with the site it is written at. */
#define ctb_lock_will_acquire(h, ctx, lock_class, index) \
    ctb_lock_will_acquire_at((h), (ctx), (lock_class), (index), __FILE__, (uint32_t)__LINE__)

/** The try failed: the thread is about to block on the lock. */
static inline void ctb_lock_will_wait(const struct ctb_host *h, struct ctb_ctx *ctx, uint32_t lock_class,
                                      uint64_t index) {
    h->will_wait(ctx, lock_class, index);
}

/** The lock is held (`contended` and `wait_ns` as for `acquired`). */
static inline void ctb_lock_acquired(const struct ctb_host *h, struct ctb_ctx *ctx, uint32_t lock_class,
                                     uint64_t index, int contended, uint64_t wait_ns) {
    if (!contended && lock_class >= CTB_LOCK_TABLE && lock_class <= CTB_LOCK_CONNECTION)
        ctx->uncontended[lock_class - CTB_LOCK_TABLE]++;
    else h->acquired(ctx, lock_class, index, contended, wait_ns);
}

/** After releasing a lock: the rank checker forgets it. */
static inline void ctb_lock_released(const struct ctb_host *h, struct ctb_ctx *ctx, uint32_t lock_class,
                                     uint64_t index) {
    if (ctx->check_order) h->released(ctx, lock_class, index);
}

/* ------------------------------------------------------------------ */
/* What the plugin gives the harness                                   */
/* ------------------------------------------------------------------ */

/** What the packet path did with one packet. */
enum ctb_outcome_kind {
    CTB_OUT_FOUND = 1,         /**< the lookup found a connection (conntrack -S found) */
    CTB_OUT_CREATED = 2,       /**< a connection was created and inserted (insert) */
    CTB_OUT_CLASH = 3,         /**< lookup missed, the insert found the tuple already there: tracked with it */
    CTB_OUT_INSERT_FAILED = 4, /**< the reply tuple belonged to another connection (insert_failed) */
    CTB_OUT_DROP_LIMIT = 5,    /**< refused at the connection limit, nothing to early-drop (drop) */
    CTB_OUT_NOT_TRACKED = 6    /**< not tracked for another reason (a design that keeps no table) */
};

/**
 * One packet's outcome. The harness counts every `conntrack -S` figure
 * from these, in packet order: removals first, then the creation.
 */
struct ctb_outcome {
    uint8_t kind;            /**< enum ctb_outcome_kind */
    uint8_t tracker;         /**< enum ctb_tracker_result (CTB_TRACKER_NONE when none) */
    uint8_t lookups;         /**< lookups this packet made (0 or 1; found counts CTB_OUT_FOUND) */
    uint8_t direction;       /**< with CTB_TRACE_VERDICTS, for FOUND and CLASH: CTB_DIR_* bits */
    uint32_t walked;         /**< entries the lookup compared (chain length histogram; 1 for a direct hit, 0 for an empty slot) */
    uint32_t removed_inline; /**< expired connections this packet's walk removed */
    uint32_t early_dropped;  /**< connections early-dropped to make room for this packet's */
    uint32_t deferred;       /**< expired entries left in place because lock order forbade removal */
    uint32_t trace_state;    /**< with CTB_TRACE_VERDICTS, for FOUND and CLASH: `trace_state` after the packet */
};

/** `ctb_outcome.direction` bits: the packet matched the reply tuple; the connection is NAT-redirected. */
#define CTB_DIR_REPLY 1u
#define CTB_DIR_NAT 2u

/** Set in `ctb_batch.flags`: each packet's now is its own `timestamp`. */
#define CTB_BATCH_PACKET_TIME 1u

/** One batch, processed by one `process_batch` call. */
struct ctb_batch {
    const struct ctb_packet *packets; /**< `count` packets, in order */
    struct ctb_outcome *outcomes;     /**< out: one per packet (zeroed by the harness) */
    uint32_t count;                   /**< packets in the batch, >= 1 */
    uint32_t flags;                   /**< CTB_BATCH_* */
    int64_t now;                      /**< the batch's now (ns), unless CTB_BATCH_PACKET_TIME */
};

/** Per-worker counters a call may add to (beyond the outcomes). */
struct ctb_counters {
    uint64_t search_restart; /**< conntrack -S search_restart */
    uint64_t reserved[7];    /**< 0 */
};

/** Arguments of one reaper pass. */
struct ctb_pass_args {
    uint64_t start;         /**< first slot (not wrapped: take it modulo `sweep_slots`) */
    uint64_t max_slots;     /**< slots to walk at most (may exceed `sweep_slots`: wrap) */
    uint64_t max_evictions; /**< stop after a slot once this many were removed (INT64_MAX: no limit) */
    int64_t now;            /**< the pass's now (ns) */
};

/** Result of one reaper pass, in slots. */
struct ctb_pass_result {
    uint64_t next_start;      /**< where the next pass starts (not wrapped) */
    uint64_t slots_scanned;   /**< slots walked */
    uint64_t checked;         /**< entries checked */
    uint64_t expired;         /**< entries found expired */
    uint64_t removed;         /**< connections removed */
    uint64_t deferred;        /**< expired entries left because lock order forbade removal */
    uint64_t live_checked;    /**< live entries checked */
    uint64_t remaining_lo;    /**< sum over live entries of ns to expiry: low 64 bits */
    int64_t remaining_hi;     /**< ... and high 64 bits (a signed 128-bit sum) */
    uint32_t stopped_early;   /**< 1: stopped at `max_evictions` before `max_slots` */
    uint32_t reserved;        /**< 0 */
};

/** One connection as plain data (the harness's ConnectionRecord). */
struct ctb_record {
    struct ctb_tuple original;         /**< tuple in the original direction */
    struct ctb_tuple reply;            /**< tuple in the reply direction (NAT-redirected or reversed) */
    struct ctb_tracker_state tracker;  /**< tracker state, harness format */
    int64_t last_used;                 /**< ns on the run's clock */
    uint8_t nat;                       /**< 1: the reply is redirected */
    uint8_t reserved[7];               /**< 0 */
};

/** What an operation on a running table did (ABI 3: `dump_running`, `remove_running`; ABI 4: `resize_running`). */
struct ctb_op_counts {
    uint64_t visited;  /**< entries walked: tuples in chains, slots, map entries, as the table keeps them */
    uint64_t listed;   /**< connections handed to `body` */
    uint64_t removed;  /**< connections removed */
    uint64_t retries;  /**< walks repeated because the structure moved under them */
};

/** A setting of the plugin's own that `sweep` can vary (`sweep --vary NAME=V1,V2,...`). */
struct ctb_knob {
    const char *name;     /**< option name without dashes, [a-z0-9-]; must not be a harness option */
    const char *summary;  /**< one line */
    int64_t min;          /**< smallest value allowed */
    int64_t max;          /**< largest value allowed */
    int64_t default_value;/**< value when not set, in [min, max] */
};

/** The run's configuration, passed to `create`. */
struct ctb_config {
    uint64_t buckets;              /**< --buckets */
    uint64_t max_connections;      /**< --max-connections; 0: no limit */
    uint64_t expected_connections; /**< the connections the run expects: the scenario's concurrent flows (no more than its packets), a capture's distinct flows, a workload's expected peak, at least a restore's; never 0 */
    uint32_t early_drop_buckets;   /**< slots searched for an early-drop victim */
    uint32_t knob_count;           /**< entries of `knob_values` (= the descriptor's knob_count) */
    const int64_t *knob_values;    /**< value of each declared knob, in declaration order */
};

/* Traits (`ctb_design.traits`), as the built-in designs declare them. */
#define CTB_TRAIT_HASH_SEED 0x01u          /**< hashes with the run's seed (--hash-seed applies) */
#define CTB_TRAIT_SIZED_BY_BUCKETS 0x02u   /**< --buckets sizes the table */
#define CTB_TRAIT_CONNECTION_LIMIT 0x04u   /**< --max-connections with early drop */
#define CTB_TRAIT_TRACKS_CONNECTIONS 0x08u /**< keeps connections (0: a do-nothing design) */
#define CTB_TRAIT_KEEPS_NAT 0x10u          /**< keeps NAT partners (reply tuple as given) */
#define CTB_TRAIT_UNIQUE_TUPLES 0x20u      /**< a tuple id appears at most once */
#define CTB_TRAIT_REPORTS_LOCKS 0x40u      /**< every lock goes through the hooks */
#define CTB_TRAIT_COMPLETE_SWEEP 0x80u     /**< a full sweep removes every expired connection */
#define CTB_TRAIT_TRACES 0x100u            /**< fills `direction` and `trace_state` and reports events when `ctx->tracing` asks (--verdicts and --events apply) */

/** Optional per-slot view for reports (`inspect`). */
struct ctb_slot_info {
    uint64_t length;    /**< entries in the slot */
    uint64_t contended; /**< contended acquisitions of the slot's lock since create */
};

/**
 * The descriptor. Fields marked "required" must be non-NULL; the loader
 * refuses the plugin otherwise. `void *table` is what `create` returned.
 */
struct ctb_design {
    uint32_t abi_version;       /**< CTB_ABI_VERSION: must be the first field */
    uint32_t traits;            /**< CTB_TRAIT_* */
    const char *name;           /**< required: registry name, [a-z0-9-], not a built-in design's */
    const char *summary;        /**< required: one line */
    const char *slot_name;      /**< what a sweep slot is ("bucket"), or NULL */
    const char *default_policy; /**< "seed", "linux2022" or "cilium"; NULL: "seed" */
    const struct ctb_knob *knobs; /**< the plugin's own settings (may be NULL when knob_count is 0) */
    uint32_t knob_count;
    uint32_t bytes_per_connection; /**< approximate heap bytes per connection (memory estimate) */

    /** Required. Creates a table; NULL on failure, with a message in `err`. */
    void *(*create)(const struct ctb_config *config, const struct ctb_host *host, char *err, size_t err_len);
    /** Required. Frees everything. */
    void (*destroy)(void *table);

    /** Optional per-worker state: made on the thread that will use it, before its first batch. */
    void *(*worker_create)(void *table);
    void (*worker_destroy)(void *table, void *worker);

    /**
     * Required. Processes `batch->count` packets in order, writing one
     * outcome per packet. Called once per batch, concurrently from workers.
     */
    void (*process_batch)(void *table, void *worker, struct ctb_batch *batch,
                          struct ctb_counters *counters, struct ctb_ctx *ctx);

    /** Required. Units a reaper pass budgets over; constant for the table's life, but for what
     *  `resize_running` returns (the harness calls this once, at create). */
    uint64_t (*sweep_slots)(void *table);
    /** Required. One reaper pass (concurrent with process_batch). */
    void (*reap_pass)(void *table, const struct ctb_pass_args *args, struct ctb_pass_result *out,
                      struct ctb_ctx *ctx);

    /** Optional quiescent-state reclamation, as the built-in designs have it. */
    int64_t (*register_worker)(void *table);
    void (*worker_quiescent)(void *table, int64_t slot);
    void (*worker_offline)(void *table, int64_t slot);
    void (*reclaim)(void *table, struct ctb_ctx *ctx);

    /**
     * Required. Calls `body` once per connection, in an order that, imported
     * into an empty table, rebuilds the same structure.
     */
    void (*for_each_connection)(void *table, void (*body)(void *arg, const struct ctb_record *r), void *arg,
                                struct ctb_ctx *ctx);
    /** Required. Inserts `n` records into an empty table; nonzero (message in `err`) refuses them all. */
    int (*import_connections)(void *table, const struct ctb_record *records, size_t n, struct ctb_ctx *ctx,
                              char *err, size_t err_len);

    /** Optional. Fills up to `n` slots' info; returns the number of slots. */
    uint64_t (*inspect)(void *table, struct ctb_slot_info *slots, uint64_t n);
    /** Optional. Writes violations, one per line, NUL-terminated within `len`, into `buf`; returns how many. */
    uint64_t (*check_invariants)(void *table, char *buf, size_t len);
    /** Optional. Bytes the table holds now that the process's malloc does not see (memory it maps itself,
     *  another runtime's heap): the report adds them to the allocator's heap growth, so heap from malloc
     *  reported here is counted twice. NULL for a table that allocates with malloc. */
    uint64_t (*memory_bytes)(void *table);
    /** Optional. The most connections held at once (with a limit); negative: not tracked. */
    int64_t (*peak_connections)(void *table);

    /* ABI 3: operations on a running table (`run --op`). The loader reads
     * these only from a descriptor whose abi_version is 3; without them,
     * `--op` is refused for the plugin (exit 2). Both are called on the
     * operation thread, concurrently with process_batch and reap_pass,
     * between `worker_quiescent` and `worker_offline` of a slot of its own
     * (when the plugin has them), with its own `ctx`. `*out` is zeroed
     * before the call. */

    /** Optional. `conntrack -L` while workers run (--op dump, save): calls
     *  `body` once for every connection live for the whole walk, with its
     *  state read under its lock; a connection created or removed during
     *  the walk may or may not be listed, but none twice. */
    void (*dump_running)(void *table, int64_t now, void (*body)(void *arg, const struct ctb_record *r), void *arg,
                         struct ctb_op_counts *out, struct ctb_ctx *ctx);
    /** Optional. `conntrack -D` / `-F` while workers run (--op delete, flush):
     *  removes every connection live for the whole walk whose original tuple
     *  `matches` accepts (nonzero); one created during the walk may remain.
     *  Counts them in `out->removed` only (not in process_batch's or
     *  reap_pass's counters). */
    void (*remove_running)(void *table, int64_t now, int (*matches)(void *arg, const struct ctb_tuple *original),
                           void *arg, struct ctb_op_counts *out, struct ctb_ctx *ctx);

    /* ABI 4. Read only from a descriptor whose abi_version is 4; called as
     * the ABI 3 entries are. */

    /** Optional. Rehashes to `slots` slots while workers run (--op
     *  resize:N; `nf_conntrack_hashsize`): afterwards every connection is
     *  in the table exactly once, and a packet during it finds what it
     *  would have found without it. `out->visited`: the entries moved.
     *  Returns the table's slot count after it (what `sweep_slots` would
     *  now say; it may round `slots`), at least 1. Without it, `--op
     *  resize` is refused for the plugin (exit 2). */
    uint64_t (*resize_running)(void *table, uint64_t slots, struct ctb_op_counts *out, struct ctb_ctx *ctx);
};

/** The one exported symbol. */
typedef const struct ctb_design *(*ctb_design_entry)(void);
const struct ctb_design *conntrack_bench_design(void);

#ifdef __cplusplus
}
#endif
#endif /* CONNTRACK_BENCH_DESIGN_H */
