/*
 * test_api_http.c - the HTTP API and /metrics in-process, against a real LMDB
 * in a temp dir and real HTTP over loopback (libcurl): every route's status
 * and JSON fields, 404/405/401/403/413 with the JSON error shape, overrides
 * changing the compiled answer set in the same txn (and the audit table), the
 * allowed_networks swap on reload (applied at accept: a refused client gets no
 * reply), and the metrics text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_tmpstore.h"

#include "answers.h"
#include "api.h"
#include "env.h"
#include "store.h"
#include "storage_samples.h"

#include <curl/curl.h>
#include <endian.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZONE "gslb.example.com"
#define WEB "webapp." ZONE
#define TOKEN "s3cret-token"

typedef struct fixture {
    char dir[64];
    gslb_env_t env;
    gslb_api_settings_t set;
    gslb_api_t *api;
    bool ready;
    char allowed[1][64];
    char loopback[1][64];
} fixture_t;

typedef struct reply {
    long status;
    char *body;
    size_t len;
    char allow[64];
    char content_type[96];
} reply_t;

/* ---- server side ----------------------------------------------------------- */

static bool hook_ready(void *ctx, char *reason, size_t cap)
{
    fixture_t *f = ctx;
    if (!f->ready)
        snprintf(reason, cap, "dns workers not started");
    return f->ready;
}

static void hook_ready_details(void *ctx, gslb_api_ready_details_t *out)
{
    fixture_t *f = ctx;
    out->gossip_deaf = !f->ready;
    out->agent_data_since_start = f->ready;
    out->agents_known = 3;
    out->agents_silent = f->ready ? 0 : 3;
    out->backends = 5;
}

static void hook_stats(void *ctx, gslb_api_stats_t *out)
{
    out->dns_workers = 2;
    out->query_series = 2;
    snprintf(out->queries[0].l1, sizeof(out->queries[0].l1), "A");
    snprintf(out->queries[0].l2, sizeof(out->queries[0].l2), "NOERROR");
    out->queries[0].value = 7;
    snprintf(out->queries[1].l1, sizeof(out->queries[1].l1), "AAAA");
    snprintf(out->queries[1].l2, sizeof(out->queries[1].l2), "NXDOMAIN");
    out->queries[1].value = 3;
    out->truncated = 1;
    out->gossip_series = 1;
    snprintf(out->gossip[0].l1, sizeof(out->gossip[0].l1), "accepted");
    out->gossip[0].value = 5;
    out->extra[0] = (gslb_api_metric_t){"x_events_total", "Events.", true, "kind", "a", 1};
    out->extra[1] = (gslb_api_metric_t){"x_events_total", "Events.", true, "kind", "b", 2};
    out->extra[2] = (gslb_api_metric_t){"x_level", "Level.", false, NULL, NULL, 9};
    out->extra[3] = (gslb_api_metric_t){NULL, "ignored: no name", false, NULL, NULL, 1};
    out->extra_count = 4;
}

static void seed_store(fixture_t *f)
{
    MDB_txn *txn;
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), 0);
    gslb_zone_rec_t z = sample_zone(ZONE);
    gslb_domain_rec_t web = sample_domain(WEB, ZONE);
    gslb_backend_rec_t b1 = sample_backend(WEB, "10.0.1.10", "us-east");
    gslb_backend_rec_t b2 = sample_backend(WEB, "10.0.1.11", "eu-west");
    gslb_backend_rec_t b6 = sample_backend(WEB, "2001:db8::10", "us-east");
    gslb_agent_rec_t a = sample_agent("agent-us-east");
    assert_int_equal(gslb_store_zone_put(&f->env, txn, &z), 0);
    assert_int_equal(gslb_store_domain_put(&f->env, txn, &web), 0);
    assert_int_equal(gslb_store_backend_put(&f->env, txn, &b1), 0);
    assert_int_equal(gslb_store_backend_put(&f->env, txn, &b2), 0);
    assert_int_equal(gslb_store_backend_put(&f->env, txn, &b6), 0);
    assert_int_equal(gslb_store_agent_put(&f->env, txn, &a), 0);
    assert_int_equal(gslb_answers_rebuild_all(&f->env, txn), 0);
    assert_int_equal(gslb_env_commit(&f->env, txn), 0);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    gslb_errbuf_t eb;
    if (!f || gslb_test_mkdtemp(f->dir, sizeof(f->dir), "api") != 0)
        return -1;
    gslb_env_opts_t o = {.data_dir = f->dir, .map_size = 64 << 20};
    if (gslb_env_open(&f->env, &o, &eb) != 0)
        return -1;
    seed_store(f);
    snprintf(f->set.node_id, sizeof(f->set.node_id), "ow-test");
    snprintf(f->set.region, sizeof(f->set.region), "us-east");
    f->set.api_enabled = true;
    f->set.metrics_enabled = true;
    snprintf(f->set.api_addr.host, sizeof(f->set.api_addr.host), "127.0.0.1");
    snprintf(f->set.metrics_addr.host, sizeof(f->set.metrics_addr.host), "127.0.0.1");
    snprintf(f->set.token, sizeof(f->set.token), TOKEN);
    snprintf(f->loopback[0], sizeof(f->loopback[0]), "127.0.0.0/8");
    f->set.allowed_networks = (const char(*)[64])f->loopback;
    f->set.allowed_net_count = 1;
    f->ready = true;
    gslb_api_hooks_t hooks = {
        .ctx = f, .ready = hook_ready, .ready_details = hook_ready_details, .stats = hook_stats};
    if (gslb_api_start(&f->env, &f->set, &hooks, &f->api, &eb) != 0) {
        fprintf(stderr, "api start: %s\n", eb.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    gslb_api_stop(f->api);
    gslb_env_close(&f->env);
    int rc = gslb_test_rmtree(f->dir);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- client side -------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    reply_t *r = ud;
    char *b = realloc(r->body, r->len + size * n + 1);
    assert_non_null(b);
    memcpy(b + r->len, data, size * n);
    r->len += size * n;
    b[r->len] = '\0';
    r->body = b;
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    reply_t *r = ud;
    size_t len = size * n;
    if (len > 7 && strncasecmp(data, "Allow: ", 7) == 0)
        snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - 9), data + 7);
    if (len > 14 && strncasecmp(data, "Content-Type: ", 14) == 0)
        snprintf(r->content_type, sizeof(r->content_type), "%.*s", (int)(len - 16), data + 14);
    return len;
}

static reply_t http_port(uint16_t port, const char *method, const char *path, const char *token,
                         const char *body, size_t body_len)
{
    reply_t r = {0};
    char url[512], auth[128];
    struct curl_slist *hdrs = NULL;
    CURL *c = curl_easy_init();
    assert_non_null(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return r;
}

static reply_t http(fixture_t *f, const char *method, const char *path, const char *token,
                    const char *body)
{
    return http_port(gslb_api_port(f->api), method, path, token, body, body ? strlen(body) : 0);
}

/* Parse a JSON reply with the expected status; the caller json_decref()s. */
static json_t *expect_json(reply_t r, long status)
{
    if (r.status != status)
        fail_msg("status %ld, expected %ld: %s", r.status, status, r.body ? r.body : "");
    assert_string_equal(r.content_type, "application/json");
    json_error_t err;
    json_t *j = json_loads(r.body ? r.body : "", 0, &err);
    if (!j)
        fail_msg("not JSON (%s): %s", err.text, r.body ? r.body : "");
    free(r.body);
    return j;
}

/* Errors have exactly {"error": "<non-empty>", "code": status}. */
static void expect_error(reply_t r, long status, const char *needle)
{
    json_t *j = expect_json(r, status);
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_string(e));
    if (needle && !strstr(json_string_value(e), needle))
        fail_msg("error \"%s\" lacks \"%s\"", json_string_value(e), needle);
    assert_int_equal(json_integer_value(json_object_get(j, "code")), status);
    json_decref(j);
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("\"%s\" is not a string", key);
    return json_string_value(v);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_live_ready_version(void **state)
{
    fixture_t *f = *state;
    json_t *j = expect_json(http(f, "GET", "/api/v1/live", NULL, NULL), 200);
    assert_string_equal(jstr(j, "status"), "alive");
    json_decref(j);

    j = expect_json(http(f, "GET", "/api/v1/ready", NULL, NULL), 200);
    assert_string_equal(jstr(j, "status"), "ready");
    assert_true(json_is_false(json_object_get(j, "gossip_deaf")));
    assert_true(json_is_true(json_object_get(j, "agent_data_since_start")));
    assert_int_equal(json_integer_value(json_object_get(j, "agents_known")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "agents_silent")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "backends")), 5);
    json_decref(j);
    f->ready = false;
    j = expect_json(http(f, "GET", "/api/v1/ready", NULL, NULL), 503);
    assert_string_equal(jstr(j, "reason"), "dns workers not started");
    assert_int_equal(json_integer_value(json_object_get(j, "code")), 503);
    assert_true(json_is_true(json_object_get(j, "gossip_deaf"))); /* details either way */
    assert_int_equal(json_integer_value(json_object_get(j, "agents_silent")), 3);
    json_decref(j);
    f->ready = true;

    j = expect_json(http(f, "GET", "/api/v1/version", NULL, NULL), 200);
    assert_string_equal(jstr(j, "version"), GSLB_VERSION);
    assert_string_equal(jstr(j, "node_id"), "ow-test");
    assert_string_equal(jstr(j, "region"), "us-east");
    json_decref(j);
}

static void test_errors_404_405(void **state)
{
    fixture_t *f = *state;
    expect_error(http(f, "GET", "/api/v1/nope", NULL, NULL), 404, "no such route");
    expect_error(http(f, "GET", "/", NULL, NULL), 404, NULL);
    /* a path that decodes to invalid UTF-8 still gets a JSON 404, not a 500 */
    expect_error(http(f, "GET", "/api/v1/%ff%fe", NULL, NULL), 404, "no such route");
    expect_error(http(f, "GET", "/api/v1/domains/%ff.example", NULL, NULL), 400, "invalid");
    reply_t r = http(f, "POST", "/api/v1/live", NULL, "{}");
    assert_string_equal(r.allow, "GET");
    expect_error(r, 405, "not allowed");
    r = http(f, "POST", "/api/v1/overrides/webapp/10.0.1.10", TOKEN, "{}");
    assert_string_equal(r.allow, "PUT, DELETE");
    expect_error(r, 405, NULL);
    /* a trailing slash names the same route */
    json_t *j = expect_json(http(f, "GET", "/api/v1/live/", NULL, NULL), 200);
    json_decref(j);
}

static json_t *find_backend(json_t *list, const char *addr)
{
    size_t i;
    json_t *b;
    json_array_foreach(list, i, b)
    {
        if (strcmp(jstr(b, "address"), addr) == 0)
            return b;
    }
    fail_msg("backend %s missing", addr);
    return NULL;
}

static void test_backends_fields_and_filters(void **state)
{
    fixture_t *f = *state;
    json_t *j = expect_json(http(f, "GET", "/api/v1/overwatch/backends", NULL, NULL), 200);
    json_t *list = json_object_get(j, "backends");
    assert_int_equal(json_array_size(list), 3);
    json_t *b = find_backend(list, "10.0.1.10");
    assert_string_equal(jstr(b, "service"), "webapp");
    assert_int_equal(json_integer_value(json_object_get(b, "port")), 8080);
    assert_int_equal(json_integer_value(json_object_get(b, "weight")), 100);
    assert_string_equal(jstr(b, "region"), "us-east");
    assert_string_equal(jstr(b, "agent_id"), "agent-us-east");
    assert_string_equal(jstr(b, "effective_status"), "healthy");
    assert_true(json_is_true(json_object_get(b, "agent_healthy")));
    assert_string_equal(jstr(b, "agent_last_seen"), "2026-01-01T00:01:40Z");
    assert_true(json_is_true(json_object_get(b, "validation_healthy")));
    assert_true(json_is_null(json_object_get(b, "override")));
    find_backend(list, "2001:db8::10");
    json_decref(j);

    j = expect_json(http(f, "GET", "/api/v1/overwatch/backends?region=eu-west", NULL, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(j, "backends")), 1);
    json_decref(j);
    j = expect_json(
        http(f, "GET", "/api/v1/overwatch/backends?service=webapp&status=healthy", NULL, NULL),
        200);
    assert_int_equal(json_array_size(json_object_get(j, "backends")), 3);
    json_decref(j);
    j = expect_json(http(f, "GET", "/api/v1/overwatch/backends?service=other", NULL, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(j, "backends")), 0);
    json_decref(j);
    expect_error(http(f, "GET", "/api/v1/overwatch/backends?status=bogus", NULL, NULL), 400,
                 "status");
}

static void test_agents_and_stats(void **state)
{
    fixture_t *f = *state;
    json_t *j = expect_json(http(f, "GET", "/api/v1/overwatch/agents", NULL, NULL), 200);
    json_t *a = json_array_get(json_object_get(j, "agents"), 0);
    assert_non_null(a);
    assert_string_equal(jstr(a, "agent_id"), "agent-us-east");
    assert_string_equal(jstr(a, "source_address"), "198.51.100.7");
    assert_int_equal(json_integer_value(json_object_get(a, "backends")), 2);
    json_decref(j);

    j = expect_json(http(f, "GET", "/api/v1/overwatch/stats", NULL, NULL), 200);
    json_t *dns = json_object_get(j, "dns");
    assert_int_equal(json_integer_value(json_object_get(dns, "queries_total")), 10);
    assert_int_equal(json_integer_value(json_object_get(dns, "workers")), 2);
    json_t *store = json_object_get(j, "store");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(store, "agents"), "registered")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(store, "backends"), "total")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "gossip"), "accepted")),
                     5);
    json_t *more = json_object_get(j, "more");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(more, "x_events_total"), "b")), 2);
    assert_int_equal(json_integer_value(json_object_get(more, "x_level")), 9);
    json_decref(j);
}

static uint8_t cand_flags(fixture_t *f, const char *addr, uint16_t qtype)
{
    uint8_t wire[256], key[260];
    int n = gslb_ans_name_to_wire(WEB, wire, sizeof(wire));
    int k = gslb_ans_key(wire, (size_t)n, qtype, key, sizeof(key));
    gslb_reader_t r;
    MDB_val v;
    assert_int_equal(gslb_reader_init(&r, &f->env), 0);
    assert_int_equal(gslb_reader_begin(&r), 0);
    assert_int_equal(gslb_ans_lookup(r.txn, f->env.dbi[GSLB_DBI_ANSWERS], key, (size_t)k, &v),
                     GSLB_ANS_KIND_GSLB);
    gslb_ans_set_t set;
    memcpy(&set, v.mv_data, sizeof(set));
    gslb_addr_t a = sample_addr(addr);
    uint8_t flags = 0xff;
    for (size_t i = 0; i < le16toh(set.count); i++) {
        gslb_ans_cand_t c;
        memcpy(&c, (const uint8_t *)v.mv_data + sizeof(set) + i * sizeof(c), sizeof(c));
        if (memcmp(c.addr, a.bytes, qtype == 1 ? 4 : 16) == 0)
            flags = c.flags;
    }
    gslb_reader_end(&r);
    gslb_reader_destroy(&r);
    assert_int_not_equal(flags, 0xff);
    return flags;
}

static void test_override_requires_token(void **state)
{
    fixture_t *f = *state;
    const char *path = "/api/v1/overrides/webapp/10.0.1.10";
    reply_t r = http(f, "PUT", path, NULL, "{\"state\":\"down\"}");
    expect_error(r, 401, "missing bearer token");
    expect_error(http(f, "PUT", path, "wrong", "{\"state\":\"down\"}"), 401, "invalid");
    expect_error(http(f, "DELETE", path, NULL, NULL), 401, NULL);
    expect_error(http(f, "POST", "/api/v1/reload", "wrong", NULL), 401, NULL);
    assert_true(cand_flags(f, "10.0.1.10", 1) & GSLB_CAND_HEALTHY);
}

static void test_override_put_changes_answers_and_audits(void **state)
{
    fixture_t *f = *state;
    const char *path = "/api/v1/overrides/webapp/10.0.1.10";
    json_t *j = expect_json(http(f, "PUT", path, TOKEN,
                                 "{\"state\":\"down\",\"reason\":\"patching\",\"source\":\"ops\"}"),
                            200);
    assert_string_equal(jstr(j, "state"), "down");
    assert_string_equal(jstr(j, "domain"), WEB);
    assert_string_equal(jstr(j, "reason"), "patching");
    assert_string_equal(jstr(j, "source"), "ops");
    json_decref(j);
    assert_false(cand_flags(f, "10.0.1.10", 1) & GSLB_CAND_HEALTHY);

    j = expect_json(http(f, "GET", "/api/v1/overwatch/backends?status=override_down", NULL, NULL),
                    200);
    json_t *b = find_backend(json_object_get(j, "backends"), "10.0.1.10");
    assert_string_equal(jstr(json_object_get(b, "override"), "state"), "down");
    json_decref(j);

    j = expect_json(http(f, "GET", "/api/v1/overrides", NULL, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(j, "overrides")), 1);
    assert_string_equal(jstr(json_array_get(json_object_get(j, "overrides"), 0), "service"),
                        "webapp");
    json_decref(j);

    j = expect_json(http(f, "DELETE", path, TOKEN, NULL), 200);
    assert_true(json_is_true(json_object_get(j, "deleted")));
    json_decref(j);
    assert_true(cand_flags(f, "10.0.1.10", 1) & GSLB_CAND_HEALTHY);
    expect_error(http(f, "DELETE", path, TOKEN, NULL), 404, "no override");

    j = expect_json(http(f, "GET", "/api/v1/audit-logs?limit=10", NULL, NULL), 200);
    json_t *logs = json_object_get(j, "audit_logs");
    assert_int_equal(json_array_size(logs), 2);
    assert_string_equal(jstr(json_array_get(logs, 0), "action"), "override.delete"); /* newest */
    assert_string_equal(jstr(json_array_get(logs, 1), "action"), "override.put");
    assert_string_equal(jstr(json_array_get(logs, 1), "actor"), "api@127.0.0.1");
    assert_string_equal(jstr(json_array_get(logs, 1), "target"), WEB "/10.0.1.10");
    json_decref(j);
    expect_error(http(f, "GET", "/api/v1/audit-logs?limit=0", NULL, NULL), 400, "limit");
}

static void test_override_ipv6_and_bad_input(void **state)
{
    fixture_t *f = *state;
    json_t *j = expect_json(
        http(f, "PUT", "/api/v1/overrides/webapp/2001:db8::10", TOKEN, "{\"healthy\":false}"), 200);
    assert_string_equal(jstr(j, "address"), "2001:db8::10");
    json_decref(j);
    assert_false(cand_flags(f, "2001:db8::10", 28) & GSLB_CAND_HEALTHY);
    /* the FQDN names the service too, and upper case is normalised */
    j = expect_json(http(f, "PUT", "/api/v1/overrides/WEBAPP.gslb.example.com/2001:db8::10", TOKEN,
                         "{\"state\":\"up\"}"),
                    200);
    json_decref(j);
    assert_true(cand_flags(f, "2001:db8::10", 28) & GSLB_CAND_HEALTHY);
    j = expect_json(http(f, "DELETE", "/api/v1/overrides/webapp/2001:db8::10", TOKEN, NULL), 200);
    json_decref(j);

    const char *p = "/api/v1/overrides/webapp/10.0.1.10";
    expect_error(http(f, "PUT", p, TOKEN, "{\"state\":"), 400, "invalid JSON");
    expect_error(http(f, "PUT", p, TOKEN, "{\"state\":\"sideways\"}"), 400, "state");
    expect_error(http(f, "PUT", p, TOKEN, "{\"state\":\"up\",\"x\":1}"), 400, "unknown key");
    expect_error(http(f, "PUT", p, TOKEN, ""), 400, "body");
    expect_error(http(f, "PUT", "/api/v1/overrides/webapp/10.0.1.999", TOKEN, "{\"state\":\"up\"}"),
                 400, "address");
    expect_error(http(f, "PUT", "/api/v1/overrides/nosuch/10.0.1.10", TOKEN, "{\"state\":\"up\"}"),
                 404, "unknown service");
    expect_error(http(f, "PUT", "/api/v1/overrides/webapp/10.9.9.9", TOKEN, "{\"state\":\"up\"}"),
                 404, "no backend");
}

static void test_body_limit_413(void **state)
{
    fixture_t *f = *state;
    size_t n = 100 * 1024;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    expect_error(http(f, "PUT", "/api/v1/overrides/webapp/10.0.1.10", TOKEN, big), 413,
                 "larger than");
    /* the limit holds on routes that take no body too */
    expect_error(http_port(gslb_api_port(f->api), "GET", "/api/v1/live", NULL, big, n), 413, NULL);
    free(big);
}

static void test_domains(void **state)
{
    fixture_t *f = *state;
    json_t *j = expect_json(http(f, "GET", "/api/v1/domains", NULL, NULL), 200);
    json_t *d = json_array_get(json_object_get(j, "domains"), 0);
    assert_string_equal(jstr(d, "name"), WEB);
    assert_string_equal(jstr(d, "zone"), ZONE);
    assert_string_equal(jstr(d, "service"), "webapp");
    assert_string_equal(jstr(d, "routing_algorithm"), "failover");
    assert_int_equal(json_integer_value(json_object_get(d, "backends_total")), 3);
    json_decref(j);

    j = expect_json(http(f, "GET", "/api/v1/domains/" WEB ".", NULL, NULL), 200);
    assert_string_equal(jstr(j, "name"), WEB);
    assert_int_equal(json_array_size(json_object_get(j, "backends")), 3);
    assert_int_equal(json_array_size(json_object_get(j, "regions")), 2);
    json_decref(j);
    expect_error(http(f, "GET", "/api/v1/domains/nosuch." ZONE, NULL, NULL), 404, "unknown");
}

/* A client outside the acl is closed at accept (CivetWeb's access_control_list):
 * no HTTP reply at all. */
static bool refused_at_accept(fixture_t *f, const char *path)
{
    char url[512];
    CURL *c = curl_easy_init();
    assert_non_null(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", gslb_api_port(f->api), path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    return rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
}

static void test_allowed_networks_reload(void **state)
{
    fixture_t *f = *state;
    gslb_api_settings_t set2 = f->set;
    snprintf(f->allowed[0], sizeof(f->allowed[0]), "10.0.0.0/8");
    set2.allowed_networks = (const char(*)[64])f->allowed;
    set2.allowed_net_count = 1;
    gslb_api_set_settings(f->api, &set2);
    assert_true(refused_at_accept(f, "/api/v1/live"));
    assert_true(refused_at_accept(f, "/api/v1/nope"));
    snprintf(f->allowed[0], sizeof(f->allowed[0]), "127.0.0.1/32");
    gslb_api_settings_t set3 = set2;
    snprintf(set3.token, sizeof(set3.token), "new-token");
    gslb_api_set_settings(f->api, &set3);
    json_t *j = expect_json(http(f, "GET", "/api/v1/live", NULL, NULL), 200);
    json_decref(j);
    gslb_api_settings_t nobody = set3;
    nobody.allowed_net_count = 0; /* an explicit empty list allows nobody */
    gslb_api_set_settings(f->api, &nobody);
    assert_true(refused_at_accept(f, "/api/v1/live"));
    gslb_api_set_settings(f->api, &set3);
    /* the API copied the settings: changing the caller's struct and list changes nothing */
    snprintf(set3.token, sizeof(set3.token), "changed-after-the-call");
    snprintf(f->allowed[0], sizeof(f->allowed[0]), "10.0.0.0/8");
    j = expect_json(http(f, "GET", "/api/v1/live", NULL, NULL), 200);
    json_decref(j);
    /* the new token applies at once, the old one is refused */
    expect_error(http(f, "DELETE", "/api/v1/overrides/webapp/10.0.1.10", TOKEN, NULL), 401, NULL);
    expect_error(http(f, "DELETE", "/api/v1/overrides/webapp/10.0.1.10", "new-token", NULL), 404,
                 NULL);
    gslb_api_set_settings(f->api, &f->set);
}

static void test_metrics_text(void **state)
{
    fixture_t *f = *state;
    reply_t r = http_port(gslb_api_metrics_port(f->api), "GET", "/metrics", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    const char *want[] = {
        "# TYPE opengslb_dns_queries_total counter\n",
        "opengslb_dns_queries_total{qtype=\"A\",rcode=\"NOERROR\"} 7\n",
        "opengslb_dns_responses_truncated_total 1\n",
        "opengslb_overwatch_agents_registered 1\n",
        "opengslb_overwatch_backends{state=\"healthy\"} 3\n",
        "opengslb_gossip_messages_total{result=\"accepted\"} 5\n",
        "opengslb_dnssec_sync_success 0\n",
        "opengslb_dnssec_last_sync_timestamp 0\n",
        "opengslb_build_info{version=\"" GSLB_VERSION
        "\",node_id=\"ow-test\",region=\"us-east\"} 1\n",
        "\nprocess_start_time_seconds ",
        "\nprocess_resident_memory_bytes ",
        "\nprocess_open_fds ",
        "# HELP x_events_total Events.\n# TYPE x_events_total counter\n"
        "x_events_total{kind=\"a\"} 1\nx_events_total{kind=\"b\"} 2\n"
        "# HELP x_level Level.\n# TYPE x_level gauge\nx_level 9\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!strstr(r.body, want[i]))
            fail_msg("metrics lack \"%s\":\n%s", want[i], r.body);
    }
    free(r.body);
    r = http_port(gslb_api_metrics_port(f->api), "GET", "/other", NULL, NULL, 0);
    assert_int_equal(r.status, 404);
    free(r.body);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* One server for the group (CivetWeb needs ~2 s to stop); every test
     * leaves the store and the config as it found them. */
#define T(fn) cmocka_unit_test(fn)
    const struct CMUnitTest tests[] = {
        T(test_live_ready_version),
        T(test_errors_404_405),
        T(test_backends_fields_and_filters),
        T(test_agents_and_stats),
        T(test_override_requires_token),
        T(test_override_put_changes_answers_and_audits),
        T(test_override_ipv6_and_bad_input),
        T(test_body_limit_413),
        T(test_domains),
        T(test_allowed_networks_reload),
        T(test_metrics_text),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
