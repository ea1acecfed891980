/*
 * uri.h - strict decoding of the request path and checking of the query
 * string, before any route sees them (docs/api.md, "Security").
 *
 * Contract:
 *  - CivetWeb is started with decode_url=no: its in-place decoding turned
 *    "%00" into a NUL that silently cut the path ("/overrides/webapp/
 *    127.0.0.12%00garbage" set an override on 127.0.0.12). The API decodes the
 *    path itself with gslb_uri_decode_path() and answers 400 when it refuses.
 *  - Refused (GSLB_EINVAL, reason in eb): a control byte (0x00-0x1f, 0x7f) raw
 *    or percent-encoded, a malformed escape ("%", "%4", "%zz"), and a "." or
 *    ".." segment that only appears after decoding ("%2e%2e"; CivetWeb already
 *    removed the literal ones). Everything else decodes byte for byte ("%2F"
 *    becomes "/"), "+" stays "+".
 *  - gslb_uri_check_query() applies the same control-byte and escape rules to
 *    the raw query string (parameters are decoded later by mg_get_var(), where a
 *    "%00" would cut a value). "+" is a space there and allowed.
 *  - Pure functions, no allocation: out needs strlen(raw) + 1 bytes.
 */
#pragma once

#include "gslb_err.h"

#include <stddef.h>

int gslb_uri_decode_path(const char *raw, char *out, size_t cap, gslb_errbuf_t *eb);
int gslb_uri_check_query(const char *query, gslb_errbuf_t *eb);
