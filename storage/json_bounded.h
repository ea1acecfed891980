/*
 * json_bounded.h - jansson parsing of untrusted input with a nesting bound.
 *
 * Contract:
 *  - jansson parses recursively and allows 2048 levels; on a small thread stack
 *    (a CivetWeb worker) a body of a few hundred "[" overflows the stack and
 *    kills the process. Every json_loadb() of input from the network (API bodies,
 *    a peer's key export) goes through gslb_json_loadb_bounded() instead.
 *  - gslb_json_depth_error() is a linear pre-scan, without allocation or
 *    recursion, that counts "[" and "{" outside strings (escapes honoured) and
 *    stops at the first one beyond max_depth; nothing else is validated (the
 *    parser does that).
 *  - gslb_json_loadb_bounded() refuses a text nested deeper than
 *    GSLB_JSON_MAX_DEPTH like a syntax error: NULL, with err->text
 *    "nested deeper than 32 levels" and the line/column/position of the
 *    offending bracket. Otherwise it is json_loadb().
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/** Deepest nesting of arrays/objects accepted from untrusted input. */
#define GSLB_JSON_MAX_DEPTH 32

/** true when text nests deeper than max_depth; then err (if not NULL) names
 *  where (1-based line and column, 0-based byte position). */
bool gslb_json_depth_error(const char *text, size_t len, unsigned max_depth, json_error_t *err);

/** json_loadb() behind the GSLB_JSON_MAX_DEPTH pre-scan. */
json_t *gslb_json_loadb_bounded(const char *text, size_t len, size_t flags, json_error_t *err);
