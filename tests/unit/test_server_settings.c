/*
 * test_server_settings.c - the settings gslb-overwatch hands to the modules
 * below it, filled from a loaded configuration: the API's gslb_api_settings_t
 * (server/api_settings.h), field by field, and the token rule (api.token, else
 * agent_tokens.api, else none).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "api_settings.h"
#include "config.h"

#include <stdio.h>
#include <string.h>

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
    assert_string_equal(set.token, "api-secret"); /* api.token wins over agent_tokens.api */
    assert_true(set.allow_plaintext_export);
    assert_int_equal(set.allowed_net_count, 2);
    assert_string_equal(set.allowed_networks[0], "10.0.0.0/8");
    assert_string_equal(set.allowed_networks[1], "2001:db8::/32");
    assert_int_equal(set.peer_count, 2);
    assert_string_equal(set.peers[0], "https://192.0.2.10:9090");
    assert_string_equal(set.peers[1], "https://ow-2.example:9090");

    gslb_api_settings_wipe(&set);
    assert_string_equal(set.token, "");
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
    assert_string_equal(set.token, ""); /* no token: mutating routes refused */
    assert_false(set.allow_plaintext_export);
    assert_int_equal(set.allowed_net_count, 2); /* the loader's loopback default */
    assert_string_equal(set.allowed_networks[0], "127.0.0.0/8");
    assert_int_equal(set.peer_count, 0);
    gslb_config_free(&cfg);
}

static void test_api_token_from_agent_tokens(void **state)
{
    (void)state;
    gslb_config_t cfg;
    load_ok("mode: overwatch\n"
            "overwatch:\n"
            "  agent_tokens: {webapp: agent-secret, api: agent-api-secret}\n",
            &cfg);
    gslb_api_settings_t set;
    gslb_api_settings_from_config(&cfg, &set);
    assert_string_equal(set.token, "agent-api-secret");
    gslb_config_free(&cfg);

    load_ok("mode: overwatch\n"
            "overwatch:\n"
            "  agent_tokens: {webapp: agent-secret}\n",
            &cfg);
    gslb_api_settings_from_config(&cfg, &set);
    assert_string_equal(set.token, ""); /* another agent's token is never the API's */
    gslb_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_settings_every_field),
        cmocka_unit_test(test_api_settings_defaults),
        cmocka_unit_test(test_api_token_from_agent_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
