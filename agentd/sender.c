/*
 * sender.c - per-overwatch sender threads (sender.h).
 */
#include "sender.h"
#include "gossip_wire.h"
#include "cursor.h"
#include "gslb_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct node {
    gslb_sender_t *owner;
    gslb_agent_node_cfg_t cfg;
    char label[GSLB_NAME_MAX + 16]; /* host:port for logs */
    pthread_t thread;
    bool started;
    /* mailbox (owner->mu) */
    uint8_t *msg;
    size_t len;
    uint64_t version, done_version;
    uint64_t sent, failed;
    bool published_reachable;
    /* thread-private */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int64_t resolved_at; /* mono ms, 0 = not resolved */
    int udp_fd;
    bool reachable, state_known;
} node_t;

struct gslb_sender {
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* new message or stop */
    pthread_cond_t done_cond; /* a node finished a message */
    bool stop;
    size_t count;
    node_t *nodes;
};

/* ---- reachability logging ------------------------------------------------- */

static void set_reachable(node_t *n, bool ok, const char *why)
{
    if (n->state_known && n->reachable == ok)
        return;
    if (ok)
        gslb_info("sender: overwatch %s reachable again", n->label);
    else
        gslb_warn("sender: overwatch %s unreachable: %s", n->label, why);
    n->reachable = ok;
    n->state_known = true;
}

/* ---- resolution ----------------------------------------------------------- */

static void close_udp(node_t *n)
{
    if (n->udp_fd >= 0)
        close(n->udp_fd);
    n->udp_fd = -1;
}

static int resolve(node_t *n, char *why, size_t why_cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", n->cfg.port);
    int rc = getaddrinfo(n->cfg.host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(why, why_cap, "cannot resolve %s: %s", n->cfg.host, gai_strerror(rc));
        return -1;
    }
    bool same = n->addr_len == res->ai_addrlen && memcmp(&n->addr, res->ai_addr, n->addr_len) == 0;
    memcpy(&n->addr, res->ai_addr, res->ai_addrlen);
    n->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    n->resolved_at = gslb_mono_ms();
    if (!same)
        close_udp(n); /* keep the socket (and its pending ICMP errors) otherwise */
    return 0;
}

static bool needs_resolve(const node_t *n)
{
    return n->resolved_at == 0 || gslb_mono_ms() - n->resolved_at >= GSLB_SENDER_RESOLVE_MS;
}

/* ---- UDP ------------------------------------------------------------------ */

static int send_udp(node_t *n, const uint8_t *msg, size_t len, char *why, size_t why_cap)
{
    if (n->udp_fd < 0) {
        int fd = socket(n->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&n->addr, n->addr_len) != 0) {
            snprintf(why, why_cap, "%s", strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        n->udp_fd = fd;
    }
    ssize_t w = send(n->udp_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w == (ssize_t)len)
        return 0;
    int err = w < 0 ? errno : EMSGSIZE;
    if (err == ECONNREFUSED) {
        /* An ICMP port unreachable answered the previous datagram: the overwatch
         * is down. This datagram was not sent; send it anyway, so a recovered
         * overwatch has it at once, but report the node unreachable. */
        (void)send(n->udp_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        snprintf(why, why_cap, "connection refused (nothing listens on the gossip port)");
        return -1;
    }
    snprintf(why, why_cap, "%s", strerror(err));
    return -1;
}

/* ---- TCP ------------------------------------------------------------------ */

static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - gslb_mono_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static int tcp_connect(node_t *n, int64_t deadline)
{
    int fd = socket(n->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&n->addr, n->addr_len) != 0) {
        if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            close(fd);
            errno = err;
            return -1;
        }
    }
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (wait_fd(fd, POLLOUT, deadline) < 0)
            return -1;
    }
    return 0;
}

static int send_tcp(node_t *n, const uint8_t *msg, size_t len, char *why, size_t why_cap)
{
    int64_t deadline = gslb_mono_ms() + GSLB_SENDER_TCP_TIMEOUT_MS;
    int fd = tcp_connect(n, deadline);
    if (fd < 0) {
        snprintf(why, why_cap, "TCP connect: %s", strerror(errno));
        return -1;
    }
    uint8_t hdr[4];
    gslb_put_be32(hdr, (uint32_t)len);
    int rc = write_all(fd, hdr, sizeof(hdr), deadline);
    if (rc == 0)
        rc = write_all(fd, msg, len, deadline);
    if (rc < 0)
        snprintf(why, why_cap, "TCP send: %s", strerror(errno));
    close(fd);
    return rc;
}

/* ---- node thread ---------------------------------------------------------- */

static bool deliver(node_t *n, const uint8_t *msg, size_t len)
{
    char why[512] = "";
    int rc = 0;
    if (needs_resolve(n))
        rc = resolve(n, why, sizeof(why));
    if (rc == 0)
        rc = len <= GSLB_GOSSIP_UDP_MAX ? send_udp(n, msg, len, why, sizeof(why))
                                        : send_tcp(n, msg, len, why, sizeof(why));
    if (rc == 0) {
        set_reachable(n, true, NULL);
        return true;
    }
    n->resolved_at = 0; /* resolve again before the next message */
    set_reachable(n, false, why);
    return false;
}

static void *node_main(void *arg)
{
    node_t *n = arg;
    gslb_sender_t *s = n->owner;
    uint8_t *buf = malloc(GSLB_GOSSIP_MSG_MAX);
    if (!buf) {
        gslb_error("sender: out of memory for %s", n->label);
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && n->version == n->done_version)
            pthread_cond_wait(&s->cond, &s->mu);
        if (s->stop)
            break;
        uint64_t v = n->version;
        size_t len = n->len;
        memcpy(buf, n->msg, len);
        pthread_mutex_unlock(&s->mu);
        bool ok = deliver(n, buf, len);
        pthread_mutex_lock(&s->mu);
        if (ok)
            n->sent++;
        else
            n->failed++;
        n->published_reachable = ok;
        if (n->done_version < v)
            n->done_version = v;
        pthread_cond_broadcast(&s->done_cond);
    }
    pthread_mutex_unlock(&s->mu);
    close_udp(n);
    free(buf);
    return NULL;
}

/* ---- public --------------------------------------------------------------- */

static void format_label(node_t *n)
{
    if (strchr(n->cfg.host, ':'))
        snprintf(n->label, sizeof(n->label), "[%s]:%u", n->cfg.host, n->cfg.port);
    else
        snprintf(n->label, sizeof(n->label), "%s:%u", n->cfg.host, n->cfg.port);
}

int gslb_sender_start(gslb_sender_t **out, const gslb_agent_node_cfg_t *nodes, size_t count,
                      gslb_errbuf_t *eb)
{
    gslb_sender_t *s = calloc(1, sizeof(*s));
    if (!s)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    gslb_cond_init_monotonic(&s->done_cond);
    s->nodes = calloc(count ? count : 1, sizeof(*s->nodes));
    if (!s->nodes) {
        gslb_sender_stop(s);
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    }
    s->count = count;
    for (size_t i = 0; i < count; i++) {
        node_t *n = &s->nodes[i];
        n->owner = s;
        n->cfg = nodes[i];
        n->udp_fd = -1;
        n->reachable = n->state_known = true; /* log changes only */
        format_label(n);
        n->msg = malloc(GSLB_GOSSIP_MSG_MAX);
        if (!n->msg) {
            gslb_sender_stop(s);
            return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (pthread_create(&s->nodes[i].thread, NULL, node_main, &s->nodes[i]) != 0) {
            gslb_sender_stop(s);
            return gslb_errf(eb, GSLB_EIO, "cannot start a sender thread");
        }
        s->nodes[i].started = true;
    }
    *out = s;
    return GSLB_OK;
}

void gslb_sender_publish(gslb_sender_t *s, const uint8_t *msg, size_t len)
{
    if (!s || len > GSLB_GOSSIP_MSG_MAX)
        return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->count; i++) {
        node_t *n = &s->nodes[i];
        memcpy(n->msg, msg, len);
        n->len = len;
        n->version++;
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

static size_t pending_nodes(const gslb_sender_t *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->count; i++)
        k += s->nodes[i].version != s->nodes[i].done_version;
    return k;
}

size_t gslb_sender_flush(gslb_sender_t *s, int timeout_ms)
{
    struct timespec deadline = gslb_mono_deadline(timeout_ms);
    pthread_mutex_lock(&s->mu);
    size_t left;
    while ((left = pending_nodes(s)) > 0) {
        if (pthread_cond_timedwait(&s->done_cond, &s->mu, &deadline) == ETIMEDOUT) {
            left = pending_nodes(s);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return left;
}

void gslb_sender_stop(gslb_sender_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true; /* what was not sent yet is dropped */
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; s->nodes && i < s->count; i++) {
        if (s->nodes[i].started)
            pthread_join(s->nodes[i].thread, NULL);
        free(s->nodes[i].msg);
    }
    free(s->nodes);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->done_cond);
    free(s);
}

void gslb_sender_stats(gslb_sender_t *s, size_t node, gslb_sender_node_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!s || node >= s->count)
        return;
    pthread_mutex_lock(&s->mu);
    out->sent = s->nodes[node].sent;
    out->failed = s->nodes[node].failed;
    out->reachable = s->nodes[node].published_reachable;
    pthread_mutex_unlock(&s->mu);
}
