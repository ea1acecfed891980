/*
 * reclayout.h - the layout of each stored record kind, declared once as a
 * table of fields (in the spirit of Knot DNS's rdata descriptors). The table
 * drives the encoder and the decoder of records.c and the printer of
 * gslb-dump (text columns and JSON keys).
 *
 * Contract:
 *  - A layout lists the fields in the order they are stored (docs/storage.md,
 *    "Value encoding"); the encoding of a record is the version byte followed
 *    by each field in turn. Changing a table changes the on-disk format.
 *  - gslb_rec_encode() returns the encoded length (> 0) or GSLB_ERANGE (small
 *    buffer, a string not NUL-terminated in its array, a count, length or
 *    address family the layout does not allow). gslb_rec_decode() fills the
 *    whole struct (zeroed first) and returns 0, GSLB_ECORRUPT or
 *    GSLB_EVERSION; it rejects every truncated prefix, trailing bytes,
 *    out-of-range enums and counts, unknown flag bits, bad address families,
 *    and strings that are too long or hold a NUL, and never reads out of
 *    bounds.
 *  - `col` and `name` are for presentation only (gslb-dump): they never change
 *    the bytes.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum gslb_field_type {
    GSLB_F_U8,   /* uint8_t */
    GSLB_F_U16,  /* uint16_t, little-endian */
    GSLB_F_U32,  /* uint32_t, little-endian */
    GSLB_F_U64,  /* uint64_t, little-endian */
    GSLB_F_I64,  /* int64_t, little-endian two's complement */
    GSLB_F_ENUM, /* uint8_t member, stored as one byte in [lo, hi]; names[v] its text */
    GSLB_F_BIT,  /* bool member: bit `lo` of a flags byte shared by a run of BIT fields */
    GSLB_F_STR,  /* char[size]: u16 length + bytes (no NUL), length < size */
    GSLB_F_ADDR, /* gslb_addr_t: family code (0 none, 4, 6) + 0/4/16 bytes; lo = allowed */
    GSLB_F_BLOB, /* uint8_t[size] with a uint16_t length member at len_offset: u16 + bytes */
    GSLB_F_LIST, /* uint8_t count member (<= hi) then count elements of `elem` fields */
};

/* GSLB_F_ADDR: which family codes a field accepts (in lo). */
enum gslb_addr_allow {
    GSLB_ADDR_NONE = 1,
    GSLB_ADDR_V4 = 2,
    GSLB_ADDR_V6 = 4,
    GSLB_ADDR_IP = GSLB_ADDR_V4 | GSLB_ADDR_V6,
};

/* How gslb-dump shows an integer field (others have one natural form). */
enum gslb_field_show {
    GSLB_SHOW_PLAIN = 0, /* the number */
    GSLB_SHOW_TIME,      /* unix seconds as an ISO time ("never" for 0) */
    GSLB_SHOW_AGE,       /* unix seconds as an age ("12s ago"), JSON adds <name>_age_s */
    GSLB_SHOW_TIME_MS,   /* unix milliseconds as an ISO time with milliseconds */
};

typedef struct gslb_rec_field {
    uint8_t type;             /* enum gslb_field_type */
    uint8_t lo, hi;           /* ENUM: range; BIT: the bit; ADDR: allowed; LIST: hi = max count */
    size_t offset;            /* of the member; inside a LIST element: of the array */
    size_t size;              /* STR: array size; BLOB: capacity */
    size_t stride;            /* inside a LIST element: distance between two elements */
    size_t len_offset;        /* BLOB: offset of the uint16_t length member */
    const char *const *names; /* ENUM: text of each value */
    const struct gslb_rec_field *elem; /* LIST: the fields of one element */
    uint8_t nelem;
    /* presentation (gslb-dump) */
    const char *name; /* column and JSON key; inside a LIST element: the JSON key */
    uint8_t col;      /* place in the dump row, 1-based; 0 = not a column */
    uint8_t show;     /* enum gslb_field_show */
    const char *sep;  /* LIST: text between elements */
} gslb_rec_field_t;

typedef struct gslb_rec_layout {
    const char *kind; /* "zone", ... */
    size_t size;      /* sizeof the record struct */
    const gslb_rec_field_t *fields;
    size_t nfields;
} gslb_rec_layout_t;

extern const gslb_rec_layout_t gslb_meta_layout, gslb_zone_layout, gslb_domain_layout,
    gslb_backend_layout, gslb_agent_layout, gslb_dnskey_layout, gslb_override_layout,
    gslb_audit_layout, gslb_keysync_meta_layout;

/** Encode the record rec (a struct of l->size bytes) into buf. Returns the
 *  length (> 0) or GSLB_ERANGE. */
int gslb_rec_encode(const gslb_rec_layout_t *l, const void *rec, uint8_t *buf, size_t cap);

/** Decode buf[0..len) into out (l->size bytes). Returns 0 or GSLB_ECORRUPT /
 *  GSLB_EVERSION. */
int gslb_rec_decode(const gslb_rec_layout_t *l, const uint8_t *buf, size_t len, void *out);

/** The field shown in dump column col (1-based), or NULL. */
const gslb_rec_field_t *gslb_rec_field_at_col(const gslb_rec_layout_t *l, unsigned col);
