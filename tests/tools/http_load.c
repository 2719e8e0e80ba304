/* HTTP load for the MCP endpoint: N clients, each with its own keep-alive connection and
 * legacy session, call one tool in a loop for S seconds. Raw HTTP/1.1 over loopback (no
 * SDK, so the client costs little and the same for every server). Prints one JSON line:
 * {"clients","calls","errors","calls_per_s","p50_ms","p99_ms","max_ms"}; "calls" counts
 * only answered, non-error tools/call results (the crash test compares it with the
 * audit). A client stops at its first transport error (e.g. the server was killed).
 *   http_load PORT TOKEN CLIENTS SECONDS TOOL ARGS_JSON */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static const char *token, *tool, *args;
static double seconds;

typedef struct {
    double *lat;
    long n, cap, errors;
} result;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends a POST, reads the whole response into buf. Returns the status, -1 on error. */
static int post(int fd, const char *sid, const char *body, char *buf, size_t cap, char *sid_out)
{
    char req[8192];
    int n = snprintf(req, sizeof req,
                     "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
                     "%s%s%sMCP-Protocol-Version: 2025-11-25\r\nContent-Length: %zu\r\n\r\n%s",
                     token, sid ? "Mcp-Session-Id: " : "", sid ? sid : "", sid ? "\r\n" : "", strlen(body), body);
    if (n <= 0 || (size_t)n >= sizeof req || write(fd, req, (size_t)n) != n) return -1;
    size_t got = 0;
    char *hend = NULL;
    while (!hend) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r <= 0) return -1;
        got += (size_t)r;
        buf[got] = 0;
        hend = strstr(buf, "\r\n\r\n");
        if (!hend && got >= cap - 1) return -1;
    }
    int status = atoi(buf + 9);
    size_t clen = 0;
    char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl && cl < hend) clen = strtoul(cl + 17, NULL, 10);
    if (sid_out) {
        char *s = strcasestr(buf, "\r\nMcp-Session-Id:");
        if (s && s < hend) sscanf(s + 17, " %64s", sid_out);
    }
    size_t hl = (size_t)(hend + 4 - buf);
    if (hl + clen >= cap) return -1;
    while (got < hl + clen) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    buf[got] = 0;
    memmove(buf, buf + hl, clen + 1);
    return status;
}

static void *client(void *arg)
{
    result *res = arg;
    static __thread char buf[1 << 20];
    char sid[80] = "", body[4096];
    int fd = dial();
    if (fd < 0) { res->errors++; return NULL; }
    if (post(fd, NULL, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
                       "\"capabilities\":{},\"clientInfo\":{\"name\":\"http_load\",\"version\":\"0\"}}}",
             buf, sizeof buf, sid) != 200 || !sid[0] ||
        post(fd, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", buf, sizeof buf, NULL) != 202) {
        res->errors++;
        close(fd);
        return NULL;
    }
    double end = now_s() + seconds;
    for (long id = 1; now_s() < end; id++) {
        snprintf(body, sizeof body,
                 "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s}}", id,
                 tool, args);
        double t0 = now_s();
        int st = post(fd, sid, body, buf, sizeof buf, NULL);
        double dt = (now_s() - t0) * 1000;
        if (st != 200 || !strstr(buf, "\"result\"") || strstr(buf, "\"isError\":true")) {
            res->errors++;
            break;
        }
        if (res->n == res->cap) {
            res->cap = res->cap ? res->cap * 2 : 4096;
            res->lat = realloc(res->lat, (size_t)res->cap * sizeof *res->lat);
        }
        res->lat[res->n++] = dt;
    }
    close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: http_load PORT TOKEN CLIENTS SECONDS TOOL ARGS_JSON\n");
        return 2;
    }
    port = atoi(argv[1]);
    token = argv[2];
    int n = atoi(argv[3]);
    seconds = atof(argv[4]);
    tool = argv[5];
    args = argv[6];
    pthread_t *t = calloc((size_t)n, sizeof *t);
    result *r = calloc((size_t)n, sizeof *r);
    double t0 = now_s();
    for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, client, &r[i]);
    long calls = 0, errors = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        calls += r[i].n;
        errors += r[i].errors;
    }
    double el = now_s() - t0;
    double *all = malloc(((size_t)calls + 1) * sizeof *all);
    long k = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].n) memcpy(all + k, r[i].lat, (size_t)r[i].n * sizeof *all);
        k += r[i].n;
        free(r[i].lat);
    }
    qsort(all, (size_t)calls, sizeof *all, cmp);
    double p50 = calls ? all[calls / 2] : 0, p99 = calls ? all[(long)((double)calls * 0.99)] : 0,
           mx = calls ? all[calls - 1] : 0;
    printf("{\"clients\":%d,\"calls\":%ld,\"errors\":%ld,\"calls_per_s\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}\n",
           n, calls, errors, el > 0 ? (double)calls / el : 0, p50, p99, mx);
    free(all);
    free(r);
    free(t);
    return 0;
}
