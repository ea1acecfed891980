/*
 * api_settings.h - the API's settings (api.h, gslb_api_settings_t) taken from
 * the overwatch configuration (config.h).
 *
 * Contract:
 *  - gslb_api_settings_from_config() copies the api.* and metrics.* listeners,
 *    the TLS files, node identity, allowed networks, the key_sync peers (the
 *    API admits their hosts), key_sync.allow_plaintext_export and the bearer
 *    token: api.token, else the agent token named "api", else "" (mutating
 *    routes refused).
 *  - The lists (allowed_networks, peers) point into cfg: the settings are
 *    valid while cfg is, which covers gslb_api_start() and
 *    gslb_api_set_settings() (they copy what they keep).
 *  - The settings hold a secret (the token): gslb_api_settings_wipe() clears it.
 */
#pragma once

#include "api.h"
#include "config.h"

void gslb_api_settings_from_config(const gslb_config_t *cfg, gslb_api_settings_t *out);
void gslb_api_settings_wipe(gslb_api_settings_t *set);
