/*
 * views.h - JSON views (jansson) of store records, shared by the route areas
 * so a backend or an override looks the same everywhere (docs/api.md).
 *
 * Contract: every function returns a new reference or NULL on allocation
 * failure; times are RFC 3339 UTC strings ("2025-01-15T10:30:00Z") or null
 * when zero ("never"); tri-state health is true / false / null (unknown).
 */
#pragma once

#include "answers.h"
#include "records.h"

#include <jansson.h>

/** A string that is always valid JSON (invalid UTF-8 bytes become '?'). */
json_t *gslb_json_str(const char *s);
json_t *gslb_json_time(int64_t unix_s);
json_t *gslb_json_time_ms(int64_t unix_ms);
json_t *gslb_json_addr(const gslb_addr_t *a);
json_t *gslb_json_tristate(uint8_t t);

const char *gslb_api_policy_name(uint8_t policy);
const char *gslb_api_unhealthy_mode_name(uint8_t mode);

/** service: the domain's service name ("" when the domain is unknown). ov may be NULL. */
json_t *gslb_view_backend(const gslb_backend_rec_t *b, const char *service,
                          const gslb_override_rec_t *ov);
/** GET /api/v1/overwatch/backends' additions to a backend view o: "answered" (DNS
 *  answers with its address now: the compiled candidate is HEALTHY), "last_update" and
 *  "last_update_age_seconds" (this node's latest news of it: the last agent report, or for
 *  a config backend its last change; null when never) and "source_id" (agent id or
 *  "config"). cand: the compiled candidate of its address, NULL when not compiled. */
void gslb_view_backend_freshness(json_t *o, const gslb_backend_rec_t *b,
                                 const gslb_ans_cand_t *cand, int64_t now);
/** {"domain", "service", "digest" (hex SHA-256, answers.h gslb_ans_digest_t),
 *  "candidates", "healthy"}. */
json_t *gslb_view_answer_digest(const gslb_domain_rec_t *d, const gslb_ans_digest_t *dg);
/** Lower-case hex of len bytes. */
json_t *gslb_json_hex(const uint8_t *bytes, size_t len);
json_t *gslb_view_override(const gslb_override_rec_t *ov, const char *service);
json_t *gslb_view_agent(const gslb_agent_rec_t *a);
json_t *gslb_view_domain(const gslb_domain_rec_t *d);
json_t *gslb_view_audit(const gslb_audit_rec_t *r);
