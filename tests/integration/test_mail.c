/*
 * test_mail.c: POST /v1/messages, GET /v1/messages, POST /v1/messages/ack
 * end to end: delivery, multi-recipient batches, idempotent resend, atomic
 * batches (full mailbox, unknown recipient, oversized item), paging,
 * long-poll wake-up and timeout, and durability across SIGTERM and SIGKILL.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/seal.h"
#include "common/crypto.h"
#include "relay_client.h"
#include "relay_harness.h"
#include "testutil.h"

#define MAILBOX_MAX 50

static struct relay g_relay;

static void mail_setup(void)
{
    rh_start(&g_relay, RH_CONF_BASE "mailbox_max_messages = 50\n");
}

static void clamp_setup(void)
{
    rh_start(&g_relay, RH_CONF_BASE "max_wait_s = 2\n");
}

static void relay_teardown(void)
{
    rh_stop(&g_relay);
    rh_destroy(&g_relay);
}

/* A batch under construction: envelopes borrow from their own content bufs. */
struct batch {
    size_t n;
    struct wire_out_envelope env[128];
    struct buf content[128];
};

static void batch_add(struct batch *b, const struct rc_identity *to, size_t bucket)
{
    ck_assert_uint_lt(b->n, 128);
    struct wire_out_envelope *e = &b->env[b->n];
    struct buf *c = &b->content[b->n];
    buf_init(c, SP_HARD_MAX_ENVELOPE_BYTES);
    ck_assert_int_eq(rc_fake_sealed(c, bucket), 0);
    memcpy(e->recipient, to->address, SP_ADDRESS_LEN);
    ck_assert_int_eq(sp_random(e->message_id, SP_MESSAGE_ID_LEN), SP_OK);
    e->content = c->data;
    e->content_len = c->len;
    b->n++;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        buf_free(&b->content[i]);
    b->n = 0;
}

static void send_ok(struct rc_client *c, const struct rc_identity *from,
                    const struct wire_out_envelope *env, size_t n, uint32_t stored,
                    uint32_t dups)
{
    struct wire_send_response sr = {0, 0};
    struct rc_response r;
    rc_response_init(&r);
    long st = rc_send(c, from, env, n, &sr, &r);
    if (st != 200) {
        struct wire_error e;
        int code = rc_error_code(&r, &e);
        ck_abort_msg("send: HTTP %ld code %d (%s)", st, code, code >= 0 ? e.message : "-");
    }
    ck_assert_uint_eq(sr.stored, stored);
    ck_assert_uint_eq(sr.duplicates, dups);
    rc_response_free(&r);
}

static long pending(struct rc_client *c, const struct rc_identity *id)
{
    long n = rc_count_pending(c, id);
    ck_assert_msg(n >= 0, "fetch failed");
    return n;
}

/* Every envelope of b addressed to `to` is pending for `to` with the same bytes. */
static void assert_delivered(struct rc_client *c, const struct rc_identity *to,
                             const struct batch *b)
{
    struct wire_fetch f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(rc_fetch(c, to, -1, 0, 0, &f, NULL), 200);
    size_t want = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (memcmp(b->env[i].recipient, to->address, SP_ADDRESS_LEN) != 0)
            continue;
        want++;
        bool found = false;
        for (size_t j = 0; j < f.n && !found; j++) {
            if (memcmp(f.envelopes[j].message_id, b->env[i].message_id, SP_MESSAGE_ID_LEN) == 0) {
                ck_assert_uint_eq(f.envelopes[j].content_len, b->env[i].content_len);
                ck_assert_mem_eq(f.envelopes[j].content, b->env[i].content,
                                 b->env[i].content_len);
                found = true;
            }
        }
        ck_assert_msg(found, "envelope %zu missing after delivery", i);
    }
    ck_assert_uint_eq(f.n, want);
    wire_fetch_free(&f);
}

START_TEST(test_send_fetch_ack)
{
    struct rc_client c;
    struct rc_identity alice, bob;
    struct batch b;
    struct wire_fetch f;
    uint32_t deleted = 0;
    memset(&b, 0, sizeof b);
    rh_client(&c, &g_relay);
    rh_account(&c, &alice, 0);
    rh_account(&c, &bob, 0);

    batch_add(&b, &bob, 256);
    send_ok(&c, &alice, b.env, 1, 1, 0);

    memset(&f, 0, sizeof f);
    ck_assert_int_eq(rc_fetch(&c, &bob, -1, -1, -1, &f, NULL), 200);
    ck_assert_uint_eq(f.n, 1);
    ck_assert(!f.more);
    ck_assert_mem_eq(f.envelopes[0].message_id, b.env[0].message_id, SP_MESSAGE_ID_LEN);
    ck_assert_uint_eq(f.envelopes[0].content_len, b.env[0].content_len);
    ck_assert_mem_eq(f.envelopes[0].content, b.env[0].content, b.env[0].content_len);
    uint64_t now = (uint64_t)time(NULL);
    ck_assert_uint_eq(f.envelopes[0].received_hour % 3600, 0);
    ck_assert_uint_le(f.envelopes[0].received_hour, now);
    ck_assert_uint_gt(f.envelopes[0].received_hour + 3600, now);
    wire_fetch_free(&f);

    /* The sender's own mailbox is untouched. */
    ck_assert_int_eq(pending(&c, &alice), 0);

    uint8_t ids[2][SP_MESSAGE_ID_LEN];
    memcpy(ids[0], b.env[0].message_id, SP_MESSAGE_ID_LEN);
    ck_assert_int_eq(sp_random(ids[1], SP_MESSAGE_ID_LEN), SP_OK); /* unknown id: ignored */
    ck_assert_int_eq(rc_ack(&c, &bob, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 2, &deleted),
                     200);
    ck_assert_uint_eq(deleted, 1);
    ck_assert_int_eq(pending(&c, &bob), 0);
    ck_assert_int_eq(rc_ack(&c, &bob, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 1, &deleted),
                     200);
    ck_assert_uint_eq(deleted, 0);

    /* Acking someone else's envelope does nothing. */
    batch_free(&b);
    batch_add(&b, &bob, 512);
    send_ok(&c, &alice, b.env, 1, 1, 0);
    memcpy(ids[0], b.env[0].message_id, SP_MESSAGE_ID_LEN);
    ck_assert_int_eq(rc_ack(&c, &alice, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, 1, &deleted),
                     200);
    ck_assert_uint_eq(deleted, 0);
    ck_assert_int_eq(pending(&c, &bob), 1);

    batch_free(&b);
    rc_identity_free(&alice);
    rc_identity_free(&bob);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_real_sealed_roundtrip)
{
    /* A real sealed envelope (client/seal.c) to bob's identity key goes
     * through the relay byte for byte, and only bob's private key opens it. */
    struct rc_client c;
    struct rc_identity alice, bob;
    struct wire_sealed_content inner, opened;
    struct wire_out_envelope env;
    struct buf sealed;
    static const uint8_t ct[] = "libsignal ciphertext stand-in, 3 blocks long....";
    rh_client(&c, &g_relay);
    rh_account(&c, &alice, 0);
    rh_account(&c, &bob, 0);
    memset(&inner, 0, sizeof inner);
    memcpy(inner.sender, alice.address, SP_ADDRESS_LEN);
    inner.sender_device = SP_DEVICE_ID;
    inner.type = 3;
    inner.ciphertext = (uint8_t *)(uintptr_t)ct;
    inner.ciphertext_len = sizeof ct;
    buf_init(&sealed, SP_HARD_MAX_ENVELOPE_BYTES);
    ck_assert_int_eq(seal_envelope(&sealed, bob.identity_key, &inner), SP_OK);
    ck_assert_uint_eq(sealed.len, SP_SEAL_OVERHEAD + SP_SEAL_MIN_BUCKET);
    memcpy(env.recipient, bob.address, SP_ADDRESS_LEN);
    ck_assert_int_eq(sp_random(env.message_id, SP_MESSAGE_ID_LEN), SP_OK);
    env.content = sealed.data;
    env.content_len = sealed.len;
    send_ok(&c, &alice, &env, 1, 1, 0);

    struct wire_fetch f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(rc_fetch(&c, &bob, -1, 0, 0, &f, NULL), 200);
    ck_assert_uint_eq(f.n, 1);
    memset(&opened, 0, sizeof opened);
    ck_assert_int_eq(unseal_envelope(&opened, bob.identity_key, bob.priv, f.envelopes[0].content,
                                     f.envelopes[0].content_len), SP_OK);
    ck_assert_mem_eq(opened.sender, alice.address, SP_ADDRESS_LEN);
    ck_assert_uint_eq(opened.type, 3);
    ck_assert_uint_eq(opened.ciphertext_len, sizeof ct);
    ck_assert_mem_eq(opened.ciphertext, ct, sizeof ct);
    wire_sealed_content_free(&opened);
    /* Alice's key cannot open it. */
    ck_assert_int_ne(unseal_envelope(&opened, alice.identity_key, alice.priv,
                                     f.envelopes[0].content, f.envelopes[0].content_len), SP_OK);
    wire_fetch_free(&f);
    buf_free(&sealed);
    rc_identity_free(&alice);
    rc_identity_free(&bob);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_batch_and_idempotent_resend)
{
    struct rc_client c;
    struct rc_identity alice, bob, carol, dave;
    struct batch b;
    memset(&b, 0, sizeof b);
    rh_client(&c, &g_relay);
    rh_account(&c, &alice, 0);
    rh_account(&c, &bob, 0);
    rh_account(&c, &carol, 0);
    rh_account(&c, &dave, 0);
    batch_add(&b, &bob, 256);
    batch_add(&b, &carol, 1024);
    batch_add(&b, &bob, 4096);
    batch_add(&b, &dave, 256);
    batch_add(&b, &carol, 256);
    batch_add(&b, &bob, 65536);
    send_ok(&c, &alice, b.env, b.n, 6, 0);
    assert_delivered(&c, &bob, &b);
    assert_delivered(&c, &carol, &b);
    assert_delivered(&c, &dave, &b);

    /* Retry of the whole request: all duplicates, nothing stored twice. */
    send_ok(&c, &alice, b.env, b.n, 0, 6);
    ck_assert_int_eq(pending(&c, &bob), 3);
    ck_assert_int_eq(pending(&c, &carol), 2);
    ck_assert_int_eq(pending(&c, &dave), 1);

    /* Overlapping retry: two old, one new. */
    batch_add(&b, &dave, 256);
    send_ok(&c, &alice, b.env + 4, 3, 1, 2);
    ck_assert_int_eq(pending(&c, &dave), 2);
    assert_delivered(&c, &dave, &b);

    /* The same message id to another recipient is a different envelope. */
    struct batch b2;
    memset(&b2, 0, sizeof b2);
    batch_add(&b2, &carol, 256);
    memcpy(b2.env[0].message_id, b.env[0].message_id, SP_MESSAGE_ID_LEN); /* bob's id */
    send_ok(&c, &alice, b2.env, 1, 1, 0);
    ck_assert_int_eq(pending(&c, &carol), 3);

    batch_free(&b);
    batch_free(&b2);
    rc_identity_free(&alice);
    rc_identity_free(&bob);
    rc_identity_free(&carol);
    rc_identity_free(&dave);
    rc_client_free(&c);
}
END_TEST

static void expect_send_error(struct rc_client *c, const struct rc_identity *from,
                              const struct batch *b, long http, sp_status code, int index)
{
    struct rc_response r;
    struct wire_error e;
    rc_response_init(&r);
    long st = rc_send(c, from, b->env, b->n, NULL, &r);
    int got = rc_error_code(&r, &e);
    ck_assert_msg(st == http && got == (int)code, "send: want %ld %s, got %ld code %d (%s)",
                  http, sp_status_name(code), st, got, got >= 0 ? e.message : "-");
    if (index >= 0) {
        ck_assert_msg(e.has_index, "Error.index missing");
        ck_assert_uint_eq(e.index, (unsigned)index);
    }
    rc_response_free(&r);
}

START_TEST(test_atomic_batches)
{
    struct rc_client c;
    struct rc_identity alice, bob, carol, dave, ghost;
    struct batch fill, b;
    memset(&fill, 0, sizeof fill);
    memset(&b, 0, sizeof b);
    rh_client(&c, &g_relay);
    rh_account(&c, &alice, 0);
    rh_account(&c, &bob, 0);
    rh_account(&c, &carol, 0);
    rh_account(&c, &dave, 0);
    ck_assert_int_eq(rc_identity_new(&ghost), 0);

    for (int i = 0; i < MAILBOX_MAX - 1; i++)
        batch_add(&fill, &carol, 256);
    send_ok(&c, &alice, fill.env, fill.n, MAILBOX_MAX - 1, 0);
    ck_assert_int_eq(pending(&c, &carol), MAILBOX_MAX - 1);

    /* Item 3 is carol's 51st envelope: the whole batch is refused. */
    batch_add(&b, &bob, 256);
    batch_add(&b, &bob, 256);
    batch_add(&b, &carol, 256);
    batch_add(&b, &carol, 256);
    batch_add(&b, &dave, 256);
    expect_send_error(&c, &alice, &b, 507, SP_ERR_MAILBOX_FULL, 3);
    ck_assert_int_eq(pending(&c, &bob), 0);
    ck_assert_int_eq(pending(&c, &carol), MAILBOX_MAX - 1);
    ck_assert_int_eq(pending(&c, &dave), 0);

    /* A duplicate does not count against the quota. */
    send_ok(&c, &alice, fill.env, 1, 0, 1);

    /* Unknown recipient at index 2: nothing stored. */
    batch_free(&b);
    batch_add(&b, &bob, 256);
    batch_add(&b, &dave, 256);
    batch_add(&b, &ghost, 256);
    expect_send_error(&c, &alice, &b, 404, SP_ERR_NOT_FOUND, 2);
    ck_assert_int_eq(pending(&c, &bob), 0);
    ck_assert_int_eq(pending(&c, &dave), 0);

    /* Room again after an ack: the refused batch now goes through. */
    uint32_t deleted = 0;
    ck_assert_int_eq(rc_ack(&c, &carol, (const uint8_t(*)[SP_MESSAGE_ID_LEN])&fill.env[0].message_id, 1,
                            &deleted), 200);
    ck_assert_uint_eq(deleted, 1);
    batch_free(&b);
    batch_add(&b, &bob, 256);
    batch_add(&b, &carol, 256);
    batch_add(&b, &carol, 256);
    send_ok(&c, &alice, b.env, b.n, 3, 0);
    ck_assert_int_eq(pending(&c, &carol), MAILBOX_MAX);

    batch_free(&fill);
    batch_free(&b);
    rc_identity_free(&alice);
    rc_identity_free(&bob);
    rc_identity_free(&carol);
    rc_identity_free(&dave);
    rc_identity_free(&ghost);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_paging)
{
    struct rc_client c;
    struct rc_identity alice, bob;
    struct batch b;
    memset(&b, 0, sizeof b);
    rh_client(&c, &g_relay);
    rh_account(&c, &alice, 0);
    rh_account(&c, &bob, 0);
    for (int i = 0; i < 25; i++)
        batch_add(&b, &bob, 256);
    send_ok(&c, &alice, b.env, b.n, 25, 0);

    size_t got = 0;
    long long after = 0;
    const size_t page_sizes[] = {10, 10, 5};
    for (int p = 0; p < 3; p++) {
        struct wire_fetch f;
        memset(&f, 0, sizeof f);
        ck_assert_int_eq(rc_fetch(&c, &bob, 10, after, 0, &f, NULL), 200);
        ck_assert_uint_eq(f.n, page_sizes[p]);
        ck_assert(f.more == (p < 2));
        for (size_t i = 0; i < f.n; i++, got++) /* oldest first = batch order */
            ck_assert_mem_eq(f.envelopes[i].message_id, b.env[got].message_id,
                             SP_MESSAGE_ID_LEN);
        ck_assert_uint_gt(f.cursor, (unsigned long long)after);
        after = (long long)f.cursor;
        wire_fetch_free(&f);
    }
    /* Past the end: empty page. */
    struct wire_fetch f;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(rc_fetch(&c, &bob, 10, after, 0, &f, NULL), 200);
    ck_assert_uint_eq(f.n, 0);
    ck_assert(!f.more);
    wire_fetch_free(&f);

    /* Not acked: starting over returns the first page again. */
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(rc_fetch(&c, &bob, 1, 0, 0, &f, NULL), 200);
    ck_assert_uint_eq(f.n, 1);
    ck_assert_mem_eq(f.envelopes[0].message_id, b.env[0].message_id, SP_MESSAGE_ID_LEN);
    wire_fetch_free(&f);

    uint8_t(*ids)[SP_MESSAGE_ID_LEN] = calloc(b.n, SP_MESSAGE_ID_LEN);
    for (size_t i = 0; i < b.n; i++)
        memcpy(ids[i], b.env[i].message_id, SP_MESSAGE_ID_LEN);
    uint32_t deleted = 0;
    ck_assert_int_eq(rc_ack(&c, &bob, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, b.n, &deleted), 200);
    ck_assert_uint_eq(deleted, 25);
    ck_assert_int_eq(pending(&c, &bob), 0);
    free(ids);

    batch_free(&b);
    rc_identity_free(&alice);
    rc_identity_free(&bob);
    rc_client_free(&c);
}
END_TEST

struct poller {
    const struct rc_identity *who;
    long wait;
    long status;
    size_t n;
    uint8_t first_id[SP_MESSAGE_ID_LEN];
    uint64_t elapsed_ms;
};

static uint64_t now_ms(void)
{
    return rp_now_ms();
}

static void *poll_main(void *arg)
{
    struct poller *p = arg;
    struct rc_client c;
    struct wire_fetch f;
    memset(&f, 0, sizeof f);
    if (rc_client_init(&c, g_relay.base_url, rh_cert_path()) != 0) {
        p->status = -100;
        return NULL;
    }
    uint64_t t0 = now_ms();
    p->status = rc_fetch(&c, p->who, -1, 0, p->wait, &f, NULL);
    p->elapsed_ms = now_ms() - t0;
    p->n = f.n;
    if (f.n > 0)
        memcpy(p->first_id, f.envelopes[0].message_id, SP_MESSAGE_ID_LEN);
    wire_fetch_free(&f);
    rc_client_free(&c);
    return NULL;
}

START_TEST(test_longpoll_wakeup)
{
    struct rc_client c;
    struct rc_identity alice, bob;
    struct batch b;
    pthread_t th;
    struct poller p;
    memset(&b, 0, sizeof b);
    memset(&p, 0, sizeof p);
    rh_client(&c, &g_relay);
    rh_account(&c, &alice, 0);
    rh_account(&c, &bob, 0);
    batch_add(&b, &bob, 256);
    p.who = &bob;
    p.wait = 20;
    ck_assert_int_eq(pthread_create(&th, NULL, poll_main, &p), 0);
    usleep(300 * 1000);
    uint64_t t_send = now_ms();
    send_ok(&c, &alice, b.env, 1, 1, 0);
    pthread_join(th, NULL);
    uint64_t after_send = now_ms() - t_send;
    ck_assert_int_eq(p.status, 200);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_mem_eq(p.first_id, b.env[0].message_id, SP_MESSAGE_ID_LEN);
    ck_assert_msg(p.elapsed_ms < 5000, "long-poll took %llu ms to wake",
                  (unsigned long long)p.elapsed_ms);
    ck_assert_msg(after_send < 4000, "long-poll answered %llu ms after the send",
                  (unsigned long long)after_send);

    /* With mail already pending, wait>0 answers at once. */
    memset(&p, 0, sizeof p);
    p.who = &bob;
    p.wait = 20;
    poll_main(&p);
    ck_assert_int_eq(p.status, 200);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_uint_lt(p.elapsed_ms, 3000);

    batch_free(&b);
    rc_identity_free(&alice);
    rc_identity_free(&bob);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_longpoll_timeout)
{
    struct rc_client c;
    struct rc_identity bob, other, alice;
    struct poller p;
    struct batch b;
    memset(&b, 0, sizeof b);
    rh_client(&c, &g_relay);
    rh_account(&c, &bob, 0);
    rh_account(&c, &other, 0);
    rh_account(&c, &alice, 0);
    memset(&p, 0, sizeof p);
    p.who = &bob;
    p.wait = 2;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, poll_main, &p), 0);
    /* Mail for someone else must not end bob's wait with his page. */
    usleep(200 * 1000);
    batch_add(&b, &other, 256);
    send_ok(&c, &alice, b.env, 1, 1, 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(p.status, 200);
    ck_assert_uint_eq(p.n, 0);
    ck_assert_msg(p.elapsed_ms >= 1500 && p.elapsed_ms < 6000,
                  "wait=2 answered after %llu ms", (unsigned long long)p.elapsed_ms);
    batch_free(&b);
    rc_identity_free(&bob);
    rc_identity_free(&other);
    rc_identity_free(&alice);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_longpoll_clamped)
{
    /* Relay with max_wait_s = 2: wait=3600 is clamped, not refused. */
    struct rc_identity bob;
    struct rc_client c;
    struct poller p;
    rh_client(&c, &g_relay);
    rh_account(&c, &bob, 0);
    memset(&p, 0, sizeof p);
    p.who = &bob;
    p.wait = 3600;
    poll_main(&p);
    ck_assert_int_eq(p.status, 200);
    ck_assert_uint_eq(p.n, 0);
    ck_assert_msg(p.elapsed_ms >= 1500 && p.elapsed_ms < 6000,
                  "clamped wait answered after %llu ms", (unsigned long long)p.elapsed_ms);
    rc_identity_free(&bob);
    rc_client_free(&c);
}
END_TEST

START_TEST(test_restart_keeps_mail)
{
    struct relay r;
    struct rc_client c;
    struct rc_identity alice, bob;
    struct batch b;
    memset(&b, 0, sizeof b);
    rh_start(&r, RH_CONF_BASE);
    ck_assert_int_eq(rc_client_init(&c, r.base_url, rh_cert_path()), 0);
    rh_account(&c, &alice, 0);
    rh_account(&c, &bob, 3);
    for (int i = 0; i < 5; i++)
        batch_add(&b, &bob, i == 4 ? 16384 : 256);
    send_ok(&c, &alice, b.env, 3, 3, 0);
    send_ok(&c, &alice, b.env + 3, 2, 2, 0);
    rc_client_free(&c);

    rh_stop(&r); /* asserts a clean exit 0 */
    rh_restart(&r);

    ck_assert_int_eq(rc_client_init(&c, r.base_url, rh_cert_path()), 0);
    assert_delivered(&c, &bob, &b);        /* token survived too */
    ck_assert_uint_eq(rh_prekey_count(&c, &bob), 3);
    rc_client_free(&c);
    rh_stop(&r);
    batch_free(&b);
    rc_identity_free(&alice);
    rc_identity_free(&bob);
    rh_destroy(&r);
}
END_TEST

START_TEST(test_kill9_durability)
{
    struct relay r;
    struct rc_client c;
    struct rc_identity alice, bob;
    struct batch b;
    memset(&b, 0, sizeof b);
    rh_start(&r, RH_CONF_BASE);
    ck_assert_int_eq(rc_client_init(&c, r.base_url, rh_cert_path()), 0);
    rh_account(&c, &alice, 0);
    rh_account(&c, &bob, 0);
    for (int i = 0; i < 20; i++) {
        batch_add(&b, &bob, 1024);
        send_ok(&c, &alice, &b.env[i], 1, 1, 0);
    }
    /* Crash right after the last 200 OK: every acknowledged send must survive. */
    rh_kill9(&r);
    rc_client_free(&c);
    rh_restart(&r);
    ck_assert_int_eq(rc_client_init(&c, r.base_url, rh_cert_path()), 0);
    assert_delivered(&c, &bob, &b);
    rc_client_free(&c);
    rh_stop(&r);
    batch_free(&b);
    rc_identity_free(&alice);
    rc_identity_free(&bob);
    rh_destroy(&r);
}
END_TEST

static Suite *mail_suite(void)
{
    Suite *s = suite_create("integration_mail");
    TCase *tc = tcase_create("mail");
    tcase_add_unchecked_fixture(tc, mail_setup, relay_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_send_fetch_ack);
    tcase_add_test(tc, test_real_sealed_roundtrip);
    tcase_add_test(tc, test_batch_and_idempotent_resend);
    tcase_add_test(tc, test_atomic_batches);
    tcase_add_test(tc, test_paging);
    tcase_add_test(tc, test_longpoll_wakeup);
    tcase_add_test(tc, test_longpoll_timeout);
    suite_add_tcase(s, tc);

    tc = tcase_create("clamp");
    tcase_add_unchecked_fixture(tc, clamp_setup, relay_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_longpoll_clamped);
    suite_add_tcase(s, tc);

    tc = tcase_create("durability");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_restart_keeps_mail);
    tcase_add_test(tc, test_kill9_durability);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    rh_global_init();
    int rc = tu_run(mail_suite());
    rh_global_cleanup();
    return rc;
}
