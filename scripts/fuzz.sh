#!/usr/bin/env bash
# Builds one libFuzzer target in build-fuzz/ (clang++-14, SATCHEL_FUZZ=ON) and runs it for a
# while on the committed seeds and the test vectors (schema/forms for fuzz_form_parse), with the
# target's dictionary when it has one. Exits non-zero if the fuzzer finds a crash.
#
#   scripts/fuzz.sh TARGET [SECONDS] [libFuzzer flags...]
#   scripts/fuzz.sh fuzz_bundle_open 60
#
# New corpus entries go to build-fuzz/corpus/TARGET, crashes to build-fuzz/crashes/TARGET/.
# Replay one input: build-fuzz/bin/TARGET FILE
set -euo pipefail

targets="fuzz_bundle_open fuzz_trust_documents fuzz_key_text fuzz_form_parse"
targets+=" fuzz_relay_headers fuzz_relay_config"
if [[ $# -lt 1 || " $targets " != *" $1 "* ]]; then
  echo "usage: $0 TARGET [SECONDS] [libFuzzer flags...]   (TARGET: ${targets// /, })" >&2
  exit 2
fi
target=$1
seconds=${2:-60}
shift $(($# < 2 ? $# : 2))
if [[ ! $seconds =~ ^[0-9]+$ ]]; then
  echo "$0: SECONDS must be a whole number, not '$seconds'" >&2
  exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-fuzz
cmake -S "$root" -B "$build" -DSATCHEL_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
cmake --build "$build" --target "$target" -j"$(nproc)"

case $target in
  fuzz_bundle_open) vectors=$root/tests/vectors/bundle ;;
  fuzz_trust_documents) vectors=$root/tests/vectors/docs ;;
  fuzz_form_parse) vectors=$root/schema/forms ;;
  *) vectors= ;;
esac
extra_seeds=()
if [[ -n $vectors && -d $vectors ]]; then extra_seeds+=("$vectors"); fi
dict=()
if [[ -f $root/tests/fuzz/$target.dict ]]; then dict=(-dict="$root/tests/fuzz/$target.dict"); fi

# $target.seeds, written by the configure step above, lists the committed seeds without the open
# findings (crash-*), which would stop the run before it starts.
exec "$build/bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -create_missing_dirs=1 -artifact_prefix="$build/crashes/$target/" \
  -seed_inputs=@"$build/tests/fuzz/$target.seeds" "${dict[@]}" "$@" \
  "$build/corpus/$target" "${extra_seeds[@]}"
