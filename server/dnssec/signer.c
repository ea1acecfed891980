/*
 * signer.c - online DNSSEC signing for one DNS worker (see signer.h).
 */
#include "signer.h"
#include "answers.h"
#include "gslb_log.h"
#include "cursor.h"
#include "dname.h"
#include "gslb_time.h"
#include "records.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INITIAL_RD_CAP 4096
#define INITIAL_RR_CAP 64
#define INITIAL_INPUT_CAP 8192

/* ---- pure helpers ------------------------------------------------------------ */

unsigned gslb_rrsig_labels(const uint8_t *owner, size_t len)
{
    unsigned n = 0;
    size_t pos = 0;
    while (pos < len && owner[pos] != 0) {
        n++;
        pos += 1u + owner[pos];
    }
    bool wildcard = len >= 2 && owner[0] == 1 && owner[1] == '*';
    return wildcard && n > 0 ? n - 1 : n;
}

void gslb_rrsig_window(int64_t now, uint32_t *inception, uint32_t *expiration)
{
    int64_t start = now - (now % 3600) - GSLB_RRSIG_BACKDATE;
    /* RFC 4034 3.1.5: serial number arithmetic, the value is taken modulo 2^32 */
    *inception = (uint32_t)start;
    *expiration = (uint32_t)(start + GSLB_RRSIG_LIFETIME);
}

static bool der_length(const uint8_t *p, size_t len, size_t *pos, size_t *out)
{
    if (*pos >= len)
        return false;
    uint8_t b = p[(*pos)++];
    if (b < 0x80) {
        *out = b;
        return true;
    }
    if (b != 0x81 || *pos >= len)
        return false;
    *out = p[(*pos)++];
    return *out >= 0x80; /* DER: the shortest form */
}

/* One non-negative INTEGER of at most 32 significant bytes, left-padded. */
static bool der_integer(const uint8_t *p, size_t len, size_t *pos, uint8_t out[32])
{
    size_t n;
    if (*pos >= len || p[(*pos)++] != 0x02 || !der_length(p, len, pos, &n) || n == 0 ||
        n > len - *pos)
        return false;
    const uint8_t *v = p + *pos;
    *pos += n;
    if (v[0] & 0x80)
        return false;
    while (n > 0 && v[0] == 0) {
        v++;
        n--;
    }
    if (n > 32)
        return false;
    memset(out, 0, 32 - n);
    memcpy(out + 32 - n, v, n);
    return true;
}

int gslb_ecdsa_der_to_rs(const uint8_t *der, size_t len, uint8_t out[GSLB_SIG_LEN])
{
    size_t pos = 0, seq = 0;
    if (len < 2 || der[pos++] != 0x30 || !der_length(der, len, &pos, &seq) || seq != len - pos)
        return GSLB_EINVAL;
    if (!der_integer(der, len, &pos, out) || !der_integer(der, len, &pos, out + 32) || pos != len)
        return GSLB_EINVAL;
    return GSLB_OK;
}

void gslb_rdata_canonical(uint16_t type, const uint8_t *rd, size_t len, uint8_t *out)
{
    memcpy(out, rd, len);
    unsigned names = type == GSLB_RR_NS ? 1 : type == GSLB_RR_SOA ? 2 : 0;
    size_t pos = 0;
    for (unsigned i = 0; i < names && pos < len; i++) {
        int n = gslb_dname_len(out + pos, len - pos);
        if (n < 0)
            return;
        gslb_dname_lower(out + pos, out + pos, (size_t)n);
        pos += (size_t)n;
    }
}

int gslb_rdata_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static inline uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = rotl64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = rotl64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = rotl64(v2, 32);                                                                       \
    } while (0)

void gslb_siphash128(const uint64_t k[2], const void *data, size_t len, uint64_t out[2])
{
    const uint8_t *p = data;
    uint64_t v0 = 0x736f6d6570736575ull ^ k[0], v1 = 0x646f72616e646f6dull ^ k[1];
    uint64_t v2 = 0x6c7967656e657261ull ^ k[0], v3 = 0x7465646279746573ull ^ k[1];
    v1 ^= 0xee;
    size_t end = len - (len % 8);
    for (size_t i = 0; i < end; i += 8) {
        uint64_t m = gslb_get_le64(p + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)p[end + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xee;
    for (int i = 0; i < 4; i++)
        SIPROUND;
    out[0] = v0 ^ v1 ^ v2 ^ v3;
    v1 ^= 0xdd;
    for (int i = 0; i < 4; i++)
        SIPROUND;
    out[1] = v0 ^ v1 ^ v2 ^ v3;
}

/* ---- one key ------------------------------------------------------------------- */

static bool is_p256(EVP_PKEY *pkey)
{
    char group[64];
    size_t len = 0;
    if (!EVP_PKEY_is_a(pkey, "EC") ||
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) != 1)
        return false;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

int gslb_signer_key_init(gslb_signer_key_t *k, EVP_PKEY *pkey, uint8_t algorithm, uint16_t key_tag,
                         uint16_t flags, gslb_errbuf_t *eb)
{
    memset(k, 0, sizeof(*k));
    k->pkey = pkey;
    k->algorithm = algorithm;
    k->key_tag = key_tag;
    k->flags = flags;
    int rc = GSLB_OK;
    if (algorithm == GSLB_ALG_ECDSAP256SHA256) {
        if (!is_p256(pkey))
            rc = gslb_errf(eb, GSLB_EINVAL, "algorithm 13 needs an EC P-256 key");
        else if (!(k->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) ||
                 EVP_PKEY_sign_init(k->pctx) != 1 || !(k->mctx = EVP_MD_CTX_new()))
            rc = gslb_errf(eb, GSLB_ECRYPTO, "cannot set up an ECDSA signing context");
    } else if (algorithm == GSLB_ALG_ED25519) {
        if (!EVP_PKEY_is_a(pkey, "ED25519"))
            rc = gslb_errf(eb, GSLB_EINVAL, "algorithm 15 needs an Ed25519 key");
        else if (!(k->mctx = EVP_MD_CTX_new()))
            rc = gslb_errf(eb, GSLB_ECRYPTO, "cannot set up an Ed25519 signing context");
    } else {
        rc = gslb_errf(eb, GSLB_ENOTSUP, "algorithm %u is not supported", algorithm);
    }
    if (rc) {
        ERR_clear_error();
        gslb_signer_key_clear(k);
    }
    return rc;
}

void gslb_signer_key_clear(gslb_signer_key_t *k)
{
    EVP_PKEY_CTX_free(k->pctx);
    EVP_MD_CTX_free(k->mctx);
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof(*k));
}

static int sign_ecdsa(gslb_signer_key_t *k, const EVP_MD *sha256, const uint8_t *data, size_t len,
                      uint8_t sig[GSLB_SIG_LEN])
{
    uint8_t digest[32], der[80];
    unsigned dlen = 0;
    size_t slen = sizeof(der);
    if (EVP_DigestInit_ex(k->mctx, sha256, NULL) != 1 ||
        EVP_DigestUpdate(k->mctx, data, len) != 1 ||
        EVP_DigestFinal_ex(k->mctx, digest, &dlen) != 1 || dlen != sizeof(digest) ||
        EVP_PKEY_sign(k->pctx, der, &slen, digest, sizeof(digest)) != 1)
        return GSLB_ECRYPTO;
    return gslb_ecdsa_der_to_rs(der, slen, sig) == GSLB_OK ? GSLB_OK : GSLB_ECRYPTO;
}

static int sign_ed25519(gslb_signer_key_t *k, const uint8_t *data, size_t len,
                        uint8_t sig[GSLB_SIG_LEN])
{
    size_t slen = GSLB_SIG_LEN;
    if (EVP_DigestSignInit_ex(k->mctx, NULL, NULL, NULL, NULL, k->pkey, NULL) != 1 ||
        EVP_DigestSign(k->mctx, sig, &slen, data, len) != 1 || slen != GSLB_SIG_LEN)
        return GSLB_ECRYPTO;
    return GSLB_OK;
}

int gslb_signer_key_sign(gslb_signer_key_t *k, const EVP_MD *sha256, const uint8_t *data,
                         size_t len, uint8_t sig[GSLB_SIG_LEN])
{
    int rc = k->algorithm == GSLB_ALG_ECDSAP256SHA256 ? sign_ecdsa(k, sha256, data, len, sig)
             : k->algorithm == GSLB_ALG_ED25519       ? sign_ed25519(k, data, len, sig)
                                                      : GSLB_ENOTSUP;
    if (rc)
        ERR_clear_error();
    return rc;
}

/* ---- signer life cycle ------------------------------------------------------------ */

static void zone_reset(gslb_signer_zone_t *z)
{
    for (unsigned i = 0; i < z->nkeys; i++)
        gslb_signer_key_clear(&z->keys[i]);
    memset(z, 0, sizeof(*z));
    z->zsk = z->ksk = -1;
}

int gslb_signer_init(gslb_signer_t *s)
{
    memset(s, 0, sizeof(*s));
    s->gen = 1;
    s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    s->zones = calloc(GSLB_SIGNER_ZONE_SLOTS, sizeof(*s->zones));
    s->cache = calloc(GSLB_SIGCACHE_SLOTS, sizeof(*s->cache));
    s->rd_buf = malloc(INITIAL_RD_CAP);
    s->rr = malloc(INITIAL_RR_CAP * sizeof(*s->rr));
    s->input = malloc(INITIAL_INPUT_CAP);
    if (!s->zones || !s->cache || !s->rd_buf || !s->rr || !s->input) {
        gslb_signer_destroy(s);
        return GSLB_ENOMEM;
    }
    if (!s->sha256 || RAND_bytes((unsigned char *)s->hash_key, sizeof(s->hash_key)) != 1) {
        ERR_clear_error();
        gslb_signer_destroy(s);
        return GSLB_ECRYPTO;
    }
    s->rd_cap = INITIAL_RD_CAP;
    s->rr_cap = INITIAL_RR_CAP;
    s->input_cap = INITIAL_INPUT_CAP;
    for (unsigned i = 0; i < GSLB_SIGNER_ZONE_SLOTS; i++)
        zone_reset(&s->zones[i]);
    return GSLB_OK;
}

void gslb_signer_destroy(gslb_signer_t *s)
{
    if (s->zones) {
        for (unsigned i = 0; i < GSLB_SIGNER_ZONE_SLOTS; i++)
            zone_reset(&s->zones[i]);
    }
    EVP_MD_free(s->sha256);
    free(s->zones);
    free(s->cache);
    free(s->rd_buf);
    free(s->rr);
    free(s->input);
    memset(s, 0, sizeof(*s));
}

int64_t gslb_signer_now(const gslb_signer_t *s)
{
    if (s->fixed_now)
        return s->fixed_now;
    return gslb_wall_coarse_s();
}

/* ---- zone keys ------------------------------------------------------------------- */

/* The zone's compiled signing keys in the snapshot (answers.h,
 * GSLB_ANS_SIGNING_KEYS): *keys is empty (mv_size 0) when it has none. */
static int read_signing_keys(gslb_env_t *env, MDB_txn *txn, const uint8_t *apex, size_t apex_len,
                             MDB_val *keys)
{
    uint8_t key[GSLB_DNS_NAME_MAX + 2];
    int klen = gslb_ans_key(apex, apex_len, GSLB_ANS_SIGNING_KEYS, key, sizeof(key));
    if (klen < 0)
        return klen;
    int kind = gslb_ans_lookup(txn, env->dbi[GSLB_DBI_ANSWERS], key, (size_t)klen, keys);
    if (kind == GSLB_ENOENT) {
        *keys = (MDB_val){0, NULL};
        return GSLB_OK;
    }
    if (kind < 0)
        return kind;
    return kind == GSLB_ANS_KIND_KEYS ? GSLB_OK : GSLB_ECORRUPT;
}

/* Fingerprint of the public half of the keys used (changes with any key change). */
static void keys_fingerprint(const gslb_signer_t *s, const MDB_val *keys, uint64_t fp[2])
{
    uint8_t buf[GSLB_SIGNER_ZONE_KEYS * (8 + GSLB_KEY_PUB_MAX)];
    gslb_cur_t c;
    gslb_cur_init(&c, buf, sizeof(buf));
    size_t pos = 0;
    gslb_ans_key_view_t k;
    for (unsigned n = 0; n < GSLB_SIGNER_ZONE_KEYS && gslb_ans_keys_next(keys, &pos, &k); n++) {
        gslb_cur_put_be16(&c, k.key_tag);
        gslb_cur_put_u8(&c, k.algorithm);
        gslb_cur_put_u8(&c, k.role);
        gslb_cur_put_be16(&c, k.flags);
        gslb_cur_put_be16(&c, k.pub_len);
        gslb_cur_put_bytes(&c, k.pub, k.pub_len);
    }
    assert(c.err == 0);
    gslb_siphash128(s->hash_key, buf, c.pos, fp);
}

/* The private key's public half must be the published DNSKEY. */
static bool public_half_matches(EVP_PKEY *pkey, const gslb_dnskey_rec_t *r)
{
    uint8_t buf[160];
    size_t n = 0;
    if (r->algorithm == GSLB_ALG_ECDSAP256SHA256) {
        if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf,
                                            sizeof(buf), &n) != 1)
            return false;
        return n == 65 && buf[0] == 4 && r->pub_len == 64 && memcmp(buf + 1, r->pub, 64) == 0;
    }
    n = sizeof(buf);
    if (EVP_PKEY_get_raw_public_key(pkey, buf, &n) != 1)
        return false;
    return n == r->pub_len && n <= GSLB_KEY_PUB_MAX && memcmp(buf, r->pub, n) == 0;
}

static bool load_one_key(gslb_signer_key_t *k, const gslb_dnskey_rec_t *r)
{
    EVP_PKEY *pkey = gslb_keys_private(r);
    const char *why = NULL;
    gslb_errbuf_t eb = {{0}};
    if (!pkey)
        why = "the private key is not PKCS#8 DER";
    else if (!public_half_matches(pkey, r))
        why = "the private key does not match the published public key";
    if (why) {
        EVP_PKEY_free(pkey);
    } else if (gslb_signer_key_init(k, pkey, r->algorithm, r->key_tag, r->flags, &eb) != 0) {
        why = eb.msg;
    }
    ERR_clear_error();
    if (why)
        gslb_warn("dnssec: zone %s: key %u (algorithm %u) not used for signing: %s", r->zone,
                  r->key_tag, r->algorithm, why);
    return why == NULL;
}

/* SEP keys (flags 257) sign the DNSKEY RRset, the others the data; one kind does both. */
static void choose_roles(gslb_signer_zone_t *z)
{
    z->zsk = z->ksk = -1;
    for (unsigned i = 0; i < z->nkeys; i++) {
        if (z->keys[i].flags & GSLB_DNSKEY_FLAG_SEP) {
            if (z->ksk < 0)
                z->ksk = (int)i;
        } else if (z->zsk < 0) {
            z->zsk = (int)i;
        }
    }
    if (z->zsk < 0)
        z->zsk = z->ksk;
    if (z->ksk < 0)
        z->ksk = z->zsk;
}

/* One compiled key as the key record the loaders take (zone for messages). */
static void key_record(const gslb_ans_key_view_t *k, const char *zone, gslb_dnskey_rec_t *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->zone, sizeof(r->zone), "%s", zone);
    r->key_tag = k->key_tag;
    r->flags = k->flags;
    r->algorithm = k->algorithm;
    r->role = k->role;
    r->state = GSLB_KEY_ACTIVE;
    r->pub_len = k->pub_len;
    memcpy(r->pub, k->pub, k->pub_len);
    r->priv_len = k->priv_len;
    memcpy(r->priv_der, k->priv, k->priv_len);
}

/* (Re)load the zone's keys: the first GSLB_SIGNER_ZONE_KEYS of the compiled set. */
static void zone_load(gslb_signer_t *s, gslb_signer_zone_t *z, const MDB_val *keys)
{
    for (unsigned i = 0; i < z->nkeys; i++)
        gslb_signer_key_clear(&z->keys[i]);
    z->nkeys = 0;
    char zone[GSLB_NAME_MAX];
    if (gslb_ans_wire_to_text(z->apex, z->apex_len, zone, sizeof(zone)) < 0)
        snprintf(zone, sizeof(zone), "?");
    gslb_dnskey_rec_t rec;
    gslb_ans_key_view_t k;
    size_t pos = 0, seen = 0;
    while (gslb_ans_keys_next(keys, &pos, &k)) {
        if (seen++ >= GSLB_SIGNER_ZONE_KEYS)
            continue;
        key_record(&k, zone, &rec);
        if (load_one_key(&z->keys[z->nkeys], &rec))
            z->nkeys++;
        OPENSSL_cleanse(&rec, sizeof(rec));
    }
    if (seen > GSLB_SIGNER_ZONE_KEYS)
        gslb_warn("dnssec: zone %s: %zu more ACTIVE keys than the %u used for signing", zone,
                  seen - GSLB_SIGNER_ZONE_KEYS, GSLB_SIGNER_ZONE_KEYS);
    choose_roles(z);
    s->gen++; /* every cached signature was made with the old key set */
    s->key_loads++;
}

static size_t zone_slot(const uint8_t *apex, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ apex[i]) * 16777619u;
    return h & (GSLB_SIGNER_ZONE_SLOTS - 1);
}

int gslb_signer_zone(gslb_signer_t *s, gslb_env_t *env, MDB_txn *txn, uint64_t txnid,
                     const uint8_t *apex, size_t apex_len, gslb_signer_zone_t **out)
{
    *out = NULL;
    if (apex_len == 0 || apex_len > sizeof(s->zones[0].apex))
        return GSLB_EINVAL;
    gslb_signer_zone_t *z = &s->zones[zone_slot(apex, apex_len)];
    bool same = z->apex_len == apex_len && memcmp(z->apex, apex, apex_len) == 0;
    if (same && z->checked_txnid == txnid) {
        *out = z->nkeys ? z : NULL;
        return GSLB_OK;
    }
    MDB_val keys;
    int rc = read_signing_keys(env, txn, apex, apex_len, &keys);
    if (rc != GSLB_OK)
        return rc;
    uint64_t fp[2];
    keys_fingerprint(s, &keys, fp);
    if (!same) {
        zone_reset(z);
        memcpy(z->apex, apex, apex_len);
        z->apex_len = (uint8_t)apex_len;
    }
    if (!same || fp[0] != z->fingerprint[0] || fp[1] != z->fingerprint[1]) {
        zone_load(s, z, &keys);
        z->fingerprint[0] = fp[0];
        z->fingerprint[1] = fp[1];
    }
    z->checked_txnid = txnid;
    *out = z->nkeys ? z : NULL;
    return GSLB_OK;
}

/* ---- RRset ------------------------------------------------------------------------ */

static bool grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *p = realloc(*buf, n * elem);
    if (!p)
        return false;
    *buf = p;
    *cap = n;
    return true;
}

void gslb_signer_rrset_begin(gslb_signer_t *s, const uint8_t *owner, size_t owner_len,
                             uint16_t type, uint32_t ttl)
{
    s->err = GSLB_OK;
    s->rd_len = 0;
    s->rr_count = 0;
    s->type = type;
    s->ttl = ttl;
    if (owner_len == 0 || owner_len > sizeof(s->owner) ||
        gslb_dname_len(owner, owner_len) != (int)owner_len) {
        s->err = GSLB_EINVAL;
        s->owner_len = 0;
        return;
    }
    gslb_dname_lower(s->owner, owner, owner_len);
    s->owner_len = owner_len;
}

void gslb_signer_rrset_add(gslb_signer_t *s, const uint8_t *rd, size_t len)
{
    if (s->err)
        return;
    if (len > UINT16_MAX) {
        s->err = GSLB_EINVAL;
        return;
    }
    if (!grow((void **)&s->rd_buf, &s->rd_cap, s->rd_len + len, 1) ||
        !grow((void **)&s->rr, &s->rr_cap, s->rr_count + 1, sizeof(*s->rr))) {
        s->err = GSLB_ENOMEM;
        return;
    }
    gslb_rdata_canonical(s->type, rd, len, s->rd_buf + s->rd_len);
    s->rr[s->rr_count].off = (uint32_t)s->rd_len;
    s->rr[s->rr_count].len = (uint16_t)len;
    s->rr_count++;
    s->rd_len += len;
}

/* RFC 4034 6.3 order of two records; A and AAAA rdata compared as integers. */
static inline int rr_order(const uint8_t *buf, gslb_signer_rr_t a, gslb_signer_rr_t b)
{
    const uint8_t *x = buf + a.off, *y = buf + b.off;
    if (a.len == 4 && b.len == 4) {
        uint32_t u = gslb_get_be32(x), v = gslb_get_be32(y);
        return (u > v) - (u < v);
    }
    if (a.len == 16 && b.len == 16) {
        uint64_t u = gslb_get_be64(x), v = gslb_get_be64(y);
        if (u == v) {
            u = gslb_get_be64(x + 8);
            v = gslb_get_be64(y + 8);
        }
        return (u > v) - (u < v);
    }
    return gslb_rdata_compare(x, a.len, y, b.len);
}

static int rr_compare(const gslb_signer_t *s, size_t i, size_t j)
{
    return rr_order(s->rd_buf, s->rr[i], s->rr[j]);
}

static void rr_swap(gslb_signer_t *s, size_t i, size_t j)
{
    gslb_signer_rr_t t = s->rr[i];
    s->rr[i] = s->rr[j];
    s->rr[j] = t;
}

static void sift_down(gslb_signer_t *s, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && rr_compare(s, child, child + 1) < 0)
            child++;
        if (rr_compare(s, root, child) >= 0)
            return;
        rr_swap(s, root, child);
        root = child;
    }
}

#define INSERTION_SORT_MAX 32

/* Small sets (the usual answer): insertion sort. */
static void insertion_sort(gslb_signer_t *s)
{
    for (size_t i = 1; i < s->rr_count; i++) {
        gslb_signer_rr_t cur = s->rr[i];
        size_t j = i;
        while (j > 0 && rr_order(s->rd_buf, s->rr[j - 1], cur) > 0) {
            s->rr[j] = s->rr[j - 1];
            j--;
        }
        s->rr[j] = cur;
    }
}

/* RFC 4034 6.3: canonical order, duplicates removed (no allocation: insertion
 * sort for small sets, heap sort for large ones). */
static void sort_unique(gslb_signer_t *s)
{
    size_t n = s->rr_count;
    if (n <= INSERTION_SORT_MAX) {
        insertion_sort(s);
    } else {
        for (size_t i = n / 2; i-- > 0;)
            sift_down(s, i, n);
        for (size_t end = n; end > 1; end--) {
            rr_swap(s, 0, end - 1);
            sift_down(s, 0, end - 1);
        }
    }
    size_t kept = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        if (rr_compare(s, i, kept - 1) != 0)
            s->rr[kept++] = s->rr[i];
    }
    s->rr_count = kept;
}

/* A cursor over the signed data buffer from offset pos (sized beforehand by
 * gslb_signer_rrset_sign, so the writes below cannot fail). */
static gslb_cur_t input_cursor(gslb_signer_t *s, size_t pos)
{
    gslb_cur_t c;
    gslb_cur_init(&c, s->input, s->input_cap);
    gslb_cur_rewind(&c, pos);
    return c;
}

/* RRSIG_RDATA without the signature (the start of both forms below). */
static size_t write_rrsig_header(gslb_signer_t *s, const gslb_signer_zone_t *z,
                                 const gslb_signer_key_t *k)
{
    uint32_t inception, expiration;
    gslb_rrsig_window(gslb_signer_now(s), &inception, &expiration);
    gslb_cur_t c = input_cursor(s, 0);
    gslb_cur_put_be16(&c, s->type);
    gslb_cur_put_u8(&c, k->algorithm);
    gslb_cur_put_u8(&c, (uint8_t)gslb_rrsig_labels(s->owner, s->owner_len));
    gslb_cur_put_be32(&c, s->ttl);
    gslb_cur_put_be32(&c, expiration);
    gslb_cur_put_be32(&c, inception);
    gslb_cur_put_be16(&c, k->key_tag);
    gslb_cur_put_bytes(&c, z->apex, z->apex_len);
    assert(c.err == 0 && c.pos == GSLB_RRSIG_FIXED_LEN + (size_t)z->apex_len);
    return c.pos;
}

/* The cache key form after the header: the owner once, then each record's
 * length and rdata (type, class and TTL are in the header). It determines the
 * signed data exactly and is a third of its size. Returns the total length. */
static size_t write_key_form(gslb_signer_t *s, size_t hdr)
{
    gslb_cur_t c = input_cursor(s, hdr);
    gslb_cur_put_bytes(&c, s->owner, s->owner_len);
    for (size_t i = 0; i < s->rr_count; i++) {
        gslb_cur_put_be16(&c, s->rr[i].len);
        gslb_cur_put_bytes(&c, s->rd_buf + s->rr[i].off, s->rr[i].len);
    }
    assert(c.err == 0);
    return c.pos;
}

/* The signed data after the header: every RR in canonical form (RFC 4034
 * 3.1.8.1). Returns the total length. */
static size_t write_signed_rrs(gslb_signer_t *s, size_t hdr)
{
    gslb_cur_t c = input_cursor(s, hdr);
    for (size_t i = 0; i < s->rr_count; i++) {
        gslb_cur_put_bytes(&c, s->owner, s->owner_len);
        gslb_cur_put_be16(&c, s->type);
        gslb_cur_put_be16(&c, GSLB_CLASS_IN);
        gslb_cur_put_be32(&c, s->ttl);
        gslb_cur_put_be16(&c, s->rr[i].len);
        gslb_cur_put_bytes(&c, s->rd_buf + s->rr[i].off, s->rr[i].len);
    }
    assert(c.err == 0);
    return c.pos;
}

int gslb_signer_rrset_sign(gslb_signer_t *s, const gslb_signer_zone_t *z, uint8_t *out, size_t cap,
                           bool *cached)
{
    if (cached)
        *cached = false;
    if (s->err)
        return s->err;
    if (!z || z->nkeys == 0 || s->rr_count == 0)
        return GSLB_EINVAL;
    int ki = s->type == GSLB_RR_DNSKEY ? z->ksk : z->zsk;
    /* the zone's keys belong to this signer: it alone uses their contexts */
    gslb_signer_key_t *k = (gslb_signer_key_t *)&z->keys[ki];
    size_t hdr = GSLB_RRSIG_FIXED_LEN + z->apex_len;
    if (cap < hdr + GSLB_SIG_LEN)
        return GSLB_ERANGE;
    sort_unique(s);
    size_t need = hdr + s->rr_count * (s->owner_len + GSLB_RR_HDR_LEN) + s->rd_len;
    if (!grow((void **)&s->input, &s->input_cap, need, 1))
        return GSLB_ENOMEM;
    write_rrsig_header(s, z, k);
    uint64_t h[2];
    gslb_siphash128(s->hash_key, s->input, write_key_form(s, hdr), h);
    gslb_sigcache_entry_t *e = &s->cache[h[0] & (GSLB_SIGCACHE_SLOTS - 1)];
    if (e->gen == s->gen && e->h[0] == h[0] && e->h[1] == h[1]) {
        s->cache_hits++;
        if (cached)
            *cached = true;
    } else {
        int rc = gslb_signer_key_sign(k, s->sha256, s->input, write_signed_rrs(s, hdr), e->sig);
        if (rc) {
            e->gen = 0;
            return rc;
        }
        e->gen = s->gen;
        e->h[0] = h[0];
        e->h[1] = h[1];
        s->signatures++;
    }
    memcpy(out, s->input, hdr);
    memcpy(out + hdr, e->sig, GSLB_SIG_LEN);
    return (int)(hdr + GSLB_SIG_LEN);
}
