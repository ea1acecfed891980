/*
 * answer.c - a response for one query (see answer.h and docs/rfc-compliance.md).
 */
#include "answer.h"
#include "denial.h"
#include "gslb_log.h"
#include "signer.h"

#include <assert.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#define IDX_CAP 65535u

/* An A/AAAA record owned by the question name starts with a compression
 * pointer to the question (RFC 1035 4.1.4). */
#define QNAME_PTR (0xC000u | GSLB_DNS_HDR_LEN)

/* Offsets of the header counts we fill in (RFC 1035 4.1.1). */
enum { HDR_FLAGS = 2, HDR_QDCOUNT = 4, HDR_ANCOUNT = 6, HDR_NSCOUNT = 8, HDR_ARCOUNT = 10 };
#define HDR_OPCODE_BITS 0x7800u /* copied from the query */
#define ADDR4_LEN 4
#define ADDR6_LEN 16

/* A response under construction. */
typedef struct resp {
    gslb_cur_t w;
    size_t limit;         /* bytes allowed in total (OPT included) */
    size_t section_start; /* first byte after the question */
    unsigned rcode;       /* 12-bit (extended) rcode */
    bool aa, tc, edns;
    bool ctab_seeded; /* the question name is entered on first use */
    uint16_t an, ns, ar;
    gslb_ctab_t ctab;
    const gslb_query_t *q;
    gslb_signer_zone_t *zone; /* DO=1 in a zone with an ACTIVE key: sign; else NULL */
    bool co;                  /* RFC 9824 5: compact answers OK (echoed) */
    unsigned rrsigs;          /* RRSIGs written */
} resp_t;

/* What lookup() found: an entry of one of the kinds of answers.h, no entry, or
 * a store failure. */
enum found {
    FOUND_ERROR = -1,
    FOUND_NONE = 0,
    FOUND_NODE = GSLB_ANS_KIND_NODE,
    FOUND_STATIC = GSLB_ANS_KIND_STATIC,
    FOUND_GSLB = GSLB_ANS_KIND_GSLB,
    FOUND_KEYS = GSLB_ANS_KIND_KEYS, /* never answered: the signer's private keys */
};

/* Where the query name sits (DO path): its zone and whether it exists. */
typedef struct zone_pos {
    size_t apex_off; /* the apex is qname_lc + apex_off */
    bool exists;     /* the query name itself has a node */
    uint8_t flags;   /* its node flags (when exists) */
} zone_pos_t;

/* ---- context -------------------------------------------------------------- */

int gslb_answer_ctx_init(gslb_answer_ctx_t *ctx, gslb_env_t *env, gslb_stats_t *stats,
                         uint16_t edns_payload, uint64_t seed)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->env = env;
    ctx->answers_dbi = env ? env->dbi[GSLB_DBI_ANSWERS] : 0;
    ctx->edns_payload = edns_payload < GSLB_DNS_UDP_MIN ? GSLB_DNS_UDP_MIN : edns_payload;
    ctx->stats = stats ? stats : &ctx->own_stats;
    gslb_policy_init(&ctx->policy, seed);
    ctx->idx = malloc(IDX_CAP * sizeof(*ctx->idx));
    ctx->cache = calloc(GSLB_ANSWER_CACHE_SLOTS, sizeof(*ctx->cache));
    if (!ctx->idx || !ctx->cache) {
        gslb_answer_ctx_destroy(ctx);
        return GSLB_ENOMEM;
    }
    ctx->idx_cap = IDX_CAP;
    return GSLB_OK;
}

void gslb_answer_ctx_destroy(gslb_answer_ctx_t *ctx)
{
    free(ctx->idx);
    free(ctx->cache);
    ctx->idx = NULL;
    ctx->cache = NULL;
    if (ctx->signer) {
        gslb_signer_destroy(ctx->signer);
        free(ctx->signer);
        ctx->signer = NULL;
    }
}

int gslb_answer_ctx_enable_dnssec(gslb_answer_ctx_t *ctx)
{
    if (ctx->signer)
        return GSLB_OK;
    gslb_signer_t *s = malloc(sizeof(*s));
    if (!s)
        return GSLB_ENOMEM;
    int rc = gslb_signer_init(s);
    if (rc) {
        free(s);
        return rc;
    }
    ctx->signer = s;
    return GSLB_OK;
}

void gslb_answer_set_txn(gslb_answer_ctx_t *ctx, MDB_txn *txn)
{
    ctx->txn = txn;
    ctx->txnid = txn ? (uint64_t)mdb_txn_id(txn) + 1 : 0; /* +1: never the empty marker */
}

/* ---- lookups (per-worker cache keyed by snapshot) --------------------------- */

/* A multiply-xorshift hash over 8-byte words (keys are short DNS names). */
static uint32_t key_hash(const uint8_t *key, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    memcpy(&tail, key + i, len - i);
    h = (h ^ tail) * 0x94D049BB133111EBull;
    return (uint32_t)(h ^ (h >> 32));
}

/* Look up (lower-case wire name, qtype) in the snapshot, through the cache.
 * On FOUND_ERROR, ctx->lookup_err holds the store's error code. */
static enum found lookup(gslb_answer_ctx_t *ctx, const uint8_t *name_lc, size_t nlen, uint16_t type,
                         MDB_val *val)
{
    if (!ctx->txn) {
        ctx->lookup_err = GSLB_ESTORE;
        return FOUND_ERROR;
    }
    uint8_t key[GSLB_ANS_KEY_MAX];
    memcpy(key, name_lc, nlen);
    key[nlen] = (uint8_t)(type >> 8);
    key[nlen + 1] = (uint8_t)type;
    size_t klen = nlen + 2;
    gslb_answer_cache_entry_t *e = NULL;
    if (klen <= GSLB_ANSWER_CACHE_KEY_MAX) {
        e = &ctx->cache[key_hash(key, klen) & (GSLB_ANSWER_CACHE_SLOTS - 1)];
        if (e->txnid == ctx->txnid && e->key_len == klen && memcmp(e->key, key, klen) == 0) {
            ctx->cache_hits++;
            *val = e->val;
            return (enum found)e->kind;
        }
    }
    ctx->cache_misses++;
    int rc = gslb_ans_lookup(ctx->txn, ctx->answers_dbi, key, klen, val);
    if (rc < 0 && rc != GSLB_ENOENT) {
        ctx->lookup_err = rc;
        return FOUND_ERROR;
    }
    enum found kind = rc > 0 ? (enum found)rc : FOUND_NONE;
    if (e) {
        e->txnid = ctx->txnid;
        e->key_len = (uint16_t)klen;
        e->kind = kind;
        e->val = kind != FOUND_NONE ? *val : (MDB_val){0, NULL};
        memcpy(e->key, key, klen);
    }
    return kind;
}

/* ---- response scaffolding ----------------------------------------------------- */

static size_t udp_limit(const gslb_answer_ctx_t *ctx, const gslb_query_t *q)
{
    if (!q->has_edns)
        return GSLB_DNS_UDP_MIN;
    size_t client = q->edns_payload < GSLB_DNS_UDP_MIN ? GSLB_DNS_UDP_MIN : q->edns_payload;
    return client < ctx->edns_payload ? client : ctx->edns_payload;
}

static void resp_begin(resp_t *r, const gslb_query_t *q, const uint8_t *pkt, uint8_t *out,
                       size_t limit, bool edns)
{
    r->aa = r->tc = false;
    r->an = r->ns = r->ar = 0;
    r->ctab_seeded = false;
    r->zone = NULL;
    r->co = false;
    r->rrsigs = 0;
    gslb_ctab_init(&r->ctab);
    r->q = q;
    r->limit = limit;
    r->rcode = GSLB_RCODE_NOERROR;
    r->edns = edns;
    size_t reserve = edns ? GSLB_DNS_OPT_LEN : 0;
    gslb_cur_init(&r->w, out, limit > reserve ? limit - reserve : 0);
    gslb_cur_put_bytes(&r->w, pkt, 4); /* id + flags, rewritten in resp_finish */
    gslb_cur_put_bytes(&r->w, "\0\0\0\0\0\0\0\0", 8);
    if (q->has_question) {
        gslb_cur_put_bytes(&r->w, pkt + GSLB_DNS_HDR_LEN, q->question_end - GSLB_DNS_HDR_LEN);
    }
    r->section_start = r->w.pos;
}

/* The compression table, holding the question name from the first use on
 * (most answers never write a name: their owner is a fixed pointer). */
static gslb_ctab_t *resp_ctab(resp_t *r)
{
    if (!r->ctab_seeded && r->q->has_question)
        gslb_ctab_add_name(&r->ctab, r->q->qname, r->q->qname_len, GSLB_DNS_HDR_LEN);
    r->ctab_seeded = true;
    return &r->ctab;
}

/* The answer does not fit: nothing but the question (and OPT) with TC. */
static void resp_truncate(resp_t *r)
{
    gslb_cur_rewind(&r->w, r->section_start);
    gslb_ctab_forget_from(&r->ctab, r->section_start);
    r->an = r->ns = r->ar = 0;
    r->rrsigs = 0;
    r->tc = true;
}

/* RFC 6891 6.1.3: our payload size, extended rcode bits, DO copied (RFC 3225 3),
 * CO set when compact answers were negotiated (RFC 9824 5), version 0. */
static void write_opt(resp_t *r, uint16_t payload, bool do_bit, bool co_bit)
{
    gslb_cur_resize(&r->w, r->limit);
    gslb_cur_put_u8(&r->w, 0);
    gslb_cur_put_be16(&r->w, GSLB_RR_OPT);
    gslb_cur_put_be16(&r->w, payload);
    gslb_cur_put_be32(&r->w, ((uint32_t)(r->rcode >> 4) << 24) | (do_bit ? GSLB_EDNS_DO : 0) |
                                 (co_bit ? GSLB_EDNS_CO : 0));
    gslb_cur_put_be16(&r->w, 0);
    r->ar++;
}

static size_t resp_finish(gslb_answer_ctx_t *ctx, resp_t *r)
{
    const gslb_query_t *q = r->q;
    if (r->w.err) /* header/question cannot overflow a 512-byte limit; be safe anyway */
        resp_truncate(r);
    if (r->edns)
        write_opt(r, ctx->edns_payload, q->edns_do, r->co);
    uint8_t *h = r->w.buf;
    uint16_t flags = GSLB_FLAG_QR | (q->flags & (HDR_OPCODE_BITS | GSLB_FLAG_RD | GSLB_FLAG_CD));
    flags |= (r->aa ? GSLB_FLAG_AA : 0) | (r->tc ? GSLB_FLAG_TC : 0) | (r->rcode & 0xF);
    gslb_put_be16(h + HDR_FLAGS, flags);
    gslb_put_be16(h + HDR_QDCOUNT, q->has_question ? 1 : 0);
    gslb_put_be16(h + HDR_ANCOUNT, r->an);
    gslb_put_be16(h + HDR_NSCOUNT, r->ns);
    gslb_put_be16(h + HDR_ARCOUNT, r->ar);
    gslb_stats_answer(ctx->stats, q->has_question ? q->qtype : 0, r->rcode);
    if (r->tc)
        gslb_stats_inc(ctx->stats, GSLB_ST_TRUNCATED);
    if (r->rcode == GSLB_RCODE_NOERROR && r->an == 0 && !r->tc)
        gslb_stats_inc(ctx->stats, GSLB_ST_NODATA);
    if (r->rrsigs)
        gslb_stats_inc(ctx->stats, GSLB_ST_DNSSEC_ANSWERS);
    return r->w.pos;
}

/* ---- record writers --------------------------------------------------------------- */

/* Copy rdata, compressing the names of NS and SOA (RFC 3597 4: well-known types). */
static void write_rdata(resp_t *r, uint16_t type, const uint8_t *rd, size_t rdlen)
{
    int n1 = -1, n2 = -1;
    if (type == GSLB_RR_NS) {
        n1 = gslb_dname_len(rd, rdlen);
        if (n1 != (int)rdlen)
            n1 = -1;
    } else if (type == GSLB_RR_SOA) {
        n1 = gslb_dname_len(rd, rdlen);
        n2 = n1 > 0 ? gslb_dname_len(rd + n1, rdlen - (size_t)n1) : -1;
        if (n2 <= 0 || (size_t)(n1 + n2) + GSLB_SOA_FIXED_LEN != rdlen)
            n1 = -1;
    }
    if (n1 <= 0) {
        gslb_cur_put_bytes(&r->w, rd, rdlen);
        return;
    }
    gslb_wire_put_name(&r->w, resp_ctab(r), rd, (size_t)n1);
    if (type == GSLB_RR_SOA) {
        gslb_wire_put_name(&r->w, resp_ctab(r), rd + n1, (size_t)n2);
        gslb_cur_put_bytes(&r->w, rd + n1 + n2, GSLB_SOA_FIXED_LEN);
    }
}

/* One RR whose owner is an uncompressed name (compressed against the table). */
static void write_rr(resp_t *r, const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
                     const uint8_t *rd, size_t rdlen)
{
    gslb_wire_put_name(&r->w, resp_ctab(r), owner, owner_len);
    gslb_cur_put_be16(&r->w, type);
    gslb_cur_put_be16(&r->w, GSLB_CLASS_IN);
    gslb_cur_put_be32(&r->w, ttl);
    size_t len_at = r->w.pos;
    gslb_cur_put_be16(&r->w, 0);
    write_rdata(r, type, rd, rdlen);
    if (!r->w.err)
        gslb_put_be16(r->w.buf + len_at, (uint16_t)(r->w.pos - len_at - 2));
}

/* ---- RRsets --------------------------------------------------------------------------- */

/* Where the records of an RRset come from. */
enum rrset_source {
    FROM_STATIC, /* a static answers value: {le16 rdlength, rdata} records */
    FROM_CANDS,  /* picked candidates of an A/AAAA set; owner = the question name */
    FROM_RDATA,  /* one record built here (HINFO, NSEC) */
};

/* One RRset to put into the response. */
typedef struct rrset {
    const uint8_t *owner; /* as written (case kept) */
    size_t owner_len;
    uint16_t type;
    uint32_t ttl;      /* of its records and its RRSIG, as written */
    uint32_t orig_ttl; /* the original TTL the RRSIG covers (RFC 4034 3.1.4) */
    unsigned count;    /* records */
    enum rrset_source from;
    const uint8_t *rd;            /* FROM_STATIC: the first record; FROM_RDATA: the rdata */
    size_t rdlen;                 /* FROM_RDATA */
    const gslb_ans_cand_t *cands; /* FROM_CANDS: cands[idx[0..count)] */
    const uint16_t *idx;
} rrset_t;

/* A static RRset value (checked) at owner: at most max_records of it (0 = all),
 * written with ttl_override (0 = the set's own TTL); signed with its own TTL. */
static rrset_t rrset_static(const uint8_t *owner, size_t owner_len, uint16_t type,
                            const MDB_val *val, uint32_t ttl_override, unsigned max_records)
{
    const gslb_ans_static_t *st = val->mv_data;
    unsigned count = le16toh(st->count);
    uint32_t ttl = le32toh(st->ttl);
    return (rrset_t){.owner = owner,
                     .owner_len = owner_len,
                     .type = type,
                     .ttl = ttl_override ? ttl_override : ttl,
                     .orig_ttl = ttl,
                     .count = max_records && count > max_records ? max_records : count,
                     .from = FROM_STATIC,
                     .rd = (const uint8_t *)val->mv_data + sizeof(*st)};
}

/* The n picked candidates idx[] of an A/AAAA set, at the question name. */
static rrset_t rrset_cands(const gslb_query_t *q, uint16_t type, const gslb_ans_set_t *set,
                           const uint16_t *idx, size_t n)
{
    return (rrset_t){.owner = q->qname,
                     .owner_len = q->qname_len,
                     .type = type,
                     .ttl = le32toh(set->ttl),
                     .orig_ttl = le32toh(set->ttl),
                     .count = (unsigned)n,
                     .from = FROM_CANDS,
                     .cands = gslb_ans_cands(set),
                     .idx = idx};
}

/* One record of rdata rd at owner. */
static rrset_t rrset_rdata(const uint8_t *owner, size_t owner_len, uint16_t type, uint32_t ttl,
                           const uint8_t *rd, size_t rdlen)
{
    return (rrset_t){.owner = owner,
                     .owner_len = owner_len,
                     .type = type,
                     .ttl = ttl,
                     .orig_ttl = ttl,
                     .count = 1,
                     .from = FROM_RDATA,
                     .rd = rd,
                     .rdlen = rdlen};
}

static size_t cand_rdlen(uint16_t type)
{
    return type == GSLB_RR_A ? ADDR4_LEN : ADDR6_LEN;
}

/* The picked candidates, owner = a pointer to the question name. The first
 * record's fixed part is written once and copied for the others. Writes all
 * of them or nothing; false when they do not fit. */
static bool write_cands(resp_t *r, const rrset_t *s)
{
    size_t rdlen = cand_rdlen(s->type);
    size_t fixed = 2 + GSLB_RR_HDR_LEN; /* compression pointer + type .. rdlength */
    size_t rrlen = fixed + rdlen;
    uint8_t *first = gslb_cur_reserve(&r->w, s->count * rrlen);
    if (!first)
        return false;
    gslb_cur_t f;
    gslb_cur_init(&f, first, rrlen);
    gslb_cur_put_be16(&f, QNAME_PTR);
    gslb_cur_put_be16(&f, s->type);
    gslb_cur_put_be16(&f, GSLB_CLASS_IN);
    gslb_cur_put_be32(&f, s->ttl);
    gslb_cur_put_be16(&f, (uint16_t)rdlen);
    gslb_cur_put_bytes(&f, s->cands[s->idx[0]].addr, rdlen);
    assert(f.err == 0 && f.pos == rrlen);
    uint8_t *o = first + rrlen;
    for (size_t i = 1; i < s->count; i++) {
        memcpy(o, first, fixed);
        memcpy(o + fixed, s->cands[s->idx[i]].addr, rdlen);
        o += rrlen;
    }
    return true;
}

/* Every record of the set; false when they did not fit (cursor in error). */
static bool write_records(resp_t *r, const rrset_t *s)
{
    if (s->from == FROM_CANDS)
        return write_cands(r, s);
    if (s->from == FROM_RDATA) {
        write_rr(r, s->owner, s->owner_len, s->type, s->ttl, s->rd, s->rdlen);
        return !r->w.err;
    }
    const uint8_t *p = s->rd;
    for (unsigned i = 0; i < s->count; i++) {
        uint16_t rdlen = gslb_get_le16(p);
        write_rr(r, s->owner, s->owner_len, s->type, s->ttl, p + 2, rdlen);
        p += 2u + rdlen;
    }
    return !r->w.err;
}

/* Hand the set's records to the signer (RRset begun by the caller). */
static void add_to_signer(gslb_signer_t *sg, const rrset_t *s)
{
    if (s->from == FROM_RDATA) {
        gslb_signer_rrset_add(sg, s->rd, s->rdlen);
    } else if (s->from == FROM_CANDS) {
        for (size_t i = 0; i < s->count; i++)
            gslb_signer_rrset_add(sg, s->cands[s->idx[i]].addr, cand_rdlen(s->type));
    } else {
        const uint8_t *p = s->rd;
        for (unsigned i = 0; i < s->count; i++) {
            uint16_t rdlen = gslb_get_le16(p);
            gslb_signer_rrset_add(sg, p + 2, rdlen);
            p += 2u + rdlen;
        }
    }
}

/* ---- DNSSEC: RRSIGs (DO=1 in a signed zone, r->zone set) ---------------------------- */

/* Signing failed (crypto or memory): nothing of the answer is sent, SERVFAIL. */
static void sign_failure(gslb_answer_ctx_t *ctx, resp_t *r, int rc)
{
    gslb_stats_inc(ctx->stats, GSLB_ST_DNSSEC_ERRORS);
    gslb_debug("dns: signing failed: %s", gslb_strerror(rc));
    gslb_cur_rewind(&r->w, r->section_start);
    gslb_ctab_forget_from(&r->ctab, r->section_start);
    r->an = r->ns = r->ar = 0;
    r->rrsigs = 0;
    r->zone = NULL;
    r->rcode = GSLB_RCODE_SERVFAIL;
    r->aa = false;
}

/* What put_rrset() did. */
enum put_result {
    PUT_OK,    /* the RRset (and its RRSIG when signing) is in the response */
    PUT_NOFIT, /* it did not fit: nothing of it is left (answer/authority: TC set) */
    PUT_ERROR, /* signing failed: the response is now an empty SERVFAIL */
};

/* Sign the set and write its RRSIG (owner as written, TTL = the set's as
 * written, original TTL = orig_ttl). */
static enum put_result put_rrsig(gslb_answer_ctx_t *ctx, resp_t *r, const rrset_t *s)
{
    gslb_signer_rrset_begin(ctx->signer, s->owner, s->owner_len, s->type, s->orig_ttl);
    add_to_signer(ctx->signer, s);
    uint8_t rd[GSLB_RRSIG_RDATA_MAX];
    bool cached = false;
    int n = gslb_signer_rrset_sign(ctx->signer, r->zone, rd, sizeof(rd), &cached);
    if (n < 0) {
        sign_failure(ctx, r, n);
        return PUT_ERROR;
    }
    gslb_stats_inc(ctx->stats, cached ? GSLB_ST_DNSSEC_CACHE_HITS : GSLB_ST_DNSSEC_SIGNATURES);
    write_rr(r, s->owner, s->owner_len, GSLB_RR_RRSIG, s->ttl, rd, (size_t)n);
    return r->w.err ? PUT_NOFIT : PUT_OK;
}

enum section { SEC_ANSWER, SEC_AUTHORITY, SEC_ADDITIONAL };

static void count_records(resp_t *r, enum section sec, unsigned n)
{
    uint16_t *count = sec == SEC_ANSWER ? &r->an : sec == SEC_AUTHORITY ? &r->ns : &r->ar;
    *count = (uint16_t)(*count + n);
}

/* Put an RRset into a section: its records, then, in a signed zone (r->zone),
 * its RRSIG. An RRset and its RRSIG go in together or not at all: when they
 * do not fit, the cursor and the compression table are rolled back to where
 * the RRset began, and in the answer and authority sections the whole answer
 * is truncated (TC); additional data is just left out (RFC 2181 9). An empty
 * set writes nothing and is not signed. The section counts, and the RRSIG
 * count, rise only for what went in. */
static enum put_result put_rrset(gslb_answer_ctx_t *ctx, resp_t *r, const rrset_t *s,
                                 enum section sec)
{
    if (s->count == 0)
        return PUT_OK;
    size_t mark = r->w.pos;
    bool sign = r->zone != NULL;
    enum put_result res = write_records(r, s) ? PUT_OK : PUT_NOFIT;
    if (res == PUT_OK && sign)
        res = put_rrsig(ctx, r, s);
    if (res == PUT_OK) {
        count_records(r, sec, s->count + (sign ? 1u : 0u));
        r->rrsigs += sign ? 1u : 0u;
    } else if (res == PUT_NOFIT) {
        gslb_cur_rewind(&r->w, mark);
        gslb_ctab_forget_from(&r->ctab, mark);
        if (sec != SEC_ADDITIONAL)
            resp_truncate(r);
    }
    return res;
}

/* Whether the RRset (name, type) has records (compact denial bitmaps). */
static bool has_rrset(gslb_answer_ctx_t *ctx, const uint8_t *name, size_t len, uint16_t type)
{
    MDB_val val;
    enum found kind = lookup(ctx, name, len, type, &val);
    if (kind == FOUND_STATIC)
        return le16toh(((const gslb_ans_static_t *)val.mv_data)->count) > 0;
    if (kind == FOUND_GSLB)
        return le16toh(((const gslb_ans_set_t *)val.mv_data)->count) > 0;
    return false;
}

/* The types present at an existing name, for its NSEC (RFC 9824 3.2, 3.3). */
static void node_types(gslb_answer_ctx_t *ctx, const uint8_t *name, size_t len, uint8_t flags,
                       gslb_typemap_t *m)
{
    gslb_typemap_clear(m);
    gslb_typemap_set(m, GSLB_RR_RRSIG, true);
    gslb_typemap_set(m, GSLB_RR_NSEC, true);
    if (flags & GSLB_NODE_APEX) {
        gslb_typemap_set(m, GSLB_RR_SOA, true);
        gslb_typemap_set(m, GSLB_RR_NS, true);
        gslb_typemap_set(m, GSLB_RR_DNSKEY, has_rrset(ctx, name, len, GSLB_RR_DNSKEY));
    }
    if (flags & (GSLB_NODE_DOMAIN | GSLB_NODE_HOST)) {
        gslb_typemap_set(m, GSLB_RR_A, has_rrset(ctx, name, len, GSLB_RR_A));
        gslb_typemap_set(m, GSLB_RR_AAAA, has_rrset(ctx, name, len, GSLB_RR_AAAA));
    }
}

/* The NSEC of the query name (next = its successor) and its RRSIG, put into
 * section sec like any RRset. */
static enum put_result put_nsec(gslb_answer_ctx_t *ctx, resp_t *r, const gslb_typemap_t *types,
                                uint32_t ttl, enum section sec)
{
    const gslb_query_t *q = r->q;
    uint8_t rd[GSLB_DNS_NAME_MAX + 2 + sizeof(types->bits)];
    int n = gslb_denial_nsec_rdata(q->qname_lc, q->qname_len, types, rd, sizeof(rd));
    if (n < 0) {
        sign_failure(ctx, r, n);
        return PUT_ERROR;
    }
    rrset_t nsec = rrset_rdata(q->qname, q->qname_len, GSLB_RR_NSEC, ttl, rd, (size_t)n);
    return put_rrset(ctx, r, &nsec, sec);
}

/* ---- negative answers ------------------------------------------------------------- */

/* SOA of the zone in the authority section (RFC 2308 3), TTL = neg_ttl, and
 * its RRSIG when signing. Returns true with *neg_out set when the SOA (and
 * RRSIG) went in; false when there is none, it did not fit (TC) or signing
 * failed (SERVFAIL). */
static bool add_negative_soa(gslb_answer_ctx_t *ctx, resp_t *r, size_t apex_off, uint32_t *neg_out)
{
    const gslb_query_t *q = r->q;
    MDB_val val;
    const uint8_t *apex = q->qname_lc + apex_off;
    size_t apex_len = q->qname_len - apex_off;
    if (lookup(ctx, apex, apex_len, GSLB_RR_SOA, &val) != FOUND_STATIC)
        return false;
    const gslb_ans_static_t *st = val.mv_data;
    if (st->count < 1)
        return false;
    uint32_t neg_ttl = le32toh(st->neg_ttl) ? le32toh(st->neg_ttl) : le32toh(st->ttl);
    rrset_t soa = rrset_static(apex, apex_len, GSLB_RR_SOA, &val, neg_ttl, 1);
    if (put_rrset(ctx, r, &soa, SEC_AUTHORITY) != PUT_OK)
        return false;
    *neg_out = neg_ttl;
    return true;
}

/* NODATA; signed: with the NSEC of the name listing the types it has. */
static void answer_nodata(gslb_answer_ctx_t *ctx, resp_t *r, size_t apex_off, uint8_t node_flags)
{
    r->rcode = GSLB_RCODE_NOERROR;
    r->aa = true;
    uint32_t neg_ttl = 0;
    if (!add_negative_soa(ctx, r, apex_off, &neg_ttl) || !r->zone)
        return;
    const gslb_query_t *q = r->q;
    gslb_typemap_t types;
    node_types(ctx, q->qname_lc, q->qname_len, node_flags, &types);
    gslb_typemap_set(&types, q->qtype, false);
    put_nsec(ctx, r, &types, neg_ttl, SEC_AUTHORITY);
}

/* Compact denial of a nonexistent name (RFC 9824 3.1): NOERROR (NXDOMAIN when
 * the client sent CO, RFC 9824 5) with an NSEC of types RRSIG, NSEC, NXNAME. */
static void answer_nxname(gslb_answer_ctx_t *ctx, resp_t *r, size_t apex_off)
{
    r->rcode = r->co ? GSLB_RCODE_NXDOMAIN : GSLB_RCODE_NOERROR;
    r->aa = true;
    uint32_t neg_ttl = 0;
    if (!add_negative_soa(ctx, r, apex_off, &neg_ttl))
        return;
    gslb_typemap_t types;
    gslb_typemap_clear(&types);
    gslb_typemap_set(&types, GSLB_RR_RRSIG, true);
    gslb_typemap_set(&types, GSLB_RR_NSEC, true);
    gslb_typemap_set(&types, GSLB_RR_NXNAME, true);
    put_nsec(ctx, r, &types, neg_ttl, SEC_AUTHORITY);
}

/* ---- positive answers ---------------------------------------------------------------- */

/* In-zone addresses of the NS targets just written (additional section; in a
 * signed zone with their RRSIGs: in-zone hosts are authoritative data). The
 * first RRset that does not fit ends the glue, without TC. */
static void add_ns_glue(gslb_answer_ctx_t *ctx, resp_t *r, const MDB_val *ns_val)
{
    const gslb_ans_static_t *st = ns_val->mv_data;
    const uint8_t *p = (const uint8_t *)ns_val->mv_data + sizeof(*st);
    for (unsigned i = 0; i < le16toh(st->count); i++) {
        uint16_t rdlen = gslb_get_le16(p);
        const uint8_t *target = p + 2;
        p += 2u + rdlen;
        if (gslb_dname_len(target, rdlen) != (int)rdlen)
            continue;
        uint8_t lc[GSLB_DNS_NAME_MAX];
        gslb_dname_lower(lc, target, rdlen);
        static const uint16_t types[2] = {GSLB_RR_A, GSLB_RR_AAAA};
        for (int t = 0; t < 2; t++) {
            MDB_val val;
            if (lookup(ctx, lc, rdlen, types[t], &val) != FOUND_STATIC)
                continue;
            rrset_t glue = rrset_static(target, rdlen, types[t], &val, 0, 0);
            if (put_rrset(ctx, r, &glue, SEC_ADDITIONAL) != PUT_OK)
                return;
        }
    }
}

/* A GSLB name with no backend state at all: no candidate in this family's set
 * and none in the other family's. Not "no data" (a resolver would cache that)
 * but "cannot answer now" (SERVFAIL: it tries another overwatch). A set that
 * has candidates, all unhealthy, is left to the domain's all_unhealthy mode. */
static bool has_no_backend_state(gslb_answer_ctx_t *ctx, const gslb_query_t *q, uint16_t type,
                                 const gslb_ans_set_t *set)
{
    if (le16toh(set->count) != 0)
        return false;
    uint16_t other = type == GSLB_RR_A ? GSLB_RR_AAAA : GSLB_RR_A;
    MDB_val val;
    if (lookup(ctx, q->qname_lc, q->qname_len, other, &val) != FOUND_GSLB)
        return true;
    const gslb_ans_set_t *other_set = val.mv_data;
    return le16toh(other_set->count) == 0;
}

/* Answer from an RRset value at the question name. Returns true when records
 * were written (or the answer was truncated / failed), false for "no data". */
static bool answer_rrset(gslb_answer_ctx_t *ctx, resp_t *r, uint16_t type, enum found kind,
                         const MDB_val *val)
{
    const gslb_query_t *q = r->q;
    if (kind == FOUND_GSLB) {
        if (type != GSLB_RR_A && type != GSLB_RR_AAAA)
            return false;
        const gslb_ans_set_t *set = val->mv_data;
        size_t n = 0;
        enum gslb_pick_result pick =
            gslb_policy_pick(&ctx->policy, set, ctx->idx, ctx->idx_cap, &n);
        if (pick == GSLB_PICK_SERVFAIL || has_no_backend_state(ctx, q, type, set)) {
            r->rcode = GSLB_RCODE_SERVFAIL;
            r->aa = false;
            return true;
        }
        if (pick != GSLB_PICK_ANSWER)
            return false;
        rrset_t picked = rrset_cands(q, type, set, ctx->idx, n);
        put_rrset(ctx, r, &picked, SEC_ANSWER);
        return true;
    }
    if (kind != FOUND_STATIC)
        return false;
    const gslb_ans_static_t *st = val->mv_data;
    if (st->count == 0)
        return false;
    rrset_t rrset = rrset_static(q->qname, q->qname_len, type, val, 0, 0);
    if (put_rrset(ctx, r, &rrset, SEC_ANSWER) == PUT_OK && type == GSLB_RR_NS)
        add_ns_glue(ctx, r, val);
    return true;
}

/* The synthesized HINFO "RFC8482" "" of RFC 8482 4.2 (HINFO rdata: RFC 1035 3.3.2). */
static void answer_hinfo(gslb_answer_ctx_t *ctx, resp_t *r, size_t apex_off)
{
    static const uint8_t rd[] = {7, 'R', 'F', 'C', '8', '4', '8', '2', 0};
    const gslb_query_t *q = r->q;
    uint32_t ttl = 3600;
    MDB_val val;
    if (lookup(ctx, q->qname_lc + apex_off, q->qname_len - apex_off, GSLB_RR_SOA, &val) ==
        FOUND_STATIC) {
        const gslb_ans_static_t *st = val.mv_data;
        ttl = le32toh(st->neg_ttl) ? le32toh(st->neg_ttl) : le32toh(st->ttl);
    }
    rrset_t hinfo = rrset_rdata(q->qname, q->qname_len, GSLB_RR_HINFO, ttl, rd, sizeof(rd));
    put_rrset(ctx, r, &hinfo, SEC_ANSWER);
}

/* ANY (RFC 8482): one RRset that exists here, else a synthesized HINFO. */
static void answer_any(gslb_answer_ctx_t *ctx, resp_t *r, size_t apex_off)
{
    static const uint16_t order[4] = {GSLB_RR_A, GSLB_RR_AAAA, GSLB_RR_SOA, GSLB_RR_NS};
    const gslb_query_t *q = r->q;
    for (int i = 0; i < 4; i++) {
        MDB_val val;
        enum found kind = lookup(ctx, q->qname_lc, q->qname_len, order[i], &val);
        if (kind == FOUND_ERROR) {
            gslb_stats_inc(ctx->stats, GSLB_ST_STORE_ERRORS);
            r->rcode = GSLB_RCODE_SERVFAIL;
            r->aa = false;
            return;
        }
        if (kind == FOUND_NONE)
            continue;
        resp_t saved = *r;
        if (answer_rrset(ctx, r, order[i], kind, &val) && r->rcode == GSLB_RCODE_NOERROR)
            return;
        *r = saved; /* a SERVFAIL pick: try the next type */
    }
    answer_hinfo(ctx, r, apex_off);
}

/* ---- name resolution ---------------------------------------------------------------- */

static bool is_label_start(const gslb_query_t *q, size_t off)
{
    for (unsigned i = 0; i < q->label_count; i++) {
        if (q->label_off[i] == off)
            return true;
    }
    return false;
}

/* The node entry of a name (its zone_offset is checked to lie inside the name). */
static int lookup_node(gslb_answer_ctx_t *ctx, const uint8_t *name, size_t len,
                       gslb_ans_node_t *node)
{
    MDB_val val;
    enum found kind = lookup(ctx, name, len, GSLB_ANS_NODE, &val);
    if (kind == FOUND_ERROR)
        return ctx->lookup_err < 0 ? ctx->lookup_err : GSLB_ESTORE;
    if (kind == FOUND_NONE)
        return GSLB_ENOENT;
    if (kind != FOUND_NODE)
        return GSLB_ECORRUPT;
    memcpy(node, val.mv_data, sizeof(*node));
    if (node->zone_offset >= len)
        return GSLB_ECORRUPT;
    return GSLB_OK;
}

static void store_failure(gslb_answer_ctx_t *ctx, resp_t *r, int rc)
{
    gslb_stats_inc(ctx->stats, GSLB_ST_STORE_ERRORS);
    gslb_debug("dns: answer lookup failed: %s", gslb_strerror(rc));
    r->rcode = GSLB_RCODE_SERVFAIL;
    r->aa = false;
}

/* The name does not exist: NXDOMAIN in the zone of its closest existing
 * ancestor, REFUSED when no zone contains it. */
static void answer_missing_name(gslb_answer_ctx_t *ctx, resp_t *r)
{
    const gslb_query_t *q = r->q;
    for (unsigned i = 1; i < q->label_count; i++) {
        size_t off = q->label_off[i];
        gslb_ans_node_t node;
        int rc = lookup_node(ctx, q->qname_lc + off, q->qname_len - off, &node);
        if (rc == GSLB_ENOENT)
            continue;
        if (rc < 0) {
            store_failure(ctx, r, rc);
            return;
        }
        size_t apex_off = off + node.zone_offset;
        if (!is_label_start(q, apex_off)) {
            store_failure(ctx, r, GSLB_ECORRUPT);
            return;
        }
        if (r->zone) {
            answer_nxname(ctx, r, apex_off);
            return;
        }
        r->rcode = GSLB_RCODE_NXDOMAIN;
        r->aa = true;
        uint32_t neg_ttl;
        add_negative_soa(ctx, r, apex_off, &neg_ttl);
        return;
    }
    r->rcode = GSLB_RCODE_REFUSED;
}

static void answer_existing_name(gslb_answer_ctx_t *ctx, resp_t *r, const gslb_ans_node_t *node)
{
    const gslb_query_t *q = r->q;
    size_t apex_off = node->zone_offset;
    if (!is_label_start(q, apex_off)) {
        store_failure(ctx, r, GSLB_ECORRUPT);
        return;
    }
    r->aa = true;
    if (node->flags & GSLB_NODE_ENT) {
        answer_nodata(ctx, r, apex_off, node->flags);
        return;
    }
    if (q->qtype == GSLB_RR_ANY) {
        answer_any(ctx, r, apex_off);
        return;
    }
    MDB_val val;
    enum found kind = lookup(ctx, q->qname_lc, q->qname_len, q->qtype, &val);
    if (kind == FOUND_ERROR) {
        store_failure(ctx, r, ctx->lookup_err);
        return;
    }
    if (kind != FOUND_NONE && answer_rrset(ctx, r, q->qtype, kind, &val))
        return;
    answer_nodata(ctx, r, apex_off, node->flags);
}

/* ---- DNSSEC: the zone of a DO query ------------------------------------------------- */

/* The closest existing name at or above the query name, and its zone. */
static int find_zone(gslb_answer_ctx_t *ctx, const gslb_query_t *q, zone_pos_t *zp)
{
    for (unsigned i = 0; i < q->label_count; i++) {
        size_t off = q->label_off[i];
        gslb_ans_node_t node;
        int rc = lookup_node(ctx, q->qname_lc + off, q->qname_len - off, &node);
        if (rc == GSLB_ENOENT)
            continue;
        if (rc < 0)
            return rc;
        zp->apex_off = off + node.zone_offset;
        if (!is_label_start(q, zp->apex_off))
            return GSLB_ECORRUPT;
        zp->exists = i == 0;
        zp->flags = node.flags;
        return GSLB_OK;
    }
    return GSLB_ENOENT;
}

/* QTYPE NSEC: the NSEC that compact denial shows for this name, as an answer. */
static void answer_nsec_query(gslb_answer_ctx_t *ctx, resp_t *r, const zone_pos_t *zp)
{
    const gslb_query_t *q = r->q;
    MDB_val val;
    r->aa = true;
    if (lookup(ctx, q->qname_lc + zp->apex_off, q->qname_len - zp->apex_off, GSLB_RR_SOA, &val) !=
        FOUND_STATIC) {
        store_failure(ctx, r, GSLB_ECORRUPT);
        return;
    }
    const gslb_ans_static_t *st = val.mv_data;
    uint32_t ttl = le32toh(st->neg_ttl) ? le32toh(st->neg_ttl) : le32toh(st->ttl);
    gslb_typemap_t types;
    if (zp->exists) {
        node_types(ctx, q->qname_lc, q->qname_len, zp->flags, &types);
    } else {
        gslb_typemap_clear(&types);
        gslb_typemap_set(&types, GSLB_RR_RRSIG, true);
        gslb_typemap_set(&types, GSLB_RR_NSEC, true);
        gslb_typemap_set(&types, GSLB_RR_NXNAME, true);
    }
    put_nsec(ctx, r, &types, ttl, SEC_ANSWER);
}

/* DO=1: find the zone's signing keys (r->zone stays NULL for an unsigned zone
 * or a name outside every zone) and answer the DNSSEC meta-queries. Returns
 * false when the response is complete. */
static bool prepare_signing(gslb_answer_ctx_t *ctx, resp_t *r)
{
    const gslb_query_t *q = r->q;
    zone_pos_t zp;
    int rc = find_zone(ctx, q, &zp);
    if (rc == GSLB_ENOENT)
        return true;
    if (rc == GSLB_OK)
        rc = gslb_signer_zone(ctx->signer, ctx->env, ctx->txn, ctx->txnid,
                              q->qname_lc + zp.apex_off, q->qname_len - zp.apex_off, &r->zone);
    if (rc < 0) {
        store_failure(ctx, r, rc);
        return false;
    }
    if (!r->zone && ctx->keys_pending && atomic_load(ctx->keys_pending)) {
        r->rcode = GSLB_RCODE_SERVFAIL; /* unsigned would be bogus under the parent's DS */
        return false;
    }
    if (!r->zone)
        return true;
    r->co = (q->edns_flags & GSLB_EDNS_CO) != 0;
    if (q->qtype == GSLB_RR_RRSIG) { /* RRSIGs exist only beside their RRset (as Knot) */
        r->rcode = GSLB_RCODE_REFUSED;
        return false;
    }
    if (q->qtype == GSLB_RR_NSEC) {
        answer_nsec_query(ctx, r, &zp);
        return false;
    }
    return true;
}

static void answer_question(gslb_answer_ctx_t *ctx, resp_t *r)
{
    const gslb_query_t *q = r->q;
    if (q->qclass != GSLB_CLASS_IN) {
        r->rcode = GSLB_RCODE_REFUSED;
        return;
    }
    switch (q->qtype) {
    case GSLB_RR_OPT:
    case GSLB_RR_NXNAME: /* RFC 9824 3.5 */
        r->rcode = GSLB_RCODE_FORMERR;
        return;
    case GSLB_RR_AXFR:
    case GSLB_RR_IXFR:
        r->rcode = GSLB_RCODE_REFUSED;
        return;
    case GSLB_RR_MAILA:
    case GSLB_RR_MAILB:
        r->rcode = GSLB_RCODE_NOTIMP;
        return;
    default:
        break;
    }
    if (q->edns_do && ctx->signer && !prepare_signing(ctx, r))
        return;
    /* Fast path: the RRset itself (its existence implies the name's). */
    if (q->qtype != GSLB_RR_ANY) {
        MDB_val val;
        enum found kind = lookup(ctx, q->qname_lc, q->qname_len, q->qtype, &val);
        if (kind == FOUND_ERROR) {
            store_failure(ctx, r, ctx->lookup_err);
            return;
        }
        if (kind != FOUND_NONE) {
            r->aa = true;
            if (answer_rrset(ctx, r, q->qtype, kind, &val))
                return;
        }
    }
    gslb_ans_node_t node;
    int rc = lookup_node(ctx, q->qname_lc, q->qname_len, &node);
    if (rc == GSLB_OK)
        answer_existing_name(ctx, r, &node);
    else if (rc == GSLB_ENOENT)
        answer_missing_name(ctx, r);
    else
        store_failure(ctx, r, rc);
}

size_t gslb_answer_query(gslb_answer_ctx_t *ctx, const uint8_t *pkt, size_t len,
                         enum gslb_transport transport, uint8_t *out, size_t out_cap)
{
    gslb_query_t q;
    enum gslb_parse_action action = gslb_wire_parse_query(pkt, len, &q);
    if (action == GSLB_PARSE_DROP) {
        gslb_stats_inc(ctx->stats, GSLB_ST_DROPPED);
        return 0;
    }
    if (q.has_edns) {
        gslb_stats_inc(ctx->stats, GSLB_ST_EDNS);
        if (q.edns_do)
            gslb_stats_inc(ctx->stats, GSLB_ST_EDNS_DO);
    }
    size_t limit = transport == GSLB_TRANSPORT_TCP ? GSLB_DNS_MSG_MAX : udp_limit(ctx, &q);
    if (limit > out_cap)
        limit = out_cap;
    if (limit < GSLB_DNS_HDR_LEN)
        return 0;
    resp_t r;
    resp_begin(&r, &q, pkt, out, limit, q.has_edns && action != GSLB_PARSE_FORMERR);
    switch (action) {
    case GSLB_PARSE_FORMERR:
        r.rcode = GSLB_RCODE_FORMERR;
        break;
    case GSLB_PARSE_NOTIMP:
        r.rcode = GSLB_RCODE_NOTIMP;
        break;
    case GSLB_PARSE_BADVERS:
        r.rcode = GSLB_RCODE_BADVERS;
        break;
    default:
        answer_question(ctx, &r);
        break;
    }
    return resp_finish(ctx, &r);
}
