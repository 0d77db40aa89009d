#!/usr/bin/env bash
# End to end, as an organisation runs it on its offline machine: an organisation profile is
# created, coordinators (after their fingerprints), a relay and forms are added, the roster,
# registration and forms are published to a folder and an invite base is signed; a coordinator
# profile then accepts the published roster and forms, a newer roster after a change (and one
# with the relay's new pins after a rotation), and refuses the older one.
# Usage: test_cli_org.sh BIN_DIR SCHEMA_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(cd "$1" && pwd)
schema=$(cd "$2" && pwd)
satchel="$bin/satchel"
work=$(mktemp -d "${TMPDIR:-/tmp}/satchel-cli-org.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
source "$here/check_lib.sh"
fpr() { "$satchel" fingerprint "$1" | sed -n 's/^fingerprint: //p'; }
pass="harbour juniper velvet quarry tundra mosaic"
org() { "$satchel" --home "$work/org" --passphrase-fd 3 org "$@" 3<<<"$pass"; }
org2() { "$satchel" --home "$work/org2" --passphrase-fd 3 org "$@" 3<<<"$pass"; }
ca() { "$satchel" --home "$work/coord-a" --passphrase-fd 3 "$@" 3<<<"$pass"; }
pin1=$(printf '%064d' 1)
pin2=$(printf '%064d' 2)

"$satchel" keygen coordinator -o a.key >/dev/null
"$satchel" keygen coordinator -o b.key >/dev/null
apub=$(pub a.key)
bpub=$(pub b.key)
afp=$(fpr "$apub")
bfp=$(fpr "$bpub")

# The organisation profile.
refuses "org init requires --name" "--name" org init --kdf-passes 2 --kdf-memory 64
org init --name "Example Rights Network" --kdf-passes 2 --kdf-memory 64 >init.out 2>init.err
check "org init prints the organisation key and fingerprint" grep -q "^organisation fingerprint: " init.out
check "org init says to keep the machine offline" grep -q offline init.err
orgpub=$(sed -n 's/^organisation key: //p' init.out)
orgfp=$(fpr "$orgpub")
check "the organisation key is an orgpub- key" test "${orgpub#orgpub-}" != "$orgpub"
refuses "a second org init in the same place is refused" "already exists" \
  org init --name "Other" --kdf-passes 2 --kdf-memory 64
refuses "a wrong passphrase opens nothing" "wrong passphrase" \
  "$satchel" --home "$work/org" --passphrase-fd 3 org show 3<<<"not the passphrase"

# Coordinators, only with their full fingerprint.
refuses "a coordinator with another key's fingerprint is refused" "does not match" \
  org coordinator add Amira "$apub" --confirm "$bfp"
refuses "a coordinator with part of its fingerprint is refused" "does not match" \
  org coordinator add Amira "$apub" --confirm "${afp:0:23}"
org coordinator add Amira "$apub" --confirm "$(tr ' ' '-' <<<"$afp")" >/dev/null
refuses "the same coordinator name twice is refused" "listed" \
  org coordinator add Amira "$bpub" --confirm "$bfp"
refuses "publishing without a relay names what is missing" "no relay" org publish -o nope
check "a refused publication writes nothing" test ! -e nope
org relay add https://relay.example.org --pin "$pin1" --backup-pin "$pin2" >/dev/null
refuses "a relay URL that is not https is refused" "https://" \
  org relay add http://relay2.example.org --pin "$pin1" --backup-pin "$pin2"

# Forms: numbered in the order they were added.
org forms add "$schema/forms/testimony-intake.json" >f1.out
org forms add "$schema/forms/gcm-input.json" >f2.out
check "the first form added is publication number 1" grep -q "publication number 1 (000001.form)" f1.out
check "the second form added is publication number 2" grep -q "publication number 2 (000002.form)" f2.out
refuses "a form version not above the one held is refused" "not newer" \
  org forms add "$schema/forms/testimony-intake.json"
refuses "an invite base is refused until the state is published" "org publish" \
  org invite-base --forms testimony-intake --valid-days 14 -o early.base
check "a refused invite base writes no file" test ! -e early.base

# Publication.
org publish -o pub1 >pub1.out
check "publish writes the roster, registration and forms" \
  test -f pub1/roster.txt -a -f pub1/registration.txt -a -f pub1/forms/000001.form -a -f pub1/forms/000002.form
check "published files are mode 0600" test "$(stat -c %a pub1/roster.txt pub1/forms/000001.form | sort -u)" = 600
check "a publication folder is made mode 0700" test "$(stat -c %a pub1 pub1/forms | sort -u)" = 700
check "the first roster is version 1" grep -q "roster.txt: version 1 (new: the first roster)" pub1.out
check "the registration carries the relay keys" grep -q "^registration-" pub1/registration.txt
org publish -o pub2 >pub2.out
check "nothing changed: the same roster text again" cmp -s pub1/roster.txt pub2/roster.txt
check "nothing changed: publish says so" grep -q "version 1 (unchanged" pub2.out
mkdir full && touch full/x
refuses "publish never writes into a folder that is not empty" "not empty" org publish -o full

# A coordinator accepts what was published.
ca coord init --import-key a.key --kdf-passes 2 --kdf-memory 64 >/dev/null
ca coord trust org "$orgpub" --confirm "$orgfp" >/dev/null
ca coord roster add pub1/roster.txt >roster1.out
check "a coordinator accepts the published roster" grep -q "roster version 1 accepted: 1 coordinator(s), 1 slots" roster1.out
ca coord form add pub1/forms/000001.form >form1.out
check "a coordinator accepts a published form" test -s form1.out

# A change: a new roster version that the coordinator accepts over the old one.
org coordinator add Bao "$bpub" --confirm "$bfp" >/dev/null
org show >show.out
check "org show names the unpublished change" grep -q "unpublished changes: the roster changed, the relay registration changed" show.out
org publish -o pub3 >pub3.out
check "a changed roster gets the next version" grep -q "roster.txt: version 2 (new: the roster changed)" pub3.out
check "a changed registration gets the next version" grep -q "registration.txt: version 2 (new)" pub3.out
ca coord roster add pub3/roster.txt >roster2.out
check "the coordinator accepts the newer roster" grep -q "roster version 2 accepted: 2 coordinator(s)" roster2.out
refuses "the coordinator refuses the older roster again" "not newer" ca coord roster add pub1/roster.txt

# The invite base: a secret, for a coordinator.
org invite-base --forms testimony-intake gcm-input --valid-days 14 -o invite.base >base.out 2>base.err
check "the invite base is written mode 0600" test "$(stat -c %a invite.base)" = 600
check "the invite base is an invite-base- text" grep -q "^invite-base-" invite.base
check "the invite base names the current roster and both forms" grep -q "roster version 2, 2 form(s)" base.out
check "the invite base warns that it is a secret" grep -q "SECRET" base.err
check "the warning says how a coordinator imports it" grep -q "satchel coord invite-base import invite.base" base.err
refuses "an invite base is never written over a file" "already exists" \
  org invite-base --forms testimony-intake --valid-days 14 -o invite.base
refuses "an invite base names only forms held" "no form nope" \
  org invite-base --forms nope --valid-days 14 -o other.base
# (where this Satchel has `coord invite-base import`)
if "$satchel" coord --help | grep -q "invite-base"; then
  ca coord invite-base import invite.base >import-base.out
  check "the coordinator imports the invite base (roster version 2)" grep -q "roster version 2" import-base.out
  check "the imported invite base file is gone" test ! -e invite.base
fi

# org show: the whole state.
org show >show2.out
check "org show names the organisation" grep -q "^organisation: Example Rights Network" show2.out
check "org show gives the organisation fingerprint" grep -qF "fingerprint: $orgfp" show2.out
check "org show lists the coordinators with fingerprints" grep -qF "Bao  $bfp" show2.out
check "org show lists the relay" grep -q "https://relay.example.org" show2.out
check "org show lists forms by publication number" grep -q "#2  gcm-input version 1" show2.out
check "org show gives the roster version" grep -q "^roster: version 2" show2.out
check "org show has nothing unpublished" grep -q "unpublished changes: none" show2.out

# The relay moved to its backup key (satchel-relay tls rotate): new pins in the relay's place.
pin3=$(printf '%064d' 3)
refuses "new pins that keep neither held pin are refused (devices would lose the relay)" \
  "neither the relay's pin nor its backup pin" \
  org relay set-pins https://relay.example.org --pin "$pin3" --backup-pin "$pin1"
refuses "set-pins names a relay that is not listed" "no relay has the URL" \
  org relay set-pins https://other.example.org --pin "$pin2" --backup-pin "$pin3"
org relay set-pins https://relay.example.org --pin "$pin2" --backup-pin "$pin3" >pins.out
check "set-pins says the roster must be published" grep -q "org publish" pins.out
org show >show3.out
check "org show gives the new pins" grep -q "^    pin $pin2" show3.out
org publish -o pub4 >pub4.out
check "new pins sign the next roster version" grep -q "roster.txt: version 3 (new: the roster changed)" pub4.out
ca coord roster add pub4/roster.txt >roster3.out
check "the coordinator accepts the roster with the new pins" grep -q "roster version 3 accepted" roster3.out
pin4=$(printf '%064d' 4)
org relay set-pins https://relay.example.org --pin "$pin4" --backup-pin "$pin1" --unrelated >/dev/null
org show >show4.out
check "--unrelated replaces both pins (both keys lost)" grep -q "^    pin $pin4" show4.out
org coordinator remove Bao >/dev/null
refuses "removing a coordinator that is not listed names it" "no coordinator is named Bao" \
  org coordinator remove Bao

# Profiles of other kinds refuse and are refused.
refuses "an org command refuses a coordinator profile" "coordinator profile" ca org show
refuses "a coordinator command refuses an organisation profile" "organisation profile" \
  "$satchel" --home "$work/org" --passphrase-fd 3 coord devices 3<<<"$pass"

# An imported key file: kept in the profile, then gone.
"$satchel" keygen org -o imported.key >/dev/null 2>&1
importedpub=$(pub imported.key)
org2 init --name "Imported" --import-key imported.key --kdf-passes 2 --kdf-memory 64 >init2.out 2>/dev/null
check "org init --import-key shreds the key file" test ! -e imported.key
check "org init --import-key says the file was removed" grep -q "imported.key overwritten and removed" init2.out
check "the profile holds the imported key" grep -qF "organisation key: $importedpub" init2.out
"$satchel" keygen coordinator -o wrong.key >/dev/null
refuses "a key file of another kind is refused" "expected an organisation" \
  "$satchel" --home "$work/org3" --passphrase-fd 3 org init --name X --import-key wrong.key \
  --kdf-passes 2 --kdf-memory 64 3<<<"$pass"
check "a refused key file is left in place, and no profile made" test -e wrong.key -a ! -e org3

echo "# $passes passed, $fails failed"
[ "$fails" -eq 0 ]
