#!/usr/bin/env bash
# Block-level forensics, as a border examiner would do it: a profile on a fresh ext4 image
# (128 MiB, Debian's default mkfs.ext4), loop-mounted and used through the real `satchel` CLI as
# an advocate would (drafts with attachments, finalize, export, sync to a real relay on
# 127.0.0.1 that deletes stored bundles, passphrase change, rekey, one more record finalized and
# sent after the rekey, one draft left), then unmounted and the RAW image scanned by
# forensic_scan, which holds every passphrase the advocate ever used (what it scans: the header
# of scan_image.cpp).
#   MAIN run: nothing of a finalized record or of a sent bundle is readable — raw, in decrypted
#   database pages (files, WAL frames, rollback-journal records), through the blob chain or
#   through the pool-cell chain; exactly one keyslot opens (the live one, current passphrase); the
#   only key recovered is the live draft's. Positive controls: the live draft's answers canary
#   through the blob chain, its attachment's canary through the pool-cell chain, a form label's
#   canary in the decrypted pages, and pages decrypted from journal records (the record finalized
#   after the rekey leaves them under the current database key).
#   CONTROL run: the same session with deliberate residue (copies of the profile's files except
#   the pool, made before and after finalize and unlinked after the passphrase change; an export
#   written inside the image and removed): the scanner must find an old keyslot that opens with
#   the old passphrase, the finalized record's key, its canary through the blob chain, its
#   attachment's canary in the pool's freed cells (pool-cell chain, the draft's key from the
#   first copy), the bundle through the pool-cell chain (the entry's key from the second copy) and
#   the bundle bytes raw, and pages in journal records.
# Needs root, loop devices and mkfs.ext4; otherwise prints SKIP and exits 77.
# Usage: test_block_forensics.sh BIN_DIR SCHEMA_DIR
set -Eeuo pipefail
shopt -s inherit_errexit  # a failing command inside $(…) ends the test too
bin=$(cd "$1" && pwd)
schema=$(cd "$2" && pwd)
support=$(cd "$(dirname "$0")/../support" && pwd)
satchel="$bin/satchel"
relay="$bin/satchel-relay"
scan="$bin/forensic_scan"

skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "block forensics needs root (loop-mounted ext4 image)"
for tool in mkfs.ext4 losetup mount umount mountpoint truncate; do
  command -v "$tool" >/dev/null || skip "block forensics needs $tool"
done
[ -e /dev/loop-control ] || skip "block forensics needs loop devices (/dev/loop-control)"
for b in "$satchel" "$relay" "$scan"; do
  [ -x "$b" ] || { echo "FAIL - missing binary $b"; exit 1; }
done

. "$support/relay_fixture.sh"
in_work_dir satchel-block-forensics
mounts=()
images=()
cleanup() {
  local m i d still=0
  for m in "${mounts[@]}"; do
    if mountpoint -q "$m"; then umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || still=1; fi
  done
  for i in "${images[@]}"; do
    for d in $(losetup -j "$i" | cut -d: -f1); do losetup -d "$d" 2>/dev/null || true; done
  done
  if [ "$still" -eq 0 ]; then
    stop_work
  else
    echo "warning: a mount under $work could not be removed; $work is left in place" >&2
  fi
}
trap cleanup EXIT
trap 'echo "FAIL - line $LINENO: $BASH_COMMAND exited non-zero"; exit 1' ERR  # never 77 by accident
fails=0
passes=0
ok() { echo "ok - $1"; passes=$((passes + 1)); }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

# A fresh image, mkfs'd and loop-mounted; sets `img` and `mnt`.
new_image() {
  img="$work/$1.img"
  mnt=$(mktemp -d "$work/$1-mnt.XXXXXX")
  images+=("$img")
  mounts+=("$mnt")
  truncate -s 128M "$img"
  mkfs.ext4 -q "$img"
  mount -o loop "$img" "$mnt"
}
unmount_image() {
  sync
  umount "$mnt"
  for d in $(losetup -j "$img" | cut -d: -f1); do losetup -d "$d" 2>/dev/null || true; done
}

# Can this machine loop-mount at all (containers often cannot)?
probe="$work/probe.img"
truncate -s 8M "$probe"
mkfs.ext4 -q "$probe" 2>/dev/null || skip "mkfs.ext4 failed on an image file"
mkdir "$work/probe"
images+=("$probe")
mounts+=("$work/probe")
mount -o loop "$probe" "$work/probe" 2>/dev/null || skip "cannot loop-mount an ext4 image here"
umount "$work/probe"
rm -f "$probe"

# ---- What both sessions share: organisation, relay, roster, a signed form with a canary ----
rand() { head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
form_canary="FORM-LABEL-CANARY-$(rand)-Q"
start_relay
"$satchel" org roster --org-name "Example Rights Network" --org-key org.key --version 1 --coordinator "A=$(pub a.key)" --slots 2 \
  --relay "https://127.0.0.1:$port" --pin "$pin" --backup-pin "$backup" -o roster.txt >/dev/null
python3 - "$schema/forms/testimony-intake.json" form.json "$form_canary" <<'EOF'
import json, sys
form = json.load(open(sys.argv[1]))
notes = next(q for q in form["questions"] if q["id"] == "interviewer_notes")
notes["label"]["en"] += " (" + sys.argv[3] + ")"
json.dump(form, open(sys.argv[2], "w"), ensure_ascii=False, indent=2)
EOF
"$satchel" org form --org-key org.key form.json -o form.signed >/dev/null
fp=$("$satchel" fingerprint "$(pub org.key)" | sed -n 's/^fingerprint: //p')

# answers FILE CANARY: the sample testimony with CANARY in its narrative.
answers() {
  python3 - "$schema/forms/testimony-intake.answers.json" "$1" "$2" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
a["narrative"] = "We were stopped at night near the crossing. " + sys.argv[3] + " They took our phones."
json.dump(a, open(sys.argv[2], "w"))
EOF
}
# document FILE CANARY: a statement whose text is CANARY over and over (about 150 KiB): attached,
# it is three 64 KiB chunks (pool cells), each with CANARY in its first 512 bytes, where the
# scanner's pool-cell chain looks.
document() {
  local i
  for i in $(seq 3500); do echo "$2 line $i"; done >"$1"
}

# The advocate's commands: the profile and TMPDIR on the image, inputs and outputs outside it.
# Each is followed by a sync of the image's file system: on a device, minutes pass between two
# commands and the kernel writes everything back (ext4's delayed allocation would otherwise never
# write what a command leaves for the next one to delete, and the test would be easier than life).
pass=""
sat() {
  local rc=0
  TMPDIR="$mnt/tmp" "$satchel" --home "$mnt/fieldnotes" --passphrase-fd 3 "$@" 3<<<"$pass" || rc=$?
  sync -f "$mnt"
  return "$rc"
}
change_passphrase() {  # NEW
  TMPDIR="$mnt/tmp" "$satchel" --home "$mnt/fieldnotes" --passphrase-fd 3 passphrase \
    3<<<"$pass"$'\n'"$1" >/dev/null
  sync -f "$mnt"
  pass=$1
}
new_device() {
  mkdir "$mnt/tmp"
  sat init --kdf-passes 2 --kdf-memory 64 >/dev/null
  sat trust org "$(pub org.key)" --confirm "$fp" >/dev/null
  sat roster add roster.txt >/dev/null
  sat form add form.signed >/dev/null
  sat settings set keep-until-delivered no >/dev/null
  check "$1: stored bundles are deleted from the device" \
    grep -qx 'sync.keep_until_delivered = no' <<<"$(sat settings)"
  code=$("$relay" mailbox code --config relay/relay.conf "$mailbox" | sed -n 's/^enrollment code: //p')
  sat enroll --code-fd 4 4<<<"$code" >/dev/null
}
# draft NAME CANARY [ATTACHMENT_CANARY]: a draft (id printed) with its narrative, and a document.
draft() {
  local rid
  answers "$work/$1.answers.json" "$2"
  rid=$(sat record testimony-intake --answers "$work/$1.answers.json")
  if [ -n "${3:-}" ]; then
    document "$work/$1-statement.txt" "$3"
    sat attach "$rid" "$work/$1-statement.txt" --question attachments >/dev/null
  fi
  echo "$rid"
}
# export_bundles DIR SPEC: writes the outbox to DIR; names each bundle in SPEC (upload id, file).
export_bundles() {
  local f id
  mkdir -p "$1"
  sat outbox export "$1" >/dev/null
  for f in "$1"/*.bundle; do
    id=$(basename "$f" .bundle)
    [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$id" ] || bad "bundle $f is named by its SHA-256"
    grep -q "^upload $id\$" "$2" 2>/dev/null && continue
    echo "upload $id" >>"$2"
    cp "$f" "$work/bundles/"
    echo "bundle $work/bundles/$id.bundle" >>"$2"
  done
}
outbox_empty() { sat outbox | grep -qx 'outbox is empty'; }
only_draft() { local l; l=$(sat list); [ "$(wc -l <<<"$l")" -eq 1 ] && grep -q "^$1 " <<<"$l"; }
mkdir -p "$work/bundles"
scan_image() {  # SPEC [--expect-found ...]: runs the scanner on the unmounted image
  local spec=$1 rc=0 t0
  shift
  t0=$(date +%s%N)
  "$scan" "$@" "$spec" "$img" >"$spec.out" 2>&1 || rc=$?
  sed 's/^/    /' "$spec.out"
  echo "    (scanner exit $rc after $((($(date +%s%N) - t0) / 1000000)) ms)"
  return "$rc"
}

# ---- MAIN run ----------------------------------------------------------------------------------
echo "# main run"
new_image main
spec="$work/main.spec"
install -m 600 /dev/null "$spec"
pass1="harbor quill tangerine osprey velvet lattice"
pass2="copper meadow lantern fjord saffron quiver"
pass=$pass1
new_device main
{
  echo "passphrase old $pass1"
  echo "passphrase current $pass2"
  echo "canary form $form_canary"
} >>"$spec"
# Round 1: three drafts; two finalized (one with a document), one left as the live draft.
f1="FINALIZED-CANARY-$(rand)-R1"; f1a="FINALIZED-CANARY-$(rand)-A1"
f2="FINALIZED-CANARY-$(rand)-R2"
live="LIVE-DRAFT-CANARY-$(rand)-L1"; live_a="LIVE-DRAFT-CANARY-$(rand)-LA"
r1=$(draft r1 "$f1" "$f1a")
r2=$(draft r2 "$f2")
rl=$(draft rl "$live" "$live_a")
sat finalize "$r1" >/dev/null
sat finalize "$r2" >/dev/null
export_bundles "$work/usb-main" "$spec"
out=$(sat sync)
check "main: sync stores and deletes both bundles" grep -q '^sync: 2 stored, 2 deleted' <<<"$out"
# Round 2: one more, finalized and sent; then the passphrase changes and the database is rekeyed.
f3="FINALIZED-CANARY-$(rand)-R3"
r3=$(draft r3 "$f3")
sat finalize "$r3" >/dev/null
export_bundles "$work/usb-main" "$spec"
out=$(sat sync)
check "main: sync stores and deletes the third bundle" grep -q '^sync: 1 stored, 1 deleted' <<<"$out"
check "main: the outbox is empty" outbox_empty
change_passphrase "$pass2"
sat rekey >/dev/null
# Round 3, after the rekey: one more, with a document, finalized and sent, so that the current
# database's journal and free pages hold a finalized record's rows under the key the scan finds.
f4="FINALIZED-CANARY-$(rand)-R4"; f4a="FINALIZED-CANARY-$(rand)-A4"
r4=$(draft r4 "$f4" "$f4a")
sat finalize "$r4" >/dev/null
export_bundles "$work/usb-main" "$spec"
out=$(sat sync)
check "main: sync stores and deletes the fourth bundle" grep -q '^sync: 1 stored, 1 deleted' <<<"$out"
check "main: the outbox is empty at the end" outbox_empty
check "main: only the live draft remains" only_draft "$rl"
[ -e "$mnt/fieldnotes/keyring" ] && profile_version=v2 || profile_version=v1
echo "# profile files ($profile_version): $(cd "$mnt/fieldnotes" && stat -c '%n %s' -- * | tr '\n' ' ')"
{
  for c in "$f1" "$f1a" "$f2" "$f3" "$f4" "$f4a"; do echo "canary finalized $c"; done
  echo "canary live $live"
  echo "canary live-attachment $live_a"
  for r in "$r1" "$r2" "$r3" "$r4"; do echo "record finalized $r"; done
  echo "record live $rl"
  echo "expect opens 1"
  echo "expect record-keys 1"
  echo "expect journal-pages"
} >>"$spec"
unmount_image
if scan_image "$spec"; then
  ok "main ($profile_version): a raw scan with every passphrase finds nothing of finalized records or sent bundles"
else
  bad "main ($profile_version): the raw scan found what it must not, or missed a positive control (see above)"
fi

# ---- CONTROL run: the same session with deliberate residue ------------------------------------
echo "# control run"
new_image control
spec="$work/control.spec"
install -m 600 /dev/null "$spec"
pass=$pass1
new_device control
c1="FINALIZED-CANARY-$(rand)-C1"; c1a="FINALIZED-CANARY-$(rand)-CA"
clive="LIVE-DRAFT-CANARY-$(rand)-CL"
k1=$(draft k1 "$c1" "$c1a")
kl=$(draft kl "$clive")
# backup SUFFIX: a copy of the profile's files, as a careless backup would make it, written out to
# the disk (ext4's delayed allocation never writes a file unlinked within seconds: sync, as time
# would). The pool is left out: what the scan reads of attachments and bundles comes from the
# profile's own pool, whose freed cells are reused, never erased.
backup() {
  local f
  for f in keyslots keyring wipe.key data.db data.db-wal data.db-journal; do
    if [ -e "$mnt/fieldnotes/$f" ]; then cp "$mnt/fieldnotes/$f" "$mnt/fieldnotes/$f.$1"; fi
  done
  sync
}
backup bak1  # holds the draft's key
sat finalize "$k1" >/dev/null
backup bak2  # holds the outbox entry's key
# An export into a folder on the same disk, later removed.
export_bundles "$mnt/usb" "$spec"
out=$(sat sync)
check "control: sync stores and deletes the bundle" grep -q '^sync: 1 stored, 1 deleted' <<<"$out"
change_passphrase "$pass2"
rm "$mnt/fieldnotes/"*.bak1 "$mnt/fieldnotes/"*.bak2
rm -r "$mnt/usb"
{
  echo "passphrase old $pass1"
  echo "passphrase current $pass2"
  echo "canary form $form_canary"
  echo "canary finalized $c1"
  echo "canary finalized $c1a"
  echo "canary live $clive"
  echo "record finalized $k1"
  echo "record live $kl"
  echo "expect journal-pages"
} >>"$spec"
unmount_image
residue="old keyslot, finalized key, canary and attachment, bundle bytes raw and in the pool"
if scan_image "$spec" --expect-found \
  old-keyslot,finalized-key,finalized-blob,finalized-cell,bundle-cell,bundle-raw; then
  ok "control ($profile_version): the scanner finds the deliberate residue ($residue)"
else
  bad "control ($profile_version): the scanner missed residue that is on the disk (see above)"
fi

echo "block-forensics: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
