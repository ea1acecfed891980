/*
 * test_agent_config.c - gslb-agentd configuration (agentd/agent_config.h):
 * a full file, the seed's snippet (defaults + notes), ${VAR}, and positioned
 * errors for every rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static const char *const FULL = "mode: agent\n"
                                "agent:\n"
                                "  identity:\n"
                                "    agent_id: web-1\n"
                                "    region: eu-west\n"
                                "    service_token: \"${TEST_AGENT_TOKEN}\"\n"
                                "  backends:\n"
                                "    - service: WebApp.gslb.example.com.\n"
                                "      address: \"2001:db8::10\"\n"
                                "      port: 8443\n"
                                "      weight: 50\n"
                                "      health_check:\n"
                                "        type: https\n"
                                "        path: /healthz\n"
                                "        host: webapp.example.com\n"
                                "        expected_status: [200, 204]\n"
                                "        interval: 2s\n"
                                "        timeout: 500ms\n"
                                "        failure_threshold: 4\n"
                                "        success_threshold: 1\n"
                                "        tls_verify: false\n"
                                "    - service: api\n"
                                "      address: 10.0.0.2\n"
                                "      port: 80\n"
                                "  gossip:\n"
                                "    encryption_key: \"" KEY "\"\n"
                                "    overwatch_nodes:\n"
                                "      - 127.0.0.1:7946\n"
                                "      - \"[::1]:7947\"\n"
                                "      - overwatch-1.internal\n"
                                "  heartbeat:\n"
                                "    interval: 250ms\n"
                                "logging: {level: debug, format: json}\n";

static void test_full_file(void **state)
{
    (void)state;
    gslb_agent_config_t c;
    gslb_errbuf_t eb = {{0}};
    setenv("TEST_AGENT_TOKEN", "tok-123", 1);
    int rc = gslb_agent_config_load_string("agent.yaml", FULL, &c, &eb);
    if (rc)
        print_message("%s\n", eb.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(c.agent_id, "web-1");
    assert_string_equal(c.region, "eu-west");
    assert_string_equal(c.token, "tok-123");
    assert_string_equal(c.token_name, "webapp"); /* first label of the first service */
    assert_int_equal(c.backend_count, 2);
    const gslb_agent_backend_cfg_t *b = &c.backends[0];
    assert_string_equal(b->service, "webapp.gslb.example.com");
    assert_int_equal(b->addr.family, AF_INET6);
    assert_int_equal(b->port, 8443);
    assert_int_equal(b->weight, 50);
    assert_int_equal(b->check.type, GSLB_PROBE_HTTPS);
    assert_string_equal(b->check.path, "/healthz");
    assert_string_equal(b->check.host, "webapp.example.com");
    assert_int_equal(b->check.expected_count, 2);
    assert_int_equal(b->check.expected_status[1], 204);
    assert_int_equal(b->check.interval_ms, 2000);
    assert_int_equal(b->check.timeout_ms, 500);
    assert_int_equal(b->check.failure_threshold, 4);
    assert_int_equal(b->check.success_threshold, 1);
    assert_false(b->check.tls_verify);
    assert_true(gslb_addr_equal(&b->check.addr, &b->addr));
    assert_int_equal(b->check.port, 8443);
    /* defaults of the second backend */
    b = &c.backends[1];
    assert_int_equal(b->weight, GSLB_AGENT_DEFAULT_WEIGHT);
    assert_int_equal(b->check.type, GSLB_PROBE_TCP);
    assert_int_equal(b->check.interval_ms, GSLB_PROBE_DEFAULT_INTERVAL_MS);
    assert_true(b->check.tls_verify);
    assert_int_equal(c.node_count, 3);
    assert_string_equal(c.nodes[1].host, "::1");
    assert_int_equal(c.nodes[1].port, 7947);
    assert_string_equal(c.nodes[2].host, "overwatch-1.internal");
    assert_int_equal(c.nodes[2].port, 7946);
    assert_int_equal(c.key_len, 32);
    assert_int_equal(c.key[31], 31);
    assert_int_equal(c.heartbeat_interval_ms, 250);
    assert_int_equal(c.log_level, GSLB_LOG_DEBUG);
    assert_int_equal(c.log_format, GSLB_LOG_JSON);
    assert_int_equal(c.note_count, 0);
    gslb_agent_config_free(&c);
}

static void test_seed_snippet(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/seed/agent.yaml", GSLB_FIXTURES);
    gslb_agent_config_t c;
    gslb_errbuf_t eb = {{0}};
    unsetenv("GOSSIP_KEY");
    assert_int_equal(gslb_agent_config_load(path, &c, &eb), GSLB_ECONFIG);
    assert_non_null(strstr(eb.msg, "GOSSIP_KEY"));
    assert_non_null(strstr(eb.msg, "agent.yaml:4:"));
    setenv("GOSSIP_KEY", KEY, 1);
    int rc = gslb_agent_config_load(path, &c, &eb);
    if (rc)
        print_message("%s\n", eb.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(c.node_count, 3);
    assert_string_equal(c.nodes[0].host, "overwatch-us-east-1.internal");
    assert_int_equal(c.nodes[2].port, 7946);
    assert_int_equal(c.backend_count, 0);
    assert_string_equal(c.region, GSLB_AGENT_DEFAULT_REGION);
    assert_true(c.agent_id[0] != '\0'); /* the host name */
    assert_int_equal(c.heartbeat_interval_ms, GSLB_AGENT_DEFAULT_HEARTBEAT_MS);
    assert_int_equal(c.note_count, 2);
    assert_non_null(strstr(c.notes[0], "agent.backends: none defined"));
    assert_non_null(strstr(c.notes[1], "service_token: not set"));
    gslb_agent_config_free(&c);
    unsetenv("GOSSIP_KEY");
}

/* yaml must fail with a message containing every one of want[] (NULL-terminated). */
static void expect_error(const char *yaml, const char *const *want)
{
    gslb_agent_config_t c;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(gslb_agent_config_load_string("a.yaml", yaml, &c, &eb), GSLB_ECONFIG);
    for (; *want; want++) {
        if (!strstr(eb.msg, *want))
            print_message("message \"%s\" lacks \"%s\"\n", eb.msg, *want);
        assert_non_null(strstr(eb.msg, *want));
    }
    assert_int_equal(c.backend_count, 0); /* freed */
    assert_null(c.backends);
}

#define GOSSIP_OK                                                                                  \
    "  gossip:\n    encryption_key: \"" KEY "\"\n    overwatch_nodes: [\"127.0.0.1:7946\"]\n"

static void test_errors(void **state)
{
    (void)state;
    expect_error("agent: {}\n", (const char *const[]){"a.yaml:1:", "agent.gossip", NULL});
    expect_error("mode: overwatch\nagent:\n" GOSSIP_OK,
                 (const char *const[]){"a.yaml:1:", "mode", "agent", NULL});
    expect_error("agent:\n  gossip:\n    overwatch_nodes: [\"a:1\"]\n",
                 (const char *const[]){"agent.gossip.encryption_key", "required", NULL});
    expect_error("agent:\n  gossip:\n    encryption_key: \"c2hvcnQ=\"\n    overwatch_nodes: "
                 "[\"a:1\"]\n",
                 (const char *const[]){"a.yaml:3:", "encryption_key", NULL});
    expect_error("agent:\n  gossip:\n    encryption_key: \"" KEY "\"\n    overwatch_nodes: []\n",
                 (const char *const[]){"overwatch_nodes", NULL});
    expect_error("agent:\n  gossip:\n    encryption_key: \"" KEY "\"\n"
                 "    overwatch_nodes: [\"bad host:1\"]\n",
                 (const char *const[]){"overwatch_nodes[0]", NULL});
    expect_error("agent:\n  bogus: 1\n" GOSSIP_OK,
                 (const char *const[]){"a.yaml:2:", "bogus", NULL});
    expect_error("agent:\n  backends:\n    - {service: web, port: 80}\n" GOSSIP_OK,
                 (const char *const[]){"agent.backends[0].address", "required", NULL});
    expect_error("agent:\n  backends:\n    - {service: web, address: web.example.com, port: "
                 "80}\n" GOSSIP_OK,
                 (const char *const[]){"a.yaml:3:", "address", "IPv4 or IPv6", NULL});
    expect_error(
        "agent:\n  backends:\n    - {service: web, address: 10.0.0.1, port: 0}\n" GOSSIP_OK,
        (const char *const[]){"agent.backends[0].port", NULL});
    expect_error("agent:\n  backends:\n    - {service: web, address: 10.0.0.1, port: 80}\n"
                 "    - {service: web, address: 10.0.0.1, port: 80}\n" GOSSIP_OK,
                 (const char *const[]){"agent.backends[1]", "duplicate", NULL});
    expect_error("agent:\n  backends:\n    - service: web\n      address: 10.0.0.1\n      port: "
                 "80\n      health_check: {type: smtp}\n" GOSSIP_OK,
                 (const char *const[]){"health_check.type", "http, https or tcp", NULL});
    expect_error("agent:\n  backends:\n    - service: web\n      address: 10.0.0.1\n      port: "
                 "80\n      health_check: {type: http, path: health}\n" GOSSIP_OK,
                 (const char *const[]){"health_check.path", "'/'", NULL});
    expect_error("agent:\n  backends:\n    - service: web\n      address: 10.0.0.1\n      port: "
                 "80\n      health_check: {type: http, expected_status: [200, 700]}\n" GOSSIP_OK,
                 (const char *const[]){"expected_status[1]", NULL});
    expect_error("agent:\n  backends:\n    - service: web\n      address: 10.0.0.1\n      port: "
                 "80\n      health_check: {interval: 10ms}\n" GOSSIP_OK,
                 (const char *const[]){"health_check.interval", NULL});
    expect_error("agent:\n  identity: {agent_id: \"has space\"}\n" GOSSIP_OK,
                 (const char *const[]){"agent.identity.agent_id", NULL});
    expect_error("agent:\n  heartbeat: {interval: 2h}\n" GOSSIP_OK,
                 (const char *const[]){"agent.heartbeat.interval", NULL});
    expect_error("agent:\n  identity: {service_token: \"${NO_SUCH_VAR_FOR_TEST}\"}\n" GOSSIP_OK,
                 (const char *const[]){"NO_SUCH_VAR_FOR_TEST", NULL});
}

static void test_token_name_and_null_values(void **state)
{
    (void)state;
    gslb_agent_config_t c;
    gslb_errbuf_t eb = {{0}};
    const char *yaml = "agent:\n  identity:\n    agent_id: a1\n    region: ~\n"
                       "    service_token: t\n    token_name: shop\n"
                       "  backends:\n    - {service: web, address: \"::1\", port: 80}\n"
                       "  heartbeat:\n" GOSSIP_OK;
    int rc = gslb_agent_config_load_string("a.yaml", yaml, &c, &eb);
    if (rc)
        print_message("%s\n", eb.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(c.token_name, "shop"); /* explicit beats the default */
    assert_string_equal(c.region, GSLB_AGENT_DEFAULT_REGION);
    assert_int_equal(c.heartbeat_interval_ms, GSLB_AGENT_DEFAULT_HEARTBEAT_MS);
    assert_int_equal(c.note_count, 0);
    gslb_agent_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_seed_snippet),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_token_name_and_null_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
