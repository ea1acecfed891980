/*
 * routes_health.c - liveness, readiness, version and the reload trigger.
 */
#include "routes.h"

#include "gslb_log.h"

#include <stdio.h>

int gslb_route_live(gslb_req_t *rq)
{
    return gslb_req_reply(rq, 200, json_pack("{s:s}", "status", "alive"));
}

/* The serving state behind the verdict (gossip, agents, backends), when the
 * server provides it. */
static json_t *with_ready_details(const gslb_api_hooks_t *h, json_t *body)
{
    if (!body || !h->ready_details)
        return body;
    gslb_api_ready_details_t d = {0};
    h->ready_details(h->ctx, &d);
    json_object_set_new(body, "gossip_deaf", json_boolean(d.gossip_deaf));
    json_object_set_new(body, "agent_data_since_start", json_boolean(d.agent_data_since_start));
    json_object_set_new(body, "agents_known", json_integer((json_int_t)d.agents_known));
    json_object_set_new(body, "agents_silent", json_integer((json_int_t)d.agents_silent));
    json_object_set_new(body, "backends", json_integer((json_int_t)d.backends));
    return body;
}

int gslb_route_ready(gslb_req_t *rq)
{
    char reason[256] = "";
    const gslb_api_hooks_t *h = &rq->api->hooks;
    if (gslb_api_ready(rq->api, rq->reader, reason, sizeof(reason)))
        return gslb_req_reply(rq, 200,
                              with_ready_details(h, json_pack("{s:s}", "status", "ready")));
    return gslb_req_reply(
        rq, 503,
        with_ready_details(h, json_pack("{s:s, s:s, s:s, s:i}", "status", "not_ready", "reason",
                                        reason, "error", reason, "code", 503)));
}

int gslb_route_version(gslb_req_t *rq)
{
    char node_id[GSLB_LABEL_MAX], region[GSLB_LABEL_MAX];
    gslb_req_identity(rq, node_id, region, sizeof(node_id));
    return gslb_req_reply(rq, 200,
                          json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", "gslb-overwatch",
                                    "version", GSLB_VERSION, "api_version", "v1", "node_id",
                                    node_id, "region", region));
}

int gslb_route_reload(gslb_req_t *rq)
{
    const gslb_api_hooks_t *h = &rq->api->hooks;
    if (!h->reload)
        return gslb_req_error(rq, 404, "reload is not available in this process");
    gslb_errbuf_t eb = {{0}};
    gslb_info("api: reload requested by %s", rq->client);
    int rc = h->reload(h->ctx, &eb);
    if (rc != 0)
        return gslb_req_error(rq, 400, "reload failed, previous configuration kept: %s",
                              eb.msg[0] ? eb.msg : gslb_strerror(rc));
    return gslb_req_reply(rq, 200, json_pack("{s:s}", "status", "reloaded"));
}
