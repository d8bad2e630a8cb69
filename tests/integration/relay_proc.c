/*
 * relay_proc.c: see relay_proc.h. Plain POSIX + libcurl; no Check, so the
 * load generator links it too.
 */
#include "relay_proc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t rp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

uint16_t rp_free_port(void)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    uint16_t port = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* Run argv, with stdout/stderr silenced unless it fails; returns exit status. */
static int run_quiet(char *const argv[])
{
    int status = 0;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int rp_make_cert(const char *dir)
{
    char cert[4096], key[4096];
    if (snprintf(cert, sizeof cert, "%s/cert.pem", dir) >= (int)sizeof cert ||
        snprintf(key, sizeof key, "%s/key.pem", dir) >= (int)sizeof key)
        return -1;
    char *const argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                          "-days", "2", "-subj", "/CN=localhost", "-addext",
                          "subjectAltName=IP:127.0.0.1,DNS:localhost", NULL};
    if (run_quiet(argv) != 0) {
        fprintf(stderr, "relay_proc: openssl req failed for %s\n", dir);
        return -1;
    }
    if (chmod(key, 0600) != 0)
        return -1;
    return 0;
}

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    char *acc = ud;
    size_t have = strlen(acc);
    size_t len = size * n;
    size_t room = 15 - have;
    memcpy(acc + have, p, len < room ? len : room);
    acc[have + (len < room ? len : room)] = '\0';
    return len;
}

bool rp_health(uint16_t port, const char *cafile)
{
    char url[64], body[16] = {0};
    long code = 0;
    CURL *h = curl_easy_init();
    if (h == NULL)
        return false;
    snprintf(url, sizeof url, "https://127.0.0.1:%u/v1/health", (unsigned)port);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    return rc == CURLE_OK && code == 200 && strcmp(body, "ok\n") == 0;
}

int rp_spawn(pid_t *pid_out, const char *binary, uint16_t port, const char *cert,
             const char *key, const char *db, const char *conf, const char *log_path,
             unsigned timeout_ms)
{
    char listen[32];
    int status = 0;
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)port);
    *pid_out = 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        /* If the test process dies (timeout, crash), take the relay with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        const char *argv[16];
        int i = 0;
        argv[i++] = binary;
        argv[i++] = "--listen";
        argv[i++] = listen;
        argv[i++] = "--tls-cert";
        argv[i++] = cert;
        argv[i++] = "--tls-key";
        argv[i++] = key;
        argv[i++] = "--db";
        argv[i++] = db;
        if (conf != NULL) {
            argv[i++] = "-c";
            argv[i++] = conf;
        }
        argv[i] = NULL;
        execv(binary, (char *const *)(uintptr_t)argv);
        fprintf(stderr, "relay_proc: exec %s: %s\n", binary, strerror(errno));
        _exit(127);
    }
    uint64_t deadline = rp_now_ms() + timeout_ms;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return -1; /* exited early: bad flags, port in use, ... */
        if (rp_health(port, cert)) {
            *pid_out = pid;
            return 0;
        }
        if (rp_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "relay_proc: relay not healthy after %u ms\n", timeout_ms);
            return -1;
        }
        sleep_ms(50);
    }
}

int rp_stop(pid_t pid, unsigned timeout_ms)
{
    int status = 0;
    if (kill(pid, SIGTERM) != 0)
        return -1;
    uint64_t deadline = rp_now_ms() + timeout_ms;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return status;
        if (w < 0 && errno != EINTR)
            return -1;
        if (rp_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(20);
    }
}
