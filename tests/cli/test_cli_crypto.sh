#!/usr/bin/env bash
# End-to-end checks of the low-level CLI: keygen, bundle seal/open and the org commands, as a
# user would run them. Usage: test_cli_crypto.sh BIN_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(cd "$1" && pwd)
satchel="$bin/satchel"
vectors=$(cd "$(dirname "${BASH_SOURCE[0]}")/../vectors" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/satchel-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
source "$here/check_lib.sh"
# The public key string with bit 255 of its X25519 key set and a valid checksum: a second name
# for the same key (schema/bundle-format.md, "X25519 public keys").
second_name() {
  python3 - "$1" <<'PY'
import base64, hashlib, sys
text = sys.argv[1]
prefix, b32 = text[:text.index("-") + 1], text[text.index("-") + 1:]
payload = bytearray(base64.b32decode(b32.upper() + "=" * (-len(b32) % 8))[:-5])
payload[31] |= 0x80
check = hashlib.blake2b(b"satchel key text v1" + prefix.encode() + payload, digest_size=32).digest()[:5]
print(prefix + base64.b32encode(bytes(payload) + check).decode().lower().rstrip("="))
PY
}

"$satchel" keygen org -o org.key >/dev/null 2>&1
"$satchel" keygen coordinator -o a.key >/dev/null
"$satchel" keygen coordinator -o b.key >/dev/null
"$satchel" keygen coordinator -o c.key >/dev/null
"$satchel" keygen device -o d.key >/dev/null
"$satchel" keygen device -o e.key >/dev/null
check "key files are mode 0600" test "$(stat -c %a a.key)" = 600
refuses "keygen never overwrites a key file" "already exists" "$satchel" keygen device -o d.key
check "--version prints the version" sh -c "'$satchel' --version | grep -q '^satchel '"
check "satchel-relay --version prints the version" sh -c "'$bin/satchel-relay' --version | grep -q '^satchel-relay '"

head -c 150000 /dev/urandom >body
"$satchel" bundle seal --from d.key --to "$(pub a.key)" --to "$(pub b.key)" --slots 4 body bundle >seal.out
check "seal prints the bundle id" grep -q '^bundle id: [0-9a-f]\{32\}$' seal.out
"$satchel" bundle open --key b.key body.none 2>/dev/null out0 || true
"$satchel" bundle open --key b.key bundle out1 >open.out
check "open round-trips the body" cmp body out1
check "open labels an unexpected-less sender UNVERIFIED" grep -q UNVERIFIED open.out
"$satchel" bundle open --key a.key --expect-sender "$(pub d.key)" bundle out2 >open2.out
check "open with the expected sender says verified" grep -q 'verified: matches' open2.out
refuses "a wrong key finds no slot" "no slot opens with this key" "$satchel" bundle open --key c.key bundle out3
check "a rejected bundle leaves no output file" test ! -e out3
refuses "an unexpected sender is refused" "bundle-unexpected-sender" "$satchel" bundle open --key a.key --expect-sender "$(pub e.key)" bundle out4
check "an unexpected sender leaves no output file" test ! -e out4
entries_before=$(ls -A | wc -l)
refuses "open never overwrites an existing file" "already exists" "$satchel" bundle open --key b.key bundle out1
check "the existing file is left as it was" cmp body out1
"$satchel" bundle open --key a.key --expect-sender "$(pub e.key)" bundle out6 2>/dev/null || true
check "a refused open leaves no temporary file beside OUT" test "$(ls -A | wc -l)" = "$entries_before"
check "an opened file is mode 0600" test "$(stat -c %a out1)" = 600
head -c -10 bundle >cut
refuses "a truncated bundle says truncated" "bundle-truncated" "$satchel" bundle open --key a.key cut out5
refuses "a device key given as recipient is refused by kind" "expected a coordinator public key" "$satchel" bundle seal --from d.key --to "$(pub d.key)" body x
k=$(pub a.key); c=${k:20:1}; if [ "$c" = a ]; then r=b; else r=a; fi
refuses "a typo in a recipient key is caught" "checksum mismatch" "$satchel" bundle seal --from d.key --to "${k:0:20}$r${k:21}" body x
refuses "a coordinator key cannot be the sender" "expected a device secret key" "$satchel" bundle seal --from a.key --to "$(pub b.key)" body x
refuses "seal never overwrites" "already exists" "$satchel" bundle seal --from d.key --to "$(pub a.key)" body bundle
refuses "a --to error names the option and carries its code" \
  "satchel: --to #2: checksum mismatch in coordinator public key (coordpub-): the key has a typo or is damaged [key-bad-checksum]" \
  "$satchel" bundle seal --from d.key --to "$(pub b.key)" --to "${k:0:20}$r${k:21}" body x
refuses "a recipient key with bit 255 set is refused as not canonical" \
  "satchel: --to #1: coordinator public key (coordpub-) is not a canonical X25519 encoding: bit 255 is set [key-invalid]" \
  "$satchel" bundle seal --from d.key --to "$(second_name "$(pub a.key)")" body x
refuses "an --expect-sender error names the option and carries its code" \
  "satchel: --expect-sender: device public key (devpub-) is not a canonical X25519 encoding: bit 255 is set [key-invalid]" \
  "$satchel" bundle open --key a.key --expect-sender "$(second_name "$(pub d.key)")" bundle out7
refuses "an --expect-sender of the wrong kind carries its code" "[key-wrong-kind]" \
  "$satchel" bundle open --key a.key --expect-sender "$(pub a.key)" bundle out7
check "a refused --expect-sender leaves no output file" test ! -e out7
"$satchel" bundle open --key "$vectors/keys/coordinator-a.key" \
  "$vectors/bundle/g07-created-at-int64-max.bundle" out8 >open8.out
check "a creation time beyond gmtime's range prints as out of range" \
  grep -qx 'created: out of range (9223372036854775807)' open8.out

pin=$(printf '%064d' 1); backup=$(printf '%064d' 2)
"$satchel" org roster --org-name "Example Rights Network" --org-key org.key --version 1 --coordinator "Amira=$(pub a.key)" \
  --coordinator "Bao=$(pub b.key)" --slots 3 --relay https://relay.example.org --pin "$pin" \
  --backup-pin "$backup" -o roster.txt >/dev/null
check "org roster writes a roster" grep -q '^roster-' roster.txt
refuses "a roster with a bad pin is refused" "64 hex digits" "$satchel" org roster --org-name "Example Rights Network" --org-key org.key --version 2 --coordinator "A=$(pub a.key)" --relay https://r.example --pin zz --backup-pin "$backup" -o r2.txt
refuses "a roster with a plain-http relay is refused" "https://" "$satchel" org roster --org-name "Example Rights Network" --org-key org.key --version 2 --coordinator "A=$(pub a.key)" --relay http://r.example --pin "$pin" --backup-pin "$backup" -o r2.txt
"$satchel" org registration --org-key org.key --version 1 --coordinator "$(pub a.key)" --coordinator "$(pub b.key)" -o reg.txt >/dev/null
check "org registration writes a registration" grep -q '^registration-' reg.txt
printf '{"id":"gcm-input","version":2,"title":"x"}' >form.json
"$satchel" org form --org-key org.key form.json -o form.signed >/dev/null
check "org form writes a signed form" grep -q '^form-' form.signed
printf '{"version":2}' >noid.json
refuses "a form without an id is refused" 'missing string field "id"' "$satchel" org form --org-key org.key noid.json -o x.signed
refuses "a device key cannot sign as the organisation" "expected an organisation secret key" "$satchel" org form --org-key d.key form.json -o y.signed

echo "cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
