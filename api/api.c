/*
 * api.c - lifetime of the API object: start both listeners, swap the settings
 * on reload, stop. See api.h.
 */
#include "http.h"

#include "gslb_log.h"
#include "gslb_time.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* api.allowed_networks plus the key_sync peers' addresses (resolved now). */
static int build_acl(const gslb_api_settings_t *set, bool api_enabled, gslb_acl_t *acl,
                     gslb_errbuf_t *eb)
{
    int rc = gslb_acl_build(acl, set->allowed_networks, set->allowed_net_count, eb);
    if (rc == 0 && api_enabled)
        rc = gslb_acl_add_peers(acl, set->peers, set->peer_count, eb);
    if (rc != 0) {
        gslb_acl_free(acl);
        return rc;
    }
    if (api_enabled && acl->count == 0)
        gslb_warn("api: api.allowed_networks is empty and no key_sync peer is admitted: every "
                  "API request is refused");
    return 0;
}

/* The settings a reload replaces (lock held for writing, or not shared yet). */
static void copy_reloadable(gslb_api_t *api, const gslb_api_settings_t *set)
{
    snprintf(api->node_id, sizeof(api->node_id), "%s", set->node_id);
    snprintf(api->region, sizeof(api->region), "%s", set->region);
    OPENSSL_cleanse(api->token, sizeof(api->token)); /* no tail of the old token stays */
    snprintf(api->token, sizeof(api->token), "%s", set->token);
    OPENSSL_cleanse(api->cluster_token, sizeof(api->cluster_token));
    snprintf(api->cluster_token, sizeof(api->cluster_token), "%s", set->cluster_token);
    api->allow_plaintext_export = set->allow_plaintext_export;
    api->audit_max_age_ms = set->audit_max_age_ms;
    api->audit_max_entries = set->audit_max_entries;
}

static char *civetweb_acl(const gslb_acl_t *acl)
{
    return gslb_acl_civetweb_spec(acl, mg_check_feature(MG_FEATURES_IPV6) != 0);
}

/* ---- restart of the API listener when the acl changes ------------------------------ */

typedef struct stopper {
    struct mg_context *ctx;
    uint16_t port;
    const gslb_hostport_t *addr;
    atomic_bool done;
    pthread_t thread;
    bool started;
} stopper_t;

static void stop_contexts(stopper_t *s, size_t n, const uint16_t *ports, size_t nports);

/* CivetWeb applies access_control_list at accept but reads it only at start: a
 * reload that changes the admitted addresses restarts the API context on the
 * same ports (a moment without API; DNS is not affected). On its own thread: the
 * reload may come from an API worker (POST /api/v1/reload), which mg_stop waits for. */
static void *restart_http(void *arg)
{
    gslb_api_t *api = arg;
    gslb_errbuf_t eb = {{0}};
    int rc = GSLB_OK;
    pthread_mutex_lock(&api->restart_lock); /* never taken by an API worker */
    if (!api->stopping) {
        stopper_t s = {.ctx = api->http, .port = api->http_port, .addr = &api->api_addr};
        const uint16_t ports[] = {api->http_port, api->local_enabled ? api->local_addr.port : 0};
        if (s.ctx)
            stop_contexts(&s, 1, ports, 2);
        api->http = NULL;
        rc = GSLB_EIO;
        for (int i = 0; i < 50 && rc != GSLB_OK && !api->stopping; i++) {
            rc = gslb_http_start(api, &eb);
            if (rc != GSLB_OK)
                usleep(100 * 1000); /* the port may linger a moment */
        }
    }
    pthread_mutex_unlock(&api->restart_lock);
    if (rc != GSLB_OK)
        gslb_error("api: cannot restart the listener for the new allowed_networks/key_sync "
                   "peers: %s; the API stays down until gslb-overwatch restarts",
                   eb.msg);
    else
        gslb_info("api: listener restarted: allowed_networks/key_sync peers changed (applied "
                  "when a connection is accepted)");
    atomic_fetch_add(&api->restarts_done, 1);
    atomic_fetch_sub(&api->restarts_running, 1);
    return NULL;
}

/* Wait (outside API workers, at most 5 s) until the restart asked for has run, so
 * a reload's "applied" means the listener admits the new set. The bound avoids a
 * deadlock with an API worker that waits for the caller (a concurrent reload). */
static void wait_for_restart(gslb_api_t *api, unsigned ticket)
{
    if (gslb_http_on_worker(api))
        return;
    for (int i = 0; i < 500 && atomic_load(&api->restarts_done) < ticket; i++)
        usleep(10 * 1000);
}

static void schedule_restart(gslb_api_t *api)
{
    unsigned ticket = atomic_fetch_add(&api->restarts_asked, 1) + 1;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&api->restarts_running, 1);
    if (pthread_create(&t, &attr, restart_http, api) != 0) {
        atomic_fetch_add(&api->restarts_done, 1);
        atomic_fetch_sub(&api->restarts_running, 1);
        gslb_error("api: cannot start a thread to apply the new allowed_networks at accept; "
                   "they apply per request (403) until gslb-overwatch restarts");
    }
    pthread_attr_destroy(&attr);
    wait_for_restart(api, ticket);
}

void gslb_api_set_settings(gslb_api_t *api, const gslb_api_settings_t *set)
{
    gslb_acl_t acl, old;
    gslb_errbuf_t eb;
    /* config.c validates the list already; on a surprise keep the previous ACL. */
    bool acl_ok = build_acl(set, api->api_enabled, &acl, &eb) == 0;
    if (!acl_ok)
        gslb_error("api: %s; keeping the previous allowed_networks", eb.msg);
    char *spec = acl_ok ? civetweb_acl(&acl) : NULL;
    if (acl_ok && !spec) {
        gslb_error("api: out of memory; keeping the previous allowed_networks");
        gslb_acl_free(&acl);
        acl_ok = false;
    }

    pthread_rwlock_wrlock(&api->settings_lock);
    copy_reloadable(api, set);
    old = api->acl;
    bool spec_changed = acl_ok && strcmp(spec, api->acl_spec) != 0;
    if (acl_ok) {
        api->acl = acl;
        free(api->acl_spec);
        api->acl_spec = spec;
    }
    pthread_rwlock_unlock(&api->settings_lock);

    if (acl_ok)
        gslb_acl_free(&old);
    if (spec_changed && api->api_enabled)
        schedule_restart(api);
}

static void free_state(gslb_api_t *api);

static int init_state(gslb_api_t *api, gslb_env_t *env, const gslb_api_settings_t *set,
                      const gslb_api_hooks_t *hooks, gslb_errbuf_t *eb)
{
    api->env = env;
    if (hooks)
        api->hooks = *hooks;
    api->start_time = gslb_wall_s();
    api->api_addr = set->api_addr;
    api->metrics_addr = set->metrics_addr;
    api->api_enabled = set->api_enabled;
    api->metrics_enabled = set->metrics_enabled;
    api->local_addr = set->local_addr;
    api->local_enabled = set->local_enabled;
    snprintf(api->tls_cert, sizeof(api->tls_cert), "%s", set->tls_cert);
    snprintf(api->tls_key, sizeof(api->tls_key), "%s", set->tls_key);
    if ((api->tls_cert[0] != '\0') != (api->tls_key[0] != '\0'))
        return gslb_errf(eb, GSLB_ECONFIG, "api: tls_cert and tls_key must be set together");
    api->tls = api->tls_cert[0] != '\0';
    int rc = build_acl(set, api->api_enabled, &api->acl, eb);
    if (rc != 0)
        return rc;
    api->acl_spec = civetweb_acl(&api->acl);
    if (!api->acl_spec)
        return gslb_errf(eb, GSLB_ENOMEM, "api: out of memory");
    copy_reloadable(api, set);
    if (api->api_enabled && !api->token[0])
        gslb_warn("api: no api.token configured: mutating routes are refused with 403 "
                  "(overrides, reload; an agent token is never accepted there)");
    return 0;
}

static int init_civetweb(const gslb_api_t *api, gslb_errbuf_t *eb)
{
    unsigned want = api->tls && api->api_enabled ? MG_FEATURES_TLS : 0;
    unsigned got = mg_init_library(want);
    if (want && !(got & MG_FEATURES_TLS)) {
        mg_exit_library();
        return gslb_errf(eb, GSLB_ENOTSUP,
                         "api TLS: CivetWeb could not load OpenSSL through \"libssl.so\" "
                         "(the OpenGSLB TLS shim or libssl-dev is missing; see docs/install.md, "
                         "\"TLS shim\")");
    }
    return 0;
}

int gslb_api_start(gslb_env_t *env, const gslb_api_settings_t *set, const gslb_api_hooks_t *hooks,
                   gslb_api_t **out, gslb_errbuf_t *eb)
{
    *out = NULL;
    gslb_api_t *api = calloc(1, sizeof(*api));
    if (!api)
        return gslb_errf(eb, GSLB_ENOMEM, "api: out of memory");
    pthread_rwlock_init(&api->settings_lock, NULL);
    pthread_mutex_init(&api->restart_lock, NULL);
    atomic_init(&api->restarts_running, 0);
    atomic_init(&api->restarts_asked, 0);
    atomic_init(&api->restarts_done, 0);
    gslb_conn_limit_init(&api->http_limit, "api", GSLB_API_PER_CLIENT);
    gslb_conn_limit_init(&api->metrics_limit, "metrics", GSLB_METRICS_PER_CLIENT);
    int rc = init_state(api, env, set, hooks, eb);
    if (rc == 0)
        rc = init_civetweb(api, eb);
    if (rc != 0) {
        free_state(api);
        return rc;
    }
    if (api->api_enabled)
        rc = gslb_http_start(api, eb);
    if (rc == 0 && api->metrics_enabled)
        rc = gslb_metrics_start(api, eb);
    if (rc != 0) {
        gslb_api_stop(api);
        return rc;
    }
    *out = api;
    return 0;
}

uint16_t gslb_api_port(const gslb_api_t *api)
{
    return api ? api->http_port : 0;
}

uint16_t gslb_api_metrics_port(const gslb_api_t *api)
{
    return api ? api->metrics_port : 0;
}

static void *stop_thread(void *arg)
{
    stopper_t *s = arg;
    mg_stop(s->ctx);
    atomic_store(&s->done, true);
    return NULL;
}

/* A connection wakes CivetWeb's accept loop, which otherwise notices the stop
 * flag only at its next poll timeout (about 2 s). */
static void poke(const stopper_t *s)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(s->port)};
    if (inet_pton(AF_INET, s->addr->host, &sin.sin_addr) != 1 || sin.sin_addr.s_addr == 0)
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    (void)connect(fd, (struct sockaddr *)&sin, sizeof(sin));
    close(fd);
}

/* A CivetWeb worker waiting for a request on an open connection notices the
 * stop only at its next poll timeout (up to 2 s): an idle keep-alive or
 * half-sent request from a client, a load balancer's check or a scraper held
 * every stop for that long. gslb_conn_wake() ends that wait at once. */
/* Stop n contexts at once (each on its own thread, poked awake); the accepted
 * connections on ports[] are woken so that no worker waits for an idle client. */
static void stop_contexts(stopper_t *s, size_t n, const uint16_t *ports, size_t nports)
{
    for (size_t i = 0; i < n; i++) {
        atomic_init(&s[i].done, s[i].ctx == NULL);
        if (s[i].ctx)
            s[i].started = pthread_create(&s[i].thread, NULL, stop_thread, &s[i]) == 0;
        if (s[i].ctx && !s[i].started)
            stop_thread(&s[i]);
    }
    for (int round = 0; round < 200; round++) {
        bool all_done = true;
        for (size_t i = 0; i < n; i++) {
            if (!atomic_load(&s[i].done) && s[i].port)
                poke(&s[i]);
            all_done = all_done && atomic_load(&s[i].done);
        }
        if (all_done)
            break;
        gslb_conn_wake(ports, nports);
        usleep(round == 0 ? 2000 : 20 * 1000);
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i].started)
            pthread_join(s[i].thread, NULL);
    }
}

static void stop_listeners(gslb_api_t *api)
{
    /* no restart may start a context behind our back, and a running one ends first */
    pthread_mutex_lock(&api->restart_lock);
    api->stopping = true;
    pthread_mutex_unlock(&api->restart_lock);
    while (atomic_load(&api->restarts_running) > 0)
        usleep(10 * 1000);
    const uint16_t ports[] = {api->http_port, api->metrics_port,
                              api->local_enabled ? api->local_addr.port : 0};
    stopper_t s[2] = {{.ctx = api->http, .port = api->http_port, .addr = &api->api_addr},
                      {.ctx = api->metrics, .port = api->metrics_port, .addr = &api->metrics_addr}};
    stop_contexts(s, 2, ports, sizeof(ports) / sizeof(ports[0]));
    api->http = NULL;
    api->metrics = NULL;
}

static void free_state(gslb_api_t *api)
{
    gslb_acl_free(&api->acl);
    free(api->acl_spec);
    pthread_rwlock_destroy(&api->settings_lock);
    pthread_mutex_destroy(&api->restart_lock);
    OPENSSL_cleanse(api->token, sizeof(api->token));
    OPENSSL_cleanse(api->cluster_token, sizeof(api->cluster_token));
    free(api);
}

void gslb_api_stop(gslb_api_t *api)
{
    if (!api)
        return;
    stop_listeners(api);
    free_state(api);
    mg_exit_library();
}
