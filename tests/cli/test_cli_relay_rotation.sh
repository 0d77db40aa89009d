#!/usr/bin/env bash
# End to end with the real binaries on 127.0.0.1 (issue 13, relay certificate rotation): the
# relay moves to its backup key twice (`satchel-relay tls rotate`, a restart) while a device that
# joined by invite and two coordinators keep syncing, pulling and publishing without any change on
# their side; between the rotations the organisation gives the relay its new pins
# (`org relay set-pins`), a coordinator publishes the roster and the device's sync takes it. After
# the second rotation a coordinator and a device copy still holding the first roster are refused
# by pin, saying the relay may have moved; the coordinator works again once it adds the roster.
# Usage: test_cli_relay_rotation.sh BIN_DIR SCHEMA_DIR
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(cd "$1" && pwd)
schema=$(cd "$2" && pwd)
satchel="$bin/satchel"
relay="$bin/satchel-relay"
. "$here/../support/relay_fixture.sh"
in_work_dir satchel-cli-rotation
source "$here/check_lib.sh"
exec 9>&1
trap 'echo "FAIL - line $LINENO: $BASH_COMMAND exited non-zero" >&9' ERR
fpr() { "$satchel" fingerprint "$1" | sed -n 's/^fingerprint: //p'; }
pass="saffron beacon gravel orchid tunnel meadow"
org() { "$satchel" --home "$work/org" --passphrase-fd 3 org "$@" 3<<<"$pass"; }
ca() { "$satchel" --home "$work/coord-amira" --passphrase-fd 3 coord "$@" 3<<<"$pass"; }
cb() { "$satchel" --home "$work/coord-bao" --passphrase-fd 3 coord "$@" 3<<<"$pass"; }
dev() { "$satchel" --home "$work/device" --passphrase-fd 3 "$@" 3<<<"$pass"; }
old_dev() { "$satchel" --home "$work/device-roster1" --passphrase-fd 3 "$@" 3<<<"$pass"; }
kdf=(--kdf-passes 2 --kdf-memory 64)
printed() { sed -n "s/^$1 *//p" "$2"; }

serve_pid=
start_relay_process() {
  "$relay" serve --config relay/relay.conf 2>>serve.log &
  serve_pid=$!
  pids+=("$serve_pid")
  for _ in $(seq 100); do
    curl -sk -o /dev/null "https://127.0.0.1:$port/" && return 0
    sleep 0.1
  done
  echo "FAIL - the relay did not start on 127.0.0.1:$port"
  exit 1
}
stop_relay_process() {
  kill -TERM "$serve_pid"
  wait "$serve_pid" || true
}
# The operator's rotation: the backup key brought back from "offline", the relay restarted, the
# new backup key moved offline.
rotate() {
  stop_relay_process
  "$relay" tls rotate --config relay/relay.conf --backup-key offline/backup-key.pem >"$1"
  mv relay/backup-key.pem offline/backup-key.pem
  start_relay_process
}
testimony() {
  local rid
  rid=$(dev record testimony-intake --answers "$schema/forms/testimony-intake.answers.json")
  dev finalize "$rid" >/dev/null
}

"$satchel" keygen coordinator -o amira.key >/dev/null
"$satchel" keygen coordinator -o bao.key >/dev/null
amirapub=$(pub amira.key)
baopub=$(pub bao.key)

# The relay operator: key A served, backup key B moved offline.
port=$(free_port)
url="https://127.0.0.1:$port"
"$relay" init relay --name 127.0.0.1 --listen "127.0.0.1:$port" >relay-init.txt
sed -i -e 's/^health = .*/health = off/' -e 's/^threads = .*/threads = 8/' relay/relay.conf
pin_a=$(printed "spki pin:" relay-init.txt)
pin_b=$(printed "backup pin:" relay-init.txt)
mkdir offline
mv relay/backup-key.pem offline/

# The organisation: roster 1 with (A, B).
org init --name "Example Rights Network" "${kdf[@]}" >org-init.out 2>/dev/null
orgpub=$(sed -n 's/^organisation key: //p' org-init.out)
orgfp=$(fpr "$orgpub")
org coordinator add Amira "$amirapub" --confirm "$(fpr "$amirapub")" >/dev/null
org coordinator add Bao "$baopub" --confirm "$(fpr "$baopub")" >/dev/null
org relay add "$url" --pin "$pin_a" --backup-pin "$pin_b" >/dev/null
org forms add "$schema/forms/testimony-intake.json" >/dev/null
org publish -o pub1 >/dev/null
org invite-base --forms testimony-intake --valid-days 14 -o amira.base >/dev/null 2>&1
"$relay" mailbox create --config relay/relay.conf --registration pub1/registration.txt >/dev/null
start_relay_process

# Coordinators Amira (publishes, mints the invite) and Bao; a device joins by invite.
for c in ca cb; do
  key=amira.key
  [ "$c" = cb ] && key=bao.key
  $c init --import-key "$key" "${kdf[@]}" >/dev/null
  $c trust org "$orgpub" --confirm "$orgfp" >/dev/null
  $c roster add pub1/roster.txt >/dev/null
  $c form add pub1/forms/000001.form >/dev/null
done
ca invite-base import amira.base >/dev/null
ca publish pub1 >/dev/null
ca invite -o invite.txt </dev/null >/dev/null 2>&1
dev join --label "north team" --confirm "$orgfp" "${kdf[@]}" <invite.txt >join.out 2>&1
testimony
dev sync >sync0.out
check "on key A, the device syncs its hello and a testimony" grep -q "^sync: 2 stored" sync0.out
ca pull >pull0-a.out
check "on key A, Amira pulls the testimony" grep -q "^1 imported" pull0-a.out
cb pull >pull0-b.out
check "on key A, Bao pulls it" grep -q "^1 imported" pull0-b.out

# Rotation 1: the relay serves B; nobody else changes anything.
rotate rotate1.out
check "tls rotate names A as the old pin" test "$(printed "old pin:" rotate1.out)" = "$pin_a"
check "tls rotate serves B, the old backup pin" test "$(printed "spki pin:" rotate1.out)" = "$pin_b"
pin_c=$(printed "backup pin:" rotate1.out)
check "tls rotate makes a new backup key C" test -n "$pin_c" -a "$pin_c" != "$pin_a" -a "$pin_c" != "$pin_b"
check "the relay directory keeps only the new key files" \
  test "$(ls relay/tls | sort | tr '\n' ' ')" = "cert-${pin_b:0:16}.pem key-${pin_b:0:16}.pem "
testimony
dev sync >sync1.out
check "on key B, the device holding roster 1 syncs" grep -q "^sync: 1 stored" sync1.out
ca pull >pull1-a.out
check "on key B, Amira (roster 1) pulls" grep -q "^1 imported" pull1-a.out
cb pull >pull1-b.out
check "on key B, Bao (roster 1) pulls" grep -q "^1 imported" pull1-b.out
cp -a device device-roster1  # a device that will not take the next roster

# The organisation: the relay's new pins in its place, roster 2; Amira publishes it (and holds it).
org relay set-pins "$url" --pin "$pin_b" --backup-pin "$pin_c" >/dev/null
org publish -o pub2 >pub2.out
check "the new pins make roster 2" grep -q "roster.txt: version 2 (new: the roster changed)" pub2.out
ca publish pub2 >publish2.out
check "on key B, Amira publishes roster 2" grep -q "^published roster version 2" publish2.out
check "coord publish takes roster 2 as Amira's own and tells the others" \
  grep -q "now holds roster version 2; every other coordinator takes it with .satchel coord roster add" publish2.out
dev sync >sync2.out 2>&1
check "the device's next sync takes roster 2 from the relay" grep -q "^roster: version 2 (was 1)" sync2.out

# Rotation 2: the relay serves C; roster 2 holders keep working without a change.
rotate rotate2.out
check "the second rotation serves C" test "$(printed "spki pin:" rotate2.out)" = "$pin_c"
testimony
dev sync >sync3.out
check "on key C, the device holding roster 2 syncs" grep -q "^sync: 1 stored" sync3.out
ca pull >pull3-a.out
check "on key C, Amira (roster 2) pulls" grep -q "^1 imported" pull3-a.out

# Roster 1 holders are refused before anything is sent, and told why.
refuses "on key C, Bao still holding roster 1 is refused by pin" "newer than this roster" cb pull
refuses "on key C, a device still holding roster 1 is refused by pin" "matches neither pin" \
  old_dev sync
cb roster add pub2/roster.txt >/dev/null
cb pull >pull3-b.out
check "once Bao adds roster 2, it pulls what it missed" grep -q "^1 imported" pull3-b.out
check "the relay logged nothing but its start and stop lines" \
  bash -c '! grep -qv -e "^satchel-relay: serving" -e "^satchel-relay: stopped" "$0"' serve.log

echo "# $passes passed, $fails failed"
[ "$fails" -eq 0 ] || exit 1
