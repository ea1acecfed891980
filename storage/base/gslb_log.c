#include "gslb_log.h"
#include "gslb_err.h"
#include "gslb_time.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int g_level = GSLB_LOG_INFO;
static _Atomic int g_format = GSLB_LOG_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void gslb_log_set_level(enum gslb_log_level level)
{
    g_level = level;
}

void gslb_log_set_format(enum gslb_log_format format)
{
    g_format = format;
}

enum gslb_log_level gslb_log_get_level(void)
{
    return (enum gslb_log_level)g_level;
}

int gslb_log_level_parse(const char *s, enum gslb_log_level *out)
{
    if (!strcasecmp(s, "warning")) {
        *out = GSLB_LOG_WARN;
        return GSLB_OK;
    }
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, level_names[i])) {
            *out = (enum gslb_log_level)i;
            return GSLB_OK;
        }
    }
    return GSLB_EINVAL;
}

int gslb_log_format_parse(const char *s, enum gslb_log_format *out)
{
    if (!strcasecmp(s, "text")) {
        *out = GSLB_LOG_TEXT;
    } else if (!strcasecmp(s, "json")) {
        *out = GSLB_LOG_JSON;
    } else {
        return GSLB_EINVAL;
    }
    return GSLB_OK;
}

static size_t format_timestamp(char *buf, size_t len)
{
    int64_t ms = gslb_wall_ms();
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
    return n;
}

/* Escape a message for a JSON string value. */
static size_t json_escape(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (; *src && o + 7 < cap; src++) {
        unsigned char c = (unsigned char)*src;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
    return o;
}

void gslb_log(enum gslb_log_level level, const char *fmt, ...)
{
    if ((int)level < g_level)
        return;
    char msg[2048], ts[40], line[4608];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    format_timestamp(ts, sizeof(ts));
    const char *lv = level_names[level < 0 || level > 3 ? 1 : level];
    int n;
    if (g_format == GSLB_LOG_JSON) {
        char esc[4096];
        json_escape(esc, sizeof(esc), msg);
        n = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts,
                     lv, esc);
    } else {
        n = snprintf(line, sizeof(line), "%s level=%s %s\n", ts, lv, msg);
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
