#!/usr/bin/env bash
# `satchel sync` re-sending bundles the relay already stores (a device restored from a copy made
# before its last sync): the relay answers each creation without reading its body and closes;
# sync must report them stored, and the relay must still hold exactly one copy of each. One
# small bundle (sent whole, less than the 1 MiB drained) and one with a 24 MB attachment (far
# more than is drained, and than loopback's socket buffers hold).
# Usage: test_sync_resend.sh SATCHEL_RELAY SATCHEL SCHEMA_DIR
set -Eeuo pipefail
relay=$(realpath "$1")
satchel=$(realpath "$2")
schema=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../support/relay_fixture.sh"
in_work_dir satchel-sync-resend
trap 'echo "FAIL - line $LINENO: $BASH_COMMAND exited non-zero"' ERR
pass="harbor quill tangerine osprey velvet lattice"
sat() { "$satchel" --home "$work/home" --passphrase-fd 3 "$@" 3<<<"$pass"; }

start_relay
"$satchel" org roster --org-name "Example Rights Network" --org-key org.key --version 1 \
  --coordinator "A=$(pub a.key)" --slots 2 --relay "https://127.0.0.1:$port" --pin "$pin" \
  --backup-pin "$backup" -o r1.txt >/dev/null
make_device r1.txt "$schema"
sat enroll --code-fd 4 4<<<"$code" >/dev/null
sat record testimony-intake --answers "$schema/forms/testimony-intake.answers.json" >rid1
sat finalize "$(cat rid1)" >/dev/null
rid=$(sat record testimony-intake --answers "$schema/forms/testimony-intake.answers.json")
head -c 24000000 /dev/urandom >evidence.pdf
q=$(python3 -c "import json,sys; f=json.load(open(sys.argv[1])); print(next(q['id'] for q in f['questions'] if q['type']=='attachment'))" "$schema/forms/testimony-intake.json")
sat attach "$rid" evidence.pdf --question "$q" >/dev/null
sat finalize "$rid" >/dev/null
sat outbox

cp -a home home.before-sync
first=$(sat sync 2>&1)
echo "$first"
grep -q "^sync: 2 stored" <<<"$first" || { echo "FAIL: the first sync did not store both"; exit 1; }
# The device as it was before: both bundles still in its outbox, never acknowledged.
rm -rf home
mv home.before-sync home
again=$(sat sync 2>&1)
echo "$again"
grep -q "^sync: 2 stored" <<<"$again" || { echo "FAIL: the re-send was not reported stored"; exit 1; }
# The relay read none of the bodies it already held: the client got its answer (and the
# connection closed) before it could write them whole.
sent=$(sed -n 's/.*; \([0-9]*\) bytes sent for \([0-9]*\) bundle bytes.*/\1 \2/p' <<<"$again")
read -r sent_bytes bundle_bytes <<<"$sent"
[ "$sent_bytes" -lt "$bundle_bytes" ] ||
  { echo "FAIL: the re-send wrote all $bundle_bytes bundle bytes: the relay read the bodies"; exit 1; }
stored=$(python3 -c 'import sqlite3
print(sqlite3.connect("file:relay/storage/relay.db?mode=ro", uri=True).execute("SELECT COUNT(*) FROM uploads WHERE state = 1").fetchone()[0])')
[ "$stored" = 2 ] || { echo "FAIL: the relay holds $stored stored uploads, not 2"; exit 1; }
echo "ok: satchel sync re-sends two stored bundles and reports them stored ($sent_bytes of $bundle_bytes bytes written)"
