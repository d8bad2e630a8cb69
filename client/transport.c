/*
 * transport.c: libcurl easy handle per client (see transport.h).
 */
#include "client/transport.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/secmem.h"
#include "common/wire.h"

struct transport {
    CURL *h;
    char *base_url;
    char *ca_file;
    char *pin;
    long timeout_ms;
    size_t max_response;
    uint32_t retry_after_hdr;
};

struct sink {
    struct buf *b;
    int overflow;
};

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    if (buf_append(s->b, (const uint8_t *)ptr, n) != SP_OK) {
        s->overflow = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct transport *t = ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
        char tmp[16];
        size_t m = n - (sizeof(name) - 1);
        if (m >= sizeof(tmp))
            m = sizeof(tmp) - 1;
        memcpy(tmp, ptr + sizeof(name) - 1, m);
        tmp[m] = 0;
        unsigned long v = strtoul(tmp, NULL, 10);
        t->retry_after_hdr = v > 86400 ? 86400 : (uint32_t)v;
    }
    return n;
}

static char *dup_opt(const char *s)
{
    return (s != NULL && *s != '\0') ? strdup(s) : NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

sp_status transport_new(struct transport **out, const struct transport_config *cfg)
{
    sp_status st = SP_OK;
    struct transport *t = NULL;

    *out = NULL;
    ENSURE(cfg != NULL && cfg->base_url != NULL && strncmp(cfg->base_url, "https://", 8) == 0 &&
               strlen(cfg->base_url) < 512,
           SP_ERR_USAGE);
    /* Once per process, whatever the number of handles and threads. */
    ENSURE(pthread_once(&curl_once, curl_init_once) == 0 && curl_init_rc == CURLE_OK,
           SP_ERR_INTERNAL);
    t = calloc(1, sizeof(*t));
    ENSURE(t != NULL, SP_ERR_NOMEM);
    t->base_url = strdup(cfg->base_url);
    ENSURE(t->base_url != NULL, SP_ERR_NOMEM);
    size_t bl = strlen(t->base_url);
    while (bl > 8 && t->base_url[bl - 1] == '/')
        t->base_url[--bl] = 0;
    t->ca_file = dup_opt(cfg->ca_file);
    t->pin = dup_opt(cfg->pinned_pubkey);
    ENSURE((cfg->ca_file == NULL || *cfg->ca_file == 0 || t->ca_file != NULL) &&
               (cfg->pinned_pubkey == NULL || *cfg->pinned_pubkey == 0 || t->pin != NULL),
           SP_ERR_NOMEM);
    t->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    t->max_response = cfg->max_response > 0 ? cfg->max_response : SP_HARD_MAX_BODY_BYTES;
    t->h = curl_easy_init();
    ENSURE(t->h != NULL, SP_ERR_NOMEM);
    *out = t;
    t = NULL;
out:
    transport_free(t);
    return st;
}

void transport_free(struct transport *t)
{
    if (t == NULL)
        return;
    if (t->h != NULL)
        curl_easy_cleanup(t->h);
    free(t->base_url);
    free(t->ca_file);
    free(t->pin);
    free(t);
}

static sp_status map_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return SP_ERR_NETWORK;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return SP_ERR_TLS;
    case CURLE_OUT_OF_MEMORY:
        return SP_ERR_NOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return SP_ERR_USAGE;
    default:
        return SP_ERR_NETWORK;
    }
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (curl_easy_setopt(t->h, opt, val) != CURLE_OK) {                                        \
            st = SP_ERR_INTERNAL;                                                                  \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

sp_status transport_request(struct transport *t, const char *method, const char *path,
                            const char *bearer, const uint8_t *body, size_t len,
                            long extra_timeout_s, struct buf *resp, struct transport_result *res)
{
    sp_status st = SP_OK;
    struct curl_slist *hdrs = NULL, *tmp = NULL;
    char *url = NULL;
    char auth[128];
    struct sink sink = {.b = resp, .overflow = 0};
    long code = 0;

    memset(auth, 0, sizeof(auth));
    if (res != NULL)
        memset(res, 0, sizeof(*res));
    buf_reset(resp);
    resp->cap = t->max_response;
    t->retry_after_hdr = 0;
    ENSURE(path != NULL && path[0] == '/', SP_ERR_USAGE);
    size_t ul = strlen(t->base_url) + strlen(path) + 1;
    url = malloc(ul);
    ENSURE(url != NULL, SP_ERR_NOMEM);
    snprintf(url, ul, "%s%s", t->base_url, path);

    curl_easy_reset(t->h); /* keeps the live connection and TLS session cache */
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (t->ca_file != NULL)
        SETOPT(CURLOPT_CAINFO, t->ca_file);
    if (t->pin != NULL)
        SETOPT(CURLOPT_PINNEDPUBLICKEY, t->pin);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, t->timeout_ms < 10000 ? t->timeout_ms : 10000L);
    SETOPT(CURLOPT_TIMEOUT_MS, t->timeout_ms + (extra_timeout_s > 0 ? extra_timeout_s * 1000 : 0));
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_response);
    SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
    SETOPT(CURLOPT_WRITEDATA, &sink);
    SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(CURLOPT_HEADERDATA, t);
    SETOPT(CURLOPT_USERAGENT, "libsealpost/0.1");
    SETOPT(CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        SETOPT(CURLOPT_POSTFIELDS, len > 0 ? (const char *)body : "");
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        tmp = curl_slist_append(hdrs, "Content-Type: application/x-protobuf");
        ENSURE(tmp != NULL, SP_ERR_NOMEM);
        hdrs = tmp;
    } else if (strcmp(method, "GET") == 0) {
        SETOPT(CURLOPT_HTTPGET, 1L);
        SETOPT(CURLOPT_CUSTOMREQUEST, (const char *)NULL);
    }
    tmp = curl_slist_append(hdrs, "Accept: application/x-protobuf");
    ENSURE(tmp != NULL, SP_ERR_NOMEM);
    hdrs = tmp;
    tmp = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    ENSURE(tmp != NULL, SP_ERR_NOMEM);
    hdrs = tmp;
    if (bearer != NULL) {
        int n = snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
        ENSURE(n > 0 && (size_t)n < sizeof(auth), SP_ERR_USAGE);
        tmp = curl_slist_append(hdrs, auth);
        ENSURE(tmp != NULL, SP_ERR_NOMEM);
        hdrs = tmp;
    }
    SETOPT(CURLOPT_HTTPHEADER, hdrs);

    CURLcode cc = curl_easy_perform(t->h);
    if (cc != CURLE_OK) {
        if (sink.overflow || cc == CURLE_FILESIZE_EXCEEDED)
            st = SP_ERR_TOO_LARGE;
        else
            st = map_curl(cc);
        SP_LOG_D("transport: request failed (curl %d)", (int)cc);
        goto out;
    }
    (void)curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &code);
    if (res != NULL) {
        res->http_status = code;
        res->retry_after_s = t->retry_after_hdr;
    }
    if (code >= 200 && code < 300)
        goto out;
    struct wire_error we;
    if (code >= 400 && wire_decode_error(&we, resp->data, resp->len) == SP_OK && we.code != SP_OK &&
        (int)we.code < SP_STATUS_COUNT) {
        st = we.code;
        if (res != NULL && we.retry_after_s > 0)
            res->retry_after_s = we.retry_after_s;
    } else {
        st = SP_ERR_PROTOCOL;
    }
out:
    /* the header list held the bearer token */
    curl_slist_free_all(hdrs);
    sp_wipe(auth, sizeof(auth));
    if (t->h != NULL) {
        (void)curl_easy_setopt(t->h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
        (void)curl_easy_setopt(t->h, CURLOPT_WRITEDATA, (void *)NULL);
    }
    free(url);
    return st;
}
