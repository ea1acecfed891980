/*
 * test_wire.c - DNS parser and writer (server/wire.c): names,
 * compression, and the classification of queries (RFC 1035, RFC 6891).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "wire.h"

#include <ldns/ldns.h>
#include <string.h>

/* ---- a tiny query builder ---------------------------------------------------- */
typedef struct qb {
    uint8_t buf[1024];
    size_t len;
} qb_t;

static void qb_u16(qb_t *b, uint16_t v)
{
    b->buf[b->len++] = (uint8_t)(v >> 8);
    b->buf[b->len++] = (uint8_t)v;
}

static void qb_u32(qb_t *b, uint32_t v)
{
    qb_u16(b, (uint16_t)(v >> 16));
    qb_u16(b, (uint16_t)v);
}

static void qb_bytes(qb_t *b, const void *p, size_t n)
{
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void qb_header(qb_t *b, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                      uint16_t ar)
{
    b->len = 0;
    qb_u16(b, id);
    qb_u16(b, flags);
    qb_u16(b, qd);
    qb_u16(b, an);
    qb_u16(b, ns);
    qb_u16(b, ar);
}

static void qb_name(qb_t *b, const char *name)
{
    uint8_t wire[255];
    int n = gslb_dname_from_str(name, wire, sizeof(wire));
    assert_true(n > 0);
    qb_bytes(b, wire, (size_t)n);
}

static void qb_question(qb_t *b, const char *name, uint16_t type, uint16_t cls)
{
    qb_name(b, name);
    qb_u16(b, type);
    qb_u16(b, cls);
}

/* OPT RR: root owner, payload, ext-rcode/version/flags, options rdata. */
static void qb_opt(qb_t *b, uint16_t payload, uint8_t version, bool do_bit, const uint8_t *rd,
                   uint16_t rdlen)
{
    b->buf[b->len++] = 0;
    qb_u16(b, GSLB_RR_OPT);
    qb_u16(b, payload);
    qb_u32(b, ((uint32_t)version << 16) | (do_bit ? 0x8000u : 0));
    qb_u16(b, rdlen);
    if (rdlen)
        qb_bytes(b, rd, rdlen);
}

static void simple_query(qb_t *b, const char *name, uint16_t type)
{
    qb_header(b, 0x1234, GSLB_FLAG_RD, 1, 0, 0, 0);
    qb_question(b, name, type, GSLB_CLASS_IN);
}

/* ---- names -------------------------------------------------------------------- */

static void test_name_text_roundtrip(void **state)
{
    (void)state;
    uint8_t wire[255];
    char text[1024];
    int n = gslb_dname_from_str("WebApp.gslb.Example.com.", wire, sizeof(wire));
    assert_int_equal(n, 25);
    assert_memory_equal(wire, "\6WebApp\4gslb\7Example\3com\0", 25);
    assert_string_equal(gslb_dname_to_str(wire, (size_t)n, text, sizeof(text)),
                        "WebApp.gslb.Example.com.");
    assert_int_equal(gslb_dname_from_str(".", wire, sizeof(wire)), 1);
    assert_string_equal(gslb_dname_to_str(wire, 1, text, sizeof(text)), ".");
    assert_int_equal(gslb_dname_from_str("a..b", wire, sizeof(wire)), GSLB_EINVAL);
    char longlabel[80];
    memset(longlabel, 'x', 64);
    longlabel[64] = 0;
    assert_int_equal(gslb_dname_from_str(longlabel, wire, sizeof(wire)), GSLB_EINVAL);
    const uint8_t odd[] = {3, 'a', '.', 0xff, 0};
    assert_string_equal(gslb_dname_to_str(odd, sizeof(odd), text, sizeof(text)), "a\\.\\255.");
}

static void test_name_len_limits(void **state)
{
    (void)state;
    uint8_t name[300];
    /* 4 labels of 63 = 256 bytes + root: too long */
    size_t o = 0;
    for (int i = 0; i < 4; i++) {
        name[o++] = 63;
        memset(name + o, 'a', 63);
        o += 63;
    }
    name[o++] = 0;
    assert_int_equal(gslb_dname_len(name, o), GSLB_ECORRUPT);
    /* 3 x 63 + 61 = 253 + root = 255 total: the maximum */
    name[3 * 64] = 61;
    name[3 * 64 + 62] = 0;
    assert_int_equal(gslb_dname_len(name, 255), 255);
    const uint8_t noroot[] = {3, 'c', 'o', 'm'};
    assert_int_equal(gslb_dname_len(noroot, sizeof(noroot)), GSLB_ECORRUPT);
    const uint8_t badlabel[] = {0x41, 0};
    assert_int_equal(gslb_dname_len(badlabel, sizeof(badlabel)), GSLB_ECORRUPT);
    assert_true(gslb_dname_eq((const uint8_t *)"\3CoM\0", (const uint8_t *)"\3cOm\0", 5));
    assert_false(gslb_dname_eq((const uint8_t *)"\3cpm\0", (const uint8_t *)"\3com\0", 5));
}

static void test_skip_name_pointers(void **state)
{
    (void)state;
    /* name at 0: "\3foo\0"; at 5: "\3bar" + pointer to 0 */
    const uint8_t data[] = {3, 'f', 'o', 'o', 0, 3, 'b', 'a', 'r', 0xC0, 0x00, 0xC0, 0x0B};
    gslb_cur_t c;
    gslb_cur_init_ro(&c, data, sizeof(data));
    gslb_wire_skip_name(&c);
    assert_int_equal(c.pos, 5);
    gslb_wire_skip_name(&c);
    assert_int_equal(c.err, 0);
    assert_int_equal(c.pos, 11);
    gslb_wire_skip_name(&c); /* points at itself: not before its start */
    assert_int_equal(c.err, GSLB_ECORRUPT);
}

static void test_compression_writes_valid_pointers(void **state)
{
    (void)state;
    uint8_t buf[512];
    gslb_cur_t w;
    gslb_ctab_t t;
    gslb_ctab_init(&t);
    gslb_cur_init(&w, buf, sizeof(buf));
    /* a minimal response header with 1 question, 1 answer (NS) */
    const uint8_t hdr[12] = {0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0};
    gslb_cur_put_bytes(&w, hdr, 12);
    uint8_t q[255], ns[255];
    int ql = gslb_dname_from_str("GSLB.example.com", q, sizeof(q));
    int nl = gslb_dname_from_str("ns1.gslb.example.com", ns, sizeof(ns));
    gslb_wire_put_name(&w, &t, q, (size_t)ql);
    gslb_cur_put_be16(&w, GSLB_RR_NS);
    gslb_cur_put_be16(&w, GSLB_CLASS_IN);
    size_t owner_at = w.pos;
    gslb_wire_put_name(&w, &t, q, (size_t)ql); /* fully compressed: a pointer to 12 */
    assert_int_equal(w.pos - owner_at, 2);
    assert_int_equal(buf[owner_at], 0xC0);
    assert_int_equal(buf[owner_at + 1], 12);
    gslb_cur_put_be16(&w, GSLB_RR_NS);
    gslb_cur_put_be16(&w, GSLB_CLASS_IN);
    gslb_cur_put_be32(&w, 300);
    size_t rdlen_at = w.pos;
    gslb_cur_put_be16(&w, 0);
    gslb_wire_put_name(&w, &t, ns, (size_t)nl); /* "\3ns1" + pointer */
    assert_int_equal(w.pos - rdlen_at - 2, 6);
    gslb_put_be16(buf + rdlen_at, (uint16_t)(w.pos - rdlen_at - 2));
    assert_int_equal(w.err, 0);

    ldns_pkt *pkt = NULL;
    assert_int_equal(ldns_wire2pkt(&pkt, buf, w.pos), LDNS_STATUS_OK);
    ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(pkt), 0);
    char *owner = ldns_rdf2str(ldns_rr_owner(rr));
    char *target = ldns_rdf2str(ldns_rr_rdf(rr, 0));
    assert_string_equal(owner, "GSLB.example.com.");
    assert_string_equal(target, "ns1.GSLB.example.com."); /* case of the earlier name */
    free(owner);
    free(target);
    ldns_pkt_free(pkt);

    gslb_ctab_forget_from(&t, owner_at);
    for (unsigned i = 0; i < t.count; i++)
        assert_true(t.e[i].off < owner_at);
}

/* ---- query parse -------------------------------------------------------------- */

static void test_parse_simple_query(void **state)
{
    (void)state;
    qb_t b;
    simple_query(&b, "WebApp.GSLB.example.com", GSLB_RR_A);
    gslb_query_t q;
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_OK);
    assert_int_equal(q.id, 0x1234);
    assert_true(q.has_question);
    assert_false(q.has_edns);
    assert_int_equal(q.qtype, GSLB_RR_A);
    assert_int_equal(q.qclass, GSLB_CLASS_IN);
    assert_int_equal(q.qname_len, 25);
    assert_int_equal(q.label_count, 4);
    assert_int_equal(q.label_off[0], 0);
    assert_int_equal(q.label_off[1], 7);
    assert_int_equal(q.label_off[2], 12);
    assert_int_equal(q.label_off[3], 20);
    assert_memory_equal(q.qname, "\6WebApp\4GSLB", 12); /* case kept */
    assert_memory_equal(q.qname_lc, "\6webapp\4gslb\7example\3com\0", 25);
    assert_int_equal(q.question_end, b.len);
}

static void test_parse_drops_responses_and_runts(void **state)
{
    (void)state;
    qb_t b;
    simple_query(&b, "a.example", GSLB_RR_A);
    b.buf[2] |= 0x80; /* QR */
    gslb_query_t q;
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_DROP);
    assert_int_equal(gslb_wire_parse_query(b.buf, 11, &q), GSLB_PARSE_DROP);
    assert_int_equal(gslb_wire_parse_query(b.buf, 0, &q), GSLB_PARSE_DROP);
}

static void test_parse_notimp_for_other_opcodes(void **state)
{
    (void)state;
    qb_t b;
    qb_header(&b, 7, (uint16_t)(5u << 11), 1, 0, 0, 0); /* UPDATE */
    qb_question(&b, "example", GSLB_RR_SOA, GSLB_CLASS_IN);
    gslb_query_t q;
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_NOTIMP);
    assert_true(q.has_question);
    qb_header(&b, 7, (uint16_t)(4u << 11), 0, 0, 0, 0); /* NOTIFY without question */
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_NOTIMP);
    assert_false(q.has_question);
}

static void test_parse_formerr_qdcount(void **state)
{
    (void)state;
    qb_t b;
    gslb_query_t q;
    qb_header(&b, 1, 0, 0, 0, 0, 0);
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_FORMERR);
    qb_header(&b, 1, 0, 2, 0, 0, 0);
    qb_question(&b, "a.example", GSLB_RR_A, GSLB_CLASS_IN);
    qb_question(&b, "b.example", GSLB_RR_A, GSLB_CLASS_IN);
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_FORMERR);
}

static void test_parse_formerr_bad_names(void **state)
{
    (void)state;
    qb_t b;
    gslb_query_t q;
    /* compression pointer in the question */
    qb_header(&b, 1, 0, 1, 0, 0, 0);
    qb_bytes(&b, "\1a\xC0\x0C", 4);
    qb_u16(&b, 1);
    qb_u16(&b, 1);
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_FORMERR);
    /* label type 0x40 */
    qb_header(&b, 1, 0, 1, 0, 0, 0);
    qb_bytes(&b, "\x41\0", 2);
    qb_u16(&b, 1);
    qb_u16(&b, 1);
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_FORMERR);
    /* name over 255 octets */
    qb_header(&b, 1, 0, 1, 0, 0, 0);
    for (int i = 0; i < 5; i++) {
        b.buf[b.len++] = 60;
        memset(b.buf + b.len, 'x', 60);
        b.len += 60;
    }
    b.buf[b.len++] = 0;
    qb_u16(&b, 1);
    qb_u16(&b, 1);
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_FORMERR);
    /* question cut short: every prefix of a valid query is FORMERR */
    simple_query(&b, "www.example.com", GSLB_RR_AAAA);
    for (size_t cut = 12; cut < b.len; cut++)
        assert_int_equal(gslb_wire_parse_query(b.buf, cut, &q), GSLB_PARSE_FORMERR);
}

static void test_parse_formerr_trailing_data(void **state)
{
    (void)state;
    qb_t b;
    gslb_query_t q;
    simple_query(&b, "www.example.com", GSLB_RR_A);
    b.buf[b.len++] = 0;
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_FORMERR);
    assert_true(q.has_question); /* echoed in the FORMERR */
}

static void test_parse_edns(void **state)
{
    (void)state;
    qb_t b;
    gslb_query_t q;
    /* unknown option 65001 (4 bytes) and a cookie: both ignored */
    const uint8_t opts[] = {0xfd, 0xe9, 0, 4, 1, 2, 3, 4, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    qb_header(&b, 9, 0, 1, 0, 0, 1);
    qb_question(&b, "www.example.com", GSLB_RR_A, GSLB_CLASS_IN);
    qb_opt(&b, 4096, 0, true, opts, sizeof(opts));
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_OK);
    assert_true(q.has_edns);
    assert_int_equal(q.edns_payload, 4096);
    assert_true(q.edns_do);
    assert_int_equal(q.edns_version, 0);

    qb_header(&b, 9, 0, 1, 0, 0, 1);
    qb_question(&b, "www.example.com", GSLB_RR_A, GSLB_CLASS_IN);
    qb_opt(&b, 1232, 1, false, NULL, 0);
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_BADVERS);
    assert_true(q.has_edns);
}

static void test_parse_edns_formerr(void **state)
{
    (void)state;
    qb_t b;
    gslb_query_t q;
    /* two OPT records */
    qb_header(&b, 9, 0, 1, 0, 0, 2);
    qb_question(&b, "www.example.com", GSLB_RR_A, GSLB_CLASS_IN);
    qb_opt(&b, 1232, 0, false, NULL, 0);
    qb_opt(&b, 1232, 0, false, NULL, 0);
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_FORMERR);
    /* OPT in the answer section */
    qb_header(&b, 9, 0, 1, 1, 0, 0);
    qb_question(&b, "www.example.com", GSLB_RR_A, GSLB_CLASS_IN);
    qb_opt(&b, 1232, 0, false, NULL, 0);
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_FORMERR);
    /* OPT owner not the root */
    qb_header(&b, 9, 0, 1, 0, 0, 1);
    qb_question(&b, "www.example.com", GSLB_RR_A, GSLB_CLASS_IN);
    qb_name(&b, "x");
    qb_u16(&b, GSLB_RR_OPT);
    qb_u16(&b, 1232);
    qb_u32(&b, 0);
    qb_u16(&b, 0);
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_FORMERR);
    /* option length past the rdata */
    const uint8_t bad[] = {0, 10, 0, 9, 1, 2};
    qb_header(&b, 9, 0, 1, 0, 0, 1);
    qb_question(&b, "www.example.com", GSLB_RR_A, GSLB_CLASS_IN);
    qb_opt(&b, 1232, 0, false, bad, sizeof(bad));
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_FORMERR);
    /* rdlength past the message */
    qb_header(&b, 9, 0, 1, 0, 0, 1);
    qb_question(&b, "www.example.com", GSLB_RR_A, GSLB_CLASS_IN);
    qb_opt(&b, 1232, 0, false, NULL, 0);
    b.buf[b.len - 1] = 4;
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_FORMERR);
}

static void test_parse_other_additional_records(void **state)
{
    (void)state;
    qb_t b;
    gslb_query_t q;
    /* an A record in additional (compressed owner) before the OPT: skipped */
    qb_header(&b, 9, 0, 1, 0, 0, 2);
    qb_question(&b, "www.example.com", GSLB_RR_A, GSLB_CLASS_IN);
    qb_u16(&b, 0xC00C);
    qb_u16(&b, GSLB_RR_A);
    qb_u16(&b, GSLB_CLASS_IN);
    qb_u32(&b, 60);
    qb_u16(&b, 4);
    qb_bytes(&b, "\x7f\0\0\1", 4);
    qb_opt(&b, 512, 0, false, NULL, 0);
    assert_int_equal(gslb_wire_parse_query(b.buf, b.len, &q), GSLB_PARSE_OK);
    assert_true(q.has_edns);
    assert_int_equal(q.edns_payload, 512);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_text_roundtrip),
        cmocka_unit_test(test_name_len_limits),
        cmocka_unit_test(test_skip_name_pointers),
        cmocka_unit_test(test_compression_writes_valid_pointers),
        cmocka_unit_test(test_parse_simple_query),
        cmocka_unit_test(test_parse_drops_responses_and_runts),
        cmocka_unit_test(test_parse_notimp_for_other_opcodes),
        cmocka_unit_test(test_parse_formerr_qdcount),
        cmocka_unit_test(test_parse_formerr_bad_names),
        cmocka_unit_test(test_parse_formerr_trailing_data),
        cmocka_unit_test(test_parse_edns),
        cmocka_unit_test(test_parse_edns_formerr),
        cmocka_unit_test(test_parse_other_additional_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
