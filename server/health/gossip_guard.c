/*
 * gossip_guard.c - per-source rate limit and rejection-log limiter of the
 * gossip receiver (gossip_guard.h).
 */
#include "gossip_guard.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define FNV_PRIME 1099511628211ULL
#define FNV_INIT 14695981039346656037ULL
#define MAX_ELAPSED_MS 10000000LL /* refill horizon: far beyond any burst */

/* FNV-1a over a random per-table key, then the address (and the reason). */
static uint64_t slot_hash(const uint8_t key[16], const gslb_addr_t *a, unsigned reason)
{
    uint64_t h = FNV_INIT;
    size_t alen = a->family == AF_INET ? 4 : 16;
    uint8_t buf[16 + 1 + 16 + 1];
    memcpy(buf, key, 16);
    buf[16] = a->family;
    memcpy(buf + 17, a->bytes, alen);
    buf[17 + alen] = (uint8_t)reason;
    for (size_t i = 0; i < 18 + alen; i++) {
        h ^= buf[i];
        h *= FNV_PRIME;
    }
    return h ^ (h >> 29);
}

/* now - then, saturated (callers may pass any int64 clock value). */
static int64_t since(int64_t now, int64_t then)
{
    int64_t d;
    if (__builtin_sub_overflow(now, then, &d))
        return now < then ? INT64_MIN : INT64_MAX;
    return d;
}

static void random_key(uint8_t key[16])
{
    if (RAND_bytes(key, 16) != 1) /* never fails in practice; any key still works */
        memset(key, 0x5a, 16);
}

/* ---- rate limit ----------------------------------------------------------- */

typedef struct bucket {
    int64_t milli; /* tokens x 1000 */
    int64_t last_ms;
    bool used;
} bucket_t;

struct gslb_rate_table {
    uint8_t key[16];
    uint32_t rate, burst;
    bucket_t slot[GSLB_GUARD_RATE_SLOTS];
};

int gslb_rate_table_new(gslb_rate_table_t **out, uint32_t rate, uint32_t burst)
{
    gslb_rate_table_t *t = calloc(1, sizeof(*t));
    if (!t)
        return GSLB_ENOMEM;
    random_key(t->key);
    gslb_rate_table_set(t, rate, burst);
    *out = t;
    return GSLB_OK;
}

void gslb_rate_table_free(gslb_rate_table_t *t)
{
    free(t);
}

void gslb_rate_table_set(gslb_rate_table_t *t, uint32_t rate, uint32_t burst)
{
    t->rate = rate;
    t->burst = burst ? burst : 1;
    int64_t cap = (int64_t)t->burst * 1000;
    for (size_t i = 0; i < GSLB_GUARD_RATE_SLOTS; i++)
        if (t->slot[i].milli > cap)
            t->slot[i].milli = cap;
}

static void refill(const gslb_rate_table_t *t, bucket_t *b, int64_t now_ms)
{
    int64_t cap = (int64_t)t->burst * 1000;
    if (!b->used) {
        b->used = true;
        b->milli = cap;
        b->last_ms = now_ms;
        return;
    }
    int64_t elapsed = since(now_ms, b->last_ms);
    if (elapsed < 0) /* the clock went back: start again from now, no refill */
        b->last_ms = now_ms;
    if (elapsed <= 0)
        return;
    if (elapsed > MAX_ELAPSED_MS)
        elapsed = MAX_ELAPSED_MS;
    b->milli += elapsed * (int64_t)t->rate; /* rate per s = rate milli-tokens per ms */
    if (b->milli > cap)
        b->milli = cap;
    b->last_ms = now_ms;
}

bool gslb_rate_allow(gslb_rate_table_t *t, const gslb_addr_t *src, int64_t now_ms)
{
    if (!t || !src || !src->family || t->rate == 0)
        return true;
    bucket_t *b = &t->slot[slot_hash(t->key, src, 0) % GSLB_GUARD_RATE_SLOTS];
    refill(t, b, now_ms);
    if (b->milli < 1000)
        return false;
    b->milli -= 1000;
    return true;
}

/* ---- rejection log -------------------------------------------------------- */

typedef struct log_slot {
    gslb_addr_t src;
    unsigned reason;
    bool used;
    bool logged;         /* a line was logged for this pair */
    int64_t last_ms;     /* last line for this pair */
    uint64_t suppressed; /* rejections of this pair not logged since */
} log_slot_t;

struct gslb_log_table {
    uint8_t key[16];
    log_slot_t slot[GSLB_GUARD_LOG_SLOTS];
    /* the global cap: lines logged in the current window */
    int64_t window_ms;
    unsigned window_lines;
    uint64_t dropped;
};

int gslb_log_table_new(gslb_log_table_t **out)
{
    gslb_log_table_t *t = calloc(1, sizeof(*t));
    if (!t)
        return GSLB_ENOMEM;
    random_key(t->key);
    *out = t;
    return GSLB_OK;
}

void gslb_log_table_free(gslb_log_table_t *t)
{
    free(t);
}

static bool global_allows(gslb_log_table_t *t, int64_t now_ms)
{
    int64_t d = since(now_ms, t->window_ms);
    if (d >= GSLB_GUARD_LOG_INTERVAL_MS || d < 0) {
        t->window_ms = now_ms;
        t->window_lines = 0;
    }
    if (t->window_lines >= GSLB_GUARD_LOG_BURST) {
        t->dropped++;
        return false;
    }
    t->window_lines++;
    return true;
}

static bool same_pair(const log_slot_t *s, const gslb_addr_t *src, unsigned reason)
{
    return s->used && s->reason == reason && s->src.family == src->family &&
           memcmp(s->src.bytes, src->bytes, sizeof(src->bytes)) == 0;
}

bool gslb_log_table_should_log(gslb_log_table_t *t, const gslb_addr_t *src, unsigned reason,
                               int64_t now_ms, uint64_t *suppressed, uint64_t *dropped)
{
    static const gslb_addr_t none = {0};
    if (!src)
        src = &none;
    log_slot_t *s = &t->slot[slot_hash(t->key, src, reason) % GSLB_GUARD_LOG_SLOTS];
    if (!same_pair(s, src, reason)) { /* a new pair (it may evict another: that one
                                       * counts as new again) */
        memset(s, 0, sizeof(*s));
        s->src = *src;
        s->reason = reason;
        s->used = true;
    } else if (s->logged && since(now_ms, s->last_ms) < GSLB_GUARD_LOG_INTERVAL_MS &&
               since(now_ms, s->last_ms) >= 0) {
        s->suppressed++;
        return false;
    }
    if (!global_allows(t, now_ms)) {
        s->suppressed++; /* last_ms unchanged: the next one of this pair tries again */
        return false;
    }
    *suppressed = s->suppressed;
    *dropped = t->dropped;
    s->suppressed = 0;
    s->logged = true;
    s->last_ms = now_ms;
    t->dropped = 0;
    return true;
}
