/* Default locations of the store, credbroker.json and the policy directory.
 *
 * The working directory is never a default: an MCP client starts the broker from "/",
 * cron from $HOME. Order, per path: the flag, the environment variable (CREDBROKER_DB,
 * CREDBROKER_CONFIG, CREDBROKER_POLICIES), then
 *   - systemd's $STATE_DIRECTORY / $CONFIGURATION_DIRECTORY (StateDirectory= and
 *     ConfigurationDirectory= in credbroker.service; how "run by the service" is detected,
 *     also with DynamicUser where the uid is not 0);
 *   - as root, or when either of those is set: /var/lib/credbroker/credbroker.db,
 *     /etc/credbroker/credbroker.json, /etc/credbroker/policies;
 *   - a user: $XDG_DATA_HOME/credbroker/credbroker.db (~/.local/share),
 *     $XDG_CONFIG_HOME/credbroker/{credbroker.json,policies} (~/.config). */
#include "cli.h"
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/store.h"

/* The chosen defaults live as long as the process (cb_paths holds pointers). */
static char db_buf[PATH_MAX], cfg_buf[PATH_MAX], pol_buf[PATH_MAX];

/* systemd passes a colon-separated list when the unit names several directories: the first. */
static int first_dir(const char *var, char *out, size_t n)
{
    const char *v = getenv(var);
    if (!v || v[0] != '/') return 0;
    size_t l = strcspn(v, ":");
    if (l + 1 > n) return 0;
    memcpy(out, v, l);
    out[l] = 0;
    return 1;
}

/* An XDG base directory: the variable when absolute (the spec ignores relative ones),
 * else $HOME/fallback, else the passwd entry's home. */
static int xdg_dir(const char *var, const char *fallback, char *out, size_t n)
{
    const char *v = getenv(var);
    if (v && v[0] == '/') return snprintf(out, n, "%s", v) < (int)n;
    const char *home = getenv("HOME");
    if (!home || home[0] != '/') {
        struct passwd *pw = getpwuid(geteuid());
        home = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
    }
    if (!home) return 0;
    return snprintf(out, n, "%s/%s", home, fallback) < (int)n;
}

static const char *set(char *buf, const char *dir, const char *file)
{
    if (snprintf(buf, PATH_MAX, "%s/%s", dir, file) >= PATH_MAX) return NULL;
    return buf;
}

void cli_default_paths(cli_ctx *ctx)
{
    char state[PATH_MAX], conf[PATH_MAX];
    int st = first_dir("STATE_DIRECTORY", state, sizeof state);
    int cf = first_dir("CONFIGURATION_DIRECTORY", conf, sizeof conf);
    int system = st || cf || geteuid() == 0;
    char data_home[PATH_MAX], cfg_home[PATH_MAX];
    int have_data = !system && xdg_dir("XDG_DATA_HOME", ".local/share", data_home, sizeof data_home);
    int have_cfg = !system && xdg_dir("XDG_CONFIG_HOME", ".config", cfg_home, sizeof cfg_home);

    if (ctx->paths.db_path) ctx->db_from = ctx->db_from ? ctx->db_from : "CREDBROKER_DB";
    else if (st && (ctx->paths.db_path = set(db_buf, state, "credbroker.db"))) ctx->db_from = "$STATE_DIRECTORY (systemd)";
    else if (system) { ctx->paths.db_path = CLI_SYSTEM_STATE_DIR "/credbroker.db"; ctx->db_from = "system default"; }
    else if (have_data && (ctx->paths.db_path = set(db_buf, data_home, "credbroker/credbroker.db"))) ctx->db_from = "XDG_DATA_HOME";
    else { ctx->paths.db_path = "credbroker.db"; ctx->db_from = "working directory (no HOME)"; }

    const char *cdir = NULL, *cwhy = NULL;
    char cbuf[PATH_MAX];
    if (cf) { cdir = conf; cwhy = "$CONFIGURATION_DIRECTORY (systemd)"; }
    else if (system) { cdir = CLI_SYSTEM_CONFIG_DIR; cwhy = "system default"; }
    else if (have_cfg && snprintf(cbuf, sizeof cbuf, "%s/credbroker", cfg_home) < (int)sizeof cbuf) { cdir = cbuf; cwhy = "XDG_CONFIG_HOME"; }

    if (ctx->paths.config_path) ctx->config_from = ctx->config_from ? ctx->config_from : "CREDBROKER_CONFIG";
    else if (cdir && (ctx->paths.config_path = set(cfg_buf, cdir, "credbroker.json"))) ctx->config_from = cwhy;
    else { ctx->paths.config_path = CONFIG_DEFAULT_PATH; ctx->config_from = "working directory (no HOME)"; }

    if (ctx->paths.policies_dir) ctx->policies_from = ctx->policies_from ? ctx->policies_from : "CREDBROKER_POLICIES";
    else if (cdir && (ctx->paths.policies_dir = set(pol_buf, cdir, "policies"))) ctx->policies_from = cwhy;
    else { ctx->paths.policies_dir = "policies"; ctx->policies_from = "working directory (no HOME)"; }
    /* a default config file may be absent; one named by the user must exist */
    if (!ctx->config_explicit) config_default_path = ctx->paths.config_path;
}

void cli_say_paths(const cli_ctx *ctx)
{
    /* through the logger, so that --log-format json holds for these lines too */
    /* which backend, and the location without any password */
    char where[1200];
    sdb_describe(ctx->paths.db_path, where, sizeof where);
    LOG_INFO("store %s (%s, backend %s)", where, ctx->db_from, sdb_backend_for(ctx->paths.db_path)->name);
    LOG_INFO("policies %s (%s)", ctx->paths.policies_dir, ctx->policies_from);
    LOG_INFO("config %s (%s)", ctx->paths.config_path, ctx->config_from);
}

int cli_make_parent_dir(const char *path, cb_error *e)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "path too long");
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = 0;
    struct stat sb;
    if (stat(dir, &sb) == 0) return 0;
    /* mkdir -p, private: the store's directory holds nothing for anyone else */
    for (char *p = dir + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "cannot create directory %s: %s", dir, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    return 0;
}

/* credbroker.json's "master_key_ref" is one of the master key's sources (store.c): read
 * the config here, quietly; a command that uses the config reports its errors itself. */
void cli_config_master_key_ref(const cli_ctx *ctx)
{
    static char *ref;
    if (ref) return;
    cb_config *cfg = NULL;
    cb_error e = {0};
    if (config_load(ctx->paths.config_path, 0, &cfg, NULL, &e) != 0 || !cfg) return;
    if (cfg->master_key_ref) {
        ref = cb_strdup(cfg->master_key_ref);
        store_master_key_config_ref = ref;
    }
    config_free(cfg);
}
