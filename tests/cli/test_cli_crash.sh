#!/usr/bin/env bash
# SIGKILL at random moments during attach, finalize, passphrase change and rekey: the profile
# always opens afterwards (with the old or the new passphrase, never neither), nothing finalized
# is lost or duplicated, no half-made file is left once the profile has been opened again, and the
# keyring holds exactly the keys its rows name.
# Usage: test_cli_crash.sh BIN_DIR SCHEMA_DIR   (SATCHEL_TEST_TIER=full: more rounds)
set -euo pipefail
bin=$(cd "$1" && pwd)
schema=$(cd "$2" && pwd)
satchel="$bin/satchel"
work=$(mktemp -d "${TMPDIR:-/tmp}/satchel-cli-crash.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
rounds=4
[ "${SATCHEL_TEST_TIER:-plain}" = full ] && rounds=20
fails=0
passes=0
ok() { echo "ok - $1"; passes=$((passes + 1)); }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
pub() { sed -n 's/^# public key: //p' "$1"; }
pass="fjord lantern cobalt meadow quiver saffron"
sat() { "$satchel" --home "$work/home" --passphrase-fd 3 "$@" 3<<<"$pass"; }
# killed MS CMD...: runs CMD in the background and kills it with SIGKILL after a random 0..MS
# milliseconds (it may finish first). The passphrase comes from a file, so the killed process
# holds no pipe of ours.
killed() {
  local ms=$1; shift
  "$@" &
  local pid=$!
  local t=$((RANDOM % ms))
  sleep "$((t / 1000)).$(printf '%03d' $((t % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
count_drafts() { sat list | grep -c '^[0-9a-f]\{32\}' || true; }
count_outbox() { sat outbox | grep -c ' bytes ' || true; }
no_leftovers() {  # after an open, nothing half-made remains
  ! ls home | grep -q -e '\.new' -e '\.tmp' -e 'wipe.key' -e '-wal$' -e '-shm$'
}

"$satchel" keygen org -o org.key >/dev/null 2>&1
"$satchel" keygen coordinator -o a.key >/dev/null
pin=$(printf '%064d' 1); backup=$(printf '%064d' 2)
"$satchel" org roster --org-name "Example Rights Network" --org-key org.key --version 1 --coordinator "A=$(pub a.key)" --slots 2 \
  --relay https://relay.example.org --pin "$pin" --backup-pin "$backup" -o r1.txt >/dev/null
sat init --kdf-passes 2 --kdf-memory 64 >/dev/null
fp=$("$satchel" fingerprint "$(pub org.key)" | sed -n 's/^fingerprint: //p')
sat trust org "$(pub org.key)" --confirm "$fp" >/dev/null
sat roster add r1.txt >/dev/null
"$satchel" org form --org-key org.key "$schema/forms/testimony-intake.json" -o t.signed >/dev/null
sat form add t.signed >/dev/null
q=$(python3 -c "import json,sys; f=json.load(open(sys.argv[1])); print(next(q['id'] for q in f['questions'] if q['type']=='attachment'))" "$schema/forms/testimony-intake.json")
head -c $((24 * 1024 * 1024)) /dev/urandom >video.mp4

for ((i = 0; i < rounds; i++)); do
  rid=$(sat record testimony-intake --answers "$schema/forms/testimony-intake.answers.json")
  # attach, killed: the attachment is there whole or not at all.
  printf '%s\n' "$pass" >pass.txt
  killed 1500 sh -c "exec '$satchel' --home '$work/home' --passphrase-fd 3 attach '$rid' --name video.mp4 --kind document --question '$q' <video.mp4 3<pass.txt >/dev/null 2>&1"
  shown=$(sat show "$rid" 2>&1 | grep -c 'video.mp4' || true)
  if sat show "$rid" >/dev/null 2>&1 && [ "$shown" -le 1 ]; then ok "round $i: attach killed: the draft opens, the attachment whole or absent ($shown)"
  else bad "round $i: attach killed: draft damaged"; fi
  # finalize, killed: the draft is still there, or it is in the outbox: exactly one.
  drafts=$(count_drafts); outbox=$(count_outbox)
  killed 1500 sh -c "exec '$satchel' --home '$work/home' --passphrase-fd 3 finalize '$rid' 3<pass.txt >/dev/null 2>&1"
  d=$(count_drafts); o=$(count_outbox)
  if [ $((d + o)) -eq $((drafts + outbox)) ] && { [ "$d" -eq "$drafts" ] || [ "$d" -eq $((drafts - 1)) ]; }; then
    ok "round $i: finalize killed: the record is a draft or in the outbox, once ($d drafts, $o sealed)"
  else bad "round $i: finalize killed: $drafts/$outbox became $d/$o"; fi
  # passphrase change, killed: exactly one of the two passphrases opens.
  new="$pass $i"
  printf '%s\n%s\n' "$pass" "$new" >change.txt
  killed 600 sh -c "exec '$satchel' --home '$work/home' --passphrase-fd 3 passphrase 3<change.txt >/dev/null 2>&1"
  old_opens=0; new_opens=0
  "$satchel" --home home --passphrase-fd 3 list 3<<<"$pass" >/dev/null 2>&1 && old_opens=1
  "$satchel" --home home --passphrase-fd 3 list 3<<<"$new" >/dev/null 2>&1 && new_opens=1
  if [ $((old_opens + new_opens)) -eq 1 ]; then ok "round $i: passphrase change killed: one passphrase opens (new: $new_opens)"
  else bad "round $i: passphrase change killed: old $old_opens, new $new_opens"; fi
  [ "$new_opens" -eq 1 ] && pass=$new
  # rekey, killed: the profile opens with its contents and nothing half-made stays.
  drafts=$(count_drafts); outbox=$(count_outbox)
  printf '%s\n' "$pass" >pass.txt
  killed 800 sh -c "exec '$satchel' --home '$work/home' --passphrase-fd 3 rekey 3<pass.txt >/dev/null 2>&1"
  if [ "$(count_drafts)" -eq "$drafts" ] && [ "$(count_outbox)" -eq "$outbox" ] && no_leftovers; then
    ok "round $i: rekey killed: contents intact, no leftover file"
  else bad "round $i: rekey killed: $drafts/$outbox became $(count_drafts)/$(count_outbox); $(ls home | tr '\n' ' ')"; fi
done
# Every key in the keyring is named by a row: a fresh open destroyed the rest. The outbox
# still reads every bundle whole.
mkdir exported
sat outbox export exported >/dev/null
n=$(ls exported | wc -l)
if [ "$n" -eq "$(count_outbox)" ]; then ok "every sealed bundle reads back after the kills ($n)"
else bad "exported $n of $(count_outbox) bundles"; fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
