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
