/*
 * fuzz_key_export.c - the DNSSEC key sync's parser of a peer's key export
 * (gslb_keysync_parse_export, server/keysync.c) followed by the import
 * validation of every parsed key (gslb_keys_validate): arbitrary bytes must be
 * accepted or rejected with a message, never crash or leak, and parsed keys
 * must respect the record bounds. The corpus keys are throwaway test keys.
 */
#include "keys.h"
#include "keysync.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gslb_dnskey_rec_t *keys = NULL;
    size_t n = 0;
    gslb_errbuf_t eb;
    eb.msg[0] = '\0';
    int rc = gslb_keysync_parse_export((const char *)data, size, &keys, &n, &eb);
    if (rc != GSLB_OK) {
        if (eb.msg[0] == '\0' || keys || n)
            abort(); /* every rejection explains itself and leaves nothing behind */
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const gslb_dnskey_rec_t *k = &keys[i];
        if (k->pub_len > GSLB_KEY_PUB_MAX || k->priv_len > GSLB_KEY_DER_MAX ||
            strnlen(k->zone, sizeof(k->zone)) >= sizeof(k->zone) ||
            strnlen(k->origin_node, sizeof(k->origin_node)) >= sizeof(k->origin_node) ||
            k->state > GSLB_KEY_RETIRED) /* the exported state, or RETIRED */
            abort();
        eb.msg[0] = '\0';
        if (gslb_keys_validate(k, &eb) != GSLB_OK && eb.msg[0] == '\0')
            abort();
    }
    if (keys)
        OPENSSL_cleanse(keys, n * sizeof(*keys));
    free(keys);
    return 0;
}
