/*
 * tcp_slots.c - the connection table of a TCP server (see tcp_slots.h).
 *
 * Slots in use are on a doubly linked list ordered by last sign of life
 * (head: quietest; a sign of life moves a slot to the tail, and the clock
 * never goes back, so the order holds). Free slots are on a stack. Slots of
 * one source hash bucket are chained (singly linked) for the per-source
 * count; the hash is keyed with a random seed per table, so a peer cannot
 * aim many sources at one chain.
 */
#include "tcp_slots.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define NONE UINT32_MAX

typedef struct slot {
    bool used;
    gslb_slots_src_t src;
    uint32_t bucket;     /* hash bucket of src */
    uint32_t chain_next; /* next slot of the same bucket */
    uint32_t prev, next; /* order of last sign of life */
    uint64_t alive_ms;   /* last sign of life */
    uint64_t message_ms; /* first byte of the message arriving; 0: none */
} slot_t;

struct gslb_slots {
    gslb_slots_limits_t lim;
    slot_t *slots;
    uint32_t *free_stack;
    uint32_t nfree;
    uint32_t head, tail; /* quietest, liveliest */
    uint32_t *buckets;   /* first slot of each chain */
    uint32_t nbuckets;   /* a power of two */
    uint64_t seed;
};

static void clamp(gslb_slots_limits_t *l)
{
    if (l->max == 0)
        l->max = 1;
    if (l->max_per_source == 0 || l->max_per_source > l->max)
        l->max_per_source = l->max;
    if (l->idle_ms == 0)
        l->idle_ms = 1;
    if (l->message_ms == 0 || l->message_ms > l->idle_ms)
        l->message_ms = l->idle_ms;
}

static uint64_t random_seed(const void *salt)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
        return seed;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)salt;
}

int gslb_slots_new(const gslb_slots_limits_t *lim, gslb_slots_t **out)
{
    *out = NULL;
    gslb_slots_t *t = calloc(1, sizeof(*t));
    if (!t)
        return GSLB_ENOMEM;
    t->lim = *lim;
    clamp(&t->lim);
    t->nbuckets = 16;
    while (t->nbuckets < t->lim.max)
        t->nbuckets *= 2;
    t->slots = calloc(t->lim.max, sizeof(*t->slots));
    t->free_stack = malloc(t->lim.max * sizeof(*t->free_stack));
    t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
    if (!t->slots || !t->free_stack || !t->buckets) {
        gslb_slots_free(t);
        return GSLB_ENOMEM;
    }
    for (uint32_t i = 0; i < t->nbuckets; i++)
        t->buckets[i] = NONE;
    /* Pop order: slot 0 first. */
    for (uint32_t i = 0; i < t->lim.max; i++)
        t->free_stack[i] = t->lim.max - 1 - i;
    t->nfree = t->lim.max;
    t->head = t->tail = NONE;
    t->seed = random_seed(t);
    *out = t;
    return GSLB_OK;
}

void gslb_slots_free(gslb_slots_t *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t->free_stack);
    free(t->buckets);
    free(t);
}

const gslb_slots_limits_t *gslb_slots_limits(const gslb_slots_t *t)
{
    return &t->lim;
}

/* ---- sources ---------------------------------------------------------------- */

void gslb_slots_source(const struct sockaddr *sa, socklen_t len, gslb_slots_src_t *out)
{
    memset(out, 0, sizeof(*out));
    if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        out->b[0] = 4;
        memcpy(out->b + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            out->b[0] = 4;
            memcpy(out->b + 1, a->s6_addr + 12, 4);
        } else {
            out->b[0] = 6;
            memcpy(out->b + 1, a->s6_addr, 8); /* the /64 */
        }
    }
}

static bool same_source(const gslb_slots_src_t *a, const gslb_slots_src_t *b)
{
    return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint32_t bucket_of(const gslb_slots_t *t, const gslb_slots_src_t *src)
{
    uint64_t w[2] = {0, 0};
    memcpy(w, src->b + 1, sizeof(w));
    uint64_t h = mix(t->seed ^ src->b[0]);
    h = mix(h ^ w[0]);
    h = mix(h ^ w[1]);
    return (uint32_t)(h & (t->nbuckets - 1));
}

uint32_t gslb_slots_count_source(const gslb_slots_t *t, const gslb_slots_src_t *src)
{
    uint32_t n = 0;
    for (uint32_t i = t->buckets[bucket_of(t, src)]; i != NONE; i = t->slots[i].chain_next)
        n += same_source(&t->slots[i].src, src);
    return n;
}

/* ---- order of last sign of life -------------------------------------------- */

static void order_unlink(gslb_slots_t *t, uint32_t i)
{
    slot_t *s = &t->slots[i];
    if (s->prev != NONE)
        t->slots[s->prev].next = s->next;
    else
        t->head = s->next;
    if (s->next != NONE)
        t->slots[s->next].prev = s->prev;
    else
        t->tail = s->prev;
    s->prev = s->next = NONE;
}

static void order_append(gslb_slots_t *t, uint32_t i)
{
    slot_t *s = &t->slots[i];
    s->prev = t->tail;
    s->next = NONE;
    if (t->tail != NONE)
        t->slots[t->tail].next = i;
    else
        t->head = i;
    t->tail = i;
}

static void sign_of_life(gslb_slots_t *t, uint32_t i, uint64_t now_ms)
{
    t->slots[i].alive_ms = now_ms;
    if (t->tail != i) {
        order_unlink(t, i);
        order_append(t, i);
    }
}

/* ---- admission ---------------------------------------------------------------- */

enum gslb_slots_verdict gslb_slots_admit(const gslb_slots_t *t, const gslb_slots_src_t *src,
                                         uint32_t *slot)
{
    if (gslb_slots_count_source(t, src) >= t->lim.max_per_source) {
        *slot = NONE;
        return GSLB_SLOTS_SOURCE_LIMIT;
    }
    if (t->nfree) {
        *slot = t->free_stack[t->nfree - 1];
        return GSLB_SLOTS_FREE;
    }
    *slot = t->head;
    return GSLB_SLOTS_EVICT;
}

void gslb_slots_take(gslb_slots_t *t, uint32_t slot, const gslb_slots_src_t *src, uint64_t now_ms)
{
    if (slot >= t->lim.max || t->slots[slot].used)
        return;
    /* Take it off the free stack (usually its top). */
    for (uint32_t k = t->nfree; k-- > 0;) {
        if (t->free_stack[k] == slot) {
            t->free_stack[k] = t->free_stack[--t->nfree];
            break;
        }
    }
    slot_t *s = &t->slots[slot];
    s->used = true;
    s->src = *src;
    s->bucket = bucket_of(t, src);
    s->chain_next = t->buckets[s->bucket];
    t->buckets[s->bucket] = slot;
    s->alive_ms = now_ms;
    s->message_ms = 0;
    order_append(t, slot);
}

void gslb_slots_release(gslb_slots_t *t, uint32_t slot)
{
    if (slot >= t->lim.max || !t->slots[slot].used)
        return;
    slot_t *s = &t->slots[slot];
    uint32_t *link = &t->buckets[s->bucket];
    while (*link != slot)
        link = &t->slots[*link].chain_next;
    *link = s->chain_next;
    order_unlink(t, slot);
    memset(s, 0, sizeof(*s));
    t->free_stack[t->nfree++] = slot;
}

/* ---- timers ------------------------------------------------------------------- */

void gslb_slots_progress(gslb_slots_t *t, uint32_t slot, uint64_t now_ms, bool completed,
                         bool partial)
{
    if (!gslb_slots_used(t, slot))
        return;
    slot_t *s = &t->slots[slot];
    if (completed) {
        sign_of_life(t, slot, now_ms);
        s->message_ms = 0;
    }
    if (!partial) {
        s->message_ms = 0;
    } else if (s->message_ms == 0) {
        s->message_ms = now_ms ? now_ms : 1; /* 0 means "none" */
        sign_of_life(t, slot, now_ms);
    }
}

bool gslb_slots_used(const gslb_slots_t *t, uint32_t slot)
{
    return slot < t->lim.max && t->slots[slot].used;
}

uint32_t gslb_slots_open(const gslb_slots_t *t)
{
    return t->lim.max - t->nfree;
}

uint64_t gslb_slots_deadline(const gslb_slots_t *t, uint32_t slot, enum gslb_slots_timer *which)
{
    const slot_t *s = &t->slots[slot];
    if (s->message_ms) {
        *which = GSLB_SLOTS_TIMER_MESSAGE;
        return s->message_ms + t->lim.message_ms;
    }
    *which = GSLB_SLOTS_TIMER_IDLE;
    return s->alive_ms + t->lim.idle_ms;
}
