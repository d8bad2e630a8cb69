/*
 * address.h: self-certifying agent addresses.
 *
 *   address = first 20 bytes of SHA-256("sealpost/v1/address" || 0x00 || identity_key)
 *   text    = base32 (RFC 4648, lower case, no padding) of the 20 bytes: 32 characters
 *
 * identity_key is the 33-byte libsignal serialisation (0x05 || X25519 public).
 * Anyone holding an identity key can check that it belongs to an address; the
 * relay cannot substitute keys without the SDK noticing.
 */
#ifndef SEALPOST_COMMON_ADDRESS_H
#define SEALPOST_COMMON_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"
#include "status.h"

#define SP_DOMAIN_ADDRESS "sealpost/v1/address"

SP_WARN_UNUSED sp_status sp_address_derive(uint8_t out[static SP_ADDRESS_LEN],
                                           const uint8_t identity_key[static SP_PUBKEY_LEN]);

/* Constant-time: true iff identity_key hashes to address. */
bool sp_address_matches(const uint8_t address[static SP_ADDRESS_LEN],
                        const uint8_t identity_key[static SP_PUBKEY_LEN]);

/* text must have room for SP_ADDRESS_TEXT_LEN + 1 bytes. */
void sp_address_to_text(char text[static SP_ADDRESS_TEXT_LEN + 1],
                        const uint8_t address[static SP_ADDRESS_LEN]);

/* Parses exactly SP_ADDRESS_TEXT_LEN base32 characters (either case). */
SP_WARN_UNUSED sp_status sp_address_from_text(uint8_t out[static SP_ADDRESS_LEN], const char *text,
                                              size_t len);

#endif
