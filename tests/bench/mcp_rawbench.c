/* A raw JSON-RPC MCP client for `make bench` (no SDK, so it costs the same for every
 * server): tools/call in a loop over stdio (the server is our child) or Streamable HTTP
 * (C clients in parallel, one session each, keep-alive). Prints one JSON object:
 *   {"calls":n,"errors":n,"seconds":s,"calls_per_s":x,"p50_ms":x,"p99_ms":x,
 *    "bytes_per_call":x,"cpu_ms":x,"rss_kb":n,"hwm_kb":n}
 * calls: answered calls (errors, e.g. 429s, are counted apart and not in calls/s or latency);
 * cpu_ms: the server's user+system CPU during the run (/proc/PID/stat).
 * Usage:
 *   mcp_rawbench stdio SECONDS TOOL ARGS_JSON -- CMD ARGS...
 *   mcp_rawbench http SECONDS CLIENTS URL TOKEN|- SERVER_PID TOOL ARGS_JSON       */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROTO "2025-06-18"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_ms(int pid)
{
    char p[64], buf[4096];
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *s = strrchr(buf, ')');
    if (!s) return 0;
    unsigned long ut = 0, st = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    int field = 2;
    for (char *t = strtok(s + 1, " "); t; t = strtok(NULL, " ")) {
        field++;
        if (field == 14) ut = strtoul(t, NULL, 10);
        if (field == 15) { st = strtoul(t, NULL, 10); break; }
    }
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static void mem_kb(int pid, long *rss, long *hwm)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", pid);
    FILE *f = fopen(p, "r");
    *rss = *hwm = 0;
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmRSS:", 6)) *rss = atol(line + 6);
        if (!strncmp(line, "VmHWM:", 6)) *hwm = atol(line + 6);
    }
    fclose(f);
}

/* A response is an error when it has "error" or result.isError true. */
static int is_error(const char *body, size_t n)
{
    json_t *j = json_loadb(body, n, 0, NULL);
    if (!j) return 1;
    json_t *r = json_object_get(j, "result");
    int bad = json_object_get(j, "error") || !r || json_is_true(json_object_get(r, "isError"));
    json_decref(j);
    return bad;
}

typedef struct stats {
    double *lat;
    size_t n, cap, errors, bytes;
} stats;

/* A failed call (an error answer, e.g. a 429) is counted apart: calls, calls/s, latency
 * and bytes are those of the answered calls only, so refusing fast never looks fast. */
static void add(stats *s, double ms, size_t bytes, int err)
{
    if (err) {
        s->errors++;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->lat = realloc(s->lat, s->cap * sizeof *s->lat);
    }
    s->lat[s->n++] = ms;
    s->bytes += bytes;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(stats *s, double secs, int pid)
{
    (void)pid;
    qsort(s->lat, s->n, sizeof *s->lat, cmp);
    double p50 = s->n ? s->lat[s->n / 2] : 0, p99 = s->n ? s->lat[(size_t)((double)s->n * 0.99)] : 0;
    printf("{\"calls\":%zu,\"errors\":%zu,\"seconds\":%.3f,\"calls_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"bytes_per_call\":%.0f",
           s->n, s->errors, secs, (double)s->n / secs, p50, p99, s->n ? (double)s->bytes / (double)s->n : 0);
}

static char *call_msg(int id, const char *tool, const char *args)
{
    char *m = NULL;
    if (asprintf(&m, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s}}",
                 id, tool, args) < 0)
        exit(2);
    return m;
}

static const char INIT[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"" PROTO
                           "\",\"capabilities\":{},\"clientInfo\":{\"name\":\"mcp_rawbench\",\"version\":\"1\"}}}";
static const char INITED[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";

/* ---- stdio ---- */

static char *read_line(FILE *f, size_t *len)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n <= 0) { free(line); return NULL; }
    *len = (size_t)n;
    return line;
}

/* Reads lines until the response with this id (skips notifications and logs). */
static char *read_response(FILE *f, int id, size_t *len)
{
    char want[32];
    snprintf(want, sizeof want, "\"id\":%d", id);
    for (;;) {
        char *l = read_line(f, len);
        if (!l) return NULL;
        if (strstr(l, want) && (strstr(l, "\"result\"") || strstr(l, "\"error\""))) return l;
        free(l);
    }
}

static int run_stdio(double seconds, const char *tool, const char *args, char **cmd)
{
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return 2;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execvp(cmd[0], cmd);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    FILE *w = fdopen(in[1], "w"), *r = fdopen(out[0], "r");
    size_t len;
    fprintf(w, "%s\n", INIT);
    fflush(w);
    char *l = read_response(r, 0, &len);
    if (!l) { fprintf(stderr, "mcp_rawbench: no initialize answer\n"); return 1; }
    free(l);
    fprintf(w, "%s\n", INITED);
    fflush(w);
    /* warm-up: the first calls open sessions, fill caches */
    for (int i = 1; i <= 20; i++) {
        char *m = call_msg(i, tool, args);
        fprintf(w, "%s\n", m);
        fflush(w);
        free(m);
        free(read_response(r, i, &len));
    }
    stats s = {0};
    double c0 = cpu_ms(pid), t0 = now_s(), t;
    int id = 100;
    while ((t = now_s()) - t0 < seconds) {
        char *m = call_msg(++id, tool, args);
        fprintf(w, "%s\n", m);
        fflush(w);
        free(m);
        l = read_response(r, id, &len);
        if (!l) { fprintf(stderr, "mcp_rawbench: server closed\n"); return 1; }
        add(&s, (now_s() - t) * 1000.0, len, is_error(l, len));
        free(l);
    }
    double secs = now_s() - t0, c1 = cpu_ms(pid);
    long rss, hwm;
    mem_kb(pid, &rss, &hwm);
    report(&s, secs, pid);
    printf(",\"cpu_ms\":%.0f,\"rss_kb\":%ld,\"hwm_kb\":%ld}\n", c1 - c0, rss, hwm);
    fclose(w);
    int st;
    for (int i = 0; i < 50 && waitpid(pid, &st, WNOHANG) == 0; i++) usleep(100000);
    if (waitpid(pid, &st, WNOHANG) == 0) { kill(pid, SIGTERM); waitpid(pid, &st, 0); }
    fclose(r);
    return 0;
}

/* ---- HTTP ---- */

typedef struct hclient {
    const char *url, *token, *tool, *args;
    double seconds, t0;
    char sid[256];
    char *body;
    size_t blen;
    stats s;
    int failed;
} hclient;

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    hclient *c = arg;
    c->body = realloc(c->body, c->blen + sz * n + 1);
    memcpy(c->body + c->blen, p, sz * n);
    c->blen += sz * n;
    c->body[c->blen] = 0;
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    hclient *c = arg;
    size_t len = sz * n;
    if (len > 15 && !strncasecmp(p, "mcp-session-id:", 15)) {
        const char *v = p + 15;
        while (*v == ' ') v++;
        size_t k = (size_t)(p + len - v);
        while (k && (v[k - 1] == '\r' || v[k - 1] == '\n')) k--;
        if (k < sizeof c->sid) { memcpy(c->sid, v, k); c->sid[k] = 0; }
    }
    return len;
}

/* The JSON of a response body: plain JSON, or the data: lines of an SSE stream. */
static const char *payload(hclient *c, size_t *n)
{
    char *b = c->body ? c->body : "";
    if (strncmp(b, "event:", 6) && strncmp(b, "data:", 5) && !strstr(b, "\ndata:")) { *n = c->blen; return b; }
    char *d = strstr(b, "data:");
    if (!d) { *n = 0; return ""; }
    d += 5;
    while (*d == ' ') d++;
    char *e = strchr(d, '\n');
    *n = e ? (size_t)(e - d) : strlen(d);
    return d;
}

static int post(CURL *h, hclient *c, const char *msg)
{
    struct curl_slist *hd = NULL;
    char auth[600], sid[300];
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Accept: application/json, text/event-stream");
    hd = curl_slist_append(hd, "MCP-Protocol-Version: " PROTO);
    if (c->token && strcmp(c->token, "-")) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
        hd = curl_slist_append(hd, auth);
    }
    if (c->sid[0]) {
        snprintf(sid, sizeof sid, "Mcp-Session-Id: %s", c->sid);
        hd = curl_slist_append(hd, sid);
    }
    c->blen = 0;
    if (c->body) c->body[0] = 0;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, msg);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hd);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    return rc == CURLE_OK && code >= 200 && code < 300 ? 0 : -1;
}

static void *hrun(void *arg)
{
    hclient *c = arg;
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    if (post(h, c, INIT)) { c->failed = 1; curl_easy_cleanup(h); return NULL; }
    post(h, c, INITED);
    for (int i = 1; i <= 5; i++) {
        char *m = call_msg(i, c->tool, c->args);
        post(h, c, m);
        free(m);
    }
    /* start together */
    while (now_s() < c->t0) usleep(1000);
    int id = 100;
    double t;
    while ((t = now_s()) - c->t0 < c->seconds) {
        char *m = call_msg(++id, c->tool, c->args);
        int rc = post(h, c, m);
        free(m);
        size_t n;
        const char *p = payload(c, &n);
        add(&c->s, (now_s() - t) * 1000.0, c->blen, rc || is_error(p, n));
    }
    curl_easy_cleanup(h);
    return NULL;
}

static int run_http(double seconds, int nclients, const char *url, const char *token, int pid, const char *tool,
                    const char *args)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    hclient *cs = calloc((size_t)nclients, sizeof *cs);
    pthread_t *th = calloc((size_t)nclients, sizeof *th);
    double t0 = now_s() + 1.0 + nclients * 0.02;
    for (int i = 0; i < nclients; i++) {
        cs[i] = (hclient){.url = url, .token = token, .tool = tool, .args = args, .seconds = seconds, .t0 = t0};
        pthread_create(&th[i], NULL, hrun, &cs[i]);
    }
    while (now_s() < t0) usleep(500);
    double c0 = cpu_ms(pid);
    stats all = {0};
    for (int i = 0; i < nclients; i++) {
        pthread_join(th[i], NULL);
        if (cs[i].failed) all.errors++;
        for (size_t k = 0; k < cs[i].s.n; k++) add(&all, cs[i].s.lat[k], 0, 0);
        all.bytes += cs[i].s.bytes;
        all.errors += cs[i].s.errors;
        free(cs[i].s.lat);
        free(cs[i].body);
    }
    double secs = now_s() - t0, c1 = cpu_ms(pid);
    long rss, hwm;
    mem_kb(pid, &rss, &hwm);
    report(&all, secs, pid);
    printf(",\"cpu_ms\":%.0f,\"rss_kb\":%ld,\"hwm_kb\":%ld}\n", c1 - c0, rss, hwm);
    free(cs);
    free(th);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 7 && !strcmp(argv[1], "stdio") && !strcmp(argv[5], "--"))
        return run_stdio(atof(argv[2]), argv[3], argv[4], argv + 6);
    if (argc == 9 && !strcmp(argv[1], "http"))
        return run_http(atof(argv[2]), atoi(argv[3]), argv[4], argv[5], atoi(argv[6]), argv[7], argv[8]);
    fprintf(stderr, "usage: mcp_rawbench stdio SECONDS TOOL ARGS -- CMD...\n"
                    "       mcp_rawbench http SECONDS CLIENTS URL TOKEN|- SERVER_PID TOOL ARGS\n");
    return 2;
}
