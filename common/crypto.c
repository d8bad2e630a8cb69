/*
 * crypto.c: SHA-256 and randomness through OpenSSL 3.
 */
#include "crypto.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

sp_status sp_sha256(uint8_t out[static SP_SHA256_LEN], const uint8_t *p1, size_t len1,
                    const uint8_t *p2, size_t len2)
{
    sp_status st = SP_ERR_INTERNAL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    if (ctx == NULL)
        return SP_ERR_NOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    if (len1 > 0 && EVP_DigestUpdate(ctx, p1, len1) != 1)
        goto out;
    if (len2 > 0 && EVP_DigestUpdate(ctx, p2, len2) != 1)
        goto out;
    if (EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != SP_SHA256_LEN)
        goto out;
    st = SP_OK;
out:
    EVP_MD_CTX_free(ctx);
    return st;
}

sp_status sp_random(uint8_t *out, size_t n)
{
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(out, chunk) != 1)
            return SP_ERR_INTERNAL;
        out += chunk;
        n -= (size_t)chunk;
    }
    return SP_OK;
}

sp_status sp_proof_message(struct buf *out, const char *domain, const uint8_t *payload,
                           size_t len)
{
    sp_status st;
    TRY(buf_append(out, (const uint8_t *)domain, strlen(domain)));
    TRY(buf_append_u8(out, 0));
    TRY(buf_append(out, payload, len));
out:
    return st;
}
