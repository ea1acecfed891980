/*
 * gslb_err.h - error codes shared by every OpenGSLB module.
 *
 * Contract: functions return 0 (GSLB_OK) on success or a negative GSLB_E* code.
 * gslb_strerror() maps any code (including unknown ones) to a static string; it
 * never returns NULL. Modules that have more to say fill a caller-provided
 * gslb_errbuf_t with a human message ("file:line:col: key: problem").
 */
#pragma once

#include <stddef.h>

enum gslb_err {
    GSLB_OK = 0,
    GSLB_ENOMEM = -1,   /* allocation failed */
    GSLB_EINVAL = -2,   /* invalid argument or input */
    GSLB_ENOENT = -3,   /* not found */
    GSLB_EEXIST = -4,   /* already exists */
    GSLB_EMAPFULL = -5, /* LMDB map is full: raise storage.map_size */
    GSLB_ECORRUPT = -6, /* stored or received value is malformed/truncated */
    GSLB_EVERSION = -7, /* unknown/newer version of a record or schema */
    GSLB_EIO = -8,      /* I/O or OS error (see errno in message) */
    GSLB_ESTORE = -9,   /* other LMDB error */
    GSLB_ECONFIG = -10, /* configuration error */
    GSLB_ERANGE = -11,  /* value out of range / buffer too small */
    GSLB_EAUTH = -12,   /* authentication failed */
    GSLB_EAGAIN = -13,  /* try again (transient) */
    GSLB_EBUSY = -14,   /* resource busy (e.g. readers full) */
    GSLB_ECRYPTO = -15, /* crypto library failure */
    GSLB_ENOTSUP = -16, /* not supported */
    GSLB_ENOSPC = -17,  /* no space left on the device holding the store */
};

/** Static, human-readable text for an error code. Never NULL. */
const char *gslb_strerror(int code);

/** A fixed buffer for detailed error messages. */
typedef struct gslb_errbuf {
    char msg[512];
} gslb_errbuf_t;

/** printf-style fill of an error buffer (NULL eb is allowed and ignored). Returns code. */
int gslb_errf(gslb_errbuf_t *eb, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
