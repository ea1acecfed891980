/*
 * test_api_parsers.c - the API's pure parts: CIDR parsing and matching
 * (IPv4, IPv6, v4-mapped, host bits, garbage), key_sync peer URLs to host
 * routes (literals, "localhost", garbage), the override body parser, the
 * route matcher, constant-time secret comparison and Prometheus escaping,
 * the JSON nesting bound (json_bounded.h) and a deeply nested override body
 * parsed on a small thread stack (it used to overflow a CivetWeb worker's),
 * strict path decoding and query checks (uri.h: no NUL or control bytes),
 * the acl as CivetWeb's access_control_list and the per-client connection
 * limit on real loopback sockets (conn_limit.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "acl.h"
#include "conn_limit.h"
#include "json_bounded.h"
#include "metrics.h"
#include "override_body.h"
#include "routes.h"
#include "uri.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static bool matches(const char *cidr, const char *addr)
{
    gslb_cidr_t c;
    gslb_addr_t a;
    assert_int_equal(gslb_cidr_parse(cidr, &c), 0);
    assert_int_equal(gslb_addr_parse(addr, &a), 0);
    return gslb_cidr_match(&c, &a);
}

static void test_cidr_match(void **state)
{
    assert_true(matches("10.0.0.0/8", "10.255.1.2"));
    assert_false(matches("10.0.0.0/8", "11.0.0.1"));
    assert_true(matches("192.168.1.0/23", "192.168.0.77"));
    assert_false(matches("192.168.2.0/23", "192.168.1.1"));
    assert_true(matches("0.0.0.0/0", "203.0.113.9"));
    assert_true(matches("127.0.0.1", "127.0.0.1"));
    assert_false(matches("127.0.0.1", "127.0.0.2"));
    assert_true(matches("10.1.2.3/8", "10.9.9.9")); /* host bits are cleared */
    assert_true(matches("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(matches("2001:db8::/33", "2001:db8:8000::1"));
    assert_true(matches("::1/128", "::1"));
    assert_true(matches("::/0", "fe80::1"));
    assert_false(matches("::/0", "10.0.0.1"));             /* families never mix */
    assert_true(matches("10.0.0.0/8", "::ffff:10.1.1.1")); /* v4-mapped counts as v4 */
}

static void test_cidr_rejects_garbage(void **state)
{
    gslb_cidr_t c;
    const char *bad[] = {"",
                         "10.0.0.0/",
                         "10.0.0.0/33",
                         "::/129",
                         "10.0.0/8",
                         "10.0.0.0/8x",
                         "10.0.0.0/-1",
                         "example.com/8",
                         "1.2.3.4/08/1",
                         "10.0.0.0/1234"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (gslb_cidr_parse(bad[i], &c) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_not_equal(gslb_cidr_parse(NULL, &c), 0);
}

static void test_acl_is_literal(void **state)
{
    gslb_acl_t acl;
    gslb_errbuf_t eb;
    assert_int_equal(gslb_acl_build(&acl, NULL, 0, &eb), 0); /* empty list: nobody */
    assert_false(gslb_acl_allows(&acl, "127.0.0.1"));
    assert_false(gslb_acl_allows(&acl, "::1"));
    gslb_acl_free(&acl);

    const char nets[3][64] = {"10.0.0.0/8", "::1/128", "bogus"};
    assert_int_equal(gslb_acl_build(&acl, nets, 3, &eb), GSLB_ECONFIG);
    assert_non_null(strstr(eb.msg, "allowed_networks[2]"));
    assert_int_equal(gslb_acl_build(&acl, nets, 2, &eb), 0);
    assert_false(gslb_acl_allows(&acl, "127.0.0.1"));
    assert_true(gslb_acl_allows(&acl, "10.2.3.4"));
    assert_true(gslb_acl_allows(&acl, "::1"));
    assert_false(gslb_acl_allows(&acl, "not an address"));
    assert_false(gslb_acl_allows(&acl, NULL));
    gslb_acl_free(&acl);
}

static int parse(const char *body, gslb_override_req_t *r)
{
    gslb_errbuf_t eb;
    return gslb_override_body_parse(body, strlen(body), r, &eb);
}

static void test_override_body(void **state)
{
    gslb_override_req_t r;
    assert_int_equal(parse("{\"state\":\"drain\",\"reason\":\"r\",\"source\":\"s\"}", &r), 0);
    assert_int_equal(r.state, GSLB_OVERRIDE_DRAIN);
    assert_string_equal(r.reason, "r");
    assert_string_equal(r.source, "s");
    assert_int_equal(parse("{\"healthy\":true}", &r), 0);
    assert_int_equal(r.state, GSLB_OVERRIDE_UP);
    assert_int_equal(parse("{\"healthy\":false,\"reason\":\"caf\\u00e9\"}", &r), 0);
    assert_int_equal(r.state, GSLB_OVERRIDE_DOWN);
    assert_string_equal(r.reason, "caf\xc3\xa9");

    char longreason[300];
    snprintf(longreason, sizeof(longreason), "{\"state\":\"up\",\"reason\":\"%0200d\"}", 0);
    const char *bad[] = {"",
                         "[]",
                         "null",
                         "{}",
                         "{\"state\":\"up\",\"healthy\":true}",
                         "{\"state\":\"UP\"}",
                         "{\"state\":1}",
                         "{\"healthy\":\"false\"}",
                         "{\"state\":\"up\",\"state\":\"down\"}",
                         "{\"state\":\"up\",\"reason\":\"a\\nb\"}",
                         "{\"state\":\"up\",\"reason\":\"a\\u0000b\"}",
                         "{\"state\":\"up\",\"source\":5}",
                         "{\"state\":\"up\",\"extra\":true}",
                         "{\"state\":\"up\"} trailing",
                         longreason};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &r) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(r.state, 0);
    }
}

static void test_route_matching(void **state)
{
    gslb_req_t rq;
    const gslb_route_t *route;
    char allow[64];
    memset(&rq, 0, sizeof(rq));
    assert_int_equal(gslb_route_find("PUT", "/api/v1/overrides/web/2001:db8::1", &rq, &route, allow,
                                     sizeof(allow)),
                     GSLB_ROUTE_FOUND);
    assert_int_equal(rq.nparams, 2);
    assert_string_equal(rq.params[0], "web");
    assert_string_equal(rq.params[1], "2001:db8::1");
    assert_int_equal(
        gslb_route_find("GET", "/api/v1/overrides/web/1.2.3.4", &rq, &route, allow, sizeof(allow)),
        GSLB_ROUTE_NO_METHOD);
    assert_string_equal(allow, "PUT, DELETE");
    assert_int_equal(
        gslb_route_find("GET", "/api/v1/overrides/web", &rq, &route, allow, sizeof(allow)),
        GSLB_ROUTE_NO_PATH);
    assert_int_equal(gslb_route_find("GET", "/api/v1/overrides/web/1.2.3.4/x", &rq, &route, allow,
                                     sizeof(allow)),
                     GSLB_ROUTE_NO_PATH);
    assert_int_equal(gslb_route_find("GET", "//api/v1//ready/", &rq, &route, allow, sizeof(allow)),
                     GSLB_ROUTE_FOUND);
    assert_ptr_equal(route->fn, gslb_route_ready);
}

static void test_secret_equal(void **state)
{
    assert_true(gslb_secret_equal("abc", "abc"));
    assert_false(gslb_secret_equal("abc", "abd"));
    assert_false(gslb_secret_equal("abc", "abcd"));
    assert_false(gslb_secret_equal("", "x"));
}

static void test_prom_escaping(void **state)
{
    gslb_prom_t p;
    gslb_prom_init(&p);
    gslb_prom_family(&p, "m", "gauge", "help");
    gslb_prom_sample_u64(&p, "m", 3, "a", "x\"y\\z\nw", "b", "", NULL);
    gslb_prom_sample_u64(&p, "m", 18446744073709551615ull, NULL);
    assert_false(p.oom);
    assert_string_equal(p.buf, "# HELP m help\n# TYPE m gauge\n"
                               "m{a=\"x\\\"y\\\\z\\nw\",b=\"\"} 3\n"
                               "m 18446744073709551615\n");
    gslb_prom_free(&p);
}

static bool cidr_is(const gslb_cidr_t *c, const char *text)
{
    gslb_cidr_t want;
    assert_int_equal(gslb_cidr_parse(text, &want), 0);
    return c->family == want.family && c->prefix == want.prefix &&
           memcmp(c->bytes, want.bytes, sizeof(want.bytes)) == 0;
}

static void test_peer_url_literals(void **state)
{
    (void)state;
    gslb_cidr_t out[4];
    gslb_errbuf_t eb;
    assert_int_equal(gslb_acl_peer_addrs("https://192.0.2.7:9090", out, 4, &eb), 1);
    assert_true(cidr_is(&out[0], "192.0.2.7/32"));
    assert_int_equal(gslb_acl_peer_addrs("http://[2001:db8::9]:9090/api", out, 4, &eb), 1);
    assert_true(cidr_is(&out[0], "2001:db8::9/128"));
    assert_int_equal(gslb_acl_peer_addrs("https://10.1.2.3", out, 4, &eb), 1);
    assert_true(cidr_is(&out[0], "10.1.2.3/32"));
}

static void test_peer_url_localhost_resolves_to_loopback(void **state)
{
    (void)state;
    gslb_cidr_t out[8];
    gslb_errbuf_t eb;
    int n = gslb_acl_peer_addrs("https://localhost:9090", out, 8, &eb);
    assert_true(n >= 1);
    gslb_cidr_t loop4, loop6;
    assert_int_equal(gslb_cidr_parse("127.0.0.0/8", &loop4), 0);
    assert_int_equal(gslb_cidr_parse("::1/128", &loop6), 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(out[i].prefix, out[i].family == AF_INET ? 32 : 128);
        gslb_addr_t a = {.family = out[i].family};
        memcpy(a.bytes, out[i].bytes, sizeof(a.bytes));
        assert_true(gslb_cidr_match(&loop4, &a) || gslb_cidr_match(&loop6, &a));
    }
}

static void test_peer_url_garbage(void **state)
{
    (void)state;
    gslb_cidr_t out[4];
    gslb_errbuf_t eb;
    assert_int_equal(gslb_acl_peer_addrs("not a url", out, 4, &eb), GSLB_EINVAL);
    assert_non_null(strstr(eb.msg, "not a url"));
    assert_int_equal(gslb_acl_peer_addrs("https://", out, 4, &eb), GSLB_EINVAL);
    assert_int_equal(gslb_acl_peer_addrs(NULL, out, 4, &eb), GSLB_EINVAL);
    assert_int_equal(gslb_acl_peer_addrs("https://no-such-host.invalid:9090", out, 4, &eb),
                     GSLB_ENOENT);
    assert_non_null(strstr(eb.msg, "no-such-host.invalid"));
}

static void test_acl_admits_peers(void **state)
{
    (void)state;
    const char nets[][64] = {"127.0.0.1/32"};
    const char peers[][512] = {"http://127.0.0.3:9090", "garbage", "https://[::2]:1"};
    gslb_acl_t acl;
    gslb_errbuf_t eb;
    assert_int_equal(gslb_acl_build(&acl, nets, 1, &eb), 0);
    assert_int_equal(gslb_acl_add_peers(&acl, peers, 3, &eb), 0); /* garbage skipped */
    assert_int_equal(acl.count, 3);
    assert_true(gslb_acl_allows(&acl, "127.0.0.1"));
    assert_true(gslb_acl_allows(&acl, "127.0.0.3"));
    assert_true(gslb_acl_allows(&acl, "::ffff:127.0.0.3"));
    assert_true(gslb_acl_allows(&acl, "::2"));
    assert_false(gslb_acl_allows(&acl, "127.0.0.2"));
    assert_false(gslb_acl_allows(&acl, "::3"));
    gslb_acl_free(&acl);
}

/* "[[[...]]]" (or "{"a":{"a":...}}" when objects) nested `depth` levels; caller frees. */
static char *nested(size_t depth, bool objects)
{
    char *s = malloc(depth * 6 + 8), *p = s;
    for (size_t i = 0; i < depth; i++)
        p += objects ? (size_t)sprintf(p, "{\"a\":") : (size_t)sprintf(p, "[");
    p += (size_t)sprintf(p, "1");
    for (size_t i = 0; i < depth; i++)
        *p++ = objects ? '}' : ']';
    *p = '\0';
    return s;
}

static void test_json_depth_bound(void **state)
{
    json_error_t err;
    for (int objects = 0; objects < 2; objects++) {
        char *ok = nested(GSLB_JSON_MAX_DEPTH, objects),
             *deep = nested(GSLB_JSON_MAX_DEPTH + 1, objects);
        json_t *j = gslb_json_loadb_bounded(ok, strlen(ok), 0, &err);
        assert_non_null(j);
        json_decref(j);
        assert_null(gslb_json_loadb_bounded(deep, strlen(deep), 0, &err));
        assert_non_null(strstr(err.text, "nested deeper than 32 levels"));
        assert_int_equal(err.line, 1);
        assert_int_equal(err.position, objects ? 32 * 5 : 32);
        free(ok);
        free(deep);
    }
    /* brackets inside strings (escaped quotes included) do not count */
    char s[400];
    snprintf(s, sizeof(s), "{\"a\":\"\\\"%0100d\", \"b\":[\"]]]]\\\\\"]}", 0);
    memset(strstr(s, "0000"), '[', 100);
    json_t *j = gslb_json_loadb_bounded(s, strlen(s), 0, &err);
    assert_non_null(j);
    json_decref(j);
    /* closing brackets never make depth negative: "]]]]" then 33 "[" is still too deep */
    char *deep = nested(33, false), text[600];
    snprintf(text, sizeof(text), "]]]]%s", deep);
    assert_true(gslb_json_depth_error(text, strlen(text), 32, &err));
    free(deep);
    /* line and column of the offending bracket */
    assert_true(gslb_json_depth_error("\n [[", 4, 1, &err));
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 3);
    assert_false(gslb_json_depth_error(NULL, 0, 1, &err));
}

typedef struct deep_body {
    const char *body;
    int rc;
    gslb_errbuf_t eb;
} deep_body_t;

static void *parse_deep_body(void *arg)
{
    deep_body_t *d = arg;
    gslb_override_req_t r;
    d->rc = gslb_override_body_parse(d->body, strlen(d->body), &r, &d->eb);
    return NULL;
}

/* The attack of issue 16: ~900 nested "[" in a PUT body crashed a CivetWeb worker inside
 * jansson. Parse 2000 levels on a 128 KiB stack: refused before jansson recurses. */
static void test_override_body_deep_nesting_small_stack(void **state)
{
    char *deep = nested(2000, false);
    deep_body_t d = {.body = deep, .rc = 1};
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    assert_int_equal(pthread_create(&t, &attr, parse_deep_body, &d), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    assert_int_equal(d.rc, GSLB_EINVAL);
    assert_non_null(strstr(d.eb.msg, "nested deeper than 32 levels"));
    free(deep);
}

static void test_uri_path_decoding(void **state)
{
    char out[128];
    gslb_errbuf_t eb;
    assert_int_equal(gslb_uri_decode_path("/api/v1/domains/web%61pp", out, sizeof(out), &eb), 0);
    assert_string_equal(out, "/api/v1/domains/webapp");
    assert_int_equal(gslb_uri_decode_path("/a%2Fb+c%25", out, sizeof(out), &eb), 0);
    assert_string_equal(out, "/a/b+c%");
    assert_int_equal(gslb_uri_decode_path("/caf%C3%A9/...", out, sizeof(out), &eb), 0);
    assert_string_equal(out, "/caf\xc3\xa9/...");
    /* issue 16, item 11: %00 used to cut the path */
    static const char *const bad[] = {
        "/api/v1/overrides/webapp/127.0.0.12%00garbage",
        "/api/v1/domains/%00",
        "/api/v1/domains/a%0ab",
        "/api/v1/domains/a%1F",
        "/api/v1/domains/a%7f",
        "/api/v1/domains/a\x01",
        "/api/v1/domains/%",
        "/api/v1/domains/%4",
        "/api/v1/domains/%zz",
        "/api/v1/domains/%2e%2e",
        "/api/v1/%2E/domains",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eb.msg[0] = '\0';
        if (gslb_uri_decode_path(bad[i], out, sizeof(out), &eb) != GSLB_EINVAL)
            fail_msg("accepted %s", bad[i]);
        assert_true(eb.msg[0] != '\0');
    }
    assert_int_equal(gslb_uri_decode_path("/api/v1/domains/%00", out, sizeof(out), &eb),
                     GSLB_EINVAL);
    assert_non_null(strstr(eb.msg, "control character (0x00)"));
    assert_int_equal(gslb_uri_decode_path("/abc", out, 4, &eb), GSLB_EINVAL); /* no room */
}

static void test_uri_query_check(void **state)
{
    gslb_errbuf_t eb;
    assert_int_equal(gslb_uri_check_query(NULL, &eb), 0);
    assert_int_equal(gslb_uri_check_query("", &eb), 0);
    assert_int_equal(gslb_uri_check_query("service=web+app&limit=5&x=%41", &eb), 0);
    assert_int_equal(gslb_uri_check_query("service=webapp%00x", &eb), GSLB_EINVAL);
    assert_int_equal(gslb_uri_check_query("limit=1%0d%0a", &eb), GSLB_EINVAL);
    assert_int_equal(gslb_uri_check_query("limit=%g1", &eb), GSLB_EINVAL);
}

static void test_acl_civetweb_spec(void **state)
{
    gslb_acl_t acl;
    gslb_errbuf_t eb;
    /* empty: deny everybody */
    assert_int_equal(gslb_acl_build(&acl, NULL, 0, &eb), 0);
    char *spec = gslb_acl_civetweb_spec(&acl, true);
    assert_string_equal(spec, "-0.0.0.0/0");
    free(spec);
    const char nets[][64] = {"10.1.2.3/8", "::1/128", "127.0.0.0/8", "10.9.0.0/16", "192.0.2.7"};
    assert_int_equal(gslb_acl_build(&acl, nets, 5, &eb), 0);
    /* Debian's CivetWeb (no IPv6): IPv4 only, sorted, 10.9/16 inside 10/8 left out */
    spec = gslb_acl_civetweb_spec(&acl, false);
    assert_string_equal(spec, "-0.0.0.0/0,+10.0.0.0/8,+127.0.0.0/8,+192.0.2.7/32");
    free(spec);
    spec = gslb_acl_civetweb_spec(&acl, true);
    assert_string_equal(spec, "-0.0.0.0/0,+10.0.0.0/8,+[::ffff:10.0.0.0]/104,+127.0.0.0/8,"
                              "+[::ffff:127.0.0.0]/104,+192.0.2.7/32,+[::ffff:192.0.2.7]/128,"
                              "+[::1]/128");
    free(spec);
    /* a key_sync peer inside allowed_networks changes nothing (no listener restart) */
    gslb_cidr_t peer;
    assert_int_equal(gslb_cidr_parse("127.0.0.3", &peer), 0);
    gslb_cidr_t *more = realloc(acl.nets, (acl.count + 1) * sizeof(*more));
    assert_non_null(more);
    acl.nets = more;
    acl.nets[acl.count++] = peer;
    spec = gslb_acl_civetweb_spec(&acl, false);
    assert_string_equal(spec, "-0.0.0.0/0,+10.0.0.0/8,+127.0.0.0/8,+192.0.2.7/32");
    free(spec);
    gslb_acl_free(&acl);
}

/* A TCP connection from the loopback address `from` to port; returns the client fd. */
static int connect_from(const char *from, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, from, &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    dst.sin_port = htons(port);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
    return fd;
}

static bool closed_by_server(int fd)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200 * 1000};
    char c;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return recv(fd, &c, 1, 0) == 0;
}

static void test_conn_limit_per_client(void **state)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 64), 0);
    getsockname(lfd, (struct sockaddr *)&a, &alen);
    uint16_t port = ntohs(a.sin_port);

    gslb_conn_limit_t l;
    gslb_conn_limit_init(&l, "test", 3);
    int clients[8], served[8];
    for (int i = 0; i < 8; i++) { /* 6 from 127.0.0.2, 2 from 127.0.0.4 */
        clients[i] = connect_from(i < 6 ? "127.0.0.2" : "127.0.0.4", port);
        served[i] = accept(lfd, NULL, NULL);
        assert_true(served[i] >= 0);
    }
    assert_int_equal(gslb_conn_limit_enforce(&l), 0); /* no ports set yet: nothing */
    gslb_conn_limit_set_ports(&l, port, 0);
    assert_int_equal(gslb_conn_limit_enforce(&l), 3);
    assert_int_equal(atomic_load(&l.closed), 3);
    for (int i = 0; i < 8; i++) /* the newest three of 127.0.0.2 went, 127.0.0.4 kept both */
        assert_int_equal(closed_by_server(clients[i]), i >= 3 && i < 6);
    assert_int_equal(gslb_conn_limit_enforce(&l), 0); /* shut down ones are not counted again */
    for (int i = 0; i < 8; i++) {
        close(clients[i]);
        close(served[i]);
    }
    close(lfd);
}

int main(void)
{
    /* test_peer_url_garbage resolves a .invalid name: bound it to one 1 s try on hosts
     * whose DNS server is unreachable (glibc reads RES_OPTIONS at resolver init). */
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_cidr_rejects_garbage),
        cmocka_unit_test(test_acl_is_literal),
        cmocka_unit_test(test_override_body),
        cmocka_unit_test(test_json_depth_bound),
        cmocka_unit_test(test_override_body_deep_nesting_small_stack),
        cmocka_unit_test(test_route_matching),
        cmocka_unit_test(test_uri_path_decoding),
        cmocka_unit_test(test_uri_query_check),
        cmocka_unit_test(test_secret_equal),
        cmocka_unit_test(test_prom_escaping),
        cmocka_unit_test(test_peer_url_literals),
        cmocka_unit_test(test_peer_url_localhost_resolves_to_loopback),
        cmocka_unit_test(test_peer_url_garbage),
        cmocka_unit_test(test_acl_admits_peers),
        cmocka_unit_test(test_acl_civetweb_spec),
        cmocka_unit_test(test_conn_limit_per_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
