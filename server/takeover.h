/*
 * takeover.h - a new gslb-overwatch takes the ports of a running one
 * (--takeover: binary upgrades without a lost query). docs/operations.md,
 * "Upgrade without losing queries".
 *
 * Contract:
 *  - Every overwatch writes its PID to <data_dir>/overwatch.pid once its DNS
 *    workers serve (gslb_pidfile_write: a temporary file renamed over it), and
 *    removes the file at exit only while it still names this process
 *    (gslb_pidfile_remove), so a successor's file survives its predecessor.
 *  - gslb_takeover_find() returns the PID in that file when it names another
 *    live process called gslb-overwatch (/proc/PID/comm), else 0: a stale file
 *    or a recycled PID is never signalled.
 *  - The protocol: the new process binds the DNS port beside the old one
 *    (SO_REUSEPORT), starts its workers, writes the pid file, then sends the
 *    old one GSLB_TAKEOVER_SIGNAL. The old one hands DNS over
 *    (gslb_dns_hand_over: stop reading, drain its queues, close), then stops
 *    its other services, which releases the gossip and API ports; the new one
 *    retries binding those every GSLB_TAKEOVER_RETRY_MS for at most
 *    GSLB_TAKEOVER_WAIT_MS (gslb_takeover_bind_busy tells a port in use apart
 *    from other start errors).
 */
#pragma once

#include "gslb_err.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#define GSLB_PIDFILE_NAME "overwatch.pid"
#define GSLB_TAKEOVER_SIGNAL SIGUSR2
#define GSLB_TAKEOVER_WAIT_MS 15000
#define GSLB_TAKEOVER_RETRY_MS 10

/** Write this process's PID to <data_dir>/overwatch.pid. */
int gslb_pidfile_write(const char *data_dir, gslb_errbuf_t *eb);
/** Remove <data_dir>/overwatch.pid if it names this process. */
void gslb_pidfile_remove(const char *data_dir);
/** The live gslb-overwatch of data_dir other than this process, or 0. */
pid_t gslb_takeover_find(const char *data_dir);
/** Whether a start error is a port held by someone else (worth a retry). */
bool gslb_takeover_bind_busy(int rc, const gslb_errbuf_t *eb);
