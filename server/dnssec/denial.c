/*
 * denial.c - NSEC records for compact denial of existence (see denial.h).
 */
#include "denial.h"

#include <string.h>

#define NAME_MAX_WIRE 255
#define LABEL_MAX 63

int gslb_denial_next_name(const uint8_t *name, size_t len, uint8_t *out)
{
    if (len == 0 || len > NAME_MAX_WIRE)
        return GSLB_ERANGE;
    if (len + 2 <= NAME_MAX_WIRE) { /* "\000.<name>" */
        out[0] = 1;
        out[1] = 0;
        memcpy(out + 2, name, len);
        return (int)len + 2;
    }
    /* 254/255 octets: no descendants can exist, so the successors are siblings
     * with the same suffix: the first label + one zero octet, else the first
     * label with its last octet incremented (skipping the upper-case letters,
     * which compare as their lower-case forms). */
    size_t l = name[0];
    if (l == 0)
        return GSLB_ERANGE;
    if (l < LABEL_MAX && len + 1 <= NAME_MAX_WIRE) {
        out[0] = (uint8_t)(l + 1);
        memcpy(out + 1, name + 1, l);
        out[1 + l] = 0;
        memcpy(out + 2 + l, name + 1 + l, len - 1 - l);
        return (int)len + 1;
    }
    uint8_t last = name[l];
    if (last == 0xFF)
        return GSLB_ERANGE;
    memcpy(out, name, len);
    out[l] = last == '@' ? (uint8_t)('Z' + 1) : (uint8_t)(last + 1);
    return (int)len;
}

size_t gslb_typemap_encode(const gslb_typemap_t *m, uint8_t *out)
{
    int last = -1;
    for (int i = (int)sizeof(m->bits) - 1; i >= 0; i--) {
        if (m->bits[i]) {
            last = i;
            break;
        }
    }
    if (last < 0)
        return 0;
    out[0] = 0; /* window 0 */
    out[1] = (uint8_t)(last + 1);
    memcpy(out + 2, m->bits, (size_t)last + 1);
    return (size_t)last + 3;
}

int gslb_denial_nsec_rdata(const uint8_t *name, size_t len, const gslb_typemap_t *types,
                           uint8_t *out, size_t cap)
{
    uint8_t next[NAME_MAX_WIRE];
    uint8_t bitmap[2 + sizeof(types->bits)];
    int n = gslb_denial_next_name(name, len, next);
    if (n < 0)
        return n;
    size_t b = gslb_typemap_encode(types, bitmap);
    if ((size_t)n + b > cap)
        return GSLB_ERANGE;
    memcpy(out, next, (size_t)n);
    memcpy(out + n, bitmap, b);
    return n + (int)b;
}
