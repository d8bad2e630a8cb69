/*
 * auth.c: proof verification, replay keys, tokens and the token cache (see
 * auth.h).
 *
 * Signatures must also be canonical (S < L): see s_is_canonical().
 *
 * libsignal use: only curve_decode_point() and curve_verify_signature(), which
 * need no signal_context and no crypto provider (the context is used for an
 * error log line only, and we check the key's type byte and length ourselves
 * first so that path is never taken). No global libsignal state exists.
 *
 * Token cache: a direct-mapped table of SHA-256(token) -> (account, valid
 * until). The store only answers "valid now", but token expiry times are
 * whole hours (store_hour_ceil), so a token valid at `now` is valid at least
 * until the next hour boundary: caching it until then is exact, never late.
 * Hash comparison is constant-time; a collision in a slot just evicts.
 */
#include "server/api/auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <signal/signal_protocol.h>
#include <signal/curve.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/encoding.h"
#include "common/secmem.h"
#include "server/store/store.h"

/* The group order L = 2^252 + 27742317777372353535851937790883648493,
 * little-endian. */
static const uint8_t group_order[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
};

/* libsignal signatures are R || S with the Edwards sign bit in bit 255 of S.
 * Every signer (libsignal C/Java/Rust) outputs S reduced mod L, but
 * curve_verify_signature() accepts any S < 2^253, so S+L is a second valid
 * encoding of the same signature. Requiring S < L rejects those forms; it is
 * a public value, so a variable-time compare is fine. */
static bool s_is_canonical(const uint8_t sig[static SP_SIGNATURE_LEN])
{
    for (int i = 31; i >= 0; i--) {
        uint8_t b = sig[32 + i];
        if (i == 31)
            b &= 0x7f; /* the sign bit is not part of S */
        if (b != group_order[i])
            return b < group_order[i];
    }
    return false; /* S == L */
}

sp_status auth_verify_signature(const uint8_t key[static SP_PUBKEY_LEN], const uint8_t *msg,
                                size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    ec_public_key *pub = NULL;
    if (key[0] != SP_PUBKEY_TYPE || sig == NULL || sig_len != SP_SIGNATURE_LEN)
        return SP_ERR_BAD_SIGNATURE;
    if (!s_is_canonical(sig))
        return SP_ERR_BAD_SIGNATURE;
    if (curve_decode_point(&pub, key, SP_PUBKEY_LEN, NULL) != 0 || pub == NULL)
        return SP_ERR_BAD_SIGNATURE;
    /* 1 = valid, 0 = invalid, negative = error: only 1 counts. */
    int rc = curve_verify_signature(pub, msg, msg_len, sig, sig_len);
    SIGNAL_UNREF(pub);
    return rc == 1 ? SP_OK : SP_ERR_BAD_SIGNATURE;
}

sp_status auth_verify_proof(const uint8_t key[static SP_PUBKEY_LEN], const char *domain,
                            const uint8_t *payload, size_t payload_len,
                            const uint8_t sig[static SP_SIGNATURE_LEN])
{
    sp_status st;
    struct buf msg;
    buf_init(&msg, strlen(domain) + 1 + payload_len);
    TRY(sp_proof_message(&msg, domain, payload, payload_len));
    st = auth_verify_signature(key, msg.data, msg.len, sig, SP_SIGNATURE_LEN);
out:
    buf_free(&msg);
    return st;
}

sp_status auth_check_window(uint64_t timestamp, uint64_t now, uint32_t window_s)
{
    uint64_t skew = timestamp > now ? timestamp - now : now - timestamp;
    return skew <= window_s ? SP_OK : SP_ERR_STALE_PROOF;
}

sp_status auth_replay_key(uint8_t out[static 32], const char *domain,
                          const uint8_t address[static SP_ADDRESS_LEN],
                          const uint8_t nonce[static SP_NONCE_LEN])
{
    uint8_t tail[SP_ADDRESS_LEN + SP_NONCE_LEN];
    struct buf head;
    sp_status st;
    buf_init(&head, strlen(domain) + 1);
    TRY(buf_append_str(&head, domain));
    TRY(buf_append_u8(&head, 0));
    memcpy(tail, address, SP_ADDRESS_LEN);
    memcpy(tail + SP_ADDRESS_LEN, nonce, SP_NONCE_LEN);
    TRY(sp_sha256(out, head.data, head.len, tail, sizeof tail));
out:
    buf_free(&head);
    return st;
}

sp_status auth_token_new(uint8_t token[static SP_TOKEN_LEN], uint8_t hash[static 32])
{
    sp_status st;
    TRY(sp_random(token, SP_TOKEN_LEN));
    TRY(sp_sha256(hash, token, SP_TOKEN_LEN, NULL, 0));
out:
    if (st != SP_OK)
        sp_wipe(token, SP_TOKEN_LEN);
    return st;
}

sp_status auth_bearer_hash(uint8_t hash[static 32], const char *header)
{
    static const char scheme[] = "Bearer ";
    uint8_t token[SP_TOKEN_LEN];
    size_t n = 0;
    sp_status st;

    ENSURE(header != NULL, SP_ERR_UNAUTHENTICATED);
    /* RFC 9110 §11.1: the scheme name is case-insensitive. */
    ENSURE(strncasecmp(header, scheme, sizeof scheme - 1) == 0, SP_ERR_UNAUTHENTICATED);
    const char *text = header + sizeof scheme - 1;
    ENSURE(strlen(text) == SP_TOKEN_TEXT_LEN, SP_ERR_UNAUTHENTICATED);
    ENSURE(base64url_decode(token, sizeof token, &n, text, SP_TOKEN_TEXT_LEN) == SP_OK &&
               n == SP_TOKEN_LEN,
           SP_ERR_UNAUTHENTICATED);
    TRY(sp_sha256(hash, token, sizeof token, NULL, 0));
out:
    sp_wipe(token, sizeof token);
    return st;
}

/* ---- token cache */

struct cache_entry {
    uint8_t hash[32];
    int64_t account;
    uint64_t valid_until; /* exclusive; 0 = empty */
};

struct auth {
    pthread_mutex_t lock;
    size_t mask;
    struct cache_entry *entries; /* NULL: cache disabled */
};

sp_status auth_create(struct auth **out, size_t cache_slots)
{
    sp_status st = SP_OK;
    struct auth *a = NULL;
    *out = NULL;
    a = calloc(1, sizeof *a);
    ENSURE(a != NULL, SP_ERR_NOMEM);
    if (cache_slots > 0) {
        size_t n = 1;
        while (n < cache_slots && n < ((size_t)1 << 22))
            n <<= 1;
        a->entries = calloc(n, sizeof *a->entries);
        ENSURE(a->entries != NULL, SP_ERR_NOMEM);
        a->mask = n - 1;
    }
    ENSURE(pthread_mutex_init(&a->lock, NULL) == 0, SP_ERR_INTERNAL);
    *out = a;
    a = NULL;
out:
    if (a != NULL) {
        free(a->entries);
        free(a);
    }
    return st;
}

void auth_destroy(struct auth *a)
{
    if (a == NULL)
        return;
    pthread_mutex_destroy(&a->lock);
    if (a->entries != NULL)
        sp_free_secret(a->entries, (a->mask + 1) * sizeof *a->entries);
    free(a);
}

void auth_cache_clear(struct auth *a)
{
    if (a == NULL || a->entries == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    sp_wipe(a->entries, (a->mask + 1) * sizeof *a->entries);
    pthread_mutex_unlock(&a->lock);
}

static struct cache_entry *slot_of(struct auth *a, const uint8_t hash[static 32])
{
    uint64_t h;
    memcpy(&h, hash, sizeof h); /* SHA-256 output: uniformly spread */
    return &a->entries[(size_t)h & a->mask];
}

static bool cache_get(struct auth *a, const uint8_t hash[static 32], uint64_t now, int64_t *account)
{
    bool hit = false;
    if (a->entries == NULL)
        return false;
    pthread_mutex_lock(&a->lock);
    struct cache_entry *e = slot_of(a, hash);
    if (e->valid_until != 0 && sp_ct_equal(e->hash, hash, 32)) {
        if (now < e->valid_until) {
            *account = e->account;
            hit = true;
        } else {
            *e = (struct cache_entry){0}; /* expired: forget it */
        }
    }
    pthread_mutex_unlock(&a->lock);
    return hit;
}

static void cache_put(struct auth *a, const uint8_t hash[static 32], int64_t account,
                      uint64_t valid_until)
{
    if (a->entries == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    struct cache_entry *e = slot_of(a, hash);
    memcpy(e->hash, hash, 32);
    e->account = account;
    e->valid_until = valid_until;
    pthread_mutex_unlock(&a->lock);
}

sp_status auth_bearer(struct auth *a, struct store *s, const char *header, uint64_t now,
                      int64_t *account, int *why)
{
    uint8_t hash[32];
    struct store_conn *c = NULL;
    int64_t id = 0;
    sp_status st;
    int reason = 0;

    TRY(auth_bearer_hash(hash, header));
    reason = 1;
    if (cache_get(a, hash, now, &id)) {
        *account = id;
        st = SP_OK;
        goto out;
    }
    TRY(store_conn_get(s, &c));
    st = store_token_lookup(c, hash, now, &id);
    store_conn_put(s, c);
    if (st == SP_ERR_NOT_FOUND)
        st = SP_ERR_UNAUTHENTICATED;
    if (st != SP_OK)
        goto out;
    cache_put(a, hash, id, store_hour(now) + 3600);
    *account = id;
out:
    if (why != NULL)
        *why = reason;
    sp_wipe(hash, sizeof hash);
    return st;
}
