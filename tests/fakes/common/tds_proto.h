/* MS-TDS building blocks for the fake SQL Server (no TLS): packet framing, PRELOGIN,
 * LOGIN7, SQL batch parsing and the server token writers. Pure functions over byte
 * buffers so that they can be unit-tested byte for byte against a FreeTDS capture and
 * fuzzed; only tdsf_read_message/tdsf_write_message touch a socket.
 * Layouts follow [MS-TDS]; see shared/reference/protocols.md section 5. */
#ifndef TDSF_PROTO_H
#define TDSF_PROTO_H
#include <stddef.h>
#include <stdint.h>

/* Packet types. */
enum { TDSF_PKT_BATCH = 0x01, TDSF_PKT_RPC = 0x03, TDSF_PKT_REPLY = 0x04, TDSF_PKT_ATTN = 0x06,
       TDSF_PKT_LOGIN7 = 0x10, TDSF_PKT_PRELOGIN = 0x12 };
/* Tokens. */
enum { TDSF_TOK_RETURNSTATUS = 0x79, TDSF_TOK_COLMETADATA = 0x81, TDSF_TOK_ERROR = 0xAA,
       TDSF_TOK_INFO = 0xAB, TDSF_TOK_LOGINACK = 0xAD, TDSF_TOK_ROW = 0xD1,
       TDSF_TOK_ENVCHANGE = 0xE3, TDSF_TOK_DONE = 0xFD, TDSF_TOK_DONEPROC = 0xFE,
       TDSF_TOK_DONEINPROC = 0xFF };
/* DONE status bits. */
enum { TDSF_DONE_MORE = 0x0001, TDSF_DONE_ERROR = 0x0002, TDSF_DONE_INXACT = 0x0004,
       TDSF_DONE_COUNT = 0x0010, TDSF_DONE_ATTN = 0x0020, TDSF_DONE_SRVERROR = 0x0100 };
/* Column types the fake writes. */
enum { TDSF_TYPE_INTN = 0x26, TDSF_TYPE_NVARCHAR = 0xE7 };

#define TDSF_HDR_LEN 8
#define TDSF_MAX_MESSAGE (1u << 20)  /* reassembly cap: larger messages are refused */
#define TDSF_TDS74 0x74000004u

/* Growable byte buffer (aborts on out-of-memory). */
typedef struct tdsf_buf { uint8_t *data; size_t len, cap; } tdsf_buf;
void tdsf_buf_init(tdsf_buf *b);
void tdsf_buf_free(tdsf_buf *b);          /* wipes: buffers may have held a password */
void tdsf_buf_reset(tdsf_buf *b);
void tdsf_put(tdsf_buf *b, const void *p, size_t n);
void tdsf_put_u8(tdsf_buf *b, uint8_t v);
void tdsf_put_u16le(tdsf_buf *b, uint16_t v);
void tdsf_put_u16be(tdsf_buf *b, uint16_t v);
void tdsf_put_u32le(tdsf_buf *b, uint32_t v);
void tdsf_put_u32be(tdsf_buf *b, uint32_t v);
void tdsf_put_u64le(tdsf_buf *b, uint64_t v);
/* Appends UTF-8 s as UCS-2LE (UTF-16LE, surrogate pairs for non-BMP); returns the
 * number of 16-bit code units written. Invalid UTF-8 bytes become U+FFFD. */
size_t tdsf_put_ucs2(tdsf_buf *b, const char *s);
/* Number of UTF-16 code units tdsf_put_ucs2 would write. */
size_t tdsf_ucs2_units(const char *s);
/* B_VARCHAR (1-byte unit count) and US_VARCHAR (2-byte unit count); strings longer
 * than the count allows are truncated. */
void tdsf_put_bvarchar(tdsf_buf *b, const char *s);
void tdsf_put_usvarchar(tdsf_buf *b, const char *s);
/* UCS-2LE (nunits code units) to a malloc'd UTF-8 string; NULL on bad input (lone
 * surrogates are replaced by U+FFFD, NUL units are refused). */
char *tdsf_ucs2_to_utf8(const uint8_t *p, size_t nunits);

/* ---- Framing ---- */
typedef struct tdsf_hdr { uint8_t type, status; uint16_t length, spid; uint8_t packet_id, window; } tdsf_hdr;
/* Parses an 8-byte header; -1 if the length is impossible (< 8). */
int tdsf_hdr_parse(const uint8_t *p, tdsf_hdr *h);
/* Splits payload into packets of at most packet_size bytes (header included; values
 * below 512 are raised to 512); only the last has EOM. Packet ids start at 1. */
void tdsf_frame(tdsf_buf *out, uint8_t type, uint16_t spid, const uint8_t *payload, size_t len,
                size_t packet_size);
/* Reassembles one message from a byte stream held in memory: returns 1 and sets *type,
 * appends the payload to out and *consumed when a message ending in EOM is complete;
 * 0 when more bytes are needed; -1 on a malformed stream (bad length, type changing
 * mid-message, message over TDSF_MAX_MESSAGE). */
int tdsf_unframe(const uint8_t *data, size_t len, uint8_t *type, tdsf_buf *out, size_t *consumed);
/* Socket versions: read one whole message (0 ok, 1 clean EOF before a message, -1 error);
 * write one message split to packet_size (0 ok, -1 error). */
int tdsf_read_message(int fd, uint8_t *type, tdsf_buf *payload);
int tdsf_write_message(int fd, uint8_t type, uint16_t spid, const tdsf_buf *payload, size_t packet_size);

/* ---- PRELOGIN ---- */
typedef struct tdsf_prelogin {
    int has_version; uint8_t version[6];
    int has_encryption; uint8_t encryption;
    int has_mars; uint8_t mars;
    int has_threadid; uint32_t threadid;
    char instopt[64];
} tdsf_prelogin;
/* 0 ok, -1 malformed (option data outside the payload, missing terminator). */
int tdsf_prelogin_parse(const uint8_t *p, size_t n, tdsf_prelogin *out);
/* Reply payload: VERSION (UL_VERSION BE major.minor.build, subbuild 0), ENCRYPTION,
 * INSTOPT "" , THREADID (empty), MARS. */
void tdsf_prelogin_reply(tdsf_buf *out, uint8_t major, uint8_t minor, uint16_t build,
                         uint8_t encryption, uint8_t mars);

/* ---- LOGIN7 ---- */
typedef struct tdsf_login7 {
    uint32_t length, tds_version, packet_size, client_prog_ver, client_pid, connection_id;
    uint8_t option_flags1, option_flags2, type_flags, option_flags3;
    char *hostname, *username, *password, *appname, *servername, *clt_int_name, *language,
        *database;
} tdsf_login7;
/* 0 ok, -1 malformed. Strings are UTF-8; password de-obfuscated. Free with
 * tdsf_login7_free (wipes the password). */
int tdsf_login7_parse(const uint8_t *p, size_t n, tdsf_login7 *out);
void tdsf_login7_free(tdsf_login7 *l);
/* Password (de)obfuscation of one byte ([MS-TDS] 2.2.6.4). */
uint8_t tdsf_pw_decode_byte(uint8_t b);
uint8_t tdsf_pw_encode_byte(uint8_t b);

/* ---- SQL batch ---- */
/* Extracts the SQL text (UTF-8, malloc'd) from a batch payload; skips ALL_HEADERS when
 * all_headers is non-zero (TDS 7.2+). 0 ok, -1 malformed. */
int tdsf_batch_parse(const uint8_t *p, size_t n, int all_headers, char **sql);

/* ---- Token writers ---- */
void tdsf_tok_loginack(tdsf_buf *b, uint8_t interface, uint32_t tds_version, const char *progname,
                       const uint8_t progver[4]);
void tdsf_tok_envchange(tdsf_buf *b, uint8_t type, const char *newv, const char *oldv);
/* token is TDSF_TOK_ERROR or TDSF_TOK_INFO. */
void tdsf_tok_message(tdsf_buf *b, uint8_t token, int32_t number, uint8_t state, uint8_t cls,
                      const char *msg, const char *server, const char *proc, uint32_t line);
void tdsf_tok_done(tdsf_buf *b, uint8_t token, uint16_t status, uint16_t curcmd, uint64_t rowcount);
void tdsf_tok_returnstatus(tdsf_buf *b, int32_t value);

typedef struct tdsf_col {
    const char *name;
    uint8_t type;       /* TDSF_TYPE_NVARCHAR or TDSF_TYPE_INTN */
    uint16_t size;      /* NVARCHAR: max length in bytes; INTN: 1, 2, 4 or 8 */
    int nullable;
} tdsf_col;
void tdsf_tok_colmetadata(tdsf_buf *b, const tdsf_col *cols, size_t n);
/* ROW: write the token byte once, then one value per column in order. */
void tdsf_tok_row(tdsf_buf *b);
void tdsf_val_nvarchar(tdsf_buf *b, const char *s);             /* NULL -> SQL NULL */
void tdsf_val_intn(tdsf_buf *b, uint8_t size, int64_t v, int is_null);

#endif
