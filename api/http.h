/*
 * http.h - internals shared by the API modules: the API object, the request a
 * route handler sees, and the reply helpers. Not used outside api/.
 *
 * Contract:
 *  - Every request passes, in order: allowed_networks or a key_sync peer's
 *    address (403), strict path decoding and query check (400, uri.h: no
 *    control bytes, no bad escapes), route lookup (404,
 *    405 with Allow), the admin bearer token (api.token) for routes flagged
 *    GSLB_ROUTE_TOKEN and the cluster secret (key_sync.token) for routes flagged
 *    GSLB_ROUTE_CLUSTER (401; 403 when that secret is not configured),
 *    TLS for routes flagged GSLB_ROUTE_TLS (403; waived only by
 *    overwatch.dnssec.key_sync.allow_plaintext_export), body limit (413) and body
 *    read for GSLB_ROUTE_BODY. Only then is the handler called.
 *  - A handler returns the HTTP status and leaves a JSON body in rq->body (a new
 *    reference the HTTP layer sends and releases). gslb_req_error() builds the
 *    {"error": "...", "code": N} body. A handler never writes to the socket.
 *  - rq->reader is the calling thread's LMDB reader; handlers begin and end
 *    their snapshot themselves (gslb_req_read_begin/end) and never keep it
 *    across I/O. Mutations use gslb_env_write_begin + gslb_env_commit_durable.
 *  - Settings a reload replaces are read under the API's settings lock (for
 *    a handler: gslb_req_identity()); a reader copies what it needs and drops
 *    the lock before touching LMDB.
 */
#pragma once

#include "acl.h"
#include "api.h"
#include "conn_limit.h"
#include "env.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct mg_callbacks;
struct mg_connection;
struct mg_context;

struct gslb_api {
    gslb_env_t *env;
    gslb_api_hooks_t hooks;
    int64_t start_time;

    /* settings replaced on reload (gslb_api_set_settings), under settings_lock */
    pthread_rwlock_t settings_lock;
    char node_id[GSLB_LABEL_MAX], region[GSLB_LABEL_MAX];
    bool allow_plaintext_export;
    gslb_acl_t acl;
    char token[256];           /* "" = no token configured: mutating routes refused */
    char cluster_token[256];   /* "" = no cluster secret: the key export is refused */
    uint64_t audit_max_age_ms; /* api.audit_retention (0 = no limit) */
    size_t audit_max_entries;

    struct mg_context *http;
    struct mg_context *metrics;
    uint16_t http_port, metrics_port, local_port;
    /* acl as CivetWeb's access_control_list (applied at accept; under
     * settings_lock). A reload that changes it restarts the http context on the
     * same ports, on a thread of its own (api.c); restart_lock serialises those
     * restarts and the final stop (never taken by an API worker). */
    char *acl_spec;
    pthread_mutex_t restart_lock;
    bool stopping; /* under restart_lock */
    atomic_uint restarts_asked, restarts_done;
    atomic_int restarts_running;
    /* per-client connection limits of the two contexts (conn_limit.h) */
    gslb_conn_limit_t http_limit, metrics_limit;
    bool tls;
    char tls_cert[4096], tls_key[4096];
    /* start-time values, to log "requires restart" on reload */
    gslb_hostport_t api_addr, metrics_addr;
    bool api_enabled, metrics_enabled;
    gslb_hostport_t local_addr; /* api.local_address (plain HTTP, loopback) */
    bool local_enabled;

    atomic_uint_fast64_t requests[6]; /* by status class: 1xx..5xx, [0] = other */
};

#define GSLB_REQ_MAX_PARAMS 4

typedef struct gslb_req {
    gslb_api_t *api;
    struct mg_connection *conn;
    const char *method;
    const char *path;   /* decoded (uri.h), without query string */
    char *path_buf;     /* owns the decoded path */
    const char *query;  /* raw query string or NULL */
    const char *client; /* client address text */
    bool is_tls;
    gslb_reader_t *reader; /* this thread's reader (NULL on failure) */
    size_t nparams;
    char params[GSLB_REQ_MAX_PARAMS][GSLB_NAME_MAX]; /* {segments} of the route */
    char *body; /* request body (NUL-terminated) for GSLB_ROUTE_BODY */
    size_t body_len;
    json_t *reply;          /* response body (owned) */
    char extra_header[128]; /* one extra "Name: value" header or "" */
} gslb_req_t;

/** Set an error body {"error": msg, "code": status}; returns status. */
int gslb_req_error(gslb_req_t *rq, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Map a GSLB_E* code from the store to 404/409/500/503/507 with a message
 *  (507 for GSLB_EMAPFULL and GSLB_ENOSPC, which env.c has logged already). */
int gslb_req_store_error(gslb_req_t *rq, int code, const char *what);
/** Set the body (steals the reference); returns status. NULL body = out of memory. */
int gslb_req_reply(gslb_req_t *rq, int status, json_t *body);

/** Query parameter (decoded). Returns true and fills out when present. */
bool gslb_req_query(const gslb_req_t *rq, const char *name, char *out, size_t cap);

/** Begin/end this thread's read snapshot. begin returns 0 or an error status set on rq. */
int gslb_req_read_begin(gslb_req_t *rq, MDB_txn **txn);
void gslb_req_read_end(gslb_req_t *rq);

/** Actor for audit records: "api@<client>". */
void gslb_req_actor(const gslb_req_t *rq, char *out, size_t cap);

/** Audit retention (api.audit_retention), run in the write txn that appended an
 *  audit record: drops records beyond the current max_entries / max_age, at most
 *  GSLB_AUDIT_PRUNE_BATCH per call. 0 or a store error. */
int gslb_req_audit_prune(gslb_req_t *rq, MDB_txn *txn);
#define GSLB_AUDIT_PRUNE_BATCH 1000

/** Copy node identity from the current settings (under the settings lock). */
void gslb_req_identity(const gslb_req_t *rq, char *node_id, char *region, size_t cap);

/** true when /api/v1/ready answers 200: a read snapshot opens, the server's
 *  ready hook agrees and writes do not fail for lack of space
 *  (gslb_env_storage_full); else the reason. reader may be NULL (not ready). */
bool gslb_api_ready(gslb_api_t *api, gslb_reader_t *reader, char *reason, size_t cap);

/** Constant-time comparison of two secrets of any lengths. */
bool gslb_secret_equal(const char *a, const char *b);

/* ---- start of the two CivetWeb contexts (http.c, metrics.c); api.c stops them -- */
int gslb_http_start(gslb_api_t *api, gslb_errbuf_t *eb);
int gslb_metrics_start(gslb_api_t *api, gslb_errbuf_t *eb);

/** Shared by both contexts: "host:port[s]" for CivetWeb's listening_ports. */
int gslb_http_listen_spec(const gslb_hostport_t *hp, bool tls, char *out, size_t cap,
                          gslb_errbuf_t *eb);
/** Callbacks both contexts use: per-thread LMDB reader (init_thread/exit_thread,
 *  fetched with mg_get_thread_pointer), CivetWeb's log lines into gslb_log and
 *  the per-client connection limit (init_connection: conn_limit.h) of the
 *  API's http_limit, or metrics_limit when metrics is set. */
void gslb_http_common_callbacks(struct mg_callbacks *cb, bool metrics);
/** true on a worker thread of one of api's CivetWeb contexts. */
bool gslb_http_on_worker(const gslb_api_t *api);

/* CivetWeb settings of the two contexts (docs/api.md, "Threads and limits"). */
#define GSLB_API_THREADS 16
#define GSLB_API_PER_CLIENT 4 /* connections in API workers per client address */
#define GSLB_METRICS_THREADS 4
#define GSLB_METRICS_PER_CLIENT 2
#define GSLB_HTTP_HEAD_TIMEOUT_MS                                                                  \
    5000                                 /* whole request head; also each body/response read/write \
                                          */
#define GSLB_HTTP_BODY_DEADLINE_MS 10000 /* whole request body */
/** After CivetWeb failed to listen on hp: the OS reason ("Address already in
 *  use") found by trying to bind the address ourselves, else fallback. */
const char *gslb_http_bind_problem(const gslb_hostport_t *hp, const char *fallback, char *buf,
                                   size_t cap);
/** CivetWeb's bound port of the first listener, 0 on error. */
uint16_t gslb_http_bound_port(const struct mg_context *ctx);
/** Send a complete response with a body of known length. */
void gslb_http_send(struct mg_connection *conn, int status, const char *content_type,
                    const char *body, size_t len, const char *extra_header);
