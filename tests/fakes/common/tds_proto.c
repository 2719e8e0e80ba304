/* MS-TDS building blocks for the fake SQL Server; see tds_proto.h. Written from
 * [MS-TDS] and the FreeTDS capture in shared/testdata/tds (no FreeTDS code). */
#include "tds_proto.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void wipe(void *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n--) *v++ = 0;
}

void tdsf_buf_init(tdsf_buf *b) { b->data = NULL; b->len = b->cap = 0; }
void tdsf_buf_free(tdsf_buf *b)
{
    if (b->data) wipe(b->data, b->cap);
    free(b->data);
    tdsf_buf_init(b);
}
void tdsf_buf_reset(tdsf_buf *b) { if (b->data) wipe(b->data, b->len); b->len = 0; }

void tdsf_put(tdsf_buf *b, const void *p, size_t n)
{
    if (n == 0) return;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n) nc *= 2;
        uint8_t *nd = malloc(nc);
        if (!nd) abort();
        if (b->data) { memcpy(nd, b->data, b->len); wipe(b->data, b->cap); free(b->data); }
        b->data = nd;
        b->cap = nc;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
void tdsf_put_u8(tdsf_buf *b, uint8_t v) { tdsf_put(b, &v, 1); }
void tdsf_put_u16le(tdsf_buf *b, uint16_t v) { uint8_t x[2] = {v & 0xff, v >> 8}; tdsf_put(b, x, 2); }
void tdsf_put_u16be(tdsf_buf *b, uint16_t v) { uint8_t x[2] = {v >> 8, v & 0xff}; tdsf_put(b, x, 2); }
void tdsf_put_u32le(tdsf_buf *b, uint32_t v)
{
    uint8_t x[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
    tdsf_put(b, x, 4);
}
void tdsf_put_u32be(tdsf_buf *b, uint32_t v)
{
    uint8_t x[4] = {v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff};
    tdsf_put(b, x, 4);
}
void tdsf_put_u64le(tdsf_buf *b, uint64_t v)
{
    tdsf_put_u32le(b, (uint32_t)v);
    tdsf_put_u32le(b, (uint32_t)(v >> 32));
}

/* Decodes one UTF-8 code point at *s; invalid sequences yield U+FFFD and advance 1. */
static uint32_t utf8_next(const unsigned char **s)
{
    const unsigned char *p = *s;
    uint32_t c = p[0];
    int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0) { (*s)++; return 0xFFFD; }
    if (n == 0) { (*s)++; return c; }
    c &= 0x3F >> n;
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80) { (*s)++; return 0xFFFD; }
        c = (c << 6) | (p[i] & 0x3F);
    }
    static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
    if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) { (*s)++; return 0xFFFD; }
    *s += n + 1;
    return c;
}

static size_t ucs2_emit(tdsf_buf *b, const char *s, size_t max_units)
{
    size_t units = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c = utf8_next(&p);
        if (c >= 0x10000) {
            if (units + 2 > max_units) break;
            c -= 0x10000;
            if (b) { tdsf_put_u16le(b, (uint16_t)(0xD800 | (c >> 10))); tdsf_put_u16le(b, (uint16_t)(0xDC00 | (c & 0x3FF))); }
            units += 2;
        } else {
            if (units + 1 > max_units) break;
            if (b) tdsf_put_u16le(b, (uint16_t)c);
            units++;
        }
    }
    return units;
}
size_t tdsf_put_ucs2(tdsf_buf *b, const char *s) { return ucs2_emit(b, s, SIZE_MAX); }
size_t tdsf_ucs2_units(const char *s) { return ucs2_emit(NULL, s, SIZE_MAX); }

void tdsf_put_bvarchar(tdsf_buf *b, const char *s)
{
    size_t n = ucs2_emit(NULL, s, 255);
    tdsf_put_u8(b, (uint8_t)n);
    ucs2_emit(b, s, 255);
}
void tdsf_put_usvarchar(tdsf_buf *b, const char *s)
{
    size_t n = ucs2_emit(NULL, s, 65535);
    tdsf_put_u16le(b, (uint16_t)n);
    ucs2_emit(b, s, 65535);
}

char *tdsf_ucs2_to_utf8(const uint8_t *p, size_t nunits)
{
    if (nunits > TDSF_MAX_MESSAGE) return NULL;
    char *out = malloc(nunits * 3 + 1);
    if (!out) abort();
    size_t o = 0;
    for (size_t i = 0; i < nunits; i++) {
        uint32_t c = (uint32_t)p[2 * i] | ((uint32_t)p[2 * i + 1] << 8);
        if (c == 0) { free(out); return NULL; }
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < nunits) {
            uint32_t d = (uint32_t)p[2 * i + 2] | ((uint32_t)p[2 * i + 3] << 8);
            if (d >= 0xDC00 && d <= 0xDFFF) { c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00); i++; }
            else c = 0xFFFD;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        if (c < 0x80) out[o++] = (char)c;
        else if (c < 0x800) { out[o++] = (char)(0xC0 | (c >> 6)); out[o++] = (char)(0x80 | (c & 0x3F)); }
        else if (c < 0x10000) {
            out[o++] = (char)(0xE0 | (c >> 12)); out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | (c >> 18)); out[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3F)); out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[o] = 0;
    return out;
}

/* ---- Framing ---- */
int tdsf_hdr_parse(const uint8_t *p, tdsf_hdr *h)
{
    h->type = p[0];
    h->status = p[1];
    h->length = (uint16_t)(p[2] << 8 | p[3]);
    h->spid = (uint16_t)(p[4] << 8 | p[5]);
    h->packet_id = p[6];
    h->window = p[7];
    return h->length < TDSF_HDR_LEN ? -1 : 0;
}

void tdsf_frame(tdsf_buf *out, uint8_t type, uint16_t spid, const uint8_t *payload, size_t len,
                size_t packet_size)
{
    if (packet_size < 512) packet_size = 512;
    if (packet_size > 32767) packet_size = 32767;
    size_t chunk = packet_size - TDSF_HDR_LEN, off = 0;
    uint8_t id = 1;
    do {
        size_t n = len - off > chunk ? chunk : len - off;
        int last = off + n == len;
        tdsf_put_u8(out, type);
        tdsf_put_u8(out, last ? 0x01 : 0x00);
        tdsf_put_u16be(out, (uint16_t)(n + TDSF_HDR_LEN));
        tdsf_put_u16be(out, spid);
        tdsf_put_u8(out, id++);
        tdsf_put_u8(out, 0);
        tdsf_put(out, payload + off, n);
        off += n;
    } while (off < len);
}

int tdsf_unframe(const uint8_t *data, size_t len, uint8_t *type, tdsf_buf *out, size_t *consumed)
{
    size_t off = 0, total = 0;
    int first = 1;
    for (;;) {
        if (len - off < TDSF_HDR_LEN) return 0;
        tdsf_hdr h;
        if (tdsf_hdr_parse(data + off, &h) < 0) return -1;
        if (first) *type = h.type;
        else if (h.type != *type) return -1;
        if (len - off < h.length) return 0;
        total += h.length - TDSF_HDR_LEN;
        if (total > TDSF_MAX_MESSAGE) return -1;
        off += h.length;
        first = 0;
        if (h.status & 0x01) break;
    }
    /* Second pass copies: only once the whole message is present. */
    size_t p = 0;
    while (p < off) {
        tdsf_hdr h;
        tdsf_hdr_parse(data + p, &h);
        tdsf_put(out, data + p + TDSF_HDR_LEN, h.length - TDSF_HDR_LEN);
        p += h.length;
    }
    *consumed = off;
    return 1;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r == 0) return got == 0 ? 1 : -1;
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        got += (size_t)r;
    }
    return 0;
}

int tdsf_read_message(int fd, uint8_t *type, tdsf_buf *payload)
{
    int first = 1;
    uint8_t body[65536];
    for (;;) {
        uint8_t hb[TDSF_HDR_LEN];
        int r = read_full(fd, hb, sizeof hb);
        if (r) return first && r == 1 ? 1 : -1;
        tdsf_hdr h;
        if (tdsf_hdr_parse(hb, &h) < 0) return -1;
        if (first) *type = h.type;
        else if (h.type != *type) return -1;
        size_t n = h.length - TDSF_HDR_LEN;
        if (payload->len + n > TDSF_MAX_MESSAGE) return -1;
        if (n && read_full(fd, body, n)) return -1;
        tdsf_put(payload, body, n);
        wipe(body, n);
        first = 0;
        if (h.status & 0x01) return 0;
    }
}

int tdsf_write_message(int fd, uint8_t type, uint16_t spid, const tdsf_buf *payload, size_t packet_size)
{
    tdsf_buf out;
    tdsf_buf_init(&out);
    tdsf_frame(&out, type, spid, payload->data ? payload->data : (const uint8_t *)"", payload->len, packet_size);
    size_t off = 0;
    int rc = 0;
    while (off < out.len) {
        ssize_t w = write(fd, out.data + off, out.len - off);
        if (w < 0) { if (errno == EINTR) continue; rc = -1; break; }
        off += (size_t)w;
    }
    tdsf_buf_free(&out);
    return rc;
}

/* ---- PRELOGIN ---- */
int tdsf_prelogin_parse(const uint8_t *p, size_t n, tdsf_prelogin *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    for (;;) {
        if (i >= n) return -1;
        uint8_t tok = p[i];
        if (tok == 0xFF) break;
        if (n - i < 5) return -1;
        size_t off = (size_t)(p[i + 1] << 8 | p[i + 2]), len = (size_t)(p[i + 3] << 8 | p[i + 4]);
        i += 5;
        if (off > n || len > n - off) return -1;
        const uint8_t *d = p + off;
        switch (tok) {
        case 0x00:
            if (len < 6) return -1;
            memcpy(out->version, d, 6);
            out->has_version = 1;
            break;
        case 0x01:
            if (len < 1) return -1;
            out->encryption = d[0];
            out->has_encryption = 1;
            break;
        case 0x02: {
            size_t k = 0;
            while (k < len && k + 1 < sizeof out->instopt && d[k]) { out->instopt[k] = (char)d[k]; k++; }
            out->instopt[k] = 0;
            break;
        }
        case 0x03:
            if (len >= 4) { out->threadid = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24; out->has_threadid = 1; }
            break;
        case 0x04:
            if (len < 1) return -1;
            out->mars = d[0];
            out->has_mars = 1;
            break;
        default: /* TRACEID, FEDAUTHREQUIRED, NONCEOPT...: ignored */
            break;
        }
    }
    return 0;
}

void tdsf_prelogin_reply(tdsf_buf *out, uint8_t major, uint8_t minor, uint16_t build,
                         uint8_t encryption, uint8_t mars)
{
    /* Five options: the table is 5*5+1 = 26 bytes, then data in the same order. */
    const uint16_t base = 26;
    tdsf_put_u8(out, 0x00); tdsf_put_u16be(out, base);      tdsf_put_u16be(out, 6);
    tdsf_put_u8(out, 0x01); tdsf_put_u16be(out, base + 6);  tdsf_put_u16be(out, 1);
    tdsf_put_u8(out, 0x02); tdsf_put_u16be(out, base + 7);  tdsf_put_u16be(out, 1);
    tdsf_put_u8(out, 0x03); tdsf_put_u16be(out, base + 8);  tdsf_put_u16be(out, 0);
    tdsf_put_u8(out, 0x04); tdsf_put_u16be(out, base + 8);  tdsf_put_u16be(out, 1);
    tdsf_put_u8(out, 0xFF);
    tdsf_put_u8(out, major); tdsf_put_u8(out, minor); tdsf_put_u16be(out, build);
    tdsf_put_u16be(out, 0);   /* US_SUBBUILD */
    tdsf_put_u8(out, encryption);
    tdsf_put_u8(out, 0);      /* INSTOPT: empty, NUL-terminated */
    tdsf_put_u8(out, mars);
}

/* ---- LOGIN7 ---- */
uint8_t tdsf_pw_decode_byte(uint8_t b)
{
    uint8_t x = b ^ 0xA5;
    return (uint8_t)((x << 4) | (x >> 4));
}
uint8_t tdsf_pw_encode_byte(uint8_t b) { return (uint8_t)(((b << 4) | (b >> 4)) ^ 0xA5); }

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Reads the string whose Offset(2)/Length(2, characters) pair is at p+at. */
static int login_str(const uint8_t *p, size_t n, size_t at, int password, char **out)
{
    size_t off = rd16(p + at), chars = rd16(p + at + 2);
    *out = NULL;
    if (chars == 0) { *out = calloc(1, 1); if (!*out) abort(); return 0; }
    if (off > n || chars * 2 > n - off) return -1;
    if (!password) {
        *out = tdsf_ucs2_to_utf8(p + off, chars);
        return *out ? 0 : -1;
    }
    uint8_t *tmp = malloc(chars * 2);
    if (!tmp) abort();
    for (size_t i = 0; i < chars * 2; i++) tmp[i] = tdsf_pw_decode_byte(p[off + i]);
    *out = tdsf_ucs2_to_utf8(tmp, chars);
    wipe(tmp, chars * 2);
    free(tmp);
    return *out ? 0 : -1;
}

int tdsf_login7_parse(const uint8_t *p, size_t n, tdsf_login7 *out)
{
    memset(out, 0, sizeof *out);
    if (n < 94) return -1;   /* fixed part of TDS 7.2+; older clients are not supported */
    out->length = rd32(p);
    if (out->length > n || out->length < 94) return -1;
    n = out->length;
    out->tds_version = rd32(p + 4);
    out->packet_size = rd32(p + 8);
    out->client_prog_ver = rd32(p + 12);
    out->client_pid = rd32(p + 16);
    out->connection_id = rd32(p + 20);
    out->option_flags1 = p[24];
    out->option_flags2 = p[25];
    out->type_flags = p[26];
    out->option_flags3 = p[27];
    /* Offset/length pairs from byte 36: Host, User, Password, App, Server, Extension,
     * CltIntName, Language, Database. */
    if (login_str(p, n, 36, 0, &out->hostname) || login_str(p, n, 40, 0, &out->username) ||
        login_str(p, n, 44, 1, &out->password) || login_str(p, n, 48, 0, &out->appname) ||
        login_str(p, n, 52, 0, &out->servername) || login_str(p, n, 60, 0, &out->clt_int_name) ||
        login_str(p, n, 64, 0, &out->language) || login_str(p, n, 68, 0, &out->database)) {
        tdsf_login7_free(out);
        return -1;
    }
    return 0;
}

void tdsf_login7_free(tdsf_login7 *l)
{
    if (l->password) { wipe(l->password, strlen(l->password)); free(l->password); }
    free(l->hostname); free(l->username); free(l->appname); free(l->servername);
    free(l->clt_int_name); free(l->language); free(l->database);
    memset(l, 0, sizeof *l);
}

/* ---- SQL batch ---- */
int tdsf_batch_parse(const uint8_t *p, size_t n, int all_headers, char **sql)
{
    size_t off = 0;
    *sql = NULL;
    if (all_headers) {
        if (n < 4) return -1;
        size_t total = rd32(p);
        if (total < 4 || total > n) return -1;
        /* Walk the headers so that a lying TotalLength is refused. */
        size_t h = 4;
        while (h < total) {
            if (total - h < 6) return -1;
            size_t hl = rd32(p + h);
            if (hl < 6 || hl > total - h) return -1;
            h += hl;
        }
        off = total;
    }
    if ((n - off) % 2) return -1;
    *sql = tdsf_ucs2_to_utf8(p + off, (n - off) / 2);
    return *sql ? 0 : -1;
}

/* ---- Tokens ---- */
void tdsf_tok_loginack(tdsf_buf *b, uint8_t interface, uint32_t tds_version, const char *progname,
                       const uint8_t progver[4])
{
    size_t units = ucs2_emit(NULL, progname, 255);
    tdsf_put_u8(b, TDSF_TOK_LOGINACK);
    tdsf_put_u16le(b, (uint16_t)(10 + 2 * units));
    tdsf_put_u8(b, interface);
    tdsf_put_u32be(b, tds_version);
    tdsf_put_bvarchar(b, progname);
    tdsf_put(b, progver, 4);
}

void tdsf_tok_envchange(tdsf_buf *b, uint8_t type, const char *newv, const char *oldv)
{
    size_t nn = ucs2_emit(NULL, newv, 255), no = ucs2_emit(NULL, oldv, 255);
    tdsf_put_u8(b, TDSF_TOK_ENVCHANGE);
    tdsf_put_u16le(b, (uint16_t)(1 + 1 + 2 * nn + 1 + 2 * no));
    tdsf_put_u8(b, type);
    tdsf_put_bvarchar(b, newv);
    tdsf_put_bvarchar(b, oldv);
}

void tdsf_tok_message(tdsf_buf *b, uint8_t token, int32_t number, uint8_t state, uint8_t cls,
                      const char *msg, const char *server, const char *proc, uint32_t line)
{
    size_t nm = ucs2_emit(NULL, msg, 65535), ns = ucs2_emit(NULL, server, 255), np = ucs2_emit(NULL, proc, 255);
    size_t len = 4 + 1 + 1 + 2 + 2 * nm + 1 + 2 * ns + 1 + 2 * np + 4;
    if (len > 65535) { msg = "message too long"; nm = 16; len = 4 + 1 + 1 + 2 + 32 + 1 + 2 * ns + 1 + 2 * np + 4; }
    tdsf_put_u8(b, token);
    tdsf_put_u16le(b, (uint16_t)len);
    tdsf_put_u32le(b, (uint32_t)number);
    tdsf_put_u8(b, state);
    tdsf_put_u8(b, cls);
    tdsf_put_usvarchar(b, msg);
    tdsf_put_bvarchar(b, server);
    tdsf_put_bvarchar(b, proc);
    tdsf_put_u32le(b, line);
}

void tdsf_tok_done(tdsf_buf *b, uint8_t token, uint16_t status, uint16_t curcmd, uint64_t rowcount)
{
    tdsf_put_u8(b, token);
    tdsf_put_u16le(b, status);
    tdsf_put_u16le(b, curcmd);
    tdsf_put_u64le(b, rowcount);
}

void tdsf_tok_returnstatus(tdsf_buf *b, int32_t value)
{
    tdsf_put_u8(b, TDSF_TOK_RETURNSTATUS);
    tdsf_put_u32le(b, (uint32_t)value);
}

void tdsf_tok_colmetadata(tdsf_buf *b, const tdsf_col *cols, size_t n)
{
    /* Collation as in the capture: LCID 0x0409, flags 0xD0, version 0, sort id 0x34
     * (SQL_Latin1_General_CP1_CI_AS). */
    static const uint8_t collation[5] = {0x09, 0x04, 0xD0, 0x00, 0x34};
    tdsf_put_u8(b, TDSF_TOK_COLMETADATA);
    tdsf_put_u16le(b, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        tdsf_put_u32le(b, 0);                           /* UserType */
        tdsf_put_u16le(b, cols[i].nullable ? 0x0001 : 0x0000);
        tdsf_put_u8(b, cols[i].type);
        if (cols[i].type == TDSF_TYPE_NVARCHAR) {
            tdsf_put_u16le(b, cols[i].size);
            tdsf_put(b, collation, 5);
        } else {
            tdsf_put_u8(b, (uint8_t)cols[i].size);
        }
        tdsf_put_bvarchar(b, cols[i].name);
    }
}

void tdsf_tok_row(tdsf_buf *b) { tdsf_put_u8(b, TDSF_TOK_ROW); }

void tdsf_val_nvarchar(tdsf_buf *b, const char *s)
{
    if (!s) { tdsf_put_u16le(b, 0xFFFF); return; }
    size_t units = ucs2_emit(NULL, s, 4000);
    tdsf_put_u16le(b, (uint16_t)(units * 2));
    ucs2_emit(b, s, 4000);
}

void tdsf_val_intn(tdsf_buf *b, uint8_t size, int64_t v, int is_null)
{
    if (is_null) { tdsf_put_u8(b, 0); return; }
    tdsf_put_u8(b, size);
    uint64_t u = (uint64_t)v;
    for (uint8_t i = 0; i < size; i++) tdsf_put_u8(b, (uint8_t)(u >> (8 * i)));
}
