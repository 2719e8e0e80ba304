/* Test driver: prints the sealed password of every lease that still has one, one per
 * line (master key from CREDBROKER_MASTER_KEY), so a leak test can look for the real
 * passwords in every output and log. Tests only: never part of the product.
 *   lease_pw DB */
#include <stdio.h>
#include <stdlib.h>
#include "store/leases.h"

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    cb_store *s;
    cb_error e = {0};
    if (store_open_unlocked(argv[1], &s, &e)) { fprintf(stderr, "lease_pw: %s\n", e.msg); return 1; }
    store_lease *v;
    size_t n;
    if (lease_list(s, 1, &v, &n, &e)) { fprintf(stderr, "lease_pw: %s\n", e.msg); return 1; }
    for (size_t i = 0; i < n; i++) {
        char *pw = NULL;
        cb_error ig = {0};
        if (lease_password(s, v[i].id, &pw, &ig) == 0) printf("%s\n", pw);
        cb_free_secret(pw);
        store_lease_free(&v[i]);
    }
    free(v);
    store_close(s);
    return 0;
}
