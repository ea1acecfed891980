/*
 * policy.c - routing policies (see policy.h for the contract).
 */
#include "policy.h"
#include "gslb_time.h"

#include <endian.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>

/* ---- PRNG: xoshiro256** seeded by splitmix64 ------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(gslb_policy_state_t *st)
{
    uint64_t *s = st->rng;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void gslb_policy_init(gslb_policy_state_t *st, uint64_t seed)
{
    if (seed == 0 && getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        seed = (uint64_t)gslb_mono_ns() ^ (uint64_t)(uintptr_t)st;
    }
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        st->rng[i] = splitmix64(&x);
    st->rr = splitmix64(&x) & 0xFFFF;
}

/* Lemire's multiply-shift with rejection: unbiased for every bound. */
uint64_t gslb_policy_uniform(gslb_policy_state_t *st, uint64_t bound)
{
    unsigned __int128 m = (unsigned __int128)rng_next(st) * bound;
    uint64_t low = (uint64_t)m;
    if (low < bound) {
        uint64_t threshold = (0 - bound) % bound;
        while (low < threshold) {
            m = (unsigned __int128)rng_next(st) * bound;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* ---- pools ----------------------------------------------------------------- */

typedef struct pool {
    const gslb_ans_cand_t *c;
    size_t count;
    uint8_t need_flags; /* 0 = every candidate */
    bool need_weight;   /* weighted: weight > 0 */
    bool by_priority;   /* failover: only priority == prio */
    uint8_t prio;
    bool dense; /* every candidate is a member: index arithmetic only */
} pool_t;

static inline bool pool_has(const pool_t *p, size_t i)
{
    const gslb_ans_cand_t *c = &p->c[i];
    if (p->need_flags && !(c->flags & p->need_flags))
        return false;
    if (c->flags & GSLB_CAND_OPERATOR_DOWN) /* never served, not even as a fallback */
        return false;
    if (p->need_weight && le32toh(c->weight) == 0)
        return false;
    if (p->by_priority && c->priority != p->prio)
        return false;
    return true;
}

static size_t pool_size(pool_t *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++)
        n += pool_has(p, i);
    p->dense = (n == p->count);
    return n;
}

/* True when an operator took a candidate out (override down/drain). */
static bool any_operator_down(const pool_t *p)
{
    for (size_t i = 0; i < p->count; i++)
        if (p->c[i].flags & GSLB_CAND_OPERATOR_DOWN)
            return true;
    return false;
}

/* The healthy pool, or the unhealthy_mode fallback; 0 members = no answer (SERVFAIL
 * when only addresses an operator took out are left). */
static enum gslb_pick_result choose_pool(const gslb_ans_set_t *set, pool_t *p, size_t *n)
{
    p->need_flags = GSLB_CAND_HEALTHY;
    if (!p->need_weight && set->healthy_count == set->count) { /* both little-endian */
        p->dense = true;
        *n = p->count;
    } else {
        *n = pool_size(p);
    }
    if (*n > 0)
        return GSLB_PICK_ANSWER;
    switch (set->unhealthy_mode) {
    case GSLB_UNHEALTHY_NODATA:
        return GSLB_PICK_NODATA;
    case GSLB_UNHEALTHY_SERVFAIL:
        return GSLB_PICK_SERVFAIL;
    default:
        break;
    }
    p->need_flags = GSLB_CAND_LAST_HEALTHY;
    *n = pool_size(p);
    if (*n == 0) {
        p->need_flags = 0;
        *n = pool_size(p);
    }
    if (*n > 0)
        return GSLB_PICK_ANSWER;
    return any_operator_down(p) ? GSLB_PICK_SERVFAIL : GSLB_PICK_NODATA;
}

static size_t answer_limit(const gslb_ans_set_t *set, size_t n, size_t cap)
{
    size_t k = n;
    size_t max = le16toh(set->max_records);
    if (max && k > max)
        k = max;
    return k < cap ? k : cap;
}

/* k members starting at the (rr mod n)-th, circularly. */
static size_t rotate(gslb_policy_state_t *st, const pool_t *p, size_t n, uint16_t *idx, size_t k)
{
    size_t s = (size_t)(st->rr++ % n);
    if (p->dense) {
        for (size_t i = 0; i < k; i++) {
            size_t j = s + i;
            idx[i] = (uint16_t)(j >= n ? j - n : j);
        }
        return k;
    }
    size_t first = 0;
    for (size_t seen = 0; first < p->count; first++) {
        if (pool_has(p, first) && seen++ == s)
            break;
    }
    size_t out = 0;
    for (size_t step = 0; step < p->count && out < k; step++) {
        size_t j = first + step;
        if (j >= p->count)
            j -= p->count;
        if (pool_has(p, j))
            idx[out++] = (uint16_t)j;
    }
    return out;
}

static size_t pick_weighted(gslb_policy_state_t *st, const pool_t *p, uint16_t *idx)
{
    uint64_t total = 0;
    for (size_t i = 0; i < p->count; i++) {
        if (pool_has(p, i))
            total += le32toh(p->c[i].weight);
    }
    uint64_t r = gslb_policy_uniform(st, total);
    for (size_t i = 0; i < p->count; i++) {
        if (!pool_has(p, i))
            continue;
        uint32_t w = le32toh(p->c[i].weight);
        if (r < w) {
            idx[0] = (uint16_t)i;
            return 1;
        }
        r -= w;
    }
    return 0; /* unreachable: r < total */
}

static size_t pick_failover(gslb_policy_state_t *st, pool_t *p, uint16_t *idx, size_t cap,
                            const gslb_ans_set_t *set)
{
    unsigned best = 256;
    for (size_t i = 0; i < p->count; i++) {
        if (pool_has(p, i) && p->c[i].priority < best)
            best = p->c[i].priority;
    }
    p->by_priority = true;
    p->prio = (uint8_t)best;
    size_t n = pool_size(p);
    return rotate(st, p, n, idx, answer_limit(set, n, cap));
}

static uint32_t latency_key(const gslb_ans_cand_t *c)
{
    uint32_t l = le32toh(c->latency_us);
    return l ? l : UINT32_MAX;
}

static int cmp_latency(const void *a, const void *b, void *ctx)
{
    const gslb_ans_cand_t *c = ctx;
    uint16_t ia = *(const uint16_t *)a, ib = *(const uint16_t *)b;
    uint32_t la = latency_key(&c[ia]), lb = latency_key(&c[ib]);
    if (la != lb)
        return la < lb ? -1 : 1;
    return ia < ib ? -1 : (ia > ib);
}

static size_t pick_latency(gslb_policy_state_t *st, const pool_t *p, size_t n, uint16_t *idx,
                           size_t cap, const gslb_ans_set_t *set)
{
    size_t m = 0;
    bool known = false;
    for (size_t i = 0; i < p->count && m < cap; i++) {
        if (!pool_has(p, i))
            continue;
        known |= p->c[i].latency_us != 0;
        idx[m++] = (uint16_t)i;
    }
    if (!known)
        return rotate(st, p, n, idx, answer_limit(set, n, cap));
    qsort_r(idx, m, sizeof(idx[0]), cmp_latency, (void *)p->c);
    return answer_limit(set, m, cap);
}

enum gslb_pick_result gslb_policy_pick(gslb_policy_state_t *st, const gslb_ans_set_t *set,
                                       uint16_t *idx, size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (set->count == 0 || cap == 0)
        return GSLB_PICK_NODATA;
    pool_t p = {.c = gslb_ans_cands(set), .count = le16toh(set->count)};
    p.need_weight = set->policy == GSLB_POLICY_WEIGHTED;
    size_t n = 0;
    enum gslb_pick_result rc = choose_pool(set, &p, &n);
    if (rc != GSLB_PICK_ANSWER)
        return rc;
    switch (set->policy) {
    case GSLB_POLICY_WEIGHTED:
        *n_out = pick_weighted(st, &p, idx);
        break;
    case GSLB_POLICY_FAILOVER:
        *n_out = pick_failover(st, &p, idx, cap, set);
        break;
    case GSLB_POLICY_LATENCY:
        *n_out = pick_latency(st, &p, n, idx, cap, set);
        break;
    default: /* round-robin, geolocation (no GeoIP data: round-robin) */
        *n_out = rotate(st, &p, n, idx, answer_limit(set, n, cap));
        break;
    }
    return *n_out > 0 ? GSLB_PICK_ANSWER : GSLB_PICK_NODATA;
}

const char *gslb_policy_name(unsigned policy)
{
    switch (policy) {
    case GSLB_POLICY_ROUND_ROBIN:
        return "round-robin";
    case GSLB_POLICY_WEIGHTED:
        return "weighted";
    case GSLB_POLICY_FAILOVER:
        return "failover";
    case GSLB_POLICY_GEO:
        return "geolocation";
    case GSLB_POLICY_LATENCY:
        return "latency";
    default:
        return "unknown";
    }
}
