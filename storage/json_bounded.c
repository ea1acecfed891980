/*
 * json_bounded.c - nesting pre-scan in front of json_loadb(). See json_bounded.h.
 */
#include "json_bounded.h"

#include <stdio.h>
#include <string.h>

typedef struct scan {
    bool in_string, escaped;
    unsigned depth;
    int line, column;
} scan_t;

/* Advance the scanner over one byte; returns true when it opens a level. */
static bool scan_byte(scan_t *s, char c)
{
    if (c == '\n') {
        s->line++;
        s->column = 0;
    } else {
        s->column++;
    }
    if (s->in_string) {
        if (s->escaped)
            s->escaped = false;
        else if (c == '\\')
            s->escaped = true;
        else if (c == '"')
            s->in_string = false;
        return false;
    }
    switch (c) {
    case '"':
        s->in_string = true;
        return false;
    case '[':
    case '{':
        s->depth++;
        return true;
    case ']':
    case '}':
        if (s->depth > 0)
            s->depth--;
        return false;
    default:
        return false;
    }
}

static void fill_error(json_error_t *err, const scan_t *s, size_t pos, unsigned max_depth)
{
    if (!err)
        return;
    memset(err, 0, sizeof(*err));
    err->line = s->line;
    err->column = s->column;
    err->position = (int)pos;
    snprintf(err->source, sizeof(err->source), "<buffer>");
    snprintf(err->text, sizeof(err->text), "nested deeper than %u levels", max_depth);
}

bool gslb_json_depth_error(const char *text, size_t len, unsigned max_depth, json_error_t *err)
{
    scan_t s = {.line = 1};
    for (size_t i = 0; text && i < len; i++) {
        if (scan_byte(&s, text[i]) && s.depth > max_depth) {
            fill_error(err, &s, i, max_depth);
            return true;
        }
    }
    return false;
}

json_t *gslb_json_loadb_bounded(const char *text, size_t len, size_t flags, json_error_t *err)
{
    if (gslb_json_depth_error(text, len, GSLB_JSON_MAX_DEPTH, err))
        return NULL;
    return json_loadb(text, len, flags, err);
}
