#!/usr/bin/env python3
# relay_survives_sigkill_during_uploads: the real `satchel-relay serve` is killed with SIGKILL at
# random moments while several tus clients upload bundles of mixed sizes (1 byte to 4 MiB) in
# chunked PATCHes, and restarted each time; the clients resume (HEAD for the committed offset,
# then PATCH from there). A coordinator lists and downloads throughout. The test fails if
#   - an upload the relay ever answered "Upload-State: stored" is missing after a restart, or its
#     bytes differ from what was sent;
#   - an Upload-Offset the relay reported is ever beyond the offset it reports after a restart
#     (every reported offset must be durable), an upload it described later answers 404, or a
#     stored upload goes back to partial;
#   - the coordinator listing ever shows an upload whose size or bytes are not the complete
#     bundle (a partial upload listed), or an id nobody uploaded;
#   - any upload does not end stored, or recovery reports lost committed data.
# 200 uploads with SATCHEL_TEST_TIER=full, 40 otherwise. SATCHEL_TEST_SEED reproduces the sizes
# and kill delays (not the thread interleaving).
# Usage: test_relay_sigkill.py SATCHEL_RELAY SATCHEL
import http.client
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tus_client as tus  # noqa: E402

FULL = os.environ.get("SATCHEL_TEST_TIER") == "full"
UPLOADS = 200 if FULL else 40
CLIENTS = 8 if FULL else 4
DEADLINE = 240 if FULL else 50  # seconds for the whole run; ctest's TIMEOUT is 300
MAX_KILLS = 400 if FULL else 60
CHUNKS = [16 << 10, 64 << 10, 256 << 10, 1 << 20]
NET_ERRORS = (OSError, http.client.HTTPException)


class Failure(Exception):
    pass


def bundle_sizes(rng, n):
    # Edges first (1 byte, chunk boundaries, the largest), then a third each of tiny, medium
    # and large sizes, log-uniform within each band.
    sizes = [1, 7, (64 << 10), (64 << 10) + 1, 4 << 20]
    bands = [(1, 4 << 10), (4 << 10, 512 << 10), (512 << 10, 4 << 20)]
    while len(sizes) < n:
        lo, hi = bands[len(sizes) % 3]
        sizes.append(int(lo * (hi / lo) ** rng.random()))
    return sizes[:n]


class Ledger:
    """What the relay told the clients, shared by all threads."""

    def __init__(self, bundles):
        self.lock = threading.Lock()
        self.bundles = bundles  # id -> bytes
        self.max_offset = {}  # id -> the highest Upload-Offset ever reported
        self.stored = set()  # ids ever answered Upload-State: stored
        self.verified = set()  # ids downloaded byte-identical while listed
        self.failures = []
        self.interrupted = 0  # requests cut by a kill (connection errors seen by clients)
        self.requests = 0

    def fail(self, msg):
        with self.lock:
            self.failures.append(msg)

    def record(self, uid, r):
        """Checks one answer describing upload `uid` against everything reported before."""
        with self.lock:
            self.requests += 1
            off, state = r.offset, r.state
            if off is None:
                return
            length = len(self.bundles[uid])
            prev = self.max_offset.get(uid, 0)
            if off < prev and r.status != 404:
                self.failures.append(f"{uid[:12]}: offset {off} reported after {prev} "
                                     f"(status {r.status}, state {state}): a reported offset "
                                     "was not durable")
            if uid in self.stored and state != "stored":
                self.failures.append(f"{uid[:12]}: state {state} after it was answered stored")
            if state == "stored":
                if off != length:
                    self.failures.append(f"{uid[:12]}: stored with offset {off} != {length}")
                self.stored.add(uid)
            self.max_offset[uid] = max(prev, off)


def upload_one(relay, ledger, conn, token, data, rng, deadline):
    """Uploads one bundle to completion through any number of kills; bounded by `deadline`."""
    uid = tus.upload_id(data)
    chunk = rng.choice(CHUNKS)
    mode = rng.choice(["create", "create-with-body", "whole"])
    checksum = rng.random() < 0.3
    need_create, offset = True, 0
    for _ in range(5000):
        if time.monotonic() > deadline:
            raise Failure(f"{uid[:12]} ({len(data)} bytes) not stored before the deadline")
        try:
            if need_create:
                body = b""
                if mode == "create-with-body":
                    body = data[:chunk]
                elif mode == "whole":
                    body = data
                r = tus.create(conn, token, data, body)
                ledger.record(uid, r)
                if r.status not in (200, 201):
                    raise Failure(f"{uid[:12]}: creation answered {r}")
                need_create, offset = False, r.offset
            elif offset is None:
                r = tus.head(conn, token, uid)
                if r.status == 404:
                    # Nothing here expires or is terminated: an upload the relay has described
                    # (created, with an offset) must never be forgotten.
                    with ledger.lock:
                        if uid in ledger.max_offset:
                            ledger.failures.append(
                                f"{uid[:12]}: 404 after the relay reported offset "
                                f"{ledger.max_offset[uid]} (state stored: {uid in ledger.stored})")
                    need_create = True
                    continue
                ledger.record(uid, r)
                if r.status != 200:
                    raise Failure(f"{uid[:12]}: HEAD answered {r}")
                offset = r.offset
            if offset == len(data):
                r = tus.head(conn, token, uid)
                ledger.record(uid, r)
                if r.status == 200 and r.state == "stored":
                    return
                offset = None
                continue
            r = tus.patch(conn, token, uid, offset, data[offset:offset + chunk], checksum)
            ledger.record(uid, r)
            if r.status == 204:
                offset = r.offset
            elif r.status in (409, 503):
                offset = None  # ask where to resume (409 after a PATCH whose answer was lost)
                time.sleep(0.02)
            else:
                raise Failure(f"{uid[:12]}: PATCH at {offset} answered {r}")
        except NET_ERRORS:
            # The relay was killed under this request (or is restarting): resume from HEAD.
            with ledger.lock:
                ledger.interrupted += 1
            conn.close()
            offset = None if not need_create else 0
            time.sleep(rng.uniform(0.01, 0.1))
    raise Failure(f"{uid[:12]}: no progress after 5000 requests")


def client(relay, ledger, bundles, seed, deadline):
    rng = random.Random(seed)
    conn = relay.connection()
    token = None
    try:
        for _ in range(200):
            try:
                token = tus.enroll(conn, relay.mint_code())
                break
            except NET_ERRORS:
                conn.close()
                time.sleep(0.05)
        if token is None:
            raise Failure("enrollment never succeeded")
        for data in bundles:
            upload_one(relay, ledger, conn, token, data, rng, deadline)
    except Failure as e:
        ledger.fail(str(e))
    except Exception as e:  # a bug in the test itself must fail it, not hang it
        ledger.fail(f"client crashed: {e!r}")
    finally:
        conn.close()


def check_listing(relay, ledger, conn, session, final=False):
    """The listing holds only complete bundles: each listed id is ours, with its full size, and
    downloads byte-identical. Returns the listing."""
    listed = tus.list_stored(conn, session)
    for uid, size in listed.items():
        data = ledger.bundles.get(uid)
        if data is None:
            ledger.fail(f"listed an upload nobody sent: {uid}")
            continue
        if size != len(data):
            ledger.fail(f"{uid[:12]} listed with size {size}, bundle has {len(data)}")
            continue
        if uid in ledger.verified and not final:
            continue
        got = tus.download(conn, session, uid)
        if got != data:
            ledger.fail(f"{uid[:12]} listed but its {len(got)} downloaded bytes differ from the "
                        f"{len(data)} sent")
        with ledger.lock:
            ledger.verified.add(uid)
    return listed


def coordinator(relay, ledger, stop):
    conn, session, rounds = relay.connection(), None, 0
    while not stop.is_set() and rounds < 10000:
        rounds += 1
        try:
            if session is None:
                session = relay.session(conn)
            check_listing(relay, ledger, conn, session)
        except NET_ERRORS:
            conn.close()
            session = None
        except tus.HttpError as e:
            conn.close()
            session = None
            # Sessions live in memory: after a restart the old one is refused with 401. Any
            # other refusal (a listed upload that cannot be downloaded) is a failure.
            if e.reply.status != 401:
                ledger.fail(f"coordinator: {e}")
        stop.wait(0.2)
    conn.close()


def main():
    relay_bin, satchel_bin = sys.argv[1], sys.argv[2]
    seed = int(os.environ.get("SATCHEL_TEST_SEED", str(int(time.time() * 1000) % 1000000)))
    rng = random.Random(seed)
    started = time.monotonic()
    deadline = started + DEADLINE
    work = tempfile.mkdtemp(prefix="satchel-sigkill.")
    relay = None
    try:
        relay = tus.RelayFixture(relay_bin, satchel_bin, work)
        sizes = bundle_sizes(rng, UPLOADS)
        rng.shuffle(sizes)
        datas = [os.urandom(s) for s in sizes]
        bundles = {tus.upload_id(d): d for d in datas}
        ledger = Ledger(bundles)
        relay.start()

        stop = threading.Event()
        clients = [threading.Thread(target=client, args=(relay, ledger, datas[i::CLIENTS],
                                                         rng.randrange(1 << 30), deadline))
                   for i in range(CLIENTS)]
        lister = threading.Thread(target=coordinator, args=(relay, ledger, stop))
        for t in clients + [lister]:
            t.start()
        kills = 0
        while any(t.is_alive() for t in clients) and kills < MAX_KILLS:
            # The first kill comes early, so that even a fast run is interrupted.
            time.sleep(rng.uniform(0.02, 0.08) if kills == 0 else rng.uniform(0.02, 0.2))
            if not any(t.is_alive() for t in clients) or time.monotonic() > deadline:
                break
            relay.kill()
            kills += 1
            time.sleep(rng.uniform(0, 0.05))
            relay.start()
        for t in clients:
            t.join(timeout=max(1, deadline - time.monotonic()))
        stop.set()
        lister.join(timeout=30)
        if any(t.is_alive() for t in clients + [lister]):
            ledger.fail("a client thread did not finish before the deadline")

        # One more kill after the last upload, then the final account.
        relay.kill()
        relay.start()
        conn = relay.connection()
        try:
            listed = check_listing(relay, ledger, conn, relay.session(conn), final=True)
        except tus.HttpError as e:
            ledger.fail(f"after the last restart: {e}")
            listed = {}
        conn.close()
        missing = [u for u in ledger.stored if u not in listed]
        for uid in missing:
            ledger.fail(f"{uid[:12]} was answered stored but is not listed after the restarts")
        not_stored = [u for u in bundles if u not in listed]
        if not_stored:
            ledger.fail(f"{len(not_stored)} upload(s) did not end stored")
        log = relay.log()
        if "lost committed bytes" in log or "data is missing" in log:
            ledger.fail("recovery reported lost committed data:\n" + log)
        cutbacks = sum(int(line.split("recovery: ")[1].split()[0])
                       for line in log.splitlines() if "recovery: " in line)
        if kills < 1 or ledger.interrupted == 0:
            ledger.fail(f"the kills did not interrupt uploads ({kills} kills, "
                        f"{ledger.interrupted} interrupted requests): the test proved nothing")

        elapsed = time.monotonic() - started
        print(f"seed {seed}: {len(bundles)} uploads ({sum(sizes)} bytes, {CLIENTS} clients), "
              f"{kills + 1} SIGKILLs, {relay.starts} starts, {ledger.requests} answers checked, "
              f"{ledger.interrupted} requests cut by a kill, {cutbacks} partial uploads cut back "
              f"by recovery; {len(ledger.stored)} answered stored, {len(listed)} listed and "
              f"byte-identical after the last restart; {elapsed:.1f} s")
        if ledger.failures:
            for f in ledger.failures[:50]:
                print("FAIL:", f)
            return 1
        return 0
    finally:
        if relay:
            relay.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    tus.run_test(main)
