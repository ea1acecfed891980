/*
 * http.c - the API's CivetWeb context: listening (plain or TLS), per-thread
 * LMDB readers, access control, request dispatch through the route table and
 * JSON replies. See http.h for the order of checks.
 */
#include "http.h"
#include "override_body.h"
#include "routes.h"
#include "uri.h"
#include "views.h"

#include "gslb_log.h"
#include "gslb_time.h"
#include "store.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Bodies above the limit are drained (up to this much) so the client reads the 413. */
#define BODY_DRAIN_MAX (1024 * 1024)
#define STR_(x) #x
#define STR(x) STR_(x)

/* ---- small shared helpers ------------------------------------------------- */

bool gslb_secret_equal(const char *a, const char *b)
{
    /* Hash both so neither the content nor the length leaks through timing. */
    unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
    unsigned int la = 0, lb = 0;
    if (!EVP_Digest(a, strlen(a), da, &la, EVP_sha256(), NULL) ||
        !EVP_Digest(b, strlen(b), db, &lb, EVP_sha256(), NULL) || la != lb)
        return false;
    return CRYPTO_memcmp(da, db, la) == 0;
}

int gslb_req_reply(gslb_req_t *rq, int status, json_t *body)
{
    json_decref(rq->reply);
    rq->reply = body;
    if (!body)
        return gslb_req_error(rq, 500, "out of memory");
    return status;
}

int gslb_req_error(gslb_req_t *rq, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_decref(rq->reply);
    /* msg may quote the (decoded) request path: gslb_json_str keeps it valid UTF-8. */
    rq->reply = json_pack("{s:o, s:i}", "error", gslb_json_str(msg), "code", status);
    return status;
}

int gslb_req_store_error(gslb_req_t *rq, int code, const char *what)
{
    switch (code) {
    case GSLB_ENOENT:
        return gslb_req_error(rq, 404, "%s: not found", what);
    case GSLB_EMAPFULL: /* logged by env.c, at most once a minute */
        return gslb_req_error(rq, 507, "%s: storage map is full (raise storage.map_size)", what);
    case GSLB_ENOSPC:
        return gslb_req_error(rq, 507, "%s: no space left on the device holding the store", what);
    case GSLB_EBUSY:
    case GSLB_EAGAIN:
        return gslb_req_error(rq, 503, "%s: store busy, retry", what);
    default:
        gslb_error("api: %s: %s", what, gslb_strerror(code));
        return gslb_req_error(rq, 500, "%s: %s", what, gslb_strerror(code));
    }
}

bool gslb_req_query(const gslb_req_t *rq, const char *name, char *out, size_t cap)
{
    if (!rq->query)
        return false;
    return mg_get_var(rq->query, strlen(rq->query), name, out, cap) >= 0;
}

int gslb_req_read_begin(gslb_req_t *rq, MDB_txn **txn)
{
    if (!rq->reader)
        return gslb_req_error(rq, 503, "store reader unavailable on this thread");
    int rc = gslb_reader_begin(rq->reader);
    if (rc != 0)
        return gslb_req_store_error(rq, rc, "read snapshot");
    *txn = rq->reader->txn;
    return 0;
}

void gslb_req_read_end(gslb_req_t *rq)
{
    if (rq->reader)
        gslb_reader_end(rq->reader);
}

void gslb_req_actor(const gslb_req_t *rq, char *out, size_t cap)
{
    snprintf(out, cap, "api@%s", rq->client);
}

int gslb_req_audit_prune(gslb_req_t *rq, MDB_txn *txn)
{
    pthread_rwlock_rdlock(&rq->api->settings_lock);
    uint64_t max_age_ms = rq->api->audit_max_age_ms;
    size_t max_entries = rq->api->audit_max_entries;
    pthread_rwlock_unlock(&rq->api->settings_lock);
    int64_t before_ms = max_age_ms ? gslb_wall_ms() - (int64_t)max_age_ms : 0;
    size_t removed = 0;
    int rc = gslb_store_audit_prune(rq->api->env, txn, before_ms, max_entries,
                                    GSLB_AUDIT_PRUNE_BATCH, &removed);
    if (rc == 0 && removed)
        gslb_debug("api: audit retention removed %zu old record(s)", removed);
    return rc;
}

void gslb_req_identity(const gslb_req_t *rq, char *node_id, char *region, size_t cap)
{
    pthread_rwlock_rdlock(&rq->api->settings_lock);
    snprintf(node_id, cap, "%s", rq->api->node_id);
    snprintf(region, cap, "%s", rq->api->region);
    pthread_rwlock_unlock(&rq->api->settings_lock);
}

/* ---- readiness (GET /api/v1/ready, opengslb_up) ------------------------------- */

static bool store_readable(gslb_reader_t *reader, char *reason, size_t cap)
{
    if (!reader || gslb_reader_begin(reader) != 0) {
        snprintf(reason, cap, "store is not readable");
        return false;
    }
    gslb_reader_end(reader);
    return true;
}

static bool store_writable(char *reason, size_t cap)
{
    int code;
    int64_t since;
    if (!gslb_env_storage_full(&code, &since))
        return true;
    char when[32];
    struct tm tm;
    time_t t = (time_t)since;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    snprintf(reason, cap,
             "storage full since %s: writes fail (%s); DNS answers from the stored state", when,
             code == GSLB_EMAPFULL ? "LMDB map full, raise storage.map_size"
                                   : "no space left on device");
    return false;
}

bool gslb_api_ready(gslb_api_t *api, gslb_reader_t *reader, char *reason, size_t cap)
{
    const gslb_api_hooks_t *h = &api->hooks;
    reason[0] = '\0';
    bool ready = store_readable(reader, reason, cap);
    if (ready && h->ready && !h->ready(h->ctx, reason, cap))
        ready = false;
    if (ready && !store_writable(reason, cap))
        ready = false;
    if (!ready && !reason[0])
        snprintf(reason, cap, "not ready");
    return ready;
}

/* ---- responses -------------------------------------------------------------- */

void gslb_http_send(struct mg_connection *conn, int status, const char *content_type,
                    const char *body, size_t len, const char *extra_header)
{
    char clen[32];
    snprintf(clen, sizeof(clen), "%zu", len);
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", content_type, -1);
    mg_response_header_add(conn, "Content-Length", clen, -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    if (extra_header && *extra_header)
        mg_response_header_add_lines(conn, extra_header);
    mg_response_header_send(conn);
    if (len)
        mg_write(conn, body, len);
}

static void send_json(gslb_req_t *rq, int status)
{
    char *text = rq->reply ? json_dumps(rq->reply, JSON_COMPACT) : NULL;
    if (!text) {
        static const char oom[] = "{\"error\":\"out of memory\",\"code\":500}\n";
        gslb_http_send(rq->conn, 500, "application/json", oom, sizeof(oom) - 1, NULL);
        return;
    }
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (line) {
        text = line;
        text[len++] = '\n';
        text[len] = '\0';
    }
    gslb_http_send(rq->conn, status, "application/json", text, len, rq->extra_header);
    free(text);
}

/* ---- access checks ------------------------------------------------------------ */

static bool client_allowed(gslb_api_t *api, const char *client)
{
    pthread_rwlock_rdlock(&api->settings_lock);
    bool ok = gslb_acl_allows(&api->acl, client);
    pthread_rwlock_unlock(&api->settings_lock);
    return ok;
}

/* Bearer token from the Authorization header, or NULL. */
static const char *bearer_token(struct mg_connection *conn)
{
    const char *h = mg_get_header(conn, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

/* The bearer token against the admin token (api.token) or, for the key export,
 * the cluster secret (key_sync.token); constant-time. 0 when it matches. */
static int check_token(gslb_req_t *rq, bool cluster)
{
    const char *given = bearer_token(rq->conn);
    pthread_rwlock_rdlock(&rq->api->settings_lock);
    const char *want = cluster ? rq->api->cluster_token : rq->api->token;
    bool configured = want[0] != '\0';
    bool ok = configured && given && gslb_secret_equal(given, want);
    pthread_rwlock_unlock(&rq->api->settings_lock);
    if (ok)
        return 0;
    snprintf(rq->extra_header, sizeof(rq->extra_header),
             "WWW-Authenticate: Bearer realm=\"opengslb\"");
    if (!configured && cluster)
        return gslb_req_error(rq, 403,
                              "no cluster secret is configured "
                              "(overwatch.dnssec.key_sync.token): the key export is disabled");
    if (!configured)
        return gslb_req_error(rq, 403,
                              "no API token is configured (api.token): mutations are "
                              "disabled (an agent token is never accepted here)");
    if (!given)
        return gslb_req_error(rq, 401, "missing bearer token (Authorization: Bearer <token>)");
    return gslb_req_error(rq, 401, "invalid bearer token");
}

/* GSLB_ROUTE_TLS routes (the DNSSEC key export) over plain HTTP only when
 * overwatch.dnssec.key_sync.allow_plaintext_export says so (test/lab clusters). */
static bool plaintext_allowed(gslb_api_t *api)
{
    pthread_rwlock_rdlock(&api->settings_lock);
    bool ok = api->allow_plaintext_export;
    pthread_rwlock_unlock(&api->settings_lock);
    return ok;
}

/* ---- request body ---------------------------------------------------------------- */

/* A body that trickles in is cut at GSLB_HTTP_BODY_DEADLINE_MS (each mg_read
 * waits at most GSLB_HTTP_HEAD_TIMEOUT_MS): no client keeps a worker longer. */
static bool body_deadline_passed(int64_t start_ms)
{
    return gslb_mono_ms() - start_ms > GSLB_HTTP_BODY_DEADLINE_MS;
}

static void drain_body(struct mg_connection *conn)
{
    char buf[4096];
    size_t total = 0;
    int64_t start = gslb_mono_ms();
    int n;
    while (total < BODY_DRAIN_MAX && !body_deadline_passed(start) &&
           (n = mg_read(conn, buf, sizeof(buf))) > 0)
        total += (size_t)n;
}

/* 413 for a declared Content-Length over the limit, on any route. */
static int refuse_large_body(gslb_req_t *rq, long long content_length)
{
    if (content_length <= BODY_DRAIN_MAX)
        drain_body(rq->conn);
    return gslb_req_error(rq, 413, "request body larger than %d bytes", GSLB_API_BODY_MAX);
}

/* Read the whole body (chunked or not), at most GSLB_API_BODY_MAX bytes. */
static int read_body(gslb_req_t *rq)
{
    rq->body = malloc(GSLB_API_BODY_MAX + 2);
    if (!rq->body)
        return gslb_req_error(rq, 500, "out of memory");
    size_t len = 0;
    int64_t start = gslb_mono_ms();
    int n;
    while (len <= GSLB_API_BODY_MAX && !body_deadline_passed(start) &&
           (n = mg_read(rq->conn, rq->body + len, GSLB_API_BODY_MAX + 1 - len)) > 0)
        len += (size_t)n;
    if (body_deadline_passed(start))
        return gslb_req_error(rq, 408, "request body not received within %d ms",
                              GSLB_HTTP_BODY_DEADLINE_MS);
    if (len > GSLB_API_BODY_MAX) {
        drain_body(rq->conn);
        return gslb_req_error(rq, 413, "request body larger than %d bytes", GSLB_API_BODY_MAX);
    }
    rq->body[len] = '\0';
    rq->body_len = len;
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------------ */

/* The path decoded by us (CivetWeb runs with decode_url=no, uri.h) and the raw
 * query string checked: a control byte or a bad escape is 400, never a cut path. */
static int decode_target(gslb_req_t *rq)
{
    gslb_errbuf_t eb;
    size_t cap = strlen(rq->path) + 1;
    rq->path_buf = malloc(cap);
    if (!rq->path_buf)
        return gslb_req_error(rq, 500, "out of memory");
    if (gslb_uri_decode_path(rq->path, rq->path_buf, cap, &eb) != 0 ||
        gslb_uri_check_query(rq->query, &eb) != 0)
        return gslb_req_error(rq, 400, "%s", eb.msg);
    rq->path = rq->path_buf;
    return 0;
}

static int handle(gslb_req_t *rq, long long content_length)
{
    if (!client_allowed(rq->api, rq->client))
        return gslb_req_error(
            rq, 403, "client %s is not in api.allowed_networks nor a key_sync peer", rq->client);
    int status = decode_target(rq);
    if (status != 0)
        return status;
    const gslb_route_t *route = NULL;
    char allow[64];
    switch (gslb_route_find(rq->method, rq->path, rq, &route, allow, sizeof(allow))) {
    case GSLB_ROUTE_NO_PATH:
        return gslb_req_error(rq, 404, "no such route: %.200s", rq->path);
    case GSLB_ROUTE_NO_METHOD:
        snprintf(rq->extra_header, sizeof(rq->extra_header), "Allow: %s", allow);
        return gslb_req_error(rq, 405, "method %.16s not allowed (allowed: %s)", rq->method, allow);
    case GSLB_ROUTE_FOUND:
        break;
    }
    if ((route->flags & GSLB_ROUTE_TOKEN) && (status = check_token(rq, false)) != 0)
        return status;
    if ((route->flags & GSLB_ROUTE_CLUSTER) && (status = check_token(rq, true)) != 0)
        return status;
    if ((route->flags & GSLB_ROUTE_TLS) && !rq->is_tls && !plaintext_allowed(rq->api))
        return gslb_req_error(rq, 403, "this route requires HTTPS");
    if (content_length > GSLB_API_BODY_MAX)
        return refuse_large_body(rq, content_length);
    if ((route->flags & GSLB_ROUTE_BODY) && (status = read_body(rq)) != 0)
        return status;
    return route->fn(rq);
}

static void count_status(gslb_api_t *api, int status)
{
    size_t cls = status >= 100 && status < 600 ? (size_t)(status / 100) : 0;
    atomic_fetch_add_explicit(&api->requests[cls], 1, memory_order_relaxed);
}

/* Copy text for a log line; control characters (a decoded %0A in a path, say)
 * become '?' so a client cannot forge log lines. */
static const char *loggable(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (unsigned char)in[i] < 0x20 || in[i] == 0x7f ? '?' : in[i];
    out[i] = '\0';
    return out;
}

static void log_request(const gslb_req_t *rq, int status)
{
    char path[256];
    if (gslb_log_get_level() <= GSLB_LOG_DEBUG)
        gslb_debug("api: %s %.16s %s -> %d", rq->client, rq->method,
                   loggable(rq->path, path, sizeof(path)), status);
}

static int dispatch(struct mg_connection *conn, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    gslb_req_t *rq = calloc(1, sizeof(*rq));
    if (!ri || !rq) {
        free(rq);
        static const char oom[] = "{\"error\":\"out of memory\",\"code\":500}\n";
        gslb_http_send(conn, 500, "application/json", oom, sizeof(oom) - 1, NULL);
        return 500;
    }
    rq->api = cbdata;
    rq->conn = conn;
    rq->method = ri->request_method ? ri->request_method : "";
    rq->path = ri->local_uri ? ri->local_uri : "";
    rq->query = ri->query_string;
    rq->client = ri->remote_addr;
    rq->is_tls = ri->is_ssl != 0;
    rq->reader = mg_get_thread_pointer(conn);
    int status = handle(rq, ri->content_length);
    send_json(rq, status);
    log_request(rq, status);
    count_status(rq->api, status);
    json_decref(rq->reply);
    free(rq->body);
    free(rq->path_buf);
    free(rq);
    return status;
}

/* ---- CivetWeb callbacks ------------------------------------------------------------------ */

static gslb_api_t *ctx_api(const struct mg_context *ctx)
{
    return mg_get_user_data(ctx);
}

static __thread const gslb_api_t *tls_worker_of;

bool gslb_http_on_worker(const gslb_api_t *api)
{
    return tls_worker_of == api;
}

static void *init_thread(const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1)
        return NULL;
    tls_worker_of = ctx_api(ctx);
    gslb_reader_t *r = calloc(1, sizeof(*r));
    if (!r || gslb_reader_init(r, ctx_api(ctx)->env) != 0) {
        gslb_error("api: cannot create an LMDB reader for a worker thread");
        free(r);
        return NULL;
    }
    return r;
}

static void exit_thread(const struct mg_context *ctx, int thread_type, void *ptr)
{
    gslb_reader_t *r = ptr;
    if (!r)
        return;
    gslb_reader_destroy(r);
    free(r);
}

/* ---- per-client connection limit (conn_limit.h) ------------------------------------------ */

static int init_http_connection(const struct mg_connection *conn, void **conn_data)
{
    gslb_api_t *api = mg_get_user_data(mg_get_context(conn));
    *conn_data = NULL;
    if (api)
        gslb_conn_limit_enforce(&api->http_limit);
    return 0;
}

static int init_metrics_connection(const struct mg_connection *conn, void **conn_data)
{
    gslb_api_t *api = mg_get_user_data(mg_get_context(conn));
    *conn_data = NULL;
    if (api)
        gslb_conn_limit_enforce(&api->metrics_limit);
    return 0;
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    char text[512];
    gslb_warn("api: civetweb: %s", loggable(message, text, sizeof(text)));
    return 1;
}

static void log_openssl_errors(const char *what)
{
    unsigned long e;
    char buf[256];
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        gslb_error("api: tls: %s: %s", what, buf);
    }
}

/* Load api.tls_cert (chain) and api.tls_key ourselves: CivetWeb 1.15 only
 * knows one PEM file holding both. */
static int init_ssl(void *ssl_ctx, void *user_data)
{
    gslb_api_t *api = user_data;
    SSL_CTX *sctx = ssl_ctx;
    if (SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(sctx, api->tls_cert) != 1) {
        log_openssl_errors(api->tls_cert);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(sctx, api->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(sctx) != 1) {
        log_openssl_errors(api->tls_key);
        return -1;
    }
    return 1;
}

void gslb_http_common_callbacks(struct mg_callbacks *cb, bool metrics)
{
    cb->init_thread = init_thread;
    cb->exit_thread = exit_thread;
    cb->log_message = log_message;
    cb->init_connection = metrics ? init_metrics_connection : init_http_connection;
}

/* ---- start / stop ---------------------------------------------------------------------------- */

int gslb_http_listen_spec(const gslb_hostport_t *hp, bool tls, char *out, size_t cap,
                          gslb_errbuf_t *eb)
{
    gslb_addr_t a;
    const char *suffix = tls ? "s" : "";
    if (hp->host[0] == '\0') {
        snprintf(out, cap, "%u%s", hp->port, suffix);
        return 0;
    }
    if (gslb_addr_parse(hp->host, &a) != 0)
        return gslb_errf(eb, GSLB_ECONFIG, "listen address \"%s\" is not an IP literal", hp->host);
    if (a.family == AF_INET6) {
        if (!mg_check_feature(MG_FEATURES_IPV6))
            return gslb_errf(eb, GSLB_ENOTSUP,
                             "listen address [%s]:%u: this CivetWeb build has no IPv6 support; "
                             "use an IPv4 address",
                             hp->host, hp->port);
        snprintf(out, cap, "[%s]:%u%s", hp->host, hp->port, suffix);
        return 0;
    }
    snprintf(out, cap, "%s:%u%s", hp->host, hp->port, suffix);
    return 0;
}

const char *gslb_http_bind_problem(const gslb_hostport_t *hp, const char *fallback, char *buf,
                                   size_t cap)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(hp->port)};
    if (hp->host[0] && inet_pton(AF_INET, hp->host, &sin.sin_addr) != 1)
        return fallback;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fallback;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int rc = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    int err = errno;
    close(fd);
    if (rc == 0)
        return fallback;
    snprintf(buf, cap, "%s", strerror(err));
    return buf;
}

uint16_t gslb_http_bound_port(const struct mg_context *ctx)
{
    struct mg_server_port ports[4];
    int n = mg_get_server_ports(ctx, 4, ports);
    return n > 0 ? (uint16_t)ports[0].port : 0;
}

/* CivetWeb loads libssl.so with dlopen and does not notice missing symbols; in
 * OpenSSL 3 SSL_get_peer_certificate is gone and the first TLS connection would
 * crash. Refuse to start instead (docs/install.md, "TLS shim"). */
static int check_tls_library(gslb_errbuf_t *eb)
{
    void *h = dlopen("libssl.so", RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        return gslb_errf(eb, GSLB_ENOTSUP,
                         "api TLS: CivetWeb could not load libssl.so (install libssl-dev)");
    bool ok = dlsym(h, "SSL_get_peer_certificate") != NULL;
    dlclose(h);
    if (!ok)
        return gslb_errf(eb, GSLB_ENOTSUP,
                         "api TLS: the libssl.so CivetWeb loaded lacks SSL_get_peer_certificate "
                         "(the OpenGSLB TLS shim was not found; see docs/install.md)");
    return 0;
}

/* "10.0.1.53:9090 (TLS) and 127.0.0.1:9090": the listeners as the config names them
 * (not CivetWeb's listening_ports "10.0.1.53:9090s,127.0.0.1:9090"). */
static const char *describe_listeners(const gslb_api_t *api, char *out, size_t cap)
{
    const gslb_hostport_t *a = &api->api_addr, *l = &api->local_addr;
    int n = snprintf(out, cap, "%s:%u%s", a->host[0] ? a->host : "0.0.0.0", a->port,
                     api->tls ? " (TLS)" : "");
    if (api->local_enabled && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, " and %s:%u", l->host, l->port);
    return out;
}

/* Why mg_start2() failed: the TLS files (their OpenSSL reasons are in the log above) or
 * the listening sockets (the OS reason when we can find it). */
static int start_error(const gslb_api_t *api, char *errtext, size_t cap, gslb_errbuf_t *eb)
{
    char where[300];
    describe_listeners(api, where, sizeof(where));
    if (api->tls && strstr(errtext, "SSL"))
        return gslb_errf(eb, GSLB_EIO,
                         "api: cannot serve %s: TLS setup failed with api.tls_cert \"%s\" and "
                         "api.tls_key \"%s\" (%s; the reason is logged above)",
                         where, api->tls_cert, api->tls_key, errtext);
    return gslb_errf(eb, GSLB_EIO, "api: cannot listen on %s: %s", where,
                     gslb_http_bind_problem(&api->api_addr,
                                            errtext[0] ? errtext : "civetweb start failed", errtext,
                                            cap));
}

/* A restart (api.c) listens on the ports bound now, also when configured as 0. */
static void remember_bound_ports(gslb_api_t *api)
{
    struct mg_server_port ports[4];
    int n = mg_get_server_ports(api->http, 4, ports);
    api->api_addr.port = api->http_port;
    if (api->local_enabled && n > 1) {
        api->local_port = (uint16_t)ports[1].port;
        api->local_addr.port = api->local_port;
    }
}

int gslb_http_start(gslb_api_t *api, gslb_errbuf_t *eb)
{
    char ports[600];
    int rc = gslb_http_listen_spec(&api->api_addr, api->tls, ports, sizeof(ports), eb);
    if (rc != 0)
        return rc;
    if (api->local_enabled) {
        /* api.local_address: a plain-HTTP loopback listener beside api.address */
        size_t used = strlen(ports);
        ports[used++] = ',';
        rc = gslb_http_listen_spec(&api->local_addr, false, ports + used, sizeof(ports) - used, eb);
        if (rc != 0)
            return rc;
    }
    if (api->tls && (rc = check_tls_library(eb)) != 0)
        return rc;
    pthread_rwlock_rdlock(&api->settings_lock); /* a reload replaces acl_spec */
    char *acl = strdup(api->acl_spec ? api->acl_spec : "-0.0.0.0/0");
    pthread_rwlock_unlock(&api->settings_lock);
    if (!acl)
        return gslb_errf(eb, GSLB_ENOMEM, "api: out of memory");
    /* access_control_list: a client outside allowed_networks and the key_sync peers
     * is closed at accept and never takes a worker (acl.h). request_timeout_ms bounds
     * the whole request head (CivetWeb's read_message), so a slow client holds a
     * worker for a few seconds at most; GSLB_API_PER_CLIENT < GSLB_API_THREADS keeps
     * workers in reserve for other clients (conn_limit.h). */
    const char *options[] = {"listening_ports",
                             ports,
                             "num_threads",
                             STR(GSLB_API_THREADS),
                             "request_timeout_ms",
                             STR(GSLB_HTTP_HEAD_TIMEOUT_MS),
                             "access_control_list",
                             acl,
                             "enable_keep_alive",
                             "no",
                             "decode_url",
                             "no", /* uri.h: we decode, strictly */
                             "access_control_allow_origin",
                             "",
                             NULL};
    struct mg_callbacks cb = {0};
    gslb_http_common_callbacks(&cb, false);
    if (api->tls)
        cb.init_ssl = init_ssl;
    char errtext[256] = "";
    struct mg_error_data err = {.text = errtext, .text_buffer_size = sizeof(errtext)};
    struct mg_init_data init = {
        .callbacks = &cb, .user_data = api, .configuration_options = options};
    api->http = mg_start2(&init, &err);
    free(acl);
    if (!api->http)
        return start_error(api, errtext, sizeof(errtext), eb);
    mg_set_request_handler(api->http, "/**", dispatch, api);
    api->http_port = gslb_http_bound_port(api->http);
    remember_bound_ports(api);
    gslb_conn_limit_set_ports(&api->http_limit, api->http_port, api->local_port);
    gslb_info("api: listening on %s://%s:%u", api->tls ? "https" : "http",
              api->api_addr.host[0] ? api->api_addr.host : "0.0.0.0", api->http_port);
    if (api->local_enabled)
        gslb_info("api: listening on http://%s:%u (api.local_address)", api->local_addr.host,
                  api->local_addr.port);
    return 0;
}
