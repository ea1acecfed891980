/*
 * fuzz_gossip.c - libFuzzer target for the gossip format (agentd/gossip_wire.h):
 *  1. the input as a sealed datagram: gslb_gossip_open() + decode (the corpus
 *     holds datagrams sealed with the key below, so mutations reach the tag
 *     check and, for intact ones, the decoder);
 *  2. the input as a plaintext: decode directly (the path an authenticated
 *     but hostile agent reaches);
 *  3. seal the input, open it again and decode: the round trip must give the
 *     input back byte for byte.
 * Nothing may crash, read out of bounds or leak.
 */
#include "gossip_wire.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t KEY[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static gslb_gossip_aead_t *aead(void)
{
    static gslb_gossip_aead_t a;
    static int ready;
    if (!ready) {
        if (gslb_gossip_aead_init(&a, KEY, sizeof(KEY), NULL) != 0)
            abort();
        ready = 1;
    }
    return &a;
}

static void decode_plaintext(const uint8_t *pt, size_t len)
{
    static gslb_gossip_backend_t backs[GSLB_GOSSIP_MAX_BACKENDS];
    gslb_gossip_msg_t m = {.backends = backs};
    if (gslb_gossip_decode(pt, len, &m, GSLB_GOSSIP_MAX_BACKENDS) == 0) {
        /* a decoded message encodes back to the same bytes */
        uint8_t *again = malloc(len ? len : 1);
        if (!again)
            return;
        int n = gslb_gossip_encode(&m, again, len);
        if (n != (int)len || memcmp(again, pt, len) != 0)
            abort();
        free(again);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > GSLB_GOSSIP_MSG_MAX)
        return 0;
    uint8_t *pt = malloc(size + 1);
    uint8_t *sealed = malloc(size + GSLB_GOSSIP_OVERHEAD);
    if (!pt || !sealed)
        abort();
    enum gslb_gossip_result why;
    int n = gslb_gossip_open(aead(), data, size, pt, size + 1, &why);
    if (n >= 0)
        decode_plaintext(pt, (size_t)n);
    decode_plaintext(data, size);
    int s = gslb_gossip_seal(aead(), data, size, sealed, size + GSLB_GOSSIP_OVERHEAD);
    if (s > 0) {
        n = gslb_gossip_open(aead(), sealed, (size_t)s, pt, size + 1, &why);
        if (size >= GSLB_GOSSIP_MIN_PLAINTEXT && (n != (int)size || memcmp(pt, data, size) != 0))
            abort();
    }
    free(pt);
    free(sealed);
    return 0;
}
