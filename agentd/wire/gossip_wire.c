/*
 * gossip_wire.c - gossip plaintext encode/decode and AES-GCM seal/open (gossip_wire.h).
 */
#include "gossip_wire.h"

#include "cursor.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/socket.h>

/* Address family codes on the wire. */
enum { GOSSIP_ADDR_V4 = 4, GOSSIP_ADDR_V6 = 6 };

static const uint8_t GOSSIP_MAGIC[2] = {'O', 'G'};

const char *gslb_gossip_result_name(enum gslb_gossip_result r)
{
    static const char *const names[GSLB_GOSSIP_RESULT_COUNT] = {
        "accepted",        "bad_length", "decrypt_failed", "bad_version",          "unknown_token",
        "stale_timestamp", "replayed",   "malformed",      "agent_token_mismatch", "sequence_ahead",
        "rate_limited",
    };
    if ((unsigned)r >= GSLB_GOSSIP_RESULT_COUNT)
        return "unknown";
    return names[r];
}

/* ---- strings on the byte cursor (cursor.h), big-endian lengths ------------ */

/* Width of a string's length prefix: one byte for labels, two for the token. */
enum str_width { STR_LEN8 = 1, STR_LEN16 = 2 };

static void put_len(gslb_cur_t *w, size_t n, enum str_width width)
{
    if (width == STR_LEN8)
        gslb_cur_put_u8(w, (uint8_t)n);
    else
        gslb_cur_put_be16(w, (uint16_t)n);
}

static size_t get_len(gslb_cur_t *r, enum str_width width)
{
    return width == STR_LEN8 ? gslb_cur_get_u8(r) : gslb_cur_get_be16(r);
}

static void w_str(gslb_cur_t *w, const char *s, enum str_width width, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n > max) {
        gslb_cur_fail(w, GSLB_ERANGE);
        return;
    }
    put_len(w, n, width);
    gslb_cur_put_bytes(w, s, n);
}

enum str_kind { STR_LABEL, STR_TOKEN };

static bool str_bytes_ok(const uint8_t *p, size_t n, enum str_kind kind)
{
    for (size_t i = 0; i < n; i++) {
        if (kind == STR_LABEL && (p[i] < 0x21 || p[i] > 0x7e))
            return false;
        if (kind == STR_TOKEN && p[i] == 0)
            return false;
    }
    return true;
}

/* Read a length-prefixed string into out[cap] (needs room for the NUL). */
static void r_str(gslb_cur_t *r, enum str_width width, char *out, size_t cap, bool allow_empty,
                  enum str_kind kind)
{
    size_t n = get_len(r, width);
    if (r->err)
        return;
    if (n >= cap || (!allow_empty && n == 0)) {
        gslb_cur_fail(r, GSLB_ECORRUPT);
        return;
    }
    const uint8_t *p = gslb_cur_take(r, n);
    if (!p)
        return;
    if (!str_bytes_ok(p, n, kind)) {
        gslb_cur_fail(r, GSLB_ECORRUPT);
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

/* ---- plaintext ------------------------------------------------------------ */

static void encode_backend(gslb_cur_t *w, const gslb_gossip_backend_t *b)
{
    w_str(w, b->service, STR_LEN8, GSLB_NAME_MAX - 1);
    if (b->addr.family == AF_INET) {
        gslb_cur_put_u8(w, GOSSIP_ADDR_V4);
        gslb_cur_put_bytes(w, b->addr.bytes, 4);
    } else if (b->addr.family == AF_INET6) {
        gslb_cur_put_u8(w, GOSSIP_ADDR_V6);
        gslb_cur_put_bytes(w, b->addr.bytes, 16);
    } else {
        gslb_cur_fail(w, GSLB_ERANGE);
    }
    gslb_cur_put_be16(w, b->port);
    gslb_cur_put_be32(w, b->weight);
    gslb_cur_put_u8(w, b->health);
    gslb_cur_put_be32(w, b->latency_us);
}

int gslb_gossip_encode(const gslb_gossip_msg_t *m, uint8_t *buf, size_t cap)
{
    if (!m || !buf || m->backend_count > GSLB_GOSSIP_MAX_BACKENDS ||
        (m->backend_count && !m->backends) || !m->agent_id[0])
        return GSLB_EINVAL;
    gslb_cur_t w;
    gslb_cur_init(&w, buf, cap);
    gslb_cur_put_u8(&w, GSLB_GOSSIP_VERSION);
    gslb_cur_put_u8(&w, m->type);
    gslb_cur_put_be16(&w, 0);
    gslb_cur_put_be64(&w, m->seq);
    gslb_cur_put_be64(&w, (uint64_t)m->timestamp_ms);
    w_str(&w, m->agent_id, STR_LEN8, GSLB_LABEL_MAX - 1);
    w_str(&w, m->region, STR_LEN8, GSLB_LABEL_MAX - 1);
    w_str(&w, m->token_name, STR_LEN8, GSLB_LABEL_MAX - 1);
    w_str(&w, m->token, STR_LEN16, GSLB_GOSSIP_TOKEN_MAX - 1);
    gslb_cur_put_be16(&w, m->backend_count);
    for (size_t i = 0; i < m->backend_count; i++)
        encode_backend(&w, &m->backends[i]);
    if (w.err)
        return GSLB_ERANGE;
    return (int)w.pos;
}

static bool decode_backend(gslb_cur_t *r, gslb_gossip_backend_t *b)
{
    memset(b, 0, sizeof(*b));
    r_str(r, STR_LEN8, b->service, sizeof(b->service), false, STR_LABEL);
    uint8_t fam = gslb_cur_get_u8(r);
    const uint8_t *a = NULL;
    if (fam == GOSSIP_ADDR_V4) {
        b->addr.family = AF_INET;
        a = gslb_cur_take(r, 4);
        if (a)
            memcpy(b->addr.bytes, a, 4);
    } else if (fam == GOSSIP_ADDR_V6) {
        b->addr.family = AF_INET6;
        a = gslb_cur_take(r, 16);
        if (a)
            memcpy(b->addr.bytes, a, 16);
    } else {
        gslb_cur_fail(r, GSLB_ECORRUPT);
    }
    b->port = gslb_cur_get_be16(r);
    b->weight = gslb_cur_get_be32(r);
    b->health = gslb_cur_get_u8(r);
    b->latency_us = gslb_cur_get_be32(r);
    return !r->err && b->port != 0 && b->health <= GSLB_UNHEALTHY;
}

int gslb_gossip_decode(const uint8_t *buf, size_t len, gslb_gossip_msg_t *m, size_t cap)
{
    if (!buf || !m)
        return GSLB_EINVAL;
    gslb_gossip_backend_t *backends = m->backends;
    memset(m, 0, sizeof(*m));
    m->backends = backends;
    if (len < GSLB_GOSSIP_MIN_PLAINTEXT)
        return GSLB_ECORRUPT;
    gslb_cur_t r;
    gslb_cur_init_ro(&r, buf, len);
    m->version = gslb_cur_get_u8(&r);
    if (m->version != GSLB_GOSSIP_VERSION)
        return GSLB_EVERSION;
    m->type = gslb_cur_get_u8(&r);
    uint16_t flags = gslb_cur_get_be16(&r);
    if (flags != 0 || (m->type != GSLB_GOSSIP_HEARTBEAT && m->type != GSLB_GOSSIP_GOODBYE))
        return GSLB_ECORRUPT;
    m->seq = gslb_cur_get_be64(&r);
    m->timestamp_ms = (int64_t)gslb_cur_get_be64(&r);
    r_str(&r, STR_LEN8, m->agent_id, sizeof(m->agent_id), false, STR_LABEL);
    r_str(&r, STR_LEN8, m->region, sizeof(m->region), true, STR_LABEL);
    r_str(&r, STR_LEN8, m->token_name, sizeof(m->token_name), true, STR_LABEL);
    r_str(&r, STR_LEN16, m->token, sizeof(m->token), true, STR_TOKEN);
    size_t count = (size_t)gslb_cur_get_be16(&r);
    if (r.err || count > GSLB_GOSSIP_MAX_BACKENDS || count > cap || (count && !backends))
        return GSLB_ECORRUPT;
    for (size_t i = 0; i < count; i++) {
        if (!decode_backend(&r, &backends[i]))
            return GSLB_ECORRUPT;
    }
    if (r.err || r.pos != len)
        return GSLB_ECORRUPT;
    m->backend_count = (uint16_t)count;
    return GSLB_OK;
}

/* ---- AES-GCM -------------------------------------------------------------- */

static const EVP_CIPHER *cipher_for(size_t key_len)
{
    switch (key_len) {
    case 16:
        return EVP_aes_128_gcm();
    case 24:
        return EVP_aes_192_gcm();
    case 32:
        return EVP_aes_256_gcm();
    default:
        return NULL;
    }
}

int gslb_gossip_aead_init(gslb_gossip_aead_t *a, const uint8_t *key, size_t key_len,
                          gslb_errbuf_t *eb)
{
    memset(a, 0, sizeof(*a));
    const EVP_CIPHER *c = cipher_for(key_len);
    if (!c || !key)
        return gslb_errf(eb, GSLB_EINVAL, "gossip key must be 16, 24 or 32 bytes, got %zu",
                         key_len);
    EVP_CIPHER_CTX *enc = EVP_CIPHER_CTX_new();
    EVP_CIPHER_CTX *dec = EVP_CIPHER_CTX_new();
    if (!enc || !dec || EVP_EncryptInit_ex(enc, c, NULL, key, NULL) != 1 ||
        EVP_DecryptInit_ex(dec, c, NULL, key, NULL) != 1) {
        EVP_CIPHER_CTX_free(enc);
        EVP_CIPHER_CTX_free(dec);
        return gslb_errf(eb, GSLB_ECRYPTO, "cannot set up AES-GCM");
    }
    a->enc = enc;
    a->dec = dec;
    a->key_len = key_len;
    return GSLB_OK;
}

void gslb_gossip_aead_free(gslb_gossip_aead_t *a)
{
    if (!a)
        return;
    EVP_CIPHER_CTX_free(a->enc);
    EVP_CIPHER_CTX_free(a->dec);
    memset(a, 0, sizeof(*a));
}

static void write_header(uint8_t *hdr)
{
    hdr[0] = GOSSIP_MAGIC[0];
    hdr[1] = GOSSIP_MAGIC[1];
    hdr[2] = GSLB_GOSSIP_VERSION;
    hdr[3] = 0;
}

int gslb_gossip_seal(gslb_gossip_aead_t *a, const uint8_t *pt, size_t pt_len, uint8_t *out,
                     size_t cap)
{
    if (!a || !a->enc || !pt || !out)
        return GSLB_EINVAL;
    size_t total = pt_len + GSLB_GOSSIP_OVERHEAD;
    if (pt_len > GSLB_GOSSIP_MSG_MAX - GSLB_GOSSIP_OVERHEAD || total > cap)
        return GSLB_ERANGE;
    uint8_t *hdr = out, *nonce = out + GSLB_GOSSIP_HDR_LEN;
    uint8_t *ct = nonce + GSLB_GOSSIP_NONCE_LEN, *tag = ct + pt_len;
    write_header(hdr);
    if (RAND_bytes(nonce, GSLB_GOSSIP_NONCE_LEN) != 1)
        return GSLB_ECRYPTO;
    EVP_CIPHER_CTX *c = a->enc;
    int n = 0, fin = 0;
    if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
        EVP_EncryptUpdate(c, NULL, &n, hdr, GSLB_GOSSIP_HDR_LEN) != 1 ||
        EVP_EncryptUpdate(c, ct, &n, pt, (int)pt_len) != 1 ||
        EVP_EncryptFinal_ex(c, ct + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GSLB_GOSSIP_TAG_LEN, tag) != 1)
        return GSLB_ECRYPTO;
    return (int)total;
}

static int open_fail(enum gslb_gossip_result *why, enum gslb_gossip_result r)
{
    if (why)
        *why = r;
    return -1;
}

int gslb_gossip_open(gslb_gossip_aead_t *a, const uint8_t *in, size_t len, uint8_t *pt, size_t cap,
                     enum gslb_gossip_result *why)
{
    if (!in || len < GSLB_GOSSIP_OVERHEAD + GSLB_GOSSIP_MIN_PLAINTEXT || len > GSLB_GOSSIP_MSG_MAX)
        return open_fail(why, GSLB_GOSSIP_BAD_LENGTH);
    if (in[0] != GOSSIP_MAGIC[0] || in[1] != GOSSIP_MAGIC[1] || in[2] != GSLB_GOSSIP_VERSION ||
        in[3] != 0)
        return open_fail(why, GSLB_GOSSIP_BAD_VERSION);
    size_t ct_len = len - GSLB_GOSSIP_OVERHEAD;
    if (!a || !a->dec || !pt || cap < ct_len)
        return open_fail(why, GSLB_GOSSIP_BAD_LENGTH);
    const uint8_t *nonce = in + GSLB_GOSSIP_HDR_LEN;
    const uint8_t *ct = nonce + GSLB_GOSSIP_NONCE_LEN, *tag = ct + ct_len;
    EVP_CIPHER_CTX *c = a->dec;
    int n = 0, fin = 0;
    uint8_t tagbuf[GSLB_GOSSIP_TAG_LEN];
    memcpy(tagbuf, tag, sizeof(tagbuf));
    if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
        EVP_DecryptUpdate(c, NULL, &n, in, GSLB_GOSSIP_HDR_LEN) != 1 ||
        EVP_DecryptUpdate(c, pt, &n, ct, (int)ct_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GSLB_GOSSIP_TAG_LEN, tagbuf) != 1 ||
        EVP_DecryptFinal_ex(c, pt + n, &fin) != 1) {
        memset(pt, 0, ct_len);
        return open_fail(why, GSLB_GOSSIP_DECRYPT_FAILED);
    }
    if (why)
        *why = GSLB_GOSSIP_ACCEPTED;
    return (int)ct_len;
}

int gslb_gossip_build(gslb_gossip_aead_t *a, const gslb_gossip_msg_t *m, uint8_t *scratch,
                      size_t scratch_cap, uint8_t *out, size_t cap)
{
    int n = gslb_gossip_encode(m, scratch, scratch_cap);
    if (n < 0)
        return n;
    int sealed = gslb_gossip_seal(a, scratch, (size_t)n, out, cap);
    OPENSSL_cleanse(scratch, (size_t)n); /* the plaintext holds the token */
    return sealed;
}
