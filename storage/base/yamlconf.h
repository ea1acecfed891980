/*
 * yamlconf.h - the YAML reading conventions shared by gslb-overwatch and
 * gslb-agentd: a parsed document tree with positions, ${VAR} expansion,
 * durations, and "file:line:col: key: problem" errors.
 *
 * Contract:
 *  - yc_load_file()/yc_load_string() parse with libyaml into an immutable tree.
 *    Anchors/aliases are rejected; duplicate mapping keys are an error.
 *  - Scalars have ${VAR} expanded from the environment at load time; an unset
 *    VAR is an error naming it ("$${" escapes a literal "${").
 *  - Accessors never crash on a wrong node type; they fill gslb_errbuf_t with
 *    "<file>:<line>:<col>: <key path>: <problem>" and return GSLB_ECONFIG.
 *  - yc_check_keys() rejects keys not in an allowed list ("unknown key").
 *  - The tree owns its strings; free it with yc_free().
 *  - Mapping keys are taken literally (no ${VAR} expansion), must be non-empty
 *    scalars. Explicit YAML tags, NUL characters and more than one document
 *    are rejected. Nesting deeper than YC_MAX_DEPTH is rejected.
 *  - A plain (unquoted) scalar "", "~" or "null" is a null: yc_is_null() is
 *    true and callers treat the key as absent (its default applies).
 *  - Key paths in messages: "a.b.c" for mappings, "a.list[2].c" for sequences;
 *    yc_path_key()/yc_path_index() build them.
 */
#pragma once

#include "gslb_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum yc_type { YC_SCALAR = 1, YC_MAP, YC_SEQ };

typedef struct yc_node {
    enum yc_type type;
    unsigned line, col; /* 1-based */
    char *value;        /* scalar text (expanded), NULL for map/seq */
    bool quoted;        /* scalar was quoted: never treated as null/bool/number-ish */
    size_t count;       /* map: pairs; seq: items */
    char **keys;        /* map keys */
    unsigned *key_lines, *key_cols;
    struct yc_node **items; /* map values / seq items */
} yc_node_t;

typedef struct yc_doc {
    char *file; /* name used in messages */
    yc_node_t *root;
} yc_doc_t;

int yc_load_file(const char *path, yc_doc_t *doc, gslb_errbuf_t *eb);
int yc_load_string(const char *name, const char *text, size_t len, yc_doc_t *doc,
                   gslb_errbuf_t *eb);
void yc_free(yc_doc_t *doc);

/** Child of a mapping by key, or NULL. */
const yc_node_t *yc_get(const yc_node_t *map, const char *key);
/** Error unless every key of map is in allowed (NULL-terminated). path names the map. */
int yc_check_keys(const yc_doc_t *d, const yc_node_t *map, const char *path,
                  const char *const *allowed, gslb_errbuf_t *eb);
/** Fill eb with "<file>:<line>:<col>: <path>: <fmt...>" at node n; returns GSLB_ECONFIG. */
int yc_error(const yc_doc_t *d, const yc_node_t *n, const char *path, gslb_errbuf_t *eb,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Typed reads: n must be a scalar of the right shape, else a positioned error. */
int yc_str(const yc_doc_t *d, const yc_node_t *n, const char *path, char *out, size_t cap,
           gslb_errbuf_t *eb);
int yc_bool(const yc_doc_t *d, const yc_node_t *n, const char *path, bool *out, gslb_errbuf_t *eb);
int yc_u32(const yc_doc_t *d, const yc_node_t *n, const char *path, uint32_t min, uint32_t max,
           uint32_t *out, gslb_errbuf_t *eb);
/** Durations: "500ms", "30s", "5m", "1h", "2d", combinations "1h30m"; bare number = seconds. */
int yc_duration_ms(const yc_doc_t *d, const yc_node_t *n, const char *path, uint64_t *out_ms,
                   gslb_errbuf_t *eb);
/** Parse a duration string (no position info): 0 or GSLB_EINVAL. */
int yc_parse_duration_ms(const char *s, uint64_t *out_ms);
/** "host:port", "[v6]:port" or ":port"/"0.0.0.0:53"; host must be an IP literal unless
 *  allow_hostname. Output host without brackets. */
int yc_hostport(const yc_doc_t *d, const yc_node_t *n, const char *path, bool allow_hostname,
                char *host, size_t host_cap, uint16_t *port, gslb_errbuf_t *eb);
/** Base64 key of 16, 24 or 32 bytes (out must hold 32). Standard alphabet; the
 *  '=' padding may be omitted. The key text is never copied into messages. */
int yc_b64key(const yc_doc_t *d, const yc_node_t *n, const char *path, uint8_t *out,
              size_t *out_len, gslb_errbuf_t *eb);

/* ---- additions (config helper) ------------------------------------------ */
#define YC_MAX_DEPTH 64
#define YC_MAX_INPUT (4u << 20) /* bytes of YAML accepted */

/** True for a plain "", "~", "null" (any case) scalar, or a NULL node. */
bool yc_is_null(const yc_node_t *n);
/** Like yc_error() at an explicit position (e.g. a mapping key). */
int yc_error_at(const yc_doc_t *d, unsigned line, unsigned col, const char *path, gslb_errbuf_t *eb,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/** Error unless n is of type t ("expected a mapping, got a sequence"). */
int yc_expect(const yc_doc_t *d, const yc_node_t *n, enum yc_type t, const char *path,
              gslb_errbuf_t *eb);
/** Index of key in map, or -1. */
long yc_index(const yc_node_t *map, const char *key);
/** "base.key" (or "key" when base is empty) into out. Returns out. */
const char *yc_path_key(char *out, size_t cap, const char *base, const char *key);
/** "base[i]" into out. Returns out. */
const char *yc_path_index(char *out, size_t cap, const char *base, size_t i);

/** Parse host:port text. On error returns GSLB_EINVAL and sets *problem (static text). */
int yc_parse_hostport(const char *s, bool allow_hostname, char *host, size_t host_cap,
                      uint16_t *port, const char **problem);
/** True if s is a syntactically valid DNS host name (letters, digits, '-', '_', dots). */
bool yc_valid_hostname(const char *s);
/** Decode a base64 key of 16/24/32 bytes into out (>= 32 bytes). GSLB_EINVAL (not base64)
 *  or GSLB_ERANGE (decoded length, in *out_len, is not 16/24/32); *problem says why. */
int yc_parse_b64key(const char *s, uint8_t *out, size_t *out_len, const char **problem);
/** Expand ${VAR} / $${ in text. On success *out is malloc'd. On an unset or bad variable
 *  returns GSLB_ECONFIG with the problem in why (never the variable's value). */
int yc_expand_env(const char *text, char **out, char *why, size_t why_cap);
