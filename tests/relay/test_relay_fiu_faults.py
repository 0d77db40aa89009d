#!/usr/bin/env python3
# Fault injection into the real `satchel-relay serve` with libfiu's POSIX preload (fiu-run -x):
# failures of the relay's own fsync, pwrite and rename (its data files) and of fdatasync (the
# metadata database's commits: SQLite syncs with fdatasync, the relay's data path with fsync;
# fiu's pwrite point also fails SQLite's pwrite64), switched on and off with fiu-ctrl at the
# moment a chosen request runs. (The relay writes its data with pwrite; write() carries only
# sockets and logs, so it is not injected.) It proves:
#   - the preload intercepts the relay's calls (an fsync failure must turn a PATCH into 500:
#     if it does not, the test fails, since it would otherwise prove nothing);
#   - a request that hits an injected error is never answered stored: 500 (507 for ENOSPC),
#     and HEAD then shows the offset from before the request, state partial;
#   - the committed offset is never beyond the data: after every fault, and after SIGKILL and a
#     restart, the data file holds the sent bytes up to the committed offset;
#   - a metadata commit whose sync failed (which SQLite may still replay after a crash) finds
#     its data: after a SIGKILL and restart, also when a retry of the request was in progress or
#     cut off, the upload is either where it was or one step on, its bytes intact (stored:
#     downloaded byte-identical);
#   - under random failures of all four calls, six concurrent clients (whose metadata commits
#     are grouped, so a failed group commit fails several requests at once) and SIGKILLs, every
#     upload answered stored is, after the faults are removed and the relay restarted, listed and
#     byte-identical, and every upload completes.
# Not under AddressSanitizer (fiu's preload must come first): ctest label "fiu".
# Usage: test_relay_fiu_faults.py SATCHEL_RELAY SATCHEL
import base64
import errno
import hashlib
import http.client
import os
import random
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tus_client as tus  # noqa: E402

NET_ERRORS = (OSError, http.client.HTTPException)
CHUNK = 64 << 10
FULL = os.environ.get("SATCHEL_TEST_TIER") == "full"
FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg, flush=True)
    return cond


class FaultyRelay(tus.RelayFixture):
    """The relay under fiu-run with a private control path, so fiu-ctrl reaches only it."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.ctrl = os.path.join(self.work, "fiu-ctrl")
        self.storage = os.path.join(self.work, "relay", "storage")

    def start_faulty(self):
        self.start(wrapper=["fiu-run", "-x", "-f", self.ctrl])

    def fiu(self, command):
        subprocess.run(["fiu-ctrl", "-f", self.ctrl, "-c", command, str(self.proc.pid)],
                       check=True, capture_output=True, timeout=10)

    def enable(self, name, err):
        self.fiu(f"enable name={name},failinfo={err}")

    def disable(self, name):
        self.fiu(f"disable name={name}")

    def data_file(self, uid):
        base = os.path.join(self.storage, "uploads", self.mailbox, uid)
        for path in (base + ".part", base):
            if os.path.exists(path):
                return path
        return None


class Upload:
    def __init__(self, relay, conn, token, size):
        self.relay, self.conn, self.token = relay, conn, token
        self.data = os.urandom(size)
        self.uid = tus.upload_id(self.data)

    def create(self, first=0):
        return tus.create(self.conn, self.token, self.data, self.data[:first])

    def patch(self, offset, n, checksum=False):
        return tus.patch(self.conn, self.token, self.uid, offset, self.data[offset:offset + n],
                         checksum)

    def head(self):
        return tus.head(self.conn, self.token, self.uid)

    def prefix_ok(self, offset, what):
        """The data file holds exactly the sent bytes up to the committed offset."""
        path = self.relay.data_file(self.uid)
        if not check(path is not None or offset == 0, f"{what}: no data file for offset {offset}"):
            return
        got = open(path, "rb").read() if path else b""
        check(len(got) >= offset and got[:offset] == self.data[:offset],
              f"{what}: committed offset {offset} is beyond the data file's correct bytes "
              f"({len(got)} bytes)")

    def finish(self, what):
        """Resumes from HEAD to stored (no faults active)."""
        for _ in range(100):
            h = self.head()
            if h.status == 404:
                h = self.create()
            if h.state == "stored":
                return True
            r = self.patch(h.offset, 4 * CHUNK)
            if not check(r.status == 204, f"{what}: resuming at {h.offset} answered {r}"):
                return False
        return check(False, f"{what}: did not complete")


def stalled_patch(relay, token, uid, offset, whole, sent):
    """A PATCH that announces the body `whole` (with its Upload-Checksum) and sends only its first
    `sent` bytes: the relay has opened the upload for writing and waits for the rest. Returns the
    socket (closing it cuts the request off: a checksummed body is then not kept)."""
    ctx = ssl.create_default_context(cafile=relay.ca)
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", relay.port), timeout=10),
                           server_hostname="127.0.0.1")
    head = (f"PATCH /v1/uploads/{uid} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
            f"Authorization: Bearer {token}\r\nUpload-Offset: {offset}\r\n"
            f"Upload-Checksum: sha256 {base64.b64encode(hashlib.sha256(whole).digest()).decode()}"
            f"\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(whole)}\r\n\r\n")
    sock.sendall(head.encode() + whole[:sent])
    return sock


def fault_case(relay, conn, token, name, point, err, at_chunk, expect, after):
    """Uploads a 3½-chunk bundle; the PATCH of chunk `at_chunk` (0-based; 3 is the completing one)
    runs with `point` failing with `err`. Checks the answer and the state after it. `after`:
    None, "kill" (SIGKILL and restart), "retry-kill" (SIGKILL while a retry of the failed PATCH
    is half received, then restart) or "retry-cut-kill" (the retry is cut off before the kill,
    so the relay drops what it received)."""
    u = Upload(relay, conn, token, 3 * CHUNK + CHUNK // 2)
    log_before = len(relay.log())
    r = u.create()
    check(r.status == 201, f"{name}: creation answered {r}")
    offset = 0
    for i in range(at_chunk):
        r = u.patch(offset, CHUNK)
        check(r.status == 204 and r.offset == offset + CHUNK, f"{name}: chunk {i} answered {r}")
        offset = r.offset
    n = len(u.data) - offset if at_chunk == 3 else CHUNK
    relay.enable(point, err)
    try:
        r = u.patch(offset, n)
    finally:
        relay.disable(point)
    code = {500: "internal", 507: "insufficient-storage"}[expect]
    if not check(r.status == expect and code.encode() in r.body,
                 f"{name}: the faulted PATCH answered {r.status} {r.body!r}, expected {expect} "
                 f"{code} (does fiu-run's preload intercept {point}?)"):
        return
    check(r.state != "stored", f"{name}: a faulted request was answered stored")
    if after:
        # The metadata commit failed: the running relay still shows the old offset, and a
        # restart after a crash may find the commit done after all (SQLite replays WAL frames
        # whose sync failed): either way the data must be there.
        h = u.head()
        check(h.status == 200 and h.state == "partial" and h.offset == offset,
              f"{name}: before the kill HEAD answered {h.status} {h.state} {h.offset}")
        retry = None
        if after in ("retry-kill", "retry-cut-kill"):
            retry = stalled_patch(relay, token, u.uid, offset, u.data[offset:offset + n], n // 2)
            # The retry of a completion first moves the data back to its .part name.
            part = os.path.join(relay.storage, "uploads", relay.mailbox, u.uid + ".part")
            for _ in range(50):
                if at_chunk < 3 or os.path.exists(part):
                    break
                time.sleep(0.1)
            time.sleep(0.5)
        if after == "retry-cut-kill":
            retry.close()
            time.sleep(0.5)
        relay.kill()
        if retry:
            retry.close()
        relay.start_faulty()
        conn.close()
        h = u.head()
        check(h.status == 200, f"{name}: HEAD after SIGKILL answered {h}")
        outcome = f" (after the restart: {h.state} at {h.offset})"
        if h.state == "stored":
            got = tus.download(conn, relay.session(conn), u.uid)
            check(got == u.data, f"{name}: stored after restart but the bytes differ")
        else:
            check(h.offset in (offset, offset + n),
                  f"{name}: offset {h.offset} after restart, expected {offset} or {offset + n}")
            u.prefix_ok(h.offset, name + " after restart")
        log = relay.log()[log_before:]
        check("lost committed bytes" not in log and "data is missing" not in log,
              f"{name}: recovery found committed data missing:\n{log}")
    else:
        outcome = ""
        h = u.head()
        check(h.status == 200 and h.state == "partial" and h.offset == offset,
              f"{name}: after the fault HEAD answered {h.status} {h.state} {h.offset}, "
              f"expected partial at {offset}")
        u.prefix_ok(h.offset, name)
    if u.finish(name):
        check(tus.download(conn, relay.session(conn), u.uid) == u.data,
              f"{name}: stored bytes differ")
    if not any(f.startswith(name) for f in FAILURES):
        print(f"ok: {name}{outcome}", flush=True)


def creation_case(relay, conn, token):
    """Creation-with-upload on a full disk. fiu's pwrite point also fails SQLite's pwrite64, so
    the metadata insert fails first: 507, and the upload does not exist or is empty. The relay
    refuses before reading the body and closes: a small body, so that the client has sent it all
    and reads the answer (a refused larger body can meet a reset instead)."""
    name = "creation-with-upload on a full disk"
    u = Upload(relay, conn, token, 1000)
    relay.enable("posix/io/rw/pwrite", errno.ENOSPC)
    r = None
    try:
        for _ in range(5):
            try:
                r = u.create(first=len(u.data))
                break
            except NET_ERRORS:
                conn.close()
    finally:
        relay.disable("posix/io/rw/pwrite")
    if not check(r is not None, f"{name}: no answer in 5 attempts"):
        return
    check(r.status == 507 and b"insufficient-storage" in r.body and r.state != "stored",
          f"{name}: answered {r}")
    conn.close()
    h = u.head()
    check(h.status == 404 or (h.state == "partial" and h.offset == 0),
          f"{name}: after the fault HEAD answered {h}")
    if u.finish(name):
        check(tus.download(conn, relay.session(conn), u.uid) == u.data,
              f"{name}: stored bytes differ")
    if not any(f.startswith(name) for f in FAILURES):
        print(f"ok: {name}", flush=True)


def random_phase(relay, token_count, bundles_per_client, seed):
    """Random failures of every point at once, concurrent clients, SIGKILLs; then the account."""
    rng = random.Random(seed)
    failures_before = len(FAILURES)
    log_before = len(relay.log())
    # (pwrite fails with EIO or ENOSPC, chosen at each arming.)
    points = [("posix/io/sync/fsync", 0.1), ("posix/io/rw/pwrite", 0.03),
              ("posix/io/dir/rename", 0.2), ("posix/io/sync/fdatasync", 0.05)]

    def arm():
        for name, p in points:
            err = rng.choice([errno.EIO, errno.ENOSPC]) if "pwrite" in name else errno.EIO
            relay.fiu(f"enable_random name={name},probability={p},failinfo={err}")

    lock = threading.Lock()
    stored, answers, faulted, statuses = {}, [0], [0], {}
    max_offset = {}
    deadline = time.monotonic() + (150 if FULL else 60)

    def client(seed):
        crng = random.Random(seed)
        conn = relay.connection()
        token = None
        for _ in range(100):
            try:
                token = tus.enroll(conn, relay.mint_code())
                break
            except (NET_ERRORS + (RuntimeError,)):
                conn.close()
                time.sleep(0.05)
        if not check(token is not None, "random phase: enrollment failed"):
            return
        for _ in range(bundles_per_client):
            lo, hi = crng.choice([(1, 4 << 10), (4 << 10, 512 << 10), (512 << 10, 3 << 20)])
            data = os.urandom(int(lo * (hi / lo) ** crng.random()))
            uid = tus.upload_id(data)
            chunk = crng.choice([16 << 10, 64 << 10, 256 << 10])
            offset = None
            for _ in range(3000):
                if time.monotonic() > deadline:
                    check(False, f"random phase: {uid[:12]} not stored before the deadline")
                    return
                try:
                    if offset is None:
                        h = tus.head(conn, token, uid)
                        if h.status == 404:
                            with lock:
                                check(uid not in stored, f"{uid[:12]}: 404 after stored")
                            # Small bundles often come whole in the creation request: its
                            # one metadata commit is grouped with other clients' commits.
                            whole = len(data) <= (64 << 10) and crng.random() < 0.7
                            h = tus.create(conn, token, data, data if whole else b"")
                        if h.status not in (200, 201):
                            time.sleep(0.01)
                            continue
                        with lock:
                            check(h.offset >= max_offset.get(uid, 0),
                                  f"{uid[:12]}: offset {h.offset} after {max_offset.get(uid)}")
                        if h.state == "stored":
                            with lock:
                                stored[uid] = data
                            break
                        offset = h.offset
                    starts = relay.starts
                    r = tus.patch(conn, token, uid, offset, data[offset:offset + chunk],
                                  crng.random() < 0.3)
                    with lock:
                        answers[0] += 1
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                    if r.status == 204:
                        with lock:
                            max_offset[uid] = max(max_offset.get(uid, 0), r.offset)
                            if r.state == "stored":
                                stored[uid] = data
                        if r.state == "stored":
                            break
                        offset = r.offset
                    else:
                        check(r.state != "stored" and r.status in (409, 500, 507),
                              f"{uid[:12]}: PATCH at {offset} answered {r}")
                        if r.status in (500, 507):
                            with lock:
                                faulted[0] += 1
                            # A failed request changes nothing (unless a kill came in between).
                            h = tus.head(conn, token, uid)
                            check(h.status != 200 or h.offset == offset or relay.starts != starts,
                                  f"{uid[:12]}: a failed PATCH moved the offset to {h.offset}")
                        offset = None
                except NET_ERRORS:
                    conn.close()
                    offset = None
                    time.sleep(0.05)
        conn.close()

    relay.start_faulty()
    arm()
    threads = [threading.Thread(target=client, args=(rng.randrange(1 << 30),))
               for _ in range(token_count)]
    for t in threads:
        t.start()
    kills = 0
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline and kills < 3:
        time.sleep(rng.uniform(0.3, 1.5))
        if not any(t.is_alive() for t in threads):
            break
        relay.kill()
        kills += 1
        relay.start_faulty()
        arm()
    for name, _ in points:
        relay.disable(name)
    for t in threads:
        t.join(timeout=max(1, deadline - time.monotonic() + 5))
    check(not any(t.is_alive() for t in threads), "random phase: clients did not finish")
    check(faulted[0] > 0, "random phase: no request failed: the faults were not injected")

    # Remove the faults entirely: restart without fiu, then every upload answered stored must be
    # listed and byte-identical.
    relay.kill()
    relay.start()
    conn = relay.connection()
    session = relay.session(conn)
    listed = tus.list_stored(conn, session)
    for uid, data in stored.items():
        if check(uid in listed, f"random phase: {uid[:12]} answered stored but not listed"):
            check(tus.download(conn, session, uid) == data,
                  f"random phase: {uid[:12]} stored bytes differ")
    check(len(stored) == token_count * bundles_per_client,
          f"random phase: {len(stored)} of {token_count * bundles_per_client} uploads stored")
    log = relay.log()[log_before:]
    check("lost committed bytes" not in log and "data is missing" not in log,
          "random phase: recovery found committed data missing")
    conn.close()
    if len(FAILURES) == failures_before:
        print(f"ok: random faults: {answers[0]} PATCHes, {faulted[0]} answered 500/507, "
              f"{kills + 1} SIGKILLs, {len(stored)} uploads stored and byte-identical; answers "
              f"{statuses}", flush=True)


def guarded(name, case, *args):
    """Runs one case; an unexpected answer from a helper (a failed download) is a failure."""
    before = len(FAILURES)
    try:
        case(*args)
    except tus.HttpError as e:
        check(False, f"{name}: {e}")
    if len(FAILURES) > before:
        print(f"FAILED: {name}", flush=True)


def main():
    relay_bin, satchel_bin = sys.argv[1], sys.argv[2]
    if not shutil.which("fiu-run") or not shutil.which("fiu-ctrl"):
        print("skipped: fiu-run/fiu-ctrl not installed (fiu-utils)")
        return 77
    seed = int(os.environ.get("SATCHEL_TEST_SEED", str(int(time.time() * 1000) % 1000000)))
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="satchel-fiu.")
    relay = None
    try:
        relay = FaultyRelay(relay_bin, satchel_bin, work)
        relay.start_faulty()
        conn = relay.connection()
        token = tus.enroll(conn, relay.mint_code())
        relay.session(conn)  # the coordinator side works before any fault
        EIO, ENOSPC = errno.EIO, errno.ENOSPC
        cases = [
            ("fsync failure on a PATCH", "posix/io/sync/fsync", EIO, 1, 500),
            ("fsync failure on the completing PATCH", "posix/io/sync/fsync", EIO, 3, 500),
            ("write failure on a PATCH", "posix/io/rw/pwrite", EIO, 1, 500),
            ("full disk on a PATCH", "posix/io/rw/pwrite", ENOSPC, 2, 507),
            ("full disk on the completing PATCH", "posix/io/rw/pwrite", ENOSPC, 3, 507),
            ("rename failure on the completing PATCH", "posix/io/dir/rename", EIO, 3, 500),
        ]
        cases = [c + (None,) for c in cases]
        for at, what in ((1, "a PATCH"), (3, "the completing PATCH")):
            cases += [(f"metadata commit failure on {what}, then SIGKILL",
                       "posix/io/sync/fdatasync", EIO, at, 500, "kill"),
                      (f"metadata commit failure on {what}, SIGKILL during its retry",
                       "posix/io/sync/fdatasync", EIO, at, 500, "retry-kill"),
                      (f"metadata commit failure on {what}, its retry cut off, SIGKILL",
                       "posix/io/sync/fdatasync", EIO, at, 500, "retry-cut-kill")]
        for case in cases:
            guarded(case[0], fault_case, relay, conn, token, *case)
        guarded("creation", creation_case, relay, conn, token)
        conn.close()
        relay.kill()
        guarded("random phase", random_phase, relay, 6, 8 if FULL else 4, seed)
        print(f"seed {seed}: {len(FAILURES)} failure(s); {time.monotonic() - started:.1f} s")
        return 1 if FAILURES else 0
    finally:
        if relay:
            relay.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    tus.run_test(main)
