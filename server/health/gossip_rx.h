/*
 * gossip_rx.h - the overwatch's gossip receiver (docs/gossip-protocol.md).
 *
 * Contract:
 *  - One thread receives sealed messages on UDP and TCP (same port,
 *    overwatch.gossip.bind_address), first charges the source address's
 *    token bucket (overwatch.gossip.source_rate/source_burst, gossip_guard.h;
 *    over it: rate_limited, nothing decrypted), then authenticates each
 *    (AES-GCM open, strict decode, token by name + CRYPTO_memcmp, timestamp
 *    within overwatch.gossip.max_clock_skew, the agent id registered to this
 *    token or to none, sequence strictly above the agent's last and at most
 *    gslb_gossip_seq_limit()) and counts it under exactly one result
 *    (gslb_gossip_result). A rejected message changes no state (only the
 *    source's bucket). A rejection is logged (warn) the first time per source
 *    and reason, then at most once a minute per pair and 20 lines a minute
 *    in all; no token value is logged.
 *  - An agent id belongs to the token name that first registered it (the
 *    agents record's token_name); a message under another configured token
 *    is agent_token_mismatch. An id whose owning token is no longer in the
 *    configuration may be taken by the next valid token.
 *  - The thread runs at a lower priority (nice GSLB_GOSSIP_NICE) so that a
 *    flood cannot take CPU from the DNS workers unbounded, and reads at most
 *    GSLB_GOSSIP_READ_BUDGET datagrams per tick, pausing UDP reads for the rest
 *    of a tick once GSLB_GOSSIP_REJECT_BUDGET of them were rejected (the
 *    kernel drops what does not fit the socket buffer meanwhile).
 *  - Accepted messages are applied in batches: at most one LMDB write
 *    transaction per tick (GSLB_GOSSIP_TICK_MS), opened only when something
 *    arrived. Within a tick only an agent's newest message is applied (every
 *    message carries the agent's full state). Answer sets of the domains whose
 *    served state changed are recompiled in the same transaction.
 *  - Agents are recorded in the agents table (region, token name, last
 *    heartbeat, last sequence, source address). A backend maps to a domain by
 *    service (gslb_store_domain_by_service); an unknown service, or a service
 *    the agent's token does not cover, is counted and ignored.
 *  - A heartbeat rewrites the agent's backends (source AGENT, agent health,
 *    latency, last_seen) and clears their stale flag; backends the agent no
 *    longer reports are deleted, except configured ones, which fall back to
 *    their configured record (gslb_config_backend_rec). Registration of a new
 *    agent and every change of a backend's reported health are logged (info).
 *    A goodbye drains every backend of the agent at once; its next heartbeat
 *    undrains them.
 *  - TCP connections are bounded in number, per source and in time (the
 *    GSLB_GOSSIP_TCP_* limits below; tcp_slots.h): a peer trickling bytes
 *    cannot hold a connection, and a full table makes room for a new one.
 *  - Counters belong to the receiver (gslb_gossip_counters()): written by its
 *    thread, read from any thread (the metrics exporter).
 */
#pragma once

#include "config.h"
#include "env.h"
#include "gossip_wire.h"
#include "gslb_err.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define GSLB_GOSSIP_TICK_MS 50
/* TCP connections (tcp_slots.h): at most MAX_CONNS, PER_SOURCE of them from one
 * address (IPv6: /64); a connection with no frame in progress goes after IDLE_MS,
 * a frame must arrive whole within MESSAGE_MS of its first byte (an agent gives
 * up after GSLB_SENDER_TCP_TIMEOUT_MS, 2 s); when all are taken the quietest
 * connection is closed for a new one. */
#define GSLB_GOSSIP_TCP_MAX_CONNS 64
#define GSLB_GOSSIP_TCP_PER_SOURCE 8
#define GSLB_GOSSIP_TCP_IDLE_MS 5000
#define GSLB_GOSSIP_TCP_MESSAGE_MS 3000
#define GSLB_GOSSIP_NICE 5
/* Datagrams read per tick at most: 200,000 per second, 10x the ingest target. */
#define GSLB_GOSSIP_READ_BUDGET 10240
/* Rejected datagrams per tick after which UDP reading pauses until the next
 * tick: a flood costs at most ~20,000 datagrams per second of work. */
#define GSLB_GOSSIP_REJECT_BUDGET 1024
/* Sequence bound slack beyond the clock (µs): see gslb_gossip_seq_limit(). */
#define GSLB_GOSSIP_SEQ_SLACK_US 1000000ULL

/** |ts - now_ms| <= max_skew_ms and ts > 0, for any int64 values (no overflow). */
bool gslb_gossip_timestamp_ok(int64_t ts, int64_t now_ms, uint64_t max_skew_ms);
/** The largest sequence accepted at now_ms: (now_ms + max_skew_ms) in
 *  microseconds + GSLB_GOSSIP_SEQ_SLACK_US, saturating. An agent's sequence
 *  follows its clock in microseconds (gslb-agentd), so an honest one never
 *  exceeds it, and an attacker cannot push a window further ahead. */
uint64_t gslb_gossip_seq_limit(int64_t now_ms, uint64_t max_skew_ms);

enum gslb_gossip_ignore {
    GSLB_GOSSIP_IGNORE_UNKNOWN_SERVICE = 0,
    GSLB_GOSSIP_IGNORE_UNAUTHORIZED,
    GSLB_GOSSIP_IGNORE_COUNT
};

typedef struct gslb_gossip_counters {
    uint64_t messages[GSLB_GOSSIP_RESULT_COUNT]; /* opengslb_gossip_messages_total{result} */
    uint64_t backends_ignored[GSLB_GOSSIP_IGNORE_COUNT]; /* {reason} */
    uint64_t batches;                                    /* write transactions committed */
    uint64_t batch_errors;                               /* write transactions that failed */
    uint64_t tcp_accepted;                               /* TCP connections accepted */
    uint64_t tcp_rejected;         /* refused: the source holds GSLB_GOSSIP_TCP_PER_SOURCE */
    uint64_t tcp_evicted;          /* closed to make room (the quietest, table full) */
    uint64_t tcp_idle_timeouts;    /* closed: no frame begun for GSLB_GOSSIP_TCP_IDLE_MS */
    uint64_t tcp_message_timeouts; /* closed: a frame not whole within ..._MESSAGE_MS */
    uint64_t goodbyes;             /* goodbye messages applied */
} gslb_gossip_counters_t;

/** "unknown_service", "unauthorized". */
const char *gslb_gossip_ignore_name(enum gslb_gossip_ignore r);

typedef struct gslb_gossip_rx gslb_gossip_rx_t;

/** Snapshot of rx's counters (relaxed reads; any thread). NULL rx: all zero. */
void gslb_gossip_counters(const gslb_gossip_rx_t *rx, gslb_gossip_counters_t *out);

typedef struct gslb_gossip_rx_opts {
    gslb_env_t *env;
    const gslb_config_t *cfg; /* tokens, key, bind address, max skew (copied) */
    bool no_sockets;          /* tests: no sockets, no thread; use ingest/flush */
} gslb_gossip_rx_opts_t;

/** Create the receiver, bind UDP and TCP (errors are returned here, e.g. the
 *  port is in use) and, unless no_sockets, start its thread. */
int gslb_gossip_rx_start(gslb_gossip_rx_t **out, const gslb_gossip_rx_opts_t *opts,
                         gslb_errbuf_t *eb);
/** Stop the thread, apply what is pending, free everything. NULL is fine. */
void gslb_gossip_rx_stop(gslb_gossip_rx_t *rx);
/** The bound port (useful with port 0). */
uint16_t gslb_gossip_rx_port(const gslb_gossip_rx_t *rx);
/** Take new tokens / key / skew from a reloaded configuration. */
int gslb_gossip_rx_update(gslb_gossip_rx_t *rx, const gslb_config_t *cfg, gslb_errbuf_t *eb);

/** Authenticate one sealed message (from `src`, may be NULL) at wall time
 *  now_ms and queue it when accepted. Returns the result it was counted as.
 *  Thread: the receiver's own (or the caller's with no_sockets). */
enum gslb_gossip_result gslb_gossip_rx_ingest(gslb_gossip_rx_t *rx, const uint8_t *msg, size_t len,
                                              const struct sockaddr *src, int64_t now_ms);
/** Apply every queued message in one write transaction. Returns 0 or an error. */
int gslb_gossip_rx_flush(gslb_gossip_rx_t *rx, int64_t now_ms);

/** Wall time (unix ms) this process last accepted a message from agent_id;
 *  false when it has not since it started (the sweeper then uses the store). */
bool gslb_gossip_rx_last_heard(gslb_gossip_rx_t *rx, const char *agent_id, int64_t *out_ms);
