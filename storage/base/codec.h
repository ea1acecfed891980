/*
 * codec.h - byte writer/reader cursors shared by the binary formats: stored
 * records (little-endian, records.c) and the gossip wire format (big-endian,
 * agentd/gossip_wire.c). The hot-path DNS parser/writer has its own (server/wire.h).
 *
 * Contract: both cursors are sticky: the first overflow/underflow sets `bad`
 * and every later call is a no-op, so callers check once at the end. The
 * reader never reads past `len`.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct gslb_enc {
    uint8_t *buf;
    size_t cap;
    size_t pos;
    bool bad;
} gslb_enc_t;

typedef struct gslb_dec {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    bool bad;
} gslb_dec_t;

static inline void gslb_w_bytes(gslb_enc_t *w, const void *p, size_t n)
{
    if (w->bad || n > w->cap - w->pos) {
        w->bad = true;
        return;
    }
    if (n)
        memcpy(w->buf + w->pos, p, n);
    w->pos += n;
}

static inline void gslb_w_uint(gslb_enc_t *w, uint64_t v, size_t width)
{
    uint8_t tmp[8];
    for (size_t i = 0; i < width; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    gslb_w_bytes(w, tmp, width);
}

/* Network byte order (big-endian) integer of `width` bytes. */
static inline void gslb_w_uint_be(gslb_enc_t *w, uint64_t v, size_t width)
{
    uint8_t tmp[8];
    for (size_t i = 0; i < width; i++)
        tmp[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
    gslb_w_bytes(w, tmp, width);
}

static inline void gslb_w_u8(gslb_enc_t *w, uint8_t v)
{
    gslb_w_uint(w, v, 1);
}
static inline void gslb_w_u16(gslb_enc_t *w, uint16_t v)
{
    gslb_w_uint(w, v, 2);
}
static inline void gslb_w_u32(gslb_enc_t *w, uint32_t v)
{
    gslb_w_uint(w, v, 4);
}
static inline void gslb_w_u64(gslb_enc_t *w, uint64_t v)
{
    gslb_w_uint(w, v, 8);
}
static inline void gslb_w_i64(gslb_enc_t *w, int64_t v)
{
    gslb_w_uint(w, (uint64_t)v, 8);
}

static inline const uint8_t *gslb_r_take(gslb_dec_t *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->buf + r->pos;
    r->pos += n;
    return p;
}

static inline uint64_t gslb_r_uint(gslb_dec_t *r, size_t width)
{
    const uint8_t *p = gslb_r_take(r, width);
    uint64_t v = 0;
    if (!p)
        return 0;
    for (size_t i = 0; i < width; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Network byte order (big-endian) integer of `width` bytes. */
static inline uint64_t gslb_r_uint_be(gslb_dec_t *r, size_t width)
{
    const uint8_t *p = gslb_r_take(r, width);
    uint64_t v = 0;
    if (!p)
        return 0;
    for (size_t i = 0; i < width; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline uint8_t gslb_r_u8(gslb_dec_t *r)
{
    return (uint8_t)gslb_r_uint(r, 1);
}
static inline uint16_t gslb_r_u16(gslb_dec_t *r)
{
    return (uint16_t)gslb_r_uint(r, 2);
}
static inline uint32_t gslb_r_u32(gslb_dec_t *r)
{
    return (uint32_t)gslb_r_uint(r, 4);
}
static inline uint64_t gslb_r_u64(gslb_dec_t *r)
{
    return gslb_r_uint(r, 8);
}
static inline int64_t gslb_r_i64(gslb_dec_t *r)
{
    return (int64_t)gslb_r_uint(r, 8);
}

/* Big-endian helpers for keys (so that byte order equals numeric order). */
static inline void gslb_be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void gslb_be32_put(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline void gslb_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static inline uint16_t gslb_be16_get(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t gslb_be32_get(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t gslb_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}
