#ifndef CTLSCIPHERLIST_H
#define CTLSCIPHERLIST_H

/// Whether BoringSSL accepts `list` as a TLSv1.2 cipher list (OpenSSL's format), as
/// SSL_CTX_set_cipher_list decides it: 1 yes, 0 no. swift-nio-ssl passes `tls-ciphers` to that
/// function under a precondition, so a list it refuses must be caught before a context is made.
int ctls_cipher_list_is_valid(const char *list);

#endif
