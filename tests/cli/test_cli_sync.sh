#!/usr/bin/env bash
# End-to-end: a real satchel-relay over TLS 1.3 on 127.0.0.1, a device that enrolls with a code
# read from a descriptor and syncs its outbox; a wrong pin fails closed; an HTTP CONNECT proxy
# (Tor's HTTPTunnelPort stand-in) carries the traffic when set; `sync --watch` stops on SIGTERM.
# Usage: test_cli_sync.sh BIN_DIR SCHEMA_DIR
set -Eeuo pipefail
bin=$(cd "$1" && pwd)
schema=$(cd "$2" && pwd)
support=$(cd "$(dirname "$0")/../support" && pwd)
satchel="$bin/satchel"
relay="$bin/satchel-relay"
. "$support/relay_fixture.sh"
in_work_dir satchel-cli-sync
# A command failing outside a check ends the test: say which, rather than stop silently.
trap 'echo "FAIL - line $LINENO: $BASH_COMMAND exited non-zero"' ERR
fails=0
passes=0
ok() { echo "ok - $1"; passes=$((passes + 1)); }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
refuses() {
  local what=$1 frag=$2; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] && grep -qF -- "$frag" <<<"$out"; then ok "$what"; else bad "$what (rc=$rc): $out"; fi
}
pass="harbor quill tangerine osprey velvet lattice"
sat() { "$satchel" --home "$work/home" --passphrase-fd 3 "$@" 3<<<"$pass"; }
outbox_count() { sat outbox | grep -c ' bytes ' || true; }

# The relay: a mailbox from the organisation's registration, a code minted by the operator.
start_relay

roster() {  # version pin backup output
  "$satchel" org roster --org-name "Example Rights Network" --org-key org.key --version "$1" --coordinator "A=$(pub a.key)" --slots 2 \
    --relay "https://127.0.0.1:$port" --pin "$2" --backup-pin "$3" -o "$4" >/dev/null
}
roster 1 "$pin" "$backup" r1.txt

# The device: profile, trust, a form, two finalized records.
make_device r1.txt "$schema"
for _ in 1 2; do
  rid=$(sat record testimony-intake --answers "$schema/forms/testimony-intake.answers.json")
  sat finalize "$rid" >/dev/null
done
check "two bundles wait in the outbox" test "$(outbox_count)" -eq 2

refuses "sync before enrolling says how to enroll" "satchel enroll" sat sync
refuses "a malformed code is refused before anything is sent" "32 characters" \
  sat enroll --code-fd 4 4<<<"ABC"
out=$(sat enroll --code-fd 4 4<<<"$code")
check "enroll with a code read from a descriptor" grep -q "^enrolled with https://127.0.0.1:$port" <<<"$out"
refuses "a second enrollment needs --again" "--again" sat enroll --code-fd 4 4<<<"$code"
refuses "the spent code is refused" "unknown, used or expired" sat enroll --again --code-fd 4 4<<<"$code"
settings=$(sat settings)
check "settings show the token id, not the token" grep -q "^relay.token_id = [0-9a-f]\{16\}$" <<<"$settings"
check "no relay.token line is printed" bash -c "! grep -q '^relay.token ' <<<\"\$0\"" "$settings"

# A watched network: the relay answers with a certificate matching neither pin.
roster 2 "$(printf '%064d' 7)" "$(printf '%064d' 8)" r2.txt
sat roster add r2.txt >/dev/null
refuses "a certificate matching neither pin fails closed, saying so" "intercepting" sat sync
check "the bundles stay on the device after a pin mismatch" test "$(outbox_count)" -eq 2
# The operator's key was lost: the roster's backup pin still works.
roster 3 "$(printf '%064d' 7)" "$pin" r3.txt
sat roster add r3.txt >/dev/null

# Through an HTTP CONNECT proxy set in the settings.
python3 "$support/connect_proxy.py" --log proxy.log >proxy.out &
pids+=($!)
for _ in $(seq 50); do [ -s proxy.out ] && break; sleep 0.1; done
proxy_port=$(sed -n 's/^port //p' proxy.out)
sat settings set proxy "127.0.0.1:$proxy_port" >/dev/null
# On a terminal (script(1) gives it one) sync draws a progress bar. script(1) runs the command
# with $SHELL, which CI may leave unset (then /bin/sh, which has no here-strings): name bash.
out=$(SHELL=$BASH script -qec "'$satchel' --home '$work/home' --passphrase-fd 3 sync 3<<<'$pass'" /dev/null | tr '\r' '\n')
check "sync stores both bundles (backup pin, through the proxy)" grep -q "^sync: 2 stored, 2 deleted" <<<"$out"
check "on a terminal it shows a progress bar" grep -q '^\[#*\] bundle 2/2' <<<"$out"
check "the proxy carried the tunnel to the relay" grep -qx "127.0.0.1:$port" proxy.log
check "stored bundles are deleted from the device" test "$(outbox_count)" -eq 0
sat settings set proxy off >/dev/null

# The relay holds them stored; small bundles sent whole keep their bytes in a pack file.
relay_db() { python3 -c 'import sqlite3, sys
print(sqlite3.connect("file:relay/storage/relay.db?mode=ro", uri=True).execute(sys.argv[1]).fetchone()[0])' "$1"; }
check "the relay holds the two bundles as stored uploads" \
  test "$(relay_db 'SELECT COUNT(*) FROM uploads WHERE state = 1')" -eq 2
check "their bytes are in a pack, not in files of their own" \
  test "$(relay_db 'SELECT COUNT(*) FROM upload_packs')" -eq 2 -a \
  "$(find relay/storage/uploads -type f | wc -l)" -eq 0 -a \
  "$(find relay/storage/packs -name '*.pack' | wc -l)" -eq 1

# sync --watch: a new bundle goes out on the next round; SIGTERM stops it cleanly.
rid=$(sat record testimony-intake --answers "$schema/forms/testimony-intake.answers.json")
sat finalize "$rid" >/dev/null
"$satchel" --home "$work/home" --passphrase-fd 3 sync --watch --interval 1 3<<<"$pass" >watch.out 2>&1 &
watch=$!
for _ in $(seq 100); do grep -q "1 stored" watch.out && break; sleep 0.1; done
check "sync --watch sends the new bundle" grep -q "^sync: 1 stored" watch.out
kill -TERM "$watch"
rc=0
wait "$watch" || rc=$?
check "sync --watch stops cleanly on SIGTERM" test "$rc" -eq 0
check "and says so" grep -q "^sync: stopped" watch.out

check "the relay logged its start line and nothing about requests" test "$(grep -c . serve.log)" -le 1
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
