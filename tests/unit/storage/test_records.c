/*
 * test_records.c - round trips and rejection tests for every record encoding,
 * and the shared helpers of records.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gslb_err.h"
#include "reclayout.h"
#include "records.h"
#include "storage_samples.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row per record type: encode/decode through void pointers. */
typedef struct codec {
    const char *name;
    size_t size;
    int (*encode)(const void *r, uint8_t *buf, size_t cap);
    int (*decode)(const uint8_t *buf, size_t len, void *out);
    void (*sample)(void *out);
} codec_t;

#define CODEC_WRAP(kind, type, sample_expr)                                                        \
    static int kind##_enc(const void *r, uint8_t *b, size_t c)                                     \
    {                                                                                              \
        return gslb_##kind##_encode((const type *)r, b, c);                                        \
    }                                                                                              \
    static int kind##_dec(const uint8_t *b, size_t l, void *o)                                     \
    {                                                                                              \
        return gslb_##kind##_decode(b, l, (type *)o);                                              \
    }                                                                                              \
    static void kind##_sample(void *o)                                                             \
    {                                                                                              \
        *(type *)o = sample_expr;                                                                  \
    }

CODEC_WRAP(meta, gslb_meta_rec_t, sample_meta())
CODEC_WRAP(keysync_meta, gslb_keysync_meta_rec_t,
           (gslb_keysync_meta_rec_t){.last_sync = 1767225600})
CODEC_WRAP(zone, gslb_zone_rec_t, sample_zone("gslb.example.com"))
CODEC_WRAP(domain, gslb_domain_rec_t, sample_domain("webapp.gslb.example.com", "gslb.example.com"))
CODEC_WRAP(backend, gslb_backend_rec_t,
           sample_backend("webapp.gslb.example.com", "2001:db8::10", "eu-west"))
CODEC_WRAP(agent, gslb_agent_rec_t, sample_agent("agent-7"))
CODEC_WRAP(dnskey, gslb_dnskey_rec_t, sample_dnskey("gslb.example.com", 12345))
CODEC_WRAP(override, gslb_override_rec_t,
           sample_override("webapp.gslb.example.com", "10.0.1.10", GSLB_OVERRIDE_DOWN))
CODEC_WRAP(audit, gslb_audit_rec_t, sample_audit(1767225800123, 7))

#define ROW(kind, type)                                                                            \
    {                                                                                              \
#kind, sizeof(type), kind##_enc, kind##_dec, kind##_sample                                 \
    }
static const codec_t codecs[] = {
    ROW(meta, gslb_meta_rec_t),
    ROW(zone, gslb_zone_rec_t),
    ROW(domain, gslb_domain_rec_t),
    ROW(backend, gslb_backend_rec_t),
    ROW(agent, gslb_agent_rec_t),
    ROW(dnskey, gslb_dnskey_rec_t),
    ROW(override, gslb_override_rec_t),
    ROW(audit, gslb_audit_rec_t),
    ROW(keysync_meta, gslb_keysync_meta_rec_t),
};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

/* Encodes the sample of c into buf; returns the length. */
static int encode_sample(const codec_t *c, void *rec, uint8_t *buf, size_t cap)
{
    memset(rec, 0, c->size);
    c->sample(rec);
    int n = c->encode(rec, buf, cap);
    assert_true(n > 1);
    assert_int_equal(buf[0], GSLB_REC_V1);
    return n;
}

/* With GSLB_WRITE_CORPUS=DIR set, the encoded samples are written to DIR as the
 * fuzz_records seed corpus (fuzz/corpus/records/). */
static void maybe_write_corpus(const char *name, const uint8_t *buf, size_t len)
{
    const char *dir = getenv("GSLB_WRITE_CORPUS");
    char path[512];
    if (!dir)
        return;
    snprintf(path, sizeof(path), "%s/record-%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

/* ---- pinned encodings ---------------------------------------------------------- */

/* The encoded samples, byte for byte, as the stores in the field hold them
 * (generated once from the encoders before the byte cursor was unified). A
 * change here is a change of the on-disk format. */
static const uint8_t PIN_meta[] = {
    0x01, 0x01, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x6f, 0x76, 0x65, 0x72, 0x77, 0x61,
    0x74, 0x63, 0x68, 0x2d, 0x31, 0x00, 0xb9, 0x55, 0x69, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t PIN_zone[] = {
    0x01, 0x10, 0x00, 0x67, 0x73, 0x6c, 0x62, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
    0x63, 0x6f, 0x6d, 0x14, 0x00, 0x6e, 0x73, 0x31, 0x2e, 0x67, 0x73, 0x6c, 0x62, 0x2e, 0x65, 0x78,
    0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x1b, 0x00, 0x68, 0x6f, 0x73, 0x74, 0x6d,
    0x61, 0x73, 0x74, 0x65, 0x72, 0x2e, 0x67, 0x73, 0x6c, 0x62, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70,
    0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0xf5, 0x75, 0xc2, 0x78, 0x10, 0x0e, 0x00, 0x00, 0x58, 0x02,
    0x00, 0x00, 0x80, 0x51, 0x01, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x2c, 0x01, 0x00, 0x00, 0x80, 0x51,
    0x01, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x02, 0x14, 0x00, 0x6e, 0x73, 0x31, 0x2e, 0x67, 0x73, 0x6c,
    0x62, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x04, 0xc0, 0x00,
    0x02, 0x35, 0x06, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x53, 0x0f, 0x00, 0x6e, 0x73, 0x32, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
    0x2e, 0x6e, 0x65, 0x74, 0x00, 0x00,
};
static const uint8_t PIN_domain[] = {
    0x01, 0x17, 0x00, 0x77, 0x65, 0x62, 0x61, 0x70, 0x70, 0x2e, 0x67, 0x73, 0x6c, 0x62, 0x2e, 0x65,
    0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x10, 0x00, 0x67, 0x73, 0x6c, 0x62,
    0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x06, 0x00, 0x77, 0x65,
    0x62, 0x61, 0x70, 0x70, 0x02, 0x00, 0x04, 0x00, 0x14, 0x00, 0x00, 0x00, 0x02, 0x07, 0x00, 0x75,
    0x73, 0x2d, 0x65, 0x61, 0x73, 0x74, 0x07, 0x00, 0x65, 0x75, 0x2d, 0x77, 0x65, 0x73, 0x74,
};
static const uint8_t PIN_backend[] = {
    0x01, 0x17, 0x00, 0x77, 0x65, 0x62, 0x61, 0x70, 0x70, 0x2e, 0x67, 0x73, 0x6c, 0x62,
    0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x06, 0x20,
    0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x90, 0x1f, 0x64, 0x00, 0x00, 0x00, 0x07, 0x00, 0x65, 0x75, 0x2d, 0x77, 0x65,
    0x73, 0x74, 0x01, 0x0d, 0x00, 0x61, 0x67, 0x65, 0x6e, 0x74, 0x2d, 0x65, 0x75, 0x2d,
    0x77, 0x65, 0x73, 0x74, 0x01, 0x01, 0x00, 0x64, 0xb9, 0x55, 0x69, 0x00, 0x00, 0x00,
    0x00, 0x32, 0xb9, 0x55, 0x69, 0x00, 0x00, 0x00, 0x00, 0xd2, 0x04, 0x00, 0x00,
};
static const uint8_t PIN_agent[] = {
    0x01, 0x07, 0x00, 0x61, 0x67, 0x65, 0x6e, 0x74, 0x2d, 0x37, 0x07, 0x00, 0x75, 0x73, 0x2d, 0x65,
    0x61, 0x73, 0x74, 0x0c, 0x00, 0x77, 0x65, 0x62, 0x61, 0x70, 0x70, 0x2d, 0x74, 0x6f, 0x6b, 0x65,
    0x6e, 0xa8, 0xb6, 0x55, 0x69, 0x00, 0x00, 0x00, 0x00, 0x64, 0xb9, 0x55, 0x69, 0x00, 0x00, 0x00,
    0x00, 0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xc6, 0x33, 0x64, 0x07, 0x02,
};
static const uint8_t PIN_dnskey[] = {
    0x01, 0x10, 0x00, 0x67, 0x73, 0x6c, 0x62, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
    0x63, 0x6f, 0x6d, 0x39, 0x30, 0x0d, 0x00, 0x00, 0x01, 0x01, 0x40, 0x00, 0x01, 0x08, 0x0f, 0x16,
    0x1d, 0x24, 0x2b, 0x32, 0x39, 0x40, 0x47, 0x4e, 0x55, 0x5c, 0x63, 0x6a, 0x71, 0x78, 0x7f, 0x86,
    0x8d, 0x94, 0x9b, 0xa2, 0xa9, 0xb0, 0xb7, 0xbe, 0xc5, 0xcc, 0xd3, 0xda, 0xe1, 0xe8, 0xef, 0xf6,
    0xfd, 0x04, 0x0b, 0x12, 0x19, 0x20, 0x27, 0x2e, 0x35, 0x3c, 0x43, 0x4a, 0x51, 0x58, 0x5f, 0x66,
    0x6d, 0x74, 0x7b, 0x82, 0x89, 0x90, 0x97, 0x9e, 0xa5, 0xac, 0xb3, 0xba, 0x8a, 0x00, 0x05, 0x12,
    0x1f, 0x2c, 0x39, 0x46, 0x53, 0x60, 0x6d, 0x7a, 0x87, 0x94, 0xa1, 0xae, 0xbb, 0xc8, 0xd5, 0xe2,
    0xef, 0xfc, 0x09, 0x16, 0x23, 0x30, 0x3d, 0x4a, 0x57, 0x64, 0x71, 0x7e, 0x8b, 0x98, 0xa5, 0xb2,
    0xbf, 0xcc, 0xd9, 0xe6, 0xf3, 0x00, 0x0d, 0x1a, 0x27, 0x34, 0x41, 0x4e, 0x5b, 0x68, 0x75, 0x82,
    0x8f, 0x9c, 0xa9, 0xb6, 0xc3, 0xd0, 0xdd, 0xea, 0xf7, 0x04, 0x11, 0x1e, 0x2b, 0x38, 0x45, 0x52,
    0x5f, 0x6c, 0x79, 0x86, 0x93, 0xa0, 0xad, 0xba, 0xc7, 0xd4, 0xe1, 0xee, 0xfb, 0x08, 0x15, 0x22,
    0x2f, 0x3c, 0x49, 0x56, 0x63, 0x70, 0x7d, 0x8a, 0x97, 0xa4, 0xb1, 0xbe, 0xcb, 0xd8, 0xe5, 0xf2,
    0xff, 0x0c, 0x19, 0x26, 0x33, 0x40, 0x4d, 0x5a, 0x67, 0x74, 0x81, 0x8e, 0x9b, 0xa8, 0xb5, 0xc2,
    0xcf, 0xdc, 0xe9, 0xf6, 0x03, 0x10, 0x1d, 0x2a, 0x37, 0x44, 0x51, 0x5e, 0x6b, 0x78, 0x85, 0x92,
    0x9f, 0xac, 0xb9, 0xc6, 0xd3, 0xe0, 0xed, 0xfa, 0xa8, 0xb6, 0x55, 0x69, 0x00, 0x00, 0x00, 0x00,
    0x0b, 0x00, 0x6f, 0x76, 0x65, 0x72, 0x77, 0x61, 0x74, 0x63, 0x68, 0x2d, 0x31,
};
static const uint8_t PIN_override[] = {
    0x01, 0x17, 0x00, 0x77, 0x65, 0x62, 0x61, 0x70, 0x70, 0x2e, 0x67, 0x73, 0x6c, 0x62, 0x2e,
    0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x04, 0x0a, 0x00, 0x01,
    0x0a, 0x02, 0x12, 0x00, 0x6d, 0x61, 0x69, 0x6e, 0x74, 0x65, 0x6e, 0x61, 0x6e, 0x63, 0x65,
    0x20, 0x77, 0x69, 0x6e, 0x64, 0x6f, 0x77, 0x09, 0x00, 0x6f, 0x70, 0x73, 0x2d, 0x74, 0x6f,
    0x6b, 0x65, 0x6e, 0xc8, 0xb9, 0x55, 0x69, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t PIN_audit[] = {
    0x01, 0xbb, 0xb5, 0xdd, 0x76, 0x9b, 0x01, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x09, 0x00, 0x6f,
    0x70, 0x73, 0x2d, 0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x0c, 0x00, 0x6f, 0x76, 0x65, 0x72, 0x72, 0x69,
    0x64, 0x65, 0x2e, 0x70, 0x75, 0x74, 0x21, 0x00, 0x77, 0x65, 0x62, 0x61, 0x70, 0x70, 0x2e, 0x67,
    0x73, 0x6c, 0x62, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x2f,
    0x31, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x2e, 0x31, 0x30, 0x10, 0x00, 0x7b, 0x22, 0x73, 0x74, 0x61,
    0x74, 0x65, 0x22, 0x3a, 0x22, 0x64, 0x6f, 0x77, 0x6e, 0x22, 0x7d,
};

/* meta/keysync: version byte, then last_sync as a little-endian int64. */
static const uint8_t PIN_keysync_meta[] = {0x01, 0x00, 0xb9, 0x55, 0x69, 0x00, 0x00, 0x00, 0x00};

static const struct {
    const uint8_t *bytes;
    size_t len;
} pins[] = {
    {PIN_meta, sizeof(PIN_meta)},
    {PIN_zone, sizeof(PIN_zone)},
    {PIN_domain, sizeof(PIN_domain)},
    {PIN_backend, sizeof(PIN_backend)},
    {PIN_agent, sizeof(PIN_agent)},
    {PIN_dnskey, sizeof(PIN_dnskey)},
    {PIN_override, sizeof(PIN_override)},
    {PIN_audit, sizeof(PIN_audit)},
    {PIN_keysync_meta, sizeof(PIN_keysync_meta)},
};

static void test_encodings_are_pinned(void **state)
{
    (void)state;
    assert_int_equal(sizeof(pins) / sizeof(pins[0]), NCODECS);
    for (size_t i = 0; i < NCODECS; i++) {
        const codec_t *c = &codecs[i];
        uint8_t buf[GSLB_REC_MAX], again[GSLB_REC_MAX];
        void *rec = calloc(1, c->size);
        assert_non_null(rec);
        int n = encode_sample(c, rec, buf, sizeof(buf));
        if ((size_t)n != pins[i].len || memcmp(buf, pins[i].bytes, pins[i].len) != 0)
            fail_msg("%s: encoding differs from the pinned bytes", c->name);
        memset(rec, 0, c->size);
        assert_int_equal(c->decode(pins[i].bytes, pins[i].len, rec), GSLB_OK);
        assert_int_equal(c->encode(rec, again, sizeof(again)), n);
        assert_memory_equal(again, pins[i].bytes, pins[i].len);
        free(rec);
    }
}

/* ---- layout tables ------------------------------------------------------------- */

static const gslb_rec_layout_t *const layouts[] = {
    &gslb_meta_layout,     &gslb_zone_layout,  &gslb_domain_layout,
    &gslb_backend_layout,  &gslb_agent_layout, &gslb_dnskey_layout,
    &gslb_override_layout, &gslb_audit_layout, &gslb_keysync_meta_layout,
};

/* Every field lies inside its struct (LIST elements up to the maximum count),
 * dump columns are unique and named, enums name each value. */
static void test_layouts_are_consistent(void **state)
{
    (void)state;
    assert_int_equal(sizeof(layouts) / sizeof(layouts[0]), NCODECS);
    for (size_t i = 0; i < NCODECS; i++) {
        const gslb_rec_layout_t *l = layouts[i];
        assert_int_equal(l->size, codecs[i].size);
        unsigned seen = 0;
        for (size_t k = 0; k < l->nfields; k++) {
            const gslb_rec_field_t *f = &l->fields[k];
            assert_true(f->offset < l->size);
            if (f->col) {
                assert_non_null(f->name);
                assert_true(f->col < 32 && !(seen & (1u << f->col)));
                seen |= 1u << f->col;
            }
            if (f->type == GSLB_F_ENUM) {
                assert_true(f->lo <= f->hi);
                for (unsigned v = f->lo; v <= f->hi; v++)
                    assert_non_null(f->names[v]);
            }
            if (f->type == GSLB_F_STR || f->type == GSLB_F_BLOB)
                assert_true(f->offset + f->size <= l->size);
            for (size_t e = 0; f->type == GSLB_F_LIST && e < f->nelem; e++) {
                const gslb_rec_field_t *el = &f->elem[e];
                assert_true(el->stride > 0 && el->name);
                assert_true(el->offset + (size_t)f->hi * el->stride <= l->size);
            }
        }
    }
}

/* An encoder never writes what its decoder rejects: an IPv6 address in a
 * zone's IPv4 glue slot is refused when written, not when read back. */
static void test_encoder_refuses_address_the_decoder_rejects(void **state)
{
    (void)state;
    gslb_zone_rec_t z = sample_zone("gslb.example.com");
    uint8_t buf[GSLB_REC_MAX];
    z.ns_addr4[1] = sample_addr("2001:db8::1");
    assert_int_equal(gslb_zone_encode(&z, buf, sizeof(buf)), GSLB_ERANGE);
    z.ns_addr4[1] = sample_addr("192.0.2.1");
    z.ns_addr6[0] = sample_addr("192.0.2.2");
    assert_int_equal(gslb_zone_encode(&z, buf, sizeof(buf)), GSLB_ERANGE);
}

static void test_every_record_round_trips(void **state)
{
    for (size_t i = 0; i < NCODECS; i++) {
        const codec_t *c = &codecs[i];
        void *rec = calloc(1, c->size), *back = calloc(1, c->size);
        uint8_t buf[GSLB_REC_MAX];
        int n = encode_sample(c, rec, buf, sizeof(buf));
        maybe_write_corpus(c->name, buf, (size_t)n);
        memset(back, 0xAB, c->size);
        assert_int_equal(c->decode(buf, (size_t)n, back), GSLB_OK);
        if (memcmp(rec, back, c->size) != 0)
            fail_msg("%s does not round-trip", c->name);
        free(rec);
        free(back);
    }
}

static void test_every_prefix_is_rejected(void **state)
{
    for (size_t i = 0; i < NCODECS; i++) {
        const codec_t *c = &codecs[i];
        void *rec = calloc(1, c->size);
        uint8_t buf[GSLB_REC_MAX];
        int n = encode_sample(c, rec, buf, sizeof(buf));
        for (int len = 0; len < n; len++) {
            /* a heap copy of exactly len bytes so ASan catches any overread */
            uint8_t *cut = malloc(len ? (size_t)len : 1);
            memcpy(cut, buf, (size_t)len);
            int rc = c->decode(cut, (size_t)len, rec);
            if (rc != GSLB_ECORRUPT)
                fail_msg("%s: prefix of %d/%d bytes gave %d", c->name, len, n, rc);
            free(cut);
        }
        free(rec);
    }
}

static void test_trailing_bytes_and_unknown_version_are_rejected(void **state)
{
    for (size_t i = 0; i < NCODECS; i++) {
        const codec_t *c = &codecs[i];
        void *rec = calloc(1, c->size);
        uint8_t buf[GSLB_REC_MAX + 1];
        int n = encode_sample(c, rec, buf, sizeof(buf) - 1);
        buf[n] = 0;
        assert_int_equal(c->decode(buf, (size_t)n + 1, rec), GSLB_ECORRUPT);
        buf[0] = 2;
        assert_int_equal(c->decode(buf, (size_t)n, rec), GSLB_EVERSION);
        buf[0] = 0;
        assert_int_equal(c->decode(buf, (size_t)n, rec), GSLB_EVERSION);
        assert_int_equal(c->decode(NULL, 0, rec), GSLB_ECORRUPT);
        free(rec);
    }
}

static void test_garbage_is_rejected(void **state)
{
    uint8_t buf[600];
    unsigned seed = 12345;
    for (size_t i = 0; i < NCODECS; i++) {
        /* every 9-byte value is a keysync_meta record (version + int64): only its
         * length can be wrong, which the truncation tests cover */
        if (strcmp(codecs[i].name, "keysync_meta") == 0)
            continue;
        void *rec = calloc(1, codecs[i].size);
        for (int round = 0; round < 2000; round++) {
            size_t len = (size_t)(rand_r(&seed) % (int)sizeof(buf));
            for (size_t j = 0; j < len; j++)
                buf[j] = (uint8_t)rand_r(&seed);
            if (len)
                buf[0] = GSLB_REC_V1; /* get past the version check */
            int rc = codecs[i].decode(buf, len, rec);
            if (rc == GSLB_OK)
                fail_msg("%s accepted %zu random bytes", codecs[i].name, len);
        }
        free(rec);
    }
}

static void test_string_too_long_for_field_is_rejected(void **state)
{
    gslb_agent_rec_t a = sample_agent("agent-7");
    uint8_t buf[GSLB_REC_MAX];
    int n = gslb_agent_encode(&a, buf, sizeof(buf));
    assert_true(n > 0);
    /* agent_id length prefix sits right after the version byte */
    buf[1] = GSLB_LABEL_MAX;
    buf[2] = 0;
    assert_int_equal(gslb_agent_decode(buf, (size_t)n, &a), GSLB_ECORRUPT);
}

static void test_out_of_range_enum_is_rejected(void **state)
{
    gslb_override_rec_t o = sample_override("a.example", "10.0.0.1", GSLB_OVERRIDE_UP);
    uint8_t buf[GSLB_REC_MAX];
    int n = gslb_override_encode(&o, buf, sizeof(buf));
    assert_true(n > 0);
    /* version, u16 len + "a.example", addr code + 4 bytes, then the state byte */
    size_t state_at = 1 + 2 + strlen("a.example") + 1 + 4;
    assert_int_equal(buf[state_at], GSLB_OVERRIDE_UP);
    buf[state_at] = 9;
    assert_int_equal(gslb_override_decode(buf, (size_t)n, &o), GSLB_ECORRUPT);
}

static void test_encoder_reports_small_buffer_and_bad_fields(void **state)
{
    gslb_zone_rec_t z = sample_zone("gslb.example.com");
    uint8_t buf[GSLB_REC_MAX];
    int n = gslb_zone_encode(&z, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(gslb_zone_encode(&z, buf, (size_t)n - 1), GSLB_ERANGE);
    z.ns_count = GSLB_MAX_NS + 1;
    assert_int_equal(gslb_zone_encode(&z, buf, sizeof(buf)), GSLB_ERANGE);
    gslb_agent_rec_t a = sample_agent("x");
    memset(a.region, 'r', sizeof(a.region)); /* not NUL-terminated */
    assert_int_equal(gslb_agent_encode(&a, buf, sizeof(buf)), GSLB_ERANGE);
    gslb_backend_rec_t b = sample_backend("w.example", "10.0.0.1", "x");
    b.addr.family = 0;
    assert_int_equal(gslb_backend_encode(&b, buf, sizeof(buf)), GSLB_ERANGE);
}

static void test_addr_helpers(void **state)
{
    gslb_addr_t a, b;
    char text[64];
    assert_int_equal(gslb_addr_parse("192.0.2.1", &a), GSLB_OK);
    assert_int_equal(a.family, AF_INET);
    assert_string_equal(gslb_addr_format(&a, text, sizeof(text)), "192.0.2.1");
    assert_int_equal(gslb_addr_parse("2001:DB8::1", &b), GSLB_OK);
    assert_int_equal(b.family, AF_INET6);
    assert_string_equal(gslb_addr_format(&b, text, sizeof(text)), "2001:db8::1");
    assert_false(gslb_addr_equal(&a, &b));
    gslb_addr_t c;
    gslb_addr_parse("192.0.2.1", &c);
    assert_true(gslb_addr_equal(&a, &c));
    assert_int_equal(gslb_addr_parse("[2001:db8::1]", &c), GSLB_EINVAL);
    assert_int_equal(gslb_addr_parse("300.1.1.1", &c), GSLB_EINVAL);
    assert_int_equal(gslb_addr_parse("", &c), GSLB_EINVAL);
}

static void test_name_normalize(void **state)
{
    char out[GSLB_NAME_MAX];
    assert_int_equal(gslb_name_normalize("WebApp.GSLB.Example.COM.", out, sizeof(out)), GSLB_OK);
    assert_string_equal(out, "webapp.gslb.example.com");
    assert_int_equal(gslb_name_normalize("a..b", out, sizeof(out)), GSLB_EINVAL);
    assert_int_equal(gslb_name_normalize("a b", out, sizeof(out)), GSLB_EINVAL);
    assert_int_equal(gslb_name_normalize("abc", out, 3), GSLB_ERANGE);
    char label[70];
    memset(label, 'a', 64);
    label[64] = '\0';
    assert_int_equal(gslb_name_normalize(label, out, sizeof(out)), GSLB_EINVAL);
    label[63] = '\0';
    assert_int_equal(gslb_name_normalize(label, out, sizeof(out)), GSLB_OK);
}

static void test_servable_order_of_authority(void **state)
{
    gslb_backend_rec_t b = sample_backend("w.example", "10.0.0.1", "us-east");
    gslb_override_rec_t up = sample_override("w.example", "10.0.0.1", GSLB_OVERRIDE_UP);
    gslb_override_rec_t down = sample_override("w.example", "10.0.0.1", GSLB_OVERRIDE_DOWN);
    gslb_override_rec_t drain = sample_override("w.example", "10.0.0.1", GSLB_OVERRIDE_DRAIN);

    assert_true(gslb_backend_servable(&b, NULL));
    assert_string_equal(gslb_backend_status_name(&b, NULL), "healthy");
    assert_false(gslb_backend_servable(&b, &down));
    assert_string_equal(gslb_backend_status_name(&b, &down), "override_down");
    assert_false(gslb_backend_servable(&b, &drain));
    assert_string_equal(gslb_backend_status_name(&b, &drain), "draining");

    b.agent_health = GSLB_UNHEALTHY;
    assert_false(gslb_backend_servable(&b, NULL));
    assert_string_equal(gslb_backend_status_name(&b, NULL), "unhealthy");
    b.stale = true;
    assert_string_equal(gslb_backend_status_name(&b, NULL), "stale");
    b.validation_health = GSLB_UNHEALTHY;
    assert_string_equal(gslb_backend_status_name(&b, NULL), "unhealthy");
    b.draining = true;
    assert_false(gslb_backend_servable(&b, NULL));
    assert_string_equal(gslb_backend_status_name(&b, NULL), "draining");
    /* the operator's UP beats everything */
    assert_true(gslb_backend_servable(&b, &up));
    assert_string_equal(gslb_backend_status_name(&b, &up), "override_up");

    /* a config backend with no health data yet is served */
    gslb_backend_rec_t cfg = {.source = GSLB_SOURCE_CONFIG};
    gslb_addr_parse("10.0.0.2", &cfg.addr);
    assert_true(gslb_backend_servable(&cfg, NULL));
    /* only-stale is not servable */
    cfg.stale = true;
    assert_false(gslb_backend_servable(&cfg, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encodings_are_pinned),
        cmocka_unit_test(test_layouts_are_consistent),
        cmocka_unit_test(test_encoder_refuses_address_the_decoder_rejects),
        cmocka_unit_test(test_every_record_round_trips),
        cmocka_unit_test(test_every_prefix_is_rejected),
        cmocka_unit_test(test_trailing_bytes_and_unknown_version_are_rejected),
        cmocka_unit_test(test_garbage_is_rejected),
        cmocka_unit_test(test_string_too_long_for_field_is_rejected),
        cmocka_unit_test(test_out_of_range_enum_is_rejected),
        cmocka_unit_test(test_encoder_reports_small_buffer_and_bad_fields),
        cmocka_unit_test(test_addr_helpers),
        cmocka_unit_test(test_name_normalize),
        cmocka_unit_test(test_servable_order_of_authority),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
