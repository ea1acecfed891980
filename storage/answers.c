/*
 * answers.c - compiled answer sets (answers.h): key building, value checking,
 * lookup (reader side) and compilation from zones/domains/backends/overrides
 * (writer side, inside the writer's txn).
 *
 * Value encoding: the packed structs of answers.h with little-endian integers;
 * static rdata is DNS wire format (network order) behind a little-endian u16
 * rdlength. Writers compare a freshly built set with the stored one and only
 * write (and bump `generation`) when the content changed.
 */
#include "answers.h"
#include "cursor.h"
#include "dname.h"
#include "gslb_log.h"
#include "store.h"

#include <assert.h>
#include <endian.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define QTYPE_A 1
#define QTYPE_NS 2
#define QTYPE_SOA 6
#define QTYPE_AAAA 28
#define QTYPE_DNSKEY 48
#define DNSKEY_PROTOCOL 3
#define ANS_PREFIX_LEN 2   /* version byte, kind byte */
#define DNSKEY_FIXED_LEN 4 /* flags, protocol, algorithm (RFC 4034 2.1) */
#define FALLBACK_TTL 30
#define NO_REGION_PRIORITY 255

/* ---- names ------------------------------------------------------------------ */

int gslb_ans_name_to_wire(const char *text, uint8_t *out, size_t cap)
{
    char norm[GSLB_NAME_MAX];
    if (!text || gslb_name_normalize(text, norm, sizeof(norm)) != GSLB_OK)
        return GSLB_EINVAL;
    int n = gslb_dname_from_str(norm, out, cap);
    return n < 0 ? GSLB_ERANGE : n;
}

int gslb_ans_wire_to_text(const uint8_t *wire, size_t len, char *out, size_t cap)
{
    return gslb_dname_to_text(wire, len, out, cap);
}

int gslb_ans_key(const uint8_t *wire_name, size_t name_len, uint16_t qtype, uint8_t *key,
                 size_t cap)
{
    if (!key || !wire_name || gslb_dname_len(wire_name, name_len) != (int)name_len ||
        cap < name_len + GSLB_ANS_QTYPE_LEN)
        return GSLB_EINVAL;
    gslb_dname_lower(key, wire_name, name_len);
    gslb_put_be16(key + name_len, qtype);
    return (int)(name_len + GSLB_ANS_QTYPE_LEN);
}

/* ---- checking and lookup ----------------------------------------------------- */

static int check_node(const uint8_t *p, size_t len)
{
    if (len != sizeof(gslb_ans_node_t))
        return GSLB_ECORRUPT;
    const unsigned known = GSLB_NODE_APEX | GSLB_NODE_DOMAIN | GSLB_NODE_ENT | GSLB_NODE_HOST;
    uint8_t flags = p[offsetof(gslb_ans_node_t, flags)];
    if (flags == 0 || (flags & ~known))
        return GSLB_ECORRUPT;
    return GSLB_ANS_KIND_NODE;
}

static int check_static(const uint8_t *p, size_t len)
{
    gslb_cur_t c;
    gslb_cur_init_ro(&c, p, len);
    gslb_ans_static_t h = {0};
    gslb_cur_get_bytes(&c, &h, sizeof(h));
    for (unsigned i = 0; i < le16toh(h.count) && !c.err; i++)
        gslb_cur_skip(&c, gslb_cur_get_le16(&c));
    return (c.err || gslb_cur_left(&c) != 0) ? GSLB_ECORRUPT : GSLB_ANS_KIND_STATIC;
}

static int check_keys(const uint8_t *p, size_t len)
{
    gslb_ans_keys_t h;
    if (len < sizeof(h))
        return GSLB_ECORRUPT;
    memcpy(&h, p, sizeof(h));
    size_t pos = sizeof(h);
    for (unsigned i = 0; i < le16toh(h.count); i++) {
        gslb_ans_key_t k;
        if (len - pos < sizeof(k))
            return GSLB_ECORRUPT;
        memcpy(&k, p + pos, sizeof(k));
        pos += sizeof(k);
        size_t pub = le16toh(k.pub_len), priv = le16toh(k.priv_len);
        if (pub > GSLB_KEY_PUB_MAX || priv > GSLB_KEY_DER_MAX || len - pos < pub + priv)
            return GSLB_ECORRUPT;
        pos += pub + priv;
    }
    return pos == len ? GSLB_ANS_KIND_KEYS : GSLB_ECORRUPT;
}

static int check_set(const uint8_t *p, size_t len)
{
    gslb_ans_set_t h;
    if (len < sizeof(h))
        return GSLB_ECORRUPT;
    memcpy(&h, p, sizeof(h));
    uint16_t count = le16toh(h.count);
    if (len != sizeof(h) + (size_t)count * sizeof(gslb_ans_cand_t))
        return GSLB_ECORRUPT;
    if (le16toh(h.healthy_count) > count || h.policy > GSLB_POLICY_LATENCY ||
        h.unhealthy_mode > GSLB_UNHEALTHY_SERVFAIL)
        return GSLB_ECORRUPT;
    return GSLB_ANS_KIND_GSLB;
}

int gslb_ans_check(const void *val, size_t len)
{
    const uint8_t *p = val;
    if (!p || len < ANS_PREFIX_LEN)
        return GSLB_ECORRUPT;
    if (p[0] != GSLB_ANS_V1)
        return GSLB_EVERSION;
    switch (p[1]) {
    case GSLB_ANS_KIND_NODE:
        return check_node(p, len);
    case GSLB_ANS_KIND_STATIC:
        return check_static(p, len);
    case GSLB_ANS_KIND_GSLB:
        return check_set(p, len);
    case GSLB_ANS_KIND_KEYS:
        return check_keys(p, len);
    default:
        return GSLB_ECORRUPT;
    }
}

int gslb_ans_lookup(MDB_txn *txn, MDB_dbi answers_dbi, const uint8_t *key, size_t key_len,
                    MDB_val *val)
{
    MDB_val k = {key_len, (void *)key};
    int rc = mdb_get(txn, answers_dbi, &k, val);
    if (rc == MDB_NOTFOUND)
        return GSLB_ENOENT;
    if (rc)
        return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ? GSLB_ECORRUPT : GSLB_ESTORE;
    return gslb_ans_check(val->mv_data, val->mv_size);
}

bool gslb_ans_keys_next(const MDB_val *val, size_t *pos, gslb_ans_key_view_t *k)
{
    const uint8_t *p = val->mv_data;
    size_t at = *pos ? *pos : sizeof(gslb_ans_keys_t);
    if (at >= val->mv_size)
        return false;
    gslb_ans_key_t h;
    memcpy(&h, p + at, sizeof(h));
    k->key_tag = le16toh(h.key_tag);
    k->flags = le16toh(h.flags);
    k->algorithm = h.algorithm;
    k->role = h.role;
    k->pub_len = le16toh(h.pub_len);
    k->priv_len = le16toh(h.priv_len);
    k->pub = p + at + sizeof(h);
    k->priv = k->pub + k->pub_len;
    *pos = at + sizeof(h) + k->pub_len + k->priv_len;
    return true;
}

/* ---- reading a domain's sets back ----------------------------------------------------- */

static int domain_set(MDB_txn *txn, MDB_dbi dbi, const char *domain, uint16_t qtype, MDB_val *val)
{
    uint8_t wire[GSLB_DNS_NAME_MAX], key[GSLB_ANS_KEY_MAX];
    int n = gslb_ans_name_to_wire(domain, wire, sizeof(wire));
    if (n < 0)
        return GSLB_EINVAL;
    int klen = gslb_ans_key(wire, (size_t)n, qtype, key, sizeof(key));
    if (klen < 0)
        return klen;
    int kind = gslb_ans_lookup(txn, dbi, key, (size_t)klen, val);
    if (kind < 0)
        return kind;
    return kind == GSLB_ANS_KIND_GSLB ? GSLB_OK : GSLB_ECORRUPT;
}

static int cmp_cand_addr(const void *a, const void *b)
{
    return memcmp(((const gslb_ans_cand_t *)a)->addr, ((const gslb_ans_cand_t *)b)->addr, 16);
}

/* Hash one set (see gslb_ans_digest_t); an absent set hashes as its qtype alone. */
static int digest_set(EVP_MD_CTX *md, const MDB_val *val, uint16_t qtype, gslb_ans_digest_t *out)
{
    uint8_t be_qtype[2] = {(uint8_t)(qtype >> 8), (uint8_t)qtype};
    EVP_DigestUpdate(md, be_qtype, sizeof(be_qtype));
    if (!val)
        return GSLB_OK;
    gslb_ans_set_t h;
    memcpy(&h, val->mv_data, sizeof(h));
    size_t count = le16toh(h.count);
    EVP_DigestUpdate(md, &h.policy, 1);
    EVP_DigestUpdate(md, &h.unhealthy_mode, 1);
    EVP_DigestUpdate(md, &h.ttl, sizeof(h.ttl));
    EVP_DigestUpdate(md, &h.max_records, sizeof(h.max_records));
    gslb_ans_cand_t *c = malloc((count ? count : 1) * sizeof(*c));
    if (!c)
        return GSLB_ENOMEM;
    memcpy(c, (const uint8_t *)val->mv_data + sizeof(h), count * sizeof(*c));
    qsort(c, count, sizeof(*c), cmp_cand_addr);
    const uint8_t answerable = GSLB_CAND_HEALTHY | GSLB_CAND_LAST_HEALTHY;
    for (size_t i = 0; i < count; i++) {
        out->candidates++;
        out->healthy += (c[i].flags & GSLB_CAND_HEALTHY) != 0;
        if (!(c[i].flags & answerable))
            continue;
        uint8_t flags = c[i].flags & answerable;
        EVP_DigestUpdate(md, c[i].addr, sizeof(c[i].addr));
        EVP_DigestUpdate(md, &c[i].weight, sizeof(c[i].weight));
        EVP_DigestUpdate(md, &c[i].priority, 1);
        EVP_DigestUpdate(md, &flags, 1);
    }
    free(c);
    return GSLB_OK;
}

int gslb_ans_domain_digest(MDB_txn *txn, MDB_dbi answers_dbi, const char *domain,
                           gslb_ans_digest_t *out)
{
    static const uint16_t qtypes[] = {QTYPE_A, QTYPE_AAAA};
    memset(out, 0, sizeof(*out));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return GSLB_ENOMEM;
    }
    int rc = GSLB_OK;
    for (size_t i = 0; i < 2 && rc == GSLB_OK; i++) {
        MDB_val v;
        rc = domain_set(txn, answers_dbi, domain, qtypes[i], &v);
        if (rc == GSLB_OK || rc == GSLB_ENOENT)
            rc = digest_set(md, rc == GSLB_OK ? &v : NULL, qtypes[i], out);
    }
    unsigned len = 0;
    if (rc == GSLB_OK && EVP_DigestFinal_ex(md, out->sha256, &len) != 1)
        rc = GSLB_ENOMEM;
    EVP_MD_CTX_free(md);
    return rc;
}

int gslb_ans_domain_cand(MDB_txn *txn, MDB_dbi answers_dbi, const char *domain,
                         const gslb_addr_t *addr, gslb_ans_cand_t *out)
{
    MDB_val v;
    int rc =
        domain_set(txn, answers_dbi, domain, addr->family == AF_INET6 ? QTYPE_AAAA : QTYPE_A, &v);
    if (rc != GSLB_OK)
        return rc;
    gslb_ans_set_t h;
    memcpy(&h, v.mv_data, sizeof(h));
    const uint8_t *p = (const uint8_t *)v.mv_data + sizeof(h);
    for (size_t i = 0; i < le16toh(h.count); i++) {
        memcpy(out, p + i * sizeof(*out), sizeof(*out));
        if (memcmp(out->addr, addr->bytes, 16) == 0)
            return GSLB_OK;
    }
    return GSLB_ENOENT;
}

/* ---- writer helpers ------------------------------------------------------------ */

typedef struct wname {
    uint8_t wire[GSLB_DNS_NAME_MAX];
    size_t len;
} wname_t;

static int wname_from_text(const char *text, wname_t *w)
{
    int n = gslb_ans_name_to_wire(text, w->wire, sizeof(w->wire));
    if (n < 0)
        return n;
    w->len = (size_t)n;
    return GSLB_OK;
}

/* Offset of zone inside name when name is zone or below it, else -1. */
static int zone_offset_of(const wname_t *name, const wname_t *zone)
{
    size_t pos = 0;
    while (name->len - pos >= zone->len) {
        if (name->len - pos == zone->len && memcmp(name->wire + pos, zone->wire, zone->len) == 0)
            return (int)pos;
        if (name->wire[pos] == 0)
            break;
        pos += 1u + name->wire[pos];
    }
    return -1;
}

static int ans_put(gslb_env_t *e, MDB_txn *txn, const wname_t *n, uint16_t qtype, const void *val,
                   size_t len)
{
    uint8_t key[GSLB_ANS_KEY_MAX];
    int klen = gslb_ans_key(n->wire, n->len, qtype, key, sizeof(key));
    if (klen < 0)
        return klen;
    MDB_val k = {(size_t)klen, key}, v = {len, (void *)val};
    int rc = mdb_put(txn, e->dbi[GSLB_DBI_ANSWERS], &k, &v, 0);
    return rc ? gslb_env_map_err(e, rc, "answers") : GSLB_OK;
}

static int ans_get(gslb_env_t *e, MDB_txn *txn, const wname_t *n, uint16_t qtype, MDB_val *v)
{
    uint8_t key[GSLB_ANS_KEY_MAX];
    int klen = gslb_ans_key(n->wire, n->len, qtype, key, sizeof(key));
    if (klen < 0)
        return klen;
    return gslb_ans_lookup(txn, e->dbi[GSLB_DBI_ANSWERS], key, (size_t)klen, v);
}

static int ans_del(gslb_env_t *e, MDB_txn *txn, const wname_t *n, uint16_t qtype)
{
    uint8_t key[GSLB_ANS_KEY_MAX];
    int klen = gslb_ans_key(n->wire, n->len, qtype, key, sizeof(key));
    if (klen < 0)
        return klen;
    MDB_val k = {(size_t)klen, key};
    int rc = mdb_del(txn, e->dbi[GSLB_DBI_ANSWERS], &k, NULL);
    if (rc == MDB_NOTFOUND)
        return GSLB_OK;
    return rc ? gslb_env_map_err(e, rc, "answers delete") : GSLB_OK;
}

/* Flags of the node entry at n (0 when absent or unreadable), and its zone offset. */
static uint8_t node_flags(gslb_env_t *e, MDB_txn *txn, const wname_t *n, uint8_t *zone_off)
{
    MDB_val v;
    if (ans_get(e, txn, n, GSLB_ANS_NODE, &v) != GSLB_ANS_KIND_NODE)
        return 0;
    gslb_ans_node_t node;
    memcpy(&node, v.mv_data, sizeof(node));
    if (zone_off)
        *zone_off = node.zone_offset;
    return node.flags;
}

static int node_put(gslb_env_t *e, MDB_txn *txn, const wname_t *n, uint8_t flags, int zone_off)
{
    gslb_ans_node_t node = {.version = GSLB_ANS_V1,
                            .kind = GSLB_ANS_KIND_NODE,
                            .flags = flags,
                            .zone_offset = (uint8_t)zone_off};
    return ans_put(e, txn, n, GSLB_ANS_NODE, &node, sizeof(node));
}

/* Adds `flags` to the node at n (an ENT becomes a real node). */
static int node_merge(gslb_env_t *e, MDB_txn *txn, const wname_t *n, uint8_t flags, int zone_off)
{
    uint8_t old = node_flags(e, txn, n, NULL);
    uint8_t merged = (uint8_t)((old & ~GSLB_NODE_ENT) | flags);
    if (merged == old)
        return GSLB_OK;
    return node_put(e, txn, n, merged, zone_off);
}

/* The parent of n (drops the first label). */
static void wname_parent(const wname_t *n, wname_t *parent)
{
    size_t skip = 1u + n->wire[0];
    parent->len = n->len - skip;
    memmove(parent->wire, n->wire + skip, parent->len);
}

/* Writes ENT nodes for every missing name strictly between n and its apex. */
static int ensure_ents(gslb_env_t *e, MDB_txn *txn, const wname_t *n, int zone_off)
{
    wname_t cur = *n;
    int off = zone_off;
    while (off > 0) {
        wname_t parent;
        wname_parent(&cur, &parent);
        off -= 1 + cur.wire[0];
        if (off <= 0)
            break; /* reached the apex */
        if (node_flags(e, txn, &parent, NULL) == 0) {
            int rc = node_put(e, txn, &parent, GSLB_NODE_ENT, off);
            if (rc)
                return rc;
        }
        cur = parent;
    }
    return GSLB_OK;
}

/* ---- static RRsets (zones) ----------------------------------------------------- */

/* A static RRset being built: the header, then {le16 rdlength, rdata} each.
 * The cursor points into data: an rrbuf_t is never copied. */
typedef struct rrbuf {
    uint8_t data[GSLB_REC_MAX];
    gslb_cur_t c;
    uint16_t count; /* records written whole */
} rrbuf_t;

static void rr_begin(rrbuf_t *b, uint32_t ttl, uint32_t neg_ttl)
{
    gslb_ans_static_t h = {.version = GSLB_ANS_V1,
                           .kind = GSLB_ANS_KIND_STATIC,
                           .ttl = htole32(ttl),
                           .neg_ttl = htole32(neg_ttl)};
    gslb_cur_init(&b->c, b->data, sizeof(b->data));
    gslb_cur_put_bytes(&b->c, &h, sizeof(h));
    b->count = 0;
}

static void rr_add(rrbuf_t *b, const void *rdata, size_t rdlen)
{
    if (rdlen > UINT16_MAX)
        gslb_cur_fail(&b->c, GSLB_ERANGE);
    gslb_cur_put_le16(&b->c, (uint16_t)rdlen);
    gslb_cur_put_bytes(&b->c, rdata, rdlen);
    if (!b->c.err)
        b->count++;
}

static int rr_put(gslb_env_t *e, MDB_txn *txn, const wname_t *n, uint16_t qtype, rrbuf_t *b)
{
    if (b->c.err)
        return GSLB_ERANGE;
    gslb_put_le16(b->data + offsetof(gslb_ans_static_t, count), b->count);
    return ans_put(e, txn, n, qtype, b->data, b->c.pos);
}

static int write_soa(gslb_env_t *e, MDB_txn *txn, const gslb_zone_rec_t *z, const wname_t *apex)
{
    uint8_t rdata[2 * GSLB_DNS_NAME_MAX + GSLB_SOA_FIXED_LEN];
    wname_t m, r;
    if (wname_from_text(z->mname, &m) || wname_from_text(z->rname, &r))
        return GSLB_EINVAL;
    gslb_cur_t c;
    gslb_cur_init(&c, rdata, sizeof(rdata));
    gslb_cur_put_bytes(&c, m.wire, m.len);
    gslb_cur_put_bytes(&c, r.wire, r.len);
    const uint32_t nums[] = {z->serial, z->refresh, z->retry, z->expire, z->minimum};
    static_assert(sizeof(nums) == GSLB_SOA_FIXED_LEN, "RFC 1035 3.3.13: five 32-bit numbers");
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        gslb_cur_put_be32(&c, nums[i]);
    assert(c.err == 0);
    rrbuf_t b;
    rr_begin(&b, z->soa_ttl, z->soa_ttl < z->minimum ? z->soa_ttl : z->minimum);
    rr_add(&b, rdata, c.pos);
    return rr_put(e, txn, apex, QTYPE_SOA, &b);
}

static int write_ns(gslb_env_t *e, MDB_txn *txn, const gslb_zone_rec_t *z, const wname_t *apex)
{
    rrbuf_t b;
    rr_begin(&b, z->ns_ttl, 0);
    for (unsigned i = 0; i < z->ns_count && i < GSLB_MAX_NS; i++) {
        wname_t ns;
        if (wname_from_text(z->ns[i], &ns))
            return GSLB_EINVAL;
        rr_add(&b, ns.wire, ns.len);
    }
    return b.count ? rr_put(e, txn, apex, QTYPE_NS, &b) : GSLB_OK;
}

/* Glue of one in-zone NS host: every address given for that host name. */
static int write_host(gslb_env_t *e, MDB_txn *txn, const gslb_zone_rec_t *z, unsigned idx,
                      const wname_t *apex)
{
    wname_t host;
    if (wname_from_text(z->ns[idx], &host))
        return GSLB_EINVAL;
    int off = zone_offset_of(&host, apex);
    if (off < 0)
        return GSLB_OK; /* out-of-zone NS: no glue, no node */
    for (unsigned j = 0; j < idx; j++)
        if (strcmp(z->ns[j], z->ns[idx]) == 0)
            return GSLB_OK; /* already written with the first occurrence */
    rrbuf_t a, aaaa;
    rr_begin(&a, z->ns_ttl, 0);
    rr_begin(&aaaa, z->ns_ttl, 0);
    for (unsigned j = idx; j < z->ns_count && j < GSLB_MAX_NS; j++) {
        if (strcmp(z->ns[j], z->ns[idx]) != 0)
            continue;
        if (z->ns_addr4[j].family == AF_INET)
            rr_add(&a, z->ns_addr4[j].bytes, 4);
        if (z->ns_addr6[j].family == AF_INET6)
            rr_add(&aaaa, z->ns_addr6[j].bytes, 16);
    }
    int rc = node_merge(e, txn, &host, GSLB_NODE_HOST, off);
    if (!rc && a.count)
        rc = rr_put(e, txn, &host, QTYPE_A, &a);
    if (!rc && aaaa.count)
        rc = rr_put(e, txn, &host, QTYPE_AAAA, &aaaa);
    if (!rc)
        rc = ensure_ents(e, txn, &host, off);
    return rc;
}

/* ---- DNSKEY RRset and signing keys (zone apex) ----------------------------------- */

/* The zone's signing keys being compiled (private material: wiped before free). */
typedef struct keybuf {
    uint8_t
        data[sizeof(gslb_ans_keys_t) +
             GSLB_ANS_MAX_KEYS * (sizeof(gslb_ans_key_t) + GSLB_KEY_PUB_MAX + GSLB_KEY_DER_MAX)];
    size_t len;
    uint16_t count;
    unsigned left_out; /* ACTIVE keys beyond GSLB_ANS_MAX_KEYS */
} keybuf_t;

struct zone_keys_ctx {
    rrbuf_t dnskey; /* the DNSKEY RRset */
    keybuf_t signing;
};

/* DNSKEY rdata of a published key (ACTIVE and PUBLISHED). */
static void add_dnskey(rrbuf_t *b, const gslb_dnskey_rec_t *k)
{
    uint8_t rdata[DNSKEY_FIXED_LEN + GSLB_KEY_PUB_MAX];
    gslb_cur_t w;
    gslb_cur_init(&w, rdata, sizeof(rdata));
    gslb_cur_put_be16(&w, k->flags);
    gslb_cur_put_u8(&w, DNSKEY_PROTOCOL);
    gslb_cur_put_u8(&w, k->algorithm);
    gslb_cur_put_bytes(&w, k->pub, k->pub_len);
    if (w.err)
        gslb_cur_fail(&b->c, GSLB_ERANGE);
    else
        rr_add(b, rdata, w.pos);
}

/* A signing key (ACTIVE), with its private key. A key whose lengths do not fit
 * (a damaged record) is left out and counted like one beyond the limit. */
static void add_signing_key(keybuf_t *b, const gslb_dnskey_rec_t *k)
{
    if (b->count == GSLB_ANS_MAX_KEYS) {
        b->left_out++;
        return;
    }
    gslb_cur_t w;
    gslb_cur_init(&w, b->data + b->len, sizeof(b->data) - b->len);
    gslb_cur_put_le16(&w, k->key_tag);
    gslb_cur_put_le16(&w, k->flags);
    gslb_cur_put_u8(&w, k->algorithm);
    gslb_cur_put_u8(&w, k->role);
    gslb_cur_put_le16(&w, k->pub_len);
    gslb_cur_put_le16(&w, k->priv_len);
    gslb_cur_put_bytes(&w, k->pub, k->pub_len);
    gslb_cur_put_bytes(&w, k->priv_der, k->priv_len);
    if (w.err || k->pub_len > GSLB_KEY_PUB_MAX || k->priv_len > GSLB_KEY_DER_MAX) {
        explicit_bzero(b->data + b->len, w.pos);
        b->left_out++;
        return;
    }
    b->len += w.pos;
    b->count++;
}

/* The zone's keys in key order: published ones into the DNSKEY RRset, active
 * ones into the signing keys. */
static int add_zone_key(const gslb_dnskey_rec_t *k, void *ctx)
{
    struct zone_keys_ctx *c = ctx;
    if (k->state == GSLB_KEY_ACTIVE || k->state == GSLB_KEY_PUBLISHED)
        add_dnskey(&c->dnskey, k);
    if (k->state == GSLB_KEY_ACTIVE)
        add_signing_key(&c->signing, k);
    return 0;
}

static int put_signing_keys(gslb_env_t *e, MDB_txn *txn, const gslb_zone_rec_t *z,
                            const wname_t *apex, keybuf_t *b)
{
    if (b->left_out)
        gslb_warn("answers: zone %s has %u more ACTIVE keys than the %d compiled for signing",
                  z->name, b->left_out, GSLB_ANS_MAX_KEYS);
    if (b->count == 0)
        return ans_del(e, txn, apex, GSLB_ANS_SIGNING_KEYS);
    gslb_ans_keys_t h = {
        .version = GSLB_ANS_V1, .kind = GSLB_ANS_KIND_KEYS, .count = htole16(b->count)};
    memcpy(b->data, &h, sizeof(h));
    return ans_put(e, txn, apex, GSLB_ANS_SIGNING_KEYS, b->data, b->len);
}

/* The apex DNSKEY RRset (TTL = the zone's NS TTL) and the zone's signing keys;
 * each removed when there is no such key. */
static int write_zone_keys(gslb_env_t *e, MDB_txn *txn, const gslb_zone_rec_t *z,
                           const wname_t *apex)
{
    struct zone_keys_ctx *c = malloc(sizeof(*c));
    if (!c)
        return GSLB_ENOMEM;
    rr_begin(&c->dnskey, z->ns_ttl, 0);
    c->signing.len = sizeof(gslb_ans_keys_t);
    c->signing.count = 0;
    c->signing.left_out = 0;
    int rc = gslb_store_foreach_dnskey(e, txn, z->name, add_zone_key, c);
    if (rc == GSLB_OK)
        rc = c->dnskey.count ? rr_put(e, txn, apex, QTYPE_DNSKEY, &c->dnskey)
                             : ans_del(e, txn, apex, QTYPE_DNSKEY);
    if (rc == GSLB_OK)
        rc = put_signing_keys(e, txn, z, apex, &c->signing);
    explicit_bzero(c, sizeof(*c));
    free(c);
    return rc;
}

int gslb_answers_rebuild_zone_keys(gslb_env_t *e, MDB_txn *txn, const char *zone)
{
    gslb_zone_rec_t *z = malloc(sizeof(*z));
    if (!z)
        return GSLB_ENOMEM;
    int rc = gslb_store_zone_get(e, txn, zone, z);
    if (rc == GSLB_OK) {
        wname_t apex;
        rc = wname_from_text(z->name, &apex);
        if (rc == GSLB_OK)
            rc = write_zone_keys(e, txn, z, &apex);
    } else if (rc == GSLB_ENOENT) {
        rc = GSLB_OK; /* no such zone: nothing is served there */
    }
    free(z);
    if (rc && rc != GSLB_EMAPFULL)
        gslb_error("answers: cannot compile the DNSKEY RRset and signing keys of %s: %s", zone,
                   gslb_strerror(rc));
    return rc;
}

static int rebuild_zone(gslb_env_t *e, MDB_txn *txn, const gslb_zone_rec_t *z)
{
    wname_t apex;
    int rc = wname_from_text(z->name, &apex);
    if (rc)
        return rc;
    rc = node_merge(e, txn, &apex, GSLB_NODE_APEX, 0);
    if (!rc)
        rc = write_soa(e, txn, z, &apex);
    if (!rc)
        rc = write_ns(e, txn, z, &apex);
    if (!rc)
        rc = write_zone_keys(e, txn, z, &apex);
    for (unsigned i = 0; !rc && i < z->ns_count && i < GSLB_MAX_NS; i++)
        rc = write_host(e, txn, z, i, &apex);
    if (rc)
        gslb_error("answers: cannot compile zone %s: %s", z->name, gslb_strerror(rc));
    return rc;
}

/* ---- GSLB candidate sets -------------------------------------------------------- */

typedef struct candset {
    gslb_ans_set_t hdr;
    gslb_ans_cand_t *cands;
    size_t count, cap;
    int family;
    const gslb_domain_rec_t *domain;
    gslb_env_t *env;
    MDB_txn *txn;
    int error;
} candset_t;

static uint8_t region_priority(const gslb_domain_rec_t *d, const char *region)
{
    for (unsigned i = 0; i < d->region_count && i < GSLB_MAX_REGIONS; i++)
        if (strcmp(d->regions[i], region) == 0)
            return (uint8_t)i;
    return NO_REGION_PRIORITY;
}

static gslb_ans_cand_t *cand_for_addr(candset_t *s, const uint8_t *addr, bool *is_new)
{
    /* backends are visited in key order, so equal addresses are adjacent */
    if (s->count && memcmp(s->cands[s->count - 1].addr, addr, 16) == 0) {
        *is_new = false;
        return &s->cands[s->count - 1];
    }
    if (s->count == GSLB_ANS_MAX_CANDS)
        return NULL;
    if (s->count == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        gslb_ans_cand_t *n = realloc(s->cands, ncap * sizeof(*n));
        if (!n) {
            s->error = GSLB_ENOMEM;
            return NULL;
        }
        s->cands = n;
        s->cap = ncap;
    }
    *is_new = true;
    gslb_ans_cand_t *c = &s->cands[s->count++];
    memset(c, 0, sizeof(*c));
    memcpy(c->addr, addr, 16);
    return c;
}

/* One candidate per address: several ports of one address merge (healthy when
 * any is servable, the highest weight, the best priority, lowest latency). */
static int add_backend(const gslb_backend_rec_t *b, void *ctx)
{
    candset_t *s = ctx;
    if (b->addr.family != s->family)
        return 0;
    gslb_override_rec_t ov;
    int rc = gslb_store_override_get(s->env, s->txn, b->domain, &b->addr, &ov);
    bool has_ov = rc == GSLB_OK;
    if (rc != GSLB_OK && rc != GSLB_ENOENT)
        gslb_warn("answers: %s: ignoring an unreadable override (%s)", b->domain,
                  gslb_strerror(rc));
    bool healthy = gslb_backend_servable(b, has_ov ? &ov : NULL);
    bool is_new = false;
    gslb_ans_cand_t *c = cand_for_addr(s, b->addr.bytes, &is_new);
    if (!c) {
        if (s->error)
            return s->error;
        gslb_warn("answers: %s has more than %d backends; the rest are not served", s->domain->name,
                  GSLB_ANS_MAX_CANDS);
        return 1;
    }
    uint32_t weight = le32toh(c->weight), lat = le32toh(c->latency_us);
    uint8_t prio = region_priority(s->domain, b->region);
    if (is_new || b->weight > weight)
        weight = b->weight;
    if (is_new || prio < c->priority)
        c->priority = prio;
    if (b->latency_us && (lat == 0 || b->latency_us < lat))
        lat = b->latency_us;
    c->weight = htole32(weight);
    c->latency_us = htole32(lat);
    if (healthy)
        c->flags |= GSLB_CAND_HEALTHY;
    /* the override is per (domain, address): every port of the address shares it */
    if (has_ov && (ov.state == GSLB_OVERRIDE_DOWN || ov.state == GSLB_OVERRIDE_DRAIN))
        c->flags |= GSLB_CAND_OPERATOR_DOWN;
    return 0;
}

/* Copies LAST_HEALTHY from the previous set (by address) when nothing is
 * healthy now; otherwise the healthy members are the new last-healthy set. An
 * address an operator took out (OPERATOR_DOWN) never keeps LAST_HEALTHY. */
static void apply_last_healthy(candset_t *s, const MDB_val *old)
{
    size_t healthy = 0;
    for (size_t i = 0; i < s->count; i++)
        healthy += (s->cands[i].flags & GSLB_CAND_HEALTHY) != 0;
    s->hdr.healthy_count = htole16((uint16_t)healthy);
    for (size_t i = 0; i < s->count; i++) {
        gslb_ans_cand_t *c = &s->cands[i];
        if (healthy) {
            if (c->flags & GSLB_CAND_HEALTHY)
                c->flags |= GSLB_CAND_LAST_HEALTHY;
            continue;
        }
        if (!old || (c->flags & GSLB_CAND_OPERATOR_DOWN))
            continue;
        gslb_ans_set_t oh;
        memcpy(&oh, old->mv_data, sizeof(oh));
        const uint8_t *oc = (const uint8_t *)old->mv_data + sizeof(oh);
        for (size_t j = 0; j < le16toh(oh.count); j++) {
            gslb_ans_cand_t prev;
            memcpy(&prev, oc + j * sizeof(prev), sizeof(prev));
            if (memcmp(prev.addr, c->addr, 16) == 0 && (prev.flags & GSLB_CAND_LAST_HEALTHY))
                c->flags |= GSLB_CAND_LAST_HEALTHY;
        }
    }
}

static uint32_t domain_ttl(gslb_env_t *e, MDB_txn *txn, const gslb_domain_rec_t *d)
{
    gslb_zone_rec_t z;
    if (d->ttl)
        return d->ttl;
    if (gslb_store_zone_get(e, txn, d->zone, &z) == GSLB_OK && z.default_ttl)
        return z.default_ttl;
    return FALLBACK_TTL;
}

/* Serialises s, keeps the old generation when nothing changed (and skips the
 * write), else bumps it. */
static int write_set(gslb_env_t *e, MDB_txn *txn, const wname_t *n, uint16_t qtype, candset_t *s,
                     const MDB_val *old)
{
    size_t len = sizeof(s->hdr) + s->count * sizeof(gslb_ans_cand_t);
    uint8_t *buf = malloc(len);
    if (!buf)
        return GSLB_ENOMEM;
    uint32_t old_gen = 0;
    if (old) {
        gslb_ans_set_t oh;
        memcpy(&oh, old->mv_data, sizeof(oh));
        old_gen = le32toh(oh.generation);
    }
    s->hdr.count = htole16((uint16_t)s->count);
    s->hdr.generation = htole32(old_gen);
    memcpy(buf, &s->hdr, sizeof(s->hdr));
    if (s->count)
        memcpy(buf + sizeof(s->hdr), s->cands, s->count * sizeof(gslb_ans_cand_t));
    int rc = GSLB_OK;
    if (!old || old->mv_size != len || memcmp(old->mv_data, buf, len) != 0) {
        s->hdr.generation = htole32(old_gen + 1);
        memcpy(buf, &s->hdr, sizeof(s->hdr));
        rc = ans_put(e, txn, n, qtype, buf, len);
    }
    free(buf);
    return rc;
}

static int rebuild_set(gslb_env_t *e, MDB_txn *txn, const gslb_domain_rec_t *d, const wname_t *n,
                       int family)
{
    uint16_t qtype = family == AF_INET ? QTYPE_A : QTYPE_AAAA;
    candset_t s = {.family = family, .domain = d, .env = e, .txn = txn};
    s.hdr.version = GSLB_ANS_V1;
    s.hdr.kind = GSLB_ANS_KIND_GSLB;
    s.hdr.policy = d->policy;
    s.hdr.unhealthy_mode = d->unhealthy_mode;
    s.hdr.ttl = htole32(domain_ttl(e, txn, d));
    s.hdr.max_records = htole16(d->max_records);
    int rc = gslb_store_foreach_backend(e, txn, d->name, add_backend, &s);
    if (rc == GSLB_OK) {
        MDB_val old;
        /* the old value is read before it is overwritten (LAST_HEALTHY) */
        bool have_old = ans_get(e, txn, n, qtype, &old) == GSLB_ANS_KIND_GSLB;
        apply_last_healthy(&s, have_old ? &old : NULL);
        rc = write_set(e, txn, n, qtype, &s, have_old ? &old : NULL);
    }
    free(s.cands);
    return rc;
}

static int compile_domain(gslb_env_t *e, MDB_txn *txn, const gslb_domain_rec_t *d)
{
    wname_t n, zone;
    int rc = wname_from_text(d->name, &n);
    if (!rc)
        rc = wname_from_text(d->zone, &zone);
    if (rc)
        return rc;
    int off = zone_offset_of(&n, &zone);
    if (off < 0) {
        gslb_error("answers: domain %s is not inside its zone %s", d->name, d->zone);
        return GSLB_EINVAL;
    }
    rc = rebuild_set(e, txn, d, &n, AF_INET);
    if (!rc)
        rc = rebuild_set(e, txn, d, &n, AF_INET6);
    if (!rc)
        rc = node_merge(e, txn, &n, GSLB_NODE_DOMAIN, off);
    if (!rc)
        rc = ensure_ents(e, txn, &n, off);
    return rc;
}

/* ---- removal of a deleted domain ---------------------------------------------- */

/* True when text is a proper descendant of anc ("x.anc"). */
static bool is_below(const char *text, const char *anc)
{
    size_t tl = strlen(text), al = strlen(anc);
    if (al == 0)
        return tl > 0;
    return tl > al + 1 && text[tl - al - 1] == '.' && strcmp(text + tl - al, anc) == 0;
}

struct below_ctx {
    const char *anc;
    bool found;
};

static int domain_below_cb(const gslb_domain_rec_t *d, void *ctx)
{
    struct below_ctx *b = ctx;
    b->found = is_below(d->name, b->anc);
    return b->found ? 1 : 0;
}

static int host_below_cb(const gslb_zone_rec_t *z, void *ctx)
{
    struct below_ctx *b = ctx;
    for (unsigned i = 0; i < z->ns_count && i < GSLB_MAX_NS; i++)
        if (is_below(z->ns[i], b->anc) && is_below(z->ns[i], z->name))
            b->found = true;
    return b->found ? 1 : 0;
}

/* Does any domain or in-zone NS host still live below `text`? */
static bool has_descendant(gslb_env_t *e, MDB_txn *txn, const char *text)
{
    struct below_ctx b = {.anc = text};
    gslb_store_foreach_domain(e, txn, domain_below_cb, &b);
    if (!b.found)
        gslb_store_foreach_zone(e, txn, host_below_cb, &b);
    return b.found;
}

static int remove_domain(gslb_env_t *e, MDB_txn *txn, const char *text)
{
    wname_t n;
    int rc = wname_from_text(text, &n);
    if (rc)
        return rc;
    rc = ans_del(e, txn, &n, QTYPE_A);
    if (!rc)
        rc = ans_del(e, txn, &n, QTYPE_AAAA);
    uint8_t off = 0;
    uint8_t flags = node_flags(e, txn, &n, &off);
    if (rc || !(flags & GSLB_NODE_DOMAIN))
        return rc;
    char cur[GSLB_NAME_MAX];
    gslb_name_normalize(text, cur, sizeof(cur));
    flags &= (uint8_t)(GSLB_NODE_APEX | GSLB_NODE_HOST);
    /* walk up while the names have nothing left to exist for */
    for (;;) {
        if (flags)
            return node_put(e, txn, &n, flags, off);
        if (has_descendant(e, txn, cur))
            return node_put(e, txn, &n, GSLB_NODE_ENT, off);
        rc = ans_del(e, txn, &n, GSLB_ANS_NODE);
        if (rc || off == 0)
            return rc;
        wname_t parent;
        wname_parent(&n, &parent);
        off = (uint8_t)(off - 1 - n.wire[0]);
        n = parent;
        const char *dot = strchr(cur, '.');
        memmove(cur, dot ? dot + 1 : "", strlen(dot ? dot + 1 : "") + 1);
        uint8_t pflags = node_flags(e, txn, &n, NULL);
        if (off == 0 || !(pflags & GSLB_NODE_ENT))
            return GSLB_OK; /* the apex or a real node: stays */
        flags = 0;
    }
}

/* ---- public rebuild entry points ----------------------------------------------- */

int gslb_answers_rebuild_domain(gslb_env_t *e, MDB_txn *txn, const char *domain)
{
    gslb_domain_rec_t d;
    int rc = gslb_store_domain_get(e, txn, domain, &d);
    if (rc == GSLB_ENOENT)
        return remove_domain(e, txn, domain);
    if (rc)
        return rc;
    rc = compile_domain(e, txn, &d);
    if (rc && rc != GSLB_EMAPFULL)
        gslb_error("answers: cannot compile domain %s: %s", d.name, gslb_strerror(rc));
    return rc;
}

/* Deletes every answers entry except the candidate sets of existing domains
 * (kept so that LAST_HEALTHY flags and generations survive a full rebuild;
 * compile_domain() then rewrites them). */
static int drop_all_but_live_sets(gslb_env_t *e, MDB_txn *txn)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, e->dbi[GSLB_DBI_ANSWERS], &cur);
    if (rc)
        return gslb_env_map_err(e, rc, "answers cursor");
    MDB_val k, v;
    int result = GSLB_OK;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        bool keep = gslb_ans_check(v.mv_data, v.mv_size) == GSLB_ANS_KIND_GSLB;
        if (keep) {
            char text[GSLB_NAME_MAX];
            gslb_domain_rec_t d;
            keep = k.mv_size > 2 &&
                   gslb_ans_wire_to_text(k.mv_data, k.mv_size - 2, text, sizeof(text)) >= 0 &&
                   gslb_store_domain_get(e, txn, text, &d) == GSLB_OK;
        }
        if (keep)
            continue;
        rc = mdb_cursor_del(cur, 0);
        if (rc) {
            result = gslb_env_map_err(e, rc, "answers delete");
            break;
        }
    }
    if (result == GSLB_OK && rc != 0 && rc != MDB_NOTFOUND)
        result = gslb_env_map_err(e, rc, "answers scan");
    mdb_cursor_close(cur);
    return result;
}

struct rebuild_ctx {
    gslb_env_t *e;
    MDB_txn *txn;
};

/* A zone or domain that cannot be compiled (bad names) is logged and skipped;
 * storage errors (MAP_FULL, ...) abort the rebuild. */
static int skip_invalid(int rc)
{
    return rc == GSLB_EINVAL ? GSLB_OK : rc;
}

static int zone_cb(const gslb_zone_rec_t *z, void *ctx)
{
    struct rebuild_ctx *c = ctx;
    return skip_invalid(rebuild_zone(c->e, c->txn, z));
}

static int domain_cb(const gslb_domain_rec_t *d, void *ctx)
{
    struct rebuild_ctx *c = ctx;
    int rc = compile_domain(c->e, c->txn, d);
    if (rc && rc != GSLB_EMAPFULL)
        gslb_error("answers: cannot compile domain %s: %s", d->name, gslb_strerror(rc));
    return skip_invalid(rc);
}

int gslb_answers_rebuild_all(gslb_env_t *e, MDB_txn *txn)
{
    struct rebuild_ctx ctx = {e, txn};
    int rc = drop_all_but_live_sets(e, txn);
    if (!rc)
        rc = gslb_store_foreach_zone(e, txn, zone_cb, &ctx);
    if (!rc)
        rc = gslb_store_foreach_domain(e, txn, domain_cb, &ctx);
    return rc;
}
