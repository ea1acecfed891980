/*
 * denial.h - authenticated denial of existence by compact answers (RFC 9824,
 * "black lies"; RFC 4034 4 for the NSEC record; docs/dnssec.md, "Online
 * signing and denial").
 *
 * Contract:
 *  - Every proof is one NSEC record owned by the query name whose next name is
 *    the name's immediate successor in canonical order (RFC 4034 6.1), so it
 *    covers no other name: "\000.<name>" (RFC 9824 3), or, for names too long
 *    for that label (254 or 255 octets, which cannot have descendants), the
 *    first label extended by one zero octet or its last octet incremented.
 *  - The type bitmap holds window 0 only (every type this server serves, and
 *    NXNAME, are below 256).
 *  - A nonexistent name gets the bitmap RRSIG, NSEC, NXNAME (RFC 9824 3.1);
 *    an existing name the types present there plus RRSIG and NSEC (3.2; an
 *    empty non-terminal: RRSIG and NSEC only, 3.3).
 *  - Pure functions: no allocation, no store access.
 */
#pragma once

#include "gslb_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GSLB_RR_NXNAME 128 /* RFC 9824 meta-type: only ever in an NSEC bitmap */
/* EDNS header flag "Compact Answers OK" (RFC 9824 5.1), next to DO. */
#define GSLB_EDNS_CO 0x4000u

/* Window 0 of a type bitmap: types 0..255. */
typedef struct gslb_typemap {
    uint8_t bits[32];
} gslb_typemap_t;

static inline void gslb_typemap_clear(gslb_typemap_t *m)
{
    for (unsigned i = 0; i < sizeof(m->bits); i++)
        m->bits[i] = 0;
}

static inline void gslb_typemap_set(gslb_typemap_t *m, uint16_t type, bool on)
{
    if (type > 255)
        return;
    uint8_t bit = (uint8_t)(0x80u >> (type & 7));
    if (on)
        m->bits[type >> 3] |= bit;
    else
        m->bits[type >> 3] &= (uint8_t)~bit;
}

static inline bool gslb_typemap_has(const gslb_typemap_t *m, uint16_t type)
{
    return type <= 255 && (m->bits[type >> 3] & (0x80u >> (type & 7))) != 0;
}

/** The immediate canonical successor of a lower-case wire name (see above).
 *  out needs 255 bytes. Returns its length, or GSLB_ERANGE when none can be
 *  written (a 255-octet name whose first label is 63 octets ending in 0xFF). */
int gslb_denial_next_name(const uint8_t *name, size_t len, uint8_t *out);

/** Encode the bitmap as NSEC type bit maps (RFC 4034 4.1.2). Returns the
 *  length (0 for an empty map; at most 34). */
size_t gslb_typemap_encode(const gslb_typemap_t *m, uint8_t *out);

/** NSEC rdata for owner name (lower-case wire): next name + bitmap. Returns
 *  its length or GSLB_ERANGE (cap too small, or no successor). */
int gslb_denial_nsec_rdata(const uint8_t *name, size_t len, const gslb_typemap_t *types,
                           uint8_t *out, size_t cap);
