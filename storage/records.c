/*
 * records.c - versioned binary encodings of the stored records (records.h).
 *
 * Layout of every value: version byte (GSLB_REC_V1) then the fields in
 * declaration order, little-endian integers, strings as u16 length + bytes (no
 * NUL, shorter than the struct's array), addresses as a family code (0 none,
 * 4 IPv4, 6 IPv6) + 0/4/16 bytes, booleans packed in a flags byte. Decoders
 * require the value to be consumed exactly (no trailing bytes).
 */
#include "records.h"
#include "codec.h"
#include "gslb_err.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* ---- field helpers -------------------------------------------------------- */

static void put_str(gslb_enc_t *w, const char *s, size_t field_size)
{
    size_t n = strnlen(s, field_size);
    if (n >= field_size) { /* not NUL-terminated inside its array */
        w->bad = true;
        return;
    }
    gslb_w_u16(w, (uint16_t)n);
    gslb_w_bytes(w, s, n);
}

static void get_str(gslb_dec_t *r, char *out, size_t field_size)
{
    uint16_t n = gslb_r_u16(r);
    if (r->bad)
        return;
    if (n >= field_size) {
        r->bad = true;
        return;
    }
    const uint8_t *p = gslb_r_take(r, n);
    if (!p)
        return;
    if (memchr(p, '\0', n)) {
        r->bad = true;
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

static void put_addr(gslb_enc_t *w, const gslb_addr_t *a)
{
    if (a->family == AF_INET) {
        gslb_w_u8(w, 4);
        gslb_w_bytes(w, a->bytes, 4);
    } else if (a->family == AF_INET6) {
        gslb_w_u8(w, 6);
        gslb_w_bytes(w, a->bytes, 16);
    } else if (a->family == 0) {
        gslb_w_u8(w, 0);
    } else {
        w->bad = true;
    }
}

/* allowed: bit mask of accepted families: 1 = none, 2 = IPv4, 4 = IPv6 */
enum { ADDR_NONE = 1, ADDR_V4 = 2, ADDR_V6 = 4, ADDR_ANY_IP = ADDR_V4 | ADDR_V6 };

static void get_addr(gslb_dec_t *r, gslb_addr_t *a, unsigned allowed)
{
    uint8_t code = gslb_r_u8(r);
    const uint8_t *p = NULL;
    memset(a, 0, sizeof(*a));
    if (r->bad)
        return;
    if (code == 4 && (allowed & ADDR_V4)) {
        p = gslb_r_take(r, 4);
        if (p) {
            a->family = AF_INET;
            memcpy(a->bytes, p, 4);
        }
    } else if (code == 6 && (allowed & ADDR_V6)) {
        p = gslb_r_take(r, 16);
        if (p) {
            a->family = AF_INET6;
            memcpy(a->bytes, p, 16);
        }
    } else if (!(code == 0 && (allowed & ADDR_NONE))) {
        r->bad = true;
    }
}

/* Reads an enum byte and marks the cursor bad when it exceeds max. */
static uint8_t get_enum(gslb_dec_t *r, uint8_t min, uint8_t max)
{
    uint8_t v = gslb_r_u8(r);
    if (v < min || v > max)
        r->bad = true;
    return v;
}

static int encode_result(const gslb_enc_t *w)
{
    return w->bad ? GSLB_ERANGE : (int)w->pos;
}

/* Checks the version byte; returns 0, GSLB_ECORRUPT or GSLB_EVERSION. */
static int begin_decode(gslb_dec_t *r, const uint8_t *buf, size_t len)
{
    r->buf = buf;
    r->len = buf ? len : 0;
    r->pos = 0;
    r->bad = false;
    if (!buf || len == 0 || len > GSLB_REC_MAX)
        return GSLB_ECORRUPT;
    uint8_t v = gslb_r_u8(r);
    return v == GSLB_REC_V1 ? GSLB_OK : GSLB_EVERSION;
}

static int end_decode(const gslb_dec_t *r)
{
    return (r->bad || r->pos != r->len) ? GSLB_ECORRUPT : GSLB_OK;
}

static void begin_encode(gslb_enc_t *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? (cap > GSLB_REC_MAX ? GSLB_REC_MAX : cap) : 0;
    w->pos = 0;
    w->bad = false;
    gslb_w_u8(w, GSLB_REC_V1);
}

/* ---- meta ----------------------------------------------------------------- */

int gslb_meta_encode(const gslb_meta_rec_t *r, uint8_t *buf, size_t cap)
{
    gslb_enc_t w;
    begin_encode(&w, buf, cap);
    gslb_w_u32(&w, r->schema_version);
    put_str(&w, r->node_id, sizeof(r->node_id));
    gslb_w_i64(&w, r->created_at);
    return encode_result(&w);
}

int gslb_meta_decode(const uint8_t *buf, size_t len, gslb_meta_rec_t *out)
{
    gslb_dec_t r;
    memset(out, 0, sizeof(*out));
    int rc = begin_decode(&r, buf, len);
    if (rc)
        return rc;
    out->schema_version = gslb_r_u32(&r);
    get_str(&r, out->node_id, sizeof(out->node_id));
    out->created_at = gslb_r_i64(&r);
    return end_decode(&r);
}

int gslb_keysync_meta_encode(const gslb_keysync_meta_rec_t *r, uint8_t *buf, size_t cap)
{
    gslb_enc_t w;
    begin_encode(&w, buf, cap);
    gslb_w_i64(&w, r->last_sync);
    return encode_result(&w);
}

int gslb_keysync_meta_decode(const uint8_t *buf, size_t len, gslb_keysync_meta_rec_t *out)
{
    gslb_dec_t r;
    memset(out, 0, sizeof(*out));
    int rc = begin_decode(&r, buf, len);
    if (rc)
        return rc;
    out->last_sync = gslb_r_i64(&r);
    return end_decode(&r);
}

/* ---- zones ---------------------------------------------------------------- */

int gslb_zone_encode(const gslb_zone_rec_t *r, uint8_t *buf, size_t cap)
{
    gslb_enc_t w;
    begin_encode(&w, buf, cap);
    put_str(&w, r->name, sizeof(r->name));
    put_str(&w, r->mname, sizeof(r->mname));
    put_str(&w, r->rname, sizeof(r->rname));
    const uint32_t nums[] = {r->serial,  r->refresh, r->retry,  r->expire,
                             r->minimum, r->soa_ttl, r->ns_ttl, r->default_ttl};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        gslb_w_u32(&w, nums[i]);
    if (r->ns_count > GSLB_MAX_NS)
        return GSLB_ERANGE;
    gslb_w_u8(&w, r->ns_count);
    for (unsigned i = 0; i < r->ns_count; i++) {
        put_str(&w, r->ns[i], sizeof(r->ns[i]));
        put_addr(&w, &r->ns_addr4[i]);
        put_addr(&w, &r->ns_addr6[i]);
    }
    return encode_result(&w);
}

int gslb_zone_decode(const uint8_t *buf, size_t len, gslb_zone_rec_t *out)
{
    gslb_dec_t r;
    memset(out, 0, sizeof(*out));
    int rc = begin_decode(&r, buf, len);
    if (rc)
        return rc;
    get_str(&r, out->name, sizeof(out->name));
    get_str(&r, out->mname, sizeof(out->mname));
    get_str(&r, out->rname, sizeof(out->rname));
    uint32_t *nums[] = {&out->serial,  &out->refresh, &out->retry,  &out->expire,
                        &out->minimum, &out->soa_ttl, &out->ns_ttl, &out->default_ttl};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        *nums[i] = gslb_r_u32(&r);
    out->ns_count = get_enum(&r, 0, GSLB_MAX_NS);
    for (unsigned i = 0; i < out->ns_count && !r.bad; i++) {
        get_str(&r, out->ns[i], sizeof(out->ns[i]));
        get_addr(&r, &out->ns_addr4[i], ADDR_NONE | ADDR_V4);
        get_addr(&r, &out->ns_addr6[i], ADDR_NONE | ADDR_V6);
    }
    return end_decode(&r);
}

/* ---- domains -------------------------------------------------------------- */

int gslb_domain_encode(const gslb_domain_rec_t *r, uint8_t *buf, size_t cap)
{
    gslb_enc_t w;
    begin_encode(&w, buf, cap);
    put_str(&w, r->name, sizeof(r->name));
    put_str(&w, r->zone, sizeof(r->zone));
    put_str(&w, r->service, sizeof(r->service));
    gslb_w_u8(&w, r->policy);
    gslb_w_u8(&w, r->unhealthy_mode);
    gslb_w_u16(&w, r->max_records);
    gslb_w_u32(&w, r->ttl);
    if (r->region_count > GSLB_MAX_REGIONS)
        return GSLB_ERANGE;
    gslb_w_u8(&w, r->region_count);
    for (unsigned i = 0; i < r->region_count; i++)
        put_str(&w, r->regions[i], sizeof(r->regions[i]));
    return encode_result(&w);
}

int gslb_domain_decode(const uint8_t *buf, size_t len, gslb_domain_rec_t *out)
{
    gslb_dec_t r;
    memset(out, 0, sizeof(*out));
    int rc = begin_decode(&r, buf, len);
    if (rc)
        return rc;
    get_str(&r, out->name, sizeof(out->name));
    get_str(&r, out->zone, sizeof(out->zone));
    get_str(&r, out->service, sizeof(out->service));
    out->policy = get_enum(&r, 0, GSLB_POLICY_LATENCY);
    out->unhealthy_mode = get_enum(&r, 0, GSLB_UNHEALTHY_SERVFAIL);
    out->max_records = gslb_r_u16(&r);
    out->ttl = gslb_r_u32(&r);
    out->region_count = get_enum(&r, 0, GSLB_MAX_REGIONS);
    for (unsigned i = 0; i < out->region_count && !r.bad; i++)
        get_str(&r, out->regions[i], sizeof(out->regions[i]));
    return end_decode(&r);
}

/* ---- backends ------------------------------------------------------------- */

enum { BACKEND_STALE = 1, BACKEND_DRAINING = 2 };

int gslb_backend_encode(const gslb_backend_rec_t *r, uint8_t *buf, size_t cap)
{
    gslb_enc_t w;
    begin_encode(&w, buf, cap);
    if (r->addr.family != AF_INET && r->addr.family != AF_INET6)
        return GSLB_ERANGE;
    put_str(&w, r->domain, sizeof(r->domain));
    put_addr(&w, &r->addr);
    gslb_w_u16(&w, r->port);
    gslb_w_u32(&w, r->weight);
    put_str(&w, r->region, sizeof(r->region));
    gslb_w_u8(&w, r->source);
    put_str(&w, r->agent_id, sizeof(r->agent_id));
    gslb_w_u8(&w, r->agent_health);
    gslb_w_u8(&w, r->validation_health);
    gslb_w_u8(&w, (uint8_t)((r->stale ? BACKEND_STALE : 0) | (r->draining ? BACKEND_DRAINING : 0)));
    gslb_w_i64(&w, r->last_seen);
    gslb_w_i64(&w, r->last_change);
    gslb_w_u32(&w, r->latency_us);
    return encode_result(&w);
}

int gslb_backend_decode(const uint8_t *buf, size_t len, gslb_backend_rec_t *out)
{
    gslb_dec_t r;
    memset(out, 0, sizeof(*out));
    int rc = begin_decode(&r, buf, len);
    if (rc)
        return rc;
    get_str(&r, out->domain, sizeof(out->domain));
    get_addr(&r, &out->addr, ADDR_ANY_IP);
    out->port = gslb_r_u16(&r);
    out->weight = gslb_r_u32(&r);
    get_str(&r, out->region, sizeof(out->region));
    out->source = get_enum(&r, 0, GSLB_SOURCE_AGENT);
    get_str(&r, out->agent_id, sizeof(out->agent_id));
    out->agent_health = get_enum(&r, 0, GSLB_UNHEALTHY);
    out->validation_health = get_enum(&r, 0, GSLB_UNHEALTHY);
    uint8_t flags = get_enum(&r, 0, BACKEND_STALE | BACKEND_DRAINING);
    out->stale = flags & BACKEND_STALE;
    out->draining = flags & BACKEND_DRAINING;
    out->last_seen = gslb_r_i64(&r);
    out->last_change = gslb_r_i64(&r);
    out->latency_us = gslb_r_u32(&r);
    return end_decode(&r);
}

/* ---- agents --------------------------------------------------------------- */

enum { AGENT_STALE = 1, AGENT_GOODBYE = 2 };

int gslb_agent_encode(const gslb_agent_rec_t *r, uint8_t *buf, size_t cap)
{
    gslb_enc_t w;
    begin_encode(&w, buf, cap);
    put_str(&w, r->agent_id, sizeof(r->agent_id));
    put_str(&w, r->region, sizeof(r->region));
    put_str(&w, r->token_name, sizeof(r->token_name));
    gslb_w_i64(&w, r->first_seen);
    gslb_w_i64(&w, r->last_heartbeat);
    gslb_w_u64(&w, r->last_seq);
    put_addr(&w, &r->source_addr);
    gslb_w_u8(&w, (uint8_t)((r->stale ? AGENT_STALE : 0) | (r->goodbye ? AGENT_GOODBYE : 0)));
    return encode_result(&w);
}

int gslb_agent_decode(const uint8_t *buf, size_t len, gslb_agent_rec_t *out)
{
    gslb_dec_t r;
    memset(out, 0, sizeof(*out));
    int rc = begin_decode(&r, buf, len);
    if (rc)
        return rc;
    get_str(&r, out->agent_id, sizeof(out->agent_id));
    get_str(&r, out->region, sizeof(out->region));
    get_str(&r, out->token_name, sizeof(out->token_name));
    out->first_seen = gslb_r_i64(&r);
    out->last_heartbeat = gslb_r_i64(&r);
    out->last_seq = gslb_r_u64(&r);
    get_addr(&r, &out->source_addr, ADDR_NONE | ADDR_ANY_IP);
    uint8_t flags = get_enum(&r, 0, AGENT_STALE | AGENT_GOODBYE);
    out->stale = flags & AGENT_STALE;
    out->goodbye = flags & AGENT_GOODBYE;
    return end_decode(&r);
}

/* ---- dnssec keys ---------------------------------------------------------- */

int gslb_dnskey_encode(const gslb_dnskey_rec_t *r, uint8_t *buf, size_t cap)
{
    gslb_enc_t w;
    begin_encode(&w, buf, cap);
    if (r->pub_len > GSLB_KEY_PUB_MAX || r->priv_len > GSLB_KEY_DER_MAX)
        return GSLB_ERANGE;
    put_str(&w, r->zone, sizeof(r->zone));
    gslb_w_u16(&w, r->key_tag);
    gslb_w_u8(&w, r->algorithm);
    gslb_w_u8(&w, r->role);
    gslb_w_u8(&w, r->state);
    gslb_w_u16(&w, r->flags);
    gslb_w_u16(&w, r->pub_len);
    gslb_w_bytes(&w, r->pub, r->pub_len);
    gslb_w_u16(&w, r->priv_len);
    gslb_w_bytes(&w, r->priv_der, r->priv_len);
    gslb_w_i64(&w, r->created);
    put_str(&w, r->origin_node, sizeof(r->origin_node));
    return encode_result(&w);
}

static uint16_t get_blob(gslb_dec_t *r, uint8_t *out, size_t cap)
{
    uint16_t n = gslb_r_u16(r);
    if (n > cap) {
        r->bad = true;
        return 0;
    }
    const uint8_t *p = gslb_r_take(r, n);
    if (!p)
        return 0;
    memcpy(out, p, n);
    return n;
}

int gslb_dnskey_decode(const uint8_t *buf, size_t len, gslb_dnskey_rec_t *out)
{
    gslb_dec_t r;
    memset(out, 0, sizeof(*out));
    int rc = begin_decode(&r, buf, len);
    if (rc)
        return rc;
    get_str(&r, out->zone, sizeof(out->zone));
    out->key_tag = gslb_r_u16(&r);
    out->algorithm = gslb_r_u8(&r);
    out->role = get_enum(&r, 0, GSLB_KEY_ZSK);
    out->state = get_enum(&r, 0, GSLB_KEY_RETIRED);
    out->flags = gslb_r_u16(&r);
    out->pub_len = get_blob(&r, out->pub, sizeof(out->pub));
    out->priv_len = get_blob(&r, out->priv_der, sizeof(out->priv_der));
    out->created = gslb_r_i64(&r);
    get_str(&r, out->origin_node, sizeof(out->origin_node));
    return end_decode(&r);
}

/* ---- overrides ------------------------------------------------------------ */

int gslb_override_encode(const gslb_override_rec_t *r, uint8_t *buf, size_t cap)
{
    gslb_enc_t w;
    begin_encode(&w, buf, cap);
    if (r->addr.family != AF_INET && r->addr.family != AF_INET6)
        return GSLB_ERANGE;
    put_str(&w, r->domain, sizeof(r->domain));
    put_addr(&w, &r->addr);
    gslb_w_u8(&w, r->state);
    put_str(&w, r->reason, sizeof(r->reason));
    put_str(&w, r->who, sizeof(r->who));
    gslb_w_i64(&w, r->when);
    return encode_result(&w);
}

int gslb_override_decode(const uint8_t *buf, size_t len, gslb_override_rec_t *out)
{
    gslb_dec_t r;
    memset(out, 0, sizeof(*out));
    int rc = begin_decode(&r, buf, len);
    if (rc)
        return rc;
    get_str(&r, out->domain, sizeof(out->domain));
    get_addr(&r, &out->addr, ADDR_ANY_IP);
    out->state = get_enum(&r, GSLB_OVERRIDE_UP, GSLB_OVERRIDE_DRAIN);
    get_str(&r, out->reason, sizeof(out->reason));
    get_str(&r, out->who, sizeof(out->who));
    out->when = gslb_r_i64(&r);
    return end_decode(&r);
}

/* ---- audit ---------------------------------------------------------------- */

int gslb_audit_encode(const gslb_audit_rec_t *r, uint8_t *buf, size_t cap)
{
    gslb_enc_t w;
    begin_encode(&w, buf, cap);
    gslb_w_i64(&w, r->time_ms);
    gslb_w_u32(&w, r->seq);
    put_str(&w, r->actor, sizeof(r->actor));
    put_str(&w, r->action, sizeof(r->action));
    put_str(&w, r->target, sizeof(r->target));
    put_str(&w, r->detail, sizeof(r->detail));
    return encode_result(&w);
}

int gslb_audit_decode(const uint8_t *buf, size_t len, gslb_audit_rec_t *out)
{
    gslb_dec_t r;
    memset(out, 0, sizeof(*out));
    int rc = begin_decode(&r, buf, len);
    if (rc)
        return rc;
    out->time_ms = gslb_r_i64(&r);
    out->seq = gslb_r_u32(&r);
    get_str(&r, out->actor, sizeof(out->actor));
    get_str(&r, out->action, sizeof(out->action));
    get_str(&r, out->target, sizeof(out->target));
    get_str(&r, out->detail, sizeof(out->detail));
    return end_decode(&r);
}

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
    return role == GSLB_KEY_KSK ? "KSK" : role == GSLB_KEY_ZSK ? "ZSK" : "CSK";
}

const char *gslb_key_state_name(uint8_t state)
{
    return state == GSLB_KEY_PUBLISHED ? "published"
           : state == GSLB_KEY_RETIRED ? "retired"
                                       : "active";
}
