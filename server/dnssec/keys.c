/*
 * keys.c - DNSSEC key material: generation with OpenSSL EVP, the DNSKEY/DS
 * forms (ldns), validation of imported keys, the convergence rule and loading
 * signing keys. See keys.h and docs/dnssec.md.
 */
#include "keys.h"

#include "cursor.h"
#include "gslb_log.h"
#include "store.h"

#include <ldns/ldns.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P256_POINT_LEN 64 /* X || Y, RFC 6605 */
#define ED25519_PUB_LEN 32
#define GENERATE_ATTEMPTS 8 /* key tag collisions with a stored key are retried */

/* ---- public key field ---------------------------------------------------------- */

static size_t pub_len_for(uint8_t algorithm)
{
    switch (algorithm) {
    case GSLB_ALG_ECDSAP256SHA256:
        return P256_POINT_LEN;
    case GSLB_ALG_ED25519:
        return ED25519_PUB_LEN;
    default:
        return 0;
    }
}

/* The DNSKEY public key field of pkey (of `algorithm`) into out (cap bytes). */
static int dnskey_pub(EVP_PKEY *pkey, uint8_t algorithm, uint8_t *out, size_t cap, size_t *len)
{
    if (algorithm == GSLB_ALG_ED25519) {
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519)
            return GSLB_EINVAL;
        *len = cap;
        if (EVP_PKEY_get_raw_public_key(pkey, out, len) != 1 || *len != ED25519_PUB_LEN)
            return GSLB_ECRYPTO;
        return GSLB_OK;
    }
    if (algorithm != GSLB_ALG_ECDSAP256SHA256 || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
        return GSLB_EINVAL;
    char group[32] = "";
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL) != 1 ||
        strcmp(group, "prime256v1") != 0)
        return GSLB_EINVAL;
    uint8_t point[1 + P256_POINT_LEN];
    size_t plen = 0;
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                        &plen) != 1 ||
        plen != sizeof(point) || point[0] != 0x04 || cap < P256_POINT_LEN)
        return GSLB_ECRYPTO; /* not an uncompressed point */
    memcpy(out, point + 1, P256_POINT_LEN);
    *len = P256_POINT_LEN;
    return GSLB_OK;
}

static EVP_PKEY *new_key(uint8_t algorithm)
{
    if (algorithm == GSLB_ALG_ED25519)
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (pkey)
        EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                       "uncompressed");
    return pkey;
}

/* PKCS#8 (PrivateKeyInfo) DER of pkey into out. */
static int pkcs8_der(EVP_PKEY *pkey, uint8_t *out, size_t cap, uint16_t *len)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
    if (!p8)
        return GSLB_ECRYPTO;
    unsigned char *der = NULL;
    int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (n <= 0)
        return GSLB_ECRYPTO;
    int rc = GSLB_OK;
    if ((size_t)n > cap) {
        rc = GSLB_ERANGE;
    } else {
        memcpy(out, der, (size_t)n);
        *len = (uint16_t)n;
    }
    OPENSSL_clear_free(der, (size_t)n);
    return rc;
}

/* ---- pure functions -------------------------------------------------------------- */

int gslb_keys_dnskey_rdata(const gslb_dnskey_rec_t *k, uint8_t *out, size_t cap)
{
    if (!k || k->pub_len == 0 || k->pub_len > GSLB_KEY_PUB_MAX)
        return GSLB_EINVAL;
    if (cap < 4u + k->pub_len)
        return GSLB_ERANGE;
    gslb_put_be16(out, k->flags);
    out[2] = GSLB_DNSKEY_PROTOCOL;
    out[3] = k->algorithm;
    memcpy(out + 4, k->pub, k->pub_len);
    return 4 + k->pub_len;
}

uint16_t gslb_keys_tag(const uint8_t *rdata, size_t len)
{
    uint32_t ac = 0;
    for (size_t i = 0; i < len; i++)
        ac += (i & 1) ? rdata[i] : (uint32_t)rdata[i] << 8;
    ac += (ac >> 16) & 0xFFFF;
    return (uint16_t)(ac & 0xFFFF);
}

uint16_t gslb_keys_tag_of(const gslb_dnskey_rec_t *k)
{
    uint8_t rdata[GSLB_DNSKEY_RDATA_MAX];
    int n = gslb_keys_dnskey_rdata(k, rdata, sizeof(rdata));
    return n > 0 ? gslb_keys_tag(rdata, (size_t)n) : 0;
}

EVP_PKEY *gslb_keys_private(const gslb_dnskey_rec_t *k)
{
    if (!k || k->priv_len == 0 || k->priv_len > GSLB_KEY_DER_MAX)
        return NULL;
    const unsigned char *p = k->priv_der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, k->priv_len);
    if (!p8)
        return NULL;
    EVP_PKEY *pkey = p == k->priv_der + k->priv_len ? EVP_PKCS82PKEY(p8) : NULL;
    PKCS8_PRIV_KEY_INFO_free(p8);
    return pkey;
}

int gslb_keys_generate(const char *zone, uint8_t algorithm, int64_t now, const char *origin_node,
                       gslb_dnskey_rec_t *out, gslb_errbuf_t *eb)
{
    memset(out, 0, sizeof(*out));
    if (pub_len_for(algorithm) == 0)
        return gslb_errf(eb, GSLB_ENOTSUP, "DNSSEC algorithm %u is not supported (13 or 15)",
                         algorithm);
    if (gslb_name_normalize(zone, out->zone, sizeof(out->zone)) != GSLB_OK)
        return gslb_errf(eb, GSLB_EINVAL, "bad zone name \"%.64s\"", zone);
    EVP_PKEY *pkey = new_key(algorithm);
    if (!pkey)
        return gslb_errf(eb, GSLB_ECRYPTO, "OpenSSL could not generate a key (algorithm %u)",
                         algorithm);
    size_t plen = 0;
    int rc = dnskey_pub(pkey, algorithm, out->pub, sizeof(out->pub), &plen);
    if (rc == GSLB_OK)
        rc = pkcs8_der(pkey, out->priv_der, sizeof(out->priv_der), &out->priv_len);
    EVP_PKEY_free(pkey);
    if (rc != GSLB_OK) {
        OPENSSL_cleanse(out, sizeof(*out));
        return gslb_errf(eb, rc, "cannot encode the generated key: %s", gslb_strerror(rc));
    }
    out->pub_len = (uint16_t)plen;
    out->algorithm = algorithm;
    out->role = GSLB_KEY_CSK;
    out->state = GSLB_KEY_ACTIVE;
    out->flags = GSLB_DNSKEY_FLAGS_CSK;
    out->created = now;
    snprintf(out->origin_node, sizeof(out->origin_node), "%s", origin_node ? origin_node : "");
    out->key_tag = gslb_keys_tag_of(out);
    return GSLB_OK;
}

static int check_fields(const gslb_dnskey_rec_t *k, gslb_errbuf_t *eb)
{
    char norm[GSLB_NAME_MAX];
    if (k->zone[0] == '\0' || gslb_name_normalize(k->zone, norm, sizeof(norm)) != GSLB_OK ||
        strcmp(norm, k->zone) != 0)
        return gslb_errf(eb, GSLB_EINVAL, "bad zone name");
    size_t want = pub_len_for(k->algorithm);
    if (want == 0)
        return gslb_errf(eb, GSLB_EINVAL, "unsupported algorithm %u", k->algorithm);
    if (k->flags != 256 && k->flags != GSLB_DNSKEY_FLAGS_CSK)
        return gslb_errf(eb, GSLB_EINVAL, "DNSKEY flags %u (expected 256 or 257)", k->flags);
    if (k->role > GSLB_KEY_ZSK || k->state > GSLB_KEY_RETIRED)
        return gslb_errf(eb, GSLB_EINVAL, "role or state out of range");
    if (k->pub_len != want)
        return gslb_errf(eb, GSLB_EINVAL, "public key is %u bytes (algorithm %u needs %zu)",
                         k->pub_len, k->algorithm, want);
    uint16_t tag = gslb_keys_tag_of(k);
    if (tag != k->key_tag)
        return gslb_errf(eb, GSLB_EINVAL, "key tag %u does not match the public key (tag %u)",
                         k->key_tag, tag);
    return GSLB_OK;
}

int gslb_keys_validate(const gslb_dnskey_rec_t *k, gslb_errbuf_t *eb)
{
    int rc = check_fields(k, eb);
    if (rc != GSLB_OK)
        return rc;
    EVP_PKEY *pkey = gslb_keys_private(k);
    if (!pkey)
        return gslb_errf(eb, GSLB_EINVAL, "key %u: private key is not PKCS#8 DER", k->key_tag);
    uint8_t pub[GSLB_KEY_PUB_MAX];
    size_t plen = 0;
    rc = dnskey_pub(pkey, k->algorithm, pub, sizeof(pub), &plen);
    EVP_PKEY_free(pkey);
    if (rc != GSLB_OK)
        return gslb_errf(eb, GSLB_EINVAL, "key %u: private key is not an algorithm %u key",
                         k->key_tag, k->algorithm);
    if (plen != k->pub_len || CRYPTO_memcmp(pub, k->pub, plen) != 0)
        return gslb_errf(eb, GSLB_EINVAL, "key %u: private key does not match the public key",
                         k->key_tag);
    return GSLB_OK;
}

/* ldns text of rr without comments, tabs turned into spaces, no newline. */
static int rr_text(const ldns_rr *rr, char *out, size_t cap)
{
    char *s = ldns_rr2str_fmt(ldns_output_format_nocomments, rr);
    if (!s)
        return GSLB_ENOMEM;
    size_t n = strcspn(s, "\n");
    s[n] = '\0';
    for (char *p = s; *p; p++)
        if (*p == '\t')
            *p = ' ';
    int rc = n < cap ? GSLB_OK : GSLB_ERANGE;
    if (rc == GSLB_OK)
        memcpy(out, s, n + 1);
    free(s);
    return rc;
}

static ldns_rr *dnskey_ldns(const gslb_dnskey_rec_t *k, uint32_t ttl)
{
    uint8_t rdata[GSLB_DNSKEY_RDATA_MAX];
    int n = gslb_keys_dnskey_rdata(k, rdata, sizeof(rdata));
    char b64[2 * GSLB_KEY_PUB_MAX], line[GSLB_NAME_MAX + 3 * GSLB_KEY_PUB_MAX];
    if (n < 0)
        return NULL;
    EVP_EncodeBlock((unsigned char *)b64, k->pub, k->pub_len);
    snprintf(line, sizeof(line), "%s. %u IN DNSKEY %u %u %u %s", k->zone, ttl, k->flags,
             GSLB_DNSKEY_PROTOCOL, k->algorithm, b64);
    ldns_rr *rr = NULL;
    if (ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL) != LDNS_STATUS_OK)
        return NULL;
    return rr;
}

int gslb_keys_present(const gslb_dnskey_rec_t *k, uint32_t ttl, char *dnskey, size_t dnskey_cap,
                      char *ds, size_t ds_cap)
{
    ldns_rr *key = dnskey_ldns(k, ttl);
    if (!key)
        return GSLB_EINVAL;
    int rc = dnskey ? rr_text(key, dnskey, dnskey_cap) : GSLB_OK;
    if (rc == GSLB_OK && ds) {
        ldns_rr *d = ldns_key_rr2ds(key, LDNS_SHA256);
        rc = d ? rr_text(d, ds, ds_cap) : GSLB_ECRYPTO;
        ldns_rr_free(d);
    }
    ldns_rr_free(key);
    return rc;
}

int gslb_keys_compare(const gslb_dnskey_rec_t *a, const gslb_dnskey_rec_t *b)
{
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    if (a->key_tag != b->key_tag)
        return a->key_tag < b->key_tag ? -1 : 1;
    if (a->pub_len != b->pub_len)
        return a->pub_len < b->pub_len ? -1 : 1;
    return memcmp(a->pub, b->pub, a->pub_len);
}

/* ---- store operations -------------------------------------------------------------- */

static int count_cb(const gslb_dnskey_rec_t *k, void *ctx)
{
    (void)k;
    (*(int *)ctx)++;
    return 0;
}

int gslb_keys_count(gslb_env_t *e, MDB_txn *txn, const char *zone)
{
    int n = 0;
    int rc = gslb_store_foreach_dnskey(e, txn, zone, count_cb, &n);
    return rc ? rc : n;
}

/* The zone's keys, read in full (they are few): the converge working set. */
typedef struct keyset {
    gslb_dnskey_rec_t *keys;
    size_t count, cap;
    int error;
} keyset_t;

static int collect_cb(const gslb_dnskey_rec_t *k, void *ctx)
{
    keyset_t *s = ctx;
    if (s->count == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4;
        gslb_dnskey_rec_t *n = realloc(s->keys, ncap * sizeof(*n));
        if (!n)
            return GSLB_ENOMEM;
        s->keys = n;
        s->cap = ncap;
    }
    s->keys[s->count++] = *k;
    return 0;
}

static void keyset_free(keyset_t *s)
{
    if (s->keys)
        OPENSSL_cleanse(s->keys, s->cap * sizeof(*s->keys));
    free(s->keys);
    memset(s, 0, sizeof(*s));
}

/* Index of the signing key of the set under the convergence rule. */
static size_t pick_signer(const keyset_t *s)
{
    size_t best = 0;
    for (size_t i = 1; i < s->count; i++)
        if (gslb_keys_compare(&s->keys[i], &s->keys[best]) < 0)
            best = i;
    return best;
}

/* Puts the key in its new state, or deletes it when retired and old. */
static int settle_key(gslb_env_t *e, MDB_txn *txn, gslb_dnskey_rec_t *k, uint8_t state, int64_t now,
                      bool *changed)
{
    if (state == GSLB_KEY_RETIRED && now - k->created > GSLB_KEYS_RETIRED_KEEP_S) {
        gslb_info("dnssec: %s: purging retired key %u (created %lld, origin %s)", k->zone,
                  k->key_tag, (long long)k->created, k->origin_node);
        *changed = true;
        return gslb_store_dnskey_del(e, txn, k->zone, k->key_tag);
    }
    if (k->state == state)
        return GSLB_OK;
    gslb_info("dnssec: %s: key %u (origin %s) %s -> %s", k->zone, k->key_tag, k->origin_node,
              gslb_key_state_name(k->state), gslb_key_state_name(state));
    k->state = state;
    *changed = true;
    return gslb_store_dnskey_put(e, txn, k);
}

int gslb_keys_converge(gslb_env_t *e, MDB_txn *txn, const char *zone, int64_t now, bool *changed)
{
    keyset_t s = {0};
    bool any = false;
    int rc = gslb_store_foreach_dnskey(e, txn, zone, collect_cb, &s);
    if (rc == GSLB_OK && s.count > 0) {
        size_t signer = pick_signer(&s);
        for (size_t i = 0; rc == GSLB_OK && i < s.count; i++)
            rc = settle_key(e, txn, &s.keys[i], i == signer ? GSLB_KEY_ACTIVE : GSLB_KEY_RETIRED,
                            now, &any);
    }
    if (rc == GSLB_OK && any)
        rc = gslb_answers_rebuild_zone_keys(e, txn, zone);
    keyset_free(&s);
    if (changed)
        *changed = any;
    return rc;
}

int gslb_keys_retire_all(gslb_env_t *e, MDB_txn *txn, bool *changed)
{
    keyset_t s = {0};
    bool any = false;
    int rc = gslb_store_foreach_dnskey(e, txn, NULL, collect_cb, &s);
    for (size_t i = 0; rc == GSLB_OK && i < s.count; i++) {
        gslb_dnskey_rec_t *k = &s.keys[i];
        if (k->state == GSLB_KEY_RETIRED)
            continue;
        k->state = GSLB_KEY_RETIRED;
        any = true;
        gslb_info("dnssec: %s: key %u retired (overwatch.dnssec.enabled is false)", k->zone,
                  k->key_tag);
        rc = gslb_store_dnskey_put(e, txn, k);
        if (rc == GSLB_OK)
            rc = gslb_answers_rebuild_zone_keys(e, txn, k->zone);
    }
    keyset_free(&s);
    if (changed)
        *changed = any;
    return rc;
}

int gslb_keys_import(gslb_env_t *e, MDB_txn *txn, const gslb_dnskey_rec_t *k, bool *added,
                     gslb_errbuf_t *eb)
{
    *added = false;
    int rc = gslb_keys_validate(k, eb);
    if (rc != GSLB_OK)
        return rc;
    gslb_dnskey_rec_t *old = malloc(sizeof(*old));
    if (!old)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    rc = gslb_store_dnskey_get(e, txn, k->zone, k->key_tag, old);
    if (rc == GSLB_OK) {
        bool same = old->pub_len == k->pub_len && memcmp(old->pub, k->pub, k->pub_len) == 0 &&
                    old->algorithm == k->algorithm && old->flags == k->flags;
        rc = same ? GSLB_OK
                  : gslb_errf(eb, GSLB_EEXIST,
                              "key tag %u of %s collides with a different stored key", k->key_tag,
                              k->zone);
    } else if (rc == GSLB_ENOENT) {
        int n = gslb_keys_count(e, txn, k->zone);
        if (n >= GSLB_KEYS_MAX_PER_ZONE) {
            rc = gslb_errf(eb, GSLB_ERANGE, "%s already has %d keys: key %u not imported", k->zone,
                           n, k->key_tag);
        } else if (n < 0) {
            rc = gslb_errf(eb, n, "cannot count the keys of %s: %s", k->zone, gslb_strerror(n));
        } else {
            gslb_dnskey_rec_t *copy = old; /* reuse the buffer */
            *copy = *k;
            copy->state = GSLB_KEY_RETIRED; /* until the convergence rule decides */
            rc = gslb_store_dnskey_put(e, txn, copy);
            if (rc != GSLB_OK)
                gslb_errf(eb, rc, "cannot store key %u of %s: %s", k->key_tag, k->zone,
                          gslb_strerror(rc));
            *added = rc == GSLB_OK;
        }
    } else {
        gslb_errf(eb, rc, "cannot read the keys of %s: %s", k->zone, gslb_strerror(rc));
    }
    OPENSSL_cleanse(old, sizeof(*old));
    free(old);
    return rc;
}

int gslb_keys_add_generated(gslb_env_t *e, MDB_txn *txn, const char *zone, uint8_t algorithm,
                            int64_t now, const char *origin_node, uint16_t *key_tag,
                            gslb_errbuf_t *eb)
{
    gslb_dnskey_rec_t *k = malloc(sizeof(*k));
    if (!k)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    int rc = GSLB_EEXIST;
    for (int attempt = 0; attempt < GENERATE_ATTEMPTS && rc == GSLB_EEXIST; attempt++) {
        rc = gslb_keys_generate(zone, algorithm, now, origin_node, k, eb);
        if (rc != GSLB_OK)
            break;
        gslb_dnskey_rec_t *old = malloc(sizeof(*old));
        rc = old ? gslb_store_dnskey_get(e, txn, k->zone, k->key_tag, old) : GSLB_ENOMEM;
        if (old)
            OPENSSL_cleanse(old, sizeof(*old));
        free(old);
        if (rc == GSLB_OK)
            rc = GSLB_EEXIST; /* tag taken: generate another key */
        else if (rc == GSLB_ENOENT)
            rc = gslb_store_dnskey_put(e, txn, k);
    }
    if (rc == GSLB_OK) {
        gslb_info("dnssec: %s: generated key %u (algorithm %u, flags %u) on %s", k->zone,
                  k->key_tag, k->algorithm, k->flags, k->origin_node);
        if (key_tag)
            *key_tag = k->key_tag;
        rc = gslb_keys_converge(e, txn, k->zone, now, NULL);
        if (rc == GSLB_OK)
            rc = gslb_answers_rebuild_zone_keys(e, txn, k->zone);
    }
    if (rc != GSLB_OK && eb && !eb->msg[0])
        gslb_errf(eb, rc, "cannot add a key to %s: %s", zone, gslb_strerror(rc));
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
    return rc;
}

/* ---- signing keys -------------------------------------------------------------------- */

typedef struct load_ctx {
    gslb_signing_key_t *out;
    size_t cap, n;
} load_ctx_t;

static int load_cb(const gslb_dnskey_rec_t *k, void *ctx)
{
    load_ctx_t *c = ctx;
    if (k->state != GSLB_KEY_ACTIVE || c->n == c->cap)
        return 0;
    EVP_PKEY *pkey = gslb_keys_private(k);
    if (!pkey) {
        gslb_warn("dnssec: %s: active key %u has an unreadable private key; not signing with it",
                  k->zone, k->key_tag);
        return 0;
    }
    gslb_signing_key_t *s = &c->out[c->n++];
    memset(s, 0, sizeof(*s));
    s->rec = *k;
    OPENSSL_cleanse(s->rec.priv_der, sizeof(s->rec.priv_der));
    s->rec.priv_len = 0;
    s->pkey = pkey;
    s->key_tag = k->key_tag;
    s->algorithm = k->algorithm;
    s->flags = k->flags;
    return 0;
}

int gslb_keys_load_signing(gslb_env_t *e, MDB_txn *txn, const char *zone, gslb_signing_key_t *out,
                           size_t cap, size_t *n)
{
    load_ctx_t c = {.out = out, .cap = cap};
    int rc = gslb_store_foreach_dnskey(e, txn, zone, load_cb, &c);
    if (rc != GSLB_OK) {
        for (size_t i = 0; i < c.n; i++)
            gslb_signing_key_clear(&out[i]);
        c.n = 0;
    }
    *n = c.n;
    return rc;
}

void gslb_signing_key_clear(gslb_signing_key_t *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k, sizeof(*k));
}
