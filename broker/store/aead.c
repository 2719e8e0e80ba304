/* Reusable sealing contexts: one EVP_CIPHER_CTX per key and direction, the AES key
 * schedule set up once; each message only sets its nonce. For bulk work (key rotate
 * --reencrypt) where setting up a context per row was most of the cost. Same sealed
 * format as cb_seal / cb_open (crypto.h). */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "crypto.h"

struct cb_aead {
    EVP_CIPHER_CTX *x;
    int encrypt;
};

static const uint8_t MAGIC[3] = {'C', 'B', 0x01};

cb_aead *cb_aead_new(const uint8_t key[CB_KEY_LEN], int encrypt)
{
    cb_aead *a = cb_calloc(1, sizeof *a);
    a->encrypt = encrypt;
    a->x = EVP_CIPHER_CTX_new();
    int ok = a->x != NULL;
    if (encrypt) {
        ok = ok && EVP_EncryptInit_ex(a->x, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
        ok = ok && EVP_CIPHER_CTX_ctrl(a->x, EVP_CTRL_GCM_SET_IVLEN, CB_NONCE_LEN, NULL) == 1;
        ok = ok && EVP_EncryptInit_ex(a->x, NULL, NULL, key, NULL) == 1;
    } else {
        ok = ok && EVP_DecryptInit_ex(a->x, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
        ok = ok && EVP_CIPHER_CTX_ctrl(a->x, EVP_CTRL_GCM_SET_IVLEN, CB_NONCE_LEN, NULL) == 1;
        ok = ok && EVP_DecryptInit_ex(a->x, NULL, NULL, key, NULL) == 1;
    }
    if (!ok) {
        cb_aead_free(a);
        return NULL;
    }
    return a;
}

void cb_aead_free(cb_aead *a)
{
    if (!a) return;
    EVP_CIPHER_CTX_free(a->x); /* cleanses the key schedule */
    free(a);
}

int cb_aead_seal(cb_aead *a, const void *aad, size_t aadlen, const void *pt, size_t ptlen, uint8_t **out,
                 size_t *outlen)
{
    if (!a || !a->encrypt) return -1;
    size_t n = CB_SEAL_OVERHEAD + ptlen;
    uint8_t *b = cb_malloc(n), *iv = b + 3, *ct = b + 3 + CB_NONCE_LEN, *tag = ct + ptlen;
    memcpy(b, MAGIC, 3);
    int k = 0, ok = cb_random(iv, CB_NONCE_LEN) == 0;
    ok = ok && EVP_EncryptInit_ex(a->x, NULL, NULL, NULL, iv) == 1;
    if (ok && aadlen) ok = EVP_EncryptUpdate(a->x, NULL, &k, aad, (int)aadlen) == 1;
    if (ok && ptlen) ok = EVP_EncryptUpdate(a->x, ct, &k, pt, (int)ptlen) == 1;
    ok = ok && EVP_EncryptFinal_ex(a->x, ct + (ptlen ? (size_t)k : 0), &k) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(a->x, EVP_CTRL_GCM_GET_TAG, CB_TAG_LEN, tag) == 1;
    if (!ok) {
        free(b);
        return -1;
    }
    *out = b;
    *outlen = n;
    return 0;
}

int cb_aead_open(cb_aead *a, const void *aad, size_t aadlen, const uint8_t *in, size_t inlen, uint8_t **pt,
                 size_t *ptlen)
{
    if (!a || a->encrypt || !cb_is_sealed(in, inlen)) return -1;
    size_t n = inlen - CB_SEAL_OVERHEAD;
    const uint8_t *iv = in + 3, *ct = in + 3 + CB_NONCE_LEN, *tag = ct + n;
    uint8_t *p = cb_malloc(n + 1), tagbuf[CB_TAG_LEN];
    memcpy(tagbuf, tag, CB_TAG_LEN);
    int k = 0, ok = EVP_DecryptInit_ex(a->x, NULL, NULL, NULL, iv) == 1;
    if (ok && aadlen) ok = EVP_DecryptUpdate(a->x, NULL, &k, aad, (int)aadlen) == 1;
    if (ok && n) ok = EVP_DecryptUpdate(a->x, p, &k, ct, (int)n) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(a->x, EVP_CTRL_GCM_SET_TAG, CB_TAG_LEN, tagbuf) == 1;
    /* Final verifies the tag; on failure the plaintext must not be used */
    ok = ok && EVP_DecryptFinal_ex(a->x, p + (n ? (size_t)k : 0), &k) == 1;
    if (!ok) {
        cb_free_secret_n((char *)p, n + 1);
        return -1;
    }
    p[n] = 0;
    *pt = p;
    *ptlen = n;
    return 0;
}
