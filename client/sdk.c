/*
 * sdk.c: the public API of libsealpost (client/include/sealpost/sealpost.h).
 *
 * A handle owns: the keystore (state dir lock + SQLite), the session engine,
 * and, once a relay URL is known, the transport and the relay client. Every
 * public call takes the handle mutex, so a handle is used by one thread at a
 * time. sp_status values equal sealpost_status values by construction
 * (common/status.h is the wire enum, sealpost.h mirrors it).
 *
 * Flows (DESIGN.md "Client SDK behaviour"):
 *   send: session? -> [bundle -> verify -> build] + encrypt + seal + outbox
 *         in one transaction -> flush outbox. Relay unreachable before a
 *         session exists -> plaintext row in `pending`, *queued = 1.
 *   sync: pending -> outbox; flush outbox; prekey refill / signed prekey
 *         rotation; fetch pages: per page one transaction, a savepoint per
 *         envelope, COMMIT, then ack every processed id.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "client/keystore.h"
#include "client/relay.h"
#include "client/sdk_internal.h"
#include "client/session.h"
#include "client/transport.h"
#include "common/address.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/secmem.h"
#include "sealpost/sealpost.h"

_Static_assert((int)SEALPOST_ERR_INVALID_KEY_ID == (int)SP_ERR_INVALID_KEY_ID &&
                   (int)SEALPOST_ERR_NETWORK == (int)SP_ERR_NETWORK &&
                   (int)SEALPOST_ERR_USAGE == (int)SP_ERR_USAGE,
               "sealpost_status mirrors sp_status");
_Static_assert(SEALPOST_ADDRESS_LEN == SP_ADDRESS_TEXT_LEN, "address text length");
_Static_assert(SEALPOST_MESSAGE_ID_LEN == SP_MESSAGE_ID_LEN, "message id length");

#define SET_SERVER_URL "server_url"
#define SET_CA_FILE    "ca_file"
#define SET_REGISTERED "registered"
#define SET_SPK_UPLOADED "signed_prekey_uploaded"

#define DEF_SPK_ROTATION_S (7u * 24 * 3600)
#define DEF_SPK_GRACE_S    (30u * 24 * 3600)
#define DEF_PREKEY_LOW     25u
#define DEF_PREKEY_TARGET  100u
#define DEF_SEEN_MAX_AGE_S (60u * 24 * 3600)

#define FETCH_PAGE   100u
#define SEND_BATCH   100u

struct sealpost_client {
    pthread_mutex_t mu;
    const struct sp_clock *clock;
    struct keystore *ks;
    struct session *s;
    struct transport *t;
    struct relay *r;
    char *opt_url, *opt_ca, *opt_pin;
    long timeout_ms;
    long relay_prekeys; /* -1 unknown */
    /* batch sizes within the relay's published limits (GET /v1/limits) */
    bool limits_known;
    size_t send_batch, fetch_page;
};

static sealpost_status pub(sp_status st)
{
    return (sealpost_status)st;
}

const char *sealpost_strerror(sealpost_status st)
{
    return sp_strerror((sp_status)st);
}

const char *sealpost_version(void)
{
    return "0.1.0";
}

static char *dup_opt(const char *s)
{
    return s != NULL && *s != '\0' ? strdup(s) : NULL;
}

sealpost_status sdk_open_with_clock(sealpost_client **out, const char *state_dir,
                                    const sealpost_options *opts, const struct sp_clock *clock)
{
    sp_status st = SP_OK;
    sealpost_client *c = NULL;

    if (out == NULL)
        return SEALPOST_ERR_USAGE;
    *out = NULL;
    ENSURE(state_dir != NULL && *state_dir != '\0', SP_ERR_USAGE);
    ENSURE(opts == NULL || opts->struct_size >= offsetof(sealpost_options, timeout_ms) +
                                                     sizeof(opts->timeout_ms),
           SP_ERR_USAGE);
    c = calloc(1, sizeof(*c));
    ENSURE(c != NULL, SP_ERR_NOMEM);
    ENSURE(pthread_mutex_init(&c->mu, NULL) == 0, SP_ERR_INTERNAL);
    c->clock = clock != NULL ? clock : sp_clock_system();
    c->relay_prekeys = -1;
    c->timeout_ms = 30000;
    c->send_batch = SEND_BATCH;
    c->fetch_page = FETCH_PAGE;
    if (opts != NULL) {
        c->opt_url = dup_opt(opts->server_url);
        c->opt_ca = dup_opt(opts->ca_file);
        c->opt_pin = dup_opt(opts->pinned_pubkey);
        ENSURE((opts->server_url == NULL || *opts->server_url == 0 || c->opt_url != NULL) &&
                   (opts->ca_file == NULL || *opts->ca_file == 0 || c->opt_ca != NULL) &&
                   (opts->pinned_pubkey == NULL || *opts->pinned_pubkey == 0 ||
                    c->opt_pin != NULL),
               SP_ERR_NOMEM);
        if (opts->timeout_ms > 0)
            c->timeout_ms = opts->timeout_ms;
    }
    TRY(keystore_open(&c->ks, state_dir, c->clock));
    TRY(session_new(&c->s, c->ks));
    *out = c;
    c = NULL;
out:
    if (c != NULL) {
        session_free(c->s);
        keystore_close(c->ks);
        free(c->opt_url);
        free(c->opt_ca);
        free(c->opt_pin);
        pthread_mutex_destroy(&c->mu);
        free(c);
    }
    return pub(st);
}

sealpost_status sealpost_open(sealpost_client **out, const char *state_dir,
                              const sealpost_options *opts)
{
    return sdk_open_with_clock(out, state_dir, opts, NULL);
}

void sealpost_close(sealpost_client *c)
{
    if (c == NULL)
        return;
    relay_free(c->r);
    transport_free(c->t);
    session_free(c->s);
    keystore_close(c->ks);
    free(c->opt_url);
    free(c->opt_ca);
    free(c->opt_pin);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

struct keystore *sdk_keystore(sealpost_client *c)
{
    return c->ks;
}

struct session *sdk_session(sealpost_client *c)
{
    return c->s;
}

static uint64_t setting_u64(sealpost_client *c, const char *key, uint64_t dflt)
{
    uint64_t v = dflt;
    if (keystore_setting_get_u64(c->ks, key, dflt, &v) != SP_OK)
        v = dflt;
    return v;
}

/* Create the transport + relay client for `url` (or the configured one). */
static sp_status ensure_relay(sealpost_client *c, const char *url)
{
    sp_status st = SP_OK;
    char *stored_url = NULL, *stored_ca = NULL;

    if (url == NULL && c->r != NULL)
        return SP_OK;
    if (url == NULL)
        url = c->opt_url;
    if (url == NULL) {
        st = keystore_setting_get(c->ks, SET_SERVER_URL, &stored_url);
        ENSURE(st != SP_ERR_NOT_FOUND, SP_ERR_USAGE); /* never initialised */
        TRY(st);
        url = stored_url;
    }
    const char *ca = c->opt_ca;
    if (ca == NULL) {
        st = keystore_setting_get(c->ks, SET_CA_FILE, &stored_ca);
        if (st == SP_ERR_NOT_FOUND)
            st = SP_OK;
        TRY(st);
        ca = stored_ca;
    }
    struct transport_config cfg = {
        .base_url = url,
        .ca_file = ca,
        .pinned_pubkey = c->opt_pin,
        .timeout_ms = c->timeout_ms,
        .max_response = 0,
    };
    relay_free(c->r);
    c->r = NULL;
    transport_free(c->t);
    c->t = NULL;
    TRY(transport_new(&c->t, &cfg));
    TRY(relay_new(&c->r, c->t, c->s, c->clock));
out:
    free(stored_url);
    free(stored_ca);
    return st;
}

/* Fit batch sizes to the relay's published limits, once per handle. A relay
 * that does not answer /v1/limits keeps the defaults (its own defaults). */
static sp_status learn_limits(sealpost_client *c)
{
    struct sp_limits l;
    if (c->limits_known)
        return SP_OK;
    sp_status st = relay_limits(c->r, &l);
    if (st == SP_ERR_NETWORK || st == SP_ERR_TLS || st == SP_ERR_NOMEM)
        return st;
    if (st == SP_OK) {
        if (l.max_envelopes_per_request >= 1 && l.max_envelopes_per_request < c->send_batch)
            c->send_batch = l.max_envelopes_per_request;
        if (l.fetch_max_envelopes >= 1 && l.fetch_max_envelopes < c->fetch_page)
            c->fetch_page = l.fetch_max_envelopes;
        if (l.max_ack_ids >= 1 && l.max_ack_ids < c->fetch_page)
            c->fetch_page = l.max_ack_ids;
    }
    c->limits_known = true;
    return SP_OK;
}

/* "The relay cannot be reached right now": queue and retry on the next sync.
 * TLS failures are not in this set: they are reported. */
static bool unreachable(sp_status st)
{
    return st == SP_ERR_NETWORK || st == SP_ERR_UNAVAILABLE;
}

/* Upload the outbox in batches. Permanent per-envelope rejections (unknown
 * recipient, oversized, malformed) are found by retrying the batch one by one
 * and dropped (counted in *failed). A full mailbox is a problem of that one
 * recipient: the relay's Error.index names the envelope, every queued
 * envelope for that recipient is held back for this flush (it stays queued,
 * in order) and the rest of the outbox goes on. Other transient failures
 * (network, rate limit, relay unavailable) stop the flush with their status.
 * If `watch` is non-NULL and that message is dropped, *watch_st gets the
 * relay's reason; if it is held back, the result is SP_ERR_MAILBOX_FULL. */
static bool permanent(sp_status st)
{
    return st == SP_ERR_NOT_FOUND || st == SP_ERR_TOO_LARGE || st == SP_ERR_INVALID_FIELD ||
           st == SP_ERR_MALFORMED || st == SP_ERR_UNSUPPORTED_VERSION || st == SP_ERR_TOO_MANY;
}

/* Refusals that concern one recipient, not the relay or the envelope. */
static bool per_recipient(sp_status st)
{
    return st == SP_ERR_MAILBOX_FULL;
}

/* Recipients held back during one flush. */
struct held_set {
    uint8_t (*addr)[SP_ADDRESS_LEN];
    size_t n, cap;
};

static bool held_has(const struct held_set *h, const uint8_t addr[static SP_ADDRESS_LEN])
{
    for (size_t i = 0; i < h->n; i++)
        if (memcmp(h->addr[i], addr, SP_ADDRESS_LEN) == 0)
            return true;
    return false;
}

static sp_status held_add(struct held_set *h, const uint8_t addr[static SP_ADDRESS_LEN])
{
    if (held_has(h, addr))
        return SP_OK;
    if (h->n == h->cap) {
        size_t cap = h->cap != 0 ? h->cap * 2 : 8;
        uint8_t(*p)[SP_ADDRESS_LEN] = realloc(h->addr, cap * sizeof(*p));
        if (p == NULL)
            return SP_ERR_NOMEM;
        h->addr = p;
        h->cap = cap;
    }
    memcpy(h->addr[h->n++], addr, SP_ADDRESS_LEN);
    return SP_OK;
}

static bool is_watched(const uint8_t *watch, const uint8_t mid[static SP_MESSAGE_ID_LEN])
{
    return watch != NULL && memcmp(watch, mid, SP_MESSAGE_ID_LEN) == 0;
}

static void drop_envelope(const struct ks_outbox_item *it, sp_status why, size_t *failed,
                          const uint8_t *watch, sp_status *watch_st)
{
    SP_LOG_W("sdk: relay rejected a queued envelope (%s); dropped", sp_status_name(why));
    if (watch_st != NULL && is_watched(watch, it->message_id))
        *watch_st = why;
    if (failed != NULL)
        (*failed)++;
}

static sp_status flush_outbox(sealpost_client *c, size_t *uploaded, size_t *failed,
                              const uint8_t *watch, sp_status *watch_st)
{
    sp_status st = SP_OK;
    struct ks_outbox_item *items = NULL;
    struct wire_out_envelope *env = NULL;
    int64_t *ids = NULL;
    size_t *pos = NULL; /* env[k] is items[pos[k]] */
    struct held_set held = {NULL, 0, 0};
    bool watch_held = false;
    int64_t after = 0;
    size_t n = 0;

    env = calloc(SEND_BATCH, sizeof(*env));
    ids = calloc(SEND_BATCH, sizeof(*ids));
    pos = calloc(SEND_BATCH, sizeof(*pos));
    ENSURE(env != NULL && ids != NULL && pos != NULL, SP_ERR_NOMEM);
    for (;;) {
        keystore_outbox_free(items, n);
        items = NULL;
        n = 0;
        /* Rows before `after` were sent, dropped or held back. */
        TRY(keystore_outbox_load(c->ks, after, c->send_batch, &items, &n));
        if (n == 0)
            break;
        after = items[n - 1].id;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (held_has(&held, items[i].recipient)) {
                watch_held |= is_watched(watch, items[i].message_id);
                continue; /* stays queued, behind the held one */
            }
            memcpy(env[m].recipient, items[i].recipient, SP_ADDRESS_LEN);
            memcpy(env[m].message_id, items[i].message_id, SP_MESSAGE_ID_LEN);
            env[m].content = items[i].content;
            env[m].content_len = items[i].content_len;
            ids[m] = items[i].id;
            pos[m] = i;
            m++;
        }
        while (m > 0) {
            struct wire_send_response sr;
            uint32_t bad = 0;
            st = relay_send(c->r, env, m, &sr);
            if (st == SP_OK) {
                TRY(keystore_outbox_delete(c->ks, ids, m));
                if (uploaded != NULL)
                    *uploaded += m;
                break;
            }
            if (per_recipient(st) && relay_error_index(c->r, &bad) && bad < m) {
                /* Nothing of the batch was stored (batches are atomic):
                 * hold that recipient back and send the others again. */
                SP_LOG_I("sdk: a recipient's mailbox is full; their mail stays queued");
                TRY(held_add(&held, env[bad].recipient));
                size_t keep = 0;
                for (size_t k = 0; k < m; k++) {
                    if (held_has(&held, env[k].recipient)) {
                        watch_held |= is_watched(watch, env[k].message_id);
                        continue;
                    }
                    env[keep] = env[k];
                    ids[keep] = ids[k];
                    pos[keep] = pos[k];
                    keep++;
                }
                m = keep;
                st = SP_OK;
                continue;
            }
            if (!permanent(st))
                goto out;
            if (m == 1) {
                /* this envelope can never be delivered */
                drop_envelope(&items[pos[0]], st, failed, watch, watch_st);
                TRY(keystore_outbox_delete(c->ks, ids, 1));
                st = SP_OK;
                break;
            }
            /* isolate the bad envelope(s): one request each */
            for (size_t k = 0; k < m; k++) {
                if (held_has(&held, env[k].recipient)) {
                    watch_held |= is_watched(watch, env[k].message_id);
                    continue;
                }
                st = relay_send(c->r, &env[k], 1, &sr);
                if (st == SP_OK) {
                    if (uploaded != NULL)
                        (*uploaded)++;
                } else if (permanent(st)) {
                    drop_envelope(&items[pos[k]], st, failed, watch, watch_st);
                } else if (per_recipient(st)) {
                    TRY(held_add(&held, env[k].recipient));
                    watch_held |= is_watched(watch, env[k].message_id);
                    continue;
                } else {
                    goto out;
                }
                TRY(keystore_outbox_delete(c->ks, &ids[k], 1));
            }
            st = SP_OK;
            break;
        }
    }
    if (watch_held)
        st = SP_ERR_MAILBOX_FULL; /* the caller's message is still queued */
out:
    keystore_outbox_free(items, n);
    free(held.addr);
    free(env);
    free(ids);
    free(pos);
    return st;
}

static sp_status check_peer(const char *to)
{
    uint8_t raw[SP_ADDRESS_LEN];
    if (to == NULL)
        return SP_ERR_USAGE;
    if (strlen(to) != SP_ADDRESS_TEXT_LEN ||
        sp_address_from_text(raw, to, SP_ADDRESS_TEXT_LEN) != SP_OK)
        return SP_ERR_INVALID_FIELD;
    return SP_OK;
}

/* ------------------------------------------------------------------ init */

sealpost_status sealpost_init(sealpost_client *c, const char *server_url)
{
    sp_status st = SP_OK;
    struct wire_signed_prekey spk;
    struct wire_prekey *pks = NULL;
    uint64_t registered = 0;
    size_t npk = 0;

    if (c == NULL)
        return SEALPOST_ERR_USAGE;
    pthread_mutex_lock(&c->mu);
    if (server_url != NULL && strncmp(server_url, "https://", 8) != 0) {
        st = SP_ERR_USAGE;
        goto out;
    }
    TRY(ensure_relay(c, server_url));
    TRY(session_identity_ensure(c->s));
    st = session_signed_prekey_current(c->s, &spk, NULL);
    if (st == SP_ERR_NOT_FOUND)
        st = session_signed_prekey_rotate(c->s, &spk);
    TRY(st);
    registered = setting_u64(c, SET_REGISTERED, 0);
    if (!registered) {
        npk = setting_u64(c, SDK_SET_PREKEY_TARGET, DEF_PREKEY_TARGET);
        if (npk < 1 || npk > SP_HARD_MAX_PREKEYS_PER_UPLOAD)
            npk = DEF_PREKEY_TARGET;
        pks = calloc(npk, sizeof(*pks));
        ENSURE(pks != NULL, SP_ERR_NOMEM);
        TRY(session_prekeys_generate(c->s, npk, pks));
    }
    /* Idempotent on the relay: re-registering the same identity is a no-op. */
    TRY(relay_register(c->r, &spk, pks, npk));
    TRY(keystore_begin(c->ks));
    const char *url = server_url != NULL ? server_url : c->opt_url;
    if (url != NULL)
        st = keystore_setting_set(c->ks, SET_SERVER_URL, url);
    if (st == SP_OK && c->opt_ca != NULL)
        st = keystore_setting_set(c->ks, SET_CA_FILE, c->opt_ca);
    if (st == SP_OK)
        st = keystore_setting_set_u64(c->ks, SET_REGISTERED, 1);
    if (st == SP_OK)
        st = keystore_setting_set_u64(c->ks, SET_SPK_UPLOADED, spk.id);
    if (st == SP_OK)
        st = keystore_commit(c->ks);
    if (st != SP_OK)
        keystore_rollback(c->ks);
    if (st == SP_OK && npk > 0)
        c->relay_prekeys = -1;
out:
    free(pks);
    pthread_mutex_unlock(&c->mu);
    return pub(st);
}

sealpost_status sealpost_address(sealpost_client *c, char out[SEALPOST_ADDRESS_LEN + 1])
{
    uint8_t raw[SP_ADDRESS_LEN];
    if (c == NULL || out == NULL)
        return SEALPOST_ERR_USAGE;
    pthread_mutex_lock(&c->mu);
    char tmp[SP_ADDRESS_TEXT_LEN + 1];
    sp_status st = session_my_address(c->s, tmp, raw);
    if (st == SP_OK)
        memcpy(out, tmp, sizeof(tmp));
    pthread_mutex_unlock(&c->mu);
    return pub(st);
}

/* ------------------------------------------------------------------ send */

sealpost_status sealpost_send(sealpost_client *c, const char *to, const uint8_t *msg, size_t len,
                              int *queued, uint8_t message_id[SEALPOST_MESSAGE_ID_LEN])
{
    sp_status st = SP_OK, watch_st = SP_OK;
    uint8_t mid[SP_MESSAGE_ID_LEN];
    struct wire_bundle bundle;
    bool exists = false;
    int q = 1;

    if (c == NULL)
        return SEALPOST_ERR_USAGE;
    pthread_mutex_lock(&c->mu);
    TRY(check_peer(to));
    ENSURE(msg != NULL || len == 0, SP_ERR_USAGE);
    ENSURE(len <= SEALPOST_MAX_MESSAGE_LEN, SP_ERR_TOO_LARGE);
    ENSURE(session_has_identity(c->s), SP_ERR_USAGE);
    TRY(ensure_relay(c, NULL));
    TRY(sp_random(mid, sizeof(mid)));
    TRY(session_exists(c->s, to, &exists));
    if (exists) {
        TRY(session_send_local(c->s, to, NULL, msg, len, mid, 0));
    } else {
        st = relay_bundle(c->r, to, &bundle);
        if (unreachable(st)) {
            /* No session and no relay: keep the plaintext (0600 state file)
             * until sync can fetch a bundle. */
            TRY(keystore_pending_insert(c->ks, mid, to, msg, len));
            goto done;
        }
        TRY(st);
        TRY(session_send_local(c->s, to, &bundle, msg, len, mid, 0));
    }
    /* Durably queued. Try to upload now; failing here is not an error. */
    st = learn_limits(c);
    if (st == SP_OK)
        st = flush_outbox(c, NULL, NULL, mid, &watch_st);
    if (st == SP_OK) {
        q = 0;
        if (watch_st != SP_OK) {
            st = watch_st; /* the relay refused this very message for good */
            goto out;
        }
    } else if (!unreachable(st) && st != SP_ERR_RATE_LIMITED && st != SP_ERR_MAILBOX_FULL) {
        SP_LOG_W("sdk: upload deferred (%s)", sp_status_name(st));
    }
    st = SP_OK;
done:
    if (queued != NULL)
        *queued = q;
    if (message_id != NULL)
        memcpy(message_id, mid, SP_MESSAGE_ID_LEN);
out:
    pthread_mutex_unlock(&c->mu);
    return pub(st);
}

/* ------------------------------------------------------------------ sync */

/* pending -> outbox. Stops at the first transient relay failure. */
static sp_status process_pending(sealpost_client *c, sealpost_sync_stats *stats)
{
    sp_status st = SP_OK;
    struct ks_pending_item it;
    struct wire_bundle bundle;
    int64_t after = 0;
    bool exists = false;

    memset(&it, 0, sizeof(it));
    for (;;) {
        keystore_pending_free(&it);
        st = keystore_pending_next(c->ks, after, &it);
        if (st == SP_ERR_NOT_FOUND) {
            st = SP_OK;
            break;
        }
        TRY(st);
        after = it.id;
        TRY(session_exists(c->s, it.recipient, &exists));
        if (exists) {
            st = session_send_local(c->s, it.recipient, NULL, it.body, it.body_len, it.message_id,
                                    it.id);
        } else {
            st = relay_bundle(c->r, it.recipient, &bundle);
            if (st == SP_OK)
                st = session_send_local(c->s, it.recipient, &bundle, it.body, it.body_len,
                                        it.message_id, it.id);
        }
        if (st == SP_OK)
            continue;
        if (st == SP_ERR_NOT_FOUND || st == SP_ERR_IDENTITY_MISMATCH ||
            st == SP_ERR_UNTRUSTED_IDENTITY || st == SP_ERR_BAD_SIGNATURE) {
            SP_LOG_W("sdk: queued message given up (%s)", sp_status_name(st));
            TRY(keystore_pending_delete(c->ks, it.id));
            stats->failed++;
            st = SP_OK;
            continue;
        }
        if (st == SP_ERR_RATE_LIMITED) {
            /* this peer's bundle later; the others (and our inbox) now */
            st = SP_OK;
            continue;
        }
        goto out;
    }
out:
    keystore_pending_free(&it);
    return st;
}

static sp_status maintain_keys(sealpost_client *c)
{
    sp_status st = SP_OK;
    struct wire_prekey *pks = NULL;
    struct wire_signed_prekey spk;
    uint64_t created = 0, now = sp_clock_now(c->clock);
    uint32_t count = 0;

    uint64_t low = setting_u64(c, SDK_SET_PREKEY_LOW, DEF_PREKEY_LOW);
    uint64_t target = setting_u64(c, SDK_SET_PREKEY_TARGET, DEF_PREKEY_TARGET);
    uint64_t rot = setting_u64(c, SDK_SET_SPK_ROTATION_S, DEF_SPK_ROTATION_S);
    uint64_t grace = setting_u64(c, SDK_SET_SPK_GRACE_S, DEF_SPK_GRACE_S);
    if (target < 1 || target > 1000)
        target = DEF_PREKEY_TARGET;

    TRY(relay_prekey_count(c->r, &count));
    c->relay_prekeys = count;
    while (count < low && count < target) {
        size_t n = target - count;
        if (n > SP_HARD_MAX_PREKEYS_PER_UPLOAD)
            n = SP_HARD_MAX_PREKEYS_PER_UPLOAD;
        free(pks);
        pks = calloc(n, sizeof(*pks));
        ENSURE(pks != NULL, SP_ERR_NOMEM);
        TRY(session_prekeys_generate(c->s, n, pks));
        uint32_t after = 0;
        TRY(relay_prekeys_upload(c->r, pks, n, &after));
        ENSURE(after > count, SP_ERR_PROTOCOL);
        count = after;
        c->relay_prekeys = count;
    }

    st = session_signed_prekey_current(c->s, &spk, &created);
    if (st == SP_ERR_NOT_FOUND || (st == SP_OK && now >= created && now - created >= rot))
        st = session_signed_prekey_rotate(c->s, &spk);
    TRY(st);
    if (setting_u64(c, SET_SPK_UPLOADED, 0) != spk.id) {
        TRY(relay_signed_prekey(c->r, &spk));
        TRY(keystore_setting_set_u64(c->ks, SET_SPK_UPLOADED, spk.id));
    }
    TRY(keystore_spk_prune(c->ks, now > grace ? now - grace : 0, NULL));
    TRY(keystore_seen_prune(c->ks, setting_u64(c, SDK_SET_SEEN_MAX_AGE_S, DEF_SEEN_MAX_AGE_S)));
out:
    free(pks);
    return st;
}

static sp_status receive_pages(sealpost_client *c, int wait_s, sealpost_sync_stats *stats)
{
    sp_status st = SP_OK;
    struct wire_fetch f;
    uint64_t after = 0;
    uint8_t(*ids)[SP_MESSAGE_ID_LEN] = NULL;
    bool in_tx = false;
    uint32_t wait = wait_s > 0 ? (uint32_t)wait_s : 0;

    memset(&f, 0, sizeof(f));
    for (;;) {
        wire_fetch_free(&f);
        memset(&f, 0, sizeof(f));
        TRY(relay_fetch(c->r, (uint32_t)c->fetch_page, after, wait, &f));
        wait = 0; /* long-poll only while nothing has arrived */
        if (f.n == 0)
            break;
        free(ids);
        ids = calloc(f.n, sizeof(*ids));
        ENSURE(ids != NULL, SP_ERR_NOMEM);
        size_t received = 0, dropped = 0;
        TRY(keystore_begin(c->ks));
        in_tx = true;
        for (size_t i = 0; i < f.n; i++) {
            enum session_recv_result res;
            TRY(session_receive(c->s, f.envelopes[i].message_id, f.envelopes[i].content,
                                f.envelopes[i].content_len, &res));
            memcpy(ids[i], f.envelopes[i].message_id, SP_MESSAGE_ID_LEN);
            if (res == SESSION_RECV_STORED)
                received++;
            else
                dropped++;
        }
        /* Stored first, acked second: a crash in between means a redelivery
         * that `seen` recognises. */
        TRY(keystore_commit(c->ks));
        in_tx = false;
        stats->received += received;
        stats->dropped += dropped;
        TRY(relay_ack(c->r, (const uint8_t(*)[SP_MESSAGE_ID_LEN])ids, f.n, NULL));
        after = f.cursor;
        if (!f.more)
            break;
    }
out:
    if (in_tx)
        keystore_rollback(c->ks);
    wire_fetch_free(&f);
    free(ids);
    return st;
}

sealpost_status sealpost_sync(sealpost_client *c, int wait_s, sealpost_sync_stats *stats)
{
    sp_status st = SP_OK;
    sealpost_sync_stats local;
    size_t a = 0, b = 0;

    if (c == NULL)
        return SEALPOST_ERR_USAGE;
    memset(&local, 0, sizeof(local));
    pthread_mutex_lock(&c->mu);
    ENSURE(session_has_identity(c->s), SP_ERR_USAGE);
    TRY(ensure_relay(c, NULL));
    TRY(learn_limits(c));
    TRY(process_pending(c, &local));
    st = flush_outbox(c, &local.uploaded, &local.failed, NULL, NULL);
    /* A full mailbox or a rate limit on the way out must not stop us from
     * receiving: the envelopes stay queued for the next sync. */
    if (st == SP_ERR_MAILBOX_FULL || st == SP_ERR_RATE_LIMITED)
        st = SP_OK;
    TRY(st);
    TRY(maintain_keys(c));
    TRY(receive_pages(c, wait_s, &local));
out:
    if (keystore_outbox_count(c->ks, &a) == SP_OK && keystore_pending_count(c->ks, &b) == SP_OK)
        local.queued = a + b;
    if (stats != NULL)
        *stats = local;
    pthread_mutex_unlock(&c->mu);
    return pub(st);
}

/* ----------------------------------------------------------------- inbox */

sealpost_status sealpost_inbox_next(sealpost_client *c, sealpost_message **out)
{
    sealpost_message **v = NULL;
    size_t n = 0;
    if (c == NULL || out == NULL)
        return SEALPOST_ERR_USAGE;
    pthread_mutex_lock(&c->mu);
    sp_status st = keystore_inbox_list(c->ks, 0, 1, &v, &n);
    if (st == SP_OK) {
        *out = n > 0 ? v[0] : NULL;
        free(v);
    }
    pthread_mutex_unlock(&c->mu);
    return pub(st);
}

sealpost_status sealpost_inbox_list(sealpost_client *c, int64_t after_id, size_t max,
                                    sealpost_message ***out, size_t *n)
{
    if (c == NULL || out == NULL || n == NULL || after_id < 0)
        return SEALPOST_ERR_USAGE;
    pthread_mutex_lock(&c->mu);
    sp_status st = keystore_inbox_list(c->ks, after_id, max, out, n);
    pthread_mutex_unlock(&c->mu);
    return pub(st);
}

sealpost_status sealpost_inbox_done(sealpost_client *c, int64_t id)
{
    if (c == NULL)
        return SEALPOST_ERR_USAGE;
    pthread_mutex_lock(&c->mu);
    sp_status st = keystore_inbox_done(c->ks, id);
    pthread_mutex_unlock(&c->mu);
    return pub(st);
}

void sealpost_message_free(sealpost_message *m)
{
    if (m == NULL)
        return;
    sp_free_secret(m->body, m->body_len + 1);
    sp_wipe(m, sizeof(*m));
    free(m);
}

void sealpost_messages_free(sealpost_message **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        sealpost_message_free(v[i]);
    free(v);
}

/* ------------------------------------------------------------------ info */

sealpost_status sealpost_info_get(sealpost_client *c, int ask_relay, sealpost_info *out)
{
    sp_status st = SP_OK;
    sealpost_info info;
    if (c == NULL || out == NULL)
        return SEALPOST_ERR_USAGE;
    memset(&info, 0, sizeof(info));
    pthread_mutex_lock(&c->mu);
    info.registered = setting_u64(c, SET_REGISTERED, 0) != 0;
    info.relay_prekeys = c->relay_prekeys;
    size_t pend = 0;
    TRY(keystore_outbox_count(c->ks, &info.outbox_queued));
    TRY(keystore_pending_count(c->ks, &pend));
    info.outbox_queued += pend;
    TRY(keystore_inbox_count(c->ks, &info.inbox_unread));
    TRY(keystore_session_count(c->ks, &info.sessions));
    if (ask_relay && info.registered) {
        uint32_t count = 0;
        sp_status rst = ensure_relay(c, NULL);
        if (rst == SP_OK)
            rst = relay_prekey_count(c->r, &count);
        if (rst == SP_OK) {
            c->relay_prekeys = count;
            info.relay_prekeys = count;
        } else if (unreachable(rst)) {
            info.relay_prekeys = -1;
        } else {
            st = rst;
            goto out;
        }
    }
    *out = info;
out:
    pthread_mutex_unlock(&c->mu);
    return pub(st);
}
