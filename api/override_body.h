/*
 * override_body.h - the JSON body of PUT /api/v1/overrides/{service}/{address}
 * (docs/api.md, "Overrides"). Fuzzed by fuzz/fuzz_api_json.c.
 *
 * Contract:
 *  - Input: untrusted bytes of any length (the HTTP layer caps bodies at
 *    GSLB_API_BODY_MAX). Output: a validated request or GSLB_EINVAL with a
 *    one-line reason in eb that is safe to echo back to the client.
 *  - Accepted: a JSON object with exactly one of
 *      "state": "up" | "down" | "drain"   or   "healthy": true | false
 *    and optional "reason" (<= 127 bytes) and "source" (<= 63 bytes, who set it).
 *    Unknown keys, duplicate keys, wrong types and control characters in
 *    strings are rejected. A body nested deeper than GSLB_JSON_MAX_DEPTH (32)
 *    is rejected before jansson sees it (json_bounded.h): deep nesting must not
 *    exhaust a CivetWeb worker's stack.
 */
#pragma once

#include "gslb_err.h"
#include "records.h"

#include <stddef.h>
#include <stdint.h>

#define GSLB_API_BODY_MAX (64 * 1024)

typedef struct gslb_override_req {
    uint8_t state; /* enum gslb_override_state */
    char reason[GSLB_REASON_MAX];
    char source[GSLB_LABEL_MAX]; /* "" when not given */
} gslb_override_req_t;

int gslb_override_body_parse(const char *body, size_t len, gslb_override_req_t *out,
                             gslb_errbuf_t *eb);

/** "up", "down", "drain" (or "unknown"). */
const char *gslb_override_state_name(uint8_t state);
