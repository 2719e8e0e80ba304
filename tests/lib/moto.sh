#!/usr/bin/env bash
# moto_server (local AWS Secrets Manager) on a free loopback port, stopped at exit.
# Sets MOTO_PORT, MOTO_URL and the AWS_* variables the broker reads.
# shellcheck disable=SC2034
moto_start() {
  command -v moto_server >/dev/null 2>&1 || return 1
  MOTO_PORT=$(free_port)
  moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$TMP/moto.log" 2>&1 &
  local pid=$!
  on_exit "kill $pid"
  wait_port "$MOTO_PORT" 20 || return 1
  MOTO_URL="http://127.0.0.1:$MOTO_PORT"
  export MOTO_PORT MOTO_URL AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=testsecret \
         AWS_REGION=us-east-1 AWS_ENDPOINT_URL_SECRETS_MANAGER="$MOTO_URL"
}
