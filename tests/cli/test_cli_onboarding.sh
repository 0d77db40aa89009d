#!/usr/bin/env bash
# End to end, onboarding as an organisation runs it (issue 13, Proof), on 127.0.0.1 only: an
# organisation profile on an "offline" side publishes its roster, registration and a form and signs
# an invite base; a relay gets its mailbox from that registration; one coordinator online puts the
# documents on the relay and mints an invite; a brand-new device with nothing but the invite text
# joins, records a testimony and syncs; the coordinator pulls it as from a device "joined by
# invite" without typing a fingerprint. Then the organisation adds a second coordinator and removes
# the first: the relay refuses the removed one, the device's next sync fetches the new roster, and
# its next bundle opens for the new coordinator only. Refusals: a tampered invite, a wrong
# fingerprint and a spent invite.
# Usage: test_cli_onboarding.sh BIN_DIR SCHEMA_DIR
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(cd "$1" && pwd)
schema=$(cd "$2" && pwd)
satchel="$bin/satchel"
relay="$bin/satchel-relay"
. "$here/../support/relay_fixture.sh"
in_work_dir satchel-cli-onboarding
source "$here/check_lib.sh"
# A command failing outside a check ends the test: say which, rather than stop silently (on the
# test's own output, descriptor 9, since the command's may be redirected to a file).
exec 9>&1
trap 'echo "FAIL - line $LINENO: $BASH_COMMAND exited non-zero" >&9' ERR
fpr() { "$satchel" fingerprint "$1" | sed -n 's/^fingerprint: //p'; }
pass="lagoon thistle copper marble ember falcon"
org() { "$satchel" --home "$work/org" --passphrase-fd 3 org "$@" 3<<<"$pass"; }
ca() { "$satchel" --home "$work/coord-amira" --passphrase-fd 3 coord "$@" 3<<<"$pass"; }
cb() { "$satchel" --home "$work/coord-bao" --passphrase-fd 3 coord "$@" 3<<<"$pass"; }
dev() { "$satchel" --home "$work/device" --passphrase-fd 3 "$@" 3<<<"$pass"; }
kdf=(--kdf-passes 2 --kdf-memory 64)

# The coordinators' keys; copies kept for `bundle open` at the end (test only: `coord init
# --import-key` shreds the file it imports).
"$satchel" keygen coordinator -o amira.key >/dev/null
"$satchel" keygen coordinator -o bao.key >/dev/null
cp amira.key amira-copy.key
cp bao.key bao-copy.key
amirapub=$(pub amira.key)
baopub=$(pub bao.key)

# The relay operator: a relay directory, its two pins.
port=$(free_port)
"$relay" init relay --name 127.0.0.1 --listen "127.0.0.1:$port" >relay-init.txt
sed -i -e 's/^health = .*/health = off/' relay/relay.conf
pin=$(sed -n 's/^spki pin: *//p' relay-init.txt)
backup=$(sed -n 's/^backup pin: *//p' relay-init.txt)

# The organisation, offline: profile, coordinator (after its fingerprint), relay, form, publish.
org init --name "Example Rights Network" "${kdf[@]}" >org-init.out 2>/dev/null
orgpub=$(sed -n 's/^organisation key: //p' org-init.out)
orgfp=$(fpr "$orgpub")
org coordinator add Amira "$amirapub" --confirm "$(fpr "$amirapub")" >/dev/null
org relay add "https://127.0.0.1:$port" --pin "$pin" --backup-pin "$backup" >/dev/null
org forms add "$schema/forms/testimony-intake.json" >/dev/null
org publish -o pub1 >/dev/null
org invite-base --forms testimony-intake --valid-days 14 -o amira.base >/dev/null 2>&1
check "the organisation wrote roster, registration, form and invite base" \
  test -f pub1/roster.txt -a -f pub1/registration.txt -a -f pub1/forms/000001.form -a -f amira.base

# The relay: a mailbox from the organisation's registration, then serving.
"$relay" mailbox create --config relay/relay.conf --registration pub1/registration.txt >/dev/null
"$relay" serve --config relay/relay.conf 2>serve.log &
pids+=($!)
for _ in $(seq 100); do
  curl -s --cacert relay/tls/cert.pem -o /dev/null "https://127.0.0.1:$port/" && break
  sleep 0.1
done
curl -s --cacert relay/tls/cert.pem -o /dev/null "https://127.0.0.1:$port/" ||
  { echo "FAIL - the relay did not start on 127.0.0.1:$port"; exit 1; }

# Coordinator Amira, online: profile, trust, roster, form, invite base; publish; mint an invite.
ca init --import-key amira.key "${kdf[@]}" >/dev/null
ca trust org "$orgpub" --confirm "$orgfp" >/dev/null
ca roster add pub1/roster.txt >/dev/null
ca form add pub1/forms/000001.form >/dev/null
ca invite-base import amira.base >/dev/null
check "the imported invite base file is gone" test ! -e amira.base
ca publish pub1 >publish1.out
check "coord publish puts roster 1 and form 1 on the relay" \
  grep -q "^published roster version 1 and 1 form package(s) (numbers 1)" publish1.out
# Without a terminal (setsid: a new session has none, even when ctest runs on one), coord invite
# without -o is refused before it mints anything.
rc=0
setsid -w "$satchel" --home "$work/coord-amira" --passphrase-fd 3 coord invite 3<<<"$pass" \
  </dev/null >no-tty.out 2>&1 || rc=$?
check "coord invite without a terminal is refused and asks for -o FILE" \
  bash -c '[ "$0" -ne 0 ] && grep -q -- "give -o FILE" "$1"' "$rc" no-tty.out
check "coord invite without a terminal mints nothing" bash -c '! grep -q minted "$0"' no-tty.out
ca invite -o invite.txt </dev/null >invite.out 2>invite.err
check "coord invite writes the invite to a file of mode 0600" test "$(stat -c %a invite.txt)" = 600
check "the invite is INV1- text" grep -q "^INV1-[A-Z2-7]*$" invite.txt
check "coord invite warns that the invite is a secret" grep -q "THIS INVITE IS A SECRET" invite.err

# Refusals before anything is written: a tampered invite, a wrong fingerprint.
python3 - invite.txt tampered.txt <<'PY'
import sys
t = open(sys.argv[1]).read().strip()
i = 400  # inside the signed roster
t = t[:i] + ("B" if t[i] != "B" else "C") + t[i + 1:]
open(sys.argv[2], "w").write(t + "\n")
PY
refuses "a tampered invite is refused: its signature does not verify" "signature does not verify" \
  dev join --label "north team" --confirm "$orgfp" "${kdf[@]}" <tampered.txt
check "a tampered invite creates no profile" test ! -e device
refuses "an invite confirmed with another fingerprint is refused" "is not the invite's" \
  dev join --label "north team" --confirm "$(fpr "$amirapub")" "${kdf[@]}" <invite.txt
check "a wrong fingerprint creates no profile" test ! -e device

# The device: nothing but the invite text on standard input.
dev join --label "north team" --confirm "$orgfp" "${kdf[@]}" <invite.txt >join.out 2>join.err
check "join names the organisation" grep -q "^joined Example Rights Network" join.out
check "join fetched the invite's form from the relay" grep -q "^form added: testimony-intake" join.out
check "join queued the hello" grep -q "^hello queued for your coordinators" join.out
check "join shows the device's fingerprint" grep -q "^device fingerprint: " join.out
dev form list >forms.out
check "the device holds the form the invite named" grep -q "testimony-intake" forms.out
refuses "the spent invite does not join a second device" "already used or expired" \
  "$satchel" --home "$work/device2" --passphrase-fd 3 join --label "copy" --confirm "$orgfp" \
  "${kdf[@]}" 3<<<"$pass" <invite.txt
rid=$(dev record testimony-intake --answers "$schema/forms/testimony-intake.answers.json")
dev finalize "$rid" >/dev/null
dev sync >sync1.out
check "sync uploads the hello and the testimony" grep -q "^sync: 2 stored" sync1.out

# Amira pulls: the device is registered by its hello; no fingerprint typed.
ca pull >pull1.out
check "Amira imports the testimony" grep -q "^1 imported" pull1.out
check "Amira files the device's hello" grep -q "1 device hello(s) filed" pull1.out
ca devices >devices1.out
check "the device shows its own label" grep -q "^north team$" devices1.out
check "coord devices says the device joined by an invite Amira minted" \
  grep -q "joined by invite [0-9a-f]\{8\}, minted by Amira" devices1.out
check "the device is not UNVERIFIED" bash -c '! grep -q UNVERIFIED "$0"' devices1.out
mkdir export1
ca export --form testimony-intake -o export1 >export1.out 2>&1
check "the testimony is exported as from a registered device" grep -q "^1 record(s) exported$" export1.out

# The organisation adds Bao (Amira carries that online), then removes Amira (Bao carries it).
org coordinator add Bao "$baopub" --confirm "$(fpr "$baopub")" >/dev/null
org publish -o pub2 >/dev/null
ca roster add pub2/roster.txt >/dev/null
ca publish pub2 >publish2.out
check "Amira puts registration 2 (Amira and Bao) on the relay" \
  grep -q "relay now holds registration version 2" publish2.out
org coordinator remove Amira >/dev/null
org publish -o pub3 >pub3.out
check "the roster without Amira is version 3" grep -q "roster.txt: version 3" pub3.out
org invite-base --forms testimony-intake --valid-days 14 -o bao.base >/dev/null 2>&1
cb init --import-key bao.key "${kdf[@]}" >/dev/null
cb trust org "$orgpub" --confirm "$orgfp" >/dev/null
cb roster add pub3/roster.txt >/dev/null
cb form add pub3/forms/000001.form >/dev/null
cb invite-base import bao.base >/dev/null
cb publish pub3 >publish3.out
check "Bao publishes roster 3 and registration 3" \
  grep -q "relay now holds registration version 3" publish3.out
refuses "the relay refuses Amira's publishing after registration 3" "not registered" ca publish pub3
refuses "the relay refuses Amira's pull after registration 3" "not registered" ca pull

# The device's next sync fetches rosters 2 and 3; what it seals next is for Bao only.
sync_to() { dev sync >"$1" 2>&1; }
check "the device's first sync after the change succeeds" sync_to sync2.out
check "that sync took roster 3 from the relay" grep -q "^roster: version 3 (was 1)" sync2.out
rid2=$(dev record testimony-intake --answers "$schema/forms/testimony-intake.answers.json")
dev finalize "$rid2" >/dev/null
mkdir usb
dev outbox export usb >/dev/null
shopt -s nullglob
bundles=(usb/*.bundle)
check "the second testimony is in the outbox" test "${#bundles[@]}" -ge 1
opened_by_bao=0
opened_by_amira=0
mkdir opened
for b in "${bundles[@]}"; do
  if "$satchel" bundle open --key bao-copy.key "$b" "opened/${b#usb/}.bao" >/dev/null 2>&1; then
    opened_by_bao=$((opened_by_bao + 1))
  fi
  if "$satchel" bundle open --key amira-copy.key "$b" "opened/${b#usb/}.amira" >/dev/null 2>&1; then
    opened_by_amira=$((opened_by_amira + 1))
  fi
done
check "every bundle sealed after the sync opens for Bao (${opened_by_bao} of ${#bundles[@]})" \
  test "$opened_by_bao" -eq "${#bundles[@]}"
check "no bundle sealed after the sync opens for the removed Amira (${opened_by_amira} opened)" \
  test "$opened_by_amira" -eq 0
ca import usb >import-amira.out 2>&1 || true
check "the removed Amira's own profile cannot open it either (quarantined)" \
  grep -q "^${#bundles[@]} file(s): 0 imported, 0 duplicate, 0 cover, ${#bundles[@]} quarantined" import-amira.out
check "the device syncs the second testimony" sync_to sync3.out
check "nothing is left pending" grep -q " 0 pending;" sync3.out
cb pull >pull-bao.out
check "Bao imports the second testimony from the relay" grep -q "^1 imported" pull-bao.out
refuses "Amira still cannot pull" "not registered" ca pull

echo "# $passes passed, $fails failed"
[ "$fails" -eq 0 ] || exit 1
