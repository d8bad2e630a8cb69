/*
 * secmem.c: wipe through OpenSSL's cleanse (a barrier the optimiser respects)
 * and compare with CRYPTO_memcmp.
 */
#include "secmem.h"

#include <openssl/crypto.h>
#include <stdlib.h>

void sp_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

bool sp_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void sp_free_secret(void *p, size_t n)
{
    sp_wipe(p, n);
    free(p);
}
