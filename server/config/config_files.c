/*
 * config_files.c - gslb_config_check_files(): the files a configuration names,
 * checked the way start will use them, as the user the process runs as.
 *
 * `gslb-overwatch --check-config` (the unit's ExecStartPre) and the start itself
 * (before the store opens and DNS binds) run these checks, so a TLS key the
 * service user cannot read stops the node before it serves anything, with the
 * position of the key in the file. Files are opened (open(2) and the effective
 * uid, as the server will), not probed with access(2).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "file:line:col: key: problem", or "file: key: problem" for a key not in the file. */
static int file_error(const gslb_config_t *cfg, gslb_cfg_pos_t at, const char *key,
                      gslb_errbuf_t *eb, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int file_error(const gslb_config_t *cfg, gslb_cfg_pos_t at, const char *key,
                      gslb_errbuf_t *eb, const char *fmt, ...)
{
    char problem[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof(problem), fmt, ap);
    va_end(ap);
    if (at.line)
        return gslb_errf(eb, GSLB_ECONFIG, "%s:%u:%u: %s: %s", cfg->source, at.line, at.col, key,
                         problem);
    return gslb_errf(eb, GSLB_ECONFIG, "%s: %s: %s", cfg->source, key, problem);
}

/* The first OpenSSL error queued, as text ("" when none); clears the queue. */
static const char *openssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_error();
    buf[0] = '\0';
    if (e)
        ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
    return buf;
}

/* A regular file the effective user can open for reading, as a stdio stream. */
static FILE *open_readable(const gslb_config_t *cfg, gslb_cfg_pos_t at, const char *key,
                           const char *path, gslb_errbuf_t *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        file_error(cfg, at, key, eb, "cannot open \"%.256s\" as uid %u: %s%s", path,
                   (unsigned)geteuid(), strerror(err),
                   err == EACCES ? " (give the service user read access, e.g. chgrp opengslb "
                                   "and chmod 0640)"
                                 : "");
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        file_error(cfg, at, key, eb, "\"%.256s\" is not a regular file", path);
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        file_error(cfg, at, key, eb, "cannot read \"%.256s\": %s", path, strerror(errno));
    }
    return f;
}

static X509 *read_cert(const gslb_config_t *cfg, gslb_cfg_pos_t at, const char *key,
                       const char *path, gslb_errbuf_t *eb)
{
    FILE *f = open_readable(cfg, at, key, path, eb);
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    char why[256];
    if (!x)
        file_error(cfg, at, key, eb, "\"%.256s\" holds no PEM certificate (%s)", path,
                   openssl_reason(why, sizeof(why)));
    return x;
}

static EVP_PKEY *read_key(const gslb_config_t *cfg, gslb_cfg_pos_t at, const char *key,
                          const char *path, gslb_errbuf_t *eb)
{
    FILE *f = open_readable(cfg, at, key, path, eb);
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    char why[256];
    if (!k)
        file_error(cfg, at, key, eb, "\"%.256s\" holds no unencrypted PEM private key (%s)", path,
                   openssl_reason(why, sizeof(why)));
    return k;
}

/* What the API's TLS set-up will do with the pair (api/http.c init_ssl): load the chain
 * and the key into a TLS 1.2+ server context. Catches what parses but TLS refuses (a key
 * too small for OpenSSL's security level, a broken chain). */
static int check_tls_context(const gslb_config_t *cfg, gslb_errbuf_t *eb)
{
    const gslb_cfg_restart_t *r = &cfg->restart;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    char why[256];
    int rc = 0;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, r->tls_cert) != 1)
        rc = file_error(cfg, cfg->at.tls_cert, "api.tls_cert", eb, "TLS cannot use \"%.256s\" (%s)",
                        r->tls_cert, openssl_reason(why, sizeof(why)));
    else if (SSL_CTX_use_PrivateKey_file(ctx, r->tls_key, SSL_FILETYPE_PEM) != 1 ||
             SSL_CTX_check_private_key(ctx) != 1)
        rc = file_error(cfg, cfg->at.tls_key, "api.tls_key", eb, "TLS cannot use \"%.256s\" (%s)",
                        r->tls_key, openssl_reason(why, sizeof(why)));
    SSL_CTX_free(ctx);
    return rc;
}

/* api.tls_cert / api.tls_key: both readable, both parse, the key is the certificate's, and
 * TLS accepts them. */
static int check_api_tls(const gslb_config_t *cfg, gslb_errbuf_t *eb)
{
    const gslb_cfg_restart_t *r = &cfg->restart;
    if (!r->api_enabled || !r->tls_cert[0])
        return 0;
    X509 *cert = read_cert(cfg, cfg->at.tls_cert, "api.tls_cert", r->tls_cert, eb);
    if (!cert)
        return GSLB_ECONFIG;
    EVP_PKEY *key = read_key(cfg, cfg->at.tls_key, "api.tls_key", r->tls_key, eb);
    int rc = key ? 0 : GSLB_ECONFIG;
    char why[256];
    if (key && X509_check_private_key(cert, key) != 1)
        rc = file_error(cfg, cfg->at.tls_key, "api.tls_key", eb,
                        "\"%.256s\" is not the private key of api.tls_cert \"%.256s\" (%s)",
                        r->tls_key, r->tls_cert, openssl_reason(why, sizeof(why)));
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc == 0 ? check_tls_context(cfg, eb) : rc;
}

static int check_ca_file(const gslb_config_t *cfg, gslb_errbuf_t *eb)
{
    if (!cfg->key_sync_ca_file[0])
        return 0;
    X509 *x = read_cert(cfg, cfg->at.ca_file, "overwatch.dnssec.key_sync.ca_file",
                        cfg->key_sync_ca_file, eb);
    X509_free(x);
    return x ? 0 : GSLB_ECONFIG;
}

/* overwatch.data_dir: a directory the user can write, or one it can create (its
 * parent exists and is writable: the store creates only the last component). */
static int check_data_dir(const gslb_config_t *cfg, gslb_errbuf_t *eb)
{
    const char *dir = cfg->restart.data_dir;
    const char *key = "overwatch.data_dir";
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return file_error(cfg, cfg->at.data_dir, key, eb, "\"%.256s\" is not a directory", dir);
        if (faccessat(AT_FDCWD, dir, R_OK | W_OK | X_OK, AT_EACCESS) != 0)
            return file_error(cfg, cfg->at.data_dir, key, eb,
                              "\"%.256s\" is not writable by uid %u: %s", dir, (unsigned)geteuid(),
                              strerror(errno));
        return 0;
    }
    if (errno != ENOENT)
        return file_error(cfg, cfg->at.data_dir, key, eb, "cannot use \"%.256s\": %s", dir,
                          strerror(errno));
    char parent[sizeof(cfg->restart.data_dir)];
    snprintf(parent, sizeof(parent), "%s", dir);
    const char *up = dirname(parent);
    if (faccessat(AT_FDCWD, up, W_OK | X_OK, AT_EACCESS) != 0)
        return file_error(cfg, cfg->at.data_dir, key, eb,
                          "\"%.256s\" does not exist and cannot be created in \"%.256s\": %s", dir,
                          up, strerror(errno));
    return 0;
}

int gslb_config_check_files(const gslb_config_t *cfg, gslb_errbuf_t *eb)
{
    int rc = check_api_tls(cfg, eb);
    if (rc == 0)
        rc = check_ca_file(cfg, eb);
    if (rc == 0)
        rc = check_data_dir(cfg, eb);
    return rc;
}
