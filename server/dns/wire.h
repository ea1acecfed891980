/*
 * wire.h - the DNS message parser and writer of the hot path (RFC 1035 4.1,
 * RFC 6891 6.1): bounds-checked cursors with a sticky error, and the parse of
 * one query into a gslb_query_t.
 *
 * Contract:
 *  - Cursors never read or write outside [buf, buf + len). The first failing
 *    operation sets cur->err (GSLB_ECORRUPT when reading past the end or a bad
 *    name, GSLB_ERANGE when writing past the capacity); every later operation on
 *    that cursor is a no-op, so callers write straight-line code and check err
 *    once. Reads after an error return 0.
 *  - Nothing here allocates, locks or makes a syscall.
 *  - gslb_wire_parse_query() classifies a message as an action (drop, answer,
 *    FORMERR, NOTIMP, BADVERS) and fills the parsed question and EDNS fields.
 *    The question name is kept as a pointer into the packet (case preserved)
 *    and as a lower-case copy with its label offsets (for suffix lookups).
 *  - The compression table remembers where names were written into a response
 *    so later names can point at them (RFC 1035 4.1.4). Names are compared
 *    case-insensitively; only offsets below 0x4000 are recorded.
 */
#pragma once

#include "dname.h"
#include "dnsdef.h"
#include "gslb_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- read cursor -------------------------------------------------------- */
typedef struct gslb_rcur {
    const uint8_t *buf;
    size_t len, pos;
    int err;
} gslb_rcur_t;

static inline void gslb_rcur_init(gslb_rcur_t *c, const uint8_t *buf, size_t len)
{
    c->buf = buf;
    c->len = len;
    c->pos = 0;
    c->err = 0;
}

static inline bool gslb_rcur_need(gslb_rcur_t *c, size_t n)
{
    if (c->err)
        return false;
    if (n > c->len - c->pos) {
        c->err = GSLB_ECORRUPT;
        return false;
    }
    return true;
}

static inline uint8_t gslb_rcur_u8(gslb_rcur_t *c)
{
    if (!gslb_rcur_need(c, 1))
        return 0;
    return c->buf[c->pos++];
}

static inline uint16_t gslb_rcur_u16(gslb_rcur_t *c)
{
    if (!gslb_rcur_need(c, 2))
        return 0;
    uint16_t v = (uint16_t)((c->buf[c->pos] << 8) | c->buf[c->pos + 1]);
    c->pos += 2;
    return v;
}

static inline uint32_t gslb_rcur_u32(gslb_rcur_t *c)
{
    if (!gslb_rcur_need(c, 4))
        return 0;
    const uint8_t *p = c->buf + c->pos;
    c->pos += 4;
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void gslb_rcur_skip(gslb_rcur_t *c, size_t n)
{
    if (gslb_rcur_need(c, n))
        c->pos += n;
}

static inline size_t gslb_rcur_left(const gslb_rcur_t *c)
{
    return c->err ? 0 : c->len - c->pos;
}

/** Skip one (possibly compressed) domain name. A compression pointer must point
 *  before the name's own start; label types 01/10 and names over 255 octets set
 *  err. */
void gslb_rcur_skip_name(gslb_rcur_t *c);

/* ---- write cursor ------------------------------------------------------- */
typedef struct gslb_wcur {
    uint8_t *buf;
    size_t cap, pos;
    int err;
} gslb_wcur_t;

static inline void gslb_wcur_init(gslb_wcur_t *c, uint8_t *buf, size_t cap)
{
    c->buf = buf;
    c->cap = cap;
    c->pos = 0;
    c->err = 0;
}

static inline bool gslb_wcur_room(gslb_wcur_t *c, size_t n)
{
    if (c->err)
        return false;
    if (n > c->cap - c->pos) {
        c->err = GSLB_ERANGE;
        return false;
    }
    return true;
}

static inline void gslb_wcur_u8(gslb_wcur_t *c, uint8_t v)
{
    if (gslb_wcur_room(c, 1))
        c->buf[c->pos++] = v;
}

static inline void gslb_wcur_u16(gslb_wcur_t *c, uint16_t v)
{
    if (!gslb_wcur_room(c, 2))
        return;
    c->buf[c->pos] = (uint8_t)(v >> 8);
    c->buf[c->pos + 1] = (uint8_t)v;
    c->pos += 2;
}

static inline void gslb_wcur_u32(gslb_wcur_t *c, uint32_t v)
{
    if (!gslb_wcur_room(c, 4))
        return;
    uint8_t *p = c->buf + c->pos;
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    c->pos += 4;
}

void gslb_wcur_bytes(gslb_wcur_t *c, const void *src, size_t n);

/** Overwrite a 16-bit big-endian value at an absolute offset already written. */
static inline void gslb_wire_put16(uint8_t *buf, size_t off, uint16_t v)
{
    buf[off] = (uint8_t)(v >> 8);
    buf[off + 1] = (uint8_t)v;
}

static inline uint16_t gslb_wire_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/** Reset a write cursor to an earlier position and clear its error (rollback
 *  of a record that did not fit). */
static inline void gslb_wcur_rewind(gslb_wcur_t *c, size_t pos)
{
    c->pos = pos;
    c->err = 0;
}

/* ---- compression table --------------------------------------------------- */
#define GSLB_CTAB_MAX 32
typedef struct gslb_ctab {
    unsigned count;
    struct {
        const uint8_t *name; /* uncompressed wire suffix, valid while the response is built */
        uint16_t len;
        uint16_t off; /* where it starts in the response */
    } e[GSLB_CTAB_MAX];
} gslb_ctab_t;

static inline void gslb_ctab_init(gslb_ctab_t *t)
{
    t->count = 0;
}

/** Remember that the uncompressed name (and so each of its suffixes) starts at
 *  offset off of the response. */
void gslb_ctab_add_name(gslb_ctab_t *t, const uint8_t *name, size_t len, size_t off);

/** Forget entries at or after offset pos (after a rollback of the response). */
void gslb_ctab_forget_from(gslb_ctab_t *t, size_t pos);

/** Write an uncompressed wire name, pointing at the longest suffix already in t
 *  (t may be NULL: no compression), and record the new suffixes. */
void gslb_wcur_name(gslb_wcur_t *c, gslb_ctab_t *t, const uint8_t *name, size_t len);

/* ---- query parse --------------------------------------------------------- */
enum gslb_parse_action {
    GSLB_PARSE_DROP = 0,    /* shorter than a header, or a response (QR=1): no reply */
    GSLB_PARSE_OK = 1,      /* a well-formed QUERY with one question */
    GSLB_PARSE_FORMERR = 2, /* malformed (RFC 1035 4.1.1, RFC 6891 6.1.1) */
    GSLB_PARSE_NOTIMP = 3,  /* opcode other than QUERY */
    GSLB_PARSE_BADVERS = 4, /* EDNS version > 0 (RFC 6891 6.1.3) */
};

typedef struct gslb_query {
    uint16_t id;
    uint16_t flags; /* header flags word as received */
    uint16_t qdcount, ancount, nscount, arcount;
    /* question (valid when has_question) */
    bool has_question;
    const uint8_t *qname;                   /* into the packet, case preserved */
    uint8_t qname_len;                      /* wire length including the root label */
    uint8_t label_count;                    /* labels, excluding the root */
    uint8_t label_off[GSLB_DNS_LABELS_MAX]; /* offset of each label in qname */
    uint8_t qname_lc[GSLB_DNS_NAME_MAX];    /* lower-case copy */
    uint16_t qtype, qclass;
    uint16_t question_end; /* packet offset after the question */
    /* EDNS (valid when has_edns) */
    bool has_edns;
    uint16_t edns_payload; /* client's UDP payload size as sent */
    uint8_t edns_version;
    bool edns_do;
    uint16_t edns_flags; /* the OPT's 16 flag bits (DO, CO, Z) */
    const char *why;     /* short reason for FORMERR/DROP (tests, debug logs) */
} gslb_query_t;

/** Parse one DNS message as a query. Always fills id/flags when the header is
 *  present; q->why says why for DROP and FORMERR.
 *  @return GSLB_PARSE_DROP: no reply (shorter than a header, or QR=1);
 *          GSLB_PARSE_OK: one question (q->has_question) and EDNS parsed;
 *          GSLB_PARSE_FORMERR: malformed (the question is set when it parsed);
 *          GSLB_PARSE_NOTIMP: opcode other than QUERY (question set when it parsed);
 *          GSLB_PARSE_BADVERS: EDNS version > 0 (question and EDNS set). */
enum gslb_parse_action gslb_wire_parse_query(const uint8_t *pkt, size_t len, gslb_query_t *q);
