/*
 * config.h - the overwatch configuration (docs/configuration.md).
 *
 * Contract:
 *  - gslb_config_load() parses a YAML file with the conventions of yamlconf.h and
 *    validates it completely; on error it returns GSLB_ECONFIG with
 *    "file:line:col: key: problem" in eb and leaves *cfg freed.
 *    An unknown key that belongs to another section (a top-level `dnssec:`) names
 *    it: "did you mean overwatch.dnssec?".
 *  - gslb_config_check_files() checks the files the config names (TLS certificate
 *    and key, CA bundle, data directory) as the running user; load does not.
 *  - gslb_config_load_default() loads the embedded demo configuration (README
 *    "run" command): a demo zone with a few domains and backends on loopback.
 *  - The struct is plain data after load (all arrays heap-owned, freed by
 *    gslb_config_free()); readers treat it as immutable. Reload builds a new one.
 *  - gslb_config_apply_to_store() writes zones, domains and static (config)
 *    backends into the store in one transaction and recompiles answers; it keeps
 *    agent-reported backends and health and removes config backends and domains
 *    no longer configured (a removed domain loses all its backends, agent ones
 *    too). Details: server/config/config_apply.c, docs/configuration.md.
 *  - Settings bound at start live in cfg->restart (gslb_cfg_restart_t), and only
 *    there: gslb_config_restart_diff() compares two of them group by group (the
 *    one list of "requires restart" settings, docs/operations.md "Reload"); a new
 *    field there needs its group in config_restart.c and a case in test_config.c.
 */
#pragma once

#include "env.h"
#include "gslb_err.h"
#include "gslb_log.h"
#include "records.h"

#include <stdbool.h>
#include <stdint.h>

#define GSLB_DEFAULT_CONFIG "/etc/opengslb/overwatch.yaml"
#define GSLB_DEFAULT_DATA_DIR "/var/lib/opengslb"

typedef struct gslb_token {
    char name[GSLB_LABEL_MAX];
    char value[256];
} gslb_token_t;

typedef struct gslb_health_check {
    char type[8]; /* http, https, tcp */
    char path[256];
    char host[GSLB_NAME_MAX];
    uint64_t interval_ms, timeout_ms;
    uint32_t failure_threshold, success_threshold;
    uint16_t expected_status[8];
    uint8_t expected_count;
} gslb_health_check_t;

typedef struct gslb_cfg_server {
    gslb_addr_t addr;
    uint16_t port;
    uint32_t weight;
    char service[GSLB_NAME_MAX]; /* domain FQDN or service name */
} gslb_cfg_server_t;

typedef struct gslb_cfg_region {
    char name[GSLB_LABEL_MAX];
    size_t server_count;
    gslb_cfg_server_t *servers;
    gslb_health_check_t health_check;
    bool has_health_check;
} gslb_cfg_region_t;

typedef struct gslb_cfg_zone {
    char name[GSLB_NAME_MAX];
    /* SOA/NS; defaults documented in docs/configuration.md */
    gslb_zone_rec_t rec;
} gslb_cfg_zone_t;

/* Settings bound at start (listeners, threads, the store, identity, timers copied by
 * threads at start). A reload keeps the running values; gslb_config_restart_diff() names
 * the groups a new file changes ("requires restart"). */
typedef struct gslb_cfg_restart {
    /* overwatch.data_dir, overwatch.user, storage.map_size */
    char data_dir[4096];
    char user[64]; /* overwatch.user: drop to this account when started as root ("" = none) */
    uint64_t map_size;
    /* dns */
    gslb_hostport_t dns_listen;
    uint32_t dns_workers;  /* 0 = number of CPUs */
    uint32_t edns_payload; /* default 1232 */
    uint32_t tcp_idle_timeout_ms;
    uint32_t tcp_max_clients;            /* per worker */
    uint32_t tcp_message_timeout_ms;     /* first byte of a query to its last */
    uint32_t tcp_max_clients_per_source; /* per worker */
    /* overwatch.gossip.bind_address */
    gslb_hostport_t gossip_bind;
    /* api / metrics listeners */
    gslb_hostport_t api_addr;
    bool api_enabled;
    char tls_cert[4096], tls_key[4096];
    gslb_hostport_t api_local_addr; /* api.local_address: plain HTTP on loopback */
    bool api_local_enabled;         /* api.local_address is set */
    gslb_hostport_t metrics_addr;
    bool metrics_enabled;
    /* overwatch.identity */
    char node_id[GSLB_LABEL_MAX];
    char region[GSLB_LABEL_MAX];
    /* overwatch.stale */
    uint64_t stale_threshold_ms, stale_remove_after_ms;
    uint32_t stale_deaf_percent;    /* deaf_percent: more than this % of agents silent = deaf */
    uint32_t stale_deaf_min_agents; /* deaf_min_agents: the rule needs at least this many */
    /* overwatch.validation */
    bool validation_enabled;
    uint64_t validation_interval_ms, validation_timeout_ms;
} gslb_cfg_restart_t;

/* Where a key stands in the file (1-based; 0 = not in the file, the default applies). */
typedef struct gslb_cfg_pos {
    unsigned line, col;
} gslb_cfg_pos_t;

/* The keys naming files, for gslb_config_check_files()'s "file:line:col: key:" errors. */
typedef struct gslb_cfg_file_keys {
    gslb_cfg_pos_t tls_cert, tls_key, ca_file, data_dir;
} gslb_cfg_file_keys_t;

/* api.audit_retention defaults (docs/configuration.md) */
#define GSLB_AUDIT_DEFAULT_MAX_AGE_MS (30ULL * 86400000ULL) /* 30d */
#define GSLB_AUDIT_DEFAULT_MAX_ENTRIES 100000u
#define GSLB_AUDIT_MAX_AGE_LIMIT_MS (3650ULL * 86400000ULL) /* 10 years */

typedef struct gslb_config {
    char source[4096];          /* file path or "<embedded>" */
    gslb_cfg_file_keys_t at;    /* positions of the file-naming keys */
    char mode[16];              /* "overwatch" */
    gslb_cfg_restart_t restart; /* bound at start: a reload keeps the running values */
    /* overwatch.agent_tokens */
    size_t token_count;
    gslb_token_t *tokens;
    /* overwatch.gossip */
    uint8_t gossip_key[32];
    size_t gossip_key_len; /* 0 = not configured */
    uint64_t gossip_max_skew_ms;
    uint32_t gossip_source_rate;  /* messages/s per source address, 0 = no limit */
    uint32_t gossip_source_burst; /* bucket size per source address */
    /* overwatch.dnssec */
    bool dnssec_enabled;
    uint8_t dnssec_algorithm; /* 13 or 15 */
    size_t peer_count;
    char (*peers)[512]; /* https://host:port URLs */
    uint64_t key_sync_poll_ms, key_sync_timeout_ms;
    char key_sync_ca_file[4096];          /* CA bundle for https peers ("" = system store) */
    bool key_sync_tls_verify;             /* verify peer certificates (default true) */
    bool key_sync_allow_plaintext_export; /* serve the key export over plain HTTP (lab only) */
    char key_sync_token[256]; /* overwatch.dnssec.key_sync.token: the cluster secret, bearer
                                 token of the key export and of the poller ("" = export off) */
    /* dns */
    uint32_t default_ttl;
    size_t zone_count;
    gslb_cfg_zone_t *zones;
    /* api */
    size_t allowed_net_count;
    char (*allowed_networks)[64]; /* CIDR text */
    char api_token[256];          /* api.token: admin bearer token ("" = mutations refused) */
    uint64_t audit_max_age_ms;    /* api.audit_retention.max_age (0 = no age limit) */
    uint32_t audit_max_entries;   /* api.audit_retention.max_entries (0 = no count limit) */
    /* regions / domains */
    size_t region_count;
    gslb_cfg_region_t *regions;
    size_t domain_count;
    gslb_domain_rec_t *domains;
    /* logging */
    enum gslb_log_level log_level;
    enum gslb_log_format log_format;
} gslb_config_t;

int gslb_config_load(const char *path, gslb_config_t *cfg, gslb_errbuf_t *eb);
int gslb_config_load_string(const char *name, const char *yaml, gslb_config_t *cfg,
                            gslb_errbuf_t *eb);
int gslb_config_load_default(gslb_config_t *cfg, const char *data_dir, uint16_t dns_port,
                             gslb_errbuf_t *eb);
void gslb_config_free(gslb_config_t *cfg);

/** What start needs from the file system, checked as the calling (effective) user, as
 *  `--check-config` and start do before anything binds (server/config/config_files.c):
 *  api.tls_cert and api.tls_key (when api.enabled) open, parse as PEM and belong together;
 *  overwatch.dnssec.key_sync.ca_file opens and holds at least one PEM certificate;
 *  overwatch.data_dir is a writable directory, or can be created. Returns 0 or
 *  GSLB_ECONFIG with "file:line:col: key: problem" (the key's position) in eb. */
int gslb_config_check_files(const gslb_config_t *cfg, gslb_errbuf_t *eb);

/** Look up a token by name; NULL if absent. */
const gslb_token_t *gslb_config_token(const gslb_config_t *cfg, const char *name);

int gslb_config_apply_to_store(const gslb_config_t *cfg, gslb_env_t *env, gslb_errbuf_t *eb);

/* ---- additions ----------------------------------------------------------- */
/** The domain whose FQDN or service name equals service (case-insensitive); NULL if none. */
const gslb_domain_rec_t *gslb_config_domain_by_service(const gslb_config_t *cfg,
                                                       const char *service);
/** The static backends the config defines, one call per (domain, server) pair:
 *  a server with `service` belongs to that one domain; a server without it belongs
 *  to every domain that lists its region. cb returns 0 to continue, > 0 to stop,
 *  < 0 to abort with that error. */
typedef int (*gslb_cfg_backend_cb)(const gslb_domain_rec_t *dom, const gslb_cfg_region_t *reg,
                                   const gslb_cfg_server_t *srv, void *ctx);
int gslb_config_foreach_backend(const gslb_config_t *cfg, gslb_cfg_backend_cb cb, void *ctx);

/** The record config_apply writes for a configured backend no agent reports:
 *  source CONFIG, weight and region from the config, health unknown, not
 *  stale or draining, last_change = now_s. */
void gslb_config_backend_rec(const gslb_domain_rec_t *dom, const gslb_cfg_region_t *reg,
                             const gslb_cfg_server_t *srv, int64_t now_s, gslb_backend_rec_t *out);

/** A copy of every configured backend record (gslb_config_backend_rec), sorted
 *  by (domain, address, port): the state a backend falls back to when the
 *  agent that reported it goes away (docs/gossip-protocol.md). Owns its
 *  memory; independent of the config it was built from. */
typedef struct gslb_static_backends {
    gslb_backend_rec_t *v;
    size_t n;
} gslb_static_backends_t;
/** Build from cfg (NULL cfg: empty). Returns 0 or GSLB_ENOMEM. */
int gslb_static_backends_build(const gslb_config_t *cfg, gslb_static_backends_t *out);
void gslb_static_backends_free(gslb_static_backends_t *s);
/** The configured record of (domain, addr, port), or NULL when not configured. */
const gslb_backend_rec_t *gslb_static_backends_find(const gslb_static_backends_t *s,
                                                    const char *domain, const gslb_addr_t *addr,
                                                    uint16_t port);

/* ---- settings that need a restart ------------------------------------------ */
/** Groups of restart-only settings, one bit each, in the order reload logs them. */
enum gslb_cfg_restart_group {
    GSLB_RESTART_STORAGE = 1u << 0,    /* overwatch.data_dir, overwatch.user, storage.map_size */
    GSLB_RESTART_DNS = 1u << 1,        /* dns.listen_address, workers, edns_payload, tcp_* */
    GSLB_RESTART_GOSSIP = 1u << 2,     /* overwatch.gossip.bind_address */
    GSLB_RESTART_API = 1u << 3,        /* api.enabled, api.address, api.tls_cert, api.tls_key */
    GSLB_RESTART_API_LOCAL = 1u << 4,  /* api.local_address */
    GSLB_RESTART_METRICS = 1u << 5,    /* metrics.enabled, metrics.address */
    GSLB_RESTART_IDENTITY = 1u << 6,   /* overwatch.identity */
    GSLB_RESTART_STALE = 1u << 7,      /* overwatch.stale */
    GSLB_RESTART_VALIDATION = 1u << 8, /* overwatch.validation */
};
#define GSLB_RESTART_GROUP_COUNT 9

/** The groups (bits of enum gslb_cfg_restart_group) in which next differs from cur;
 *  0 when a reload changes no restart-only setting. */
unsigned gslb_config_restart_diff(const gslb_cfg_restart_t *cur, const gslb_cfg_restart_t *next);
/** The keys of one group as the reload log names them ("overwatch.stale"); NULL for a
 *  value that is not exactly one group bit. */
const char *gslb_config_restart_name(unsigned group);
