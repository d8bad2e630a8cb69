/*
 * session.c: keys, session building, encrypt+seal+outbox, and
 * unseal+authenticate+decrypt+inbox (see session.h).
 *
 * Every libsignal call that writes state runs inside a keystore transaction
 * (LIBSIGNAL.md section 8), so the ratchet step and the row that carries its
 * result (outbox envelope or inbox plaintext) commit together or not at all.
 * Plaintext copies are wiped (signal_buffer_bzero_free, buf_free_secret);
 * the identity private key lives only on the stack for the call that needs
 * it and is wiped before return.
 */
#include "client/session.h"

#include <stdlib.h>
#include <string.h>

#include <signal/curve.h>
#include <signal/key_helper.h>
#include <signal/protocol.h>
#include <signal/ratchet.h>
#include <signal/session_builder.h>
#include <signal/session_cipher.h>
#include <signal/session_pre_key.h>
#include <signal/signal_protocol.h>

#include "client/seal.h"
#include "client/signal_ctx.h"
#include "common/address.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/secmem.h"

/* App error codes for the decrypt callback: below SG_ERR_MINIMUM so they
 * never collide with the library's. */
#define SS_CB_ERR_LOCAL (-10001)

/* key_helper's prekey id space is 1..0xFFFFFE (0xFFFFFF is last-resort). */
#define SS_PREKEY_ID_SPACE 0xFFFFFEu
#define SS_ID_START_MAX    0xFFFF00u

struct session {
    struct keystore *ks;
    struct signal_ctx *sig;
    signal_protocol_store_context *store;
    bool have_identity;
    uint8_t my_pub[SP_PUBKEY_LEN];
    uint32_t my_reg_id;
    uint8_t my_addr[SP_ADDRESS_LEN];
    char my_addr_text[SP_ADDRESS_TEXT_LEN + 1];
    struct seal_identity *seal_id; /* our identity, imported once for unsealing */
};

static sp_status map_sg(int rc)
{
    switch (rc) {
    case SG_ERR_NOMEM:
        return SP_ERR_NOMEM;
    case SG_ERR_DUPLICATE_MESSAGE:
        return SP_ERR_DUPLICATE;
    case SG_ERR_UNTRUSTED_IDENTITY:
        return SP_ERR_UNTRUSTED_IDENTITY;
    case SG_ERR_NO_SESSION:
        return SP_ERR_NO_SESSION;
    case SG_ERR_INVALID_KEY_ID:
        return SP_ERR_INVALID_KEY_ID;
    case SG_ERR_INVALID_KEY:
        return SP_ERR_BAD_SIGNATURE;
    case SG_ERR_INVALID_MESSAGE:
        return SP_ERR_DECRYPT;
    case SG_ERR_LEGACY_MESSAGE:
    case SG_ERR_INVALID_VERSION:
        return SP_ERR_UNSUPPORTED_VERSION;
    case SG_ERR_INVALID_PROTO_BUF:
        return SP_ERR_MALFORMED;
    default:
        return SP_ERR_INTERNAL;
    }
}

static sp_status load_identity(struct session *s)
{
    uint8_t priv[32];
    struct seal_identity *seal_id = NULL;
    sp_status st = keystore_identity_get(s->ks, s->my_pub, priv, &s->my_reg_id);
    if (st == SP_OK)
        st = seal_identity_new(&seal_id, s->my_pub, priv);
    sp_wipe(priv, sizeof(priv));
    if (st != SP_OK)
        return st;
    seal_identity_free(s->seal_id);
    s->seal_id = seal_id;
    st = sp_address_derive(s->my_addr, s->my_pub);
    if (st != SP_OK)
        return st;
    sp_address_to_text(s->my_addr_text, s->my_addr);
    s->have_identity = true;
    return SP_OK;
}

sp_status session_new(struct session **out, struct keystore *ks)
{
    sp_status st = SP_OK;
    struct session *s = calloc(1, sizeof(*s));
    *out = NULL;
    ENSURE(s != NULL, SP_ERR_NOMEM);
    s->ks = ks;
    TRY(signal_ctx_new(&s->sig));
    ENSURE(signal_protocol_store_context_create(&s->store, signal_ctx_get(s->sig)) == 0,
           SP_ERR_NOMEM);
    TRY(keystore_install_stores(ks, s->store));
    st = load_identity(s);
    if (st == SP_ERR_NOT_FOUND)
        st = SP_OK;
    TRY(st);
    *out = s;
    s = NULL;
out:
    session_free(s);
    return st;
}

void session_free(struct session *s)
{
    if (s == NULL)
        return;
    if (s->store != NULL)
        signal_protocol_store_context_destroy(s->store);
    signal_ctx_free(s->sig);
    seal_identity_free(s->seal_id);
    free(s);
}

bool session_has_identity(const struct session *s)
{
    return s->have_identity;
}

sp_status session_my_address(const struct session *s, char text[static SP_ADDRESS_TEXT_LEN + 1],
                             uint8_t raw[static SP_ADDRESS_LEN])
{
    if (!s->have_identity)
        return SP_ERR_USAGE;
    memcpy(text, s->my_addr_text, SP_ADDRESS_TEXT_LEN + 1);
    memcpy(raw, s->my_addr, SP_ADDRESS_LEN);
    return SP_OK;
}

sp_status session_my_identity(const struct session *s, uint8_t pub[static SP_PUBKEY_LEN],
                              uint32_t *registration_id)
{
    if (!s->have_identity)
        return SP_ERR_USAGE;
    memcpy(pub, s->my_pub, SP_PUBKEY_LEN);
    *registration_id = s->my_reg_id;
    return SP_OK;
}

sp_status session_identity_ensure(struct session *s)
{
    sp_status st = SP_OK;
    uint8_t pub[SP_PUBKEY_LEN], priv[32];
    uint32_t reg = 0;
    bool in_tx = false;

    if (s->have_identity)
        return SP_OK;
    TRY(signal_ctx_identity_generate(s->sig, pub, priv));
    ENSURE(signal_protocol_key_helper_generate_registration_id(&reg, 1, signal_ctx_get(s->sig)) ==
                   0 &&
               reg >= 1 && reg <= SP_MAX_REGISTRATION_ID,
           SP_ERR_INTERNAL);
    TRY(keystore_begin(s->ks));
    in_tx = true;
    TRY(keystore_identity_put(s->ks, pub, priv, reg));
    TRY(keystore_commit(s->ks));
    in_tx = false;
    TRY(load_identity(s));
out:
    if (in_tx)
        keystore_rollback(s->ks);
    sp_wipe(priv, sizeof(priv));
    return st;
}

sp_status session_sign(struct session *s, uint8_t sig[static SP_SIGNATURE_LEN],
                       const uint8_t *msg, size_t len)
{
    uint8_t pub[SP_PUBKEY_LEN], priv[32];
    uint32_t reg;
    sp_status st = keystore_identity_get(s->ks, pub, priv, &reg);
    if (st == SP_ERR_NOT_FOUND)
        st = SP_ERR_USAGE;
    if (st == SP_OK)
        st = signal_ctx_sign(s->sig, sig, priv, msg, len);
    sp_wipe(priv, sizeof(priv));
    return st;
}

/* A random id start in 1..SS_ID_START_MAX (never 0: key_helper's start=0 bug). */
static sp_status random_start(uint32_t *out)
{
    uint32_t r = 0;
    sp_status st = sp_random((uint8_t *)&r, sizeof(r));
    if (st != SP_OK)
        return st;
    *out = (r % SS_ID_START_MAX) + 1;
    return SP_OK;
}

static sp_status pubkey_bytes(const ec_public_key *k, uint8_t out[static SP_PUBKEY_LEN])
{
    signal_buffer *b = NULL;
    if (ec_public_key_serialize(&b, k) != 0)
        return SP_ERR_NOMEM;
    sp_status st = signal_buffer_len(b) == SP_PUBKEY_LEN ? SP_OK : SP_ERR_INTERNAL;
    if (st == SP_OK)
        memcpy(out, signal_buffer_data(b), SP_PUBKEY_LEN);
    signal_buffer_free(b);
    return st;
}

sp_status session_prekeys_generate(struct session *s, size_t count, struct wire_prekey *out)
{
    sp_status st = SP_OK;
    signal_protocol_key_helper_pre_key_list_node *head = NULL;
    uint64_t next = 0;
    uint32_t start = 0;
    size_t i = 0;
    bool in_tx = false;

    ENSURE(count >= 1 && count <= SP_HARD_MAX_PREKEYS_PER_UPLOAD, SP_ERR_USAGE);
    TRY(keystore_begin(s->ks));
    in_tx = true;
    TRY(keystore_setting_get_u64(s->ks, SS_NEXT_PREKEY_ID, 0, &next));
    if (next < 1 || next > SS_PREKEY_ID_SPACE)
        TRY(random_start(&start));
    else
        start = (uint32_t)next;
    ENSURE(signal_protocol_key_helper_generate_pre_keys(&head, start, (unsigned)count,
                                                        signal_ctx_get(s->sig)) == 0,
           SP_ERR_INTERNAL);
    for (signal_protocol_key_helper_pre_key_list_node *n = head; n != NULL;
         n = signal_protocol_key_helper_key_list_next(n)) {
        session_pre_key *pk = signal_protocol_key_helper_key_list_element(n);
        ENSURE(i < count, SP_ERR_INTERNAL);
        ENSURE(signal_protocol_pre_key_store_key(s->store, pk) == 0, SP_ERR_IO);
        out[i].id = session_pre_key_get_id(pk);
        TRY(pubkey_bytes(ec_key_pair_get_public(session_pre_key_get_key_pair(pk)),
                         out[i].public_key));
        i++;
    }
    ENSURE(i == count, SP_ERR_INTERNAL);
    /* ids are ((start - 1 + i) mod 0xFFFFFE) + 1 (LIBSIGNAL.md section 5) */
    next = ((uint64_t)start - 1 + count) % SS_PREKEY_ID_SPACE + 1;
    TRY(keystore_setting_set_u64(s->ks, SS_NEXT_PREKEY_ID, next));
    TRY(keystore_commit(s->ks));
    in_tx = false;
out:
    if (in_tx)
        keystore_rollback(s->ks);
    signal_protocol_key_helper_key_list_free(head);
    return st;
}

static sp_status spk_to_wire(const session_signed_pre_key *spk, struct wire_signed_prekey *out)
{
    if (session_signed_pre_key_get_signature_len(spk) != SP_SIGNATURE_LEN)
        return SP_ERR_INTERNAL;
    out->id = session_signed_pre_key_get_id(spk);
    memcpy(out->signature, session_signed_pre_key_get_signature(spk), SP_SIGNATURE_LEN);
    return pubkey_bytes(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(spk)),
                        out->public_key);
}

sp_status session_signed_prekey_rotate(struct session *s, struct wire_signed_prekey *out)
{
    sp_status st = SP_OK;
    uint8_t pub[SP_PUBKEY_LEN], priv[32];
    uint32_t reg = 0, id = 0;
    uint64_t next = 0;
    ec_public_key *pk = NULL;
    ec_private_key *sk = NULL;
    ratchet_identity_key_pair *ikp = NULL;
    session_signed_pre_key *spk = NULL;
    bool in_tx = false;
    signal_context *ctx = signal_ctx_get(s->sig);

    TRY(keystore_begin(s->ks));
    in_tx = true;
    st = keystore_identity_get(s->ks, pub, priv, &reg);
    ENSURE(st != SP_ERR_NOT_FOUND, SP_ERR_USAGE);
    TRY(st);
    ENSURE(curve_decode_point(&pk, pub, sizeof(pub), ctx) == 0 &&
               curve_decode_private_point(&sk, priv, sizeof(priv), ctx) == 0 &&
               ratchet_identity_key_pair_create(&ikp, pk, sk) == 0,
           SP_ERR_INTERNAL);
    TRY(keystore_setting_get_u64(s->ks, SS_NEXT_SPK_ID, 0, &next));
    if (next < 1 || next > SP_MAX_KEY_ID)
        TRY(random_start(&id));
    else
        id = (uint32_t)next;
    ENSURE(signal_protocol_key_helper_generate_signed_pre_key(
               &spk, ikp, id, keystore_now(s->ks) * 1000u, ctx) == 0,
           SP_ERR_INTERNAL);
    ENSURE(signal_protocol_signed_pre_key_store_key(s->store, spk) == 0, SP_ERR_IO);
    TRY(spk_to_wire(spk, out));
    TRY(keystore_setting_set_u64(s->ks, SS_NEXT_SPK_ID, id % SP_MAX_KEY_ID + 1));
    TRY(keystore_setting_set_u64(s->ks, SS_CURRENT_SPK_ID, id));
    TRY(keystore_setting_set_u64(s->ks, SS_SPK_ROTATED_AT, keystore_now(s->ks)));
    TRY(keystore_spk_retire_others(s->ks, id));
    TRY(keystore_commit(s->ks));
    in_tx = false;
out:
    if (in_tx)
        keystore_rollback(s->ks);
    sp_wipe(priv, sizeof(priv));
    SIGNAL_UNREF(spk);
    SIGNAL_UNREF(ikp);
    SIGNAL_UNREF(pk);
    SIGNAL_UNREF(sk);
    return st;
}

sp_status session_signed_prekey_current(struct session *s, struct wire_signed_prekey *out,
                                        uint64_t *created)
{
    sp_status st = SP_OK;
    uint64_t id = 0;
    session_signed_pre_key *spk = NULL;

    TRY(keystore_setting_get_u64(s->ks, SS_CURRENT_SPK_ID, 0, &id));
    ENSURE(id >= 1 && id <= SP_MAX_KEY_ID, SP_ERR_NOT_FOUND);
    int rc = signal_protocol_signed_pre_key_load_key(s->store, &spk, (uint32_t)id);
    ENSURE(rc != SG_ERR_INVALID_KEY_ID, SP_ERR_NOT_FOUND);
    ENSURE(rc == 0, SP_ERR_IO);
    TRY(spk_to_wire(spk, out));
    if (created != NULL)
        TRY(keystore_spk_created(s->ks, (uint32_t)id, created));
out:
    SIGNAL_UNREF(spk);
    return st;
}

sp_status session_local_bundle(struct session *s, bool with_prekey, struct wire_bundle *out)
{
    sp_status st = SP_OK;
    session_pre_key *pk = NULL;
    uint32_t id = 0;

    memset(out, 0, sizeof(*out));
    ENSURE(s->have_identity, SP_ERR_USAGE);
    memcpy(out->identity_key, s->my_pub, SP_PUBKEY_LEN);
    out->registration_id = s->my_reg_id;
    out->device_id = SP_DEVICE_ID;
    TRY(session_signed_prekey_current(s, &out->signed_prekey, NULL));
    if (with_prekey) {
        TRY(keystore_prekey_first_id(s->ks, &id));
        ENSURE(signal_protocol_pre_key_load_key(s->store, &pk, id) == 0, SP_ERR_IO);
        out->has_prekey = true;
        out->prekey.id = id;
        TRY(pubkey_bytes(ec_key_pair_get_public(session_pre_key_get_key_pair(pk)),
                         out->prekey.public_key));
    }
out:
    SIGNAL_UNREF(pk);
    return st;
}

/* ------------------------------------------------------------ sessions */

/* A libsignal address for `peer`: the name must stay NUL-terminated and alive
 * while any builder/cipher uses it, so it lives in the caller's frame. */
struct peer_addr {
    char name[SP_ADDRESS_TEXT_LEN + 1];
    uint8_t raw[SP_ADDRESS_LEN];
    signal_protocol_address addr;
};

static sp_status peer_addr_init(struct peer_addr *p, const char *peer)
{
    if (peer == NULL || strlen(peer) != SP_ADDRESS_TEXT_LEN)
        return SP_ERR_USAGE;
    if (sp_address_from_text(p->raw, peer, SP_ADDRESS_TEXT_LEN) != SP_OK)
        return SP_ERR_USAGE;
    /* canonical lower-case text, whatever case the caller used */
    sp_address_to_text(p->name, p->raw);
    p->addr.name = p->name;
    p->addr.name_len = SP_ADDRESS_TEXT_LEN;
    p->addr.device_id = SP_DEVICE_ID;
    return SP_OK;
}

sp_status session_exists(struct session *s, const char *peer, bool *exists)
{
    struct peer_addr p;
    sp_status st = peer_addr_init(&p, peer);
    if (st != SP_OK)
        return st;
    int rc = signal_protocol_session_contains_session(s->store, &p.addr);
    if (rc < 0)
        return SP_ERR_IO;
    *exists = rc == 1;
    return SP_OK;
}

/* Build a session from a validated bundle. Caller holds the transaction. */
static sp_status build_session(struct session *s, struct peer_addr *p,
                               const struct wire_bundle *b)
{
    sp_status st = SP_OK;
    signal_context *ctx = signal_ctx_get(s->sig);
    ec_public_key *ik = NULL, *spk = NULL, *pk = NULL;
    session_pre_key_bundle *bundle = NULL;
    session_builder *builder = NULL;

    /* Self-certifying address: checked before libsignal sees anything, so a
     * substituted key changes no state and sends nothing. */
    ENSURE(sp_address_matches(p->raw, b->identity_key), SP_ERR_IDENTITY_MISMATCH);
    ENSURE(b->device_id == SP_DEVICE_ID, SP_ERR_INVALID_FIELD);
    ENSURE(curve_decode_point(&ik, b->identity_key, SP_PUBKEY_LEN, ctx) == 0, SP_ERR_INVALID_FIELD);
    ENSURE(curve_decode_point(&spk, b->signed_prekey.public_key, SP_PUBKEY_LEN, ctx) == 0,
           SP_ERR_INVALID_FIELD);
    if (b->has_prekey)
        ENSURE(curve_decode_point(&pk, b->prekey.public_key, SP_PUBKEY_LEN, ctx) == 0,
               SP_ERR_INVALID_FIELD);
    ENSURE(session_pre_key_bundle_create(&bundle, b->registration_id, SP_DEVICE_ID,
                                         b->has_prekey ? b->prekey.id : 0, pk,
                                         b->signed_prekey.id, spk, b->signed_prekey.signature,
                                         SP_SIGNATURE_LEN, ik) == 0,
           SP_ERR_NOMEM);
    ENSURE(session_builder_create(&builder, s->store, &p->addr, ctx) == 0, SP_ERR_NOMEM);
    int rc = session_builder_process_pre_key_bundle(builder, bundle);
    if (rc < 0) {
        st = map_sg(rc);
        if (st == SP_ERR_INTERNAL)
            SP_LOG_W("session: bundle processing failed (%d)", rc);
        goto out;
    }
out:
    session_builder_free(builder);
    SIGNAL_UNREF(bundle);
    SIGNAL_UNREF(ik);
    SIGNAL_UNREF(spk);
    SIGNAL_UNREF(pk);
    return st;
}

/* Encrypt under the session with p and seal the result to p's identity key;
 * appends the envelope to env. Caller holds the transaction. */
static sp_status encrypt_and_seal(struct session *s, struct peer_addr *p, const uint8_t *msg,
                                  size_t len, struct buf *env)
{
    sp_status st = SP_OK;
    session_cipher *cipher = NULL;
    ciphertext_message *ct = NULL;
    uint8_t peer_key[SP_PUBKEY_LEN];
    static const uint8_t empty[1] = {0};

    int rc = signal_protocol_session_contains_session(s->store, &p->addr);
    ENSURE(rc >= 0, SP_ERR_IO);
    ENSURE(rc == 1, SP_ERR_NO_SESSION);
    st = keystore_peer_identity(s->ks, p->name, peer_key);
    ENSURE(st != SP_ERR_NOT_FOUND, SP_ERR_NO_SESSION);
    TRY(st);
    ENSURE(sp_address_matches(p->raw, peer_key), SP_ERR_IDENTITY_MISMATCH);
    ENSURE(session_cipher_create(&cipher, s->store, &p->addr, signal_ctx_get(s->sig)) == 0,
           SP_ERR_NOMEM);
    rc = session_cipher_encrypt(cipher, len > 0 ? msg : empty, len, &ct);
    if (rc < 0) {
        st = rc == SG_ERR_UNKNOWN ? SP_ERR_NO_SESSION : map_sg(rc);
        goto out;
    }
    signal_buffer *ser = ciphertext_message_get_serialized(ct); /* borrowed */
    int type = ciphertext_message_get_type(ct);
    ENSURE(type == CIPHERTEXT_PREKEY_TYPE || type == CIPHERTEXT_SIGNAL_TYPE, SP_ERR_INTERNAL);
    struct wire_sealed_content inner = {
        .sender_device = SP_DEVICE_ID,
        .type = (uint32_t)type,
        .ciphertext = signal_buffer_data(ser),
        .ciphertext_len = signal_buffer_len(ser),
    };
    memcpy(inner.sender, s->my_addr, SP_ADDRESS_LEN);
    TRY(seal_envelope(env, peer_key, &inner));
out:
    SIGNAL_UNREF(ct);
    session_cipher_free(cipher);
    return st;
}

sp_status session_send_local(struct session *s, const char *peer, const struct wire_bundle *bundle,
                             const uint8_t *msg, size_t len,
                             const uint8_t message_id[static SP_MESSAGE_ID_LEN], int64_t pending_id)
{
    sp_status st = SP_OK;
    struct peer_addr p;
    struct buf env;
    bool in_tx = false;

    buf_init(&env, SP_HARD_MAX_ENVELOPE_BYTES);
    ENSURE(s->have_identity, SP_ERR_USAGE);
    ENSURE(msg != NULL || len == 0, SP_ERR_USAGE);
    ENSURE(len <= 60000, SP_ERR_TOO_LARGE);
    TRY(peer_addr_init(&p, peer));
    if (bundle != NULL)
        ENSURE(sp_address_matches(p.raw, bundle->identity_key), SP_ERR_IDENTITY_MISMATCH);
    TRY(keystore_begin(s->ks));
    in_tx = true;
    if (bundle != NULL)
        TRY(build_session(s, &p, bundle));
    TRY(encrypt_and_seal(s, &p, msg, len, &env));
    TRY(keystore_outbox_insert(s->ks, message_id, p.name, env.data, env.len));
    if (pending_id > 0)
        TRY(keystore_pending_delete(s->ks, pending_id));
    TRY(keystore_commit(s->ks));
    in_tx = false;
out:
    if (in_tx)
        keystore_rollback(s->ks);
    buf_free(&env);
    return st;
}

/* ------------------------------------------------------------- receive */

struct recv_ctx {
    struct session *s;
    const uint8_t *message_id;
    const char *sender;
    sp_status st; /* local failure inside the callback */
};

static int decrypt_cb(session_cipher *cipher, signal_buffer *plaintext, void *decrypt_context)
{
    struct recv_ctx *rx = decrypt_context;
    (void)cipher;
    rx->st = keystore_inbox_insert(rx->s->ks, rx->message_id, rx->sender,
                                   signal_buffer_data(plaintext), signal_buffer_len(plaintext));
    return rx->st == SP_OK ? 0 : SS_CB_ERR_LOCAL;
}

/* Decrypt the Signal message in `inner` from peer p; the callback stores the
 * plaintext. Returns the libsignal code (>= 0 success). */
static int decrypt_inner(struct session *s, struct peer_addr *p,
                         const struct wire_sealed_content *inner, struct recv_ctx *rx)
{
    signal_context *ctx = signal_ctx_get(s->sig);
    session_cipher *cipher = NULL;
    pre_key_signal_message *pm = NULL;
    signal_message *sm = NULL;
    signal_buffer *pt = NULL;
    int rc;

    if (inner->type == CIPHERTEXT_PREKEY_TYPE) {
        rc = pre_key_signal_message_deserialize(&pm, inner->ciphertext, inner->ciphertext_len, ctx);
        if (rc < 0)
            goto out;
        /* The identity inside must hash to the claimed sender address. */
        uint8_t ik[SP_PUBKEY_LEN];
        if (pubkey_bytes(pre_key_signal_message_get_identity_key(pm), ik) != SP_OK ||
            !sp_address_matches(p->raw, ik)) {
            rc = SG_ERR_UNTRUSTED_IDENTITY;
            goto out;
        }
    } else {
        rc = signal_message_deserialize(&sm, inner->ciphertext, inner->ciphertext_len, ctx);
        if (rc < 0)
            goto out;
    }
    rc = session_cipher_create(&cipher, s->store, &p->addr, ctx);
    if (rc < 0)
        goto out;
    session_cipher_set_decryption_callback(cipher, decrypt_cb);
    if (pm != NULL)
        rc = session_cipher_decrypt_pre_key_signal_message(cipher, pm, rx, &pt);
    else
        rc = session_cipher_decrypt_signal_message(cipher, sm, rx, &pt);
out:
    signal_buffer_bzero_free(pt);
    session_cipher_free(cipher);
    SIGNAL_UNREF(pm);
    SIGNAL_UNREF(sm);
    return rc;
}

sp_status session_receive(struct session *s, const uint8_t message_id[static SP_MESSAGE_ID_LEN],
                          const uint8_t *content, size_t len, enum session_recv_result *result)
{
    sp_status st = SP_OK;
    struct wire_sealed_content inner;
    struct peer_addr p;
    bool seen = false, in_sp = false;
    enum session_recv_result res = SESSION_RECV_DROPPED;

    memset(&inner, 0, sizeof(inner));
    TRY(keystore_seen_has(s->ks, message_id, &seen));
    if (seen) {
        *result = SESSION_RECV_DUPLICATE;
        return SP_OK;
    }
    TRY(keystore_savepoint(s->ks));
    in_sp = true;

    ENSURE(s->have_identity, SP_ERR_USAGE);
    sp_status ust = unseal_envelope_with(&inner, s->seal_id, content, len);
    if (ust == SP_ERR_NOMEM)
        TRY(ust);
    if (ust != SP_OK)
        goto drop;
    if (inner.sender_device != SP_DEVICE_ID ||
        (inner.type != CIPHERTEXT_PREKEY_TYPE && inner.type != CIPHERTEXT_SIGNAL_TYPE))
        goto drop;
    sp_address_to_text(p.name, inner.sender);
    memcpy(p.raw, inner.sender, SP_ADDRESS_LEN);
    p.addr.name = p.name;
    p.addr.name_len = SP_ADDRESS_TEXT_LEN;
    p.addr.device_id = SP_DEVICE_ID;

    struct recv_ctx rx = {.s = s, .message_id = message_id, .sender = p.name, .st = SP_OK};
    int rc = decrypt_inner(s, &p, &inner, &rx);
    if (rc >= 0) {
        res = SESSION_RECV_STORED;
    } else if (rc == SS_CB_ERR_LOCAL) {
        /* Our own inbox insert failed: a local problem, never the peer's. */
        st = rx.st == SP_ERR_DUPLICATE ? SP_OK : rx.st;
        res = SESSION_RECV_DUPLICATE;
        keystore_rollback_to(s->ks);
        in_sp = false;
        if (st != SP_OK)
            goto out;
        goto mark;
    } else if (rc == SG_ERR_DUPLICATE_MESSAGE) {
        res = SESSION_RECV_DUPLICATE;
    } else {
        res = SESSION_RECV_DROPPED;
        if (rc == SG_ERR_NOMEM) {
            st = SP_ERR_NOMEM;
            goto out;
        }
        /* Never act on a failed decrypt beyond dropping it. Whatever the
         * error (bad MAC, no session, unknown prekey id), the envelope did
         * not authenticate, and anyone who knows our address can seal one
         * that claims any sender, or replay a captured envelope under a new
         * message id. Forgetting the claimed sender's session here would let
         * them tear down our real sessions. A peer that really lost its
         * state recovers by itself: its next message to us is a
         * PreKeySignalMessage, which builds a new session. */
        SP_LOG_D("session: envelope dropped (%d)", rc);
        goto drop;
    }
    TRY(keystore_release(s->ks));
    in_sp = false;
    goto mark;
drop:
    res = SESSION_RECV_DROPPED;
    keystore_rollback_to(s->ks);
    in_sp = false;
mark:
    TRY(keystore_seen_add(s->ks, message_id));
    *result = res;
out:
    if (in_sp)
        keystore_rollback_to(s->ks);
    wire_sealed_content_free(&inner);
    return st;
}
