#!/usr/bin/env bash
# A stock tus client against the real relay: tus-js-client (tests/relay/tus_js_client, installed
# with `npm ci` there) under Node uploads bundles in several PATCHes, with creation-with-upload,
# and in one request; the relay must report each stored. Exits 77 (skipped) when Node or
# tus-js-client is missing.
# Usage: test_tus_js_client.sh SATCHEL_RELAY SATCHEL
set -euo pipefail
relay=$1
satchel=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null && [ -d "$here/tus_js_client/node_modules/tus-js-client" ] || {
  echo "skipped: run 'npm ci' in $here/tus_js_client to install tus-js-client"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/satchel-tusjs.XXXXXX")
server=
cleanup() { [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

"$relay" init "$work/relay" --name 127.0.0.1 --listen "127.0.0.1:$port" >/dev/null
sed -i -e 's/^health = .*/health = off/' -e 's/^threads = .*/threads = 8/' "$work/relay/relay.conf"
"$satchel" keygen org -o "$work/org.key" >/dev/null 2>&1
"$satchel" keygen coordinator -o "$work/c.key" >/dev/null
"$satchel" org registration --org-key "$work/org.key" --version 1 \
  --coordinator "$(sed -n 's/^# public key: //p' "$work/c.key")" -o "$work/reg.txt" >/dev/null
"$relay" mailbox create --config "$work/relay/relay.conf" --registration "$work/reg.txt" >/dev/null
mailbox=$("$relay" mailbox list --config "$work/relay/relay.conf" | cut -d' ' -f1)
code=$("$relay" mailbox code --config "$work/relay/relay.conf" "$mailbox" | sed -n 's/^enrollment code: //p')

"$relay" serve --config "$work/relay/relay.conf" 2>"$work/serve.log" &
server=$!
ca=$work/relay/tls/cert.pem
for _ in $(seq 100); do
  curl -s --cacert "$ca" -o /dev/null "https://127.0.0.1:$port/" && break || sleep 0.1
done
token=$(curl -sf --cacert "$ca" "https://127.0.0.1:$port/v1/enroll" -H 'Content-Type: application/json' \
  -d "{\"code\":\"$code\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

export NODE_EXTRA_CA_CERTS=$ca
check() {  # SIZE CHUNK WITH_BODY
  local out sha
  out=$(cd "$here/tus_js_client" && node upload.mjs "https://127.0.0.1:$port/v1/uploads" "$token" "$@")
  sha=${out#stored }
  curl -sf --cacert "$ca" -I "https://127.0.0.1:$port/v1/uploads/$sha" -H 'Tus-Resumable: 1.0.0' \
    -H "Authorization: Bearer $token" | tr -d '\r' | grep -qx 'Upload-State: stored' ||
    { echo "FAIL: $* not stored"; exit 1; }
  echo "ok: size $1, chunk $2, creation-with-upload $3"
}
check 300000 65536 0
check 300000 65536 1
check 5000 1000000 1
