/*
 * relay_client.c: see relay_client.h.
 */
#include "relay_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client/signal_ctx.h"
#include "common/address.h"
#include "common/crypto.h"
#include "common/encoding.h"
#include "common/secmem.h"

#define RC_BODY_CAP (32u * 1024 * 1024)

/* One SDK signal context for the process; its identity helpers are
 * thread-safe (client/signal_ctx.h). */
static struct signal_ctx *g_sig;

int rc_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    if (signal_ctx_new(&g_sig) != SP_OK)
        return -1;
    return 0;
}

void rc_global_cleanup(void)
{
    signal_ctx_free(g_sig);
    g_sig = NULL;
    curl_global_cleanup();
}

/* ---------------------------------------------------------------- transport */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct rc_response *r = ud;
    if (buf_append(&r->body, (const uint8_t *)p, size * n) != SP_OK)
        return 0;
    return size * n;
}

/* Copy a header value (trimmed) if the line starts with `name:`. */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return false;
    size_t i = nl + 1;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    size_t end = len;
    while (end > i && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' '))
        end--;
    size_t n = end - i < cap - 1 ? end - i : cap - 1;
    memcpy(out, line + i, n);
    out[n] = '\0';
    return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct rc_response *r = ud;
    size_t len = size * n;
    char tmp[64];
    if (header_value(p, len, "Retry-After", tmp, sizeof tmp)) {
        char *end = NULL;
        unsigned long v = strtoul(tmp, &end, 10);
        r->has_retry_after = end != tmp && *end == '\0';
        r->retry_after = (uint32_t)v;
    }
    (void)header_value(p, len, "Allow", r->allow, sizeof r->allow);
    (void)header_value(p, len, "Content-Type", r->content_type, sizeof r->content_type);
    (void)header_value(p, len, "WWW-Authenticate", r->www_authenticate,
                       sizeof r->www_authenticate);
    return len;
}

int rc_client_init(struct rc_client *c, const char *base_url, const char *cafile)
{
    memset(c, 0, sizeof *c);
    snprintf(c->base_url, sizeof c->base_url, "%s", base_url);
    c->h = curl_easy_init();
    if (c->h == NULL)
        return -1;
    curl_easy_setopt(c->h, CURLOPT_CAINFO, cafile);
    curl_easy_setopt(c->h, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 90L);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->err);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
    return 0;
}

void rc_client_free(struct rc_client *c)
{
    if (c->h != NULL)
        curl_easy_cleanup(c->h);
    c->h = NULL;
}

void rc_response_init(struct rc_response *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->body, RC_BODY_CAP);
}

void rc_response_free(struct rc_response *r)
{
    buf_free(&r->body);
}

CURLcode rc_request(struct rc_client *c, struct rc_response *resp, const char *method,
                    const char *path, const char *content_type, const uint8_t *body, size_t len,
                    const char *bearer, const char *raw_auth)
{
    char url[512], line[256];
    struct curl_slist *hdrs = NULL;
    CURL *h = c->h;

    buf_reset(&resp->body);
    resp->curl = CURLE_OK;
    resp->status = 0;
    resp->has_retry_after = false;
    resp->retry_after = 0;
    resp->allow[0] = resp->content_type[0] = resp->www_authenticate[0] = '\0';
    resp->num_connects = 0;
    resp->total_s = 0;
    c->err[0] = '\0';

    snprintf(url, sizeof url, "%s%s", c->base_url, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);

    /* Start from a plain GET, then specialise. */
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    bool is_get = strcmp(method, "GET") == 0;
    bool is_head = strcmp(method, "HEAD") == 0;
    bool sends_body = body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
    if (sends_body) {
        static const uint8_t empty[1] = {0};
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body != NULL ? len : 0));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : empty);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    } else if (is_head) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!is_get) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }

    if (content_type != NULL && content_type[0] == '\0') {
        hdrs = curl_slist_append(hdrs, "Content-Type:"); /* send none at all */
    } else if (content_type != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, line);
    } else if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: " RC_PROTOBUF);
    } else if (sends_body) {
        hdrs = curl_slist_append(hdrs, "Content-Type:"); /* drop curl's form default */
    }
    if (raw_auth != NULL) {
        snprintf(line, sizeof line, "Authorization: %s", raw_auth);
        hdrs = curl_slist_append(hdrs, line);
    } else if (bearer != NULL) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", bearer);
        hdrs = curl_slist_append(hdrs, line);
    }
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    resp->curl = curl_easy_perform(h);
    if (resp->curl == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &resp->num_connects);
        curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &resp->total_s);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    return resp->curl;
}

int rc_error_code(const struct rc_response *resp, struct wire_error *out)
{
    struct wire_error tmp;
    struct wire_error *e = out != NULL ? out : &tmp;
    memset(e, 0, sizeof *e);
    if (wire_decode_error(e, resp->body.data, resp->body.len) != SP_OK)
        return -1;
    return (int)e->code;
}

/* ---------------------------------------------------------------- identities */

int rc_identity_new(struct rc_identity *id)
{
    uint8_t spk_priv[SP_PRIVKEY_LEN];
    uint8_t rnd[4];
    int rc = -1;
    memset(id, 0, sizeof *id);
    if (signal_ctx_identity_generate(g_sig, id->identity_key, id->priv) != SP_OK)
        goto out;
    if (sp_address_derive(id->address, id->identity_key) != SP_OK)
        goto out;
    sp_address_to_text(id->address_text, id->address);
    if (sp_random(rnd, sizeof rnd) != SP_OK)
        goto out;
    id->registration_id = 1 + (((uint32_t)rnd[0] << 8 | rnd[1]) & 0x3FFF);
    /* Signed prekey: a real key pair; the relay only ever sees the public half. */
    if (signal_ctx_identity_generate(g_sig, id->spk.public_key, spk_priv) != SP_OK)
        goto out;
    id->spk.id = 1;
    if (rc_sign_raw(id, id->spk.public_key, SP_PUBKEY_LEN, id->spk.signature) != 0)
        goto out;
    id->next_prekey_id = 1;
    rc = 0;
out:
    sp_wipe(spk_priv, sizeof spk_priv);
    if (rc != 0)
        rc_identity_free(id);
    return rc;
}

void rc_identity_free(struct rc_identity *id)
{
    sp_wipe(id, sizeof *id);
}

int rc_sign_raw(const struct rc_identity *id, const uint8_t *msg, size_t len,
                uint8_t sig[static SP_SIGNATURE_LEN])
{
    return signal_ctx_sign(g_sig, sig, id->priv, msg, len) == SP_OK ? 0 : -1;
}

int rc_verify_raw(const struct rc_identity *id, const uint8_t *msg, size_t len,
                  const uint8_t sig[static SP_SIGNATURE_LEN])
{
    return signal_ctx_verify(g_sig, id->identity_key, msg, len, sig, SP_SIGNATURE_LEN) == SP_OK;
}

int rc_sign_proof(const struct rc_identity *id, const char *domain, const uint8_t *payload,
                  size_t len, uint8_t sig[static SP_SIGNATURE_LEN])
{
    struct buf m;
    int rc = -1;
    buf_init(&m, SP_HARD_MAX_BODY_BYTES);
    if (sp_proof_message(&m, domain, payload, len) == SP_OK)
        rc = rc_sign_raw(id, m.data, m.len, sig);
    buf_free(&m);
    return rc;
}

int rc_make_prekeys(struct rc_identity *id, struct wire_prekey *out, size_t n)
{
    uint8_t priv[SP_PRIVKEY_LEN];
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (signal_ctx_identity_generate(g_sig, out[i].public_key, priv) != SP_OK)
            rc = -1;
        out[i].id = id->next_prekey_id++;
    }
    sp_wipe(priv, sizeof priv);
    return rc;
}

/* ---------------------------------------------------------------- proofs */

static uint64_t now_s(void)
{
    return (uint64_t)time(NULL);
}

int rc_build_register(struct buf *out, struct rc_identity *id, const struct rc_register_params *p)
{
    struct wire_register *reg = calloc(1, sizeof *reg);
    struct buf payload;
    uint8_t sig[SP_SIGNATURE_LEN];
    int rc = -1;
    buf_init(&payload, SP_HARD_MAX_BODY_BYTES);
    if (reg == NULL)
        goto out;
    memcpy(reg->identity_key, id->identity_key, SP_PUBKEY_LEN);
    reg->registration_id = id->registration_id;
    reg->device_id = SP_DEVICE_ID;
    reg->signed_prekey = id->spk;
    if (p->corrupt_spk_signature)
        reg->signed_prekey.signature[5] ^= 0x01;
    if (p->n_prekeys > SP_HARD_MAX_PREKEYS_PER_UPLOAD)
        goto out;
    reg->n_prekeys = p->n_prekeys;
    if (rc_make_prekeys(id, reg->prekeys, p->n_prekeys) != 0)
        goto out;
    reg->timestamp = p->timestamp != 0 ? p->timestamp : now_s();
    if (p->fixed_nonce)
        memcpy(reg->nonce, p->nonce, SP_NONCE_LEN);
    else if (sp_random(reg->nonce, SP_NONCE_LEN) != SP_OK)
        goto out;
    if (wire_encode_register_payload(&payload, reg) != SP_OK)
        goto out;
    if (p->version != 0 && p->version != 1) {
        /* protobuf-c writes fields in number order: version (field 1) is first. */
        if (payload.len < 2 || payload.data[0] != 0x08 || payload.data[1] != 0x01 ||
            p->version > 0x7F)
            goto out;
        payload.data[1] = (uint8_t)p->version;
    }
    if (rc_sign_proof(p->signer != NULL ? p->signer : id, SP_DOMAIN_REGISTER, payload.data,
                      payload.len, sig) != 0)
        goto out;
    if (wire_encode_signed_proof(out, payload.data, payload.len, sig) != SP_OK)
        goto out;
    rc = 0;
out:
    free(reg);
    buf_free(&payload);
    return rc;
}

int rc_build_token(struct buf *out, const struct rc_identity *id, const struct rc_token_params *p)
{
    struct wire_token_request tr;
    struct buf payload;
    uint8_t sig[SP_SIGNATURE_LEN];
    int rc = -1;
    memset(&tr, 0, sizeof tr);
    buf_init(&payload, 4096);
    memcpy(tr.address, id->address, SP_ADDRESS_LEN);
    tr.timestamp = p->timestamp != 0 ? p->timestamp : now_s();
    if (p->fixed_nonce)
        memcpy(tr.nonce, p->nonce, SP_NONCE_LEN);
    else if (sp_random(tr.nonce, SP_NONCE_LEN) != SP_OK)
        goto out;
    if (wire_encode_token_payload(&payload, &tr) != SP_OK)
        goto out;
    if (rc_sign_proof(p->signer != NULL ? p->signer : id, SP_DOMAIN_TOKEN, payload.data,
                      payload.len, sig) != 0)
        goto out;
    if (wire_encode_signed_proof(out, payload.data, payload.len, sig) != SP_OK)
        goto out;
    rc = 0;
out:
    buf_free(&payload);
    return rc;
}

int rc_proof_malleate(struct buf *proof)
{
    /* Ed25519 group order L, little endian. s < L, so s + L < 2^254 fits. */
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                  0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    /* protobuf-c writes fields in order: signature (field 2, 64 bytes) is last. */
    if (proof->len < 66 || proof->data[proof->len - 66] != 0x12 ||
        proof->data[proof->len - 65] != SP_SIGNATURE_LEN)
        return -1;
    uint8_t *s = proof->data + proof->len - 32;
    unsigned carry = 0;
    for (size_t i = 0; i < 32; i++) {
        unsigned v = (unsigned)s[i] + L[i] + carry;
        s[i] = (uint8_t)v;
        carry = v >> 8;
    }
    return carry == 0 ? 0 : -1;
}

int rc_proof_resign(struct buf *proof, const struct rc_identity *id, const char *domain)
{
    struct reader r;
    uint8_t tag = 0, sig[SP_SIGNATURE_LEN];
    const uint8_t *payload = NULL;
    uint64_t len = 0;
    struct buf out;
    int rc = -1;
    reader_init(&r, proof->data, proof->len);
    if (reader_u8(&r, &tag) != SP_OK || tag != 0x0a)
        return -1;
    for (unsigned shift = 0; shift < 35; shift += 7) { /* varint length */
        uint8_t b;
        if (reader_u8(&r, &b) != SP_OK)
            return -1;
        len |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0)
            break;
    }
    if (reader_borrow(&r, &payload, (size_t)len) != SP_OK)
        return -1;
    buf_init(&out, proof->cap);
    if (rc_sign_proof(id, domain, payload, (size_t)len, sig) == 0 &&
        wire_encode_signed_proof(&out, payload, (size_t)len, sig) == SP_OK) {
        buf_reset(proof);
        if (buf_append(proof, out.data, out.len) == SP_OK)
            rc = 0;
    }
    buf_free(&out);
    return rc;
}

/* ---------------------------------------------------------------- API calls */

static long status_of(const struct rc_response *r)
{
    return r->curl == CURLE_OK ? r->status : -1;
}

long rc_register(struct rc_client *c, struct rc_identity *id, size_t n_prekeys,
                 struct wire_register_response *out)
{
    struct rc_register_params p;
    struct rc_response r;
    struct buf body;
    long st = -1;
    memset(&p, 0, sizeof p);
    p.n_prekeys = n_prekeys;
    buf_init(&body, SP_HARD_MAX_BODY_BYTES);
    rc_response_init(&r);
    if (rc_build_register(&body, id, &p) != 0)
        goto out;
    rc_request(c, &r, "POST", "/v1/register", NULL, body.data, body.len, NULL, NULL);
    st = status_of(&r);
    if (st == 200 && out != NULL &&
        wire_decode_register_response(out, r.body.data, r.body.len) != SP_OK)
        st = -2;
out:
    buf_free(&body);
    rc_response_free(&r);
    return st;
}

long rc_get_token(struct rc_client *c, struct rc_identity *id)
{
    struct rc_token_params p;
    struct rc_response r;
    struct wire_token_response tr;
    struct buf body;
    long st = -1;
    memset(&p, 0, sizeof p);
    memset(&tr, 0, sizeof tr);
    buf_init(&body, 4096);
    rc_response_init(&r);
    if (rc_build_token(&body, id, &p) != 0)
        goto out;
    rc_request(c, &r, "POST", "/v1/token", NULL, body.data, body.len, NULL, NULL);
    st = status_of(&r);
    if (st == 200) {
        if (wire_decode_token_response(&tr, r.body.data, r.body.len) != SP_OK ||
            base64url_encode(id->bearer, sizeof id->bearer, tr.token, SP_TOKEN_LEN) != SP_OK)
            st = -2;
    }
out:
    sp_wipe(&tr, sizeof tr);
    buf_free(&body);
    buf_free_secret(&r.body);
    return st;
}

int rc_account(struct rc_client *c, struct rc_identity *id, size_t n_prekeys)
{
    if (rc_identity_new(id) != 0)
        return -1;
    if (rc_register(c, id, n_prekeys, NULL) != 200)
        return -1;
    if (rc_get_token(c, id) != 200)
        return -1;
    return 0;
}

long rc_upload_prekeys(struct rc_client *c, struct rc_identity *id, size_t n, uint32_t *count)
{
    struct wire_prekey_upload *up = calloc(1, sizeof *up);
    struct rc_response r;
    struct buf body;
    long st = -1;
    buf_init(&body, SP_HARD_MAX_BODY_BYTES);
    rc_response_init(&r);
    if (up == NULL || n > SP_HARD_MAX_PREKEYS_PER_UPLOAD)
        goto out;
    up->n = n;
    if (rc_make_prekeys(id, up->prekeys, n) != 0 || wire_encode_prekey_upload(&body, up) != SP_OK)
        goto out;
    rc_request(c, &r, "PUT", "/v1/prekeys", NULL, body.data, body.len, id->bearer, NULL);
    st = status_of(&r);
    if (st == 200 && count != NULL && wire_decode_prekey_count(count, r.body.data, r.body.len) != SP_OK)
        st = -2;
out:
    free(up);
    buf_free(&body);
    rc_response_free(&r);
    return st;
}

long rc_prekey_count(struct rc_client *c, const struct rc_identity *id, uint32_t *count)
{
    struct rc_response r;
    long st;
    rc_response_init(&r);
    rc_request(c, &r, "GET", "/v1/prekeys/count", NULL, NULL, 0, id->bearer, NULL);
    st = status_of(&r);
    if (st == 200 && count != NULL && wire_decode_prekey_count(count, r.body.data, r.body.len) != SP_OK)
        st = -2;
    rc_response_free(&r);
    return st;
}

long rc_bundle(struct rc_client *c, const struct rc_identity *requester, const char *target_text,
               struct wire_bundle *out, struct rc_response *resp)
{
    struct rc_response local;
    struct rc_response *r = resp != NULL ? resp : &local;
    char path[128];
    long st;
    if (resp == NULL)
        rc_response_init(&local);
    snprintf(path, sizeof path, "/v1/bundle/%s", target_text);
    rc_request(c, r, "GET", path, NULL, NULL, 0, requester->bearer, NULL);
    st = status_of(r);
    if (st == 200 && out != NULL && wire_decode_bundle(out, NULL, r->body.data, r->body.len) != SP_OK)
        st = -2;
    if (resp == NULL)
        rc_response_free(&local);
    return st;
}

int rc_fake_sealed(struct buf *out, size_t bucket)
{
    buf_reset(out);
    if (buf_reserve(out, SP_SEAL_OVERHEAD + bucket) != SP_OK)
        return -1;
    out->data[0] = SP_SEAL_VERSION;
    if (sp_random(out->data + 1, SP_SEAL_EPHEMERAL_LEN + bucket + SP_SEAL_TAG_LEN) != SP_OK)
        return -1;
    out->len = SP_SEAL_OVERHEAD + bucket;
    return 0;
}

long rc_send(struct rc_client *c, const struct rc_identity *sender,
             const struct wire_out_envelope *env, size_t n, struct wire_send_response *out,
             struct rc_response *resp)
{
    struct rc_response local;
    struct rc_response *r = resp != NULL ? resp : &local;
    struct buf body;
    long st = -1;
    if (resp == NULL)
        rc_response_init(&local);
    buf_init(&body, SP_HARD_MAX_BODY_BYTES + 1024u * 1024);
    if (wire_encode_send(&body, env, n) != SP_OK)
        goto out;
    rc_request(c, r, "POST", "/v1/messages", NULL, body.data, body.len, sender->bearer, NULL);
    st = status_of(r);
    if (st == 200 && out != NULL &&
        wire_decode_send_response(out, r->body.data, r->body.len) != SP_OK)
        st = -2;
out:
    buf_free(&body);
    if (resp == NULL)
        rc_response_free(&local);
    return st;
}

long rc_fetch(struct rc_client *c, const struct rc_identity *id, long limit, long long after,
              long wait, struct wire_fetch *out, struct rc_response *resp)
{
    struct rc_response local;
    struct rc_response *r = resp != NULL ? resp : &local;
    char path[160];
    size_t n = 0;
    char sep = '?';
    long st;
    if (resp == NULL)
        rc_response_init(&local);
    n += (size_t)snprintf(path + n, sizeof path - n, "/v1/messages");
    if (limit >= 0) {
        n += (size_t)snprintf(path + n, sizeof path - n, "%climit=%ld", sep, limit);
        sep = '&';
    }
    if (after >= 0) {
        n += (size_t)snprintf(path + n, sizeof path - n, "%cafter=%lld", sep, after);
        sep = '&';
    }
    if (wait >= 0)
        (void)snprintf(path + n, sizeof path - n, "%cwait=%ld", sep, wait);
    rc_request(c, r, "GET", path, NULL, NULL, 0, id->bearer, NULL);
    st = status_of(r);
    if (st == 200 && out != NULL && wire_decode_fetch(out, NULL, r->body.data, r->body.len) != SP_OK)
        st = -2;
    if (resp == NULL)
        rc_response_free(&local);
    return st;
}

long rc_ack(struct rc_client *c, const struct rc_identity *id,
            const uint8_t (*ids)[SP_MESSAGE_ID_LEN], size_t n, uint32_t *deleted)
{
    struct rc_response r;
    struct buf body;
    long st = -1;
    rc_response_init(&r);
    buf_init(&body, SP_HARD_MAX_BODY_BYTES);
    if (wire_encode_ack(&body, ids, n) != SP_OK)
        goto out;
    rc_request(c, &r, "POST", "/v1/messages/ack", NULL, body.data, body.len, id->bearer, NULL);
    st = status_of(&r);
    if (st == 200 && deleted != NULL &&
        wire_decode_ack_response(deleted, r.body.data, r.body.len) != SP_OK)
        st = -2;
out:
    buf_free(&body);
    rc_response_free(&r);
    return st;
}

long rc_count_pending(struct rc_client *c, const struct rc_identity *id)
{
    long total = 0;
    long long after = 0;
    for (int guard = 0; guard < 100000; guard++) {
        struct wire_fetch f;
        memset(&f, 0, sizeof f);
        long st = rc_fetch(c, id, -1, after, 0, &f, NULL);
        if (st != 200) {
            wire_fetch_free(&f);
            return -1;
        }
        total += (long)f.n;
        bool more = f.more;
        after = (long long)f.cursor;
        size_t n = f.n;
        wire_fetch_free(&f);
        if (!more || n == 0)
            return total;
    }
    return -1;
}
