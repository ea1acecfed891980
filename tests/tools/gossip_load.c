/*
 * gossip_load.c - gslb-gossip-load: a gossip load generator and probe
 * (docs/gossip-protocol.md, "Benchmark").
 *
 * N simulated agents x M backends send sealed heartbeats to one overwatch at a
 * given total rate. Optionally:
 *  - --flip-dns: one extra agent flips a backend's health and polls the
 *    overwatch's DNS until the answer changes; prints p50/p99 of the time
 *    from the message sent to the changed answer;
 *  - --metrics URL: reads opengslb_gossip_messages_total before and after
 *    and prints the overwatch's accepted messages per second.
 * With --count it sends exactly that many messages (system tests use it to
 * send crafted messages: wrong key, unknown token).
 */
#include "gossip_wire.h"
#include "gslb_time.h"
#include "yamlconf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct opts {
    char target_host[256];
    uint16_t target_port;
    uint8_t key[32];
    size_t key_len;
    const char *token_name, *token, *service, *region, *prefix;
    unsigned agents, backends;
    double rate, duration;
    long count;
    char flip_host[256];
    uint16_t flip_port;
    const char *flip_name, *flip_service, *flip_token_name, *flip_token;
    unsigned flips;
    const char *metrics_url;
} opts_t;

typedef struct sim_agent {
    char id[GSLB_LABEL_MAX];
    uint64_t seq;
    gslb_gossip_backend_t *backends;
} sim_agent_t;

/* ---- options -------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: gslb-gossip-load --target HOST:PORT --key BASE64 [options]\n"
               "  --token-name NAME --token VALUE   agent token (default webapp / empty)\n"
               "  --service NAME       service of the simulated backends (default: token name)\n"
               "  --region NAME        region of the simulated agents (default us-east)\n"
               "  --agents N           simulated agents (default 100)\n"
               "  --backends M         backends per agent (default 10)\n"
               "  --rate R             messages per second in total, 0 = as fast as possible\n"
               "                       (default 20000)\n"
               "  --duration S         seconds to run (default 10)\n"
               "  --count K            send exactly K messages, then stop\n"
               "  --agent-prefix P     agent ids are P-0, P-1, ... (default load)\n"
               "  --flip-dns HOST:PORT flip a backend's health and time the DNS answer change\n"
               "  --flip-name FQDN     name to query (A) for the flip (required with --flip-dns)\n"
               "  --flip-service NAME  service of the flip agent's backends (default flip)\n"
               "  --flip-token-name NAME --flip-token VALUE  (default: the agent token)\n"
               "  --flips K            number of flips (default 100)\n"
               "  --metrics URL        overwatch metrics endpoint: report accepted msg/s\n");
}

static int parse_target(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *problem = NULL;
    if (yc_parse_hostport(s, true, host, cap, port, &problem) < 0 || !host[0] || !*port) {
        fprintf(stderr, "gslb-gossip-load: bad HOST:PORT '%s': %s\n", s,
                problem ? problem : "host and port required");
        return -1;
    }
    return 0;
}

enum {
    O_TARGET = 1000,
    O_KEY,
    O_TOKEN_NAME,
    O_TOKEN,
    O_SERVICE,
    O_REGION,
    O_AGENTS,
    O_BACKENDS,
    O_RATE,
    O_DURATION,
    O_COUNT,
    O_PREFIX,
    O_FLIP_DNS,
    O_FLIP_NAME,
    O_FLIP_SERVICE,
    O_FLIP_TOKEN_NAME,
    O_FLIP_TOKEN,
    O_FLIPS,
    O_METRICS,
    O_HELP
};

static int apply_opt(opts_t *o, int c, const char *arg)
{
    const char *problem = NULL;
    switch (c) {
    case O_TARGET:
        return parse_target(arg, o->target_host, sizeof(o->target_host), &o->target_port);
    case O_KEY:
        if (yc_parse_b64key(arg, o->key, &o->key_len, &problem) < 0) {
            fprintf(stderr, "gslb-gossip-load: --key: %s\n", problem);
            return -1;
        }
        return 0;
    case O_TOKEN_NAME:
        o->token_name = arg;
        return 0;
    case O_TOKEN:
        o->token = arg;
        return 0;
    case O_SERVICE:
        o->service = arg;
        return 0;
    case O_REGION:
        o->region = arg;
        return 0;
    case O_AGENTS:
        o->agents = (unsigned)strtoul(arg, NULL, 10);
        return 0;
    case O_BACKENDS:
        o->backends = (unsigned)strtoul(arg, NULL, 10);
        return 0;
    case O_RATE:
        o->rate = strtod(arg, NULL);
        return 0;
    case O_DURATION:
        o->duration = strtod(arg, NULL);
        return 0;
    case O_COUNT:
        o->count = strtol(arg, NULL, 10);
        return 0;
    case O_PREFIX:
        o->prefix = arg;
        return 0;
    case O_FLIP_DNS:
        return parse_target(arg, o->flip_host, sizeof(o->flip_host), &o->flip_port);
    case O_FLIP_NAME:
        o->flip_name = arg;
        return 0;
    case O_FLIP_SERVICE:
        o->flip_service = arg;
        return 0;
    case O_FLIP_TOKEN_NAME:
        o->flip_token_name = arg;
        return 0;
    case O_FLIP_TOKEN:
        o->flip_token = arg;
        return 0;
    case O_FLIPS:
        o->flips = (unsigned)strtoul(arg, NULL, 10);
        return 0;
    case O_METRICS:
        o->metrics_url = arg;
        return 0;
    default:
        return -1;
    }
}

static int parse_args(int argc, char **argv, opts_t *o)
{
    static const struct option lo[] = {{"target", 1, NULL, O_TARGET},
                                       {"key", 1, NULL, O_KEY},
                                       {"token-name", 1, NULL, O_TOKEN_NAME},
                                       {"token", 1, NULL, O_TOKEN},
                                       {"service", 1, NULL, O_SERVICE},
                                       {"region", 1, NULL, O_REGION},
                                       {"agents", 1, NULL, O_AGENTS},
                                       {"backends", 1, NULL, O_BACKENDS},
                                       {"rate", 1, NULL, O_RATE},
                                       {"duration", 1, NULL, O_DURATION},
                                       {"count", 1, NULL, O_COUNT},
                                       {"agent-prefix", 1, NULL, O_PREFIX},
                                       {"flip-dns", 1, NULL, O_FLIP_DNS},
                                       {"flip-name", 1, NULL, O_FLIP_NAME},
                                       {"flip-service", 1, NULL, O_FLIP_SERVICE},
                                       {"flip-token-name", 1, NULL, O_FLIP_TOKEN_NAME},
                                       {"flip-token", 1, NULL, O_FLIP_TOKEN},
                                       {"flips", 1, NULL, O_FLIPS},
                                       {"metrics", 1, NULL, O_METRICS},
                                       {"help", 0, NULL, O_HELP},
                                       {NULL, 0, NULL, 0}};
    *o = (opts_t){.token_name = "webapp",
                  .token = "",
                  .region = "us-east",
                  .prefix = "load",
                  .agents = 100,
                  .backends = 10,
                  .rate = 20000,
                  .duration = 10,
                  .count = -1,
                  .flip_service = "flip",
                  .flips = 100};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == O_HELP) {
            usage(stdout);
            exit(0);
        }
        if (apply_opt(o, c, optarg) < 0) {
            usage(stderr);
            return -1;
        }
    }
    if (!o->target_port || !o->key_len || o->backends > GSLB_GOSSIP_MAX_BACKENDS ||
        (o->flip_port && !o->flip_name)) {
        usage(stderr);
        return -1;
    }
    if (!o->service)
        o->service = o->token_name;
    if (!o->flip_token_name)
        o->flip_token_name = o->token_name;
    if (!o->flip_token)
        o->flip_token = o->token;
    return 0;
}

/* ---- messages ------------------------------------------------------------- */

static int open_udp(const char *host, uint16_t port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    char p[8];
    snprintf(p, sizeof(p), "%u", port);
    if (getaddrinfo(host, p, &hints, &res) != 0 || !res)
        return -1;
    int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    int sndbuf = 4 << 20;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    freeaddrinfo(res);
    return fd;
}

static void init_agent(sim_agent_t *a, const char *prefix, unsigned i, unsigned nb,
                       const char *service, uint32_t base)
{
    snprintf(a->id, sizeof(a->id), "%s-%u", prefix, i);
    a->seq = (uint64_t)gslb_wall_ms() * 1000;
    a->backends = calloc(nb ? nb : 1, sizeof(*a->backends));
    for (unsigned j = 0; a->backends && j < nb; j++) {
        gslb_gossip_backend_t *b = &a->backends[j];
        uint32_t ip = base + i * nb + j;
        snprintf(b->service, sizeof(b->service), "%s", service);
        b->addr.family = AF_INET;
        b->addr.bytes[0] = (uint8_t)(ip >> 24);
        b->addr.bytes[1] = (uint8_t)(ip >> 16);
        b->addr.bytes[2] = (uint8_t)(ip >> 8);
        b->addr.bytes[3] = (uint8_t)ip;
        b->port = 80;
        b->weight = 100;
        b->health = GSLB_HEALTHY;
        b->latency_us = 1000 + j;
    }
}

static int build(gslb_gossip_aead_t *aead, sim_agent_t *a, unsigned nb, const char *region,
                 const char *token_name, const char *token, uint8_t *scratch, uint8_t *out)
{
    gslb_gossip_msg_t m;
    memset(&m, 0, sizeof(m));
    m.version = GSLB_GOSSIP_VERSION;
    m.type = GSLB_GOSSIP_HEARTBEAT;
    m.seq = ++a->seq;
    m.timestamp_ms = gslb_wall_ms();
    snprintf(m.agent_id, sizeof(m.agent_id), "%s", a->id);
    snprintf(m.region, sizeof(m.region), "%s", region);
    snprintf(m.token_name, sizeof(m.token_name), "%s", token_name);
    snprintf(m.token, sizeof(m.token), "%s", token);
    m.backends = a->backends;
    m.backend_count = (uint16_t)nb;
    return gslb_gossip_build(aead, &m, scratch, GSLB_GOSSIP_MSG_MAX, out, GSLB_GOSSIP_MSG_MAX);
}

/* ---- load thread ---------------------------------------------------------- */

typedef struct load {
    const opts_t *o;
    int fd;
    uint64_t sent, errors;
    size_t msg_len;
    double seconds;
} load_t;

static void *load_main(void *arg)
{
    load_t *L = arg;
    const opts_t *o = L->o;
    gslb_gossip_aead_t aead;
    if (gslb_gossip_aead_init(&aead, o->key, o->key_len, NULL) < 0)
        return NULL;
    sim_agent_t *agents = calloc(o->agents ? o->agents : 1, sizeof(*agents));
    uint8_t *scratch = malloc(GSLB_GOSSIP_MSG_MAX), *out = malloc(GSLB_GOSSIP_MSG_MAX);
    for (unsigned i = 0; agents && i < o->agents; i++)
        init_agent(&agents[i], o->prefix, i, o->backends, o->service, 0x0AC80000u /* 10.200/16 */);
    int64_t start = gslb_mono_ms();
    int64_t end = start + (int64_t)(o->duration * 1000);
    unsigned next = 0;
    while (agents && scratch && out && o->agents) {
        int64_t now = gslb_mono_ms();
        if (o->count < 0 && now >= end)
            break;
        if (o->count >= 0 && L->sent + L->errors >= (uint64_t)o->count)
            break;
        if (o->rate > 0) {
            uint64_t due = (uint64_t)((double)(now - start) * o->rate / 1000.0) + 1;
            if (L->sent + L->errors >= due) {
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        sim_agent_t *a = &agents[next++ % o->agents];
        int n = build(&aead, a, o->backends, o->region, o->token_name, o->token, scratch, out);
        if (n <= 0 || n > GSLB_GOSSIP_UDP_MAX) {
            fprintf(stderr, "gslb-gossip-load: message of %d bytes does not fit a datagram\n", n);
            break;
        }
        L->msg_len = (size_t)n;
        if (send(L->fd, out, (size_t)n, 0) == n)
            L->sent++;
        else
            L->errors++;
    }
    L->seconds = (double)(gslb_mono_ms() - start) / 1000.0;
    for (unsigned i = 0; agents && i < o->agents; i++)
        free(agents[i].backends);
    free(agents);
    free(scratch);
    free(out);
    gslb_gossip_aead_free(&aead);
    return NULL;
}

/* ---- DNS (flip timing) ---------------------------------------------------- */

static int dns_name(const char *name, uint8_t *out, size_t cap)
{
    size_t pos = 0;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || len > 63 || pos + len + 2 > cap)
            return -1;
        out[pos++] = (uint8_t)len;
        memcpy(out + pos, p, len);
        pos += len;
        p += len + (dot ? 1 : 0);
    }
    out[pos++] = 0;
    return (int)pos;
}

static size_t skip_name(const uint8_t *m, size_t len, size_t pos)
{
    while (pos < len) {
        uint8_t l = m[pos];
        if ((l & 0xc0) == 0xc0)
            return pos + 2;
        if (l == 0)
            return pos + 1;
        pos += (size_t)l + 1;
    }
    return len + 1;
}

/* 1 = addr in the A answer, 0 = not, -1 = no answer. */
static int dns_has_addr(int fd, const uint8_t *qname, int qlen, const uint8_t *addr, uint16_t id)
{
    uint8_t q[300], r[4096];
    memset(q, 0, 12);
    q[0] = (uint8_t)(id >> 8);
    q[1] = (uint8_t)id;
    q[5] = 1;
    memcpy(q + 12, qname, (size_t)qlen);
    uint8_t *t = q + 12 + qlen;
    t[0] = 0, t[1] = 1, t[2] = 0, t[3] = 1;
    if (send(fd, q, (size_t)(12 + qlen + 4), 0) < 0)
        return -1;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    for (;;) {
        if (poll(&pf, 1, 200) <= 0)
            return -1;
        ssize_t n = recv(fd, r, sizeof(r), 0);
        if (n < 12 || r[0] != q[0] || r[1] != q[1])
            continue;
        size_t len = (size_t)n, pos = skip_name(r, len, 12) + 4;
        unsigned an = (unsigned)(r[6] << 8 | r[7]);
        for (unsigned i = 0; i < an && pos < len; i++) {
            pos = skip_name(r, len, pos);
            if (pos + 10 > len)
                break;
            uint16_t type = (uint16_t)(r[pos] << 8 | r[pos + 1]);
            uint16_t rdlen = (uint16_t)(r[pos + 8] << 8 | r[pos + 9]);
            pos += 10;
            if (type == 1 && rdlen == 4 && pos + 4 <= len && memcmp(r + pos, addr, 4) == 0)
                return 1;
            pos += rdlen;
        }
        return 0;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int send_flip_agent(int fd, gslb_gossip_aead_t *aead, sim_agent_t *fa, const opts_t *o,
                           uint8_t *scratch, uint8_t *out)
{
    int n = build(aead, fa, 2, o->region, o->flip_token_name, o->flip_token, scratch, out);
    return n > 0 && send(fd, out, (size_t)n, 0) == n ? 0 : -1;
}

/* Wait until the answer shows `want` (1 present / 0 absent); ms or -1. */
static double wait_answer(int dfd, const uint8_t *qn, int ql, const uint8_t *addr, int want,
                          int64_t t0_us, uint16_t *id)
{
    for (;;) {
        int has = dns_has_addr(dfd, qn, ql, addr, ++*id);
        double ms = (double)(gslb_mono_us() - t0_us) / 1e3;
        if (has == want)
            return ms;
        if (ms > 5000)
            return -1;
    }
}

static int run_flips(const opts_t *o, int gfd)
{
    int dfd = open_udp(o->flip_host, o->flip_port);
    uint8_t qn[256];
    int ql = dns_name(o->flip_name, qn, sizeof(qn));
    gslb_gossip_aead_t aead;
    if (dfd < 0 || ql < 0 || gslb_gossip_aead_init(&aead, o->key, o->key_len, NULL) < 0) {
        fprintf(stderr, "gslb-gossip-load: cannot set up the flip probe\n");
        return -1;
    }
    sim_agent_t fa;
    init_agent(&fa, "flip", 0, 2, o->flip_service, 0x0AC90001u /* 10.201.0.1 */);
    uint8_t *scratch = malloc(GSLB_GOSSIP_MSG_MAX), *out = malloc(GSLB_GOSSIP_MSG_MAX);
    double *lat = calloc(o->flips ? o->flips : 1, sizeof(*lat));
    uint16_t id = 1;
    unsigned done = 0, lost = 0;
    /* settle: both backends healthy and served */
    send_flip_agent(gfd, &aead, &fa, o, scratch, out);
    if (wait_answer(dfd, qn, ql, fa.backends[0].addr.bytes, 1, gslb_mono_us(), &id) < 0) {
        fprintf(stderr, "gslb-gossip-load: flip backend never appeared in %s\n", o->flip_name);
        lost = o->flips;
    }
    for (unsigned i = 0; !lost && i < o->flips; i++) {
        int want = fa.backends[0].health == GSLB_HEALTHY ? 0 : 1;
        fa.backends[0].health = want ? GSLB_HEALTHY : GSLB_UNHEALTHY;
        int64_t t0 = gslb_mono_us();
        send_flip_agent(gfd, &aead, &fa, o, scratch, out);
        double ms = wait_answer(dfd, qn, ql, fa.backends[0].addr.bytes, want, t0, &id);
        if (ms < 0)
            lost++;
        else
            lat[done++] = ms;
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (done) {
        qsort(lat, done, sizeof(*lat), cmp_double);
        printf("change-to-answer: flips=%u p50=%.1fms p99=%.1fms max=%.1fms lost=%u\n", done,
               lat[done / 2], lat[(size_t)((done - 1) * 0.99)], lat[done - 1], lost);
    } else {
        printf("change-to-answer: no flip observed (lost=%u)\n", lost);
    }
    free(lat);
    free(scratch);
    free(out);
    free(fa.backends);
    gslb_gossip_aead_free(&aead);
    close(dfd);
    return lost ? 1 : 0;
}

/* ---- metrics -------------------------------------------------------------- */

typedef struct text {
    char *p;
    size_t n;
} text_t;

static size_t collect_text(char *ptr, size_t size, size_t nmemb, void *ud)
{
    text_t *t = ud;
    size_t add = size * nmemb;
    char *np = realloc(t->p, t->n + add + 1);
    if (!np)
        return 0;
    memcpy(np + t->n, ptr, add);
    t->n += add;
    np[t->n] = '\0';
    t->p = np;
    return add;
}

static long long accepted_count(const char *url)
{
    CURL *c = curl_easy_init();
    text_t t = {0};
    long long v = -1;
    if (!c)
        return -1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_text);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    if (curl_easy_perform(c) == CURLE_OK && t.p) {
        const char *k = strstr(t.p, "opengslb_gossip_messages_total{result=\"accepted\"}");
        if (k)
            v = strtoll(strchr(k, '}') + 1, NULL, 10);
    }
    free(t.p);
    curl_easy_cleanup(c);
    return v;
}

/* ---- main ----------------------------------------------------------------- */

int main(int argc, char **argv)
{
    opts_t o;
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int fd = open_udp(o.target_host, o.target_port);
    if (fd < 0) {
        fprintf(stderr, "gslb-gossip-load: cannot reach %s:%u\n", o.target_host, o.target_port);
        return 1;
    }
    long long acc0 = o.metrics_url ? accepted_count(o.metrics_url) : -1;
    int64_t t0 = gslb_mono_ms();
    load_t L = {.o = &o, .fd = fd};
    pthread_t th;
    pthread_create(&th, NULL, load_main, &L);
    int rc = 0;
    if (o.flip_port)
        rc = run_flips(&o, fd); /* the load keeps its own duration */
    pthread_join(th, NULL);
    double secs = (double)(gslb_mono_ms() - t0) / 1000.0;
    if (o.agents) {
        printf("sent: %llu messages (%zu bytes each, %u agents x %u backends) in %.2fs = "
               "%.0f msg/s, %llu send errors\n",
               (unsigned long long)L.sent, L.msg_len, o.agents, o.backends, L.seconds,
               L.seconds > 0 ? (double)L.sent / L.seconds : 0.0, (unsigned long long)L.errors);
    }
    if (o.metrics_url) {
        struct timespec settle = {0, 300 * 1000000L}; /* let the last batch land */
        nanosleep(&settle, NULL);
        long long acc1 = accepted_count(o.metrics_url);
        double window = L.seconds > 0 ? L.seconds : secs;
        if (acc0 >= 0 && acc1 >= acc0)
            printf("overwatch accepted: %lld of %llu sent = %.0f msg/s over the %.2fs send "
                   "window\n",
                   acc1 - acc0, (unsigned long long)L.sent + (o.flip_port ? o.flips + 1 : 0),
                   window > 0 ? (double)(acc1 - acc0) / window : 0.0, window);
        else
            printf("overwatch accepted: metrics unavailable at %s\n", o.metrics_url);
    }
    close(fd);
    curl_global_cleanup();
    return rc;
}
