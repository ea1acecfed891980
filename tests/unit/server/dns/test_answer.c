/*
 * test_answer.c - responses built by server/answer.c from a real LMDB store
 * (zones, domains and backends written with the store API and compiled by
 * gslb_answers_rebuild_*), checked with ldns; and the DNS workers
 * (server/dns.c) serving in-process on a loopback port while another thread
 * changes backend health in the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_tmpstore.h"

#include "answer.h"
#include "dns.h"
#include "env.h"
#include "store.h"
#include "udp.h"
#include "wire.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ZONE "gslb.example.com"
#define SOA_TTL 3600
#define SOA_MINIMUM 60

typedef struct fixture {
    char dir[64];
    gslb_env_t env;
    gslb_reader_t reader;
    gslb_answer_ctx_t ctx;
    gslb_stats_t stats;
    uint8_t out[65535];
} fixture_t;

static fixture_t *F;

/* ---- store content ---------------------------------------------------------- */

static void put_zone(MDB_txn *txn)
{
    gslb_zone_rec_t z;
    memset(&z, 0, sizeof(z));
    strcpy(z.name, ZONE);
    strcpy(z.mname, "ns1." ZONE);
    strcpy(z.rname, "hostmaster." ZONE);
    z.serial = 2026112701;
    z.refresh = 3600;
    z.retry = 600;
    z.expire = 86400;
    z.minimum = SOA_MINIMUM;
    z.soa_ttl = SOA_TTL;
    z.ns_ttl = 7200;
    z.default_ttl = 30;
    z.ns_count = 2;
    strcpy(z.ns[0], "ns1." ZONE);
    strcpy(z.ns[1], "ns.other.net");
    assert_int_equal(gslb_addr_parse("192.0.2.53", &z.ns_addr4[0]), 0);
    assert_int_equal(gslb_addr_parse("2001:db8::53", &z.ns_addr6[0]), 0);
    assert_int_equal(gslb_store_zone_put(&F->env, txn, &z), 0);
}

static void put_domain(MDB_txn *txn, const char *name, uint8_t policy, uint8_t mode,
                       uint16_t max_records, uint32_t ttl)
{
    gslb_domain_rec_t d;
    memset(&d, 0, sizeof(d));
    snprintf(d.name, sizeof(d.name), "%s." ZONE, name);
    strcpy(d.zone, ZONE);
    snprintf(d.service, sizeof(d.service), "%s", name);
    d.policy = policy;
    d.unhealthy_mode = mode;
    d.max_records = max_records;
    d.ttl = ttl;
    d.region_count = 2;
    strcpy(d.regions[0], "east");
    strcpy(d.regions[1], "west");
    assert_int_equal(gslb_store_domain_put(&F->env, txn, &d), 0);
}

static void put_backend(MDB_txn *txn, const char *name, const char *addr, const char *region,
                        uint32_t weight, uint8_t health)
{
    gslb_backend_rec_t b;
    memset(&b, 0, sizeof(b));
    snprintf(b.domain, sizeof(b.domain), "%s." ZONE, name);
    assert_int_equal(gslb_addr_parse(addr, &b.addr), 0);
    b.port = 80;
    b.weight = weight;
    snprintf(b.region, sizeof(b.region), "%s", region);
    b.source = GSLB_SOURCE_CONFIG;
    b.agent_health = health;
    assert_int_equal(gslb_store_backend_put(&F->env, txn, &b), 0);
}

/* Change one backend's reported health and recompile its domain. */
static void set_health(const char *name, const char *addr, uint8_t health)
{
    MDB_txn *txn;
    assert_int_equal(gslb_env_write_begin(&F->env, &txn), 0);
    char domain[GSLB_NAME_MAX];
    snprintf(domain, sizeof(domain), "%s." ZONE, name);
    gslb_addr_t a;
    assert_int_equal(gslb_addr_parse(addr, &a), 0);
    gslb_backend_rec_t b;
    assert_int_equal(gslb_store_backend_get(&F->env, txn, domain, &a, 80, &b), 0);
    b.agent_health = health;
    assert_int_equal(gslb_store_backend_put(&F->env, txn, &b), 0);
    assert_int_equal(gslb_answers_rebuild_domain(&F->env, txn, domain), 0);
    assert_int_equal(gslb_env_commit(&F->env, txn), 0);
}

static void build_store(void)
{
    MDB_txn *txn;
    assert_int_equal(gslb_env_write_begin(&F->env, &txn), 0);
    put_zone(txn);
    put_domain(txn, "rr", GSLB_POLICY_ROUND_ROBIN, 0, 0, 45);
    put_backend(txn, "rr", "10.0.0.1", "east", 1, GSLB_UNKNOWN);
    put_backend(txn, "rr", "10.0.0.2", "east", 1, GSLB_UNKNOWN);
    put_backend(txn, "rr", "10.0.0.3", "west", 1, GSLB_UNKNOWN);
    put_backend(txn, "rr", "2001:db8::1", "west", 1, GSLB_UNKNOWN);
    put_domain(txn, "v4only", GSLB_POLICY_ROUND_ROBIN, 0, 0, 0);
    put_backend(txn, "v4only", "10.0.1.1", "east", 1, GSLB_UNKNOWN);
    put_domain(txn, "big", GSLB_POLICY_ROUND_ROBIN, 0, 0, 30);
    for (int i = 0; i < 100; i++) {
        char a[32];
        snprintf(a, sizeof(a), "10.1.%d.%d", i / 250, i % 250 + 1);
        put_backend(txn, "big", a, "east", 1, GSLB_UNKNOWN);
    }
    put_domain(txn, "capped", GSLB_POLICY_ROUND_ROBIN, 0, 4, 30);
    for (int i = 0; i < 20; i++) {
        char a[32];
        snprintf(a, sizeof(a), "10.2.0.%d", i + 1);
        put_backend(txn, "capped", a, "east", 1, GSLB_UNKNOWN);
    }
    put_domain(txn, "fo", GSLB_POLICY_FAILOVER, 0, 0, 30);
    put_backend(txn, "fo", "10.3.0.1", "east", 1, GSLB_UNKNOWN);
    put_backend(txn, "fo", "10.3.0.2", "west", 1, GSLB_UNKNOWN);
    put_domain(txn, "nodata", GSLB_POLICY_ROUND_ROBIN, GSLB_UNHEALTHY_NODATA, 0, 30);
    put_backend(txn, "nodata", "10.4.0.1", "east", 1, GSLB_UNHEALTHY);
    put_domain(txn, "sf", GSLB_POLICY_ROUND_ROBIN, GSLB_UNHEALTHY_SERVFAIL, 0, 30);
    put_backend(txn, "sf", "10.5.0.1", "east", 1, GSLB_UNHEALTHY);
    put_domain(txn, "last", GSLB_POLICY_ROUND_ROBIN, GSLB_UNHEALTHY_RETURN_LAST_HEALTHY, 0, 30);
    put_backend(txn, "last", "10.6.0.1", "east", 1, GSLB_UNKNOWN);
    put_backend(txn, "last", "10.6.0.2", "east", 1, GSLB_UNHEALTHY);
    put_domain(txn, "empty", GSLB_POLICY_ROUND_ROBIN, GSLB_UNHEALTHY_NODATA, 0, 30);
    put_domain(txn, "gone", GSLB_POLICY_ROUND_ROBIN, GSLB_UNHEALTHY_NODATA, 0, 30);
    put_backend(txn, "gone", "10.8.0.1", "east", 1, GSLB_UNKNOWN);
    put_domain(txn, "deep.a.b", GSLB_POLICY_WEIGHTED, 0, 0, 30);
    put_backend(txn, "deep.a.b", "10.7.0.1", "east", 5, GSLB_UNKNOWN);
    assert_int_equal(gslb_answers_rebuild_all(&F->env, txn), 0);
    assert_int_equal(gslb_env_commit(&F->env, txn), 0);
}

static int group_setup(void **state)
{
    (void)state;
    F = calloc(1, sizeof(*F));
    if (gslb_test_env_open(&F->env, F->dir, sizeof(F->dir), "answer") != 0)
        return -1;
    build_store();
    if (gslb_reader_init(&F->reader, &F->env) != 0)
        return -1;
    return gslb_answer_ctx_init(&F->ctx, &F->env, &F->stats, 1232, 42);
}

static int group_teardown(void **state)
{
    (void)state;
    gslb_answer_ctx_destroy(&F->ctx);
    gslb_reader_destroy(&F->reader);
    gslb_env_close(&F->env);
    int rc = gslb_test_rmtree(F->dir);
    free(F);
    return rc == 0 ? 0 : -1;
}

/* ---- queries -------------------------------------------------------------------- */

typedef struct qopt {
    uint16_t qclass;
    int edns; /* payload; 0 = no OPT */
    uint8_t version;
    bool do_bit;
    uint16_t flags;   /* header flags (RD by default) */
    uint16_t qdcount; /* 0 = 1 */
} qopt_t;

static size_t make_query(uint8_t *buf, size_t cap, const char *name, uint16_t qtype,
                         const qopt_t *o)
{
    gslb_cur_t w;
    gslb_cur_init(&w, buf, cap);
    gslb_cur_put_be16(&w, 0xBEEF);
    gslb_cur_put_be16(&w, o && o->flags ? o->flags : GSLB_FLAG_RD);
    gslb_cur_put_be16(&w, o && o->qdcount ? o->qdcount : 1);
    gslb_cur_put_be16(&w, 0);
    gslb_cur_put_be16(&w, 0);
    gslb_cur_put_be16(&w, o && o->edns ? 1 : 0);
    uint8_t wire[255];
    int n = gslb_dname_from_str(name, wire, sizeof(wire));
    assert_true(n > 0);
    gslb_cur_put_bytes(&w, wire, (size_t)n);
    gslb_cur_put_be16(&w, qtype);
    gslb_cur_put_be16(&w, o && o->qclass ? o->qclass : GSLB_CLASS_IN);
    if (o && o->edns) {
        gslb_cur_put_u8(&w, 0);
        gslb_cur_put_be16(&w, GSLB_RR_OPT);
        gslb_cur_put_be16(&w, (uint16_t)o->edns);
        gslb_cur_put_be32(&w, ((uint32_t)o->version << 16) | (o->do_bit ? 0x8000u : 0));
        gslb_cur_put_be16(&w, 0);
    }
    assert_int_equal(w.err, 0);
    return w.pos;
}

/* Answer raw bytes with a fresh snapshot; returns the response length. */
static size_t answer_raw(const uint8_t *q, size_t qlen, enum gslb_transport tr)
{
    assert_int_equal(gslb_reader_begin(&F->reader), 0);
    gslb_answer_set_txn(&F->ctx, F->reader.txn);
    size_t n = gslb_answer_query(&F->ctx, q, qlen, tr, F->out, sizeof(F->out));
    gslb_answer_set_txn(&F->ctx, NULL);
    gslb_reader_end(&F->reader);
    return n;
}

static ldns_pkt *ask_opt(const char *name, uint16_t qtype, const qopt_t *o, enum gslb_transport tr)
{
    uint8_t q[512];
    size_t qlen = make_query(q, sizeof(q), name, qtype, o);
    size_t n = answer_raw(q, qlen, tr);
    assert_true(n >= 12);
    ldns_pkt *p = NULL;
    assert_int_equal(ldns_wire2pkt(&p, F->out, n), LDNS_STATUS_OK);
    assert_int_equal(ldns_pkt_id(p), 0xBEEF);
    assert_true(ldns_pkt_qr(p));
    return p;
}

static ldns_pkt *ask(const char *name, uint16_t qtype)
{
    return ask_opt(name, qtype, NULL, GSLB_TRANSPORT_UDP);
}

static size_t count_type(ldns_rr_list *l, ldns_rr_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
        n += ldns_rr_get_type(ldns_rr_list_rr(l, i)) == t;
    return n;
}

static char *rdata_str(ldns_rr_list *l, size_t i)
{
    return ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(l, i), 0));
}

static bool list_has_addr(ldns_rr_list *l, const char *addr)
{
    bool found = false;
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
        char *s = rdata_str(l, i);
        found |= strcmp(s, addr) == 0;
        free(s);
    }
    return found;
}

/* NODATA / NXDOMAIN: the zone's SOA in authority with TTL min(SOA TTL, minimum). */
static void assert_negative(ldns_pkt *p, ldns_pkt_rcode rcode)
{
    assert_int_equal(ldns_pkt_get_rcode(p), rcode);
    assert_true(ldns_pkt_aa(p));
    assert_int_equal(ldns_pkt_ancount(p), 0);
    assert_int_equal(ldns_pkt_nscount(p), 1);
    ldns_rr *soa = ldns_rr_list_rr(ldns_pkt_authority(p), 0);
    assert_int_equal(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
    assert_int_equal(ldns_rr_ttl(soa), SOA_MINIMUM < SOA_TTL ? SOA_MINIMUM : SOA_TTL);
    char *owner = ldns_rdf2str(ldns_rr_owner(soa));
    assert_true(strcasecmp(owner, ZONE ".") == 0);
    free(owner);
}

/* ---- tests: positive answers ------------------------------------------------------ */

static void test_a_round_robin_all_backends(void **state)
{
    (void)state;
    ldns_pkt *p = ask("rr." ZONE, GSLB_RR_A);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_true(ldns_pkt_aa(p));
    assert_true(ldns_pkt_rd(p)); /* copied */
    assert_false(ldns_pkt_ra(p));
    assert_false(ldns_pkt_tc(p));
    assert_int_equal(ldns_pkt_ancount(p), 3);
    assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 45);
    assert_true(list_has_addr(ldns_pkt_answer(p), "10.0.0.1"));
    assert_true(list_has_addr(ldns_pkt_answer(p), "10.0.0.2"));
    assert_true(list_has_addr(ldns_pkt_answer(p), "10.0.0.3"));
    ldns_pkt_free(p);
    p = ask("rr." ZONE, GSLB_RR_AAAA);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_true(list_has_addr(ldns_pkt_answer(p), "2001:db8::1"));
    ldns_pkt_free(p);
}

static void test_round_robin_rotates_first(void **state)
{
    (void)state;
    bool seen[4] = {0};
    for (int i = 0; i < 6; i++) {
        ldns_pkt *p = ask("rr." ZONE, GSLB_RR_A);
        char *s = rdata_str(ldns_pkt_answer(p), 0);
        seen[s[strlen(s) - 1] - '0'] = true;
        free(s);
        ldns_pkt_free(p);
    }
    assert_true(seen[1] && seen[2] && seen[3]);
}

static void test_question_case_preserved(void **state)
{
    (void)state;
    uint8_t q[512];
    size_t qlen = make_query(q, sizeof(q), "Rr.GSLB.Example.COM", GSLB_RR_A, NULL);
    size_t n = answer_raw(q, qlen, GSLB_TRANSPORT_UDP);
    assert_true(n > qlen);
    assert_memory_equal(F->out + 12, q + 12, qlen - 12); /* question echoed byte for byte */
    ldns_pkt *p = NULL;
    assert_int_equal(ldns_wire2pkt(&p, F->out, n), LDNS_STATUS_OK);
    assert_int_equal(ldns_pkt_ancount(p), 3);
    ldns_pkt_free(p);
}

static void test_apex_soa_ns_and_glue(void **state)
{
    (void)state;
    ldns_pkt *p = ask(ZONE, GSLB_RR_SOA);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    ldns_rr *soa = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
    assert_int_equal(ldns_rr_ttl(soa), SOA_TTL);
    char *mname = ldns_rdf2str(ldns_rr_rdf(soa, 0));
    assert_string_equal(mname, "ns1." ZONE ".");
    free(mname);
    ldns_pkt_free(p);

    p = ask(ZONE, GSLB_RR_NS);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_ancount(p), 2);
    assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 7200);
    /* glue only for the in-zone name server */
    assert_int_equal(count_type(ldns_pkt_additional(p), LDNS_RR_TYPE_A), 1);
    assert_int_equal(count_type(ldns_pkt_additional(p), LDNS_RR_TYPE_AAAA), 1);
    assert_true(list_has_addr(ldns_pkt_additional(p), "192.0.2.53"));
    assert_true(list_has_addr(ldns_pkt_additional(p), "2001:db8::53"));
    ldns_pkt_free(p);

    p = ask("NS1." ZONE, GSLB_RR_A);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_true(list_has_addr(ldns_pkt_answer(p), "192.0.2.53"));
    ldns_pkt_free(p);
}

static void test_max_records_cap(void **state)
{
    (void)state;
    ldns_pkt *p = ask("capped." ZONE, GSLB_RR_A);
    assert_int_equal(ldns_pkt_ancount(p), 4);
    ldns_pkt_free(p);
}

static void test_weighted_single_record(void **state)
{
    (void)state;
    ldns_pkt *p = ask("deep.a.b." ZONE, GSLB_RR_A);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_true(list_has_addr(ldns_pkt_answer(p), "10.7.0.1"));
    ldns_pkt_free(p);
}

/* ---- tests: negative answers -------------------------------------------------------- */

static void test_nodata_cases(void **state)
{
    (void)state;
    ldns_pkt *p = ask("v4only." ZONE, GSLB_RR_AAAA); /* family with no backends */
    assert_negative(p, LDNS_RCODE_NOERROR);
    ldns_pkt_free(p);
    p = ask("rr." ZONE, GSLB_RR_TXT); /* other type at an existing name */
    assert_negative(p, LDNS_RCODE_NOERROR);
    ldns_pkt_free(p);
    p = ask("b." ZONE, GSLB_RR_A); /* empty non-terminals */
    assert_negative(p, LDNS_RCODE_NOERROR);
    ldns_pkt_free(p);
    p = ask("a.b." ZONE, GSLB_RR_A);
    assert_negative(p, LDNS_RCODE_NOERROR);
    ldns_pkt_free(p);
    p = ask("a.b." ZONE, GSLB_RR_ANY);
    assert_negative(p, LDNS_RCODE_NOERROR);
    ldns_pkt_free(p);
    p = ask("rr." ZONE, GSLB_RR_SOA);
    assert_negative(p, LDNS_RCODE_NOERROR);
    ldns_pkt_free(p);
}

static void test_nxdomain(void **state)
{
    (void)state;
    ldns_pkt *p = ask("missing." ZONE, GSLB_RR_A);
    assert_negative(p, LDNS_RCODE_NXDOMAIN);
    ldns_pkt_free(p);
    p = ask("x.y.rr." ZONE, GSLB_RR_AAAA);
    assert_negative(p, LDNS_RCODE_NXDOMAIN);
    ldns_pkt_free(p);
}

static void test_refused_outside_zones(void **state)
{
    (void)state;
    const char *names[] = {"example.com", "com", ".", "gslb.example.org", "xgslb.example.com"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ldns_pkt *p = ask(names[i], GSLB_RR_A);
        assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
        assert_false(ldns_pkt_aa(p));
        assert_int_equal(ldns_pkt_ancount(p) + ldns_pkt_nscount(p), 0);
        ldns_pkt_free(p);
    }
}

static void test_any_minimal(void **state)
{
    (void)state;
    ldns_pkt *p = ask("rr." ZONE, GSLB_RR_ANY);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_ancount(p), 3);
    assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_A), 3);
    ldns_pkt_free(p);
    p = ask(ZONE, GSLB_RR_ANY);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_SOA), 1);
    ldns_pkt_free(p);
    p = ask("nodata." ZONE, GSLB_RR_ANY); /* nothing servable: HINFO (RFC 8482 4.2) */
    assert_int_equal(ldns_pkt_ancount(p), 1);
    ldns_rr *h = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
    assert_int_equal(ldns_rr_get_type(h), LDNS_RR_TYPE_HINFO);
    char *cpu = ldns_rdf2str(ldns_rr_rdf(h, 0));
    assert_string_equal(cpu, "\"RFC8482\"");
    free(cpu);
    ldns_pkt_free(p);
}

/* ---- tests: RCODEs for odd queries ---------------------------------------------------- */

static void test_refused_and_notimp(void **state)
{
    (void)state;
    ldns_pkt *p = ask(ZONE, GSLB_RR_AXFR);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
    ldns_pkt_free(p);
    p = ask(ZONE, GSLB_RR_IXFR);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
    ldns_pkt_free(p);
    qopt_t ch = {.qclass = GSLB_CLASS_CH};
    p = ask_opt("version.bind", GSLB_RR_TXT, &ch, GSLB_TRANSPORT_UDP);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
    ldns_pkt_free(p);
    qopt_t ch2 = {.qclass = GSLB_CLASS_CH};
    p = ask_opt("rr." ZONE, GSLB_RR_A, &ch2, GSLB_TRANSPORT_UDP);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
    ldns_pkt_free(p);
    qopt_t notify = {.flags = (uint16_t)(4u << 11)};
    p = ask_opt(ZONE, GSLB_RR_SOA, &notify, GSLB_TRANSPORT_UDP);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOTIMPL);
    assert_int_equal(ldns_pkt_get_opcode(p), LDNS_PACKET_NOTIFY);
    ldns_pkt_free(p);
}

static void test_formerr_and_drop(void **state)
{
    (void)state;
    uint8_t q[512];
    qopt_t two = {.qdcount = 2};
    size_t qlen = make_query(q, sizeof(q), "rr." ZONE, GSLB_RR_A, &two);
    size_t n = answer_raw(q, qlen, GSLB_TRANSPORT_UDP);
    ldns_pkt *p = NULL;
    assert_int_equal(ldns_wire2pkt(&p, F->out, n), LDNS_STATUS_OK);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
    assert_int_equal(ldns_pkt_id(p), 0xBEEF);
    ldns_pkt_free(p);
    /* QR=1: a response is never answered */
    qopt_t resp = {.flags = GSLB_FLAG_QR};
    qlen = make_query(q, sizeof(q), "rr." ZONE, GSLB_RR_A, &resp);
    assert_int_equal(answer_raw(q, qlen, GSLB_TRANSPORT_UDP), 0);
    /* a runt */
    assert_int_equal(answer_raw(q, 5, GSLB_TRANSPORT_UDP), 0);
    /* qtype OPT in the question */
    p = ask(ZONE, GSLB_RR_OPT);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
    ldns_pkt_free(p);
}

/* ---- tests: EDNS and sizes -------------------------------------------------------------- */

static void test_edns_opt_in_answer(void **state)
{
    (void)state;
    qopt_t o = {.edns = 4096, .do_bit = true};
    ldns_pkt *p = ask_opt("rr." ZONE, GSLB_RR_A, &o, GSLB_TRANSPORT_UDP);
    assert_int_equal(ldns_pkt_edns_udp_size(p), 1232);
    assert_true(ldns_pkt_edns_do(p));
    assert_int_equal(ldns_pkt_edns_version(p), 0);
    ldns_pkt_free(p);
    qopt_t o2 = {.edns = 1400};
    p = ask_opt("rr." ZONE, GSLB_RR_A, &o2, GSLB_TRANSPORT_UDP);
    assert_true(ldns_pkt_edns(p));
    assert_false(ldns_pkt_edns_do(p));
    ldns_pkt_free(p);
    p = ask("rr." ZONE, GSLB_RR_A);
    assert_false(ldns_pkt_edns(p)); /* no OPT without EDNS */
    assert_int_equal(ldns_pkt_arcount(p), 0);
    ldns_pkt_free(p);
}

static void test_edns_badvers(void **state)
{
    (void)state;
    qopt_t o = {.edns = 1232, .version = 1};
    uint8_t q[512];
    size_t qlen = make_query(q, sizeof(q), "rr." ZONE, GSLB_RR_A, &o);
    size_t n = answer_raw(q, qlen, GSLB_TRANSPORT_UDP);
    ldns_pkt *p = NULL;
    assert_int_equal(ldns_wire2pkt(&p, F->out, n), LDNS_STATUS_OK);
    assert_int_equal(ldns_pkt_ancount(p), 0);
    assert_int_equal(ldns_pkt_edns_extended_rcode(p), 1); /* 16 >> 4 */
    assert_int_equal(ldns_pkt_get_rcode(p), 0);           /* 16 & 15 */
    assert_int_equal(ldns_pkt_edns_version(p), 0);
    ldns_pkt_free(p);
}

static void test_truncation_without_partial_rrset(void **state)
{
    (void)state;
    /* 100 A records = 1600 bytes of answer: over 512 and over our 1232 */
    ldns_pkt *p = ask("big." ZONE, GSLB_RR_A);
    assert_true(ldns_pkt_tc(p));
    assert_int_equal(ldns_pkt_ancount(p), 0);
    assert_int_equal(ldns_pkt_qdcount(p), 1);
    ldns_pkt_free(p);
    qopt_t o = {.edns = 4096};
    p = ask_opt("big." ZONE, GSLB_RR_A, &o, GSLB_TRANSPORT_UDP);
    assert_true(ldns_pkt_tc(p));
    assert_int_equal(ldns_pkt_ancount(p), 0);
    assert_true(ldns_pkt_edns(p)); /* OPT kept */
    ldns_pkt_free(p);
    p = ask_opt("big." ZONE, GSLB_RR_A, NULL, GSLB_TRANSPORT_TCP);
    assert_false(ldns_pkt_tc(p));
    assert_int_equal(ldns_pkt_ancount(p), 100);
    ldns_pkt_free(p);
    /* the rr domain (3 records) fits into 512 */
    p = ask("rr." ZONE, GSLB_RR_A);
    assert_false(ldns_pkt_tc(p));
    ldns_pkt_free(p);
}

static void test_small_client_payload_treated_as_512(void **state)
{
    (void)state;
    /* 20 capped domain answers of 4 fit; build an answer near 512: the NS set */
    qopt_t o = {.edns = 100};
    ldns_pkt *p = ask_opt("rr." ZONE, GSLB_RR_A, &o, GSLB_TRANSPORT_UDP);
    assert_false(ldns_pkt_tc(p));
    assert_int_equal(ldns_pkt_ancount(p), 3);
    ldns_pkt_free(p);
    /* the limit really is 512 with a tiny payload: 100 records still truncate */
    p = ask_opt("big." ZONE, GSLB_RR_A, &o, GSLB_TRANSPORT_UDP);
    assert_true(ldns_pkt_tc(p));
    ldns_pkt_free(p);
}

/* ---- tests: health --------------------------------------------------------------------- */

static void test_unhealthy_modes(void **state)
{
    (void)state;
    ldns_pkt *p = ask("nodata." ZONE, GSLB_RR_A);
    assert_negative(p, LDNS_RCODE_NOERROR);
    ldns_pkt_free(p);
    p = ask("sf." ZONE, GSLB_RR_A);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
    assert_int_equal(ldns_pkt_ancount(p), 0);
    ldns_pkt_free(p);
    /* return_last_healthy: 10.6.0.1 was the healthy one; it stays after failing */
    p = ask("last." ZONE, GSLB_RR_A);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_true(list_has_addr(ldns_pkt_answer(p), "10.6.0.1"));
    ldns_pkt_free(p);
    set_health("last", "10.6.0.1", GSLB_UNHEALTHY);
    p = ask("last." ZONE, GSLB_RR_A);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_true(list_has_addr(ldns_pkt_answer(p), "10.6.0.1"));
    ldns_pkt_free(p);
    set_health("last", "10.6.0.2", GSLB_HEALTHY);
    p = ask("last." ZONE, GSLB_RR_A);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_true(list_has_addr(ldns_pkt_answer(p), "10.6.0.2"));
    ldns_pkt_free(p);
}

/* Delete every backend of domain name (as the sweeper does) and recompile it. */
static void remove_backends(const char *name, const char *addr)
{
    MDB_txn *txn;
    assert_int_equal(gslb_env_write_begin(&F->env, &txn), 0);
    char domain[GSLB_NAME_MAX];
    snprintf(domain, sizeof(domain), "%s." ZONE, name);
    gslb_addr_t a;
    assert_int_equal(gslb_addr_parse(addr, &a), 0);
    assert_int_equal(gslb_store_backend_del(&F->env, txn, domain, &a, 80), 0);
    assert_int_equal(gslb_answers_rebuild_domain(&F->env, txn, domain), 0);
    assert_int_equal(gslb_env_commit(&F->env, txn), 0);
}

static void assert_servfail(const char *name, uint16_t qtype)
{
    ldns_pkt *p = ask(name, qtype);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
    assert_false(ldns_pkt_aa(p));
    assert_int_equal(ldns_pkt_ancount(p), 0);
    ldns_pkt_free(p);
}

/* A GSLB name with no backend state at all (never reported, or every backend
 * removed) is SERVFAIL for A and AAAA, whatever its all_unhealthy mode: never a
 * cacheable NODATA. Other types stay NODATA, and so does a name whose backends
 * exist but are all unhealthy (test_unhealthy_modes). */
static void test_no_backend_state_is_servfail(void **state)
{
    (void)state;
    assert_servfail("empty." ZONE, GSLB_RR_A);
    assert_servfail("empty." ZONE, GSLB_RR_AAAA);
    ldns_pkt *p = ask("empty." ZONE, GSLB_RR_TXT);
    assert_negative(p, LDNS_RCODE_NOERROR);
    ldns_pkt_free(p);
    p = ask("gone." ZONE, GSLB_RR_A);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    ldns_pkt_free(p);
    p = ask("gone." ZONE, GSLB_RR_AAAA); /* only the family is missing: NODATA */
    assert_negative(p, LDNS_RCODE_NOERROR);
    ldns_pkt_free(p);
    remove_backends("gone", "10.8.0.1");
    assert_servfail("gone." ZONE, GSLB_RR_A);
    assert_servfail("gone." ZONE, GSLB_RR_AAAA);
}

static void test_failover_via_store(void **state)
{
    (void)state;
    ldns_pkt *p = ask("fo." ZONE, GSLB_RR_A);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    assert_true(list_has_addr(ldns_pkt_answer(p), "10.3.0.1"));
    ldns_pkt_free(p);
    set_health("fo", "10.3.0.1", GSLB_UNHEALTHY);
    p = ask("fo." ZONE, GSLB_RR_A);
    assert_true(list_has_addr(ldns_pkt_answer(p), "10.3.0.2"));
    ldns_pkt_free(p);
    set_health("fo", "10.3.0.1", GSLB_HEALTHY);
    p = ask("fo." ZONE, GSLB_RR_A);
    assert_true(list_has_addr(ldns_pkt_answer(p), "10.3.0.1"));
    ldns_pkt_free(p);
}

static void test_stats_counted(void **state)
{
    (void)state;
    uint64_t before = F->stats.queries[GSLB_SQT_A][GSLB_SRC_NXDOMAIN];
    ldns_pkt *p = ask("nothere." ZONE, GSLB_RR_A);
    ldns_pkt_free(p);
    assert_int_equal(F->stats.queries[GSLB_SQT_A][GSLB_SRC_NXDOMAIN], before + 1);
    uint64_t tc = F->stats.field[GSLB_ST_TRUNCATED];
    p = ask("big." ZONE, GSLB_RR_A);
    ldns_pkt_free(p);
    assert_int_equal(F->stats.field[GSLB_ST_TRUNCATED], tc + 1);
}

/* ---- tests: workers serving in-process ------------------------------------------------- */

static int udp_query(uint16_t port, const uint8_t *q, size_t qlen, uint8_t *resp, size_t cap)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(sendto(fd, q, qlen, 0, (struct sockaddr *)&a, sizeof(a)), (ssize_t)qlen);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n = -1;
    if (poll(&pfd, 1, 2000) == 1)
        n = (int)recv(fd, resp, cap, 0);
    close(fd);
    return n;
}

static bool udp_answer_has(uint16_t port, const char *name, const char *addr)
{
    uint8_t q[512], r[4096];
    size_t qlen = make_query(q, sizeof(q), name, GSLB_RR_A, NULL);
    int n = udp_query(port, q, qlen, r, sizeof(r));
    assert_true(n > 12);
    ldns_pkt *p = NULL;
    assert_int_equal(ldns_wire2pkt(&p, r, (size_t)n), LDNS_STATUS_OK);
    bool has = list_has_addr(ldns_pkt_answer(p), addr);
    ldns_pkt_free(p);
    return has;
}

/* Two queries written at once on one TCP connection; both answered in order. */
static void tcp_pipelined(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    uint8_t buf[1024];
    size_t l1 = make_query(buf + 2, 500, "rr." ZONE, GSLB_RR_A, NULL);
    buf[0] = 0;
    buf[1] = (uint8_t)l1;
    size_t l2 = make_query(buf + 4 + l1, 500, "big." ZONE, GSLB_RR_A, NULL);
    buf[2 + l1] = 0;
    buf[3 + l1] = (uint8_t)l2;
    assert_int_equal(send(fd, buf, 4 + l1 + l2, 0), (ssize_t)(4 + l1 + l2));
    static uint8_t in[65536 * 2];
    size_t got = 0, need = 0;
    int frames = 0;
    ldns_pkt *p[2] = {0};
    while (frames < 2) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, 2000), 1);
        ssize_t n = recv(fd, in + got, sizeof(in) - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
        while (got >= need + 2) {
            size_t flen = ((size_t)in[need] << 8) | in[need + 1];
            if (got < need + 2 + flen)
                break;
            assert_int_equal(ldns_wire2pkt(&p[frames], in + need + 2, flen), LDNS_STATUS_OK);
            frames++;
            need += 2 + flen;
        }
    }
    assert_int_equal(ldns_pkt_ancount(p[0]), 3);
    assert_int_equal(ldns_pkt_ancount(p[1]), 100); /* TCP carries the full answer */
    assert_false(ldns_pkt_tc(p[1]));
    ldns_pkt_free(p[0]);
    ldns_pkt_free(p[1]);
    close(fd);
}

static void test_workers_see_store_writes(void **state)
{
    (void)state;
    gslb_dns_opts_t o = {.port = 0, .workers = 2, .edns_payload = 1232};
    strcpy(o.host, "127.0.0.1");
    gslb_dns_t *dns = NULL;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(gslb_dns_start(&F->env, &o, &dns, &eb), 0);
    uint16_t port = gslb_dns_port(dns);
    assert_true(port > 0);
    assert_int_equal(gslb_dns_worker_count(dns), 2);

    /* every worker answers (SO_REUSEPORT spreads sources over the sockets) */
    for (int i = 0; i < 8; i++)
        assert_true(udp_answer_has(port, "rr." ZONE, "10.0.0.2"));
    set_health("rr", "10.0.0.2", GSLB_UNHEALTHY);
    for (int i = 0; i < 8; i++) {
        assert_false(udp_answer_has(port, "rr." ZONE, "10.0.0.2"));
        assert_true(udp_answer_has(port, "rr." ZONE, "10.0.0.1"));
    }
    set_health("rr", "10.0.0.2", GSLB_UNKNOWN);
    for (int i = 0; i < 8; i++)
        assert_true(udp_answer_has(port, "rr." ZONE, "10.0.0.2"));
    tcp_pipelined(port);

    /* a second server cannot take the same port */
    gslb_dns_opts_t o2 = o;
    o2.port = port;
    gslb_dns_t *dns2 = NULL;
    assert_int_equal(gslb_dns_start(&F->env, &o2, &dns2, &eb), GSLB_EBUSY);
    assert_non_null(strstr(eb.msg, "already in use"));
    assert_null(dns2);

    gslb_stats_t sum;
    gslb_dns_stats(dns, &sum);
    assert_true(sum.field[GSLB_ST_UDP_QUERIES] >= 32);
    assert_true(sum.field[GSLB_ST_TCP_QUERIES] >= 2);
    assert_true(sum.queries[GSLB_SQT_A][GSLB_SRC_NOERROR] >= 34);
    gslb_dns_stop(dns);
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    return a;
}

/* Datagrams waiting in fd (read without blocking until EAGAIN). */
static int drain_count(int fd)
{
    uint8_t buf[512];
    int n = 0;
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
        n++;
    return n;
}

/* One datagram from each of n fresh source ports (the kernel spreads them). */
static void send_from_many(uint16_t port, int n)
{
    struct sockaddr_in a = loopback(port);
    for (int i = 0; i < n; i++) {
        int c = socket(AF_INET, SOCK_DGRAM, 0);
        assert_int_equal(sendto(c, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)), 1);
        close(c);
    }
}

/* What the hand-over relies on: a detached socket keeps its queue and gets no
 * new datagram; the other socket of the group gets them all. */
static void test_udp_detach_keeps_queue_leaves_group(void **state)
{
    (void)state;
    gslb_errbuf_t eb = {{0}};
    struct sockaddr_in a = loopback(0);
    int fa = gslb_udp_open((struct sockaddr *)&a, sizeof(a), false, &eb);
    assert_true(fa >= 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fa, (struct sockaddr *)&a, &len), 0);
    uint16_t port = ntohs(a.sin_port);
    int fb = gslb_udp_open((struct sockaddr *)&a, sizeof(a), false, &eb);
    assert_true(fb >= 0);

    send_from_many(port, 64);
    gslb_udp_t u = {.fd = fa};
    assert_int_equal(gslb_udp_detach(&u), GSLB_OK);
    int queued_a = drain_count(fa);
    assert_true(queued_a > 0 && queued_a < 64); /* both had a share, a kept its own */
    send_from_many(port, 64);
    assert_int_equal(drain_count(fa), 0);
    assert_int_equal(drain_count(fb), 64 - queued_a + 64);
    close(fa);
    close(fb);
}

static gslb_dns_opts_t loopback_opts(uint16_t port)
{
    gslb_dns_opts_t o = {.port = port, .workers = 2, .edns_payload = 1232};
    strcpy(o.host, "127.0.0.1");
    return o;
}

/* --takeover: a second server binds beside the first; after the first hands
 * over, every source is answered by the second. */
static void test_takeover_and_hand_over(void **state)
{
    (void)state;
    gslb_errbuf_t eb = {{0}};
    gslb_dns_opts_t o = loopback_opts(0);
    gslb_dns_t *old = NULL, *new = NULL;
    assert_int_equal(gslb_dns_start(&F->env, &o, &old, &eb), 0);
    gslb_dns_opts_t o2 = loopback_opts(gslb_dns_port(old));
    o2.takeover = true;
    assert_int_equal(gslb_dns_start(&F->env, &o2, &new, &eb), 0);
    for (int i = 0; i < 16; i++)
        assert_true(udp_answer_has(o2.port, "rr." ZONE, "10.0.0.1"));
    gslb_dns_hand_over(old);
    for (int i = 0; i < 16; i++)
        assert_true(udp_answer_has(o2.port, "rr." ZONE, "10.0.0.1"));
    tcp_pipelined(o2.port);
    gslb_stats_t sum;
    gslb_dns_stats(new, &sum);
    assert_true(sum.field[GSLB_ST_UDP_QUERIES] >= 16);
    gslb_dns_stop(new);
}

/* Socket activation: the passed sockets on the listen address are served, a
 * stray one is closed, and a query sent while no server runs is answered by
 * the next one (the caller keeps a duplicate, as systemd does). */
static void test_passed_sockets_keep_their_queue(void **state)
{
    (void)state;
    gslb_errbuf_t eb = {{0}};
    struct sockaddr_in a = loopback(0);
    int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
    int stray = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(bind(u, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(u, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(bind(t, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(t, 16), 0);
    struct sockaddr_in other = loopback(0);
    assert_int_equal(bind(stray, (struct sockaddr *)&other, sizeof(other)), 0);
    len = sizeof(other);
    assert_int_equal(getsockname(stray, (struct sockaddr *)&other, &len), 0);
    uint16_t port = ntohs(a.sin_port);

    for (int round = 0; round < 2; round++) {
        gslb_dns_opts_t o = loopback_opts(port);
        o.passed[0] = fcntl(u, F_DUPFD_CLOEXEC, 0);
        o.passed[1] = fcntl(t, F_DUPFD_CLOEXEC, 0);
        o.passed[2] = round == 0 ? stray : fcntl(u, F_DUPFD_CLOEXEC, 0); /* 2nd UDP: unused */
        o.passed_count = 3;
        gslb_dns_t *d = NULL;
        assert_int_equal(gslb_dns_start(&F->env, &o, &d, &eb), 0);
        assert_true(gslb_dns_uses_passed(d));
        if (round == 0) { /* the stray socket was closed: its port is free again */
            int again = socket(AF_INET, SOCK_DGRAM, 0);
            assert_int_equal(bind(again, (struct sockaddr *)&other, sizeof(other)), 0);
            close(again);
        }
        for (int i = 0; i < 8; i++)
            assert_true(udp_answer_has(port, "rr." ZONE, "10.0.0.1"));
        tcp_pipelined(port);
        gslb_dns_stop(d);
        if (round == 1)
            break;
        /* no server: the query waits in u's queue */
        int c = socket(AF_INET, SOCK_DGRAM, 0);
        uint8_t q[512], r[4096];
        size_t qlen = make_query(q, sizeof(q), "rr." ZONE, GSLB_RR_A, NULL);
        assert_int_equal(sendto(c, q, qlen, 0, (struct sockaddr *)&a, sizeof(a)), (ssize_t)qlen);
        gslb_dns_opts_t o2 = loopback_opts(port);
        o2.passed[0] = fcntl(t, F_DUPFD_CLOEXEC, 0); /* any order */
        o2.passed[1] = fcntl(u, F_DUPFD_CLOEXEC, 0);
        o2.passed_count = 2;
        assert_int_equal(gslb_dns_start(&F->env, &o2, &d, &eb), 0);
        struct pollfd pf = {.fd = c, .events = POLLIN};
        assert_int_equal(poll(&pf, 1, 5000), 1);
        assert_true(recv(c, r, sizeof(r), 0) > 12);
        assert_int_equal(r[0], q[0]);
        assert_int_equal(r[1], q[1]);
        close(c);
        gslb_dns_stop(d);
    }
    close(u);
    close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_round_robin_all_backends),
        cmocka_unit_test(test_round_robin_rotates_first),
        cmocka_unit_test(test_question_case_preserved),
        cmocka_unit_test(test_apex_soa_ns_and_glue),
        cmocka_unit_test(test_max_records_cap),
        cmocka_unit_test(test_weighted_single_record),
        cmocka_unit_test(test_nodata_cases),
        cmocka_unit_test(test_no_backend_state_is_servfail),
        cmocka_unit_test(test_nxdomain),
        cmocka_unit_test(test_refused_outside_zones),
        cmocka_unit_test(test_any_minimal),
        cmocka_unit_test(test_refused_and_notimp),
        cmocka_unit_test(test_formerr_and_drop),
        cmocka_unit_test(test_edns_opt_in_answer),
        cmocka_unit_test(test_edns_badvers),
        cmocka_unit_test(test_truncation_without_partial_rrset),
        cmocka_unit_test(test_small_client_payload_treated_as_512),
        cmocka_unit_test(test_unhealthy_modes),
        cmocka_unit_test(test_failover_via_store),
        cmocka_unit_test(test_stats_counted),
        cmocka_unit_test(test_workers_see_store_writes),
        cmocka_unit_test(test_udp_detach_keeps_queue_leaves_group),
        cmocka_unit_test(test_takeover_and_hand_over),
        cmocka_unit_test(test_passed_sockets_keep_their_queue),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
