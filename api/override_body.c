/*
 * override_body.c - parse and validate the override PUT body with jansson.
 */
#include "override_body.h"

#include "json_bounded.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

const char *gslb_override_state_name(uint8_t state)
{
    switch (state) {
    case GSLB_OVERRIDE_UP:
        return "up";
    case GSLB_OVERRIDE_DOWN:
        return "down";
    case GSLB_OVERRIDE_DRAIN:
        return "drain";
    default:
        return "unknown";
    }
}

static int state_from_name(const char *s, uint8_t *out)
{
    static const uint8_t states[] = {GSLB_OVERRIDE_UP, GSLB_OVERRIDE_DOWN, GSLB_OVERRIDE_DRAIN};
    for (size_t i = 0; i < sizeof(states); i++) {
        if (strcmp(s, gslb_override_state_name(states[i])) == 0) {
            *out = states[i];
            return 0;
        }
    }
    return GSLB_EINVAL;
}

static bool has_control_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    }
    return false;
}

/* Copy a bounded, printable JSON string member into out. */
static int copy_text(json_t *v, const char *key, char *out, size_t cap, gslb_errbuf_t *eb)
{
    if (!json_is_string(v))
        return gslb_errf(eb, GSLB_EINVAL, "\"%s\" must be a string", key);
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len >= cap)
        return gslb_errf(eb, GSLB_EINVAL, "\"%s\" is longer than %zu bytes", key, cap - 1);
    if (has_control_chars(s, len))
        return gslb_errf(eb, GSLB_EINVAL, "\"%s\" contains control characters", key);
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

static int parse_state(json_t *v, gslb_override_req_t *out, gslb_errbuf_t *eb)
{
    if (!json_is_string(v) || state_from_name(json_string_value(v), &out->state) != 0)
        return gslb_errf(eb, GSLB_EINVAL, "\"state\" must be \"up\", \"down\" or \"drain\"");
    return 0;
}

static int parse_healthy(json_t *v, gslb_override_req_t *out, gslb_errbuf_t *eb)
{
    if (!json_is_boolean(v))
        return gslb_errf(eb, GSLB_EINVAL, "\"healthy\" must be true or false");
    out->state = json_is_true(v) ? GSLB_OVERRIDE_UP : GSLB_OVERRIDE_DOWN;
    return 0;
}

static int parse_member(const char *key, json_t *v, gslb_override_req_t *out, int *state_keys,
                        gslb_errbuf_t *eb)
{
    if (strcmp(key, "state") == 0) {
        (*state_keys)++;
        return parse_state(v, out, eb);
    }
    if (strcmp(key, "healthy") == 0) {
        (*state_keys)++;
        return parse_healthy(v, out, eb);
    }
    if (strcmp(key, "reason") == 0)
        return copy_text(v, key, out->reason, sizeof(out->reason), eb);
    if (strcmp(key, "source") == 0)
        return copy_text(v, key, out->source, sizeof(out->source), eb);
    return gslb_errf(eb, GSLB_EINVAL, "unknown key \"%.64s\"", key);
}

static int parse_object(json_t *root, gslb_override_req_t *out, gslb_errbuf_t *eb)
{
    if (!json_is_object(root))
        return gslb_errf(eb, GSLB_EINVAL, "body must be a JSON object");
    int state_keys = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        int rc = parse_member(key, v, out, &state_keys, eb);
        if (rc != 0)
            return rc;
    }
    if (state_keys != 1)
        return gslb_errf(eb, GSLB_EINVAL, "exactly one of \"state\" or \"healthy\" is required");
    return 0;
}

int gslb_override_body_parse(const char *body, size_t len, gslb_override_req_t *out,
                             gslb_errbuf_t *eb)
{
    memset(out, 0, sizeof(*out));
    if (!body || len == 0)
        return gslb_errf(eb, GSLB_EINVAL, "a JSON body is required");
    if (len > GSLB_API_BODY_MAX)
        return gslb_errf(eb, GSLB_EINVAL, "body larger than %d bytes", GSLB_API_BODY_MAX);
    json_error_t jerr;
    json_t *root = gslb_json_loadb_bounded(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return gslb_errf(eb, GSLB_EINVAL, "invalid JSON at line %d column %d: %.160s", jerr.line,
                         jerr.column, jerr.text);
    int rc = parse_object(root, out, eb);
    json_decref(root);
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}
