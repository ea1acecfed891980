/*
 * gossip_services.c - start/stop of receiver, sweeper and validator
 * (gossip_services.h).
 */
#include "gossip_services.h"
#include "gossip_rx.h"
#include "gslb_log.h"
#include "gslb_time.h"
#include "sweeper.h"
#include "validator.h"

static bool heard_from_receiver(void *ctx, const char *agent_id, int64_t *out_ms)
{
    return gslb_gossip_rx_last_heard(ctx, agent_id, out_ms);
}

static int start_receiver(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    if (rt->cfg->gossip_key_len == 0) {
        gslb_warn("gossip: overwatch.gossip.encryption_key is not set: no agent can report "
                  "(gossip receiver not started)");
        return GSLB_OK;
    }
    gslb_gossip_rx_opts_t o = {.env = &rt->env, .cfg = rt->cfg};
    return gslb_gossip_rx_start(&rt->gossip, &o, eb);
}

static int start_sweeper(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    gslb_sweeper_opts_t o = {
        .env = &rt->env,
        .stale_threshold_ms = rt->cfg->restart.stale_threshold_ms,
        .remove_after_ms = rt->cfg->restart.stale_remove_after_ms,
        .last_heard = rt->gossip ? heard_from_receiver : NULL,
        .last_heard_ctx = rt->gossip,
        .cfg = rt->cfg,
        /* the receiver listens from now (it was started just before) */
        .listen_start_ms = gslb_wall_ms(),
        .deaf_percent = rt->cfg->restart.stale_deaf_percent,
        .deaf_min_agents = rt->cfg->restart.stale_deaf_min_agents,
    };
    gslb_sweeper_t *s = NULL;
    int rc = gslb_sweeper_start(&s, &o, eb);
    if (rc == GSLB_OK)
        rt->sweeper = s;
    return rc;
}

static int start_validator(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    gslb_validator_opts_t o = {.env = &rt->env, .cfg = rt->cfg};
    gslb_validator_t *v = NULL;
    int rc = gslb_validator_start(&v, &o, eb);
    if (rc == GSLB_OK)
        rt->validator = v;
    return rc;
}

int gslb_runtime_start_gossip(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    int rc = start_receiver(rt, eb);
    if (rc == GSLB_OK)
        rc = start_sweeper(rt, eb);
    if (rc == GSLB_OK)
        rc = start_validator(rt, eb);
    if (rc != GSLB_OK)
        gslb_runtime_stop_gossip(rt);
    return rc;
}

void gslb_runtime_stop_gossip(gslb_runtime_t *rt)
{
    gslb_validator_stop(rt->validator);
    rt->validator = NULL;
    gslb_sweeper_stop(rt->sweeper);
    rt->sweeper = NULL;
    gslb_gossip_rx_stop(rt->gossip);
    rt->gossip = NULL;
}
