#!/usr/bin/env bash
# Seals and opens one large random file with satchel and with age (3 recipients each), runs
# alternating with the anchor, and prints median wall times, their ratio, CPU time and peak RSS;
# --check enforces the targets in README.md.
#
# Usage: bench/compare-age.sh [--check] [MiB]
#   MiB            input size (default 256, or $COMPARE_AGE_MIB); 1024 for the memory target
#   --check        exit 1 if satchel is slower than the anchor or peaks above 64 MiB
# Environment: COMPARE_AGE_RUNS (default 3), SATCHEL (default build/bin/satchel), TMPDIR.
#
# satchel fsyncs what it writes and age does not, so the anchor is `age … && sync`, timed as one
# command: both then pay for putting the output on the disk.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
satchel=${SATCHEL:-$root/build/bin/satchel}
mib=${COMPARE_AGE_MIB:-256}
runs=${COMPARE_AGE_RUNS:-3}
check=0
min_ratio=1.0   # satchel's wall time at most the anchor's
max_rss_mib=64  # satchel's peak resident memory

die() {
  echo "compare-age.sh: $*" >&2
  exit 2
}

for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    -h | --help) sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *[!0-9]* | '') die "unknown argument '$arg' (usage: compare-age.sh [--check] [MiB])" ;;
    *) mib=$arg ;;
  esac
done
[[ $mib =~ ^[0-9]+$ && $mib -ge 1 ]] || die "size must be a whole number of MiB, got '$mib'"
[[ $runs =~ ^[0-9]+$ && $runs -ge 1 ]] || die "COMPARE_AGE_RUNS must be at least 1"

# GNU time reports peak RSS (%M); the shell keyword cannot. Debian installs it from `time`.
if [[ ! -x /usr/bin/time ]] || ! /usr/bin/time -f '%e' true >/dev/null 2>&1; then
  die "/usr/bin/time (GNU time) is missing: run scripts/setup.sh (or: apt-get install time)"
fi
if ! command -v age >/dev/null || ! command -v age-keygen >/dev/null; then
  die "age is missing: run scripts/setup.sh (or: apt-get install age)"
fi
[[ -x $satchel ]] || die "$satchel not found: build it with 'cmake -S . -B build && make -C build'"
"$satchel" bundle --help 2>&1 | grep -q 'seal' ||
  die "$satchel has no 'bundle seal' command yet: rebuild with 'make -C build satchel'"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/satchel-compare-age.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# run_once NAME OUT CMD...: one timed run of CMD (OUT removed first; dirty pages flushed outside
# the timing, so one run's writes are not billed to the next). Appends wall and user+sys seconds
# to walls[NAME] and cpus[NAME]; keeps the largest RSS in peak_kib[NAME].
declare -A walls cpus peak_kib
run_once() {
  local name=$1 out=$2
  shift 2
  local wall rss user sys
  rm -f "$out"
  sync
  /usr/bin/time -f '%e %M %U %S' -o "$tmp/time" "$@" >"$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; die "$name failed: $*"; }
  read -r wall rss user sys <"$tmp/time"
  walls[$name]+="$wall "
  cpus[$name]+="$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u + s}') "
  ((rss > ${peak_kib[$name]:-0})) && peak_kib[$name]=$rss
  return 0
}

# median LIST: the median of whitespace-separated decimal numbers (the mean of the middle two
# for an even count).
median() {
  tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# public_key KEYFILE KEYGEN_STDOUT: the "public key: ..." line of keygen, else the file's comment.
public_key() {
  local pub
  pub=$(sed -n 's/^public key: //p' <<<"$2" | head -n1)
  [[ -n $pub ]] || pub=$(sed -n '1s/^# public key: //p' "$1")
  [[ -n $pub ]] || die "no public key found for $1"
  echo "$pub"
}

echo "input: $mib MiB of random bytes in $tmp; median of $runs runs, satchel and anchor alternating"
head -c "$((mib * 1024 * 1024))" /dev/urandom >"$tmp/in"

# Keys: three coordinators and a device for satchel, three identities for age.
satchel_to=() age_to=()
for i in 1 2 3; do
  out=$("$satchel" keygen coordinator -o "$tmp/coord$i.key") || die "satchel keygen coordinator failed"
  satchel_to+=(--to "$(public_key "$tmp/coord$i.key" "$out")")
  age-keygen -o "$tmp/age$i.key" 2>/dev/null
  age_to+=(-r "$(age-keygen -y "$tmp/age$i.key")")
done
out=$("$satchel" keygen device -o "$tmp/device.key") || die "satchel keygen device failed"

satchel_seal=("$satchel" bundle seal --from "$tmp/device.key" "${satchel_to[@]}" "$tmp/in"
  "$tmp/s.sealed")
satchel_open=("$satchel" bundle open --key "$tmp/coord3.key" "$tmp/s.sealed" "$tmp/s.opened")
# shellcheck disable=SC2016  # $0.. are the inner shell's arguments
age_seal=(sh -c 'age "$@" && sync' age "${age_to[@]}" -o "$tmp/a.sealed" "$tmp/in")
# shellcheck disable=SC2016
age_open=(sh -c 'age "$@" && sync' age -d -i "$tmp/age3.key" -o "$tmp/a.opened" "$tmp/a.sealed")
# The exact command lines timed, quoted for a shell.
show() { printf '%s' "$1"; shift; printf ' %q' "$@"; echo; }
show "satchel seal:" "${satchel_seal[@]}"
show "satchel open:" "${satchel_open[@]}"
show "anchor seal: " "${age_seal[@]}"
show "anchor open: " "${age_open[@]}"

for ((i = 0; i < runs; i++)); do
  run_once satchel_seal "$tmp/s.sealed" "${satchel_seal[@]}"
  run_once age_seal "$tmp/a.sealed" "${age_seal[@]}"
done
for ((i = 0; i < runs; i++)); do
  run_once satchel_open "$tmp/s.opened" "${satchel_open[@]}"
  run_once age_open "$tmp/a.opened" "${age_open[@]}"
done
cmp -s "$tmp/in" "$tmp/s.opened" || die "satchel: opened file differs from the input"
cmp -s "$tmp/in" "$tmp/a.opened" || die "age: opened file differs from the input"
echo "both opened files equal the input"
echo

# Ratio = anchor wall time / satchel wall time: satchel's speed relative to `age && sync`
# (1.0 = as fast, > 1 faster). CPU is user + system time, the medians of the same runs.
failures=()
printf '%-6s %10s %10s %7s %12s %12s %12s %12s\n' op 'satchel s' 'anchor s' ratio \
  'satchel cpu' 'anchor cpu' 'satchel MiB' 'anchor MiB'
for op in seal open; do
  s=$(median "${walls[satchel_$op]}") a=$(median "${walls[age_$op]}")
  sc=$(median "${cpus[satchel_$op]}") ac=$(median "${cpus[age_$op]}")
  read -r ratio s_mib a_mib slow big <<<"$(awk -v s="$s" -v a="$a" -v sm="${peak_kib[satchel_$op]}" \
    -v am="${peak_kib[age_$op]}" -v r="$min_ratio" -v m="$max_rss_mib" 'BEGIN {
      timed = s > 0 && a > 0  # %e has 10 ms steps: too small an input is not timed at all
      ratio = timed ? sprintf("%.2f", a / s) : "n/a"
      printf "%s %.1f %.1f %d %d\n", ratio, sm / 1024, am / 1024, (timed && a / s < r), (sm > m * 1024)
    }')"
  [[ -n $big ]] || die "could not compute the $op row"
  printf '%-6s %10s %10s %7s %12s %12s %12s %12s\n' "$op" "$s" "$a" "$ratio" "$sc" "$ac" \
    "$s_mib" "$a_mib"
  ((slow)) && failures+=("$op: satchel at $ratio of the anchor's speed (target >= $min_ratio)")
  ((big)) && failures+=("$op: satchel peak $s_mib MiB (target <= $max_rss_mib MiB)")
done
for op in seal open; do
  printf 'runs (wall s) %s: satchel %s| anchor %s\n' "$op" "${walls[satchel_$op]}" "${walls[age_$op]}"
done

if ((check)); then
  echo
  if ((${#failures[@]})); then
    printf 'check: FAIL: %s\n' "${failures[@]}"
    exit 1
  fi
  echo "check: ok (wall time <= the anchor's, satchel peak <= $max_rss_mib MiB)"
fi
