#include "CTLSCipherList.h"

#include <stdint.h>

// BoringSSL as swift-nio-ssl links it into every tandem binary, under its CNIOBoringSSL_
// prefix. swift-nio-ssl does not export the module (it is not a library product), so the four
// functions used here are declared by hand, with opaque pointers. A renamed symbol fails the
// link, never a run.
extern const void *CNIOBoringSSL_TLS_method(void);
extern void *CNIOBoringSSL_SSL_CTX_new(const void *method);
extern int CNIOBoringSSL_SSL_CTX_set_cipher_list(void *ctx, const char *list);
extern void CNIOBoringSSL_SSL_CTX_free(void *ctx);
extern void CNIOBoringSSL_ERR_clear_error(void);

int ctls_cipher_list_is_valid(const char *list) {
    void *ctx = CNIOBoringSSL_SSL_CTX_new(CNIOBoringSSL_TLS_method());
    if (ctx == 0) return 0;
    int ok = CNIOBoringSSL_SSL_CTX_set_cipher_list(ctx, list);
    CNIOBoringSSL_SSL_CTX_free(ctx);
    // Leave no error on this thread's queue for the next BoringSSL call to find.
    CNIOBoringSSL_ERR_clear_error();
    return ok == 1;
}
