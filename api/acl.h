/*
 * acl.h - api.allowed_networks: IPv4/IPv6 CIDR lists and client matching.
 *
 * Contract:
 *  - gslb_cidr_parse() accepts "a.b.c.d/len", "v6/len" or a bare address (a
 *    host route: /32 or /128). Host bits beyond the prefix are cleared (like
 *    most tools do). Anything else is GSLB_EINVAL.
 *  - An IPv4-mapped IPv6 client (::ffff:a.b.c.d) is matched as IPv4.
 *  - The list is taken literally: an empty list allows nobody. (The default
 *    [127.0.0.0/8, ::1/128] is the configuration loader's, docs/configuration.md.)
 *  - An acl is immutable once built (gslb_acl_build() plus, for the API,
 *    gslb_acl_add_peers()); matching is thread-safe. The API applies it twice:
 *    at accept, as CivetWeb's access_control_list (gslb_acl_civetweb_spec(): a
 *    refused client never ties up a worker), and per request (gslb_acl_allows()).
 *  - The API also admits the overwatch.dnssec.key_sync.peers, so the peers a
 *    node trusts for keys may reach its API (docs/api.md, "Access"): each peer
 *    URL's host (CURLU parsing) becomes host routes, an IP literal as is, a
 *    host name through getaddrinfo() (all its A/AAAA addresses). Resolution
 *    happens when the acl is built (start, reload), never per request.
 */
#pragma once

#include "gslb_err.h"
#include "records.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gslb_cidr {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t bytes[16];
    uint8_t prefix;
} gslb_cidr_t;

typedef struct gslb_acl {
    size_t count;
    gslb_cidr_t *nets;
} gslb_acl_t;

int gslb_cidr_parse(const char *text, gslb_cidr_t *out);
bool gslb_cidr_match(const gslb_cidr_t *net, const gslb_addr_t *addr);

/** Build from CIDR texts (count 0 = nobody). Errors name the bad entry. */
int gslb_acl_build(gslb_acl_t *acl, const char (*nets)[64], size_t count, gslb_errbuf_t *eb);
/** true when the client address text (as CivetWeb reports it) is allowed. */
bool gslb_acl_allows(const gslb_acl_t *acl, const char *client);
void gslb_acl_free(gslb_acl_t *acl);

/**
 * The acl as CivetWeb's access_control_list option, applied when a connection
 * is accepted (before it takes a worker thread): "-0.0.0.0/0" (deny all, also
 * for an empty acl) followed by "+net/len" per entry. IPv6 entries, and the
 * IPv4-mapped form "+[::ffff:a.b.c.d]/(96+len)" of each IPv4 entry, are written
 * only when ipv6 is set: a CivetWeb built without IPv6 (Debian's) treats an IPv6
 * entry as a malformed list and refuses every client, and has no IPv6 listener
 * for such clients anyway. Entries are sorted and those inside another entry
 * left out (a key_sync peer inside allowed_networks adds nothing), so the same
 * admitted set always gives the same text. Returns a malloc'ed string or NULL
 * (out of memory).
 */
char *gslb_acl_civetweb_spec(const gslb_acl_t *acl, bool ipv6);

/**
 * Host routes (/32, /128) for the host of a key_sync peer URL: an IP literal
 * (IPv6 brackets stripped) as is, a host name resolved to all its A/AAAA
 * addresses (duplicates dropped, at most cap). Returns the number of entries
 * written (>= 1), GSLB_EINVAL for a string that is not a URL with a host, or
 * GSLB_ENOENT when the name does not resolve; eb names the peer.
 */
int gslb_acl_peer_addrs(const char *url, gslb_cidr_t *out, size_t cap, gslb_errbuf_t *eb);

/**
 * Append the addresses of every peer URL to acl. A peer that cannot be used
 * (bad URL, name that does not resolve) is logged as a warning naming it and
 * skipped; each admitted address is logged at info. Only GSLB_ENOMEM fails
 * (the caller then frees the acl).
 */
int gslb_acl_add_peers(gslb_acl_t *acl, const char (*peers)[512], size_t count, gslb_errbuf_t *eb);
