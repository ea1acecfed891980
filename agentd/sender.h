/*
 * sender.h - delivers sealed gossip messages to every overwatch (docs/agent.md).
 *
 * Contract:
 *  - One thread per overwatch node, so a slow, unresolvable or unreachable
 *    overwatch never delays the others. gslb_sender_publish() only copies the
 *    message into each node's one-slot mailbox (a newer message replaces an
 *    unsent older one: every message carries the full state) and never blocks
 *    on the network.
 *  - Messages up to GSLB_GOSSIP_UDP_MAX bytes go as one UDP datagram from a
 *    connected socket (so ICMP errors are seen); larger ones over TCP to the
 *    same port as a 4-byte big-endian length followed by the message.
 *  - Host names are resolved by the node's thread, again every
 *    GSLB_SENDER_RESOLVE_MS and after a send error.
 *  - Reachability changes of a node are logged once per change.
 */
#pragma once

#include "agent_config.h"
#include "gslb_err.h"

#include <stddef.h>
#include <stdint.h>

#define GSLB_SENDER_RESOLVE_MS 60000
#define GSLB_SENDER_TCP_TIMEOUT_MS 2000

typedef struct gslb_sender gslb_sender_t;

int gslb_sender_start(gslb_sender_t **out, const gslb_agent_node_cfg_t *nodes, size_t count,
                      gslb_errbuf_t *eb);
/** Queue msg for every node (copied). */
void gslb_sender_publish(gslb_sender_t *s, const uint8_t *msg, size_t len);
/** Wait until every node handled the last published message or timeout_ms
 *  passed. Returns how many nodes had not (0 = all done). */
size_t gslb_sender_flush(gslb_sender_t *s, int timeout_ms);
/** Stop and join every thread, free everything. */
void gslb_sender_stop(gslb_sender_t *s);

typedef struct gslb_sender_node_stats {
    uint64_t sent, failed;
    bool reachable;
} gslb_sender_node_stats_t;
void gslb_sender_stats(gslb_sender_t *s, size_t node, gslb_sender_node_stats_t *out);
