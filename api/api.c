/*
 * api.c - lifetime of the API object: start both listeners, swap the config on
 * reload, stop. See api.h.
 */
#include "http.h"

#include "gslb_log.h"
#include "gslb_time.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The bearer token for mutating routes: api.token, else agent_tokens "api". */
static void resolve_token(const gslb_config_t *cfg, char *out, size_t cap)
{
    out[0] = '\0';
    if (cfg->api_token[0]) {
        snprintf(out, cap, "%s", cfg->api_token);
        return;
    }
    for (size_t i = 0; i < cfg->token_count; i++) {
        if (strcmp(cfg->tokens[i].name, "api") == 0) {
            snprintf(out, cap, "%s", cfg->tokens[i].value);
            return;
        }
    }
}

static bool hostport_equal(const gslb_hostport_t *a, const gslb_hostport_t *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static void log_restart_only_changes(const gslb_api_t *api, const gslb_config_t *cfg)
{
    if (api->api_enabled != cfg->api_enabled || !hostport_equal(&api->api_addr, &cfg->api_addr) ||
        api->local_enabled != cfg->api_local_enabled ||
        !hostport_equal(&api->local_addr, &cfg->api_local_addr))
        gslb_warn("api: api.enabled/api.address/api.local_address changed: requires restart "
                  "(ignored)");
    if (api->metrics_enabled != cfg->metrics_enabled ||
        !hostport_equal(&api->metrics_addr, &cfg->metrics_addr))
        gslb_warn("api: metrics.enabled/metrics.address changed: requires restart (ignored)");
    if (strcmp(api->tls_cert, cfg->tls_cert) != 0 || strcmp(api->tls_key, cfg->tls_key) != 0)
        gslb_warn("api: api.tls_cert/api.tls_key changed: requires restart (ignored)");
}

/* api.allowed_networks plus the key_sync peers' addresses (resolved now). */
static int build_acl(const gslb_config_t *cfg, gslb_acl_t *acl, gslb_errbuf_t *eb)
{
    int rc =
        gslb_acl_build(acl, (const char(*)[64])cfg->allowed_networks, cfg->allowed_net_count, eb);
    if (rc == 0 && cfg->api_enabled)
        rc = gslb_acl_add_peers(acl, (const char(*)[512])cfg->peers, cfg->peer_count, eb);
    if (rc != 0) {
        gslb_acl_free(acl);
        return rc;
    }
    if (cfg->api_enabled && acl->count == 0)
        gslb_warn("api: api.allowed_networks is empty and no key_sync peer is admitted: every "
                  "API request is refused");
    return 0;
}

void gslb_api_set_config(gslb_api_t *api, const gslb_config_t *cfg)
{
    gslb_acl_t acl, old;
    gslb_errbuf_t eb;
    /* config.c validates the list already; on a surprise keep the previous ACL. */
    bool acl_ok = build_acl(cfg, &acl, &eb) == 0;
    if (!acl_ok)
        gslb_error("api: %s; keeping the previous allowed_networks", eb.msg);
    char token[sizeof(api->token)];
    resolve_token(cfg, token, sizeof(token));
    log_restart_only_changes(api, cfg);

    pthread_rwlock_wrlock(&api->cfg_lock);
    api->cfg = cfg;
    old = api->acl;
    if (acl_ok)
        api->acl = acl;
    memcpy(api->token, token, sizeof(token));
    pthread_rwlock_unlock(&api->cfg_lock);

    if (acl_ok)
        gslb_acl_free(&old);
    OPENSSL_cleanse(token, sizeof(token));
}

static int init_state(gslb_api_t *api, gslb_env_t *env, const gslb_config_t *cfg,
                      const gslb_api_hooks_t *hooks, gslb_errbuf_t *eb)
{
    api->env = env;
    if (hooks)
        api->hooks = *hooks;
    api->start_time = gslb_wall_s();
    api->cfg = cfg;
    api->api_addr = cfg->api_addr;
    api->metrics_addr = cfg->metrics_addr;
    api->api_enabled = cfg->api_enabled;
    api->metrics_enabled = cfg->metrics_enabled;
    api->local_addr = cfg->api_local_addr;
    api->local_enabled = cfg->api_local_enabled;
    snprintf(api->tls_cert, sizeof(api->tls_cert), "%s", cfg->tls_cert);
    snprintf(api->tls_key, sizeof(api->tls_key), "%s", cfg->tls_key);
    if ((api->tls_cert[0] != '\0') != (api->tls_key[0] != '\0'))
        return gslb_errf(eb, GSLB_ECONFIG, "api: tls_cert and tls_key must be set together");
    api->tls = api->tls_cert[0] != '\0';
    int rc = build_acl(cfg, &api->acl, eb);
    if (rc != 0)
        return rc;
    resolve_token(cfg, api->token, sizeof(api->token));
    if (cfg->api_enabled && !api->token[0])
        gslb_warn("api: no api.token (or agent_tokens.api) configured: mutating routes are "
                  "refused");
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

int gslb_api_start(gslb_env_t *env, const gslb_config_t *cfg, const gslb_api_hooks_t *hooks,
                   gslb_api_t **out, gslb_errbuf_t *eb)
{
    *out = NULL;
    gslb_api_t *api = calloc(1, sizeof(*api));
    if (!api)
        return gslb_errf(eb, GSLB_ENOMEM, "api: out of memory");
    pthread_rwlock_init(&api->cfg_lock, NULL);
    int rc = init_state(api, env, cfg, hooks, eb);
    if (rc == 0)
        rc = init_civetweb(api, eb);
    if (rc != 0) {
        gslb_acl_free(&api->acl);
        pthread_rwlock_destroy(&api->cfg_lock);
        OPENSSL_cleanse(api->token, sizeof(api->token));
        free(api);
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

typedef struct stopper {
    struct mg_context *ctx;
    uint16_t port;
    const gslb_hostport_t *addr;
    atomic_bool done;
    pthread_t thread;
    bool started;
} stopper_t;

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

static void stop_listeners(gslb_api_t *api)
{
    stopper_t s[2] = {{.ctx = api->http, .port = api->http_port, .addr = &api->api_addr},
                      {.ctx = api->metrics, .port = api->metrics_port, .addr = &api->metrics_addr}};
    for (size_t i = 0; i < 2; i++) {
        atomic_init(&s[i].done, s[i].ctx == NULL);
        if (s[i].ctx)
            s[i].started = pthread_create(&s[i].thread, NULL, stop_thread, &s[i]) == 0;
        if (s[i].ctx && !s[i].started)
            stop_thread(&s[i]);
    }
    for (int round = 0; round < 200 && !(atomic_load(&s[0].done) && atomic_load(&s[1].done));
         round++) {
        for (size_t i = 0; i < 2; i++) {
            if (!atomic_load(&s[i].done) && s[i].port)
                poke(&s[i]);
        }
        usleep(20 * 1000);
    }
    for (size_t i = 0; i < 2; i++) {
        if (s[i].started)
            pthread_join(s[i].thread, NULL);
    }
    api->http = NULL;
    api->metrics = NULL;
}

void gslb_api_stop(gslb_api_t *api)
{
    if (!api)
        return;
    stop_listeners(api);
    gslb_acl_free(&api->acl);
    pthread_rwlock_destroy(&api->cfg_lock);
    OPENSSL_cleanse(api->token, sizeof(api->token));
    free(api);
    mg_exit_library();
}
