#!/usr/bin/env bash
# The open-internet topology, with the real nginx and the shipped configuration
# (server/deploy/nginx-satchel-relay.conf, only its paths and ports substituted) in front of a
# real satchel-relay listening on loopback with tls = off. Proves:
#   (a) a tus upload through nginx over TLS 1.3 is stored; TLS 1.2 is refused; an interrupted
#       body reaches the relay (proxy_request_buffering off), so the upload resumes from the
#       bytes that arrived;
#   (b) 40 slow-header clients are held while a normal client's upload completes promptly, and
#       nginx cuts them at client_header_timeout;
#   (c) afterwards no file under the nginx prefix or the relay directory holds the client
#       address or the User-Agent the clients sent;
#   (d) a coordinator challenge signed over nginx's pin opens a session, one over another pin
#       does not (skipped if python3 lacks the cryptography module);
#   (e) enrollment, challenge and session requests are limited to 1/s per address (bursts of
#       5): a burst from 127.0.0.2 is mostly refused while 127.0.0.1 is served.
#   (f) of 24 clients on another address (127.0.0.2) trickling enrollment bodies, those nginx
#       lets through are cut by the relay at its body rate (408 within 5 s), and a normal upload
#       is served meanwhile.
# Everything runs on 127.0.0.1 as the current user. Exits 77 (skipped) if nginx is missing.
# Usage: test_nginx_topology.sh SATCHEL_RELAY SATCHEL
set -euo pipefail
relay=$1
satchel=$2
here=$(cd "$(dirname "$0")" && pwd)
shipped=$here/../../server/deploy/nginx-satchel-relay.conf
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "skipped: nginx is not installed (apt-get install nginx-light)"; exit 77; }

. "$here/../support/relay_fixture.sh"  # in_work_dir, free_port, make_mailbox
in_work_dir satchel-nginx
prefix=$work/nginx
fail() { echo "FAIL: $*"; exit 1; }
relay_port=$(free_port)
port=$(free_port)
# Sent by every client of this test; it must not be found anywhere afterwards.
ua="satchel-topology-probe/7.3 (ua-marker-q8w2e)"

# --- nginx's certificate, and the relay configured for it ---------------------------------
mkdir -p "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" \
  2>/dev/null
ca=$work/tls/cert.pem
pin=$(openssl x509 -in "$ca" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)
# init with nginx's certificate prints the same pin: the one rosters carry in this topology.
init_pin=$("$relay" init "$work/relay" --name 127.0.0.1 --listen "127.0.0.1:$relay_port" \
  --certificate "$ca" --private-key "$work/tls/key.pem" | sed -n 's/^spki pin: *//p')
[ "$init_pin" = "$pin" ] || fail "init printed pin $init_pin, openssl computed $pin"
conf=$work/relay/relay.conf
sed -i -e 's/^tls = .*/tls = off/' -e 's/^health = .*/health = off/' -e 's/^threads = .*/threads = 8/' \
  -e 's/^body_grace_seconds = .*/body_grace_seconds = 1/' "$conf"
echo "challenge_pin = $pin" >>"$conf"

make_mailbox "$conf"  # sets mailbox and code; a.key is the coordinator's key

"$relay" serve --config "$conf" 2>"$work/relay/serve.log" &
relay_pid=$!
pids+=("$relay_pid")

# --- nginx, from the shipped file --------------------------------------------------------
mkdir -p "$prefix/logs" "$prefix/tmp"
sed -e "s|^user .*;|user $(id -un) $(id -gn);|" \
    -e "s|^pid .*;|pid $prefix/nginx.pid;|" \
    -e "s|/var/log/nginx/|$prefix/logs/|" \
    -e "s|/var/lib/nginx/|$prefix/tmp/|" \
    -e "s|/etc/nginx/satchel-relay/|$work/tls/|" \
    -e "s|listen 443 ssl default_server;|listen 127.0.0.1:$port ssl default_server;|" \
    -e '/listen \[::\]:443/d' \
    -e "s|proxy_pass http://127.0.0.1:8080;|proxy_pass http://127.0.0.1:$relay_port;|" \
    "$shipped" >"$prefix/nginx.conf"
# Every path and port of the shipped file must have been substituted. (Port 443 as a whole
# number only: the test's own random port may begin with 443.)
grep -v '^ *#' "$prefix/nginx.conf" | grep -E -e '/var/' -e '/etc/' -e '/run/' -e ':443([^0-9]|$)' \
  -e ':8080;' &&
  fail "the shipped configuration has a path or port this test does not substitute"
grep -q "listen 127.0.0.1:$port ssl" "$prefix/nginx.conf" || fail "the shipped listen line changed"
"$nginx" -t -q -p "$prefix" -c "$prefix/nginx.conf" 2>"$prefix/logs/stderr.log" ||
  { cat "$prefix/logs/stderr.log"; fail "nginx -t refused the shipped configuration"; }
"$nginx" -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;' 2>>"$prefix/logs/stderr.log" &
nginx_pid=$!
pids+=("$nginx_pid")

base=https://127.0.0.1:$port
c() { curl -sS --tlsv1.3 --cacert "$ca" -A "$ua" --max-time 20 "$@"; }
for _ in $(seq 100); do
  c -o /dev/null "$base/" 2>/dev/null && curl -s -o /dev/null "http://127.0.0.1:$relay_port/" &&
    break || sleep 0.1
done
token=$(c "$base/v1/enroll" -H 'Content-Type: application/json' -d "{\"code\":\"$code\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
tus=(-H 'Tus-Resumable: 1.0.0' -H "Authorization: Bearer $token")

state_of() {  # UPLOAD_ID -> "STATE OFFSET"
  c -I "$base/v1/uploads/$1" "${tus[@]}" | tr -d '\r' |
    awk '/^Upload-State:/ {s=$2} /^Upload-Offset:/ {o=$2} END {print s, o}'
}
upload() {  # FILE: one-request tus creation (creation-with-upload); prints the HTTP status
  local sha
  sha=$(sha256sum "$1" | cut -c1-64)
  c -o /dev/null -w '%{http_code}' "$base/v1/uploads" "${tus[@]}" \
    -H "Upload-Length: $(stat -c %s "$1")" \
    -H "Upload-Metadata: sha256 $(printf %s "$sha" | base64 -w0)" \
    -H 'Content-Type: application/offset+octet-stream' --data-binary "@$1"
}

# Raw TLS clients: "slow" drips request-header bytes; "partial" sends half a body and hangs up.
read -r -d '' clients <<'EOF' || true
import os, select, socket, ssl, sys, time
mode, port, ca, ua = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
ctx = ssl.create_default_context(cafile=ca)
def connect():
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="127.0.0.1")
    return s
if mode == "partial":
    token, sha_b64, path = sys.argv[5], sys.argv[6], sys.argv[7]
    body = open(path, "rb").read()
    s = connect()
    s.sendall(b"POST /v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + ua +
              b"\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer " + token.encode() +
              b"\r\nUpload-Length: %d\r\nUpload-Metadata: sha256 " % len(body) +
              sha_b64.encode() + b"\r\nContent-Type: application/offset+octet-stream\r\n" +
              b"Content-Length: %d\r\n\r\n" % len(body))
    s.sendall(body[: len(body) // 2])
    time.sleep(1)  # let nginx pass the bytes on before the connection drops
    s.close()
    sys.exit(0)
# mode "slow": N connections each send a partial request header, one byte every 0.5 s.
# mode "slowbody": the same, from SOURCE, after a whole head declaring a 4 KiB enrollment body.
n, ready, done = int(sys.argv[5]), sys.argv[6], sys.argv[7]
header = (b"POST /v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + ua +
          b"\r\nX-Slow: " + b"s" * 4096)
if mode == "slowbody":
    def connect():
        raw = socket.create_connection(("127.0.0.1", port), timeout=10,
                                       source_address=(sys.argv[8], 0))
        return ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    head = (b"POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + ua +
            b"\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n")
    header = head + b"{" * 4096
live = {}
for i in range(n):
    s = connect()
    if mode == "slowbody":
        s.sendall(head)
        live_pos = len(head)
    s.setblocking(False)
    live[s] = [time.monotonic(), live_pos if mode == "slowbody" else 0]
open(ready, "w").close()
held, lifetimes, deadline = None, [], time.monotonic() + 40
answers, cut_408 = {}, []  # the first bytes each connection received; lifetimes of 408s
while live and time.monotonic() < deadline:
    if held is None and os.path.exists(done):
        held = len(live)
    readable, _, _ = select.select(list(live), [], [], 0)
    for s in list(live):
        closed = False
        if s in readable:
            try:
                got = s.recv(4096)
                closed = got == b""
                answers[s] = answers.get(s, b"") + got
            except ssl.SSLWantReadError:
                pass
            except OSError:
                closed = True
        if not closed:
            try:
                pos = live[s][1]
                s.send(header[pos:pos + 1])
                live[s][1] = pos + 1
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
            except OSError:
                closed = True
        if closed:
            lifetimes.append(time.monotonic() - live.pop(s)[0])
            if answers.get(s, b"").startswith(b"HTTP/1.1 408"):
                cut_408.append(lifetimes[-1])
            s.close()
    time.sleep(0.5)
print("held=%s cut=%d still_open=%d longest=%.1f" %
      (held, len(lifetimes), len(live), max(lifetimes or [0])), end="")
print(" relay408=%d longest408=%.1f" % (len(cut_408), max(cut_408 or [0])) if mode == "slowbody"
      else "")
EOF

# --- (a) tus through nginx over TLS 1.3; TLS 1.2 refused; interrupted bodies resume --------
head -c 300000 /dev/urandom >"$work/b1"
status=$(upload "$work/b1")
[ "$status" = 201 ] || fail "creation-with-upload through nginx answered $status"
read -r st off < <(state_of "$(sha256sum "$work/b1" | cut -c1-64)")
[ "$st" = stored ] && [ "$off" = 300000 ] || fail "upload not stored through nginx: $st $off"
echo "ok: tus creation-with-upload through nginx over TLS 1.3 is stored"

openssl s_client -connect "127.0.0.1:$port" -tls1_3 -CAfile "$ca" </dev/null >"$work/s13" 2>&1 ||
  fail "TLS 1.3 handshake failed"
grep -q 'TLSv1.3' "$work/s13" || fail "TLS 1.3 not negotiated"
if openssl s_client -connect "127.0.0.1:$port" -tls1_2 </dev/null >"$work/s12" 2>&1; then
  fail "nginx completed a TLS 1.2 handshake"
fi
echo "ok: a TLS 1.2 handshake is refused"

head -c 2000000 /dev/urandom >"$work/b2"
sha2=$(sha256sum "$work/b2" | cut -c1-64)
python3 -c "$clients" partial "$port" "$ca" "$ua" "$token" "$(printf %s "$sha2" | base64 -w0)" \
  "$work/b2"
st=
for _ in $(seq 50); do
  read -r st off < <(state_of "$sha2")
  [ "$st" = partial ] && [ "${off:-0}" -gt 0 ] && break || sleep 0.1
done
[ "$st" = partial ] && [ "$off" -gt 0 ] && [ "$off" -le 1000000 ] ||
  fail "the interrupted body's bytes did not reach the relay: $st $off"
tail -c +$((off + 1)) "$work/b2" >"$work/b2.rest"
status=$(c -o /dev/null -w '%{http_code}' -X PATCH "$base/v1/uploads/$sha2" "${tus[@]}" \
  -H "Upload-Offset: $off" -H 'Content-Type: application/offset+octet-stream' \
  --data-binary "@$work/b2.rest")
read -r st _ < <(state_of "$sha2")
[ "$status" = 204 ] && [ "$st" = stored ] || fail "resume after an interrupted body: $status $st"
echo "ok: an interrupted body kept $off of 2000000 bytes in the relay; the PATCH resumed from there"

server=$(c -I "$base/" | tr -d '\r' | sed -n 's/^Server: //Ip')
[ "$server" = nginx ] || fail "Server header: $server"
echo "ok: the Server header names no version"

# upload_beside_slow_clients MODE N SETTLE [SOURCE]: starts N raw clients of MODE ("slow" or
# "slowbody"), lets them settle for SETTLE seconds, uploads a 500 kB bundle meanwhile and stops
# them; sets status and ms (the upload's) and slow_result (the clients' summary line).
upload_beside_slow_clients() {
  local mode=$1 n=$2 settle=$3 pid
  rm -f "$work/$mode.ready" "$work/$mode.done"
  python3 -c "$clients" "$mode" "$port" "$ca" "$ua" "$n" "$work/$mode.ready" "$work/$mode.done" \
    "${4:-}" >"$work/$mode.out" &
  pid=$!
  for _ in $(seq 200); do [ -e "$work/$mode.ready" ] && break || sleep 0.1; done
  [ -e "$work/$mode.ready" ] || fail "the $mode clients did not connect"
  sleep "$settle"
  head -c 500000 /dev/urandom >"$work/$mode.bundle"
  local t0
  t0=$(date +%s%N)
  status=$(upload "$work/$mode.bundle")
  ms=$((($(date +%s%N) - t0) / 1000000))
  touch "$work/$mode.done"
  wait "$pid"
  slow_result=$(cat "$work/$mode.out")
}

# --- (b) 40 slow-header clients held while a normal client is served ----------------------
upload_beside_slow_clients slow 40 2  # after 2 s they are dripping header bytes
slow=$slow_result
[ "$status" = 201 ] && [ "$ms" -lt 5000 ] ||
  fail "with 40 slow clients, a normal upload answered $status after $ms ms"
[[ $slow == "held=40 cut=40 still_open=0 "* ]] || fail "slow clients: $slow"
longest=${slow##*longest=}
longest=${longest%% *}
python3 -c "import sys; sys.exit(0 if 8 <= $longest <= 25 else 1)" ||
  fail "slow clients were not cut near client_header_timeout (10 s): longest $longest s"
echo "ok: 40 slow-header clients held ($slow s); a normal upload took $ms ms meanwhile"

# --- (f) slow bodies from another address are cut by the relay; a normal client is served ----
upload_beside_slow_clients slowbody 24 0.5 127.0.0.2  # their bodies now trickle into the relay
slowbody=$slow_result
[ "$status" = 201 ] && [ "$ms" -lt 5000 ] ||
  fail "with 24 slow-body clients, a normal upload answered $status after $ms ms"
[[ $slowbody == *" still_open=0 "* ]] || fail "slow-body clients: $slowbody"
# Those nginx let through (its 1 request/s zone refuses the rest with 429) are cut by the relay
# with 408 once their bodies fall behind its rate, after its 1 s grace.
relay408=${slowbody##*relay408=}
relay408=${relay408%% *}
longest=${slowbody##*longest408=}
[ "$relay408" -ge 1 ] || fail "no slow body reached the relay to be cut: $slowbody"
python3 -c "import sys; sys.exit(0 if $longest <= 5 else 1)" ||
  fail "slow bodies were not cut near the relay's grace (1 s): longest $longest s"
echo "ok: 24 slow-body clients from 127.0.0.2: nginx refused the excess, the relay cut those it let through ($slowbody s); a normal upload took $ms ms"

# --- (d) coordinator challenges are bound to nginx's pin ------------------------------------
read -r -d '' coordinator <<'EOF' || true
import base64, hashlib, json, ssl, struct, sys, time, urllib.error, urllib.request
try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
except ImportError:
    print("skipped"); sys.exit(0)
base, ca, ua, keyfile, mailbox, pin = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
def call(path, body=None, token=None):
    headers = {"User-Agent": ua}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(base + path, None if body is None else json.dumps(body).encode(),
                                 headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None
# coordsec- is base32(X25519 secret || Ed25519 seed || checksum) (schema/bundle-format.md).
text = [l for l in open(keyfile).read().split() if l.startswith("coordsec-")][0][9:].upper()
seed = base64.b32decode(text + "=" * (-len(text) % 8))[32:64]
key = Ed25519PrivateKey.from_private_bytes(seed)
pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
def session(signed_pin):
    _, ch = call("/v1/coordinator/challenge?mailbox=" + mailbox)
    now = int(time.time())
    s16 = lambda s: struct.pack("<H", len(s)) + s.encode()
    msg = (bytes([26]) + b"satchel relay challenge v1" + bytes.fromhex(signed_pin) +
           s16(mailbox) + s16(ch["nonce"]) + struct.pack("<q", now))
    sig = base64.urlsafe_b64encode(key.sign(msg)).rstrip(b"=").decode()
    return call("/v1/coordinator/session", {"mailbox": mailbox, "key": pub, "nonce": ch["nonce"],
                                            "issued_at": now, "signature": sig})
other = hashlib.sha256(b"the relay's own pin, or an interceptor's").hexdigest()
wrong, _ = session(other)
status, grant = session(pin)
listed = call("/v1/coordinator/uploads", token=grant["session"])[1] if status == 200 else None
print("wrong=%d right=%d listed=%d" % (wrong, status, len(listed["uploads"]) if listed else -1))
EOF
out=$(python3 -c "$coordinator" "$base" "$ca" "$ua" "$work/a.key" "$mailbox" "$pin")
case $out in
  skipped) echo "skipped (d): python3 has no 'cryptography' module for Ed25519" ;;
  "wrong=401 right=200 listed=4") echo "ok: a challenge signed over nginx's pin opens a session" \
    "(another pin: 401); the session lists the 4 stored uploads through nginx" ;;
  *) fail "coordinator challenge through nginx: $out" ;;
esac

# --- (e) anonymous endpoints: 1 request/s per address (bursts of 5) -----------------------
# 20 challenge requests at once from 127.0.0.2: at most 1 + 5 pass, the rest get nginx's 429;
# another address (127.0.0.1) still gets its challenge meanwhile.
codes=$(for _ in $(seq 20); do
  c --interface 127.0.0.2 -o /dev/null -w '%{http_code}\n' \
    "$base/v1/coordinator/challenge?mailbox=$mailbox" || echo 000
done)
passed=$(grep -c '^200$' <<<"$codes" || true)
limited=$(grep -c '^429$' <<<"$codes" || true)
{ [ "$passed" -ge 1 ] && [ "$passed" -le 7 ] && [ $((passed + limited)) -eq 20 ]; } ||
  fail "anonymous zone: 20 challenges from one address gave $passed x 200, $limited x 429"
other=$(c -o /dev/null -w '%{http_code}' "$base/v1/coordinator/challenge?mailbox=$mailbox")
[ "$other" = 200 ] || fail "another address was refused its challenge ($other) during the burst"
echo "ok: 20 challenges at once from 127.0.0.2: $passed served, $limited refused 429;" \
  "127.0.0.1 served meanwhile"

# --- (c) nothing kept the client's address or User-Agent ---------------------------------
kill -QUIT "$nginx_pid" && wait "$nginx_pid" || true
kill -TERM "$relay_pid" && wait "$relay_pid" || true
pids=()  # both stopped and reaped: their numbers may be reused
# The two configuration files name 127.0.0.1 as listen and proxy addresses, and the relay's
# start line names its own listen address; anything else naming it would be a client address.
leaks=$(find "$prefix" "$work/relay" -type f ! -name nginx.conf ! -name relay.conf \
  -exec grep -aIl -e '127\.0\.0\.1' -e '127\.0\.0\.2' {} + 2>/dev/null | grep -v '/serve.log$' || true)
[ -z "$leaks" ] || fail "client address found in: $leaks"
grep -a '127\.0\.0\.1' "$work/relay/serve.log" | grep -qv '^satchel-relay: serving on 127.0.0.1:' &&
  fail "the relay's log names 127.0.0.1 beyond its start line"
leaks=$(grep -raIl -F -e "$ua" -e "ua-marker-q8w2e" "$prefix" "$work/relay" || true)
[ -z "$leaks" ] || fail "User-Agent found in: $leaks"
# Binary files too (relay.db and its WAL are not text).
leaks=$(grep -ral -F -e "ua-marker-q8w2e" -e "127.0.0.1" "$work/relay/storage" || true)
[ -z "$leaks" ] || fail "client detail found in the relay's storage: $leaks"
[ -z "$(find "$prefix/tmp" -type f)" ] || fail "nginx wrote request or response bodies to disk"
echo "ok: no client address or User-Agent under the nginx prefix or the relay directory;" \
  "nginx wrote no body to disk (error log: $(stat -c %s "$prefix/logs/satchel-relay-error.log") bytes)"
