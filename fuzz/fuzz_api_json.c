/*
 * fuzz_api_json.c - the override PUT body parser (api/override_body.c) on
 * arbitrary bytes: it must accept or reject with a message, never crash or
 * leak, and an accepted request must satisfy the documented invariants. Input
 * nested deeper than GSLB_JSON_MAX_DEPTH must be refused as such (the corpus
 * has deep_* seeds: 2000 and 60000 levels, objects, brackets in strings).
 */
#include "json_bounded.h"
#include "override_body.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gslb_override_req_t req;
    gslb_errbuf_t eb;
    eb.msg[0] = '\0';
    int rc = gslb_override_body_parse((const char *)data, size, &req, &eb);
    bool too_deep = size <= GSLB_API_BODY_MAX &&
                    gslb_json_depth_error((const char *)data, size, GSLB_JSON_MAX_DEPTH, NULL);
    if (too_deep && (rc == 0 || !strstr(eb.msg, "nested deeper")))
        abort(); /* the bound holds before jansson recurses */
    if (rc != 0) {
        if (eb.msg[0] == '\0')
            abort(); /* every rejection explains itself */
        return 0;
    }
    if (req.state < GSLB_OVERRIDE_UP || req.state > GSLB_OVERRIDE_DRAIN)
        abort();
    if (strnlen(req.reason, sizeof(req.reason)) >= sizeof(req.reason) ||
        strnlen(req.source, sizeof(req.source)) >= sizeof(req.source))
        abort();
    for (const char *p = req.reason; *p; p++) {
        if ((unsigned char)*p < 0x20)
            abort();
    }
    return 0;
}
