/*
 * api_settings.h - the API's settings (api.h, gslb_api_settings_t) taken from
 * the overwatch configuration (config.h).
 *
 * Contract:
 *  - gslb_api_settings_from_config() copies the api.* and metrics.* listeners,
 *    the TLS files, node identity, allowed networks, the key_sync peers (the
 *    API admits their hosts), key_sync.allow_plaintext_export, the admin bearer
 *    token api.token ("" = mutating routes refused; never an agent token) and
 *    the cluster secret overwatch.dnssec.key_sync.token ("" = key export refused).
 *  - The lists (allowed_networks, peers) point into cfg: the settings are
 *    valid while cfg is, which covers gslb_api_start() and
 *    gslb_api_set_settings() (they copy what they keep).
 *  - The settings hold secrets (the tokens): gslb_api_settings_wipe() clears them.
 */
#pragma once

#include "api.h"
#include "config.h"

void gslb_api_settings_from_config(const gslb_config_t *cfg, gslb_api_settings_t *out);
void gslb_api_settings_wipe(gslb_api_settings_t *set);
