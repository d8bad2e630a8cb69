/*
 * test_flush_hol.c: one full mailbox does not hold up the rest of the outbox.
 *
 * The real sealpostd (mailbox_max_messages = 2) and three SDK agents. When
 * the relay refuses a batch with MAILBOX_FULL, its Error.index names the
 * envelope; the SDK holds back every queued envelope for that recipient
 * (they stay queued, in order) and uploads the others in the same flush.
 * Once the recipient drains its mailbox, the next sync delivers the held
 * mail exactly once.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "client/sdk_internal.h"
#include "offline_fixture.h"
#include "testutil.h"

#define MAILBOX_MAX 2

static struct relay g_relay;

static void relay_setup(void)
{
    rh_start(&g_relay, RH_CONF_BASE "mailbox_max_messages = 2\n");
}

static void relay_teardown(void)
{
    if (g_relay.pid != 0)
        rh_stop(&g_relay);
    rh_destroy(&g_relay);
}

/* Every outbox row of a is for `to`, and there are n. */
static void outbox_only_for(struct agent *a, const struct agent *to, size_t n)
{
    struct ks_outbox_item *items = NULL;
    size_t got = outbox_copy(a, &items);
    ck_assert_uint_eq(got, n);
    for (size_t i = 0; i < got; i++)
        ck_assert(memcmp(items[i].recipient, to->raw, SP_ADDRESS_LEN) == 0);
    keystore_outbox_free(items, got);
}

/* Alice, Bob and Carol with sessions; Bob's mailbox full with Alice's mail. */
static void three_agents(struct agent *alice, struct agent *bob, struct agent *carol)
{
    agent_new(bob, "bob", g_relay.base_url, 0, -1);
    agent_new(carol, "carol", g_relay.base_url, 0, -1);
    agent_new(alice, "alice", g_relay.base_url, 0, -1);
    agent_send(alice, carol, "carol hello", 0, NULL);
    for (int i = 0; i < MAILBOX_MAX; i++) {
        char text[32];
        snprintf(text, sizeof text, "bob fill %d", i);
        agent_send(alice, bob, text, 0, NULL);
    }
    ck_assert_uint_eq(agent_sync(carol).received, 1);
}

START_TEST(sync_skips_full_mailbox_and_delivers_the_rest)
{
    struct agent alice, bob, carol;
    struct inbox_snap s;
    three_agents(&alice, &bob, &carol);

    /* Queue Bob, Carol, Bob while the relay is down, so one flush meets
     * Bob's full mailbox first. */
    rh_stop(&g_relay);
    agent_send(&alice, &bob, "bob held 0", 1, NULL);
    agent_send(&alice, &carol, "carol 1", 1, NULL);
    agent_send(&alice, &bob, "bob held 1", 1, NULL);
    ck_assert_uint_eq(state_rows(alice.dir, "outbox"), 3);
    rh_restart(&g_relay);

    sealpost_sync_stats st = agent_sync(&alice);
    ck_assert_uint_eq(st.uploaded, 1);
    ck_assert_uint_eq(st.failed, 0);
    ck_assert_uint_eq(st.queued, 2);
    outbox_only_for(&alice, &bob, 2); /* held, not dropped */

    ck_assert_uint_eq(agent_sync(&carol).received, 1);
    inbox_snap(&carol, &s);
    ck_assert_uint_eq(inbox_count_body(&s, "carol 1"), 1);
    inbox_snap_free(&s);

    /* Still full: a second sync changes nothing and drops nothing. */
    st = agent_sync(&alice);
    ck_assert_uint_eq(st.uploaded, 0);
    ck_assert_uint_eq(st.failed, 0);
    outbox_only_for(&alice, &bob, 2);

    /* Bob drains (fetch + ack); the next sync delivers, in order, once. */
    ck_assert_uint_eq(agent_sync(&bob).received, MAILBOX_MAX);
    st = agent_sync(&alice);
    ck_assert_uint_eq(st.uploaded, 2);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(state_rows(alice.dir, "outbox"), 0);
    ck_assert_uint_eq(agent_sync(&bob).received, 2);
    ck_assert_uint_eq(agent_sync(&alice).uploaded, 0);
    ck_assert_uint_eq(agent_sync(&bob).received, 0);
    inbox_snap(&bob, &s);
    ck_assert_uint_eq(inbox_count_body(&s, "bob held 0"), 1);
    ck_assert_uint_eq(inbox_count_body(&s, "bob held 1"), 1);
    size_t i0 = s.n, i1 = s.n;
    for (size_t i = 0; i < s.n; i++) {
        if (s.v[i]->body_len == 10 && memcmp(s.v[i]->body, "bob held 0", 10) == 0)
            i0 = i;
        if (s.v[i]->body_len == 10 && memcmp(s.v[i]->body, "bob held 1", 10) == 0)
            i1 = i;
    }
    ck_assert_uint_lt(i0, i1); /* queue order kept */
    inbox_snap_free(&s);

    agent_free(&alice);
    agent_free(&bob);
    agent_free(&carol);
}
END_TEST

/* sealpost_send to Carol is not queued behind Bob's held mail; the held
 * message itself reports queued = 1 and stays in the outbox. */
START_TEST(send_not_blocked_by_full_mailbox)
{
    struct agent alice, bob, carol;
    struct inbox_snap s;
    three_agents(&alice, &bob, &carol);

    agent_send(&alice, &bob, "bob over quota", 1, NULL);
    outbox_only_for(&alice, &bob, 1);
    agent_send(&alice, &carol, "carol direct", 0, NULL);
    outbox_only_for(&alice, &bob, 1);
    ck_assert_uint_eq(agent_sync(&carol).received, 1);
    inbox_snap(&carol, &s);
    ck_assert_uint_eq(inbox_count_body(&s, "carol direct"), 1);
    inbox_snap_free(&s);

    ck_assert_uint_eq(agent_sync(&bob).received, MAILBOX_MAX);
    ck_assert_uint_eq(agent_sync(&alice).uploaded, 1);
    ck_assert_uint_eq(agent_sync(&bob).received, 1);
    inbox_snap(&bob, &s);
    ck_assert_uint_eq(inbox_count_body(&s, "bob over quota"), 1);
    inbox_snap_free(&s);

    agent_free(&alice);
    agent_free(&bob);
    agent_free(&carol);
}
END_TEST

static Suite *flush_hol_suite(void)
{
    Suite *s = suite_create("flush_hol");
    TCase *tc = tcase_create("hol");
    tcase_add_checked_fixture(tc, relay_setup, relay_teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, sync_skips_full_mailbox_and_delivers_the_rest);
    tcase_add_test(tc, send_not_blocked_by_full_mailbox);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    of_global_init();
    int rc = tu_run(flush_hol_suite());
    of_global_cleanup();
    return rc;
}
