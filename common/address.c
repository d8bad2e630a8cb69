/*
 * address.c: address derivation and its text form (see address.h).
 */
#include "address.h"

#include <string.h>

#include "crypto.h"
#include "encoding.h"
#include "secmem.h"

sp_status sp_address_derive(uint8_t out[static SP_ADDRESS_LEN],
                            const uint8_t identity_key[static SP_PUBKEY_LEN])
{
    static const uint8_t domain[] = SP_DOMAIN_ADDRESS; /* includes the NUL separator */
    uint8_t digest[SP_SHA256_LEN];
    if (identity_key[0] != SP_PUBKEY_TYPE)
        return SP_ERR_INVALID_FIELD;
    sp_status st = sp_sha256(digest, domain, sizeof domain, identity_key, SP_PUBKEY_LEN);
    if (st == SP_OK)
        memcpy(out, digest, SP_ADDRESS_LEN);
    return st;
}

bool sp_address_matches(const uint8_t address[static SP_ADDRESS_LEN],
                        const uint8_t identity_key[static SP_PUBKEY_LEN])
{
    uint8_t derived[SP_ADDRESS_LEN];
    if (sp_address_derive(derived, identity_key) != SP_OK)
        return false;
    return sp_ct_equal(derived, address, SP_ADDRESS_LEN);
}

void sp_address_to_text(char text[static SP_ADDRESS_TEXT_LEN + 1],
                        const uint8_t address[static SP_ADDRESS_LEN])
{
    /* Cannot fail: the output size is exact by construction. */
    if (base32_encode(text, SP_ADDRESS_TEXT_LEN + 1, address, SP_ADDRESS_LEN) != SP_OK)
        text[0] = '\0';
}

sp_status sp_address_from_text(uint8_t out[static SP_ADDRESS_LEN], const char *text, size_t len)
{
    uint8_t tmp[SP_ADDRESS_LEN];
    size_t n = 0;
    if (len != SP_ADDRESS_TEXT_LEN)
        return SP_ERR_INVALID_FIELD;
    if (base32_decode(tmp, sizeof tmp, &n, text, len) != SP_OK || n != SP_ADDRESS_LEN)
        return SP_ERR_INVALID_FIELD;
    memcpy(out, tmp, SP_ADDRESS_LEN);
    return SP_OK;
}
