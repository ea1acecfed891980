/*
 * api.c - lifetime of the API object: start both listeners, swap the settings
 * on reload, stop. See api.h.
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
}

void gslb_api_set_settings(gslb_api_t *api, const gslb_api_settings_t *set)
{
    gslb_acl_t acl, old;
    gslb_errbuf_t eb;
    /* config.c validates the list already; on a surprise keep the previous ACL. */
    bool acl_ok = build_acl(set, api->api_enabled, &acl, &eb) == 0;
    if (!acl_ok)
        gslb_error("api: %s; keeping the previous allowed_networks", eb.msg);

    pthread_rwlock_wrlock(&api->settings_lock);
    copy_reloadable(api, set);
    old = api->acl;
    if (acl_ok)
        api->acl = acl;
    pthread_rwlock_unlock(&api->settings_lock);

    if (acl_ok)
        gslb_acl_free(&old);
}

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
    int rc = init_state(api, env, set, hooks, eb);
    if (rc == 0)
        rc = init_civetweb(api, eb);
    if (rc != 0) {
        gslb_acl_free(&api->acl);
        pthread_rwlock_destroy(&api->settings_lock);
        OPENSSL_cleanse(api->token, sizeof(api->token));
        OPENSSL_cleanse(api->cluster_token, sizeof(api->cluster_token));
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
    pthread_rwlock_destroy(&api->settings_lock);
    OPENSSL_cleanse(api->token, sizeof(api->token));
    OPENSSL_cleanse(api->cluster_token, sizeof(api->cluster_token));
    free(api);
    mg_exit_library();
}
