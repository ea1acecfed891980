/*
 * dname.h - domain names: validation, case-insensitive comparison and the
 * conversions between uncompressed wire form and text (RFC 1035 3.1, 4.1.4).
 * Used by the DNS hot path, the signer, the compiled answer sets and logs.
 *
 * Contract:
 *  - Wire names here are uncompressed: length-prefixed labels of at most 63
 *    octets ending in the root label, at most GSLB_DNS_NAME_MAX octets in all.
 *  - Nothing here allocates, locks or makes a syscall; every function stays
 *    inside the lengths it is given.
 */
#pragma once

#include "dnsdef.h"
#include "gslb_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Validate an uncompressed wire name of at most len bytes. Returns its length
 *  (including the root label) or GSLB_ECORRUPT. */
int gslb_dname_len(const uint8_t *name, size_t len);

/** Case-insensitive equality of two uncompressed wire names of the same length. */
bool gslb_dname_eq(const uint8_t *a, const uint8_t *b, size_t len);

/** Lower-case copy of a wire name (label length bytes are below 'A'). */
void gslb_dname_lower(uint8_t *dst, const uint8_t *src, size_t len);

/** Presentation form ("www.example.com.") of a wire name, for logs and tests.
 *  Non-printable octets are written as \DDD. Returns out. */
const char *gslb_dname_to_str(const uint8_t *name, size_t len, char *out, size_t cap);

/** Wire form of a presentation name ("a.b" or "a.b."; "." is the root), case
 *  kept. Returns the wire length or GSLB_EINVAL. out needs 255 bytes. */
int gslb_dname_from_str(const char *text, uint8_t *out, size_t cap);

/** Plain text of a wire name of exactly len bytes, without the trailing dot
 *  ("" = root) and without escapes: the form the store keys names by.
 *  Returns the text length, GSLB_EINVAL (not a name of len bytes) or
 *  GSLB_ERANGE (out too small). */
int gslb_dname_to_text(const uint8_t *wire, size_t len, char *out, size_t cap);
