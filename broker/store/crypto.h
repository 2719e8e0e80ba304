/* Cryptography on OpenSSL EVP and libargon2. Nothing here touches storage.
 * Sealed format: "CB" 0x01 || nonce(12) || ciphertext || tag(16), AES-256-GCM, fresh
 * random nonce per seal; the caller's AAD binds the blob to where it lives. */
#ifndef CB_CRYPTO_H
#define CB_CRYPTO_H
#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define CB_KEY_LEN 32
#define CB_NONCE_LEN 12
#define CB_TAG_LEN 16
#define CB_SEAL_OVERHEAD (3 + CB_NONCE_LEN + CB_TAG_LEN)

int cb_random(void *buf, size_t n);

/* Raw AES-GCM (key 16/24/32 bytes, any IV length), used directly by the NIST vector
 * tests. decrypt returns -1 when the tag does not authenticate. */
int cb_gcm_encrypt(const uint8_t *key, size_t keylen, const uint8_t *iv, size_t ivlen,
                   const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t ptlen,
                   uint8_t *ct, uint8_t *tag, size_t taglen);
int cb_gcm_decrypt(const uint8_t *key, size_t keylen, const uint8_t *iv, size_t ivlen,
                   const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t ctlen,
                   const uint8_t *tag, size_t taglen, uint8_t *pt);

/* Envelope primitives. *out is malloc'd. cb_open's plaintext is NUL-terminated (not
 * counted in *ptlen) and must be freed with cb_free_secret_n(pt, ptlen + 1). */
int cb_seal(const uint8_t key[CB_KEY_LEN], const void *aad, size_t aadlen,
            const void *pt, size_t ptlen, uint8_t **out, size_t *outlen);
int cb_open(const uint8_t key[CB_KEY_LEN], const void *aad, size_t aadlen,
            const uint8_t *in, size_t inlen, uint8_t **pt, size_t *ptlen);
/* The same envelope with a context kept across messages (aead.c): one per key and
 * direction, for bulk work. NULL on failure. */
typedef struct cb_aead cb_aead;
cb_aead *cb_aead_new(const uint8_t key[CB_KEY_LEN], int encrypt);
int cb_aead_seal(cb_aead *a, const void *aad, size_t aadlen, const void *pt, size_t ptlen, uint8_t **out,
                 size_t *outlen);
int cb_aead_open(cb_aead *a, const void *aad, size_t aadlen, const uint8_t *in, size_t inlen, uint8_t **pt,
                 size_t *ptlen);
void cb_aead_free(cb_aead *a);
/* True when a blob has the sealed format's magic (used to find unencrypted rows). */
int cb_is_sealed(const void *blob, size_t len);

/* KDFs. */
int cb_argon2id(const char *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
                uint32_t t_cost, uint32_t m_kib, uint32_t parallelism, uint8_t out[CB_KEY_LEN]);
int cb_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt, size_t saltlen,
                   const char *info, uint8_t *out, size_t outlen);
int cb_pbkdf2_sha256(const char *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
                     int iterations, uint8_t *out, size_t outlen);
int cb_sha256(const void *p, size_t n, uint8_t out[32]);
int cb_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n, uint8_t out[32]);

/* A master key of exactly 32 random bytes given as 64 hex characters or base64 is a
 * raw key (HKDF); anything else is a passphrase (Argon2id). Returns 1 and fills out for
 * a raw key, 0 for a passphrase. */
int cb_master_key_raw(const char *s, uint8_t out[CB_KEY_LEN]);

/* Decrypts a value of the SQL Server MCP server's store: "ENC:" + base64(IV(16) ||
 * AES-256-CBC-PKCS7), key = PBKDF2-HMAC-SHA256(passphrase, "mssqlMCP.Salt", 10000).
 * Returns 0 and a NUL-terminated plaintext (cb_free_secret), or an error. */
int cb_mssqlmcp_decrypt(const char *passphrase, const char *value, char **out, cb_error *e);
/* The reverse, for building test fixtures the way the original server does. */
int cb_mssqlmcp_encrypt(const char *passphrase, const char *plain, char **out, cb_error *e);

#endif
