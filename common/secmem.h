/*
 * secmem.h: wiping and constant-time comparison for secrets.
 */
#ifndef SEALPOST_COMMON_SECMEM_H
#define SEALPOST_COMMON_SECMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Overwrite n bytes with zeros; never optimised away. NULL-safe. */
void sp_wipe(void *p, size_t n);
/* Constant-time equality of two n-byte strings (time depends on n only). */
bool sp_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);
/* Wipe n bytes, then free(). NULL-safe. */
void sp_free_secret(void *p, size_t n);

#endif
