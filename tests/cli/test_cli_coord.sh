#!/usr/bin/env bash
# End to end, as an organisation runs it: an advocate's device seals records (Arabic, several
# lines, a formula, an identifying name, an attachment) and writes them to a folder; two
# coordinators import them, register the device, and export CSV and JSON Lines, which are then
# read back with Python's csv module and with pandas and checked against what was sent.
# Usage: test_cli_coord.sh BIN_DIR SCHEMA_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(cd "$1" && pwd)
schema=$(cd "$2" && pwd)
satchel="$bin/satchel"
work=$(mktemp -d "${TMPDIR:-/tmp}/satchel-cli-coord.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
source "$here/check_lib.sh"
fpr() { "$satchel" fingerprint "$1" | sed -n 's/^fingerprint: //p'; }
pass="fjord lantern cobalt meadow quiver saffron"
dev() { "$satchel" --home "$work/device" --passphrase-fd 3 "$@" 3<<<"$pass"; }
ca() { "$satchel" --home "$work/coord-a" --passphrase-fd 3 "$@" 3<<<"$pass"; }
cb() { "$satchel" --home "$work/coord-b" --passphrase-fd 3 "$@" 3<<<"$pass"; }

"$satchel" keygen org -o org.key >/dev/null 2>&1
"$satchel" keygen coordinator -o a.key >/dev/null
"$satchel" keygen coordinator -o b.key >/dev/null
"$satchel" keygen coordinator -o outsider.key >/dev/null
apub=$(pub a.key)
"$satchel" org roster --org-name "Example Rights Network" --org-key org.key --version 1 --coordinator "A=$apub" \
  --coordinator "B=$(pub b.key)" --slots 3 --relay https://relay.example.org \
  --pin "$(printf '%064d' 1)" --backup-pin "$(printf '%064d' 2)" -o roster.txt >/dev/null
"$satchel" org form --org-key org.key "$schema/forms/testimony-intake.json" -o t.signed >/dev/null
orgfp=$(fpr "$(pub org.key)")

# The device: two records, one of them with everything an export must get right.
dev init --kdf-passes 2 --kdf-memory 64 >/dev/null
dev trust org "$(pub org.key)" --confirm "$orgfp" >/dev/null
dev roster add roster.txt >/dev/null
dev form add t.signed >/dev/null
python3 - "$schema/forms/testimony-intake.answers.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
a["narrative"] = "أوقفونا ليلاً بعد المعبر.\nأخذوا هواتفنا، وفتشوها.\r\nثم أعادونا \"إلى الحدود\", دون سؤال."
a["interviewer_notes"] = "=HYPERLINK(\"http://example.org\",\"x\")"
a["people"][1]["person_name"] = "Example Name"
a["safe_to_contact"] = True
a["contact_method"] = "+000 000 000"
json.dump(a, open("rich.json", "w"), ensure_ascii=False)
PY
rich=$(dev record testimony-intake --answers rich.json)
head -c 200000 /dev/urandom >evidence.pdf
dev attach "$rich" evidence.pdf --question attachments >/dev/null
dev finalize "$rich" >/dev/null
plain=$(dev record testimony-intake --answers "$schema/forms/testimony-intake.answers.json")
dev finalize "$plain" >plain-finalize.out
plain_code=$(sed -n 's/^Retraction code for this testimony: //p' plain-finalize.out)
check "finalize shows a retraction code" test "${#plain_code}" = 32
mkdir usb
dev outbox export usb >/dev/null
"$satchel" keygen device -o other-device.key >/dev/null
echo "not for A" >note.txt
"$satchel" bundle seal --to "$(pub outsider.key)" --from other-device.key note.txt usb/zz-not-for-us.bundle >/dev/null
devpub=$(dev whoami | sed -n 's/^device key: //p')
devfp=$(dev whoami | sed -n 's/^fingerprint: //p')
check "satchel whoami shows the device key" test -n "$devpub" -a -n "$devfp"

# Coordinator A: profile with the imported key, which is then gone from the disk.
ca coord init --import-key a.key --kdf-passes 2 --kdf-memory 64 >inita.out
check "coord init shredded the imported key file" test ! -e a.key
check "coord init shows the imported key" grep -qF "$apub" inita.out
ca coord whoami >whoami-a.out
check "coord whoami shows the same key" grep -qF "$apub" whoami-a.out
refuses "a field command refuses a coordinator profile" "coordinator profile" ca list
refuses "a coordinator command refuses a field profile" "field profile" dev coord devices
ca coord trust org "$(pub org.key)" --confirm "$orgfp" >/dev/null
ca coord roster add roster.txt >/dev/null
ca coord import usb >import0.out || true
check "records of a form not yet held wait in quarantine" grep -q "0 imported, 0 duplicate, 0 cover, 3 quarantined" import0.out
check "the quarantine says which form is missing" grep -q "form testimony-intake version 1 is not known here" import0.out
ca coord form add t.signed >formadd.out
check "adding the form imports the records that waited for it" grep -q "2 record(s) waiting for this form imported" formadd.out
ca coord import usb >import1.out || true
check "importing the same folder again changes nothing (three duplicates)" grep -q "0 imported, 3 duplicate, 0 cover, 0 quarantined" import1.out
ca coord quarantine >quarantine.out
check "quarantine names the reason" grep -q "did not open" quarantine.out
ca coord devices >devices.out
check "an unregistered device is UNVERIFIED" grep -q UNVERIFIED devices.out
mkdir out-unverified
ca coord export --form testimony-intake -o out-unverified >unv.out 2>&1
check "records of unregistered devices are left out by default" grep -q "0 record(s) exported; 2 from unregistered" unv.out
refuses "a wrong device fingerprint does not register it" "does not match" ca coord device add "$devpub" --label "north team" --confirm "12345"
ca coord device add "$devpub" --label "north team" --confirm "$devfp" >/dev/null
ca coord devices >devices2.out
check "a registered device shows its label" grep -q "north team" devices2.out

mkdir out-a out-a-json out-a-id
ca coord export --form testimony-intake -o out-a >exporta.out 2>exporta.err
check "export says the files are plaintext" grep -q PLAINTEXT exporta.err
check "export wrote the records and the repeat group" test -f out-a/testimony-intake-v1.csv -a -f out-a/testimony-intake-v1.people.csv
check "export files are mode 0600" test "$(stat -c %a out-a/testimony-intake-v1.csv)" = 600
refuses "an export never overwrites a file" "exists" ca coord export --form testimony-intake -o out-a
refuses "attachments are not extracted without --include-identifying (metadata not stripped)" "include-identifying" ca coord export --form testimony-intake --format jsonl --attachments -o out-a-json
ca coord export --form testimony-intake --format jsonl -o out-a-json >/dev/null 2>&1
mkdir out-a-att
ca coord export --form testimony-intake --format jsonl --attachments --include-identifying -o out-a-att >/dev/null 2>&1
ca coord export --form testimony-intake --format jsonl --include-identifying -o out-a-id >/dev/null 2>&1
check "attachments are extracted by record and attachment id" cmp -s evidence.pdf "out-a-att/attachments/$(ls out-a-att/attachments | head -1)"
mkdir out-a-link elsewhere
ln -s "$PWD/elsewhere" out-a-link/attachments
refuses "attachments are never written through a symbolic link left in the export folder" "symbolic link" ca coord export --form testimony-intake --format jsonl --attachments --include-identifying -o out-a-link
check "nothing was written where the link pointed" test -z "$(ls elsewhere)"

# The respondent of the plain record withdraws consent: the advocate sends the retraction.
dev retract "$plain_code" >/dev/null
mkdir usb2
dev outbox export usb2 >/dev/null
ca coord import usb2 >import-retract.out || true
check "the retraction is imported" grep -q "1 retraction" import-retract.out
mkdir out-a-retract
ca coord export --form testimony-intake -o out-a-retract >retract-export.out 2>&1
check "a retracted record is left out of exports by default" grep -q "1 record(s) exported; 1 retracted left out" retract-export.out
refuses "a mistyped retraction code is refused" "26 letters" dev retract "ABCD-EFGH"

# Coordinator B.
cb coord init --import-key b.key --kdf-passes 2 --kdf-memory 64 >/dev/null
cb coord trust org "$(pub org.key)" --confirm "$orgfp" >/dev/null
cb coord roster add roster.txt >/dev/null
cb coord form add t.signed >/dev/null
cb coord import usb >importb.out || true
check "coordinator B imports both records" grep -q "2 imported" importb.out
cb coord device add "$devpub" --label "north" --confirm "$devfp" >/dev/null
mkdir out-b-json
cb coord export --form testimony-intake --format jsonl -o out-b-json >/dev/null 2>&1

# Debian's python3, which has Debian's pandas (python3-pandas, scripts/setup.sh), even where
# another python3 comes first in PATH.
debian_python=/usr/bin/python3
"$debian_python" - rich.json "$schema/forms/testimony-intake.answers.json" "$rich" <<'PY' && passes=$((passes + 1)) || fails=$((fails + 1))
import csv, json, sys
import pandas as pd
rich = json.load(open(sys.argv[1])); plain = json.load(open(sys.argv[2]))
rows = list(csv.DictReader(open("out-a/testimony-intake-v1.csv", encoding="utf-8-sig", newline="")))
assert len(rows) == 2, rows
assert open("out-a/testimony-intake-v1.csv", "rb").read(3) == b"\xef\xbb\xbf"
by_narr = {r["narrative"]: r for r in rows}
r = by_narr[rich["narrative"]]  # Arabic, several lines, CRLF, quotes and commas, byte for byte
assert r["interviewer_notes"] == "'" + rich["interviewer_notes"], r["interviewer_notes"]
assert r["event_date"] == rich["event_date"]
assert r["speaker_role"] != "" and r["verification"] == "verified"
assert r["children_involved"] == "yes" and r["safe_to_contact"] == "yes"
for ident in ("event_place.place", "contact_method", "device_label"):
    assert ident not in r, ident
assert r["device"].startswith("d-") and len(r["device"]) == 18
assert by_narr[plain["narrative"]]["event_date"] == plain["event_date"]
people = list(csv.DictReader(open("out-a/testimony-intake-v1.people.csv", encoding="utf-8-sig", newline="")))
assert len(people) == 6, people
assert "person_name" not in people[0] and "official_unit" not in people[0]
assert sorted(p["instance"] for p in people) == ["people[0]", "people[0]", "people[1]", "people[1]", "people[2]", "people[2]"]
df = pd.read_csv("out-a/testimony-intake-v1.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
assert len(df) == 2
assert rich["narrative"] in list(df["narrative"])
assert "'" + rich["interviewer_notes"] in list(df["interviewer_notes"])
a = {}
for line in open("out-a-json/testimony-intake-v1.jsonl", encoding="utf-8"):
    o = json.loads(line); a[o["record_id"]] = o
b = {}
for line in open("out-b-json/testimony-intake-v1.jsonl", encoding="utf-8"):
    o = json.loads(line); b[o["record_id"]] = o
assert set(a) == set(b) and len(a) == 2
for rid in a:
    assert a[rid]["answers"] == b[rid]["answers"] and a[rid]["form"] == b[rid]["form"]
    assert a[rid]["device"] != b[rid]["device"]  # pseudonyms differ per coordinator
ra = next(o for o in a.values() if o["answers"]["narrative"] == rich["narrative"])
assert ra["answers"]["interviewer_notes"] == rich["interviewer_notes"]  # JSON is not neutralised
assert "person_name" not in ra["answers"]["people"][1] and "event_place" not in ra["answers"]
ident = [json.loads(l) for l in open("out-a-id/testimony-intake-v1.jsonl", encoding="utf-8")]
ri = next(o for o in ident if o["answers"]["narrative"] == rich["narrative"])
assert ri["answers"]["people"][1]["person_name"] == "Example Name" and ri["device_label"] == "north team"
assert ri["answers"]["contact_method"] == rich["contact_method"]
print("ok - CSV (csv module and pandas) and JSON Lines exports match the answers sent")
PY

echo "# $passes passed, $fails failed"
[ "$fails" -eq 0 ]
