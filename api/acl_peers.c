/*
 * acl_peers.c - admit the overwatch.dnssec.key_sync.peers to the API: each peer
 * URL's host becomes host routes in the acl (see acl.h).
 */
#include "acl.h"

#include "gslb_log.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PEER_MAX_ADDRS 16

/* The URL's host without IPv6 brackets, or GSLB_EINVAL. */
static int url_host(const char *url, char *out, size_t cap, gslb_errbuf_t *eb)
{
    CURLU *u = curl_url();
    if (!u)
        return gslb_errf(eb, GSLB_ENOMEM, "key_sync peer \"%.200s\": out of memory", url);
    char *host = NULL;
    int rc = 0;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !host[0])
        rc = gslb_errf(eb, GSLB_EINVAL, "key_sync peer \"%.200s\" is not a URL with a host",
                       url ? url : "(null)");
    if (rc == 0) {
        size_t len = strlen(host);
        const char *start = host;
        if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
            start++;
            len -= 2;
        }
        if (len >= cap)
            rc = gslb_errf(eb, GSLB_EINVAL, "key_sync peer \"%.200s\": host name too long", url);
        else
            snprintf(out, cap, "%.*s", (int)len, start);
    }
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

static bool cidr_listed(const gslb_cidr_t *list, size_t n, const gslb_cidr_t *c)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i].family == c->family && memcmp(list[i].bytes, c->bytes, 16) == 0)
            return true;
    }
    return false;
}

static bool host_route_from_sockaddr(const struct sockaddr *sa, gslb_cidr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        memcpy(out->bytes, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        out->family = AF_INET;
        out->prefix = 32;
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out->bytes, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        out->family = AF_INET6;
        out->prefix = 128;
        return true;
    }
    return false;
}

static int resolve_host(const char *url, const char *host, gslb_cidr_t *out, size_t cap,
                        gslb_errbuf_t *eb)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0)
        return gslb_errf(eb, GSLB_ENOENT, "key_sync peer \"%.200s\": cannot resolve %.200s: %s",
                         url, host, gai_strerror(gai));
    size_t n = 0;
    for (const struct addrinfo *ai = res; ai && n < cap; ai = ai->ai_next) {
        gslb_cidr_t c;
        if (host_route_from_sockaddr(ai->ai_addr, &c) && !cidr_listed(out, n, &c))
            out[n++] = c;
    }
    freeaddrinfo(res);
    if (n == 0)
        return gslb_errf(eb, GSLB_ENOENT, "key_sync peer \"%.200s\": %.200s has no A/AAAA address",
                         url, host);
    return (int)n;
}

int gslb_acl_peer_addrs(const char *url, gslb_cidr_t *out, size_t cap, gslb_errbuf_t *eb)
{
    char host[256];
    if (!url || cap == 0)
        return gslb_errf(eb, GSLB_EINVAL, "key_sync peer: no URL or no room");
    int rc = url_host(url, host, sizeof(host), eb);
    if (rc != 0)
        return rc;
    if (!strchr(host, '/') && gslb_cidr_parse(host, &out[0]) == 0)
        return 1; /* an IP literal, taken as is */
    return resolve_host(url, host, out, cap, eb);
}

static void log_admitted(const char *url, const gslb_cidr_t *c)
{
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(c->family, c->bytes, text, sizeof(text)))
        snprintf(text, sizeof(text), "?");
    gslb_info("api: admitting key_sync peer %s address %s/%u", url, text, (unsigned)c->prefix);
}

static int append_nets(gslb_acl_t *acl, const gslb_cidr_t *add, size_t n, gslb_errbuf_t *eb)
{
    gslb_cidr_t *nets = realloc(acl->nets, (acl->count + n) * sizeof(*nets));
    if (!nets)
        return gslb_errf(eb, GSLB_ENOMEM, "api: key_sync peers: out of memory");
    memcpy(nets + acl->count, add, n * sizeof(*nets));
    acl->nets = nets;
    acl->count += n;
    return 0;
}

int gslb_acl_add_peers(gslb_acl_t *acl, const char (*peers)[512], size_t count, gslb_errbuf_t *eb)
{
    for (size_t i = 0; i < count; i++) {
        gslb_cidr_t addrs[PEER_MAX_ADDRS];
        gslb_errbuf_t peb;
        int n = gslb_acl_peer_addrs(peers[i], addrs, PEER_MAX_ADDRS, &peb);
        if (n == GSLB_ENOMEM)
            return gslb_errf(eb, n, "api: %s", peb.msg);
        if (n < 0) {
            gslb_warn("api: %s; not admitted to the API", peb.msg);
            continue;
        }
        int rc = append_nets(acl, addrs, (size_t)n, eb);
        if (rc != 0)
            return rc;
        for (int k = 0; k < n; k++)
            log_admitted(peers[i], &addrs[k]);
    }
    return 0;
}
