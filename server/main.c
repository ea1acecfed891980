/*
 * main.c - gslb-overwatch: the authoritative GSLB DNS server process.
 *
 * Start-up: configuration -> logging -> root checks (privdrop.h) -> store
 * (verified) -> configuration applied to the store -> DNS workers -> other
 * services -> switch to overwatch.user (when started as root) -> systemd
 * READY=1 -> signal loop. Files are created private (umask 077).
 * SIGTERM/SIGINT stop gracefully (reverse order); SIGHUP reloads.
 * docs/operations.md describes the command line and the signals.
 */
#include "api_hooks.h"
#include "config.h"
#include "dns.h"
#include "env.h"
#include "gslb_err.h"
#include "gossip_services.h"
#include "gslb_log.h"
#include "keysync_glue.h"
#include "privdrop.h"
#include "reload.h"
#include "runtime.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sdnotify.h"

#define DEMO_DEFAULT_PORT 15353

typedef struct cli {
    const char *config;
    const char *check;
    const char *data_dir;
    long port;
    bool demo;
} cli_t;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: gslb-overwatch [--config FILE]\n"
            "       gslb-overwatch --check-config FILE\n"
            "       gslb-overwatch --demo [--data-dir DIR] [--port N]\n"
            "\n"
            "  --config FILE        configuration file (default %s)\n"
            "  --check-config FILE  validate FILE, print \"config OK\" or the error, and exit\n"
            "  --demo               serve the embedded demo configuration on 127.0.0.1\n"
            "  --data-dir DIR       demo store directory (default /tmp/opengslb-demo-<uid>)\n"
            "  --port N             demo DNS port (default %d; gossip, API and metrics use\n"
            "                       the next three ports)\n"
            "  --help, --version\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the configuration.\n",
            GSLB_DEFAULT_CONFIG, DEMO_DEFAULT_PORT);
}

/* Returns -1 to continue, else an exit status. */
static int parse_cli(int argc, char **argv, cli_t *cli)
{
    enum { OPT_CHECK = 1000, OPT_DEMO, OPT_DATA_DIR, OPT_PORT, OPT_HELP, OPT_VERSION };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", required_argument, NULL, OPT_CHECK},
        {"demo", no_argument, NULL, OPT_DEMO},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"port", required_argument, NULL, OPT_PORT},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    memset(cli, 0, sizeof(*cli));
    cli->config = GSLB_DEFAULT_CONFIG;
    cli->port = DEMO_DEFAULT_PORT;
    bool demo_opts = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'c':
            cli->config = optarg;
            break;
        case OPT_CHECK:
            cli->check = optarg;
            break;
        case OPT_DEMO:
            cli->demo = true;
            break;
        case OPT_DATA_DIR:
            cli->data_dir = optarg;
            demo_opts = true;
            break;
        case OPT_PORT:
            errno = 0;
            cli->port = strtol(optarg, &end, 10);
            if (errno || !end || *end || cli->port < 1 || cli->port > 65532) {
                fprintf(stderr, "gslb-overwatch: --port must be 1..65532\n");
                return 1;
            }
            demo_opts = true;
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("gslb-overwatch %s\n", GSLB_VERSION);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gslb-overwatch: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 1;
    }
    if (demo_opts && !cli->demo) {
        fprintf(stderr, "gslb-overwatch: --data-dir and --port go with --demo\n");
        return 1;
    }
    return -1;
}

static int check_config(const char *path)
{
    gslb_config_t cfg;
    gslb_errbuf_t eb = {{0}};
    if (gslb_config_load(path, &cfg, &eb) != GSLB_OK) {
        fprintf(stderr, "%s\n", eb.msg[0] ? eb.msg : "configuration error");
        return 1;
    }
    gslb_config_free(&cfg);
    printf("config OK\n");
    return 0;
}

static int load_config(gslb_runtime_t *rt, const cli_t *cli, gslb_errbuf_t *eb)
{
    rt->cfg = calloc(1, sizeof(*rt->cfg));
    if (!rt->cfg)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    if (!cli->demo) {
        snprintf(rt->config_path, sizeof(rt->config_path), "%s", cli->config);
        return gslb_config_load(cli->config, rt->cfg, eb);
    }
    char dir[4096];
    if (cli->data_dir)
        snprintf(dir, sizeof(dir), "%s", cli->data_dir);
    else
        snprintf(dir, sizeof(dir), "/tmp/opengslb-demo-%u", (unsigned)getuid());
    rt->demo = true;
    snprintf(rt->config_path, sizeof(rt->config_path), "<embedded>");
    return gslb_config_load_default(rt->cfg, dir, (uint16_t)cli->port, eb);
}

static int open_store(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    gslb_env_opts_t o = {
        .data_dir = rt->cfg->restart.data_dir,
        .map_size = (size_t)rt->cfg->restart.map_size,
        .node_id = rt->cfg->restart.node_id,
        .verify = true, /* damage is found now, not by a request (issue 16) */
    };
    int rc = gslb_env_open(&rt->env, &o, eb);
    if (rc)
        return rc;
    rt->env_open = true;
    return gslb_config_apply_to_store(rt->cfg, &rt->env, eb);
}

/* ---- extension points (runtime.h) ------------------------------------------ */

/* Services beside DNS: gossip receiver, API/metrics, key sync, sweeper. Each
 * stores its handle in rt and fails start-up with a message in eb. */
static int overwatch_start_services(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    int rc = gslb_runtime_start_gossip(rt, eb);
    /* API and metrics last: /api/v1/ready then speaks for everything above. */
    if (rc == GSLB_OK)
        rc = gslb_runtime_start_api(rt, eb);
    return rc;
}

static void overwatch_stop_services(gslb_runtime_t *rt)
{
    gslb_runtime_stop_api(rt);
    gslb_runtime_stop_gossip(rt);
}

/* SIGHUP (and POST /api/v1/reload): server/reload.c reloads the file, applies
 * it to the store (answers change atomically) and hands it to every service;
 * it logs and counts the result and keeps the running config on any error. */
static int overwatch_reload(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    return gslb_reload_config(rt, eb);
}

/* ---- signals ----------------------------------------------------------------- */

static void handle_reload(gslb_runtime_t *rt)
{
    gslb_errbuf_t eb = {{0}};
    overwatch_reload(rt, &eb); /* logged, counted and told to systemd by reload.c */
}

static void wait_for_stop(gslb_runtime_t *rt, const sigset_t *set)
{
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(set, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            gslb_error("sigwaitinfo: %s", strerror(errno));
            return;
        }
        if (sig == SIGHUP) {
            handle_reload(rt);
            continue;
        }
        gslb_info("received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
}

static void print_demo_banner(const gslb_runtime_t *rt)
{
    printf("OpenGSLB demo overwatch (DEMO SECRETS, loopback only), store in %s\n"
           "Query it with:\n"
           "  dig @127.0.0.1 -p %u webapp.gslb.example.com A\n",
           rt->cfg->restart.data_dir, (unsigned)gslb_dns_port(rt->dns));
    fflush(stdout);
}

static void shutdown_all(gslb_runtime_t *rt)
{
    atomic_store(&rt->ready, false);
    overwatch_stop_services(rt);
    gslb_runtime_stop_keysync(rt);
    gslb_dns_stop(rt->dns);
    rt->dns = NULL;
    if (rt->env_open)
        gslb_env_close(&rt->env);
    rt->env_open = false;
    if (rt->cfg) {
        gslb_config_free(rt->cfg);
        free(rt->cfg);
        rt->cfg = NULL;
    }
}

static int fail(gslb_runtime_t *rt, const char *what, const gslb_errbuf_t *eb, int rc)
{
    fprintf(stderr, "gslb-overwatch: %s: %s\n", what, eb->msg[0] ? eb->msg : gslb_strerror(rc));
    shutdown_all(rt);
    return 1;
}

int main(int argc, char **argv)
{
    cli_t cli;
    int status = parse_cli(argc, argv, &cli);
    if (status >= 0)
        return status;
    if (cli.check)
        return check_config(cli.check);

    /* Signals are handled by this thread only: block them before any thread starts. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    umask(077); /* the store holds private keys: nothing we create is for others */
    static gslb_runtime_t rt;
    gslb_errbuf_t eb = {{0}};
    int rc = load_config(&rt, &cli, &eb);
    if (rc)
        return fail(&rt, "configuration", &eb, rc);
    gslb_log_set_level(rt.cfg->log_level);
    gslb_log_set_format(rt.cfg->log_format);
    gslb_priv_t priv;
    rc = gslb_priv_prepare(rt.cfg->restart.user, rt.cfg->restart.data_dir, &priv, &eb);
    if (rc)
        return fail(&rt, "user", &eb, rc);
    rc = open_store(&rt, &eb);
    if (rc == 0)
        rc = gslb_priv_own_store(&priv, rt.cfg->restart.data_dir, &eb);
    if (rc)
        return fail(&rt, "store", &eb, rc);
    /* DNSSEC keys before DNS, without waiting for peers: a zone still waiting for
     * its first key answers DO queries with SERVFAIL (keysync.h). */
    rc = gslb_runtime_start_keysync(&rt, &eb);
    if (rc)
        return fail(&rt, "dnssec keys", &eb, rc);
    gslb_dns_opts_t dopts;
    gslb_dns_opts_from_config(rt.cfg, &dopts);
    dopts.dnssec_keys_pending = &rt.dnssec_keys_pending;
    rc = gslb_dns_start(&rt.env, &dopts, &rt.dns, &eb);
    if (rc)
        return fail(&rt, "dns", &eb, rc);
    rc = overwatch_start_services(&rt, &eb);
    if (rc)
        return fail(&rt, "services", &eb, rc);
    /* every listener is bound (port 53 too): now give up root for good */
    rc = gslb_priv_drop(&priv, &eb);
    if (rc)
        return fail(&rt, "user", &eb, rc);
    atomic_store(&rt.ready, true);
    gslb_info("gslb-overwatch %s ready (node %s, config %s)", GSLB_VERSION, rt.cfg->restart.node_id,
              rt.config_path);
    if (rt.demo)
        print_demo_banner(&rt);
    gslb_sd_notify("READY=1");
    wait_for_stop(&rt, &set);
    gslb_sd_notify("STOPPING=1");
    shutdown_all(&rt);
    gslb_info("gslb-overwatch stopped");
    return 0;
}
