/*
 * test_server_settings.c - the settings gslb-overwatch hands to the modules
 * below it, filled from a loaded configuration: the API's gslb_api_settings_t
 * (server/api_settings.h), field by field, and the token rules (the admin token is
 * api.token only, never an agent token; the key export's secret is
 * overwatch.dnssec.key_sync.token); the key sync's gslb_keysync_settings_t
 * (server/keysync_glue.h), and the key sync's state as the API's DNSSEC hooks
 * show it, against a real poller, a real LMDB and a peer that refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_tmpstore.h"

#include "api_settings.h"
#include "config.h"
#include "keysync_glue.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void load_ok(const char *yaml, gslb_config_t *cfg)
{
    gslb_errbuf_t eb = {{0}};
    if (gslb_config_load_string("t.yaml", yaml, cfg, &eb) != 0)
        fail_msg("%s", eb.msg);
}

static const char FULL[] =
    "mode: overwatch\n"
    "overwatch:\n"
    "  identity: {node_id: ow-1, region: us-east}\n"
    "  agent_tokens: {webapp: agent-secret, api: agent-api-secret}\n"
    "  dnssec:\n"
    "    key_sync:\n"
    "      peers: [\"https://192.0.2.10:9090\", \"https://ow-2.example:9090\"]\n"
    "      allow_plaintext_export: true\n"
    "      token: cluster-secret\n"
    "api:\n"
    "  address: \"127.0.0.1:9443\"\n"
    "  local_address: \"127.0.0.1:9080\"\n"
    "  token: api-secret\n"
    "  allowed_networks: [10.0.0.0/8, \"2001:db8::/32\"]\n"
    "  tls_cert: /etc/opengslb/cert.pem\n"
    "  tls_key: /etc/opengslb/key.pem\n"
    "metrics: {enabled: false, address: \"127.0.0.1:9100\"}\n";

static void test_api_settings_every_field(void **state)
{
    (void)state;
    gslb_config_t cfg;
    load_ok(FULL, &cfg);
    gslb_api_settings_t set;
    memset(&set, 0xa5, sizeof(set)); /* the fill must not leave anything behind */
    gslb_api_settings_from_config(&cfg, &set);

    assert_true(set.api_enabled);
    assert_string_equal(set.api_addr.host, "127.0.0.1");
    assert_int_equal(set.api_addr.port, 9443);
    assert_true(set.local_enabled);
    assert_string_equal(set.local_addr.host, "127.0.0.1");
    assert_int_equal(set.local_addr.port, 9080);
    assert_string_equal(set.tls_cert, "/etc/opengslb/cert.pem");
    assert_string_equal(set.tls_key, "/etc/opengslb/key.pem");
    assert_false(set.metrics_enabled);
    assert_string_equal(set.metrics_addr.host, "127.0.0.1");
    assert_int_equal(set.metrics_addr.port, 9100);

    assert_string_equal(set.node_id, "ow-1");
    assert_string_equal(set.region, "us-east");
    assert_string_equal(set.token, "api-secret");
    assert_string_equal(set.cluster_token, "cluster-secret");
    assert_true(set.allow_plaintext_export);
    assert_int_equal(set.allowed_net_count, 2);
    assert_string_equal(set.allowed_networks[0], "10.0.0.0/8");
    assert_string_equal(set.allowed_networks[1], "2001:db8::/32");
    assert_int_equal(set.peer_count, 2);
    assert_string_equal(set.peers[0], "https://192.0.2.10:9090");
    assert_string_equal(set.peers[1], "https://ow-2.example:9090");

    gslb_api_settings_wipe(&set);
    assert_string_equal(set.token, "");
    assert_string_equal(set.cluster_token, "");
    gslb_config_free(&cfg);
}

static void test_api_settings_defaults(void **state)
{
    (void)state;
    gslb_config_t cfg;
    load_ok("mode: overwatch\n", &cfg);
    gslb_api_settings_t set;
    gslb_api_settings_from_config(&cfg, &set);
    assert_true(set.api_enabled);
    assert_string_equal(set.api_addr.host, "0.0.0.0");
    assert_int_equal(set.api_addr.port, 9090);
    assert_false(set.local_enabled);
    assert_string_equal(set.tls_cert, "");
    assert_string_equal(set.tls_key, "");
    assert_true(set.metrics_enabled);
    assert_int_equal(set.metrics_addr.port, 9091);
    assert_string_equal(set.node_id, cfg.restart.node_id);
    assert_string_equal(set.region, "");
    assert_string_equal(set.token, "");         /* no token: mutating routes refused */
    assert_string_equal(set.cluster_token, ""); /* no cluster secret: export refused */
    assert_false(set.allow_plaintext_export);
    assert_int_equal(set.allowed_net_count, 2); /* the loader's loopback default */
    assert_string_equal(set.allowed_networks[0], "127.0.0.0/8");
    assert_int_equal(set.peer_count, 0);
    gslb_config_free(&cfg);
}

/* Issue 16, item 3: the agent token named "api" was the admin token by default. */
static void test_api_token_never_an_agent_token(void **state)
{
    (void)state;
    gslb_config_t cfg;
    load_ok("mode: overwatch\n"
            "overwatch:\n"
            "  agent_tokens: {webapp: agent-secret, api: agent-api-secret}\n",
            &cfg);
    gslb_api_settings_t set;
    gslb_api_settings_from_config(&cfg, &set);
    assert_string_equal(set.token, ""); /* no fallback: mutating routes refused */
    assert_string_equal(set.cluster_token, "");
    gslb_keysync_settings_t ks;
    assert_int_equal(gslb_keysync_settings_from_config(&cfg, &ks), GSLB_OK);
    assert_string_equal(ks.token, ""); /* nor is it the poller's bearer token */
    gslb_keysync_settings_release(&ks);
    gslb_config_free(&cfg);

    load_ok("mode: overwatch\n"
            "overwatch:\n"
            "  agent_tokens: {webapp: agent-secret}\n",
            &cfg);
    gslb_api_settings_from_config(&cfg, &set);
    assert_string_equal(set.token, ""); /* another agent's token is never the API's */
    gslb_config_free(&cfg);
}

/* ---- key sync ----------------------------------------------------------------------- */

static void test_keysync_settings_every_field(void **state)
{
    (void)state;
    gslb_config_t cfg;
    load_ok("mode: overwatch\n"
            "overwatch:\n"
            "  identity: {node_id: ow-2}\n"
            "  agent_tokens: {api: agent-api-secret}\n"
            "  dnssec:\n"
            "    algorithm: 15\n"
            "    key_sync:\n"
            "      peers: [\"https://192.0.2.10:9090\", \"https://ow-3.example:9443/\"]\n"
            "      poll_interval: 5m\n"
            "      timeout: 7s\n"
            "      ca_file: \"" __FILE__ "\"\n" /* any readable file */
            "      tls_verify: false\n"
            "      token: cluster-secret\n"
            "dns:\n"
            "  zones: [Example.COM., gslb.example.net]\n"
            "api: {token: api-secret}\n",
            &cfg);
    gslb_keysync_settings_t set;
    memset(&set, 0xa5, sizeof(set));
    assert_int_equal(gslb_keysync_settings_from_config(&cfg, &set), GSLB_OK);
    assert_true(set.enabled);
    assert_int_equal(set.algorithm, 15);
    assert_string_equal(set.node_id, "ow-2");
    assert_string_equal(set.token, "cluster-secret"); /* the cluster secret, not api.token */
    assert_int_equal(set.peer_count, 2);
    assert_string_equal(set.peers[0], "https://192.0.2.10:9090");
    assert_string_equal(set.peers[1], "https://ow-3.example:9443/");
    assert_int_equal(set.zone_count, 2);
    assert_string_equal(set.zones[0], "example.com"); /* normalized */
    assert_string_equal(set.zones[1], "gslb.example.net");
    assert_int_equal(set.poll_ms, 300000);
    assert_int_equal(set.timeout_ms, 7000);
    assert_string_equal(set.ca_file, __FILE__);
    assert_false(set.tls_verify);
    gslb_keysync_settings_release(&set);
    assert_null(set.zones);
    assert_int_equal(set.zone_count, 0);
    assert_string_equal(set.token, "");
    gslb_config_free(&cfg);

    /* never an agent token */
    load_ok("mode: overwatch\n"
            "overwatch:\n"
            "  agent_tokens: {api: agent-api-secret}\n"
            "  dnssec: {enabled: false}\n",
            &cfg);
    assert_int_equal(gslb_keysync_settings_from_config(&cfg, &set), GSLB_OK);
    assert_false(set.enabled);
    assert_string_equal(set.token, "");
    assert_int_equal(set.peer_count, 0);
    assert_int_equal(set.zone_count, 0);
    assert_true(set.tls_verify);
    gslb_keysync_settings_release(&set);
    gslb_config_free(&cfg);
}

/* A loopback TCP port nothing listens on (bound, then closed). */
static uint16_t refused_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static void assert_same_state(const gslb_keysync_state_t *k, const gslb_api_dnssec_sync_t *a)
{
    assert_int_equal(a->dnssec_enabled, k->dnssec_enabled);
    assert_int_equal(a->enabled, k->enabled);
    assert_int_equal(a->peer_count, k->peer_count);
    assert_int_equal(a->last_sync, k->last_sync);
    assert_int_equal(a->next_sync, k->next_sync);
    assert_int_equal(a->last_success, k->last_success);
    assert_int_equal(a->rounds, k->rounds);
    assert_string_equal(a->last_error, k->last_error);
}

static void test_keysync_state_through_api_hooks(void **state)
{
    (void)state;
    gslb_runtime_t rt;
    memset(&rt, 0, sizeof(rt));
    char dir[64];
    assert_int_equal(gslb_test_env_open(&rt.env, dir, sizeof(dir), "ksglue"), 0);
    rt.env_open = true;

    /* no poller: nothing to sync, an all-zero state */
    gslb_api_dnssec_sync_t api;
    memset(&api, 0xa5, sizeof(api));
    assert_int_equal(gslb_keysync_api_ops.sync_now(&rt, &api), GSLB_ENOENT);
    assert_false(api.enabled);
    assert_int_equal(api.rounds, 0);
    assert_string_equal(api.last_error, "");

    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "mode: overwatch\n"
             "overwatch:\n"
             "  dnssec:\n"
             "    key_sync: {peers: [\"http://127.0.0.1:%u\"], timeout: 2s, token: c-secret}\n",
             refused_port());
    gslb_config_t cfg;
    load_ok(yaml, &cfg);
    rt.cfg = &cfg;
    gslb_errbuf_t eb = {{0}};
    if (gslb_runtime_start_keysync(&rt, &eb) != GSLB_OK)
        fail_msg("%s", eb.msg);
    assert_non_null(rt.keysync);

    /* a round against a peer that refuses: run, failed, the peer named */
    assert_int_equal(gslb_keysync_api_ops.sync_now(&rt, &api), GSLB_OK);
    gslb_keysync_state_t k;
    gslb_keysync_state(rt.keysync, &k);
    assert_true(k.dnssec_enabled);
    assert_true(k.enabled);
    assert_int_equal(k.peer_count, 1);
    assert_true(k.rounds >= 1);
    assert_false(k.last_success);
    assert_int_equal(k.last_sync, 0);
    assert_true(k.next_sync > 0);
    assert_non_null(strstr(k.last_error, "http://127.0.0.1:"));
    assert_same_state(&k, &api);
    memset(&api, 0xa5, sizeof(api));
    gslb_keysync_api_ops.sync_state(&rt, &api);
    assert_same_state(&k, &api);

    gslb_api_stats_t *st = calloc(1, sizeof(*st));
    assert_non_null(st);
    st->dnssec_sync_success = true;
    gslb_keysync_fill_stats(&rt, st);
    assert_false(st->dnssec_sync_success);
    assert_int_equal(st->dnssec_last_sync, 0);
    free(st);

    gslb_runtime_stop_keysync(&rt);
    assert_null(rt.keysync);
    gslb_config_free(&cfg);
    gslb_env_close(&rt.env);
    assert_int_equal(gslb_test_rmtree(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_settings_every_field),
        cmocka_unit_test(test_api_settings_defaults),
        cmocka_unit_test(test_api_token_never_an_agent_token),
        cmocka_unit_test(test_keysync_settings_every_field),
        cmocka_unit_test(test_keysync_state_through_api_hooks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
