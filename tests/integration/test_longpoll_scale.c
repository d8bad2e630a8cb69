/*
 * test_longpoll_scale.c: parked long-polls cost a connection, not a thread.
 *
 * The real sealpostd with an HTTP thread pool of 2 holds 200 concurrent
 * GET /v1/messages?wait=30 calls from 200 accounts. A poller thread drives
 * all 200 over one libcurl multi handle (one TLS connection each). While they
 * are parked: /v1/health answers within 1 s, the relay's thread count stays
 * small, a send to one account wakes exactly that poll (with its envelope)
 * within 2 s, and a send to everyone else ends every remaining poll with its
 * own envelope.
 *
 * Thread rules: the multi handle and its easy handles belong to the poller
 * thread; results are published under `mu`. The test thread uses its own
 * rc_client for everything else.
 */
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/secmem.h"
#include "relay_client.h"
#include "relay_harness.h"
#include "testutil.h"

#define N_POLLS    200
#define WAKE_ONE   137
#define MAX_TASKS  20
#define POLL_WAIT  "30"

struct poll_slot {
    CURL *h;
    struct curl_slist *hdrs;
    struct buf body;
    char auth[sizeof "Authorization: Bearer " + SP_TOKEN_TEXT_LEN];
    /* published under poller.mu */
    bool done;
    CURLcode curl;
    long status;
    uint64_t done_ms;
};

struct poller {
    pthread_mutex_t mu;
    CURLM *multi;
    struct poll_slot slot[N_POLLS];
    atomic_bool stop;
    size_t n_done; /* under mu */
    pthread_t thread;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t len = size * n;
    return buf_append(b, (const uint8_t *)p, len) == SP_OK ? len : 0;
}

static void *poller_main(void *arg)
{
    struct poller *pl = arg;
    int running = 1;
    while (!atomic_load(&pl->stop)) {
        if (curl_multi_perform(pl->multi, &running) != CURLM_OK)
            break;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(pl->multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct poll_slot *s = NULL;
            (void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long code = 0;
            (void)curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            pthread_mutex_lock(&pl->mu);
            s->curl = msg->data.result;
            s->status = code;
            s->done = true;
            s->done_ms = rp_now_ms();
            pl->n_done++;
            pthread_mutex_unlock(&pl->mu);
        }
        if (running == 0)
            break;
        (void)curl_multi_poll(pl->multi, NULL, 0, 50, NULL);
    }
    return NULL;
}

static void poller_start(struct poller *pl, const struct relay *r, struct rc_identity *ids)
{
    memset(pl, 0, sizeof *pl);
    pthread_mutex_init(&pl->mu, NULL);
    atomic_init(&pl->stop, false);
    pl->multi = curl_multi_init();
    ck_assert_ptr_nonnull(pl->multi);
    /* one connection per poll: no pipelining, no connection reuse limits */
    curl_multi_setopt(pl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    curl_multi_setopt(pl->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    char url[128];
    snprintf(url, sizeof url, "%s/v1/messages?wait=" POLL_WAIT, r->base_url);
    for (size_t i = 0; i < N_POLLS; i++) {
        struct poll_slot *s = &pl->slot[i];
        buf_init(&s->body, SP_HARD_MAX_BODY_BYTES);
        s->h = curl_easy_init();
        ck_assert_ptr_nonnull(s->h);
        snprintf(s->auth, sizeof s->auth, "Authorization: Bearer %s", ids[i].bearer);
        s->hdrs = curl_slist_append(NULL, s->auth);
        ck_assert_ptr_nonnull(s->hdrs);
        curl_easy_setopt(s->h, CURLOPT_URL, url);
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdrs);
        curl_easy_setopt(s->h, CURLOPT_CAINFO, rh_cert_path());
        curl_easy_setopt(s->h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(s->h, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(s->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->h, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT, 20L);
        curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(s->h, CURLOPT_WRITEDATA, &s->body);
        curl_easy_setopt(s->h, CURLOPT_PRIVATE, (char *)s);
        ck_assert_int_eq(curl_multi_add_handle(pl->multi, s->h), CURLM_OK);
    }
    ck_assert_int_eq(pthread_create(&pl->thread, NULL, poller_main, pl), 0);
}

static void poller_stop(struct poller *pl)
{
    atomic_store(&pl->stop, true);
    curl_multi_wakeup(pl->multi);
    pthread_join(pl->thread, NULL);
    for (size_t i = 0; i < N_POLLS; i++) {
        struct poll_slot *s = &pl->slot[i];
        curl_multi_remove_handle(pl->multi, s->h);
        curl_easy_cleanup(s->h);
        curl_slist_free_all(s->hdrs);
        sp_wipe(s->auth, sizeof s->auth);
        buf_free(&s->body);
    }
    curl_multi_cleanup(pl->multi);
    pthread_mutex_destroy(&pl->mu);
}

static size_t poller_done(struct poller *pl)
{
    pthread_mutex_lock(&pl->mu);
    size_t n = pl->n_done;
    pthread_mutex_unlock(&pl->mu);
    return n;
}

static bool slot_done(struct poller *pl, size_t i)
{
    pthread_mutex_lock(&pl->mu);
    bool d = pl->slot[i].done;
    pthread_mutex_unlock(&pl->mu);
    return d;
}

/* The finished poll i answered 200 with exactly the envelope `id`. Only
 * called once slot i is done: the poller no longer touches its body. */
static void slot_expect(struct poller *pl, size_t i, const uint8_t id[static SP_MESSAGE_ID_LEN])
{
    struct poll_slot *s = &pl->slot[i];
    struct wire_fetch f;
    ck_assert_msg(s->curl == CURLE_OK, "poll %zu: curl %d", i, (int)s->curl);
    ck_assert_msg(s->status == 200, "poll %zu: HTTP %ld", i, s->status);
    ck_assert_int_eq(wire_decode_fetch(&f, NULL, s->body.data, s->body.len), SP_OK);
    ck_assert_msg(f.n == 1, "poll %zu: %zu envelopes", i, f.n);
    ck_assert(memcmp(f.envelopes[0].message_id, id, SP_MESSAGE_ID_LEN) == 0);
    wire_fetch_free(&f);
}

/* sealpost_longpolls_active from GET /metrics, or -1. */
static long active_polls(struct rc_client *c)
{
    struct rc_response r;
    long v = -1;
    rc_response_init(&r);
    if (rc_request(c, &r, "GET", "/metrics", NULL, NULL, 0, NULL, NULL) == CURLE_OK &&
        r.status == 200 && buf_append_u8(&r.body, 0) == SP_OK) {
        const char *p = strstr((const char *)r.body.data, "\nsealpost_longpolls_active ");
        if (p != NULL)
            v = strtol(p + strlen("\nsealpost_longpolls_active "), NULL, 10);
    }
    rc_response_free(&r);
    return v;
}

static unsigned relay_threads(pid_t pid)
{
    char path[64];
    unsigned n = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void send_one(struct rc_client *c, const struct rc_identity *from,
                     const struct rc_identity *to, uint8_t id[static SP_MESSAGE_ID_LEN])
{
    struct wire_out_envelope e;
    struct buf content;
    struct wire_send_response sr = {0, 0};
    buf_init(&content, SP_HARD_MAX_ENVELOPE_BYTES);
    ck_assert_int_eq(rc_fake_sealed(&content, 256), 0);
    memcpy(e.recipient, to->address, SP_ADDRESS_LEN);
    ck_assert_int_eq(sp_random(e.message_id, SP_MESSAGE_ID_LEN), SP_OK);
    e.content = content.data;
    e.content_len = content.len;
    long st = rc_send(c, from, &e, 1, &sr, NULL);
    ck_assert_msg(st == 200, "send: HTTP %ld", st);
    ck_assert_uint_eq(sr.stored, 1);
    memcpy(id, e.message_id, SP_MESSAGE_ID_LEN);
    buf_free(&content);
}

START_TEST(test_200_parked_polls_two_threads)
{
    static struct rc_identity ids[N_POLLS];
    static uint8_t mids[N_POLLS][SP_MESSAGE_ID_LEN];
    static struct poller pl;
    struct relay r;
    struct rc_client c;
    struct rc_identity sender;

    rh_start(&r, "[server]\nthreads = 2\nmax_connections = 2048\n"
                 "max_connections_per_ip = 2048\nconnection_timeout_s = 120\n"
                 "[limits]\nauth_rate_per_minute = 1000000\nmax_wait_s = 60\n");
    rh_client(&c, &r);
    uint64_t t0 = rp_now_ms();
    rh_account(&c, &sender, 0);
    for (size_t i = 0; i < N_POLLS; i++)
        rh_account(&c, &ids[i], 0);
    fprintf(stderr, "longpoll_scale: %d accounts in %llu ms\n", N_POLLS,
            (unsigned long long)(rp_now_ms() - t0));

    poller_start(&pl, &r, ids);
    /* every poll parked (the relay's own gauge), none answered */
    uint64_t deadline = rp_now_ms() + 20000;
    long active = 0;
    while ((active = active_polls(&c)) < N_POLLS && rp_now_ms() < deadline)
        usleep(50 * 1000);
    ck_assert_msg(active == N_POLLS, "only %ld of %d polls parked", active, N_POLLS);
    ck_assert_uint_eq(poller_done(&pl), 0);

    /* parked polls hold no threads */
    unsigned tasks = relay_threads(r.pid);
    fprintf(stderr, "longpoll_scale: relay threads with %d polls parked: %u\n", N_POLLS, tasks);
    ck_assert_msg(tasks < MAX_TASKS, "relay has %u threads with %d polls parked", tasks, N_POLLS);

    /* the relay still answers at once, on a fresh connection */
    struct rc_client fresh;
    rh_client(&fresh, &r);
    struct rc_response resp;
    rc_response_init(&resp);
    uint64_t h0 = rp_now_ms();
    ck_assert_int_eq(rc_request(&fresh, &resp, "GET", "/v1/health", NULL, NULL, 0, NULL, NULL),
                     CURLE_OK);
    uint64_t health_ms = rp_now_ms() - h0;
    ck_assert_int_eq(resp.status, 200);
    ck_assert_msg(health_ms < 1000, "health took %llu ms", (unsigned long long)health_ms);
    rc_response_free(&resp);
    rc_client_free(&fresh);

    /* one send wakes exactly that poll */
    uint64_t s0 = rp_now_ms();
    send_one(&c, &sender, &ids[WAKE_ONE], mids[WAKE_ONE]);
    while (!slot_done(&pl, WAKE_ONE) && rp_now_ms() < s0 + 2000)
        usleep(5 * 1000);
    ck_assert_msg(slot_done(&pl, WAKE_ONE), "poll %d not woken within 2 s", WAKE_ONE);
    slot_expect(&pl, WAKE_ONE, mids[WAKE_ONE]);
    usleep(300 * 1000); /* a wrongly woken neighbour would have answered by now */
    ck_assert_uint_eq(poller_done(&pl), 1);
    ck_assert_int_eq(active_polls(&c), N_POLLS - 1);
    ck_assert_uint_lt(relay_threads(r.pid), MAX_TASKS);

    /* everyone else gets theirs */
    for (size_t i = 0; i < N_POLLS; i++)
        if (i != WAKE_ONE)
            send_one(&c, &sender, &ids[i], mids[i]);
    deadline = rp_now_ms() + 10000;
    while (poller_done(&pl) < N_POLLS && rp_now_ms() < deadline)
        usleep(10 * 1000);
    ck_assert_msg(poller_done(&pl) == N_POLLS, "%zu of %d polls answered", poller_done(&pl),
                  N_POLLS);
    for (size_t i = 0; i < N_POLLS; i++)
        slot_expect(&pl, i, mids[i]);
    ck_assert_int_eq(active_polls(&c), 0);
    fprintf(stderr, "longpoll_scale: total %llu ms\n", (unsigned long long)(rp_now_ms() - t0));

    poller_stop(&pl);
    for (size_t i = 0; i < N_POLLS; i++)
        rc_identity_free(&ids[i]);
    rc_identity_free(&sender);
    rc_client_free(&c);
    rh_stop(&r);
    rh_destroy(&r);
}
END_TEST

static Suite *longpoll_scale_suite(void)
{
    Suite *s = suite_create("longpoll_scale");
    TCase *tc = tcase_create("scale");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_200_parked_polls_two_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    rh_global_init();
    int rc = tu_run(longpoll_scale_suite());
    rh_global_cleanup();
    return rc;
}
