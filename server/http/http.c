/*
 * http.c: the libmicrohttpd (MHD) front end of sealpostd. See http.h.
 *
 * Request life cycle (MHD's multi-call access handler, as in MHD's
 * doc/examples/largepost.c):
 *   1. first call: allocate a struct request (holding the struct api_call)
 *      and return. Never respond here: MHD would close the connection.
 *   2. upload calls: append the body to a buf capped at max_body_bytes. Past
 *      the cap keep reading but discard and remember body_too_large, so the
 *      client gets a clean 413 on the same (kept-alive) connection. A client
 *      that sends more than twice the cap is answered at once and the
 *      connection closed: we do not read unbounded garbage.
 *   3. final call (no more upload data): fill api_request and call
 *      api_handle(). API_DONE -> queue the response. API_PENDING -> suspend
 *      the connection; the API calls wake() from another thread, which
 *      resumes it; MHD calls the handler again and api_handle() answers.
 *   4. MHD's completion callback frees the request (api_call_release).
 *
 * The wake race. wake() may run on the writer thread before the worker that
 * got API_PENDING has suspended the connection (MHD_resume_connection on a
 * connection that is not suspended is undefined). A per-request mutex and a
 * three-state machine serialise the two:
 *   worker, after PENDING:  WOKEN_EARLY -> RUNNING, call api_handle again;
 *                           RUNNING -> suspend, SUSPENDED.
 *   wake():                 SUSPENDED -> RUNNING, resume;
 *                           RUNNING -> WOKEN_EARLY.
 * After wake() resumes, the request may complete and be freed on the worker
 * at once; wake() touches nothing after unlocking, and the completion
 * callback takes the lock once before destroying it, so wake() has left.
 *
 * Shutdown: MHD refuses to stop with suspended connections. `parked` counts
 * connections suspended and not yet woken; http_stop() waits for it to reach
 * zero (api_shutdown() wakes every pending call), then briefly for requests
 * in flight to send their answers, before MHD_stop_daemon.
 *
 * Privacy: the only use of the peer address is a keyed hash (SHA-256 under a
 * per-process random key; IPv6 addresses by their /64, which is what one
 * host typically controls). MHD's own messages go through log_mhd(), which
 * masks anything shaped like an address and logs at debug level once the
 * daemon runs (per-connection noise must not flood the journal).
 *
 * Threads: on_request/on_completed run on MHD worker threads; wake() on any
 * thread. struct http is read-only after start except `parked` (atomic).
 */
#include "server/http/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/secmem.h"
#include "server/api/api.h"
#include "server/config.h"

/* GnuTLS priority strings. TLS 1.3 only by default; with "1.2", TLS 1.2 is
 * allowed with ECDHE key exchange and AEAD ciphers only (forward secrecy,
 * no CBC). TLS 1.3 suites are all AEAD and forward secret anyway. */
#define PRIORITY_TLS13 "NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define PRIORITY_TLS12                                                                             \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-CIPHER-ALL:"      \
    "+CHACHA20-POLY1305:+AES-256-GCM:+AES-128-GCM"

/* Certificate and key files larger than this are refused (a chain of a few
 * certificates is a few KiB). */
#define PEM_MAX_BYTES (1024 * 1024)
/* How long http_stop() waits for the API's wakes of parked calls, then for
 * the answers of requests in flight to be sent. */
#define STOP_WAIT_MS  10000
#define DRAIN_WAIT_MS 3000

struct http {
    struct MHD_Daemon *daemon;
    struct api *api;
    const struct config *cfg;
    char *cert_pem; /* kept until stop: MHD reads them during start */
    char *key_pem;
    size_t key_alloc;
    uint8_t ip_key[32];   /* per-process key for client_key */
    atomic_bool running;  /* false during start: MHD messages are errors then */
    atomic_uint parked;   /* connections suspended and not yet woken */
    atomic_uint inflight; /* requests begun and not yet completed */
    bool quiesced;
    int quiesced_fd; /* listening socket MHD handed back; closed after stop */
};

enum req_state { REQ_RUNNING, REQ_SUSPENDED, REQ_WOKEN_EARLY };

struct request {
    struct api_call call; /* call.http_ctx points back here */
    struct http *http;
    struct MHD_Connection *conn;
    pthread_mutex_t lock; /* guards state */
    enum req_state state;
    struct buf body;
    size_t discarded; /* body bytes dropped past the cap */
    bool dispatched;  /* api_handle() has been called */
};

/* ---- logging */

static bool addr_char(char ch)
{
    return isxdigit((unsigned char)ch) || ch == '.' || ch == ':';
}

/* Replace every run of [0-9a-fA-F.:] holding two or more '.' or ':' (an
 * IPv4 or IPv6 address, with or without port) by "<addr>". */
static void scrub_addresses(const char *in, char *out, size_t out_len)
{
    size_t o = 0;
    for (size_t i = 0; in[i] != '\0' && o + 1 < out_len;) {
        if (!addr_char(in[i])) {
            out[o++] = in[i++];
            continue;
        }
        size_t j = i, seps = 0;
        while (in[j] != '\0' && addr_char(in[j])) {
            if (in[j] == '.' || in[j] == ':')
                seps++;
            j++;
        }
        if (seps >= 2) {
            const char *mask = "<addr>";
            for (size_t k = 0; mask[k] != '\0' && o + 1 < out_len; k++)
                out[o++] = mask[k];
        } else {
            for (size_t k = i; k < j && o + 1 < out_len; k++)
                out[o++] = in[k];
        }
        i = j;
    }
    out[o] = '\0';
    /* MHD messages end in '\n'; sp_log adds its own. */
    while (o > 0 && (out[o - 1] == '\n' || out[o - 1] == '\r'))
        out[--o] = '\0';
}

__attribute__((format(printf, 2, 0))) static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    struct http *h = cls;
    char raw[512], clean[512];
    vsnprintf(raw, sizeof raw, fmt, ap);
    scrub_addresses(raw, clean, sizeof clean);
    if (atomic_load(&h->running))
        SP_LOG_D("http: %s", clean);
    else
        SP_LOG_E("http: %s", clean);
}

/* ---- helpers */

/* Read a whole PEM file into a NUL-terminated heap string. */
static sp_status read_pem(const char *path, char **out, size_t *alloc_out, bool secret)
{
    sp_status st = SP_OK;
    char *data = NULL;
    size_t alloc = 0, len = 0;
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        SP_LOG_E("http: cannot open %s: %s", path, strerror(errno));
        st = SP_ERR_IO;
        goto out;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
        sb.st_size > PEM_MAX_BYTES) {
        SP_LOG_E("http: %s is not a regular, non-empty file under %d bytes", path, PEM_MAX_BYTES);
        st = SP_ERR_IO;
        goto out;
    }
    if (secret && (sb.st_mode & 077) != 0)
        SP_LOG_W("http: private key %s is accessible by group or others (mode %03o); "
                 "chmod 600 it",
                 path, (unsigned)(sb.st_mode & 0777));
    alloc = (size_t)sb.st_size + 1;
    data = malloc(alloc);
    ENSURE(data != NULL, SP_ERR_NOMEM);
    while (len < alloc - 1) {
        ssize_t n = read(fd, data + len, alloc - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            SP_LOG_E("http: cannot read %s: %s", path, n < 0 ? strerror(errno) : "short read");
            st = SP_ERR_IO;
            goto out;
        }
        len += (size_t)n;
    }
    data[len] = '\0';
    if (memchr(data, '\0', len) != NULL) {
        SP_LOG_E("http: %s is not a PEM file", path);
        st = SP_ERR_IO;
        goto out;
    }
    *out = data;
    *alloc_out = alloc;
    data = NULL;
out:
    if (data != NULL)
        sp_free_secret(data, alloc);
    if (fd >= 0)
        close(fd);
    return st;
}

/* The keyed hash the API's rate limits see instead of the peer address. */
static uint64_t client_key(const struct http *h, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return 0;
    const struct sockaddr *sa = ci->client_addr;
    uint8_t id[9], digest[SP_SHA256_LEN];
    size_t n = 0;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof sin);
        id[0] = 4;
        memcpy(id + 1, &sin.sin_addr, 4);
        n = 5;
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, sa, sizeof sin6);
        if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
            id[0] = 4;
            memcpy(id + 1, sin6.sin6_addr.s6_addr + 12, 4);
            n = 5;
        } else {
            id[0] = 6;
            memcpy(id + 1, sin6.sin6_addr.s6_addr, 8); /* the /64 */
            n = 9;
        }
    } else {
        return 0;
    }
    if (sp_sha256(digest, h->ip_key, sizeof h->ip_key, id, n) != SP_OK)
        return 0;
    uint64_t key = 0;
    for (int i = 0; i < 8; i++)
        key = key << 8 | digest[i];
    sp_wipe(id, sizeof id);
    sp_wipe(digest, sizeof digest);
    return key == 0 ? 1 : key; /* 0 means "unknown" to the API */
}

static enum api_method parse_method(const char *m)
{
    static const struct {
        const char *name;
        enum api_method method;
    } methods[] = {
        {MHD_HTTP_METHOD_GET, API_GET},   {MHD_HTTP_METHOD_POST, API_POST},
        {MHD_HTTP_METHOD_PUT, API_PUT},   {MHD_HTTP_METHOD_DELETE, API_DELETE},
        {MHD_HTTP_METHOD_HEAD, API_HEAD},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(m, methods[i].name) == 0)
            return methods[i].method;
    return API_OTHER;
}

static void fill_request(struct request *r, const char *url, const char *method)
{
    struct MHD_Connection *c = r->conn;
    struct api_request *q = &r->call.req;
    q->method = parse_method(method);
    q->path = url;
    q->authorization =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    q->content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    q->q_limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    q->q_after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
    q->q_wait = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
    q->body = r->body.data;
    q->body_len = r->body.len;
    q->body_too_large = r->discarded > 0;
    q->client_key = client_key(r->http, c);
}

/* Keep what fits under the cap; past it, count and drop. */
static void take_upload(struct request *r, const char *data, size_t len)
{
    if (r->discarded == 0) {
        if (buf_append(&r->body, (const uint8_t *)data, len) == SP_OK)
            return;
        /* Over the cap (or out of memory): the body is unusable either way. */
        buf_free_secret(&r->body);
    }
    r->discarded = r->discarded + len < r->discarded ? SIZE_MAX : r->discarded + len;
}

/* ---- responding */

static enum MHD_Result queue_response(struct request *r)
{
    struct api_response *resp = &r->call.resp;
    size_t len = 0;
    uint8_t *data = buf_steal(&resp->body, &len);
    struct MHD_Response *mr = MHD_create_response_from_buffer_with_free_callback(len, data, free);
    if (mr == NULL) {
        free(data);
        return MHD_NO; /* closes the connection */
    }
    bool ok = true;
    if (resp->content_type != NULL)
        ok = ok && MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    if (resp->retry_after_s > 0) {
        char secs[16];
        snprintf(secs, sizeof secs, "%u", (unsigned)resp->retry_after_s);
        ok = ok && MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    if (resp->allow != NULL)
        ok = ok && MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, resp->allow);
    /* RFC 9110 section 11.6.1: a 401 names the scheme the client must use. */
    if (resp->http_status == MHD_HTTP_UNAUTHORIZED)
        ok = ok && MHD_add_response_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    /* Responses are per-account and may carry tokens: never cache them. */
    ok = ok && MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ok = ok && MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    unsigned status = resp->http_status >= 100 && resp->http_status <= 599
                          ? resp->http_status
                          : MHD_HTTP_INTERNAL_SERVER_ERROR;
    enum MHD_Result ret = ok ? MHD_queue_response(r->conn, status, mr) : MHD_NO;
    MHD_destroy_response(mr);
    return ret;
}

/* Run the API until it answers or parks the call. */
static enum MHD_Result run_api(struct request *r)
{
    struct http *h = r->http;
    for (;;) {
        if (api_handle(h->api, &r->call) == API_DONE)
            return queue_response(r);
        pthread_mutex_lock(&r->lock);
        if (r->state == REQ_WOKEN_EARLY) {
            /* wake() came before we could park: the answer is ready. */
            r->state = REQ_RUNNING;
            pthread_mutex_unlock(&r->lock);
            continue;
        }
        MHD_suspend_connection(r->conn);
        r->state = REQ_SUSPENDED;
        atomic_fetch_add(&h->parked, 1);
        pthread_mutex_unlock(&r->lock);
        return MHD_YES;
    }
}

/* call->wake: called exactly once per API_PENDING, from any thread. */
static void wake(struct api_call *call)
{
    struct request *r = call->http_ctx;
    struct http *h = r->http;
    pthread_mutex_lock(&r->lock);
    if (r->state == REQ_SUSPENDED) {
        r->state = REQ_RUNNING;
        MHD_resume_connection(r->conn);
        atomic_fetch_sub(&h->parked, 1);
    } else {
        r->state = REQ_WOKEN_EARLY;
    }
    pthread_mutex_unlock(&r->lock);
    /* r may be freed from here on. */
}

/* ---- MHD callbacks */

static struct request *request_new(struct http *h, struct MHD_Connection *conn)
{
    struct request *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return NULL;
    }
    r->http = h;
    r->conn = conn;
    r->state = REQ_RUNNING;
    buf_init(&r->body, h->cfg->limits.max_body_bytes);
    api_call_init(&r->call);
    r->call.wake = wake;
    r->call.http_ctx = r;
    atomic_fetch_add(&h->inflight, 1);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http *h = cls;
    struct request *r = *con_cls;
    (void)version;

    if (r == NULL) {
        r = request_new(h, conn);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        return MHD_YES; /* never respond on the first call (keep-alive) */
    }

    if (r->dispatched) {
        /* Resumed after wake(). More upload data can only arrive here after
         * an early answer to an oversized body: drop it. */
        *upload_data_size = 0;
        return run_api(r);
    }

    if (*upload_data_size != 0) {
        take_upload(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        /* Bound what we read for nothing: past twice the cap answer now
         * (MHD closes the connection after this response). */
        if (r->discarded <= h->cfg->limits.max_body_bytes)
            return MHD_YES;
    }

    fill_request(r, url, method);
    r->dispatched = true;
    return run_api(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http *h = cls;
    struct request *r = *con_cls;
    (void)conn;
    (void)toe;
    if (r == NULL)
        return;
    *con_cls = NULL;
    /* A wake() that resumed us may still be between resume and unlock. */
    pthread_mutex_lock(&r->lock);
    if (r->state == REQ_SUSPENDED) /* only at shutdown; never expected */
        atomic_fetch_sub(&h->parked, 1);
    pthread_mutex_unlock(&r->lock);
    api_call_release(h->api, &r->call);
    buf_free_secret(&r->body);
    pthread_mutex_destroy(&r->lock);
    free(r);
    atomic_fetch_sub(&h->inflight, 1);
}

/* ---- start / stop */

static sp_status make_sockaddr(const struct config *cfg, struct sockaddr_storage *ss, bool *ipv6)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, cfg->listen_host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(cfg->listen_port);
        *ipv6 = false;
        return SP_OK;
    }
    if (inet_pton(AF_INET6, cfg->listen_host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(cfg->listen_port);
        *ipv6 = true;
        return SP_OK;
    }
    SP_LOG_E("http: listen address %s is not an IPv4 or IPv6 literal", cfg->listen_host);
    return SP_ERR_USAGE;
}

static void http_free(struct http *h)
{
    if (h == NULL)
        return;
    free(h->cert_pem);
    if (h->key_pem != NULL)
        sp_free_secret(h->key_pem, h->key_alloc);
    sp_wipe(h->ip_key, sizeof h->ip_key);
    free(h);
}

sp_status http_start(struct http **out, const struct config *cfg, struct api *api)
{
    sp_status st = SP_OK;
    struct http *h = NULL;
    size_t cert_alloc = 0;
    struct sockaddr_storage ss;
    bool ipv6 = false;

    *out = NULL;
    h = calloc(1, sizeof *h);
    ENSURE(h != NULL, SP_ERR_NOMEM);
    h->cfg = cfg;
    h->api = api;
    h->quiesced_fd = -1;
    atomic_init(&h->running, false);
    atomic_init(&h->parked, 0);
    atomic_init(&h->inflight, 0);
    TRY(make_sockaddr(cfg, &ss, &ipv6));
    TRY(read_pem(cfg->tls_cert, &h->cert_pem, &cert_alloc, false));
    TRY(read_pem(cfg->tls_key, &h->key_pem, &h->key_alloc, true));
    TRY(sp_random(h->ip_key, sizeof h->ip_key));

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    const char *priorities =
        strcmp(cfg->tls_min_version, "1.2") == 0 ? PRIORITY_TLS12 : PRIORITY_TLS13;

    // clang-format off
    /* one option and its value per line */
    h->daemon = MHD_start_daemon(
        flags, cfg->listen_port, NULL, NULL, on_request, h,
        /* first, so start-up messages already go through it */
        MHD_OPTION_EXTERNAL_LOGGER, log_mhd, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_HTTPS_MEM_CERT, (const char *)h->cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, (const char *)h->key_pem,
        MHD_OPTION_HTTPS_PRIORITIES, priorities,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->connection_memory,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->connection_timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_END);
    // clang-format on
    if (h->daemon == NULL) {
        SP_LOG_E("http: cannot start the HTTPS server on %s%s%s:%u (see the messages above)",
                 ipv6 ? "[" : "", cfg->listen_host, ipv6 ? "]" : "", (unsigned)cfg->listen_port);
        st = SP_ERR_IO;
        goto out;
    }
    atomic_store(&h->running, true);
    *out = h;
    h = NULL;
out:
    http_free(h);
    return st;
}

void http_quiesce(struct http *h)
{
    if (h == NULL || h->daemon == NULL || h->quiesced)
        return;
    /* MHD hands the listening socket back: ours to close, but only after
     * MHD_stop_daemon (its threads may still look at it). */
    h->quiesced_fd = MHD_quiesce_daemon(h->daemon);
    h->quiesced = true;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void http_stop(struct http *h)
{
    if (h == NULL)
        return;
    if (h->daemon != NULL) {
        http_quiesce(h);
        unsigned waited = 0;
        while (atomic_load(&h->parked) > 0 && waited < STOP_WAIT_MS) {
            sleep_ms(10);
            waited += 10;
        }
        unsigned left = atomic_load(&h->parked);
        if (left > 0)
            SP_LOG_E("http: %u call(s) still parked after %u ms; stopping anyway", left,
                     (unsigned)STOP_WAIT_MS);
        /* Let woken long-polls and other running requests send their answers
         * (MHD_stop_daemon closes connections mid-response). Bounded: a
         * slow uploader must not hold up shutdown. */
        waited = 0;
        while (atomic_load(&h->inflight) > 0 && waited < DRAIN_WAIT_MS) {
            sleep_ms(10);
            waited += 10;
        }
        MHD_stop_daemon(h->daemon);
        h->daemon = NULL;
        if (h->quiesced_fd >= 0)
            close(h->quiesced_fd);
        h->quiesced_fd = -1;
    }
    http_free(h);
}
