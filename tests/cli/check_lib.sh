# Sourced by the CLI test scripts: TAP-like checks that count passes and failures.
#   check WHAT CMD...          CMD must succeed
#   refuses WHAT FRAGMENT CMD... CMD must fail with FRAGMENT in its output
#   pub KEYFILE                the public key from a `satchel keygen` file's comment line
fails=0
passes=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok - $what"; passes=$((passes + 1)); else echo "FAIL - $what"; fails=$((fails + 1)); fi
}
refuses() {
  local what=$1 frag=$2; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] && grep -qF -- "$frag" <<<"$out"; then echo "ok - $what"; passes=$((passes + 1))
  else echo "FAIL - $what (rc=$rc): $out"; fails=$((fails + 1)); fi
}
pub() { sed -n 's/^# public key: //p' "$1"; }
