/*
 * test_yamlconf.c - the YAML conventions of yamlconf.h: tree and positions,
 * ${VAR} expansion, rejected constructs, durations, host:port, base64 keys and
 * the "file:line:col: key: problem" error format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "yamlconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(const char *text, yc_doc_t *doc, gslb_errbuf_t *eb)
{
    memset(eb, 0, sizeof(*eb));
    return yc_load_string("t.yaml", text, strlen(text), doc, eb);
}

/* Loading must fail with a message that starts with prefix and contains problem. */
static void expect_load_error(const char *text, const char *prefix, const char *problem)
{
    yc_doc_t doc;
    gslb_errbuf_t eb;
    int rc = load(text, &doc, &eb);
    if (rc == 0)
        yc_free(&doc);
    assert_int_equal(rc, GSLB_ECONFIG);
    if (strncmp(eb.msg, prefix, strlen(prefix)) != 0 || !strstr(eb.msg, problem))
        fail_msg("got \"%s\", want prefix \"%s\" and \"%s\"", eb.msg, prefix, problem);
}

static void test_tree_and_positions(void **state)
{
    (void)state;
    const char *text = "a: 1\n"
                       "b:\n"
                       "  c: \"two\"\n"
                       "  d: [x, 'y']\n"
                       "e:\n"
                       "f: ~\n";
    yc_doc_t doc;
    gslb_errbuf_t eb;
    assert_int_equal(load(text, &doc, &eb), 0);
    const yc_node_t *root = doc.root;
    assert_non_null(root);
    assert_int_equal(root->type, YC_MAP);
    assert_int_equal(root->count, 4);
    const yc_node_t *a = yc_get(root, "a");
    assert_int_equal(a->type, YC_SCALAR);
    assert_string_equal(a->value, "1");
    assert_int_equal(a->line, 1);
    assert_int_equal(a->col, 4);
    assert_false(a->quoted);
    const yc_node_t *c = yc_get(yc_get(root, "b"), "c");
    assert_string_equal(c->value, "two");
    assert_true(c->quoted);
    assert_int_equal(c->line, 3);
    assert_int_equal(c->col, 6);
    const yc_node_t *d = yc_get(yc_get(root, "b"), "d");
    assert_int_equal(d->type, YC_SEQ);
    assert_int_equal(d->count, 2);
    assert_string_equal(d->items[1]->value, "y");
    assert_int_equal(d->items[1]->col, 10);
    assert_int_equal(root->key_lines[1], 2);
    assert_int_equal(root->key_cols[1], 1);
    assert_true(yc_is_null(yc_get(root, "e")));
    assert_true(yc_is_null(yc_get(root, "f")));
    assert_false(yc_is_null(c));
    assert_null(yc_get(root, "zz"));
    assert_null(yc_get(a, "x")); /* not a map: no crash */
    yc_free(&doc);
}

static void test_empty_document(void **state)
{
    (void)state;
    yc_doc_t doc;
    gslb_errbuf_t eb;
    assert_int_equal(load("", &doc, &eb), 0);
    assert_null(doc.root);
    yc_free(&doc);
    assert_int_equal(load("# only a comment\n", &doc, &eb), 0);
    assert_null(doc.root);
    yc_free(&doc);
}

static void test_rejected_constructs(void **state)
{
    (void)state;
    expect_load_error("a: 1\nb: 2\na: 3\n",
                      "t.yaml:3:1: a: ", "duplicate key (first defined at line 1)");
    expect_load_error("x:\n  y: 1\n  y: 2\n", "t.yaml:3:3: x.y: ", "duplicate key");
    expect_load_error("a: &anc 1\nb: *anc\n", "t.yaml:1:4: a: ", "anchors and aliases");
    expect_load_error("a: 1\nb: *anc\n", "t.yaml:2:4: b: ", "anchors and aliases");
    expect_load_error("a: !!str 1\n", "t.yaml:1:4: a: ", "tags are not supported");
    expect_load_error("a: 1\n---\nb: 2\n", "t.yaml:2:1: ", "only one YAML document");
    expect_load_error("a: [1, 2\nb: 3\n", "t.yaml:", "YAML syntax error");
    expect_load_error("? [a, b]\n: 1\n", "t.yaml:1:3: ", "mapping keys must be plain scalars");
    expect_load_error("a: \"x\\0y\"\n", "t.yaml:1:4: a: ", "NUL character");
    expect_load_error("list:\n  - a: 1\n    a: 2\n", "t.yaml:3:5: list[0].a: ", "duplicate key");
}

static void test_syntax_error_position(void **state)
{
    (void)state;
    /* A tab cannot indent YAML: the scanner reports it where it is. */
    expect_load_error("a:\n\tb: 1\n", "t.yaml:2:", "YAML syntax error");
    expect_load_error("a: 'unterminated\n", "t.yaml:", "YAML syntax error");
}

static void test_deep_nesting_rejected(void **state)
{
    (void)state;
    char text[1024];
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        text[n++] = '[';
    for (int i = 0; i < 200; i++)
        text[n++] = ']';
    text[n] = '\0';
    expect_load_error(text, "t.yaml:1:", "nesting too deep");
}

static void test_env_expansion(void **state)
{
    (void)state;
    setenv("YC_TEST_A", "alpha", 1);
    setenv("YC_TEST_EMPTY", "", 1);
    unsetenv("YC_TEST_UNSET");
    yc_doc_t doc;
    gslb_errbuf_t eb;
    const char *text = "a: \"${YC_TEST_A}\"\n"
                       "b: pre-${YC_TEST_A}-${YC_TEST_A}-post\n"
                       "c: \"$${YC_TEST_UNSET}\"\n"
                       "d: cost $5 and $$ and $x\n"
                       "e: \"${YC_TEST_EMPTY}\"\n"
                       "${YC_TEST_A}: key-is-literal\n";
    assert_int_equal(load(text, &doc, &eb), 0);
    assert_string_equal(yc_get(doc.root, "a")->value, "alpha");
    assert_string_equal(yc_get(doc.root, "b")->value, "pre-alpha-alpha-post");
    assert_string_equal(yc_get(doc.root, "c")->value, "${YC_TEST_UNSET}");
    assert_string_equal(yc_get(doc.root, "d")->value, "cost $5 and $$ and $x");
    assert_string_equal(yc_get(doc.root, "e")->value, "");
    assert_false(yc_is_null(yc_get(doc.root, "e"))); /* quoted empty is a value */
    assert_string_equal(yc_get(doc.root, "${YC_TEST_A}")->value, "key-is-literal");
    yc_free(&doc);

    expect_load_error("a:\n  b: \"${YC_TEST_UNSET}\"\n",
                      "t.yaml:2:6: a.b: ", "environment variable YC_TEST_UNSET is not set");
    expect_load_error("a: x${YC_TEST_A\n", "t.yaml:1:4: a: ", "unterminated");
    expect_load_error("a: ${1BAD}\n", "t.yaml:1:4: a: ", "invalid environment variable name");
    expect_load_error("a: ${}\n", "t.yaml:1:4: a: ", "invalid environment variable name");
    expect_load_error("s:\n  - ok\n  - ${YC_TEST_UNSET}\n",
                      "t.yaml:3:5: s[1]: ", "YC_TEST_UNSET is not set");
}

static void test_env_value_not_in_error(void **state)
{
    (void)state;
    setenv("YC_SECRET", "s3cr3t-value", 1);
    yc_doc_t doc;
    gslb_errbuf_t eb;
    assert_int_equal(load("k: \"${YC_SECRET}\"\n", &doc, &eb), 0);
    uint8_t key[32];
    size_t len = 0;
    assert_int_equal(yc_b64key(&doc, yc_get(doc.root, "k"), "k", key, &len, &eb), GSLB_ECONFIG);
    assert_null(strstr(eb.msg, "s3cr3t"));
    yc_free(&doc);
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t ms;
    } good[] = {{"500ms", 500},  {"30s", 30000},    {"5m", 300000},
                {"1h", 3600000}, {"2d", 172800000}, {"1h30m", 5400000},
                {"30", 30000},   {"0", 0},          {"1d2h3m4s5ms", 93784005},
                {"0s", 0},       {"90s", 90000}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint64_t ms = 1;
        if (yc_parse_duration_ms(good[i].text, &ms) != 0)
            fail_msg("\"%s\" rejected", good[i].text);
        assert_int_equal(ms, good[i].ms);
    }
    static const char *const bad[] = {"",     "s",
                                      "10x",  "1.5s",
                                      "-5s",  "30m1h",
                                      "1h1h", "1 h",
                                      "h1",   "ms",
                                      "5mss", "99999999999999999999",
                                      "1h30", "300000000000000000d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t ms = 0;
        if (yc_parse_duration_ms(bad[i], &ms) != GSLB_EINVAL)
            fail_msg("\"%s\" accepted", bad[i]);
    }
    yc_doc_t doc;
    gslb_errbuf_t eb;
    assert_int_equal(load("t:\n  every: 10x\n", &doc, &eb), 0);
    uint64_t ms = 0;
    assert_int_equal(
        yc_duration_ms(&doc, yc_get(yc_get(doc.root, "t"), "every"), "t.every", &ms, &eb),
        GSLB_ECONFIG);
    assert_non_null(strstr(eb.msg, "t.yaml:2:10: t.every: invalid duration \"10x\""));
    yc_free(&doc);
}

static void test_hostport(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool names;
        const char *host;
        uint16_t port;
    } good[] = {{"0.0.0.0:53", false, "0.0.0.0", 53},
                {"127.0.0.1:65535", false, "127.0.0.1", 65535},
                {"[::1]:9090", false, "::1", 9090},
                {"[2001:db8::1]:7946", false, "2001:db8::1", 7946},
                {"[::]:53", false, "::", 53},
                {":5353", false, "", 5353},
                {"overwatch-us-east-1.internal:7946", true, "overwatch-us-east-1.internal", 7946},
                {"10.0.0.1:0", false, "10.0.0.1", 0}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char host[256];
        uint16_t port = 1;
        const char *why = NULL;
        if (yc_parse_hostport(good[i].text, good[i].names, host, sizeof(host), &port, &why) != 0)
            fail_msg("\"%s\" rejected: %s", good[i].text, why);
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
    static const struct {
        const char *text;
        bool names;
        const char *why;
    } bad[] = {{"0.0.0.0", false, "missing"},
               {"::1:53", false, "brackets"},
               {"[::1]53", false, "[ipv6]:port"},
               {"[10.0.0.1]:53", false, "not an IPv6"},
               {"localhost:53", false, "must be an IP address"},
               {"bad_host!:53", true, "neither"},
               {"1.2.3.4:65536", false, "port"},
               {"1.2.3.4:", false, "port"},
               {"1.2.3.4:5x", false, "port"},
               {"256.1.1.1:53", false, "must be an IP"},
               {"[::1]:", false, "port"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char host[256];
        uint16_t port = 0;
        const char *why = "";
        if (yc_parse_hostport(bad[i].text, bad[i].names, host, sizeof(host), &port, &why) !=
            GSLB_EINVAL)
            fail_msg("\"%s\" accepted", bad[i].text);
        if (!strstr(why, bad[i].why))
            fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", bad[i].text, why, bad[i].why);
    }
    char tiny[4];
    uint16_t port = 0;
    const char *why = "";
    assert_int_equal(yc_parse_hostport("127.0.0.1:53", false, tiny, sizeof(tiny), &port, &why),
                     GSLB_EINVAL);
}

static void test_b64_keys(void **state)
{
    (void)state;
    /* base64 of 16, 24, 32 bytes (with and without the = padding). */
    static const struct {
        const char *text;
        size_t len;
    } good[] = {{"AAECAwQFBgcICQoLDA0ODw==", 16},
                {"AAECAwQFBgcICQoLDA0ODw", 16},
                {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", 24},
                {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 32},
                {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", 32}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint8_t key[32];
        size_t len = 0;
        const char *why = NULL;
        if (yc_parse_b64key(good[i].text, key, &len, &why) != 0)
            fail_msg("\"%s\" rejected: %s", good[i].text, why);
        assert_int_equal(len, good[i].len);
        for (size_t j = 0; j < len; j++)
            assert_int_equal(key[j], j);
    }
    static const struct {
        const char *text;
        int rc;
        size_t len;
    } bad[] = {
        {"AAECAwQFBgc=", GSLB_ERANGE, 8},                                  /* 8 bytes */
        {"AAECAwQFBgcICQoLDA0O", GSLB_ERANGE, 15},                         /* 15 bytes */
        {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", GSLB_ERANGE, 33}, /* 33 */
        {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v", GSLB_ERANGE, 48},
        {"", GSLB_EINVAL, 0},
        {"AAECAwQFBgcICQoLDA0OD===", GSLB_EINVAL, 0},
        {"AAECAwQF-gcICQoLDA0ODw==", GSLB_EINVAL, 0},
        {"AAECAwQFBgcICQoLDA0ODw=A", GSLB_EINVAL, 0},
        {"AAECAwQFBgcICQoLDA0OD", GSLB_EINVAL, 0},
        {" AAECAwQFBgcICQoLDA0ODw==", GSLB_EINVAL, 0}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t key[32];
        size_t len = 0;
        const char *why = NULL;
        int rc = yc_parse_b64key(bad[i].text, key, &len, &why);
        if (rc != bad[i].rc)
            fail_msg("\"%s\": rc %d, want %d", bad[i].text, rc, bad[i].rc);
        if (rc == GSLB_ERANGE)
            assert_int_equal(len, bad[i].len);
    }
    yc_doc_t doc;
    gslb_errbuf_t eb;
    assert_int_equal(load("g:\n  encryption_key: \"AAECAwQFBgc=\"\n", &doc, &eb), 0);
    uint8_t key[32];
    size_t len = 0;
    assert_int_equal(yc_b64key(&doc, yc_get(yc_get(doc.root, "g"), "encryption_key"),
                               "g.encryption_key", key, &len, &eb),
                     GSLB_ECONFIG);
    assert_string_equal(eb.msg, "t.yaml:2:19: g.encryption_key: key decodes to 8 bytes; it must "
                                "be base64 of 16, 24 or 32 bytes (AES-128/192/256)");
    yc_free(&doc);
}

static void test_typed_readers(void **state)
{
    (void)state;
    const char *text = "n: 42\n"
                       "big: 4294967296\n"
                       "neg: -1\n"
                       "t: yes\n"
                       "f: False\n"
                       "bad: maybe\n"
                       "s: hello\n"
                       "m: {x: 1}\n"
                       "nul: null\n";
    yc_doc_t doc;
    gslb_errbuf_t eb;
    assert_int_equal(load(text, &doc, &eb), 0);
    const yc_node_t *r = doc.root;
    uint32_t v = 0;
    assert_int_equal(yc_u32(&doc, yc_get(r, "n"), "n", 0, 100, &v, &eb), 0);
    assert_int_equal(v, 42);
    assert_int_equal(yc_u32(&doc, yc_get(r, "n"), "n", 0, 10, &v, &eb), GSLB_ECONFIG);
    assert_string_equal(eb.msg, "t.yaml:1:4: n: 42 is out of range (0..10)");
    assert_int_equal(yc_u32(&doc, yc_get(r, "big"), "big", 0, UINT32_MAX, &v, &eb), GSLB_ECONFIG);
    assert_int_equal(yc_u32(&doc, yc_get(r, "neg"), "neg", 0, 10, &v, &eb), GSLB_ECONFIG);
    assert_int_equal(yc_u32(&doc, yc_get(r, "m"), "m", 0, 10, &v, &eb), GSLB_ECONFIG);
    assert_string_equal(eb.msg, "t.yaml:8:4: m: expected an integer, got a mapping");
    bool b = false;
    assert_int_equal(yc_bool(&doc, yc_get(r, "t"), "t", &b, &eb), 0);
    assert_true(b);
    assert_int_equal(yc_bool(&doc, yc_get(r, "f"), "f", &b, &eb), 0);
    assert_false(b);
    assert_int_equal(yc_bool(&doc, yc_get(r, "bad"), "bad", &b, &eb), GSLB_ECONFIG);
    assert_string_equal(eb.msg,
                        "t.yaml:6:6: bad: expected a boolean (true or false), got \"maybe\"");
    char s[6];
    assert_int_equal(yc_str(&doc, yc_get(r, "s"), "s", s, sizeof(s), &eb), 0);
    assert_string_equal(s, "hello");
    char tiny[3];
    assert_int_equal(yc_str(&doc, yc_get(r, "s"), "s", tiny, sizeof(tiny), &eb), GSLB_ECONFIG);
    assert_int_equal(yc_str(&doc, yc_get(r, "nul"), "nul", s, sizeof(s), &eb), GSLB_ECONFIG);
    assert_string_equal(eb.msg, "t.yaml:9:6: nul: expected a string, got null");
    assert_int_equal(yc_str(&doc, NULL, "missing", s, sizeof(s), &eb), GSLB_ECONFIG);
    assert_int_equal(yc_expect(&doc, yc_get(r, "m"), YC_SEQ, "m", &eb), GSLB_ECONFIG);
    assert_string_equal(eb.msg, "t.yaml:8:4: m: expected a sequence, got a mapping");
    yc_free(&doc);
}

static void test_check_keys(void **state)
{
    (void)state;
    static const char *const allowed[] = {"alpha", "beta", NULL};
    yc_doc_t doc;
    gslb_errbuf_t eb;
    assert_int_equal(load("sec:\n  alpha: 1\n  gamma: 2\n", &doc, &eb), 0);
    assert_int_equal(yc_check_keys(&doc, yc_get(doc.root, "sec"), "sec", allowed, &eb),
                     GSLB_ECONFIG);
    assert_string_equal(eb.msg,
                        "t.yaml:3:3: sec.gamma: unknown key (expected one of: alpha, beta)");
    assert_int_equal(yc_check_keys(&doc, doc.root, "", allowed, &eb), GSLB_ECONFIG);
    assert_string_equal(eb.msg, "t.yaml:1:1: sec: unknown key (expected one of: alpha, beta)");
    yc_free(&doc);
}

static void test_load_file(void **state)
{
    (void)state;
    yc_doc_t doc;
    gslb_errbuf_t eb;
    assert_int_equal(yc_load_file("/nonexistent/overwatch.yaml", &doc, &eb), GSLB_ECONFIG);
    assert_non_null(strstr(eb.msg, "/nonexistent/overwatch.yaml: cannot open"));
    setenv("GOSSIP_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
    assert_int_equal(yc_load_file(GSLB_FIXTURES "/seed/agent.yaml", &doc, &eb), 0);
    const yc_node_t *nodes = yc_get(yc_get(yc_get(doc.root, "agent"), "gossip"), "overwatch_nodes");
    assert_non_null(nodes);
    assert_int_equal(nodes->count, 3);
    assert_string_equal(nodes->items[2]->value, "overwatch-eu-west-1.internal:7946");
    assert_string_equal(doc.file, GSLB_FIXTURES "/seed/agent.yaml");
    yc_free(&doc);
}

static void test_paths(void **state)
{
    (void)state;
    char p[64];
    assert_string_equal(yc_path_key(p, sizeof(p), "", "mode"), "mode");
    assert_string_equal(yc_path_key(p, sizeof(p), "dns", "zones"), "dns.zones");
    assert_string_equal(yc_path_index(p, sizeof(p), "dns.zones", 3), "dns.zones[3]");
    assert_true(yc_valid_hostname("a-b.c_d.example"));
    assert_false(yc_valid_hostname("a..b"));
    assert_false(yc_valid_hostname(".a"));
    assert_false(yc_valid_hostname("a b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_and_positions),
        cmocka_unit_test(test_empty_document),
        cmocka_unit_test(test_rejected_constructs),
        cmocka_unit_test(test_syntax_error_position),
        cmocka_unit_test(test_deep_nesting_rejected),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_env_value_not_in_error),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_b64_keys),
        cmocka_unit_test(test_typed_readers),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
