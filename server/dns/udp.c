/*
 * udp.c - a worker's UDP socket and batch loop (see udp.h for the contract).
 */
#include "udp.h"
#include "gslb_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UDP_SOCKBUF (4 << 20)

/* Room for one IP_PKTINFO or IPV6_PKTINFO control message (each < 64 bytes
 * with its header); a literal size keeps the struct fixed for every compiler. */
typedef union ctrl_buf {
    size_t align; /* struct cmsghdr alignment (it ends in a flexible array) */
    uint8_t bytes[128];
} ctrl_buf_t;

struct gslb_udp_slot {
    struct sockaddr_storage peer;
    struct iovec rx_iov, tx_iov;
    ctrl_buf_t rx_ctrl, tx_ctrl;
    uint8_t rx_buf[GSLB_UDP_RX_SIZE];
};

/* Optional kernel tuning: warn once per process, never fail. */
static void tune_option(int fd, int level, int name, int value, const char *what)
{
    static atomic_bool warned;
    if (setsockopt(fd, level, name, &value, sizeof(value)) == 0)
        return;
    if (!atomic_exchange(&warned, true))
        gslb_warn("dns: cannot set %s on UDP sockets: %s (continuing)", what, strerror(errno));
}

static void tune_udp_socket(int fd, int family, bool wildcard)
{
    tune_option(fd, SOL_SOCKET, SO_RCVBUF, UDP_SOCKBUF, "SO_RCVBUF");
    tune_option(fd, SOL_SOCKET, SO_SNDBUF, UDP_SOCKBUF, "SO_SNDBUF");
    /* DF set, path MTU information ignored (RFC 9715 3.1; answers stay within
     * dns.edns_payload, so forged "fragmentation needed" messages change nothing). */
    if (family == AF_INET) {
        tune_option(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE, "IP_PMTUDISC_PROBE");
    } else {
        tune_option(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE,
                    "IPV6_PMTUDISC_PROBE");
        if (wildcard) /* dual-stack: IPv4 answers too */
            tune_option(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE, "IP_PMTUDISC_PROBE");
    }
}

static int enable_pktinfo(int fd, int family, gslb_errbuf_t *eb)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) != 0)
        return gslb_errf(eb, GSLB_EIO, "dns: IP_PKTINFO: %s", strerror(errno));
    if (family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) != 0)
        return gslb_errf(eb, GSLB_EIO, "dns: IPV6_RECVPKTINFO: %s", strerror(errno));
    return GSLB_OK;
}

int gslb_udp_open(const struct sockaddr *addr, socklen_t len, bool wildcard, gslb_errbuf_t *eb)
{
    int fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return gslb_errf(eb, GSLB_EIO, "dns: UDP socket: %s", strerror(errno));
    int one = 1, v6only = wildcard ? 0 : 1;
    int rc = GSLB_OK;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        rc = gslb_errf(eb, GSLB_EIO, "dns: SO_REUSEPORT: %s", strerror(errno));
    if (!rc && addr->sa_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0)
        rc = gslb_errf(eb, GSLB_EIO, "dns: IPV6_V6ONLY: %s", strerror(errno));
    if (!rc && wildcard)
        rc = enable_pktinfo(fd, addr->sa_family, eb);
    if (!rc && bind(fd, addr, len) != 0)
        rc = gslb_errf(eb, GSLB_EIO, "dns: cannot bind UDP socket: %s", strerror(errno));
    if (rc) {
        close(fd);
        return rc;
    }
    tune_udp_socket(fd, addr->sa_family, wildcard);
    return fd;
}

int gslb_udp_adopt(int fd, bool wildcard, gslb_errbuf_t *eb)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int flags = fcntl(fd, F_GETFL);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 || flags < 0 ||
        fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return gslb_errf(eb, GSLB_EIO, "dns: passed UDP socket %d: %s", fd, strerror(errno));
    int rc = wildcard ? enable_pktinfo(fd, ss.ss_family, eb) : GSLB_OK;
    if (rc == GSLB_OK)
        tune_udp_socket(fd, ss.ss_family, wildcard);
    return rc;
}

/* The address a datagram to this socket can only come from itself: its own
 * address, or loopback for a wildcard bind. */
static void self_address(struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
            s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (ss->ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
            s6->sin6_addr = in6addr_loopback;
    }
}

int gslb_udp_detach(gslb_udp_t *u)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(u->fd, (struct sockaddr *)&ss, &len) != 0)
        return GSLB_EIO;
    self_address(&ss);
    return connect(u->fd, (struct sockaddr *)&ss, len) == 0 ? GSLB_OK : GSLB_EIO;
}

int gslb_udp_init(gslb_udp_t *u, int fd, bool pktinfo, size_t tx_size)
{
    memset(u, 0, sizeof(*u));
    u->fd = fd;
    u->pktinfo = pktinfo;
    u->tx_size = tx_size;
    u->slots = calloc(GSLB_UDP_BATCH, sizeof(*u->slots) + tx_size);
    if (!u->slots) {
        u->fd = -1;
        close(fd);
        return GSLB_ENOMEM;
    }
    uint8_t *tx_bufs = (uint8_t *)(u->slots + GSLB_UDP_BATCH);
    for (unsigned i = 0; i < GSLB_UDP_BATCH; i++) {
        gslb_udp_slot_t *s = &u->slots[i];
        s->rx_iov = (struct iovec){s->rx_buf, sizeof(s->rx_buf)};
        s->tx_iov = (struct iovec){tx_bufs + i * tx_size, tx_size};
        struct msghdr *m = &u->rx[i].msg_hdr;
        m->msg_name = &s->peer;
        m->msg_iov = &s->rx_iov;
        m->msg_iovlen = 1;
        m->msg_control = pktinfo ? s->rx_ctrl.bytes : NULL;
    }
    return GSLB_OK;
}

void gslb_udp_destroy(gslb_udp_t *u)
{
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    free(u->slots);
    u->slots = NULL;
}

/* The reply leaves from the address the query was sent to (wildcard binds). */
static size_t reply_control(const struct msghdr *rx, ctrl_buf_t *out)
{
    struct msghdr m = {.msg_control = out->bytes, .msg_controllen = sizeof(out->bytes)};
    struct cmsghdr *w = CMSG_FIRSTHDR(&m);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(rx); c; c = CMSG_NXTHDR((struct msghdr *)rx, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            pi.ipi_spec_dst = pi.ipi_addr;
            pi.ipi_ifindex = 0;
            w->cmsg_level = IPPROTO_IP;
            w->cmsg_type = IP_PKTINFO;
            w->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(w), &pi, sizeof(pi));
            return CMSG_SPACE(sizeof(pi));
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            w->cmsg_level = IPPROTO_IPV6;
            w->cmsg_type = IPV6_PKTINFO;
            w->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
            memcpy(CMSG_DATA(w), CMSG_DATA(c), sizeof(struct in6_pktinfo));
            return CMSG_SPACE(sizeof(struct in6_pktinfo));
        }
    }
    return 0;
}

static void send_batch(gslb_udp_t *u, unsigned count, gslb_stats_t *stats)
{
    unsigned sent = 0;
    while (sent < count) {
        int rc = sendmmsg(u->fd, u->tx + sent, count - sent, MSG_DONTWAIT);
        if (rc > 0) {
            sent += (unsigned)rc;
            continue;
        }
        if (rc < 0 && errno == EINTR)
            continue;
        /* this datagram cannot go (buffer full, unreachable peer): skip it */
        gslb_stats_inc(stats, GSLB_ST_UDP_SEND_ERRORS);
        sent++;
    }
}

int gslb_udp_serve(gslb_udp_t *u, gslb_answer_ctx_t *ctx, gslb_reader_t *reader,
                   gslb_stats_t *stats)
{
    for (unsigned i = 0; i < GSLB_UDP_BATCH; i++) {
        u->rx[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
        u->rx[i].msg_hdr.msg_controllen = u->pktinfo ? sizeof(ctrl_buf_t) : 0;
        u->rx[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(u->fd, u->rx, GSLB_UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        return GSLB_EIO;
    }
    gslb_stats_add(&stats->field[GSLB_ST_UDP_QUERIES], (uint64_t)n);
    int rc = gslb_reader_begin(reader);
    gslb_answer_set_txn(ctx, rc == GSLB_OK ? reader->txn : NULL);
    unsigned out = 0;
    for (int i = 0; i < n; i++) {
        gslb_udp_slot_t *s = &u->slots[i];
        const struct msghdr *rm = &u->rx[i].msg_hdr;
        if (rm->msg_flags & MSG_TRUNC) {
            gslb_stats_inc(stats, GSLB_ST_DROPPED);
            continue;
        }
        size_t len = gslb_answer_query(ctx, s->rx_buf, u->rx[i].msg_len, GSLB_TRANSPORT_UDP,
                                       s->tx_iov.iov_base, u->tx_size);
        if (len == 0)
            continue;
        struct msghdr *tm = &u->tx[out++].msg_hdr;
        memset(tm, 0, sizeof(*tm));
        tm->msg_name = &s->peer;
        tm->msg_namelen = rm->msg_namelen;
        s->tx_iov.iov_len = len;
        tm->msg_iov = &s->tx_iov;
        tm->msg_iovlen = 1;
        if (u->pktinfo) {
            size_t cl = reply_control(rm, &s->tx_ctrl);
            tm->msg_control = cl ? s->tx_ctrl.bytes : NULL;
            tm->msg_controllen = cl;
        }
    }
    gslb_answer_set_txn(ctx, NULL);
    gslb_reader_end(reader);
    if (out)
        send_batch(u, out, stats);
    return n;
}
