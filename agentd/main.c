/*
 * main.c - gslb-agentd: probes the local backends and gossips their health to
 * every overwatch (docs/agent.md).
 *
 * One thread runs the probes and the heartbeat clock; sender.c has a thread
 * per overwatch. A heartbeat goes out every agent.heartbeat.interval and at
 * once when a backend's health changes. SIGTERM/SIGINT send a goodbye (the
 * overwatches stop serving this agent's backends at once) and exit.
 */
#include "agent_config.h"
#include "gslb_log.h"
#include "gslb_time.h"
#include "probe.h"
#include "sender.h"
#include "gossip_wire.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define GOODBYE_FLUSH_MS 1500

typedef struct agent {
    gslb_agent_config_t cfg;
    gslb_gossip_aead_t aead;
    gslb_prober_t *prober;
    gslb_sender_t *sender;
    gslb_gossip_backend_t *wire_backends;
    uint8_t *plain, *sealed;
    uint64_t seq;
    bool changed;
} agent_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: gslb-agentd [--config FILE] [--check-config FILE] [--help] [--version]\n"
               "  --config FILE        configuration (default " GSLB_AGENT_DEFAULT_CONFIG ")\n"
               "  --check-config FILE  validate FILE, print notes, exit 0 if valid\n"
               "  --help               this text\n"
               "  --version            print the version\n"
               "Signals: SIGTERM/SIGINT send a goodbye to every overwatch and exit.\n"
               "Documentation: docs/agent.md\n");
}

static void print_notes(const gslb_agent_config_t *cfg, FILE *f)
{
    for (size_t i = 0; i < cfg->note_count; i++)
        fprintf(f, "note: %s\n", cfg->notes[i]);
}

static int check_config(const char *path)
{
    gslb_agent_config_t cfg;
    gslb_errbuf_t eb = {{0}};
    if (gslb_agent_config_load(path, &cfg, &eb) < 0) {
        fprintf(stderr, "%s\n", eb.msg);
        return 1;
    }
    printf("configuration OK: %s (agent %s, region %s, %zu backend(s), %zu overwatch(es))\n", path,
           cfg.agent_id, cfg.region, cfg.backend_count, cfg.node_count);
    print_notes(&cfg, stdout);
    gslb_agent_config_free(&cfg);
    return 0;
}

/* ---- messages ------------------------------------------------------------- */

static void on_probe(void *ctx, size_t i, const gslb_probe_state_t *st, bool changed)
{
    agent_t *a = ctx;
    if (!changed || i >= a->cfg.backend_count)
        return;
    const gslb_agent_backend_cfg_t *b = &a->cfg.backends[i];
    char addr[64];
    gslb_addr_format(&b->addr, addr, sizeof(addr));
    gslb_log(st->health == GSLB_HEALTHY ? GSLB_LOG_INFO : GSLB_LOG_WARN,
             "agent: backend %s %s port %u is now %s (%s check: %s)", b->service, addr, b->port,
             st->health == GSLB_HEALTHY ? "healthy" : "unhealthy",
             gslb_probe_type_name(b->check.type), st->detail);
    a->changed = true;
}

/* The next sequence: the wall clock in microseconds, or one above the last when
 * the clock has not moved on (or went back). So a running agent's sequence keeps
 * up with its clock, and an overwatch's window that someone pushed ahead (at
 * most to the overwatch's clock bound, docs/gossip-protocol.md) is passed again
 * within seconds, without a restart. */
static uint64_t next_seq(uint64_t last, int64_t now_ms)
{
    uint64_t now_us = now_ms > 0 ? (uint64_t)now_ms * 1000 : 0;
    return now_us > last ? now_us : last + 1;
}

static void fill_message(agent_t *a, uint8_t type, gslb_gossip_msg_t *m)
{
    memset(m, 0, sizeof(*m));
    m->version = GSLB_GOSSIP_VERSION;
    m->type = type;
    m->timestamp_ms = gslb_wall_ms();
    m->seq = a->seq = next_seq(a->seq, m->timestamp_ms);
    snprintf(m->agent_id, sizeof(m->agent_id), "%s", a->cfg.agent_id);
    snprintf(m->region, sizeof(m->region), "%s", a->cfg.region);
    snprintf(m->token_name, sizeof(m->token_name), "%s", a->cfg.token_name);
    snprintf(m->token, sizeof(m->token), "%s", a->cfg.token);
    m->backends = a->wire_backends;
    m->backend_count = (uint16_t)a->cfg.backend_count;
    for (size_t i = 0; i < a->cfg.backend_count; i++) {
        const gslb_agent_backend_cfg_t *b = &a->cfg.backends[i];
        const gslb_probe_state_t *st = gslb_prober_state(a->prober, i);
        gslb_gossip_backend_t *w = &a->wire_backends[i];
        snprintf(w->service, sizeof(w->service), "%s", b->service);
        w->addr = b->addr;
        w->port = b->port;
        w->weight = b->weight;
        w->health = st ? st->health : GSLB_UNKNOWN;
        w->latency_us = st ? st->latency_us : 0;
    }
}

static int send_message(agent_t *a, uint8_t type)
{
    gslb_gossip_msg_t m;
    fill_message(a, type, &m);
    int n = gslb_gossip_build(&a->aead, &m, a->plain, GSLB_GOSSIP_MSG_MAX, a->sealed,
                              GSLB_GOSSIP_MSG_MAX);
    OPENSSL_cleanse(m.token, sizeof(m.token));
    if (n < 0) {
        gslb_error("agent: cannot build a gossip message: %s", gslb_strerror(n));
        return n;
    }
    gslb_sender_publish(a->sender, a->sealed, (size_t)n);
    return GSLB_OK;
}

/* ---- main loop ------------------------------------------------------------ */

static bool first_round_done(const agent_t *a)
{
    for (size_t i = 0; i < a->cfg.backend_count; i++)
        if (gslb_prober_state(a->prober, i)->runs == 0)
            return false;
    return true;
}

static int64_t max_probe_timeout(const agent_t *a)
{
    int64_t t = 0;
    for (size_t i = 0; i < a->cfg.backend_count; i++)
        if ((int64_t)a->cfg.backends[i].check.timeout_ms > t)
            t = a->cfg.backends[i].check.timeout_ms;
    return t;
}

static int open_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Returns true when the agent should stop. */
static bool handle_signals(int sfd)
{
    struct signalfd_siginfo si;
    bool stop = false;
    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP)
            gslb_info("agent: SIGHUP ignored: restart gslb-agentd to apply a new configuration");
        else
            stop = true;
    }
    return stop;
}

static int run(agent_t *a, int sfd)
{
    int64_t start = gslb_mono_ms();
    int64_t first_deadline = start + max_probe_timeout(a) + 100;
    int64_t next_hb = 0; /* 0 = the first heartbeat has not gone out */
    for (;;) {
        int64_t now = gslb_mono_ms();
        bool ready = next_hb != 0 || first_round_done(a) || now >= first_deadline;
        if (ready && (next_hb == 0 || a->changed || now >= next_hb)) {
            send_message(a, GSLB_GOSSIP_HEARTBEAT);
            a->changed = false;
            next_hb = now + (int64_t)a->cfg.heartbeat_interval_ms;
        }
        int64_t wake = next_hb ? next_hb : first_deadline;
        int wait = wake > now ? (int)(wake - now) : 0;
        bool sig = false;
        int rc = gslb_prober_step(a->prober, wait, sfd, &sig);
        if (rc < 0) {
            gslb_error("agent: probe loop failed: %s", gslb_strerror(rc));
            return 1;
        }
        if (sig && handle_signals(sfd))
            break;
    }
    gslb_info("agent: stopping: sending goodbye to %zu overwatch(es)", a->cfg.node_count);
    send_message(a, GSLB_GOSSIP_GOODBYE);
    size_t left = gslb_sender_flush(a->sender, GOODBYE_FLUSH_MS);
    if (left)
        gslb_warn("agent: goodbye not delivered to %zu overwatch(es) in time", left);
    return 0;
}

static int setup(agent_t *a, gslb_errbuf_t *eb)
{
    int rc = gslb_gossip_aead_init(&a->aead, a->cfg.key, a->cfg.key_len, eb);
    if (rc < 0)
        return rc;
    a->wire_backends =
        calloc(a->cfg.backend_count ? a->cfg.backend_count : 1, sizeof(*a->wire_backends));
    a->plain = malloc(GSLB_GOSSIP_MSG_MAX);
    a->sealed = malloc(GSLB_GOSSIP_MSG_MAX);
    if (!a->wire_backends || !a->plain || !a->sealed)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    if ((rc = gslb_prober_new(&a->prober, on_probe, a, eb)) < 0)
        return rc;
    for (size_t i = 0; i < a->cfg.backend_count; i++)
        if ((rc = gslb_prober_add(a->prober, &a->cfg.backends[i].check)) < 0)
            return gslb_errf(eb, rc, "cannot add the probe of agent.backends[%zu]", i);
    /* Sequence numbers follow the wall clock in microseconds so that they keep
     * growing across restarts (docs/gossip-protocol.md, "Replay protection"). */
    a->seq = (uint64_t)gslb_wall_ms() * 1000;
    return gslb_sender_start(&a->sender, a->cfg.nodes, a->cfg.node_count, eb);
}

static void teardown(agent_t *a)
{
    gslb_sender_stop(a->sender);
    gslb_prober_free(a->prober);
    gslb_gossip_aead_free(&a->aead);
    free(a->wire_backends);
    free(a->plain);
    free(a->sealed);
    OPENSSL_cleanse(a->cfg.key, sizeof(a->cfg.key));
    OPENSSL_cleanse(a->cfg.token, sizeof(a->cfg.token));
    gslb_agent_config_free(&a->cfg);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check-config", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *config = GSLB_AGENT_DEFAULT_CONFIG;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'k':
            return check_config(optarg);
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("gslb-agentd %s\n", GSLB_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gslb-agentd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    agent_t a;
    memset(&a, 0, sizeof(a));
    gslb_errbuf_t eb = {{0}};
    if (gslb_agent_config_load(config, &a.cfg, &eb) < 0) {
        fprintf(stderr, "gslb-agentd: %s\n", eb.msg);
        return 1;
    }
    gslb_log_set_level(a.cfg.log_level);
    gslb_log_set_format(a.cfg.log_format);
    for (size_t i = 0; i < a.cfg.note_count; i++)
        gslb_warn("agent: %s", a.cfg.notes[i]);
    int sfd = open_signalfd();
    if (sfd < 0) {
        fprintf(stderr, "gslb-agentd: signalfd: %s\n", strerror(errno));
        gslb_agent_config_free(&a.cfg);
        return 1;
    }
    int rc = 1;
    if (setup(&a, &eb) < 0) {
        gslb_error("agent: %s", eb.msg);
    } else {
        gslb_info("agent: %s (region %s) started: %zu backend(s), %zu overwatch(es), "
                  "heartbeat every %llums",
                  a.cfg.agent_id, a.cfg.region, a.cfg.backend_count, a.cfg.node_count,
                  (unsigned long long)a.cfg.heartbeat_interval_ms);
        rc = run(&a, sfd);
    }
    teardown(&a);
    close(sfd);
    return rc;
}
