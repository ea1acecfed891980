/*
 * gossip_services.h - starts and stops the agent-facing services of an
 * overwatch in the right order: the gossip receiver (gossip_rx.h), the
 * sweeper (sweeper.h) and the validator (validator.h).
 *
 * Contract:
 *  - gslb_runtime_start_gossip() starts the receiver only when
 *    overwatch.gossip.encryption_key is set (otherwise no message could be
 *    opened; a warning says so); the sweeper always runs (stored agents still
 *    age); the validator runs when overwatch.validation.enabled. Handles go to
 *    rt->gossip, rt->sweeper and rt->validator. An error (e.g. the gossip port
 *    is taken) stops whatever was started and is returned with a message.
 *  - gslb_runtime_stop_gossip() stops them in reverse order; the receiver
 *    applies what is pending first. Call it before the store closes.
 */
#pragma once

#include "gslb_err.h"
#include "runtime.h"

int gslb_runtime_start_gossip(gslb_runtime_t *rt, gslb_errbuf_t *eb);
void gslb_runtime_stop_gossip(gslb_runtime_t *rt);
