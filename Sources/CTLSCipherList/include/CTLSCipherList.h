#ifndef CTLSCIPHERLIST_H
#define CTLSCIPHERLIST_H

#include <stddef.h>
#include <stdint.h>

/// Whether BoringSSL accepts `list` as a TLSv1.2 cipher list (OpenSSL's format), as
/// SSL_CTX_set_cipher_list decides it: 1 yes, 0 no. swift-nio-ssl passes `tls-ciphers` to that
/// function under a precondition, so a list it refuses must be caught before a context is made.
int ctls_cipher_list_is_valid(const char *list);

/// The settings of Redis 7.0's tlsConfigure that swift-nio-ssl has no field for, applied to the
/// `SSL_CTX` of a `NIOSSLContext` (reached by the caller) before any connection uses it.
/// Each returns 1 when BoringSSL took the setting, 0 when it refused it.

/// `tls-ciphersuites` (and the order TLSv1.3 suites are chosen in): `ids` are the suites'
/// protocol numbers (0x1301…), in preference order; `client_order` 1 makes them one group of
/// equal preference, so a server follows the client's order among them (OpenSSL's behaviour
/// without SSL_OP_CIPHER_SERVER_PREFERENCE), 0 makes a server follow this order.
int ctls_set_tls13_ciphers(void *ctx, const uint16_t *ids, size_t count, int client_order);

/// `tls-prefer-server-ciphers yes`: SSL_OP_CIPHER_SERVER_PREFERENCE.
int ctls_prefer_server_ciphers(void *ctx);

/// `tls-session-caching yes` as tlsConfigure applies it: the server-side cache with `size`
/// entries, sessions (and TLSv1.3 tickets) valid for `timeout` seconds, session id context "redis".
int ctls_session_caching_on(void *ctx, unsigned long size, uint32_t timeout);

/// `tls-session-caching no`: SSL_SESS_CACHE_OFF; with `no_tickets` 1 also SSL_OP_NO_TICKET
/// (no TLSv1.2 ticket, no TLSv1.3 ticket sent).
int ctls_session_caching_off(void *ctx, int no_tickets);

#endif
