/*
 * test_policy.c - routing policies (server/policy.c) over hand-built compiled
 * candidate sets in the answers.h layout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy.h"

#include <string.h>

#define MAXC 64

typedef struct setbuf {
    union {
        uint8_t raw[sizeof(gslb_ans_set_t) + MAXC * sizeof(gslb_ans_cand_t)];
        gslb_ans_set_t hdr;
    } u;
} setbuf_t;

static gslb_ans_cand_t *cand(setbuf_t *s, unsigned i)
{
    return (gslb_ans_cand_t *)(void *)(s->u.raw + sizeof(gslb_ans_set_t)) + i;
}

/* n candidates 10.0.0.<i+1>, weight 1, priority 0, healthy. */
static void set_init(setbuf_t *s, uint8_t policy, uint8_t mode, unsigned n)
{
    memset(s, 0, sizeof(*s));
    s->u.hdr.version = GSLB_ANS_V1;
    s->u.hdr.kind = GSLB_ANS_KIND_GSLB;
    s->u.hdr.policy = policy;
    s->u.hdr.unhealthy_mode = mode;
    s->u.hdr.ttl = 30;
    s->u.hdr.count = (uint16_t)n;
    for (unsigned i = 0; i < n; i++) {
        gslb_ans_cand_t *c = cand(s, i);
        c->addr[0] = 10;
        c->addr[3] = (uint8_t)(i + 1);
        c->weight = 1;
        c->flags = GSLB_CAND_HEALTHY;
    }
    s->u.hdr.healthy_count = (uint16_t)n;
}

static void set_health(setbuf_t *s, unsigned i, bool healthy)
{
    gslb_ans_cand_t *c = cand(s, i);
    bool was = c->flags & GSLB_CAND_HEALTHY;
    if (healthy)
        c->flags |= GSLB_CAND_HEALTHY;
    else
        c->flags &= (uint8_t)~GSLB_CAND_HEALTHY;
    s->u.hdr.healthy_count = (uint16_t)(s->u.hdr.healthy_count + (healthy - was));
}

static int pick(gslb_policy_state_t *st, setbuf_t *s, uint16_t *idx, size_t *n)
{
    return gslb_policy_pick(st, &s->u.hdr, idx, MAXC, n);
}

static void test_round_robin_rotates_every_backend_first(void **state)
{
    (void)state;
    gslb_policy_state_t st;
    gslb_policy_init(&st, 1);
    setbuf_t s;
    set_init(&s, GSLB_POLICY_ROUND_ROBIN, GSLB_UNHEALTHY_RETURN_LAST_HEALTHY, 5);
    bool first_seen[5] = {0};
    for (int round = 0; round < 5; round++) {
        uint16_t idx[MAXC];
        size_t n;
        assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
        assert_int_equal(n, 5);
        bool seen[5] = {0};
        for (size_t i = 0; i < n; i++) {
            assert_false(seen[idx[i]]);
            seen[idx[i]] = true;
            if (i > 0) /* rotated order: each next is the following index */
                assert_int_equal(idx[i], (idx[i - 1] + 1) % 5);
        }
        first_seen[idx[0]] = true;
    }
    for (int i = 0; i < 5; i++)
        assert_true(first_seen[i]);
}

static void test_round_robin_skips_unhealthy_and_caps(void **state)
{
    (void)state;
    gslb_policy_state_t st;
    gslb_policy_init(&st, 2);
    setbuf_t s;
    set_init(&s, GSLB_POLICY_ROUND_ROBIN, GSLB_UNHEALTHY_RETURN_LAST_HEALTHY, 6);
    set_health(&s, 1, false);
    set_health(&s, 4, false);
    bool first_seen[6] = {0};
    for (int round = 0; round < 8; round++) {
        uint16_t idx[MAXC];
        size_t n;
        assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
        assert_int_equal(n, 4);
        for (size_t i = 0; i < n; i++)
            assert_true(idx[i] != 1 && idx[i] != 4);
        first_seen[idx[0]] = true;
    }
    assert_true(first_seen[0] && first_seen[2] && first_seen[3] && first_seen[5]);
    s.u.hdr.max_records = 2;
    uint16_t idx[MAXC];
    size_t n;
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
    assert_int_equal(n, 2);
    /* the caller's capacity caps as well */
    assert_int_equal(gslb_policy_pick(&st, &s.u.hdr, idx, 1, &n), GSLB_PICK_ANSWER);
    assert_int_equal(n, 1);
}

static void test_uniform_bounds(void **state)
{
    (void)state;
    gslb_policy_state_t st;
    gslb_policy_init(&st, 3);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(gslb_policy_uniform(&st, 1), 0);
    unsigned counts[3] = {0};
    for (int i = 0; i < 30000; i++) {
        uint64_t r = gslb_policy_uniform(&st, 3);
        assert_true(r < 3);
        counts[r]++;
    }
    for (int i = 0; i < 3; i++) /* 10000 expected, sd ~ 82: 5 sigma */
        assert_true(counts[i] > 10000 - 410 && counts[i] < 10000 + 410);
    uint64_t big = (1ull << 63) + 12345;
    for (int i = 0; i < 1000; i++)
        assert_true(gslb_policy_uniform(&st, big) < big);
}

/* Chi-square over N draws of weights 1,2,3,4 (+ a weight-0 and an unhealthy
 * member that must never appear). 3 degrees of freedom: P(chi2 > 30) < 2e-6. */
static void test_weighted_proportional(void **state)
{
    (void)state;
    gslb_policy_state_t st;
    gslb_policy_init(&st, 0); /* random seed: the bound holds for any seed */
    setbuf_t s;
    set_init(&s, GSLB_POLICY_WEIGHTED, GSLB_UNHEALTHY_RETURN_LAST_HEALTHY, 6);
    const uint32_t w[6] = {1, 2, 3, 4, 0, 50};
    for (int i = 0; i < 6; i++)
        cand(&s, (unsigned)i)->weight = w[i];
    set_health(&s, 5, false);
    const int N = 20000;
    unsigned counts[6] = {0};
    for (int i = 0; i < N; i++) {
        uint16_t idx[MAXC];
        size_t n;
        assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
        assert_int_equal(n, 1);
        counts[idx[0]]++;
    }
    assert_int_equal(counts[4], 0);
    assert_int_equal(counts[5], 0);
    double chi2 = 0;
    for (int i = 0; i < 4; i++) {
        double expect = N * w[i] / 10.0;
        chi2 += (counts[i] - expect) * (counts[i] - expect) / expect;
    }
    print_message("weighted chi2 = %.2f (counts %u %u %u %u)\n", chi2, counts[0], counts[1],
                  counts[2], counts[3]);
    assert_true(chi2 < 30.0);
}

static void test_weighted_all_zero_weights_is_unservable(void **state)
{
    (void)state;
    gslb_policy_state_t st;
    gslb_policy_init(&st, 4);
    setbuf_t s;
    set_init(&s, GSLB_POLICY_WEIGHTED, GSLB_UNHEALTHY_NODATA, 3);
    for (unsigned i = 0; i < 3; i++)
        cand(&s, i)->weight = 0;
    uint16_t idx[MAXC];
    size_t n;
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_NODATA);
    s.u.hdr.unhealthy_mode = GSLB_UNHEALTHY_RETURN_LAST_HEALTHY;
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_NODATA);
}

static void test_failover_order_and_return(void **state)
{
    (void)state;
    gslb_policy_state_t st;
    gslb_policy_init(&st, 5);
    setbuf_t s;
    set_init(&s, GSLB_POLICY_FAILOVER, GSLB_UNHEALTHY_RETURN_LAST_HEALTHY, 6);
    /* regions: 0 = {0,1}, 1 = {2,3}, 2 = {4,5} */
    for (unsigned i = 0; i < 6; i++)
        cand(&s, i)->priority = (uint8_t)(i / 2);
    uint16_t idx[MAXC];
    size_t n;
    for (int round = 0; round < 4; round++) {
        assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
        assert_int_equal(n, 2);
        assert_true(idx[0] < 2 && idx[1] < 2 && idx[0] != idx[1]);
    }
    set_health(&s, 0, false);
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 1);
    set_health(&s, 1, false);
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
    assert_int_equal(n, 2);
    assert_true(idx[0] >= 2 && idx[0] < 4 && idx[1] >= 2 && idx[1] < 4);
    set_health(&s, 2, false);
    set_health(&s, 3, false);
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
    assert_true(idx[0] >= 4);
    set_health(&s, 1, true); /* the primary is back */
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 1);
}

static void test_unhealthy_modes(void **state)
{
    (void)state;
    gslb_policy_state_t st;
    gslb_policy_init(&st, 6);
    setbuf_t s;
    set_init(&s, GSLB_POLICY_ROUND_ROBIN, GSLB_UNHEALTHY_RETURN_LAST_HEALTHY, 4);
    for (unsigned i = 0; i < 4; i++)
        set_health(&s, i, false);
    uint16_t idx[MAXC];
    size_t n;
    /* nothing flagged last-healthy: every candidate */
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
    assert_int_equal(n, 4);
    cand(&s, 2)->flags |= GSLB_CAND_LAST_HEALTHY;
    cand(&s, 3)->flags |= GSLB_CAND_LAST_HEALTHY;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
        assert_int_equal(n, 2);
        assert_true(idx[0] >= 2 && idx[1] >= 2);
    }
    s.u.hdr.unhealthy_mode = GSLB_UNHEALTHY_NODATA;
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_NODATA);
    assert_int_equal(n, 0);
    s.u.hdr.unhealthy_mode = GSLB_UNHEALTHY_SERVFAIL;
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_SERVFAIL);
    set_health(&s, 1, true);
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 1);
}

/* Issue 16, item 4: an operator-down candidate is in no pool, fallbacks included; with
 * nothing else left return_last_healthy answers SERVFAIL. */
static void test_operator_down_never_served(void **state)
{
    (void)state;
    gslb_policy_state_t st;
    gslb_policy_init(&st, 9);
    setbuf_t s;
    uint16_t idx[MAXC];
    size_t n;
    static const uint8_t policies[] = {GSLB_POLICY_ROUND_ROBIN, GSLB_POLICY_WEIGHTED,
                                       GSLB_POLICY_FAILOVER, GSLB_POLICY_LATENCY};
    for (size_t p = 0; p < sizeof(policies); p++) {
        /* the one backend, last healthy and taken down by the operator: SERVFAIL */
        set_init(&s, policies[p], GSLB_UNHEALTHY_RETURN_LAST_HEALTHY, 1);
        set_health(&s, 0, false);
        cand(&s, 0)->flags = GSLB_CAND_LAST_HEALTHY | GSLB_CAND_OPERATOR_DOWN;
        assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_SERVFAIL);
        assert_int_equal(n, 0);
        cand(&s, 0)->flags = GSLB_CAND_OPERATOR_DOWN; /* as answers.c compiles it */
        assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_SERVFAIL);
        /* nodata stays nodata */
        s.u.hdr.unhealthy_mode = GSLB_UNHEALTHY_NODATA;
        assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_NODATA);

        /* three unhealthy, 0 operator-down: the fallback serves 1 and 2 only */
        set_init(&s, policies[p], GSLB_UNHEALTHY_RETURN_LAST_HEALTHY, 3);
        for (unsigned i = 0; i < 3; i++)
            set_health(&s, i, false);
        cand(&s, 0)->flags = GSLB_CAND_OPERATOR_DOWN;
        for (int round = 0; round < 20; round++) {
            assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
            for (size_t k = 0; k < n; k++)
                assert_true(idx[k] != 0);
        }
        /* last-healthy flagged only on the operator-down one: the others, never it */
        cand(&s, 0)->flags |= GSLB_CAND_LAST_HEALTHY;
        for (int round = 0; round < 20; round++) {
            assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
            for (size_t k = 0; k < n; k++)
                assert_true(idx[k] != 0);
        }
    }
    /* weights 0 without any operator-down: still NODATA (unchanged) */
    set_init(&s, GSLB_POLICY_WEIGHTED, GSLB_UNHEALTHY_RETURN_LAST_HEALTHY, 2);
    for (unsigned i = 0; i < 2; i++) {
        set_health(&s, i, false);
        cand(&s, i)->weight = 0;
    }
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_NODATA);
}

static void test_empty_family_is_nodata(void **state)
{
    (void)state;
    gslb_policy_state_t st;
    gslb_policy_init(&st, 7);
    setbuf_t s;
    set_init(&s, GSLB_POLICY_ROUND_ROBIN, GSLB_UNHEALTHY_SERVFAIL, 0);
    uint16_t idx[MAXC];
    size_t n;
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_NODATA);
}

static void test_latency_orders_lowest_first(void **state)
{
    (void)state;
    gslb_policy_state_t st;
    gslb_policy_init(&st, 8);
    setbuf_t s;
    set_init(&s, GSLB_POLICY_LATENCY, GSLB_UNHEALTHY_RETURN_LAST_HEALTHY, 4);
    uint16_t idx[MAXC];
    size_t n;
    /* nothing measured: round-robin (every member first at some point) */
    bool first_seen[4] = {0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
        first_seen[idx[0]] = true;
    }
    assert_true(first_seen[0] && first_seen[1] && first_seen[2] && first_seen[3]);
    cand(&s, 0)->latency_us = 900;
    cand(&s, 1)->latency_us = 0; /* unknown: last */
    cand(&s, 2)->latency_us = 100;
    cand(&s, 3)->latency_us = 500;
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
    assert_int_equal(n, 4);
    assert_int_equal(idx[0], 2);
    assert_int_equal(idx[1], 3);
    assert_int_equal(idx[2], 0);
    assert_int_equal(idx[3], 1);
    set_health(&s, 2, false);
    s.u.hdr.max_records = 1;
    assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
    assert_int_equal(n, 1);
    assert_int_equal(idx[0], 3);
}

static void test_geo_falls_back_to_round_robin(void **state)
{
    (void)state;
    gslb_policy_state_t st;
    gslb_policy_init(&st, 9);
    setbuf_t s;
    set_init(&s, GSLB_POLICY_GEO, GSLB_UNHEALTHY_RETURN_LAST_HEALTHY, 3);
    bool first_seen[3] = {0};
    for (int i = 0; i < 3; i++) {
        uint16_t idx[MAXC];
        size_t n;
        assert_int_equal(pick(&st, &s, idx, &n), GSLB_PICK_ANSWER);
        assert_int_equal(n, 3);
        first_seen[idx[0]] = true;
    }
    assert_true(first_seen[0] && first_seen[1] && first_seen[2]);
    assert_string_equal(gslb_policy_name(GSLB_POLICY_GEO), "geolocation");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin_rotates_every_backend_first),
        cmocka_unit_test(test_round_robin_skips_unhealthy_and_caps),
        cmocka_unit_test(test_uniform_bounds),
        cmocka_unit_test(test_weighted_proportional),
        cmocka_unit_test(test_weighted_all_zero_weights_is_unservable),
        cmocka_unit_test(test_failover_order_and_return),
        cmocka_unit_test(test_unhealthy_modes),
        cmocka_unit_test(test_operator_down_never_served),
        cmocka_unit_test(test_empty_family_is_nodata),
        cmocka_unit_test(test_latency_orders_lowest_first),
        cmocka_unit_test(test_geo_falls_back_to_round_robin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
