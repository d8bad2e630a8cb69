/*
 * offline_fixture.h: agents (SDK handles with their own state directory)
 * against a real sealpostd started by the integration harness, plus state
 * inspection for the offline-delivery suites.
 *
 * An agent is driven through the public API (sealpost.h). The internal API
 * (sdk_internal.h, keystore.h) is used only to look: outbox contents, state
 * digests, identity keys for crafting adversarial envelopes; and to set
 * documented tunables before init (prekey target / refill threshold).
 *
 * Everything asserts with Check; call from the test thread only.
 */
#ifndef SEALPOST_TESTS_OFFLINE_FIXTURE_H
#define SEALPOST_TESTS_OFFLINE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/keystore.h"
#include "relay_client.h"
#include "relay_harness.h"
#include "sealpost/sealpost.h"

struct agent {
    char *dir;
    char *url; /* relay (or proxy) URL given at init */
    sealpost_client *c;
    char addr[SEALPOST_ADDRESS_LEN + 1];
    uint8_t raw[SP_ADDRESS_LEN];
};

/* Global set-up for main(): harness certs, curl, libsignal for rc_*. */
void of_global_init(void);
void of_global_cleanup(void);

/* Open a fresh agent (not initialised). */
void agent_open(struct agent *a, const char *tag, const char *url);
/* Open + set the one-time prekey target / refill threshold (0: defaults)
 * + sealpost_init against url. */
void agent_new(struct agent *a, const char *tag, const char *url, unsigned prekey_target,
               int refill_below);
/* Close the handle, keep the state (the agent goes offline). */
void agent_close(struct agent *a);
/* Open the same state again (same options). */
void agent_reopen(struct agent *a);
/* Close and delete the state. NULL-safe on a zeroed agent. */
void agent_free(struct agent *a);

/* sealpost_send asserting OK and the expected `queued` (-1: don't care). */
void agent_send(struct agent *a, const struct agent *to, const char *text, int expect_queued,
                uint8_t mid_out[SEALPOST_MESSAGE_ID_LEN]);
/* sealpost_sync(wait 0) asserting OK. */
sealpost_sync_stats agent_sync(struct agent *a);

/* A snapshot of the inbox (every unread message, oldest first). */
struct inbox_snap {
    size_t n;
    sealpost_message **v;
};
void inbox_snap(struct agent *a, struct inbox_snap *out);
void inbox_snap_free(struct inbox_snap *s);
/* How many inbox messages have exactly this body. */
size_t inbox_count_body(const struct inbox_snap *s, const char *body);

/* SHA-256 over the rows of every state table except `seen` (and except
 * `settings`, which holds clock-driven bookkeeping), read through a second
 * SQLite connection on dir/state.db. */
void state_digest(const char *dir, uint8_t out[32]);
/* Row count of one table of dir/state.db. */
size_t state_rows(const char *dir, const char *table);

/* Copy every outbox row of a (the agent keeps them). Free with
 * keystore_outbox_free. */
size_t outbox_copy(struct agent *a, struct ks_outbox_item **items);

/* A registered relay account (rc_identity + rc_client) that posts raw
 * envelopes into anyone's mailbox. The relay authenticates but never
 * records the sender, so this is what any registered party can do. */
struct courier {
    struct rc_client cl;
    struct rc_identity id;
};
void courier_new(struct courier *k, const struct relay *r);
void courier_free(struct courier *k);
/* POST one envelope; returns the HTTP status, *dups the duplicate count. */
long courier_post(struct courier *k, const uint8_t recipient[static SP_ADDRESS_LEN],
                  const uint8_t message_id[static SP_MESSAGE_ID_LEN], const uint8_t *content,
                  size_t len, uint32_t *dups);

/* The test key file next to rh_cert_path(). malloc'd. */
char *of_key_path(void);

#endif
