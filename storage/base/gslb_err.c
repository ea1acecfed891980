#include "gslb_err.h"

#include <stdarg.h>
#include <stdio.h>

const char *gslb_strerror(int code)
{
    switch (code) {
    case GSLB_OK:
        return "success";
    case GSLB_ENOMEM:
        return "out of memory";
    case GSLB_EINVAL:
        return "invalid argument";
    case GSLB_ENOENT:
        return "not found";
    case GSLB_EEXIST:
        return "already exists";
    case GSLB_EMAPFULL:
        return "storage map full (raise storage.map_size and restart)";
    case GSLB_ECORRUPT:
        return "malformed or truncated data";
    case GSLB_EVERSION:
        return "unsupported version";
    case GSLB_EIO:
        return "I/O error";
    case GSLB_ESTORE:
        return "storage error";
    case GSLB_ECONFIG:
        return "configuration error";
    case GSLB_ERANGE:
        return "value out of range";
    case GSLB_EAUTH:
        return "authentication failed";
    case GSLB_EAGAIN:
        return "temporarily unavailable";
    case GSLB_EBUSY:
        return "resource busy";
    case GSLB_ECRYPTO:
        return "cryptographic failure";
    case GSLB_ENOTSUP:
        return "not supported";
    case GSLB_ENOSPC:
        return "no space left on device";
    default:
        return "unknown error";
    }
}

int gslb_errf(gslb_errbuf_t *eb, int code, const char *fmt, ...)
{
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}
