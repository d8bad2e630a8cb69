/*
 * fuzz_wire.h: the selector byte of fuzz_wire inputs, shared by the harness
 * and the replay driver that builds seeds for each target.
 */
#ifndef SEALPOST_TESTS_FUZZ_WIRE_H
#define SEALPOST_TESTS_FUZZ_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum fuzz_wire_target {
    FUZZ_ERROR,
    FUZZ_REGISTER,
    FUZZ_TOKEN_REQUEST,
    FUZZ_REGISTER_RESPONSE,
    FUZZ_TOKEN_RESPONSE,
    FUZZ_PREKEY_COUNT,
    FUZZ_SEND_RESPONSE,
    FUZZ_ACK_RESPONSE,
    FUZZ_LIMITS,
    FUZZ_PREKEY_UPLOAD,
    FUZZ_SIGNED_PREKEY,
    FUZZ_BUNDLE,
    FUZZ_SEND,
    FUZZ_FETCH,
    FUZZ_ACK,
    FUZZ_SEALED_CONTENT,
    FUZZ_CHECK_SEALED,
    FUZZ_WIRE_TARGETS
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
