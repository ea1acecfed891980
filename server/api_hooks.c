/*
 * api_hooks.c - the hooks gslb-overwatch hands to the API (api.h).
 */
#include "api_hooks.h"

#include "api.h"
#include "api_settings.h"
#include "gossip_rx.h"
#include "gslb_log.h"
#include "keysync_glue.h"
#include "reload.h"
#include "stats.h"
#include "sweeper.h"
#include "validator.h"

#include <stdio.h>

/* Whether the node has backend state it trusts (docs/api.md, /api/v1/ready):
 * not while it is gossip deaf (it serves what it knew), nor while it has GSLB
 * domains and no backend at all (a new node no agent has reported to yet). A
 * node whose configuration defines static backends has backends. */
static bool has_trusted_state(const gslb_runtime_t *rt, char *reason, size_t cap)
{
    gslb_sweeper_counters_t sc;
    gslb_sweeper_counters(rt->sweeper, &sc);
    if (!rt->sweeper || sc.sweeps == 0) {
        snprintf(reason, cap,
                 sc.errors ? "the staleness sweeper fails (see the log): agent state not judged"
                           : "starting: the stored agent state has not been judged yet");
        return false;
    }
    if (sc.gossip_deaf) {
        snprintf(reason, cap,
                 "gossip deaf: %llu of %llu agents silent at once; serving the last known state "
                 "(nothing is marked stale or removed until gossip resumes)",
                 (unsigned long long)sc.agents_stale,
                 (unsigned long long)(sc.agents_stale + sc.agents_registered));
        return false;
    }
    if (sc.domains_known > 0 && sc.backends_known == 0) {
        snprintf(reason, cap,
                 "no backend data: no agent has reported and the store holds no backend "
                 "(GSLB names answer SERVFAIL)");
        return false;
    }
    return true;
}

static bool hook_ready(void *ctx, char *reason, size_t cap)
{
    gslb_runtime_t *rt = ctx;
    if (!rt->env_open) {
        snprintf(reason, cap, "store is not open");
        return false;
    }
    if (!rt->dns || !atomic_load(&rt->ready)) {
        snprintf(reason, cap, "DNS workers are not serving (starting or stopping)");
        return false;
    }
    return has_trusted_state(rt, reason, cap);
}

static void hook_ready_details(void *ctx, gslb_api_ready_details_t *out)
{
    const gslb_runtime_t *rt = ctx;
    gslb_sweeper_counters_t sc;
    gslb_gossip_counters_t gc;
    gslb_sweeper_counters(rt->sweeper, &sc);
    gslb_gossip_counters(rt->gossip, &gc);
    out->gossip_deaf = sc.gossip_deaf != 0;
    out->agent_data_since_start = gc.messages[GSLB_GOSSIP_ACCEPTED] > 0;
    out->agents_known = sc.agents_registered + sc.agents_stale;
    out->agents_silent = sc.agents_stale;
    out->backends = sc.backends_known;
}

static void add_query_series(const char *qtype, const char *rcode, uint64_t value, void *ctx)
{
    gslb_api_stats_t *st = ctx;
    if (st->query_series >= GSLB_API_MAX_QUERY_SERIES)
        return;
    gslb_api_series_t *s = &st->queries[st->query_series++];
    snprintf(s->l1, sizeof(s->l1), "%s", qtype);
    snprintf(s->l2, sizeof(s->l2), "%s", rcode);
    s->value = value;
}

/* One more exported series (api.h: static strings, adjacent per family). */
static void extra(gslb_api_stats_t *st, const char *name, bool counter, const char *help,
                  const char *label, const char *label_value, uint64_t value)
{
    if (st->extra_count >= GSLB_API_MAX_EXTRA)
        return;
    st->extra[st->extra_count++] = (gslb_api_metric_t){
        .name = name,
        .help = help,
        .counter = counter,
        .label = label,
        .label_value = label_value,
        .value = value,
    };
}

static void fill_gossip(gslb_api_stats_t *st, const gslb_gossip_rx_t *rx)
{
    gslb_gossip_counters_t gc;
    gslb_gossip_counters(rx, &gc);
    for (unsigned r = 0; r < GSLB_GOSSIP_RESULT_COUNT && r < GSLB_API_MAX_GOSSIP_SERIES; r++) {
        gslb_api_series_t *s = &st->gossip[st->gossip_series++];
        snprintf(s->l1, sizeof(s->l1), "%s", gslb_gossip_result_name((enum gslb_gossip_result)r));
        s->value = gc.messages[r];
    }
    for (unsigned r = 0; r < GSLB_GOSSIP_IGNORE_COUNT; r++)
        extra(st, "opengslb_gossip_backends_ignored_total", true,
              "Reported backends ignored, by reason.", "reason",
              gslb_gossip_ignore_name((enum gslb_gossip_ignore)r), gc.backends_ignored[r]);
    extra(st, "opengslb_gossip_batches_total", true,
          "Gossip write transactions committed (one per tick at most).", NULL, NULL, gc.batches);
    extra(st, "opengslb_gossip_batch_errors_total", true, "Gossip write transactions that failed.",
          NULL, NULL, gc.batch_errors);
    extra(st, "opengslb_gossip_tcp_connections_total", true, "Gossip TCP connections, by result.",
          "result", "accepted", gc.tcp_accepted);
    extra(st, "opengslb_gossip_tcp_connections_total", true, "Gossip TCP connections, by result.",
          "result", "rejected", gc.tcp_rejected);
    static const char closed_help[] = "Gossip TCP connections closed by the receiver, by reason.";
    extra(st, "opengslb_gossip_tcp_closed_total", true, closed_help, "reason", "idle_timeout",
          gc.tcp_idle_timeouts);
    extra(st, "opengslb_gossip_tcp_closed_total", true, closed_help, "reason", "message_timeout",
          gc.tcp_message_timeouts);
    extra(st, "opengslb_gossip_tcp_closed_total", true, closed_help, "reason", "evicted",
          gc.tcp_evicted);
    extra(st, "opengslb_gossip_goodbyes_total", true, "Agent goodbye messages applied.", NULL, NULL,
          gc.goodbyes);
}

static void fill_sweeper_and_validator(gslb_api_stats_t *st, const gslb_sweeper_t *sweeper,
                                       const gslb_validator_t *validator)
{
    gslb_sweeper_counters_t sc;
    gslb_validator_counters_t vc;
    gslb_sweeper_counters(sweeper, &sc);
    gslb_validator_counters(validator, &vc);
    extra(st, "opengslb_sweeper_backends_marked_stale_total", true,
          "Backends marked stale because their agent went silent.", NULL, NULL,
          sc.backends_marked_stale);
    extra(st, "opengslb_sweeper_backends_removed_total", true,
          "Backends removed after stale.remove_after.", NULL, NULL, sc.backends_removed);
    extra(st, "opengslb_sweeper_agents_removed_total", true,
          "Agents removed after stale.remove_after.", NULL, NULL, sc.agents_removed);
    extra(st, "opengslb_sweeper_errors_total", true, "Sweeps that failed.", NULL, NULL, sc.errors);
    extra(st, "opengslb_gossip_deaf", false,
          "1 while this node hears (almost) no agent (stale.deaf_percent): it serves the last "
          "known state and marks no agent stale.",
          NULL, NULL, sc.gossip_deaf);
    extra(st, "opengslb_gossip_deaf_episodes_total", true,
          "Times this node became gossip deaf since start.", NULL, NULL, sc.deaf_episodes);
    extra(st, "opengslb_validation_disagreements_total", true,
          "Times the validator and an agent settled on different verdicts.", NULL, NULL,
          vc.disagreements);
    extra(st, "opengslb_validation_probes_total", true, "Validation probes, by result.", "result",
          "ok", vc.probes_ok);
    extra(st, "opengslb_validation_probes_total", true, "Validation probes, by result.", "result",
          "failed", vc.probes_failed);
    extra(st, "opengslb_validation_errors_total", true, "Validation rounds that failed.", NULL,
          NULL, vc.errors);
}

static void fill_dns_events(gslb_api_stats_t *st, const gslb_stats_t *sum)
{
    for (unsigned f = 0; f < GSLB_ST_FIELD_COUNT; f++)
        extra(st, "opengslb_dns_events_total", true,
              "DNS worker events (packets, drops, EDNS, TCP connections), by kind.", "event",
              gslb_stats_field_name(f), sum->field[f]);
}

static void hook_stats(void *ctx, gslb_api_stats_t *st)
{
    gslb_runtime_t *rt = ctx;
    if (rt->dns) {
        gslb_stats_t sum;
        gslb_dns_stats(rt->dns, &sum);
        st->dns_workers = gslb_dns_worker_count(rt->dns);
        gslb_stats_foreach_query(&sum, add_query_series, st);
        st->truncated = sum.field[GSLB_ST_TRUNCATED];
        fill_dns_events(st, &sum);
    }
    /* The API is stopped before these services (main.c), so the handles stay valid. */
    fill_gossip(st, rt->gossip);
    fill_sweeper_and_validator(st, rt->sweeper, rt->validator);
    gslb_keysync_fill_stats(rt, st);
    st->reloads_ok = __atomic_load_n(&rt->reloads_ok, __ATOMIC_RELAXED);
    st->reloads_failed = __atomic_load_n(&rt->reloads_failed, __ATOMIC_RELAXED);
    st->last_reload = __atomic_load_n(&rt->last_reload, __ATOMIC_RELAXED);
}

static int hook_reload(void *ctx, gslb_errbuf_t *eb)
{
    return gslb_reload_config(ctx, eb);
}

int gslb_runtime_start_api(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    if (!rt->cfg->restart.api_enabled && !rt->cfg->restart.metrics_enabled)
        return GSLB_OK;
    gslb_api_hooks_t hooks = {
        .ctx = rt,
        .ready = hook_ready,
        .ready_details = hook_ready_details,
        .stats = hook_stats,
        .reload = hook_reload,
        .dnssec = &gslb_keysync_api_ops,
    };
    gslb_api_settings_t set;
    gslb_api_settings_from_config(rt->cfg, &set);
    struct gslb_api *api = NULL;
    int rc = gslb_api_start(&rt->env, &set, &hooks, &api, eb);
    gslb_api_settings_wipe(&set);
    if (rc == GSLB_OK)
        rt->api = api;
    return rc;
}

void gslb_runtime_update_api(gslb_runtime_t *rt, const gslb_config_t *next)
{
    if (!rt->api)
        return;
    gslb_api_settings_t set;
    gslb_api_settings_from_config(next, &set);
    gslb_api_set_settings(rt->api, &set);
    gslb_api_settings_wipe(&set);
}

void gslb_runtime_stop_api(gslb_runtime_t *rt)
{
    gslb_api_stop(rt->api);
    rt->api = NULL;
}
