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

#include "gslb_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GSLB_DNS_HDR_LEN 12
#define GSLB_DNS_NAME_MAX 255
#define GSLB_DNS_LABELS_MAX 128
#define GSLB_DNS_UDP_MIN 512
#define GSLB_DNS_MSG_MAX 65535
#define GSLB_DNS_OPT_LEN 11 /* an OPT RR without options */

/* RR types and classes used by the server. */
enum gslb_rrtype {
    GSLB_RR_A = 1,
    GSLB_RR_NS = 2,
    GSLB_RR_CNAME = 5,
    GSLB_RR_SOA = 6,
    GSLB_RR_PTR = 12,
    GSLB_RR_HINFO = 13,
    GSLB_RR_MX = 15,
    GSLB_RR_TXT = 16,
    GSLB_RR_AAAA = 28,
    GSLB_RR_SRV = 33,
    GSLB_RR_OPT = 41,
    GSLB_RR_DS = 43,
    GSLB_RR_RRSIG = 46,
    GSLB_RR_NSEC = 47,
    GSLB_RR_DNSKEY = 48,
    GSLB_RR_NSEC3 = 50,
    GSLB_RR_SVCB = 64,
    GSLB_RR_HTTPS = 65,
    GSLB_RR_TKEY = 249,
    GSLB_RR_TSIG = 250,
    GSLB_RR_IXFR = 251,
    GSLB_RR_AXFR = 252,
    GSLB_RR_MAILB = 253,
    GSLB_RR_MAILA = 254,
    GSLB_RR_ANY = 255,
    GSLB_RR_CAA = 257,
};
enum gslb_rrclass { GSLB_CLASS_IN = 1, GSLB_CLASS_CH = 3, GSLB_CLASS_ANY = 255 };

enum gslb_rcode {
    GSLB_RCODE_NOERROR = 0,
    GSLB_RCODE_FORMERR = 1,
    GSLB_RCODE_SERVFAIL = 2,
    GSLB_RCODE_NXDOMAIN = 3,
    GSLB_RCODE_NOTIMP = 4,
    GSLB_RCODE_REFUSED = 5,
    GSLB_RCODE_BADVERS = 16, /* extended (RFC 6891): upper 8 bits in OPT */
};

/* Header flag bits (second 16-bit word). */
#define GSLB_FLAG_QR 0x8000u
#define GSLB_FLAG_AA 0x0400u
#define GSLB_FLAG_TC 0x0200u
#define GSLB_FLAG_RD 0x0100u
#define GSLB_FLAG_RA 0x0080u
#define GSLB_FLAG_AD 0x0020u
#define GSLB_FLAG_CD 0x0010u
#define GSLB_OPCODE(flags) (((flags) >> 11) & 0xFu)
#define GSLB_EDNS_DO 0x8000u

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

/* ---- names -------------------------------------------------------------- */
/** Validate an uncompressed wire name of at most len bytes. Returns its length
 *  (including the root label) or GSLB_ECORRUPT. */
int gslb_wire_name_len(const uint8_t *name, size_t len);

/** Case-insensitive equality of two uncompressed wire names of the same length. */
bool gslb_wire_name_eq(const uint8_t *a, const uint8_t *b, size_t len);

/** Lower-case copy of a wire name (label length bytes are below 'A'). */
void gslb_wire_name_lower(uint8_t *dst, const uint8_t *src, size_t len);

/** Presentation form ("www.example.com.") of a wire name, for logs and tests.
 *  Non-printable octets are written as \DDD. Returns out. */
const char *gslb_wire_name_to_str(const uint8_t *name, size_t len, char *out, size_t cap);

/** Wire form of a presentation name ("a.b" or "a.b."; "." is the root).
 *  Returns the wire length or GSLB_EINVAL. out needs 255 bytes. */
int gslb_wire_name_from_str(const char *text, uint8_t *out, size_t cap);

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
 *  present. Returns an enum gslb_parse_action. */
int gslb_wire_parse_query(const uint8_t *pkt, size_t len, gslb_query_t *q);
