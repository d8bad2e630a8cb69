/*
 * test_offline_delivery.c: offline delivery end to end. Every test runs the
 * real sealpostd on 127.0.0.1 over verified TLS (tests/integration harness)
 * and real SDK handles (public API, real SQLite state, real libsignal).
 * Internal API use is limited to looking at state (outbox copies, row
 * counts) and to documented tunables set before init.
 *
 *   n_messages_in_order_then_reply  Bob offline; Alice sends N (relay pages of 7);
 *                                   Bob gets all N once, in order; replies
 *   relay_restart_and_crash         SIGTERM and SIGKILL of the relay between send and receive
 *   sender_offline_with_session     outbox flushes on Alice's next sync (after a process restart)
 *   sender_offline_without_session  plaintext waits for a bundle, then goes out
 *   prekeys_exhausted               signed-prekey-only bundles work; refill afterwards
 *   out_of_order_and_duplicates     envelopes re-posted permuted, same-id and new-id replays
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/sdk_internal.h"
#include "common/crypto.h"
#include "offline_fixture.h"
#include "testutil.h"

static struct relay g_relay;

static void relay_setup(void)
{
    /* small fetch pages so N messages take several fetch/commit/ack rounds */
    rh_start(&g_relay, RH_CONF_BASE "fetch_max_envelopes = 7\n");
}

static void relay_teardown(void)
{
    if (g_relay.pid != 0)
        rh_stop(&g_relay);
    rh_destroy(&g_relay);
}

static void text_of(char *out, size_t cap, const char *tag, int i)
{
    snprintf(out, cap, "%s %03d", tag, i);
}

/* Bob's inbox holds exactly `bodies` in this order, each from `from`. */
static void expect_inbox_exactly(struct agent *bob, const struct agent *from, const char *tag,
                                 int n)
{
    struct inbox_snap s;
    inbox_snap(bob, &s);
    ck_assert_uint_eq(s.n, (size_t)n);
    for (int i = 0; i < n; i++) {
        char want[64];
        text_of(want, sizeof want, tag, i);
        ck_assert_uint_eq(s.v[i]->body_len, strlen(want));
        ck_assert_msg(memcmp(s.v[i]->body, want, strlen(want)) == 0, "inbox[%d] is not '%s'", i,
                      want);
        ck_assert_str_eq(s.v[i]->sender, from->addr);
    }
    inbox_snap_free(&s);
}

START_TEST(n_messages_in_order_then_reply)
{
    enum { N = 40 };
    struct agent alice, bob;
    uint8_t mids[N][SEALPOST_MESSAGE_ID_LEN];
    char text[64];

    agent_new(&bob, "bob", g_relay.base_url, 0, -1);
    agent_close(&bob); /* Bob goes offline */
    agent_new(&alice, "alice", g_relay.base_url, 0, -1);
    for (int i = 0; i < N; i++) {
        text_of(text, sizeof text, "offline", i);
        agent_send(&alice, &bob, text, 0, mids[i]);
    }
    sealpost_info ai;
    ck_assert_int_eq(sealpost_info_get(alice.c, 0, &ai), SEALPOST_OK);
    ck_assert_uint_eq(ai.outbox_queued, 0);
    ck_assert_uint_eq(ai.sessions, 1);

    agent_reopen(&bob);
    sealpost_sync_stats st = agent_sync(&bob);
    ck_assert_uint_eq(st.received, N);
    ck_assert_uint_eq(st.dropped, 0);
    expect_inbox_exactly(&bob, &alice, "offline", N);
    /* the message ids the sender got back are the ones the receiver sees */
    struct inbox_snap s;
    inbox_snap(&bob, &s);
    for (int i = 0; i < N; i++)
        ck_assert_mem_eq(s.v[i]->message_id, mids[i], SEALPOST_MESSAGE_ID_LEN);
    inbox_snap_free(&s);

    /* everything was acked: a second sync sees nothing, not even duplicates */
    st = agent_sync(&bob);
    ck_assert_uint_eq(st.received, 0);
    ck_assert_uint_eq(st.dropped, 0);
    expect_inbox_exactly(&bob, &alice, "offline", N);

    /* Bob replies over the session Alice started; Alice receives it */
    agent_send(&bob, &alice, "reply 000", 0, NULL);
    st = agent_sync(&alice);
    ck_assert_uint_eq(st.received, 1);
    expect_inbox_exactly(&alice, &bob, "reply", 1);

    /* the application marks messages done: gone for good, no redelivery */
    inbox_snap(&bob, &s);
    for (size_t i = 0; i < s.n; i++)
        ck_assert_int_eq(sealpost_inbox_done(bob.c, s.v[i]->id), SEALPOST_OK);
    inbox_snap_free(&s);
    sealpost_message *m = (sealpost_message *)&m;
    ck_assert_int_eq(sealpost_inbox_next(bob.c, &m), SEALPOST_OK);
    ck_assert_ptr_null(m);
    st = agent_sync(&bob);
    ck_assert_uint_eq(st.received + st.dropped, 0);

    /* and the conversation continues both ways */
    agent_send(&alice, &bob, "again 000", 0, NULL);
    st = agent_sync(&bob);
    ck_assert_uint_eq(st.received, 1);
    expect_inbox_exactly(&bob, &alice, "again", 1);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

START_TEST(relay_restart_and_crash)
{
    struct agent alice, bob;
    char text[64];
    agent_new(&bob, "bob", g_relay.base_url, 0, -1);
    agent_close(&bob);
    agent_new(&alice, "alice", g_relay.base_url, 0, -1);
    for (int i = 0; i < 3; i++) {
        text_of(text, sizeof text, "restart", i);
        agent_send(&alice, &bob, text, 0, NULL);
    }
    rh_stop(&g_relay); /* orderly restart */
    rh_restart(&g_relay);
    for (int i = 3; i < 6; i++) {
        text_of(text, sizeof text, "restart", i);
        agent_send(&alice, &bob, text, 0, NULL);
    }
    rh_kill9(&g_relay); /* crash: what was acknowledged must have been durable */
    rh_restart(&g_relay);

    agent_reopen(&bob);
    sealpost_sync_stats st = agent_sync(&bob);
    ck_assert_uint_eq(st.received, 6);
    ck_assert_uint_eq(st.dropped, 0);
    expect_inbox_exactly(&bob, &alice, "restart", 6);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

START_TEST(sender_offline_with_session)
{
    struct agent alice, bob;
    char text[64];
    agent_new(&bob, "bob", g_relay.base_url, 0, -1);
    agent_new(&alice, "alice", g_relay.base_url, 0, -1);
    agent_send(&alice, &bob, "online 000", 0, NULL);
    ck_assert_uint_eq(agent_sync(&bob).received, 1);

    rh_stop(&g_relay);
    for (int i = 0; i < 3; i++) {
        text_of(text, sizeof text, "queued", i);
        agent_send(&alice, &bob, text, 1, NULL); /* durably queued, OK */
    }
    sealpost_info ai;
    ck_assert_int_eq(sealpost_info_get(alice.c, 1, &ai), SEALPOST_OK);
    ck_assert_uint_eq(ai.outbox_queued, 3);
    ck_assert_int_eq(ai.relay_prekeys, -1);
    ck_assert_uint_eq(state_rows(alice.dir, "outbox"), 3);
    ck_assert_uint_eq(state_rows(alice.dir, "pending"), 0); /* sealed already, no plaintext */
    /* a sync while the relay is down fails and keeps everything */
    sealpost_sync_stats st;
    ck_assert_int_eq(sealpost_sync(alice.c, 0, &st), SEALPOST_ERR_NETWORK);
    ck_assert_uint_eq(state_rows(alice.dir, "outbox"), 3);

    /* Alice's process restarts while offline; the outbox is on disk */
    agent_close(&alice);
    agent_reopen(&alice);
    rh_restart(&g_relay);
    st = agent_sync(&alice);
    ck_assert_uint_eq(st.uploaded, 3);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.failed, 0);
    ck_assert_uint_eq(state_rows(alice.dir, "outbox"), 0);
    st = agent_sync(&alice);
    ck_assert_uint_eq(st.uploaded, 0); /* nothing sent twice */

    st = agent_sync(&bob);
    ck_assert_uint_eq(st.received, 3);
    ck_assert_uint_eq(st.dropped, 0);
    struct inbox_snap s;
    inbox_snap(&bob, &s);
    ck_assert_uint_eq(s.n, 4);
    ck_assert_uint_eq(inbox_count_body(&s, "online 000"), 1);
    for (int i = 0; i < 3; i++) {
        text_of(text, sizeof text, "queued", i);
        ck_assert_uint_eq(s.v[i + 1]->body_len, strlen(text));
        ck_assert(memcmp(s.v[i + 1]->body, text, strlen(text)) == 0);
    }
    inbox_snap_free(&s);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

START_TEST(sender_offline_without_session)
{
    struct agent alice, bob;
    agent_new(&bob, "bob", g_relay.base_url, 0, -1);
    agent_new(&alice, "alice", g_relay.base_url, 0, -1);
    rh_stop(&g_relay);
    agent_send(&alice, &bob, "first 000", 1, NULL);
    agent_send(&alice, &bob, "first 001", 1, NULL);
    ck_assert_uint_eq(state_rows(alice.dir, "pending"), 2);
    ck_assert_uint_eq(state_rows(alice.dir, "sessions"), 0);
    agent_close(&alice);
    agent_reopen(&alice);
    rh_restart(&g_relay);

    sealpost_sync_stats st = agent_sync(&alice);
    ck_assert_uint_eq(st.uploaded, 2);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(state_rows(alice.dir, "pending"), 0); /* plaintext gone */
    ck_assert_uint_eq(state_rows(alice.dir, "outbox"), 0);
    st = agent_sync(&bob);
    ck_assert_uint_eq(st.received, 2);
    expect_inbox_exactly(&bob, &alice, "first", 2);
    agent_send(&bob, &alice, "back 000", 0, NULL);
    ck_assert_uint_eq(agent_sync(&alice).received, 1);
    expect_inbox_exactly(&alice, &bob, "back", 1);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

START_TEST(prekeys_exhausted)
{
    struct agent bob, s[3];
    char tag[16];
    /* Bob publishes only 2 one-time prekeys and never refills (threshold 0) */
    agent_new(&bob, "bob", g_relay.base_url, 2, 0);
    sealpost_info bi;
    ck_assert_int_eq(sealpost_info_get(bob.c, 1, &bi), SEALPOST_OK);
    ck_assert_int_eq(bi.relay_prekeys, 2);
    agent_close(&bob);
    for (int i = 0; i < 3; i++) {
        snprintf(tag, sizeof tag, "sender%d", i);
        agent_new(&s[i], tag, g_relay.base_url, 0, -1);
        char text[64];
        text_of(text, sizeof text, tag, 0);
        agent_send(&s[i], &bob, text, 0, NULL);
    }
    agent_reopen(&bob);
    ck_assert_int_eq(sealpost_info_get(bob.c, 1, &bi), SEALPOST_OK);
    ck_assert_int_eq(bi.relay_prekeys, 0); /* the third bundle had no one-time prekey */
    sealpost_sync_stats st = agent_sync(&bob);
    ck_assert_uint_eq(st.received, 3);
    ck_assert_uint_eq(st.dropped, 0);
    struct inbox_snap in;
    inbox_snap(&bob, &in);
    ck_assert_uint_eq(in.n, 3);
    for (int i = 0; i < 3; i++) {
        char text[64];
        snprintf(tag, sizeof tag, "sender%d", i);
        text_of(text, sizeof text, tag, 0);
        ck_assert_uint_eq(inbox_count_body(&in, text), 1);
    }
    inbox_snap_free(&in);
    /* the signed-prekey-only session works both ways */
    agent_send(&bob, &s[2], "pong 000", 0, NULL);
    ck_assert_uint_eq(agent_sync(&s[2]).received, 1);
    expect_inbox_exactly(&s[2], &bob, "pong", 1);
    agent_send(&s[2], &bob, "sender2 001", 0, NULL);
    ck_assert_uint_eq(agent_sync(&bob).received, 1);

    /* with the default threshold back, sync refills to the target */
    ck_assert_int_eq(keystore_setting_set_u64(sdk_keystore(bob.c), SDK_SET_PREKEY_LOW, 25), SP_OK);
    ck_assert_int_eq(keystore_setting_set_u64(sdk_keystore(bob.c), SDK_SET_PREKEY_TARGET, 100),
                     SP_OK);
    (void)agent_sync(&bob);
    ck_assert_int_eq(sealpost_info_get(bob.c, 1, &bi), SEALPOST_OK);
    ck_assert_int_eq(bi.relay_prekeys, 100);
    for (int i = 0; i < 3; i++)
        agent_free(&s[i]);
    agent_free(&bob);
}
END_TEST

START_TEST(out_of_order_and_duplicates)
{
    enum { N = 6 };
    static const int order[N] = {5, 3, 0, 1, 4, 2};
    struct agent alice, bob;
    struct courier k;
    struct ks_outbox_item *items = NULL;
    char text[64];
    uint32_t dups = 0;

    agent_new(&bob, "bob", g_relay.base_url, 0, -1);
    agent_new(&alice, "alice", g_relay.base_url, 0, -1);
    agent_send(&alice, &bob, "ooo 000", 0, NULL);
    ck_assert_uint_eq(agent_sync(&bob).received, 1);
    courier_new(&k, &g_relay);

    /* Alice's next N envelopes stay in her outbox (relay down) */
    rh_stop(&g_relay);
    for (int i = 1; i <= N; i++) {
        text_of(text, sizeof text, "ooo", i);
        agent_send(&alice, &bob, text, 1, NULL);
    }
    size_t n = outbox_copy(&alice, &items);
    ck_assert_uint_eq(n, N);
    rh_restart(&g_relay);

    /* a relay (or anyone with an account) delivers them permuted ... */
    for (int i = 0; i < N; i++) {
        const struct ks_outbox_item *it = &items[order[i]];
        ck_assert_int_eq(courier_post(&k, it->recipient, it->message_id, it->content,
                                      it->content_len, &dups),
                         200);
        ck_assert_uint_eq(dups, 0);
    }
    /* ... the same id again (the relay's idempotency absorbs it) ... */
    ck_assert_int_eq(courier_post(&k, items[2].recipient, items[2].message_id, items[2].content,
                                  items[2].content_len, &dups),
                     200);
    ck_assert_uint_eq(dups, 1);
    /* ... and replays of the same ciphertext under fresh ids (reach Bob) */
    for (int j = 0; j < 2; j++) {
        uint8_t fresh[SP_MESSAGE_ID_LEN];
        ck_assert_int_eq(sp_random(fresh, sizeof fresh), SP_OK);
        const struct ks_outbox_item *it = &items[j == 0 ? 0 : 4];
        ck_assert_int_eq(
            courier_post(&k, it->recipient, fresh, it->content, it->content_len, &dups), 200);
    }
    /* Alice's own flush later: every id is already there, nothing new stored */
    sealpost_sync_stats st = agent_sync(&alice);
    ck_assert_uint_eq(st.uploaded, N);
    ck_assert_uint_eq(state_rows(alice.dir, "outbox"), 0);

    st = agent_sync(&bob);
    ck_assert_uint_eq(st.received, N);
    ck_assert_uint_eq(st.dropped, 2);
    struct inbox_snap s;
    inbox_snap(&bob, &s);
    ck_assert_uint_eq(s.n, N + 1);
    for (int i = 0; i <= N; i++) {
        text_of(text, sizeof text, "ooo", i);
        ck_assert_msg(inbox_count_body(&s, text) == 1, "'%s' seen %zu times", text,
                      inbox_count_body(&s, text));
    }
    /* delivered in the relay's order, i.e. the permutation */
    for (int i = 0; i < N; i++) {
        text_of(text, sizeof text, "ooo", order[i] + 1);
        ck_assert(s.v[i + 1]->body_len == strlen(text) &&
                  memcmp(s.v[i + 1]->body, text, strlen(text)) == 0);
    }
    inbox_snap_free(&s);
    /* the session survived the skipped keys and the replays */
    agent_send(&alice, &bob, "ooo 007", 0, NULL);
    ck_assert_uint_eq(agent_sync(&bob).received, 1);
    agent_send(&bob, &alice, "ack 000", 0, NULL);
    ck_assert_uint_eq(agent_sync(&alice).received, 1);
    keystore_outbox_free(items, n);
    courier_free(&k);
    agent_free(&alice);
    agent_free(&bob);
}
END_TEST

static Suite *offline_delivery_suite(void)
{
    Suite *s = suite_create("offline_delivery");
    TCase *tc = tcase_create("e2e");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, relay_setup, relay_teardown);
    tcase_add_test(tc, n_messages_in_order_then_reply);
    tcase_add_test(tc, relay_restart_and_crash);
    tcase_add_test(tc, sender_offline_with_session);
    tcase_add_test(tc, sender_offline_without_session);
    tcase_add_test(tc, prekeys_exhausted);
    tcase_add_test(tc, out_of_order_and_duplicates);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    of_global_init();
    int rc = tu_run(offline_delivery_suite());
    of_global_cleanup();
    return rc;
}
