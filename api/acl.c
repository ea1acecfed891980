/*
 * acl.c - CIDR parsing and client matching for api.allowed_networks.
 */
#include "acl.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void clear_host_bits(gslb_cidr_t *c)
{
    size_t nbytes = c->family == AF_INET ? 4 : 16;
    for (size_t i = 0; i < nbytes; i++) {
        unsigned keep = c->prefix > i * 8 ? c->prefix - (unsigned)(i * 8) : 0;
        if (keep >= 8)
            continue;
        c->bytes[i] &= (uint8_t)(0xff00u >> keep);
    }
}

static int parse_prefix_len(const char *s, unsigned max, uint8_t *out)
{
    if (!*s || strlen(s) > 3)
        return GSLB_EINVAL;
    unsigned v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return GSLB_EINVAL;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > max)
        return GSLB_EINVAL;
    *out = (uint8_t)v;
    return 0;
}

int gslb_cidr_parse(const char *text, gslb_cidr_t *out)
{
    char addr[64];
    if (!text || strlen(text) >= sizeof(addr))
        return GSLB_EINVAL;
    memset(out, 0, sizeof(*out));
    snprintf(addr, sizeof(addr), "%s", text);
    char *slash = strchr(addr, '/');
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, addr, out->bytes) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, addr, out->bytes) == 1)
        out->family = AF_INET6;
    else
        return GSLB_EINVAL;
    unsigned max = out->family == AF_INET ? 32 : 128;
    out->prefix = (uint8_t)max;
    if (slash && parse_prefix_len(slash + 1, max, &out->prefix) != 0)
        return GSLB_EINVAL;
    clear_host_bits(out);
    return 0;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (a[full] & mask) == (b[full] & mask);
}

/* An IPv4-mapped IPv6 address is matched as the IPv4 address it carries. */
static gslb_addr_t unmap_v4(const gslb_addr_t *a)
{
    gslb_addr_t out = *a;
    if (a->family == AF_INET6 && memcmp(a->bytes, v4_mapped_prefix, 12) == 0) {
        memset(&out, 0, sizeof(out));
        out.family = AF_INET;
        memcpy(out.bytes, a->bytes + 12, 4);
    }
    return out;
}

bool gslb_cidr_match(const gslb_cidr_t *net, const gslb_addr_t *addr)
{
    gslb_addr_t a = unmap_v4(addr);
    if (a.family != net->family)
        return false;
    return prefix_equal(net->bytes, a.bytes, net->prefix);
}

int gslb_acl_build(gslb_acl_t *acl, const char (*nets)[64], size_t count, gslb_errbuf_t *eb)
{
    memset(acl, 0, sizeof(*acl));
    if (count == 0)
        return 0;
    acl->nets = calloc(count, sizeof(*acl->nets));
    if (!acl->nets)
        return gslb_errf(eb, GSLB_ENOMEM, "api.allowed_networks: out of memory");
    for (size_t i = 0; i < count; i++) {
        if (gslb_cidr_parse(nets[i], &acl->nets[i]) != 0) {
            gslb_acl_free(acl);
            return gslb_errf(eb, GSLB_ECONFIG,
                             "api.allowed_networks[%zu]: \"%.63s\" is not an IPv4/IPv6 CIDR", i,
                             nets[i]);
        }
    }
    acl->count = count;
    return 0;
}

bool gslb_acl_allows(const gslb_acl_t *acl, const char *client)
{
    gslb_addr_t a;
    if (!client || gslb_addr_parse(client, &a) != 0)
        return false;
    for (size_t i = 0; i < acl->count; i++) {
        if (gslb_cidr_match(&acl->nets[i], &a))
            return true;
    }
    return false;
}

void gslb_acl_free(gslb_acl_t *acl)
{
    free(acl->nets);
    acl->nets = NULL;
    acl->count = 0;
}

/* One "+net/len" entry (IPv4, IPv6 in brackets, or IPv4 as IPv4-mapped IPv6). */
static int spec_entry(const gslb_cidr_t *c, bool mapped, char *out, size_t cap)
{
    char text[INET6_ADDRSTRLEN];
    if (c->family == AF_INET && !mapped) {
        inet_ntop(AF_INET, c->bytes, text, sizeof(text));
        return snprintf(out, cap, ",+%s/%u", text, c->prefix);
    }
    if (c->family == AF_INET) {
        inet_ntop(AF_INET, c->bytes, text, sizeof(text));
        return snprintf(out, cap, ",+[::ffff:%s]/%u", text, 96u + c->prefix);
    }
    inet_ntop(AF_INET6, c->bytes, text, sizeof(text));
    return snprintf(out, cap, ",+[%s]/%u", text, c->prefix);
}

/* a lies inside b (same family, b's prefix no longer and matching). */
static bool cidr_within(const gslb_cidr_t *a, const gslb_cidr_t *b)
{
    return a->family == b->family && b->prefix <= a->prefix &&
           prefix_equal(a->bytes, b->bytes, b->prefix);
}

static int cidr_order(const void *pa, const void *pb)
{
    const gslb_cidr_t *a = pa, *b = pb;
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    int c = memcmp(a->bytes, b->bytes, 16);
    return c ? c : (int)a->prefix - (int)b->prefix;
}

/* Entry i is needed: no other entry covers it (of equal ones, the first stays). */
static bool spec_needs(const gslb_cidr_t *nets, size_t n, size_t i)
{
    for (size_t j = 0; j < n; j++) {
        if (j == i || !cidr_within(&nets[i], &nets[j]))
            continue;
        if (!cidr_within(&nets[j], &nets[i]) || j < i)
            return false;
    }
    return true;
}

char *gslb_acl_civetweb_spec(const gslb_acl_t *acl, bool ipv6)
{
    static const char deny_all[] = "-0.0.0.0/0";
    size_t per_entry = 2 * (INET6_ADDRSTRLEN + 16), cap = sizeof(deny_all) + acl->count * per_entry;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    /* sorted and without covered entries: the same admitted set gives the same text */
    gslb_cidr_t *nets = acl->count ? calloc(acl->count, sizeof(*nets)) : NULL;
    if (acl->count && !nets) {
        free(out);
        return NULL;
    }
    if (acl->count) {
        memcpy(nets, acl->nets, acl->count * sizeof(*nets));
        qsort(nets, acl->count, sizeof(*nets), cidr_order);
    }
    size_t used = (size_t)snprintf(out, cap, "%s", deny_all);
    for (size_t i = 0; i < acl->count; i++) {
        const gslb_cidr_t *c = &nets[i];
        if (!spec_needs(nets, acl->count, i))
            continue;
        if (c->family == AF_INET)
            used += (size_t)spec_entry(c, false, out + used, cap - used);
        if (ipv6)
            used += (size_t)spec_entry(c, c->family == AF_INET, out + used, cap - used);
    }
    free(nets);
    return out;
}
