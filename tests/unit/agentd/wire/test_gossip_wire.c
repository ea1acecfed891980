/*
 * test_gossip_wire.c - the gossip format (agentd/gossip_wire.h): plaintext
 * round trips (IPv4 and IPv6), strict decoding of every truncation and
 * corruption, AES-GCM seal/open with 16/24/32-byte keys, and the result
 * classification of bad lengths, versions and keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gossip_wire.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t KEY32[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static void sample(gslb_gossip_msg_t *m, gslb_gossip_backend_t *b)
{
    memset(m, 0, sizeof(*m));
    m->version = GSLB_GOSSIP_VERSION;
    m->type = GSLB_GOSSIP_HEARTBEAT;
    m->seq = 0x0102030405060708ULL;
    m->timestamp_ms = 1700000000123LL;
    strcpy(m->agent_id, "agent-1");
    strcpy(m->region, "us-east");
    strcpy(m->token_name, "webapp");
    strcpy(m->token, "s3cret token");
    memset(b, 0, 2 * sizeof(*b));
    strcpy(b[0].service, "webapp");
    assert_int_equal(gslb_addr_parse("10.0.0.1", &b[0].addr), 0);
    b[0].port = 8080;
    b[0].weight = 100;
    b[0].health = GSLB_HEALTHY;
    b[0].latency_us = 1234;
    strcpy(b[1].service, "webapp.gslb.example.com");
    assert_int_equal(gslb_addr_parse("2001:db8::1", &b[1].addr), 0);
    b[1].port = 443;
    b[1].weight = 0;
    b[1].health = GSLB_UNHEALTHY;
    m->backends = b;
    m->backend_count = 2;
}

static void test_plaintext_round_trip(void **state)
{
    (void)state;
    gslb_gossip_msg_t m, out;
    gslb_gossip_backend_t b[2], ob[4];
    uint8_t buf[2048];
    sample(&m, b);
    int n = gslb_gossip_encode(&m, buf, sizeof(buf));
    assert_true(n > GSLB_GOSSIP_MIN_PLAINTEXT);
    out.backends = ob;
    assert_int_equal(gslb_gossip_decode(buf, (size_t)n, &out, 4), 0);
    assert_int_equal(out.seq, m.seq);
    assert_int_equal(out.timestamp_ms, m.timestamp_ms);
    assert_int_equal(out.type, GSLB_GOSSIP_HEARTBEAT);
    assert_string_equal(out.agent_id, "agent-1");
    assert_string_equal(out.region, "us-east");
    assert_string_equal(out.token_name, "webapp");
    assert_string_equal(out.token, "s3cret token");
    assert_int_equal(out.backend_count, 2);
    assert_string_equal(ob[1].service, "webapp.gslb.example.com");
    assert_true(gslb_addr_equal(&ob[0].addr, &b[0].addr));
    assert_true(gslb_addr_equal(&ob[1].addr, &b[1].addr));
    assert_int_equal(ob[1].addr.family, AF_INET6);
    assert_int_equal(ob[0].port, 8080);
    assert_int_equal(ob[0].latency_us, 1234);
    assert_int_equal(ob[1].health, GSLB_UNHEALTHY);
    /* the buffer must be big enough */
    assert_int_equal(gslb_gossip_encode(&m, buf, (size_t)n - 1), GSLB_ERANGE);
}

/* The sample's plaintext byte for byte (big-endian integers, one-byte string
 * lengths, a two-byte token length): a change here is a change of the wire
 * format that deployed agents speak. */
static const uint8_t PIN_GOSSIP[] = {
    0x01, 0x01, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x00, 0x01,
    0x8b, 0xcf, 0xe5, 0x68, 0x7b, 0x07, 0x61, 0x67, 0x65, 0x6e, 0x74, 0x2d, 0x31, 0x07, 0x75,
    0x73, 0x2d, 0x65, 0x61, 0x73, 0x74, 0x06, 0x77, 0x65, 0x62, 0x61, 0x70, 0x70, 0x00, 0x0c,
    0x73, 0x33, 0x63, 0x72, 0x65, 0x74, 0x20, 0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x00, 0x02, 0x06,
    0x77, 0x65, 0x62, 0x61, 0x70, 0x70, 0x04, 0x0a, 0x00, 0x00, 0x01, 0x1f, 0x90, 0x00, 0x00,
    0x00, 0x64, 0x01, 0x00, 0x00, 0x04, 0xd2, 0x17, 0x77, 0x65, 0x62, 0x61, 0x70, 0x70, 0x2e,
    0x67, 0x73, 0x6c, 0x62, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f,
    0x6d, 0x06, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
};

static void test_plaintext_bytes_are_pinned(void **state)
{
    (void)state;
    gslb_gossip_msg_t m, out;
    gslb_gossip_backend_t b[2], ob[2];
    uint8_t buf[2048];
    sample(&m, b);
    int n = gslb_gossip_encode(&m, buf, sizeof(buf));
    assert_int_equal(n, sizeof(PIN_GOSSIP));
    assert_memory_equal(buf, PIN_GOSSIP, sizeof(PIN_GOSSIP));
    out.backends = ob;
    assert_int_equal(gslb_gossip_decode(PIN_GOSSIP, sizeof(PIN_GOSSIP), &out, 2), 0);
    assert_int_equal(gslb_gossip_encode(&out, buf, sizeof(buf)), n);
    assert_memory_equal(buf, PIN_GOSSIP, sizeof(PIN_GOSSIP));
}

static void test_decode_rejects_every_truncation(void **state)
{
    (void)state;
    gslb_gossip_msg_t m, out;
    gslb_gossip_backend_t b[2], ob[2];
    uint8_t buf[2048];
    sample(&m, b);
    int n = gslb_gossip_encode(&m, buf, sizeof(buf));
    out.backends = ob;
    for (int len = 0; len < n; len++)
        assert_int_not_equal(gslb_gossip_decode(buf, (size_t)len, &out, 2), 0);
    /* a trailing byte is malformed too */
    buf[n] = 0;
    assert_int_equal(gslb_gossip_decode(buf, (size_t)n + 1, &out, 2), GSLB_ECORRUPT);
    /* more backends than the caller's array */
    assert_int_equal(gslb_gossip_decode(buf, (size_t)n, &out, 1), GSLB_ECORRUPT);
}

static void expect_corrupt_after(void (*mutate)(gslb_gossip_msg_t *, gslb_gossip_backend_t *),
                                 size_t offset, uint8_t value, int want)
{
    gslb_gossip_msg_t m, out;
    gslb_gossip_backend_t b[2], ob[2];
    uint8_t buf[2048];
    sample(&m, b);
    if (mutate)
        mutate(&m, b);
    int n = gslb_gossip_encode(&m, buf, sizeof(buf));
    assert_true(n > 0 && offset < (size_t)n);
    buf[offset] = value;
    out.backends = ob;
    assert_int_equal(gslb_gossip_decode(buf, (size_t)n, &out, 2), want);
}

static void test_decode_rejects_bad_fields(void **state)
{
    (void)state;
    expect_corrupt_after(NULL, 0, 2, GSLB_EVERSION);    /* plaintext version */
    expect_corrupt_after(NULL, 1, 7, GSLB_ECORRUPT);    /* message type */
    expect_corrupt_after(NULL, 3, 1, GSLB_ECORRUPT);    /* flags must be 0 */
    expect_corrupt_after(NULL, 21, ' ', GSLB_ECORRUPT); /* space in the agent id */
    expect_corrupt_after(NULL, 20, 0, GSLB_ECORRUPT);   /* empty agent id */
}

static void test_encode_rejects_bad_input(void **state)
{
    (void)state;
    gslb_gossip_msg_t m;
    gslb_gossip_backend_t b[2];
    uint8_t buf[2048];
    sample(&m, b);
    m.agent_id[0] = '\0';
    assert_int_equal(gslb_gossip_encode(&m, buf, sizeof(buf)), GSLB_EINVAL);
    sample(&m, b);
    b[0].addr.family = 0;
    assert_true(gslb_gossip_encode(&m, buf, sizeof(buf)) < 0);
}

static void seal_open_with(size_t key_len)
{
    gslb_gossip_aead_t a;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(gslb_gossip_aead_init(&a, KEY32, key_len, &eb), 0);
    gslb_gossip_msg_t m, out;
    gslb_gossip_backend_t b[2], ob[2];
    uint8_t scratch[2048], sealed[2048], pt[2048];
    sample(&m, b);
    int n = gslb_gossip_build(&a, &m, scratch, sizeof(scratch), sealed, sizeof(sealed));
    assert_true(n > GSLB_GOSSIP_OVERHEAD);
    assert_int_equal(sealed[0], 'O');
    assert_int_equal(sealed[2], GSLB_GOSSIP_VERSION);
    /* the token is not visible in the sealed bytes */
    assert_null(memmem(sealed, (size_t)n, "s3cret", 6));
    enum gslb_gossip_result why = GSLB_GOSSIP_MALFORMED;
    int p = gslb_gossip_open(&a, sealed, (size_t)n, pt, sizeof(pt), &why);
    assert_true(p > 0);
    assert_int_equal(why, GSLB_GOSSIP_ACCEPTED);
    out.backends = ob;
    assert_int_equal(gslb_gossip_decode(pt, (size_t)p, &out, 2), 0);
    assert_string_equal(out.token, "s3cret token");
    /* two seals of the same message differ (random nonce) */
    uint8_t again[2048];
    int n2 = gslb_gossip_build(&a, &m, scratch, sizeof(scratch), again, sizeof(again));
    assert_int_equal(n2, n);
    assert_memory_not_equal(sealed + 4, again + 4, 12);
    gslb_gossip_aead_free(&a);
}

static void test_seal_open_all_key_sizes(void **state)
{
    (void)state;
    seal_open_with(16);
    seal_open_with(24);
    seal_open_with(32);
    gslb_gossip_aead_t a;
    assert_int_equal(gslb_gossip_aead_init(&a, KEY32, 20, NULL), GSLB_EINVAL);
}

static int seal_sample(gslb_gossip_aead_t *a, uint8_t *sealed, size_t cap)
{
    gslb_gossip_msg_t m;
    gslb_gossip_backend_t b[2];
    uint8_t scratch[2048];
    sample(&m, b);
    return gslb_gossip_build(a, &m, scratch, sizeof(scratch), sealed, cap);
}

static enum gslb_gossip_result open_result(gslb_gossip_aead_t *a, const uint8_t *msg, size_t len)
{
    uint8_t pt[4096];
    enum gslb_gossip_result why = GSLB_GOSSIP_ACCEPTED;
    int rc = gslb_gossip_open(a, msg, len, pt, sizeof(pt), &why);
    if (rc >= 0)
        return GSLB_GOSSIP_ACCEPTED;
    return why;
}

static void test_open_classifies_failures(void **state)
{
    (void)state;
    gslb_gossip_aead_t a, other;
    uint8_t other_key[32];
    memcpy(other_key, KEY32, 32);
    other_key[0] ^= 1;
    assert_int_equal(gslb_gossip_aead_init(&a, KEY32, 32, NULL), 0);
    assert_int_equal(gslb_gossip_aead_init(&other, other_key, 32, NULL), 0);
    uint8_t sealed[2048];
    int n = seal_sample(&a, sealed, sizeof(sealed));
    assert_true(n > 0);
    assert_int_equal(open_result(&a, sealed, (size_t)n), GSLB_GOSSIP_ACCEPTED);
    /* wrong key */
    assert_int_equal(open_result(&other, sealed, (size_t)n), GSLB_GOSSIP_DECRYPT_FAILED);
    /* too short, and cut off */
    assert_int_equal(open_result(&a, sealed, 10), GSLB_GOSSIP_BAD_LENGTH);
    assert_int_equal(open_result(&a, sealed, (size_t)n - 1), GSLB_GOSSIP_DECRYPT_FAILED);
    /* too long */
    assert_int_equal(open_result(&a, sealed, GSLB_GOSSIP_MSG_MAX + 1), GSLB_GOSSIP_BAD_LENGTH);
    /* every flipped bit of nonce, ciphertext or tag fails */
    for (int i = GSLB_GOSSIP_HDR_LEN; i < n; i++) {
        sealed[i] ^= 0x40;
        assert_int_equal(open_result(&a, sealed, (size_t)n), GSLB_GOSSIP_DECRYPT_FAILED);
        sealed[i] ^= 0x40;
    }
    /* unknown version or magic */
    sealed[2] = 2;
    assert_int_equal(open_result(&a, sealed, (size_t)n), GSLB_GOSSIP_BAD_VERSION);
    sealed[2] = GSLB_GOSSIP_VERSION;
    sealed[0] = 'X';
    assert_int_equal(open_result(&a, sealed, (size_t)n), GSLB_GOSSIP_BAD_VERSION);
    sealed[0] = 'O';
    assert_int_equal(open_result(&a, sealed, (size_t)n), GSLB_GOSSIP_ACCEPTED);
    gslb_gossip_aead_free(&a);
    gslb_gossip_aead_free(&other);
}

static void test_large_message(void **state)
{
    (void)state;
    gslb_gossip_aead_t a;
    assert_int_equal(gslb_gossip_aead_init(&a, KEY32, 16, NULL), 0);
    gslb_gossip_msg_t m, out;
    gslb_gossip_backend_t tmp[2];
    sample(&m, tmp);
    gslb_gossip_backend_t *b = calloc(GSLB_GOSSIP_MAX_BACKENDS, sizeof(*b));
    gslb_gossip_backend_t *ob = calloc(GSLB_GOSSIP_MAX_BACKENDS, sizeof(*ob));
    for (size_t i = 0; i < GSLB_GOSSIP_MAX_BACKENDS; i++) {
        b[i] = tmp[i % 2];
        b[i].port = (uint16_t)(1000 + i);
    }
    m.backends = b;
    m.backend_count = GSLB_GOSSIP_MAX_BACKENDS;
    uint8_t *scratch = malloc(GSLB_GOSSIP_MSG_MAX), *sealed = malloc(GSLB_GOSSIP_MSG_MAX);
    uint8_t *pt = malloc(GSLB_GOSSIP_MSG_MAX);
    int n = gslb_gossip_build(&a, &m, scratch, GSLB_GOSSIP_MSG_MAX, sealed, GSLB_GOSSIP_MSG_MAX);
    assert_true(n > GSLB_GOSSIP_UDP_MAX);
    int p = gslb_gossip_open(&a, sealed, (size_t)n, pt, GSLB_GOSSIP_MSG_MAX, NULL);
    assert_true(p > 0);
    out.backends = ob;
    assert_int_equal(gslb_gossip_decode(pt, (size_t)p, &out, GSLB_GOSSIP_MAX_BACKENDS), 0);
    assert_int_equal(out.backend_count, GSLB_GOSSIP_MAX_BACKENDS);
    assert_int_equal(ob[GSLB_GOSSIP_MAX_BACKENDS - 1].port, 1000 + GSLB_GOSSIP_MAX_BACKENDS - 1);
    /* one backend too many is refused by the encoder */
    m.backend_count = GSLB_GOSSIP_MAX_BACKENDS + 1;
    assert_int_equal(gslb_gossip_encode(&m, scratch, GSLB_GOSSIP_MSG_MAX), GSLB_EINVAL);
    free(b);
    free(ob);
    free(scratch);
    free(sealed);
    free(pt);
    gslb_gossip_aead_free(&a);
}

static void test_result_names(void **state)
{
    (void)state;
    assert_string_equal(gslb_gossip_result_name(GSLB_GOSSIP_ACCEPTED), "accepted");
    assert_string_equal(gslb_gossip_result_name(GSLB_GOSSIP_REPLAYED), "replayed");
    assert_string_equal(gslb_gossip_result_name(GSLB_GOSSIP_MALFORMED), "malformed");
    assert_string_equal(gslb_gossip_result_name(GSLB_GOSSIP_RESULT_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plaintext_round_trip),
        cmocka_unit_test(test_plaintext_bytes_are_pinned),
        cmocka_unit_test(test_decode_rejects_every_truncation),
        cmocka_unit_test(test_decode_rejects_bad_fields),
        cmocka_unit_test(test_encode_rejects_bad_input),
        cmocka_unit_test(test_seal_open_all_key_sizes),
        cmocka_unit_test(test_open_classifies_failures),
        cmocka_unit_test(test_large_message),
        cmocka_unit_test(test_result_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
