/*
 * test_answers.c - compiled answer sets against a real LMDB: keys, node/ENT/
 * apex/host entries, static SOA/NS/glue, candidate flags, last-healthy
 * retention, generations, removal, and gslb_ans_check on damaged values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_tmpstore.h"

#include "answers.h"
#include "env.h"
#include "store.h"
#include "storage_samples.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZONE "gslb.example.com"
#define WEB "webapp." ZONE
#define DEEP "api.eu.svc." ZONE

typedef struct fixture {
    char dir[64];
    gslb_env_t env;
    MDB_txn *txn;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (gslb_test_env_open(&f->env, f->dir, sizeof(f->dir), "answers") != 0 ||
        gslb_env_write_begin(&f->env, &f->txn))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (f->txn)
        mdb_txn_abort(f->txn);
    gslb_env_close(&f->env);
    int rc = gslb_test_rmtree(f->dir);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Looks up (name, qtype); returns the kind or an error. */
static int lookup(fixture_t *f, const char *name, uint16_t qtype, MDB_val *v)
{
    uint8_t wire[256], key[260];
    int n = gslb_ans_name_to_wire(name, wire, sizeof(wire));
    assert_true(n > 0);
    int k = gslb_ans_key(wire, (size_t)n, qtype, key, sizeof(key));
    assert_int_equal(k, n + 2);
    return gslb_ans_lookup(f->txn, f->env.dbi[GSLB_DBI_ANSWERS], key, (size_t)k, v);
}

static gslb_ans_node_t get_node(fixture_t *f, const char *name)
{
    MDB_val v;
    gslb_ans_node_t node;
    assert_int_equal(lookup(f, name, GSLB_ANS_NODE, &v), GSLB_ANS_KIND_NODE);
    memcpy(&node, v.mv_data, sizeof(node));
    return node;
}

static gslb_ans_set_t get_set(fixture_t *f, const char *name, uint16_t qtype,
                              gslb_ans_cand_t *cands, size_t max)
{
    MDB_val v;
    gslb_ans_set_t s;
    assert_int_equal(lookup(f, name, qtype, &v), GSLB_ANS_KIND_GSLB);
    memcpy(&s, v.mv_data, sizeof(s));
    assert_true(le16toh(s.count) <= max);
    memcpy(cands, gslb_ans_cands(v.mv_data), le16toh(s.count) * sizeof(*cands));
    return s;
}

static const gslb_ans_cand_t *find_cand(const gslb_ans_cand_t *c, size_t n, const char *addr)
{
    gslb_addr_t a = sample_addr(addr);
    for (size_t i = 0; i < n; i++)
        if (memcmp(c[i].addr, a.bytes, 16) == 0)
            return &c[i];
    fail_msg("candidate %s missing", addr);
    return NULL;
}

static void put_backend(fixture_t *f, gslb_backend_rec_t *b)
{
    assert_int_equal(gslb_store_backend_put(&f->env, f->txn, b), GSLB_OK);
}

static void populate(fixture_t *f)
{
    gslb_zone_rec_t z = sample_zone(ZONE);
    gslb_domain_rec_t web = sample_domain(WEB, ZONE);
    gslb_domain_rec_t deep = sample_domain(DEEP, ZONE);
    deep.ttl = 0; /* falls back to the zone's default_ttl */
    assert_int_equal(gslb_store_zone_put(&f->env, f->txn, &z), GSLB_OK);
    assert_int_equal(gslb_store_domain_put(&f->env, f->txn, &web), GSLB_OK);
    assert_int_equal(gslb_store_domain_put(&f->env, f->txn, &deep), GSLB_OK);
    gslb_backend_rec_t b1 = sample_backend(WEB, "10.0.1.1", "us-east");
    gslb_backend_rec_t b2 = sample_backend(WEB, "10.0.1.2", "eu-west");
    gslb_backend_rec_t b3 = sample_backend(WEB, "10.0.1.3", "ap-south"); /* unlisted region */
    gslb_backend_rec_t b6 = sample_backend(WEB, "2001:db8::1", "us-east");
    b2.weight = 7;
    put_backend(f, &b1);
    put_backend(f, &b2);
    put_backend(f, &b3);
    put_backend(f, &b6);
    gslb_backend_rec_t d1 = sample_backend(DEEP, "10.0.2.1", "us-east");
    put_backend(f, &d1);
}

static void test_key_lowercases_and_validates(void **state)
{
    const uint8_t wire[] = {3, 'W', 'w', 'W', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 0};
    uint8_t key[260];
    int n = gslb_ans_key(wire, sizeof(wire), 28, key, sizeof(key));
    assert_int_equal(n, sizeof(wire) + 2);
    assert_memory_equal(key, "\3www\7example\0\0\x1c", sizeof(wire) + 2);
    const uint8_t bad[] = {3, 'w', 'w', 0}; /* label runs into the end */
    assert_int_equal(gslb_ans_key(bad, sizeof(bad), 1, key, sizeof(key)), GSLB_EINVAL);
    const uint8_t no_root[] = {1, 'a'};
    assert_int_equal(gslb_ans_key(no_root, sizeof(no_root), 1, key, sizeof(key)), GSLB_EINVAL);
    assert_int_equal(gslb_ans_key(wire, sizeof(wire), 1, key, sizeof(wire) + 1), GSLB_EINVAL);
    char text[64];
    assert_int_equal(gslb_ans_wire_to_text(key, sizeof(wire), text, sizeof(text)), 11);
    assert_string_equal(text, "www.example");
}

static void test_nodes_apex_ent_and_hosts(void **state)
{
    fixture_t *f = *state;
    populate(f);
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);
    uint8_t wz[256], wd[256];
    int zl = gslb_ans_name_to_wire(ZONE, wz, sizeof(wz));
    int dl = gslb_ans_name_to_wire(DEEP, wd, sizeof(wd));

    gslb_ans_node_t apex = get_node(f, ZONE);
    assert_int_equal(apex.flags, GSLB_NODE_APEX);
    assert_int_equal(apex.zone_offset, 0);
    gslb_ans_node_t deep = get_node(f, DEEP);
    assert_int_equal(deep.flags, GSLB_NODE_DOMAIN);
    assert_int_equal(deep.zone_offset, dl - zl);
    assert_int_equal(get_node(f, "eu.svc." ZONE).flags, GSLB_NODE_ENT);
    assert_int_equal(get_node(f, "svc." ZONE).flags, GSLB_NODE_ENT);
    assert_int_equal(get_node(f, "svc." ZONE).zone_offset, 4);
    assert_int_equal(get_node(f, "ns1." ZONE).flags, GSLB_NODE_HOST);
    MDB_val v;
    assert_int_equal(lookup(f, "ns2.example.net", GSLB_ANS_NODE, &v), GSLB_ENOENT);
    assert_int_equal(lookup(f, "nothere." ZONE, GSLB_ANS_NODE, &v), GSLB_ENOENT);

    /* glue for the in-zone NS host */
    assert_int_equal(lookup(f, "NS1." ZONE, 1, &v), GSLB_ANS_KIND_STATIC);
    gslb_ans_static_t st;
    memcpy(&st, v.mv_data, sizeof(st));
    assert_int_equal(le16toh(st.count), 1);
    assert_int_equal(le32toh(st.ttl), 86400);
    const uint8_t *rd = (const uint8_t *)v.mv_data + sizeof(st);
    assert_int_equal(rd[0] | rd[1] << 8, 4);
    assert_memory_equal(rd + 2, "\xc0\x00\x02\x35", 4);
    assert_int_equal(lookup(f, "ns1." ZONE, 28, &v), GSLB_ANS_KIND_STATIC);
}

static void test_static_soa_and_ns(void **state)
{
    fixture_t *f = *state;
    populate(f);
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);
    MDB_val v;
    gslb_ans_static_t st;
    assert_int_equal(lookup(f, ZONE, 6, &v), GSLB_ANS_KIND_STATIC);
    memcpy(&st, v.mv_data, sizeof(st));
    assert_int_equal(le16toh(st.count), 1);
    assert_int_equal(le32toh(st.ttl), 300);
    assert_int_equal(le32toh(st.neg_ttl), 60); /* min(soa_ttl 300, minimum 60) */
    const uint8_t *rd = (const uint8_t *)v.mv_data + sizeof(st) + 2;
    uint8_t mname[256], rname[256];
    int ml = gslb_ans_name_to_wire("ns1." ZONE, mname, sizeof(mname));
    int rl = gslb_ans_name_to_wire("hostmaster." ZONE, rname, sizeof(rname));
    assert_int_equal(rd[-2] | rd[-1] << 8, ml + rl + 20);
    assert_memory_equal(rd, mname, (size_t)ml);
    assert_memory_equal(rd + ml, rname, (size_t)rl);
    const uint8_t *nums = rd + ml + rl;
    assert_int_equal((uint32_t)nums[0] << 24 | nums[1] << 16 | nums[2] << 8 | nums[3], 2026010101u);

    assert_int_equal(lookup(f, ZONE, 2, &v), GSLB_ANS_KIND_STATIC);
    memcpy(&st, v.mv_data, sizeof(st));
    assert_int_equal(le16toh(st.count), 2);
    assert_int_equal(le32toh(st.ttl), 86400);
}

static void test_candidates_and_flags(void **state)
{
    fixture_t *f = *state;
    populate(f);
    /* 10.0.1.2 agent-unhealthy but forced UP; 10.0.1.3 stale; 10.0.1.1 healthy but DOWN */
    gslb_backend_rec_t b2 = sample_backend(WEB, "10.0.1.2", "eu-west");
    b2.weight = 7;
    b2.agent_health = GSLB_UNHEALTHY;
    put_backend(f, &b2);
    gslb_backend_rec_t b3 = sample_backend(WEB, "10.0.1.3", "ap-south");
    b3.stale = true;
    put_backend(f, &b3);
    gslb_override_rec_t up = sample_override(WEB, "10.0.1.2", GSLB_OVERRIDE_UP);
    gslb_override_rec_t down = sample_override(WEB, "10.0.1.1", GSLB_OVERRIDE_DOWN);
    assert_int_equal(gslb_store_override_put(&f->env, f->txn, &up), GSLB_OK);
    assert_int_equal(gslb_store_override_put(&f->env, f->txn, &down), GSLB_OK);
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);

    gslb_ans_cand_t c[8];
    gslb_ans_set_t s = get_set(f, WEB, 1, c, 8);
    assert_int_equal(le16toh(s.count), 3);
    assert_int_equal(le16toh(s.healthy_count), 1);
    assert_int_equal(s.policy, GSLB_POLICY_FAILOVER);
    assert_int_equal(le32toh(s.ttl), 20);
    assert_int_equal(le16toh(s.max_records), 4);
    const gslb_ans_cand_t *c1 = find_cand(c, 3, "10.0.1.1");
    const gslb_ans_cand_t *c2 = find_cand(c, 3, "10.0.1.2");
    const gslb_ans_cand_t *c3 = find_cand(c, 3, "10.0.1.3");
    assert_false(c1->flags & GSLB_CAND_HEALTHY);
    assert_true(c2->flags & GSLB_CAND_HEALTHY);
    assert_false(c3->flags & GSLB_CAND_HEALTHY);
    assert_int_equal(c1->priority, 0);
    assert_int_equal(c2->priority, 1);
    assert_int_equal(c3->priority, 255);
    assert_int_equal(le32toh(c2->weight), 7);
    assert_int_equal(le32toh(c1->latency_us), 1234);

    gslb_ans_set_t s6 = get_set(f, WEB, 28, c, 8);
    assert_int_equal(le16toh(s6.count), 1);
    assert_int_equal(le16toh(s6.healthy_count), 1);
    find_cand(c, 1, "2001:db8::1");

    /* a family without backends still has an (empty) set; ttl 0 -> zone default */
    gslb_ans_set_t e6 = get_set(f, DEEP, 28, c, 8);
    assert_int_equal(le16toh(e6.count), 0);
    assert_int_equal(le32toh(e6.ttl), 30);
}

static void set_health_no_rebuild(fixture_t *f, const char *addr, uint8_t health)
{
    gslb_backend_rec_t b;
    gslb_addr_t a = sample_addr(addr);
    assert_int_equal(gslb_store_backend_get(&f->env, f->txn, WEB, &a, 8080, &b), GSLB_OK);
    b.agent_health = health;
    put_backend(f, &b);
}

static void set_health(fixture_t *f, const char *addr, uint8_t health)
{
    set_health_no_rebuild(f, addr, health);
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, WEB), GSLB_OK);
}

static uint8_t flags_of(fixture_t *f, const char *addr, uint32_t *generation)
{
    gslb_ans_cand_t c[8];
    gslb_ans_set_t s = get_set(f, WEB, 1, c, 8);
    if (generation)
        *generation = le32toh(s.generation);
    return find_cand(c, le16toh(s.count), addr)->flags;
}

static void test_last_healthy_retention_and_generation(void **state)
{
    fixture_t *f = *state;
    populate(f);
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);
    uint32_t g0, g1, g2, g3;
    const uint8_t both = GSLB_CAND_HEALTHY | GSLB_CAND_LAST_HEALTHY;
    assert_int_equal(flags_of(f, "10.0.1.1", &g0), both);

    /* unchanged input: same generation */
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, WEB), GSLB_OK);
    assert_int_equal(flags_of(f, "10.0.1.1", &g1), both);
    assert_int_equal(g1, g0);

    /* 10.0.1.3 goes down first: it leaves the last-healthy set */
    set_health(f, "10.0.1.3", GSLB_UNHEALTHY);
    assert_int_equal(flags_of(f, "10.0.1.3", &g2), 0);
    assert_true(g2 > g1);
    /* then the rest goes down in one batch: they keep the last-healthy flag */
    set_health_no_rebuild(f, "10.0.1.1", GSLB_UNHEALTHY);
    set_health(f, "10.0.1.2", GSLB_UNHEALTHY);
    assert_int_equal(flags_of(f, "10.0.1.1", NULL), GSLB_CAND_LAST_HEALTHY);
    assert_int_equal(flags_of(f, "10.0.1.2", NULL), GSLB_CAND_LAST_HEALTHY);
    assert_int_equal(flags_of(f, "10.0.1.3", NULL), 0);
    /* a rebuild while all are down keeps them (read before overwrite) */
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);
    assert_int_equal(flags_of(f, "10.0.1.1", &g3), GSLB_CAND_LAST_HEALTHY);
    assert_true(g3 > g2);
    /* one of them recovering while the other stays down: the other loses it */
    set_health(f, "10.0.1.2", GSLB_HEALTHY);
    assert_int_equal(flags_of(f, "10.0.1.1", NULL), 0);
    set_health(f, "10.0.1.2", GSLB_UNHEALTHY);
    assert_int_equal(flags_of(f, "10.0.1.2", NULL), GSLB_CAND_LAST_HEALTHY);
    /* 10.0.1.3 recovers alone: it is now the whole last-healthy set */
    set_health(f, "10.0.1.3", GSLB_HEALTHY);
    assert_int_equal(flags_of(f, "10.0.1.3", NULL), both);
    assert_int_equal(flags_of(f, "10.0.1.1", NULL), 0);
    assert_int_equal(flags_of(f, "10.0.1.2", NULL), 0);
}

static void put_override(fixture_t *f, const char *addr, uint8_t state)
{
    gslb_override_rec_t ov = sample_override(WEB, addr, state);
    assert_int_equal(gslb_store_override_put(&f->env, f->txn, &ov), GSLB_OK);
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, WEB), GSLB_OK);
}

/* Issue 16, item 4: an operator's down (or drain) is flagged OPERATOR_DOWN and never
 * keeps LAST_HEALTHY, so return_last_healthy cannot serve it. */
static void test_operator_down_never_last_healthy(void **state)
{
    fixture_t *f = *state;
    populate(f);
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);
    const uint8_t both = GSLB_CAND_HEALTHY | GSLB_CAND_LAST_HEALTHY;
    /* all three go unhealthy together: they keep LAST_HEALTHY */
    set_health_no_rebuild(f, "10.0.1.1", GSLB_UNHEALTHY);
    set_health_no_rebuild(f, "10.0.1.2", GSLB_UNHEALTHY);
    set_health(f, "10.0.1.3", GSLB_UNHEALTHY);
    assert_int_equal(flags_of(f, "10.0.1.1", NULL), GSLB_CAND_LAST_HEALTHY);
    /* the operator takes 10.0.1.1 down and 10.0.1.2 into drain: they lose it */
    put_override(f, "10.0.1.1", GSLB_OVERRIDE_DOWN);
    put_override(f, "10.0.1.2", GSLB_OVERRIDE_DRAIN);
    assert_int_equal(flags_of(f, "10.0.1.1", NULL), GSLB_CAND_OPERATOR_DOWN);
    assert_int_equal(flags_of(f, "10.0.1.2", NULL), GSLB_CAND_OPERATOR_DOWN);
    assert_int_equal(flags_of(f, "10.0.1.3", NULL), GSLB_CAND_LAST_HEALTHY);
    /* a healthy address under a down override: neither healthy nor last-healthy */
    set_health(f, "10.0.1.1", GSLB_HEALTHY);
    assert_int_equal(flags_of(f, "10.0.1.1", NULL), GSLB_CAND_OPERATOR_DOWN);
    /* override up: served again, and the flag is gone */
    put_override(f, "10.0.1.1", GSLB_OVERRIDE_UP);
    assert_int_equal(flags_of(f, "10.0.1.1", NULL), both);
}

static void test_deleted_domain_is_removed_with_its_ents(void **state)
{
    fixture_t *f = *state;
    populate(f);
    gslb_domain_rec_t other = sample_domain("web.eu.svc." ZONE, ZONE);
    assert_int_equal(gslb_store_domain_put(&f->env, f->txn, &other), GSLB_OK);
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);
    MDB_val v;

    /* a sibling still needs eu.svc: only the domain itself goes */
    assert_int_equal(gslb_store_domain_del(&f->env, f->txn, DEEP), GSLB_OK);
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, DEEP), GSLB_OK);
    assert_int_equal(lookup(f, DEEP, GSLB_ANS_NODE, &v), GSLB_ENOENT);
    assert_int_equal(lookup(f, DEEP, 1, &v), GSLB_ENOENT);
    assert_int_equal(lookup(f, DEEP, 28, &v), GSLB_ENOENT);
    assert_int_equal(get_node(f, "eu.svc." ZONE).flags, GSLB_NODE_ENT);

    /* the last one below svc: the ENTs go too, the apex stays */
    assert_int_equal(gslb_store_domain_del(&f->env, f->txn, other.name), GSLB_OK);
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, other.name), GSLB_OK);
    assert_int_equal(lookup(f, "eu.svc." ZONE, GSLB_ANS_NODE, &v), GSLB_ENOENT);
    assert_int_equal(lookup(f, "svc." ZONE, GSLB_ANS_NODE, &v), GSLB_ENOENT);
    assert_int_equal(get_node(f, ZONE).flags, GSLB_NODE_APEX);
    assert_int_equal(get_node(f, WEB).flags, GSLB_NODE_DOMAIN);
}

static void test_rebuild_domain_writes_node_and_ents(void **state)
{
    fixture_t *f = *state;
    gslb_zone_rec_t z = sample_zone(ZONE);
    assert_int_equal(gslb_store_zone_put(&f->env, f->txn, &z), GSLB_OK);
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);
    gslb_domain_rec_t d = sample_domain(DEEP, ZONE);
    assert_int_equal(gslb_store_domain_put(&f->env, f->txn, &d), GSLB_OK);
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, DEEP), GSLB_OK);
    assert_int_equal(get_node(f, DEEP).flags, GSLB_NODE_DOMAIN);
    assert_int_equal(get_node(f, "svc." ZONE).flags, GSLB_NODE_ENT);
    gslb_ans_cand_t c[1];
    assert_int_equal(le16toh(get_set(f, DEEP, 1, c, 1).count), 0);
    /* a domain outside its zone is refused */
    gslb_domain_rec_t bad = sample_domain("www.other.org", ZONE);
    assert_int_equal(gslb_store_domain_put(&f->env, f->txn, &bad), GSLB_OK);
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, bad.name), GSLB_EINVAL);
    /* ...but does not stop a full rebuild */
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);
    assert_int_equal(get_node(f, DEEP).flags, GSLB_NODE_DOMAIN);
}

/* Every prefix of every stored value fails the check; so does garbage. */
static int check_prefixes(const MDB_val *k, const MDB_val *v, void *ctx)
{
    int kind = gslb_ans_check(v->mv_data, v->mv_size);
    assert_true(kind > 0);
    (*(int *)ctx)++;
    if (kind == GSLB_ANS_KIND_KEYS)
        (*(int *)ctx) += 1000; /* counted apart: exactly one is expected */
    /* with GSLB_WRITE_CORPUS=DIR set, the values seed fuzz/corpus/records/ */
    const char *dir = getenv("GSLB_WRITE_CORPUS");
    if (dir) {
        char path[512];
        snprintf(path, sizeof(path), "%s/answer-%d-kind%d", dir, *(int *)ctx, kind);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(v->mv_data, 1, v->mv_size, f), v->mv_size);
        fclose(f);
    }
    for (size_t len = 0; len < v->mv_size; len++) {
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, v->mv_data, len);
        int rc = gslb_ans_check(cut, len);
        /* a shorter static/set can only pass if it is a whole value itself, which
         * the exact length checks exclude */
        if (rc > 0)
            fail_msg("prefix %zu/%zu of a kind %d value passed", len, v->mv_size, kind);
        free(cut);
    }
    uint8_t *copy = malloc(v->mv_size + 1);
    memcpy(copy, v->mv_data, v->mv_size);
    copy[v->mv_size] = 0;
    assert_true(gslb_ans_check(copy, v->mv_size + 1) < 0); /* over-long */
    copy[0] = 9;
    assert_int_equal(gslb_ans_check(copy, v->mv_size), GSLB_EVERSION);
    free(copy);
    return 0;
}

static void test_check_rejects_truncated_and_garbage(void **state)
{
    fixture_t *f = *state;
    populate(f);
    gslb_dnskey_rec_t dnskey = sample_dnskey(ZONE, 0); /* ACTIVE: compiled as signing keys */
    dnskey.key_tag = sample_key_tag(&dnskey);
    assert_int_equal(gslb_store_dnskey_put(&f->env, f->txn, &dnskey), GSLB_OK);
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);
    int n = 0;
    assert_int_equal(
        gslb_store_foreach_raw(&f->env, f->txn, GSLB_DBI_ANSWERS, NULL, 0, check_prefixes, &n),
        GSLB_OK);
    assert_int_equal(n / 1000, 1);
    assert_true(n % 1000 >= 13);

    uint8_t junk[64] = {GSLB_ANS_V1, 7};
    assert_int_equal(gslb_ans_check(junk, sizeof(junk)), GSLB_ECORRUPT); /* unknown kind */
    junk[1] = GSLB_ANS_KIND_STATIC;
    junk[2] = 200; /* 200 records in 64 bytes */
    assert_int_equal(gslb_ans_check(junk, sizeof(junk)), GSLB_ECORRUPT);
    junk[1] = GSLB_ANS_KIND_GSLB;
    assert_int_equal(gslb_ans_check(junk, sizeof(junk)), GSLB_ECORRUPT);
    junk[1] = GSLB_ANS_KIND_NODE;
    assert_int_equal(gslb_ans_check(junk, 4), GSLB_ECORRUPT); /* flags 0 */
    /* a signing key whose lengths overrun the value, or exceed the record limits */
    static const uint8_t keys_over[] = {
        GSLB_ANS_V1, GSLB_ANS_KIND_KEYS, 1, 0, 1, 2, 1, 1, 13, 0, 40, 0, 0, 0};
    assert_int_equal(gslb_ans_check(keys_over, sizeof(keys_over)), GSLB_ECORRUPT);
    uint8_t keys_big[4 + sizeof(gslb_ans_key_t) + GSLB_KEY_PUB_MAX + 1] = {GSLB_ANS_V1,
                                                                           GSLB_ANS_KIND_KEYS, 1};
    gslb_ans_key_t kh = {.pub_len = htole16(GSLB_KEY_PUB_MAX + 1)};
    memcpy(keys_big + 4, &kh, sizeof(kh));
    assert_int_equal(gslb_ans_check(keys_big, sizeof(keys_big)), GSLB_ECORRUPT);
    kh.pub_len = htole16(GSLB_KEY_PUB_MAX);
    kh.priv_len = htole16(1);
    memcpy(keys_big + 4, &kh, sizeof(kh));
    assert_int_equal(gslb_ans_check(keys_big, sizeof(keys_big)), GSLB_ANS_KIND_KEYS);
    assert_int_equal(gslb_ans_check(NULL, 0), GSLB_ECORRUPT);

    /* a damaged stored value is reported by lookup, never returned */
    uint8_t wire[256], key[260];
    int wl = gslb_ans_name_to_wire(WEB, wire, sizeof(wire));
    int kl = gslb_ans_key(wire, (size_t)wl, 1, key, sizeof(key));
    MDB_val k = {(size_t)kl, key}, v = {5, junk};
    assert_int_equal(mdb_put(f->txn, f->env.dbi[GSLB_DBI_ANSWERS], &k, &v, 0), 0);
    assert_true(lookup(f, WEB, 1, &v) < 0);
    /* and a rebuild replaces it */
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, WEB), GSLB_OK);
    assert_int_equal(lookup(f, WEB, 1, &v), GSLB_ANS_KIND_GSLB);
}

/* The digest the API compares across nodes: what can be answered, not generation or
 * latency; the candidate lookup the backends route uses. */
static void test_domain_digest_and_candidate(void **state)
{
    fixture_t *f = *state;
    populate(f);
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);
    MDB_dbi dbi = f->env.dbi[GSLB_DBI_ANSWERS];
    gslb_ans_digest_t d0, d;
    assert_int_equal(gslb_ans_domain_digest(f->txn, dbi, WEB, &d0), GSLB_OK);
    assert_int_equal(d0.candidates, 4);
    assert_int_equal(d0.healthy, 4);

    /* a latency report rewrites the set (new generation) but answers the same */
    gslb_backend_rec_t b2 = sample_backend(WEB, "10.0.1.2", "eu-west");
    b2.weight = 7;
    b2.latency_us = 99;
    put_backend(f, &b2);
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, WEB), GSLB_OK);
    assert_int_equal(gslb_ans_domain_digest(f->txn, dbi, "WebApp." ZONE ".", &d), GSLB_OK);
    assert_memory_equal(d.sha256, d0.sha256, sizeof(d.sha256));

    /* the backend goes down: the answer and the digest change */
    b2.agent_health = GSLB_UNHEALTHY;
    put_backend(f, &b2);
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, WEB), GSLB_OK);
    assert_int_equal(gslb_ans_domain_digest(f->txn, dbi, WEB, &d), GSLB_OK);
    assert_int_equal(d.candidates, 4);
    assert_int_equal(d.healthy, 3);
    assert_memory_not_equal(d.sha256, d0.sha256, sizeof(d.sha256));
    gslb_ans_cand_t c;
    gslb_addr_t a2 = sample_addr("10.0.1.2");
    assert_int_equal(gslb_ans_domain_cand(f->txn, dbi, WEB, &a2, &c), GSLB_OK);
    assert_int_equal(c.flags & GSLB_CAND_HEALTHY, 0);
    gslb_addr_t a1 = sample_addr("10.0.1.1"), a6 = sample_addr("2001:db8::1");
    assert_int_equal(gslb_ans_domain_cand(f->txn, dbi, WEB, &a1, &c), GSLB_OK);
    assert_int_equal(c.flags & GSLB_CAND_HEALTHY, GSLB_CAND_HEALTHY);
    assert_int_equal(gslb_ans_domain_cand(f->txn, dbi, WEB, &a6, &c), GSLB_OK);
    assert_int_equal(c.flags & GSLB_CAND_HEALTHY, GSLB_CAND_HEALTHY);
    gslb_addr_t none = sample_addr("10.9.9.9");
    assert_int_equal(gslb_ans_domain_cand(f->txn, dbi, WEB, &none, &c), GSLB_ENOENT);

    /* and back up: the same digest as before */
    b2.agent_health = GSLB_HEALTHY;
    put_backend(f, &b2);
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, WEB), GSLB_OK);
    assert_int_equal(gslb_ans_domain_digest(f->txn, dbi, WEB, &d), GSLB_OK);
    assert_memory_equal(d.sha256, d0.sha256, sizeof(d.sha256));

    /* another weight is another answer (the weighted policy draws by it) */
    b2.weight = 8;
    put_backend(f, &b2);
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, f->txn, WEB), GSLB_OK);
    assert_int_equal(gslb_ans_domain_digest(f->txn, dbi, WEB, &d), GSLB_OK);
    assert_memory_not_equal(d.sha256, d0.sha256, sizeof(d.sha256));

    /* no compiled sets: an empty digest, distinct from a domain with candidates */
    gslb_ans_digest_t e;
    assert_int_equal(gslb_ans_domain_digest(f->txn, dbi, "nothere." ZONE, &e), GSLB_OK);
    assert_int_equal(e.candidates, 0);
    assert_memory_not_equal(e.sha256, d0.sha256, sizeof(e.sha256));
    assert_int_equal(gslb_ans_domain_digest(f->txn, dbi, "bad..name", &e), GSLB_EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_lowercases_and_validates),
        T(test_nodes_apex_ent_and_hosts),
        T(test_static_soa_and_ns),
        T(test_candidates_and_flags),
        T(test_last_healthy_retention_and_generation),
        T(test_operator_down_never_last_healthy),
        T(test_deleted_domain_is_removed_with_its_ents),
        T(test_rebuild_domain_writes_node_and_ents),
        T(test_check_rejects_truncated_and_garbage),
        T(test_domain_digest_and_candidate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
