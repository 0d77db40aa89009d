#!/usr/bin/env bash
# Seals and opens one large random file with satchel and with age (3 recipients each), and
# prints best-of-N times, their ratio and peak RSS; --check enforces the targets in README.md.
#
# Usage: bench/compare-age.sh [--check] [MiB]
#   MiB            input size (default 256, or $COMPARE_AGE_MIB); 1024 for the memory target
#   --check        exit 1 if satchel is below half of age's speed or peaks above 64 MiB
# Environment: COMPARE_AGE_RUNS (default 3), SATCHEL (default build/bin/satchel), TMPDIR.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
satchel=${SATCHEL:-$root/build/bin/satchel}
mib=${COMPARE_AGE_MIB:-256}
runs=${COMPARE_AGE_RUNS:-3}
check=0
min_ratio=0.5   # satchel at least half of age's speed
max_rss_mib=64  # satchel's peak resident memory

die() {
  echo "compare-age.sh: $*" >&2
  exit 2
}

for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    -h | --help) sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
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

# measure NAME OUT CMD...: runs CMD $runs times (OUT removed before each run, dirty pages flushed
# outside the timing so one run's fsync does not pay for another's writes). Sets best_s[NAME] to
# the fastest wall time, cpu_s[NAME] to the least user+sys time, peak_kib[NAME] to the largest RSS.
declare -A best_s cpu_s peak_kib
measure() {
  local name=$1 out=$2
  shift 2
  local i wall rss user sys
  for ((i = 0; i < runs; i++)); do
    rm -f "$out"
    sync
    /usr/bin/time -f '%e %M %U %S' -o "$tmp/time" "$@" >"$tmp/log" 2>&1 ||
      { cat "$tmp/log" >&2; die "$name failed: $*"; }
    read -r wall rss user sys <"$tmp/time"
    best_s[$name]=$(min "$wall" "${best_s[$name]:-}")
    cpu_s[$name]=$(min "$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u + s}')" \
      "${cpu_s[$name]:-}")
    ((rss > ${peak_kib[$name]:-0})) && peak_kib[$name]=$rss
  done
  return 0
}

# min A [B]: the smaller of two decimal numbers; B may be empty.
min() { awk -v a="$1" -v b="${2:-}" 'BEGIN{print (b == "" || a + 0 < b + 0) ? a : b}'; }

# public_key KEYFILE KEYGEN_STDOUT: the "public key: ..." line of keygen, else the file's comment.
public_key() {
  local pub
  pub=$(sed -n 's/^public key: //p' <<<"$2" | head -n1)
  [[ -n $pub ]] || pub=$(sed -n '1s/^# public key: //p' "$1")
  [[ -n $pub ]] || die "no public key found for $1"
  echo "$pub"
}

echo "input: $mib MiB of random bytes in $tmp; best of $runs runs"
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

# Each tool: seal, open, compare, then drop its files so at most three copies exist at once.
measure satchel_seal "$tmp/sealed" \
  "$satchel" bundle seal --from "$tmp/device.key" "${satchel_to[@]}" "$tmp/in" "$tmp/sealed"
measure satchel_open "$tmp/opened" \
  "$satchel" bundle open --key "$tmp/coord3.key" "$tmp/sealed" "$tmp/opened"
cmp -s "$tmp/in" "$tmp/opened" || die "satchel: opened file differs from the input"
rm -f "$tmp/sealed" "$tmp/opened"

measure age_seal "$tmp/sealed" age "${age_to[@]}" -o "$tmp/sealed" "$tmp/in"
measure age_open "$tmp/opened" age -d -i "$tmp/age3.key" -o "$tmp/opened" "$tmp/sealed"
cmp -s "$tmp/in" "$tmp/opened" || die "age: opened file differs from the input"
rm -f "$tmp/sealed" "$tmp/opened"
echo "both opened files equal the input"
echo

# Ratio = age time / satchel time: satchel's speed relative to age (1.0 = as fast, >1 faster).
failures=()
printf '%-10s %12s %10s %8s %14s %10s\n' operation 'satchel s' 'age s' ratio 'satchel MiB' 'age MiB'
for op in seal open; do
  s=${best_s[satchel_$op]} a=${best_s[age_$op]}
  read -r ratio s_mib a_mib slow big <<<"$(awk -v s="$s" -v a="$a" -v sm="${peak_kib[satchel_$op]}" \
    -v am="${peak_kib[age_$op]}" -v r="$min_ratio" -v m="$max_rss_mib" 'BEGIN {
      timed = s > 0 && a > 0  # %e has 10 ms steps: too small an input is not timed at all
      ratio = timed ? sprintf("%.2f", a / s) : "n/a"
      printf "%s %.1f %.1f %d %d\n", ratio, sm / 1024, am / 1024, (timed && a / s < r), (sm > m * 1024)
    }')"
  [[ -n $big ]] || die "could not compute the $op row"
  printf '%-10s %12s %10s %8s %14s %10s\n' "$op" "$s" "$a" "$ratio" "$s_mib" "$a_mib"
  ((slow)) && failures+=("$op: satchel at $ratio of age's speed (target >= $min_ratio)")
  ((big)) && failures+=("$op: satchel peak $s_mib MiB (target <= $max_rss_mib MiB)")
done
# satchel fsyncs what it writes and age does not: CPU time shows the gap without the disk.
printf 'cpu (user+sys) s: satchel seal %s, open %s; age seal %s, open %s\n' \
  "${cpu_s[satchel_seal]}" "${cpu_s[satchel_open]}" "${cpu_s[age_seal]}" "${cpu_s[age_open]}"

if ((check)); then
  echo
  if ((${#failures[@]})); then
    printf 'check: FAIL: %s\n' "${failures[@]}"
    exit 1
  fi
  echo "check: ok (speed >= $min_ratio of age's, satchel peak <= $max_rss_mib MiB)"
fi
