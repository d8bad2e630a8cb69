/*
 * relay_client.h: a small, real client of the relay API for the integration
 * suites and the load generator.
 *
 * Transport: one libcurl easy handle per struct rc_client, so one keep-alive
 * TLS connection per client; HTTP/1.1; certificate verification always on
 * (CURLOPT_CAINFO = the test certificate). Requests carry protobuf bodies
 * with Content-Type application/x-protobuf unless a test asks otherwise.
 *
 * Identities: real libsignal identity key pairs (Curve25519 / XEdDSA) made
 * with the SDK core's helpers (client/signal_ctx.h);
 * proofs are signed exactly as docs/PROTOCOL.md says: XEdDSA over
 * DOMAIN || 0x00 || payload.
 *
 * Nothing here uses Check: functions return a status or an HTTP code and the
 * suites assert. Thread rules: a struct rc_client is used by one thread at a
 * time; identities may be shared read-only; rc_global_init() once per
 * process before any thread starts.
 */
#ifndef SEALPOST_TESTS_RELAY_CLIENT_H
#define SEALPOST_TESTS_RELAY_CLIENT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/limits.h"
#include "common/status.h"
#include "common/wire.h"

#define RC_PROTOBUF "application/x-protobuf"

/* Process-wide set-up: curl_global_init and the libsignal context used for
 * key generation and signing. Returns 0 or -1. */
int rc_global_init(void);
void rc_global_cleanup(void);

/* ---------------------------------------------------------------- transport */

struct rc_client {
    CURL *h;
    char base_url[64];
    char err[CURL_ERROR_SIZE];
};

struct rc_response {
    CURLcode curl;         /* CURLE_OK when an HTTP answer was received */
    long status;           /* HTTP status, 0 if none */
    struct buf body;       /* owned; rc_response_free() */
    bool has_retry_after;
    uint32_t retry_after;  /* Retry-After header value in seconds */
    char allow[64];        /* Allow header, "" if absent */
    char content_type[64]; /* Content-Type header, "" if absent */
    char www_authenticate[64]; /* WWW-Authenticate header, "" if absent */
    long num_connects;     /* CURLINFO_NUM_CONNECTS: new connections this request made */
    double total_s;        /* CURLINFO_TOTAL_TIME */
};

/* cafile: PEM trust anchor. 0 or -1. */
int rc_client_init(struct rc_client *c, const char *base_url, const char *cafile);
void rc_client_free(struct rc_client *c);

void rc_response_init(struct rc_response *r);
void rc_response_free(struct rc_response *r);

/* One request. method: "GET", "POST", "PUT", "DELETE", ... `content_type`
 * NULL means RC_PROTOBUF when body != NULL and no header otherwise; ""
 * means no Content-Type header even with a body.
 * `bearer` is the 43-character token text or NULL (no Authorization
 * header); `raw_auth` (if non-NULL) is sent verbatim as the Authorization
 * header instead. body may be NULL (no body). Resets *resp first. Returns
 * the curl code (also in resp->curl). */
CURLcode rc_request(struct rc_client *c, struct rc_response *resp, const char *method,
                    const char *path, const char *content_type, const uint8_t *body, size_t len,
                    const char *bearer, const char *raw_auth);

/* Decode resp->body as an Error; returns its code, or -1 if it is not a valid Error. */
int rc_error_code(const struct rc_response *resp, struct wire_error *out);

/* ---------------------------------------------------------------- identities */

struct rc_identity {
    uint8_t priv[32];                   /* identity private key (wiped by _free) */
    uint8_t identity_key[SP_PUBKEY_LEN];
    uint8_t address[SP_ADDRESS_LEN];
    char address_text[SP_ADDRESS_TEXT_LEN + 1];
    uint32_t registration_id;
    struct wire_signed_prekey spk;      /* real key pair, signed by the identity key */
    uint32_t next_prekey_id;            /* next one-time prekey id to hand out */
    char bearer[SP_TOKEN_TEXT_LEN + 1]; /* "" until rc_get_token() succeeded */
};

int rc_identity_new(struct rc_identity *id);
void rc_identity_free(struct rc_identity *id);

/* XEdDSA signature by the identity key over DOMAIN || 0x00 || payload. */
int rc_sign_proof(const struct rc_identity *id, const char *domain, const uint8_t *payload,
                  size_t len, uint8_t sig[static SP_SIGNATURE_LEN]);
/* XEdDSA signature over raw bytes. */
int rc_sign_raw(const struct rc_identity *id, const uint8_t *msg, size_t len,
                uint8_t sig[static SP_SIGNATURE_LEN]);
/* 1 if sig verifies over msg with id's key (curve_verify_signature == 1). */
int rc_verify_raw(const struct rc_identity *id, const uint8_t *msg, size_t len,
                  const uint8_t sig[static SP_SIGNATURE_LEN]);

/* Fill `out` with n one-time prekeys (ids from id->next_prekey_id, advanced). */
int rc_make_prekeys(struct rc_identity *id, struct wire_prekey *out, size_t n);

/* ---------------------------------------------------------------- proofs */

struct rc_register_params {
    size_t n_prekeys;           /* one-time prekeys included in the payload */
    uint64_t timestamp;         /* 0 = now */
    bool fixed_nonce;           /* use `nonce` instead of a random one */
    uint8_t nonce[SP_NONCE_LEN];
    const struct rc_identity *signer; /* NULL = id itself; another identity forges */
    bool corrupt_spk_signature; /* flip one bit of the signed prekey signature */
    uint32_t version;           /* 0 = 1; anything else is sent as is (raw builder) */
};

/* SignedProof(RegisterPayload) bytes for id into *out (caller's buf). */
int rc_build_register(struct buf *out, struct rc_identity *id, const struct rc_register_params *p);

struct rc_token_params {
    uint64_t timestamp;
    bool fixed_nonce;
    uint8_t nonce[SP_NONCE_LEN];
    const struct rc_identity *signer;
};
int rc_build_token(struct buf *out, const struct rc_identity *id, const struct rc_token_params *p);

/* Replace the XEdDSA signature at the end of an encoded SignedProof with the
 * malleated s + L form (still verifies with curve_verify_signature). 0/-1. */
int rc_proof_malleate(struct buf *proof);

/* Re-sign the payload of an encoded SignedProof with a fresh (randomised,
 * canonical) XEdDSA signature by id: same payload and nonce, other
 * signature bytes. 0/-1. */
int rc_proof_resign(struct buf *proof, const struct rc_identity *id, const char *domain);

/* ---------------------------------------------------------------- API calls
 * Each returns the HTTP status (or -1 if no answer arrived); on 200 the
 * decoded result is stored through the out pointer (which may be NULL).
 * `resp`, when non-NULL, receives the raw response (caller frees). */

long rc_register(struct rc_client *c, struct rc_identity *id, size_t n_prekeys,
                 struct wire_register_response *out);
/* Sets id->bearer on success. */
long rc_get_token(struct rc_client *c, struct rc_identity *id);
/* Register (with n_prekeys) and get a token: 0 on success, -1 otherwise. */
int rc_account(struct rc_client *c, struct rc_identity *id, size_t n_prekeys);

long rc_upload_prekeys(struct rc_client *c, struct rc_identity *id, size_t n, uint32_t *count);
long rc_prekey_count(struct rc_client *c, const struct rc_identity *id, uint32_t *count);
long rc_bundle(struct rc_client *c, const struct rc_identity *requester, const char *target_text,
               struct wire_bundle *out, struct rc_response *resp);

/* Fake sealed content: 0x01 || 32 random || bucket random || 16 random.
 * Passes wire_check_sealed; the relay cannot tell it from a real one. */
int rc_fake_sealed(struct buf *out, size_t bucket);

long rc_send(struct rc_client *c, const struct rc_identity *sender,
             const struct wire_out_envelope *env, size_t n, struct wire_send_response *out,
             struct rc_response *resp);
/* limit/after/wait < 0: parameter omitted. */
long rc_fetch(struct rc_client *c, const struct rc_identity *id, long limit, long long after,
              long wait, struct wire_fetch *out, struct rc_response *resp);
long rc_ack(struct rc_client *c, const struct rc_identity *id,
            const uint8_t (*ids)[SP_MESSAGE_ID_LEN], size_t n, uint32_t *deleted);

/* Fetch every pending envelope by paging (no ack); returns the count or -1. */
long rc_count_pending(struct rc_client *c, const struct rc_identity *id);

#endif
