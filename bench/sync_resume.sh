#!/usr/bin/env bash
# Resume cost of `satchel sync` over a network that drops: one bundle of ~100 MiB (a record with
# a 100 MiB attachment) goes through tests/support/fault_proxy.py, which cuts every connection
# after 4 MiB from the client, to a real satchel-relay over TLS 1.3 on 127.0.0.1. Reports the
# bytes the proxy forwarded upstream (TLS records, handshakes and headers included) divided by
# the bundle's size, and the body bytes the client wrote (including those lost in flight at each
# cut). Target: at most 1.05.
# Usage: bench/sync_resume.sh [BUILD_DIR] [MiB] [CUT_MiB]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${1:-$root/build}/bin" && pwd)
mib=${2:-100}
cut_mib=${3:-4}
satchel="$bin/satchel"
relay="$bin/satchel-relay"
. "$root/tests/support/relay_fixture.sh"
in_work_dir satchel-resume
pass="bench only: cobalt harbor lantern quiver"
sat() { "$satchel" --home "$work/home" --passphrase-fd 3 "$@" 3<<<"$pass"; }

# The relay: a mailbox from the organisation's registration, a code minted by the operator.
start_relay

python3 "$root/tests/support/fault_proxy.py" --target "127.0.0.1:$port" \
  --cut-every $((cut_mib << 20)) --stats proxy.stats >proxy.out &
pids+=($!)
for _ in $(seq 50); do [ -s proxy.out ] && break; sleep 0.1; done
proxy_port=$(sed -n 's/^port //p' proxy.out)

# The roster sends the device to the proxy's port; the relay's pin is unchanged.
"$satchel" org roster --org-name "Example Rights Network" --org-key org.key --version 1 --coordinator "A=$(pub a.key)" --slots 1 \
  --relay "https://127.0.0.1:$proxy_port" --pin "$pin" --backup-pin "$backup" -o roster.txt >/dev/null
make_device roster.txt "$root/schema"
rid=$(sat record testimony-intake --answers "$root/schema/forms/testimony-intake.answers.json")
head -c $((mib << 20)) /dev/urandom >evidence.bin
question=$(python3 -c "import json,sys; f=json.load(open(sys.argv[1])); print(next(q['id'] for q in f['questions'] if q['type']=='attachment'))" "$root/schema/forms/testimony-intake.json")
sat attach "$rid" evidence.bin --question "$question" >/dev/null
rm evidence.bin
sat finalize "$rid" >/dev/null
size=$(sat outbox | awk '/ bytes /{print $2}')
sat enroll --code-fd 4 4<<<"$code" >/dev/null
# Connections the proxy counts are those already closed: read the stats after the last closes.
start=$(date +%s.%N)
sat sync | tee sync.out
end=$(date +%s.%N)
sleep 1
read -r _ up _ down _ conns _ faults <proxy.stats
sent=$(sed -n 's/.*; \([0-9]*\) bytes sent for.*/\1/p' sync.out)
python3 - "$size" "$up" "$conns" "$faults" "$start" "$end" "$sent" <<'PY'
import sys
size, up, conns, faults = (int(x) for x in sys.argv[1:5])
secs = float(sys.argv[6]) - float(sys.argv[5])
sent = int(sys.argv[7])
print(f"bundle {size} bytes over {conns} connections ({faults} cut), {secs:.1f} s:")
print(f"  client wrote {sent} body bytes: {sent / size:.4f}x the bundle (bytes lost at cuts included)")
print(f"  proxy forwarded {up} bytes to the relay, TLS and headers included: {up / size:.4f}x")
PY
