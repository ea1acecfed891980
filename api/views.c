/*
 * views.c - JSON views of store records.
 */
#include "views.h"
#include "override_body.h"

#include <stdio.h>
#include <time.h>

json_t *gslb_json_str(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    /* Not valid UTF-8 (e.g. an agent id from the wire): show it as ASCII. */
    char buf[512];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof(buf); i++)
        buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    buf[i] = '\0';
    return json_string(buf);
}

json_t *gslb_json_time(int64_t unix_s)
{
    if (unix_s <= 0)
        return json_null();
    time_t t = (time_t)unix_s;
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return json_null();
    return json_string(buf);
}

json_t *gslb_json_time_ms(int64_t unix_ms)
{
    if (unix_ms <= 0)
        return json_null();
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    char buf[40];
    if (!gmtime_r(&t, &tm))
        return json_null();
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(unix_ms % 1000));
    return json_string(buf);
}

json_t *gslb_json_addr(const gslb_addr_t *a)
{
    char buf[64];
    return json_string(gslb_addr_format(a, buf, sizeof(buf)));
}

json_t *gslb_json_tristate(uint8_t t)
{
    if (t == GSLB_HEALTHY)
        return json_true();
    if (t == GSLB_UNHEALTHY)
        return json_false();
    return json_null();
}

const char *gslb_api_policy_name(uint8_t policy)
{
    static const char *const names[] = {"round-robin", "weighted", "failover", "geolocation",
                                        "latency"};
    return policy < sizeof(names) / sizeof(names[0]) ? names[policy] : "unknown";
}

const char *gslb_api_unhealthy_mode_name(uint8_t mode)
{
    static const char *const names[] = {"return_last_healthy", "nodata", "servfail"};
    return mode < sizeof(names) / sizeof(names[0]) ? names[mode] : "unknown";
}

json_t *gslb_view_override(const gslb_override_rec_t *ov, const char *service)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "service", gslb_json_str(service));
    json_object_set_new(o, "domain", gslb_json_str(ov->domain));
    json_object_set_new(o, "address", gslb_json_addr(&ov->addr));
    json_object_set_new(o, "state", json_string(gslb_override_state_name(ov->state)));
    json_object_set_new(o, "healthy", json_boolean(ov->state == GSLB_OVERRIDE_UP));
    json_object_set_new(o, "reason", gslb_json_str(ov->reason));
    json_object_set_new(o, "source", gslb_json_str(ov->who));
    json_object_set_new(o, "created_at", gslb_json_time(ov->when));
    return o;
}

json_t *gslb_view_backend(const gslb_backend_rec_t *b, const char *service,
                          const gslb_override_rec_t *ov)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "service", gslb_json_str(service));
    json_object_set_new(o, "domain", gslb_json_str(b->domain));
    json_object_set_new(o, "address", gslb_json_addr(&b->addr));
    json_object_set_new(o, "port", json_integer(b->port));
    json_object_set_new(o, "weight", json_integer(b->weight));
    json_object_set_new(o, "region", gslb_json_str(b->region));
    json_object_set_new(o, "source",
                        gslb_json_str(b->source == GSLB_SOURCE_AGENT ? "agent" : "config"));
    json_object_set_new(o, "agent_id", gslb_json_str(b->agent_id));
    json_object_set_new(o, "effective_status", json_string(gslb_backend_status_name(b, ov)));
    json_object_set_new(o, "servable", json_boolean(gslb_backend_servable(b, ov)));
    json_object_set_new(o, "agent_healthy", gslb_json_tristate(b->agent_health));
    json_object_set_new(o, "agent_last_seen", gslb_json_time(b->last_seen));
    json_object_set_new(o, "validation_healthy", gslb_json_tristate(b->validation_health));
    json_object_set_new(o, "stale", json_boolean(b->stale));
    json_object_set_new(o, "draining", json_boolean(b->draining));
    json_object_set_new(o, "last_change", gslb_json_time(b->last_change));
    json_object_set_new(o, "latency_us", json_integer(b->latency_us));
    json_object_set_new(o, "override", ov ? gslb_view_override(ov, service) : json_null());
    return o;
}

json_t *gslb_json_hex(const uint8_t *bytes, size_t len)
{
    char buf[129];
    size_t n = len * 2 < sizeof(buf) ? len : (sizeof(buf) - 1) / 2;
    for (size_t i = 0; i < n; i++)
        snprintf(buf + 2 * i, 3, "%02x", bytes[i]);
    buf[2 * n] = '\0';
    return json_string(buf);
}

void gslb_view_backend_freshness(json_t *o, const gslb_backend_rec_t *b,
                                 const gslb_ans_cand_t *cand, int64_t now)
{
    bool from_agent = b->source == GSLB_SOURCE_AGENT;
    int64_t last = from_agent ? b->last_seen : b->last_change;
    json_object_set_new(o, "source_id", gslb_json_str(from_agent ? b->agent_id : "config"));
    json_object_set_new(o, "answered",
                        json_boolean(cand && (cand->flags & GSLB_CAND_HEALTHY) != 0));
    json_object_set_new(o, "last_update", gslb_json_time(last));
    json_object_set_new(o, "last_update_age_seconds",
                        last > 0 ? json_integer(now > last ? now - last : 0) : json_null());
}

json_t *gslb_view_answer_digest(const gslb_domain_rec_t *d, const gslb_ans_digest_t *dg)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "domain", gslb_json_str(d->name));
    json_object_set_new(o, "service", gslb_json_str(d->service));
    json_object_set_new(o, "digest", gslb_json_hex(dg->sha256, sizeof(dg->sha256)));
    json_object_set_new(o, "candidates", json_integer(dg->candidates));
    json_object_set_new(o, "healthy", json_integer(dg->healthy));
    return o;
}

json_t *gslb_view_agent(const gslb_agent_rec_t *a)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "agent_id", gslb_json_str(a->agent_id));
    json_object_set_new(o, "region", gslb_json_str(a->region));
    json_object_set_new(o, "token_name", gslb_json_str(a->token_name));
    json_object_set_new(o, "source_address",
                        a->source_addr.family ? gslb_json_addr(&a->source_addr) : json_null());
    json_object_set_new(o, "first_seen", gslb_json_time(a->first_seen));
    json_object_set_new(o, "last_heartbeat", gslb_json_time(a->last_heartbeat));
    json_object_set_new(o, "last_seq", json_integer((json_int_t)a->last_seq));
    json_object_set_new(o, "stale", json_boolean(a->stale));
    json_object_set_new(o, "goodbye", json_boolean(a->goodbye));
    return o;
}

json_t *gslb_view_domain(const gslb_domain_rec_t *d)
{
    json_t *o = json_object();
    json_t *regions = json_array();
    if (!o || !regions) {
        json_decref(o);
        json_decref(regions);
        return NULL;
    }
    for (size_t i = 0; i < d->region_count && i < GSLB_MAX_REGIONS; i++)
        json_array_append_new(regions, gslb_json_str(d->regions[i]));
    json_object_set_new(o, "name", gslb_json_str(d->name));
    json_object_set_new(o, "zone", gslb_json_str(d->zone));
    json_object_set_new(o, "service", gslb_json_str(d->service));
    json_object_set_new(o, "routing_algorithm", json_string(gslb_api_policy_name(d->policy)));
    json_object_set_new(o, "ttl", json_integer(d->ttl));
    json_object_set_new(o, "max_records", json_integer(d->max_records));
    json_object_set_new(o, "unhealthy_mode",
                        json_string(gslb_api_unhealthy_mode_name(d->unhealthy_mode)));
    json_object_set_new(o, "regions", regions);
    return o;
}

json_t *gslb_view_audit(const gslb_audit_rec_t *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "time", gslb_json_time_ms(r->time_ms));
    json_object_set_new(o, "seq", json_integer(r->seq));
    json_object_set_new(o, "actor", gslb_json_str(r->actor));
    json_object_set_new(o, "action", gslb_json_str(r->action));
    json_object_set_new(o, "target", gslb_json_str(r->target));
    json_object_set_new(o, "detail", gslb_json_str(r->detail));
    return o;
}
