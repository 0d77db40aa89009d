#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds, and runs the test suite through ctest.
#   scripts/test.sh             the plain suite (scaled-down counts)
#   scripts/test.sh --sanitize  the same suite under ASan+UBSan, then every fuzz target for 60 s
#   scripts/test.sh --full      the plain suite with the long tiers (full counts, longer fuzzing)
# Exit status is the verdict.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=plain
case "${1:-}" in
  "") ;;
  --sanitize) mode=sanitize ;;
  --full) mode=full ;;
  *) echo "usage: scripts/test.sh [--sanitize|--full]" >&2; exit 2 ;;
esac

bash scripts/setup.sh
# tus-js-client, the stock tus client the relay tests upload with (pinned by package-lock.json).
[ -d tests/relay/tus_js_client/node_modules/tus-js-client ] ||
  npm ci --prefix tests/relay/tus_js_client --no-audit --no-fund --loglevel=error
jobs=$(nproc)

run_suite() {  # build dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" ${SATCHEL_CTEST_ARGS:-}
}

case "$mode" in
  plain)
    SATCHEL_TEST_TIER=plain run_suite build
    ;;
  full)
    export SATCHEL_TEST_TIER=full
    run_suite build
    cmake -S . -B build-fuzz -DSATCHEL_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 \
      -DSATCHEL_FUZZ_SECONDS="${SATCHEL_FUZZ_SECONDS:-600}" >/dev/null
    cmake --build build-fuzz -j "$jobs"
    ctest --test-dir build-fuzz --output-on-failure -j "$jobs"
    ;;
  sanitize)
    # fiu's preload library cannot run under ASan: those tests carry the label "fiu" and stay
    # in the plain tier.
    SATCHEL_TEST_TIER=plain SATCHEL_CTEST_ARGS="-LE fiu" run_suite build-asan -DSATCHEL_SANITIZE=ON \
      -DSATCHEL_BUILD_BENCH=OFF
    cmake -S . -B build-fuzz -DSATCHEL_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 \
      -DSATCHEL_FUZZ_SECONDS="${SATCHEL_FUZZ_SECONDS:-60}" >/dev/null
    cmake --build build-fuzz -j "$jobs"
    ctest --test-dir build-fuzz --output-on-failure -j "$jobs"
    ;;
esac
