#!/usr/bin/env bash
# Relay ingest against nginx, in the same run (bench/README.md, "relay_ingest.sh").
#
# 32 concurrent TLS 1.3 clients (wrk, bench/relay_ingest.lua) upload distinct pre-sealed
# bundles of 64 KiB and of 4 MiB, each exactly once:
#   - to satchel-relay in direct TLS mode, as one-request tus creations (POST /v1/uploads with
#     the whole body): answered 201 only once the bundle is verified and durable (64 KiB: its
#     bytes written into a pack file, fsync of the pack for the group of requests committing
#     together, then their SQLite commit with synchronous=FULL; 4 MiB: fsync of its own file
#     and directory, then that commit);
#   - to nginx, as WebDAV PUTs of the same bodies over TLS 1.3 (nginx writes a temporary file
#     and renames it: no fsync, so the anchor is not durable and the comparison favours it).
# Prints requests/s for both and their ratio (target: relay >= 0.5 x nginx), and, for scale, the
# rate of plain durable file writes of the same bodies on the same disk.
#
# Usage: bench/relay_ingest.sh [SMALL_COUNT [LARGE_COUNT]]   (defaults 6000 and 300)
# Environment: BUILD (build directory with bin/satchel-relay and bin/satchel; default build),
#   BENCH_DIR (work directory, default ${TMPDIR:-/tmp}/satchel-relay-bench; the sealed bundles
#   are kept there and reused by later runs), CONNECTIONS (32; wrk runs one thread each).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${BUILD:-$root/build}" && pwd)  # absolute: the runs happen in a work directory
relay=$build/bin/satchel-relay
satchel=$build/bin/satchel
small_count=${1:-6000}
large_count=${2:-300}
connections=${CONNECTIONS:-32}
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/satchel-relay-bench}
nginx=$(command -v nginx || echo /usr/sbin/nginx)
for tool in "$relay" "$satchel" "$nginx" "$(command -v wrk || echo wrk)"; do
  [ -x "$tool" ] || { echo "relay_ingest.sh: $tool is missing (build, or apt-get install)" >&2; exit 1; }
done

# --- Distinct sealed bundles, made once with `satchel bundle seal` and kept in $dir/bundles ---
# Each seal draws fresh ephemeral keys, so sealing one input N times gives N distinct bundles.
mkdir -p "$dir/bundles"
dir=$(cd "$dir" && pwd)
keys=$dir/bundles/keys
if [ ! -f "$keys/device.key" ]; then
  mkdir -p "$keys"
  "$satchel" keygen device -o "$keys/device.key" >/dev/null
  "$satchel" keygen coordinator -o "$keys/coordinator.key" >/dev/null
fi
coordpub=$(sed -n 's/^# public key: //p' "$keys/coordinator.key")
seal() { "$satchel" bundle seal --to "$coordpub" --from "$keys/device.key" "$@" >/dev/null; }

make_bundles() {  # NAME PLAINTEXT_BYTES COUNT: COUNT bundles sealing that much, and their list
  local name=$1 plain=$2 count=$3 out=$dir/bundles/$1 have
  mkdir -p "$out"
  have=$(find "$out" -name '*.bundle' | wc -l)
  if [ "$have" -lt "$count" ]; then
    [ -f "$out/input" ] || head -c "$plain" /dev/urandom >"$out/input"
    echo "sealing $((count - have)) bundles of $name with satchel bundle seal..." >&2
    seq -f '%06g' $((have + 1)) "$count" |
      xargs -P 2 -I{} "$satchel" bundle seal --to "$coordpub" --from "$keys/device.key" \
        "$out/input" "$out/{}.bundle" >/dev/null
  fi
  # "path size sha256 base64(sha256 hex)" for the first COUNT bundles.
  find "$out" -name '*.bundle' | sort | awk -v n="$count" 'NR <= n' | xargs sha256sum |
    python3 -c '
import base64, os, sys
for line in sys.stdin:
    sha, path = line.split()
    print(path, os.path.getsize(path), sha, base64.b64encode(sha.encode()).decode())
' >"$out/list"
}
# Bundle sizes are Padme-padded (schema/bundle-format.md): 64 KiB and 4 MiB of plaintext seal
# to bundles slightly larger; the table below prints the exact size.
make_bundles 64KiB 65536 "$small_count"
make_bundles 4MiB 4194304 "$large_count"

# --- A quiet file system ---------------------------------------------------------------------
# ext4 without a journal (this machine's) skips inodes freed in the last 60 to 300 s when it
# allocates new ones (fs/ext4/ialloc.c, recently_deleted), so after a large deletion every file
# creation is slower for minutes: nginx's PUTs and the fsync anchor create a file per upload;
# the relay's 64 KiB uploads do not (their bytes go to a pack file). Measured: nginx 5,500 req/s
# on a quiet disk, 2,300 right after the previous run's clean-up. A run therefore starts once
# QUIET_SECONDS (default 300) have passed since the previous one removed its files; deletions
# by other programs are not detected.
quiet=${QUIET_SECONDS:-300}
stamp=$dir/last-cleanup
if [ -f "$stamp" ]; then
  wait_s=$(($(stat -c %Y "$stamp") + quiet - $(date +%s)))
  if [ "$wait_s" -gt 0 ]; then
    echo "waiting ${wait_s} s for the file system to be quiet (QUIET_SECONDS=$quiet)..." >&2
    sleep "$wait_s"
  fi
fi

# --- A fresh relay (direct TLS) and a fresh nginx anchor ----------------------------------
. "$root/tests/support/relay_fixture.sh"  # in_work_dir, free_port
in_work_dir run "$dir"
run=$work
trap 'stop_work; touch "$stamp"' EXIT
relay_port=$(free_port)
nginx_port=$(free_port)

"$relay" init "$run/relay" --name 127.0.0.1 --listen "127.0.0.1:$relay_port" >/dev/null
conf=$run/relay/relay.conf
# The bench tokens must not be throttled: raise the per-token limits far above what 32 clients
# can reach (no relay option exempts a token; these are ordinary settings).
sed -i -e 's/^health = .*/health = off/' \
       -e 's/^token_requests_per_minute = .*/token_requests_per_minute = 100000000/' \
       -e 's/^token_daily_bytes = .*/token_daily_bytes = 1T/' \
       -e 's/^mailbox_quota_bytes = .*/mailbox_quota_bytes = 1T/' "$conf"
"$satchel" keygen org -o "$run/org.key" >/dev/null 2>&1
"$satchel" org registration --org-key "$run/org.key" --version 1 --coordinator "$coordpub" \
  -o "$run/reg.txt" >/dev/null
"$relay" mailbox create --config "$conf" --registration "$run/reg.txt" >/dev/null
mailbox=$("$relay" mailbox list --config "$conf" | cut -d' ' -f1)
# One device (token) per connection: the relay gives each token only a share of its threads
# and upload slots (schema/relay-api.md, "Limits"), as 32 devices uploading at once would be.
codes=()
for _ in $(seq "$connections"); do
  codes+=("$("$relay" mailbox code --config "$conf" "$mailbox" | sed -n 's/^enrollment code: //p')")
done
"$relay" serve --config "$conf" 2>"$run/relay.log" &
relay_pid=$!
pids+=($relay_pid)

# The anchor: nginx 1.22 with the same certificate, TLS 1.3 only, WebDAV PUT into a directory on
# the same file system. keepalive_requests matches the relay's 100 requests per connection, so
# both make the same number of TLS handshakes.
mkdir -p "$run/nginx/www/dav" "$run/nginx/tmp"
cat >"$run/nginx/nginx.conf" <<EOF
user $(id -un) $(id -gn);
worker_processes auto;
pid $run/nginx/nginx.pid;
error_log $run/nginx/error.log error;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $run/nginx/www/.body;
    proxy_temp_path $run/nginx/tmp/proxy;
    fastcgi_temp_path $run/nginx/tmp/fastcgi;
    uwsgi_temp_path $run/nginx/tmp/uwsgi;
    scgi_temp_path $run/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$nginx_port ssl;
        ssl_certificate $run/relay/tls/cert.pem;
        ssl_certificate_key $run/relay/tls/key.pem;
        ssl_protocols TLSv1.3;
        ssl_session_tickets off;
        ssl_session_cache off;
        keepalive_requests 100;
        client_max_body_size 8m;
        client_body_buffer_size 128k;
        root $run/nginx/www;
        location /dav/ { dav_methods PUT; }
    }
}
EOF
"$nginx" -p "$run/nginx" -c "$run/nginx/nginx.conf" -g 'daemon off;' 2>"$run/nginx/stderr.log" &
pids+=($!)

ca=$run/relay/tls/cert.pem
for _ in $(seq 100); do
  curl -s --cacert "$ca" -o /dev/null "https://127.0.0.1:$relay_port/" &&
    curl -sk -o /dev/null "https://127.0.0.1:$nginx_port/" && break || sleep 0.1
done
tokens=""
for code in "${codes[@]}"; do
  tokens+=" $(curl -sf --cacert "$ca" "https://127.0.0.1:$relay_port/v1/enroll" \
    -H 'Content-Type: application/json' -d "{\"code\":\"$code\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
done

# --- The runs --------------------------------------------------------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system, in clock ticks
bench() {  # MODE PORT LIST -> the RESULT line of relay_ingest.lua (+ cpu_ms for the relay)
  local wrk_pid finished cpu0
  sync  # writes of the previous run are not billed to this one
  cpu0=$(cpu_ticks "$relay_pid")
  # wrk runs for its whole -d; the script reports when each connection's share is answered, and
  # SIGINT then ends wrk, which prints the summary (bench/relay_ingest.lua explains).
  BENCH_MODE=$1 BENCH_LIST=$3 BENCH_THREADS=$connections BENCH_TOKENS=$tokens \
    wrk -t "$connections" -c "$connections" -d 3600s --timeout 60s \
    -s "$root/bench/relay_ingest.lua" "https://127.0.0.1:$2/" >"$run/wrk.out" 2>&1 &
  wrk_pid=$!
  for _ in $(seq 6000); do  # at most 10 minutes
    finished=$(grep -c '^THREAD' "$run/wrk.out" 2>/dev/null) || true
    [ "${finished:-0}" -ge "$connections" ] && break
    kill -0 "$wrk_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -INT "$wrk_pid" 2>/dev/null || true
  wait "$wrk_pid" || true
  local line
  line=$(grep '^RESULT' "$run/wrk.out") || { cat "$run/wrk.out" >&2; line="RESULT mode=$1 failed"; }
  # The relay's CPU time (user + system) per upload during its run.
  [ "$1" = relay ] && line+=" cpu_ms=$(python3 -c 'import os, sys
print("%.2f" % ((int(sys.argv[2]) - int(sys.argv[1])) * 1000 / os.sysconf("SC_CLK_TCK") / int(sys.argv[3])))' \
    "$cpu0" "$(cpu_ticks "$relay_pid")" "$(wc -l <"$3")")"
  echo "$line"
}
# A second anchor, for scale: the same bodies written as durable files by 32 threads of plain
# Python (write, fsync, rename, fsync the directory; no network, no TLS, no metadata database).
# It shows how many durable file writes per second this disk allows.
fsync_files() {  # LIST -> a RESULT line
  sync
  python3 - "$1" "$run/fsync-$(basename "$(dirname "$1")")" "$connections" <<'EOF'
import os, sys, threading, time
paths = [line.split()[0] for line in open(sys.argv[1])]
out, n = sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
lock, next_index = threading.Lock(), [0]
def worker():
    while True:
        with lock:
            i = next_index[0]
            next_index[0] += 1
        if i >= len(paths):
            return
        data = open(paths[i], "rb").read()
        fd = os.open("%s/%d.part" % (out, i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename("%s/%d.part" % (out, i), "%s/%d" % (out, i))
        dfd = os.open(out, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
start = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(n)]
for t in threads: t.start()
for t in threads: t.join()
seconds = time.monotonic() - start
print("RESULT mode=fsync uploads=%d refused=0 seconds=%.3f rate=%.1f p50_ms=- p99_ms=-" %
      (len(paths), seconds, len(paths) / seconds))
EOF
  # (Kept until the run ends: removing them now would slow the next round's file creations.)
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
printf '\n%-7s %-6s %9s %8s %9s %8s %8s %8s\n' bundle server uploads seconds "req/s" "p50 ms" \
  "p99 ms" "CPU ms"
for size in 64KiB 4MiB; do
  list=$dir/bundles/$size/list
  count=$(wc -l <"$list")
  r=$(bench relay "$relay_port" "$list")
  n=$(bench nginx "$nginx_port" "$list")
  f=$(fsync_files "$list")
  for line in "$r" "$n" "$f"; do
    printf '%-7s %-6s %9s %8s %9s %8s %8s %8s\n' "$(head -1 "$list" | cut -d' ' -f2)" \
      "$(field mode "$line")" \
      "$(field uploads "$line")" "$(field seconds "$line")" "$(field rate "$line")" \
      "$(field p50_ms "$line")" "$(field p99_ms "$line")" "$(field cpu_ms "$line")"
    [ "$(field uploads "$line")" = "$count" ] && [ "$(field refused "$line")" = 0 ] ||
      echo "warning: $(field mode "$line") stored $(field uploads "$line") of $count," \
        "refused $(field refused "$line")"
  done
  python3 -c "import sys; print('%s: relay/nginx = %.2f' % (sys.argv[1], float(sys.argv[2]) / float(sys.argv[3])))" \
    "$size" "$(field rate "$r")" "$(field rate "$n")"
  python3 -c "import sys; print('%s: relay/fsync = %.2f' % (sys.argv[1], float(sys.argv[2]) / float(sys.argv[3])))" \
    "$size" "$(field rate "$r")" "$(field rate "$f")"
done
# Stored bundles: files, plus those of at most 256 KiB kept in pack files (schema/relay-api.md).
in_files=$(find "$run/relay/storage/uploads" -type f ! -name '*.part' | wc -l)
in_db=$(python3 -c 'import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
try:
    print(db.execute("SELECT COUNT(*) FROM upload_packs").fetchone()[0])
except sqlite3.OperationalError:  # a relay from before packs (bench of an old build)
    try:
        print(db.execute("SELECT COUNT(*) FROM upload_content").fetchone()[0])
    except sqlite3.OperationalError:
        print(0)' "$run/relay/storage/relay.db")
put=$(find "$run/nginx/www/dav" -type f | wc -l)
echo "on disk: relay $((in_files + in_db)) stored bundles ($in_files in files of their own, $in_db in packs or relay.db)," \
  "nginx $put PUT files (expected $((small_count + large_count)) each)"
