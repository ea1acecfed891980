/*
 * gslb_log.h - process-wide logging to stderr (systemd's journal picks it up).
 *
 * Contract: thread-safe (one write(2) per line); level and format are set once at
 * start or on reload. Text: "2026-11-27T08:00:00.123Z level=info module: message".
 * JSON: {"ts":"...","level":"info","msg":"..."} one object per line.
 * Never log private key material or tokens.
 */
#pragma once

enum gslb_log_level { GSLB_LOG_DEBUG = 0, GSLB_LOG_INFO, GSLB_LOG_WARN, GSLB_LOG_ERROR };
enum gslb_log_format { GSLB_LOG_TEXT = 0, GSLB_LOG_JSON };

void gslb_log_set_level(enum gslb_log_level level);
void gslb_log_set_format(enum gslb_log_format format);
enum gslb_log_level gslb_log_get_level(void);

/** Parse "debug|info|warn|warning|error"; returns 0 or GSLB_EINVAL. */
int gslb_log_level_parse(const char *s, enum gslb_log_level *out);
/** Parse "text|json"; returns 0 or GSLB_EINVAL. */
int gslb_log_format_parse(const char *s, enum gslb_log_format *out);

void gslb_log(enum gslb_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define gslb_debug(...) gslb_log(GSLB_LOG_DEBUG, __VA_ARGS__)
#define gslb_info(...) gslb_log(GSLB_LOG_INFO, __VA_ARGS__)
#define gslb_warn(...) gslb_log(GSLB_LOG_WARN, __VA_ARGS__)
#define gslb_error(...) gslb_log(GSLB_LOG_ERROR, __VA_ARGS__)
