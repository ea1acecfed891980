/*
 * wire.c - DNS message parser and writer (see wire.h for the contract).
 */
#include "wire.h"

#include <stdio.h>
#include <string.h>

/* RFC 1035 4.1.4: a length byte with both top bits set starts a two-byte
 * pointer whose other 14 bits are an offset into the message. */
#define LABEL_PTR_BITS 0xC0u
#define LABEL_LEN_MAX 63u
#define PTR_OFFSET_LIMIT 0x4000u /* offsets a pointer can reach */

/* ---- names on a read cursor --------------------------------------------------- */

void gslb_wire_skip_name(gslb_cur_t *c)
{
    size_t start = c->pos, wire = 0;
    for (;;) {
        uint8_t l = gslb_cur_get_u8(c);
        if (l == 0) /* the root label, or the cursor is in error */
            return;
        if ((l & LABEL_PTR_BITS) == LABEL_PTR_BITS) {
            size_t target = ((size_t)(l & ~LABEL_PTR_BITS) << 8) | gslb_cur_get_u8(c);
            if (!c->err && target >= start)
                gslb_cur_fail(c, GSLB_ECORRUPT);
            return;
        }
        if (l > LABEL_LEN_MAX) {
            gslb_cur_fail(c, GSLB_ECORRUPT);
            return;
        }
        wire += 1u + l;
        if (wire >= GSLB_DNS_NAME_MAX) {
            gslb_cur_fail(c, GSLB_ECORRUPT);
            return;
        }
        gslb_cur_skip(c, l);
    }
}

/* ---- compression ------------------------------------------------------------ */

static void ctab_add(gslb_ctab_t *t, const uint8_t *name, size_t len, size_t off)
{
    if (t->count >= GSLB_CTAB_MAX || off >= PTR_OFFSET_LIMIT || len <= 1)
        return;
    t->e[t->count].name = name;
    t->e[t->count].len = (uint16_t)len;
    t->e[t->count].off = (uint16_t)off;
    t->count++;
}

void gslb_ctab_add_name(gslb_ctab_t *t, const uint8_t *name, size_t len, size_t off)
{
    if (!t)
        return;
    size_t pos = 0;
    while (pos < len && name[pos] != 0) {
        ctab_add(t, name + pos, len - pos, off + pos);
        pos += 1u + name[pos];
    }
}

void gslb_ctab_forget_from(gslb_ctab_t *t, size_t pos)
{
    unsigned kept = 0;
    for (unsigned i = 0; i < t->count; i++) {
        if (t->e[i].off < pos)
            t->e[kept++] = t->e[i];
    }
    t->count = kept;
}

static int ctab_find(const gslb_ctab_t *t, const uint8_t *suffix, size_t len)
{
    for (unsigned i = 0; i < t->count; i++) {
        if (t->e[i].len == len && gslb_dname_eq(t->e[i].name, suffix, len))
            return t->e[i].off;
    }
    return -1;
}

void gslb_wire_put_name(gslb_cur_t *c, gslb_ctab_t *t, const uint8_t *name, size_t len)
{
    size_t pos = 0;
    while (pos < len && name[pos] != 0) {
        int off = t ? ctab_find(t, name + pos, len - pos) : -1;
        if (off >= 0) {
            gslb_cur_put_be16(c, (uint16_t)((LABEL_PTR_BITS << 8) | (unsigned)off));
            return;
        }
        if (t && !c->err)
            ctab_add(t, name + pos, len - pos, c->pos);
        uint8_t l = name[pos];
        gslb_cur_put_bytes(c, name + pos, 1u + l);
        pos += 1u + l;
    }
    gslb_cur_put_u8(c, 0);
}

/* ---- query parse ---------------------------------------------------------- */

static enum gslb_parse_action formerr(gslb_query_t *q, const char *why)
{
    q->why = why;
    return GSLB_PARSE_FORMERR;
}

/* Question name: uncompressed only (nothing precedes it to point at). */
static bool parse_qname(gslb_cur_t *c, gslb_query_t *q)
{
    size_t start = c->pos;
    unsigned labels = 0;
    for (;;) {
        uint8_t l = gslb_cur_get_u8(c);
        if (c->err || l > LABEL_LEN_MAX)
            return false;
        if (l == 0)
            break;
        if (labels >= GSLB_DNS_LABELS_MAX)
            return false;
        q->label_off[labels++] = (uint8_t)(c->pos - 1 - start);
        gslb_cur_skip(c, l);
        if (c->err || c->pos - start >= GSLB_DNS_NAME_MAX)
            return false;
    }
    q->qname = c->buf + start;
    q->qname_len = (uint8_t)(c->pos - start);
    q->label_count = (uint8_t)labels;
    gslb_dname_lower(q->qname_lc, q->qname, q->qname_len);
    return true;
}

static bool parse_question(gslb_cur_t *c, gslb_query_t *q)
{
    if (!parse_qname(c, q))
        return false;
    q->qtype = gslb_cur_get_be16(c);
    q->qclass = gslb_cur_get_be16(c);
    if (c->err)
        return false;
    q->question_end = (uint16_t)c->pos;
    q->has_question = true;
    return true;
}

/* RFC 6891 6.1.2: options are {code, length, data}; lengths must tile the rdata. */
static bool opt_options_valid(const uint8_t *rdata, size_t rdlen)
{
    size_t pos = 0;
    while (pos < rdlen) {
        if (rdlen - pos < 4)
            return false;
        size_t olen = gslb_get_be16(rdata + pos + 2);
        pos += 4;
        if (olen > rdlen - pos)
            return false;
        pos += olen;
    }
    return true;
}

static int parse_opt(gslb_cur_t *c, gslb_query_t *q, size_t owner_start, uint16_t rclass,
                     uint32_t ttl, size_t rdlen)
{
    if (c->pos - 10 - owner_start != 1)
        return formerr(q, "OPT owner is not the root");
    if (q->has_edns)
        return formerr(q, "more than one OPT");
    if (!opt_options_valid(c->buf + c->pos, rdlen))
        return formerr(q, "bad OPT option length");
    q->has_edns = true;
    q->edns_payload = rclass;
    q->edns_version = (uint8_t)(ttl >> 16);
    q->edns_do = (ttl & GSLB_EDNS_DO) != 0;
    q->edns_flags = (uint16_t)ttl;
    return GSLB_PARSE_OK;
}

static int parse_records(gslb_cur_t *c, gslb_query_t *q)
{
    unsigned total = (unsigned)q->ancount + q->nscount + q->arcount;
    unsigned additional_from = (unsigned)q->ancount + q->nscount;
    for (unsigned i = 0; i < total; i++) {
        size_t owner_start = c->pos;
        gslb_wire_skip_name(c);
        uint16_t type = gslb_cur_get_be16(c);
        uint16_t rclass = gslb_cur_get_be16(c);
        uint32_t ttl = gslb_cur_get_be32(c);
        uint16_t rdlen = gslb_cur_get_be16(c);
        if (c->err || rdlen > gslb_cur_left(c))
            return formerr(q, "truncated record");
        if (type == GSLB_RR_OPT) {
            if (i < additional_from)
                return formerr(q, "OPT outside the additional section");
            int rc = parse_opt(c, q, owner_start, rclass, ttl, rdlen);
            if (rc != GSLB_PARSE_OK)
                return rc;
        }
        gslb_cur_skip(c, rdlen);
    }
    if (gslb_cur_left(c) != 0)
        return formerr(q, "trailing data after the last record");
    return GSLB_PARSE_OK;
}

enum gslb_parse_action gslb_wire_parse_query(const uint8_t *pkt, size_t len, gslb_query_t *q)
{
    q->has_question = false;
    q->has_edns = false;
    q->edns_version = 0;
    q->edns_do = false;
    q->edns_flags = 0;
    q->edns_payload = 0;
    q->why = NULL;
    if (len < GSLB_DNS_HDR_LEN) {
        q->why = "shorter than a header";
        return GSLB_PARSE_DROP;
    }
    gslb_cur_t c;
    gslb_cur_init_ro(&c, pkt, len);
    q->id = gslb_cur_get_be16(&c);
    q->flags = gslb_cur_get_be16(&c);
    q->qdcount = gslb_cur_get_be16(&c);
    q->ancount = gslb_cur_get_be16(&c);
    q->nscount = gslb_cur_get_be16(&c);
    q->arcount = gslb_cur_get_be16(&c);
    if (q->flags & GSLB_FLAG_QR) {
        q->why = "QR set (a response)";
        return GSLB_PARSE_DROP;
    }
    if (GSLB_OPCODE(q->flags) != 0) {
        if (q->qdcount == 1)
            parse_question(&c, q);
        q->why = "opcode not QUERY";
        return GSLB_PARSE_NOTIMP;
    }
    if (q->qdcount != 1)
        return formerr(q, "QDCOUNT is not 1");
    if (!parse_question(&c, q))
        return formerr(q, "malformed question");
    enum gslb_parse_action rc = parse_records(&c, q);
    if (rc != GSLB_PARSE_OK)
        return rc;
    if (q->has_edns && q->edns_version > 0) {
        q->why = "EDNS version > 0";
        return GSLB_PARSE_BADVERS;
    }
    return GSLB_PARSE_OK;
}
