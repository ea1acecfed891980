/*
 * test_signer.c - online DNSSEC signing (server/signer.c), compact denial
 * (server/denial.c) and the DO path of server/answer.c, against a real LMDB
 * store, real keys (server/keys.c) and two independent verifiers: OpenSSL
 * EVP_DigestVerify over signed data built here by hand, and ldns's RRSIG
 * verification of every RRset of complete responses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_tmpstore.h"

#include "answer.h"
#include "config.h"
#include "denial.h"
#include "env.h"
#include "keys.h"
#include "signer.h"
#include "store.h"
#include "wire.h"

#include <ldns/ldns.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ZONE "sig.example"    /* ECDSAP256SHA256 */
#define ED_ZONE "ed.example"  /* ED25519 */
#define PLAIN "plain.example" /* no key: answered unsigned */
#define SOA_TTL 3600
#define SOA_MINIMUM 60
#define BIG_N 60
#define LONG_LABEL "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh" /* 60 */

typedef struct fixture {
    char dir[64];
    gslb_env_t env;
    gslb_reader_t reader;
    gslb_answer_ctx_t ctx;   /* DNSSEC enabled */
    gslb_answer_ctx_t plain; /* DNSSEC disabled */
    gslb_stats_t stats;
    int64_t t0; /* creation time of the first keys */
    uint8_t out[65535];
} fixture_t;

static fixture_t *F;

/* ---- store content ------------------------------------------------------------ */

static void put_zone(MDB_txn *txn, const char *name)
{
    gslb_zone_rec_t z;
    memset(&z, 0, sizeof(z));
    snprintf(z.name, sizeof(z.name), "%s", name);
    snprintf(z.mname, sizeof(z.mname), "NS1.%s", name); /* upper case: canonical form */
    snprintf(z.rname, sizeof(z.rname), "hostmaster.%s", name);
    z.serial = 2026112701;
    z.refresh = 3600;
    z.retry = 600;
    z.expire = 86400;
    z.minimum = SOA_MINIMUM;
    z.soa_ttl = SOA_TTL;
    z.ns_ttl = 7200;
    z.default_ttl = 30;
    z.ns_count = 2;
    snprintf(z.ns[0], sizeof(z.ns[0]), "ns1.%s", name);
    snprintf(z.ns[1], sizeof(z.ns[1]), "NS.Other.NET");
    assert_int_equal(gslb_addr_parse("192.0.2.53", &z.ns_addr4[0]), 0);
    assert_int_equal(gslb_addr_parse("2001:db8::53", &z.ns_addr6[0]), 0);
    assert_int_equal(gslb_store_zone_put(&F->env, txn, &z), 0);
}

static void put_domain(MDB_txn *txn, const char *fqdn, const char *zone, uint8_t policy)
{
    gslb_domain_rec_t d;
    memset(&d, 0, sizeof(d));
    snprintf(d.name, sizeof(d.name), "%s", fqdn);
    snprintf(d.zone, sizeof(d.zone), "%s", zone);
    snprintf(d.service, sizeof(d.service), "%.*s", (int)strcspn(fqdn, "."), fqdn);
    d.policy = policy;
    d.ttl = 45;
    d.region_count = 2;
    strcpy(d.regions[0], "east");
    strcpy(d.regions[1], "west");
    assert_int_equal(gslb_store_domain_put(&F->env, txn, &d), 0);
}

static void put_backend(MDB_txn *txn, const char *fqdn, const char *addr, const char *region)
{
    gslb_backend_rec_t b;
    memset(&b, 0, sizeof(b));
    snprintf(b.domain, sizeof(b.domain), "%s", fqdn);
    assert_int_equal(gslb_addr_parse(addr, &b.addr), 0);
    b.port = 80;
    b.weight = 1;
    snprintf(b.region, sizeof(b.region), "%s", region);
    b.source = GSLB_SOURCE_CONFIG;
    b.agent_health = GSLB_UNKNOWN;
    assert_int_equal(gslb_store_backend_put(&F->env, txn, &b), 0);
}

static void add_key(MDB_txn *txn, const char *zone, uint8_t alg, int64_t created, uint16_t *tag)
{
    gslb_errbuf_t eb;
    int rc = gslb_keys_add_generated(&F->env, txn, zone, alg, created, "test", tag, &eb);
    if (rc)
        fail_msg("add key: %s", eb.msg);
}

static void build_store(void)
{
    MDB_txn *txn;
    assert_int_equal(gslb_env_write_begin(&F->env, &txn), 0);
    put_zone(txn, ZONE);
    put_zone(txn, ED_ZONE);
    put_zone(txn, PLAIN);
    put_domain(txn, "www." ZONE, ZONE, GSLB_POLICY_ROUND_ROBIN);
    put_backend(txn, "www." ZONE, "10.0.0.3", "east"); /* not in canonical order */
    put_backend(txn, "www." ZONE, "10.0.0.1", "east");
    put_backend(txn, "www." ZONE, "10.0.0.2", "west");
    put_backend(txn, "www." ZONE, "2001:db8::1", "west");
    put_domain(txn, "v4." ZONE, ZONE, GSLB_POLICY_FAILOVER);
    put_backend(txn, "v4." ZONE, "10.0.1.1", "east");
    put_domain(txn, "a.ent." ZONE, ZONE, GSLB_POLICY_FAILOVER); /* ent.<zone> is an ENT */
    put_backend(txn, "a.ent." ZONE, "10.0.2.1", "east");
    put_domain(txn, "big." ZONE, ZONE, GSLB_POLICY_ROUND_ROBIN);
    for (int i = 0; i < BIG_N; i++) {
        char a[32];
        snprintf(a, sizeof(a), "10.1.0.%d", i + 1);
        put_backend(txn, "big." ZONE, a, "east");
    }
    put_domain(txn, "www." ED_ZONE, ED_ZONE, GSLB_POLICY_FAILOVER);
    put_backend(txn, "www." ED_ZONE, "10.5.0.1", "east");
    put_domain(txn, "www." PLAIN, PLAIN, GSLB_POLICY_FAILOVER);
    put_backend(txn, "www." PLAIN, "10.6.0.1", "east");
    assert_int_equal(gslb_answers_rebuild_all(&F->env, txn), 0);
    add_key(txn, ZONE, GSLB_ALG_ECDSAP256SHA256, F->t0, NULL);
    add_key(txn, ED_ZONE, GSLB_ALG_ED25519, F->t0, NULL);
    assert_int_equal(gslb_env_commit(&F->env, txn), 0);
}

static int group_setup(void **state)
{
    (void)state;
    F = calloc(1, sizeof(*F));
    F->t0 = (int64_t)time(NULL) - 1000;
    if (gslb_test_env_open(&F->env, F->dir, sizeof(F->dir), "signer") != 0)
        return -1;
    build_store();
    if (gslb_reader_init(&F->reader, &F->env) != 0 ||
        gslb_answer_ctx_init(&F->ctx, &F->env, &F->stats, 1232, 42) != 0 ||
        gslb_answer_ctx_enable_dnssec(&F->ctx) != 0 ||
        gslb_answer_ctx_init(&F->plain, &F->env, NULL, 1232, 42) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    gslb_answer_ctx_destroy(&F->ctx);
    gslb_answer_ctx_destroy(&F->plain);
    gslb_reader_destroy(&F->reader);
    gslb_env_close(&F->env);
    int rc = gslb_test_rmtree(F->dir);
    free(F);
    return rc == 0 ? 0 : -1;
}

/* ---- queries ---------------------------------------------------------------------- */

typedef struct qopt {
    int edns;       /* payload; 0 = no OPT */
    uint16_t flags; /* EDNS flags (DO, CO) */
} qopt_t;

static const qopt_t DO = {1232, GSLB_EDNS_DO};

static size_t make_query(uint8_t *buf, size_t cap, const char *name, uint16_t qtype,
                         const qopt_t *o)
{
    gslb_cur_t w;
    gslb_cur_init(&w, buf, cap);
    gslb_cur_put_be16(&w, 0xBEEF);
    gslb_cur_put_be16(&w, 0);
    gslb_cur_put_be16(&w, 1);
    gslb_cur_put_be16(&w, 0);
    gslb_cur_put_be16(&w, 0);
    gslb_cur_put_be16(&w, o->edns ? 1 : 0);
    uint8_t wire[255];
    int n = gslb_dname_from_str(name, wire, sizeof(wire));
    assert_true(n > 0);
    gslb_cur_put_bytes(&w, wire, (size_t)n);
    gslb_cur_put_be16(&w, qtype);
    gslb_cur_put_be16(&w, GSLB_CLASS_IN);
    if (o->edns) {
        gslb_cur_put_u8(&w, 0);
        gslb_cur_put_be16(&w, GSLB_RR_OPT);
        gslb_cur_put_be16(&w, (uint16_t)o->edns);
        gslb_cur_put_be32(&w, o->flags);
        gslb_cur_put_be16(&w, 0);
    }
    assert_int_equal(w.err, 0);
    return w.pos;
}

static size_t answer_with(gslb_answer_ctx_t *ctx, const char *name, uint16_t qtype, const qopt_t *o,
                          enum gslb_transport tr, uint8_t *out, size_t cap)
{
    uint8_t q[512];
    size_t qlen = make_query(q, sizeof(q), name, qtype, o);
    assert_int_equal(gslb_reader_begin(&F->reader), 0);
    gslb_answer_set_txn(ctx, F->reader.txn);
    size_t n = gslb_answer_query(ctx, q, qlen, tr, out, cap);
    gslb_answer_set_txn(ctx, NULL);
    gslb_reader_end(&F->reader);
    assert_true(n >= 12);
    return n;
}

static ldns_pkt *ask_tr(const char *name, uint16_t qtype, const qopt_t *o, enum gslb_transport tr)
{
    size_t n = answer_with(&F->ctx, name, qtype, o, tr, F->out, sizeof(F->out));
    ldns_pkt *p = NULL;
    assert_int_equal(ldns_wire2pkt(&p, F->out, n), LDNS_STATUS_OK);
    return p;
}

static ldns_pkt *ask(const char *name, uint16_t qtype, const qopt_t *o)
{
    return ask_tr(name, qtype, o, GSLB_TRANSPORT_UDP);
}

static size_t count_type(const ldns_rr_list *l, ldns_rr_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
        n += ldns_rr_get_type(ldns_rr_list_rr(l, i)) == t;
    return n;
}

static ldns_rr *first_of_type(const ldns_rr_list *l, ldns_rr_type t)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
        if (ldns_rr_get_type(ldns_rr_list_rr(l, i)) == t)
            return ldns_rr_list_rr(l, i);
    }
    return NULL;
}

/* The zone's DNSKEY RRset as served (DO answer, RRSIGs dropped). */
static ldns_rr_list *served_keys(const char *zone)
{
    ldns_pkt *p = ask(zone, GSLB_RR_DNSKEY, &DO);
    ldns_rr_list *keys = ldns_rr_list_new();
    ldns_rr_list *an = ldns_pkt_answer(p);
    for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
        ldns_rr *rr = ldns_rr_list_rr(an, i);
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY)
            ldns_rr_list_push_rr(keys, ldns_rr_clone(rr));
    }
    ldns_pkt_free(p);
    assert_true(ldns_rr_list_rr_count(keys) >= 1);
    return keys;
}

/* Verify every RRset of one section with ldns: each needs an RRSIG by one of
 * keys, valid at check_time. Returns the number of RRsets verified. */
static size_t verify_section(const ldns_rr_list *sec, const ldns_rr_list *keys, time_t check_time)
{
    size_t verified = 0, n = ldns_rr_list_rr_count(sec);
    for (size_t i = 0; i < n; i++) {
        ldns_rr *rr = ldns_rr_list_rr(sec, i);
        ldns_rr_type t = ldns_rr_get_type(rr);
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            ldns_rr *o = ldns_rr_list_rr(sec, j);
            seen = ldns_rr_get_type(o) == t &&
                   ldns_dname_compare(ldns_rr_owner(o), ldns_rr_owner(rr)) == 0;
        }
        if (t == LDNS_RR_TYPE_RRSIG || t == LDNS_RR_TYPE_OPT || seen)
            continue;
        ldns_rr_list *set = ldns_rr_list_new();
        ldns_rr *sig = NULL;
        for (size_t j = 0; j < n; j++) {
            ldns_rr *o = ldns_rr_list_rr(sec, j);
            if (ldns_dname_compare(ldns_rr_owner(o), ldns_rr_owner(rr)) != 0)
                continue;
            if (ldns_rr_get_type(o) == t)
                ldns_rr_list_push_rr(set, ldns_rr_clone(o));
            else if (ldns_rr_get_type(o) == LDNS_RR_TYPE_RRSIG &&
                     ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(o)) == t)
                sig = o;
        }
        if (!sig)
            fail_msg("RRset of type %d at index %zu has no RRSIG", t, i);
        ldns_rr_list *good = ldns_rr_list_new();
        ldns_status st = ldns_verify_rrsig_keylist_time(set, sig, keys, check_time, good);
        if (st != LDNS_STATUS_OK)
            fail_msg("RRSIG over type %d does not verify: %s", t, ldns_get_errorstr_by_id(st));
        ldns_rr_list_free(good);
        ldns_rr_list_deep_free(set);
        verified++;
    }
    return verified;
}

/* Verify the whole response; returns the RRsets verified in all sections. */
static size_t verify_pkt(const ldns_pkt *p, const char *zone)
{
    ldns_rr_list *keys = served_keys(zone);
    time_t now = time(NULL);
    size_t n = verify_section(ldns_pkt_answer(p), keys, now) +
               verify_section(ldns_pkt_authority(p), keys, now) +
               verify_section(ldns_pkt_additional(p), keys, now);
    ldns_rr_list_deep_free(keys);
    return n;
}

/* The NSEC of a response: its next name and whether the bitmap has type t. */
static char *nsec_next(const ldns_rr *nsec)
{
    return ldns_rdf2str(ldns_rr_rdf(nsec, 0));
}

static bool nsec_has(const ldns_rr *nsec, ldns_rr_type t)
{
    return ldns_nsec_bitmap_covers_type(ldns_rr_rdf(nsec, 1), t);
}

/* ---- pure helpers ---------------------------------------------------------------- */

static void test_label_count(void **state)
{
    (void)state;
    uint8_t w[255];
    int n = gslb_dname_from_str("www.Example.com", w, sizeof(w));
    assert_int_equal(gslb_rrsig_labels(w, (size_t)n), 3);
    n = gslb_dname_from_str("*.example.com", w, sizeof(w));
    assert_int_equal(gslb_rrsig_labels(w, (size_t)n), 2); /* RFC 4034 3.1.3: "*" not counted */
    n = gslb_dname_from_str("a.*.example.com", w, sizeof(w));
    assert_int_equal(gslb_rrsig_labels(w, (size_t)n), 4);
    n = gslb_dname_from_str(".", w, sizeof(w));
    assert_int_equal(gslb_rrsig_labels(w, (size_t)n), 0);
}

static void test_validity_window(void **state)
{
    (void)state;
    uint32_t inc, exp, inc2, exp2;
    int64_t t = 1767225600 + 1234; /* 2026-01-01T00:20:34Z */
    gslb_rrsig_window(t, &inc, &exp);
    assert_int_equal(inc, 1767225600 - 3600);
    assert_int_equal(exp - inc, 7 * 86400);
    gslb_rrsig_window(t + 3600 - 1235, &inc2, &exp2); /* same hour: same window */
    assert_int_equal(inc2, inc);
    gslb_rrsig_window(t + 3600 - 1234, &inc2, &exp2); /* next hour */
    assert_int_equal(inc2, inc + 3600);
    assert_int_equal(exp2, exp + 3600);
}

static void test_ecdsa_der_to_rs(void **state)
{
    (void)state;
    /* r = 00 80 01..1f (a sign octet, 32 significant bytes), s = 07 (one byte) */
    uint8_t der[2 + 2 + 33 + 3], rs[64];
    size_t o = 0;
    der[o++] = 0x30;
    der[o++] = (uint8_t)(sizeof(der) - 2);
    der[o++] = 0x02;
    der[o++] = 33;
    der[o++] = 0x00;
    der[o++] = 0x80;
    for (int i = 0; i < 31; i++)
        der[o++] = (uint8_t)(i + 1);
    der[o++] = 0x02;
    der[o++] = 1;
    der[o++] = 0x07;
    assert_int_equal(o, sizeof(der));
    assert_int_equal(gslb_ecdsa_der_to_rs(der, sizeof(der), rs), 0);
    assert_int_equal(rs[0], 0x80);
    assert_int_equal(rs[31], 31);
    for (int i = 32; i < 63; i++)
        assert_int_equal(rs[i], 0);
    assert_int_equal(rs[63], 0x07);
    /* malformed: wrong tag, an INTEGER past the end, a trailing byte, 33
     * significant bytes, a negative INTEGER, too short */
    uint8_t bad[sizeof(der) + 1];
    memcpy(bad, der, sizeof(der));
    bad[0] = 0x31;
    assert_int_equal(gslb_ecdsa_der_to_rs(bad, sizeof(der), rs), GSLB_EINVAL);
    memcpy(bad, der, sizeof(der));
    bad[3] = 60;
    assert_int_equal(gslb_ecdsa_der_to_rs(bad, sizeof(der), rs), GSLB_EINVAL);
    memcpy(bad, der, sizeof(der));
    bad[sizeof(der)] = 0;
    assert_int_equal(gslb_ecdsa_der_to_rs(bad, sizeof(der) + 1, rs), GSLB_EINVAL);
    memcpy(bad, der, sizeof(der));
    bad[4] = 0x01;
    assert_int_equal(gslb_ecdsa_der_to_rs(bad, sizeof(der), rs), GSLB_EINVAL);
    memcpy(bad, der, sizeof(der));
    bad[4] = 0x80;
    assert_int_equal(gslb_ecdsa_der_to_rs(bad, sizeof(der), rs), GSLB_EINVAL);
    assert_int_equal(gslb_ecdsa_der_to_rs(der, 1, rs), GSLB_EINVAL);
}

/* r||s back to DER, for EVP verification of ECDSA signatures. */
static size_t rs_to_der(const uint8_t rs[64], uint8_t *der)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    assert_non_null(sig);
    assert_int_equal(ECDSA_SIG_set0(sig, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL)), 1);
    unsigned char *p = der;
    int n = i2d_ECDSA_SIG(sig, &p);
    ECDSA_SIG_free(sig);
    assert_true(n > 0);
    return (size_t)n;
}

static void test_der_to_rs_with_openssl_signatures(void **state)
{
    (void)state;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    for (int i = 0; i < 64; i++) { /* some r or s has leading zero bytes in 64 tries */
        uint8_t msg[4] = {(uint8_t)i, 1, 2, 3}, der[80], rs[64], back[80];
        size_t dl = sizeof(der);
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestSignInit_ex(c, NULL, "SHA256", NULL, NULL, k, NULL), 1);
        assert_int_equal(EVP_DigestSign(c, der, &dl, msg, sizeof(msg)), 1);
        assert_int_equal(gslb_ecdsa_der_to_rs(der, dl, rs), 0);
        size_t bl = rs_to_der(rs, back);
        assert_int_equal(bl, dl);
        assert_memory_equal(back, der, dl);
        EVP_MD_CTX_free(c);
    }
    EVP_PKEY_free(k);
}

static void test_canonical_rdata_and_order(void **state)
{
    (void)state;
    uint8_t ns[64], out[64];
    int n = gslb_dname_from_str("NS1.Example.COM", ns, sizeof(ns));
    gslb_rdata_canonical(GSLB_RR_NS, ns, (size_t)n, out);
    uint8_t want[64];
    gslb_dname_from_str("ns1.example.com", want, sizeof(want));
    assert_memory_equal(out, want, (size_t)n);
    /* A rdata is not touched, even bytes that look like letters */
    uint8_t a[4] = {'A', 'B', 'C', 'D'};
    gslb_rdata_canonical(GSLB_RR_A, a, 4, out);
    assert_memory_equal(out, a, 4);
    /* RFC 4034 6.3: octet order, a prefix sorts first */
    const uint8_t x[] = {1, 2}, y[] = {1, 2, 0}, z[] = {1, 3};
    assert_true(gslb_rdata_compare(x, 2, y, 3) < 0);
    assert_true(gslb_rdata_compare(y, 3, z, 2) < 0);
    assert_true(gslb_rdata_compare(z, 2, x, 2) > 0);
    assert_int_equal(gslb_rdata_compare(x, 2, x, 2), 0);
}

static void test_siphash_reference_vector(void **state)
{
    (void)state;
    /* SipHash-2-4-128, key 00..0f, empty message (reference vectors_sip128[0]) */
    const uint64_t k[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    uint64_t h[2], h2[2];
    gslb_siphash128(k, "", 0, h);
    assert_true(h[0] == 0xe6a825ba047f81a3ull);
    assert_true(h[1] == 0x930255c71472f66dull);
    const uint64_t k2[2] = {1, 0};
    gslb_siphash128(k2, "", 0, h2);
    assert_true(h2[0] != h[0]); /* keyed */
}

static void test_next_name(void **state)
{
    (void)state;
    uint8_t name[255], next[255];
    int n = gslb_dname_from_str("a.example", name, sizeof(name));
    int m = gslb_denial_next_name(name, (size_t)n, next);
    assert_int_equal(m, n + 2);
    assert_int_equal(next[0], 1);
    assert_int_equal(next[1], 0);
    assert_memory_equal(next + 2, name, (size_t)n);
    /* 254 octets: the first label gets a zero octet */
    memset(name, 0, sizeof(name));
    size_t pos = 0;
    name[pos++] = 10;
    memset(name + pos, 'a', 10);
    pos += 10;
    while (pos + 1 + 63 + 1 <= 254) {
        name[pos++] = 63;
        memset(name + pos, 'b', 63);
        pos += 63;
    }
    size_t rest = 254 - pos - 2;
    name[pos++] = (uint8_t)rest;
    memset(name + pos, 'c', rest);
    pos += rest;
    name[pos++] = 0;
    assert_int_equal(gslb_dname_len(name, pos), 254);
    m = gslb_denial_next_name(name, pos, next);
    assert_int_equal(m, 255);
    assert_int_equal(next[0], 11);
    assert_int_equal(next[11], 0);
    assert_memory_equal(next + 12, name + 11, 254 - 11);
    /* 255 octets with a 63-octet first label: last octet incremented */
    uint8_t full[255];
    full[0] = 63;
    memset(full + 1, 'q', 63);
    full[63] = '@';
    memcpy(full + 64, name + 11, 254 - 11 - 52);
    size_t flen = 64;
    /* rebuild a valid tail: labels of 63 until 255 */
    while (flen + 1 + 63 + 1 <= 255) {
        full[flen++] = 63;
        memset(full + flen, 'd', 63);
        flen += 63;
    }
    size_t r2 = 255 - flen - 2;
    full[flen++] = (uint8_t)r2;
    memset(full + flen, 'e', r2);
    flen += r2;
    full[flen++] = 0;
    assert_int_equal(gslb_dname_len(full, flen), 255);
    assert_int_equal(gslb_denial_next_name(full, flen, next), 255);
    assert_int_equal(next[63], '[');
    full[63] = 'x';
    assert_int_equal(gslb_denial_next_name(full, flen, next), 255);
    assert_int_equal(next[63], 'y');
    full[63] = 0xFF;
    assert_int_equal(gslb_denial_next_name(full, flen, next), GSLB_ERANGE);
}

static void test_nsec_rdata_matches_ldns(void **state)
{
    (void)state;
    uint8_t name[64], rd[300];
    int n = gslb_dname_from_str("x.example", name, sizeof(name));
    gslb_typemap_t m;
    gslb_typemap_clear(&m);
    gslb_typemap_set(&m, GSLB_RR_RRSIG, true);
    gslb_typemap_set(&m, GSLB_RR_NSEC, true);
    gslb_typemap_set(&m, GSLB_RR_NXNAME, true);
    gslb_typemap_set(&m, GSLB_RR_A, true);
    gslb_typemap_set(&m, GSLB_RR_A, false);
    int len = gslb_denial_nsec_rdata(name, (size_t)n, &m, rd, sizeof(rd));
    assert_true(len > 0);
    ldns_rr *rr = NULL;
    assert_int_equal(
        ldns_rr_new_frm_str(&rr, "x.example. 60 IN NSEC \\000.x.example. RRSIG NSEC TYPE128", 60,
                            NULL, NULL),
        LDNS_STATUS_OK);
    ldns_buffer *b = ldns_buffer_new(512);
    assert_int_equal(ldns_rr_rdata2buffer_wire(b, rr), LDNS_STATUS_OK);
    assert_int_equal(ldns_buffer_position(b), (size_t)len);
    assert_memory_equal(ldns_buffer_begin(b), rd, (size_t)len);
    ldns_buffer_free(b);
    ldns_rr_free(rr);
    gslb_typemap_clear(&m);
    assert_int_equal(gslb_typemap_encode(&m, rd), 0);
    assert_int_equal(gslb_denial_nsec_rdata(name, (size_t)n, &m, rd, 5), GSLB_ERANGE);
}

/* ---- the signer with stored keys ---------------------------------------------------- */

typedef struct stored_key {
    gslb_dnskey_rec_t rec;
    bool found;
} stored_key_t;

static int find_active(const gslb_dnskey_rec_t *r, void *arg)
{
    stored_key_t *k = arg;
    if (r->state == GSLB_KEY_ACTIVE) {
        k->rec = *r;
        k->found = true;
    }
    return 0;
}

static gslb_dnskey_rec_t active_key(MDB_txn *txn, const char *zone)
{
    stored_key_t k = {.found = false};
    assert_int_equal(gslb_store_foreach_dnskey(&F->env, txn, zone, find_active, &k), 0);
    assert_true(k.found);
    return k.rec;
}

static gslb_signer_zone_t *signer_zone(gslb_signer_t *s, MDB_txn *txn, const char *zone)
{
    uint8_t apex[255];
    int n = gslb_ans_name_to_wire(zone, apex, sizeof(apex));
    assert_true(n > 0);
    gslb_signer_zone_t *z = NULL;
    assert_int_equal(
        gslb_signer_zone(s, &F->env, txn, (uint64_t)mdb_txn_id(txn) + 1, apex, (size_t)n, &z), 0);
    return z;
}

/* Sign the A RRset {addrs} at owner and return the RRSIG rdata length. */
static int sign_a_set(gslb_signer_t *s, gslb_signer_zone_t *z, const char *owner,
                      const char *const *addrs, size_t n, uint8_t *rrsig, bool *cached)
{
    uint8_t o[255];
    int ol = gslb_dname_from_str(owner, o, sizeof(o));
    gslb_signer_rrset_begin(s, o, (size_t)ol, GSLB_RR_A, 45);
    for (size_t i = 0; i < n; i++) {
        gslb_addr_t a;
        assert_int_equal(gslb_addr_parse(addrs[i], &a), 0);
        gslb_signer_rrset_add(s, a.bytes, 4);
    }
    return gslb_signer_rrset_sign(s, z, rrsig, GSLB_RRSIG_RDATA_MAX, cached);
}

/* RFC 4034 3.1.8.1 signed data, built independently: RRSIG rdata without the
 * signature, then "www.sig.example. IN A 45" for 10.0.0.1 and 10.0.0.2 in order. */
static size_t expected_signed_data(const uint8_t *rrsig, size_t hdr, uint8_t *out)
{
    static const uint8_t owner[] = "\3www\3sig\7example";
    size_t o = 0;
    memcpy(out, rrsig, hdr);
    o = hdr;
    for (int i = 1; i <= 2; i++) {
        memcpy(out + o, owner, sizeof(owner)); /* includes the root label */
        o += sizeof(owner);
        static const uint8_t fixed[] = {0, 1, 0, 1, 0, 0, 0, 45, 0, 4, 10, 0, 0};
        memcpy(out + o, fixed, sizeof(fixed));
        o += sizeof(fixed);
        out[o++] = (uint8_t)i;
    }
    return o;
}

static void verify_with_evp(const gslb_dnskey_rec_t *k, const uint8_t *data, size_t len,
                            const uint8_t *sig)
{
    EVP_PKEY *pkey = gslb_keys_private(k);
    assert_non_null(pkey);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok;
    if (k->algorithm == GSLB_ALG_ECDSAP256SHA256) {
        uint8_t der[80];
        size_t dl = rs_to_der(sig, der);
        assert_int_equal(EVP_DigestVerifyInit_ex(c, NULL, "SHA256", NULL, NULL, pkey, NULL), 1);
        ok = EVP_DigestVerify(c, der, dl, data, len);
    } else {
        assert_int_equal(EVP_DigestVerifyInit_ex(c, NULL, NULL, NULL, NULL, pkey, NULL), 1);
        ok = EVP_DigestVerify(c, sig, 64, data, len);
    }
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(pkey);
    assert_int_equal(ok, 1);
}

static void check_rrsig_fields(const uint8_t *rd, const gslb_dnskey_rec_t *k, const char *apex,
                               int64_t now)
{
    uint32_t inc, exp;
    gslb_rrsig_window(now, &inc, &exp);
    assert_int_equal(gslb_get_be16(rd), GSLB_RR_A);
    assert_int_equal(rd[2], k->algorithm);
    assert_int_equal(rd[3], 3); /* www.sig.example */
    assert_int_equal(((uint32_t)gslb_get_be16(rd + 4) << 16) | gslb_get_be16(rd + 6), 45);
    assert_int_equal(((uint32_t)gslb_get_be16(rd + 8) << 16) | gslb_get_be16(rd + 10), exp);
    assert_int_equal(((uint32_t)gslb_get_be16(rd + 12) << 16) | gslb_get_be16(rd + 14), inc);
    assert_int_equal(gslb_get_be16(rd + 16), k->key_tag);
    uint8_t signer[255];
    int sl = gslb_ans_name_to_wire(apex, signer, sizeof(signer));
    assert_memory_equal(rd + 18, signer, (size_t)sl);
}

static void sign_and_verify(const char *zone, uint8_t alg)
{
    gslb_signer_t s;
    assert_int_equal(gslb_signer_init(&s), 0);
    s.fixed_now = (int64_t)time(NULL);
    MDB_txn *txn;
    assert_int_equal(gslb_env_read_begin(&F->env, &txn), 0);
    gslb_dnskey_rec_t k = active_key(txn, zone);
    assert_int_equal(k.algorithm, alg);
    gslb_signer_zone_t *z = signer_zone(&s, txn, zone);
    assert_non_null(z);
    char owner[64];
    snprintf(owner, sizeof(owner), "WWW.sig.example"); /* owner case must not matter */
    static const char *const addrs[] = {"10.0.0.2", "10.0.0.1", "10.0.0.2"}; /* dup removed */
    uint8_t rrsig[GSLB_RRSIG_RDATA_MAX], data[512];
    int n = sign_a_set(&s, z, owner, addrs, 3, rrsig, NULL);
    size_t hdr = 18 + strlen(zone) + 2;
    assert_int_equal(n, (int)(hdr + 64));
    check_rrsig_fields(rrsig, &k, zone, s.fixed_now);
    size_t dl = expected_signed_data(rrsig, hdr, data);
    verify_with_evp(&k, data, dl, rrsig + hdr);
    mdb_txn_abort(txn);
    gslb_signer_destroy(&s);
}

static void test_signature_verifies_ecdsa(void **state)
{
    (void)state;
    sign_and_verify(ZONE, GSLB_ALG_ECDSAP256SHA256);
}

static void test_signature_verifies_ed25519(void **state)
{
    (void)state;
    sign_and_verify(ED_ZONE, GSLB_ALG_ED25519);
}

static void test_unsigned_zone_and_bad_key(void **state)
{
    (void)state;
    gslb_signer_t s;
    assert_int_equal(gslb_signer_init(&s), 0);
    MDB_txn *txn;
    assert_int_equal(gslb_env_read_begin(&F->env, &txn), 0);
    assert_null(signer_zone(&s, txn, PLAIN));
    mdb_txn_abort(txn);
    /* an ACTIVE key whose private part is garbage is not used (zone unsigned) */
    const char *zone = "broken.example";
    assert_int_equal(gslb_env_write_begin(&F->env, &txn), 0);
    put_zone(txn, zone);
    gslb_dnskey_rec_t k;
    gslb_errbuf_t eb;
    assert_int_equal(gslb_keys_generate(zone, 13, F->t0, "t", &k, &eb), 0);
    k.priv_der[k.priv_len / 2] ^= 0x55;
    k.priv_der[0] = 0x31;
    assert_int_equal(gslb_store_dnskey_put(&F->env, txn, &k), 0);
    assert_int_equal(gslb_answers_rebuild_zone_keys(&F->env, txn, zone), 0);
    uint64_t loads = s.key_loads;
    assert_null(signer_zone(&s, txn, zone));
    assert_int_equal(s.key_loads, loads + 1); /* the compiled key was read, and refused */
    mdb_txn_abort(txn);
    gslb_signer_destroy(&s);
}

/* A zone waiting for its first key (key sync start-up): DO queries get SERVFAIL
 * instead of an unsigned (bogus) answer; signed zones and plain queries are
 * unaffected, and once the flag clears the zone is answered unsigned again. */
static void test_keys_pending_servfails_do_queries_of_keyless_zones(void **state)
{
    (void)state;
    atomic_bool pending = true;
    F->ctx.keys_pending = &pending;
    ldns_pkt *p = ask("www." PLAIN, GSLB_RR_A, &DO);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
    assert_int_equal(ldns_pkt_ancount(p), 0);
    ldns_pkt_free(p);
    p = ask("www." ZONE, GSLB_RR_A, &DO); /* has its key: signed as usual */
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_true(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_RRSIG) > 0);
    ldns_pkt_free(p);
    const qopt_t plain_edns = {1232, 0};
    p = ask("www." PLAIN, GSLB_RR_A, &plain_edns); /* no DO: the unsigned answer */
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    ldns_pkt_free(p);
    atomic_store(&pending, false);
    p = ask("www." PLAIN, GSLB_RR_A, &DO);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_ancount(p), 1);
    ldns_pkt_free(p);
    F->ctx.keys_pending = NULL;
}

static void test_cache_hit_miss_and_invalidation(void **state)
{
    (void)state;
    gslb_signer_t s;
    assert_int_equal(gslb_signer_init(&s), 0);
    s.fixed_now = (int64_t)time(NULL);
    MDB_txn *txn;
    assert_int_equal(gslb_env_read_begin(&F->env, &txn), 0);
    gslb_signer_zone_t *z = signer_zone(&s, txn, ZONE);
    assert_non_null(z);
    assert_int_equal(s.key_loads, 1);
    static const char *const ab[] = {"10.0.0.1", "10.0.0.2"}, *const ba[] = {"10.0.0.2",
                                                                             "10.0.0.1"};
    static const char *const a[] = {"10.0.0.1"};
    uint8_t r1[GSLB_RRSIG_RDATA_MAX], r2[GSLB_RRSIG_RDATA_MAX];
    bool cached = true;
    int n = sign_a_set(&s, z, "www.sig.example", ab, 2, r1, &cached);
    assert_false(cached);
    assert_int_equal(s.signatures, 1);
    /* same set in another order (round-robin rotation): a hit, same bytes */
    assert_int_equal(sign_a_set(&s, z, "www.sig.example", ba, 2, r2, &cached), n);
    assert_true(cached);
    assert_int_equal(s.cache_hits, 1);
    assert_memory_equal(r1, r2, (size_t)n);
    /* another set (health changed): a miss */
    sign_a_set(&s, z, "www.sig.example", a, 1, r2, &cached);
    assert_false(cached);
    /* another owner: a miss */
    sign_a_set(&s, z, "www2.sig.example", ab, 2, r2, &cached);
    assert_false(cached);
    assert_int_equal(s.signatures, 3);
    /* the next hour: a new window, a miss */
    s.fixed_now += 3600;
    sign_a_set(&s, z, "www.sig.example", ab, 2, r2, &cached);
    assert_false(cached);
    assert_int_not_equal(memcmp(r1 + 12, r2 + 12, 4), 0); /* inception moved */
    sign_a_set(&s, z, "www.sig.example", ab, 2, r2, &cached);
    assert_true(cached);
    /* the same snapshot again, then a write that does not touch keys: no reload */
    z = signer_zone(&s, txn, ZONE);
    mdb_txn_abort(txn);
    MDB_txn *w;
    assert_int_equal(gslb_env_write_begin(&F->env, &w), 0);
    assert_int_equal(gslb_answers_rebuild_domain(&F->env, w, "v4." ZONE), 0);
    assert_int_equal(gslb_env_commit(&F->env, w), 0);
    assert_int_equal(gslb_env_read_begin(&F->env, &txn), 0);
    z = signer_zone(&s, txn, ZONE);
    assert_int_equal(s.key_loads, 1);
    sign_a_set(&s, z, "www.sig.example", ab, 2, r2, &cached);
    assert_true(cached);
    mdb_txn_abort(txn);
    /* a key change (an older key appears and wins the convergence rule): the
     * key is reloaded, every cached signature is dropped, and the new one
     * verifies with the new key */
    uint16_t tag = 0;
    assert_int_equal(gslb_env_write_begin(&F->env, &w), 0);
    add_key(w, ZONE, GSLB_ALG_ECDSAP256SHA256, F->t0 - 10, &tag);
    assert_int_equal(gslb_env_commit(&F->env, w), 0);
    assert_int_equal(gslb_env_read_begin(&F->env, &txn), 0);
    gslb_dnskey_rec_t k = active_key(txn, ZONE);
    assert_int_equal(k.key_tag, tag);
    z = signer_zone(&s, txn, ZONE);
    assert_non_null(z);
    assert_int_equal(s.key_loads, 2);
    n = sign_a_set(&s, z, "www.sig.example", ab, 2, r2, &cached);
    assert_false(cached);
    assert_int_equal(gslb_get_be16(r2 + 16), tag);
    uint8_t data[512];
    size_t hdr = 18 + strlen(ZONE) + 2;
    size_t dl = expected_signed_data(r2, hdr, data);
    verify_with_evp(&k, data, dl, r2 + hdr);
    mdb_txn_abort(txn);
    gslb_signer_destroy(&s);
}

/* ---- DO answers (answer.c) ------------------------------------------------------------ */

static void test_do_a_answer_signed_both_algorithms(void **state)
{
    (void)state;
    ldns_pkt *p = ask("www." ZONE, GSLB_RR_A, &DO);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_true(ldns_pkt_aa(p));
    assert_false(ldns_pkt_ad(p));
    assert_true(ldns_pkt_edns_do(p));
    assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_A), 3);
    assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_RRSIG), 1);
    ldns_rr *sig = first_of_type(ldns_pkt_answer(p), LDNS_RR_TYPE_RRSIG);
    assert_int_equal(ldns_rr_ttl(sig), 45);
    assert_int_equal(verify_pkt(p, ZONE), 1);
    ldns_pkt_free(p);
    p = ask("www." ZONE, GSLB_RR_AAAA, &DO);
    assert_int_equal(verify_pkt(p, ZONE), 1);
    ldns_pkt_free(p);
    p = ask("WWW." ED_ZONE, GSLB_RR_A, &DO);
    assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_RRSIG), 1);
    assert_int_equal(ldns_rdf2native_int8(ldns_rr_rrsig_algorithm(
                         first_of_type(ldns_pkt_answer(p), LDNS_RR_TYPE_RRSIG))),
                     GSLB_ALG_ED25519);
    assert_int_equal(verify_pkt(p, ED_ZONE), 1);
    ldns_pkt_free(p);
}

static void test_do_apex_rrsets_and_glue_signed(void **state)
{
    (void)state;
    static const uint16_t types[] = {GSLB_RR_SOA, GSLB_RR_NS, GSLB_RR_DNSKEY};
    for (size_t i = 0; i < 3; i++) {
        ldns_pkt *p = ask(ZONE, types[i], &DO);
        assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_RRSIG), 1);
        /* NS: the in-zone host's A and AAAA are signed in the additional section */
        size_t want = types[i] == GSLB_RR_NS ? 3 : 1;
        assert_int_equal(verify_pkt(p, ZONE), want);
        if (types[i] == GSLB_RR_NS)
            assert_int_equal(count_type(ldns_pkt_additional(p), LDNS_RR_TYPE_RRSIG), 2);
        ldns_pkt_free(p);
    }
    ldns_pkt *p = ask("ns1." ZONE, GSLB_RR_AAAA, &DO);
    assert_int_equal(verify_pkt(p, ZONE), 1);
    ldns_pkt_free(p);
}

static void test_do_nodata_proof(void **state)
{
    (void)state;
    ldns_pkt *p = ask("v4." ZONE, GSLB_RR_AAAA, &DO); /* no IPv6 backend */
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_int_equal(ldns_pkt_ancount(p), 0);
    assert_int_equal(ldns_pkt_nscount(p), 4); /* SOA, RRSIG, NSEC, RRSIG */
    ldns_rr *soa = first_of_type(ldns_pkt_authority(p), LDNS_RR_TYPE_SOA);
    assert_int_equal(ldns_rr_ttl(soa), SOA_MINIMUM);
    ldns_rr *nsec = first_of_type(ldns_pkt_authority(p), LDNS_RR_TYPE_NSEC);
    assert_int_equal(ldns_rr_ttl(nsec), SOA_MINIMUM); /* RFC 9077 */
    char *next = nsec_next(nsec);
    assert_string_equal(next, "\\000.v4.sig.example.");
    free(next);
    assert_true(nsec_has(nsec, LDNS_RR_TYPE_A));
    assert_false(nsec_has(nsec, LDNS_RR_TYPE_AAAA));
    assert_true(nsec_has(nsec, LDNS_RR_TYPE_RRSIG) && nsec_has(nsec, LDNS_RR_TYPE_NSEC));
    assert_false(nsec_has(nsec, (ldns_rr_type)GSLB_RR_NXNAME));
    assert_int_equal(verify_pkt(p, ZONE), 2);
    ldns_pkt_free(p);
    /* other types at a domain: both families listed */
    p = ask("www." ZONE, GSLB_RR_MX, &DO);
    nsec = first_of_type(ldns_pkt_authority(p), LDNS_RR_TYPE_NSEC);
    assert_true(nsec_has(nsec, LDNS_RR_TYPE_A) && nsec_has(nsec, LDNS_RR_TYPE_AAAA));
    assert_false(nsec_has(nsec, LDNS_RR_TYPE_MX));
    assert_int_equal(verify_pkt(p, ZONE), 2);
    ldns_pkt_free(p);
    /* the apex: SOA, NS, DNSKEY; DS is proven absent */
    p = ask(ZONE, GSLB_RR_DS, &DO);
    nsec = first_of_type(ldns_pkt_authority(p), LDNS_RR_TYPE_NSEC);
    assert_true(nsec_has(nsec, LDNS_RR_TYPE_SOA) && nsec_has(nsec, LDNS_RR_TYPE_NS) &&
                nsec_has(nsec, LDNS_RR_TYPE_DNSKEY));
    assert_false(nsec_has(nsec, LDNS_RR_TYPE_DS) || nsec_has(nsec, LDNS_RR_TYPE_A));
    assert_int_equal(verify_pkt(p, ZONE), 2);
    ldns_pkt_free(p);
    /* an empty non-terminal: RRSIG and NSEC only (RFC 9824 3.3) */
    p = ask("ent." ZONE, GSLB_RR_A, &DO);
    nsec = first_of_type(ldns_pkt_authority(p), LDNS_RR_TYPE_NSEC);
    assert_false(nsec_has(nsec, LDNS_RR_TYPE_A) || nsec_has(nsec, (ldns_rr_type)GSLB_RR_NXNAME));
    assert_true(nsec_has(nsec, LDNS_RR_TYPE_NSEC));
    assert_int_equal(verify_pkt(p, ZONE), 2);
    ldns_pkt_free(p);
}

static void test_do_nonexistent_name_compact_denial(void **state)
{
    (void)state;
    ldns_pkt *p = ask("NoPe." ZONE, GSLB_RR_A, &DO);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR); /* RFC 9824 3.1 */
    assert_true(ldns_pkt_aa(p));
    assert_int_equal(ldns_pkt_ancount(p), 0);
    ldns_rr *nsec = first_of_type(ldns_pkt_authority(p), LDNS_RR_TYPE_NSEC);
    assert_non_null(nsec);
    char *owner = ldns_rdf2str(ldns_rr_owner(nsec));
    char *next = nsec_next(nsec);
    assert_string_equal(owner, "NoPe.sig.example."); /* the query name as asked */
    assert_string_equal(next, "\\000.nope.sig.example.");
    free(owner);
    free(next);
    assert_true(nsec_has(nsec, (ldns_rr_type)GSLB_RR_NXNAME));
    assert_true(nsec_has(nsec, LDNS_RR_TYPE_RRSIG) && nsec_has(nsec, LDNS_RR_TYPE_NSEC));
    assert_false(nsec_has(nsec, LDNS_RR_TYPE_A));
    assert_int_equal(verify_pkt(p, ZONE), 2);
    assert_int_equal(ldns_pkt_edns_z(p) & 0x4000, 0); /* no CO asked, none echoed */
    ldns_pkt_free(p);
    /* Compact Answers OK: NXDOMAIN restored and CO echoed (RFC 9824 5) */
    qopt_t co = {1232, GSLB_EDNS_DO | GSLB_EDNS_CO};
    p = ask("a.b.nope." ZONE, GSLB_RR_AAAA, &co);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
    assert_int_equal(ldns_pkt_edns_z(p) & 0x4000, 0x4000);
    assert_int_equal(verify_pkt(p, ZONE), 2);
    ldns_pkt_free(p);
    /* the same query without DO is the classic NXDOMAIN */
    qopt_t nodo = {1232, 0};
    p = ask("nope." ZONE, GSLB_RR_A, &nodo);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
    assert_int_equal(ldns_pkt_nscount(p), 1);
    ldns_pkt_free(p);
}

static void test_do_meta_queries(void **state)
{
    (void)state;
    ldns_pkt *p = ask("www." ZONE, GSLB_RR_NSEC, &DO);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_NSEC), 1);
    ldns_rr *nsec = first_of_type(ldns_pkt_answer(p), LDNS_RR_TYPE_NSEC);
    assert_true(nsec_has(nsec, LDNS_RR_TYPE_A) && nsec_has(nsec, LDNS_RR_TYPE_NSEC));
    assert_int_equal(verify_pkt(p, ZONE), 1);
    ldns_pkt_free(p);
    p = ask("nope." ZONE, GSLB_RR_NSEC, &DO);
    nsec = first_of_type(ldns_pkt_answer(p), LDNS_RR_TYPE_NSEC);
    assert_true(nsec_has(nsec, (ldns_rr_type)GSLB_RR_NXNAME));
    assert_int_equal(verify_pkt(p, ZONE), 1);
    ldns_pkt_free(p);
    p = ask("www." ZONE, GSLB_RR_RRSIG, &DO);
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
    ldns_pkt_free(p);
    p = ask("www." ZONE, GSLB_RR_NXNAME, &DO); /* RFC 9824 3.5 */
    assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
    ldns_pkt_free(p);
    p = ask("www." ZONE, GSLB_RR_ANY, &DO); /* RFC 8482: one RRset, signed */
    assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_RRSIG), 1);
    assert_int_equal(verify_pkt(p, ZONE), 1);
    ldns_pkt_free(p);
}

static void test_do_truncation_keeps_rrset_and_rrsig_together(void **state)
{
    (void)state;
    /* 60 A records (960 bytes) fit in 1232 unsigned, and with the RRSIG too */
    ldns_pkt *p = ask("big." ZONE, GSLB_RR_A, &DO);
    assert_false(ldns_pkt_tc(p));
    assert_int_equal(verify_pkt(p, ZONE), 1);
    ldns_pkt_free(p);
    /* a client limit where the A set alone would fit, but not with its RRSIG */
    qopt_t small = {1050, GSLB_EDNS_DO};
    size_t unsigned_len = 12 + 21 + BIG_N * 16 + 11;
    assert_true(unsigned_len <= (size_t)small.edns);
    p = ask("big." ZONE, GSLB_RR_A, &small);
    assert_true(ldns_pkt_tc(p));
    assert_int_equal(ldns_pkt_ancount(p), 0); /* no partial RRset, no RRset without RRSIG */
    assert_int_equal(ldns_pkt_nscount(p), 0);
    ldns_pkt_free(p);
    p = ask_tr("big." ZONE, GSLB_RR_A, &small, GSLB_TRANSPORT_TCP);
    assert_false(ldns_pkt_tc(p));
    assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_A), BIG_N);
    assert_int_equal(verify_pkt(p, ZONE), 1);
    ldns_pkt_free(p);
    /* NS + glue at 512: the answer fits, glue and its RRSIGs are left out together */
    qopt_t tiny = {512, GSLB_EDNS_DO};
    p = ask(ZONE, GSLB_RR_NS, &tiny);
    assert_false(ldns_pkt_tc(p));
    size_t a = count_type(ldns_pkt_additional(p), LDNS_RR_TYPE_A) +
               count_type(ldns_pkt_additional(p), LDNS_RR_TYPE_AAAA);
    assert_int_equal(count_type(ldns_pkt_additional(p), LDNS_RR_TYPE_RRSIG), a);
    assert_int_equal(verify_pkt(p, ZONE), 1 + a);
    ldns_pkt_free(p);
}

/* A long name that does not exist: at 512 bytes its denial (SOA + RRSIG fit,
 * NSEC + RRSIG do not) and its NSEC as an answer do not fit. The RRset that
 * does not fit is rolled back with its RRSIG and the whole answer truncated:
 * TC, empty sections, nothing signed left behind. At 1232 both fit. */
static void test_do_denial_that_does_not_fit_is_truncated(void **state)
{
    (void)state;
    char name[256];
    snprintf(name, sizeof(name), "%.60s.%.60s.%.60s." ZONE, LONG_LABEL, LONG_LABEL, LONG_LABEL);
    qopt_t tiny = {512, GSLB_EDNS_DO};
    static const uint16_t types[] = {GSLB_RR_A, GSLB_RR_NSEC};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        ldns_pkt *p = ask(name, types[i], &tiny);
        assert_true(ldns_pkt_tc(p));
        assert_int_equal(ldns_pkt_ancount(p), 0);
        assert_int_equal(ldns_pkt_nscount(p), 0);
        assert_int_equal(ldns_pkt_arcount(p), 0); /* ldns keeps the OPT apart */
        assert_true(ldns_pkt_edns_do(p));
        ldns_pkt_free(p);
        p = ask(name, types[i], &DO);
        assert_false(ldns_pkt_tc(p));
        assert_int_equal(ldns_pkt_ancount(p) + ldns_pkt_nscount(p), i == 0 ? 4 : 2);
        assert_int_equal(verify_pkt(p, ZONE), i == 0 ? 2 : 1);
        ldns_pkt_free(p);
    }
}

/* The compiled signing keys (GSLB_ANS_SIGNING_KEYS = TYPE65535 at the apex)
 * are never answered: a query for that type is NODATA like any type without
 * data, with and without DO, and no byte of the private key is sent. */
static void test_signing_keys_entry_is_never_answered(void **state)
{
    (void)state;
    MDB_txn *txn;
    assert_int_equal(gslb_env_read_begin(&F->env, &txn), 0);
    gslb_dnskey_rec_t k = active_key(txn, ZONE);
    mdb_txn_abort(txn);
    static const qopt_t opts[] = {{0, 0}, {1232, 0}, {1232, GSLB_EDNS_DO}, {4096, GSLB_EDNS_DO}};
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        for (int any = 0; any < 2; any++) {
            uint16_t qtype = any ? GSLB_RR_ANY : GSLB_ANS_SIGNING_KEYS;
            size_t n = answer_with(&F->ctx, ZONE, qtype, &opts[i], GSLB_TRANSPORT_TCP, F->out,
                                   sizeof(F->out));
            assert_null(memmem(F->out, n, k.priv_der + 8, 32)); /* a piece of the key */
            if (any)
                continue;
            ldns_pkt *p = NULL;
            assert_int_equal(ldns_wire2pkt(&p, F->out, n), LDNS_STATUS_OK);
            assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
            assert_int_equal(ldns_pkt_ancount(p), 0);
            assert_int_equal(count_type(ldns_pkt_authority(p), LDNS_RR_TYPE_SOA), 1);
            ldns_pkt_free(p);
        }
    }
}

/* ---- a store written before the signing keys were compiled ------------------------- */

static const char warm_yaml[] = "mode: overwatch\n"
                                "overwatch:\n"
                                "  identity: {node_id: warm}\n"
                                "dns:\n"
                                "  listen_address: \"127.0.0.1:5300\"\n"
                                "  zones: [warm.example]\n"
                                "regions:\n"
                                "  - name: r1\n"
                                "    servers:\n"
                                "      - {address: 192.0.2.7}\n"
                                "domains:\n"
                                "  - {name: www.warm.example, regions: [r1]}\n";

static void warm_apply(gslb_env_t *env)
{
    gslb_config_t cfg;
    gslb_errbuf_t eb = {{0}};
    if (gslb_config_load_string("warm", warm_yaml, &cfg, &eb) != 0)
        fail_msg("config: %s", eb.msg);
    if (gslb_config_apply_to_store(&cfg, env, &eb) != 0)
        fail_msg("apply: %s", eb.msg);
    gslb_config_free(&cfg);
}

static gslb_signer_zone_t *warm_signer_zone(gslb_env_t *env, gslb_signer_t *s)
{
    uint8_t apex[255];
    int n = gslb_ans_name_to_wire("warm.example", apex, sizeof(apex));
    MDB_txn *txn;
    assert_int_equal(gslb_env_read_begin(env, &txn), 0);
    gslb_signer_zone_t *z = NULL;
    assert_int_equal(
        gslb_signer_zone(s, env, txn, (uint64_t)mdb_txn_id(txn) + 1, apex, (size_t)n, &z), 0);
    mdb_txn_abort(txn);
    return z;
}

/* The key tag of the RRSIG of a DO answer for www.warm.example A (0: none). */
static uint16_t warm_answer_key_tag(gslb_env_t *env)
{
    gslb_reader_t reader;
    gslb_answer_ctx_t ctx;
    assert_int_equal(gslb_reader_init(&reader, env), 0);
    assert_int_equal(gslb_answer_ctx_init(&ctx, env, NULL, 1232, 7), 0);
    assert_int_equal(gslb_answer_ctx_enable_dnssec(&ctx), 0);
    uint8_t q[512];
    size_t qlen = make_query(q, sizeof(q), "www.warm.example", GSLB_RR_A, &DO);
    assert_int_equal(gslb_reader_begin(&reader), 0);
    gslb_answer_set_txn(&ctx, reader.txn);
    size_t n = gslb_answer_query(&ctx, q, qlen, GSLB_TRANSPORT_UDP, F->out, sizeof(F->out));
    gslb_answer_set_txn(&ctx, NULL);
    gslb_reader_end(&reader);
    ldns_pkt *p = NULL;
    assert_int_equal(ldns_wire2pkt(&p, F->out, n), LDNS_STATUS_OK);
    assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_A), 1);
    ldns_rr *sig = first_of_type(ldns_pkt_answer(p), LDNS_RR_TYPE_RRSIG);
    uint16_t tag = sig ? ldns_rdf2native_int16(ldns_rr_rrsig_keytag(sig)) : 0;
    ldns_pkt_free(p);
    gslb_answer_ctx_destroy(&ctx);
    gslb_reader_destroy(&reader);
    return tag;
}

/* A warm restart of a store written by the previous version (a zone key in
 * dnssec_keys, no compiled signing keys in answers): the signer reads only the
 * compiled entry, so the zone is unsigned until the overwatch applies its
 * configuration at start (main.c: open the store, apply, then serve), which
 * rebuilds every answer: after that DO answers are signed with the stored key. */
static void test_warm_restart_of_a_store_without_compiled_keys(void **state)
{
    (void)state;
    char dir[64];
    gslb_env_t env;
    assert_int_equal(gslb_test_env_open(&env, dir, sizeof(dir), "warm"), 0);
    warm_apply(&env);
    MDB_txn *txn;
    uint16_t tag = 0;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(gslb_env_write_begin(&env, &txn), 0);
    assert_int_equal(
        gslb_keys_add_generated(&env, txn, "warm.example", 13, F->t0, "old", &tag, &eb), 0);
    uint8_t key[260];
    int kl = gslb_ans_key((const uint8_t *)"\4warm\7example", 14, GSLB_ANS_SIGNING_KEYS, key,
                          sizeof(key));
    MDB_val k = {(size_t)kl, key};
    assert_int_equal(mdb_del(txn, env.dbi[GSLB_DBI_ANSWERS], &k, NULL), 0); /* the old layout */
    assert_int_equal(gslb_env_commit(&env, txn), 0);
    gslb_signer_t s;
    assert_int_equal(gslb_signer_init(&s), 0);
    assert_null(warm_signer_zone(&env, &s));
    assert_int_equal(warm_answer_key_tag(&env), 0); /* unsigned, as the signer sees no key */
    gslb_env_close(&env);

    gslb_env_opts_t o = {.data_dir = dir, .map_size = 64 << 20};
    assert_int_equal(gslb_env_open(&env, &o, &eb), 0);
    warm_apply(&env);
    gslb_signer_zone_t *z = warm_signer_zone(&env, &s);
    assert_non_null(z);
    assert_int_equal(z->keys[z->zsk].key_tag, tag);
    assert_int_equal(warm_answer_key_tag(&env), tag);
    gslb_signer_destroy(&s);
    gslb_env_close(&env);
    assert_int_equal(gslb_test_rmtree(dir), 0);
}

/* Without DO (and for unsigned zones) the answer is the one DNSSEC-off gives. */
static void test_without_do_byte_identical(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint16_t type;
        int edns;
        uint16_t flags;
    } qs[] = {
        {"v4." ZONE, GSLB_RR_A, 0, 0},
        {"v4." ZONE, GSLB_RR_AAAA, 1232, 0},
        {"nope." ZONE, GSLB_RR_A, 1232, 0},
        {ZONE, GSLB_RR_NS, 0, 0},
        {ZONE, GSLB_RR_DNSKEY, 1232, 0},
        {"ent." ZONE, GSLB_RR_TXT, 0, 0},
        {"www." ED_ZONE, GSLB_RR_A, 1232, 0},
        {"www." PLAIN, GSLB_RR_A, 1232, GSLB_EDNS_DO},
        {"x." PLAIN, GSLB_RR_A, 1232, GSLB_EDNS_DO},
        {"www." ZONE, GSLB_RR_NSEC, 1232, 0},
    };
    static uint8_t a[65535], b[65535];
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        qopt_t o = {qs[i].edns, qs[i].flags};
        size_t na =
            answer_with(&F->ctx, qs[i].name, qs[i].type, &o, GSLB_TRANSPORT_UDP, a, sizeof(a));
        size_t nb =
            answer_with(&F->plain, qs[i].name, qs[i].type, &o, GSLB_TRANSPORT_UDP, b, sizeof(b));
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na);
    }
}

/* A health change changes the answer; the new set is signed and verifies. */
static void test_answers_change_with_health(void **state)
{
    (void)state;
    MDB_txn *w;
    gslb_addr_t addr;
    assert_int_equal(gslb_addr_parse("10.0.0.3", &addr), 0);
    assert_int_equal(gslb_env_write_begin(&F->env, &w), 0);
    gslb_backend_rec_t b;
    assert_int_equal(gslb_store_backend_get(&F->env, w, "www." ZONE, &addr, 80, &b), 0);
    b.agent_health = GSLB_UNHEALTHY;
    assert_int_equal(gslb_store_backend_put(&F->env, w, &b), 0);
    assert_int_equal(gslb_answers_rebuild_domain(&F->env, w, "www." ZONE), 0);
    assert_int_equal(gslb_env_commit(&F->env, w), 0);
    ldns_pkt *p = ask("www." ZONE, GSLB_RR_A, &DO);
    assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_A), 2);
    assert_int_equal(verify_pkt(p, ZONE), 1);
    ldns_pkt_free(p);
    assert_int_equal(gslb_env_write_begin(&F->env, &w), 0);
    b.agent_health = GSLB_HEALTHY;
    assert_int_equal(gslb_store_backend_put(&F->env, w, &b), 0);
    assert_int_equal(gslb_answers_rebuild_domain(&F->env, w, "www." ZONE), 0);
    assert_int_equal(gslb_env_commit(&F->env, w), 0);
    p = ask("www." ZONE, GSLB_RR_A, &DO);
    assert_int_equal(count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_A), 3);
    assert_int_equal(verify_pkt(p, ZONE), 1);
    ldns_pkt_free(p);
}

/* Repeated answers come from the cache; the counters say so. */
static void test_repeated_answers_hit_the_cache(void **state)
{
    (void)state;
    ldns_pkt_free(ask("www." ZONE, GSLB_RR_A, &DO));
    uint64_t made = F->stats.field[GSLB_ST_DNSSEC_SIGNATURES];
    uint64_t hits = F->stats.field[GSLB_ST_DNSSEC_CACHE_HITS];
    uint64_t answers = F->stats.field[GSLB_ST_DNSSEC_ANSWERS];
    for (int i = 0; i < 10; i++) /* the rotation changes the order, not the set */
        ldns_pkt_free(ask("www." ZONE, GSLB_RR_A, &DO));
    assert_int_equal(F->stats.field[GSLB_ST_DNSSEC_SIGNATURES], made);
    assert_int_equal(F->stats.field[GSLB_ST_DNSSEC_CACHE_HITS], hits + 10);
    assert_int_equal(F->stats.field[GSLB_ST_DNSSEC_ANSWERS], answers + 10);
}

/* After a key change, DO answers are signed by the new key only (no stale
 * signature from the cache). Runs last: it changes the zone's key. */
static void test_key_change_no_stale_signature(void **state)
{
    (void)state;
    ldns_pkt_free(ask("www." ZONE, GSLB_RR_A, &DO)); /* cached with the current key */
    MDB_txn *w;
    uint16_t tag = 0;
    assert_int_equal(gslb_env_write_begin(&F->env, &w), 0);
    add_key(w, ZONE, GSLB_ALG_ECDSAP256SHA256, F->t0 - 100, &tag);
    assert_int_equal(gslb_env_commit(&F->env, w), 0);
    ldns_pkt *p = ask("www." ZONE, GSLB_RR_A, &DO);
    ldns_rr *sig = first_of_type(ldns_pkt_answer(p), LDNS_RR_TYPE_RRSIG);
    assert_int_equal(ldns_rdf2native_int16(ldns_rr_rrsig_keytag(sig)), tag);
    assert_int_equal(verify_pkt(p, ZONE), 1);
    ldns_pkt_free(p);
    ldns_rr_list *keys = served_keys(ZONE);
    assert_int_equal(ldns_rr_list_rr_count(keys), 1);
    assert_int_equal(ldns_calc_keytag(ldns_rr_list_rr(keys, 0)), tag);
    ldns_rr_list_deep_free(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_count),
        cmocka_unit_test(test_validity_window),
        cmocka_unit_test(test_ecdsa_der_to_rs),
        cmocka_unit_test(test_der_to_rs_with_openssl_signatures),
        cmocka_unit_test(test_canonical_rdata_and_order),
        cmocka_unit_test(test_siphash_reference_vector),
        cmocka_unit_test(test_next_name),
        cmocka_unit_test(test_nsec_rdata_matches_ldns),
        cmocka_unit_test(test_signature_verifies_ecdsa),
        cmocka_unit_test(test_signature_verifies_ed25519),
        cmocka_unit_test(test_unsigned_zone_and_bad_key),
        cmocka_unit_test(test_do_a_answer_signed_both_algorithms),
        cmocka_unit_test(test_do_apex_rrsets_and_glue_signed),
        cmocka_unit_test(test_do_nodata_proof),
        cmocka_unit_test(test_do_nonexistent_name_compact_denial),
        cmocka_unit_test(test_do_meta_queries),
        cmocka_unit_test(test_do_truncation_keeps_rrset_and_rrsig_together),
        cmocka_unit_test(test_do_denial_that_does_not_fit_is_truncated),
        cmocka_unit_test(test_signing_keys_entry_is_never_answered),
        cmocka_unit_test(test_warm_restart_of_a_store_without_compiled_keys),
        cmocka_unit_test(test_without_do_byte_identical),
        cmocka_unit_test(test_answers_change_with_health),
        cmocka_unit_test(test_repeated_answers_hit_the_cache),
        cmocka_unit_test(test_cache_hit_miss_and_invalidation),
        cmocka_unit_test(test_key_change_no_stale_signature),
        cmocka_unit_test(test_keys_pending_servfails_do_queries_of_keyless_zones),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
