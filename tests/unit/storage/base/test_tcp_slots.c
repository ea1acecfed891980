/*
 * test_tcp_slots.c - the TCP connection table of tcp_slots.h: free slots
 * first, then the quietest connection is evicted; a source at its limit is
 * refused while another is admitted; bytes inside a message move no deadline
 * and no eviction order; the message timer runs from a message's first byte;
 * source keys (IPv4, IPv4-mapped, IPv6 /64); clamped limits; and a random
 * sequence of operations checked against a plain model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tcp_slots.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gslb_slots_src_t v4(const char *text)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(1234)};
    assert_int_equal(inet_pton(AF_INET, text, &sa.sin_addr), 1);
    gslb_slots_src_t src;
    gslb_slots_source((struct sockaddr *)&sa, sizeof(sa), &src);
    return src;
}

static gslb_slots_src_t v6(const char *text, uint16_t port)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET6, text, &sa.sin6_addr), 1);
    gslb_slots_src_t src;
    gslb_slots_source((struct sockaddr *)&sa, sizeof(sa), &src);
    return src;
}

static gslb_slots_t *table(uint32_t max, uint32_t per_source, uint32_t idle, uint32_t message)
{
    gslb_slots_limits_t lim = {
        .max = max, .max_per_source = per_source, .idle_ms = idle, .message_ms = message};
    gslb_slots_t *t = NULL;
    assert_int_equal(gslb_slots_new(&lim, &t), GSLB_OK);
    return t;
}

/* Admit src at now; returns the slot (asserting the verdict). */
static uint32_t open_one(gslb_slots_t *t, const gslb_slots_src_t *src, uint64_t now,
                         enum gslb_slots_verdict expect)
{
    uint32_t slot = 0;
    assert_int_equal(gslb_slots_admit(t, src, &slot), expect);
    if (expect == GSLB_SLOTS_EVICT)
        gslb_slots_release(t, slot);
    gslb_slots_take(t, slot, src, now);
    assert_true(gslb_slots_used(t, slot));
    return slot;
}

static void test_full_table_evicts_the_quietest(void **state)
{
    (void)state;
    gslb_slots_t *t = table(4, 4, 10000, 2000);
    char addr[32];
    uint32_t slot[4];
    for (uint32_t i = 0; i < 4; i++) {
        snprintf(addr, sizeof(addr), "192.0.2.%u", i + 1);
        gslb_slots_src_t s = v4(addr);
        slot[i] = open_one(t, &s, 100 + i, GSLB_SLOTS_FREE);
    }
    assert_int_equal(gslb_slots_open(t), 4);
    /* The first one answered a query: the second is now the quietest. */
    gslb_slots_progress(t, slot[0], 200, true, false);
    gslb_slots_src_t other = v4("198.51.100.1");
    uint32_t victim = 99;
    assert_int_equal(gslb_slots_admit(t, &other, &victim), GSLB_SLOTS_EVICT);
    assert_int_equal(victim, slot[1]);
    assert_int_equal(gslb_slots_open(t), 4); /* admit changed nothing */
    /* The third starts a message (a sign of life); its later bytes are not. */
    gslb_slots_progress(t, slot[2], 300, false, true);
    gslb_slots_progress(t, slot[3], 301, false, true);
    gslb_slots_progress(t, slot[2], 400, false, true);
    gslb_slots_progress(t, slot[2], 500, false, true);
    uint32_t got = open_one(t, &other, 600, GSLB_SLOTS_EVICT);
    assert_int_equal(got, slot[1]);
    /* Now in order: slot[0] (200), slot[2] (300), slot[3] (301), the new one (600). */
    assert_int_equal(gslb_slots_admit(t, &other, &victim), GSLB_SLOTS_EVICT);
    assert_int_equal(victim, slot[0]);
    gslb_slots_release(t, slot[0]);
    assert_int_equal(gslb_slots_admit(t, &other, &victim), GSLB_SLOTS_FREE);
    assert_int_equal(victim, slot[0]);
    gslb_slots_free(t);
}

static void test_per_source_limit(void **state)
{
    (void)state;
    gslb_slots_t *t = table(16, 3, 10000, 2000);
    gslb_slots_src_t a = v4("127.0.0.1"), b = v4("127.0.0.2");
    uint32_t first = open_one(t, &a, 1, GSLB_SLOTS_FREE);
    open_one(t, &a, 2, GSLB_SLOTS_FREE);
    open_one(t, &a, 3, GSLB_SLOTS_FREE);
    assert_int_equal(gslb_slots_count_source(t, &a), 3);
    uint32_t slot = 0;
    assert_int_equal(gslb_slots_admit(t, &a, &slot), GSLB_SLOTS_SOURCE_LIMIT);
    open_one(t, &b, 4, GSLB_SLOTS_FREE); /* another source still gets in */
    assert_int_equal(gslb_slots_count_source(t, &b), 1);
    gslb_slots_release(t, first);
    assert_int_equal(gslb_slots_count_source(t, &a), 2);
    open_one(t, &a, 5, GSLB_SLOTS_FREE);
    /* Even a full table refuses a source at its limit rather than evicting. */
    gslb_slots_t *small = table(3, 2, 10000, 2000);
    open_one(small, &a, 1, GSLB_SLOTS_FREE);
    open_one(small, &a, 2, GSLB_SLOTS_FREE);
    open_one(small, &b, 3, GSLB_SLOTS_FREE);
    assert_int_equal(gslb_slots_admit(small, &a, &slot), GSLB_SLOTS_SOURCE_LIMIT);
    assert_int_equal(gslb_slots_admit(small, &b, &slot), GSLB_SLOTS_EVICT);
    gslb_slots_free(small);
    gslb_slots_free(t);
}

static void test_trickled_bytes_move_no_deadline(void **state)
{
    (void)state;
    gslb_slots_t *t = table(8, 8, 10000, 2000);
    gslb_slots_src_t a = v4("203.0.113.7");
    uint32_t s = open_one(t, &a, 1000, GSLB_SLOTS_FREE);
    enum gslb_slots_timer which;
    assert_int_equal(gslb_slots_deadline(t, s, &which), 11000);
    assert_int_equal(which, GSLB_SLOTS_TIMER_IDLE);
    /* First byte of a query at 3000: the whole query is due by 5000. */
    gslb_slots_progress(t, s, 3000, false, true);
    assert_int_equal(gslb_slots_deadline(t, s, &which), 5000);
    assert_int_equal(which, GSLB_SLOTS_TIMER_MESSAGE);
    for (uint64_t now = 3500; now < 5000; now += 500) /* a byte every 500 ms */
        gslb_slots_progress(t, s, now, false, true);
    assert_int_equal(gslb_slots_deadline(t, s, &which), 5000);
    /* The query completes at 4800: idle again, from then. */
    gslb_slots_progress(t, s, 4800, true, false);
    assert_int_equal(gslb_slots_deadline(t, s, &which), 14800);
    assert_int_equal(which, GSLB_SLOTS_TIMER_IDLE);
    /* One read completes a query and begins the next: its timer starts now. */
    gslb_slots_progress(t, s, 6000, false, true);
    gslb_slots_progress(t, s, 6500, true, true);
    assert_int_equal(gslb_slots_deadline(t, s, &which), 8500);
    assert_int_equal(which, GSLB_SLOTS_TIMER_MESSAGE);
    /* Nothing buffered any more (e.g. an answer is being written): idle timer. */
    gslb_slots_progress(t, s, 7000, false, false);
    assert_int_equal(gslb_slots_deadline(t, s, &which), 16500);
    assert_int_equal(which, GSLB_SLOTS_TIMER_IDLE);
    gslb_slots_free(t);
}

static void test_limits_are_clamped(void **state)
{
    (void)state;
    gslb_slots_t *t = table(0, 0, 0, 0);
    const gslb_slots_limits_t *l = gslb_slots_limits(t);
    assert_int_equal(l->max, 1);
    assert_int_equal(l->max_per_source, 1);
    assert_int_equal(l->idle_ms, 1);
    assert_int_equal(l->message_ms, 1);
    gslb_slots_free(t);
    t = table(4, 32, 1000, 5000); /* message timer capped at the idle timer */
    assert_int_equal(gslb_slots_limits(t)->max_per_source, 4);
    assert_int_equal(gslb_slots_limits(t)->message_ms, 1000);
    gslb_slots_free(t);
}

static void test_source_keys(void **state)
{
    (void)state;
    gslb_slots_src_t a = v4("192.0.2.1"), mapped = v6("::ffff:192.0.2.1", 9);
    assert_memory_equal(&a, &mapped, sizeof(a));
    gslb_slots_src_t b = v4("192.0.2.2");
    assert_memory_not_equal(&a, &b, sizeof(a));
    /* One IPv6 /64 is one source; the next /64 another. */
    gslb_slots_src_t x = v6("2001:db8:1:2::1", 1), y = v6("2001:db8:1:2:ffff::9", 2);
    gslb_slots_src_t z = v6("2001:db8:1:3::1", 1);
    assert_memory_equal(&x, &y, sizeof(x));
    assert_memory_not_equal(&x, &z, sizeof(x));
    /* An IPv6 /64 that looks like an IPv4 address is not that address. */
    gslb_slots_src_t tricky = v6("c000:0201::", 1);
    assert_memory_not_equal(&tricky, &a, sizeof(a));
    gslb_slots_t *t = table(8, 2, 1000, 500);
    open_one(t, &x, 1, GSLB_SLOTS_FREE);
    open_one(t, &y, 2, GSLB_SLOTS_FREE);
    uint32_t slot;
    assert_int_equal(gslb_slots_admit(t, &x, &slot), GSLB_SLOTS_SOURCE_LIMIT);
    assert_int_equal(gslb_slots_admit(t, &z, &slot), GSLB_SLOTS_FREE);
    gslb_slots_free(t);
}

/* ---- a random sequence against a plain model -------------------------------------------- */

#define MODEL_MAX 24

typedef struct model {
    bool used[MODEL_MAX];
    int src[MODEL_MAX];
    uint64_t alive[MODEL_MAX];
    uint64_t message[MODEL_MAX];
} model_t;

static void check_model(const gslb_slots_t *t, const model_t *m, const gslb_slots_src_t *srcs)
{
    uint32_t open = 0;
    for (uint32_t i = 0; i < MODEL_MAX; i++) {
        assert_int_equal(gslb_slots_used(t, i), m->used[i]);
        open += m->used[i];
        if (!m->used[i])
            continue;
        enum gslb_slots_timer which;
        uint64_t d = gslb_slots_deadline(t, i, &which);
        assert_int_equal(d, m->message[i] ? m->message[i] + 300 : m->alive[i] + 1000);
    }
    assert_int_equal(gslb_slots_open(t), open);
    for (int s = 0; s < 6; s++) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < MODEL_MAX; i++)
            n += m->used[i] && m->src[i] == s;
        assert_int_equal(gslb_slots_count_source(t, &srcs[s]), n);
    }
}

static void test_random_operations_match_a_model(void **state)
{
    (void)state;
    gslb_slots_src_t srcs[6];
    for (int s = 0; s < 6; s++) {
        char text[32];
        snprintf(text, sizeof(text), "10.0.0.%d", s + 1);
        srcs[s] = v4(text);
    }
    gslb_slots_t *t = table(MODEL_MAX, 6, 1000, 300);
    model_t m;
    memset(&m, 0, sizeof(m));
    srand(12345);
    uint64_t now = 1;
    for (int step = 0; step < 20000; step++) {
        now += (uint64_t)(rand() % 3);
        int op = rand() % 4, s = rand() % 6;
        uint32_t i = (uint32_t)(rand() % MODEL_MAX);
        if (op == 0) { /* a new connection */
            uint32_t slot, n = 0, quietest = UINT32_MAX;
            for (uint32_t k = 0; k < MODEL_MAX; k++)
                n += m.used[k] && m.src[k] == s;
            bool full = true;
            for (uint32_t k = 0; k < MODEL_MAX; k++) {
                full &= m.used[k];
                if (m.used[k] && (quietest == UINT32_MAX || m.alive[k] < m.alive[quietest]))
                    quietest = k;
            }
            enum gslb_slots_verdict v = gslb_slots_admit(t, &srcs[s], &slot);
            if (n >= 6) {
                assert_int_equal(v, GSLB_SLOTS_SOURCE_LIMIT);
                continue;
            }
            assert_int_equal(v, full ? GSLB_SLOTS_EVICT : GSLB_SLOTS_FREE);
            if (full) { /* the quietest (ties: any with the same time) */
                assert_int_equal(m.alive[slot], m.alive[quietest]);
                gslb_slots_release(t, slot);
            } else {
                assert_false(m.used[slot]);
            }
            gslb_slots_take(t, slot, &srcs[s], now);
            m.used[slot] = true;
            m.src[slot] = s;
            m.alive[slot] = now;
            m.message[slot] = 0;
        } else if (op == 1 && m.used[i]) { /* closed */
            gslb_slots_release(t, i);
            m.used[i] = false;
        } else if (m.used[i]) { /* progress */
            bool completed = rand() % 2, partial = rand() % 2;
            gslb_slots_progress(t, i, now, completed, partial);
            if (completed) {
                m.alive[i] = now;
                m.message[i] = 0;
            }
            if (!partial) {
                m.message[i] = 0;
            } else if (!m.message[i]) {
                m.message[i] = now;
                m.alive[i] = now;
            }
        }
        check_model(t, &m, srcs);
    }
    gslb_slots_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_table_evicts_the_quietest),
        cmocka_unit_test(test_per_source_limit),
        cmocka_unit_test(test_trickled_bytes_move_no_deadline),
        cmocka_unit_test(test_limits_are_clamped),
        cmocka_unit_test(test_source_keys),
        cmocka_unit_test(test_random_operations_match_a_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
