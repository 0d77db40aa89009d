# TEST ONLY. A small client of the relay's HTTP API (schema/relay-api.md) for the crash and fault
# tests: tus uploads (create, HEAD, chunked PATCH), enrollment, and the coordinator side
# (challenge, Ed25519-signed session, listing, download). It trusts only the relay's self-signed
# certificate and speaks to 127.0.0.1 only. It also drives a real `satchel-relay serve` process
# on a storage directory made with `satchel-relay init` (RelayFixture).
import base64
import ctypes
import ctypes.util
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

TUS = {"Tus-Resumable": "1.0.0"}


class Reply:
    """One HTTP answer: status, headers (lower-case names) and body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    @property
    def state(self):
        return self.header("Upload-State")

    @property
    def offset(self):
        v = self.header("Upload-Offset")
        return int(v) if v is not None else None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:80]!r}>"


class HttpError(RuntimeError):
    """An answer other than the expected one; `reply` holds it."""

    def __init__(self, what, reply):
        super().__init__(f"{what}: {reply}")
        self.reply = reply


class Connection:
    """One TLS connection to the relay (reconnects after the relay closes it)."""

    def __init__(self, port, ca_path, timeout=10):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=ca_path)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=b"", headers=None):
        """Sends one request and reads the whole answer. Raises OSError or
        http.client.HTTPException when the connection fails (a killed relay)."""
        if self.conn is None:
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                                    timeout=self.timeout)
        h = dict(headers or {})
        if body or method in ("POST", "PATCH", "PUT"):
            h["Content-Length"] = str(len(body))
        try:
            self.conn.request(method, path, body=body if body else None, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except BaseException:
            self.close()
            raise
        reply = Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        if (reply.header("Connection", "") or "").lower() == "close":
            self.close()
        return reply


# --- devices -----------------------------------------------------------------------------------

def run_test(main):
    """Exits with main()'s status. ctest's timeout sends SIGTERM: it unwinds (SystemExit), so the
    test's `finally` stops its relay and removes its files."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())


def enroll(conn, code):
    r = conn.request("POST", "/v1/enroll", json.dumps({"code": code}).encode(),
                     {"Content-Type": "application/json"})
    if r.status != 200:
        raise HttpError("enrollment failed", r)
    return r.json()["token"]


def upload_id(data):
    return hashlib.sha256(data).hexdigest()


def tus_headers(token, extra=None):
    h = dict(TUS)
    h["Authorization"] = "Bearer " + token
    h.update(extra or {})
    return h


def create(conn, token, data, first_body=b""):
    """tus creation; with `first_body`, creation-with-upload of data[:len(first_body)]."""
    meta = "sha256 " + base64.b64encode(upload_id(data).encode()).decode()
    extra = {"Upload-Length": str(len(data)), "Upload-Metadata": meta}
    if first_body:
        extra["Content-Type"] = "application/offset+octet-stream"
    return conn.request("POST", "/v1/uploads", first_body, tus_headers(token, extra))


def head(conn, token, uid):
    return conn.request("HEAD", "/v1/uploads/" + uid, b"", tus_headers(token))


def patch(conn, token, uid, offset, body, checksum=False):
    extra = {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}
    if checksum:
        extra["Upload-Checksum"] = "sha256 " + base64.b64encode(hashlib.sha256(body).digest()).decode()
    return conn.request("PATCH", "/v1/uploads/" + uid, body, tus_headers(token, extra))


# --- coordinators ------------------------------------------------------------------------------

def read_secret_key_text(path):
    """The key string of a secret key file: the first line that is neither empty nor a comment."""
    with open(path) as f:
        for line in f:
            line = line.lstrip(" \t").rstrip("\r\n ")
            if line and not line.startswith("#"):
                return line
    raise ValueError("no key in " + path)


class Ed25519Key:
    """An Ed25519 key from its seed, signing with libsodium (already a Satchel dependency, so the
    tests need no Python package beyond the standard library)."""

    _sodium = None

    def __init__(self, seed):
        if Ed25519Key._sodium is None:
            lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
            if lib.sodium_init() < 0:
                raise RuntimeError("sodium_init failed")
            Ed25519Key._sodium = lib
        self.public = ctypes.create_string_buffer(32)
        self._secret = ctypes.create_string_buffer(64)
        if self._sodium.crypto_sign_seed_keypair(self.public, self._secret, bytes(seed)) != 0:
            raise RuntimeError("crypto_sign_seed_keypair failed")

    def sign(self, message):
        sig = ctypes.create_string_buffer(64)
        if self._sodium.crypto_sign_detached(sig, None, message, ctypes.c_ulonglong(len(message)),
                                             self._secret) != 0:
            raise RuntimeError("crypto_sign_detached failed")
        return sig.raw

    def public_bytes(self):
        return self.public.raw


def coordinator_relay_key(path):
    """The Ed25519 relay key (the second half of a coordsec- payload, schema/bundle-format.md)."""
    text = read_secret_key_text(path)
    if not text.startswith("coordsec-"):
        raise ValueError("not a coordinator secret key")
    b32 = text[len("coordsec-"):].upper()
    raw = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    return Ed25519Key(raw[32:64])


def challenge_message(pin, mailbox, nonce, issued_at):
    """schema/trust-documents.md, "Relay challenge"."""
    ctx = b"satchel relay challenge v1"
    m, n = mailbox.encode(), nonce.encode()
    return (bytes([len(ctx)]) + ctx + pin + struct.pack("<H", len(m)) + m +
            struct.pack("<H", len(n)) + n + struct.pack("<q", issued_at))


def coordinator_session(conn, key, pin, mailbox):
    r = conn.request("GET", "/v1/coordinator/challenge?mailbox=" + mailbox)
    if r.status != 200:
        raise HttpError("challenge failed", r)
    nonce = r.json()["nonce"]
    issued_at = int(time.time())
    sig = key.sign(challenge_message(pin, mailbox, nonce, issued_at))
    body = {"mailbox": mailbox, "key": key.public_bytes().hex(), "nonce": nonce, "issued_at": issued_at,
            "signature": base64.urlsafe_b64encode(sig).decode().rstrip("=")}
    r = conn.request("POST", "/v1/coordinator/session", json.dumps(body).encode(),
                     {"Content-Type": "application/json"})
    if r.status != 200:
        raise HttpError("session failed", r)
    return r.json()["session"]


def list_stored(conn, session):
    """Every listed upload, {id: size}, following `next` (bounded)."""
    out, after = {}, None
    for _ in range(1000):
        path = "/v1/coordinator/uploads?limit=1000" + ("&after=" + after if after else "")
        r = conn.request("GET", path, b"", {"Authorization": "Bearer " + session})
        if r.status != 200:
            raise HttpError("listing failed", r)
        j = r.json()
        for u in j["uploads"]:
            out[u["id"]] = u["size"]
        after = j["next"]
        if after is None:
            return out
    raise RuntimeError("listing did not end")


def download(conn, session, uid):
    r = conn.request("GET", "/v1/coordinator/uploads/" + uid, b"",
                     {"Authorization": "Bearer " + session})
    if r.status != 200:
        raise HttpError(f"download of {uid} failed", r)
    return r.body


# --- a real relay process ----------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


class RelayFixture:
    """A relay made with `satchel-relay init` in `work`, one mailbox with one coordinator, and a
    `serve` process that can be started under a wrapper (fiu-run), killed and restarted."""

    def __init__(self, relay_bin, satchel_bin, work, conf_overrides=None, storage=None):
        self.relay_bin = relay_bin
        self.work = work
        self.port = free_port()
        rdir = os.path.join(work, "relay")
        out = run([relay_bin, "init", rdir, "--name", "127.0.0.1", "--listen",
                   f"127.0.0.1:{self.port}"])
        self.pin = bytes.fromhex(re.search(r"spki pin:\s*([0-9a-f]{64})", out).group(1))
        self.conf = os.path.join(rdir, "relay.conf")
        self.ca = os.path.join(rdir, "tls", "cert.pem")
        settings = {"health": "off", "threads": "16", "token_requests_per_minute": "100000",
                    "anonymous_requests_per_minute": "100000", "read_timeout_seconds": "5",
                    "write_timeout_seconds": "5", "keep_alive_seconds": "5"}
        if storage:
            settings["storage"] = storage
        settings.update(conf_overrides or {})
        self._set_conf(settings)
        org, coord = os.path.join(work, "org.key"), os.path.join(work, "coord.key")
        run([satchel_bin, "keygen", "org", "-o", org])
        run([satchel_bin, "keygen", "coordinator", "-o", coord])
        coordpub = re.search(r"^# public key: (\S+)", open(coord).read(), re.M).group(1)
        reg = os.path.join(work, "reg.txt")
        run([satchel_bin, "org", "registration", "--org-key", org, "--version", "1",
             "--coordinator", coordpub, "-o", reg])
        run([relay_bin, "mailbox", "create", "--config", self.conf, "--registration", reg])
        self.mailbox = run([relay_bin, "mailbox", "list", "--config", self.conf]).split()[0]
        self.coordinator_key = coordinator_relay_key(coord)
        self.proc = None
        self.log_path = os.path.join(work, "serve.log")
        self.starts = 0

    def _set_conf(self, settings):
        text = open(self.conf).read()
        for k, v in settings.items():
            text, n = re.subn(rf"^#?\s*{k} = .*$", f"{k} = {v}", text, flags=re.M)
            if n == 0:
                text += f"\n{k} = {v}\n"
        open(self.conf, "w").write(text)

    def mint_code(self):
        out = run([self.relay_bin, "mailbox", "code", "--config", self.conf, self.mailbox])
        return re.search(r"enrollment code: (\S+)", out).group(1)

    def start(self, wrapper=(), wait=True):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(list(wrapper) + [self.relay_bin, "serve", "--config", self.conf],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.starts += 1
        if wait:
            self.wait_ready()

    def wait_ready(self, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"relay exited with {self.proc.returncode}: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("relay did not start")

    def kill(self):
        """SIGKILL: no handler runs, nothing is flushed or closed by the relay."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            return open(self.log_path).read()
        except OSError:
            return ""

    def connection(self, timeout=10):
        return Connection(self.port, self.ca, timeout)

    def session(self, conn):
        return coordinator_session(conn, self.coordinator_key, self.pin, self.mailbox)
