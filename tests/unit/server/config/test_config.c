/*
 * test_config.c - the overwatch configuration (config.h): the seed guide's
 * overwatch.yaml files, the documented example, the embedded demo config,
 * defaults, every validation error with its exact file:line:col and key, and
 * gslb_config_apply_to_store() against a real LMDB environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_tmpstore.h"

#include "answers.h"
#include "config.h"
#include "store.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY32_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY16_B64 "AAECAwQFBgcICQoLDA0ODw=="

static void set_seed_env(const char *gossip_key)
{
    setenv("WEBAPP_TOKEN", "webapp-secret-token", 1);
    setenv("API_TOKEN", "api-secret-token", 1);
    setenv("CLUSTER_TOKEN", "cluster-secret-token", 1);
    setenv("ADMIN_TOKEN", "admin-secret-token", 1);
    setenv("GOSSIP_KEY", gossip_key, 1);
}

/* The guide's file with the one line config check asks for when peers are set:
 * overwatch.dnssec.key_sync.token (the cluster secret), added under key_sync. */
static void load_fixture_with_cluster_token(const char *name, gslb_config_t *cfg)
{
    char path[512], text[8192] = "", line[512];
    snprintf(path, sizeof(path), "%s/seed/%s", GSLB_FIXTURES, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        strncat(text, line, sizeof(text) - strlen(text) - 1);
        if (strstr(line, "key_sync:"))
            strncat(text, "      token: \"${CLUSTER_TOKEN}\"\n", sizeof(text) - strlen(text) - 1);
    }
    fclose(f);
    gslb_errbuf_t eb = {{0}};
    if (gslb_config_load_string(path, text, cfg, &eb) != 0)
        fail_msg("%s: %s", name, eb.msg);
    assert_string_equal(cfg->key_sync_token, "cluster-secret-token");
}

static void load_fixture(const char *name, gslb_config_t *cfg)
{
    char path[512];
    gslb_errbuf_t eb = {{0}};
    snprintf(path, sizeof(path), "%s/seed/%s", GSLB_FIXTURES, name);
    int rc = gslb_config_load(path, cfg, &eb);
    if (rc != 0)
        fail_msg("%s: %s", name, eb.msg);
}

static void assert_hostport(const gslb_hostport_t *hp, const char *host, uint16_t port)
{
    assert_string_equal(hp->host, host);
    assert_int_equal(hp->port, port);
}

/* Fields every seed overwatch shares (the same secrets on all nodes). */
static void assert_seed_common(const gslb_config_t *cfg)
{
    assert_string_equal(cfg->mode, "overwatch");
    assert_int_equal(cfg->token_count, 2);
    assert_string_equal(gslb_config_token(cfg, "webapp")->value, "webapp-secret-token");
    assert_string_equal(gslb_config_token(cfg, "api")->value, "api-secret-token");
    assert_null(gslb_config_token(cfg, "nope"));
    assert_hostport(&cfg->restart.gossip_bind, "0.0.0.0", 7946);
    assert_int_equal(cfg->gossip_key_len, 32);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(cfg->gossip_key[i], i);
    assert_true(cfg->dnssec_enabled);
    assert_int_equal(cfg->dnssec_algorithm, 13);
    assert_int_equal(cfg->key_sync_poll_ms, 3600000);
    assert_int_equal(cfg->key_sync_timeout_ms, 30000);
    /* no api.token: the agent token named "api" is never the admin token (issue 16) */
    assert_string_equal(cfg->api_token, "");
    assert_true(cfg->restart.api_enabled);
    assert_hostport(&cfg->restart.api_addr, "0.0.0.0", 9090);
    assert_hostport(&cfg->restart.metrics_addr, "0.0.0.0", 9091);
    assert_int_equal(cfg->allowed_net_count, 2);
    assert_string_equal(cfg->allowed_networks[0], "127.0.0.0/8");
    assert_string_equal(cfg->allowed_networks[1], "::1/128");
    assert_int_equal(cfg->audit_max_age_ms, 30ULL * 86400000ULL); /* api.audit_retention */
    assert_int_equal(cfg->audit_max_entries, 100000);
    assert_string_equal(cfg->restart.data_dir, "/var/lib/opengslb");
    assert_int_equal(cfg->restart.map_size, (uint64_t)4 << 30);
    assert_int_equal(cfg->restart.stale_threshold_ms, 30000);
    assert_int_equal(cfg->restart.stale_remove_after_ms, 300000);
    assert_int_equal(cfg->restart.stale_deaf_percent, 100);
    assert_int_equal(cfg->restart.stale_deaf_min_agents, 2);
    assert_false(cfg->restart.validation_enabled);
    assert_int_equal(cfg->restart.validation_interval_ms, 30000);
    assert_int_equal(cfg->restart.validation_timeout_ms, 5000);
    assert_int_equal(cfg->gossip_max_skew_ms, 30000);
    assert_int_equal(cfg->region_count, 0);
    assert_int_equal(cfg->domain_count, 0);
    assert_int_equal(cfg->log_level, GSLB_LOG_INFO);
    assert_int_equal(cfg->log_format, GSLB_LOG_TEXT);
}

static void test_seed_overwatch_1(void **state)
{
    (void)state;
    set_seed_env(KEY32_B64);
    gslb_config_t cfg;
    time_t before = time(NULL);
    load_fixture("overwatch-1.yaml", &cfg);
    assert_string_equal(cfg.source, GSLB_FIXTURES "/seed/overwatch-1.yaml");
    assert_seed_common(&cfg);
    assert_string_equal(cfg.restart.node_id, "overwatch-us-east-1");
    assert_string_equal(cfg.restart.region, "us-east");
    assert_int_equal(cfg.peer_count, 0);
    assert_hostport(&cfg.restart.dns_listen, "0.0.0.0", 53);
    assert_int_equal(cfg.restart.dns_workers, 0);
    assert_int_equal(cfg.default_ttl, 60);
    assert_int_equal(cfg.restart.edns_payload, 1232);
    assert_int_equal(cfg.restart.tcp_idle_timeout_ms, 10000);
    assert_int_equal(cfg.restart.tcp_max_clients, 256);
    assert_int_equal(cfg.restart.tcp_message_timeout_ms, 2000);
    assert_int_equal(cfg.restart.tcp_max_clients_per_source, 32);
    /* the zone with every documented default */
    assert_int_equal(cfg.zone_count, 1);
    const gslb_zone_rec_t *z = &cfg.zones[0].rec;
    assert_string_equal(cfg.zones[0].name, "gslb.example.com");
    assert_string_equal(z->name, "gslb.example.com");
    assert_string_equal(z->mname, "ns1.gslb.example.com");
    assert_string_equal(z->rname, "hostmaster.gslb.example.com");
    assert_in_range(z->serial, (uint32_t)before, (uint32_t)time(NULL));
    assert_int_equal(z->refresh, 3600);
    assert_int_equal(z->retry, 600);
    assert_int_equal(z->expire, 86400);
    assert_int_equal(z->minimum, 60);
    assert_int_equal(z->soa_ttl, 3600);
    assert_int_equal(z->ns_ttl, 3600);
    assert_int_equal(z->default_ttl, 60);
    assert_int_equal(z->ns_count, 1);
    assert_string_equal(z->ns[0], "ns1.gslb.example.com");
    /* wildcard listen address: in-zone NS falls back to 127.0.0.1 */
    char buf[64];
    assert_int_equal(z->ns_addr4[0].family, AF_INET);
    assert_string_equal(inet_ntop(AF_INET, z->ns_addr4[0].bytes, buf, sizeof(buf)), "127.0.0.1");
    assert_int_equal(z->ns_addr6[0].family, 0);
    gslb_config_free(&cfg);
    assert_null(cfg.zones);
}

static void test_seed_overwatch_1_with_peers(void **state)
{
    (void)state;
    set_seed_env(KEY32_B64);
    gslb_config_t cfg;
    load_fixture_with_cluster_token("overwatch-1-peers.yaml", &cfg);
    assert_seed_common(&cfg);
    assert_string_equal(cfg.restart.node_id, "overwatch-us-east-1");
    assert_int_equal(cfg.peer_count, 2);
    assert_string_equal(cfg.peers[0], "https://overwatch-us-west-1.internal:9090");
    assert_string_equal(cfg.peers[1], "https://overwatch-eu-west-1.internal:9090");
    assert_int_equal(cfg.zone_count, 1);
    gslb_config_free(&cfg);
}

static void test_seed_overwatch_2_and_3(void **state)
{
    (void)state;
    set_seed_env(KEY32_B64);
    gslb_config_t cfg;
    load_fixture_with_cluster_token("overwatch-2.yaml", &cfg);
    assert_seed_common(&cfg);
    assert_string_equal(cfg.restart.node_id, "overwatch-us-west-1");
    assert_string_equal(cfg.restart.region, "us-west");
    assert_int_equal(cfg.peer_count, 1);
    assert_string_equal(cfg.peers[0], "https://overwatch-us-east-1.internal:9090");
    assert_int_equal(cfg.zone_count, 0); /* the guide's Step 3 files have no dns section */
    assert_hostport(&cfg.restart.dns_listen, "0.0.0.0", 53);
    gslb_config_free(&cfg);

    load_fixture_with_cluster_token("overwatch-3.yaml", &cfg);
    assert_seed_common(&cfg);
    assert_string_equal(cfg.restart.node_id, "overwatch-eu-west-1");
    assert_string_equal(cfg.restart.region, "eu-west");
    assert_int_equal(cfg.peer_count, 2);
    assert_string_equal(cfg.peers[0], "https://overwatch-us-east-1.internal:9090");
    assert_string_equal(cfg.peers[1], "https://overwatch-us-west-1.internal:9090");
    gslb_config_free(&cfg);
}

/* The guide verbatim: peers without a cluster secret fail config check, at the peers
 * key, telling what to add. */
static void test_seed_peers_need_cluster_token(void **state)
{
    (void)state;
    set_seed_env(KEY32_B64);
    static const struct {
        const char *file;
        const char *pos;
    } cases[] = {{"overwatch-2.yaml", "16:7"},
                 {"overwatch-3.yaml", "16:7"},
                 {"overwatch-1-peers.yaml", "17:7"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[512], want[700];
        gslb_config_t cfg;
        gslb_errbuf_t eb = {{0}};
        snprintf(path, sizeof(path), "%s/seed/%s", GSLB_FIXTURES, cases[i].file);
        assert_int_equal(gslb_config_load(path, &cfg, &eb), GSLB_ECONFIG);
        snprintf(want, sizeof(want),
                 "%s:%s: overwatch.dnssec.key_sync.peers: key sync peers need a cluster secret: "
                 "add overwatch.dnssec.key_sync.token",
                 path, cases[i].pos);
        if (strncmp(eb.msg, want, strlen(want)) != 0)
            fail_msg("got \"%s\", want \"%s...\"", eb.msg, want);
    }
}

static void test_seed_key_sizes_and_unset_vars(void **state)
{
    (void)state;
    char path[512];
    gslb_config_t cfg;
    gslb_errbuf_t eb;
    snprintf(path, sizeof(path), "%s/seed/overwatch-1.yaml", GSLB_FIXTURES);

    set_seed_env(KEY16_B64);
    assert_int_equal(gslb_config_load(path, &cfg, &eb), 0);
    assert_int_equal(cfg.gossip_key_len, 16);
    gslb_config_free(&cfg);

    set_seed_env("AAECAwQFBgc="); /* 8 bytes */
    assert_int_equal(gslb_config_load(path, &cfg, &eb), GSLB_ECONFIG);
    char want[768];
    snprintf(want, sizeof(want),
             "%s:12:21: overwatch.gossip.encryption_key: key decodes to 8 bytes; it must be "
             "base64 of 16, 24 or 32 bytes (AES-128/192/256)",
             path);
    assert_string_equal(eb.msg, want);

    set_seed_env(KEY32_B64);
    unsetenv("WEBAPP_TOKEN");
    assert_int_equal(gslb_config_load(path, &cfg, &eb), GSLB_ECONFIG);
    snprintf(want, sizeof(want),
             "%s:8:13: overwatch.agent_tokens.webapp: environment variable WEBAPP_TOKEN is "
             "not set",
             path);
    assert_string_equal(eb.msg, want);
    assert_null(cfg.tokens); /* freed on error */
    set_seed_env(KEY32_B64);
}

static void test_docs_example(void **state)
{
    (void)state;
    set_seed_env(KEY32_B64);
    gslb_config_t cfg;
    gslb_errbuf_t eb;
    const char *path = GSLB_FIXTURES "/../../docs/examples/overwatch.yaml";
    if (gslb_config_load(path, &cfg, &eb) != 0)
        fail_msg("%s", eb.msg);
    assert_int_equal(cfg.peer_count, 2);
    assert_int_equal(cfg.zone_count, 2);
    const gslb_zone_rec_t *z = &cfg.zones[1].rec;
    assert_string_equal(z->name, "gslb.example.com");
    assert_int_equal(z->ns_count, 3);
    char buf[64];
    assert_string_equal(inet_ntop(AF_INET, z->ns_addr4[0].bytes, buf, sizeof(buf)), "10.0.1.53");
    assert_string_equal(inet_ntop(AF_INET6, z->ns_addr6[0].bytes, buf, sizeof(buf)),
                        "2001:db8:1::53");
    assert_int_equal(z->ns_addr6[1].family, 0);
    assert_int_equal(cfg.allowed_net_count, 3);
    assert_string_equal(cfg.api_token, "admin-secret-token");
    assert_string_equal(cfg.key_sync_token, "cluster-secret-token");
    assert_string_equal(cfg.restart.user, "");
    assert_int_equal(cfg.region_count, 3);
    assert_int_equal(cfg.regions[0].server_count, 4);
    assert_true(cfg.regions[0].has_health_check);
    assert_int_equal(cfg.regions[0].health_check.expected_count, 1);
    assert_int_equal(cfg.regions[0].health_check.expected_status[0], 200);
    assert_int_equal(cfg.regions[2].server_count, 0);
    assert_int_equal(cfg.domain_count, 3);
    assert_int_equal(cfg.domains[0].ttl, 30);
    assert_int_equal(cfg.domains[1].ttl, 60);
    assert_int_equal(cfg.domains[1].policy, GSLB_POLICY_WEIGHTED);
    assert_int_equal(cfg.domains[2].unhealthy_mode, GSLB_UNHEALTHY_SERVFAIL);
    assert_string_equal(cfg.domains[2].service, "db");
    assert_ptr_equal(gslb_config_domain_by_service(&cfg, "WebApp.gslb.example.com."),
                     &cfg.domains[0]);
    assert_ptr_equal(gslb_config_domain_by_service(&cfg, "api"), &cfg.domains[1]);
    assert_null(gslb_config_domain_by_service(&cfg, "nothing"));
    gslb_config_free(&cfg);
}

static void test_loopback_fixture(void **state)
{
    (void)state;
    setenv("GSLB_TEST_DNS_PORT", "15353", 1);
    setenv("GSLB_TEST_GOSSIP_PORT", "15354", 1);
    setenv("GSLB_TEST_API_PORT", "15355", 1);
    setenv("GSLB_TEST_METRICS_PORT", "15356", 1);
    setenv("GSLB_TEST_DATA_DIR", "/tmp/gslb-loopback", 1);
    gslb_config_t cfg;
    gslb_errbuf_t eb;
    if (gslb_config_load(GSLB_FIXTURES "/config/loopback.yaml", &cfg, &eb) != 0)
        fail_msg("%s", eb.msg);
    assert_hostport(&cfg.restart.dns_listen, "127.0.0.1", 15353);
    assert_hostport(&cfg.restart.gossip_bind, "127.0.0.1", 15354);
    assert_hostport(&cfg.restart.api_addr, "127.0.0.1", 15355);
    assert_hostport(&cfg.restart.metrics_addr, "127.0.0.1", 15356);
    assert_string_equal(cfg.restart.data_dir, "/tmp/gslb-loopback");
    assert_int_equal(cfg.domain_count, 3);
    gslb_config_free(&cfg);
    setenv("GSLB_TEST_DNS_PORT", "not-a-port", 1);
    assert_int_equal(gslb_config_load(GSLB_FIXTURES "/config/loopback.yaml", &cfg, &eb),
                     GSLB_ECONFIG);
    assert_non_null(strstr(eb.msg, "loopback.yaml:26:19: dns.listen_address: bad address "
                                   "\"127.0.0.1:not-a-port\""));
}

/* ---- embedded demo ---------------------------------------------------------- */

static int count_backend(const gslb_domain_rec_t *dom, const gslb_cfg_region_t *reg,
                         const gslb_cfg_server_t *srv, void *ctx)
{
    (void)reg;
    (void)srv;
    size_t *counts = ctx;
    counts[dom->policy]++;
    return 0;
}

static void test_default_config(void **state)
{
    (void)state;
    gslb_config_t cfg;
    gslb_errbuf_t eb;
    if (gslb_config_load_default(&cfg, "/tmp/demo \"dir\" ${X}", 5300, &eb) != 0)
        fail_msg("%s", eb.msg);
    assert_string_equal(cfg.source, "<embedded>");
    assert_string_equal(cfg.restart.data_dir, "/tmp/demo \"dir\" ${X}");
    assert_hostport(&cfg.restart.dns_listen, "127.0.0.1", 5300);
    assert_hostport(&cfg.restart.gossip_bind, "127.0.0.1", 5301);
    assert_hostport(&cfg.restart.api_addr, "127.0.0.1", 5302);
    assert_hostport(&cfg.restart.metrics_addr, "127.0.0.1", 5303);
    assert_int_equal(cfg.gossip_key_len, 32);
    assert_memory_equal(cfg.gossip_key, "opengslb-demo-only-gossip-key-32", 32);
    assert_string_equal(gslb_config_token(&cfg, "webapp")->value, "demo-webapp-token");
    assert_string_equal(cfg.api_token, "demo-api-token");
    assert_int_equal(cfg.zone_count, 1);
    assert_string_equal(cfg.zones[0].rec.ns[0], "ns1.gslb.example.com");
    char buf[64];
    assert_string_equal(inet_ntop(AF_INET, cfg.zones[0].rec.ns_addr4[0].bytes, buf, sizeof(buf)),
                        "127.0.0.1");
    assert_int_equal(cfg.domain_count, 3);
    assert_string_equal(cfg.domains[0].name, "webapp.gslb.example.com");
    assert_int_equal(cfg.domains[0].policy, GSLB_POLICY_ROUND_ROBIN);
    assert_int_equal(cfg.domains[1].policy, GSLB_POLICY_WEIGHTED);
    assert_int_equal(cfg.domains[2].policy, GSLB_POLICY_FAILOVER);
    assert_string_equal(cfg.domains[2].regions[0], "us-east");
    assert_string_equal(cfg.domains[2].regions[1], "eu-west");
    size_t counts[8] = {0};
    assert_int_equal(gslb_config_foreach_backend(&cfg, count_backend, counts), 0);
    assert_int_equal(counts[GSLB_POLICY_ROUND_ROBIN], 4); /* 2 regions x 2 servers */
    assert_int_equal(counts[GSLB_POLICY_WEIGHTED], 2);
    assert_int_equal(counts[GSLB_POLICY_FAILOVER], 2);
    gslb_config_free(&cfg);

    assert_int_equal(gslb_config_load_default(&cfg, "/tmp/x", 0, &eb), GSLB_EINVAL);
    assert_int_equal(gslb_config_load_default(&cfg, "/tmp/x", 65534, &eb), GSLB_EINVAL);
    assert_int_equal(gslb_config_load_default(&cfg, "", 5300, &eb), GSLB_EINVAL);
}

/* ---- defaults and accepted forms ----------------------------------------------- */

static void load_ok(const char *yaml, gslb_config_t *cfg)
{
    gslb_errbuf_t eb = {{0}};
    if (gslb_config_load_string("t.yaml", yaml, cfg, &eb) != 0)
        fail_msg("rejected: %s", eb.msg);
}

static void test_minimal_and_defaults(void **state)
{
    (void)state;
    gslb_config_t cfg;
    load_ok("mode: overwatch\n", &cfg);
    assert_true(cfg.restart.node_id[0] != '\0'); /* host name */
    assert_string_equal(cfg.restart.region, "");
    assert_int_equal(cfg.token_count, 0);
    assert_int_equal(cfg.gossip_key_len, 0);
    assert_string_equal(cfg.api_token, "");
    assert_true(cfg.restart.metrics_enabled);
    assert_hostport(&cfg.restart.dns_listen, "0.0.0.0", 53);
    gslb_config_free(&cfg);

    /* A domain whose only region has no servers yet (all backends come from agents). */
    load_ok("mode: overwatch\n"
            "dns: {zones: [gslb.example.com]}\n"
            "regions: [{name: r1, servers: []}]\n"
            "domains: [{name: www.gslb.example.com, regions: [r1]}]\n",
            &cfg);
    assert_int_equal(cfg.domain_count, 1);
    assert_int_equal(cfg.regions[0].server_count, 0);
    gslb_config_free(&cfg);

    load_ok("mode: overwatch\n"
            "overwatch:\n"
            "  identity: {node_id: n1}\n"
            "  dnssec: {algorithm: 15}\n"
            "  stale: {threshold: 1m, remove_after: 1h30m, deaf_percent: 75, deaf_min_agents: 3}\n"
            "  gossip: {max_clock_skew: 500ms}\n"
            "  validation: {enabled: true, check_interval: 10, check_timeout: 2s}\n"
            "storage: {map_size: 64MiB}\n"
            "dns:\n"
            "  listen_address: \"[::1]:5353\"\n"
            "  workers: 4\n"
            "  edns_payload: 4096\n"
            "  tcp_idle_timeout: 2500ms\n"
            "  tcp_message_timeout: 700ms\n"
            "  tcp_max_clients_per_source: 5\n"
            "  default_ttl: 1m\n"
            "  zones:\n"
            "    - name: Example.COM.\n"
            "      soa: {serial: 42, rname: \"dns-admin@example.com\", ttl: 2h, minimum: 300}\n"
            "api:\n"
            "  enabled: false\n"
            "  token: tok\n"
            "  allowed_networks: [10.1.2.3/8, \"2001:db8::1/32\", 192.0.2.7]\n"
            "  tls_cert: /c.pem\n"
            "  tls_key: /k.pem\n"
            "  audit_retention: {max_age: 7d, max_entries: 500}\n"
            "metrics: {enabled: no, address: \"127.0.0.1:9100\"}\n"
            "logging: {level: debug, format: json}\n",
            &cfg);
    assert_string_equal(cfg.restart.node_id, "n1");
    assert_int_equal(cfg.dnssec_algorithm, 15);
    assert_int_equal(cfg.restart.stale_threshold_ms, 60000);
    assert_int_equal(cfg.restart.stale_remove_after_ms, 5400000);
    assert_int_equal(cfg.restart.stale_deaf_percent, 75);
    assert_int_equal(cfg.restart.stale_deaf_min_agents, 3);
    assert_int_equal(cfg.gossip_max_skew_ms, 500);
    assert_true(cfg.restart.validation_enabled);
    assert_int_equal(cfg.restart.validation_interval_ms, 10000);
    assert_int_equal(cfg.restart.validation_timeout_ms, 2000);
    assert_int_equal(cfg.restart.map_size, 64u << 20);
    assert_hostport(&cfg.restart.dns_listen, "::1", 5353);
    assert_int_equal(cfg.restart.dns_workers, 4);
    assert_int_equal(cfg.restart.edns_payload, 4096);
    assert_int_equal(cfg.restart.tcp_idle_timeout_ms, 2500);
    assert_int_equal(cfg.restart.tcp_message_timeout_ms, 700);
    assert_int_equal(cfg.restart.tcp_max_clients_per_source, 5);
    assert_int_equal(cfg.default_ttl, 60);
    const gslb_zone_rec_t *z = &cfg.zones[0].rec;
    assert_string_equal(z->name, "example.com");
    assert_int_equal(z->serial, 42);
    assert_string_equal(z->rname, "dns-admin.example.com");
    assert_int_equal(z->soa_ttl, 7200);
    assert_int_equal(z->minimum, 300);
    /* specific IPv6 listen address: becomes the in-zone NS's AAAA */
    char buf[64];
    assert_int_equal(z->ns_addr4[0].family, 0);
    assert_string_equal(inet_ntop(AF_INET6, z->ns_addr6[0].bytes, buf, sizeof(buf)), "::1");
    assert_false(cfg.restart.api_enabled);
    assert_string_equal(cfg.api_token, "tok");
    assert_int_equal(cfg.allowed_net_count, 3);
    assert_string_equal(cfg.allowed_networks[0], "10.0.0.0/8");
    assert_string_equal(cfg.allowed_networks[1], "2001:db8::/32");
    assert_string_equal(cfg.allowed_networks[2], "192.0.2.7/32");
    assert_int_equal(cfg.audit_max_age_ms, 7ULL * 86400000ULL);
    assert_int_equal(cfg.audit_max_entries, 500);
    assert_string_equal(cfg.restart.tls_cert, "/c.pem");
    assert_false(cfg.restart.metrics_enabled);
    assert_hostport(&cfg.restart.metrics_addr, "127.0.0.1", 9100);
    assert_int_equal(cfg.log_level, GSLB_LOG_DEBUG);
    assert_int_equal(cfg.log_format, GSLB_LOG_JSON);
    gslb_config_free(&cfg);
}

static void test_map_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } sizes[] = {{"1048576", 1048576}, {"1M", 1 << 20},        {"512MiB", 512u << 20},
                 {"2G", 2ULL << 30},   {"16GiB", 16ULL << 30}, {"1024K", 1 << 20},
                 {"1TiB", 1ULL << 40}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char yaml[128];
        gslb_config_t cfg;
        snprintf(yaml, sizeof(yaml), "mode: overwatch\nstorage:\n  map_size: %s\n", sizes[i].text);
        load_ok(yaml, &cfg);
        assert_int_equal(cfg.restart.map_size, sizes[i].bytes);
        gslb_config_free(&cfg);
    }
}

static void test_backend_mapping(void **state)
{
    (void)state;
    gslb_config_t cfg;
    load_ok("mode: overwatch\n"
            "dns: {zones: [a.example, b.example]}\n"
            "regions:\n"
            "  - name: r1\n"
            "    servers:\n"
            "      - {address: 192.0.2.1}\n"
            "      - {address: 192.0.2.2, service: www.b.example}\n"
            "  - name: r2\n"
            "    servers:\n"
            "      - {address: 192.0.2.3, port: 8443, weight: 0, service: shop}\n"
            "domains:\n"
            "  - {name: www.a.example, regions: [r1], service: wwwa, routing_algorithm: "
            "round_robin}\n"
            "  - {name: www.b.example, regions: [r1, r2], max_records: 2}\n"
            "  - {name: shop.b.example, regions: [r2], routing_algorithm: latency}\n",
            &cfg);
    size_t per_policy[8] = {0};
    assert_int_equal(gslb_config_foreach_backend(&cfg, count_backend, per_policy), 0);
    /* 192.0.2.1 (no service) -> www.a and www.b (both list r1); 192.0.2.2 -> www.b only;
     * 192.0.2.3 -> shop only. */
    assert_int_equal(per_policy[GSLB_POLICY_ROUND_ROBIN], 3);
    assert_int_equal(per_policy[GSLB_POLICY_LATENCY], 1);
    assert_string_equal(cfg.domains[0].zone, "a.example");
    assert_string_equal(cfg.domains[1].service, "www");
    assert_int_equal(cfg.domains[1].max_records, 2);
    assert_int_equal(cfg.regions[1].servers[0].port, 8443);
    assert_int_equal(cfg.regions[1].servers[0].weight, 0);
    assert_int_equal(cfg.regions[0].servers[0].port, 80);
    assert_int_equal(cfg.regions[0].servers[0].weight, 100);
    assert_false(cfg.regions[0].has_health_check);
    gslb_config_free(&cfg);
}

/* ---- every validation error, with its exact position ----------------------------- */

static void expect_error(const char *yaml, const char *prefix, const char *problem)
{
    gslb_config_t cfg;
    gslb_errbuf_t eb = {{0}};
    int rc = gslb_config_load_string("t.yaml", yaml, &cfg, &eb);
    if (rc == 0) {
        gslb_config_free(&cfg);
        fail_msg("accepted, want \"%s%s\"", prefix, problem);
    }
    assert_int_equal(rc, GSLB_ECONFIG);
    if (strncmp(eb.msg, prefix, strlen(prefix)) != 0 || !strstr(eb.msg, problem))
        fail_msg("got \"%s\", want prefix \"%s\" and \"%s\"", eb.msg, prefix, problem);
    assert_null(cfg.zones);
    assert_null(cfg.regions);
    assert_int_equal(cfg.domain_count, 0);
}

/* Issue 16, item 3: the admin token, the cluster secret and the agent tokens are three
 * different secrets; key sync peers need the cluster secret. */
static void test_secrets_stay_apart(void **state)
{
    (void)state;
    gslb_config_t cfg;
    /* no api.token: nothing falls back to the agent token named "api" */
    load_ok("mode: overwatch\n"
            "overwatch:\n"
            "  agent_tokens: {webapp: w-secret, api: agent-api-secret}\n",
            &cfg);
    assert_string_equal(cfg.api_token, "");
    assert_string_equal(cfg.key_sync_token, "");
    gslb_config_free(&cfg);
    /* api.token equal to an agent token: refused at api.token */
    expect_error("mode: overwatch\n"
                 "overwatch:\n"
                 "  agent_tokens: {webapp: w-secret, api: agent-api-secret}\n"
                 "api:\n"
                 "  token: agent-api-secret\n",
                 "t.yaml:5:10: api.token: ",
                 "must differ from every agent token (it equals overwatch.agent_tokens.api)");
    expect_error("mode: overwatch\n"
                 "overwatch:\n"
                 "  agent_tokens: {webapp: w-secret}\n"
                 "api: {token: w-secret}\n",
                 "t.yaml:4:14: api.token: ", "overwatch.agent_tokens.webapp");
    /* peers without the cluster secret: refused at peers, telling what to add */
    expect_error("mode: overwatch\n"
                 "overwatch:\n"
                 "  dnssec:\n"
                 "    key_sync:\n"
                 "      peers: [\"https://192.0.2.1:9090\"]\n",
                 "t.yaml:5:7: overwatch.dnssec.key_sync.peers: ",
                 "key sync peers need a cluster secret: add overwatch.dnssec.key_sync.token");
    /* the cluster secret equal to an agent token or to api.token */
    expect_error("mode: overwatch\n"
                 "overwatch:\n"
                 "  agent_tokens: {webapp: w-secret}\n"
                 "  dnssec:\n"
                 "    key_sync: {peers: [\"https://192.0.2.1:9090\"], token: w-secret}\n",
                 "t.yaml:5:58: overwatch.dnssec.key_sync.token: ",
                 "must differ from every agent token (it equals overwatch.agent_tokens.webapp)");
    expect_error("mode: overwatch\n"
                 "overwatch:\n"
                 "  dnssec:\n"
                 "    key_sync:\n"
                 "      token: same-secret\n"
                 "api: {token: same-secret}\n",
                 "t.yaml:5:14: overwatch.dnssec.key_sync.token: ", "must differ from api.token");
    expect_error("mode: overwatch\n"
                 "overwatch:\n"
                 "  dnssec: {key_sync: {token: \"\"}}\n",
                 "t.yaml:3:30: overwatch.dnssec.key_sync.token: ", "token must not be empty");
    /* all three apart: accepted */
    load_ok("mode: overwatch\n"
            "overwatch:\n"
            "  agent_tokens: {webapp: w-secret, api: agent-api-secret}\n"
            "  dnssec:\n"
            "    key_sync: {peers: [\"https://192.0.2.1:9090\"], token: cluster-secret}\n"
            "api: {token: admin-secret}\n",
            &cfg);
    assert_string_equal(cfg.api_token, "admin-secret");
    assert_string_equal(cfg.key_sync_token, "cluster-secret");
    gslb_config_free(&cfg);
}

/* Issue 16, item 14: overwatch.user names the account to drop to when started as root. */
static void test_user_setting(void **state)
{
    (void)state;
    gslb_config_t cfg;
    load_ok("mode: overwatch\noverwatch: {user: opengslb}\n", &cfg);
    assert_string_equal(cfg.restart.user, "opengslb");
    gslb_config_free(&cfg);
    load_ok("mode: overwatch\n", &cfg);
    assert_string_equal(cfg.restart.user, "");
    gslb_config_free(&cfg);
    expect_error("mode: overwatch\noverwatch: {user: \"a b\"}\n",
                 "t.yaml:2:19: overwatch.user: ", "invalid user name");
    expect_error("mode: overwatch\noverwatch: {user: -x}\n",
                 "t.yaml:2:19: overwatch.user: ", "invalid user name");
}

static void test_error_unknown_keys(void **state)
{
    (void)state;
    expect_error("mode: overwatch\ndnz:\n  listen_address: \"127.0.0.1:53\"\n",
                 "t.yaml:2:1: dnz: ", "unknown key (expected one of: mode, overwatch,");
    expect_error("mode: overwatch\noverwatch:\n  identiti: {}\n",
                 "t.yaml:3:3: overwatch.identiti: ", "unknown key");
    expect_error("mode: overwatch\noverwatch:\n  gossip:\n    bind_adress: \"0.0.0.0:7946\"\n",
                 "t.yaml:4:5: overwatch.gossip.bind_adress: ",
                 "unknown key (expected one of: bind_address, encryption_key, max_clock_skew, "
                 "source_rate, source_burst)");
    expect_error("mode: overwatch\noverwatch:\n  dnssec:\n    key_sync:\n      peer: []\n",
                 "t.yaml:5:7: overwatch.dnssec.key_sync.peer: ", "unknown key");
    expect_error("mode: overwatch\ndns:\n  zones:\n    - name: gslb.example.com\n      sao: {}\n",
                 "t.yaml:5:7: dns.zones[0].sao: ", "unknown key");
    expect_error("mode: overwatch\ndns:\n  zones:\n    - name: gslb.example.com\n"
                 "      soa: {serail: 1}\n",
                 "t.yaml:5:13: dns.zones[0].soa.serail: ", "unknown key");
    expect_error("mode: overwatch\nregions:\n  - name: us-east\n    servers:\n"
                 "      - address: 10.0.0.1\n        prot: 80\n",
                 "t.yaml:6:9: regions[0].servers[0].prot: ", "unknown key");
    expect_error("mode: overwatch\nregions:\n  - name: us-east\n    health_check:\n"
                 "      intervall: 5s\n",
                 "t.yaml:5:7: regions[0].health_check.intervall: ", "unknown key");
    expect_error("mode: overwatch\ndns: {zones: [gslb.example.com]}\n"
                 "regions: [{name: r1}]\n"
                 "domains:\n  - name: w.gslb.example.com\n    regions: [r1]\n    ttll: 5\n",
                 "t.yaml:7:5: domains[0].ttll: ", "unknown key");
    expect_error("mode: overwatch\napi:\n  tls: {}\n", "t.yaml:3:3: api.tls: ", "unknown key");
    expect_error("mode: overwatch\nmetrics:\n  port: 1\n",
                 "t.yaml:3:3: metrics.port: ", "unknown key");
    expect_error("mode: overwatch\nlogging:\n  file: x\n",
                 "t.yaml:3:3: logging.file: ", "unknown key");
    expect_error("mode: overwatch\nstorage:\n  path: x\n",
                 "t.yaml:3:3: storage.path: ", "unknown key");
    /* the agent's file is not an overwatch file */
    expect_error("agent:\n  gossip: {}\n", "t.yaml:1:1: agent: ", "unknown key");
}

static void test_error_types(void **state)
{
    (void)state;
    expect_error("mode: overwatch\noverwatch: [a, b]\n",
                 "t.yaml:2:12: overwatch: ", "expected a mapping, got a sequence");
    expect_error("mode: overwatch\ndns:\n  edns_payload: big\n",
                 "t.yaml:3:17: dns.edns_payload: ", "expected an integer, got \"big\"");
    expect_error("mode: overwatch\ndns:\n  edns_payload: 100\n",
                 "t.yaml:3:17: dns.edns_payload: ", "100 is out of range (512..4096)");
    expect_error("mode: overwatch\napi:\n  enabled: maybe\n",
                 "t.yaml:3:12: api.enabled: ", "expected a boolean");
    expect_error("mode: overwatch\ndns:\n  zones: gslb.example.com\n",
                 "t.yaml:3:10: dns.zones: ", "expected a sequence, got a scalar");
    expect_error("mode: overwatch\noverwatch:\n  agent_tokens: [a]\n",
                 "t.yaml:3:17: overwatch.agent_tokens: ", "expected a mapping");
    expect_error(
        "mode: overwatch\noverwatch:\n  agent_tokens:\n    webapp: {a: 1}\n",
        "t.yaml:4:13: overwatch.agent_tokens.webapp: ", "expected a string, got a mapping");
    expect_error("mode: overwatch\noverwatch:\n  agent_tokens:\n    webapp: \"\"\n",
                 "t.yaml:4:13: overwatch.agent_tokens.webapp: ", "token must not be empty");
    expect_error("mode: overwatch\nregions:\n  - just-a-name\n",
                 "t.yaml:3:5: regions[0]: ", "expected a mapping, got a scalar");
    expect_error("- a\n- b\n", "t.yaml:1:1: (document): ", "expected a mapping, got a sequence");
    expect_error("", "t.yaml:1:1: (document): ", "empty configuration");
    expect_error("mode: overwatch\nstorage:\n  map_size: 4 GB\n",
                 "t.yaml:3:13: storage.map_size: ", "invalid size");
    expect_error("mode: overwatch\nstorage:\n  map_size: 1K\n",
                 "t.yaml:3:13: storage.map_size: ", "between 1 MiB and 1 TiB");
    expect_error("mode: overwatch\noverwatch:\n  dnssec:\n    algorithm: RSASHA256\n",
                 "t.yaml:4:16: overwatch.dnssec.algorithm: ", "unknown algorithm \"RSASHA256\"");
    expect_error("mode: overwatch\nlogging:\n  level: loud\n",
                 "t.yaml:3:10: logging.level: ", "unknown level");
    expect_error("mode: overwatch\noverwatch:\n  identity:\n    node_id: \"a b\"\n",
                 "t.yaml:4:14: overwatch.identity.node_id: ", "may only contain");
}

static void test_error_addresses(void **state)
{
    (void)state;
    expect_error("mode: overwatch\ndns:\n  listen_address: \"0.0.0.0\"\n",
                 "t.yaml:3:19: dns.listen_address: ", "bad address \"0.0.0.0\": missing \":port\"");
    expect_error("mode: overwatch\ndns:\n  listen_address: \"::1:53\"\n",
                 "t.yaml:3:19: dns.listen_address: ", "must be written in brackets");
    expect_error("mode: overwatch\ndns:\n  listen_address: localhost:53\n",
                 "t.yaml:3:19: dns.listen_address: ", "host must be an IP address");
    expect_error("mode: overwatch\napi:\n  address: \"127.0.0.1:0\"\n",
                 "t.yaml:3:12: api.address: ", "port must be 1..65535");
    expect_error("mode: overwatch\noverwatch:\n  gossip:\n    bind_address: \"1.2.3.4:99999\"\n",
                 "t.yaml:4:19: overwatch.gossip.bind_address: ", "port must be a number");
    expect_error("mode: overwatch\nregions:\n  - name: r\n    servers:\n"
                 "      - address: 10.0.0.300\n",
                 "t.yaml:5:18: regions[0].servers[0].address: ", "bad address \"10.0.0.300\"");
    expect_error("mode: overwatch\nregions:\n  - name: r\n    servers:\n"
                 "      - address: \"10.0.0.1:80\"\n",
                 "t.yaml:5:18: regions[0].servers[0].address: ", "set the port with");
    expect_error("mode: overwatch\nregions:\n  - name: r\n    servers:\n"
                 "      - {address: 10.0.0.1, port: 0}\n",
                 "t.yaml:5:35: regions[0].servers[0].port: ", "out of range (1..65535)");
    expect_error("mode: overwatch\noverwatch:\n  dnssec:\n    key_sync:\n"
                 "      peers: [\"ftp://x:1\"]\n",
                 "t.yaml:5:15: overwatch.dnssec.key_sync.peers[0]: ", "https:// or http://");
    expect_error("mode: overwatch\noverwatch:\n  dnssec:\n    key_sync:\n"
                 "      peers: [\"https://\"]\n",
                 "t.yaml:5:15: overwatch.dnssec.key_sync.peers[0]: ", "no valid host");
    expect_error("mode: overwatch\noverwatch:\n  dnssec:\n    key_sync:\n"
                 "      peers: [\"https://a:1\", \"https://a:1\"]\n",
                 "t.yaml:5:30: overwatch.dnssec.key_sync.peers[1]: ", "duplicate peer");
    expect_error("mode: overwatch\ndns:\n  zones:\n    - name: z.example\n"
                 "      ns_addresses: {ns1.z.example: [1.2.3.4, 5.6.7.8]}\n",
                 "t.yaml:5:47: dns.zones[0].ns_addresses.ns1.z.example[1]: ",
                 "at most one IPv4 and one IPv6");
    expect_error("mode: overwatch\ndns:\n  zones:\n    - name: z.example\n"
                 "      ns_addresses: {ns9.z.example: [1.2.3.4]}\n",
                 "t.yaml:5:22: dns.zones[0].ns_addresses.ns9.z.example: ",
                 "not a name server of zone z.example");
    expect_error("mode: overwatch\ndns:\n  zones:\n    - name: z.example\n"
                 "      ns: [ns.other.example]\n      ns_addresses: {ns.other.example: 1.2.3.4}\n",
                 "t.yaml:6:22: dns.zones[0].ns_addresses.ns.other.example: ", "in-zone");
}

static void test_error_cidr_duration_key(void **state)
{
    (void)state;
    expect_error("mode: overwatch\napi:\n  audit_retention: {max_age: 4000d}\n",
                 "t.yaml:3:30: api.audit_retention.max_age: ", "out of range");
    expect_error("mode: overwatch\napi:\n  audit_retention: {max_entries: -1}\n",
                 "t.yaml:3:34: api.audit_retention.max_entries: ", "");
    expect_error("mode: overwatch\napi:\n  audit_retention: {keep: 5}\n",
                 "t.yaml:3:21: api.audit_retention.keep: ", "unknown key");
    expect_error("mode: overwatch\napi:\n  allowed_networks:\n    - 10.0.0.0/33\n",
                 "t.yaml:4:7: api.allowed_networks[0]: ", "bad CIDR \"10.0.0.0/33\"");
    expect_error("mode: overwatch\napi:\n  allowed_networks: [\"::1/129\"]\n",
                 "t.yaml:3:22: api.allowed_networks[0]: ", "bad CIDR");
    expect_error("mode: overwatch\napi:\n  allowed_networks: [10.0.0.0/x]\n",
                 "t.yaml:3:22: api.allowed_networks[0]: ", "bad CIDR");
    expect_error("mode: overwatch\napi:\n  allowed_networks: [example.com/8]\n",
                 "t.yaml:3:22: api.allowed_networks[0]: ", "bad CIDR");
    expect_error("mode: overwatch\noverwatch:\n  stale:\n    threshold: 30x\n",
                 "t.yaml:4:16: overwatch.stale.threshold: ", "invalid duration \"30x\"");
    expect_error(
        "mode: overwatch\noverwatch:\n  dnssec:\n    key_sync:\n      poll_interval: 30m1h\n",
        "t.yaml:5:22: overwatch.dnssec.key_sync.poll_interval: ", "invalid duration");
    expect_error("mode: overwatch\noverwatch:\n  dnssec:\n    key_sync:\n      timeout: 0\n",
                 "t.yaml:5:16: overwatch.dnssec.key_sync.timeout: ", "out of range");
    expect_error(
        "mode: overwatch\noverwatch:\n  stale:\n    threshold: 1m\n    remove_after: 30s\n",
        "t.yaml:5:5: overwatch.stale.remove_after: ", "must not be shorter");
    expect_error("mode: overwatch\noverwatch:\n  stale:\n    deaf_percent: 0\n",
                 "t.yaml:4:19: overwatch.stale.deaf_percent: ", "out of range");
    expect_error("mode: overwatch\noverwatch:\n  stale:\n    deaf_percent: 101\n",
                 "t.yaml:4:19: overwatch.stale.deaf_percent: ", "out of range");
    expect_error("mode: overwatch\noverwatch:\n  stale:\n    deaf_min_agents: 0\n",
                 "t.yaml:4:22: overwatch.stale.deaf_min_agents: ", "out of range");
    expect_error("mode: overwatch\ndns:\n  default_ttl: 1500ms\n",
                 "t.yaml:3:16: dns.default_ttl: ", "whole number of seconds");
    expect_error("mode: overwatch\noverwatch:\n  gossip:\n    encryption_key: \"c2hvcnQ=\"\n",
                 "t.yaml:4:21: overwatch.gossip.encryption_key: ", "key decodes to 5 bytes");
    expect_error("mode: overwatch\noverwatch:\n  gossip:\n    encryption_key: \"not base64!\"\n",
                 "t.yaml:4:21: overwatch.gossip.encryption_key: ", "not valid base64");
    expect_error("mode: overwatch\napi:\n  tls_cert: /c.pem\n",
                 "t.yaml:3:3: api.tls_cert: ", "must be given together");
}

/* A small valid base for the GSLB cross-reference errors (lines 1-11). */
#define GSLB_BASE                                                                                  \
    "mode: overwatch\n"                   /* 1 */                                                  \
    "dns:\n"                              /* 2 */                                                  \
    "  zones: [gslb.example.com]\n"       /* 3 */                                                  \
    "regions:\n"                          /* 4 */                                                  \
    "  - name: us-east\n"                 /* 5 */                                                  \
    "    servers:\n"                      /* 6 */                                                  \
    "      - address: 10.0.0.1\n"         /* 7 */                                                  \
    "        service: webapp\n"           /* 8 */                                                  \
    "domains:\n"                          /* 9 */                                                  \
    "  - name: webapp.gslb.example.com\n" /* 10 */                                                 \
    "    regions: [us-east]\n"            /* 11 */

static void test_error_gslb(void **state)
{
    (void)state;
    gslb_config_t cfg;
    load_ok(GSLB_BASE, &cfg);
    gslb_config_free(&cfg);

    expect_error(GSLB_BASE "  - name: WEBAPP.gslb.example.com.\n    regions: [us-east]\n",
                 "t.yaml:12:11: domains[1].name: ", "duplicate domain \"webapp.gslb.example.com\"");
    expect_error(GSLB_BASE "  - name: other.example.org\n    regions: [us-east]\n",
                 "t.yaml:12:11: domains[1].name: ", "not inside any zone");
    expect_error(GSLB_BASE "  - name: gslb.example.com\n    regions: [us-east]\n",
                 "t.yaml:12:11: domains[1].name: ", "zone apex");
    expect_error(GSLB_BASE "  - name: ns1.gslb.example.com\n    regions: [us-east]\n",
                 "t.yaml:12:11: domains[1].name: ", "name server host");
    expect_error(
        GSLB_BASE "  - name: api.gslb.example.com\n    regions: [us-east, mars]\n",
        "t.yaml:13:24: domains[1].regions[1]: ", "region \"mars\" is not defined in regions[]");
    expect_error(GSLB_BASE "  - name: api.gslb.example.com\n    regions: [us-east, us-east]\n",
                 "t.yaml:13:24: domains[1].regions[1]: ", "listed twice");
    expect_error(GSLB_BASE "  - name: api.gslb.example.com\n",
                 "t.yaml:12:5: domains[1].regions: ", "at least one region");
    expect_error(
        GSLB_BASE "  - name: api.gslb.example.com\n    regions: [us-east]\n"
                  "    routing_algorithm: random\n",
        "t.yaml:14:24: domains[1].routing_algorithm: ", "unknown routing algorithm \"random\"");
    expect_error(GSLB_BASE "  - name: api.gslb.example.com\n    regions: [us-east]\n"
                           "    all_unhealthy: panic\n",
                 "t.yaml:14:20: domains[1].all_unhealthy: ", "unknown value \"panic\"");
    expect_error(GSLB_BASE "  - name: webapp.gslb.example.com.x\n    regions: [us-east]\n",
                 "t.yaml:12:11: domains[1].name: ", "not inside any zone");
    expect_error(GSLB_BASE "  - name: api.gslb.example.com\n    regions: [us-east]\n"
                           "    service: webapp\n",
                 "t.yaml:14:14: domains[1].service: ", "already used by domain webapp");
    expect_error(GSLB_BASE "  - name: webapp.other.gslb.example.com\n    regions: [us-east]\n",
                 "t.yaml:12:11: domains[1]: ", "service \"webapp\" is already used");
    expect_error(GSLB_BASE "  - name: api.gslb.example.com\n    regions: [us-east]\n"
                           "    max_records: 70000\n",
                 "t.yaml:14:18: domains[1].max_records: ", "out of range");

    /* regions */
    expect_error("mode: overwatch\nregions:\n  - name: us-east\n  - name: eu\n  - name: us-east\n",
                 "t.yaml:5:11: regions[2].name: ", "duplicate region \"us-east\"");
    expect_error("mode: overwatch\nregions:\n  - servers: []\n",
                 "t.yaml:3:5: regions[0].name: ", "missing required key");
    expect_error("mode: overwatch\nregions:\n  - name: r\n    health_check: {type: icmp}\n",
                 "t.yaml:4:26: regions[0].health_check.type: ", "unknown check type \"icmp\"");
    expect_error("mode: overwatch\nregions:\n  - name: r\n"
                 "    health_check: {interval: 1s, timeout: 2s}\n",
                 "t.yaml:4:34: regions[0].health_check: ", "timeout must not be longer");
    expect_error("mode: overwatch\nregions:\n  - name: r\n"
                 "    health_check: {expected_status: [200, 700]}\n",
                 "t.yaml:4:43: regions[0].health_check.expected_status[1]: ", "out of range");

    /* servers <-> domains */
    expect_error("mode: overwatch\ndns: {zones: [gslb.example.com]}\n"
                 "regions:\n  - name: us-east\n    servers:\n"
                 "      - address: 10.0.0.1\n        service: billing\n"
                 "domains:\n  - name: webapp.gslb.example.com\n    regions: [us-east]\n",
                 "t.yaml:7:18: regions[0].servers[0].service: ",
                 "\"billing\" matches no domain (by name or by service)");
    expect_error("mode: overwatch\ndns: {zones: [gslb.example.com]}\n"
                 "regions:\n  - name: us-east\n  - name: eu\n    servers:\n"
                 "      - address: 10.0.0.1\n        service: webapp\n"
                 "domains:\n  - name: webapp.gslb.example.com\n    regions: [us-east]\n",
                 "t.yaml:8:18: regions[1].servers[0].service: ", "does not list region \"eu\"");
    expect_error("mode: overwatch\ndns: {zones: [gslb.example.com]}\n"
                 "regions:\n  - name: us-east\n    servers:\n"
                 "      - address: 10.0.0.1\n      - address: 10.0.0.1\n        port: 80\n"
                 "domains:\n  - name: webapp.gslb.example.com\n    regions: [us-east]\n",
                 "t.yaml:7:18: regions[0].servers[1].address: ",
                 "duplicate backend for domain webapp.gslb.example.com");
}

static void test_error_mode_and_vars(void **state)
{
    (void)state;
    expect_error("mode: agent\n", "t.yaml:1:7: mode: ", "mode must be \"overwatch\"");
    expect_error("mode: [overwatch]\n", "t.yaml:1:7: mode: ", "mode must be \"overwatch\"");
    expect_error("overwatch: {}\n", "t.yaml:1:1: mode: ", "missing required key");
    unsetenv("CFG_TEST_UNSET");
    expect_error("mode: overwatch\napi:\n  token: \"${CFG_TEST_UNSET}\"\n",
                 "t.yaml:3:10: api.token: ", "environment variable CFG_TEST_UNSET is not set");
    expect_error("mode: overwatch\nmode: overwatch\n", "t.yaml:2:1: mode: ", "duplicate key");
    expect_error("mode: overwatch\ndns: &d {}\n", "t.yaml:2:6: dns: ", "anchors and aliases");
}

/* ---- apply_to_store --------------------------------------------------------------- */

static const char apply_a[] = "mode: overwatch\n"
                              "overwatch:\n"
                              "  identity: {node_id: node-a}\n"
                              "dns:\n"
                              "  listen_address: \"127.0.0.1:5300\"\n"
                              "  zones: [gslb.example.com, old.example.net]\n"
                              "regions:\n"
                              "  - name: r1\n"
                              "    servers:\n"
                              "      - {address: 192.0.2.1, weight: 10}\n"
                              "      - {address: 192.0.2.2, weight: 20}\n"
                              "      - {address: \"2001:db8::1\", port: 8080}\n"
                              "  - name: r2\n"
                              "    servers:\n"
                              "      - {address: 198.51.100.1, service: api}\n"
                              "domains:\n"
                              "  - {name: webapp.gslb.example.com, regions: [r1]}\n"
                              "  - {name: api.gslb.example.com, regions: [r1, r2], "
                              "routing_algorithm: weighted}\n"
                              "  - {name: gone.old.example.net, regions: [r1]}\n";

static const char apply_b[] = "mode: overwatch\n"
                              "overwatch:\n"
                              "  identity: {node_id: node-b}\n"
                              "dns:\n"
                              "  listen_address: \"127.0.0.1:5300\"\n"
                              "  zones: [gslb.example.com]\n"
                              "regions:\n"
                              "  - name: r1\n"
                              "    servers:\n"
                              "      - {address: 192.0.2.1, weight: 99}\n"
                              "      - {address: \"2001:db8::1\", port: 8080}\n"
                              "  - name: r2\n"
                              "    servers:\n"
                              "      - {address: 198.51.100.1, service: api}\n"
                              "domains:\n"
                              "  - {name: webapp.gslb.example.com, regions: [r1]}\n"
                              "  - {name: api.gslb.example.com, regions: [r2, r1], "
                              "routing_algorithm: weighted}\n";

typedef struct store_fixture {
    char dir[64];
    gslb_env_t env;
} store_fixture_t;

static int store_setup(void **state)
{
    store_fixture_t *f = calloc(1, sizeof(*f));
    if (gslb_test_mkdtemp(f->dir, sizeof(f->dir), "test-config") != 0)
        return -1;
    gslb_env_opts_t opts = {.data_dir = f->dir, .map_size = 64u << 20};
    gslb_errbuf_t eb = {{0}};
    if (gslb_env_open(&f->env, &opts, &eb) != 0) {
        fprintf(stderr, "env open: %s\n", eb.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int store_teardown(void **state)
{
    store_fixture_t *f = *state;
    gslb_env_close(&f->env);
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void apply_yaml(gslb_env_t *env, const char *yaml)
{
    gslb_config_t cfg;
    gslb_errbuf_t eb = {{0}};
    load_ok(yaml, &cfg);
    int rc = gslb_config_apply_to_store(&cfg, env, &eb);
    gslb_config_free(&cfg);
    if (rc != 0)
        fail_msg("apply: %s", eb.msg);
}

static gslb_addr_t addr_of(const char *text)
{
    gslb_addr_t a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(gslb_addr_parse(text, &a), 0);
    return a;
}

struct backend_count {
    size_t config, agent;
};

static int count_stored(const gslb_backend_rec_t *r, void *ctx)
{
    struct backend_count *c = ctx;
    if (r->source == GSLB_SOURCE_CONFIG)
        c->config++;
    else
        c->agent++;
    return 0;
}

static struct backend_count count_backends(gslb_env_t *env, MDB_txn *txn, const char *domain)
{
    struct backend_count c = {0, 0};
    assert_int_equal(gslb_store_foreach_backend(env, txn, domain, count_stored, &c), 0);
    return c;
}

/* Healthy candidates of a compiled answer set for (name, qtype). */
static int healthy_candidates(gslb_env_t *env, MDB_txn *txn, const char *name, uint16_t qtype)
{
    uint8_t wire[256], key[300];
    size_t w = 0;
    const char *p = name;
    while (*p) {
        size_t len = strcspn(p, ".");
        wire[w++] = (uint8_t)len;
        memcpy(wire + w, p, len);
        w += len;
        p += len + (p[len] == '.');
    }
    wire[w++] = 0;
    int klen = gslb_ans_key(wire, w, qtype, key, sizeof(key));
    assert_true(klen > 0);
    MDB_val val;
    int kind = gslb_ans_lookup(txn, env->dbi[GSLB_DBI_ANSWERS], key, (size_t)klen, &val);
    if (kind == GSLB_ENOENT)
        return -1;
    assert_int_equal(kind, GSLB_ANS_KIND_GSLB);
    gslb_ans_set_t set;
    memcpy(&set, val.mv_data, sizeof(set));
    return set.healthy_count;
}

/* What an agent and the validator would have written between two applies. */
static void simulate_runtime_state(gslb_env_t *env)
{
    MDB_txn *txn = NULL;
    assert_int_equal(gslb_env_write_begin(env, &txn), 0);
    gslb_addr_t a1 = addr_of("192.0.2.1");
    gslb_backend_rec_t b;
    assert_int_equal(gslb_store_backend_get(env, txn, "webapp.gslb.example.com", &a1, 80, &b), 0);
    b.validation_health = GSLB_UNHEALTHY;
    b.last_seen = 1234;
    b.last_change = 5678;
    b.latency_us = 777;
    assert_int_equal(gslb_store_backend_put(env, txn, &b), 0);

    gslb_backend_rec_t agent = {.port = 80,
                                .weight = 5,
                                .source = GSLB_SOURCE_AGENT,
                                .agent_health = GSLB_HEALTHY,
                                .last_seen = 99};
    snprintf(agent.domain, sizeof(agent.domain), "webapp.gslb.example.com");
    snprintf(agent.region, sizeof(agent.region), "r1");
    snprintf(agent.agent_id, sizeof(agent.agent_id), "agent-1");
    agent.addr = addr_of("203.0.113.5");
    assert_int_equal(gslb_store_backend_put(env, txn, &agent), 0);
    /* an agent reporting the same address as a config backend of api */
    agent.addr = addr_of("198.51.100.1");
    agent.agent_health = GSLB_UNHEALTHY;
    snprintf(agent.domain, sizeof(agent.domain), "api.gslb.example.com");
    snprintf(agent.region, sizeof(agent.region), "r2");
    assert_int_equal(gslb_store_backend_put(env, txn, &agent), 0);
    /* and one under a domain the next config drops */
    snprintf(agent.domain, sizeof(agent.domain), "gone.old.example.net");
    assert_int_equal(gslb_store_backend_put(env, txn, &agent), 0);
    assert_int_equal(gslb_answers_rebuild_all(env, txn), 0);
    assert_int_equal(gslb_env_commit(env, txn), 0);
}

static void test_apply_first(void **state)
{
    store_fixture_t *f = *state;
    apply_yaml(&f->env, apply_a);
    MDB_txn *txn = NULL;
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), 0);
    gslb_meta_rec_t m;
    assert_int_equal(gslb_store_meta_get(&f->env, txn, &m), 0);
    assert_string_equal(m.node_id, "node-a");
    gslb_zone_rec_t z;
    assert_int_equal(gslb_store_zone_get(&f->env, txn, "gslb.example.com", &z), 0);
    assert_string_equal(z.mname, "ns1.gslb.example.com");
    assert_int_equal(z.ns_count, 1);
    assert_true(gslb_addr_equal(&z.ns_addr4[0], &(gslb_addr_t){0}) == false);
    assert_int_equal(gslb_store_zone_get(&f->env, txn, "old.example.net", &z), 0);
    gslb_domain_rec_t d;
    assert_int_equal(gslb_store_domain_get(&f->env, txn, "api.gslb.example.com", &d), 0);
    assert_int_equal(d.policy, GSLB_POLICY_WEIGHTED);
    assert_int_equal(d.region_count, 2);
    assert_string_equal(d.service, "api");
    struct backend_count c = count_backends(&f->env, txn, "webapp.gslb.example.com");
    assert_int_equal(c.config, 3);
    c = count_backends(&f->env, txn, "api.gslb.example.com");
    assert_int_equal(c.config, 4);
    c = count_backends(&f->env, txn, "gone.old.example.net");
    assert_int_equal(c.config, 3);
    gslb_backend_rec_t b;
    gslb_addr_t a2 = addr_of("192.0.2.2");
    assert_int_equal(gslb_store_backend_get(&f->env, txn, "webapp.gslb.example.com", &a2, 80, &b),
                     0);
    assert_int_equal(b.weight, 20);
    assert_string_equal(b.region, "r1");
    assert_int_equal(b.source, GSLB_SOURCE_CONFIG);
    assert_int_equal(b.agent_health, GSLB_UNKNOWN);
    assert_int_equal(healthy_candidates(&f->env, txn, "webapp.gslb.example.com", 1), 2);
    assert_int_equal(healthy_candidates(&f->env, txn, "webapp.gslb.example.com", 28), 1);
    mdb_txn_abort(txn);
}

static void test_apply_preserves_runtime_state(void **state)
{
    store_fixture_t *f = *state;
    apply_yaml(&f->env, apply_a);
    simulate_runtime_state(&f->env);
    apply_yaml(&f->env, apply_b);
    apply_yaml(&f->env, apply_b); /* idempotent */

    MDB_txn *txn = NULL;
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), 0);
    gslb_meta_rec_t m;
    assert_int_equal(gslb_store_meta_get(&f->env, txn, &m), 0);
    assert_string_equal(m.node_id, "node-b");
    gslb_zone_rec_t z;
    assert_int_equal(gslb_store_zone_get(&f->env, txn, "old.example.net", &z), GSLB_ENOENT);
    gslb_domain_rec_t d;
    assert_int_equal(gslb_store_domain_get(&f->env, txn, "gone.old.example.net", &d), GSLB_ENOENT);
    struct backend_count c = count_backends(&f->env, txn, "gone.old.example.net");
    assert_int_equal(c.config + c.agent, 0);
    assert_int_equal(gslb_store_domain_get(&f->env, txn, "api.gslb.example.com", &d), 0);
    assert_string_equal(d.regions[0], "r2"); /* order follows the file */

    /* config backend kept its health, took the new weight */
    gslb_backend_rec_t b;
    gslb_addr_t a1 = addr_of("192.0.2.1");
    assert_int_equal(gslb_store_backend_get(&f->env, txn, "webapp.gslb.example.com", &a1, 80, &b),
                     0);
    assert_int_equal(b.weight, 99);
    assert_int_equal(b.source, GSLB_SOURCE_CONFIG);
    assert_int_equal(b.validation_health, GSLB_UNHEALTHY);
    assert_int_equal(b.last_seen, 1234);
    assert_int_equal(b.last_change, 5678);
    assert_int_equal(b.latency_us, 777);
    /* removed config backend is gone, agent backend stays */
    gslb_addr_t a2 = addr_of("192.0.2.2");
    assert_int_equal(gslb_store_backend_get(&f->env, txn, "webapp.gslb.example.com", &a2, 80, &b),
                     GSLB_ENOENT);
    c = count_backends(&f->env, txn, "webapp.gslb.example.com");
    assert_int_equal(c.config, 2);
    assert_int_equal(c.agent, 1);
    /* the agent's record for a configured address wins */
    gslb_addr_t a3 = addr_of("198.51.100.1");
    assert_int_equal(gslb_store_backend_get(&f->env, txn, "api.gslb.example.com", &a3, 80, &b), 0);
    assert_int_equal(b.source, GSLB_SOURCE_AGENT);
    assert_int_equal(b.agent_health, GSLB_UNHEALTHY);
    assert_string_equal(b.agent_id, "agent-1");
    /* answers were recompiled: 192.0.2.1 unhealthy, agent 203.0.113.5 healthy */
    assert_int_equal(healthy_candidates(&f->env, txn, "webapp.gslb.example.com", 1), 1);
    assert_int_equal(healthy_candidates(&f->env, txn, "webapp.gslb.example.com", 28), 1);
    assert_int_equal(healthy_candidates(&f->env, txn, "gone.old.example.net", 1), -1);
    mdb_txn_abort(txn);
}

/* Run gslb-dump --json on the store, as an operator would, and parse its output. */
static json_t *dump_json(const char *dir)
{
    char cmd[1024];
    if (access(GSLB_BIN_DIR "/storage/dump/gslb-dump", X_OK) != 0)
        fail_msg("%s/storage/dump/gslb-dump is not built", GSLB_BIN_DIR);
    snprintf(cmd, sizeof(cmd),
             "%s/storage/dump/gslb-dump --json --data-dir '%s' meta zones domains backends",
             GSLB_BIN_DIR, dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    json_error_t err;
    json_t *doc = json_loadf(p, 0, &err);
    assert_int_equal(pclose(p), 0);
    if (!doc)
        fail_msg("gslb-dump output is not JSON: %s", err.text);
    return doc;
}

static const json_t *find_backend(const json_t *list, const char *domain, const char *addr)
{
    size_t i;
    const json_t *b;
    json_array_foreach(list, i, b)
    {
        if (strcmp(json_string_value(json_object_get(b, "domain")), domain) == 0 &&
            strcmp(json_string_value(json_object_get(b, "address")), addr) == 0)
            return b;
    }
    return NULL;
}

static void test_apply_as_gslb_dump_shows_it(void **state)
{
    store_fixture_t *f = *state;
    apply_yaml(&f->env, apply_a);
    simulate_runtime_state(&f->env);
    apply_yaml(&f->env, apply_b);
    json_t *doc = dump_json(f->dir);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "meta"), "node_id")),
                        "node-b");
    const json_t *zones = json_object_get(doc, "zones");
    assert_int_equal(json_array_size(zones), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(zones, 0), "zone")),
                        "gslb.example.com");
    const json_t *domains = json_object_get(doc, "domains");
    assert_int_equal(json_array_size(domains), 2);
    const json_t *backends = json_object_get(doc, "backends");
    /* webapp: 192.0.2.1, 2001:db8::1 (config), 203.0.113.5 (agent);
     * api: 192.0.2.1, 2001:db8::1 (config), 198.51.100.1 (agent) */
    assert_int_equal(json_array_size(backends), 6);
    const json_t *b = find_backend(backends, "webapp.gslb.example.com", "192.0.2.1");
    assert_non_null(b);
    assert_int_equal(json_integer_value(json_object_get(b, "weight")), 99);
    assert_string_equal(json_string_value(json_object_get(b, "source")), "config");
    assert_string_equal(json_string_value(json_object_get(b, "validation")), "unhealthy");
    assert_false(json_is_true(json_object_get(b, "servable")));
    b = find_backend(backends, "webapp.gslb.example.com", "203.0.113.5");
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(b, "source")), "agent");
    b = find_backend(backends, "api.gslb.example.com", "2001:db8::1");
    assert_non_null(b);
    assert_int_equal(json_integer_value(json_object_get(b, "port")), 8080);
    assert_string_equal(json_string_value(json_object_get(b, "region")), "r1");
    assert_null(find_backend(backends, "webapp.gslb.example.com", "192.0.2.2"));
    json_decref(doc);
}

static void test_apply_default_config(void **state)
{
    store_fixture_t *f = *state;
    gslb_config_t cfg;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(gslb_config_load_default(&cfg, f->dir, 5300, &eb), 0);
    int rc = gslb_config_apply_to_store(&cfg, &f->env, &eb);
    gslb_config_free(&cfg);
    if (rc != 0)
        fail_msg("%s", eb.msg);
    MDB_txn *txn = NULL;
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), 0);
    struct backend_count c = count_backends(&f->env, txn, NULL);
    assert_int_equal(c.config, 8);
    assert_int_equal(healthy_candidates(&f->env, txn, "webapp.gslb.example.com", 1), 3);
    assert_int_equal(healthy_candidates(&f->env, txn, "webapp.gslb.example.com", 28), 1);
    assert_int_equal(healthy_candidates(&f->env, txn, "db.gslb.example.com", 1), 2);
    mdb_txn_abort(txn);
}

/* ---- restart-only settings (gslb_config_restart_diff) ------------------------------ */

enum field_kind { F_TEXT, F_BOOL, F_U16, F_U32, F_U64 };

typedef struct restart_field {
    const char *name;
    size_t offset;
    enum field_kind kind;
    unsigned group;
} restart_field_t;

#define RF(member, kind, group)                                                                    \
    {                                                                                              \
#member, offsetof(gslb_cfg_restart_t, member), kind, group                                 \
    }

/* Every field of gslb_cfg_restart_t (hostports by host and by port) and its group. */
static const restart_field_t RESTART_FIELDS[] = {
    RF(data_dir, F_TEXT, GSLB_RESTART_STORAGE),
    RF(user, F_TEXT, GSLB_RESTART_STORAGE),
    RF(map_size, F_U64, GSLB_RESTART_STORAGE),
    RF(dns_listen.host, F_TEXT, GSLB_RESTART_DNS),
    RF(dns_listen.port, F_U16, GSLB_RESTART_DNS),
    RF(dns_workers, F_U32, GSLB_RESTART_DNS),
    RF(edns_payload, F_U32, GSLB_RESTART_DNS),
    RF(tcp_idle_timeout_ms, F_U32, GSLB_RESTART_DNS),
    RF(tcp_max_clients, F_U32, GSLB_RESTART_DNS),
    RF(tcp_message_timeout_ms, F_U32, GSLB_RESTART_DNS),
    RF(tcp_max_clients_per_source, F_U32, GSLB_RESTART_DNS),
    RF(gossip_bind.host, F_TEXT, GSLB_RESTART_GOSSIP),
    RF(gossip_bind.port, F_U16, GSLB_RESTART_GOSSIP),
    RF(api_addr.host, F_TEXT, GSLB_RESTART_API),
    RF(api_addr.port, F_U16, GSLB_RESTART_API),
    RF(api_enabled, F_BOOL, GSLB_RESTART_API),
    RF(tls_cert, F_TEXT, GSLB_RESTART_API),
    RF(tls_key, F_TEXT, GSLB_RESTART_API),
    RF(api_local_addr.host, F_TEXT, GSLB_RESTART_API_LOCAL),
    RF(api_local_addr.port, F_U16, GSLB_RESTART_API_LOCAL),
    RF(api_local_enabled, F_BOOL, GSLB_RESTART_API_LOCAL),
    RF(metrics_addr.host, F_TEXT, GSLB_RESTART_METRICS),
    RF(metrics_addr.port, F_U16, GSLB_RESTART_METRICS),
    RF(metrics_enabled, F_BOOL, GSLB_RESTART_METRICS),
    RF(node_id, F_TEXT, GSLB_RESTART_IDENTITY),
    RF(region, F_TEXT, GSLB_RESTART_IDENTITY),
    RF(stale_threshold_ms, F_U64, GSLB_RESTART_STALE),
    RF(stale_remove_after_ms, F_U64, GSLB_RESTART_STALE),
    RF(stale_deaf_percent, F_U32, GSLB_RESTART_STALE),
    RF(stale_deaf_min_agents, F_U32, GSLB_RESTART_STALE),
    RF(validation_enabled, F_BOOL, GSLB_RESTART_VALIDATION),
    RF(validation_interval_ms, F_U64, GSLB_RESTART_VALIDATION),
    RF(validation_timeout_ms, F_U64, GSLB_RESTART_VALIDATION),
};

/* Change one field so that it differs from its previous value. */
static void change_field(gslb_cfg_restart_t *r, const restart_field_t *f)
{
    unsigned char *p = (unsigned char *)r + f->offset;
    switch (f->kind) {
    case F_TEXT:
        strcat((char *)p, "x");
        break;
    case F_BOOL:
        *(bool *)p = !*(bool *)p;
        break;
    case F_U16:
        (*(uint16_t *)p)++;
        break;
    case F_U32:
        (*(uint32_t *)p)++;
        break;
    case F_U64:
        (*(uint64_t *)p)++;
        break;
    }
}

static void test_restart_diff_names_each_field(void **state)
{
    (void)state;
    gslb_config_t cfg;
    gslb_errbuf_t eb;
    if (gslb_config_load_default(&cfg, "/tmp/demo", 5300, &eb) != 0)
        fail_msg("%s", eb.msg);
    gslb_cfg_restart_t next = cfg.restart;
    assert_int_equal(gslb_config_restart_diff(&cfg.restart, &next), 0);
    unsigned seen = 0;
    for (size_t i = 0; i < sizeof(RESTART_FIELDS) / sizeof(RESTART_FIELDS[0]); i++) {
        const restart_field_t *f = &RESTART_FIELDS[i];
        next = cfg.restart;
        change_field(&next, f);
        if (gslb_config_restart_diff(&cfg.restart, &next) != f->group)
            fail_msg("%s: diff 0x%x, want group 0x%x", f->name,
                     gslb_config_restart_diff(&cfg.restart, &next), f->group);
        assert_int_equal(gslb_config_restart_diff(&next, &cfg.restart), f->group);
        seen |= f->group;
    }
    assert_int_equal(seen, (1u << GSLB_RESTART_GROUP_COUNT) - 1);
    /* several groups at once */
    next = cfg.restart;
    next.map_size *= 2;
    next.metrics_enabled = !next.metrics_enabled;
    assert_int_equal(gslb_config_restart_diff(&cfg.restart, &next),
                     GSLB_RESTART_STORAGE | GSLB_RESTART_METRICS);
    gslb_config_free(&cfg);
}

static void test_restart_group_names(void **state)
{
    (void)state;
    assert_string_equal(gslb_config_restart_name(GSLB_RESTART_STORAGE),
                        "overwatch.data_dir/user/storage.map_size");
    assert_string_equal(gslb_config_restart_name(GSLB_RESTART_DNS),
                        "dns.listen_address/workers/edns/tcp settings");
    assert_string_equal(gslb_config_restart_name(GSLB_RESTART_API),
                        "api.enabled/address/tls_cert/tls_key");
    assert_string_equal(gslb_config_restart_name(GSLB_RESTART_VALIDATION), "overwatch.validation");
    for (unsigned i = 0; i < GSLB_RESTART_GROUP_COUNT; i++)
        assert_non_null(gslb_config_restart_name(1u << i));
    assert_null(gslb_config_restart_name(0));
    assert_null(gslb_config_restart_name(GSLB_RESTART_DNS | GSLB_RESTART_API));
    assert_null(gslb_config_restart_name(1u << GSLB_RESTART_GROUP_COUNT));
}

/* ---- did you mean ---------------------------------------------------------------- */

static void test_error_unknown_key_names_its_section(void **state)
{
    (void)state;
    /* the HA guide's Step 4 snippet pasted as printed: dnssec at the top level */
    expect_error("mode: overwatch\n"
                 "dnssec:\n"
                 "  enabled: true\n"
                 "  key_sync:\n"
                 "    peers:\n"
                 "      - \"https://overwatch-us-west-1.internal:9090\"\n"
                 "    poll_interval: 1h\n",
                 "t.yaml:2:1: dnssec: ",
                 "did you mean overwatch.dnssec? (dnssec belongs under "
                 "overwatch:)");
    expect_error("mode: overwatch\noverwatch:\n  key_sync: {peers: []}\n",
                 "t.yaml:3:3: overwatch.key_sync: ", "did you mean overwatch.dnssec.key_sync?");
    expect_error(
        "mode: overwatch\noverwatch:\n  dnssec:\n    peers: []\n",
        "t.yaml:4:5: overwatch.dnssec.peers: ", "did you mean overwatch.dnssec.key_sync.peers?");
    expect_error("mode: overwatch\nzones: [gslb.example.com]\n",
                 "t.yaml:2:1: zones: ", "did you mean dns.zones?");
    /* a key that belongs nowhere keeps the list of valid keys */
    expect_error("mode: overwatch\ndnz: {}\n",
                 "t.yaml:2:1: dnz: ", "unknown key (expected one of:");
}

/* ---- files the configuration names (gslb_config_check_files) ------------------- */

typedef struct tls_files {
    char dir[64];
    char cert[128], key[128], other_key[128], ca[128];
} tls_files_t;

static void make_cert(const char *dir, const char *name)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
             "-subj /CN=%s -keyout %s/%s.key -out %s/%s.crt >/dev/null 2>&1",
             name, dir, name, dir, name);
    if (system(cmd) != 0)
        fail_msg("openssl req failed: %s", cmd);
}

static int tls_setup(void **state)
{
    tls_files_t *t = calloc(1, sizeof(*t));
    if (!t || gslb_test_mkdtemp(t->dir, sizeof(t->dir), "cfgfiles") != 0)
        return -1;
    chmod(t->dir, 0755); /* traversable by the unprivileged user of the access test */
    make_cert(t->dir, "api");
    make_cert(t->dir, "other");
    snprintf(t->cert, sizeof(t->cert), "%s/api.crt", t->dir);
    snprintf(t->key, sizeof(t->key), "%s/api.key", t->dir);
    snprintf(t->other_key, sizeof(t->other_key), "%s/other.key", t->dir);
    snprintf(t->ca, sizeof(t->ca), "%s/api.crt", t->dir);
    *state = t;
    return 0;
}

static int tls_teardown(void **state)
{
    tls_files_t *t = *state;
    int rc = gslb_test_rmtree(t->dir);
    free(t);
    return rc;
}

/* Load a config naming cert, key and ca_file (NULL = leave the key out), then check its
 * files; returns the check's result with the message in eb. */
static int check_files(const tls_files_t *t, const char *cert, const char *key, const char *ca,
                       const char *data_dir, gslb_errbuf_t *eb)
{
    char yaml[2048];
    int n = snprintf(yaml, sizeof(yaml),
                     "mode: overwatch\n"
                     "overwatch:\n"
                     "  data_dir: %s\n",
                     data_dir ? data_dir : t->dir);
    if (ca)
        n += snprintf(yaml + n, sizeof(yaml) - (size_t)n,
                      "  dnssec:\n    key_sync:\n      ca_file: %s\n", ca);
    if (cert)
        snprintf(yaml + n, sizeof(yaml) - (size_t)n,
                 "api:\n  address: \"127.0.0.1:9090\"\n  tls_cert: %s\n  tls_key: %s\n", cert, key);
    gslb_config_t cfg;
    int rc = gslb_config_load_string("t.yaml", yaml, &cfg, eb);
    if (rc != 0)
        fail_msg("load: %s", eb->msg);
    rc = gslb_config_check_files(&cfg, eb);
    gslb_config_free(&cfg);
    return rc;
}

static void expect_files_error(const tls_files_t *t, const char *cert, const char *key,
                               const char *ca, const char *data_dir, const char *prefix,
                               const char *problem)
{
    gslb_errbuf_t eb = {{0}};
    int rc = check_files(t, cert, key, ca, data_dir, &eb);
    if (rc == 0)
        fail_msg("accepted, want \"%s...%s\"", prefix, problem);
    assert_int_equal(rc, GSLB_ECONFIG);
    if (strncmp(eb.msg, prefix, strlen(prefix)) != 0 || !strstr(eb.msg, problem))
        fail_msg("got \"%s\", want prefix \"%s\" and \"%s\"", eb.msg, prefix, problem);
}

static void test_check_files_accepts_a_matching_pair(void **state)
{
    tls_files_t *t = *state;
    gslb_errbuf_t eb = {{0}};
    if (check_files(t, t->cert, t->key, t->ca, NULL, &eb) != 0)
        fail_msg("%s", eb.msg);
    /* no TLS, no CA file: nothing to open */
    if (check_files(t, NULL, NULL, NULL, NULL, &eb) != 0)
        fail_msg("%s", eb.msg);
}

static void test_check_files_tls_key(void **state)
{
    tls_files_t *t = *state;
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/missing.key", t->dir);
    /* api: is line 4; tls_cert line 6, tls_key line 7, both at column 3 */
    expect_files_error(t, t->cert, missing, NULL, NULL,
                       "t.yaml:7:3: api.tls_key: ", "No such file or directory");
    expect_files_error(t, t->cert, t->dir, NULL, NULL,
                       "t.yaml:7:3: api.tls_key: ", "is not a regular file");
    expect_files_error(t, t->cert, t->cert, NULL, NULL,
                       "t.yaml:7:3: api.tls_key: ", "holds no unencrypted PEM private key");
    expect_files_error(t, t->cert, t->other_key, NULL, NULL,
                       "t.yaml:7:3: api.tls_key: ", "is not the private key of api.tls_cert");
}

static void test_check_files_tls_cert_and_ca(void **state)
{
    tls_files_t *t = *state;
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/missing.crt", t->dir);
    expect_files_error(t, missing, t->key, NULL, NULL,
                       "t.yaml:6:3: api.tls_cert: ", "No such file or directory");
    expect_files_error(t, t->key, t->key, NULL, NULL,
                       "t.yaml:6:3: api.tls_cert: ", "holds no PEM certificate");
    /* ca_file: a directory passes access(R_OK) but is no CA bundle */
    expect_files_error(t, NULL, NULL, t->dir, NULL,
                       "t.yaml:6:7: overwatch.dnssec.key_sync.ca_file: ", "not a regular file");
    expect_files_error(
        t, NULL, NULL, t->key, NULL,
        "t.yaml:6:7: overwatch.dnssec.key_sync.ca_file: ", "holds no PEM certificate");
}

static void test_check_files_data_dir(void **state)
{
    tls_files_t *t = *state;
    char below_missing[160];
    snprintf(below_missing, sizeof(below_missing), "%s/no/such", t->dir);
    expect_files_error(t, NULL, NULL, NULL, t->cert,
                       "t.yaml:3:3: overwatch.data_dir: ", "is not a directory");
    expect_files_error(t, NULL, NULL, NULL, below_missing,
                       "t.yaml:3:3: overwatch.data_dir: ", "cannot be created");
    char creatable[160];
    snprintf(creatable, sizeof(creatable), "%s/new", t->dir);
    gslb_errbuf_t eb = {{0}};
    if (check_files(t, NULL, NULL, NULL, creatable, &eb) != 0)
        fail_msg("%s", eb.msg);
}

/* As the service user: a key only root can read fails; after chgrp + chmod 0640 (the HA
 * guide's recipe) it passes. Run in a child that drops to nobody (the test runs as root in
 * CI); as an ordinary user the child cannot switch and checks as itself. */
static int check_as_nobody(const tls_files_t *t, char *msg, size_t cap)
{
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        gslb_errbuf_t eb = {{0}};
        int rc = check_files(t, t->cert, t->key, NULL, "/tmp", &eb);
        ssize_t w = write(pipefd[1], eb.msg, strlen(eb.msg));
        (void)w;
        _exit(rc == 0 ? 0 : 1);
    }
    close(pipefd[1]);
    ssize_t n = read(pipefd[0], msg, cap - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_check_files_as_the_service_user(void **state)
{
    tls_files_t *t = *state;
    char msg[512];
    assert_int_equal(chmod(t->key, 0600), 0);
    if (geteuid() != 0) {
        /* not root: make the key unreadable for ourselves instead */
        assert_int_equal(chmod(t->key, 0000), 0);
        gslb_errbuf_t eb = {{0}};
        assert_int_equal(check_files(t, t->cert, t->key, NULL, "/tmp", &eb), GSLB_ECONFIG);
        assert_non_null(strstr(eb.msg, "Permission denied"));
        assert_int_equal(chmod(t->key, 0600), 0);
        return;
    }
    assert_int_equal(chown(t->key, 0, 0), 0);
    assert_int_equal(check_as_nobody(t, msg, sizeof(msg)), 1);
    if (!strstr(msg, "t.yaml:7:3: api.tls_key: cannot open") ||
        !strstr(msg, "as uid 65534: Permission denied") || !strstr(msg, "chmod 0640"))
        fail_msg("got \"%s\"", msg);
    assert_int_equal(chown(t->key, 0, 65534), 0);
    assert_int_equal(chmod(t->key, 0640), 0);
    if (check_as_nobody(t, msg, sizeof(msg)) != 0)
        fail_msg("after chgrp + chmod 0640: %s", msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_overwatch_1),
        cmocka_unit_test(test_seed_overwatch_1_with_peers),
        cmocka_unit_test(test_seed_overwatch_2_and_3),
        cmocka_unit_test(test_seed_key_sizes_and_unset_vars),
        cmocka_unit_test(test_seed_peers_need_cluster_token),
        cmocka_unit_test(test_secrets_stay_apart),
        cmocka_unit_test(test_user_setting),
        cmocka_unit_test(test_docs_example),
        cmocka_unit_test(test_loopback_fixture),
        cmocka_unit_test(test_default_config),
        cmocka_unit_test(test_minimal_and_defaults),
        cmocka_unit_test(test_map_sizes),
        cmocka_unit_test(test_backend_mapping),
        cmocka_unit_test(test_error_unknown_keys),
        cmocka_unit_test(test_error_types),
        cmocka_unit_test(test_error_addresses),
        cmocka_unit_test(test_error_cidr_duration_key),
        cmocka_unit_test(test_error_gslb),
        cmocka_unit_test(test_error_mode_and_vars),
        cmocka_unit_test(test_error_unknown_key_names_its_section),
        cmocka_unit_test_setup_teardown(test_check_files_accepts_a_matching_pair, tls_setup,
                                        tls_teardown),
        cmocka_unit_test_setup_teardown(test_check_files_tls_key, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(test_check_files_tls_cert_and_ca, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(test_check_files_data_dir, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(test_check_files_as_the_service_user, tls_setup,
                                        tls_teardown),
        cmocka_unit_test(test_restart_diff_names_each_field),
        cmocka_unit_test(test_restart_group_names),
        cmocka_unit_test_setup_teardown(test_apply_first, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_apply_preserves_runtime_state, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_apply_as_gslb_dump_shows_it, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_apply_default_config, store_setup, store_teardown),
    };
    gslb_log_set_level(GSLB_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
