/*
 * gossip_rx.c - the overwatch's gossip receiver (gossip_rx.h).
 *
 * Layout: counters; the agent table (in memory: last sequence, last heard,
 * the pending message); authentication (ingest); application to the store
 * (flush); sockets and the thread.
 */
#include "gossip_rx.h"
#include "cursor.h"
#include "gossip_guard.h"
#include "gslb_counter.h"
#include "gslb_log.h"
#include "gslb_time.h"
#include "store.h"
#include "tcp_slots.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RX_BATCH 64
#define RX_MAX_AGENTS 100000

/* ---- counters ------------------------------------------------------------- */

static void count(uint64_t *c)
{
    gslb_counter_add(c, 1);
}

const char *gslb_gossip_ignore_name(enum gslb_gossip_ignore r)
{
    return r == GSLB_GOSSIP_IGNORE_UNAUTHORIZED ? "unauthorized" : "unknown_service";
}

/* ---- agent table ---------------------------------------------------------- */

typedef struct agent_state {
    char id[GSLB_LABEL_MAX];
    char owner[GSLB_LABEL_MAX]; /* token name that registered the id ("" = none yet) */
    uint64_t last_seq;
    int64_t last_heard_ms;
    /* newest accepted message not yet applied */
    bool pending;
    uint8_t *pt;
    size_t pt_len, pt_cap;
    gslb_addr_t src;
    /* what the store holds from the last application */
    bool applied;
    uint64_t applied_hash; /* backends and region, latency excluded */
    int64_t applied_sec;
    uint64_t set_hash; /* the set of backend keys */
    bool set_known;
    bool warned_ignored;
    struct agent_state *next;
} agent_state_t;

typedef struct conn {
    int fd; /* -1: free slot */
    uint8_t *buf;
    size_t have, need; /* need = 4 (length) or 4 + frame */
    struct sockaddr_storage ss;
    gslb_addr_t src; /* the peer, for the rejection log */
} conn_t;

struct gslb_gossip_rx {
    gslb_env_t *env;
    /* auth (auth_mu: update() may swap it from another thread) */
    pthread_mutex_t auth_mu;
    gslb_gossip_aead_t aead;
    gslb_token_t *tokens;
    size_t token_count;
    uint64_t max_skew_ms;
    gslb_static_backends_t statics; /* configured backends to fall back to */
    /* guards before the cryptography (receiving thread only) */
    gslb_rate_table_t *rate;
    gslb_log_table_t *logt;
    /* agents (mu: the sweeper reads last_heard) */
    pthread_mutex_t mu;
    agent_state_t **buckets;
    size_t nbuckets, nagents;
    agent_state_t **pending;
    size_t npending, pending_cap;
    int64_t first_pending_ms; /* monotonic */
    /* scratch */
    uint8_t *pt;
    gslb_gossip_backend_t *backs;
    /* sockets */
    int udp_fd, tcp_fd, stop_fd;
    uint16_t port;
    conn_t conns[GSLB_GOSSIP_TCP_MAX_CONNS]; /* slot i of tcp_slots */
    gslb_slots_t *tcp_slots;                 /* admission and deadlines (tcp_slots.h) */
    int64_t tcp_wake_ms;                     /* earliest connection deadline (monotonic) */
    pthread_t thread;
    bool thread_started;
    int64_t budget_start_ms;         /* monotonic start of the current read-budget tick */
    size_t budget_used;              /* datagrams read in that tick */
    size_t budget_rejected;          /* of those, rejected */
    gslb_gossip_counters_t counters; /* written by the receiving thread only */
};

void gslb_gossip_counters(const gslb_gossip_rx_t *rx, gslb_gossip_counters_t *out)
{
    if (rx)
        gslb_counters_snapshot(out, &rx->counters, sizeof(*out));
    else
        memset(out, 0, sizeof(*out));
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}
#define FNV_INIT 14695981039346656037ULL

static agent_state_t *agent_find(gslb_gossip_rx_t *rx, const char *id)
{
    if (!rx->nbuckets)
        return NULL;
    size_t b = fnv1a(FNV_INIT, id, strlen(id)) & (rx->nbuckets - 1);
    for (agent_state_t *a = rx->buckets[b]; a; a = a->next)
        if (strcmp(a->id, id) == 0)
            return a;
    return NULL;
}

static int agents_grow(gslb_gossip_rx_t *rx)
{
    size_t nb = rx->nbuckets ? rx->nbuckets * 2 : 64;
    agent_state_t **nbk = calloc(nb, sizeof(*nbk));
    if (!nbk)
        return GSLB_ENOMEM;
    for (size_t i = 0; i < rx->nbuckets; i++) {
        agent_state_t *a = rx->buckets[i];
        while (a) {
            agent_state_t *next = a->next;
            size_t b = fnv1a(FNV_INIT, a->id, strlen(a->id)) & (nb - 1);
            a->next = nbk[b];
            nbk[b] = a;
            a = next;
        }
    }
    free(rx->buckets);
    rx->buckets = nbk;
    rx->nbuckets = nb;
    return GSLB_OK;
}

/* Caller holds rx->mu. */
static agent_state_t *agent_insert(gslb_gossip_rx_t *rx, const char *id, uint64_t last_seq,
                                   const char *owner)
{
    if (rx->nagents >= RX_MAX_AGENTS)
        return NULL;
    if (rx->nagents + 1 > rx->nbuckets && agents_grow(rx) < 0)
        return NULL;
    agent_state_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    snprintf(a->id, sizeof(a->id), "%s", id);
    snprintf(a->owner, sizeof(a->owner), "%s", owner);
    a->last_seq = last_seq;
    size_t b = fnv1a(FNV_INIT, id, strlen(id)) & (rx->nbuckets - 1);
    a->next = rx->buckets[b];
    rx->buckets[b] = a;
    rx->nagents++;
    return a;
}

static void agents_free(gslb_gossip_rx_t *rx)
{
    for (size_t i = 0; i < rx->nbuckets; i++) {
        agent_state_t *a = rx->buckets[i];
        while (a) {
            agent_state_t *next = a->next;
            free(a->pt);
            free(a);
            a = next;
        }
    }
    free(rx->buckets);
    rx->buckets = NULL;
    rx->nbuckets = rx->nagents = 0;
}

bool gslb_gossip_rx_last_heard(gslb_gossip_rx_t *rx, const char *agent_id, int64_t *out_ms)
{
    if (!rx)
        return false;
    pthread_mutex_lock(&rx->mu);
    agent_state_t *a = agent_find(rx, agent_id);
    bool found = a && a->last_heard_ms > 0;
    if (found)
        *out_ms = a->last_heard_ms;
    pthread_mutex_unlock(&rx->mu);
    return found;
}

/* ---- authentication ------------------------------------------------------- */

static enum gslb_gossip_result counted(gslb_gossip_rx_t *rx, enum gslb_gossip_result r)
{
    count(&rx->counters.messages[r]);
    return r;
}

/* Constant-time over the whole token buffer, whatever the lengths. */
static bool token_ok(const gslb_gossip_rx_t *rx, const char *name, const char *value)
{
    const gslb_token_t *t = NULL;
    for (size_t i = 0; i < rx->token_count && !t; i++)
        if (strcmp(rx->tokens[i].name, name) == 0)
            t = &rx->tokens[i];
    if (!t || !name[0])
        return false;
    char want[sizeof(t->value)] = {0}, got[sizeof(t->value)] = {0};
    size_t wl = strnlen(t->value, sizeof(want) - 1), gl = strnlen(value, sizeof(got) - 1);
    memcpy(want, t->value, wl);
    memcpy(got, value, gl);
    bool same = CRYPTO_memcmp(want, got, sizeof(want)) == 0 && wl == gl && wl > 0;
    OPENSSL_cleanse(want, sizeof(want));
    OPENSSL_cleanse(got, sizeof(got));
    return same;
}

bool gslb_gossip_timestamp_ok(int64_t ts, int64_t now_ms, uint64_t max_skew_ms)
{
    if (ts <= 0)
        return false;
    /* The distance in unsigned arithmetic: exact for any two int64 values, no overflow. */
    uint64_t d = ts > now_ms ? (uint64_t)ts - (uint64_t)now_ms : (uint64_t)now_ms - (uint64_t)ts;
    return d <= max_skew_ms;
}

uint64_t gslb_gossip_seq_limit(int64_t now_ms, uint64_t max_skew_ms)
{
    uint64_t ms, us, limit;
    if (now_ms <= 0)
        return GSLB_GOSSIP_SEQ_SLACK_US;
    if (__builtin_add_overflow((uint64_t)now_ms, max_skew_ms, &ms) ||
        __builtin_mul_overflow(ms, 1000, &us) ||
        __builtin_add_overflow(us, GSLB_GOSSIP_SEQ_SLACK_US, &limit))
        return UINT64_MAX;
    return limit;
}

/* The stored last sequence and owning token of an agent this process has not
 * seen yet (0 and "" when it has no record). */
static void stored_agent(gslb_gossip_rx_t *rx, const char *id, uint64_t *seq,
                         char owner[GSLB_LABEL_MAX])
{
    MDB_txn *txn = NULL;
    gslb_agent_rec_t rec;
    *seq = 0;
    owner[0] = '\0';
    if (gslb_env_read_begin(rx->env, &txn) != GSLB_OK)
        return;
    if (gslb_store_agent_get(rx->env, txn, id, &rec) == GSLB_OK) {
        *seq = rec.last_seq;
        snprintf(owner, GSLB_LABEL_MAX, "%s", rec.token_name);
    }
    mdb_txn_abort(txn);
}

static bool token_configured(gslb_gossip_rx_t *rx, const char *name)
{
    bool found = false;
    pthread_mutex_lock(&rx->auth_mu);
    for (size_t i = 0; i < rx->token_count && !found; i++)
        found = strcmp(rx->tokens[i].name, name) == 0;
    pthread_mutex_unlock(&rx->auth_mu);
    return found;
}

/* The id is registered to another token that the configuration still has. */
static bool owned_by_other(gslb_gossip_rx_t *rx, const agent_state_t *a, const char *token_name)
{
    return a->owner[0] && strcmp(a->owner, token_name) != 0 && token_configured(rx, a->owner);
}

static int queue_message(gslb_gossip_rx_t *rx, agent_state_t *a, const uint8_t *pt, size_t len)
{
    if (a->pt_cap < len) {
        uint8_t *p = realloc(a->pt, len);
        if (!p)
            return GSLB_ENOMEM;
        a->pt = p;
        a->pt_cap = len;
    }
    memcpy(a->pt, pt, len);
    a->pt_len = len;
    if (a->pending)
        return GSLB_OK;
    if (rx->npending == rx->pending_cap) {
        size_t cap = rx->pending_cap ? rx->pending_cap * 2 : 64;
        agent_state_t **v = realloc(rx->pending, cap * sizeof(*v));
        if (!v)
            return GSLB_ENOMEM;
        rx->pending = v;
        rx->pending_cap = cap;
    }
    if (rx->npending == 0)
        rx->first_pending_ms = gslb_mono_ms();
    rx->pending[rx->npending++] = a;
    a->pending = true;
    return GSLB_OK;
}

static void addr_from_sockaddr(const struct sockaddr *sa, gslb_addr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        out->family = AF_INET;
        memcpy(out->bytes, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        out->family = AF_INET6;
        memcpy(out->bytes, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    }
}

/* The sequence window: above the last accepted, and not beyond the clock
 * bound. A window beyond the bound was poisoned before this rule existed (or
 * the clock went back): it is void, any sequence within the bound passes. */
static enum gslb_gossip_result check_seq(const agent_state_t *a, uint64_t seq, uint64_t limit)
{
    if (seq > limit)
        return GSLB_GOSSIP_SEQUENCE_AHEAD;
    if (seq <= a->last_seq && a->last_seq <= limit)
        return GSLB_GOSSIP_REPLAYED;
    return GSLB_GOSSIP_ACCEPTED;
}

/* Find or load the agent's state; holds rx->mu on return. */
static agent_state_t *agent_get(gslb_gossip_rx_t *rx, const char *id)
{
    pthread_mutex_lock(&rx->mu);
    agent_state_t *a = agent_find(rx, id);
    if (a)
        return a;
    pthread_mutex_unlock(&rx->mu);
    uint64_t seq;
    char owner[GSLB_LABEL_MAX];
    stored_agent(rx, id, &seq, owner); /* no lock across LMDB */
    pthread_mutex_lock(&rx->mu);
    a = agent_find(rx, id);
    return a ? a : agent_insert(rx, id, seq, owner);
}

/* Ownership and sequence checks, and queueing. */
static enum gslb_gossip_result admit(gslb_gossip_rx_t *rx, const gslb_gossip_msg_t *m,
                                     size_t pt_len, const struct sockaddr *src, int64_t now_ms,
                                     uint64_t seq_limit, char owner[GSLB_LABEL_MAX])
{
    agent_state_t *a = agent_get(rx, m->agent_id);
    enum gslb_gossip_result r;
    if (!a)
        r = GSLB_GOSSIP_MALFORMED; /* agent table full or out of memory */
    else if (owned_by_other(rx, a, m->token_name)) {
        r = GSLB_GOSSIP_AGENT_TOKEN_MISMATCH;
        snprintf(owner, GSLB_LABEL_MAX, "%s", a->owner);
    } else
        r = check_seq(a, m->seq, seq_limit);
    if (r == GSLB_GOSSIP_ACCEPTED && queue_message(rx, a, rx->pt, pt_len) < 0)
        r = GSLB_GOSSIP_MALFORMED;
    if (r == GSLB_GOSSIP_ACCEPTED) {
        a->last_seq = m->seq;
        a->last_heard_ms = now_ms;
        addr_from_sockaddr(src, &a->src);
        snprintf(a->owner, sizeof(a->owner), "%s", m->token_name);
    }
    pthread_mutex_unlock(&rx->mu);
    return r;
}

/* What a rejection log line says beside the source and the reason. */
typedef struct reject_info {
    const gslb_gossip_msg_t *m; /* NULL before the message was decoded */
    const char *owner;          /* agent_token_mismatch: the owning token */
    int64_t now_ms;
} reject_info_t;

static void describe(const reject_info_t *ri, enum gslb_gossip_result why, char *out, size_t cap)
{
    const gslb_gossip_msg_t *m = ri->m;
    out[0] = '\0';
    if (why == GSLB_GOSSIP_RATE_LIMITED)
        snprintf(out, cap, " (over overwatch.gossip.source_rate; not decrypted)");
    else if (why == GSLB_GOSSIP_DECRYPT_FAILED)
        snprintf(out, cap, " (wrong encryption_key, or not a gossip message)");
    else if (!m)
        return;
    else if (why == GSLB_GOSSIP_AGENT_TOKEN_MISMATCH)
        snprintf(out, cap, " (agent %s is registered by token \"%s\", message under \"%s\")",
                 m->agent_id, ri->owner ? ri->owner : "", m->token_name);
    else if (why == GSLB_GOSSIP_UNKNOWN_TOKEN)
        snprintf(out, cap, " (agent %s, token name \"%s\": unknown name or wrong value)",
                 m->agent_id, m->token_name);
    else if (why == GSLB_GOSSIP_STALE_TIMESTAMP)
        snprintf(out, cap, " (agent %s, timestamp %lld, our clock %lld)", m->agent_id,
                 (long long)m->timestamp_ms, (long long)ri->now_ms);
    else if (why == GSLB_GOSSIP_REPLAYED || why == GSLB_GOSSIP_SEQUENCE_AHEAD)
        snprintf(out, cap, " (agent %s, sequence %llu)", m->agent_id, (unsigned long long)m->seq);
}

/* Count a result; log a rejection the first time per (source, reason), then
 * at most once a minute (gossip_guard.h). Never logs a token value. */
static enum gslb_gossip_result judged(gslb_gossip_rx_t *rx, enum gslb_gossip_result why,
                                      const gslb_addr_t *src, const reject_info_t *ri)
{
    counted(rx, why);
    uint64_t more = 0, dropped = 0;
    if (why == GSLB_GOSSIP_ACCEPTED || !rx->logt ||
        !gslb_log_table_should_log(rx->logt, src, why, ri->now_ms, &more, &dropped))
        return why;
    char from[64] = "(no address)", detail[320], tail[128] = "";
    if (src && src->family)
        gslb_addr_format(src, from, sizeof(from));
    describe(ri, why, detail, sizeof(detail));
    if (more || dropped)
        snprintf(tail, sizeof(tail),
                 "; %llu more of these since the last line, %llu other "
                 "rejection lines held back",
                 (unsigned long long)more, (unsigned long long)dropped);
    gslb_warn("gossip: rejected a message from %s: %s%s%s", from, gslb_gossip_result_name(why),
              detail, tail);
    return why;
}

/* Open, decode, authenticate: ACCEPTED or why not. Holds rx->auth_mu. */
static enum gslb_gossip_result authenticate(gslb_gossip_rx_t *rx, const uint8_t *msg, size_t len,
                                            gslb_gossip_msg_t *m, int *pt_len, int64_t now_ms)
{
    enum gslb_gossip_result why = GSLB_GOSSIP_MALFORMED;
    int n = gslb_gossip_open(&rx->aead, msg, len, rx->pt, GSLB_GOSSIP_MSG_MAX, &why);
    *pt_len = n;
    if (n < 0)
        return why;
    int rc = gslb_gossip_decode(rx->pt, (size_t)n, m, GSLB_GOSSIP_MAX_BACKENDS);
    if (rc == GSLB_EVERSION)
        return GSLB_GOSSIP_BAD_VERSION;
    if (rc < 0)
        return GSLB_GOSSIP_MALFORMED;
    if (!token_ok(rx, m->token_name, m->token))
        return GSLB_GOSSIP_UNKNOWN_TOKEN;
    if (!gslb_gossip_timestamp_ok(m->timestamp_ms, now_ms, rx->max_skew_ms))
        return GSLB_GOSSIP_STALE_TIMESTAMP;
    return GSLB_GOSSIP_ACCEPTED;
}

enum gslb_gossip_result gslb_gossip_rx_ingest(gslb_gossip_rx_t *rx, const uint8_t *msg, size_t len,
                                              const struct sockaddr *src, int64_t now_ms)
{
    gslb_gossip_msg_t m = {.backends = rx->backs};
    gslb_addr_t from;
    addr_from_sockaddr(src, &from);
    reject_info_t ri = {.m = NULL, .now_ms = now_ms};
    int n = -1;
    enum gslb_gossip_result why = GSLB_GOSSIP_RATE_LIMITED;
    pthread_mutex_lock(&rx->auth_mu);
    bool allowed = gslb_rate_allow(rx->rate, src ? &from : NULL, now_ms);
    if (allowed)
        why = authenticate(rx, msg, len, &m, &n, now_ms);
    uint64_t seq_limit = gslb_gossip_seq_limit(now_ms, rx->max_skew_ms);
    pthread_mutex_unlock(&rx->auth_mu);
    OPENSSL_cleanse(m.token, sizeof(m.token));
    if (allowed && n >= 0 && m.agent_id[0])
        ri.m = &m;
    char owner[GSLB_LABEL_MAX] = "";
    if (why == GSLB_GOSSIP_ACCEPTED)
        why = admit(rx, &m, (size_t)n, src, now_ms, seq_limit, owner);
    ri.owner = owner;
    return judged(rx, why, &from, &ri);
}

/* ---- application to the store --------------------------------------------- */

typedef struct svc_cache_ent {
    char service[GSLB_NAME_MAX];
    bool found;
    char domain[GSLB_NAME_MAX];
    char dom_service[GSLB_LABEL_MAX];
} svc_cache_ent_t;

typedef struct bkey {
    char domain[GSLB_NAME_MAX];
    gslb_addr_t addr;
    uint16_t port;
} bkey_t;

typedef struct batch {
    gslb_gossip_rx_t *rx;
    MDB_txn *txn;
    int64_t now_s;
    svc_cache_ent_t *svc;
    size_t nsvc, svc_cap;
    char (*dirty)[GSLB_NAME_MAX];
    size_t ndirty, dirty_cap;
    bkey_t *keys; /* the current agent's accepted backends, sorted */
    size_t nkeys;
    /* scan results */
    gslb_backend_rec_t *found;
    size_t nfound, found_cap;
    const char *scan_agent;
} batch_t;

static int mark_dirty(batch_t *b, const char *domain)
{
    for (size_t i = 0; i < b->ndirty; i++)
        if (strcmp(b->dirty[i], domain) == 0)
            return GSLB_OK;
    if (b->ndirty == b->dirty_cap) {
        size_t cap = b->dirty_cap ? b->dirty_cap * 2 : 16;
        void *v = realloc(b->dirty, cap * sizeof(*b->dirty));
        if (!v)
            return GSLB_ENOMEM;
        b->dirty = v;
        b->dirty_cap = cap;
    }
    snprintf(b->dirty[b->ndirty++], GSLB_NAME_MAX, "%s", domain);
    return GSLB_OK;
}

static const svc_cache_ent_t *lookup_service(batch_t *b, const char *service)
{
    for (size_t i = 0; i < b->nsvc; i++)
        if (strcmp(b->svc[i].service, service) == 0)
            return &b->svc[i];
    if (b->nsvc == b->svc_cap) {
        size_t cap = b->svc_cap ? b->svc_cap * 2 : 16;
        void *v = realloc(b->svc, cap * sizeof(*b->svc));
        if (!v)
            return NULL;
        b->svc = v;
        b->svc_cap = cap;
    }
    svc_cache_ent_t *e = &b->svc[b->nsvc++];
    memset(e, 0, sizeof(*e));
    snprintf(e->service, sizeof(e->service), "%s", service);
    gslb_domain_rec_t d;
    if (gslb_store_domain_by_service(b->rx->env, b->txn, service, &d) == GSLB_OK) {
        e->found = true;
        snprintf(e->domain, sizeof(e->domain), "%s", d.name);
        snprintf(e->dom_service, sizeof(e->dom_service), "%s", d.service);
    }
    return e;
}

/* A token named like the service, the domain's service name or the domain
 * covers the backend (docs/gossip-protocol.md, "Authorization"). */
static bool token_covers(const char *token_name, const char *service, const svc_cache_ent_t *e)
{
    return strcasecmp(token_name, service) == 0 || strcasecmp(token_name, e->dom_service) == 0 ||
           strcasecmp(token_name, e->domain) == 0;
}

static int bkey_cmp(const void *x, const void *y)
{
    const bkey_t *a = x, *b = y;
    int c = strcmp(a->domain, b->domain);
    if (!c)
        c = memcmp(&a->addr, &b->addr, sizeof(a->addr));
    if (!c)
        c = (int)a->port - (int)b->port;
    return c;
}

static bool latency_moved(uint32_t before, uint32_t after)
{
    uint32_t d = before > after ? before - after : after - before;
    return d >= 1000 && d * 4 >= before;
}

static const char *health_name(uint8_t h)
{
    return h == GSLB_HEALTHY ? "healthy" : h == GSLB_UNHEALTHY ? "unhealthy" : "unknown";
}

/* One info line per change of a backend's reported health (debug for a new one). */
static void log_health_change(const gslb_backend_rec_t *old, const gslb_backend_rec_t *rec)
{
    char text[64];
    gslb_addr_format(&rec->addr, text, sizeof(text));
    if (!old || old->source != GSLB_SOURCE_AGENT)
        gslb_debug("gossip: backend %s %s:%u reported %s by agent %s", rec->domain, text, rec->port,
                   health_name(rec->agent_health), rec->agent_id);
    else if (old->agent_health != rec->agent_health)
        gslb_info("gossip: backend %s %s:%u %s -> %s (agent %s)", rec->domain, text, rec->port,
                  health_name(old->agent_health), health_name(rec->agent_health), rec->agent_id);
}

/* Write one reported backend. */
static int apply_backend(batch_t *b, const gslb_gossip_msg_t *m, const gslb_gossip_backend_t *g,
                         const char *domain, bool undrain)
{
    gslb_env_t *e = b->rx->env;
    gslb_backend_rec_t old, rec;
    int rc = gslb_store_backend_get(e, b->txn, domain, &g->addr, g->port, &old);
    if (rc != GSLB_OK && rc != GSLB_ENOENT)
        return rc;
    bool exists = rc == GSLB_OK;
    if (exists)
        rec = old;
    else
        memset(&rec, 0, sizeof(rec));
    snprintf(rec.domain, sizeof(rec.domain), "%s", domain);
    rec.addr = g->addr;
    rec.port = g->port;
    rec.weight = g->weight;
    snprintf(rec.region, sizeof(rec.region), "%s", m->region);
    rec.source = GSLB_SOURCE_AGENT;
    snprintf(rec.agent_id, sizeof(rec.agent_id), "%s", m->agent_id);
    rec.agent_health = g->health;
    rec.stale = false;
    rec.draining = exists && old.draining && !undrain;
    rec.last_seen = b->now_s;
    rec.latency_us = g->latency_us;
    bool served_change =
        !exists || old.weight != rec.weight || old.agent_health != rec.agent_health || old.stale ||
        old.draining != rec.draining || old.source != rec.source ||
        strcmp(old.region, rec.region) != 0 || strcmp(old.agent_id, rec.agent_id) != 0;
    bool latency_change = exists && latency_moved(old.latency_us, rec.latency_us);
    if (served_change)
        rec.last_change = b->now_s;
    log_health_change(exists ? &old : NULL, &rec);
    if (exists && !served_change && !latency_change && old.last_seen == rec.last_seen)
        return GSLB_OK;
    if ((rc = gslb_store_backend_put(e, b->txn, &rec)) < 0)
        return rc;
    return (served_change || latency_change) ? mark_dirty(b, domain) : GSLB_OK;
}

static int collect_agent_backend(const gslb_backend_rec_t *r, void *ctx)
{
    batch_t *b = ctx;
    if (r->source != GSLB_SOURCE_AGENT || strcmp(r->agent_id, b->scan_agent) != 0)
        return 0;
    if (b->nfound == b->found_cap) {
        size_t cap = b->found_cap ? b->found_cap * 2 : 64;
        void *v = realloc(b->found, cap * sizeof(*b->found));
        if (!v)
            return GSLB_ENOMEM;
        b->found = v;
        b->found_cap = cap;
    }
    b->found[b->nfound++] = *r;
    return 0;
}

static int scan_agent_backends(batch_t *b, const char *agent_id)
{
    b->nfound = 0;
    b->scan_agent = agent_id;
    return gslb_store_foreach_backend(b->rx->env, b->txn, NULL, collect_agent_backend, b);
}

/* The configured record of r when the configuration lists it. */
static bool static_fallback(gslb_gossip_rx_t *rx, const gslb_backend_rec_t *r, int64_t now_s,
                            gslb_backend_rec_t *out)
{
    pthread_mutex_lock(&rx->auth_mu);
    const gslb_backend_rec_t *c =
        gslb_static_backends_find(&rx->statics, r->domain, &r->addr, r->port);
    if (c) {
        *out = *c;
        out->last_change = now_s;
    }
    pthread_mutex_unlock(&rx->auth_mu);
    return c != NULL;
}

/* An agent stopped reporting r: delete it, or give a configured backend back
 * its configured record (as if no agent had reported it). */
static int forget_backend(batch_t *b, const gslb_backend_rec_t *r)
{
    gslb_backend_rec_t conf;
    if (!static_fallback(b->rx, r, b->now_s, &conf))
        return gslb_store_backend_del(b->rx->env, b->txn, r->domain, &r->addr, r->port);
    char text[64];
    gslb_info("gossip: backend %s %s:%u is no longer reported by agent %s: back to its "
              "configured state",
              r->domain, gslb_addr_format(&r->addr, text, sizeof(text)), r->port, r->agent_id);
    return gslb_store_backend_put(b->rx->env, b->txn, &conf);
}

/* Delete the agent's stored backends that its message no longer lists. */
static int remove_unreported(batch_t *b, const char *agent_id)
{
    int rc = scan_agent_backends(b, agent_id);
    for (size_t i = 0; rc == GSLB_OK && i < b->nfound; i++) {
        const gslb_backend_rec_t *r = &b->found[i];
        bkey_t k;
        memset(&k, 0, sizeof(k));
        snprintf(k.domain, sizeof(k.domain), "%s", r->domain);
        k.addr = r->addr;
        k.port = r->port;
        if (bsearch(&k, b->keys, b->nkeys, sizeof(k), bkey_cmp))
            continue;
        rc = forget_backend(b, r);
        if (rc == GSLB_OK || rc == GSLB_ENOENT)
            rc = mark_dirty(b, r->domain);
    }
    return rc;
}

/* Goodbye: drain every stored backend of the agent at once. */
static int drain_agent(batch_t *b, const char *agent_id)
{
    int rc = scan_agent_backends(b, agent_id);
    for (size_t i = 0; rc == GSLB_OK && i < b->nfound; i++) {
        gslb_backend_rec_t r = b->found[i];
        if (r.draining)
            continue;
        r.draining = true;
        r.last_change = b->now_s;
        if ((rc = gslb_store_backend_put(b->rx->env, b->txn, &r)) == GSLB_OK)
            rc = mark_dirty(b, r.domain);
    }
    return rc;
}

static uint64_t content_hash(const gslb_gossip_msg_t *m)
{
    uint64_t h = fnv1a(FNV_INIT, m->region, strlen(m->region) + 1);
    h = fnv1a(h, &m->type, 1);
    for (size_t i = 0; i < m->backend_count; i++) {
        const gslb_gossip_backend_t *g = &m->backends[i];
        h = fnv1a(h, g->service, strlen(g->service) + 1);
        h = fnv1a(h, &g->addr, sizeof(g->addr));
        h = fnv1a(h, &g->port, sizeof(g->port));
        h = fnv1a(h, &g->weight, sizeof(g->weight));
        h = fnv1a(h, &g->health, sizeof(g->health));
    }
    return h;
}

static uint64_t keyset_hash(const batch_t *b)
{
    uint64_t h = FNV_INIT;
    for (size_t i = 0; i < b->nkeys; i++)
        h = fnv1a(h, &b->keys[i], sizeof(b->keys[i]));
    return h ^ b->nkeys;
}

static void warn_ignored(agent_state_t *a, const gslb_gossip_backend_t *g, bool unauthorized,
                         const char *token_name)
{
    if (a->warned_ignored)
        return;
    a->warned_ignored = true;
    if (unauthorized)
        gslb_warn("gossip: agent %s: backend of service %s ignored: token \"%s\" does not "
                  "cover it",
                  a->id, g->service, token_name);
    else
        gslb_warn("gossip: agent %s: backend of service %s ignored: no domain has this service",
                  a->id, g->service);
}

/* Write the reported backends; fills b->keys with the accepted ones. */
static int apply_backends(batch_t *b, agent_state_t *a, const gslb_gossip_msg_t *m, bool undrain)
{
    b->nkeys = 0;
    for (size_t i = 0; i < m->backend_count; i++) {
        const gslb_gossip_backend_t *g = &m->backends[i];
        const svc_cache_ent_t *s = lookup_service(b, g->service);
        if (!s)
            return GSLB_ENOMEM;
        if (!s->found || !token_covers(m->token_name, g->service, s)) {
            enum gslb_gossip_ignore why =
                s->found ? GSLB_GOSSIP_IGNORE_UNAUTHORIZED : GSLB_GOSSIP_IGNORE_UNKNOWN_SERVICE;
            count(&b->rx->counters.backends_ignored[why]);
            warn_ignored(a, g, s->found, m->token_name);
            continue;
        }
        int rc = apply_backend(b, m, g, s->domain, undrain);
        if (rc < 0)
            return rc;
        bkey_t *k = &b->keys[b->nkeys++];
        memset(k, 0, sizeof(*k));
        snprintf(k->domain, sizeof(k->domain), "%s", s->domain);
        k->addr = g->addr;
        k->port = g->port;
    }
    qsort(b->keys, b->nkeys, sizeof(*b->keys), bkey_cmp);
    return GSLB_OK;
}

static int put_agent_record(batch_t *b, agent_state_t *a, const gslb_gossip_msg_t *m,
                            gslb_agent_rec_t *old, bool *had_old)
{
    gslb_env_t *e = b->rx->env;
    gslb_agent_rec_t rec;
    int rc = gslb_store_agent_get(e, b->txn, m->agent_id, old);
    if (rc != GSLB_OK && rc != GSLB_ENOENT)
        return rc;
    *had_old = rc == GSLB_OK;
    memset(&rec, 0, sizeof(rec));
    snprintf(rec.agent_id, sizeof(rec.agent_id), "%s", m->agent_id);
    snprintf(rec.region, sizeof(rec.region), "%s", m->region);
    snprintf(rec.token_name, sizeof(rec.token_name), "%s", m->token_name);
    rec.first_seen = *had_old && old->first_seen ? old->first_seen : b->now_s;
    rec.last_heartbeat = b->now_s;
    rec.last_seq = m->seq;
    rec.source_addr = a->src;
    rec.stale = false;
    rec.goodbye = m->type == GSLB_GOSSIP_GOODBYE;
    return gslb_store_agent_put(e, b->txn, &rec);
}

static void log_registration(const agent_state_t *a, const gslb_gossip_msg_t *m)
{
    char text[64] = "(no address)";
    if (a->src.family)
        gslb_addr_format(&a->src, text, sizeof(text));
    gslb_info("gossip: agent %s registered: token \"%s\", region %s, from %s, %u backend(s)", a->id,
              m->token_name, m->region[0] ? m->region : "(none)", text, (unsigned)m->backend_count);
}

static int apply_agent(batch_t *b, agent_state_t *a)
{
    gslb_gossip_msg_t m = {.backends = b->rx->backs};
    int rc = gslb_gossip_decode(a->pt, a->pt_len, &m, GSLB_GOSSIP_MAX_BACKENDS);
    if (rc < 0)
        return GSLB_OK; /* cannot happen: it decoded when it was accepted */
    gslb_agent_rec_t old;
    bool had_old = false;
    if ((rc = put_agent_record(b, a, &m, &old, &had_old)) < 0)
        return rc;
    if (m.type == GSLB_GOSSIP_GOODBYE) {
        count(&b->rx->counters.goodbyes);
        gslb_info("gossip: agent %s said goodbye: its backends are drained", a->id);
        a->applied = false;
        a->set_known = false;
        return drain_agent(b, a->id);
    }
    if (!had_old)
        log_registration(a, &m);
    bool was_off = had_old && (old.stale || old.goodbye);
    uint64_t h = content_hash(&m);
    if (a->applied && had_old && !was_off && h == a->applied_hash && a->applied_sec == b->now_s)
        return GSLB_OK; /* same content within the same second: nothing to write */
    if (was_off)
        gslb_info("gossip: agent %s is back (%s)", a->id,
                  old.goodbye ? "after goodbye" : "was stale");
    if ((rc = apply_backends(b, a, &m, !had_old || old.goodbye)) < 0)
        return rc;
    uint64_t ks = keyset_hash(b);
    if (!a->set_known || ks != a->set_hash) {
        if ((rc = remove_unreported(b, a->id)) < 0)
            return rc;
        a->warned_ignored = a->set_known ? false : a->warned_ignored;
    }
    a->applied = true;
    a->applied_hash = h;
    a->applied_sec = b->now_s;
    a->set_hash = ks;
    a->set_known = true;
    return GSLB_OK;
}

static void batch_free(batch_t *b)
{
    free(b->svc);
    free(b->dirty);
    free(b->keys);
    free(b->found);
}

static void forget_applied(gslb_gossip_rx_t *rx, agent_state_t **list, size_t n)
{
    pthread_mutex_lock(&rx->mu);
    for (size_t i = 0; i < n; i++) {
        list[i]->applied = false;
        list[i]->set_known = false;
    }
    pthread_mutex_unlock(&rx->mu);
}

static int apply_all(batch_t *b, agent_state_t **list, size_t n)
{
    int rc = GSLB_OK;
    for (size_t i = 0; rc == GSLB_OK && i < n; i++)
        rc = apply_agent(b, list[i]);
    for (size_t i = 0; rc == GSLB_OK && i < b->ndirty; i++)
        rc = gslb_answers_rebuild_domain(b->rx->env, b->txn, b->dirty[i]);
    return rc;
}

int gslb_gossip_rx_flush(gslb_gossip_rx_t *rx, int64_t now_ms)
{
    /* Take the pending list; messages arriving meanwhile start a new one. */
    pthread_mutex_lock(&rx->mu);
    size_t n = rx->npending;
    agent_state_t **list = n ? malloc(n * sizeof(*list)) : NULL;
    if (n && !list) {
        pthread_mutex_unlock(&rx->mu);
        return GSLB_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        list[i] = rx->pending[i];
        list[i]->pending = false;
    }
    rx->npending = 0;
    pthread_mutex_unlock(&rx->mu);
    if (!n)
        return GSLB_OK;
    /* The thread that flushes is the one that ingests, so a->pt is stable. */
    batch_t b = {.rx = rx, .now_s = now_ms / 1000};
    b.keys = malloc(GSLB_GOSSIP_MAX_BACKENDS * sizeof(*b.keys));
    int rc = b.keys ? gslb_env_write_begin(rx->env, &b.txn) : GSLB_ENOMEM;
    if (rc == GSLB_OK) {
        rc = apply_all(&b, list, n);
        if (rc == GSLB_OK)
            rc = gslb_env_commit(rx->env, b.txn);
        else
            mdb_txn_abort(b.txn);
    }
    if (rc == GSLB_OK) {
        count(&rx->counters.batches);
    } else {
        count(&rx->counters.batch_errors);
        forget_applied(rx, list, n);
        gslb_error("gossip: cannot apply %zu agent message(s): %s", n, gslb_strerror(rc));
    }
    batch_free(&b);
    free(list);
    return rc;
}

/* ---- sockets -------------------------------------------------------------- */

static socklen_t bind_sockaddr(const gslb_hostport_t *hp, uint16_t port,
                               struct sockaddr_storage *ss)
{
    gslb_addr_t a;
    memset(ss, 0, sizeof(*ss));
    const char *host = hp->host[0] ? hp->host : "0.0.0.0";
    if (gslb_addr_parse(host, &a) < 0)
        return 0;
    if (a.family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        memcpy(&s6->sin6_addr, a.bytes, 16);
        return sizeof(*s6);
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    memcpy(&s4->sin_addr, a.bytes, 4);
    return sizeof(*s4);
}

static int open_bound(const gslb_hostport_t *hp, uint16_t port, int type, uint16_t *bound)
{
    struct sockaddr_storage ss;
    socklen_t sl = bind_sockaddr(hp, port, &ss);
    if (!sl) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (type == SOCK_DGRAM)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || (type == SOCK_STREAM && listen(fd, 64) != 0)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* UDP and TCP on the same port; with port 0 pick one free for both. */
static int open_sockets(gslb_gossip_rx_t *rx, const gslb_hostport_t *hp, gslb_errbuf_t *eb)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        uint16_t port = 0, tport = 0;
        int u = open_bound(hp, hp->port, SOCK_DGRAM, &port);
        if (u < 0)
            return gslb_errf(eb, GSLB_EIO, "gossip: cannot bind UDP %s port %u: %s",
                             hp->host[0] ? hp->host : "0.0.0.0", hp->port, strerror(errno));
        int t = open_bound(hp, port, SOCK_STREAM, &tport);
        if (t >= 0) {
            rx->udp_fd = u;
            rx->tcp_fd = t;
            rx->port = port;
            return GSLB_OK;
        }
        int e = errno;
        close(u);
        if (hp->port != 0)
            return gslb_errf(eb, GSLB_EIO, "gossip: cannot bind TCP %s port %u: %s",
                             hp->host[0] ? hp->host : "0.0.0.0", hp->port, strerror(e));
    }
    return gslb_errf(eb, GSLB_EIO, "gossip: no free port for both UDP and TCP");
}

/* Whether this tick's read budget has room (a new tick starts a new budget). */
static bool udp_budget_left(gslb_gossip_rx_t *rx, int64_t now)
{
    if (now - rx->budget_start_ms >= GSLB_GOSSIP_TICK_MS || now < rx->budget_start_ms) {
        rx->budget_start_ms = now;
        rx->budget_used = rx->budget_rejected = 0;
    }
    return rx->budget_used < GSLB_GOSSIP_READ_BUDGET &&
           rx->budget_rejected < GSLB_GOSSIP_REJECT_BUDGET;
}

static void read_udp(gslb_gossip_rx_t *rx, uint8_t (*bufs)[GSLB_GOSSIP_UDP_MAX + 512])
{
    struct mmsghdr mm[RX_BATCH];
    struct iovec iov[RX_BATCH];
    struct sockaddr_storage from[RX_BATCH];
    for (int round = 0; round < 16 && udp_budget_left(rx, gslb_mono_ms()); round++) {
        for (int i = 0; i < RX_BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof(bufs[i])};
            mm[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
                                            .msg_namelen = sizeof(from[i]),
                                            .msg_iov = &iov[i],
                                            .msg_iovlen = 1};
            mm[i].msg_len = 0;
        }
        int n = recvmmsg(rx->udp_fd, mm, RX_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        rx->budget_used += (size_t)n;
        int64_t now = gslb_wall_ms();
        for (int i = 0; i < n; i++) {
            /* A datagram larger than the buffer is truncated: bad length. */
            size_t len =
                (mm[i].msg_hdr.msg_flags & MSG_TRUNC) ? GSLB_GOSSIP_MSG_MAX + 1 : mm[i].msg_len;
            if (gslb_gossip_rx_ingest(rx, bufs[i], len > sizeof(bufs[i]) ? 0 : len,
                                      (struct sockaddr *)&from[i], now) != GSLB_GOSSIP_ACCEPTED)
                rx->budget_rejected++;
        }
        if (n < RX_BATCH)
            return;
    }
}

static void conn_close(gslb_gossip_rx_t *rx, size_t i)
{
    conn_t *c = &rx->conns[i];
    if (c->fd < 0)
        return;
    close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    gslb_slots_release(rx->tcp_slots, (uint32_t)i);
}

/* Report a connection's progress (a frame completed, a frame begun) and keep
 * the earliest deadline for poll(). */
static void conn_progress(gslb_gossip_rx_t *rx, size_t i, bool completed)
{
    gslb_slots_progress(rx->tcp_slots, (uint32_t)i, (uint64_t)gslb_mono_ms(), completed,
                        rx->conns[i].have > 0);
    enum gslb_slots_timer which;
    int64_t deadline = (int64_t)gslb_slots_deadline(rx->tcp_slots, (uint32_t)i, &which);
    if (deadline < rx->tcp_wake_ms)
        rx->tcp_wake_ms = deadline;
}

/* A slot for a new connection from ss, or -1 (refused and counted). */
static int64_t admit_tcp(gslb_gossip_rx_t *rx, const struct sockaddr_storage *ss, socklen_t sl,
                         gslb_slots_src_t *src)
{
    gslb_slots_source((const struct sockaddr *)ss, sl, src);
    uint32_t slot;
    switch (gslb_slots_admit(rx->tcp_slots, src, &slot)) {
    case GSLB_SLOTS_SOURCE_LIMIT:
        count(&rx->counters.tcp_rejected);
        return -1;
    case GSLB_SLOTS_EVICT:
        conn_close(rx, slot);
        count(&rx->counters.tcp_evicted);
        return slot;
    case GSLB_SLOTS_FREE:
    default:
        return slot;
    }
}

static void accept_tcp(gslb_gossip_rx_t *rx)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(rx->tcp_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        gslb_slots_src_t src;
        int64_t slot = admit_tcp(rx, &ss, sl, &src);
        if (slot < 0) {
            close(fd);
            continue;
        }
        count(&rx->counters.tcp_accepted);
        char text[64];
        gslb_addr_t from;
        addr_from_sockaddr((struct sockaddr *)&ss, &from);
        gslb_debug("gossip: TCP connection from %s", gslb_addr_format(&from, text, sizeof(text)));
        conn_t *c = &rx->conns[slot];
        memset(c, 0, sizeof(*c));
        c->src = from;
        c->fd = fd;
        c->need = 4;
        c->ss = ss;
        gslb_slots_take(rx->tcp_slots, (uint32_t)slot, &src, (uint64_t)gslb_mono_ms());
        conn_progress(rx, (size_t)slot, false);
    }
}

/* Returns false when the connection must be closed. */
static bool conn_frame_done(gslb_gossip_rx_t *rx, conn_t *c)
{
    if (c->need == 4) {
        uint32_t len = gslb_get_be32(c->buf);
        if (len < GSLB_GOSSIP_OVERHEAD || len > GSLB_GOSSIP_MSG_MAX) {
            reject_info_t ri = {.now_ms = gslb_wall_ms()};
            judged(rx, GSLB_GOSSIP_BAD_LENGTH, &c->src, &ri);
            return false;
        }
        uint8_t *nb = realloc(c->buf, 4 + (size_t)len);
        if (!nb)
            return false;
        c->buf = nb;
        c->need = 4 + (size_t)len;
        return true;
    }
    gslb_gossip_rx_ingest(rx, c->buf + 4, c->need - 4, (struct sockaddr *)&c->ss, gslb_wall_ms());
    c->have = 0;
    c->need = 4;
    return true;
}

/* Read what connection i has; a byte inside a frame extends no deadline
 * (tcp_slots.h). Returns false when the connection must be closed. */
static bool conn_read(gslb_gossip_rx_t *rx, size_t i)
{
    conn_t *c = &rx->conns[i];
    bool completed = false;
    if (!c->buf && !(c->buf = malloc(4)))
        return false;
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->have, c->need - c->have, MSG_DONTWAIT);
        if (r == 0)
            return false;
        if (r < 0) {
            if (errno != EAGAIN && errno != EINTR)
                return false;
            conn_progress(rx, i, completed);
            return true;
        }
        c->have += (size_t)r;
        if (c->have == c->need) {
            bool frame = c->need > 4;
            if (!conn_frame_done(rx, c))
                return false;
            completed |= frame;
        }
    }
}

/* Close connections past their deadline; sets the next one for poll(). */
static void expire_conns(gslb_gossip_rx_t *rx)
{
    int64_t now = gslb_mono_ms(), next = INT64_MAX;
    for (size_t i = 0; i < GSLB_GOSSIP_TCP_MAX_CONNS && gslb_slots_open(rx->tcp_slots); i++) {
        if (rx->conns[i].fd < 0)
            continue;
        enum gslb_slots_timer which;
        int64_t deadline = (int64_t)gslb_slots_deadline(rx->tcp_slots, (uint32_t)i, &which);
        if (deadline > now) {
            next = deadline < next ? deadline : next;
            continue;
        }
        conn_close(rx, i);
        count(which == GSLB_SLOTS_TIMER_MESSAGE ? &rx->counters.tcp_message_timeouts
                                                : &rx->counters.tcp_idle_timeouts);
    }
    rx->tcp_wake_ms = next;
}

static int poll_timeout(const gslb_gossip_rx_t *rx)
{
    int64_t now = gslb_mono_ms();
    int64_t wake = now + 1000;
    if (rx->npending)
        wake = rx->first_pending_ms + GSLB_GOSSIP_TICK_MS;
    if (rx->tcp_wake_ms < wake)
        wake = rx->tcp_wake_ms + 1; /* just past a connection's deadline */
    int64_t left = wake - now;
    return left > 0 ? (int)(left < 1000 ? left : 1000) : 0;
}

/* The poll entry of each connection; idx[k]: the slot of entry k. */
static size_t poll_conns(const gslb_gossip_rx_t *rx, struct pollfd *pf, size_t *idx)
{
    size_t n = 0;
    for (size_t i = 0; i < GSLB_GOSSIP_TCP_MAX_CONNS; i++) {
        if (rx->conns[i].fd < 0)
            continue;
        pf[n] = (struct pollfd){.fd = rx->conns[i].fd, .events = POLLIN};
        idx[n++] = i;
    }
    return n;
}

/* nice +GSLB_GOSSIP_NICE for this thread only (Linux: a thread id is a
 * process id for setpriority). */
static void lower_priority(void)
{
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, tid);
    if ((cur == -1 && errno) || setpriority(PRIO_PROCESS, tid, cur + GSLB_GOSSIP_NICE) != 0)
        gslb_warn("gossip: cannot lower the receiver thread's priority: %s", strerror(errno));
}

/* Poll timeout: the flush tick, and the next read budget when UDP is paused. */
static int next_timeout(gslb_gossip_rx_t *rx, bool udp_on)
{
    int t = poll_timeout(rx);
    if (udp_on)
        return t;
    int64_t left = rx->budget_start_ms + GSLB_GOSSIP_TICK_MS - gslb_mono_ms();
    int b = left > 0 ? (int)left : 0;
    return b < t ? b : t;
}

static void *rx_main(void *arg)
{
    gslb_gossip_rx_t *rx = arg;
    lower_priority();
    uint8_t(*bufs)[GSLB_GOSSIP_UDP_MAX + 512] = malloc(RX_BATCH * sizeof(*bufs));
    if (!bufs) {
        gslb_error("gossip: out of memory");
        return NULL;
    }
    struct pollfd pf[3 + GSLB_GOSSIP_TCP_MAX_CONNS];
    size_t idx[GSLB_GOSSIP_TCP_MAX_CONNS];
    for (;;) {
        pf[0] = (struct pollfd){.fd = rx->stop_fd, .events = POLLIN};
        bool udp_on = udp_budget_left(rx, gslb_mono_ms());
        pf[1] = (struct pollfd){.fd = rx->udp_fd, .events = udp_on ? POLLIN : 0};
        pf[2] = (struct pollfd){.fd = rx->tcp_fd, .events = POLLIN};
        size_t nc = poll_conns(rx, pf + 3, idx);
        int r = poll(pf, 3 + nc, next_timeout(rx, udp_on));
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0 && pf[0].revents)
            break;
        if (r > 0 && (pf[1].revents & POLLIN))
            read_udp(rx, bufs);
        for (size_t k = 0; r > 0 && k < nc; k++)
            if (pf[3 + k].revents && !conn_read(rx, idx[k]))
                conn_close(rx, idx[k]);
        if (r > 0 && pf[2].revents)
            accept_tcp(rx);
        expire_conns(rx);
        if (rx->npending && poll_timeout(rx) == 0)
            gslb_gossip_rx_flush(rx, gslb_wall_ms());
    }
    gslb_gossip_rx_flush(rx, gslb_wall_ms());
    free(bufs);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

static int copy_auth(gslb_gossip_rx_t *rx, const gslb_config_t *cfg, gslb_errbuf_t *eb)
{
    gslb_gossip_aead_t aead;
    if (cfg->gossip_key_len == 0)
        return gslb_errf(eb, GSLB_ECONFIG, "gossip: overwatch.gossip.encryption_key is not set");
    int rc = gslb_gossip_aead_init(&aead, cfg->gossip_key, cfg->gossip_key_len, eb);
    if (rc < 0)
        return rc;
    gslb_token_t *tokens = NULL;
    gslb_static_backends_t statics;
    if (gslb_static_backends_build(cfg, &statics) < 0) {
        gslb_gossip_aead_free(&aead);
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    }
    if (cfg->token_count) {
        tokens = malloc(cfg->token_count * sizeof(*tokens));
        if (!tokens) {
            gslb_gossip_aead_free(&aead);
            gslb_static_backends_free(&statics);
            return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
        }
        memcpy(tokens, cfg->tokens, cfg->token_count * sizeof(*tokens));
    }
    pthread_mutex_lock(&rx->auth_mu);
    gslb_gossip_aead_free(&rx->aead);
    if (rx->tokens) {
        OPENSSL_cleanse(rx->tokens, rx->token_count * sizeof(*rx->tokens));
        free(rx->tokens);
    }
    rx->aead = aead;
    rx->tokens = tokens;
    rx->token_count = cfg->token_count;
    rx->max_skew_ms = cfg->gossip_max_skew_ms;
    gslb_static_backends_free(&rx->statics);
    rx->statics = statics;
    gslb_rate_table_set(rx->rate, cfg->gossip_source_rate, cfg->gossip_source_burst);
    pthread_mutex_unlock(&rx->auth_mu);
    return GSLB_OK;
}

int gslb_gossip_rx_update(gslb_gossip_rx_t *rx, const gslb_config_t *cfg, gslb_errbuf_t *eb)
{
    return copy_auth(rx, cfg, eb);
}

static void rx_free(gslb_gossip_rx_t *rx)
{
    for (size_t i = 0; rx->tcp_slots && i < GSLB_GOSSIP_TCP_MAX_CONNS; i++)
        conn_close(rx, i);
    gslb_slots_free(rx->tcp_slots);
    if (rx->udp_fd >= 0)
        close(rx->udp_fd);
    if (rx->tcp_fd >= 0)
        close(rx->tcp_fd);
    if (rx->stop_fd >= 0)
        close(rx->stop_fd);
    gslb_gossip_aead_free(&rx->aead);
    if (rx->tokens)
        OPENSSL_cleanse(rx->tokens, rx->token_count * sizeof(*rx->tokens));
    free(rx->tokens);
    gslb_static_backends_free(&rx->statics);
    gslb_rate_table_free(rx->rate);
    gslb_log_table_free(rx->logt);
    agents_free(rx);
    free(rx->pending);
    free(rx->pt);
    free(rx->backs);
    pthread_mutex_destroy(&rx->mu);
    pthread_mutex_destroy(&rx->auth_mu);
    free(rx);
}

int gslb_gossip_rx_start(gslb_gossip_rx_t **out, const gslb_gossip_rx_opts_t *opts,
                         gslb_errbuf_t *eb)
{
    gslb_gossip_rx_t *rx = calloc(1, sizeof(*rx));
    if (!rx)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    rx->env = opts->env;
    rx->udp_fd = rx->tcp_fd = rx->stop_fd = -1;
    for (size_t i = 0; i < GSLB_GOSSIP_TCP_MAX_CONNS; i++)
        rx->conns[i].fd = -1;
    rx->tcp_wake_ms = INT64_MAX;
    const gslb_slots_limits_t lim = {.max = GSLB_GOSSIP_TCP_MAX_CONNS,
                                     .max_per_source = GSLB_GOSSIP_TCP_PER_SOURCE,
                                     .idle_ms = GSLB_GOSSIP_TCP_IDLE_MS,
                                     .message_ms = GSLB_GOSSIP_TCP_MESSAGE_MS};
    pthread_mutex_init(&rx->mu, NULL);
    pthread_mutex_init(&rx->auth_mu, NULL);
    rx->pt = malloc(GSLB_GOSSIP_MSG_MAX);
    rx->backs = malloc(GSLB_GOSSIP_MAX_BACKENDS * sizeof(*rx->backs));
    bool mem = rx->pt && rx->backs && gslb_slots_new(&lim, &rx->tcp_slots) == GSLB_OK &&
               gslb_rate_table_new(&rx->rate, 0, 1) == GSLB_OK &&
               gslb_log_table_new(&rx->logt) == GSLB_OK;
    int rc = mem ? copy_auth(rx, opts->cfg, eb) : gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    if (rc == GSLB_OK && !opts->no_sockets) {
        rc = open_sockets(rx, &opts->cfg->restart.gossip_bind, eb);
        if (rc == GSLB_OK && (rx->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
            rc = gslb_errf(eb, GSLB_EIO, "gossip: eventfd: %s", strerror(errno));
        if (rc == GSLB_OK && pthread_create(&rx->thread, NULL, rx_main, rx) != 0)
            rc = gslb_errf(eb, GSLB_EIO, "gossip: cannot start the receiver thread");
        rx->thread_started = rc == GSLB_OK;
    }
    if (rc < 0) {
        rx_free(rx);
        return rc;
    }
    if (!opts->no_sockets)
        gslb_info("gossip: listening on %s port %u (UDP and TCP)",
                  opts->cfg->restart.gossip_bind.host[0] ? opts->cfg->restart.gossip_bind.host
                                                         : "0.0.0.0",
                  rx->port);
    *out = rx;
    return GSLB_OK;
}

uint16_t gslb_gossip_rx_port(const gslb_gossip_rx_t *rx)
{
    return rx ? rx->port : 0;
}

void gslb_gossip_rx_stop(gslb_gossip_rx_t *rx)
{
    if (!rx)
        return;
    if (rx->thread_started) {
        uint64_t one = 1;
        if (write(rx->stop_fd, &one, sizeof(one)) < 0)
            gslb_warn("gossip: cannot signal the receiver thread: %s", strerror(errno));
        pthread_join(rx->thread, NULL);
    } else {
        gslb_gossip_rx_flush(rx, gslb_wall_ms());
    }
    rx_free(rx);
}
