/*
 * uri.c - strict path decoding and query checks. See uri.h.
 */
#include "uri.h"

#include <stdbool.h>
#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* Decode the byte at *p (a literal or a %XY escape) into *out and advance *p. */
static int decode_byte(const char **p, unsigned char *out, const char *what, gslb_errbuf_t *eb)
{
    const char *s = *p;
    if (*s != '%') {
        *out = (unsigned char)*s;
        *p = s + 1;
    } else {
        int hi = hex_value(s[1]), lo = hi < 0 ? -1 : hex_value(s[2]);
        if (hi < 0 || lo < 0)
            return gslb_errf(eb, GSLB_EINVAL, "malformed percent-encoding in the %s", what);
        *out = (unsigned char)(hi << 4 | lo);
        *p = s + 3;
    }
    if (is_control(*out))
        return gslb_errf(eb, GSLB_EINVAL, "control character (0x%02x) in the %s", *out, what);
    return 0;
}

static bool is_dot_segment(const char *seg, size_t len)
{
    return (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.');
}

static int check_dot_segments(const char *path, gslb_errbuf_t *eb)
{
    const char *seg = path;
    for (const char *p = path;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        if (is_dot_segment(seg, (size_t)(p - seg)))
            return gslb_errf(eb, GSLB_EINVAL, "\".\" or \"..\" segment in the path");
        if (*p == '\0')
            return 0;
        seg = p + 1;
    }
}

int gslb_uri_decode_path(const char *raw, char *out, size_t cap, gslb_errbuf_t *eb)
{
    if (!raw || cap <= strlen(raw))
        return gslb_errf(eb, GSLB_EINVAL, "path too long");
    size_t n = 0;
    for (const char *p = raw; *p;) {
        unsigned char c = 0;
        int rc = decode_byte(&p, &c, "path", eb);
        if (rc != 0)
            return rc;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return check_dot_segments(out, eb);
}

int gslb_uri_check_query(const char *query, gslb_errbuf_t *eb)
{
    for (const char *p = query; p && *p;) {
        unsigned char c = 0;
        int rc = decode_byte(&p, &c, "query string", eb);
        if (rc != 0)
            return rc;
    }
    return 0;
}
