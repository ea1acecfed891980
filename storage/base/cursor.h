/*
 * cursor.h - the one bounds-checked byte cursor of every binary format: DNS
 * messages (server/dns/wire.c, answer.c), stored records (storage/records.c)
 * and the gossip wire format (agentd/wire/gossip_wire.c). One struct reads and
 * writes; integers are big-endian (network order, _be) or little-endian (_le)
 * as the call says.
 *
 * Contract:
 *  - A cursor never reads or writes outside [buf, buf + size).
 *  - Sticky error: the first failing operation sets err (GSLB_ECORRUPT when a
 *    read runs past the end, GSLB_ERANGE when a write runs past the capacity,
 *    GSLB_EINVAL when a read-only cursor is written, or the code passed to
 *    gslb_cur_fail()); from then on every operation of one byte or more is a
 *    no-op, reads return 0 (take/reserve return NULL), pos stays where the
 *    error happened and gslb_cur_left() is 0. Callers write straight-line code
 *    and check err once. Only gslb_cur_rewind() clears the error.
 *  - A cursor made by gslb_cur_init_ro() never writes into its buffer.
 *  - Each get/put costs one bounds comparison (the error is kept by shrinking
 *    the end of the cursor to its position, not by a second test), and nothing
 *    here allocates, locks or makes a syscall.
 *  - Invariants, checked by assert() in debug builds: pos <= end <= size, and
 *    end == pos whenever err != 0.
 * The gslb_put_be16()... / gslb_get_be16()... functions at the end read and
 * write integers at a raw pointer (LMDB keys, a length patched in afterwards);
 * the caller owns the bounds there.
 */
#pragma once

#include "gslb_err.h"

#include <assert.h>
#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct gslb_cur {
    uint8_t *buf; /* const when readonly */
    size_t size;  /* bytes that may be read or written */
    size_t pos;   /* next byte */
    size_t end;   /* size, or pos once err is set: what the bounds check uses */
    int err;      /* 0 or the first negative GSLB_E* code */
    bool readonly;
} gslb_cur_t;

#define GSLB_CUR_UNLIKELY(x) __builtin_expect(!!(x), 0)

static inline void gslb_cur_check(const gslb_cur_t *c)
{
    assert(c->pos <= c->end && c->end <= c->size);
    assert(c->err == 0 || c->end == c->pos);
    (void)c;
}

/** A cursor that reads and writes buf[0 .. size). */
static inline void gslb_cur_init(gslb_cur_t *c, uint8_t *buf, size_t size)
{
    assert(buf || size == 0);
    c->buf = buf;
    c->size = c->end = size;
    c->pos = 0;
    c->err = 0;
    c->readonly = false;
}

/** A cursor that only reads buf[0 .. len): every put sets GSLB_EINVAL. */
static inline void gslb_cur_init_ro(gslb_cur_t *c, const uint8_t *buf, size_t len)
{
    gslb_cur_init(c, (uint8_t *)buf, len);
    c->readonly = true;
}

/** Record an error (the first one wins) and stop the cursor where it is. */
static inline void gslb_cur_fail(gslb_cur_t *c, int code)
{
    assert(code < 0);
    if (!c->err)
        c->err = code;
    c->end = c->pos;
}

/** Bytes left to read or write (0 after an error). */
static inline size_t gslb_cur_left(const gslb_cur_t *c)
{
    gslb_cur_check(c);
    return c->end - c->pos;
}

/** Go back (or forward) to an absolute position and clear the error: the
 *  rollback of a record that did not fit. */
static inline void gslb_cur_rewind(gslb_cur_t *c, size_t pos)
{
    assert(pos <= c->size);
    c->pos = pos;
    c->end = c->size;
    c->err = 0;
}

/** Change the capacity (for example to let a reserved tail be written). */
static inline void gslb_cur_resize(gslb_cur_t *c, size_t size)
{
    assert(size >= c->pos);
    c->size = size;
    if (!c->err)
        c->end = size;
    gslb_cur_check(c);
}

/* ---- reading ------------------------------------------------------------- */

/** True when n more bytes can be read; otherwise sets GSLB_ECORRUPT. */
static inline bool gslb_cur_need(gslb_cur_t *c, size_t n)
{
    gslb_cur_check(c);
    if (GSLB_CUR_UNLIKELY(n > c->end - c->pos)) {
        gslb_cur_fail(c, GSLB_ECORRUPT);
        return false;
    }
    return true;
}

/** The next n bytes (advancing past them), or NULL after an error. */
static inline const uint8_t *gslb_cur_take(gslb_cur_t *c, size_t n)
{
    if (!gslb_cur_need(c, n))
        return NULL;
    const uint8_t *p = c->buf + c->pos;
    c->pos += n;
    return p;
}

static inline void gslb_cur_skip(gslb_cur_t *c, size_t n)
{
    if (gslb_cur_need(c, n))
        c->pos += n;
}

static inline void gslb_cur_get_bytes(gslb_cur_t *c, void *dst, size_t n)
{
    const uint8_t *p = gslb_cur_take(c, n);
    if (p && n)
        memcpy(dst, p, n);
}

static inline uint8_t gslb_cur_get_u8(gslb_cur_t *c)
{
    if (!gslb_cur_need(c, 1))
        return 0;
    return c->buf[c->pos++];
}

#define GSLB_CUR_GETTER(name, type, conv)                                                          \
    static inline type gslb_cur_get_##name(gslb_cur_t *c)                                          \
    {                                                                                              \
        type v;                                                                                    \
        if (!gslb_cur_need(c, sizeof(v)))                                                          \
            return 0;                                                                              \
        memcpy(&v, c->buf + c->pos, sizeof(v));                                                    \
        c->pos += sizeof(v);                                                                       \
        return conv(v);                                                                            \
    }
GSLB_CUR_GETTER(be16, uint16_t, be16toh)
GSLB_CUR_GETTER(be32, uint32_t, be32toh)
GSLB_CUR_GETTER(be64, uint64_t, be64toh)
GSLB_CUR_GETTER(le16, uint16_t, le16toh)
GSLB_CUR_GETTER(le32, uint32_t, le32toh)
GSLB_CUR_GETTER(le64, uint64_t, le64toh)
#undef GSLB_CUR_GETTER

/* ---- writing ------------------------------------------------------------- */

/** True when n more bytes can be written; otherwise sets GSLB_ERANGE
 *  (GSLB_EINVAL on a read-only cursor). */
static inline bool gslb_cur_room(gslb_cur_t *c, size_t n)
{
    gslb_cur_check(c);
    if (GSLB_CUR_UNLIKELY((n > c->end - c->pos) | c->readonly)) {
        gslb_cur_fail(c, c->readonly ? GSLB_EINVAL : GSLB_ERANGE);
        return false;
    }
    return true;
}

/** Claim the next n bytes for the caller to fill (advancing past them), or
 *  NULL after an error. */
static inline uint8_t *gslb_cur_reserve(gslb_cur_t *c, size_t n)
{
    if (!gslb_cur_room(c, n))
        return NULL;
    uint8_t *p = c->buf + c->pos;
    c->pos += n;
    return p;
}

static inline void gslb_cur_put_bytes(gslb_cur_t *c, const void *src, size_t n)
{
    uint8_t *p = gslb_cur_reserve(c, n);
    if (p && n)
        memcpy(p, src, n);
}

static inline void gslb_cur_put_u8(gslb_cur_t *c, uint8_t v)
{
    if (gslb_cur_room(c, 1))
        c->buf[c->pos++] = v;
}

#define GSLB_CUR_PUTTER(name, type, conv)                                                          \
    static inline void gslb_cur_put_##name(gslb_cur_t *c, type v)                                  \
    {                                                                                              \
        if (!gslb_cur_room(c, sizeof(v)))                                                          \
            return;                                                                                \
        v = conv(v);                                                                               \
        memcpy(c->buf + c->pos, &v, sizeof(v));                                                    \
        c->pos += sizeof(v);                                                                       \
    }
GSLB_CUR_PUTTER(be16, uint16_t, htobe16)
GSLB_CUR_PUTTER(be32, uint32_t, htobe32)
GSLB_CUR_PUTTER(be64, uint64_t, htobe64)
GSLB_CUR_PUTTER(le16, uint16_t, htole16)
GSLB_CUR_PUTTER(le32, uint32_t, htole32)
GSLB_CUR_PUTTER(le64, uint64_t, htole64)
#undef GSLB_CUR_PUTTER

/* ---- integers at a raw pointer (no cursor, caller checks bounds) --------- */

#define GSLB_RAW_ACCESS(name, type, to, from)                                                      \
    static inline void gslb_put_##name(uint8_t *p, type v)                                         \
    {                                                                                              \
        v = to(v);                                                                                 \
        memcpy(p, &v, sizeof(v));                                                                  \
    }                                                                                              \
    static inline type gslb_get_##name(const uint8_t *p)                                           \
    {                                                                                              \
        type v;                                                                                    \
        memcpy(&v, p, sizeof(v));                                                                  \
        return from(v);                                                                            \
    }
GSLB_RAW_ACCESS(be16, uint16_t, htobe16, be16toh)
GSLB_RAW_ACCESS(be32, uint32_t, htobe32, be32toh)
GSLB_RAW_ACCESS(be64, uint64_t, htobe64, be64toh)
GSLB_RAW_ACCESS(le16, uint16_t, htole16, le16toh)
GSLB_RAW_ACCESS(le32, uint32_t, htole32, le32toh)
GSLB_RAW_ACCESS(le64, uint64_t, htole64, le64toh)
#undef GSLB_RAW_ACCESS
