/*
 * test_keys.c - DNSSEC key material (server/keys.h) and the export parser of
 * the key sync (server/keysync.h) against real OpenSSL, ldns and LMDB:
 * generation for algorithms 13 and 15, key tags against ldns and a published
 * vector, DS against an independent SHA-256, the convergence rule (order,
 * ties, purge, disable/enable), import validation, the compiled DNSKEY RRset,
 * and signing with the loaded key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_tmpstore.h"

#include "answers.h"
#include "env.h"
#include "keys.h"
#include "keysync.h"
#include "storage_samples.h"
#include "store.h"

#include <endian.h>
#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZONE "gslb.example.com"
#define T0 1736937000 /* 2025-01-15T10:30:00Z */
#define DAY 86400

typedef struct fixture {
    char dir[64];
    gslb_env_t env;
    MDB_txn *txn;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (gslb_test_env_open(&f->env, f->dir, sizeof(f->dir), "keys") != 0 ||
        gslb_env_write_begin(&f->env, &f->txn))
        return -1;
    gslb_zone_rec_t z = sample_zone(ZONE);
    if (gslb_store_zone_put(&f->env, f->txn, &z) || gslb_answers_rebuild_all(&f->env, f->txn))
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

static gslb_dnskey_rec_t gen(uint8_t alg, int64_t created, const char *node)
{
    gslb_dnskey_rec_t k;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(gslb_keys_generate(ZONE, alg, created, node, &k, &eb), GSLB_OK);
    return k;
}

static ldns_rr *ldns_dnskey(const gslb_dnskey_rec_t *k)
{
    char text[GSLB_KEYS_TEXT_MAX];
    assert_int_equal(gslb_keys_present(k, 3600, text, sizeof(text), NULL, 0), GSLB_OK);
    ldns_rr *rr = NULL;
    assert_int_equal(ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL), LDNS_STATUS_OK);
    return rr;
}

/* ---- generation ------------------------------------------------------------------ */

static void check_generated(uint8_t alg, size_t pub_len, int evp_id)
{
    gslb_dnskey_rec_t k = gen(alg, T0, "node-a");
    gslb_errbuf_t eb = {{0}};
    assert_string_equal(k.zone, ZONE);
    assert_int_equal(k.algorithm, alg);
    assert_int_equal(k.flags, 257);
    assert_int_equal(k.role, GSLB_KEY_CSK);
    assert_int_equal(k.state, GSLB_KEY_ACTIVE);
    assert_int_equal(k.pub_len, pub_len);
    assert_int_equal(k.created, T0);
    assert_string_equal(k.origin_node, "node-a");
    assert_int_equal(gslb_keys_validate(&k, &eb), GSLB_OK);
    EVP_PKEY *p = gslb_keys_private(&k);
    assert_non_null(p);
    assert_int_equal(EVP_PKEY_get_base_id(p), evp_id);
    EVP_PKEY_free(p);
    /* two keys are different keys */
    gslb_dnskey_rec_t k2 = gen(alg, T0, "node-a");
    assert_memory_not_equal(k.pub, k2.pub, pub_len);
    /* the key tag is the one ldns computes for the DNSKEY */
    ldns_rr *rr = ldns_dnskey(&k);
    assert_int_equal(ldns_calc_keytag(rr), k.key_tag);
    assert_int_equal(ldns_rdf2native_int8(ldns_rr_rdf(rr, 2)), alg);
    ldns_rr_free(rr);
}

static void test_generate_ecdsap256(void **state)
{
    (void)state;
    check_generated(GSLB_ALG_ECDSAP256SHA256, 64, EVP_PKEY_EC);
}

static void test_generate_ed25519(void **state)
{
    (void)state;
    check_generated(GSLB_ALG_ED25519, 32, EVP_PKEY_ED25519);
}

static void test_generate_rejects_unknown_algorithm(void **state)
{
    (void)state;
    gslb_dnskey_rec_t k;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(gslb_keys_generate(ZONE, 8, T0, "n", &k, &eb), GSLB_ENOTSUP);
    assert_non_null(strstr(eb.msg, "algorithm 8"));
}

/* ---- key tag and DS ------------------------------------------------------------------ */

static void test_key_tag_matches_ldns_and_published_vector(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        gslb_dnskey_rec_t k = gen(i % 2 ? GSLB_ALG_ED25519 : GSLB_ALG_ECDSAP256SHA256, T0, "n");
        ldns_rr *rr = ldns_dnskey(&k);
        assert_int_equal(gslb_keys_tag_of(&k), ldns_calc_keytag(rr));
        ldns_rr_free(rr);
    }
    /* the root zone's KSK-2017 has key tag 20326 */
    static const char ksk2017[] =
        "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5e"
        "mLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0"
        "jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uT"
        "IdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1A"
        "kUTV74bU=";
    uint8_t rdata[512] = {0x01, 0x01, 3, 8};
    int n = EVP_DecodeBlock(rdata + 4, (const unsigned char *)ksk2017, (int)strlen(ksk2017));
    assert_true(n > 0);
    assert_int_equal(gslb_keys_tag(rdata, 4 + (size_t)n - 1 /* one '=' of padding */), 20326);
}

static void test_ds_is_sha256_of_owner_and_rdata(void **state)
{
    (void)state;
    gslb_dnskey_rec_t k = gen(GSLB_ALG_ECDSAP256SHA256, T0, "n");
    char dnskey[GSLB_KEYS_TEXT_MAX], ds[GSLB_KEYS_TEXT_MAX];
    assert_int_equal(gslb_keys_present(&k, 3600, dnskey, sizeof(dnskey), ds, sizeof(ds)), GSLB_OK);
    /* independent digest: SHA-256(owner wire name | DNSKEY rdata) (RFC 4509) */
    uint8_t buf[512];
    int wl = gslb_ans_name_to_wire(ZONE, buf, sizeof(buf));
    int rl = gslb_keys_dnskey_rdata(&k, buf + wl, sizeof(buf) - (size_t)wl);
    uint8_t md[32];
    unsigned mdlen = 0;
    assert_true(EVP_Digest(buf, (size_t)(wl + rl), md, &mdlen, EVP_sha256(), NULL));
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    char want[GSLB_KEYS_TEXT_MAX];
    snprintf(want, sizeof(want), "%s. 3600 IN DS %u 13 2 %s", ZONE, k.key_tag, hex);
    assert_string_equal(ds, want);
    assert_non_null(strstr(dnskey, "IN DNSKEY 257 3 13 "));
    assert_null(strchr(dnskey, '\t'));
    assert_null(strchr(dnskey, ';'));
}

/* ---- convergence rule ----------------------------------------------------------------- */

static void put_key(fixture_t *f, gslb_dnskey_rec_t *k, uint8_t state)
{
    k->state = state;
    assert_int_equal(gslb_store_dnskey_put(&f->env, f->txn, k), GSLB_OK);
}

static gslb_dnskey_rec_t stored(fixture_t *f, uint16_t tag)
{
    gslb_dnskey_rec_t k;
    assert_int_equal(gslb_store_dnskey_get(&f->env, f->txn, ZONE, tag, &k), GSLB_OK);
    return k;
}

/* The DNSKEY RRset compiled at the apex: number of records, first rdata into rd. */
static int dnskey_rrset(fixture_t *f, uint8_t *rd, size_t *rdlen, uint32_t *ttl)
{
    uint8_t wire[256], key[260];
    int n = gslb_ans_name_to_wire(ZONE, wire, sizeof(wire));
    int kl = gslb_ans_key(wire, (size_t)n, 48, key, sizeof(key));
    MDB_val v;
    int kind = gslb_ans_lookup(f->txn, f->env.dbi[GSLB_DBI_ANSWERS], key, (size_t)kl, &v);
    if (kind == GSLB_ENOENT)
        return 0;
    assert_int_equal(kind, GSLB_ANS_KIND_STATIC);
    gslb_ans_static_t h;
    memcpy(&h, v.mv_data, sizeof(h));
    *ttl = le32toh(h.ttl);
    uint16_t len;
    memcpy(&len, (uint8_t *)v.mv_data + sizeof(h), 2);
    *rdlen = le16toh(len);
    memcpy(rd, (uint8_t *)v.mv_data + sizeof(h) + 2, *rdlen);
    return le16toh(h.count);
}

/* The signing keys compiled at the apex (answers.h GSLB_ANS_SIGNING_KEYS):
 * number of keys (0 when the entry is absent); the first one into *first. */
static int signing_keys(fixture_t *f, gslb_ans_key_view_t *first)
{
    uint8_t wire[256], key[260];
    int n = gslb_ans_name_to_wire(ZONE, wire, sizeof(wire));
    int kl = gslb_ans_key(wire, (size_t)n, GSLB_ANS_SIGNING_KEYS, key, sizeof(key));
    MDB_val v;
    int kind = gslb_ans_lookup(f->txn, f->env.dbi[GSLB_DBI_ANSWERS], key, (size_t)kl, &v);
    if (kind == GSLB_ENOENT)
        return 0;
    assert_int_equal(kind, GSLB_ANS_KIND_KEYS);
    size_t pos = 0;
    int count = 0;
    gslb_ans_key_view_t k;
    while (gslb_ans_keys_next(&v, &pos, &k)) {
        if (count++ == 0)
            *first = k;
    }
    assert_int_equal(pos, v.mv_size);
    return count;
}

/* The compiled signing key is the stored key, private key included. */
static void assert_signing_key_is(fixture_t *f, const gslb_dnskey_rec_t *want)
{
    gslb_ans_key_view_t k;
    assert_int_equal(signing_keys(f, &k), 1);
    assert_int_equal(k.key_tag, want->key_tag);
    assert_int_equal(k.algorithm, want->algorithm);
    assert_int_equal(k.flags, want->flags);
    assert_int_equal(k.role, want->role);
    assert_int_equal(k.pub_len, want->pub_len);
    assert_memory_equal(k.pub, want->pub, want->pub_len);
    assert_int_equal(k.priv_len, want->priv_len);
    assert_memory_equal(k.priv, want->priv_der, want->priv_len);
}

static void test_converge_picks_oldest_then_lowest_tag(void **state)
{
    fixture_t *f = *state;
    gslb_dnskey_rec_t young = gen(13, T0 + 10, "b"), old1 = gen(13, T0, "a"),
                      old2 = gen(13, T0, "c");
    gslb_dnskey_rec_t *low = old1.key_tag < old2.key_tag ? &old1 : &old2;
    gslb_dnskey_rec_t *high = low == &old1 ? &old2 : &old1;
    put_key(f, &young, GSLB_KEY_ACTIVE);
    put_key(f, high, GSLB_KEY_ACTIVE);
    put_key(f, low, GSLB_KEY_RETIRED);
    bool changed = false;
    assert_int_equal(gslb_keys_converge(&f->env, f->txn, ZONE, T0 + 20, &changed), GSLB_OK);
    assert_true(changed);
    assert_int_equal(stored(f, low->key_tag).state, GSLB_KEY_ACTIVE);
    assert_int_equal(stored(f, high->key_tag).state, GSLB_KEY_RETIRED);
    assert_int_equal(stored(f, young.key_tag).state, GSLB_KEY_RETIRED);
    /* the DNSKEY RRset holds exactly the active key, with the zone's NS TTL */
    uint8_t rd[256], want[256];
    size_t rdlen = 0;
    uint32_t ttl = 0;
    assert_int_equal(dnskey_rrset(f, rd, &rdlen, &ttl), 1);
    int wl = gslb_keys_dnskey_rdata(low, want, sizeof(want));
    assert_int_equal(rdlen, wl);
    assert_memory_equal(rd, want, rdlen);
    assert_int_equal(ttl, sample_zone(ZONE).ns_ttl);
    /* applying the rule again changes nothing */
    assert_int_equal(gslb_keys_converge(&f->env, f->txn, ZONE, T0 + 20, &changed), GSLB_OK);
    assert_false(changed);
}

static void test_compare_breaks_full_ties_by_public_key(void **state)
{
    (void)state;
    gslb_dnskey_rec_t a = gen(13, T0, "a"), b = a;
    b.pub[63] ^= 1;
    int expect = a.pub[63] < b.pub[63] ? -1 : 1;
    assert_true((gslb_keys_compare(&a, &b) < 0) == (expect < 0));
    assert_true((gslb_keys_compare(&b, &a) < 0) == (expect > 0));
    assert_int_equal(gslb_keys_compare(&a, &a), 0);
}

/* Two nodes that generated their own keys converge on the same one whatever
 * order they learn the keys in. */
static void test_two_nodes_converge_on_the_older_key(void **state)
{
    fixture_t *f = *state;
    gslb_dnskey_rec_t mine = gen(13, T0 + 5, "node-b"), theirs = gen(13, T0, "node-a");
    gslb_errbuf_t eb = {{0}};
    put_key(f, &mine, GSLB_KEY_ACTIVE);
    bool added = false;
    assert_int_equal(gslb_keys_import(&f->env, f->txn, &theirs, &added, &eb), GSLB_OK);
    assert_true(added);
    assert_int_equal(stored(f, theirs.key_tag).state, GSLB_KEY_RETIRED); /* until converge */
    assert_int_equal(gslb_keys_converge(&f->env, f->txn, ZONE, T0 + 10, NULL), GSLB_OK);
    assert_int_equal(stored(f, theirs.key_tag).state, GSLB_KEY_ACTIVE);
    assert_int_equal(stored(f, mine.key_tag).state, GSLB_KEY_RETIRED);
    /* importing a key that is already known adds nothing */
    assert_int_equal(gslb_keys_import(&f->env, f->txn, &theirs, &added, &eb), GSLB_OK);
    assert_false(added);
}

static void test_retired_keys_are_purged_after_seven_days(void **state)
{
    fixture_t *f = *state;
    gslb_dnskey_rec_t signer = gen(13, T0 - 30 * DAY, "a"), old = gen(13, T0 - 8 * DAY, "b"),
                      recent = gen(13, T0 - 6 * DAY, "c");
    put_key(f, &signer, GSLB_KEY_ACTIVE);
    put_key(f, &old, GSLB_KEY_RETIRED);
    put_key(f, &recent, GSLB_KEY_ACTIVE);
    assert_int_equal(gslb_keys_converge(&f->env, f->txn, ZONE, T0, NULL), GSLB_OK);
    gslb_dnskey_rec_t k;
    assert_int_equal(gslb_store_dnskey_get(&f->env, f->txn, ZONE, old.key_tag, &k), GSLB_ENOENT);
    assert_int_equal(stored(f, recent.key_tag).state, GSLB_KEY_RETIRED);
    assert_int_equal(stored(f, signer.key_tag).state, GSLB_KEY_ACTIVE); /* old but the signer */
    assert_int_equal(gslb_keys_count(&f->env, f->txn, ZONE), 2);
}

static void test_disable_retires_all_and_enable_restores(void **state)
{
    fixture_t *f = *state;
    gslb_dnskey_rec_t a = gen(13, T0, "a"), b = gen(13, T0 + 1, "b"), c = gen(15, T0, "c");
    put_key(f, &a, GSLB_KEY_ACTIVE);
    put_key(f, &b, GSLB_KEY_RETIRED);
    put_key(f, &c, GSLB_KEY_PUBLISHED);
    assert_int_equal(gslb_answers_rebuild_zone_keys(&f->env, f->txn, ZONE), GSLB_OK);
    uint8_t rd[256];
    size_t rdlen;
    uint32_t ttl;
    assert_int_equal(dnskey_rrset(f, rd, &rdlen, &ttl), 2); /* ACTIVE and PUBLISHED */
    assert_signing_key_is(f, &a);                           /* ACTIVE only */
    assert_int_equal(gslb_store_dnskey_del(&f->env, f->txn, ZONE, c.key_tag), GSLB_OK);
    bool changed = false;
    assert_int_equal(gslb_keys_retire_all(&f->env, f->txn, &changed), GSLB_OK);
    assert_true(changed);
    assert_int_equal(stored(f, a.key_tag).state, GSLB_KEY_RETIRED);
    assert_int_equal(dnskey_rrset(f, rd, &rdlen, &ttl), 0);
    gslb_ans_key_view_t none;
    assert_int_equal(signing_keys(f, &none), 0); /* nothing to sign with: entry removed */
    size_t n = 9;
    gslb_signing_key_t sk[2];
    assert_int_equal(gslb_keys_load_signing(&f->env, f->txn, ZONE, sk, 2, &n), GSLB_OK);
    assert_int_equal(n, 0);
    assert_int_equal(gslb_keys_converge(&f->env, f->txn, ZONE, T0 + 2, NULL), GSLB_OK);
    assert_int_equal(stored(f, a.key_tag).state, GSLB_KEY_ACTIVE);
    assert_int_equal(dnskey_rrset(f, rd, &rdlen, &ttl), 1);
    assert_signing_key_is(f, &a);
    /* a full rebuild keeps the DNSKEY RRset and the signing keys */
    assert_int_equal(gslb_answers_rebuild_all(&f->env, f->txn), GSLB_OK);
    assert_int_equal(dnskey_rrset(f, rd, &rdlen, &ttl), 1);
    assert_signing_key_is(f, &a);
}

static void test_add_generated_stores_and_publishes(void **state)
{
    fixture_t *f = *state;
    gslb_errbuf_t eb = {{0}};
    uint16_t tag = 0;
    assert_int_equal(gslb_keys_add_generated(&f->env, f->txn, ZONE, 15, T0, "me", &tag, &eb),
                     GSLB_OK);
    gslb_dnskey_rec_t k = stored(f, tag);
    assert_int_equal(k.state, GSLB_KEY_ACTIVE);
    assert_int_equal(k.algorithm, 15);
    uint8_t rd[256];
    size_t rdlen;
    uint32_t ttl;
    assert_int_equal(dnskey_rrset(f, rd, &rdlen, &ttl), 1);
    assert_int_equal(rd[3], 15);
    assert_signing_key_is(f, &k); /* compiled in the same txn */
}

/* ---- import validation ---------------------------------------------------------------- */

static void expect_rejected(fixture_t *f, const gslb_dnskey_rec_t *k, const char *why)
{
    gslb_errbuf_t eb = {{0}};
    bool added = true;
    assert_int_equal(gslb_keys_import(&f->env, f->txn, k, &added, &eb), GSLB_EINVAL);
    assert_false(added);
    if (!strstr(eb.msg, why))
        fail_msg("expected \"%s\" in \"%s\"", why, eb.msg);
    assert_int_equal(gslb_keys_count(&f->env, f->txn, ZONE), 0);
}

static void test_import_rejects_bad_keys(void **state)
{
    fixture_t *f = *state;
    gslb_dnskey_rec_t good = gen(13, T0, "a"), other = gen(13, T0, "b"), k;

    k = good; /* private key of another key */
    memcpy(k.priv_der, other.priv_der, other.priv_len);
    k.priv_len = other.priv_len;
    expect_rejected(f, &k, "does not match the public key");

    k = good; /* garbage private key */
    memset(k.priv_der, 0x5a, k.priv_len);
    expect_rejected(f, &k, "not PKCS#8");

    k = good; /* truncated DER */
    k.priv_len -= 1;
    expect_rejected(f, &k, "not PKCS#8");

    k = good; /* key tag that does not belong to the public key */
    k.key_tag ^= 1;
    expect_rejected(f, &k, "does not match the public key (tag");

    k = good; /* algorithm 15 label on a P-256 key */
    k.algorithm = 15;
    expect_rejected(f, &k, "public key is 64 bytes");

    k = good; /* unsupported algorithm */
    k.algorithm = 8;
    expect_rejected(f, &k, "unsupported algorithm");

    k = good; /* Ed25519 private key under a P-256 public key */
    gslb_dnskey_rec_t ed = gen(15, T0, "c");
    memcpy(k.priv_der, ed.priv_der, ed.priv_len);
    k.priv_len = ed.priv_len;
    expect_rejected(f, &k, "not an algorithm 13 key");

    k = good; /* bad flags */
    k.flags = 1;
    expect_rejected(f, &k, "flags");

    k = good; /* zone name not normalized */
    snprintf(k.zone, sizeof(k.zone), "GSLB.example.com.");
    expect_rejected(f, &k, "zone");
}

static void test_import_refuses_a_key_tag_collision(void **state)
{
    fixture_t *f = *state;
    /* find two different keys with the same tag (birthday bound: ~300 keys) */
    enum { MAX = 6000 };
    uint16_t *seen = calloc(65536, sizeof(*seen));
    gslb_dnskey_rec_t *keys = calloc(MAX, sizeof(*keys));
    int a = -1, b = -1;
    for (int i = 0; i < MAX && b < 0; i++) {
        keys[i] = gen(13, T0, "x");
        if (seen[keys[i].key_tag]) {
            a = seen[keys[i].key_tag] - 1;
            b = i;
        }
        seen[keys[i].key_tag] = (uint16_t)(i + 1);
    }
    assert_true(b >= 0);
    gslb_errbuf_t eb = {{0}};
    bool added = false;
    assert_int_equal(gslb_keys_import(&f->env, f->txn, &keys[a], &added, &eb), GSLB_OK);
    assert_true(added);
    assert_int_equal(gslb_keys_import(&f->env, f->txn, &keys[b], &added, &eb), GSLB_EEXIST);
    assert_false(added);
    assert_non_null(strstr(eb.msg, "collides"));
    free(seen);
    free(keys);
}

/* ---- export parsing ----------------------------------------------------------------------- */

static char *b64(const uint8_t *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

static void test_parse_export_round_trip_and_garbage(void **state)
{
    (void)state;
    gslb_dnskey_rec_t k = gen(13, T0, "node-a");
    char *pub = b64(k.pub, k.pub_len), *priv = b64(k.priv_der, k.priv_len);
    char body[2048];
    snprintf(body, sizeof(body),
             "{\"version\":1,\"node_id\":\"node-a\",\"keys\":[{\"zone\":\"%s\",\"key_tag\":%u,"
             "\"algorithm\":13,\"role\":\"CSK\",\"state\":\"active\",\"flags\":257,\"created\":%d,"
             "\"origin_node\":\"node-a\",\"public_key\":\"%s\",\"private_key\":\"%s\"}]}",
             ZONE, k.key_tag, T0, pub, priv);
    gslb_dnskey_rec_t *keys = NULL;
    size_t n = 0;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(gslb_keysync_parse_export(body, strlen(body), &keys, &n, &eb), GSLB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(gslb_keys_validate(&keys[0], &eb), GSLB_OK);
    assert_memory_equal(keys[0].pub, k.pub, k.pub_len);
    assert_int_equal(keys[0].priv_len, k.priv_len);
    assert_int_equal(keys[0].created, T0);
    assert_string_equal(keys[0].origin_node, "node-a");
    assert_int_equal(keys[0].state, GSLB_KEY_ACTIVE); /* as exported: tells the peer's signer */
    free(keys);

    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{\"version\":2,\"keys\":[]}",
        "{\"keys\":{}}",
        "{\"keys\":[1]}",
        "{\"keys\":[{\"zone\":\"a.b\"}]}",
        "{\"keys\":[{\"zone\":\"a.b\",\"key_tag\":70000,\"algorithm\":13,\"role\":\"CSK\","
        "\"flags\":257,\"created\":1,\"public_key\":\"AAAA\",\"private_key\":\"AAAA\"}]}",
        "{\"keys\":[{\"zone\":\"a.b\",\"key_tag\":1,\"algorithm\":13,\"role\":\"boss\","
        "\"flags\":257,\"created\":1,\"public_key\":\"AAAA\",\"private_key\":\"AAAA\"}]}",
        "{\"keys\":[{\"zone\":\"a.b\",\"key_tag\":1,\"algorithm\":13,\"role\":\"CSK\","
        "\"flags\":257,\"created\":1,\"public_key\":\"!!!!\",\"private_key\":\"AAAA\"}]}",
        "{\"keys\":[{\"zone\":\"a.b\",\"key_tag\":1,\"algorithm\":13,\"role\":\"CSK\","
        "\"flags\":257,\"created\":1,\"public_key\":\"AAA\",\"private_key\":\"AAAA\"}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        keys = NULL;
        n = 7;
        assert_int_equal(gslb_keysync_parse_export(bad[i], strlen(bad[i]), &keys, &n, &eb),
                         GSLB_EINVAL);
        assert_null(keys);
        assert_int_equal(n, 0);
    }
    /* a peer's body nested deeper than 32 levels is refused before jansson parses it */
    char *deep = calloc(1, 5000);
    memcpy(deep, "{\"keys\":", 8);
    memset(deep + 8, '[', 2000);
    assert_int_equal(gslb_keysync_parse_export(deep, strlen(deep), &keys, &n, &eb), GSLB_EINVAL);
    assert_non_null(strstr(eb.msg, "nested deeper"));
    free(deep);
    /* a public key larger than any DNSKEY field */
    char *huge = calloc(1, 4096);
    memset(huge, 'A', 400);
    snprintf(body, sizeof(body),
             "{\"keys\":[{\"zone\":\"a.b\",\"key_tag\":1,\"algorithm\":13,\"role\":\"CSK\","
             "\"flags\":257,\"created\":1,\"public_key\":\"%s\",\"private_key\":\"AAAA\"}]}",
             huge);
    assert_int_equal(gslb_keysync_parse_export(body, strlen(body), &keys, &n, &eb), GSLB_EINVAL);
    free(huge);
    free(pub);
    free(priv);
}

/* ---- signing key -------------------------------------------------------------------------- */

/* Key sync schedule: 1 s doubling up to poll_interval while not settled. */
static void test_keysync_backoff(void **state)
{
    (void)state;
    const uint64_t poll = 10000;
    uint64_t retry = 0;
    const uint64_t want[] = {1000, 2000, 4000, 8000, 10000, 10000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(gslb_keysync_next_delay(&retry, false, false, poll), want[i]);
    /* our keys changed: back to the first step */
    assert_int_equal(gslb_keysync_next_delay(&retry, false, true, poll), 1000);
    assert_int_equal(gslb_keysync_next_delay(&retry, false, false, poll), 2000);
    /* settled: poll_interval, and the next unsettled round starts over */
    assert_int_equal(gslb_keysync_next_delay(&retry, true, true, poll), poll);
    assert_int_equal(gslb_keysync_next_delay(&retry, false, false, poll), 1000);
    /* a poll_interval below the first step caps every delay */
    retry = 0;
    assert_int_equal(gslb_keysync_next_delay(&retry, false, false, 400), 400);
    assert_int_equal(gslb_keysync_next_delay(&retry, false, false, 400), 400);
    /* the default hour: 1, 2, 4 ... 2048 s, then the hour */
    retry = 0;
    uint64_t d = 0, n = 0;
    while ((d = gslb_keysync_next_delay(&retry, false, false, 3600000)) < 3600000)
        n++;
    assert_int_equal(n, 12);
}

static void test_loaded_signing_key_verifies_with_the_dnskey(void **state)
{
    fixture_t *f = *state;
    gslb_dnskey_rec_t k = gen(13, T0, "a"), r = gen(13, T0 + 1, "b");
    put_key(f, &k, GSLB_KEY_ACTIVE);
    put_key(f, &r, GSLB_KEY_RETIRED);
    gslb_signing_key_t sk[4];
    size_t n = 0;
    assert_int_equal(gslb_keys_load_signing(&f->env, f->txn, ZONE, sk, 4, &n), GSLB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(sk[0].key_tag, k.key_tag);
    assert_int_equal(sk[0].rec.priv_len, 0);
    /* sign with the loaded private key, verify with the public key rebuilt from pub */
    static const uint8_t msg[] = "rrsig data";
    uint8_t sig[128];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, sk[0].pkey), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg)), 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY *pub = ldns_ecdsa2pkey_raw(k.pub, k.pub_len, LDNS_ECDSAP256SHA256);
    assert_non_null(pub);
    md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, siglen, msg, sizeof(msg)), 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pub);
    gslb_signing_key_clear(&sk[0]);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_ecdsap256),
        cmocka_unit_test(test_generate_ed25519),
        cmocka_unit_test(test_generate_rejects_unknown_algorithm),
        cmocka_unit_test(test_key_tag_matches_ldns_and_published_vector),
        cmocka_unit_test(test_ds_is_sha256_of_owner_and_rdata),
        cmocka_unit_test(test_compare_breaks_full_ties_by_public_key),
        cmocka_unit_test(test_parse_export_round_trip_and_garbage),
        cmocka_unit_test(test_keysync_backoff),
        T(test_converge_picks_oldest_then_lowest_tag),
        T(test_two_nodes_converge_on_the_older_key),
        T(test_retired_keys_are_purged_after_seven_days),
        T(test_disable_retires_all_and_enable_restores),
        T(test_add_generated_stores_and_publishes),
        T(test_import_rejects_bad_keys),
        T(test_import_refuses_a_key_tag_collision),
        T(test_loaded_signing_key_verifies_with_the_dnskey),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
