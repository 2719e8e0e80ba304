/* The table of secret providers. Adding a provider = one file + one line here. */
#include <string.h>
#include "secret_provider.h"

extern const secret_provider aws_sm_provider;
extern const secret_provider azure_kv_provider;
extern const secret_provider vault_provider;
extern const secret_provider env_provider;
extern const secret_provider file_provider;
static const secret_provider *const providers[] = {
    &aws_sm_provider,
    &azure_kv_provider,
    &vault_provider,
    &env_provider,
    &file_provider,
    NULL
};

const secret_provider *secret_provider_for(const char *scheme)
{
    for (size_t i = 0; providers[i]; i++)
        if (strcmp(providers[i]->scheme, scheme) == 0) return providers[i];
    return NULL;
}
