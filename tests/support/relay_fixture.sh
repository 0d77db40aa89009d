# Sourced by shell tests and benches: a real satchel-relay over TLS 1.3 on 127.0.0.1 in the
# current directory, with one organisation's mailbox and an operator-minted enrollment code.
# Needs $satchel and $relay (binaries); make_device also a `sat` function.
# in_work_dir TAG [PARENT] makes a fresh directory (under PARENT, default $TMPDIR or /tmp), sets
# `work` to it and makes it current; on exit every process in `pids` gets SIGTERM and is waited
# for, and the directory is removed.
# start_relay sets: port, pin, backup (SPKI pins), mailbox, code; writes org.key, a.key (one
# coordinator), relay/ and serve.log.
# make_mailbox CONF (for a relay set up otherwise) does the mailbox part alone: sets mailbox and
# code; writes org.key, a.key and reg.txt.

in_work_dir() {
  work=$(mktemp -d "${2:-${TMPDIR:-/tmp}}/$1.XXXXXX")
  pids=()
  trap stop_work EXIT
  cd "$work"
}
stop_work() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}

pub() { sed -n 's/^# public key: //p' "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

make_mailbox() {
  "$satchel" keygen org -o org.key >/dev/null 2>&1
  "$satchel" keygen coordinator -o a.key >/dev/null
  "$satchel" org registration --org-key org.key --version 1 --coordinator "$(pub a.key)" \
    -o reg.txt >/dev/null
  "$relay" mailbox create --config "$1" --registration reg.txt >/dev/null
  mailbox=$("$relay" mailbox list --config "$1" | cut -d' ' -f1)
  code=$("$relay" mailbox code --config "$1" "$mailbox" | sed -n 's/^enrollment code: //p')
}

# make_device ROSTER SCHEMA_DIR: through the caller's `sat` (satchel on its profile), a new profile
# that trusts org.key and holds ROSTER and the signed testimony-intake form.
make_device() {
  local fp
  sat init --kdf-passes 2 --kdf-memory 64 >/dev/null
  fp=$("$satchel" fingerprint "$(pub org.key)" | sed -n 's/^fingerprint: //p')
  sat trust org "$(pub org.key)" --confirm "$fp" >/dev/null
  sat roster add "$1" >/dev/null
  "$satchel" org form --org-key org.key "$2/forms/testimony-intake.json" -o form.signed >/dev/null
  sat form add form.signed >/dev/null
}

start_relay() {
  port=$(free_port)
  "$relay" init relay --name 127.0.0.1 --listen "127.0.0.1:$port" >relay-init.txt
  sed -i -e 's/^health = .*/health = off/' -e 's/^threads = .*/threads = 8/' relay/relay.conf
  pin=$(sed -n 's/^spki pin: *//p' relay-init.txt)
  backup=$(sed -n 's/^backup pin: *//p' relay-init.txt)
  make_mailbox relay/relay.conf
  "$relay" serve --config relay/relay.conf 2>serve.log &
  pids+=($!)
  local _
  for _ in $(seq 100); do
    curl -s --cacert relay/tls/cert.pem -o /dev/null "https://127.0.0.1:$port/" && return 0
    sleep 0.1
  done
  echo "relay_fixture: the relay did not start" >&2
  return 1
}
