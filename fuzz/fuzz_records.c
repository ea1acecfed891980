/*
 * fuzz_records.c - every stored-value decoder of records.h and the answers
 * value checker get the same input; none may crash or read out of bounds.
 * A value that decodes must re-encode to the same bytes (the encodings are
 * canonical), and a checked answers value must be walkable within its size.
 * Seeds: real encoded records and answers values (fuzz/corpus/records/,
 * written by test_records/test_answers with GSLB_WRITE_CORPUS set).
 */
#include "answers.h"
#include "cursor.h"
#include "records.h"

#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DECODE_REENCODE(kind, type)                                                                \
    do {                                                                                           \
        type rec;                                                                                  \
        if (gslb_##kind##_decode(data, size, &rec) == 0) {                                         \
            uint8_t again[GSLB_REC_MAX];                                                           \
            int n = gslb_##kind##_encode(&rec, again, sizeof(again));                              \
            if (n != (int)size || memcmp(again, data, size) != 0)                                  \
                abort();                                                                           \
        }                                                                                          \
    } while (0)

/* Touches every byte a reader would touch, so ASan sees any overrun. */
static unsigned walk_answer(const uint8_t *data, size_t size, int kind)
{
    unsigned sum = 0;
    if (kind == GSLB_ANS_KIND_STATIC) {
        gslb_ans_static_t h;
        memcpy(&h, data, sizeof(h));
        const uint8_t *p = data + sizeof(h);
        for (unsigned i = 0; i < le16toh(h.count); i++) {
            uint16_t len = gslb_get_le16(p);
            for (unsigned j = 0; j < len; j++)
                sum += p[2 + j];
            p += 2 + len;
        }
        if (p != data + size)
            abort();
    } else if (kind == GSLB_ANS_KIND_GSLB) {
        const gslb_ans_set_t *set = (const void *)data;
        gslb_ans_set_t h;
        memcpy(&h, data, sizeof(h));
        const gslb_ans_cand_t *c = gslb_ans_cands(set);
        for (unsigned i = 0; i < le16toh(h.count); i++) {
            gslb_ans_cand_t cand;
            memcpy(&cand, &c[i], sizeof(cand));
            sum += cand.flags;
        }
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    DECODE_REENCODE(meta, gslb_meta_rec_t);
    DECODE_REENCODE(zone, gslb_zone_rec_t);
    DECODE_REENCODE(domain, gslb_domain_rec_t);
    DECODE_REENCODE(backend, gslb_backend_rec_t);
    DECODE_REENCODE(agent, gslb_agent_rec_t);
    DECODE_REENCODE(dnskey, gslb_dnskey_rec_t);
    DECODE_REENCODE(override, gslb_override_rec_t);
    DECODE_REENCODE(audit, gslb_audit_rec_t);

    int kind = gslb_ans_check(data, size);
    if (kind > 0)
        walk_answer(data, size, kind);

    /* the input as a wire name: key building and text conversion */
    uint8_t key[300];
    char text[300];
    if (gslb_ans_key(data, size, 1, key, sizeof(key)) > 0 &&
        gslb_ans_wire_to_text(data, size, text, sizeof(text)) < 0)
        abort();
    return 0;
}
