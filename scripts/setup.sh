#!/usr/bin/env bash
# Installs what Satchel needs to build and test on Debian 12 or 13. Idempotent: a second run installs
# nothing and changes nothing. Runs apt as root, or through sudo.
#
# On Debian 12, SQLCipher 4 and Catch2 3 come from bookworm-backports. We enable it by reusing the
# mirror URI that the machine's apt sources already name (one-line sources.list or deb822 .sources),
# so no host name is ever written into this repository.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

. /etc/os-release
codename=${VERSION_CODENAME:-}
case "$codename" in
  bookworm|trixie) ;;
  *) echo "setup.sh: Debian 12 (bookworm) or 13 (trixie) expected, found '${PRETTY_NAME:-unknown}'" >&2
     exit 1 ;;
esac

# Packages every tier needs. Those marked (bpo) on bookworm come from backports.
base_pkgs=(
  build-essential cmake pkg-config git ca-certificates python3
  libsodium-dev libssl-dev libcpp-httplib-dev
  libbenchmark-dev nlohmann-json3-dev libcli11-dev libzxcvbn-dev diceware
  libqrencode-dev libpng-dev  # an invite's QR code (satchel coord invite, --png)
  clang-14 libfuzzer-14-dev libclang-rt-14-dev llvm-14
  age time
  nginx-light wrk fiu-utils openssl curl nodejs
  python3-cryptography  # Ed25519 coordinator challenge in tests/relay/test_nginx_topology.sh
  python3-pandas        # tests/cli/test_cli_coord.sh reads exports as an analyst would
  zbar-tools            # decodes those QR codes back in tests/client/test_qr_code.cpp
)
bpo_pkgs=(libsqlcipher-dev libcatch2-dev)

missing=()
for p in "${base_pkgs[@]}" "${bpo_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
# npm ships inside some nodejs builds (NodeSource) and conflicts with Debian's npm there.
command -v npm >/dev/null || missing+=(npm)

# Finds the URI of the main Debian archive in the configured apt sources (not the security one).
debian_mirror_uri() {
  local f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1=="deb" && $0 ~ /[[:space:]]'"$codename"'([[:space:]]|$)/ && $0 !~ /security/ {
                for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: paragraphs separated by blank lines; pick one whose Suites name our codename.
    uri=$(awk -v c="$codename" 'BEGIN { RS=""; FS="\n" }
      {
        u = ""; s = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { u = $i; sub(/^URIs:[[:space:]]*/, "", u); split(u, a, /[[:space:]]+/); u = a[1] }
          if ($i ~ /^Suites:/) { s = $i }
        }
        if (u != "" && u !~ /security/ && s ~ ("[[:space:]]" c "([[:space:]]|$)")) { print u; exit }
      }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  return 1
}

bpo_file=/etc/apt/sources.list.d/satchel-bookworm-backports.sources
enable_backports() {
  [ "$codename" = bookworm ] || return 0
  if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  local uri
  uri=$(debian_mirror_uri) || {
    echo "setup.sh: no Debian archive for '$codename' found in the apt sources; cannot enable backports" >&2
    exit 1
  }
  echo "setup.sh: enabling bookworm-backports from the configured mirror"
  as_root tee "$bpo_file" >/dev/null <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
}

need_update=0
if [ ${#missing[@]} -gt 0 ]; then
  enable_backports
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  plain=() ; bpo=()
  for p in "${missing[@]}"; do
    if [[ " ${bpo_pkgs[*]} " == *" $p "* ]]; then bpo+=("$p"); else plain+=("$p"); fi
  done
  [ ${#plain[@]} -gt 0 ] && as_root apt-get install -y -qq --no-install-recommends "${plain[@]}"
  if [ ${#bpo[@]} -gt 0 ]; then
    if [ "$codename" = bookworm ]; then
      as_root apt-get install -y -qq --no-install-recommends -t bookworm-backports "${bpo[@]}"
    else
      as_root apt-get install -y -qq --no-install-recommends "${bpo[@]}"
    fi
  fi
fi

# libsodium must carry the CVE-2025-69277 fix; pkg-config only reports "1.0.18".
sodium_ver=$(dpkg-query -W -f='${Version}' libsodium-dev)
min_sodium=1.0.18-1+deb12u1
if ! dpkg --compare-versions "$sodium_ver" ge "$min_sodium"; then
  echo "setup.sh: libsodium-dev $sodium_ver lacks the CVE-2025-69277 fix (need >= $min_sodium); run apt-get upgrade" >&2
  exit 1
fi
sqlcipher_ver=$(dpkg-query -W -f='${Version}' libsqlcipher-dev)
if ! dpkg --compare-versions "$sqlcipher_ver" ge 4; then
  echo "setup.sh: libsqlcipher-dev $sqlcipher_ver is older than 4" >&2
  exit 1
fi
echo "setup.sh: dependencies present (libsodium $sodium_ver, sqlcipher $sqlcipher_ver)"
