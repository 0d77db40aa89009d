#!/usr/bin/env bash
# A stock tus client against the real relay: tus-js-client (tests/relay/tus_js_client, installed
# with `npm ci` there) under Node uploads bundles in several PATCHes, with creation-with-upload,
# and in one request; the relay must report each stored. Exits 77 (skipped) when Node or
# tus-js-client is missing.
# Usage: test_tus_js_client.sh SATCHEL_RELAY SATCHEL
set -euo pipefail
relay=$(realpath "$1")
satchel=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null && [ -d "$here/tus_js_client/node_modules/tus-js-client" ] || {
  echo "skipped: run 'npm ci' in $here/tus_js_client to install tus-js-client"; exit 77; }

. "$here/../support/relay_fixture.sh"
in_work_dir satchel-tusjs
start_relay
ca=$work/relay/tls/cert.pem
token=$(curl -sf --cacert "$ca" "https://127.0.0.1:$port/v1/enroll" -H 'Content-Type: application/json' \
  -d "{\"code\":\"$code\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

export NODE_EXTRA_CA_CERTS=$ca
check() {  # SIZE CHUNK WITH_BODY
  local out sha
  out=$(cd "$here/tus_js_client" && node upload.mjs "https://127.0.0.1:$port/v1/uploads" "$token" "$@")
  sha=${out##*stored }
  curl -sf --cacert "$ca" -I "https://127.0.0.1:$port/v1/uploads/$sha" -H 'Tus-Resumable: 1.0.0' \
    -H "Authorization: Bearer $token" | tr -d '\r' | grep -qx 'Upload-State: stored' ||
    { echo "FAIL: $* not stored"; exit 1; }
  [ "${4:-0}" = 1 ] && { [ "$(grep -c "^stored $sha\$" <<<"$out")" = 2 ] ||
    { echo "FAIL: $* re-send not answered stored"; exit 1; }; }
  echo "ok: size $1, chunk $2, creation-with-upload $3${4:+, sent again}"
}
check 300000 65536 0
check 300000 65536 1
check 5000 1000000 1
# A stored bundle sent again (creation-with-upload, 300 KB in one body): the relay answers without
# reading the body and closes; the client must read the answer and report it stored.
check 300000 1000000 1 1
check 300000 65536 1 1
