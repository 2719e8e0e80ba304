#include "crypto.h"
#include <stdlib.h>
#include <string.h>
#include <argon2.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/core_names.h>

static const uint8_t MAGIC[3] = {'C', 'B', 0x01};

int cb_random(void *buf, size_t n)
{
    return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

static const EVP_CIPHER *gcm_for(size_t keylen)
{
    switch (keylen) {
    case 16: return EVP_aes_128_gcm();
    case 24: return EVP_aes_192_gcm();
    case 32: return EVP_aes_256_gcm();
    default: return NULL;
    }
}

int cb_gcm_encrypt(const uint8_t *key, size_t keylen, const uint8_t *iv, size_t ivlen,
                   const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t ptlen,
                   uint8_t *ct, uint8_t *tag, size_t taglen)
{
    const EVP_CIPHER *c = gcm_for(keylen);
    if (!c || ivlen == 0 || taglen < 4 || taglen > 16) return -1;
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int ok = x != NULL, n = 0;
    ok = ok && EVP_EncryptInit_ex(x, c, NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, (int)ivlen, NULL) == 1;
    ok = ok && EVP_EncryptInit_ex(x, NULL, NULL, key, iv) == 1;
    if (ok && aadlen) ok = EVP_EncryptUpdate(x, NULL, &n, aad, (int)aadlen) == 1;
    if (ok && ptlen) ok = EVP_EncryptUpdate(x, ct, &n, pt, (int)ptlen) == 1;
    ok = ok && EVP_EncryptFinal_ex(x, ct + (ptlen ? (size_t)n : 0), &n) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, (int)taglen, tag) == 1;
    EVP_CIPHER_CTX_free(x);
    return ok ? 0 : -1;
}

int cb_gcm_decrypt(const uint8_t *key, size_t keylen, const uint8_t *iv, size_t ivlen,
                   const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t ctlen,
                   const uint8_t *tag, size_t taglen, uint8_t *pt)
{
    const EVP_CIPHER *c = gcm_for(keylen);
    if (!c || ivlen == 0 || taglen < 4 || taglen > 16) return -1;
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int ok = x != NULL, n = 0;
    uint8_t tagbuf[16];
    memcpy(tagbuf, tag, taglen);
    ok = ok && EVP_DecryptInit_ex(x, c, NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, (int)ivlen, NULL) == 1;
    ok = ok && EVP_DecryptInit_ex(x, NULL, NULL, key, iv) == 1;
    if (ok && aadlen) ok = EVP_DecryptUpdate(x, NULL, &n, aad, (int)aadlen) == 1;
    if (ok && ctlen) ok = EVP_DecryptUpdate(x, pt, &n, ct, (int)ctlen) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, (int)taglen, tagbuf) == 1;
    /* Final verifies the tag; on failure the plaintext must not be used */
    ok = ok && EVP_DecryptFinal_ex(x, pt + (ctlen ? (size_t)n : 0), &n) == 1;
    EVP_CIPHER_CTX_free(x);
    if (!ok && ctlen) cb_wipe(pt, ctlen);
    return ok ? 0 : -1;
}

int cb_seal(const uint8_t key[CB_KEY_LEN], const void *aad, size_t aadlen,
            const void *pt, size_t ptlen, uint8_t **out, size_t *outlen)
{
    size_t n = CB_SEAL_OVERHEAD + ptlen;
    uint8_t *b = cb_malloc(n);
    memcpy(b, MAGIC, 3);
    if (cb_random(b + 3, CB_NONCE_LEN) ||
        cb_gcm_encrypt(key, CB_KEY_LEN, b + 3, CB_NONCE_LEN, aad, aadlen, pt, ptlen,
                       b + 3 + CB_NONCE_LEN, b + 3 + CB_NONCE_LEN + ptlen, CB_TAG_LEN)) {
        free(b);
        return -1;
    }
    *out = b;
    *outlen = n;
    return 0;
}

int cb_open(const uint8_t key[CB_KEY_LEN], const void *aad, size_t aadlen,
            const uint8_t *in, size_t inlen, uint8_t **pt, size_t *ptlen)
{
    if (!cb_is_sealed(in, inlen)) return -1;
    size_t n = inlen - CB_SEAL_OVERHEAD;
    uint8_t *p = cb_malloc(n + 1);
    if (cb_gcm_decrypt(key, CB_KEY_LEN, in + 3, CB_NONCE_LEN, aad, aadlen, in + 3 + CB_NONCE_LEN, n,
                       in + 3 + CB_NONCE_LEN + n, CB_TAG_LEN, p)) {
        free(p);
        return -1;
    }
    p[n] = 0;
    *pt = p;
    *ptlen = n;
    return 0;
}

int cb_is_sealed(const void *blob, size_t len)
{
    return blob && len >= CB_SEAL_OVERHEAD && memcmp(blob, MAGIC, 3) == 0;
}

int cb_argon2id(const char *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
                uint32_t t_cost, uint32_t m_kib, uint32_t parallelism, uint8_t out[CB_KEY_LEN])
{
    int rc = argon2id_hash_raw(t_cost, m_kib, parallelism, pass, passlen, salt, saltlen, out, CB_KEY_LEN);
    return rc == ARGON2_OK ? 0 : -1;
}

int cb_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt, size_t saltlen,
                   const char *info, uint8_t *out, size_t outlen)
{
    /* RFC 5869: an absent salt is HashLen zero bytes */
    static const uint8_t zeros[32] = {0};
    if (!salt || saltlen == 0) {
        salt = zeros;
        saltlen = sizeof zeros;
    }
    EVP_PKEY_CTX *x = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    int ok = x != NULL;
    ok = ok && EVP_PKEY_derive_init(x) == 1;
    ok = ok && EVP_PKEY_CTX_set_hkdf_md(x, EVP_sha256()) == 1;
    ok = ok && EVP_PKEY_CTX_set1_hkdf_salt(x, salt, (int)saltlen) == 1;
    ok = ok && EVP_PKEY_CTX_set1_hkdf_key(x, ikm, (int)ikmlen) == 1;
    if (info && *info) ok = ok && EVP_PKEY_CTX_add1_hkdf_info(x, (const unsigned char *)info, (int)strlen(info)) == 1;
    size_t n = outlen;
    ok = ok && EVP_PKEY_derive(x, out, &n) == 1 && n == outlen;
    EVP_PKEY_CTX_free(x);
    return ok ? 0 : -1;
}

int cb_pbkdf2_sha256(const char *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
                     int iterations, uint8_t *out, size_t outlen)
{
    return PKCS5_PBKDF2_HMAC(pass, (int)passlen, salt, (int)saltlen, iterations, EVP_sha256(),
                             (int)outlen, out) == 1 ? 0 : -1;
}

int cb_sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int cb_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    return HMAC(EVP_sha256(), key, (int)keylen, p, n, out, &len) ? 0 : -1;
}

int cb_master_key_raw(const char *s, uint8_t out[CB_KEY_LEN])
{
    size_t n = strlen(s), got = 0;
    if (n == 64 && cb_hex_decode(s, out, CB_KEY_LEN, &got) == 0 && got == CB_KEY_LEN) return 1;
    /* base64 of 32 bytes is 43 characters plus optional '=' */
    if (n == 43 || n == 44) {
        uint8_t *b = NULL;
        size_t bl = 0;
        if (cb_base64_decode(s, &b, &bl) == 0) {
            int ok = bl == CB_KEY_LEN;
            if (ok) memcpy(out, b, CB_KEY_LEN);
            cb_free_secret_n(b, bl);
            if (ok) return 1;
        }
    }
    cb_wipe(out, CB_KEY_LEN);
    return 0;
}

static const char MSSQLMCP_SALT[] = "mssqlMCP.Salt";

static int utf8_text(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) return 0;
            i++;
            continue;
        }
        size_t k;
        if (c >= 0xc2 && c <= 0xdf) k = 1;
        else if (c >= 0xe0 && c <= 0xef) k = 2;
        else if (c >= 0xf0 && c <= 0xf4) k = 3;
        else return 0;
        if (n - i <= k) return 0;
        for (size_t j = 1; j <= k; j++)
            if ((p[i + j] & 0xc0) != 0x80) return 0;
        i += k + 1;
    }
    return 1;
}

int cb_mssqlmcp_decrypt(const char *passphrase, const char *value, char **out, cb_error *e)
{
    *out = NULL;
    if (strncmp(value, "ENC:", 4) != 0) return cb_fail(e, CB_ERR, CB_K_INVALID, "value is not ENC:-prefixed");
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    if (cb_base64_decode(value + 4, &raw, &rawlen) != 0)
        return cb_fail(e, CB_ERR, CB_K_INVALID, "ENC: value is not valid base64");
    if (rawlen < 32 || (rawlen - 16) % 16 != 0) {
        free(raw);
        return cb_fail(e, CB_ERR, CB_K_INVALID, "ENC: value has a bad length (%zu bytes)", rawlen);
    }
    uint8_t key[32];
    if (cb_pbkdf2_sha256(passphrase, strlen(passphrase), (const uint8_t *)MSSQLMCP_SALT,
                         sizeof MSSQLMCP_SALT - 1, 10000, key, sizeof key)) {
        free(raw);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "PBKDF2 failed");
    }
    size_t ctlen = rawlen - 16;
    uint8_t *pt = cb_malloc(ctlen + 16 + 1);
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0;
    int ok = x && EVP_DecryptInit_ex(x, EVP_aes_256_cbc(), NULL, key, raw) == 1 &&
             EVP_DecryptUpdate(x, pt, &n1, raw + 16, (int)ctlen) == 1 &&
             EVP_DecryptFinal_ex(x, pt + n1, &n2) == 1;
    EVP_CIPHER_CTX_free(x);
    cb_wipe(key, sizeof key);
    free(raw);
    size_t len = ok ? (size_t)(n1 + n2) : 0;
    /* CBC without a MAC: a wrong key or a corrupted block can still pass the padding
     * check, so the plaintext must also be valid UTF-8 text without control characters
     * (a garbled 16-byte block passes that with probability around 1e-7). */
    if (ok && !utf8_text(pt, len)) ok = 0;
    if (!ok) {
        cb_free_secret_n(pt, ctlen + 17);
        return cb_fail(e, CB_ERR, CB_K_TAMPERED, "cannot decrypt (wrong MSSQL_MCP_KEY or corrupted value)");
    }
    pt[len] = 0;
    *out = (char *)pt;
    return 0;
}

int cb_mssqlmcp_encrypt(const char *passphrase, const char *plain, char **out, cb_error *e)
{
    uint8_t key[32], iv[16];
    size_t n = strlen(plain);
    if (cb_pbkdf2_sha256(passphrase, strlen(passphrase), (const uint8_t *)MSSQLMCP_SALT,
                         sizeof MSSQLMCP_SALT - 1, 10000, key, sizeof key) || cb_random(iv, 16))
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "key derivation failed");
    uint8_t *buf = cb_malloc(16 + n + 16);
    memcpy(buf, iv, 16);
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0;
    int ok = x && EVP_EncryptInit_ex(x, EVP_aes_256_cbc(), NULL, key, iv) == 1 &&
             EVP_EncryptUpdate(x, buf + 16, &n1, (const uint8_t *)plain, (int)n) == 1 &&
             EVP_EncryptFinal_ex(x, buf + 16 + n1, &n2) == 1;
    EVP_CIPHER_CTX_free(x);
    cb_wipe(key, sizeof key);
    if (!ok) {
        free(buf);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "encryption failed");
    }
    char *b64 = cb_base64_encode(buf, 16 + (size_t)(n1 + n2));
    free(buf);
    *out = cb_sprintf("ENC:%s", b64);
    free(b64);
    return 0;
}
