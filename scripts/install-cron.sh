#!/usr/bin/env bash
# Installs (or removes) ONE crontab line that runs `credbroker rotate --due` every minute,
# for hosts that use system cron instead of `credbroker serve`. Idempotent: the line is
# tagged "# credbroker-rotate-due" and replaced, never duplicated.
#
# No secret ever goes into the crontab. The master key comes from either
#   --env-file FILE         a root-only (mode 0600 or stricter, owned by the cron user) file
#                           with CREDBROKER_MASTER_KEY=... (and any AWS_/VAULT_ variables),
#                           sourced by the job at run time; or
#   --master-key-ref REF    CREDBROKER_MASTER_KEY_REF=REF (a provider reference such as
#                           vault://secret/broker#master_key; a reference, not a secret).
#
# Usage: install-cron.sh (--env-file FILE | --master-key-ref REF) [--db PATH] [--policies DIR]
#          [--config FILE] [--schedule "CRON"] [--log FILE] [--binary PATH]
#          [--crontab-file FILE] [--print]
#        install-cron.sh --remove [--crontab-file FILE]
# --crontab-file edits a file instead of the user's crontab (tests, /etc/cron.d staging);
# --print shows the line without installing it.
set -euo pipefail
MARK="# credbroker-rotate-due"
env_file="" ref="" db="" policies="" config="" schedule="* * * * *" log="" bin="" file="" remove=0 print=0

die() { echo "install-cron.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --env-file) env_file=${2:?}; shift 2;;
    --master-key-ref) ref=${2:?}; shift 2;;
    --db) db=${2:?}; shift 2;;
    --policies) policies=${2:?}; shift 2;;
    --config) config=${2:?}; shift 2;;
    --schedule) schedule=${2:?}; shift 2;;
    --log) log=${2:?}; shift 2;;
    --binary) bin=${2:?}; shift 2;;
    --crontab-file) file=${2:?}; shift 2;;
    --remove) remove=1; shift;;
    --print) print=1; shift;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) die "unknown option $1 (see --help)";;
  esac
done

read_tab() {
  if [ -n "$file" ]; then
    if [ -f "$file" ]; then cat "$file"; fi
  else
    crontab -l 2>/dev/null || true
  fi
}
write_tab() {
  if [ -n "$file" ]; then
    local tmp; tmp=$(mktemp "$file.XXXXXX"); cat >"$tmp"; chmod 600 "$tmp"; mv "$tmp" "$file"
  else
    command -v crontab >/dev/null || die "crontab not found (use --crontab-file for /etc/cron.d)"
    crontab -
  fi
}

# grep -v exits 1 when it prints nothing (an empty crontab, or one holding only our line):
# under pipefail that is not an error.
without_ours() { grep -vF "$MARK" || [ $? -eq 1 ]; }

if [ "$remove" -eq 1 ]; then
  read_tab | without_ours | write_tab
  echo "removed the credbroker rotate --due line"
  exit 0
fi

[ -n "$env_file" ] || [ -n "$ref" ] || die "give --env-file FILE or --master-key-ref REF (the master key never goes into the crontab)"
[ -n "$env_file" ] && [ -n "$ref" ] && die "give only one of --env-file and --master-key-ref"
abs() { case $1 in /*) printf '%s' "$1";; *) printf '%s/%s' "$(pwd)" "$1";; esac; }
# A value placed in the line: no quote, newline, % (cron's newline) or shell metacharacters.
safe() { case $1 in *[!A-Za-z0-9_./:@#?=+,-]*) die "$2 contains characters that are unsafe in a crontab line: $1";; esac; }

if [ -n "$env_file" ]; then
  env_file=$(abs "$env_file")
  [ -f "$env_file" ] || die "$env_file does not exist"
  mode=$(stat -c '%a' "$env_file")
  case $mode in ?00) ;; *) die "$env_file is mode $mode; it holds the master key, make it 0600 (chmod 600)";; esac
  owner=$(stat -c '%u' "$env_file")
  [ "$owner" = "$(id -u)" ] || die "$env_file must be owned by the user whose crontab runs the job (uid $(id -u))"
  safe "$env_file" "--env-file"
  grep -q '^CREDBROKER_MASTER_KEY\(_REF\)\{0,1\}=' "$env_file" || die "$env_file sets neither CREDBROKER_MASTER_KEY nor CREDBROKER_MASTER_KEY_REF"
fi
[ -n "$ref" ] && safe "$ref" "--master-key-ref"
if [ -z "$bin" ]; then
  here=$(cd "$(dirname "$0")" && pwd)
  if command -v credbroker >/dev/null 2>&1; then bin=$(command -v credbroker)
  elif [ -x "$here/../build/credbroker" ]; then bin=$(cd "$here/../build" && pwd)/credbroker
  elif [ -x "$here/../../../bin/credbroker" ]; then bin=$(cd "$here/../../../bin" && pwd)/credbroker
  else die "credbroker binary not found (use --binary PATH)"; fi
fi
bin=$(abs "$bin"); safe "$bin" "--binary"
read -r -a fields <<<"$schedule"
[ "${#fields[@]}" -eq 5 ] || case $schedule in @*) ;; *) die "--schedule needs five cron fields";; esac
case $schedule in *%*|*\;*|*\&*|*\|*) die "--schedule contains unsafe characters";; esac

cmd=""
if [ -n "$env_file" ]; then cmd="set -a; . $env_file; set +a; "; fi
[ -n "$ref" ] && cmd="CREDBROKER_MASTER_KEY_REF=$ref "
cmd="$cmd$bin"
[ -n "$db" ] && { db=$(abs "$db"); safe "$db" "--db"; cmd="$cmd --db $db"; }
[ -n "$policies" ] && { policies=$(abs "$policies"); safe "$policies" "--policies"; cmd="$cmd --policies $policies"; }
[ -n "$config" ] && { config=$(abs "$config"); safe "$config" "--config"; cmd="$cmd --config $config"; }
cmd="$cmd -q rotate --due"
[ -n "$log" ] && { log=$(abs "$log"); safe "$log" "--log"; cmd="$cmd >>$log 2>&1"; }
line="$schedule $cmd $MARK"

if [ "$print" -eq 1 ]; then printf '%s\n' "$line"; exit 0; fi
{ read_tab | without_ours; printf '%s\n' "$line"; } | write_tab
echo "installed: $line"
