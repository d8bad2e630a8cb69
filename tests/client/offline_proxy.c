/*
 * offline_proxy.c: see offline_proxy.h. Plain blocking OpenSSL with poll()
 * before every read so a connection thread notices the stop flag within
 * POLL_MS.
 */
#include "offline_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/buf.h"

#define POLL_MS 100
#define MAX_HEAD 16384
#define MAX_BODY (4u * 1024 * 1024)

struct oproxy {
    int lfd;
    pthread_t acceptor;
    SSL_CTX *server_ctx, *client_ctx;
    atomic_int stop;
    atomic_int mode;
    atomic_int upstream_port;
    atomic_int live; /* connection threads running */
    atomic_uint counters[OPC_COUNT];
    pthread_mutex_t mu; /* guards the fake bundle */
    uint8_t fake_ik[SP_PUBKEY_LEN];
    struct wire_signed_prekey fake_spk;
    char url[64];
};

struct conn {
    struct oproxy *p;
    int cfd, ufd;
    SSL *c, *u;
};

/* ------------------------------------------------------------ io helpers */

/* Wait until fd is readable (or ssl has buffered bytes). -1 on stop. */
static int wait_readable(struct oproxy *p, int fd, SSL *ssl)
{
    while (!atomic_load(&p->stop)) {
        if (ssl != NULL && SSL_pending(ssl) > 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, POLL_MS);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
    return -1;
}

/* Read at least one byte into b. 0 ok, -1 closed/stop/error. */
static int read_some(struct oproxy *p, int fd, SSL *ssl, struct buf *b)
{
    uint8_t tmp[16384];
    if (wait_readable(p, fd, ssl) != 0)
        return -1;
    int n = SSL_read(ssl, tmp, sizeof tmp);
    if (n <= 0)
        return -1;
    return buf_append(b, tmp, (size_t)n) == SP_OK ? 0 : -1;
}

static int write_all(SSL *ssl, const uint8_t *d, size_t len)
{
    while (len > 0) {
        int chunk = len > 65536 ? 65536 : (int)len;
        int n = SSL_write(ssl, d, chunk);
        if (n <= 0)
            return -1;
        d += n;
        len -= (size_t)n;
    }
    return 0;
}

static const uint8_t *find_crlfcrlf(const struct buf *b)
{
    if (b->len < 4)
        return NULL;
    for (size_t i = 0; i + 4 <= b->len; i++)
        if (memcmp(b->data + i, "\r\n\r\n", 4) == 0)
            return b->data + i;
    return NULL;
}

/* Content-Length from a header block (case-insensitive); 0 if absent. */
static long content_length(const char *head, size_t len)
{
    const char *p = head, *end = head + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
            return strtol(p + 15, NULL, 10);
        p = eol + 1;
    }
    return 0;
}

/* One HTTP message (head + Content-Length body) from ssl, consuming exactly
 * its bytes from `in` (which may hold pipelined leftovers). *head_len is the
 * length including the blank line. 0 or -1. */
static int read_message(struct oproxy *p, int fd, SSL *ssl, struct buf *in, struct buf *msg,
                        size_t *head_len)
{
    const uint8_t *e;
    while ((e = find_crlfcrlf(in)) == NULL) {
        if (in->len > MAX_HEAD || read_some(p, fd, ssl, in) != 0)
            return -1;
    }
    size_t hl = (size_t)(e - in->data) + 4;
    long cl = content_length((const char *)in->data, hl);
    if (cl < 0 || (unsigned long)cl > MAX_BODY)
        return -1;
    while (in->len < hl + (size_t)cl)
        if (read_some(p, fd, ssl, in) != 0)
            return -1;
    buf_reset(msg);
    if (buf_append(msg, in->data, hl + (size_t)cl) != SP_OK)
        return -1;
    memmove(in->data, in->data + hl + (size_t)cl, in->len - hl - (size_t)cl);
    in->len -= hl + (size_t)cl;
    *head_len = hl;
    return 0;
}

static bool starts(const struct buf *b, const char *s)
{
    size_t n = strlen(s);
    return b->len >= n && memcmp(b->data, s, n) == 0;
}

/* ------------------------------------------------------------ upstream */

static int upstream_connect(struct conn *k)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atomic_load(&k->p->upstream_port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    k->ufd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (k->ufd < 0)
        return -1;
    if (connect(k->ufd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    int one = 1;
    (void)setsockopt(k->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    k->u = SSL_new(k->p->client_ctx);
    if (k->u == NULL || SSL_set_fd(k->u, k->ufd) != 1)
        return -1;
    (void)SSL_set1_host(k->u, "127.0.0.1");
    return SSL_connect(k->u) == 1 ? 0 : -1;
}

/* ------------------------------------------------------------ rewriting */

/* Replace the body of a 200 bundle response with the forged bundle. */
static int swap_bundle(struct oproxy *p, struct buf *resp, size_t head_len)
{
    struct wire_bundle b;
    struct buf body, out;
    int rc = -1;
    buf_init(&body, MAX_BODY);
    buf_init(&out, MAX_BODY);
    if (wire_decode_bundle(&b, NULL, resp->data + head_len, resp->len - head_len) != SP_OK)
        goto done;
    pthread_mutex_lock(&p->mu);
    memcpy(b.identity_key, p->fake_ik, SP_PUBKEY_LEN);
    b.signed_prekey = p->fake_spk;
    pthread_mutex_unlock(&p->mu);
    b.has_prekey = false; /* we hold no private half for the real one-time prekey anyway */
    if (wire_encode_bundle(&body, &b) != SP_OK)
        goto done;
    /* copy the head without Content-Length, then ours */
    const char *h = (const char *)resp->data, *end = h + head_len - 2; /* before final CRLF */
    while (h < end) {
        const char *eol = memchr(h, '\n', (size_t)(end - h));
        size_t n = eol != NULL ? (size_t)(eol - h) + 1 : (size_t)(end - h);
        if (!(n > 15 && strncasecmp(h, "Content-Length:", 15) == 0))
            if (buf_append(&out, (const uint8_t *)h, n) != SP_OK)
                goto done;
        h += n;
    }
    if (buf_printf(&out, "Content-Length: %zu\r\n\r\n", body.len) != SP_OK ||
        buf_append(&out, body.data, body.len) != SP_OK)
        goto done;
    buf_reset(resp);
    if (buf_append(resp, out.data, out.len) != SP_OK)
        goto done;
    atomic_fetch_add(&p->counters[OPC_BUNDLES_SWAPPED], 1);
    rc = 0;
done:
    buf_free(&body);
    buf_free(&out);
    return rc;
}

/* ------------------------------------------------------------ threads */

static void *conn_main(void *arg)
{
    struct conn *k = arg;
    struct oproxy *p = k->p;
    struct buf cin, uin, req, resp;
    size_t hl = 0;

    buf_init(&cin, MAX_BODY + MAX_HEAD);
    buf_init(&uin, MAX_BODY + MAX_HEAD);
    buf_init(&req, MAX_BODY + MAX_HEAD);
    buf_init(&resp, MAX_BODY + MAX_HEAD);
    k->c = SSL_new(p->server_ctx);
    if (k->c == NULL || SSL_set_fd(k->c, k->cfd) != 1 || SSL_accept(k->c) != 1)
        goto done;
    for (;;) {
        if (read_message(p, k->cfd, k->c, &cin, &req, &hl) != 0)
            break;
        atomic_fetch_add(&p->counters[OPC_REQUESTS], 1);
        int mode = atomic_load(&p->mode);
        bool is_ack = starts(&req, "POST /v1/messages/ack ");
        bool is_send = starts(&req, "POST /v1/messages ");
        bool is_bundle = starts(&req, "GET /v1/bundle/");
        if (is_ack && mode == OPROXY_STALL_ACK) {
            atomic_fetch_add(&p->counters[OPC_ACKS_STALLED], 1);
            /* hold the connection open, answer nothing, until the client
             * goes away or the proxy stops */
            while (read_some(p, k->cfd, k->c, &cin) == 0) {
            }
            break;
        }
        if (k->u == NULL && upstream_connect(k) != 0)
            break;
        if (write_all(k->u, req.data, req.len) != 0)
            break;
        if (read_message(p, k->ufd, k->u, &uin, &resp, &hl) != 0)
            break;
        if (is_send)
            atomic_fetch_add(&p->counters[OPC_SENDS], 1);
        if (is_ack)
            atomic_fetch_add(&p->counters[OPC_ACKS], 1);
        if (is_bundle && mode == OPROXY_SWAP_BUNDLE && starts(&resp, "HTTP/1.1 200"))
            if (swap_bundle(p, &resp, hl) != 0)
                break;
        if (write_all(k->c, resp.data, resp.len) != 0)
            break;
    }
done:
    if (k->u != NULL)
        SSL_free(k->u);
    if (k->ufd >= 0)
        close(k->ufd);
    if (k->c != NULL)
        SSL_free(k->c);
    close(k->cfd);
    buf_free(&cin);
    buf_free(&uin);
    buf_free(&req);
    buf_free(&resp);
    free(k);
    atomic_fetch_sub(&p->live, 1);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct oproxy *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};
        if (poll(&pfd, 1, POLL_MS) <= 0)
            continue;
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *k = calloc(1, sizeof *k);
        pthread_t t;
        if (k == NULL) {
            close(fd);
            continue;
        }
        k->p = p;
        k->cfd = fd;
        k->ufd = -1;
        atomic_fetch_add(&p->live, 1);
        if (pthread_create(&t, NULL, conn_main, k) != 0) {
            atomic_fetch_sub(&p->live, 1);
            close(fd);
            free(k);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

int oproxy_start(struct oproxy **out, uint16_t upstream_port, const char *cert, const char *key)
{
    struct oproxy *p = calloc(1, sizeof *p);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;

    *out = NULL;
    if (p == NULL)
        return -1;
    p->lfd = -1;
    pthread_mutex_init(&p->mu, NULL);
    atomic_store(&p->upstream_port, upstream_port);
    p->server_ctx = SSL_CTX_new(TLS_server_method());
    p->client_ctx = SSL_CTX_new(TLS_client_method());
    if (p->server_ctx == NULL || p->client_ctx == NULL ||
        SSL_CTX_use_certificate_chain_file(p->server_ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(p->server_ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(p->client_ctx, cert, NULL) != 1)
        goto fail;
    SSL_CTX_set_verify(p->client_ctx, SSL_VERIFY_PEER, NULL);
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(p->lfd, 16) != 0 || getsockname(p->lfd, (struct sockaddr *)&sa, &sl) != 0)
        goto fail;
    snprintf(p->url, sizeof p->url, "https://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    if (pthread_create(&p->acceptor, NULL, accept_main, p) != 0)
        goto fail;
    *out = p;
    return 0;
fail:
    ERR_print_errors_fp(stderr);
    if (p->lfd >= 0)
        close(p->lfd);
    SSL_CTX_free(p->server_ctx);
    SSL_CTX_free(p->client_ctx);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return -1;
}

void oproxy_stop(struct oproxy *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->acceptor, NULL);
    close(p->lfd);
    for (int i = 0; i < 200 && atomic_load(&p->live) > 0; i++)
        usleep(20 * 1000);
    if (atomic_load(&p->live) == 0) {
        SSL_CTX_free(p->server_ctx);
        SSL_CTX_free(p->client_ctx);
        pthread_mutex_destroy(&p->mu);
        free(p);
    }
    /* else: a thread is stuck in a blocking TLS call; leak rather than
     * free memory it still uses (test processes exit right after) */
}

const char *oproxy_url(const struct oproxy *p)
{
    return p->url;
}

void oproxy_set_mode(struct oproxy *p, enum oproxy_mode m)
{
    atomic_store(&p->mode, (int)m);
}

void oproxy_set_upstream(struct oproxy *p, uint16_t upstream_port)
{
    atomic_store(&p->upstream_port, upstream_port);
}

void oproxy_set_fake_bundle(struct oproxy *p, const uint8_t identity_key[static SP_PUBKEY_LEN],
                            const struct wire_signed_prekey *spk)
{
    pthread_mutex_lock(&p->mu);
    memcpy(p->fake_ik, identity_key, SP_PUBKEY_LEN);
    p->fake_spk = *spk;
    pthread_mutex_unlock(&p->mu);
}

unsigned oproxy_count(struct oproxy *p, enum oproxy_counter c)
{
    return atomic_load(&p->counters[c]);
}
