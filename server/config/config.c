/*
 * config.c - the overwatch configuration: load, defaults, the overwatch /
 * storage / api / metrics / logging sections and the shared field readers.
 * DNS zones live in config_dns.c, regions and domains in config_gslb.c, the
 * store update in config_apply.c, the demo config in config_default.c.
 * Every key is documented in docs/configuration.md.
 */
#include "config.h"
#include "config_internal.h"
#include "gslb_time.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- field readers (config_internal.h) ---------------------------------- */

const yc_node_t *cfg_child(const yc_node_t *map, const char *key)
{
    const yc_node_t *n = yc_get(map, key);
    return yc_is_null(n) ? NULL : n;
}

int cfg_key_error(const cfg_ctx_t *c, const yc_node_t *map, const char *key, const char *path,
                  const char *fmt, ...)
{
    char problem[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof(problem), fmt, ap);
    va_end(ap);
    long i = yc_index(map, key);
    if (i < 0)
        return yc_error(c->d, map, path, c->eb, "%s", problem);
    return yc_error_at(c->d, map->key_lines[i], map->key_cols[i], path, c->eb, "%s", problem);
}

void cfg_key_pos(const yc_node_t *map, const char *key, gslb_cfg_pos_t *out)
{
    long i = map ? yc_index(map, key) : -1;
    if (i < 0)
        return;
    out->line = map->key_lines[i];
    out->col = map->key_cols[i];
}

/* Keys people put one level off (the HA guide's Step 4 snippet pasted as printed puts
 * dnssec: at the top): section path, key, where the key belongs. */
static const struct key_move {
    const char *section, *key, *belongs;
} key_moves[] = {
    {"", "identity", "overwatch.identity"},
    {"", "agent_tokens", "overwatch.agent_tokens"},
    {"", "gossip", "overwatch.gossip"},
    {"", "dnssec", "overwatch.dnssec"},
    {"", "key_sync", "overwatch.dnssec.key_sync"},
    {"", "stale", "overwatch.stale"},
    {"", "validation", "overwatch.validation"},
    {"", "data_dir", "overwatch.data_dir"},
    {"", "zones", "dns.zones"},
    {"", "listen_address", "dns.listen_address"},
    {"", "tls_cert", "api.tls_cert"},
    {"", "tls_key", "api.tls_key"},
    {"", "map_size", "storage.map_size"},
    {"overwatch", "key_sync", "overwatch.dnssec.key_sync"},
    {"overwatch", "peers", "overwatch.dnssec.key_sync.peers"},
    {"overwatch", "zones", "dns.zones"},
    {"overwatch", "map_size", "storage.map_size"},
    {"overwatch.dnssec", "peers", "overwatch.dnssec.key_sync.peers"},
    {"overwatch.dnssec", "poll_interval", "overwatch.dnssec.key_sync.poll_interval"},
    {"overwatch.dnssec", "ca_file", "overwatch.dnssec.key_sync.ca_file"},
};

static const char *key_belongs(const char *section, const char *key)
{
    for (size_t i = 0; i < sizeof(key_moves) / sizeof(key_moves[0]); i++) {
        if (strcmp(key_moves[i].section, section) == 0 && strcmp(key_moves[i].key, key) == 0)
            return key_moves[i].belongs;
    }
    return NULL;
}

static bool key_allowed(const char *const *allowed, const char *key)
{
    for (size_t j = 0; allowed[j]; j++) {
        if (strcmp(allowed[j], key) == 0)
            return true;
    }
    return false;
}

int cfg_check_keys(const cfg_ctx_t *c, const yc_node_t *map, const char *path,
                   const char *const *allowed)
{
    int rc = yc_expect(c->d, map, YC_MAP, path, c->eb);
    for (size_t i = 0; rc == 0 && i < map->count; i++) {
        if (key_allowed(allowed, map->keys[i]))
            continue;
        const char *belongs = key_belongs(path, map->keys[i]);
        if (!belongs)
            break; /* yc_check_keys() names it with the list of valid keys */
        char kpath[CFG_PATH_MAX];
        yc_path_key(kpath, sizeof(kpath), path, map->keys[i]);
        return yc_error_at(c->d, map->key_lines[i], map->key_cols[i], kpath, c->eb,
                           "unknown key here: did you mean %s? (%s belongs under %.*s:)", belongs,
                           map->keys[i], (int)(strrchr(belongs, '.') - belongs), belongs);
    }
    return rc != 0 ? rc : yc_check_keys(c->d, map, path, allowed, c->eb);
}

int cfg_section(const cfg_ctx_t *c, const yc_node_t *parent, const char *base, const char *key,
                const char *const *allowed, const yc_node_t **out)
{
    char path[CFG_PATH_MAX];
    yc_path_key(path, sizeof(path), base, key);
    *out = cfg_child(parent, key);
    if (!*out)
        return 0;
    return cfg_check_keys(c, *out, path, allowed);
}

int cfg_seq(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
            const yc_node_t **out)
{
    char path[CFG_PATH_MAX];
    yc_path_key(path, sizeof(path), base, key);
    *out = cfg_child(map, key);
    if (!*out)
        return 0;
    return yc_expect(c->d, *out, YC_SEQ, path, c->eb);
}

int cfg_opt_str(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                char *out, size_t cap)
{
    const yc_node_t *n = cfg_child(map, key);
    char path[CFG_PATH_MAX];
    if (!n)
        return 0;
    return yc_str(c->d, n, yc_path_key(path, sizeof(path), base, key), out, cap, c->eb);
}

int cfg_opt_bool(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                 bool *out)
{
    const yc_node_t *n = cfg_child(map, key);
    char path[CFG_PATH_MAX];
    if (!n)
        return 0;
    return yc_bool(c->d, n, yc_path_key(path, sizeof(path), base, key), out, c->eb);
}

int cfg_opt_u32(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                uint32_t min, uint32_t max, uint32_t *out)
{
    const yc_node_t *n = cfg_child(map, key);
    char path[CFG_PATH_MAX];
    if (!n)
        return 0;
    return yc_u32(c->d, n, yc_path_key(path, sizeof(path), base, key), min, max, out, c->eb);
}

static void format_ms(uint64_t ms, char *buf, size_t cap)
{
    if (ms % 1000)
        snprintf(buf, cap, "%llums", (unsigned long long)ms);
    else
        snprintf(buf, cap, "%llus", (unsigned long long)(ms / 1000));
}

int cfg_opt_duration(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                     uint64_t min_ms, uint64_t max_ms, uint64_t *out)
{
    const yc_node_t *n = cfg_child(map, key);
    char path[CFG_PATH_MAX];
    if (!n)
        return 0;
    yc_path_key(path, sizeof(path), base, key);
    uint64_t ms = 0;
    int rc = yc_duration_ms(c->d, n, path, &ms, c->eb);
    if (rc != 0)
        return rc;
    if (ms < min_ms || ms > max_ms) {
        char lo[32], hi[32];
        format_ms(min_ms, lo, sizeof(lo));
        format_ms(max_ms, hi, sizeof(hi));
        return yc_error(c->d, n, path, c->eb, "duration \"%.64s\" is out of range (%s..%s)",
                        n->value, lo, hi);
    }
    *out = ms;
    return 0;
}

int cfg_opt_seconds(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                    uint32_t max, uint32_t *out)
{
    const yc_node_t *n = cfg_child(map, key);
    if (!n)
        return 0;
    uint64_t ms = 0;
    int rc = cfg_opt_duration(c, map, base, key, 0, (uint64_t)max * 1000, &ms);
    if (rc != 0)
        return rc;
    if (ms % 1000) {
        char path[CFG_PATH_MAX];
        return yc_error(c->d, n, yc_path_key(path, sizeof(path), base, key), c->eb,
                        "must be a whole number of seconds");
    }
    *out = (uint32_t)(ms / 1000);
    return 0;
}

int cfg_opt_listen(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                   gslb_hostport_t *out)
{
    const yc_node_t *n = cfg_child(map, key);
    char path[CFG_PATH_MAX];
    if (!n)
        return 0;
    yc_path_key(path, sizeof(path), base, key);
    gslb_hostport_t hp;
    int rc = yc_hostport(c->d, n, path, false, hp.host, sizeof(hp.host), &hp.port, c->eb);
    if (rc != 0)
        return rc;
    if (hp.port == 0)
        return yc_error(c->d, n, path, c->eb, "bad address \"%.128s\": port must be 1..65535",
                        n->value);
    *out = hp;
    return 0;
}

int cfg_dns_name(const cfg_ctx_t *c, const yc_node_t *n, const char *path, char *out, size_t cap)
{
    char raw[GSLB_NAME_MAX + 1];
    int rc = yc_str(c->d, n, path, raw, sizeof(raw), c->eb);
    if (rc != 0)
        return rc;
    size_t len = strlen(raw);
    if (len > 1 && raw[len - 1] == '.')
        raw[--len] = '\0';
    if (!yc_valid_hostname(raw) || len + 1 > cap)
        return yc_error(c->d, n, path, c->eb, "\"%.128s\" is not a valid DNS name", n->value);
    for (size_t i = 0; i <= len; i++)
        out[i] = (char)tolower((unsigned char)raw[i]);
    return 0;
}

int cfg_ident(const cfg_ctx_t *c, const yc_node_t *n, const char *path, char *out, size_t cap)
{
    int rc = yc_str(c->d, n, path, out, cap, c->eb);
    if (rc != 0)
        return rc;
    for (const char *p = out; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
            return yc_error(c->d, n, path, c->eb,
                            "\"%.64s\" may only contain letters, digits, '.', '-' and '_'",
                            n->value);
    }
    return 0;
}

bool cfg_name_in_zone(const char *name, const char *zone)
{
    size_t n = strlen(name), z = strlen(zone);
    if (n == z)
        return strcmp(name, zone) == 0;
    return n > z && name[n - z - 1] == '.' && strcmp(name + n - z, zone) == 0;
}

bool cfg_host_is_any(const char *host)
{
    return !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

/* ---- defaults --------------------------------------------------------------- */

static void default_node_id(char *out, size_t cap)
{
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        snprintf(host, sizeof(host), "overwatch");
    host[strcspn(host, ".")] = '\0';
    size_t j = 0;
    for (size_t i = 0; host[i] && j + 1 < cap; i++) {
        char ch = host[i];
        out[j++] = (isalnum((unsigned char)ch) || ch == '-' || ch == '_') ? ch : '-';
    }
    out[j] = '\0';
}

static void set_hostport(gslb_hostport_t *hp, const char *host, uint16_t port)
{
    snprintf(hp->host, sizeof(hp->host), "%s", host);
    hp->port = port;
}

static void set_defaults(gslb_config_t *cfg)
{
    snprintf(cfg->mode, sizeof(cfg->mode), "overwatch");
    default_node_id(cfg->restart.node_id, sizeof(cfg->restart.node_id));
    set_hostport(&cfg->restart.gossip_bind, "0.0.0.0", 7946);
    cfg->gossip_max_skew_ms = 30000;
    cfg->gossip_source_rate = 1000;
    cfg->gossip_source_burst = 2000;
    cfg->restart.stale_threshold_ms = 30000;
    cfg->restart.stale_remove_after_ms = 300000;
    cfg->restart.stale_deaf_percent = 100;  /* sweeper.h GSLB_SWEEPER_DEAF_PERCENT */
    cfg->restart.stale_deaf_min_agents = 2; /* sweeper.h GSLB_SWEEPER_DEAF_MIN_AGENTS */
    cfg->restart.validation_enabled = false;
    cfg->restart.validation_interval_ms = 30000;
    cfg->restart.validation_timeout_ms = 5000;
    cfg->dnssec_enabled = true;
    cfg->dnssec_algorithm = 13;
    cfg->key_sync_poll_ms = 3600000;
    cfg->key_sync_timeout_ms = 30000;
    cfg->key_sync_tls_verify = true;
    snprintf(cfg->restart.data_dir, sizeof(cfg->restart.data_dir), "%s", GSLB_DEFAULT_DATA_DIR);
    cfg->restart.map_size = GSLB_DEFAULT_MAP_SIZE;
    set_hostport(&cfg->restart.dns_listen, "0.0.0.0", 53);
    cfg->restart.dns_workers = 0;
    cfg->default_ttl = 60;
    cfg->restart.edns_payload = 1232;
    cfg->restart.tcp_idle_timeout_ms = 10000;
    cfg->restart.tcp_max_clients = 256;
    cfg->restart.tcp_message_timeout_ms = 2000;
    cfg->restart.tcp_max_clients_per_source = 32;
    set_hostport(&cfg->restart.api_addr, "0.0.0.0", 9090);
    cfg->restart.api_enabled = true;
    cfg->audit_max_age_ms = GSLB_AUDIT_DEFAULT_MAX_AGE_MS;
    cfg->audit_max_entries = GSLB_AUDIT_DEFAULT_MAX_ENTRIES;
    set_hostport(&cfg->restart.metrics_addr, "0.0.0.0", 9091);
    cfg->restart.metrics_enabled = true;
    cfg->log_level = GSLB_LOG_INFO;
    cfg->log_format = GSLB_LOG_TEXT;
}

/* ---- overwatch ----------------------------------------------------------------- */

static int parse_identity(cfg_ctx_t *c, const yc_node_t *ow)
{
    static const char *const keys[] = {"node_id", "region", NULL};
    const yc_node_t *m = NULL, *n = NULL;
    int rc = cfg_section(c, ow, "overwatch", "identity", keys, &m);
    if (rc != 0 || !m)
        return rc;
    if ((n = cfg_child(m, "node_id")) &&
        (rc = cfg_ident(c, n, "overwatch.identity.node_id", c->cfg->restart.node_id,
                        sizeof(c->cfg->restart.node_id))) != 0)
        return rc;
    if ((n = cfg_child(m, "region")) &&
        (rc = cfg_ident(c, n, "overwatch.identity.region", c->cfg->restart.region,
                        sizeof(c->cfg->restart.region))) != 0)
        return rc;
    return 0;
}

static int check_token_value(const cfg_ctx_t *c, const yc_node_t *n, const char *path,
                             const char *v)
{
    if (!*v)
        return yc_error(c->d, n, path, c->eb, "token must not be empty");
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return yc_error(c->d, n, path, c->eb, "token must be printable ASCII without spaces");
    }
    return 0;
}

static int parse_agent_tokens(cfg_ctx_t *c, const yc_node_t *ow)
{
    const yc_node_t *m = cfg_child(ow, "agent_tokens");
    if (!m)
        return 0;
    int rc = yc_expect(c->d, m, YC_MAP, "overwatch.agent_tokens", c->eb);
    if (rc != 0)
        return rc;
    c->cfg->tokens = calloc(m->count ? m->count : 1, sizeof(*c->cfg->tokens));
    if (!c->cfg->tokens)
        return gslb_errf(c->eb, GSLB_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->count; i++) {
        gslb_token_t *t = &c->cfg->tokens[i];
        char path[CFG_PATH_MAX];
        yc_path_key(path, sizeof(path), "overwatch.agent_tokens", m->keys[i]);
        if (strlen(m->keys[i]) >= sizeof(t->name))
            return yc_error_at(c->d, m->key_lines[i], m->key_cols[i], path, c->eb,
                               "token name too long (max %zu characters)", sizeof(t->name) - 1);
        snprintf(t->name, sizeof(t->name), "%s", m->keys[i]);
        if ((rc = yc_str(c->d, m->items[i], path, t->value, sizeof(t->value), c->eb)) != 0 ||
            (rc = check_token_value(c, m->items[i], path, t->value)) != 0)
            return rc;
        c->cfg->token_count++;
    }
    return 0;
}

static int parse_gossip(cfg_ctx_t *c, const yc_node_t *ow)
{
    static const char *const keys[] = {"bind_address", "encryption_key", "max_clock_skew",
                                       "source_rate",  "source_burst",   NULL};
    const char *base = "overwatch.gossip";
    const yc_node_t *m = NULL, *n = NULL;
    int rc = cfg_section(c, ow, "overwatch", "gossip", keys, &m);
    if (rc != 0 || !m)
        return rc;
    if ((rc = cfg_opt_listen(c, m, base, "bind_address", &c->cfg->restart.gossip_bind)) != 0 ||
        (rc = cfg_opt_duration(c, m, base, "max_clock_skew", 100, 86400000ULL,
                               &c->cfg->gossip_max_skew_ms)) != 0 ||
        (rc = cfg_opt_u32(c, m, base, "source_rate", 0, 10000000, &c->cfg->gossip_source_rate)) !=
            0 ||
        (rc = cfg_opt_u32(c, m, base, "source_burst", 1, 10000000, &c->cfg->gossip_source_burst)) !=
            0)
        return rc;
    if ((n = cfg_child(m, "encryption_key")))
        return yc_b64key(c->d, n, "overwatch.gossip.encryption_key", c->cfg->gossip_key,
                         &c->cfg->gossip_key_len, c->eb);
    return 0;
}

static int parse_peer_url(const cfg_ctx_t *c, const yc_node_t *n, const char *path, char *out,
                          size_t cap)
{
    int rc = yc_str(c->d, n, path, out, cap, c->eb);
    if (rc != 0)
        return rc;
    const char *rest = NULL;
    if (strncmp(out, "https://", 8) == 0)
        rest = out + 8;
    else if (strncmp(out, "http://", 7) == 0)
        rest = out + 7;
    else
        return yc_error(c->d, n, path, c->eb, "peer \"%.128s\" must be an https:// or http:// URL",
                        out);
    char authority[GSLB_NAME_MAX + 16];
    size_t alen = strcspn(rest, "/?#");
    if (alen == 0 || alen >= sizeof(authority))
        return yc_error(c->d, n, path, c->eb, "peer \"%.128s\" has no valid host", out);
    memcpy(authority, rest, alen);
    authority[alen] = '\0';
    char host[GSLB_NAME_MAX];
    uint16_t port = 0;
    const char *problem = NULL;
    bool has_port = authority[alen - 1] != ']' && strchr(authority, ':') != NULL;
    if (has_port) {
        if (yc_parse_hostport(authority, true, host, sizeof(host), &port, &problem) != 0 ||
            port == 0)
            return yc_error(c->d, n, path, c->eb, "peer \"%.128s\": bad host:port", out);
        return 0;
    }
    struct in6_addr a6;
    if (authority[0] == '[') {
        authority[alen - 1] = '\0';
        if (inet_pton(AF_INET6, authority + 1, &a6) != 1)
            return yc_error(c->d, n, path, c->eb, "peer \"%.128s\": bad IPv6 address", out);
        return 0;
    }
    if (!yc_valid_hostname(authority))
        return yc_error(c->d, n, path, c->eb, "peer \"%.128s\" has no valid host", out);
    return 0;
}

static int parse_peers(cfg_ctx_t *c, const yc_node_t *ks)
{
    const yc_node_t *seq = NULL;
    int rc = cfg_seq(c, ks, "overwatch.dnssec.key_sync", "peers", &seq);
    if (rc != 0 || !seq || seq->count == 0)
        return rc;
    c->cfg->peers = calloc(seq->count, sizeof(*c->cfg->peers));
    if (!c->cfg->peers)
        return gslb_errf(c->eb, GSLB_ENOMEM, "out of memory");
    for (size_t i = 0; i < seq->count; i++) {
        char path[CFG_PATH_MAX];
        yc_path_index(path, sizeof(path), "overwatch.dnssec.key_sync.peers", i);
        char *url = c->cfg->peers[i];
        if ((rc = parse_peer_url(c, seq->items[i], path, url, sizeof(c->cfg->peers[i]))) != 0)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->cfg->peers[j], url) == 0)
                return yc_error(c->d, seq->items[i], path, c->eb, "duplicate peer \"%.128s\"", url);
        }
        c->cfg->peer_count++;
    }
    return 0;
}

static int parse_algorithm(cfg_ctx_t *c, const yc_node_t *m)
{
    const yc_node_t *n = cfg_child(m, "algorithm");
    const char *path = "overwatch.dnssec.algorithm";
    char v[32];
    if (!n)
        return 0;
    int rc = yc_str(c->d, n, path, v, sizeof(v), c->eb);
    if (rc != 0)
        return rc;
    if (strcasecmp(v, "ECDSAP256SHA256") == 0 || strcmp(v, "13") == 0)
        c->cfg->dnssec_algorithm = 13;
    else if (strcasecmp(v, "ED25519") == 0 || strcmp(v, "15") == 0)
        c->cfg->dnssec_algorithm = 15;
    else
        return yc_error(c->d, n, path, c->eb,
                        "unknown algorithm \"%.64s\" (expected ECDSAP256SHA256 (13) or "
                        "ED25519 (15))",
                        n->value);
    return 0;
}

static int parse_dnssec(cfg_ctx_t *c, const yc_node_t *ow)
{
    static const char *const keys[] = {"enabled", "algorithm", "key_sync", NULL};
    static const char *const ks_keys[] = {
        "peers",      "poll_interval",          "timeout", "ca_file",
        "tls_verify", "allow_plaintext_export", "token",   NULL};
    const char *base = "overwatch.dnssec";
    const yc_node_t *m = NULL, *ks = NULL;
    int rc = cfg_section(c, ow, "overwatch", "dnssec", keys, &m);
    if (rc != 0 || !m)
        return rc;
    if ((rc = cfg_opt_bool(c, m, base, "enabled", &c->cfg->dnssec_enabled)) != 0 ||
        (rc = parse_algorithm(c, m)) != 0 ||
        (rc = cfg_section(c, m, base, "key_sync", ks_keys, &ks)) != 0 || !ks)
        return rc;
    const char *ksb = "overwatch.dnssec.key_sync";
    if ((rc = cfg_opt_duration(c, ks, ksb, "poll_interval", 1000, 7 * 86400000ULL,
                               &c->cfg->key_sync_poll_ms)) != 0 ||
        (rc = cfg_opt_duration(c, ks, ksb, "timeout", 100, 3600000ULL,
                               &c->cfg->key_sync_timeout_ms)) != 0 ||
        (rc = cfg_opt_str(c, ks, ksb, "ca_file", c->cfg->key_sync_ca_file,
                          sizeof(c->cfg->key_sync_ca_file))) != 0 ||
        (rc = cfg_opt_bool(c, ks, ksb, "tls_verify", &c->cfg->key_sync_tls_verify)) != 0 ||
        (rc = cfg_opt_bool(c, ks, ksb, "allow_plaintext_export",
                           &c->cfg->key_sync_allow_plaintext_export)) != 0 ||
        (rc = cfg_opt_str(c, ks, ksb, "token", c->cfg->key_sync_token,
                          sizeof(c->cfg->key_sync_token))) != 0)
        return rc;
    const yc_node_t *tok = cfg_child(ks, "token");
    if (tok && (rc = check_token_value(c, tok, "overwatch.dnssec.key_sync.token",
                                       c->cfg->key_sync_token)) != 0)
        return rc;
    cfg_key_pos(ks, "ca_file", &c->cfg->at.ca_file);
    if (c->cfg->key_sync_ca_file[0] && access(c->cfg->key_sync_ca_file, R_OK) != 0)
        return cfg_key_error(c, ks, "ca_file", "overwatch.dnssec.key_sync.ca_file",
                             "cannot read \"%.256s\"", c->cfg->key_sync_ca_file);
    return parse_peers(c, ks);
}

static int parse_stale(cfg_ctx_t *c, const yc_node_t *ow)
{
    static const char *const keys[] = {"threshold", "remove_after", "deaf_percent",
                                       "deaf_min_agents", NULL};
    const char *base = "overwatch.stale";
    const yc_node_t *m = NULL;
    int rc = cfg_section(c, ow, "overwatch", "stale", keys, &m);
    if (rc != 0 || !m)
        return rc;
    if ((rc = cfg_opt_duration(c, m, base, "threshold", 1000, 30 * 86400000ULL,
                               &c->cfg->restart.stale_threshold_ms)) != 0 ||
        (rc = cfg_opt_duration(c, m, base, "remove_after", 1000, 365 * 86400000ULL,
                               &c->cfg->restart.stale_remove_after_ms)) != 0 ||
        (rc = cfg_opt_u32(c, m, base, "deaf_percent", 1, 100,
                          &c->cfg->restart.stale_deaf_percent)) != 0 ||
        (rc = cfg_opt_u32(c, m, base, "deaf_min_agents", 1, 1000000,
                          &c->cfg->restart.stale_deaf_min_agents)) != 0)
        return rc;
    if (c->cfg->restart.stale_remove_after_ms < c->cfg->restart.stale_threshold_ms)
        return cfg_key_error(c, m, cfg_child(m, "remove_after") ? "remove_after" : "threshold",
                             "overwatch.stale.remove_after",
                             "must not be shorter than overwatch.stale.threshold");
    return 0;
}

static int parse_validation(cfg_ctx_t *c, const yc_node_t *ow)
{
    static const char *const keys[] = {"enabled", "check_interval", "check_timeout", NULL};
    const char *base = "overwatch.validation";
    const yc_node_t *m = NULL;
    int rc = cfg_section(c, ow, "overwatch", "validation", keys, &m);
    if (rc != 0 || !m)
        return rc;
    if ((rc = cfg_opt_bool(c, m, base, "enabled", &c->cfg->restart.validation_enabled)) != 0 ||
        (rc = cfg_opt_duration(c, m, base, "check_interval", 100, 86400000ULL,
                               &c->cfg->restart.validation_interval_ms)) != 0 ||
        (rc = cfg_opt_duration(c, m, base, "check_timeout", 10, 3600000ULL,
                               &c->cfg->restart.validation_timeout_ms)) != 0)
        return rc;
    if (c->cfg->restart.validation_timeout_ms > c->cfg->restart.validation_interval_ms)
        return cfg_key_error(c, m,
                             cfg_child(m, "check_timeout") ? "check_timeout" : "check_interval",
                             "overwatch.validation.check_timeout",
                             "must not be longer than overwatch.validation.check_interval");
    return 0;
}

static int parse_data_dir(cfg_ctx_t *c, const yc_node_t *ow)
{
    const yc_node_t *n = cfg_child(ow, "data_dir");
    if (!n)
        return 0;
    cfg_key_pos(ow, "data_dir", &c->cfg->at.data_dir);
    return yc_str(c->d, n, "overwatch.data_dir", c->cfg->restart.data_dir,
                  sizeof(c->cfg->restart.data_dir), c->eb);
}

/* overwatch.user: a POSIX account name (the account itself is looked up at start). */
static int parse_user(cfg_ctx_t *c, const yc_node_t *ow)
{
    const char *path = "overwatch.user";
    const yc_node_t *n = cfg_child(ow, "user");
    char *u = c->cfg->restart.user;
    if (!n)
        return 0;
    int rc = yc_str(c->d, n, path, u, sizeof(c->cfg->restart.user), c->eb);
    if (rc != 0)
        return rc;
    bool ok = u[0] && u[0] != '-' &&
              strspn(u, "abcdefghijklmnopqrstuvwxyz"
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(u);
    if (!ok)
        return yc_error(c->d, n, path, c->eb,
                        "invalid user name \"%.64s\" (letters, digits, '.', '_', '-')", u);
    return 0;
}

static int parse_overwatch(cfg_ctx_t *c, const yc_node_t *root)
{
    static const char *const keys[] = {"identity",   "agent_tokens", "gossip", "dnssec", "stale",
                                       "validation", "data_dir",     "user",   NULL};
    const yc_node_t *ow = NULL;
    int rc = cfg_section(c, root, "", "overwatch", keys, &ow);
    if (rc != 0 || !ow)
        return rc;
    if ((rc = parse_identity(c, ow)) != 0 || (rc = parse_agent_tokens(c, ow)) != 0 ||
        (rc = parse_gossip(c, ow)) != 0 || (rc = parse_dnssec(c, ow)) != 0 ||
        (rc = parse_stale(c, ow)) != 0 || (rc = parse_validation(c, ow)) != 0 ||
        (rc = parse_data_dir(c, ow)) != 0)
        return rc;
    return parse_user(c, ow);
}

/* ---- storage ------------------------------------------------------------------ */

static int parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0},   {"K", 10},   {"KiB", 10}, {"M", 20},  {"MiB", 20},
                 {"G", 30}, {"GiB", 30}, {"T", 40},   {"TiB", 40}};
    size_t digits = strspn(s, "0123456789");
    if (digits == 0 || digits > 15)
        return GSLB_EINVAL;
    uint64_t v = strtoull(s, NULL, 10);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(s + digits, units[i].suffix) == 0) {
            if (v > (UINT64_MAX >> units[i].shift))
                return GSLB_EINVAL;
            *out = v << units[i].shift;
            return 0;
        }
    }
    return GSLB_EINVAL;
}

static int parse_storage(cfg_ctx_t *c, const yc_node_t *root)
{
    static const char *const keys[] = {"map_size", NULL};
    const yc_node_t *m = NULL, *n = NULL;
    int rc = cfg_section(c, root, "", "storage", keys, &m);
    if (rc != 0 || !m || !(n = cfg_child(m, "map_size")))
        return rc;
    const char *path = "storage.map_size";
    if ((rc = yc_expect(c->d, n, YC_SCALAR, path, c->eb)) != 0)
        return rc;
    uint64_t v = 0;
    if (parse_size(n->value, &v) != 0)
        return yc_error(c->d, n, path, c->eb,
                        "invalid size \"%.64s\" (bytes, or a number with K/KiB, M/MiB, G/GiB, "
                        "T/TiB)",
                        n->value);
    if (v < (1ULL << 20) || v > (1ULL << 40))
        return yc_error(c->d, n, path, c->eb, "size must be between 1 MiB and 1 TiB");
    c->cfg->restart.map_size = v;
    return 0;
}

/* ---- api / metrics ------------------------------------------------------------------ */

static int parse_prefix_len(const char *s, unsigned max, unsigned *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 3 || strspn(s, "0123456789") != n)
        return GSLB_EINVAL;
    unsigned v = (unsigned)strtoul(s, NULL, 10);
    if (v > max)
        return GSLB_EINVAL;
    *out = v;
    return 0;
}

/* Parse "addr[/len]" and write the canonical network "net/len" (host bits cleared). */
static int normalize_cidr(const char *text, char *out, size_t cap)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    if (alen == 0 || alen >= sizeof(addr))
        return GSLB_EINVAL;
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    uint8_t bytes[16] = {0};
    int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
    unsigned max = fam == AF_INET ? 32 : 128, len = max;
    if (inet_pton(fam, addr, bytes) != 1)
        return GSLB_EINVAL;
    if (slash && parse_prefix_len(slash + 1, max, &len) != 0)
        return GSLB_EINVAL;
    for (unsigned bit = len; bit < max; bit++)
        bytes[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    char canon[INET6_ADDRSTRLEN];
    if (!inet_ntop(fam, bytes, canon, sizeof(canon)))
        return GSLB_EINVAL;
    snprintf(out, cap, "%s/%u", canon, len);
    return 0;
}

static int set_default_networks(gslb_config_t *cfg)
{
    cfg->allowed_networks = calloc(2, sizeof(*cfg->allowed_networks));
    if (!cfg->allowed_networks)
        return GSLB_ENOMEM;
    snprintf(cfg->allowed_networks[0], sizeof(cfg->allowed_networks[0]), "127.0.0.0/8");
    snprintf(cfg->allowed_networks[1], sizeof(cfg->allowed_networks[1]), "::1/128");
    cfg->allowed_net_count = 2;
    return 0;
}

static int parse_allowed_networks(cfg_ctx_t *c, const yc_node_t *api)
{
    const yc_node_t *seq = NULL;
    int rc = cfg_seq(c, api, "api", "allowed_networks", &seq);
    if (rc != 0)
        return rc;
    if (!seq)
        return set_default_networks(c->cfg) == 0 ? 0
                                                 : gslb_errf(c->eb, GSLB_ENOMEM, "out of memory");
    c->cfg->allowed_networks =
        calloc(seq->count ? seq->count : 1, sizeof(*c->cfg->allowed_networks));
    if (!c->cfg->allowed_networks)
        return gslb_errf(c->eb, GSLB_ENOMEM, "out of memory");
    for (size_t i = 0; i < seq->count; i++) {
        char path[CFG_PATH_MAX], text[128];
        yc_path_index(path, sizeof(path), "api.allowed_networks", i);
        if ((rc = yc_str(c->d, seq->items[i], path, text, sizeof(text), c->eb)) != 0)
            return rc;
        if (normalize_cidr(text, c->cfg->allowed_networks[i],
                           sizeof(c->cfg->allowed_networks[i])) != 0)
            return yc_error(c->d, seq->items[i], path, c->eb,
                            "bad CIDR \"%.64s\" (expected e.g. 10.0.0.0/8 or 2001:db8::/32)", text);
        c->cfg->allowed_net_count++;
    }
    return 0;
}

/* api.local_address: a second, plain-HTTP listener for on-host tools (the HA
 * guide's `curl http://localhost:9090`) beside a TLS api.address; loopback only. */
static int parse_local_address(cfg_ctx_t *c, const yc_node_t *api)
{
    const char *path = "api.local_address";
    if (!cfg_child(api, "local_address"))
        return 0;
    gslb_hostport_t *hp = &c->cfg->restart.api_local_addr;
    int rc = cfg_opt_listen(c, api, "api", "local_address", hp);
    if (rc != 0)
        return rc;
    struct in_addr a4;
    if (inet_pton(AF_INET, hp->host, &a4) != 1 || (ntohl(a4.s_addr) >> 24) != 127)
        return cfg_key_error(c, api, "local_address", path,
                             "must be an IPv4 loopback address (127.0.0.0/8), got \"%.64s\"",
                             hp->host[0] ? hp->host : "any");
    const gslb_hostport_t *main_hp = &c->cfg->restart.api_addr;
    if (hp->port == main_hp->port &&
        (main_hp->host[0] == '\0' || strcmp(main_hp->host, "0.0.0.0") == 0 ||
         strcmp(main_hp->host, hp->host) == 0))
        return cfg_key_error(c, api, "local_address", path,
                             "port %u is already taken by api.address %s:%u (give api.address a "
                             "specific IP to share the port)",
                             hp->port, main_hp->host[0] ? main_hp->host : "0.0.0.0", main_hp->port);
    c->cfg->restart.api_local_enabled = true;
    return 0;
}

/* api.audit_retention: how long / how many audit records the store keeps. */
static int parse_audit_retention(cfg_ctx_t *c, const yc_node_t *api)
{
    static const char *const keys[] = {"max_age", "max_entries", NULL};
    const yc_node_t *m = NULL;
    int rc = cfg_section(c, api, "api", "audit_retention", keys, &m);
    if (rc != 0 || !m)
        return rc;
    if ((rc = cfg_opt_duration(c, m, "api.audit_retention", "max_age", 0,
                               GSLB_AUDIT_MAX_AGE_LIMIT_MS, &c->cfg->audit_max_age_ms)) != 0)
        return rc;
    return cfg_opt_u32(c, m, "api.audit_retention", "max_entries", 0, 100000000,
                       &c->cfg->audit_max_entries);
}

static int parse_api(cfg_ctx_t *c, const yc_node_t *root)
{
    static const char *const keys[] = {"enabled",          "address",         "local_address",
                                       "allowed_networks", "token",           "tls_cert",
                                       "tls_key",          "audit_retention", NULL};
    const yc_node_t *m = NULL;
    int rc = cfg_section(c, root, "", "api", keys, &m);
    if (rc != 0)
        return rc;
    if (m && ((rc = cfg_opt_bool(c, m, "api", "enabled", &c->cfg->restart.api_enabled)) != 0 ||
              (rc = cfg_opt_listen(c, m, "api", "address", &c->cfg->restart.api_addr)) != 0 ||
              (rc = cfg_opt_str(c, m, "api", "token", c->cfg->api_token,
                                sizeof(c->cfg->api_token))) != 0 ||
              (rc = cfg_opt_str(c, m, "api", "tls_cert", c->cfg->restart.tls_cert,
                                sizeof(c->cfg->restart.tls_cert))) != 0 ||
              (rc = cfg_opt_str(c, m, "api", "tls_key", c->cfg->restart.tls_key,
                                sizeof(c->cfg->restart.tls_key))) != 0))
        return rc;
    cfg_key_pos(m, "tls_cert", &c->cfg->at.tls_cert);
    cfg_key_pos(m, "tls_key", &c->cfg->at.tls_key);
    if ((rc = parse_allowed_networks(c, m)) != 0)
        return rc;
    const yc_node_t *tok = cfg_child(m, "token");
    if (tok && (rc = check_token_value(c, tok, "api.token", c->cfg->api_token)) != 0)
        return rc;
    if (!c->cfg->restart.tls_cert[0] != !c->cfg->restart.tls_key[0])
        return cfg_key_error(c, m, c->cfg->restart.tls_cert[0] ? "tls_cert" : "tls_key",
                             c->cfg->restart.tls_cert[0] ? "api.tls_cert" : "api.tls_key",
                             "api.tls_cert and api.tls_key must be given together");
    if ((rc = parse_local_address(c, m)) != 0)
        return rc;
    if (m && (rc = parse_audit_retention(c, m)) != 0)
        return rc;
    return 0;
}

/* ---- secrets: admin token, cluster token, agent tokens stay apart ------------------ */

/* The agent token whose value equals v, or NULL. */
static const gslb_token_t *agent_token_equal(const gslb_config_t *cfg, const char *v)
{
    for (size_t i = 0; v[0] && i < cfg->token_count; i++) {
        if (strcmp(cfg->tokens[i].value, v) == 0)
            return &cfg->tokens[i];
    }
    return NULL;
}

/* api.token is the admin secret: an agent host (which holds its agent token) must
 * not hold it too. There is no fallback to an agent token. */
static int check_admin_token(cfg_ctx_t *c, const yc_node_t *root)
{
    const yc_node_t *n = cfg_child(cfg_child(root, "api"), "token");
    const gslb_token_t *same = agent_token_equal(c->cfg, c->cfg->api_token);
    if (!n || !same)
        return 0;
    return yc_error(c->d, n, "api.token", c->eb,
                    "must differ from every agent token (it equals "
                    "overwatch.agent_tokens.%s): any host running an agent with that token would "
                    "hold the admin token; give api.token its own random value",
                    same->name);
}

/* overwatch.dnssec.key_sync.token: the cluster secret of the key export. Required with
 * peers (the poller's bearer token); distinct from the admin and agent tokens. */
static int check_cluster_token(cfg_ctx_t *c, const yc_node_t *root)
{
    const char *path = "overwatch.dnssec.key_sync.token";
    const yc_node_t *ks = cfg_child(cfg_child(cfg_child(root, "overwatch"), "dnssec"), "key_sync");
    const yc_node_t *n = cfg_child(ks, "token");
    const char *v = c->cfg->key_sync_token;
    if (c->cfg->peer_count > 0 && !v[0])
        return cfg_key_error(c, ks, "peers", "overwatch.dnssec.key_sync.peers",
                             "key sync peers need a cluster secret: add %s (the same random "
                             "value on every overwatch, e.g. token: \"${CLUSTER_TOKEN}\" with "
                             "CLUSTER_TOKEN from `openssl rand -hex 32`), different from "
                             "api.token and every agent token",
                             path);
    if (!n)
        return 0;
    const gslb_token_t *same = agent_token_equal(c->cfg, v);
    if (same)
        return yc_error(c->d, n, path, c->eb,
                        "must differ from every agent token (it equals "
                        "overwatch.agent_tokens.%s): an agent host could export the zone's "
                        "private keys",
                        same->name);
    if (c->cfg->api_token[0] && strcmp(v, c->cfg->api_token) == 0)
        return yc_error(c->d, n, path, c->eb,
                        "must differ from api.token: the cluster secret is held by the "
                        "overwatches only, the admin token by operators and their tools");
    return 0;
}

static int parse_metrics(cfg_ctx_t *c, const yc_node_t *root)
{
    static const char *const keys[] = {"enabled", "address", NULL};
    const yc_node_t *m = NULL;
    int rc = cfg_section(c, root, "", "metrics", keys, &m);
    if (rc != 0 || !m)
        return rc;
    if ((rc = cfg_opt_bool(c, m, "metrics", "enabled", &c->cfg->restart.metrics_enabled)) != 0)
        return rc;
    return cfg_opt_listen(c, m, "metrics", "address", &c->cfg->restart.metrics_addr);
}

/* ---- logging / mode -------------------------------------------------------------- */

static int parse_logging(cfg_ctx_t *c, const yc_node_t *root)
{
    static const char *const keys[] = {"level", "format", NULL};
    const yc_node_t *m = NULL, *n = NULL;
    int rc = cfg_section(c, root, "", "logging", keys, &m);
    if (rc != 0 || !m)
        return rc;
    char v[32];
    if ((n = cfg_child(m, "level"))) {
        if ((rc = yc_str(c->d, n, "logging.level", v, sizeof(v), c->eb)) != 0)
            return rc;
        if (gslb_log_level_parse(v, &c->cfg->log_level) != 0)
            return yc_error(c->d, n, "logging.level", c->eb,
                            "unknown level \"%.32s\" (expected debug, info, warn or error)", v);
    }
    if ((n = cfg_child(m, "format"))) {
        if ((rc = yc_str(c->d, n, "logging.format", v, sizeof(v), c->eb)) != 0)
            return rc;
        if (gslb_log_format_parse(v, &c->cfg->log_format) != 0)
            return yc_error(c->d, n, "logging.format", c->eb,
                            "unknown format \"%.32s\" (expected text or json)", v);
    }
    return 0;
}

static int parse_mode(cfg_ctx_t *c, const yc_node_t *root)
{
    const yc_node_t *n = cfg_child(root, "mode");
    if (!n)
        return yc_error(c->d, root, "mode", c->eb,
                        "missing required key (set \"mode: overwatch\")");
    int rc = yc_str(c->d, n, "mode", c->cfg->mode, sizeof(c->cfg->mode), c->eb);
    if (rc != 0)
        return yc_error(c->d, n, "mode", c->eb, "mode must be \"overwatch\"");
    if (strcmp(c->cfg->mode, "overwatch") != 0)
        return yc_error(c->d, n, "mode", c->eb,
                        "mode must be \"overwatch\" for gslb-overwatch, got \"%.32s\" (agents "
                        "use gslb-agentd)",
                        n->value);
    return 0;
}

/* ---- load ------------------------------------------------------------------------- */

static int parse_root(cfg_ctx_t *c, const yc_node_t *root)
{
    static const char *const keys[] = {"mode",    "overwatch", "storage", "dns",     "api",
                                       "metrics", "regions",   "domains", "logging", NULL};
    if (!root)
        return yc_error(c->d, NULL, "", c->eb, "empty configuration (expected a mapping)");
    int rc = cfg_check_keys(c, root, "", keys);
    if (rc != 0 || (rc = parse_mode(c, root)) != 0 || (rc = parse_overwatch(c, root)) != 0 ||
        (rc = parse_storage(c, root)) != 0 || (rc = cfg_parse_dns(c, root)) != 0 ||
        (rc = parse_api(c, root)) != 0 || (rc = parse_metrics(c, root)) != 0 ||
        (rc = parse_logging(c, root)) != 0 || (rc = cfg_parse_regions(c, root)) != 0 ||
        (rc = cfg_parse_domains(c, root)) != 0 || (rc = check_admin_token(c, root)) != 0 ||
        (rc = check_cluster_token(c, root)) != 0)
        return rc;
    return cfg_check_backends(c, root);
}

static int load_doc(yc_doc_t *doc, const char *source, gslb_config_t *cfg, gslb_errbuf_t *eb)
{
    memset(cfg, 0, sizeof(*cfg));
    set_defaults(cfg);
    snprintf(cfg->source, sizeof(cfg->source), "%s", source);
    cfg_ctx_t c = {.d = doc, .eb = eb, .cfg = cfg, .now = (time_t)gslb_wall_s()};
    int rc = parse_root(&c, doc->root);
    yc_free(doc);
    if (rc != 0) {
        gslb_config_free(cfg);
        return rc == GSLB_ENOMEM ? rc : GSLB_ECONFIG;
    }
    return 0;
}

int gslb_config_load(const char *path, gslb_config_t *cfg, gslb_errbuf_t *eb)
{
    yc_doc_t doc;
    memset(cfg, 0, sizeof(*cfg));
    int rc = yc_load_file(path, &doc, eb);
    if (rc != 0)
        return rc == GSLB_ENOMEM ? rc : GSLB_ECONFIG;
    return load_doc(&doc, path, cfg, eb);
}

int gslb_config_load_string(const char *name, const char *yaml, gslb_config_t *cfg,
                            gslb_errbuf_t *eb)
{
    yc_doc_t doc;
    memset(cfg, 0, sizeof(*cfg));
    if (!yaml)
        return gslb_errf(eb, GSLB_EINVAL, "no configuration text");
    const char *src = name ? name : "<string>";
    int rc = yc_load_string(src, yaml, strlen(yaml), &doc, eb);
    if (rc != 0)
        return rc == GSLB_ENOMEM ? rc : GSLB_ECONFIG;
    return load_doc(&doc, src, cfg, eb);
}

void gslb_config_free(gslb_config_t *cfg)
{
    if (!cfg)
        return;
    if (cfg->tokens)
        memset(cfg->tokens, 0, cfg->token_count * sizeof(*cfg->tokens));
    memset(cfg->api_token, 0, sizeof(cfg->api_token));
    memset(cfg->key_sync_token, 0, sizeof(cfg->key_sync_token));
    free(cfg->tokens);
    free(cfg->peers);
    free(cfg->zones);
    free(cfg->allowed_networks);
    for (size_t i = 0; i < cfg->region_count; i++)
        free(cfg->regions[i].servers);
    free(cfg->regions);
    free(cfg->domains);
    memset(cfg, 0, sizeof(*cfg));
}

const gslb_token_t *gslb_config_token(const gslb_config_t *cfg, const char *name)
{
    for (size_t i = 0; cfg && i < cfg->token_count; i++) {
        if (strcmp(cfg->tokens[i].name, name) == 0)
            return &cfg->tokens[i];
    }
    return NULL;
}
