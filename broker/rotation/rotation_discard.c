/* rotate --journal --discard NAME: drops the journal row (and its sealed pending
 * password) of a credential that is no longer in the policy files. Nothing can finish
 * such a rotation (resume needs the policy), so the row used to warn at every start
 * forever. A credential still in the policy is refused: finish it with rotate --resume.
 * The stored connection URL is untouched; the discard is audited in the same transaction. */
#include "rotation.h"
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "store/audit.h"

int rotation_journal_discard(cb_store *s, const cb_policy *p, const char *credential, const char *actor, cb_error *e)
{
    if (policy_credential(p, credential))
        return cb_fail(e, CB_EUSAGE, CB_K_CONFLICT,
                       "credential '%s' is still in the policy files: finish its rotation with 'credbroker rotate "
                       "--resume %s' (or remove it from the policy first)", credential, credential);
    sdb *db = store_db(s);
    int rc = store_begin(s, e);
    if (rc) return rc;
    sdb_stmt *st = NULL;
    char step[32] = "", owner[256] = "";
    long long pid = 0;
    int found = 0;
    if (sdb_prepare(db, "SELECT step, owner_pid, owner_host FROM rotation_journal WHERE credential = ?1", &st) == SDB_OK) {
        sdb_bind_text(st, 1, credential, -1);
        if (sdb_step(st) == SDB_ROW) {
            found = 1;
            snprintf(step, sizeof step, "%s", (const char *)sdb_column_text(st, 0) ?: "");
            pid = sdb_column_int64(st, 1);
            snprintf(owner, sizeof owner, "%s", (const char *)sdb_column_text(st, 2) ?: "");
        }
    }
    sdb_finalize(st);
    if (!found) {
        store_rollback(s);
        return cb_fail(e, CB_EUSAGE, CB_K_NOTFOUND, "no journal row for '%s' (see credbroker rotate --journal)", credential);
    }
    char host[256];
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = 0;
    if (pid > 0 && pid != (long long)getpid() && strcmp(owner, host) == 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
        store_rollback(s);
        return cb_fail(e, CB_ERR, CB_K_CONFLICT, "the rotation of '%s' is owned by process %lld, which is still running",
                       credential, pid);
    }
    rc = store_secret_delete(s, "pending", credential, e);
    if (rc && e->kind == CB_K_NOTFOUND) { memset(e, 0, sizeof *e); rc = 0; }
    if (!rc) {
        sdb_stmt *d = NULL;
        if (sdb_prepare(db, "DELETE FROM rotation_journal WHERE credential = ?1", &d) != SDB_OK ||
            sdb_bind_text(d, 1, credential, -1) != SDB_OK || sdb_step(d) != SDB_DONE)
            rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot delete the journal row: %s", sdb_errmsg(db));
        sdb_finalize(d);
    }
    if (!rc) {
        /* the append-only audit names the credential (the target), never the database user */
        json_t *detail = json_pack("{s:s,s:s}", "step", step, "reason", "not in the policy files");
        rc = audit_append(s, actor, "rotation.discard", credential, "ok", detail, 0, e);
        json_decref(detail);
    }
    if (!rc) rc = store_commit(s, e);
    else store_rollback(s);
    return rc;
}
