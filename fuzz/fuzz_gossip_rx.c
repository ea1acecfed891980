/*
 * fuzz_gossip_rx.c - libFuzzer target for the overwatch's authenticated gossip
 * path (server/health/gossip_rx.h): the input is a plaintext that the target
 * seals with the deployment key, so every input passes the AES-GCM check and
 * reaches decode, token check, timestamp, ownership and sequence checks and, when
 * accepted, the application to a real LMDB store in a temporary directory
 * (agents, backends, answer sets, removal, drain, configured-backend fallback).
 *
 * Input: byte 0 = flags, the rest = plaintext (docs/gossip-protocol.md).
 *   bit 0: overwrite sequence and timestamp with fresh values (so the message
 *          can be accepted; clear: the fuzzer's own values, e.g. extremes)
 *   bit 1: flush (apply) after this message; every 8th message flushes anyway
 *   bit 2: from a source address (byte 1 of the plaintext picks it), so the
 *          per-source rate limit and the rejection log run too
 * Seeds (corpus/gossip_rx/): heartbeats and goodbyes with the tokens below.
 * Nothing may crash, read out of bounds or leak; the store must stay readable.
 */
#include "config.h"
#include "env.h"
#include "gossip_rx.h"
#include "gossip_wire.h"
#include "gslb_log.h"
#include "gslb_time.h"

#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define RECREATE_EVERY 20000 /* a fresh store now and then: bounded disk and map */

static const char *const CONFIG_FMT = "mode: overwatch\n"
                                      "overwatch:\n"
                                      "  identity: {node_id: fuzz}\n"
                                      "  agent_tokens: {webapp: tok-webapp, other: tok-other}\n"
                                      "  gossip:\n"
                                      "    encryption_key: \"" KEY_B64 "\"\n"
                                      "    source_rate: 1000\n"
                                      "    source_burst: 50\n"
                                      "  data_dir: \"%s\"\n"
                                      "dns:\n"
                                      "  zones: [gslb.example.com]\n"
                                      "regions:\n"
                                      "  - name: us-east\n"
                                      "    servers:\n"
                                      "      - {address: 127.0.0.99, service: webapp}\n"
                                      "      - {address: \"::99\", port: 8080}\n"
                                      "domains:\n"
                                      "  - name: webapp.gslb.example.com\n"
                                      "    regions: [us-east]\n"
                                      "  - name: other.gslb.example.com\n"
                                      "    regions: [us-east]\n";

typedef struct world {
    char dir[64];
    gslb_config_t cfg;
    gslb_env_t env;
    gslb_gossip_rx_t *rx;
    gslb_gossip_aead_t aead;
    bool ready;
    unsigned long runs;
    uint64_t seq;
} world_t;

static world_t W;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void world_down(void)
{
    if (!W.ready)
        return;
    gslb_gossip_rx_stop(W.rx);
    gslb_gossip_aead_free(&W.aead);
    gslb_env_close(&W.env);
    gslb_config_free(&W.cfg);
    nftw(W.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    W.ready = false;
}

static void world_up(void)
{
    char yaml[2048];
    gslb_errbuf_t eb = {{0}};
    snprintf(W.dir, sizeof(W.dir), "/tmp/gslb-fuzz-rx-XXXXXX");
    if (!mkdtemp(W.dir))
        abort();
    snprintf(yaml, sizeof(yaml), CONFIG_FMT, W.dir);
    gslb_env_opts_t o = {.data_dir = W.dir, .map_size = 256 << 20};
    memset(&W.cfg, 0, sizeof(W.cfg));
    if (gslb_config_load_string("fuzz.yaml", yaml, &W.cfg, &eb) || gslb_env_open(&W.env, &o, &eb) ||
        gslb_config_apply_to_store(&W.cfg, &W.env, &eb)) {
        fprintf(stderr, "fuzz_gossip_rx: %s\n", eb.msg);
        abort();
    }
    gslb_gossip_rx_opts_t ro = {.env = &W.env, .cfg = &W.cfg, .no_sockets = true};
    if (gslb_gossip_rx_start(&W.rx, &ro, &eb) ||
        gslb_gossip_aead_init(&W.aead, W.cfg.gossip_key, W.cfg.gossip_key_len, &eb)) {
        fprintf(stderr, "fuzz_gossip_rx: %s\n", eb.msg);
        abort();
    }
    W.ready = true;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Fresh sequence (following the clock, like gslb-agentd) and timestamp. */
static void freshen(uint8_t *pt, size_t len, int64_t now)
{
    if (len < 20)
        return;
    uint64_t now_us = (uint64_t)now * 1000;
    W.seq = now_us > W.seq ? now_us : W.seq + 1;
    put_be64(pt + 4, W.seq);
    put_be64(pt + 12, (uint64_t)now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > GSLB_GOSSIP_UDP_MAX * 4)
        return 0;
    if (!W.ready) {
        gslb_log_set_level(GSLB_LOG_ERROR);
        atexit(world_down);
        world_up();
    }
    uint8_t flags = data[0];
    size_t len = size - 1;
    uint8_t *pt = malloc(len ? len : 1), *sealed = malloc(len + GSLB_GOSSIP_OVERHEAD);
    if (!pt || !sealed)
        abort();
    memcpy(pt, data + 1, len);
    int64_t now = gslb_wall_ms();
    if (flags & 1)
        freshen(pt, len, now);
    int n = gslb_gossip_seal(&W.aead, pt, len, sealed, len + GSLB_GOSSIP_OVERHEAD);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xc0000200u)};
    if (len > 1)
        sa.sin_addr.s_addr = htonl(0xc0000200u | (data[2] & 0x0f));
    if (n > 0) {
        enum gslb_gossip_result r = gslb_gossip_rx_ingest(
            W.rx, sealed, (size_t)n, (flags & 4) ? (struct sockaddr *)&sa : NULL, now);
        if ((unsigned)r >= GSLB_GOSSIP_RESULT_COUNT)
            abort();
    }
    W.runs++;
    if ((flags & 2) || W.runs % 8 == 0)
        (void)gslb_gossip_rx_flush(W.rx, now); /* a full map is an error, not a crash */
    if (W.runs % RECREATE_EVERY == 0) {
        world_down();
        world_up();
    }
    free(pt);
    free(sealed);
    return 0;
}
