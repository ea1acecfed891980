/*
 * fuzz_config.c - libFuzzer target: gslb_config_load_string() on arbitrary
 * bytes must never crash or leak; a loaded config is freed again.
 * The seed guide's variables are set so the seed corpus loads successfully.
 */
#include "config.h"
#include "gslb_log.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    setenv("WEBAPP_TOKEN", "fuzz-webapp-token", 1);
    setenv("API_TOKEN", "fuzz-api-token", 1);
    setenv("GOSSIP_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
    gslb_log_set_level(GSLB_LOG_ERROR);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    gslb_config_t cfg;
    gslb_errbuf_t eb;
    if (gslb_config_load_string("fuzz.yaml", text, &cfg, &eb) == 0)
        gslb_config_free(&cfg);
    free(text);
    return 0;
}
