/*
 * agent_config.c - gslb-agentd configuration loader (agent_config.h).
 */
#include "agent_config.h"
#include "gossip_wire.h"
#include "yamlconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct loader {
    const yc_doc_t *d;
    gslb_agent_config_t *cfg;
    gslb_errbuf_t *eb;
} loader_t;

/* A key that is absent or explicitly null is "not set". */
static const yc_node_t *opt(const yc_node_t *map, const char *key)
{
    const yc_node_t *n = map ? yc_get(map, key) : NULL;
    return yc_is_null(n) ? NULL : n;
}

static void add_note(gslb_agent_config_t *cfg, const char *text)
{
    if (cfg->note_count < GSLB_AGENT_MAX_NOTES)
        snprintf(cfg->notes[cfg->note_count++], sizeof(cfg->notes[0]), "%s", text);
}

static bool label_ok(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return false;
    return true;
}

static int read_label(loader_t *L, const yc_node_t *n, const char *path, char *out, size_t cap)
{
    int rc = yc_str(L->d, n, path, out, cap, L->eb);
    if (rc < 0)
        return rc;
    if (!label_ok(out))
        return yc_error(L->d, n, path, L->eb, "must be 1-%zu printable characters without spaces",
                        cap - 1);
    return GSLB_OK;
}

/* ---- agent.identity ------------------------------------------------------- */

static int default_agent_id(loader_t *L, const yc_node_t *at)
{
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || !label_ok(host) ||
        strlen(host) >= sizeof(L->cfg->agent_id))
        return yc_error(L->d, at, "agent.identity.agent_id", L->eb,
                        "not set and the host name cannot be used; set it");
    memcpy(L->cfg->agent_id, host, strlen(host) + 1);
    return GSLB_OK;
}

static int load_identity(loader_t *L, const yc_node_t *agent)
{
    static const char *const keys[] = {"agent_id", "region", "service_token", "token_name", NULL};
    const yc_node_t *id = opt(agent, "identity");
    gslb_agent_config_t *cfg = L->cfg;
    int rc;
    snprintf(cfg->region, sizeof(cfg->region), "%s", GSLB_AGENT_DEFAULT_REGION);
    if (id) {
        if ((rc = yc_expect(L->d, id, YC_MAP, "agent.identity", L->eb)) < 0 ||
            (rc = yc_check_keys(L->d, id, "agent.identity", keys, L->eb)) < 0)
            return rc;
    }
    const yc_node_t *n;
    if ((n = opt(id, "agent_id")) != NULL)
        rc = read_label(L, n, "agent.identity.agent_id", cfg->agent_id, sizeof(cfg->agent_id));
    else
        rc = default_agent_id(L, id ? id : agent);
    if (rc < 0)
        return rc;
    if ((n = opt(id, "region")) != NULL &&
        (rc = read_label(L, n, "agent.identity.region", cfg->region, sizeof(cfg->region))) < 0)
        return rc;
    if ((n = opt(id, "token_name")) != NULL &&
        (rc = read_label(L, n, "agent.identity.token_name", cfg->token_name,
                         sizeof(cfg->token_name))) < 0)
        return rc;
    if ((n = opt(id, "service_token")) != NULL) {
        if ((rc = yc_str(L->d, n, "agent.identity.service_token", cfg->token, sizeof(cfg->token),
                         L->eb)) < 0)
            return rc;
        if (!cfg->token[0])
            return yc_error(L->d, n, "agent.identity.service_token", L->eb, "must not be empty");
    }
    return GSLB_OK;
}

/* ---- agent.backends[].health_check ---------------------------------------- */

static int load_status_list(loader_t *L, const yc_node_t *n, const char *path, gslb_probe_spec_t *s)
{
    char p[256];
    int rc;
    uint32_t v;
    if (n->type == YC_SCALAR) {
        if ((rc = yc_u32(L->d, n, path, 100, 599, &v, L->eb)) < 0)
            return rc;
        s->expected_status[0] = (uint16_t)v;
        s->expected_count = 1;
        return GSLB_OK;
    }
    if ((rc = yc_expect(L->d, n, YC_SEQ, path, L->eb)) < 0)
        return rc;
    if (n->count == 0 || n->count > GSLB_PROBE_MAX_STATUS)
        return yc_error(L->d, n, path, L->eb, "list 1 to %d status codes", GSLB_PROBE_MAX_STATUS);
    for (size_t i = 0; i < n->count; i++) {
        yc_path_index(p, sizeof(p), path, i);
        if ((rc = yc_u32(L->d, n->items[i], p, 100, 599, &v, L->eb)) < 0)
            return rc;
        s->expected_status[i] = (uint16_t)v;
    }
    s->expected_count = (uint8_t)n->count;
    return GSLB_OK;
}

static int load_duration(loader_t *L, const yc_node_t *map, const char *key, const char *base,
                         uint64_t min_ms, uint64_t max_ms, uint32_t *out)
{
    const yc_node_t *n = opt(map, key);
    if (!n)
        return GSLB_OK;
    char p[256];
    yc_path_key(p, sizeof(p), base, key);
    uint64_t ms = 0;
    int rc = yc_duration_ms(L->d, n, p, &ms, L->eb);
    if (rc < 0)
        return rc;
    if (ms < min_ms || ms > max_ms)
        return yc_error(L->d, n, p, L->eb, "must be between %llums and %llums",
                        (unsigned long long)min_ms, (unsigned long long)max_ms);
    *out = (uint32_t)ms;
    return GSLB_OK;
}

static int load_u32_key(loader_t *L, const yc_node_t *map, const char *key, const char *base,
                        uint32_t min, uint32_t max, uint32_t *out)
{
    const yc_node_t *n = opt(map, key);
    if (!n)
        return GSLB_OK;
    char p[256];
    yc_path_key(p, sizeof(p), base, key);
    return yc_u32(L->d, n, p, min, max, out, L->eb);
}

static int load_check_strings(loader_t *L, const yc_node_t *hc, const char *base,
                              gslb_probe_spec_t *s)
{
    char p[256];
    const yc_node_t *n;
    int rc;
    if ((n = opt(hc, "type")) != NULL) {
        char type[16];
        yc_path_key(p, sizeof(p), base, "type");
        if ((rc = yc_str(L->d, n, p, type, sizeof(type), L->eb)) < 0)
            return rc;
        if (gslb_probe_type_parse(type, &s->type) < 0)
            return yc_error(L->d, n, p, L->eb, "must be http, https or tcp");
    }
    if ((n = opt(hc, "path")) != NULL) {
        yc_path_key(p, sizeof(p), base, "path");
        if ((rc = yc_str(L->d, n, p, s->path, sizeof(s->path), L->eb)) < 0)
            return rc;
        if (s->path[0] != '/' || strpbrk(s->path, " \t\r\n"))
            return yc_error(L->d, n, p, L->eb, "must start with '/' and contain no spaces");
    }
    if ((n = opt(hc, "host")) != NULL) {
        yc_path_key(p, sizeof(p), base, "host");
        if ((rc = yc_str(L->d, n, p, s->host, sizeof(s->host), L->eb)) < 0)
            return rc;
        if (!yc_valid_hostname(s->host))
            return yc_error(L->d, n, p, L->eb, "not a valid host name");
    }
    if ((n = opt(hc, "tls_verify")) != NULL) {
        yc_path_key(p, sizeof(p), base, "tls_verify");
        if ((rc = yc_bool(L->d, n, p, &s->tls_verify, L->eb)) < 0)
            return rc;
    }
    if ((n = opt(hc, "expected_status")) != NULL) {
        yc_path_key(p, sizeof(p), base, "expected_status");
        if ((rc = load_status_list(L, n, p, s)) < 0)
            return rc;
    }
    return GSLB_OK;
}

static int load_health_check(loader_t *L, const yc_node_t *hc, const char *base,
                             gslb_probe_spec_t *s)
{
    static const char *const keys[] = {"type",
                                       "path",
                                       "host",
                                       "expected_status",
                                       "interval",
                                       "timeout",
                                       "tls_verify",
                                       "failure_threshold",
                                       "success_threshold",
                                       NULL};
    int rc;
    if ((rc = yc_expect(L->d, hc, YC_MAP, base, L->eb)) < 0 ||
        (rc = yc_check_keys(L->d, hc, base, keys, L->eb)) < 0 ||
        (rc = load_check_strings(L, hc, base, s)) < 0 ||
        (rc = load_duration(L, hc, "interval", base, 100, 3600000, &s->interval_ms)) < 0 ||
        (rc = load_duration(L, hc, "timeout", base, 10, 300000, &s->timeout_ms)) < 0 ||
        (rc = load_u32_key(L, hc, "failure_threshold", base, 1, 100, &s->failure_threshold)) < 0 ||
        (rc = load_u32_key(L, hc, "success_threshold", base, 1, 100, &s->success_threshold)) < 0)
        return rc;
    if (s->type == GSLB_PROBE_TCP && (opt(hc, "path") || opt(hc, "expected_status")))
        return yc_error(L->d, hc, base, L->eb, "path and expected_status need type http or https");
    return GSLB_OK;
}

/* ---- agent.backends[] ----------------------------------------------------- */

static int load_backend(loader_t *L, const yc_node_t *b, const char *base,
                        gslb_agent_backend_cfg_t *out)
{
    static const char *const keys[] = {"service", "address",      "port",
                                       "weight",  "health_check", NULL};
    char p[256], text[GSLB_NAME_MAX];
    int rc;
    if ((rc = yc_expect(L->d, b, YC_MAP, base, L->eb)) < 0 ||
        (rc = yc_check_keys(L->d, b, base, keys, L->eb)) < 0)
        return rc;
    const yc_node_t *n = opt(b, "service");
    yc_path_key(p, sizeof(p), base, "service");
    if (!n)
        return yc_error(L->d, b, p, L->eb, "required");
    if ((rc = yc_str(L->d, n, p, text, sizeof(text), L->eb)) < 0)
        return rc;
    if (gslb_name_normalize(text, out->service, sizeof(out->service)) < 0 || !out->service[0])
        return yc_error(L->d, n, p, L->eb, "not a valid service or domain name");
    yc_path_key(p, sizeof(p), base, "address");
    if (!(n = opt(b, "address")))
        return yc_error(L->d, b, p, L->eb, "required");
    if ((rc = yc_str(L->d, n, p, text, sizeof(text), L->eb)) < 0)
        return rc;
    if (gslb_addr_parse(text, &out->addr) < 0)
        return yc_error(L->d, n, p, L->eb, "must be an IPv4 or IPv6 address");
    uint32_t port = 0;
    yc_path_key(p, sizeof(p), base, "port");
    if (!(n = opt(b, "port")))
        return yc_error(L->d, b, p, L->eb, "required");
    if ((rc = yc_u32(L->d, n, p, 1, 65535, &port, L->eb)) < 0)
        return rc;
    out->port = (uint16_t)port;
    out->weight = GSLB_AGENT_DEFAULT_WEIGHT;
    if ((rc = load_u32_key(L, b, "weight", base, 0, 1000000, &out->weight)) < 0)
        return rc;
    gslb_probe_spec_default(&out->check);
    if ((n = opt(b, "health_check")) != NULL) {
        yc_path_key(p, sizeof(p), base, "health_check");
        if ((rc = load_health_check(L, n, p, &out->check)) < 0)
            return rc;
    }
    out->check.addr = out->addr;
    out->check.port = out->port;
    return GSLB_OK;
}

static bool same_backend(const gslb_agent_backend_cfg_t *a, const gslb_agent_backend_cfg_t *b)
{
    return a->port == b->port && strcmp(a->service, b->service) == 0 &&
           gslb_addr_equal(&a->addr, &b->addr);
}

static int load_backends(loader_t *L, const yc_node_t *agent)
{
    const yc_node_t *seq = opt(agent, "backends");
    gslb_agent_config_t *cfg = L->cfg;
    int rc;
    if (!seq)
        return GSLB_OK;
    if ((rc = yc_expect(L->d, seq, YC_SEQ, "agent.backends", L->eb)) < 0)
        return rc;
    if (seq->count > GSLB_GOSSIP_MAX_BACKENDS)
        return yc_error(L->d, seq, "agent.backends", L->eb, "at most %d backends",
                        GSLB_GOSSIP_MAX_BACKENDS);
    if (seq->count == 0)
        return GSLB_OK;
    cfg->backends = calloc(seq->count, sizeof(*cfg->backends));
    if (!cfg->backends)
        return gslb_errf(L->eb, GSLB_ENOMEM, "out of memory");
    for (size_t i = 0; i < seq->count; i++) {
        char p[64];
        yc_path_index(p, sizeof(p), "agent.backends", i);
        if ((rc = load_backend(L, seq->items[i], p, &cfg->backends[i])) < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (same_backend(&cfg->backends[i], &cfg->backends[j]))
                return yc_error(L->d, seq->items[i], p, L->eb, "duplicate of agent.backends[%zu]",
                                j);
        cfg->backend_count = i + 1;
    }
    return GSLB_OK;
}

/* ---- agent.gossip --------------------------------------------------------- */

static int load_node(loader_t *L, const yc_node_t *n, const char *path, gslb_agent_node_cfg_t *out)
{
    char text[GSLB_NAME_MAX + 16];
    int rc = yc_str(L->d, n, path, text, sizeof(text), L->eb);
    if (rc < 0)
        return rc;
    const char *problem = "invalid";
    bool bare_host = strchr(text, ':') == NULL;
    if (bare_host) {
        if (!yc_valid_hostname(text) || strlen(text) >= sizeof(out->host))
            return yc_error(L->d, n, path, L->eb, "not a host name or host:port");
        memcpy(out->host, text, strlen(text) + 1);
        out->port = GSLB_GOSSIP_DEFAULT_PORT;
        return GSLB_OK;
    }
    if (yc_parse_hostport(text, true, out->host, sizeof(out->host), &out->port, &problem) < 0)
        return yc_error(L->d, n, path, L->eb, "%s", problem);
    if (!out->host[0] || out->port == 0)
        return yc_error(L->d, n, path, L->eb, "needs a host and a port (host:port)");
    return GSLB_OK;
}

static int load_gossip(loader_t *L, const yc_node_t *agent)
{
    static const char *const keys[] = {"encryption_key", "overwatch_nodes", NULL};
    const yc_node_t *g = opt(agent, "gossip");
    gslb_agent_config_t *cfg = L->cfg;
    int rc;
    if (!g)
        return yc_error(L->d, agent, "agent.gossip", L->eb,
                        "required (encryption_key and overwatch_nodes)");
    if ((rc = yc_expect(L->d, g, YC_MAP, "agent.gossip", L->eb)) < 0 ||
        (rc = yc_check_keys(L->d, g, "agent.gossip", keys, L->eb)) < 0)
        return rc;
    const yc_node_t *k = opt(g, "encryption_key");
    if (!k)
        return yc_error(L->d, g, "agent.gossip.encryption_key", L->eb,
                        "required (base64 of 16, 24 or 32 bytes)");
    if ((rc = yc_b64key(L->d, k, "agent.gossip.encryption_key", cfg->key, &cfg->key_len, L->eb)) <
        0)
        return rc;
    const yc_node_t *seq = opt(g, "overwatch_nodes");
    if (!seq)
        return yc_error(L->d, g, "agent.gossip.overwatch_nodes", L->eb,
                        "required: list every overwatch as host:port");
    if ((rc = yc_expect(L->d, seq, YC_SEQ, "agent.gossip.overwatch_nodes", L->eb)) < 0)
        return rc;
    if (seq->count == 0 || seq->count > GSLB_AGENT_MAX_NODES)
        return yc_error(L->d, seq, "agent.gossip.overwatch_nodes", L->eb,
                        "list 1 to %d overwatches", GSLB_AGENT_MAX_NODES);
    cfg->nodes = calloc(seq->count, sizeof(*cfg->nodes));
    if (!cfg->nodes)
        return gslb_errf(L->eb, GSLB_ENOMEM, "out of memory");
    for (size_t i = 0; i < seq->count; i++) {
        char p[64];
        yc_path_index(p, sizeof(p), "agent.gossip.overwatch_nodes", i);
        if ((rc = load_node(L, seq->items[i], p, &cfg->nodes[i])) < 0)
            return rc;
        cfg->node_count = i + 1;
    }
    return GSLB_OK;
}

static int load_heartbeat(loader_t *L, const yc_node_t *agent)
{
    static const char *const keys[] = {"interval", NULL};
    const yc_node_t *h = opt(agent, "heartbeat");
    L->cfg->heartbeat_interval_ms = GSLB_AGENT_DEFAULT_HEARTBEAT_MS;
    if (!h)
        return GSLB_OK;
    int rc;
    uint32_t ms = GSLB_AGENT_DEFAULT_HEARTBEAT_MS;
    if ((rc = yc_expect(L->d, h, YC_MAP, "agent.heartbeat", L->eb)) < 0 ||
        (rc = yc_check_keys(L->d, h, "agent.heartbeat", keys, L->eb)) < 0 ||
        (rc = load_duration(L, h, "interval", "agent.heartbeat", 100, 3600000, &ms)) < 0)
        return rc;
    L->cfg->heartbeat_interval_ms = ms;
    return GSLB_OK;
}

/* ---- logging / top level -------------------------------------------------- */

static int load_logging(loader_t *L, const yc_node_t *root)
{
    static const char *const keys[] = {"level", "format", NULL};
    const yc_node_t *lg = opt(root, "logging");
    int rc;
    L->cfg->log_level = GSLB_LOG_INFO;
    L->cfg->log_format = GSLB_LOG_TEXT;
    if (!lg)
        return GSLB_OK;
    if ((rc = yc_expect(L->d, lg, YC_MAP, "logging", L->eb)) < 0 ||
        (rc = yc_check_keys(L->d, lg, "logging", keys, L->eb)) < 0)
        return rc;
    char text[16];
    const yc_node_t *n;
    if ((n = opt(lg, "level")) != NULL) {
        if ((rc = yc_str(L->d, n, "logging.level", text, sizeof(text), L->eb)) < 0)
            return rc;
        if (gslb_log_level_parse(text, &L->cfg->log_level) < 0)
            return yc_error(L->d, n, "logging.level", L->eb, "must be debug, info, warn or error");
    }
    if ((n = opt(lg, "format")) != NULL) {
        if ((rc = yc_str(L->d, n, "logging.format", text, sizeof(text), L->eb)) < 0)
            return rc;
        if (gslb_log_format_parse(text, &L->cfg->log_format) < 0)
            return yc_error(L->d, n, "logging.format", L->eb, "must be text or json");
    }
    return GSLB_OK;
}

static int load_mode(loader_t *L, const yc_node_t *root)
{
    const yc_node_t *n = opt(root, "mode");
    if (!n)
        return GSLB_OK;
    char mode[32];
    int rc = yc_str(L->d, n, "mode", mode, sizeof(mode), L->eb);
    if (rc < 0)
        return rc;
    if (strcmp(mode, "agent") != 0)
        return yc_error(L->d, n, "mode", L->eb, "must be \"agent\" for gslb-agentd (got \"%s\")",
                        mode);
    return GSLB_OK;
}

static void finish_defaults(gslb_agent_config_t *cfg)
{
    if (!cfg->token_name[0] && cfg->backend_count > 0) {
        /* the first label of the first backend's service names its token */
        const char *svc = cfg->backends[0].service;
        size_t n = strcspn(svc, ".");
        if (n >= sizeof(cfg->token_name))
            n = sizeof(cfg->token_name) - 1;
        memcpy(cfg->token_name, svc, n);
        cfg->token_name[n] = '\0';
    }
    if (cfg->backend_count == 0)
        add_note(cfg, "agent.backends: none defined; the agent only sends heartbeats (it "
                      "registers with the overwatches but reports no backend)");
    if (!cfg->token[0])
        add_note(cfg, "agent.identity.service_token: not set; overwatches reject this agent's "
                      "messages (result=\"unknown_token\") until it is set");
    else if (!cfg->token_name[0])
        add_note(cfg, "agent.identity.token_name: not set and no backend to take it from; "
                      "overwatches reject this agent's messages until it is set");
}

static int load_root(loader_t *L)
{
    static const char *const keys[] = {"mode", "agent", "logging", NULL};
    static const char *const agent_keys[] = {"identity", "backends", "gossip", "heartbeat", NULL};
    const yc_node_t *root = L->d->root;
    int rc;
    if (!root || yc_is_null(root))
        return gslb_errf(L->eb, GSLB_ECONFIG, "%s: empty configuration (need agent.gossip)",
                         L->d->file);
    if ((rc = yc_expect(L->d, root, YC_MAP, "(top level)", L->eb)) < 0 ||
        (rc = yc_check_keys(L->d, root, "(top level)", keys, L->eb)) < 0 ||
        (rc = load_mode(L, root)) < 0 || (rc = load_logging(L, root)) < 0)
        return rc;
    const yc_node_t *agent = opt(root, "agent");
    if (!agent)
        return yc_error(L->d, root, "agent", L->eb, "required (at least agent.gossip)");
    if ((rc = yc_expect(L->d, agent, YC_MAP, "agent", L->eb)) < 0 ||
        (rc = yc_check_keys(L->d, agent, "agent", agent_keys, L->eb)) < 0 ||
        (rc = load_identity(L, agent)) < 0 || (rc = load_backends(L, agent)) < 0 ||
        (rc = load_gossip(L, agent)) < 0 || (rc = load_heartbeat(L, agent)) < 0)
        return rc;
    finish_defaults(L->cfg);
    return GSLB_OK;
}

static int load_doc(yc_doc_t *doc, const char *source, gslb_agent_config_t *cfg, gslb_errbuf_t *eb)
{
    snprintf(cfg->source, sizeof(cfg->source), "%s", source);
    loader_t L = {.d = doc, .cfg = cfg, .eb = eb};
    int rc = load_root(&L);
    yc_free(doc);
    if (rc < 0)
        gslb_agent_config_free(cfg);
    return rc;
}

int gslb_agent_config_load(const char *path, gslb_agent_config_t *cfg, gslb_errbuf_t *eb)
{
    memset(cfg, 0, sizeof(*cfg));
    yc_doc_t doc = {0};
    int rc = yc_load_file(path, &doc, eb);
    if (rc < 0)
        return rc;
    return load_doc(&doc, path, cfg, eb);
}

int gslb_agent_config_load_string(const char *name, const char *yaml, gslb_agent_config_t *cfg,
                                  gslb_errbuf_t *eb)
{
    memset(cfg, 0, sizeof(*cfg));
    yc_doc_t doc = {0};
    int rc = yc_load_string(name, yaml, strlen(yaml), &doc, eb);
    if (rc < 0)
        return rc;
    return load_doc(&doc, name, cfg, eb);
}

void gslb_agent_config_free(gslb_agent_config_t *cfg)
{
    if (!cfg)
        return;
    free(cfg->backends);
    free(cfg->nodes);
    memset(cfg, 0, sizeof(*cfg));
}
