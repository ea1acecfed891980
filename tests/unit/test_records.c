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
