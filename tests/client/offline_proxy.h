/*
 * offline_proxy.h: a misbehaving relay for the offline-delivery suites: a
 * TLS server on 127.0.0.1 (the harness's test certificate) that forwards
 * HTTP/1.1 requests to a real sealpostd over verified TLS and can
 *   - stall every POST /v1/messages/ack (never forwarded, never answered),
 *     so a client can be killed after its inbox commit and before the relay
 *     deleted anything;
 *   - rewrite GET /v1/bundle/... answers: identity key and signed prekey
 *     replaced by another identity's (a consistent forgery: the signature
 *     verifies under the substituted key), the one-time prekey dropped.
 * It counts what passed through so a test can prove what was (not) sent.
 *
 * Limits: Content-Length bodies only (what sealpostd sends); one upstream
 * connection per client connection; each client connection has its own
 * thread. Not for production, obviously.
 *
 * Threads: the control functions may be called from the test thread while
 * connection threads run; counters and the mode are atomics.
 */
#ifndef SEALPOST_TESTS_OFFLINE_PROXY_H
#define SEALPOST_TESTS_OFFLINE_PROXY_H

#include <stdint.h>

#include "common/wire.h"

struct oproxy;

enum oproxy_mode {
    OPROXY_PASS = 0,
    OPROXY_STALL_ACK = 1,
    OPROXY_SWAP_BUNDLE = 2,
};

enum oproxy_counter {
    OPC_REQUESTS = 0,
    OPC_SENDS,        /* POST /v1/messages forwarded */
    OPC_ACKS_STALLED, /* POST /v1/messages/ack held back */
    OPC_ACKS,         /* POST /v1/messages/ack forwarded */
    OPC_BUNDLES_SWAPPED,
    OPC_COUNT
};

/* Listen on a free loopback port; upstream = the relay's port. cert/key: PEM
 * files of the test certificate (also the trust anchor for upstream). Returns
 * 0 or -1. */
int oproxy_start(struct oproxy **out, uint16_t upstream_port, const char *cert, const char *key);
/* Stop accepting, close every connection, join all threads, free. NULL-safe. */
void oproxy_stop(struct oproxy *p);
/* "https://127.0.0.1:PORT" */
const char *oproxy_url(const struct oproxy *p);
void oproxy_set_mode(struct oproxy *p, enum oproxy_mode m);
/* Point the proxy at another upstream port (relay restarted elsewhere). */
void oproxy_set_upstream(struct oproxy *p, uint16_t upstream_port);
/* The identity key + signed prekey to substitute in OPROXY_SWAP_BUNDLE. */
void oproxy_set_fake_bundle(struct oproxy *p, const uint8_t identity_key[static SP_PUBKEY_LEN],
                            const struct wire_signed_prekey *spk);
unsigned oproxy_count(struct oproxy *p, enum oproxy_counter c);

#endif
