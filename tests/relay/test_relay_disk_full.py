#!/usr/bin/env python3
# A real full disk under the real relay: its storage on a small tmpfs (mounted in a private mount
# namespace, so nothing outside the test sees it) that a filler file nearly fills. It proves:
#   - a PATCH that runs out of space is answered 507 insufficient-storage, never stored, and
#     changes nothing (HEAD shows the offset from before; the data file is cut back to it);
#   - an upload answered stored before the disk filled stays stored and byte-identical;
#   - after the space is freed and the relay killed (SIGKILL) and restarted, the upload resumes
#     from its committed offset to stored, and every upload answered stored downloads
#     byte-identical.
# Needs root (or an unprivileged user namespace) for `unshare -m` and `mount -t tmpfs`; exits 77
# (skipped) otherwise.
# Usage: test_relay_disk_full.py SATCHEL_RELAY SATCHEL
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tus_client as tus  # noqa: E402

FAILURES = []
TMPFS_BYTES = 8 << 20
CHUNK = 256 << 10


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg, flush=True)
    return cond


def in_private_mount_namespace():
    """Re-runs this script inside `unshare -m` (once); returns False if that is impossible."""
    if os.environ.get("SATCHEL_DISK_FULL_NS") == "1":
        return True
    if shutil.which("unshare") is None:
        return False
    env = dict(os.environ, SATCHEL_DISK_FULL_NS="1")
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        return False
    os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable,
                           os.path.abspath(__file__)] + sys.argv[1:], env)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def resume_to_stored(conn, token, data, what):
    uid = tus.upload_id(data)
    for _ in range(200):
        h = tus.head(conn, token, uid)
        if h.status == 404:
            h = tus.create(conn, token, data)
        if h.state == "stored":
            return True
        r = tus.patch(conn, token, uid, h.offset, data[h.offset:h.offset + CHUNK])
        if not check(r.status == 204, f"{what}: PATCH at {h.offset} answered {r}"):
            return False
    return check(False, f"{what}: not stored after 200 requests")


def main():
    relay_bin, satchel_bin = sys.argv[1], sys.argv[2]
    if not in_private_mount_namespace():
        print("skipped: cannot create a private mount namespace (unshare -m) to mount a tmpfs")
        return 77
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="satchel-diskfull.")
    disk = os.path.join(work, "disk")
    os.mkdir(disk)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0700", "tmpfs",
                       disk]).returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        print("skipped: cannot mount a tmpfs")
        return 77
    relay = None
    try:
        relay = tus.RelayFixture(relay_bin, satchel_bin, work,
                                 storage=os.path.join(disk, "storage"))
        relay.start()
        conn = relay.connection()
        token = tus.enroll(conn, relay.mint_code())
        storage_dir = os.path.join(disk, "storage", "uploads", relay.mailbox)

        # An upload stored while there is room.
        early = os.urandom(700 << 10)
        check(resume_to_stored(conn, token, early, "before the disk filled"),
              "the first upload was not stored")

        # Fill the disk up to 1 MiB, then send a 3 MiB bundle.
        filler = os.path.join(disk, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free_bytes(disk) - (1 << 20)))
        late = os.urandom(3 << 20)
        uid = tus.upload_id(late)
        r = tus.create(conn, token, late)
        check(r.status == 201, f"creation on the nearly full disk answered {r}")
        offset, full = 0, None
        for _ in range(40):
            r = tus.patch(conn, token, uid, offset, late[offset:offset + CHUNK])
            if r.status != 204:
                full = r
                break
            offset = r.offset
        if check(full is not None, "the disk never filled"):
            check(full.status == 507 and b"insufficient-storage" in full.body,
                  f"a PATCH on the full disk answered {full.status} {full.body!r}, expected 507")
            check(full.state != "stored", "a PATCH on the full disk was answered stored")
            conn.close()
            h = tus.head(conn, token, uid)
            check(h.status == 200 and h.state == "partial" and h.offset == offset,
                  f"after the full disk HEAD answered {h.status} {h.state} {h.offset}, "
                  f"expected partial at {offset}")
            part = os.path.join(storage_dir, uid + ".part")
            got = open(part, "rb").read()
            check(got == late[:offset], f"the data file holds {len(got)} bytes, not exactly the "
                  f"{offset} committed ones")
        ok_log = "disk full" in relay.log()
        check(ok_log, "the relay did not log the full disk")

        # Remove the fault, kill the relay, restart it: everything resumes and verifies.
        os.unlink(filler)
        relay.kill()
        relay.start()
        conn.close()
        h = tus.head(conn, token, uid)
        check(h.status == 200 and h.offset == offset,
              f"after restart HEAD answered {h.status} at {h.offset}, expected {offset}")
        check(resume_to_stored(conn, token, late, "after the space was freed"),
              "the interrupted upload did not complete")
        session = relay.session(conn)
        listed = tus.list_stored(conn, session)
        for data in (early, late):
            i = tus.upload_id(data)
            if check(i in listed, f"{i[:12]} not listed"):
                check(tus.download(conn, session, i) == data, f"{i[:12]} bytes differ")
        conn.close()
        print(f"ok: 507 at offset {offset} of {len(late)} on a {TMPFS_BYTES >> 20} MiB tmpfs; "
              f"both uploads stored and byte-identical after a restart; "
              f"{time.monotonic() - started:.1f} s")
        return 1 if FAILURES else 0
    finally:
        if relay:
            relay.stop()
        subprocess.run(["umount", disk])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    tus.run_test(main)
