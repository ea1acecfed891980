/*
 * config_internal.h - shared pieces of the overwatch config loader (config*.c).
 * Not a public interface: other modules use config.h.
 *
 * Every helper returns 0 or GSLB_ECONFIG with a "file:line:col: key: problem"
 * message in c->eb. "Optional" readers leave *out untouched (the default) when
 * the key is absent or null.
 */
#pragma once

#include "config.h"
#include "yamlconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_PATH_MAX 512

typedef struct cfg_ctx {
    const yc_doc_t *d;
    gslb_errbuf_t *eb;
    gslb_config_t *cfg;
    time_t now;
} cfg_ctx_t;

/* Child of map by key, NULL when absent or null. */
const yc_node_t *cfg_child(const yc_node_t *map, const char *key);
/* Position of key inside map (for errors about the key itself). */
int cfg_key_error(const cfg_ctx_t *c, const yc_node_t *map, const char *key, const char *path,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Record where key stands in map (left untouched when absent). */
void cfg_key_pos(const yc_node_t *map, const char *key, gslb_cfg_pos_t *out);
/* Like yc_check_keys(), and an unknown key that belongs to another section is named
 * there: "unknown key ...; did you mean overwatch.dnssec?". */
int cfg_check_keys(const cfg_ctx_t *c, const yc_node_t *map, const char *path,
                   const char *const *allowed);
/* Optional mapping section: NULL when absent; else keys checked against allowed. */
int cfg_section(const cfg_ctx_t *c, const yc_node_t *parent, const char *base, const char *key,
                const char *const *allowed, const yc_node_t **out);
/* Optional sequence: NULL when absent. */
int cfg_seq(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
            const yc_node_t **out);

int cfg_opt_str(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                char *out, size_t cap);
int cfg_opt_bool(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                 bool *out);
int cfg_opt_u32(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                uint32_t min, uint32_t max, uint32_t *out);
int cfg_opt_duration(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                     uint64_t min_ms, uint64_t max_ms, uint64_t *out);
/* A duration in whole seconds (TTLs, SOA timers): "1h", "30s" or a bare number. */
int cfg_opt_seconds(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                    uint32_t max, uint32_t *out);
/* A listen address "ip:port" / "[v6]:port" / ":port" with port 1..65535. */
int cfg_opt_listen(const cfg_ctx_t *c, const yc_node_t *map, const char *base, const char *key,
                   gslb_hostport_t *out);

/* A DNS name (FQDN, trailing dot optional), stored lower-case without the dot. */
int cfg_dns_name(const cfg_ctx_t *c, const yc_node_t *n, const char *path, char *out, size_t cap);
/* Short identifier: 1..63 of [A-Za-z0-9._-]. */
int cfg_ident(const cfg_ctx_t *c, const yc_node_t *n, const char *path, char *out, size_t cap);

/* True when name equals zone or lies below it. */
bool cfg_name_in_zone(const char *name, const char *zone);
/* True for "", 0.0.0.0 and :: (listen on every address). */
bool cfg_host_is_any(const char *host);

/* Sections implemented in config_dns.c / config_gslb.c. */
int cfg_parse_dns(cfg_ctx_t *c, const yc_node_t *root);
int cfg_parse_regions(cfg_ctx_t *c, const yc_node_t *root);
int cfg_parse_domains(cfg_ctx_t *c, const yc_node_t *root);
int cfg_check_backends(cfg_ctx_t *c, const yc_node_t *root);
