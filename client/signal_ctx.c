/*
 * signal_ctx.c: one signal_context with provider, recursive lock and a
 * privacy-preserving log bridge; identity generate/sign/verify helpers.
 *
 * Owns: the signal_context, the crypto provider installed into it (which
 * must outlive the context, so it is freed after signal_context_destroy) and
 * the mutex. The struct is heap-allocated because libsignal keeps its
 * address as the user_data of the lock and log callbacks.
 */
#include "signal_ctx.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <signal/curve.h>
#include <signal/key_helper.h>
#include <signal/ratchet.h>

#include "client/crypto_provider.h"
#include "common/log.h"
#include "common/secmem.h"

/* Stands in for a NULL message of length 0 (libsignal copies it with memcpy). */
static const uint8_t empty_msg[1] = {0};

struct signal_ctx {
    signal_context *ctx;
    struct crypto_provider *provider;
    pthread_mutex_t mutex;
    int mutex_ready;
};

static void ctx_lock_cb(void *user_data)
{
    struct signal_ctx *c = user_data;
    (void)pthread_mutex_lock(&c->mutex);
}

static void ctx_unlock_cb(void *user_data)
{
    struct signal_ctx *c = user_data;
    (void)pthread_mutex_unlock(&c->mutex);
}

void signal_ctx_sanitize_log(char *out, size_t out_len, const char *msg, size_t msg_len)
{
    size_t n = 0;
    if (out_len == 0)
        return;
    /* libsignal formats peer names ("No session for: NAME:DEV"), counters and
     * key ids after a colon; keep only the fixed text before it. */
    while (msg != NULL && n < msg_len && n + 1 < out_len) {
        unsigned char ch = (unsigned char)msg[n];
        if (ch == ':' || ch < 0x20 || ch > 0x7e)
            break;
        out[n] = (char)ch;
        n++;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

static void ctx_log_cb(int level, const char *message, size_t len, void *user_data)
{
    char line[128];
    (void)user_data;
    if (level > SG_LOG_WARNING)
        return;
    signal_ctx_sanitize_log(line, sizeof line, message, len);
    sp_log(level == SG_LOG_ERROR ? SP_LOG_ERROR : SP_LOG_WARN, "libsignal: %s", line);
}

sp_status signal_ctx_new(struct signal_ctx **out)
{
    sp_status st = SP_ERR_INTERNAL;
    struct signal_ctx *c = NULL;
    signal_crypto_provider table;
    pthread_mutexattr_t attr;
    int attr_ready = 0;

    *out = NULL;
    c = calloc(1, sizeof *c);
    ENSURE(c != NULL, SP_ERR_NOMEM);

    ENSURE(pthread_mutexattr_init(&attr) == 0, SP_ERR_NOMEM);
    attr_ready = 1;
    /* Recursive: session_cipher decrypt takes the context lock twice. */
    ENSURE(pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE) == 0, SP_ERR_INTERNAL);
    ENSURE(pthread_mutex_init(&c->mutex, &attr) == 0, SP_ERR_NOMEM);
    c->mutex_ready = 1;

    TRY(crypto_provider_new(&c->provider));
    ENSURE(signal_context_create(&c->ctx, c) == 0 && c->ctx != NULL, SP_ERR_NOMEM);
    crypto_provider_fill(c->provider, &table);
    /* Installs nothing and returns SG_ERR_INVAL if any HMAC callback is
     * missing; everything later would then assert. */
    ENSURE(signal_context_set_crypto_provider(c->ctx, &table) == 0, SP_ERR_INTERNAL);
    ENSURE(signal_context_set_locking_functions(c->ctx, ctx_lock_cb, ctx_unlock_cb) == 0,
           SP_ERR_INTERNAL);
    ENSURE(signal_context_set_log_function(c->ctx, ctx_log_cb) == 0, SP_ERR_INTERNAL);
    *out = c;
    c = NULL;
    st = SP_OK;
out:
    if (attr_ready)
        (void)pthread_mutexattr_destroy(&attr);
    signal_ctx_free(c);
    return st;
}

void signal_ctx_free(struct signal_ctx *c)
{
    if (c == NULL)
        return;
    if (c->ctx != NULL)
        signal_context_destroy(c->ctx);
    crypto_provider_free(c->provider); /* after the context that refers to it */
    if (c->mutex_ready)
        (void)pthread_mutex_destroy(&c->mutex);
    free(c);
}

signal_context *signal_ctx_get(struct signal_ctx *c)
{
    return c->ctx;
}

void signal_ctx_lock(struct signal_ctx *c)
{
    ctx_lock_cb(c);
}

void signal_ctx_unlock(struct signal_ctx *c)
{
    ctx_unlock_cb(c);
}

sp_status signal_ctx_identity_generate(struct signal_ctx *c, uint8_t pub[static SP_PUBKEY_LEN],
                                       uint8_t priv[static SP_PRIVKEY_LEN])
{
    sp_status st = SP_ERR_INTERNAL;
    ratchet_identity_key_pair *ikp = NULL;
    signal_buffer *pub_buf = NULL;
    signal_buffer *priv_buf = NULL;

    memset(pub, 0, SP_PUBKEY_LEN);
    memset(priv, 0, SP_PRIVKEY_LEN);
    ENSURE(signal_protocol_key_helper_generate_identity_key_pair(&ikp, c->ctx) == 0,
           SP_ERR_INTERNAL);
    ENSURE(ec_public_key_serialize(&pub_buf, ratchet_identity_key_pair_get_public(ikp)) == 0,
           SP_ERR_NOMEM);
    ENSURE(ec_private_key_serialize(&priv_buf, ratchet_identity_key_pair_get_private(ikp)) == 0,
           SP_ERR_NOMEM);
    ENSURE(signal_buffer_len(pub_buf) == SP_PUBKEY_LEN &&
               signal_buffer_data(pub_buf)[0] == SP_PUBKEY_TYPE &&
               signal_buffer_len(priv_buf) == SP_PRIVKEY_LEN,
           SP_ERR_INTERNAL);
    memcpy(pub, signal_buffer_data(pub_buf), SP_PUBKEY_LEN);
    memcpy(priv, signal_buffer_data(priv_buf), SP_PRIVKEY_LEN);
    st = SP_OK;
out:
    signal_buffer_free(pub_buf);
    if (priv_buf != NULL)
        signal_buffer_bzero_free(priv_buf);
    SIGNAL_UNREF(ikp);
    if (st != SP_OK) {
        memset(pub, 0, SP_PUBKEY_LEN);
        sp_wipe(priv, SP_PRIVKEY_LEN);
    }
    return st;
}

sp_status signal_ctx_sign(struct signal_ctx *c, uint8_t sig[static SP_SIGNATURE_LEN],
                          const uint8_t priv[static SP_PRIVKEY_LEN], const uint8_t *msg,
                          size_t len)
{
    sp_status st = SP_ERR_INTERNAL;
    ec_private_key *key = NULL;
    signal_buffer *out_sig = NULL;
    int rc;

    memset(sig, 0, SP_SIGNATURE_LEN);
    ENSURE(msg != NULL || len == 0, SP_ERR_USAGE);
    if (msg == NULL)
        msg = empty_msg;
    ENSURE(curve_decode_private_point(&key, priv, SP_PRIVKEY_LEN, c->ctx) == 0,
           SP_ERR_INVALID_FIELD);
    rc = curve_calculate_signature(c->ctx, &out_sig, key, msg, len);
    ENSURE(rc != SG_ERR_NOMEM, SP_ERR_NOMEM);
    ENSURE(rc == 0 && out_sig != NULL, SP_ERR_INTERNAL);
    ENSURE(signal_buffer_len(out_sig) == SP_SIGNATURE_LEN, SP_ERR_INTERNAL);
    memcpy(sig, signal_buffer_data(out_sig), SP_SIGNATURE_LEN);
    st = SP_OK;
out:
    signal_buffer_free(out_sig);
    SIGNAL_UNREF(key);
    return st;
}

sp_status signal_ctx_verify(struct signal_ctx *c, const uint8_t pub[static SP_PUBKEY_LEN],
                            const uint8_t *msg, size_t len, const uint8_t *sig, size_t sig_len)
{
    sp_status st = SP_ERR_BAD_SIGNATURE;
    ec_public_key *key = NULL;

    ENSURE(msg != NULL || len == 0, SP_ERR_USAGE);
    ENSURE(sig != NULL, SP_ERR_BAD_SIGNATURE);
    if (msg == NULL)
        msg = empty_msg;
    ENSURE(curve_decode_point(&key, pub, SP_PUBKEY_LEN, c->ctx) == 0, SP_ERR_INVALID_FIELD);
    /* 1 = valid, 0 = invalid, -22 = wrong signature length: only 1 passes. */
    ENSURE(curve_verify_signature(key, msg, len, sig, sig_len) == 1, SP_ERR_BAD_SIGNATURE);
    st = SP_OK;
out:
    SIGNAL_UNREF(key);
    return st;
}
