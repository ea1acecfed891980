/*
 * records.c - versioned binary encodings of the stored records (records.h),
 * driven by one layout table per record kind (reclayout.h).
 *
 * Layout of every value: version byte (GSLB_REC_V1) then the fields in the
 * order of the kind's table below (= declaration order): little-endian
 * integers, strings as u16 length + bytes (no NUL, shorter than the struct's
 * array), addresses as a family code (0 none, 4 IPv4, 6 IPv6) + 0/4/16 bytes,
 * booleans packed in a flags byte. Decoders require the value to be consumed
 * exactly (no trailing bytes).
 */
#include "records.h"
#include "cursor.h"
#include "gslb_err.h"
#include "reclayout.h"

#include <assert.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* ---- field codecs -------------------------------------------------------- */

#define REC_VERSION_LEN 1

static void put_str(gslb_cur_t *w, const char *s, size_t field_size)
{
    size_t n = strnlen(s, field_size);
    if (n >= field_size) { /* not NUL-terminated inside its array */
        gslb_cur_fail(w, GSLB_ERANGE);
        return;
    }
    gslb_cur_put_le16(w, (uint16_t)n);
    gslb_cur_put_bytes(w, s, n);
}

static void get_str(gslb_cur_t *r, char *out, size_t field_size)
{
    uint16_t n = gslb_cur_get_le16(r);
    if (n >= field_size)
        gslb_cur_fail(r, GSLB_ECORRUPT);
    const uint8_t *p = gslb_cur_take(r, n);
    if (!p)
        return;
    if (memchr(p, '\0', n)) {
        gslb_cur_fail(r, GSLB_ECORRUPT);
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

/* Family codes of stored addresses. */
enum { ADDR_CODE_NONE = 0, ADDR_CODE_V4 = 4, ADDR_CODE_V6 = 6 };

static void put_addr(gslb_cur_t *w, const gslb_addr_t *a, unsigned allowed)
{
    if (a->family == AF_INET && (allowed & GSLB_ADDR_V4)) {
        gslb_cur_put_u8(w, ADDR_CODE_V4);
        gslb_cur_put_bytes(w, a->bytes, 4);
    } else if (a->family == AF_INET6 && (allowed & GSLB_ADDR_V6)) {
        gslb_cur_put_u8(w, ADDR_CODE_V6);
        gslb_cur_put_bytes(w, a->bytes, 16);
    } else if (a->family == 0 && (allowed & GSLB_ADDR_NONE)) {
        gslb_cur_put_u8(w, ADDR_CODE_NONE);
    } else {
        gslb_cur_fail(w, GSLB_ERANGE);
    }
}

static void get_addr(gslb_cur_t *r, gslb_addr_t *a, unsigned allowed)
{
    uint8_t code = gslb_cur_get_u8(r);
    if (r->err)
        return;
    if (code == ADDR_CODE_V4 && (allowed & GSLB_ADDR_V4)) {
        a->family = AF_INET;
        gslb_cur_get_bytes(r, a->bytes, 4);
    } else if (code == ADDR_CODE_V6 && (allowed & GSLB_ADDR_V6)) {
        a->family = AF_INET6;
        gslb_cur_get_bytes(r, a->bytes, 16);
    } else if (!(code == ADDR_CODE_NONE && (allowed & GSLB_ADDR_NONE))) {
        gslb_cur_fail(r, GSLB_ECORRUPT);
    }
}

static void put_blob(gslb_cur_t *w, const uint8_t *p, uint16_t n, size_t cap)
{
    if (n > cap)
        gslb_cur_fail(w, GSLB_ERANGE);
    gslb_cur_put_le16(w, n);
    gslb_cur_put_bytes(w, p, n);
}

static uint16_t get_blob(gslb_cur_t *r, uint8_t *out, size_t cap)
{
    uint16_t n = gslb_cur_get_le16(r);
    if (n > cap)
        gslb_cur_fail(r, GSLB_ECORRUPT);
    gslb_cur_get_bytes(r, out, n);
    return r->err ? 0 : n;
}

/* One byte in [lo, hi]. */
static uint8_t get_ranged(gslb_cur_t *r, uint8_t lo, uint8_t hi)
{
    uint8_t v = gslb_cur_get_u8(r);
    if (v < lo || v > hi)
        gslb_cur_fail(r, GSLB_ECORRUPT);
    return v;
}

/* ---- the table walkers ------------------------------------------------------ */

/* The members of one field: rec is the record, i the element of a LIST. */
static const void *member(const void *rec, const gslb_rec_field_t *f, size_t i)
{
    return (const uint8_t *)rec + f->offset + i * f->stride;
}

static void *member_rw(void *rec, const gslb_rec_field_t *f, size_t i)
{
    return (uint8_t *)rec + f->offset + i * f->stride;
}

/* A run of BIT fields (from f, n left in the table) shares one flags byte. */
static size_t bit_run(const gslb_rec_field_t *f, size_t n)
{
    size_t k = 0;
    while (k < n && f[k].type == GSLB_F_BIT)
        k++;
    return k;
}

static void encode_fields(gslb_cur_t *w, const gslb_rec_field_t *f, size_t n, const void *rec,
                          size_t i);

static void encode_list(gslb_cur_t *w, const gslb_rec_field_t *f, const void *rec)
{
    uint8_t count = *(const uint8_t *)member(rec, f, 0);
    if (count > f->hi) {
        gslb_cur_fail(w, GSLB_ERANGE);
        return;
    }
    gslb_cur_put_u8(w, count);
    for (size_t i = 0; i < count; i++)
        encode_fields(w, f->elem, f->nelem, rec, i);
}

/* Returns how many table entries it consumed (a run of BITs is one byte). */
static size_t encode_field(gslb_cur_t *w, const gslb_rec_field_t *f, size_t left, const void *rec,
                           size_t i)
{
    const void *m = member(rec, f, i);
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    switch (f->type) {
    case GSLB_F_U8:
    case GSLB_F_ENUM:
        gslb_cur_put_u8(w, *(const uint8_t *)m);
        break;
    case GSLB_F_U16:
        memcpy(&u16, m, sizeof(u16));
        gslb_cur_put_le16(w, u16);
        break;
    case GSLB_F_U32:
        memcpy(&u32, m, sizeof(u32));
        gslb_cur_put_le32(w, u32);
        break;
    case GSLB_F_U64:
    case GSLB_F_I64:
        memcpy(&u64, m, sizeof(u64));
        gslb_cur_put_le64(w, u64);
        break;
    case GSLB_F_BIT: {
        size_t run = bit_run(f, left);
        uint8_t flags = 0;
        for (size_t k = 0; k < run; k++)
            flags |= *(const bool *)member(rec, &f[k], i) ? f[k].lo : 0;
        gslb_cur_put_u8(w, flags);
        return run;
    }
    case GSLB_F_STR:
        put_str(w, m, f->size);
        break;
    case GSLB_F_ADDR:
        put_addr(w, m, f->lo);
        break;
    case GSLB_F_BLOB:
        memcpy(&u16, (const uint8_t *)rec + f->len_offset, sizeof(u16));
        put_blob(w, m, u16, f->size);
        break;
    case GSLB_F_LIST:
        encode_list(w, f, rec);
        break;
    default:
        assert(!"unknown field type");
        gslb_cur_fail(w, GSLB_ERANGE);
    }
    return 1;
}

static void encode_fields(gslb_cur_t *w, const gslb_rec_field_t *f, size_t n, const void *rec,
                          size_t i)
{
    for (size_t k = 0; k < n && !w->err;)
        k += encode_field(w, &f[k], n - k, rec, i);
}

static void decode_fields(gslb_cur_t *r, const gslb_rec_field_t *f, size_t n, void *rec, size_t i);

static void decode_list(gslb_cur_t *r, const gslb_rec_field_t *f, void *rec)
{
    uint8_t count = get_ranged(r, 0, f->hi);
    *(uint8_t *)member_rw(rec, f, 0) = r->err ? 0 : count;
    for (size_t i = 0; i < count && !r->err; i++)
        decode_fields(r, f->elem, f->nelem, rec, i);
}

static size_t decode_bits(gslb_cur_t *r, const gslb_rec_field_t *f, size_t left, void *rec,
                          size_t i)
{
    size_t run = bit_run(f, left);
    unsigned known = 0;
    for (size_t k = 0; k < run; k++)
        known |= f[k].lo;
    uint8_t flags = gslb_cur_get_u8(r);
    if (flags & ~known)
        gslb_cur_fail(r, GSLB_ECORRUPT);
    for (size_t k = 0; k < run; k++)
        *(bool *)member_rw(rec, &f[k], i) = (flags & f[k].lo) != 0;
    return run;
}

static size_t decode_field(gslb_cur_t *r, const gslb_rec_field_t *f, size_t left, void *rec,
                           size_t i)
{
    void *m = member_rw(rec, f, i);
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    switch (f->type) {
    case GSLB_F_U8:
        *(uint8_t *)m = gslb_cur_get_u8(r);
        break;
    case GSLB_F_ENUM:
        *(uint8_t *)m = get_ranged(r, f->lo, f->hi);
        break;
    case GSLB_F_U16:
        u16 = gslb_cur_get_le16(r);
        memcpy(m, &u16, sizeof(u16));
        break;
    case GSLB_F_U32:
        u32 = gslb_cur_get_le32(r);
        memcpy(m, &u32, sizeof(u32));
        break;
    case GSLB_F_U64:
    case GSLB_F_I64:
        u64 = gslb_cur_get_le64(r);
        memcpy(m, &u64, sizeof(u64));
        break;
    case GSLB_F_BIT:
        return decode_bits(r, f, left, rec, i);
    case GSLB_F_STR:
        get_str(r, m, f->size);
        break;
    case GSLB_F_ADDR:
        get_addr(r, m, f->lo);
        break;
    case GSLB_F_BLOB:
        u16 = get_blob(r, m, f->size);
        memcpy((uint8_t *)rec + f->len_offset, &u16, sizeof(u16));
        break;
    case GSLB_F_LIST:
        decode_list(r, f, rec);
        break;
    default:
        assert(!"unknown field type");
        gslb_cur_fail(r, GSLB_ECORRUPT);
    }
    return 1;
}

static void decode_fields(gslb_cur_t *r, const gslb_rec_field_t *f, size_t n, void *rec, size_t i)
{
    for (size_t k = 0; k < n && !r->err;)
        k += decode_field(r, &f[k], n - k, rec, i);
}

int gslb_rec_encode(const gslb_rec_layout_t *l, const void *rec, uint8_t *buf, size_t cap)
{
    gslb_cur_t w;
    gslb_cur_init(&w, buf, buf ? (cap > GSLB_REC_MAX ? GSLB_REC_MAX : cap) : 0);
    gslb_cur_put_u8(&w, GSLB_REC_V1);
    encode_fields(&w, l->fields, l->nfields, rec, 0);
    return w.err ? GSLB_ERANGE : (int)w.pos;
}

int gslb_rec_decode(const gslb_rec_layout_t *l, const uint8_t *buf, size_t len, void *out)
{
    memset(out, 0, l->size);
    if (!buf || len < REC_VERSION_LEN || len > GSLB_REC_MAX)
        return GSLB_ECORRUPT;
    if (buf[0] != GSLB_REC_V1)
        return GSLB_EVERSION;
    gslb_cur_t r;
    gslb_cur_init_ro(&r, buf + REC_VERSION_LEN, len - REC_VERSION_LEN);
    decode_fields(&r, l->fields, l->nfields, out, 0);
    if (r.err || gslb_cur_left(&r) != 0) {
        explicit_bzero(out, l->size); /* no half-decoded key material left behind */
        return GSLB_ECORRUPT;
    }
    return GSLB_OK;
}

const gslb_rec_field_t *gslb_rec_field_at_col(const gslb_rec_layout_t *l, unsigned col)
{
    for (size_t k = 0; k < l->nfields; k++)
        if (l->fields[k].col == col)
            return &l->fields[k];
    return NULL;
}

/* ---- the layouts ---------------------------------------------------------------
 * One entry per stored field, in stored order. Column numbers place the field
 * in gslb-dump's row (0: not shown); names are the column and JSON key. */

#define MEMBER_SIZE(S, m) sizeof(((S *)0)->m)
#define FIELD(t, S, m, ...)                                                                        \
    {                                                                                              \
        .type = (t), .offset = offsetof(S, m), __VA_ARGS__                                         \
    }
#define NUM(t, S, m, c, n, ...) FIELD(t, S, m, .col = (c), .name = (n), __VA_ARGS__)
#define STR(S, m, c, n) FIELD(GSLB_F_STR, S, m, .size = MEMBER_SIZE(S, m), .col = (c), .name = (n))
#define ENUM(S, m, l, h, nm, c, n)                                                                 \
    FIELD(GSLB_F_ENUM, S, m, .lo = (l), .hi = (h), .names = (nm), .col = (c), .name = (n))
#define BIT(S, m, b, c, n) FIELD(GSLB_F_BIT, S, m, .lo = (b), .col = (c), .name = (n))
#define ADDR(S, m, allow, c, n) FIELD(GSLB_F_ADDR, S, m, .lo = (allow), .col = (c), .name = (n))
#define BLOB(S, m, len_m)                                                                          \
    FIELD(GSLB_F_BLOB, S, m, .size = MEMBER_SIZE(S, m), .len_offset = offsetof(S, len_m))
#define LIST(S, count_m, max, el, c, n, s)                                                         \
    FIELD(GSLB_F_LIST, S, count_m, .hi = (max), .elem = (el),                                      \
          .nelem = sizeof(el) / sizeof((el)[0]), .col = (c), .name = (n), .sep = (s))
/* inside a LIST element: element i of the array member m */
#define ELEM_STR(S, m, n)                                                                          \
    FIELD(GSLB_F_STR, S, m[0], .size = MEMBER_SIZE(S, m[0]), .stride = MEMBER_SIZE(S, m[0]),       \
          .name = (n))
#define ELEM_ADDR(S, m, allow, n)                                                                  \
    FIELD(GSLB_F_ADDR, S, m[0], .lo = (allow), .stride = MEMBER_SIZE(S, m[0]), .name = (n))
#define LAYOUT(k, S, list)                                                                         \
    {                                                                                              \
        .kind = (k), .size = sizeof(S), .fields = (list),                                          \
        .nfields = sizeof(list) / sizeof((list)[0])                                                \
    }

static const char *const POLICY_NAMES[] = {"round_robin", "weighted", "failover", "geo", "latency"};
static const char *const UNHEALTHY_NAMES[] = {"return_last_healthy", "nodata", "servfail"};
static const char *const SOURCE_NAMES[] = {"config", "agent"};
static const char *const TRISTATE_NAMES[] = {"unknown", "healthy", "unhealthy"};
static const char *const KEY_ROLE_NAMES[] = {"CSK", "KSK", "ZSK"};
static const char *const KEY_STATE_NAMES[] = {"active", "published", "retired"};
static const char *const OVERRIDE_NAMES[] = {"?", "up", "down", "drain"};

/* Bits of the flags bytes. */
enum { BACKEND_STALE = 1, BACKEND_DRAINING = 2 };
enum { AGENT_STALE = 1, AGENT_GOODBYE = 2 };

#define R gslb_meta_rec_t
static const gslb_rec_field_t META_FIELDS[] = {
    NUM(GSLB_F_U32, R, schema_version, 1, "schema_version"),
    STR(R, node_id, 2, "node_id"),
    NUM(GSLB_F_I64, R, created_at, 3, "created_at", .show = GSLB_SHOW_TIME),
};
const gslb_rec_layout_t gslb_meta_layout = LAYOUT("meta", R, META_FIELDS);
#undef R

#define R gslb_keysync_meta_rec_t
static const gslb_rec_field_t KEYSYNC_META_FIELDS[] = {
    NUM(GSLB_F_I64, R, last_sync, 1, "dnssec_last_sync", .show = GSLB_SHOW_TIME),
};
const gslb_rec_layout_t gslb_keysync_meta_layout = LAYOUT("keysync_meta", R, KEYSYNC_META_FIELDS);
#undef R

#define R gslb_zone_rec_t
static const gslb_rec_field_t ZONE_NS[] = {
    ELEM_STR(R, ns, "name"),
    ELEM_ADDR(R, ns_addr4, GSLB_ADDR_NONE | GSLB_ADDR_V4, "ipv4"),
    ELEM_ADDR(R, ns_addr6, GSLB_ADDR_NONE | GSLB_ADDR_V6, "ipv6"),
};
static const gslb_rec_field_t ZONE_FIELDS[] = {
    STR(R, name, 1, "zone"),
    STR(R, mname, 3, "mname"),
    STR(R, rname, 4, "rname"),
    NUM(GSLB_F_U32, R, serial, 2, "serial"),
    NUM(GSLB_F_U32, R, refresh, 5, "refresh"),
    NUM(GSLB_F_U32, R, retry, 6, "retry"),
    NUM(GSLB_F_U32, R, expire, 7, "expire"),
    NUM(GSLB_F_U32, R, minimum, 8, "minimum"),
    NUM(GSLB_F_U32, R, soa_ttl, 9, "soa_ttl"),
    NUM(GSLB_F_U32, R, ns_ttl, 10, "ns_ttl"),
    NUM(GSLB_F_U32, R, default_ttl, 11, "default_ttl"),
    LIST(R, ns_count, GSLB_MAX_NS, ZONE_NS, 12, "ns", ", "),
};
const gslb_rec_layout_t gslb_zone_layout = LAYOUT("zone", R, ZONE_FIELDS);
#undef R

#define R gslb_domain_rec_t
static const gslb_rec_field_t DOMAIN_REGIONS[] = {ELEM_STR(R, regions, "region")};
static const gslb_rec_field_t DOMAIN_FIELDS[] = {
    STR(R, name, 1, "domain"),
    STR(R, zone, 2, "zone"),
    STR(R, service, 3, "service"),
    ENUM(R, policy, 0, GSLB_POLICY_LATENCY, POLICY_NAMES, 4, "policy"),
    ENUM(R, unhealthy_mode, 0, GSLB_UNHEALTHY_SERVFAIL, UNHEALTHY_NAMES, 7, "unhealthy"),
    NUM(GSLB_F_U16, R, max_records, 6, "max_records"),
    NUM(GSLB_F_U32, R, ttl, 5, "ttl"),
    LIST(R, region_count, GSLB_MAX_REGIONS, DOMAIN_REGIONS, 8, "regions", ","),
};
const gslb_rec_layout_t gslb_domain_layout = LAYOUT("domain", R, DOMAIN_FIELDS);
#undef R

/* Columns 4 and 5 of a backend row (status, servable) are computed by gslb-dump. */
#define R gslb_backend_rec_t
static const gslb_rec_field_t BACKEND_FIELDS[] = {
    STR(R, domain, 1, "domain"),
    ADDR(R, addr, GSLB_ADDR_IP, 2, "address"),
    NUM(GSLB_F_U16, R, port, 3, "port"),
    NUM(GSLB_F_U32, R, weight, 6, "weight"),
    STR(R, region, 7, "region"),
    ENUM(R, source, 0, GSLB_SOURCE_AGENT, SOURCE_NAMES, 8, "source"),
    STR(R, agent_id, 9, "agent"),
    ENUM(R, agent_health, 0, GSLB_UNHEALTHY, TRISTATE_NAMES, 10, "agent_health"),
    ENUM(R, validation_health, 0, GSLB_UNHEALTHY, TRISTATE_NAMES, 11, "validation"),
    BIT(R, stale, BACKEND_STALE, 12, "stale"),
    BIT(R, draining, BACKEND_DRAINING, 13, "draining"),
    NUM(GSLB_F_I64, R, last_seen, 14, "last_seen", .show = GSLB_SHOW_AGE),
    NUM(GSLB_F_I64, R, last_change, 15, "last_change", .show = GSLB_SHOW_AGE),
    NUM(GSLB_F_U32, R, latency_us, 16, "latency_us"),
};
const gslb_rec_layout_t gslb_backend_layout = LAYOUT("backend", R, BACKEND_FIELDS);
#undef R

#define R gslb_agent_rec_t
static const gslb_rec_field_t AGENT_FIELDS[] = {
    STR(R, agent_id, 1, "agent"),
    STR(R, region, 2, "region"),
    STR(R, token_name, 3, "token"),
    NUM(GSLB_F_I64, R, first_seen, 6, "first_seen", .show = GSLB_SHOW_TIME),
    NUM(GSLB_F_I64, R, last_heartbeat, 5, "last_heartbeat", .show = GSLB_SHOW_AGE),
    NUM(GSLB_F_U64, R, last_seq, 7, "last_seq"),
    ADDR(R, source_addr, GSLB_ADDR_NONE | GSLB_ADDR_IP, 4, "source_addr"),
    BIT(R, stale, AGENT_STALE, 8, "stale"),
    BIT(R, goodbye, AGENT_GOODBYE, 9, "goodbye"),
};
const gslb_rec_layout_t gslb_agent_layout = LAYOUT("agent", R, AGENT_FIELDS);
#undef R

/* The key material is shown by gslb-dump's own details (base64, DS, secrets). */
#define R gslb_dnskey_rec_t
static const gslb_rec_field_t DNSKEY_FIELDS[] = {
    STR(R, zone, 1, "zone"),
    NUM(GSLB_F_U16, R, key_tag, 2, "key_tag"),
    NUM(GSLB_F_U8, R, algorithm, 3, "algorithm"),
    ENUM(R, role, 0, GSLB_KEY_ZSK, KEY_ROLE_NAMES, 4, "role"),
    ENUM(R, state, 0, GSLB_KEY_RETIRED, KEY_STATE_NAMES, 5, "state"),
    NUM(GSLB_F_U16, R, flags, 6, "flags"),
    BLOB(R, pub, pub_len),
    BLOB(R, priv_der, priv_len),
    NUM(GSLB_F_I64, R, created, 7, "created", .show = GSLB_SHOW_TIME),
    STR(R, origin_node, 8, "origin_node"),
};
const gslb_rec_layout_t gslb_dnskey_layout = LAYOUT("dnskey", R, DNSKEY_FIELDS);
#undef R

#define R gslb_override_rec_t
static const gslb_rec_field_t OVERRIDE_FIELDS[] = {
    STR(R, domain, 1, "domain"),
    ADDR(R, addr, GSLB_ADDR_IP, 2, "address"),
    ENUM(R, state, GSLB_OVERRIDE_UP, GSLB_OVERRIDE_DRAIN, OVERRIDE_NAMES, 3, "state"),
    STR(R, reason, 6, "reason"),
    STR(R, who, 4, "who"),
    NUM(GSLB_F_I64, R, when, 5, "when", .show = GSLB_SHOW_TIME),
};
const gslb_rec_layout_t gslb_override_layout = LAYOUT("override", R, OVERRIDE_FIELDS);
#undef R

#define R gslb_audit_rec_t
static const gslb_rec_field_t AUDIT_FIELDS[] = {
    NUM(GSLB_F_I64, R, time_ms, 1, "time_ms", .show = GSLB_SHOW_TIME_MS),
    NUM(GSLB_F_U32, R, seq, 2, "seq"),
    STR(R, actor, 3, "actor"),
    STR(R, action, 4, "action"),
    STR(R, target, 5, "target"),
    STR(R, detail, 6, "detail"),
};
const gslb_rec_layout_t gslb_audit_layout = LAYOUT("audit", R, AUDIT_FIELDS);
#undef R

/* The typed entry points of records.h. */
#define CODEC(kind, type)                                                                          \
    int gslb_##kind##_encode(const type *r, uint8_t *buf, size_t cap)                              \
    {                                                                                              \
        return gslb_rec_encode(&gslb_##kind##_layout, r, buf, cap);                                \
    }                                                                                              \
    int gslb_##kind##_decode(const uint8_t *buf, size_t len, type *out)                            \
    {                                                                                              \
        return gslb_rec_decode(&gslb_##kind##_layout, buf, len, out);                              \
    }
CODEC(meta, gslb_meta_rec_t)
CODEC(keysync_meta, gslb_keysync_meta_rec_t)
CODEC(zone, gslb_zone_rec_t)
CODEC(domain, gslb_domain_rec_t)
CODEC(backend, gslb_backend_rec_t)
CODEC(agent, gslb_agent_rec_t)
CODEC(dnskey, gslb_dnskey_rec_t)
CODEC(override, gslb_override_rec_t)
CODEC(audit, gslb_audit_rec_t)

/* ---- helpers -------------------------------------------------------------- */

int gslb_addr_parse(const char *text, gslb_addr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!text || !*text)
        return GSLB_EINVAL;
    if (inet_pton(AF_INET, text, out->bytes) == 1) {
        out->family = AF_INET;
        return GSLB_OK;
    }
    if (inet_pton(AF_INET6, text, out->bytes) == 1) {
        out->family = AF_INET6;
        return GSLB_OK;
    }
    memset(out, 0, sizeof(*out));
    return GSLB_EINVAL;
}

const char *gslb_addr_format(const gslb_addr_t *a, char *buf, size_t len)
{
    if (!buf || len == 0)
        return buf;
    buf[0] = '\0';
    if (!a || (a->family != AF_INET && a->family != AF_INET6) ||
        !inet_ntop(a->family, a->bytes, buf, (socklen_t)len))
        snprintf(buf, len, "-");
    return buf;
}

static size_t addr_len(uint8_t family)
{
    return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

bool gslb_addr_equal(const gslb_addr_t *a, const gslb_addr_t *b)
{
    if (a->family != b->family)
        return false;
    return memcmp(a->bytes, b->bytes, addr_len(a->family)) == 0;
}

/* A presentation label may hold anything printable except '.', whitespace and
 * '\\' (escapes are not supported in configuration names). */
static bool name_char_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '\\';
}

int gslb_name_normalize(const char *in, char *out, size_t cap)
{
    if (!in || !out || cap == 0)
        return GSLB_EINVAL;
    size_t n = strlen(in);
    if (n > 0 && in[n - 1] == '.')
        n--;
    if (n > GSLB_NAME_MAX - 1)
        return GSLB_EINVAL;
    if (n + 1 > cap)
        return GSLB_ERANGE;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '.') {
            if (label == 0)
                return GSLB_EINVAL; /* empty label */
            label = 0;
        } else if (!name_char_ok(c) || ++label > 63) {
            return GSLB_EINVAL;
        }
        out[i] = (char)tolower(c);
    }
    if (n > 0 && label == 0)
        return GSLB_EINVAL;
    out[n] = '\0';
    return GSLB_OK;
}

bool gslb_backend_servable(const gslb_backend_rec_t *b, const gslb_override_rec_t *ov)
{
    if (ov && ov->state == GSLB_OVERRIDE_UP)
        return true;
    if (ov && (ov->state == GSLB_OVERRIDE_DOWN || ov->state == GSLB_OVERRIDE_DRAIN))
        return false;
    if (b->draining)
        return false;
    if (b->validation_health == GSLB_UNHEALTHY)
        return false;
    if (b->stale)
        return false;
    if (b->agent_health == GSLB_UNHEALTHY)
        return false;
    return true;
}

const char *gslb_backend_status_name(const gslb_backend_rec_t *b, const gslb_override_rec_t *ov)
{
    if (ov && ov->state == GSLB_OVERRIDE_UP)
        return "override_up";
    if (ov && ov->state == GSLB_OVERRIDE_DOWN)
        return "override_down";
    if ((ov && ov->state == GSLB_OVERRIDE_DRAIN) || b->draining)
        return "draining";
    if (b->validation_health == GSLB_UNHEALTHY)
        return "unhealthy";
    if (b->stale)
        return "stale";
    if (b->agent_health == GSLB_UNHEALTHY)
        return "unhealthy";
    return "healthy";
}

const char *gslb_key_role_name(uint8_t role)
{
    return role <= GSLB_KEY_ZSK ? KEY_ROLE_NAMES[role] : KEY_ROLE_NAMES[GSLB_KEY_CSK];
}

const char *gslb_key_state_name(uint8_t state)
{
    return state <= GSLB_KEY_RETIRED ? KEY_STATE_NAMES[state] : KEY_STATE_NAMES[GSLB_KEY_ACTIVE];
}
