#!/usr/bin/env bash
# Sets up, builds, and runs Satchel's main job end to end on embedded defaults, with no external
# service: an organisation with two coordinators; an advocate's encrypted profile that trusts it,
# records a sample testimony with an attachment, finalizes it into the outbox; a coordinator opens
# the sealed bundle; tampering is refused. Then a relay (satchel-relay, TLS 1.3 on 127.0.0.1) is
# started, the device enrolls with a one-time code and syncs the demo bundle, and the relay is
# stopped... after two coordinators, each with an encrypted profile, pull the bundle from the
# relay, register the device and export the testimony (CSV and JSON Lines) that agree.
# Then onboarding, with no key file and nothing copied by hand: an organisation profile on an
# "offline" side, a coordinator who publishes its roster and form on a relay and mints an invite,
# a brand-new device that joins with nothing but the invite text, records and syncs, and the
# coordinator importing it as "joined by invite"; then a second coordinator added and the first
# removed, after which the device's next bundle opens for the new coordinator only.
# SATCHEL_BUILD_DIR (default build) is where it builds the two programs it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

bash scripts/setup.sh >/dev/null
build=${SATCHEL_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target satchel satchel-relay >/dev/null
build=$(cd "$build" && pwd)
satchel=$build/bin/satchel

relay_bin=$build/bin/satchel-relay
demo=$(mktemp -d "${TMPDIR:-/tmp}/satchel-demo.XXXXXX")
relay_pid=
cleanup() {
  if [ -n "$relay_pid" ]; then kill -TERM "$relay_pid" 2>/dev/null; wait "$relay_pid" 2>/dev/null; fi
  rm -rf "$demo"
}
trap cleanup EXIT
cd "$demo"
say() { printf '\n== %s\n' "$*"; }
pub() { sed -n 's/^# public key: //p' "$1"; }

say "The organisation creates its offline signing key"
"$satchel" keygen org -o org.key 2>/dev/null
say "Two coordinators create their keys"
"$satchel" keygen coordinator -o amira.key
"$satchel" keygen coordinator -o bao.key
say "An operator sets up a relay: a self-signed TLS certificate and a backup key, printing both pins"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$relay_bin" init relay --name 127.0.0.1 --listen "127.0.0.1:$port" | tee relay-init.txt
sed -i 's/^health = .*/health = off/' relay/relay.conf
pin=$(sed -n 's/^spki pin: *//p' relay-init.txt)
backup_pin=$(sed -n 's/^backup pin: *//p' relay-init.txt)
say "The organisation signs a roster: who may read bundles, and which relay to use"
"$satchel" org roster --org-name "Example Rights Network" --org-key org.key --version 1 \
  --coordinator "Amira=$(pub amira.key)" --coordinator "Bao=$(pub bao.key)" --slots 3 \
  --relay "https://127.0.0.1:$port" --pin "$pin" --backup-pin "$backup_pin" -o roster.txt
say "A field device creates its key"
"$satchel" keygen device -o device.key

cat >testimony.txt <<'TXT'
Date: 2026-10-02. Place: (withheld). I was held at the border post for two days without access
to a lawyer. My phone was taken and searched. [sample testimony for the demo]
TXT
say "The advocate seals a testimony for both coordinators (3 slots: one stays random)"
"$satchel" bundle seal --from device.key --to "$(pub amira.key)" --to "$(pub bao.key)" --slots 3 \
  --content-type record testimony.txt testimony.bundle
echo "What a relay or a watcher sees (first 64 bytes of $(stat -c %s testimony.bundle)):"
od -A d -t x1 -N 64 testimony.bundle | head -4
if grep -q "border" testimony.bundle; then echo "plaintext visible!"; exit 1; fi

say "Coordinator Bao opens it, checking it came from the enrolled device"
"$satchel" bundle open --key bao.key --expect-sender "$(pub device.key)" testimony.bundle opened.txt
cmp testimony.txt opened.txt && echo "(the body is byte-identical)"

say "A bundle altered in transit is refused, and nothing is written"
cp testimony.bundle altered.bundle
printf '\x01' | dd of=altered.bundle bs=1 seek=300 conv=notrunc status=none
if "$satchel" bundle open --key amira.key altered.bundle altered.txt 2>&1; then exit 1; fi
test ! -e altered.txt && echo "(no output file was created)"

say "Someone outside the roster cannot open it"
"$satchel" keygen coordinator -o outsider.key >/dev/null
if "$satchel" bundle open --key outsider.key testimony.bundle x.txt 2>&1; then exit 1; fi

say "THE FIELD CLIENT: an advocate creates an encrypted profile"
# The demo passes its passphrase on a descriptor; people type it at a no-echo prompt.
pass="demo only: ribbon galaxy tundra pocket violin anchor"
sat() { "$satchel" --home "$demo/profile" --passphrase-fd 3 "$@" 3<<<"$pass"; }
sat init --kdf-passes 2 --kdf-memory 64
ls -l "$demo/profile"
say "It trusts the organisation after comparing the fingerprint read to it by phone"
fp=$("$satchel" fingerprint "$(pub org.key)" | sed -n 's/^fingerprint: //p')
sat trust org "$(pub org.key)" --confirm "$fp"
sat roster add roster.txt
say "The organisation signs the sample forms; the device verifies and adds them"
root=$repo
for f in testimony-intake gcm-input; do
  "$satchel" org form --org-key org.key "$root/schema/forms/$f.json" -o "$f.signed"
  sat form add "$f.signed"
done
sat form list
say "A testimony is recorded from the sample answers, and a document attached"
rid=$(sat record testimony-intake --answers "$root/schema/forms/testimony-intake.answers.json")
echo "draft: $rid"
printf 'Scanned statement (sample).\n' >statement.pdf
sat attach "$rid" statement.pdf --question "$(python3 -c "import json,sys; f=json.load(open(sys.argv[1])); print(next(q['id'] for q in f['questions'] if q['type']=='attachment'))" "$root/schema/forms/testimony-intake.json")"
sat list
say "Finalize: sealed for the coordinators, queued in the outbox, the draft destroyed"
sat finalize "$rid"
sat outbox
sat list
say "Offline path: the outbox is exported to a folder (a USB stick) and a coordinator opens it"
mkdir usb
sat outbox export usb
"$satchel" bundle open --key amira.key usb/*.bundle delivered.package | head -4
say "THE RELAY: it gets a mailbox from the organisation's registration (authentication keys only)"
"$satchel" org registration --org-key org.key --version 1 \
  --coordinator "$(pub amira.key)" --coordinator "$(pub bao.key)" -o registration.txt
"$relay_bin" mailbox create --config relay/relay.conf --registration registration.txt
mailbox=$("$relay_bin" mailbox list --config relay/relay.conf | cut -d' ' -f1)
code=$("$relay_bin" mailbox code --config relay/relay.conf "$mailbox" | sed -n 's/^enrollment code: //p')
"$relay_bin" serve --config relay/relay.conf &
relay_pid=$!
for _ in $(seq 100); do
  curl -s --cacert relay/tls/cert.pem -o /dev/null "https://127.0.0.1:$port/" && break || sleep 0.1
done
say "The device enrolls with the one-time code (typed at a prompt; here from a descriptor)"
sat enroll --code-fd 4 4<<<"$code"
say "Sync: the bundle goes to the relay (TLS 1.3, pinned), which stores ciphertext only"
sat sync
sat outbox
echo "What the relay's storage holds (files dated to the day; a small bundle's ciphertext is in"
echo "a pack file shared by small bundles, a larger one in a file named by the ciphertext's hash):"
(cd relay/storage && find . -type f -printf '%TY-%Tm-%Td %TH:%TM  %8s  %p\n' | sort -k4)
echo "Its uploads, as relay.db records them (id = SHA-256 of the ciphertext, arrival day):"
python3 -c 'import sqlite3
db = sqlite3.connect("file:relay/storage/relay.db?mode=ro", uri=True)
for id, length, day, state in db.execute("SELECT hex(id), length, day, state FROM uploads"):
    print("  %s  %d bytes  day %d  %s" % (id.lower(), length, day, "stored" if state else "partial"))'
if grep -rqa "border" relay/storage; then echo "plaintext on the relay!"; exit 1; fi

say "THE COORDINATORS: each keeps an encrypted profile holding its key (the key file is shredded)"
ca() { "$satchel" --home "$demo/coord-amira" --passphrase-fd 3 "$@" 3<<<"$pass"; }
cb() { "$satchel" --home "$demo/coord-bao" --passphrase-fd 3 "$@" 3<<<"$pass"; }
ca coord init --import-key amira.key --kdf-passes 2 --kdf-memory 64
cb coord init --import-key bao.key --kdf-passes 2 --kdf-memory 64 >/dev/null
for c in ca cb; do
  $c coord trust org "$(pub org.key)" --confirm "$fp" >/dev/null
  $c coord roster add roster.txt >/dev/null
  for f in testimony-intake gcm-input; do $c coord form add "$f.signed" >/dev/null; done
done
say "Amira pulls: a session by signed challenge, each bundle downloaded, verified, imported, then acknowledged"
ca coord pull
ca coord devices
say "She registers the device after comparing its fingerprint with the advocate in person"
devpub=$(sat whoami | sed -n 's/^device key: //p')
devfp=$(sat whoami | sed -n 's/^fingerprint: //p')
ca coord device add "$devpub" --label "north team" --confirm "$devfp"
say "Bao pulls too: with both acknowledgements (k = n = 2) the relay deletes the bundle"
cb coord pull
cb coord device add "$devpub" --label "north" --confirm "$devfp" >/dev/null
python3 -c 'import sqlite3
db = sqlite3.connect("file:relay/storage/relay.db?mode=ro", uri=True)
print("uploads still stored on the relay:", db.execute("SELECT count(*) FROM uploads").fetchone()[0])'
say "Both export the testimony: identifying answers left out, the device named by a pseudonym"
mkdir export-amira export-bao
ca coord export --form testimony-intake -o export-amira
cb coord export --form testimony-intake --format jsonl -o export-bao 2>/dev/null
python3 - export-amira/testimony-intake-v1.csv export-bao/testimony-intake-v1.jsonl <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8-sig", newline="")))
lines = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert len(rows) == 1 and len(lines) == 1
assert rows[0]["record_id"] == lines[0]["record_id"]
assert rows[0]["narrative"] == lines[0]["answers"]["narrative"]
assert "contact_method" not in rows[0] and "event_place.place" not in rows[0]
print("Amira's CSV and Bao's JSON Lines agree on record", rows[0]["record_id"])
print("columns:", ", ".join(list(rows[0])[:8]), "...")
PY
kill -TERM "$relay_pid"
wait "$relay_pid" || true
relay_pid=
say "Nothing readable is left in the profile"
if grep -rqa "statement" "$demo/profile"; then echo "plaintext found!"; exit 1; fi
echo "(no plaintext of the testimony or the attachment in any profile file)"

say "ONBOARDING: a new relay; its operator reads the two pins to the organisation"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$relay_bin" init relay2 --name 127.0.0.1 --listen "127.0.0.1:$port" >relay2-init.txt
sed -i 's/^health = .*/health = off/' relay2/relay.conf
pin=$(sed -n 's/^spki pin: *//p' relay2-init.txt)
backup_pin=$(sed -n 's/^backup pin: *//p' relay2-init.txt)
echo "spki pin: $pin"
echo "backup pin: $backup_pin"
say "Two coordinators each create a profile holding a new key, and read its fingerprint aloud"
ch() { "$satchel" --home "$demo/coord-chidi" --passphrase-fd 3 coord "$@" 3<<<"$pass"; }
da() { "$satchel" --home "$demo/coord-dara" --passphrase-fd 3 coord "$@" 3<<<"$pass"; }
ch init --kdf-passes 2 --kdf-memory 64 >/dev/null
da init --kdf-passes 2 --kdf-memory 64 >/dev/null
ch whoami
chidi=$(ch whoami | sed -n 's/^coordinator key: //p')
chidi_fp=$(ch whoami | sed -n 's/^fingerprint: //p')
dara=$(da whoami | sed -n 's/^coordinator key: //p')
dara_fp=$(da whoami | sed -n 's/^fingerprint: //p')

say "The organisation, on its offline machine, keeps its key in an encrypted profile"
og() { "$satchel" --home "$demo/organisation" --passphrase-fd 3 org "$@" 3<<<"$pass"; }
og init --name "Example Rights Network" --kdf-passes 2 --kdf-memory 64 2>/dev/null | tee org-init.txt
orgpub=$(sed -n 's/^organisation key: //p' org-init.txt)
ofp=$("$satchel" fingerprint "$orgpub" | sed -n 's/^fingerprint: //p')
say "It lists Chidi (after his fingerprint is read aloud), the relay with its pins, and a form"
og coordinator add Chidi "$chidi" --confirm "$chidi_fp"
og relay add "https://127.0.0.1:$port" --pin "$pin" --backup-pin "$backup_pin"
og forms add "$root/schema/forms/testimony-intake.json"
say "It publishes the roster, the relay registration and the form to a folder, and signs an invite base"
og publish -o publication1
og invite-base --forms testimony-intake --valid-days 30 -o invite-base.txt
say "The relay operator creates the organisation's mailbox from the registration and serves"
"$relay_bin" mailbox create --config relay2/relay.conf --registration publication1/registration.txt
"$relay_bin" serve --config relay2/relay.conf &
relay_pid=$!
for _ in $(seq 100); do
  curl -s --cacert relay2/tls/cert.pem -o /dev/null "https://127.0.0.1:$port/" && break || sleep 0.1
done
say "Chidi, online, trusts the organisation, takes its roster, form and invite base, and publishes them"
ch trust org "$orgpub" --confirm "$ofp"
ch roster add publication1/roster.txt
ch form add publication1/forms/000001.form
ch invite-base import invite-base.txt
ch publish publication1
say "Chidi mints an invite (on a terminal it shows as a QR code until a key is pressed; here a file)"
ch invite -o invite.txt </dev/null
echo "invite: $(head -c 48 invite.txt)… ($(tr -d '\n' <invite.txt | wc -c) characters)"
say "A brand-new device joins with nothing but the invite, after typing the organisation's fingerprint"
adv() { "$satchel" --home "$demo/new-device" --passphrase-fd 3 "$@" 3<<<"$pass"; }
adv join --label "south team" --confirm "$ofp" --kdf-passes 2 --kdf-memory 64 <invite.txt
rm invite.txt
adv form list
say "The advocate records a testimony and syncs: the hello and the testimony go to the relay"
rid=$(adv record testimony-intake --answers "$root/schema/forms/testimony-intake.answers.json")
adv finalize "$rid" >/dev/null
adv sync
say "Chidi pulls: the device registers itself by its hello; Chidi typed no fingerprint"
ch pull
ch devices
say "The organisation adds Dara; Chidi carries the new roster and registration online"
og coordinator add Dara "$dara" --confirm "$dara_fp"
og publish -o publication2
ch roster add publication2/roster.txt >/dev/null
ch publish publication2
say "The organisation removes Chidi; Dara, with her own invite base, publishes roster 3"
og coordinator remove Chidi
og publish -o publication3
og invite-base --forms testimony-intake --valid-days 30 -o invite-base-dara.txt 2>/dev/null
da trust org "$orgpub" --confirm "$ofp" >/dev/null
da roster add publication2/roster.txt >/dev/null  # the roster that added her, which names Chidi
da roster add publication3/roster.txt
da form add publication3/forms/000001.form >/dev/null
da invite-base import invite-base-dara.txt >/dev/null
da publish publication3
echo "Chidi's relay access ended with that registration:"
if ch pull 2>&1; then echo "the relay still served the removed coordinator!"; exit 1; fi
say "The device's next sync fetches the newer rosters; its next testimony is sealed for Dara only"
adv sync
rid=$(adv record testimony-intake --answers "$root/schema/forms/testimony-intake.answers.json")
adv finalize "$rid" >/dev/null
mkdir usb2
adv outbox export usb2 >/dev/null
echo "Chidi's profile, given the bundle on a USB stick, cannot open it:"
ch import usb2 >chidi-import.txt || true
cat chidi-import.txt
if ! tail -1 chidi-import.txt | grep -q ": 0 imported, 0 duplicate"; then echo "Chidi opened it!"; exit 1; fi
adv sync
echo "Dara pulls it from the relay and opens it:"
da pull | tee dara-pull.txt
if ! grep -q "^1 imported" dara-pull.txt; then echo "Dara did not import the testimony!"; exit 1; fi
echo "The device's hello names an invite Chidi minted: Dara records it but does not take a removed"
echo "coordinator's word; she checks the device's fingerprint with the advocate and registers it:"
adv_pub=$(adv whoami | sed -n 's/^device key: //p')
adv_fp=$(adv whoami | sed -n 's/^fingerprint: //p')
da device add "$adv_pub" --label "south team" --confirm "$adv_fp"
da devices | tee dara-devices.txt
if ! grep -q "registered in person" dara-devices.txt; then echo "Dara did not register it!"; exit 1; fi
kill -TERM "$relay_pid"
wait "$relay_pid" || true
relay_pid=
echo
echo "demo: done"
