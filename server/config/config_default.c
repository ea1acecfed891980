/*
 * config_default.c - the embedded demo configuration (gslb_config_load_default):
 * a complete overwatch on loopback, loaded through the same YAML loader and
 * validation as a file, so it can never drift from the schema.
 *
 * DEMO ONLY: the gossip key and tokens below are public. Never use them in a
 * real deployment.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* base64 of the 32 ASCII bytes "opengslb-demo-only-gossip-key-32" (demo only). */
#define DEMO_GOSSIP_KEY "b3BlbmdzbGItZGVtby1vbmx5LWdvc3NpcC1rZXktMzI="

/* Printf template; %1$s = quoted data_dir, %2$u..%5$u = DNS, gossip, API, metrics ports. */
static const char demo_template[] =
    "# OpenGSLB-C embedded demo configuration (loopback only, DEMO SECRETS).\n"
    "mode: overwatch\n"
    "overwatch:\n"
    "  identity:\n"
    "    node_id: demo-overwatch\n"
    "    region: us-east\n"
    "  agent_tokens:\n"
    "    webapp: demo-webapp-token   # DEMO ONLY\n"
    "  gossip:\n"
    "    bind_address: \"127.0.0.1:%3$u\"\n"
    "    encryption_key: \"" DEMO_GOSSIP_KEY "\"   # DEMO ONLY\n"
    "  dnssec:\n"
    "    enabled: true\n"
    "    algorithm: ECDSAP256SHA256\n"
    "  data_dir: %1$s\n"
    "dns:\n"
    "  listen_address: \"127.0.0.1:%2$u\"\n"
    "  default_ttl: 30\n"
    "  zones:\n"
    "    - name: gslb.example.com\n"
    "      ns: [ns1.gslb.example.com]\n"
    "      ns_addresses:\n"
    "        ns1.gslb.example.com: [127.0.0.1]\n"
    "api:\n"
    "  address: \"127.0.0.1:%4$u\"\n"
    "  token: demo-api-token   # DEMO ONLY (admin bearer token for mutating API routes)\n"
    "metrics:\n"
    "  address: \"127.0.0.1:%5$u\"\n"
    "regions:\n"
    "  - name: us-east\n"
    "    servers:\n"
    "      - {address: 127.0.0.10, port: 80, service: webapp}\n"
    "      - {address: 127.0.0.11, port: 80, service: webapp}\n"
    "      - {address: 127.0.0.20, port: 80, weight: 300, service: api}\n"
    "      - {address: 127.0.0.30, port: 5432, service: db}\n"
    "  - name: eu-west\n"
    "    servers:\n"
    "      - {address: 127.0.0.12, port: 80, service: webapp}\n"
    "      - {address: \"::1\", port: 80, service: webapp}\n"
    "      - {address: 127.0.0.21, port: 80, weight: 100, service: api}\n"
    "      - {address: 127.0.0.31, port: 5432, service: db}\n"
    "domains:\n"
    "  - name: webapp.gslb.example.com\n"
    "    routing_algorithm: round-robin\n"
    "    regions: [us-east, eu-west]\n"
    "  - name: api.gslb.example.com\n"
    "    routing_algorithm: weighted\n"
    "    regions: [us-east, eu-west]\n"
    "  - name: db.gslb.example.com\n"
    "    routing_algorithm: failover\n"
    "    regions: [us-east, eu-west]\n";

/* A double-quoted YAML scalar for arbitrary text ("${" is escaped as "$${"). */
static int yaml_quote(const char *in, char *out, size_t cap)
{
    size_t j = 0;
    if (cap < 3)
        return GSLB_ERANGE;
    out[j++] = '"';
    for (size_t i = 0; in[i]; i++) {
        unsigned char ch = (unsigned char)in[i];
        char esc[8];
        if (ch == '"' || ch == '\\')
            snprintf(esc, sizeof(esc), "\\%c", ch);
        else if (ch < 0x20)
            snprintf(esc, sizeof(esc), "\\x%02x", ch);
        else if (ch == '$' && in[i + 1] == '{')
            snprintf(esc, sizeof(esc), "$$");
        else
            snprintf(esc, sizeof(esc), "%c", ch);
        size_t n = strlen(esc);
        if (j + n + 2 > cap)
            return GSLB_ERANGE;
        memcpy(out + j, esc, n);
        j += n;
    }
    out[j++] = '"';
    out[j] = '\0';
    return 0;
}

int gslb_config_load_default(gslb_config_t *cfg, const char *data_dir, uint16_t dns_port,
                             gslb_errbuf_t *eb)
{
    memset(cfg, 0, sizeof(*cfg));
    if (dns_port == 0 || dns_port > 65535 - 3)
        return gslb_errf(eb, GSLB_EINVAL,
                         "demo config: DNS port must be 1..65532 (the next three ports are "
                         "gossip, API and metrics)");
    char quoted[4096 * 2 + 8];
    if (!data_dir || !*data_dir || yaml_quote(data_dir, quoted, sizeof(quoted)) != 0)
        return gslb_errf(eb, GSLB_EINVAL, "demo config: a data directory is required");
    size_t cap = sizeof(demo_template) + strlen(quoted) + 64;
    char *yaml = malloc(cap);
    if (!yaml)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    snprintf(yaml, cap, demo_template, quoted, (unsigned)dns_port, (unsigned)dns_port + 1u,
             (unsigned)dns_port + 2u, (unsigned)dns_port + 3u);
    int rc = gslb_config_load_string("<embedded>", yaml, cfg, eb);
    free(yaml);
    return rc;
}
