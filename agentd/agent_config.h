/*
 * agent_config.h - gslb-agentd configuration (docs/agent.md, "Configuration").
 *
 * Contract:
 *  - gslb_agent_config_load() reads YAML with the conventions of yamlconf.h
 *    (${VAR}, "file:line:col: key: problem" errors, unknown keys rejected) and
 *    validates everything; on error it returns GSLB_ECONFIG with the message in
 *    eb and leaves *cfg freed.
 *  - Required: agent.gossip.encryption_key and at least one
 *    agent.gossip.overwatch_nodes entry. Everything else has a default; what
 *    a default makes the agent do that an operator should know (no backends,
 *    no service token) is listed in cfg->notes (printed by --check-config and
 *    logged at start).
 *  - Overwatch host names are kept as text and resolved by the sender.
 *  - The struct is plain data; gslb_agent_config_free() releases it.
 */
#pragma once

#include "gslb_err.h"
#include "gslb_log.h"
#include "probe.h"
#include "records.h"

#include <stddef.h>
#include <stdint.h>

#define GSLB_AGENT_DEFAULT_CONFIG "/etc/opengslb/agent.yaml"
#define GSLB_AGENT_DEFAULT_HEARTBEAT_MS 1000
#define GSLB_AGENT_DEFAULT_WEIGHT 100
#define GSLB_AGENT_DEFAULT_REGION "default"
#define GSLB_AGENT_MAX_NODES 64
#define GSLB_AGENT_MAX_NOTES 4

typedef struct gslb_agent_backend_cfg {
    char service[GSLB_NAME_MAX];
    gslb_addr_t addr;
    uint16_t port;
    uint32_t weight;
    gslb_probe_spec_t check; /* addr/port filled from the backend */
} gslb_agent_backend_cfg_t;

typedef struct gslb_agent_node_cfg {
    char host[GSLB_NAME_MAX]; /* IP literal or host name, no brackets */
    uint16_t port;
} gslb_agent_node_cfg_t;

typedef struct gslb_agent_config {
    char source[4096];
    /* agent.identity */
    char agent_id[GSLB_LABEL_MAX]; /* default: the host name */
    char region[GSLB_LABEL_MAX];   /* default: "default" */
    char token_name[GSLB_LABEL_MAX];
    char token[256]; /* "" = none configured */
    /* agent.backends */
    size_t backend_count;
    gslb_agent_backend_cfg_t *backends;
    /* agent.gossip */
    uint8_t key[32];
    size_t key_len;
    size_t node_count;
    gslb_agent_node_cfg_t *nodes;
    /* agent.heartbeat */
    uint64_t heartbeat_interval_ms;
    /* logging */
    enum gslb_log_level log_level;
    enum gslb_log_format log_format;
    /* operator notes about defaults in effect */
    size_t note_count;
    char notes[GSLB_AGENT_MAX_NOTES][256];
} gslb_agent_config_t;

int gslb_agent_config_load(const char *path, gslb_agent_config_t *cfg, gslb_errbuf_t *eb);
int gslb_agent_config_load_string(const char *name, const char *yaml, gslb_agent_config_t *cfg,
                                  gslb_errbuf_t *eb);
void gslb_agent_config_free(gslb_agent_config_t *cfg);
