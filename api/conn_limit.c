/*
 * conn_limit.c - per-client connection limit of a CivetWeb context. See
 * conn_limit.h.
 */
#include "conn_limit.h"

#include "gslb_log.h"
#include "gslb_time.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SCANNED 4096 /* connections looked at per scan */

typedef struct peer_conn {
    int fd;
    uint8_t family; /* AF_INET (also for IPv4-mapped peers) or AF_INET6 */
    uint8_t addr[16];
} peer_conn_t;

void gslb_conn_limit_init(gslb_conn_limit_t *l, const char *name, unsigned per_client)
{
    memset(l, 0, sizeof(*l));
    l->name = name;
    l->per_client = per_client;
    atomic_init(&l->ports[0], 0);
    atomic_init(&l->ports[1], 0);
    atomic_init(&l->closed, 0);
    atomic_init(&l->logged_ms, 0);
}

void gslb_conn_limit_set_ports(gslb_conn_limit_t *l, uint16_t port0, uint16_t port1)
{
    atomic_store(&l->ports[0], port0);
    atomic_store(&l->ports[1], port1);
}

static int port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return -1;
}

/* The peer's address; an IPv4-mapped IPv6 peer counts as its IPv4 address. */
static bool peer_of(const struct sockaddr_storage *ss, peer_conn_t *out)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(out->addr, 0, sizeof(out->addr));
    if (ss->ss_family == AF_INET) {
        out->family = AF_INET;
        memcpy(out->addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        return true;
    }
    if (ss->ss_family != AF_INET6)
        return false;
    const uint8_t *b = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
    bool v4 = memcmp(b, mapped, 12) == 0;
    out->family = v4 ? AF_INET : AF_INET6;
    memcpy(out->addr, v4 ? b + 12 : b, v4 ? 4 : 16);
    return true;
}

static bool port_listed(int port, const uint16_t *ports, size_t nports)
{
    for (size_t i = 0; i < nports; i++) {
        if (ports[i] && ports[i] == port)
            return true;
    }
    return false;
}

/* fd is an established TCP socket on one of the ports: fill *out. */
static bool connection_on(int fd, const uint16_t *ports, size_t nports, peer_conn_t *out)
{
    struct stat st;
    struct sockaddr_storage local, peer;
    socklen_t llen = sizeof(local), plen = sizeof(peer);
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
        getsockname(fd, (struct sockaddr *)&local, &llen) != 0)
        return false;
    int port = port_of(&local);
    if (port <= 0 || !port_listed(port, ports, nports))
        return false;
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0)
        return false; /* the listening socket */
    struct tcp_info ti;
    socklen_t tlen = sizeof(ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen) != 0 || ti.tcpi_state != TCP_ESTABLISHED)
        return false; /* shut down already (by us or the peer): on its way out */
    out->fd = fd;
    return peer_of(&peer, out);
}

/* The established connections on the ports (the one scan of /proc/self/fd). */
static size_t scan(const uint16_t *ports, size_t nports, peer_conn_t *out, size_t cap)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    size_t n = 0;
    int self = dirfd(d);
    for (struct dirent *e; n < cap && (e = readdir(d)) != NULL;) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (e->d_name[0] == '\0' || *end || fd == self)
            continue;
        if (connection_on((int)fd, ports, nports, &out[n]))
            n++;
    }
    closedir(d);
    return n;
}

static int by_peer_then_fd(const void *pa, const void *pb)
{
    const peer_conn_t *a = pa, *b = pb;
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    int c = memcmp(a->addr, b->addr, sizeof(a->addr));
    if (c)
        return c;
    return a->fd < b->fd ? -1 : a->fd > b->fd;
}

static bool same_peer(const peer_conn_t *a, const peer_conn_t *b)
{
    return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static void log_trim(gslb_conn_limit_t *l, const peer_conn_t *p, size_t open, size_t closed)
{
    int64_t now = gslb_mono_ms(), last = atomic_load(&l->logged_ms);
    if (last != 0 && now - last < 60000)
        return;
    if (!atomic_compare_exchange_strong(&l->logged_ms, &last, now ? now : 1))
        return;
    char text[INET6_ADDRSTRLEN] = "?";
    inet_ntop(p->family, p->addr, text, sizeof(text));
    gslb_warn("%s: %s has %zu connections open, more than %u per client: closed %zu (closed so "
              "far on this listener: %llu; logged at most once a minute)",
              l->name, text, open, l->per_client, closed,
              (unsigned long long)atomic_load(&l->closed));
}

size_t gslb_conn_limit_enforce(gslb_conn_limit_t *l)
{
    uint16_t ports[2] = {atomic_load(&l->ports[0]), atomic_load(&l->ports[1])};
    if (ports[0] == 0 && ports[1] == 0)
        return 0;
    peer_conn_t *conns = malloc(MAX_SCANNED * sizeof(*conns));
    if (!conns)
        return 0;
    size_t n = scan(ports, 2, conns, MAX_SCANNED), total = 0;
    /* per peer, lowest fds first: the oldest connections stay, the newest go */
    qsort(conns, n, sizeof(*conns), by_peer_then_fd);
    for (size_t i = 0, run = 0; i < n; i++) {
        run = i > 0 && same_peer(&conns[i], &conns[i - 1]) ? run + 1 : 1;
        if (run <= l->per_client)
            continue;
        shutdown(conns[i].fd, SHUT_RDWR);
        total++;
        if (i + 1 == n || !same_peer(&conns[i + 1], &conns[i])) {
            atomic_fetch_add(&l->closed, run - l->per_client);
            log_trim(l, &conns[i], run, run - l->per_client);
        }
    }
    free(conns);
    return total;
}

size_t gslb_conn_wake(const uint16_t *ports, size_t nports)
{
    peer_conn_t *conns = malloc(MAX_SCANNED * sizeof(*conns));
    if (!conns)
        return 0;
    size_t n = scan(ports, nports, conns, MAX_SCANNED);
    for (size_t i = 0; i < n; i++)
        (void)shutdown(conns[i].fd, SHUT_RD);
    free(conns);
    return n;
}
