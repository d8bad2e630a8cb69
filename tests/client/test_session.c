/*
 * test_session.c: two in-process agents A and B, each with its own state
 * directory (real SQLite) and the real libsignal. No relay: B's bundle is
 * built from B's keystore, envelopes travel from A's outbox to B's
 * session_receive by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/keystore.h"
#include "client/seal.h"
#include "client/session.h"
#include "common/address.h"
#include "common/secmem.h"
#include "sealpost/sealpost.h"
#include "testutil.h"

struct agent {
    char *dir;
    struct keystore *ks;
    struct session *s;
    char addr[SP_ADDRESS_TEXT_LEN + 1];
    uint8_t raw[SP_ADDRESS_LEN];
};

static void agent_open(struct agent *a, const char *tag)
{
    struct wire_signed_prekey spk;
    struct wire_prekey pks[10];
    memset(a, 0, sizeof(*a));
    a->dir = tu_tmpdir(tag);
    ck_assert_int_eq(keystore_open(&a->ks, a->dir, NULL), SP_OK);
    ck_assert_int_eq(session_new(&a->s, a->ks), SP_OK);
    ck_assert_int_eq(session_my_address(a->s, a->addr, a->raw), SP_ERR_USAGE);
    ck_assert_int_eq(session_identity_ensure(a->s), SP_OK);
    ck_assert_int_eq(session_identity_ensure(a->s), SP_OK); /* idempotent */
    ck_assert_int_eq(session_my_address(a->s, a->addr, a->raw), SP_OK);
    ck_assert_int_eq(session_signed_prekey_rotate(a->s, &spk), SP_OK);
    ck_assert_int_eq(session_prekeys_generate(a->s, 10, pks), SP_OK);
}

static void agent_close(struct agent *a)
{
    session_free(a->s);
    keystore_close(a->ks);
    tu_rmtree(a->dir);
    free(a->dir);
}

static void mid_of(uint8_t mid[16], int n)
{
    memset(mid, 0, 16);
    mid[0] = 0x5A;
    mid[15] = (uint8_t)n;
    mid[14] = (uint8_t)(n >> 8);
}

/* Take every envelope out of a's outbox (oldest first). */
static size_t take_outbox(struct agent *a, struct ks_outbox_item **items)
{
    size_t n = 0;
    ck_assert_int_eq(keystore_outbox_load(a->ks, 0, 1000, items, &n), SP_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(keystore_outbox_delete(a->ks, &(*items)[i].id, 1), SP_OK);
    return n;
}

static enum session_recv_result deliver(struct agent *b, const uint8_t mid[16],
                                        const uint8_t *content, size_t len)
{
    enum session_recv_result r = 99;
    ck_assert_int_eq(keystore_begin(b->ks), SP_OK);
    ck_assert_int_eq(session_receive(b->s, mid, content, len, &r), SP_OK);
    ck_assert_int_eq(keystore_commit(b->ks), SP_OK);
    return r;
}

static size_t inbox_count(struct agent *a)
{
    size_t n = 0;
    ck_assert_int_eq(keystore_inbox_count(a->ks, &n), SP_OK);
    return n;
}

static void send_text(struct agent *a, struct agent *b, const struct wire_bundle *bundle, int n)
{
    char msg[64];
    uint8_t mid[16];
    snprintf(msg, sizeof(msg), "message %d", n);
    mid_of(mid, n);
    ck_assert_int_eq(session_send_local(a->s, b->addr, bundle, (const uint8_t *)msg, strlen(msg),
                                        mid, 0),
                     SP_OK);
}

/* Find the inbox message with this local body. */
static bool inbox_has(struct agent *a, const char *body, const char *sender)
{
    sealpost_message **v = NULL;
    size_t n = 0;
    bool found = false;
    ck_assert_int_eq(keystore_inbox_list(a->ks, 0, 1000, &v, &n), SP_OK);
    for (size_t i = 0; i < n; i++)
        if (v[i]->body_len == strlen(body) && memcmp(v[i]->body, body, v[i]->body_len) == 0 &&
            strcmp(v[i]->sender, sender) == 0)
            found = true;
    sealpost_messages_free(v, n);
    return found;
}

/* The raw session record a holds for peer (NULL-safe compare helper). */
static signal_buffer *record_of(struct agent *a, const char *peer)
{
    signal_protocol_session_store sess;
    signal_protocol_pre_key_store pk;
    signal_protocol_signed_pre_key_store spk;
    signal_protocol_identity_key_store id;
    signal_protocol_sender_key_store sk;
    signal_buffer *rec = NULL;
    signal_protocol_address addr = {peer, SP_ADDRESS_TEXT_LEN, 1};
    keystore_fill_stores(a->ks, &sess, &pk, &spk, &id, &sk);
    int rc = sess.load_session_func(&rec, NULL, &addr, sess.user_data);
    ck_assert_int_ge(rc, 0);
    return rec;
}

START_TEST(test_in_order_out_of_order_duplicates)
{
    struct agent a, b;
    struct wire_bundle bundle;
    struct ks_outbox_item *items = NULL;
    bool exists = true;
    agent_open(&a, "sa");
    agent_open(&b, "sb");

    ck_assert_int_eq(session_exists(a.s, b.addr, &exists), SP_OK);
    ck_assert(!exists);
    /* without a session and without a bundle: NO_SESSION, nothing queued */
    uint8_t mid[16];
    mid_of(mid, 999);
    ck_assert_int_eq(session_send_local(a.s, b.addr, NULL, (const uint8_t *)"x", 1, mid, 0),
                     SP_ERR_NO_SESSION);

    ck_assert_int_eq(session_local_bundle(b.s, true, &bundle), SP_OK);
    send_text(&a, &b, &bundle, 0);
    ck_assert_int_eq(session_exists(a.s, b.addr, &exists), SP_OK);
    ck_assert(exists);
    for (int i = 1; i < 8; i++)
        send_text(&a, &b, NULL, i);
    size_t n = take_outbox(&a, &items);
    ck_assert_uint_eq(n, 8);

    /* in order: 0..3 */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(deliver(&b, items[i].message_id, items[i].content, items[i].content_len),
                         SESSION_RECV_STORED);
    /* the one-time prekey was consumed with the first message */
    uint32_t first = 0;
    ck_assert_int_eq(keystore_prekey_first_id(b.ks, &first), SP_OK);
    ck_assert_uint_ne(first, bundle.prekey.id);
    /* out of order: 7, 5, 6, 4 */
    int order[] = {7, 5, 6, 4};
    for (int k = 0; k < 4; k++) {
        int i = order[k];
        ck_assert_int_eq(deliver(&b, items[i].message_id, items[i].content, items[i].content_len),
                         SESSION_RECV_STORED);
    }
    ck_assert_uint_eq(inbox_count(&b), 8);
    for (int i = 0; i < 8; i++) {
        char body[64];
        snprintf(body, sizeof(body), "message %d", i);
        ck_assert(inbox_has(&b, body, a.addr));
    }
    /* redelivery with the same relay id: recognised by id */
    ck_assert_int_eq(deliver(&b, items[2].message_id, items[2].content, items[2].content_len),
                     SESSION_RECV_DUPLICATE);
    /* ... and still after the application marked it done */
    sealpost_message **v = NULL;
    ck_assert_int_eq(keystore_inbox_list(b.ks, 0, 1, &v, &n), SP_OK);
    ck_assert_int_eq(keystore_inbox_done(b.ks, v[0]->id), SP_OK);
    uint8_t done_mid[16];
    memcpy(done_mid, v[0]->message_id, 16);
    sealpost_messages_free(v, n);
    for (int i = 0; i < 8; i++)
        if (memcmp(items[i].message_id, done_mid, 16) == 0)
            ck_assert_int_eq(
                deliver(&b, items[i].message_id, items[i].content, items[i].content_len),
                SESSION_RECV_DUPLICATE);
    /* a replay of the same ciphertext under a fresh id: libsignal's duplicate */
    uint8_t fresh[16];
    memset(fresh, 0xEE, 16);
    ck_assert_int_eq(deliver(&b, fresh, items[3].content, items[3].content_len),
                     SESSION_RECV_DUPLICATE);
    ck_assert_uint_eq(inbox_count(&b), 7);

    /* B answers: A decrypts, and A's next message is a plain SignalMessage */
    send_text(&b, &a, NULL, 100);
    struct ks_outbox_item *back = NULL;
    ck_assert_uint_eq(take_outbox(&b, &back), 1);
    ck_assert_int_eq(deliver(&a, back[0].message_id, back[0].content, back[0].content_len),
                     SESSION_RECV_STORED);
    ck_assert(inbox_has(&a, "message 100", b.addr));
    keystore_outbox_free(back, 1);

    keystore_outbox_free(items, 8);
    agent_close(&a);
    agent_close(&b);
}
END_TEST

START_TEST(test_bundle_identity_mismatch_rejected)
{
    struct agent a, b, c;
    struct wire_bundle bundle;
    size_t n = 0;
    bool exists = true;
    uint8_t key[33];
    agent_open(&a, "ma");
    agent_open(&b, "mb");
    agent_open(&c, "mc");

    /* The relay answers B's address with C's bundle. */
    ck_assert_int_eq(session_local_bundle(c.s, true, &bundle), SP_OK);
    uint8_t mid[16];
    mid_of(mid, 1);
    ck_assert_int_eq(session_send_local(a.s, b.addr, &bundle, (const uint8_t *)"hi", 2, mid, 0),
                     SP_ERR_IDENTITY_MISMATCH);
    ck_assert_int_eq(session_exists(a.s, b.addr, &exists), SP_OK);
    ck_assert(!exists);
    ck_assert_int_eq(keystore_session_count(a.ks, &n), SP_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(keystore_outbox_count(a.ks, &n), SP_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(keystore_peer_identity(a.ks, b.addr, key), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(keystore_peer_identity(a.ks, c.addr, key), SP_ERR_NOT_FOUND);

    /* A bundle with a bad signed-prekey signature changes nothing either. */
    ck_assert_int_eq(session_local_bundle(b.s, true, &bundle), SP_OK);
    bundle.signed_prekey.signature[5] ^= 1;
    ck_assert_int_eq(session_send_local(a.s, b.addr, &bundle, (const uint8_t *)"hi", 2, mid, 0),
                     SP_ERR_BAD_SIGNATURE);
    ck_assert_int_eq(keystore_session_count(a.ks, &n), SP_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(keystore_outbox_count(a.ks, &n), SP_OK);
    ck_assert_uint_eq(n, 0);
    /* malformed address */
    ck_assert_int_eq(session_send_local(a.s, "short", &bundle, (const uint8_t *)"hi", 2, mid, 0),
                     SP_ERR_USAGE);

    agent_close(&a);
    agent_close(&b);
    agent_close(&c);
}
END_TEST

START_TEST(test_outbox_failure_rolls_back_ratchet)
{
    struct agent a, b;
    struct wire_bundle bundle;
    struct ks_outbox_item *items = NULL;
    size_t n = 0;
    bool exists = true;
    uint8_t mid[16];
    agent_open(&a, "fa");
    agent_open(&b, "fb");
    ck_assert_int_eq(session_local_bundle(b.s, true, &bundle), SP_OK);

    /* failure during the FIRST send: no session is left behind */
    keystore_test_fail_outbox_insert(a.ks, 1);
    mid_of(mid, 1);
    ck_assert_int_eq(session_send_local(a.s, b.addr, &bundle, (const uint8_t *)"one", 3, mid, 0),
                     SP_ERR_IO);
    ck_assert_int_eq(session_exists(a.s, b.addr, &exists), SP_OK);
    ck_assert(!exists);

    send_text(&a, &b, &bundle, 1);
    signal_buffer *before = record_of(&a, b.addr);
    ck_assert_ptr_nonnull(before);
    /* a later send fails at the outbox insert: the ratchet must not move */
    keystore_test_fail_outbox_insert(a.ks, 1);
    mid_of(mid, 2);
    ck_assert_int_eq(session_send_local(a.s, b.addr, NULL, (const uint8_t *)"two", 3, mid, 0),
                     SP_ERR_IO);
    signal_buffer *after = record_of(&a, b.addr);
    ck_assert_uint_eq(signal_buffer_len(before), signal_buffer_len(after));
    ck_assert_int_eq(memcmp(signal_buffer_data(before), signal_buffer_data(after),
                            signal_buffer_len(after)),
                     0);
    signal_buffer_free(after);
    ck_assert_int_eq(keystore_outbox_count(a.ks, &n), SP_OK);
    ck_assert_uint_eq(n, 1);

    /* the next successful send advances it, and B reads both in order */
    send_text(&a, &b, NULL, 2);
    after = record_of(&a, b.addr);
    ck_assert(signal_buffer_len(before) != signal_buffer_len(after) ||
              memcmp(signal_buffer_data(before), signal_buffer_data(after),
                     signal_buffer_len(after)) != 0);
    signal_buffer_free(after);
    signal_buffer_free(before);
    n = take_outbox(&a, &items);
    ck_assert_uint_eq(n, 2);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(deliver(&b, items[i].message_id, items[i].content, items[i].content_len),
                         SESSION_RECV_STORED);
    ck_assert(inbox_has(&b, "message 1", a.addr));
    ck_assert(inbox_has(&b, "message 2", a.addr));
    keystore_outbox_free(items, n);
    agent_close(&a);
    agent_close(&b);
}
END_TEST

START_TEST(test_bad_envelopes_dropped)
{
    struct agent a, b, c;
    struct wire_bundle bundle;
    struct ks_outbox_item *items = NULL;
    size_t n = 0;
    uint8_t pub[33], priv[32];
    uint32_t reg;
    agent_open(&a, "da");
    agent_open(&b, "db");
    agent_open(&c, "dc");

    /* C starts a session with B, then claims to be A in the sealed layer */
    ck_assert_int_eq(session_local_bundle(b.s, true, &bundle), SP_OK);
    send_text(&c, &b, &bundle, 1);
    n = take_outbox(&c, &items);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(keystore_identity_get(b.ks, pub, priv, &reg), SP_OK);
    struct wire_sealed_content inner;
    ck_assert_int_eq(unseal_envelope(&inner, pub, priv, items[0].content, items[0].content_len),
                     SP_OK);
    ck_assert_uint_eq(inner.type, 3);
    memcpy(inner.sender, a.raw, SP_ADDRESS_LEN);
    struct buf forged;
    buf_init(&forged, SP_HARD_MAX_ENVELOPE_BYTES);
    ck_assert_int_eq(seal_envelope(&forged, pub, &inner), SP_OK);
    uint8_t mid[16];
    memset(mid, 0x11, 16);
    ck_assert_int_eq(deliver(&b, mid, forged.data, forged.len), SESSION_RECV_DROPPED);
    buf_reset(&forged);
    /* wrong type hint */
    memcpy(inner.sender, c.raw, SP_ADDRESS_LEN);
    inner.type = 2;
    ck_assert_int_eq(seal_envelope(&forged, pub, &inner), SP_OK);
    memset(mid, 0x12, 16);
    ck_assert_int_eq(deliver(&b, mid, forged.data, forged.len), SESSION_RECV_DROPPED);
    buf_free(&forged);
    wire_sealed_content_free(&inner);
    sp_wipe(priv, sizeof(priv));
    ck_assert_uint_eq(inbox_count(&b), 0);
    size_t sessions = 9;
    ck_assert_int_eq(keystore_session_count(b.ks, &sessions), SP_OK);
    ck_assert_uint_eq(sessions, 0);

    /* tampered sealed bytes: dropped, nothing stored, id remembered */
    uint8_t *copy = malloc(items[0].content_len);
    memcpy(copy, items[0].content, items[0].content_len);
    copy[items[0].content_len / 2] ^= 0x40;
    memset(mid, 0x13, 16);
    ck_assert_int_eq(deliver(&b, mid, copy, items[0].content_len), SESSION_RECV_DROPPED);
    ck_assert_int_eq(deliver(&b, mid, copy, items[0].content_len), SESSION_RECV_DUPLICATE);
    /* truncated */
    memset(mid, 0x14, 16);
    ck_assert_int_eq(deliver(&b, mid, copy, 10), SESSION_RECV_DROPPED);
    memset(mid, 0x15, 16);
    ck_assert_int_eq(deliver(&b, mid, copy, 0), SESSION_RECV_DROPPED);
    /* unknown version byte */
    memcpy(copy, items[0].content, items[0].content_len);
    copy[0] = 2;
    memset(mid, 0x16, 16);
    ck_assert_int_eq(deliver(&b, mid, copy, items[0].content_len), SESSION_RECV_DROPPED);
    free(copy);
    ck_assert_uint_eq(inbox_count(&b), 0);

    /* the genuine envelope still works afterwards: nothing was consumed */
    ck_assert_int_eq(deliver(&b, items[0].message_id, items[0].content, items[0].content_len),
                     SESSION_RECV_STORED);
    ck_assert(inbox_has(&b, "message 1", c.addr));
    keystore_outbox_free(items, n);
    agent_close(&a);
    agent_close(&b);
    agent_close(&c);
}
END_TEST

/* An unauthenticated envelope must never tear down a real session: forged
 * SignalMessages claiming to be A, and A's own captured envelope replayed
 * under a new message id, leave B's session with A byte-identical, and A's
 * next genuine message still decrypts. */
START_TEST(test_forged_messages_keep_session)
{
    struct agent a, b, c;
    struct wire_bundle bundle;
    struct ks_outbox_item *first = NULL, *items = NULL, *reply = NULL, *cap = NULL;
    uint8_t pub[33], priv[32], mid[16];
    uint32_t reg;
    agent_open(&a, "fa");
    agent_open(&b, "fb");
    agent_open(&c, "fc");

    /* A <-> B session, confirmed both ways so A now sends SignalMessages */
    ck_assert_int_eq(session_local_bundle(b.s, true, &bundle), SP_OK);
    send_text(&a, &b, &bundle, 1);
    ck_assert_uint_eq(take_outbox(&a, &first), 1);
    ck_assert_int_eq(deliver(&b, first[0].message_id, first[0].content, first[0].content_len),
                     SESSION_RECV_STORED);
    send_text(&b, &a, NULL, 2);
    ck_assert_uint_eq(take_outbox(&b, &reply), 1);
    ck_assert_int_eq(deliver(&a, reply[0].message_id, reply[0].content, reply[0].content_len),
                     SESSION_RECV_STORED);
    send_text(&a, &b, NULL, 3);
    ck_assert_uint_eq(take_outbox(&a, &cap), 1);

    signal_buffer *before = record_of(&b, a.addr);
    ck_assert_ptr_nonnull(before);

    /* 1: A's type-2 ciphertext with a flipped MAC byte, sealed as from A */
    ck_assert_int_eq(keystore_identity_get(b.ks, pub, priv, &reg), SP_OK);
    struct wire_sealed_content inner;
    ck_assert_int_eq(unseal_envelope(&inner, pub, priv, cap[0].content, cap[0].content_len),
                     SP_OK);
    ck_assert_uint_eq(inner.type, 2);
    inner.ciphertext[inner.ciphertext_len - 1] ^= 0x01;
    struct buf forged;
    buf_init(&forged, SP_HARD_MAX_ENVELOPE_BYTES);
    ck_assert_int_eq(seal_envelope(&forged, pub, &inner), SP_OK);
    memset(mid, 0x21, 16);
    ck_assert_int_eq(deliver(&b, mid, forged.data, forged.len), SESSION_RECV_DROPPED);
    inner.ciphertext[inner.ciphertext_len - 1] ^= 0x01;

    /* 2: a SignalMessage from C's own session with B, relabelled as from A */
    ck_assert_int_eq(session_local_bundle(b.s, true, &bundle), SP_OK);
    send_text(&c, &b, &bundle, 4);
    ck_assert_uint_eq(take_outbox(&c, &items), 1);
    struct wire_sealed_content cin;
    ck_assert_int_eq(unseal_envelope(&cin, pub, priv, items[0].content, items[0].content_len),
                     SP_OK);
    memcpy(cin.sender, a.raw, SP_ADDRESS_LEN);
    cin.type = 2;
    buf_reset(&forged);
    ck_assert_int_eq(seal_envelope(&forged, pub, &cin), SP_OK);
    memset(mid, 0x22, 16);
    ck_assert_int_eq(deliver(&b, mid, forged.data, forged.len), SESSION_RECV_DROPPED);
    wire_sealed_content_free(&cin);

    /* 3: A's first (prekey) envelope replayed under a fresh message id */
    keystore_outbox_free(items, 1);
    items = NULL;
    memset(mid, 0x23, 16);
    ck_assert_int_ne(deliver(&b, mid, first[0].content, first[0].content_len),
                     SESSION_RECV_STORED);
    sp_wipe(priv, sizeof(priv));

    signal_buffer *after = record_of(&b, a.addr);
    ck_assert_ptr_nonnull(after);
    ck_assert_uint_eq(signal_buffer_len(before), signal_buffer_len(after));
    ck_assert_mem_eq(signal_buffer_data(before), signal_buffer_data(after),
                     signal_buffer_len(before));
    signal_buffer_free(before);
    signal_buffer_free(after);

    /* A's genuine next message still decrypts under the untouched session */
    ck_assert_int_eq(deliver(&b, cap[0].message_id, cap[0].content, cap[0].content_len),
                     SESSION_RECV_STORED);
    ck_assert(inbox_has(&b, "message 3", a.addr));
    ck_assert(!inbox_has(&b, "message 4", a.addr));
    ck_assert_uint_eq(inbox_count(&b), 2); /* messages 1 and 3, once each */

    buf_free(&forged);
    wire_sealed_content_free(&inner);
    keystore_outbox_free(first, 1);
    keystore_outbox_free(reply, 1);
    keystore_outbox_free(cap, 1);
    agent_close(&a);
    agent_close(&b);
    agent_close(&c);
}
END_TEST

START_TEST(test_prekey_ids_and_rotation)
{
    struct agent a;
    struct wire_prekey pks[100];
    struct wire_signed_prekey s1, s2, cur;
    uint64_t created = 0;
    agent_open(&a, "ka");
    ck_assert_int_eq(keystore_setting_set_u64(a.ks, SS_NEXT_PREKEY_ID, 0xFFFFFD), SP_OK);
    ck_assert_int_eq(session_prekeys_generate(a.s, 4, pks), SP_OK);
    ck_assert_uint_eq(pks[0].id, 0xFFFFFD);
    ck_assert_uint_eq(pks[1].id, 0xFFFFFE);
    ck_assert_uint_eq(pks[2].id, 1); /* wraps, never 0 and never 0xFFFFFF */
    ck_assert_uint_eq(pks[3].id, 2);
    ck_assert_int_eq(session_prekeys_generate(a.s, 100, pks), SP_OK);
    ck_assert_uint_eq(pks[0].id, 3);
    ck_assert_int_eq(session_prekeys_generate(a.s, 0, pks), SP_ERR_USAGE);
    ck_assert_int_eq(session_prekeys_generate(a.s, 101, pks), SP_ERR_USAGE);

    ck_assert_int_eq(session_signed_prekey_current(a.s, &s1, &created), SP_OK);
    ck_assert_int_eq(session_signed_prekey_rotate(a.s, &s2), SP_OK);
    ck_assert_uint_ne(s1.id, s2.id);
    ck_assert_int_eq(session_signed_prekey_current(a.s, &cur, NULL), SP_OK);
    ck_assert_uint_eq(cur.id, s2.id);
    /* the retired key is kept for the grace period, then pruned */
    size_t pruned = 9;
    ck_assert_int_eq(keystore_spk_prune(a.ks, 0, &pruned), SP_OK);
    ck_assert_uint_eq(pruned, 0);
    ck_assert_int_eq(keystore_spk_created(a.ks, s1.id, &created), SP_OK);
    ck_assert_int_eq(keystore_spk_prune(a.ks, UINT64_C(1) << 40, &pruned), SP_OK);
    ck_assert_uint_eq(pruned, 1);
    ck_assert_int_eq(keystore_spk_created(a.ks, s1.id, &created), SP_ERR_NOT_FOUND);
    ck_assert_int_eq(keystore_spk_created(a.ks, s2.id, &created), SP_OK);
    agent_close(&a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_in_order_out_of_order_duplicates);
    tcase_add_test(tc, test_bundle_identity_mismatch_rejected);
    tcase_add_test(tc, test_outbox_failure_rolls_back_ratchet);
    tcase_add_test(tc, test_bad_envelopes_dropped);
    tcase_add_test(tc, test_forged_messages_keep_session);
    tcase_add_test(tc, test_prekey_ids_and_rotation);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(suite());
}
