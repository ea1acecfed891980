/*
 * wire.h - the DNS message parser and writer of the hot path (RFC 1035 4.1,
 * RFC 6891 6.1): names on the byte cursor of cursor.h (skip a compressed name,
 * write a name with compression), and the parse of one query into a
 * gslb_query_t.
 *
 * Contract:
 *  - Everything reads and writes through a gslb_cur_t (cursor.h) and keeps its
 *    sticky-error rule: a bad name sets GSLB_ECORRUPT, a name that does not fit
 *    GSLB_ERANGE, and callers check err once.
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

#include "cursor.h"
#include "dname.h"
#include "dnsdef.h"
#include "gslb_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Skip one (possibly compressed) domain name on a read cursor. A compression
 *  pointer must point before the name's own start; label types 01/10 and
 *  names over 255 octets set GSLB_ECORRUPT. */
void gslb_wire_skip_name(gslb_cur_t *c);

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
void gslb_wire_put_name(gslb_cur_t *c, gslb_ctab_t *t, const uint8_t *name, size_t len);

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
