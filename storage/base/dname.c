/*
 * dname.c - domain names in wire and presentation form (see dname.h).
 */
#include "dname.h"

#include <stdio.h>
#include <string.h>

static inline uint8_t ascii_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c;
}

int gslb_dname_len(const uint8_t *name, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        uint8_t l = name[pos];
        if (l == 0)
            return pos + 1 <= GSLB_DNS_NAME_MAX ? (int)(pos + 1) : GSLB_ECORRUPT;
        if (l > 63)
            return GSLB_ECORRUPT;
        pos += 1u + l;
        if (pos >= GSLB_DNS_NAME_MAX)
            return GSLB_ECORRUPT;
    }
    return GSLB_ECORRUPT;
}

bool gslb_dname_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    }
    return true;
}

void gslb_dname_lower(uint8_t *dst, const uint8_t *src, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] = ascii_lower(src[i]);
}

static size_t append_char(char *out, size_t o, size_t cap, uint8_t ch)
{
    bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_' || ch == '*';
    if (plain) {
        if (o + 1 < cap)
            out[o++] = (char)ch;
        return o;
    }
    char tmp[5];
    int n = (ch == '.' || ch == '\\') ? snprintf(tmp, sizeof(tmp), "\\%c", ch)
                                      : snprintf(tmp, sizeof(tmp), "\\%03u", ch);
    for (int i = 0; i < n && o + 1 < cap; i++)
        out[o++] = tmp[i];
    return o;
}

const char *gslb_dname_to_str(const uint8_t *name, size_t len, char *out, size_t cap)
{
    size_t o = 0, pos = 0;
    if (cap == 0)
        return out;
    while (pos < len && name[pos] != 0 && name[pos] <= 63 && pos + 1 + name[pos] <= len) {
        uint8_t l = name[pos++];
        for (uint8_t i = 0; i < l; i++)
            o = append_char(out, o, cap, name[pos + i]);
        pos += l;
        if (o + 1 < cap)
            out[o++] = '.';
    }
    if (o == 0 && o + 1 < cap)
        out[o++] = '.';
    out[o] = '\0';
    return out;
}

int gslb_dname_from_str(const char *text, uint8_t *out, size_t cap)
{
    size_t tl = strlen(text);
    if (tl > 0 && text[tl - 1] == '.')
        tl--;
    if (cap < 1)
        return GSLB_EINVAL;
    size_t o = 0, start = 0;
    if (tl == 0) {
        out[0] = 0;
        return 1;
    }
    for (size_t i = 0; i <= tl; i++) {
        if (i < tl && text[i] != '.')
            continue;
        size_t l = i - start;
        if (l == 0 || l > 63 || o + 1 + l + 1 > cap || o + 1 + l + 1 > GSLB_DNS_NAME_MAX)
            return GSLB_EINVAL;
        out[o++] = (uint8_t)l;
        memcpy(out + o, text + start, l);
        o += l;
        start = i + 1;
    }
    out[o++] = 0;
    return (int)o;
}

int gslb_dname_to_text(const uint8_t *wire, size_t len, char *out, size_t cap)
{
    size_t o = 0, pos = 0;
    if (!wire || gslb_dname_len(wire, len) != (int)len || cap == 0)
        return GSLB_EINVAL;
    while (wire[pos] != 0) {
        uint8_t l = wire[pos];
        if (o + l + 2 > cap)
            return GSLB_ERANGE;
        if (o > 0)
            out[o++] = '.';
        memcpy(out + o, wire + pos + 1, l);
        o += l;
        pos += 1u + l;
    }
    out[o] = '\0';
    return (int)o;
}
