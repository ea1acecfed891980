/*
 * gossip_wire.h - the gossip message format shared by gslb-agentd (sender) and
 * gslb-overwatch (receiver), and its AES-GCM seal/open (docs/gossip-protocol.md).
 *
 * Sealed message (one UDP datagram, or one length-prefixed TCP frame):
 *   header[4]   'O' 'G' version(1) reserved(0)   -- the associated data
 *   nonce[12]   random per message (RAND_bytes)
 *   ciphertext  AES-GCM of the plaintext below (key of 16, 24 or 32 bytes)
 *   tag[16]
 * Plaintext, big-endian integers, strings as u8/u16 length + bytes (no NUL):
 *   u8 version, u8 type (1 heartbeat, 2 goodbye), u16 flags (0),
 *   u64 sequence, i64 timestamp (unix ms),
 *   str8 agent_id, str8 region, str8 token_name, str16 token,
 *   u16 backend_count, then per backend:
 *     str8 service, u8 family (4|6), address (4|16 bytes), u16 port,
 *     u32 weight, u8 health (0 unknown, 1 healthy, 2 unhealthy), u32 latency_us
 *
 * Contract:
 *  - gslb_gossip_open() classifies every failure into the result reasons the
 *    overwatch counts (bad_length, bad_version, decrypt_failed); decode reports
 *    malformed input. Neither reads outside its input nor allocates.
 *  - Decoding is strict: every length is bounded, strings are printable
 *    ASCII without NUL, names fit the records.h arrays, the plaintext is consumed
 *    exactly, counts never exceed GSLB_GOSSIP_MAX_BACKENDS.
 *  - A gslb_gossip_aead_t belongs to one thread at a time.
 */
#pragma once

#include "gslb_err.h"
#include "records.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GSLB_GOSSIP_VERSION 1
#define GSLB_GOSSIP_DEFAULT_PORT 7946
#define GSLB_GOSSIP_HDR_LEN 4
#define GSLB_GOSSIP_NONCE_LEN 12
#define GSLB_GOSSIP_TAG_LEN 16
#define GSLB_GOSSIP_OVERHEAD (GSLB_GOSSIP_HDR_LEN + GSLB_GOSSIP_NONCE_LEN + GSLB_GOSSIP_TAG_LEN)
/* Smallest plaintext: fixed fields, a one-byte agent id, empty region/token. */
#define GSLB_GOSSIP_MIN_PLAINTEXT 28
/* Sealed messages up to this size go in one UDP datagram; larger ones over TCP. */
#define GSLB_GOSSIP_UDP_MAX 1400
/* Upper bound of a sealed message (UDP or TCP frame). */
#define GSLB_GOSSIP_MSG_MAX (512 * 1024)
#define GSLB_GOSSIP_MAX_BACKENDS 1024
#define GSLB_GOSSIP_TOKEN_MAX 256

enum gslb_gossip_type { GSLB_GOSSIP_HEARTBEAT = 1, GSLB_GOSSIP_GOODBYE = 2 };

/* Why a message was accepted or dropped (metric label "result"). */
enum gslb_gossip_result {
    GSLB_GOSSIP_ACCEPTED = 0,
    GSLB_GOSSIP_BAD_LENGTH,
    GSLB_GOSSIP_DECRYPT_FAILED,
    GSLB_GOSSIP_BAD_VERSION,
    GSLB_GOSSIP_UNKNOWN_TOKEN,
    GSLB_GOSSIP_STALE_TIMESTAMP,
    GSLB_GOSSIP_REPLAYED,
    GSLB_GOSSIP_MALFORMED,
    GSLB_GOSSIP_AGENT_TOKEN_MISMATCH, /* the agent id belongs to another token */
    GSLB_GOSSIP_SEQUENCE_AHEAD,       /* sequence beyond the clock bound */
    GSLB_GOSSIP_RATE_LIMITED,         /* over the per-source rate, not opened */
    GSLB_GOSSIP_RESULT_COUNT
};

/** "accepted", "bad_length", ... (never NULL). */
const char *gslb_gossip_result_name(enum gslb_gossip_result r);

typedef struct gslb_gossip_backend {
    char service[GSLB_NAME_MAX];
    gslb_addr_t addr;
    uint16_t port;
    uint32_t weight;
    uint8_t health; /* enum gslb_tristate */
    uint32_t latency_us;
} gslb_gossip_backend_t;

typedef struct gslb_gossip_msg {
    uint8_t version; /* GSLB_GOSSIP_VERSION */
    uint8_t type;    /* enum gslb_gossip_type */
    uint64_t seq;
    int64_t timestamp_ms;
    char agent_id[GSLB_LABEL_MAX];
    char region[GSLB_LABEL_MAX];
    char token_name[GSLB_LABEL_MAX];
    char token[GSLB_GOSSIP_TOKEN_MAX];
    uint16_t backend_count;
    gslb_gossip_backend_t *backends; /* caller-owned array */
} gslb_gossip_msg_t;

/** Encode the plaintext into buf. Returns its length or GSLB_ERANGE/GSLB_EINVAL. */
int gslb_gossip_encode(const gslb_gossip_msg_t *m, uint8_t *buf, size_t cap);
/** Decode a plaintext. m->backends must hold `cap` entries. Returns 0,
 *  GSLB_ECORRUPT (malformed) or GSLB_EVERSION (plaintext version unknown). */
int gslb_gossip_decode(const uint8_t *buf, size_t len, gslb_gossip_msg_t *m, size_t cap);

typedef struct gslb_gossip_aead {
    void *enc; /* EVP_CIPHER_CTX * */
    void *dec; /* EVP_CIPHER_CTX * */
    size_t key_len;
} gslb_gossip_aead_t;

/** Key of 16, 24 or 32 bytes -> AES-128/192/256-GCM. */
int gslb_gossip_aead_init(gslb_gossip_aead_t *a, const uint8_t *key, size_t key_len,
                          gslb_errbuf_t *eb);
void gslb_gossip_aead_free(gslb_gossip_aead_t *a);

/** Seal a plaintext into out (header | nonce | ciphertext | tag). Returns the
 *  sealed length, GSLB_ERANGE (too big for cap or GSLB_GOSSIP_MSG_MAX) or GSLB_ECRYPTO. */
int gslb_gossip_seal(gslb_gossip_aead_t *a, const uint8_t *pt, size_t pt_len, uint8_t *out,
                     size_t cap);
/** Check and decrypt a sealed message into pt (cap >= len). Returns the
 *  plaintext length (>= 0) on success; otherwise -1 with *why set to
 *  BAD_LENGTH, BAD_VERSION or DECRYPT_FAILED. */
int gslb_gossip_open(gslb_gossip_aead_t *a, const uint8_t *in, size_t len, uint8_t *pt, size_t cap,
                     enum gslb_gossip_result *why);

/** Encode + seal in one step (buf is scratch for the plaintext). */
int gslb_gossip_build(gslb_gossip_aead_t *a, const gslb_gossip_msg_t *m, uint8_t *scratch,
                      size_t scratch_cap, uint8_t *out, size_t cap);
