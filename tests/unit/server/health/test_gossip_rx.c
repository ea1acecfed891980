/*
 * test_gossip_rx.c - the overwatch's gossip receiver and sweeper against a
 * real LMDB in a mkdtemp directory: authentication results (wrong key,
 * unknown token, stale timestamp, replay, garbage) change nothing; accepted
 * heartbeats create and update agent backends and answer sets; goodbye
 * drains; unreported backends are removed; sequence numbers survive a
 * restart; the sweeper marks silent agents stale and removes them later,
 * judged from when the node began to listen, except while the node itself is
 * gossip deaf (the deaf-node rule), when it keeps the last known state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_tmpstore.h"

#include "answers.h"
#include "config.h"
#include "env.h"
#include "gossip_guard.h"
#include "gossip_rx.h"
#include "gossip_wire.h"
#include "gslb_time.h"
#include "store.h"
#include "sweeper.h"
#include "validator.h"

#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define WEB "webapp.gslb.example.com"

static const char *const CONFIG_FMT = "mode: overwatch\n"
                                      "overwatch:\n"
                                      "  identity: {node_id: unit}\n"
                                      "  agent_tokens: {webapp: tok-webapp, other: tok-other}\n"
                                      "  gossip:\n"
                                      "    bind_address: \"127.0.0.1:7946\"\n"
                                      "    encryption_key: \"" KEY_B64 "\"\n"
                                      "    max_clock_skew: 5s\n"
                                      "  stale: {threshold: 2s, remove_after: 6s}\n"
                                      "  data_dir: \"%s\"\n"
                                      "dns:\n"
                                      "  listen_address: \"127.0.0.1:5353\"\n"
                                      "  zones: [gslb.example.com]\n"
                                      "regions:\n"
                                      "  - name: us-east\n"
                                      "    servers:\n"
                                      "      - {address: 127.0.0.99, service: webapp}\n"
                                      "domains:\n"
                                      "  - name: webapp.gslb.example.com\n"
                                      "    regions: [us-east]\n"
                                      "  - name: other.gslb.example.com\n"
                                      "    regions: [us-east]\n";

typedef struct fixture {
    char dir[64];
    gslb_config_t cfg;
    gslb_env_t env;
    gslb_gossip_rx_t *rx;
    gslb_gossip_aead_t aead;
    uint64_t seq;
    int64_t now;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    gslb_errbuf_t eb = {{0}};
    char yaml[4096];
    if (gslb_test_mkdtemp(f->dir, sizeof(f->dir), "gossip") != 0)
        return -1;
    snprintf(yaml, sizeof(yaml), CONFIG_FMT, f->dir);
    gslb_env_opts_t o = {.data_dir = f->dir, .map_size = 64 << 20};
    if (gslb_config_load_string("unit.yaml", yaml, &f->cfg, &eb) ||
        gslb_env_open(&f->env, &o, &eb) || gslb_config_apply_to_store(&f->cfg, &f->env, &eb)) {
        print_message("setup: %s\n", eb.msg);
        return -1;
    }
    gslb_gossip_rx_opts_t ro = {.env = &f->env, .cfg = &f->cfg, .no_sockets = true};
    if (gslb_gossip_rx_start(&f->rx, &ro, &eb) ||
        gslb_gossip_aead_init(&f->aead, f->cfg.gossip_key, f->cfg.gossip_key_len, &eb)) {
        print_message("setup: %s\n", eb.msg);
        return -1;
    }
    f->seq = 1000;
    f->now = gslb_wall_ms();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    gslb_gossip_rx_stop(f->rx);
    gslb_gossip_aead_free(&f->aead);
    gslb_env_close(&f->env);
    gslb_config_free(&f->cfg);
    int rc = gslb_test_rmtree(f->dir);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- message helpers ------------------------------------------------------ */

typedef struct msgspec {
    const char *agent, *token_name, *token;
    uint8_t type;
    int64_t ts;
    uint64_t seq;
    size_t n;
    gslb_gossip_backend_t b[4];
} msgspec_t;

static void add_backend(msgspec_t *s, const char *service, const char *addr, uint16_t port,
                        uint8_t health)
{
    gslb_gossip_backend_t *b = &s->b[s->n++];
    memset(b, 0, sizeof(*b));
    snprintf(b->service, sizeof(b->service), "%s", service);
    assert_int_equal(gslb_addr_parse(addr, &b->addr), 0);
    b->port = port;
    b->weight = 100;
    b->health = health;
    b->latency_us = 500;
}

static msgspec_t heartbeat(fixture_t *f, const char *agent)
{
    msgspec_t s;
    memset(&s, 0, sizeof(s));
    s.agent = agent;
    s.token_name = "webapp";
    s.token = "tok-webapp";
    s.type = GSLB_GOSSIP_HEARTBEAT;
    s.ts = f->now;
    s.seq = ++f->seq;
    return s;
}

static int seal(fixture_t *f, const msgspec_t *s, uint8_t *out, size_t cap)
{
    gslb_gossip_msg_t m;
    memset(&m, 0, sizeof(m));
    m.version = GSLB_GOSSIP_VERSION;
    m.type = s->type;
    m.seq = s->seq;
    m.timestamp_ms = s->ts;
    snprintf(m.agent_id, sizeof(m.agent_id), "%s", s->agent);
    snprintf(m.region, sizeof(m.region), "us-east");
    snprintf(m.token_name, sizeof(m.token_name), "%s", s->token_name);
    snprintf(m.token, sizeof(m.token), "%s", s->token);
    m.backends = (gslb_gossip_backend_t *)s->b;
    m.backend_count = (uint16_t)s->n;
    uint8_t scratch[4096];
    int n = gslb_gossip_build(&f->aead, &m, scratch, sizeof(scratch), out, cap);
    assert_true(n > 0);
    return n;
}

static enum gslb_gossip_result send_msg(fixture_t *f, const msgspec_t *s)
{
    uint8_t buf[4096];
    int n = seal(f, s, buf, sizeof(buf));
    return gslb_gossip_rx_ingest(f->rx, buf, (size_t)n, NULL, f->now);
}

static void flush(fixture_t *f)
{
    assert_int_equal(gslb_gossip_rx_flush(f->rx, f->now), 0);
}

/* ---- store helpers -------------------------------------------------------- */

static int get_backend(fixture_t *f, const char *domain, const char *addr, uint16_t port,
                       gslb_backend_rec_t *out)
{
    MDB_txn *txn;
    gslb_addr_t a;
    assert_int_equal(gslb_addr_parse(addr, &a), 0);
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), 0);
    int rc = gslb_store_backend_get(&f->env, txn, domain, &a, port, out);
    mdb_txn_abort(txn);
    return rc;
}

static int get_agent(fixture_t *f, const char *id, gslb_agent_rec_t *out)
{
    MDB_txn *txn;
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), 0);
    int rc = gslb_store_agent_get(&f->env, txn, id, out);
    mdb_txn_abort(txn);
    return rc;
}

/* Is addr a healthy candidate of the domain's A set? */
static bool served(fixture_t *f, const char *domain, const char *addr)
{
    MDB_txn *txn;
    uint8_t wire[256], key[260];
    gslb_addr_t a;
    assert_int_equal(gslb_addr_parse(addr, &a), 0);
    int n = gslb_ans_name_to_wire(domain, wire, sizeof(wire));
    int k = gslb_ans_key(wire, (size_t)n, a.family == AF_INET ? 1 : 28, key, sizeof(key));
    assert_int_equal(gslb_env_read_begin(&f->env, &txn), 0);
    MDB_val v;
    bool found = false;
    if (gslb_ans_lookup(txn, f->env.dbi[GSLB_DBI_ANSWERS], key, (size_t)k, &v) ==
        GSLB_ANS_KIND_GSLB) {
        gslb_ans_set_t set;
        memcpy(&set, v.mv_data, sizeof(set));
        const uint8_t *c = (const uint8_t *)v.mv_data + sizeof(set);
        for (size_t i = 0; i < le16toh(set.count); i++) {
            gslb_ans_cand_t cand;
            memcpy(&cand, c + i * sizeof(cand), sizeof(cand));
            if (memcmp(cand.addr, a.bytes, a.family == AF_INET ? 4 : 16) == 0 &&
                (cand.flags & GSLB_CAND_HEALTHY))
                found = true;
        }
    }
    mdb_txn_abort(txn);
    return found;
}

static uint64_t result_count(const fixture_t *f, enum gslb_gossip_result r)
{
    gslb_gossip_counters_t c;
    gslb_gossip_counters(f->rx, &c);
    return c.messages[r];
}

static uint64_t txnid(fixture_t *f)
{
    return gslb_env_last_txnid(&f->env);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_heartbeat_creates_backends(void **state)
{
    fixture_t *f = *state;
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    add_backend(&s, "webapp.gslb.example.com", "::1", 8443, GSLB_HEALTHY);
    assert_int_equal(result_count(f, GSLB_GOSSIP_ACCEPTED), 0); /* a new receiver: zero */
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    assert_int_equal(result_count(f, GSLB_GOSSIP_ACCEPTED), 1);
    gslb_backend_rec_t b;
    assert_int_equal(get_backend(f, WEB, "127.0.0.1", 8080, &b), GSLB_ENOENT); /* batched */
    flush(f);
    gslb_gossip_counters_t c;
    gslb_gossip_counters(f->rx, &c);
    assert_int_equal(c.batches, 1);
    assert_int_equal(get_backend(f, WEB, "127.0.0.1", 8080, &b), 0);
    assert_int_equal(b.source, GSLB_SOURCE_AGENT);
    assert_string_equal(b.agent_id, "agent-a");
    assert_string_equal(b.region, "us-east");
    assert_int_equal(b.agent_health, GSLB_HEALTHY);
    assert_int_equal(b.last_seen, f->now / 1000);
    assert_int_equal(b.latency_us, 500);
    assert_true(served(f, WEB, "127.0.0.1"));
    assert_true(served(f, WEB, "::1"));
    assert_true(served(f, WEB, "127.0.0.99"));
    gslb_agent_rec_t a;
    assert_int_equal(get_agent(f, "agent-a", &a), 0);
    assert_int_equal(a.last_seq, s.seq);
    assert_string_equal(a.token_name, "webapp");
    assert_false(a.stale);
    /* health flips: the answer follows */
    msgspec_t s2 = heartbeat(f, "agent-a");
    add_backend(&s2, "webapp", "127.0.0.1", 8080, GSLB_UNHEALTHY);
    add_backend(&s2, "webapp.gslb.example.com", "::1", 8443, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s2), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_false(served(f, WEB, "127.0.0.1"));
    assert_true(served(f, WEB, "::1"));
}

static void test_rejected_messages_change_nothing(void **state)
{
    fixture_t *f = *state;
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    uint8_t good[4096];
    int good_len = seal(f, &s, good, sizeof(good));
    assert_int_equal(gslb_gossip_rx_ingest(f->rx, good, (size_t)good_len, NULL, f->now),
                     GSLB_GOSSIP_ACCEPTED);
    flush(f);
    uint64_t before = txnid(f);

    /* replayed datagram */
    uint64_t replayed = result_count(f, GSLB_GOSSIP_REPLAYED);
    assert_int_equal(gslb_gossip_rx_ingest(f->rx, good, (size_t)good_len, NULL, f->now),
                     GSLB_GOSSIP_REPLAYED);
    assert_int_equal(result_count(f, GSLB_GOSSIP_REPLAYED), replayed + 1);
    /* an older sequence with an unhealthy claim */
    msgspec_t old = heartbeat(f, "agent-a");
    old.seq = s.seq - 1;
    add_backend(&old, "webapp", "127.0.0.1", 8080, GSLB_UNHEALTHY);
    assert_int_equal(send_msg(f, &old), GSLB_GOSSIP_REPLAYED);
    /* unknown token name, wrong token value */
    msgspec_t bad = heartbeat(f, "agent-a");
    add_backend(&bad, "webapp", "127.0.0.1", 8080, GSLB_UNHEALTHY);
    bad.token_name = "nosuch";
    assert_int_equal(send_msg(f, &bad), GSLB_GOSSIP_UNKNOWN_TOKEN);
    bad.token_name = "webapp";
    bad.token = "tok-webapX";
    bad.seq = ++f->seq;
    assert_int_equal(send_msg(f, &bad), GSLB_GOSSIP_UNKNOWN_TOKEN);
    bad.token = "tok-webapp-longer";
    assert_int_equal(send_msg(f, &bad), GSLB_GOSSIP_UNKNOWN_TOKEN);
    /* timestamps outside the window */
    msgspec_t skew = heartbeat(f, "agent-a");
    add_backend(&skew, "webapp", "127.0.0.1", 8080, GSLB_UNHEALTHY);
    skew.ts = f->now - 6000;
    assert_int_equal(send_msg(f, &skew), GSLB_GOSSIP_STALE_TIMESTAMP);
    skew.ts = f->now + 6000;
    assert_int_equal(send_msg(f, &skew), GSLB_GOSSIP_STALE_TIMESTAMP);
    /* wrong key */
    gslb_gossip_aead_t other;
    uint8_t key[32];
    memcpy(key, f->cfg.gossip_key, 32);
    key[5] ^= 0xff;
    assert_int_equal(gslb_gossip_aead_init(&other, key, f->cfg.gossip_key_len, NULL), 0);
    gslb_gossip_aead_t saved = f->aead;
    f->aead = other;
    msgspec_t wk = heartbeat(f, "agent-a");
    add_backend(&wk, "webapp", "127.0.0.1", 8080, GSLB_UNHEALTHY);
    assert_int_equal(send_msg(f, &wk), GSLB_GOSSIP_DECRYPT_FAILED);
    f->aead = saved;
    gslb_gossip_aead_free(&other);
    /* random bytes and short junk */
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    assert_int_equal(gslb_gossip_rx_ingest(f->rx, junk, sizeof(junk), NULL, f->now),
                     GSLB_GOSSIP_BAD_VERSION);
    junk[0] = 'O';
    junk[1] = 'G';
    junk[2] = 1;
    junk[3] = 0;
    assert_int_equal(gslb_gossip_rx_ingest(f->rx, junk, sizeof(junk), NULL, f->now),
                     GSLB_GOSSIP_DECRYPT_FAILED);
    assert_int_equal(gslb_gossip_rx_ingest(f->rx, junk, 20, NULL, f->now), GSLB_GOSSIP_BAD_LENGTH);
    assert_int_equal(gslb_gossip_rx_ingest(f->rx, junk, 0, NULL, f->now), GSLB_GOSSIP_BAD_LENGTH);

    flush(f);
    assert_int_equal(txnid(f), before); /* no write transaction at all */
    assert_true(served(f, WEB, "127.0.0.1"));
    gslb_agent_rec_t a;
    assert_int_equal(get_agent(f, "agent-a", &a), 0);
    assert_int_equal(a.last_seq, s.seq);
}

static void test_unknown_and_unauthorized_services(void **state)
{
    fixture_t *f = *state;
    gslb_gossip_counters_t before, after;
    gslb_gossip_counters(f->rx, &before);
    msgspec_t s = heartbeat(f, "agent-b");
    add_backend(&s, "nosuchservice", "127.0.0.2", 80, GSLB_HEALTHY);
    add_backend(&s, "other", "127.0.0.3", 80, GSLB_HEALTHY); /* token "webapp" */
    add_backend(&s, "webapp", "127.0.0.4", 80, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    gslb_gossip_counters(f->rx, &after);
    assert_int_equal(after.backends_ignored[GSLB_GOSSIP_IGNORE_UNKNOWN_SERVICE],
                     before.backends_ignored[GSLB_GOSSIP_IGNORE_UNKNOWN_SERVICE] + 1);
    assert_int_equal(after.backends_ignored[GSLB_GOSSIP_IGNORE_UNAUTHORIZED],
                     before.backends_ignored[GSLB_GOSSIP_IGNORE_UNAUTHORIZED] + 1);
    gslb_backend_rec_t b;
    assert_int_equal(get_backend(f, "other.gslb.example.com", "127.0.0.3", 80, &b), GSLB_ENOENT);
    assert_int_equal(get_backend(f, WEB, "127.0.0.4", 80, &b), 0);
    /* the right token covers "other" */
    msgspec_t o = heartbeat(f, "agent-c");
    o.token_name = "other";
    o.token = "tok-other";
    add_backend(&o, "other", "127.0.0.3", 80, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &o), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_int_equal(get_backend(f, "other.gslb.example.com", "127.0.0.3", 80, &b), 0);
}

static void test_goodbye_drains_and_heartbeat_returns(void **state)
{
    fixture_t *f = *state;
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_true(served(f, WEB, "127.0.0.1"));
    msgspec_t bye = heartbeat(f, "agent-a");
    bye.type = GSLB_GOSSIP_GOODBYE;
    add_backend(&bye, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &bye), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_false(served(f, WEB, "127.0.0.1"));
    gslb_backend_rec_t b;
    assert_int_equal(get_backend(f, WEB, "127.0.0.1", 8080, &b), 0);
    assert_true(b.draining);
    gslb_agent_rec_t a;
    assert_int_equal(get_agent(f, "agent-a", &a), 0);
    assert_true(a.goodbye);
    msgspec_t back = heartbeat(f, "agent-a");
    add_backend(&back, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &back), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_true(served(f, WEB, "127.0.0.1"));
}

static void test_unreported_backends_removed_and_batching(void **state)
{
    fixture_t *f = *state;
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    add_backend(&s, "webapp", "127.0.0.5", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_true(served(f, WEB, "127.0.0.5"));
    /* two messages in one tick: only the newest counts, one transaction */
    uint64_t before = txnid(f);
    msgspec_t s2 = heartbeat(f, "agent-a");
    add_backend(&s2, "webapp", "127.0.0.1", 8080, GSLB_UNHEALTHY);
    msgspec_t s3 = heartbeat(f, "agent-a");
    add_backend(&s3, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s2), GSLB_GOSSIP_ACCEPTED);
    assert_int_equal(send_msg(f, &s3), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_int_equal(txnid(f), before + 1);
    gslb_backend_rec_t b;
    assert_int_equal(get_backend(f, WEB, "127.0.0.5", 8080, &b), GSLB_ENOENT);
    assert_false(served(f, WEB, "127.0.0.5"));
    assert_true(served(f, WEB, "127.0.0.1"));
}

static void test_sequence_survives_restart(void **state)
{
    fixture_t *f = *state;
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    uint8_t buf[4096];
    int n = seal(f, &s, buf, sizeof(buf));
    assert_int_equal(gslb_gossip_rx_ingest(f->rx, buf, (size_t)n, NULL, f->now),
                     GSLB_GOSSIP_ACCEPTED);
    gslb_gossip_rx_stop(f->rx); /* applies what is pending */
    gslb_errbuf_t eb;
    gslb_gossip_rx_opts_t ro = {.env = &f->env, .cfg = &f->cfg, .no_sockets = true};
    assert_int_equal(gslb_gossip_rx_start(&f->rx, &ro, &eb), 0);
    assert_int_equal(gslb_gossip_rx_ingest(f->rx, buf, (size_t)n, NULL, f->now),
                     GSLB_GOSSIP_REPLAYED);
}

/* A node that has listened for gossip since long before any message of these
 * tests (listen_start_ms): agents are judged from their own heard times. */
#define LONG_AGO 1

static void test_sweeper_stale_then_removed(void **state)
{
    fixture_t *f = *state;
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    gslb_sweeper_t *sw;
    gslb_errbuf_t eb;
    gslb_sweeper_opts_t so = {.env = &f->env,
                              .stale_threshold_ms = f->cfg.restart.stale_threshold_ms,
                              .remove_after_ms = f->cfg.restart.stale_remove_after_ms,
                              .listen_start_ms = LONG_AGO,
                              .no_thread = true}; /* judged from the stored times */
    assert_int_equal(gslb_sweeper_start(&sw, &so, &eb), 0);
    int64_t heard = (f->now / 1000) * 1000 + 999;
    uint64_t before = txnid(f);
    assert_int_equal(gslb_sweeper_run_once(sw, heard + 1999), 0);
    assert_int_equal(txnid(f), before); /* nothing to do, no transaction */
    assert_true(served(f, WEB, "127.0.0.1"));
    gslb_sweeper_counters_t c;
    gslb_sweeper_counters(sw, &c);
    assert_int_equal(c.agents_registered, 1);
    assert_int_equal(c.sweeps, 1); /* this sweeper's own counters */
    assert_int_equal(gslb_sweeper_run_once(sw, heard + 2000), 0);
    assert_false(served(f, WEB, "127.0.0.1"));
    gslb_backend_rec_t b;
    assert_int_equal(get_backend(f, WEB, "127.0.0.1", 8080, &b), 0);
    assert_true(b.stale);
    gslb_sweeper_counters(sw, &c);
    assert_int_equal(c.agents_stale, 1);
    assert_int_equal(c.backends_marked_stale, 1);
    assert_int_equal(c.agents_registered, 0);
    /* a heartbeat brings it back */
    f->now = heard + 2500;
    msgspec_t again = heartbeat(f, "agent-a");
    add_backend(&again, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &again), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_true(served(f, WEB, "127.0.0.1"));
    /* silent past remove_after: gone */
    heard = (f->now / 1000) * 1000 + 999;
    assert_int_equal(gslb_sweeper_run_once(sw, heard + 6000), 0);
    assert_int_equal(get_backend(f, WEB, "127.0.0.1", 8080, &b), GSLB_ENOENT);
    gslb_agent_rec_t a;
    assert_int_equal(get_agent(f, "agent-a", &a), GSLB_ENOENT);
    assert_true(served(f, WEB, "127.0.0.99")); /* config backends untouched */
    gslb_sweeper_stop(sw);
}

/* An agent-sourced backend whose agent record is gone is judged by its own last_seen,
 * found by the full scans of the backends table: the first sweep and every
 * GSLB_SWEEPER_FULL_EVERY-th; the sweeps between read only the agents table. */
static void put_orphan(fixture_t *f, const char *addr, int64_t last_seen)
{
    gslb_backend_rec_t b;
    memset(&b, 0, sizeof(b));
    snprintf(b.domain, sizeof(b.domain), "%s", WEB);
    assert_int_equal(gslb_addr_parse(addr, &b.addr), 0);
    b.port = 8080;
    b.weight = 100;
    b.source = GSLB_SOURCE_AGENT;
    snprintf(b.agent_id, sizeof(b.agent_id), "gone-agent");
    b.agent_health = GSLB_HEALTHY;
    b.last_seen = last_seen;
    MDB_txn *txn;
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), 0);
    assert_int_equal(gslb_store_backend_put(&f->env, txn, &b), 0);
    assert_int_equal(gslb_answers_rebuild_domain(&f->env, txn, WEB), 0);
    assert_int_equal(gslb_env_commit(&f->env, txn), 0);
}

static void test_sweeper_full_scans_find_orphans(void **state)
{
    fixture_t *f = *state;
    int64_t old = f->now / 1000 - 3; /* silent 3 s: past the 2 s threshold, before removal */
    put_orphan(f, "127.0.0.7", old);
    assert_true(served(f, WEB, "127.0.0.7"));
    gslb_sweeper_t *sw;
    gslb_errbuf_t eb;
    gslb_sweeper_opts_t so = {
        .env = &f->env,
        .stale_threshold_ms = 2000,
        .remove_after_ms = 60000,
        .listen_start_ms = LONG_AGO,
        .no_thread = true,
    };
    assert_int_equal(gslb_sweeper_start(&sw, &so, &eb), 0);
    assert_int_equal(gslb_sweeper_run_once(sw, f->now), 0); /* sweep 0: full scan */
    assert_false(served(f, WEB, "127.0.0.7"));
    put_orphan(f, "127.0.0.8", old);
    for (int i = 1; i < GSLB_SWEEPER_FULL_EVERY; i++) {
        assert_int_equal(gslb_sweeper_run_once(sw, f->now), 0);
        assert_true(served(f, WEB, "127.0.0.8")); /* agents unchanged: backends not read */
    }
    assert_int_equal(gslb_sweeper_run_once(sw, f->now), 0); /* the periodic full scan */
    assert_false(served(f, WEB, "127.0.0.8"));
    gslb_sweeper_stop(sw);
}

static bool heard_from_rx(void *ctx, const char *agent_id, int64_t *out)
{
    return gslb_gossip_rx_last_heard(ctx, agent_id, out);
}

static void test_sweeper_uses_receiver_time(void **state)
{
    fixture_t *f = *state;
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    gslb_sweeper_t *sw;
    gslb_errbuf_t eb;
    gslb_sweeper_opts_t so = {.env = &f->env,
                              .stale_threshold_ms = 2000,
                              .remove_after_ms = 6000,
                              .last_heard = heard_from_rx,
                              .last_heard_ctx = f->rx,
                              .listen_start_ms = LONG_AGO,
                              .no_thread = true};
    assert_int_equal(gslb_sweeper_start(&sw, &so, &eb), 0);
    assert_int_equal(gslb_sweeper_run_once(sw, f->now + 1999), 0);
    assert_true(served(f, WEB, "127.0.0.1"));
    assert_int_equal(gslb_sweeper_run_once(sw, f->now + 2000), 0);
    assert_false(served(f, WEB, "127.0.0.1"));
    gslb_sweeper_stop(sw);
}

/* ---- the deaf-node rule ------------------------------------------------------------ */

static void test_sweeper_deaf_rule(void **state)
{
    (void)state;
    /* the fraction rule: (known, quiet, percent, min_agents) */
    assert_false(gslb_sweeper_is_deaf(0, 0, 50, 1));   /* no agent known: nothing to hear */
    assert_false(gslb_sweeper_is_deaf(1, 1, 50, 2));   /* too few agents to tell */
    assert_true(gslb_sweeper_is_deaf(1, 1, 50, 1));    /* ... unless configured */
    assert_true(gslb_sweeper_is_deaf(2, 2, 50, 2));    /* all quiet */
    assert_false(gslb_sweeper_is_deaf(2, 1, 50, 2));   /* half is not "more than half" */
    assert_true(gslb_sweeper_is_deaf(3, 2, 50, 2));    /* most */
    assert_false(gslb_sweeper_is_deaf(4, 2, 50, 2));   /* two of four */
    assert_false(gslb_sweeper_is_deaf(3, 0, 50, 2));   /* all live */
    assert_false(gslb_sweeper_is_deaf(10, 9, 100, 2)); /* 100 %: only when all are quiet */
    assert_true(gslb_sweeper_is_deaf(10, 10, 100, 2));
    assert_true(gslb_sweeper_is_deaf(10, 4, 30, 2));
    assert_false(gslb_sweeper_is_deaf(10, 3, 30, 2));
    /* the decision: (deaf now, known, silent, quiet, percent, min_agents) */
    assert_false(gslb_sweeper_deaf_next(false, 3, 0, 3, 50, 2)); /* all quiet, none silent yet */
    assert_true(gslb_sweeper_deaf_next(false, 3, 1, 3, 50, 2));  /* the first crosses: together */
    assert_true(gslb_sweeper_deaf_next(false, 3, 1, 2, 50, 2));  /* most went together */
    assert_false(gslb_sweeper_deaf_next(false, 3, 1, 1, 50, 2)); /* one went away alone */
    assert_true(gslb_sweeper_deaf_next(true, 3, 0, 2, 50, 2));   /* stays while most are quiet */
    assert_false(gslb_sweeper_deaf_next(true, 3, 3, 1, 50, 2));  /* most heard again: leaves */
    assert_false(gslb_sweeper_deaf_next(false, 1, 1, 1, 50, 2)); /* a single agent: judged alone */
}

/* One heartbeat of agent reporting addr (port 8080, webapp). */
static void report(fixture_t *f, const char *agent, const char *addr)
{
    msgspec_t s = heartbeat(f, agent);
    add_backend(&s, "webapp", addr, 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    flush(f);
}

/* deaf_percent 0 = the default rule (all agents, at least 2). */
static gslb_sweeper_t *rule_sweeper(fixture_t *f, int64_t listen_start_ms, uint32_t deaf_percent)
{
    gslb_sweeper_t *sw = NULL;
    gslb_errbuf_t eb;
    gslb_sweeper_opts_t so = {.env = &f->env,
                              .stale_threshold_ms = 2000,
                              .remove_after_ms = 6000,
                              .last_heard = heard_from_rx,
                              .last_heard_ctx = f->rx,
                              .listen_start_ms = listen_start_ms,
                              .deaf_percent = deaf_percent,
                              .no_thread = true};
    assert_int_equal(gslb_sweeper_start(&sw, &so, &eb), 0);
    return sw;
}

static gslb_sweeper_t *deaf_sweeper(fixture_t *f, int64_t listen_start_ms)
{
    return rule_sweeper(f, listen_start_ms, 0);
}

static gslb_sweeper_counters_t counters_of(const gslb_sweeper_t *sw)
{
    gslb_sweeper_counters_t c;
    gslb_sweeper_counters(sw, &c);
    return c;
}

/* Both agents silent past remove_after: the node is deaf and keeps everything;
 * when one agent reports again the node hears again, and the other, timed from
 * that moment, is marked stale and removed as usual. */
static void test_sweeper_deaf_node_keeps_last_state(void **state)
{
    fixture_t *f = *state;
    int64_t t0 = f->now;
    report(f, "agent-a", "127.0.0.1");
    f->now = t0 + 600; /* the last heartbeats before the cut, 600 ms apart */
    report(f, "agent-b", "127.0.0.2");
    gslb_sweeper_t *sw = deaf_sweeper(f, LONG_AGO);
    assert_int_equal(gslb_sweeper_run_once(sw, t0 + 1000), 0);
    gslb_sweeper_counters_t c = counters_of(sw);
    assert_int_equal(c.gossip_deaf, 0);
    /* agent-a reaches the 2 s threshold first; agent-b, silent for 1.4 s (more than
     * half of it), went with it: not "agent-a went away" */
    assert_int_equal(gslb_sweeper_run_once(sw, t0 + 2000), 0);
    assert_true(served(f, WEB, "127.0.0.1"));
    c = counters_of(sw);
    assert_int_equal(c.gossip_deaf, 1);
    assert_int_equal(c.agents_stale, 1); /* by the clock: agent-a only */
    assert_int_equal(c.backends_marked_stale, 0);
    assert_int_equal(c.domains_known, 2);
    assert_int_equal(c.backends_known, 3); /* the static 127.0.0.99 and the agents' two */
    uint64_t before = txnid(f);
    assert_int_equal(gslb_sweeper_run_once(sw, t0 + 60000), 0); /* far past remove_after */
    assert_int_equal(txnid(f), before);                         /* nothing written */
    assert_true(served(f, WEB, "127.0.0.1"));
    assert_true(served(f, WEB, "127.0.0.2"));
    c = counters_of(sw);
    assert_int_equal(c.gossip_deaf, 1);
    assert_int_equal(c.deaf_episodes, 1);
    assert_int_equal(c.agents_stale, 2); /* the gauges still say who is silent */
    assert_int_equal(c.backends_marked_stale + c.backends_removed + c.agents_removed, 0);
    /* gossip resumes: agent-a reports, agent-b stays silent */
    f->now = t0 + 61000;
    report(f, "agent-a", "127.0.0.1");
    assert_int_equal(gslb_sweeper_run_once(sw, f->now), 0);
    c = counters_of(sw);
    assert_int_equal(c.gossip_deaf, 0);
    assert_int_equal(c.agents_registered, 2); /* agent-b timed from now */
    assert_true(served(f, WEB, "127.0.0.2"));
    f->now += 2000;
    report(f, "agent-a", "127.0.0.1");
    assert_int_equal(gslb_sweeper_run_once(sw, f->now), 0);
    assert_false(served(f, WEB, "127.0.0.2")); /* silent for a threshold since hearing */
    c = counters_of(sw);
    assert_int_equal(c.gossip_deaf, 0); /* one of two silent is not deaf */
    assert_int_equal(c.agents_stale, 1);
    f->now += 4000;
    report(f, "agent-a", "127.0.0.1");
    assert_int_equal(gslb_sweeper_run_once(sw, f->now), 0);
    gslb_agent_rec_t a;
    assert_int_equal(get_agent(f, "agent-b", &a), GSLB_ENOENT);
    assert_true(served(f, WEB, "127.0.0.1"));
    gslb_sweeper_stop(sw);
}

/* One agent of three goes away while the others keep reporting: stale, then
 * removed, and the node never counts itself deaf. */
static void test_sweeper_agent_that_leaves_is_removed(void **state)
{
    fixture_t *f = *state;
    report(f, "agent-a", "127.0.0.1");
    report(f, "agent-b", "127.0.0.2");
    report(f, "agent-c", "127.0.0.3");
    gslb_sweeper_t *sw = deaf_sweeper(f, LONG_AGO);
    int64_t t0 = f->now;
    for (int64_t t = 1000; t <= 7000; t += 1000) {
        f->now = t0 + t;
        report(f, "agent-a", "127.0.0.1");
        report(f, "agent-b", "127.0.0.2");
        assert_int_equal(gslb_sweeper_run_once(sw, f->now), 0);
        assert_int_equal(counters_of(sw).gossip_deaf, 0);
        assert_true(served(f, WEB, "127.0.0.3") == (t < 2000));
    }
    gslb_agent_rec_t a;
    assert_int_equal(get_agent(f, "agent-c", &a), GSLB_ENOENT);
    gslb_backend_rec_t b;
    assert_int_equal(get_backend(f, WEB, "127.0.0.3", 8080, &b), GSLB_ENOENT);
    assert_int_equal(counters_of(sw).deaf_episodes, 0);
    gslb_sweeper_stop(sw);
}

/* With "more than half" (deaf_percent 50), agents that went away one by one never add
 * up to a deaf node: those already marked stale do not count. Four agents; c and d go
 * silent (2 of 4: not more than half), are marked stale; then b goes silent: 1 of the
 * 2 agents still judged, not 3 of 4, so b is marked stale too. */
static void test_sweeper_agents_gone_one_by_one_are_not_deafness(void **state)
{
    fixture_t *f = *state;
    static const char *const ids[4] = {"agent-a", "agent-b", "agent-c", "agent-d"};
    static const char *const addrs[4] = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"};
    for (int i = 0; i < 4; i++)
        report(f, ids[i], addrs[i]);
    gslb_sweeper_t *sw = rule_sweeper(f, LONG_AGO, 50);
    int64_t t0 = f->now;
    for (int64_t t = 500; t <= 2500; t += 500) { /* c and d silent from t0 */
        f->now = t0 + t;
        report(f, "agent-a", "127.0.0.1");
        report(f, "agent-b", "127.0.0.2");
        assert_int_equal(gslb_sweeper_run_once(sw, f->now), 0);
    }
    assert_false(served(f, WEB, "127.0.0.3"));
    assert_false(served(f, WEB, "127.0.0.4"));
    int64_t b_last = f->now;
    for (int64_t t = b_last + 500; t <= b_last + 2500; t += 500) { /* now b is silent too */
        f->now = t;
        report(f, "agent-a", "127.0.0.1");
        assert_int_equal(gslb_sweeper_run_once(sw, f->now), 0);
    }
    assert_false(served(f, WEB, "127.0.0.2"));
    assert_true(served(f, WEB, "127.0.0.1"));
    gslb_sweeper_counters_t c = counters_of(sw);
    assert_int_equal(c.deaf_episodes, 0);
    assert_int_equal(c.agents_stale, 3);
    gslb_sweeper_stop(sw);
}

/* A node restarted long after its agents last reported judges them from the time
 * it began to listen: nothing is dropped at start. */
static void test_sweeper_judges_from_listen_start(void **state)
{
    fixture_t *f = *state;
    report(f, "agent-a", "127.0.0.1");
    gslb_gossip_rx_stop(f->rx); /* the node goes down ... */
    gslb_errbuf_t eb;
    gslb_gossip_rx_opts_t ro = {.env = &f->env, .cfg = &f->cfg, .no_sockets = true};
    assert_int_equal(gslb_gossip_rx_start(&f->rx, &ro, &eb), 0);
    int64_t back = f->now + 3600000; /* ... and listens again an hour later */
    gslb_sweeper_t *sw = deaf_sweeper(f, back);
    assert_int_equal(gslb_sweeper_run_once(sw, back), 0);
    assert_true(served(f, WEB, "127.0.0.1")); /* stored state served at once */
    assert_int_equal(gslb_sweeper_run_once(sw, back + 1999), 0);
    assert_true(served(f, WEB, "127.0.0.1"));
    assert_int_equal(gslb_sweeper_run_once(sw, back + 2000), 0);
    assert_false(served(f, WEB, "127.0.0.1")); /* one agent: judged alone, stale */
    assert_int_equal(counters_of(sw).gossip_deaf, 0);
    assert_int_equal(gslb_sweeper_run_once(sw, back + 6000), 0);
    gslb_agent_rec_t a;
    assert_int_equal(get_agent(f, "agent-a", &a), GSLB_ENOENT);
    gslb_sweeper_stop(sw);
}

static void test_validator_vetoes_and_counts_disagreements(void **state)
{
    fixture_t *f = *state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 16), 0);
    socklen_t sl = sizeof(sa);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    uint16_t port = ntohs(sa.sin_port);
    /* the agent claims both healthy; only 127.0.0.1 listens on the port */
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.1", port, GSLB_HEALTHY);
    add_backend(&s, "webapp", "127.0.0.2", port, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_true(served(f, WEB, "127.0.0.2"));
    f->cfg.restart.validation_enabled = true;
    f->cfg.restart.validation_interval_ms = 1000;
    f->cfg.restart.validation_timeout_ms = 300;
    gslb_validator_t *v;
    gslb_errbuf_t eb;
    gslb_validator_opts_t vo = {.env = &f->env, .cfg = &f->cfg, .no_thread = true};
    assert_int_equal(gslb_validator_start(&v, &vo, &eb), 0);
    gslb_validator_counters_t c;
    gslb_validator_counters(v, &c);
    assert_int_equal(c.rounds, 0); /* a new validator starts from zero */
    assert_int_equal(gslb_validator_run_once(v), 0);
    gslb_validator_counters(v, &c);
    assert_int_equal(c.disagreements, 1);
    assert_int_equal(c.probes_ok, 1);
    assert_int_equal(c.probes_failed, 1);
    assert_int_equal(c.rounds, 1);
    assert_false(served(f, WEB, "127.0.0.2")); /* validation vetoes the agent's claim */
    assert_true(served(f, WEB, "127.0.0.1"));
    gslb_backend_rec_t b;
    assert_int_equal(get_backend(f, WEB, "127.0.0.2", port, &b), 0);
    assert_int_equal(b.validation_health, GSLB_UNHEALTHY);
    assert_int_equal(b.agent_health, GSLB_HEALTHY);
    /* still disagreeing: not counted again */
    assert_int_equal(gslb_validator_run_once(v), 0);
    gslb_validator_counters(v, &c);
    assert_int_equal(c.disagreements, 1);
    gslb_validator_stop(v);
    /* validation switched off: the old veto is forgotten */
    f->cfg.restart.validation_enabled = false;
    assert_int_equal(gslb_validator_start(&v, &vo, &eb), 0);
    assert_true(served(f, WEB, "127.0.0.2"));
    gslb_validator_stop(v);
    close(lfd);
}

/* ---- hostile agents (issue 16) -------------------------------------------- */

static struct sockaddr_in src_addr(const char *ip)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(40000)};
    assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
    return sa;
}

static enum gslb_gossip_result send_from(fixture_t *f, const msgspec_t *s, const char *ip)
{
    uint8_t buf[4096];
    int n = seal(f, s, buf, sizeof(buf));
    struct sockaddr_in sa = src_addr(ip);
    return gslb_gossip_rx_ingest(f->rx, buf, (size_t)n, (struct sockaddr *)&sa, f->now);
}

/* With only the "other" token, a message naming agent "victim-web" (webapp) neither
 * deletes nor drains its backends nor poisons its sequence window. */
static void test_foreign_token_cannot_touch_an_agent(void **state)
{
    fixture_t *f = *state;
    msgspec_t s = heartbeat(f, "victim-web");
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_true(served(f, WEB, "127.0.0.1"));
    uint64_t before = txnid(f);
    msgspec_t evil = heartbeat(f, "victim-web");
    evil.token_name = "other";
    evil.token = "tok-other";
    evil.seq = UINT64_MAX;
    add_backend(&evil, "other", "127.0.0.3", 80, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &evil), GSLB_GOSSIP_AGENT_TOKEN_MISMATCH);
    evil.type = GSLB_GOSSIP_GOODBYE;
    evil.seq = ++f->seq;
    assert_int_equal(send_msg(f, &evil), GSLB_GOSSIP_AGENT_TOKEN_MISMATCH);
    assert_int_equal(result_count(f, GSLB_GOSSIP_AGENT_TOKEN_MISMATCH), 2);
    flush(f);
    assert_int_equal(txnid(f), before); /* nothing written */
    gslb_backend_rec_t b;
    assert_int_equal(get_backend(f, WEB, "127.0.0.1", 8080, &b), 0);
    assert_false(b.draining);
    assert_true(served(f, WEB, "127.0.0.1"));
    gslb_agent_rec_t a;
    assert_int_equal(get_agent(f, "victim-web", &a), 0);
    assert_string_equal(a.token_name, "webapp");
    assert_int_equal(a.last_seq, s.seq);
    /* the victim's next heartbeat is accepted, also by a restarted receiver */
    msgspec_t next = heartbeat(f, "victim-web");
    add_backend(&next, "webapp", "127.0.0.1", 8080, GSLB_UNHEALTHY);
    assert_int_equal(send_msg(f, &next), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_false(served(f, WEB, "127.0.0.1"));
    gslb_gossip_rx_stop(f->rx);
    gslb_errbuf_t eb;
    gslb_gossip_rx_opts_t ro = {.env = &f->env, .cfg = &f->cfg, .no_sockets = true};
    assert_int_equal(gslb_gossip_rx_start(&f->rx, &ro, &eb), 0);
    evil.type = GSLB_GOSSIP_HEARTBEAT;
    evil.seq = ++f->seq;
    assert_int_equal(send_msg(f, &evil), GSLB_GOSSIP_AGENT_TOKEN_MISMATCH); /* from the store */
    msgspec_t again = heartbeat(f, "victim-web");
    add_backend(&again, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &again), GSLB_GOSSIP_ACCEPTED);
}

/* An id whose owning token left the configuration can be taken by another. */
static void test_owner_token_removed_frees_the_id(void **state)
{
    fixture_t *f = *state;
    msgspec_t s = heartbeat(f, "agent-x");
    s.token_name = "other";
    s.token = "tok-other";
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    msgspec_t w = heartbeat(f, "agent-x");
    assert_int_equal(send_msg(f, &w), GSLB_GOSSIP_AGENT_TOKEN_MISMATCH);
    snprintf(f->cfg.tokens[1].name, sizeof(f->cfg.tokens[1].name), "renamed");
    gslb_errbuf_t eb;
    assert_int_equal(gslb_gossip_rx_update(f->rx, &f->cfg, &eb), 0);
    w.seq = ++f->seq;
    assert_int_equal(send_msg(f, &w), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    gslb_agent_rec_t a;
    assert_int_equal(get_agent(f, "agent-x", &a), 0);
    assert_string_equal(a.token_name, "webapp");
}

static void put_agent_seq(fixture_t *f, const char *id, uint64_t seq)
{
    gslb_agent_rec_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.agent_id, sizeof(a.agent_id), "%s", id);
    snprintf(a.token_name, sizeof(a.token_name), "webapp");
    a.last_heartbeat = f->now / 1000;
    a.last_seq = seq;
    MDB_txn *txn;
    assert_int_equal(gslb_env_write_begin(&f->env, &txn), 0);
    assert_int_equal(gslb_store_agent_put(&f->env, txn, &a), 0);
    assert_int_equal(gslb_env_commit(&f->env, txn), 0);
}

/* A sequence beyond the clock bound is refused and leaves the window alone; a
 * window pushed to the bound is passed again by an agent whose sequence follows
 * its clock; a window already poisoned in an old store does not lock the agent out. */
static void test_absurd_sequence_cannot_poison_the_window(void **state)
{
    fixture_t *f = *state;
    uint64_t skew = f->cfg.gossip_max_skew_ms, limit = gslb_gossip_seq_limit(f->now, skew);
    assert_int_equal(limit, ((uint64_t)f->now + skew) * 1000 + GSLB_GOSSIP_SEQ_SLACK_US);
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    msgspec_t evil = heartbeat(f, "agent-a");
    evil.seq = UINT64_MAX;
    assert_int_equal(send_msg(f, &evil), GSLB_GOSSIP_SEQUENCE_AHEAD);
    evil.seq = limit + 1;
    assert_int_equal(send_msg(f, &evil), GSLB_GOSSIP_SEQUENCE_AHEAD);
    msgspec_t next = heartbeat(f, "agent-a");
    assert_int_equal(send_msg(f, &next), GSLB_GOSSIP_ACCEPTED); /* window untouched */
    /* pushed to the bound: the agent's clock-based sequence passes it later */
    evil.seq = limit;
    assert_int_equal(send_msg(f, &evil), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    f->now += (int64_t)skew + 1001;
    msgspec_t later = heartbeat(f, "agent-a");
    later.seq = (uint64_t)f->now * 1000;
    assert_int_equal(send_msg(f, &later), GSLB_GOSSIP_ACCEPTED);
    /* a store poisoned before this rule: the window is void */
    put_agent_seq(f, "agent-p", UINT64_MAX);
    msgspec_t p = heartbeat(f, "agent-p");
    p.seq = (uint64_t)f->now * 1000;
    assert_int_equal(send_msg(f, &p), GSLB_GOSSIP_ACCEPTED);
    assert_int_equal(send_msg(f, &p), GSLB_GOSSIP_REPLAYED); /* and protects again */
    assert_int_equal(gslb_gossip_seq_limit(INT64_MAX, UINT64_MAX), UINT64_MAX);
    assert_int_equal(gslb_gossip_seq_limit(INT64_MIN, 5000), GSLB_GOSSIP_SEQ_SLACK_US);
}

/* Timestamps at the int64 extremes are stale, without overflow (UBSan build). */
static void test_timestamp_extremes(void **state)
{
    fixture_t *f = *state;
    assert_false(gslb_gossip_timestamp_ok(INT64_MIN, f->now, 5000));
    assert_false(gslb_gossip_timestamp_ok(INT64_MAX, f->now, 5000));
    assert_false(gslb_gossip_timestamp_ok(INT64_MAX, INT64_MIN, UINT64_MAX - 1));
    assert_false(gslb_gossip_timestamp_ok(1, INT64_MIN, 5000));
    assert_true(gslb_gossip_timestamp_ok(INT64_MAX, INT64_MAX, 0));
    assert_true(gslb_gossip_timestamp_ok(f->now + 5000, f->now, 5000));
    assert_false(gslb_gossip_timestamp_ok(f->now - 5001, f->now, 5000));
    msgspec_t s = heartbeat(f, "agent-a");
    s.ts = INT64_MIN;
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_STALE_TIMESTAMP);
    s.ts = INT64_MAX;
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_STALE_TIMESTAMP);
    s.ts = 1;
    int64_t saved = f->now;
    f->now = INT64_MIN;
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_STALE_TIMESTAMP);
    f->now = INT64_MAX;
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_STALE_TIMESTAMP);
    f->now = saved;
}

/* Per-source token bucket before decryption: burst, then rate_limited (nothing
 * decrypted, even a valid message), refill with time; other sources unaffected. */
static void test_rate_limit_per_source(void **state)
{
    fixture_t *f = *state;
    f->cfg.gossip_source_rate = 10;
    f->cfg.gossip_source_burst = 20;
    gslb_errbuf_t eb;
    assert_int_equal(gslb_gossip_rx_update(f->rx, &f->cfg, &eb), 0);
    uint8_t junk[100] = {'O', 'G', 1, 0};
    struct sockaddr_in a = src_addr("192.0.2.1"), b = src_addr("192.0.2.2");
    for (int i = 0; i < 20; i++)
        assert_int_equal(
            gslb_gossip_rx_ingest(f->rx, junk, sizeof(junk), (struct sockaddr *)&a, f->now),
            GSLB_GOSSIP_DECRYPT_FAILED);
    assert_int_equal(
        gslb_gossip_rx_ingest(f->rx, junk, sizeof(junk), (struct sockaddr *)&a, f->now),
        GSLB_GOSSIP_RATE_LIMITED);
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_from(f, &s, "192.0.2.1"), GSLB_GOSSIP_RATE_LIMITED);
    assert_int_equal(result_count(f, GSLB_GOSSIP_RATE_LIMITED), 2);
    assert_int_equal(send_from(f, &s, "192.0.2.2"), GSLB_GOSSIP_ACCEPTED); /* other source */
    assert_int_equal(
        gslb_gossip_rx_ingest(f->rx, junk, sizeof(junk), (struct sockaddr *)&b, f->now),
        GSLB_GOSSIP_DECRYPT_FAILED);
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_REPLAYED); /* no address: never limited */
    f->now += 100;                                           /* one message refilled at 10/s */
    msgspec_t s2 = heartbeat(f, "agent-a");
    assert_int_equal(send_from(f, &s2, "192.0.2.1"), GSLB_GOSSIP_ACCEPTED);
    assert_int_equal(send_from(f, &s2, "192.0.2.1"), GSLB_GOSSIP_RATE_LIMITED);
    /* rate 0 switches the limit off */
    f->cfg.gossip_source_rate = 0;
    assert_int_equal(gslb_gossip_rx_update(f->rx, &f->cfg, &eb), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(
            gslb_gossip_rx_ingest(f->rx, junk, sizeof(junk), (struct sockaddr *)&a, f->now),
            GSLB_GOSSIP_DECRYPT_FAILED);
}

static void test_rejection_log_limiter(void **state)
{
    (void)state;
    gslb_log_table_t *t;
    assert_int_equal(gslb_log_table_new(&t), 0);
    gslb_addr_t a, b;
    assert_int_equal(gslb_addr_parse("192.0.2.1", &a), 0);
    assert_int_equal(gslb_addr_parse("2001:db8::1", &b), 0);
    uint64_t more = 99, dropped = 99;
    int64_t now = 1000;
    assert_true(gslb_log_table_should_log(t, &a, 2, now, &more, &dropped));
    assert_int_equal(more, 0);
    assert_int_equal(dropped, 0);
    assert_false(gslb_log_table_should_log(t, &a, 2, now + 1, &more, &dropped));
    assert_false(gslb_log_table_should_log(t, &a, 2, now + 59999, &more, &dropped));
    assert_true(gslb_log_table_should_log(t, &a, 4, now + 2, &more, &dropped)); /* reason */
    assert_true(gslb_log_table_should_log(t, &b, 2, now + 3, &more, &dropped)); /* source */
    assert_true(gslb_log_table_should_log(t, &a, 2, now + 60000, &more, &dropped));
    assert_int_equal(more, 2);
    /* the global cap: 20 lines a minute whatever the sources */
    gslb_log_table_free(t);
    assert_int_equal(gslb_log_table_new(&t), 0);
    int logged = 0;
    for (int i = 0; i < 200; i++) {
        gslb_addr_t x = {.family = AF_INET, .bytes = {10, 0, (uint8_t)(i >> 8), (uint8_t)i}};
        logged += gslb_log_table_should_log(t, &x, 1, now, &more, &dropped);
    }
    assert_int_equal(logged, GSLB_GUARD_LOG_BURST);
    assert_true(
        gslb_log_table_should_log(t, &a, 1, now + GSLB_GUARD_LOG_INTERVAL_MS, &more, &dropped));
    assert_int_equal(dropped, 200 - GSLB_GUARD_LOG_BURST);
    gslb_log_table_free(t);
}

/* The guards take any int64 clock value (UBSan build: no overflow). */
static void test_guards_at_clock_extremes(void **state)
{
    (void)state;
    gslb_addr_t a;
    assert_int_equal(gslb_addr_parse("192.0.2.1", &a), 0);
    gslb_rate_table_t *r;
    assert_int_equal(gslb_rate_table_new(&r, 10, 2), 0);
    assert_true(gslb_rate_allow(r, &a, INT64_MIN));
    assert_true(gslb_rate_allow(r, &a, INT64_MAX)); /* refilled (to the burst) */
    assert_true(gslb_rate_allow(r, &a, INT64_MAX));
    assert_false(gslb_rate_allow(r, &a, INT64_MAX));
    assert_false(gslb_rate_allow(r, &a, INT64_MIN)); /* clock back: no refill */
    gslb_rate_table_free(r);
    gslb_log_table_t *t;
    uint64_t more, dropped;
    assert_int_equal(gslb_log_table_new(&t), 0);
    assert_true(gslb_log_table_should_log(t, &a, 1, INT64_MIN, &more, &dropped));
    assert_true(gslb_log_table_should_log(t, &a, 1, INT64_MAX, &more, &dropped));
    assert_false(gslb_log_table_should_log(t, &a, 1, INT64_MAX, &more, &dropped));
    /* clock back: a new window from now */
    assert_true(gslb_log_table_should_log(t, &a, 1, INT64_MIN, &more, &dropped));
    assert_int_equal(more, 1);
    gslb_log_table_free(t);
}

/* Run fn with stderr (the log) in a file; returns what was logged (malloc'd). */
static char *capture_log(fixture_t *f, void (*fn)(fixture_t *))
{
    char path[128];
    snprintf(path, sizeof(path), "%s/log.txt", f->dir);
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    fn(f);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char *text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, fp);
    text[n] = '\0';
    fclose(fp);
    return text;
}

static size_t occurrences(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void hostile_then_real(fixture_t *f)
{
    msgspec_t bad = heartbeat(f, "agent-a");
    bad.token = "wrong-value";
    for (int i = 0; i < 5; i++)
        assert_int_equal(send_from(f, &bad, "192.0.2.7"), GSLB_GOSSIP_UNKNOWN_TOKEN);
    uint8_t junk[100] = {'O', 'G', 1, 0};
    struct sockaddr_in sa = src_addr("192.0.2.8");
    assert_int_equal(
        gslb_gossip_rx_ingest(f->rx, junk, sizeof(junk), (struct sockaddr *)&sa, f->now),
        GSLB_GOSSIP_DECRYPT_FAILED);
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_from(f, &s, "192.0.2.9"), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    msgspec_t s2 = heartbeat(f, "agent-a");
    add_backend(&s2, "webapp", "127.0.0.1", 8080, GSLB_UNHEALTHY);
    assert_int_equal(send_from(f, &s2, "192.0.2.9"), GSLB_GOSSIP_ACCEPTED);
    flush(f);
}

/* A rejected agent is visible in the log (once per source and reason, no token
 * value); registration and health transitions are logged too. */
static void test_rejections_and_transitions_are_logged(void **state)
{
    fixture_t *f = *state;
    char *log = capture_log(f, hostile_then_real);
    assert_int_equal(occurrences(log,
                                 "gossip: rejected a message from 192.0.2.7: unknown_token (agent "
                                 "agent-a, token name \"webapp\""),
                     1);
    assert_int_equal(occurrences(log, "rejected a message from 192.0.2.8: decrypt_failed"), 1);
    assert_null(strstr(log, "wrong-value"));
    assert_null(strstr(log, "tok-webapp"));
    assert_int_equal(
        occurrences(log, "gossip: agent agent-a registered: token \"webapp\", region us-east, "
                         "from 192.0.2.9"),
        1);
    assert_int_equal(occurrences(log, "gossip: backend webapp.gslb.example.com 127.0.0.1:8080 "
                                      "healthy -> unhealthy (agent agent-a)"),
                     1);
    free(log);
}

/* A configured backend that an agent reported falls back to its configured
 * record when the agent stops reporting it, and when the sweeper removes the agent. */
static void test_configured_backend_survives_its_agent(void **state)
{
    fixture_t *f = *state;
    msgspec_t s = heartbeat(f, "agent-a");
    add_backend(&s, "webapp", "127.0.0.99", 80, GSLB_UNHEALTHY);
    add_backend(&s, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    gslb_backend_rec_t b;
    assert_int_equal(get_backend(f, WEB, "127.0.0.99", 80, &b), 0);
    assert_int_equal(b.source, GSLB_SOURCE_AGENT);
    assert_false(served(f, WEB, "127.0.0.99"));
    /* no longer reported: back to the configured record */
    msgspec_t s2 = heartbeat(f, "agent-a");
    add_backend(&s2, "webapp", "127.0.0.1", 8080, GSLB_HEALTHY);
    assert_int_equal(send_msg(f, &s2), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_int_equal(get_backend(f, WEB, "127.0.0.99", 80, &b), 0);
    assert_int_equal(b.source, GSLB_SOURCE_CONFIG);
    assert_string_equal(b.agent_id, "");
    assert_true(served(f, WEB, "127.0.0.99"));
    /* reported again, then the agent goes silent and the sweeper removes it */
    msgspec_t s3 = heartbeat(f, "agent-a");
    add_backend(&s3, "webapp", "127.0.0.99", 80, GSLB_UNHEALTHY);
    assert_int_equal(send_msg(f, &s3), GSLB_GOSSIP_ACCEPTED);
    flush(f);
    assert_false(served(f, WEB, "127.0.0.99"));
    gslb_sweeper_t *sw;
    gslb_errbuf_t eb;
    gslb_sweeper_opts_t so = {.env = &f->env,
                              .stale_threshold_ms = 2000,
                              .remove_after_ms = 6000,
                              .no_thread = true,
                              .cfg = &f->cfg};
    assert_int_equal(gslb_sweeper_start(&sw, &so, &eb), 0);
    int64_t heard = (f->now / 1000) * 1000 + 999;
    assert_int_equal(gslb_sweeper_run_once(sw, heard + 6000), 0);
    gslb_agent_rec_t a;
    assert_int_equal(get_agent(f, "agent-a", &a), GSLB_ENOENT);
    assert_int_equal(get_backend(f, WEB, "127.0.0.99", 80, &b), 0);
    assert_int_equal(b.source, GSLB_SOURCE_CONFIG);
    assert_int_equal(b.agent_health, GSLB_UNKNOWN);
    assert_false(b.stale);
    assert_int_equal(b.weight, 100);
    assert_string_equal(b.region, "us-east");
    assert_true(served(f, WEB, "127.0.0.99"));
    assert_int_equal(get_backend(f, WEB, "127.0.0.1", 8080, &b), GSLB_ENOENT); /* unreported */
    gslb_sweeper_counters_t c;
    gslb_sweeper_counters(sw, &c);
    assert_int_equal(c.backends_removed, 1);
    gslb_sweeper_stop(sw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_heartbeat_creates_backends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_messages_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_unauthorized_services, setup, teardown),
        cmocka_unit_test_setup_teardown(test_goodbye_drains_and_heartbeat_returns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreported_backends_removed_and_batching, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sequence_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweeper_stale_then_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweeper_uses_receiver_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweeper_full_scans_find_orphans, setup, teardown),
        cmocka_unit_test(test_sweeper_deaf_rule),
        cmocka_unit_test_setup_teardown(test_sweeper_deaf_node_keeps_last_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweeper_agent_that_leaves_is_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweeper_judges_from_listen_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweeper_agents_gone_one_by_one_are_not_deafness, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_validator_vetoes_and_counts_disagreements, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_foreign_token_cannot_touch_an_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_token_removed_frees_the_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absurd_sequence_cannot_poison_the_window, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_extremes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_per_source, setup, teardown),
        cmocka_unit_test(test_rejection_log_limiter),
        cmocka_unit_test(test_guards_at_clock_extremes),
        cmocka_unit_test_setup_teardown(test_rejections_and_transitions_are_logged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_configured_backend_survives_its_agent, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
