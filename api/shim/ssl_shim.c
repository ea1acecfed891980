/*
 * ssl_shim.c - the CivetWeb TLS shim (docs/install.md, "TLS shim").
 *
 * Debian 12's CivetWeb 1.15 dlopen()s "libssl.so" and looks up
 * SSL_get_peer_certificate, which OpenSSL 3 no longer exports (it became a
 * macro for SSL_get1_peer_certificate); the first TLS connection then calls a
 * null pointer (civetweb issue #1334). This library is named libssl.so (file
 * and SONAME), depends on the real libssl.so.3 for every other symbol, and
 * defines the missing function. gslb-overwatch carries a DT_RPATH to the
 * folder holding it, so CivetWeb's dlopen finds it first.
 */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

X509 *SSL_get_peer_certificate(const SSL *s);

/* Both return a new reference the caller frees: same semantics. */
X509 *SSL_get_peer_certificate(const SSL *s)
{
    return SSL_get1_peer_certificate(s);
}
