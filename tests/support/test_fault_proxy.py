#!/usr/bin/env python3
"""Self-test of fault_proxy.py against a local echo server on 127.0.0.1: every fault kind
happens where the proxy says it did (the echo server records what reached it), --cut-every and
--cut-down-every cut every connection at their byte in their direction, and bytes of unfaulted
connections pass unchanged, including 32 MiB each way and concurrent connections.

    python3 tests/support/test_fault_proxy.py [-v]
"""

import hashlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

PROXY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_proxy.py")
LOG_LINE = re.compile(r"conn (\d+) plan (.+?) fired (\S+) up (\d+) down (\d+)$")


class EchoServer:
    """Echoes each connection until EOF, recording what it received and how it ended."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.received = []  # (bytes, "eof" | "reset"), in the order connections ended
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn):
        got = bytearray()
        end = "eof"
        try:
            while True:
                data = conn.recv(256 * 1024)
                if not data:
                    break
                got += data
                conn.sendall(data)
        except OSError:
            end = "reset"
        conn.close()
        with self.lock:
            self.received.append((bytes(got), end))

    def wait_for(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"echo server saw {len(self.received)} connections end, not {count}")

    def close(self):
        self.sock.close()


class Proxy:
    """fault_proxy.py in a subprocess, in front of `target_port`."""

    def __init__(self, target_port, *args):
        self.dir = tempfile.TemporaryDirectory()
        self.stats_path = os.path.join(self.dir.name, "stats")
        self.log_path = os.path.join(self.dir.name, "log")
        self.proc = subprocess.Popen(
            [sys.executable, PROXY, "--target", f"127.0.0.1:{target_port}", "--stats",
             self.stats_path, "--log", self.log_path, *map(str, args)],
            stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        if not first.startswith("port "):
            self.proc.kill()
            raise AssertionError(f"proxy did not print its port: {first!r}")
        self.port = int(first.split()[1])

    def stats(self):
        with open(self.stats_path) as f:
            words = f.read().split()
        return {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}

    def wait_closed(self, connections, timeout=10):
        """The stats once `connections` connections have closed (the proxy writes them before
        each log line), and the log lines."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.log()
            if len(lines) >= connections:
                return self.stats(), lines
            time.sleep(0.01)
        raise AssertionError(f"the proxy closed {len(self.log())} connections, not {connections}")

    def log(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            lines = [LOG_LINE.match(line.strip()).groups() for line in f if line.strip()]
        return sorted(lines, key=lambda groups: int(groups[0]))

    def kill(self):
        """After a failed test: no SIGTERM protocol, just gone."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.dir.cleanup()

    def stop(self):
        """SIGTERM: must exit 0 promptly."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        self.proc.stdout.close()
        stats = self.stats()
        self.dir.cleanup()
        return rc, stats


def exchange(port, payload, half_close_first=False, timeout=20):
    """Sends `payload` through the proxy and reads until the end. Returns (bytes received,
    "eof" or "reset", seconds). With half_close_first the whole payload is sent and the write
    side shut before reading (small payloads), else a thread sends while this one reads."""
    start = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(timeout)

    def send():
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the proxy cut or reset us: the reader sees it

    sender = None
    if half_close_first:
        send()
    else:
        sender = threading.Thread(target=send)
        sender.start()
    got = bytearray()
    end = "eof"
    try:
        while True:
            data = sock.recv(1 << 20)
            if not data:
                break
            got += data
    except ConnectionResetError:
        end = "reset"
    if sender:
        sender.join()
    sock.close()
    return bytes(got), end, time.monotonic() - start


class FaultProxyTest(unittest.TestCase):
    def setUp(self):
        self.echo = EchoServer()
        self.rng = random.Random(1)

    def tearDown(self):
        self.echo.close()

    def payload(self, size):
        return self.rng.randbytes(size)

    def start(self, *args):
        proxy = Proxy(self.echo.port, *args)
        self.addCleanup(proxy.kill)
        return proxy

    def stop(self, proxy):
        rc, stats = proxy.stop()
        self.assertEqual(rc, 0, "the proxy did not exit cleanly on SIGTERM")
        return stats

    def test_unfaulted_bytes_pass_unchanged(self):
        proxy = self.start()
        big = self.payload(32 << 20)
        got, end, seconds = exchange(proxy.port, big)
        self.assertEqual(end, "eof")
        self.assertEqual(hashlib.sha256(got).digest(), hashlib.sha256(big).digest())
        self.assertLess(seconds, 15, "32 MiB each way through loopback is far too slow")

        small = [self.payload(n) for n in (0, 1, 4095, 300_000, 2 << 20, 777)]
        results = [None] * len(small)

        def run(i):
            results[i] = exchange(proxy.port, small[i])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(small))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for data, (got, end, _) in zip(small, results):
            self.assertEqual((got, end), (data, "eof"))

        total = len(big) + sum(map(len, small))
        stats, lines = proxy.wait_closed(1 + len(small))
        self.assertEqual(stats, {"bytes_up": total, "bytes_down": total, "connections": 7,
                                 "faults": 0})
        self.assertTrue(all(fired == "none" for _, _, fired, _, _ in lines))
        self.assertEqual(self.stop(proxy)["bytes_up"], total)

    def test_cut_every_forwards_exactly_that_many_bytes(self):
        proxy = self.start("--cut-every", 100_000)
        for i in range(3):
            data = self.payload(1 << 20)
            got, _, _ = exchange(proxy.port, data)
            self.assertTrue(data.startswith(got))
            self.assertLessEqual(len(got), 100_000)
            server_got, _ = self.echo.wait_for(i + 1)[i]
            self.assertEqual(server_got, data[:100_000])
        stats, lines = proxy.wait_closed(3)
        self.assertEqual((stats["bytes_up"], stats["faults"]), (300_000, 3))
        self.assertEqual({(fired, up) for _, _, fired, up, _ in lines}, {("cut-up", "100000")})
        self.stop(proxy)

    def test_cut_down_every_delivers_exactly_that_many_bytes_then_a_clean_end(self):
        proxy = self.start("--cut-down-every", 100_000)
        for i in range(3):
            data = self.payload(256 * 1024)
            got, end, _ = exchange(proxy.port, data, half_close_first=True)
            self.assertEqual((got, end), (data[:100_000], "eof"), "not a FIN after exactly N")
            _, plan, fired, _, down = proxy.wait_closed(i + 1)[1][i]
            self.assertEqual((plan, fired, down), ("none cut-down-every 100000", "cut-down",
                                                   "100000"))
        # A connection whose answer is shorter than BYTES is not touched.
        data = self.payload(99_999)
        self.assertEqual(exchange(proxy.port, data, half_close_first=True)[:2], (data, "eof"))
        stats, lines = proxy.wait_closed(4)
        self.assertEqual(lines[3][2], "none")
        self.assertEqual((stats["bytes_down"], stats["faults"]), (300_000 + 99_999, 3))
        self.stop(proxy)

    def test_cut_up_stops_the_upload_at_the_drawn_byte(self):
        proxy = self.start("--seed", 3, "--break-fraction", 1, "--cut-up", "--window", 50_000)
        sent = []
        for _ in range(4):
            data = self.payload(256 * 1024)
            got, _, _ = exchange(proxy.port, data, half_close_first=True)
            self.assertTrue(data.startswith(got))  # the echo of what got through, or less
            sent.append(data)
        stats, lines = proxy.wait_closed(4)
        self.assertEqual(stats["faults"], 4)
        server_got = [got for got, _ in self.echo.wait_for(4)]
        for data, (_, plan, fired, up, _) in zip(sent, lines):
            n = int(plan.split()[-1])
            self.assertEqual((fired, int(up)), ("cut-up", n))
            self.assertIn(data[:n], server_got, "the server did not get exactly N bytes")
        self.stop(proxy)

    def test_cut_down_truncates_the_response_with_a_clean_end(self):
        proxy = self.start("--seed", 4, "--break-fraction", 1, "--cut-down", "--window", 50_000)
        for i in range(4):
            data = self.payload(128 * 1024)
            got, end, _ = exchange(proxy.port, data, half_close_first=True)
            _, plan, fired, _, down = proxy.wait_closed(i + 1)[1][i]
            n = int(plan.split()[-1])
            self.assertEqual((fired, int(down)), ("cut-down", n))
            self.assertEqual((got, end), (data[:n], "eof"), "not a FIN after exactly N bytes")
        self.assertEqual(proxy.stats()["faults"], 4)
        self.stop(proxy)

    def test_stall_forwards_nothing_for_its_duration_then_cuts(self):
        proxy = self.start("--seed", 5, "--break-fraction", 1, "--stall", 1.0, "--window", 1000)
        data = self.payload(64 * 1024)
        got, end, seconds = exchange(proxy.port, data, half_close_first=True)
        _, plan, fired, up, down = proxy.wait_closed(1)[1][0]
        self.assertEqual(fired, "stall")
        self.assertEqual(int(up) + int(down), int(plan.split()[-1]))
        self.assertEqual(end, "eof")
        self.assertTrue(data.startswith(got) and len(got) <= 1000)
        self.assertGreaterEqual(seconds, 0.95)
        self.assertEqual(proxy.stats()["faults"], 1)
        self.stop(proxy)

    def test_latency_delays_each_chunk_and_keeps_the_bytes(self):
        proxy = self.start("--break-fraction", 1, "--latency", 150)
        sock = socket.create_connection(("127.0.0.1", proxy.port))
        start = time.monotonic()
        sock.sendall(b"ping")
        got = sock.recv(16)
        rtt = time.monotonic() - start
        sock.close()
        self.assertEqual(got, b"ping")
        self.assertGreaterEqual(rtt, 0.29, "one chunk each way should wait 150 ms each")
        data = self.payload(300_000)
        got, end, _ = exchange(proxy.port, data)
        self.assertEqual((got, end), (data, "eof"))
        stats, lines = proxy.wait_closed(2)
        self.assertEqual([fired for _, _, fired, _, _ in lines], ["latency", "latency"])
        self.assertEqual(stats["faults"], 2)
        self.stop(proxy)

    def test_reset_sends_rst_to_both_sides(self):
        proxy = self.start("--seed", 6, "--break-fraction", 1, "--reset", "--window", 20_000)
        data = self.payload(256 * 1024)
        got, end, _ = exchange(proxy.port, data, half_close_first=True)
        self.assertEqual(end, "reset", "the client saw a clean end, not an RST")
        self.assertTrue(data.startswith(got))
        server_got, server_end = self.echo.wait_for(1)[0]
        _, plan, fired, up, _ = proxy.wait_closed(1)[1][0]
        n = int(plan.split()[-1])
        self.assertEqual((fired, int(up)), ("reset", n))
        self.assertEqual(server_end, "reset", "the server saw a clean end, not an RST")
        self.assertTrue(data[:n].startswith(server_got))
        self.stop(proxy)

    def test_break_fraction_faults_some_connections_and_the_seed_replays(self):
        def run():
            proxy = self.start("--seed", 11, "--break-fraction", 0.3, "--cut-up", "--cut-down",
                               "--window", 30_000)
            intact = 0
            for _ in range(30):
                data = self.payload(100_000)
                got, end, _ = exchange(proxy.port, data, half_close_first=True)
                self.assertTrue(data.startswith(got))
                intact += got == data and end == "eof"
            stats, lines = proxy.wait_closed(30)
            faulted = sum(fired != "none" for _, _, fired, _, _ in lines)
            self.assertEqual((stats["faults"], intact), (faulted, 30 - faulted))
            self.stop(proxy)
            return faulted, [plan for _, plan, _, _, _ in lines]

        faulted, plans = run()
        self.assertTrue(3 <= faulted <= 18, f"{faulted} of 30 connections faulted at 0.3")
        self.assertEqual(run(), (faulted, plans), "the same seed drew other faults")

    def test_sigterm_with_open_connections_exits_cleanly(self):
        proxy = self.start("--break-fraction", 1, "--stall", 60, "--window", 0)
        sock = socket.create_connection(("127.0.0.1", proxy.port))
        sock.sendall(b"hello")
        time.sleep(0.2)
        start = time.monotonic()
        stats = self.stop(proxy)
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual((stats["connections"], stats["faults"]), (1, 1))
        sock.close()


if __name__ == "__main__":
    unittest.main()
