#!/usr/bin/env bash
# End-to-end checks of the field client as an advocate runs it: profile, trust, forms, records,
# attachments, finalize, outbox export, and the refusals that protect them.
# Usage: test_cli_client.sh BIN_DIR SCHEMA_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(cd "$1" && pwd)
schema=$(cd "$2" && pwd)
satchel="$bin/satchel"
work=$(mktemp -d "${TMPDIR:-/tmp}/satchel-cli-client.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
source "$here/check_lib.sh"
pass="fjord lantern cobalt meadow quiver saffron"
sat() { "$satchel" --home "$work/home" --passphrase-fd 3 "$@" 3<<<"$pass"; }
wrong() { "$satchel" --home "$work/home" --passphrase-fd 3 "$@" 3<<<"not the passphrase"; }

"$satchel" keygen org -o org.key >/dev/null 2>&1
"$satchel" keygen coordinator -o a.key >/dev/null
"$satchel" keygen coordinator -o b.key >/dev/null
pin=$(printf '%064d' 1); backup=$(printf '%064d' 2)
roster() {  # version, output
  "$satchel" org roster --org-name "Example Rights Network" --org-key org.key --version "$1" --coordinator "A=$(pub a.key)" \
    --coordinator "B=$(pub b.key)" --slots 3 --relay https://relay.example.org --pin "$pin" \
    --backup-pin "$backup" -o "$2" >/dev/null
}
roster 1 r1.txt
roster 2 r2.txt

refuses "init refuses a weak passphrase" "too weak" sh -c "echo password123 | '$satchel' --home '$work/weak' --passphrase-fd 0 init --kdf-passes 2 --kdf-memory 64"
check "a refused init leaves no profile" test ! -e "$work/weak/keyslots"
sat init --kdf-passes 2 --kdf-memory 64 >init.out
check "init prints the Argon2id parameters" grep -q "Argon2id: 2 passes, 64 MiB" init.out
check "profile files are private" test "$(stat -c %a home/keyslots)" = 600 -a "$(stat -c %a home)" = 700
refuses "init refuses to overwrite a profile" "already exists" sat init --kdf-passes 2 --kdf-memory 64
refuses "a wrong passphrase is refused" "wrong passphrase" wrong list
fp=$("$satchel" fingerprint "$(pub org.key)" | sed -n 's/^fingerprint: //p')
refuses "a wrong fingerprint does not trust the key" "does not match" sat trust org "$(pub org.key)" --confirm "12345 12345"
refuses "no roster before the organisation is trusted" "no organisation is trusted" sat roster add r1.txt
sat trust org "$(pub org.key)" --confirm "$fp" >/dev/null
sat roster add r2.txt >/dev/null
refuses "an older roster is refused (no rollback)" "not newer" sat roster add r1.txt
"$satchel" org form --org-key org.key "$schema/forms/testimony-intake.json" -o t.signed >/dev/null
sat form add t.signed >/dev/null
refuses "the same form version is refused" "not newer" sat form add t.signed
sed 's/form-./form-A/' t.signed >altered.signed
refuses "an altered signed form is refused" "form" sat form add altered.signed
"$satchel" keygen org -o other.key >/dev/null 2>&1
"$satchel" org form --org-key other.key "$schema/forms/gcm-input.json" -o other.signed >/dev/null
refuses "a form signed by another organisation is refused" "different organisation key" sat form add other.signed
printf '{"consent": "maybe", "nonsense": 1}' >bad.json
refuses "invalid answers list every failing question" "nonsense" sat record testimony-intake --answers bad.json
rid=$(sat record testimony-intake --answers "$schema/forms/testimony-intake.answers.json")
check "record prints a record id" test "${#rid}" = 32
head -c 150000 /dev/urandom >evidence.pdf
q=$(python3 -c "import json,sys; f=json.load(open(sys.argv[1])); print(next(q['id'] for q in f['questions'] if q['type']=='attachment'))" "$schema/forms/testimony-intake.json")
sat attach "$rid" evidence.pdf --question "$q" >/dev/null
refuses "an unreadable attachment is refused by name" "missing.pdf" sat attach "$rid" missing.pdf --question "$q"
sat list >list.out
check "list shows the draft" grep -q "$rid" list.out
sat finalize "$rid" >/dev/null
refuses "a finalized draft is gone" "no draft" sat show "$rid"
sat outbox >outbox.out
check "the outbox has one sealed bundle" grep -q sealed outbox.out
mkdir usb
sat outbox export usb >/dev/null
check "outbox export writes one bundle" test "$(ls usb | wc -l)" = 1
"$satchel" bundle open --key b.key usb/*.bundle package.bin >/dev/null
check "the coordinator's opened package carries the attachment bytes" sh -c "tail -c 150000 package.bin | cmp -s - evidence.pdf"
sat outbox >outbox2.out
check "the outbox entry is marked exported" grep -q exported outbox2.out
check "no plaintext in the profile" sh -c "! grep -rqa 'consent' home"

echo "cli-client: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
