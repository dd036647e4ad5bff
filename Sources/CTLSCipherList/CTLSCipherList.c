#include "CTLSCipherList.h"

// BoringSSL as swift-nio-ssl links it into every tandem binary, under its CNIOBoringSSL_
// prefix. swift-nio-ssl does not export the module (it is not a library product), so the
// functions used here are declared by hand, with opaque pointers, as
// CNIOBoringSSL/include/CNIOBoringSSL_ssl.h (swift-nio-ssl 2.37.6) declares them. A renamed
// symbol fails the link, never a run. The constants are that header's.
extern const void *CNIOBoringSSL_TLS_method(void);
extern void *CNIOBoringSSL_SSL_CTX_new(const void *method);
extern int CNIOBoringSSL_SSL_CTX_set_cipher_list(void *ctx, const char *list);
extern void CNIOBoringSSL_SSL_CTX_free(void *ctx);
extern void CNIOBoringSSL_ERR_clear_error(void);
extern int CNIOBoringSSL_SSL_CTX_set1_tls13_ciphers(void *ctx, const uint16_t *cipher_ids, const uint32_t *flags,
                                                    size_t num_cipher_ids);
extern uint32_t CNIOBoringSSL_SSL_CTX_set_options(void *ctx, uint32_t options);
extern int CNIOBoringSSL_SSL_CTX_set_session_cache_mode(void *ctx, int mode);
extern unsigned long CNIOBoringSSL_SSL_CTX_sess_set_cache_size(void *ctx, unsigned long size);
extern uint32_t CNIOBoringSSL_SSL_CTX_set_timeout(void *ctx, uint32_t timeout);
extern void CNIOBoringSSL_SSL_CTX_set_session_psk_dhe_timeout(void *ctx, uint32_t timeout);
extern int CNIOBoringSSL_SSL_CTX_set_session_id_context(void *ctx, const uint8_t *sid_ctx, size_t sid_ctx_len);

#define CTLS_SSL_OP_NO_TICKET 0x00004000L
#define CTLS_SSL_OP_CIPHER_SERVER_PREFERENCE 0x00400000L
#define CTLS_SSL_SESS_CACHE_OFF 0x0000
#define CTLS_SSL_SESS_CACHE_SERVER 0x0002
#define CTLS_SSL_CIPHER_FLAG_EQUAL_PREFERENCE_WITH_NEXT 0x01

int ctls_cipher_list_is_valid(const char *list) {
    void *ctx = CNIOBoringSSL_SSL_CTX_new(CNIOBoringSSL_TLS_method());
    if (ctx == 0) return 0;
    int ok = CNIOBoringSSL_SSL_CTX_set_cipher_list(ctx, list);
    CNIOBoringSSL_SSL_CTX_free(ctx);
    // Leave no error on this thread's queue for the next BoringSSL call to find.
    CNIOBoringSSL_ERR_clear_error();
    return ok == 1;
}

int ctls_set_tls13_ciphers(void *ctx, const uint16_t *ids, size_t count, int client_order) {
    if (ctx == 0 || count == 0 || count > 8) return 0;
    uint32_t flags[8] = {0};
    if (client_order) {
        // Every suite of equal preference with the next; the last has no next.
        for (size_t i = 0; i + 1 < count; i++) flags[i] = CTLS_SSL_CIPHER_FLAG_EQUAL_PREFERENCE_WITH_NEXT;
    }
    int ok = CNIOBoringSSL_SSL_CTX_set1_tls13_ciphers(ctx, ids, flags, count);
    CNIOBoringSSL_ERR_clear_error();
    return ok == 1;
}

int ctls_prefer_server_ciphers(void *ctx) {
    if (ctx == 0) return 0;
    uint32_t options = CNIOBoringSSL_SSL_CTX_set_options(ctx, CTLS_SSL_OP_CIPHER_SERVER_PREFERENCE);
    return (options & CTLS_SSL_OP_CIPHER_SERVER_PREFERENCE) != 0;
}

int ctls_session_caching_on(void *ctx, unsigned long size, uint32_t timeout) {
    if (ctx == 0) return 0;
    CNIOBoringSSL_SSL_CTX_set_session_cache_mode(ctx, CTLS_SSL_SESS_CACHE_SERVER);
    CNIOBoringSSL_SSL_CTX_sess_set_cache_size(ctx, size);
    // OpenSSL's one timeout is the lifetime of TLSv1.2 sessions and of TLSv1.3 tickets alike;
    // BoringSSL has one for each.
    CNIOBoringSSL_SSL_CTX_set_timeout(ctx, timeout);
    CNIOBoringSSL_SSL_CTX_set_session_psk_dhe_timeout(ctx, timeout);
    int ok = CNIOBoringSSL_SSL_CTX_set_session_id_context(ctx, (const uint8_t *)"redis", 5);
    CNIOBoringSSL_ERR_clear_error();
    return ok == 1;
}

int ctls_session_caching_off(void *ctx, int no_tickets) {
    if (ctx == 0) return 0;
    CNIOBoringSSL_SSL_CTX_set_session_cache_mode(ctx, CTLS_SSL_SESS_CACHE_OFF);
    if (no_tickets) {
        uint32_t options = CNIOBoringSSL_SSL_CTX_set_options(ctx, CTLS_SSL_OP_NO_TICKET);
        return (options & CTLS_SSL_OP_NO_TICKET) != 0;
    }
    return 1;
}
